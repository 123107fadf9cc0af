package backend

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	goldenExecID  = "{fp:0}:00000000-0000-4000-8000-000000000001"
	goldenAttempt = "11111111-1111-4111-8111-111111111111"
	goldenLease   = "22222222-2222-4222-8222-222222222222"
)

var goldenPayload = HandlePayload{
	AttemptID:        goldenAttempt,
	AttemptIndex:     3,
	ExecutionID:      goldenExecID,
	LaneID:           "default",
	LeaseEpoch:       7,
	LeaseID:          goldenLease,
	LeaseTTL:         30 * time.Second,
	WorkerInstanceID: "w-1",
}

// goldenFields is goldenPayload's field block, written out by hand from
// the layout in spec 01 §3.2 / ff-core handle_codec.rs (u32 LE lengths,
// u32/u64 LE integers).
func goldenFields() []byte {
	var b []byte
	b = append(b, 0x2b, 0x00, 0x00, 0x00) // len(execution_id) = 43
	b = append(b, goldenExecID...)
	b = append(b, 0x03, 0x00, 0x00, 0x00) // attempt_index = 3
	b = append(b, 0x24, 0x00, 0x00, 0x00) // len(attempt_id) = 36
	b = append(b, goldenAttempt...)
	b = append(b, 0x24, 0x00, 0x00, 0x00) // len(lease_id) = 36
	b = append(b, goldenLease...)
	b = append(b, 0x07, 0, 0, 0, 0, 0, 0, 0)    // lease_epoch = 7
	b = append(b, 0x30, 0x75, 0, 0, 0, 0, 0, 0) // lease_ttl_ms = 30000 = 0x7530
	b = append(b, 0x07, 0x00, 0x00, 0x00)       // len(lane_id) = 7
	b = append(b, "default"...)                 //
	b = append(b, 0x03, 0x00, 0x00, 0x00)       // len(worker_instance_id) = 3
	return append(b, "w-1"...)
}

func goldenV2(tag byte) []byte {
	return append([]byte{0x02, 0x01, tag}, goldenFields()...)
}

func goldenV1() []byte {
	return append([]byte{0x01}, goldenFields()...)
}

// wire builds test buffers: string → u32 LE length + bytes, uint32 → 4
// bytes LE, uint64 → 8 bytes LE, []byte → verbatim.
func wire(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case uint32:
			b = binary.LittleEndian.AppendUint32(b, v)
		case uint64:
			b = binary.LittleEndian.AppendUint64(b, v)
		case []byte:
			b = append(b, v...)
		default:
			panic("wire: unsupported part")
		}
	}
	return b
}

