package backend

import "time"

// ScanEligibleArgs are the inputs of ScanEligibleExecutions.
type ScanEligibleArgs struct {
	LaneID LaneID
	// Limit is the most ids returned (0 = none).
	Limit     int
	Partition Partition
}

// IssueClaimGrantArgs are the inputs of IssueClaimGrant (the scheduler's
// admission write for one execution).
type IssueClaimGrantArgs struct {
	AdmissionSummary string // stored ("" = none)
	CapabilityHash   string // stored ("" = none)
	ExecutionID      ExecutionID
	// GrantTTL is how long the grant may be consumed by ClaimExecution.
	GrantTTL time.Duration
	LaneID   LaneID
	// Now is bookkeeping only (zero = backend clock).
	Now time.Time
	// Partition must equal the execution id's partition.
	Partition         Partition
	RouteSnapshotJSON string // stored ("" = none)
	// WorkerCapabilities must cover the execution's required capabilities
	// (else ErrCapabilityMismatch, detail = the missing tokens).
	WorkerCapabilities []string
	WorkerID           WorkerID
	WorkerInstanceID   WorkerInstanceID
}

// IssueClaimGrantOutcome is the outcome of IssueClaimGrant.
type IssueClaimGrantOutcome struct {
	ExecutionID ExecutionID
}

// BlockRouteArgs are the inputs of BlockRoute.
type BlockRouteArgs struct {
	ExecutionID ExecutionID
	LaneID      LaneID
	Now         time.Time // zero = backend clock
	Partition   Partition
	// ReasonCode is stored as the blocking reason and sets the eligibility
	// state, from which the public state follows (see PublicState):
	// waiting_for_budget → blocked_by_budget and waiting_for_quota →
	// blocked_by_quota (rate_limited); waiting_for_capable_worker →
	// blocked_by_route, paused_by_operator → blocked_by_operator and
	// paused_by_policy → blocked_by_lane_state (waiting). Any other value
	// is rejected (invalid_blocking_reason).
	ReasonCode   BlockingReason
	ReasonDetail string
}

// BlockRouteKind distinguishes BlockRoute results.
type BlockRouteKind string

// BlockRoute result kinds.
const (
	BlockRouteBlocked  BlockRouteKind = "blocked"
	BlockRouteRejected BlockRouteKind = "rejected"
)

// BlockRouteOutcome is the outcome of BlockRoute. A logical rejection is a
// result, not an error.
type BlockRouteOutcome struct {
	ExecutionID ExecutionID // blocked
	Kind        BlockRouteKind
	// Message (rejected) is "execution_not_active",
	// "execution_not_eligible" or "invalid_blocking_reason".
	Message string
}

// ClaimExecutionArgs are the inputs of ClaimExecution (consume a claim
// grant issued by IssueClaimGrant).
type ClaimExecutionArgs struct {
	AttemptID AttemptID
	// AttemptPolicyJSON is stored on the attempt ("" = none).
	AttemptPolicyJSON string
	// AttemptTimeout is accepted and ignored.
	AttemptTimeout time.Duration
	// ExecutionDeadlineAt, when non-zero, replaces the stored deadline.
	ExecutionDeadlineAt  time.Time
	ExecutionID          ExecutionID
	ExpectedAttemptIndex AttemptIndex
	LaneID               LaneID
	LeaseID              LeaseID
	LeaseTTL             time.Duration
	// Now is used for grant expiry and lease times (zero = backend clock).
	Now              time.Time
	WorkerID         WorkerID
	WorkerInstanceID WorkerInstanceID
}

// ClaimExecutionResult is a claimed execution with its handle.
type ClaimExecutionResult struct {
	AttemptID      AttemptID
	AttemptIndex   AttemptIndex
	AttemptType    AttemptType
	ExecutionID    ExecutionID
	Handle         Handle // kind HandleFresh
	LeaseEpoch     LeaseEpoch
	LeaseExpiresAt time.Time
	LeaseID        LeaseID
}

// ClaimGrant is a scheduler-issued permission to claim one execution
// (ClaimForWorker; not produced by the SQLite backend).
type ClaimGrant struct {
	ExecutionID  ExecutionID
	ExpiresAt    time.Time
	GrantKey     string
	PartitionKey PartitionKey
}

// ClaimForWorkerArgs are the inputs of ClaimForWorker.
type ClaimForWorkerArgs struct {
	GrantTTL           time.Duration
	LaneID             LaneID
	WorkerCapabilities []string
	WorkerID           WorkerID
	WorkerInstanceID   WorkerInstanceID
}

// ClaimForWorkerKind distinguishes ClaimForWorker results.
type ClaimForWorkerKind string

// ClaimForWorker result kinds.
const (
	ClaimForWorkerGranted ClaimForWorkerKind = "granted"
	ClaimForWorkerNoWork  ClaimForWorkerKind = "no_work"
)

// ClaimForWorkerOutcome is the outcome of ClaimForWorker.
type ClaimForWorkerOutcome struct {
	Grant *ClaimGrant // granted
	Kind  ClaimForWorkerKind
}

// IssueReclaimGrantArgs are the inputs of IssueReclaimGrant.
type IssueReclaimGrantArgs struct {
	AdmissionSummary string // stored ("" = none)
	CapabilityHash   string // stored ("" = none)
	ExecutionID      ExecutionID
	GrantTTL         time.Duration
	// LaneID is recorded on the grant and becomes the reclaimed handle's lane.
	LaneID            LaneID
	Now               time.Time // bookkeeping only (zero = backend clock)
	RouteSnapshotJSON string    // stored ("" = none)
	// WorkerCapabilities must cover the execution's required capabilities
	// (else NotReclaimable with detail "capability_mismatch").
	WorkerCapabilities []string
	WorkerID           WorkerID
	WorkerInstanceID   WorkerInstanceID
}

