package backend

import (
	"context"
	"database/sql"

	"github.com/flowfabric/ffsqlite/dbgen"
	"github.com/flowfabric/ffsqlite/scanners"
)

// The unblock scanner (decision 16): executions that Claim parked as
// blocked_by_budget or blocked_by_quota become claimable again once their
// gate clears — a budget that is no longer hard-breached (a reset, or a
// raised limit), a quota with a free concurrency slot and room in its rate
// window. It works gate by gate (ff_exec_core.blocked_gate), so a
// thousand executions behind one exhausted budget cost one check per
// tick. Executions blocked by BlockRoute carry no gate: each is checked on
// its own and, if still blocked, given the gate that blocks it.
//
// Claim remains the real gate: an execution re-admitted here is checked
// again when it is claimed, so the scanner may be optimistic. For quotas
// it still re-admits no more than the free capacity, counting executions
// already claimable, so two ticks at once (two processes) do not both
// release the same slots.

// unblockExecutions is the unblock tick.
func unblockExecutions(ctx context.Context, db *database) (scanners.TickResult, error) {
	var res scanners.TickResult
	ns, tagSet, tag := filterArgs(db.scannerSettings().filter)
	var ungatedBudget, ungatedQuota []string
	err := db.read(ctx, func(q *dbgen.Queries) error {
		var err error
		ungatedBudget, err = q.BudgetBlockedUngated(ctx, dbgen.BudgetBlockedUngatedParams{Namespace: ns, TagSet: tagSet, InstanceTag: tag, Lim: scannerBatch})
		if err != nil {
			return err
		}
		ungatedQuota, err = q.QuotaBlockedUngated(ctx, dbgen.QuotaBlockedUngatedParams{Namespace: ns, TagSet: tagSet, InstanceTag: tag, Lim: scannerBatch})
		return err
	})
	if err != nil {
		return res, err
	}
	r, err := tickRows(ctx, db, "unblock", ungatedBudget, func(ctx context.Context, w *writeTx, id string) (int, error) {
		return w.unblockUngated(ctx, id, EligibilityBlockedByBudget)
	})
	addTick(&res, r)
	if err != nil {
		return res, err
	}
	r, err = tickRows(ctx, db, "unblock", ungatedQuota, func(ctx context.Context, w *writeTx, id string) (int, error) {
		return w.unblockUngated(ctx, id, EligibilityBlockedByQuota)
	})
	addTick(&res, r)
	if err != nil {
		return res, err
	}

	var budgetGates, quotaGates []sql.NullString
	err = db.read(ctx, func(q *dbgen.Queries) error {
		var err error
		if budgetGates, err = q.BudgetBlockedGates(ctx, scannerBatch); err != nil {
			return err
		}
		quotaGates, err = q.QuotaBlockedGates(ctx, scannerBatch)
		return err
	})
	if err != nil {
		return res, err
	}
	gated := func(gates []sql.NullString) []string {
		var out []string
		for _, g := range gates {
			if g.Valid {
				out = append(out, g.String)
			}
		}
		return out
	}
	r, err = tickRows(ctx, db, "unblock", gated(budgetGates), func(ctx context.Context, w *writeTx, gate string) (int, error) {
		return w.unblockBudgetGate(ctx, gate, ns, tagSet, tag)
	})
	addTick(&res, r)
	if err != nil {
		return res, err
	}
	r, err = tickRows(ctx, db, "unblock", gated(quotaGates), func(ctx context.Context, w *writeTx, gate string) (int, error) {
		return w.unblockQuotaGate(ctx, gate, ns, tagSet, tag)
	})
	addTick(&res, r)
	return res, err
}

// stillBlocked re-checks inside the transaction that e is a runnable
// execution still blocked with elig (a claim, cancel or operator may have
// moved it since the scan).
func stillBlocked(e *exec, elig EligibilityState) bool {
	return e.phase() == PhaseRunnable && e.eligibility() == elig
}

// readmit makes a gate-blocked execution claimable again and forgets its
// gate.
func (w *writeTx) readmit(ctx context.Context, e *exec) error {
	e.setState(PhaseRunnable, OwnershipUnowned, EligibilityEligibleNow, e.attemptState(), BlockingWaitingForWorker)
	e.BlockingDetail = ""
	if err := w.saveExec(ctx, e); err != nil {
		return err
	}
	e.BlockedGate = sql.NullString{}
	return w.q.ExecSetBlockedGate(ctx, dbgen.ExecSetBlockedGateParams{ExecutionID: e.ExecutionID})
}

