package backend

import (
	"context"
	"database/sql"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// signalEventEffect maps a delivery's effect to the SignalDeliveryEffect
// stored on its outbox row (spec 05 §D.8).
var signalEventEffect = map[DeliverSignalEffect]SignalDeliveryEffect{
	EffectResumeConditionSatisfied:    SignalSatisfied,
	EffectAppendedToWaitpoint:         SignalBuffered,
	EffectBufferedForPendingWaitpoint: SignalBuffered,
}

// DeliverSignal verifies the waitpoint token and records the signal; when
// the suspension's resume condition becomes satisfied the execution turns
// resumable and its waitpoints close. A pending waitpoint buffers the
// signal for a later Suspend. Checks, in order: NotFound(EntityWaitpoint);
// ErrInvalidInput (waitpoint of another execution); the token
// (ErrInvalidKid, ErrInvalidToken); a repeat of a non-empty
// IdempotencyKey within DedupTTL (DeliverSignalDuplicate);
// ErrWaitpointClosed; ErrPendingWaitpointExpired; ErrTargetNotSignalable;
// NotFound(EntitySuspension); ErrSignalLimitExceeded. Every error changes
// nothing.
func (b *SQLiteBackend) DeliverSignal(ctx context.Context, args DeliverSignalArgs) (DeliverSignalResult, error) {
	db, err := b.live("deliver_signal")
	if err != nil {
		return DeliverSignalResult{}, err
	}
	if _, err := ParseExecutionID(string(args.ExecutionID)); err != nil {
		return DeliverSignalResult{}, err
	}
	wpID, err := ParseWaitpointID(string(args.WaitpointID))
	if err != nil {
		return DeliverSignalResult{}, err
	}
	signalID, err := ParseSignalID(string(args.SignalID))
	if err != nil {
		return DeliverSignalResult{}, err
	}
	dedupTTL := DedupWindowDefault
	if args.DedupTTL != nil {
		if *args.DedupTTL < 0 {
			return DeliverSignalResult{}, errInvalidInput("deliver_signal: negative dedup_ttl")
		}
		dedupTTL = *args.DedupTTL
	}
	dedup := args.IdempotencyKey != "" && dedupTTL > 0

	var out DeliverSignalResult
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		at := w.callerNow(args.Now)
		wp, err := w.loadWaitpoint(ctx, wpID)
		if err != nil {
			return err
		}
		if wp.ExecutionID != string(args.ExecutionID) {
			return errInvalidInput("deliver_signal: waitpoint belongs to a different execution")
		}
		err = verifyToken(args.WaitpointToken, wp.Token, args.ExecutionID, wpID, func(kid string) ([]byte, bool, error) {
			return w.keySecret(ctx, kid)
		})
		if err != nil {
			return err
		}
		if dedup {
			first, err := w.q.FindDedupedSignal(ctx, dbgen.FindDedupedSignalParams{
				WaitpointID: nullString(string(wpID)), IdempotencyKey: nullString(args.IdempotencyKey), NowMs: nullInt(at),
			})
			if err == nil {
				out = DeliverSignalResult{Kind: DeliverSignalDuplicate, SignalID: SignalID(first)}
				return nil
			}
			if !isNoRows(err) {
				return err
			}
		}
		switch {
		case WaitpointState(wp.State) == WaitpointClosed:
			return errState(SubKindWaitpointClosed, "deliver_signal: waitpoint "+wp.WaitpointID+" is closed")
		case pendingExpired(wp, w.now):
			return errState(SubKindPendingWaitpointExpired, "deliver_signal: pending waitpoint "+wp.WaitpointID+" expired")
		}
		e, err := w.loadExec(ctx, wp.ExecutionID)
		if err != nil {
			return err
		}
		if e.phase() == PhaseTerminal {
			return errState(SubKindTargetNotSignalable, "deliver_signal: execution is terminal ("+e.PublicState+")")
		}

		row := dbgen.InsertSignalParams{
			SignalID:       string(signalID),
			ExecutionID:    e.ExecutionID,
			WaitpointID:    nullString(string(wpID)),
			WaitpointKey:   wp.WaitpointKey,
			SignalName:     args.SignalName,
			SignalCategory: args.SignalCategory,
			SourceType:     args.SourceType,
			SourceIdentity: args.SourceIdentity,
			CorrelationID:  args.CorrelationID,
			Payload:        args.Payload,
			AcceptedAtMs:   at,
		}
		if dedup {
			row.IdempotencyKey = nullString(args.IdempotencyKey)
			row.DedupExpiresAtMs = nullInt(saturatingAddMS(at, dedupTTL))
		}

		var effect DeliverSignalEffect
		if WaitpointState(wp.State) == WaitpointPending {
			// Buffered for the Suspend that will activate the waitpoint
			// (decision 14); no condition to evaluate yet.
			if err := w.checkSignalLimit(ctx, e, args.MaxSignalsPerExecution); err != nil {
				return err
			}
			effect = EffectBufferedForPendingWaitpoint
		} else {
			sus, err := w.q.GetSuspension(ctx, e.ExecutionID)
			if isNoRows(err) {
				return errNotFound(EntitySuspension)
			}
			if err != nil {
				return err
			}
			if e.phase() != PhaseSuspended || !wp.SuspensionID.Valid || wp.SuspensionID.String != sus.SuspensionID {
				// An open waitpoint of a suspension that already ended
				// (the execution was cancelled and replayed, say): the
				// signal must not land in whatever runs now.
				return errState(SubKindTargetNotSignalable, "deliver_signal: execution is "+e.PublicState+", not suspended on this waitpoint")
			}
			if err := w.checkSignalLimit(ctx, e, args.MaxSignalsPerExecution); err != nil {
				return err
			}
			cond, err := parseCondition(sus.ConditionJson)
			if err != nil {
				return err
			}
			sigs, err := w.suspensionSignals(ctx, e.ExecutionID, sus.SuspensionSeq)
			if err != nil {
				return err
			}
			key := WaitpointKey(wp.WaitpointKey)
			sigs[key] = append(sigs[key], ResumeSignal{
				AcceptedAt: fromMS(at), SignalID: signalID, SignalName: args.SignalName,
				SourceType: args.SourceType, SourceIdentity: args.SourceIdentity,
			})
			row.SuspensionSeq = nullInt(sus.SuspensionSeq)
			effect = EffectAppendedToWaitpoint
			if cond.satisfiedBy(sigs) {
				effect = EffectResumeConditionSatisfied
			}
		}
		row.Effect = string(effect)
		if err := w.q.InsertSignal(ctx, row); err != nil {
			return err
		}
		if effect == EffectResumeConditionSatisfied {
			if err := w.resumeSuspension(ctx, e, at, closeResumed); err != nil {
				return err
			}
		}
		if _, err := w.q.InsertSignalEvent(ctx, dbgen.InsertSignalEventParams{
			ExecutionID:    e.ExecutionID,
			SignalID:       string(signalID),
			WaitpointID:    nullString(string(wpID)),
			SourceIdentity: nullString(args.SourceIdentity),
			Effect:         string(signalEventEffect[effect]),
			Namespace:      nullString(e.Namespace),
			InstanceTag:    e.InstanceTag,
			DeliveredAtMs:  at,
		}); err != nil {
			return err
		}
		w.wake(topicSignalDelivery)
		out = DeliverSignalResult{Kind: DeliverSignalAccepted, Effect: effect, SignalID: signalID}
		return nil
	})
	if err != nil {
		return DeliverSignalResult{}, err
	}
	return out, nil
}

