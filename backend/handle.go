package backend

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// BackendTag identifies the backend family that minted a handle. Its value
// is the tag byte of the handle wire format; String renders exactly
// "Valkey", "Postgres" or "Sqlite" (these names appear in error details).
type BackendTag uint8

// Backend tags (wire bytes).
const (
	BackendValkey   BackendTag = 0x01
	BackendPostgres BackendTag = 0x02
	BackendSQLite   BackendTag = 0x03
)

// String returns "Valkey", "Postgres", "Sqlite" or "BackendTag(0xNN)".
func (t BackendTag) String() string {
	switch t {
	case BackendValkey:
		return "Valkey"
	case BackendPostgres:
		return "Postgres"
	case BackendSQLite:
		return "Sqlite"
	}
	return fmt.Sprintf("BackendTag(0x%02x)", uint8(t))
}

// HandleKind says how a handle was minted. The backend does not reject
// operations based on the kind.
type HandleKind string

// Handle kinds.
const (
	// HandleFresh: from Claim or ClaimExecution.
	HandleFresh HandleKind = "fresh"
	// HandleReclaimed: from ReclaimExecution or a reclaiming Claim.
	HandleReclaimed HandleKind = "reclaimed"
	// HandleResumed: from ClaimFromResumeGrant or ClaimResumedExecution.
	HandleResumed HandleKind = "resumed"
	// HandleSuspended: returned by Suspend; it still carries the pre-suspend
	// epoch, so lease operations on it fail with ErrStaleLease.
	HandleSuspended HandleKind = "suspended"
)

// HandlePayload is the decoded content of a handle's opaque bytes.
type HandlePayload struct {
	AttemptID        AttemptID
	AttemptIndex     AttemptIndex
	ExecutionID      ExecutionID
	LaneID           LaneID
	LeaseEpoch       LeaseEpoch
	LeaseID          LeaseID
	LeaseTTL         time.Duration // stored as whole milliseconds
	WorkerInstanceID WorkerInstanceID
}

// EncodeHandleOpaque encodes p in the shared handle wire format (v2):
// magic 0x02, wire version 0x01, the tag byte, then execution_id (string),
// attempt_index (u32), attempt_id (string), lease_id (string), lease_epoch
// (u64), lease_ttl_ms (u64), lane_id (string), worker_instance_id (string);
// integers little-endian, strings as u32 LE byte length + UTF-8 bytes.
func EncodeHandleOpaque(tag BackendTag, p HandlePayload) []byte {
	b := make([]byte, 0, 3+4*5+len(p.ExecutionID)+len(p.AttemptID)+len(p.LeaseID)+len(p.LaneID)+len(p.WorkerInstanceID)+4+8+8)
	b = append(b, handleV2Magic, handleV2WireVersion, byte(tag))
	return appendHandleFields(b, p)
}

// DecodeHandleOpaque decodes the shared wire format: v2 (written by every
// encoder) and legacy v1 (leading byte 0x01 followed directly by the
// fields; decodes with tag BackendValkey). Errors are
// Validation/corruption with detail "handle_codec: <reason>" (truncated,
// trailing bytes, bad wire version, bad leading byte, bad backend tag,
// invalid UTF-8, unparsable execution_id / attempt_id / lease_id).
func DecodeHandleOpaque(b []byte) (BackendTag, HandlePayload, error) {
	tag, p, err := decodeHandleOpaque(b)
	if err != nil {
		return 0, HandlePayload{}, errCorruption("handle_codec: " + err.Error())
	}
	return tag, p, nil
}

// Handle is a worker's proof of a lease on one attempt: the backend that
// minted it, its kind, and the opaque wire bytes (which embed a second
// backend tag and the HandlePayload). Handles are immutable values; pass
// them by value and reuse them freely (every operation only borrows the
// handle, so a call may be retried with the same handle after a transport
// error). The zero Handle is invalid.
type Handle struct {
	backend BackendTag
	kind    HandleKind
	// opaque is a string so the bytes cannot be mutated through a shared
	// slice and Handle stays comparable with ==.
	opaque string
}

// NewHandle assembles a handle from its parts without validating them.
// The backend validates a handle when it is used: a foreign outer or
// embedded tag is ErrHandleFromOtherBackend, undecodable bytes are
// ErrCorruption. Meant for tests and for rebuilding foreign handles.
func NewHandle(backend BackendTag, kind HandleKind, opaque []byte) Handle {
	return Handle{backend: backend, kind: kind, opaque: string(opaque)}
}

