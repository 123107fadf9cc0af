package harness

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestSystemsSmoke runs a tiny S1 and S5 cycle on every system, checking
// that each completes every job exactly once (RunCycle verifies it).
func TestSystemsSmoke(t *testing.T) {
	if os.Getenv("FF_DEV_MODE") != "1" {
		t.Skip("FF_DEV_MODE=1 is required by ffsqlite")
	}
	factories := []Factory{
		func() System { return &FFSQLite{} },
		func() System { return &FFSQLiteChained{} },
		func() System { return &Raw{} },
		func() System {
			return &River{FetchCooldown: time.Millisecond, FetchPollInterval: 20 * time.Millisecond}
		},
		func() System { return &Goqite{} },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, f := range factories {
		for _, plan := range []Plan{{PerSet: 3}, {Sets: 3, PerSet: 2}} {
			sys := f()
			t.Run(fmt.Sprintf("%s/sets=%d", sys.Name(), plan.Sets), func(t *testing.T) {
				row, err := RunCycle(ctx, t.TempDir(), "smoke", sys, 60, plan)
				if err != nil {
					t.Fatal(err)
				}
				if row.CyclesPerSec <= 0 || row.ClaimToComplete.P99 < row.ClaimToComplete.P50 {
					t.Fatalf("implausible row %+v", row)
				}
			})
		}
	}
}

// TestGrowthSmoke runs the growth scenario at a tiny size.
func TestGrowthSmoke(t *testing.T) {
	if os.Getenv("FF_DEV_MODE") != "1" {
		t.Skip("FF_DEV_MODE=1 is required by ffsqlite")
	}
	ctx := context.Background()
	cfg := GrowthConfig{Small: 50, Big: 200, Cycles: 20, BuildWorkers: 2, DrainWorkers: 1}
	rows, err := RunGrowthFF(ctx, t.TempDir(), func() System { return &FFSQLite{} }, cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := RunGrowthRaw(ctx, t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || len(raw) != 3 {
		t.Fatalf("got %d ffsqlite and %d raw rows, want 3 each", len(rows), len(raw))
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := percentiles(ds)
	if got != (Percentiles{P50: 50, P95: 95, P99: 99}) {
		t.Fatalf("percentiles = %+v", got)
	}
}
