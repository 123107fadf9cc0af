-- +goose Up
-- Budgets and quotas: budget policies with typed limits per dimension,
-- usage per dimension, usage-report dedup, the per-execution spend ledger,
-- quota policies, the quota sliding window and per-execution admissions.
-- Spec 05 Part A, 00 §16. Budget and quota policy ids are canonical
-- lowercase UUID text; execution ids are the full wire text "{fp:N}:<uuid>".
-- Counters and limits are INTEGER (int64): the Go side rejects or clamps
-- uint64 values above 2^63-1 before writing.

CREATE TABLE ff_budget_policy (
    budget_id         TEXT    PRIMARY KEY,
    scope_type        TEXT    NOT NULL DEFAULT '',
    scope_id          TEXT    NOT NULL DEFAULT '',
    -- Caller labels, stored and echoed (no fixed vocabulary).
    enforcement_mode  TEXT    NOT NULL DEFAULT '',
    -- Action applied on a hard breach ('' = none) / on a soft breach.
    on_hard_limit     TEXT    NOT NULL DEFAULT '',
    on_soft_limit     TEXT    NOT NULL DEFAULT '',
    -- 0 = never resets; otherwise next_reset_at_ms is scheduled.
    reset_interval_ms INTEGER NOT NULL DEFAULT 0 CHECK (reset_interval_ms >= 0),
    next_reset_at_ms  INTEGER,
    -- Lifetime totals (a reset does not zero them).
    breach_count      INTEGER NOT NULL DEFAULT 0 CHECK (breach_count >= 0),
    soft_breach_count INTEGER NOT NULL DEFAULT 0 CHECK (soft_breach_count >= 0),
    -- Last hard breach since the last reset (both NULL = none).
    last_breach_at_ms INTEGER,
    last_breach_dim   TEXT,
    created_at_ms     INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL,
    CHECK (reset_interval_ms > 0 OR next_reset_at_ms IS NULL),
    CHECK ((last_breach_at_ms IS NULL) = (last_breach_dim IS NULL))
) STRICT, WITHOUT ROWID;

-- Budget-reset scanner: due budgets, earliest first.
CREATE INDEX ff_budget_policy_reset_due_idx ON ff_budget_policy (next_reset_at_ms)
    WHERE next_reset_at_ms IS NOT NULL;

-- Limits per dimension (0 = no limit, still reported). A table rather than
-- a JSON document because Claim's budget gate joins it with usage:
-- hard-breached <=> some dimension has hard_limit > 0 and
-- current_value >= hard_limit.
CREATE TABLE ff_budget_limit (
    budget_id  TEXT    NOT NULL,
    dimension  TEXT    NOT NULL,
    hard_limit INTEGER NOT NULL DEFAULT 0 CHECK (hard_limit >= 0),
    soft_limit INTEGER NOT NULL DEFAULT 0 CHECK (soft_limit >= 0),
    PRIMARY KEY (budget_id, dimension)
) STRICT, WITHOUT ROWID;

-- Current usage per dimension ever reported (an unknown budget still gets
-- usage rows: it simply has no limits).
CREATE TABLE ff_budget_usage (
    budget_id        TEXT    NOT NULL,
    dimension        TEXT    NOT NULL,
    current_value    INTEGER NOT NULL DEFAULT 0 CHECK (current_value >= 0),
    last_reset_at_ms INTEGER,
    updated_at_ms    INTEGER NOT NULL,
    PRIMARY KEY (budget_id, dimension)
) STRICT, WITHOUT ROWID;

