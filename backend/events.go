package backend

import (
	"context"
	"time"

	"github.com/flowfabric/ffsqlite/scanners"
)

// EventCursor is an opaque, resumable position in an event family. Persist
// it and hand it back to resume after the event it came with, also across
// process restarts. The empty cursor means "from now": only events
// committed after the Subscribe call are delivered. Cursors of one family
// compare (bytes.Compare) in delivery order. The SQLite form is 9 bytes:
// EventCursorPrefix then the outbox event id as a big-endian int64.
type EventCursor []byte

// EventCursorPrefix is the first byte of a SQLite (and Postgres) cursor.
const EventCursorPrefix byte = 0x02

// NewEventCursor returns the cursor positioned just after eventID.
func NewEventCursor(eventID int64) EventCursor {
	return encodeEventCursor(eventID)
}

// EventID decodes the cursor: ok is false for the empty cursor; err
// (ErrInvalidInput) reports a foreign or malformed cursor.
func (c EventCursor) EventID() (id int64, ok bool, err error) {
	return decodeEventCursor(c)
}

// IsZero reports whether c is the empty ("from now") cursor.
func (c EventCursor) IsZero() bool {
	return len(c) == 0
}

// String returns the cursor in hex.
func (c EventCursor) String() string {
	return hexString(c)
}

// ScannerFilter restricts subscriptions (and scanners) to rows of one
// namespace and/or one "cairn.instance_id" tag value; the zero value
// matches everything. It is the same type as scanners.Filter.
type ScannerFilter = scanners.Filter

// Subscription is a live, ordered, at-least-once feed of events of one
// family. Next blocks until the next event, returns ctx.Err() if ctx ends
// first (the subscription stays usable), and returns io.EOF once the
// subscription has ended (Close, or the backend closed after a final
// catch-up). A storage fault is returned once as ErrTransport, a row that
// does not decode once as ErrCorruption; after either, Next returns io.EOF
// and the consumer resubscribes from the last cursor it processed. A slow
// consumer is never skipped (backpressure). Close releases the
// subscription; it is idempotent and always returns nil. A Subscription is
// meant for one consuming goroutine; Close may be called from any.
type Subscription[E any] interface {
	Close() error
	Next(ctx context.Context) (E, error)
}

// Subscription types of the event families.
type (
	// CompletionSubscription delivers CompletionEvents.
	CompletionSubscription = Subscription[CompletionEvent]
	// InstanceTagSubscription delivers InstanceTagEvents.
	InstanceTagSubscription = Subscription[InstanceTagEvent]
	// LeaseHistorySubscription delivers LeaseHistoryEvents.
	LeaseHistorySubscription = Subscription[LeaseHistoryEvent]
	// SignalDeliverySubscription delivers SignalDeliveryEvents.
	SignalDeliverySubscription = Subscription[SignalDeliveryEvent]
)

// CompletionOutcome is the outcome carried by a completion event. Values
// other than the three canonical ones are the stored literal.
type CompletionOutcome string

// Completion outcomes.
const (
	CompletionCancelled CompletionOutcome = "cancelled"
	CompletionExpired   CompletionOutcome = "expired"
	// CompletionFailure is reported for both stored "failed" and "failure".
	CompletionFailure   CompletionOutcome = "failure"
	CompletionResumable CompletionOutcome = "resumable" // a suspension's condition was met
	CompletionSkipped   CompletionOutcome = "skipped"
	CompletionSuccess   CompletionOutcome = "success"
)

// CompletionEvent reports a terminal transition (or, with
// CompletionResumable, a satisfied suspension).
type CompletionEvent struct {
	At          time.Time
	Cursor      EventCursor
	ExecutionID ExecutionID
	Outcome     CompletionOutcome
	// RawOutcome is the stored literal (e.g. "failed").
	RawOutcome string
}

// LeaseEventKind distinguishes lease-history events. The kinds are the
// original's vocabulary; there is no separate "released" kind.
type LeaseEventKind string

// Lease event kinds.
const (
	// LeaseAcquired: a new lease by Claim (other than a takeover, see
	// LeaseReclaimed), ClaimExecution or ClaimResumedExecution.
	LeaseAcquired LeaseEventKind = "acquired"
	// LeaseExpired: the lease passed its expiry and the execution was
	// marked lease_expired_reclaimable.
	LeaseExpired LeaseEventKind = "expired"
	// LeaseReclaimed: a new lease replaced an expired or released one
	// (ReclaimExecution, ClaimFromResumeGrant, Claim of a lease-expired
	// execution).
	LeaseReclaimed LeaseEventKind = "reclaimed"
	// LeaseRenewed: Renew extended the lease.
	LeaseRenewed LeaseEventKind = "renewed"
	// LeaseRevoked: the lease ended without expiring. This is also what a
	// normal release by the holder emits — Complete, Fail (retry or
	// terminal), Cancel, Delay, WaitChildren, Suspend — besides operator
	// and system ends (RevokeLease, CancelExecution or CancelFlow of a
	// leased execution, the reclaim cap).
	LeaseRevoked LeaseEventKind = "revoked"
)

// LeaseHistoryEvent reports one lease lifecycle step. LeaseID and
// WorkerInstanceID are the real, stored values of the lease the event is
// about (every id in an event is persisted), never "".
type LeaseHistoryEvent struct {
	At          time.Time
	Cursor      EventCursor
	ExecutionID ExecutionID
	Kind        LeaseEventKind
	// LeaseID is the lease the event is about (reclaimed: the new lease).
	LeaseID LeaseID
	// RevokedBy (revoked) is "operator" for every revoked event, as in
	// the original, whoever ended the lease ("" for other kinds).
	RevokedBy string
	// WorkerInstanceID: acquired, renewed, revoked — the holder; expired —
	// the previous owner; reclaimed — the new owner.
	WorkerInstanceID WorkerInstanceID
}

// SignalDeliveryEffect is the effect carried by a signal-delivery event.
// Values other than the canonical ones are the stored literal.
type SignalDeliveryEffect string

// Signal-delivery effects.
const (
	SignalBuffered  SignalDeliveryEffect = "buffered"
	SignalDeduped   SignalDeliveryEffect = "deduped"
	SignalSatisfied SignalDeliveryEffect = "satisfied"
)

// SignalDeliveryEvent reports one accepted signal.
type SignalDeliveryEvent struct {
	At             time.Time
	Cursor         EventCursor
	Effect         SignalDeliveryEffect
	ExecutionID    ExecutionID
	SignalID       SignalID
	SourceIdentity string      // "" = none
	WaitpointID    WaitpointID // "" = none
}

// InstanceTagEventKind distinguishes instance-tag events.
type InstanceTagEventKind string

// Instance-tag event kinds.
const (
	InstanceTagAttached InstanceTagEventKind = "attached"
	InstanceTagCleared  InstanceTagEventKind = "cleared"
)

// InstanceTagEvent reports an instance tag attached to or cleared from an
// execution (no backend produces these yet).
type InstanceTagEvent struct {
	At          time.Time
	Cursor      EventCursor
	ExecutionID ExecutionID
	Kind        InstanceTagEventKind
	Tag         string
}
