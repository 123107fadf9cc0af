package tests

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

// handleOp is one lease-checked handle operation.
type handleOp struct {
	name string
	call func(e *execEnv, h backend.Handle) error
}

// leaseCheckedOps are the handle operations that refuse an expired lease
// (Cancel is the exception: it may cancel on a lapsed lease).
var leaseCheckedOps = []handleOp{
	{"Complete", func(e *execEnv, h backend.Handle) error { return e.b.Complete(e.ctx, h, []byte("r")) }},
	// Claiming from the handle's own lane: the claim must not happen
	// when the completion is refused.
	{"CompleteAndClaim", func(e *execEnv, h backend.Handle) error {
		_, err := e.b.CompleteAndClaim(e.ctx, h, []byte("r"), "lane", backend.CapabilitySet{}, workerPolicy("w-next"))
		return err
	}},
	{"Delay", func(e *execEnv, h backend.Handle) error { return e.b.Delay(e.ctx, h, e.now().Add(time.Minute)) }},
	{"Fail", func(e *execEnv, h backend.Handle) error {
		_, err := e.b.Fail(e.ctx, h, backend.FailureReason{Message: "boom"}, backend.FailureTransient)
		return err
	}},
	{"Progress", func(e *execEnv, h backend.Handle) error {
		return e.b.Progress(e.ctx, h, backend.Ptr(uint8(50)), backend.Ptr("half"))
	}},
	{"Renew", func(e *execEnv, h backend.Handle) error { _, err := e.b.Renew(e.ctx, h); return err }},
	{"WaitChildren", func(e *execEnv, h backend.Handle) error { return e.b.WaitChildren(e.ctx, h) }},
}

// allHandleOps adds Cancel to leaseCheckedOps.
var allHandleOps = append([]handleOp{
	{"Cancel", func(e *execEnv, h backend.Handle) error { return e.b.Cancel(e.ctx, h, "stop") }},
}, leaseCheckedOps...)

func TestRenewExtendsLease(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane", nil)
	t0 := e.now()
	h := e.mustClaim("lane") // 30 s lease: expires at t0+30s

	// Renewing 1 ms before expiry still works.
	t1 := e.clock.Advance(30*time.Second - time.Millisecond)
	got, err := e.b.Renew(e.ctx, h)
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	want := backend.LeaseRenewal{ExpiresAt: t1.Add(30 * time.Second), LeaseEpoch: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("renewal (-want +got)\n%s", diff)
	}
	snap := e.describe(id)
	wantLease := &backend.LeaseSummary{
		AttemptIndex: 0, ExpiresAt: t1.Add(30 * time.Second), LastHeartbeatAt: t1,
		LeaseEpoch: 1, LeaseID: h.LeaseID(), WorkerInstanceID: "w-1",
	}
	if diff := cmp.Diff(wantLease, snap.CurrentLease); diff != "" {
		t.Errorf("CurrentLease (-want +got)\n%s", diff)
	}
	if snap.PublicState != backend.PublicStateActive {
		t.Errorf("state = %s, want active", snap.PublicState)
	}

	// Renewing again from the same handle keeps the epoch.
	t2 := e.clock.Advance(20 * time.Second)
	got, err = e.b.Renew(e.ctx, h)
	if err != nil {
		t.Fatalf("second Renew: %v", err)
	}
	if diff := cmp.Diff(backend.LeaseRenewal{ExpiresAt: t2.Add(30 * time.Second), LeaseEpoch: 1}, got); diff != "" {
		t.Errorf("second renewal (-want +got)\n%s", diff)
	}
	// Well past the original expiry, the renewed lease is still good.
	e.clock.Set(t0.Add(time.Minute + 19*time.Second))
	if err := e.b.Complete(e.ctx, h, nil); err != nil {
		t.Fatalf("Complete on the renewed lease: %v", err)
	}
}

