// Command demo runs the ffsqlite engine end to end on an embedded SQLite
// file.
//
// A producer submits executions on two lanes ("email" and "render") with
// mixed priorities, capability requirements and start delays. They are run
// by worker.Runner instances (package worker): one for the email lane and
// two for the render lane, one of them offering the "gpu" capability that
// a share of render jobs require. The handler reports progress and
// succeeds, except for a planned share that fail transiently (retried by
// the engine) or permanently; claiming, lease renewal, Complete and Fail
// are the runner's. A progress bar is drawn on stderr while the run lasts
// (redrawn in place on a terminal, periodic lines otherwise); then a
// per-lane report is printed and every execution is checked through the
// public API to be terminal, as its runner reported.
//
// Two further sections follow, each verified through the public API: a
// small flow run by a runner (root → three-way fan-out → quorum join that
// cancels the straggler, see flow.go) and an approval step (suspend on a
// waitpoint, signal from an approver, claim of the resumed execution, see
// approval.go), which claims by hand because it suspends mid-attempt. A
// summary table across the sections ends the run (summary.go). The exit
// status is 1 when any check fails or any execution was lost.
//
// Usage (FF_DEV_MODE=1 is required by the backend):
//
//	FF_DEV_MODE=1 go run ./cmd/demo -db ffdemo.db -n 400 -workers 6
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
	"github.com/flowfabric/ffsqlite/worker"
)

// Lanes of the plain executions.
const (
	laneEmail  backend.LaneID = "email"
	laneRender backend.LaneID = "render"
)

var lanes = []backend.LaneID{laneEmail, laneRender}

// Tunables of the simulated workload.
const (
	leaseTTL      = 5 * time.Second
	claimMaxWait  = 500 * time.Millisecond
	retryBackoff  = 100 * time.Millisecond // keeps retries inside the demo's time budget
	shutdownGrace = 2 * time.Second        // runners stop only once all work is done, so this is a backstop
)

// tagSeq carries an execution's index into demo.jobs, so that a runner's
// outcome can be booked against the producer's record.
const tagSeq = "demo.seq"

// Planned failure modes, carried in the input payload so that the handler
// (not the producer) decides what happens, as a real handler would.
const (
	failTransient = "transient"
	failPermanent = "permanent"
)

// input is the JSON payload of every execution.
type input struct {
	Seq int    `json:"seq"`
	To  string `json:"to,omitempty"`  // email
	Res string `json:"res,omitempty"` // render
	// Fail, when set, makes the handler fail instead of completing:
	// transient on the first FailAttempts attempts, or permanent at once.
	Fail         string `json:"fail,omitempty"`
	FailAttempts int    `json:"fail_attempts,omitempty"`
}

// outcome of one execution as reported by the runner that ended it.
const (
	outcomeNone int32 = iota
	outcomeCompleted
	outcomeFailed
)

// job is the demo's own record of one execution. id and lane are written by
// the producer before the execution exists; runners touch only the atomics.
type job struct {
	id      backend.ExecutionID
	lane    backend.LaneID
	outcome atomic.Int32
	retries atomic.Int32
}

// counters feed the progress bar.
type counters struct {
	created, claimed, completed, failed, retries, errors atomic.Int64
}

type config struct {
	db      string
	n       int
	workers int
	fresh   bool
	timeout time.Duration
}

type demo struct {
	cfg     config
	b       *backend.SQLiteBackend
	log     *slog.Logger
	start   time.Time
	jobs    []job
	c       counters
	runners []*worker.Runner // written before the progress bar starts

	producerDone atomic.Bool
	terminal     atomic.Int64
	done         chan struct{} // closed once every created execution is terminal
	doneOnce     sync.Once

	errMu   sync.Mutex
	errList []string // first few unexpected errors, printed in the report
}

