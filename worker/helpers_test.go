package worker_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, for reading progress columns the API does not expose

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/worker"
)

// TestMain sets FF_DEV_MODE=1 once: the backend refuses to open without
// it, and t.Setenv is not allowed in parallel tests.
func TestMain(m *testing.M) {
	if err := os.Setenv(backend.DevModeEnv, "1"); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// waitTimeout bounds every wait for an asynchronous event. It is generous
// on purpose: tests wait for things to happen, never assert they happen
// fast.
const waitTimeout = 20 * time.Second

// testLane is the lane every test claims from.
const testLane backend.LaneID = "work"

// quietLogger discards logs (the dev-mode banner, the runner's notes).
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testBundle is one test's database, clock and outcome stream.
type testBundle struct {
	b     *backend.SQLiteBackend
	clock *backend.FakeClock
	path  string
	// outcomes receives every Outcome of runners built with bundle.config.
	outcomes chan worker.Outcome
}

// setup opens a fresh file database in t.TempDir() on a FakeClock, so
// leases only expire when a test advances the clock.
func setup(t *testing.T) *testBundle {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ff.db")
	clock := backend.NewFakeClock(backend.FakeClockStartDefault)
	b, err := backend.NewWithOptions(t.Context(), path, backend.Options{Clock: clock, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &testBundle{b: b, clock: clock, path: path, outcomes: make(chan worker.Outcome, 1000)}
}

// config returns a Config for testLane whose outcomes go to tb.outcomes,
// with short real-time waits (the FakeClock governs lease expiry, not
// these) and a quiet logger.
func (tb *testBundle) config() worker.Config {
	return worker.Config{
		Lane:             testLane,
		ClaimMaxWait:     100 * time.Millisecond,
		Concurrency:      2,
		LeaseTTL:         time.Minute,
		Logger:           quietLogger(),
		OutcomeFunc:      func(o worker.Outcome) { tb.outcomes <- o },
		RenewInterval:    10 * time.Millisecond,
		ShutdownGrace:    waitTimeout,
		WorkerInstanceID: "test-worker",
	}
}

// createOpts are the optional parts of an execution (nil = default).
type createOpts struct {
	input  []byte
	policy *backend.ExecutionPolicy
	tags   map[string]string
}

// create submits one execution on testLane.
func (tb *testBundle) create(t *testing.T, opts createOpts) backend.ExecutionID {
	t.Helper()
	id := backend.NewExecutionID()
	if _, err := tb.b.CreateExecution(t.Context(), backend.CreateExecutionArgs{
		CreatorIdentity: "worker-test",
		ExecutionID:     id,
		ExecutionKind:   "test_kind",
		InputPayload:    opts.input,
		LaneID:          testLane,
		Namespace:       "test",
		PayloadEncoding: "json",
		Policy:          opts.policy,
		Tags:            opts.tags,
	}); err != nil {
		t.Fatalf("create execution: %v", err)
	}
	return id
}

// start runs r in the background until the returned stop is called; stop
// cancels Run's context and returns Run's error. A test that does not
// stop the runner gets it stopped at cleanup.
func start(t *testing.T, r *worker.Runner) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	var runErr error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(waitTimeout):
				runErr = errors.New("Run did not return after its context was cancelled")
			}
		}
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return stop
}

// newRunner builds a runner, failing the test on a config error.
func newRunner(t *testing.T, b backend.EngineBackend, cfg worker.Config, h worker.Handler) *worker.Runner {
	t.Helper()
	r, err := worker.New(b, cfg, h)
	if err != nil {
		t.Fatalf("worker.New: %v", err)
	}
	return r
}

// nextOutcome waits for the next outcome.
func (tb *testBundle) nextOutcome(t *testing.T) worker.Outcome {
	t.Helper()
	select {
	case o := <-tb.outcomes:
		return o
	case <-time.After(waitTimeout):
		t.Fatalf("no outcome within %s", waitTimeout)
		return worker.Outcome{}
	}
}

// waitChan waits for ch to be closed or to deliver.
func waitChan[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// state reads the public state of id.
func (tb *testBundle) state(t *testing.T, id backend.ExecutionID) backend.PublicState {
	t.Helper()
	st, err := tb.b.ReadExecutionState(t.Context(), id)
	if err != nil || st == nil {
		t.Fatalf("read state of %s: %v (nil=%v)", id, err, st == nil)
	}
	return *st
}

// attempts reads how many attempts id ever had.
func (tb *testBundle) attempts(t *testing.T, id backend.ExecutionID) backend.AttemptIndex {
	t.Helper()
	n, err := tb.b.ReadTotalAttemptCount(t.Context(), id)
	if err != nil {
		t.Fatalf("read attempt count of %s: %v", id, err)
	}
	return n
}

// progress reads id's progress columns through a read-only connection:
// no public read exposes them yet.
func (tb *testBundle) progress(t *testing.T, id backend.ExecutionID) (pct sql.NullInt64, msg sql.NullString) {
	t.Helper()
	dsn := "file:" + (&url.URL{Path: tb.path}).EscapedPath() + "?_pragma=busy_timeout(5000)&_pragma=query_only(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatalf("open raw view: %v", err)
	}
	defer db.Close()
	err = db.QueryRowContext(t.Context(), `SELECT progress_pct, progress_message FROM ff_exec_core WHERE execution_id = ?`, string(id)).Scan(&pct, &msg)
	if err != nil {
		t.Fatalf("read progress of %s: %v", id, err)
	}
	return pct, msg
}

// mustOutcome checks the kind of o and that it is for id.
func mustOutcome(t *testing.T, o worker.Outcome, id backend.ExecutionID, kind worker.OutcomeKind) {
	t.Helper()
	if o.Job == nil || o.Job.ExecutionID != id || o.Kind != kind {
		var got string
		if o.Job != nil {
			got = fmt.Sprintf("%s attempt %d", o.Job.ExecutionID, o.Job.AttemptIndex)
		}
		t.Fatalf("outcome %q for %s (err %v), want %q for %s", o.Kind, got, o.Err, kind, id)
	}
}
