package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"regexp"
	"strconv"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// The flow methods (spec 03 §3–5). Dependency resolution lives in
// resolve.go; the flow reconcilers in flow_reconcile.go.

// maxCycleWalk bounds the nodes cycle detection visits before it rejects
// an edge conservatively (spec 03 §3.3 step 3).
const maxCycleWalk = 1000

// errPartitionMismatch is the partition check of the edge and policy
// methods: every flow member lives on partition 0 (spec 03 §0.1).
func errPartitionMismatch() error {
	return errInvalidInput("execution partition mismatch under single-writer SQLite")
}

// parseMemberID validates an execution id a flow-mutating method receives
// and checks it is on partition 0.
func parseMemberID(id ExecutionID) error {
	if _, err := ParseExecutionID(string(id)); err != nil {
		return err
	}
	if id.Partition() != 0 {
		return errPartitionMismatch()
	}
	return nil
}

// flowTerminal reports the flow states that refuse new members and edges
// (this backend only writes cancelled; the others may come from foreign
// data).
func flowTerminal(state string) bool {
	switch state {
	case "cancelled", "completed", "failed", "terminal":
		return true
	}
	return false
}

// CreateFlow creates an open flow (CreateFlowAlreadySatisfied if it
// exists).
func (b *SQLiteBackend) CreateFlow(ctx context.Context, args CreateFlowArgs) (CreateFlowResult, error) {
	db, err := b.live("create_flow")
	if err != nil {
		return CreateFlowResult{}, err
	}
	flowID, err := ParseFlowID(string(args.FlowID))
	if err != nil {
		return CreateFlowResult{}, err
	}
	out := CreateFlowResult{FlowID: flowID}
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		var err error
		out.Kind, err = w.createFlow(ctx, flowID, args)
		return err
	})
	if err != nil {
		return CreateFlowResult{}, err
	}
	return out, nil
}

// createFlow inserts the flow unless one with its id exists.
func (w *writeTx) createFlow(ctx context.Context, flowID FlowID, args CreateFlowArgs) (CreateFlowKind, error) {
	n, err := w.q.FlowInsert(ctx, dbgen.FlowInsertParams{
		FlowID: string(flowID), FlowKind: args.FlowKind, Namespace: string(args.Namespace), NowMs: w.callerNow(args.Now),
	})
	if err != nil {
		return "", err
	}
	if n == 0 {
		return CreateFlowAlreadySatisfied, nil
	}
	return CreateFlowCreated, nil
}

// AddExecutionToFlow makes an existing execution a member (members never
// leave).
func (b *SQLiteBackend) AddExecutionToFlow(ctx context.Context, args AddExecutionToFlowArgs) (AddExecutionToFlowResult, error) {
	db, err := b.live("add_execution_to_flow")
	if err != nil {
		return AddExecutionToFlowResult{}, err
	}
	if _, err := ParseExecutionID(string(args.ExecutionID)); err != nil {
		return AddExecutionToFlowResult{}, err
	}
	if p := args.ExecutionID.Partition(); p != 0 {
		return AddExecutionToFlowResult{}, errInvalidInput("execution partition mismatch: expected 0, got %d", p)
	}
	flowID, err := ParseFlowID(string(args.FlowID))
	if err != nil {
		return AddExecutionToFlowResult{}, err
	}
	var out AddExecutionToFlowResult
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		w.now = w.callerNow(args.Now)
		var err error
		out, err = w.addToFlow(ctx, flowID, args.ExecutionID)
		return err
	})
	if err != nil {
		return AddExecutionToFlowResult{}, err
	}
	return out, nil
}

// addToFlow makes the execution id a member of the flow.
func (w *writeTx) addToFlow(ctx context.Context, flowID FlowID, id ExecutionID) (AddExecutionToFlowResult, error) {
	flow, err := w.q.FlowGet(ctx, string(flowID))
	if isNoRows(err) {
		return AddExecutionToFlowResult{}, errInvalidInput("flow_not_found")
	}
	if err != nil {
		return AddExecutionToFlowResult{}, err
	}
	// The terminal check precedes membership: re-adding a member of a
	// cancelled flow is flow_already_terminal (spec 03 §3.2).
	if flowTerminal(flow.PublicFlowState) {
		return AddExecutionToFlowResult{}, errValidation(SubKindFlowAlreadyTerminal, "flow_already_terminal")
	}
	e, err := w.loadExec(ctx, string(id))
	if isNotFound(err) {
		return AddExecutionToFlowResult{}, errInvalidInput("execution_not_found")
	}
	if err != nil {
		return AddExecutionToFlowResult{}, err
	}
	switch {
	case e.FlowID.Valid && e.FlowID.String == string(flowID):
		return AddExecutionToFlowResult{ExecutionID: id, Kind: AddExecutionAlreadyMember, NodeCount: uint32(flow.NodeCount)}, nil
	case e.FlowID.Valid:
		return AddExecutionToFlowResult{}, errValidation(SubKindExecutionAlreadyInFlow, "already_member_of_different_flow:%s", e.FlowID.String)
	}
	n, err := w.joinFlow(ctx, flowID, id)
	if err != nil {
		return AddExecutionToFlowResult{}, err
	}
	return AddExecutionToFlowResult{ExecutionID: id, Kind: AddExecutionAdded, NodeCount: uint32(n)}, nil
}

