package tests

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// The benchmarks measure the engine's cost per operation on a real file
// database with the wall clock, one caller at a time (no group commit), so
// that a change to a hot path shows up as ns/op and allocs/op:
//
//	go test ./tests -run '^$' -bench . -benchmem -count 5
//
// Throughput against the peer systems is bench/'s job (make bench).

var benchPayload = []byte(`{"job":"bench","n":12345}`)

// newBenchBackend opens a fresh file database in b.TempDir() on the real
// clock.
func newBenchBackend(b *testing.B) *backend.SQLiteBackend {
	b.Helper()
	return openBenchBackend(b, filepath.Join(b.TempDir(), "bench.db"))
}

// benchStorages are the databases the per-operation benchmarks run on: a
// file in WAL mode (what users run) and memory, which leaves out the
// file system and so shows CPU changes with less noise.
var benchStorages = []struct {
	name string
	path func(b *testing.B) string
}{
	{"file", func(b *testing.B) string { return filepath.Join(b.TempDir(), "bench.db") }},
	{"memory", func(b *testing.B) string {
		return fmt.Sprintf("file:bench-%s-%d?mode=memory&cache=shared", b.Name(), time.Now().UnixNano())
	}},
}

func openBenchBackend(b *testing.B, path string) *backend.SQLiteBackend {
	b.Helper()
	b.Setenv(backend.DevModeEnv, "1")
	eng, err := backend.NewWithOptions(context.Background(), path, backend.Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := eng.Close(); err != nil {
			b.Error(err)
		}
	})
	return eng
}

func benchCreateArgs(lane backend.LaneID) backend.CreateExecutionArgs {
	return backend.CreateExecutionArgs{
		ExecutionID: backend.NewExecutionID(), Namespace: "bench", LaneID: lane,
		ExecutionKind: "bench", InputPayload: benchPayload,
	}
}

