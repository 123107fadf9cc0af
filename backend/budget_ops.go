package backend

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/flowfabric/ffsqlite/dbgen"
	"github.com/flowfabric/ffsqlite/scanners"
)

// Budgets (spec 05 §A, decision 16). Limits live in ff_budget_limit as
// typed rows so that Claim's gate and the unblock scanner can ask "is this
// budget hard-breached" with one indexed join: a budget is hard-breached
// when some dimension's usage is >= its non-zero hard limit (BudgetStatus).

// On-hard-limit actions applied to the reporting execution when
// ReportUsage is rejected with UsageHardBreach. Any other value (the
// original's tests use "reject" too) takes no action on the execution; the
// claim gate still stops new claims once usage reaches the limit.
const (
	hardLimitFail   = "fail"   // the execution fails terminally
	hardLimitCancel = "cancel" // the execution is cancelled
)

// budgetExceededCategory labels executions ended by a hard-limit action.
const budgetExceededCategory = "budget_exceeded"

// budgetResetPage is how many due budgets one reset-scanner read returns
// (the original's 20); the tick pages until none is due.
const budgetResetPage = 20

// CreateBudget creates a budget (CreateBudgetAlreadySatisfied if it
// exists; it is left untouched).
func (b *SQLiteBackend) CreateBudget(ctx context.Context, args CreateBudgetArgs) (CreateBudgetResult, error) {
	db, err := b.live("create_budget")
	if err != nil {
		return CreateBudgetResult{}, err
	}
	id, err := ParseBudgetID(string(args.BudgetID))
	if err != nil {
		return CreateBudgetResult{}, err
	}
	if len(args.Dimensions) != len(args.HardLimits) || len(args.Dimensions) != len(args.SoftLimits) {
		return CreateBudgetResult{}, errInvalidInput("create_budget: dimensions / hard_limits / soft_limits length mismatch (%d / %d / %d)",
			len(args.Dimensions), len(args.HardLimits), len(args.SoftLimits))
	}
	for i, d := range args.Dimensions {
		if args.HardLimits[i] > math.MaxInt64 || args.SoftLimits[i] > math.MaxInt64 {
			return CreateBudgetResult{}, errInvalidInput("create_budget: limit of dimension %q exceeds 2^63-1", d)
		}
	}
	if args.ResetInterval < 0 {
		return CreateBudgetResult{}, errInvalidInput("create_budget: negative reset_interval")
	}
	interval := durationToMS(args.ResetInterval)
	if args.ResetInterval > 0 && interval == 0 {
		interval = 1 // a sub-millisecond interval still schedules resets
	}
	out := CreateBudgetResult{BudgetID: id, Kind: CreateBudgetAlreadySatisfied}
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		out.Kind = CreateBudgetAlreadySatisfied
		now := w.callerNow(args.Now)
		var next sql.NullInt64
		if interval > 0 {
			next = nullInt(now + interval)
		}
		n, err := w.q.BudgetInsertPolicy(ctx, dbgen.BudgetInsertPolicyParams{
			BudgetID: string(id), ScopeType: args.ScopeType, ScopeID: args.ScopeID,
			EnforcementMode: args.EnforcementMode, OnHardLimit: args.OnHardLimit, OnSoftLimit: args.OnSoftLimit,
			ResetIntervalMs: interval, NextResetAtMs: next, NowMs: now,
		})
		if err != nil || n == 0 {
			return err
		}
		for i, d := range args.Dimensions {
			if err := w.q.BudgetPutLimit(ctx, dbgen.BudgetPutLimitParams{
				BudgetID: string(id), Dimension: d,
				HardLimit: int64(args.HardLimits[i]), SoftLimit: int64(args.SoftLimits[i]),
			}); err != nil {
				return err
			}
		}
		out.Kind = CreateBudgetCreated
		return nil
	})
	if err != nil {
		return CreateBudgetResult{}, err
	}
	return out, nil
}

