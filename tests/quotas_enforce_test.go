package tests

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

// withQuota makes the created execution gated by the quota policy.
func withQuota(q backend.QuotaPolicyID) func(*backend.CreateExecutionArgs) {
	return func(a *backend.CreateExecutionArgs) {
		a.Policy = &backend.ExecutionPolicy{QuotaPolicyID: q}
	}
}

// Claim blocks executions of a quota at its concurrency cap; completing
// one frees a slot and the unblock scanner re-admits one execution per
// free slot.
func TestClaimQuotaConcurrencyCap(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	q := e.createQuota(0, 0, 2)
	ids := make([]backend.ExecutionID, 5)
	for i := range ids {
		ids[i] = e.create("lane", withQuota(q))
		e.clock.Advance(time.Millisecond)
	}
	h0 := e.mustClaim("lane")
	e.mustClaim("lane")
	if h := e.claim("lane"); h != nil {
		t.Fatalf("third claim at the cap = %s, want nil", h)
	}
	for _, id := range ids[2:] {
		e.requireBlocked(id, backend.EligibilityBlockedByQuota, backend.BlockingWaitingForQuota)
	}
	if res := e.tick(scanners.JobUnblock); res.Processed != 0 {
		t.Fatalf("unblock at the cap = %+v", res)
	}
	if err := e.b.Complete(e.ctx, h0, nil); err != nil {
		t.Fatal(err)
	}
	if res := e.tick(scanners.JobUnblock); res.Processed != 1 {
		t.Fatalf("unblock with one free slot = %+v, want 1", res)
	}
	if res := e.tick(scanners.JobUnblock); res.Processed != 0 {
		t.Fatalf("second tick with the slot already given = %+v", res)
	}
	if h := e.mustClaim("lane"); h.ExecutionID() != ids[2] {
		t.Fatalf("claimed %s, want %s (claim order)", h.ExecutionID(), ids[2])
	}
	// A lease-expired execution still holds its slot, and its reclaim is
	// not gated (it was already admitted).
	e.clock.Advance(31 * time.Second)
	e.tick(scanners.JobLeaseExpiry)
	if h := e.mustClaim("lane"); h.Kind() != backend.HandleReclaimed {
		t.Fatalf("claim after expiry = %s, want a reclaim", h.Kind())
	}
}

