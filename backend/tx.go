package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
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
	// lanes, when set, are the lanes known to be in ff_lane_registry (a
	// body can skip registering them); registered are the lanes this
	// body registered, made known once it commits.
	lanes      *knownLanes
	registered []LaneID
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

// maxGroupOps bounds how many queued write bodies share one transaction,
// so one commit never waits on an unbounded amount of work.
const maxGroupOps = 32

// write runs fn as one atomic unit of work on the writer and returns once
// it is committed (or rolled back). A busy/locked fault re-runs fn from
// scratch (so it must re-read all state and recompute everything from
// w.now) up to BusyRetryMaxAttempts times with jittered backoff; any other
// error rolls fn's writes back and is returned as is. Wake-ups are
// published only after COMMIT.
//
// ctx only decides whether fn starts: fn gets a ctx without its
// cancellation and must use it for every statement. Once started, a body
// runs to completion, because SQLite answers an interrupted write inside
// a transaction by rolling the whole transaction back — every body of a
// group — and because a caller told "cancelled" must not find its writes
// committed. (It also spares the driver the watcher goroutine it starts
// per statement for a cancellable ctx.)
//
// Group commit: while one transaction runs, other callers queue; the next
// transaction runs every queued body (up to maxGroupOps) and commits them
// together. Every body after the first one kept runs inside its own
// SAVEPOINT, and a body that fails is rolled back alone (see runGroup), so
// each method is still all-or-nothing; what the group shares is the BEGIN,
// the COMMIT and the WAL pages they write. With no one waiting a body runs
// alone, exactly as a plain transaction.
func (db *database) write(ctx context.Context, fn func(ctx context.Context, w *writeTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &writeReq{ctx: ctx, fn: fn, signal: make(chan bool, 1)}
	q := &db.writes
	q.mu.Lock()
	yield := false
	if !q.leading {
		q.leading = true
		yield, q.released = q.released, false
		q.mu.Unlock()
	} else {
		q.pending = append(q.pending, req)
		q.mu.Unlock()
		if !req.await(q) {
			return req.result()
		}
	}
	db.lead(req, yield)
	return req.result()
}

// writeReq is one caller's body waiting for, or running in, a group.
type writeReq struct {
	ctx      context.Context
	fn       func(ctx context.Context, w *writeTx) error
	attempts int
	err      error
	panicked any // a panic in fn, re-raised in the caller's goroutine
	// signal receives true when this caller must lead the next group,
	// false when its body is done.
	signal chan bool
}

// writeQueue holds the bodies waiting for the writer. At most one caller
// (the leader) runs groups at a time; the others wait on their signal.
type writeQueue struct {
	mu      sync.Mutex
	pending []*writeReq
	leading bool
	// released is set when the last leader gave up the lead right after
	// finishing other callers' bodies: they are likely about to write
	// again, and the next leader lets them queue first.
	released bool
}

// await waits for the body to be done (false) or for leadership (true).
// A caller whose ctx ends while its body is still queued leaves the queue;
// once a leader has taken the body it waits for the outcome, so a
// cancelled call never reports failure for writes that commit.
func (r *writeReq) await(q *writeQueue) bool {
	select {
	case lead := <-r.signal:
		return lead
	case <-r.ctx.Done():
	}
	q.mu.Lock()
	if i := slices.Index(q.pending, r); i >= 0 {
		q.pending = slices.Delete(q.pending, i, i+1)
		q.mu.Unlock()
		r.err = r.ctx.Err()
		return false
	}
	q.mu.Unlock()
	return <-r.signal
}

func (r *writeReq) result() error {
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.err
}

// lead runs groups, starting with own, until own is done; then it hands
// the lead to the first waiting caller, or gives it up when none waits.
//
// yield first lets the callers the previous group just released run: a
// caller working through a sequence of writes (a worker completing and
// claiming) queues its next one within microseconds, and without the yield
// this leader would commit alone while they queue behind it. Measured on
// bench S4 (4 runners): one-body groups fell from a third of all bodies to
// 2%, CPU per flow -9%.
func (db *database) lead(own *writeReq, yield bool) {
	q := &db.writes
	group := []*writeReq{own}
	if yield {
		runtime.Gosched()
	}
	for {
		q.mu.Lock()
		n := min(len(q.pending), maxGroupOps-len(group))
		group = append(group, q.pending[:n]...)
		q.pending = slices.Delete(q.pending, 0, n)
		q.mu.Unlock()

		retry, busy := db.runGroup(group)
		for _, r := range group {
			if r != own && !slices.Contains(retry, r) {
				r.signal <- false
			}
		}
		if !slices.Contains(retry, own) {
			q.mu.Lock()
			q.pending = append(retry, q.pending...)
			if len(q.pending) == 0 {
				q.leading = false
				q.released = len(group) > 1
				q.mu.Unlock()
				return
			}
			next := q.pending[0]
			q.pending = slices.Delete(q.pending, 0, 1)
			q.mu.Unlock()
			next.signal <- true
			return
		}
		group = retry
		if busy > 0 {
			// 5 ms, then 10 ms, each with up to 50% jitter so that two
			// processes retrying together spread out.
			base := 5 * time.Millisecond << (busy - 1)
			time.Sleep(base + rand.N(base/2+1))
		}
	}
}

// runGroup runs group's bodies in one transaction and commits. It returns
// the bodies to run again after a busy/locked fault (with the highest
// attempt count among them, for the backoff); every other body has its
// outcome set.
func (db *database) runGroup(group []*writeReq) (retry []*writeReq, busy int) {
	live := make([]*writeReq, 0, len(group))
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return nil, 0
	}
	// Bodies' ctx was checked above; from here on nothing is interrupted
	// (see write).
	txCtx := context.Background()
	var (
		tx   *sql.Tx
		q    *dbgen.Queries
		done []*writeTx // the bodies whose writes this commit keeps
	)
	// Rolls back on every early return and on a panic, so the single
	// writer connection is never left inside a transaction; a no-op after
	// Commit.
	defer func() {
		if tx != nil {
			tx.Rollback() //nolint:errcheck // ErrTxDone after a commit
		}
	}()
	// settle records a failed body's outcome: queued again after a busy
	// fault it has attempts left for, else its error. A panic keeps its
	// panic.
	settle := func(r *writeReq, err error) {
		if r.panicked != nil {
			return
		}
		r.attempts++
		if IsRetryableBusy(err) && r.attempts < BusyRetryMaxAttempts {
			retry = append(retry, r)
			busy = max(busy, r.attempts)
			return
		}
		r.err = err
	}
	// alone are the bodies that failed and were rolled back on their own;
	// a later group-wide fault leaves their outcome as it is.
	var alone []*writeReq
	// failAll settles every other live body with err: nothing of the
	// group is committed.
	failAll := func(err error) ([]*writeReq, int) {
		for _, r := range live {
			if !slices.Contains(alone, r) {
				r.err = nil
				settle(r, err)
			}
		}
		return retry, busy
	}
	for _, r := range live {
		if tx == nil {
			var err error
			if tx, err = db.writer.BeginTx(txCtx, nil); err != nil {
				tx = nil
				return failAll(errTransport(err))
			}
			q = db.wq.WithTx(tx)
		}
		if len(done) == 0 {
			// Nothing is kept yet, so a failure rolls the whole
			// transaction back and the next body begins a new one. No
			// savepoint: a savepoint copies every page the body touches
			// into its journal first (~8% of a BuildFlow).
			w, err := db.runBody(r, q)
			if r.panicked == nil && err == nil {
				done = append(done, w)
				continue
			}
			if rerr := tx.Rollback(); rerr != nil {
				return failAll(errTransport(rerr))
			}
			tx = nil
			settle(r, err)
			alone = append(alone, r)
			continue
		}
		if _, err := tx.StmtContext(txCtx, db.ops.savepoint).ExecContext(txCtx); err != nil {
			return failAll(errTransport(err))
		}
		w, err := db.runBody(r, q)
		if r.panicked != nil || err != nil {
			if _, rerr := tx.StmtContext(txCtx, db.ops.rollbackTo).ExecContext(txCtx); rerr != nil {
				return failAll(errTransport(rerr))
			}
			settle(r, err)
			alone = append(alone, r)
		} else {
			done = append(done, w)
		}
		if _, err := tx.StmtContext(txCtx, db.ops.release).ExecContext(txCtx); err != nil {
			return failAll(errTransport(err))
		}
	}
	if len(done) == 0 {
		return retry, busy // every body failed; nothing to commit
	}
	if err := tx.Commit(); err != nil {
		return failAll(errTransport(err))
	}
	db.ckpt.committed()
	var wakes topicSet
	for _, w := range done {
		wakes |= w.wakes
		db.lanes.add(w.registered...)
	}
	db.notify.publish(wakes)
	return retry, busy
}

