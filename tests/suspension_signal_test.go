package tests

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

func TestDeliverSignalResumes(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, _, sus := s.suspendOn("approved")
	wp, tok := sus.Details.WaitpointID, sus.Details.WaitpointToken

	miss := signalArgs(id, wp, tok, "rejected")
	res := s.deliver(miss)
	if diff := cmp.Diff(backend.DeliverSignalResult{Kind: backend.DeliverSignalAccepted, Effect: backend.EffectAppendedToWaitpoint, SignalID: miss.SignalID}, res); diff != "" {
		t.Fatalf("non-matching signal (-want +got)\n%s", diff)
	}
	if got := s.state(id); got != backend.PublicStateSuspended {
		t.Fatalf("state after a non-matching signal = %s", got)
	}

	hit := signalArgs(id, wp, tok, "approved")
	hit.Now = s.now().Add(-time.Second) // a caller-supplied time stamps the signal
	requireEffect(t, s.deliver(hit), backend.EffectResumeConditionSatisfied)
	wantVector := backend.StateVector{
		AttemptState:     backend.AttemptStateAttemptInterrupted,
		BlockingReason:   backend.BlockingWaitingForWorker,
		EligibilityState: backend.EligibilityEligibleNow,
		LifecyclePhase:   backend.PhaseRunnable,
		OwnershipState:   backend.OwnershipUnowned,
		PublicState:      backend.PublicStateResumable,
		TerminalOutcome:  backend.OutcomeNone,
	}
	if diff := cmp.Diff(wantVector, s.info(id).StateVector); diff != "" {
		t.Fatalf("state vector after resume (-want +got)\n%s", diff)
	}
	snap := s.describe(id)
	if snap.CurrentWaitpoint != "" {
		t.Fatalf("current waitpoint after resume = %q, want none", snap.CurrentWaitpoint)
	}
	if got := s.completionEvents(id); !cmp.Equal(got, []string{"resumable"}) {
		t.Fatalf("completion events = %v, want [resumable]", got)
	}
	if got := s.signalEvents(id); !cmp.Equal(got, []string{"buffered", "satisfied"}) {
		t.Fatalf("signal events = %v, want [buffered satisfied]", got)
	}
	if got := s.waitpointState(wp); got != "closed:resumed" {
		t.Fatalf("waitpoint = %s, want closed:resumed", got)
	}
	if got := s.waitpoints(id); len(got) != 0 {
		t.Fatalf("listed waitpoints after resume = %+v", got)
	}
	before := s.dump()
	_, err := s.b.DeliverSignal(s.ctx, signalArgs(id, wp, tok, "approved"))
	requireErr(t, "a signal after resume", err, backend.ErrWaitpointClosed)
	s.requireUnchanged(before, "a signal to a closed waitpoint")

	res2 := s.claimResumed(id)
	sigs := s.observe(res2.Handle)
	want := []backend.ResumeSignal{
		{SignalID: miss.SignalID, SignalName: "rejected", SignalCategory: "test", SourceType: "user", SourceIdentity: "alice", AcceptedAt: s.now()},
		{SignalID: hit.SignalID, SignalName: "approved", SignalCategory: "test", SourceType: "user", SourceIdentity: "alice", AcceptedAt: hit.Now.UTC()},
	}
	if diff := cmp.Diff(want, sigs); diff != "" {
		t.Fatalf("ObserveSignals (-want +got)\n%s", diff)
	}
}