// ReportUsage charges the handle's execution's usage (dims.Custom) to
// budget after validating the handle and lease. A report that would take a
// dimension above its hard limit applies nothing and returns
// UsageHardBreach; one that reaches the limit is applied and leaves the
// budget hard-breached (see BudgetStatus). An unknown budget has no
// limits.
func (b *SQLiteBackend) ReportUsage(ctx context.Context, h Handle, budget BudgetID, dims UsageDimensions) (ReportUsageResult, error) {
	if _, err := b.live("report_usage"); err != nil {
		return ReportUsageResult{}, err
	}
	id, err := ParseBudgetID(string(budget))
	if err != nil {
		return ReportUsageResult{}, err
	}
	if err := checkDeltas(dims.Custom); err != nil {
		return ReportUsageResult{}, err
	}
	var out ReportUsageResult
	err = b.handleOp(ctx, "report_usage", h, func(ctx context.Context, w *writeTx, l *leased) error {
		if l.settled() {
			return l.notActive()
		}
		if err := w.requireLive(ctx, l); err != nil {
			return err
		}
		rep, err := w.reportUsage(ctx, usageReport{budget: id, deltas: dims.Custom, dedupKey: dims.DedupKey, execution: l.exec.ExecutionID})
		if err != nil {
			return err
		}
		out = rep.res
		if rep.replayed || rep.res.Kind != UsageHardBreach {
			return nil
		}
		return w.applyHardLimitAction(ctx, l, rep.onHardLimit, id, rep.res)
	})
	if err != nil {
		return ReportUsageResult{}, err
	}
	return out, nil
}

// ReportUsageAdmin is ReportUsage without a lease (operator path).
func (b *SQLiteBackend) ReportUsageAdmin(ctx context.Context, budget BudgetID, args ReportUsageAdminArgs) (ReportUsageResult, error) {
	db, err := b.live("report_usage_admin")
	if err != nil {
		return ReportUsageResult{}, err
	}
	id, err := ParseBudgetID(string(budget))
	if err != nil {
		return ReportUsageResult{}, err
	}
	if len(args.Dimensions) != len(args.Deltas) {
		return ReportUsageResult{}, errInvalidInput("report_usage_admin: dimensions and deltas length mismatch (%d / %d)", len(args.Dimensions), len(args.Deltas))
	}
	deltas := make(map[string]uint64, len(args.Dimensions))
	for i, d := range args.Dimensions {
		deltas[d] = args.Deltas[i] // a repeated dimension keeps the last delta
	}
	if err := checkDeltas(deltas); err != nil {
		return ReportUsageResult{}, err
	}
	var out ReportUsageResult
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		// args.Now is ignored: admins cannot back-date usage (spec 05 §A.4).
		rep, err := w.reportUsage(ctx, usageReport{budget: id, deltas: deltas, dedupKey: args.DedupKey})
		out = rep.res
		return err
	})
	if err != nil {
		return ReportUsageResult{}, err
	}
	return out, nil
}

// checkDeltas rejects deltas that do not fit the INTEGER columns.
func checkDeltas(deltas map[string]uint64) error {
	for d, v := range deltas {
		if v > math.MaxInt64 {
			return errInvalidInput("usage delta of dimension %q exceeds 2^63-1", d)
		}
	}
	return nil
}

// usageReport is one usage report for the shared core.
type usageReport struct {
	budget    BudgetID
	deltas    map[string]uint64 // each <= MaxInt64
	dedupKey  string            // "" = no idempotency
	execution string            // the reporting execution ("" = admin path)
}

// usageOutcome is what the core decided.
type usageOutcome struct {
	res ReportUsageResult
	// replayed: the dedup key answered with the first report's result.
	replayed bool
	// onHardLimit is the budget's action for a hard breach ("" = none).
	onHardLimit string
}

