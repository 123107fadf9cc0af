package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// Grant kinds stored in ff_claim_grant.kind.
const (
	grantClaim   = "claim"
	grantReclaim = "reclaim"
)

// ScanEligibleExecutions returns up to args.Limit claimable execution ids
// of the lane and partition, in claim order.
func (b *SQLiteBackend) ScanEligibleExecutions(ctx context.Context, args ScanEligibleArgs) ([]ExecutionID, error) {
	db, err := b.live("scan_eligible_executions")
	if err != nil {
		return nil, err
	}
	if _, err := ParseLaneID(string(args.LaneID)); err != nil {
		return nil, err
	}
	if args.Limit < 0 {
		return nil, errInvalidInput("scan_eligible_executions: negative limit")
	}
	out := []ExecutionID{}
	if args.Limit == 0 {
		return out, nil
	}
	err = db.read(ctx, func(q *dbgen.Queries) error {
		ids, err := q.ScanEligible(ctx, dbgen.ScanEligibleParams{
			LaneID: string(args.LaneID), PartitionKey: int64(args.Partition.Index), Lim: int64(min(args.Limit, listLimitMax)),
		})
		for _, id := range ids {
			out = append(out, ExecutionID(id))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// missingCapabilities returns the execution's required capabilities that
// worker does not offer, sorted.
func (w *writeTx) missingCapabilities(ctx context.Context, e *exec, worker []string) ([]string, error) {
	if e.RequiredCapCount == 0 {
		return nil, nil
	}
	required, err := w.q.ListCapabilities(ctx, e.ExecutionID)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, c := range required {
		if !slices.Contains(worker, c) {
			missing = append(missing, c)
		}
	}
	return missing, nil
}

// insertGrant records a claim or reclaim grant and returns its id.
func (w *writeTx) insertGrant(ctx context.Context, kind string, e *exec, workerID WorkerID, instance WorkerInstanceID, lane LaneID, capHash string, caps []string, ttlMS int64) (string, error) {
	sorted := slices.Sorted(slices.Values(caps))
	if sorted == nil {
		sorted = []string{}
	}
	capsJSON, err := json.Marshal(sorted)
	if err != nil {
		return "", err
	}
	grantID := uuid.NewString()
	return grantID, w.q.InsertGrant(ctx, dbgen.InsertGrantParams{
		GrantID:            grantID,
		ExecutionID:        e.ExecutionID,
		Kind:               kind,
		WorkerID:           string(workerID),
		WorkerInstanceID:   string(instance),
		LaneID:             nullString(string(lane)),
		CapabilityHash:     nullString(capHash),
		WorkerCapabilities: string(capsJSON),
		GrantTtlMs:         ttlMS,
		IssuedAtMs:         w.now,
		ExpiresAtMs:        w.now + ttlMS,
	})
}

// IssueClaimGrant records a claim grant for one eligible execution.
func (b *SQLiteBackend) IssueClaimGrant(ctx context.Context, args IssueClaimGrantArgs) (IssueClaimGrantOutcome, error) {
	if err := validateCapabilities("worker", args.WorkerCapabilities); err != nil {
		return IssueClaimGrantOutcome{}, err
	}
	if args.GrantTTL < 0 {
		return IssueClaimGrantOutcome{}, errInvalidInput("issue_claim_grant: negative grant_ttl")
	}
	if args.Partition.Index != args.ExecutionID.Partition() {
		return IssueClaimGrantOutcome{}, errInvalidInput("issue_claim_grant: partition %s does not match execution %s", args.Partition.Key(), args.ExecutionID)
	}
	err := b.operatorWrite(ctx, "issue_claim_grant", args.ExecutionID, func(ctx context.Context, w *writeTx, e *exec) error {
		if e.phase() != PhaseRunnable || e.eligibility() != EligibilityEligibleNow {
			return errContention(SubKindExecutionNotEligible, "issue_claim_grant: execution is "+e.PublicState)
		}
		if err := w.q.DeleteExpiredGrants(ctx, dbgen.DeleteExpiredGrantsParams{ExecutionID: e.ExecutionID, Kind: grantClaim, NowMs: w.now}); err != nil {
			return err
		}
		if _, err := w.q.NewestGrant(ctx, dbgen.NewestGrantParams{ExecutionID: e.ExecutionID, Kind: grantClaim}); err == nil {
			return errState(SubKindGrantAlreadyExists, "issue_claim_grant: an unexpired claim grant exists")
		} else if !isNoRows(err) {
			return err
		}
		missing, err := w.missingCapabilities(ctx, e, args.WorkerCapabilities)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return errValidation(SubKindCapabilityMismatch, "%s", strings.Join(missing, ","))
		}
		_, err = w.insertGrant(ctx, grantClaim, e, args.WorkerID, args.WorkerInstanceID, args.LaneID, args.CapabilityHash, args.WorkerCapabilities, durationToMS(args.GrantTTL))
		return err
	})
	if err != nil {
		return IssueClaimGrantOutcome{}, err
	}
	return IssueClaimGrantOutcome{ExecutionID: args.ExecutionID}, nil
}

// blockedEligibility maps BlockRoute's reason codes to the eligibility
// state they park an execution in.
var blockedEligibility = map[BlockingReason]EligibilityState{
	BlockingWaitingForBudget:        EligibilityBlockedByBudget,
	BlockingWaitingForQuota:         EligibilityBlockedByQuota,
	BlockingWaitingForCapableWorker: EligibilityBlockedByRoute,
	BlockingPausedByOperator:        EligibilityBlockedByOperator,
	BlockingPausedByPolicy:          EligibilityBlockedByLaneState,
}

// BlockRoute parks a submitted or runnable execution as blocked for
// args.ReasonCode. Logical rejections are a result.
func (b *SQLiteBackend) BlockRoute(ctx context.Context, args BlockRouteArgs) (BlockRouteOutcome, error) {
	var out BlockRouteOutcome
	err := b.operatorWrite(ctx, "block_route", args.ExecutionID, func(ctx context.Context, w *writeTx, e *exec) error {
		w.now = w.callerNow(args.Now)
		switch e.phase() {
		case PhaseTerminal:
			out = BlockRouteOutcome{Kind: BlockRouteRejected, Message: "execution_not_active"}
			return nil
		case PhaseRunnable, PhaseSubmitted:
		default:
			out = BlockRouteOutcome{Kind: BlockRouteRejected, Message: "execution_not_eligible"}
			return nil
		}
		elig, ok := blockedEligibility[args.ReasonCode]
		if !ok {
			out = BlockRouteOutcome{Kind: BlockRouteRejected, Message: "invalid_blocking_reason"}
			return nil
		}
		e.setState(PhaseRunnable, OwnershipUnowned, elig, e.attemptState(), args.ReasonCode)
		e.BlockingDetail = args.ReasonDetail
		e.DelayUntilMs = sql.NullInt64{}
		out = BlockRouteOutcome{Kind: BlockRouteBlocked, ExecutionID: args.ExecutionID}
		return w.saveExec(ctx, e)
	})
	if err != nil {
		return BlockRouteOutcome{}, err
	}
	return out, nil
}

// ClaimExecution consumes a claim grant and leases the expected attempt.
func (b *SQLiteBackend) ClaimExecution(ctx context.Context, args ClaimExecutionArgs) (ClaimExecutionResult, error) {
	if args.LeaseTTL < 0 || args.AttemptTimeout < 0 {
		return ClaimExecutionResult{}, errInvalidInput("claim_execution: negative duration")
	}
	ids, err := callerIDs(args.AttemptID, args.LeaseID)
	if err != nil {
		return ClaimExecutionResult{}, err
	}
	var out ClaimExecutionResult
	err = b.operatorWrite(ctx, "claim_execution", args.ExecutionID, func(ctx context.Context, w *writeTx, e *exec) error {
		w.now = w.callerNow(args.Now)
		switch {
		case e.phase() != PhaseRunnable && e.phase() != PhaseSubmitted:
			return e.notActive(nil)
		case e.ownership() != OwnershipUnowned:
			return errContention(SubKindLeaseConflict, "claim_execution: execution is owned")
		case e.eligibility() != EligibilityEligibleNow:
			return errContention(SubKindExecutionNotLeaseable, "claim_execution: execution is "+e.PublicState)
		case e.attemptState() == AttemptStateRunningAttempt:
			return errConflict(SubKindActiveAttemptExists, "claim_execution: an attempt is running")
		case e.attemptState() == AttemptStateAttemptInterrupted:
			return errContention(SubKindExecutionNotLeaseable, "claim_execution: interrupted attempt: use the resumed-claim path")
		}
		grant, err := w.q.NewestGrant(ctx, dbgen.NewestGrantParams{ExecutionID: e.ExecutionID, Kind: grantClaim})
		if isNoRows(err) {
			return errContention(SubKindInvalidClaimGrant, "claim_execution: no claim grant")
		}
		if err != nil {
			return err
		}
		if grant.WorkerID != string(args.WorkerID) {
			return errContention(SubKindInvalidClaimGrant, "claim_execution: grant belongs to another worker")
		}
		if grant.ExpiresAtMs < w.now {
			return errContention(SubKindClaimGrantExpired, "claim_execution: claim grant expired")
		}
		if err := w.q.DeleteGrants(ctx, dbgen.DeleteGrantsParams{ExecutionID: e.ExecutionID, Kind: grantClaim}); err != nil {
			return err
		}
		index := int64(args.ExpectedAttemptIndex)
		a, err := w.loadAttempt(ctx, e.ExecutionID, index)
		if errors.Is(err, ErrNotFound) {
			a = &attempt{}
			a.ExecutionID, a.AttemptIndex = e.ExecutionID, index
			a.AttemptID = string(NewAttemptID())
			err = nil
		}
		if err != nil {
			return err
		}
		a.AttemptType = string(attemptTypeFor(e.attemptState()))
		e.AttemptIndex = index
		e.TotalAttemptCount = max(e.TotalAttemptCount, index+1)
		if !args.ExecutionDeadlineAt.IsZero() {
			e.DeadlineAtMs = nullMS(args.ExecutionDeadlineAt)
		}
		spec := leaseSpec{workerID: args.WorkerID, workerInstanceID: args.WorkerInstanceID, ttl: args.LeaseTTL,
			lane: args.LaneID, attemptID: ids.attempt, leaseID: ids.lease}
		h, err := w.leaseAttempt(ctx, e, a, spec, HandleFresh, LeaseAcquired)
		if err != nil {
			return err
		}
		out = ClaimExecutionResult{
			AttemptID:      AttemptID(a.AttemptID),
			AttemptIndex:   AttemptIndex(a.AttemptIndex),
			AttemptType:    AttemptType(a.AttemptType),
			ExecutionID:    e.id(),
			Handle:         *h,
			LeaseEpoch:     LeaseEpoch(a.LeaseEpoch),
			LeaseExpiresAt: fromMS(a.LeaseExpiresAtMs.Int64),
			LeaseID:        LeaseID(a.LeaseID.String),
		}
		return nil
	})
	if err != nil {
		return ClaimExecutionResult{}, err
	}
	return out, nil
}

// attemptTypeFor says why the next attempt runs, from the attempt state.
func attemptTypeFor(s AttemptState) AttemptType {
	switch s {
	case AttemptStatePendingRetryAttempt:
		return AttemptTypeRetry
	case AttemptStatePendingReplayAttempt:
		return AttemptTypeReplay
	}
	return AttemptTypeInitial
}

// leaseIDs are caller-minted ids for a lease (empty = mint).
type leaseIDs struct {
	attempt AttemptID
	lease   LeaseID
}

// callerIDs validates caller-supplied attempt and lease ids.
func callerIDs(attemptID AttemptID, leaseID LeaseID) (leaseIDs, error) {
	var ids leaseIDs
	if attemptID != "" {
		id, err := ParseAttemptID(string(attemptID))
		if err != nil {
			return ids, err
		}
		ids.attempt = id
	}
	if leaseID != "" {
		id, err := ParseLeaseID(string(leaseID))
		if err != nil {
			return ids, err
		}
		ids.lease = id
	}
	return ids, nil
}

// IssueReclaimGrant admits an execution whose lease expired or was revoked
// to the reclaim path (marking a lapsed lease expired first).
func (b *SQLiteBackend) IssueReclaimGrant(ctx context.Context, args IssueReclaimGrantArgs) (IssueReclaimGrantOutcome, error) {
	if err := validateCapabilities("worker", args.WorkerCapabilities); err != nil {
		return IssueReclaimGrantOutcome{}, err
	}
	if args.GrantTTL < 0 {
		return IssueReclaimGrantOutcome{}, errInvalidInput("issue_reclaim_grant: negative grant_ttl")
	}
	out := IssueReclaimGrantOutcome{ExecutionID: args.ExecutionID}
	err := b.operatorWrite(ctx, "issue_reclaim_grant", args.ExecutionID, func(ctx context.Context, w *writeTx, e *exec) error {
		if e.LeaseReclaimCount >= ReclaimCapDefault {
			out.Kind, out.ReclaimCount = ReclaimGrantReclaimCapExceeded, uint32(e.LeaseReclaimCount)
			return nil
		}
		notReclaimable := func(detail string) error {
			out.Kind, out.Detail = ReclaimGrantNotReclaimable, detail
			return nil
		}
		if e.phase() != PhaseActive {
			return notReclaimable(fmt.Sprintf("lifecycle_phase=%s (expected active)", e.LifecyclePhase))
		}
		if e.ownership() == OwnershipLeased {
			// The lazy rule: a lapsed lease nobody marked yet is marked now.
			a, err := w.loadAttempt(ctx, e.ExecutionID, e.AttemptIndex)
			if err != nil {
				return err
			}
			if err := w.markLeaseExpired(ctx, e, a); err != nil {
				return err
			}
		}
		if o := e.ownership(); o != OwnershipLeaseExpiredReclaimable && o != OwnershipLeaseRevoked {
			return notReclaimable(fmt.Sprintf("ownership_state=%s (expected lease_expired_reclaimable | lease_revoked)", o))
		}
		missing, err := w.missingCapabilities(ctx, e, args.WorkerCapabilities)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return notReclaimable("capability_mismatch")
		}
		ttl := durationToMS(args.GrantTTL)
		grantID, err := w.insertGrant(ctx, grantReclaim, e, args.WorkerID, args.WorkerInstanceID, args.LaneID, args.CapabilityHash, args.WorkerCapabilities, ttl)
		if err != nil {
			return err
		}
		out.Kind = ReclaimGrantGranted
		out.Grant = &ReclaimGrant{
			ExecutionID:  e.id(),
			ExpiresAt:    fromMS(w.now + ttl),
			GrantKey:     grantID,
			LaneID:       args.LaneID,
			PartitionKey: Partition{Family: PartitionFamilyFlow, Index: uint16(e.PartitionKey)}.Key(),
		}
		return nil
	})
	if err != nil {
		return IssueReclaimGrantOutcome{}, err
	}
	return out, nil
}

// ReclaimExecution consumes the newest reclaim grant: the old attempt ends
// interrupted_reclaimed and a new attempt is leased (HandleReclaimed).
func (b *SQLiteBackend) ReclaimExecution(ctx context.Context, args ReclaimExecutionArgs) (ReclaimExecutionOutcome, error) {
	if args.LeaseTTL < 0 {
		return ReclaimExecutionOutcome{}, errInvalidInput("reclaim_execution: negative lease_ttl")
	}
	ids, err := callerIDs(args.AttemptID, args.LeaseID)
	if err != nil {
		return ReclaimExecutionOutcome{}, err
	}
	out := ReclaimExecutionOutcome{ExecutionID: args.ExecutionID}
	err = b.operatorWrite(ctx, "reclaim_execution", args.ExecutionID, func(ctx context.Context, w *writeTx, e *exec) error {
		grant, err := w.q.NewestGrant(ctx, dbgen.NewestGrantParams{ExecutionID: e.ExecutionID, Kind: grantReclaim})
		if isNoRows(err) {
			out.Kind = ReclaimGrantNotFound
			return nil
		}
		if err != nil {
			return err
		}
		if grant.WorkerID != string(args.WorkerID) {
			return errInvalidInput("reclaim_execution: grant is for worker %q, not %q", grant.WorkerID, args.WorkerID)
		}
		if grant.ExpiresAtMs <= w.now {
			out.Kind = ReclaimGrantNotFound
			return w.q.DeleteGrant(ctx, grant.GrantID)
		}
		if o := e.ownership(); e.phase() != PhaseActive || (o != OwnershipLeaseExpiredReclaimable && o != OwnershipLeaseRevoked) {
			out.Kind = ReclaimNotReclaimable
			out.Detail = fmt.Sprintf("lifecycle_phase=%s ownership_state=%s", e.LifecyclePhase, e.OwnershipState)
			return nil
		}
		if err := w.q.DeleteGrant(ctx, grant.GrantID); err != nil {
			return err
		}
		limit := int64(ReclaimCapDefault)
		if args.MaxReclaimCount > 0 {
			limit = int64(args.MaxReclaimCount)
		}
		lane := LaneID(grant.LaneID.String)
		if lane == "" {
			lane = args.LaneID
		}
		spec := leaseSpec{workerID: args.WorkerID, workerInstanceID: args.WorkerInstanceID, ttl: args.LeaseTTL,
			lane: lane, attemptID: ids.attempt, leaseID: ids.lease}
		count := e.LeaseReclaimCount
		h, err := w.reclaimExecution(ctx, e, spec, limit)
		if err != nil {
			return err
		}
		if h == nil {
			out.Kind, out.ReclaimCount = ReclaimReclaimCapExceeded, uint32(count)
			return nil
		}
		out.Kind, out.Handle = ReclaimClaimed, h
		return nil
	})
	if err != nil {
		return ReclaimExecutionOutcome{}, err
	}
	return out, nil
}

// ClaimFromResumeGrant re-leases the execution's latest attempt when its
// lease is released or lapsed (epoch + 1, HandleResumed). Returns (nil,
// nil) when the lease is still live or the execution is terminal.
func (b *SQLiteBackend) ClaimFromResumeGrant(ctx context.Context, token ResumeToken) (*Handle, error) {
	if token.LeaseTTL < 0 {
		return nil, errInvalidInput("claim_from_resume_grant: negative lease_ttl")
	}
	var out *Handle
	err := b.operatorWrite(ctx, "claim_from_resume_grant", token.Grant.ExecutionID, func(ctx context.Context, w *writeTx, e *exec) error {
		row, err := w.q.GetLatestAttempt(ctx, e.ExecutionID)
		if isNoRows(err) {
			return errNotFound(EntityAttempt)
		}
		if err != nil {
			return err
		}
		a := &attempt{row}
		if a.LeaseExpiresAtMs.Valid && a.LeaseExpiresAtMs.Int64 > w.now {
			return nil
		}
		if e.phase() == PhaseTerminal {
			return nil
		}
		if e.phase() == PhaseSuspended {
			// The grant takes a still-suspended execution over: its
			// waitpoints close so a later signal cannot flip the running
			// execution back to resumable.
			if err := w.closeWaitpoints(ctx, e.ExecutionID, statesOpen, closeResumed); err != nil {
				return err
			}
			if err := w.q.ClearSuspensionTimeout(ctx, e.ExecutionID); err != nil {
				return err
			}
		}
		// A lapsed lease nobody marked yet gets its expired event first, so
		// the history shows how the old lease ended.
		if err := w.markLeaseExpired(ctx, e, a); err != nil {
			return err
		}
		e.AttemptIndex = a.AttemptIndex
		spec := leaseSpec{workerID: token.WorkerID, workerInstanceID: token.WorkerInstanceID, ttl: token.LeaseTTL, lane: token.Grant.LaneID}
		out, err = w.leaseAttempt(ctx, e, a, spec, HandleResumed, LeaseReclaimed)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
