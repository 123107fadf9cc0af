package backend

import (
	"context"
	"database/sql"
	"errors"

	"github.com/flowfabric/ffsqlite/dbgen"
	"github.com/flowfabric/ffsqlite/scanners"
)

// Suspension timeouts and pending-waitpoint expiry (spec 04 §6). Both run
// with no other process: the scanner supervisor (or RunScannerOnce) drives
// them off the backend Clock. Signals already delivered never depend on
// them: DeliverSignal resumes in its own transaction.

// timeoutOutcomes maps the terminal timeout behaviours to the execution's
// terminal outcome, the attempt's outcome and the waitpoints' close reason.
var timeoutOutcomes = map[TimeoutBehavior]struct {
	outcome TerminalOutcome
	attempt string
	close   string
}{
	TimeoutFail:   {OutcomeFailed, "failed", "timed_out_fail"},
	TimeoutCancel: {OutcomeCancelled, "cancelled", "timed_out_cancel"},
	TimeoutExpire: {OutcomeExpired, "expired", "timed_out_expire"},
}

// expireSuspensions applies each due suspension's timeout behaviour, one
// transaction per execution so one bad row never blocks the rest.
func expireSuspensions(ctx context.Context, db *database) (scanners.TickResult, error) {
	var due []string
	err := db.read(ctx, func(q *dbgen.Queries) error {
		var err error
		due, err = q.DueSuspensionTimeouts(ctx, dbgen.DueSuspensionTimeoutsParams{
			NowMs: sql.NullInt64{Int64: nowMS(db.clock), Valid: true}, Lim: scannerBatch,
		})
		return err
	})
	if err != nil {
		return scanners.TickResult{}, err
	}
	return reconcileRows(ctx, db, "suspension timeout", due, func(ctx context.Context, w *writeTx, id string) (bool, error) {
		return w.timeOutSuspension(ctx, id)
	})
}

// timeOutSuspension re-reads one suspension and, if it is still suspended
// past its deadline, applies its timeout behaviour. A timeout left on a
// suspension that already ended is cleared. It reports whether the
// execution changed.
func (w *writeTx) timeOutSuspension(ctx context.Context, executionID string) (bool, error) {
	sus, err := w.q.GetSuspension(ctx, executionID)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !sus.TimeoutAtMs.Valid || sus.TimeoutAtMs.Int64 > w.now {
		return false, nil
	}
	e, err := w.loadExec(ctx, executionID)
	if errors.Is(err, ErrNotFound) {
		return false, w.q.ClearSuspensionTimeout(ctx, executionID)
	}
	if err != nil {
		return false, err
	}
	if e.phase() != PhaseSuspended {
		return false, w.q.ClearSuspensionTimeout(ctx, executionID)
	}
	behavior := TimeoutBehavior(sus.TimeoutBehavior)
	switch behavior {
	case TimeoutAutoResume, "auto_resume":
		if err := w.q.InsertSignal(ctx, timeoutSignal(executionID, sus.SuspensionSeq, w.now)); err != nil {
			return false, err
		}
		return true, w.resumeSuspension(ctx, e, w.now, "timed_out_auto_resume")
	case TimeoutEscalate:
		if err := w.q.EscalateSuspension(ctx, executionID); err != nil {
			return false, err
		}
		e.BlockingReason = string(BlockingPausedByOperator)
		e.BlockingDetail = "suspension timed out: escalated for operator review"
		return true, w.saveExec(ctx, e)
	}
	end, ok := timeoutOutcomes[behavior]
	if !ok {
		// An unreadable behaviour fails the execution, the default.
		end = timeoutOutcomes[TimeoutFail]
		behavior = TimeoutFail
	}
	a, err := w.loadAttempt(ctx, executionID, e.AttemptIndex)
	if err != nil {
		return false, err
	}
	a.endLease(w.now, end.attempt)
	e.setState(PhaseTerminal, OwnershipUnowned, EligibilityNotApplicable, AttemptStateAttemptTerminal, BlockingNone)
	e.BlockingDetail = ""
	e.TerminalOutcome = string(end.outcome)
	e.TerminalAtMs = nullInt(w.now)
	e.LastFailureMessage = nullString("suspension_timeout:" + string(behavior))
	if behavior == TimeoutCancel {
		if !e.CancellationReason.Valid {
			e.CancellationReason = nullString("suspension_timeout_cancel")
		}
		if !e.CancelledBy.Valid {
			e.CancelledBy = nullString(string(CancelSourceSystemTimeout))
		}
	}
	if err := w.saveAttempt(ctx, a); err != nil {
		return false, err
	}
	if err := w.saveExec(ctx, e); err != nil {
		return false, err
	}
	if err := w.closeWaitpoints(ctx, executionID, statesOpen, end.close); err != nil {
		return false, err
	}
	// The suspension row stays (ObserveSignals reports the last
	// suspension); only its deadline goes.
	if err := w.q.ClearSuspensionTimeout(ctx, executionID); err != nil {
		return false, err
	}
	return true, w.becameTerminal(ctx, e)
}

// expirePendingWaitpoints marks pending waitpoints past their expiry
// expired, a bounded batch in one short transaction (idempotent: the
// update re-checks state and expiry itself).
func expirePendingWaitpoints(ctx context.Context, db *database) (scanners.TickResult, error) {
	var res scanners.TickResult
	err := db.write(ctx, func(ctx context.Context, w *writeTx) error {
		ids, err := w.q.ExpireDuePendingWaitpoints(ctx, dbgen.ExpireDuePendingWaitpointsParams{
			NowMs: nullInt(w.now), Lim: scannerBatch,
		})
		res.Processed = len(ids)
		return err
	})
	return res, err
}
