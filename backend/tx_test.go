package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// openTxTestDB opens a file backend for the transaction-helper tests.
func openTxTestDB(t *testing.T) (*SQLiteBackend, *database) {
	t.Helper()
	b, err := NewWithOptions(t.Context(), filepath.Join(t.TempDir(), "tx.db"), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, b.db
}

// holdWriter runs a body that blocks the writer until release is closed,
// and returns once that body is running, so that the writes issued next
// queue up and run as one group.
func holdWriter(t *testing.T, db *database) (release func(), done <-chan error) {
	t.Helper()
	started, hold := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- db.write(context.Background(), func(ctx context.Context, w *writeTx) error {
			close(started)
			<-hold
			return nil
		})
	}()
	<-started
	return func() { close(hold) }, errc
}

// waitQueued waits until n bodies wait for the writer.
func waitQueued(t *testing.T, db *database, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		db.writes.mu.Lock()
		got := len(db.writes.pending)
		db.writes.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bodies queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func registerLane(ctx context.Context, w *writeTx, lane string) error {
	return w.q.RegisterLane(ctx, dbgen.RegisterLaneParams{LaneID: lane, RegisteredAtMs: w.now, RegisteredBy: "tx_test"})
}

// groupBody is one body of a test group: it registers lane, then runs run.
type groupBody struct {
	lane string
	run  func(ctx context.Context, w *writeTx) error
	want groupOutcome
}

type groupOutcome struct {
	err      error
	panicked any
}

var (
	errBodyFailed = errInvalidInput("body failed")
	errBodyKept   = errState(SubKindTerminal, "kept")
)

func bodyOK(lane string) groupBody {
	return groupBody{lane, func(ctx context.Context, w *writeTx) error { return nil }, groupOutcome{}}
}

func bodyFails(lane string) groupBody {
	return groupBody{lane, func(ctx context.Context, w *writeTx) error { return errBodyFailed }, groupOutcome{err: errBodyFailed}}
}

func bodyKept(lane string) groupBody {
	return groupBody{lane, func(ctx context.Context, w *writeTx) error { return keepAndFail(errBodyKept) }, groupOutcome{err: errBodyKept}}
}

func bodyPanics(lane string) groupBody {
	return groupBody{lane, func(ctx context.Context, w *writeTx) error { panic("boom") }, groupOutcome{panicked: "boom"}}
}

// checkGroup queues bodies behind a held writer so that they run as one
// group, in order, then checks each caller's outcome and which lanes
// committed.
func checkGroup(t *testing.T, bodies []groupBody, wantLanes []LaneID) {
	t.Helper()
	b, db := openTxTestDB(t)
	ctx := t.Context()
	release, held := holdWriter(t, db)
	got := make([]groupOutcome, len(bodies))
	var wg sync.WaitGroup
	for i, body := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { got[i].panicked = recover() }()
			got[i].err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
				if err := registerLane(ctx, w, body.lane); err != nil {
					return err
				}
				return body.run(ctx, w)
			})
		}()
		waitQueued(t, db, i+1) // keep the queue order fixed
	}
	release()
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	for i, body := range bodies {
		if !errors.Is(got[i].err, body.want.err) || (got[i].err == nil) != (body.want.err == nil) || got[i].panicked != body.want.panicked {
			t.Errorf("%s: got %+v, want %+v", body.lane, got[i], body.want)
		}
	}
	lanes, err := b.ListLanes(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantLanes, lanes.Items); diff != "" {
		t.Errorf("committed lanes (-want +got)\n%s", diff)
	}
}

// Bodies that share a group commit keep their own outcome: a failing or
// panicking body is rolled back alone, keepAndFail keeps its writes, and
// everything else commits.
func TestWriteGroupIsolatesBodies(t *testing.T) {
	t.Parallel()
	checkGroup(t, []groupBody{
		bodyOK("ok-1"), bodyFails("fails"), bodyKept("kept"), bodyPanics("panics"), bodyOK("ok-2"),
	}, []LaneID{"kept", "ok-1", "ok-2"})
}

// Until a body of the group succeeds, bodies run without a savepoint: one
// that fails or panics rolls the whole transaction back, and the next body
// begins a new one.
func TestWriteGroupLeadingFailuresRollBackAlone(t *testing.T) {
	t.Parallel()
	checkGroup(t, []groupBody{
		bodyFails("fails-1"), bodyPanics("panics"), bodyKept("kept"), bodyFails("fails-2"), bodyOK("ok"),
	}, []LaneID{"kept", "ok"})
	checkGroup(t, []groupBody{bodyFails("fails-1"), bodyPanics("panics")}, []LaneID{})
}

