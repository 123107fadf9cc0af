package tests

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// claimLog records which worker claimed what and flags double claims.
type claimLog struct {
	mu      sync.Mutex
	claimed map[backend.ExecutionID]string // execution → worker instance
	errs    []error
}

func newClaimLog() *claimLog {
	return &claimLog{claimed: map[backend.ExecutionID]string{}}
}

func (l *claimLog) record(id backend.ExecutionID, worker string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.claimed[id]; ok {
		l.errs = append(l.errs, fmt.Errorf("%s claimed by %s and again by %s", id, prev, worker))
		return
	}
	l.claimed[id] = worker
}

func (l *claimLog) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

// work claims from lane and completes what it claims (with the execution
// id as result) until stop says so or, without maxWait, until a claim
// finds nothing. It stops at the first error, which goes to the log.
func work(ctx context.Context, b *backend.SQLiteBackend, lane backend.LaneID, worker string, maxWait time.Duration,
	log *claimLog, stop func() bool, completed *atomic.Int64) {
	policy := backend.ClaimPolicy{
		// Long enough that no lease lapses on a loaded machine.
		LeaseTTL: 10 * time.Minute, MaxWait: maxWait, WorkerID: "conc", WorkerInstanceID: backend.WorkerInstanceID(worker),
	}
	for !stop() {
		h, err := b.Claim(ctx, lane, backend.CapabilitySet{}, policy)
		if err != nil {
			log.fail(fmt.Errorf("%s: Claim: %w", worker, err))
			return
		}
		if h == nil {
			if maxWait == 0 {
				return // the backlog is drained
			}
			continue
		}
		log.record(h.ExecutionID(), worker)
		if err := b.Complete(ctx, *h, []byte(h.ExecutionID())); err != nil {
			log.fail(fmt.Errorf("%s: Complete %s: %w", worker, h.ExecutionID(), err))
			return
		}
		completed.Add(1)
	}
}

// verifyAllCompletedOnce checks that every execution of ids was claimed
// once (the log), is listed, and was completed once with its own id as
// result on its first and only attempt. The per-row facts are read in one
// aggregate query over the file (thousands of single reads would dominate
// the test under -race); a sample is read through the public API too.
func verifyAllCompletedOnce(t *testing.T, e *execEnv, ids []backend.ExecutionID, log *claimLog) {
	t.Helper()
	for _, err := range log.errs {
		t.Error(err)
	}
	workers := map[string]int{}
	for _, id := range ids {
		w, ok := log.claimed[id]
		if !ok {
			t.Errorf("%s never claimed", id)
			continue
		}
		workers[w]++
	}
	if len(log.claimed) != len(ids) {
		t.Errorf("%d executions claimed, want %d", len(log.claimed), len(ids))
	}
	t.Logf("%d executions over %d workers: %v", len(ids), len(workers), workers)

	listed := map[backend.ExecutionID]bool{}
	for _, page := range listPages(t, e, backend.DefaultPartitionKey, 1000) {
		for _, id := range page.Items {
			listed[id] = true
		}
	}
	if len(listed) != len(ids) {
		t.Errorf("ListExecutions lists %d executions, want %d", len(listed), len(ids))
	}

	var rows, completedOnce int
	err := e.raw().QueryRowContext(e.ctx, `
		SELECT count(*),
		       coalesce(sum(public_state = 'completed' AND terminal_outcome = 'success'
		                    AND total_attempt_count = 1 AND attempt_index = 0
		                    AND result = CAST(execution_id AS BLOB)), 0)
		FROM ff_exec_core`).Scan(&rows, &completedOnce)
	if err != nil {
		t.Fatal(err)
	}
	if rows != len(ids) || completedOnce != len(ids) {
		t.Errorf("ff_exec_core: %d rows, %d completed once with their own result; want %d", rows, completedOnce, len(ids))
	}
	var events, distinct int
	if err := e.raw().QueryRowContext(e.ctx,
		`SELECT count(*), count(DISTINCT execution_id) FROM ff_completion_event WHERE outcome = 'success'`,
	).Scan(&events, &distinct); err != nil {
		t.Fatal(err)
	}
	if events != len(ids) || distinct != len(ids) {
		t.Errorf("completion events: %d for %d executions; want one each for %d", events, distinct, len(ids))
	}

	for i := 0; i < len(ids); i += max(1, len(ids)/50) {
		id := ids[i]
		if got := e.state(id); got != backend.PublicStateCompleted {
			t.Errorf("%s: state %s, want completed", id, got)
		}
		if res, ok, err := e.b.GetExecutionResult(e.ctx, id); err != nil || !ok || string(res) != string(id) {
			t.Errorf("%s: result %q, %v, %v", id, res, ok, err)
		}
		if n, err := e.b.ReadTotalAttemptCount(e.ctx, id); err != nil || n != 1 {
			t.Errorf("%s: %d attempts, %v; want 1", id, n, err)
		}
	}
}

// TestConcurrentWorkersDrainBacklog: 16 workers on two backends of one file
// database drain a pre-created backlog; each execution is claimed and
// completed exactly once and no call fails.
func TestConcurrentWorkersDrainBacklog(t *testing.T) {
	t.Parallel()
	n := 2000
	if testing.Short() {
		n = 200
	}
	const workers = 16
	e := newExecEnvWith(t, backend.Options{}) // system clock
	// A second backend on the same file shares the inner state.
	b2, err := backend.NewWithOptions(e.ctx, e.path, backend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b2.Close() })

	ids := make([]backend.ExecutionID, n)
	for i := range ids {
		ids[i] = e.create("conc", func(a *backend.CreateExecutionArgs) { a.Priority = int32(i % 5) })
	}

	log := newClaimLog()
	var completed atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		b := e.b
		if w%2 == 1 {
			b = b2
		}
		wg.Go(func() {
			work(e.ctx, b, "conc", fmt.Sprintf("w-%02d", w), 0, log, func() bool { return false }, &completed)
		})
	}
	wg.Wait()
	if got := completed.Load(); got != int64(n) {
		t.Errorf("completed %d, want %d", got, n)
	}
	verifyAllCompletedOnce(t, e, ids, log)
	if h := e.claim("conc"); h != nil {
		t.Errorf("claimed %s after the backlog drained", h.ExecutionID())
	}
}

// TestConcurrentProducerAndWaitingWorkers: workers wait in Claim (MaxWait)
// while a producer creates the work, so claims race creates and the
// wake-ups; every execution is still completed exactly once.
func TestConcurrentProducerAndWaitingWorkers(t *testing.T) {
	t.Parallel()
	n := 400
	if testing.Short() {
		n = 100
	}
	const workers = 8
	e := newExecEnvWith(t, backend.Options{})
	ctx, cancel := context.WithTimeout(e.ctx, 2*time.Minute)
	defer cancel()

	log := newClaimLog()
	var completed atomic.Int64
	stop := func() bool { return completed.Load() >= int64(n) || ctx.Err() != nil }
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			work(ctx, e.b, "prod", fmt.Sprintf("w-%02d", w), 200*time.Millisecond, log, stop, &completed)
		})
	}
	ids := make([]backend.ExecutionID, n)
	for i := range ids {
		ids[i] = e.create("prod", nil)
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("workers did not finish: %d of %d completed", completed.Load(), n)
	}
	verifyAllCompletedOnce(t, e, ids, log)
}