// Encode returns a self-contained binary form for persisting the handle:
// one byte outer BackendTag, one byte kind (1 fresh, 2 resumed,
// 3 suspended, 4 reclaimed), then Opaque().
func (h Handle) Encode() []byte {
	b := make([]byte, 0, 2+len(h.opaque))
	b = append(b, byte(h.backend), handleKindByte(h.kind))
	return append(b, h.opaque...)
}

// DecodeHandle parses Encode's output. It checks the kind byte and that the
// opaque bytes decode (Validation/corruption otherwise); it does not reject
// foreign backends (that happens when the handle is used). An outer tag
// byte that names no backend at all is corruption too.
func DecodeHandle(b []byte) (Handle, error) {
	if len(b) < 2 {
		return Handle{}, errCorruption(fmt.Sprintf("handle: encoded handle too short (%d bytes)", len(b)))
	}
	tag := BackendTag(b[0])
	switch tag {
	case BackendValkey, BackendPostgres, BackendSQLite:
	default:
		return Handle{}, errCorruption(fmt.Sprintf("handle: backend-tag byte %#x not recognised", b[0]))
	}
	kind, ok := handleKindFromByte(b[1])
	if !ok {
		return Handle{}, errCorruption(fmt.Sprintf("handle: kind byte %#x not recognised", b[1]))
	}
	if _, _, err := DecodeHandleOpaque(b[2:]); err != nil {
		return Handle{}, err
	}
	return NewHandle(tag, kind, b[2:]), nil
}

// Backend returns the outer backend tag.
func (h Handle) Backend() BackendTag {
	return h.backend
}

// Kind returns the handle kind.
func (h Handle) Kind() HandleKind {
	return h.kind
}

// Opaque returns a copy of the wire bytes.
func (h Handle) Opaque() []byte {
	return []byte(h.opaque)
}

// Payload decodes the opaque bytes.
func (h Handle) Payload() (HandlePayload, error) {
	_, p, err := DecodeHandleOpaque([]byte(h.opaque))
	return p, err
}

// IsZero reports whether h is the zero Handle.
func (h Handle) IsZero() bool {
	return h == Handle{}
}

// Equal reports whether two handles have the same tag, kind and bytes (it
// lets go-cmp compare values that contain handles).
func (h Handle) Equal(o Handle) bool {
	return h == o
}

// String renders a short description without the opaque bytes.
func (h Handle) String() string {
	if h.IsZero() {
		return "Handle{}"
	}
	p, err := h.Payload()
	if err != nil {
		return fmt.Sprintf("Handle{%s %s <undecodable>}", h.backend, h.kind)
	}
	return fmt.Sprintf("Handle{%s %s %s attempt=%d epoch=%d}", h.backend, h.kind, p.ExecutionID, p.AttemptIndex, p.LeaseEpoch)
}

// The accessors below read the decoded payload; each returns the zero value
// when the opaque bytes do not decode (possible only for handles built with
// NewHandle).

// ExecutionID returns the execution the lease is on.
func (h Handle) ExecutionID() ExecutionID {
	return h.payloadOrZero().ExecutionID
}

// AttemptIndex returns the leased attempt.
func (h Handle) AttemptIndex() AttemptIndex {
	return h.payloadOrZero().AttemptIndex
}

// AttemptID returns the attempt id carried by the handle.
func (h Handle) AttemptID() AttemptID {
	return h.payloadOrZero().AttemptID
}

// LeaseID returns the lease id carried by the handle.
func (h Handle) LeaseID() LeaseID {
	return h.payloadOrZero().LeaseID
}

// LeaseEpoch returns the fencing epoch the handle was minted with.
func (h Handle) LeaseEpoch() LeaseEpoch {
	return h.payloadOrZero().LeaseEpoch
}

// LeaseTTL returns the lease length Renew extends by.
func (h Handle) LeaseTTL() time.Duration {
	return h.payloadOrZero().LeaseTTL
}

// LaneID returns the lane the attempt was claimed from ("" for handles
// synthesised by SuspendByTriple).
func (h Handle) LaneID() LaneID {
	return h.payloadOrZero().LaneID
}

// WorkerInstanceID returns the lease holder.
func (h Handle) WorkerInstanceID() WorkerInstanceID {
	return h.payloadOrZero().WorkerInstanceID
}

