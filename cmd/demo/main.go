// Command demo runs the ffsqlite engine end to end on an embedded SQLite
// file.
//
// A producer submits executions on two lanes ("email" and "render") with
// mixed priorities, capability requirements and start delays. A pool of
// workers claims them, reports progress, renews long leases and completes
// them, except for a planned share that fail transiently (and are retried
// by the engine) or permanently. A live progress line is redrawn on stderr
// while the run lasts; at the end a per-lane report is printed and every
// execution is checked to be in a terminal state through the public API.
//
// Two further sections follow, each verified through the public API: a
// small flow (root → three-way fan-out → quorum join that cancels the
// straggler, see flow.go) and an approval step (suspend on a waitpoint,
// signal from an approver, claim of the resumed execution, see
// approval.go).
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
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

// Lanes the demo uses; workers sweep them in order starting at their home lane.
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
	longJob       = 10 * time.Millisecond  // jobs longer than this renew their lease once
	progressEvery = 200 * time.Millisecond
)

// Planned failure modes, carried in the input payload so that the worker
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
	// Fail, when set, makes the worker fail instead of completing:
	// transient on the first FailAttempts attempts, or permanent at once.
	Fail         string `json:"fail,omitempty"`
	FailAttempts int    `json:"fail_attempts,omitempty"`
}

// outcome of one execution as observed by the worker that ended it.
const (
	outcomeNone int32 = iota
	outcomeCompleted
	outcomeFailed
)

// job is the demo's own record of one execution. id and lane are written by
// the producer before the execution exists; workers touch only the atomics.
type job struct {
	id      backend.ExecutionID
	lane    backend.LaneID
	created atomic.Int64 // ns since run start, taken just before CreateExecution
	ended   atomic.Int64 // ns since run start when it became terminal
	outcome atomic.Int32
	retries atomic.Int32
}

// counters feed the live progress line.
type counters struct {
	created, claimed, completed, failed, retries, inFlight, errors atomic.Int64
}

type config struct {
	db      string
	n       int
	workers int
	fresh   bool
	timeout time.Duration
}

type demo struct {
	cfg   config
	b     *backend.SQLiteBackend
	start time.Time
	jobs  []job
	c     counters

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
	flag.IntVar(&cfg.workers, "workers", 6, "number of worker goroutines")
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
	fmt.Printf("workload: %d executions, %d workers, lanes %v\n\n", cfg.n, cfg.workers, lanes)

	d := &demo{cfg: cfg, b: b, start: time.Now(), jobs: make([]job, cfg.n), done: make(chan struct{})}

	// runCtx bounds the whole run; workCtx additionally ends when all work is done.
	runCtx, cancelRun := context.WithTimeout(ctx, cfg.timeout)
	defer cancelRun()
	workCtx, stopWorkers := context.WithCancel(runCtx)
	defer stopWorkers()

	var wg sync.WaitGroup
	wg.Go(func() { d.produce(runCtx) })
	for i := range cfg.workers {
		wg.Go(func() { d.work(workCtx, i) })
	}
	stopProgress := d.showProgress(os.Stderr)

	select {
	case <-d.done:
	case <-runCtx.Done():
	}
	stopWorkers()
	wg.Wait()
	stopProgress()
	wall := time.Since(d.start)

	d.report(os.Stdout, wall)
	if ctx.Err() != nil {
		return errors.New("interrupted: skipping verification")
	}
	if runCtx.Err() != nil {
		fmt.Printf("\ntimed out after %s; verifying what is there\n", cfg.timeout)
	}
	// The run context may be spent (timeout), so verification gets its own.
	vctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err = d.verify(vctx)
	if ctx.Err() == nil {
		err = errors.Join(err, runFlowSection(ctx, b))
	}
	if ctx.Err() == nil {
		err = errors.Join(err, runApprovalSection(ctx, b))
	}
	return err
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
		j.created.Store(int64(time.Since(d.start)))
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
		Tags:            map[string]string{"demo.seq": fmt.Sprint(seq)},
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

// work is one worker's loop. Worker 0 and every third one after it offer
// the "gpu" capability, so gpu-only render jobs always have a taker.
func (d *demo) work(ctx context.Context, id int) {
	name := fmt.Sprintf("w%d", id)
	var caps backend.CapabilitySet
	if id%3 == 0 {
		caps.Tokens = []string{"gpu"}
		name += "-gpu"
	}
	// Home lane first; the others follow, so no lane is left idle.
	order := append(slices.Clone(lanes[id%len(lanes):]), lanes[:id%len(lanes)]...)
	policy := backend.ClaimPolicy{
		WorkerID:         "demo-worker",
		WorkerInstanceID: backend.WorkerInstanceID(name),
		LeaseTTL:         leaseTTL,
	}
	for ctx.Err() == nil {
		h, err := d.claim(ctx, order, caps, policy)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d.recordErr("claim", err)
			sleep(ctx, 50*time.Millisecond)
			continue
		}
		if h == nil {
			continue
		}
		d.c.claimed.Add(1)
		d.c.inFlight.Add(1)
		d.runOne(ctx, name, *h)
		d.c.inFlight.Add(-1)
	}
}

