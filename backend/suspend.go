package backend

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"math"
	"time"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// timeoutPastTolerance is how far in the past a suspension timeout may lie
// (clock skew between caller and backend); older is ErrInvalidInput.
const timeoutPastTolerance = 10 * time.Minute

// reasonBlocking is the blocking reason a suspended execution shows for
// each suspension reason code.
var reasonBlocking = map[SuspensionReasonCode]BlockingReason{
	ReasonWaitingForSignal:         BlockingWaitingForSignal,
	ReasonWaitingForApproval:       BlockingWaitingForApproval,
	ReasonWaitingForCallback:       BlockingWaitingForCallback,
	ReasonWaitingForToolResult:     BlockingWaitingForToolResult,
	ReasonWaitingForOperatorReview: BlockingPausedByOperator,
	ReasonPausedByPolicy:           BlockingPausedByPolicy,
	ReasonPausedByBudget:           BlockingWaitingForBudget,
	ReasonStepBoundary:             BlockingWaitingForSignal,
	ReasonManualPause:              BlockingPausedByOperator,
}

var knownRequesters = map[SuspensionRequester]bool{
	"": true, SuspensionRequesterWorker: true, SuspensionRequesterOperator: true,
	SuspensionRequesterPolicy: true, SuspensionRequesterSystemTimeout: true,
}

var knownTimeoutBehaviors = map[TimeoutBehavior]bool{
	TimeoutFail: true, TimeoutCancel: true, TimeoutExpire: true, TimeoutAutoResume: true, TimeoutEscalate: true,
}

// validateSuspendArgs applies the pure checks of Suspend (API.md
// SuspendArgs, spec 04 §5.3) before any transaction and returns args with
// canonical ids. now is the suspension time in ms, for the timeout check.
func validateSuspendArgs(args SuspendArgs, now int64) (SuspendArgs, error) {
	if len(args.Waitpoints) == 0 {
		return args, errInvalidInput("suspend requires at least one waitpoint binding")
	}
	sid, err := ParseSuspensionID(string(args.SuspensionID))
	if err != nil {
		return args, err
	}
	args.SuspensionID = sid
	bindings := make([]WaitpointBinding, len(args.Waitpoints))
	seen := map[WaitpointID]bool{}
	for i, b := range args.Waitpoints {
		switch b.Kind {
		case BindingFresh:
			if i > 0 && b.WaitpointKey == "" {
				return args, errInvalidInput("additional_waitpoint_binding_empty_key at waitpoints[%d]", i)
			}
		case BindingUsePending:
			if i > 0 {
				return args, errInvalidInput("additional_waitpoint_binding_must_be_fresh at waitpoints[%d]", i)
			}
		default:
			return args, errInvalidInput("suspend: unknown waitpoint binding kind %q at waitpoints[%d]", b.Kind, i)
		}
		id, err := ParseWaitpointID(string(b.WaitpointID))
		if err != nil {
			return args, err
		}
		if seen[id] {
			return args, errInvalidInput("suspend: waitpoint %s is bound twice", id)
		}
		seen[id] = true
		b.WaitpointID = id
		bindings[i] = b
	}
	args.Waitpoints = bindings
	if _, ok := reasonBlocking[args.ReasonCode]; !ok {
		return args, errInvalidInput("suspend: unknown reason code %q", args.ReasonCode)
	}
	if !knownRequesters[args.RequestedBy] {
		return args, errInvalidInput("suspend: unknown requester %q", args.RequestedBy)
	}
	if args.TimeoutBehavior != "" && !knownTimeoutBehaviors[args.TimeoutBehavior] {
		return args, errInvalidInput("suspend: unknown timeout behavior %q", args.TimeoutBehavior)
	}
	if err := validateCondition(args.ResumeCondition); err != nil {
		return args, err
	}
	primary := args.Waitpoints[0]
	if c := args.ResumeCondition; primary.Kind == BindingFresh && c.Kind == ConditionSingle && c.WaitpointKey != primary.WaitpointKey {
		return args, errInvalidInput("waitpoint_key_mismatch: condition key %q, primary binding key %q", c.WaitpointKey, primary.WaitpointKey)
	}
	if !args.TimeoutAt.IsZero() && toMS(args.TimeoutAt)+timeoutPastTolerance.Milliseconds() < now {
		return args, errInvalidInput("timeout_at_in_past: timeout_at is more than %s before now", timeoutPastTolerance)
	}
	return args, nil
}

