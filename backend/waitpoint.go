package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"time"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// Waitpoint close reasons (ff_waitpoint.close_reason).
const (
	// closeResumed: the suspension's condition was satisfied (or a resume
	// grant took the execution over while suspended).
	closeResumed = "resumed"
	// closeConsumed: an already-satisfied Suspend used the pending
	// waitpoint's buffered signals.
	closeConsumed = "consumed"
	// closeCancelled: an active waitpoint left over from a suspension that
	// ended without closing it (operator cancel, then replay), closed by
	// the next Suspend of the execution.
	closeCancelled = "cancelled"
)

// Open waitpoint state sets for CloseOpenWaitpoints.
const (
	statesOpen   = `["pending","active"]`
	statesActive = `["active"]`
)

// pendingWaitpointListDefault and pendingWaitpointListMax bound
// ListPendingWaitpoints pages (API.md ListPendingWaitpointsArgs).
const (
	pendingWaitpointListDefault = 100
	pendingWaitpointListMax     = 1000
)

// loadWaitpoint reads a waitpoint row; missing is NotFound(waitpoint).
func (w *writeTx) loadWaitpoint(ctx context.Context, id WaitpointID) (dbgen.FfWaitpoint, error) {
	wp, err := w.q.GetWaitpoint(ctx, string(id))
	if isNoRows(err) {
		return wp, errNotFound(EntityWaitpoint)
	}
	return wp, err
}

// pendingExpired reports whether a pending waitpoint is past its expiry at
// now (marked expired by the scanner or not yet).
func pendingExpired(wp dbgen.FfWaitpoint, now int64) bool {
	if WaitpointState(wp.State) == WaitpointExpired {
		return true
	}
	return WaitpointState(wp.State) == WaitpointPending && wp.ExpiresAtMs.Valid && wp.ExpiresAtMs.Int64 <= now
}

// closeWaitpoints closes the execution's waitpoints in states (a JSON
// array) with reason; they are kept (API.md WaitpointClosed).
func (w *writeTx) closeWaitpoints(ctx context.Context, executionID, states, reason string) error {
	_, err := w.q.CloseOpenWaitpoints(ctx, dbgen.CloseOpenWaitpointsParams{
		ClosedAtMs: nullInt(w.now), CloseReason: nullString(reason), ExecutionID: executionID, StatesJson: states,
	})
	return err
}

// saturatingAddMS is now + d in ms, saturating instead of overflowing.
func saturatingAddMS(now int64, d time.Duration) int64 {
	ms := durationToMS(d)
	if ms > math.MaxInt64-now {
		return math.MaxInt64
	}
	return now + ms
}

// CreateWaitpoint creates a pending waitpoint (expiring after expiresIn)
// that a later Suspend activates with UsePendingBinding; signals delivered
// before that are buffered. Each call mints a new waitpoint and token,
// whatever the key. The handle's lease is checked like every other handle
// method; no kid seeded is ErrInvalidInput.
func (b *SQLiteBackend) CreateWaitpoint(ctx context.Context, h Handle, key WaitpointKey, expiresIn time.Duration) (PendingWaitpoint, error) {
	if expiresIn < 0 {
		if _, err := b.live("create_waitpoint"); err != nil {
			return PendingWaitpoint{}, err
		}
		return PendingWaitpoint{}, errInvalidInput("create_waitpoint: negative expires_in")
	}
	var out PendingWaitpoint
	err := b.handleOp(ctx, "create_waitpoint", h, func(ctx context.Context, w *writeTx, l *leased) error {
		if l.settled() {
			return l.notActive()
		}
		if err := w.requireLive(ctx, l); err != nil {
			return err
		}
		kid, secret, err := w.signingKey(ctx, "create_waitpoint")
		if err != nil {
			return err
		}
		id := NewWaitpointID()
		token := signToken(secret, kid, l.exec.id(), id)
		err = w.q.InsertWaitpoint(ctx, dbgen.InsertWaitpointParams{
			WaitpointID:             string(id),
			ExecutionID:             l.exec.ExecutionID,
			WaitpointKey:            string(key),
			State:                   string(WaitpointPending),
			TokenKid:                kid,
			Token:                   string(token),
			RequiredSignalNamesJson: "[]",
			CreatedAtMs:             w.now,
			ExpiresAtMs:             nullInt(saturatingAddMS(w.now, expiresIn)),
		})
		out = PendingWaitpoint{HMACToken: token, WaitpointID: id}
		return err
	})
	if err != nil {
		return PendingWaitpoint{}, err
	}
	return out, nil
}

