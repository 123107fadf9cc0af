-- Event subscriptions (spec 05 Part D): reads of the outbox tables the
-- writers fill in the transaction of each change. event_id is
-- AUTOINCREMENT, so ids are never reused and their order is commit order
-- (one writer at a time).

-- name: CompletionEventListAfter :many
SELECT event_id, execution_id, outcome, namespace, instance_tag, occurred_at_ms
FROM ff_completion_event
WHERE event_id > sqlc.arg(after_id)
ORDER BY event_id
LIMIT sqlc.arg(max_rows);

-- name: CompletionEventMaxID :one
-- The "from now" position of a new subscription (0 for an empty table).
SELECT CAST(coalesce(max(event_id), 0) AS INTEGER) FROM ff_completion_event;

-- name: LeaseEventListAfter :many
SELECT event_id, execution_id, lease_id, worker_instance_id, event_type, namespace,
       instance_tag, occurred_at_ms
FROM ff_lease_event
WHERE event_id > sqlc.arg(after_id)
ORDER BY event_id
LIMIT sqlc.arg(max_rows);

-- name: LeaseEventMaxID :one
SELECT CAST(coalesce(max(event_id), 0) AS INTEGER) FROM ff_lease_event;

-- name: SignalEventListAfter :many
SELECT event_id, execution_id, signal_id, waitpoint_id, source_identity, effect,
       namespace, instance_tag, delivered_at_ms
FROM ff_signal_event
WHERE event_id > sqlc.arg(after_id)
ORDER BY event_id
LIMIT sqlc.arg(max_rows);

-- name: SignalEventMaxID :one
SELECT CAST(coalesce(max(event_id), 0) AS INTEGER) FROM ff_signal_event;
