package tests

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowfabric/ffsqlite/backend"
)

func TestCompleteStoresResult(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		payload []byte
		want    []byte
		wantOK  bool
	}{
		{"Nil", nil, nil, false},
		{"Empty", []byte{}, []byte{}, true},
		{"Bytes", []byte("out"), []byte("out"), true},
		{"Binary", []byte{0, 0xff, 0}, []byte{0, 0xff, 0}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			id := e.create("lane", nil)
			h := e.mustClaim("lane")
			doneAt := e.clock.Advance(time.Second)
			if err := e.b.Complete(e.ctx, h, tt.payload); err != nil {
				t.Fatalf("Complete: %v", err)
			}
			got, ok, err := e.b.GetExecutionResult(e.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantOK || (got == nil) != (tt.want == nil) || string(got) != string(tt.want) {
				t.Fatalf("GetExecutionResult = %q (nil=%v), %v; want %q (nil=%v), %v", got, got == nil, ok, tt.want, tt.want == nil, tt.wantOK)
			}
			info := e.info(id)
			if info.PublicState != backend.PublicStateCompleted || !info.CompletedAt.Equal(doneAt) {
				t.Fatalf("info = state %s completed at %v; want completed at %v", info.PublicState, info.CompletedAt, doneAt)
			}
			if h := e.claim("lane"); h != nil {
				t.Fatalf("claimed a completed execution: %v", h)
			}
		})
	}
}

func TestCompleteIsIdempotent(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane", nil)
	h := e.mustClaim("lane")
	if err := e.b.Complete(e.ctx, h, []byte("first")); err != nil {
		t.Fatal(err)
	}
	before := e.dump()
	e.clock.Advance(time.Hour) // even with the lease long gone
	for _, payload := range [][]byte{[]byte("first"), []byte("second"), nil} {
		if err := e.b.Complete(e.ctx, h, payload); err != nil {
			t.Fatalf("repeat Complete(%q): %v", payload, err)
		}
	}
	e.requireUnchanged(before, "repeated Complete")
	if got, ok, err := e.b.GetExecutionResult(e.ctx, id); err != nil || !ok || string(got) != "first" {
		t.Fatalf("result = %q, %v, %v; want the first", got, ok, err)
	}
}

// requireNotActive asserts ErrExecutionNotActive and its payload.
func requireNotActive(t *testing.T, what string, err error, want backend.ExecutionNotActiveInfo) {
	t.Helper()
	requireErr(t, what, err, backend.ErrExecutionNotActive)
	var be *backend.Error
	if !errors.As(err, &be) || be.NotActive == nil {
		t.Fatalf("%s: err %v has no NotActive payload", what, err)
	}
	// AttemptID is not compared: the backend leaves it empty today, while
	// spec 02 §1.4 names the execution's current attempt id.
	if diff := cmp.Diff(want, *be.NotActive, cmpopts.IgnoreFields(backend.ExecutionNotActiveInfo{}, "AttemptID")); diff != "" {
		t.Errorf("%s: NotActive (-want +got)\n%s", what, diff)
	}
}

