package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// sectionStats are one section's (or lane's) numbers, read back through
// the public API after the section ran.
type sectionStats struct {
	name string
	// states counts executions by public state.
	states map[backend.PublicState]int
	// latencies are created → terminal, by the engine's own timestamps.
	latencies []time.Duration
	// missing counts executions the demo meant to create but that do not
	// exist; together with non-terminal ones they are "lost".
	missing int
	retries int
}

func newSectionStats(name string) *sectionStats {
	return &sectionStats{name: name, states: map[backend.PublicState]int{}}
}

// addInfo books one execution read back with ReadExecutionInfo.
func (s *sectionStats) addInfo(info *backend.ExecutionInfo) {
	s.states[info.PublicState]++
	if info.StateVector.LifecyclePhase == backend.PhaseTerminal && !info.CompletedAt.IsZero() {
		s.latencies = append(s.latencies, info.CompletedAt.Sub(info.CreatedAt))
	}
}

func (s *sectionStats) count(st backend.PublicState) int { return s.states[st] }

// executions counts every execution of the section, missing ones included.
func (s *sectionStats) executions() int {
	n := s.missing
	for _, c := range s.states {
		n += c
	}
	return n
}

// lost counts executions that are missing or not terminal.
func (s *sectionStats) lost() int {
	return s.executions() - len(s.latencies)
}

// merge adds o's numbers to s.
func (s *sectionStats) merge(o *sectionStats) {
	for st, c := range o.states {
		s.states[st] += c
	}
	s.latencies = append(s.latencies, o.latencies...)
	s.missing += o.missing
	s.retries += o.retries
}

// printStatsTable prints one row per stats value: executions by outcome,
// lost, retries and latency percentiles.
func printStatsTable(w io.Writer, first string, rows []*sectionStats) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\texecutions\tcompleted\tfailed\tcancelled\tlost\tretries\tp50\tp99\t\n", first)
	for _, s := range rows {
		lat := slices.Sorted(slices.Values(s.latencies))
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", s.name, s.executions(),
			s.count(backend.PublicStateCompleted), s.count(backend.PublicStateFailed), s.count(backend.PublicStateCancelled),
			s.lost(), s.retries, fmtDur(percentile(lat, 50)), fmtDur(percentile(lat, 99)))
	}
	tw.Flush()
}

// summary collects what the sections report for the closing table.
type summary struct {
	sections []*sectionStats
	// flows maps a flow's public state to how many flows ended in it.
	flows map[string]int
	// signals delivered (accepted) and duplicate re-deliveries recognised.
	signals, duplicateSignals int
}

func (s *summary) add(st *sectionStats) {
	if st != nil {
		s.sections = append(s.sections, st)
	}
}

// print writes the closing table and fails when anything was lost.
func (s *summary) print(w io.Writer) error {
	fmt.Fprintln(w, "\n== summary ==")
	total := newSectionStats("total")
	for _, st := range s.sections {
		total.merge(st)
	}
	printStatsTable(w, "section", append(slices.Clone(s.sections), total))
	flows := 0
	var states []string
	for st, n := range s.flows {
		flows += n
		states = append(states, fmt.Sprintf("%d %s", n, st))
	}
	slices.Sort(states)
	fmt.Fprintf(w, "\nflows:    %d %v\n", flows, states)
	fmt.Fprintf(w, "signals:  %d delivered, %d duplicate re-deliveries recognised\n", s.signals, s.duplicateSignals)
	fmt.Fprintln(w, "latency:  created → terminal by the engine's clock (includes start delays, retry backoff, approval review)")
	if n := total.lost(); n > 0 {
		return fmt.Errorf("%d execution(s) lost: missing or not terminal at the end", n)
	}
	fmt.Fprintln(w, "nothing lost: every execution the demo created is terminal")
	return nil
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
