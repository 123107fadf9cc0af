package harness

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// CycleRow is one system's result for one worker layout of S1 or S5.
type CycleRow struct {
	System string `json:"system"`
	// Workers is the total worker count; Sets and PerSet describe routed
	// runs (Sets 0 = unrouted).
	Workers int `json:"workers"`
	Sets    int `json:"sets,omitempty"`
	PerSet  int `json:"per_set,omitempty"`
	N       int `json:"n"`
	// SubmitSeconds is the time to submit all N jobs one by one from one
	// goroutine; DrainSeconds the time for the workers to claim and
	// complete all of them.
	SubmitSeconds float64 `json:"submit_seconds"`
	DrainSeconds  float64 `json:"drain_seconds"`
	// CyclesPerSec is N / (SubmitSeconds + DrainSeconds): whole
	// submit→claim→complete cycles per second.
	CyclesPerSec float64 `json:"cycles_per_sec"`
	SubmitPerSec float64 `json:"submit_per_sec"`
	DrainPerSec  float64 `json:"claim_complete_per_sec"`
	// RatioToFF is CyclesPerSec divided by ffsqlite's at the same layout.
	RatioToFF float64 `json:"ratio_to_ffsqlite"`
	// ClaimToComplete is claim start → completion durable, per job, as
	// seen by the worker; CreateToCompleted is submit start → completion.
	ClaimToComplete   Percentiles `json:"claim_to_complete_ms"`
	CreateToCompleted Percentiles `json:"create_to_completed_ms"`
	// CPUPerCycleUS is the process CPU time (user + system, all
	// goroutines) of the submit and drain phases per job, in µs.
	CPUPerCycleUS float64 `json:"cpu_us_per_cycle"`
	Error         string  `json:"error,omitempty"`
}

// Factory makes a fresh System value for one run.
type Factory func() System

// RunCycle opens sys on a fresh file in dir, submits n jobs (round robin
// over plan.Sets capability sets) from one goroutine, then works all of
// them per plan, and checks that every job was completed exactly once.
func RunCycle(ctx context.Context, dir, label string, sys System, n int, plan Plan) (row CycleRow, err error) {
	row = CycleRow{System: sys.Name(), Workers: plan.Workers(), N: n}
	if plan.Sets > 0 {
		row.Sets, row.PerSet = plan.Sets, plan.PerSet
	}
	path := dbPath(dir, label)
	removeDB(path)
	defer removeDB(path)
	if err := sys.Open(ctx, path, plan.Sets); err != nil {
		return row, fmt.Errorf("%s open: %w", sys.Name(), err)
	}
	defer func() {
		if cerr := sys.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s close: %w", sys.Name(), cerr)
		}
	}()

	ids := make([]string, n)
	created := make([]time.Time, n)
	cpu0 := processCPU()
	start := time.Now()
	for i := range n {
		set := Unrouted
		if plan.Sets > 0 {
			set = i % plan.Sets
		}
		created[i] = time.Now()
		if ids[i], err = sys.Submit(ctx, set); err != nil {
			return row, fmt.Errorf("%s submit %d: %w", sys.Name(), i, err)
		}
	}
	submitted := time.Now()
	done, err := sys.Work(ctx, plan)
	drained := time.Now()
	cpu := processCPU() - cpu0
	if err != nil {
		return row, fmt.Errorf("%s work: %w", sys.Name(), err)
	}

	createdAt := make(map[string]time.Time, n)
	for i, id := range ids {
		createdAt[id] = created[i]
	}
	if len(done) != n {
		return row, fmt.Errorf("%s: %d of %d jobs completed", sys.Name(), len(done), n)
	}
	claimLat := make([]time.Duration, 0, n)
	endLat := make([]time.Duration, 0, n)
	for _, c := range done {
		at, ok := createdAt[c.ID]
		if !ok {
			return row, fmt.Errorf("%s: completed unknown or repeated job %q", sys.Name(), c.ID)
		}
		delete(createdAt, c.ID)
		claimLat = append(claimLat, c.DoneAt.Sub(c.ClaimedAt))
		endLat = append(endLat, c.DoneAt.Sub(at))
	}
	submitDur, drainDur := submitted.Sub(start), drained.Sub(submitted)
	row.SubmitSeconds, row.DrainSeconds = submitDur.Seconds(), drainDur.Seconds()
	row.SubmitPerSec = perSec(n, submitDur)
	row.DrainPerSec = perSec(n, drainDur)
	row.CyclesPerSec = perSec(n, drained.Sub(start))
	row.ClaimToComplete = percentiles(claimLat)
	row.CreateToCompleted = percentiles(endLat)
	row.CPUPerCycleUS = float64(cpu) / float64(time.Microsecond) / float64(n)
	return row, nil
}

