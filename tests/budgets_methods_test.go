package tests

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

// budgetSpec is a budget with one dimension per entry.
type budgetSpec struct {
	dim        string
	hard, soft uint64
}

// createBudget creates a budget with the given dimensions, adjusted by mod.
func (e *execEnv) createBudget(dims []budgetSpec, mod func(*backend.CreateBudgetArgs)) backend.BudgetID {
	e.t.Helper()
	args := backend.CreateBudgetArgs{BudgetID: backend.NewBudgetID(), ScopeType: "tenant", ScopeID: "t1"}
	for _, d := range dims {
		args.Dimensions = append(args.Dimensions, d.dim)
		args.HardLimits = append(args.HardLimits, d.hard)
		args.SoftLimits = append(args.SoftLimits, d.soft)
	}
	if mod != nil {
		mod(&args)
	}
	res, err := e.b.CreateBudget(e.ctx, args)
	if err != nil || res.Kind != backend.CreateBudgetCreated {
		e.t.Fatalf("CreateBudget = %+v, %v; want created", res, err)
	}
	return args.BudgetID
}

// budgetStatus reads a budget that must exist.
func (e *execEnv) budgetStatus(id backend.BudgetID) backend.BudgetStatus {
	e.t.Helper()
	s, err := e.b.GetBudgetStatus(e.ctx, id)
	if err != nil {
		e.t.Fatalf("GetBudgetStatus(%s): %v", id, err)
	}
	return s
}

// charge reports usage through the admin path and fails the test on error.
func (e *execEnv) charge(id backend.BudgetID, dim string, delta uint64) backend.ReportUsageResult {
	e.t.Helper()
	res, err := e.b.ReportUsageAdmin(e.ctx, id, backend.ReportUsageAdminArgs{Dimensions: []string{dim}, Deltas: []uint64{delta}})
	if err != nil {
		e.t.Fatalf("ReportUsageAdmin(%s, %s+%d): %v", id, dim, delta, err)
	}
	return res
}

// tick runs one reconciler tick and fails the test on error.
func (e *execEnv) tick(job scanners.Job) scanners.TickResult {
	e.t.Helper()
	res, err := e.b.RunScannerOnce(e.ctx, job)
	if err != nil {
		e.t.Fatalf("RunScannerOnce(%s): %v", job, err)
	}
	return res
}

func TestCreateBudgetAndStatus(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := backend.NewBudgetID()
	args := backend.CreateBudgetArgs{
		BudgetID: id, ScopeType: "tenant", ScopeID: "acme", EnforcementMode: "strict",
		OnHardLimit: "reject", OnSoftLimit: "warn", ResetInterval: time.Hour,
		// "tokens" repeats: the last limits win; "calls" has no limits.
		Dimensions: []string{"tokens", "calls", "tokens"},
		HardLimits: []uint64{10, 0, 100},
		SoftLimits: []uint64{5, 0, 80},
	}
	res, err := e.b.CreateBudget(e.ctx, args)
	if diff := cmp.Diff(backend.CreateBudgetResult{BudgetID: id, Kind: backend.CreateBudgetCreated}, res); err != nil || diff != "" {
		t.Fatalf("CreateBudget = %v; diff (-want +got)\n%s", err, diff)
	}
	want := backend.BudgetStatus{
		BudgetID: id, CreatedAt: e.now(), EnforcementMode: "strict", ScopeID: "acme", ScopeType: "tenant",
		HardLimits:  map[string]uint64{"tokens": 100, "calls": 0},
		SoftLimits:  map[string]uint64{"tokens": 80, "calls": 0},
		NextResetAt: e.now().Add(time.Hour),
		Usage:       map[string]uint64{},
	}
	if diff := cmp.Diff(want, e.budgetStatus(id)); diff != "" {
		t.Fatalf("status (-want +got)\n%s", diff)
	}

	// A second create with other arguments leaves the budget untouched.
	before := e.dump()
	args.HardLimits = []uint64{1, 1, 1}
	res, err = e.b.CreateBudget(e.ctx, args)
	if err != nil || res.Kind != backend.CreateBudgetAlreadySatisfied || res.BudgetID != id {
		t.Fatalf("repeat CreateBudget = %+v, %v; want already_satisfied", res, err)
	}
	e.requireUnchanged(before, "repeated CreateBudget")

	// The caller's Now stamps the budget; no interval means no schedule.
	at := e.now().Add(-time.Hour)
	other := e.createBudget(nil, func(a *backend.CreateBudgetArgs) { a.Now = at })
	got := e.budgetStatus(other)
	if !got.CreatedAt.Equal(at) || !got.NextResetAt.IsZero() || len(got.HardLimits) != 0 {
		t.Fatalf("budget with Now and no limits = %+v", got)
	}
}