// LeaseFence identifies a lease without a Handle (service-layer callers of
// SuspendByTriple). It is checked like a handle's lease against the
// execution's current attempt: a different LeaseEpoch, or a non-empty
// LeaseID other than the current lease's, is ErrStaleLease. AttemptID is
// carried into the synthesised handle and not compared.
type LeaseFence struct {
	AttemptID  AttemptID
	LeaseEpoch LeaseEpoch
	LeaseID    LeaseID
}

// Wire constants of the shared handle codec (spec 01 §3.2; original:
// ff-core handle_codec.rs). The v2 magic is disjoint from the v1 leading
// byte, so the decoder switches on the first byte.
const (
	handleV1Version     byte = 0x01
	handleV2Magic       byte = 0x02
	handleV2WireVersion byte = 0x01
)

// maxLeaseTTLMS is the largest lease_ttl_ms a time.Duration holds. Larger
// wire values are clamped to it so decode → encode → decode is stable.
const maxLeaseTTLMS = uint64(math.MaxInt64 / int64(time.Millisecond))

// decodeSQLiteHandle is the check every handle-taking operation runs
// first, before any write (spec 01 §3.3): the outer and the embedded tag
// must both be Sqlite (else ErrHandleFromOtherBackend, "expected=Sqlite
// actual=<Tag>"), and the opaque bytes must decode (else ErrCorruption).
func decodeSQLiteHandle(h Handle) (HandlePayload, error) {
	if h.IsZero() {
		return HandlePayload{}, errInvalidInput("handle: the zero Handle is not a lease")
	}
	if h.backend != BackendSQLite {
		return HandlePayload{}, errValidation(SubKindHandleFromOtherBackend, "expected=%s actual=%s", BackendSQLite, h.backend)
	}
	tag, p, err := DecodeHandleOpaque([]byte(h.opaque))
	if err != nil {
		return HandlePayload{}, err
	}
	if tag != BackendSQLite {
		return HandlePayload{}, errValidation(SubKindHandleFromOtherBackend, "expected=%s actual=%s (embedded tag)", BackendSQLite, tag)
	}
	return p, nil
}

// payloadOrZero backs the accessors, which return zero values for handles
// whose bytes do not decode.
func (h Handle) payloadOrZero() HandlePayload {
	p, err := h.Payload()
	if err != nil {
		return HandlePayload{}
	}
	return p
}

// handleKindByte is the kind byte of Encode's outer form (0 for a kind
// that has none; DecodeHandle rejects it).
func handleKindByte(k HandleKind) byte {
	switch k {
	case HandleFresh:
		return 1
	case HandleResumed:
		return 2
	case HandleSuspended:
		return 3
	case HandleReclaimed:
		return 4
	}
	return 0
}

// handleKindFromByte inverts handleKindByte.
func handleKindFromByte(b byte) (HandleKind, bool) {
	switch b {
	case 1:
		return HandleFresh, true
	case 2:
		return HandleResumed, true
	case 3:
		return HandleSuspended, true
	case 4:
		return HandleReclaimed, true
	}
	return "", false
}

// appendHandleFields writes the field block shared by v1 and v2.
func appendHandleFields(b []byte, p HandlePayload) []byte {
	b = appendWireString(b, string(p.ExecutionID))
	b = binary.LittleEndian.AppendUint32(b, uint32(p.AttemptIndex))
	b = appendWireString(b, string(p.AttemptID))
	b = appendWireString(b, string(p.LeaseID))
	b = binary.LittleEndian.AppendUint64(b, uint64(p.LeaseEpoch))
	ttl := uint64(0) // a negative TTL has no wire form
	if p.LeaseTTL > 0 {
		ttl = uint64(p.LeaseTTL.Milliseconds())
	}
	b = binary.LittleEndian.AppendUint64(b, ttl)
	b = appendWireString(b, string(p.LaneID))
	return appendWireString(b, string(p.WorkerInstanceID))
}

