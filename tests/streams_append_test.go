package tests

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

func TestAppendFrameIDsAndFields(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, h := s.running()
	t0 := s.now()

	got := []backend.AppendFrameOutcome{
		s.append(h, stdout("one")),
		s.append(h, backend.Frame{Bytes: []byte("two"), Kind: backend.FrameStderr, FrameType: "log.line", CorrelationID: "req-7"}),
	}
	t1 := s.clock.Advance(5 * time.Millisecond)
	got = append(got, s.append(h, backend.Frame{Bytes: []byte{'a', 0xff, 'b'}, Kind: backend.FrameBlob, Mode: backend.DurableMode()}))
	got = append(got, s.append(h, backend.Frame{Bytes: []byte{}, Kind: backend.FrameEvent}))

	want := []backend.AppendFrameOutcome{
		{FrameCount: 1, StreamID: entryID(t0, 0)},
		{FrameCount: 2, StreamID: entryID(t0, 1)},
		{FrameCount: 3, StreamID: entryID(t1, 0)},
		{FrameCount: 4, StreamID: entryID(t1, 1)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("outcomes (-want +got)\n%s", diff)
	}
	stderr := durableFields("log.line", "two", t0)
	stderr["correlation_id"] = "req-7"
	requireFrames(t, "ReadStream", backend.StreamFrames{Frames: []backend.StreamFrame{
		{ID: entryID(t0, 0), Fields: durableFields("stdout", "one", t0)},
		{ID: entryID(t0, 1), Fields: stderr},
		// Invalid UTF-8 bytes read back as U+FFFD.
		{ID: entryID(t1, 0), Fields: durableFields("blob", "a\uFFFDb", t1)},
		{ID: entryID(t1, 1), Fields: durableFields("event", "", t1)},
	}}, s.readAll(id, h.AttemptIndex()))
}

// TestAppendFrameIDsMonotonicAcrossClockStep: a clock that steps back never
// makes an id go backwards (the newest ts is reused with the next seq).
func TestAppendFrameIDsMonotonicAcrossClockStep(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, h := s.running()
	t0 := s.clock.Advance(10 * time.Second)
	s.append(h, stdout("a"))
	s.clock.Set(t0.Add(-5 * time.Second))
	if out := s.append(h, stdout("b")); out.StreamID != entryID(t0, 1) {
		t.Fatalf("after a clock step back: id %s, want %s", out.StreamID, entryID(t0, 1))
	}
	t1 := t0.Add(time.Millisecond)
	s.clock.Set(t1)
	if out := s.append(h, stdout("c")); out.StreamID != entryID(t1, 0) {
		t.Fatalf("after the clock passed the newest id: %s, want %s", out.StreamID, entryID(t1, 0))
	}
	if diff := cmp.Diff([]string{entryID(t0, 0), entryID(t0, 1), entryID(t1, 0)}, frameIDs(s.readAll(id, 0).Frames)); diff != "" {
		t.Fatalf("ids (-want +got)\n%s", diff)
	}
}

// TestAppendFramePerAttemptStreams: a retry starts a new, empty stream;
// the old attempt's frames stay readable.
func TestAppendFramePerAttemptStreams(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, h := s.running()
	s.append(h, stdout("first attempt"))
	if _, err := s.b.Fail(s.ctx, h, backend.FailureReason{Message: "boom"}, backend.FailureTransient); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(time.Minute)
	h2 := s.mustClaim(streamLane)
	if h2.AttemptIndex() != h.AttemptIndex()+1 {
		t.Fatalf("retry attempt index %d, want %d", h2.AttemptIndex(), h.AttemptIndex()+1)
	}
	if got := s.readAll(id, h2.AttemptIndex()); len(got.Frames) != 0 {
		t.Fatalf("new attempt's stream has %d frames, want 0", len(got.Frames))
	}
	if out := s.append(h2, stdout("second attempt")); out.FrameCount != 1 {
		t.Fatalf("FrameCount on the new attempt = %d, want 1", out.FrameCount)
	}
	if diff := cmp.Diff([]string{"first attempt"}, payloads(s.readAll(id, h.AttemptIndex()).Frames)); diff != "" {
		t.Fatalf("old attempt (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]string{"second attempt"}, payloads(s.readAll(id, h2.AttemptIndex()).Frames)); diff != "" {
		t.Fatalf("new attempt (-want +got)\n%s", diff)
	}
}

// TestAppendFrameResumedAttemptContinuesStream: a suspension keeps the
// attempt index, so the resumed lease appends to the same stream.
func TestAppendFrameResumedAttemptContinuesStream(t *testing.T) {
	t.Parallel()
	s := newSusEnv(t)
	id, _, sus := s.suspendOn("go")
	s.deliver(signalArgs(id, sus.Details.WaitpointID, sus.Details.WaitpointToken, "go"))
	res := s.claimResumed(id)
	st := &streamEnv{execEnv: s.execEnv}
	st.append(res.Handle, stdout("after resume"))
	if got := payloads(st.readAll(id, res.AttemptIndex).Frames); !cmp.Equal(got, []string{"after resume"}) {
		t.Fatalf("resumed stream = %q", got)
	}
}

func TestAppendFramePayloadCap(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, h := s.running()
	full := bytes.Repeat([]byte("x"), backend.MaxFramePayloadBytes)
	if out := s.append(h, backend.Frame{Bytes: full, Kind: backend.FrameBlob}); out.FrameCount != 1 {
		t.Fatalf("FrameCount = %d, want 1", out.FrameCount)
	}
	before := s.dump()
	_, err := s.b.AppendFrame(s.ctx, h, backend.Frame{Bytes: append(full, 'y'), Kind: backend.FrameBlob})
	requireErr(t, "AppendFrame over the cap", err, backend.ErrRetentionLimitExceeded)
	s.requireUnchanged(before, "an oversized AppendFrame")
	if got := s.readAll(id, 0).Frames; len(got) != 1 || len(got[0].Fields["payload"]) != backend.MaxFramePayloadBytes {
		t.Fatalf("stored frames: %d", len(got))
	}
}

// TestAppendFrameErrors covers each error AppendFrame documents, in its
// check order, and that none of them writes anything.
func TestAppendFrameErrors(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("x"), backend.MaxFramePayloadBytes+1)
	deep := strings.Repeat(`{"a":`, 17) + "1" + strings.Repeat("}", 17)
	tests := []struct {
		name string
		// setup returns the handle to append with (the claimed h, or
		// something derived from it).
		setup func(s *streamEnv, id backend.ExecutionID, h backend.Handle) backend.Handle
		frame backend.Frame
		want  error
	}{
		{"ErrHandleFromOtherBackend", func(s *streamEnv, _ backend.ExecutionID, h backend.Handle) backend.Handle {
			return backend.NewHandle(backend.BackendValkey, backend.HandleFresh, h.Opaque())
		}, stdout("x"), backend.ErrHandleFromOtherBackend},
		{"ErrCorruptHandle", func(s *streamEnv, _ backend.ExecutionID, h backend.Handle) backend.Handle {
			return backend.NewHandle(backend.BackendSQLite, backend.HandleFresh, []byte{2, 1, 3, 9})
		}, stdout("x"), backend.ErrCorruption},
		{"ErrNotFoundAttempt", func(s *streamEnv, _ backend.ExecutionID, h backend.Handle) backend.Handle {
			return forged(s.t, h, backend.BackendSQLite, func(p *backend.HandlePayload) { p.AttemptIndex = 9 })
		}, stdout("x"), notFoundAttempt},
		{"ErrStaleLeaseEpoch", func(s *streamEnv, _ backend.ExecutionID, h backend.Handle) backend.Handle {
			return forged(s.t, h, backend.BackendSQLite, func(p *backend.HandlePayload) { p.LeaseEpoch++ })
		}, stdout("x"), backend.ErrStaleLease},
		{"ErrStaleLeaseRevokedBeforeOversize", func(s *streamEnv, id backend.ExecutionID, h backend.Handle) backend.Handle {
			if _, err := s.b.RevokeLease(s.ctx, backend.RevokeLeaseArgs{ExecutionID: id}); err != nil {
				s.t.Fatal(err)
			}
			return h
		}, backend.Frame{Bytes: big, Kind: backend.FrameBlob}, backend.ErrStaleLease},
		{"ErrStaleLeaseReclaimed", func(s *streamEnv, _ backend.ExecutionID, h backend.Handle) backend.Handle {
			s.clock.Advance(time.Minute)
			s.tickLeaseExpiry()
			s.mustClaimAs(streamLane, workerPolicy("w-2"))
			return h
		}, stdout("x"), backend.ErrStaleLease},
		{"ErrRetentionLimitBeforeClosed", func(s *streamEnv, _ backend.ExecutionID, h backend.Handle) backend.Handle {
			if err := s.b.Complete(s.ctx, h, nil); err != nil {
				s.t.Fatal(err)
			}
			return h
		}, backend.Frame{Bytes: big, Kind: backend.FrameBlob}, backend.ErrRetentionLimitExceeded},
		{"ErrStreamClosedCompleted", func(s *streamEnv, _ backend.ExecutionID, h backend.Handle) backend.Handle {
			if err := s.b.Complete(s.ctx, h, nil); err != nil {
				s.t.Fatal(err)
			}
			return h
		}, stdout("x"), backend.ErrStreamClosed},
		{"ErrStreamClosedDelayedBeforeBadPatch", func(s *streamEnv, _ backend.ExecutionID, h backend.Handle) backend.Handle {
			if err := s.b.Delay(s.ctx, h, s.now().Add(time.Hour)); err != nil {
				s.t.Fatal(err)
			}
			return h
		}, summaryFrame("[1]"), backend.ErrStreamClosed},
		{"ErrStaleOwnerLapsedLease", func(s *streamEnv, _ backend.ExecutionID, h backend.Handle) backend.Handle {
			s.clock.Advance(31 * time.Second)
			return h
		}, stdout("x"), backend.ErrStaleOwnerCannotAppend},
		{"ErrStaleOwnerReclaimableBeforeBadPatch", func(s *streamEnv, _ backend.ExecutionID, h backend.Handle) backend.Handle {
			s.clock.Advance(31 * time.Second)
			s.tickLeaseExpiry()
			return h
		}, summaryFrame("nope"), backend.ErrStaleOwnerCannotAppend},
		{"ErrInvalidSummaryNotJSON", nil, summaryFrame("{nope"), backend.ErrInvalidInput},
		{"ErrInvalidSummaryArrayRoot", nil, summaryFrame(`["a"]`), backend.ErrInvalidInput},
		{"ErrInvalidSummaryTooDeep", nil, summaryFrame(deep), backend.ErrInvalidInput},
		{"ErrInvalidSummaryNil", nil, backend.Frame{Kind: backend.FrameEvent, Mode: backend.SummaryMode()}, backend.ErrInvalidInput},
		{"ErrInvalidKindEmpty", nil, backend.Frame{Bytes: []byte("x")}, backend.ErrInvalidInput},
		{"ErrInvalidKindUnknown", nil, backend.Frame{Bytes: []byte("x"), Kind: "video"}, backend.ErrInvalidInput},
		{"ErrInvalidMode", nil, backend.Frame{Bytes: []byte("x"), Kind: backend.FrameStdout, Mode: backend.StreamMode{Kind: "forever"}}, backend.ErrInvalidInput},
		{"ErrInvalidPatchKind", nil, backend.Frame{Bytes: []byte("{}"), Kind: backend.FrameEvent,
			Mode: backend.StreamMode{Kind: backend.StreamSummary, PatchKind: "json-patch"}}, backend.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStreamEnv(t)
			id, h := s.running()
			s.append(h, stdout("kept"))
			if tt.setup != nil {
				h = tt.setup(s, id, h)
			}
			before := s.dump()
			_, err := s.b.AppendFrame(s.ctx, h, tt.frame)
			requireErr(t, "AppendFrame", err, tt.want)
			s.requireUnchanged(before, "a failed AppendFrame")
		})
	}
}

