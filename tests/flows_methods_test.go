package tests

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

// requireFlowErr checks err against target and, when detail is set, the
// exact detail the spec quotes.
func requireFlowErr(t *testing.T, what string, err, target error, detail string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
	if detail == "" {
		return
	}
	var e *backend.Error
	if !errors.As(err, &e) || e.Detail != detail {
		t.Fatalf("%s: detail = %q, want %q", what, e.Detail, detail)
	}
}

// invalidInput matches only the generic validation failures (sub-kind
// invalid_input), not the flow sentinels.
var invalidInput = &backend.Error{Kind: backend.KindValidation, SubKind: backend.SubKindInvalidInput}

func TestCreateFlow(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := backend.NewFlowID()
	at := e.now().Add(-time.Minute)
	res, err := e.b.CreateFlow(e.ctx, backend.CreateFlowArgs{FlowID: id, FlowKind: "dag", Namespace: "ns", Now: at})
	if err != nil || res != (backend.CreateFlowResult{FlowID: id, Kind: backend.CreateFlowCreated}) {
		t.Fatalf("CreateFlow = %+v, %v", res, err)
	}
	want := &backend.FlowSnapshot{
		CreatedAt: at, EdgeGroups: []backend.EdgeGroupSnapshot{}, FlowID: id, FlowKind: "dag",
		LastMutationAt: at, Namespace: "ns", PublicFlowState: "open", Tags: map[string]string{},
	}
	got, err := e.b.DescribeFlow(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("DescribeFlow (-want +got)\n%s", diff)
	}

	// A repeat (even with other fields, in another spelling of the id)
	// leaves the stored flow untouched.
	before := e.dump()
	res, err = e.b.CreateFlow(e.ctx, backend.CreateFlowArgs{FlowID: backend.FlowID(strings.ToUpper(string(id))), FlowKind: "other"})
	if err != nil || res != (backend.CreateFlowResult{FlowID: id, Kind: backend.CreateFlowAlreadySatisfied}) {
		t.Fatalf("repeat CreateFlow = %+v, %v", res, err)
	}
	e.requireUnchanged(before, "repeat CreateFlow")

	_, err = e.b.CreateFlow(e.ctx, backend.CreateFlowArgs{FlowID: "not-a-uuid"})
	requireErr(t, "CreateFlow(bad id)", err, backend.ErrInvalidInput)
	e.requireUnchanged(before, "CreateFlow(bad id)")
}

