package tests

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

// resumable suspends an execution and satisfies it.
func (s *susEnv) resumable() (backend.ExecutionID, backend.Handle) {
	s.t.Helper()
	id, h, sus := s.suspendOn("go")
	requireEffect(s.t, s.deliver(signalArgs(id, sus.Details.WaitpointID, sus.Details.WaitpointToken, "go")), backend.EffectResumeConditionSatisfied)
	return id, h
}

func TestClaimResumedExecution(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, h := s.resumable()
	s.clock.Advance(time.Second)
	leaseID := backend.NewLeaseID()
	res, err := s.b.ClaimResumedExecution(s.ctx, backend.ClaimResumedExecutionArgs{
		ExecutionID: id, WorkerID: "w", WorkerInstanceID: "w-2", LaneID: "elsewhere",
		LeaseID: leaseID, LeaseTTL: time.Minute, CurrentAttemptIndex: 9,
	})
	if err != nil {
		t.Fatal(err)
	}
	snap := s.describe(id)
	want := backend.ClaimResumedExecutionResult{
		AttemptID:      h.AttemptID(),
		AttemptIndex:   h.AttemptIndex(),
		ExecutionID:    id,
		Handle:         res.Handle,
		LeaseEpoch:     h.LeaseEpoch() + 2, // suspend fenced the old lease, the claim takes the next
		LeaseExpiresAt: s.now().Add(time.Minute),
		LeaseID:        leaseID,
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("result (-want +got)\n%s", diff)
	}
	p, err := res.Handle.Payload()
	if err != nil {
		t.Fatal(err)
	}
	wantP := backend.HandlePayload{AttemptID: h.AttemptID(), AttemptIndex: h.AttemptIndex(), ExecutionID: id,
		LaneID: "elsewhere", LeaseEpoch: want.LeaseEpoch, LeaseID: leaseID, LeaseTTL: time.Minute, WorkerInstanceID: "w-2"}
	if diff := cmp.Diff(wantP, p); diff != "" || res.Handle.Kind() != backend.HandleResumed {
		t.Fatalf("handle %s (-want +got)\n%s", res.Handle.Kind(), diff)
	}
	if snap.PublicState != backend.PublicStateActive || snap.CurrentLease == nil || snap.CurrentLease.LeaseID != leaseID ||
		snap.CurrentAttempt.AttemptID != h.AttemptID() || snap.TotalAttemptCount != 1 {
		t.Fatalf("snapshot = %+v, want active on the same attempt under the new lease", snap)
	}
	if got := s.leaseEvents(id); !cmp.Equal(got, []string{"acquired", "revoked", "acquired"}) {
		t.Fatalf("lease events = %v", got)
	}
	// The suspension row survives the claim: the worker sees what woke it.
	if got := signalNames(s.observe(res.Handle)); !cmp.Equal(got, []string{"go"}) {
		t.Fatalf("observed %v, want [go]", got)
	}
	if err := s.b.Complete(s.ctx, res.Handle, []byte("done")); err != nil {
		t.Fatalf("Complete with the resumed handle: %v", err)
	}
	if got := s.state(id); got != backend.PublicStateCompleted {
		t.Fatalf("state = %s, want completed", got)
	}
}

func TestClaimResumedExecutionErrors(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	suspended, _, _ := s.suspendOn("go")
	_, running := s.running()
	resumable, _ := s.resumable()
	before := s.dump()
	for _, id := range []backend.ExecutionID{suspended, running.ExecutionID()} {
		_, err := s.b.ClaimResumedExecution(s.ctx, backend.ClaimResumedExecutionArgs{ExecutionID: id, LeaseTTL: time.Minute})
		requireErr(t, "claim of a non-resumable execution", err, backend.ErrNotAResumedExecution)
	}
	_, err := s.b.ClaimResumedExecution(s.ctx, backend.ClaimResumedExecutionArgs{ExecutionID: backend.NewExecutionID()})
	if !isNotFound(err, backend.EntityExecution) {
		t.Fatalf("unknown execution: %v, want NotFound(execution)", err)
	}
	for _, args := range []backend.ClaimResumedExecutionArgs{
		{ExecutionID: "nope"},
		{ExecutionID: resumable, LeaseTTL: -time.Second},
		{ExecutionID: resumable, LeaseID: "nope"},
	} {
		_, err := s.b.ClaimResumedExecution(s.ctx, args)
		requireErr(t, "invalid args", err, backend.ErrInvalidInput)
	}
	s.requireUnchanged(before, "rejected resumed claims")

	// A minted lease id when none is given.
	res, err := s.b.ClaimResumedExecution(s.ctx, backend.ClaimResumedExecutionArgs{ExecutionID: resumable, LeaseTTL: time.Minute})
	if err != nil || res.LeaseID == "" || res.Handle.LeaseID() != res.LeaseID {
		t.Fatalf("claim without a lease id = %+v, %v", res, err)
	}
	_, err = s.b.ClaimResumedExecution(s.ctx, backend.ClaimResumedExecutionArgs{ExecutionID: resumable, LeaseTTL: time.Minute})
	requireErr(t, "second claim", err, backend.ErrNotAResumedExecution)
}

// TestClaimSkipsResumable: a resumable execution continues its suspended
// attempt through the resumed-claim paths only; a fresh Claim of its lane
// passes it by.
func TestClaimSkipsResumable(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, _ := s.resumable()
	if h := s.claim(susLane); h != nil {
		t.Fatalf("Claim took %s (state %s), want nothing", h.ExecutionID(), s.state(h.ExecutionID()))
	}
	later := s.create(susLane, func(a *backend.CreateExecutionArgs) { a.Priority = 0 })
	if h := s.mustClaim(susLane); h.ExecutionID() != later {
		t.Fatalf("Claim took %s, want %s", h.ExecutionID(), later)
	}
	if got := s.state(id); got != backend.PublicStateResumable {
		t.Fatalf("state = %s, want resumable", got)
	}
	s.claimResumed(id)
}

