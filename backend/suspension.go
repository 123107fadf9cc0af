package backend

import "time"

// MaxCompositeDepth is the deepest nesting of composite resume conditions.
const MaxCompositeDepth = 4

// SuspendArgs are the inputs of Suspend and SuspendByTriple.
type SuspendArgs struct {
	// ContinuationMetadataPointer is accepted, not stored ("" = none).
	ContinuationMetadataPointer string
	// IdempotencyKey, when non-empty, caches the outcome per execution: a
	// repeat returns the first outcome without a lease check or writes.
	IdempotencyKey string
	// Now stamps the suspension and waitpoints (zero = backend clock).
	Now        time.Time
	ReasonCode SuspensionReasonCode
	// RequestedBy is accepted, not stored ("" = SuspensionRequesterWorker).
	RequestedBy SuspensionRequester
	// ResumeCondition decides when delivered signals resume the execution.
	ResumeCondition ResumeCondition
	// ResumePolicy is accepted, not stored (see NormalResumePolicy).
	ResumePolicy ResumePolicy
	// SuspensionID is caller-minted and echoed in the outcome.
	SuspensionID SuspensionID
	// TimeoutAt ends the suspension by TimeoutBehavior (zero = no timeout;
	// more than 10 minutes in the past is ErrInvalidInput).
	TimeoutAt time.Time
	// TimeoutBehavior ("" = TimeoutFail).
	TimeoutBehavior TimeoutBehavior
	// Waitpoints are the bindings, primary first; must be non-empty; every
	// binding after the first must be fresh with a non-empty key.
	Waitpoints []WaitpointBinding
}

// WaitpointBindingKind distinguishes waitpoint bindings.
type WaitpointBindingKind string

// Waitpoint binding kinds.
const (
	// BindingFresh creates a new waitpoint with the given id and key.
	BindingFresh WaitpointBindingKind = "fresh"
	// BindingUsePending activates a waitpoint made by CreateWaitpoint (its
	// key is read from the stored row).
	BindingUsePending WaitpointBindingKind = "use_pending"
)

// WaitpointBinding binds one waitpoint to a suspension.
type WaitpointBinding struct {
	Kind         WaitpointBindingKind
	WaitpointID  WaitpointID
	WaitpointKey WaitpointKey // fresh only
}

// FreshBinding returns a fresh binding with a random id and key "wpk:<id>".
func FreshBinding() WaitpointBinding {
	id := NewWaitpointID()
	return WaitpointBinding{Kind: BindingFresh, WaitpointID: id, WaitpointKey: WaitpointKey("wpk:" + string(id))}
}

// FreshBindingWithKey returns a fresh binding with a random id and the key.
func FreshBindingWithKey(key WaitpointKey) WaitpointBinding {
	return WaitpointBinding{Kind: BindingFresh, WaitpointID: NewWaitpointID(), WaitpointKey: key}
}

// UsePendingBinding returns a binding that activates p.
func UsePendingBinding(p PendingWaitpoint) WaitpointBinding {
	return WaitpointBinding{Kind: BindingUsePending, WaitpointID: p.WaitpointID}
}

// ResumeConditionKind distinguishes resume conditions.
type ResumeConditionKind string

// Resume condition kinds.
const (
	// ConditionAllOf: every member is satisfied (Members non-empty).
	ConditionAllOf ResumeConditionKind = "all_of"
	// ConditionCount: at least N distinct CountKind values among the
	// signals under Waitpoints that pass Matcher. "Any of" is Count with N=1.
	ConditionCount ResumeConditionKind = "count"
	// ConditionOperatorOnly: never satisfied by signals.
	ConditionOperatorOnly ResumeConditionKind = "operator_only"
	// ConditionSingle: a signal under WaitpointKey passes Matcher.
	ConditionSingle ResumeConditionKind = "single"
	// ConditionTimeoutOnly: never satisfied by signals (needs TimeoutAt).
	ConditionTimeoutOnly ResumeConditionKind = "timeout_only"
)

