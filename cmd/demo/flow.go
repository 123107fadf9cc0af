package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// The DAG section: root A fans out to B1..B3, which join into J under a
// quorum(2, cancel_remaining) policy. A passes its result to every B
// through a data-passing edge. B3 is slow and would fail permanently, so
// J is satisfied by B1+B2 and the engine cancels B3 while it still runs.
const (
	laneFlow      backend.LaneID = "flow"
	flowWorkers                  = 4
	b3Work                       = 600 * time.Millisecond // B3's planned run time before failing
	flowTimeout                  = 10 * time.Second
	tagFlowMember                = "demo.flow.member"
)

var flowMembers = []string{"A", "B1", "B2", "B3", "J"}

// flowEnd is one member's end as seen by the worker that ran it.
type flowEnd struct {
	member string
	what   string // completed / failed / cancelled while running
	seq    int
}

type flowRun struct {
	b       *backend.SQLiteBackend
	flowID  backend.FlowID
	ids     map[string]backend.ExecutionID
	aResult []byte

	mu       sync.Mutex
	ends     []flowEnd
	problems []string
	done     chan struct{} // closed when J has ended
	once     sync.Once
}

func (f *flowRun) problem(format string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems = append(f.problems, fmt.Sprintf(format, a...))
}

func (f *flowRun) ended(member, what string) {
	f.mu.Lock()
	f.ends = append(f.ends, flowEnd{member: member, what: what, seq: len(f.ends)})
	f.mu.Unlock()
	if member == "J" {
		f.once.Do(func() { close(f.done) })
	}
}

