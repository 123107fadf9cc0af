package backend

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestFakeClock(t *testing.T) {
	t.Parallel()

	c := NewFakeClock(time.Time{})
	if got := c.Now(); !got.Equal(FakeClockStartDefault) || got.Location() != time.UTC {
		t.Fatalf("zero start: Now = %v, want %v", got, FakeClockStartDefault)
	}
	if got, want := c.Advance(1500*time.Millisecond), FakeClockStartDefault.Add(1500*time.Millisecond); !got.Equal(want) || !c.Now().Equal(want) {
		t.Fatalf("Advance = %v, Now = %v, want %v", got, c.Now(), want)
	}
	back := FakeClockStartDefault.Add(-time.Hour)
	c.Set(back)
	if !c.Now().Equal(back) {
		t.Fatalf("Set backwards: Now = %v, want %v", c.Now(), back)
	}

	start := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	if got := NewFakeClock(start).Now(); !got.Equal(start) {
		t.Fatalf("NewFakeClock(start).Now = %v", got)
	}

	// Time moves only when told to.
	c2 := NewFakeClock(start)
	first := c2.Now()
	if !c2.Now().Equal(first) {
		t.Fatal("FakeClock moved by itself")
	}
}

func TestFakeClockConcurrent(t *testing.T) {
	t.Parallel()

	c := NewFakeClock(time.Time{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			c.Advance(time.Millisecond)
			_ = c.Now()
		})
	}
	wg.Wait()
	if got, want := c.Now(), FakeClockStartDefault.Add(50*time.Millisecond); !got.Equal(want) {
		t.Fatalf("Now = %v, want %v", got, want)
	}
}

func TestSystemClock(t *testing.T) {
	t.Parallel()

	before := time.Now()
	got := SystemClock{}.Now()
	after := time.Now()
	if got.Before(before) || got.After(after) {
		t.Fatalf("SystemClock.Now = %v, not within [%v, %v]", got, before, after)
	}
}

func TestMillisecondHelpers(t *testing.T) {
	t.Parallel()

	c := NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	const startMS = int64(1735689600000)
	if got := nowMS(c); got != startMS {
		t.Fatalf("nowMS = %d, want %d", got, startMS)
	}
	c.Advance(1234567 * time.Microsecond) // 1234.567 ms
	if got := nowMS(c); got != startMS+1234 {
		t.Fatalf("nowMS after advance = %d, want %d", got, startMS+1234)
	}
	if got := nowMS(nil); got < time.Now().Add(-time.Minute).UnixMilli() || got > time.Now().UnixMilli() {
		t.Fatalf("nowMS(nil) = %d, not the system clock", got)
	}
	explicit := time.Date(2024, 2, 29, 1, 2, 3, 4_999_999, time.FixedZone("X", 3600))

	got := fromMS(1709164923004)
	want := time.Date(2024, 2, 29, 0, 2, 3, 4_000_000, time.UTC)
	if !got.Equal(want) || got.Location() != time.UTC || got != want {
		t.Fatalf("fromMS = %#v, want %#v", got, want)
	}
	if toMS(explicit) != 1709164923004 || toMS(fromMS(-1)) != -1 {
		t.Fatalf("toMS mismatch: %d", toMS(explicit))
	}

	if nullMS(time.Time{}).Valid {
		t.Fatal("nullMS(zero) is not NULL")
	}
	if n := nullMS(want); !n.Valid || n.Int64 != 1709164923004 {
		t.Fatalf("nullMS = %v", n)
	}

	if durationToMS(1999*time.Microsecond) != 1 || durationToMS(-2*time.Second) != -2000 {
		t.Fatal("durationToMS")
	}
	if msToDuration(1500) != 1500*time.Millisecond || msToDuration(math.MaxInt64) != time.Duration(math.MaxInt64) || msToDuration(math.MinInt64) != time.Duration(math.MinInt64) {
		t.Fatal("msToDuration")
	}
}