// ReclaimGrant permits ReclaimExecution for one execution.
type ReclaimGrant struct {
	ExecutionID ExecutionID
	ExpiresAt   time.Time
	// GrantKey is the grant's UUID text.
	GrantKey     string
	LaneID       LaneID
	PartitionKey PartitionKey
}

// IssueReclaimGrantKind distinguishes IssueReclaimGrant results.
type IssueReclaimGrantKind string

// IssueReclaimGrant result kinds.
const (
	ReclaimGrantGranted            IssueReclaimGrantKind = "granted"
	ReclaimGrantNotReclaimable     IssueReclaimGrantKind = "not_reclaimable"
	ReclaimGrantReclaimCapExceeded IssueReclaimGrantKind = "reclaim_cap_exceeded"
)

// IssueReclaimGrantOutcome is the outcome of IssueReclaimGrant.
type IssueReclaimGrantOutcome struct {
	// Detail (not_reclaimable) says why, e.g.
	// "lifecycle_phase=terminal (expected active)".
	Detail      string
	ExecutionID ExecutionID
	Grant       *ReclaimGrant // granted
	Kind        IssueReclaimGrantKind
	// ReclaimCount (reclaim_cap_exceeded) is the execution's reclaim count.
	ReclaimCount uint32
}

// ReclaimExecutionArgs are the inputs of ReclaimExecution (consume the
// newest unexpired reclaim grant of the execution).
type ReclaimExecutionArgs struct {
	// AttemptID and LeaseID are caller-minted and embedded in the handle.
	AttemptID AttemptID
	// AttemptPolicyJSON is stored on the new attempt ("" = none).
	AttemptPolicyJSON string
	CapabilityHash    string // ignored
	// CurrentAttemptIndex is ignored (the stored index is authoritative).
	CurrentAttemptIndex AttemptIndex
	ExecutionID         ExecutionID
	// LaneID is the fallback lane when the grant has none.
	LaneID   LaneID
	LeaseID  LeaseID
	LeaseTTL time.Duration
	// MaxReclaimCount caps reclaims (0 = ReclaimCapDefault).
	MaxReclaimCount uint32
	// OldWorkerInstanceID is ignored.
	OldWorkerInstanceID WorkerInstanceID
	// WorkerID must equal the grant's worker (else ErrInvalidInput).
	WorkerID         WorkerID
	WorkerInstanceID WorkerInstanceID
}

// ReclaimExecutionKind distinguishes ReclaimExecution results.
type ReclaimExecutionKind string

// ReclaimExecution result kinds.
const (
	ReclaimClaimed            ReclaimExecutionKind = "claimed"
	ReclaimGrantNotFound      ReclaimExecutionKind = "grant_not_found"
	ReclaimNotReclaimable     ReclaimExecutionKind = "not_reclaimable"
	ReclaimReclaimCapExceeded ReclaimExecutionKind = "reclaim_cap_exceeded"
)

// ReclaimExecutionOutcome is the outcome of ReclaimExecution.
type ReclaimExecutionOutcome struct {
	Detail      string // not_reclaimable
	ExecutionID ExecutionID
	// Handle (claimed) is a HandleReclaimed handle on the new attempt.
	Handle       *Handle
	Kind         ReclaimExecutionKind
	ReclaimCount uint32 // reclaim_cap_exceeded
}

// ResumeGrant names a resumable execution for ClaimFromResumeGrant. The
// SQLite backend does not check GrantKey or ExpiresAt.
type ResumeGrant struct {
	ExecutionID  ExecutionID
	ExpiresAt    time.Time
	GrantKey     string
	LaneID       LaneID
	PartitionKey PartitionKey
}

// ResumeToken is the input of ClaimFromResumeGrant.
type ResumeToken struct {
	Grant            ResumeGrant
	LeaseTTL         time.Duration
	WorkerID         WorkerID
	WorkerInstanceID WorkerInstanceID
}

// CheckAdmissionArgs are the inputs of (*SQLiteBackend).CheckAdmission.
// The limits come from the arguments, not from the stored policy.
type CheckAdmissionArgs struct {
	// ConcurrencyCap: 0 = no concurrency limit.
	ConcurrencyCap uint64
	ExecutionID    ExecutionID
	// Jitter is added to RetryAfter when the rate is exceeded.
	Jitter time.Duration
	Now    time.Time // zero = backend clock
	// RateLimit is admissions per Window (0 = no rate limit).
	RateLimit uint64
	// Window is the sliding window (stored in whole seconds).
	Window time.Duration
}

// CheckAdmissionKind distinguishes CheckAdmission results.
type CheckAdmissionKind string

// CheckAdmission result kinds.
const (
	AdmissionAdmitted            CheckAdmissionKind = "admitted"
	AdmissionAlreadyAdmitted     CheckAdmissionKind = "already_admitted"
	AdmissionConcurrencyExceeded CheckAdmissionKind = "concurrency_exceeded"
	AdmissionRateExceeded        CheckAdmissionKind = "rate_exceeded"
)

// CheckAdmissionResult is the outcome of CheckAdmission.
type CheckAdmissionResult struct {
	Kind CheckAdmissionKind
	// RetryAfter (rate_exceeded) is when the oldest admission leaves the
	// window, plus Jitter.
	RetryAfter time.Duration
}