func TestLeaseExpired(t *testing.T) {
	t.Parallel()
	for _, first := range leaseCheckedOps {
		t.Run(first.name+"First", func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			id := e.create("lane", nil)
			old := e.mustClaimAs("lane", workerPolicy("w-1"))
			// Expiry is now + 30 s; at that instant the lease has lapsed.
			e.clock.Advance(30 * time.Second)

			requireErr(t, first.name+" on an expired lease", first.call(e, old), backend.ErrLeaseExpired)
			// The execution stays active, awaiting reclaim.
			if got := e.info(id).StateVector; got.PublicState != backend.PublicStateActive ||
				got.OwnershipState != backend.OwnershipLeaseExpiredReclaimable {
				t.Fatalf("after expiry: state vector %+v", got)
			}
			before := e.dump()
			for _, op := range leaseCheckedOps {
				requireErr(t, op.name+" on an expired lease", op.call(e, old), backend.ErrLeaseExpired)
			}
			e.requireUnchanged(before, "operations on an expired lease")

			// Another worker's Claim takes the execution over.
			h := e.mustClaimAs("lane", workerPolicy("w-2"))
			want := handleFields{
				AttemptIndex: 1, Backend: backend.BackendSQLite, ExecutionID: id, Kind: backend.HandleReclaimed,
				LaneID: "lane", LeaseEpoch: 1, LeaseTTL: 30 * time.Second, WorkerInstanceID: "w-2",
			}
			if diff := cmp.Diff(want, fieldsOf(h)); diff != "" {
				t.Fatalf("reclaimed handle (-want +got)\n%s", diff)
			}
			if h.AttemptID() == old.AttemptID() || h.LeaseID() == old.LeaseID() {
				t.Errorf("reclaim reused the old attempt or lease id")
			}
			if n, err := e.b.ReadTotalAttemptCount(e.ctx, id); err != nil || n != 2 {
				t.Errorf("ReadTotalAttemptCount = %d, %v; want 2", n, err)
			}
			if n, err := e.b.ReadCurrentAttemptIndex(e.ctx, id); err != nil || n != 1 {
				t.Errorf("ReadCurrentAttemptIndex = %d, %v; want 1", n, err)
			}

			// The old holder is fenced out, Cancel included.
			before = e.dump()
			for _, op := range allHandleOps {
				requireErr(t, op.name+" with the reclaimed handle", op.call(e, old), backend.ErrStaleLease)
			}
			e.requireUnchanged(before, "operations with a superseded handle")

			if err := e.b.Complete(e.ctx, h, []byte("done")); err != nil {
				t.Fatalf("Complete by the new holder: %v", err)
			}
			if got := e.state(id); got != backend.PublicStateCompleted {
				t.Fatalf("state = %s, want completed", got)
			}
		})
	}
}

// TestLeaseNotExpiredBeforeDeadline pins the boundary: 1 ms before the
// expiry every lease-checked operation still works.
func TestLeaseNotExpiredBeforeDeadline(t *testing.T) {
	t.Parallel()
	for _, op := range leaseCheckedOps {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			e.create("lane", nil)
			h := e.mustClaim("lane")
			e.clock.Advance(30*time.Second - time.Millisecond)
			if err := op.call(e, h); err != nil {
				t.Fatalf("%s 1 ms before expiry: %v", op.name, err)
			}
		})
	}
}

func TestCancelOnExpiredLease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// marked makes a lease-checked call first, which marks the lease
		// expired (reclaimable).
		marked bool
	}{
		{"Lapsed", false},
		{"MarkedReclaimable", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			id := e.create("lane", nil)
			h := e.mustClaim("lane")
			e.clock.Advance(time.Hour)
			if tt.marked {
				_, err := e.b.Renew(e.ctx, h)
				requireErr(t, "Renew", err, backend.ErrLeaseExpired)
			}
			if err := e.b.Cancel(e.ctx, h, "giving up"); err != nil {
				t.Fatalf("Cancel on an expired lease: %v", err)
			}
			if got := e.state(id); got != backend.PublicStateCancelled {
				t.Fatalf("state = %s, want cancelled", got)
			}
			before := e.dump()
			if err := e.b.Cancel(e.ctx, h, "again"); err != nil {
				t.Fatalf("repeat Cancel: %v", err)
			}
			e.requireUnchanged(before, "a repeated Cancel")
			if h := e.claim("lane"); h != nil {
				t.Fatalf("claimed a cancelled execution: %v", h)
			}
		})
	}
}

// forged builds a handle from h's payload changed by mod, re-encoded under
// tag.
func forged(t *testing.T, h backend.Handle, tag backend.BackendTag, mod func(*backend.HandlePayload)) backend.Handle {
	t.Helper()
	p, err := h.Payload()
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(&p)
	}
	return backend.NewHandle(backend.BackendSQLite, h.Kind(), backend.EncodeHandleOpaque(tag, p))
}