// Suspend releases the lease and suspends the execution until
// args.ResumeCondition is satisfied by delivered signals (or the timeout
// fires), minting one HMAC token per waitpoint under the active kid. With
// a non-empty IdempotencyKey a repeat returns the first outcome without
// any lease check. Returns SuspendAlreadySatisfied (no state change, lease
// kept) when the only binding is a pending waitpoint whose buffered
// signals already satisfy the condition.
func (b *SQLiteBackend) Suspend(ctx context.Context, h Handle, args SuspendArgs) (SuspendOutcome, error) {
	db, err := b.live("suspend")
	if err != nil {
		return SuspendOutcome{}, err
	}
	hp, err := decodeSQLiteHandle(h)
	if err != nil {
		return SuspendOutcome{}, err
	}
	if _, err := ParseExecutionID(string(hp.ExecutionID)); err != nil {
		return SuspendOutcome{}, err
	}
	if args, err = validateSuspendArgs(args, suspendNow(db, args)); err != nil {
		return SuspendOutcome{}, err
	}
	var out SuspendOutcome
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		replayed, err := w.replaySuspend(ctx, hp.ExecutionID, args.IdempotencyKey, &out)
		if replayed || err != nil {
			return err
		}
		l, err := w.fence(ctx, hp)
		if err != nil {
			return err
		}
		out, err = w.suspendLeased(ctx, l, hp, args)
		return err
	})
	if err != nil {
		return SuspendOutcome{}, err
	}
	return out, nil
}

// SuspendByTriple is Suspend for callers holding a LeaseFence instead of
// a handle: a different LeaseEpoch, or a non-empty LeaseID other than the
// current lease's, is ErrStaleLease (AttemptID is not compared). The
// returned Suspended handle is synthesised from the fence (empty ids are
// the current attempt's; no lane, TTL or worker instance). Unknown
// execution is NotFound(EntityExecution).
func (b *SQLiteBackend) SuspendByTriple(ctx context.Context, executionID ExecutionID, fence LeaseFence, args SuspendArgs) (SuspendOutcome, error) {
	db, err := b.live("suspend_by_triple")
	if err != nil {
		return SuspendOutcome{}, err
	}
	if _, err := ParseExecutionID(string(executionID)); err != nil {
		return SuspendOutcome{}, err
	}
	if args, err = validateSuspendArgs(args, suspendNow(db, args)); err != nil {
		return SuspendOutcome{}, err
	}
	var out SuspendOutcome
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		e, err := w.loadExec(ctx, string(executionID))
		if err != nil {
			return err
		}
		replayed, err := w.replaySuspend(ctx, executionID, args.IdempotencyKey, &out)
		if replayed || err != nil {
			return err
		}
		hp := HandlePayload{
			AttemptID:    fence.AttemptID,
			AttemptIndex: AttemptIndex(e.AttemptIndex),
			ExecutionID:  executionID,
			LeaseEpoch:   fence.LeaseEpoch,
			LeaseID:      fence.LeaseID,
		}
		a, err := w.loadAttempt(ctx, e.ExecutionID, e.AttemptIndex)
		if err != nil {
			return err
		}
		// Without a lease id only the epoch fences. Ids the fence leaves
		// empty are the current attempt's, so the synthesised handle
		// decodes like any other.
		if hp.LeaseID == "" {
			hp.LeaseID = LeaseID(a.LeaseID.String)
		}
		if hp.AttemptID == "" {
			hp.AttemptID = AttemptID(a.AttemptID)
		}
		l, err := w.fence(ctx, hp)
		if err != nil {
			return err
		}
		out, err = w.suspendLeased(ctx, l, hp, args)
		return err
	})
	if err != nil {
		return SuspendOutcome{}, err
	}
	return out, nil
}

