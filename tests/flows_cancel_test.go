package tests

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

// bigFlow is a flow of 2n members: members 0..n-1 are upstreams, each
// gating member i+n; the first n/5 upstreams are running (their handles are
// kept) and the next n/10 already completed, so their downstreams are
// claimable.
type bigFlow struct {
	*flowEnv
	n       int
	ids     []backend.ExecutionID
	running map[backend.ExecutionID]backend.Handle
}

func newBigFlow(t *testing.T, n int) *bigFlow {
	t.Helper()
	f := newFlowEnv(t)
	g := &bigFlow{flowEnv: f, n: n, running: map[backend.ExecutionID]backend.Handle{}}
	for i := range 2 * n {
		// Upstreams outrank downstreams so claims take them in index order.
		prio := int32(0)
		if i < n {
			prio = int32(1000 - i)
		}
		g.ids = append(g.ids, f.memberP(prio))
	}
	for i := range n {
		f.edge(g.ids[i], g.ids[i+n])
	}
	for i := range n/5 + n/10 {
		h := f.claimID(g.ids[i])
		if i >= n/5 {
			f.complete(h, "")
			continue
		}
		g.running[g.ids[i]] = h
	}
	return g
}

// states counts members by public state.
func (g *bigFlow) states() map[backend.PublicState]int {
	g.t.Helper()
	out := map[backend.PublicState]int{}
	for _, id := range g.ids {
		out[g.state(id)]++
	}
	return out
}

// TestCancelFlowPolicies cancels a flow under every policy and wait mode:
// the wait mode never changes the (synchronous) result. Each policy runs
// on a 100-member flow without waiting, and on a 20-member one for the
// other wait modes.
func TestCancelFlowPolicies(t *testing.T) {
	t.Parallel()
	sorted := func(ids []backend.ExecutionID) []backend.ExecutionID {
		out := slices.Clone(ids)
		slices.Sort(out)
		return out
	}
	// With n upstreams: n/5 running, n/10 completed, the rest queued; the
	// n downstreams of the completed ones are claimable, the rest gated.
	type counts struct{ running, done, queued, waiting, gated int }
	shape := func(n int) counts {
		return counts{running: n / 5, done: n / 10, queued: n - n/5 - n/10, waiting: n / 10, gated: n - n/10}
	}
	tests := []struct {
		policy     backend.CancelFlowPolicy
		wantPolicy string
		// members returns the ids the call must cancel.
		members    func(g *bigFlow) []backend.ExecutionID
		wantStates func(c counts) map[backend.PublicState]int
		fenced     bool // running members' handles are rejected afterwards
	}{
		{
			policy: backend.CancelFlowOnly, wantPolicy: "cancel_flow_only",
			members: func(*bigFlow) []backend.ExecutionID { return []backend.ExecutionID{} },
			wantStates: func(c counts) map[backend.PublicState]int {
				return map[backend.PublicState]int{stActive: c.running, stCompleted: c.done, stWaiting: c.queued + c.waiting, stChildren: c.gated}
			},
		},
		{
			policy: "bogus", wantPolicy: "cancel_flow_only",
			members: func(*bigFlow) []backend.ExecutionID { return []backend.ExecutionID{} },
			wantStates: func(c counts) map[backend.PublicState]int {
				return map[backend.PublicState]int{stActive: c.running, stCompleted: c.done, stWaiting: c.queued + c.waiting, stChildren: c.gated}
			},
		},
		{
			policy: backend.CancelFlowAll, wantPolicy: "cancel_all",
			members: func(g *bigFlow) []backend.ExecutionID {
				c := shape(g.n)
				out := slices.Clone(g.ids[:c.running])
				out = append(out, g.ids[c.running+c.done:]...)
				return sorted(out)
			},
			wantStates: func(c counts) map[backend.PublicState]int {
				return map[backend.PublicState]int{stCancelled: 2*(c.running+c.done+c.queued) - c.done, stCompleted: c.done}
			},
			fenced: true,
		},
		{
			policy: backend.CancelFlowPending, wantPolicy: "cancel_pending",
			members: func(g *bigFlow) []backend.ExecutionID {
				c := shape(g.n)
				return sorted(slices.Clone(g.ids[c.running+c.done:]))
			},
			wantStates: func(c counts) map[backend.PublicState]int {
				return map[backend.PublicState]int{stActive: c.running, stCompleted: c.done, stCancelled: c.queued + c.waiting + c.gated}
			},
		},
	}
	for _, tt := range tests {
		for _, w := range allWaits {
			t.Run(string(tt.policy)+"/"+w.name, func(t *testing.T) {
				t.Parallel()
				n := 10
				if w.wait.Kind == backend.CancelFlowNoWait && tt.policy != "bogus" {
					n = 50
				}
				g := newBigFlow(t, n)
				at := g.clock.Advance(time.Second)
				res, err := g.b.CancelFlow(g.ctx, g.flow, tt.policy, w.wait)
				if err != nil {
					t.Fatal(err)
				}
				want := backend.CancelFlowResult{CancellationPolicy: tt.wantPolicy, Kind: backend.CancelFlowCancelled, MemberExecutionIDs: tt.members(g)}
				if diff := cmp.Diff(want, res); diff != "" {
					t.Fatalf("CancelFlow (-want +got)\n%s", diff)
				}
				if diff := cmp.Diff(tt.wantStates(shape(n)), g.states()); diff != "" {
					t.Fatalf("member states (-want +got)\n%s", diff)
				}
				snap := g.snapshot()
				if snap.PublicFlowState != "cancelled" || snap.CancellationPolicy != tt.wantPolicy || !snap.CancelledAt.Equal(at) {
					t.Fatalf("flow after cancel = state %s policy %q at %v", snap.PublicFlowState, snap.CancellationPolicy, snap.CancelledAt)
				}
				revoked := g.rowCount(`SELECT count(*) FROM ff_lease_event WHERE event_type = 'revoked' AND occurred_at_ms = ?`, at.UnixMilli())
				wantRevoked := 0
				if tt.fenced {
					wantRevoked = len(g.running)
				}
				if revoked != wantRevoked {
					t.Fatalf("revoked lease events = %d, want %d", revoked, wantRevoked)
				}
				for _, id := range res.MemberExecutionIDs {
					if got := g.completionOutcomes(id); !cmp.Equal(got, []string{"cancelled"}) {
						t.Fatalf("completion events of cancelled %s = %v", id, got)
					}
					if got := g.cancelReason(id); got != "flow_cancelled" {
						t.Fatalf("reason of %s = %q", id, got)
					}
				}
				for id, h := range g.running {
					err := g.b.Complete(g.ctx, h, nil)
					if tt.fenced {
						requireErr(t, "Complete after the flow cancel", err, backend.ErrStaleLease)
						continue
					}
					if err != nil {
						t.Fatalf("Complete of running member %s: %v", id, err)
					}
				}
				pending := g.rowCount(`SELECT count(*) FROM ff_pending_cancel_groups`)
				if wantPending := map[bool]int{true: shape(n).gated, false: 0}[tt.policy == backend.CancelFlowPending]; pending != wantPending {
					t.Fatalf("pending cancel groups = %d, want %d", pending, wantPending)
				}
			})
		}
	}
}

