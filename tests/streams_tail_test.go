package tests

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

// tailResult is one TailStream call's outcome, measured in real time.
type tailResult struct {
	frames  backend.StreamFrames
	err     error
	elapsed time.Duration
}

// tailAsync starts TailStream in a goroutine.
func (s *streamEnv) tailAsync(ctx context.Context, id backend.ExecutionID, after backend.StreamCursor, block time.Duration, vis backend.TailVisibility) <-chan tailResult {
	ch := make(chan tailResult, 1)
	go func() {
		start := time.Now()
		got, err := s.b.TailStream(ctx, id, 0, after, block, 100, vis)
		ch <- tailResult{got, err, time.Since(start)}
	}()
	return ch
}

// awaitTail waits for a tail to return, failing after limit.
func awaitTail(t *testing.T, ch <-chan tailResult, limit time.Duration) tailResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(limit):
		t.Fatalf("TailStream did not return within %s", limit)
		return tailResult{}
	}
}

// parked gives a just-started tail goroutine time to run its first query
// and park. It is not needed for correctness — a frame appended earlier is
// found by that query — only so the test exercises the wake-up path.
func parked() { time.Sleep(50 * time.Millisecond) }

func TestTailStreamReturnsAvailableFrames(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, h := s.running()
	ids := s.fiveFrames(h)
	tests := []struct {
		name  string
		after backend.StreamCursor
		limit int
		want  []string
	}{
		{"FromBeginning", backend.StreamFromBeginning, 100, []string{"a", "b", "c", "d", "e"}},
		{"ExclusiveCursor", backend.StreamAt(ids[1]), 100, []string{"c", "d", "e"}},
		{"Limit", backend.StreamAt(ids[0]), 2, []string{"b", "c"}},
		{"AtEnd", backend.StreamAt(ids[4]), 100, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.b.TailStream(s.ctx, id, 0, tt.after, 0, tt.limit, backend.TailAll)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, payloads(got.Frames)); diff != "" {
				t.Fatalf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestTailStreamVisibility(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, h := s.running()
	live := backend.Frame{Bytes: []byte("live"), Kind: backend.FrameEvent, Mode: backend.BestEffortMode(backend.BestEffortLiveConfig{MaxlenFloor: 100})}
	s.append(h, live)
	s.append(h, live)
	s.append(h, stdout("durable-1"))
	s.append(h, live)
	s.append(h, summaryFrame(`{"a":1}`))
	s.append(h, stdout("durable-2"))
	for _, tt := range []struct {
		vis  backend.TailVisibility
		want []string
	}{
		{"", []string{"live", "live"}},
		{backend.TailAll, []string{"live", "live"}},
		// The limit counts visible frames only.
		{backend.TailExcludeBestEffort, []string{"durable-1", `{"a":1}`}},
	} {
		got, err := s.b.TailStream(s.ctx, id, 0, backend.StreamFromBeginning, 0, 2, tt.vis)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, payloads(got.Frames)); diff != "" {
			t.Fatalf("visibility %q (-want +got)\n%s", tt.vis, diff)
		}
	}
}

func TestTailStreamErrors(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, _ := s.running()
	tests := []struct {
		name  string
		id    backend.ExecutionID
		after backend.StreamCursor
		block time.Duration
		limit int
		vis   backend.TailVisibility
	}{
		{"ErrAfterStart", id, backend.StreamStart, 0, 1, backend.TailAll},
		{"ErrAfterEnd", id, backend.StreamEnd, 0, 1, backend.TailAll},
		{"ErrAfterMalformed", id, "1-x", 0, 1, backend.TailAll},
		{"ErrAfterEmpty", id, "", 0, 1, backend.TailAll},
		{"ErrBadExecutionID", "x", backend.StreamFromBeginning, 0, 1, backend.TailAll},
		{"ErrZeroLimit", id, backend.StreamFromBeginning, 0, 0, backend.TailAll},
		{"ErrNegativeBlock", id, backend.StreamFromBeginning, -time.Second, 1, backend.TailAll},
		{"ErrUnknownVisibility", id, backend.StreamFromBeginning, 0, 1, "some"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A long block proves validation fails before any waiting.
			block := tt.block
			if block == 0 {
				block = time.Hour
			}
			_, err := s.b.TailStream(s.ctx, tt.id, 0, tt.after, block, tt.limit, tt.vis)
			requireErr(t, "TailStream", err, backend.ErrInvalidInput)
		})
	}
}

// TestTailStreamWokenByAppend: a tail parked with a long block returns the
// appended frame as soon as it is committed — the in-process notifier
// wakes it; nothing polls. The only timing assertion is "well before the
// block ends".
func TestTailStreamWokenByAppend(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, h := s.running()
	first := s.append(h, stdout("old"))
	const block = time.Minute
	ch := s.tailAsync(s.ctx, id, backend.StreamAt(first.StreamID), block, backend.TailAll)
	parked()
	out := s.append(h, stdout("new"))
	r := awaitTail(t, ch, block/2)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if diff := cmp.Diff([]string{out.StreamID}, frameIDs(r.frames.Frames)); diff != "" {
		t.Fatalf("woken tail (-want +got)\n%s", diff)
	}
	if r.elapsed >= block/2 {
		t.Fatalf("tail returned after %s, want well before the %s block", r.elapsed, block)
	}
}

// TestTailStreamIgnoresOtherStreams: appends to another stream (or frames
// hidden by the visibility filter) wake the tail, which re-queries and
// keeps waiting until its own stream has a visible frame.
func TestTailStreamIgnoresOtherStreams(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	idA, hA := s.running()
	_, hB := s.running()
	ch := s.tailAsync(s.ctx, idA, backend.StreamFromBeginning, time.Minute, backend.TailExcludeBestEffort)
	parked()
	s.append(hB, stdout("other stream"))
	s.append(hA, backend.Frame{Bytes: []byte("hidden"), Kind: backend.FrameEvent, Mode: backend.BestEffortMode(backend.BestEffortLiveConfig{})})
	parked()
	select {
	case r := <-ch:
		t.Fatalf("tail returned early: %+v", r)
	default:
	}
	s.append(hA, stdout("mine"))
	r := awaitTail(t, ch, 30*time.Second)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if diff := cmp.Diff([]string{"mine"}, payloads(r.frames.Frames)); diff != "" {
		t.Fatalf("(-want +got)\n%s", diff)
	}
}

// TestTailStreamTimesOut: with no producer the tail returns an empty open
// result once the block has passed (not before).
func TestTailStreamTimesOut(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, _ := s.running()
	start := time.Now()
	got, err := s.b.TailStream(s.ctx, id, 0, backend.StreamFromBeginning, 150*time.Millisecond, 10, backend.TailAll)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
		t.Fatalf("returned after %s, before the 150ms block", elapsed)
	}
	requireFrames(t, "timed-out tail", backend.StreamFrames{Frames: []backend.StreamFrame{}}, got)

	// block 0 does not wait.
	got, err = s.b.TailStream(s.ctx, id, 0, backend.StreamFromBeginning, 0, 10, backend.TailAll)
	if err != nil || len(got.Frames) != 0 {
		t.Fatalf("block 0 = %+v, %v", got, err)
	}
}

