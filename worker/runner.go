package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// Timings of the runner's own backend calls.
const (
	// claimBackoffMin and claimBackoffMax bound the pause after a failed
	// Claim (doubling per consecutive failure), so a database outage is
	// not hammered in a tight loop.
	claimBackoffMin = 50 * time.Millisecond
	claimBackoffMax = 5 * time.Second
	// settleTimeout bounds each Complete, Fail or Delay call. They run
	// on a context detached from Run's (which may be cancelled already),
	// so they need their own bound; a lease left behind by a timed-out
	// call lapses at its expiry and the execution is reclaimed.
	settleTimeout = 10 * time.Second
	// settleAttempts is how often a settle call is tried when the backend
	// reports a retryable or transport error; the calls are idempotent per
	// handle (Complete and Fail return the first outcome on a repeat).
	settleAttempts = 3
)

// releaseAt is the delay_until of the Delay that releases an interrupted
// attempt. The backend makes any instant not after its own clock's now
// claimable at once; an instant in the distant past states that without
// depending on this process's clock agreeing with the backend's (a skewed
// host, or a test's FakeClock).
var releaseAt = time.UnixMilli(0).UTC()

// ErrAlreadyStarted is returned by a second call of Run on one Runner.
var ErrAlreadyStarted = errors.New("worker: Run already called on this runner")

// errHandlerExited is a handler's result when its goroutine ended without
// returning (runtime.Goexit, e.g. t.FailNow in a test handler).
var errHandlerExited = errors.New("worker: handler exited without returning")

// Runner claims executions of one lane and runs a Handler for each. Build
// it with New; it is safe for concurrent use, and Run may be called once.
type Runner struct {
	b       backend.EngineBackend
	cfg     Config
	handler Handler
	log     *slog.Logger
	caps    backend.CapabilitySet
	policy  backend.ClaimPolicy // the claim loop's (waits up to ClaimMaxWait)
	// chain, when the backend has it, completes a successful attempt and
	// claims the slot's next execution in one transaction.
	chain completeAndClaimer

	inFlight atomic.Int64
	started  atomic.Bool
}

// completeAndClaimer is the optional backend method behind chaining
// (backend.SQLiteBackend.CompleteAndClaim).
type completeAndClaimer interface {
	CompleteAndClaim(ctx context.Context, h backend.Handle, payload []byte, lane backend.LaneID, caps backend.CapabilitySet, policy backend.ClaimPolicy) (*backend.Handle, error)
}

// New validates cfg, fills its defaults and returns a Runner for handler
// on b. Errors match ErrInvalidConfig and backend.ErrInvalidInput (see
// ConfigError).
func New(b backend.EngineBackend, cfg Config, handler Handler) (*Runner, error) {
	if b == nil {
		return nil, configErr("backend", "must not be nil")
	}
	if handler == nil {
		return nil, configErr("handler", "must not be nil")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	chain, _ := b.(completeAndClaimer)
	return &Runner{
		b:       b,
		cfg:     cfg,
		handler: handler,
		log:     cfg.Logger.With("lane", string(cfg.Lane), "worker_instance_id", string(cfg.WorkerInstanceID)),
		caps:    backend.CapabilitySet{Tokens: cfg.Capabilities},
		policy: backend.ClaimPolicy{
			LeaseTTL:         cfg.LeaseTTL,
			MaxWait:          cfg.ClaimMaxWait,
			WorkerID:         cfg.WorkerID,
			WorkerInstanceID: cfg.WorkerInstanceID,
		},
		chain: chain,
	}, nil
}

// Config returns the configuration in effect, defaults filled in.
func (r *Runner) Config() Config {
	return r.cfg
}

// InFlight returns how many handlers are running now (at most
// Config.Concurrency while claiming; after the shutdown grace it also
// counts handlers that ignore their cancelled context).
func (r *Runner) InFlight() int {
	return int(r.inFlight.Load())
}

// Run claims and runs executions until ctx is cancelled, then stops
// claiming, waits up to Config.ShutdownGrace for in-flight handlers, and
// releases the leases of those still running (see the package doc). It
// returns nil after such a stop. It returns an error only when Claim
// reports something retrying cannot fix (a validation error such as bad
// capability tokens, or ErrUnavailable from a closed backend); in-flight
// handlers still get their grace first. A second call returns
// ErrAlreadyStarted.
//
// A handler that ignores its cancelled context may still be running when
// Run returns; its lease has been released and its result is discarded.
func (r *Runner) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return ErrAlreadyStarted
	}
	// Attempts outlive ctx by up to the grace, so their contexts (and the
	// renewals and settle calls) hang off stopCtx: it keeps ctx's values
	// but is cancelled only when the grace runs out.
	stopCtx, hardStop := context.WithCancelCause(context.WithoutCancel(ctx))
	defer hardStop(ErrShuttingDown)

	var attempts sync.WaitGroup
	err := r.claimLoop(ctx, stopCtx, &attempts)

	drained := make(chan struct{})
	go func() {
		attempts.Wait()
		close(drained)
	}()
	grace := time.NewTimer(r.cfg.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-drained:
	case <-grace.C:
		r.log.Warn("worker: shutdown grace over; cancelling and releasing in-flight attempts",
			"grace", r.cfg.ShutdownGrace, "in_flight", r.InFlight())
		hardStop(ErrShuttingDown)
		<-drained
	}
	return err
}

