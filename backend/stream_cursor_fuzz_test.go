package backend

import (
	"errors"
	"strconv"
	"testing"
)

// FuzzParseStreamCursor checks that any text either parses to a position
// whose id round-trips, or fails with ErrInvalidInput (never a panic).
func FuzzParseStreamCursor(f *testing.F) {
	for _, s := range []string{"", "-", "+", "start", "end", "0", "0-0", "1-", "-1", "12-34", "9223372036854775807-9223372036854775807",
		"9223372036854775808", "1-2-3", " 1", "١", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseStreamCursor(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("ParseStreamCursor(%q): err = %v, want ErrInvalidInput", s, err)
			}
			return
		}
		if string(c) != s {
			t.Fatalf("ParseStreamCursor(%q) = %q", s, c)
		}
		pos, err := parseStreamPosition(c)
		if err != nil {
			t.Fatalf("parseStreamPosition(%q) failed after ParseStreamCursor passed: %v", s, err)
		}
		if pos.Marker != "" {
			return
		}
		if pos.MS < 0 || pos.Seq < 0 {
			t.Fatalf("parseStreamPosition(%q) = %+v: negative part", s, pos)
		}
		// The canonical text parses back to the same position.
		again, err := parseStreamPosition(StreamCursor(strconv.FormatInt(pos.MS, 10) + "-" + strconv.FormatInt(pos.Seq, 10)))
		if err != nil || again != pos {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", s, again, err, pos)
		}
	})
}
