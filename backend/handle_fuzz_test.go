package backend

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeHandle feeds arbitrary bytes to the opaque decoder, the outer
// decoder and the SQLite wrapper. None may panic; every failure must be
// ErrCorruption (or ErrHandleFromOtherBackend for the wrapper); anything
// that decodes must re-encode to an equivalent payload, and the encoder's
// output must be a fixed point.
func FuzzDecodeHandle(f *testing.F) {
	v2 := goldenV2(0x03)
	f.Add(v2)
	f.Add(goldenV2(0x01))
	f.Add(goldenV2(0x02))
	f.Add(goldenV1())
	f.Add(append([]byte{0x03, 0x01}, v2...)) // outer Encode form
	f.Add(append([]byte{0x01, 0x04}, goldenV1()...))
	f.Add(v2[:len(v2)/2]) // truncated
	f.Add(v2[:3])
	f.Add(append(goldenV2(0x03), 0xff)) // trailing
	f.Add([]byte{})
	f.Add([]byte{0x02})
	f.Add([]byte{0x02, 0xff, 0x01})
	f.Add([]byte{0x02, 0x01, 0xfe})
	f.Add([]byte{0xab})
	f.Add([]byte("garbage that is not a handle"))
	f.Add(wire([]byte{0x02, 0x01, 0x03}, "{fp:+01}:"+testUUIDUpper, uint32(9), "{"+goldenAttempt+"}", "urn:uuid:"+goldenLease, uint64(1), ^uint64(0), "", "\u00e9"))

	f.Fuzz(func(t *testing.T, b []byte) {
		tag, p, err := DecodeHandleOpaque(b)
		if err != nil {
			if !errors.Is(err, ErrCorruption) {
				t.Fatalf("DecodeHandleOpaque error %v is not ErrCorruption", err)
			}
		} else {
			re := EncodeHandleOpaque(tag, p)
			tag2, p2, err := DecodeHandleOpaque(re)
			if err != nil {
				t.Fatalf("re-encoded payload does not decode: %v", err)
			}
			if tag2 != tag {
				t.Fatalf("tag %s re-decoded as %s", tag, tag2)
			}
			if diff := cmp.Diff(p, p2); diff != "" {
				t.Fatalf("payload changed through encode (-first +second):\n%s", diff)
			}
			if again := EncodeHandleOpaque(tag2, p2); !bytes.Equal(again, re) {
				t.Fatalf("encoding is not a fixed point:\n%x\n%x", re, again)
			}
		}

		h, err := DecodeHandle(b)
		if err != nil {
			if !errors.Is(err, ErrCorruption) || !h.IsZero() {
				t.Fatalf("DecodeHandle = %v, %v; want zero handle and ErrCorruption", h, err)
			}
		} else {
			// The outer form keeps the opaque bytes verbatim.
			if !bytes.Equal(h.Encode(), b) {
				t.Fatalf("Encode(DecodeHandle(b)) = %x, want %x", h.Encode(), b)
			}
			if _, err := h.Payload(); err != nil {
				t.Fatalf("decoded handle has undecodable payload: %v", err)
			}
		}

		_, err = decodeSQLiteHandle(NewHandle(BackendSQLite, HandleFresh, b))
		if err != nil && !errors.Is(err, ErrCorruption) && !errors.Is(err, ErrHandleFromOtherBackend) {
			t.Fatalf("decodeSQLiteHandle error %v has an unexpected kind", err)
		}
		_ = NewHandle(BackendSQLite, HandleFresh, b).String()
	})
}