// joinFlow is addToFlow's write, once its checks passed (the flow is open,
// the execution exists and is in no flow): the execution's flow_id, and
// the flow's node count and graph revision. It returns the node count.
func (w *writeTx) joinFlow(ctx context.Context, flowID FlowID, id ExecutionID) (int64, error) {
	if err := w.q.SetExecutionFlow(ctx, dbgen.SetExecutionFlowParams{
		FlowID: nullString(string(flowID)), NowMs: w.now, ExecutionID: string(id),
	}); err != nil {
		return 0, err
	}
	return w.q.FlowAddNode(ctx, dbgen.FlowAddNodeParams{NowMs: w.now, FlowID: string(flowID)})
}

// StageDependencyEdge records upstream → downstream, guarded by the flow's
// graph revision.
func (b *SQLiteBackend) StageDependencyEdge(ctx context.Context, args StageDependencyEdgeArgs) (StageDependencyEdgeResult, error) {
	db, err := b.live("stage_dependency_edge")
	if err != nil {
		return StageDependencyEdgeResult{}, err
	}
	if args.UpstreamExecutionID == args.DownstreamExecutionID {
		return StageDependencyEdgeResult{}, errValidation(SubKindSelfReferencingEdge, "self_referencing_edge")
	}
	if err := parseMemberID(args.UpstreamExecutionID); err != nil {
		return StageDependencyEdgeResult{}, err
	}
	if err := parseMemberID(args.DownstreamExecutionID); err != nil {
		return StageDependencyEdgeResult{}, err
	}
	flowID, err := ParseFlowID(string(args.FlowID))
	if err != nil {
		return StageDependencyEdgeResult{}, err
	}
	edgeID, err := ParseEdgeID(string(args.EdgeID))
	if err != nil {
		return StageDependencyEdgeResult{}, err
	}
	kind := args.DependencyKind
	if kind == "" {
		kind = "success_only"
	}
	expected := int64(min(args.ExpectedGraphRevision, math.MaxInt64))
	up, down := string(args.UpstreamExecutionID), string(args.DownstreamExecutionID)
	var out StageDependencyEdgeResult
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		w.now = w.callerNow(args.Now)
		rev, err := w.stageEdge(ctx, stagedEdge{flowID: flowID, edgeID: edgeID, up: up, down: down, kind: kind, ref: args.DataPassingRef}, expected)
		out = StageDependencyEdgeResult{EdgeID: edgeID, NewGraphRevision: rev}
		return err
	})
	if err != nil {
		return StageDependencyEdgeResult{}, err
	}
	return out, nil
}

// stagedEdge is a validated StageDependencyEdge request.
type stagedEdge struct {
	// membersKnown: the caller has made sure both ends are members of the
	// flow in this transaction (BuildFlow), so stageEdge need not look.
	membersKnown bool
	flowID       FlowID
	edgeID       EdgeID
	up, down     string
	kind, ref    string
}

// stageEdge records se if the flow is at the expected graph revision and
// returns the new revision.
func (w *writeTx) stageEdge(ctx context.Context, se stagedEdge, expected int64) (uint64, error) {
	flowID, edgeID, up, down := se.flowID, se.edgeID, se.up, se.down
	rev, err := w.q.FlowBumpEdgeRevision(ctx, dbgen.FlowBumpEdgeRevisionParams{
		NowMs: w.now, FlowID: string(flowID), ExpectedRevision: expected,
	})
	if isNoRows(err) {
		flow, err := w.q.FlowGet(ctx, string(flowID))
		switch {
		case isNoRows(err):
			return 0, errInvalidInput("flow_not_found")
		case err != nil:
			return 0, err
		case flowTerminal(flow.PublicFlowState):
			return 0, errValidation(SubKindFlowAlreadyTerminal, "flow_already_terminal")
		}
		return 0, errContention(SubKindStaleGraphRevision, "stale graph revision: expected "+itoa(expected)+", flow is at "+itoa(flow.GraphRevision))
	}
	if err != nil {
		return 0, err
	}
	if !se.membersKnown {
		for _, id := range []string{up, down} {
			e, err := w.loadExec(ctx, id)
			if isNotFound(err) || (err == nil && e.FlowID.String != string(flowID)) {
				return 0, errValidation(SubKindExecutionNotInFlow, "execution_not_in_flow")
			}
			if err != nil {
				return 0, err
			}
		}
	}
	// The new edge closes a cycle iff upstream is reachable from
	// downstream already.
	walk, err := w.q.EdgeReachable(ctx, dbgen.EdgeReachableParams{Target: up, Start: down, FlowID: string(flowID)})
	if err != nil {
		return 0, err
	}
	if walk.Found > 0 {
		return 0, errConflict(SubKindCycleDetected, "edge "+up+" -> "+down+" would close a cycle")
	}
	if walk.Visited > maxCycleWalk {
		return 0, errConflict(SubKindCycleDetected, "cycle check gave up after visiting "+itoa(maxCycleWalk)+" nodes")
	}
	n, err := w.q.EdgeInsert(ctx, dbgen.EdgeInsertParams{
		FlowID: string(flowID), EdgeID: string(edgeID), UpstreamExecutionID: up, DownstreamExecutionID: down,
		DependencyKind: se.kind, DataPassingRef: se.ref, CreatedAtMs: w.now,
	})
	if err != nil {
		return 0, err
	}
	if n == 0 {
		stored, err := w.q.EdgeGet(ctx, dbgen.EdgeGetParams{FlowID: string(flowID), EdgeID: string(edgeID)})
		if err != nil {
			return 0, err
		}
		snap := edgeSnapshot(stored)
		return 0, &Error{Kind: KindConflict, SubKind: SubKindDependencyAlreadyExists, Detail: "dependency_already_exists:edge_id=" + string(edgeID), Existing: &snap}
	}
	return uint64(rev), nil
}