// A leader that finished other callers' bodies marks the queue released
// when it gives up the lead, so that the next leader yields once for them
// to queue again; that leader clears the mark, and a body that ran alone
// sets none.
func TestWriteReleasedMarksTheNextLeadersYield(t *testing.T) {
	t.Parallel()
	_, db := openTxTestDB(t)
	ctx := t.Context()
	released := func() bool {
		db.writes.mu.Lock()
		defer db.writes.mu.Unlock()
		return db.writes.released
	}
	release, held := holdWriter(t, db)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := db.write(ctx, func(ctx context.Context, w *writeTx) error { return nil }); err != nil {
				t.Error(err)
			}
		}()
		waitQueued(t, db, i+1)
	}
	release()
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if !released() {
		t.Fatal("a two-body group gave up the lead without marking the queue released")
	}
	if err := db.write(ctx, func(ctx context.Context, w *writeTx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if released() {
		t.Fatal("a body that ran alone left the queue marked released")
	}
}

// A caller whose ctx ends while its body still waits leaves the queue: the
// body never runs and the caller gets ctx.Err().
func TestWriteCancelledWhileQueued(t *testing.T) {
	t.Parallel()
	b, db := openTxTestDB(t)
	release, held := holdWriter(t, db)

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		errc <- db.write(ctx, func(ctx context.Context, w *writeTx) error { return registerLane(ctx, w, "never") })
	}()
	waitQueued(t, db, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	waitQueued(t, db, 0)
	release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	lanes, err := b.ListLanes(t.Context(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(lanes.Items) != 0 {
		t.Errorf("lanes = %v, want none", lanes.Items)
	}
}

// A body runs to completion once started, even if its caller's ctx ends
// meanwhile, alone or in a group: a statement interrupted inside a
// transaction would roll back every body in it, and the caller could not
// tell whether its writes committed.
func TestWriteCancelledWhileRunning(t *testing.T) {
	t.Parallel()
	b, db := openTxTestDB(t)

	cancelled := func(lane string) (ctx context.Context, body func(context.Context, *writeTx) error) {
		ctx, cancel := context.WithCancel(t.Context())
		return ctx, func(ctx context.Context, w *writeTx) error {
			cancel()
			return registerLane(ctx, w, lane)
		}
	}
	ctx, body := cancelled("alone")
	if err := db.write(ctx, body); err != nil {
		t.Fatalf("alone: err = %v, want the body's writes committed", err)
	}

	release, held := holdWriter(t, db)
	errs := make(chan error, 2)
	ctx, body = cancelled("grouped")
	go func() { errs <- db.write(ctx, body) }()
	waitQueued(t, db, 1)
	go func() {
		errs <- db.write(t.Context(), func(ctx context.Context, w *writeTx) error { return registerLane(ctx, w, "after") })
	}()
	waitQueued(t, db, 2)
	release()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("grouped body: %v", err)
		}
	}
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	lanes, err := b.ListLanes(t.Context(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]LaneID{"after", "alone", "grouped"}, lanes.Items); diff != "" {
		t.Errorf("committed lanes (-want +got)\n%s", diff)
	}
}

// Many concurrent writers: every body runs exactly once and the lead
// always passes on (no caller is left waiting).
func TestWriteManyConcurrentCallers(t *testing.T) {
	t.Parallel()
	b, db := openTxTestDB(t)
	ctx := t.Context()
	const callers, each = 16, 25
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				lane := fmt.Sprintf("l-%02d-%02d", c, i)
				if err := db.write(ctx, func(ctx context.Context, w *writeTx) error { return registerLane(ctx, w, lane) }); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var all []LaneID
	var cursor LaneID
	for {
		page, err := b.ListLanes(ctx, cursor, 100)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Items...)
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	if len(all) != callers*each || len(slices.Compact(slices.Clone(all))) != callers*each {
		t.Errorf("%d lanes committed (%d distinct), want %d", len(all), len(slices.Compact(slices.Clone(all))), callers*each)
	}
}

// A lane becomes known (creates on it skip registering) only when the
// write that registered it commits; a rolled-back registration leaves it
// unknown, so the next create registers it for real.
func TestKnownLanesFollowCommits(t *testing.T) {
	t.Parallel()
	b, db := openTxTestDB(t)
	ctx := t.Context()
	args := CreateExecutionArgs{ExecutionID: NewExecutionID(), LaneID: "rolled-back", Namespace: "ns", ExecutionKind: "k", InputPayload: []byte("x")}
	plans, err := planCreates([]CreateExecutionArgs{args}, false)
	if err != nil {
		t.Fatal(err)
	}
	errAfter := errInvalidInput("fail after the insert")
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		if _, err := w.insertExecutions(ctx, plans); err != nil {
			return err
		}
		if len(w.registered) != 1 {
			t.Errorf("registered = %v, want the new lane", w.registered)
		}
		return errAfter
	})
	if !errors.Is(err, errAfter) {
		t.Fatalf("err = %v", err)
	}
	if db.lanes.has("rolled-back") {
		t.Fatal("a rolled-back registration made the lane known")
	}
	if _, err := b.CreateExecution(ctx, args); err != nil {
		t.Fatal(err)
	}
	if !db.lanes.has("rolled-back") {
		t.Fatal("a committed registration left the lane unknown")
	}
	lanes, err := b.ListLanes(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]LaneID{"rolled-back"}, lanes.Items); diff != "" {
		t.Errorf("lanes (-want +got)\n%s", diff)
	}
}