func main() {
	var cfg config
	flag.StringVar(&cfg.db, "db", "ffdemo.db", "SQLite database file")
	flag.IntVar(&cfg.n, "n", 400, "number of executions to create")
	flag.IntVar(&cfg.workers, "workers", 6, "handler slots, split between the email and render runners")
	flag.BoolVar(&cfg.fresh, "fresh", true, "delete the database (and its -wal/-shm files) first")
	flag.DurationVar(&cfg.timeout, "timeout", 45*time.Second, "give up (and fail verification) after this long")
	flag.Parse()
	if cfg.n < 1 || cfg.workers < 1 {
		fmt.Fprintln(os.Stderr, "demo: -n and -workers must be at least 1")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo: FAILED:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) (err error) {
	if cfg.fresh {
		if err := removeDB(cfg.db); err != nil {
			return err
		}
	}
	b, err := backend.NewWithOptions(ctx, cfg.db, backend.Options{
		// Waitpoint tokens are minted under the active kid (approval section).
		WaitpointHMACSecret: &demoWaitpointSecret,
	})
	if err != nil {
		return fmt.Errorf("open backend: %w", err)
	}
	defer func() {
		if cerr := b.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close backend: %w", cerr))
		}
	}()

	// Background reconcilers (lease expiry, delayed promotion, …) as in
	// production use: a lease lost to a slow worker is still recovered.
	b.WithScanners(scanners.DefaultConfig())

	caps := b.Capabilities()
	v := caps.Identity.Version
	fmt.Printf("backend:  %s (%s %s, v%d.%d.%d)\n", b.BackendLabel(), caps.Identity.Family, caps.Identity.RFC017Stage, v.Major, v.Minor, v.Patch)
	fmt.Printf("supports: %s\n", strings.Join(trueFlags(caps.Supports), " "))
	fmt.Printf("database: %s\n", cfg.db)

	d := &demo{
		cfg: cfg, b: b, start: time.Now(), jobs: make([]job, cfg.n), done: make(chan struct{}),
		// Runner warnings (a lost lease, a failing claim) are worth seeing;
		// per-attempt notes are not.
		log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}

	// runCtx bounds the whole run; workCtx additionally ends when all work is done.
	runCtx, cancelRun := context.WithTimeout(ctx, cfg.timeout)
	defer cancelRun()
	workCtx, stopWorkers := context.WithCancel(runCtx)
	defer stopWorkers()

	waitRunners := d.startRunners(workCtx)
	fmt.Printf("workload: %d executions on lanes %v, runners %s\n\n", cfg.n, lanes, d.runnerList())
	var wg sync.WaitGroup
	wg.Go(func() { d.produce(runCtx) })
	stopProgress := d.showProgress(os.Stderr)

	select {
	case <-d.done:
	case <-runCtx.Done():
	}
	stopWorkers()
	wg.Wait()
	waitRunners()
	stopProgress()
	wall := time.Since(d.start)

	if ctx.Err() != nil {
		return errors.New("interrupted: skipping verification")
	}
	if runCtx.Err() != nil {
		fmt.Printf("timed out after %s; verifying what is there\n", cfg.timeout)
	}
	// The run context may be spent (timeout), so verification gets its own.
	vctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	plain, err := d.verify(vctx, wall)
	sum := &summary{sections: []*sectionStats{plain}}
	if ctx.Err() == nil {
		st, ferr := runFlowSection(ctx, b, sum)
		sum.add(st)
		err = errors.Join(err, ferr)
	}
	if ctx.Err() == nil {
		st, aerr := runApprovalSection(ctx, b, sum)
		sum.add(st)
		err = errors.Join(err, aerr)
	}
	return errors.Join(err, sum.print(os.Stdout))
}

// runnerList renders the runners as "name(lane ×slots [caps])".
func (d *demo) runnerList() string {
	var parts []string
	for _, r := range d.runners {
		c := r.Config()
		s := fmt.Sprintf("%s(%s ×%d", c.WorkerInstanceID, c.Lane, c.Concurrency)
		if len(c.Capabilities) > 0 {
			s += " " + strings.Join(c.Capabilities, ",")
		}
		parts = append(parts, s+")")
	}
	return strings.Join(parts, " ")
}

// removeDB deletes the database file and SQLite's WAL side files.
func removeDB(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("fresh start: %w", err)
		}
	}
	return nil
}

// trueFlags names the Supports flags that are set.
func trueFlags(s backend.Supports) []string {
	v := reflect.ValueOf(s)
	var names []string
	for i := range v.NumField() {
		if v.Field(i).Kind() == reflect.Bool && v.Field(i).Bool() {
			names = append(names, v.Type().Field(i).Name)
		}
	}
	if len(names) == 0 {
		return []string{"(none)"}
	}
	return names
}

