package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"modernc.org/sqlite"
)

func TestErrorText(t *testing.T) {
	t.Parallel()

	cause := errors.New("disk I/O error")
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"NotFound", &Error{Kind: KindNotFound, Entity: EntityExecution}, "not found: execution"},
		{"NotFoundBare", &Error{Kind: KindNotFound}, "not found"},
		{"Validation", &Error{Kind: KindValidation, SubKind: SubKindHandleFromOtherBackend, Detail: "expected=Sqlite actual=Valkey"}, "validation: handle_from_other_backend: expected=Sqlite actual=Valkey"},
		{"State", &Error{Kind: KindState, SubKind: SubKindStaleLease}, "state: stale_lease"},
		{"StateDetail", &Error{Kind: KindState, SubKind: SubKindLeaseExpired, Detail: "expired at 5"}, "state: lease_expired: expired at 5"},
		{"Contention", &Error{Kind: KindContention, SubKind: SubKindExecutionNotActive}, "contention: execution_not_active"},
		{"ConflictKid", &Error{Kind: KindConflict, SubKind: SubKindRotationConflict, Kid: "k2"}, "conflict: rotation_conflict: kid=k2"},
		{"Bug", &Error{Kind: KindBug, SubKind: SubKindAttemptNotInCreatedState}, "bug: attempt_not_in_created_state"},
		{"Transport", &Error{Kind: KindTransport, Backend: "sqlite", Err: cause}, "transport (sqlite): disk I/O error"},
		{"TransportDetail", &Error{Kind: KindTransport, Backend: "sqlite", Detail: "claim: insert attempt", Err: cause}, "transport (sqlite): claim: insert attempt: disk I/O error"},
		{"Unavailable", &Error{Kind: KindUnavailable, Op: "claim_for_worker"}, "unavailable: claim_for_worker"},
		{"ResourceExhausted", &Error{Kind: KindResourceExhausted, Pool: "writer", Max: 1}, "resource exhausted: pool=writer max=1"},
		{"ResourceExhaustedRetry", &Error{Kind: KindResourceExhausted, Pool: "writer", Max: 1, RetryAfter: 2 * time.Second}, "resource exhausted: pool=writer max=1 retry_after=2s"},
		{"Timeout", &Error{Kind: KindTimeout, Op: "claim", Elapsed: 1500 * time.Millisecond}, "timeout: op=claim elapsed=1.5s"},
		{"StreamDisconnected", &Error{Kind: KindStreamDisconnected}, "stream disconnected; reconnect with returned cursor"},
		{"StreamBackpressure", &Error{Kind: KindStreamBackpressure}, "stream backpressure; events dropped"},
		{"RequiresDevMode", ErrRequiresDevMode, RequiresDevModeMessage},
		{"RequiresDevModeFresh", &Error{Kind: KindBackend, SubKind: SubKindRequiresDevMode, Detail: "ignored"}, RequiresDevModeMessage},
		{"BackendCauseInDetail", &Error{Kind: KindBackend, SubKind: SubKindBackendTransport, Detail: `sqlite pool connect for "x": disk I/O error`, Err: cause}, `backend: transport: sqlite pool connect for "x": disk I/O error`},
		{"BackendCauseOnly", &Error{Kind: KindBackend, SubKind: SubKindBackendProtocol, Err: cause}, "backend: protocol: disk I/O error"},
		{"NoKind", &Error{}, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	if RequiresDevModeMessage != "SqliteBackend requires FF_DEV_MODE=1 to activate. SQLite is dev-only; see https://github.com/avifenesh/FlowFabric/blob/main/docs/dev-harness.md for details." {
		t.Fatal("RequiresDevModeMessage drifted from spec 01 §1.2")
	}
	var nilErr *Error
	if nilErr.Error() != "<nil>" || nilErr.Unwrap() != nil || nilErr.Is(ErrState) || nilErr.Class() != "" {
		t.Fatal("nil *Error methods must not panic and must report nothing")
	}
}