func TestAddExecutionToFlow(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	a := f.create(f.lane, nil)
	res, err := f.b.AddExecutionToFlow(f.ctx, backend.AddExecutionToFlowArgs{ExecutionID: a, FlowID: f.flow})
	if err != nil || res != (backend.AddExecutionToFlowResult{ExecutionID: a, Kind: backend.AddExecutionAdded, NodeCount: 1}) {
		t.Fatalf("add = %+v, %v", res, err)
	}
	b := f.member()
	if got := f.snapshot(); got.NodeCount != 2 || got.GraphRevision != 2 {
		t.Fatalf("after two adds: nodes %d revision %d", got.NodeCount, got.GraphRevision)
	}
	if got := f.describe(b).FlowID; got != f.flow {
		t.Fatalf("DescribeExecution.FlowID = %q", got)
	}
	if got, err := f.b.ResolveExecutionFlowID(f.ctx, a); err != nil || got == nil || *got != f.flow {
		t.Fatalf("ResolveExecutionFlowID = %v, %v", got, err)
	}
	if got := f.state(a); got != stWaiting {
		t.Fatalf("membership changed state to %s", got)
	}

	before := f.dump()
	res, err = f.b.AddExecutionToFlow(f.ctx, backend.AddExecutionToFlowArgs{ExecutionID: a, FlowID: f.flow})
	if err != nil || res != (backend.AddExecutionToFlowResult{ExecutionID: a, Kind: backend.AddExecutionAlreadyMember, NodeCount: 2}) {
		t.Fatalf("re-add = %+v, %v", res, err)
	}
	f.requireUnchanged(before, "re-add")

	other := backend.NewFlowID()
	if _, err := f.b.CreateFlow(f.ctx, backend.CreateFlowArgs{FlowID: other}); err != nil {
		t.Fatal(err)
	}
	cancelled := backend.NewFlowID()
	if _, err := f.b.CreateFlow(f.ctx, backend.CreateFlowArgs{FlowID: cancelled}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.b.CancelFlow(f.ctx, cancelled, backend.CancelFlowOnly, backend.NoWait()); err != nil {
		t.Fatal(err)
	}
	free := f.create(f.lane, nil)
	tests := []struct {
		name   string
		args   backend.AddExecutionToFlowArgs
		target error
		detail string
	}{
		{"ErrMalformedExecutionID", backend.AddExecutionToFlowArgs{ExecutionID: "nope", FlowID: f.flow}, invalidInput, ""},
		{"ErrPartitionMismatch", backend.AddExecutionToFlowArgs{ExecutionID: "{fp:3}:" + backend.ExecutionID(backend.NewFlowID()), FlowID: f.flow}, invalidInput, "execution partition mismatch: expected 0, got 3"},
		{"ErrMalformedFlowID", backend.AddExecutionToFlowArgs{ExecutionID: free, FlowID: "x"}, invalidInput, ""},
		{"ErrFlowNotFound", backend.AddExecutionToFlowArgs{ExecutionID: free, FlowID: backend.NewFlowID()}, invalidInput, "flow_not_found"},
		{"ErrFlowAlreadyTerminal", backend.AddExecutionToFlowArgs{ExecutionID: free, FlowID: cancelled}, backend.ErrFlowAlreadyTerminal, "flow_already_terminal"},
		{"ErrExecutionNotFound", backend.AddExecutionToFlowArgs{ExecutionID: backend.NewExecutionID(), FlowID: f.flow}, invalidInput, "execution_not_found"},
		{"ErrExecutionAlreadyInFlow", backend.AddExecutionToFlowArgs{ExecutionID: a, FlowID: other}, backend.ErrExecutionAlreadyInFlow, "already_member_of_different_flow:" + string(f.flow)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.dump()
			_, err := f.b.AddExecutionToFlow(f.ctx, tt.args)
			requireFlowErr(t, tt.name, err, tt.target, tt.detail)
			requireErr(t, tt.name, err, backend.ErrInvalidInput)
			f.requireUnchanged(before, tt.name)
		})
	}
}