// The rate window: at most MaxRequestsPerWindow claims per window; the
// unblock scanner re-admits once admissions leave it. A re-lease inside
// the window (after Delay) is not a new request.
func TestClaimQuotaRateWindow(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	q := e.createQuota(10*time.Second, 2, 0)
	ids := make([]backend.ExecutionID, 5)
	for i := range ids {
		ids[i] = e.create("lane", withQuota(q))
		e.clock.Advance(time.Millisecond)
	}
	h0 := e.mustClaim("lane")
	if err := e.b.Delay(e.ctx, h0, e.now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	e.mustClaim("lane")
	if h := e.claim("lane"); h != nil {
		t.Fatalf("third claim in the window = %s, want nil", h)
	}
	e.requireBlocked(ids[2], backend.EligibilityBlockedByQuota, backend.BlockingWaitingForQuota)
	// The delayed one comes back inside the window: already admitted.
	e.clock.Advance(time.Second)
	if h := e.mustClaim("lane"); h.ExecutionID() != ids[0] {
		t.Fatalf("re-claim of the delayed execution = %s, want %s", h.ExecutionID(), ids[0])
	}
	if res := e.tick(scanners.JobUnblock); res.Processed != 0 {
		t.Fatalf("unblock with the window full = %+v", res)
	}
	e.clock.Advance(9 * time.Second) // the first admissions leave the window
	if res := e.tick(scanners.JobUnblock); res.Processed != 2 {
		t.Fatalf("unblock after the window = %+v, want 2", res)
	}
	e.mustClaim("lane")
	e.mustClaim("lane")
	if h := e.claim("lane"); h != nil {
		t.Fatalf("claim with the new window full = %s, want nil", h)
	}
	e.requireBlocked(ids[4], backend.EligibilityBlockedByQuota, backend.BlockingWaitingForQuota)
}

// An execution naming an unknown quota policy is not gated.
func TestClaimUnknownQuotaIsUnlimited(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	q := backend.NewQuotaPolicyID()
	e.create("lane", withQuota(q))
	e.create("lane", withQuota(q))
	e.mustClaim("lane")
	e.mustClaim("lane")
}

func TestCreateExecutionGateValidation(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	for name, p := range map[string]*backend.ExecutionPolicy{
		"ErrBadBudgetID":      {BudgetIDs: []backend.BudgetID{"nope"}},
		"ErrBadQuotaID":       {QuotaPolicyID: "nope"},
		"ErrNegativeTimeout":  {TimeoutPolicy: &backend.TimeoutPolicy{AttemptTimeout: -time.Second}},
		"ErrNegativeDeadline": {TimeoutPolicy: &backend.TimeoutPolicy{ExecutionDeadline: -time.Second}},
	} {
		before := e.dump()
		_, err := e.b.CreateExecution(e.ctx, backend.CreateExecutionArgs{
			ExecutionID: backend.NewExecutionID(), LaneID: "lane", Namespace: "test", Policy: p,
		})
		requireErr(t, name, err, backend.ErrInvalidInput)
		e.requireUnchanged(before, name)
	}
}

// Sixteen workers on one quota with a concurrency cap of three: the cap is
// never exceeded, and every execution runs exactly once while the unblock
// scanner keeps re-admitting blocked ones.
func TestQuotaCapNeverExceededUnderSixteenWorkers(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	const (
		capacity = 3
		total    = 40
		workers  = 16
	)
	q := e.createQuota(0, 0, capacity)
	for range total {
		e.create("lane", withQuota(q))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var active, maxActive, dbMax atomic.Int64
	var done atomic.Int64
	var mu sync.Mutex
	runs := map[backend.ExecutionID]int{}
	var wg sync.WaitGroup
	// The unblock scanner runs under the supervisor at a short cadence.
	if !e.b.WithScanners(scanners.Config{UnblockInterval: 5 * time.Millisecond}) {
		t.Fatal("WithScanners = false on a fresh database")
	}
	for w := range workers {
		wg.Go(func() {
			policy := workerPolicy(fmt.Sprintf("w-%d", w))
			policy.MaxWait = 20 * time.Millisecond
			for ctx.Err() == nil && done.Load() < total {
				h, err := e.b.Claim(ctx, "lane", backend.CapabilitySet{}, policy)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("Claim: %v", err)
					}
					return
				}
				if h == nil {
					continue
				}
				n := active.Add(1)
				for old := maxActive.Load(); n > old && !maxActive.CompareAndSwap(old, n); old = maxActive.Load() {
				}
				// The database's own count, right when a violation would show.
				var inDB int64
				if err := e.raw().QueryRowContext(ctx, `SELECT count(*) FROM ff_exec_core
					WHERE quota_policy_id = ? AND lifecycle_phase = 'active'`, string(q)).Scan(&inDB); err != nil {
					t.Errorf("count active: %v", err)
				}
				for old := dbMax.Load(); inDB > old && !dbMax.CompareAndSwap(old, inDB); old = dbMax.Load() {
				}
				// Some work under the lease, giving other workers time to
				// try the gate.
				for range 2 {
					if _, err := e.b.Renew(ctx, *h); err != nil {
						t.Errorf("Renew: %v", err)
					}
				}
				mu.Lock()
				runs[h.ExecutionID()]++
				mu.Unlock()
				// Leave the count before the slot is released, so the
				// local count never runs ahead of the database.
				active.Add(-1)
				if err := e.b.Complete(ctx, *h, nil); err != nil {
					t.Errorf("Complete: %v", err)
					return
				}
				done.Add(1)
			}
		})
	}
	deadline := time.After(2 * time.Minute)
	for done.Load() < total && !t.Failed() {
		select {
		case <-deadline:
			t.Errorf("only %d of %d executions ran", done.Load(), total)
			cancel()
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	wg.Wait()
	if maxActive.Load() > capacity || dbMax.Load() > capacity {
		t.Fatalf("concurrency reached %d (workers) / %d (database), cap %d", maxActive.Load(), dbMax.Load(), capacity)
	}
	if maxActive.Load() < 2 {
		t.Errorf("at most %d ran at once: the test did not exercise the cap", maxActive.Load())
	}
	if len(runs) != total {
		t.Fatalf("%d executions ran, want %d", len(runs), total)
	}
	for id, n := range runs {
		if n != 1 {
			t.Fatalf("%s ran %d times", id, n)
		}
	}
}