// GrowthRow is one fixture of the growth scenario: claim+complete cycles
// run by one worker against a lane that already holds Queued jobs, with
// Finished completed jobs in the database.
type GrowthRow struct {
	System   string `json:"system"`
	Fixture  string `json:"fixture"`
	Queued   int    `json:"queued"`
	Finished int    `json:"finished"`
	// BuildSeconds is how long the fixture took to build (for ffsqlite:
	// CreateExecution calls, and Claim+Complete for the finished rows).
	BuildSeconds float64 `json:"build_seconds"`
	// BuildNote says how the fixture was built.
	BuildNote       string      `json:"build_note"`
	Cycles          int         `json:"cycles"`
	CyclesPerSec    float64     `json:"cycles_per_sec"`
	ClaimToComplete Percentiles `json:"claim_to_complete_ms"`
	// P50Ratio and P99Ratio compare with the system's baseline fixture.
	P50Ratio float64 `json:"p50_ratio_to_baseline"`
	P99Ratio float64 `json:"p99_ratio_to_baseline"`
	Error    string  `json:"error,omitempty"`
}

// GrowthConfig sizes the growth scenario.
type GrowthConfig struct {
	Small  int // baseline queued jobs (10,000)
	Big    int // large queued / finished fixture
	Cycles int // measured claim+complete cycles per fixture
	// BuildWorkers is the number of goroutines submitting the fixtures.
	BuildWorkers int
	// DrainWorkers is the number of workers completing the large backlog
	// to turn it into finished rows.
	DrainWorkers int
	// Progress, when non-nil, receives build progress lines.
	Progress func(format string, args ...any)
}

// measureCycles runs cfg.Cycles claim+complete cycles with one worker and
// fills row's measurements.
func measureCycles(ctx context.Context, sys System, cycles int, row *GrowthRow) error {
	start := time.Now()
	done, err := sys.Work(ctx, Plan{PerSet: 1, Limit: cycles})
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	if len(done) != cycles {
		return fmt.Errorf("%d of %d cycles completed", len(done), cycles)
	}
	lat := make([]time.Duration, len(done))
	for i, c := range done {
		lat[i] = c.DoneAt.Sub(c.ClaimedAt)
	}
	row.Cycles = cycles
	row.CyclesPerSec = perSec(cycles, elapsed)
	row.ClaimToComplete = percentiles(lat)
	return nil
}