func TestStageDependencyEdge(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	a, b, c := f.member(), f.member(), f.member()
	outsider := f.create(f.lane, nil)
	rev := f.revision()
	edge := backend.NewEdgeID()
	at := f.now().Add(time.Second)
	res, err := f.b.StageDependencyEdge(f.ctx, backend.StageDependencyEdgeArgs{
		FlowID: f.flow, EdgeID: edge, UpstreamExecutionID: a, DownstreamExecutionID: b,
		DataPassingRef: "ref", ExpectedGraphRevision: rev, Now: at,
	})
	if err != nil || res != (backend.StageDependencyEdgeResult{EdgeID: edge, NewGraphRevision: rev + 1}) {
		t.Fatalf("stage = %+v, %v", res, err)
	}
	want := backend.EdgeSnapshot{
		CreatedAt: at, CreatedBy: "engine", DataPassingRef: "ref", DependencyKind: "success_only",
		DownstreamExecutionID: b, EdgeID: edge, EdgeState: "pending", FlowID: f.flow,
		SatisfactionCondition: "all_required", UpstreamExecutionID: a,
	}
	got, err := f.b.DescribeEdge(f.ctx, f.flow, edge)
	if err != nil || got == nil {
		t.Fatalf("DescribeEdge = %v, %v", got, err)
	}
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Fatalf("DescribeEdge (-want +got)\n%s", diff)
	}
	if snap := f.snapshot(); snap.EdgeCount != 1 || len(snap.EdgeGroups) != 0 {
		t.Fatalf("staging touched groups or miscounted: edges %d groups %v", snap.EdgeCount, snap.EdgeGroups)
	}
	if st := f.state(b); st != stWaiting {
		t.Fatalf("staging gated the child: %s", st)
	}
	f.stage(b, c, "")

	tests := []struct {
		name   string
		mod    func(*backend.StageDependencyEdgeArgs)
		target error
		detail string
	}{
		{"ErrSelfReferencingEdge", func(s *backend.StageDependencyEdgeArgs) { s.DownstreamExecutionID = s.UpstreamExecutionID }, backend.ErrSelfReferencingEdge, "self_referencing_edge"},
		{"ErrMalformedUpstream", func(s *backend.StageDependencyEdgeArgs) { s.UpstreamExecutionID = "bad" }, invalidInput, ""},
		{"ErrPartitionMismatch", func(s *backend.StageDependencyEdgeArgs) {
			s.DownstreamExecutionID = backend.ExecutionID("{fp:1}:" + backend.NewFlowID())
		}, invalidInput, "execution partition mismatch under single-writer SQLite"},
		{"ErrMalformedEdgeID", func(s *backend.StageDependencyEdgeArgs) { s.EdgeID = "e" }, invalidInput, ""},
		{"ErrFlowNotFound", func(s *backend.StageDependencyEdgeArgs) { s.FlowID = backend.NewFlowID() }, invalidInput, "flow_not_found"},
		{"ErrStaleGraphRevision", func(s *backend.StageDependencyEdgeArgs) { s.ExpectedGraphRevision-- }, backend.ErrStaleGraphRevision, ""},
		{"ErrStaleGraphRevisionHuge", func(s *backend.StageDependencyEdgeArgs) { s.ExpectedGraphRevision = math.MaxUint64 }, backend.ErrStaleGraphRevision, ""},
		{"ErrExecutionNotInFlow", func(s *backend.StageDependencyEdgeArgs) { s.UpstreamExecutionID = outsider }, backend.ErrExecutionNotInFlow, "execution_not_in_flow"},
		{"ErrExecutionMissing", func(s *backend.StageDependencyEdgeArgs) { s.UpstreamExecutionID = backend.NewExecutionID() }, backend.ErrExecutionNotInFlow, "execution_not_in_flow"},
		{"ErrCycleDetectedDirect", func(s *backend.StageDependencyEdgeArgs) {
			s.UpstreamExecutionID, s.DownstreamExecutionID = b, a
		}, backend.ErrCycleDetected, ""},
		{"ErrCycleDetectedTransitive", func(s *backend.StageDependencyEdgeArgs) {
			s.UpstreamExecutionID, s.DownstreamExecutionID = c, a
		}, backend.ErrCycleDetected, ""},
		{"ErrDependencyAlreadyExists", func(s *backend.StageDependencyEdgeArgs) { s.EdgeID = edge }, backend.ErrDependencyAlreadyExists, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := backend.StageDependencyEdgeArgs{
				FlowID: f.flow, EdgeID: backend.NewEdgeID(), UpstreamExecutionID: a, DownstreamExecutionID: c,
				ExpectedGraphRevision: f.revision(),
			}
			tt.mod(&args)
			before := f.dump()
			_, err := f.b.StageDependencyEdge(f.ctx, args)
			requireFlowErr(t, tt.name, err, tt.target, tt.detail)
			f.requireUnchanged(before, tt.name)
		})
	}

	// The duplicate carries the stored edge.
	_, err = f.b.StageDependencyEdge(f.ctx, backend.StageDependencyEdgeArgs{
		FlowID: f.flow, EdgeID: edge, UpstreamExecutionID: a, DownstreamExecutionID: c, ExpectedGraphRevision: f.revision(),
	})
	var dup *backend.Error
	if !errors.As(err, &dup) || dup.Existing == nil {
		t.Fatalf("duplicate edge = %v, want Error.Existing", err)
	}
	if diff := cmp.Diff(want, *dup.Existing); diff != "" {
		t.Fatalf("Existing (-want +got)\n%s", diff)
	}

	// A second edge over the same pair is allowed, and counts twice.
	f.stage(a, b, "")
	if edges, err := f.b.ListEdges(f.ctx, f.flow, backend.IncomingEdges(b)); err != nil || len(edges) != 2 {
		t.Fatalf("incoming edges of b = %v, %v", edges, err)
	}

	// A terminal flow refuses new edges.
	if _, err := f.b.CancelFlow(f.ctx, f.flow, backend.CancelFlowOnly, backend.NoWait()); err != nil {
		t.Fatal(err)
	}
	before := f.dump()
	_, err = f.b.StageDependencyEdge(f.ctx, backend.StageDependencyEdgeArgs{
		FlowID: f.flow, EdgeID: backend.NewEdgeID(), UpstreamExecutionID: a, DownstreamExecutionID: c, ExpectedGraphRevision: f.revision(),
	})
	requireFlowErr(t, "stage on a cancelled flow", err, backend.ErrFlowAlreadyTerminal, "flow_already_terminal")
	f.requireUnchanged(before, "stage on a cancelled flow")
}

