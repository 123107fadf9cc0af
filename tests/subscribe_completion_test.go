package tests

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

// TestSubscribeCompletionOutcomes: every path that ends an execution (or
// makes a suspension resumable) emits its completion event, delivered in
// commit order with the stored literal alongside the mapped outcome.
func TestSubscribeCompletionOutcomes(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	lane := susLane
	// Completed before the subscription: "from now" never delivers it.
	s.runToCompletion(lane, nil)
	sub := s.subscribeCompletion(nil, backend.ScannerFilter{})

	type want struct {
		id      backend.ExecutionID
		outcome backend.CompletionOutcome
		raw     string
		at      time.Time
	}
	var wants []want
	add := func(id backend.ExecutionID, outcome backend.CompletionOutcome, raw string) {
		wants = append(wants, want{id, outcome, raw, s.now()})
	}

	s.clock.Advance(time.Second)
	add(s.runToCompletion(lane, nil), backend.CompletionSuccess, "success")

	s.clock.Advance(time.Second)
	id, h := s.running()
	if _, err := s.b.Fail(s.ctx, h, backend.FailureReason{Message: "no"}, backend.FailurePermanent); err != nil {
		t.Fatal(err)
	}
	add(id, backend.CompletionFailure, "failed")

	s.clock.Advance(time.Second)
	id, h = s.running()
	if err := s.b.Cancel(s.ctx, h, "worker gave up"); err != nil {
		t.Fatal(err)
	}
	add(id, backend.CompletionCancelled, "cancelled")

	s.clock.Advance(time.Second)
	id = s.create(lane, nil)
	if _, err := s.b.CancelExecution(s.ctx, backend.CancelExecutionArgs{ExecutionID: id, Reason: "operator"}); err != nil {
		t.Fatal(err)
	}
	add(id, backend.CompletionCancelled, "cancelled")

	s.clock.Advance(time.Second)
	id, _, sus := s.suspendOn("go")
	s.deliver(signalArgs(id, sus.Details.WaitpointID, sus.Details.WaitpointToken, "go"))
	add(id, backend.CompletionResumable, "resumable")

	s.clock.Advance(time.Second)
	id, _, _ = s.suspendWithTimeout(backend.TimeoutExpire)
	s.clock.Advance(2 * time.Minute)
	s.tick(scannerSuspensionTimeout)
	add(id, backend.CompletionExpired, "expired")

	got := nextEvents(t, sub, len(wants))
	var cursors []backend.EventCursor
	var gotWants []want
	for _, ev := range got {
		cursors = append(cursors, ev.Cursor)
		gotWants = append(gotWants, want{ev.ExecutionID, ev.Outcome, ev.RawOutcome, ev.At})
	}
	if diff := cmp.Diff(wants, gotWants, cmp.AllowUnexported(want{})); diff != "" {
		t.Fatalf("completion events (-want +got)\n%s", diff)
	}
	requireAscending(t, cursors)
	requireNoEvent(t, sub)
}

// TestSubscribeCompletionFilter: namespace and instance-tag filters, alone
// and together; a NULL column never matches a set dimension, and the tag
// key is not compared.
func TestSubscribeCompletionFilter(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	tag := func(v string) *scanners.InstanceTag { return &scanners.InstanceTag{Key: "cairn.instance_id", Value: v} }
	subs := map[string]backend.CompletionSubscription{
		"all":      e.subscribeCompletion(nil, backend.ScannerFilter{}),
		"ns-a":     e.subscribeCompletion(nil, backend.ScannerFilter{Namespace: "ns-a"}),
		"i-1":      e.subscribeCompletion(nil, backend.ScannerFilter{InstanceTag: tag("i-1")}),
		"ns-a,i-1": e.subscribeCompletion(nil, backend.ScannerFilter{Namespace: "ns-a", InstanceTag: tag("i-1")}),
		// The key is carried, not compared.
		"other-key": e.subscribeCompletion(nil, backend.ScannerFilter{InstanceTag: &scanners.InstanceTag{Key: "x.y", Value: "i-1"}}),
	}
	run := func(ns backend.Namespace, instance string) backend.ExecutionID {
		return e.runToCompletion("lane", func(a *backend.CreateExecutionArgs) {
			a.Namespace = ns
			if instance != "" {
				a.Tags = map[string]string{"cairn.instance_id": instance}
			}
		})
	}
	aOne := run("ns-a", "i-1")
	aTwo := run("ns-a", "i-2")
	aNone := run("ns-a", "")
	bOne := run("ns-b", "i-1")
	bNone := run("ns-b", "")
	marker := run("ns-a", "i-1") // matches every filter: ends each read

	want := map[string][]backend.ExecutionID{
		"all":       {aOne, aTwo, aNone, bOne, bNone, marker},
		"ns-a":      {aOne, aTwo, aNone, marker},
		"i-1":       {aOne, bOne, marker},
		"ns-a,i-1":  {aOne, marker},
		"other-key": {aOne, bOne, marker},
	}
	for name, sub := range subs {
		var got []backend.ExecutionID
		for len(got) == 0 || got[len(got)-1] != marker {
			got = append(got, nextEvent(t, sub).ExecutionID)
		}
		if diff := cmp.Diff(want[name], got); diff != "" {
			t.Errorf("filter %s (-want +got)\n%s", name, diff)
		}
	}
}

