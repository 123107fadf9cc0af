package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// This file holds the ffsqlite-only scenarios: S2 (suspend → signal →
// resume round trip), S4 (10-node linear flows) and S6 (quorum cancel
// fan-out). None of the peers has these features, so each scenario runs
// ffsqlite alone on a fresh file and prints its goal next to the result.

// Goals printed next to the ffsqlite-only results.
const (
	// S2GoalP50MS is the S2 round-trip p50 goal (issue 7).
	S2GoalP50MS = 2.0
	// S4GoalFlowsPerSec is the S4 throughput goal (issue 6).
	S4GoalFlowsPerSec = 200.0
	// S6GoalP99MS is the S6 p99 goal at S6GoalN upstreams (issue 6).
	S6GoalP99MS = 20.0
	// S6GoalN is the fan-out the S6 goal applies to.
	S6GoalN = 100
)

// benchHMAC is the waitpoint HMAC key S2 seeds (a fixed test key).
var benchHMAC = backend.SeedWaitpointHMACSecretArgs{
	Kid:       "bench",
	SecretHex: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
}

// openFF opens a fresh ffsqlite backend at path with a discarded log and,
// when withHMAC, the bench waitpoint key seeded.
func openFF(ctx context.Context, path string, withHMAC bool) (*backend.SQLiteBackend, error) {
	removeDB(path)
	opts := backend.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if withHMAC {
		secret := benchHMAC
		opts.WaitpointHMACSecret = &secret
	}
	return backend.NewWithOptions(ctx, path, opts)
}

// closeFF closes b and removes its files, keeping the first error.
func closeFF(b *backend.SQLiteBackend, path string, err *error) {
	if cerr := b.Close(); cerr != nil && *err == nil {
		*err = fmt.Errorf("ffsqlite close: %w", cerr)
	}
	removeDB(path)
}

// claimPolicy is the claim policy of bench worker i.
func claimPolicy(i int) backend.ClaimPolicy {
	return backend.ClaimPolicy{
		LeaseTTL:         30 * time.Second,
		WorkerID:         "bench",
		WorkerInstanceID: backend.WorkerInstanceID(fmt.Sprintf("bench-%d", i)),
	}
}

// createOn creates one execution on lane and returns its id.
func createOn(ctx context.Context, b *backend.SQLiteBackend, lane backend.LaneID) (backend.ExecutionID, error) {
	res, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{
		ExecutionID:   backend.NewExecutionID(),
		Namespace:     "bench",
		LaneID:        lane,
		ExecutionKind: "bench",
		InputPayload:  payload,
	})
	return res.ExecutionID, err
}

// ---- S2: suspend → signal → resume ----

// S2Row is the result of the suspend → signal → resume scenario.
type S2Row struct {
	N int `json:"n"`
	// Pipelines is the number of concurrent worker → signaller → resumer
	// pipelines.
	Pipelines int     `json:"pipelines"`
	Seconds   float64 `json:"seconds"`
	// RoundTripsPerSec is N over the whole run: claim, suspend, deliver,
	// resumed claim and complete per execution.
	RoundTripsPerSec float64 `json:"round_trips_per_sec"`
	// RoundTrip is Suspend returned → ClaimResumedExecution returned.
	RoundTrip Percentiles `json:"round_trip_ms"`
	// Suspend, Deliver and Resume are the durations of the Suspend,
	// DeliverSignal and ClaimResumedExecution calls.
	Suspend Percentiles `json:"suspend_ms"`
	Deliver Percentiles `json:"deliver_signal_ms"`
	Resume  Percentiles `json:"claim_resumed_ms"`
	GoalP50 float64     `json:"goal_round_trip_p50_ms"`
	Error   string      `json:"error,omitempty"`
}

