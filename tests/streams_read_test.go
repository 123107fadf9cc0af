package tests

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

// fiveFrames appends frames a..e: a, b at t0 (seq 0, 1); c at t0+1 ms;
// d, e at t0+2 ms. It returns their ids.
func (s *streamEnv) fiveFrames(h backend.Handle) []string {
	s.t.Helper()
	var ids []string
	for i, step := range []time.Duration{0, 0, time.Millisecond, time.Millisecond, 0} {
		s.clock.Advance(step)
		ids = append(ids, s.append(h, stdout(string(rune('a'+i)))).StreamID)
	}
	return ids
}

func TestReadStreamRanges(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, h := s.running()
	t0 := s.now()
	ids := s.fiveFrames(h)
	ms := func(d time.Duration) string { return entryID(t0.Add(d), 0)[:len(entryID(t0.Add(d), 0))-2] }

	tests := []struct {
		name     string
		from, to backend.StreamCursor
		limit    int
		want     []string
	}{
		{"StartEnd", backend.StreamStart, backend.StreamEnd, 100, []string{"a", "b", "c", "d", "e"}},
		{"InclusiveBounds", backend.StreamAt(ids[1]), backend.StreamAt(ids[3]), 100, []string{"b", "c", "d"}},
		{"SingleEntry", backend.StreamAt(ids[2]), backend.StreamAt(ids[2]), 100, []string{"c"}},
		// A bare "<ms>" means (ms, 0): as a lower bound it starts at the
		// first entry of that ms; as an upper bound it includes only seq 0.
		{"BareMillisecondBounds", backend.StreamAt(ms(time.Millisecond)), backend.StreamAt(ms(2 * time.Millisecond)), 100, []string{"c", "d"}},
		{"FromBeginning", backend.StreamFromBeginning, backend.StreamEnd, 100, []string{"a", "b", "c", "d", "e"}},
		{"Limit", backend.StreamStart, backend.StreamEnd, 2, []string{"a", "b"}},
		{"LimitAboveHardCapClamped", backend.StreamStart, backend.StreamEnd, backend.StreamReadHardCap + 1, []string{"a", "b", "c", "d", "e"}},
		{"FromAfterTo", backend.StreamAt(ids[3]), backend.StreamAt(ids[1]), 100, []string{}},
		{"ToStart", backend.StreamStart, backend.StreamStart, 100, []string{}},
		{"FromEnd", backend.StreamEnd, backend.StreamEnd, 100, []string{}},
		{"PastTheEnd", backend.StreamAt("99999999999999"), backend.StreamEnd, 100, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.b.ReadStream(s.ctx, id, h.AttemptIndex(), tt.from, tt.to, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, payloads(got.Frames)); diff != "" {
				t.Fatalf("payloads (-want +got)\n%s", diff)
			}
			if got.Frames == nil || !got.ClosedAt.IsZero() || got.ClosedReason != "" {
				t.Fatalf("page = %+v; want non-nil frames and an open stream", got)
			}
		})
	}

	// Resuming with the last id seen re-reads it (inclusive lower bound).
	page, err := s.b.ReadStream(s.ctx, id, 0, backend.StreamStart, backend.StreamEnd, 2)
	if err != nil {
		t.Fatal(err)
	}
	next, err := s.b.ReadStream(s.ctx, id, 0, backend.StreamAt(page.Frames[1].ID), backend.StreamEnd, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"b", "c"}, payloads(next.Frames)); diff != "" {
		t.Fatalf("resumed page (-want +got)\n%s", diff)
	}
}

func TestReadStreamUnknownStreams(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, h := s.running()
	s.append(h, stdout("x"))
	for _, tt := range []struct {
		name    string
		id      backend.ExecutionID
		attempt backend.AttemptIndex
	}{
		{"UnknownExecution", backend.NewExecutionID(), 0},
		{"UnknownAttempt", id, 4},
	} {
		got, err := s.b.ReadStream(s.ctx, tt.id, tt.attempt, backend.StreamStart, backend.StreamEnd, 10)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		requireFrames(t, tt.name, backend.StreamFrames{Frames: []backend.StreamFrame{}}, got)
	}
}

