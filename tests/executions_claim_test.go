package tests

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

func TestClaimNothingClaimable(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	if h := e.claim("lane"); h != nil {
		t.Fatalf("claim on an empty database = %v, want nil", h)
	}
	// Work on another lane, delayed work and finished work are not
	// claimable either.
	e.create("other", nil)
	e.create("lane", func(a *backend.CreateExecutionArgs) { a.DelayUntil = e.now().Add(time.Minute) })
	e.create("lane", nil)
	if err := e.b.Complete(e.ctx, e.mustClaim("lane"), nil); err != nil {
		t.Fatal(err)
	}
	before := e.dump()
	if h := e.claim("lane"); h != nil {
		t.Fatalf("claim = %v, want nil", h)
	}
	e.requireUnchanged(before, "a claim that found nothing")
}

// handleFields is what a handle says, as one comparable value.
type handleFields struct {
	AttemptIndex     backend.AttemptIndex
	Backend          backend.BackendTag
	ExecutionID      backend.ExecutionID
	Kind             backend.HandleKind
	LaneID           backend.LaneID
	LeaseEpoch       backend.LeaseEpoch
	LeaseTTL         time.Duration
	WorkerInstanceID backend.WorkerInstanceID
}

func fieldsOf(h backend.Handle) handleFields {
	return handleFields{
		AttemptIndex:     h.AttemptIndex(),
		Backend:          h.Backend(),
		ExecutionID:      h.ExecutionID(),
		Kind:             h.Kind(),
		LaneID:           h.LaneID(),
		LeaseEpoch:       h.LeaseEpoch(),
		LeaseTTL:         h.LeaseTTL(),
		WorkerInstanceID: h.WorkerInstanceID(),
	}
}