func TestClaimFromResumeGrantSuspension(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	token := func(id backend.ExecutionID) backend.ResumeToken {
		return backend.ResumeToken{Grant: backend.ResumeGrant{ExecutionID: id, LaneID: susLane}, WorkerID: "w", WorkerInstanceID: "w-3", LeaseTTL: time.Minute}
	}

	id, h := s.resumable()
	got, err := s.b.ClaimFromResumeGrant(s.ctx, token(id))
	if err != nil || got == nil {
		t.Fatalf("ClaimFromResumeGrant(resumable) = %v, %v", got, err)
	}
	if got.Kind() != backend.HandleResumed || got.AttemptIndex() != h.AttemptIndex() || got.LeaseEpoch() != h.LeaseEpoch()+2 {
		t.Fatalf("handle = %v", got)
	}
	if s.state(id) != backend.PublicStateActive {
		t.Fatalf("state = %s, want active", s.state(id))
	}
	if ev := s.leaseEvents(id); ev[len(ev)-1] != "reclaimed" {
		t.Fatalf("lease events = %v, want a final reclaimed", ev)
	}

	// A live lease or a terminal execution: nil, nothing written.
	before := s.dump()
	if got, err := s.b.ClaimFromResumeGrant(s.ctx, token(id)); got != nil || err != nil {
		t.Fatalf("grant on a live lease = %v, %v; want nil, nil", got, err)
	}
	if err := s.b.Complete(s.ctx, *got, nil); err != nil {
		t.Fatal(err)
	}
	before = s.dump()
	if got, err := s.b.ClaimFromResumeGrant(s.ctx, token(id)); got != nil || err != nil {
		t.Fatalf("grant on a terminal execution = %v, %v; want nil, nil", got, err)
	}
	s.requireUnchanged(before, "an unhonoured grant")

	// A still-suspended execution is taken over: its waitpoints close so a
	// later signal cannot touch the running execution.
	sid, _, sus := s.suspendOn("go")
	taken, err := s.b.ClaimFromResumeGrant(s.ctx, token(sid))
	if err != nil || taken == nil {
		t.Fatalf("grant on a suspended execution = %v, %v", taken, err)
	}
	if got := s.waitpointState(sus.Details.WaitpointID); got != "closed:resumed" {
		t.Fatalf("waitpoint = %s, want closed:resumed", got)
	}
	_, err = s.b.DeliverSignal(s.ctx, signalArgs(sid, sus.Details.WaitpointID, sus.Details.WaitpointToken, "go"))
	requireErr(t, "signal after the takeover", err, backend.ErrWaitpointClosed)

	// No attempt at all.
	fresh := s.create("other-lane", nil)
	_, err = s.b.ClaimFromResumeGrant(s.ctx, token(fresh))
	requireErr(t, "execution without attempts", err, notFoundAttempt)
}

func TestListSuspended(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	var ids []backend.ExecutionID
	var times []time.Time
	for i := range 4 {
		id, _, _ := s.suspendOn("go")
		ids, times = append(ids, id), append(times, s.now())
		if i < 3 {
			s.clock.Advance(time.Second)
		}
	}
	// A resumed execution keeps its suspension row but is not listed.
	s.clock.Advance(time.Second)
	resumed, _ := s.resumable()

	var got []backend.SuspendedExecutionEntry
	cursor := backend.ExecutionID("")
	for {
		page, err := s.b.ListSuspended(s.ctx, backend.DefaultPartitionKey, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Items...)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	var want []backend.SuspendedExecutionEntry
	for i, id := range ids {
		want = append(want, backend.SuspendedExecutionEntry{ExecutionID: id, Reason: backend.ReasonWaitingForSignal, SuspendedAt: times[i]})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("listed (-want +got)\n%s", diff)
	}

	// A cursor whose execution resumed still pages by its suspension time;
	// one with no suspension row at all pages by id.
	page, err := s.b.ListSuspended(s.ctx, backend.DefaultPartitionKey, resumed, 10)
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("page after the newest suspension = %+v, %v", page, err)
	}
	unknown := backend.NewExecutionID()
	if page, err = s.b.ListSuspended(s.ctx, backend.DefaultPartitionKey, unknown, 10); err != nil {
		t.Fatal(err)
	}
	wantAfter := []backend.SuspendedExecutionEntry{}
	for _, w := range want {
		if w.ExecutionID > unknown {
			wantAfter = append(wantAfter, w)
		}
	}
	if diff := cmp.Diff(wantAfter, page.Items); diff != "" {
		t.Fatalf("page after an id without a suspension (-want +got)\n%s", diff)
	}

	for _, limit := range []int{0, -1} {
		page, err := s.b.ListSuspended(s.ctx, "garbage", "", limit)
		if err != nil || page.Items == nil || len(page.Items) != 0 || page.Next != "" {
			t.Fatalf("limit %d = %+v, %v; want an empty page", limit, page, err)
		}
	}
	for _, tc := range []struct {
		partition backend.PartitionKey
		cursor    backend.ExecutionID
	}{{"garbage", ""}, {"{b:0}", ""}, {backend.DefaultPartitionKey, "nope"}} {
		_, err := s.b.ListSuspended(s.ctx, tc.partition, tc.cursor, 10)
		requireErr(t, "ListSuspended("+string(tc.partition)+")", err, backend.ErrInvalidInput)
	}
	if page, err := s.b.ListSuspended(s.ctx, "{fp:1}", "", 10); err != nil || len(page.Items) != 0 {
		t.Fatalf("another partition = %+v, %v; want empty", page, err)
	}
}
