package tests

import (
	"errors"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

func TestDelayedPromoterMakesDueExecutionsWaiting(t *testing.T) {
	e := newExecEnv(t)
	id := e.create("lane", func(a *backend.CreateExecutionArgs) {
		a.DelayUntil = e.clock.Now().Add(10 * time.Second)
	})
	res, err := e.b.RunScannerOnce(e.ctx, scanners.JobDelayedPromoter)
	if err != nil || res.Processed != 0 {
		t.Fatalf("tick before due = %+v, %v; want nothing processed", res, err)
	}
	if got := e.state(id); got != backend.PublicStateDelayed {
		t.Fatalf("state before due = %s, want delayed", got)
	}
	e.clock.Advance(10 * time.Second)
	res, err = e.b.RunScannerOnce(e.ctx, scanners.JobDelayedPromoter)
	if err != nil || res.Processed != 1 {
		t.Fatalf("tick when due = %+v, %v; want 1 processed", res, err)
	}
	if got := e.state(id); got != backend.PublicStateWaiting {
		t.Fatalf("state after promotion = %s, want waiting", got)
	}
}

func TestLeaseExpiryScannerMarksAndClaimReclaims(t *testing.T) {
	e := newExecEnv(t)
	id := e.create("lane", nil)
	old := e.mustClaim("lane")

	e.clock.Advance(29 * time.Second)
	if res, err := e.b.RunScannerOnce(e.ctx, scanners.JobLeaseExpiry); err != nil || res.Processed != 0 {
		t.Fatalf("tick before expiry = %+v, %v; want nothing processed", res, err)
	}
	e.clock.Advance(2 * time.Second)
	res, err := e.b.RunScannerOnce(e.ctx, scanners.JobLeaseExpiry)
	if err != nil || res.Processed != 1 {
		t.Fatalf("tick after expiry = %+v, %v; want 1 processed", res, err)
	}
	info, err := e.b.ReadExecutionInfo(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.StateVector.OwnershipState != backend.OwnershipLeaseExpiredReclaimable || info.PublicState != backend.PublicStateActive {
		t.Fatalf("after expiry: %+v", info.StateVector)
	}
	// A second tick changes nothing: the scanner is idempotent.
	if res, err := e.b.RunScannerOnce(e.ctx, scanners.JobLeaseExpiry); err != nil || res.Processed != 0 {
		t.Fatalf("second tick = %+v, %v; want nothing processed", res, err)
	}
	if err := e.b.Complete(e.ctx, old, nil); !errors.Is(err, backend.ErrLeaseExpired) {
		t.Fatalf("Complete on expired lease = %v, want ErrLeaseExpired", err)
	}

	h := e.mustClaim("lane")
	if h.Kind() != backend.HandleReclaimed || h.ExecutionID() != id || h.AttemptIndex() != 1 {
		t.Fatalf("reclaim handle = %s, want reclaimed attempt 1 of %s", h, id)
	}
	if err := e.b.Complete(e.ctx, old, nil); !errors.Is(err, backend.ErrStaleLease) {
		t.Fatalf("Complete with the reclaimed handle = %v, want ErrStaleLease", err)
	}
	if err := e.b.Complete(e.ctx, h, nil); err != nil {
		t.Fatalf("Complete by the new holder: %v", err)
	}
	if n, err := e.b.ReadTotalAttemptCount(e.ctx, id); err != nil || n != 2 {
		t.Fatalf("total attempts = %d, %v; want 2", n, err)
	}
}

// A lease-expired execution is reclaimed only by a worker that has every
// capability it requires (decision 11), like a fresh claim.
func TestReclaimNeedsTheCapabilities(t *testing.T) {
	e := newExecEnv(t)
	id := e.create("lane", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy("gpu") })
	e.mustClaim("lane", "gpu")
	e.clock.Advance(31 * time.Second)
	if res, err := e.b.RunScannerOnce(e.ctx, scanners.JobLeaseExpiry); err != nil || res.Processed != 1 {
		t.Fatalf("lease expiry tick = %+v, %v; want 1 processed", res, err)
	}
	before := e.dump()
	for _, caps := range [][]string{nil, {"cpu"}} {
		if h := e.claim("lane", caps...); h != nil {
			t.Fatalf("worker %q reclaimed an execution requiring gpu: %s", caps, h)
		}
	}
	e.requireUnchanged(before, "claims by incapable workers")
	h := e.mustClaim("lane", "cpu", "gpu")
	if h.Kind() != backend.HandleReclaimed || h.ExecutionID() != id {
		t.Fatalf("capable worker got %s, want the reclaim of %s", h, id)
	}
}

func TestReclaimCapFailsExecution(t *testing.T) {
	e := newExecEnv(t)
	id := e.create("lane", func(a *backend.CreateExecutionArgs) {
		a.Policy = &backend.ExecutionPolicy{MaxReclaimCount: 1}
	})
	e.mustClaim("lane")
	e.clock.Advance(31 * time.Second)
	if _, err := e.b.RunScannerOnce(e.ctx, scanners.JobLeaseExpiry); err != nil {
		t.Fatal(err)
	}
	if h := e.mustClaim("lane"); h.Kind() != backend.HandleReclaimed {
		t.Fatalf("first reclaim kind = %s", h.Kind())
	}
	e.clock.Advance(31 * time.Second)
	if _, err := e.b.RunScannerOnce(e.ctx, scanners.JobLeaseExpiry); err != nil {
		t.Fatal(err)
	}
	if h := e.claim("lane"); h != nil {
		t.Fatalf("claim past the reclaim cap = %s, want nil", h)
	}
	if got := e.state(id); got != backend.PublicStateFailed {
		t.Fatalf("state past the reclaim cap = %s, want failed", got)
	}
}

func TestRunScannerOnceUnknownJob(t *testing.T) {
	e := newExecEnv(t)
	if _, err := e.b.RunScannerOnce(e.ctx, scanners.Job("nope")); !errors.Is(err, backend.ErrInvalidInput) {
		t.Fatalf("unknown job = %v, want ErrInvalidInput", err)
	}
}

// Two reconcilers ticking at once (two supervisors, or two processes) must
// change each row once: the transition is re-checked inside each row's
// transaction.
func TestConcurrentLeaseExpiryTicksChangeEachRowOnce(t *testing.T) {
	e := newExecEnv(t)
	const n = 40
	for range n {
		e.create("lane", nil)
		e.mustClaim("lane")
	}
	e.clock.Advance(time.Minute)
	results := make(chan scanners.TickResult, 2)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			res, err := e.b.RunScannerOnce(e.ctx, scanners.JobLeaseExpiry)
			results <- res
			errs <- err
		}()
	}
	processed := 0
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		processed += (<-results).Processed
	}
	if processed != n {
		t.Fatalf("two concurrent ticks processed %d rows, want %d in total", processed, n)
	}
	raw := openRaw(t, e.path)
	var expiredEvents int
	if err := raw.QueryRow("SELECT count(*) FROM ff_lease_event WHERE event_type = 'expired'").Scan(&expiredEvents); err != nil {
		t.Fatal(err)
	}
	if expiredEvents != n {
		t.Fatalf("expired events = %d, want one per execution (%d)", expiredEvents, n)
	}
}