// runFlowSection builds the DAG, runs it with a small worker pool on the
// "flow" lane, prints the outcome and verifies it.
func runFlowSection(ctx context.Context, b *backend.SQLiteBackend) error {
	fmt.Println("\n== flow: A → {B1,B2,B3} → J, J = quorum(2, cancel_remaining), B3 slow and failing ==")
	ctx, cancel := context.WithTimeout(ctx, flowTimeout)
	defer cancel()
	start := time.Now()
	f := &flowRun{b: b, flowID: backend.NewFlowID(), ids: map[string]backend.ExecutionID{}, done: make(chan struct{})}
	f.aResult, _ = json.Marshal(map[string]any{"from": "A", "dataset": "ds-42", "shards": 3})

	if err := f.build(ctx); err != nil {
		return fmt.Errorf("flow: build: %w", err)
	}
	// Before any worker runs: A is claimable, the others are gated.
	before, err := f.states(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("wired:    %s\n", before)
	if want := "A=waiting B1=waiting_children B2=waiting_children B3=waiting_children J=waiting_children"; before != want {
		f.problem("before any claim: %s, want %s", before, want)
	}

	wctx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range flowWorkers {
		wg.Go(func() { f.work(wctx, i) })
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		f.problem("timed out before J ended")
	}
	// B3's worker notices the cancellation on its next renew; let it.
	sleep(ctx, 150*time.Millisecond)
	stopWorkers()
	wg.Wait()

	return f.report(context.WithoutCancel(ctx), start)
}

// build creates the members, the flow, J's group policy and the edges.
func (f *flowRun) build(ctx context.Context) error {
	b := f.b
	// Members are created on a lane nobody serves yet, so none can be
	// claimed before its inbound edges are applied.
	for _, m := range flowMembers {
		id := backend.NewExecutionID()
		in, _ := json.Marshal(map[string]string{"member": m})
		if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{
			ExecutionID: id, Namespace: "demo", LaneID: laneFlow, ExecutionKind: "flow_step_" + m,
			InputPayload: in, PayloadEncoding: "json", CreatorIdentity: "demo-flow",
			Tags: map[string]string{tagFlowMember: m},
		}); err != nil {
			return fmt.Errorf("create %s: %w", m, err)
		}
		f.ids[m] = id
	}
	if _, err := b.CreateFlow(ctx, backend.CreateFlowArgs{FlowID: f.flowID, FlowKind: "demo_fanout", Namespace: "demo"}); err != nil {
		return fmt.Errorf("create flow: %w", err)
	}
	for _, m := range flowMembers {
		if _, err := b.AddExecutionToFlow(ctx, backend.AddExecutionToFlowArgs{ExecutionID: f.ids[m], FlowID: f.flowID}); err != nil {
			return fmt.Errorf("add %s: %w", m, err)
		}
	}
	// J's policy must be fixed before its first inbound edge is staged.
	if r, err := b.SetEdgeGroupPolicy(ctx, f.flowID, f.ids["J"], backend.QuorumPolicy(2, backend.OnSatisfiedCancelRemaining)); err != nil || r != backend.EdgeGroupPolicySet {
		return fmt.Errorf("set J's group policy: %v (result %q)", err, r)
	}
	snap, err := b.DescribeFlow(ctx, f.flowID)
	if err != nil || snap == nil {
		return fmt.Errorf("describe flow: %v (nil=%v)", err, snap == nil)
	}
	rev := snap.GraphRevision

	type edge struct {
		from, to, ref string
		id            backend.EdgeID
	}
	var edges []edge
	for _, bi := range []string{"B1", "B2", "B3"} {
		edges = append(edges, edge{from: "A", to: bi, ref: "a.result"})
	}
	for _, bi := range []string{"B1", "B2", "B3"} {
		edges = append(edges, edge{from: bi, to: "J"})
	}
	for i := range edges {
		e := &edges[i]
		e.id = backend.NewEdgeID()
		res, err := b.StageDependencyEdge(ctx, backend.StageDependencyEdgeArgs{
			FlowID: f.flowID, EdgeID: e.id, ExpectedGraphRevision: rev, DataPassingRef: e.ref,
			UpstreamExecutionID: f.ids[e.from], DownstreamExecutionID: f.ids[e.to],
		})
		if err != nil {
			return fmt.Errorf("stage %s→%s: %w", e.from, e.to, err)
		}
		rev = res.NewGraphRevision
	}
	for _, e := range edges {
		res, err := b.ApplyDependencyToChild(ctx, backend.ApplyDependencyToChildArgs{
			FlowID: f.flowID, EdgeID: e.id, DownstreamExecutionID: f.ids[e.to],
		})
		if err != nil {
			return fmt.Errorf("apply %s→%s: %w", e.from, e.to, err)
		}
		if res.Kind != backend.ApplyDependencyApplied {
			return fmt.Errorf("apply %s→%s: %q, want applied", e.from, e.to, res.Kind)
		}
	}
	fmt.Printf("built:    flow %s, %d members, %d edges staged+applied, graph revision %d\n", f.flowID, len(flowMembers), len(edges), rev)
	return nil
}

// work claims from the flow lane and runs each member per its role.
func (f *flowRun) work(ctx context.Context, id int) {
	policy := backend.ClaimPolicy{
		WorkerID: "demo-flow-worker", WorkerInstanceID: backend.WorkerInstanceID(fmt.Sprintf("f%d", id)),
		LeaseTTL: leaseTTL, MaxWait: 200 * time.Millisecond,
	}
	for ctx.Err() == nil {
		h, err := f.b.Claim(ctx, laneFlow, backend.CapabilitySet{}, policy)
		if err != nil {
			if ctx.Err() == nil {
				f.problem("claim: %v", err)
				sleep(ctx, 50*time.Millisecond)
			}
			continue
		}
		if h != nil {
			f.runMember(ctx, *h)
		}
	}
}