// claimLoop claims while ctx lives, starting one attempt goroutine per
// handle. A slot is taken before each Claim and given back when the
// attempt is settled (or, when its success claimed the next execution,
// when the last attempt of that chain is), so no more than Concurrency
// attempts are ever leased by this runner at once.
func (r *Runner) claimLoop(ctx, stopCtx context.Context, attempts *sync.WaitGroup) error {
	slots := make(chan struct{}, r.cfg.Concurrency)
	failures := 0
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		if ctx.Err() != nil {
			// select picks at random among ready cases: a slot freed just
			// as ctx ended must not start one more claim.
			return nil
		}
		h, err := r.b.Claim(ctx, r.cfg.Lane, r.caps, r.policy)
		if h != nil {
			// Run it even if ctx ended meanwhile: the lease is ours now,
			// and the shutdown path settles it properly.
			failures = 0
			attempts.Add(1)
			go func() {
				defer attempts.Done()
				defer func() { <-slots }()
				for next := h; next != nil; {
					next = r.runAttempt(ctx, stopCtx, *next)
				}
			}()
			continue
		}
		<-slots
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			failures = 0 // MaxWait passed with nothing to claim
			continue
		case errors.Is(err, backend.ErrValidation), errors.Is(err, backend.ErrUnavailable):
			return fmt.Errorf("worker: claim: %w", err)
		}
		failures++
		pause := min(claimBackoffMin<<min(failures-1, 10), claimBackoffMax)
		r.log.Warn("worker: claim failed; backing off", "err", err, "pause", pause)
		if !sleepCtx(ctx, pause) {
			return nil
		}
	}
}