func TestClaimHandleFields(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane-a", nil)
	claimedAt := e.clock.Advance(time.Second)
	h, err := e.b.Claim(e.ctx, "lane-a", backend.CapabilitySet{}, backend.ClaimPolicy{
		LeaseTTL: 45 * time.Second, WorkerID: "worker", WorkerInstanceID: "worker-1",
	})
	if err != nil || h == nil {
		t.Fatalf("Claim = %v, %v", h, err)
	}
	want := handleFields{
		AttemptIndex: 0, Backend: backend.BackendSQLite, ExecutionID: id, Kind: backend.HandleFresh,
		LaneID: "lane-a", LeaseEpoch: 1, LeaseTTL: 45 * time.Second, WorkerInstanceID: "worker-1",
	}
	if diff := cmp.Diff(want, fieldsOf(*h)); diff != "" {
		t.Errorf("handle (-want +got)\n%s", diff)
	}
	if _, err := backend.ParseAttemptID(string(h.AttemptID())); err != nil {
		t.Errorf("attempt id %q: %v", h.AttemptID(), err)
	}
	if _, err := backend.ParseLeaseID(string(h.LeaseID())); err != nil {
		t.Errorf("lease id %q: %v", h.LeaseID(), err)
	}
	// The ids in the handle are the stored ones (decision 5).
	snap := e.describe(id)
	wantAttempt := &backend.AttemptSummary{AttemptID: h.AttemptID(), AttemptIndex: 0}
	wantLease := &backend.LeaseSummary{
		AttemptIndex: 0, ExpiresAt: claimedAt.Add(45 * time.Second), LastHeartbeatAt: claimedAt,
		LeaseEpoch: 1, LeaseID: h.LeaseID(), WorkerInstanceID: "worker-1",
	}
	if diff := cmp.Diff(wantAttempt, snap.CurrentAttempt); diff != "" {
		t.Errorf("CurrentAttempt (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(wantLease, snap.CurrentLease); diff != "" {
		t.Errorf("CurrentLease (-want +got)\n%s", diff)
	}
	// The handle survives Encode/DecodeHandle and still works.
	decoded, err := backend.DecodeHandle(h.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !decoded.Equal(*h) {
		t.Fatalf("decoded handle %v != %v", decoded, h)
	}
	if err := e.b.Complete(e.ctx, decoded, nil); err != nil {
		t.Fatalf("Complete with the decoded handle: %v", err)
	}
}

func TestClaimOrder(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	t0 := e.now()
	at := func(d time.Duration, prio int32) func(*backend.CreateExecutionArgs) {
		return func(a *backend.CreateExecutionArgs) {
			a.Now = t0.Add(d)
			a.Priority = prio
		}
	}
	low1 := e.create("lane", at(0, 1))
	high2 := e.create("lane", at(2*time.Second, 5))
	high1 := e.create("lane", at(time.Second, 5))
	low2 := e.create("lane", at(time.Second, 1))
	// Same priority and creation time: execution id order.
	tied := []backend.ExecutionID{
		e.create("lane", at(3*time.Second, 3)),
		e.create("lane", at(3*time.Second, 3)),
		e.create("lane", at(3*time.Second, 3)),
	}
	slices.Sort(tied)
	// Priority is clamped before it orders: 20000 ranks as 9000, equal to
	// an explicit 9000 created later.
	top1 := e.create("lane", at(4*time.Second, 20000))
	top2 := e.create("lane", at(5*time.Second, 9000))

	want := append([]backend.ExecutionID{top1, top2, high1, high2}, tied...)
	want = append(want, low1, low2)
	var got []backend.ExecutionID
	for range want {
		got = append(got, e.mustClaim("lane").ExecutionID())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claim order (-want +got)\n%s", diff)
	}
	if h := e.claim("lane"); h != nil {
		t.Errorf("claimed %s after the lane drained", h.ExecutionID())
	}
}

// TestClaimFIFOByClock orders by creation time taken from the clock (no
// explicit Now).
func TestClaimFIFOByClock(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	var want []backend.ExecutionID
	for range 4 {
		want = append(want, e.create("lane", nil))
		e.clock.Advance(time.Millisecond)
	}
	var got []backend.ExecutionID
	for range want {
		got = append(got, e.mustClaim("lane").ExecutionID())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claim order (-want +got)\n%s", diff)
	}
}

func TestClaimCapabilities(t *testing.T) {
	t.Parallel()

	t.Run("SubsetRouting", func(t *testing.T) {
		t.Parallel()
		e := newExecEnv(t)
		gpu := e.create("lane", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy("gpu") })
		before := e.dump()
		for _, caps := range [][]string{nil, {"cpu"}, {"GPU"}, {"gpu2"}, {"cpu", "gpux"}} {
			if h := e.claim("lane", caps...); h != nil {
				t.Fatalf("worker %q claimed an execution requiring gpu", caps)
			}
		}
		e.requireUnchanged(before, "claims by incapable workers")
		if h := e.mustClaim("lane", "gpu", "cpu"); h.ExecutionID() != gpu {
			t.Fatalf("claimed %s, want %s", h.ExecutionID(), gpu)
		}
	})

	t.Run("AllRequired", func(t *testing.T) {
		t.Parallel()
		e := newExecEnv(t)
		id := e.create("lane", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy("gpu", "cuda12", "gpu") })
		if h := e.claim("lane", "gpu"); h != nil {
			t.Fatal("worker with only gpu claimed an execution requiring gpu and cuda12")
		}
		if h := e.claim("lane", "cuda12"); h != nil {
			t.Fatal("worker with only cuda12 claimed an execution requiring gpu and cuda12")
		}
		if h := e.mustClaim("lane", "x", "cuda12", "gpu"); h.ExecutionID() != id {
			t.Fatalf("claimed %s, want %s", h.ExecutionID(), id)
		}
	})

	t.Run("NoRequirementsAnyWorker", func(t *testing.T) {
		t.Parallel()
		e := newExecEnv(t)
		a := e.create("lane", nil)
		e.clock.Advance(time.Millisecond)
		b := e.create("lane", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy() })
		got := []backend.ExecutionID{e.mustClaim("lane", "anything").ExecutionID(), e.mustClaim("lane").ExecutionID()}
		if diff := cmp.Diff([]backend.ExecutionID{a, b}, got); diff != "" {
			t.Errorf("claims (-want +got)\n%s", diff)
		}
	})

	t.Run("HigherPriorityMismatchDoesNotBlock", func(t *testing.T) {
		t.Parallel()
		e := newExecEnv(t)
		// More non-matching executions rank above the match than the
		// original's 16-candidate window.
		var gpuJobs []backend.ExecutionID
		for range 20 {
			gpuJobs = append(gpuJobs, e.create("lane", func(a *backend.CreateExecutionArgs) {
				a.Priority = 100
				a.Policy = capsPolicy("gpu")
			}))
		}
		plain := e.create("lane", func(a *backend.CreateExecutionArgs) { a.Priority = 1 })
		if h := e.mustClaim("lane", "cpu"); h.ExecutionID() != plain {
			t.Fatalf("cpu worker claimed %s, want the low-priority match %s", h.ExecutionID(), plain)
		}
		if h := e.claim("lane", "cpu"); h != nil {
			t.Fatalf("cpu worker claimed %s", h.ExecutionID())
		}
		// All created at the same instant: id order.
		if h := e.mustClaim("lane", "gpu"); h.ExecutionID() != slices.Min(gpuJobs) {
			t.Fatalf("gpu worker claimed %s, want %s", h.ExecutionID(), slices.Min(gpuJobs))
		}
	})

	t.Run("ErrInvalidWorkerCapabilities", func(t *testing.T) {
		t.Parallel()
		e := newExecEnv(t)
		e.create("lane", nil)
		before := e.dump()
		for _, caps := range [][]string{{""}, {"a,b"}, {"a b"}, {"\x7f"}, tokens(257)} {
			h, err := e.b.Claim(e.ctx, "lane", backend.CapabilitySet{Tokens: caps}, workerPolicy("w"))
			requireErr(t, "Claim with invalid capabilities", err, backend.ErrInvalidCapabilities)
			if h != nil {
				t.Fatalf("handle on error: %v", h)
			}
		}
		e.requireUnchanged(before, "claims with invalid capabilities")
	})
}

