package worker_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
	"github.com/flowfabric/ffsqlite/worker"
)

func TestRunnerCompletesWithinConcurrencyLimit(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	const n, limit = 30, 4

	ids := map[backend.ExecutionID]int{}
	for i := range n {
		ids[tb.create(t, createOpts{input: []byte(strconv.Itoa(i))})] = i
	}

	var (
		inFlight, maxInFlight, started atomic.Int64
		firstWave                      = make(chan struct{})
		firstWaveOnce                  sync.Once
	)
	cfg := tb.config()
	cfg.Concurrency = limit
	r := newRunner(t, tb.b, cfg, func(ctx context.Context, job *worker.Job) error {
		cur := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxInFlight.Load(); cur > m && !maxInFlight.CompareAndSwap(m, cur); m = maxInFlight.Load() {
		}
		// The first `limit` handlers wait for each other, which proves the
		// runner really runs `limit` at once (and lets a runner that
		// ignored the limit show it by starting more meanwhile).
		if s := started.Add(1); s <= limit {
			if s == limit {
				firstWaveOnce.Do(func() { close(firstWave) })
			}
			select {
			case <-firstWave:
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(waitTimeout):
				return errors.New("first wave never filled")
			}
		}
		return worker.SetResult(ctx, append([]byte("done:"), job.InputPayload...))
	})
	start(t, r)

	for range n {
		o := tb.nextOutcome(t)
		if o.Kind != worker.OutcomeCompleted {
			t.Fatalf("outcome %q for %s: %v", o.Kind, o.Job.ExecutionID, o.Err)
		}
		if r.InFlight() > limit {
			t.Errorf("InFlight() = %d, want <= %d", r.InFlight(), limit)
		}
	}
	if got := maxInFlight.Load(); got != limit {
		t.Errorf("max in-flight handlers = %d, want exactly %d", got, limit)
	}
	for id, i := range ids {
		res, ok, err := tb.b.GetExecutionResult(t.Context(), id)
		if err != nil || !ok {
			t.Fatalf("result of %s: ok=%v err=%v", id, ok, err)
		}
		if want := fmt.Sprintf("done:%d", i); string(res) != want {
			t.Errorf("result of %s = %q, want %q", id, res, want)
		}
		if st := tb.state(t, id); st != backend.PublicStateCompleted {
			t.Errorf("state of %s = %s, want completed", id, st)
		}
	}
}

func TestRunnerFailureMapping(t *testing.T) {
	t.Parallel()

	// retryOnce allows one retry, due one second (fake time) after the failure.
	retryOnce := &backend.ExecutionPolicy{RetryPolicy: &backend.RetryPolicy{
		MaxRetries: backend.Ptr[uint32](1),
		Backoff:    backend.FixedBackoff(time.Second),
	}}
	noRetry := &backend.ExecutionPolicy{RetryPolicy: &backend.RetryPolicy{MaxRetries: backend.Ptr[uint32](0)}}

	tests := []struct {
		name    string
		policy  *backend.ExecutionPolicy
		handler worker.Handler
		// first is the outcome of attempt 0; when it schedules a retry,
		// attempt 1 must complete.
		first     worker.OutcomeKind
		class     backend.FailureClass
		errText   string
		wantState backend.PublicState
		attempts  backend.AttemptIndex
	}{
		{
			name:   "PanicIsTransient",
			policy: retryOnce,
			handler: func(ctx context.Context, job *worker.Job) error {
				if job.AttemptIndex == 0 {
					panic("boom")
				}
				return nil
			},
			first: worker.OutcomeRetryScheduled, class: backend.FailureTransient, errText: "panic: boom",
			wantState: backend.PublicStateCompleted, attempts: 2,
		},
		{
			name:   "PermanentFailsAtOnce",
			policy: retryOnce, // a retry is allowed, but Permanent skips it
			handler: func(ctx context.Context, job *worker.Job) error {
				return fmt.Errorf("wrapped: %w", worker.Permanent(errors.New("bad input")))
			},
			first: worker.OutcomeFailed, class: backend.FailurePermanent, errText: "wrapped: bad input",
			wantState: backend.PublicStateFailed, attempts: 1,
		},
		{
			name:   "TransientRetries",
			policy: retryOnce,
			handler: func(ctx context.Context, job *worker.Job) error {
				if job.AttemptIndex == 0 {
					return errors.New("upstream timeout")
				}
				return nil
			},
			first: worker.OutcomeRetryScheduled, class: backend.FailureTransient, errText: "upstream timeout",
			wantState: backend.PublicStateCompleted, attempts: 2,
		},
		{
			name:   "TransientWithoutRetriesLeftFails",
			policy: noRetry,
			handler: func(ctx context.Context, job *worker.Job) error {
				return errors.New("upstream timeout")
			},
			first: worker.OutcomeFailed, class: backend.FailureTransient, errText: "upstream timeout",
			wantState: backend.PublicStateFailed, attempts: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			id := tb.create(t, createOpts{policy: tt.policy})
			start(t, newRunner(t, tb.b, tb.config(), tt.handler))

			o := tb.nextOutcome(t)
			mustOutcome(t, o, id, tt.first)
			if o.Class != tt.class || o.Err == nil || o.Err.Error() != tt.errText {
				t.Fatalf("outcome class %q err %v, want %q %q", o.Class, o.Err, tt.class, tt.errText)
			}
			if tt.first == worker.OutcomeRetryScheduled {
				if want := tb.clock.Now().Add(time.Second); !o.RetryAt.Equal(want) {
					t.Errorf("RetryAt = %s, want %s", o.RetryAt, want)
				}
				if st := tb.state(t, id); st != backend.PublicStateDelayed {
					t.Fatalf("state after the failure = %s, want delayed", st)
				}
				// The retry falls due in fake time; the waiting claim
				// picks it up on its next look.
				tb.clock.Advance(time.Second)
				if _, err := tb.b.RunScannerOnce(t.Context(), scanners.JobDelayedPromoter); err != nil {
					t.Fatal(err)
				}
				o = tb.nextOutcome(t)
				mustOutcome(t, o, id, worker.OutcomeCompleted)
				if o.Job.AttemptIndex != 1 {
					t.Errorf("retry ran as attempt %d, want 1", o.Job.AttemptIndex)
				}
			}
			if st := tb.state(t, id); st != tt.wantState {
				t.Errorf("state = %s, want %s", st, tt.wantState)
			}
			if n := tb.attempts(t, id); n != tt.attempts {
				t.Errorf("attempts = %d, want %d", n, tt.attempts)
			}
		})
	}
}

