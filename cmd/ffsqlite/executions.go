package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/dbgen"
)

// Listing bounds.
const (
	// executionsLimitDefault is executions list's --limit default.
	executionsLimitDefault = 100
	// executionsScanPage is the ListExecutions page size the filtered scan
	// walks with (the API's cap).
	executionsScanPage = 1000
	// attemptsMax bounds the attempt history shown (retries, reclaims and
	// replays are each capped far below it).
	attemptsMax = 10000
)

// publicStates are the values --state accepts.
var publicStates = []backend.PublicState{
	backend.PublicStateActive, backend.PublicStateCancelled, backend.PublicStateCompleted,
	backend.PublicStateDelayed, backend.PublicStateExpired, backend.PublicStateFailed,
	backend.PublicStateRateLimited, backend.PublicStateResumable, backend.PublicStateSkipped,
	backend.PublicStateSuspended, backend.PublicStateWaiting, backend.PublicStateWaitingChildren,
}

// executionJSON is one execution (ExecutionSnapshot) in JSON output.
type executionJSON struct {
	BlockingDetail    string            `json:"blocking_detail,omitempty"`
	BlockingReason    string            `json:"blocking_reason,omitempty"`
	CreatedAt         time.Time         `json:"created_at"`
	CurrentAttempt    *attemptRefJSON   `json:"current_attempt,omitempty"`
	CurrentLease      *leaseJSON        `json:"current_lease,omitempty"`
	CurrentWaitpoint  string            `json:"current_waitpoint,omitempty"`
	ExecutionID       string            `json:"execution_id"`
	FlowID            string            `json:"flow_id,omitempty"`
	LaneID            string            `json:"lane_id"`
	LastMutationAt    time.Time         `json:"last_mutation_at"`
	Namespace         string            `json:"namespace"`
	PublicState       string            `json:"public_state"`
	Tags              map[string]string `json:"tags"`
	TotalAttemptCount uint32            `json:"total_attempt_count"`
}

// attemptRefJSON names the current attempt.
type attemptRefJSON struct {
	AttemptID    string `json:"attempt_id"`
	AttemptIndex uint32 `json:"attempt_index"`
}

// leaseJSON is a live lease.
type leaseJSON struct {
	AttemptIndex     uint32     `json:"attempt_index"`
	ExpiresAt        time.Time  `json:"expires_at"`
	LastHeartbeatAt  *time.Time `json:"last_heartbeat_at,omitempty"`
	LeaseEpoch       uint64     `json:"lease_epoch"`
	LeaseID          string     `json:"lease_id"`
	WorkerInstanceID string     `json:"worker_instance_id"`
}

// executionDetailJSON is executions show's JSON document: the snapshot
// plus the legacy info's fields, the state vector and the attempts.
type executionDetailJSON struct {
	executionJSON
	Attempts      []attemptJSON `json:"attempts"`
	CompletedAt   *time.Time    `json:"completed_at,omitempty"`
	ExecutionKind string        `json:"execution_kind"`
	Priority      int32         `json:"priority"`
	StartedAt     *time.Time    `json:"started_at,omitempty"`
	State         stateJSON     `json:"state"`
}

// stateJSON is the state vector.
type stateJSON struct {
	AttemptState     string `json:"attempt_state"`
	BlockingReason   string `json:"blocking_reason"`
	EligibilityState string `json:"eligibility_state"`
	LifecyclePhase   string `json:"lifecycle_phase"`
	OwnershipState   string `json:"ownership_state"`
	PublicState      string `json:"public_state"`
	TerminalOutcome  string `json:"terminal_outcome"`
}

