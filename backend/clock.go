package backend

import "time"

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
	panic("unimplemented")
}

// FakeClockStartDefault is where NewFakeClock starts when given the zero time.
var FakeClockStartDefault = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// FakeClock is a manually driven Clock for tests. It is safe for concurrent
// use. Time only moves when Advance or Set is called.
type FakeClock struct {
	// unexported fields
}

// NewFakeClock returns a FakeClock reading start (FakeClockStartDefault when
// start is the zero time). Use a UTC time on a whole millisecond so values
// read back from the database compare equal.
func NewFakeClock(start time.Time) *FakeClock {
	panic("unimplemented")
}

// Now returns the current fake time.
func (c *FakeClock) Now() time.Time {
	panic("unimplemented")
}

// Advance moves the clock forward by d and returns the new time.
func (c *FakeClock) Advance(d time.Duration) time.Time {
	panic("unimplemented")
}

// Set moves the clock to t (backwards is allowed).
func (c *FakeClock) Set(t time.Time) {
	panic("unimplemented")
}
