package tests

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

// diamond is the request for a flow a → b, a → c, b → d, c → d on lane,
// with fixed ids so that two databases can be compared row by row.
type diamond struct {
	flow           backend.FlowID
	a, b, c, d     backend.ExecutionID
	ab, ac, bd, cd backend.EdgeID
	lane           backend.LaneID
	members        []backend.CreateExecutionArgs
	edges          []backend.BuildFlowEdge
	policyD        backend.EdgeDependencyPolicy
}

func newDiamond(lane backend.LaneID) diamond {
	d := diamond{
		flow: backend.NewFlowID(), lane: lane,
		a: backend.NewExecutionID(), b: backend.NewExecutionID(), c: backend.NewExecutionID(), d: backend.NewExecutionID(),
		ab: backend.NewEdgeID(), ac: backend.NewEdgeID(), bd: backend.NewEdgeID(), cd: backend.NewEdgeID(),
		policyD: backend.AnyOfPolicy(backend.OnSatisfiedLetRun),
	}
	for _, id := range []backend.ExecutionID{d.a, d.b, d.c, d.d} {
		d.members = append(d.members, backend.CreateExecutionArgs{
			ExecutionID: id, LaneID: lane, Namespace: "test", ExecutionKind: "kind", InputPayload: []byte("in"),
		})
	}
	d.edges = []backend.BuildFlowEdge{
		{EdgeID: d.ab, Upstream: d.a, Downstream: d.b},
		{EdgeID: d.ac, Upstream: d.a, Downstream: d.c, DataPassingRef: "a-out"},
		{EdgeID: d.bd, Upstream: d.b, Downstream: d.d},
		{EdgeID: d.cd, Upstream: d.c, Downstream: d.d},
	}
	return d
}

func (d diamond) args() backend.BuildFlowArgs {
	return backend.BuildFlowArgs{
		FlowID: d.flow, FlowKind: "dag", Namespace: "test",
		Members:  d.members,
		Policies: []backend.BuildFlowPolicy{{Downstream: d.d, Policy: d.policyD}},
		Edges:    d.edges,
	}
}

