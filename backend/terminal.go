package backend

import (
	"context"
	"database/sql"
	"math"
	"time"
)

// Complete ends the execution successfully, storing payload as its result
// (nil = no result, empty = empty result). Repeating it with the same
// handle after success returns nil without writing.
func (b *SQLiteBackend) Complete(ctx context.Context, h Handle, payload []byte) error {
	return b.handleOp(ctx, "complete", h, func(ctx context.Context, w *writeTx, l *leased) error {
		return w.complete(ctx, l, payload)
	})
}

// complete is Complete's body, for the fenced lease l.
func (w *writeTx) complete(ctx context.Context, l *leased, payload []byte) error {
	if l.settled() {
		if l.att.Outcome.String == "success" {
			return nil
		}
		return l.notActive()
	}
	if err := w.requireLive(ctx, l); err != nil {
		return err
	}
	e := l.exec
	l.att.endLease(w.now, "success")
	e.setState(PhaseTerminal, OwnershipUnowned, EligibilityNotApplicable, AttemptStateAttemptTerminal, BlockingNone)
	e.TerminalOutcome = string(OutcomeSuccess)
	e.TerminalAtMs = nullInt(w.now)
	e.Result = payload
	if payload != nil && len(payload) == 0 {
		e.Result = []byte{} // an empty result is a result, not NULL
	}
	return w.finishAttempt(ctx, l, true)
}

// finishAttempt saves both rows after a holder's release, writes the
// completion event when the execution became terminal, then the lease
// event (in that order, spec 02 §6).
func (w *writeTx) finishAttempt(ctx context.Context, l *leased, terminal bool) error {
	if err := w.saveAttempt(ctx, l.att); err != nil {
		return err
	}
	if err := w.saveExec(ctx, l.exec); err != nil {
		return err
	}
	if terminal {
		if err := w.becameTerminal(ctx, l.exec); err != nil {
			return err
		}
	}
	return w.leaseEvent(ctx, l.exec, l.att, LeaseRevoked)
}

// retryable reports whether a failure class may be retried; unknown
// classes are treated as transient.
func retryable(c FailureClass) bool {
	switch c {
	case FailurePermanent, FailureTimeout, FailureCancelled:
		return false
	}
	return true
}

// backoffDelay is the delay before retry number r (0-based) under b
// (decision 10: exponential 1 s × 2 up to 60 s unless configured).
func backoffDelay(b Backoff, r int64) time.Duration {
	if b.Kind == BackoffFixed {
		if b.Delay > 0 {
			return b.Delay
		}
		return time.Second
	}
	initial, maxDelay, mult := b.InitialDelay, b.MaxDelay, b.Multiplier
	if initial <= 0 {
		initial = time.Second
	}
	if maxDelay <= 0 {
		maxDelay = 60 * time.Second
	}
	if mult <= 0 {
		mult = 2
	}
	d := float64(initial) * math.Pow(mult, float64(r))
	if d >= float64(maxDelay) || math.IsInf(d, 0) || math.IsNaN(d) {
		return maxDelay
	}
	return time.Duration(d)
}

// Fail records a failure: a retryable class schedules a retry per the
// execution's RetryPolicy until MaxRetries is used up; a terminal class or
// exhausted retries fail the execution terminally. Repeating it with the
// same handle returns the first outcome.
func (b *SQLiteBackend) Fail(ctx context.Context, h Handle, reason FailureReason, class FailureClass) (FailOutcome, error) {
	var out FailOutcome
	err := b.handleOp(ctx, "fail", h, func(ctx context.Context, w *writeTx, l *leased) error {
		if l.settled() {
			switch l.att.Outcome.String {
			case "failed":
				out = FailOutcome{Kind: FailTerminalFailed}
				return nil
			case "retry":
				out = FailOutcome{Kind: FailRetryScheduled, DelayUntil: fromMS(l.att.RetryDueAtMs.Int64)}
				return nil
			}
			return l.notActive()
		}
		if err := w.requireLive(ctx, l); err != nil {
			return err
		}
		e := l.exec
		pol, err := e.policy()
		if err != nil {
			return err
		}
		e.LastFailureMessage = nullString(reason.Message)
		category := string(class)
		if category == "" {
			category = string(FailureTransient)
		}
		if len(reason.Detail) > 0 {
			category = string(reason.Detail)
		}
		e.FailureCategory = nullString(category)

		retry := retryable(class)
		var delay time.Duration
		if retry {
			maxRetries := int64(MaxRetriesDefault)
			var backoff Backoff
			if pol != nil && pol.RetryPolicy != nil {
				backoff = pol.RetryPolicy.Backoff
				if pol.RetryPolicy.MaxRetries != nil {
					maxRetries = int64(*pol.RetryPolicy.MaxRetries)
				}
			}
			retry = e.RetryCount < maxRetries
			delay = backoffDelay(backoff, e.RetryCount)
		}
		if !retry {
			l.att.endLease(w.now, "failed")
			e.setState(PhaseTerminal, OwnershipUnowned, EligibilityNotApplicable, AttemptStateAttemptTerminal, BlockingNone)
			e.TerminalOutcome = string(OutcomeFailed)
			e.TerminalAtMs = nullInt(w.now)
			out = FailOutcome{Kind: FailTerminalFailed}
			return w.finishAttempt(ctx, l, true)
		}
		due := w.now + durationToMS(delay)
		l.att.endLease(w.now, "retry")
		l.att.RetryDueAtMs = nullInt(due)
		e.RetryCount++
		w.parkUntil(e, AttemptStatePendingRetryAttempt, due, BlockingWaitingForRetryBackoff, "retry backoff")
		out = FailOutcome{Kind: FailRetryScheduled, DelayUntil: fromMS(due)}
		return w.finishAttempt(ctx, l, false)
	})
	if err != nil {
		return FailOutcome{}, err
	}
	return out, nil
}

