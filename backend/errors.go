package backend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Kind is the top-level error category.
type Kind string

// Error kinds.
const (
	// KindBackend: construction errors (dev-mode guard, connect, migrate).
	KindBackend Kind = "backend"
	// KindBug: an internal invariant was violated.
	KindBug Kind = "bug"
	// KindConflict: the request conflicts with existing state.
	KindConflict Kind = "conflict"
	// KindContention: a race or ownership conflict; retrying may succeed.
	KindContention Kind = "contention"
	// KindNotFound: a named entity does not exist (Error.Entity says which).
	KindNotFound Kind = "not_found"
	// KindResourceExhausted: a pool or limit is exhausted; retry later.
	KindResourceExhausted Kind = "resource_exhausted"
	// KindState: the operation is not valid in the current state.
	KindState Kind = "state"
	// KindStreamBackpressure: events were dropped (never emitted by SQLite).
	KindStreamBackpressure Kind = "stream_backpressure"
	// KindStreamDisconnected: reconnect with Error.Cursor (never emitted by
	// SQLite).
	KindStreamDisconnected Kind = "stream_disconnected"
	// KindTimeout: an operation exceeded its time budget.
	KindTimeout Kind = "timeout"
	// KindTransport: a storage/driver fault (Error.Err is the cause),
	// including busy/locked after the internal retries.
	KindTransport Kind = "transport"
	// KindUnavailable: the operation is not supported (Error.Op names it).
	KindUnavailable Kind = "unavailable"
	// KindValidation: the input is invalid, or stored data is corrupt.
	KindValidation Kind = "validation"
)

// SubKind refines a Kind (snake_case names of the engine taxonomy).
type SubKind string

// Validation sub-kinds.
const (
	SubKindBudgetOverrideNotAllowed     SubKind = "budget_override_not_allowed"
	SubKindCapabilityMismatch           SubKind = "capability_mismatch"
	SubKindCorruption                   SubKind = "corruption"
	SubKindHandleFromOtherBackend       SubKind = "handle_from_other_backend"
	SubKindInvalidBlockingReason        SubKind = "invalid_blocking_reason"
	SubKindInvalidBudgetScope           SubKind = "invalid_budget_scope"
	SubKindInvalidCapabilities          SubKind = "invalid_capabilities"
	SubKindInvalidDependency            SubKind = "invalid_dependency"
	SubKindInvalidFrameType             SubKind = "invalid_frame_type"
	SubKindInvalidGraceMs               SubKind = "invalid_grace_ms"
	SubKindInvalidInput                 SubKind = "invalid_input"
	SubKindInvalidKid                   SubKind = "invalid_kid"
	SubKindInvalidLeaseForSuspend       SubKind = "invalid_lease_for_suspend"
	SubKindInvalidOffset                SubKind = "invalid_offset"
	SubKindInvalidPolicyJSON            SubKind = "invalid_policy_json"
	SubKindInvalidQuotaSpec             SubKind = "invalid_quota_spec"
	SubKindInvalidSecretHex             SubKind = "invalid_secret_hex"
	SubKindInvalidTagKey                SubKind = "invalid_tag_key"
	SubKindInvalidToken                 SubKind = "invalid_token"
	SubKindInvalidWaitpointForExecution SubKind = "invalid_waitpoint_for_execution"
	SubKindInvalidWaitpointKey          SubKind = "invalid_waitpoint_key"
	SubKindPayloadTooLarge              SubKind = "payload_too_large"
	SubKindRetentionLimitExceeded       SubKind = "retention_limit_exceeded"
	SubKindSignalLimitExceeded          SubKind = "signal_limit_exceeded"
	SubKindUnauthorized                 SubKind = "unauthorized"
	SubKindWaitpointNotTokenBound       SubKind = "waitpoint_not_token_bound"
)

// Validation sub-kinds of the flow membership and edge checks
// (AddExecutionToFlow, StageDependencyEdge); Detail keeps the spec's code
// ("self_referencing_edge", "already_member_of_different_flow:<flow uuid>",
// "flow_already_terminal", "execution_not_in_flow").
const (
	SubKindExecutionAlreadyInFlow SubKind = "execution_already_in_flow"
	SubKindExecutionNotInFlow     SubKind = "execution_not_in_flow"
	SubKindFlowAlreadyTerminal    SubKind = "flow_already_terminal"
	SubKindSelfReferencingEdge    SubKind = "self_referencing_edge"
)

