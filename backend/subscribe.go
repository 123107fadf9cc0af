package backend

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// Event subscriptions (spec 05 Part D, decision 18). A subscription is a
// cursor over one outbox table: every Next reads rows after the cursor
// from the table itself, so ordering is event_id order (= commit order),
// and a missed or coalesced wake-up costs latency, never an event. There
// is no goroutine per subscription: Next does the reading, which makes a
// slow consumer pure backpressure — it reads when it is ready, holds no
// connection while it waits, and writers never wait for it.

const (
	// subscriptionBatch is how many outbox rows one read takes.
	subscriptionBatch = 256
	// subscriptionPoll bounds how long Next waits without an in-process
	// wake-up before it re-reads the table, so rows committed by another
	// process on the same file arrive too.
	subscriptionPoll = time.Second
	// finalCatchUpMax caps how many events one subscription buffers in
	// its final catch-up when the database closes. Events beyond it are
	// not lost: the consumer resubscribes from its last cursor.
	finalCatchUpMax = 10000
)

// eventFamily describes one subscribable outbox table: R is its row type,
// E the event delivered.
type eventFamily[R, E any] struct {
	op    string
	topic topic
	maxID func(ctx context.Context, q *dbgen.Queries) (int64, error)
	list  func(ctx context.Context, q *dbgen.Queries, after, limit int64) ([]R, error)
	// key returns the row's event id and its filter columns.
	key func(r R) (id int64, namespace, instanceTag sql.NullString)
	// decode builds the event; ok is false for a row to skip.
	decode func(db *database, r R) (e E, ok bool, err error)
}

// SubscribeCompletion delivers completion events after cursor (empty =
// from now) that pass filter. ctx bounds only this call; the subscription
// lives until Close (or the database's last Close). A malformed cursor is
// ErrInvalidInput; failing to read the current position is ErrTransport.
func (b *SQLiteBackend) SubscribeCompletion(ctx context.Context, cursor EventCursor, filter ScannerFilter) (CompletionSubscription, error) {
	return subscribe(ctx, b, completionFamily, cursor, filter)
}

// SubscribeLeaseHistory delivers lease-history events (see
// SubscribeCompletion).
func (b *SQLiteBackend) SubscribeLeaseHistory(ctx context.Context, cursor EventCursor, filter ScannerFilter) (LeaseHistorySubscription, error) {
	return subscribe(ctx, b, leaseFamily, cursor, filter)
}

// SubscribeSignalDelivery delivers signal-delivery events (see
// SubscribeCompletion).
func (b *SQLiteBackend) SubscribeSignalDelivery(ctx context.Context, cursor EventCursor, filter ScannerFilter) (SignalDeliverySubscription, error) {
	return subscribe(ctx, b, signalFamily, cursor, filter)
}

// SubscribeInstanceTags is not supported: it always returns ErrUnavailable
// (Op "subscribe_instance_tags"). No backend produces instance-tag events
// (decision 2), so there is nothing to deliver.
func (b *SQLiteBackend) SubscribeInstanceTags(ctx context.Context, cursor EventCursor) (InstanceTagSubscription, error) {
	return nil, &Error{Kind: KindUnavailable, Op: "subscribe_instance_tags", Detail: "instance-tag events have no producer"}
}

