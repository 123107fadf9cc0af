package tests

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

// rawEventIDs lists the event ids of an outbox table above after, in
// order, through the raw read-only view.
func (e *execEnv) rawEventIDs(table string, after int64) []int64 {
	e.t.Helper()
	rows, err := e.raw().QueryContext(e.ctx, `SELECT event_id FROM "`+table+`" WHERE event_id > ? ORDER BY event_id`, after)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	ids := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			e.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return ids
}

// TestSubscribeResumeExactlyOnce: writers run concurrently while a
// consumer reads lease events, disconnecting every few events and
// resubscribing from the last cursor it processed. Together its reads are
// every event exactly once, in commit (event id) order.
func TestSubscribeResumeExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	const writers, perWriter = 4, 15
	sub := e.subscribeLease(nil, backend.ScannerFilter{})
	start := e.rawEventIDs("ff_lease_event", 0)

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lane := backend.LaneID("lane-" + string(rune('a'+w)))
			for range perWriter {
				id := backend.NewExecutionID()
				if _, err := e.b.CreateExecution(e.ctx, backend.CreateExecutionArgs{ExecutionID: id, LaneID: lane, Namespace: "test", InputPayload: []byte("x")}); err != nil {
					errs <- err
					return
				}
				h, err := e.b.Claim(e.ctx, lane, backend.CapabilitySet{}, workerPolicy("w"))
				if err != nil || h == nil {
					errs <- errors.Join(err, errors.New("nothing claimed"))
					return
				}
				if _, err := e.b.Renew(e.ctx, *h); err != nil {
					errs <- err
					return
				}
				if err := e.b.Complete(e.ctx, *h, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	total := writers * perWriter * 3 // acquired, renewed, revoked
	var got []int64
	var last backend.EventCursor
	for len(got) < total {
		ev := nextEvent(t, sub)
		got = append(got, eventID(t, ev.Cursor))
		last = ev.Cursor
		if len(got)%7 == 0 {
			// Disconnect and resume from the last processed cursor.
			sub.Close()
			sub = e.subscribeLease(last, backend.ScannerFilter{})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	var after int64
	if len(start) > 0 {
		after = start[len(start)-1]
	}
	if diff := cmp.Diff(e.rawEventIDs("ff_lease_event", after), got); diff != "" {
		t.Fatalf("delivered ids (-table +got)\n%s", diff)
	}
	requireNoEvent(t, sub)
}

// TestSubscribeAcrossRestart: the last Close of the database ends live
// subscriptions after a final catch-up; after reopening the file, a
// subscription from a saved cursor resumes exactly after it.
func TestSubscribeAcrossRestart(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	sub := e.subscribeCompletion(nil, backend.ScannerFilter{})
	ids := []backend.ExecutionID{e.runToCompletion("lane", nil), e.runToCompletion("lane", nil), e.runToCompletion("lane", nil)}
	first := nextEvent(t, sub)
	if first.ExecutionID != ids[0] {
		t.Fatalf("first event for %s, want %s", first.ExecutionID, ids[0])
	}
	saved := first.Cursor

	if err := e.b.Close(); err != nil {
		t.Fatal(err)
	}
	// Committed before the close, so delivered by the final catch-up.
	if got := []backend.ExecutionID{nextEvent(t, sub).ExecutionID, nextEvent(t, sub).ExecutionID}; !cmp.Equal(got, ids[1:]) {
		t.Fatalf("final catch-up delivered %v, want %v", got, ids[1:])
	}
	requireEOF(t, sub)
	requireEOF(t, sub)

	b, err := backend.NewWithOptions(context.Background(), e.path, backend.Options{Clock: e.clock, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeBackend(t, b) })
	e.b = b
	fromNow := e.subscribeCompletion(nil, backend.ScannerFilter{})
	ids = append(ids, e.runToCompletion("lane", nil))

	resumed := e.subscribeCompletion(saved, backend.ScannerFilter{})
	var got []backend.ExecutionID
	for _, ev := range nextEvents(t, resumed, 3) {
		got = append(got, ev.ExecutionID)
	}
	if diff := cmp.Diff(ids[1:], got); diff != "" {
		t.Fatalf("resumed after restart (-want +got)\n%s", diff)
	}
	requireNoEvent(t, resumed)
	if ev := nextEvent(t, fromNow); ev.ExecutionID != ids[3] {
		t.Fatalf("from-now subscription after restart got %s, want %s", ev.ExecutionID, ids[3])
	}
	requireNoEvent(t, fromNow)
}

// TestSubscribeSlowConsumerNeverBlocksWriters: subscriptions nobody reads
// hold no connection and no buffer that writers wait on; once the
// consumer reads, every event is there in order.
func TestSubscribeSlowConsumerNeverBlocksWriters(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	completions := e.subscribeCompletion(nil, backend.ScannerFilter{})
	leases := e.subscribeLease(nil, backend.ScannerFilter{})
	// One consumer took a first batch and stopped reading.
	first := e.runToCompletion("lane", nil)
	if ev := nextEvent(t, completions); ev.ExecutionID != first {
		t.Fatalf("first event %s", ev.ExecutionID)
	}
	const n = 150 // 302 lease events: more than one read batch
	done := make(chan []backend.ExecutionID, 1)
	go func() {
		ids := make([]backend.ExecutionID, 0, n)
		for range n {
			ids = append(ids, e.runToCompletion("lane", nil))
		}
		done <- ids
	}()
	var ids []backend.ExecutionID
	select {
	case ids = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("writers did not finish while subscribers were idle")
	}
	for i, ev := range nextEvents(t, completions, n) {
		if ev.ExecutionID != ids[i] {
			t.Fatalf("event %d for %s, want %s", i, ev.ExecutionID, ids[i])
		}
	}
	requireNoEvent(t, completions)
	if got := len(nextEvents(t, leases, 2*(n+1))); got != 2*(n+1) {
		t.Fatalf("lease events %d", got)
	}
}

// TestSubscribeNextContext: a Next whose ctx ends returns ctx.Err() and
// the subscription stays usable; a waiting Next is woken by the commit.
func TestSubscribeNextContext(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	sub := e.subscribeCompletion(nil, backend.ScannerFilter{})
	cctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if _, err := sub.Next(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a cancelled ctx: %v", err)
	}
	requireNoEvent(t, sub) // DeadlineExceeded, still usable

	type result struct {
		ev  backend.CompletionEvent
		err error
	}
	ch := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), eventWait)
		defer cancel()
		ev, err := sub.Next(ctx)
		ch <- result{ev, err}
	}()
	parked()
	id := e.runToCompletion("lane", nil)
	r := <-ch
	if r.err != nil || r.ev.ExecutionID != id {
		t.Fatalf("waiting Next = %+v, %v; want the event of %s", r.ev, r.err, id)
	}
}

