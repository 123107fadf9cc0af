package backend

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// Dependency resolution (spec 03 §6, decision 13). It runs inside the
// transaction that made an upstream terminal, reached through the one
// shared step becameTerminal. Executions that resolution itself ends
// (skipped dependents, cancelled siblings) go through the same step by
// joining a FIFO worklist instead of recursing, so a long chain of skips
// costs queue entries, not stack frames. It terminates because each edge
// resolves at most once (EdgeResolve is guarded by resolution_state) and
// the graph is acyclic.

// Group policy, state and resolution literals as stored in ff_edge_group
// and ff_edge.
const (
	groupPending    = string(EdgeGroupPending)
	groupSatisfied  = string(EdgeGroupSatisfied)
	groupImpossible = string(EdgeGroupImpossible)

	resolutionSatisfied  = "satisfied"
	resolutionImpossible = "impossible"

	reasonSiblingSatisfied  = "sibling_quorum_satisfied"
	reasonSiblingImpossible = "sibling_quorum_impossible"
)

// terminalItem is one execution on the resolution worklist: the row as it
// was saved terminal and the outcome its outgoing edges resolve with.
type terminalItem struct {
	e       *exec
	outcome TerminalOutcome
	// event is false when the completion event already exists (the
	// dependency reconciler re-driving an undispatched event).
	event bool
}

// resolver drains the worklist of one transaction.
type resolver struct {
	w     *writeTx
	queue []terminalItem
	// groups are the inbound groups this resolver has read, changed in
	// memory and written back once, when drain ends: a group that many
	// upstreams resolve into (a quorum cancelling its siblings) costs one
	// read and one write, not one of each per upstream. Nothing else
	// writes a group while a drain runs.
	groups map[groupKey]*group
	dirty  []*group
}

// groupKey names an inbound group: the flow and the downstream.
type groupKey struct{ flow, downstream string }

// group returns the inbound group of edge's downstream, read once per
// resolver: the one this resolver already holds, else the stored row the
// edge came with, else a lookup.
func (r *resolver) group(ctx context.Context, edge resolvableEdge) (*group, error) {
	k := groupKey{edge.flowID, edge.downstream}
	if g, ok := r.groups[k]; ok {
		return g, nil
	}
	g := edge.stored
	if g == nil {
		var err error
		if g, _, err = r.w.loadGroup(ctx, edge.flowID, edge.downstream); err != nil {
			return nil, err
		}
	}
	if r.groups == nil {
		r.groups = make(map[groupKey]*group)
	}
	r.groups[k] = g
	return g, nil
}

// changed marks g (from r.group) to be written when drain ends.
func (r *resolver) changed(g *group) {
	if !slices.Contains(r.dirty, g) {
		r.dirty = append(r.dirty, g)
	}
}

// settleTerminal is the body of becameTerminal for one or more executions
// that were just saved terminal: for each, in order, its completion event
// (written already dispatched, since it is consumed right here) and the
// resolution of its outgoing applied edges, then the same for every
// execution that resolution ended in turn.
func (w *writeTx) settleTerminal(ctx context.Context, es ...*exec) error {
	r := &resolver{w: w}
	for _, e := range es {
		r.push(e, TerminalOutcome(e.TerminalOutcome), true)
	}
	return r.drain(ctx)
}

func (r *resolver) push(e *exec, outcome TerminalOutcome, event bool) {
	r.queue = append(r.queue, terminalItem{e: e, outcome: outcome, event: event})
}

func (r *resolver) drain(ctx context.Context) error {
	for i := 0; i < len(r.queue); i++ {
		it := r.queue[i]
		r.queue[i] = terminalItem{} // let the row go once handled
		if it.event {
			if err := r.w.completionEvent(ctx, it.e); err != nil {
				return err
			}
		}
		if !it.e.FlowID.Valid {
			continue
		}
		rows, err := r.w.q.EdgeListUnresolvedOutgoing(ctx, dbgen.EdgeListUnresolvedOutgoingParams{
			UpstreamExecutionID: it.e.ExecutionID, FlowID: it.e.FlowID.String,
		})
		if err != nil {
			return err
		}
		for _, row := range rows {
			if err := r.resolveEdge(ctx, it, outgoingEdge(it.e.FlowID.String, row)); err != nil {
				return err
			}
		}
	}
	r.queue = r.queue[:0]
	for _, g := range r.dirty {
		if err := r.w.saveGroup(ctx, g); err != nil {
			return err
		}
	}
	r.dirty = r.dirty[:0]
	return nil
}

