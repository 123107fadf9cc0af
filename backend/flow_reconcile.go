package backend

import (
	"context"

	"github.com/flowfabric/ffsqlite/dbgen"
	"github.com/flowfabric/ffsqlite/scanners"
)

// The flow reconcilers (spec 05 §B.4 J8, J9, J12, J13). Dependency
// resolution and member cancellation happen inline, in the transaction of
// the change that causes them, so these are safety nets: they find work
// only when a row was written by a path that did not finish it (an older
// binary, a foreign writer, a backlog whose members were replayed). Each
// handles one row per transaction and re-checks its predicate inside it,
// so two ticks (or two processes) never act twice.
//
// The stale threshold comes from the installed Config (scannerSettings);
// the cancel grace is the package default and Config.Filter is not
// applied to flow rows.

// reconcileDependencies re-drives completion events that no inline
// resolution consumed and that are older than the stale threshold: the
// event is claimed (dispatched_at_ms set only if still NULL), then a
// terminal outcome resolves the execution's still-unresolved outgoing
// edges. Other outcomes, and executions outside flows, are just marked.
func reconcileDependencies(ctx context.Context, db *database) (scanners.TickResult, error) {
	var rows []dbgen.CompletionEventUndispatchedRow
	err := db.read(ctx, func(q *dbgen.Queries) error {
		var err error
		cutoff := nowMS(db.clock) - durationToMS(db.scannerSettings().staleThreshold)
		rows, err = q.CompletionEventUndispatched(ctx, dbgen.CompletionEventUndispatchedParams{CutoffMs: cutoff, Lim: scannerBatch})
		return err
	})
	if err != nil {
		return scanners.TickResult{}, err
	}
	return reconcileRows(ctx, db, "dependency reconciler", rows, func(ctx context.Context, w *writeTx, row dbgen.CompletionEventUndispatchedRow) (bool, error) {
		n, err := w.q.CompletionEventMarkDispatched(ctx, dbgen.CompletionEventMarkDispatchedParams{NowMs: nullInt(w.now), EventID: row.EventID})
		if err != nil || n == 0 {
			return false, err
		}
		switch TerminalOutcome(row.Outcome) {
		case OutcomeSuccess, OutcomeFailed, OutcomeCancelled, OutcomeExpired, OutcomeSkipped:
		default:
			return true, nil
		}
		e, err := w.loadExec(ctx, row.ExecutionID)
		if isNotFound(err) || (err == nil && !e.FlowID.Valid) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		r := &resolver{w: w}
		r.push(e, TerminalOutcome(row.Outcome), false)
		return true, r.drain(ctx)
	})
}

// reconcileCancelBacklog drains cancel backlogs older than one reconciler
// interval (and past their grace, if any): a member that is not terminal
// (CancelFlowHeader cancelled it, but it was replayed since) is cancelled
// with the backlog's reason, then every member is acknowledged, which
// removes the backlog.
func reconcileCancelBacklog(ctx context.Context, db *database) (scanners.TickResult, error) {
	var rows []dbgen.FfCancelBacklog
	err := db.read(ctx, func(q *dbgen.Queries) error {
		var err error
		now := nowMS(db.clock)
		rows, err = q.CancelBacklogDue(ctx, dbgen.CancelBacklogDueParams{
			NowMs: nullInt(now), CutoffMs: now - durationToMS(scanners.CancelReconcilerIntervalDefault), Lim: scannerBatch,
		})
		return err
	})
	if err != nil {
		return scanners.TickResult{}, err
	}
	return reconcileRows(ctx, db, "cancel reconciler", rows, func(ctx context.Context, w *writeTx, row dbgen.FfCancelBacklog) (bool, error) {
		backlog, err := w.q.CancelBacklogGet(ctx, row.FlowID)
		if isNoRows(err) {
			return false, nil // acknowledged since the batch was read
		}
		if err != nil {
			return false, err
		}
		ids, err := w.q.CancelBacklogMemberIDs(ctx, backlog.FlowID)
		if err != nil {
			return false, err
		}
		var live []string
		for _, id := range ids {
			e, err := w.loadExec(ctx, id)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return false, err
			}
			if e.phase() != PhaseTerminal {
				live = append(live, id)
			}
		}
		flipped, err := w.cancelMembers(ctx, live, backlog.Reason, string(CancelSourceFlowCascade))
		if err != nil {
			return false, err
		}
		if err := w.settleTerminal(ctx, flipped...); err != nil {
			return false, err
		}
		for _, id := range ids {
			if err := w.ackCancelMember(ctx, backlog.FlowID, id); err != nil {
				return false, err
			}
		}
		// A backlog written for a flow without in-flight members has no
		// member rows; it goes too.
		return true, w.q.CancelBacklogDeleteIfEmpty(ctx, backlog.FlowID)
	})
}

// pendingCancelGroups reads the edge-cancel jobs' batch.
func pendingCancelGroups(ctx context.Context, db *database) ([]dbgen.PendingCancelGroupListRow, error) {
	var rows []dbgen.PendingCancelGroupListRow
	err := db.read(ctx, func(q *dbgen.Queries) error {
		var err error
		rows, err = q.PendingCancelGroupList(ctx, scannerBatch)
		return err
	})
	return rows, err
}