// TestSubscribeCursorErrors: a malformed or foreign cursor is
// ErrInvalidInput for every family; nothing is started.
func TestSubscribeCursorErrors(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	valkey := append([]byte{0x01}, make([]byte, 16)...)
	for _, tt := range []struct {
		name   string
		cursor backend.EventCursor
	}{
		{"ErrPrefixOnly", backend.EventCursor{backend.EventCursorPrefix}},
		{"ErrWrongPrefix", backend.EventCursor{0x01, 0, 0, 0, 0, 0, 0, 0, 1}},
		{"ErrValkeyCursor", valkey},
		{"ErrTooLong", append(backend.NewEventCursor(1), 0)},
	} {
		_, err := e.b.SubscribeCompletion(e.ctx, tt.cursor, backend.ScannerFilter{})
		requireErr(t, tt.name+" completion", err, backend.ErrInvalidInput)
		_, err = e.b.SubscribeLeaseHistory(e.ctx, tt.cursor, backend.ScannerFilter{})
		requireErr(t, tt.name+" lease", err, backend.ErrInvalidInput)
		_, err = e.b.SubscribeSignalDelivery(e.ctx, tt.cursor, backend.ScannerFilter{})
		requireErr(t, tt.name+" signal", err, backend.ErrInvalidInput)
	}
}

func TestSubscribeUnavailable(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	b2, err := backend.NewWithOptions(e.ctx, e.path, backend.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	for op, err := range map[string]error{
		"subscribe_completion":      second(b2.SubscribeCompletion(e.ctx, nil, backend.ScannerFilter{})),
		"subscribe_lease_history":   second(b2.SubscribeLeaseHistory(e.ctx, nil, backend.ScannerFilter{})),
		"subscribe_signal_delivery": second(b2.SubscribeSignalDelivery(e.ctx, nil, backend.ScannerFilter{})),
		"subscribe_instance_tags":   second(e.b.SubscribeInstanceTags(e.ctx, nil)),
	} {
		if !errors.Is(err, &backend.Error{Kind: backend.KindUnavailable, Op: op}) {
			t.Errorf("%s: err = %v, want Unavailable with Op %q", op, err, op)
		}
	}
	if e.b.Capabilities().Supports.SubscribeInstanceTags {
		t.Error("SubscribeInstanceTags capability reported")
	}
	caps := e.b.Capabilities().Supports
	if !caps.SubscribeCompletion || !caps.SubscribeLeaseHistory || !caps.SubscribeSignalDelivery ||
		!caps.StreamDurableSummary || !caps.StreamBestEffortLive {
		t.Errorf("stream/subscription capabilities = %+v, want all true", caps)
	}
}

// second returns the error of a two-value call.
func second[T any](_ T, err error) error { return err }

// TestSubscribeCompletionFromCursor: a cursor resumes after its event,
// and NewEventCursor(0) replays the table from the start.
func TestSubscribeCompletionFromCursor(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	ids := []backend.ExecutionID{e.runToCompletion("lane", nil), e.runToCompletion("lane", nil), e.runToCompletion("lane", nil)}
	all := nextEvents(t, e.subscribeCompletion(backend.NewEventCursor(0), backend.ScannerFilter{}), 3)
	got := []backend.ExecutionID{}
	for _, ev := range all {
		got = append(got, ev.ExecutionID)
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Fatalf("from the start (-want +got)\n%s", diff)
	}
	rest := nextEvent(t, e.subscribeCompletion(all[1].Cursor, backend.ScannerFilter{}))
	if diff := cmp.Diff(all[2], rest, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("resumed after the second event (-want +got)\n%s", diff)
	}
}

// TestSubscribeFlowEvents: flow resolution and cancellation emit their
// events in the transaction that ends each member — a skipped dependent,
// cancelled members, and the leased member's lease revoked.
func TestSubscribeFlowEvents(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	// Priorities fix the claim order: up, then leased.
	up, down := f.memberP(30), f.member()
	f.edge(up, down)
	queued, leased := f.memberP(0), f.memberP(20)
	completions := f.subscribeCompletion(nil, backend.ScannerFilter{})
	leases := f.subscribeLease(nil, backend.ScannerFilter{})

	f.failPermanently(f.claimID(up))
	h := f.claimID(leased)
	if _, err := f.b.CancelFlow(f.ctx, f.flow, backend.CancelFlowAll, backend.NoWait()); err != nil {
		t.Fatal(err)
	}

	got := map[backend.ExecutionID]backend.CompletionOutcome{}
	for range 4 {
		ev := nextEvent(t, completions)
		got[ev.ExecutionID] = ev.Outcome
	}
	want := map[backend.ExecutionID]backend.CompletionOutcome{
		up: backend.CompletionFailure, down: backend.CompletionSkipped,
		queued: backend.CompletionCancelled, leased: backend.CompletionCancelled,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("completion outcomes (-want +got)\n%s", diff)
	}
	requireNoEvent(t, completions)

	var kinds []string
	for range 4 { // up: acquired, revoked; leased: acquired, revoked
		ev := nextEvent(t, leases)
		kinds = append(kinds, string(ev.Kind)+":"+string(ev.LeaseID))
	}
	upLease := kinds[0][len("acquired:"):]
	wantKinds := []string{"acquired:" + upLease, "revoked:" + upLease, "acquired:" + string(h.LeaseID()), "revoked:" + string(h.LeaseID())}
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Fatalf("lease events (-want +got)\n%s", diff)
	}
	requireNoEvent(t, leases)
}
