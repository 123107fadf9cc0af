package migrations_test

import (
	"context"
	"database/sql"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/flowfabric/ffsqlite/migrations"
)

// tablesByVersion lists the tables each migration creates. Versions 3–7 are
// checked exactly (a migration that adds or drops anything else fails);
// versions 1–2 are checked as "at least these", so growing the executions
// schema does not break this test.
var tablesByVersion = map[int64][]string{
	1: {"ff_partition_config"},
	2: {
		"ff_attempt", "ff_claim_grant", "ff_completion_event", "ff_exec_core",
		"ff_execution_capabilities", "ff_lane_registry", "ff_lease_event", "ff_operator_event",
	},
	3: {
		"ff_cancel_backlog", "ff_cancel_backlog_member", "ff_cancel_dispatch_outbox",
		"ff_edge", "ff_edge_group", "ff_flow_core", "ff_pending_cancel_groups",
	},
	4: {
		"ff_signal", "ff_signal_event", "ff_suspend_dedup", "ff_suspension_current",
		"ff_waitpoint", "ff_waitpoint_hmac",
	},
	5: {
		"ff_budget_limit", "ff_budget_policy", "ff_budget_usage", "ff_budget_usage_by_exec",
		"ff_budget_usage_dedup", "ff_quota_admitted", "ff_quota_policy", "ff_quota_window",
	},
	6: {"ff_stream_frame", "ff_stream_meta", "ff_stream_summary"},
	7: {"ff_execution_budget"},
	// 8 drops two indexes; 9 rebuilds ff_edge in place.
	10: {"ff_exec_payload"},
}

// indexesByVersion lists the named indexes of the migrations checked
// exactly (the access paths the flows, suspension, budget and stream code
// rely on).
var indexesByVersion = map[int64][]string{
	3: {
		"ff_cancel_backlog_member_execution_idx", "ff_cancel_backlog_requested_idx",
		"ff_edge_downstream_idx", "ff_edge_upstream_idx", "ff_flow_core_partition_idx",
		"ff_pending_cancel_groups_enqueued_idx",
	},
	4: {
		"ff_signal_dedup_idx", "ff_signal_event_execution_idx", "ff_signal_execution_idx",
		"ff_signal_suspension_idx", "ff_signal_waitpoint_idx",
		"ff_suspension_current_suspended_at_idx", "ff_suspension_current_timeout_idx",
		"ff_waitpoint_execution_idx", "ff_waitpoint_hmac_active_idx",
		"ff_waitpoint_pending_expiry_idx",
	},
	5: {
		"ff_budget_policy_reset_due_idx", "ff_budget_usage_by_exec_execution_idx",
		"ff_budget_usage_dedup_expires_idx", "ff_quota_admitted_execution_idx",
		"ff_quota_admitted_expires_idx", "ff_quota_window_execution_idx",
	},
	6: {},
	7: {
		"ff_exec_core_attempt_timeout_idx", "ff_exec_core_budget_blocked_idx",
		"ff_exec_core_quota_blocked_idx", "ff_exec_core_quota_idx",
		"ff_operator_event_execution_idx",
	},
}

func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db, p := newProvider(t)

	results, err := p.Up(ctx)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if diff := cmp.Diff(sourceVersions(p), resultVersions(results)); diff != "" {
		t.Fatalf("up applied (-want +got):\n%s", diff)
	}
	checkFullSchema(ctx, t, db)

	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	if diff := cmp.Diff([]string{goose.DefaultTablename}, objects(ctx, t, db, "table")); diff != "" {
		t.Errorf("tables after down to 0 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{}, objects(ctx, t, db, "index")); diff != "" {
		t.Errorf("indexes after down to 0 (-want +got):\n%s", diff)
	}

	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	checkFullSchema(ctx, t, db)

	// Up on an up-to-date database applies nothing.
	results, err = p.Up(ctx)
	if err != nil {
		t.Fatalf("up when current: %v", err)
	}
	if len(results) != 0 {
		t.Errorf("up when current applied %d migrations, want 0", len(results))
	}
}