// ApplyDependencyToChild activates a staged edge on its downstream: the
// child is gated until its group resolves, and an already-terminal
// upstream resolves the edge at once.
func (b *SQLiteBackend) ApplyDependencyToChild(ctx context.Context, args ApplyDependencyToChildArgs) (ApplyDependencyToChildResult, error) {
	db, err := b.live("apply_dependency_to_child")
	if err != nil {
		return ApplyDependencyToChildResult{}, err
	}
	if err := parseMemberID(args.DownstreamExecutionID); err != nil {
		return ApplyDependencyToChildResult{}, err
	}
	flowID, err := ParseFlowID(string(args.FlowID))
	if err != nil {
		return ApplyDependencyToChildResult{}, err
	}
	edgeID, err := ParseEdgeID(string(args.EdgeID))
	if err != nil {
		return ApplyDependencyToChildResult{}, err
	}
	var out ApplyDependencyToChildResult
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		w.now = w.callerNow(args.Now)
		var err error
		out, err = w.applyEdge(ctx, flowID, edgeID, args.DownstreamExecutionID)
		return err
	})
	if err != nil {
		return ApplyDependencyToChildResult{}, err
	}
	return out, nil
}

// applyEdge activates the staged edge on its downstream, which must be
// the execution wantDown names.
func (w *writeTx) applyEdge(ctx context.Context, flowID FlowID, edgeID EdgeID, wantDown ExecutionID) (ApplyDependencyToChildResult, error) {
	edge, err := w.q.EdgeGet(ctx, dbgen.EdgeGetParams{FlowID: string(flowID), EdgeID: string(edgeID)})
	if isNoRows(err) {
		return ApplyDependencyToChildResult{}, errInvalidInput("edge_not_found")
	}
	if err != nil {
		return ApplyDependencyToChildResult{}, err
	}
	// The stored edge is authoritative; a different downstream would
	// count the edge in the wrong group.
	if ExecutionID(edge.DownstreamExecutionID).UUID() != wantDown.UUID() {
		return ApplyDependencyToChildResult{}, errInvalidInput("edge_downstream_mismatch")
	}
	if edge.AppliedAtMs.Valid {
		return ApplyDependencyToChildResult{Kind: ApplyDependencyAlreadyApplied}, nil
	}
	if err := w.q.EdgeMarkApplied(ctx, dbgen.EdgeMarkAppliedParams{AppliedAtMs: nullInt(w.now), FlowID: edge.FlowID, EdgeID: edge.EdgeID}); err != nil {
		return ApplyDependencyToChildResult{}, err
	}
	edge.EdgeState, edge.ResolutionState, edge.AppliedAtMs = "applied", "unsatisfied", nullInt(w.now)
	down := edge.DownstreamExecutionID
	g, _, err := w.loadGroup(ctx, edge.FlowID, down)
	if err != nil {
		return ApplyDependencyToChildResult{}, err
	}
	g.RunningCount++
	if g.GroupState == groupSatisfied && !g.fanIn() {
		// all_of waits for every edge, the new one too. A decided any_of
		// or quorum group stays decided (one-shot); an impossible group
		// stays impossible.
		g.GroupState = groupPending
		g.SatisfiedAtMs = sql.NullInt64{}
	}
	if err := w.saveGroup(ctx, g); err != nil {
		return ApplyDependencyToChildResult{}, err
	}
	if g.GroupState == groupPending {
		if err := w.gateChild(ctx, down, g.RunningCount, edge.EdgeID); err != nil {
			return ApplyDependencyToChildResult{}, err
		}
	}
	up, err := w.loadExec(ctx, edge.UpstreamExecutionID)
	if err != nil && !isNotFound(err) {
		return ApplyDependencyToChildResult{}, err
	}
	if err == nil && up.phase() == PhaseTerminal {
		if err := w.resolveLate(ctx, up, edge); err != nil {
			return ApplyDependencyToChildResult{}, err
		}
	}
	g, _, err = w.loadGroup(ctx, edge.FlowID, down)
	if err != nil {
		return ApplyDependencyToChildResult{}, err
	}
	return ApplyDependencyToChildResult{Kind: ApplyDependencyApplied, UnsatisfiedCount: uint32(g.RunningCount)}, nil
}