func TestHandleOpsAfterTerminal(t *testing.T) {
	t.Parallel()
	fail := func(class backend.FailureClass) func(*execEnv, backend.Handle) error {
		return func(e *execEnv, h backend.Handle) error {
			_, err := e.b.Fail(e.ctx, h, backend.FailureReason{Message: "x"}, class)
			return err
		}
	}
	tests := []struct {
		name    string
		end     func(*execEnv, backend.Handle) error
		outcome string
		// repeat are the ops that repeat the ending (they succeed;
		// CompleteAndClaim then finds nothing to claim).
		repeat []string
	}{
		{"Completed", func(e *execEnv, h backend.Handle) error { return e.b.Complete(e.ctx, h, nil) }, "success", []string{"Complete", "CompleteAndClaim"}},
		{"Failed", fail(backend.FailurePermanent), "failed", []string{"Fail"}},
		{"Cancelled", func(e *execEnv, h backend.Handle) error { return e.b.Cancel(e.ctx, h, "stop") }, "cancelled", []string{"Cancel"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			e.create("lane", nil)
			h := e.mustClaim("lane")
			if err := tt.end(e, h); err != nil {
				t.Fatal(err)
			}
			before := e.dump()
			want := backend.ExecutionNotActiveInfo{LeaseEpoch: "1", LifecyclePhase: "terminal", TerminalOutcome: tt.outcome}
			for _, op := range allHandleOps {
				err := op.call(e, h)
				if slices.Contains(tt.repeat, op.name) {
					if err != nil {
						t.Errorf("repeat %s: %v", op.name, err)
					}
					continue
				}
				requireNotActive(t, op.name+" after "+tt.name, err, want)
			}
			e.requireUnchanged(before, "handle operations on a terminal execution")
		})
	}
}

func TestFailTransientExponentialBackoff(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane", nil)
	delays := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	for i, delay := range delays {
		h := e.mustClaim("lane")
		if h.AttemptIndex() != backend.AttemptIndex(i) || h.LeaseEpoch() != 1 || h.Kind() != backend.HandleFresh {
			t.Fatalf("claim %d: attempt %d epoch %d kind %s", i, h.AttemptIndex(), h.LeaseEpoch(), h.Kind())
		}
		if n, err := e.b.ReadTotalAttemptCount(e.ctx, id); err != nil || n != backend.AttemptIndex(i+1) {
			t.Fatalf("claim %d: ReadTotalAttemptCount = %d, %v; want %d", i, n, err, i+1)
		}
		failedAt := e.clock.Advance(100 * time.Millisecond)
		out, err := e.b.Fail(e.ctx, h, backend.FailureReason{Message: "flaky"}, backend.FailureTransient)
		if err != nil {
			t.Fatalf("Fail %d: %v", i, err)
		}
		want := backend.FailOutcome{Kind: backend.FailRetryScheduled, DelayUntil: failedAt.Add(delay)}
		if diff := cmp.Diff(want, out); diff != "" {
			t.Fatalf("Fail %d (-want +got)\n%s", i, diff)
		}
		if got := e.state(id); got != backend.PublicStateDelayed {
			t.Fatalf("after Fail %d: state %s, want delayed", i, got)
		}
		// The last attempt stays current until the retry is claimed.
		if n, err := e.b.ReadCurrentAttemptIndex(e.ctx, id); err != nil || n != backend.AttemptIndex(i) {
			t.Fatalf("after Fail %d: ReadCurrentAttemptIndex = %d, %v", i, n, err)
		}
		e.clock.Set(out.DelayUntil.Add(-time.Millisecond))
		if h := e.claim("lane"); h != nil {
			t.Fatalf("retry %d claimable before its DelayUntil", i)
		}
		e.clock.Set(out.DelayUntil)
	}
	// Retries 1..3 used up: the fourth failure is terminal.
	h := e.mustClaim("lane")
	if h.AttemptIndex() != 3 {
		t.Fatalf("fourth attempt index = %d", h.AttemptIndex())
	}
	out, err := e.b.Fail(e.ctx, h, backend.FailureReason{Message: "flaky"}, backend.FailureTransient)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(backend.FailOutcome{Kind: backend.FailTerminalFailed}, out); diff != "" {
		t.Fatalf("fourth Fail (-want +got)\n%s", diff)
	}
	if got := e.state(id); got != backend.PublicStateFailed {
		t.Fatalf("state = %s, want failed", got)
	}
	if n, err := e.b.ReadTotalAttemptCount(e.ctx, id); err != nil || n != 4 {
		t.Fatalf("ReadTotalAttemptCount = %d, %v; want 4", n, err)
	}
	e.clock.Advance(time.Hour)
	if h := e.claim("lane"); h != nil {
		t.Fatalf("claimed a failed execution: %v", h)
	}
	if _, ok, err := e.b.GetExecutionResult(e.ctx, id); err != nil || ok {
		t.Fatalf("failed execution has a result: %v, %v", ok, err)
	}
}

