package tests

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowfabric/ffsqlite/backend"
)

// TestSignalDeliveryEvents: each accepted signal is one event with its
// ids, source and effect; a duplicate delivery is not a new event.
func TestSignalDeliveryEvents(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	sub := s.subscribeSignal(nil, backend.ScannerFilter{})
	id, _, sus := s.suspendOn("go")

	t0 := s.clock.Advance(time.Second)
	other := signalArgs(id, sus.Details.WaitpointID, sus.Details.WaitpointToken, "other")
	other.IdempotencyKey = "k-1"
	s.deliver(other)
	dup := other
	dup.SignalID = backend.NewSignalID()
	if res := s.deliver(dup); res.Kind != backend.DeliverSignalDuplicate {
		t.Fatalf("duplicate delivery kind %s", res.Kind)
	}
	t1 := s.clock.Advance(time.Second)
	goSig := signalArgs(id, sus.Details.WaitpointID, sus.Details.WaitpointToken, "go")
	goSig.SourceIdentity = ""
	s.deliver(goSig)

	got := nextEvents(t, sub, 2)
	want := []backend.SignalDeliveryEvent{
		{At: t0, Effect: backend.SignalBuffered, ExecutionID: id, SignalID: other.SignalID, SourceIdentity: "alice", WaitpointID: sus.Details.WaitpointID},
		{At: t1, Effect: backend.SignalSatisfied, ExecutionID: id, SignalID: goSig.SignalID, WaitpointID: sus.Details.WaitpointID},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(backend.SignalDeliveryEvent{}, "Cursor")); diff != "" {
		t.Fatalf("signal events (-want +got)\n%s", diff)
	}
	requireAscending(t, []backend.EventCursor{got[0].Cursor, got[1].Cursor})
	requireNoEvent(t, sub)
}

// TestSignalDeliveryFilter: the signal family filters like the others.
func TestSignalDeliveryFilter(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	filtered := s.subscribeSignal(nil, backend.ScannerFilter{Namespace: "ns-x"})
	var ids []backend.ExecutionID
	for _, ns := range []backend.Namespace{"test", "ns-x", "test"} {
		id := s.create(susLane, func(a *backend.CreateExecutionArgs) { a.Namespace = ns })
		h := s.mustClaim(susLane)
		wp := backend.FreshBinding()
		sus := s.suspend(h, suspendArgs(backend.SingleCondition(wp.WaitpointKey, backend.ByName("go")), wp))
		s.deliver(signalArgs(id, sus.Details.WaitpointID, sus.Details.WaitpointToken, "go"))
		ids = append(ids, id)
	}
	if ev := nextEvent(t, filtered); ev.ExecutionID != ids[1] {
		t.Fatalf("filtered event for %s, want %s", ev.ExecutionID, ids[1])
	}
	requireNoEvent(t, filtered)
}
