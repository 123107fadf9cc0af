package tests

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

var fp0 = backend.Partition{Family: backend.PartitionFamilyFlow, Index: 0}

func TestScanEligibleExecutionsInClaimOrder(t *testing.T) {
	e := newExecEnv(t)
	low := e.create("lane", func(a *backend.CreateExecutionArgs) { a.Priority = 1 })
	high := e.create("lane", func(a *backend.CreateExecutionArgs) { a.Priority = 50 })
	e.create("other", nil)
	got, err := e.b.ScanEligibleExecutions(e.ctx, backend.ScanEligibleArgs{LaneID: "lane", Partition: fp0, Limit: 10})
	if err != nil || len(got) != 2 || got[0] != high || got[1] != low {
		t.Fatalf("scan = %v, %v; want [%s %s]", got, err, high, low)
	}
	if got, err := e.b.ScanEligibleExecutions(e.ctx, backend.ScanEligibleArgs{LaneID: "lane", Partition: fp0, Limit: 1}); err != nil || len(got) != 1 {
		t.Fatalf("scan limit 1 = %v, %v", got, err)
	}
	if got, err := e.b.ScanEligibleExecutions(e.ctx, backend.ScanEligibleArgs{LaneID: "lane", Partition: fp0}); err != nil || len(got) != 0 {
		t.Fatalf("scan limit 0 = %v, %v", got, err)
	}
}

func grantArgs(id backend.ExecutionID, caps ...string) backend.IssueClaimGrantArgs {
	return backend.IssueClaimGrantArgs{
		ExecutionID: id, LaneID: "lane", Partition: fp0, GrantTTL: 10 * time.Second,
		WorkerID: "w", WorkerInstanceID: "w-1", WorkerCapabilities: caps,
	}
}

func claimArgs(id backend.ExecutionID) backend.ClaimExecutionArgs {
	return backend.ClaimExecutionArgs{
		ExecutionID: id, LaneID: "lane", LeaseTTL: 30 * time.Second,
		WorkerID: "w", WorkerInstanceID: "w-1",
		AttemptID: backend.NewAttemptID(), LeaseID: backend.NewLeaseID(),
	}
}

func TestClaimGrantLifecycle(t *testing.T) {
	e := newExecEnv(t)
	id := e.create("lane", func(a *backend.CreateExecutionArgs) {
		a.Policy = &backend.ExecutionPolicy{RoutingRequirements: &backend.RoutingRequirements{RequiredCapabilities: []string{"gpu", "x86"}}}
	})
	if _, err := e.b.ClaimExecution(e.ctx, claimArgs(id)); !errors.Is(err, backend.ErrInvalidClaimGrant) {
		t.Fatalf("claim without grant = %v, want ErrInvalidClaimGrant", err)
	}
	_, err := e.b.IssueClaimGrant(e.ctx, grantArgs(id, "gpu"))
	var ee *backend.Error
	if !errors.Is(err, backend.ErrCapabilityMismatch) || !errors.As(err, &ee) || ee.Detail != "x86" {
		t.Fatalf("grant with missing caps = %v, want ErrCapabilityMismatch naming x86", err)
	}
	wrongPartition := grantArgs(id, "gpu", "x86")
	wrongPartition.Partition.Index = 3
	if _, err := e.b.IssueClaimGrant(e.ctx, wrongPartition); !errors.Is(err, backend.ErrInvalidInput) {
		t.Fatalf("grant for another partition = %v, want ErrInvalidInput", err)
	}
	if _, err := e.b.IssueClaimGrant(e.ctx, grantArgs(backend.NewExecutionID())); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("grant for unknown = %v, want ErrNotFound", err)
	}
	if _, err := e.b.IssueClaimGrant(e.ctx, grantArgs(id, "gpu", "x86")); err != nil {
		t.Fatalf("IssueClaimGrant: %v", err)
	}
	if _, err := e.b.IssueClaimGrant(e.ctx, grantArgs(id, "gpu", "x86")); !errors.Is(err, backend.ErrGrantAlreadyExists) {
		t.Fatalf("second grant = %v, want ErrGrantAlreadyExists", err)
	}
	other := claimArgs(id)
	other.WorkerID = "intruder"
	if _, err := e.b.ClaimExecution(e.ctx, other); !errors.Is(err, backend.ErrInvalidClaimGrant) {
		t.Fatalf("claim by another worker = %v, want ErrInvalidClaimGrant", err)
	}
	args := claimArgs(id)
	res, err := e.b.ClaimExecution(e.ctx, args)
	if err != nil {
		t.Fatalf("ClaimExecution: %v", err)
	}
	if res.AttemptIndex != 0 || res.LeaseEpoch != 1 || res.AttemptID != args.AttemptID || res.LeaseID != args.LeaseID || res.Handle.Kind() != backend.HandleFresh {
		t.Fatalf("claim result = %+v", res)
	}
	if n, _ := e.b.ReadCurrentAttemptIndex(e.ctx, id); n != 0 {
		t.Fatalf("current attempt index after grant claim = %d, want 0 (the leased attempt)", n)
	}
	// The grant was single use.
	if _, err := e.b.ClaimExecution(e.ctx, claimArgs(id)); !errors.Is(err, backend.ErrExecutionNotActive) {
		t.Fatalf("second ClaimExecution = %v, want ErrExecutionNotActive", err)
	}
	if err := e.b.Complete(e.ctx, res.Handle, nil); err != nil {
		t.Fatalf("Complete with the grant-claimed handle: %v", err)
	}
}