// appendWireString writes a u32 LE length and the bytes. Like the
// original it clamps (rather than panics) past 4 GiB; decode then reports
// the damage.
func appendWireString(b []byte, s string) []byte {
	n := uint64(len(s))
	if n > math.MaxUint32 {
		n = math.MaxUint32
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	return append(b, s[:int(n)]...)
}

// handleReader walks an opaque buffer. Its errors carry the original's
// decode-error texts, which DecodeHandleOpaque prefixes with
// "handle_codec: ".
type handleReader struct {
	b   []byte
	pos int
}

func (r *handleReader) take(n uint64) ([]byte, error) {
	if uint64(r.pos)+n > uint64(len(r.b)) {
		return nil, fmt.Errorf("truncated handle: needed %d bytes at offset %d, have %d", n, r.pos, len(r.b))
	}
	s := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s, nil
}

func (r *handleReader) u8() (byte, error) {
	s, err := r.take(1)
	if err != nil {
		return 0, err
	}
	return s[0], nil
}

func (r *handleReader) u32() (uint32, error) {
	s, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(s), nil
}

func (r *handleReader) u64() (uint64, error) {
	s, err := r.take(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(s), nil
}

func (r *handleReader) str(field string) (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	s, err := r.take(uint64(n))
	if err != nil {
		return "", err
	}
	if !utf8.Valid(s) {
		return "", fmt.Errorf("handle field `%s` is not valid UTF-8", field)
	}
	return string(s), nil
}

// decodeHandleOpaque parses v2 and legacy v1 buffers; errors are the bare
// codec texts.
func decodeHandleOpaque(b []byte) (BackendTag, HandlePayload, error) {
	r := handleReader{b: b}
	lead, err := r.u8()
	if err != nil {
		return 0, HandlePayload{}, err
	}
	var tag BackendTag
	switch lead {
	case handleV2Magic:
		v, err := r.u8()
		if err != nil {
			return 0, HandlePayload{}, err
		}
		if v != handleV2WireVersion {
			return 0, HandlePayload{}, fmt.Errorf("handle v2 wire-version byte %#x not recognised", v)
		}
		t, err := r.u8()
		if err != nil {
			return 0, HandlePayload{}, err
		}
		switch tag = BackendTag(t); tag {
		case BackendValkey, BackendPostgres, BackendSQLite:
		default:
			return 0, HandlePayload{}, fmt.Errorf("handle backend-tag byte %#x not recognised", t)
		}
	case handleV1Version:
		// v1 predates other backends: only Valkey ever wrote it.
		tag = BackendValkey
	default:
		return 0, HandlePayload{}, fmt.Errorf("handle v1 version byte %#x not recognised (expected %#x)", lead, handleV1Version)
	}
	p, err := r.fields()
	if err != nil {
		return 0, HandlePayload{}, err
	}
	if r.pos != len(b) {
		return 0, HandlePayload{}, fmt.Errorf("trailing bytes in handle: pos=%d, len=%d", r.pos, len(b))
	}
	return tag, p, nil
}

// fields reads the field block. Ids are validated (the execution id keeps
// its exact text; attempt and lease ids become canonical); lane and
// worker instance are taken verbatim, as in the original.
func (r *handleReader) fields() (HandlePayload, error) {
	var p HandlePayload
	s, err := r.str("execution_id")
	if err != nil {
		return p, err
	}
	if p.ExecutionID, err = ParseExecutionID(s); err != nil {
		return p, fmt.Errorf("handle field `execution_id` parse failed: %s", errorDetail(err))
	}
	idx, err := r.u32()
	if err != nil {
		return p, err
	}
	p.AttemptIndex = AttemptIndex(idx)
	if s, err = r.str("attempt_id"); err != nil {
		return p, err
	}
	if p.AttemptID, err = ParseAttemptID(s); err != nil {
		return p, fmt.Errorf("handle field `attempt_id` parse failed: %s", errorDetail(err))
	}
	if s, err = r.str("lease_id"); err != nil {
		return p, err
	}
	if p.LeaseID, err = ParseLeaseID(s); err != nil {
		return p, fmt.Errorf("handle field `lease_id` parse failed: %s", errorDetail(err))
	}
	epoch, err := r.u64()
	if err != nil {
		return p, err
	}
	p.LeaseEpoch = LeaseEpoch(epoch)
	ttl, err := r.u64()
	if err != nil {
		return p, err
	}
	p.LeaseTTL = time.Duration(min(ttl, maxLeaseTTLMS)) * time.Millisecond
	if s, err = r.str("lane_id"); err != nil {
		return p, err
	}
	p.LaneID = LaneID(s)
	if s, err = r.str("worker_instance_id"); err != nil {
		return p, err
	}
	p.WorkerInstanceID = WorkerInstanceID(s)
	return p, nil
}