// TestResumeConditions evaluates each condition kind against a sequence of
// signals: every signal but the last leaves it suspended, the last
// satisfies it.
func TestResumeConditions(t *testing.T) {
	t.Parallel()
	type sig struct {
		key, name, source string
		sameID            bool // reuse the previous signal's id
	}
	tests := []struct {
		name    string
		keys    []backend.WaitpointKey
		cond    backend.ResumeCondition
		signals []sig
	}{
		{"SingleWildcard", []backend.WaitpointKey{"a"}, backend.SingleCondition("a", backend.Wildcard()),
			[]sig{{key: "a", name: "anything"}}},
		{"SingleZeroMatcher", []backend.WaitpointKey{"a"}, backend.SingleCondition("a", backend.SignalMatcher{}),
			[]sig{{key: "a", name: "anything"}}},
		{"SingleByName", []backend.WaitpointKey{"a"}, backend.SingleCondition("a", backend.ByName("go")),
			[]sig{{key: "a", name: "stop"}, {key: "a", name: "go"}}},
		{"AllOfWaitpoints", []backend.WaitpointKey{"a", "b"}, backend.AllOfWaitpoints("a", "b"),
			[]sig{{key: "a", name: "x"}, {key: "a", name: "y"}, {key: "b", name: "z"}}},
		{"AllOfNested", []backend.WaitpointKey{"a", "b", "c"}, backend.AllOfCondition(
			backend.SingleCondition("a", backend.ByName("x")),
			backend.CountCondition(1, backend.CountDistinctWaitpoints, backend.Wildcard(), "b", "c"),
		), []sig{{key: "c", name: "any"}, {key: "a", name: "y"}, {key: "a", name: "x"}}},
		{"CountDistinctSources", []backend.WaitpointKey{"a"}, backend.CountCondition(2, backend.CountDistinctSources, backend.Wildcard(), "a"),
			[]sig{{key: "a", name: "v", source: "alice"}, {key: "a", name: "v", source: "alice"}, {key: "a", name: "v", source: "bob"}}},
		{"CountDistinctSignals", []backend.WaitpointKey{"a"}, backend.CountCondition(2, backend.CountDistinctSignals, backend.Wildcard(), "a"),
			[]sig{{key: "a", name: "v"}, {key: "a", name: "v", sameID: true}, {key: "a", name: "v"}}},
		{"CountDistinctWaitpoints", []backend.WaitpointKey{"a", "b", "c"}, backend.CountCondition(2, backend.CountDistinctWaitpoints, backend.Wildcard(), "a", "b", "c"),
			[]sig{{key: "a", name: "v"}, {key: "a", name: "v"}, {key: "c", name: "v"}}},
		{"CountByName", []backend.WaitpointKey{"a", "b"}, backend.CountCondition(1, backend.CountDistinctWaitpoints, backend.ByName("ok"), "a", "b"),
			[]sig{{key: "a", name: "no"}, {key: "b", name: "no"}, {key: "b", name: "ok"}}},
		{"AnyOf", []backend.WaitpointKey{"a", "b"}, backend.CountCondition(1, backend.CountDistinctWaitpoints, backend.Wildcard(), "a", "b"),
			[]sig{{key: "b", name: "v"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSusEnv(t)
			id, h := s.running()
			var bindings []backend.WaitpointBinding
			for _, k := range tt.keys {
				bindings = append(bindings, backend.FreshBindingWithKey(k))
			}
			out := s.suspend(h, suspendArgs(tt.cond, bindings...))
			tokens := map[backend.WaitpointKey]backend.DeliverSignalArgs{
				out.Details.WaitpointKey: signalArgs(id, out.Details.WaitpointID, out.Details.WaitpointToken, ""),
			}
			for _, x := range out.Details.AdditionalWaitpoints {
				tokens[x.WaitpointKey] = signalArgs(id, x.WaitpointID, x.WaitpointToken, "")
			}
			var last backend.SignalID
			for i, sg := range tt.signals {
				args := tokens[backend.WaitpointKey(sg.key)]
				args.SignalID, args.SignalName = backend.NewSignalID(), sg.name
				if sg.sameID {
					args.SignalID = last
				}
				if sg.source != "" {
					args.SourceIdentity = sg.source
				}
				last = args.SignalID
				want := backend.EffectAppendedToWaitpoint
				if i == len(tt.signals)-1 {
					want = backend.EffectResumeConditionSatisfied
				}
				res := s.deliver(args)
				if res.Effect != want {
					t.Fatalf("signal %d (%+v): effect %s, want %s", i, sg, res.Effect, want)
				}
			}
			if got := s.state(id); got != backend.PublicStateResumable {
				t.Fatalf("state = %s, want resumable", got)
			}
			if got := len(s.observe(h)); got != len(tt.signals) {
				t.Fatalf("observed %d signals, want %d", got, len(tt.signals))
			}
		})
	}
}

// TestConditionsSignalsCannotSatisfy: operator_only and timeout_only never
// resume on signals.
func TestConditionsSignalsCannotSatisfy(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	for _, cond := range []backend.ResumeCondition{backend.OperatorOnlyCondition(), backend.TimeoutOnlyCondition()} {
		id, h := s.running()
		args := suspendArgs(cond, backend.FreshBindingWithKey("k"))
		args.TimeoutAt = s.now().Add(time.Hour)
		out := s.suspend(h, args)
		for range 3 {
			requireEffect(t, s.deliver(signalArgs(id, out.Details.WaitpointID, out.Details.WaitpointToken, "x")), backend.EffectAppendedToWaitpoint)
		}
		info := s.waitpoints(id)
		wantName := map[backend.ResumeConditionKind]string{
			backend.ConditionOperatorOnly: "__operator_only__", backend.ConditionTimeoutOnly: "__timeout_only__",
		}[cond.Kind]
		if len(info) != 1 || !cmp.Equal(info[0].RequiredSignalNames, []string{wantName}) {
			t.Fatalf("%s: waitpoints = %+v, want required names [%s]", cond.Kind, info, wantName)
		}
		if got := s.state(id); got != backend.PublicStateSuspended {
			t.Fatalf("%s: state = %s, want suspended", cond.Kind, got)
		}
	}
}

func TestDeliverSignalIdempotency(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, _, sus := s.suspendOn("go")
	wp, tok := sus.Details.WaitpointID, sus.Details.WaitpointToken

	first := signalArgs(id, wp, tok, "wait")
	first.IdempotencyKey = "msg-1"
	requireEffect(t, s.deliver(first), backend.EffectAppendedToWaitpoint)

	// A repeat (with a new signal id) is a duplicate and writes nothing.
	before := s.dump()
	repeat := first
	repeat.SignalID = backend.NewSignalID()
	repeat.SignalName = "go"
	res := s.deliver(repeat)
	if diff := cmp.Diff(backend.DeliverSignalResult{Kind: backend.DeliverSignalDuplicate, SignalID: first.SignalID}, res); diff != "" {
		t.Fatalf("repeat (-want +got)\n%s", diff)
	}
	s.requireUnchanged(before, "a duplicate signal")

	// DedupTTL 0 disables dedup; another key is another signal.
	noDedup := repeat
	noDedup.SignalName = "wait"
	noDedup.DedupTTL = backend.Ptr(time.Duration(0))
	requireEffect(t, s.deliver(noDedup), backend.EffectAppendedToWaitpoint)

	// The window ends after DedupTTL.
	short := signalArgs(id, wp, tok, "wait")
	short.IdempotencyKey = "msg-2"
	short.DedupTTL = backend.Ptr(time.Minute)
	s.deliver(short)
	s.clock.Advance(time.Minute)
	again := short
	again.SignalID = backend.NewSignalID()
	requireEffect(t, s.deliver(again), backend.EffectAppendedToWaitpoint)

	// Within the window a repeat is a duplicate whatever happened since,
	// even after the waitpoint closed.
	requireEffect(t, s.deliver(signalArgs(id, wp, tok, "go")), backend.EffectResumeConditionSatisfied)
	res = s.deliver(repeat)
	if res.Kind != backend.DeliverSignalDuplicate || res.SignalID != first.SignalID {
		t.Fatalf("repeat after resume = %+v, want duplicate of %s", res, first.SignalID)
	}
}

func TestDeliverSignalErrors(t *testing.T) {
	t.Parallel()
	type fixture struct {
		s   *susEnv
		id  backend.ExecutionID
		sus backend.SuspendOutcome
	}
	tests := []struct {
		name string
		args func(f fixture) backend.DeliverSignalArgs
		want error
	}{
		{"ErrUnknownWaitpoint", func(f fixture) backend.DeliverSignalArgs {
			return signalArgs(f.id, backend.NewWaitpointID(), f.sus.Details.WaitpointToken, "go")
		}, &backend.Error{Kind: backend.KindNotFound, Entity: backend.EntityWaitpoint}},
		{"ErrMalformedExecutionID", func(f fixture) backend.DeliverSignalArgs {
			return signalArgs("nope", f.sus.Details.WaitpointID, f.sus.Details.WaitpointToken, "go")
		}, backend.ErrInvalidInput},
		{"ErrMalformedWaitpointID", func(f fixture) backend.DeliverSignalArgs {
			return signalArgs(f.id, "nope", f.sus.Details.WaitpointToken, "go")
		}, backend.ErrInvalidInput},
		{"ErrMalformedSignalID", func(f fixture) backend.DeliverSignalArgs {
			a := signalArgs(f.id, f.sus.Details.WaitpointID, f.sus.Details.WaitpointToken, "go")
			a.SignalID = ""
			return a
		}, backend.ErrInvalidInput},
		{"ErrNegativeDedupTTL", func(f fixture) backend.DeliverSignalArgs {
			a := signalArgs(f.id, f.sus.Details.WaitpointID, f.sus.Details.WaitpointToken, "go")
			a.DedupTTL = backend.Ptr(-time.Second)
			return a
		}, backend.ErrInvalidInput},
		{"ErrOtherExecution", func(f fixture) backend.DeliverSignalArgs {
			other := f.s.create(susLane, nil)
			return signalArgs(other, f.sus.Details.WaitpointID, f.sus.Details.WaitpointToken, "go")
		}, &backend.Error{Kind: backend.KindValidation, SubKind: backend.SubKindInvalidInput}},
		{"ErrUnknownKid", func(f fixture) backend.DeliverSignalArgs {
			_, digest, _ := strings.Cut(f.sus.Details.WaitpointToken.Raw(), ":")
			return signalArgs(f.id, f.sus.Details.WaitpointID, backend.WaitpointToken("k9:"+digest), "go")
		}, backend.ErrInvalidKid},
		{"ErrMalformedToken", func(f fixture) backend.DeliverSignalArgs {
			return signalArgs(f.id, f.sus.Details.WaitpointID, "garbage", "go")
		}, backend.ErrInvalidToken},
		{"ErrEmptyToken", func(f fixture) backend.DeliverSignalArgs {
			return signalArgs(f.id, f.sus.Details.WaitpointID, "", "go")
		}, backend.ErrInvalidToken},
		{"ErrForgedDigest", func(f fixture) backend.DeliverSignalArgs {
			return signalArgs(f.id, f.sus.Details.WaitpointID, backend.WaitpointToken(susKid+":"+strings.Repeat("0", 64)), "go")
		}, backend.ErrInvalidToken},
		{"ErrUpperCaseDigest", func(f fixture) backend.DeliverSignalArgs {
			kid, digest, _ := strings.Cut(f.sus.Details.WaitpointToken.Raw(), ":")
			return signalArgs(f.id, f.sus.Details.WaitpointID, backend.WaitpointToken(kid+":"+strings.ToUpper(digest)), "go")
		}, backend.ErrInvalidToken},
		{"ErrTokenOfOtherWaitpoint", func(f fixture) backend.DeliverSignalArgs {
			_, _, other := f.s.suspendOn("go")
			return signalArgs(f.id, f.sus.Details.WaitpointID, other.Details.WaitpointToken, "go")
		}, backend.ErrInvalidToken},
		{"ErrTerminalExecution", func(f fixture) backend.DeliverSignalArgs {
			if _, err := f.s.b.CancelExecution(f.s.ctx, backend.CancelExecutionArgs{ExecutionID: f.id, Reason: "stop"}); err != nil {
				t.Fatal(err)
			}
			return signalArgs(f.id, f.sus.Details.WaitpointID, f.sus.Details.WaitpointToken, "go")
		}, backend.ErrTargetNotSignalable},
		{"ErrClosedBeforeTerminal", func(f fixture) backend.DeliverSignalArgs {
			f.s.deliver(signalArgs(f.id, f.sus.Details.WaitpointID, f.sus.Details.WaitpointToken, "go"))
			if _, err := f.s.b.CancelExecution(f.s.ctx, backend.CancelExecutionArgs{ExecutionID: f.id, Reason: "stop"}); err != nil {
				t.Fatal(err)
			}
			return signalArgs(f.id, f.sus.Details.WaitpointID, f.sus.Details.WaitpointToken, "go")
		}, backend.ErrWaitpointClosed},
		{"ErrTokenCheckedBeforeClosed", func(f fixture) backend.DeliverSignalArgs {
			f.s.deliver(signalArgs(f.id, f.sus.Details.WaitpointID, f.sus.Details.WaitpointToken, "go"))
			return signalArgs(f.id, f.sus.Details.WaitpointID, "garbage", "go")
		}, backend.ErrInvalidToken},
		{"ErrReplayedAfterCancel", func(f fixture) backend.DeliverSignalArgs {
			// Cancel leaves the waitpoint open; after a replay the
			// execution runs again and the old waitpoint must not reach it.
			if _, err := f.s.b.CancelExecution(f.s.ctx, backend.CancelExecutionArgs{ExecutionID: f.id, Reason: "stop"}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.s.b.ReplayExecution(f.s.ctx, backend.ReplayExecutionArgs{ExecutionID: f.id}); err != nil {
				t.Fatal(err)
			}
			return signalArgs(f.id, f.sus.Details.WaitpointID, f.sus.Details.WaitpointToken, "go")
		}, backend.ErrTargetNotSignalable},
		{"ErrSignalLimit", func(f fixture) backend.DeliverSignalArgs {
			a := signalArgs(f.id, f.sus.Details.WaitpointID, f.sus.Details.WaitpointToken, "no")
			a.MaxSignalsPerExecution = 2
			f.s.deliver(a)
			a.SignalID = backend.NewSignalID()
			f.s.deliver(a)
			a.SignalID = backend.NewSignalID()
			return a
		}, backend.ErrSignalLimitExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSusEnv(t)
			id, _, sus := s.suspendOn("go")
			args := tt.args(fixture{s: s, id: id, sus: sus})
			before := s.dump()
			_, err := s.b.DeliverSignal(s.ctx, args)
			requireErr(t, "DeliverSignal", err, tt.want)
			s.requireUnchanged(before, "a rejected signal")
		})
	}
}

// TestSignalLimitFromPolicy: MaxSignalsPerExecution 0 means the
// execution policy's cap.
func TestSignalLimitFromPolicy(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id := s.create(susLane, func(a *backend.CreateExecutionArgs) {
		a.Policy = &backend.ExecutionPolicy{MaxSignalsPerExecution: 1}
	})
	h := s.mustClaim(susLane)
	p, err := s.b.CreateWaitpoint(s.ctx, h, "k", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.deliver(signalArgs(id, p.WaitpointID, p.HMACToken, "a"))
	_, err = s.b.DeliverSignal(s.ctx, signalArgs(id, p.WaitpointID, p.HMACToken, "b"))
	requireErr(t, "second signal", err, backend.ErrSignalLimitExceeded)
}

func TestDeliverSignalToPendingWaitpoint(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, h := s.running()
	p, err := s.b.CreateWaitpoint(s.ctx, h, "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	requireEffect(t, s.deliver(signalArgs(id, p.WaitpointID, p.HMACToken, "early")), backend.EffectBufferedForPendingWaitpoint)
	if got := s.state(id); got != backend.PublicStateActive {
		t.Fatalf("state = %s, want active (buffering changes nothing)", got)
	}
	// Nothing is observable before a suspension adopts it.
	if got := s.observe(h); len(got) != 0 {
		t.Fatalf("ObserveSignals before suspend = %+v", got)
	}

	// Past its expiry the pending waitpoint refuses signals, before and
	// after the scanner marks it expired.
	s.clock.Advance(time.Minute)
	for _, sweep := range []bool{false, true} {
		if sweep {
			if n := s.tick(scannerPendingExpiry); n != 1 {
				t.Fatalf("expiry tick processed %d, want 1", n)
			}
		}
		before := s.dump()
		_, err = s.b.DeliverSignal(s.ctx, signalArgs(id, p.WaitpointID, p.HMACToken, "late"))
		requireErr(t, "signal to an expired pending waitpoint", err, backend.ErrPendingWaitpointExpired)
		s.requireUnchanged(before, "a rejected signal")
	}
	if got := s.waitpointState(p.WaitpointID); got != "expired:" {
		t.Fatalf("waitpoint = %s, want expired", got)
	}
	if got := s.waitpoints(id); len(got) != 0 {
		t.Fatalf("listed waitpoints = %+v, want none (expired is not listed)", got)
	}
	if n := s.tick(scannerPendingExpiry); n != 0 {
		t.Fatalf("second expiry tick processed %d, want 0", n)
	}
}

func TestSignalPayloads(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, h := s.running()
	out := s.suspend(h, suspendArgs(backend.OperatorOnlyCondition(), backend.FreshBindingWithKey("k")))
	for _, payload := range [][]byte{nil, {}, []byte("data")} {
		a := signalArgs(id, out.Details.WaitpointID, out.Details.WaitpointToken, "p")
		a.Payload = payload
		a.CorrelationID = "corr"
		s.deliver(a)
	}
	var got [][]byte
	for _, sig := range s.observe(h) {
		if sig.CorrelationID != "corr" {
			t.Fatalf("correlation id = %q", sig.CorrelationID)
		}
		got = append(got, sig.Payload)
	}
	if diff := cmp.Diff([][]byte{nil, {}, []byte("data")}, got); diff != "" {
		t.Fatalf("payloads (-want +got)\n%s", diff)
	}
}

func TestObserveSignals(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	_, h := s.running()
	if got := s.observe(h); got == nil || len(got) != 0 {
		t.Fatalf("ObserveSignals of a never-suspended execution = %#v, want empty", got)
	}
	_, err := s.b.ObserveSignals(s.ctx, forged(t, h, backend.BackendPostgres, nil))
	requireErr(t, "foreign handle", err, backend.ErrHandleFromOtherBackend)
	_, err = s.b.ObserveSignals(s.ctx, backend.NewHandle(backend.BackendSQLite, backend.HandleFresh, []byte("x")))
	requireErr(t, "corrupt handle", err, backend.ErrCorruption)

	// Each suspension reports only its own signals.
	id := h.ExecutionID()
	wp := backend.FreshBindingWithKey("k")
	sus := s.suspend(h, suspendArgs(backend.SingleCondition("k", backend.Wildcard()), wp))
	s.deliver(signalArgs(id, wp.WaitpointID, sus.Details.WaitpointToken, "first"))
	res := s.claimResumed(id)
	wp2 := backend.FreshBindingWithKey("k")
	args := suspendArgs(backend.SingleCondition("k", backend.ByName("never")), wp2)
	args.SuspensionID = sus.Details.SuspensionID // a reused id must not mix suspensions
	sus2 := s.suspend(res.Handle, args)
	if got := s.observe(*sus2.Handle); len(got) != 0 {
		t.Fatalf("ObserveSignals of a new suspension = %+v, want none", got)
	}
	s.deliver(signalArgs(id, wp2.WaitpointID, sus2.Details.WaitpointToken, "second"))
	if got := signalNames(s.observe(h)); !cmp.Equal(got, []string{"second"}) {
		t.Fatalf("observed %v, want [second]", got)
	}
}