// suspendNow is the suspension time used by the pre-transaction checks.
func suspendNow(db *database, args SuspendArgs) int64 {
	if args.Now.IsZero() {
		return nowMS(db.clock)
	}
	return toMS(args.Now)
}

// suspendLeased is Suspend once the lease fence passed: the lease must
// still be live, then the waitpoints are bound, the suspension recorded
// and the lease released (spec 04 §5.3 steps 2–10).
func (w *writeTx) suspendLeased(ctx context.Context, l *leased, hp HandlePayload, args SuspendArgs) (SuspendOutcome, error) {
	if l.settled() {
		return SuspendOutcome{}, l.notActive()
	}
	if err := w.requireLive(ctx, l); err != nil {
		return SuspendOutcome{}, err
	}
	e, a := l.exec, l.att
	at := w.callerNow(args.Now)
	timeoutAt, behavior, err := suspensionTimeout(e, args, at)
	if err != nil {
		return SuspendOutcome{}, err
	}
	cond := args.ResumeCondition
	if cond.Kind == ConditionTimeoutOnly && !timeoutAt.Valid {
		return SuspendOutcome{}, errInvalidInput("timeout_only_without_deadline: a timeout_only condition needs a timeout")
	}
	condJSON, err := conditionJSON(cond)
	if err != nil {
		return SuspendOutcome{}, err
	}
	kid, secret, err := w.signingKey(ctx, "suspend")
	if err != nil {
		return SuspendOutcome{}, err
	}
	// Active waitpoints of an execution that holds a lease belong to a
	// suspension that ended without closing them (operator cancel, then
	// replay); they must not feed this suspension.
	if err := w.closeWaitpoints(ctx, e.ExecutionID, statesActive, closeCancelled); err != nil {
		return SuspendOutcome{}, err
	}

	details := SuspendOutcomeDetails{SuspensionID: args.SuspensionID, AdditionalWaitpoints: []AdditionalWaitpointBinding{}}
	var pending []WaitpointID
	for i, bnd := range args.Waitpoints {
		key, err := w.bindWaitpoint(ctx, e, bnd)
		if err != nil {
			return SuspendOutcome{}, err
		}
		token := signToken(secret, kid, e.id(), bnd.WaitpointID)
		names, err := json.Marshal(cond.requiredSignalNames(key))
		if err != nil {
			return SuspendOutcome{}, err
		}
		if bnd.Kind == BindingUsePending {
			pending = append(pending, bnd.WaitpointID)
			err = w.q.ActivateWaitpoint(ctx, dbgen.ActivateWaitpointParams{
				SuspensionID:            nullString(string(args.SuspensionID)),
				TokenKid:                kid,
				Token:                   string(token),
				RequiredSignalNamesJson: string(names),
				ExpiresAtMs:             timeoutAt,
				ActivatedAtMs:           nullInt(at),
				WaitpointID:             string(bnd.WaitpointID),
			})
		} else {
			err = w.q.InsertWaitpoint(ctx, dbgen.InsertWaitpointParams{
				WaitpointID:             string(bnd.WaitpointID),
				ExecutionID:             e.ExecutionID,
				WaitpointKey:            string(key),
				State:                   string(WaitpointActive),
				SuspensionID:            nullString(string(args.SuspensionID)),
				TokenKid:                kid,
				Token:                   string(token),
				RequiredSignalNamesJson: string(names),
				CreatedAtMs:             at,
				ExpiresAtMs:             timeoutAt,
				ActivatedAtMs:           nullInt(at),
			})
		}
		if err != nil {
			return SuspendOutcome{}, err
		}
		if i == 0 {
			details.WaitpointID, details.WaitpointKey, details.WaitpointToken = bnd.WaitpointID, key, token
		} else {
			details.AdditionalWaitpoints = append(details.AdditionalWaitpoints,
				AdditionalWaitpointBinding{WaitpointID: bnd.WaitpointID, WaitpointKey: key, WaitpointToken: token})
		}
	}

	seq, err := w.q.UpsertSuspension(ctx, dbgen.UpsertSuspensionParams{
		ExecutionID:        e.ExecutionID,
		SuspensionID:       string(args.SuspensionID),
		AttemptIndex:       a.AttemptIndex,
		PrimaryWaitpointID: string(details.WaitpointID),
		ReasonCode:         nullString(string(args.ReasonCode)),
		ConditionJson:      condJSON,
		TimeoutAtMs:        timeoutAt,
		TimeoutBehavior:    string(behavior),
		SuspendedAtMs:      at,
	})
	if err != nil {
		return SuspendOutcome{}, err
	}
	// Signals delivered to a pending waitpoint before now count toward
	// this suspension (decision 14).
	for _, id := range pending {
		if err := w.q.AdoptBufferedSignals(ctx, dbgen.AdoptBufferedSignalsParams{
			SuspensionSeq: nullInt(seq), WaitpointID: nullString(string(id)),
		}); err != nil {
			return SuspendOutcome{}, err
		}
	}
	satisfied := false
	if len(pending) > 0 {
		sigs, err := w.suspensionSignals(ctx, e.ExecutionID, seq)
		if err != nil {
			return SuspendOutcome{}, err
		}
		satisfied = cond.satisfiedBy(sigs)
	}

	var out SuspendOutcome
	if satisfied && len(args.Waitpoints) == 1 {
		// Already satisfied: the pending waitpoint is consumed, the
		// suspension row keeps its signals for ObserveSignals, and the
		// execution keeps running under the same lease.
		if err := w.q.CloseWaitpoint(ctx, dbgen.CloseWaitpointParams{
			ClosedAtMs: nullInt(w.now), CloseReason: nullString(closeConsumed), WaitpointID: string(details.WaitpointID),
		}); err != nil {
			return SuspendOutcome{}, err
		}
		if err := w.q.ClearSuspensionTimeout(ctx, e.ExecutionID); err != nil {
			return SuspendOutcome{}, err
		}
		out = SuspendOutcome{Kind: SuspendAlreadySatisfied, Details: details}
	} else {
		if err := w.releaseForSuspend(ctx, e, a, args.ReasonCode); err != nil {
			return SuspendOutcome{}, err
		}
		if satisfied {
			// Several bindings, and the adopted buffered signals already
			// satisfy the condition: the suspension resumes at once.
			if err := w.resumeSuspension(ctx, e, at, closeResumed); err != nil {
				return SuspendOutcome{}, err
			}
		}
		h := NewHandle(BackendSQLite, HandleSuspended, EncodeHandleOpaque(BackendSQLite, hp))
		out = SuspendOutcome{Kind: SuspendSuspended, Details: details, Handle: &h}
	}
	if args.IdempotencyKey != "" {
		raw, err := suspendDedupJSON(out)
		if err != nil {
			return SuspendOutcome{}, err
		}
		if err := w.q.InsertSuspendDedup(ctx, dbgen.InsertSuspendDedupParams{
			ExecutionID: e.ExecutionID, IdempotencyKey: args.IdempotencyKey, OutcomeJson: raw, CreatedAtMs: at,
		}); err != nil {
			return SuspendOutcome{}, err
		}
	}
	return out, nil
}