// Contention sub-kinds.
const (
	SubKindClaimGrantExpired               SubKind = "claim_grant_expired"
	SubKindConcurrencyLimitExceeded        SubKind = "concurrency_limit_exceeded"
	SubKindExecutionNotActive              SubKind = "execution_not_active"
	SubKindExecutionNotEligible            SubKind = "execution_not_eligible"
	SubKindExecutionNotInEligibleSet       SubKind = "execution_not_in_eligible_set"
	SubKindExecutionNotLeaseable           SubKind = "execution_not_leaseable"
	SubKindExecutionNotReclaimable         SubKind = "execution_not_reclaimable"
	SubKindInvalidClaimGrant               SubKind = "invalid_claim_grant"
	SubKindLeaseConflict                   SubKind = "lease_conflict"
	SubKindNoActiveLease                   SubKind = "no_active_lease"
	SubKindNoEligibleExecution             SubKind = "no_eligible_execution"
	SubKindNotAResumedExecution            SubKind = "not_a_resumed_execution"
	SubKindRateLimitExceeded               SubKind = "rate_limit_exceeded"
	SubKindRetryExhausted                  SubKind = "retry_exhausted"
	SubKindStaleGraphRevision              SubKind = "stale_graph_revision"
	SubKindUseClaimResumedExecution        SubKind = "use_claim_resumed_execution"
	SubKindWaitpointNotFound               SubKind = "waitpoint_not_found"
	SubKindWaitpointPendingUseBufferScript SubKind = "waitpoint_pending_use_buffer_script"
)

// Conflict sub-kinds.
const (
	SubKindActiveAttemptExists     SubKind = "active_attempt_exists"
	SubKindBudgetAttachConflict    SubKind = "budget_attach_conflict"
	SubKindCycleDetected           SubKind = "cycle_detected"
	SubKindDependencyAlreadyExists SubKind = "dependency_already_exists"
	SubKindQuotaAttachConflict     SubKind = "quota_attach_conflict"
	SubKindRotationConflict        SubKind = "rotation_conflict"
	SubKindWaitpointAlreadyExists  SubKind = "waitpoint_already_exists"
)

// State sub-kinds.
const (
	SubKindAlreadySatisfied               SubKind = "already_satisfied"
	SubKindAlreadySuspended               SubKind = "already_suspended"
	SubKindAttemptAlreadyTerminal         SubKind = "attempt_already_terminal"
	SubKindAttemptNotStarted              SubKind = "attempt_not_started"
	SubKindBudgetExceeded                 SubKind = "budget_exceeded"
	SubKindBudgetSoftExceeded             SubKind = "budget_soft_exceeded"
	SubKindDepsNotSatisfied               SubKind = "deps_not_satisfied"
	SubKindDuplicateSignal                SubKind = "duplicate_signal"
	SubKindExecutionNotEligibleForAttempt SubKind = "execution_not_eligible_for_attempt"
	SubKindExecutionNotSuspended          SubKind = "execution_not_suspended"
	SubKindExecutionNotTerminal           SubKind = "execution_not_terminal"
	SubKindGrantAlreadyExists             SubKind = "grant_already_exists"
	SubKindLeaseExpired                   SubKind = "lease_expired"
	SubKindLeaseRevoked                   SubKind = "lease_revoked"
	SubKindMaxReplaysExhausted            SubKind = "max_replays_exhausted"
	SubKindMaxRetriesExhausted            SubKind = "max_retries_exhausted"
	SubKindNotBlockedByDeps               SubKind = "not_blocked_by_deps"
	SubKindNotRunnable                    SubKind = "not_runnable"
	SubKindOKAlreadyApplied               SubKind = "ok_already_applied"
	SubKindPendingWaitpointExpired        SubKind = "pending_waitpoint_expired"
	SubKindReplayNotAllowed               SubKind = "replay_not_allowed"
	SubKindResumeConditionNotMet          SubKind = "resume_condition_not_met"
	SubKindStaleLease                     SubKind = "stale_lease"
	SubKindStaleOwnerCannotAppend         SubKind = "stale_owner_cannot_append"
	SubKindStreamAlreadyClosed            SubKind = "stream_already_closed"
	SubKindStreamClosed                   SubKind = "stream_closed"
	SubKindTargetNotSignalable            SubKind = "target_not_signalable"
	SubKindTerminal                       SubKind = "terminal"
	SubKindWaitpointClosed                SubKind = "waitpoint_closed"
	SubKindWaitpointNotOpen               SubKind = "waitpoint_not_open"
	SubKindWaitpointNotPending            SubKind = "waitpoint_not_pending"
)