// ResumeCondition is a tree of conditions over the signals delivered to a
// suspension's waitpoints. Use the constructors below.
type ResumeCondition struct {
	CountKind CountKind // count
	Kind      ResumeConditionKind
	// Matcher filters signals (single, count); the zero SignalMatcher
	// matches every signal.
	Matcher      SignalMatcher
	Members      []ResumeCondition // all_of
	N            uint32            // count (>= 1)
	WaitpointKey WaitpointKey      // single
	Waitpoints   []WaitpointKey    // count (non-empty)
}

// SingleCondition is satisfied by one signal under key that passes m.
func SingleCondition(key WaitpointKey, m SignalMatcher) ResumeCondition {
	return ResumeCondition{Kind: ConditionSingle, WaitpointKey: key, Matcher: m}
}

// AllOfCondition is satisfied when every member is.
func AllOfCondition(members ...ResumeCondition) ResumeCondition {
	// Copy so a caller's slice passed with ... is not aliased.
	return ResumeCondition{Kind: ConditionAllOf, Members: append([]ResumeCondition(nil), members...)}
}

// AllOfWaitpoints is AllOf of a wildcard Single per key.
func AllOfWaitpoints(keys ...WaitpointKey) ResumeCondition {
	members := make([]ResumeCondition, 0, len(keys))
	for _, k := range keys {
		members = append(members, SingleCondition(k, Wildcard()))
	}
	return ResumeCondition{Kind: ConditionAllOf, Members: members}
}

// CountCondition is satisfied by n distinct values of kind among the
// matching signals under the waitpoints.
func CountCondition(n uint32, kind CountKind, m SignalMatcher, waitpoints ...WaitpointKey) ResumeCondition {
	return ResumeCondition{
		Kind:       ConditionCount,
		N:          n,
		CountKind:  kind,
		Matcher:    m,
		Waitpoints: append([]WaitpointKey(nil), waitpoints...),
	}
}

// OperatorOnlyCondition is never satisfied by signals.
func OperatorOnlyCondition() ResumeCondition {
	return ResumeCondition{Kind: ConditionOperatorOnly}
}

// TimeoutOnlyCondition is never satisfied by signals.
func TimeoutOnlyCondition() ResumeCondition {
	return ResumeCondition{Kind: ConditionTimeoutOnly}
}

// CountKind says what Count counts.
type CountKind string

// Count kinds.
const (
	CountDistinctSignals    CountKind = "distinct_signals"
	CountDistinctSources    CountKind = "distinct_sources" // (SourceType, SourceIdentity) pairs
	CountDistinctWaitpoints CountKind = "distinct_waitpoints"
)

// SignalMatcherKind distinguishes signal matchers.
type SignalMatcherKind string

// Signal matcher kinds. The zero value matches every signal.
const (
	MatchByName   SignalMatcherKind = "by_name"
	MatchWildcard SignalMatcherKind = "wildcard"
)

// SignalMatcher selects signals by name.
type SignalMatcher struct {
	Kind SignalMatcherKind
	Name string // by_name (non-empty)
}

// ByName matches signals whose SignalName equals name.
func ByName(name string) SignalMatcher {
	return SignalMatcher{Kind: MatchByName, Name: name}
}

// Wildcard matches every signal.
func Wildcard() SignalMatcher {
	return SignalMatcher{Kind: MatchWildcard}
}

// ResumePolicy is accepted by Suspend for contract parity and has no
// effect in this backend.
type ResumePolicy struct {
	CloseWaitpointOnResume        bool
	ConsumeMatchedSignals         bool
	ResumeDelay                   time.Duration
	ResumeTarget                  ResumeTarget
	RetainSignalBufferUntilClosed bool
}

// NormalResumePolicy returns {runnable, consume matched, keep no buffer,
// no delay, close waitpoint on resume}.
func NormalResumePolicy() ResumePolicy {
	return ResumePolicy{
		CloseWaitpointOnResume:        true,
		ConsumeMatchedSignals:         true,
		ResumeDelay:                   0,
		ResumeTarget:                  ResumeTargetRunnable,
		RetainSignalBufferUntilClosed: false,
	}
}

// ResumeTarget is where a resumed execution goes.
type ResumeTarget string