// suspensionTimeout resolves the suspension's deadline and behaviour: the
// arguments first, then the execution policy's SuspensionPolicy defaults,
// then "no timeout" and TimeoutFail.
func suspensionTimeout(e *exec, args SuspendArgs, at int64) (sql.NullInt64, TimeoutBehavior, error) {
	timeoutAt := nullMS(args.TimeoutAt)
	behavior := args.TimeoutBehavior
	pol, err := e.policy()
	if err != nil {
		return timeoutAt, "", err
	}
	if pol != nil && pol.SuspensionPolicy != nil {
		sp := pol.SuspensionPolicy
		if !timeoutAt.Valid && sp.DefaultTimeout > 0 {
			timeoutAt = nullInt(saturatingAddMS(at, sp.DefaultTimeout))
		}
		if behavior == "" {
			behavior = sp.TimeoutBehavior
		}
	}
	if behavior == "" {
		behavior = TimeoutFail
	}
	if !knownTimeoutBehaviors[behavior] {
		return timeoutAt, "", errInvalidInput("suspend: unknown timeout behavior %q in the execution's suspension policy", behavior)
	}
	return timeoutAt, behavior, nil
}

// bindWaitpoint checks one binding against the stored waitpoints and
// returns its key: a fresh id must be new; a pending one must exist,
// belong to this execution, be pending and not past its expiry.
func (w *writeTx) bindWaitpoint(ctx context.Context, e *exec, bnd WaitpointBinding) (WaitpointKey, error) {
	existing, err := w.q.GetWaitpoint(ctx, string(bnd.WaitpointID))
	found := err == nil
	if err != nil && !isNoRows(err) {
		return "", err
	}
	if bnd.Kind == BindingFresh {
		if found {
			return "", errConflict(SubKindWaitpointAlreadyExists, "suspend: waitpoint "+string(bnd.WaitpointID)+" already exists (bind a pending waitpoint with UsePendingBinding)")
		}
		return bnd.WaitpointKey, nil
	}
	switch {
	case !found:
		return "", errContention(SubKindWaitpointNotFound, "suspend: pending waitpoint "+string(bnd.WaitpointID)+" does not exist")
	// The order of the checks is spec 04 section 5.3's; a pending
	// waitpoint the scanner already expired still reads as expired.
	case WaitpointState(existing.State) == WaitpointExpired:
		return "", errState(SubKindPendingWaitpointExpired, "suspend: pending waitpoint "+string(bnd.WaitpointID)+" expired")
	case WaitpointState(existing.State) != WaitpointPending:
		return "", errState(SubKindWaitpointNotPending, "suspend: waitpoint "+string(bnd.WaitpointID)+" is "+existing.State)
	case existing.ExecutionID != e.ExecutionID:
		return "", errValidation(SubKindInvalidWaitpointForExecution, "suspend: waitpoint %s belongs to another execution", bnd.WaitpointID)
	case pendingExpired(existing, w.now):
		return "", errState(SubKindPendingWaitpointExpired, "suspend: pending waitpoint "+string(bnd.WaitpointID)+" expired")
	}
	return WaitpointKey(existing.WaitpointKey), nil
}

