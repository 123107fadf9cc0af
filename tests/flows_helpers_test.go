package tests

import (
	"database/sql"
	"net/url"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// flowEnv is an execEnv with one open flow and helpers to build DAGs on it.
// Every member is created on the env's lane, so claims see exactly the
// flow's claimable members.
type flowEnv struct {
	*execEnv
	flow backend.FlowID
	lane backend.LaneID
}

// newFlowEnv opens a fresh backend and creates one flow on it.
func newFlowEnv(t *testing.T) *flowEnv {
	t.Helper()
	f := &flowEnv{execEnv: newExecEnv(t), flow: backend.NewFlowID(), lane: "flow-lane"}
	res, err := f.b.CreateFlow(f.ctx, backend.CreateFlowArgs{FlowID: f.flow, FlowKind: "dag", Namespace: "test"})
	if err != nil || res.Kind != backend.CreateFlowCreated {
		t.Fatalf("CreateFlow = %+v, %v", res, err)
	}
	return f
}

// member creates an execution on the env's lane and adds it to the flow.
func (f *flowEnv) member() backend.ExecutionID {
	f.t.Helper()
	id := f.create(f.lane, nil)
	f.add(id)
	return id
}

// memberP creates a member with a claim priority (higher is claimed
// first), to make claim order explicit where it matters.
func (f *flowEnv) memberP(priority int32) backend.ExecutionID {
	f.t.Helper()
	id := f.create(f.lane, func(a *backend.CreateExecutionArgs) { a.Priority = priority })
	f.add(id)
	return id
}

// members creates n members.
func (f *flowEnv) members(n int) []backend.ExecutionID {
	f.t.Helper()
	ids := make([]backend.ExecutionID, n)
	for i := range ids {
		ids[i] = f.member()
	}
	return ids
}

// add adds id to the flow.
func (f *flowEnv) add(id backend.ExecutionID) {
	f.t.Helper()
	if _, err := f.b.AddExecutionToFlow(f.ctx, backend.AddExecutionToFlowArgs{ExecutionID: id, FlowID: f.flow}); err != nil {
		f.t.Fatalf("AddExecutionToFlow(%s): %v", id, err)
	}
}

// snapshot is DescribeFlow of the env's flow, which must exist.
func (f *flowEnv) snapshot() backend.FlowSnapshot {
	f.t.Helper()
	s, err := f.b.DescribeFlow(f.ctx, f.flow)
	if err != nil || s == nil {
		f.t.Fatalf("DescribeFlow = %v, %v", s, err)
	}
	return *s
}

// revision is the flow's current graph revision.
func (f *flowEnv) revision() uint64 {
	f.t.Helper()
	return f.snapshot().GraphRevision
}

// stage stages up → down with an optional data-passing ref and returns the
// edge id.
func (f *flowEnv) stage(up, down backend.ExecutionID, ref string) backend.EdgeID {
	f.t.Helper()
	id := backend.NewEdgeID()
	_, err := f.b.StageDependencyEdge(f.ctx, backend.StageDependencyEdgeArgs{
		FlowID: f.flow, EdgeID: id, UpstreamExecutionID: up, DownstreamExecutionID: down,
		DataPassingRef: ref, ExpectedGraphRevision: f.revision(),
	})
	if err != nil {
		f.t.Fatalf("StageDependencyEdge(%s -> %s): %v", up, down, err)
	}
	return id
}

// apply applies a staged edge into down.
func (f *flowEnv) apply(edge backend.EdgeID, down backend.ExecutionID) backend.ApplyDependencyToChildResult {
	f.t.Helper()
	res, err := f.b.ApplyDependencyToChild(f.ctx, backend.ApplyDependencyToChildArgs{FlowID: f.flow, EdgeID: edge, DownstreamExecutionID: down})
	if err != nil {
		f.t.Fatalf("ApplyDependencyToChild(%s): %v", edge, err)
	}
	return res
}

// edge stages and applies up → down.
func (f *flowEnv) edge(up, down backend.ExecutionID) backend.EdgeID {
	f.t.Helper()
	id := f.stage(up, down, "")
	f.apply(id, down)
	return id
}

// policy sets down's inbound group policy.
func (f *flowEnv) policy(down backend.ExecutionID, p backend.EdgeDependencyPolicy) {
	f.t.Helper()
	if _, err := f.b.SetEdgeGroupPolicy(f.ctx, f.flow, down, p); err != nil {
		f.t.Fatalf("SetEdgeGroupPolicy(%s): %v", down, err)
	}
}

// group is down's inbound group as DescribeFlow reports it.
func (f *flowEnv) group(down backend.ExecutionID) backend.EdgeGroupSnapshot {
	f.t.Helper()
	for _, g := range f.snapshot().EdgeGroups {
		if g.DownstreamExecutionID == down {
			return g
		}
	}
	f.t.Fatalf("no edge group for %s", down)
	return backend.EdgeGroupSnapshot{}
}

// claimOne claims the next member and fails when nothing is claimable.
func (f *flowEnv) claimOne() backend.Handle {
	f.t.Helper()
	return f.mustClaim(f.lane)
}

// claimID claims until it holds id's lease, failing if another execution
// comes first (claim order is deterministic: callers know what is queued).
func (f *flowEnv) claimID(id backend.ExecutionID) backend.Handle {
	f.t.Helper()
	h := f.claimOne()
	if h.ExecutionID() != id {
		f.t.Fatalf("claimed %s, want %s", h.ExecutionID(), id)
	}
	return h
}

// claimAll claims every claimable member, keyed by execution id.
func (f *flowEnv) claimAll() map[backend.ExecutionID]backend.Handle {
	f.t.Helper()
	out := map[backend.ExecutionID]backend.Handle{}
	for {
		h := f.claim(f.lane)
		if h == nil {
			return out
		}
		out[h.ExecutionID()] = *h
	}
}

// complete completes h with result.
func (f *flowEnv) complete(h backend.Handle, result string) {
	f.t.Helper()
	var payload []byte
	if result != "" {
		payload = []byte(result)
	}
	if err := f.b.Complete(f.ctx, h, payload); err != nil {
		f.t.Fatalf("Complete(%s): %v", h.ExecutionID(), err)
	}
}

// failPermanently fails h terminally.
func (f *flowEnv) failPermanently(h backend.Handle) {
	f.t.Helper()
	out, err := f.b.Fail(f.ctx, h, backend.FailureReason{Message: "boom"}, backend.FailurePermanent)
	if err != nil || out.Kind != backend.FailTerminalFailed {
		f.t.Fatalf("Fail(%s) = %+v, %v", h.ExecutionID(), out, err)
	}
}

// requireStates fails unless each execution is in its wanted public state.
func (f *flowEnv) requireStates(want map[backend.ExecutionID]backend.PublicState) {
	f.t.Helper()
	for id, w := range want {
		if got := f.state(id); got != w {
			f.t.Errorf("state(%s) = %s, want %s", id, got, w)
		}
	}
	if f.t.Failed() {
		f.t.FailNow()
	}
}

// payload is id's input payload.
func (f *flowEnv) payload(id backend.ExecutionID) string {
	f.t.Helper()
	c, err := f.b.ReadExecutionContext(f.ctx, id)
	if err != nil {
		f.t.Fatalf("ReadExecutionContext(%s): %v", id, err)
	}
	return string(c.InputPayload)
}

// cancelReason is id's stored cancellation reason (not exposed by the
// read API).
func (f *flowEnv) cancelReason(id backend.ExecutionID) string {
	f.t.Helper()
	v, _ := f.rawExecColumn(id, "cancellation_reason").(string)
	return v
}

// completionOutcomes is every completion event of id, in order.
func (f *flowEnv) completionOutcomes(id backend.ExecutionID) []string {
	f.t.Helper()
	rows, err := f.raw().QueryContext(f.ctx, `SELECT outcome FROM ff_completion_event WHERE execution_id = ? ORDER BY event_id`, string(id))
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// rowCount runs a SELECT count(*) … query on the raw view.
func (f *flowEnv) rowCount(query string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.raw().QueryRowContext(f.ctx, query, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// rawWriter opens a writable database/sql connection to the backend's
// file, for the safety-net scenarios that must seed rows no API call
// writes (a completion event nobody resolved, a queued sibling cancel).
func (f *flowEnv) rawWriter() *sql.DB {
	f.t.Helper()
	dsn := "file:" + (&url.URL{Path: f.path}).EscapedPath() + "?_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		f.t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	f.t.Cleanup(func() { db.Close() })
	return db
}

// execRaw runs one statement on w and fails the test on error.
func (f *flowEnv) execRaw(w *sql.DB, query string, args ...any) {
	f.t.Helper()
	if _, err := w.ExecContext(f.ctx, query, args...); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
}

// allWaits is every CancelFlow wait mode.
var allWaits = []struct {
	name string
	wait backend.CancelFlowWait
}{
	{"NoWait", backend.NoWait()},
	{"WaitTimeout", backend.WaitTimeout(5 * time.Second)},
	{"WaitIndefinite", backend.WaitIndefinite()},
}
