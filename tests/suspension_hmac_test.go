package tests

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

func TestSeedWaitpointHMACSecret(t *testing.T) {
	t.Parallel()
	s := newUnseededSusEnv(t)
	seed := func(kid, secret string) (backend.SeedOutcome, error) {
		return s.b.SeedWaitpointHMACSecret(s.ctx, backend.SeedWaitpointHMACSecretArgs{Kid: kid, SecretHex: secret})
	}

	out, err := seed("k1", susSecret)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(backend.SeedOutcome{Kind: backend.SeedSeeded, Kid: "k1"}, out); diff != "" {
		t.Fatalf("first seed (-want +got)\n%s", diff)
	}
	// Idempotent on every boot, and upper-case hex is the same secret.
	for _, secret := range []string{susSecret, strings.ToUpper(susSecret)} {
		out, err = seed("k1", secret)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(backend.SeedOutcome{Kind: backend.SeedAlreadySeeded, Kid: "k1", SameSecret: true}, out); diff != "" {
			t.Fatalf("re-seed (-want +got)\n%s", diff)
		}
	}
	before := s.dump()
	out, err = seed("k1", strings.Repeat("cd", 32))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(backend.SeedOutcome{Kind: backend.SeedAlreadySeeded, Kid: "k1", SameSecret: false}, out); diff != "" {
		t.Fatalf("re-seed with another secret (-want +got)\n%s", diff)
	}
	s.requireUnchanged(before, "re-seeding an existing kid")

	// A rotated-out kid seeds as already seeded and is not re-activated.
	rotate(t, s, "k2", strings.Repeat("cd", 32))
	out, err = seed("k1", susSecret)
	if err != nil || out.Kind != backend.SeedAlreadySeeded {
		t.Fatalf("seed of inactive kid = %+v, %v; want already_seeded", out, err)
	}
	_, _, sus := s.suspendOn("go")
	if kid := sus.Details.WaitpointToken.Kid(); kid != "k2" {
		t.Fatalf("new token kid = %q after seeding an inactive kid, want k2 (still active)", kid)
	}
}

func TestSeedWaitpointHMACSecretErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, kid, secret string
	}{
		{"ErrEmptyKid", "", susSecret},
		{"ErrKidWithColon", "a:b", susSecret},
		{"ErrShortSecret", "k9", strings.Repeat("ab", 31)},
		{"ErrLongSecret", "k9", strings.Repeat("ab", 33)},
		{"ErrSecretNotHex", "k9", strings.Repeat("zz", 32)},
		{"ErrAnotherKidActive", "k9", susSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSusEnv(t)
			before := s.dump()
			_, err := s.b.SeedWaitpointHMACSecret(s.ctx, backend.SeedWaitpointHMACSecretArgs{Kid: tt.kid, SecretHex: tt.secret})
			requireErr(t, "seed", err, backend.ErrInvalidInput)
			s.requireUnchanged(before, "a rejected seed")
		})
	}
}

// rotate rotates to kid and fails the test unless it rotated.
func rotate(t *testing.T, s *susEnv, kid, secret string) backend.RotateWaitpointHMACSecretOutcome {
	t.Helper()
	res, err := s.b.RotateWaitpointHMACSecretAll(s.ctx, backend.RotateWaitpointHMACSecretAllArgs{NewKid: kid, NewSecretHex: secret})
	if err != nil {
		t.Fatalf("rotate to %s: %v", kid, err)
	}
	if len(res.Entries) != 1 || res.Entries[0].Err != nil || res.Entries[0].Outcome.Kind != backend.RotateRotated {
		t.Fatalf("rotate to %s = %+v, want one rotated entry", kid, res)
	}
	return res.Entries[0].Outcome
}