-- Usage-report dedup: the key is reserved first (outcome_kind NULL), then
-- the report's result is recorded and replayed for a repeat within the
-- window. Scoped per budget, so one key reused on two budgets does not
-- collide (the original's global scope was an accident).
CREATE TABLE ff_budget_usage_dedup (
    budget_id             TEXT    NOT NULL,
    dedup_key             TEXT    NOT NULL CHECK (dedup_key <> ''),
    -- NULL = reserved, no result recorded (a repeat reports already_applied).
    outcome_kind          TEXT CHECK (
        outcome_kind = 'ok' OR outcome_kind = 'soft_breach' OR outcome_kind = 'hard_breach'
        OR outcome_kind = 'already_applied'),
    outcome_dimension     TEXT    NOT NULL DEFAULT '',
    outcome_current_usage INTEGER NOT NULL DEFAULT 0,
    outcome_limit         INTEGER NOT NULL DEFAULT 0,
    applied_at_ms         INTEGER NOT NULL,
    -- applied_at_ms + 24 h; an expired row counts as absent.
    expires_at_ms         INTEGER NOT NULL,
    PRIMARY KEY (budget_id, dedup_key)
) STRICT, WITHOUT ROWID;

-- Quota reconciler purges expired dedup rows.
CREATE INDEX ff_budget_usage_dedup_expires_idx ON ff_budget_usage_dedup (expires_at_ms);

-- Per-execution spend ledger: what each execution charged per dimension.
CREATE TABLE ff_budget_usage_by_exec (
    budget_id     TEXT    NOT NULL,
    execution_id  TEXT    NOT NULL,
    dimension     TEXT    NOT NULL,
    delta_total   INTEGER NOT NULL DEFAULT 0 CHECK (delta_total >= 0),
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (budget_id, execution_id, dimension)
) STRICT, WITHOUT ROWID;

-- Retention trimmer deletes a finished execution's rows by execution id.
CREATE INDEX ff_budget_usage_by_exec_execution_idx ON ff_budget_usage_by_exec (execution_id);

-- Quota policy: rate window and concurrency cap (0 disables a limit).
CREATE TABLE ff_quota_policy (
    quota_policy_id         TEXT    PRIMARY KEY,
    window_seconds          INTEGER NOT NULL CHECK (window_seconds >= 0),
    max_requests_per_window INTEGER NOT NULL CHECK (max_requests_per_window >= 0),
    active_concurrency_cap  INTEGER NOT NULL CHECK (active_concurrency_cap >= 0),
    -- Live admissions counted against the cap (recomputed by the quota
    -- reconciler from ff_quota_admitted).
    active_concurrency      INTEGER NOT NULL DEFAULT 0 CHECK (active_concurrency >= 0),
    created_at_ms           INTEGER NOT NULL,
    updated_at_ms           INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Sliding-window admissions. The primary key serves "count admissions of a
-- policy since now - window", "oldest admission" (RetryAfter) and the trim.
CREATE TABLE ff_quota_window (
    quota_policy_id TEXT    NOT NULL,
    -- Always '' today (the dimension argument is ignored).
    dimension       TEXT    NOT NULL DEFAULT '',
    admitted_at_ms  INTEGER NOT NULL,
    execution_id    TEXT    NOT NULL,
    PRIMARY KEY (quota_policy_id, dimension, admitted_at_ms, execution_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX ff_quota_window_execution_idx ON ff_quota_window (execution_id);

-- Admission guard per execution (AlreadyAdmitted while unexpired).
CREATE TABLE ff_quota_admitted (
    quota_policy_id TEXT    NOT NULL,
    execution_id    TEXT    NOT NULL,
    admitted_at_ms  INTEGER NOT NULL,
    expires_at_ms   INTEGER NOT NULL,
    PRIMARY KEY (quota_policy_id, execution_id)
) STRICT, WITHOUT ROWID;

-- Quota reconciler: expired admissions.
CREATE INDEX ff_quota_admitted_expires_idx ON ff_quota_admitted (expires_at_ms);
-- Releasing an execution's admissions when it stops running, and retention.
CREATE INDEX ff_quota_admitted_execution_idx ON ff_quota_admitted (execution_id);

-- +goose Down
DROP TABLE ff_quota_admitted;
DROP TABLE ff_quota_window;
DROP TABLE ff_quota_policy;
DROP TABLE ff_budget_usage_by_exec;
DROP TABLE ff_budget_usage_dedup;
DROP TABLE ff_budget_usage;
DROP TABLE ff_budget_limit;
DROP TABLE ff_budget_policy;
