-- Attempts: one row per (execution, attempt index), written whole.

-- name: GetAttempt :one
SELECT * FROM ff_attempt WHERE execution_id = ? AND attempt_index = ?;

-- name: GetLatestAttempt :one
SELECT * FROM ff_attempt WHERE execution_id = ? ORDER BY attempt_index DESC LIMIT 1;

-- name: PutAttempt :exec
INSERT INTO ff_attempt (
    execution_id, attempt_index, attempt_id, attempt_type, lease_id, lease_epoch,
    lease_ttl_ms, lease_expires_at_ms, lease_renewed_at_ms, worker_id, worker_instance_id,
    started_at_ms, terminal_at_ms, outcome, retry_due_at_ms
) VALUES (
    sqlc.arg(execution_id), sqlc.arg(attempt_index), sqlc.arg(attempt_id),
    sqlc.arg(attempt_type), sqlc.narg(lease_id), sqlc.arg(lease_epoch), sqlc.arg(lease_ttl_ms),
    sqlc.narg(lease_expires_at_ms), sqlc.narg(lease_renewed_at_ms), sqlc.narg(worker_id),
    sqlc.narg(worker_instance_id), sqlc.narg(started_at_ms), sqlc.narg(terminal_at_ms),
    sqlc.narg(outcome), sqlc.narg(retry_due_at_ms)
)
ON CONFLICT (execution_id, attempt_index) DO UPDATE SET
    attempt_id          = excluded.attempt_id,
    attempt_type        = excluded.attempt_type,
    lease_id            = excluded.lease_id,
    lease_epoch         = excluded.lease_epoch,
    lease_ttl_ms        = excluded.lease_ttl_ms,
    lease_expires_at_ms = excluded.lease_expires_at_ms,
    lease_renewed_at_ms = excluded.lease_renewed_at_ms,
    worker_id           = excluded.worker_id,
    worker_instance_id  = excluded.worker_instance_id,
    started_at_ms       = excluded.started_at_ms,
    terminal_at_ms      = excluded.terminal_at_ms,
    outcome             = excluded.outcome,
    retry_due_at_ms     = excluded.retry_due_at_ms;

-- name: ExpiredLeases :many
-- Live leases past their expiry whose execution is still leased: the
-- lease-expiry scanner's batch.
SELECT a.execution_id, a.attempt_index FROM ff_attempt a
JOIN ff_exec_core e ON e.execution_id = a.execution_id
  AND e.attempt_index = a.attempt_index
WHERE a.lease_expires_at_ms < sqlc.arg(now_ms)
  AND e.lifecycle_phase = 'active' AND e.ownership_state = 'leased'
ORDER BY a.lease_expires_at_ms
LIMIT sqlc.arg(lim);

-- name: GetLeased :one
-- A handle's attempt and its execution in one statement (the lease fence
-- of every handle method). No row when either is missing; the caller then
-- asks again row by row to say which.
SELECT sqlc.embed(a), sqlc.embed(e)
FROM ff_attempt a
JOIN ff_exec_core e ON e.execution_id = a.execution_id
WHERE a.execution_id = sqlc.arg(execution_id) AND a.attempt_index = sqlc.arg(attempt_index);