// TestMigrationsStepwise applies and reverts one migration at a time and
// checks that each one adds (and its Down removes) exactly its own objects.
func TestMigrationsStepwise(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db, p := newProvider(t)

	// Tables after each step; step 0 is goose's ledger alone (goose creates
	// it with the first migration).
	snapshots := [][]string{{goose.DefaultTablename}}
	for _, v := range sourceVersions(p) {
		beforeTables := snapshots[len(snapshots)-1]
		beforeIndexes := objects(ctx, t, db, "index")
		res, err := p.UpByOne(ctx)
		if err != nil {
			t.Fatalf("up by one to %d: %v", v, err)
		}
		if res.Source.Version != v {
			t.Fatalf("up by one applied version %d, want %d", res.Source.Version, v)
		}
		addedTables := minus(objects(ctx, t, db, "table"), beforeTables)
		addedIndexes := minus(objects(ctx, t, db, "index"), beforeIndexes)
		want := sorted(tablesByVersion[v])
		if wantIdx, exact := indexesByVersion[v]; exact {
			if diff := cmp.Diff(want, addedTables); diff != "" {
				t.Errorf("version %d tables (-want +got):\n%s", v, diff)
			}
			if diff := cmp.Diff(sorted(wantIdx), addedIndexes); diff != "" {
				t.Errorf("version %d indexes (-want +got):\n%s", v, diff)
			}
		} else if missing := minus(want, addedTables); len(missing) > 0 {
			t.Errorf("version %d did not create %v", v, missing)
		}
		snapshots = append(snapshots, objects(ctx, t, db, "table"))
	}

	for i := len(snapshots) - 1; i > 0; i-- {
		if _, err := p.Down(ctx); err != nil {
			t.Fatalf("down from step %d: %v", i, err)
		}
		if diff := cmp.Diff(snapshots[i-1], objects(ctx, t, db, "table")); diff != "" {
			t.Errorf("tables after down from step %d (-want +got):\n%s", i, diff)
		}
	}
}

