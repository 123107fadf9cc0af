package backend

import (
	"context"

	"github.com/flowfabric/ffsqlite/dbgen"
	"github.com/flowfabric/ffsqlite/scanners"
)

// scannerBatch bounds the rows one reconciler tick looks at; a tick with a
// full batch leaves the rest to the next one.
const scannerBatch = 1000

// reconcilers maps each job to its tick. Jobs whose domain has not landed
// yet have no entry and process nothing.
var reconcilers = map[scanners.Job]func(ctx context.Context, db *database) (scanners.TickResult, error){
	scanners.JobDelayedPromoter:        promoteDelayed,
	scanners.JobLeaseExpiry:            expireLeases,
	scanners.JobSuspensionTimeout:      expireSuspensions,
	scanners.JobPendingWaitpointExpiry: expirePendingWaitpoints,
	// Flow safety nets (flow_reconcile.go).
	scanners.JobCancelReconciler:     reconcileCancelBacklog,
	scanners.JobDependencyReconciler: reconcileDependencies,
	scanners.JobEdgeCancelDispatcher: dispatchEdgeCancels,
	scanners.JobEdgeCancelReconciler: reconcileEdgeCancels,
	// Budgets, quotas, timeouts and retention (budget_ops.go, quota.go,
	// unblock.go, timeouts.go, retention.go). The usage-dedup purge runs
	// in the budget_reset tick.
	scanners.JobBudgetReset:       resetDueBudgets,
	scanners.JobQuotaReconciler:   reconcileQuotas,
	scanners.JobUnblock:           unblockExecutions,
	scanners.JobAttemptTimeout:    timeOutAttempts,
	scanners.JobExecutionDeadline: expireDeadlines,
	scanners.JobRetentionTrimmer:  trimRetention,
}

// promoteDelayed makes delayed and backing-off executions whose time has
// come eligible, in one short transaction per batch. Claim promotes its
// own lane lazily too, so this only keeps public states current.
func promoteDelayed(ctx context.Context, db *database) (scanners.TickResult, error) {
	var res scanners.TickResult
	err := db.write(ctx, func(ctx context.Context, w *writeTx) error {
		ps := string(derivePublicState(PhaseRunnable, EligibilityEligibleNow, OutcomeNone, ""))
		lanes, err := w.q.PromoteDue(ctx, dbgen.PromoteDueParams{PublicState: ps, NowMs: w.now, Batch: scannerBatch})
		if err != nil {
			return err
		}
		res.Processed = len(lanes)
		if len(lanes) > 0 {
			w.wake(topicClaimable)
		}
		return nil
	})
	return res, err
}

// expireLeases marks every lapsed lease expired, one transaction per
// execution so one bad row never blocks the rest (decision 11).
func expireLeases(ctx context.Context, db *database) (scanners.TickResult, error) {
	var due []dbgen.ExpiredLeasesRow
	err := db.read(ctx, func(q *dbgen.Queries) error {
		var err error
		due, err = q.ExpiredLeases(ctx, dbgen.ExpiredLeasesParams{NowMs: nullInt(nowMS(db.clock)), Lim: scannerBatch})
		return err
	})
	if err != nil {
		return scanners.TickResult{}, err
	}
	return reconcileRows(ctx, db, "lease expiry", due, func(ctx context.Context, w *writeTx, row dbgen.ExpiredLeasesRow) (bool, error) {
		e, err := w.loadExec(ctx, row.ExecutionID)
		if err != nil {
			return false, err
		}
		a, err := w.loadAttempt(ctx, row.ExecutionID, row.AttemptIndex)
		if err != nil {
			return false, err
		}
		before := e.OwnershipState
		if err := w.markLeaseExpired(ctx, e, a); err != nil {
			return false, err
		}
		return e.OwnershipState != before, nil
	})
}

// tickRows runs one write transaction per item and tallies the tick: an
// item whose transaction fails is logged and counted, and the tick goes
// on; fn reports how many rows it changed.
func tickRows[T any](ctx context.Context, db *database, job string, items []T, fn func(ctx context.Context, w *writeTx, it T) (int, error)) (scanners.TickResult, error) {
	var res scanners.TickResult
	for _, it := range items {
		n := 0
		err := db.write(ctx, func(ctx context.Context, w *writeTx) error {
			var err error
			n, err = fn(ctx, w, it)
			return err
		})
		switch {
		case ctx.Err() != nil:
			return res, ctx.Err()
		case err != nil:
			res.Errors++
			db.log.Warn(job+": row failed", "row", it, "err", err)
		default:
			res.Processed += n
		}
	}
	return res, nil
}

// reconcileRows is tickRows for row functions that report whether they
// changed their row.
func reconcileRows[T any](ctx context.Context, db *database, job string, items []T, fn func(ctx context.Context, w *writeTx, it T) (bool, error)) (scanners.TickResult, error) {
	return tickRows(ctx, db, job, items, func(ctx context.Context, w *writeTx, it T) (int, error) {
		changed, err := fn(ctx, w, it)
		if changed {
			return 1, err
		}
		return 0, err
	})
}