func TestReadStreamErrors(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, h := s.running()
	s.append(h, stdout("x"))
	tests := []struct {
		name     string
		id       backend.ExecutionID
		from, to backend.StreamCursor
		limit    int
	}{
		{"ErrBadExecutionID", "nope", backend.StreamStart, backend.StreamEnd, 1},
		{"ErrZeroLimit", id, backend.StreamStart, backend.StreamEnd, 0},
		{"ErrNegativeLimit", id, backend.StreamStart, backend.StreamEnd, -1},
		{"ErrEmptyFrom", id, "", backend.StreamEnd, 1},
		{"ErrDashTo", id, backend.StreamStart, "-", 1},
		{"ErrPlusTo", id, backend.StreamStart, "+", 1},
		{"ErrLetters", id, "abc", backend.StreamEnd, 1},
		{"ErrMissingSeq", id, "1-", backend.StreamEnd, 1},
		{"ErrMissingMS", id, "-1", backend.StreamEnd, 1},
		{"ErrThreeParts", id, "1-2-3", backend.StreamEnd, 1},
		{"ErrSigned", id, "+1", backend.StreamEnd, 1},
		{"ErrOverflow", id, "9223372036854775808", backend.StreamEnd, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := s.b.ReadStream(s.ctx, tt.id, 0, tt.from, tt.to, tt.limit)
			requireErr(t, "ReadStream", err, backend.ErrInvalidInput)
		})
	}
	t.Run("ErrCancelledContext", func(t *testing.T) {
		t.Parallel()
		cctx, cancel := context.WithCancel(s.ctx)
		cancel()
		if _, err := s.b.ReadStream(cctx, id, 0, backend.StreamStart, backend.StreamEnd, 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestStreamReadsUnavailableAfterClose(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, _ := s.running()
	b2, err := backend.NewWithOptions(s.ctx, s.path, backend.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = b2.ReadStream(s.ctx, id, 0, backend.StreamStart, backend.StreamEnd, 1)
	requireErr(t, "ReadStream", err, backend.ErrUnavailable)
	_, err = b2.TailStream(s.ctx, id, 0, backend.StreamFromBeginning, 0, 1, backend.TailAll)
	requireErr(t, "TailStream", err, backend.ErrUnavailable)
	_, err = b2.ReadSummary(s.ctx, id, 0)
	requireErr(t, "ReadSummary", err, backend.ErrUnavailable)
}

// TestReadStreamClosedMarkers: a stream reports closed (decision 17) once
// its attempt has ended for good, and stays open while the attempt is only
// parked (delay, revoke, suspension) because the next lease continues it.
func TestReadStreamClosedMarkers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// act ends or parks the attempt and returns the instant it happened.
		act        func(s *streamEnv, id backend.ExecutionID, h backend.Handle) time.Time
		wantReason string // "" = open
	}{
		{"Live", func(s *streamEnv, _ backend.ExecutionID, _ backend.Handle) time.Time { return time.Time{} }, ""},
		{"Completed", func(s *streamEnv, _ backend.ExecutionID, h backend.Handle) time.Time {
			at := s.clock.Advance(time.Second)
			if err := s.b.Complete(s.ctx, h, nil); err != nil {
				s.t.Fatal(err)
			}
			return at
		}, "attempt_success"},
		{"FailedTerminally", func(s *streamEnv, _ backend.ExecutionID, h backend.Handle) time.Time {
			at := s.clock.Advance(time.Second)
			if _, err := s.b.Fail(s.ctx, h, backend.FailureReason{Message: "x"}, backend.FailurePermanent); err != nil {
				s.t.Fatal(err)
			}
			return at
		}, "attempt_failure"},
		{"FailedWithRetry", func(s *streamEnv, _ backend.ExecutionID, h backend.Handle) time.Time {
			at := s.clock.Advance(time.Second)
			if _, err := s.b.Fail(s.ctx, h, backend.FailureReason{Message: "x"}, backend.FailureTransient); err != nil {
				s.t.Fatal(err)
			}
			return at
		}, "attempt_failure"},
		{"CancelledByWorker", func(s *streamEnv, _ backend.ExecutionID, h backend.Handle) time.Time {
			at := s.clock.Advance(time.Second)
			if err := s.b.Cancel(s.ctx, h, "stop"); err != nil {
				s.t.Fatal(err)
			}
			return at
		}, "attempt_cancelled"},
		{"CancelledByOperator", func(s *streamEnv, id backend.ExecutionID, _ backend.Handle) time.Time {
			at := s.clock.Advance(time.Second)
			if _, err := s.b.CancelExecution(s.ctx, backend.CancelExecutionArgs{ExecutionID: id, Reason: "op"}); err != nil {
				s.t.Fatal(err)
			}
			return at
		}, "attempt_cancelled"},
		{"CancelledWhileDelayed", func(s *streamEnv, id backend.ExecutionID, h backend.Handle) time.Time {
			if err := s.b.Delay(s.ctx, h, s.now().Add(time.Hour)); err != nil {
				s.t.Fatal(err)
			}
			at := s.clock.Advance(time.Second)
			if _, err := s.b.CancelExecution(s.ctx, backend.CancelExecutionArgs{ExecutionID: id, Reason: "op"}); err != nil {
				s.t.Fatal(err)
			}
			return at
		}, "attempt_cancelled"},
		{"Reclaimed", func(s *streamEnv, _ backend.ExecutionID, _ backend.Handle) time.Time {
			at := s.clock.Advance(time.Minute)
			s.tickLeaseExpiry()
			s.mustClaimAs(streamLane, workerPolicy("w-2"))
			return at
		}, "reclaimed"},
		{"ExpiredAwaitingReclaim", func(s *streamEnv, _ backend.ExecutionID, _ backend.Handle) time.Time {
			s.clock.Advance(time.Minute)
			s.tickLeaseExpiry()
			return time.Time{}
		}, ""},
		{"Delayed", func(s *streamEnv, _ backend.ExecutionID, h backend.Handle) time.Time {
			if err := s.b.Delay(s.ctx, h, s.now().Add(time.Hour)); err != nil {
				s.t.Fatal(err)
			}
			return time.Time{}
		}, ""},
		{"Revoked", func(s *streamEnv, id backend.ExecutionID, _ backend.Handle) time.Time {
			if _, err := s.b.RevokeLease(s.ctx, backend.RevokeLeaseArgs{ExecutionID: id}); err != nil {
				s.t.Fatal(err)
			}
			return time.Time{}
		}, ""},
		{"Replayed", func(s *streamEnv, id backend.ExecutionID, h backend.Handle) time.Time {
			if err := s.b.Complete(s.ctx, h, nil); err != nil {
				s.t.Fatal(err)
			}
			if _, err := s.b.ReplayExecution(s.ctx, backend.ReplayExecutionArgs{ExecutionID: id}); err != nil {
				s.t.Fatal(err)
			}
			return time.Time{}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStreamEnv(t)
			id, h := s.running()
			s.append(h, stdout("x"))
			at := tt.act(s, id, h)
			got := s.readAll(id, h.AttemptIndex())
			want := backend.StreamFrames{ClosedReason: tt.wantReason}
			if tt.wantReason != "" {
				want.ClosedAt = at
			}
			if got.ClosedReason != want.ClosedReason || !got.ClosedAt.Equal(want.ClosedAt) || len(got.Frames) != 1 {
				t.Fatalf("closed marker = (%v, %q) with %d frames; want (%v, %q) with 1 frame",
					got.ClosedAt, got.ClosedReason, len(got.Frames), want.ClosedAt, want.ClosedReason)
			}
		})
	}
}

// TestReadStreamClosedSuspendedStaysOpen: a suspended attempt's stream is
// open (the resumed lease continues it) until the suspension times out
// and fails the execution.
func TestReadStreamClosedSuspendedStaysOpen(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, h, _ := s.suspendWithTimeout(backend.TimeoutFail)
	st := &streamEnv{execEnv: s.execEnv}
	if got := st.readAll(id, h.AttemptIndex()); !got.ClosedAt.IsZero() {
		t.Fatalf("suspended stream closed: %+v", got)
	}
	at := s.clock.Advance(time.Hour)
	s.tick(scannerSuspensionTimeout)
	got := st.readAll(id, h.AttemptIndex())
	if got.ClosedReason != "attempt_failure" || !got.ClosedAt.Equal(at) {
		t.Fatalf("after the timeout: closed (%v, %q), want (%v, attempt_failure)", got.ClosedAt, got.ClosedReason, at)
	}
}