// dispatchEdgeCancels is the edge-cancel dispatcher: a pending group whose
// sibling cancels are queued (cancel_siblings_pending_flag = 1) gets every
// queued, non-terminal sibling cancelled, then its flag and queue cleared
// and its pending row deleted; an orphan pending row (group gone) is
// deleted. Sibling cancels normally run inline during resolution, so the
// flag is only ever set by foreign writers; rows with the flag clear are
// left to the edge-cancel reconciler.
func dispatchEdgeCancels(ctx context.Context, db *database) (scanners.TickResult, error) {
	rows, err := pendingCancelGroups(ctx, db)
	if err != nil {
		return scanners.TickResult{}, err
	}
	return reconcileRows(ctx, db, "edge cancel dispatcher", rows, func(ctx context.Context, w *writeTx, row dbgen.PendingCancelGroupListRow) (bool, error) {
		g, found, err := w.loadGroup(ctx, row.FlowID, row.DownstreamExecutionID)
		if err != nil {
			return false, err
		}
		if found && g.CancelSiblingsPendingFlag == 0 {
			return false, nil
		}
		if found {
			targets, err := w.q.CancelDispatchTargets(ctx, dbgen.CancelDispatchTargetsParams{FlowID: row.FlowID, DownstreamExecutionID: row.DownstreamExecutionID})
			if err != nil {
				return false, err
			}
			var flipped []*exec
			reason := ""
			for _, t := range targets {
				f, err := w.cancelMembers(ctx, []string{t.TargetExecutionID}, t.Reason, "engine")
				if isNotFound(err) {
					continue
				}
				if err != nil {
					return false, err
				}
				flipped = append(flipped, f...)
				if len(f) > 0 && reason == "" {
					reason = t.Reason
				}
			}
			if err := w.settleTerminal(ctx, flipped...); err != nil {
				return false, err
			}
			if err := w.clearPendingSiblings(ctx, row.FlowID, row.DownstreamExecutionID, reason); err != nil {
				return false, err
			}
		}
		return true, w.q.PendingCancelGroupDelete(ctx, dbgen.PendingCancelGroupDeleteParams{FlowID: row.FlowID, DownstreamExecutionID: row.DownstreamExecutionID})
	})
}

// clearPendingSiblings clears a group's queued sibling cancels, recording
// reason when siblings were cancelled now (it reloads the group: the
// cancels' own resolution may have moved its counters).
func (w *writeTx) clearPendingSiblings(ctx context.Context, flowID, downstream, reason string) error {
	g, found, err := w.loadGroup(ctx, flowID, downstream)
	if err != nil || !found {
		return err
	}
	g.CancelSiblingsPendingFlag = 0
	if reason != "" && !g.CancelSiblingsReason.Valid {
		g.CancelSiblingsReason = nullString(reason)
	}
	if err := w.saveGroup(ctx, g); err != nil {
		return err
	}
	return w.q.CancelDispatchDeleteGroup(ctx, dbgen.CancelDispatchDeleteGroupParams{FlowID: flowID, DownstreamExecutionID: downstream})
}

// reconcileEdgeCancels is the edge-cancel reconciler: a pending row whose
// group is gone or has nothing queued (flag 0) is deleted; one whose
// queued siblings are all terminal already has its flag and queue cleared
// and is deleted; anything else is the dispatcher's and is left alone.
// CancelFlow(cancel_pending) records pending rows with the flag clear, so
// this is what removes them.
func reconcileEdgeCancels(ctx context.Context, db *database) (scanners.TickResult, error) {
	rows, err := pendingCancelGroups(ctx, db)
	if err != nil {
		return scanners.TickResult{}, err
	}
	return reconcileRows(ctx, db, "edge cancel reconciler", rows, func(ctx context.Context, w *writeTx, row dbgen.PendingCancelGroupListRow) (bool, error) {
		g, found, err := w.loadGroup(ctx, row.FlowID, row.DownstreamExecutionID)
		if err != nil {
			return false, err
		}
		if found && g.CancelSiblingsPendingFlag != 0 {
			targets, err := w.q.CancelDispatchTargets(ctx, dbgen.CancelDispatchTargetsParams{FlowID: row.FlowID, DownstreamExecutionID: row.DownstreamExecutionID})
			if err != nil {
				return false, err
			}
			for _, t := range targets {
				e, err := w.loadExec(ctx, t.TargetExecutionID)
				if isNotFound(err) {
					continue
				}
				if err != nil {
					return false, err
				}
				if e.phase() != PhaseTerminal {
					return false, nil // still the dispatcher's work
				}
			}
			if err := w.clearPendingSiblings(ctx, row.FlowID, row.DownstreamExecutionID, ""); err != nil {
				return false, err
			}
		}
		return true, w.q.PendingCancelGroupDelete(ctx, dbgen.PendingCancelGroupDeleteParams{FlowID: row.FlowID, DownstreamExecutionID: row.DownstreamExecutionID})
	})
}
