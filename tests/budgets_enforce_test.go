package tests

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

// withBudgets makes the created execution name the budgets.
func withBudgets(ids ...backend.BudgetID) func(*backend.CreateExecutionArgs) {
	return func(a *backend.CreateExecutionArgs) {
		a.Policy = &backend.ExecutionPolicy{BudgetIDs: ids}
	}
}

// requireBlocked fails the test unless id is parked by the claim gate with
// the given eligibility state.
func (e *execEnv) requireBlocked(id backend.ExecutionID, elig backend.EligibilityState, reason backend.BlockingReason) {
	e.t.Helper()
	info := e.info(id)
	sv := info.StateVector
	if info.PublicState != backend.PublicStateRateLimited || sv.LifecyclePhase != backend.PhaseRunnable ||
		sv.EligibilityState != elig || sv.BlockingReason != reason || info.BlockingDetail == "" {
		e.t.Fatalf("%s: state %s %+v detail %q; want rate_limited, %s, %s", id, info.PublicState, sv, info.BlockingDetail, elig, reason)
	}
}

// Claim skips (and marks blocked) an execution whose budget is
// hard-breached; the unblock scanner re-admits it after a reset.
func TestClaimSkipsHardBreachedBudget(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	budget := e.createBudget([]budgetSpec{{"tokens", 10, 0}}, nil)
	gated := e.create("lane", withBudgets(budget))
	e.clock.Advance(time.Millisecond)
	free := e.create("lane", nil)

	// Below the limit the budget does not gate.
	e.charge(budget, "tokens", 9)
	h := e.mustClaim("lane")
	if h.ExecutionID() != gated {
		t.Fatalf("claimed %s, want the gated execution first (budget not breached)", h.ExecutionID())
	}
	// Reaching the limit exactly breaches the budget (usage >= hard limit).
	if res, err := e.b.ReportUsage(e.ctx, h, budget, backend.UsageDimensions{Custom: map[string]uint64{"tokens": 1}}); err != nil || res.Kind != backend.UsageOK {
		t.Fatalf("ReportUsage to the limit = %+v, %v", res, err)
	}
	if _, err := e.b.Fail(e.ctx, h, backend.FailureReason{Message: "retry me"}, backend.FailureTransient); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute) // past the retry backoff

	if h := e.mustClaim("lane"); h.ExecutionID() != free {
		t.Fatalf("claimed %s, want the execution without a budget", h.ExecutionID())
	}
	e.requireBlocked(gated, backend.EligibilityBlockedByBudget, backend.BlockingWaitingForBudget)
	if h := e.claim("lane"); h != nil {
		t.Fatalf("claim while the budget is breached = %s, want nil", h)
	}
	if res := e.tick(scanners.JobUnblock); res.Processed != 0 {
		t.Fatalf("unblock while breached = %+v, want nothing", res)
	}
	e.requireBlocked(gated, backend.EligibilityBlockedByBudget, backend.BlockingWaitingForBudget)

	if _, err := e.b.ResetBudget(e.ctx, backend.ResetBudgetArgs{BudgetID: budget}); err != nil {
		t.Fatal(err)
	}
	if res := e.tick(scanners.JobUnblock); res.Processed != 1 {
		t.Fatalf("unblock after the reset = %+v, want 1", res)
	}
	if res := e.tick(scanners.JobUnblock); res.Processed != 0 {
		t.Fatalf("second unblock tick = %+v, want nothing", res)
	}
	info := e.info(gated)
	if info.PublicState != backend.PublicStateWaiting || info.StateVector.AttemptState != backend.AttemptStatePendingRetryAttempt {
		t.Fatalf("after unblock: %s %+v; want waiting with its retry pending", info.PublicState, info.StateVector)
	}
	h = e.mustClaim("lane")
	if h.ExecutionID() != gated || h.AttemptIndex() != 1 {
		t.Fatalf("claim after the reset = %s attempt %d, want %s attempt 1", h.ExecutionID(), h.AttemptIndex(), gated)
	}
}