// gateChild blocks a queued downstream on its dependencies (spec 03 §3.4
// step 8). Active and suspended children are gated by WaitChildren
// instead; terminal ones are left alone.
func (w *writeTx) gateChild(ctx context.Context, id string, running int64, edgeID string) error {
	d, err := w.loadExec(ctx, id)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !d.blockOnDependencies(running, edgeID) {
		return nil
	}
	return w.saveExec(ctx, d)
}

// blockOnDependencies makes a queued execution wait for running unresolved
// inbound edges, the last applied being edgeID, and reports whether it
// did (an execution past the queue is left as it is).
func (e *exec) blockOnDependencies(running int64, edgeID string) bool {
	if e.phase() != PhaseRunnable && e.phase() != PhaseSubmitted {
		return false
	}
	e.setState(e.phase(), e.ownership(), EligibilityBlockedByDependencies, e.attemptState(), BlockingWaitingForChildren)
	e.BlockingDetail = itoa(running) + " dep(s) unresolved incl " + edgeID
	return true
}

// groupPolicyColumns validates a policy and returns its stored form
// (spec 03 §3.5 validation 1–3).
func groupPolicyColumns(p EdgeDependencyPolicy) (kind, on string, k int64, err error) {
	onSatisfied := func() (string, error) {
		switch p.OnSatisfied {
		case "", OnSatisfiedCancelRemaining:
			return string(OnSatisfiedCancelRemaining), nil
		case OnSatisfiedLetRun:
			return string(OnSatisfiedLetRun), nil
		}
		return "", errInvalidInput("unknown EdgeDependencyPolicy variant")
	}
	switch p.Kind {
	case "", EdgePolicyAllOf:
		return string(EdgePolicyAllOf), string(OnSatisfiedCancelRemaining), 0, nil
	case EdgePolicyAnyOf:
		on, err := onSatisfied()
		return string(EdgePolicyAnyOf), on, 1, err
	case EdgePolicyQuorum:
		if p.K == 0 {
			return "", "", 0, errInvalidInput("quorum k must be >= 1")
		}
		if p.K > math.MaxInt32 {
			return "", "", 0, errInvalidInput("quorum k exceeds supported maximum")
		}
		on, err := onSatisfied()
		return string(EdgePolicyQuorum), on, int64(p.K), err
	}
	return "", "", 0, errInvalidInput("unknown EdgeDependencyPolicy variant")
}

// policyOf is the group's policy in the shape its constructor builds.
func policyOf(g dbgen.FfEdgeGroup) EdgeDependencyPolicy {
	on := OnSatisfied(g.OnSatisfied)
	switch EdgeDependencyPolicyKind(g.PolicyKind) {
	case EdgePolicyAnyOf:
		return AnyOfPolicy(on)
	case EdgePolicyQuorum:
		return QuorumPolicy(uint32(g.KTarget), on)
	}
	return AllOfPolicy()
}

// SetEdgeGroupPolicy sets the inbound group policy of downstream; it must
// precede the first staged edge into it.
func (b *SQLiteBackend) SetEdgeGroupPolicy(ctx context.Context, flowID FlowID, downstream ExecutionID, policy EdgeDependencyPolicy) (SetEdgeGroupPolicyResult, error) {
	db, err := b.live("set_edge_group_policy")
	if err != nil {
		return "", err
	}
	kind, on, k, err := groupPolicyColumns(policy)
	if err != nil {
		return "", err
	}
	if err := parseMemberID(downstream); err != nil {
		return "", err
	}
	fid, err := ParseFlowID(string(flowID))
	if err != nil {
		return "", err
	}
	var out SetEdgeGroupPolicyResult
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		var err error
		out, err = w.setGroupPolicy(ctx, fid, downstream, groupPolicy{kind: kind, on: on, k: k})
		return err
	})
	if err != nil {
		return "", err
	}
	return out, nil
}

// groupPolicy is an EdgeDependencyPolicy in its stored columns.
type groupPolicy struct {
	kind, on string
	k        int64
}

