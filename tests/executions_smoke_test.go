package tests

import (
	"testing"

	"github.com/flowfabric/ffsqlite/backend"
)

func TestSmokeCreateClaimComplete(t *testing.T) {
	e := newExecEnv(t)
	id := e.create("default", nil)
	if got := e.state(id); got != backend.PublicStateWaiting {
		t.Fatalf("state after create = %s", got)
	}
	h := e.mustClaim("default")
	if h.ExecutionID() != id {
		t.Fatalf("claimed %s, want %s", h.ExecutionID(), id)
	}
	if got := e.state(id); got != backend.PublicStateActive {
		t.Fatalf("state after claim = %s", got)
	}
	if err := e.b.Complete(e.ctx, h, []byte("out")); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if got := e.state(id); got != backend.PublicStateCompleted {
		t.Fatalf("state after complete = %s", got)
	}
	res, ok, err := e.b.GetExecutionResult(e.ctx, id)
	if err != nil || !ok || string(res) != "out" {
		t.Fatalf("result = %q %v %v", res, ok, err)
	}
	if err := e.b.Complete(e.ctx, h, []byte("out")); err != nil {
		t.Fatalf("repeat Complete: %v", err)
	}
	if h2 := e.claim("default"); h2 != nil {
		t.Fatalf("claimed again: %v", h2)
	}
}