func TestClaimGrantExpiry(t *testing.T) {
	e := newExecEnv(t)
	id := e.create("lane", nil)
	if _, err := e.b.IssueClaimGrant(e.ctx, grantArgs(id)); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(11 * time.Second)
	if _, err := e.b.ClaimExecution(e.ctx, claimArgs(id)); !errors.Is(err, backend.ErrClaimGrantExpired) {
		t.Fatalf("claim with expired grant = %v, want ErrClaimGrantExpired", err)
	}
	// An expired grant does not block a new one.
	if _, err := e.b.IssueClaimGrant(e.ctx, grantArgs(id)); err != nil {
		t.Fatalf("grant after expiry: %v", err)
	}
}

func TestBlockRoute(t *testing.T) {
	e := newExecEnv(t)
	id := e.create("lane", nil)
	out, err := e.b.BlockRoute(e.ctx, backend.BlockRouteArgs{ExecutionID: id, ReasonCode: backend.BlockingWaitingForSignal})
	if err != nil || out.Kind != backend.BlockRouteRejected || out.Message != "invalid_blocking_reason" {
		t.Fatalf("bad reason = %+v, %v", out, err)
	}
	out, err = e.b.BlockRoute(e.ctx, backend.BlockRouteArgs{ExecutionID: id, ReasonCode: backend.BlockingWaitingForQuota})
	if err != nil || out.Kind != backend.BlockRouteBlocked {
		t.Fatalf("block = %+v, %v", out, err)
	}
	if got := e.state(id); got != backend.PublicStateRateLimited {
		t.Fatalf("state = %s, want rate_limited", got)
	}
	if h := e.claim("lane"); h != nil {
		t.Fatalf("claimed a blocked execution: %s", h)
	}
	if _, err := e.b.BlockRoute(e.ctx, backend.BlockRouteArgs{ExecutionID: id, ReasonCode: backend.BlockingPausedByOperator}); err != nil {
		t.Fatal(err)
	}
	if got := e.state(id); got != backend.PublicStateWaiting {
		t.Fatalf("state after operator pause = %s, want waiting", got)
	}
	active := e.create("lane2", nil)
	e.mustClaim("lane2")
	out, err = e.b.BlockRoute(e.ctx, backend.BlockRouteArgs{ExecutionID: active, ReasonCode: backend.BlockingWaitingForQuota})
	if err != nil || out.Message != "execution_not_eligible" {
		t.Fatalf("block active = %+v, %v", out, err)
	}
}

func reclaimGrantArgs(id backend.ExecutionID) backend.IssueReclaimGrantArgs {
	return backend.IssueReclaimGrantArgs{ExecutionID: id, LaneID: "lane", GrantTTL: 10 * time.Second, WorkerID: "w2", WorkerInstanceID: "w2-1"}
}

func reclaimArgs(id backend.ExecutionID) backend.ReclaimExecutionArgs {
	return backend.ReclaimExecutionArgs{ExecutionID: id, LaneID: "lane", LeaseTTL: 30 * time.Second, WorkerID: "w2", WorkerInstanceID: "w2-1"}
}

func TestReclaimGrantPath(t *testing.T) {
	e := newExecEnv(t)
	id := e.create("lane", nil)
	out, err := e.b.IssueReclaimGrant(e.ctx, reclaimGrantArgs(id))
	if err != nil || out.Kind != backend.ReclaimGrantNotReclaimable {
		t.Fatalf("grant for queued = %+v, %v", out, err)
	}
	old := e.mustClaim("lane")
	out, err = e.b.IssueReclaimGrant(e.ctx, reclaimGrantArgs(id))
	if err != nil || out.Kind != backend.ReclaimGrantNotReclaimable {
		t.Fatalf("grant for a live lease = %+v, %v", out, err)
	}
	if res, err := e.b.ReclaimExecution(e.ctx, reclaimArgs(id)); err != nil || res.Kind != backend.ReclaimGrantNotFound {
		t.Fatalf("reclaim without grant = %+v, %v", res, err)
	}
	e.clock.Advance(31 * time.Second)
	// The lapsed lease is marked expired by the grant itself (no scanner ran).
	out, err = e.b.IssueReclaimGrant(e.ctx, reclaimGrantArgs(id))
	if err != nil || out.Kind != backend.ReclaimGrantGranted || out.Grant == nil || out.Grant.ExecutionID != id {
		t.Fatalf("grant after expiry = %+v, %v", out, err)
	}
	wrong := reclaimArgs(id)
	wrong.WorkerID = "intruder"
	if _, err := e.b.ReclaimExecution(e.ctx, wrong); !errors.Is(err, backend.ErrInvalidInput) {
		t.Fatalf("reclaim by another worker = %v, want ErrInvalidInput", err)
	}
	res, err := e.b.ReclaimExecution(e.ctx, reclaimArgs(id))
	if err != nil || res.Kind != backend.ReclaimClaimed || res.Handle == nil {
		t.Fatalf("reclaim = %+v, %v", res, err)
	}
	h := *res.Handle
	if h.Kind() != backend.HandleReclaimed || h.AttemptIndex() != 1 || h.WorkerInstanceID() != "w2-1" {
		t.Fatalf("reclaimed handle = %s", h)
	}
	if err := e.b.Complete(e.ctx, old, nil); !errors.Is(err, backend.ErrStaleLease) {
		t.Fatalf("old holder Complete = %v, want ErrStaleLease", err)
	}
	if err := e.b.Complete(e.ctx, h, nil); err != nil {
		t.Fatalf("new holder Complete: %v", err)
	}
	if res, err := e.b.ReclaimExecution(e.ctx, reclaimArgs(id)); err != nil || res.Kind != backend.ReclaimGrantNotFound {
		t.Fatalf("grant reuse = %+v, %v; want grant_not_found", res, err)
	}
}

