package backend

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// BuildFlowArgs describe a whole flow for BuildFlow: the flow, its
// members (created here) and the dependency edges between them.
type BuildFlowArgs struct {
	FlowID    FlowID
	FlowKind  string // opaque label, may be empty
	Namespace Namespace
	// Members are created as by CreateExecutions (same validation and
	// idempotency) and added to the flow, in order. Their ids must be on
	// partition 0.
	Members []CreateExecutionArgs
	// Policies fix inbound group policies (as SetEdgeGroupPolicy) before
	// any edge is staged; Downstream must be one of Members.
	Policies []BuildFlowPolicy
	// Edges are staged and applied in order (as StageDependencyEdge then
	// ApplyDependencyToChild); both ends must be Members.
	Edges []BuildFlowEdge
	// Now (zero = backend clock) is the time of the flow's writes; a
	// member's own Now, when set, still dates its creation.
	Now time.Time
}

// BuildFlowPolicy is one downstream's inbound group policy.
type BuildFlowPolicy struct {
	Downstream ExecutionID
	Policy     EdgeDependencyPolicy
}

// BuildFlowEdge is one dependency edge of BuildFlowArgs.
type BuildFlowEdge struct {
	EdgeID     EdgeID // "" = a new id, returned in BuildFlowResult.EdgeIDs
	Upstream   ExecutionID
	Downstream ExecutionID
	// DependencyKind and DataPassingRef mean what they mean in
	// StageDependencyEdgeArgs.
	DependencyKind string
	DataPassingRef string
}

// BuildFlowResult is the outcome of BuildFlow.
type BuildFlowResult struct {
	FlowID FlowID
	// Kind is CreateFlowAlreadySatisfied when a flow with this id existed:
	// then nothing was written (a retried build is harmless) and the
	// other fields are empty.
	Kind CreateFlowKind
	// Members are the creation results, in Members order.
	Members []CreateExecutionResult
	// EdgeIDs are the edges' ids, in Edges order.
	EdgeIDs []EdgeID
	// GraphRevision is the flow's graph revision after the build.
	GraphRevision uint64
}

// BuildFlow creates a flow, its members and its edges in one transaction:
// the same effects, validation and errors as CreateFlow, CreateExecutions,
// AddExecutionToFlow, SetEdgeGroupPolicy, StageDependencyEdge and
// ApplyDependencyToChild called in that order, but all or nothing, and
// without the graph-revision round trips. An error names the element it
// is about ("members[2]: …", "edges[0]: …") and keeps its sentinel.
//
// BuildFlow is a method of *SQLiteBackend, not part of EngineBackend.
func (b *SQLiteBackend) BuildFlow(ctx context.Context, args BuildFlowArgs) (BuildFlowResult, error) {
	db, err := b.live("build_flow")
	if err != nil {
		return BuildFlowResult{}, err
	}
	plan, err := planBuildFlow(args)
	if err != nil {
		return BuildFlowResult{}, err
	}
	var out BuildFlowResult
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		var err error
		out, err = w.buildFlow(ctx, plan)
		return err
	})
	if err != nil {
		return BuildFlowResult{}, err
	}
	return out, nil
}

// buildFlowPlan is BuildFlowArgs after validation.
type buildFlowPlan struct {
	flow     CreateFlowArgs
	members  []createPlan
	policies []memberPolicy
	edges    []stagedEdge
	now      time.Time
	// simpleEdges: the edge ids are distinct and the edges make no cycle,
	// so staging them one by one could not fail (see buildFresh).
	simpleEdges bool
	// placeable: simpleEdges, and the member ids are distinct and carry
	// no idempotency key, so the members are new exactly when none of
	// their ids exists yet; then they are inserted already placed in the
	// flow (placed).
	placeable bool
	// inbound are the edges into each downstream, in order of its first
	// edge (what the fast path gates and counts).
	inbound []inboundEdges
}

// inboundEdges are the edges into one downstream: how many, and the id of
// the last, which its blocking detail names.
type inboundEdges struct {
	down     string
	edges    int64
	lastEdge string
}

