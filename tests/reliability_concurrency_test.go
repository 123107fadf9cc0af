package tests

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

// Issue 10 item 2: concurrency. 32 worker goroutines, a producer and every
// scanner on one file database; and two OS processes draining one file.

// callErrors collects every error surfaced to a caller during a run.
type callErrors struct {
	mu   sync.Mutex
	errs []string
	busy int
}

func (c *callErrors) add(what string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	msg := err.Error()
	if errors.Is(err, backend.ErrTransport) || strings.Contains(msg, "SQLITE_BUSY") ||
		strings.Contains(strings.ToLower(msg), "database is locked") {
		c.busy++
	}
	if len(c.errs) < 50 {
		c.errs = append(c.errs, what+": "+msg)
	}
}

func (c *callErrors) report(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) == 0 {
		return
	}
	t.Errorf("%d transport/busy/locked errors among the errors surfaced to callers (first %d shown):\n%s",
		c.busy, len(c.errs), strings.Join(c.errs, "\n"))
}

// shortScannerConfig is scanners.DefaultConfig with every reconciler on a
// short cadence, so they all run many times during the test.
func shortScannerConfig() scanners.Config {
	cfg := scanners.DefaultConfig()
	cfg.AttemptTimeoutInterval = 40 * time.Millisecond
	cfg.BudgetResetInterval = 50 * time.Millisecond
	cfg.CancelReconcilerInterval = 50 * time.Millisecond
	cfg.DelayedPromoterInterval = 20 * time.Millisecond
	cfg.DependencyReconcilerInterval = 50 * time.Millisecond
	cfg.EdgeCancelDispatcherInterval = 50 * time.Millisecond
	cfg.EdgeCancelReconcilerInterval = 50 * time.Millisecond
	cfg.ExecutionDeadlineInterval = 50 * time.Millisecond
	cfg.LeaseExpiryInterval = 20 * time.Millisecond
	cfg.PendingWaitpointExpiryInterval = 50 * time.Millisecond
	cfg.QuotaReconcilerInterval = 50 * time.Millisecond
	cfg.RetentionTrimmerInterval = 50 * time.Millisecond
	cfg.SuspensionTimeoutInterval = 50 * time.Millisecond
	cfg.UnblockInterval = 30 * time.Millisecond
	return cfg
}