// runAttempt runs the handler for one leased attempt, renewing the lease
// meanwhile, and settles it. It returns once the attempt is settled (or,
// after a lost lease, once the handler has returned too), with the next
// execution's handle when settling claimed one (see settle).
func (r *Runner) runAttempt(ctx, stopCtx context.Context, h backend.Handle) *backend.Handle {
	job := &Job{
		ExecutionID:  h.ExecutionID(),
		AttemptIndex: h.AttemptIndex(),
		Handle:       h,
		HandleKind:   h.Kind(),
		Lane:         r.cfg.Lane,
		b:            r.b,
	}
	ec, err := r.b.ReadExecutionContext(stopCtx, job.ExecutionID)
	if err != nil {
		if stopCtx.Err() != nil {
			r.report(r.release(stopCtx, job, 0))
			return nil
		}
		// The attempt cannot start; infra_crash is retryable, so the
		// execution's RetryPolicy bounds how often this repeats.
		job.finish()
		r.report(r.fail(stopCtx, job, fmt.Errorf("worker: read execution context: %w", err), backend.FailureInfraCrash, 0))
		return nil
	}
	job.ExecutionKind, job.InputPayload, job.Tags = ec.ExecutionKind, ec.InputPayload, ec.Tags

	jobCtx, cancel := context.WithCancelCause(stopCtx)
	defer cancel(nil)
	jobCtx = context.WithValue(jobCtx, jobKey{}, job)

	done := make(chan error, 1)
	start := time.Now()
	r.inFlight.Add(1)
	go func() {
		defer r.inFlight.Add(-1)
		err := errHandlerExited
		defer func() { done <- err }()
		err = r.call(jobCtx, job)
	}()

	renew := time.NewTicker(r.cfg.RenewInterval)
	defer renew.Stop()
	for {
		select {
		case herr := <-done:
			o, next := r.settle(ctx, stopCtx, job, herr, time.Since(start))
			r.report(o)
			return next
		case <-renew.C:
			_, err := r.b.Renew(stopCtx, h)
			if err == nil || stopCtx.Err() != nil {
				continue // renewed, or the grace ran out: the next turn settles it
			}
			if !leaseGone(err) {
				// Transport trouble: the lease still has up to two
				// intervals left, so try again at the next tick.
				r.log.Warn("worker: renew failed; retrying", "execution_id", job.ExecutionID, "err", err)
				continue
			}
			cancel(ErrLeaseLost)
			job.finish()
			// Keep the slot until the handler stops, so a handler that is
			// slow to notice never runs beside the next claim's.
			select {
			case <-done:
			case <-stopCtx.Done():
			}
			r.report(Outcome{Job: job, Kind: OutcomeLeaseLost, Err: err, Duration: time.Since(start)})
			return nil
		case <-stopCtx.Done():
			// The grace is over and jobCtx is cancelled with it; don't
			// wait for the handler, release the lease now.
			r.report(r.release(stopCtx, job, time.Since(start)))
			return nil
		}
	}
}