func (f *flowRun) runMember(ctx context.Context, h backend.Handle) {
	ec, err := f.b.ReadExecutionContext(ctx, h.ExecutionID())
	if err != nil {
		f.problem("read context of %s: %v", h.ExecutionID(), err)
		return
	}
	m := ec.Tags[tagFlowMember]
	var work time.Duration
	switch m {
	case "A", "J":
		work = 10 * time.Millisecond
	case "B1":
		work = 20 * time.Millisecond
	case "B2":
		work = 40 * time.Millisecond
	case "B3":
		work = b3Work
	default:
		f.problem("%s: unknown flow member %q", h.ExecutionID(), m)
		return
	}
	if strings.HasPrefix(m, "B") && !bytes.Equal(ec.InputPayload, f.aResult) {
		f.problem("%s: input %s, want A's result %s (data passing)", m, ec.InputPayload, f.aResult)
	}
	// Work in slices, renewing the lease between them: a revoked lease
	// (the engine cancelled this member) shows up as ErrStaleLease.
	for left := work; left > 0; left -= 50 * time.Millisecond {
		if !sleep(ctx, min(left, 50*time.Millisecond)) {
			return
		}
		if _, err := f.b.Renew(ctx, h); err != nil {
			f.lost(ctx, m, h, "renew", err)
			return
		}
	}
	if m == "B3" {
		out, err := f.b.Fail(ctx, h, backend.FailureReason{Message: "shard 3 is corrupt"}, backend.FailurePermanent)
		if err != nil {
			f.lost(ctx, m, h, "fail", err)
			return
		}
		f.ended(m, "failed ("+string(out.Kind)+")")
		return
	}
	result, _ := json.Marshal(map[string]string{"from": m})
	if m == "A" {
		result = f.aResult // passed on to B1..B3 by the data-passing edges
	}
	if err := f.b.Complete(ctx, h, result); err != nil {
		f.lost(ctx, m, h, "complete", err)
		return
	}
	f.ended(m, "completed")
}

// lost books a worker's lease being taken away; only a cancellation by
// the engine (stale lease on a cancelled execution) is expected.
func (f *flowRun) lost(ctx context.Context, m string, h backend.Handle, op string, err error) {
	if ctx.Err() != nil {
		return
	}
	st, rerr := f.b.ReadExecutionState(ctx, h.ExecutionID())
	if errors.Is(err, backend.ErrStaleLease) && rerr == nil && st != nil && *st == backend.PublicStateCancelled {
		f.ended(m, "cancelled while running ("+op+": stale lease)")
		return
	}
	f.problem("%s: %s: %v (state %v, read err %v)", m, op, err, st, rerr)
}

// states renders every member's public state.
func (f *flowRun) states(ctx context.Context) (string, error) {
	var parts []string
	for _, m := range flowMembers {
		st, err := f.b.ReadExecutionState(ctx, f.ids[m])
		if err != nil || st == nil {
			return "", fmt.Errorf("flow: state of %s: %v (nil=%v)", m, err, st == nil)
		}
		parts = append(parts, m+"="+string(*st))
	}
	return strings.Join(parts, " "), nil
}

