package tests

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

// Suspension scenarios share a seeded key store: kid "k1" with susSecret.
const (
	susKid  = "k1"
	susLane = backend.LaneID("approvals")
)

var susSecret = strings.Repeat("ab", 32)

// susEnv is an execEnv whose key store holds kid "k1" (seeded through
// Options, as an application would).
type susEnv struct {
	*execEnv
	// bindHandle, when set by a test's setup, replaces the handle the
	// test acts with.
	bindHandle backend.Handle
}

// Reconciler jobs of the suspension domain.
const (
	scannerSuspensionTimeout = scanners.JobSuspensionTimeout
	scannerPendingExpiry     = scanners.JobPendingWaitpointExpiry
)

// newSusEnv opens a fresh file database on a FakeClock with kid "k1"
// seeded.
func newSusEnv(t *testing.T) *susEnv {
	t.Helper()
	clock := backend.NewFakeClock(time.Time{})
	e := newExecEnvWith(t, backend.Options{
		Clock:               clock,
		WaitpointHMACSecret: &backend.SeedWaitpointHMACSecretArgs{Kid: susKid, SecretHex: susSecret},
	})
	e.clock = clock
	return &susEnv{execEnv: e}
}

// newUnseededSusEnv is newSusEnv without a key.
func newUnseededSusEnv(t *testing.T) *susEnv {
	t.Helper()
	return &susEnv{execEnv: newExecEnv(t)}
}

// running creates an execution on susLane and claims it.
func (s *susEnv) running() (backend.ExecutionID, backend.Handle) {
	s.t.Helper()
	id := s.create(susLane, nil)
	h := s.mustClaim(susLane)
	if h.ExecutionID() != id {
		s.t.Fatalf("claimed %s, want %s", h.ExecutionID(), id)
	}
	return id, h
}

// suspendArgs suspends on the bindings until cond holds.
func suspendArgs(cond backend.ResumeCondition, bindings ...backend.WaitpointBinding) backend.SuspendArgs {
	return backend.SuspendArgs{
		SuspensionID:    backend.NewSuspensionID(),
		Waitpoints:      bindings,
		ResumeCondition: cond,
		ResumePolicy:    backend.NormalResumePolicy(),
		ReasonCode:      backend.ReasonWaitingForSignal,
	}
}

// suspend suspends h and fails the test on error.
func (s *susEnv) suspend(h backend.Handle, args backend.SuspendArgs) backend.SuspendOutcome {
	s.t.Helper()
	out, err := s.b.Suspend(s.ctx, h, args)
	if err != nil {
		s.t.Fatalf("Suspend: %v", err)
	}
	return out
}

// suspendOn runs an execution and suspends it on one fresh waitpoint until
// a signal named name arrives.
func (s *susEnv) suspendOn(name string) (backend.ExecutionID, backend.Handle, backend.SuspendOutcome) {
	s.t.Helper()
	id, h := s.running()
	wp := backend.FreshBinding()
	out := s.suspend(h, suspendArgs(backend.SingleCondition(wp.WaitpointKey, backend.ByName(name)), wp))
	if out.Kind != backend.SuspendSuspended {
		s.t.Fatalf("Suspend kind = %s, want suspended", out.Kind)
	}
	return id, h, out
}

// signalArgs delivers a signal named name to a waitpoint.
func signalArgs(id backend.ExecutionID, wp backend.WaitpointID, token backend.WaitpointToken, name string) backend.DeliverSignalArgs {
	return backend.DeliverSignalArgs{
		ExecutionID:    id,
		WaitpointID:    wp,
		WaitpointToken: token,
		SignalID:       backend.NewSignalID(),
		SignalName:     name,
		SignalCategory: "test",
		SourceType:     "user",
		SourceIdentity: "alice",
	}
}

// deliver delivers args and fails the test on error.
func (s *susEnv) deliver(args backend.DeliverSignalArgs) backend.DeliverSignalResult {
	s.t.Helper()
	res, err := s.b.DeliverSignal(s.ctx, args)
	if err != nil {
		s.t.Fatalf("DeliverSignal(%s): %v", args.SignalName, err)
	}
	return res
}

