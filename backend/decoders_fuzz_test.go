package backend

import (
	"bytes"
	"database/sql"
	"errors"
	"testing"
)

// The decoders below take untrusted text or bytes (ids from callers,
// cursors persisted by consumers, policy documents read back from disk).
// Each fuzz target checks that decoding never panics, that failures are
// typed, and that whatever decodes survives its own round trip.

func FuzzParseExecutionID(f *testing.F) {
	for _, s := range []string{
		"{fp:0}:1b4e28ba-2fa1-11d2-883f-0016d3cca427", "{fp:65535}:1B4E28BA-2FA1-11D2-883F-0016D3CCA427",
		"{fp:65536}:1b4e28ba-2fa1-11d2-883f-0016d3cca427", "{fp:+7}:1b4e28ba2fa111d2883f0016d3cca427",
		"{fp:}:x", "{fp:0}", "", "fp:0:1b4e28ba-2fa1-11d2-883f-0016d3cca427", "{fp:0}:{1b4e28ba-2fa1-11d2-883f-0016d3cca427}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseExecutionID(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("ParseExecutionID(%q) error %v is not ErrInvalidInput", s, err)
			}
			return
		}
		if id.String() != s {
			t.Fatalf("ParseExecutionID(%q) changed the text to %q", s, id)
		}
		if id.UUID() == "" {
			t.Fatalf("ParseExecutionID(%q) accepted an id without a UUID", s)
		}
		if _, err := ParseFlowID(id.UUID()); err != nil {
			t.Fatalf("UUID() of %q = %q does not parse: %v", s, id.UUID(), err)
		}
	})
}

func FuzzParseUUIDIDs(f *testing.F) {
	for _, s := range []string{
		"1b4e28ba-2fa1-11d2-883f-0016d3cca427", "1B4E28BA2FA111D2883F0016D3CCA427",
		"{1b4e28ba-2fa1-11d2-883f-0016d3cca427}", "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427",
		"(1b4e28ba-2fa1-11d2-883f-0016d3cca427)", "", "not-a-uuid",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseFlowID(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("ParseFlowID(%q) error %v is not ErrInvalidInput", s, err)
			}
			return
		}
		again, err := ParseFlowID(id.String())
		if err != nil || again != id {
			t.Fatalf("canonical form %q of %q does not round trip: %q, %v", id, s, again, err)
		}
	})
}

func FuzzParseLaneAndPartition(f *testing.F) {
	for _, s := range []string{"default", "{fp:0}", "{b:31}", "{q:007}", "{x:1}", "{fp:70000}", "", "a\x00b", "{fp:-1}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if lane, err := ParseLaneID(s); err == nil {
			if len(lane) == 0 || len(lane) > LaneIDMaxBytes {
				t.Fatalf("ParseLaneID(%q) accepted a lane of %d bytes", s, len(lane))
			}
			for i := 0; i < len(lane); i++ {
				if lane[i] < 0x20 || lane[i] > 0x7e {
					t.Fatalf("ParseLaneID(%q) accepted byte %#x", s, lane[i])
				}
			}
		} else if !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("ParseLaneID(%q) error %v is not ErrInvalidInput", s, err)
		}
		key, err := ParsePartitionKey(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("ParsePartitionKey(%q) error %v is not ErrInvalidInput", s, err)
			}
			return
		}
		p, err := key.Partition()
		if err != nil {
			t.Fatalf("parsed key %q does not decode: %v", key, err)
		}
		if again, err := ParsePartitionKey(string(p.Key())); err != nil || again != p.Key() {
			t.Fatalf("partition %+v of %q does not round trip: %q, %v", p, s, again, err)
		}
	})
}

func FuzzEventCursor(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte(NewEventCursor(0)))
	f.Add([]byte(NewEventCursor(1 << 40)))
	f.Add([]byte{EventCursorPrefix, 1, 2})
	f.Add([]byte{0x01, 0, 0, 0, 0, 0, 0, 0, 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, ok, err := EventCursor(b).EventID()
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("EventID(%x) error %v is not ErrInvalidInput", b, err)
			}
			return
		}
		if !ok {
			if len(b) != 0 {
				t.Fatalf("EventID(%x) reported the empty cursor", b)
			}
			return
		}
		if !bytes.Equal(NewEventCursor(id), b) {
			t.Fatalf("cursor %x decodes to %d, which encodes to %x", b, id, []byte(NewEventCursor(id)))
		}
	})
}

// FuzzStoredPolicy feeds arbitrary text to the decoder of ff_exec_core.policy:
// a document that does not decode is ErrCorruption, never a panic.
func FuzzStoredPolicy(f *testing.F) {
	f.Add(`{"MaxReclaimCount":3,"RetryPolicy":{"MaxRetries":0,"Backoff":{"Kind":"fixed","Delay":1000000}}}`)
	f.Add(`{"BudgetIDs":["x"],"DedupWindow":-1}`)
	f.Add(`[]`)
	f.Add(`{"RetryPolicy":{"MaxRetries":-1}}`)
	f.Add(`not json`)
	f.Fuzz(func(t *testing.T, doc string) {
		e := &exec{}
		e.Policy = sql.NullString{String: doc, Valid: true}
		p, err := e.policy()
		if err != nil {
			if !errors.Is(err, ErrCorruption) {
				t.Fatalf("policy(%q) error %v is not ErrCorruption", doc, err)
			}
			return
		}
		if doc != "" && p == nil {
			t.Fatalf("policy(%q) decoded to nil without an error", doc)
		}
		if p != nil {
			_ = backoffDelay(func() Backoff {
				if p.RetryPolicy != nil {
					return p.RetryPolicy.Backoff
				}
				return Backoff{}
			}(), 62)
		}
	})
}