func TestHandlerHelpers(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	id := tb.create(t, createOpts{input: []byte(`{"n":1}`), tags: map[string]string{"app.user": "42"}})

	var seen *worker.Job
	r := newRunner(t, tb.b, tb.config(), func(ctx context.Context, job *worker.Job) error {
		if j, ok := worker.JobFromContext(ctx); !ok || j != job {
			return fmt.Errorf("JobFromContext = %v, %v; want the handler's job", j, ok)
		}
		seen = job
		if err := worker.Progress(ctx, 40, "halfway"); err != nil {
			return fmt.Errorf("progress: %w", err)
		}
		if _, err := worker.AppendFrame(ctx, backend.Frame{Kind: backend.FrameStdout, Bytes: []byte("hello")}); err != nil {
			return fmt.Errorf("append frame: %w", err)
		}
		return worker.SetResult(ctx, []byte(`{"ok":true}`))
	})
	start(t, r)
	o := tb.nextOutcome(t)
	mustOutcome(t, o, id, worker.OutcomeCompleted)

	want := &worker.Job{
		ExecutionID:   id,
		AttemptIndex:  0,
		ExecutionKind: "test_kind",
		HandleKind:    backend.HandleFresh,
		InputPayload:  []byte(`{"n":1}`),
		Lane:          testLane,
		Tags:          map[string]string{"app.user": "42"},
	}
	if diff := cmp.Diff(want, seen, cmpopts.IgnoreUnexported(worker.Job{}), cmpopts.IgnoreFields(worker.Job{}, "Handle")); diff != "" {
		t.Errorf("job (-want +got):\n%s", diff)
	}
	if seen.Handle.ExecutionID() != id {
		t.Errorf("job handle is for %s, want %s", seen.Handle.ExecutionID(), id)
	}

	pct, msg := tb.progress(t, id)
	if !pct.Valid || pct.Int64 != 40 || !msg.Valid || msg.String != "halfway" {
		t.Errorf("progress = %v %v, want 40 %q", pct, msg, "halfway")
	}
	frames, err := tb.b.ReadStream(t.Context(), id, 0, backend.StreamStart, backend.StreamEnd, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames.Frames) != 1 || frames.Frames[0].Fields["payload"] != "hello" {
		t.Errorf("stream frames = %+v, want one with payload hello", frames.Frames)
	}
	if frames.ClosedReason != "attempt_success" {
		t.Errorf("stream closed reason = %q, want attempt_success", frames.ClosedReason)
	}
	res, ok, err := tb.b.GetExecutionResult(t.Context(), id)
	if err != nil || !ok || string(res) != `{"ok":true}` {
		t.Errorf("result = %q, %v, %v; want {\"ok\":true}", res, ok, err)
	}
}