// requireEffect fails unless res is an accepted delivery with effect.
func requireEffect(t *testing.T, res backend.DeliverSignalResult, effect backend.DeliverSignalEffect) {
	t.Helper()
	if res.Kind != backend.DeliverSignalAccepted || res.Effect != effect {
		t.Fatalf("DeliverSignal = %+v, want accepted with effect %s", res, effect)
	}
}

// claimResumed claims a resumable execution as worker instance "w-2".
func (s *susEnv) claimResumed(id backend.ExecutionID) backend.ClaimResumedExecutionResult {
	s.t.Helper()
	res, err := s.b.ClaimResumedExecution(s.ctx, backend.ClaimResumedExecutionArgs{
		ExecutionID:      id,
		WorkerID:         "w",
		WorkerInstanceID: "w-2",
		LaneID:           susLane,
		LeaseID:          backend.NewLeaseID(),
		LeaseTTL:         30 * time.Second,
	})
	if err != nil {
		s.t.Fatalf("ClaimResumedExecution: %v", err)
	}
	return res
}

// waitpoints lists every pending and active waitpoint of id.
func (s *susEnv) waitpoints(id backend.ExecutionID) []backend.PendingWaitpointInfo {
	s.t.Helper()
	page, err := s.b.ListPendingWaitpoints(s.ctx, backend.ListPendingWaitpointsArgs{ExecutionID: id, Limit: 1000})
	if err != nil {
		s.t.Fatalf("ListPendingWaitpoints: %v", err)
	}
	return page.Items
}

// observe reads the signals of h's execution's last suspension.
func (s *susEnv) observe(h backend.Handle) []backend.ResumeSignal {
	s.t.Helper()
	sigs, err := s.b.ObserveSignals(s.ctx, h)
	if err != nil {
		s.t.Fatalf("ObserveSignals: %v", err)
	}
	return sigs
}

// signalNames lists the names of sigs in order.
func signalNames(sigs []backend.ResumeSignal) []string {
	names := []string{}
	for _, s := range sigs {
		names = append(names, s.SignalName)
	}
	return names
}

// rawRows reads one text column of the rows a query returns.
func (s *susEnv) rawRows(query string, args ...any) []string {
	s.t.Helper()
	rows, err := s.raw().QueryContext(s.ctx, query, args...)
	if err != nil {
		s.t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			s.t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// leaseEvents lists id's lease-history event types in order.
func (s *susEnv) leaseEvents(id backend.ExecutionID) []string {
	return s.rawRows(`SELECT event_type FROM ff_lease_event WHERE execution_id = ? ORDER BY event_id`, string(id))
}

// completionEvents lists id's completion outcomes in order.
func (s *susEnv) completionEvents(id backend.ExecutionID) []string {
	return s.rawRows(`SELECT outcome FROM ff_completion_event WHERE execution_id = ? ORDER BY event_id`, string(id))
}

// signalEvents lists id's signal-delivery effects in order.
func (s *susEnv) signalEvents(id backend.ExecutionID) []string {
	return s.rawRows(`SELECT effect FROM ff_signal_event WHERE execution_id = ? ORDER BY event_id`, string(id))
}

// waitpointState reads a waitpoint's stored state and close reason.
func (s *susEnv) waitpointState(wp backend.WaitpointID) string {
	s.t.Helper()
	rows := s.rawRows(`SELECT state || ':' || coalesce(close_reason, '') FROM ff_waitpoint WHERE waitpoint_id = ?`, string(wp))
	if len(rows) != 1 {
		s.t.Fatalf("waitpoint %s: %d rows", wp, len(rows))
	}
	return rows[0]
}

// tick runs one reconciler tick and returns how many rows it processed.
func (s *susEnv) tick(job scanners.Job) int {
	s.t.Helper()
	res, err := s.b.RunScannerOnce(s.ctx, job)
	if err != nil {
		s.t.Fatalf("RunScannerOnce(%s): %v", job, err)
	}
	if res.Errors != 0 {
		s.t.Fatalf("RunScannerOnce(%s): %d errors", job, res.Errors)
	}
	return res.Processed
}

// isNotFound reports a NotFound error about entity.
func isNotFound(err error, entity string) bool {
	return errors.Is(err, &backend.Error{Kind: backend.KindNotFound, Entity: entity})
}