func TestHandleValidation(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane", nil)
	h := e.mustClaim("lane")
	opaque := h.Opaque()

	tests := []struct {
		name string
		h    backend.Handle
		want error
	}{
		{"ErrZeroHandle", backend.Handle{}, backend.ErrInvalidInput},
		{"ErrOuterValkey", backend.NewHandle(backend.BackendValkey, backend.HandleFresh, opaque), backend.ErrHandleFromOtherBackend},
		{"ErrOuterPostgres", backend.NewHandle(backend.BackendPostgres, backend.HandleFresh, opaque), backend.ErrHandleFromOtherBackend},
		{"ErrEmbeddedPostgres", forged(t, h, backend.BackendPostgres, nil), backend.ErrHandleFromOtherBackend},
		{"ErrEmbeddedValkey", forged(t, h, backend.BackendValkey, nil), backend.ErrHandleFromOtherBackend},
		{"ErrGarbageOpaque", backend.NewHandle(backend.BackendSQLite, backend.HandleFresh, []byte("garbage")), backend.ErrCorruption},
		{"ErrTruncatedOpaque", backend.NewHandle(backend.BackendSQLite, backend.HandleFresh, opaque[:len(opaque)-1]), backend.ErrCorruption},
		{"ErrTrailingBytes", backend.NewHandle(backend.BackendSQLite, backend.HandleFresh, append(h.Opaque(), 0)), backend.ErrCorruption},
		{"ErrMissingAttempt", forged(t, h, backend.BackendSQLite, func(p *backend.HandlePayload) { p.AttemptIndex = 7 }), notFoundAttempt},
		{"ErrUnknownExecution", forged(t, h, backend.BackendSQLite, func(p *backend.HandlePayload) {
			p.ExecutionID = backend.NewExecutionID()
		}), backend.ErrNotFound},
		{"ErrWrongEpoch", forged(t, h, backend.BackendSQLite, func(p *backend.HandlePayload) { p.LeaseEpoch = 2 }), backend.ErrStaleLease},
		{"ErrZeroEpoch", forged(t, h, backend.BackendSQLite, func(p *backend.HandlePayload) { p.LeaseEpoch = 0 }), backend.ErrStaleLease},
		{"ErrWrongLeaseID", forged(t, h, backend.BackendSQLite, func(p *backend.HandlePayload) { p.LeaseID = backend.NewLeaseID() }), backend.ErrStaleLease},
	}
	before := e.dump()
	for _, tt := range tests {
		for _, op := range allHandleOps {
			err := op.call(e, tt.h)
			requireErr(t, tt.name+": "+op.name, err, tt.want)
		}
		e.requireUnchanged(before, tt.name)
	}
	if got := e.info(id).StateVector.OwnershipState; got != backend.OwnershipLeased {
		t.Fatalf("ownership = %s, want leased", got)
	}
	// The genuine handle is unaffected; the handle kind is not checked.
	if _, err := e.b.Renew(e.ctx, backend.NewHandle(backend.BackendSQLite, backend.HandleResumed, opaque)); err != nil {
		t.Fatalf("Renew with a re-kinded genuine handle: %v", err)
	}
	if err := e.b.Complete(e.ctx, h, nil); err != nil {
		t.Fatalf("Complete with the genuine handle: %v", err)
	}
}

// TestStaleHandleAfterRelease: once a released execution is leased again,
// the previous lease's handle is stale.
func TestStaleHandleAfterRelease(t *testing.T) {
	t.Parallel()
	release := []handleOp{
		{"Delay", func(e *execEnv, h backend.Handle) error { return e.b.Delay(e.ctx, h, e.now()) }},
		{"WaitChildren", func(e *execEnv, h backend.Handle) error { return e.b.WaitChildren(e.ctx, h) }},
	}
	for _, rel := range release {
		t.Run(rel.name, func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			e.create("lane", nil)
			old := e.mustClaim("lane")
			if err := rel.call(e, old); err != nil {
				t.Fatal(err)
			}
			h := e.mustClaim("lane")
			if h.AttemptIndex() != old.AttemptIndex() || h.LeaseEpoch() != old.LeaseEpoch()+1 {
				t.Fatalf("re-claim = attempt %d epoch %d", h.AttemptIndex(), h.LeaseEpoch())
			}
			before := e.dump()
			for _, op := range allHandleOps {
				requireErr(t, op.name+" with the previous lease", op.call(e, old), backend.ErrStaleLease)
			}
			e.requireUnchanged(before, "operations with the previous lease")
		})
	}
}
