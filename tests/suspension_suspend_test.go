package tests

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

func TestSuspend(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, h := s.running()
	now := s.now()
	wp := backend.FreshBindingWithKey("approval")
	extra := backend.FreshBindingWithKey("audit")
	args := suspendArgs(backend.AllOfCondition(
		backend.SingleCondition("approval", backend.ByName("approved")),
		backend.SingleCondition("audit", backend.Wildcard()),
	), wp, extra)
	args.ReasonCode = backend.ReasonWaitingForApproval
	args.TimeoutAt = now.Add(time.Hour)
	args.TimeoutBehavior = backend.TimeoutCancel

	out := s.suspend(h, args)

	if out.Kind != backend.SuspendSuspended || out.Handle == nil {
		t.Fatalf("Suspend = %+v, want suspended with a handle", out)
	}
	if out.Details.WaitpointToken.Kid() != susKid || out.Details.AdditionalWaitpoints[0].WaitpointToken.Kid() != susKid {
		t.Fatalf("tokens not minted under %s: %v", susKid, out.Details)
	}
	if out.Details.WaitpointToken == out.Details.AdditionalWaitpoints[0].WaitpointToken {
		t.Fatal("two waitpoints got the same token")
	}
	wantDetails := backend.SuspendOutcomeDetails{
		SuspensionID:   args.SuspensionID,
		WaitpointID:    wp.WaitpointID,
		WaitpointKey:   "approval",
		WaitpointToken: out.Details.WaitpointToken,
		AdditionalWaitpoints: []backend.AdditionalWaitpointBinding{
			{WaitpointID: extra.WaitpointID, WaitpointKey: "audit", WaitpointToken: out.Details.AdditionalWaitpoints[0].WaitpointToken},
		},
	}
	if diff := cmp.Diff(wantDetails, out.Details); diff != "" {
		t.Fatalf("details (-want +got)\n%s", diff)
	}
	// The Suspended handle carries the pre-suspend lease.
	if out.Handle.Kind() != backend.HandleSuspended || out.Handle.LeaseEpoch() != h.LeaseEpoch() || out.Handle.LeaseID() != h.LeaseID() {
		t.Fatalf("suspended handle = %v, want kind suspended with the pre-suspend lease of %v", out.Handle, h)
	}
	for _, hh := range []backend.Handle{h, *out.Handle} {
		_, err := s.b.Renew(s.ctx, hh)
		requireErr(t, "Renew with a pre-suspend handle", err, backend.ErrStaleLease)
	}

	wantVector := backend.StateVector{
		AttemptState:     backend.AttemptStateAttemptInterrupted,
		BlockingReason:   backend.BlockingWaitingForApproval,
		EligibilityState: backend.EligibilityNotApplicable,
		LifecyclePhase:   backend.PhaseSuspended,
		OwnershipState:   backend.OwnershipUnowned,
		PublicState:      backend.PublicStateSuspended,
		TerminalOutcome:  backend.OutcomeNone,
	}
	if diff := cmp.Diff(wantVector, s.info(id).StateVector); diff != "" {
		t.Fatalf("state vector (-want +got)\n%s", diff)
	}
	snap := s.describe(id)
	if snap.CurrentWaitpoint != wp.WaitpointID || snap.BlockingReason != backend.BlockingWaitingForApproval || snap.CurrentLease != nil {
		t.Fatalf("snapshot = current waitpoint %q, blocking %q, lease %v; want %s, waiting_for_approval, none",
			snap.CurrentWaitpoint, snap.BlockingReason, snap.CurrentLease, wp.WaitpointID)
	}
	if got := s.leaseEvents(id); !cmp.Equal(got, []string{"acquired", "revoked"}) {
		t.Fatalf("lease events = %v, want [acquired revoked]", got)
	}

	digest := func(tok backend.WaitpointToken) string { return strings.SplitN(tok.Raw(), ":", 2)[1] }
	want := []backend.PendingWaitpointInfo{
		{WaitpointID: wp.WaitpointID, WaitpointKey: "approval", RequiredSignalNames: []string{"approved"},
			TokenFingerprint: digest(out.Details.WaitpointToken)[:16]},
		{WaitpointID: extra.WaitpointID, WaitpointKey: "audit", RequiredSignalNames: []string{},
			TokenFingerprint: digest(out.Details.AdditionalWaitpoints[0].WaitpointToken)[:16]},
	}
	for i := range want {
		want[i].State = backend.WaitpointActive
		want[i].ActivatedAt, want[i].CreatedAt, want[i].ExpiresAt = now, now, now.Add(time.Hour)
		want[i].ExecutionID = id
		want[i].TokenKid = susKid
	}
	if want[1].WaitpointID < want[0].WaitpointID {
		want[0], want[1] = want[1], want[0]
	}
	if diff := cmp.Diff(want, s.waitpoints(id)); diff != "" {
		t.Fatalf("waitpoints (-want +got)\n%s", diff)
	}
}