// TestSchemaConstraints spot-checks that the typed columns reject what the
// spec says cannot be stored (STRICT types, enum CHECKs, invariants).
func TestSchemaConstraints(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db, p := newProvider(t)
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}

	const (
		flow = `INSERT INTO ff_flow_core (flow_id, public_flow_state, created_at_ms, last_mutation_at_ms) VALUES `
		edge = `INSERT INTO ff_edge (flow_id, edge_id, upstream_execution_id, downstream_execution_id, edge_state, applied_at_ms, created_at_ms) VALUES `
		grp  = `INSERT INTO ff_edge_group (flow_id, downstream_execution_id, policy_kind, k_target) VALUES `
		wp   = `INSERT INTO ff_waitpoint (waitpoint_id, execution_id, state, token_kid, token, created_at_ms) VALUES `
		hmac = `INSERT INTO ff_waitpoint_hmac (kid, secret, rotated_at_ms, active) VALUES `
		sig  = `INSERT INTO ff_signal (signal_id, execution_id, waitpoint_id, waitpoint_key, effect, idempotency_key, dedup_expires_at_ms, accepted_at_ms) VALUES `
		bud  = `INSERT INTO ff_budget_policy (budget_id, reset_interval_ms, next_reset_at_ms, created_at_ms, updated_at_ms) VALUES `
		frm  = `INSERT INTO ff_stream_frame (execution_id, attempt_index, ts_ms, seq, frame_kind, frame_type, mode, payload, summary_version) VALUES `
		exe  = `INSERT INTO ff_exec_core (execution_id, partition_key, lane_id, payload, lifecycle_phase, ownership_state, eligibility_state, attempt_state, blocking_reason, public_state, created_at_ms, last_mutation_at_ms) VALUES `
		att  = `INSERT INTO ff_attempt (execution_id, attempt_index, attempt_id, attempt_type, outcome) VALUES `
	)
	tests := []struct {
		name string
		sql  string
		ok   bool
	}{
		{"FlowOpen", flow + `('f1', 'open', 1, 1)`, true},
		{"ErrFlowUnknownState", flow + `('f2', 'terminal', 1, 1)`, false},
		{"ErrFlowStrictType", flow + `('f3', 'open', 'soon', 1)`, false},
		{"EdgeApplied", edge + `('f1', 'e1', '{fp:0}:a', '{fp:0}:b', 'applied', 5, 1)`, true},
		{"ErrEdgeAppliedWithoutTime", edge + `('f1', 'e2', '{fp:0}:a', '{fp:0}:b', 'applied', NULL, 1)`, false},
		{"ErrEdgeSelfReferencing", edge + `('f1', 'e3', '{fp:0}:a', '{fp:0}:a', 'pending', NULL, 1)`, false},
		{"GroupQuorum", grp + `('f1', '{fp:0}:b', 'quorum', 2)`, true},
		{"ErrGroupQuorumZero", grp + `('f1', '{fp:0}:c', 'quorum', 0)`, false},
		{"ErrGroupAllOfWithK", grp + `('f1', '{fp:0}:d', 'all_of', 1)`, false},
		{"WaitpointPending", wp + `('w1', '{fp:0}:a', 'pending', 'k1', 'k1:00', 1)`, true},
		{"ErrWaitpointUnknownState", wp + `('w2', '{fp:0}:a', 'deleted', 'k1', 'k1:00', 1)`, false},
		{"HMACActive", hmac + `('k1', x'00', 1, 1)`, true},
		{"ErrHMACSecondActive", hmac + `('k2', x'00', 2, 1)`, false},
		{"HMACInactive", hmac + `('k3', x'00', 3, 0)`, true},
		{"ErrHMACKidWithColon", hmac + `('k:4', x'00', 4, 0)`, false},
		{"SignalDeduped", sig + `('s1', '{fp:0}:a', 'w1', 'key', 'buffered_for_pending_waitpoint', 'idem', 10, 1)`, true},
		{"ErrSignalKeyWithoutExpiry", sig + `('s2', '{fp:0}:a', 'w1', 'key', 'appended_to_waitpoint', 'idem', NULL, 1)`, false},
		{"ErrSignalUnknownEffect", sig + `('s3', '{fp:0}:a', 'w1', 'key', 'duplicate', NULL, NULL, 1)`, false},
		{"BudgetWithReset", bud + `('b1', 1000, 2000, 1, 1)`, true},
		{"ErrBudgetResetWithoutInterval", bud + `('b2', 0, 2000, 1, 1)`, false},
		{"FrameSummary", frm + `('{fp:0}:a', 0, 1, 0, 'event', 'event', 'summary', x'7b7d', 1)`, true},
		{"ErrFrameSummaryWithoutVersion", frm + `('{fp:0}:a', 0, 1, 1, 'event', 'event', 'summary', x'7b7d', NULL)`, false},
		{"ErrFrameDuplicateID", frm + `('{fp:0}:a', 0, 1, 0, 'stdout', 'stdout', 'durable', x'00', NULL)`, false},
		// The alphabets are OR chains (see 00002); they must still refuse
		// a value outside them and accept every one inside.
		{"ExecWaiting", exe + `('{fp:0}:e1', 0, 'l', x'', 'runnable', 'unowned', 'eligible_now', 'pending_first_attempt', 'waiting_for_worker', 'waiting', 1, 1)`, true},
		{"ExecLastValues", exe + `('{fp:0}:e2', 0, 'l', x'', 'terminal', 'lease_revoked', 'not_applicable', 'attempt_terminal', 'paused_by_flow_cancel', 'skipped', 1, 1)`, true},
		{"ErrExecUnknownPhase", exe + `('{fp:0}:e3', 0, 'l', x'', 'running', 'unowned', 'eligible_now', 'pending_first_attempt', 'none', 'waiting', 1, 1)`, false},
		{"ErrExecUnknownBlockingReason", exe + `('{fp:0}:e4', 0, 'l', x'', 'runnable', 'unowned', 'eligible_now', 'pending_first_attempt', 'waiting', 'waiting', 1, 1)`, false},
		{"ErrExecUnknownPublicState", exe + `('{fp:0}:e5', 0, 'l', x'', 'runnable', 'unowned', 'eligible_now', 'pending_first_attempt', 'none', 'queued', 1, 1)`, false},
		{"AttemptNoOutcome", att + `('{fp:0}:e1', 0, 'a0', 'initial', NULL)`, true},
		{"ErrAttemptUnknownOutcome", att + `('{fp:0}:e1', 1, 'a1', 'initial', 'done')`, false},
		{"ErrAttemptUnknownType", att + `('{fp:0}:e1', 2, 'a2', 'first', NULL)`, false},
	}
	// Sequential: later cases depend on rows inserted by earlier ones.
	for _, tt := range tests {
		_, err := db.ExecContext(ctx, tt.sql)
		if tt.ok && err != nil {
			t.Errorf("%s: unexpected error: %v", tt.name, err)
		}
		if !tt.ok && err == nil {
			t.Errorf("%s: insert succeeded, want a constraint error", tt.name)
		}
	}
}

