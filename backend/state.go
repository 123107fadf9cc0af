package backend

// PublicState is the externally visible state of an execution. One
// function derives it from the other state dimensions, in the same
// transaction as every change to them:
//
//   - terminal: by TerminalOutcome — success → completed, failed → failed,
//     cancelled → cancelled, expired → expired, skipped → skipped;
//   - suspended → suspended; active → active; submitted → waiting;
//   - runnable, by EligibilityState: eligible_now → waiting;
//     not_eligible_until_time → delayed; blocked_by_dependencies →
//     waiting_children; blocked_by_budget and blocked_by_quota →
//     rate_limited; blocked_by_route, blocked_by_operator,
//     blocked_by_lane_state and not_applicable → waiting.
//
// Resumable is the one stored exception: it is set when a signal satisfies
// a suspension's resume condition and holds until ClaimResumedExecution.
type PublicState string

// Public states.
const (
	PublicStateActive          PublicState = "active"
	PublicStateCancelled       PublicState = "cancelled"
	PublicStateCompleted       PublicState = "completed"
	PublicStateDelayed         PublicState = "delayed"
	PublicStateExpired         PublicState = "expired"
	PublicStateFailed          PublicState = "failed"
	PublicStateRateLimited     PublicState = "rate_limited"
	PublicStateResumable       PublicState = "resumable"
	PublicStateSkipped         PublicState = "skipped"
	PublicStateSuspended       PublicState = "suspended"
	PublicStateWaiting         PublicState = "waiting"
	PublicStateWaitingChildren PublicState = "waiting_children"
)

// LifecyclePhase is the coarse lifecycle of an execution.
type LifecyclePhase string

// Lifecycle phases.
const (
	PhaseActive    LifecyclePhase = "active"
	PhaseRunnable  LifecyclePhase = "runnable"
	PhaseSubmitted LifecyclePhase = "submitted"
	PhaseSuspended LifecyclePhase = "suspended"
	PhaseTerminal  LifecyclePhase = "terminal"
)

// OwnershipState says who holds the execution's lease.
type OwnershipState string

// Ownership states.
const (
	OwnershipLeaseExpiredReclaimable OwnershipState = "lease_expired_reclaimable"
	OwnershipLeaseRevoked            OwnershipState = "lease_revoked"
	OwnershipLeased                  OwnershipState = "leased"
	OwnershipUnowned                 OwnershipState = "unowned"
)

// EligibilityState says whether a runnable execution may be claimed now.
type EligibilityState string

// Eligibility states.
const (
	EligibilityBlockedByBudget       EligibilityState = "blocked_by_budget"
	EligibilityBlockedByDependencies EligibilityState = "blocked_by_dependencies"
	EligibilityBlockedByLaneState    EligibilityState = "blocked_by_lane_state"
	EligibilityBlockedByOperator     EligibilityState = "blocked_by_operator"
	EligibilityBlockedByQuota        EligibilityState = "blocked_by_quota"
	EligibilityBlockedByRoute        EligibilityState = "blocked_by_route"
	EligibilityEligibleNow           EligibilityState = "eligible_now"
	EligibilityNotApplicable         EligibilityState = "not_applicable"
	EligibilityNotEligibleUntilTime  EligibilityState = "not_eligible_until_time"
)

// BlockingReason says what a non-running execution is waiting for.
type BlockingReason string

// Blocking reasons.
const (
	BlockingNone                    BlockingReason = "none"
	BlockingPausedByFlowCancel      BlockingReason = "paused_by_flow_cancel"
	BlockingPausedByOperator        BlockingReason = "paused_by_operator"
	BlockingPausedByPolicy          BlockingReason = "paused_by_policy"
	BlockingWaitingForApproval      BlockingReason = "waiting_for_approval"
	BlockingWaitingForBudget        BlockingReason = "waiting_for_budget"
	BlockingWaitingForCallback      BlockingReason = "waiting_for_callback"
	BlockingWaitingForCapableWorker BlockingReason = "waiting_for_capable_worker"
	BlockingWaitingForChildren      BlockingReason = "waiting_for_children"
	BlockingWaitingForDelay         BlockingReason = "waiting_for_delay"
	BlockingWaitingForLocalityMatch BlockingReason = "waiting_for_locality_match"
	BlockingWaitingForQuota         BlockingReason = "waiting_for_quota"
	BlockingWaitingForResumeDelay   BlockingReason = "waiting_for_resume_delay"
	BlockingWaitingForRetryBackoff  BlockingReason = "waiting_for_retry_backoff"
	BlockingWaitingForSignal        BlockingReason = "waiting_for_signal"
	BlockingWaitingForToolResult    BlockingReason = "waiting_for_tool_result"
	BlockingWaitingForWorker        BlockingReason = "waiting_for_worker"
)

// TerminalOutcome is how a terminal execution ended (none while not
// terminal).
type TerminalOutcome string

// Terminal outcomes.
const (
	OutcomeCancelled TerminalOutcome = "cancelled"
	OutcomeExpired   TerminalOutcome = "expired"
	OutcomeFailed    TerminalOutcome = "failed"
	OutcomeNone      TerminalOutcome = "none"
	OutcomeSkipped   TerminalOutcome = "skipped"
	OutcomeSuccess   TerminalOutcome = "success"
)

// AttemptState is the state of the execution's current attempt.
type AttemptState string

// Attempt states.
const (
	AttemptStateAttemptInterrupted   AttemptState = "attempt_interrupted"
	AttemptStateAttemptTerminal      AttemptState = "attempt_terminal"
	AttemptStateNone                 AttemptState = "none"
	AttemptStatePendingFirstAttempt  AttemptState = "pending_first_attempt"
	AttemptStatePendingReplayAttempt AttemptState = "pending_replay_attempt"
	AttemptStatePendingRetryAttempt  AttemptState = "pending_retry_attempt"
	AttemptStateRunningAttempt       AttemptState = "running_attempt"
)

// AttemptType says why an attempt was created.
type AttemptType string

// Attempt types.
const (
	AttemptTypeFallback AttemptType = "fallback"
	AttemptTypeInitial  AttemptType = "initial"
	AttemptTypeReclaim  AttemptType = "reclaim"
	AttemptTypeReplay   AttemptType = "replay"
	AttemptTypeRetry    AttemptType = "retry"
)

// StateVector is the full state of an execution. Reads normalise the
// stored literals (for example a stored "running" reads as
// PublicStateActive); an unknown literal is ErrCorruption.
type StateVector struct {
	AttemptState     AttemptState
	BlockingReason   BlockingReason // BlockingNone when nothing blocks
	EligibilityState EligibilityState
	LifecyclePhase   LifecyclePhase
	OwnershipState   OwnershipState
	PublicState      PublicState
	TerminalOutcome  TerminalOutcome // OutcomeNone unless LifecyclePhase is terminal
}

// CancelSource says who cancels an execution. Any other string is a
// custom source (recorded verbatim as cancelled_by).
type CancelSource string

// Cancel sources. The zero value means CancelSourceOperatorOverride.
const (
	CancelSourceFlowCascade      CancelSource = "flow_cascade"
	CancelSourceLeaseHolder      CancelSource = "lease_holder"
	CancelSourceOperatorOverride CancelSource = "operator_override"
	CancelSourceSystemTimeout    CancelSource = "system_timeout"
)
