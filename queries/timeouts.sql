-- Attempt timeouts and execution deadlines (spec 05 B.4 J3, J4).

-- name: AttemptTimeoutsDue :many
-- Running executions whose current attempt's lease started more than the
-- policy's attempt timeout ago (attempt_timeout_idx).
SELECT e.execution_id FROM ff_exec_core e
JOIN ff_attempt a ON a.execution_id = e.execution_id AND a.attempt_index = e.attempt_index
WHERE e.attempt_timeout_ms IS NOT NULL AND e.lifecycle_phase = 'active'
  AND a.started_at_ms + e.attempt_timeout_ms < @now_ms
  AND (CAST(@namespace AS TEXT) = '' OR e.namespace = @namespace)
  AND (CAST(@tag_set AS INTEGER) = 0 OR e.instance_tag = @instance_tag)
ORDER BY e.execution_id
LIMIT @lim;

-- name: ExecutionDeadlinesDue :many
-- Unfinished executions past their absolute deadline, earliest first
-- (deadline_idx).
SELECT execution_id FROM ff_exec_core
WHERE deadline_at_ms IS NOT NULL AND lifecycle_phase <> 'terminal'
  AND deadline_at_ms < @now_ms
  AND (CAST(@namespace AS TEXT) = '' OR namespace = @namespace)
  AND (CAST(@tag_set AS INTEGER) = 0 OR instance_tag = @instance_tag)
ORDER BY deadline_at_ms
LIMIT @lim;