// releaseForSuspend releases the lease and parks the execution suspended:
// the epoch moves on so the pre-suspend handle is stale, and the attempt
// stays the current one for the resumed claim.
func (w *writeTx) releaseForSuspend(ctx context.Context, e *exec, a *attempt, reason SuspensionReasonCode) error {
	a.endLease(w.now, "attempt_interrupted")
	a.LeaseEpoch++
	e.setState(PhaseSuspended, OwnershipUnowned, EligibilityNotApplicable, AttemptStateAttemptInterrupted, reasonBlocking[reason])
	e.BlockingDetail = ""
	e.DelayUntilMs = sql.NullInt64{}
	if err := w.saveAttempt(ctx, a); err != nil {
		return err
	}
	if err := w.saveExec(ctx, e); err != nil {
		return err
	}
	return w.leaseEvent(ctx, e, a, LeaseRevoked)
}

// resumeSuspension makes a suspended execution resumable once its
// condition is met (a satisfying signal, or the auto-resume timeout):
// runnable, waiting for ClaimResumedExecution on the same attempt; every
// open waitpoint closes with reason; a "resumable" completion event is
// written at at.
func (w *writeTx) resumeSuspension(ctx context.Context, e *exec, at int64, reason string) error {
	e.setState(PhaseRunnable, OwnershipUnowned, EligibilityEligibleNow, AttemptStateAttemptInterrupted, BlockingWaitingForWorker)
	e.BlockingDetail = ""
	e.PublicState = string(PublicStateResumable)
	if err := w.saveExec(ctx, e); err != nil {
		return err
	}
	if err := w.closeWaitpoints(ctx, e.ExecutionID, statesOpen, reason); err != nil {
		return err
	}
	if err := w.q.ClearSuspensionTimeout(ctx, e.ExecutionID); err != nil {
		return err
	}
	// Written dispatched: a resumable event is not a terminal transition,
	// so there is nothing for dependency resolution to consume.
	err := w.q.CompletionEventInsertDispatched(ctx, dbgen.CompletionEventInsertDispatchedParams{
		ExecutionID:  e.ExecutionID,
		FlowID:       e.FlowID,
		Outcome:      string(CompletionResumable),
		Namespace:    nullString(e.Namespace),
		InstanceTag:  e.InstanceTag,
		OccurredAtMs: at,
	})
	w.wake(topicCompletion)
	return err
}