// TestSubscribeClose: Close is idempotent, returns nil, ends a waiting
// Next with io.EOF, and every later Next is io.EOF.
func TestSubscribeClose(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	sub := e.subscribeLease(nil, backend.ScannerFilter{})
	ch := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), eventWait)
		defer cancel()
		_, err := sub.Next(ctx)
		ch <- err
	}()
	parked()
	if err := sub.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-ch; !errors.Is(err, io.EOF) {
		t.Fatalf("waiting Next after Close: %v, want io.EOF", err)
	}
	if err := sub.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	e.runToCompletion("lane", nil)
	requireEOF(t, sub)
}

// TestSubscribeSharedDatabase: backends opened on the same file in one
// process share wake-ups, so a subscriber on one sees commits made
// through the other.
func TestSubscribeSharedDatabase(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	other, err := backend.NewWithOptions(e.ctx, e.path, backend.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeBackend(t, other) })
	sub, err := other.SubscribeCompletion(e.ctx, nil, backend.ScannerFilter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	id := e.runToCompletion("lane", nil)
	if ev := nextEvent(t, sub); ev.ExecutionID != id {
		t.Fatalf("event for %s, want %s", ev.ExecutionID, id)
	}
	// Closing one of the two backends does not end the subscription.
	closeBackend(t, other)
	id = e.runToCompletion("lane", nil)
	if ev := nextEvent(t, sub); ev.ExecutionID != id {
		t.Fatalf("after closing the other backend: event for %s, want %s", ev.ExecutionID, id)
	}
}

// TestSubscribeOtherProcessCommits: a row committed by another process
// (no in-process wake-up) still arrives, through the bounded re-poll.
func TestSubscribeOtherProcessCommits(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	sub := e.subscribeCompletion(nil, backend.ScannerFilter{})
	id := backend.NewExecutionID()
	ch := make(chan backend.CompletionEvent, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), eventWait)
		defer cancel()
		ev, _ := sub.Next(ctx)
		ch <- ev
	}()
	parked()
	e.rawExec(`INSERT INTO ff_completion_event (execution_id, outcome, occurred_at_ms) VALUES (?, 'success', 1)`, string(id))
	if ev := <-ch; ev.ExecutionID != id || ev.Outcome != backend.CompletionSuccess || !ev.At.Equal(time.UnixMilli(1).UTC()) {
		t.Fatalf("event = %+v, want the other process's row for %s", ev, id)
	}
}