// call runs the handler, turning a panic into an error (the stack goes to
// the log, not into the stored failure message).
func (r *Runner) call(ctx context.Context, job *Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("worker: handler panicked", "execution_id", job.ExecutionID, "attempt", job.AttemptIndex,
				"panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return r.handler(ctx, job)
}

// settle maps the handler's return to Complete, Fail or, when shutdown
// cancelled the handler and it returned an error, a release. While the
// runner is still claiming (ctx lives) and the backend can, a success
// also claims the slot's next execution in the same transaction
// (CompleteAndClaim, without waiting for work: the claim loop waits), and
// that handle is returned.
func (r *Runner) settle(ctx, stopCtx context.Context, job *Job, herr error, d time.Duration) (Outcome, *backend.Handle) {
	result := job.finish()
	if herr == nil {
		sctx, cancel := settleContext(stopCtx)
		defer cancel()
		var next *backend.Handle
		err := retrySettle(sctx, func(sctx context.Context) error {
			if r.chain == nil || ctx.Err() != nil {
				return r.b.Complete(sctx, job.Handle, result)
			}
			// All or nothing, so a retry after an error repeats both.
			noWait := r.policy
			noWait.MaxWait = 0
			var err error
			next, err = r.chain.CompleteAndClaim(sctx, job.Handle, result, r.cfg.Lane, r.caps, noWait)
			return err
		})
		return r.backendOutcome(Outcome{Job: job, Kind: OutcomeCompleted, Duration: d}, err), next
	}
	if stopCtx.Err() != nil {
		return r.release(stopCtx, job, d), nil
	}
	class := backend.FailureTransient
	if IsPermanent(herr) {
		class = backend.FailurePermanent
	}
	return r.fail(stopCtx, job, herr, class, d), nil
}

// fail reports herr to Fail with class.
func (r *Runner) fail(stopCtx context.Context, job *Job, herr error, class backend.FailureClass, d time.Duration) Outcome {
	ctx, cancel := settleContext(stopCtx)
	defer cancel()
	var out backend.FailOutcome
	err := retrySettle(ctx, func(ctx context.Context) error {
		var err error
		out, err = r.b.Fail(ctx, job.Handle, backend.FailureReason{Message: herr.Error()}, class)
		return err
	})
	o := Outcome{Job: job, Class: class, Duration: d, Err: herr, Kind: OutcomeFailed}
	if out.Kind == backend.FailRetryScheduled {
		o.Kind, o.RetryAt = OutcomeRetryScheduled, out.DelayUntil
	}
	return r.backendOutcome(o, err)
}

// release hands an interrupted attempt back to the queue: Delay to a past
// instant ends the lease and makes the execution claimable at once on the
// same attempt index, so the interruption consumes no retry.
func (r *Runner) release(stopCtx context.Context, job *Job, d time.Duration) Outcome {
	job.finish()
	ctx, cancel := settleContext(stopCtx)
	defer cancel()
	err := retrySettle(ctx, func(ctx context.Context) error {
		return r.b.Delay(ctx, job.Handle, releaseAt)
	})
	return r.backendOutcome(Outcome{Job: job, Kind: OutcomeReleased, Duration: d}, err)
}

// backendOutcome turns a settle call's error into the outcome: o as
// planned on success, OutcomeLeaseLost when the lease was gone, else
// OutcomeFinishError.
func (r *Runner) backendOutcome(o Outcome, err error) Outcome {
	switch {
	case err == nil:
		return o
	case leaseGone(err):
		return Outcome{Job: o.Job, Duration: o.Duration, Err: err, Kind: OutcomeLeaseLost}
	}
	return Outcome{Job: o.Job, Duration: o.Duration, Err: err, Kind: OutcomeFinishError}
}

// report logs o and hands it to Config.OutcomeFunc.
func (r *Runner) report(o Outcome) {
	attrs := []any{"execution_id", o.Job.ExecutionID, "attempt", o.Job.AttemptIndex, "outcome", o.Kind, "duration", o.Duration}
	switch o.Kind {
	case OutcomeCompleted:
		r.log.Debug("worker: attempt settled", attrs...)
	case OutcomeRetryScheduled, OutcomeFailed:
		r.log.Info("worker: attempt failed", append(attrs, "class", o.Class, "err", o.Err)...)
	case OutcomeLeaseLost, OutcomeReleased:
		r.log.Warn("worker: attempt not settled here", append(attrs, "err", o.Err)...)
	default:
		r.log.Error("worker: settling the attempt failed; its lease will lapse", append(attrs, "err", o.Err)...)
	}
	if r.cfg.OutcomeFunc != nil {
		r.cfg.OutcomeFunc(o)
	}
}

// leaseGone reports errors that mean the attempt is no longer this
// runner's: superseded, expired, the execution ended or vanished.
func leaseGone(err error) bool {
	return errors.Is(err, backend.ErrStaleLease) ||
		errors.Is(err, backend.ErrLeaseExpired) ||
		errors.Is(err, backend.ErrExecutionNotActive) ||
		errors.Is(err, backend.ErrStaleOwnerCannotAppend) ||
		errors.Is(err, backend.ErrNotFound)
}

// settleContext is the context of one settle call: detached from Run's
// cancellation (settling is what shutdown waits for) but bounded.
func settleContext(stopCtx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(stopCtx), settleTimeout)
}

// retrySettle runs fn until it succeeds, fails for a reason retrying
// cannot fix, or settleAttempts are used up.
func retrySettle(ctx context.Context, fn func(context.Context) error) error {
	var err error
	for i := range settleAttempts {
		if err = fn(ctx); err == nil || !(backend.Retryable(err) || errors.Is(err, backend.ErrTransport)) {
			return err
		}
		if !sleepCtx(ctx, claimBackoffMin<<i) {
			return err
		}
	}
	return err
}

// sleepCtx waits for d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
