package backend

import "time"

// Priority bounds: higher claims first; values are clamped into
// [PriorityMin, PriorityMax] at create time and by ChangePriority.
const (
	PriorityMax = 9000
	PriorityMin = 0
)

// Defaults applied when the corresponding field is zero / nil.
const (
	// DedupWindowDefault is how long an idempotency key (CreateExecution,
	// DeliverSignal) or a usage dedup key is remembered.
	DedupWindowDefault = 24 * time.Hour
	// MaxReclaimCountDefault caps reclaims per execution when
	// ExecutionPolicy.MaxReclaimCount is 0.
	MaxReclaimCountDefault = 100
	// MaxReplayCountDefault caps ReplayExecution per execution.
	MaxReplayCountDefault = 10
	// MaxRetriesDefault is used when RetryPolicy.MaxRetries is nil.
	MaxRetriesDefault = 3
	// MaxSignalsPerExecutionDefault caps signals accepted per execution.
	MaxSignalsPerExecutionDefault = 10000
	// ReclaimCapDefault caps ReclaimExecution when its MaxReclaimCount is 0.
	ReclaimCapDefault = 1000
)

// CreateExecutionArgs are the inputs of CreateExecution.
type CreateExecutionArgs struct {
	// CreatorIdentity records who submitted the execution.
	CreatorIdentity string
	// DelayUntil, when after now, creates the execution delayed: not
	// claimable before that time (zero = claimable now).
	DelayUntil time.Time
	// ExecutionDeadlineAt is the absolute deadline (zero = none); the
	// execution_deadline scanner expires executions past it.
	ExecutionDeadlineAt time.Time
	// ExecutionID is caller-minted (see NewExecutionID).
	ExecutionID ExecutionID
	// ExecutionKind is the handler label given back to workers.
	ExecutionKind string
	// IdempotencyKey, when non-empty, deduplicates submissions within the
	// policy's DedupWindow (default 24 h) per namespace: a repeat returns
	// CreateExecutionDuplicate with the first execution's id.
	IdempotencyKey string
	// InputPayload is the execution's input (nil and empty both store an
	// empty payload).
	InputPayload []byte
	// LaneID is the lane the execution is claimed from.
	LaneID LaneID
	// Namespace is the tenancy label.
	Namespace Namespace
	// Now is the creation time (zero = backend clock).
	Now time.Time
	// PayloadEncoding labels InputPayload (e.g. "json"); "" = unset.
	PayloadEncoding string
	// Policy is the execution policy (nil = all defaults).
	Policy *ExecutionPolicy
	// Priority orders claims (higher first; clamped to [0, 9000]).
	Priority int32
	// Tags are caller tags; keys must match
	// ^[a-z][a-z0-9_]*\.[a-z0-9_][a-z0-9_.]*$. The value of
	// "cairn.instance_id" is copied to events as their instance tag.
	Tags map[string]string
}

// CreateExecutionKind distinguishes CreateExecution results.
type CreateExecutionKind string

// CreateExecution result kinds.
const (
	CreateExecutionCreated   CreateExecutionKind = "created"
	CreateExecutionDuplicate CreateExecutionKind = "duplicate"
)

// CreateExecutionResult is the outcome of CreateExecution.
type CreateExecutionResult struct {
	// ExecutionID is the new execution (created) or the existing one
	// (duplicate: same id, or same idempotency key within the window).
	ExecutionID ExecutionID
	Kind        CreateExecutionKind
	// PublicState (created only) is PublicStateWaiting or
	// PublicStateDelayed.
	PublicState PublicState
}

