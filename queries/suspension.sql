-- Suspensions (ff_suspension_current), waitpoints (ff_waitpoint) and the
-- per-execution Suspend idempotency cache (ff_suspend_dedup).

-- name: GetSuspension :one
SELECT * FROM ff_suspension_current WHERE execution_id = ?;

-- name: UpsertSuspension :one
-- Each Suspend overwrites the execution's row and takes the next
-- suspension_seq, the key its signals are filed under.
INSERT INTO ff_suspension_current (
    execution_id, suspension_id, suspension_seq, attempt_index, primary_waitpoint_id,
    reason_code, condition_json, timeout_at_ms, timeout_behavior, suspended_at_ms
) VALUES (
    sqlc.arg(execution_id), sqlc.arg(suspension_id), 1, sqlc.arg(attempt_index),
    sqlc.arg(primary_waitpoint_id), sqlc.narg(reason_code), sqlc.arg(condition_json),
    sqlc.narg(timeout_at_ms), sqlc.arg(timeout_behavior), sqlc.arg(suspended_at_ms)
)
ON CONFLICT (execution_id) DO UPDATE SET
    suspension_id        = excluded.suspension_id,
    suspension_seq       = ff_suspension_current.suspension_seq + 1,
    attempt_index        = excluded.attempt_index,
    primary_waitpoint_id = excluded.primary_waitpoint_id,
    reason_code          = excluded.reason_code,
    condition_json       = excluded.condition_json,
    timeout_at_ms        = excluded.timeout_at_ms,
    timeout_behavior     = excluded.timeout_behavior,
    suspended_at_ms      = excluded.suspended_at_ms
RETURNING suspension_seq;

-- name: ClearSuspensionTimeout :exec
-- The suspension ended (resumed, timed out) or no longer has a deadline.
UPDATE ff_suspension_current SET timeout_at_ms = NULL WHERE execution_id = ?;

-- name: EscalateSuspension :exec
-- Timeout behaviour escalate: the execution stays suspended, now waiting
-- for an operator, with no deadline.
UPDATE ff_suspension_current SET
    timeout_at_ms = NULL,
    reason_code   = 'waiting_for_operator_review'
WHERE execution_id = ?;

-- name: DueSuspensionTimeouts :many
-- The suspension-timeout scanner's batch, earliest first. Rows of
-- executions that are no longer suspended are included so the scanner can
-- clear their stale timeouts and keep the partial index small.
SELECT execution_id FROM ff_suspension_current
WHERE timeout_at_ms IS NOT NULL AND timeout_at_ms <= sqlc.arg(now_ms)
ORDER BY timeout_at_ms
LIMIT sqlc.arg(lim);

-- name: ListSuspendedPage :many
-- Suspended executions of one partition in (suspended_at_ms, execution_id)
-- order after a cursor. With by_time = 0 the cursor is the id alone (its
-- suspension row is gone).
SELECT s.execution_id, s.suspended_at_ms, s.reason_code
FROM ff_suspension_current s
JOIN ff_exec_core e ON e.execution_id = s.execution_id
WHERE e.partition_key = sqlc.arg(partition_key)
  AND e.lifecycle_phase = 'suspended'
  AND ((CAST(sqlc.arg(by_time) AS INTEGER) = 1
          AND (s.suspended_at_ms > sqlc.arg(after_ms)
               OR (s.suspended_at_ms = sqlc.arg(after_ms) AND s.execution_id > sqlc.arg(after_id))))
    OR (CAST(sqlc.arg(by_time) AS INTEGER) = 0 AND s.execution_id > sqlc.arg(after_id)))
ORDER BY s.suspended_at_ms, s.execution_id
LIMIT sqlc.arg(lim);

-- name: GetSuspendDedup :one
SELECT outcome_json FROM ff_suspend_dedup
WHERE execution_id = ? AND idempotency_key = ?;

-- name: InsertSuspendDedup :exec
INSERT INTO ff_suspend_dedup (execution_id, idempotency_key, outcome_json, created_at_ms)
VALUES (?, ?, ?, ?)
ON CONFLICT (execution_id, idempotency_key) DO NOTHING;

-- name: GetWaitpoint :one
SELECT * FROM ff_waitpoint WHERE waitpoint_id = ?;

-- name: InsertWaitpoint :exec
INSERT INTO ff_waitpoint (
    waitpoint_id, execution_id, waitpoint_key, state, suspension_id, token_kid, token,
    required_signal_names_json, created_at_ms, expires_at_ms, activated_at_ms
) VALUES (
    sqlc.arg(waitpoint_id), sqlc.arg(execution_id), sqlc.arg(waitpoint_key), sqlc.arg(state),
    sqlc.narg(suspension_id), sqlc.arg(token_kid), sqlc.arg(token),
    sqlc.arg(required_signal_names_json), sqlc.arg(created_at_ms), sqlc.narg(expires_at_ms),
    sqlc.narg(activated_at_ms)
);

-- name: ActivateWaitpoint :exec
-- A pending waitpoint bound by Suspend: re-minted token (the active kid may
-- have changed), the suspension's names and timeout.
UPDATE ff_waitpoint SET
    state                      = 'active',
    suspension_id              = sqlc.arg(suspension_id),
    token_kid                  = sqlc.arg(token_kid),
    token                      = sqlc.arg(token),
    required_signal_names_json = sqlc.arg(required_signal_names_json),
    expires_at_ms              = sqlc.narg(expires_at_ms),
    activated_at_ms            = sqlc.arg(activated_at_ms)
WHERE waitpoint_id = sqlc.arg(waitpoint_id) AND state = 'pending';

-- name: CloseWaitpoint :exec
UPDATE ff_waitpoint SET
    state        = 'closed',
    closed_at_ms = sqlc.arg(closed_at_ms),
    close_reason = sqlc.arg(close_reason)
WHERE waitpoint_id = sqlc.arg(waitpoint_id);

-- name: CloseOpenWaitpoints :execrows
-- Closes the execution's open waitpoints in the given states (a JSON array
-- of 'pending' / 'active').
UPDATE ff_waitpoint SET
    state        = 'closed',
    closed_at_ms = sqlc.arg(closed_at_ms),
    close_reason = sqlc.arg(close_reason)
WHERE execution_id = sqlc.arg(execution_id)
  AND state IN (SELECT j.value FROM json_each(CAST(sqlc.arg(states_json) AS TEXT)) AS j);

-- name: ListOpenWaitpoints :many
-- ListPendingWaitpoints: pending and active waitpoints of one execution
-- after a cursor, by id.
SELECT * FROM ff_waitpoint
WHERE execution_id = sqlc.arg(execution_id)
  AND state IN ('pending', 'active')
  AND waitpoint_id > sqlc.arg(after)
ORDER BY waitpoint_id
LIMIT sqlc.arg(lim);

-- name: ExpireDuePendingWaitpoints :many
-- The pending-waitpoint expiry scanner: pending waitpoints past their
-- expiry become 'expired' (kept, never deleted), a bounded batch per call.
-- Active waitpoints are governed by the suspension timeout instead.
UPDATE ff_waitpoint SET
    state        = 'expired',
    closed_at_ms = sqlc.arg(now_ms)
WHERE waitpoint_id IN (
    SELECT p.waitpoint_id FROM ff_waitpoint p
    WHERE p.state = 'pending' AND p.expires_at_ms IS NOT NULL
      AND p.expires_at_ms <= sqlc.arg(now_ms)
    LIMIT sqlc.arg(lim)
) AND state = 'pending'
RETURNING waitpoint_id;