// subscribe resolves the start position synchronously — the cursor's
// event id, or the table's newest id for "from now" — and registers the
// subscription with its database.
func subscribe[R, E any](ctx context.Context, b *SQLiteBackend, fam *eventFamily[R, E], cursor EventCursor, filter ScannerFilter) (Subscription[E], error) {
	db, err := b.live(fam.op)
	if err != nil {
		return nil, err
	}
	start, ok, err := cursor.EventID()
	if err != nil {
		return nil, errInvalidInput("invalid event_id cursor for sqlite.%s: %s", fam.op, errorDetail(err))
	}
	if !ok {
		err := db.read(ctx, func(q *dbgen.Queries) error {
			var err error
			start, err = fam.maxID(ctx, q)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	s := &subscription[R, E]{db: db, fam: fam, filter: filter, stop: make(chan struct{}), cursor: start}
	if !db.subs.add(s) {
		return nil, &Error{Kind: KindUnavailable, Op: fam.op, Detail: "backend is closed"}
	}
	return s, nil
}

// subscription is one consumer's position in an outbox table.
type subscription[R, E any] struct {
	db     *database
	fam    *eventFamily[R, E]
	filter ScannerFilter

	stop     chan struct{} // closed by Close
	stopOnce sync.Once

	// mu guards the fields below. It is held while reading the table,
	// never while waiting for a wake-up.
	mu     sync.Mutex
	cursor int64 // the last event id read (delivered, buffered or skipped)
	buf    []E   // events read but not yet returned
	fault  error // returned once after buf drains; then the subscription ends
	ended  bool  // no more reads: after a fault, or after the final catch-up
}

// Next returns the next event, blocking until one is committed. It
// returns ctx.Err() when ctx ends first (the subscription stays usable),
// io.EOF once the subscription has ended, and a storage (ErrTransport) or
// decode (ErrCorruption) fault once, followed by io.EOF.
func (s *subscription[R, E]) Next(ctx context.Context) (E, error) {
	var zero E
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-s.stop:
			return zero, io.EOF
		default:
		}
		// Register before reading: a row committed after the read has
		// then always closed this channel.
		wake := s.db.notify.wait(s.fam.topic)
		ev, ok, err := s.take(ctx)
		if ok || err != nil {
			return ev, err
		}
		if timer == nil {
			timer = time.NewTimer(subscriptionPoll)
		} else {
			timer.Reset(subscriptionPoll)
		}
		select {
		case <-ctx.Done():
			return zero, ctx.Err()
		case <-s.stop:
			return zero, io.EOF
		case <-wake:
		case <-timer.C:
		case <-s.db.notify.done():
			// The database closed; its final catch-up already ran
			// (database.close ends subscriptions first), so the next
			// take drains the buffer, then reports io.EOF.
		}
	}
}

// take returns the next buffered event, reading further rows when the
// buffer is empty. ok is false with a nil error when nothing new was
// committed.
func (s *subscription[R, E]) take(ctx context.Context) (ev E, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev, ok := s.pop(); ok {
		return ev, true, nil
	}
	if !s.ended && s.fault == nil {
		if err := s.fill(ctx, 1); err != nil {
			return ev, false, err
		}
		if ev, ok := s.pop(); ok {
			return ev, true, nil
		}
	}
	if s.fault != nil {
		err, s.fault, s.ended = s.fault, nil, true
		return ev, false, err
	}
	if s.ended {
		return ev, false, io.EOF
	}
	return ev, false, nil
}

func (s *subscription[R, E]) pop() (E, bool) {
	var zero E
	if len(s.buf) == 0 {
		return zero, false
	}
	ev := s.buf[0]
	s.buf[0] = zero
	s.buf = s.buf[1:]
	if len(s.buf) == 0 {
		s.buf = nil // let the backing array go
	}
	return ev, true
}

// fill reads batches after the cursor until want events are buffered or
// the table has nothing more. The cursor moves past every row read, also
// past rows the filter skips. A storage or decode fault is recorded in
// s.fault (after the events before it); only ctx's end is returned.
func (s *subscription[R, E]) fill(ctx context.Context, want int) error {
	for len(s.buf) < want && s.fault == nil {
		var rows []R
		err := s.db.read(ctx, func(q *dbgen.Queries) error {
			var err error
			rows, err = s.fam.list(ctx, q, s.cursor, subscriptionBatch)
			return err
		})
		if err != nil {
			if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
				return cerr
			}
			s.fault = err
			return nil
		}
		for _, r := range rows {
			id, ns, tag := s.fam.key(r)
			s.cursor = id
			if !filterMatches(s.filter, ns, tag) {
				continue
			}
			ev, ok, err := s.fam.decode(s.db, r)
			if err != nil {
				s.fault = err
				return nil
			}
			if ok {
				s.buf = append(s.buf, ev)
			}
		}
		if len(rows) < subscriptionBatch {
			return nil
		}
	}
	return nil
}

