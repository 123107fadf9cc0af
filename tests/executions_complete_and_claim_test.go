package tests

import (
	"context"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// completeAndClaim calls CompleteAndClaim on lane with worker w-1's policy.
func (e *execEnv) completeAndClaim(h backend.Handle, result string, lane backend.LaneID) (*backend.Handle, error) {
	return e.b.CompleteAndClaim(e.ctx, h, []byte(result), lane, backend.CapabilitySet{}, workerPolicy("w-1"))
}

// TestCompleteAndClaimWorksAChain runs a three-member chain with one Claim
// and then CompleteAndClaim alone: each completion makes the next member
// eligible, and the same transaction claims it.
func TestCompleteAndClaimWorksAChain(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	args := backend.BuildFlowArgs{FlowID: backend.NewFlowID(), Namespace: "test"}
	var ids []backend.ExecutionID
	for i := range 3 {
		id := backend.NewExecutionID()
		ids = append(ids, id)
		args.Members = append(args.Members, backend.CreateExecutionArgs{ExecutionID: id, LaneID: "chain", Namespace: "test", ExecutionKind: "step"})
		if i > 0 {
			args.Edges = append(args.Edges, backend.BuildFlowEdge{Upstream: ids[i-1], Downstream: id})
		}
	}
	if _, err := e.b.BuildFlow(e.ctx, args); err != nil {
		t.Fatal(err)
	}
	h := e.mustClaim("chain")
	for i, id := range ids {
		if h.ExecutionID() != id {
			t.Fatalf("step %d holds %s, want %s", i, h.ExecutionID(), id)
		}
		next, err := e.completeAndClaim(h, "r", "chain")
		if err != nil {
			t.Fatalf("CompleteAndClaim at step %d: %v", i, err)
		}
		if got := e.state(id); got != backend.PublicStateCompleted {
			t.Fatalf("member %d = %s, want completed", i, got)
		}
		if i == len(ids)-1 {
			if next != nil {
				t.Fatalf("claimed %s after the last member", next.ExecutionID())
			}
			break
		}
		if next == nil {
			t.Fatalf("nothing claimed after member %d", i)
		}
		if got := e.state(next.ExecutionID()); got != backend.PublicStateActive {
			t.Fatalf("claimed member = %s, want active", got)
		}
		h = *next
	}
	for _, id := range ids {
		res, ok, err := e.b.GetExecutionResult(e.ctx, id)
		if err != nil || !ok || string(res) != "r" {
			t.Fatalf("result of %s = %q, %v, %v", id, res, ok, err)
		}
	}
}

// TestCompleteAndClaimTakesTheLaneInOrder: the claim half follows Claim's
// order, and it claims from the lane it is given, not the handle's.
func TestCompleteAndClaimTakesTheLaneInOrder(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	e.create("a", nil)
	low := e.create("b", nil)
	high := e.create("b", func(a *backend.CreateExecutionArgs) { a.Priority = 5 })
	h := e.mustClaim("a")
	next, err := e.completeAndClaim(h, "", "b")
	if err != nil || next == nil {
		t.Fatalf("CompleteAndClaim = %v, %v", next, err)
	}
	if next.ExecutionID() != high {
		t.Fatalf("claimed %s, want the higher-priority %s", next.ExecutionID(), high)
	}
	if next.Kind() != backend.HandleFresh {
		t.Errorf("kind = %s, want fresh", next.Kind())
	}
	if got := e.state(low); got != backend.PublicStateWaiting {
		t.Errorf("the other execution = %s, want waiting", got)
	}
}

// TestCompleteAndClaimNothingClaimable: with nothing to claim and no
// MaxWait it returns at once, the handle completed.
func TestCompleteAndClaimNothingClaimable(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane", nil)
	h := e.mustClaim("lane")
	next, err := e.b.CompleteAndClaim(e.ctx, h, nil, "lane", backend.CapabilitySet{}, workerPolicy("w-1"))
	if err != nil || next != nil {
		t.Fatalf("CompleteAndClaim = %v, %v; want nothing claimed", next, err)
	}
	if got := e.state(id); got != backend.PublicStateCompleted {
		t.Fatalf("state = %s, want completed", got)
	}
}

// TestCompleteAndClaimWaitsForWork: with MaxWait, an execution created
// after the completion committed is claimed by the same call, as a
// waiting Claim would claim it.
func TestCompleteAndClaimWaitsForWork(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane", nil)
	h := e.mustClaim("lane")
	p := workerPolicy("w-1")
	p.MaxWait = time.Hour
	type result struct {
		next *backend.Handle
		err  error
	}
	done := make(chan result, 1)
	go func() {
		next, err := e.b.CompleteAndClaim(e.ctx, h, nil, "lane", backend.CapabilitySet{}, p)
		done <- result{next, err}
	}()
	for e.state(id) != backend.PublicStateCompleted {
		time.Sleep(time.Millisecond)
	}
	later := e.create("lane", nil) // after the completion's transaction
	r := <-done
	if r.err != nil || r.next == nil || r.next.ExecutionID() != later {
		t.Fatalf("CompleteAndClaim = %v, %v; want a handle for %s", r.next, r.err, later)
	}
}

// TestCompleteAndClaimErrors: invalid claim arguments are refused before
// anything is written, and a refused completion claims nothing.
func TestCompleteAndClaimErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		lane   backend.LaneID
		caps   []string
		policy func(*backend.ClaimPolicy)
		// revoke revokes the handle's lease first: the completion fails.
		revoke bool
		want   error
	}{
		{"ErrBadLane", "", nil, nil, false, backend.ErrInvalidInput},
		{"ErrBadCapability", "lane", []string{"bad,token"}, nil, false, backend.ErrInvalidInput},
		{"ErrNegativeTTL", "lane", nil, func(p *backend.ClaimPolicy) { p.LeaseTTL = -time.Second }, false, backend.ErrInvalidInput},
		{"ErrNegativeMaxWait", "lane", nil, func(p *backend.ClaimPolicy) { p.MaxWait = -time.Second }, false, backend.ErrInvalidInput},
		{"ErrRevokedLease", "lane", nil, nil, true, backend.ErrStaleLease},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			id := e.create("lane", nil)
			h := e.mustClaim("lane")
			e.create("lane", nil) // claimable, and must stay waiting
			if tt.revoke {
				if _, err := e.b.RevokeLease(e.ctx, backend.RevokeLeaseArgs{ExecutionID: id}); err != nil {
					t.Fatal(err)
				}
			}
			p := workerPolicy("w-2")
			if tt.policy != nil {
				tt.policy(&p)
			}
			before := e.dump()
			next, err := e.b.CompleteAndClaim(e.ctx, h, []byte("r"), tt.lane, backend.CapabilitySet{Tokens: tt.caps}, p)
			requireErr(t, "CompleteAndClaim", err, tt.want)
			if next != nil {
				t.Fatalf("claimed %s despite the error", next.ExecutionID())
			}
			e.requireUnchanged(before, tt.name)
		})
	}
}

// TestCompleteAndClaimWaitCutShort: a wait for work cut short by the
// caller's ctx still reports the completion as a success.
func TestCompleteAndClaimWaitCutShort(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane", nil)
	h := e.mustClaim("lane")
	p := workerPolicy("w-1")
	p.MaxWait = time.Hour
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	var (
		next *backend.Handle
		err  error
	)
	go func() {
		defer close(done)
		next, err = e.b.CompleteAndClaim(ctx, h, nil, "lane", backend.CapabilitySet{}, p)
	}()
	// The completion commits before the wait starts.
	for e.state(id) != backend.PublicStateCompleted {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if err != nil || next != nil {
		t.Fatalf("CompleteAndClaim = %v, %v; want nil, nil", next, err)
	}
}
