package worker_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/worker"
)

// claimCounter is the SQLite backend with Claim counted; CompleteAndClaim
// stays promoted, so the runner chains.
type claimCounter struct {
	*backend.SQLiteBackend
	claims atomic.Int64
}

func (c *claimCounter) Claim(ctx context.Context, lane backend.LaneID, caps backend.CapabilitySet, p backend.ClaimPolicy) (*backend.Handle, error) {
	c.claims.Add(1)
	return c.SQLiteBackend.Claim(ctx, lane, caps, p)
}

// engineOnly hides every method but EngineBackend's: no chaining.
type engineOnly struct {
	backend.EngineBackend
	claims atomic.Int64
}

func (e *engineOnly) Claim(ctx context.Context, lane backend.LaneID, caps backend.CapabilitySet, p backend.ClaimPolicy) (*backend.Handle, error) {
	e.claims.Add(1)
	return e.EngineBackend.Claim(ctx, lane, caps, p)
}

// TestRunnerChainsSuccesses: with one slot, each success claims the next
// queued execution in its own transaction, so the claim loop claims once
// for the whole queue; a backend without CompleteAndClaim gets a Claim
// per execution and the same outcomes.
func TestRunnerChainsSuccesses(t *testing.T) {
	t.Parallel()
	const n = 5
	tests := []struct {
		name string
		wrap func(*backend.SQLiteBackend) (backend.EngineBackend, *atomic.Int64)
		// maxClaims bounds the claim loop's Claim calls until all n are
		// done (the loop may already be waiting in one more).
		maxClaims int64
		minClaims int64
	}{
		{"Chained", func(b *backend.SQLiteBackend) (backend.EngineBackend, *atomic.Int64) {
			c := &claimCounter{SQLiteBackend: b}
			return c, &c.claims
		}, 2, 1},
		{"EngineBackendOnly", func(b *backend.SQLiteBackend) (backend.EngineBackend, *atomic.Int64) {
			e := &engineOnly{EngineBackend: b}
			return e, &e.claims
		}, n + 1, n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t)
			ids := map[backend.ExecutionID]bool{}
			for range n {
				ids[tb.create(t, createOpts{})] = true
			}
			b, claims := tt.wrap(tb.b)
			cfg := tb.config()
			cfg.Concurrency = 1
			start(t, newRunner(t, b, cfg, func(ctx context.Context, job *worker.Job) error {
				return worker.SetResult(ctx, []byte(job.ExecutionID))
			}))
			for range n {
				o := tb.nextOutcome(t)
				if o.Kind != worker.OutcomeCompleted || !ids[o.Job.ExecutionID] {
					t.Fatalf("outcome %q for %s: %v", o.Kind, o.Job.ExecutionID, o.Err)
				}
				delete(ids, o.Job.ExecutionID)
			}
			if got := claims.Load(); got < tt.minClaims || got > tt.maxClaims {
				t.Errorf("Claim called %d times for %d executions, want %d..%d", got, n, tt.minClaims, tt.maxClaims)
			}
		})
	}
}

// TestRunnerStopsChainingWhenStopped: once Run's context is cancelled, a
// success completes without claiming more.
func TestRunnerStopsChainingWhenStopped(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	first := tb.create(t, createOpts{})
	second := tb.create(t, createOpts{})
	cfg := tb.config()
	cfg.Concurrency = 1
	running := make(chan struct{})
	release := make(chan struct{})
	r := newRunner(t, tb.b, cfg, func(ctx context.Context, job *worker.Job) error {
		close(running)
		<-release // returns after the stop, within the grace
		return nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- r.Run(ctx) }()
	waitChan(t, running, "the first handler")
	cancel()
	close(release)
	if err := waitChan(t, ran, "Run to return"); err != nil {
		t.Fatalf("Run: %v", err)
	}
	o := tb.nextOutcome(t)
	if o.Kind != worker.OutcomeCompleted {
		t.Fatalf("outcome %q: %v", o.Kind, o.Err)
	}
	done, waiting := o.Job.ExecutionID, first
	if done == first {
		waiting = second
	}
	if got := tb.state(t, waiting); got != backend.PublicStateWaiting {
		t.Errorf("the other execution = %s after the stop, want waiting (not claimed)", got)
	}
}
