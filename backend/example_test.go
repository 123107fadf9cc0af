package backend_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// The examples open in-memory databases, which the dev-mode guard covers
// like files: the test binary sets FF_DEV_MODE=1 as a user's environment
// would.
func TestMain(m *testing.M) {
	if os.Getenv(backend.DevModeEnv) == "" {
		os.Setenv(backend.DevModeEnv, "1")
	}
	os.Exit(m.Run())
}

// Open a backend and submit work. A real application passes a file path
// ("ff.db"); FF_DEV_MODE=1 must be set in the environment.
func Example_producer() {
	ctx := context.Background()
	b, err := backend.New(ctx, "file:example-producer?mode=memory&cache=shared")
	if err != nil {
		log.Fatal(err) // errors.Is(err, backend.ErrRequiresDevMode) without FF_DEV_MODE=1
	}
	defer b.Close()

	args := backend.CreateExecutionArgs{
		ExecutionID:     backend.NewExecutionID(),
		Namespace:       "tenant-a",
		LaneID:          "emails",
		ExecutionKind:   "send_welcome_email",
		InputPayload:    []byte(`{"user_id":42}`),
		PayloadEncoding: "json",
		Priority:        100,
		CreatorIdentity: "signup-service",
		IdempotencyKey:  "welcome:42", // a resubmission within 24 h returns the first execution
		Tags:            map[string]string{"app.user_id": "42"},
		Policy: &backend.ExecutionPolicy{
			RetryPolicy: &backend.RetryPolicy{
				MaxRetries: backend.Ptr[uint32](5),
				Backoff:    backend.ExponentialBackoff(time.Second, 30*time.Second, 2),
			},
			RoutingRequirements: &backend.RoutingRequirements{RequiredCapabilities: []string{"smtp"}},
		},
	}
	res, err := b.CreateExecution(ctx, args)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Kind, res.PublicState)

	// The same idempotency key under a new execution id is a duplicate.
	args.ExecutionID = backend.NewExecutionID()
	again, err := b.CreateExecution(ctx, args)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.Kind, again.ExecutionID == res.ExecutionID)
	// Output:
	// created waiting
	// duplicate true
}

// A worker loop: claim, then renew, report progress, append a frame and
// complete (or fail). The worker package runs this loop for you, with a
// concurrency limit and background lease renewal.
func Example_workerLoop() {
	ctx := context.Background()
	b, err := backend.New(ctx, "file:example-worker?mode=memory&cache=shared")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{
		ExecutionID: backend.NewExecutionID(), LaneID: "emails", InputPayload: []byte(`{"to":"a@example.com"}`),
		Policy: &backend.ExecutionPolicy{RoutingRequirements: &backend.RoutingRequirements{RequiredCapabilities: []string{"smtp"}}},
	}); err != nil {
		log.Fatal(err)
	}

	policy := backend.ClaimPolicy{
		WorkerID:         "mailer",
		WorkerInstanceID: "mailer-7f3a",
		LeaseTTL:         30 * time.Second,
		MaxWait:          time.Second, // park up to 1 s when the lane is empty
	}
	caps := backend.CapabilitySet{Tokens: []string{"smtp"}}
	for handled := 0; handled < 1; {
		h, err := b.Claim(ctx, "emails", caps, policy)
		if err != nil {
			if backend.Retryable(err) {
				continue
			}
			log.Fatal(err)
		}
		if h == nil {
			continue // no work yet
		}
		if err := runOne(ctx, b, *h); err != nil {
			log.Fatal(err)
		}
		handled++
		st, err := b.ReadExecutionState(ctx, h.ExecutionID())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(*st)
	}
	// Output: completed
}