// claim sweeps every lane without waiting, then parks on the home lane for
// up to claimMaxWait (a commit on that lane wakes it early).
func (d *demo) claim(ctx context.Context, order []backend.LaneID, caps backend.CapabilitySet, policy backend.ClaimPolicy) (*backend.Handle, error) {
	for _, lane := range order {
		if h, err := d.b.Claim(ctx, lane, caps, policy); err != nil || h != nil {
			return h, err
		}
	}
	policy.MaxWait = claimMaxWait
	return d.b.Claim(ctx, order[0], caps, policy)
}

// runOne runs one claimed attempt: read the input, work, heartbeat, and
// complete or fail as the input's plan says.
func (d *demo) runOne(ctx context.Context, worker string, h backend.Handle) {
	ec, err := d.b.ReadExecutionContext(ctx, h.ExecutionID())
	if err != nil {
		d.handleErr(ctx, "read context", err)
		return
	}
	var in input
	if err := json.Unmarshal(ec.InputPayload, &in); err != nil || in.Seq < 0 || in.Seq >= len(d.jobs) {
		d.recordErr("decode input", fmt.Errorf("%s: %q: %v", h.ExecutionID(), ec.InputPayload, err))
		return
	}
	j := &d.jobs[in.Seq]

	work := time.Duration(2+rand.N(14)) * time.Millisecond // 2–15 ms
	if !sleep(ctx, work/2) {
		return
	}
	if work > longJob {
		if _, err := d.b.Renew(ctx, h); err != nil {
			d.handleErr(ctx, "renew", err)
			return
		}
	}
	if err := d.b.Progress(ctx, h, backend.Ptr[uint8](50), backend.Ptr(ec.ExecutionKind+": halfway")); err != nil {
		d.handleErr(ctx, "progress", err)
		return
	}
	if !sleep(ctx, work-work/2) {
		return
	}

	switch {
	case in.Fail == failPermanent:
		d.fail(ctx, j, h, backend.FailurePermanent, "bad input: permanent failure")
	case in.Fail == failTransient && int(h.AttemptIndex()) < in.FailAttempts:
		d.fail(ctx, j, h, backend.FailureTransient, fmt.Sprintf("upstream timeout on attempt %d", h.AttemptIndex()))
	default:
		result, _ := json.Marshal(map[string]any{
			"worker": worker, "attempt": h.AttemptIndex(), "work_ms": work.Milliseconds(),
		})
		if err := d.b.Complete(ctx, h, result); err != nil {
			d.handleErr(ctx, "complete", err)
			return
		}
		d.c.completed.Add(1)
		d.finish(j, outcomeCompleted)
	}
}

