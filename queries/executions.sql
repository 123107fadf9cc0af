-- Executions: the ff_exec_core row is loaded whole, changed in Go (where the
-- state machine and the public_state derivation live) and saved whole.

-- name: InsertExecution :execrows
INSERT INTO ff_exec_core (
    execution_id, partition_key, lane_id, namespace, execution_kind, creator_identity,
    payload, payload_encoding, tags, instance_tag, policy, priority,
    lifecycle_phase, ownership_state, eligibility_state, attempt_state, blocking_reason,
    terminal_outcome, public_state, blocking_detail, required_cap_count,
    delay_until_ms, deadline_at_ms, idempotency_key, idempotency_expires_at_ms,
    created_at_ms, last_mutation_at_ms, flow_id, payload_external
) VALUES (
    sqlc.arg(execution_id), sqlc.arg(partition_key), sqlc.arg(lane_id), sqlc.arg(namespace),
    sqlc.arg(execution_kind), sqlc.arg(creator_identity), sqlc.arg(payload),
    sqlc.narg(payload_encoding), sqlc.arg(tags), sqlc.narg(instance_tag), sqlc.narg(policy),
    sqlc.arg(priority), sqlc.arg(lifecycle_phase), sqlc.arg(ownership_state),
    sqlc.arg(eligibility_state), sqlc.arg(attempt_state), sqlc.arg(blocking_reason),
    sqlc.arg(terminal_outcome), sqlc.arg(public_state), sqlc.arg(blocking_detail),
    sqlc.arg(required_cap_count), sqlc.narg(delay_until_ms), sqlc.narg(deadline_at_ms),
    sqlc.narg(idempotency_key), sqlc.narg(idempotency_expires_at_ms),
    sqlc.arg(created_at_ms), sqlc.arg(last_mutation_at_ms), sqlc.narg(flow_id), sqlc.arg(payload_external)
)
ON CONFLICT (execution_id) DO NOTHING;

-- name: InsertExecutionsJSON :many
-- CreateExecutions' bulk path: one statement for a run of plain elements
-- (no idempotency key, capabilities or gates). @batch is a JSON array of
-- arrays in InsertExecution's column order, the payload hex-encoded; rows
-- are inserted in array order, so a repeated id keeps its first row.
-- RETURNING names the rows inserted.
INSERT INTO ff_exec_core (
    execution_id, partition_key, lane_id, namespace, execution_kind, creator_identity,
    payload, payload_encoding, tags, instance_tag, policy, priority,
    lifecycle_phase, ownership_state, eligibility_state, attempt_state, blocking_reason,
    terminal_outcome, public_state, blocking_detail, required_cap_count,
    delay_until_ms, deadline_at_ms, idempotency_key, idempotency_expires_at_ms,
    created_at_ms, last_mutation_at_ms, flow_id
)
SELECT
    json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), json_extract(r.value, '$[2]'),
    json_extract(r.value, '$[3]'), json_extract(r.value, '$[4]'), json_extract(r.value, '$[5]'),
    unhex(json_extract(r.value, '$[6]')), json_extract(r.value, '$[7]'), json_extract(r.value, '$[8]'),
    json_extract(r.value, '$[9]'), json_extract(r.value, '$[10]'), json_extract(r.value, '$[11]'),
    json_extract(r.value, '$[12]'), json_extract(r.value, '$[13]'), json_extract(r.value, '$[14]'),
    json_extract(r.value, '$[15]'), json_extract(r.value, '$[16]'), json_extract(r.value, '$[17]'),
    json_extract(r.value, '$[18]'), json_extract(r.value, '$[19]'), json_extract(r.value, '$[20]'),
    json_extract(r.value, '$[21]'), json_extract(r.value, '$[22]'), NULL, NULL,
    json_extract(r.value, '$[23]'), json_extract(r.value, '$[24]'), json_extract(r.value, '$[25]')
FROM jsonb_each(CAST(sqlc.arg(batch) AS TEXT)) AS r
WHERE true
ORDER BY r.key
ON CONFLICT (execution_id) DO NOTHING
RETURNING execution_id;

-- name: AnyExecutionExists :one
-- BuildFlow: whether any of @ids (a JSON array) names an execution.
SELECT CAST(EXISTS (
    SELECT 1 FROM ff_exec_core
    WHERE execution_id IN (SELECT j.value FROM json_each(CAST(sqlc.arg(ids) AS TEXT)) AS j)
) AS INTEGER);

-- name: PayloadPut :exec
-- An out-of-line input payload (migration 00010), written or replaced.
INSERT INTO ff_exec_payload (execution_id, payload) VALUES (@execution_id, @payload)
ON CONFLICT (execution_id) DO UPDATE SET payload = excluded.payload;

-- name: PayloadGet :one
SELECT payload FROM ff_exec_payload WHERE execution_id = ?;

-- name: PayloadDelete :exec
DELETE FROM ff_exec_payload WHERE execution_id = ?;

-- name: GetExecution :one
SELECT * FROM ff_exec_core WHERE execution_id = ?;

