package backend

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// claimStatements loads the SQL text that claim really runs: the sqlc
// constants of dbgen/executions.sql.go, read from the generated source so
// the plan test can never drift from the statements (they are unexported
// in dbgen).
func claimStatements(t *testing.T, names ...string) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "dbgen", "executions.sql.go"), nil, 0)
	if err != nil {
		t.Fatalf("parse dbgen/executions.sql.go: %v", err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 || !want[vs.Names[0].Name] {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			t.Fatalf("unquote %s: %v", vs.Names[0].Name, err)
		}
		out[vs.Names[0].Name] = s
		return true
	})
	for _, n := range names {
		if out[n] == "" {
			t.Fatalf("dbgen/executions.sql.go has no constant %s", n)
		}
	}
	return out
}

// openPlanDatabase opens a fresh file database with the real construction
// code (bypassing the dev-mode guard and the registry) and seeds it with
// executions in every state claim's queries filter on, so the planner sees
// populated partial indexes.
func openPlanDatabase(t *testing.T) (*SQLiteBackend, *FakeClock) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ff.db")
	target, key, memory, err := classifyPath(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := NewFakeClock(time.Time{})
	db, err := openDatabase(t.Context(), path, target, key, memory, Options{Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("openDatabase: %v", err)
	}
	t.Cleanup(func() {
		if err := db.close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	b := &SQLiteBackend{db: db}
	ctx := t.Context()
	for i := range 200 {
		lane := LaneID(fmt.Sprintf("lane-%d", i%4))
		args := CreateExecutionArgs{ExecutionID: NewExecutionID(), LaneID: lane, Priority: int32(i % 7)}
		if i%5 == 0 {
			args.DelayUntil = clock.Now().Add(time.Hour)
		}
		if i%3 == 0 {
			args.Policy = &ExecutionPolicy{RoutingRequirements: &RoutingRequirements{RequiredCapabilities: []string{"gpu"}}}
		}
		if _, err := b.CreateExecution(ctx, args); err != nil {
			t.Fatal(err)
		}
	}
	// Some executions leased, some lease-expired and marked reclaimable,
	// some finished: the history the claim indexes must not walk.
	for i := range 40 {
		h, err := b.Claim(ctx, LaneID(fmt.Sprintf("lane-%d", i%4)), CapabilitySet{Tokens: []string{"gpu"}}, ClaimPolicy{LeaseTTL: time.Minute})
		if err != nil || h == nil {
			t.Fatalf("seed claim %d: %v, %v", i, h, err)
		}
		switch i % 3 {
		case 0:
			if err := b.Complete(ctx, *h, nil); err != nil {
				t.Fatal(err)
			}
		case 1:
			clock.Advance(2 * time.Minute)
			if _, err := b.Renew(ctx, *h); !errors.Is(err, ErrLeaseExpired) {
				t.Fatalf("seed renew after expiry = %v, want ErrLeaseExpired", err)
			}
		}
	}
	return b, clock
}

// queryPlan runs EXPLAIN QUERY PLAN for stmt on the writer and returns the
// detail column of each row.
func queryPlan(t *testing.T, b *SQLiteBackend, stmt string, args ...any) []string {
	t.Helper()
	rows, err := b.db.writer.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+stmt, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN: %v\n%s", err, stmt)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(plan) == 0 {
		t.Fatalf("empty plan for\n%s", stmt)
	}
	return plan
}

// execCoreScan matches a plan step that reads ff_exec_core (under any of
// the aliases the claim statements use) by scanning instead of searching.
var execCoreScan = regexp.MustCompile(`^SCAN (ff_exec_core|e|d)\b`)

// TestClaimQueryPlans shows that the statements claim runs in its write
// transaction find their rows through the claim indexes: a lane's best
// eligible execution (ff_exec_core_claim_idx), its best reclaimable one
// (ff_exec_core_reclaimable_idx) and its due delayed ones
// (ff_exec_core_delayed_lane_idx), in index order (no sort step), and never
// by a full scan of ff_exec_core.
func TestClaimQueryPlans(t *testing.T) {
	t.Parallel()
	b, clock := openPlanDatabase(t)
	stmts := claimStatements(t, "nextEligible", "claimProbe", "promoteDueInLane")
	now := clock.Now().UnixMilli()

	tests := []struct {
		name      string
		stmt      string
		args      []any
		wantIndex string
		// wantSearch are steps the plan must contain (each matched as a
		// whole step), one of them the SEARCH on wantIndex.
		wantSearch []*regexp.Regexp
	}{
		{
			name:      "NextEligible",
			stmt:      stmts["nextEligible"],
			args:      []any{"lane-1", `["gpu"]`},
			wantIndex: "ff_exec_core_claim_idx",
			wantSearch: []*regexp.Regexp{
				regexp.MustCompile(`^SEARCH e USING (COVERING )?INDEX ff_exec_core_claim_idx \(lane_id=\?\)$`),
				// The capability check is a primary-key lookup per candidate.
				regexp.MustCompile(`^SEARCH c USING (COVERING |PRIMARY )?(INDEX|KEY) .*\(execution_id=\?`),
			},
		},
		{
			// The lane's earliest delay and its best reclaimable execution.
			name:      "ClaimProbe",
			stmt:      stmts["claimProbe"],
			args:      []any{"lane-1", `["gpu"]`},
			wantIndex: "ff_exec_core_reclaimable_idx",
			wantSearch: []*regexp.Regexp{
				regexp.MustCompile(`^SEARCH d USING COVERING INDEX ff_exec_core_delayed_lane_idx \(lane_id=\?\)$`),
				regexp.MustCompile(`^SEARCH e USING (COVERING )?INDEX ff_exec_core_reclaimable_idx \(lane_id=\?\)$`),
				regexp.MustCompile(`^SEARCH c USING (COVERING |PRIMARY )?(INDEX|KEY) .*\(execution_id=\?`),
			},
		},
		{
			name:      "PromoteDueInLane",
			stmt:      stmts["promoteDueInLane"],
			args:      []any{string(PublicStateWaiting), now, "lane-1", promoteBatch},
			wantIndex: "ff_exec_core_delayed_lane_idx",
			wantSearch: []*regexp.Regexp{
				// The update itself touches only the selected rows.
				regexp.MustCompile(`^SEARCH ff_exec_core USING INDEX sqlite_autoindex_ff_exec_core_1 \(execution_id=\?\)$`),
				regexp.MustCompile(`^SEARCH d USING (COVERING )?INDEX ff_exec_core_delayed_lane_idx \(lane_id=\? AND delay_until_ms<\?\)$`),
			},
		},
	}
	check := func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { checkPlan(t, b, tt.stmt, tt.args, tt.wantIndex, tt.wantSearch) })
		}
	}
	// The backend never runs ANALYZE, so the planner works without
	// statistics; with them (a later PRAGMA optimize, an operator's
	// ANALYZE) it must still choose the claim indexes.
	t.Run("NoStats", check)
	if _, err := b.db.writer.ExecContext(t.Context(), "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	t.Run("Analyzed", check)
	checkClaimIndexes(t, b)
}

