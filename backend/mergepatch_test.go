package backend

import (
	"errors"
	"strings"
	"testing"
)

// canonicalJSON decodes and re-encodes s (sorted keys, compact) so
// documents compare regardless of key order and spacing.
func canonicalJSON(t *testing.T, s string) string {
	t.Helper()
	v, err := decodeJSONValue([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	out, err := encodeJSONValue(v)
	if err != nil {
		t.Fatalf("encode %s: %v", s, err)
	}
	return string(out)
}

// TestMergePatchRFC7396 runs every example of RFC 7396: the ones in
// sections 1 and 3 and all of Appendix A.
func TestMergePatchRFC7396(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, target, patch, want string
	}{
		{"Section1", `{"a":"b","c":{"d":"e","f":"g"}}`, `{"a":"z","c":{"f":null}}`, `{"a":"z","c":{"d":"e"}}`},
		{"Section3",
			`{"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},"tags":["example","sample"],"content":"This will be unchanged"}`,
			`{"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},"tags":["example"]}`,
			`{"title":"Hello!","author":{"givenName":"John"},"tags":["example"],"content":"This will be unchanged","phoneNumber":"+01-123-456-7890"}`},
		{"A01ReplaceMember", `{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{"A02AddMember", `{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{"A03DeleteMember", `{"a":"b"}`, `{"a":null}`, `{}`},
		{"A04DeleteOneOfTwo", `{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{"A05ArrayToString", `{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{"A06StringToArray", `{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{"A07NestedMerge", `{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{"A08ArrayReplacedWholesale", `{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{"A09ArrayRoots", `["a","b"]`, `["c","d"]`, `["c","d"]`},
		{"A10ArrayPatchReplacesObject", `{"a":"b"}`, `["c"]`, `["c"]`},
		{"A11NullPatch", `{"a":"foo"}`, `null`, `null`},
		{"A12StringPatch", `{"a":"foo"}`, `"bar"`, `"bar"`},
		{"A13TargetNullKept", `{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{"A14ObjectPatchOnArray", `[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{"A15DeepNullsOnEmpty", `{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target, err := decodeJSONValue([]byte(tt.target))
			if err != nil {
				t.Fatal(err)
			}
			patch, err := decodeJSONValue([]byte(tt.patch))
			if err != nil {
				t.Fatal(err)
			}
			targetBefore := canonicalJSON(t, tt.target)
			got, err := encodeJSONValue(mergePatch(target, patch))
			if err != nil {
				t.Fatal(err)
			}
			if want := canonicalJSON(t, tt.want); string(got) != want {
				t.Errorf("MergePatch(%s, %s) = %s, want %s", tt.target, tt.patch, got, want)
			}
			// The target value is not modified in place.
			if after, _ := encodeJSONValue(target); string(after) != targetBefore {
				t.Errorf("target modified: %s, was %s", after, targetBefore)
			}
		})
	}
}

func TestApplySummaryPatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, patch, want string
	}{
		{"SentinelMemberBecomesNull", `{"a":1}`, `{"b":"__ff_null__"}`, `{"a":1,"b":null}`},
		{"SentinelDeepAndInArrays", `{}`, `{"x":{"y":"__ff_null__"},"l":["__ff_null__",1,{"z":"__ff_null__"}]}`,
			`{"l":[null,1,{"z":null}],"x":{"y":null}}`},
		{"NullStillDeletes", `{"a":1,"b":2}`, `{"a":null}`, `{"b":2}`},
		{"SentinelSubstringKept", `{}`, `{"a":"x__ff_null__"}`, `{"a":"x__ff_null__"}`},
		{"BigIntegersExact", `{}`, `{"n":12345678901234567890123,"f":1.50}`, `{"f":1.50,"n":12345678901234567890123}`},
		{"UnicodeAndHTMLUnescaped", `{}`, `{"s":"<é>&"}`, `{"s":"<é>&"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc, err := decodeSummaryDocument(tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			patch, err := parseSummaryPatch([]byte(tt.patch))
			if err != nil {
				t.Fatal(err)
			}
			got, err := encodeJSONValue(applySummaryPatch(doc, patch))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseSummaryPatchErrors(t *testing.T) {
	t.Parallel()
	deep := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	if _, err := parseSummaryPatch([]byte(deep(summaryPatchMaxDepth))); err != nil {
		t.Errorf("depth %d: %v, want accepted", summaryPatchMaxDepth, err)
	}
	for _, tt := range []struct{ name, in string }{
		{"Empty", ""},
		{"NotJSON", "{nope"},
		{"Trailing", `{"a":1} {}`},
		{"ArrayRoot", `[1]`},
		{"StringRoot", `"x"`},
		{"NullRoot", `null`},
		{"TooDeep", deep(summaryPatchMaxDepth + 1)},
		{"TooDeepArrays", "{\"a\":" + strings.Repeat("[", summaryPatchMaxDepth) + strings.Repeat("]", summaryPatchMaxDepth) + "}"},
	} {
		if _, err := parseSummaryPatch([]byte(tt.in)); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: err = %v, want ErrInvalidInput", tt.name, err)
		}
	}
	// Brackets inside strings do not count as nesting.
	if _, err := parseSummaryPatch([]byte(`{"a":"` + strings.Repeat("{[", 40) + `\"}"}`)); err != nil {
		t.Errorf("brackets in a string: %v", err)
	}
}

func TestDecodeSummaryDocumentCorruption(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "{", "[]", "3"} {
		if _, err := decodeSummaryDocument(in); !errors.Is(err, ErrCorruption) {
			t.Errorf("decodeSummaryDocument(%q) = %v, want ErrCorruption", in, err)
		}
	}
}