// Resume targets.
const ResumeTargetRunnable ResumeTarget = "runnable"

// TimeoutBehavior says what a suspension timeout does.
type TimeoutBehavior string

// Timeout behaviours. The zero value means TimeoutFail.
const (
	TimeoutAutoResume TimeoutBehavior = "auto_resume_with_timeout_signal"
	TimeoutCancel     TimeoutBehavior = "cancel"
	TimeoutEscalate   TimeoutBehavior = "escalate"
	TimeoutExpire     TimeoutBehavior = "expire"
	TimeoutFail       TimeoutBehavior = "fail"
)

// SuspensionReasonCode says why an execution suspends.
type SuspensionReasonCode string

// Suspension reason codes.
const (
	ReasonManualPause              SuspensionReasonCode = "manual_pause"
	ReasonPausedByBudget           SuspensionReasonCode = "paused_by_budget"
	ReasonPausedByPolicy           SuspensionReasonCode = "paused_by_policy"
	ReasonStepBoundary             SuspensionReasonCode = "step_boundary"
	ReasonWaitingForApproval       SuspensionReasonCode = "waiting_for_approval"
	ReasonWaitingForCallback       SuspensionReasonCode = "waiting_for_callback"
	ReasonWaitingForOperatorReview SuspensionReasonCode = "waiting_for_operator_review"
	ReasonWaitingForSignal         SuspensionReasonCode = "waiting_for_signal"
	ReasonWaitingForToolResult     SuspensionReasonCode = "waiting_for_tool_result"
)

// SuspensionRequester says who asked for a suspension.
type SuspensionRequester string

// Suspension requesters. The zero value means SuspensionRequesterWorker.
const (
	SuspensionRequesterOperator      SuspensionRequester = "operator"
	SuspensionRequesterPolicy        SuspensionRequester = "policy"
	SuspensionRequesterSystemTimeout SuspensionRequester = "system_timeout_policy"
	SuspensionRequesterWorker        SuspensionRequester = "worker"
)

// SuspendOutcomeKind distinguishes Suspend results.
type SuspendOutcomeKind string

// Suspend result kinds.
const (
	// SuspendAlreadySatisfied: the only binding was a pending waitpoint
	// whose buffered signals already satisfy the condition; the execution
	// keeps its lease and the caller's handle stays valid.
	SuspendAlreadySatisfied SuspendOutcomeKind = "already_satisfied"
	// SuspendSuspended: the execution is suspended and the lease released.
	SuspendSuspended SuspendOutcomeKind = "suspended"
)

// SuspendOutcome is the outcome of Suspend and SuspendByTriple.
type SuspendOutcome struct {
	Details SuspendOutcomeDetails
	// Handle (suspended) has kind HandleSuspended and the pre-suspend epoch.
	Handle *Handle
	Kind   SuspendOutcomeKind
}

// SuspendOutcomeDetails identify the suspension and its waitpoints.
type SuspendOutcomeDetails struct {
	// AdditionalWaitpoints are the bindings after the first, in order.
	AdditionalWaitpoints []AdditionalWaitpointBinding
	SuspensionID         SuspensionID
	WaitpointID          WaitpointID // primary
	WaitpointKey         WaitpointKey
	WaitpointToken       WaitpointToken
}

// AdditionalWaitpointBinding is a non-primary waitpoint of a suspension.
type AdditionalWaitpointBinding struct {
	WaitpointID    WaitpointID
	WaitpointKey   WaitpointKey
	WaitpointToken WaitpointToken
}

// PendingWaitpoint is the result of CreateWaitpoint.
type PendingWaitpoint struct {
	HMACToken   WaitpointToken
	WaitpointID WaitpointID
}

// ResumeSignal is one signal recorded for the current or last suspension.
type ResumeSignal struct {
	AcceptedAt     time.Time
	CorrelationID  string
	Payload        []byte // nil = none
	SignalCategory string
	SignalID       SignalID
	SignalName     string
	SourceIdentity string
	SourceType     string
}