func TestReclaimGrantExpiresAndCap(t *testing.T) {
	e := newExecEnv(t)
	id := e.create("lane", nil)
	e.mustClaim("lane")
	e.clock.Advance(31 * time.Second)
	if out, err := e.b.IssueReclaimGrant(e.ctx, reclaimGrantArgs(id)); err != nil || out.Kind != backend.ReclaimGrantGranted {
		t.Fatalf("grant = %+v, %v", out, err)
	}
	e.clock.Advance(11 * time.Second)
	if res, err := e.b.ReclaimExecution(e.ctx, reclaimArgs(id)); err != nil || res.Kind != backend.ReclaimGrantNotFound {
		t.Fatalf("reclaim with expired grant = %+v, %v", res, err)
	}
	if _, err := e.b.IssueReclaimGrant(e.ctx, reclaimGrantArgs(id)); err != nil {
		t.Fatal(err)
	}
	capped := reclaimArgs(id)
	capped.MaxReclaimCount = 1
	if res, err := e.b.ReclaimExecution(e.ctx, capped); err != nil || res.Kind != backend.ReclaimClaimed {
		t.Fatalf("first reclaim = %+v, %v", res, err)
	}
	e.clock.Advance(31 * time.Second)
	if _, err := e.b.IssueReclaimGrant(e.ctx, reclaimGrantArgs(id)); err != nil {
		t.Fatal(err)
	}
	res, err := e.b.ReclaimExecution(e.ctx, capped)
	if err != nil || res.Kind != backend.ReclaimReclaimCapExceeded || res.ReclaimCount != 1 {
		t.Fatalf("reclaim past cap = %+v, %v", res, err)
	}
	if got := e.state(id); got != backend.PublicStateFailed {
		t.Fatalf("state past cap = %s, want failed", got)
	}
}

func TestClaimFromResumeGrant(t *testing.T) {
	e := newExecEnv(t)
	id := e.create("lane", nil)
	token := backend.ResumeToken{Grant: backend.ResumeGrant{ExecutionID: id, LaneID: "lane"}, LeaseTTL: 30 * time.Second, WorkerID: "w3", WorkerInstanceID: "w3-1"}
	if _, err := e.b.ClaimFromResumeGrant(e.ctx, token); !errors.Is(err, &backend.Error{Kind: backend.KindNotFound, Entity: backend.EntityAttempt}) {
		t.Fatalf("resume grant before any attempt = %v, want NotFound(attempt)", err)
	}
	old := e.mustClaim("lane")
	if h, err := e.b.ClaimFromResumeGrant(e.ctx, token); err != nil || h != nil {
		t.Fatalf("resume grant on a live lease = %v, %v; want nil", h, err)
	}
	e.clock.Advance(31 * time.Second)
	h, err := e.b.ClaimFromResumeGrant(e.ctx, token)
	if err != nil || h == nil {
		t.Fatalf("resume grant after expiry = %v, %v", h, err)
	}
	if h.Kind() != backend.HandleResumed || h.AttemptIndex() != 0 || h.LeaseEpoch() != old.LeaseEpoch()+1 {
		t.Fatalf("resumed handle = %s", h)
	}
	// The lapsed lease is recorded as expired before the takeover.
	rows, err := openRaw(t, e.path).Query("SELECT event_type FROM ff_lease_event WHERE execution_id = ? ORDER BY event_id", string(id))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, k)
	}
	if diff := cmp.Diff([]string{"acquired", "expired", "reclaimed"}, kinds); diff != "" {
		t.Fatalf("lease history (-want +got)\n%s", diff)
	}
	if err := e.b.Complete(e.ctx, old, nil); !errors.Is(err, backend.ErrStaleLease) {
		t.Fatalf("old handle = %v, want ErrStaleLease", err)
	}
	if err := e.b.Complete(e.ctx, *h, nil); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if h, err := e.b.ClaimFromResumeGrant(e.ctx, token); err != nil || h != nil {
		t.Fatalf("resume grant on terminal = %v, %v; want nil", h, err)
	}
}
