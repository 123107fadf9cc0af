package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/worker"
)

// The DAG section: root A fans out to B1..B3, which join into J under a
// quorum(2, cancel_remaining) policy. A passes its result to every B
// through a data-passing edge. B3 is slow and would fail permanently, so
// J is satisfied by B1+B2 and the engine cancels B3 while it still runs.
// One worker.Runner runs every member; its lease renewal is what notices
// B3's cancellation (the renewal reports the lease gone and the runner
// cancels B3's handler context).
const (
	laneFlow      backend.LaneID = "flow"
	flowWorkers                  = 4
	flowRenew                    = 50 * time.Millisecond  // how soon a runner notices a cancelled member
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
	done     chan struct{} // closed when every member has ended
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
	all := len(f.ends) == len(flowMembers)
	f.mu.Unlock()
	if all {
		f.once.Do(func() { close(f.done) })
	}
}

// runFlowSection builds the DAG, runs it with a runner on the "flow"
// lane, prints the outcome and verifies it.
func runFlowSection(ctx context.Context, b *backend.SQLiteBackend, sum *summary) (*sectionStats, error) {
	fmt.Println("\n== flow: A → {B1,B2,B3} → J, J = quorum(2, cancel_remaining), B3 slow and failing ==")
	ctx, cancel := context.WithTimeout(ctx, flowTimeout)
	defer cancel()
	start := time.Now()
	f := &flowRun{b: b, flowID: backend.NewFlowID(), ids: map[string]backend.ExecutionID{}, done: make(chan struct{})}
	f.aResult, _ = json.Marshal(map[string]any{"from": "A", "dataset": "ds-42", "shards": 3})

	if err := f.build(ctx); err != nil {
		return nil, fmt.Errorf("flow: build: %w", err)
	}
	// Before any worker runs: A is claimable, the others are gated.
	before, err := f.states(ctx)
	if err != nil {
		return nil, err
	}
	fmt.Printf("wired:    %s\n", before)
	if want := "A=waiting B1=waiting_children B2=waiting_children B3=waiting_children J=waiting_children"; before != want {
		f.problem("before any claim: %s, want %s", before, want)
	}

	r, err := worker.New(b, worker.Config{
		ClaimMaxWait:     200 * time.Millisecond,
		Concurrency:      flowWorkers,
		Lane:             laneFlow,
		LeaseTTL:         leaseTTL,
		Logger:           slog.New(slog.DiscardHandler), // B3's lost lease is expected; onOutcome checks it
		OutcomeFunc:      f.onOutcome,
		RenewInterval:    flowRenew,
		ShutdownGrace:    shutdownGrace,
		WorkerID:         "demo-flow-worker",
		WorkerInstanceID: "demo-flow",
	}, f.handle)
	if err != nil {
		return nil, fmt.Errorf("flow: runner: %w", err)
	}
	wctx, stopRunner := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- r.Run(wctx) }()
	// Every member ends, B3 included: its runner notices the cancellation
	// at its next renewal.
	select {
	case <-f.done:
	case <-ctx.Done():
		f.problem("timed out before every member ended")
	}
	stopRunner()
	if err := <-runErr; err != nil {
		f.problem("runner: %v", err)
	}

	return f.report(context.WithoutCancel(ctx), start, sum)
}

// build creates the flow, its members, J's group policy and the edges in
// one BuildFlow call (one transaction).
func (f *flowRun) build(ctx context.Context) error {
	// Members are created on a lane nobody serves yet, so none can be
	// claimed before its inbound edges are applied.
	args := backend.BuildFlowArgs{FlowID: f.flowID, FlowKind: "demo_fanout", Namespace: "demo"}
	for _, m := range flowMembers {
		f.ids[m] = backend.NewExecutionID()
		in, _ := json.Marshal(map[string]string{"member": m})
		args.Members = append(args.Members, backend.CreateExecutionArgs{
			ExecutionID: f.ids[m], Namespace: "demo", LaneID: laneFlow, ExecutionKind: "flow_step_" + m,
			InputPayload: in, PayloadEncoding: "json", CreatorIdentity: "demo-flow",
			Tags: map[string]string{tagFlowMember: m},
		})
	}
	args.Policies = []backend.BuildFlowPolicy{{Downstream: f.ids["J"], Policy: backend.QuorumPolicy(2, backend.OnSatisfiedCancelRemaining)}}
	for _, bi := range []string{"B1", "B2", "B3"} {
		args.Edges = append(args.Edges, backend.BuildFlowEdge{Upstream: f.ids["A"], Downstream: f.ids[bi], DataPassingRef: "a.result"})
	}
	for _, bi := range []string{"B1", "B2", "B3"} {
		args.Edges = append(args.Edges, backend.BuildFlowEdge{Upstream: f.ids[bi], Downstream: f.ids["J"]})
	}
	res, err := f.b.BuildFlow(ctx, args)
	if err != nil {
		return fmt.Errorf("build flow: %w", err)
	}
	if res.Kind != backend.CreateFlowCreated {
		return fmt.Errorf("build flow: %q, want created", res.Kind)
	}
	fmt.Printf("built:    flow %s, %d members, %d edges staged+applied in one BuildFlow call, graph revision %d\n",
		f.flowID, len(res.Members), len(res.EdgeIDs), res.GraphRevision)
	return nil
}