// Bug sub-kinds.
const SubKindAttemptNotInCreatedState SubKind = "attempt_not_in_created_state"

// Backend (construction) sub-kinds.
const (
	SubKindBackendAuth            SubKind = "auth"
	SubKindBackendBusyLoading     SubKind = "busy_loading"
	SubKindBackendCluster         SubKind = "cluster"
	SubKindBackendOther           SubKind = "other"
	SubKindBackendProtocol        SubKind = "protocol"
	SubKindBackendScriptNotLoaded SubKind = "script_not_loaded"
	SubKindBackendTimeout         SubKind = "timeout"
	SubKindBackendTransport       SubKind = "transport"
	SubKindRequiresDevMode        SubKind = "requires_dev_mode"
)

// Entities named by KindNotFound errors (Error.Entity).
const (
	EntityAttempt    = "attempt"
	EntityBudget     = "budget"
	EntityExecution  = "execution"
	EntityFlow       = "flow"
	EntitySuspension = "suspension"
	EntityWaitpoint  = "waitpoint"
)

// RequiresDevModeMessage is the exact Error() text of ErrRequiresDevMode.
const RequiresDevModeMessage = "SqliteBackend requires FF_DEV_MODE=1 to activate. SQLite is dev-only; see https://github.com/avifenesh/FlowFabric/blob/main/docs/dev-harness.md for details."

// Error is the one error type of the package. Every error a backend method
// returns is an *Error or wraps one (context errors from a cancelled ctx
// are returned as is). Fields other than Kind are set only where noted.
type Error struct {
	// Backend is the backend label of a transport error ("sqlite").
	Backend string
	// Cursor is the resume cursor of KindStreamDisconnected.
	Cursor EventCursor
	// Detail is the human-readable detail (validation, backend, and extra
	// context on others). Only details quoted in the spec are contractual.
	Detail string
	// Elapsed is the time spent (KindTimeout).
	Elapsed time.Duration
	// Entity is what was not found (KindNotFound; see the Entity constants).
	Entity string
	// Err is the wrapped cause (transport, backend); returned by Unwrap.
	Err error
	// Existing is the already-stored edge (dependency_already_exists).
	Existing *EdgeSnapshot
	// Kid is the conflicting key id (rotation_conflict).
	Kid  string
	Kind Kind
	// Max is the pool size (KindResourceExhausted).
	Max uint32
	// NotActive describes the execution (execution_not_active).
	NotActive *ExecutionNotActiveInfo
	// Op names the operation (KindUnavailable, KindTimeout), e.g.
	// "claim_for_worker".
	Op string
	// Pool names the exhausted pool (KindResourceExhausted).
	Pool string
	// RetryAfter hints when to retry (KindResourceExhausted; 0 = unknown).
	RetryAfter time.Duration
	// SubKind refines Kind ("" for kinds without sub-kinds).
	SubKind SubKind
}

// ExecutionNotActiveInfo is the payload of execution_not_active.
type ExecutionNotActiveInfo struct {
	AttemptID       string
	LeaseEpoch      string
	LifecyclePhase  string
	TerminalOutcome string
}

