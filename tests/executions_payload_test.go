package tests

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

// payloadOfSize is n bytes that differ from position to position, so a
// truncated or shifted copy cannot compare equal.
func payloadOfSize(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return p
}

// requirePayload checks what ReadExecutionContext returns for id and where
// the payload is stored: in the row, or (external) in ff_exec_payload with
// the row's copy empty.
func (e *execEnv) requirePayload(id backend.ExecutionID, want []byte, external bool) {
	e.t.Helper()
	ec, err := e.b.ReadExecutionContext(e.ctx, id)
	if err != nil {
		e.t.Fatalf("ReadExecutionContext(%s): %v", id, err)
	}
	if !bytes.Equal(ec.InputPayload, want) {
		e.t.Fatalf("input payload of %s: %d bytes, want %d bytes (equal: false)", id, len(ec.InputPayload), len(want))
	}
	// Where it is stored: the row's payload_external flag and payload
	// length, and the ff_exec_payload rows for it (of the right length).
	type stored struct{ External, RowBytes, Side, SideOfLength int64 }
	got := stored{
		External:     e.rawExecColumn(id, "payload_external").(int64),
		RowBytes:     int64(len(e.rawExecColumn(id, "payload").([]byte))),
		Side:         int64(e.countRows("ff_exec_payload", "execution_id = ?", string(id))),
		SideOfLength: int64(e.countRows("ff_exec_payload", "execution_id = ? AND length(payload) = ?", string(id), len(want))),
	}
	wantStored := stored{RowBytes: int64(len(want))}
	if external {
		wantStored = stored{External: 1, Side: 1, SideOfLength: 1}
	}
	if diff := cmp.Diff(wantStored, got); diff != "" {
		e.t.Fatalf("storage of %s's %d-byte payload (-want +got)\n%s", id, len(want), diff)
	}
}

// TestLargePayloadsStoredOutOfLine: a payload over the inline limit (1 KiB)
// is stored once outside the execution row, through every way of creating
// an execution, and reads back byte for byte; up to the limit it stays in
// the row.
func TestLargePayloadsStoredOutOfLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		size     int
		external bool
	}{
		{0, false}, {1024, false}, {1025, true}, {64 << 10, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			want := payloadOfSize(tt.size)
			single := e.create("lane", func(a *backend.CreateExecutionArgs) { a.InputPayload = want })
			e.requirePayload(single, want, tt.external)

			// A batch mixing it with small payloads, and a flow member.
			batch := []backend.CreateExecutionArgs{benchCreateArgs("lane"), benchCreateArgs("lane"), benchCreateArgs("lane")}
			batch[1].InputPayload = want
			if _, err := e.b.CreateExecutions(e.ctx, batch); err != nil {
				t.Fatal(err)
			}
			e.requirePayload(batch[0].ExecutionID, benchPayload, false)
			e.requirePayload(batch[1].ExecutionID, want, tt.external)
			e.requirePayload(batch[2].ExecutionID, benchPayload, false)

			member := benchCreateArgs("lane")
			member.InputPayload = want
			if _, err := e.b.BuildFlow(e.ctx, backend.BuildFlowArgs{FlowID: backend.NewFlowID(), Members: []backend.CreateExecutionArgs{member}}); err != nil {
				t.Fatal(err)
			}
			e.requirePayload(member.ExecutionID, want, tt.external)

			// A lifecycle leaves it where it is.
			life := e.create("life", func(a *backend.CreateExecutionArgs) { a.InputPayload = want })
			h := e.mustClaim("life")
			if _, err := e.b.Renew(e.ctx, h); err != nil {
				t.Fatal(err)
			}
			if err := e.b.Complete(e.ctx, h, nil); err != nil {
				t.Fatal(err)
			}
			e.requirePayload(life, want, tt.external)
		})
	}
}

// TestPassedResultMovesInAndOutOfLine: an upstream result passed to a
// downstream as its input is stored by its own size, and a later small
// result replaces a large one entirely.
func TestPassedResultMovesInAndOutOfLine(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	large, small := payloadOfSize(8<<10), []byte(`{"small":true}`)
	a, b, c := backend.NewExecutionID(), backend.NewExecutionID(), backend.NewExecutionID()
	var members []backend.CreateExecutionArgs
	for _, id := range []backend.ExecutionID{a, b, c} {
		m := benchCreateArgs(backend.LaneID("pass-" + id.UUID()))
		m.ExecutionID = id
		members = append(members, m)
	}
	if _, err := e.b.BuildFlow(e.ctx, backend.BuildFlowArgs{
		FlowID: backend.NewFlowID(), Members: members,
		Edges: []backend.BuildFlowEdge{{Upstream: a, Downstream: c, DataPassingRef: "a"}, {Upstream: b, Downstream: c, DataPassingRef: "b"}},
	}); err != nil {
		t.Fatal(err)
	}
	complete := func(id backend.ExecutionID, result []byte) {
		t.Helper()
		h := e.mustClaim(backend.LaneID("pass-" + id.UUID()))
		if err := e.b.Complete(e.ctx, h, result); err != nil {
			t.Fatal(err)
		}
	}
	complete(a, large)
	e.requirePayload(c, large, true)
	complete(b, small)
	e.requirePayload(c, small, false)
}