func runOne(ctx context.Context, b backend.EngineBackend, h backend.Handle) error {
	in, err := b.ReadExecutionContext(ctx, h.ExecutionID())
	if err != nil {
		return err
	}
	if _, err := b.Renew(ctx, h); err != nil {
		if errors.Is(err, backend.ErrStaleLease) || errors.Is(err, backend.ErrLeaseExpired) {
			return nil // the lease moved on: another worker owns this execution now
		}
		return err
	}
	if err := b.Progress(ctx, h, backend.Ptr[uint8](50), backend.Ptr("rendered template")); err != nil {
		return err
	}
	if _, err := b.AppendFrame(ctx, h, backend.Frame{Kind: backend.FrameStdout, Bytes: []byte("sending")}); err != nil {
		return err
	}
	if sendErr := send(in.InputPayload); sendErr != nil {
		out, err := b.Fail(ctx, h, backend.FailureReason{Message: sendErr.Error()}, backend.FailureTransient)
		if err != nil {
			return err
		}
		if out.Kind == backend.FailRetryScheduled {
			log.Printf("retry at %s", out.DelayUntil)
		}
		return nil
	}
	return b.Complete(ctx, h, []byte(`{"sent":true}`)) // safe to repeat after a transport error
}

func send([]byte) error { return nil }

// A two-step flow: "render" feeds its result to "publish", which becomes
// claimable only once render completed.
func Example_flow() {
	ctx := context.Background()
	b, err := backend.New(ctx, "file:example-flow?mode=memory&cache=shared")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	render, publish := backend.NewExecutionID(), backend.NewExecutionID()
	for _, id := range []backend.ExecutionID{render, publish} {
		if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: id, LaneID: "site"}); err != nil {
			log.Fatal(err)
		}
	}
	flow := backend.NewFlowID()
	if _, err := b.CreateFlow(ctx, backend.CreateFlowArgs{FlowID: flow, FlowKind: "build_site"}); err != nil {
		log.Fatal(err)
	}
	for _, id := range []backend.ExecutionID{render, publish} {
		if _, err := b.AddExecutionToFlow(ctx, backend.AddExecutionToFlowArgs{ExecutionID: id, FlowID: flow}); err != nil {
			log.Fatal(err)
		}
	}
	// Edges are staged against the graph revision, then applied to the
	// downstream, which from then on waits for its upstream.
	snap, err := b.DescribeFlow(ctx, flow)
	if err != nil {
		log.Fatal(err)
	}
	edge := backend.NewEdgeID()
	if _, err := b.StageDependencyEdge(ctx, backend.StageDependencyEdgeArgs{
		FlowID: flow, EdgeID: edge, ExpectedGraphRevision: snap.GraphRevision,
		UpstreamExecutionID: render, DownstreamExecutionID: publish, DataPassingRef: "render.result",
	}); err != nil {
		log.Fatal(err)
	}
	if _, err := b.ApplyDependencyToChild(ctx, backend.ApplyDependencyToChildArgs{
		FlowID: flow, EdgeID: edge, DownstreamExecutionID: publish,
	}); err != nil {
		log.Fatal(err)
	}

	policy := backend.ClaimPolicy{WorkerID: "w", WorkerInstanceID: "w-1", LeaseTTL: 30 * time.Second}
	for step := 0; step < 2; step++ {
		h, err := b.Claim(ctx, "site", backend.CapabilitySet{}, policy)
		if err != nil || h == nil {
			log.Fatal("nothing to claim: ", err)
		}
		in, err := b.ReadExecutionContext(ctx, h.ExecutionID())
		if err != nil {
			log.Fatal(err)
		}
		name := map[backend.ExecutionID]string{render: "render", publish: "publish"}[h.ExecutionID()]
		fmt.Printf("%s got %q\n", name, in.InputPayload)
		if err := b.Complete(ctx, *h, []byte(`"<html>"`)); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// render got ""
	// publish got "\"<html>\""
}