// Error renders "<kind>: <sub_kind>: <detail>" style text, for example
// "validation: handle_from_other_backend: expected=Sqlite actual=Valkey",
// "not found: execution", "transport (sqlite): <cause>",
// "unavailable: claim_for_worker". ErrRequiresDevMode renders
// exactly RequiresDevModeMessage.
func (e *Error) Error() string {
	if e == nil {
		return "<nil>"
	}
	// The dev-mode refusal text is contractual (spec 01 §1.2), whatever
	// else the value carries.
	if e.Kind == KindBackend && e.SubKind == SubKindRequiresDevMode {
		return RequiresDevModeMessage
	}
	var b strings.Builder
	switch e.Kind {
	case KindNotFound:
		b.WriteString("not found")
		if e.Entity != "" {
			b.WriteString(": " + e.Entity)
		}
	case KindTransport:
		b.WriteString("transport")
		if e.Backend != "" {
			b.WriteString(" (" + e.Backend + ")")
		}
	case KindUnavailable:
		b.WriteString("unavailable")
		if e.Op != "" {
			b.WriteString(": " + e.Op)
		}
	case KindResourceExhausted:
		fmt.Fprintf(&b, "resource exhausted: pool=%s max=%d", e.Pool, e.Max)
		if e.RetryAfter > 0 {
			fmt.Fprintf(&b, " retry_after=%s", e.RetryAfter)
		}
	case KindTimeout:
		fmt.Fprintf(&b, "timeout: op=%s elapsed=%s", e.Op, e.Elapsed)
	case KindStreamDisconnected:
		b.WriteString("stream disconnected; reconnect with returned cursor")
	case KindStreamBackpressure:
		b.WriteString("stream backpressure; events dropped")
	default:
		b.WriteString(string(cmp.Or(e.Kind, "error")))
		if e.SubKind != "" {
			b.WriteString(": " + string(e.SubKind))
		}
	}
	if e.Kid != "" {
		b.WriteString(": kid=" + e.Kid)
	}
	tail := e.Detail
	if e.Err != nil {
		// Construction errors carry the cause both in Detail (the spec's
		// message ends with it) and in Err; print it once.
		if cause := e.Err.Error(); tail == "" {
			tail = cause
		} else if !strings.HasSuffix(tail, cause) {
			tail += ": " + cause
		}
	}
	if tail != "" {
		b.WriteString(": " + tail)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Err
}

// Is reports whether target is an *Error that e matches: equal Kind, and
// for each of SubKind, Entity and Op either empty in target or equal.
// Sentinels are such partial *Error values, so
// errors.Is(err, ErrStaleLease) is true for any error chain containing an
// *Error{Kind: KindState, SubKind: SubKindStaleLease}, and
// errors.Is(err, ErrState) for any State error: kind sentinels (ErrState,
// ErrValidation, ErrInvalidInput, ...) set no SubKind. A one-off target
// works too: errors.Is(err, &Error{Kind: KindNotFound, Entity:
// EntityAttempt}).
// Detail is never compared.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t == nil || e == nil {
		return false
	}
	return t.Kind == e.Kind &&
		(t.SubKind == "" || t.SubKind == e.SubKind) &&
		(t.Entity == "" || t.Entity == e.Entity) &&
		(t.Op == "" || t.Op == e.Op)
}

// Class returns how a caller should react to e.
func (e *Error) Class() ErrorClass {
	if e == nil {
		return ""
	}
	// Table of spec 01 §5.2 (original: ff-core engine_error.rs class()).
	switch e.Kind {
	case KindContention, KindResourceExhausted:
		return ClassRetryable
	case KindBug:
		return ClassBug
	case KindStreamBackpressure:
		return ClassInformational
	case KindState:
		switch e.SubKind {
		case SubKindBudgetExceeded:
			return ClassCooperative
		case SubKindExecutionNotSuspended, SubKindAlreadySuspended, SubKindAlreadySatisfied,
			SubKindWaitpointClosed, SubKindDuplicateSignal, SubKindGrantAlreadyExists,
			SubKindOKAlreadyApplied, SubKindAttemptAlreadyTerminal, SubKindStreamAlreadyClosed,
			SubKindBudgetSoftExceeded, SubKindWaitpointNotOpen, SubKindWaitpointNotPending,
			SubKindPendingWaitpointExpired, SubKindNotBlockedByDeps, SubKindDepsNotSatisfied:
			return ClassInformational
		}
		return ClassTerminal
	case KindBackend:
		// Retryable construction kinds per spec 01 §5.3; requires_dev_mode
		// classifies as protocol, which is terminal.
		switch e.SubKind {
		case SubKindBackendTransport, SubKindBackendTimeout, SubKindBackendCluster, SubKindBackendBusyLoading:
			return ClassRetryable
		}
		return ClassTerminal
	}
	return ClassTerminal
}

// ErrorClass says how a caller should react to an error.
type ErrorClass string

