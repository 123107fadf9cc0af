package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// derivePublicState is the one place public_state comes from (decision 4).
// stored is the current stored value: "resumable" is kept while the
// execution is still runnable and eligible, because it is set by a
// satisfied suspension and cannot be derived from the other dimensions; a
// block (BlockRoute) shows as the block.
func derivePublicState(phase LifecyclePhase, elig EligibilityState, outcome TerminalOutcome, stored PublicState) PublicState {
	switch phase {
	case PhaseTerminal:
		switch outcome {
		case OutcomeSuccess:
			return PublicStateCompleted
		case OutcomeCancelled:
			return PublicStateCancelled
		case OutcomeExpired:
			return PublicStateExpired
		case OutcomeSkipped:
			return PublicStateSkipped
		default:
			// An inconsistent terminal row surfaces as failed.
			return PublicStateFailed
		}
	case PhaseSuspended:
		return PublicStateSuspended
	case PhaseActive:
		return PublicStateActive
	case PhaseRunnable:
		if stored == PublicStateResumable && elig == EligibilityEligibleNow {
			return PublicStateResumable
		}
		switch elig {
		case EligibilityNotEligibleUntilTime:
			return PublicStateDelayed
		case EligibilityBlockedByDependencies:
			return PublicStateWaitingChildren
		case EligibilityBlockedByBudget, EligibilityBlockedByQuota:
			return PublicStateRateLimited
		}
	}
	return PublicStateWaiting
}

// exec is an ff_exec_core row being changed inside a write transaction.
// Its state dimensions are set through the typed setters and it is written
// back whole by save, which derives public_state.
type exec struct {
	dbgen.FfExecCore
}

func (e *exec) id() ExecutionID                  { return ExecutionID(e.ExecutionID) }
func (e *exec) phase() LifecyclePhase            { return LifecyclePhase(e.LifecyclePhase) }
func (e *exec) ownership() OwnershipState        { return OwnershipState(e.OwnershipState) }
func (e *exec) eligibility() EligibilityState    { return EligibilityState(e.EligibilityState) }
func (e *exec) attemptState() AttemptState       { return AttemptState(e.AttemptState) }
func (e *exec) terminalOutcome() TerminalOutcome { return TerminalOutcome(e.TerminalOutcome) }

// setState sets the state vector (except public_state, which save derives).
func (e *exec) setState(phase LifecyclePhase, own OwnershipState, elig EligibilityState, att AttemptState, br BlockingReason) {
	e.LifecyclePhase = string(phase)
	e.OwnershipState = string(own)
	e.EligibilityState = string(elig)
	e.AttemptState = string(att)
	e.BlockingReason = string(br)
	if phase != PhaseRunnable {
		// Resumable only survives while runnable (see derivePublicState).
		e.PublicState = ""
	}
}

// stateVector reads the full state.
func (e *exec) stateVector() StateVector {
	return StateVector{
		AttemptState:     e.attemptState(),
		BlockingReason:   BlockingReason(e.BlockingReason),
		EligibilityState: e.eligibility(),
		LifecyclePhase:   e.phase(),
		OwnershipState:   e.ownership(),
		PublicState:      PublicState(e.PublicState),
		TerminalOutcome:  e.terminalOutcome(),
	}
}

// policy decodes the stored ExecutionPolicy (nil when none was given).
func (e *exec) policy() (*ExecutionPolicy, error) {
	if !e.Policy.Valid || e.Policy.String == "" {
		return nil, nil
	}
	var p ExecutionPolicy
	if err := json.Unmarshal([]byte(e.Policy.String), &p); err != nil {
		return nil, errCorruption("exec_core: policy: " + err.Error())
	}
	return &p, nil
}

// tags decodes the stored tag map (never nil).
func (e *exec) tags() (map[string]string, error) {
	tags := map[string]string{}
	if e.Tags != "" {
		if err := json.Unmarshal([]byte(e.Tags), &tags); err != nil {
			return nil, errCorruption("exec_core: tags: " + err.Error())
		}
	}
	return tags, nil
}

// notActive builds ErrExecutionNotActive with the execution's facts and,
// when known, the attempt the caller held (nil: no lease, epoch "").
func (e *exec) notActive(a *attempt) error {
	info := &ExecutionNotActiveInfo{LifecyclePhase: e.LifecyclePhase, TerminalOutcome: e.TerminalOutcome}
	if a != nil {
		info.AttemptID = a.AttemptID
		info.LeaseEpoch = strconv.FormatInt(a.LeaseEpoch, 10)
	}
	return &Error{
		Kind:      KindContention,
		SubKind:   SubKindExecutionNotActive,
		Detail:    "execution " + e.ExecutionID + " is " + e.LifecyclePhase,
		NotActive: info,
	}
}