// completionEvent writes e's completion outbox row, already dispatched.
func (w *writeTx) completionEvent(ctx context.Context, e *exec) error {
	err := w.q.CompletionEventInsertDispatched(ctx, dbgen.CompletionEventInsertDispatchedParams{
		ExecutionID:  e.ExecutionID,
		FlowID:       e.FlowID,
		Outcome:      e.TerminalOutcome,
		Namespace:    nullString(e.Namespace),
		InstanceTag:  e.InstanceTag,
		OccurredAtMs: w.now,
	})
	w.wake(topicCompletion)
	return err
}

// resolvableEdge is an applied edge as resolution uses it.
type resolvableEdge struct {
	flowID, edgeID, downstream, dataPassingRef string
	// stored is the downstream's inbound group as the edge's query read
	// it (a fresh all_of group when it has no row); nil when not read.
	stored *group
}

// edgeToResolve is a stored edge, its group not read.
func edgeToResolve(e dbgen.FfEdge) resolvableEdge {
	return resolvableEdge{flowID: e.FlowID, edgeID: e.EdgeID, downstream: e.DownstreamExecutionID, dataPassingRef: e.DataPassingRef}
}

// outgoingEdge is a row of EdgeListUnresolvedOutgoing: the edge and its
// downstream's stored group.
func outgoingEdge(flowID string, row dbgen.EdgeListUnresolvedOutgoingRow) resolvableEdge {
	edge := resolvableEdge{flowID: flowID, edgeID: row.EdgeID, downstream: row.DownstreamExecutionID, dataPassingRef: row.DataPassingRef}
	if !row.PolicyKind.Valid {
		edge.stored = newGroup(flowID, row.DownstreamExecutionID)
		return edge
	}
	edge.stored = &group{dbgen.FfEdgeGroup{
		FlowID:                    flowID,
		DownstreamExecutionID:     row.DownstreamExecutionID,
		PolicyKind:                row.PolicyKind.String,
		OnSatisfied:               row.OnSatisfied.String,
		KTarget:                   row.KTarget.Int64,
		SuccessCount:              row.SuccessCount.Int64,
		FailCount:                 row.FailCount.Int64,
		SkipCount:                 row.SkipCount.Int64,
		RunningCount:              row.RunningCount.Int64,
		GroupState:                row.GroupState.String,
		SatisfiedAtMs:             row.SatisfiedAtMs,
		CancelSiblingsReason:      row.CancelSiblingsReason,
		CancelSiblingsPendingFlag: row.CancelSiblingsPendingFlag.Int64,
	}}
	return edge
}

// group is an ff_edge_group row being changed inside a write transaction.
type group struct {
	dbgen.FfEdgeGroup
}

