package backend

import (
	"context"
	"database/sql"
	"errors"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// leased is what a handle operation works on once its fence passed: the
// handle's payload, its attempt row and the execution row.
type leased struct {
	hp   HandlePayload
	att  *attempt
	exec *exec
}

// fence is the first step of every handle operation inside its
// transaction (decision 9): the handle's attempt must exist, and its lease
// must be the one stored — same epoch and lease id, not taken over by a
// reclaim — else ErrStaleLease.
func (w *writeTx) fence(ctx context.Context, hp HandlePayload) (*leased, error) {
	a, e, err := w.loadLeased(ctx, string(hp.ExecutionID), int64(hp.AttemptIndex))
	if err != nil {
		return nil, err
	}
	if uint64(a.LeaseEpoch) != uint64(hp.LeaseEpoch) || a.LeaseID.String != string(hp.LeaseID) {
		return nil, errState(SubKindStaleLease, "lease superseded: the attempt's lease was re-issued or revoked")
	}
	if a.Outcome.String == "interrupted_reclaimed" {
		return nil, errState(SubKindStaleLease, "lease superseded: the attempt was reclaimed by another worker")
	}
	if e == nil {
		return nil, errNotFound(EntityExecution)
	}
	return &leased{hp: hp, att: a, exec: e}, nil
}

// loadLeased reads an attempt and its execution in one statement. A
// missing attempt is NotFound; an attempt whose execution row is missing
// comes back with a nil execution, for the caller to report after its
// attempt checks.
func (w *writeTx) loadLeased(ctx context.Context, id string, index int64) (*attempt, *exec, error) {
	row, err := w.q.GetLeased(ctx, dbgen.GetLeasedParams{ExecutionID: id, AttemptIndex: index})
	if err == nil {
		return &attempt{row.FfAttempt}, &exec{row.FfExecCore}, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, nil, err
	}
	a, err := w.loadAttempt(ctx, id, index)
	return a, nil, err
}

// settled reports whether the handle's attempt already ended (the op then
// reconciles a repeat or reports ErrExecutionNotActive).
func (l *leased) settled() bool { return l.att.Outcome.Valid }

// notActive is ErrExecutionNotActive for this lease.
func (l *leased) notActive() error { return l.exec.notActive(l.att) }

// requireLive is the lease-validity check: the execution must be active on
// this attempt with an unexpired lease. A lapsed lease is marked expired
// (committed) and reported as ErrLeaseExpired.
func (w *writeTx) requireLive(ctx context.Context, l *leased) error {
	e := l.exec
	if e.phase() != PhaseActive || e.AttemptIndex != l.att.AttemptIndex {
		return l.notActive()
	}
	switch e.ownership() {
	case OwnershipLeaseRevoked:
		return errState(SubKindStaleLease, "lease revoked")
	case OwnershipLeaseExpiredReclaimable:
		return errState(SubKindLeaseExpired, "lease expired and awaits reclaim")
	}
	if !l.att.LeaseExpiresAtMs.Valid || l.att.LeaseExpiresAtMs.Int64 <= w.now {
		if err := w.markLeaseExpired(ctx, e, l.att); err != nil {
			return err
		}
		return keepAndFail(errState(SubKindLeaseExpired, "lease expired"))
	}
	return nil
}

// markLeaseExpired moves an active, leased execution whose current lease
// has lapsed to lease_expired_reclaimable (Valkey's vector: still active,
// claimable as a reclaim) and records the expired event. It is a no-op for
// any other execution, so the scanner and the lazy path can both call it.
func (w *writeTx) markLeaseExpired(ctx context.Context, e *exec, a *attempt) error {
	if e.phase() != PhaseActive || e.ownership() != OwnershipLeased || e.AttemptIndex != a.AttemptIndex {
		return nil
	}
	if !a.LeaseExpiresAtMs.Valid || a.LeaseExpiresAtMs.Int64 > w.now {
		return nil
	}
	e.setState(PhaseActive, OwnershipLeaseExpiredReclaimable, e.eligibility(), AttemptStateAttemptInterrupted, BlockingWaitingForWorker)
	e.BlockingDetail = "lease expired, awaiting reclaim"
	if err := w.saveExec(ctx, e); err != nil {
		return err
	}
	w.wake(topicClaimable)
	return w.leaseEvent(ctx, e, a, LeaseExpired)
}

// handleOp decodes h (before any transaction: a malformed or foreign
// handle writes nothing) and runs fn in one write transaction with the
// fence already passed.
func (b *SQLiteBackend) handleOp(ctx context.Context, op string, h Handle, fn func(ctx context.Context, w *writeTx, l *leased) error) error {
	db, err := b.live(op)
	if err != nil {
		return err
	}
	hp, err := decodeSQLiteHandle(h)
	if err != nil {
		return err
	}
	if _, err := ParseExecutionID(string(hp.ExecutionID)); err != nil {
		return err
	}
	return db.write(ctx, func(ctx context.Context, w *writeTx) error {
		l, err := w.fence(ctx, hp)
		if err != nil {
			return err
		}
		return fn(ctx, w, l)
	})
}

// Renew extends the lease to now + the handle's LeaseTTL; the epoch is
// unchanged.
func (b *SQLiteBackend) Renew(ctx context.Context, h Handle) (LeaseRenewal, error) {
	var out LeaseRenewal
	err := b.handleOp(ctx, "renew", h, func(ctx context.Context, w *writeTx, l *leased) error {
		if l.settled() {
			return l.notActive()
		}
		if err := w.requireLive(ctx, l); err != nil {
			return err
		}
		expires := w.now + durationToMS(l.hp.LeaseTTL)
		l.att.LeaseExpiresAtMs = nullInt(expires)
		l.att.LeaseRenewedAtMs = nullInt(w.now)
		if err := w.saveAttempt(ctx, l.att); err != nil {
			return err
		}
		if err := w.saveExec(ctx, l.exec); err != nil {
			return err
		}
		out = LeaseRenewal{ExpiresAt: fromMS(expires), LeaseEpoch: l.hp.LeaseEpoch}
		return w.leaseEvent(ctx, l.exec, l.att, LeaseRenewed)
	})
	return out, err
}

// Progress records a progress heartbeat: nil percent or message leaves
// that value unchanged; both nil writes nothing.
func (b *SQLiteBackend) Progress(ctx context.Context, h Handle, percent *uint8, message *string) error {
	return b.handleOp(ctx, "progress", h, func(ctx context.Context, w *writeTx, l *leased) error {
		if l.settled() {
			return l.notActive()
		}
		if err := w.requireLive(ctx, l); err != nil {
			return err
		}
		if percent == nil && message == nil {
			return nil // nothing to record; the lease was still checked
		}
		if percent != nil {
			l.exec.ProgressPct = nullInt(int64(*percent))
		}
		if message != nil {
			l.exec.ProgressMessage = sql.NullString{String: *message, Valid: true}
		}
		return w.saveExec(ctx, l.exec)
	})
}

// isNoRows reports a query that found nothing.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
