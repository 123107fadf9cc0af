package backend

import (
	"context"
	"database/sql"

	"github.com/flowfabric/ffsqlite/dbgen"
	"github.com/flowfabric/ffsqlite/scanners"
)

// The retention trimmer (spec 05 §B.4 J11). A terminal execution whose
// terminal time is older than Config.Retention is deleted together with
// every row that names it — an out-of-line input payload, attempts,
// capabilities, grants, operator and signal events, signals, waitpoints,
// suspension, stream frames, summary and metadata, budget and quota
// bookkeeping, flow edges — in one
// transaction per batch, ff_exec_core last. A flow member goes only once
// every member of its flow qualifies; the flow's own rows go with its last
// member.
//
// Then outbox rows (completion, lease, operator and signal events) older
// than the retention age are trimmed by age, whoever they name, and claim
// grants that expired before it. A deleted execution's completion and
// lease events go this way, in the same tick (they are no newer than its
// terminal time) or, behind a large backlog of old events, in the next
// ones: those two outboxes have no per-execution index (migration 00008),
// because every claim and completion would pay for it. Event ids are
// never reused, so trimming never breaks a subscriber's cursor; one that
// resumes from before the cut only misses the trimmed events.

// Bounds of one retention tick.
const (
	retentionBatch      = 20 // executions per transaction (the original's)
	retentionMaxBatches = scannerBatch / retentionBatch
)

// trimRetention is the retention_trimmer tick.
func trimRetention(ctx context.Context, db *database) (scanners.TickResult, error) {
	var res scanners.TickResult
	set := db.scannerSettings()
	ns, tagSet, tag := filterArgs(set.filter)
	cutoff := nowMS(db.clock) - durationToMS(set.retention)
	for range retentionMaxBatches {
		var rows []dbgen.RetentionCandidatesRow
		err := db.read(ctx, func(q *dbgen.Queries) error {
			var err error
			rows, err = q.RetentionCandidates(ctx, dbgen.RetentionCandidatesParams{
				CutoffMs: sql.NullInt64{Int64: cutoff, Valid: true}, Namespace: ns, TagSet: tagSet, InstanceTag: tag, Lim: retentionBatch,
			})
			return err
		})
		if err != nil {
			return res, err
		}
		if len(rows) == 0 {
			break
		}
		deleted := 0
		err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
			deleted = 0
			for _, r := range rows {
				ok, err := w.trimExecution(ctx, r.ExecutionID, cutoff)
				if err != nil {
					return err
				}
				if ok {
					deleted++
				}
			}
			return nil
		})
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if err != nil {
			// The same batch would come back; leave it to the next tick.
			res.Errors++
			db.log.Warn("retention trimmer: batch failed", "err", err)
			break
		}
		res.Processed += deleted
		if len(rows) < retentionBatch {
			break
		}
	}
	r, err := trimOutbox(ctx, db, cutoff)
	addTick(&res, r)
	return res, err
}

