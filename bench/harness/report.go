package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Meta describes one harness run.
type Meta struct {
	Started    time.Time         `json:"started"`
	Command    string            `json:"command"`
	GoVersion  string            `json:"go_version"`
	GOOS       string            `json:"goos"`
	GOARCH     string            `json:"goarch"`
	NumCPU     int               `json:"num_cpu"`
	GOMAXPROCS int               `json:"gomaxprocs"`
	Modules    map[string]string `json:"modules"`
	// Source is the ffsqlite commit measured, marked "+dirty" when the
	// library's files had uncommitted changes.
	Source   string            `json:"source,omitempty"`
	Settings map[string]string `json:"settings"`
	// LoadStart and LoadEnd are /proc/loadavg's 1/5/15-minute averages
	// when the run started and ended.
	LoadStart string  `json:"loadavg_start"`
	LoadEnd   string  `json:"loadavg_end"`
	Seconds   float64 `json:"seconds"`
}

// Report is everything one run measured; it is written as JSON and
// rendered as markdown tables.
type Report struct {
	Meta   Meta        `json:"meta"`
	S1     []CycleRow  `json:"s1_submit_claim_complete"`
	S5     []CycleRow  `json:"s5_capability_routed"`
	Growth []GrowthRow `json:"growth"`
	// S2, S4 and S6 are the ffsqlite-only scenarios.
	S2     []S2Row  `json:"s2_suspend_signal_resume,omitempty"`
	S4     []S4Row  `json:"s4_linear_flow,omitempty"`
	S6     []S6Row  `json:"s6_quorum_cancel_fanout,omitempty"`
	SB     []SBRow  `json:"sb_batch_create,omitempty"`
	Errors []string `json:"errors,omitempty"`
}

// FillRatios sets each cycle row's RatioToFF from the ffsqlite row with
// the same layout.
func FillRatios(rows []CycleRow) {
	type layout struct{ workers, sets int }
	ff := map[layout]float64{}
	for _, r := range rows {
		if r.System == "ffsqlite" && r.Error == "" {
			ff[layout{r.Workers, r.Sets}] = r.CyclesPerSec
		}
	}
	for i := range rows {
		rows[i].RatioToFF = ratio(rows[i].CyclesPerSec, ff[layout{rows[i].Workers, rows[i].Sets}])
	}
}

// WriteJSON writes r to dir/<timestamp>.json and dir/latest.json and
// returns the first path.
func (r *Report) WriteJSON(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	data = append(data, '\n')
	path := filepath.Join(dir, "ffbench-"+r.Meta.Started.UTC().Format("20060102T150405Z")+".json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", err
	}
	return path, os.WriteFile(filepath.Join(dir, "latest.json"), data, 0o644)
}