// finish is the final catch-up when the database closes: everything
// committed so far (up to finalCatchUpMax events) is buffered for Next,
// and the subscription reads no more.
func (s *subscription[R, E]) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	select {
	case <-s.stop:
	default:
		_ = s.fill(context.Background(), finalCatchUpMax)
	}
	s.ended = true
}

// Close releases the subscription; it is idempotent, safe from any
// goroutine, and always returns nil. A Next in progress returns io.EOF.
func (s *subscription[R, E]) Close() error {
	s.stopOnce.Do(func() {
		close(s.stop)
		s.db.subs.remove(s)
	})
	return nil
}

// filterMatches applies spec 05 §D.4: each set dimension must equal the
// row's column, and a NULL column never matches a set dimension. The tag
// key is not compared (the column only holds "cairn.instance_id" values).
func filterMatches(f ScannerFilter, namespace, instanceTag sql.NullString) bool {
	if f.Namespace != "" && (!namespace.Valid || namespace.String != f.Namespace) {
		return false
	}
	if f.InstanceTag != nil && (!instanceTag.Valid || instanceTag.String != f.InstanceTag.Value) {
		return false
	}
	return true
}

// finisher is a live subscription as its database sees it.
type finisher interface{ finish() }

// subscriptionSet is a database's live subscriptions. The last Close of
// the database calls end before closing its connections, so every
// subscription gets its final catch-up while it still can read.
type subscriptionSet struct {
	mu     sync.Mutex
	closed bool
	live   map[finisher]struct{}
}

// add registers f; false once the database is closing.
func (s *subscriptionSet) add(f finisher) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.live == nil {
		s.live = map[finisher]struct{}{}
	}
	s.live[f] = struct{}{}
	return true
}

func (s *subscriptionSet) remove(f finisher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, f)
}

// end runs every live subscription's final catch-up and refuses new ones.
func (s *subscriptionSet) end() {
	s.mu.Lock()
	s.closed = true
	live := s.live
	s.live = nil
	s.mu.Unlock()
	for f := range live {
		f.finish()
	}
}

// corruptEvent is the decode fault of one outbox row.
func corruptEvent(table string, id int64, column string, err error) error {
	return errCorruption(table + " event " + strconv.FormatInt(id, 10) + ": " + column + ": " + errorDetail(err))
}

// parseEventExecutionID decodes an outbox row's execution id.
func parseEventExecutionID(table string, id int64, s string) (ExecutionID, error) {
	eid, err := ParseExecutionID(s)
	if err != nil {
		return "", corruptEvent(table, id, "execution_id", err)
	}
	return eid, nil
}

var completionFamily = &eventFamily[dbgen.CompletionEventListAfterRow, CompletionEvent]{
	op:    "subscribe_completion",
	topic: topicCompletion,
	maxID: func(ctx context.Context, q *dbgen.Queries) (int64, error) { return q.CompletionEventMaxID(ctx) },
	list: func(ctx context.Context, q *dbgen.Queries, after, limit int64) ([]dbgen.CompletionEventListAfterRow, error) {
		return q.CompletionEventListAfter(ctx, dbgen.CompletionEventListAfterParams{AfterID: after, MaxRows: limit})
	},
	key: func(r dbgen.CompletionEventListAfterRow) (int64, sql.NullString, sql.NullString) {
		return r.EventID, r.Namespace, r.InstanceTag
	},
	decode: func(_ *database, r dbgen.CompletionEventListAfterRow) (CompletionEvent, bool, error) {
		eid, err := parseEventExecutionID("completion", r.EventID, r.ExecutionID)
		if err != nil {
			return CompletionEvent{}, false, err
		}
		outcome := CompletionOutcome(r.Outcome)
		if r.Outcome == "failed" {
			// The stored vocabulary says "failed"; the event says failure.
			outcome = CompletionFailure
		}
		return CompletionEvent{
			At: fromMS(r.OccurredAtMs), Cursor: NewEventCursor(r.EventID), ExecutionID: eid,
			Outcome: outcome, RawOutcome: r.Outcome,
		}, true, nil
	},
}

