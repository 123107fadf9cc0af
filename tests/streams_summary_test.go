package tests

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

func TestSummaryRollsUpPatches(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, h := s.running()
	if doc, err := s.b.ReadSummary(s.ctx, id, 0); err != nil || doc != nil {
		t.Fatalf("ReadSummary before any summary frame = %+v, %v; want nil, nil", doc, err)
	}
	t0 := s.now()
	patches := []string{
		`{"status":"starting","progress":{"done":0,"total":10},"tags":["a"]}`,
		// A durable frame with a JSON payload never touches the summary.
		"",
		`{"progress":{"done":4},"status":null,"note":"__ff_null__"}`,
		`{"tags":["b","__ff_null__"],"big":123456789012345678901234567890}`,
	}
	var versions []uint64
	for i, p := range patches {
		at := s.clock.Advance(time.Second)
		if p == "" {
			out := s.append(h, backend.Frame{Bytes: []byte(`{"status":"durable"}`), Kind: backend.FrameEvent})
			if out.SummaryVersion != 0 {
				t.Fatalf("durable frame SummaryVersion = %d, want 0", out.SummaryVersion)
			}
			continue
		}
		out := s.append(h, summaryFrame(p))
		versions = append(versions, out.SummaryVersion)
		if out.StreamID != entryID(at, 0) {
			t.Fatalf("patch %d id %s, want %s", i, out.StreamID, entryID(at, 0))
		}
	}
	if diff := cmp.Diff([]uint64{1, 2, 3}, versions); diff != "" {
		t.Fatalf("versions (-want +got)\n%s", diff)
	}
	doc, err := s.b.ReadSummary(s.ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := &backend.SummaryDocument{
		DocumentJSON:   []byte(`{"big":123456789012345678901234567890,"note":null,"progress":{"done":4,"total":10},"tags":["b",null]}`),
		FirstAppliedAt: t0.Add(time.Second),
		LastUpdatedAt:  t0.Add(4 * time.Second),
		PatchKind:      backend.PatchJSONMerge,
		Version:        3,
	}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Fatalf("ReadSummary (-want +got)\n%s", diff)
	}

	// Each summary frame is in the stream too: mode summary, the raw patch
	// as payload, the version it produced.
	frames := s.readAll(id, 0).Frames
	if len(frames) != 4 {
		t.Fatalf("%d frames, want 4", len(frames))
	}
	wantLast := map[string]string{
		"encoding": "utf8", "frame_type": "event", "mode": "summary", "payload": patches[3],
		"source": "worker", "summary_version": "3", "ts": strconv.FormatInt(t0.Add(4*time.Second).UnixMilli(), 10),
	}
	if diff := cmp.Diff(wantLast, frames[3].Fields); diff != "" {
		t.Fatalf("summary frame fields (-want +got)\n%s", diff)
	}
	if frames[1].Fields["mode"] != "durable" {
		t.Fatalf("durable frame mode = %q", frames[1].Fields["mode"])
	}
}

// TestSummaryPerAttempt: each attempt has its own summary.
func TestSummaryPerAttempt(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, h := s.running()
	s.append(h, summaryFrame(`{"a":1}`))
	if _, err := s.b.Fail(s.ctx, h, backend.FailureReason{}, backend.FailureTransient); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(time.Minute)
	h2 := s.mustClaim(streamLane)
	if doc, err := s.b.ReadSummary(s.ctx, id, h2.AttemptIndex()); err != nil || doc != nil {
		t.Fatalf("new attempt summary = %+v, %v; want nil", doc, err)
	}
	if out := s.append(h2, summaryFrame(`{"b":2}`)); out.SummaryVersion != 1 {
		t.Fatalf("first version on the new attempt = %d", out.SummaryVersion)
	}
	for attempt, want := range map[backend.AttemptIndex]string{0: `{"a":1}`, 1: `{"b":2}`} {
		doc, err := s.b.ReadSummary(s.ctx, id, attempt)
		if err != nil || doc == nil || string(doc.DocumentJSON) != want {
			t.Fatalf("attempt %d summary = %+v, %v; want %s", attempt, doc, err, want)
		}
	}
}

func TestReadSummaryErrors(t *testing.T) {
	t.Parallel()
	s := newStreamEnv(t)
	id, h := s.running()
	s.append(h, summaryFrame(`{"a":1}`))

	_, err := s.b.ReadSummary(s.ctx, "not-an-id", 0)
	requireErr(t, "ReadSummary bad id", err, backend.ErrInvalidInput)
	if doc, err := s.b.ReadSummary(s.ctx, backend.NewExecutionID(), 0); err != nil || doc != nil {
		t.Fatalf("unknown execution = %+v, %v", doc, err)
	}
	cctx, cancel := context.WithCancel(s.ctx)
	cancel()
	if _, err := s.b.ReadSummary(cctx, id, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}

	// A stored document that is valid JSON but not an object is corrupt:
	// reads report it, and appends fail without writing.
	s.rawExec(`UPDATE ff_stream_summary SET document_json = '[1]' WHERE execution_id = ?`, string(id))
	_, err = s.b.ReadSummary(s.ctx, id, 0)
	requireErr(t, "ReadSummary of a corrupt document", err, backend.ErrCorruption)
	before := s.dump()
	_, err = s.b.AppendFrame(s.ctx, h, summaryFrame(`{"b":2}`))
	requireErr(t, "AppendFrame onto a corrupt document", err, backend.ErrCorruption)
	s.requireUnchanged(before, "AppendFrame onto a corrupt summary")
	// Other modes do not read the summary.
	s.append(h, stdout("still fine"))
}