// WriteMarkdown renders one table per scenario.
func (r *Report) WriteMarkdown(w io.Writer) {
	m := r.Meta
	if m.Source != "" {
		fmt.Fprintf(w, "ffsqlite source: %s\n\n", m.Source)
	}
	fmt.Fprintf(w, "ffbench %s — %s %s/%s, %d CPUs (GOMAXPROCS %d), load average %s at start, %s at end; every system on modernc.org/sqlite, WAL + synchronous=NORMAL, fresh file per row\n\n",
		m.Started.UTC().Format(time.RFC3339), m.GoVersion, m.GOOS, m.GOARCH, m.NumCPU, m.GOMAXPROCS, m.LoadStart, m.LoadEnd)
	if len(r.S1) > 0 {
		fmt.Fprintf(w, "### S1 submit→claim→complete (N = %d)\n\n", r.S1[0].N)
		writeCycleTable(w, r.S1, false)
	}
	if len(r.S5) > 0 {
		fmt.Fprintf(w, "### S5 capability-routed claim (N = %d over %d capability sets)\n\n", r.S5[0].N, r.S5[0].Sets)
		writeCycleTable(w, r.S5, true)
	}
	if len(r.Growth) > 0 {
		fmt.Fprintf(w, "### Growth: claim+complete latency against a large backlog (1 worker; -growth-big %s, the issue's figure is 1000000)\n\n",
			m.Settings["growth_big"])
		fmt.Fprintln(w, "| system | fixture | cycles | cycles/s | claim→complete p50 / p95 / p99 ms | p50 × baseline | p99 × baseline | fixture build |")
		fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|---|")
		for _, g := range r.Growth {
			if g.Error != "" {
				fmt.Fprintf(w, "| %s | %s | error: %s |||||| \n", g.System, g.Fixture, g.Error)
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %d | %.0f | %s | %.2f× | %.2f× | %.1f s: %s |\n",
				g.System, g.Fixture, g.Cycles, g.CyclesPerSec, g.ClaimToComplete, g.P50Ratio, g.P99Ratio, g.BuildSeconds, g.BuildNote)
		}
		fmt.Fprintln(w)
	}
	r.writeFFOnly(w)
	r.writeSB(w)
	if len(r.Errors) > 0 {
		fmt.Fprintln(w, "Errors:")
		for _, e := range r.Errors {
			fmt.Fprintf(w, "- %s\n", e)
		}
		fmt.Fprintln(w)
	}
}

func writeCycleTable(w io.Writer, rows []CycleRow, routed bool) {
	workers := "workers"
	if routed {
		workers = "workers (sets × per set)"
	}
	fmt.Fprintf(w, "| system | %s | cycles/s | × ffsqlite | submit/s | claim+complete/s | claim→complete p50 / p95 / p99 ms | create→completed p50 / p95 / p99 ms | CPU µs/cycle |\n", workers)
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rows {
		layout := fmt.Sprint(r.Workers)
		if routed {
			layout = fmt.Sprintf("%d (%d × %d)", r.Workers, r.Sets, r.PerSet)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "| %s | %s | error: %s ||||||| \n", r.System, layout, strings.ReplaceAll(r.Error, "|", "/"))
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %.2f× | %.0f | %.0f | %s | %s | %.0f |\n",
			r.System, layout, r.CyclesPerSec, r.RatioToFF, r.SubmitPerSec, r.DrainPerSec, r.ClaimToComplete, r.CreateToCompleted, r.CPUPerCycleUS)
	}
	fmt.Fprintln(w)
}