func TestHandlerHelpersOutsideHandler(t *testing.T) {
	t.Parallel()

	t.Run("ErrNotInHandler", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		if err := worker.Progress(ctx, 1, "x"); !errors.Is(err, worker.ErrNotInHandler) {
			t.Errorf("Progress: %v, want ErrNotInHandler", err)
		}
		if _, err := worker.AppendFrame(ctx, backend.Frame{Kind: backend.FrameStdout}); !errors.Is(err, worker.ErrNotInHandler) {
			t.Errorf("AppendFrame: %v, want ErrNotInHandler", err)
		}
		if err := worker.SetResult(ctx, nil); !errors.Is(err, worker.ErrNotInHandler) {
			t.Errorf("SetResult: %v, want ErrNotInHandler", err)
		}
		if _, ok := worker.JobFromContext(ctx); ok {
			t.Error("JobFromContext found a job in a plain context")
		}
	})

	t.Run("ErrJobFinished", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		id := tb.create(t, createOpts{})
		handlerCtx := make(chan context.Context, 1)
		start(t, newRunner(t, tb.b, tb.config(), func(ctx context.Context, job *worker.Job) error {
			handlerCtx <- ctx
			return nil
		}))
		mustOutcome(t, tb.nextOutcome(t), id, worker.OutcomeCompleted)
		ctx := <-handlerCtx // as a goroutine that outlived its handler would hold it
		if err := worker.Progress(ctx, 1, "late"); !errors.Is(err, worker.ErrJobFinished) {
			t.Errorf("Progress: %v, want ErrJobFinished", err)
		}
		if _, err := worker.AppendFrame(ctx, backend.Frame{Kind: backend.FrameStdout}); !errors.Is(err, worker.ErrJobFinished) {
			t.Errorf("AppendFrame: %v, want ErrJobFinished", err)
		}
		if err := worker.SetResult(ctx, []byte("late")); !errors.Is(err, worker.ErrJobFinished) {
			t.Errorf("SetResult: %v, want ErrJobFinished", err)
		}
	})
}