// TestStageDependencyEdgeCycleBudget: a walk past 1000 nodes is rejected
// conservatively. The 1001 edges fanning out of the hub are seeded in one
// raw transaction (the walk reads edges only), to keep the test fast.
func TestStageDependencyEdgeCycleBudget(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	hub, src := f.member(), f.member()
	w := f.rawWriter()
	tx, err := w.BeginTx(f.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 1001 {
		if _, err := tx.ExecContext(f.ctx, `INSERT INTO ff_edge (flow_id, edge_id, upstream_execution_id, downstream_execution_id, created_at_ms) VALUES (?, ?, ?, ?, 0)`,
			string(f.flow), string(backend.NewEdgeID()), string(hub), string(backend.NewExecutionID())); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	args := backend.StageDependencyEdgeArgs{
		FlowID: f.flow, EdgeID: backend.NewEdgeID(), UpstreamExecutionID: src, DownstreamExecutionID: hub, ExpectedGraphRevision: f.revision(),
	}
	before := f.dump()
	_, err = f.b.StageDependencyEdge(f.ctx, args)
	requireErr(t, "stage into a 1002-node reach", err, backend.ErrCycleDetected)
	f.requireUnchanged(before, "rejected stage")
	// Within budget the same shape is fine.
	f.execRaw(w, `DELETE FROM ff_edge WHERE edge_id IN (SELECT edge_id FROM ff_edge WHERE upstream_execution_id = ? LIMIT 2)`, string(hub))
	if _, err := f.b.StageDependencyEdge(f.ctx, args); err != nil {
		t.Fatalf("stage into a 1000-node reach: %v", err)
	}
}

func TestApplyDependencyToChild(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	a, b := f.member(), f.member()
	edge := f.stage(a, b, "")
	res := f.apply(edge, b)
	if res != (backend.ApplyDependencyToChildResult{Kind: backend.ApplyDependencyApplied, UnsatisfiedCount: 1}) {
		t.Fatalf("apply = %+v", res)
	}
	if got := f.describe(b); got.PublicState != stChildren || got.BlockingReason != backend.BlockingWaitingForChildren || got.BlockingDetail != "1 dep(s) unresolved incl "+string(edge) {
		t.Fatalf("gated child = state %s reason %s detail %q", got.PublicState, got.BlockingReason, got.BlockingDetail)
	}
	if got, _ := f.b.DescribeEdge(f.ctx, f.flow, edge); got == nil || got.EdgeState != "applied" {
		t.Fatalf("edge after apply = %+v", got)
	}
	want := []backend.EdgeGroupSnapshot{{DownstreamExecutionID: b, GroupState: backend.EdgeGroupPending, Policy: backend.AllOfPolicy(), RunningCount: 1, TotalDeps: 1}}
	if diff := cmp.Diff(want, f.snapshot().EdgeGroups); diff != "" {
		t.Fatalf("groups (-want +got)\n%s", diff)
	}
	if h := f.claimOne(); h.ExecutionID() != a {
		t.Fatalf("claimed %s while b is gated", h.ExecutionID())
	}

	before := f.dump()
	res, err := f.b.ApplyDependencyToChild(f.ctx, backend.ApplyDependencyToChildArgs{FlowID: f.flow, EdgeID: edge, DownstreamExecutionID: b})
	if err != nil || res != (backend.ApplyDependencyToChildResult{Kind: backend.ApplyDependencyAlreadyApplied}) {
		t.Fatalf("re-apply = %+v, %v", res, err)
	}
	f.requireUnchanged(before, "re-apply")

	tests := []struct {
		name   string
		args   backend.ApplyDependencyToChildArgs
		detail string
	}{
		{"ErrEdgeNotFound", backend.ApplyDependencyToChildArgs{FlowID: f.flow, EdgeID: backend.NewEdgeID(), DownstreamExecutionID: b}, "edge_not_found"},
		{"ErrEdgeOfOtherFlow", backend.ApplyDependencyToChildArgs{FlowID: backend.NewFlowID(), EdgeID: edge, DownstreamExecutionID: b}, "edge_not_found"},
		{"ErrEdgeDownstreamMismatch", backend.ApplyDependencyToChildArgs{FlowID: f.flow, EdgeID: edge, DownstreamExecutionID: a}, "edge_downstream_mismatch"},
		{"ErrPartitionMismatch", backend.ApplyDependencyToChildArgs{FlowID: f.flow, EdgeID: edge, DownstreamExecutionID: backend.ExecutionID("{fp:2}:" + backend.NewFlowID())}, "execution partition mismatch under single-writer SQLite"},
		{"ErrMalformedDownstream", backend.ApplyDependencyToChildArgs{FlowID: f.flow, EdgeID: edge, DownstreamExecutionID: "x"}, ""},
		{"ErrMalformedEdgeID", backend.ApplyDependencyToChildArgs{FlowID: f.flow, EdgeID: "x", DownstreamExecutionID: b}, ""},
		{"ErrMalformedFlowID", backend.ApplyDependencyToChildArgs{FlowID: "x", EdgeID: edge, DownstreamExecutionID: b}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.dump()
			_, err := f.b.ApplyDependencyToChild(f.ctx, tt.args)
			requireFlowErr(t, tt.name, err, invalidInput, tt.detail)
			f.requireUnchanged(before, tt.name)
		})
	}
}

func TestSetEdgeGroupPolicy(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	a, d := f.member(), f.member()
	set := func(p backend.EdgeDependencyPolicy) backend.SetEdgeGroupPolicyResult {
		t.Helper()
		res, err := f.b.SetEdgeGroupPolicy(f.ctx, f.flow, d, p)
		if err != nil {
			t.Fatalf("SetEdgeGroupPolicy(%+v): %v", p, err)
		}
		return res
	}
	if got := set(backend.QuorumPolicy(2, "")); got != backend.EdgeGroupPolicySet {
		t.Fatalf("first set = %s", got)
	}
	before := f.dump()
	if got := set(backend.QuorumPolicy(2, cancelRemain)); got != backend.EdgeGroupPolicyAlreadySet {
		t.Fatalf("identical set = %s", got)
	}
	f.requireUnchanged(before, "identical set")
	if got := set(backend.AnyOfPolicy(letRun)); got != backend.EdgeGroupPolicySet {
		t.Fatalf("changed set = %s", got)
	}
	want := []backend.EdgeGroupSnapshot{{DownstreamExecutionID: d, GroupState: backend.EdgeGroupPending, Policy: backend.AnyOfPolicy(letRun)}}
	if diff := cmp.Diff(want, f.snapshot().EdgeGroups); diff != "" {
		t.Fatalf("groups (-want +got)\n%s", diff)
	}
	// A policy for an execution that is not (yet) a member is accepted.
	if _, err := f.b.SetEdgeGroupPolicy(f.ctx, f.flow, backend.NewExecutionID(), backend.AllOfPolicy()); err != nil {
		t.Fatalf("policy for a non-member: %v", err)
	}
	f.stage(a, d, "")

	tests := []struct {
		name   string
		flow   backend.FlowID
		down   backend.ExecutionID
		policy backend.EdgeDependencyPolicy
		target error
		detail string
	}{
		{"ErrQuorumZero", f.flow, d, backend.QuorumPolicy(0, ""), invalidInput, "quorum k must be >= 1"},
		{"ErrQuorumTooLarge", f.flow, d, backend.QuorumPolicy(math.MaxInt32+1, ""), invalidInput, "quorum k exceeds supported maximum"},
		{"ErrUnknownKind", f.flow, d, backend.EdgeDependencyPolicy{Kind: "some_of"}, invalidInput, "unknown EdgeDependencyPolicy variant"},
		{"ErrUnknownOnSatisfied", f.flow, d, backend.AnyOfPolicy("maybe"), invalidInput, "unknown EdgeDependencyPolicy variant"},
		{"ErrPartitionMismatch", f.flow, backend.ExecutionID("{fp:9}:" + backend.NewFlowID()), backend.AllOfPolicy(), invalidInput, "execution partition mismatch under single-writer SQLite"},
		{"ErrMalformedFlowID", "x", d, backend.AllOfPolicy(), invalidInput, ""},
		{"ErrFlowNotFound", backend.NewFlowID(), d, backend.AllOfPolicy(), &backend.Error{Kind: backend.KindNotFound, Entity: backend.EntityFlow}, ""},
		{"ErrPolicyAlreadyFixed", f.flow, d, backend.AllOfPolicy(), invalidInput, "edge_group_policy_already_fixed: dependencies already staged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.dump()
			_, err := f.b.SetEdgeGroupPolicy(f.ctx, tt.flow, tt.down, tt.policy)
			requireFlowErr(t, tt.name, err, tt.target, tt.detail)
			f.requireUnchanged(before, tt.name)
		})
	}
}

