-- Signals (ff_signal: one row per accepted signal) and the signal-delivery
-- outbox (ff_signal_event).

-- name: InsertSignal :exec
INSERT INTO ff_signal (
    signal_id, execution_id, waitpoint_id, waitpoint_key, suspension_seq, signal_name,
    signal_category, source_type, source_identity, correlation_id, payload, effect,
    idempotency_key, dedup_expires_at_ms, accepted_at_ms
) VALUES (
    sqlc.arg(signal_id), sqlc.arg(execution_id), sqlc.narg(waitpoint_id),
    sqlc.arg(waitpoint_key), sqlc.narg(suspension_seq), sqlc.arg(signal_name),
    sqlc.arg(signal_category), sqlc.arg(source_type), sqlc.arg(source_identity),
    sqlc.arg(correlation_id), sqlc.narg(payload), sqlc.arg(effect),
    sqlc.narg(idempotency_key), sqlc.narg(dedup_expires_at_ms), sqlc.arg(accepted_at_ms)
);

-- name: SuspensionSignals :many
-- Every signal of one suspension: by key, then in delivery order.
-- has_payload tells an empty payload from none (the driver reads both as
-- a nil slice).
SELECT signal_id, waitpoint_key, signal_name, signal_category, source_type,
       source_identity, correlation_id, payload,
       CAST(payload IS NOT NULL AS INTEGER) AS has_payload, accepted_at_ms
FROM ff_signal
WHERE execution_id = sqlc.arg(execution_id) AND suspension_seq = sqlc.arg(suspension_seq)
ORDER BY waitpoint_key, signal_seq;

-- name: AdoptBufferedSignals :exec
-- Suspend files a pending waitpoint's buffered signals under the new
-- suspension, so they count toward its condition.
UPDATE ff_signal SET suspension_seq = sqlc.arg(suspension_seq)
WHERE waitpoint_id = sqlc.arg(waitpoint_id) AND suspension_seq IS NULL;

-- name: FindDedupedSignal :one
-- The signal an earlier delivery with this idempotency key recorded on the
-- waitpoint, while its dedup window is open.
SELECT signal_id FROM ff_signal
WHERE waitpoint_id = sqlc.arg(waitpoint_id)
  AND idempotency_key = sqlc.arg(idempotency_key)
  AND dedup_expires_at_ms > sqlc.arg(now_ms)
ORDER BY signal_seq DESC
LIMIT 1;

-- name: CountExecutionSignals :one
SELECT count(*) FROM ff_signal WHERE execution_id = ?;

-- name: InsertSignalEvent :one
INSERT INTO ff_signal_event (
    execution_id, signal_id, waitpoint_id, source_identity, effect, namespace,
    instance_tag, delivered_at_ms
) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
RETURNING event_id;