func TestSuspendValidation(t *testing.T) {
	t.Parallel()
	wp := backend.FreshBindingWithKey("k")
	single := backend.SingleCondition("k", backend.Wildcard())
	nest := func(c backend.ResumeCondition, n int) backend.ResumeCondition {
		for range n {
			c = backend.AllOfCondition(c)
		}
		return c
	}
	tests := []struct {
		name string
		mod  func(a *backend.SuspendArgs)
	}{
		{"ErrNoWaitpoints", func(a *backend.SuspendArgs) { a.Waitpoints = nil }},
		{"ErrBadSuspensionID", func(a *backend.SuspendArgs) { a.SuspensionID = "nope" }},
		{"ErrEmptySuspensionID", func(a *backend.SuspendArgs) { a.SuspensionID = "" }},
		{"ErrBadWaitpointID", func(a *backend.SuspendArgs) { a.Waitpoints[0].WaitpointID = "nope" }},
		{"ErrUnknownBindingKind", func(a *backend.SuspendArgs) { a.Waitpoints[0].Kind = "" }},
		{"ErrAdditionalNotFresh", func(a *backend.SuspendArgs) {
			a.Waitpoints = append(a.Waitpoints, backend.WaitpointBinding{Kind: backend.BindingUsePending, WaitpointID: backend.NewWaitpointID()})
		}},
		{"ErrAdditionalEmptyKey", func(a *backend.SuspendArgs) {
			a.Waitpoints = append(a.Waitpoints, backend.FreshBindingWithKey(""))
		}},
		{"ErrDuplicateBinding", func(a *backend.SuspendArgs) {
			a.Waitpoints = append(a.Waitpoints, backend.WaitpointBinding{Kind: backend.BindingFresh, WaitpointID: wp.WaitpointID, WaitpointKey: "k2"})
		}},
		{"ErrNoReasonCode", func(a *backend.SuspendArgs) { a.ReasonCode = "" }},
		{"ErrUnknownReasonCode", func(a *backend.SuspendArgs) { a.ReasonCode = "bored" }},
		{"ErrUnknownRequester", func(a *backend.SuspendArgs) { a.RequestedBy = "someone" }},
		{"ErrUnknownTimeoutBehavior", func(a *backend.SuspendArgs) { a.TimeoutBehavior = "explode" }},
		{"ErrKeyMismatch", func(a *backend.SuspendArgs) { a.ResumeCondition = backend.SingleCondition("other", backend.Wildcard()) }},
		{"ErrTimeoutOnlyWithoutDeadline", func(a *backend.SuspendArgs) { a.ResumeCondition = backend.TimeoutOnlyCondition() }},
		{"ErrEmptyByName", func(a *backend.SuspendArgs) { a.ResumeCondition = backend.SingleCondition("k", backend.ByName("")) }},
		{"ErrUnknownMatcher", func(a *backend.SuspendArgs) {
			a.ResumeCondition = backend.SingleCondition("k", backend.SignalMatcher{Kind: "regex"})
		}},
		{"ErrUnknownConditionKind", func(a *backend.SuspendArgs) { a.ResumeCondition = backend.ResumeCondition{} }},
		{"ErrAllOfEmpty", func(a *backend.SuspendArgs) { a.ResumeCondition = backend.AllOfCondition() }},
		{"ErrCountZero", func(a *backend.SuspendArgs) {
			a.ResumeCondition = backend.CountCondition(0, backend.CountDistinctSignals, backend.Wildcard(), "k")
		}},
		{"ErrCountNoWaitpoints", func(a *backend.SuspendArgs) {
			a.ResumeCondition = backend.CountCondition(1, backend.CountDistinctSignals, backend.Wildcard())
		}},
		{"ErrCountUnknownKind", func(a *backend.SuspendArgs) {
			a.ResumeCondition = backend.CountCondition(1, "most", backend.Wildcard(), "k")
		}},
		{"ErrCountExceedsWaitpoints", func(a *backend.SuspendArgs) {
			a.ResumeCondition = backend.CountCondition(2, backend.CountDistinctWaitpoints, backend.Wildcard(), "k")
		}},
		{"ErrTooDeep", func(a *backend.SuspendArgs) { a.ResumeCondition = nest(single, backend.MaxCompositeDepth+1) }},
		{"ErrTimeoutLongPast", func(a *backend.SuspendArgs) { a.TimeoutAt = backend.FakeClockStartDefault.Add(-11 * time.Minute) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSusEnv(t)
			_, h := s.running()
			args := suspendArgs(single, wp)
			tt.mod(&args)
			before := s.dump()
			_, err := s.b.Suspend(s.ctx, h, args)
			requireErr(t, "Suspend", err, backend.ErrInvalidInput)
			s.requireUnchanged(before, "a rejected Suspend")
		})
	}

	// The limits themselves are accepted.
	s := newSusEnv(t)
	for _, tc := range []struct {
		name string
		args backend.SuspendArgs
	}{
		{"MaxDepth", suspendArgs(nest(single, backend.MaxCompositeDepth), backend.FreshBindingWithKey("k"))},
		{"TimeoutRecentPast", func() backend.SuspendArgs {
			a := suspendArgs(single, backend.FreshBindingWithKey("k"))
			a.TimeoutAt = s.now().Add(-9 * time.Minute)
			return a
		}()},
		{"TimeoutOnlyWithDeadline", func() backend.SuspendArgs {
			a := suspendArgs(backend.TimeoutOnlyCondition(), backend.FreshBindingWithKey("k"))
			a.TimeoutAt = s.now().Add(time.Minute)
			return a
		}()},
		{"EmptyPrimaryKey", suspendArgs(backend.OperatorOnlyCondition(), backend.FreshBindingWithKey(""))},
	} {
		_, h := s.running()
		if _, err := s.b.Suspend(s.ctx, h, tc.args); err != nil {
			t.Errorf("%s: Suspend: %v", tc.name, err)
		}
	}
}