// ListPendingWaitpoints lists the execution's pending and active
// waitpoints by waitpoint id (never the raw tokens: kid and fingerprint
// only); closed and expired waitpoints are kept but not listed. Unknown
// execution is NotFound(EntityExecution).
func (b *SQLiteBackend) ListPendingWaitpoints(ctx context.Context, args ListPendingWaitpointsArgs) (ListPendingWaitpointsResult, error) {
	db, err := b.live("list_pending_waitpoints")
	if err != nil {
		return ListPendingWaitpointsResult{}, err
	}
	if _, err := ParseExecutionID(string(args.ExecutionID)); err != nil {
		return ListPendingWaitpointsResult{}, err
	}
	after := args.After
	if after != "" {
		if after, err = ParseWaitpointID(string(after)); err != nil {
			return ListPendingWaitpointsResult{}, err
		}
	}
	limit := args.Limit
	if limit == 0 {
		limit = pendingWaitpointListDefault
	}
	limit = min(max(limit, 1), pendingWaitpointListMax)

	page := ListPendingWaitpointsResult{Items: []PendingWaitpointInfo{}}
	err = db.read(ctx, func(q *dbgen.Queries) error {
		if _, err := q.GetExecution(ctx, string(args.ExecutionID)); err != nil {
			if isNoRows(err) {
				return errNotFound(EntityExecution)
			}
			return err
		}
		rows, err := q.ListOpenWaitpoints(ctx, dbgen.ListOpenWaitpointsParams{
			ExecutionID: string(args.ExecutionID), After: string(after), Lim: int64(limit + 1),
		})
		if err != nil {
			return err
		}
		for i, r := range rows {
			if i == limit {
				page.Next = WaitpointID(rows[limit-1].WaitpointID)
				break
			}
			info, err := pendingWaitpointInfo(r)
			if err != nil {
				return err
			}
			page.Items = append(page.Items, info)
		}
		return nil
	})
	if err != nil {
		return ListPendingWaitpointsResult{}, err
	}
	return page, nil
}

// pendingWaitpointInfo is the listing view of a waitpoint row.
func pendingWaitpointInfo(r dbgen.FfWaitpoint) (PendingWaitpointInfo, error) {
	names := []string{}
	if err := json.Unmarshal([]byte(r.RequiredSignalNamesJson), &names); err != nil {
		return PendingWaitpointInfo{}, errCorruption("waitpoint " + r.WaitpointID + ": required_signal_names: " + err.Error())
	}
	if names == nil {
		names = []string{}
	}
	kid, fingerprint := tokenFingerprint(r.Token)
	return PendingWaitpointInfo{
		ActivatedAt:         msOrZero(r.ActivatedAtMs),
		CreatedAt:           fromMS(r.CreatedAtMs),
		ExecutionID:         ExecutionID(r.ExecutionID),
		ExpiresAt:           msOrZero(r.ExpiresAtMs),
		RequiredSignalNames: names,
		State:               WaitpointState(r.State),
		TokenFingerprint:    fingerprint,
		TokenKid:            kid,
		WaitpointID:         WaitpointID(r.WaitpointID),
		WaitpointKey:        WaitpointKey(r.WaitpointKey),
	}, nil
}

// msOrZero reads a nullable ms column (zero time for NULL).
func msOrZero(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}