-- name: GetExecutionGate :one
-- Dependency promotion's read: only the state it decides on and changes.
-- The whole row is ~55 columns, and scanning them is most of a lookup's
-- cost on the path that runs once per resolved edge.
SELECT lifecycle_phase, ownership_state, eligibility_state, attempt_state,
       public_state, delay_until_ms
FROM ff_exec_core WHERE execution_id = ?;

-- name: SaveExecutionGate :exec
-- Dependency promotion's write: the columns GetExecutionGate's caller
-- changes (ownership stays unowned), nothing else.
UPDATE ff_exec_core SET
    lifecycle_phase     = sqlc.arg(lifecycle_phase),
    eligibility_state   = sqlc.arg(eligibility_state),
    attempt_state       = sqlc.arg(attempt_state),
    blocking_reason     = sqlc.arg(blocking_reason),
    blocking_detail     = sqlc.arg(blocking_detail),
    public_state        = sqlc.arg(public_state),
    delay_until_ms      = sqlc.narg(delay_until_ms),
    last_mutation_at_ms = sqlc.arg(last_mutation_at_ms)
WHERE execution_id = sqlc.arg(execution_id);

-- name: GetExecutionResult :one
-- The stored result, or no row when the execution is unknown or has none.
-- The result is read on its own because the driver scans an empty BLOB as
-- a nil []byte, so GetExecution's row cannot tell "no result" (NULL) from
-- "empty result".
SELECT result FROM ff_exec_core WHERE execution_id = ? AND result IS NOT NULL;

-- name: SaveExecution :exec
-- Not flow_id (SetExecutionFlow): an UPDATE that names a column rewrites
-- the entries of every index on it, and a flow member is saved at every
-- step of its life.
UPDATE ff_exec_core SET
    priority             = sqlc.arg(priority),
    lifecycle_phase      = sqlc.arg(lifecycle_phase),
    ownership_state      = sqlc.arg(ownership_state),
    eligibility_state    = sqlc.arg(eligibility_state),
    attempt_state        = sqlc.arg(attempt_state),
    blocking_reason      = sqlc.arg(blocking_reason),
    terminal_outcome     = sqlc.arg(terminal_outcome),
    public_state         = sqlc.arg(public_state),
    blocking_detail      = sqlc.arg(blocking_detail),
    attempt_index        = sqlc.arg(attempt_index),
    total_attempt_count  = sqlc.arg(total_attempt_count),
    retry_count          = sqlc.arg(retry_count),
    replay_count         = sqlc.arg(replay_count),
    lease_reclaim_count  = sqlc.arg(lease_reclaim_count),
    delay_until_ms       = sqlc.narg(delay_until_ms),
    last_mutation_at_ms  = sqlc.arg(last_mutation_at_ms),
    started_at_ms        = sqlc.narg(started_at_ms),
    terminal_at_ms       = sqlc.narg(terminal_at_ms),
    result               = sqlc.narg(result),
    cancellation_reason  = sqlc.narg(cancellation_reason),
    cancelled_by         = sqlc.narg(cancelled_by),
    last_failure_message = sqlc.narg(last_failure_message),
    failure_category     = sqlc.narg(failure_category),
    progress_pct         = sqlc.narg(progress_pct),
    progress_message     = sqlc.narg(progress_message)
WHERE execution_id = sqlc.arg(execution_id);

-- name: SetExecutionFlow :exec
-- AddExecutionToFlow: the one write of flow_id after creation (BuildFlow
-- may instead insert a new member with its flow_id).
UPDATE ff_exec_core SET flow_id = @flow_id, last_mutation_at_ms = @now_ms
WHERE execution_id = @execution_id;

-- name: FindByIdempotencyKey :one
SELECT execution_id FROM ff_exec_core
WHERE partition_key = sqlc.arg(partition_key)
  AND namespace = sqlc.arg(namespace)
  AND idempotency_key = sqlc.arg(idempotency_key)
  AND idempotency_expires_at_ms > sqlc.arg(now_ms)
ORDER BY created_at_ms DESC
LIMIT 1;

-- name: InsertCapability :exec
INSERT INTO ff_execution_capabilities (execution_id, capability) VALUES (?, ?)
ON CONFLICT DO NOTHING;

-- name: ListCapabilities :many
SELECT capability FROM ff_execution_capabilities WHERE execution_id = ? ORDER BY capability;

-- name: PromoteDueInLane :execrows
-- Claim's lazy promotion: delayed and backing-off executions of one lane
-- whose time has come become eligible, a bounded batch per call. public_state
-- is computed in Go and passed in.
UPDATE ff_exec_core SET
    eligibility_state   = 'eligible_now',
    blocking_reason     = 'waiting_for_worker',
    blocking_detail     = '',
    public_state        = sqlc.arg(public_state),
    delay_until_ms      = NULL,
    last_mutation_at_ms = sqlc.arg(now_ms)