// fail reports a failure and books what the engine decided.
func (d *demo) fail(ctx context.Context, j *job, h backend.Handle, class backend.FailureClass, msg string) {
	out, err := d.b.Fail(ctx, h, backend.FailureReason{Message: msg}, class)
	if err != nil {
		d.handleErr(ctx, "fail", err)
		return
	}
	switch out.Kind {
	case backend.FailRetryScheduled:
		d.c.retries.Add(1)
		j.retries.Add(1)
	case backend.FailTerminalFailed:
		d.c.failed.Add(1)
		d.finish(j, outcomeFailed)
	default:
		d.recordErr("fail", fmt.Errorf("%s: unexpected outcome %q", h.ExecutionID(), out.Kind))
	}
}

// finish records a terminal outcome (once per execution).
func (d *demo) finish(j *job, outcome int32) {
	if !j.outcome.CompareAndSwap(outcomeNone, outcome) {
		d.recordErr("finish", fmt.Errorf("%s: ended twice", j.id))
		return
	}
	j.ended.Store(int64(time.Since(d.start)))
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

// handleErr records err unless it is just the run being cancelled.
func (d *demo) handleErr(ctx context.Context, op string, err error) {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return
	}
	d.recordErr(op, err)
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

// showProgress redraws a one-line status on w until the returned function
// is called, which draws it a last time and ends the line.
func (d *demo) showProgress(w io.Writer) (stop func()) {
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-quit:
				fmt.Fprintf(w, "\r%s\n", d.statusLine())
				return
			case <-t.C:
				fmt.Fprintf(w, "\r%s", d.statusLine())
			}
		}
	}()
	return func() { close(quit); <-exited }
}

func (d *demo) statusLine() string {
	s := fmt.Sprintf("created %d/%d  claimed %d  completed %d  failed %d  retries %d  in-flight %d  elapsed %s",
		d.c.created.Load(), d.cfg.n, d.c.claimed.Load(), d.c.completed.Load(), d.c.failed.Load(),
		d.c.retries.Load(), d.c.inFlight.Load(), time.Since(d.start).Round(100*time.Millisecond))
	if n := d.c.errors.Load(); n > 0 {
		s += fmt.Sprintf("  errors %d", n)
	}
	return fmt.Sprintf("%-110s", s) // pad over a longer previous line
}

// laneStats aggregates the report of one lane (or all of them).
type laneStats struct {
	name                          string
	executions, completed, failed int
	retries                       int // retries scheduled by Fail
	latencies                     []time.Duration
}

func (s *laneStats) add(j *job) {
	s.executions++
	s.retries += int(j.retries.Load())
	switch j.outcome.Load() {
	case outcomeCompleted:
		s.completed++
	case outcomeFailed:
		s.failed++
	default:
		return
	}
	s.latencies = append(s.latencies, time.Duration(j.ended.Load()-j.created.Load()))
}

