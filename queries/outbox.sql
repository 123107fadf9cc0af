-- Outbox rows: written in the transaction of the change they describe.

-- name: InsertLeaseEvent :exec
INSERT INTO ff_lease_event (
    execution_id, attempt_index, lease_id, worker_instance_id, event_type,
    namespace, instance_tag, occurred_at_ms
) VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: InsertOperatorEvent :one
INSERT INTO ff_operator_event (
    execution_id, event_type, details, namespace, instance_tag, occurred_at_ms
) VALUES (?, ?, ?, ?, ?, ?)
RETURNING event_id;