// setGroupPolicy fixes the downstream's inbound group policy; it must come
// before the downstream's first staged edge.
func (w *writeTx) setGroupPolicy(ctx context.Context, fid FlowID, downstream ExecutionID, gp groupPolicy) (SetEdgeGroupPolicyResult, error) {
	if _, err := w.q.FlowGet(ctx, string(fid)); isNoRows(err) {
		return "", errNotFound(EntityFlow)
	} else if err != nil {
		return "", err
	}
	staged, err := w.q.EdgeHasIncoming(ctx, dbgen.EdgeHasIncomingParams{DownstreamExecutionID: string(downstream), FlowID: string(fid)})
	if err != nil {
		return "", err
	}
	// The original's trait docs say Conflict, but every implementation
	// returns this Validation error and pins it (spec 03 §3.5).
	if staged != 0 {
		return "", errInvalidInput("edge_group_policy_already_fixed: dependencies already staged")
	}
	g, found, err := w.loadGroup(ctx, string(fid), string(downstream))
	if err != nil {
		return "", err
	}
	if found && g.PolicyKind == gp.kind && g.OnSatisfied == gp.on && g.KTarget == gp.k {
		return EdgeGroupPolicyAlreadySet, nil
	}
	if err := w.q.EdgeGroupSetPolicy(ctx, dbgen.EdgeGroupSetPolicyParams{
		FlowID: string(fid), DownstreamExecutionID: string(downstream), PolicyKind: gp.kind, OnSatisfied: gp.on, KTarget: gp.k,
	}); err != nil {
		return "", err
	}
	return EdgeGroupPolicySet, nil
}

// flowTagKey is the namespaced key shape DescribeFlow exposes as a tag.
var flowTagKey = regexp.MustCompile(`^[a-z][a-z0-9_]*\.`)