// report prints the per-lane table, wall time and throughput.
func (d *demo) report(w io.Writer, wall time.Duration) {
	created := int(d.c.created.Load())
	byLane := map[backend.LaneID]*laneStats{}
	total := &laneStats{name: "total"}
	for i := range created {
		j := &d.jobs[i]
		s := byLane[j.lane]
		if s == nil {
			s = &laneStats{name: string(j.lane)}
			byLane[j.lane] = s
		}
		s.add(j)
		total.add(j)
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "lane\texecutions\tcompleted\tfailed\tretries\tavg\tp50\tp95\t")
	rows := []*laneStats{}
	for _, lane := range lanes {
		if s := byLane[lane]; s != nil {
			rows = append(rows, s)
		}
	}
	for _, s := range append(rows, total) {
		slices.Sort(s.latencies)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t\n", s.name, s.executions, s.completed, s.failed, s.retries,
			fmtDur(mean(s.latencies)), fmtDur(percentile(s.latencies, 50)), fmtDur(percentile(s.latencies, 95)))
	}
	tw.Flush()

	terminal := total.completed + total.failed
	fmt.Fprintf(w, "\nlatency = create → terminal, measured by the demo (includes delays and retry backoff)\n")
	fmt.Fprintf(w, "wall time %s, %d terminal executions, throughput %.0f executions/s\n",
		wall.Round(time.Millisecond), terminal, float64(terminal)/wall.Seconds())
	if n := d.c.errors.Load(); n > 0 {
		fmt.Fprintf(w, "%d unexpected errors; first ones:\n", n)
		d.errMu.Lock()
		defer d.errMu.Unlock()
		for _, e := range d.errList {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// percentile is the nearest-rank percentile of sorted ds.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 × n)
	return sorted[max(rank, 1)-1]
}

func fmtDur(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.Round(100 * time.Microsecond).String()
}

// verify checks through the public API that every created execution is
// terminal, that its state matches what the worker saw, that completed
// executions have a stored result and that attempts match retries.
func (d *demo) verify(ctx context.Context) error {
	created := int(d.c.created.Load())
	counts := map[backend.PublicState]int{}
	var problems []string
	for i := range created {
		j := &d.jobs[i]
		st, err := d.b.ReadExecutionState(ctx, j.id)
		if err != nil {
			return fmt.Errorf("verify: read state of %s: %w", j.id, err)
		}
		if st == nil {
			problems = append(problems, fmt.Sprintf("%s (%s): does not exist", j.id, j.lane))
			continue
		}
		counts[*st]++
		want := map[int32]backend.PublicState{outcomeCompleted: backend.PublicStateCompleted, outcomeFailed: backend.PublicStateFailed}[j.outcome.Load()]
		switch {
		case *st != backend.PublicStateCompleted && *st != backend.PublicStateFailed:
			problems = append(problems, fmt.Sprintf("%s (%s): not terminal: %s", j.id, j.lane, *st))
		case *st != want:
			problems = append(problems, fmt.Sprintf("%s (%s): state %s but the worker saw %q", j.id, j.lane, *st, cmp.Or(string(want), "no terminal outcome")))
		case *st == backend.PublicStateCompleted:
			if _, ok, err := d.b.GetExecutionResult(ctx, j.id); err != nil || !ok {
				problems = append(problems, fmt.Sprintf("%s (%s): completed without a stored result (ok=%v, err=%v)", j.id, j.lane, ok, err))
			}
		}
		// Each scheduled retry must have produced exactly one more attempt.
		if snap, err := d.b.DescribeExecution(ctx, j.id); err != nil || snap == nil {
			problems = append(problems, fmt.Sprintf("%s (%s): describe: %v (nil=%v)", j.id, j.lane, err, snap == nil))
		} else if want := uint32(j.retries.Load()) + 1; j.outcome.Load() != outcomeNone && snap.TotalAttemptCount != want {
			problems = append(problems, fmt.Sprintf("%s (%s): %d attempts, want %d", j.id, j.lane, snap.TotalAttemptCount, want))
		}
	}

	states := make([]string, 0, len(counts))
	for st, n := range counts {
		states = append(states, fmt.Sprintf("%s=%d", st, n))
	}
	slices.Sort(states)
	fmt.Printf("\nverify: %d executions read back: %s\n", created, strings.Join(states, " "))
	if created < d.cfg.n {
		problems = append(problems, fmt.Sprintf("only %d of %d executions were created", created, d.cfg.n))
	}
	if len(problems) > 0 {
		for i, p := range problems {
			if i == 10 {
				fmt.Printf("  … and %d more\n", len(problems)-i)
				break
			}
			fmt.Printf("  %s\n", p)
		}
		return fmt.Errorf("verification: %d problem(s), see above", len(problems))
	}
	fmt.Println("verify: OK: every execution is completed or failed, as its worker reported, with 1 attempt + 1 per retry")
	return nil
}