// report prints states, J's group and the finish order, and verifies them.
func (f *flowRun) report(ctx context.Context, start time.Time) error {
	b := f.b
	infos := map[string]*backend.ExecutionInfo{}
	for _, m := range flowMembers {
		info, err := b.ReadExecutionInfo(ctx, f.ids[m])
		if err != nil || info == nil {
			return fmt.Errorf("flow: info of %s: %v (nil=%v)", m, err, info == nil)
		}
		infos[m] = info
	}
	var parts []string
	for _, m := range flowMembers {
		parts = append(parts, m+"="+string(infos[m].PublicState))
	}
	fmt.Printf("states:   %s\n", strings.Join(parts, " "))

	snap, err := b.DescribeFlow(ctx, f.flowID)
	if err != nil || snap == nil {
		return fmt.Errorf("flow: describe: %v (nil=%v)", err, snap == nil)
	}
	var jg *backend.EdgeGroupSnapshot
	for i := range snap.EdgeGroups {
		if snap.EdgeGroups[i].DownstreamExecutionID == f.ids["J"] {
			jg = &snap.EdgeGroups[i]
		}
	}
	if jg == nil {
		return errors.New("flow: DescribeFlow has no edge group for J")
	}
	fmt.Printf("J group:  policy %s(k=%d, %s)  state %s  satisfied %d failed %d skipped %d running %d of %d\n",
		jg.Policy.Kind, jg.Policy.K, jg.Policy.OnSatisfied, jg.GroupState,
		jg.SatisfiedCount, jg.FailedCount, jg.SkippedCount, jg.RunningCount, jg.TotalDeps)
	fmt.Printf("flow:     %s, %d nodes, %d edges, graph revision %d\n", snap.PublicFlowState, snap.NodeCount, snap.EdgeCount, snap.GraphRevision)

	// Finish order by the engine's terminal time (ties: the order the
	// workers saw), with what each worker saw.
	f.mu.Lock()
	ends := slices.Clone(f.ends)
	problems := slices.Clone(f.problems)
	f.mu.Unlock()
	seen := map[string]flowEnd{}
	for _, e := range ends {
		seen[e.member] = e
	}
	order := slices.Clone(flowMembers)
	slices.SortStableFunc(order, func(x, y string) int {
		cx, cy := infos[x].CompletedAt, infos[y].CompletedAt
		if c := cx.Compare(cy); c != 0 && !cx.IsZero() && !cy.IsZero() {
			return c
		}
		return seenSeq(seen, x) - seenSeq(seen, y)
	})
	fmt.Println("finished (engine terminal time, from flow start; worker's view):")
	for _, m := range order {
		at := "-"
		if t := infos[m].CompletedAt; !t.IsZero() {
			at = "+" + t.Sub(start).Round(time.Millisecond).String()
		}
		what := "(no worker saw it end)"
		if e, ok := seen[m]; ok {
			what = e.what
		}
		fmt.Printf("  %-3s %-10s %-8s %s\n", m, infos[m].PublicState, at, what)
	}

	// Verification.
	want := map[string]backend.PublicState{
		"A": backend.PublicStateCompleted, "B1": backend.PublicStateCompleted, "B2": backend.PublicStateCompleted,
		"B3": backend.PublicStateCancelled, "J": backend.PublicStateCompleted,
	}
	for _, m := range flowMembers {
		if infos[m].PublicState != want[m] {
			problems = append(problems, fmt.Sprintf("%s is %s, want %s", m, infos[m].PublicState, want[m]))
		}
	}
	if jg.Policy.Kind != backend.EdgePolicyQuorum || jg.Policy.K != 2 || jg.Policy.OnSatisfied != backend.OnSatisfiedCancelRemaining {
		problems = append(problems, fmt.Sprintf("J's policy is %+v, want quorum k=2 cancel_remaining", jg.Policy))
	}
	if jg.GroupState != backend.EdgeGroupSatisfied || jg.SatisfiedCount != 2 || jg.TotalDeps != 3 || jg.RunningCount != 0 {
		problems = append(problems, fmt.Sprintf("J's group is %s satisfied=%d running=%d total=%d, want satisfied 2, running 0 of 3",
			jg.GroupState, jg.SatisfiedCount, jg.RunningCount, jg.TotalDeps))
	}
	// J may only end after B1 and B2, and they after A.
	for _, pair := range [][2]string{{"A", "B1"}, {"A", "B2"}, {"A", "B3"}, {"B1", "J"}, {"B2", "J"}} {
		x, y := infos[pair[0]].CompletedAt, infos[pair[1]].CompletedAt
		if !x.IsZero() && !y.IsZero() && y.Before(x) {
			problems = append(problems, fmt.Sprintf("%s ended before %s", pair[1], pair[0]))
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Printf("  problem: %s\n", p)
		}
		return fmt.Errorf("flow: %d problem(s), see above", len(problems))
	}
	fmt.Println("flow verify: OK: A→B data passed, J satisfied by B1+B2, B3 cancelled by the engine, J ran last")
	return nil
}

func seenSeq(seen map[string]flowEnd, m string) int {
	if e, ok := seen[m]; ok {
		return e.seq
	}
	return len(seen) + 1
}