// failUntilTerminal fails every attempt of one execution with class and
// returns the delays of the scheduled retries, stopping at the terminal
// failure (at most 10 attempts).
func failUntilTerminal(t *testing.T, policy *backend.ExecutionPolicy, class backend.FailureClass) []time.Duration {
	t.Helper()
	e := newExecEnv(t)
	id := e.create("lane", func(a *backend.CreateExecutionArgs) { a.Policy = policy })
	delays := []time.Duration{}
	for range 10 {
		h := e.mustClaim("lane")
		out, err := e.b.Fail(e.ctx, h, backend.FailureReason{Message: "x"}, class)
		if err != nil {
			t.Fatalf("Fail: %v", err)
		}
		if out.Kind == backend.FailTerminalFailed {
			if got := e.state(id); got != backend.PublicStateFailed {
				t.Fatalf("terminal failure left state %s", got)
			}
			if !out.DelayUntil.IsZero() {
				t.Fatalf("terminal outcome has DelayUntil %v", out.DelayUntil)
			}
			return delays
		}
		delays = append(delays, out.DelayUntil.Sub(e.now()))
		e.clock.Set(out.DelayUntil)
	}
	t.Fatal("no terminal failure after 10 attempts")
	return nil
}

func TestFailPolicies(t *testing.T) {
	t.Parallel()
	retry := func(r backend.RetryPolicy) *backend.ExecutionPolicy {
		return &backend.ExecutionPolicy{RetryPolicy: &r}
	}
	s := time.Second
	tests := []struct {
		name   string
		policy *backend.ExecutionPolicy
		class  backend.FailureClass
		want   []time.Duration
	}{
		{"DefaultTransient", nil, backend.FailureTransient, []time.Duration{s, 2 * s, 4 * s}},
		{"DefaultInfraCrash", nil, backend.FailureInfraCrash, []time.Duration{s, 2 * s, 4 * s}},
		{"UnknownClassRetries", nil, backend.FailureClass("gremlins"), []time.Duration{s, 2 * s, 4 * s}},
		{"EmptyPolicyIsDefault", &backend.ExecutionPolicy{}, backend.FailureTransient, []time.Duration{s, 2 * s, 4 * s}},
		{"EmptyRetryPolicyIsDefault", retry(backend.RetryPolicy{}), backend.FailureTransient, []time.Duration{s, 2 * s, 4 * s}},
		{"Permanent", nil, backend.FailurePermanent, []time.Duration{}},
		{"Timeout", nil, backend.FailureTimeout, []time.Duration{}},
		{"Cancelled", nil, backend.FailureCancelled, []time.Duration{}},
		{"PermanentIgnoresRetries", retry(backend.RetryPolicy{MaxRetries: backend.Ptr(uint32(5))}), backend.FailurePermanent, []time.Duration{}},
		{"MaxRetriesZero", retry(backend.RetryPolicy{MaxRetries: backend.Ptr(uint32(0))}), backend.FailureTransient, []time.Duration{}},
		{"MaxRetriesOne", retry(backend.RetryPolicy{MaxRetries: backend.Ptr(uint32(1))}), backend.FailureTransient, []time.Duration{s}},
		{"MaxRetriesFive", retry(backend.RetryPolicy{MaxRetries: backend.Ptr(uint32(5))}), backend.FailureTransient,
			[]time.Duration{s, 2 * s, 4 * s, 8 * s, 16 * s}},
		{"Fixed", retry(backend.RetryPolicy{Backoff: backend.FixedBackoff(5 * s)}), backend.FailureTransient, []time.Duration{5 * s, 5 * s, 5 * s}},
		{"FixedDefaultDelay", retry(backend.RetryPolicy{Backoff: backend.Backoff{Kind: backend.BackoffFixed}}), backend.FailureTransient,
			[]time.Duration{s, s, s}},
		{"ExponentialCapped", retry(backend.RetryPolicy{
			Backoff: backend.ExponentialBackoff(100*time.Millisecond, 250*time.Millisecond, 2), MaxRetries: backend.Ptr(uint32(4)),
		}), backend.FailureTransient, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond}},
		{"ExponentialMultiplier3", retry(backend.RetryPolicy{Backoff: backend.ExponentialBackoff(s, time.Hour, 3)}), backend.FailureTransient,
			[]time.Duration{s, 3 * s, 9 * s}},
		{"DefaultCapsAt60s", retry(backend.RetryPolicy{MaxRetries: backend.Ptr(uint32(8))}), backend.FailureTransient,
			[]time.Duration{s, 2 * s, 4 * s, 8 * s, 16 * s, 32 * s, 60 * s, 60 * s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := failUntilTerminal(t, tt.policy, tt.class)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("retry delays (-want +got)\n%s", diff)
			}
		})
	}
}