func TestErrorIs(t *testing.T) {
	t.Parallel()

	staleLease := &Error{Kind: KindState, SubKind: SubKindStaleLease, Detail: "epoch 3 != 4"}
	selfEdge := &Error{Kind: KindValidation, SubKind: SubKindSelfReferencingEdge, Detail: "self_referencing_edge"}
	invalid := &Error{Kind: KindValidation, SubKind: SubKindInvalidInput, Detail: "lane_id: empty"}
	notFoundAttempt := &Error{Kind: KindNotFound, Entity: EntityAttempt}
	unavail := &Error{Kind: KindUnavailable, Op: "claim_for_worker"}
	transport := &Error{Kind: KindTransport, Backend: "sqlite", Err: io.ErrUnexpectedEOF}

	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"SubKindSentinel", staleLease, ErrStaleLease, true},
		{"KindSentinel", staleLease, ErrState, true},
		{"OtherSubKind", staleLease, ErrLeaseExpired, false},
		{"OtherKind", staleLease, ErrValidation, false},
		{"StateIsNotInvalidInput", staleLease, ErrInvalidInput, false},
		{"Wrapped", fmt.Errorf("complete: %w", staleLease), ErrStaleLease, true},
		{"DoubleWrapped", fmt.Errorf("a: %w", fmt.Errorf("b: %w", staleLease)), ErrState, true},
		{"JoinedChain", errors.Join(io.EOF, staleLease), ErrStaleLease, true},
		{"DetailNeverCompared", staleLease, &Error{Kind: KindState, SubKind: SubKindStaleLease, Detail: "something else"}, true},

		{"FlowSentinel", selfEdge, ErrSelfReferencingEdge, true},
		{"FlowSentinelIsInvalidInput", selfEdge, ErrInvalidInput, true},
		{"FlowSentinelIsValidation", selfEdge, ErrValidation, true},
		{"FlowSentinelNotCorruption", selfEdge, ErrCorruption, false},
		{"FlowSentinelNotAdHocInvalidInput", selfEdge, &Error{Kind: KindValidation, SubKind: SubKindInvalidInput}, false},
		{"InvalidInputAdHoc", invalid, &Error{Kind: KindValidation, SubKind: SubKindInvalidInput}, true},
		{"InvalidInputSentinel", invalid, ErrInvalidInput, true},
		{"InvalidInputNotToken", invalid, ErrInvalidToken, false},
		{"CorruptionIsInvalidInput", &Error{Kind: KindValidation, SubKind: SubKindCorruption}, ErrInvalidInput, true},

		{"EntityMatches", notFoundAttempt, &Error{Kind: KindNotFound, Entity: EntityAttempt}, true},
		{"EntityDiffers", notFoundAttempt, &Error{Kind: KindNotFound, Entity: EntityExecution}, false},
		{"EntityKindSentinel", notFoundAttempt, ErrNotFound, true},
		{"EntityTargetOnOtherKind", notFoundAttempt, &Error{Kind: KindState, Entity: EntityAttempt}, false},

		{"OpMatches", unavail, &Error{Kind: KindUnavailable, Op: "claim_for_worker"}, true},
		{"OpDiffers", unavail, &Error{Kind: KindUnavailable, Op: "subscribe_instance_tags"}, false},
		{"OpKindSentinel", unavail, ErrUnavailable, true},

		{"TransportSentinel", transport, ErrTransport, true},
		{"TransportCause", transport, io.ErrUnexpectedEOF, true},
		{"TransportOtherCause", transport, io.EOF, false},

		{"NonErrorTarget", staleLease, io.EOF, false},
		{"NilTarget", staleLease, (*Error)(nil), false},
		{"PlainError", io.EOF, ErrState, false},
		{"SentinelItself", ErrStaleLease, ErrStaleLease, true},
		{"SentinelIsKind", ErrStaleLease, ErrState, true},
		{"KindSentinelNotSubKind", ErrState, ErrStaleLease, false},
		{"InvalidInputEqualsValidation", ErrInvalidInput, ErrValidation, true},
		{"ValidationEqualsInvalidInput", ErrValidation, ErrInvalidInput, true},
		{"RequiresDevMode", &Error{Kind: KindBackend, SubKind: SubKindRequiresDevMode}, ErrRequiresDevMode, true},
		{"RequiresDevModeIsBackend", ErrRequiresDevMode, ErrBackend, true},
		{"BackendProtocolNotDevMode", &Error{Kind: KindBackend, SubKind: SubKindBackendProtocol}, ErrRequiresDevMode, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := errors.Is(tt.err, tt.target); got != tt.want {
				t.Fatalf("errors.Is(%v, %v) = %v, want %v", tt.err, tt.target, got, tt.want)
			}
		})
	}
}

