package tests

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowfabric/ffsqlite/backend"
)

// leaseEv is the comparable part of a lease-history event.
func leaseEv(kind backend.LeaseEventKind, id backend.ExecutionID, lease backend.LeaseID, holder backend.WorkerInstanceID, at time.Time) backend.LeaseHistoryEvent {
	ev := backend.LeaseHistoryEvent{At: at, ExecutionID: id, Kind: kind, LeaseID: lease, WorkerInstanceID: holder}
	if kind == backend.LeaseRevoked {
		ev.RevokedBy = "operator"
	}
	return ev
}

// ignoreCursor compares events without their cursors (checked apart).
var ignoreCursor = cmpopts.IgnoreFields(backend.LeaseHistoryEvent{}, "Cursor")

// requireLeaseEvents reads len(want) events and compares them.
func requireLeaseEvents(t *testing.T, sub backend.LeaseHistorySubscription, want ...backend.LeaseHistoryEvent) {
	t.Helper()
	got := nextEvents(t, sub, len(want))
	if diff := cmp.Diff(want, got, ignoreCursor); diff != "" {
		t.Fatalf("lease events (-want +got)\n%s", diff)
	}
	var cursors []backend.EventCursor
	for _, ev := range got {
		cursors = append(cursors, ev.Cursor)
	}
	requireAscending(t, cursors)
}

// TestLeaseHistoryClaimRenewComplete is the typical sequence: acquired,
// renewed, revoked — each naming the real lease and its holder.
func TestLeaseHistoryClaimRenewComplete(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	sub := e.subscribeLease(nil, backend.ScannerFilter{})
	id := e.create("lane", nil)
	t0 := e.now()
	h := e.mustClaim("lane")
	t1 := e.clock.Advance(time.Second)
	if _, err := e.b.Renew(e.ctx, h); err != nil {
		t.Fatal(err)
	}
	t2 := e.clock.Advance(time.Second)
	if err := e.b.Complete(e.ctx, h, nil); err != nil {
		t.Fatal(err)
	}
	requireLeaseEvents(t, sub,
		leaseEv(backend.LeaseAcquired, id, h.LeaseID(), "w-1", t0),
		leaseEv(backend.LeaseRenewed, id, h.LeaseID(), "w-1", t1),
		leaseEv(backend.LeaseRevoked, id, h.LeaseID(), "w-1", t2),
	)
	requireNoEvent(t, sub)
}

// TestLeaseHistoryExpiryAndReclaim: the expiry scanner reports the
// previous owner; the reclaiming Claim reports the new lease and owner;
// past the reclaim cap the lease is revoked and the execution fails.
func TestLeaseHistoryExpiryAndReclaim(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	sub := e.subscribeLease(nil, backend.ScannerFilter{})
	completions := e.subscribeCompletion(nil, backend.ScannerFilter{})
	id := e.create("lane", func(a *backend.CreateExecutionArgs) {
		a.Policy = &backend.ExecutionPolicy{MaxReclaimCount: 1}
	})
	t0 := e.now()
	h1 := e.mustClaim("lane")
	t1 := e.clock.Advance(time.Minute)
	e.tickLeaseExpiry()
	h2 := e.mustClaimAs("lane", workerPolicy("w-2"))
	if h2.Kind() != backend.HandleReclaimed {
		t.Fatalf("second claim kind %s, want reclaimed", h2.Kind())
	}
	t2 := e.clock.Advance(time.Minute)
	e.tickLeaseExpiry()
	if h := e.claim("lane"); h != nil {
		t.Fatalf("claimed past the reclaim cap: %v", h)
	}
	requireLeaseEvents(t, sub,
		leaseEv(backend.LeaseAcquired, id, h1.LeaseID(), "w-1", t0),
		leaseEv(backend.LeaseExpired, id, h1.LeaseID(), "w-1", t1),
		leaseEv(backend.LeaseReclaimed, id, h2.LeaseID(), "w-2", t1),
		leaseEv(backend.LeaseExpired, id, h2.LeaseID(), "w-2", t2),
		leaseEv(backend.LeaseRevoked, id, h2.LeaseID(), "w-2", t2),
	)
	if ev := nextEvent(t, completions); ev.ExecutionID != id || ev.Outcome != backend.CompletionFailure {
		t.Fatalf("completion after the reclaim cap = %+v", ev)
	}
}