// TestBuildFlowSameAsOneByOne builds flows of several shapes with
// BuildFlow on one database and with the individual methods on another
// (same ids, same fake clock): every row of every flow and execution table
// is the same. The shapes cover BuildFlow's fresh path (every member new),
// with members inserted already placed in the flow or placed after their
// insert (idempotency keys), and its stepwise path (a member that already
// existed).
func TestBuildFlowSameAsOneByOne(t *testing.T) {
	chain := func(n int, mod func(i int, a *backend.CreateExecutionArgs)) (backend.BuildFlowArgs, []backend.ExecutionID) {
		args := backend.BuildFlowArgs{FlowID: backend.NewFlowID(), FlowKind: "chain", Namespace: "test"}
		ids := make([]backend.ExecutionID, n)
		for i := range ids {
			ids[i] = backend.NewExecutionID()
			m := backend.CreateExecutionArgs{ExecutionID: ids[i], LaneID: "shape-lane", Namespace: "test", ExecutionKind: "kind", InputPayload: []byte("in")}
			if mod != nil {
				mod(i, &m)
			}
			args.Members = append(args.Members, m)
			if i > 0 {
				args.Edges = append(args.Edges, backend.BuildFlowEdge{EdgeID: backend.NewEdgeID(), Upstream: ids[i-1], Downstream: ids[i]})
			}
		}
		return args, ids
	}
	tests := []struct {
		name string
		args func() backend.BuildFlowArgs
		// existing are created (same ids) on both databases first.
		existing []backend.CreateExecutionArgs
	}{
		{"diamond with any_of", func() backend.BuildFlowArgs { return newDiamond("build-lane").args() }, nil},
		{"chain with delay, priority and tags", func() backend.BuildFlowArgs {
			args, _ := chain(5, func(i int, a *backend.CreateExecutionArgs) {
				a.Priority = int32(i)
				a.Tags = map[string]string{"app.step": fmt.Sprint(i)}
				if i == 3 {
					a.DelayUntil = time.Date(2199, 1, 1, 0, 0, 0, 0, time.UTC)
				}
				if i == 2 {
					a.Now = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) // dates its creation only
				}
			})
			return args
		}, nil},
		{"fan-in under quorum, an isolated member and a policy without edges", func() backend.BuildFlowArgs {
			args, ids := chain(1, nil)
			join, lone, quiet := backend.NewExecutionID(), backend.NewExecutionID(), backend.NewExecutionID()
			for _, id := range []backend.ExecutionID{join, lone, quiet} {
				args.Members = append(args.Members, backend.CreateExecutionArgs{ExecutionID: id, LaneID: "shape-lane", Namespace: "test", InputPayload: []byte("j")})
			}
			ups := []backend.ExecutionID{ids[0]}
			for range 3 {
				up := backend.NewExecutionID()
				ups = append(ups, up)
				args.Members = append(args.Members, backend.CreateExecutionArgs{ExecutionID: up, LaneID: "shape-lane", Namespace: "test"})
			}
			for _, up := range ups {
				args.Edges = append(args.Edges, backend.BuildFlowEdge{EdgeID: backend.NewEdgeID(), Upstream: up, Downstream: join, DataPassingRef: "r"})
			}
			args.Policies = []backend.BuildFlowPolicy{
				{Downstream: join, Policy: backend.QuorumPolicy(2, backend.OnSatisfiedCancelRemaining)},
				{Downstream: quiet, Policy: backend.AnyOfPolicy(backend.OnSatisfiedLetRun)},
			}
			return args
		}, nil},
		// Capabilities and a deadline: members inserted one by one (not in
		// the JSON batch), still placed in the flow as they are inserted.
		{"chain with capabilities and a deadline", func() backend.BuildFlowArgs {
			args, _ := chain(3, func(i int, a *backend.CreateExecutionArgs) {
				a.Policy = &backend.ExecutionPolicy{RoutingRequirements: &backend.RoutingRequirements{RequiredCapabilities: []string{fmt.Sprint("cap", i)}}}
				a.ExecutionDeadlineAt = time.Date(2199, 1, 1, 0, 0, 0, 0, time.UTC)
			})
			return args
		}, nil},
		// Idempotency keys: every member is new, but only the insert can
		// tell, so the rows are placed in the flow after it.
		{"chain with idempotency keys and capabilities", func() backend.BuildFlowArgs {
			args, _ := chain(3, func(i int, a *backend.CreateExecutionArgs) {
				a.IdempotencyKey = fmt.Sprint("key-", i, "-", a.ExecutionID)
				if i == 1 {
					a.Policy = &backend.ExecutionPolicy{RoutingRequirements: &backend.RoutingRequirements{RequiredCapabilities: []string{"gpu"}}}
				}
			})
			return args
		}, nil},
	}
	// The stepwise path: the middle member of a chain already exists
	// (same id), so CreateExecutions reports it as a duplicate.
	stepArgs, stepIDs := chain(3, nil)
	tests = append(tests, struct {
		name     string
		args     func() backend.BuildFlowArgs
		existing []backend.CreateExecutionArgs
	}{"chain around an existing execution", func() backend.BuildFlowArgs { return stepArgs }, []backend.CreateExecutionArgs{
		{ExecutionID: stepIDs[1], LaneID: "shape-lane", Namespace: "test", ExecutionKind: "kind", InputPayload: []byte("in")},
	}})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args()
			batch, single := newExecEnv(t), newExecEnv(t)
			for _, e := range []*execEnv{batch, single} {
				if len(tt.existing) > 0 {
					if _, err := e.b.CreateExecutions(e.ctx, tt.existing); err != nil {
						t.Fatal(err)
					}
				}
			}
			res, err := batch.b.BuildFlow(batch.ctx, args)
			if err != nil {
				t.Fatalf("BuildFlow: %v", err)
			}
			members := buildOneByOne(t, single, args)
			snap, err := single.b.DescribeFlow(single.ctx, args.FlowID)
			if err != nil || snap == nil {
				t.Fatalf("DescribeFlow = %v, %v", snap, err)
			}
			want := backend.BuildFlowResult{FlowID: args.FlowID, Kind: backend.CreateFlowCreated, Members: members, GraphRevision: snap.GraphRevision}
			for _, e := range args.Edges {
				want.EdgeIDs = append(want.EdgeIDs, e.EdgeID)
			}
			if diff := cmp.Diff(want, res); diff != "" {
				t.Errorf("BuildFlow result (-want +got):\n%s", diff)
			}
			for _, table := range []string{"ff_flow_core", "ff_edge", "ff_edge_group", "ff_exec_core", "ff_lane_registry"} {
				if diff := cmp.Diff(single.dumpTable(table), batch.dumpTable(table)); diff != "" {
					t.Errorf("%s differs (-one by one +BuildFlow):\n%s", table, diff)
				}
			}
		})
	}
}

