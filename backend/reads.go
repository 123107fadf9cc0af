package backend

import (
	"context"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// listLimitMax caps ListExecutions pages.
const listLimitMax = 1000

// readExec loads one execution on the reader; found is false when it does
// not exist. Malformed ids are ErrInvalidInput.
func (b *SQLiteBackend) readExec(ctx context.Context, op string, id ExecutionID, fn func(q *dbgen.Queries, e *exec) error) (found bool, err error) {
	db, err := b.live(op)
	if err != nil {
		return false, err
	}
	if _, err := ParseExecutionID(string(id)); err != nil {
		return false, err
	}
	err = db.read(ctx, func(q *dbgen.Queries) error {
		row, err := q.GetExecution(ctx, string(id))
		if isNoRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		e := &exec{row}
		if err := checkStoredState(e); err != nil {
			return err
		}
		return fn(q, e)
	})
	return found, err
}

// checkStoredState rejects a row whose state literals are not ours, so a
// corrupt row surfaces as ErrCorruption rather than as a bogus enum.
func checkStoredState(e *exec) error {
	sv := e.stateVector()
	checks := []struct {
		column string
		value  string
		known  bool
	}{
		{"lifecycle_phase", string(sv.LifecyclePhase), knownPhase[sv.LifecyclePhase]},
		{"public_state", string(sv.PublicState), knownPublic[sv.PublicState]},
	}
	for _, c := range checks {
		if !c.known {
			return errCorruption("exec_core: " + c.column + ": '" + c.value + "' is not a known value")
		}
	}
	return nil
}

var knownPhase = map[LifecyclePhase]bool{PhaseActive: true, PhaseRunnable: true, PhaseSubmitted: true, PhaseSuspended: true, PhaseTerminal: true}

var knownPublic = map[PublicState]bool{
	PublicStateActive: true, PublicStateCancelled: true, PublicStateCompleted: true, PublicStateDelayed: true,
	PublicStateExpired: true, PublicStateFailed: true, PublicStateRateLimited: true, PublicStateResumable: true,
	PublicStateSkipped: true, PublicStateSuspended: true, PublicStateWaiting: true, PublicStateWaitingChildren: true,
}

// DescribeExecution returns the execution's snapshot, or (nil, nil) when it
// does not exist.
func (b *SQLiteBackend) DescribeExecution(ctx context.Context, id ExecutionID) (*ExecutionSnapshot, error) {
	var snap *ExecutionSnapshot
	_, err := b.readExec(ctx, "describe_execution", id, func(q *dbgen.Queries, e *exec) error {
		tags, err := e.tags()
		if err != nil {
			return err
		}
		s := &ExecutionSnapshot{
			BlockingDetail:    e.BlockingDetail,
			CreatedAt:         fromMS(e.CreatedAtMs),
			ExecutionID:       e.id(),
			FlowID:            FlowID(e.FlowID.String),
			LaneID:            LaneID(e.LaneID),
			LastMutationAt:    fromMS(e.LastMutationAtMs),
			Namespace:         Namespace(e.Namespace),
			PublicState:       PublicState(e.PublicState),
			Tags:              tags,
			TotalAttemptCount: uint32(e.TotalAttemptCount),
		}
		if br := BlockingReason(e.BlockingReason); br != BlockingNone {
			s.BlockingReason = br
		}
		if e.phase() == PhaseSuspended {
			// The suspension row outlives the suspension (ObserveSignals),
			// so only a suspended execution has a current waitpoint.
			sus, err := q.GetSuspension(ctx, e.ExecutionID)
			if err != nil && !isNoRows(err) {
				return err
			}
			s.CurrentWaitpoint = WaitpointID(sus.PrimaryWaitpointID)
		}
		if e.TotalAttemptCount > 0 {
			a, err := q.GetAttempt(ctx, dbgen.GetAttemptParams{ExecutionID: e.ExecutionID, AttemptIndex: e.AttemptIndex})
			if err != nil && !isNoRows(err) {
				return err
			}
			if err == nil {
				s.CurrentAttempt = &AttemptSummary{AttemptID: AttemptID(a.AttemptID), AttemptIndex: AttemptIndex(a.AttemptIndex)}
				if e.phase() == PhaseActive && e.ownership() == OwnershipLeased && a.LeaseExpiresAtMs.Valid {
					s.CurrentLease = &LeaseSummary{
						AttemptIndex:     AttemptIndex(a.AttemptIndex),
						ExpiresAt:        fromMS(a.LeaseExpiresAtMs.Int64),
						LastHeartbeatAt:  fromMS(a.LeaseRenewedAtMs.Int64),
						LeaseEpoch:       LeaseEpoch(a.LeaseEpoch),
						LeaseID:          LeaseID(a.LeaseID.String),
						WorkerInstanceID: WorkerInstanceID(a.WorkerInstanceID.String),
					}
				}
			}
		}
		snap = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// ReadExecutionContext returns input payload, kind and tags. Unknown
// execution is ErrInvalidInput.
func (b *SQLiteBackend) ReadExecutionContext(ctx context.Context, id ExecutionID) (ExecutionContext, error) {
	var out ExecutionContext
	found, err := b.readExec(ctx, "read_execution_context", id, func(q *dbgen.Queries, e *exec) error {
		tags, err := e.tags()
		if err != nil {
			return err
		}
		payload := e.Payload
		if e.PayloadExternal == 1 {
			if payload, err = q.PayloadGet(ctx, e.ExecutionID); err != nil {
				return err
			}
		}
		if payload == nil {
			payload = []byte{}
		}
		out = ExecutionContext{ExecutionKind: e.ExecutionKind, InputPayload: payload, Tags: tags}
		return nil
	})
	if err == nil && !found {
		err = errInvalidInput("read_execution_context: execution not found: %s", id)
	}
	if err != nil {
		return ExecutionContext{}, err
	}
	return out, nil
}

// ReadCurrentAttemptIndex returns the current (leased, or last) attempt
// index; 0 before the first claim. Unknown is ErrInvalidInput.
func (b *SQLiteBackend) ReadCurrentAttemptIndex(ctx context.Context, id ExecutionID) (AttemptIndex, error) {
	var out AttemptIndex
	found, err := b.readExec(ctx, "read_current_attempt_index", id, func(_ *dbgen.Queries, e *exec) error {
		out = AttemptIndex(e.AttemptIndex)
		return nil
	})
	if err == nil && !found {
		err = errInvalidInput("read_current_attempt_index: execution not found: %s", id)
	}
	return out, err
}

// ReadTotalAttemptCount returns how many attempts were ever created.
// Unknown is ErrInvalidInput.
func (b *SQLiteBackend) ReadTotalAttemptCount(ctx context.Context, id ExecutionID) (AttemptIndex, error) {
	var out AttemptIndex
	found, err := b.readExec(ctx, "read_total_attempt_count", id, func(_ *dbgen.Queries, e *exec) error {
		out = AttemptIndex(e.TotalAttemptCount)
		return nil
	})
	if err == nil && !found {
		err = errInvalidInput("read_total_attempt_count: execution not found: %s", id)
	}
	return out, err
}

// ReadExecutionState returns the public state, or (nil, nil) when the
// execution does not exist.
func (b *SQLiteBackend) ReadExecutionState(ctx context.Context, id ExecutionID) (*PublicState, error) {
	var out *PublicState
	_, err := b.readExec(ctx, "read_execution_state", id, func(_ *dbgen.Queries, e *exec) error {
		ps := PublicState(e.PublicState)
		out = &ps
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadExecutionInfo returns the legacy full view, or (nil, nil) when the
// execution does not exist.
func (b *SQLiteBackend) ReadExecutionInfo(ctx context.Context, id ExecutionID) (*ExecutionInfo, error) {
	var out *ExecutionInfo
	_, err := b.readExec(ctx, "read_execution_info", id, func(_ *dbgen.Queries, e *exec) error {
		info := &ExecutionInfo{
			BlockingDetail:      e.BlockingDetail,
			CreatedAt:           fromMS(e.CreatedAtMs),
			CurrentAttemptIndex: AttemptIndex(e.AttemptIndex),
			ExecutionID:         e.id(),
			ExecutionKind:       e.ExecutionKind,
			FlowID:              FlowID(e.FlowID.String),
			LaneID:              LaneID(e.LaneID),
			Namespace:           Namespace(e.Namespace),
			Priority:            int32(e.Priority),
			PublicState:         PublicState(e.PublicState),
			StateVector:         e.stateVector(),
		}
		if e.TerminalAtMs.Valid {
			info.CompletedAt = fromMS(e.TerminalAtMs.Int64)
		}
		if e.StartedAtMs.Valid {
			info.StartedAt = fromMS(e.StartedAtMs.Int64)
		}
		out = info
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetExecutionResult returns the stored result payload; ok is false when
// the execution does not exist or has no result.
func (b *SQLiteBackend) GetExecutionResult(ctx context.Context, id ExecutionID) ([]byte, bool, error) {
	db, err := b.live("get_execution_result")
	if err != nil {
		return nil, false, err
	}
	if _, err := ParseExecutionID(string(id)); err != nil {
		return nil, false, err
	}
	// Not through readExec: the driver scans an empty BLOB as a nil []byte,
	// so the whole row's Result cannot tell an empty result (stored by
	// Complete(h, []byte{})) from none. GetExecutionResult only returns a
	// row when the column is not NULL.
	var payload []byte
	var ok bool
	err = db.read(ctx, func(q *dbgen.Queries) error {
		res, err := q.GetExecutionResult(ctx, string(id))
		if isNoRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		payload, ok = res, true
		if payload == nil {
			payload = []byte{}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return payload, ok, nil
}

// ListExecutions lists execution ids of one partition in id order.
func (b *SQLiteBackend) ListExecutions(ctx context.Context, partition PartitionKey, cursor ExecutionID, limit int) (ListExecutionsPage, error) {
	db, err := b.live("list_executions")
	if err != nil {
		return ListExecutionsPage{}, err
	}
	p, err := partition.Partition()
	if err != nil {
		return ListExecutionsPage{}, err
	}
	// Any family's key is accepted and only its index is used (spec 02
	// §16.8, the Postgres/Valkey semantics); rejecting "{b:N}" and "{q:N}"
	// contradicted it.
	if cursor != "" {
		if _, err := ParseExecutionID(string(cursor)); err != nil {
			return ListExecutionsPage{}, err
		}
	}
	page := ListExecutionsPage{Items: []ExecutionID{}}
	if limit <= 0 {
		return page, nil
	}
	limit = min(limit, listLimitMax)
	err = db.read(ctx, func(q *dbgen.Queries) error {
		ids, err := q.ListExecutionIDs(ctx, dbgen.ListExecutionIDsParams{PartitionKey: int64(p.Index), After: string(cursor), Lim: int64(limit + 1)})
		if err != nil {
			return err
		}
		page = pageOf[ExecutionID, ExecutionID](ids, limit, func(s string) ExecutionID { return ExecutionID(s) })
		return nil
	})
	return page, err
}

// ListLanes lists every lane an execution was ever created on.
func (b *SQLiteBackend) ListLanes(ctx context.Context, cursor LaneID, limit int) (ListLanesPage, error) {
	db, err := b.live("list_lanes")
	if err != nil {
		return ListLanesPage{}, err
	}
	if cursor != "" {
		if _, err := ParseLaneID(string(cursor)); err != nil {
			return ListLanesPage{}, err
		}
	}
	page := ListLanesPage{Items: []LaneID{}}
	if limit <= 0 {
		return page, nil
	}
	// No upper cap here (spec 02 §16.9; API.md caps only ListExecutions):
	// capping silently returned fewer lanes than asked for with a cursor.
	err = db.read(ctx, func(q *dbgen.Queries) error {
		lanes, err := q.ListLanes(ctx, dbgen.ListLanesParams{After: string(cursor), Lim: int64(limit + 1)})
		if err != nil {
			return err
		}
		page = pageOf[LaneID, LaneID](lanes, limit, func(s string) LaneID { return LaneID(s) })
		return nil
	})
	return page, err
}

// pageOf builds a page from up to limit+1 rows: the extra row only tells
// that another page exists, so an exactly-full last page has no Next.
func pageOf[T any, C ~string](rows []string, limit int, conv func(string) T) Page[T, C] {
	page := Page[T, C]{Items: make([]T, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			page.Next = C(rows[limit-1])
			break
		}
		page.Items = append(page.Items, conv(r))
	}
	return page
}