// reportUsage is the report-and-check core (spec 05 §A.5): a dedup replay,
// else a hard check of every dimension before any increment (a breach
// applies nothing but is counted), else every delta applied with the
// first soft breach reported. Dimensions go in byte order, so the reported
// dimension is deterministic.
func (w *writeTx) reportUsage(ctx context.Context, r usageReport) (usageOutcome, error) {
	budget := string(r.budget)
	if r.dedupKey != "" {
		// An expired key counts as absent (the Valkey dedup key's 24 h TTL).
		if _, err := w.q.BudgetDedupDeleteExpired(ctx, dbgen.BudgetDedupDeleteExpiredParams{BudgetID: budget, DedupKey: r.dedupKey, NowMs: w.now}); err != nil {
			return usageOutcome{}, err
		}
		row, err := w.q.BudgetDedupGet(ctx, dbgen.BudgetDedupGetParams{BudgetID: budget, DedupKey: r.dedupKey})
		if err == nil {
			res, err := decodeUsageOutcome(row)
			return usageOutcome{res: res, replayed: true}, err
		}
		if !isNoRows(err) {
			return usageOutcome{}, err
		}
	}
	var out usageOutcome
	pol, err := w.q.BudgetGetPolicy(ctx, budget)
	switch {
	case err == nil:
		out.onHardLimit = pol.OnHardLimit
	case !isNoRows(err):
		return usageOutcome{}, err
	}
	limits := map[string]dbgen.BudgetListLimitsRow{}
	if err == nil {
		rows, err := w.q.BudgetListLimits(ctx, budget)
		if err != nil {
			return usageOutcome{}, err
		}
		for _, l := range rows {
			limits[l.Dimension] = l
		}
	}
	dims := slices.Sorted(maps.Keys(r.deltas))
	for _, d := range dims {
		if err := w.q.BudgetEnsureUsage(ctx, dbgen.BudgetEnsureUsageParams{BudgetID: budget, Dimension: d, NowMs: w.now}); err != nil {
			return usageOutcome{}, err
		}
	}
	usage, err := w.budgetUsage(ctx, budget)
	if err != nil {
		return usageOutcome{}, err
	}

	for _, d := range dims {
		cur := usage[d]
		if l := limits[d]; l.HardLimit > 0 && satAdd(cur, int64(r.deltas[d])) > l.HardLimit {
			if err := w.q.BudgetRecordHardBreach(ctx, dbgen.BudgetRecordHardBreachParams{NowMs: nullInt(w.now), Dimension: nullString(d), BudgetID: budget}); err != nil {
				return usageOutcome{}, err
			}
			out.res = ReportUsageResult{Kind: UsageHardBreach, Dimension: d, CurrentUsage: uint64(cur), Limit: uint64(l.HardLimit)}
			return out, w.recordUsageOutcome(ctx, r, out.res)
		}
	}

	out.res = ReportUsageResult{Kind: UsageOK}
	for _, d := range dims {
		delta := int64(r.deltas[d])
		next := satAdd(usage[d], delta)
		if err := w.q.BudgetSetUsage(ctx, dbgen.BudgetSetUsageParams{CurrentValue: next, NowMs: w.now, BudgetID: budget, Dimension: d}); err != nil {
			return usageOutcome{}, err
		}
		if r.execution != "" && delta > 0 {
			if err := w.q.BudgetLedgerAdd(ctx, dbgen.BudgetLedgerAddParams{
				BudgetID: budget, ExecutionID: r.execution, Dimension: d, Delta: delta, NowMs: w.now,
			}); err != nil {
				return usageOutcome{}, err
			}
		}
		if l := limits[d]; out.res.Kind == UsageOK && l.SoftLimit > 0 && next > l.SoftLimit {
			out.res = ReportUsageResult{Kind: UsageSoftBreach, Dimension: d, CurrentUsage: uint64(next), Limit: uint64(l.SoftLimit)}
		}
	}
	if out.res.Kind == UsageSoftBreach {
		if err := w.q.BudgetRecordSoftBreach(ctx, dbgen.BudgetRecordSoftBreachParams{NowMs: w.now, BudgetID: budget}); err != nil {
			return usageOutcome{}, err
		}
	}
	return out, w.recordUsageOutcome(ctx, r, out.res)
}

// budgetUsage reads a budget's usage per dimension.
func (w *writeTx) budgetUsage(ctx context.Context, budget string) (map[string]int64, error) {
	rows, err := w.q.BudgetListUsage(ctx, budget)
	if err != nil {
		return nil, err
	}
	usage := make(map[string]int64, len(rows))
	for _, u := range rows {
		usage[u.Dimension] = u.CurrentValue
	}
	return usage, nil
}

// satAdd adds two non-negative values, saturating at 2^63-1.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// recordUsageOutcome stores res under the report's dedup key, so a repeat
// within the window replays it.
func (w *writeTx) recordUsageOutcome(ctx context.Context, r usageReport, res ReportUsageResult) error {
	if r.dedupKey == "" {
		return nil
	}
	return w.q.BudgetDedupPut(ctx, dbgen.BudgetDedupPutParams{
		BudgetID: string(r.budget), DedupKey: r.dedupKey,
		OutcomeKind: nullString(string(res.Kind)), OutcomeDimension: res.Dimension,
		OutcomeCurrentUsage: int64(res.CurrentUsage), OutcomeLimit: int64(res.Limit),
		NowMs: w.now, ExpiresAtMs: w.now + durationToMS(DedupWindowDefault),
	})
}