// submitMany submits count unrouted jobs from conc goroutines.
func submitMany(ctx context.Context, sys System, count, conc int, progress func(string, ...any)) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	step := int64(max(count/10, 1))
	for range max(conc, 1) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(count) {
					return
				}
				if _, err := sys.Submit(ctx, Unrouted); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				if progress != nil && i%step == 0 {
					progress("  submitted %d/%d", i, count)
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// RunGrowthFF measures ffsqlite on three fixtures: cfg.Small queued (the
// baseline), cfg.Big queued, and cfg.Big finished plus cfg.Small queued.
// The big fixtures share one file: after measuring with cfg.Big queued,
// the rest of the backlog is completed (that is how ffsqlite's finished
// rows come to exist) and cfg.Small new jobs are submitted.
func RunGrowthFF(ctx context.Context, dir string, newFF Factory, cfg GrowthConfig) ([]GrowthRow, error) {
	logf := cfg.Progress
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var rows []GrowthRow

	// Baseline.
	base := GrowthRow{System: "ffsqlite", Fixture: fmt.Sprintf("%d queued", cfg.Small), Queued: cfg.Small}
	if err := func() error {
		sys := newFF()
		path := dbPath(dir, "growth-ffsqlite-small")
		removeDB(path)
		defer removeDB(path)
		if err := sys.Open(ctx, path, 0); err != nil {
			return err
		}
		defer sys.Close()
		t := time.Now()
		if err := submitMany(ctx, sys, cfg.Small, cfg.BuildWorkers, nil); err != nil {
			return err
		}
		base.BuildSeconds = time.Since(t).Seconds()
		base.BuildNote = fmt.Sprintf("CreateExecution ×%d from %d goroutines", cfg.Small, cfg.BuildWorkers)
		return measureCycles(ctx, sys, cfg.Cycles, &base)
	}(); err != nil {
		return nil, fmt.Errorf("growth baseline: %w", err)
	}
	base.P50Ratio, base.P99Ratio = 1, 1
	rows = append(rows, base)

	big := GrowthRow{System: "ffsqlite", Fixture: fmt.Sprintf("%d queued", cfg.Big), Queued: cfg.Big}
	fin := GrowthRow{System: "ffsqlite", Fixture: fmt.Sprintf("%d finished + %d queued", cfg.Big, cfg.Small),
		Queued: cfg.Small, Finished: cfg.Big}
	err := func() error {
		sys := newFF()
		path := dbPath(dir, "growth-ffsqlite-big")
		removeDB(path)
		defer removeDB(path)
		if err := sys.Open(ctx, path, 0); err != nil {
			return err
		}
		defer sys.Close()
		logf("growth: submitting %d ffsqlite executions", cfg.Big)
		t := time.Now()
		if err := submitMany(ctx, sys, cfg.Big, cfg.BuildWorkers, logf); err != nil {
			return err
		}
		big.BuildSeconds = time.Since(t).Seconds()
		big.BuildNote = fmt.Sprintf("CreateExecution ×%d from %d goroutines: %.0f/s",
			cfg.Big, cfg.BuildWorkers, perSec(cfg.Big, time.Since(t)))
		if err := measureCycles(ctx, sys, cfg.Cycles, &big); err != nil {
			return err
		}

		logf("growth: completing the remaining %d executions", cfg.Big-cfg.Cycles)
		t2 := time.Now()
		done, err := sys.Work(ctx, Plan{PerSet: max(cfg.DrainWorkers, 1)})
		if err != nil {
			return err
		}
		drain := time.Since(t2)
		if len(done) != cfg.Big-cfg.Cycles {
			return fmt.Errorf("drained %d of %d", len(done), cfg.Big-cfg.Cycles)
		}
		t3 := time.Now()
		if err := submitMany(ctx, sys, cfg.Small, cfg.BuildWorkers, nil); err != nil {
			return err
		}
		fin.BuildSeconds = big.BuildSeconds + drain.Seconds() + time.Since(t3).Seconds()
		fin.BuildNote = fmt.Sprintf("the %d-queued file after Claim+Complete of its whole backlog by %d workers (%.1f s, %.0f/s), then %d new executions",
			cfg.Big, max(cfg.DrainWorkers, 1), drain.Seconds(), perSec(len(done), drain), cfg.Small)
		return measureCycles(ctx, sys, cfg.Cycles, &fin)
	}()
	if err != nil {
		return rows, fmt.Errorf("growth big: %w", err)
	}
	for _, r := range []*GrowthRow{&big, &fin} {
		r.P50Ratio = ratio(r.ClaimToComplete.P50, base.ClaimToComplete.P50)
		r.P99Ratio = ratio(r.ClaimToComplete.P99, base.ClaimToComplete.P99)
	}
	return append(rows, big, fin), nil
}

// RunGrowthRaw measures the raw floor on the same three fixtures, each
// bulk-loaded with one INSERT … SELECT per state into a fresh file.
func RunGrowthRaw(ctx context.Context, dir string, cfg GrowthConfig) ([]GrowthRow, error) {
	fixtures := []GrowthRow{
		{System: "raw-sqlite", Fixture: fmt.Sprintf("%d queued", cfg.Small), Queued: cfg.Small},
		{System: "raw-sqlite", Fixture: fmt.Sprintf("%d queued", cfg.Big), Queued: cfg.Big},
		{System: "raw-sqlite", Fixture: fmt.Sprintf("%d finished + %d queued", cfg.Big, cfg.Small), Queued: cfg.Small, Finished: cfg.Big},
	}
	for i := range fixtures {
		r := &fixtures[i]
		err := func() error {
			sys := &Raw{}
			path := dbPath(dir, fmt.Sprintf("growth-raw-%d", i))
			removeDB(path)
			defer removeDB(path)
			if err := sys.Open(ctx, path, 0); err != nil {
				return err
			}
			defer sys.Close()
			t := time.Now()
			if err := sys.seed(ctx, r.Queued, r.Finished, Unrouted); err != nil {
				return err
			}
			r.BuildSeconds = time.Since(t).Seconds()
			r.BuildNote = "bulk INSERT … SELECT (no API)"
			return measureCycles(ctx, sys, cfg.Cycles, r)
		}()
		if err != nil {
			return nil, fmt.Errorf("raw growth %s: %w", r.Fixture, err)
		}
	}
	for i := range fixtures {
		fixtures[i].P50Ratio = ratio(fixtures[i].ClaimToComplete.P50, fixtures[0].ClaimToComplete.P50)
		fixtures[i].P99Ratio = ratio(fixtures[i].ClaimToComplete.P99, fixtures[0].ClaimToComplete.P99)
	}
	return fixtures, nil
}