// TestSentinels checks every sentinel against its kind sentinel and that
// no two sentinels (other than the documented ErrInvalidInput alias)
// match each other.
func TestSentinels(t *testing.T) {
	t.Parallel()

	kindSentinel := map[Kind]*Error{
		KindBackend: ErrBackend, KindBug: ErrBug, KindConflict: ErrConflict, KindContention: ErrContention,
		KindNotFound: ErrNotFound, KindResourceExhausted: ErrResourceExhausted, KindState: ErrState,
		KindStreamBackpressure: ErrStreamBackpressure, KindStreamDisconnected: ErrStreamDisconnected,
		KindTimeout: ErrTimeout, KindTransport: ErrTransport, KindUnavailable: ErrUnavailable, KindValidation: ErrValidation,
	}
	subSentinels := []*Error{
		ErrRequiresDevMode,
		ErrBudgetOverrideNotAllowed, ErrCapabilityMismatch, ErrCorruption, ErrHandleFromOtherBackend,
		ErrInvalidBlockingReason, ErrInvalidBudgetScope, ErrInvalidCapabilities, ErrInvalidDependency,
		ErrInvalidFrameType, ErrInvalidGraceMs, ErrInvalidKid, ErrInvalidLeaseForSuspend, ErrInvalidOffset,
		ErrInvalidPolicyJSON, ErrInvalidQuotaSpec, ErrInvalidSecretHex, ErrInvalidTagKey, ErrInvalidToken,
		ErrInvalidWaitpointForExecution, ErrInvalidWaitpointKey, ErrPayloadTooLarge, ErrRetentionLimitExceeded,
		ErrSignalLimitExceeded, ErrUnauthorized, ErrWaitpointNotTokenBound,
		ErrExecutionAlreadyInFlow, ErrExecutionNotInFlow, ErrFlowAlreadyTerminal, ErrSelfReferencingEdge,
		ErrClaimGrantExpired, ErrConcurrencyLimitExceeded, ErrExecutionNotActive, ErrExecutionNotEligible,
		ErrExecutionNotInEligibleSet, ErrExecutionNotLeaseable, ErrExecutionNotReclaimable, ErrInvalidClaimGrant,
		ErrLeaseConflict, ErrNoActiveLease, ErrNoEligibleExecution, ErrNotAResumedExecution, ErrRateLimitExceeded,
		ErrRetryExhausted, ErrStaleGraphRevision, ErrUseClaimResumedExecution, ErrWaitpointNotFound,
		ErrWaitpointPendingUseBufferScript,
		ErrActiveAttemptExists, ErrBudgetAttachConflict, ErrCycleDetected, ErrDependencyAlreadyExists,
		ErrQuotaAttachConflict, ErrRotationConflict, ErrWaitpointAlreadyExists,
		ErrAlreadySatisfied, ErrAlreadySuspended, ErrAttemptAlreadyTerminal, ErrAttemptNotStarted, ErrBudgetExceeded,
		ErrBudgetSoftExceeded, ErrDepsNotSatisfied, ErrDuplicateSignal, ErrExecutionNotEligibleForAttempt,
		ErrExecutionNotSuspended, ErrExecutionNotTerminal, ErrGrantAlreadyExists, ErrLeaseExpired, ErrLeaseRevoked,
		ErrMaxReplaysExhausted, ErrMaxRetriesExhausted, ErrNotBlockedByDeps, ErrNotRunnable, ErrOKAlreadyApplied,
		ErrPendingWaitpointExpired, ErrReplayNotAllowed, ErrResumeConditionNotMet, ErrStaleLease,
		ErrStaleOwnerCannotAppend, ErrStreamAlreadyClosed, ErrStreamClosed, ErrTargetNotSignalable, ErrTerminal,
		ErrWaitpointClosed, ErrWaitpointNotOpen, ErrWaitpointNotPending,
		ErrAttemptNotInCreatedState,
	}
	for i, s := range subSentinels {
		if s.SubKind == "" || kindSentinel[s.Kind] == nil {
			t.Fatalf("sentinel %d (%v) has no sub-kind or an unknown kind", i, s)
		}
		if !errors.Is(s, kindSentinel[s.Kind]) {
			t.Errorf("%v does not match its kind sentinel", s)
		}
		if s.Kind == KindValidation && !errors.Is(s, ErrInvalidInput) {
			t.Errorf("%v does not match ErrInvalidInput", s)
		}
		for j, o := range subSentinels {
			if i != j && errors.Is(s, o) {
				t.Errorf("%v matches %v", s, o)
			}
		}
	}
	if ErrInvalidInput.SubKind != "" || ErrInvalidInput.Kind != KindValidation {
		t.Fatalf("ErrInvalidInput = %+v, want the Validation kind sentinel", *ErrInvalidInput)
	}
}

