-- +goose Up
-- Executions, their attempts and the outbox tables written on the hot path.
-- Every state dimension is a typed column with a CHECK on its alphabet, and
-- every column a query filters or orders on is typed (spec 00 §3).
-- An alphabet of more than two values is spelled as an OR of comparisons,
-- never "col IN (...)": for such a list SQLite fills a temporary b-tree
-- with the values on every run of every INSERT or UPDATE that checks it
-- (all of ff_exec_core's seven checks: ~15 us per save; an OR chain costs
-- a few hundred ns). The other migrations follow the same rule.
-- Execution ids are stored as their full wire text "{fp:N}:<uuid>".

CREATE TABLE ff_lane_registry (
    lane_id          TEXT    PRIMARY KEY,
    registered_at_ms INTEGER NOT NULL,
    registered_by    TEXT    NOT NULL
) STRICT, WITHOUT ROWID;

-- ff_exec_core and ff_attempt are rowid tables on purpose: their rows are
-- wide and their ids random, so WITHOUT ROWID would insert every row at a
-- random place in the table b-tree. With a rowid, rows are appended in
-- creation order (the order claims take them, so a claim and its complete
-- dirty the same few pages) and only the narrow id index takes the random
-- inserts (bench S1 +10-25%, batch create 15k -> 18k/s).
CREATE TABLE ff_exec_core (
    execution_id         TEXT    PRIMARY KEY,
    partition_key        INTEGER NOT NULL,
    flow_id              TEXT,
    lane_id              TEXT    NOT NULL,
    namespace            TEXT    NOT NULL DEFAULT '',
    execution_kind       TEXT    NOT NULL DEFAULT '',
    creator_identity     TEXT    NOT NULL DEFAULT '',
    payload              BLOB    NOT NULL,
    payload_encoding     TEXT,
    tags                 TEXT    NOT NULL DEFAULT '{}',
    -- The "cairn.instance_id" tag value, copied out so event rows and
    -- scanner filters need no JSON work.
    instance_tag         TEXT,
    policy               TEXT,
    priority             INTEGER NOT NULL DEFAULT 0,

    lifecycle_phase      TEXT    NOT NULL CHECK (
        lifecycle_phase = 'submitted' OR lifecycle_phase = 'runnable'
        OR lifecycle_phase = 'active' OR lifecycle_phase = 'suspended'
        OR lifecycle_phase = 'terminal'),
    ownership_state      TEXT    NOT NULL CHECK (
        ownership_state = 'unowned' OR ownership_state = 'leased'
        OR ownership_state = 'lease_expired_reclaimable'
        OR ownership_state = 'lease_revoked'),
    eligibility_state    TEXT    NOT NULL CHECK (
        eligibility_state = 'eligible_now' OR eligibility_state = 'not_eligible_until_time'
        OR eligibility_state = 'blocked_by_dependencies'
        OR eligibility_state = 'blocked_by_budget' OR eligibility_state = 'blocked_by_quota'
        OR eligibility_state = 'blocked_by_route'
        OR eligibility_state = 'blocked_by_lane_state'
        OR eligibility_state = 'blocked_by_operator' OR eligibility_state = 'not_applicable'),
    attempt_state        TEXT    NOT NULL CHECK (
        attempt_state = 'none' OR attempt_state = 'pending_first_attempt'
        OR attempt_state = 'running_attempt' OR attempt_state = 'attempt_interrupted'
        OR attempt_state = 'pending_retry_attempt'
        OR attempt_state = 'pending_replay_attempt' OR attempt_state = 'attempt_terminal'),
    blocking_reason      TEXT    NOT NULL DEFAULT 'none' CHECK (
        blocking_reason = 'none' OR blocking_reason = 'waiting_for_worker'
        OR blocking_reason = 'waiting_for_retry_backoff'
        OR blocking_reason = 'waiting_for_resume_delay'
        OR blocking_reason = 'waiting_for_delay' OR blocking_reason = 'waiting_for_signal'
        OR blocking_reason = 'waiting_for_approval'
        OR blocking_reason = 'waiting_for_callback'
        OR blocking_reason = 'waiting_for_tool_result'
        OR blocking_reason = 'waiting_for_children'
        OR blocking_reason = 'waiting_for_budget' OR blocking_reason = 'waiting_for_quota'
        OR blocking_reason = 'waiting_for_capable_worker'
        OR blocking_reason = 'waiting_for_locality_match'
        OR blocking_reason = 'paused_by_operator' OR blocking_reason = 'paused_by_policy'
        OR blocking_reason = 'paused_by_flow_cancel'),
    terminal_outcome     TEXT    NOT NULL DEFAULT 'none' CHECK (
        terminal_outcome = 'none' OR terminal_outcome = 'success'
        OR terminal_outcome = 'failed' OR terminal_outcome = 'cancelled'
        OR terminal_outcome = 'expired' OR terminal_outcome = 'skipped'),
    -- Derived from the columns above by one Go function in the same write;
    -- 'resumable' is the one stored exception.
    public_state         TEXT    NOT NULL CHECK (
        public_state = 'waiting' OR public_state = 'delayed'
        OR public_state = 'rate_limited' OR public_state = 'waiting_children'
        OR public_state = 'active' OR public_state = 'suspended'
        OR public_state = 'resumable' OR public_state = 'completed'
        OR public_state = 'failed' OR public_state = 'cancelled' OR public_state = 'expired'
        OR public_state = 'skipped'),
    blocking_detail      TEXT    NOT NULL DEFAULT '',

    attempt_index        INTEGER NOT NULL DEFAULT 0,
    total_attempt_count  INTEGER NOT NULL DEFAULT 0,
    retry_count          INTEGER NOT NULL DEFAULT 0,
    replay_count         INTEGER NOT NULL DEFAULT 0,
    lease_reclaim_count  INTEGER NOT NULL DEFAULT 0,
    -- How many capability rows the execution requires: claim skips the
    -- junction lookup for the common zero case.
    required_cap_count   INTEGER NOT NULL DEFAULT 0,

    delay_until_ms       INTEGER,
    deadline_at_ms       INTEGER,
    idempotency_key      TEXT,
    idempotency_expires_at_ms INTEGER,

    created_at_ms        INTEGER NOT NULL,
    last_mutation_at_ms  INTEGER NOT NULL,
    started_at_ms        INTEGER,
    terminal_at_ms       INTEGER,

    result               BLOB,
    cancellation_reason  TEXT,
    cancelled_by         TEXT,
    last_failure_message TEXT,
    failure_category     TEXT,
    progress_pct         INTEGER,
    progress_message     TEXT
) STRICT;