func TestAppendFrameUnavailableAfterClose(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	_, h := s.running()
	b2, err := backend.NewWithOptions(s.ctx, s.path, backend.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = b2.AppendFrame(s.ctx, h, stdout("x"))
	requireErr(t, "AppendFrame after Close", err, backend.ErrUnavailable)
	cctx, cancel := context.WithCancel(s.ctx)
	cancel()
	if _, err := s.b.AppendFrame(cctx, h, stdout("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("AppendFrame with a cancelled ctx: %v, want context.Canceled", err)
	}
}

// TestAppendFrameBestEffortTrimming follows spec 05 §C.3 step 8 with
// alpha 1 (the EMA is the latest rate), a 1 s TTL, floor 1 and ceiling
// 100: kept = clamp(ceil(rate × 1 s) × 2, 1, 100).
func TestAppendFrameBestEffortTrimming(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, h := s.running()
	s.append(h, stdout("durable-0"))
	s.append(h, stdout("durable-1"))
	cfg := backend.BestEffortLiveConfig{EMAAlpha: 1, MaxlenCeiling: 100, MaxlenFloor: 1, TTL: time.Second}
	live := func(text string) backend.Frame {
		return backend.Frame{Bytes: []byte(text), Kind: backend.FrameEvent, Mode: backend.BestEffortMode(cfg)}
	}
	steps := []struct {
		advance time.Duration
		want    uint64
	}{
		{0, 1},                      // no previous best-effort append: rate 0, kept = floor; durable frames trimmed too
		{500 * time.Millisecond, 2}, // 2 Hz → ceil(2 × 1) × 2 = 4, 2 frames exist
		{500 * time.Millisecond, 3},
		{500 * time.Millisecond, 4},
		{500 * time.Millisecond, 4}, // capped at 4
		{time.Millisecond, 5},       // 1000 Hz → 2000, clamped to the 100 ceiling
		{10 * time.Second, 2},       // 0.1 Hz → ceil(0.1 × 1) × 2 = 2
	}
	var lastID string
	for i, st := range steps {
		s.clock.Advance(st.advance)
		out := s.append(h, live("live-"+string(rune('a'+i))))
		if out.FrameCount != st.want {
			t.Fatalf("step %d: FrameCount = %d, want %d", i, out.FrameCount, st.want)
		}
		lastID = out.StreamID
	}
	frames := s.readAll(id, 0).Frames
	if diff := cmp.Diff([]string{"live-f", "live-g"}, payloads(frames)); diff != "" {
		t.Fatalf("retained frames (-want +got)\n%s", diff)
	}
	if frames[1].ID != lastID || frames[1].Fields["mode"] != "best_effort" {
		t.Fatalf("newest frame = %+v, want id %s mode best_effort", frames[1], lastID)
	}
	// Ids stay monotonic after trimming, and a durable append counts the
	// retained frames.
	if out := s.append(h, stdout("durable-2")); out.FrameCount != 3 || out.StreamID <= lastID {
		t.Fatalf("durable after trimming = %+v (last id %s)", out, lastID)
	}
}

// TestAppendFrameBestEffortDefaults: a zero config keeps the default
// floor of 64 frames.
func TestAppendFrameBestEffortDefaults(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	_, h := s.running()
	var out backend.AppendFrameOutcome
	for i := 0; i < 70; i++ {
		out = s.append(h, backend.Frame{Bytes: []byte("x"), Kind: backend.FrameEvent, Mode: backend.BestEffortMode(backend.BestEffortLiveConfig{EMAAlpha: 7})})
	}
	if out.FrameCount != 64 {
		t.Fatalf("FrameCount = %d, want the default floor 64", out.FrameCount)
	}
}

// tickLeaseExpiry runs the lease-expiry reconciler once.
func (e *execEnv) tickLeaseExpiry() {
	e.t.Helper()
	if _, err := e.b.RunScannerOnce(e.ctx, scanners.JobLeaseExpiry); err != nil {
		e.t.Fatalf("lease expiry tick: %v", err)
	}
}