// TestNoLongINListsInTables keeps the rule of 00002: a CHECK spells an
// alphabet of more than two values as an OR chain, because SQLite builds a
// temporary b-tree for a longer IN list on every INSERT or UPDATE that
// checks it.
func TestNoLongINListsInTables(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db, p := newProvider(t)
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	inList := regexp.MustCompile(`(?i)\bIN\s*\(([^()]*)\)`)
	tables := 0
	for rows.Next() {
		var name, ddl string
		if err := rows.Scan(&name, &ddl); err != nil {
			t.Fatal(err)
		}
		tables++
		for _, m := range inList.FindAllStringSubmatch(ddl, -1) {
			if strings.Count(m[1], ",") >= 2 {
				t.Errorf("%s: %q: spell the alphabet as an OR chain", name, m[0])
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if tables < 30 {
		t.Fatalf("looked at %d tables, want the whole schema", tables)
	}
}

func newProvider(t *testing.T) (*sql.DB, *goose.Provider) {
	t.Helper()

	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "ff.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	// One connection: every statement sees the same schema state.
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })

	// Provider.Close would close db; the cleanup above does that instead.
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations.FS,
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatalf("new provider: %v", err)
	}
	return db, p
}

func checkFullSchema(ctx context.Context, t *testing.T, db *sql.DB) {
	t.Helper()

	tables := objects(ctx, t, db, "table")
	var missing []string
	for _, v := range slices.Sorted(maps.Keys(tablesByVersion)) {
		missing = append(missing, minus(sorted(tablesByVersion[v]), tables)...)
	}
	if !slices.Contains(tables, goose.DefaultTablename) {
		missing = append(missing, goose.DefaultTablename)
	}
	if len(missing) > 0 {
		t.Errorf("missing tables after up: %v", missing)
	}

	indexes := objects(ctx, t, db, "index")
	for _, v := range slices.Sorted(maps.Keys(indexesByVersion)) {
		if m := minus(sorted(indexesByVersion[v]), indexes); len(m) > 0 {
			t.Errorf("missing indexes of version %d after up: %v", v, m)
		}
	}
}