// decodeUsageOutcome rebuilds a stored outcome. A reserved key without an
// outcome replays as UsageAlreadyApplied.
func decodeUsageOutcome(row dbgen.FfBudgetUsageDedup) (ReportUsageResult, error) {
	if !row.OutcomeKind.Valid {
		return ReportUsageResult{Kind: UsageAlreadyApplied}, nil
	}
	res := ReportUsageResult{Kind: ReportUsageKind(row.OutcomeKind.String)}
	switch res.Kind {
	case UsageOK, UsageAlreadyApplied:
	case UsageSoftBreach, UsageHardBreach:
		if row.OutcomeCurrentUsage < 0 || row.OutcomeLimit < 0 {
			return ReportUsageResult{}, errCorruption("budget usage dedup: negative stored value")
		}
		res.Dimension = row.OutcomeDimension
		res.CurrentUsage = uint64(row.OutcomeCurrentUsage)
		res.Limit = uint64(row.OutcomeLimit)
	default:
		return ReportUsageResult{}, errCorruption("budget usage dedup: unknown outcome kind " + row.OutcomeKind.String)
	}
	return res, nil
}

// applyHardLimitAction ends the reporting execution as the budget's
// on_hard_limit says (decision 16): "fail" fails it terminally, "cancel"
// cancels it; other values leave it running. Its lease ends (lease event
// revoked) and flow dependents resolve in this transaction.
func (w *writeTx) applyHardLimitAction(ctx context.Context, l *leased, action string, budget BudgetID, res ReportUsageResult) error {
	e := l.exec
	why := fmt.Sprintf("budget %s: %q usage %d plus the report would exceed the hard limit %d", budget, res.Dimension, res.CurrentUsage, res.Limit)
	switch action {
	case hardLimitFail:
		l.att.endLease(w.now, "failed")
		e.TerminalOutcome = string(OutcomeFailed)
		e.LastFailureMessage = nullString(why)
		e.FailureCategory = nullString(budgetExceededCategory)
	case hardLimitCancel:
		l.att.endLease(w.now, "cancelled")
		e.TerminalOutcome = string(OutcomeCancelled)
		if !e.CancellationReason.Valid {
			e.CancellationReason = nullString(why)
		}
		if !e.CancelledBy.Valid {
			e.CancelledBy = nullString(budgetExceededCategory)
		}
	default:
		return nil
	}
	e.setState(PhaseTerminal, OwnershipUnowned, EligibilityNotApplicable, AttemptStateAttemptTerminal, BlockingNone)
	e.TerminalAtMs = nullInt(w.now)
	return w.finishAttempt(ctx, l, true)
}

// ResetBudget zeroes the budget's usage and schedules the next reset.
// Unknown is NotFound(EntityBudget).
func (b *SQLiteBackend) ResetBudget(ctx context.Context, args ResetBudgetArgs) (ResetBudgetResult, error) {
	db, err := b.live("reset_budget")
	if err != nil {
		return ResetBudgetResult{}, err
	}
	id, err := ParseBudgetID(string(args.BudgetID))
	if err != nil {
		return ResetBudgetResult{}, err
	}
	var out ResetBudgetResult
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		pol, err := w.q.BudgetGetPolicy(ctx, string(id))
		if isNoRows(err) {
			return errNotFound(EntityBudget)
		}
		if err != nil {
			return err
		}
		next, err := w.resetBudget(ctx, pol, w.callerNow(args.Now))
		out = ResetBudgetResult{}
		if next.Valid {
			out.NextResetAt = fromMS(next.Int64)
		}
		return err
	})
	if err != nil {
		return ResetBudgetResult{}, err
	}
	return out, nil
}

// resetBudget zeroes pol's usage, clears its last breach and schedules the
// next reset at now + interval (none when the interval is 0). The
// lifetime breach counters stay. Executions blocked on the budget are
// re-admitted by the unblock scanner.
func (w *writeTx) resetBudget(ctx context.Context, pol dbgen.FfBudgetPolicy, now int64) (sql.NullInt64, error) {
	var next sql.NullInt64
	if pol.ResetIntervalMs > 0 {
		next = nullInt(now + pol.ResetIntervalMs)
	}
	if err := w.q.BudgetResetUsage(ctx, dbgen.BudgetResetUsageParams{NowMs: nullInt(now), BudgetID: pol.BudgetID}); err != nil {
		return next, err
	}
	return next, w.q.BudgetResetPolicy(ctx, dbgen.BudgetResetPolicyParams{NextResetAtMs: next, NowMs: now, BudgetID: pol.BudgetID})
}

