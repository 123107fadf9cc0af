-- Budgets: policies with typed per-dimension limits, usage, usage-report
-- dedup, the per-execution ledger, and the budget side of the claim gate
-- (spec 05 part A, 00 decision 16).

-- name: BudgetBlockedGates :many
-- Unblock scanner: the distinct gates of budget-blocked executions.
SELECT DISTINCT blocked_gate FROM ff_exec_core
WHERE eligibility_state = 'blocked_by_budget'
LIMIT @lim;

-- name: BudgetBlockedOnGate :many
-- Budget-blocked executions recorded against one gate, in claim order.
SELECT execution_id FROM ff_exec_core
WHERE eligibility_state = 'blocked_by_budget' AND blocked_gate = @gate
  AND (CAST(@namespace AS TEXT) = '' OR namespace = @namespace)
  AND (CAST(@tag_set AS INTEGER) = 0 OR instance_tag = @instance_tag)
ORDER BY priority DESC, created_at_ms, execution_id
LIMIT @lim;

-- name: BudgetBlockedUngated :many
-- Budget-blocked executions no gate recorded (BlockRoute), in claim order.
SELECT execution_id FROM ff_exec_core
WHERE eligibility_state = 'blocked_by_budget' AND blocked_gate IS NULL
  AND (CAST(@namespace AS TEXT) = '' OR namespace = @namespace)
  AND (CAST(@tag_set AS INTEGER) = 0 OR instance_tag = @instance_tag)
ORDER BY priority DESC, created_at_ms, execution_id
LIMIT @lim;

-- name: BudgetBreach :one
-- Whether one budget is hard-breached: its first breached dimension.
SELECT l.dimension, l.hard_limit, u.current_value
FROM ff_budget_limit l
JOIN ff_budget_usage u ON u.budget_id = l.budget_id AND u.dimension = l.dimension
WHERE l.budget_id = @budget_id
  AND l.hard_limit > 0 AND u.current_value >= l.hard_limit
ORDER BY l.dimension
LIMIT 1;

-- name: BudgetDedupDeleteExpired :execrows
-- An expired key counts as absent: the report path and the purge drop it.
DELETE FROM ff_budget_usage_dedup
WHERE budget_id = @budget_id AND dedup_key = @dedup_key AND expires_at_ms <= @now_ms;

-- name: BudgetDedupExpired :many
-- Dedup purge (budget-reset tick): the oldest expired keys (expires_idx).
SELECT budget_id, dedup_key FROM ff_budget_usage_dedup
WHERE expires_at_ms <= @now_ms
ORDER BY expires_at_ms
LIMIT @lim;

-- name: BudgetDedupGet :one
SELECT * FROM ff_budget_usage_dedup WHERE budget_id = @budget_id AND dedup_key = @dedup_key;

-- name: BudgetDedupPut :exec
-- Records a report's outcome under its key, in the report's transaction.
INSERT INTO ff_budget_usage_dedup (
    budget_id, dedup_key, outcome_kind, outcome_dimension, outcome_current_usage,
    outcome_limit, applied_at_ms, expires_at_ms
) VALUES (
    @budget_id, @dedup_key, @outcome_kind, @outcome_dimension, @outcome_current_usage,
    @outcome_limit, @now_ms, @expires_at_ms
);

-- name: BudgetDueResets :many
-- Budget-reset scanner: due budgets, earliest first (reset_due_idx).
SELECT budget_id FROM ff_budget_policy
WHERE next_reset_at_ms IS NOT NULL AND next_reset_at_ms <= @now_ms
ORDER BY next_reset_at_ms
LIMIT @lim;

-- name: BudgetEnsureUsage :exec
-- Every reported dimension gets a usage row, even when the report is
-- rejected (BudgetStatus.Usage lists every dimension ever reported).
INSERT INTO ff_budget_usage (budget_id, dimension, current_value, updated_at_ms)
VALUES (@budget_id, @dimension, 0, @now_ms)
ON CONFLICT (budget_id, dimension) DO NOTHING;

-- name: BudgetGetPolicy :one
SELECT * FROM ff_budget_policy WHERE budget_id = @budget_id;

-- name: BudgetInsertPolicy :execrows
-- CreateBudget: an existing budget is left untouched (0 rows).
INSERT INTO ff_budget_policy (
    budget_id, scope_type, scope_id, enforcement_mode, on_hard_limit, on_soft_limit,
    reset_interval_ms, next_reset_at_ms, created_at_ms, updated_at_ms
) VALUES (
    @budget_id, @scope_type, @scope_id, @enforcement_mode, @on_hard_limit, @on_soft_limit,
    @reset_interval_ms, sqlc.narg(next_reset_at_ms), @now_ms, @now_ms
)
ON CONFLICT (budget_id) DO NOTHING;