func TestFlowReads(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	a, b := f.member(), f.member()
	e1 := f.edge(a, b)
	e2 := f.stage(a, b, "")
	lone := f.create(f.lane, nil)

	if got, err := f.b.DescribeFlow(f.ctx, backend.NewFlowID()); got != nil || err != nil {
		t.Fatalf("DescribeFlow(unknown) = %v, %v", got, err)
	}
	if got, err := f.b.DescribeEdge(f.ctx, f.flow, backend.NewEdgeID()); got != nil || err != nil {
		t.Fatalf("DescribeEdge(unknown) = %v, %v", got, err)
	}
	if got, err := f.b.DescribeEdge(f.ctx, backend.NewFlowID(), e1); got != nil || err != nil {
		t.Fatalf("DescribeEdge(edge of another flow) = %v, %v", got, err)
	}
	out, err := f.b.ListEdges(f.ctx, f.flow, backend.OutgoingEdges(a))
	if err != nil || len(out) != 2 {
		t.Fatalf("outgoing = %v, %v", out, err)
	}
	wantIDs := []backend.EdgeID{e1, e2}
	if wantIDs[1] < wantIDs[0] {
		wantIDs[0], wantIDs[1] = wantIDs[1], wantIDs[0]
	}
	if got := []backend.EdgeID{out[0].EdgeID, out[1].EdgeID}; !cmp.Equal(got, wantIDs) {
		t.Fatalf("outgoing order = %v, want %v", got, wantIDs)
	}
	for _, tt := range []struct {
		name string
		flow backend.FlowID
		dir  backend.EdgeDirection
	}{
		{"IncomingOfUpstream", f.flow, backend.IncomingEdges(a)},
		{"UnknownFlow", backend.NewFlowID(), backend.OutgoingEdges(a)},
		{"Standalone", f.flow, backend.OutgoingEdges(lone)},
	} {
		got, err := f.b.ListEdges(f.ctx, tt.flow, tt.dir)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("ListEdges %s = %v, %v; want empty", tt.name, got, err)
		}
	}
	_, err = f.b.ListEdges(f.ctx, f.flow, backend.EdgeDirection{Kind: "sideways", Node: a})
	requireErr(t, "ListEdges(bad direction)", err, backend.ErrInvalidInput)
	_, err = f.b.ListEdges(f.ctx, f.flow, backend.OutgoingEdges("x"))
	requireErr(t, "ListEdges(bad node)", err, backend.ErrInvalidInput)
	_, err = f.b.DescribeEdge(f.ctx, f.flow, "x")
	requireErr(t, "DescribeEdge(bad id)", err, backend.ErrInvalidInput)
	_, err = f.b.DescribeFlow(f.ctx, "x")
	requireErr(t, "DescribeFlow(bad id)", err, backend.ErrInvalidInput)

	for _, id := range []backend.ExecutionID{lone, backend.NewExecutionID()} {
		if got, err := f.b.ResolveExecutionFlowID(f.ctx, id); got != nil || err != nil {
			t.Fatalf("ResolveExecutionFlowID(%s) = %v, %v; want nil", id, got, err)
		}
	}
	_, err = f.b.ResolveExecutionFlowID(f.ctx, "x")
	requireErr(t, "ResolveExecutionFlowID(bad id)", err, backend.ErrInvalidInput)
}