// GetBudgetStatus returns the budget's limits, usage and counters.
// Unknown is NotFound(EntityBudget).
func (b *SQLiteBackend) GetBudgetStatus(ctx context.Context, id BudgetID) (BudgetStatus, error) {
	db, err := b.live("get_budget_status")
	if err != nil {
		return BudgetStatus{}, err
	}
	bid, err := ParseBudgetID(string(id))
	if err != nil {
		return BudgetStatus{}, err
	}
	var out BudgetStatus
	err = db.read(ctx, func(q *dbgen.Queries) error {
		pol, err := q.BudgetGetPolicy(ctx, string(bid))
		if isNoRows(err) {
			return errNotFound(EntityBudget)
		}
		if err != nil {
			return err
		}
		limits, err := q.BudgetListLimits(ctx, string(bid))
		if err != nil {
			return err
		}
		usage, err := q.BudgetListUsage(ctx, string(bid))
		if err != nil {
			return err
		}
		out = BudgetStatus{
			BreachCount:     uint64(max(pol.BreachCount, 0)),
			BudgetID:        bid,
			CreatedAt:       fromMS(pol.CreatedAtMs),
			EnforcementMode: pol.EnforcementMode,
			HardLimits:      make(map[string]uint64, len(limits)),
			LastBreachDim:   pol.LastBreachDim.String,
			ScopeID:         pol.ScopeID,
			ScopeType:       pol.ScopeType,
			SoftBreachCount: uint64(max(pol.SoftBreachCount, 0)),
			SoftLimits:      make(map[string]uint64, len(limits)),
			Usage:           make(map[string]uint64, len(usage)),
		}
		if pol.LastBreachAtMs.Valid {
			out.LastBreachAt = fromMS(pol.LastBreachAtMs.Int64)
		}
		if pol.NextResetAtMs.Valid {
			out.NextResetAt = fromMS(pol.NextResetAtMs.Int64)
		}
		for _, l := range limits {
			out.HardLimits[l.Dimension] = uint64(l.HardLimit)
			out.SoftLimits[l.Dimension] = uint64(l.SoftLimit)
		}
		for _, u := range usage {
			out.Usage[u.Dimension] = uint64(max(u.CurrentValue, 0))
		}
		return nil
	})
	if err != nil {
		return BudgetStatus{}, err
	}
	return out, nil
}

// resetDueBudgets is the budget_reset tick (spec 05 §A.13): every budget
// whose scheduled reset is due is reset in its own transaction, which
// re-reads the schedule so a concurrent ResetBudget (or a second process)
// is never applied twice; the next reset is measured from the tick, so
// missed intervals are not replayed. The same tick purges expired usage
// dedup keys (the dedup purge).
func resetDueBudgets(ctx context.Context, db *database) (scanners.TickResult, error) {
	var res scanners.TickResult
	seen := map[string]bool{}
	for page := 0; page < scannerBatch/budgetResetPage; page++ {
		var due []string
		err := db.read(ctx, func(q *dbgen.Queries) error {
			var err error
			due, err = q.BudgetDueResets(ctx, dbgen.BudgetDueResetsParams{NowMs: nullInt(nowMS(db.clock)), Lim: budgetResetPage})
			return err
		})
		if err != nil {
			return res, err
		}
		// A budget whose reset failed comes back on the next page; skip it
		// so that a failing row cannot spin the tick.
		due = slices.DeleteFunc(due, func(id string) bool { return seen[id] })
		if len(due) == 0 {
			break
		}
		for _, id := range due {
			seen[id] = true
		}
		r, err := tickRows(ctx, db, "budget reset", due, func(ctx context.Context, w *writeTx, id string) (int, error) {
			pol, err := w.q.BudgetGetPolicy(ctx, id)
			if isNoRows(err) {
				return 0, nil
			}
			if err != nil {
				return 0, err
			}
			if !pol.NextResetAtMs.Valid || pol.NextResetAtMs.Int64 > w.now {
				return 0, nil
			}
			_, err = w.resetBudget(ctx, pol, w.now)
			return 1, err
		})
		addTick(&res, r)
		if err != nil {
			return res, err
		}
	}
	r, err := purgeUsageDedup(ctx, db)
	addTick(&res, r)
	return res, err
}

// purgeUsageDedup deletes a bounded batch of expired usage dedup keys (an
// expired key already counts as absent; this only reclaims the space).
func purgeUsageDedup(ctx context.Context, db *database) (scanners.TickResult, error) {
	var res scanners.TickResult
	err := db.write(ctx, func(ctx context.Context, w *writeTx) error {
		res.Processed = 0
		rows, err := w.q.BudgetDedupExpired(ctx, dbgen.BudgetDedupExpiredParams{NowMs: w.now, Lim: scannerBatch})
		if err != nil {
			return err
		}
		for _, r := range rows {
			n, err := w.q.BudgetDedupDeleteExpired(ctx, dbgen.BudgetDedupDeleteExpiredParams{BudgetID: r.BudgetID, DedupKey: r.DedupKey, NowMs: w.now})
			if err != nil {
				return err
			}
			res.Processed += int(n)
		}
		return nil
	})
	return res, err
}