// s2Suspended is one suspended execution handed from the worker to the
// signaller and on to the resumer.
type s2Suspended struct {
	id          backend.ExecutionID
	waitpoint   backend.WaitpointID
	token       backend.WaitpointToken
	suspendedAt time.Time
	// deliver is how long DeliverSignal took (set by the signaller).
	deliver time.Duration
}

// RunS2 creates n executions on a fresh file with the bench HMAC key
// seeded, then runs pipelines concurrent pipelines of three goroutines
// each: a worker claims and suspends on a fresh waitpoint waiting for the
// signal "go", a signaller delivers that signal with the minted token, and
// a resumer calls ClaimResumedExecution and Complete. Unbuffered channels
// between the stages keep one execution in hand per stage, so the round
// trip measures the engine rather than a queue.
func RunS2(ctx context.Context, dir string, n, pipelines int) (row S2Row, err error) {
	row = S2Row{N: n, Pipelines: pipelines, GoalP50: S2GoalP50MS}
	path := dbPath(dir, "s2-ffsqlite")
	b, err := openFF(ctx, path, true)
	if err != nil {
		return row, fmt.Errorf("ffsqlite open: %w", err)
	}
	defer closeFF(b, path, &err)
	const lane backend.LaneID = "s2"
	for i := range n {
		if _, err := createOn(ctx, b, lane); err != nil {
			return row, fmt.Errorf("create %d: %w", i, err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		// rt, sus, del and res collect the round trips and the Suspend,
		// DeliverSignal and ClaimResumedExecution call durations.
		rt, sus, del, res []time.Duration
		wg                sync.WaitGroup
	)
	fail := func(e error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = e
		}
		mu.Unlock()
		cancel()
	}
	start := time.Now()
	for p := range pipelines {
		toSignal := make(chan s2Suspended)
		toResume := make(chan s2Suspended)
		policy := claimPolicy(p)
		wg.Go(func() { // worker: claim + suspend until nothing is claimable
			defer close(toSignal)
			for ctx.Err() == nil {
				h, err := b.Claim(ctx, lane, backend.CapabilitySet{}, policy)
				if err != nil {
					fail(fmt.Errorf("claim: %w", err))
					return
				}
				if h == nil {
					return
				}
				bind := backend.FreshBinding()
				t0 := time.Now()
				out, err := b.Suspend(ctx, *h, backend.SuspendArgs{
					SuspensionID:    backend.NewSuspensionID(),
					ReasonCode:      backend.ReasonWaitingForSignal,
					ResumeCondition: backend.SingleCondition(bind.WaitpointKey, backend.ByName("go")),
					ResumePolicy:    backend.NormalResumePolicy(),
					Waitpoints:      []backend.WaitpointBinding{bind},
				})
				t1 := time.Now()
				if err != nil {
					fail(fmt.Errorf("suspend: %w", err))
					return
				}
				if out.Kind != backend.SuspendSuspended {
					fail(fmt.Errorf("suspend: outcome %q", out.Kind))
					return
				}
				s := s2Suspended{id: h.ExecutionID(), waitpoint: out.Details.WaitpointID, token: out.Details.WaitpointToken, suspendedAt: t1}
				mu.Lock()
				sus = append(sus, t1.Sub(t0))
				mu.Unlock()
				select {
				case toSignal <- s:
				case <-ctx.Done():
					return
				}
			}
		})
		wg.Go(func() { // signaller
			defer close(toResume)
			for s := range toSignal {
				t0 := time.Now()
				out, err := b.DeliverSignal(ctx, backend.DeliverSignalArgs{
					ExecutionID:    s.id,
					WaitpointID:    s.waitpoint,
					WaitpointToken: s.token,
					SignalID:       backend.NewSignalID(),
					SignalName:     "go",
					SignalCategory: "bench",
					SourceType:     "bench",
					SourceIdentity: "ffbench",
				})
				if err != nil {
					fail(fmt.Errorf("deliver signal: %w", err))
					return
				}
				if out.Effect != backend.EffectResumeConditionSatisfied {
					fail(fmt.Errorf("deliver signal: effect %q", out.Effect))
					return
				}
				s.deliver = time.Since(t0)
				select {
				case toResume <- s:
				case <-ctx.Done():
					return
				}
			}
		})
		wg.Go(func() { // resumer
			for s := range toResume {
				t0 := time.Now()
				out, err := b.ClaimResumedExecution(ctx, backend.ClaimResumedExecutionArgs{
					ExecutionID:      s.id,
					LaneID:           lane,
					LeaseTTL:         30 * time.Second,
					WorkerID:         policy.WorkerID,
					WorkerInstanceID: policy.WorkerInstanceID,
				})
				t1 := time.Now()
				if err != nil {
					fail(fmt.Errorf("claim resumed: %w", err))
					return
				}
				mu.Lock()
				rt, del, res = append(rt, t1.Sub(s.suspendedAt)), append(del, s.deliver), append(res, t1.Sub(t0))
				mu.Unlock()
				if err := b.Complete(ctx, out.Handle, nil); err != nil {
					fail(fmt.Errorf("complete: %w", err))
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return row, firstErr
	}
	if len(rt) != n {
		return row, fmt.Errorf("%d of %d executions resumed", len(rt), n)
	}
	row.Seconds = elapsed.Seconds()
	row.RoundTripsPerSec = perSec(n, elapsed)
	row.RoundTrip, row.Suspend, row.Deliver, row.Resume = percentiles(rt), percentiles(sus), percentiles(del), percentiles(res)
	return row, nil
}

// ---- S4: 10-node linear flows ----

// S4Row is the result of the linear-flow scenario.
type S4Row struct {
	// Mode is how each flow is built and worked: S4ModeCalls,
	// S4ModeBuildFlow or S4ModeChained.
	Mode  string `json:"mode"`
	Flows int    `json:"flows"`
	Nodes int    `json:"nodes_per_flow"`
	// Runners is the number of concurrent flow runners (each builds a flow
	// on its own lane, then works it to the end).
	Runners     int     `json:"runners"`
	Seconds     float64 `json:"seconds"`
	FlowsPerSec float64 `json:"flows_per_sec"`
	// CPUPerFlowMS is the process's CPU time (user + system) per flow,
	// steadier than flows/s on a shared machine.
	CPUPerFlowMS float64 `json:"cpu_ms_per_flow"`
	// Build is CreateFlow → last edge applied; Flow is first create → last
	// member completed, per flow.
	Build   Percentiles `json:"build_ms"`
	Flow    Percentiles `json:"flow_ms"`
	GoalFPS float64     `json:"goal_flows_per_sec"`
	Error   string      `json:"error,omitempty"`
}

// S4 modes.
const (
	// S4ModeCalls builds a flow with the EngineBackend methods: CreateFlow,
	// one CreateExecutions batch, AddExecutionToFlow per member, then
	// StageDependencyEdge and ApplyDependencyToChild per edge; each member
	// is claimed, then completed.
	S4ModeCalls = "calls"
	// S4ModeBuildFlow builds it with one BuildFlow call (one transaction);
	// each member is claimed, then completed.
	S4ModeBuildFlow = "buildflow"
	// S4ModeChained builds it with BuildFlow, claims the first member, and
	// completes each member with CompleteAndClaim, which claims the next
	// one in the same transaction.
	S4ModeChained = "chained"
)

// RunS4 runs flows linear flows of nodes members each on a fresh file with
// runners concurrent runners. A runner owns a lane: it builds a flow (as
// mode says) with its members on that lane and the edges i → i+1, then
// claims and completes members until the last one is done. Because nobody
// else claims from the lane, no member can be claimed before its inbound
// edge gates it, and each member's completion makes the next one claimable
// in the same transaction; the runner checks that members complete in
// chain order.
func RunS4(ctx context.Context, dir, mode string, flows, nodes, runners int) (row S4Row, err error) {
	row = S4Row{Mode: mode, Flows: flows, Nodes: nodes, Runners: runners, GoalFPS: S4GoalFlowsPerSec}
	builder, chained := buildLinearFlow, false
	switch mode {
	case S4ModeCalls:
	case S4ModeBuildFlow:
		builder = buildLinearFlowBatch
	case S4ModeChained:
		builder, chained = buildLinearFlowBatch, true
	default:
		return row, fmt.Errorf("unknown S4 mode %q", mode)
	}
	path := dbPath(dir, "s4-"+mode)
	b, err := openFF(ctx, path, false)
	if err != nil {
		return row, fmt.Errorf("ffsqlite open: %w", err)
	}
	defer closeFF(b, path, &err)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu          sync.Mutex
		build, flow []time.Duration
		firstErr    error
		next        int
		wg          sync.WaitGroup
	)
	take := func() bool {
		mu.Lock()
		defer mu.Unlock()
		next++
		return next <= flows && firstErr == nil
	}
	start, cpu0 := time.Now(), processCPU()
	for r := range runners {
		lane := backend.LaneID(fmt.Sprintf("s4-%d", r))
		policy := claimPolicy(r)
		wg.Go(func() {
			for take() {
				bd, fd, err := runLinearFlow(ctx, b, builder, chained, lane, policy, nodes)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				build, flow = append(build, bd), append(flow, fd)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	if firstErr != nil {
		return row, firstErr
	}
	row.Seconds = elapsed.Seconds()
	row.FlowsPerSec = perSec(flows, elapsed)
	row.CPUPerFlowMS = float64(cpu) / float64(time.Millisecond) / float64(flows)
	row.Build, row.Flow = percentiles(build), percentiles(flow)
	return row, nil
}

// runLinearFlow builds one linear flow on lane with build and works it to
// the end (chained: each completion claims the next member), returning
// its build time and its first create → last completed time.
func runLinearFlow(ctx context.Context, b *backend.SQLiteBackend, build linearBuilder, chained bool, lane backend.LaneID, policy backend.ClaimPolicy, nodes int) (buildDur, flowDur time.Duration, err error) {
	start := time.Now()
	ids := make([]backend.ExecutionID, nodes)
	members := make([]backend.CreateExecutionArgs, nodes)
	for i := range members {
		ids[i] = backend.NewExecutionID()
		members[i] = backend.CreateExecutionArgs{ExecutionID: ids[i], Namespace: "bench", LaneID: lane, ExecutionKind: "bench", InputPayload: payload}
	}
	if err := build(ctx, b, backend.NewFlowID(), members); err != nil {
		return 0, 0, err
	}
	buildDur = time.Since(start)
	h, err := b.Claim(ctx, lane, backend.CapabilitySet{}, policy)
	for i := range nodes {
		if err != nil {
			return 0, 0, fmt.Errorf("claim member %d: %w", i, err)
		}
		if h == nil {
			return 0, 0, fmt.Errorf("member %d not claimable after member %d completed", i, i-1)
		}
		if h.ExecutionID() != ids[i] {
			return 0, 0, fmt.Errorf("claimed %s, want member %d (%s): chain order broken", h.ExecutionID(), i, ids[i])
		}
		if chained {
			if h, err = b.CompleteAndClaim(ctx, *h, nil, lane, backend.CapabilitySet{}, policy); err != nil {
				return 0, 0, fmt.Errorf("complete member %d and claim the next: %w", i, err)
			}
			continue
		}
		if err := b.Complete(ctx, *h, nil); err != nil {
			return 0, 0, fmt.Errorf("complete member %d: %w", i, err)
		}
		if i < nodes-1 {
			h, err = b.Claim(ctx, lane, backend.CapabilitySet{}, policy)
		}
	}
	if chained && h != nil {
		return 0, 0, fmt.Errorf("claimed %s after the last member", h.ExecutionID())
	}
	return buildDur, time.Since(start), nil
}

// linearBuilder makes flow fid with members chained in order (edges
// i → i+1).
type linearBuilder func(ctx context.Context, b *backend.SQLiteBackend, fid backend.FlowID, members []backend.CreateExecutionArgs) error

// buildLinearFlow is S4ModeCalls' builder: the members are created in one batch
// (CreateExecutions), as an application building a flow would, then added
// and linked one call at a time.
func buildLinearFlow(ctx context.Context, b *backend.SQLiteBackend, fid backend.FlowID, members []backend.CreateExecutionArgs) error {
	if _, err := b.CreateFlow(ctx, backend.CreateFlowArgs{FlowID: fid, FlowKind: "bench", Namespace: "bench"}); err != nil {
		return fmt.Errorf("create flow: %w", err)
	}
	if _, err := b.CreateExecutions(ctx, members); err != nil {
		return fmt.Errorf("create members: %w", err)
	}
	ids := make([]backend.ExecutionID, len(members))
	for i := range members {
		ids[i] = members[i].ExecutionID
		if _, err := b.AddExecutionToFlow(ctx, backend.AddExecutionToFlowArgs{ExecutionID: ids[i], FlowID: fid}); err != nil {
			return fmt.Errorf("add member %d: %w", i, err)
		}
	}
	return linkEdges(ctx, b, fid, ids[:len(ids)-1], func(i int) backend.ExecutionID { return ids[i+1] })
}

// buildLinearFlowBatch is S4ModeBuildFlow's builder: one BuildFlow call.
func buildLinearFlowBatch(ctx context.Context, b *backend.SQLiteBackend, fid backend.FlowID, members []backend.CreateExecutionArgs) error {
	edges := make([]backend.BuildFlowEdge, len(members)-1)
	for i := range edges {
		edges[i] = backend.BuildFlowEdge{Upstream: members[i].ExecutionID, Downstream: members[i+1].ExecutionID}
	}
	_, err := b.BuildFlow(ctx, backend.BuildFlowArgs{FlowID: fid, FlowKind: "bench", Namespace: "bench", Members: members, Edges: edges})
	if err != nil {
		return fmt.Errorf("build flow: %w", err)
	}
	return nil
}

// linkEdges stages and applies one edge from each upstream in ups to
// down(i) in flow fid, following the flow's graph revision.
func linkEdges(ctx context.Context, b *backend.SQLiteBackend, fid backend.FlowID, ups []backend.ExecutionID, down func(i int) backend.ExecutionID) error {
	snap, err := b.DescribeFlow(ctx, fid)
	if err != nil {
		return fmt.Errorf("describe flow: %w", err)
	}
	if snap == nil {
		return errors.New("describe flow: flow not found")
	}
	rev := snap.GraphRevision
	for i, up := range ups {
		edge := backend.NewEdgeID()
		st, err := b.StageDependencyEdge(ctx, backend.StageDependencyEdgeArgs{
			FlowID: fid, EdgeID: edge, ExpectedGraphRevision: rev,
			UpstreamExecutionID: up, DownstreamExecutionID: down(i),
		})
		if err != nil {
			return fmt.Errorf("stage edge %d: %w", i, err)
		}
		rev = st.NewGraphRevision
		if _, err := b.ApplyDependencyToChild(ctx, backend.ApplyDependencyToChildArgs{
			FlowID: fid, EdgeID: edge, DownstreamExecutionID: down(i),
		}); err != nil {
			return fmt.Errorf("apply edge %d: %w", i, err)
		}
	}
	return nil
}

// ---- S6: quorum cancel fan-out ----

// S6Row is the result of the quorum cancel fan-out scenario for one n.
type S6Row struct {
	// Upstreams is n: the downstream's inbound edges under quorum(1,
	// cancel_remaining).
	Upstreams int `json:"upstreams"`
	Reps      int `json:"reps"`
	// Complete is the latency of the one Complete call that satisfies the
	// quorum and cancels the other n-1 upstreams in its transaction.
	Complete Percentiles `json:"complete_ms"`
	// BuildSeconds is the mean fixture build time per repetition.
	BuildSeconds float64 `json:"build_seconds_per_rep"`
	// GoalP99 is the p99 goal in ms; it applies at S6GoalN upstreams only.
	GoalP99 float64 `json:"goal_p99_ms,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// RunS6 measures, for n upstreams on a fresh file, reps repetitions of:
// build a flow with n upstreams and one downstream D under quorum(1,
// cancel_remaining), claim one upstream and time its Complete. After each
// repetition it checks that another upstream was cancelled and that D is
// no longer blocked.
func RunS6(ctx context.Context, dir string, n, reps int) (row S6Row, err error) {
	row = S6Row{Upstreams: n, Reps: reps}
	if n == S6GoalN {
		row.GoalP99 = S6GoalP99MS
	}
	path := dbPath(dir, fmt.Sprintf("s6-ffsqlite-%d", n))
	b, err := openFF(ctx, path, false)
	if err != nil {
		return row, fmt.Errorf("ffsqlite open: %w", err)
	}
	defer closeFF(b, path, &err)

	lat := make([]time.Duration, 0, reps)
	var building time.Duration
	for rep := range reps {
		// Each repetition has its own lanes so that earlier downstreams
		// (now claimable) and leftovers never meet this one's claim.
		upLane := backend.LaneID(fmt.Sprintf("s6-up-%d", rep))
		downLane := backend.LaneID(fmt.Sprintf("s6-down-%d", rep))
		t0 := time.Now()
		fid := backend.NewFlowID()
		if _, err := b.CreateFlow(ctx, backend.CreateFlowArgs{FlowID: fid, FlowKind: "bench", Namespace: "bench"}); err != nil {
			return row, fmt.Errorf("create flow: %w", err)
		}
		members := make([]backend.ExecutionID, n+1) // upstreams, then D
		for i := range members {
			lane := upLane
			if i == n {
				lane = downLane
			}
			if members[i], err = createOn(ctx, b, lane); err != nil {
				return row, fmt.Errorf("create member %d: %w", i, err)
			}
			if _, err := b.AddExecutionToFlow(ctx, backend.AddExecutionToFlowArgs{ExecutionID: members[i], FlowID: fid}); err != nil {
				return row, fmt.Errorf("add member %d: %w", i, err)
			}
		}
		d := members[n]
		if _, err := b.SetEdgeGroupPolicy(ctx, fid, d, backend.QuorumPolicy(1, backend.OnSatisfiedCancelRemaining)); err != nil {
			return row, fmt.Errorf("set quorum policy: %w", err)
		}
		if err := linkEdges(ctx, b, fid, members[:n], func(int) backend.ExecutionID { return d }); err != nil {
			return row, err
		}
		building += time.Since(t0)

		h, err := b.Claim(ctx, upLane, backend.CapabilitySet{}, claimPolicy(0))
		if err != nil || h == nil {
			return row, fmt.Errorf("claim upstream: %v (handle %v)", err, h)
		}
		t1 := time.Now()
		if err := b.Complete(ctx, *h, nil); err != nil {
			return row, fmt.Errorf("complete upstream: %w", err)
		}
		lat = append(lat, time.Since(t1))

		if err := checkS6(ctx, b, members, h.ExecutionID(), upLane); err != nil {
			return row, fmt.Errorf("rep %d: %w", rep, err)
		}
	}
	row.Complete = percentiles(lat)
	row.BuildSeconds = building.Seconds() / float64(reps)
	return row, nil
}

// checkS6 verifies one S6 repetition outside the measurement: an upstream
// other than done is cancelled, no upstream is left claimable, and the
// downstream (last of members) is not cancelled.
func checkS6(ctx context.Context, b *backend.SQLiteBackend, members []backend.ExecutionID, done backend.ExecutionID, upLane backend.LaneID) error {
	n := len(members) - 1
	other := members[0]
	if other == done {
		other = members[n-1]
	}
	if n > 1 {
		st, err := b.ReadExecutionState(ctx, other)
		if err != nil {
			return fmt.Errorf("read sibling state: %w", err)
		}
		if st == nil || *st != backend.PublicStateCancelled {
			return fmt.Errorf("sibling %s is %v, want cancelled", other, st)
		}
	}
	if h, err := b.Claim(ctx, upLane, backend.CapabilitySet{}, claimPolicy(0)); err != nil || h != nil {
		return fmt.Errorf("an upstream is still claimable (handle %v, err %v)", h, err)
	}
	st, err := b.ReadExecutionState(ctx, members[n])
	if err != nil {
		return fmt.Errorf("read downstream state: %w", err)
	}
	if st == nil || *st == backend.PublicStateCancelled {
		return fmt.Errorf("downstream is %v after the quorum was met", st)
	}
	return nil
}

// ---- SB: batch create ----

// SBGoalPerSec is the CreateExecutions throughput goal (issue 11).
const SBGoalPerSec = 20_000.0

// SBRow is the result of the batch-create scenario.
type SBRow struct {
	N         int     `json:"n"`
	BatchSize int     `json:"batch_size"`
	Seconds   float64 `json:"seconds"`
	// PerSec is executions created per second over the whole run.
	PerSec float64 `json:"executions_per_sec"`
	// Batch is the duration of one CreateExecutions call.
	Batch   Percentiles `json:"batch_ms"`
	GoalPS  float64     `json:"goal_per_sec"`
	Error   string      `json:"error,omitempty"`
	Claimed int         `json:"claimed_check"`
}

// RunSB creates n executions through CreateExecutions in batches of
// batchSize on a fresh file, one caller, then checks that one is
// claimable.
func RunSB(ctx context.Context, dir string, n, batchSize int) (row SBRow, err error) {
	row = SBRow{N: n, BatchSize: batchSize, GoalPS: SBGoalPerSec}
	if batchSize <= 0 {
		return row, fmt.Errorf("batch size %d", batchSize)
	}
	path := dbPath(dir, "sb-ffsqlite")
	b, err := openFF(ctx, path, false)
	if err != nil {
		return row, fmt.Errorf("ffsqlite open: %w", err)
	}
	defer closeFF(b, path, &err)
	const lane backend.LaneID = "sb"
	var batches []time.Duration
	args := make([]backend.CreateExecutionArgs, 0, batchSize)
	start := time.Now()
	for done := 0; done < n; {
		args = args[:0]
		for range min(batchSize, n-done) {
			args = append(args, backend.CreateExecutionArgs{
				ExecutionID: backend.NewExecutionID(), Namespace: "bench", LaneID: lane,
				ExecutionKind: "bench", InputPayload: payload,
			})
		}
		t0 := time.Now()
		res, err := b.CreateExecutions(ctx, args)
		if err != nil {
			return row, fmt.Errorf("create batch at %d: %w", done, err)
		}
		batches = append(batches, time.Since(t0))
		for i, r := range res {
			if r.Kind != backend.CreateExecutionCreated {
				return row, fmt.Errorf("element %d of batch at %d: %s", i, done, r.Kind)
			}
		}
		done += len(args)
	}
	elapsed := time.Since(start)
	row.Seconds = elapsed.Seconds()
	row.PerSec = float64(n) / elapsed.Seconds()
	row.Batch = percentiles(batches)
	h, err := b.Claim(ctx, lane, backend.CapabilitySet{}, claimPolicy(0))
	if err != nil {
		return row, fmt.Errorf("claim after batches: %w", err)
	}
	if h != nil {
		row.Claimed = 1
	}
	return row, nil
}