// An execution naming two budgets stays blocked while either is breached;
// the unblock scanner moves it to the gate that still blocks it.
func TestClaimGateSeveralBudgets(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	b1 := e.createBudget([]budgetSpec{{"a", 1, 0}}, nil)
	b2 := e.createBudget([]budgetSpec{{"b", 1, 0}}, nil)
	id := e.create("lane", withBudgets(b2, b1, b1)) // duplicates collapse
	e.charge(b1, "a", 1)
	e.charge(b2, "b", 1)
	if h := e.claim("lane"); h != nil {
		t.Fatalf("claim = %s, want nil", h)
	}
	e.requireBlocked(id, backend.EligibilityBlockedByBudget, backend.BlockingWaitingForBudget)
	// Resetting one budget is not enough.
	for _, b := range []backend.BudgetID{b1, b2} {
		if _, err := e.b.ResetBudget(e.ctx, backend.ResetBudgetArgs{BudgetID: b}); err != nil {
			t.Fatal(err)
		}
		res := e.tick(scanners.JobUnblock)
		if b == b1 && res.Processed != 0 {
			t.Fatalf("unblock with %s still breached = %+v", b2, res)
		}
		if b == b2 && res.Processed != 1 {
			t.Fatalf("unblock with both reset = %+v, want 1", res)
		}
	}
	if h := e.mustClaim("lane"); h.ExecutionID() != id {
		t.Fatalf("claimed %s, want %s", h.ExecutionID(), id)
	}
}

// Executions parked by BlockRoute carry no gate: the unblock scanner
// re-admits one with nothing to wait for and keeps one whose budget is
// breached.
func TestUnblockBlockRoutedExecutions(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	budget := e.createBudget([]budgetSpec{{"a", 1, 0}}, nil)
	e.charge(budget, "a", 1)
	noBudget := e.create("lane", nil)
	breached := e.create("lane", withBudgets(budget))
	quota := e.create("lane", nil)
	for id, reason := range map[backend.ExecutionID]backend.BlockingReason{
		noBudget: backend.BlockingWaitingForBudget, breached: backend.BlockingWaitingForBudget, quota: backend.BlockingWaitingForQuota,
	} {
		out, err := e.b.BlockRoute(e.ctx, backend.BlockRouteArgs{ExecutionID: id, LaneID: "lane", ReasonCode: reason, ReasonDetail: "scheduler"})
		if err != nil || out.Kind != backend.BlockRouteBlocked {
			t.Fatalf("BlockRoute = %+v, %v", out, err)
		}
	}
	if res := e.tick(scanners.JobUnblock); res.Processed != 2 {
		t.Fatalf("unblock = %+v, want 2 (no budget, no quota)", res)
	}
	for _, id := range []backend.ExecutionID{noBudget, quota} {
		if got := e.state(id); got != backend.PublicStateWaiting {
			t.Fatalf("%s = %s, want waiting", id, got)
		}
	}
	if got := e.state(breached); got != backend.PublicStateRateLimited {
		t.Fatalf("breached = %s, want rate_limited", got)
	}
	if res := e.tick(scanners.JobUnblock); res.Processed != 0 {
		t.Fatalf("second tick = %+v", res)
	}
}

// One claim skips any number of gated candidates: it commits the blocks in
// bounded batches and goes on to the first claimable execution.
func TestClaimSkipsManyGatedCandidates(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	budget := e.createBudget([]budgetSpec{{"a", 1, 0}}, nil)
	e.charge(budget, "a", 1)
	const n = 150
	gated := make([]backend.ExecutionID, n)
	for i := range gated {
		gated[i] = e.create("lane", func(a *backend.CreateExecutionArgs) {
			a.Priority = 10
			a.Policy = &backend.ExecutionPolicy{BudgetIDs: []backend.BudgetID{budget}}
		})
	}
	free := e.create("lane", nil)
	if h := e.mustClaim("lane"); h.ExecutionID() != free {
		t.Fatalf("claimed %s, want the free execution behind %d gated ones", h.ExecutionID(), n)
	}
	for _, id := range gated {
		if got := e.state(id); got != backend.PublicStateRateLimited {
			t.Fatalf("%s = %s, want rate_limited", id, got)
		}
	}
	if _, err := e.b.ResetBudget(e.ctx, backend.ResetBudgetArgs{BudgetID: budget}); err != nil {
		t.Fatal(err)
	}
	if res := e.tick(scanners.JobUnblock); res.Processed != n {
		t.Fatalf("unblock = %+v, want %d", res, n)
	}
}

