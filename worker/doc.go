// Package worker runs handlers for one lane on top of a
// backend.EngineBackend: it claims executions, keeps their leases alive,
// and turns each handler's return into Complete or Fail.
//
// A Runner is built with New from a Config and a Handler and driven by
// Run:
//
//	r, err := worker.New(b, worker.Config{Lane: "emails", Concurrency: 8}, func(ctx context.Context, job *worker.Job) error {
//		if err := worker.Progress(ctx, 50, "rendering"); err != nil {
//			return err
//		}
//		return worker.SetResult(ctx, []byte(`{"sent":true}`))
//	})
//	if err != nil { … }
//	err = r.Run(ctx) // blocks until ctx is cancelled and in-flight work is settled
//
// # What the runner does with an attempt
//
//   - Claiming: one claim loop takes a free slot (at most Config.Concurrency
//     handlers run at once) and calls Claim with MaxWait, so an idle runner
//     parks on the backend's wake-ups instead of polling. On a backend with
//     CompleteAndClaim (backend.SQLiteBackend), a success also claims the
//     slot's next execution in the same transaction while the runner is
//     running, so a busy slot writes once per execution, not twice; the
//     claim loop only claims for idle slots.
//   - Renewing: every attempt's lease is renewed every
//     Config.RenewInterval. When Renew reports that the lease is gone
//     (backend.ErrStaleLease, backend.ErrLeaseExpired,
//     backend.ErrExecutionNotActive and the like: revoked, expired,
//     cancelled, taken over), the handler's context is cancelled with
//     cause ErrLeaseLost and its result is discarded: the execution
//     belongs to someone else now, and a Complete or Fail would be
//     rejected anyway. Other Renew errors (a busy or failing database)
//     are logged and retried at the next interval.
//   - Finishing: a nil return completes the execution with the payload
//     given to SetResult (none if it was not called); an error fails it
//     with backend.FailureTransient, so the execution's RetryPolicy
//     decides whether it runs again; an error wrapped with Permanent fails
//     it with backend.FailurePermanent. A panic is recovered and treated
//     as a transient failure whose message is "panic: <value>".
//   - Stopping: when Run's context is cancelled the runner stops claiming
//     and gives in-flight handlers Config.ShutdownGrace to finish. After
//     that their contexts are cancelled with cause ErrShuttingDown and
//     their leases are released with Delay to an instant in the past,
//     which returns the execution to the queue at once on the same attempt
//     index: the interrupted attempt consumes no retry, and nobody waits
//     for a lease to expire. A handler that returns an error after its
//     context was cancelled for shutdown is released the same way rather
//     than failed, because the error is most likely the cancellation
//     itself.
//
// # Handler helpers
//
// Progress, AppendFrame and SetResult find the running job through the
// handler's context, so code deep in a call stack needs only ctx. Called
// with a context that does not come from a handler they return
// ErrNotInHandler; called after the runner has settled the attempt they
// return ErrJobFinished.
//
// # Delivery
//
// Delivery is at least once: a handler whose lease lapsed (a stalled
// process, a lost database) may run again elsewhere while it is still
// running here. Handlers should be idempotent, and long ones should watch
// ctx.Done() so a lost lease stops them promptly.
package worker