// trimExecution deletes one execution and everything that names it, after
// re-checking inside the transaction that it still qualifies.
func (w *writeTx) trimExecution(ctx context.Context, id string, cutoff int64) (bool, error) {
	cur, err := w.q.RetentionGetExec(ctx, id)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if cur.LifecyclePhase != string(PhaseTerminal) || !cur.TerminalAtMs.Valid || cur.TerminalAtMs.Int64 > cutoff {
		return false, nil
	}
	if cur.FlowID.Valid {
		busy, err := w.q.RetentionFlowBusy(ctx, dbgen.RetentionFlowBusyParams{FlowID: cur.FlowID, CutoffMs: sql.NullInt64{Int64: cutoff, Valid: true}})
		if err != nil {
			return false, err
		}
		if busy {
			return false, nil
		}
	}
	for _, del := range []func(context.Context, string) error{
		w.q.RetentionDeleteAttempts,
		w.q.RetentionDeleteCapabilities,
		w.q.RetentionDeleteGrants,
		w.q.RetentionDeleteOperatorEvents,
		w.q.RetentionDeleteSignalEvents,
		w.q.RetentionDeleteSignals,
		w.q.RetentionDeleteSuspendDedup,
		w.q.RetentionDeleteSuspension,
		w.q.RetentionDeleteWaitpoints,
		w.q.RetentionDeleteStreamFrames,
		w.q.RetentionDeleteStreamSummaries,
		w.q.RetentionDeleteStreamMeta,
		w.q.RetentionDeleteExecBudgets,
		w.q.RetentionDeletePayload,
		w.q.RetentionDeleteLedger,
		w.q.RetentionDeleteQuotaWindow,
		w.q.RetentionDeleteQuotaAdmitted,
		w.q.RetentionDeleteBacklogMember,
	} {
		if err := del(ctx, id); err != nil {
			return false, err
		}
	}
	if f := cur.FlowID; f.Valid {
		if err := w.q.RetentionDeleteMemberEdgesFrom(ctx, dbgen.RetentionDeleteMemberEdgesFromParams{FlowID: f.String, ExecutionID: id}); err != nil {
			return false, err
		}
		if err := w.q.RetentionDeleteMemberEdgesTo(ctx, dbgen.RetentionDeleteMemberEdgesToParams{FlowID: f.String, ExecutionID: id}); err != nil {
			return false, err
		}
		if err := w.q.RetentionDeleteMemberGroup(ctx, dbgen.RetentionDeleteMemberGroupParams{FlowID: f.String, ExecutionID: id}); err != nil {
			return false, err
		}
		if err := w.q.RetentionDeleteMemberPendingCancel(ctx, dbgen.RetentionDeleteMemberPendingCancelParams{FlowID: f.String, ExecutionID: id}); err != nil {
			return false, err
		}
		if err := w.q.RetentionDeleteMemberCancelDispatch(ctx, dbgen.RetentionDeleteMemberCancelDispatchParams{FlowID: f.String, ExecutionID: id}); err != nil {
			return false, err
		}
	}
	if _, err := w.q.RetentionDeleteExec(ctx, id); err != nil {
		return false, err
	}
	if cur.FlowID.Valid {
		if err := w.trimFlowIfEmpty(ctx, cur.FlowID.String); err != nil {
			return false, err
		}
	}
	return true, nil
}

// trimFlowIfEmpty deletes a flow's own rows once its last member is gone.
func (w *writeTx) trimFlowIfEmpty(ctx context.Context, flowID string) error {
	left, err := w.q.RetentionFlowHasMembers(ctx, nullString(flowID))
	if err != nil || left {
		return err
	}
	for _, del := range []func(context.Context, string) error{
		w.q.RetentionDeleteFlowGroups,
		w.q.RetentionDeleteFlowPendingCancels,
		w.q.RetentionDeleteFlowCancelDispatch,
		w.q.RetentionDeleteFlowBacklogMembers,
		w.q.RetentionDeleteFlowBacklog,
		w.q.RetentionDeleteOperatorEvents, // flow events are keyed by the flow id
		w.q.RetentionDeleteFlow,
	} {
		if err := del(ctx, flowID); err != nil {
			return err
		}
	}
	return nil
}

// trimOutbox trims one bounded batch of each outbox older than cutoff and
// of claim grants that expired before it, in one transaction.
func trimOutbox(ctx context.Context, db *database, cutoff int64) (scanners.TickResult, error) {
	var res scanners.TickResult
	err := db.write(ctx, func(ctx context.Context, w *writeTx) error {
		res.Processed = 0
		for _, trim := range []func() (int64, error){
			func() (int64, error) {
				return w.q.RetentionTrimCompletionEvents(ctx, dbgen.RetentionTrimCompletionEventsParams{Lim: scannerBatch, CutoffMs: cutoff})
			},
			func() (int64, error) {
				return w.q.RetentionTrimLeaseEvents(ctx, dbgen.RetentionTrimLeaseEventsParams{Lim: scannerBatch, CutoffMs: cutoff})
			},
			func() (int64, error) {
				return w.q.RetentionTrimOperatorEvents(ctx, dbgen.RetentionTrimOperatorEventsParams{Lim: scannerBatch, CutoffMs: cutoff})
			},
			func() (int64, error) {
				return w.q.RetentionTrimSignalEvents(ctx, dbgen.RetentionTrimSignalEventsParams{Lim: scannerBatch, CutoffMs: cutoff})
			},
			func() (int64, error) {
				return w.q.RetentionTrimGrants(ctx, dbgen.RetentionTrimGrantsParams{CutoffMs: cutoff, Lim: scannerBatch})
			},
		} {
			n, err := trim()
			if err != nil {
				return err
			}
			res.Processed += int(n)
		}
		return nil
	})
	return res, err
}