// suspensionSignals reads one suspension's signals grouped by key.
func (w *writeTx) suspensionSignals(ctx context.Context, executionID string, seq int64) (signalsByKey, error) {
	rows, err := w.q.SuspensionSignals(ctx, dbgen.SuspensionSignalsParams{ExecutionID: executionID, SuspensionSeq: nullInt(seq)})
	if err != nil {
		return nil, err
	}
	out := signalsByKey{}
	for _, r := range rows {
		out[WaitpointKey(r.WaitpointKey)] = append(out[WaitpointKey(r.WaitpointKey)], resumeSignalOf(r))
	}
	return out, nil
}

// resumeSignalOf is the API view of a stored signal.
func resumeSignalOf(r dbgen.SuspensionSignalsRow) ResumeSignal {
	var payload []byte
	if r.HasPayload != 0 {
		payload = r.Payload
		if payload == nil {
			payload = []byte{}
		}
	}
	return ResumeSignal{
		AcceptedAt:     fromMS(r.AcceptedAtMs),
		CorrelationID:  r.CorrelationID,
		Payload:        payload,
		SignalCategory: r.SignalCategory,
		SignalID:       SignalID(r.SignalID),
		SignalName:     r.SignalName,
		SourceIdentity: r.SourceIdentity,
		SourceType:     r.SourceType,
	}
}

// Cached Suspend outcomes use the original's outcome_json shape (spec 04
// §3.4).
type suspendDedupRecord struct {
	Variant string `json:"variant"`
	Details struct {
		SuspensionID string                `json:"suspension_id"`
		WaitpointID  string                `json:"waitpoint_id"`
		WaitpointKey string                `json:"waitpoint_key"`
		Token        string                `json:"token"`
		Extras       []suspendDedupBinding `json:"extras"`
	} `json:"details"`
	HandleOpaqueHex *string `json:"handle_opaque_hex"`
}

type suspendDedupBinding struct {
	WaitpointID  string `json:"waitpoint_id"`
	WaitpointKey string `json:"waitpoint_key"`
	Token        string `json:"token"`
}

const (
	dedupVariantSuspended        = "Suspended"
	dedupVariantAlreadySatisfied = "AlreadySatisfied"
)

func suspendDedupJSON(out SuspendOutcome) (string, error) {
	var rec suspendDedupRecord
	rec.Variant = dedupVariantSuspended
	if out.Kind == SuspendAlreadySatisfied {
		rec.Variant = dedupVariantAlreadySatisfied
	}
	d := out.Details
	rec.Details.SuspensionID = string(d.SuspensionID)
	rec.Details.WaitpointID = string(d.WaitpointID)
	rec.Details.WaitpointKey = string(d.WaitpointKey)
	rec.Details.Token = d.WaitpointToken.Raw()
	rec.Details.Extras = []suspendDedupBinding{}
	for _, x := range d.AdditionalWaitpoints {
		rec.Details.Extras = append(rec.Details.Extras, suspendDedupBinding{
			WaitpointID: string(x.WaitpointID), WaitpointKey: string(x.WaitpointKey), Token: x.WaitpointToken.Raw(),
		})
	}
	if out.Handle != nil {
		s := hex.EncodeToString(out.Handle.Opaque())
		rec.HandleOpaqueHex = &s
	}
	raw, err := json.Marshal(rec)
	return string(raw), err
}