// TestRenewalKeepsLeaseAlive runs one handler across three lease TTLs of
// fake time: before each step the runner must have renewed, and the
// lease-expiry scanner must leave the lease alone.
func TestRenewalKeepsLeaseAlive(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	id := tb.create(t, createOpts{})
	running, finish := make(chan struct{}), make(chan struct{})
	cfg := tb.config()
	cfg.LeaseTTL = 30 * time.Second
	cfg.RenewInterval = 5 * time.Millisecond // real time: renew often, the fake clock decides expiry
	start(t, newRunner(t, tb.b, cfg, func(ctx context.Context, job *worker.Job) error {
		close(running)
		select {
		case <-finish:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}))
	waitChan(t, running, "the handler to start")

	snap0 := tb.describe(t, id)
	for step := range 5 { // 5 × 20 s = 100 s, over three TTLs
		now := tb.clock.Advance(20 * time.Second)
		waitFor(t, "a renewal after the clock moved", func() (bool, error) {
			snap, err := tb.b.DescribeExecution(t.Context(), id)
			if err != nil || snap == nil || snap.CurrentLease == nil {
				return false, fmt.Errorf("describe: %v (snapshot %+v)", err, snap)
			}
			return !snap.CurrentLease.ExpiresAt.Before(now.Add(cfg.LeaseTTL)), nil
		})
		if _, err := tb.b.RunScannerOnce(t.Context(), scanners.JobLeaseExpiry); err != nil {
			t.Fatal(err)
		}
		snap := tb.describe(t, id)
		if snap.PublicState != backend.PublicStateActive || snap.CurrentLease == nil || snap.CurrentLease.LeaseEpoch != snap0.CurrentLease.LeaseEpoch {
			t.Fatalf("step %d: state %s lease %+v, want active with epoch %d", step, snap.PublicState, snap.CurrentLease, snap0.CurrentLease.LeaseEpoch)
		}
	}
	close(finish)
	mustOutcome(t, tb.nextOutcome(t), id, worker.OutcomeCompleted)
	if n := tb.attempts(t, id); n != 1 {
		t.Errorf("attempts = %d, want 1", n)
	}
}

// describe reads id's snapshot; it must have a live lease.
func (tb *testBundle) describe(t *testing.T, id backend.ExecutionID) *backend.ExecutionSnapshot {
	t.Helper()
	snap, err := tb.b.DescribeExecution(t.Context(), id)
	if err != nil || snap == nil {
		t.Fatalf("describe %s: %v (nil=%v)", id, err, snap == nil)
	}
	return snap
}

func TestLostLeaseCancelsHandler(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		// take takes the lease away from the running handler.
		take      func(t *testing.T, tb *testBundle, id backend.ExecutionID)
		wantState backend.PublicState
	}{
		{
			// A revoked lease makes the execution claimable again on the
			// same attempt: the runner claims it again and completes it,
			// and the lost attempt consumed no retry.
			name: "RevokeLease",
			take: func(t *testing.T, tb *testBundle, id backend.ExecutionID) {
				res, err := tb.b.RevokeLease(t.Context(), backend.RevokeLeaseArgs{ExecutionID: id, Reason: "test"})
				if err != nil || res.Kind != backend.RevokeLeaseRevoked {
					t.Fatalf("revoke: %+v, %v", res, err)
				}
			},
			wantState: backend.PublicStateCompleted,
		},
		{
			name: "CancelExecution",
			take: func(t *testing.T, tb *testBundle, id backend.ExecutionID) {
				if _, err := tb.b.CancelExecution(t.Context(), backend.CancelExecutionArgs{ExecutionID: id, Reason: "test"}); err != nil {
					t.Fatalf("cancel: %v", err)
				}
			},
			wantState: backend.PublicStateCancelled,
		},
		{
			// The lease lapses in fake time and the scanner marks it
			// expired: the jump is longer than the TTL from any renewal
			// the runner may have made before it. The runner then takes
			// the execution over as a reclaim (a new attempt).
			name: "LeaseExpired",
			take: func(t *testing.T, tb *testBundle, id backend.ExecutionID) {
				tb.clock.Advance(2 * time.Minute)
				if _, err := tb.b.RunScannerOnce(t.Context(), scanners.JobLeaseExpiry); err != nil {
					t.Fatal(err)
				}
			},
			wantState: backend.PublicStateCompleted,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			id := tb.create(t, createOpts{})
			running := make(chan struct{})
			causes := make(chan error, 1)
			var calls atomic.Int64
			cfg := tb.config()
			// One slot: the execution can only be claimed again once the
			// lost attempt is settled, which keeps the outcomes in order.
			cfg.Concurrency = 1
			start(t, newRunner(t, tb.b, cfg, func(ctx context.Context, job *worker.Job) error {
				if calls.Add(1) > 1 {
					return nil // a later claim of the same execution just finishes
				}
				close(running)
				<-ctx.Done()
				causes <- context.Cause(ctx)
				return ctx.Err()
			}))
			waitChan(t, running, "the handler to start")
			tt.take(t, tb, id)

			o := tb.nextOutcome(t)
			mustOutcome(t, o, id, worker.OutcomeLeaseLost)
			if cause := waitChan(t, causes, "the handler's context to be cancelled"); !errors.Is(cause, worker.ErrLeaseLost) {
				t.Errorf("handler ctx cause = %v, want ErrLeaseLost", cause)
			}
			if tt.wantState == backend.PublicStateCompleted {
				o := tb.nextOutcome(t)
				mustOutcome(t, o, id, worker.OutcomeCompleted)
				if o.Job.AttemptIndex != 0 && tt.name == "RevokeLease" {
					t.Errorf("re-claim ran attempt %d, want 0 (a revoke keeps the attempt)", o.Job.AttemptIndex)
				}
			}
			if st := tb.state(t, id); st != tt.wantState {
				t.Errorf("state = %s, want %s", st, tt.wantState)
			}
		})
	}
}

func TestGracefulStopLetsInFlightFinish(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	id := tb.create(t, createOpts{})
	running, finish := make(chan struct{}), make(chan struct{})
	var runningOnce sync.Once
	ctxErr := make(chan error, 1)
	cfg := tb.config()
	cfg.Concurrency = 1           // so nothing else can be claimed while the handler runs
	cfg.ShutdownGrace = time.Hour // the handler decides when it ends
	r := newRunner(t, tb.b, cfg, func(ctx context.Context, job *worker.Job) error {
		runningOnce.Do(func() { close(running) })
		<-finish
		ctxErr <- ctx.Err() // still live: the grace is not over
		return worker.SetResult(ctx, []byte("finished during shutdown"))
	})
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan error, 1)
	go func() { stopped <- r.Run(ctx) }()
	waitChan(t, running, "the handler to start")

	cancel()
	// Work created after the stop began must be left alone: the only slot
	// is busy until the handler ends, and then the runner is stopping.
	other := tb.create(t, createOpts{})
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) while a handler was still running", err)
	default:
	}
	close(finish)
	if err := waitChan(t, stopped, "Run to return"); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := <-ctxErr; err != nil {
		t.Errorf("handler ctx during the grace: %v, want nil", err)
	}
	mustOutcome(t, tb.nextOutcome(t), id, worker.OutcomeCompleted)
	if res, ok, err := tb.b.GetExecutionResult(t.Context(), id); err != nil || !ok || string(res) != "finished during shutdown" {
		t.Errorf("result = %q, %v, %v", res, ok, err)
	}
	if st := tb.state(t, other); st != backend.PublicStateWaiting {
		t.Errorf("execution created during the stop: state %s, want waiting (never claimed)", st)
	}
}