// produce creates the executions, stopping at the first error so that
// jobs[:created] are exactly the executions that exist.
func (d *demo) produce(ctx context.Context) {
	defer func() {
		d.producerDone.Store(true)
		d.checkDone()
	}()
	for i := range d.cfg.n {
		if ctx.Err() != nil {
			return
		}
		args := d.plan(i)
		j := &d.jobs[i]
		j.id, j.lane = args.ExecutionID, args.LaneID
		if _, err := d.b.CreateExecution(ctx, args); err != nil {
			if ctx.Err() == nil {
				d.recordErr("create", err)
			}
			return
		}
		d.c.created.Add(1)
		// Arrivals in small bursts rather than all at once, so claims and
		// creates interleave the way a live system's do.
		if i%25 == 24 {
			sleep(ctx, 10*time.Millisecond)
		}
	}
}

// plan builds the arguments for execution number seq: lane, priority,
// capability requirement, optional delay and planned failure.
func (d *demo) plan(seq int) backend.CreateExecutionArgs {
	in := input{Seq: seq}
	args := backend.CreateExecutionArgs{
		ExecutionID:     backend.NewExecutionID(),
		Namespace:       "demo",
		PayloadEncoding: "json",
		Priority:        int32(rand.N(9001)),
		CreatorIdentity: "demo-producer",
		Tags:            map[string]string{tagSeq: strconv.Itoa(seq)},
	}
	var pol backend.ExecutionPolicy
	if seq%2 == 0 {
		args.LaneID, args.ExecutionKind = laneEmail, "send_email"
		in.To = fmt.Sprintf("user%d@example.com", seq)
	} else {
		args.LaneID, args.ExecutionKind = laneRender, "render_thumbnail"
		in.Res = []string{"640x480", "1280x720", "1920x1080"}[rand.N(3)]
		if rand.N(3) == 0 {
			pol.RoutingRequirements = &backend.RoutingRequirements{RequiredCapabilities: []string{"gpu"}}
		}
	}
	switch r := rand.N(100); {
	case r < 3:
		in.Fail = failPermanent
	case r < 18:
		// Mostly one or two failures, sometimes more than the default three
		// retries allow, so retry exhaustion shows up too.
		in.Fail, in.FailAttempts = failTransient, []int{1, 1, 1, 2, 2, 4}[rand.N(6)]
		pol.RetryPolicy = &backend.RetryPolicy{Backoff: backend.FixedBackoff(retryBackoff)}
	}
	if rand.N(100) < 5 {
		args.DelayUntil = time.Now().Add(time.Duration(200+rand.N(601)) * time.Millisecond)
	}
	if pol.RetryPolicy != nil || pol.RoutingRequirements != nil {
		args.Policy = &pol
	}
	args.InputPayload, _ = json.Marshal(in) // cannot fail for this struct
	return args
}

// startRunners starts one worker.Runner per lane role and returns a
// function that waits for them after ctx is cancelled. The -workers
// handler slots are split between the email lane and two render runners:
// one offering the "gpu" capability (so gpu-only render jobs always have a
// taker) and one without it, which the engine keeps away from them.
func (d *demo) startRunners(ctx context.Context) (wait func()) {
	emailSlots := max(1, d.cfg.workers/2)
	gpuSlots := max(1, (d.cfg.workers-emailSlots+1)/2)
	cpuSlots := d.cfg.workers - emailSlots - gpuSlots
	specs := []struct {
		name  string
		lane  backend.LaneID
		caps  []string
		slots int
	}{
		{"email", laneEmail, nil, emailSlots},
		{"render-gpu", laneRender, []string{"gpu"}, gpuSlots},
		{"render-cpu", laneRender, nil, cpuSlots},
	}
	var wg sync.WaitGroup
	for _, sp := range specs {
		if sp.slots < 1 {
			continue
		}
		r, err := worker.New(d.b, worker.Config{
			Capabilities:     sp.caps,
			ClaimMaxWait:     claimMaxWait,
			Concurrency:      sp.slots,
			Lane:             sp.lane,
			LeaseTTL:         leaseTTL,
			Logger:           d.log,
			OutcomeFunc:      d.onOutcome,
			ShutdownGrace:    shutdownGrace,
			WorkerID:         "demo-worker",
			WorkerInstanceID: backend.WorkerInstanceID("demo-" + sp.name),
		}, d.handle)
		if err != nil {
			d.recordErr("runner "+sp.name, err) // a bug in the demo's config
			continue
		}
		d.runners = append(d.runners, r)
		wg.Go(func() {
			if err := r.Run(ctx); err != nil {
				d.recordErr("run "+sp.name, err)
			}
		})
	}
	return wg.Wait
}

