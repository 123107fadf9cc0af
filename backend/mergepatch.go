package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// JSON Merge Patch (RFC 7396) over decoded JSON values, plus the summary
// document rules of spec 05 §C.4 built on it. Values are what
// decodeJSONValue produces: nil, bool, json.Number, string, []any and
// map[string]any. Numbers stay json.Number so a document round-trips its
// numbers digit for digit (no float64 rounding of large integers).

// summaryPatchMaxDepth is the deepest nesting a summary patch may have
// (spec 05 §C.3 step 7): the root object is depth 1.
const summaryPatchMaxDepth = 16

// mergePatch applies patch to target as RFC 7396 §2 defines it and returns
// the result. A non-object patch replaces the target wholesale; an object
// patch merges member by member, null deleting a member. target is not
// modified (objects on the path are copied).
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	out := make(map[string]any, len(t)+len(p))
	for k, v := range t {
		out[k] = v
	}
	for k, v := range p {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = mergePatch(out[k], v)
	}
	return out
}

// decodeJSONValue parses one JSON value (numbers as json.Number) and
// rejects trailing data.
func decodeJSONValue(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// jsonDepth is the deepest container nesting of data, counted on the raw
// bytes (skipping strings) so a hostile patch is rejected before the
// decoder recurses into it. Malformed input gets some depth; the decoder
// reports the syntax error.
func jsonDepth(data []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// encodeJSONValue renders v compactly; encoding/json writes object members
// in sorted key order, which makes summary documents byte-stable.
func encodeJSONValue(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// parseSummaryPatch validates a summary frame's payload (spec 05 §C.3
// step 7): valid JSON, an object at the root, at most
// summaryPatchMaxDepth deep. Errors are ErrInvalidInput.
func parseSummaryPatch(b []byte) (map[string]any, error) {
	if d := jsonDepth(b); d > summaryPatchMaxDepth {
		return nil, errInvalidInput("summary patch nesting depth %d exceeds %d", d, summaryPatchMaxDepth)
	}
	v, err := decodeJSONValue(b)
	if err != nil {
		return nil, errInvalidInput("summary patch not valid JSON: %v", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errInvalidInput("summary patch must be a JSON object")
	}
	return obj, nil
}

// applySummaryPatch merges patch into the stored document doc (spec 05
// §C.4) and returns the new document: RFC 7396 merge, then every string
// leaf equal to SummaryNullSentinel anywhere in the result becomes an
// explicit null, so a stored document never holds the sentinel.
func applySummaryPatch(doc, patch map[string]any) map[string]any {
	merged, _ := mergePatch(doc, patch).(map[string]any)
	return replaceNullSentinel(merged).(map[string]any)
}

// replaceNullSentinel rewrites sentinel strings to nil throughout v,
// inside arrays too. Containers are rebuilt, never shared with the input.
func replaceNullSentinel(v any) any {
	switch x := v.(type) {
	case string:
		if x == SummaryNullSentinel {
			return nil
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = replaceNullSentinel(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = replaceNullSentinel(e)
		}
		return out
	}
	return v
}