// attemptJSON is one attempt of the history.
type attemptJSON struct {
	AttemptID        string     `json:"attempt_id"`
	AttemptIndex     int64      `json:"attempt_index"`
	AttemptType      string     `json:"attempt_type"`
	EndedAt          *time.Time `json:"ended_at,omitempty"`
	LeaseEpoch       int64      `json:"lease_epoch"`
	LeaseExpiresAt   *time.Time `json:"lease_expires_at,omitempty"`
	Outcome          string     `json:"outcome,omitempty"`
	StartedAt        *time.Time `json:"started_at,omitempty"`
	WorkerID         string     `json:"worker_id,omitempty"`
	WorkerInstanceID string     `json:"worker_instance_id,omitempty"`
}

// executionsListJSON is executions list's JSON document. Next, when set,
// is the --after value that continues the listing.
type executionsListJSON struct {
	Executions []executionJSON `json:"executions"`
	Next       string          `json:"next,omitempty"`
}

func executionFromSnapshot(s *backend.ExecutionSnapshot) executionJSON {
	out := executionJSON{
		BlockingDetail:    s.BlockingDetail,
		BlockingReason:    string(s.BlockingReason),
		CreatedAt:         s.CreatedAt.UTC(),
		CurrentWaitpoint:  string(s.CurrentWaitpoint),
		ExecutionID:       string(s.ExecutionID),
		FlowID:            string(s.FlowID),
		LaneID:            string(s.LaneID),
		LastMutationAt:    s.LastMutationAt.UTC(),
		Namespace:         string(s.Namespace),
		PublicState:       string(s.PublicState),
		Tags:              s.Tags,
		TotalAttemptCount: s.TotalAttemptCount,
	}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	if a := s.CurrentAttempt; a != nil {
		out.CurrentAttempt = &attemptRefJSON{AttemptID: string(a.AttemptID), AttemptIndex: uint32(a.AttemptIndex)}
	}
	if l := s.CurrentLease; l != nil {
		out.CurrentLease = &leaseJSON{
			AttemptIndex:     uint32(l.AttemptIndex),
			ExpiresAt:        l.ExpiresAt.UTC(),
			LastHeartbeatAt:  optTime(l.LastHeartbeatAt),
			LeaseEpoch:       uint64(l.LeaseEpoch),
			LeaseID:          string(l.LeaseID),
			WorkerInstanceID: string(l.WorkerInstanceID),
		}
	}
	return out
}

func attemptFromRow(r dbgen.CliAttemptListRow) attemptJSON {
	msTime := func(v int64, ok bool) *time.Time {
		if !ok {
			return nil
		}
		t := time.UnixMilli(v).UTC()
		return &t
	}
	return attemptJSON{
		AttemptID:        r.AttemptID,
		AttemptIndex:     r.AttemptIndex,
		AttemptType:      r.AttemptType,
		EndedAt:          msTime(r.TerminalAtMs.Int64, r.TerminalAtMs.Valid),
		LeaseEpoch:       r.LeaseEpoch,
		LeaseExpiresAt:   msTime(r.LeaseExpiresAtMs.Int64, r.LeaseExpiresAtMs.Valid),
		Outcome:          r.Outcome.String,
		StartedAt:        msTime(r.StartedAtMs.Int64, r.StartedAtMs.Valid),
		WorkerID:         r.WorkerID.String,
		WorkerInstanceID: r.WorkerInstanceID.String,
	}
}