func TestSuspendLeaseErrors(t *testing.T) {
	t.Parallel()
	cond := backend.SingleCondition("k", backend.Wildcard())
	tests := []struct {
		name  string
		setup func(s *susEnv, h backend.Handle) backend.Handle
		want  error
	}{
		{"ErrRevoked", func(s *susEnv, h backend.Handle) backend.Handle {
			if _, err := s.b.RevokeLease(s.ctx, backend.RevokeLeaseArgs{ExecutionID: h.ExecutionID()}); err != nil {
				t.Fatal(err)
			}
			return h
		}, backend.ErrStaleLease},
		{"ErrOtherEpoch", func(s *susEnv, h backend.Handle) backend.Handle {
			return forged(t, h, backend.BackendSQLite, func(p *backend.HandlePayload) { p.LeaseEpoch++ })
		}, backend.ErrStaleLease},
		{"ErrOtherLeaseID", func(s *susEnv, h backend.Handle) backend.Handle {
			return forged(t, h, backend.BackendSQLite, func(p *backend.HandlePayload) { p.LeaseID = backend.NewLeaseID() })
		}, backend.ErrStaleLease},
		{"ErrExpired", func(s *susEnv, h backend.Handle) backend.Handle {
			s.clock.Advance(31 * time.Second)
			return h
		}, backend.ErrLeaseExpired},
		{"ErrCompleted", func(s *susEnv, h backend.Handle) backend.Handle {
			if err := s.b.Complete(s.ctx, h, nil); err != nil {
				t.Fatal(err)
			}
			return h
		}, backend.ErrExecutionNotActive},
		{"ErrForeignHandle", func(s *susEnv, h backend.Handle) backend.Handle {
			return forged(t, h, backend.BackendValkey, nil)
		}, backend.ErrHandleFromOtherBackend},
		{"ErrCorruptHandle", func(s *susEnv, h backend.Handle) backend.Handle {
			return backend.NewHandle(backend.BackendSQLite, h.Kind(), []byte{1, 2, 3})
		}, backend.ErrCorruption},
		{"ErrUnknownAttempt", func(s *susEnv, h backend.Handle) backend.Handle {
			return forged(t, h, backend.BackendSQLite, func(p *backend.HandlePayload) { p.AttemptIndex = 7 })
		}, notFoundAttempt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSusEnv(t)
			_, h := s.running()
			bad := tt.setup(s, h)
			before := s.dump()
			_, err := s.b.Suspend(s.ctx, bad, suspendArgs(cond, backend.FreshBindingWithKey("k")))
			requireErr(t, "Suspend", err, tt.want)
			if !errors.Is(tt.want, backend.ErrLeaseExpired) {
				// An expired lease is marked expired (committed) first.
				s.requireUnchanged(before, "a rejected Suspend")
			}
			before = s.dump()
			_, err = s.b.CreateWaitpoint(s.ctx, bad, "k", time.Hour)
			requireErr(t, "CreateWaitpoint", err, tt.want)
			s.requireUnchanged(before, "a rejected CreateWaitpoint")
		})
	}
}