// handle is the handler of the plain executions: decode the input, work,
// report progress half way, and succeed or fail as the input's plan says.
// Lease renewal, Complete and Fail are the runner's business.
func (d *demo) handle(ctx context.Context, job *worker.Job) error {
	d.c.claimed.Add(1)
	var in input
	if err := json.Unmarshal(job.InputPayload, &in); err != nil || in.Seq < 0 || in.Seq >= len(d.jobs) {
		// Retrying cannot fix an undecodable input.
		return worker.Permanent(fmt.Errorf("decode input %q: %v", job.InputPayload, err))
	}
	work := time.Duration(2+rand.N(14)) * time.Millisecond // 2–15 ms
	if !sleep(ctx, work/2) {
		return context.Cause(ctx)
	}
	if err := worker.Progress(ctx, 50, job.ExecutionKind+": halfway"); err != nil {
		return err
	}
	if !sleep(ctx, work-work/2) {
		return context.Cause(ctx)
	}
	switch {
	case in.Fail == failPermanent:
		return worker.Permanent(errors.New("bad input: permanent failure"))
	case in.Fail == failTransient && int(job.AttemptIndex) < in.FailAttempts:
		return fmt.Errorf("upstream timeout on attempt %d", job.AttemptIndex)
	}
	result, _ := json.Marshal(map[string]any{
		"lane": job.Lane, "attempt": job.AttemptIndex, "work_ms": work.Milliseconds(),
	})
	return worker.SetResult(ctx, result)
}

// onOutcome books what a runner did with one attempt. Every kind other
// than completed, failed and retry-scheduled means the demo lost track of
// an attempt (a lease lost or released, a settle call failing), which the
// demo counts as an error.
func (d *demo) onOutcome(o worker.Outcome) {
	seq, err := strconv.Atoi(o.Job.Tags[tagSeq])
	if err != nil || seq < 0 || seq >= len(d.jobs) {
		d.recordErr("outcome", fmt.Errorf("%s: %s without a usable %s tag (%v)", o.Job.ExecutionID, o.Kind, tagSeq, o.Err))
		return
	}
	j := &d.jobs[seq]
	switch o.Kind {
	case worker.OutcomeCompleted:
		d.c.completed.Add(1)
		d.finish(j, outcomeCompleted)
	case worker.OutcomeRetryScheduled:
		d.c.retries.Add(1)
		j.retries.Add(1)
	case worker.OutcomeFailed:
		d.c.failed.Add(1)
		d.finish(j, outcomeFailed)
	default:
		d.recordErr(string(o.Kind), fmt.Errorf("%s attempt %d: %v", o.Job.ExecutionID, o.Job.AttemptIndex, o.Err))
	}
}

// finish records a terminal outcome (once per execution).
func (d *demo) finish(j *job, outcome int32) {
	if !j.outcome.CompareAndSwap(outcomeNone, outcome) {
		d.recordErr("finish", fmt.Errorf("%s: ended twice", j.id))
		return
	}
	d.terminal.Add(1)
	d.checkDone()
}

// checkDone closes d.done once the producer is finished and every
// execution it created is terminal.
func (d *demo) checkDone() {
	if d.producerDone.Load() && d.terminal.Load() == d.c.created.Load() {
		d.doneOnce.Do(func() { close(d.done) })
	}
}

func (d *demo) recordErr(op string, err error) {
	d.c.errors.Add(1)
	d.errMu.Lock()
	defer d.errMu.Unlock()
	if len(d.errList) < 10 {
		d.errList = append(d.errList, fmt.Sprintf("%s: %v", op, err))
	}
}

// sleep waits for d or until ctx ends; it reports whether the full time passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// inFlight sums the runners' running handlers.
func (d *demo) inFlight() int {
	n := 0
	for _, r := range d.runners {
		n += r.InFlight()
	}
	return n
}

