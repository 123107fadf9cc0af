package scanners

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestDefaultConfigEnablesEveryJob(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	seen := map[Job]bool{}
	for _, j := range Jobs() {
		if seen[j] {
			t.Fatalf("Jobs() lists %s twice", j)
		}
		seen[j] = true
		if cfg.Interval(j) <= 0 {
			t.Errorf("DefaultConfig().Interval(%s) = %v, want > 0", j, cfg.Interval(j))
		}
		if (Config{}).Interval(j) != 0 {
			t.Errorf("zero Config enables %s", j)
		}
	}
	if len(seen) != 14 {
		t.Fatalf("Jobs() has %d jobs, want 14", len(seen))
	}
	if got := (Config{BudgetResetInterval: time.Second}).Interval(JobBudgetReset); got != time.Second {
		t.Fatalf("Interval(budget_reset) = %v", got)
	}
	if got := DefaultConfig().Interval(Job("nope")); got != 0 {
		t.Fatalf("unknown job interval = %v, want 0", got)
	}
}

// countingRunner records ticks per job; a tick blocks until its context
// ends when block is set, to exercise Stop's grace.
type countingRunner struct {
	mu    sync.Mutex
	ticks map[Job]int
	block bool
}

func (r *countingRunner) RunOnce(ctx context.Context, job Job) (TickResult, error) {
	r.mu.Lock()
	r.ticks[job]++
	r.mu.Unlock()
	if r.block {
		<-ctx.Done()
	}
	return TickResult{}, nil
}

func (r *countingRunner) count(j Job) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ticks[j]
}

func TestSupervisorRunsOnlyEnabledJobsAndStops(t *testing.T) {
	t.Parallel()
	r := &countingRunner{ticks: map[Job]int{}}
	s := Start(Config{LeaseExpiryInterval: time.Millisecond}, r, nil)
	deadline := time.Now().Add(10 * time.Second)
	for r.count(JobLeaseExpiry) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("lease_expiry never ticked 3 times")
		}
		time.Sleep(time.Millisecond)
	}
	if !s.Stop(10 * time.Second) {
		t.Fatal("Stop did not drain")
	}
	after := r.count(JobLeaseExpiry)
	time.Sleep(20 * time.Millisecond)
	if r.count(JobLeaseExpiry) != after {
		t.Fatal("ticks continued after Stop")
	}
	for _, j := range Jobs() {
		if j != JobLeaseExpiry && r.count(j) != 0 {
			t.Errorf("disabled job %s ticked", j)
		}
	}
	if !s.Stop(0) {
		t.Fatal("a repeated Stop after draining must report drained")
	}
}

func TestSupervisorStopCancelsRunningTicks(t *testing.T) {
	t.Parallel()
	r := &countingRunner{ticks: map[Job]int{}, block: true}
	s := Start(Config{UnblockInterval: time.Millisecond}, r, nil)
	deadline := time.Now().Add(10 * time.Second)
	for r.count(JobUnblock) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("unblock never ticked")
		}
		time.Sleep(time.Millisecond)
	}
	// The blocked tick sees its context cancelled, so Stop drains.
	if !s.Stop(10 * time.Second) {
		t.Fatal("Stop did not drain a tick blocked on its context")
	}
}
