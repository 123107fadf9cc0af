package backend

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/flowfabric/ffsqlite/dbgen"
	"github.com/flowfabric/ffsqlite/scanners"
)

// Quotas and the claim gate (spec 05 §A.10–A.11, decision 16).
//
// Claim counts a quota's concurrency from the executions themselves (how
// many of the policy's executions are active), so no path that ends a
// lease has to release a slot and the count cannot drift. The rate window
// is ff_quota_window, shared with CheckAdmission; ff_quota_admitted keeps
// an execution re-leased inside its window (after Delay, a revoke) from
// counting twice.

// CreateQuotaPolicy creates a quota policy
// (CreateQuotaPolicyAlreadySatisfied if it exists).
func (b *SQLiteBackend) CreateQuotaPolicy(ctx context.Context, args CreateQuotaPolicyArgs) (CreateQuotaPolicyResult, error) {
	db, err := b.live("create_quota_policy")
	if err != nil {
		return CreateQuotaPolicyResult{}, err
	}
	id, err := ParseQuotaPolicyID(string(args.QuotaPolicyID))
	if err != nil {
		return CreateQuotaPolicyResult{}, err
	}
	window, err := windowSeconds("create_quota_policy", args.Window)
	if err != nil {
		return CreateQuotaPolicyResult{}, err
	}
	if args.MaxRequestsPerWindow > math.MaxInt64 || args.MaxConcurrent > math.MaxInt64 {
		return CreateQuotaPolicyResult{}, errInvalidInput("create_quota_policy: limit exceeds 2^63-1")
	}
	out := CreateQuotaPolicyResult{QuotaPolicyID: id}
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		n, err := w.q.QuotaInsertPolicy(ctx, dbgen.QuotaInsertPolicyParams{
			QuotaPolicyID: string(id), WindowSeconds: window,
			MaxRequestsPerWindow: int64(args.MaxRequestsPerWindow), ActiveConcurrencyCap: int64(args.MaxConcurrent),
			NowMs: w.callerNow(args.Now),
		})
		out.Kind = CreateQuotaPolicyAlreadySatisfied
		if n > 0 {
			out.Kind = CreateQuotaPolicyCreated
		}
		return err
	})
	if err != nil {
		return CreateQuotaPolicyResult{}, err
	}
	return out, nil
}