// TestTailStreamClosedReturnsAtOnce: a closed stream has nothing more to
// wait for, so the tail returns its closed marker without blocking.
func TestTailStreamClosedReturnsAtOnce(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, h := s.running()
	last := s.append(h, stdout("x"))
	at := s.clock.Advance(time.Second)
	if err := s.b.Complete(s.ctx, h, nil); err != nil {
		t.Fatal(err)
	}
	r := awaitTail(t, s.tailAsync(s.ctx, id, backend.StreamAt(last.StreamID), time.Hour, backend.TailAll), 30*time.Second)
	if r.err != nil {
		t.Fatal(r.err)
	}
	requireFrames(t, "closed tail", backend.StreamFrames{Frames: []backend.StreamFrame{}, ClosedAt: at, ClosedReason: "attempt_success"}, r.frames)
}

func TestTailStreamContextEnds(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, _ := s.running()
	ctx, cancel := context.WithCancel(s.ctx)
	ch := s.tailAsync(ctx, id, backend.StreamFromBeginning, time.Hour, backend.TailAll)
	parked()
	cancel()
	r := awaitTail(t, ch, 30*time.Second)
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", r.err)
	}
}

// TestTailStreamBackendClosed: closing the backend ends a waiting tail
// with ErrUnavailable.
func TestTailStreamBackendClosed(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, _ := s.running()
	b2, err := backend.NewWithOptions(s.ctx, s.path, backend.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	go func() {
		_, err := b2.TailStream(s.ctx, id, 0, backend.StreamFromBeginning, time.Hour, 10, backend.TailAll)
		ch <- err
	}()
	parked()
	// b2 shares the database with s.b, so its Close is not the last one:
	// the tail has to notice its own backend closing. Close the env's
	// backend too so the database shuts down and wakes it.
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ch:
		requireErr(t, "TailStream after Close", err, backend.ErrUnavailable)
	case <-time.After(30 * time.Second):
		t.Fatal("tail still waiting after the database closed")
	}
}
