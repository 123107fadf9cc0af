package backend

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"strings"
)

// Cursor codecs live here rather than in events.go / stream.go so those
// shared files keep their import lists.

// eventCursorLen is the SQLite cursor size: prefix byte + big-endian int64.
const eventCursorLen = 9

// encodeEventCursor builds the 9-byte cursor of spec 05 §D.3. Big-endian
// makes bytes.Compare follow event_id order for non-negative ids.
func encodeEventCursor(eventID int64) EventCursor {
	c := make(EventCursor, eventCursorLen)
	c[0] = EventCursorPrefix
	binary.BigEndian.PutUint64(c[1:], uint64(eventID))
	return c
}

// decodeEventCursor inverts encodeEventCursor: empty is "from now"
// (ok=false); any other length or prefix (a Valkey cursor is 17 bytes
// with prefix 0x01) is ErrInvalidInput.
func decodeEventCursor(c EventCursor) (int64, bool, error) {
	if len(c) == 0 {
		return 0, false, nil
	}
	if len(c) != eventCursorLen || c[0] != EventCursorPrefix {
		return 0, false, errInvalidInput("invalid event_id cursor: want %d bytes starting %#x, got %d bytes %s",
			eventCursorLen, EventCursorPrefix, len(c), hexString(c))
	}
	return int64(binary.BigEndian.Uint64(c[1:])), true, nil
}

// hexString renders bytes as lowercase hex ("" for none).
func hexString(b []byte) string {
	return hex.EncodeToString(b)
}

// streamPosition is a parsed StreamCursor: a marker, or an entry id
// "<ms>" / "<ms>-<seq>" ("<ms>" means seq 0).
type streamPosition struct {
	// Marker is StreamStart or StreamEnd; "" for an entry id.
	Marker StreamCursor
	MS     int64
	Seq    int64
}

// parseStreamPosition validates c (spec 05 §C.1: "start", "end", or ASCII
// digits with an optional "-digits", both parts non-empty). Parts must fit
// the int64 columns they are compared with.
func parseStreamPosition(c StreamCursor) (streamPosition, error) {
	switch c {
	case StreamStart, StreamEnd:
		return streamPosition{Marker: c}, nil
	}
	msText, seqText, hasSeq := strings.Cut(string(c), "-")
	ms, ok := parseDecimalInt64(msText)
	if !ok {
		return streamPosition{}, errInvalidInput("bad stream cursor: %q", string(c))
	}
	var seq int64
	if hasSeq {
		if seq, ok = parseDecimalInt64(seqText); !ok {
			return streamPosition{}, errInvalidInput("bad stream cursor: %q", string(c))
		}
	}
	return streamPosition{MS: ms, Seq: seq}, nil
}

// parseDecimalInt64 accepts one or more ASCII digits (no sign) whose value
// fits an int64.
func parseDecimalInt64(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