// replaySuspend returns the cached outcome of an earlier Suspend with the
// same idempotency key on this execution, if any (no lease check: a retry
// with the now-stale pre-suspend handle gets the first outcome).
func (w *writeTx) replaySuspend(ctx context.Context, executionID ExecutionID, key string, out *SuspendOutcome) (bool, error) {
	if key == "" {
		return false, nil
	}
	raw, err := w.q.GetSuspendDedup(ctx, dbgen.GetSuspendDedupParams{ExecutionID: string(executionID), IdempotencyKey: key})
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	o, err := parseSuspendDedup(raw)
	if err != nil {
		return false, err
	}
	*out = o
	return true, nil
}

func parseSuspendDedup(raw string) (SuspendOutcome, error) {
	var rec suspendDedupRecord
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return SuspendOutcome{}, errCorruption("suspend dedup outcome: " + err.Error())
	}
	corrupt := func(what string) error { return errCorruption("suspend dedup outcome: " + what) }
	sid, err := ParseSuspensionID(rec.Details.SuspensionID)
	if err != nil {
		return SuspendOutcome{}, corrupt("suspension_id is not a UUID")
	}
	wid, err := ParseWaitpointID(rec.Details.WaitpointID)
	if err != nil {
		return SuspendOutcome{}, corrupt("waitpoint_id is not a UUID")
	}
	out := SuspendOutcome{Details: SuspendOutcomeDetails{
		SuspensionID:         sid,
		WaitpointID:          wid,
		WaitpointKey:         WaitpointKey(rec.Details.WaitpointKey),
		WaitpointToken:       WaitpointToken(rec.Details.Token),
		AdditionalWaitpoints: []AdditionalWaitpointBinding{},
	}}
	for _, x := range rec.Details.Extras {
		id, err := ParseWaitpointID(x.WaitpointID)
		if err != nil {
			return SuspendOutcome{}, corrupt("extras waitpoint_id is not a UUID")
		}
		out.Details.AdditionalWaitpoints = append(out.Details.AdditionalWaitpoints, AdditionalWaitpointBinding{
			WaitpointID: id, WaitpointKey: WaitpointKey(x.WaitpointKey), WaitpointToken: WaitpointToken(x.Token),
		})
	}
	if rec.Variant == dedupVariantAlreadySatisfied {
		out.Kind = SuspendAlreadySatisfied
		return out, nil
	}
	// A missing or unknown variant replays as Suspended (original).
	out.Kind = SuspendSuspended
	if rec.HandleOpaqueHex == nil {
		return SuspendOutcome{}, corrupt("suspended outcome without handle_opaque_hex")
	}
	opaque, err := hex.DecodeString(*rec.HandleOpaqueHex)
	if err != nil {
		return SuspendOutcome{}, corrupt("handle_opaque_hex: " + err.Error())
	}
	h := NewHandle(BackendSQLite, HandleSuspended, opaque)
	out.Handle = &h
	return out, nil
}