func TestCreateBudgetErrors(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	tests := []struct {
		name string
		args backend.CreateBudgetArgs
	}{
		{"ErrBadID", backend.CreateBudgetArgs{BudgetID: "not-a-uuid"}},
		{"ErrEmptyID", backend.CreateBudgetArgs{}},
		{"ErrHardLengthMismatch", backend.CreateBudgetArgs{BudgetID: backend.NewBudgetID(), Dimensions: []string{"a"}, SoftLimits: []uint64{1}}},
		{"ErrSoftLengthMismatch", backend.CreateBudgetArgs{BudgetID: backend.NewBudgetID(), Dimensions: []string{"a"}, HardLimits: []uint64{1}}},
		{"ErrLimitTooLarge", backend.CreateBudgetArgs{BudgetID: backend.NewBudgetID(), Dimensions: []string{"a"}, HardLimits: []uint64{math.MaxInt64 + 1}, SoftLimits: []uint64{0}}},
		{"ErrNegativeInterval", backend.CreateBudgetArgs{BudgetID: backend.NewBudgetID(), ResetInterval: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.dump()
			_, err := e.b.CreateBudget(e.ctx, tt.args)
			requireErr(t, "CreateBudget", err, backend.ErrInvalidInput)
			e.requireUnchanged(before, "a rejected CreateBudget")
		})
	}
}

func TestGetBudgetStatusErrors(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	_, err := e.b.GetBudgetStatus(e.ctx, backend.NewBudgetID())
	if !isNotFound(err, backend.EntityBudget) {
		t.Fatalf("unknown budget = %v, want NotFound(budget)", err)
	}
	_, err = e.b.GetBudgetStatus(e.ctx, "x")
	requireErr(t, "malformed id", err, backend.ErrInvalidInput)
}

