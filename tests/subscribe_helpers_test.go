package tests

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// eventWait bounds every wait for an event that must arrive; it is a
// "before the deadline" guard, never a latency assertion.
const eventWait = 30 * time.Second

// nextEvent reads one event, failing the test on error or after eventWait.
func nextEvent[E any](t *testing.T, sub backend.Subscription[E]) E {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return ev
}

// nextEvents reads n events.
func nextEvents[E any](t *testing.T, sub backend.Subscription[E], n int) []E {
	t.Helper()
	out := make([]E, 0, n)
	for range n {
		out = append(out, nextEvent(t, sub))
	}
	return out
}

// requireNoEvent asserts nothing is pending: Next finds no row and waits
// until its short context ends.
func requireNoEvent[E any](t *testing.T, sub backend.Subscription[E]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if ev, err := sub.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next = %+v, %v; want no event (context.DeadlineExceeded)", ev, err)
	}
}

// requireEOF asserts the subscription has ended.
func requireEOF[E any](t *testing.T, sub backend.Subscription[E]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	if ev, err := sub.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("Next = %+v, %v; want io.EOF", ev, err)
	}
}

// eventID decodes a cursor that must be valid.
func eventID(t *testing.T, c backend.EventCursor) int64 {
	t.Helper()
	id, ok, err := c.EventID()
	if err != nil || !ok {
		t.Fatalf("cursor %s: id %d ok %v err %v", c, id, ok, err)
	}
	return id
}

// requireAscending asserts cursors strictly increase, byte-wise and by id.
func requireAscending(t *testing.T, cursors []backend.EventCursor) {
	t.Helper()
	for i := 1; i < len(cursors); i++ {
		if bytes.Compare(cursors[i-1], cursors[i]) >= 0 || eventID(t, cursors[i-1]) >= eventID(t, cursors[i]) {
			t.Fatalf("cursor %d (%s) does not follow %s", i, cursors[i], cursors[i-1])
		}
	}
}

// subscribeCompletion subscribes from now with filter.
func (e *execEnv) subscribeCompletion(cursor backend.EventCursor, filter backend.ScannerFilter) backend.CompletionSubscription {
	e.t.Helper()
	sub, err := e.b.SubscribeCompletion(e.ctx, cursor, filter)
	if err != nil {
		e.t.Fatalf("SubscribeCompletion: %v", err)
	}
	e.t.Cleanup(func() { sub.Close() })
	return sub
}

func (e *execEnv) subscribeLease(cursor backend.EventCursor, filter backend.ScannerFilter) backend.LeaseHistorySubscription {
	e.t.Helper()
	sub, err := e.b.SubscribeLeaseHistory(e.ctx, cursor, filter)
	if err != nil {
		e.t.Fatalf("SubscribeLeaseHistory: %v", err)
	}
	e.t.Cleanup(func() { sub.Close() })
	return sub
}

func (e *execEnv) subscribeSignal(cursor backend.EventCursor, filter backend.ScannerFilter) backend.SignalDeliverySubscription {
	e.t.Helper()
	sub, err := e.b.SubscribeSignalDelivery(e.ctx, cursor, filter)
	if err != nil {
		e.t.Fatalf("SubscribeSignalDelivery: %v", err)
	}
	e.t.Cleanup(func() { sub.Close() })
	return sub
}

// runToCompletion creates an execution on lane (mod adjusts it), claims
// and completes it.
func (e *execEnv) runToCompletion(lane backend.LaneID, mod func(*backend.CreateExecutionArgs)) backend.ExecutionID {
	e.t.Helper()
	id := e.create(lane, mod)
	h := e.mustClaim(lane)
	if h.ExecutionID() != id {
		e.t.Fatalf("claimed %s, want %s", h.ExecutionID(), id)
	}
	if err := e.b.Complete(e.ctx, h, nil); err != nil {
		e.t.Fatalf("Complete: %v", err)
	}
	return id
}
