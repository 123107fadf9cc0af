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
		errc <- db.write(context.Background(), func(w *writeTx) error {
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

// Bodies that share a group commit keep their own outcome: a failing or
// panicking body is rolled back alone, keepAndFail keeps its writes, and
// everything else commits.
func TestWriteGroupIsolatesBodies(t *testing.T) {
	t.Parallel()
	b, db := openTxTestDB(t)
	ctx := t.Context()
	release, held := holdWriter(t, db)

	errFail := errInvalidInput("body failed")
	errKept := errState(SubKindTerminal, "kept")
	type outcome struct {
		err      error
		panicked any
	}
	bodies := []struct {
		lane string
		run  func(w *writeTx) error
		want outcome
	}{
		{"ok-1", func(w *writeTx) error { return nil }, outcome{}},
		{"fails", func(w *writeTx) error { return errFail }, outcome{err: errFail}},
		{"kept", func(w *writeTx) error { return keepAndFail(errKept) }, outcome{err: errKept}},
		{"panics", func(w *writeTx) error { panic("boom") }, outcome{panicked: "boom"}},
		{"ok-2", func(w *writeTx) error { return nil }, outcome{}},
	}
	got := make([]outcome, len(bodies))
	var wg sync.WaitGroup
	for i, body := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { got[i].panicked = recover() }()
			got[i].err = db.write(ctx, func(w *writeTx) error {
				if err := registerLane(ctx, w, body.lane); err != nil {
					return err
				}
				return body.run(w)
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
	want := []LaneID{"kept", "ok-1", "ok-2"}
	if diff := cmp.Diff(want, lanes.Items); diff != "" {
		t.Errorf("committed lanes (-want +got)\n%s", diff)
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
		errc <- db.write(ctx, func(w *writeTx) error { return registerLane(ctx, w, "never") })
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
				if err := db.write(ctx, func(w *writeTx) error { return registerLane(ctx, w, lane) }); err != nil {
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