// Build a fan-out/fan-in flow in one call: fetch feeds two parsers, and
// merge runs once both have succeeded.
func ExampleSQLiteBackend_BuildFlow() {
	ctx := context.Background()
	b, err := backend.New(ctx, "file:example-build-flow?mode=memory&cache=shared")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	names := []string{"fetch", "parse-a", "parse-b", "merge"}
	ids := map[string]backend.ExecutionID{}
	args := backend.BuildFlowArgs{FlowID: backend.NewFlowID(), FlowKind: "ingest"}
	for i, n := range names {
		ids[n] = backend.NewExecutionID()
		// Priority decides between members that are claimable together
		// (parse-a before parse-b); the edges decide the rest.
		args.Members = append(args.Members, backend.CreateExecutionArgs{
			ExecutionID: ids[n], LaneID: "ingest", ExecutionKind: n, Priority: int32(len(names) - i),
		})
	}
	for _, e := range [][2]string{{"fetch", "parse-a"}, {"fetch", "parse-b"}, {"parse-a", "merge"}, {"parse-b", "merge"}} {
		args.Edges = append(args.Edges, backend.BuildFlowEdge{Upstream: ids[e[0]], Downstream: ids[e[1]]})
	}
	res, err := b.BuildFlow(ctx, args)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d members, %d edges\n", res.Kind, len(res.Members), len(res.EdgeIDs))

	policy := backend.ClaimPolicy{WorkerID: "w", WorkerInstanceID: "w-1", LeaseTTL: 30 * time.Second}
	for {
		h, err := b.Claim(ctx, "ingest", backend.CapabilitySet{}, policy)
		if err != nil {
			log.Fatal(err)
		}
		if h == nil {
			break
		}
		info, err := b.ReadExecutionInfo(ctx, h.ExecutionID())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("ran", info.ExecutionKind)
		if err := b.Complete(ctx, *h, nil); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// created: 4 members, 4 edges
	// ran fetch
	// ran parse-a
	// ran parse-b
	// ran merge
}

// Work a chain with one Claim and then CompleteAndClaim per step: each
// completion makes the next member claimable and claims it in the same
// transaction.
func ExampleSQLiteBackend_CompleteAndClaim() {
	ctx := context.Background()
	b, err := backend.New(ctx, "file:example-complete-and-claim?mode=memory&cache=shared")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	args := backend.BuildFlowArgs{FlowID: backend.NewFlowID(), FlowKind: "pipeline"}
	var prev backend.ExecutionID
	for _, step := range []string{"extract", "transform", "load"} {
		id := backend.NewExecutionID()
		args.Members = append(args.Members, backend.CreateExecutionArgs{ExecutionID: id, LaneID: "etl", ExecutionKind: step})
		if prev != "" {
			args.Edges = append(args.Edges, backend.BuildFlowEdge{Upstream: prev, Downstream: id})
		}
		prev = id
	}
	if _, err := b.BuildFlow(ctx, args); err != nil {
		log.Fatal(err)
	}

	policy := backend.ClaimPolicy{WorkerID: "w", WorkerInstanceID: "w-1", LeaseTTL: 30 * time.Second}
	h, err := b.Claim(ctx, "etl", backend.CapabilitySet{}, policy)
	for h != nil && err == nil {
		info, rerr := b.ReadExecutionInfo(ctx, h.ExecutionID())
		if rerr != nil {
			log.Fatal(rerr)
		}
		fmt.Println("ran", info.ExecutionKind)
		h, err = b.CompleteAndClaim(ctx, *h, nil, "etl", backend.CapabilitySet{}, policy)
	}
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// ran extract
	// ran transform
	// ran load
}

// Suspend on a waitpoint, deliver the signal that satisfies it, and claim
// the resumed execution.
func Example_suspendAndResume() {
	ctx := context.Background()
	b, err := backend.NewWithOptions(ctx, "file:example-approvals?mode=memory&cache=shared", backend.Options{
		// Tokens are minted under the active kid, so seed one first.
		WaitpointHMACSecret: &backend.SeedWaitpointHMACSecretArgs{Kid: "k1", SecretHex: strings.Repeat("ab", 32)},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: backend.NewExecutionID(), LaneID: "approvals"}); err != nil {
		log.Fatal(err)
	}

	policy := backend.ClaimPolicy{WorkerID: "w", WorkerInstanceID: "w-1", LeaseTTL: 30 * time.Second}
	h, err := b.Claim(ctx, "approvals", backend.CapabilitySet{}, policy)
	if err != nil || h == nil {
		log.Fatal("nothing to claim: ", err)
	}

	// 1. The worker suspends until a signal named "approved" arrives.
	wp := backend.FreshBinding()
	sus, err := b.Suspend(ctx, *h, backend.SuspendArgs{
		SuspensionID:    backend.NewSuspensionID(),
		Waitpoints:      []backend.WaitpointBinding{wp},
		ResumeCondition: backend.SingleCondition(wp.WaitpointKey, backend.ByName("approved")),
		ResumePolicy:    backend.NormalResumePolicy(),
		ReasonCode:      backend.ReasonWaitingForApproval,
		TimeoutAt:       time.Now().Add(24 * time.Hour),
		TimeoutBehavior: backend.TimeoutCancel,
		IdempotencyKey:  "approval-step", // a retried Suspend returns this same outcome
	})
	if err != nil {
		log.Fatal(err)
	}
	// The waitpoint id and token go to the approver; the token prints
	// redacted.
	fmt.Println("token:", sus.Details.WaitpointToken)

	// 2. The approver delivers the signal.
	del, err := b.DeliverSignal(ctx, backend.DeliverSignalArgs{
		ExecutionID:    h.ExecutionID(),
		WaitpointID:    sus.Details.WaitpointID,
		WaitpointToken: sus.Details.WaitpointToken,
		SignalID:       backend.NewSignalID(),
		SignalName:     "approved",
		SignalCategory: "approval",
		SourceType:     "user",
		SourceIdentity: "alice",
		IdempotencyKey: "approval-by-alice",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(del.Kind, del.Effect)

	// 3. A worker claims the resumed execution on the same attempt index.
	res, err := b.ClaimResumedExecution(ctx, backend.ClaimResumedExecutionArgs{
		ExecutionID:      h.ExecutionID(),
		WorkerID:         "w",
		WorkerInstanceID: "w-2",
		LaneID:           "approvals",
		LeaseID:          backend.NewLeaseID(),
		LeaseTTL:         30 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	signals, err := b.ObserveSignals(ctx, res.Handle)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("woken by", signals[0].SignalName, "from", signals[0].SourceIdentity)
	if err := b.Complete(ctx, res.Handle, nil); err != nil {
		log.Fatal(err)
	}
	// Output:
	// token: k1:<REDACTED:len=64>
	// accepted resume_condition_satisfied
	// woken by approved from alice
}

// Follow completions. A real subscriber persists ev.Cursor and passes the
// last one back to resume where it stopped; an empty cursor means "from
// now".
func Example_subscribeCompletion() {
	ctx := context.Background()
	b, err := backend.New(ctx, "file:example-subscribe?mode=memory&cache=shared")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	var last backend.EventCursor // load the persisted cursor; empty = from now
	sub, err := b.SubscribeCompletion(ctx, last, backend.ScannerFilter{Namespace: "tenant-a"})
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()

	// Something completes after the subscription started.
	if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: backend.NewExecutionID(), Namespace: "tenant-a", LaneID: "jobs"}); err != nil {
		log.Fatal(err)
	}
	h, err := b.Claim(ctx, "jobs", backend.CapabilitySet{}, backend.ClaimPolicy{WorkerID: "w", WorkerInstanceID: "w-1", LeaseTTL: time.Minute})
	if err != nil || h == nil {
		log.Fatal("nothing to claim: ", err)
	}
	if err := b.Complete(ctx, *h, nil); err != nil {
		log.Fatal(err)
	}

	ev, err := sub.Next(ctx) // io.EOF once the backend closes: resubscribe from last
	if err != nil {
		log.Fatal(err) // ErrTransport / ErrCorruption: resubscribe from last
	}
	fmt.Println(ev.ExecutionID == h.ExecutionID(), ev.Outcome)
	last = ev.Cursor // persist
	_ = last
	// Output: true success
}

// Enqueue work in the same transaction as the application's own rows:
// both commit, or neither does.
func ExampleSQLiteBackend_CreateExecutionsTx() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ffsqlite-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.db")
	b, err := backend.New(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	// The application's own pool on the same file (modernc.org/sqlite).
	app, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_pragma=busy_timeout(5000)")
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close()
	if _, err := app.ExecContext(ctx, `CREATE TABLE orders (id INTEGER PRIMARY KEY, execution_id TEXT)`); err != nil {
		log.Fatal(err)
	}

	tx, err := app.BeginTx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback() // a no-op after Commit
	id := backend.NewExecutionID()
	if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, execution_id) VALUES (1, ?)`, string(id)); err != nil {
		log.Fatal(err)
	}
	if _, err := b.CreateExecutionsTx(ctx, tx, []backend.CreateExecutionArgs{{ExecutionID: id, LaneID: "fulfilment"}}); err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}
	st, err := b.ReadExecutionState(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(*st)
	// Output: waiting
}