// parkUntil makes a released execution runnable again, at due or at once
// when due is not in the future.
func (w *writeTx) parkUntil(e *exec, att AttemptState, due int64, br BlockingReason, why string) {
	if due > w.now {
		e.setState(PhaseRunnable, OwnershipUnowned, EligibilityNotEligibleUntilTime, att, br)
		e.DelayUntilMs = nullInt(due)
		e.BlockingDetail = why + " until " + fromMS(due).Format(time.RFC3339Nano)
		return
	}
	e.setState(PhaseRunnable, OwnershipUnowned, EligibilityEligibleNow, att, BlockingWaitingForWorker)
	e.DelayUntilMs = sql.NullInt64{}
	e.BlockingDetail = ""
}

// Cancel is the lease holder's cooperative cancel: the execution ends
// cancelled with reason. An expired (but not superseded) lease may still
// cancel. Repeating it returns nil.
func (b *SQLiteBackend) Cancel(ctx context.Context, h Handle, reason string) error {
	return b.handleOp(ctx, "cancel", h, func(ctx context.Context, w *writeTx, l *leased) error {
		e := l.exec
		if e.phase() == PhaseTerminal {
			if e.terminalOutcome() == OutcomeCancelled {
				return nil
			}
			return l.notActive()
		}
		if l.settled() {
			return l.notActive()
		}
		if e.phase() != PhaseActive || e.AttemptIndex != l.att.AttemptIndex {
			return l.notActive()
		}
		if e.ownership() == OwnershipLeaseRevoked {
			return errState(SubKindStaleLease, "lease revoked")
		}
		l.att.endLease(w.now, "cancelled")
		e.setState(PhaseTerminal, OwnershipUnowned, EligibilityNotApplicable, AttemptStateAttemptTerminal, BlockingNone)
		e.TerminalOutcome = string(OutcomeCancelled)
		e.TerminalAtMs = nullInt(w.now)
		if !e.CancellationReason.Valid {
			e.CancellationReason = sql.NullString{String: reason, Valid: true}
		}
		if !e.CancelledBy.Valid {
			e.CancelledBy = nullString("worker")
		}
		return w.finishAttempt(ctx, l, true)
	})
}

// Delay releases the lease and parks the execution until delayUntil
// (public state delayed); the next claim continues the same attempt index.
// A past time makes it claimable at once.
func (b *SQLiteBackend) Delay(ctx context.Context, h Handle, delayUntil time.Time) error {
	if delayUntil.IsZero() {
		return errInvalidInput("delay: delay_until is required")
	}
	return b.handleOp(ctx, "delay", h, func(ctx context.Context, w *writeTx, l *leased) error {
		if l.settled() {
			return l.notActive()
		}
		if err := w.requireLive(ctx, l); err != nil {
			return err
		}
		l.att.endLease(w.now, "interrupted")
		w.parkUntil(l.exec, AttemptStateAttemptInterrupted, toMS(delayUntil), BlockingWaitingForDelay, "delayed")
		return w.finishAttempt(ctx, l, false)
	})
}

// WaitChildren releases the lease and makes the execution wait for its
// children: blocked on its inbound dependency group until it resolves, or
// claimable at once when there is nothing to wait for.
func (b *SQLiteBackend) WaitChildren(ctx context.Context, h Handle) error {
	return b.handleOp(ctx, "wait_children", h, func(ctx context.Context, w *writeTx, l *leased) error {
		if l.settled() {
			return l.notActive()
		}
		if err := w.requireLive(ctx, l); err != nil {
			return err
		}
		blocked, err := w.childrenPending(ctx, l.exec)
		if err != nil {
			return err
		}
		l.att.endLease(w.now, "waiting_children")
		if blocked {
			l.exec.setState(PhaseRunnable, OwnershipUnowned, EligibilityBlockedByDependencies, AttemptStateAttemptInterrupted, BlockingWaitingForChildren)
			l.exec.BlockingDetail = "waiting for child executions to complete"
		} else {
			w.parkUntil(l.exec, AttemptStateAttemptInterrupted, w.now, BlockingWaitingForWorker, "")
		}
		return w.finishAttempt(ctx, l, false)
	})
}

// childrenPending reports whether e has an applied inbound dependency
// group that is not yet decided (resolve.go). Executions outside any flow,
// and members without inbound edges, have nothing to wait for.
func (w *writeTx) childrenPending(ctx context.Context, e *exec) (bool, error) {
	return w.childrenGroupPending(ctx, e)
}