// TestManyWorkersWithScannersNoBusyNoLoss runs a producer, 32 claiming
// workers and every scanner (short cadences) against one file database on
// the system clock. Some executions are delayed a few ms; some carry a
// FixedBackoff(5ms) retry policy and fail transiently once before
// completing. No caller may see an error (in particular no transport /
// SQLITE_BUSY), and every execution must end completed with exactly one
// success completion event and one successful attempt.
func TestManyWorkersWithScannersNoBusyNoLoss(t *testing.T) {
	requireDevMode(t)
	const workers = 32
	const lane backend.LaneID = "conc"
	n, trickle := 1500, 80
	if testing.Short() {
		n, trickle = 300, 30
	}
	backlog := n - trickle
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "conc.db")
	b, err := backend.NewWithOptions(ctx, path, backend.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeBackend(t, b) })
	if !b.WithScanners(shortScannerConfig()) {
		t.Fatal("WithScanners returned false on a fresh database")
	}

	var errs callErrors
	var (
		flaky     sync.Map // ExecutionID -> struct{}: fail transiently on the first attempt
		ids       = make([]backend.ExecutionID, 0, n)
		idsMu     sync.Mutex
		completed atomic.Int64
		failedOne atomic.Int64
		stop      atomic.Bool
	)

	create := func(i int) {
		args := backend.CreateExecutionArgs{
			ExecutionID:   backend.NewExecutionID(),
			LaneID:        lane,
			Namespace:     "conc",
			ExecutionKind: "kind",
		}
		if i%5 == 1 {
			args.DelayUntil = time.Now().Add(time.Duration(2+i%7) * time.Millisecond)
		}
		if i%4 == 2 {
			args.Policy = &backend.ExecutionPolicy{RetryPolicy: &backend.RetryPolicy{
				Backoff:    backend.FixedBackoff(5 * time.Millisecond),
				MaxRetries: backend.Ptr(uint32(3)),
			}}
			flaky.Store(args.ExecutionID, struct{}{})
		}
		res, err := b.CreateExecution(ctx, args)
		if err != nil {
			errs.add("create", err)
			return
		}
		if res.ExecutionID != args.ExecutionID {
			errs.add("create", fmt.Errorf("created %s, got back %s", args.ExecutionID, res.ExecutionID))
		}
		idsMu.Lock()
		ids = append(ids, args.ExecutionID)
		idsMu.Unlock()
	}
	// A backlog exists before the workers start; the producer adds the
	// rest while they run. (Every commit wakes every worker waiting in
	// Claim, so a producer racing 32 waiting workers creates only a few
	// dozen executions a second under -race.)
	for i := range backlog {
		create(i)
	}
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // producer
		defer wg.Done()
		for i := backlog; i < n && !stop.Load(); i++ {
			create(i)
		}
		t.Logf("producer created %d executions in %v while workers ran", n-backlog, time.Since(start).Round(time.Millisecond))
	}()

	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("w%02d", w)
			policy := backend.ClaimPolicy{
				LeaseTTL: 30 * time.Second, MaxWait: 50 * time.Millisecond,
				WorkerID: backend.WorkerID(name), WorkerInstanceID: backend.WorkerInstanceID(name + "-1"),
			}
			for !stop.Load() {
				h, err := b.Claim(ctx, lane, backend.CapabilitySet{}, policy)
				if err != nil {
					errs.add("claim", err)
					continue
				}
				if h == nil {
					continue
				}
				if _, ok := flaky.Load(h.ExecutionID()); ok && h.AttemptIndex() == 0 {
					out, err := b.Fail(ctx, *h, backend.FailureReason{Message: "transient"}, backend.FailureTransient)
					if err != nil {
						errs.add("fail "+string(h.ExecutionID()), err)
						continue
					}
					if out.Kind != backend.FailRetryScheduled {
						errs.add("fail "+string(h.ExecutionID()), fmt.Errorf("outcome %q, want retry_scheduled", out.Kind))
					}
					failedOne.Add(1)
					continue
				}
				if err := b.Complete(ctx, *h, []byte(name)); err != nil {
					errs.add("complete "+string(h.ExecutionID()), err)
					continue
				}
				completed.Add(1)
			}
		}()
	}

	// Bounded: stop once every execution completed, or at the deadline,
	// which only catches a hang: it is far above the ~30 s this takes
	// under -race on a loaded 2-core machine, so speed never fails it.
	deadline := time.Now().Add(4 * time.Minute)
	for completed.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	errs.report(t)
	if got := completed.Load(); got != int64(n) {
		t.Fatalf("workers completed %d of %d executions before the deadline", got, n)
	}
	t.Logf("%d executions (%d created while workers ran), %d failed transiently once, %d workers, all completed after %v",
		n, trickle, failedOne.Load(), workers, time.Since(start).Round(time.Millisecond))

	for _, id := range ids {
		st, err := b.ReadExecutionState(ctx, id)
		if err != nil {
			t.Fatalf("read state of %s: %v", id, err)
		}
		if st == nil || *st != backend.PublicStateCompleted {
			t.Errorf("execution %s ends in state %v, want completed", id, st)
		}
	}
	raw := openRaw(t, path)
	checkOneSuccessEach(t, raw, ids)
}