// TestCancelFlowEdgeCases: an unknown flow is an empty result, a bad wait
// is rejected before any write, and a repeat re-stamps the policy.
func TestCancelFlowEdgeCases(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	a := f.member()
	res, err := f.b.CancelFlow(f.ctx, backend.NewFlowID(), backend.CancelFlowAll, backend.NoWait())
	want := backend.CancelFlowResult{CancellationPolicy: "cancel_all", Kind: backend.CancelFlowCancelled, MemberExecutionIDs: []backend.ExecutionID{}}
	if err != nil || !cmp.Equal(want, res) {
		t.Fatalf("CancelFlow(unknown) = %+v, %v", res, err)
	}
	for _, tt := range []struct {
		name string
		id   backend.FlowID
		wait backend.CancelFlowWait
	}{
		{"ErrNegativeTimeout", f.flow, backend.WaitTimeout(-time.Second)},
		{"ErrUnknownWait", f.flow, backend.CancelFlowWait{Kind: "later"}},
		{"ErrMalformedFlowID", "x", backend.NoWait()},
	} {
		before := f.dump()
		_, err := f.b.CancelFlow(f.ctx, tt.id, backend.CancelFlowAll, tt.wait)
		requireErr(t, tt.name, err, backend.ErrInvalidInput)
		f.requireUnchanged(before, tt.name)
	}
	if _, err := f.b.CancelFlow(f.ctx, f.flow, backend.CancelFlowOnly, backend.CancelFlowWait{}); err != nil {
		t.Fatal(err)
	}
	first := f.snapshot().CancelledAt
	f.clock.Advance(time.Second)
	res, err = f.b.CancelFlow(f.ctx, f.flow, backend.CancelFlowAll, backend.NoWait())
	if err != nil || !cmp.Equal(res.MemberExecutionIDs, []backend.ExecutionID{a}) {
		t.Fatalf("repeat with cancel_all = %+v, %v", res, err)
	}
	if snap := f.snapshot(); snap.CancellationPolicy != "cancel_all" || !snap.CancelledAt.Equal(first) {
		t.Fatalf("repeat: policy %q cancelled at %v (first %v)", snap.CancellationPolicy, snap.CancelledAt, first)
	}
}

