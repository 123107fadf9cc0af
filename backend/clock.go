package backend

import (
	"database/sql"
	"math"
	"sync"
	"time"
)

// Clock supplies "now" for every timestamp the backend writes to or compares
// against the database (creation times, lease expiry, delays, backoff,
// suspension timeouts, budget resets, event times). Waiting is not governed
// by the Clock: TailStream's block, ClaimPolicy.MaxWait, Next on a
// subscription, scanner cadences and ShutdownPrepare's grace use real time.
type Clock interface {
	Now() time.Time
}

// SystemClock is the default Clock: time.Now.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time {
	return time.Now()
}

// FakeClockStartDefault is where NewFakeClock starts when given the zero time.
var FakeClockStartDefault = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// FakeClock is a manually driven Clock for tests. It is safe for concurrent
// use. Time only moves when Advance or Set is called.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a FakeClock reading start (FakeClockStartDefault when
// start is the zero time). Use a UTC time on a whole millisecond so values
// read back from the database compare equal.
func NewFakeClock(start time.Time) *FakeClock {
	if start.IsZero() {
		start = FakeClockStartDefault
	}
	return &FakeClock{now: start}
}

// Now returns the current fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *FakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Set moves the clock to t (backwards is allowed).
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Storage keeps instants as Unix milliseconds (spec 01 conventions); these
// helpers are the one place the conversion happens.

// nowMS reads c once in Unix milliseconds (a nil Clock is the system
// clock). Call it once per transaction so every row written agrees.
func nowMS(c Clock) int64 {
	if c == nil {
		c = SystemClock{}
	}
	return toMS(c.Now())
}

// toMS converts t to Unix milliseconds, dropping sub-millisecond parts.
// The zero time.Time has no meaning in storage; callers map it first
// (see nullMS).
func toMS(t time.Time) int64 {
	return t.UnixMilli()
}

// fromMS converts stored Unix milliseconds to a UTC time (API §1: values
// read back are UTC and millisecond-truncated).
func fromMS(ms int64) time.Time {
	return time.UnixMilli(ms).UTC()
}

// nullMS maps an optional instant to a nullable column: the zero time is
// NULL.
func nullMS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: toMS(t), Valid: true}
}

// durationToMS converts a length to whole milliseconds (truncating).
func durationToMS(d time.Duration) int64 {
	return d.Milliseconds()
}

// msToDuration converts stored milliseconds to a length, saturating
// instead of overflowing for absurd values.
func msToDuration(ms int64) time.Duration {
	const maxMS = math.MaxInt64 / int64(time.Millisecond)
	switch {
	case ms > maxMS:
		return time.Duration(math.MaxInt64)
	case ms < -maxMS:
		return time.Duration(math.MinInt64)
	}
	return time.Duration(ms) * time.Millisecond
}