// writeFFOnly renders the ffsqlite-only scenarios, each with its goal.
func (r *Report) writeFFOnly(w io.Writer) {
	if len(r.S2) > 0 {
		fmt.Fprintln(w, "### S2 suspend → signal → resume round trip (ffsqlite only)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| N | pipelines | round trips/s | round trip p50 / p95 / p99 ms | goal p50 | Suspend ms | DeliverSignal ms | ClaimResumedExecution ms |")
		fmt.Fprintln(w, "|--:|--:|--:|--:|---|--:|--:|--:|")
		for _, s := range r.S2 {
			if s.Error != "" {
				fmt.Fprintf(w, "| %d | %d | error: %s |||||| \n", s.N, s.Pipelines, cell(s.Error))
				continue
			}
			fmt.Fprintf(w, "| %d | %d | %.0f | %s | ≤ %s ms: %s | %s | %s | %s |\n", s.N, s.Pipelines, s.RoundTripsPerSec, s.RoundTrip,
				ms(s.GoalP50), verdict(s.RoundTrip.P50 <= s.GoalP50), s.Suspend, s.Deliver, s.Resume)
		}
		fmt.Fprintln(w, "\nRound trip: Suspend returned → ClaimResumedExecution returned (DeliverSignal in between, on another goroutine).")
		fmt.Fprintln(w)
	}
	if len(r.S4) > 0 {
		fmt.Fprintln(w, "### S4 linear flows (ffsqlite only)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| mode | flows | nodes | runners | flows/s | goal | build p50 / p95 / p99 ms | first create → last completed p50 / p95 / p99 ms | CPU ms/flow |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|---|--:|--:|--:|")
		for _, s := range r.S4 {
			if s.Error != "" {
				fmt.Fprintf(w, "| %s | %d | %d | %d | error: %s ||||| \n", s.Mode, s.Flows, s.Nodes, s.Runners, cell(s.Error))
				continue
			}
			fmt.Fprintf(w, "| %s | %d | %d | %d | %.0f | ≥ %.0f/s: %s | %s | %s | %.2f |\n", s.Mode, s.Flows, s.Nodes, s.Runners, s.FlowsPerSec,
				s.GoalFPS, verdict(s.FlowsPerSec >= s.GoalFPS), s.Build, s.Flow, s.CPUPerFlowMS)
		}
		fmt.Fprintln(w, "\nEach runner builds one flow on its own lane, then claims and completes its members in chain order. Mode \"calls\": CreateFlow, the members created in one CreateExecutions batch, AddExecutionToFlow per member, StageDependencyEdge + ApplyDependencyToChild per edge i→i+1, then Claim and Complete per member. Mode \"buildflow\": one BuildFlow call (the same writes in one transaction), then Claim and Complete per member. Mode \"chained\": BuildFlow, one Claim, then CompleteAndClaim per member (each completion claims the next member in its transaction).")
		fmt.Fprintln(w)
	}
	if len(r.S6) > 0 {
		fmt.Fprintln(w, "### S6 quorum(1, cancel_remaining) fan-out: latency of the satisfying Complete (ffsqlite only)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| upstreams n | reps | Complete p50 / p95 / p99 ms | goal | fixture build s/rep |")
		fmt.Fprintln(w, "|--:|--:|--:|---|--:|")
		for _, s := range r.S6 {
			if s.Error != "" {
				fmt.Fprintf(w, "| %d | %d | error: %s ||| \n", s.Upstreams, s.Reps, cell(s.Error))
				continue
			}
			goal := "—"
			if s.GoalP99 > 0 {
				goal = fmt.Sprintf("p99 ≤ %s ms: %s", ms(s.GoalP99), verdict(s.Complete.P99 <= s.GoalP99))
			}
			fmt.Fprintf(w, "| %d | %d | %s | %s | %.2f |\n", s.Upstreams, s.Reps, s.Complete, goal, s.BuildSeconds)
		}
		fmt.Fprintln(w, "\nThe Complete call satisfies the quorum and cancels the other n−1 upstreams in the same transaction; below 100 reps p99 is close to the maximum.")
		fmt.Fprintln(w)
	}
}

// writeSB renders the batch-create scenario.
func (r *Report) writeSB(w io.Writer) {
	if len(r.SB) == 0 {
		return
	}
	fmt.Fprintln(w, "### SB batch create: CreateExecutions (ffsqlite only)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| N | batch size | executions/s | goal | batch p50 / p95 / p99 ms |")
	fmt.Fprintln(w, "|--:|--:|--:|---|--:|")
	for _, s := range r.SB {
		if s.Error != "" {
			fmt.Fprintf(w, "| %d | %d | error: %s ||| \n", s.N, s.BatchSize, cell(s.Error))
			continue
		}
		fmt.Fprintf(w, "| %d | %d | %.0f | ≥ %.0f/s: %s | %s |\n", s.N, s.BatchSize, s.PerSec, s.GoalPS, verdict(s.PerSec >= s.GoalPS), s.Batch)
	}
	fmt.Fprintln(w, "\nOne caller; each batch is one transaction (every element validated; runs of plain elements inserted by one statement).")
	fmt.Fprintln(w)
}

// verdict renders whether a goal was met.
func verdict(met bool) string {
	if met {
		return "met"
	}
	return "**missed**"
}

// cell makes s safe inside a markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", "/") }