// inboundOf groups edges by downstream, in order of each one's first edge.
func inboundOf(edges []stagedEdge) []inboundEdges {
	var out []inboundEdges
	at := map[string]int{}
	for _, e := range edges {
		i, ok := at[e.down]
		if !ok {
			i = len(out)
			at[e.down] = i
			out = append(out, inboundEdges{down: e.down})
		}
		out[i].edges++
		out[i].lastEdge = string(e.edgeID)
	}
	return out
}

// placed returns the member plans with their flow placement: the flow and
// the inbound edges that gate them.
func (p buildFlowPlan) placed() []createPlan {
	byDown := make(map[string]inboundEdges, len(p.inbound))
	for _, in := range p.inbound {
		byDown[in.down] = in
	}
	plans := make([]createPlan, len(p.members))
	for i, m := range p.members {
		in := byDown[string(m.args.ExecutionID)]
		m.flow = &flowPlacement{flowID: p.flow.FlowID, inbound: in.edges, lastEdge: in.lastEdge}
		plans[i] = m
	}
	return plans
}

// memberPolicy is a validated BuildFlowPolicy.
type memberPolicy struct {
	down ExecutionID
	gp   groupPolicy
}

// planBuildFlow validates everything BuildFlow writes; it touches no
// database.
func planBuildFlow(args BuildFlowArgs) (buildFlowPlan, error) {
	flowID, err := ParseFlowID(string(args.FlowID))
	if err != nil {
		return buildFlowPlan{}, err
	}
	p := buildFlowPlan{
		flow: CreateFlowArgs{FlowID: flowID, FlowKind: args.FlowKind, Namespace: args.Namespace, Now: args.Now},
		now:  args.Now,
	}
	member := make(map[ExecutionID]bool, len(args.Members))
	p.members = make([]createPlan, len(args.Members))
	keyless := true
	for i, m := range args.Members {
		if p.members[i], err = planCreate(m); err != nil {
			return buildFlowPlan{}, atIndex("members", i, err)
		}
		if m.ExecutionID.Partition() != 0 {
			return buildFlowPlan{}, atIndex("members", i, errPartitionMismatch())
		}
		member[m.ExecutionID] = true
		keyless = keyless && m.IdempotencyKey == ""
	}
	isMember := func(id ExecutionID) error {
		if err := parseMemberID(id); err != nil {
			return err
		}
		if !member[id] {
			return errValidation(SubKindExecutionNotInFlow, "%s is not one of the members", id)
		}
		return nil
	}
	p.policies = make([]memberPolicy, len(args.Policies))
	for i, pol := range args.Policies {
		if err := isMember(pol.Downstream); err != nil {
			return buildFlowPlan{}, atIndex("policies", i, err)
		}
		kind, on, k, err := groupPolicyColumns(pol.Policy)
		if err != nil {
			return buildFlowPlan{}, atIndex("policies", i, err)
		}
		p.policies[i] = memberPolicy{down: pol.Downstream, gp: groupPolicy{kind: kind, on: on, k: k}}
	}
	p.edges = make([]stagedEdge, len(args.Edges))
	for i, e := range args.Edges {
		se, err := planBuildEdge(flowID, e, isMember)
		if err != nil {
			return buildFlowPlan{}, atIndex("edges", i, err)
		}
		p.edges[i] = se
	}
	p.simpleEdges = distinctAcyclic(p.edges)
	p.inbound = inboundOf(p.edges)
	p.placeable = p.simpleEdges && keyless && len(member) == len(args.Members)
	return p, nil
}

// distinctAcyclic reports whether edges have distinct ids and make no
// cycle (Kahn's algorithm: every node can be removed once its inbound
// edges are).
func distinctAcyclic(edges []stagedEdge) bool {
	ids := make(map[EdgeID]bool, len(edges))
	indegree := map[string]int{}
	out := map[string][]string{}
	for _, e := range edges {
		if ids[e.edgeID] {
			return false
		}
		ids[e.edgeID] = true
		indegree[e.down]++
		indegree[e.up] += 0
		out[e.up] = append(out[e.up], e.down)
	}
	var ready []string
	for n, d := range indegree {
		if d == 0 {
			ready = append(ready, n)
		}
	}
	removed := 0
	for len(ready) > 0 {
		n := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		removed++
		for _, m := range out[n] {
			if indegree[m]--; indegree[m] == 0 {
				ready = append(ready, m)
			}
		}
	}
	return removed == len(indegree)
}