// ClaimResumedExecution leases a resumable execution on the attempt it
// suspended on (epoch + 1, HandleResumed), recording the caller's lease id
// (minted when empty). Not resumable is ErrNotAResumedExecution; unknown
// is NotFound(EntityExecution).
func (b *SQLiteBackend) ClaimResumedExecution(ctx context.Context, args ClaimResumedExecutionArgs) (ClaimResumedExecutionResult, error) {
	if args.LeaseTTL < 0 {
		if _, err := b.live("claim_resumed_execution"); err != nil {
			return ClaimResumedExecutionResult{}, err
		}
		return ClaimResumedExecutionResult{}, errInvalidInput("claim_resumed_execution: negative lease_ttl")
	}
	ids, err := callerIDs("", args.LeaseID)
	if err != nil {
		return ClaimResumedExecutionResult{}, err
	}
	var out ClaimResumedExecutionResult
	err = b.operatorWrite(ctx, "claim_resumed_execution", args.ExecutionID, func(ctx context.Context, w *writeTx, e *exec) error {
		if PublicState(e.PublicState) != PublicStateResumable {
			return errContention(SubKindNotAResumedExecution, "claim_resumed_execution: execution is "+e.PublicState+", not resumable")
		}
		a, err := w.loadAttempt(ctx, e.ExecutionID, e.AttemptIndex)
		if err != nil {
			return err
		}
		spec := leaseSpec{workerID: args.WorkerID, workerInstanceID: args.WorkerInstanceID, ttl: args.LeaseTTL,
			lane: args.LaneID, leaseID: ids.lease}
		h, err := w.leaseAttempt(ctx, e, a, spec, HandleResumed, LeaseAcquired)
		if err != nil {
			return err
		}
		out = ClaimResumedExecutionResult{
			AttemptID:      AttemptID(a.AttemptID),
			AttemptIndex:   AttemptIndex(a.AttemptIndex),
			ExecutionID:    e.id(),
			Handle:         *h,
			LeaseEpoch:     LeaseEpoch(a.LeaseEpoch),
			LeaseExpiresAt: fromMS(a.LeaseExpiresAtMs.Int64),
			LeaseID:        LeaseID(a.LeaseID.String),
		}
		return nil
	})
	if err != nil {
		return ClaimResumedExecutionResult{}, err
	}
	return out, nil
}

// ListSuspended lists suspended executions of one partition ordered by
// suspension time, then id. The cursor is the last execution id of the
// previous page.
func (b *SQLiteBackend) ListSuspended(ctx context.Context, partition PartitionKey, cursor ExecutionID, limit int) (ListSuspendedPage, error) {
	db, err := b.live("list_suspended")
	if err != nil {
		return ListSuspendedPage{}, err
	}
	page := ListSuspendedPage{Items: []SuspendedExecutionEntry{}}
	if limit <= 0 {
		return page, nil
	}
	p, err := partition.Partition()
	if err != nil {
		return ListSuspendedPage{}, errInvalidInput("list_suspended: partition: %s", errorDetail(err))
	}
	if p.Family != PartitionFamilyFlow {
		return ListSuspendedPage{}, errInvalidInput("list_suspended: partition: %s is not an execution partition", partition)
	}
	if cursor != "" {
		if _, err := ParseExecutionID(string(cursor)); err != nil {
			return ListSuspendedPage{}, err
		}
	}
	limit = min(limit, listLimitMax)
	err = db.read(ctx, func(q *dbgen.Queries) error {
		params := dbgen.ListSuspendedPageParams{
			PartitionKey: int64(p.Index), ByTime: 1, AfterMs: math.MinInt64, AfterID: string(cursor), Lim: int64(limit + 1),
		}
		if cursor != "" {
			// Keyset after the cursor's suspension time; if its row is
			// gone, fall back to the id alone.
			s, err := q.GetSuspension(ctx, string(cursor))
			switch {
			case err == nil:
				params.AfterMs = s.SuspendedAtMs
			case isNoRows(err):
				params.ByTime = 0
			default:
				return err
			}
		}
		rows, err := q.ListSuspendedPage(ctx, params)
		if err != nil {
			return err
		}
		for i, r := range rows {
			if i == limit {
				page.Next = ExecutionID(rows[limit-1].ExecutionID)
				break
			}
			page.Items = append(page.Items, SuspendedExecutionEntry{
				ExecutionID: ExecutionID(r.ExecutionID),
				Reason:      SuspensionReasonCode(r.ReasonCode.String),
				SuspendedAt: fromMS(r.SuspendedAtMs),
			})
		}
		return nil
	})
	if err != nil {
		return ListSuspendedPage{}, err
	}
	return page, nil
}
