package tests

import (
	"database/sql"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

// streamLane is the lane the stream scenarios run on.
const streamLane = backend.LaneID("streams")

// streamEnv is an execEnv with helpers for the stream scenarios.
type streamEnv struct {
	*execEnv
}

func newStreamEnv(t *testing.T) *streamEnv {
	t.Helper()
	return &streamEnv{execEnv: newExecEnv(t)}
}

// running creates an execution on streamLane and claims it.
func (s *streamEnv) running() (backend.ExecutionID, backend.Handle) {
	s.t.Helper()
	id := s.create(streamLane, nil)
	h := s.mustClaim(streamLane)
	if h.ExecutionID() != id {
		s.t.Fatalf("claimed %s, want %s", h.ExecutionID(), id)
	}
	return id, h
}

// stdout is a durable stdout frame carrying text.
func stdout(text string) backend.Frame {
	return backend.Frame{Bytes: []byte(text), Kind: backend.FrameStdout}
}

// summaryFrame is a summary-mode event frame carrying patch.
func summaryFrame(patch string) backend.Frame {
	return backend.Frame{Bytes: []byte(patch), Kind: backend.FrameEvent, Mode: backend.SummaryMode()}
}

// append appends f with h and fails the test on error.
func (s *streamEnv) append(h backend.Handle, f backend.Frame) backend.AppendFrameOutcome {
	s.t.Helper()
	out, err := s.b.AppendFrame(s.ctx, h, f)
	if err != nil {
		s.t.Fatalf("AppendFrame(%q): %v", f.Bytes, err)
	}
	return out
}

// readAll reads the whole stream of (id, attempt).
func (s *streamEnv) readAll(id backend.ExecutionID, attempt backend.AttemptIndex) backend.StreamFrames {
	s.t.Helper()
	out, err := s.b.ReadStream(s.ctx, id, attempt, backend.StreamStart, backend.StreamEnd, backend.StreamReadHardCap)
	if err != nil {
		s.t.Fatalf("ReadStream: %v", err)
	}
	return out
}

// frameIDs lists the ids of frames.
func frameIDs(frames []backend.StreamFrame) []string {
	ids := []string{}
	for _, f := range frames {
		ids = append(ids, f.ID)
	}
	return ids
}

// payloads lists the payload fields of frames.
func payloads(frames []backend.StreamFrame) []string {
	out := []string{}
	for _, f := range frames {
		out = append(out, f.Fields["payload"])
	}
	return out
}

// entryID is the stream entry id "<ms>-<seq>" of an instant.
func entryID(at time.Time, seq int) string {
	return strconv.FormatInt(at.UnixMilli(), 10) + "-" + strconv.Itoa(seq)
}

// durableFields is the Fields map of a durable frame.
func durableFields(frameType, payload string, at time.Time) map[string]string {
	return map[string]string{
		"encoding": "utf8", "frame_type": frameType, "mode": "durable", "payload": payload,
		"source": "worker", "ts": strconv.FormatInt(at.UnixMilli(), 10),
	}
}

// requireFrames compares a page with cmp.Diff.
func requireFrames(t *testing.T, what string, want, got backend.StreamFrames) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%s (-want +got)\n%s", what, diff)
	}
}

// rawExec runs one statement on the backend's file through a separate
// writable connection, standing in for corruption or another process.
func (e *execEnv) rawExec(query string, args ...any) {
	e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: e.path}).EscapedPath()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(e.ctx, query, args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
}