// planBuildEdge validates one edge as StageDependencyEdge does, and mints
// its id when the caller left it empty.
func planBuildEdge(flowID FlowID, e BuildFlowEdge, isMember func(ExecutionID) error) (stagedEdge, error) {
	if e.Upstream == e.Downstream {
		return stagedEdge{}, errValidation(SubKindSelfReferencingEdge, "self_referencing_edge")
	}
	if err := isMember(e.Upstream); err != nil {
		return stagedEdge{}, err
	}
	if err := isMember(e.Downstream); err != nil {
		return stagedEdge{}, err
	}
	edgeID := NewEdgeID()
	if e.EdgeID != "" {
		var err error
		if edgeID, err = ParseEdgeID(string(e.EdgeID)); err != nil {
			return stagedEdge{}, err
		}
	}
	kind := e.DependencyKind
	if kind == "" {
		kind = "success_only"
	}
	return stagedEdge{
		flowID: flowID, edgeID: edgeID, up: string(e.Upstream), down: string(e.Downstream),
		kind: kind, ref: e.DataPassingRef,
	}, nil
}

// buildFlow is BuildFlow's transaction body.
func (w *writeTx) buildFlow(ctx context.Context, p buildFlowPlan) (BuildFlowResult, error) {
	w.now = w.callerNow(p.now)
	flowID := p.flow.FlowID
	out := BuildFlowResult{FlowID: flowID}
	kind, err := w.createFlow(ctx, flowID, p.flow)
	if err != nil || kind == CreateFlowAlreadySatisfied {
		out.Kind = kind
		return out, err
	}
	out.Kind = kind
	members, placed := p.members, false
	if p.placeable {
		if placed, err = w.allNew(ctx, p.members); err != nil {
			return BuildFlowResult{}, err
		}
		if placed {
			members = p.placed()
		}
	}
	if out.Members, err = w.insertExecutions(ctx, members); err != nil {
		return BuildFlowResult{}, err
	}
	fresh := true
	for _, res := range out.Members {
		fresh = fresh && res.Kind == CreateExecutionCreated
	}
	switch {
	case fresh && p.simpleEdges:
		err = w.buildFresh(ctx, p, placed)
	case placed:
		// allNew said no member existed, in this same transaction.
		err = errors.New("build_flow: a member placed in the flow was not created")
	default:
		err = w.buildStepwise(ctx, p, out.Members)
	}
	if err != nil {
		return BuildFlowResult{}, err
	}
	flow, err := w.q.FlowGet(ctx, string(flowID))
	if err != nil {
		return BuildFlowResult{}, err
	}
	out.GraphRevision = uint64(flow.GraphRevision)
	out.EdgeIDs = make([]EdgeID, len(p.edges))
	for i, se := range p.edges {
		out.EdgeIDs[i] = se.edgeID
	}
	return out, nil
}