WHERE execution_id IN (
    SELECT d.execution_id FROM ff_exec_core d
    WHERE d.lane_id = sqlc.arg(lane_id)
      AND d.eligibility_state = 'not_eligible_until_time'
      AND d.delay_until_ms <= sqlc.arg(now_ms)
    LIMIT sqlc.arg(batch)
) AND lifecycle_phase = 'runnable';

-- name: PromoteDue :many
-- The delayed promoter's batch across all lanes; returns the lanes touched.
UPDATE ff_exec_core SET
    eligibility_state   = 'eligible_now',
    blocking_reason     = 'waiting_for_worker',
    blocking_detail     = '',
    public_state        = sqlc.arg(public_state),
    delay_until_ms      = NULL,
    last_mutation_at_ms = sqlc.arg(now_ms)
WHERE execution_id IN (
    SELECT d.execution_id FROM ff_exec_core d
    WHERE d.eligibility_state = 'not_eligible_until_time'
      AND d.delay_until_ms <= sqlc.arg(now_ms)
    LIMIT sqlc.arg(batch)
) AND lifecycle_phase = 'runnable'
RETURNING lane_id;

-- name: NextEligible :one
-- The best eligible execution of a lane whose required capabilities are all
-- in the worker's set (a JSON array). Walks ff_exec_core_claim_idx in order.
-- A resumable execution (a satisfied suspension) is runnable and eligible
-- too, but it continues its suspended attempt through ClaimResumedExecution
-- or ClaimFromResumeGrant, never through a fresh Claim. The whole row, so
-- that the usual claim needs no second lookup.
SELECT sqlc.embed(e) FROM ff_exec_core e
WHERE e.lane_id = sqlc.arg(lane_id)
  AND e.lifecycle_phase = 'runnable' AND e.eligibility_state = 'eligible_now'
  AND e.public_state <> 'resumable'
  AND (e.required_cap_count = 0 OR NOT EXISTS (
      SELECT 1 FROM ff_execution_capabilities c
      WHERE c.execution_id = e.execution_id
        AND c.capability NOT IN (
            SELECT j.value FROM json_each(CAST(sqlc.arg(caps_json) AS TEXT)) AS j)))
ORDER BY e.priority DESC, e.created_at_ms, e.execution_id
LIMIT 1;

-- name: ClaimProbe :one
-- Claim's look at a lane besides its eligible executions, in one statement:
-- when the lane's earliest delayed execution falls due (-1 when none is
-- delayed; claim promotes the due ones first, and a waiting Claim sleeps
-- until then instead of polling), and the best lease-expired
-- execution of the lane the worker can run (empty when none; decision 11).
SELECT
    CAST(coalesce((
        SELECT min(d.delay_until_ms) FROM ff_exec_core d
        WHERE d.lane_id = sqlc.arg(lane_id) AND d.eligibility_state = 'not_eligible_until_time'
    ), -1) AS INTEGER) AS next_due_ms,
    CAST(coalesce((
        SELECT e.execution_id FROM ff_exec_core e
        WHERE e.lane_id = sqlc.arg(lane_id)
          AND e.ownership_state = 'lease_expired_reclaimable'
          AND (e.required_cap_count = 0 OR NOT EXISTS (
              SELECT 1 FROM ff_execution_capabilities c
              WHERE c.execution_id = e.execution_id
                AND c.capability NOT IN (
                    SELECT j.value FROM json_each(CAST(sqlc.arg(caps_json) AS TEXT)) AS j)))
        ORDER BY e.priority DESC, e.created_at_ms, e.execution_id
        LIMIT 1
    ), '') AS TEXT) AS reclaimable_id;

-- name: ListExecutionIDs :many
-- Walks the primary key in id order. No (partition, id) index: the SQLite
-- backend writes partition 0 almost always, and that index cost a random
-- leaf page on every create (bench S1 profile).
SELECT execution_id FROM ff_exec_core
WHERE partition_key = sqlc.arg(partition_key) AND execution_id > sqlc.arg(after)
ORDER BY execution_id
LIMIT sqlc.arg(lim);

-- name: LaneMayHaveWork :one
-- A read-only look before Claim takes the write lock: is anything in the
-- lane eligible, reclaimable or due? Idle claimers woken by every commit
-- would otherwise each run an empty write transaction.
SELECT CAST(EXISTS (
    SELECT 1 FROM ff_exec_core e1
    WHERE e1.lane_id = CAST(sqlc.arg(lane_id) AS TEXT)
      AND e1.lifecycle_phase = 'runnable' AND e1.eligibility_state = 'eligible_now'
      AND e1.public_state <> 'resumable'
) OR EXISTS (
    SELECT 1 FROM ff_exec_core e2
    WHERE e2.lane_id = CAST(sqlc.arg(lane_id) AS TEXT)
      AND e2.ownership_state = 'lease_expired_reclaimable'
) OR EXISTS (
    SELECT 1 FROM ff_exec_core e3
    WHERE e3.lane_id = CAST(sqlc.arg(lane_id) AS TEXT)
      AND e3.eligibility_state = 'not_eligible_until_time'
      AND e3.delay_until_ms <= CAST(sqlc.arg(now_ms) AS INTEGER)
) AS INTEGER);