// objects returns the sorted names of the schema objects of one type,
// leaving out SQLite's own (sqlite_sequence, automatic indexes).
func objects(ctx context.Context, t *testing.T, db *sql.DB, typ string) []string {
	t.Helper()

	rows, err := db.QueryContext(ctx,
		`SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`, typ)
	if err != nil {
		t.Fatalf("list %ss: %v", typ, err)
	}
	defer rows.Close()
	names := []string{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("scan %s name: %v", typ, err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("list %ss: %v", typ, err)
	}
	return names
}

func sourceVersions(p *goose.Provider) []int64 {
	var vs []int64
	for _, s := range p.ListSources() {
		vs = append(vs, s.Version)
	}
	return vs
}

func resultVersions(results []*goose.MigrationResult) []int64 {
	var vs []int64
	for _, r := range results {
		vs = append(vs, r.Source.Version)
	}
	return vs
}

// minus returns the elements of a that are not in b, keeping a's order.
func minus(a, b []string) []string {
	out := []string{}
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func sorted(s []string) []string {
	return append([]string{}, slices.Sorted(slices.Values(s))...)
}

// TestEdgeRekeyKeepsRows checks that 00009, which rebuilds ff_edge keyed by
// flow, carries every stored edge over unchanged, both up and down.
func TestEdgeRekeyKeepsRows(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db, p := newProvider(t)
	if _, err := p.UpTo(ctx, 8); err != nil {
		t.Fatalf("up to 8: %v", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO ff_edge (flow_id, edge_id, upstream_execution_id, downstream_execution_id,
		dependency_kind, data_passing_ref, edge_state, resolution_state, upstream_outcome, created_by,
		created_at_ms, applied_at_ms, resolved_at_ms) VALUES
		('f1', 'e1', '{fp:0}:a', '{fp:0}:b', 'success_only', 'ref', 'applied', 'satisfied', 'success', 'engine', 1, 2, 3),
		('f1', 'e2', '{fp:0}:b', '{fp:0}:c', 'custom', '', 'pending', 'unsatisfied', NULL, 'caller', 4, NULL, NULL),
		('f2', 'e1', '{fp:0}:x', '{fp:0}:y', 'success_only', '', 'applied', 'impossible', 'failed', 'engine', 5, 6, 7)`); err != nil {
		t.Fatalf("seed edges: %v", err)
	}
	want := edgeRows(ctx, t, db)

	if _, err := p.UpByOne(ctx); err != nil {
		t.Fatalf("up to 9: %v", err)
	}
	if diff := cmp.Diff(want, edgeRows(ctx, t, db)); diff != "" {
		t.Errorf("edges after up (-want +got):\n%s", diff)
	}
	wantKeys := map[string][]string{
		"ff_edge_upstream_idx":   {"flow_id", "upstream_execution_id", "edge_id"},
		"ff_edge_downstream_idx": {"flow_id", "downstream_execution_id", "edge_id"},
	}
	for idx, cols := range wantKeys {
		if diff := cmp.Diff(cols, indexColumns(ctx, t, db, idx)); diff != "" {
			t.Errorf("%s columns (-want +got):\n%s", idx, diff)
		}
	}

	if _, err := p.Down(ctx); err != nil {
		t.Fatalf("down to 8: %v", err)
	}
	if diff := cmp.Diff(want, edgeRows(ctx, t, db)); diff != "" {
		t.Errorf("edges after down (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"upstream_execution_id", "flow_id", "edge_id"}, indexColumns(ctx, t, db, "ff_edge_upstream_idx")); diff != "" {
		t.Errorf("ff_edge_upstream_idx columns after down (-want +got):\n%s", diff)
	}
}

// edgeRows renders every ff_edge row as text, in key order.
func edgeRows(ctx context.Context, t *testing.T, db *sql.DB) []string {
	t.Helper()

	rows, err := db.QueryContext(ctx, `SELECT json_array(flow_id, edge_id, upstream_execution_id, downstream_execution_id,
		dependency_kind, satisfaction_condition, data_passing_ref, edge_state, resolution_state, upstream_outcome,
		created_by, created_at_ms, applied_at_ms, resolved_at_ms) FROM ff_edge ORDER BY flow_id, edge_id`)
	if err != nil {
		t.Fatalf("read edges: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 {
		t.Fatalf("read %d edges, want 3", len(out))
	}
	return out
}

// indexColumns returns the key columns of an index, in order.
func indexColumns(ctx context.Context, t *testing.T, db *sql.DB, index string) []string {
	t.Helper()

	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, index)
	if err != nil {
		t.Fatalf("index_info %s: %v", index, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return cols
}

// TestExternalPayloadsDown: reverting 00010 moves out-of-line payloads
// back into their rows before the table goes.
func TestExternalPayloadsDown(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	db, p := newProvider(t)
	if _, err := p.UpTo(ctx, 10); err != nil {
		t.Fatalf("up to 10: %v", err)
	}
	const exe = `INSERT INTO ff_exec_core (execution_id, partition_key, lane_id, payload, payload_external, lifecycle_phase, ownership_state, eligibility_state, attempt_state, blocking_reason, public_state, created_at_ms, last_mutation_at_ms) VALUES `
	for _, stmt := range []string{
		exe + `('{fp:0}:inline', 0, 'l', x'0102', 0, 'runnable', 'unowned', 'eligible_now', 'pending_first_attempt', 'waiting_for_worker', 'waiting', 1, 1)`,
		exe + `('{fp:0}:outside', 0, 'l', x'', 1, 'runnable', 'unowned', 'eligible_now', 'pending_first_attempt', 'waiting_for_worker', 'waiting', 1, 1)`,
		`INSERT INTO ff_exec_payload (execution_id, payload) VALUES ('{fp:0}:outside', x'0a0b0c')`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if _, err := p.Down(ctx); err != nil {
		t.Fatalf("down to 9: %v", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT execution_id, hex(payload) FROM ff_exec_core ORDER BY execution_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var id, payload string
		if err := rows.Scan(&id, &payload); err != nil {
			t.Fatal(err)
		}
		got[id] = payload
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"{fp:0}:inline": "0102", "{fp:0}:outside": "0A0B0C"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("payloads after down (-want +got):\n%s", diff)
	}
}