// createN submits n executions on lane in batches.
func createN(b *testing.B, eng *backend.SQLiteBackend, lane backend.LaneID, n int) {
	b.Helper()
	for n > 0 {
		batch := make([]backend.CreateExecutionArgs, min(n, 1000))
		for i := range batch {
			batch[i] = benchCreateArgs(lane)
		}
		if _, err := eng.CreateExecutions(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		n -= len(batch)
	}
}

var benchPolicy = backend.ClaimPolicy{LeaseTTL: time.Minute, WorkerID: "bench", WorkerInstanceID: "bench-1"}

// BenchmarkCreateExecution is one CreateExecution call (one transaction).
func BenchmarkCreateExecution(b *testing.B) {
	for _, st := range benchStorages {
		b.Run(st.name, func(b *testing.B) {
			eng := openBenchBackend(b, st.path(b))
			ctx := context.Background()
			for b.Loop() {
				if _, err := eng.CreateExecution(ctx, benchCreateArgs("bench")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClaimComplete is one Claim plus one Complete of an execution
// created beforehand (two transactions).
func BenchmarkClaimComplete(b *testing.B) {
	for _, st := range benchStorages {
		b.Run(st.name, func(b *testing.B) {
			eng := openBenchBackend(b, st.path(b))
			ctx := context.Background()
			createN(b, eng, "bench", b.N)
			b.ResetTimer()
			for range b.N {
				h, err := eng.Claim(ctx, "bench", backend.CapabilitySet{}, benchPolicy)
				if err != nil || h == nil {
					b.Fatalf("claim: %v, %v", h, err)
				}
				if err := eng.Complete(ctx, *h, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClaimCompleteLargePayload is BenchmarkClaimComplete on a file
// with a 64 KiB input payload, stored out of the execution's row: claim
// and complete cost what they cost with a small one.
func BenchmarkClaimCompleteLargePayload(b *testing.B) {
	eng := newBenchBackend(b)
	ctx := context.Background()
	payload := bytes.Repeat([]byte("x"), 64<<10)
	for n := b.N; n > 0; {
		batch := make([]backend.CreateExecutionArgs, min(n, 500))
		for i := range batch {
			batch[i] = benchCreateArgs("bench")
			batch[i].InputPayload = payload
		}
		if _, err := eng.CreateExecutions(ctx, batch); err != nil {
			b.Fatal(err)
		}
		n -= len(batch)
	}
	b.ResetTimer()
	for range b.N {
		h, err := eng.Claim(ctx, "bench", backend.CapabilitySet{}, benchPolicy)
		if err != nil || h == nil {
			b.Fatalf("claim: %v, %v", h, err)
		}
		if err := eng.Complete(ctx, *h, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFlowChain10 builds a 10-member linear flow and works it to the
// end, one Claim and one Complete per member in chain order. "calls"
// builds it with the EngineBackend methods (CreateFlow, one
// CreateExecutions batch, AddExecutionToFlow per member, then
// StageDependencyEdge and ApplyDependencyToChild per edge); "buildflow"
// with one BuildFlow call; "chained" builds it with BuildFlow and works it
// with one Claim and then CompleteAndClaim per member.
func BenchmarkFlowChain10(b *testing.B) {
	for _, mode := range []string{"calls", "buildflow", "chained"} {
		b.Run(mode, func(b *testing.B) {
			const nodes = 10
			eng := newBenchBackend(b)
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				lane := backend.LaneID(fmt.Sprintf("chain-%d", i))
				args := make([]backend.CreateExecutionArgs, nodes)
				for j := range args {
					args[j] = benchCreateArgs(lane)
				}
				fid := backend.NewFlowID()
				if mode == "calls" {
					buildChainByCalls(b, eng, fid, args)
				} else {
					edges := make([]backend.BuildFlowEdge, nodes-1)
					for j := range edges {
						edges[j] = backend.BuildFlowEdge{Upstream: args[j].ExecutionID, Downstream: args[j+1].ExecutionID}
					}
					if _, err := eng.BuildFlow(ctx, backend.BuildFlowArgs{FlowID: fid, Members: args, Edges: edges}); err != nil {
						b.Fatal(err)
					}
				}
				if mode == "chained" {
					workChained(b, eng, lane, args)
					continue
				}
				for j := range nodes {
					h, err := eng.Claim(ctx, lane, backend.CapabilitySet{}, benchPolicy)
					if err != nil || h == nil {
						b.Fatalf("claim member %d: %v, %v", j, h, err)
					}
					if h.ExecutionID() != args[j].ExecutionID {
						b.Fatalf("claimed %s, want member %d", h.ExecutionID(), j)
					}
					if err := eng.Complete(ctx, *h, nil); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// workChained claims the first member of a chain on lane, then completes
// each member with CompleteAndClaim, which claims the next one.
func workChained(b *testing.B, eng *backend.SQLiteBackend, lane backend.LaneID, args []backend.CreateExecutionArgs) {
	b.Helper()
	ctx := context.Background()
	h, err := eng.Claim(ctx, lane, backend.CapabilitySet{}, benchPolicy)
	for j := range args {
		if err != nil || h == nil {
			b.Fatalf("claim member %d: %v, %v", j, h, err)
		}
		if h.ExecutionID() != args[j].ExecutionID {
			b.Fatalf("claimed %s, want member %d", h.ExecutionID(), j)
		}
		h, err = eng.CompleteAndClaim(ctx, *h, nil, lane, backend.CapabilitySet{}, benchPolicy)
		if j == len(args)-1 && err == nil && h != nil {
			b.Fatalf("claimed %s after the last member", h.ExecutionID())
		}
	}
	if err != nil {
		b.Fatal(err)
	}
}

// buildChainByCalls makes flow fid with members chained in order, one
// method call per step.
func buildChainByCalls(b *testing.B, eng *backend.SQLiteBackend, fid backend.FlowID, args []backend.CreateExecutionArgs) {
	b.Helper()
	ctx := context.Background()
	if _, err := eng.CreateFlow(ctx, backend.CreateFlowArgs{FlowID: fid, FlowKind: "bench", Namespace: "bench"}); err != nil {
		b.Fatal(err)
	}
	if _, err := eng.CreateExecutions(ctx, args); err != nil {
		b.Fatal(err)
	}
	for j := range args {
		if _, err := eng.AddExecutionToFlow(ctx, backend.AddExecutionToFlowArgs{ExecutionID: args[j].ExecutionID, FlowID: fid}); err != nil {
			b.Fatal(err)
		}
	}
	snap, err := eng.DescribeFlow(ctx, fid)
	if err != nil || snap == nil {
		b.Fatalf("describe flow: %v, %v", snap, err)
	}
	rev := snap.GraphRevision
	for j := 1; j < len(args); j++ {
		edge := backend.NewEdgeID()
		st, err := eng.StageDependencyEdge(ctx, backend.StageDependencyEdgeArgs{
			FlowID: fid, EdgeID: edge, ExpectedGraphRevision: rev,
			UpstreamExecutionID: args[j-1].ExecutionID, DownstreamExecutionID: args[j].ExecutionID,
		})
		if err != nil {
			b.Fatal(err)
		}
		rev = st.NewGraphRevision
		if _, err := eng.ApplyDependencyToChild(ctx, backend.ApplyDependencyToChildArgs{
			FlowID: fid, EdgeID: edge, DownstreamExecutionID: args[j].ExecutionID,
		}); err != nil {
			b.Fatal(err)
		}
	}
}
