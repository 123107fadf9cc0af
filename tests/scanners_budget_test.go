package tests

import (
	"sync"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

// ticksAtOnce runs n ticks of job concurrently (two supervisors, or two
// processes, on one database) and returns their summed result.
func (e *execEnv) ticksAtOnce(job scanners.Job, n int) scanners.TickResult {
	e.t.Helper()
	var mu sync.Mutex
	var sum scanners.TickResult
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			res, err := e.b.RunScannerOnce(e.ctx, job)
			if err != nil {
				e.t.Errorf("RunScannerOnce(%s): %v", job, err)
			}
			mu.Lock()
			sum.Processed += res.Processed
			sum.Errors += res.Errors
			mu.Unlock()
		})
	}
	wg.Wait()
	return sum
}

// countRows counts the rows of a table matching where (with args).
func (e *execEnv) countRows(table, where string, args ...any) int {
	e.t.Helper()
	var n int
	q := `SELECT count(*) FROM "` + table + `"`
	if where != "" {
		q += " WHERE " + where
	}
	if err := e.raw().QueryRowContext(e.ctx, q, args...).Scan(&n); err != nil {
		e.t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func TestBudgetResetScanner(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	const budgets = 45 // more than one page of due budgets
	ids := make([]backend.BudgetID, budgets)
	for i := range ids {
		ids[i] = e.createBudget([]budgetSpec{{"tokens", 10, 0}}, func(a *backend.CreateBudgetArgs) { a.ResetInterval = time.Minute })
		e.charge(ids[i], "tokens", 10)
	}
	never := e.createBudget([]budgetSpec{{"tokens", 10, 0}}, nil)
	e.charge(never, "tokens", 3)

	if res := e.tick(scanners.JobBudgetReset); res.Processed != 0 {
		t.Fatalf("tick before due = %+v", res)
	}
	e.clock.Advance(90 * time.Second) // one missed interval and a half
	if res := e.ticksAtOnce(scanners.JobBudgetReset, 2); res.Processed != budgets || res.Errors != 0 {
		t.Fatalf("two ticks at once = %+v, want %d resets in total", res, budgets)
	}
	for _, id := range ids {
		s := e.budgetStatus(id)
		// The next reset is measured from the tick: missed intervals are
		// not replayed.
		if s.Usage["tokens"] != 0 || !s.NextResetAt.Equal(e.now().Add(time.Minute)) {
			t.Fatalf("%s after reset: usage %d, next %v", id, s.Usage["tokens"], s.NextResetAt)
		}
	}
	if s := e.budgetStatus(never); s.Usage["tokens"] != 3 {
		t.Fatalf("budget without a schedule was reset: %+v", s)
	}
	if res := e.tick(scanners.JobBudgetReset); res.Processed != 0 {
		t.Fatalf("tick after the resets = %+v", res)
	}
}

// The usage-dedup purge runs in the budget_reset tick.
func TestBudgetResetScannerPurgesExpiredDedupKeys(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.createBudget([]budgetSpec{{"tokens", 100, 0}}, nil)
	for _, key := range []string{"a", "b"} {
		if _, err := e.b.ReportUsageAdmin(e.ctx, id, backend.ReportUsageAdminArgs{Dimensions: []string{"tokens"}, Deltas: []uint64{1}, DedupKey: key}); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(time.Hour)
	if _, err := e.b.ReportUsageAdmin(e.ctx, id, backend.ReportUsageAdminArgs{Dimensions: []string{"tokens"}, Deltas: []uint64{1}, DedupKey: "c"}); err != nil {
		t.Fatal(err)
	}
	if res := e.tick(scanners.JobBudgetReset); res.Processed != 0 {
		t.Fatalf("purge before expiry = %+v", res)
	}
	e.clock.Advance(backend.DedupWindowDefault - time.Hour)
	if res := e.ticksAtOnce(scanners.JobBudgetReset, 2); res.Processed != 2 {
		t.Fatalf("two purges at once = %+v, want 2 keys in total", res)
	}
	if n := e.countRows("ff_budget_usage_dedup", ""); n != 1 {
		t.Fatalf("%d dedup rows left, want 1 (the unexpired key)", n)
	}
}

func TestQuotaReconciler(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	q := e.createQuota(10*time.Second, 0, 5)
	for range 3 {
		res, err := e.b.CheckAdmission(e.ctx, q, "", backend.CheckAdmissionArgs{
			ExecutionID: backend.NewExecutionID(), Window: 10 * time.Second, RateLimit: 100, ConcurrencyCap: 5,
		})
		if err != nil || res.Kind != backend.AdmissionAdmitted {
			t.Fatalf("CheckAdmission = %+v, %v", res, err)
		}
		e.clock.Advance(time.Second)
	}
	if _, _, _, active := e.quotaRow(q); active != 3 {
		t.Fatalf("active_concurrency = %d, want 3", active)
	}
	if res := e.tick(scanners.JobQuotaReconciler); res.Processed != 0 {
		t.Fatalf("tick with every admission live = %+v", res)
	}
	// Two admissions (at 0 s and 1 s) leave the 10 s window at 11 s.
	e.clock.Advance(8 * time.Second)
	// Per table: 2 guards deleted, 2 window rows trimmed, the count set.
	if res := e.ticksAtOnce(scanners.JobQuotaReconciler, 2); res.Processed != 5 || res.Errors != 0 {
		t.Fatalf("two ticks at once = %+v, want 5 row changes in total", res)
	}
	if _, _, _, active := e.quotaRow(q); active != 1 {
		t.Fatalf("active_concurrency = %d, want 1", active)
	}
	if n := e.countRows("ff_quota_window", "quota_policy_id = ?", string(q)); n != 1 {
		t.Fatalf("%d window rows, want 1", n)
	}
	if n := e.countRows("ff_quota_admitted", "quota_policy_id = ?", string(q)); n != 1 {
		t.Fatalf("%d admission guards, want 1", n)
	}
	if res := e.tick(scanners.JobQuotaReconciler); res.Processed != 0 {
		t.Fatalf("tick after reconciling = %+v", res)
	}
}

// Two unblock ticks at once re-admit each execution once, and never more
// of a quota's executions than it has free slots.
func TestUnblockConcurrentTicks(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	budget := e.createBudget([]budgetSpec{{"a", 1, 0}}, nil)
	e.charge(budget, "a", 1)
	q := e.createQuota(0, 0, 2)
	e.create("quota-lane", withQuota(q))
	const n = 30
	for range n {
		e.create("lane", withBudgets(budget))
		e.create("quota-lane", withQuota(q))
	}
	e.mustClaim("quota-lane")
	h := e.mustClaim("quota-lane")
	if e.claim("lane") != nil || e.claim("quota-lane") != nil {
		t.Fatal("a gated execution was claimed")
	}
	if _, err := e.b.ResetBudget(e.ctx, backend.ResetBudgetArgs{BudgetID: budget}); err != nil {
		t.Fatal(err)
	}
	if err := e.b.Complete(e.ctx, h, nil); err != nil {
		t.Fatal(err)
	}
	// n budget-blocked executions, and one free quota slot.
	if res := e.ticksAtOnce(scanners.JobUnblock, 2); res.Processed != n+1 || res.Errors != 0 {
		t.Fatalf("two ticks at once = %+v, want %d", res, n+1)
	}
	if got := e.countRows("ff_exec_core", "quota_policy_id = ? AND eligibility_state = 'eligible_now'", string(q)); got != 1 {
		t.Fatalf("%d quota executions claimable, want 1 (one free slot)", got)
	}
	if got := e.countRows("ff_exec_core", "eligibility_state = 'blocked_by_budget'"); got != 0 {
		t.Fatalf("%d still budget-blocked", got)
	}
	if res := e.tick(scanners.JobUnblock); res.Processed != 0 {
		t.Fatalf("third tick = %+v", res)
	}
}

// The supervisor runs the new reconcilers; a Config's Filter and Retention
// reach RunScannerOnce too.
func TestScannerConfigFilterAndRetention(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	cfg := scanners.Config{
		// Installed for its settings only: no cadence fires in the test.
		RetentionTrimmerInterval: time.Hour,
		Retention:                time.Minute,
		Filter:                   scanners.Filter{Namespace: "other"},
	}
	if !e.b.WithScanners(cfg) {
		t.Fatal("WithScanners = false")
	}
	mine := e.create("lane", func(a *backend.CreateExecutionArgs) { a.ExecutionDeadlineAt = e.now().Add(time.Second) })
	theirs := e.create("lane", func(a *backend.CreateExecutionArgs) {
		a.Namespace = "other"
		a.ExecutionDeadlineAt = e.now().Add(time.Second)
	})
	e.clock.Advance(2 * time.Second)
	if res := e.tick(scanners.JobExecutionDeadline); res.Processed != 1 {
		t.Fatalf("deadline tick = %+v, want only the filtered namespace", res)
	}
	if e.state(mine) != backend.PublicStateWaiting || e.state(theirs) != backend.PublicStateExpired {
		t.Fatalf("states = %s / %s, want waiting / expired", e.state(mine), e.state(theirs))
	}
	e.clock.Advance(time.Minute)
	if res := e.tick(scanners.JobRetentionTrimmer); res.Processed == 0 {
		t.Fatalf("retention tick = %+v, want the expired execution trimmed after 1 min", res)
	}
	if ps, err := e.b.ReadExecutionState(e.ctx, theirs); ps != nil || err != nil {
		t.Fatalf("trimmed execution = %v, %v; want nil, nil", ps, err)
	}
	if ps, err := e.b.ReadExecutionState(e.ctx, mine); ps == nil || err != nil {
		t.Fatalf("filtered-out execution = %v, %v; want it kept", ps, err)
	}
	if err := e.b.ShutdownPrepare(e.ctx, time.Second); err != nil {
		t.Fatal(err)
	}
}

// WithScanners runs the budget, quota, unblock, timeout and retention
// reconcilers at their cadence, and ShutdownPrepare drains them.
func TestSupervisorRunsGateAndRetentionJobs(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	budget := e.createBudget([]budgetSpec{{"a", 1, 0}}, func(a *backend.CreateBudgetArgs) { a.ResetInterval = time.Second })
	e.charge(budget, "a", 1)
	gated := e.create("lane", withBudgets(budget))
	if e.claim("lane") != nil {
		t.Fatal("claimed through a breached budget")
	}
	deadline := e.create("lane", func(a *backend.CreateExecutionArgs) { a.ExecutionDeadlineAt = e.now().Add(time.Second) })
	timed := e.create("timed", func(a *backend.CreateExecutionArgs) {
		a.Policy = &backend.ExecutionPolicy{TimeoutPolicy: &backend.TimeoutPolicy{AttemptTimeout: time.Second}}
	})
	e.mustClaim("timed")
	old := e.create("old", nil)
	if _, err := e.b.CancelExecution(e.ctx, backend.CancelExecutionArgs{ExecutionID: old}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second)

	cfg := scanners.Config{
		BudgetResetInterval:       2 * time.Millisecond,
		UnblockInterval:           2 * time.Millisecond,
		QuotaReconcilerInterval:   2 * time.Millisecond,
		AttemptTimeoutInterval:    2 * time.Millisecond,
		ExecutionDeadlineInterval: 2 * time.Millisecond,
		RetentionTrimmerInterval:  2 * time.Millisecond,
		Retention:                 time.Second,
	}
	if !e.b.WithScanners(cfg) {
		t.Fatal("WithScanners = false")
	}
	// Scanner cadences run on real time: wait (bounded) for their effects.
	stop := time.Now().Add(30 * time.Second)
	for {
		ps, _ := e.b.ReadExecutionState(e.ctx, old)
		if e.state(gated) == backend.PublicStateWaiting && e.state(deadline) == backend.PublicStateExpired &&
			e.state(timed) == backend.PublicStateWaiting && ps == nil {
			break
		}
		if time.Now().After(stop) {
			t.Fatalf("supervisor effects missing: gated %s, deadline %s, timed %s, old trimmed %v",
				e.state(gated), e.state(deadline), e.state(timed), ps == nil)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := e.b.ShutdownPrepare(e.ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// Window rows of a policy that has no policy row (CheckAdmission against
// an unknown policy without a cap) are trimmed after the retention age.
func TestQuotaReconcilerTrimsOrphanWindows(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	q := backend.NewQuotaPolicyID()
	res, err := e.b.CheckAdmission(e.ctx, q, "", backend.CheckAdmissionArgs{ExecutionID: backend.NewExecutionID(), Window: time.Minute, RateLimit: 5})
	if err != nil || res.Kind != backend.AdmissionAdmitted {
		t.Fatalf("CheckAdmission = %+v, %v", res, err)
	}
	e.clock.Advance(time.Hour)
	e.tick(scanners.JobQuotaReconciler) // drops the expired guard
	if n := e.countRows("ff_quota_window", "quota_policy_id = ?", string(q)); n != 1 {
		t.Fatalf("%d orphan window rows before the retention age, want 1", n)
	}
	e.clock.Advance(scanners.RetentionDefault)
	if res := e.tick(scanners.JobQuotaReconciler); res.Processed != 1 {
		t.Fatalf("tick past the retention age = %+v, want 1", res)
	}
	if n := e.countRows("ff_quota_window", ""); n != 0 {
		t.Fatalf("%d window rows left", n)
	}
}