-- Claim: the best eligible execution of a lane. Partial, so its size is the
-- claimable backlog only, never the finished history.
CREATE INDEX ff_exec_core_claim_idx ON ff_exec_core
    (lane_id, priority DESC, created_at_ms, execution_id)
    WHERE lifecycle_phase = 'runnable' AND eligibility_state = 'eligible_now';
-- Claim takes over a lane's lease-expired executions as reclaims.
CREATE INDEX ff_exec_core_reclaimable_idx ON ff_exec_core
    (lane_id, priority DESC, created_at_ms, execution_id)
    WHERE ownership_state = 'lease_expired_reclaimable';
-- Delayed and backing-off executions of a lane that fall due (claim's lazy
-- promotion) and of all lanes (the delayed promoter).
CREATE INDEX ff_exec_core_delayed_lane_idx ON ff_exec_core (lane_id, delay_until_ms)
    WHERE eligibility_state = 'not_eligible_until_time';
CREATE INDEX ff_exec_core_delayed_idx ON ff_exec_core (delay_until_ms)
    WHERE eligibility_state = 'not_eligible_until_time';
CREATE INDEX ff_exec_core_idempotency_idx ON ff_exec_core
    (partition_key, namespace, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX ff_exec_core_flow_idx ON ff_exec_core (flow_id) WHERE flow_id IS NOT NULL;
CREATE INDEX ff_exec_core_deadline_idx ON ff_exec_core (deadline_at_ms)
    WHERE deadline_at_ms IS NOT NULL AND lifecycle_phase <> 'terminal';
CREATE INDEX ff_exec_core_terminal_idx ON ff_exec_core (terminal_at_ms)
    WHERE lifecycle_phase = 'terminal';

CREATE TABLE ff_execution_capabilities (
    execution_id TEXT NOT NULL,
    capability   TEXT NOT NULL,
    PRIMARY KEY (execution_id, capability)
) STRICT, WITHOUT ROWID;

CREATE TABLE ff_attempt (
    execution_id        TEXT    NOT NULL,
    attempt_index       INTEGER NOT NULL,
    attempt_id          TEXT    NOT NULL,
    attempt_type        TEXT    NOT NULL CHECK (
        attempt_type = 'initial' OR attempt_type = 'retry' OR attempt_type = 'reclaim'
        OR attempt_type = 'replay' OR attempt_type = 'fallback'),
    -- The lease: lease_expires_at_ms NULL means no live lease.
    lease_id            TEXT,
    lease_epoch         INTEGER NOT NULL DEFAULT 0,
    lease_ttl_ms        INTEGER NOT NULL DEFAULT 0,
    lease_expires_at_ms INTEGER,
    lease_renewed_at_ms INTEGER,
    worker_id           TEXT,
    worker_instance_id  TEXT,
    started_at_ms       INTEGER,
    terminal_at_ms      INTEGER,
    outcome             TEXT CHECK (
        outcome = 'success' OR outcome = 'failed' OR outcome = 'retry'
        OR outcome = 'cancelled' OR outcome = 'interrupted' OR outcome = 'waiting_children'
        OR outcome = 'attempt_interrupted' OR outcome = 'interrupted_reclaimed'
        OR outcome = 'skipped' OR outcome = 'expired'),
    -- Fail's first result, so a repeated Fail returns it unchanged.
    retry_due_at_ms     INTEGER,
    PRIMARY KEY (execution_id, attempt_index)
) STRICT;

-- Lease-expiry scanner: live leases by expiry.
CREATE INDEX ff_attempt_lease_expiry_idx ON ff_attempt (lease_expires_at_ms)
    WHERE lease_expires_at_ms IS NOT NULL;

CREATE TABLE ff_claim_grant (
    grant_id            TEXT    PRIMARY KEY,
    execution_id        TEXT    NOT NULL,
    kind                TEXT    NOT NULL CHECK (kind IN ('claim', 'reclaim')),
    worker_id           TEXT    NOT NULL,
    worker_instance_id  TEXT    NOT NULL,
    lane_id             TEXT,
    capability_hash     TEXT,
    worker_capabilities TEXT    NOT NULL DEFAULT '[]',
    grant_ttl_ms        INTEGER NOT NULL,
    issued_at_ms        INTEGER NOT NULL,
    expires_at_ms       INTEGER NOT NULL
) STRICT;

CREATE INDEX ff_claim_grant_execution_idx ON ff_claim_grant (execution_id, issued_at_ms);
CREATE INDEX ff_claim_grant_expiry_idx ON ff_claim_grant (expires_at_ms);

-- Outbox tables: one row per event, written in the transaction of the change
-- it describes; subscriptions replay rows after their cursor (event_id).
-- The two hot ones (a row per claim and per complete) use a plain rowid
-- key, not AUTOINCREMENT, which would rewrite sqlite_sequence in every
-- transaction (one more WAL page each). Ids still never repeat: a new row
-- gets max(event_id) + 1, and retention never deletes a table's newest
-- row (queries/retention.sql), so the maximum never goes down.
CREATE TABLE ff_completion_event (
    event_id         INTEGER PRIMARY KEY,
    execution_id     TEXT    NOT NULL,
    flow_id          TEXT,
    outcome          TEXT    NOT NULL CHECK (
        outcome = 'success' OR outcome = 'failed' OR outcome = 'cancelled'
        OR outcome = 'resumable' OR outcome = 'expired' OR outcome = 'skipped'),
    namespace        TEXT,
    instance_tag     TEXT,
    occurred_at_ms   INTEGER NOT NULL,
    -- Set once flow dependency resolution has consumed the event.
    dispatched_at_ms INTEGER
) STRICT;

CREATE INDEX ff_completion_event_pending_idx ON ff_completion_event (occurred_at_ms)
    WHERE dispatched_at_ms IS NULL;
CREATE INDEX ff_completion_event_execution_idx ON ff_completion_event (execution_id, event_id);

CREATE TABLE ff_lease_event (
    event_id           INTEGER PRIMARY KEY,
    execution_id       TEXT    NOT NULL,
    attempt_index      INTEGER NOT NULL,
    lease_id           TEXT    NOT NULL,
    worker_instance_id TEXT    NOT NULL,
    event_type         TEXT    NOT NULL CHECK (
        event_type = 'acquired' OR event_type = 'renewed' OR event_type = 'expired'
        OR event_type = 'reclaimed' OR event_type = 'revoked'),
    namespace          TEXT,
    instance_tag       TEXT,
    occurred_at_ms     INTEGER NOT NULL
) STRICT;

CREATE INDEX ff_lease_event_execution_idx ON ff_lease_event (execution_id, event_id);

CREATE TABLE ff_operator_event (
    event_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The execution id, or the flow id for flow events.
    execution_id   TEXT    NOT NULL,
    event_type     TEXT    NOT NULL CHECK (
        event_type = 'priority_changed' OR event_type = 'replayed'
        OR event_type = 'flow_cancel_requested'),
    details        TEXT,
    namespace      TEXT,
    instance_tag   TEXT,
    occurred_at_ms INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE ff_operator_event;
DROP TABLE ff_lease_event;
DROP TABLE ff_completion_event;
DROP TABLE ff_claim_grant;
DROP TABLE ff_attempt;
DROP TABLE ff_execution_capabilities;
DROP TABLE ff_exec_core;
DROP TABLE ff_lane_registry;
