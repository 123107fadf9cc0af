-- Operator CLI (cmd/ffsqlite): read-only listings the public backend API
-- has no method for. Everything else the CLI shows comes from the API.
-- The CLI runs these on its own query_only connection after backend.New
-- has passed the dev-mode guard and migrated the file.

-- name: CliAttemptList :many
-- Every attempt of one execution, oldest first: ExecutionSnapshot only
-- names the current attempt, but an operator debugging retries and
-- reclaims needs the history (type, worker, outcome, times).
SELECT attempt_index, attempt_id, attempt_type, lease_epoch, worker_id,
       worker_instance_id, started_at_ms, terminal_at_ms, outcome,
       lease_expires_at_ms
FROM ff_attempt
WHERE execution_id = sqlc.arg(execution_id)
ORDER BY attempt_index
LIMIT sqlc.arg(lim);

-- name: CliFlowMemberList :many
-- Members of one flow in id order (keyset by execution id). FlowSnapshot
-- only counts them, and ListEdges cannot reach a member without edges.
-- Uses ff_exec_core_flow_idx.
SELECT execution_id FROM ff_exec_core
WHERE flow_id = sqlc.arg(flow_id) AND execution_id > sqlc.arg(after)
ORDER BY execution_id
LIMIT sqlc.arg(lim);

-- name: CliWaitpointExecutionList :many
-- Executions that have a pending or active waitpoint, in id order (keyset
-- by execution id). ListPendingWaitpoints needs an execution id; without
-- this the CLI would have to call it for every execution in the database.
-- Walks ff_waitpoint_execution_idx in order.
SELECT DISTINCT execution_id FROM ff_waitpoint
WHERE state IN ('pending', 'active') AND execution_id > sqlc.arg(after)
ORDER BY execution_id
LIMIT sqlc.arg(lim);
