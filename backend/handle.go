package backend

import "time"

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
	panic("unimplemented")
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
	panic("unimplemented")
}

// DecodeHandleOpaque decodes the shared wire format: v2 (written by every
// encoder) and legacy v1 (leading byte 0x01 followed directly by the
// fields; decodes with tag BackendValkey). Errors are
// Validation/corruption with detail "handle_codec: <reason>" (truncated,
// trailing bytes, bad wire version, bad leading byte, bad backend tag,
// invalid UTF-8, unparsable execution_id / attempt_id / lease_id).
func DecodeHandleOpaque(b []byte) (BackendTag, HandlePayload, error) {
	panic("unimplemented")
}

// Handle is a worker's proof of a lease on one attempt: the backend that
// minted it, its kind, and the opaque wire bytes (which embed a second
// backend tag and the HandlePayload). Handles are immutable values; pass
// them by value and reuse them freely (every operation only borrows the
// handle, so a call may be retried with the same handle after a transport
// error). The zero Handle is invalid.
type Handle struct {
	// unexported fields
}

// NewHandle assembles a handle from its parts without validating them.
// The backend validates a handle when it is used: a foreign outer or
// embedded tag is ErrHandleFromOtherBackend, undecodable bytes are
// ErrCorruption. Meant for tests and for rebuilding foreign handles.
func NewHandle(backend BackendTag, kind HandleKind, opaque []byte) Handle {
	panic("unimplemented")
}

// Encode returns a self-contained binary form for persisting the handle:
// one byte outer BackendTag, one byte kind (1 fresh, 2 resumed,
// 3 suspended, 4 reclaimed), then Opaque().
func (h Handle) Encode() []byte {
	panic("unimplemented")
}

// DecodeHandle parses Encode's output. It checks the kind byte and that the
// opaque bytes decode (Validation/corruption otherwise); it does not reject
// foreign backends (that happens when the handle is used).
func DecodeHandle(b []byte) (Handle, error) {
	panic("unimplemented")
}

// Backend returns the outer backend tag.
func (h Handle) Backend() BackendTag {
	panic("unimplemented")
}

// Kind returns the handle kind.
func (h Handle) Kind() HandleKind {
	panic("unimplemented")
}

// Opaque returns a copy of the wire bytes.
func (h Handle) Opaque() []byte {
	panic("unimplemented")
}

// Payload decodes the opaque bytes.
func (h Handle) Payload() (HandlePayload, error) {
	panic("unimplemented")
}

// IsZero reports whether h is the zero Handle.
func (h Handle) IsZero() bool {
	panic("unimplemented")
}

// Equal reports whether two handles have the same tag, kind and bytes (it
// lets go-cmp compare values that contain handles).
func (h Handle) Equal(o Handle) bool {
	panic("unimplemented")
}

// String renders a short description without the opaque bytes.
func (h Handle) String() string {
	panic("unimplemented")
}

// The accessors below read the decoded payload; each returns the zero value
// when the opaque bytes do not decode (possible only for handles built with
// NewHandle).

// ExecutionID returns the execution the lease is on.
func (h Handle) ExecutionID() ExecutionID {
	panic("unimplemented")
}

// AttemptIndex returns the leased attempt.
func (h Handle) AttemptIndex() AttemptIndex {
	panic("unimplemented")
}

// AttemptID returns the attempt id carried by the handle.
func (h Handle) AttemptID() AttemptID {
	panic("unimplemented")
}

// LeaseID returns the lease id carried by the handle.
func (h Handle) LeaseID() LeaseID {
	panic("unimplemented")
}

// LeaseEpoch returns the fencing epoch the handle was minted with.
func (h Handle) LeaseEpoch() LeaseEpoch {
	panic("unimplemented")
}

// LeaseTTL returns the lease length Renew extends by.
func (h Handle) LeaseTTL() time.Duration {
	panic("unimplemented")
}

// LaneID returns the lane the attempt was claimed from ("" for handles
// synthesised by SuspendByTriple).
func (h Handle) LaneID() LaneID {
	panic("unimplemented")
}

// WorkerInstanceID returns the lease holder.
func (h Handle) WorkerInstanceID() WorkerInstanceID {
	panic("unimplemented")
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