func TestClaimLanesAreIsolated(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	a := e.create("lane-a", func(a *backend.CreateExecutionArgs) { a.Priority = 9000 })
	b := e.create("lane-b", nil)
	if h := e.claim("lane-c"); h != nil {
		t.Fatalf("lane-c claimed %s", h.ExecutionID())
	}
	hb := e.mustClaim("lane-b")
	if hb.ExecutionID() != b || hb.LaneID() != "lane-b" {
		t.Fatalf("lane-b claimed %s on %s", hb.ExecutionID(), hb.LaneID())
	}
	if h := e.claim("lane-b"); h != nil {
		t.Fatalf("lane-b claimed %s", h.ExecutionID())
	}
	// Lane names are exact (no case folding, no prefix match).
	for _, lane := range []backend.LaneID{"Lane-a", "lane-", "lane-a "} {
		if h := e.claim(lane); h != nil {
			t.Fatalf("lane %q claimed %s", lane, h.ExecutionID())
		}
	}
	if h := e.mustClaim("lane-a"); h.ExecutionID() != a {
		t.Fatalf("lane-a claimed %s", h.ExecutionID())
	}
}

func TestClaimDelayedExecution(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	due := e.now().Add(10 * time.Second)
	id := e.create("lane", func(a *backend.CreateExecutionArgs) { a.DelayUntil = due })
	if h := e.claim("lane"); h != nil {
		t.Fatalf("claimed a delayed execution: %v", h)
	}
	e.clock.Set(due.Add(-time.Millisecond))
	if h := e.claim("lane"); h != nil {
		t.Fatalf("claimed 1 ms before DelayUntil: %v", h)
	}
	if got := e.state(id); got != backend.PublicStateDelayed {
		t.Fatalf("state = %s, want delayed", got)
	}
	// At DelayUntil it is due: Claim promotes it itself, no scanner runs.
	e.clock.Set(due)
	h := e.mustClaim("lane")
	if h.ExecutionID() != id || h.AttemptIndex() != 0 || h.LeaseEpoch() != 1 || h.Kind() != backend.HandleFresh {
		t.Fatalf("handle = %v", h)
	}
	if got := e.state(id); got != backend.PublicStateActive {
		t.Fatalf("state = %s, want active", got)
	}
}

// TestClaimDelayedOrder: a due delayed execution competes in claim order
// with the lane's waiting ones.
func TestClaimDelayedOrder(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	delayed := e.create("lane", func(a *backend.CreateExecutionArgs) {
		a.DelayUntil = e.now().Add(time.Second)
		a.Priority = 10
	})
	waiting := e.create("lane", nil)
	e.clock.Advance(time.Second)
	got := []backend.ExecutionID{e.mustClaim("lane").ExecutionID(), e.mustClaim("lane").ExecutionID()}
	if diff := cmp.Diff([]backend.ExecutionID{delayed, waiting}, got); diff != "" {
		t.Errorf("claims (-want +got)\n%s", diff)
	}
}