// buildStepwise adds the members, policies and edges as the individual
// methods would, one step at a time: the general path, taken when a
// member already existed (an idempotency hit, which may be terminal or in
// another flow) or an edge needs the per-edge checks to say what is wrong
// with it.
func (w *writeTx) buildStepwise(ctx context.Context, p buildFlowPlan, members []CreateExecutionResult) error {
	flowID := p.flow.FlowID
	// A member created earlier under the same idempotency key stands in
	// for the requested id in the flow and in its edges.
	actual := make(map[string]string, len(members))
	for i, res := range members {
		actual[string(p.members[i].args.ExecutionID)] = string(res.ExecutionID)
		// A member created just now is in no flow and the flow was
		// created just now: only an existing execution needs addToFlow's
		// checks.
		var err error
		if res.Kind == CreateExecutionCreated {
			_, err = w.joinFlow(ctx, flowID, res.ExecutionID)
		} else {
			_, err = w.addToFlow(ctx, flowID, res.ExecutionID)
		}
		if err != nil {
			return atIndex("members", i, err)
		}
	}
	for i, mp := range p.policies {
		if _, err := w.setGroupPolicy(ctx, flowID, ExecutionID(actual[string(mp.down)]), mp.gp); err != nil {
			return atIndex("policies", i, err)
		}
	}
	flow, err := w.q.FlowGet(ctx, string(flowID))
	if err != nil {
		return err
	}
	rev := uint64(flow.GraphRevision)
	for i, se := range p.edges {
		// planBuildFlow checked both ends are members, and every member
		// has joined the flow above.
		se.up, se.down, se.membersKnown = actual[se.up], actual[se.down], true
		if rev, err = w.stageEdge(ctx, se, int64(rev)); err != nil {
			return atIndex("edges", i, err)
		}
		if _, err := w.applyEdge(ctx, flowID, se.edgeID, ExecutionID(se.down)); err != nil {
			return atIndex("edges", i, err)
		}
	}
	return nil
}

// buildFresh is buildStepwise for the common case, with the same result
// row for row in fewer statements: every member was created by this call
// (so none is terminal or in a flow), the edge ids are distinct and the
// edges make no cycle (planBuildFlow checked). Edges are written applied,
// each downstream's group and gate are written once with their final
// values, and the flow's counters move once.
func (w *writeTx) buildFresh(ctx context.Context, p buildFlowPlan, placed bool) error {
	flowID := p.flow.FlowID
	if !placed {
		for _, m := range p.members {
			if err := w.q.SetExecutionFlow(ctx, dbgen.SetExecutionFlowParams{
				FlowID: nullString(string(flowID)), NowMs: w.now, ExecutionID: string(m.args.ExecutionID),
			}); err != nil {
				return err
			}
		}
	}
	withPolicy := make(map[string]bool, len(p.policies))
	for i, mp := range p.policies {
		if _, err := w.setGroupPolicy(ctx, flowID, mp.down, mp.gp); err != nil {
			return atIndex("policies", i, err)
		}
		withPolicy[string(mp.down)] = true
	}
	for _, se := range p.edges {
		if err := w.q.EdgeInsertApplied(ctx, dbgen.EdgeInsertAppliedParams{
			FlowID: string(flowID), EdgeID: string(se.edgeID), UpstreamExecutionID: se.up, DownstreamExecutionID: se.down,
			DependencyKind: se.kind, DataPassingRef: se.ref, CreatedAtMs: w.now,
		}); err != nil {
			return err
		}
	}
	for _, in := range p.inbound {
		// Only a policy has written a group row yet.
		g := newGroup(string(flowID), in.down)
		if withPolicy[in.down] {
			var err error
			if g, _, err = w.loadGroup(ctx, string(flowID), in.down); err != nil {
				return err
			}
		}
		g.RunningCount += in.edges
		if err := w.saveGroup(ctx, g); err != nil {
			return err
		}
		if placed {
			continue // inserted gated (flowPlacement)
		}
		if err := w.gateChild(ctx, in.down, g.RunningCount, in.lastEdge); err != nil {
			return err
		}
	}
	return w.q.FlowGrow(ctx, dbgen.FlowGrowParams{
		Nodes: int64(len(p.members)), Edges: int64(len(p.edges)), NowMs: w.now, FlowID: string(flowID),
	})
}

// allNew reports whether none of the plans' execution ids exists yet.
func (w *writeTx) allNew(ctx context.Context, plans []createPlan) (bool, error) {
	ids := make([]string, len(plans))
	for i := range plans {
		ids[i] = string(plans[i].args.ExecutionID)
	}
	raw, err := json.Marshal(ids)
	if err != nil {
		return false, err
	}
	taken, err := w.q.AnyExecutionExists(ctx, string(raw))
	return taken == 0, err
}