// windowSeconds stores a window in whole seconds, rounding a fraction up
// so that a sub-second window still limits.
func windowSeconds(op string, d time.Duration) (int64, error) {
	if d < 0 {
		return 0, errInvalidInput("%s: negative window", op)
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s, nil
}

// CheckAdmission records one admission of args.ExecutionID against the
// quota policy's sliding window and concurrency count, using the limits in
// args (dimension is accepted and ignored). An execution already admitted
// within the window returns AdmissionAlreadyAdmitted. This is the explicit
// admission primitive for external schedulers; Claim applies the stored
// quota policy on its own.
func (b *SQLiteBackend) CheckAdmission(ctx context.Context, quotaPolicyID QuotaPolicyID, dimension string, args CheckAdmissionArgs) (CheckAdmissionResult, error) {
	db, err := b.live("check_admission")
	if err != nil {
		return CheckAdmissionResult{}, err
	}
	id, err := ParseQuotaPolicyID(string(quotaPolicyID))
	if err != nil {
		return CheckAdmissionResult{}, err
	}
	if _, err := ParseExecutionID(string(args.ExecutionID)); err != nil {
		return CheckAdmissionResult{}, err
	}
	secs, err := windowSeconds("check_admission", args.Window)
	if err != nil {
		return CheckAdmissionResult{}, err
	}
	if args.Jitter < 0 {
		return CheckAdmissionResult{}, errInvalidInput("check_admission: negative jitter")
	}
	if args.RateLimit > math.MaxInt64 || args.ConcurrencyCap > math.MaxInt64 {
		return CheckAdmissionResult{}, errInvalidInput("check_admission: limit exceeds 2^63-1")
	}
	windowMS := secs * 1000
	var out CheckAdmissionResult
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		now := w.callerNow(args.Now)
		q, exec := string(id), string(args.ExecutionID)
		until, err := w.q.QuotaAdmittedUntil(ctx, dbgen.QuotaAdmittedUntilParams{QuotaPolicyID: q, ExecutionID: exec})
		switch {
		case err == nil && until > now:
			out = CheckAdmissionResult{Kind: AdmissionAlreadyAdmitted}
			return nil
		case err != nil && !isNoRows(err):
			return err
		}
		if _, err := w.q.QuotaTrimWindow(ctx, dbgen.QuotaTrimWindowParams{QuotaPolicyID: q, CutoffMs: now - windowMS}); err != nil {
			return err
		}
		if args.RateLimit > 0 {
			st, err := w.q.QuotaWindowStats(ctx, dbgen.QuotaWindowStatsParams{QuotaPolicyID: q, CutoffMs: now - windowMS})
			if err != nil {
				return err
			}
			if uint64(st.Admitted) >= args.RateLimit {
				wait := max(st.OldestMs+windowMS-now, 0)
				out = CheckAdmissionResult{Kind: AdmissionRateExceeded, RetryAfter: msToDuration(wait) + args.Jitter}
				return nil
			}
		}
		pol, err := w.q.QuotaGetPolicy(ctx, q)
		known := err == nil
		if err != nil && !isNoRows(err) {
			return err
		}
		if args.ConcurrencyCap > 0 && known && uint64(pol.ActiveConcurrency) >= args.ConcurrencyCap {
			out = CheckAdmissionResult{Kind: AdmissionConcurrencyExceeded}
			return nil
		}
		if err := w.recordAdmission(ctx, q, exec, now, windowMS); err != nil {
			return err
		}
		if args.ConcurrencyCap > 0 {
			if known {
				_, err = w.q.QuotaIncrConcurrency(ctx, dbgen.QuotaIncrConcurrencyParams{NowMs: now, QuotaPolicyID: q})
			} else {
				err = w.q.QuotaInsertCounterOnly(ctx, dbgen.QuotaInsertCounterOnlyParams{QuotaPolicyID: q, NowMs: now})
			}
			if err != nil {
				return err
			}
		}
		out = CheckAdmissionResult{Kind: AdmissionAdmitted}
		return nil
	})
	if err != nil {
		return CheckAdmissionResult{}, err
	}
	return out, nil
}

// recordAdmission adds one admission of exec to q's window and (re)arms
// its guard until the window ends.
func (w *writeTx) recordAdmission(ctx context.Context, q, exec string, now, windowMS int64) error {
	if err := w.q.QuotaAddWindow(ctx, dbgen.QuotaAddWindowParams{QuotaPolicyID: q, NowMs: now, ExecutionID: exec}); err != nil {
		return err
	}
	return w.q.QuotaPutAdmitted(ctx, dbgen.QuotaPutAdmittedParams{QuotaPolicyID: q, ExecutionID: exec, NowMs: now, ExpiresAtMs: now + windowMS})
}

// execGates is what an execution's policy says about its budgets, quota
// and attempt timeout, in the typed form CreateExecution stores.
type execGates struct {
	budgets          []string // canonical, sorted, distinct
	quota            string   // canonical ("" = none)
	attemptTimeoutMS int64    // 0 = none
}

// none reports an execution with no budget, quota or attempt timeout.
func (g execGates) none() bool {
	return len(g.budgets) == 0 && g.quota == "" && g.attemptTimeoutMS == 0
}

// gatesFromPolicy validates and normalises the policy's gates.
func gatesFromPolicy(p *ExecutionPolicy) (execGates, error) {
	var g execGates
	if p == nil {
		return g, nil
	}
	for _, raw := range p.BudgetIDs {
		id, err := ParseBudgetID(string(raw))
		if err != nil {
			return execGates{}, err
		}
		g.budgets = append(g.budgets, string(id))
	}
	g.budgets = slices.Compact(slices.Sorted(slices.Values(g.budgets)))
	if p.QuotaPolicyID != "" {
		id, err := ParseQuotaPolicyID(string(p.QuotaPolicyID))
		if err != nil {
			return execGates{}, err
		}
		g.quota = string(id)
	}
	if t := p.TimeoutPolicy; t != nil {
		if t.AttemptTimeout < 0 || t.ExecutionDeadline < 0 {
			return execGates{}, errInvalidInput("policy.timeout_policy: negative duration")
		}
		if t.AttemptTimeout > 0 {
			g.attemptTimeoutMS = max(durationToMS(t.AttemptTimeout), 1)
		}
	}
	return g, nil
}