// unblockUngated checks one execution blocked without a recorded gate: no
// budget (quota) to wait for, or none breached (no quota row), re-admits
// it; otherwise it is given the gate that blocks it, for the gate pass.
func (w *writeTx) unblockUngated(ctx context.Context, id string, elig EligibilityState) (int, error) {
	e, err := w.loadExec(ctx, id)
	if isNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if !stillBlocked(e, elig) || e.BlockedGate.Valid {
		return 0, nil
	}
	gate := ""
	if elig == EligibilityBlockedByBudget && e.BudgetCount > 0 {
		row, err := w.q.ExecBreachedBudget(ctx, e.ExecutionID)
		switch {
		case err == nil:
			gate = row.BudgetID
		case !isNoRows(err):
			return 0, err
		}
	}
	if elig == EligibilityBlockedByQuota && e.QuotaPolicyID.Valid {
		_, err := w.q.QuotaGetPolicy(ctx, e.QuotaPolicyID.String)
		switch {
		case err == nil:
			gate = e.QuotaPolicyID.String
		case !isNoRows(err):
			return 0, err
		}
	}
	if gate != "" {
		return 0, w.q.ExecSetBlockedGate(ctx, dbgen.ExecSetBlockedGateParams{BlockedGate: nullString(gate), ExecutionID: id})
	}
	return 1, w.readmit(ctx, e)
}

// unblockBudgetGate re-admits the executions blocked on budget once it is
// no longer hard-breached. One that another of its budgets still blocks
// moves to that gate instead.
func (w *writeTx) unblockBudgetGate(ctx context.Context, budget, ns string, tagSet int64, tag sql.NullString) (int, error) {
	_, err := w.q.BudgetBreach(ctx, budget)
	if err == nil {
		return 0, nil // still breached
	}
	if !isNoRows(err) {
		return 0, err
	}
	ids, err := w.q.BudgetBlockedOnGate(ctx, dbgen.BudgetBlockedOnGateParams{
		Gate: nullString(budget), Namespace: ns, TagSet: tagSet, InstanceTag: tag, Lim: scannerBatch,
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		e, err := w.loadExec(ctx, id)
		if err != nil {
			return 0, err
		}
		if !stillBlocked(e, EligibilityBlockedByBudget) || e.BlockedGate.String != budget {
			continue
		}
		row, err := w.q.ExecBreachedBudget(ctx, e.ExecutionID)
		if err == nil {
			e.BlockingDetail = budgetBlockDetail(row.BudgetID, row.Dimension, row.CurrentValue, row.HardLimit)
			if err := w.saveExec(ctx, e); err != nil {
				return 0, err
			}
			if err := w.q.ExecSetBlockedGate(ctx, dbgen.ExecSetBlockedGateParams{BlockedGate: nullString(row.BudgetID), ExecutionID: id}); err != nil {
				return 0, err
			}
			continue
		}
		if !isNoRows(err) {
			return 0, err
		}
		if err := w.readmit(ctx, e); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// unblockQuotaGate re-admits as many of the executions blocked on quota
// as it has room for: free concurrency slots and free rate-window
// admissions, each less the policy's executions already claimable. A
// policy that no longer exists has no limits.
func (w *writeTx) unblockQuotaGate(ctx context.Context, quota, ns string, tagSet int64, tag sql.NullString) (int, error) {
	room := int64(scannerBatch)
	pol, err := w.q.QuotaGetPolicy(ctx, quota)
	switch {
	case err == nil:
		room, err = w.quotaRoom(ctx, pol)
		if err != nil {
			return 0, err
		}
	case !isNoRows(err):
		return 0, err
	}
	if room <= 0 {
		return 0, nil
	}
	ids, err := w.q.QuotaBlockedOnGate(ctx, dbgen.QuotaBlockedOnGateParams{
		Gate: nullString(quota), Namespace: ns, TagSet: tagSet, InstanceTag: tag, Lim: min(room, scannerBatch),
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		e, err := w.loadExec(ctx, id)
		if err != nil {
			return 0, err
		}
		if !stillBlocked(e, EligibilityBlockedByQuota) || e.BlockedGate.String != quota {
			continue
		}
		if err := w.readmit(ctx, e); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// quotaRoom is how many more of pol's executions may become claimable now.
func (w *writeTx) quotaRoom(ctx context.Context, pol dbgen.FfQuotaPolicy) (int64, error) {
	q := nullString(pol.QuotaPolicyID)
	room := int64(scannerBatch)
	if pol.ActiveConcurrencyCap == 0 && pol.MaxRequestsPerWindow == 0 {
		return room, nil
	}
	claimable, err := w.q.QuotaCountClaimable(ctx, q)
	if err != nil {
		return 0, err
	}
	if pol.ActiveConcurrencyCap > 0 {
		active, err := w.q.QuotaCountActive(ctx, q)
		if err != nil {
			return 0, err
		}
		room = min(room, pol.ActiveConcurrencyCap-active-claimable)
	}
	if pol.MaxRequestsPerWindow > 0 {
		st, err := w.q.QuotaWindowStats(ctx, dbgen.QuotaWindowStatsParams{QuotaPolicyID: pol.QuotaPolicyID, CutoffMs: w.now - pol.WindowSeconds*1000})
		if err != nil {
			return 0, err
		}
		room = min(room, pol.MaxRequestsPerWindow-st.Admitted-claimable)
	}
	return room, nil
}