// loadGroup reads the inbound group of downstream; found is false when no
// row exists (the returned group is then a fresh all_of row).
func (w *writeTx) loadGroup(ctx context.Context, flowID, downstream string) (*group, bool, error) {
	row, err := w.q.EdgeGroupGet(ctx, dbgen.EdgeGroupGetParams{FlowID: flowID, DownstreamExecutionID: downstream})
	if isNoRows(err) {
		return newGroup(flowID, downstream), false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return &group{row}, true, nil
}

// newGroup is a downstream's group before any row exists: all_of, pending,
// no edges.
func newGroup(flowID, downstream string) *group {
	return &group{dbgen.FfEdgeGroup{
		FlowID: flowID, DownstreamExecutionID: downstream,
		PolicyKind: string(EdgePolicyAllOf), OnSatisfied: string(OnSatisfiedCancelRemaining),
		GroupState: groupPending,
	}}
}

func (w *writeTx) saveGroup(ctx context.Context, g *group) error {
	return w.q.EdgeGroupPut(ctx, dbgen.EdgeGroupPutParams(g.FfEdgeGroup))
}

func (g *group) total() int64 {
	return g.SuccessCount + g.FailCount + g.SkipCount + g.RunningCount
}

// fanIn reports whether the group's policy decides on the first k
// successes (any_of, quorum) rather than on all of them; only those
// policies cancel their remaining upstreams.
func (g *group) fanIn() bool { return g.PolicyKind != string(EdgePolicyAllOf) }

// evaluate applies the group's policy to its counters (spec 03 §6.2 step
// 5; satisfied is tested first).
func (g *group) evaluate() string {
	n, s, r := g.total(), g.SuccessCount, g.RunningCount
	bad := g.FailCount + g.SkipCount
	switch EdgeDependencyPolicyKind(g.PolicyKind) {
	case EdgePolicyAnyOf:
		if s >= 1 {
			return groupSatisfied
		}
		if n > 0 && bad == n {
			return groupImpossible
		}
	case EdgePolicyQuorum:
		// A k beyond the group's size is impossible on the first resolution
		// that does not reach it (the original's behaviour; no waiting for
		// more edges).
		if s >= g.KTarget {
			return groupSatisfied
		}
		if bad > n-g.KTarget {
			return groupImpossible
		}
	default:
		if bad == 0 && r == 0 && s == n && n > 0 {
			return groupSatisfied
		}
		if bad >= 1 {
			return groupImpossible
		}
	}
	return groupPending
}

// resolveEdge resolves one applied edge of a terminal upstream with its
// outcome and acts on the downstream's group (spec 03 §6.2–6.6).
func (r *resolver) resolveEdge(ctx context.Context, up terminalItem, edge resolvableEdge) error {
	w := r.w
	success := up.outcome == OutcomeSuccess
	state := resolutionImpossible
	if success {
		state = resolutionSatisfied
	}
	n, err := w.q.EdgeResolve(ctx, dbgen.EdgeResolveParams{
		ResolutionState: state,
		ResolvedAtMs:    nullInt(w.now),
		UpstreamOutcome: nullString(string(up.outcome)),
		FlowID:          edge.flowID,
		EdgeID:          edge.edgeID,
	})
	if err != nil || n == 0 {
		return err // n == 0: already resolved, counted once (Q2)
	}
	g, err := r.group(ctx, edge)
	if err != nil {
		return err
	}
	r.changed(g)
	g.RunningCount = max(0, g.RunningCount-1)
	switch up.outcome {
	case OutcomeSuccess:
		g.SuccessCount++
	case OutcomeSkipped:
		g.SkipCount++
	default:
		g.FailCount++
	}
	passes := success && edge.dataPassingRef != ""
	if passes && !g.fanIn() {
		// all_of: every satisfied edge with a ref passes its result.
		if err := w.passData(ctx, up.e, edge.downstream); err != nil {
			return err
		}
	}
	if g.GroupState != groupPending {
		// One-shot: a decided group only keeps counting (Q1).
		return nil
	}
	switch g.evaluate() {
	case groupSatisfied:
		g.GroupState = groupSatisfied
		g.SatisfiedAtMs = nullInt(w.now)
		if passes && g.fanIn() {
			// any_of / quorum: only the edge that decided the group passes.
			if err := w.passData(ctx, up.e, edge.downstream); err != nil {
				return err
			}
		}
		if err := w.promoteWaiting(ctx, edge.downstream); err != nil {
			return err
		}
		return r.finishDecided(ctx, g, up, reasonSiblingSatisfied)
	case groupImpossible:
		g.GroupState = groupImpossible
		if err := r.skip(ctx, edge.downstream); err != nil {
			return err
		}
		return r.finishDecided(ctx, g, up, reasonSiblingImpossible)
	}
	return nil
}

// finishDecided cancels the remaining upstreams of a just-decided any_of
// or quorum group under cancel_remaining (the group is saved when the
// drain ends).
func (r *resolver) finishDecided(ctx context.Context, g *group, up terminalItem, reason string) error {
	if g.fanIn() && g.OnSatisfied != string(OnSatisfiedLetRun) {
		n, err := r.cancelSiblings(ctx, g, up.e.ExecutionID, reason)
		if err != nil {
			return err
		}
		if n > 0 {
			g.CancelSiblingsReason = nullString(reason)
		}
	}
	return nil
}

// passData copies the upstream's result into the downstream's input
// payload (spec 03 §6.5): not for a void completion, not into a terminal
// downstream.
func (w *writeTx) passData(ctx context.Context, up *exec, downstream string) error {
	if up.Result == nil {
		return nil
	}
	d, err := w.loadExec(ctx, downstream)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if d.phase() == PhaseTerminal {
		return nil
	}
	return w.setPayload(ctx, downstream, up.Result)
}

// promoteWaiting makes a downstream that waits on its dependencies
// claimable (spec 03 §6.3). One that is active (it has not called
// WaitChildren yet) or otherwise not blocked on dependencies is left
// alone. A delay that is still in the future is kept.
func (w *writeTx) promoteWaiting(ctx context.Context, id string) error {
	row, err := w.q.GetExecutionGate(ctx, id)
	if isNoRows(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// Only the gate columns are loaded; parkUntil and stamp change no others.
	d := &exec{dbgen.FfExecCore{
		ExecutionID: id, LifecyclePhase: row.LifecyclePhase, OwnershipState: row.OwnershipState,
		EligibilityState: row.EligibilityState, AttemptState: row.AttemptState,
		PublicState: row.PublicState, DelayUntilMs: row.DelayUntilMs,
	}}
	if d.eligibility() != EligibilityBlockedByDependencies || d.ownership() != OwnershipUnowned ||
		(d.phase() != PhaseRunnable && d.phase() != PhaseSubmitted) {
		return nil
	}
	att := d.attemptState()
	if att == AttemptStateNone || att == "" {
		att = AttemptStatePendingFirstAttempt
	}
	due := w.now
	if d.DelayUntilMs.Valid {
		due = d.DelayUntilMs.Int64
	}
	br, why := BlockingWaitingForDelay, "delayed"
	if att == AttemptStatePendingRetryAttempt {
		br, why = BlockingWaitingForRetryBackoff, "retry backoff"
	}
	w.parkUntil(d, att, due, br, why)
	w.stamp(d)
	return w.q.SaveExecutionGate(ctx, dbgen.SaveExecutionGateParams{
		LifecyclePhase: d.LifecyclePhase, EligibilityState: d.EligibilityState,
		AttemptState: d.AttemptState, BlockingReason: d.BlockingReason,
		BlockingDetail: d.BlockingDetail, PublicState: d.PublicState,
		DelayUntilMs: d.DelayUntilMs, LastMutationAtMs: d.LastMutationAtMs,
		ExecutionID: id,
	})
}

// skip ends a downstream whose group became impossible (spec 03 §6.4),
// even an active one, and queues it so its own dependents resolve as
// skipped. A terminal downstream is left as it is (no "un-skipping" and no
// overwriting).
func (r *resolver) skip(ctx context.Context, id string) error {
	d, err := r.w.loadExec(ctx, id)
	if isNotFound(err) {
		return nil
	}
	if err != nil || d.phase() == PhaseTerminal {
		return err
	}
	if err := r.w.endExecution(ctx, d, OutcomeSkipped, "", ""); err != nil {
		return err
	}
	r.push(d, OutcomeSkipped, true)
	return nil
}

// cancelSiblings cancels, in id order, every non-terminal upstream of the
// group's downstream other than the one whose resolution decided it
// (staged edges count, applied or not; spec 03 §6.6) and queues each.
func (r *resolver) cancelSiblings(ctx context.Context, g *group, firing, reason string) (int, error) {
	rows, err := r.w.q.EdgeUpstreamRows(ctx, dbgen.EdgeUpstreamRowsParams{
		DownstreamExecutionID: g.DownstreamExecutionID, FlowID: g.FlowID,
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, row := range rows {
		s := &exec{row.FfExecCore}
		if s.ExecutionID == firing || s.phase() == PhaseTerminal {
			continue
		}
		if err := r.w.endExecution(ctx, s, OutcomeCancelled, reason, "engine"); err != nil {
			return n, err
		}
		r.push(s, OutcomeCancelled, true)
		n++
	}
	return n, nil
}

// endExecution makes a non-terminal execution terminal with outcome
// (skipped or cancelled) on behalf of the engine or a flow cancel, and
// saves it; the caller then sends it through the became-terminal step. A
// live or lapsed lease is ended and its epoch bumped, so the old holder's
// handle is rejected with ErrStaleLease, and the revocation is recorded.
// reason and by fill cancellation_reason and cancelled_by unless already
// set.
func (w *writeTx) endExecution(ctx context.Context, e *exec, outcome TerminalOutcome, reason, by string) error {
	att := AttemptStateAttemptTerminal
	if outcome == OutcomeSkipped {
		// A skipped execution that never ran has no attempt to end.
		if s := e.attemptState(); s != AttemptStateRunningAttempt && s != AttemptStateAttemptInterrupted {
			att = AttemptStateNone
		}
	}
	if e.phase() == PhaseActive {
		a, err := w.currentAttempt(ctx, e)
		if err != nil {
			return err
		}
		if a != nil && a.LeaseExpiresAtMs.Valid {
			a.endLease(w.now, string(outcome))
			a.LeaseEpoch++
			if err := w.saveAttempt(ctx, a); err != nil {
				return err
			}
			if err := w.leaseEvent(ctx, e, a, LeaseRevoked); err != nil {
				return err
			}
		}
	}
	e.setState(PhaseTerminal, OwnershipUnowned, EligibilityNotApplicable, att, BlockingNone)
	e.TerminalOutcome = string(outcome)
	e.BlockingDetail = ""
	e.DelayUntilMs = sql.NullInt64{}
	if !e.TerminalAtMs.Valid {
		e.TerminalAtMs = nullInt(w.now)
	}
	if outcome == OutcomeCancelled {
		if !e.CancellationReason.Valid {
			e.CancellationReason = sql.NullString{String: reason, Valid: true}
		}
		if !e.CancelledBy.Valid {
			e.CancelledBy = nullString(by)
		}
	}
	return w.saveExec(ctx, e)
}

// resolveLate resolves one just-applied edge whose upstream is already
// terminal (spec 03 §3.4 step 9), with everything that follows from it.
// Only that edge: other unresolved edges of the upstream (an edge a replay
// reset, waiting for the upstream to run again) are left alone.
func (w *writeTx) resolveLate(ctx context.Context, up *exec, edge dbgen.FfEdge) error {
	r := &resolver{w: w}
	if err := r.resolveEdge(ctx, terminalItem{e: up, outcome: TerminalOutcome(up.TerminalOutcome)}, edgeToResolve(edge)); err != nil {
		return err
	}
	return r.drain(ctx)
}

// childrenGroupPending reports whether e's inbound group still waits: it
// exists, has edges, and is neither satisfied nor impossible. An
// impossible group does not block (its downstream was skipped when it was
// decided; one that runs again after a replay is not parked forever).
func (w *writeTx) childrenGroupPending(ctx context.Context, e *exec) (bool, error) {
	if !e.FlowID.Valid {
		return false, nil
	}
	g, found, err := w.loadGroup(ctx, e.FlowID.String, e.ExecutionID)
	if err != nil || !found {
		return false, err
	}
	return g.total() > 0 && g.GroupState == groupPending, nil
}

// resetSkippedMember is the flow half of replaying a skipped member (spec
// 03 §6.9): its inbound group goes back to pending with its failures and
// skips forgotten (successes kept), and its edges that resolved impossible
// resolve again when their upstream next turns terminal — at once for an
// upstream that has succeeded since. The member (already saved runnable and
// blocked on its dependencies by the caller) is promoted when nothing is
// left to wait for, and e is refreshed from the database. It returns how
// many groups were reset (0 or 1).
func (w *writeTx) resetSkippedMember(ctx context.Context, e *exec) (int, error) {
	if !e.FlowID.Valid {
		return 0, nil
	}
	flowID := e.FlowID.String
	g, found, err := w.loadGroup(ctx, flowID, e.ExecutionID)
	if err != nil {
		return 0, err
	}
	reset := 0
	var rows []dbgen.EdgeResetImpossibleIncomingRow
	if found {
		rows, err = w.q.EdgeResetImpossibleIncoming(ctx, dbgen.EdgeResetImpossibleIncomingParams{
			DownstreamExecutionID: e.ExecutionID, FlowID: flowID,
		})
		if err != nil {
			return 0, err
		}
		incoming, err := w.q.EdgeListIncoming(ctx, dbgen.EdgeListIncomingParams{DownstreamExecutionID: e.ExecutionID, FlowID: flowID})
		if err != nil {
			return 0, err
		}
		var running int64
		for _, edge := range incoming {
			if edge.EdgeState == "applied" && edge.ResolutionState == "unsatisfied" {
				running++
			}
		}
		g.FailCount, g.SkipCount, g.RunningCount = 0, 0, running
		g.GroupState = groupPending
		g.SatisfiedAtMs = sql.NullInt64{}
		g.CancelSiblingsReason = sql.NullString{}
		if err := w.saveGroup(ctx, g); err != nil {
			return 0, err
		}
		reset = 1
	}
	// An upstream that has succeeded since resolves its reset edge now.
	r := &resolver{w: w}
	for _, row := range rows {
		up, err := w.loadExec(ctx, row.UpstreamExecutionID)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return reset, err
		}
		if up.phase() != PhaseTerminal || up.terminalOutcome() != OutcomeSuccess {
			continue
		}
		edge, err := w.q.EdgeGet(ctx, dbgen.EdgeGetParams{FlowID: flowID, EdgeID: row.EdgeID})
		if err != nil {
			return reset, err
		}
		if err := r.resolveEdge(ctx, terminalItem{e: up, outcome: OutcomeSuccess}, edgeToResolve(edge)); err != nil {
			return reset, err
		}
	}
	if err := r.drain(ctx); err != nil {
		return reset, err
	}
	pending, err := w.childrenGroupPending(ctx, e)
	if err != nil {
		return reset, err
	}
	if !pending {
		if err := w.promoteWaiting(ctx, e.ExecutionID); err != nil {
			return reset, err
		}
	}
	fresh, err := w.loadExec(ctx, e.ExecutionID)
	if err != nil {
		return reset, err
	}
	e.FfExecCore = fresh.FfExecCore
	return reset, nil
}

// isNotFound reports a NotFound error (a row that vanished, e.g. trimmed
// by retention).
func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