func TestClaimMaxWait(t *testing.T) {
	t.Parallel()

	t.Run("NothingArrives", func(t *testing.T) {
		t.Parallel()
		e := newExecEnv(t)
		e.create("other-lane", nil)
		p := workerPolicy("w")
		p.MaxWait = time.Second
		h, err := e.b.Claim(e.ctx, "lane", backend.CapabilitySet{}, p)
		if err != nil || h != nil {
			t.Fatalf("Claim = %v, %v; want nil, nil", h, err)
		}
	})

	t.Run("WorkArrivesDuringWait", func(t *testing.T) {
		t.Parallel()
		e := newExecEnv(t)
		type result struct {
			h   *backend.Handle
			err error
		}
		done := make(chan result, 1)
		started := make(chan struct{})
		go func() {
			p := workerPolicy("w")
			p.MaxWait = 2 * time.Second
			close(started)
			h, err := e.b.Claim(e.ctx, "lane", backend.CapabilitySet{}, p)
			done <- result{h, err}
		}()
		<-started
		// Not ordered against the claim's first look on purpose: either
		// way the waiting claim must end with this execution.
		res, err := e.b.CreateExecution(e.ctx, backend.CreateExecutionArgs{ExecutionID: backend.NewExecutionID(), LaneID: "lane"})
		if err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil || r.h == nil {
			t.Fatalf("Claim = %v, %v; want the new execution", r.h, r.err)
		}
		if r.h.ExecutionID() != res.ExecutionID {
			t.Fatalf("claimed %s, want %s", r.h.ExecutionID(), res.ExecutionID)
		}
	})

	t.Run("DelayedFallsDueDuringWait", func(t *testing.T) {
		t.Parallel()
		e := newExecEnv(t)
		id := e.create("lane", func(a *backend.CreateExecutionArgs) { a.DelayUntil = e.now().Add(10 * time.Second) })
		done := make(chan *backend.Handle, 1)
		errc := make(chan error, 1)
		go func() {
			p := workerPolicy("w")
			p.MaxWait = 2 * time.Second
			h, err := e.b.Claim(e.ctx, "lane", backend.CapabilitySet{}, p)
			errc <- err
			done <- h
		}()
		// No commit wakes the waiter: it must notice the clock on its own.
		e.clock.Advance(10 * time.Second)
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if h := <-done; h == nil || h.ExecutionID() != id {
			t.Fatalf("Claim = %v, want %s", h, id)
		}
	})

	t.Run("ContextCancelled", func(t *testing.T) {
		t.Parallel()
		e := newExecEnv(t)
		ctx, cancel := context.WithCancel(e.ctx)
		cancel()
		p := workerPolicy("w")
		p.MaxWait = 2 * time.Second
		h, err := e.b.Claim(ctx, "lane", backend.CapabilitySet{}, p)
		if h != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("Claim with a cancelled ctx = %v, %v; want context.Canceled", h, err)
		}
	})
}

func TestClaimInvalidInput(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	e.create("lane", nil)
	before := e.dump()
	tests := []struct {
		name   string
		lane   backend.LaneID
		policy backend.ClaimPolicy
	}{
		{"ErrLaneEmpty", "", workerPolicy("w")},
		{"ErrLaneTooLong", backend.LaneID(strings.Repeat("l", 65)), workerPolicy("w")},
		{"ErrLaneControlByte", "la\nne", workerPolicy("w")},
		{"ErrLaneNonASCII", "lané", workerPolicy("w")},
		{"ErrNegativeLeaseTTL", "lane", backend.ClaimPolicy{LeaseTTL: -time.Second}},
		{"ErrNegativeMaxWait", "lane", backend.ClaimPolicy{LeaseTTL: time.Second, MaxWait: -time.Second}},
	}
	for _, tt := range tests {
		h, err := e.b.Claim(e.ctx, tt.lane, backend.CapabilitySet{}, tt.policy)
		if h != nil {
			t.Errorf("%s: handle on error: %v", tt.name, h)
		}
		if !errors.Is(err, backend.ErrInvalidInput) {
			t.Errorf("%s: err = %v, want ErrInvalidInput", tt.name, err)
		}
	}
	e.requireUnchanged(before, "rejected claims")
}

// TestClaimReclaimCompetesInClaimOrder: a lease-expired execution is taken
// over in the same priority order as the lane's waiting ones.
func TestClaimReclaimCompetesInClaimOrder(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	mid := e.create("lane", func(a *backend.CreateExecutionArgs) { a.Priority = 5 })
	old := e.mustClaim("lane")
	e.clock.Advance(time.Minute)
	if _, err := e.b.Renew(e.ctx, old); !errors.Is(err, backend.ErrLeaseExpired) {
		t.Fatalf("Renew = %v, want ErrLeaseExpired", err)
	}
	low := e.create("lane", func(a *backend.CreateExecutionArgs) { a.Priority = 1 })
	high := e.create("lane", func(a *backend.CreateExecutionArgs) { a.Priority = 9 })

	type claimed struct {
		ID   backend.ExecutionID
		Kind backend.HandleKind
	}
	var got []claimed
	for range 3 {
		h := e.mustClaim("lane")
		got = append(got, claimed{h.ExecutionID(), h.Kind()})
	}
	want := []claimed{{high, backend.HandleFresh}, {mid, backend.HandleReclaimed}, {low, backend.HandleFresh}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got)\n%s", diff)
	}
}