// ExecutionPolicy is the per-execution policy, stored as JSON. Zero fields
// mean the documented default.
type ExecutionPolicy struct {
	// BudgetIDs are budgets charged by this execution; Claim does not lease
	// it while one of them is hard-breached (see BudgetStatus).
	BudgetIDs []BudgetID
	// DedupWindow overrides DedupWindowDefault for IdempotencyKey (0 = default).
	DedupWindow time.Duration
	// DelayUntil is informational (CreateExecutionArgs.DelayUntil governs).
	DelayUntil time.Time
	// FallbackPolicy lists provider/model fallbacks (nil = none; stored, not
	// interpreted by the backend).
	FallbackPolicy *FallbackPolicy
	// MaxReclaimCount caps reclaims (0 = MaxReclaimCountDefault); past it
	// the execution fails terminally.
	MaxReclaimCount uint32
	// MaxReplayCount caps ReplayExecution (0 = MaxReplayCountDefault).
	MaxReplayCount uint32
	// MaxSignalsPerExecution caps accepted signals (0 = default 10 000).
	MaxSignalsPerExecution uint32
	// Priority is informational (the column set by CreateExecutionArgs and
	// ChangePriority governs).
	Priority int32
	// QuotaPolicyID names the quota policy gating Claim ("" = none).
	QuotaPolicyID QuotaPolicyID
	// RetryPolicy governs Fail with a retryable class (nil = the defaults of
	// RetryPolicy: 3 retries, exponential 1 s × 2 up to 60 s).
	RetryPolicy *RetryPolicy
	// RoutingRequirements restricts which workers may claim (nil = any).
	RoutingRequirements *RoutingRequirements
	// StreamPolicy configures stream retention (nil = defaults).
	StreamPolicy *StreamPolicy
	// SuspensionPolicy sets suspension defaults (nil = defaults).
	SuspensionPolicy *SuspensionPolicy
	// TimeoutPolicy sets attempt timeout and deadline (nil = none).
	TimeoutPolicy *TimeoutPolicy
}

// RetryPolicy governs retries after Fail with a retryable FailureClass.
type RetryPolicy struct {
	// Backoff computes the delay before retry number r (0-based).
	Backoff Backoff
	// MaxRetries is the number of retries allowed (nil = MaxRetriesDefault;
	// 0 = never retry).
	MaxRetries *uint32
	// RetryableCategories is stored and echoed; not interpreted.
	RetryableCategories []string
}

// BackoffKind selects a backoff strategy.
type BackoffKind string

// Backoff strategies. The zero value means BackoffExponential.
const (
	BackoffExponential BackoffKind = "exponential"
	BackoffFixed       BackoffKind = "fixed"
)

// Backoff is the retry delay strategy. Exponential: delay for retry r is
// min(InitialDelay × Multiplier^r, MaxDelay) with defaults 1 s, 2.0, 60 s
// for zero fields. Fixed: Delay (0 = 1 s). Jitter is stored, not applied.
type Backoff struct {
	Delay        time.Duration // fixed
	InitialDelay time.Duration // exponential
	Jitter       bool          // exponential
	Kind         BackoffKind
	MaxDelay     time.Duration // exponential
	Multiplier   float64       // exponential
}

// FixedBackoff returns a fixed backoff of d.
func FixedBackoff(d time.Duration) Backoff {
	return Backoff{Kind: BackoffFixed, Delay: d}
}

// ExponentialBackoff returns an exponential backoff.
func ExponentialBackoff(initial, max time.Duration, multiplier float64) Backoff {
	return Backoff{Kind: BackoffExponential, InitialDelay: initial, MaxDelay: max, Multiplier: multiplier}
}

// TimeoutPolicy bounds an execution's running time.
type TimeoutPolicy struct {
	// AttemptTimeout: an attempt running longer is interrupted by the
	// attempt_timeout scanner (0 = none).
	AttemptTimeout time.Duration
	// ExecutionDeadline is a relative deadline (0 = none); stored, the
	// absolute CreateExecutionArgs.ExecutionDeadlineAt is what is enforced.
	ExecutionDeadline time.Duration
	// MaxReclaimCount: 0 = MaxReclaimCountDefault.
	MaxReclaimCount uint32
}

// SuspensionPolicy sets defaults for suspensions of this execution.
type SuspensionPolicy struct {
	// DefaultTimeout (0 = none).
	DefaultTimeout time.Duration
	// TimeoutBehavior ("" = TimeoutFail).
	TimeoutBehavior TimeoutBehavior
}

// FallbackPolicy lists fallback tiers in order.
type FallbackPolicy struct {
	Tiers []FallbackTier
}

// FallbackTier is one provider/model fallback.
type FallbackTier struct {
	Model    string
	Provider string
	Timeout  time.Duration // 0 = none
}

// RoutingRequirements restricts which workers may claim an execution.
type RoutingRequirements struct {
	// IsolationLevel is stored, not interpreted ("" = none).
	IsolationLevel string
	// PreferredLocality is stored, not interpreted ("" = none).
	PreferredLocality string
	// RequiredCapabilities must all appear (exact, case-sensitive) in the
	// claiming worker's CapabilitySet. Each token is non-empty, has no
	// comma, no byte <= 0x20 or 0x7F; at most 256 tokens and 4096 bytes
	// comma-joined (else ErrInvalidCapabilities).
	RequiredCapabilities []string
}

