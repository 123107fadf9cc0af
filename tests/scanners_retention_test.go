package tests

import (
	"bytes"
	"context"
	"database/sql"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

// seedRows inserts raw rows through a writable connection to the
// backend's file (rows the scenario cannot reach through the API).
func (e *execEnv) seedRows(stmts ...string) {
	e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: e.path}).EscapedPath()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.ExecContext(e.ctx, s); err != nil {
			e.t.Fatalf("seed %q: %v", s, err)
		}
	}
}

// mentions lists the tables whose rows mention any of the ids.
func mentions(d dbDump, ids ...string) map[string][]string {
	out := map[string][]string{}
	for table, rows := range d {
		for _, row := range rows {
			for _, id := range ids {
				if strings.Contains(row, id) {
					out[table] = append(out[table], row)
				}
			}
		}
	}
	return out
}

// The retention trimmer deletes a finished execution with every row that
// names it, leaves younger and unfinished executions alone, trims a flow
// only once all its members qualify, and trims old outbox rows.
func TestRetentionTrimmerLeavesNothingDangling(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	ctx := s.ctx

	// The execution to trim touches every table that can name one.
	budget := s.createBudget([]budgetSpec{{"tokens", 100, 0}}, nil)
	quota := s.createQuota(time.Hour, 100, 0)
	old := s.create(susLane, func(a *backend.CreateExecutionArgs) {
		a.InputPayload = bytes.Repeat([]byte("p"), 2048) // stored out of line
		a.IdempotencyKey = "once"
		a.Policy = &backend.ExecutionPolicy{
			BudgetIDs: []backend.BudgetID{budget}, QuotaPolicyID: quota,
			RoutingRequirements: &backend.RoutingRequirements{RequiredCapabilities: []string{"gpu"}},
		}
	})
	if _, err := s.b.ChangePriority(ctx, backend.ChangePriorityArgs{ExecutionID: old, NewPriority: 5}); err != nil {
		t.Fatal(err)
	}
	h := s.mustClaim(susLane, "gpu")
	if _, err := s.b.ReportUsage(ctx, h, budget, backend.UsageDimensions{Custom: map[string]uint64{"tokens": 3}}); err != nil {
		t.Fatal(err)
	}
	wp := backend.FreshBinding()
	sus := s.suspend(h, suspendArgs(backend.SingleCondition(wp.WaitpointKey, backend.ByName("go")), wp))
	s.deliver(signalArgs(old, sus.Details.WaitpointID, sus.Details.WaitpointToken, "go"))
	if _, err := s.b.CancelExecution(ctx, backend.CancelExecutionArgs{ExecutionID: old, Reason: "done"}); err != nil {
		t.Fatal(err)
	}
	s.seedRows(
		`INSERT INTO ff_stream_frame (execution_id, attempt_index, ts_ms, seq, frame_kind, frame_type, mode, payload) VALUES ('`+string(old)+`', 0, 1, 0, 'stdout', 'stdout', 'durable', x'00')`,
		`INSERT INTO ff_stream_summary (execution_id, attempt_index, document_json, version, first_applied_at_ms, last_updated_at_ms) VALUES ('`+string(old)+`', 0, '{}', 1, 1, 1)`,
		`INSERT INTO ff_stream_meta (execution_id, attempt_index) VALUES ('`+string(old)+`', 0)`,
		`INSERT INTO ff_claim_grant (grant_id, execution_id, kind, worker_id, worker_instance_id, grant_ttl_ms, issued_at_ms, expires_at_ms) VALUES ('g-old', '`+string(old)+`', 'claim', 'w', 'w-1', 1, 1, 1)`,
		`INSERT INTO ff_suspend_dedup (execution_id, idempotency_key, outcome_json, created_at_ms) VALUES ('`+string(old)+`', 'k', '{}', 1)`,
	)

	// A finished flow (two members and an edge) and a flow still running.
	doneFlow, busyFlow := backend.NewFlowID(), backend.NewFlowID()
	for _, f := range []backend.FlowID{doneFlow, busyFlow} {
		if _, err := s.b.CreateFlow(ctx, backend.CreateFlowArgs{FlowID: f, FlowKind: "dag", Namespace: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	member := func(f backend.FlowID) backend.ExecutionID {
		id := s.create("flow-lane", nil)
		if _, err := s.b.AddExecutionToFlow(ctx, backend.AddExecutionToFlowArgs{ExecutionID: id, FlowID: f}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	up, down := member(doneFlow), member(doneFlow)
	edge := backend.NewEdgeID()
	snap, err := s.b.DescribeFlow(ctx, doneFlow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.StageDependencyEdge(ctx, backend.StageDependencyEdgeArgs{
		FlowID: doneFlow, EdgeID: edge, UpstreamExecutionID: up, DownstreamExecutionID: down,
		ExpectedGraphRevision: snap.GraphRevision,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.ApplyDependencyToChild(ctx, backend.ApplyDependencyToChildArgs{FlowID: doneFlow, EdgeID: edge, DownstreamExecutionID: down}); err != nil {
		t.Fatal(err)
	}
	// Cancel bookkeeping the flow paths leave only mid-cancel.
	s.seedRows(
		`INSERT INTO ff_cancel_backlog (flow_id, requested_at_ms, cancellation_policy) VALUES ('`+string(doneFlow)+`', 1, 'cancel_all')`,
		`INSERT INTO ff_cancel_backlog_member (flow_id, execution_id) VALUES ('`+string(doneFlow)+`', '`+string(up)+`')`,
		`INSERT INTO ff_pending_cancel_groups (flow_id, downstream_execution_id, enqueued_at_ms) VALUES ('`+string(doneFlow)+`', '`+string(down)+`', 1)`,
		`INSERT INTO ff_cancel_dispatch_outbox (flow_id, downstream_execution_id, target_execution_id, reason, enqueued_at_ms) VALUES ('`+string(doneFlow)+`', '`+string(down)+`', '`+string(up)+`', 'sibling_quorum_satisfied', 1)`,
	)
	busyDone, busyRunning := member(busyFlow), member(busyFlow)
	for range 4 {
		fh := s.mustClaim("flow-lane")
		if fh.ExecutionID() == busyRunning {
			continue
		}
		if err := s.b.Complete(ctx, fh, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []backend.ExecutionID{up, down, busyDone} {
		if got := s.state(id); got != backend.PublicStateCompleted {
			t.Fatalf("flow member %s = %s, want completed", id, got)
		}
	}

	// Kept: a running execution (its old outbox rows go, the rest stays).
	running := s.create("other", nil)
	long := workerPolicy("w-long")
	long.LeaseTTL = 48 * time.Hour
	rh := s.mustClaimAs("other", long)

	s.clock.Advance(scanners.RetentionDefault)
	// A young finished execution, made after the advance, is kept.
	young := s.create("other", nil)
	if _, err := s.b.CancelExecution(ctx, backend.CancelExecutionArgs{ExecutionID: young}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.Renew(ctx, rh); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(time.Millisecond)

	before := s.dump()
	// The scenario reaches every table that can name an execution.
	var named []string
	for table := range mentions(before, string(old), string(up), string(down), string(doneFlow)) {
		named = append(named, table)
	}
	slices.Sort(named)
	want := []string{
		"ff_attempt", "ff_budget_usage_by_exec", "ff_cancel_backlog", "ff_cancel_backlog_member",
		"ff_cancel_dispatch_outbox", "ff_claim_grant", "ff_completion_event", "ff_edge",
		"ff_edge_group", "ff_exec_core", "ff_exec_payload", "ff_execution_budget", "ff_execution_capabilities",
		"ff_flow_core", "ff_lease_event", "ff_operator_event", "ff_pending_cancel_groups", "ff_quota_admitted", "ff_quota_window",
		"ff_signal", "ff_signal_event", "ff_stream_frame", "ff_stream_meta", "ff_stream_summary",
		"ff_suspend_dedup", "ff_suspension_current", "ff_waitpoint",
	}
	if diff := cmp.Diff(want, named); diff != "" {
		t.Fatalf("tables naming the executions to trim (-want +got)\n%s", diff)
	}
	res := s.execEnv.ticksAtOnce(scanners.JobRetentionTrimmer, 2)
	if res.Errors != 0 {
		t.Fatalf("retention ticks = %+v", res)
	}
	after := s.dump()
	gone := []string{string(old), string(up), string(down), string(doneFlow), string(edge), "g-old"}
	if m := mentions(after, gone...); len(m) != 0 {
		t.Fatalf("rows still name trimmed executions or their flow: %v", m)
	}
	for _, id := range []backend.ExecutionID{running, young, busyDone, busyRunning} {
		if ps, err := s.b.ReadExecutionState(ctx, id); ps == nil || err != nil {
			t.Fatalf("kept execution %s = %v, %v", id, ps, err)
		}
	}
	// Everything about the kept executions is still there, except outbox
	// rows older than the retention age.
	outbox := []string{"ff_completion_event", "ff_lease_event", "ff_operator_event", "ff_signal_event"}
	keep := []string{string(young), string(busyDone), string(busyRunning), string(busyFlow), string(running)}
	bm, am := mentions(before, keep...), mentions(after, keep...)
	for _, table := range outbox {
		delete(bm, table)
		delete(am, table)
	}
	if diff := cmp.Diff(bm, am); diff != "" {
		t.Fatalf("rows of kept executions changed (-before +after)\n%s", diff)
	}
	if n := s.countRows("ff_completion_event", "execution_id = ?", string(young)); n != 1 {
		t.Fatalf("young execution's completion events = %d, want 1", n)
	}
	for _, table := range outbox[:2] {
		if n := s.countRows(table, "execution_id IN (?, ?)", string(busyDone), string(busyRunning)); n != 0 {
			t.Fatalf("%d old %s rows of the busy flow kept", n, table)
		}
	}
	if got := s.leaseEventKinds(running); !slices.Equal(got, []string{"renewed"}) {
		t.Fatalf("running execution's lease events = %v, want only the recent renewal", got)
	}
	if n := s.countRows("ff_attempt", "execution_id = ?", string(running)); n != 1 {
		t.Fatalf("running execution's attempts = %d", n)
	}
	// The budget and quota themselves are not execution data.
	if st := s.budgetStatus(budget); st.Usage["tokens"] != 3 {
		t.Fatalf("budget usage after retention = %v", st.Usage)
	}
	if res := s.execEnv.tick(scanners.JobRetentionTrimmer); res.Processed != 0 {
		t.Fatalf("tick after trimming = %+v", res)
	}
}

// A tick trims in bounded batches and loops while batches are full.
func TestRetentionTrimmerBatches(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	const n = 45 // more than two transactions' worth
	for range n {
		id := e.create("lane", nil)
		if _, err := e.b.CancelExecution(e.ctx, backend.CancelExecutionArgs{ExecutionID: id}); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(scanners.RetentionDefault - time.Millisecond)
	if res := e.tick(scanners.JobRetentionTrimmer); res.Processed != 0 {
		t.Fatalf("tick before the retention age = %+v", res)
	}
	e.clock.Advance(time.Millisecond)
	// Each execution: the row, and its completion event (trimmed with it).
	if res := e.tick(scanners.JobRetentionTrimmer); res.Processed != n {
		t.Fatalf("tick at the retention age = %+v, want %d", res, n)
	}
	if got := e.countRows("ff_exec_core", ""); got != 0 {
		t.Fatalf("%d executions left", got)
	}
}

// Retention may trim every event, yet a subscriber resuming from the
// newest cursor it saw still gets the next event: ids never repeat, because
// the newest row of each outbox is kept (the tables have no AUTOINCREMENT).
func TestRetentionKeepsEventIDsIncreasing(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	sub, err := e.b.SubscribeCompletion(e.ctx, backend.EventCursor(""), backend.ScannerFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var last backend.EventCursor
	for range 3 {
		h := func() backend.Handle { e.create("lane", nil); return e.mustClaim("lane") }()
		if err := e.b.Complete(e.ctx, h, nil); err != nil {
			t.Fatal(err)
		}
		ev, err := sub.Next(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		last = ev.Cursor
	}
	sub.Close()

	e.clock.Advance(scanners.RetentionDefault + time.Minute)
	e.tick(scanners.JobRetentionTrimmer)
	if got := e.countRows("ff_exec_core", ""); got != 0 {
		t.Fatalf("%d executions left after retention", got)
	}
	for _, table := range []string{"ff_completion_event", "ff_lease_event"} {
		if got := e.countRows(table, ""); got != 1 {
			t.Errorf("%s: %d rows after retention, want only the newest", table, got)
		}
	}

	resumed, err := e.b.SubscribeCompletion(e.ctx, last, backend.ScannerFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	next := e.create("lane", nil)
	if err := e.b.Complete(e.ctx, e.mustClaim("lane"), nil); err != nil {
		t.Fatal(err)
	}
	// The event is already committed; the deadline only turns a reused
	// (lower) id, which the subscriber would wait for forever, into a
	// failure.
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	ev, err := resumed.Next(ctx)
	if err != nil {
		t.Fatalf("resumed subscriber: %v (a reused event id stays below its cursor)", err)
	}
	if ev.ExecutionID != next {
		t.Errorf("resumed subscriber got %s, want the new execution %s", ev.ExecutionID, next)
	}
}