// DeliverSignalArgs are the inputs of DeliverSignal.
type DeliverSignalArgs struct {
	CorrelationID string
	CreatedAt     time.Time // ignored
	// DedupTTL is how long IdempotencyKey is remembered per waitpoint
	// (nil = DedupWindowDefault; 0 disables dedup).
	DedupTTL    *time.Duration
	ExecutionID ExecutionID
	// IdempotencyKey, when non-empty, makes a repeat within DedupTTL
	// return DeliverSignalDuplicate.
	IdempotencyKey         string
	MaxSignalsPerExecution uint64 // 0 = the execution policy's cap
	// Now stamps the signal and events (zero = backend clock).
	Now             time.Time
	Payload         []byte // nil = none
	PayloadEncoding string // ignored
	ResumeDelay     time.Duration
	SignalCategory  string
	SignalID        SignalID // caller-minted
	SignalMaxlen    uint64   // ignored
	SignalName      string
	SourceIdentity  string
	SourceType      string
	TargetScope     string // ignored
	WaitpointID     WaitpointID
	// WaitpointToken must be the token minted for this waitpoint
	// (verification and its errors: see WaitpointToken).
	WaitpointToken WaitpointToken
}

// DeliverSignalKind distinguishes DeliverSignal results.
type DeliverSignalKind string

// DeliverSignal result kinds.
const (
	DeliverSignalAccepted  DeliverSignalKind = "accepted"
	DeliverSignalDuplicate DeliverSignalKind = "duplicate"
)

// DeliverSignalEffect says what an accepted signal did.
type DeliverSignalEffect string

// Signal effects.
const (
	EffectAppendedToWaitpoint         DeliverSignalEffect = "appended_to_waitpoint"
	EffectBufferedForPendingWaitpoint DeliverSignalEffect = "buffered_for_pending_waitpoint"
	EffectResumeConditionSatisfied    DeliverSignalEffect = "resume_condition_satisfied"
)

// DeliverSignalResult is the outcome of DeliverSignal.
type DeliverSignalResult struct {
	Effect DeliverSignalEffect // accepted
	Kind   DeliverSignalKind
	// SignalID is the delivered signal (accepted) or the signal recorded by
	// the first delivery with the same idempotency key (duplicate).
	SignalID SignalID
}

// ClaimResumedExecutionArgs are the inputs of ClaimResumedExecution.
type ClaimResumedExecutionArgs struct {
	CurrentAttemptIndex     AttemptIndex // ignored (stored index is used)
	ExecutionID             ExecutionID
	LaneID                  LaneID  // copied into the handle
	LeaseID                 LeaseID // caller-minted, returned
	LeaseTTL                time.Duration
	Now                     time.Time     // ignored (backend clock)
	RemainingAttemptTimeout time.Duration // ignored
	WorkerID                WorkerID
	WorkerInstanceID        WorkerInstanceID
}

// ClaimResumedExecutionResult is a resumed execution leased to the caller,
// on the same attempt index it suspended on.
type ClaimResumedExecutionResult struct {
	AttemptID      AttemptID
	AttemptIndex   AttemptIndex
	ExecutionID    ExecutionID
	Handle         Handle // kind HandleResumed
	LeaseEpoch     LeaseEpoch
	LeaseExpiresAt time.Time
	LeaseID        LeaseID
}

// ListPendingWaitpointsArgs are the inputs of ListPendingWaitpoints.
type ListPendingWaitpointsArgs struct {
	// After is an exclusive cursor ("" = from the start).
	After       WaitpointID
	ExecutionID ExecutionID
	// Limit: 0 = 100; clamped to [1, 1000].
	Limit int
}

// ListPendingWaitpointsResult lists pending and active waitpoints of one
// execution by waitpoint id.
type ListPendingWaitpointsResult = Page[PendingWaitpointInfo, WaitpointID]

// WaitpointState is the state of a waitpoint.
type WaitpointState string

