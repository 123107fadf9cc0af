package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// operatorWrite validates id, then runs fn on the loaded execution in one
// write transaction (unknown is NotFound(execution)).
func (b *SQLiteBackend) operatorWrite(ctx context.Context, op string, id ExecutionID, fn func(ctx context.Context, w *writeTx, e *exec) error) error {
	db, err := b.live(op)
	if err != nil {
		return err
	}
	if _, err := ParseExecutionID(string(id)); err != nil {
		return err
	}
	return db.write(ctx, func(ctx context.Context, w *writeTx) error {
		e, err := w.loadExec(ctx, string(id))
		if err != nil {
			return err
		}
		return fn(ctx, w, e)
	})
}

// currentAttempt loads the execution's current attempt row, or nil when
// none was ever created.
func (w *writeTx) currentAttempt(ctx context.Context, e *exec) (*attempt, error) {
	if e.TotalAttemptCount == 0 {
		return nil, nil
	}
	a, err := w.loadAttempt(ctx, e.ExecutionID, e.AttemptIndex)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return a, err
}

// operatorEvent appends an operator outbox row with JSON details.
func (w *writeTx) operatorEvent(ctx context.Context, e *exec, kind string, details any) error {
	raw, err := json.Marshal(details)
	if err != nil {
		return err
	}
	_, err = w.q.InsertOperatorEvent(ctx, dbgen.InsertOperatorEventParams{
		ExecutionID:  e.ExecutionID,
		EventType:    kind,
		Details:      sql.NullString{String: string(raw), Valid: true},
		Namespace:    nullString(e.Namespace),
		InstanceTag:  e.InstanceTag,
		OccurredAtMs: w.now,
	})
	w.wake(topicOperator)
	return err
}

// CancelExecution is the operator cancel. Already cancelled returns the
// result without writing; another terminal state is ErrInvalidInput; a
// non-operator source with a live lease needs args.LeaseEpoch.
func (b *SQLiteBackend) CancelExecution(ctx context.Context, args CancelExecutionArgs) (CancelExecutionResult, error) {
	source := args.Source
	if source == "" {
		source = CancelSourceOperatorOverride
	}
	out := CancelExecutionResult{ExecutionID: args.ExecutionID, PublicState: PublicStateCancelled}
	err := b.operatorWrite(ctx, "cancel_execution", args.ExecutionID, func(ctx context.Context, w *writeTx, e *exec) error {
		w.now = w.callerNow(args.Now)
		if e.phase() == PhaseTerminal {
			if e.terminalOutcome() == OutcomeCancelled {
				return nil
			}
			return errInvalidInput("cancel_execution: execution_id=%s: already terminal in state '%s'", e.ExecutionID, e.PublicState)
		}
		a, err := w.currentAttempt(ctx, e)
		if err != nil {
			return err
		}
		leaseLive := a != nil && a.LeaseExpiresAtMs.Valid && e.phase() == PhaseActive
		if leaseLive && source != CancelSourceOperatorOverride {
			if args.LeaseEpoch == 0 {
				return errInvalidInput("cancel_execution: lease_epoch is required for source %q while a lease is live", source)
			}
			if int64(args.LeaseEpoch) != a.LeaseEpoch {
				return errState(SubKindStaleLease, fmt.Sprintf("cancel_execution: lease epoch %d is not the live epoch", args.LeaseEpoch))
			}
		}
		e.setState(PhaseTerminal, OwnershipUnowned, EligibilityNotApplicable, AttemptStateAttemptTerminal, BlockingNone)
		e.TerminalOutcome = string(OutcomeCancelled)
		e.DelayUntilMs = sql.NullInt64{}
		if !e.TerminalAtMs.Valid {
			e.TerminalAtMs = nullInt(w.now)
		}
		if !e.CancellationReason.Valid {
			e.CancellationReason = sql.NullString{String: args.Reason, Valid: true}
		}
		if !e.CancelledBy.Valid {
			e.CancelledBy = nullString(string(source))
		}
		if err := w.saveExec(ctx, e); err != nil {
			return err
		}
		if err := w.becameTerminal(ctx, e); err != nil {
			return err
		}
		if !leaseLive {
			return nil
		}
		// Bumping the epoch fences the old holder out of every handle op.
		a.endLease(w.now, "cancelled")
		a.LeaseEpoch++
		if err := w.saveAttempt(ctx, a); err != nil {
			return err
		}
		return w.leaseEvent(ctx, e, a, LeaseRevoked)
	})
	if err != nil {
		return CancelExecutionResult{}, err
	}
	return out, nil
}

// RevokeLease revokes the live lease (epoch + 1); the execution is
// immediately claimable again on the same attempt index. No matching lease
// is a RevokeLeaseAlreadySatisfied result.
func (b *SQLiteBackend) RevokeLease(ctx context.Context, args RevokeLeaseArgs) (RevokeLeaseResult, error) {
	var out RevokeLeaseResult
	err := b.operatorWrite(ctx, "revoke_lease", args.ExecutionID, func(ctx context.Context, w *writeTx, e *exec) error {
		a, err := w.currentAttempt(ctx, e)
		if err != nil {
			return err
		}
		satisfied := func(reason string) error {
			out = RevokeLeaseResult{Kind: RevokeLeaseAlreadySatisfied, Reason: reason}
			return nil
		}
		switch {
		case a == nil || e.phase() != PhaseActive || !a.WorkerInstanceID.Valid:
			return satisfied("no_active_lease")
		case args.WorkerInstanceID != "" && string(args.WorkerInstanceID) != a.WorkerInstanceID.String:
			return satisfied("different_worker_instance_id")
		case args.ExpectedLeaseID != "" && args.ExpectedLeaseID != a.LeaseID.String:
			return satisfied("lease_id_mismatch")
		}
		a.endLease(w.now, "interrupted")
		a.LeaseEpoch++
		e.setState(PhaseRunnable, OwnershipUnowned, EligibilityEligibleNow, AttemptStateAttemptInterrupted, BlockingWaitingForWorker)
		e.BlockingDetail = ""
		if err := w.saveAttempt(ctx, a); err != nil {
			return err
		}
		if err := w.saveExec(ctx, e); err != nil {
			return err
		}
		out = RevokeLeaseResult{Kind: RevokeLeaseRevoked, LeaseEpoch: LeaseEpoch(a.LeaseEpoch), LeaseID: a.LeaseID.String}
		return w.leaseEvent(ctx, e, a, LeaseRevoked)
	})
	if err != nil {
		return RevokeLeaseResult{}, err
	}
	return out, nil
}