// Error classes.
const (
	ClassAdvisory      ErrorClass = "advisory"
	ClassBug           ErrorClass = "bug"
	ClassCooperative   ErrorClass = "cooperative"
	ClassExpected      ErrorClass = "expected"
	ClassInformational ErrorClass = "informational"
	ClassRetryable     ErrorClass = "retryable"
	ClassSoftError     ErrorClass = "soft_error"
	ClassTerminal      ErrorClass = "terminal"
)

// ClassOf returns the class of the first *Error in err's chain; "" for a
// nil err, ClassTerminal for errors that are not *Error.
func ClassOf(err error) ErrorClass {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e.Class()
	}
	return ClassTerminal
}

// Retryable reports whether retrying the same call may succeed (class
// retryable: contention, resource exhausted, retryable backend kinds).
// Transport is not retryable at this layer: busy/locked faults were
// already retried internally.
func Retryable(err error) bool {
	return ClassOf(err) == ClassRetryable
}

// BusyRetryMaxAttempts is how many times a write transaction is attempted
// when SQLite reports BUSY or LOCKED (sleeping 5 ms, then 10 ms).
const BusyRetryMaxAttempts = 3

// IsRetryableBusy reports whether err's chain holds a driver error whose
// SQLite result code has primary code BUSY (5) or LOCKED (6).
func IsRetryableBusy(err error) bool {
	// errors.As walks through *Error (its Unwrap returns the driver cause)
	// and fmt.Errorf wrapping alike.
	var se *sqlite.Error
	if !errors.As(err, &se) || se == nil {
		return false
	}
	switch se.Code() & 0xff { // primary result code; extended codes share it
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// Kind sentinels: errors.Is(err, ErrState) matches any State error.
var (
	ErrBackend            = &Error{Kind: KindBackend}
	ErrBug                = &Error{Kind: KindBug}
	ErrConflict           = &Error{Kind: KindConflict}
	ErrContention         = &Error{Kind: KindContention}
	ErrNotFound           = &Error{Kind: KindNotFound}
	ErrResourceExhausted  = &Error{Kind: KindResourceExhausted}
	ErrState              = &Error{Kind: KindState}
	ErrStreamBackpressure = &Error{Kind: KindStreamBackpressure}
	ErrStreamDisconnected = &Error{Kind: KindStreamDisconnected}
	ErrTimeout            = &Error{Kind: KindTimeout}
	ErrTransport          = &Error{Kind: KindTransport}
	ErrUnavailable        = &Error{Kind: KindUnavailable}
	ErrValidation         = &Error{Kind: KindValidation}
)

// ErrRequiresDevMode is returned by every constructor unless FF_DEV_MODE
// is exactly "1".
var ErrRequiresDevMode = &Error{Kind: KindBackend, SubKind: SubKindRequiresDevMode}

// ErrInvalidInput matches every Validation error: it sets no SubKind (it is
// equivalent to ErrValidation). Input that fails a check without a more
// specific sentinel is reported with SubKindInvalidInput; a check that has
// one (ErrSelfReferencingEdge, ErrInvalidToken, ...) reports that sub-kind,
// which errors.Is against the specific sentinel tells apart.
var ErrInvalidInput = &Error{Kind: KindValidation}

// Validation sentinels (each also matches ErrInvalidInput).
var (
	ErrBudgetOverrideNotAllowed     = &Error{Kind: KindValidation, SubKind: SubKindBudgetOverrideNotAllowed}
	ErrCapabilityMismatch           = &Error{Kind: KindValidation, SubKind: SubKindCapabilityMismatch}
	ErrCorruption                   = &Error{Kind: KindValidation, SubKind: SubKindCorruption}
	ErrHandleFromOtherBackend       = &Error{Kind: KindValidation, SubKind: SubKindHandleFromOtherBackend}
	ErrInvalidBlockingReason        = &Error{Kind: KindValidation, SubKind: SubKindInvalidBlockingReason}
	ErrInvalidBudgetScope           = &Error{Kind: KindValidation, SubKind: SubKindInvalidBudgetScope}
	ErrInvalidCapabilities          = &Error{Kind: KindValidation, SubKind: SubKindInvalidCapabilities}
	ErrInvalidDependency            = &Error{Kind: KindValidation, SubKind: SubKindInvalidDependency}
	ErrInvalidFrameType             = &Error{Kind: KindValidation, SubKind: SubKindInvalidFrameType}
	ErrInvalidGraceMs               = &Error{Kind: KindValidation, SubKind: SubKindInvalidGraceMs}
	ErrInvalidKid                   = &Error{Kind: KindValidation, SubKind: SubKindInvalidKid}
	ErrInvalidLeaseForSuspend       = &Error{Kind: KindValidation, SubKind: SubKindInvalidLeaseForSuspend}
	ErrInvalidOffset                = &Error{Kind: KindValidation, SubKind: SubKindInvalidOffset}
	ErrInvalidPolicyJSON            = &Error{Kind: KindValidation, SubKind: SubKindInvalidPolicyJSON}
	ErrInvalidQuotaSpec             = &Error{Kind: KindValidation, SubKind: SubKindInvalidQuotaSpec}
	ErrInvalidSecretHex             = &Error{Kind: KindValidation, SubKind: SubKindInvalidSecretHex}
	ErrInvalidTagKey                = &Error{Kind: KindValidation, SubKind: SubKindInvalidTagKey}
	ErrInvalidToken                 = &Error{Kind: KindValidation, SubKind: SubKindInvalidToken}
	ErrInvalidWaitpointForExecution = &Error{Kind: KindValidation, SubKind: SubKindInvalidWaitpointForExecution}
	ErrInvalidWaitpointKey          = &Error{Kind: KindValidation, SubKind: SubKindInvalidWaitpointKey}
	ErrPayloadTooLarge              = &Error{Kind: KindValidation, SubKind: SubKindPayloadTooLarge}
	ErrRetentionLimitExceeded       = &Error{Kind: KindValidation, SubKind: SubKindRetentionLimitExceeded}
	ErrSignalLimitExceeded          = &Error{Kind: KindValidation, SubKind: SubKindSignalLimitExceeded}
	ErrUnauthorized                 = &Error{Kind: KindValidation, SubKind: SubKindUnauthorized}
	ErrWaitpointNotTokenBound       = &Error{Kind: KindValidation, SubKind: SubKindWaitpointNotTokenBound}
)

// Flow validation sentinels (each also matches ErrInvalidInput).
var (
	ErrExecutionAlreadyInFlow = &Error{Kind: KindValidation, SubKind: SubKindExecutionAlreadyInFlow}
	ErrExecutionNotInFlow     = &Error{Kind: KindValidation, SubKind: SubKindExecutionNotInFlow}
	ErrFlowAlreadyTerminal    = &Error{Kind: KindValidation, SubKind: SubKindFlowAlreadyTerminal}
	ErrSelfReferencingEdge    = &Error{Kind: KindValidation, SubKind: SubKindSelfReferencingEdge}
)

// Contention sentinels.
var (
	ErrClaimGrantExpired               = &Error{Kind: KindContention, SubKind: SubKindClaimGrantExpired}
	ErrConcurrencyLimitExceeded        = &Error{Kind: KindContention, SubKind: SubKindConcurrencyLimitExceeded}
	ErrExecutionNotActive              = &Error{Kind: KindContention, SubKind: SubKindExecutionNotActive}
	ErrExecutionNotEligible            = &Error{Kind: KindContention, SubKind: SubKindExecutionNotEligible}
	ErrExecutionNotInEligibleSet       = &Error{Kind: KindContention, SubKind: SubKindExecutionNotInEligibleSet}
	ErrExecutionNotLeaseable           = &Error{Kind: KindContention, SubKind: SubKindExecutionNotLeaseable}
	ErrExecutionNotReclaimable         = &Error{Kind: KindContention, SubKind: SubKindExecutionNotReclaimable}
	ErrInvalidClaimGrant               = &Error{Kind: KindContention, SubKind: SubKindInvalidClaimGrant}
	ErrLeaseConflict                   = &Error{Kind: KindContention, SubKind: SubKindLeaseConflict}
	ErrNoActiveLease                   = &Error{Kind: KindContention, SubKind: SubKindNoActiveLease}
	ErrNoEligibleExecution             = &Error{Kind: KindContention, SubKind: SubKindNoEligibleExecution}
	ErrNotAResumedExecution            = &Error{Kind: KindContention, SubKind: SubKindNotAResumedExecution}
	ErrRateLimitExceeded               = &Error{Kind: KindContention, SubKind: SubKindRateLimitExceeded}
	ErrRetryExhausted                  = &Error{Kind: KindContention, SubKind: SubKindRetryExhausted}
	ErrStaleGraphRevision              = &Error{Kind: KindContention, SubKind: SubKindStaleGraphRevision}
	ErrUseClaimResumedExecution        = &Error{Kind: KindContention, SubKind: SubKindUseClaimResumedExecution}
	ErrWaitpointNotFound               = &Error{Kind: KindContention, SubKind: SubKindWaitpointNotFound}
	ErrWaitpointPendingUseBufferScript = &Error{Kind: KindContention, SubKind: SubKindWaitpointPendingUseBufferScript}
)

// Conflict sentinels.
var (
	ErrActiveAttemptExists     = &Error{Kind: KindConflict, SubKind: SubKindActiveAttemptExists}
	ErrBudgetAttachConflict    = &Error{Kind: KindConflict, SubKind: SubKindBudgetAttachConflict}
	ErrCycleDetected           = &Error{Kind: KindConflict, SubKind: SubKindCycleDetected}
	ErrDependencyAlreadyExists = &Error{Kind: KindConflict, SubKind: SubKindDependencyAlreadyExists}
	ErrQuotaAttachConflict     = &Error{Kind: KindConflict, SubKind: SubKindQuotaAttachConflict}
	ErrRotationConflict        = &Error{Kind: KindConflict, SubKind: SubKindRotationConflict}
	ErrWaitpointAlreadyExists  = &Error{Kind: KindConflict, SubKind: SubKindWaitpointAlreadyExists}
)

// State sentinels.
var (
	ErrAlreadySatisfied               = &Error{Kind: KindState, SubKind: SubKindAlreadySatisfied}
	ErrAlreadySuspended               = &Error{Kind: KindState, SubKind: SubKindAlreadySuspended}
	ErrAttemptAlreadyTerminal         = &Error{Kind: KindState, SubKind: SubKindAttemptAlreadyTerminal}
	ErrAttemptNotStarted              = &Error{Kind: KindState, SubKind: SubKindAttemptNotStarted}
	ErrBudgetExceeded                 = &Error{Kind: KindState, SubKind: SubKindBudgetExceeded}
	ErrBudgetSoftExceeded             = &Error{Kind: KindState, SubKind: SubKindBudgetSoftExceeded}
	ErrDepsNotSatisfied               = &Error{Kind: KindState, SubKind: SubKindDepsNotSatisfied}
	ErrDuplicateSignal                = &Error{Kind: KindState, SubKind: SubKindDuplicateSignal}
	ErrExecutionNotEligibleForAttempt = &Error{Kind: KindState, SubKind: SubKindExecutionNotEligibleForAttempt}
	ErrExecutionNotSuspended          = &Error{Kind: KindState, SubKind: SubKindExecutionNotSuspended}
	ErrExecutionNotTerminal           = &Error{Kind: KindState, SubKind: SubKindExecutionNotTerminal}
	ErrGrantAlreadyExists             = &Error{Kind: KindState, SubKind: SubKindGrantAlreadyExists}
	ErrLeaseExpired                   = &Error{Kind: KindState, SubKind: SubKindLeaseExpired}
	ErrLeaseRevoked                   = &Error{Kind: KindState, SubKind: SubKindLeaseRevoked}
	ErrMaxReplaysExhausted            = &Error{Kind: KindState, SubKind: SubKindMaxReplaysExhausted}
	ErrMaxRetriesExhausted            = &Error{Kind: KindState, SubKind: SubKindMaxRetriesExhausted}
	ErrNotBlockedByDeps               = &Error{Kind: KindState, SubKind: SubKindNotBlockedByDeps}
	ErrNotRunnable                    = &Error{Kind: KindState, SubKind: SubKindNotRunnable}
	ErrOKAlreadyApplied               = &Error{Kind: KindState, SubKind: SubKindOKAlreadyApplied}
	ErrPendingWaitpointExpired        = &Error{Kind: KindState, SubKind: SubKindPendingWaitpointExpired}
	ErrReplayNotAllowed               = &Error{Kind: KindState, SubKind: SubKindReplayNotAllowed}
	ErrResumeConditionNotMet          = &Error{Kind: KindState, SubKind: SubKindResumeConditionNotMet}
	ErrStaleLease                     = &Error{Kind: KindState, SubKind: SubKindStaleLease}
	ErrStaleOwnerCannotAppend         = &Error{Kind: KindState, SubKind: SubKindStaleOwnerCannotAppend}
	ErrStreamAlreadyClosed            = &Error{Kind: KindState, SubKind: SubKindStreamAlreadyClosed}
	ErrStreamClosed                   = &Error{Kind: KindState, SubKind: SubKindStreamClosed}
	ErrTargetNotSignalable            = &Error{Kind: KindState, SubKind: SubKindTargetNotSignalable}
	ErrTerminal                       = &Error{Kind: KindState, SubKind: SubKindTerminal}
	ErrWaitpointClosed                = &Error{Kind: KindState, SubKind: SubKindWaitpointClosed}
	ErrWaitpointNotOpen               = &Error{Kind: KindState, SubKind: SubKindWaitpointNotOpen}
	ErrWaitpointNotPending            = &Error{Kind: KindState, SubKind: SubKindWaitpointNotPending}
)

// Bug sentinels.
var ErrAttemptNotInCreatedState = &Error{Kind: KindBug, SubKind: SubKindAttemptNotInCreatedState}

// --- unexported constructors ---
//
// Every method builds fresh *Error values through these (never returns or
// mutates a sentinel), so the kind/sub-kind pairs stay consistent.

// errInvalidInput reports a generic validation failure (no more specific
// sentinel applies).
func errInvalidInput(format string, args ...any) error {
	return &Error{Kind: KindValidation, SubKind: SubKindInvalidInput, Detail: fmt.Sprintf(format, args...)}
}

// errValidation reports a validation failure with its own sub-kind
// (ErrInvalidToken, ErrSelfReferencingEdge, ...); it still matches
// ErrInvalidInput.
func errValidation(sub SubKind, format string, args ...any) error {
	return &Error{Kind: KindValidation, SubKind: sub, Detail: fmt.Sprintf(format, args...)}
}

// errCorruption reports stored or encoded data that does not decode.
func errCorruption(detail string) error {
	return &Error{Kind: KindValidation, SubKind: SubKindCorruption, Detail: detail}
}

// errNotFound reports a missing entity (one of the Entity constants).
func errNotFound(entity string) error {
	return &Error{Kind: KindNotFound, Entity: entity}
}

// errState reports an operation that is invalid in the current state.
func errState(sub SubKind, detail string) error {
	return &Error{Kind: KindState, SubKind: sub, Detail: detail}
}

// errContention reports a race or ownership conflict.
func errContention(sub SubKind, detail string) error {
	return &Error{Kind: KindContention, SubKind: sub, Detail: detail}
}

// errConflict reports a request that conflicts with stored state.
func errConflict(sub SubKind, detail string) error {
	return &Error{Kind: KindConflict, SubKind: sub, Detail: detail}
}

// errTransport wraps a driver/storage error. It returns nil for nil, a
// context error as the bare ctx sentinel (API §1: a cancelled ctx yields
// ctx.Err() unwrapped), and an error that already carries an *Error
// unchanged (never re-wrap under another kind).
func errTransport(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Kind: KindTransport, Backend: BackendLabelSQLite, Err: err}
}

// errTransportCtx is errTransport, but reports ctx's error when ctx has
// ended: the driver then often returns its own "interrupted" error instead
// of a context error.
func errTransportCtx(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return errTransport(err)
}

// errorDetail returns the Detail of the first *Error in err's chain (its
// text otherwise), for embedding one failure's reason in another's.
func errorDetail(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Detail != "" {
		return e.Detail
	}
	return err.Error()
}

// atIndex says which element of a batch argument failed validation
// ("executions[3]: ..."), keeping the error's kind and sub-kind so
// errors.Is still matches the same sentinels.
func atIndex(field string, i int, err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return fmt.Errorf("%s[%d]: %w", field, i, err)
	}
	c := *e
	c.Detail = fmt.Sprintf("%s[%d]", field, i)
	if e.Detail != "" {
		c.Detail += ": " + e.Detail
	}
	return &c
}