// Waitpoint states. A waitpoint is never deleted when it stops accepting
// signals: it is marked closed or expired and kept.
const (
	// WaitpointActive: bound to the execution's current suspension.
	WaitpointActive WaitpointState = "active"
	// WaitpointClosed: its suspension resumed (a satisfying signal or an
	// auto-resume timeout closes every open waitpoint of the execution) or
	// timed out, or an already-satisfied Suspend consumed it. DeliverSignal
	// to it returns ErrWaitpointClosed.
	WaitpointClosed WaitpointState = "closed"
	// WaitpointExpired: a pending waitpoint whose expiry passed before a
	// Suspend activated it, as marked by the pending-waitpoint expiry
	// scanner. DeliverSignal and a Suspend binding it with
	// UsePendingBinding return ErrPendingWaitpointExpired for it, and
	// already for a pending waitpoint past its expiry that the scanner has
	// not marked yet.
	WaitpointExpired WaitpointState = "expired"
	// WaitpointPending: made by CreateWaitpoint; buffers signals until a
	// Suspend activates it or it expires.
	WaitpointPending WaitpointState = "pending"
)

// PendingWaitpointInfo describes one waitpoint; the raw token is never
// returned.
type PendingWaitpointInfo struct {
	ActivatedAt time.Time // zero while pending
	CreatedAt   time.Time
	ExecutionID ExecutionID
	ExpiresAt   time.Time // zero = no expiry
	// RequiredSignalNames is empty for "any signal".
	RequiredSignalNames []string
	State               WaitpointState
	// TokenFingerprint is the first 16 hex digits of the token digest.
	TokenFingerprint string
	TokenKid         string
	WaitpointID      WaitpointID
	WaitpointKey     WaitpointKey
}

// SeedWaitpointHMACSecretArgs are the inputs of SeedWaitpointHMACSecret.
type SeedWaitpointHMACSecretArgs struct {
	// Kid is non-empty and has no ':'.
	Kid string
	// SecretHex is exactly 64 hex digits (a 256-bit key).
	SecretHex string
}

// SeedOutcomeKind distinguishes SeedWaitpointHMACSecret results.
type SeedOutcomeKind string

// Seed result kinds.
const (
	SeedAlreadySeeded SeedOutcomeKind = "already_seeded"
	SeedSeeded        SeedOutcomeKind = "seeded"
)

// SeedOutcome is the outcome of SeedWaitpointHMACSecret.
type SeedOutcome struct {
	Kid  string
	Kind SeedOutcomeKind
	// SameSecret (already_seeded) reports whether the stored secret equals
	// the given one.
	SameSecret bool
}

// RotateWaitpointHMACSecretAllArgs are the inputs of
// RotateWaitpointHMACSecretAll.
type RotateWaitpointHMACSecretAllArgs struct {
	// Grace is accepted and has no effect: tokens minted under an earlier
	// kid stay valid while their waitpoint exists.
	Grace        time.Duration
	NewKid       string
	NewSecretHex string
}

// RotateWaitpointHMACSecretAllResult has one entry per partition (exactly
// one, partition 0, in the SQLite backend).
type RotateWaitpointHMACSecretAllResult struct {
	Entries []RotateWaitpointHMACSecretAllEntry
}

// RotateWaitpointHMACSecretAllEntry is the rotation result of one
// partition: an outcome, or Err (for example ErrRotationConflict when the
// kid exists with a different secret).
type RotateWaitpointHMACSecretAllEntry struct {
	Err       error
	Outcome   RotateWaitpointHMACSecretOutcome
	Partition uint16
}

// RotateOutcomeKind distinguishes rotation outcomes.
type RotateOutcomeKind string

// Rotation outcome kinds.
const (
	// RotateNoop: the kid is already installed with the same secret (it is
	// not re-activated).
	RotateNoop RotateOutcomeKind = "noop"
	// RotateRotated: the new kid is installed and active.
	RotateRotated RotateOutcomeKind = "rotated"
)

// RotateWaitpointHMACSecretOutcome is one partition's rotation outcome.
type RotateWaitpointHMACSecretOutcome struct {
	GCCount uint32 // rotated; always 0 (no kid is ever deleted)
	// Kid is the new kid (rotated) or the already-installed kid (noop).
	Kid  string
	Kind RotateOutcomeKind
	// PreviousKid (rotated) is the kid that was active ("" on bootstrap).
	PreviousKid string
}