func TestErrorAsPayloads(t *testing.T) {
	t.Parallel()

	info := &ExecutionNotActiveInfo{LifecyclePhase: "terminal", TerminalOutcome: "success", LeaseEpoch: "2", AttemptID: goldenAttempt}
	edge := &EdgeSnapshot{}
	cause := errors.New("boom")
	err := fmt.Errorf("claim: %w", &Error{Kind: KindContention, SubKind: SubKindExecutionNotActive, NotActive: info})
	var e *Error
	if !errors.As(err, &e) || e.NotActive != info {
		t.Fatalf("NotActive payload not reachable: %v", err)
	}
	if !errors.As(fmt.Errorf("stage: %w", &Error{Kind: KindConflict, SubKind: SubKindDependencyAlreadyExists, Existing: edge}), &e) || e.Existing != edge {
		t.Fatal("Existing payload not reachable")
	}
	if !errors.As(&Error{Kind: KindConflict, SubKind: SubKindRotationConflict, Kid: "k9"}, &e) || e.Kid != "k9" {
		t.Fatal("Kid payload not reachable")
	}
	tr := errTransport(cause)
	if !errors.As(tr, &e) || e.Err != cause || errors.Unwrap(tr) != cause {
		t.Fatalf("transport cause not reachable: %v", tr)
	}
}

