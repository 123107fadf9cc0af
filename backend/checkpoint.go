package backend

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"
)

// Background checkpoint pacing: a pass every checkpointTick while at
// least checkpointBatch transactions commit in between (a busy writer),
// otherwise at most one per checkpointIdle, so that a trickle of writes
// does not cost two fsyncs per tick.
const (
	checkpointTick  = 25 * time.Millisecond
	checkpointBatch = 64
	checkpointIdle  = time.Second
)

// checkpointer copies WAL frames back into the database file in the
// background, on a connection of its own, so that commits rarely pay for
// it. A checkpoint run by the writer itself (wal_autocheckpoint) first
// fsyncs the whole WAL, ~32 MB at the 8000-frame interval, then copies its
// pages: tens of milliseconds during which every queued write waits
// (bench S4: flow p95 80 ms against p50 20 ms, and a quarter of the
// throughput). Run here, the same work overlaps the writer's, and the
// writer's auto-checkpoint, still the backstop, finds almost nothing left
// to do. PASSIVE never blocks the writer or a reader; a frame a reader
// still needs is copied by a later pass.
type checkpointer struct {
	conn    *sql.DB
	commits atomic.Uint64 // write transactions committed (runGroup)
	stop    chan struct{}
	done    chan struct{}
}

// startCheckpointer opens the checkpointer's connection with the
// database's pragmas and starts it.
func startCheckpointer(ctx context.Context, target string, pragmas []string) (*checkpointer, error) {
	conn, err := sql.Open("sqlite", dsn(target, pragmas))
	if err != nil {
		return nil, err
	}
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	conn.SetConnMaxIdleTime(0)
	if err := conn.PingContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	c := &checkpointer{conn: conn, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

// committed tells the checkpointer that a write transaction committed.
func (c *checkpointer) committed() {
	if c != nil {
		c.commits.Add(1)
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	tick := time.NewTicker(checkpointTick)
	defer tick.Stop()
	var seen uint64
	last := time.Now()
	for {
		var now time.Time
		select {
		case <-c.stop:
			return
		case now = <-tick.C:
		}
		n := c.commits.Load()
		if !checkpointDue(n-seen, now.Sub(last)) {
			continue
		}
		seen, last = n, now
		// An error (SQLITE_BUSY while the writer's auto-checkpoint runs,
		// an I/O error the writer meets and reports too) only means this
		// pass copied less; the next one retries.
		_, _ = c.conn.Exec("PRAGMA wal_checkpoint(PASSIVE)")
	}
}

// checkpointDue says whether a pass is due after commits transactions
// committed over since (the time since the last pass).
func checkpointDue(commits uint64, since time.Duration) bool {
	return commits >= checkpointBatch || (commits > 0 && since >= checkpointIdle)
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	if c == nil {
		return nil
	}
	close(c.stop)
	<-c.done
	return c.conn.Close()
}