func TestHandleOpaqueGolden(t *testing.T) {
	t.Parallel()

	want := goldenV2(0x03)
	if len(want) != 3+4+43+4+4+36+4+36+8+8+4+7+4+3 {
		t.Fatalf("golden vector has %d bytes; the hand layout is off", len(want))
	}
	got := EncodeHandleOpaque(BackendSQLite, goldenPayload)
	if !bytes.Equal(want, got) {
		t.Fatalf("EncodeHandleOpaque:\n got %x\nwant %x", got, want)
	}

	tests := []struct {
		name    string
		in      []byte
		wantTag BackendTag
	}{
		{"V2Sqlite", goldenV2(0x03), BackendSQLite},
		{"V2Valkey", goldenV2(0x01), BackendValkey},
		{"V2Postgres", goldenV2(0x02), BackendPostgres},
		{"V1DecodesAsValkey", goldenV1(), BackendValkey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tag, p, err := DecodeHandleOpaque(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if tag != tt.wantTag {
				t.Errorf("tag = %s, want %s", tag, tt.wantTag)
			}
			if diff := cmp.Diff(goldenPayload, p); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHandleOpaqueNormalisation(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   HandlePayload
		want HandlePayload
	}{
		{
			// Sub-millisecond TTL is dropped: the wire keeps whole ms.
			name: "TTLTruncatedToMS",
			in:   HandlePayload{ExecutionID: goldenExecID, AttemptID: goldenAttempt, LeaseID: goldenLease, LeaseTTL: 1500 * time.Microsecond},
			want: HandlePayload{ExecutionID: goldenExecID, AttemptID: goldenAttempt, LeaseID: goldenLease, LeaseTTL: time.Millisecond},
		},
		{
			name: "NegativeTTLIsZero",
			in:   HandlePayload{ExecutionID: goldenExecID, AttemptID: goldenAttempt, LeaseID: goldenLease, LeaseTTL: -time.Second},
			want: HandlePayload{ExecutionID: goldenExecID, AttemptID: goldenAttempt, LeaseID: goldenLease},
		},
		{
			// The execution id keeps its text; attempt and lease ids become
			// canonical.
			name: "IDsSpelling",
			in:   HandlePayload{ExecutionID: "{fp:007}:" + testUUIDUpper, AttemptID: AttemptID(strings.ToUpper(goldenAttempt)), LeaseID: "{" + goldenLease + "}"},
			want: HandlePayload{ExecutionID: "{fp:007}:" + testUUIDUpper, AttemptID: goldenAttempt, LeaseID: goldenLease},
		},
		{
			name: "MaxIntegers",
			in:   HandlePayload{ExecutionID: goldenExecID, AttemptID: goldenAttempt, LeaseID: goldenLease, AttemptIndex: 1<<32 - 1, LeaseEpoch: 1<<64 - 1},
			want: HandlePayload{ExecutionID: goldenExecID, AttemptID: goldenAttempt, LeaseID: goldenLease, AttemptIndex: 1<<32 - 1, LeaseEpoch: 1<<64 - 1},
		},
		{
			// Lane and worker instance are not validated.
			name: "FreeFormStrings",
			in:   HandlePayload{ExecutionID: goldenExecID, AttemptID: goldenAttempt, LeaseID: goldenLease, LaneID: "la\nne ✓", WorkerInstanceID: ""},
			want: HandlePayload{ExecutionID: goldenExecID, AttemptID: goldenAttempt, LeaseID: goldenLease, LaneID: "la\nne ✓", WorkerInstanceID: ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tag, got, err := DecodeHandleOpaque(EncodeHandleOpaque(BackendPostgres, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if tag != BackendPostgres {
				t.Errorf("tag = %s", tag)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	// A wire TTL beyond time.Duration's range is clamped, not wrapped.
	huge := wire([]byte{0x02, 0x01, 0x03}, goldenExecID, uint32(0), goldenAttempt, goldenLease, uint64(1), ^uint64(0), "l", "w")
	_, p, err := DecodeHandleOpaque(huge)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Duration(maxLeaseTTLMS) * time.Millisecond; p.LeaseTTL != want || p.LeaseTTL <= 0 {
		t.Fatalf("LeaseTTL = %v, want %v", p.LeaseTTL, want)
	}
}

func TestDecodeHandleOpaqueRejects(t *testing.T) {
	t.Parallel()

	golden := goldenV2(0x03)
	hdr := []byte{0x02, 0x01, 0x03}
	tests := []struct {
		name   string
		in     []byte
		detail string
	}{
		{"ErrEmpty", nil, "handle_codec: truncated handle: needed 1 bytes at offset 0, have 0"},
		{"ErrMagicOnly", []byte{0x02}, "handle_codec: truncated handle: needed 1 bytes at offset 1, have 1"},
		{"ErrNoTag", []byte{0x02, 0x01}, "handle_codec: truncated handle: needed 1 bytes at offset 2, have 2"},
		{"ErrHeaderOnly", hdr, "handle_codec: truncated handle: needed 4 bytes at offset 3, have 3"},
		{"ErrV1Only", []byte{0x01}, "handle_codec: truncated handle: needed 4 bytes at offset 1, have 1"},
		{"ErrWireVersion", []byte{0x02, 0xff, 0x01}, "handle_codec: handle v2 wire-version byte 0xff not recognised"},
		{"ErrWireVersionZero", []byte{0x02, 0x00}, "handle_codec: handle v2 wire-version byte 0x0 not recognised"},
		{"ErrBackendTag", []byte{0x02, 0x01, 0xfe}, "handle_codec: handle backend-tag byte 0xfe not recognised"},
		{"ErrBackendTagZero", []byte{0x02, 0x01, 0x00}, "handle_codec: handle backend-tag byte 0x0 not recognised"},
		{"ErrLeadingByte", []byte{0xab}, "handle_codec: handle v1 version byte 0xab not recognised (expected 0x1)"},
		{"ErrLeadingZero", []byte{0x00, 0x01}, "handle_codec: handle v1 version byte 0x0 not recognised (expected 0x1)"},
		{"ErrTruncatedLastString", golden[:len(golden)-1], "handle_codec: truncated handle: needed 3 bytes at offset 165, have 167"},
		{"ErrTruncatedLength", golden[:len(golden)-5], "handle_codec: truncated handle: needed 4 bytes at offset 161, have 163"},
		{"ErrTrailingByte", append(goldenV2(0x03), 0x00), "handle_codec: trailing bytes in handle: pos=168, len=169"},
		{"ErrHugeLength", append(append([]byte{}, hdr...), 0xff, 0xff, 0xff, 0xff), "handle_codec: truncated handle: needed 4294967295 bytes at offset 7, have 7"},
		{"ErrExecIDUTF8", wire(hdr, "\xff"), "handle_codec: handle field `execution_id` is not valid UTF-8"},
		{"ErrExecIDParse", wire(hdr, "abc"), "handle_codec: handle field `execution_id` parse failed: execution_id missing `{fp:` prefix: abc"},
		{"ErrExecIDUUID", wire(hdr, "{fp:0}:zz"), "handle_codec: handle field `execution_id` parse failed: execution_id UUID invalid: {fp:0}:zz"},
		{"ErrAttemptIDParse", wire(hdr, goldenExecID, uint32(0), "nope"), "handle_codec: handle field `attempt_id` parse failed: attempt_id is not a valid UUID: \"nope\""},
		{"ErrAttemptIDUTF8", wire(hdr, goldenExecID, uint32(0), "\xc3\x28"), "handle_codec: handle field `attempt_id` is not valid UTF-8"},
		{"ErrLeaseIDParse", wire(hdr, goldenExecID, uint32(0), goldenAttempt, ""), "handle_codec: handle field `lease_id` parse failed: lease_id is not a valid UUID: \"\""},
		{"ErrEpochTruncated", wire(hdr, goldenExecID, uint32(0), goldenAttempt, goldenLease, []byte{1, 2, 3}), "handle_codec: truncated handle: needed 8 bytes at offset 134, have 137"},
		{"ErrLaneUTF8", wire(hdr, goldenExecID, uint32(0), goldenAttempt, goldenLease, uint64(1), uint64(1), "\xed\xa0\x80", "w"), "handle_codec: handle field `lane_id` is not valid UTF-8"},
		{"ErrWorkerUTF8", wire(hdr, goldenExecID, uint32(0), goldenAttempt, goldenLease, uint64(1), uint64(1), "l", "\xc0\xaf"), "handle_codec: handle field `worker_instance_id` is not valid UTF-8"},
		{"ErrV1Trailing", append(goldenV1(), 0x01), "handle_codec: trailing bytes in handle: pos=166, len=167"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tag, p, err := DecodeHandleOpaque(tt.in)
			if tag != 0 || p != (HandlePayload{}) {
				t.Errorf("tag, payload = %v, %+v; want zero values", tag, p)
			}
			wantValidation(t, err, SubKindCorruption, tt.detail)
			if !errors.Is(err, ErrCorruption) {
				t.Errorf("errors.Is(err, ErrCorruption) = false")
			}
		})
	}
}

func TestBackendTagString(t *testing.T) {
	t.Parallel()

	got := []string{BackendValkey.String(), BackendPostgres.String(), BackendSQLite.String(), BackendTag(0).String(), BackendTag(0x9).String()}
	want := []string{"Valkey", "Postgres", "Sqlite", "BackendTag(0x00)", "BackendTag(0x09)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestHandleAccessors(t *testing.T) {
	t.Parallel()

	opaque := goldenV2(0x03)
	h := NewHandle(BackendSQLite, HandleResumed, opaque)
	opaque[10] = 'X' // NewHandle must have copied
	type view struct {
		Backend          BackendTag
		Kind             HandleKind
		ExecutionID      ExecutionID
		AttemptIndex     AttemptIndex
		AttemptID        AttemptID
		LeaseID          LeaseID
		LeaseEpoch       LeaseEpoch
		LeaseTTL         time.Duration
		LaneID           LaneID
		WorkerInstanceID WorkerInstanceID
	}
	got := view{h.Backend(), h.Kind(), h.ExecutionID(), h.AttemptIndex(), h.AttemptID(), h.LeaseID(), h.LeaseEpoch(), h.LeaseTTL(), h.LaneID(), h.WorkerInstanceID()}
	want := view{BackendSQLite, HandleResumed, goldenExecID, 3, goldenAttempt, goldenLease, 7, 30 * time.Second, "default", "w-1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("accessors (-want +got):\n%s", diff)
	}
	p, err := h.Payload()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(goldenPayload, p); diff != "" {
		t.Fatalf("Payload (-want +got):\n%s", diff)
	}

	// Opaque hands out a copy.
	o := h.Opaque()
	if !bytes.Equal(o, goldenV2(0x03)) {
		t.Fatalf("Opaque = %x", o)
	}
	o[0] = 0xff
	if !bytes.Equal(h.Opaque(), goldenV2(0x03)) {
		t.Fatal("mutating Opaque's result changed the handle")
	}

	// Undecodable bytes: accessors read zero values, Payload errors.
	bad := NewHandle(BackendSQLite, HandleFresh, []byte{0xab})
	if bad.ExecutionID() != "" || bad.LeaseEpoch() != 0 || bad.LeaseTTL() != 0 || bad.LaneID() != "" || bad.AttemptID() != "" {
		t.Fatal("accessors of an undecodable handle are not zero")
	}
	if _, err := bad.Payload(); !errors.Is(err, ErrCorruption) {
		t.Fatalf("Payload err = %v, want ErrCorruption", err)
	}
}

func TestHandleEqualZeroString(t *testing.T) {
	t.Parallel()

	a := NewHandle(BackendSQLite, HandleFresh, goldenV2(0x03))
	b := NewHandle(BackendSQLite, HandleFresh, goldenV2(0x03))
	tests := []struct {
		name string
		x, y Handle
		want bool
	}{
		{"Same", a, b, true},
		{"Zero", Handle{}, NewHandle(0, "", nil), true},
		{"OtherKind", a, NewHandle(BackendSQLite, HandleSuspended, goldenV2(0x03)), false},
		{"OtherBackend", a, NewHandle(BackendValkey, HandleFresh, goldenV2(0x03)), false},
		{"OtherBytes", a, NewHandle(BackendSQLite, HandleFresh, goldenV2(0x01)), false},
		{"ZeroVsSet", Handle{}, a, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.x.Equal(tt.y); got != tt.want {
				t.Fatalf("Equal = %v, want %v", got, tt.want)
			}
			// cmp uses Equal, so values holding handles compare.
			type outcome struct{ H *Handle }
			if got := cmp.Diff(outcome{&tt.x}, outcome{&tt.y}) == ""; got != tt.want {
				t.Fatalf("cmp.Diff equal = %v, want %v", got, tt.want)
			}
		})
	}

	if !(Handle{}).IsZero() || a.IsZero() || NewHandle(BackendSQLite, "", nil).IsZero() {
		t.Fatal("IsZero wrong")
	}

	strs := []string{(Handle{}).String(), a.String(), NewHandle(BackendValkey, HandleFresh, []byte{9}).String()}
	wantStrs := []string{
		"Handle{}",
		"Handle{Sqlite fresh " + goldenExecID + " attempt=3 epoch=7}",
		"Handle{Valkey fresh <undecodable>}",
	}
	if diff := cmp.Diff(wantStrs, strs); diff != "" {
		t.Fatalf("String (-want +got):\n%s", diff)
	}
	// String leaves out the opaque bytes (and so the lease id).
	if strings.Contains(a.String(), goldenLease) {
		t.Fatalf("String leaks the lease id: %s", a)
	}
}

func TestHandleEncodeDecode(t *testing.T) {
	t.Parallel()

	kinds := []struct {
		kind HandleKind
		b    byte
	}{{HandleFresh, 1}, {HandleResumed, 2}, {HandleSuspended, 3}, {HandleReclaimed, 4}}
	for _, k := range kinds {
		t.Run(string(k.kind), func(t *testing.T) {
			t.Parallel()
			h := NewHandle(BackendSQLite, k.kind, goldenV2(0x03))
			enc := h.Encode()
			want := append([]byte{0x03, k.b}, goldenV2(0x03)...)
			if !bytes.Equal(enc, want) {
				t.Fatalf("Encode = %x, want %x", enc, want)
			}
			got, err := DecodeHandle(enc)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(h) {
				t.Fatalf("DecodeHandle = %v, want %v", got, h)
			}
		})
	}

	// Foreign handles decode; rejecting them is the operations' job.
	foreign := append([]byte{0x01, 0x01}, goldenV1()...)
	h, err := DecodeHandle(foreign)
	if err != nil || h.Backend() != BackendValkey || h.Kind() != HandleFresh {
		t.Fatalf("DecodeHandle(foreign) = %v, %v", h, err)
	}
}

func TestDecodeHandleRejects(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		in     []byte
		detail string
	}{
		{"ErrEmpty", nil, "handle: encoded handle too short (0 bytes)"},
		{"ErrOneByte", []byte{0x03}, "handle: encoded handle too short (1 bytes)"},
		{"ErrOuterTagZero", append([]byte{0x00, 0x01}, goldenV2(0x03)...), "handle: backend-tag byte 0x0 not recognised"},
		{"ErrOuterTagUnknown", append([]byte{0x09, 0x01}, goldenV2(0x03)...), "handle: backend-tag byte 0x9 not recognised"},
		{"ErrKindZero", append([]byte{0x03, 0x00}, goldenV2(0x03)...), "handle: kind byte 0x0 not recognised"},
		{"ErrKindUnknown", append([]byte{0x03, 0x05}, goldenV2(0x03)...), "handle: kind byte 0x5 not recognised"},
		{"ErrNoOpaque", []byte{0x03, 0x01}, "handle_codec: truncated handle: needed 1 bytes at offset 0, have 0"},
		{"ErrBadOpaque", []byte{0x03, 0x01, 0x02, 0xff, 0x01}, "handle_codec: handle v2 wire-version byte 0xff not recognised"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := DecodeHandle(tt.in)
			if !h.IsZero() {
				t.Errorf("handle = %v, want zero", h)
			}
			wantValidation(t, err, SubKindCorruption, tt.detail)
		})
	}
	// A kind without a wire byte encodes as 0, which DecodeHandle rejects.
	enc := NewHandle(BackendSQLite, "bogus", goldenV2(0x03)).Encode()
	if enc[1] != 0 {
		t.Fatalf("kind byte = %d, want 0", enc[1])
	}
}

func TestDecodeSQLiteHandle(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		h       Handle
		sub     SubKind // "" = success
		detail  string
		invalid bool
	}{
		{name: "Sqlite", h: NewHandle(BackendSQLite, HandleFresh, goldenV2(0x03))},
		{name: "SqliteReclaimedKindIsFine", h: NewHandle(BackendSQLite, HandleReclaimed, goldenV2(0x03))},
		{name: "ErrOuterValkey", h: NewHandle(BackendValkey, HandleFresh, goldenV2(0x03)), sub: SubKindHandleFromOtherBackend, detail: "expected=Sqlite actual=Valkey"},
		{name: "ErrOuterPostgres", h: NewHandle(BackendPostgres, HandleFresh, goldenV2(0x03)), sub: SubKindHandleFromOtherBackend, detail: "expected=Sqlite actual=Postgres"},
		// The opaque bytes are not inspected when the outer tag is foreign.
		{name: "ErrOuterForeignGarbage", h: NewHandle(BackendPostgres, HandleFresh, []byte{0xab}), sub: SubKindHandleFromOtherBackend, detail: "expected=Sqlite actual=Postgres"},
		{name: "ErrOuterUnknown", h: NewHandle(BackendTag(0x7), HandleFresh, goldenV2(0x03)), sub: SubKindHandleFromOtherBackend, detail: "expected=Sqlite actual=BackendTag(0x07)"},
		{name: "ErrEmbeddedValkey", h: NewHandle(BackendSQLite, HandleFresh, goldenV2(0x01)), sub: SubKindHandleFromOtherBackend, detail: "expected=Sqlite actual=Valkey (embedded tag)"},
		{name: "ErrEmbeddedPostgres", h: NewHandle(BackendSQLite, HandleFresh, goldenV2(0x02)), sub: SubKindHandleFromOtherBackend, detail: "expected=Sqlite actual=Postgres (embedded tag)"},
		{name: "ErrEmbeddedV1", h: NewHandle(BackendSQLite, HandleFresh, goldenV1()), sub: SubKindHandleFromOtherBackend, detail: "expected=Sqlite actual=Valkey (embedded tag)"},
		{name: "ErrCorrupt", h: NewHandle(BackendSQLite, HandleFresh, []byte{0xab}), sub: SubKindCorruption, detail: "handle_codec: handle v1 version byte 0xab not recognised (expected 0x1)"},
		{name: "ErrEmptyOpaque", h: NewHandle(BackendSQLite, HandleFresh, nil), sub: SubKindCorruption, detail: "handle_codec: truncated handle: needed 1 bytes at offset 0, have 0"},
		{name: "ErrZeroHandle", h: Handle{}, sub: SubKindInvalidInput, detail: "handle: the zero Handle is not a lease"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := decodeSQLiteHandle(tt.h)
			if tt.sub == "" {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(goldenPayload, p); diff != "" {
					t.Fatalf("(-want +got):\n%s", diff)
				}
				return
			}
			if p != (HandlePayload{}) {
				t.Errorf("payload = %+v, want zero", p)
			}
			wantValidation(t, err, tt.sub, tt.detail)
		})
	}

	// The documented rendering of the foreign-backend error.
	_, err := decodeSQLiteHandle(NewHandle(BackendValkey, HandleFresh, nil))
	if got, want := err.Error(), "validation: handle_from_other_backend: expected=Sqlite actual=Valkey"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrHandleFromOtherBackend) || errors.Is(err, ErrCorruption) {
		t.Fatalf("sentinel matching wrong for %v", err)
	}
}