// verify reads every created execution back through the public API and
// checks that it is terminal, in the state its runner reported, with a
// stored result when completed and 1 attempt + 1 per scheduled retry. It
// prints the per-lane report (latency from the engine's own created and
// terminal times) and returns the section's numbers for the summary.
func (d *demo) verify(ctx context.Context, wall time.Duration) (*sectionStats, error) {
	created := int(d.c.created.Load())
	total := newSectionStats("plain")
	byLane := map[backend.LaneID]*sectionStats{}
	var problems []string
	for i := range created {
		j := &d.jobs[i]
		info, err := d.b.ReadExecutionInfo(ctx, j.id)
		if err != nil {
			return total, fmt.Errorf("verify: read %s: %w", j.id, err)
		}
		if info == nil {
			problems = append(problems, fmt.Sprintf("%s (%s): does not exist", j.id, j.lane))
			total.missing++
			continue
		}
		ls := byLane[j.lane]
		if ls == nil {
			ls = newSectionStats(string(j.lane))
			byLane[j.lane] = ls
		}
		for _, s := range []*sectionStats{ls, total} {
			s.addInfo(info)
			s.retries += int(j.retries.Load())
		}
		st := info.PublicState
		want := map[int32]backend.PublicState{outcomeCompleted: backend.PublicStateCompleted, outcomeFailed: backend.PublicStateFailed}[j.outcome.Load()]
		switch {
		case st != backend.PublicStateCompleted && st != backend.PublicStateFailed:
			problems = append(problems, fmt.Sprintf("%s (%s): not terminal: %s", j.id, j.lane, st))
		case st != want:
			problems = append(problems, fmt.Sprintf("%s (%s): state %s but the runner reported %q", j.id, j.lane, st, cmp.Or(string(want), "no terminal outcome")))
		case st == backend.PublicStateCompleted:
			if _, ok, err := d.b.GetExecutionResult(ctx, j.id); err != nil || !ok {
				problems = append(problems, fmt.Sprintf("%s (%s): completed without a stored result (ok=%v, err=%v)", j.id, j.lane, ok, err))
			}
		}
		// Each scheduled retry must have produced exactly one more attempt.
		if n, err := d.b.ReadTotalAttemptCount(ctx, j.id); err != nil {
			problems = append(problems, fmt.Sprintf("%s (%s): attempt count: %v", j.id, j.lane, err))
		} else if want := backend.AttemptIndex(j.retries.Load()) + 1; j.outcome.Load() != outcomeNone && n != want {
			problems = append(problems, fmt.Sprintf("%s (%s): %d attempts, want %d", j.id, j.lane, n, want))
		}
	}
	if created < d.cfg.n {
		problems = append(problems, fmt.Sprintf("only %d of %d executions were created", created, d.cfg.n))
		total.missing += d.cfg.n - created
	}

	var rows []*sectionStats
	for _, lane := range lanes {
		if s := byLane[lane]; s != nil {
			rows = append(rows, s)
		}
	}
	printStatsTable(os.Stdout, "lane", append(rows, total))
	terminal := total.count(backend.PublicStateCompleted) + total.count(backend.PublicStateFailed)
	fmt.Printf("\nwall time %s, %d terminal executions, throughput %.0f executions/s; %d handler runs, %d retries\n",
		wall.Round(time.Millisecond), terminal, float64(terminal)/wall.Seconds(), d.c.claimed.Load(), d.c.retries.Load())
	if n := d.c.errors.Load(); n > 0 {
		problems = append(problems, fmt.Sprintf("%d unexpected errors", n))
		fmt.Printf("%d unexpected errors; first ones:\n", n)
		d.errMu.Lock()
		for _, e := range d.errList {
			fmt.Printf("  %s\n", e)
		}
		d.errMu.Unlock()
	}
	if len(problems) > 0 {
		for i, p := range problems {
			if i == 10 {
				fmt.Printf("  … and %d more\n", len(problems)-i)
				break
			}
			fmt.Printf("  %s\n", p)
		}
		return total, fmt.Errorf("verification: %d problem(s), see above", len(problems))
	}
	fmt.Println("verify: OK: every execution is completed or failed, as its runner reported, with 1 attempt + 1 per retry")
	return total, nil
}