// TestCancelPendingLetsActiveDrain: under cancel_pending a running member
// finishes normally; its cancelled dependent only counts the result, and a
// running member whose upstream was cancelled is skipped.
func TestCancelPendingLetsActiveDrain(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	run := f.memberP(10)
	queued := f.member()
	h := f.claimID(run)
	after := f.member()
	f.edge(run, after)
	// running depends on queued: claimed before the edge, so not gated.
	f.edge(queued, run)
	if _, err := f.b.CancelFlow(f.ctx, f.flow, backend.CancelFlowPending, backend.NoWait()); err != nil {
		t.Fatal(err)
	}
	f.requireStates(map[backend.ExecutionID]backend.PublicState{queued: stCancelled, after: stCancelled, run: stSkipped})
	requireErr(t, "Complete of the skipped runner", f.b.Complete(f.ctx, h, nil), backend.ErrStaleLease)
}

// TestCancelledMemberOldHandleRejected: every handle operation of a member
// cancelled with its flow reports ErrStaleLease.
func TestCancelledMemberOldHandleRejected(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	id := f.member()
	h := f.claimID(id)
	res, err := f.b.CancelFlowHeader(f.ctx, backend.CancelFlowArgs{FlowID: f.flow, CancellationPolicy: "cancel_all", Reason: "stop"})
	if err != nil || !cmp.Equal(res.MemberExecutionIDs, []backend.ExecutionID{id}) {
		t.Fatalf("CancelFlowHeader = %+v, %v", res, err)
	}
	ops := map[string]func() error{
		"Complete": func() error { return f.b.Complete(f.ctx, h, nil) },
		"Renew":    func() error { _, err := f.b.Renew(f.ctx, h); return err },
		"Fail": func() error {
			_, err := f.b.Fail(f.ctx, h, backend.FailureReason{}, backend.FailurePermanent)
			return err
		},
		"Cancel":       func() error { return f.b.Cancel(f.ctx, h, "x") },
		"Delay":        func() error { return f.b.Delay(f.ctx, h, f.now().Add(time.Minute)) },
		"WaitChildren": func() error { return f.b.WaitChildren(f.ctx, h) },
	}
	for name, op := range ops {
		before := f.dump()
		requireErr(t, name, op(), backend.ErrStaleLease)
		f.requireUnchanged(before, name)
	}
	if got := f.state(id); got != stCancelled {
		t.Fatalf("state = %s", got)
	}
}