-- name: BudgetLedgerAdd :exec
-- What one execution charged a budget per dimension (saturating at 2^63-1).
INSERT INTO ff_budget_usage_by_exec (budget_id, execution_id, dimension, delta_total, updated_at_ms)
VALUES (@budget_id, @execution_id, @dimension, @delta, @now_ms)
ON CONFLICT (budget_id, execution_id, dimension) DO UPDATE SET
    delta_total = CASE WHEN delta_total > 9223372036854775807 - excluded.delta_total
                       THEN 9223372036854775807
                       ELSE delta_total + excluded.delta_total END,
    updated_at_ms = excluded.updated_at_ms;

-- name: BudgetListLimits :many
SELECT dimension, hard_limit, soft_limit FROM ff_budget_limit
WHERE budget_id = @budget_id
ORDER BY dimension;

-- name: BudgetListUsage :many
SELECT dimension, current_value FROM ff_budget_usage
WHERE budget_id = @budget_id
ORDER BY dimension;

-- name: BudgetPutLimit :exec
-- A repeated dimension keeps the last limits (CreateBudget walks in order).
INSERT INTO ff_budget_limit (budget_id, dimension, hard_limit, soft_limit)
VALUES (@budget_id, @dimension, @hard_limit, @soft_limit)
ON CONFLICT (budget_id, dimension) DO UPDATE SET
    hard_limit = excluded.hard_limit,
    soft_limit = excluded.soft_limit;

-- name: BudgetRecordHardBreach :exec
UPDATE ff_budget_policy SET
    breach_count      = breach_count + 1,
    last_breach_at_ms = @now_ms,
    last_breach_dim   = @dimension,
    updated_at_ms     = @now_ms
WHERE budget_id = @budget_id;

-- name: BudgetRecordSoftBreach :exec
UPDATE ff_budget_policy SET
    soft_breach_count = soft_breach_count + 1,
    updated_at_ms     = @now_ms
WHERE budget_id = @budget_id;

-- name: BudgetResetPolicy :exec
-- The breach counters are lifetime totals and stay.
UPDATE ff_budget_policy SET
    last_breach_at_ms = NULL,
    last_breach_dim   = NULL,
    next_reset_at_ms  = sqlc.narg(next_reset_at_ms),
    updated_at_ms     = @now_ms
WHERE budget_id = @budget_id;

-- name: BudgetResetUsage :exec
UPDATE ff_budget_usage SET current_value = 0, last_reset_at_ms = @now_ms, updated_at_ms = @now_ms
WHERE budget_id = @budget_id;

-- name: BudgetSetUsage :exec
UPDATE ff_budget_usage SET current_value = @current_value, updated_at_ms = @now_ms
WHERE budget_id = @budget_id AND dimension = @dimension;

-- name: ExecAddBudget :exec
INSERT INTO ff_execution_budget (execution_id, budget_id) VALUES (@execution_id, @budget_id)
ON CONFLICT (execution_id, budget_id) DO NOTHING;

-- name: ExecBreachedBudget :one
-- The claim gate: one hard-breached budget the execution names (usage at
-- or above a non-zero hard limit), if any.
SELECT l.budget_id, l.dimension, l.hard_limit, u.current_value
FROM ff_execution_budget eb
JOIN ff_budget_limit l ON l.budget_id = eb.budget_id
JOIN ff_budget_usage u ON u.budget_id = l.budget_id AND u.dimension = l.dimension
WHERE eb.execution_id = @execution_id
  AND l.hard_limit > 0 AND u.current_value >= l.hard_limit
ORDER BY l.budget_id, l.dimension
LIMIT 1;

-- name: ExecSetBlockedGate :exec
UPDATE ff_exec_core SET blocked_gate = sqlc.narg(blocked_gate) WHERE execution_id = @execution_id;

-- name: ExecSetGates :exec
-- CreateExecution: the policy's quota, budget count and attempt timeout.
UPDATE ff_exec_core SET
    quota_policy_id    = sqlc.narg(quota_policy_id),
    budget_count       = @budget_count,
    attempt_timeout_ms = sqlc.narg(attempt_timeout_ms)
WHERE execution_id = @execution_id;