// Three workers share a budget: once its hard limit is reached no further
// execution is claimed, and the scheduled reset (budget_reset, then
// unblock) lets the work resume, window after window, until all is done.
func TestBudgetHardLimitStopsAndResetResumesWorkers(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	const (
		limit   = 10
		total   = 35
		workers = 3
	)
	budget := e.createBudget([]budgetSpec{{"units", limit, 0}}, func(a *backend.CreateBudgetArgs) { a.ResetInterval = time.Minute })
	for range total {
		e.create("lane", withBudgets(budget))
	}

	var mu sync.Mutex
	completed := map[backend.ExecutionID]int{}
	// run lets the workers drain until nothing is claimable and returns how
	// many executions they claimed.
	run := func() int {
		claimed := 0
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				policy := workerPolicy("w-" + string(rune('a'+w)))
				for {
					h, err := e.b.Claim(context.Background(), "lane", backend.CapabilitySet{}, policy)
					if err != nil {
						t.Errorf("Claim: %v", err)
						return
					}
					if h == nil {
						return
					}
					res, err := e.b.ReportUsage(context.Background(), *h, budget, backend.UsageDimensions{Custom: map[string]uint64{"units": 1}})
					if err != nil {
						t.Errorf("ReportUsage: %v", err)
						return
					}
					if res.Kind == backend.UsageHardBreach {
						// Claimed just before the limit was reached by
						// another worker: its unit does not fit, give it back.
						if err := e.b.Delay(context.Background(), *h, e.clock.Now()); err != nil {
							t.Errorf("Delay: %v", err)
						}
						continue
					}
					if err := e.b.Complete(context.Background(), *h, nil); err != nil {
						t.Errorf("Complete: %v", err)
						return
					}
					mu.Lock()
					completed[h.ExecutionID()]++
					claimed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return claimed
	}

	windows := 0
	for window := 0; ; window++ {
		windows++
		done := run()
		if t.Failed() {
			return
		}
		left := total - len(completed)
		want := min(limit, left+done) // each window's usage is its completions
		if done != want && left > 0 {
			t.Fatalf("window %d: %d completed, want %d (the hard limit)", window, done, want)
		}
		if s := e.budgetStatus(budget); left > 0 && s.Usage["units"] != limit {
			t.Fatalf("window %d: usage %d, want the limit %d", window, s.Usage["units"], limit)
		}
		if left == 0 {
			break
		}
		if window > total {
			t.Fatal("work never finished")
		}
		// Nothing is claimable until the reset; the scanner alone cannot
		// re-admit while the budget is breached.
		e.tick(scanners.JobUnblock)
		if h := e.claim("lane"); h != nil {
			t.Fatalf("window %d: claim while breached = %s", window, h)
		}
		if res := e.tick(scanners.JobBudgetReset); res.Processed != 0 {
			t.Fatalf("reset before due = %+v", res)
		}
		e.clock.Advance(time.Minute)
		if res := e.tick(scanners.JobBudgetReset); res.Processed != 1 {
			t.Fatalf("reset when due = %+v, want 1", res)
		}
		if res := e.tick(scanners.JobUnblock); res.Processed == 0 {
			t.Fatalf("window %d: unblock after reset re-admitted nothing", window)
		}
	}
	if windows != (total+limit-1)/limit {
		t.Fatalf("%d windows, want %d", windows, (total+limit-1)/limit)
	}
	for id, n := range completed {
		if n != 1 {
			t.Fatalf("%s completed %d times", id, n)
		}
	}
	if len(completed) != total {
		t.Fatalf("%d completed, want %d", len(completed), total)
	}
}