func TestReportUsageAdminOutcomes(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.createBudget([]budgetSpec{{"tokens", 100, 50}, {"calls", 10, 0}}, nil)

	if got := e.charge(id, "tokens", 40); got != (backend.ReportUsageResult{Kind: backend.UsageOK}) {
		t.Fatalf("under the soft limit = %+v, want ok", got)
	}
	want := backend.ReportUsageResult{Kind: backend.UsageSoftBreach, Dimension: "tokens", CurrentUsage: 60, Limit: 50}
	if got := e.charge(id, "tokens", 20); got != want {
		t.Fatalf("past the soft limit = %+v, want %+v", got, want)
	}
	// Over the hard limit: nothing applied, the value before is reported.
	want = backend.ReportUsageResult{Kind: backend.UsageHardBreach, Dimension: "tokens", CurrentUsage: 60, Limit: 100}
	if got := e.charge(id, "tokens", 41); got != want {
		t.Fatalf("past the hard limit = %+v, want %+v", got, want)
	}
	// Reaching the hard limit exactly is applied (and soft-breached).
	if got := e.charge(id, "tokens", 40); got.Kind != backend.UsageSoftBreach || got.CurrentUsage != 100 {
		t.Fatalf("reaching the hard limit = %+v, want soft_breach at 100", got)
	}
	s := e.budgetStatus(id)
	if s.Usage["tokens"] != 100 || s.BreachCount != 1 || s.SoftBreachCount != 2 || s.LastBreachDim != "tokens" || !s.LastBreachAt.Equal(e.now()) {
		t.Fatalf("status after reports = %+v", s)
	}

	// Several dimensions: a hard breach in one applies none of them, and
	// the breaching dimension is the first by name.
	res, err := e.b.ReportUsageAdmin(e.ctx, id, backend.ReportUsageAdminArgs{
		Dimensions: []string{"tokens", "calls", "zeta"}, Deltas: []uint64{1, 11, 5},
	})
	want = backend.ReportUsageResult{Kind: backend.UsageHardBreach, Dimension: "calls", CurrentUsage: 0, Limit: 10}
	if err != nil || res != want {
		t.Fatalf("multi-dimension breach = %+v, %v; want %+v", res, err, want)
	}
	s = e.budgetStatus(id)
	if diff := cmp.Diff(map[string]uint64{"tokens": 100, "calls": 0, "zeta": 0}, s.Usage); diff != "" {
		t.Fatalf("usage after a rejected report (-want +got)\n%s", diff)
	}

	// A repeated dimension keeps the last delta; an unlimited one is fine.
	res, err = e.b.ReportUsageAdmin(e.ctx, id, backend.ReportUsageAdminArgs{
		Dimensions: []string{"calls", "calls", "zeta"}, Deltas: []uint64{9, 2, math.MaxInt64},
	})
	if err != nil || res.Kind != backend.UsageOK {
		t.Fatalf("repeated dimension = %+v, %v", res, err)
	}
	if s := e.budgetStatus(id); s.Usage["calls"] != 2 || s.Usage["zeta"] != math.MaxInt64 {
		t.Fatalf("usage = %v, want calls 2 and zeta 2^63-1", s.Usage)
	}
	// Usage saturates instead of wrapping.
	if got := e.charge(id, "zeta", 7); got.Kind != backend.UsageOK || e.budgetStatus(id).Usage["zeta"] != math.MaxInt64 {
		t.Fatalf("saturating report = %+v, usage %v", got, e.budgetStatus(id).Usage)
	}
	// An empty report is ok.
	if res, err := e.b.ReportUsageAdmin(e.ctx, id, backend.ReportUsageAdminArgs{}); err != nil || res.Kind != backend.UsageOK {
		t.Fatalf("empty report = %+v, %v", res, err)
	}

	// An unknown budget has no limits but records usage.
	unknown := backend.NewBudgetID()
	if got := e.charge(unknown, "tokens", 1_000_000); got.Kind != backend.UsageOK {
		t.Fatalf("unknown budget = %+v, want ok", got)
	}
	if _, err := e.b.GetBudgetStatus(e.ctx, unknown); !isNotFound(err, backend.EntityBudget) {
		t.Fatalf("status of a budget never created = %v, want NotFound", err)
	}
}

