// Command ffbench measures ffsqlite side by side with a raw-SQLite floor,
// River (riversqlite) and goqite in one run on one machine, prints one
// markdown table per scenario and writes the same numbers as JSON under
// -results. System "ffsqlite" claims and completes with two calls per job;
// "ffsqlite-chained" completes with CompleteAndClaim, which claims the
// worker's next job in the same transaction (the worker package's path).
//
// Scenarios:
//   - s1: N jobs submitted one by one, then W workers claim and complete
//     them (each W in -workers, fresh file per system and W).
//   - s5: the same with N jobs routed round robin to -sets capability sets
//     and -per-set workers per set, each worker taking only its set.
//   - growth: ffsqlite (and the raw floor) claim+complete latency with
//     -growth-small vs -growth-big jobs queued, and with -growth-big
//     finished jobs present.
//   - s2 (ffsqlite only): -s2-n executions claimed, suspended on a fresh
//     waitpoint, signalled from another goroutine, claimed resumed and
//     completed; round-trip latency and throughput.
//   - s4 (ffsqlite only): -s4-flows linear flows of -s4-nodes members,
//     each built and worked by one of R runners, for each R in
//     -s4-runners; flows/s and per-flow latency.
//   - s6 (ffsqlite only): quorum(1, cancel_remaining) over n upstreams for
//     each n in -s6-n; latency of the Complete that cancels the rest.
//
// Usage (FF_DEV_MODE=1 is required by ffsqlite):
//
//	FF_DEV_MODE=1 go run ./cmd/ffbench [-n 10000] [-growth-big 1000000] [-cpuprofile ff.pprof]
//	FF_DEV_MODE=1 go run ./cmd/ffbench -scenarios s2,s4,s6
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowfabric/ffsqlite/bench/harness"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("ffbench: ")
	var (
		n             = flag.Int("n", 10_000, "jobs per S1/S5 run")
		workersFlag   = flag.String("workers", "1,4,16", "S1 worker counts, comma-separated")
		sets          = flag.Int("sets", 10, "S5 capability sets")
		perSetFlag    = flag.String("per-set", "1,2", "S5 workers per capability set, comma-separated")
		systemsFlag   = flag.String("systems", "ffsqlite,ffsqlite-chained,raw-sqlite,river,goqite", "systems for S1/S5, comma-separated")
		scenarios     = flag.String("scenarios", "s1,s5,growth,s2,s4,s6,sb", "scenarios to run, comma-separated")
		growthSmall   = flag.Int("growth-small", 10_000, "growth baseline: jobs queued")
		growthBig     = flag.Int("growth-big", 50_000, "growth: large backlog (queued, then finished); the issue's figure is 1000000 (about an hour at current speed)")
		growthCycles  = flag.Int("growth-cycles", 2_000, "growth: claim+complete cycles measured per fixture")
		growthConc    = flag.Int("growth-build-workers", 4, "growth: goroutines submitting the fixtures")
		growthDrain   = flag.Int("growth-drain-workers", 1, "growth: workers completing the large backlog into finished rows")
		s2N           = flag.Int("s2-n", 1_000, "S2: executions suspended and resumed")
		s2Pipes       = flag.Int("s2-pipelines", 1, "S2: concurrent worker → signaller → resumer pipelines")
		s4Flows       = flag.Int("s4-flows", 500, "S4: linear flows per mode (a 100-flow run lasts half a second: warm-up and one checkpoint decide it)")
		s4Nodes       = flag.Int("s4-nodes", 10, "S4: members per flow")
		s4RunnersFlag = flag.String("s4-runners", "4,16", "S4: concurrent flow runner counts, comma-separated (each mode runs once per count)")
		s4ModesFlag   = flag.String("s4-modes", "calls,buildflow,chained", "S4: how flows are built and worked, comma-separated: calls (one method call per member and edge; Claim and Complete per member), buildflow (one BuildFlow call; Claim and Complete per member), chained (BuildFlow; CompleteAndClaim per member)")
		s6NFlag       = flag.String("s6-n", "10,100,1000", "S6: upstream counts, comma-separated")
		s6Reps        = flag.Int("s6-reps", 100, "S6: repetitions per n (a tenth, at least 3, for n ≥ 1000)")
		sbN           = flag.Int("sb-n", 100_000, "SB: executions created through CreateExecutions")
		sbBatch       = flag.Int("sb-batch", 1_000, "SB: executions per CreateExecutions call")
		riverCool     = flag.Duration("river-fetch-cooldown", time.Millisecond, "River FetchCooldown (River's default is 100ms)")
		riverPoll     = flag.Duration("river-fetch-poll", 50*time.Millisecond, "River FetchPollInterval (River's default is 1s)")
		riverConns    = flag.Int("river-conns", 1, "River pool size (riversqlite recommends 1)")
		dirFlag       = flag.String("dir", "", "directory for the database files (default: a new temp dir)")
		resultsDir    = flag.String("results", "results", "directory for the JSON results")
		cpuProfile    = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (add -systems ffsqlite to profile ffsqlite alone)")
		runTimeout    = flag.Duration("run-timeout", 5*time.Minute, "timeout of each single run")
	)
	flag.Parse()

	workers, err := intList(*workersFlag)
	if err != nil {
		log.Fatalf("-workers: %v", err)
	}
	perSet, err := intList(*perSetFlag)
	if err != nil {
		log.Fatalf("-per-set: %v", err)
	}
	s4Runners, err := intList(*s4RunnersFlag)
	if err != nil {
		log.Fatalf("-s4-runners: %v", err)
	}
	s6N, err := intList(*s6NFlag)
	if err != nil {
		log.Fatalf("-s6-n: %v", err)
	}
	systems := strings.Split(*systemsFlag, ",")
	factories := map[string]harness.Factory{
		"ffsqlite":         func() harness.System { return &harness.FFSQLite{} },
		"ffsqlite-chained": func() harness.System { return &harness.FFSQLiteChained{} },
		"raw-sqlite":       func() harness.System { return &harness.Raw{} },
		"river": func() harness.System {
			return &harness.River{FetchCooldown: *riverCool, FetchPollInterval: *riverPoll, MaxConns: *riverConns}
		},
		"goqite": func() harness.System { return &harness.Goqite{} },
	}
	for _, s := range systems {
		if factories[s] == nil {
			log.Fatalf("unknown system %q", s)
		}
	}
	want := strings.Split(*scenarios, ",")

	dir := *dirFlag
	cleanup := func() {}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "ffbench-"); err != nil {
			log.Fatal(err)
		}
		cleanup = func() { os.RemoveAll(dir) }
	}

	report := &harness.Report{Meta: meta()}
	report.Meta.Settings = map[string]string{
		"n": strconv.Itoa(*n), "workers": *workersFlag, "sets": strconv.Itoa(*sets), "per_set": *perSetFlag,
		"growth_small": strconv.Itoa(*growthSmall), "growth_big": strconv.Itoa(*growthBig),
		"growth_cycles": strconv.Itoa(*growthCycles), "growth_build_workers": strconv.Itoa(*growthConc), "growth_drain_workers": strconv.Itoa(*growthDrain),
		"river_fetch_cooldown": riverCool.String(), "river_fetch_poll_interval": riverPoll.String(),
		"river_pool_conns": strconv.Itoa(*riverConns), "goqite_pool_conns": "1", "raw_pool_conns": "1",
		"ffsqlite_pool": "1 writer + 4 readers (default), no scanners",
		"s2_n":          strconv.Itoa(*s2N), "s2_pipelines": strconv.Itoa(*s2Pipes),
		"s4_flows": strconv.Itoa(*s4Flows), "s4_nodes": strconv.Itoa(*s4Nodes), "s4_runners": *s4RunnersFlag, "s4_modes": *s4ModesFlag,
		"s6_n": *s6NFlag, "s6_reps": strconv.Itoa(*s6Reps),
		"sb_n": strconv.Itoa(*sbN), "sb_batch": strconv.Itoa(*sbBatch),
	}
	ctx := context.Background()

	// One CPU profile covers the whole run, database opens and fixture
	// builds included; -systems ffsqlite keeps the peers out of it.
	stopProfile := func() {}
	if *cpuProfile != "" {
		prof, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(prof); err != nil {
			log.Fatal(err)
		}
		stopProfile = func() {
			pprof.StopCPUProfile()
			if err := prof.Close(); err != nil {
				log.Printf("CPU profile: %v", err)
				return
			}
			log.Printf("CPU profile written to %s", *cpuProfile)
		}
	}

	cycle := func(scenario string, sys string, plan harness.Plan) harness.CycleRow {
		label := fmt.Sprintf("%s-%s-%dx%d", scenario, sys, max(plan.Sets, 1), plan.PerSet)
		log.Printf("%s: %s, %d workers", scenario, sys, plan.Workers())
		rctx, cancel := context.WithTimeout(ctx, *runTimeout)
		defer cancel()
		row, err := harness.RunCycle(rctx, dir, label, factories[sys](), *n, plan)
		if err != nil {
			log.Printf("  error: %v", err)
			row.Error = err.Error()
			report.Errors = append(report.Errors, fmt.Sprintf("%s %s W=%d: %v", scenario, sys, plan.Workers(), err))
		} else {
			log.Printf("  %.0f cycles/s (submit %.0f/s, claim+complete %.0f/s)", row.CyclesPerSec, row.SubmitPerSec, row.DrainPerSec)
		}
		return row
	}

	if slices.Contains(want, "s1") {
		for _, sys := range systems {
			for _, w := range workers {
				report.S1 = append(report.S1, cycle("s1", sys, harness.Plan{PerSet: w}))
			}
		}
		harness.FillRatios(report.S1)
	}
	if slices.Contains(want, "s5") {
		for _, sys := range systems {
			for _, p := range perSet {
				report.S5 = append(report.S5, cycle("s5", sys, harness.Plan{Sets: *sets, PerSet: p}))
			}
		}
		harness.FillRatios(report.S5)
	}
	if slices.Contains(want, "growth") {
		cfg := harness.GrowthConfig{
			Small: *growthSmall, Big: *growthBig, Cycles: *growthCycles, BuildWorkers: *growthConc, DrainWorkers: *growthDrain,
			Progress: func(format string, args ...any) { log.Printf(format, args...) },
		}
		gctx, cancel := context.WithTimeout(ctx, 6**runTimeout)
		if slices.Contains(systems, "ffsqlite") {
			log.Printf("growth: ffsqlite")
			rows, err := harness.RunGrowthFF(gctx, dir, factories["ffsqlite"], cfg)
			if err != nil {
				log.Printf("  error: %v", err)
				report.Errors = append(report.Errors, fmt.Sprintf("growth ffsqlite: %v", err))
			}
			report.Growth = append(report.Growth, rows...)
		}
		if slices.Contains(systems, "raw-sqlite") {
			log.Printf("growth: raw-sqlite")
			rows, err := harness.RunGrowthRaw(gctx, dir, cfg)
			if err != nil {
				log.Printf("  error: %v", err)
				report.Errors = append(report.Errors, fmt.Sprintf("growth raw-sqlite: %v", err))
			}
			report.Growth = append(report.Growth, rows...)
		}
		cancel()
	}

	// ffOnly runs one ffsqlite-only scenario under -run-timeout and logs
	// and records its error; it returns the error text ("" on success).
	ffOnly := func(name string, run func(ctx context.Context) (string, error)) string {
		rctx, cancel := context.WithTimeout(ctx, *runTimeout)
		defer cancel()
		log.Printf("%s: ffsqlite", name)
		summary, err := run(rctx)
		if err != nil {
			log.Printf("  error: %v", err)
			report.Errors = append(report.Errors, fmt.Sprintf("%s ffsqlite: %v", name, err))
			return err.Error()
		}
		log.Printf("  %s", summary)
		return ""
	}
	if slices.Contains(want, "s2") {
		var row harness.S2Row
		row.Error = ffOnly("s2", func(ctx context.Context) (string, error) {
			var err error
			row, err = harness.RunS2(ctx, dir, *s2N, *s2Pipes)
			return fmt.Sprintf("%.0f round trips/s, p50 %.2f ms", row.RoundTripsPerSec, row.RoundTrip.P50), err
		})
		report.S2 = append(report.S2, row)
	}
	if slices.Contains(want, "s4") {
		for _, mode := range strings.Split(*s4ModesFlag, ",") {
			for _, runners := range s4Runners {
				var row harness.S4Row
				row.Error = ffOnly(fmt.Sprintf("s4 %s runners=%d", mode, runners), func(ctx context.Context) (string, error) {
					var err error
					row, err = harness.RunS4(ctx, dir, mode, *s4Flows, *s4Nodes, runners)
					return fmt.Sprintf("%.0f flows/s, p50 %.2f ms", row.FlowsPerSec, row.Flow.P50), err
				})
				report.S4 = append(report.S4, row)
			}
		}
	}
	if slices.Contains(want, "s6") {
		for _, n := range s6N {
			reps := *s6Reps
			if n >= 1000 {
				reps = max(reps/10, 3)
			}
			var row harness.S6Row
			row.Error = ffOnly(fmt.Sprintf("s6 n=%d", n), func(ctx context.Context) (string, error) {
				var err error
				row, err = harness.RunS6(ctx, dir, n, reps)
				return fmt.Sprintf("Complete p50 %.2f ms, p99 %.2f ms", row.Complete.P50, row.Complete.P99), err
			})
			report.S6 = append(report.S6, row)
		}
	}
	if slices.Contains(want, "sb") {
		var row harness.SBRow
		row.Error = ffOnly("sb", func(ctx context.Context) (string, error) {
			var err error
			row, err = harness.RunSB(ctx, dir, *sbN, *sbBatch)
			return fmt.Sprintf("%.0f executions/s, batch p50 %.2f ms", row.PerSec, row.Batch.P50), err
		})
		report.SB = append(report.SB, row)
	}

	stopProfile()
	report.Meta.Seconds = time.Since(report.Meta.Started).Seconds()
	report.Meta.LoadEnd = harness.LoadAvg()
	path, err := report.WriteJSON(*resultsDir)
	if err != nil {
		log.Printf("writing JSON: %v", err)
	}
	report.WriteMarkdown(os.Stdout)
	fmt.Printf("JSON: %s (%.0f s total)\n", path, report.Meta.Seconds)
	cleanup()
	if len(report.Errors) > 0 {
		os.Exit(1)
	}
}

// intList parses "1,4,16".
func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// meta records the machine, toolchain and module versions of this run.
func meta() harness.Meta {
	m := harness.Meta{
		Started:    time.Now(),
		Command:    strings.Join(os.Args, " "),
		GoVersion:  runtime.Version(),
		GOOS:       runtime.GOOS,
		GOARCH:     runtime.GOARCH,
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Modules:    map[string]string{},
		LoadStart:  harness.LoadAvg(),
		Source:     source(),
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/riverqueue/river", "github.com/riverqueue/river/riverdriver/riversqlite",
				"maragu.dev/goqite", "modernc.org/sqlite", "github.com/flowfabric/ffsqlite":
				m.Modules[d.Path] = d.Version
			}
		}
	}
	return m
}

// source names the ffsqlite commit in the parent directory (the replace
// target), with "+dirty" when the library's files have uncommitted
// changes; "" when git is unavailable.
func source() string {
	head, err := exec.Command("git", "-C", "..", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(head))
	status, err := exec.Command("git", "-C", "..", "status", "--porcelain", "--",
		"backend", "dbgen", "queries", "migrations", "scanners").Output()
	if err == nil && len(strings.TrimSpace(string(status))) > 0 {
		s += "+dirty"
	}
	return s
}