func TestFailRepeatReturnsFirstOutcome(t *testing.T) {
	t.Parallel()
	t.Run("RetryScheduled", func(t *testing.T) {
		t.Parallel()
		e := newExecEnv(t)
		e.create("lane", nil)
		h := e.mustClaim("lane")
		first, err := e.b.Fail(e.ctx, h, backend.FailureReason{Message: "a"}, backend.FailureTransient)
		if err != nil {
			t.Fatal(err)
		}
		before := e.dump()
		e.clock.Advance(500 * time.Millisecond)
		// Whatever the repeat says, the first outcome comes back.
		again, err := e.b.Fail(e.ctx, h, backend.FailureReason{Message: "b"}, backend.FailurePermanent)
		if err != nil {
			t.Fatalf("repeat Fail: %v", err)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("repeat outcome (-first +repeat)\n%s", diff)
		}
		e.requireUnchanged(before, "a repeated Fail")
		// Still so after the retry was claimed by someone else.
		e.clock.Set(first.DelayUntil)
		e.mustClaim("lane")
		again, err = e.b.Fail(e.ctx, h, backend.FailureReason{Message: "c"}, backend.FailureTransient)
		if err != nil {
			t.Fatalf("repeat Fail after the retry was claimed: %v", err)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("repeat outcome after re-claim (-first +repeat)\n%s", diff)
		}
	})
	t.Run("TerminalFailed", func(t *testing.T) {
		t.Parallel()
		e := newExecEnv(t)
		e.create("lane", nil)
		h := e.mustClaim("lane")
		if _, err := e.b.Fail(e.ctx, h, backend.FailureReason{Message: "a"}, backend.FailurePermanent); err != nil {
			t.Fatal(err)
		}
		before := e.dump()
		again, err := e.b.Fail(e.ctx, h, backend.FailureReason{Message: "b"}, backend.FailureTransient)
		if err != nil {
			t.Fatalf("repeat Fail: %v", err)
		}
		if diff := cmp.Diff(backend.FailOutcome{Kind: backend.FailTerminalFailed}, again); diff != "" {
			t.Errorf("repeat outcome (-want +got)\n%s", diff)
		}
		e.requireUnchanged(before, "a repeated Fail")
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane", nil)
	h := e.mustClaim("lane")
	at := e.clock.Advance(time.Second)
	if err := e.b.Cancel(e.ctx, h, "no longer needed"); err != nil {
		t.Fatal(err)
	}
	info := e.info(id)
	want := backend.StateVector{
		AttemptState: backend.AttemptStateAttemptTerminal, BlockingReason: backend.BlockingNone,
		EligibilityState: backend.EligibilityNotApplicable, LifecyclePhase: backend.PhaseTerminal,
		OwnershipState: backend.OwnershipUnowned, PublicState: backend.PublicStateCancelled,
		TerminalOutcome: backend.OutcomeCancelled,
	}
	if diff := cmp.Diff(want, info.StateVector); diff != "" {
		t.Errorf("state vector (-want +got)\n%s", diff)
	}
	if !info.CompletedAt.Equal(at) {
		t.Errorf("CompletedAt = %v, want %v", info.CompletedAt, at)
	}
	// The reason and the canceller are recorded (read raw: the API has no
	// view of them).
	if diff := cmp.Diff([]any{"no longer needed", "worker"},
		[]any{e.rawExecColumn(id, "cancellation_reason"), e.rawExecColumn(id, "cancelled_by")}); diff != "" {
		t.Errorf("cancellation (-want +got)\n%s", diff)
	}
	before := e.dump()
	if err := e.b.Cancel(e.ctx, h, "again"); err != nil {
		t.Fatalf("repeat Cancel: %v", err)
	}
	e.requireUnchanged(before, "a repeated Cancel")
	if h := e.claim("lane"); h != nil {
		t.Fatalf("claimed a cancelled execution: %v", h)
	}
}

// TestFailRecordsReason: the message is the last failure message; the
// detail's text, else the class, is the failure category.
func TestFailRecordsReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		reason       backend.FailureReason
		class        backend.FailureClass
		wantCategory string
	}{
		{"ClassAsCategory", backend.FailureReason{Message: "disk full"}, backend.FailurePermanent, "permanent"},
		{"DetailAsCategory", backend.FailureReason{Message: "killed", Detail: []byte("oom")}, backend.FailureInfraCrash, "oom"},
		{"EmptyDetailIgnored", backend.FailureReason{Message: "slow", Detail: []byte{}}, backend.FailureTimeout, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			id := e.create("lane", nil)
			if _, err := e.b.Fail(e.ctx, e.mustClaim("lane"), tt.reason, tt.class); err != nil {
				t.Fatal(err)
			}
			got := []any{e.rawExecColumn(id, "last_failure_message"), e.rawExecColumn(id, "failure_category")}
			if diff := cmp.Diff([]any{tt.reason.Message, tt.wantCategory}, got); diff != "" {
				t.Errorf("failure (-want +got)\n%s", diff)
			}
		})
	}
}

