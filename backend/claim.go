package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// promoteBatch bounds claim's lazy promotion of due delayed executions per
// call, keeping the write transaction short; the next claim (or the delayed
// promoter) takes the rest.
const promoteBatch = 64

// claimGateSkips bounds how many candidates one claim transaction may
// mark blocked by their budget or quota before committing; the claim then
// goes on in a fresh transaction, so the writer is never held long.
const claimGateSkips = 64

// claimRepollInterval bounds how long a waiting Claim sleeps between
// attempts when no in-process wake-up arrives (work may come from another
// process, or a delay may fall due).
const claimRepollInterval = 250 * time.Millisecond

// Claim leases the best eligible execution of lane whose required
// capabilities are covered by caps (priority desc, then created_at, then
// id), creating or re-leasing its current attempt (HandleFresh). A
// lease-expired execution of the lane is taken over as a reclaim (new
// attempt, HandleReclaimed; past the reclaim cap it fails terminally
// instead). Executions with a hard-breached budget (see BudgetStatus) or a
// full quota are skipped and marked blocked (public state rate_limited).
// Returns (nil, nil) when nothing is claimable after waiting up to
// policy.MaxWait.
func (b *SQLiteBackend) Claim(ctx context.Context, lane LaneID, caps CapabilitySet, policy ClaimPolicy) (*Handle, error) {
	db, err := b.live("claim")
	if err != nil {
		return nil, err
	}
	capsJSON, err := planClaim(lane, caps, policy)
	if err != nil {
		return nil, err
	}

	var deadline time.Time
	if policy.MaxWait > 0 {
		deadline = time.Now().Add(policy.MaxWait)
	}
	for woke := false; ; woke = true {
		// Subscribe to the wake-up before looking, so a commit between the
		// look and the wait is not missed.
		woken := db.notify.wait(topicClaimable)
		var h *Handle
		more := false
		// The first try goes straight to the write transaction (the hot
		// path); a woken waiter looks on the reader first, because every
		// commit wakes every waiter.
		work := true
		if woke {
			if work, err = db.laneMayHaveWork(ctx, lane); err != nil {
				return nil, err
			}
		}
		if work {
			h, more, err = db.claimOnce(ctx, lane, capsJSON, policy)
			if err != nil || h != nil {
				return h, err
			}
		}
		if more {
			continue // the gate blocked a full batch: look again at once
		}
		if policy.MaxWait <= 0 {
			return nil, nil
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return nil, nil
		}
		timer := time.NewTimer(min(remaining, db.untilNextDue(ctx, lane, capsJSON)))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-db.notify.done():
			timer.Stop()
			return nil, nil
		case <-woken:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// CompleteAndClaim completes h as Complete does and then claims the next
// execution of lane as Claim does, in one transaction: a worker that runs
// one execution after another (the members of a chain, a lane drained in
// order) commits once per step instead of twice, and a member that h's
// completion made eligible can be the one claimed. It is all or nothing:
// when Complete's part fails (a stale or revoked lease, a terminal
// execution…) nothing is claimed, and an error leaves h uncompleted. The
// arguments are validated, both parts' errors returned, as by Complete and
// Claim. A nil handle with a nil error means h is completed and nothing
// was claimable after waiting up to policy.MaxWait (the wait, when there
// is one, runs after the transaction, as Claim's). Once h is completed the
// call succeeds: a wait for work cut short (ctx cancelled, the backend
// closing) also returns a nil handle and a nil error.
//
// CompleteAndClaim is a method of *SQLiteBackend, not part of
// EngineBackend.
func (b *SQLiteBackend) CompleteAndClaim(ctx context.Context, h Handle, payload []byte, lane LaneID, caps CapabilitySet, policy ClaimPolicy) (*Handle, error) {
	capsJSON, err := planClaim(lane, caps, policy)
	if err != nil {
		return nil, err
	}
	var next *Handle
	more := false
	err = b.handleOp(ctx, "complete_and_claim", h, func(ctx context.Context, w *writeTx, l *leased) error {
		if err := w.complete(ctx, l, payload); err != nil {
			return err
		}
		var err error
		next, more, err = w.claim(ctx, lane, capsJSON, policy)
		return err
	})
	if err != nil || next != nil || (!more && policy.MaxWait <= 0) {
		return next, err
	}
	if next, err = b.Claim(ctx, lane, caps, policy); err != nil {
		return nil, nil // h is completed; the caller's next Claim meets the error
	}
	return next, nil
}

// planClaim validates Claim's arguments and returns the worker's
// capabilities as the JSON array the candidate queries take.
func planClaim(lane LaneID, caps CapabilitySet, policy ClaimPolicy) (string, error) {
	if _, err := ParseLaneID(string(lane)); err != nil {
		return "", err
	}
	if err := validateCapabilities("worker", caps.Tokens); err != nil {
		return "", err
	}
	if policy.LeaseTTL < 0 || policy.MaxWait < 0 {
		return "", errInvalidInput("claim policy: negative duration")
	}
	tokens := caps.Tokens
	if tokens == nil {
		tokens = []string{}
	}
	capsJSON, err := json.Marshal(tokens)
	if err != nil {
		return "", errInvalidInput("capabilities: %v", err)
	}
	return string(capsJSON), nil
}

// untilNextDue is how long a waiting Claim may sleep: until the lane's
// earliest delayed execution falls due, at most claimRepollInterval.
func (db *database) untilNextDue(ctx context.Context, lane LaneID, capsJSON string) time.Duration {
	var due int64 = -1
	err := db.read(ctx, func(q *dbgen.Queries) error {
		probe, err := q.ClaimProbe(ctx, dbgen.ClaimProbeParams{LaneID: string(lane), CapsJson: capsJSON})
		due = probe.NextDueMs
		return err
	})
	if err != nil || due < 0 {
		return claimRepollInterval
	}
	return min(max(time.Duration(due-nowMS(db.clock))*time.Millisecond, time.Millisecond), claimRepollInterval)
}

// laneMayHaveWork is a read-only look at the lane before Claim takes the
// single write lock: idle claimers woken by every commit (or polling) would
// otherwise each run an empty write transaction and starve the producers.
// It ignores capabilities and gates, so true only means "worth a look".
func (db *database) laneMayHaveWork(ctx context.Context, lane LaneID) (bool, error) {
	var work int64
	err := db.read(ctx, func(q *dbgen.Queries) error {
		var err error
		work, err = q.LaneMayHaveWork(ctx, dbgen.LaneMayHaveWorkParams{LaneID: string(lane), NowMs: nowMS(db.clock)})
		return err
	})
	return work != 0, err
}

// claimOnce is one claim transaction. more reports that it stopped after
// blocking claimGateSkips gated candidates, with others possibly left.
func (db *database) claimOnce(ctx context.Context, lane LaneID, capsJSON string, policy ClaimPolicy) (handle *Handle, more bool, err error) {
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		var err error
		handle, more, err = w.claim(ctx, lane, capsJSON, policy)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return handle, more, nil
}

// claim is a claim transaction's body (see claimOnce).
func (w *writeTx) claim(ctx context.Context, lane LaneID, capsJSON string, policy ClaimPolicy) (*Handle, bool, error) {
	skips := 0
	for {
		probe, err := w.q.ClaimProbe(ctx, dbgen.ClaimProbeParams{LaneID: string(lane), CapsJson: capsJSON})
		if err != nil {
			return nil, false, err
		}
		if probe.NextDueMs >= 0 && probe.NextDueMs <= w.now {
			if err := w.promoteDueInLane(ctx, lane); err != nil {
				return nil, false, err
			}
		}
		var eligible *exec
		row, err := w.q.NextEligible(ctx, dbgen.NextEligibleParams{LaneID: string(lane), CapsJson: capsJSON})
		switch {
		case err == nil:
			eligible = &exec{row.FfExecCore}
		case !errors.Is(err, sql.ErrNoRows):
			return nil, false, err
		}
		pick, reclaim, err := w.betterCandidate(ctx, eligible, probe.ReclaimableID)
		if err != nil || pick == nil {
			return nil, false, err
		}
		if !reclaim {
			// Budgets and quotas gate new work only: a reclaim continues
			// an execution that was already admitted (decision 16).
			blocked, err := w.gateClaim(ctx, pick)
			if err != nil {
				return nil, false, err
			}
			if blocked {
				if skips++; skips >= claimGateSkips {
					return nil, true, nil
				}
				continue
			}
			h, err := w.leaseExecution(ctx, pick, specFromPolicy(policy), HandleFresh)
			return h, false, err
		}
		// A reclaim past the execution's cap fails it terminally and the
		// search goes on.
		limit, err := pick.reclaimLimit()
		if err != nil {
			return nil, false, err
		}
		h, err := w.reclaimExecution(ctx, pick, specFromPolicy(policy), limit)
		if err != nil || h != nil {
			return h, false, err
		}
	}
}

// promoteDueInLane makes the lane's delayed executions whose time has come
// eligible, a bounded batch. Claim runs it only when its probe found one
// due: the batch update materialises its id list on every run (~18 µs
// against the probe's ~6 per claim), and a lane usually has nothing due.
func (w *writeTx) promoteDueInLane(ctx context.Context, lane LaneID) error {
	ps := string(derivePublicState(PhaseRunnable, EligibilityEligibleNow, OutcomeNone, ""))
	_, err := w.q.PromoteDueInLane(ctx, dbgen.PromoteDueInLaneParams{
		PublicState: ps, NowMs: w.now, LaneID: string(lane), Batch: promoteBatch,
	})
	return err
}

// betterCandidate returns whichever of the eligible execution and the
// reclaimable one (loaded here; either may be absent) ranks first in claim
// order, and whether that is the reclaim.
func (w *writeTx) betterCandidate(ctx context.Context, eligible *exec, reclaimableID string) (*exec, bool, error) {
	if reclaimableID == "" {
		return eligible, false, nil
	}
	reclaimable, err := w.loadExec(ctx, reclaimableID)
	if err != nil {
		return nil, false, err
	}
	if eligible == nil || claimsBefore(reclaimable, eligible) {
		return reclaimable, true, nil
	}
	return eligible, false, nil
}

// claimsBefore is the claim order: priority desc, then created_at, then id.
func claimsBefore(a, b *exec) bool {
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	if a.CreatedAtMs != b.CreatedAtMs {
		return a.CreatedAtMs < b.CreatedAtMs
	}
	return a.ExecutionID < b.ExecutionID
}

// leaseExecution leases a runnable execution: a fresh attempt when the
// previous one ended (first attempt, retry), otherwise the current attempt
// again with the next epoch (after delay, wait_children, revoke, replay).
func (w *writeTx) leaseExecution(ctx context.Context, e *exec, spec leaseSpec, kind HandleKind) (*Handle, error) {
	var a *attempt
	switch e.attemptState() {
	case AttemptStatePendingFirstAttempt, AttemptStatePendingRetryAttempt, AttemptStateNone:
		a = w.newAttempt(e, attemptTypeFor(e.attemptState()))
	default:
		var err error
		a, err = w.loadAttempt(ctx, e.ExecutionID, e.AttemptIndex)
		if errors.Is(err, ErrNotFound) {
			a, err = w.newAttempt(e, AttemptTypeInitial), nil
		}
		if err != nil {
			return nil, err
		}
		if e.attemptState() == AttemptStatePendingReplayAttempt {
			a.AttemptType = string(AttemptTypeReplay)
		}
	}
	return w.leaseAttempt(ctx, e, a, spec, kind, LeaseAcquired)
}

// leaseAttempt gives attempt a of e a new lease under spec, makes the
// execution active, saves both rows, records the lease event and mints the
// holder's handle.
func (w *writeTx) leaseAttempt(ctx context.Context, e *exec, a *attempt, spec leaseSpec, kind HandleKind, event LeaseEventKind) (*Handle, error) {
	w.startLease(e, a, spec)
	e.setState(PhaseActive, OwnershipLeased, EligibilityNotApplicable, AttemptStateRunningAttempt, BlockingNone)
	e.BlockingDetail = ""
	e.DelayUntilMs = sql.NullInt64{}
	if err := w.saveAttempt(ctx, a); err != nil {
		return nil, err
	}
	if err := w.saveExec(ctx, e); err != nil {
		return nil, err
	}
	if err := w.leaseEvent(ctx, e, a, event); err != nil {
		return nil, err
	}
	return w.mintHandle(e, a, spec, kind), nil
}

// reclaimExecution takes over a lease-expired execution (decision 11): the
// old attempt ends interrupted_reclaimed and a new one is leased. Past the
// reclaim cap the execution fails terminally instead and nil is returned.
func (w *writeTx) reclaimExecution(ctx context.Context, e *exec, spec leaseSpec, limit int64) (*Handle, error) {
	old, err := w.loadAttempt(ctx, e.ExecutionID, e.AttemptIndex)
	if err != nil {
		return nil, err
	}
	old.endLease(w.now, "interrupted_reclaimed")
	if err := w.saveAttempt(ctx, old); err != nil {
		return nil, err
	}
	if e.LeaseReclaimCount >= limit {
		e.setState(PhaseTerminal, OwnershipUnowned, EligibilityNotApplicable, AttemptStateAttemptTerminal, BlockingNone)
		e.TerminalOutcome = string(OutcomeFailed)
		e.TerminalAtMs = nullInt(w.now)
		e.LastFailureMessage = nullString(fmt.Sprintf("reclaim cap exceeded: %d reclaims (max %d)", e.LeaseReclaimCount, limit))
		e.FailureCategory = nullString("reclaim_cap_exceeded")
		if err := w.saveExec(ctx, e); err != nil {
			return nil, err
		}
		if err := w.leaseEvent(ctx, e, old, LeaseRevoked); err != nil {
			return nil, err
		}
		return nil, w.becameTerminal(ctx, e)
	}
	e.LeaseReclaimCount++
	return w.leaseAttempt(ctx, e, w.newAttempt(e, AttemptTypeReclaim), spec, HandleReclaimed, LeaseReclaimed)
}

// leaseSpec says who takes a lease, for how long, and under which ids
// (empty ids are minted; callers of the grant paths bring their own).
type leaseSpec struct {
	workerID         WorkerID
	workerInstanceID WorkerInstanceID
	ttl              time.Duration
	lane             LaneID // lane recorded in the handle ("" = the execution's)
	attemptID        AttemptID
	leaseID          LeaseID
}

func specFromPolicy(p ClaimPolicy) leaseSpec {
	return leaseSpec{workerID: p.WorkerID, workerInstanceID: p.WorkerInstanceID, ttl: p.LeaseTTL}
}

// newAttempt creates the next attempt row (index = attempts created so far)
// and makes it the execution's current attempt.
func (w *writeTx) newAttempt(e *exec, typ AttemptType) *attempt {
	a := &attempt{}
	a.ExecutionID = e.ExecutionID
	a.AttemptIndex = e.TotalAttemptCount
	a.AttemptID = string(NewAttemptID())
	a.AttemptType = string(typ)
	e.AttemptIndex = a.AttemptIndex
	e.TotalAttemptCount++
	return a
}

// startLease gives a a new lease (new lease id, next epoch) for policy's
// holder and TTL.
func (w *writeTx) startLease(e *exec, a *attempt, spec leaseSpec) {
	ttl := durationToMS(spec.ttl)
	leaseID := spec.leaseID
	if leaseID == "" {
		leaseID = NewLeaseID()
	}
	if spec.attemptID != "" {
		a.AttemptID = string(spec.attemptID)
	}
	a.LeaseID = nullString(string(leaseID))
	a.LeaseEpoch++
	a.LeaseTtlMs = ttl
	a.LeaseExpiresAtMs = nullInt(w.now + ttl)
	a.LeaseRenewedAtMs = nullInt(w.now)
	a.WorkerID = nullString(string(spec.workerID))
	a.WorkerInstanceID = nullString(string(spec.workerInstanceID))
	a.StartedAtMs = nullInt(w.now)
	a.TerminalAtMs = sql.NullInt64{}
	a.Outcome = sql.NullString{}
	a.RetryDueAtMs = sql.NullInt64{}
	if !e.StartedAtMs.Valid {
		e.StartedAtMs = nullInt(w.now)
	}
}

// mintHandle builds the worker's handle for a's current lease.
func (w *writeTx) mintHandle(e *exec, a *attempt, spec leaseSpec, kind HandleKind) *Handle {
	lane := spec.lane
	if lane == "" {
		lane = LaneID(e.LaneID)
	}
	opaque := EncodeHandleOpaque(BackendSQLite, HandlePayload{
		AttemptID:        AttemptID(a.AttemptID),
		AttemptIndex:     AttemptIndex(a.AttemptIndex),
		ExecutionID:      e.id(),
		LaneID:           lane,
		LeaseEpoch:       LeaseEpoch(a.LeaseEpoch),
		LeaseID:          LeaseID(a.LeaseID.String),
		LeaseTTL:         msToDuration(a.LeaseTtlMs),
		WorkerInstanceID: spec.workerInstanceID,
	})
	h := NewHandle(BackendSQLite, kind, opaque)
	return &h
}

// reclaimLimit is the execution's own reclaim cap (decision 11).
func (e *exec) reclaimLimit() (int64, error) {
	pol, err := e.policy()
	if err != nil {
		return 0, err
	}
	if pol != nil && pol.MaxReclaimCount > 0 {
		return int64(pol.MaxReclaimCount), nil
	}
	return MaxReclaimCountDefault, nil
}