func TestGracefulStopReleasesAfterGrace(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		handler func(release <-chan struct{}, causes chan<- error) worker.Handler
	}{
		{
			name: "HandlerHonoursContext",
			handler: func(_ <-chan struct{}, causes chan<- error) worker.Handler {
				return func(ctx context.Context, job *worker.Job) error {
					<-ctx.Done()
					causes <- context.Cause(ctx)
					return ctx.Err()
				}
			},
		},
		{
			// Run must not wait for a handler that ignores cancellation.
			name: "HandlerIgnoresContext",
			handler: func(release <-chan struct{}, causes chan<- error) worker.Handler {
				return func(ctx context.Context, job *worker.Job) error {
					<-release
					causes <- context.Cause(ctx)
					return nil
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			id := tb.create(t, createOpts{})
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			causes := make(chan error, 1)
			cfg := tb.config()
			cfg.ShutdownGrace = 20 * time.Millisecond
			r := newRunner(t, tb.b, cfg, tt.handler(release, causes))
			stop := start(t, r)
			waitFor(t, "the handler to start", func() (bool, error) { return r.InFlight() == 1, nil })

			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			o := tb.nextOutcome(t)
			mustOutcome(t, o, id, worker.OutcomeReleased)
			if tt.name == "HandlerHonoursContext" {
				if cause := waitChan(t, causes, "the handler to see the cancellation"); !errors.Is(cause, worker.ErrShuttingDown) {
					t.Errorf("handler ctx cause = %v, want ErrShuttingDown", cause)
				}
			}

			// Released, not failed: claimable at once on the same attempt.
			if st := tb.state(t, id); st != backend.PublicStateWaiting {
				t.Fatalf("state after release = %s, want waiting", st)
			}
			h, err := tb.b.Claim(t.Context(), testLane, backend.CapabilitySet{}, backend.ClaimPolicy{
				LeaseTTL: time.Minute, WorkerID: "other", WorkerInstanceID: "other-1",
			})
			if err != nil || h == nil {
				t.Fatalf("claim after release: %v, %v", h, err)
			}
			if h.ExecutionID() != id || h.AttemptIndex() != 0 {
				t.Errorf("claimed %s attempt %d, want %s attempt 0", h.ExecutionID(), h.AttemptIndex(), id)
			}
			if n := tb.attempts(t, id); n != 1 {
				t.Errorf("attempts = %d, want 1 (a release consumes no retry)", n)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()

	t.Run("ErrInvalidCapabilities", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		cfg := tb.config()
		cfg.Capabilities = []string{"has space"}
		r := newRunner(t, tb.b, cfg, func(context.Context, *worker.Job) error { return nil })
		err := r.Run(t.Context())
		if !errors.Is(err, backend.ErrInvalidCapabilities) {
			t.Errorf("Run: %v, want ErrInvalidCapabilities", err)
		}
	})

	t.Run("ErrAlreadyStarted", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		r := newRunner(t, tb.b, tb.config(), func(context.Context, *worker.Job) error { return nil })
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := r.Run(ctx); err != nil {
			t.Fatalf("first Run: %v", err)
		}
		if err := r.Run(t.Context()); !errors.Is(err, worker.ErrAlreadyStarted) {
			t.Errorf("second Run: %v, want ErrAlreadyStarted", err)
		}
	})

	t.Run("ErrUnavailable", func(t *testing.T) {
		t.Parallel()
		tb := setup(t)
		b2, err := backend.NewWithOptions(t.Context(), tb.path, backend.Options{Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		if err := b2.Close(); err != nil {
			t.Fatal(err)
		}
		r := newRunner(t, b2, tb.config(), func(context.Context, *worker.Job) error { return nil })
		if err := r.Run(t.Context()); !errors.Is(err, backend.ErrUnavailable) {
			t.Errorf("Run on a closed backend: %v, want ErrUnavailable", err)
		}
	})
}