func TestDelay(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane", nil)
	old := e.mustClaim("lane")
	due := e.now().Add(time.Minute)
	if err := e.b.Delay(e.ctx, old, due); err != nil {
		t.Fatal(err)
	}
	if got := e.state(id); got != backend.PublicStateDelayed {
		t.Fatalf("state = %s, want delayed", got)
	}
	if snap := e.describe(id); snap.CurrentLease != nil || snap.BlockingReason != backend.BlockingWaitingForDelay {
		t.Fatalf("after Delay: lease %+v, blocking %q", snap.CurrentLease, snap.BlockingReason)
	}
	e.clock.Set(due.Add(-time.Millisecond))
	if h := e.claim("lane"); h != nil {
		t.Fatalf("claimed before the delay ended: %v", h)
	}
	e.clock.Set(due)
	h := e.mustClaim("lane")
	// The same attempt continues under a new lease.
	want := fieldsOf(old)
	want.LeaseEpoch = 2
	if diff := cmp.Diff(want, fieldsOf(h)); diff != "" {
		t.Errorf("handle after Delay (-want +got)\n%s", diff)
	}
	if h.AttemptID() != old.AttemptID() || h.LeaseID() == old.LeaseID() {
		t.Errorf("attempt id %s→%s (want same), lease id %s→%s (want new)", old.AttemptID(), h.AttemptID(), old.LeaseID(), h.LeaseID())
	}
	if n, err := e.b.ReadTotalAttemptCount(e.ctx, id); err != nil || n != 1 {
		t.Errorf("ReadTotalAttemptCount = %d, %v; want 1", n, err)
	}
	if err := e.b.Complete(e.ctx, h, nil); err != nil {
		t.Fatal(err)
	}
}