// checkPlan asserts the plan of one statement: no scan of ff_exec_core,
// no sort step, every wantSearch step present, and wantIndex used.
func checkPlan(t *testing.T, b *SQLiteBackend, stmt string, args []any, wantIndex string, wantSearch []*regexp.Regexp) {
	t.Helper()
	plan := queryPlan(t, b, stmt, args...)
	for _, step := range plan {
		if execCoreScan.MatchString(step) {
			t.Errorf("plan scans ff_exec_core: %q", step)
		}
		if strings.Contains(step, "USE TEMP B-TREE FOR ORDER BY") {
			t.Errorf("plan sorts instead of walking the index in claim order: %q", step)
		}
	}
	for _, re := range wantSearch {
		if !slices.ContainsFunc(plan, re.MatchString) {
			t.Errorf("plan has no step matching %s", re)
		}
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, wantIndex) {
		t.Errorf("plan does not use %s", wantIndex)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("plan:\n%s", text)
	}
}

// checkClaimIndexes asserts that the indexes the plans name are the ones
// the migration defines, with the partial predicates that keep them to the
// claimable backlog.
func checkClaimIndexes(t *testing.T, b *SQLiteBackend) {
	t.Helper()
	// The indexes the plans name are the ones the migration defines, with
	// the partial predicates that keep them to the claimable backlog.
	rows, err := b.db.writer.QueryContext(t.Context(),
		`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'ff_exec_core' AND name IN (?, ?, ?) ORDER BY name`,
		"ff_exec_core_claim_idx", "ff_exec_core_delayed_lane_idx", "ff_exec_core_reclaimable_idx")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var name, sql string
		if err := rows.Scan(&name, &sql); err != nil {
			t.Fatal(err)
		}
		got[name] = sql
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	wantWhere := map[string]string{
		"ff_exec_core_claim_idx":        "WHERE lifecycle_phase = 'runnable' AND eligibility_state = 'eligible_now'",
		"ff_exec_core_delayed_lane_idx": "WHERE eligibility_state = 'not_eligible_until_time'",
		"ff_exec_core_reclaimable_idx":  "WHERE ownership_state = 'lease_expired_reclaimable'",
	}
	for name, where := range wantWhere {
		sql, ok := got[name]
		if !ok {
			t.Errorf("index %s does not exist", name)
			continue
		}
		if !strings.Contains(strings.Join(strings.Fields(sql), " "), where) {
			t.Errorf("index %s is not partial on %q:\n%s", name, where, sql)
		}
	}
}
