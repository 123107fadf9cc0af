package tests

import (
	"database/sql"
	"net/url"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// tamper runs one statement against the backend's file through a separate
// writable connection, standing in for a corrupt or foreign database.
func (s *susEnv) tamper(query string, args ...any) {
	s.t.Helper()
	dsn := "file:" + (&url.URL{Path: s.path}).EscapedPath() + "?_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		s.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(s.ctx, query, args...); err != nil {
		s.t.Fatalf("%s: %v", query, err)
	}
}

// TestSuspensionCorruptRows: stored data that does not decode surfaces as
// ErrCorruption (and a missing suspension row as NotFound), never as a
// guess; nothing is written.
func TestSuspensionCorruptRows(t *testing.T) {
	t.Parallel()

	t.Run("ErrCorruptCondition", func(t *testing.T) {
		t.Parallel()
		s := newSusEnv(t)
		id, _, sus := s.suspendOn("go")
		s.tamper(`UPDATE ff_suspension_current SET condition_json = '{"Mystery":1}' WHERE execution_id = ?`, string(id))
		before := s.dump()
		_, err := s.b.DeliverSignal(s.ctx, signalArgs(id, sus.Details.WaitpointID, sus.Details.WaitpointToken, "go"))
		requireErr(t, "DeliverSignal", err, backend.ErrCorruption)
		s.requireUnchanged(before, "a signal against a corrupt condition")
	})

	t.Run("ErrMissingSuspension", func(t *testing.T) {
		t.Parallel()
		s := newSusEnv(t)
		id, _, sus := s.suspendOn("go")
		s.tamper(`DELETE FROM ff_suspension_current WHERE execution_id = ?`, string(id))
		before := s.dump()
		_, err := s.b.DeliverSignal(s.ctx, signalArgs(id, sus.Details.WaitpointID, sus.Details.WaitpointToken, "go"))
		if !isNotFound(err, backend.EntitySuspension) {
			t.Fatalf("DeliverSignal = %v, want NotFound(suspension)", err)
		}
		s.requireUnchanged(before, "a signal without a suspension")
	})

	t.Run("ErrCorruptRequiredNames", func(t *testing.T) {
		t.Parallel()
		s := newSusEnv(t)
		id, _, sus := s.suspendOn("go")
		s.tamper(`UPDATE ff_waitpoint SET required_signal_names_json = '{"a":1}' WHERE waitpoint_id = ?`, string(sus.Details.WaitpointID))
		_, err := s.b.ListPendingWaitpoints(s.ctx, backend.ListPendingWaitpointsArgs{ExecutionID: id})
		requireErr(t, "ListPendingWaitpoints", err, backend.ErrCorruption)
	})

	t.Run("ErrCorruptSuspendDedup", func(t *testing.T) {
		t.Parallel()
		s := newSusEnv(t)
		id, h := s.running()
		args := suspendArgs(backend.SingleCondition("k", backend.Wildcard()), backend.FreshBindingWithKey("k"))
		args.IdempotencyKey = "once"
		s.suspend(h, args)
		s.tamper(`UPDATE ff_suspend_dedup SET outcome_json = '{"variant":"Suspended","details":{"suspension_id":"x"}}' WHERE execution_id = ?`, string(id))
		before := s.dump()
		_, err := s.b.Suspend(s.ctx, h, args)
		requireErr(t, "replay of a corrupt outcome", err, backend.ErrCorruption)
		s.requireUnchanged(before, "a corrupt replay")
	})

	t.Run("TimeoutRowErrorIsCounted", func(t *testing.T) {
		t.Parallel()
		s := newSusEnv(t)
		id, h := s.running()
		args := suspendArgs(backend.SingleCondition("k", backend.Wildcard()), backend.FreshBindingWithKey("k"))
		args.TimeoutAt = s.now().Add(time.Minute)
		s.suspend(h, args)
		// The attempt the timeout must end is gone: the row fails, the
		// tick reports it and carries on.
		s.tamper(`DELETE FROM ff_attempt WHERE execution_id = ?`, string(id))
		s.clock.Advance(time.Minute)
		res, err := s.b.RunScannerOnce(s.ctx, scannerSuspensionTimeout)
		if err != nil || res.Errors != 1 || res.Processed != 0 {
			t.Fatalf("tick = %+v, %v; want one counted error", res, err)
		}
		if got := s.state(id); got != backend.PublicStateSuspended {
			t.Fatalf("state = %s, want suspended (the failed row rolled back)", got)
		}
	})
}