// handle runs one member per its role: wait (the simulated work), then
// succeed with a result, except B3, which fails permanently unless the
// engine cancels it first (the runner then cancels ctx).
func (f *flowRun) handle(ctx context.Context, job *worker.Job) error {
	m := job.Tags[tagFlowMember]
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
		f.problem("%s: unknown flow member %q", job.ExecutionID, m)
		return worker.Permanent(fmt.Errorf("unknown flow member %q", m))
	}
	if strings.HasPrefix(m, "B") && !bytes.Equal(job.InputPayload, f.aResult) {
		f.problem("%s: input %s, want A's result %s (data passing)", m, job.InputPayload, f.aResult)
	}
	if !sleep(ctx, work) {
		return context.Cause(ctx)
	}
	if m == "B3" {
		return worker.Permanent(errors.New("shard 3 is corrupt"))
	}
	result, _ := json.Marshal(map[string]string{"from": m})
	if m == "A" {
		result = f.aResult // passed on to B1..B3 by the data-passing edges
	}
	return worker.SetResult(ctx, result)
}

// onOutcome books how the runner settled a member. A lost lease is
// expected only for a member the engine cancelled (B3).
func (f *flowRun) onOutcome(o worker.Outcome) {
	m := o.Job.Tags[tagFlowMember]
	switch o.Kind {
	case worker.OutcomeCompleted:
		f.ended(m, "completed")
	case worker.OutcomeFailed:
		f.ended(m, fmt.Sprintf("failed (%s: %v)", o.Class, o.Err))
	case worker.OutcomeLeaseLost:
		st, err := f.b.ReadExecutionState(context.Background(), o.Job.ExecutionID)
		if err == nil && st != nil && *st == backend.PublicStateCancelled && errors.Is(o.Err, backend.ErrStaleLease) {
			f.ended(m, "cancelled while running (renew: stale lease, handler ctx cancelled)")
			return
		}
		f.problem("%s: lease lost: %v (state %v, read err %v)", m, o.Err, st, err)
	default:
		f.problem("%s: %s: %v", m, o.Kind, o.Err)
	}
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
func (f *flowRun) report(ctx context.Context, start time.Time, sum *summary) (*sectionStats, error) {
	b := f.b
	stats := newSectionStats("flow")
	infos := map[string]*backend.ExecutionInfo{}
	for _, m := range flowMembers {
		info, err := b.ReadExecutionInfo(ctx, f.ids[m])
		if err != nil || info == nil {
			stats.missing += len(flowMembers) - len(infos)
			return stats, fmt.Errorf("flow: info of %s: %v (nil=%v)", m, err, info == nil)
		}
		infos[m] = info
		stats.addInfo(info)
	}
	var parts []string
	for _, m := range flowMembers {
		parts = append(parts, m+"="+string(infos[m].PublicState))
	}
	fmt.Printf("states:   %s\n", strings.Join(parts, " "))

	snap, err := b.DescribeFlow(ctx, f.flowID)
	if err != nil || snap == nil {
		return stats, fmt.Errorf("flow: describe: %v (nil=%v)", err, snap == nil)
	}
	if sum.flows == nil {
		sum.flows = map[string]int{}
	}
	sum.flows[string(snap.PublicFlowState)]++
	var jg *backend.EdgeGroupSnapshot
	for i := range snap.EdgeGroups {
		if snap.EdgeGroups[i].DownstreamExecutionID == f.ids["J"] {
			jg = &snap.EdgeGroups[i]
		}
	}
	if jg == nil {
		return stats, errors.New("flow: DescribeFlow has no edge group for J")
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
		return stats, fmt.Errorf("flow: %d problem(s), see above", len(problems))
	}
	fmt.Println("flow verify: OK: A→B data passed, J satisfied by B1+B2, B3 cancelled by the engine, J ran last")
	return stats, nil
}

func seenSeq(seen map[string]flowEnd, m string) int {
	if e, ok := seen[m]; ok {
		return e.seq
	}
	return len(seen) + 1
}