// storeGates writes g for a just-inserted execution (nothing for the
// common policy without gates).
func (w *writeTx) storeGates(ctx context.Context, executionID string, g execGates) error {
	if g.none() {
		return nil
	}
	var timeout sql.NullInt64
	if g.attemptTimeoutMS > 0 {
		timeout = nullInt(g.attemptTimeoutMS)
	}
	if err := w.q.ExecSetGates(ctx, dbgen.ExecSetGatesParams{
		QuotaPolicyID: nullString(g.quota), BudgetCount: int64(len(g.budgets)),
		AttemptTimeoutMs: timeout, ExecutionID: executionID,
	}); err != nil {
		return err
	}
	for _, id := range g.budgets {
		if err := w.q.ExecAddBudget(ctx, dbgen.ExecAddBudgetParams{ExecutionID: executionID, BudgetID: id}); err != nil {
			return err
		}
	}
	return nil
}

// gateClaim is Claim's admission gate for one fresh candidate (decision
// 16). A candidate whose budget is hard-breached, or whose quota's
// concurrency cap or rate window is full, is marked blocked (public state
// rate_limited) and true is returned; otherwise its quota admission is
// recorded and Claim leases it in this same transaction. Executions
// without budgets or quota pay nothing beyond two column reads.
func (w *writeTx) gateClaim(ctx context.Context, e *exec) (bool, error) {
	if e.BudgetCount > 0 {
		row, err := w.q.ExecBreachedBudget(ctx, e.ExecutionID)
		if err == nil {
			return true, w.blockOnGate(ctx, e, EligibilityBlockedByBudget, BlockingWaitingForBudget, row.BudgetID,
				budgetBlockDetail(row.BudgetID, row.Dimension, row.CurrentValue, row.HardLimit))
		}
		if !isNoRows(err) {
			return false, err
		}
	}
	if !e.QuotaPolicyID.Valid {
		return false, nil
	}
	q := e.QuotaPolicyID.String
	pol, err := w.q.QuotaGetPolicy(ctx, q)
	if isNoRows(err) {
		return false, nil // an unknown policy has no limits
	}
	if err != nil {
		return false, err
	}
	if pol.ActiveConcurrencyCap > 0 {
		active, err := w.q.QuotaCountActive(ctx, nullString(q))
		if err != nil {
			return false, err
		}
		if active >= pol.ActiveConcurrencyCap {
			return true, w.blockOnGate(ctx, e, EligibilityBlockedByQuota, BlockingWaitingForQuota, q,
				fmt.Sprintf("quota %s: concurrency cap %d reached", q, pol.ActiveConcurrencyCap))
		}
	}
	if pol.MaxRequestsPerWindow == 0 {
		return false, nil
	}
	until, err := w.q.QuotaAdmittedUntil(ctx, dbgen.QuotaAdmittedUntilParams{QuotaPolicyID: q, ExecutionID: e.ExecutionID})
	switch {
	case err == nil && until > w.now:
		return false, nil // admitted earlier in this window: not a new request
	case err != nil && !isNoRows(err):
		return false, err
	}
	windowMS := pol.WindowSeconds * 1000
	if _, err := w.q.QuotaTrimWindow(ctx, dbgen.QuotaTrimWindowParams{QuotaPolicyID: q, CutoffMs: w.now - windowMS}); err != nil {
		return false, err
	}
	st, err := w.q.QuotaWindowStats(ctx, dbgen.QuotaWindowStatsParams{QuotaPolicyID: q, CutoffMs: w.now - windowMS})
	if err != nil {
		return false, err
	}
	if st.Admitted >= pol.MaxRequestsPerWindow {
		return true, w.blockOnGate(ctx, e, EligibilityBlockedByQuota, BlockingWaitingForQuota, q,
			fmt.Sprintf("quota %s: %d requests per %d s reached", q, pol.MaxRequestsPerWindow, pol.WindowSeconds))
	}
	return false, w.recordAdmission(ctx, q, e.ExecutionID, w.now, windowMS)
}