// runBody runs r's body on q, uninterrupted (see write). A body that
// succeeds, or keeps its writes and fails (keepAndFail), returns its
// writeTx (wake-ups, registered lanes) with r.err set to its outcome; a
// body to roll back returns its error with r.err unset; a panic is
// recovered into r.panicked.
func (db *database) runBody(r *writeReq, q *dbgen.Queries) (done *writeTx, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.panicked = p
		}
	}()
	w := &writeTx{q: q, now: nowMS(db.clock), lanes: &db.lanes}
	r.err = nil
	var kept *commitThenFail
	if err := r.fn(context.WithoutCancel(r.ctx), w); err != nil {
		if errors.As(err, &kept) {
			r.err = kept.err
			return w, nil
		}
		return nil, errTransport(err)
	}
	return w, nil
}

// savepointStmts are the statements that wrap each body of a group,
// prepared once on the writer like the generated queries (a statement
// prepared per use costs more than the savepoint itself).
type savepointStmts struct {
	savepoint, rollbackTo, release *sql.Stmt
}

func (s *savepointStmts) prepare(ctx context.Context, writer *sql.DB) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.savepoint, "SAVEPOINT ff_op"},
		{&s.rollbackTo, "ROLLBACK TO ff_op"},
		{&s.release, "RELEASE ff_op"},
	} {
		var err error
		if *p.stmt, err = writer.PrepareContext(ctx, p.sql); err != nil {
			return fmt.Errorf("%s: %w", p.sql, err)
		}
	}
	return nil
}

func (s *savepointStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.savepoint, s.rollbackTo, s.release} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// knownLanes are lanes known to be in ff_lane_registry. Nothing deletes a
// registered lane, so once a registration commits the lane stays known
// for the life of the database handle, and creating on it skips a
// statement.
type knownLanes struct {
	mu sync.RWMutex
	m  map[LaneID]struct{}
}

func (k *knownLanes) has(lane LaneID) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	_, ok := k.m[lane]
	return ok
}

func (k *knownLanes) add(lanes ...LaneID) {
	if len(lanes) == 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = make(map[LaneID]struct{})
	}
	for _, l := range lanes {
		k.m[l] = struct{}{}
	}
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