func TestDelayPastOrNowIsClaimableAtOnce(t *testing.T) {
	t.Parallel()
	for _, offset := range []time.Duration{-time.Hour, -time.Millisecond, 0} {
		e := newExecEnv(t)
		id := e.create("lane", nil)
		h := e.mustClaim("lane")
		if err := e.b.Delay(e.ctx, h, e.now().Add(offset)); err != nil {
			t.Fatal(err)
		}
		if got := e.state(id); got != backend.PublicStateWaiting {
			t.Fatalf("offset %v: state = %s, want waiting", offset, got)
		}
		h2 := e.mustClaim("lane")
		if h2.ExecutionID() != id || h2.AttemptIndex() != 0 || h2.LeaseEpoch() != 2 {
			t.Fatalf("offset %v: re-claim attempt %d epoch %d", offset, h2.AttemptIndex(), h2.LeaseEpoch())
		}
	}
}

func TestDelayZeroTimeIsInvalid(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	e.create("lane", nil)
	h := e.mustClaim("lane")
	before := e.dump()
	requireErr(t, "Delay(zero time)", e.b.Delay(e.ctx, h, time.Time{}), backend.ErrInvalidInput)
	e.requireUnchanged(before, "a rejected Delay")
}

func TestWaitChildrenWithoutFlow(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane", nil)
	old := e.mustClaim("lane")
	if err := e.b.WaitChildren(e.ctx, old); err != nil {
		t.Fatal(err)
	}
	// No applied inbound edges: nothing to wait for.
	if got := e.state(id); got != backend.PublicStateWaiting {
		t.Fatalf("state = %s, want waiting", got)
	}
	h := e.mustClaim("lane")
	if h.ExecutionID() != id || h.AttemptIndex() != old.AttemptIndex() || h.LeaseEpoch() != 2 || h.AttemptID() != old.AttemptID() {
		t.Fatalf("re-claim: attempt %d (%s) epoch %d", h.AttemptIndex(), h.AttemptID(), h.LeaseEpoch())
	}
}

func TestProgress(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane", nil)
	h := e.mustClaim("lane")
	progress := func() (any, any) {
		return e.rawExecColumn(id, "progress_pct"), e.rawExecColumn(id, "progress_message")
	}

	before := e.dump()
	e.clock.Advance(time.Second)
	if err := e.b.Progress(e.ctx, h, nil, nil); err != nil {
		t.Fatalf("Progress(nil, nil): %v", err)
	}
	e.requireUnchanged(before, "Progress(nil, nil)")

	steps := []struct {
		name    string
		percent *uint8
		message *string
		wantPct any
		wantMsg any
	}{
		{"PercentOnly", backend.Ptr(uint8(40)), nil, int64(40), nil},
		{"MessageOnly", nil, backend.Ptr("loading"), int64(40), "loading"},
		{"Both", backend.Ptr(uint8(70)), backend.Ptr("saving"), int64(70), "saving"},
		{"Above100", backend.Ptr(uint8(250)), nil, int64(250), "saving"},
		{"EmptyMessage", nil, backend.Ptr(""), int64(250), ""},
	}
	for _, s := range steps {
		if err := e.b.Progress(e.ctx, h, s.percent, s.message); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		pct, msg := progress()
		if diff := cmp.Diff([]any{s.wantPct, s.wantMsg}, []any{pct, msg}); diff != "" {
			t.Errorf("%s: progress (-want +got)\n%s", s.name, diff)
		}
	}
	// Progress is a heartbeat, not a state change.
	if got := e.state(id); got != backend.PublicStateActive {
		t.Errorf("state = %s, want active", got)
	}
	if err := e.b.Complete(e.ctx, h, nil); err != nil {
		t.Fatal(err)
	}
}