// TestSubscribeCorruptRows: a row that does not decode ends the
// subscription with ErrCorruption once (after the events before it), then
// io.EOF; resubscribing from the last cursor meets it again. A filter
// that excludes the row never decodes it.
func TestSubscribeCorruptRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		corrupt string
		check   func(t *testing.T, e *execEnv, cursor backend.EventCursor)
	}{
		{"Completion", `INSERT INTO ff_completion_event (execution_id, outcome, namespace, occurred_at_ms) VALUES ('garbage', 'success', 'other', 1)`,
			func(t *testing.T, e *execEnv, cursor backend.EventCursor) {
				requireCorruptFeed(t, e.subscribeCompletion(cursor, backend.ScannerFilter{}), 1)
				requireCleanFeed(t, e.subscribeCompletion(cursor, backend.ScannerFilter{Namespace: "test"}), 1)
				// Resuming from the last good cursor meets the row again.
				good := nextEvent(t, e.subscribeCompletion(cursor, backend.ScannerFilter{}))
				again := e.subscribeCompletion(good.Cursor, backend.ScannerFilter{})
				if _, err := again.Next(e.ctx); !errors.Is(err, backend.ErrCorruption) {
					t.Fatalf("resubscribed Next: %v, want ErrCorruption", err)
				}
			}},
		{"LeaseBadLeaseID", `INSERT INTO ff_lease_event (execution_id, attempt_index, lease_id, worker_instance_id, event_type, namespace, occurred_at_ms)
			VALUES ('{fp:0}:0190b3a0-0000-4000-8000-000000000000', 0, 'not-a-uuid', 'w', 'acquired', 'other', 1)`,
			func(t *testing.T, e *execEnv, cursor backend.EventCursor) {
				requireCorruptFeed(t, e.subscribeLease(cursor, backend.ScannerFilter{}), 2)
				requireCleanFeed(t, e.subscribeLease(cursor, backend.ScannerFilter{Namespace: "test"}), 2)
			}},
		{"SignalBadSignalID", `INSERT INTO ff_signal_event (execution_id, signal_id, effect, namespace, delivered_at_ms)
			VALUES ('{fp:0}:0190b3a0-0000-4000-8000-000000000000', 'nope', 'satisfied', 'other', 1)`,
			func(t *testing.T, e *execEnv, cursor backend.EventCursor) {
				requireCorruptFeed(t, e.subscribeSignal(cursor, backend.ScannerFilter{}), 1)
				requireCleanFeed(t, e.subscribeSignal(cursor, backend.ScannerFilter{Namespace: "test"}), 1)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSusEnv(t)
			e := s.execEnv
			// One good event of each family, the corrupt row, then one more.
			cursor := backend.NewEventCursor(0)
			goodEvent(s)
			e.rawExec(tt.corrupt)
			goodEvent(s)
			tt.check(t, e, cursor)
		})
	}
}

// goodEvent writes, in namespace "test", one completion (resumable), two
// lease (acquired, revoked by the suspension) and one signal event.
func goodEvent(s *susEnv) {
	s.t.Helper()
	id, _, sus := s.suspendOn("go")
	s.deliver(signalArgs(id, sus.Details.WaitpointID, sus.Details.WaitpointToken, "go"))
}

// requireCorruptFeed: the perGood events before the corrupt row,
// ErrCorruption once, then io.EOF.
func requireCorruptFeed[E any](t *testing.T, sub backend.Subscription[E], perGood int) {
	t.Helper()
	nextEvents(t, sub, perGood)
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	if _, err := sub.Next(ctx); !errors.Is(err, backend.ErrCorruption) {
		t.Fatalf("Next at the corrupt row: %v, want ErrCorruption", err)
	}
	requireEOF(t, sub)
}

// requireCleanFeed: the filtered feed skips the corrupt row and delivers
// the events on both sides of it.
func requireCleanFeed[E any](t *testing.T, sub backend.Subscription[E], perGood int) {
	t.Helper()
	nextEvents(t, sub, 2*perGood)
	requireNoEvent(t, sub)
}

// TestSubscribeStorageFault: a read that fails is ErrTransport once, then
// io.EOF.
func TestSubscribeStorageFault(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	sub := e.subscribeLease(nil, backend.ScannerFilter{})
	e.rawExec(`ALTER TABLE ff_lease_event RENAME TO ff_lease_event_moved`)
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	if _, err := sub.Next(ctx); !errors.Is(err, backend.ErrTransport) {
		t.Fatalf("Next with the table gone: %v, want ErrTransport", err)
	}
	requireEOF(t, sub)
	e.rawExec(`ALTER TABLE ff_lease_event_moved RENAME TO ff_lease_event`)
}

// TestSubscribeSkipsUnknownLeaseKind: a lease event of a type this version
// does not know is skipped (the cursor moves past it), not a fault.
func TestSubscribeSkipsUnknownLeaseKind(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	sub := e.subscribeLease(nil, backend.ScannerFilter{})
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: e.path}).EscapedPath()+"?_pragma=busy_timeout(5000)&_pragma=ignore_check_constraints(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(e.ctx, `INSERT INTO ff_lease_event (execution_id, attempt_index, lease_id, worker_instance_id, event_type, occurred_at_ms)
		VALUES ('{fp:0}:0190b3a0-0000-4000-8000-000000000000', 0, '0190b3a0-0000-4000-8000-000000000001', 'w', 'borrowed', 1)`); err != nil {
		t.Fatal(err)
	}
	id := e.create("lane", nil)
	e.mustClaim("lane")
	if ev := nextEvent(t, sub); ev.ExecutionID != id || ev.Kind != backend.LeaseAcquired {
		t.Fatalf("event after the unknown kind = %+v", ev)
	}
}