func TestRotateWaitpointHMACSecretAll(t *testing.T) {
	t.Parallel()
	s := newUnseededSusEnv(t)

	// Bootstrap: rotating into an empty key store has no previous kid.
	got := rotate(t, s, "k1", susSecret)
	if diff := cmp.Diff(backend.RotateWaitpointHMACSecretOutcome{Kind: backend.RotateRotated, Kid: "k1"}, got); diff != "" {
		t.Fatalf("bootstrap rotation (-want +got)\n%s", diff)
	}
	got = rotate(t, s, "k2", strings.Repeat("cd", 32))
	if diff := cmp.Diff(backend.RotateWaitpointHMACSecretOutcome{Kind: backend.RotateRotated, Kid: "k2", PreviousKid: "k1"}, got); diff != "" {
		t.Fatalf("second rotation (-want +got)\n%s", diff)
	}

	// The same kid and secret again is a no-op, also for the inactive k1,
	// which is not re-activated.
	before := s.dump()
	for _, kid := range []string{"k2", "k1"} {
		secret := map[string]string{"k1": susSecret, "k2": strings.Repeat("cd", 32)}[kid]
		res, err := s.b.RotateWaitpointHMACSecretAll(s.ctx, backend.RotateWaitpointHMACSecretAllArgs{NewKid: kid, NewSecretHex: secret, Grace: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		want := backend.RotateWaitpointHMACSecretAllResult{Entries: []backend.RotateWaitpointHMACSecretAllEntry{
			{Partition: 0, Outcome: backend.RotateWaitpointHMACSecretOutcome{Kind: backend.RotateNoop, Kid: kid}},
		}}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Fatalf("repeat rotation to %s (-want +got)\n%s", kid, diff)
		}
	}
	s.requireUnchanged(before, "no-op rotations")

	// An installed kid with another secret is a per-partition conflict.
	res, err := s.b.RotateWaitpointHMACSecretAll(s.ctx, backend.RotateWaitpointHMACSecretAllArgs{NewKid: "k1", NewSecretHex: strings.Repeat("ef", 32)})
	if err != nil {
		t.Fatalf("conflicting rotation: method error %v, want it in the entry", err)
	}
	if len(res.Entries) != 1 || res.Entries[0].Partition != 0 {
		t.Fatalf("conflicting rotation entries = %+v", res.Entries)
	}
	var e *backend.Error
	if !errors.Is(res.Entries[0].Err, backend.ErrRotationConflict) || !errors.As(res.Entries[0].Err, &e) || e.Kid != "k1" {
		t.Fatalf("conflicting rotation entry err = %v, want ErrRotationConflict for kid k1", res.Entries[0].Err)
	}
	s.requireUnchanged(before, "a conflicting rotation")

	_, h := s.running()
	wp := backend.FreshBinding()
	sus := s.suspend(h, suspendArgs(backend.SingleCondition(wp.WaitpointKey, backend.Wildcard()), wp))
	if kid := sus.Details.WaitpointToken.Kid(); kid != "k2" {
		t.Fatalf("token kid = %q, want the active k2", kid)
	}
}

func TestRotateWaitpointHMACSecretAllErrors(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	before := s.dump()
	for _, args := range []backend.RotateWaitpointHMACSecretAllArgs{
		{NewKid: "", NewSecretHex: susSecret},
		{NewKid: "x:y", NewSecretHex: susSecret},
		{NewKid: "k2", NewSecretHex: "abc"},
		{NewKid: "k2", NewSecretHex: strings.Repeat("g", 64)},
	} {
		_, err := s.b.RotateWaitpointHMACSecretAll(s.ctx, args)
		requireErr(t, "rotate "+args.NewKid, err, backend.ErrInvalidInput)
	}
	s.requireUnchanged(before, "rejected rotations")
}

// TestRotationKeepsOldTokensValid: a token minted before a rotation keeps
// verifying under its own kid while its waitpoint lives; new waitpoints
// use the new kid, and a pending waitpoint activated after the rotation
// is re-minted under it.
func TestRotationKeepsOldTokensValid(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id1, _, sus1 := s.suspendOn("go")
	id2, h2 := s.running()
	pending, err := s.b.CreateWaitpoint(s.ctx, h2, "later", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	rotate(t, s, "k2", strings.Repeat("cd", 32))

	res := s.deliver(signalArgs(id1, sus1.Details.WaitpointID, sus1.Details.WaitpointToken, "go"))
	requireEffect(t, res, backend.EffectResumeConditionSatisfied)

	sus2 := s.suspend(h2, suspendArgs(backend.SingleCondition("later", backend.Wildcard()), backend.UsePendingBinding(pending)))
	if kid := sus2.Details.WaitpointToken.Kid(); kid != "k2" {
		t.Fatalf("activated token kid = %q, want k2", kid)
	}
	if got := s.waitpoints(id2); len(got) != 1 || got[0].TokenKid != "k2" {
		t.Fatalf("listed waitpoints = %+v, want one under k2", got)
	}
	before := s.dump()
	_, err = s.b.DeliverSignal(s.ctx, signalArgs(id2, pending.WaitpointID, pending.HMACToken, "x"))
	requireErr(t, "the pre-rotation token of a re-minted waitpoint", err, backend.ErrInvalidToken)
	s.requireUnchanged(before, "a rejected token")
	requireEffect(t, s.deliver(signalArgs(id2, pending.WaitpointID, sus2.Details.WaitpointToken, "x")), backend.EffectResumeConditionSatisfied)
}

func TestNoSigningKey(t *testing.T) {
	t.Parallel()
	s := newUnseededSusEnv(t)
	_, h := s.running()
	before := s.dump()
	_, err := s.b.CreateWaitpoint(s.ctx, h, "k", time.Hour)
	requireErr(t, "CreateWaitpoint without a kid", err, backend.ErrInvalidInput)
	wp := backend.FreshBinding()
	_, err = s.b.Suspend(s.ctx, h, suspendArgs(backend.SingleCondition(wp.WaitpointKey, backend.Wildcard()), wp))
	requireErr(t, "Suspend without a kid", err, backend.ErrInvalidInput)
	s.requireUnchanged(before, "calls without a signing key")
}

// TestSeedThroughOptions: Options.WaitpointHMACSecret seeds at open, is
// idempotent on every boot, and a different kid fails construction.
func TestSeedThroughOptions(t *testing.T) {
	t.Parallel()
	requireDevMode(t)
	path := filepath.Join(t.TempDir(), "ff.db")
	opts := func(kid string) backend.Options {
		return backend.Options{Logger: quietLogger(), WaitpointHMACSecret: &backend.SeedWaitpointHMACSecretArgs{Kid: kid, SecretHex: susSecret}}
	}
	for range 2 {
		b, err := backend.NewWithOptions(t.Context(), path, opts("k1"))
		if err != nil {
			t.Fatalf("open with seed: %v", err)
		}
		closeBackend(t, b)
	}
	b, err := backend.NewWithOptions(t.Context(), path, opts("k2"))
	if err == nil {
		closeBackend(t, b)
		t.Fatal("open with a different kid succeeded, want an error")
	}
	requireErr(t, "open with a different kid", err, backend.ErrInvalidInput)
}