// budgetBlockDetail is the blocking detail of a budget-blocked execution.
func budgetBlockDetail(budget, dim string, usage, limit int64) string {
	return fmt.Sprintf("budget %s: %q usage %d reached the hard limit %d", budget, dim, usage, limit)
}

// blockOnGate parks a runnable execution as blocked by a budget or quota
// (its attempt state is kept) and records which gate blocked it.
func (w *writeTx) blockOnGate(ctx context.Context, e *exec, elig EligibilityState, br BlockingReason, gate, detail string) error {
	e.setState(PhaseRunnable, OwnershipUnowned, elig, e.attemptState(), br)
	e.BlockingDetail = detail
	if err := w.saveExec(ctx, e); err != nil {
		return err
	}
	e.BlockedGate = nullString(gate)
	return w.q.ExecSetBlockedGate(ctx, dbgen.ExecSetBlockedGateParams{BlockedGate: e.BlockedGate, ExecutionID: e.ExecutionID})
}

// reconcileQuotas is the quota_reconciler tick (spec 05 §B.4 J10): per
// policy, admissions that left its window are trimmed and the
// CheckAdmission concurrency count is recomputed from the live admission
// guards; expired guards are deleted first. One short transaction per
// policy; the tick covers every policy (a configuration-sized set).
// Window rows of policies without a policy row are trimmed once older
// than the retention age.
func reconcileQuotas(ctx context.Context, db *database) (scanners.TickResult, error) {
	var res scanners.TickResult
	err := db.write(ctx, func(ctx context.Context, w *writeTx) error {
		res.Processed = 0
		rows, err := w.q.QuotaExpiredAdmissions(ctx, dbgen.QuotaExpiredAdmissionsParams{NowMs: w.now, Lim: scannerBatch})
		if err != nil {
			return err
		}
		for _, r := range rows {
			n, err := w.q.QuotaDeleteAdmitted(ctx, dbgen.QuotaDeleteAdmittedParams{QuotaPolicyID: r.QuotaPolicyID, ExecutionID: r.ExecutionID, NowMs: w.now})
			if err != nil {
				return err
			}
			res.Processed += int(n)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	after := ""
	for {
		var page []dbgen.QuotaListPoliciesRow
		err := db.read(ctx, func(q *dbgen.Queries) error {
			var err error
			page, err = q.QuotaListPolicies(ctx, dbgen.QuotaListPoliciesParams{After: after, Lim: 100})
			return err
		})
		if err != nil {
			return res, err
		}
		r, err := tickRows(ctx, db, "quota reconciler", page, func(ctx context.Context, w *writeTx, p dbgen.QuotaListPoliciesRow) (int, error) {
			changed := 0
			n, err := w.q.QuotaTrimWindow(ctx, dbgen.QuotaTrimWindowParams{QuotaPolicyID: p.QuotaPolicyID, CutoffMs: w.now - p.WindowSeconds*1000})
			if err != nil {
				return 0, err
			}
			changed += int(n)
			if p.ActiveConcurrencyCap > 0 {
				live, err := w.q.QuotaCountAdmitted(ctx, p.QuotaPolicyID)
				if err != nil {
					return 0, err
				}
				n, err := w.q.QuotaSetConcurrency(ctx, dbgen.QuotaSetConcurrencyParams{ActiveConcurrency: live, NowMs: w.now, QuotaPolicyID: p.QuotaPolicyID})
				if err != nil {
					return 0, err
				}
				changed += int(n)
			}
			return changed, nil
		})
		addTick(&res, r)
		if err != nil || len(page) < 100 {
			if err != nil {
				return res, err
			}
			break
		}
		after = page[len(page)-1].QuotaPolicyID
	}
	var orphans []string
	err = db.read(ctx, func(q *dbgen.Queries) error {
		var err error
		orphans, err = q.QuotaOrphanWindowPolicies(ctx, scannerBatch)
		return err
	})
	if err != nil {
		return res, err
	}
	cutoff := durationToMS(db.scannerSettings().retention)
	r, err := tickRows(ctx, db, "quota reconciler", orphans, func(ctx context.Context, w *writeTx, q string) (int, error) {
		n, err := w.q.QuotaTrimWindow(ctx, dbgen.QuotaTrimWindowParams{QuotaPolicyID: q, CutoffMs: w.now - cutoff})
		return int(n), err
	})
	addTick(&res, r)
	return res, err
}
