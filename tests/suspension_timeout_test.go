package tests

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

// suspendWithTimeout suspends a running execution on two fresh waitpoints
// with a one-minute timeout of behavior.
func (s *susEnv) suspendWithTimeout(behavior backend.TimeoutBehavior) (backend.ExecutionID, backend.Handle, backend.SuspendOutcome) {
	s.t.Helper()
	id, h := s.running()
	args := suspendArgs(backend.SingleCondition("k", backend.ByName("go")), backend.FreshBindingWithKey("k"), backend.FreshBindingWithKey("k2"))
	args.TimeoutAt = s.now().Add(time.Minute)
	args.TimeoutBehavior = behavior
	return id, h, s.suspend(h, args)
}

// TestSuspensionTimeoutTerminal: fail, cancel and expire end the execution
// with no other process than the reconciler tick; waitpoints close and the
// suspension's signals stay observable.
func TestSuspensionTimeoutTerminal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		behavior backend.TimeoutBehavior
		state    backend.PublicState
		outcome  string
		reason   string
	}{
		{"", backend.PublicStateFailed, "failed", "closed:timed_out_fail"},
		{backend.TimeoutFail, backend.PublicStateFailed, "failed", "closed:timed_out_fail"},
		{backend.TimeoutCancel, backend.PublicStateCancelled, "cancelled", "closed:timed_out_cancel"},
		{backend.TimeoutExpire, backend.PublicStateExpired, "expired", "closed:timed_out_expire"},
	}
	for _, tt := range tests {
		t.Run("Behavior_"+string(tt.behavior), func(t *testing.T) {
			t.Parallel()
			s := newSusEnv(t)
			id, h, sus := s.suspendWithTimeout(tt.behavior)
			s.deliver(signalArgs(id, sus.Details.WaitpointID, sus.Details.WaitpointToken, "wait"))

			s.clock.Advance(time.Minute - time.Millisecond)
			before := s.dump()
			if n := s.tick(scannerSuspensionTimeout); n != 0 {
				t.Fatalf("tick before the deadline processed %d", n)
			}
			s.requireUnchanged(before, "a tick before the deadline")

			s.clock.Advance(time.Millisecond)
			if n := s.tick(scannerSuspensionTimeout); n != 1 {
				t.Fatalf("tick at the deadline processed %d, want 1", n)
			}
			info := s.info(id)
			if info.PublicState != tt.state {
				t.Fatalf("state = %s, want %s", info.PublicState, tt.state)
			}
			if got := s.completionEvents(id); !cmp.Equal(got, []string{tt.outcome}) {
				t.Fatalf("completion events = %v, want [%s]", got, tt.outcome)
			}
			for _, wp := range []backend.WaitpointID{sus.Details.WaitpointID, sus.Details.AdditionalWaitpoints[0].WaitpointID} {
				if got := s.waitpointState(wp); got != tt.reason {
					t.Fatalf("waitpoint = %s, want %s", got, tt.reason)
				}
			}
			_, err := s.b.DeliverSignal(s.ctx, signalArgs(id, sus.Details.WaitpointID, sus.Details.WaitpointToken, "go"))
			requireErr(t, "signal after the timeout", err, backend.ErrWaitpointClosed)
			if got := signalNames(s.observe(h)); !cmp.Equal(got, []string{"wait"}) {
				t.Fatalf("observed %v, want [wait]", got)
			}
			if got := s.rawRows(`SELECT coalesce(last_failure_message, '') FROM ff_exec_core WHERE execution_id = ?`, string(id)); got[0] == "" {
				t.Fatal("no failure message recorded")
			}
			if n := s.tick(scannerSuspensionTimeout); n != 0 {
				t.Fatalf("second tick processed %d, want 0", n)
			}
		})
	}
}

func TestSuspensionTimeoutAutoResume(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, _, sus := s.suspendWithTimeout(backend.TimeoutAutoResume)
	s.clock.Advance(time.Minute)
	if n := s.tick(scannerSuspensionTimeout); n != 1 {
		t.Fatalf("tick processed %d, want 1", n)
	}
	if got := s.state(id); got != backend.PublicStateResumable {
		t.Fatalf("state = %s, want resumable", got)
	}
	if got := s.completionEvents(id); !cmp.Equal(got, []string{"resumable"}) {
		t.Fatalf("completion events = %v, want [resumable]", got)
	}
	if got := s.waitpointState(sus.Details.WaitpointID); got != "closed:timed_out_auto_resume" {
		t.Fatalf("waitpoint = %s", got)
	}
	res := s.claimResumed(id)
	sigs := s.observe(res.Handle)
	if len(sigs) != 1 {
		t.Fatalf("observed %+v, want the timeout signal", sigs)
	}
	got := sigs[0]
	got.SignalID = ""
	want := backend.ResumeSignal{SignalName: "timeout", SignalCategory: "timeout", SourceType: "system",
		SourceIdentity: "suspension_timeout", AcceptedAt: s.now()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("timeout signal (-want +got)\n%s", diff)
	}
	if _, err := backend.ParseSignalID(string(sigs[0].SignalID)); err != nil {
		t.Fatalf("timeout signal id %q: %v", sigs[0].SignalID, err)
	}
	if n := s.tick(scannerSuspensionTimeout); n != 0 {
		t.Fatalf("second tick processed %d, want 0", n)
	}
}