func TestSuspendIdempotency(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, h := s.running()
	wp := backend.FreshBindingWithKey("k")
	args := suspendArgs(backend.SingleCondition("k", backend.Wildcard()), wp)
	args.IdempotencyKey = "step-1"
	first := s.suspend(h, args)

	// A retry with the now-stale handle, even with other arguments, gets
	// the first outcome and writes nothing.
	before := s.dump()
	retry := args
	retry.SuspensionID = backend.NewSuspensionID()
	retry.Waitpoints = []backend.WaitpointBinding{backend.FreshBindingWithKey("k")}
	again := s.suspend(h, retry)
	if diff := cmp.Diff(first, again); diff != "" {
		t.Fatalf("replayed outcome (-first +replay)\n%s", diff)
	}
	s.requireUnchanged(before, "a replayed Suspend")

	// Without the key the stale handle is refused.
	_, err := s.b.Suspend(s.ctx, h, suspendArgs(backend.SingleCondition("k", backend.Wildcard()), backend.FreshBindingWithKey("k")))
	requireErr(t, "unkeyed Suspend with a stale handle", err, backend.ErrStaleLease)

	// The replay also works after the execution resumed.
	requireEffect(t, s.deliver(signalArgs(id, wp.WaitpointID, first.Details.WaitpointToken, "x")), backend.EffectResumeConditionSatisfied)
	if diff := cmp.Diff(first, s.suspend(h, args)); diff != "" {
		t.Fatalf("replay after resume (-first +replay)\n%s", diff)
	}

	// Keys are scoped per execution.
	_, h2 := s.running()
	args2 := suspendArgs(backend.SingleCondition("k", backend.Wildcard()), backend.FreshBindingWithKey("k"))
	args2.IdempotencyKey = "step-1"
	other := s.suspend(h2, args2)
	if other.Details.SuspensionID != args2.SuspensionID || other.Handle.ExecutionID() != h2.ExecutionID() {
		t.Fatalf("second execution got %+v, want its own suspension", other)
	}
}

func TestSuspendBindingErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		binding func(s *susEnv, h backend.Handle) backend.WaitpointBinding
		want    error
	}{
		{"ErrPendingNotFound", func(s *susEnv, h backend.Handle) backend.WaitpointBinding {
			return backend.WaitpointBinding{Kind: backend.BindingUsePending, WaitpointID: backend.NewWaitpointID()}
		}, backend.ErrWaitpointNotFound},
		{"ErrPendingOfOtherExecution", func(s *susEnv, h backend.Handle) backend.WaitpointBinding {
			_, other := s.running()
			p, err := s.b.CreateWaitpoint(s.ctx, other, "k", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return backend.UsePendingBinding(p)
		}, backend.ErrInvalidWaitpointForExecution},
		{"ErrPendingExpiredUnswept", func(s *susEnv, h backend.Handle) backend.WaitpointBinding {
			p, err := s.b.CreateWaitpoint(s.ctx, h, "k", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			s.clock.Advance(time.Second)
			return backend.UsePendingBinding(p)
		}, backend.ErrPendingWaitpointExpired},
		{"ErrPendingExpiredSwept", func(s *susEnv, h backend.Handle) backend.WaitpointBinding {
			p, err := s.b.CreateWaitpoint(s.ctx, h, "k", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			s.clock.Advance(2 * time.Second)
			if n := s.tick(scannerPendingExpiry); n != 1 {
				t.Fatalf("expiry tick processed %d, want 1", n)
			}
			return backend.UsePendingBinding(p)
		}, backend.ErrPendingWaitpointExpired},
		{"ErrNotPending", func(s *susEnv, h backend.Handle) backend.WaitpointBinding {
			// Bound by an earlier suspension that already resumed.
			p, err := s.b.CreateWaitpoint(s.ctx, h, "k", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			sus := s.suspend(h, suspendArgs(backend.SingleCondition("k", backend.Wildcard()), backend.UsePendingBinding(p)))
			s.deliver(signalArgs(h.ExecutionID(), p.WaitpointID, sus.Details.WaitpointToken, "x"))
			res := s.claimResumed(h.ExecutionID())
			s.bindHandle = res.Handle
			return backend.UsePendingBinding(p)
		}, backend.ErrWaitpointNotPending},
		{"ErrFreshIDExists", func(s *susEnv, h backend.Handle) backend.WaitpointBinding {
			p, err := s.b.CreateWaitpoint(s.ctx, h, "k", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return backend.WaitpointBinding{Kind: backend.BindingFresh, WaitpointID: p.WaitpointID, WaitpointKey: "k"}
		}, backend.ErrWaitpointAlreadyExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSusEnv(t)
			_, h := s.running()
			bnd := tt.binding(s, h)
			if !s.bindHandle.IsZero() {
				h = s.bindHandle
			}
			before := s.dump()
			_, err := s.b.Suspend(s.ctx, h, suspendArgs(backend.OperatorOnlyCondition(), bnd))
			requireErr(t, "Suspend", err, tt.want)
			s.requireUnchanged(before, "a rejected Suspend")
		})
	}
}

// TestSuspendAlreadySatisfied: a signal delivered to a pending waitpoint
// before Suspend satisfies the suspension at once; the execution keeps
// running under the same lease.
func TestSuspendAlreadySatisfied(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, h := s.running()
	p, err := s.b.CreateWaitpoint(s.ctx, h, "callback", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sig := signalArgs(id, p.WaitpointID, p.HMACToken, "done")
	sig.Payload = []byte(`{"ok":true}`)
	requireEffect(t, s.deliver(sig), backend.EffectBufferedForPendingWaitpoint)
	if got := s.signalEvents(id); !cmp.Equal(got, []string{"buffered"}) {
		t.Fatalf("signal events = %v, want [buffered]", got)
	}

	args := suspendArgs(backend.SingleCondition("callback", backend.ByName("done")), backend.UsePendingBinding(p))
	args.IdempotencyKey = "wait-callback"
	out := s.suspend(h, args)
	want := backend.SuspendOutcome{Kind: backend.SuspendAlreadySatisfied, Details: backend.SuspendOutcomeDetails{
		SuspensionID: args.SuspensionID, WaitpointID: p.WaitpointID, WaitpointKey: "callback",
		WaitpointToken: p.HMACToken, AdditionalWaitpoints: []backend.AdditionalWaitpointBinding{},
	}}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Fatalf("Suspend (-want +got)\n%s", diff)
	}
	if got := s.state(id); got != backend.PublicStateActive {
		t.Fatalf("state = %s, want active", got)
	}
	if got := s.leaseEvents(id); !cmp.Equal(got, []string{"acquired"}) {
		t.Fatalf("lease events = %v, want [acquired] (lease kept)", got)
	}
	sigs := s.observe(h)
	if len(sigs) != 1 || sigs[0].SignalID != sig.SignalID || string(sigs[0].Payload) != `{"ok":true}` {
		t.Fatalf("ObserveSignals = %+v, want the buffered signal", sigs)
	}
	if got := s.waitpointState(p.WaitpointID); got != "closed:consumed" {
		t.Fatalf("waitpoint = %s, want closed:consumed", got)
	}
	if got := s.waitpoints(id); len(got) != 0 {
		t.Fatalf("listed waitpoints = %+v, want none", got)
	}
	_, err = s.b.DeliverSignal(s.ctx, signalArgs(id, p.WaitpointID, p.HMACToken, "again"))
	requireErr(t, "signal to a consumed waitpoint", err, backend.ErrWaitpointClosed)

	// The replay returns the same outcome; the handle still holds the lease.
	if diff := cmp.Diff(want, s.suspend(h, args)); diff != "" {
		t.Fatalf("replay (-want +got)\n%s", diff)
	}
	if err := s.b.Complete(s.ctx, h, nil); err != nil {
		t.Fatalf("Complete with the kept lease: %v", err)
	}
}

// TestSuspendBufferedNotSatisfying: buffered signals that do not satisfy
// the condition still count once the suspension is live.
func TestSuspendBufferedNotSatisfying(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, h := s.running()
	p, err := s.b.CreateWaitpoint(s.ctx, h, "votes", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	first := signalArgs(id, p.WaitpointID, p.HMACToken, "vote")
	first.SourceIdentity = "alice"
	requireEffect(t, s.deliver(first), backend.EffectBufferedForPendingWaitpoint)

	out := s.suspend(h, suspendArgs(backend.CountCondition(2, backend.CountDistinctSources, backend.ByName("vote"), "votes"), backend.UsePendingBinding(p)))
	if out.Kind != backend.SuspendSuspended {
		t.Fatalf("Suspend kind = %s, want suspended", out.Kind)
	}
	second := signalArgs(id, p.WaitpointID, out.Details.WaitpointToken, "vote")
	second.SourceIdentity = "bob"
	requireEffect(t, s.deliver(second), backend.EffectResumeConditionSatisfied)
	if got := signalNames(s.observe(*out.Handle)); !cmp.Equal(got, []string{"vote", "vote"}) {
		t.Fatalf("observed %v, want both votes", got)
	}
}

// TestSuspendMultiBindingBufferedSatisfied: with several bindings an
// already-satisfied condition suspends and resumes in one step.
func TestSuspendMultiBindingBufferedSatisfied(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, h := s.running()
	p, err := s.b.CreateWaitpoint(s.ctx, h, "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.deliver(signalArgs(id, p.WaitpointID, p.HMACToken, "x"))
	out := s.suspend(h, suspendArgs(backend.CountCondition(1, backend.CountDistinctWaitpoints, backend.Wildcard(), "a", "b"),
		backend.UsePendingBinding(p), backend.FreshBindingWithKey("b")))
	if out.Kind != backend.SuspendSuspended {
		t.Fatalf("Suspend kind = %s, want suspended", out.Kind)
	}
	if got := s.state(id); got != backend.PublicStateResumable {
		t.Fatalf("state = %s, want resumable", got)
	}
	if got := s.completionEvents(id); !cmp.Equal(got, []string{"resumable"}) {
		t.Fatalf("completion events = %v, want [resumable]", got)
	}
}

func TestSuspendByTriple(t *testing.T) {
	t.Parallel()
	cond := backend.SingleCondition("k", backend.Wildcard())
	tests := []struct {
		name  string
		fence func(h backend.Handle) backend.LeaseFence
		want  error
	}{
		{"Full", func(h backend.Handle) backend.LeaseFence {
			return backend.LeaseFence{AttemptID: h.AttemptID(), LeaseEpoch: h.LeaseEpoch(), LeaseID: h.LeaseID()}
		}, nil},
		{"EpochOnly", func(h backend.Handle) backend.LeaseFence {
			return backend.LeaseFence{LeaseEpoch: h.LeaseEpoch()}
		}, nil},
		{"ErrOtherEpoch", func(h backend.Handle) backend.LeaseFence {
			return backend.LeaseFence{LeaseEpoch: h.LeaseEpoch() + 1, LeaseID: h.LeaseID()}
		}, backend.ErrStaleLease},
		{"ErrOtherLeaseID", func(h backend.Handle) backend.LeaseFence {
			return backend.LeaseFence{LeaseEpoch: h.LeaseEpoch(), LeaseID: backend.NewLeaseID()}
		}, backend.ErrStaleLease},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSusEnv(t)
			id, h := s.running()
			fence := tt.fence(h)
			before := s.dump()
			out, err := s.b.SuspendByTriple(s.ctx, id, fence, suspendArgs(cond, backend.FreshBindingWithKey("k")))
			if tt.want != nil {
				requireErr(t, "SuspendByTriple", err, tt.want)
				s.requireUnchanged(before, "a rejected SuspendByTriple")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err := out.Handle.Payload()
			if err != nil {
				t.Fatal(err)
			}
			// Empty fence ids are filled from the current attempt.
			want := backend.HandlePayload{ExecutionID: id, AttemptIndex: h.AttemptIndex(), AttemptID: h.AttemptID(),
				LeaseID: h.LeaseID(), LeaseEpoch: fence.LeaseEpoch}
			if diff := cmp.Diff(want, p); diff != "" || out.Handle.Kind() != backend.HandleSuspended {
				t.Fatalf("synthesised handle %s (-want +got)\n%s", out.Handle.Kind(), diff)
			}
			if got := s.state(id); got != backend.PublicStateSuspended {
				t.Fatalf("state = %s, want suspended", got)
			}
		})
	}

	s := newSusEnv(t)
	_, err := s.b.SuspendByTriple(s.ctx, backend.NewExecutionID(), backend.LeaseFence{LeaseEpoch: 1}, suspendArgs(cond, backend.FreshBindingWithKey("k")))
	if !isNotFound(err, backend.EntityExecution) {
		t.Fatalf("unknown execution: err = %v, want NotFound(execution)", err)
	}
	_, err = s.b.SuspendByTriple(s.ctx, "nope", backend.LeaseFence{LeaseEpoch: 1}, suspendArgs(cond, backend.FreshBindingWithKey("k")))
	requireErr(t, "malformed id", err, backend.ErrInvalidInput)
}

func TestCreateWaitpoint(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, h := s.running()
	now := s.now()
	a, err := s.b.CreateWaitpoint(s.ctx, h, "same", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.b.CreateWaitpoint(s.ctx, h, "same", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if a.WaitpointID == b.WaitpointID || a.HMACToken == b.HMACToken || a.HMACToken.Kid() != susKid {
		t.Fatalf("two waitpoints %+v and %+v, want distinct ids and tokens under %s", a, b, susKid)
	}
	got := s.waitpoints(id)
	if len(got) != 2 {
		t.Fatalf("listed %d waitpoints, want 2", len(got))
	}
	for _, w := range got {
		if w.State != backend.WaitpointPending || !w.ActivatedAt.IsZero() || !w.CreatedAt.Equal(now) ||
			!w.ExpiresAt.Equal(now.Add(10*time.Minute)) || w.WaitpointKey != "same" || len(w.RequiredSignalNames) != 0 {
			t.Fatalf("pending waitpoint = %+v", w)
		}
	}
	if got := s.state(id); got != backend.PublicStateActive {
		t.Fatalf("state = %s, want active (CreateWaitpoint does not suspend)", got)
	}
	before := s.dump()
	_, err = s.b.CreateWaitpoint(s.ctx, h, "k", -time.Second)
	requireErr(t, "negative expiry", err, backend.ErrInvalidInput)
	s.requireUnchanged(before, "a rejected CreateWaitpoint")
}

func TestListPendingWaitpoints(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, h := s.running()
	var ids []backend.WaitpointID
	for range 5 {
		p, err := s.b.CreateWaitpoint(s.ctx, h, "k", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.WaitpointID)
	}
	sortIDs(ids)

	var got []backend.WaitpointID
	var nexts []backend.WaitpointID
	cursor := backend.WaitpointID("")
	for {
		page, err := s.b.ListPendingWaitpoints(s.ctx, backend.ListPendingWaitpointsArgs{ExecutionID: id, After: cursor, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range page.Items {
			got = append(got, w.WaitpointID)
		}
		nexts = append(nexts, page.Next)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Fatalf("paged ids (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]backend.WaitpointID{ids[1], ids[3], ""}, nexts); diff != "" {
		t.Fatalf("cursors (-want +got)\n%s", diff)
	}
	// An exactly-full last page has no cursor; Limit 0 means 100; an
	// upper-case cursor is the same id.
	page, err := s.b.ListPendingWaitpoints(s.ctx, backend.ListPendingWaitpointsArgs{ExecutionID: id, After: backend.WaitpointID(strings.ToUpper(string(ids[0]))), Limit: 4})
	if err != nil || len(page.Items) != 4 || page.Next != "" {
		t.Fatalf("full last page = %d items, next %q, %v", len(page.Items), page.Next, err)
	}
	if page, err = s.b.ListPendingWaitpoints(s.ctx, backend.ListPendingWaitpointsArgs{ExecutionID: id}); err != nil || len(page.Items) != 5 {
		t.Fatalf("default limit = %d items, %v", len(page.Items), err)
	}

	// Never suspended: an empty page, not an error.
	other := s.create(susLane, nil)
	if got := s.waitpoints(other); len(got) != 0 {
		t.Fatalf("waitpoints of a fresh execution = %+v", got)
	}
	_, err = s.b.ListPendingWaitpoints(s.ctx, backend.ListPendingWaitpointsArgs{ExecutionID: backend.NewExecutionID()})
	if !isNotFound(err, backend.EntityExecution) {
		t.Fatalf("unknown execution: %v, want NotFound(execution)", err)
	}
	_, err = s.b.ListPendingWaitpoints(s.ctx, backend.ListPendingWaitpointsArgs{ExecutionID: "nope"})
	requireErr(t, "malformed execution id", err, backend.ErrInvalidInput)
	_, err = s.b.ListPendingWaitpoints(s.ctx, backend.ListPendingWaitpointsArgs{ExecutionID: id, After: "nope"})
	requireErr(t, "malformed cursor", err, backend.ErrInvalidInput)
}

// sortIDs sorts waitpoint ids in place (their listing order).
func sortIDs(ids []backend.WaitpointID) {
	for i := range ids {
		for j := i + 1; j < len(ids); j++ {
			if ids[j] < ids[i] {
				ids[i], ids[j] = ids[j], ids[i]
			}
		}
	}
}

// TestSuspensionPolicyDefaults: an execution's SuspensionPolicy supplies
// the timeout and behaviour a Suspend leaves unset.
func TestSuspensionPolicyDefaults(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id := s.create(susLane, func(a *backend.CreateExecutionArgs) {
		a.Policy = &backend.ExecutionPolicy{SuspensionPolicy: &backend.SuspensionPolicy{
			DefaultTimeout: time.Minute, TimeoutBehavior: backend.TimeoutCancel,
		}}
	})
	h := s.mustClaim(susLane)
	s.suspend(h, suspendArgs(backend.TimeoutOnlyCondition(), backend.FreshBindingWithKey("k")))
	s.clock.Advance(time.Minute)
	if n := s.tick(scannerSuspensionTimeout); n != 1 {
		t.Fatalf("timeout tick processed %d, want 1", n)
	}
	if got := s.state(id); got != backend.PublicStateCancelled {
		t.Fatalf("state = %s, want cancelled", got)
	}
}
