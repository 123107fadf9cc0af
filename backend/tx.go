package backend

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// writeTx is what a write transaction's body works with: the generated
// queries bound to the transaction, the transaction's "now", and the
// wake-ups to publish once it commits.
type writeTx struct {
	q     *dbgen.Queries
	now   int64 // Unix ms from the database's Clock, fixed for the attempt
	wakes topicSet
}

// callerNow is the caller's Now argument in ms when set, else the
// transaction's clock reading (API §1: a zero Now means the Clock).
func (w *writeTx) callerNow(t time.Time) int64 {
	if t.IsZero() {
		return w.now
	}
	return toMS(t)
}

// wake schedules a wake-up for after the commit.
func (w *writeTx) wake(t topic) { w.wakes.add(t) }

// write runs fn in one BEGIN IMMEDIATE transaction on the writer and
// commits it. A busy/locked fault re-runs fn from scratch (so it must
// re-read all state and recompute everything from w.now) up to
// BusyRetryMaxAttempts times with jittered backoff; any other error rolls
// back and is returned as is. Wake-ups are published only after COMMIT.
func (db *database) write(ctx context.Context, fn func(w *writeTx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		var wakes topicSet
		wakes, err = db.writeOnce(ctx, fn)
		// Wake-ups follow every commit, including one that kept its
		// writes and still reports an error.
		db.notify.publish(wakes)
		if err == nil {
			return nil
		}
		if attempt >= BusyRetryMaxAttempts || !IsRetryableBusy(err) {
			return err
		}
		// 5 ms, then 10 ms, each with up to 50% jitter so that two
		// processes retrying together spread out.
		base := 5 * time.Millisecond << (attempt - 1)
		delay := base + rand.N(base/2+1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

func (db *database) writeOnce(ctx context.Context, fn func(w *writeTx) error) (topicSet, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, errTransportCtx(ctx, err)
	}
	// Rolls back on every early return and on a panic in fn, so the single
	// writer connection is never left inside a transaction; a no-op after
	// Commit.
	defer tx.Rollback() //nolint:errcheck // ErrTxDone after a commit
	w := &writeTx{q: db.wq.WithTx(tx), now: nowMS(db.clock)}
	var kept *commitThenFail
	if err := fn(w); err != nil && !errors.As(err, &kept) {
		return 0, errTransportCtx(ctx, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, errTransportCtx(ctx, err)
	}
	if kept != nil {
		return w.wakes, kept.err
	}
	return w.wakes, nil
}

// read runs fn against one read transaction so that every query sees the
// same snapshot. Reads are never retried.
func (db *database) read(ctx context.Context, fn func(q *dbgen.Queries) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := db.reader.BeginTx(ctx, nil)
	if err != nil {
		return errTransportCtx(ctx, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	if err := fn(db.rq.WithTx(tx)); err != nil {
		return errTransportCtx(ctx, err)
	}
	return nil
}

// commitThenFail is returned by a write body whose writes must persist
// although the method reports an error (marking a lapsed lease expired,
// then returning ErrLeaseExpired).
type commitThenFail struct{ err error }

func (c *commitThenFail) Error() string { return c.err.Error() }

// keepAndFail makes write commit the body's writes, then return err.
func keepAndFail(err error) error { return &commitThenFail{err: err} }
