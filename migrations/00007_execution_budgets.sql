-- +goose Up
-- What an execution's policy says about budgets, its quota policy and its
-- attempt timeout, as typed columns the claim gate and the scanners filter
-- on (spec 00 §3, §16; 05 §B.4 J3). The policy JSON keeps the caller's
-- document; these columns are written once at create.

-- The quota policy gating Claim (canonical UUID text; NULL = none).
ALTER TABLE ff_exec_core ADD COLUMN quota_policy_id TEXT;
-- How many budgets the policy names: Claim looks the budgets up only when
-- this is > 0, like required_cap_count for capabilities.
ALTER TABLE ff_exec_core ADD COLUMN budget_count INTEGER NOT NULL DEFAULT 0
    CHECK (budget_count >= 0);
-- TimeoutPolicy.AttemptTimeout in ms (NULL = none): the attempt-timeout
-- scanner ends attempts whose lease started longer ago than this.
ALTER TABLE ff_exec_core ADD COLUMN attempt_timeout_ms INTEGER
    CHECK (attempt_timeout_ms IS NULL OR attempt_timeout_ms > 0);
-- The budget or quota policy whose limit last blocked the execution at
-- claim. The unblock scanner re-admits blocked executions gate by gate, so
-- one exhausted budget costs one check per tick, not one per execution.
-- NULL for a block that no gate recorded (BlockRoute). Only meaningful
-- while eligibility_state is blocked_by_budget or blocked_by_quota.
ALTER TABLE ff_exec_core ADD COLUMN blocked_gate TEXT;

-- The budgets an execution's policy names (canonical UUID text).
CREATE TABLE ff_execution_budget (
    execution_id TEXT NOT NULL,
    budget_id    TEXT NOT NULL,
    PRIMARY KEY (execution_id, budget_id)
) STRICT, WITHOUT ROWID;

-- Claim's quota gate counts a policy's active executions (concurrency cap)
-- and the unblock scanner its runnable ones, from this index alone.
CREATE INDEX ff_exec_core_quota_idx ON ff_exec_core
    (quota_policy_id, lifecycle_phase, eligibility_state)
    WHERE quota_policy_id IS NOT NULL;
-- Unblock scanner: blocked executions per gate, in claim order. Two partial
-- indexes because SQLite only uses a partial index whose WHERE term appears
-- verbatim in the query.
CREATE INDEX ff_exec_core_budget_blocked_idx ON ff_exec_core
    (blocked_gate, priority DESC, created_at_ms, execution_id)
    WHERE eligibility_state = 'blocked_by_budget';
CREATE INDEX ff_exec_core_quota_blocked_idx ON ff_exec_core
    (blocked_gate, priority DESC, created_at_ms, execution_id)
    WHERE eligibility_state = 'blocked_by_quota';
-- Attempt-timeout scanner: the running executions that have a timeout.
CREATE INDEX ff_exec_core_attempt_timeout_idx ON ff_exec_core (execution_id)
    WHERE attempt_timeout_ms IS NOT NULL AND lifecycle_phase = 'active';
-- Retention trimmer deletes a finished execution's operator events (00002
-- has no execution index on this outbox).
CREATE INDEX ff_operator_event_execution_idx ON ff_operator_event (execution_id);

-- +goose Down
DROP INDEX ff_operator_event_execution_idx;
DROP INDEX ff_exec_core_attempt_timeout_idx;
DROP INDEX ff_exec_core_quota_blocked_idx;
DROP INDEX ff_exec_core_budget_blocked_idx;
DROP INDEX ff_exec_core_quota_idx;
DROP TABLE ff_execution_budget;
ALTER TABLE ff_exec_core DROP COLUMN blocked_gate;
ALTER TABLE ff_exec_core DROP COLUMN attempt_timeout_ms;
ALTER TABLE ff_exec_core DROP COLUMN budget_count;
ALTER TABLE ff_exec_core DROP COLUMN quota_policy_id;
