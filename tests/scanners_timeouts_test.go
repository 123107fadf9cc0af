package tests

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

// leaseEventKinds lists the lease-history event types of id in order.
func (e *execEnv) leaseEventKinds(id backend.ExecutionID) []string {
	e.t.Helper()
	rows, err := e.raw().QueryContext(e.ctx, `SELECT event_type FROM ff_lease_event WHERE execution_id = ? ORDER BY event_id`, string(id))
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	kinds := []string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			e.t.Fatal(err)
		}
		kinds = append(kinds, k)
	}
	return kinds
}

func TestAttemptTimeoutScanner(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	one := uint32(1)
	id := e.create("lane", func(a *backend.CreateExecutionArgs) {
		a.Policy = &backend.ExecutionPolicy{
			TimeoutPolicy: &backend.TimeoutPolicy{AttemptTimeout: 10 * time.Second},
			RetryPolicy:   &backend.RetryPolicy{MaxRetries: &one},
		}
	})
	e.clock.Advance(time.Millisecond) // claim order: id first
	untimed := e.create("lane", nil)
	h := e.mustClaim("lane")
	if h.ExecutionID() != id {
		t.Fatalf("claimed %s, want %s", h.ExecutionID(), id)
	}
	e.mustClaim("lane")
	policy := workerPolicy("w-1")
	policy.LeaseTTL = time.Hour // the timeout, not the lease, must end it

	e.clock.Advance(10 * time.Second)
	if res := e.tick(scanners.JobAttemptTimeout); res.Processed != 0 {
		t.Fatalf("tick at exactly the timeout = %+v, want nothing", res)
	}
	e.clock.Advance(time.Millisecond)
	if res := e.ticksAtOnce(scanners.JobAttemptTimeout, 2); res.Processed != 1 {
		t.Fatalf("two ticks past the timeout = %+v, want 1 in total", res)
	}
	info := e.info(id)
	if info.PublicState != backend.PublicStateWaiting || info.StateVector.AttemptState != backend.AttemptStatePendingRetryAttempt {
		t.Fatalf("after the first timeout: %s %+v; want a pending retry", info.PublicState, info.StateVector)
	}
	if err := e.b.Complete(e.ctx, h, nil); !errors.Is(err, backend.ErrExecutionNotActive) {
		t.Fatalf("Complete with the timed-out handle = %v, want ErrExecutionNotActive", err)
	}
	if got := e.state(untimed); got != backend.PublicStateActive {
		t.Fatalf("execution without a timeout = %s, want active", got)
	}

	h2 := e.mustClaimAs("lane", policy)
	if h2.ExecutionID() != id || h2.AttemptIndex() != 1 {
		t.Fatalf("retry claim = %s attempt %d", h2.ExecutionID(), h2.AttemptIndex())
	}
	e.clock.Advance(11 * time.Second)
	if res := e.tick(scanners.JobAttemptTimeout); res.Processed != 1 {
		t.Fatalf("second timeout = %+v", res)
	}
	if got := e.state(id); got != backend.PublicStateExpired {
		t.Fatalf("after the retries = %s, want expired", got)
	}
	if res := e.tick(scanners.JobAttemptTimeout); res.Processed != 0 {
		t.Fatalf("tick after expiry = %+v", res)
	}
	want := []string{"acquired", "revoked", "acquired", "revoked"}
	if got := e.leaseEventKinds(id); !slices.Equal(got, want) {
		t.Fatalf("lease events = %v, want %v", got, want)
	}
	if n := e.countRows("ff_completion_event", "execution_id = ? AND outcome = 'expired'", string(id)); n != 1 {
		t.Fatalf("%d expired completion events, want 1", n)
	}
}

func TestExecutionDeadlineScanner(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	deadline := s.now().Add(time.Minute)
	at := func(a *backend.CreateExecutionArgs) { a.ExecutionDeadlineAt = deadline }
	running := s.create("lane", at)
	h := s.mustClaim("lane")
	waiting := s.create("lane", at)
	delayed := s.create("lane", func(a *backend.CreateExecutionArgs) {
		at(a)
		a.DelayUntil = deadline.Add(time.Hour)
	})
	later := s.create("lane", func(a *backend.CreateExecutionArgs) { a.ExecutionDeadlineAt = deadline.Add(time.Hour) })
	// A suspended execution with a deadline.
	suspended := s.create(susLane, at)
	sh := s.mustClaim(susLane)
	wp := backend.FreshBinding()
	s.suspend(sh, suspendArgs(backend.SingleCondition(wp.WaitpointKey, backend.ByName("go")), wp))

	if h.ExecutionID() != running {
		t.Fatalf("claimed %s, want %s", h.ExecutionID(), running)
	}

	if res := s.execEnv.tick(scanners.JobExecutionDeadline); res.Processed != 0 {
		t.Fatalf("tick before the deadline = %+v", res)
	}
	s.clock.Advance(time.Minute + time.Millisecond)
	if res := s.ticksAtOnce(scanners.JobExecutionDeadline, 2); res.Processed != 4 {
		t.Fatalf("two ticks past the deadline = %+v, want 4 in total", res)
	}
	for _, id := range []backend.ExecutionID{waiting, delayed, running, suspended} {
		if got := s.state(id); got != backend.PublicStateExpired {
			t.Fatalf("%s = %s, want expired", id, got)
		}
		if n := s.countRows("ff_completion_event", "execution_id = ? AND outcome = 'expired'", string(id)); n != 1 {
			t.Fatalf("%s: %d expired completion events, want 1", id, n)
		}
	}
	if got := s.state(later); got == backend.PublicStateExpired {
		t.Fatalf("execution with a later deadline expired")
	}
	if err := s.b.Complete(s.ctx, h, nil); !errors.Is(err, backend.ErrExecutionNotActive) {
		t.Fatalf("Complete after the deadline = %v, want ErrExecutionNotActive", err)
	}
	if got := s.leaseEventKinds(running); !slices.Equal(got, []string{"acquired", "revoked"}) {
		t.Fatalf("lease events of the running execution = %v", got)
	}
	if n := s.countRows("ff_waitpoint", "execution_id = ? AND state = 'closed'", string(suspended)); n != 1 {
		t.Fatalf("%d closed waitpoints of the suspended execution, want 1", n)
	}
	if res := s.execEnv.tick(scanners.JobExecutionDeadline); res.Processed != 0 {
		t.Fatalf("tick after expiry = %+v", res)
	}
}
