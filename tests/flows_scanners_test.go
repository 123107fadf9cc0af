package tests

import (
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

// runJob runs one tick of job and checks how many rows it changed.
func (f *flowEnv) runJob(job scanners.Job, wantProcessed int) {
	f.t.Helper()
	res, err := f.b.RunScannerOnce(f.ctx, job)
	if err != nil || res.Errors != 0 || res.Processed != wantProcessed {
		f.t.Fatalf("%s tick = %+v, %v; want %d processed", job, res, err, wantProcessed)
	}
}

// TestDependencyReconcilerRedrivesUndispatchedEvents: a completion event
// nobody resolved (written by a path that bypassed resolution) is picked
// up once it is older than the stale threshold, exactly once.
func TestDependencyReconcilerRedrivesUndispatchedEvents(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	up, down := f.member(), f.member()
	f.edge(up, down)
	lone := f.create("other-lane", nil)
	w := f.rawWriter()
	now := f.now().UnixMilli()
	f.execRaw(w, `UPDATE ff_exec_core SET lifecycle_phase = 'terminal', eligibility_state = 'not_applicable',
		attempt_state = 'none', blocking_reason = 'none', terminal_outcome = 'success', public_state = 'completed',
		terminal_at_ms = ?, result = x'6f6b' WHERE execution_id = ?`, now, string(up))
	f.execRaw(w, `INSERT INTO ff_completion_event (execution_id, flow_id, outcome, occurred_at_ms) VALUES (?, ?, 'success', ?)`, string(up), string(f.flow), now)
	f.execRaw(w, `INSERT INTO ff_completion_event (execution_id, outcome, occurred_at_ms) VALUES (?, 'resumable', ?)`, string(lone), now)

	f.runJob(scanners.JobDependencyReconciler, 0) // not stale yet
	f.requireStates(map[backend.ExecutionID]backend.PublicState{down: stChildren})
	f.clock.Advance(scanners.DependencyStaleThresholdDefault + time.Second)
	f.runJob(scanners.JobDependencyReconciler, 2)
	f.requireStates(map[backend.ExecutionID]backend.PublicState{down: stWaiting, lone: stWaiting})
	if g := f.group(down); g.GroupState != backend.EdgeGroupSatisfied || g.SatisfiedCount != 1 {
		t.Fatalf("group = %+v", g)
	}
	if n := f.rowCount(`SELECT count(*) FROM ff_completion_event WHERE dispatched_at_ms IS NULL`); n != 0 {
		t.Fatalf("undispatched events = %d", n)
	}
	f.runJob(scanners.JobDependencyReconciler, 0)
}

// TestCancelReconcilerDrainsBacklog: a header-cancelled flow's backlog is
// drained once it is older than one reconciler interval; a member that was
// replayed meanwhile is cancelled again.
func TestCancelReconcilerDrainsBacklog(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	a, b := f.member(), f.member()
	f.edge(a, b)
	if _, err := f.b.CancelFlowHeader(f.ctx, backend.CancelFlowArgs{FlowID: f.flow, CancellationPolicy: "cancel_all", Reason: "shutdown"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.b.ReplayExecution(f.ctx, backend.ReplayExecutionArgs{ExecutionID: a}); err != nil {
		t.Fatal(err)
	}
	f.requireStates(map[backend.ExecutionID]backend.PublicState{a: stWaiting})
	f.runJob(scanners.JobCancelReconciler, 0)
	f.clock.Advance(scanners.CancelReconcilerIntervalDefault + time.Second)
	f.runJob(scanners.JobCancelReconciler, 1)
	f.requireStates(map[backend.ExecutionID]backend.PublicState{a: stCancelled, b: stCancelled})
	if got := f.rawExecColumn(a, "cancelled_by"); got != string(backend.CancelSourceFlowCascade) {
		t.Fatalf("re-cancelled member cancelled_by = %v", got)
	}
	if n := f.rowCount(`SELECT count(*) FROM ff_cancel_backlog`) + f.rowCount(`SELECT count(*) FROM ff_cancel_backlog_member`); n != 0 {
		t.Fatalf("backlog rows left = %d", n)
	}
	f.runJob(scanners.JobCancelReconciler, 0)
}

// TestEdgeCancelReconcilerClearsPendingGroups: the groups CancelFlow
// (cancel_pending) records have nothing queued, so the dispatcher leaves
// them and the reconciler deletes them.
func TestEdgeCancelReconcilerClearsPendingGroups(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	for range 3 {
		f.edge(f.member(), f.member())
	}
	if _, err := f.b.CancelFlow(f.ctx, f.flow, backend.CancelFlowPending, backend.NoWait()); err != nil {
		t.Fatal(err)
	}
	if n := f.rowCount(`SELECT count(*) FROM ff_pending_cancel_groups`); n != 3 {
		t.Fatalf("pending cancel groups = %d", n)
	}
	f.runJob(scanners.JobEdgeCancelDispatcher, 0)
	f.runJob(scanners.JobEdgeCancelReconciler, 3)
	f.runJob(scanners.JobEdgeCancelReconciler, 0)
}

// TestEdgeCancelDispatcherCancelsQueuedSiblings: sibling cancels queued by
// a foreign writer (flag set, targets in the dispatch outbox) are carried
// out by the dispatcher; an orphan pending row is dropped; the reconciler
// clears a queue whose targets are all terminal already.
func TestEdgeCancelDispatcherCancelsQueuedSiblings(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	u1 := f.memberP(10)
	u2 := f.member()
	d := f.member()
	f.policy(d, backend.AnyOfPolicy(letRun))
	f.edge(u1, d)
	f.edge(u2, d)
	h1 := f.claimID(u1)
	h2 := f.claimID(u2)
	f.complete(h1, "")
	w := f.rawWriter()
	now := f.now().UnixMilli()
	f.execRaw(w, `UPDATE ff_edge_group SET cancel_siblings_pending_flag = 1 WHERE downstream_execution_id = ?`, string(d))
	f.execRaw(w, `INSERT INTO ff_cancel_dispatch_outbox (flow_id, downstream_execution_id, target_execution_id, reason, enqueued_at_ms) VALUES (?, ?, ?, 'sibling_quorum_satisfied', ?)`, string(f.flow), string(d), string(u2), now)
	f.execRaw(w, `INSERT INTO ff_pending_cancel_groups (flow_id, downstream_execution_id, enqueued_at_ms) VALUES (?, ?, ?), (?, ?, ?)`,
		string(f.flow), string(d), now, string(f.flow), string(backend.NewExecutionID()), now)

	f.runJob(scanners.JobEdgeCancelDispatcher, 2)
	f.requireStates(map[backend.ExecutionID]backend.PublicState{u2: stCancelled, d: stWaiting})
	requireErr(t, "Complete of the dispatched sibling", f.b.Complete(f.ctx, h2, nil), backend.ErrStaleLease)
	if got := f.cancelReason(u2); got != "sibling_quorum_satisfied" {
		t.Fatalf("reason = %q", got)
	}
	if n := f.rowCount(`SELECT count(*) FROM ff_pending_cancel_groups`) + f.rowCount(`SELECT count(*) FROM ff_cancel_dispatch_outbox`) +
		f.rowCount(`SELECT count(*) FROM ff_edge_group WHERE cancel_siblings_pending_flag = 1`); n != 0 {
		t.Fatalf("queued sibling rows left = %d", n)
	}
	f.runJob(scanners.JobEdgeCancelDispatcher, 0)

	// Queue again, for a target that is terminal already: the reconciler
	// clears it without cancelling anything.
	f.execRaw(w, `UPDATE ff_edge_group SET cancel_siblings_pending_flag = 1 WHERE downstream_execution_id = ?`, string(d))
	f.execRaw(w, `INSERT INTO ff_cancel_dispatch_outbox (flow_id, downstream_execution_id, target_execution_id, reason, enqueued_at_ms) VALUES (?, ?, ?, 'sibling_quorum_satisfied', ?)`, string(f.flow), string(d), string(u1), now)
	f.execRaw(w, `INSERT INTO ff_pending_cancel_groups (flow_id, downstream_execution_id, enqueued_at_ms) VALUES (?, ?, ?)`, string(f.flow), string(d), now)
	f.runJob(scanners.JobEdgeCancelReconciler, 1)
	f.requireStates(map[backend.ExecutionID]backend.PublicState{u1: stCompleted})
	if n := f.rowCount(`SELECT count(*) FROM ff_cancel_dispatch_outbox`); n != 0 {
		t.Fatalf("dispatch outbox rows left = %d", n)
	}
}

// TestDependencyReconcilerUsesInstalledStaleThreshold: the threshold of the
// Config given to WithScanners applies to RunScannerOnce ticks too.
func TestDependencyReconcilerUsesInstalledStaleThreshold(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	// Zero intervals: the supervisor starts no goroutine, only the
	// settings are installed.
	if !f.b.WithScanners(scanners.Config{DependencyStaleThreshold: 2 * time.Second}) {
		t.Fatal("WithScanners did not install")
	}
	lone := f.create("other-lane", nil)
	f.execRaw(f.rawWriter(), `INSERT INTO ff_completion_event (execution_id, outcome, occurred_at_ms) VALUES (?, 'resumable', ?)`, string(lone), f.now().UnixMilli())
	f.runJob(scanners.JobDependencyReconciler, 0)
	f.clock.Advance(3 * time.Second) // past 2 s, far below the 15 s default
	f.runJob(scanners.JobDependencyReconciler, 1)
}