func TestListFlows(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	ids := []backend.FlowID{}
	for range 5 {
		id := backend.NewFlowID()
		if _, err := e.b.CreateFlow(e.ctx, backend.CreateFlowArgs{FlowID: id}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	sortFlowIDs(ids)
	if _, err := e.b.CancelFlow(e.ctx, ids[1], backend.CancelFlowOnly, backend.NoWait()); err != nil {
		t.Fatal(err)
	}
	var seen []backend.FlowSummary
	var cursor backend.FlowID
	pages := 0
	for {
		page, err := e.b.ListFlows(e.ctx, backend.DefaultPartitionKey, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		seen = append(seen, page.Items...)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if pages != 3 || len(seen) != 5 {
		t.Fatalf("paged %d times over %d flows", pages, len(seen))
	}
	for i, s := range seen {
		wantStatus := backend.FlowActive
		if i == 1 {
			wantStatus = backend.FlowCancelled
		}
		if s.FlowID != ids[i] || s.Status != wantStatus || !s.CreatedAt.Equal(e.now()) {
			t.Fatalf("flow %d = %+v, want %s %s", i, s, ids[i], wantStatus)
		}
	}
	// An exactly-full last page has no Next.
	page, err := e.b.ListFlows(e.ctx, backend.DefaultPartitionKey, ids[2], 2)
	if err != nil || len(page.Items) != 2 || page.Next != "" {
		t.Fatalf("exactly-full page = %+v, %v", page, err)
	}
	for _, tt := range []struct {
		name  string
		key   backend.PartitionKey
		limit int
	}{
		{"ZeroLimit", backend.DefaultPartitionKey, 0},
		{"ZeroLimitBadKey", "garbage", 0},
		{"OtherPartition", "{fp:1}", 10},
	} {
		page, err := e.b.ListFlows(e.ctx, tt.key, "", tt.limit)
		if err != nil || page.Items == nil || len(page.Items) != 0 || page.Next != "" {
			t.Fatalf("%s = %+v, %v; want an empty page", tt.name, page, err)
		}
	}
	_, err = e.b.ListFlows(e.ctx, "fp:0", "", 1)
	requireErr(t, "ListFlows(bad key)", err, backend.ErrInvalidInput)
	_, err = e.b.ListFlows(e.ctx, backend.DefaultPartitionKey, "x", 1)
	requireErr(t, "ListFlows(bad cursor)", err, backend.ErrInvalidInput)
}

func sortFlowIDs(ids []backend.FlowID) {
	for i := range ids {
		for j := i + 1; j < len(ids); j++ {
			if ids[j] < ids[i] {
				ids[i], ids[j] = ids[j], ids[i]
			}
		}
	}
}

func TestFlowCapabilities(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	s := e.b.Capabilities().Supports
	if !s.CancelFlowHeader || !s.CancelFlowWaitTimeout || !s.CancelFlowWaitIndefinite || !s.AckCancelMember {
		t.Fatalf("flow capability flags = %+v", s)
	}
}

// TestFlowMethodsAfterClose: every flow method reports ErrUnavailable once
// the backend is closed.
func TestFlowMethodsAfterClose(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	if err := e.b.Close(); err != nil {
		t.Fatal(err)
	}
	flow, id := backend.NewFlowID(), backend.NewExecutionID()
	calls := map[string]func() error{
		"CreateFlow": func() error { _, err := e.b.CreateFlow(e.ctx, backend.CreateFlowArgs{FlowID: flow}); return err },
		"AddExecutionToFlow": func() error {
			_, err := e.b.AddExecutionToFlow(e.ctx, backend.AddExecutionToFlowArgs{FlowID: flow, ExecutionID: id})
			return err
		},
		"StageDependencyEdge": func() error {
			_, err := e.b.StageDependencyEdge(e.ctx, backend.StageDependencyEdgeArgs{FlowID: flow})
			return err
		},
		"ApplyDependencyToChild": func() error {
			_, err := e.b.ApplyDependencyToChild(e.ctx, backend.ApplyDependencyToChildArgs{FlowID: flow})
			return err
		},
		"SetEdgeGroupPolicy": func() error { _, err := e.b.SetEdgeGroupPolicy(e.ctx, flow, id, backend.AllOfPolicy()); return err },
		"DescribeFlow":       func() error { _, err := e.b.DescribeFlow(e.ctx, flow); return err },
		"DescribeEdge":       func() error { _, err := e.b.DescribeEdge(e.ctx, flow, backend.NewEdgeID()); return err },
		"ListEdges":          func() error { _, err := e.b.ListEdges(e.ctx, flow, backend.OutgoingEdges(id)); return err },
		"ListFlows":          func() error { _, err := e.b.ListFlows(e.ctx, backend.DefaultPartitionKey, "", 1); return err },
		"ResolveExecutionFlowID": func() error {
			_, err := e.b.ResolveExecutionFlowID(e.ctx, id)
			return err
		},
		"CancelFlow": func() error {
			_, err := e.b.CancelFlow(e.ctx, flow, backend.CancelFlowAll, backend.NoWait())
			return err
		},
		"CancelFlowHeader": func() error {
			_, err := e.b.CancelFlowHeader(e.ctx, backend.CancelFlowArgs{FlowID: flow})
			return err
		},
		"AckCancelMember": func() error { return e.b.AckCancelMember(e.ctx, flow, id) },
	}
	for name, call := range calls {
		requireErr(t, name, call(), backend.ErrUnavailable)
	}
}