func TestErrorClass(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		err  error
		want ErrorClass
	}{
		{"Nil", nil, ""},
		{"PlainError", io.EOF, ClassTerminal},
		{"Canceled", context.Canceled, ClassTerminal},
		{"Contention", &Error{Kind: KindContention, SubKind: SubKindLeaseConflict}, ClassRetryable},
		{"ResourceExhausted", &Error{Kind: KindResourceExhausted}, ClassRetryable},
		{"BudgetExceeded", &Error{Kind: KindState, SubKind: SubKindBudgetExceeded}, ClassCooperative},
		{"DuplicateSignal", &Error{Kind: KindState, SubKind: SubKindDuplicateSignal}, ClassInformational},
		{"AlreadySatisfied", &Error{Kind: KindState, SubKind: SubKindAlreadySatisfied}, ClassInformational},
		{"DepsNotSatisfied", &Error{Kind: KindState, SubKind: SubKindDepsNotSatisfied}, ClassInformational},
		{"StaleLease", &Error{Kind: KindState, SubKind: SubKindStaleLease}, ClassTerminal},
		{"NotFound", &Error{Kind: KindNotFound, Entity: EntityFlow}, ClassTerminal},
		{"Validation", &Error{Kind: KindValidation, SubKind: SubKindInvalidInput}, ClassTerminal},
		{"Conflict", &Error{Kind: KindConflict, SubKind: SubKindCycleDetected}, ClassTerminal},
		{"Transport", errTransport(errors.New("x")), ClassTerminal},
		{"Unavailable", &Error{Kind: KindUnavailable}, ClassTerminal},
		{"Timeout", &Error{Kind: KindTimeout}, ClassTerminal},
		{"StreamDisconnected", &Error{Kind: KindStreamDisconnected}, ClassTerminal},
		{"StreamBackpressure", &Error{Kind: KindStreamBackpressure}, ClassInformational},
		{"Bug", &Error{Kind: KindBug, SubKind: SubKindAttemptNotInCreatedState}, ClassBug},
		{"BackendTransport", &Error{Kind: KindBackend, SubKind: SubKindBackendTransport}, ClassRetryable},
		{"BackendTimeout", &Error{Kind: KindBackend, SubKind: SubKindBackendTimeout}, ClassRetryable},
		{"BackendCluster", &Error{Kind: KindBackend, SubKind: SubKindBackendCluster}, ClassRetryable},
		{"BackendBusyLoading", &Error{Kind: KindBackend, SubKind: SubKindBackendBusyLoading}, ClassRetryable},
		{"BackendProtocol", &Error{Kind: KindBackend, SubKind: SubKindBackendProtocol}, ClassTerminal},
		{"BackendAuth", &Error{Kind: KindBackend, SubKind: SubKindBackendAuth}, ClassTerminal},
		{"RequiresDevMode", ErrRequiresDevMode, ClassTerminal},
		{"WrappedContention", fmt.Errorf("ctx: %w", &Error{Kind: KindContention}), ClassRetryable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ClassOf(tt.err); got != tt.want {
				t.Fatalf("ClassOf = %q, want %q", got, tt.want)
			}
			if got, want := Retryable(tt.err), tt.want == ClassRetryable; got != want {
				t.Fatalf("Retryable = %v, want %v", got, want)
			}
		})
	}
}

// busyError produces a real SQLITE_BUSY from modernc: a second writer
// with busy_timeout 0 while the first holds an IMMEDIATE transaction.
func busyError(t *testing.T) error {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "busy.db") + "?_pragma=busy_timeout(0)"
	ctx := context.Background()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.ExecContext(ctx, "CREATE TABLE t(x)"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer a.ExecContext(ctx, "ROLLBACK") //nolint:errcheck // test cleanup
	_, err = b.ExecContext(ctx, "BEGIN IMMEDIATE")
	if err == nil {
		t.Fatal("second BEGIN IMMEDIATE succeeded; want SQLITE_BUSY")
	}
	return err
}