// ChangePriority re-scores an execution that is neither active nor
// terminal; claim order reflects it at once. Active is ErrNotRunnable,
// terminal is ErrTerminal, unknown is NotFound(EntityExecution).
func (b *SQLiteBackend) ChangePriority(ctx context.Context, args ChangePriorityArgs) (ChangePriorityResult, error) {
	err := b.operatorWrite(ctx, "change_priority", args.ExecutionID, func(ctx context.Context, w *writeTx, e *exec) error {
		w.now = w.callerNow(args.Now)
		switch e.phase() {
		case PhaseActive:
			return errState(SubKindNotRunnable, "change_priority: execution is active")
		case PhaseTerminal:
			return errState(SubKindTerminal, "change_priority: execution is terminal")
		}
		old := e.Priority
		e.Priority = clampPriority(args.NewPriority)
		if err := w.saveExec(ctx, e); err != nil {
			return err
		}
		return w.operatorEvent(ctx, e, "priority_changed", map[string]int64{"old_priority": old, "new_priority": e.Priority})
	})
	if err != nil {
		return ChangePriorityResult{}, err
	}
	return ChangePriorityResult{ExecutionID: args.ExecutionID}, nil
}

// ReplayExecution re-queues a terminal execution on its current attempt
// index. Not terminal is ErrExecutionNotTerminal; past MaxReplayCount is
// ErrMaxReplaysExhausted.
func (b *SQLiteBackend) ReplayExecution(ctx context.Context, args ReplayExecutionArgs) (ReplayExecutionResult, error) {
	var out ReplayExecutionResult
	err := b.operatorWrite(ctx, "replay_execution", args.ExecutionID, func(ctx context.Context, w *writeTx, e *exec) error {
		w.now = w.callerNow(args.Now)
		if e.phase() != PhaseTerminal {
			return errState(SubKindExecutionNotTerminal, "replay_execution: execution is "+e.PublicState)
		}
		pol, err := e.policy()
		if err != nil {
			return err
		}
		limit := int64(MaxReplayCountDefault)
		if pol != nil && pol.MaxReplayCount > 0 {
			limit = int64(pol.MaxReplayCount)
		}
		if e.ReplayCount >= limit {
			return errState(SubKindMaxReplaysExhausted, fmt.Sprintf("replay_execution: %d replays used (max %d)", e.ReplayCount, limit))
		}
		a, err := w.currentAttempt(ctx, e)
		if err != nil {
			return err
		}
		skippedMember := e.terminalOutcome() == OutcomeSkipped && e.FlowID.Valid
		attemptState := AttemptStatePendingReplayAttempt
		if a == nil {
			// Never claimed (cancelled or expired while queued): the replay
			// is its first attempt.
			attemptState = AttemptStatePendingFirstAttempt
		}
		// A flow member whose inbound group is still pending (for example a
		// gated member cancelled before it ran) waits for it again.
		gated := skippedMember
		if !gated {
			if gated, err = w.childrenPending(ctx, e); err != nil {
				return err
			}
		}
		if gated {
			e.setState(PhaseRunnable, OwnershipUnowned, EligibilityBlockedByDependencies, attemptState, BlockingWaitingForChildren)
		} else {
			e.setState(PhaseRunnable, OwnershipUnowned, EligibilityEligibleNow, attemptState, BlockingWaitingForWorker)
		}
		e.TerminalOutcome = string(OutcomeNone)
		e.TerminalAtMs = sql.NullInt64{}
		e.Result = nil
		e.CancellationReason = sql.NullString{}
		e.CancelledBy = sql.NullString{}
		e.BlockingDetail = ""
		e.ReplayCount++
		if a != nil {
			a.LeaseExpiresAtMs = sql.NullInt64{}
			a.Outcome = sql.NullString{}
			a.TerminalAtMs = sql.NullInt64{}
			a.WorkerID = sql.NullString{}
			a.WorkerInstanceID = sql.NullString{}
			a.LeaseEpoch++
			if err := w.saveAttempt(ctx, a); err != nil {
				return err
			}
		}
		if err := w.saveExec(ctx, e); err != nil {
			return err
		}
		branch := map[string]any{"branch": "normal"}
		if skippedMember {
			// Reset its inbound group so it can resolve again (resolve.go);
			// this may promote e at once, and refreshes it.
			n, err := w.resetSkippedMember(ctx, e)
			if err != nil {
				return err
			}
			branch = map[string]any{"branch": "skipped_flow_member", "groups_reset": n}
		}
		out = ReplayExecutionResult{PublicState: PublicState(e.PublicState)}
		return w.operatorEvent(ctx, e, "replayed", branch)
	})
	if err != nil {
		return ReplayExecutionResult{}, err
	}
	return out, nil
}