// buildOneByOne makes args' flow with the individual methods, in the
// order BuildFlow documents, and returns the members' creation results.
func buildOneByOne(t *testing.T, e *execEnv, args backend.BuildFlowArgs) []backend.CreateExecutionResult {
	t.Helper()
	if _, err := e.b.CreateFlow(e.ctx, backend.CreateFlowArgs{FlowID: args.FlowID, FlowKind: args.FlowKind, Namespace: args.Namespace}); err != nil {
		t.Fatal(err)
	}
	members, err := e.b.CreateExecutions(e.ctx, args.Members)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if _, err := e.b.AddExecutionToFlow(e.ctx, backend.AddExecutionToFlowArgs{ExecutionID: m.ExecutionID, FlowID: args.FlowID}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range args.Policies {
		if _, err := e.b.SetEdgeGroupPolicy(e.ctx, args.FlowID, p.Downstream, p.Policy); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := e.b.DescribeFlow(e.ctx, args.FlowID)
	if err != nil || snap == nil {
		t.Fatalf("DescribeFlow = %v, %v", snap, err)
	}
	rev := snap.GraphRevision
	for _, edge := range args.Edges {
		st, err := e.b.StageDependencyEdge(e.ctx, backend.StageDependencyEdgeArgs{
			FlowID: args.FlowID, EdgeID: edge.EdgeID, ExpectedGraphRevision: rev, DependencyKind: edge.DependencyKind,
			UpstreamExecutionID: edge.Upstream, DownstreamExecutionID: edge.Downstream, DataPassingRef: edge.DataPassingRef,
		})
		if err != nil {
			t.Fatal(err)
		}
		rev = st.NewGraphRevision
		if _, err := e.b.ApplyDependencyToChild(e.ctx, backend.ApplyDependencyToChildArgs{
			FlowID: args.FlowID, EdgeID: edge.EdgeID, DownstreamExecutionID: edge.Downstream,
		}); err != nil {
			t.Fatal(err)
		}
	}
	return members
}

// TestBuildFlowRuns works a built diamond: a first, then b and c, and d
// (any_of) as soon as one of them succeeds.
func TestBuildFlowRuns(t *testing.T) {
	e := newExecEnv(t)
	d := newDiamond("run-lane")
	if _, err := e.b.BuildFlow(e.ctx, d.args()); err != nil {
		t.Fatal(err)
	}
	h := e.mustClaim(d.lane)
	if h.ExecutionID() != d.a {
		t.Fatalf("first claim got %s, want a", h.ExecutionID())
	}
	if got := e.claim(d.lane); got != nil {
		t.Fatalf("claimed %s while a runs: b, c and d are gated", got.ExecutionID())
	}
	if err := e.b.Complete(e.ctx, h, []byte("a-result")); err != nil {
		t.Fatal(err)
	}
	h1, h2 := e.mustClaim(d.lane), e.mustClaim(d.lane)
	got := map[backend.ExecutionID]bool{h1.ExecutionID(): true, h2.ExecutionID(): true}
	if !got[d.b] || !got[d.c] {
		t.Fatalf("after a: claimed %v, want b and c", got)
	}
	if err := e.b.Complete(e.ctx, h1, nil); err != nil {
		t.Fatal(err)
	}
	if h3 := e.mustClaim(d.lane); h3.ExecutionID() != d.d {
		t.Fatalf("after one of b, c: claimed %s, want d (any_of)", h3.ExecutionID())
	}
}

// TestBuildFlowExistingFlow: a flow id that exists is already_satisfied
// and nothing is written.
func TestBuildFlowExistingFlow(t *testing.T) {
	e := newExecEnv(t)
	d := newDiamond("lane")
	if _, err := e.b.BuildFlow(e.ctx, d.args()); err != nil {
		t.Fatal(err)
	}
	before := e.dump()
	again := newDiamond("lane")
	again.flow = d.flow
	res, err := e.b.BuildFlow(e.ctx, again.args())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(backend.BuildFlowResult{FlowID: d.flow, Kind: backend.CreateFlowAlreadySatisfied}, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	e.requireUnchanged(before, "BuildFlow on an existing flow")
}

// TestBuildFlowIdempotentMember: a member whose idempotency key names an
// execution created before joins the flow under that execution's id, and
// the edges follow it.
func TestBuildFlowIdempotentMember(t *testing.T) {
	e := newExecEnv(t)
	first := e.create("lane", func(a *backend.CreateExecutionArgs) { a.IdempotencyKey = "k1" })
	d := newDiamond("lane")
	d.members[1].IdempotencyKey = "k1" // b
	res, err := e.b.BuildFlow(e.ctx, d.args())
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Members[1]; got.ExecutionID != first || got.Kind != backend.CreateExecutionDuplicate {
		t.Fatalf("Members[1] = %+v, want duplicate of %s", got, first)
	}
	edges, err := e.b.ListEdges(e.ctx, d.flow, backend.OutgoingEdges(first))
	if err != nil {
		t.Fatal(err)
	}
	if len(edges) != 1 || edges[0].DownstreamExecutionID != d.d {
		t.Fatalf("edges out of the existing execution = %+v, want one to d", edges)
	}
	if fid, err := e.b.ResolveExecutionFlowID(e.ctx, first); err != nil || fid == nil || *fid != d.flow {
		t.Fatalf("ResolveExecutionFlowID(existing) = %v, %v", fid, err)
	}
}

// TestBuildFlowErrors: every bad request is refused with its sentinel, the
// error names the element, and the database is unchanged (the flow row
// included), whether the problem is found before the transaction or in it.
func TestBuildFlowErrors(t *testing.T) {
	e := newExecEnv(t)
	inOtherFlow := e.create("lane", func(a *backend.CreateExecutionArgs) { a.IdempotencyKey = "taken" })
	other := backend.NewFlowID()
	if _, err := e.b.CreateFlow(e.ctx, backend.CreateFlowArgs{FlowID: other}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.AddExecutionToFlow(e.ctx, backend.AddExecutionToFlowArgs{ExecutionID: inOtherFlow, FlowID: other}); err != nil {
		t.Fatal(err)
	}
	stranger := backend.NewExecutionID()

	tests := []struct {
		name   string
		mod    func(d *diamond, a *backend.BuildFlowArgs)
		target error
		detail string // the prefix naming the element
	}{
		{"malformed flow id", func(_ *diamond, a *backend.BuildFlowArgs) { a.FlowID = "nope" }, backend.ErrInvalidInput, ""},
		{"bad member", func(_ *diamond, a *backend.BuildFlowArgs) { a.Members[2].LaneID = "" }, backend.ErrInvalidInput, "members[2]"},
		{"member on another partition", func(_ *diamond, a *backend.BuildFlowArgs) {
			a.Members[1].ExecutionID = backend.ExecutionID("{fp:7}:" + backend.NewExecutionID().UUID())
		}, backend.ErrInvalidInput, "members[1]"},
		{"policy on a stranger", func(_ *diamond, a *backend.BuildFlowArgs) { a.Policies[0].Downstream = stranger }, backend.ErrExecutionNotInFlow, "policies[0]"},
		{"bad policy", func(_ *diamond, a *backend.BuildFlowArgs) {
			a.Policies[0].Policy = backend.QuorumPolicy(0, backend.OnSatisfiedCancelRemaining)
		}, backend.ErrInvalidInput, "policies[0]"},
		{"self edge", func(d *diamond, a *backend.BuildFlowArgs) { a.Edges[3].Upstream = d.d }, backend.ErrSelfReferencingEdge, "edges[3]"},
		{"edge to a stranger", func(_ *diamond, a *backend.BuildFlowArgs) { a.Edges[2].Downstream = stranger }, backend.ErrExecutionNotInFlow, "edges[2]"},
		{"malformed edge id", func(_ *diamond, a *backend.BuildFlowArgs) { a.Edges[0].EdgeID = "edge" }, backend.ErrInvalidInput, "edges[0]"},
		{"cycle", func(d *diamond, a *backend.BuildFlowArgs) {
			a.Edges = append(a.Edges, backend.BuildFlowEdge{Upstream: d.d, Downstream: d.a})
		}, backend.ErrCycleDetected, "edges[4]"},
		{"repeated edge id", func(d *diamond, a *backend.BuildFlowArgs) { a.Edges[1].EdgeID = d.ab }, backend.ErrDependencyAlreadyExists, "edges[1]"},
		{"member already in another flow", func(_ *diamond, a *backend.BuildFlowArgs) { a.Members[0].IdempotencyKey = "taken" }, backend.ErrExecutionAlreadyInFlow, "members[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDiamond("lane")
			args := d.args()
			tt.mod(&d, &args)
			before := e.dump()
			res, err := e.b.BuildFlow(e.ctx, args)
			if !errors.Is(err, tt.target) {
				t.Fatalf("BuildFlow = %+v, %v; want %v", res, err, tt.target)
			}
			var be *backend.Error
			if !errors.As(err, &be) {
				t.Fatalf("error %v is not a *backend.Error", err)
			}
			if tt.detail != "" && (len(be.Detail) < len(tt.detail) || be.Detail[:len(tt.detail)] != tt.detail) {
				t.Errorf("detail %q does not name %s", be.Detail, tt.detail)
			}
			e.requireUnchanged(before, tt.name)
		})
	}
}