// DescribeFlow returns the flow's snapshot, or (nil, nil) when it does not
// exist.
func (b *SQLiteBackend) DescribeFlow(ctx context.Context, id FlowID) (*FlowSnapshot, error) {
	db, err := b.live("describe_flow")
	if err != nil {
		return nil, err
	}
	flowID, err := ParseFlowID(string(id))
	if err != nil {
		return nil, err
	}
	var snap *FlowSnapshot
	// One read transaction: the header and its groups are one snapshot.
	err = db.read(ctx, func(q *dbgen.Queries) error {
		f, err := q.FlowGet(ctx, string(flowID))
		if isNoRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		raw := map[string]any{}
		if err := json.Unmarshal([]byte(f.TagsJson), &raw); err != nil {
			return errCorruption("flow_core: tags_json not valid JSON: " + err.Error())
		}
		tags := map[string]string{}
		for k, v := range raw {
			if s, ok := v.(string); ok && flowTagKey.MatchString(k) {
				tags[k] = s
			}
		}
		rows, err := q.EdgeGroupListByFlow(ctx, string(flowID))
		if err != nil {
			return err
		}
		groups := make([]EdgeGroupSnapshot, 0, len(rows))
		for _, g := range rows {
			s, fl, k, r := max(g.SuccessCount, 0), max(g.FailCount, 0), max(g.SkipCount, 0), max(g.RunningCount, 0)
			groups = append(groups, EdgeGroupSnapshot{
				DownstreamExecutionID: ExecutionID(g.DownstreamExecutionID),
				FailedCount:           uint32(fl),
				GroupState:            EdgeGroupState(g.GroupState),
				Policy:                policyOf(g),
				RunningCount:          uint32(r),
				SatisfiedCount:        uint32(s),
				SkippedCount:          uint32(k),
				TotalDeps:             uint32(s + fl + k + r),
			})
		}
		snap = &FlowSnapshot{
			CancelReason:       f.CancelReason.String,
			CancellationPolicy: f.CancellationPolicy.String,
			CreatedAt:          fromMS(f.CreatedAtMs),
			EdgeCount:          uint32(f.EdgeCount),
			EdgeGroups:         groups,
			FlowID:             FlowID(f.FlowID),
			FlowKind:           f.FlowKind,
			GraphRevision:      uint64(f.GraphRevision),
			LastMutationAt:     fromMS(f.LastMutationAtMs),
			Namespace:          Namespace(f.Namespace),
			NodeCount:          uint32(f.NodeCount),
			PublicFlowState:    f.PublicFlowState,
			Tags:               tags,
		}
		if f.TerminalAtMs.Valid {
			snap.CancelledAt = fromMS(f.TerminalAtMs.Int64)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// flowStatus maps a stored flow state to its listing status.
func flowStatus(state string) FlowStatus {
	switch state {
	case "open", "running", "blocked":
		return FlowActive
	case "completed":
		return FlowCompleted
	case "failed":
		return FlowFailed
	case "cancelled":
		return FlowCancelled
	}
	return FlowUnknown
}

// ListFlows lists flows of one partition in flow-id order.
func (b *SQLiteBackend) ListFlows(ctx context.Context, partition PartitionKey, cursor FlowID, limit int) (ListFlowsPage, error) {
	db, err := b.live("list_flows")
	if err != nil {
		return ListFlowsPage{}, err
	}
	page := ListFlowsPage{Items: []FlowSummary{}}
	// A non-positive limit is an empty page before the key is even parsed
	// (spec 03 §4.2).
	if limit <= 0 {
		return page, nil
	}
	p, err := partition.Partition()
	if err != nil {
		return ListFlowsPage{}, err
	}
	after := ""
	if cursor != "" {
		c, err := ParseFlowID(string(cursor))
		if err != nil {
			return ListFlowsPage{}, err
		}
		after = string(c)
	}
	// Only the index matters; every flow lives on partition 0.
	if p.Index != 0 {
		return page, nil
	}
	limit = min(limit, math.MaxInt32)
	err = db.read(ctx, func(q *dbgen.Queries) error {
		rows, err := q.FlowList(ctx, dbgen.FlowListParams{PartitionKey: 0, After: after, Lim: int64(limit) + 1})
		if err != nil {
			return err
		}
		for i, r := range rows {
			if i == limit {
				page.Next = page.Items[limit-1].FlowID
				break
			}
			page.Items = append(page.Items, FlowSummary{CreatedAt: fromMS(r.CreatedAtMs), FlowID: FlowID(r.FlowID), Status: flowStatus(r.PublicFlowState)})
		}
		return nil
	})
	if err != nil {
		return ListFlowsPage{}, err
	}
	return page, nil
}

// edgeSnapshot converts a stored edge.
func edgeSnapshot(r dbgen.FfEdge) EdgeSnapshot {
	return EdgeSnapshot{
		CreatedAt:             fromMS(r.CreatedAtMs),
		CreatedBy:             r.CreatedBy,
		DataPassingRef:        r.DataPassingRef,
		DependencyKind:        r.DependencyKind,
		DownstreamExecutionID: ExecutionID(r.DownstreamExecutionID),
		EdgeID:                EdgeID(r.EdgeID),
		EdgeState:             r.EdgeState,
		FlowID:                FlowID(r.FlowID),
		SatisfactionCondition: r.SatisfactionCondition,
		UpstreamExecutionID:   ExecutionID(r.UpstreamExecutionID),
	}
}

// ListEdges returns the edges adjacent to one execution in edge-id order.
func (b *SQLiteBackend) ListEdges(ctx context.Context, flowID FlowID, direction EdgeDirection) ([]EdgeSnapshot, error) {
	db, err := b.live("list_edges")
	if err != nil {
		return nil, err
	}
	fid, err := ParseFlowID(string(flowID))
	if err != nil {
		return nil, err
	}
	if direction.Kind != EdgesIncoming && direction.Kind != EdgesOutgoing {
		return nil, errInvalidInput("list_edges: unknown edge direction %q", direction.Kind)
	}
	// The subject's partition is not checked: it only has to name an
	// execution (spec 03 §4.3).
	if _, err := ParseExecutionID(string(direction.Node)); err != nil {
		return nil, err
	}
	out := []EdgeSnapshot{}
	err = db.read(ctx, func(q *dbgen.Queries) error {
		var rows []dbgen.FfEdge
		var err error
		if direction.Kind == EdgesOutgoing {
			rows, err = q.EdgeListOutgoing(ctx, dbgen.EdgeListOutgoingParams{UpstreamExecutionID: string(direction.Node), FlowID: string(fid)})
		} else {
			rows, err = q.EdgeListIncoming(ctx, dbgen.EdgeListIncomingParams{DownstreamExecutionID: string(direction.Node), FlowID: string(fid)})
		}
		if err != nil {
			return err
		}
		for _, r := range rows {
			out = append(out, edgeSnapshot(r))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DescribeEdge returns one edge of the flow, or (nil, nil) when the flow
// has no such edge.
func (b *SQLiteBackend) DescribeEdge(ctx context.Context, flowID FlowID, edgeID EdgeID) (*EdgeSnapshot, error) {
	db, err := b.live("describe_edge")
	if err != nil {
		return nil, err
	}
	fid, err := ParseFlowID(string(flowID))
	if err != nil {
		return nil, err
	}
	eid, err := ParseEdgeID(string(edgeID))
	if err != nil {
		return nil, err
	}
	var out *EdgeSnapshot
	err = db.read(ctx, func(q *dbgen.Queries) error {
		r, err := q.EdgeGet(ctx, dbgen.EdgeGetParams{FlowID: string(fid), EdgeID: string(eid)})
		if isNoRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		snap := edgeSnapshot(r)
		out = &snap
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ResolveExecutionFlowID returns the execution's flow, or (nil, nil) when
// it does not exist or belongs to no flow.
func (b *SQLiteBackend) ResolveExecutionFlowID(ctx context.Context, id ExecutionID) (*FlowID, error) {
	db, err := b.live("resolve_execution_flow_id")
	if err != nil {
		return nil, err
	}
	if _, err := ParseExecutionID(string(id)); err != nil {
		return nil, err
	}
	var out *FlowID
	err = db.read(ctx, func(q *dbgen.Queries) error {
		row, err := q.GetExecution(ctx, string(id))
		if isNoRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if !row.FlowID.Valid {
			return nil
		}
		fid, err := ParseFlowID(row.FlowID.String)
		if err != nil {
			return errCorruption("resolve_execution_flow_id: exec_core.flow_id='" + row.FlowID.String + "' is not a valid FlowId: " + errorDetail(err))
		}
		out = &fid
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CancelFlow cancels the flow and, per policy, its members, all in one
// transaction; every wait mode returns the completed result.
func (b *SQLiteBackend) CancelFlow(ctx context.Context, id FlowID, policy CancelFlowPolicy, wait CancelFlowWait) (CancelFlowResult, error) {
	db, err := b.live("cancel_flow")
	if err != nil {
		return CancelFlowResult{}, err
	}
	flowID, err := ParseFlowID(string(id))
	if err != nil {
		return CancelFlowResult{}, err
	}
	switch wait.Kind {
	case "", CancelFlowNoWait, CancelFlowWaitTimeout, CancelFlowWaitIndefinite:
	default:
		return CancelFlowResult{}, errInvalidInput("cancel_flow: unknown wait mode %q", wait.Kind)
	}
	if wait.Timeout < 0 {
		return CancelFlowResult{}, errInvalidInput("cancel_flow: negative wait timeout")
	}
	switch policy {
	case CancelFlowAll, CancelFlowPending:
	default:
		// Unknown policies get the least destructive one.
		policy = CancelFlowOnly
	}
	var members []ExecutionID
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		members = []ExecutionID{}
		flow, err := w.q.FlowGet(ctx, string(flowID))
		if isNoRows(err) {
			return nil // parity with Postgres: not an error
		}
		if err != nil {
			return err
		}
		if err := w.q.FlowCancel(ctx, dbgen.FlowCancelParams{NowMs: w.now, CancellationPolicy: sql.NullString{String: string(policy), Valid: true}, FlowID: flow.FlowID}); err != nil {
			return err
		}
		var ids []string
		switch policy {
		case CancelFlowAll:
			ids, err = w.q.FlowMemberIDsInFlight(ctx, nullString(flow.FlowID))
		case CancelFlowPending:
			ids, err = w.q.FlowMemberIDsQueued(ctx, nullString(flow.FlowID))
		}
		if err != nil {
			return err
		}
		flipped, err := w.cancelMembers(ctx, ids, "flow_cancelled", "cancel_flow")
		if err != nil {
			return err
		}
		if policy == CancelFlowPending {
			// Recorded with the counters as they stand before the members'
			// own resolution runs (spec 03 §5.1 step 4).
			groups, err := w.q.EdgeGroupListRunning(ctx, flow.FlowID)
			if err != nil {
				return err
			}
			for _, d := range groups {
				if err := w.q.PendingCancelGroupInsert(ctx, dbgen.PendingCancelGroupInsertParams{FlowID: flow.FlowID, DownstreamExecutionID: d, EnqueuedAtMs: w.now}); err != nil {
					return err
				}
			}
		}
		// Every flip is saved before any resolution runs, so resolution
		// never skips a member that this cancel then overwrites.
		if err := w.settleTerminal(ctx, flipped...); err != nil {
			return err
		}
		for _, e := range flipped {
			members = append(members, e.id())
		}
		return nil
	})
	if err != nil {
		return CancelFlowResult{}, err
	}
	return CancelFlowResult{CancellationPolicy: string(policy), Kind: CancelFlowCancelled, MemberExecutionIDs: members}, nil
}

// cancelMembers flips each listed member that is not terminal yet to
// cancelled (fencing its lease) and returns the flipped rows, for one
// settleTerminal call after all flips.
func (w *writeTx) cancelMembers(ctx context.Context, ids []string, reason, by string) ([]*exec, error) {
	flipped := make([]*exec, 0, len(ids))
	for _, id := range ids {
		e, err := w.loadExec(ctx, id)
		if err != nil {
			return nil, err
		}
		if e.phase() == PhaseTerminal {
			continue
		}
		if err := w.endExecution(ctx, e, OutcomeCancelled, reason, by); err != nil {
			return nil, err
		}
		flipped = append(flipped, e)
	}
	return flipped, nil
}

// CancelFlowHeader flips the flow to cancelled, records the cancel backlog
// and cancels in-flight members; an already-terminal flow returns
// CancelFlowHeaderAlreadyTerminal without writing.
func (b *SQLiteBackend) CancelFlowHeader(ctx context.Context, args CancelFlowArgs) (CancelFlowHeader, error) {
	db, err := b.live("cancel_flow_header")
	if err != nil {
		return CancelFlowHeader{}, err
	}
	flowID, err := ParseFlowID(string(args.FlowID))
	if err != nil {
		return CancelFlowHeader{}, err
	}
	var out CancelFlowHeader
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		w.now = w.callerNow(args.Now)
		flow, err := w.q.FlowGet(ctx, string(flowID))
		if isNoRows(err) {
			return errNotFound(EntityFlow)
		}
		if err != nil {
			return err
		}
		if flowTerminal(flow.PublicFlowState) {
			ids, err := w.q.CancelBacklogMemberIDs(ctx, flow.FlowID)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				// A flow cancelled by CancelFlow has no backlog.
				if ids, err = w.q.FlowMemberIDs(ctx, nullString(flow.FlowID)); err != nil {
					return err
				}
			}
			out = CancelFlowHeader{
				Kind:                     CancelFlowHeaderAlreadyTerminal,
				MemberExecutionIDs:       executionIDs(ids),
				StoredCancelReason:       flow.CancelReason.String,
				StoredCancellationPolicy: flow.CancellationPolicy.String,
			}
			return nil
		}
		if err := w.q.FlowCancel(ctx, dbgen.FlowCancelParams{
			NowMs: w.now, CancellationPolicy: sql.NullString{String: args.CancellationPolicy, Valid: true},
			CancelReason: sql.NullString{String: args.Reason, Valid: true}, FlowID: flow.FlowID,
		}); err != nil {
			return err
		}
		if err := w.q.CancelBacklogInsert(ctx, dbgen.CancelBacklogInsertParams{
			FlowID: flow.FlowID, RequestedAtMs: w.now, Reason: args.Reason, CancellationPolicy: args.CancellationPolicy,
		}); err != nil {
			return err
		}
		ids, err := w.q.FlowMemberIDsInFlight(ctx, nullString(flow.FlowID))
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := w.q.CancelBacklogMemberInsert(ctx, dbgen.CancelBacklogMemberInsertParams{FlowID: flow.FlowID, ExecutionID: id}); err != nil {
				return err
			}
		}
		flipped, err := w.cancelMembers(ctx, ids, args.Reason, "cancel_flow_header")
		if err != nil {
			return err
		}
		if err := w.settleTerminal(ctx, flipped...); err != nil {
			return err
		}
		details, err := json.Marshal(map[string]any{
			"flow_id": flow.FlowID, "cancellation_policy": args.CancellationPolicy, "reason": args.Reason, "member_count": len(ids),
		})
		if err != nil {
			return err
		}
		// Flow-keyed operator event: the row names the flow, not an
		// execution (spec 03 §0.4).
		if _, err := w.q.InsertOperatorEvent(ctx, dbgen.InsertOperatorEventParams{
			ExecutionID: flow.FlowID, EventType: "flow_cancel_requested",
			Details: sql.NullString{String: string(details), Valid: true}, Namespace: nullString(flow.Namespace), OccurredAtMs: w.now,
		}); err != nil {
			return err
		}
		w.wake(topicOperator)
		out = CancelFlowHeader{CancellationPolicy: args.CancellationPolicy, Kind: CancelFlowHeaderCancelled, MemberExecutionIDs: executionIDs(ids)}
		return nil
	})
	if err != nil {
		return CancelFlowHeader{}, err
	}
	return out, nil
}

// AckCancelMember removes one member from the flow's cancel backlog (and
// the backlog when it empties). Idempotent.
func (b *SQLiteBackend) AckCancelMember(ctx context.Context, flowID FlowID, executionID ExecutionID) error {
	db, err := b.live("ack_cancel_member")
	if err != nil {
		return err
	}
	fid, err := ParseFlowID(string(flowID))
	if err != nil {
		return err
	}
	// The id is matched verbatim (it was recorded as the member's wire id).
	if _, err := ParseExecutionID(string(executionID)); err != nil {
		return err
	}
	return db.write(ctx, func(ctx context.Context, w *writeTx) error {
		return w.ackCancelMember(ctx, string(fid), string(executionID))
	})
}

// ackCancelMember deletes one backlog member row, then the flow's backlog
// header if that was the last member.
func (w *writeTx) ackCancelMember(ctx context.Context, flowID, executionID string) error {
	if err := w.q.CancelBacklogMemberDelete(ctx, dbgen.CancelBacklogMemberDeleteParams{FlowID: flowID, ExecutionID: executionID}); err != nil {
		return err
	}
	return w.q.CancelBacklogDeleteIfEmpty(ctx, flowID)
}

// executionIDs converts stored ids (never nil).
func executionIDs(ids []string) []ExecutionID {
	out := make([]ExecutionID, len(ids))
	for i, id := range ids {
		out[i] = ExecutionID(id)
	}
	return out
}

// itoa renders a count for an error detail.
func itoa(v int64) string { return strconv.FormatInt(v, 10) }