func TestReportUsageAdminDedup(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.createBudget([]budgetSpec{{"tokens", 100, 10}}, nil)
	report := func(key string, delta uint64) backend.ReportUsageResult {
		t.Helper()
		res, err := e.b.ReportUsageAdmin(e.ctx, id, backend.ReportUsageAdminArgs{
			Dimensions: []string{"tokens"}, Deltas: []uint64{delta}, DedupKey: key,
		})
		if err != nil {
			t.Fatalf("report %q: %v", key, err)
		}
		return res
	}
	first := report("k1", 20)
	if first.Kind != backend.UsageSoftBreach {
		t.Fatalf("first report = %+v", first)
	}
	// The repeat replays the first result and applies nothing.
	before := e.dump()
	if got := report("k1", 20); got != first {
		t.Fatalf("replay = %+v, want %+v", got, first)
	}
	e.requireUnchanged(before, "a replayed report")
	// A hard breach is replayed too.
	breach := report("k2", 500)
	if got := report("k2", 1); got != breach || breach.Kind != backend.UsageHardBreach {
		t.Fatalf("hard-breach replay = %+v, first %+v", got, breach)
	}
	// The key is per budget: another budget applies it.
	other := e.createBudget([]budgetSpec{{"tokens", 0, 0}}, nil)
	if res, err := e.b.ReportUsageAdmin(e.ctx, other, backend.ReportUsageAdminArgs{Dimensions: []string{"tokens"}, Deltas: []uint64{3}, DedupKey: "k1"}); err != nil || res.Kind != backend.UsageOK {
		t.Fatalf("same key on another budget = %+v, %v", res, err)
	}
	// After the 24 h window the key is forgotten and applies again.
	e.clock.Advance(backend.DedupWindowDefault)
	if got := report("k1", 20); got.Kind != backend.UsageSoftBreach || got.CurrentUsage != 40 {
		t.Fatalf("report after the window = %+v, want applied (usage 40)", got)
	}
	// Args.Now is ignored: the backend clock stamps usage.
	if _, err := e.b.ReportUsageAdmin(e.ctx, id, backend.ReportUsageAdminArgs{Now: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
}

func TestReportUsageAdminErrors(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.createBudget([]budgetSpec{{"tokens", 100, 0}}, nil)
	tests := []struct {
		name string
		id   backend.BudgetID
		args backend.ReportUsageAdminArgs
	}{
		{"ErrBadID", "nope", backend.ReportUsageAdminArgs{}},
		{"ErrLengthMismatch", id, backend.ReportUsageAdminArgs{Dimensions: []string{"tokens"}}},
		{"ErrDeltaTooLarge", id, backend.ReportUsageAdminArgs{Dimensions: []string{"tokens"}, Deltas: []uint64{math.MaxInt64 + 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.dump()
			_, err := e.b.ReportUsageAdmin(e.ctx, tt.id, tt.args)
			requireErr(t, "ReportUsageAdmin", err, backend.ErrInvalidInput)
			e.requireUnchanged(before, "a rejected ReportUsageAdmin")
		})
	}
}

func TestResetBudget(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.createBudget([]budgetSpec{{"tokens", 10, 5}}, func(a *backend.CreateBudgetArgs) { a.ResetInterval = time.Minute })
	e.charge(id, "tokens", 10)
	e.charge(id, "tokens", 1) // hard breach
	e.clock.Advance(time.Second)

	at := e.now().Add(time.Hour)
	res, err := e.b.ResetBudget(e.ctx, backend.ResetBudgetArgs{BudgetID: id, Now: at})
	if err != nil || !res.NextResetAt.Equal(at.Add(time.Minute)) {
		t.Fatalf("ResetBudget = %+v, %v; want next reset %v", res, err, at.Add(time.Minute))
	}
	s := e.budgetStatus(id)
	if s.Usage["tokens"] != 0 || !s.LastBreachAt.IsZero() || s.LastBreachDim != "" || s.BreachCount != 1 || s.SoftBreachCount != 1 {
		t.Fatalf("status after reset = %+v (counters are lifetime totals)", s)
	}

	// Without an interval a reset schedules nothing.
	plain := e.createBudget([]budgetSpec{{"tokens", 10, 0}}, nil)
	if res, err := e.b.ResetBudget(e.ctx, backend.ResetBudgetArgs{BudgetID: plain}); err != nil || !res.NextResetAt.IsZero() {
		t.Fatalf("reset without interval = %+v, %v", res, err)
	}

	before := e.dump()
	_, err = e.b.ResetBudget(e.ctx, backend.ResetBudgetArgs{BudgetID: backend.NewBudgetID()})
	if !isNotFound(err, backend.EntityBudget) {
		t.Fatalf("reset of an unknown budget = %v, want NotFound(budget)", err)
	}
	_, err = e.b.ResetBudget(e.ctx, backend.ResetBudgetArgs{BudgetID: "bad"})
	requireErr(t, "reset of a malformed id", err, backend.ErrInvalidInput)
	e.requireUnchanged(before, "a rejected ResetBudget")
}

// ReportUsage validates the worker's handle and lease before charging.
func TestReportUsageHandleChecks(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	budget := e.createBudget([]budgetSpec{{"tokens", 100, 0}}, nil)
	dims := backend.UsageDimensions{Custom: map[string]uint64{"tokens": 5}}
	e.create("lane", nil)
	h := e.mustClaim("lane")

	res, err := e.b.ReportUsage(e.ctx, h, budget, dims)
	if err != nil || res.Kind != backend.UsageOK || e.budgetStatus(budget).Usage["tokens"] != 5 {
		t.Fatalf("ReportUsage = %+v, %v", res, err)
	}

	tests := []struct {
		name   string
		h      backend.Handle
		budget backend.BudgetID
		dims   backend.UsageDimensions
		want   error
	}{
		{"ErrForeignHandle", forged(t, h, backend.BackendValkey, nil), budget, dims, backend.ErrHandleFromOtherBackend},
		{"ErrStaleEpoch", forged(t, h, backend.BackendSQLite, func(p *backend.HandlePayload) { p.LeaseEpoch++ }), budget, dims, backend.ErrStaleLease},
		{"ErrBadBudget", h, "zzz", dims, backend.ErrInvalidInput},
		{"ErrDeltaTooLarge", h, budget, backend.UsageDimensions{Custom: map[string]uint64{"tokens": math.MaxUint64}}, backend.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.dump()
			_, err := e.b.ReportUsage(e.ctx, tt.h, tt.budget, tt.dims)
			requireErr(t, "ReportUsage", err, tt.want)
			e.requireUnchanged(before, "a rejected ReportUsage")
		})
	}

	// A lapsed lease is ErrLeaseExpired and nothing is charged.
	e.clock.Advance(31 * time.Second)
	_, err = e.b.ReportUsage(e.ctx, h, budget, dims)
	requireErr(t, "ReportUsage on an expired lease", err, backend.ErrLeaseExpired)
	if got := e.budgetStatus(budget).Usage["tokens"]; got != 5 {
		t.Fatalf("usage after the rejected report = %d, want 5", got)
	}

	// After Complete the handle's execution is not active.
	e.create("lane2", nil)
	h2 := e.mustClaim("lane2")
	if err := e.b.Complete(e.ctx, h2, nil); err != nil {
		t.Fatal(err)
	}
	before := e.dump()
	_, err = e.b.ReportUsage(e.ctx, h2, budget, dims)
	requireErr(t, "ReportUsage after Complete", err, backend.ErrExecutionNotActive)
	e.requireUnchanged(before, "ReportUsage after Complete")
}

func TestReportUsageDedupReplaysFirstResult(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	budget := e.createBudget([]budgetSpec{{"tokens", 100, 10}}, nil)
	e.create("lane", nil)
	h := e.mustClaim("lane")
	dims := backend.UsageDimensions{Custom: map[string]uint64{"tokens": 20}, DedupKey: "step-1", InputTokens: 99}
	first, err := e.b.ReportUsage(e.ctx, h, budget, dims)
	if err != nil || first.Kind != backend.UsageSoftBreach {
		t.Fatalf("first = %+v, %v", first, err)
	}
	again, err := e.b.ReportUsage(e.ctx, h, budget, dims)
	if err != nil || again != first {
		t.Fatalf("repeat = %+v, %v; want %+v", again, err, first)
	}
	if got := e.budgetStatus(budget).Usage; !cmp.Equal(got, map[string]uint64{"tokens": 20}) {
		t.Fatalf("usage = %v, want tokens 20 (InputTokens ignored, repeat not applied)", got)
	}
}

// A hard breach applies the budget's on_hard_limit action to the reporting
// execution: "fail" and "cancel" end it; any other value leaves it running.
func TestReportUsageHardLimitActions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		action  string
		want    backend.PublicState
		outcome backend.TerminalOutcome
	}{
		{"fail", backend.PublicStateFailed, backend.OutcomeFailed},
		{"cancel", backend.PublicStateCancelled, backend.OutcomeCancelled},
		{"reject", backend.PublicStateActive, backend.OutcomeNone},
		{"", backend.PublicStateActive, backend.OutcomeNone},
	}
	for _, tt := range tests {
		t.Run("Action_"+tt.action, func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			budget := e.createBudget([]budgetSpec{{"tokens", 10, 0}}, func(a *backend.CreateBudgetArgs) { a.OnHardLimit = tt.action })
			id := e.create("lane", nil)
			h := e.mustClaim("lane")
			res, err := e.b.ReportUsage(e.ctx, h, budget, backend.UsageDimensions{Custom: map[string]uint64{"tokens": 11}, DedupKey: "k"})
			want := backend.ReportUsageResult{Kind: backend.UsageHardBreach, Dimension: "tokens", CurrentUsage: 0, Limit: 10}
			if err != nil || res != want {
				t.Fatalf("ReportUsage = %+v, %v; want %+v", res, err, want)
			}
			info := e.info(id)
			if info.PublicState != tt.want || info.StateVector.TerminalOutcome != tt.outcome {
				t.Fatalf("after the breach: %s / %s, want %s / %s", info.PublicState, info.StateVector.TerminalOutcome, tt.want, tt.outcome)
			}
			if tt.outcome == backend.OutcomeNone {
				if err := e.b.Complete(e.ctx, h, nil); err != nil {
					t.Fatalf("Complete after a breach without action: %v", err)
				}
				return
			}
			// The holder's lease ended with the execution.
			if err := e.b.Complete(e.ctx, h, nil); !errors.Is(err, backend.ErrExecutionNotActive) {
				t.Fatalf("Complete after the action = %v, want ErrExecutionNotActive", err)
			}
			snap := e.describe(id)
			if snap.CurrentLease != nil {
				t.Fatalf("lease still live after the action: %+v", snap.CurrentLease)
			}
		})
	}
}