func TestCancelFlowHeader(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	done := f.memberP(10)
	f.complete(f.claimID(done), "")
	a, b := f.member(), f.member()
	f.edge(a, b)
	at := f.now().Add(-time.Second)
	res, err := f.b.CancelFlowHeader(f.ctx, backend.CancelFlowArgs{FlowID: f.flow, CancellationPolicy: "custom policy", Reason: "operator said so", Now: at})
	want := backend.CancelFlowHeader{CancellationPolicy: "custom policy", Kind: backend.CancelFlowHeaderCancelled, MemberExecutionIDs: sortedIDs(a, b)}
	if err != nil || !cmp.Equal(want, res) {
		t.Fatalf("CancelFlowHeader = %+v, %v", res, err)
	}
	f.requireStates(map[backend.ExecutionID]backend.PublicState{done: stCompleted, a: stCancelled, b: stCancelled})
	snap := f.snapshot()
	if snap.PublicFlowState != "cancelled" || snap.CancelReason != "operator said so" || snap.CancellationPolicy != "custom policy" || !snap.CancelledAt.Equal(at) {
		t.Fatalf("flow = %+v", snap)
	}
	if got := f.cancelReason(a); got != "operator said so" {
		t.Fatalf("member reason = %q", got)
	}
	var details string
	if err := f.raw().QueryRowContext(f.ctx, `SELECT details FROM ff_operator_event WHERE execution_id = ? AND event_type = 'flow_cancel_requested'`, string(f.flow)).Scan(&details); err != nil {
		t.Fatal(err)
	}
	wantDetails := `{"cancellation_policy":"custom policy","flow_id":"` + string(f.flow) + `","member_count":2,"reason":"operator said so"}`
	if details != wantDetails {
		t.Fatalf("operator event details = %s", details)
	}
	if n := f.rowCount(`SELECT count(*) FROM ff_cancel_backlog_member WHERE flow_id = ?`, string(f.flow)); n != 2 {
		t.Fatalf("backlog members = %d", n)
	}

	// Already terminal: reports the stored policy and the backlog, writes
	// nothing.
	before := f.dump()
	res, err = f.b.CancelFlowHeader(f.ctx, backend.CancelFlowArgs{FlowID: f.flow, CancellationPolicy: "other", Reason: "again"})
	want = backend.CancelFlowHeader{Kind: backend.CancelFlowHeaderAlreadyTerminal, MemberExecutionIDs: sortedIDs(a, b), StoredCancelReason: "operator said so", StoredCancellationPolicy: "custom policy"}
	if err != nil || !cmp.Equal(want, res) {
		t.Fatalf("repeat CancelFlowHeader = %+v, %v", res, err)
	}
	f.requireUnchanged(before, "repeat CancelFlowHeader")

	// Acknowledging every member empties the backlog; the header then lists
	// all members.
	for _, id := range []backend.ExecutionID{a, b} {
		if err := f.b.AckCancelMember(f.ctx, f.flow, id); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.rowCount(`SELECT count(*) FROM ff_cancel_backlog WHERE flow_id = ?`, string(f.flow)); n != 0 {
		t.Fatalf("backlog rows after acking every member = %d", n)
	}
	res, err = f.b.CancelFlowHeader(f.ctx, backend.CancelFlowArgs{FlowID: f.flow})
	if err != nil || !cmp.Equal(res.MemberExecutionIDs, sortedIDs(a, b, done)) {
		t.Fatalf("header after acks = %+v, %v", res, err)
	}

	before = f.dump()
	_, err = f.b.CancelFlowHeader(f.ctx, backend.CancelFlowArgs{FlowID: backend.NewFlowID()})
	requireErr(t, "CancelFlowHeader(unknown)", err, &backend.Error{Kind: backend.KindNotFound, Entity: backend.EntityFlow})
	_, err = f.b.CancelFlowHeader(f.ctx, backend.CancelFlowArgs{FlowID: "x"})
	requireErr(t, "CancelFlowHeader(bad id)", err, backend.ErrInvalidInput)
	f.requireUnchanged(before, "rejected CancelFlowHeader")
}

// TestCancelFlowHeaderWithoutMembers: the backlog of a memberless flow is
// removed by the first acknowledgement of any id.
func TestCancelFlowHeaderWithoutMembers(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	res, err := f.b.CancelFlowHeader(f.ctx, backend.CancelFlowArgs{FlowID: f.flow, CancellationPolicy: "p"})
	if err != nil || res.MemberExecutionIDs == nil || len(res.MemberExecutionIDs) != 0 {
		t.Fatalf("CancelFlowHeader = %+v, %v", res, err)
	}
	if n := f.rowCount(`SELECT count(*) FROM ff_cancel_backlog`); n != 1 {
		t.Fatalf("backlog rows = %d", n)
	}
	if err := f.b.AckCancelMember(f.ctx, f.flow, backend.NewExecutionID()); err != nil {
		t.Fatal(err)
	}
	if n := f.rowCount(`SELECT count(*) FROM ff_cancel_backlog`); n != 0 {
		t.Fatalf("backlog rows after an ack = %d", n)
	}
	// Idempotent.
	before := f.dump()
	if err := f.b.AckCancelMember(f.ctx, f.flow, backend.NewExecutionID()); err != nil {
		t.Fatal(err)
	}
	f.requireUnchanged(before, "repeat ack")
	requireErr(t, "AckCancelMember(bad flow)", f.b.AckCancelMember(f.ctx, "x", backend.NewExecutionID()), backend.ErrInvalidInput)
	requireErr(t, "AckCancelMember(bad execution)", f.b.AckCancelMember(f.ctx, f.flow, "x"), backend.ErrInvalidInput)
	f.requireUnchanged(before, "rejected acks")
}

// TestCancelledFlowRefusesGrowth: a cancelled flow takes no new members.
func TestCancelledFlowRefusesGrowth(t *testing.T) {
	t.Parallel()
	f := newFlowEnv(t)
	a := f.member()
	if _, err := f.b.CancelFlow(f.ctx, f.flow, backend.CancelFlowOnly, backend.NoWait()); err != nil {
		t.Fatal(err)
	}
	fresh := f.create(f.lane, nil)
	before := f.dump()
	_, err := f.b.AddExecutionToFlow(f.ctx, backend.AddExecutionToFlowArgs{ExecutionID: fresh, FlowID: f.flow})
	if !errors.Is(err, backend.ErrFlowAlreadyTerminal) {
		t.Fatalf("add to cancelled flow = %v", err)
	}
	// Even an existing member re-added: the terminal check comes first.
	_, err = f.b.AddExecutionToFlow(f.ctx, backend.AddExecutionToFlowArgs{ExecutionID: a, FlowID: f.flow})
	requireErr(t, "re-add to cancelled flow", err, backend.ErrFlowAlreadyTerminal)
	f.requireUnchanged(before, "adds to a cancelled flow")
}

func sortedIDs(ids ...backend.ExecutionID) []backend.ExecutionID {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