func TestIsRetryableBusy(t *testing.T) {
	t.Parallel()

	busy := busyError(t)
	var se *sqlite.Error
	if !errors.As(busy, &se) || se.Code()&0xff != 5 {
		t.Fatalf("setup: %v is not SQLITE_BUSY", busy)
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "syntax.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, syntaxErr := db.Exec("SELEC 1")
	if !errors.As(syntaxErr, &se) {
		t.Fatalf("setup: %v is not a *sqlite.Error", syntaxErr)
	}

	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"Busy", busy, true},
		{"BusyWrapped", fmt.Errorf("claim: %w", busy), true},
		{"BusyInTransport", errTransport(busy), true},
		{"BusyInTransportWrapped", fmt.Errorf("begin: %w", errTransport(busy)), true},
		{"SyntaxError", syntaxErr, false},
		{"SyntaxInTransport", errTransport(syntaxErr), false},
		{"Plain", errors.New("database is locked"), false}, // text is never matched
		{"Nil", nil, false},
		{"EngineError", ErrStaleLease, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := IsRetryableBusy(tt.err); got != tt.want {
				t.Fatalf("IsRetryableBusy(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestErrorConstructors(t *testing.T) {
	t.Parallel()

	cause := errors.New("disk full")
	tests := []struct {
		name string
		err  error
		want Error
	}{
		{"InvalidInput", errInvalidInput("lane %q: %d", "x", 3), Error{Kind: KindValidation, SubKind: SubKindInvalidInput, Detail: `lane "x": 3`}},
		{"Validation", errValidation(SubKindInvalidToken, "kid %s", "k1"), Error{Kind: KindValidation, SubKind: SubKindInvalidToken, Detail: "kid k1"}},
		{"Corruption", errCorruption("exec_core: bad"), Error{Kind: KindValidation, SubKind: SubKindCorruption, Detail: "exec_core: bad"}},
		{"NotFound", errNotFound(EntityWaitpoint), Error{Kind: KindNotFound, Entity: EntityWaitpoint}},
		{"State", errState(SubKindStaleLease, "epoch moved"), Error{Kind: KindState, SubKind: SubKindStaleLease, Detail: "epoch moved"}},
		{"Contention", errContention(SubKindExecutionNotLeaseable, "d"), Error{Kind: KindContention, SubKind: SubKindExecutionNotLeaseable, Detail: "d"}},
		{"Conflict", errConflict(SubKindCycleDetected, "d"), Error{Kind: KindConflict, SubKind: SubKindCycleDetected, Detail: "d"}},
		{"Transport", errTransport(cause), Error{Kind: KindTransport, Backend: "sqlite", Err: cause}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var e *Error
			if !errors.As(tt.err, &e) {
				t.Fatalf("%v is not an *Error", tt.err)
			}
			if diff := cmp.Diff(tt.want, *e, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}

	// Fresh values every time: never a sentinel.
	if errInvalidInput("x") == error(ErrInvalidInput) || errInvalidInput("x") == errInvalidInput("x") {
		t.Fatal("constructors must return fresh values")
	}
}

func TestErrTransportPassThrough(t *testing.T) {
	t.Parallel()

	stale := errState(SubKindStaleLease, "")
	wrappedStale := fmt.Errorf("complete: %w", stale)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	live := context.Background()

	tests := []struct {
		name string
		got  error
		want error // compared with ==
	}{
		{"Nil", errTransport(nil), nil},
		{"Canceled", errTransport(context.Canceled), context.Canceled},
		{"CanceledWrapped", errTransport(fmt.Errorf("query: %w", context.Canceled)), context.Canceled},
		{"Deadline", errTransport(fmt.Errorf("query: %w", context.DeadlineExceeded)), context.DeadlineExceeded},
		{"EngineErrorUnchanged", errTransport(stale), stale},
		{"WrappedEngineErrorUnchanged", errTransport(wrappedStale), wrappedStale},
		{"CtxNil", errTransportCtx(canceled, nil), nil},
		{"CtxEnded", errTransportCtx(canceled, errors.New("interrupted (9)")), context.Canceled},
		{"CtxLiveEngineError", errTransportCtx(live, stale), stale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.got != tt.want {
				t.Fatalf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
	if err := errTransportCtx(live, io.EOF); !errors.Is(err, ErrTransport) || !errors.Is(err, io.EOF) {
		t.Fatalf("errTransportCtx(live, io.EOF) = %v, want transport wrapping io.EOF", err)
	}
	if got := errorDetail(errInvalidInput("d1")); got != "d1" {
		t.Fatalf("errorDetail = %q", got)
	}
	if got := errorDetail(io.EOF); got != "EOF" {
		t.Fatalf("errorDetail(io.EOF) = %q", got)
	}
}