// loadExec reads an execution for change; a missing row is
// NotFound(execution).
func (w *writeTx) loadExec(ctx context.Context, id string) (*exec, error) {
	row, err := w.q.GetExecution(ctx, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound(EntityExecution)
	}
	if err != nil {
		return nil, err
	}
	return &exec{row}, nil
}

// stamp prepares e's changed state for writing: it derives public_state,
// stamps the mutation time and wakes claimers when e became claimable.
func (w *writeTx) stamp(e *exec) {
	e.PublicState = string(derivePublicState(e.phase(), e.eligibility(), e.terminalOutcome(), PublicState(e.PublicState)))
	e.LastMutationAtMs = w.now
	if e.eligibility() == EligibilityEligibleNow && e.phase() == PhaseRunnable {
		w.wake(topicClaimable)
	}
}

// saveExec stamps e and writes the row back whole.
func (w *writeTx) saveExec(ctx context.Context, e *exec) error {
	w.stamp(e)
	return w.q.SaveExecution(ctx, dbgen.SaveExecutionParams{
		Priority:           e.Priority,
		LifecyclePhase:     e.LifecyclePhase,
		OwnershipState:     e.OwnershipState,
		EligibilityState:   e.EligibilityState,
		AttemptState:       e.AttemptState,
		BlockingReason:     e.BlockingReason,
		TerminalOutcome:    e.TerminalOutcome,
		PublicState:        e.PublicState,
		BlockingDetail:     e.BlockingDetail,
		AttemptIndex:       e.AttemptIndex,
		TotalAttemptCount:  e.TotalAttemptCount,
		RetryCount:         e.RetryCount,
		ReplayCount:        e.ReplayCount,
		LeaseReclaimCount:  e.LeaseReclaimCount,
		DelayUntilMs:       e.DelayUntilMs,
		LastMutationAtMs:   e.LastMutationAtMs,
		StartedAtMs:        e.StartedAtMs,
		TerminalAtMs:       e.TerminalAtMs,
		Result:             e.Result,
		CancellationReason: e.CancellationReason,
		CancelledBy:        e.CancelledBy,
		LastFailureMessage: e.LastFailureMessage,
		FailureCategory:    e.FailureCategory,
		ProgressPct:        e.ProgressPct,
		ProgressMessage:    e.ProgressMessage,
		ExecutionID:        e.ExecutionID,
	})
}

// attempt is an ff_attempt row being changed inside a write transaction.
type attempt struct {
	dbgen.FfAttempt
}

func (w *writeTx) loadAttempt(ctx context.Context, id string, index int64) (*attempt, error) {
	row, err := w.q.GetAttempt(ctx, dbgen.GetAttemptParams{ExecutionID: id, AttemptIndex: index})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound(EntityAttempt)
	}
	if err != nil {
		return nil, err
	}
	return &attempt{row}, nil
}

func (w *writeTx) saveAttempt(ctx context.Context, a *attempt) error {
	return w.q.PutAttempt(ctx, dbgen.PutAttemptParams(a.FfAttempt))
}

// endLease clears the attempt's live lease (the lease id and holder stay
// recorded for history and events).
func (a *attempt) endLease(now int64, outcome string) {
	a.LeaseExpiresAtMs = sql.NullInt64{}
	a.Outcome = nullString(outcome)
	a.TerminalAtMs = sql.NullInt64{Int64: now, Valid: true}
}

// leaseEvent appends a lease-history outbox row about a's lease.
func (w *writeTx) leaseEvent(ctx context.Context, e *exec, a *attempt, kind LeaseEventKind) error {
	err := w.q.InsertLeaseEvent(ctx, dbgen.InsertLeaseEventParams{
		ExecutionID:      e.ExecutionID,
		AttemptIndex:     a.AttemptIndex,
		LeaseID:          a.LeaseID.String,
		WorkerInstanceID: a.WorkerInstanceID.String,
		EventType:        string(kind),
		Namespace:        nullString(e.Namespace),
		InstanceTag:      e.InstanceTag,
		OccurredAtMs:     w.now,
	})
	w.wake(topicLeaseHistory)
	return err
}

// becameTerminal is the shared step every path that makes an execution
// terminal goes through (decision 13), called once e is saved terminal: it
// writes the completion event subscribers consume and, in the same
// transaction, resolves the flow edges that depend on e (resolve.go).
// Executions that resolution ends in turn (skipped dependents, cancelled
// siblings) go through this same step on its worklist.
func (w *writeTx) becameTerminal(ctx context.Context, e *exec) error {
	return w.settleTerminal(ctx, e)
}

func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

func nullInt(v int64) sql.NullInt64 {
	return sql.NullInt64{Int64: v, Valid: true}
}
