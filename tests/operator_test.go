package tests

import (
	"errors"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

func TestCancelExecutionQueuedAndLeased(t *testing.T) {
	e := newExecEnv(t)
	queued := e.create("lane", nil)
	res, err := e.b.CancelExecution(e.ctx, backend.CancelExecutionArgs{ExecutionID: queued, Reason: "stop"})
	if err != nil || res.PublicState != backend.PublicStateCancelled {
		t.Fatalf("cancel queued = %+v, %v", res, err)
	}
	// Idempotent repeat.
	if _, err := e.b.CancelExecution(e.ctx, backend.CancelExecutionArgs{ExecutionID: queued}); err != nil {
		t.Fatalf("repeat cancel: %v", err)
	}
	if h := e.claim("lane"); h != nil {
		t.Fatalf("claimed a cancelled execution: %s", h)
	}

	leased := e.create("lane", nil)
	h := e.mustClaim("lane")
	_, err = e.b.CancelExecution(e.ctx, backend.CancelExecutionArgs{ExecutionID: leased, Source: backend.CancelSourceSystemTimeout})
	if !errors.Is(err, backend.ErrInvalidInput) {
		t.Fatalf("non-operator cancel without epoch = %v, want ErrInvalidInput", err)
	}
	_, err = e.b.CancelExecution(e.ctx, backend.CancelExecutionArgs{ExecutionID: leased, Source: backend.CancelSourceSystemTimeout, LeaseEpoch: 9})
	if !errors.Is(err, backend.ErrStaleLease) {
		t.Fatalf("non-operator cancel with wrong epoch = %v, want ErrStaleLease", err)
	}
	if got := e.state(leased); got != backend.PublicStateActive {
		t.Fatalf("rejected cancels changed state to %s", got)
	}
	if _, err := e.b.CancelExecution(e.ctx, backend.CancelExecutionArgs{ExecutionID: leased}); err != nil {
		t.Fatalf("operator cancel: %v", err)
	}
	if err := e.b.Complete(e.ctx, h, nil); !errors.Is(err, backend.ErrStaleLease) {
		t.Fatalf("Complete after operator cancel = %v, want ErrStaleLease", err)
	}

	done := e.create("lane", nil)
	hd := e.mustClaim("lane")
	if err := e.b.Complete(e.ctx, hd, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.CancelExecution(e.ctx, backend.CancelExecutionArgs{ExecutionID: done}); !errors.Is(err, backend.ErrInvalidInput) {
		t.Fatalf("cancel completed = %v, want ErrInvalidInput", err)
	}
	if _, err := e.b.CancelExecution(e.ctx, backend.CancelExecutionArgs{ExecutionID: backend.NewExecutionID()}); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("cancel unknown = %v, want ErrNotFound", err)
	}
}

func TestRevokeLeaseMakesExecutionClaimableAgain(t *testing.T) {
	e := newExecEnv(t)
	id := e.create("lane", nil)
	h := e.mustClaim("lane")
	res, err := e.b.RevokeLease(e.ctx, backend.RevokeLeaseArgs{ExecutionID: id, WorkerInstanceID: "other"})
	if err != nil || res.Kind != backend.RevokeLeaseAlreadySatisfied || res.Reason != "different_worker_instance_id" {
		t.Fatalf("revoke for another holder = %+v, %v", res, err)
	}
	res, err = e.b.RevokeLease(e.ctx, backend.RevokeLeaseArgs{ExecutionID: id, ExpectedLeaseID: "nope"})
	if err != nil || res.Reason != "lease_id_mismatch" {
		t.Fatalf("revoke with wrong lease id = %+v, %v", res, err)
	}
	res, err = e.b.RevokeLease(e.ctx, backend.RevokeLeaseArgs{ExecutionID: id, ExpectedLeaseID: string(h.LeaseID())})
	if err != nil || res.Kind != backend.RevokeLeaseRevoked || res.LeaseEpoch != h.LeaseEpoch()+1 {
		t.Fatalf("revoke = %+v, %v", res, err)
	}
	if got := e.state(id); got != backend.PublicStateWaiting {
		t.Fatalf("state after revoke = %s, want waiting", got)
	}
	if err := e.b.Complete(e.ctx, h, nil); !errors.Is(err, backend.ErrStaleLease) {
		t.Fatalf("Complete with revoked handle = %v, want ErrStaleLease", err)
	}
	h2 := e.mustClaim("lane")
	if h2.AttemptIndex() != h.AttemptIndex() || h2.LeaseEpoch() <= res.LeaseEpoch-1 {
		t.Fatalf("reclaim after revoke = %s", h2)
	}
	res, err = e.b.RevokeLease(e.ctx, backend.RevokeLeaseArgs{ExecutionID: e.create("lane", nil)})
	if err != nil || res.Reason != "no_active_lease" {
		t.Fatalf("revoke of queued = %+v, %v", res, err)
	}
}

func TestChangePriorityReordersClaims(t *testing.T) {
	e := newExecEnv(t)
	first := e.create("lane", nil)
	e.clock.Advance(time.Millisecond)
	second := e.create("lane", nil)
	if _, err := e.b.ChangePriority(e.ctx, backend.ChangePriorityArgs{ExecutionID: second, NewPriority: 20000}); err != nil {
		t.Fatal(err)
	}
	info, err := e.b.ReadExecutionInfo(e.ctx, second)
	if err != nil || info.Priority != backend.PriorityMax {
		t.Fatalf("priority = %v, %v; want clamped to %d", info, err, backend.PriorityMax)
	}
	h := e.mustClaim("lane")
	if h.ExecutionID() != second {
		t.Fatalf("claimed %s first, want the re-prioritised %s", h.ExecutionID(), second)
	}
	if _, err := e.b.ChangePriority(e.ctx, backend.ChangePriorityArgs{ExecutionID: second, NewPriority: 1}); !errors.Is(err, backend.ErrNotRunnable) {
		t.Fatalf("change active = %v, want ErrNotRunnable", err)
	}
	if err := e.b.Complete(e.ctx, h, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.ChangePriority(e.ctx, backend.ChangePriorityArgs{ExecutionID: second, NewPriority: 1}); !errors.Is(err, backend.ErrTerminal) {
		t.Fatalf("change terminal = %v, want ErrTerminal", err)
	}
	if _, err := e.b.ChangePriority(e.ctx, backend.ChangePriorityArgs{ExecutionID: first, NewPriority: 5}); err != nil {
		t.Fatalf("change queued: %v", err)
	}
}

func TestReplayExecutionAfterEachTerminalOutcome(t *testing.T) {
	e := newExecEnv(t)
	permanent := func(h backend.Handle) error {
		_, err := e.b.Fail(e.ctx, h, backend.FailureReason{Message: "boom"}, backend.FailurePermanent)
		return err
	}
	for name, finish := range map[string]func(backend.Handle) error{
		"completed": func(h backend.Handle) error { return e.b.Complete(e.ctx, h, []byte("r")) },
		"failed":    permanent,
		"cancelled": func(h backend.Handle) error { return e.b.Cancel(e.ctx, h, "stop") },
	} {
		t.Run(name, func(t *testing.T) {
			id := e.create(backend.LaneID("replay-"+name), nil)
			h := e.mustClaim(backend.LaneID("replay-" + name))
			if _, err := e.b.ReplayExecution(e.ctx, backend.ReplayExecutionArgs{ExecutionID: id}); !errors.Is(err, backend.ErrExecutionNotTerminal) {
				t.Fatalf("replay of active = %v, want ErrExecutionNotTerminal", err)
			}
			if err := finish(h); err != nil {
				t.Fatal(err)
			}
			res, err := e.b.ReplayExecution(e.ctx, backend.ReplayExecutionArgs{ExecutionID: id})
			if err != nil || res.PublicState != backend.PublicStateWaiting {
				t.Fatalf("replay = %+v, %v", res, err)
			}
			if _, ok, _ := e.b.GetExecutionResult(e.ctx, id); ok {
				t.Fatal("replay kept the old result")
			}
			h2 := e.mustClaim(backend.LaneID("replay-" + name))
			if h2.AttemptIndex() != h.AttemptIndex() || h2.LeaseEpoch() <= h.LeaseEpoch() {
				t.Fatalf("replayed claim = %s, want same attempt %d with a higher epoch than %d", h2, h.AttemptIndex(), h.LeaseEpoch())
			}
			if err := e.b.Complete(e.ctx, h, nil); !errors.Is(err, backend.ErrStaleLease) {
				t.Fatalf("old handle after replay = %v, want ErrStaleLease", err)
			}
		})
	}
}

func TestReplayBoundedByMaxReplayCount(t *testing.T) {
	e := newExecEnv(t)
	id := e.create("lane", func(a *backend.CreateExecutionArgs) {
		a.Policy = &backend.ExecutionPolicy{MaxReplayCount: 1}
	})
	finish := func() {
		h := e.mustClaim("lane")
		if err := e.b.Complete(e.ctx, h, nil); err != nil {
			t.Fatal(err)
		}
	}
	finish()
	if _, err := e.b.ReplayExecution(e.ctx, backend.ReplayExecutionArgs{ExecutionID: id}); err != nil {
		t.Fatal(err)
	}
	finish()
	if _, err := e.b.ReplayExecution(e.ctx, backend.ReplayExecutionArgs{ExecutionID: id}); !errors.Is(err, backend.ErrMaxReplaysExhausted) {
		t.Fatalf("second replay = %v, want ErrMaxReplaysExhausted", err)
	}
}

func TestExecutionNotActiveNamesTheHeldAttempt(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	e.create("lane", nil)
	h := e.mustClaim("lane")
	if _, err := e.b.Fail(e.ctx, h, backend.FailureReason{Message: "no"}, backend.FailurePermanent); err != nil {
		t.Fatal(err)
	}
	_, err := e.b.Renew(e.ctx, h)
	var ee *backend.Error
	if !errors.As(err, &ee) || !errors.Is(err, backend.ErrExecutionNotActive) || ee.NotActive == nil {
		t.Fatalf("Renew after terminal failure = %v, want ErrExecutionNotActive with its payload", err)
	}
	want := backend.ExecutionNotActiveInfo{AttemptID: string(h.AttemptID()), LeaseEpoch: "1", LifecyclePhase: "terminal", TerminalOutcome: "failed"}
	if *ee.NotActive != want {
		t.Fatalf("NotActive = %+v, want %+v", *ee.NotActive, want)
	}
}

// A gated flow member cancelled before it ran waits for its dependencies
// again when replayed, instead of running ahead of its upstream.
func TestReplayOfGatedFlowMemberWaitsForDependencies(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	up, down := f.member(), f.member()
	f.edge(up, down)
	if got := f.state(down); got != backend.PublicStateWaitingChildren {
		t.Fatalf("downstream before upstream ends = %s, want waiting_children", got)
	}
	if _, err := f.b.CancelExecution(f.ctx, backend.CancelExecutionArgs{ExecutionID: down, Reason: "oops"}); err != nil {
		t.Fatal(err)
	}
	res, err := f.b.ReplayExecution(f.ctx, backend.ReplayExecutionArgs{ExecutionID: down})
	if err != nil || res.PublicState != backend.PublicStateWaitingChildren {
		t.Fatalf("replay of the gated member = %+v, %v; want waiting_children", res, err)
	}
	h := f.claimOne()
	if h.ExecutionID() != up {
		t.Fatalf("claimed %s, want only the upstream %s", h.ExecutionID(), up)
	}
	f.complete(h, "done")
	if got := f.state(down); got != backend.PublicStateWaiting {
		t.Fatalf("downstream after upstream success = %s, want waiting", got)
	}
}