// executionsList lists executions of one partition, optionally filtered.
func (c *cli) executionsList(args []string) error {
	fs := c.newFlags("executions list", "[flags]",
		"List executions of one partition in id order. Filters are applied to each\n"+
			"execution's snapshot, so a narrow filter may read many executions.")
	partition := fs.Uint("partition", 0, "partition `index` N of the ids \"{fp:N}:...\" (this backend mints 0)")
	lane := fs.String("lane", "", "only executions of `lane`")
	state := fs.String("state", "", "only executions in public `state` ("+joinStates()+")")
	limit := fs.Int("limit", executionsLimitDefault, "print at most `N` executions")
	after := fs.String("after", "", "start after this execution `id` (the \"next\" of a previous listing)")
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if *partition > 65535 {
		return usagef("--partition %d: not in 0..65535", *partition)
	}
	if *limit < 1 {
		return usagef("--limit %d: must be at least 1", *limit)
	}
	if *lane != "" {
		if _, err := backend.ParseLaneID(*lane); err != nil {
			return usagef("--lane %q: %v", *lane, err)
		}
	}
	if *state != "" && !isPublicState(*state) {
		return usagef("--state %q: not one of %s", *state, joinStates())
	}
	cursor := backend.ExecutionID(*after)
	if cursor != "" {
		if _, err := parseExecutionID(*after); err != nil {
			return err
		}
	}

	s, err := c.open()
	if err != nil {
		return err
	}
	defer s.Close()
	key := backend.Partition{Family: backend.PartitionFamilyFlow, Index: uint16(*partition)}.Key()
	out := executionsListJSON{Executions: []executionJSON{}}
	filtered := *lane != "" || *state != ""
	// Pages of ListExecutions, each id described through the public API;
	// the listing has no filters of its own, so filters scan.
	pageSize := executionsScanPage
	if !filtered {
		pageSize = *limit
	}
scan:
	for {
		page, err := s.b.ListExecutions(c.ctx, key, cursor, pageSize)
		if err != nil {
			return err
		}
		for _, id := range page.Items {
			cursor = id
			snap, err := s.b.DescribeExecution(c.ctx, id)
			if err != nil {
				return err
			}
			// nil: deleted (retention) between the listing and the read.
			if snap == nil || (*lane != "" && string(snap.LaneID) != *lane) ||
				(*state != "" && string(snap.PublicState) != *state) {
				continue
			}
			if len(out.Executions) == *limit {
				// One more match exists: the listing continues after the
				// last one printed.
				out.Next = out.Executions[len(out.Executions)-1].ExecutionID
				break scan
			}
			out.Executions = append(out.Executions, executionFromSnapshot(snap))
		}
		if page.Next == "" {
			break
		}
		if !filtered && len(out.Executions) == *limit {
			out.Next = string(page.Next)
			break
		}
	}

	if c.json {
		return c.writeJSON(out)
	}
	w := c.table()
	row(w, "EXECUTION_ID", "LANE", "STATE", "NAMESPACE", "ATTEMPTS", "FLOW", "CREATED_AT")
	for _, e := range out.Executions {
		row(w, e.ExecutionID, dash(e.LaneID), e.PublicState, dash(e.Namespace), e.TotalAttemptCount, dash(e.FlowID), fmtTime(e.CreatedAt))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if out.Next != "" {
		fmt.Fprintf(c.stderr, "more executions follow: --after %s\n", out.Next)
	}
	return nil
}

// executionsShow prints one execution: snapshot, state vector, attempts.
func (c *cli) executionsShow(args []string) error {
	fs := c.newFlags("executions show", "<execution-id>", "Show one execution: its snapshot, state vector and attempt history.")
	pos, err := c.parse(fs, args, 1)
	if err != nil {
		return err
	}
	id, err := parseExecutionID(pos[0])
	if err != nil {
		return err
	}
	s, err := c.open()
	if err != nil {
		return err
	}
	defer s.Close()
	snap, err := s.b.DescribeExecution(c.ctx, id)
	if err != nil {
		return err
	}
	info, err := s.b.ReadExecutionInfo(c.ctx, id)
	if err != nil {
		return err
	}
	if snap == nil || info == nil {
		return notFound(backend.EntityExecution, string(id))
	}
	q, err := s.queries()
	if err != nil {
		return err
	}
	rows, err := q.CliAttemptList(c.ctx, dbgen.CliAttemptListParams{ExecutionID: string(id), Lim: attemptsMax})
	if err != nil {
		return fmt.Errorf("list attempts: %w", err)
	}
	sv := info.StateVector
	out := executionDetailJSON{
		executionJSON: executionFromSnapshot(snap),
		Attempts:      make([]attemptJSON, 0, len(rows)),
		CompletedAt:   optTime(info.CompletedAt),
		ExecutionKind: info.ExecutionKind,
		Priority:      info.Priority,
		StartedAt:     optTime(info.StartedAt),
		State: stateJSON{
			AttemptState:     string(sv.AttemptState),
			BlockingReason:   string(sv.BlockingReason),
			EligibilityState: string(sv.EligibilityState),
			LifecyclePhase:   string(sv.LifecyclePhase),
			OwnershipState:   string(sv.OwnershipState),
			PublicState:      string(sv.PublicState),
			TerminalOutcome:  string(sv.TerminalOutcome),
		},
	}
	for _, r := range rows {
		out.Attempts = append(out.Attempts, attemptFromRow(r))
	}
	if c.json {
		return c.writeJSON(out)
	}

	w := c.table()
	kv := func(k string, v any) { row(w, k, v) }
	kv("execution_id", out.ExecutionID)
	kv("namespace", dash(out.Namespace))
	kv("lane", dash(out.LaneID))
	kv("kind", dash(out.ExecutionKind))
	kv("flow", dash(out.FlowID))
	kv("priority", out.Priority)
	kv("tags", fmtTags(out.Tags))
	kv("public_state", out.PublicState)
	kv("lifecycle_phase", out.State.LifecyclePhase)
	kv("ownership_state", out.State.OwnershipState)
	kv("eligibility_state", out.State.EligibilityState)
	kv("attempt_state", out.State.AttemptState)
	kv("blocking_reason", out.State.BlockingReason)
	kv("blocking_detail", dash(out.BlockingDetail))
	kv("terminal_outcome", out.State.TerminalOutcome)
	kv("created_at", fmtTime(out.CreatedAt))
	kv("started_at", fmtTime(info.StartedAt))
	kv("completed_at", fmtTime(info.CompletedAt))
	kv("last_mutation_at", fmtTime(out.LastMutationAt))
	current := "-"
	if a := out.CurrentAttempt; a != nil {
		current = strconv.FormatUint(uint64(a.AttemptIndex), 10) + " " + a.AttemptID
	}
	kv("total_attempts", out.TotalAttemptCount)
	kv("current_attempt", current)
	lease := "-"
	if l := out.CurrentLease; l != nil {
		lease = fmt.Sprintf("%s epoch %d (%s) expires %s", dash(l.WorkerInstanceID), l.LeaseEpoch, l.LeaseID, fmtTime(l.ExpiresAt))
	}
	kv("current_lease", lease)
	kv("current_waitpoint", dash(out.CurrentWaitpoint))
	if err := w.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(c.stdout)
	w = c.table()
	row(w, "ATTEMPT", "TYPE", "OUTCOME", "EPOCH", "WORKER", "STARTED_AT", "ENDED_AT", "ATTEMPT_ID")
	for _, a := range out.Attempts {
		row(w, a.AttemptIndex, a.AttemptType, dash(a.Outcome), a.LeaseEpoch, workerLabel(a),
			fmtOptTime(a.StartedAt), fmtOptTime(a.EndedAt), a.AttemptID)
	}
	return w.Flush()
}

// workerLabel renders "worker/instance" of an attempt.
func workerLabel(a attemptJSON) string {
	switch {
	case a.WorkerID == "" && a.WorkerInstanceID == "":
		return "-"
	case a.WorkerID == "":
		return printable(a.WorkerInstanceID)
	}
	return printable(a.WorkerID + "/" + a.WorkerInstanceID)
}

// fmtOptTime renders an optional time.
func fmtOptTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return fmtTime(*t)
}

func isPublicState(s string) bool {
	for _, p := range publicStates {
		if string(p) == s {
			return true
		}
	}
	return false
}

func joinStates() string {
	parts := make([]string, len(publicStates))
	for i, p := range publicStates {
		parts[i] = string(p)
	}
	return strings.Join(parts, ", ")
}