// StreamPolicy configures stream retention.
type StreamPolicy struct {
	DurabilityMode  string        // "" = "buffered"
	RetentionMaxlen uint64        // 0 = 10 000
	RetentionTTL    time.Duration // 0 = none
}

// CapabilitySet is what a worker offers; Claim matches it against each
// candidate's RequiredCapabilities.
type CapabilitySet struct {
	Tokens []string
}

// ClaimPolicy configures Claim.
type ClaimPolicy struct {
	// LeaseTTL is the lease length (stored in whole ms; Renew extends by it).
	LeaseTTL time.Duration
	// MaxWait, when > 0 and no work is available, makes Claim wait up to
	// MaxWait for work to appear (woken by commits in this process) before
	// returning nil. 0 = return immediately.
	MaxWait time.Duration
	// WorkerID and WorkerInstanceID identify the lease holder.
	WorkerID         WorkerID
	WorkerInstanceID WorkerInstanceID
}

// LeaseRenewal is the result of Renew.
type LeaseRenewal struct {
	// ExpiresAt is the new lease expiry (now + the handle's LeaseTTL).
	ExpiresAt time.Time
	// LeaseEpoch is unchanged by a renewal.
	LeaseEpoch LeaseEpoch
}

// FailureReason describes a failure reported by Fail.
type FailureReason struct {
	// Detail is optional opaque detail (nil = none); when non-empty its
	// UTF-8 text is recorded as the failure category.
	Detail []byte
	// Message is recorded as the last failure message.
	Message string
}

// FailureClass classifies a failure. Transient and InfraCrash are
// retryable (governed by the RetryPolicy); Permanent, Timeout and
// Cancelled are terminal. Unknown values are treated as Transient.
type FailureClass string

// Failure classes.
const (
	FailureCancelled  FailureClass = "cancelled"
	FailureInfraCrash FailureClass = "infra_crash"
	FailurePermanent  FailureClass = "permanent"
	FailureTimeout    FailureClass = "timeout"
	FailureTransient  FailureClass = "transient"
)

// FailOutcomeKind distinguishes Fail results.
type FailOutcomeKind string

// Fail result kinds.
const (
	FailRetryScheduled FailOutcomeKind = "retry_scheduled"
	FailTerminalFailed FailOutcomeKind = "terminal_failed"
)

// FailOutcome tells the worker whether a retry was scheduled.
type FailOutcome struct {
	// DelayUntil (retry_scheduled) is when the retry becomes claimable
	// (now when there is no backoff).
	DelayUntil time.Time
	Kind       FailOutcomeKind
}

// ExecutionSnapshot is the decoupled read model of one execution
// (DescribeExecution).
type ExecutionSnapshot struct {
	// BlockingDetail is free text ("" = none).
	BlockingDetail string
	// BlockingReason is "" when nothing blocks.
	BlockingReason BlockingReason
	CreatedAt      time.Time
	// CurrentAttempt is nil before the first claim.
	CurrentAttempt *AttemptSummary
	// CurrentLease is nil unless the execution is active and leased.
	CurrentLease *LeaseSummary
	// CurrentWaitpoint is the primary waitpoint of the current suspension
	// ("" = none).
	CurrentWaitpoint WaitpointID
	ExecutionID      ExecutionID
	// FlowID is "" for an execution outside any flow.
	FlowID         FlowID
	LaneID         LaneID
	LastMutationAt time.Time
	Namespace      Namespace
	PublicState    PublicState
	// Tags are the execution's tags.
	Tags map[string]string
	// TotalAttemptCount counts attempts ever created.
	TotalAttemptCount uint32
}

// AttemptSummary identifies the current attempt.
type AttemptSummary struct {
	AttemptID    AttemptID
	AttemptIndex AttemptIndex
}

// LeaseSummary describes a live lease.
type LeaseSummary struct {
	AttemptIndex AttemptIndex
	ExpiresAt    time.Time
	// LastHeartbeatAt is the last claim or renew (zero = unknown).
	LastHeartbeatAt  time.Time
	LeaseEpoch       LeaseEpoch
	LeaseID          LeaseID
	WorkerInstanceID WorkerInstanceID
}

// ExecutionContext is what a worker needs to run a claimed execution.
type ExecutionContext struct {
	ExecutionKind string
	// InputPayload is never nil (an absent payload reads as empty).
	InputPayload []byte
	Tags         map[string]string
}