// checkOneSuccessEach verifies from the raw rows that each of ids has
// exactly one success completion event and one successful attempt, and
// that no other execution has any.
func checkOneSuccessEach(t *testing.T, raw *sql.DB, ids []backend.ExecutionID) {
	t.Helper()
	counts := func(query string) map[string]int {
		t.Helper()
		rows, err := raw.QueryContext(t.Context(), query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		m := map[string]int{}
		for rows.Next() {
			var id string
			var c int
			if err := rows.Scan(&id, &c); err != nil {
				t.Fatal(err)
			}
			m[id] = c
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, q := range []struct{ what, query string }{
		{"success completion events", `SELECT execution_id, count(*) FROM ff_completion_event WHERE outcome = 'success' GROUP BY execution_id`},
		{"successful attempts", `SELECT execution_id, count(*) FROM ff_attempt WHERE outcome = 'success' GROUP BY execution_id`},
	} {
		m := counts(q.query)
		bad := 0
		for _, id := range ids {
			if c := m[string(id)]; c != 1 {
				bad++
				if bad <= 10 {
					t.Errorf("execution %s has %d %s, want 1", id, c, q.what)
				}
			}
		}
		if len(m) != len(ids) {
			t.Errorf("%d executions have %s, want %d", len(m), q.what, len(ids))
		}
		if bad > 0 {
			t.Errorf("%d of %d executions have other than one %s", bad, len(ids), q.what)
		}
	}
}

// Environment of the two-process scenario's children.
const (
	twoProcDBEnv     = "FFSQLITE_TWOPROC_CHILD_DB"
	twoProcWorkerEnv = "FFSQLITE_TWOPROC_CHILD_WORKER"
	twoProcLane      = backend.LaneID("twoproc")
)

// TestTwoProcessChildWorker is not a test on its own: it is the worker
// process of TestTwoProcessesNeverClaimTheSameExecution. It claims and
// completes (payload = its worker name) until two claims in a row with
// MaxWait 200ms find nothing, then returns.
func TestTwoProcessChildWorker(t *testing.T) {
	path := os.Getenv(twoProcDBEnv)
	if path == "" {
		t.Skip("runs only as a child of TestTwoProcessesNeverClaimTheSameExecution")
	}
	name := os.Getenv(twoProcWorkerEnv)
	ctx := context.Background()
	b, err := backend.NewWithOptions(ctx, path, backend.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatalf("child %s open: %v", name, err)
	}
	defer b.Close()
	policy := backend.ClaimPolicy{
		LeaseTTL: time.Minute, MaxWait: 200 * time.Millisecond,
		WorkerID: backend.WorkerID(name), WorkerInstanceID: backend.WorkerInstanceID(name + "-1"),
	}
	start := time.Now()
	empty, done, nils := 0, 0, 0
	var first time.Duration
	for empty < 2 {
		h, err := b.Claim(ctx, twoProcLane, backend.CapabilitySet{}, policy)
		if err != nil {
			t.Fatalf("child %s claim: %v", name, err)
		}
		if h == nil {
			empty++
			nils++
			continue
		}
		if done == 0 {
			first = time.Since(start)
		}
		empty = 0
		time.Sleep(time.Millisecond) // a little work, so the two workers overlap
		if err := b.Complete(ctx, *h, []byte(name)); err != nil {
			t.Fatalf("child %s complete %s: %v", name, h.ExecutionID(), err)
		}
		done++
	}
	t.Logf("child %s completed %d (first claim after %v, %d empty claims, exit after %v)",
		name, done, first.Round(time.Millisecond), nils, time.Since(start).Round(time.Millisecond))
}

// TestTwoProcessesNeverClaimTheSameExecution drains one file database with
// two worker processes, each with its own backend: every execution is
// completed exactly once (one success completion event, one successful
// attempt), the two workers' results cover all of them, and both workers
// did some of the work.
func TestTwoProcessesNeverClaimTheSameExecution(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	requireDevMode(t)
	const n = 1000
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "twoproc.db")
	b, err := backend.NewWithOptions(ctx, path, backend.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]backend.ExecutionID, n)
	for i := range ids {
		ids[i] = backend.NewExecutionID()
		if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{
			ExecutionID: ids[i], LaneID: twoProcLane, Namespace: "twoproc", ExecutionKind: "kind",
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	names := []string{"alpha", "beta"}
	type childRun struct {
		name string
		out  strings.Builder
		err  error
	}
	runs := make([]*childRun, len(names))
	cmds := make([]*exec.Cmd, len(names))
	childCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for i, name := range names {
		r := &childRun{name: name}
		cmd := exec.CommandContext(childCtx, os.Args[0], "-test.run=^TestTwoProcessChildWorker$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), twoProcDBEnv+"="+path, twoProcWorkerEnv+"="+name, backend.DevModeEnv+"=1")
		cmd.Stdout = &r.out
		cmd.Stderr = &r.out
		runs[i], cmds[i] = r, cmd
	}
	// Start both before waiting on either, so they overlap.
	for i, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			t.Fatalf("start child %s: %v", runs[i].name, err)
		}
	}
	for i, cmd := range cmds {
		runs[i].err = cmd.Wait()
	}
	for _, r := range runs {
		if r.err != nil {
			t.Errorf("child %s: %v\n%s", r.name, r.err, r.out.String())
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, r := range runs {
		for _, line := range strings.Split(r.out.String(), "\n") {
			if strings.Contains(line, "child "+r.name+" completed") {
				t.Log(strings.TrimSpace(line))
			}
		}
	}

	raw := openRaw(t, path)
	checkOneSuccessEach(t, raw, ids)

	// Who completed what, from the stored results.
	r, err := backend.NewWithOptions(ctx, path, backend.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	split := map[string]int{}
	for _, id := range ids {
		st, err := r.ReadExecutionState(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st == nil || *st != backend.PublicStateCompleted {
			t.Errorf("execution %s ends in state %v, want completed", id, st)
		}
		payload, ok, err := r.GetExecutionResult(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Errorf("execution %s has no result", id)
			continue
		}
		split[string(payload)]++
	}
	t.Logf("split of %d executions: %v", n, split)
	total := 0
	for w, c := range split {
		if w != "alpha" && w != "beta" {
			t.Errorf("%d executions carry result %q, not a worker name", c, w)
		}
		total += c
	}
	if total != n {
		t.Errorf("the workers' results cover %d of %d executions", total, n)
	}
	for _, name := range names {
		if split[name] == 0 {
			t.Errorf("worker %s claimed nothing (split %v); the processes did not overlap", name, split)
		}
	}
}