func TestSuspensionTimeoutEscalate(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, _, sus := s.suspendWithTimeout(backend.TimeoutEscalate)
	s.clock.Advance(time.Hour)
	if n := s.tick(scannerSuspensionTimeout); n != 1 {
		t.Fatalf("tick processed %d, want 1", n)
	}
	snap := s.describe(id)
	if snap.PublicState != backend.PublicStateSuspended || snap.BlockingReason != backend.BlockingPausedByOperator {
		t.Fatalf("after escalate: %s / %s, want suspended / paused_by_operator", snap.PublicState, snap.BlockingReason)
	}
	page, err := s.b.ListSuspended(s.ctx, backend.DefaultPartitionKey, "", 10)
	if err != nil || len(page.Items) != 1 || page.Items[0].Reason != backend.ReasonWaitingForOperatorReview {
		t.Fatalf("ListSuspended = %+v, %v; want reason waiting_for_operator_review", page, err)
	}
	if n := s.tick(scannerSuspensionTimeout); n != 0 {
		t.Fatalf("second tick processed %d, want 0 (no deadline left)", n)
	}
	// It still resumes on its signal.
	requireEffect(t, s.deliver(signalArgs(id, sus.Details.WaitpointID, sus.Details.WaitpointToken, "go")), backend.EffectResumeConditionSatisfied)
}

// TestSignalBeatsUnsweptTimeout: a signal delivered after the deadline but
// before the reconciler ran is processed normally, and the tick then
// leaves the resumed execution alone.
func TestSignalBeatsUnsweptTimeout(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, _, sus := s.suspendWithTimeout(backend.TimeoutFail)
	s.clock.Advance(2 * time.Minute)
	requireEffect(t, s.deliver(signalArgs(id, sus.Details.WaitpointID, sus.Details.WaitpointToken, "go")), backend.EffectResumeConditionSatisfied)
	before := s.dump()
	if n := s.tick(scannerSuspensionTimeout); n != 0 {
		t.Fatalf("tick processed %d, want 0", n)
	}
	s.requireUnchanged(before, "a tick after the signal")
	if got := s.state(id); got != backend.PublicStateResumable {
		t.Fatalf("state = %s, want resumable", got)
	}
}

// TestTimeoutOfCancelledSuspension: an operator cancel of a suspended
// execution leaves its deadline; the tick only clears it.
func TestTimeoutOfCancelledSuspension(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, _, _ := s.suspendWithTimeout(backend.TimeoutFail)
	if _, err := s.b.CancelExecution(s.ctx, backend.CancelExecutionArgs{ExecutionID: id, Reason: "stop"}); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(time.Hour)
	if n := s.tick(scannerSuspensionTimeout); n != 0 {
		t.Fatalf("tick processed %d, want 0", n)
	}
	if got := s.state(id); got != backend.PublicStateCancelled {
		t.Fatalf("state = %s, want cancelled", got)
	}
	if got := s.completionEvents(id); !cmp.Equal(got, []string{"cancelled"}) {
		t.Fatalf("completion events = %v, want only the cancel", got)
	}
	if got := s.rawRows(`SELECT count(*) FROM ff_suspension_current WHERE timeout_at_ms IS NOT NULL`); got[0] != "0" {
		t.Fatalf("%s suspension rows still carry a deadline", got[0])
	}
}

// TestPendingExpiryLeavesActiveWaitpoints: the pending-waitpoint scanner
// expires only pending waitpoints, never the active ones that carry a
// suspension's timeout.
func TestPendingExpiryLeavesActiveWaitpoints(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	_, _, sus := s.suspendWithTimeout(backend.TimeoutEscalate)
	_, other := s.running()
	p, err := s.b.CreateWaitpoint(s.ctx, other, "k", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(time.Hour)
	if n := s.tick(scannerPendingExpiry); n != 1 {
		t.Fatalf("expiry tick processed %d, want 1", n)
	}
	if got := s.waitpointState(p.WaitpointID); got != "expired:" {
		t.Fatalf("pending waitpoint = %s, want expired", got)
	}
	if got := s.waitpointState(sus.Details.WaitpointID); got != "active:" {
		t.Fatalf("active waitpoint = %s, want active", got)
	}
}