func TestBudgetCapabilityFlags(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	s := e.b.Capabilities().Supports
	if !s.BudgetAdmin || !s.QuotaAdmin {
		t.Fatalf("BudgetAdmin/QuotaAdmin = %v/%v, want true", s.BudgetAdmin, s.QuotaAdmin)
	}
}

func TestBudgetMethodsAfterClose(t *testing.T) {
	t.Parallel()
	b, _, _ := newFileBackend(t)
	ctx := t.Context()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	id := backend.NewBudgetID()
	calls := map[string]error{}
	_, calls["CreateBudget"] = b.CreateBudget(ctx, backend.CreateBudgetArgs{BudgetID: id})
	_, calls["ReportUsageAdmin"] = b.ReportUsageAdmin(ctx, id, backend.ReportUsageAdminArgs{})
	_, calls["ResetBudget"] = b.ResetBudget(ctx, backend.ResetBudgetArgs{BudgetID: id})
	_, calls["GetBudgetStatus"] = b.GetBudgetStatus(ctx, id)
	_, calls["CreateQuotaPolicy"] = b.CreateQuotaPolicy(ctx, backend.CreateQuotaPolicyArgs{QuotaPolicyID: backend.NewQuotaPolicyID()})
	_, calls["CheckAdmission"] = b.CheckAdmission(ctx, backend.NewQuotaPolicyID(), "", backend.CheckAdmissionArgs{ExecutionID: backend.NewExecutionID()})
	for name, err := range calls {
		if !errors.Is(err, backend.ErrUnavailable) {
			t.Errorf("%s after Close = %v, want ErrUnavailable", name, err)
		}
	}
}