var leaseFamily = &eventFamily[dbgen.LeaseEventListAfterRow, LeaseHistoryEvent]{
	op:    "subscribe_lease_history",
	topic: topicLeaseHistory,
	maxID: func(ctx context.Context, q *dbgen.Queries) (int64, error) { return q.LeaseEventMaxID(ctx) },
	list: func(ctx context.Context, q *dbgen.Queries, after, limit int64) ([]dbgen.LeaseEventListAfterRow, error) {
		return q.LeaseEventListAfter(ctx, dbgen.LeaseEventListAfterParams{AfterID: after, MaxRows: limit})
	},
	key: func(r dbgen.LeaseEventListAfterRow) (int64, sql.NullString, sql.NullString) {
		return r.EventID, r.Namespace, r.InstanceTag
	},
	decode: func(db *database, r dbgen.LeaseEventListAfterRow) (LeaseHistoryEvent, bool, error) {
		kind := LeaseEventKind(r.EventType)
		switch kind {
		case LeaseAcquired, LeaseExpired, LeaseReclaimed, LeaseRenewed, LeaseRevoked:
		default:
			// A kind this version does not know (a newer writer): skip it,
			// the cursor has moved past it (spec 05 §D.7).
			db.log.Warn("subscribe_lease_history: skipping lease event of unknown type", "event_id", r.EventID, "event_type", r.EventType)
			return LeaseHistoryEvent{}, false, nil
		}
		eid, err := parseEventExecutionID("lease", r.EventID, r.ExecutionID)
		if err != nil {
			return LeaseHistoryEvent{}, false, err
		}
		leaseID, err := ParseLeaseID(r.LeaseID)
		if err != nil {
			return LeaseHistoryEvent{}, false, corruptEvent("lease", r.EventID, "lease_id", err)
		}
		ev := LeaseHistoryEvent{
			At: fromMS(r.OccurredAtMs), Cursor: NewEventCursor(r.EventID), ExecutionID: eid,
			Kind: kind, LeaseID: leaseID, WorkerInstanceID: WorkerInstanceID(r.WorkerInstanceID),
		}
		if kind == LeaseRevoked {
			ev.RevokedBy = "operator" // the original's value for every revoke
		}
		return ev, true, nil
	},
}

var signalFamily = &eventFamily[dbgen.FfSignalEvent, SignalDeliveryEvent]{
	op:    "subscribe_signal_delivery",
	topic: topicSignalDelivery,
	maxID: func(ctx context.Context, q *dbgen.Queries) (int64, error) { return q.SignalEventMaxID(ctx) },
	list: func(ctx context.Context, q *dbgen.Queries, after, limit int64) ([]dbgen.FfSignalEvent, error) {
		return q.SignalEventListAfter(ctx, dbgen.SignalEventListAfterParams{AfterID: after, MaxRows: limit})
	},
	key: func(r dbgen.FfSignalEvent) (int64, sql.NullString, sql.NullString) {
		return r.EventID, r.Namespace, r.InstanceTag
	},
	decode: func(_ *database, r dbgen.FfSignalEvent) (SignalDeliveryEvent, bool, error) {
		eid, err := parseEventExecutionID("signal", r.EventID, r.ExecutionID)
		if err != nil {
			return SignalDeliveryEvent{}, false, err
		}
		sid, err := ParseSignalID(r.SignalID)
		if err != nil {
			return SignalDeliveryEvent{}, false, corruptEvent("signal", r.EventID, "signal_id", err)
		}
		var wp WaitpointID
		if r.WaitpointID.Valid {
			if wp, err = ParseWaitpointID(r.WaitpointID.String); err != nil {
				return SignalDeliveryEvent{}, false, corruptEvent("signal", r.EventID, "waitpoint_id", err)
			}
		}
		effect := SignalDeliveryEffect(r.Effect)
		if effect == "" {
			effect = SignalSatisfied // the original persists no effect
		}
		return SignalDeliveryEvent{
			At: fromMS(r.DeliveredAtMs), Cursor: NewEventCursor(r.EventID), Effect: effect,
			ExecutionID: eid, SignalID: sid, SourceIdentity: r.SourceIdentity.String, WaitpointID: wp,
		}, true, nil
	},
}
