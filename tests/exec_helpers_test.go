package tests

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// execEnv is an open file-backed backend on a fake clock, with helpers for
// the execution scenarios.
type execEnv struct {
	t     *testing.T
	ctx   context.Context
	b     *backend.SQLiteBackend
	clock *backend.FakeClock
	path  string
}

func newExecEnv(t *testing.T) *execEnv {
	t.Helper()
	t.Setenv("FF_DEV_MODE", "1")
	path := filepath.Join(t.TempDir(), "ff.db")
	clock := backend.NewFakeClock(time.Time{})
	b, err := backend.NewWithOptions(context.Background(), path, backend.Options{Clock: clock})
	if err != nil {
		t.Fatalf("open backend: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return &execEnv{t: t, ctx: context.Background(), b: b, clock: clock, path: path}
}

// create creates an execution on lane with args adjusted by mod.
func (e *execEnv) create(lane backend.LaneID, mod func(*backend.CreateExecutionArgs)) backend.ExecutionID {
	e.t.Helper()
	args := backend.CreateExecutionArgs{
		ExecutionID:   backend.NewExecutionID(),
		LaneID:        lane,
		Namespace:     "test",
		ExecutionKind: "kind",
		InputPayload:  []byte("in"),
	}
	if mod != nil {
		mod(&args)
	}
	res, err := e.b.CreateExecution(e.ctx, args)
	if err != nil {
		e.t.Fatalf("CreateExecution: %v", err)
	}
	return res.ExecutionID
}

// claim claims from lane with the given capabilities and a 30 s lease.
func (e *execEnv) claim(lane backend.LaneID, caps ...string) *backend.Handle {
	e.t.Helper()
	h, err := e.b.Claim(e.ctx, lane, backend.CapabilitySet{Tokens: caps}, backend.ClaimPolicy{
		LeaseTTL: 30 * time.Second, WorkerID: "w", WorkerInstanceID: "w-1",
	})
	if err != nil {
		e.t.Fatalf("Claim: %v", err)
	}
	return h
}

// mustClaim is claim that fails the test when nothing was claimed.
func (e *execEnv) mustClaim(lane backend.LaneID, caps ...string) backend.Handle {
	e.t.Helper()
	h := e.claim(lane, caps...)
	if h == nil {
		e.t.Fatalf("Claim(%s): nothing claimable", lane)
	}
	return *h
}

// state reads the public state of id.
func (e *execEnv) state(id backend.ExecutionID) backend.PublicState {
	e.t.Helper()
	ps, err := e.b.ReadExecutionState(e.ctx, id)
	if err != nil || ps == nil {
		e.t.Fatalf("ReadExecutionState(%s) = %v, %v", id, ps, err)
	}
	return *ps
}
