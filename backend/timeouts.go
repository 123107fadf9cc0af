package backend

import (
	"context"
	"database/sql"

	"github.com/flowfabric/ffsqlite/dbgen"
	"github.com/flowfabric/ffsqlite/scanners"
)

// Attempt timeouts and execution deadlines (spec 05 §B.4 J3, J4). Both
// scan an index of candidates, then handle each execution in its own
// transaction that re-reads it and re-checks the predicate, so a
// concurrent Complete, a second tick or a second process never acts twice.

// Messages stored as last_failure_message by the two scanners.
const (
	attemptTimeoutMessage    = "attempt_timeout"
	executionDeadlineMessage = "execution_deadline"
)

// timeOutAttempts is the attempt_timeout tick.
func timeOutAttempts(ctx context.Context, db *database) (scanners.TickResult, error) {
	ns, tagSet, tag := filterArgs(db.scannerSettings().filter)
	var due []string
	err := db.read(ctx, func(q *dbgen.Queries) error {
		var err error
		due, err = q.AttemptTimeoutsDue(ctx, dbgen.AttemptTimeoutsDueParams{
			NowMs: sql.NullInt64{Int64: nowMS(db.clock), Valid: true}, Namespace: ns, TagSet: tagSet, InstanceTag: tag, Lim: scannerBatch,
		})
		return err
	})
	if err != nil {
		return scanners.TickResult{}, err
	}
	return tickRows(ctx, db, "attempt timeout", due, func(ctx context.Context, w *writeTx, id string) (int, error) {
		return w.timeOutAttempt(ctx, id)
	})
}

// timeOutAttempt ends an active execution's attempt whose lease started
// longer ago than the policy's attempt timeout: its lease is revoked and
// the execution retries at once when its retry policy has retries left
// (a new attempt on the next claim), else it ends expired.
func (w *writeTx) timeOutAttempt(ctx context.Context, id string) (int, error) {
	e, err := w.loadExec(ctx, id)
	if isNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if e.phase() != PhaseActive || !e.AttemptTimeoutMs.Valid {
		return 0, nil
	}
	a, err := w.loadAttempt(ctx, id, e.AttemptIndex)
	if err != nil {
		return 0, err
	}
	if a.Outcome.Valid || !a.StartedAtMs.Valid || a.StartedAtMs.Int64+e.AttemptTimeoutMs.Int64 >= w.now {
		return 0, nil
	}
	pol, err := e.policy()
	if err != nil {
		return 0, err
	}
	maxRetries := int64(MaxRetriesDefault)
	if pol != nil && pol.RetryPolicy != nil && pol.RetryPolicy.MaxRetries != nil {
		maxRetries = int64(*pol.RetryPolicy.MaxRetries)
	}
	wasLeased := e.ownership() == OwnershipLeased
	a.endLease(w.now, "interrupted")
	e.LastFailureMessage = nullString(attemptTimeoutMessage)
	e.FailureCategory = nullString(string(FailureTimeout))
	terminal := e.RetryCount >= maxRetries
	if terminal {
		e.setState(PhaseTerminal, OwnershipUnowned, EligibilityNotApplicable, AttemptStateAttemptTerminal, BlockingNone)
		e.TerminalOutcome = string(OutcomeExpired)
		e.TerminalAtMs = nullInt(w.now)
	} else {
		e.RetryCount++
		e.setState(PhaseRunnable, OwnershipUnowned, EligibilityEligibleNow, AttemptStatePendingRetryAttempt, BlockingWaitingForWorker)
		e.BlockingDetail = ""
	}
	return 1, w.endAttemptBy(ctx, e, a, terminal, wasLeased)
}

// endAttemptBy saves an execution and its attempt after a scanner ended
// the attempt, then writes the completion event (terminal) and the lease
// event (revoked, when a live lease was ended).
func (w *writeTx) endAttemptBy(ctx context.Context, e *exec, a *attempt, terminal, wasLeased bool) error {
	if a != nil {
		if err := w.saveAttempt(ctx, a); err != nil {
			return err
		}
	}
	if err := w.saveExec(ctx, e); err != nil {
		return err
	}
	if terminal {
		if err := w.becameTerminal(ctx, e); err != nil {
			return err
		}
	}
	if a != nil && wasLeased {
		return w.leaseEvent(ctx, e, a, LeaseRevoked)
	}
	return nil
}

// expireDeadlines is the execution_deadline tick.
func expireDeadlines(ctx context.Context, db *database) (scanners.TickResult, error) {
	ns, tagSet, tag := filterArgs(db.scannerSettings().filter)
	var due []string
	err := db.read(ctx, func(q *dbgen.Queries) error {
		var err error
		due, err = q.ExecutionDeadlinesDue(ctx, dbgen.ExecutionDeadlinesDueParams{
			NowMs: sql.NullInt64{Int64: nowMS(db.clock), Valid: true}, Namespace: ns, TagSet: tagSet, InstanceTag: tag, Lim: scannerBatch,
		})
		return err
	})
	if err != nil {
		return scanners.TickResult{}, err
	}
	return tickRows(ctx, db, "execution deadline", due, func(ctx context.Context, w *writeTx, id string) (int, error) {
		return w.expireDeadline(ctx, id)
	})
}

// expireDeadline ends an unfinished execution past its absolute deadline
// as expired, whatever it was doing: a running attempt is interrupted (its
// lease revoked), a suspension's open waitpoints are closed and its
// timeout dropped (the suspension row stays, as for a suspension timeout).
func (w *writeTx) expireDeadline(ctx context.Context, id string) (int, error) {
	e, err := w.loadExec(ctx, id)
	if isNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if e.phase() == PhaseTerminal || !e.DeadlineAtMs.Valid || e.DeadlineAtMs.Int64 >= w.now {
		return 0, nil
	}
	var a *attempt
	wasLeased := false
	if e.phase() == PhaseActive || e.phase() == PhaseSuspended {
		if a, err = w.currentAttempt(ctx, e); err != nil {
			return 0, err
		}
		if a != nil && !a.Outcome.Valid {
			wasLeased = e.phase() == PhaseActive && e.ownership() == OwnershipLeased
			a.endLease(w.now, "interrupted")
		} else {
			a = nil
		}
	}
	if e.phase() == PhaseSuspended {
		if err := w.closeWaitpoints(ctx, id, statesOpen, "timed_out_expire"); err != nil {
			return 0, err
		}
		if err := w.q.ClearSuspensionTimeout(ctx, id); err != nil {
			return 0, err
		}
	}
	e.setState(PhaseTerminal, OwnershipUnowned, EligibilityNotApplicable, AttemptStateAttemptTerminal, BlockingNone)
	e.BlockingDetail = ""
	e.DelayUntilMs = sql.NullInt64{}
	e.TerminalOutcome = string(OutcomeExpired)
	e.TerminalAtMs = nullInt(w.now)
	e.LastFailureMessage = nullString(executionDeadlineMessage)
	return 1, w.endAttemptBy(ctx, e, a, true, wasLeased)
}