// ExecutionInfo is the legacy full read shape (ReadExecutionInfo).
type ExecutionInfo struct {
	BlockingDetail string
	// CompletedAt is the terminal time (zero while in flight).
	CompletedAt         time.Time
	CreatedAt           time.Time
	CurrentAttemptIndex AttemptIndex
	ExecutionID         ExecutionID
	ExecutionKind       string
	// FlowID is "" for an execution outside any flow.
	FlowID      FlowID
	LaneID      LaneID
	Namespace   Namespace
	Priority    int32
	PublicState PublicState
	// StartedAt is the first claim (zero before it).
	StartedAt   time.Time
	StateVector StateVector
}

// CancelExecutionArgs are the inputs of CancelExecution (operator cancel).
type CancelExecutionArgs struct {
	// AttemptID is accepted and ignored.
	AttemptID   AttemptID
	ExecutionID ExecutionID
	// LeaseEpoch is required (non-zero) when Source is not
	// operator_override and a lease is live; a different epoch is
	// ErrStaleLease.
	LeaseEpoch LeaseEpoch
	// LeaseID is accepted and ignored.
	LeaseID LeaseID
	// Now stamps the cancellation (zero = backend clock).
	Now    time.Time
	Reason string
	// Source ("" = operator_override) is recorded as cancelled_by.
	Source CancelSource
}

// CancelExecutionResult is the outcome of CancelExecution (also returned,
// without writing, for an execution that is already cancelled).
type CancelExecutionResult struct {
	ExecutionID ExecutionID
	PublicState PublicState // always PublicStateCancelled
}

// RevokeLeaseArgs are the inputs of RevokeLease.
type RevokeLeaseArgs struct {
	ExecutionID ExecutionID
	// ExpectedLeaseID, when non-empty, must match the live lease.
	ExpectedLeaseID string
	// Reason is accepted, not stored.
	Reason string
	// WorkerInstanceID, when non-empty, must be the lease holder.
	WorkerInstanceID WorkerInstanceID
}

// RevokeLeaseKind distinguishes RevokeLease results.
type RevokeLeaseKind string

// RevokeLease result kinds.
const (
	RevokeLeaseAlreadySatisfied RevokeLeaseKind = "already_satisfied"
	RevokeLeaseRevoked          RevokeLeaseKind = "revoked"
)

// RevokeLeaseResult is the outcome of RevokeLease.
type RevokeLeaseResult struct {
	Kind RevokeLeaseKind
	// LeaseEpoch (revoked) is the new epoch (old + 1).
	LeaseEpoch LeaseEpoch
	// LeaseID (revoked) is the revoked lease's id.
	LeaseID string
	// Reason (already_satisfied) is one of "no_active_lease",
	// "different_worker_instance_id", "lease_id_mismatch", "epoch_moved".
	Reason string
}

// ChangePriorityArgs are the inputs of ChangePriority.
type ChangePriorityArgs struct {
	ExecutionID ExecutionID
	// LaneID is accepted and ignored.
	LaneID LaneID
	// NewPriority is clamped to [PriorityMin, PriorityMax].
	NewPriority int32
	Now         time.Time // zero = backend clock
}

// ChangePriorityResult is the outcome of ChangePriority.
type ChangePriorityResult struct {
	ExecutionID ExecutionID
}

// ReplayExecutionArgs are the inputs of ReplayExecution.
type ReplayExecutionArgs struct {
	ExecutionID ExecutionID
	Now         time.Time // zero = backend clock
}

// ReplayExecutionResult is the outcome of ReplayExecution.
type ReplayExecutionResult struct {
	// PublicState is PublicStateWaiting, or PublicStateWaitingChildren for
	// a skipped flow member whose dependencies are re-evaluated.
	PublicState PublicState
}

// SuspendedExecutionEntry is one row of ListSuspended.
type SuspendedExecutionEntry struct {
	ExecutionID ExecutionID
	// Reason is the suspension's reason code ("" = none).
	Reason      SuspensionReasonCode
	SuspendedAt time.Time
}

// Listing pages (see Page).
type (
	// ListExecutionsPage lists execution ids of one partition.
	ListExecutionsPage = Page[ExecutionID, ExecutionID]
	// ListLanesPage lists lanes that ever had an execution.
	ListLanesPage = Page[LaneID, LaneID]
	// ListSuspendedPage lists suspended executions of one partition.
	ListSuspendedPage = Page[SuspendedExecutionEntry, ExecutionID]
)