// checkSignalLimit enforces the per-execution signal cap: the argument,
// else the execution policy's MaxSignalsPerExecution, else
// MaxSignalsPerExecutionDefault.
func (w *writeTx) checkSignalLimit(ctx context.Context, e *exec, arg uint64) error {
	limit := arg
	if limit == 0 {
		pol, err := e.policy()
		if err != nil {
			return err
		}
		if pol != nil && pol.MaxSignalsPerExecution > 0 {
			limit = uint64(pol.MaxSignalsPerExecution)
		}
	}
	if limit == 0 {
		limit = MaxSignalsPerExecutionDefault
	}
	n, err := w.q.CountExecutionSignals(ctx, e.ExecutionID)
	if err != nil {
		return err
	}
	if uint64(n) >= limit {
		return errValidation(SubKindSignalLimitExceeded, "deliver_signal: execution already has %d signals (limit %d)", n, limit)
	}
	return nil
}

// ObserveSignals returns every signal recorded for the execution's current
// or last suspension, satisfying or not (empty when never suspended).
// Read-only; any handle of the execution works (no lease check).
func (b *SQLiteBackend) ObserveSignals(ctx context.Context, h Handle) ([]ResumeSignal, error) {
	db, err := b.live("observe_signals")
	if err != nil {
		return nil, err
	}
	hp, err := decodeSQLiteHandle(h)
	if err != nil {
		return nil, err
	}
	if _, err := ParseExecutionID(string(hp.ExecutionID)); err != nil {
		return nil, err
	}
	out := []ResumeSignal{}
	err = db.read(ctx, func(q *dbgen.Queries) error {
		// No lease check, but the handle must name an attempt of this
		// database (API.md section 5: handle validation comes first).
		_, err := q.GetAttempt(ctx, dbgen.GetAttemptParams{ExecutionID: string(hp.ExecutionID), AttemptIndex: int64(hp.AttemptIndex)})
		if isNoRows(err) {
			return errNotFound(EntityAttempt)
		}
		if err != nil {
			return err
		}
		sus, err := q.GetSuspension(ctx, string(hp.ExecutionID))
		if isNoRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		rows, err := q.SuspensionSignals(ctx, dbgen.SuspensionSignalsParams{
			ExecutionID: sus.ExecutionID, SuspensionSeq: sql.NullInt64{Int64: sus.SuspensionSeq, Valid: true},
		})
		if err != nil {
			return err
		}
		for _, r := range rows {
			out = append(out, resumeSignalOf(r))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// The timeout signal constants describe the synthetic signal an auto-resume
// timeout records (spec 04 §6.1).
const (
	timeoutSignalName     = "timeout"
	timeoutSignalCategory = "timeout"
	timeoutSignalSource   = "system"
	timeoutSignalIdentity = "suspension_timeout"
)

// timeoutSignal is the row of the synthetic auto-resume signal.
func timeoutSignal(executionID string, seq, at int64) dbgen.InsertSignalParams {
	return dbgen.InsertSignalParams{
		SignalID:       string(NewSignalID()),
		ExecutionID:    executionID,
		WaitpointKey:   timeoutSignalKey,
		SuspensionSeq:  nullInt(seq),
		SignalName:     timeoutSignalName,
		SignalCategory: timeoutSignalCategory,
		SourceType:     timeoutSignalSource,
		SourceIdentity: timeoutSignalIdentity,
		Effect:         string(EffectResumeConditionSatisfied),
		AcceptedAtMs:   at,
	}
}