// TestLeaseHistoryReleases: every way a lease ends without expiring is a
// revoked event about the holder's lease, in the same transaction.
func TestLeaseHistoryReleases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		act  func(s *susEnv, id backend.ExecutionID, h backend.Handle)
	}{
		{"Complete", func(s *susEnv, _ backend.ExecutionID, h backend.Handle) {
			mustOK(s.t, s.b.Complete(s.ctx, h, nil))
		}},
		{"FailRetry", func(s *susEnv, _ backend.ExecutionID, h backend.Handle) {
			mustOK(s.t, second(s.b.Fail(s.ctx, h, backend.FailureReason{}, backend.FailureTransient)))
		}},
		{"FailTerminal", func(s *susEnv, _ backend.ExecutionID, h backend.Handle) {
			mustOK(s.t, second(s.b.Fail(s.ctx, h, backend.FailureReason{}, backend.FailurePermanent)))
		}},
		{"Cancel", func(s *susEnv, _ backend.ExecutionID, h backend.Handle) {
			mustOK(s.t, s.b.Cancel(s.ctx, h, "x"))
		}},
		{"Delay", func(s *susEnv, _ backend.ExecutionID, h backend.Handle) {
			mustOK(s.t, s.b.Delay(s.ctx, h, s.now().Add(time.Hour)))
		}},
		{"WaitChildren", func(s *susEnv, _ backend.ExecutionID, h backend.Handle) {
			mustOK(s.t, s.b.WaitChildren(s.ctx, h))
		}},
		{"Suspend", func(s *susEnv, _ backend.ExecutionID, h backend.Handle) {
			wp := backend.FreshBinding()
			s.suspend(h, suspendArgs(backend.SingleCondition(wp.WaitpointKey, backend.ByName("go")), wp))
		}},
		{"RevokeLease", func(s *susEnv, id backend.ExecutionID, _ backend.Handle) {
			mustOK(s.t, second(s.b.RevokeLease(s.ctx, backend.RevokeLeaseArgs{ExecutionID: id})))
		}},
		{"CancelExecution", func(s *susEnv, id backend.ExecutionID, _ backend.Handle) {
			mustOK(s.t, second(s.b.CancelExecution(s.ctx, backend.CancelExecutionArgs{ExecutionID: id})))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSusEnv(t)
			sub := s.subscribeLease(nil, backend.ScannerFilter{})
			t0 := s.now()
			id, h := s.running()
			t1 := s.clock.Advance(time.Second)
			tt.act(s, id, h)
			requireLeaseEvents(t, sub,
				leaseEv(backend.LeaseAcquired, id, h.LeaseID(), "w-1", t0),
				leaseEv(backend.LeaseRevoked, id, h.LeaseID(), "w-1", t1),
			)
			requireNoEvent(t, sub)
		})
	}
}

// TestLeaseHistoryResumedClaim: the resumed lease is acquired by its new
// holder under the caller-minted lease id.
func TestLeaseHistoryResumedClaim(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, _, sus := s.suspendOn("go")
	s.deliver(signalArgs(id, sus.Details.WaitpointID, sus.Details.WaitpointToken, "go"))
	sub := s.subscribeLease(nil, backend.ScannerFilter{})
	res := s.claimResumed(id)
	requireLeaseEvents(t, sub, leaseEv(backend.LeaseAcquired, id, res.LeaseID, "w-2", s.now()))
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestLeaseHistoryGrantPaths: the scheduler primitives write the same
// events — ClaimExecution acquires under the caller's lease id; an
// operator reclaim reports the lapsed lease expired, then the new lease
// reclaimed.
func TestLeaseHistoryGrantPaths(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	sub := e.subscribeLease(nil, backend.ScannerFilter{})
	id := e.create("lane", nil)
	t0 := e.now()
	if _, err := e.b.IssueClaimGrant(e.ctx, grantArgs(id)); err != nil {
		t.Fatal(err)
	}
	claim := claimArgs(id)
	if _, err := e.b.ClaimExecution(e.ctx, claim); err != nil {
		t.Fatal(err)
	}
	t1 := e.clock.Advance(31 * time.Second)
	if out, err := e.b.IssueReclaimGrant(e.ctx, reclaimGrantArgs(id)); err != nil || out.Kind != backend.ReclaimGrantGranted {
		t.Fatalf("IssueReclaimGrant = %+v, %v", out, err)
	}
	res, err := e.b.ReclaimExecution(e.ctx, reclaimArgs(id))
	if err != nil || res.Handle == nil {
		t.Fatalf("ReclaimExecution = %+v, %v", res, err)
	}
	requireLeaseEvents(t, sub,
		leaseEv(backend.LeaseAcquired, id, claim.LeaseID, "w-1", t0),
		leaseEv(backend.LeaseExpired, id, claim.LeaseID, "w-1", t1),
		leaseEv(backend.LeaseReclaimed, id, res.Handle.LeaseID(), "w2-1", t1),
	)
	requireNoEvent(t, sub)
}
