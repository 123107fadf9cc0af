-- Claim and reclaim grants issued by an external scheduler.

-- name: InsertGrant :exec
INSERT INTO ff_claim_grant (
    grant_id, execution_id, kind, worker_id, worker_instance_id, lane_id, capability_hash,
    worker_capabilities, grant_ttl_ms, issued_at_ms, expires_at_ms
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: NewestGrant :one
SELECT * FROM ff_claim_grant
WHERE execution_id = sqlc.arg(execution_id) AND kind = sqlc.arg(kind)
ORDER BY issued_at_ms DESC, grant_id DESC
LIMIT 1;

-- name: DeleteExpiredGrants :exec
DELETE FROM ff_claim_grant
WHERE execution_id = sqlc.arg(execution_id) AND kind = sqlc.arg(kind)
  AND expires_at_ms <= sqlc.arg(now_ms);

-- name: DeleteGrants :exec
DELETE FROM ff_claim_grant WHERE execution_id = ? AND kind = ?;

-- name: DeleteGrant :exec
DELETE FROM ff_claim_grant WHERE grant_id = ?;

-- name: ScanEligible :many
SELECT execution_id FROM ff_exec_core
WHERE lane_id = sqlc.arg(lane_id)
  AND lifecycle_phase = 'runnable' AND eligibility_state = 'eligible_now'
  -- A resumable execution is claimed through the resumed-claim path.
  AND public_state <> 'resumable'
  AND partition_key = sqlc.arg(partition_key)
ORDER BY priority DESC, created_at_ms, execution_id
LIMIT sqlc.arg(lim);
