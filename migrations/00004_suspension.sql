-- +goose Up
-- Suspension: the HMAC keystore, the current suspension per execution,
-- waitpoints (all states, never deleted), one row per delivered signal,
-- the per-execution suspend dedup cache and the signal-delivery outbox.
-- Spec 04 §3, 01 §4.7, 00 §14–15. Ids are canonical lowercase UUID text;
-- execution ids are the full wire text "{fp:N}:<uuid>".

-- Waitpoint token signing keys. Tokens name their kid, and verification
-- uses the kid recorded on the waitpoint, so rows are never deleted.
CREATE TABLE ff_waitpoint_hmac (
    kid           TEXT    PRIMARY KEY CHECK (kid <> '' AND instr(kid, ':') = 0),
    -- Raw key bytes (32 when installed by seed or rotate).
    secret        BLOB    NOT NULL CHECK (length(secret) > 0),
    rotated_at_ms INTEGER NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
) STRICT, WITHOUT ROWID;

-- At most one active kid; also the lookup of the signing key.
CREATE UNIQUE INDEX ff_waitpoint_hmac_active_idx ON ff_waitpoint_hmac (active)
    WHERE active = 1;

-- The execution's current (or last) suspension, overwritten by each
-- Suspend. It stays after resume so ObserveSignals still reports the last
-- suspension's signals; ListSuspended joins ff_exec_core on
-- lifecycle_phase = 'suspended' to list only live ones.
CREATE TABLE ff_suspension_current (
    execution_id         TEXT    PRIMARY KEY,
    -- Caller-minted and echoed back; not trusted to be unique.
    suspension_id        TEXT    NOT NULL,
    -- How many times the execution has suspended (1 for the first). Each
    -- Suspend overwrites the row with the next number, and ff_signal rows
    -- name the suspension they count for by it, so a caller reusing a
    -- SuspensionID never mixes two suspensions' signals.
    suspension_seq       INTEGER NOT NULL CHECK (suspension_seq >= 1),
    -- The attempt the execution suspended on (a resumed claim continues it).
    attempt_index        INTEGER NOT NULL CHECK (attempt_index >= 0),
    -- The first binding's waitpoint (DescribeExecution's current waitpoint).
    primary_waitpoint_id TEXT    NOT NULL,
    -- NULL = none given.
    reason_code          TEXT CHECK (
        reason_code = 'waiting_for_signal' OR reason_code = 'waiting_for_approval'
        OR reason_code = 'waiting_for_callback' OR reason_code = 'waiting_for_tool_result'
        OR reason_code = 'waiting_for_operator_review' OR reason_code = 'paused_by_policy'
        OR reason_code = 'paused_by_budget' OR reason_code = 'step_boundary'
        OR reason_code = 'manual_pause'),
    -- The resume-condition tree; evaluated in Go, never queried.
    condition_json       TEXT    NOT NULL CHECK (json_valid(condition_json)),
    -- NULL = no timeout (also cleared by auto-resume and escalate).
    timeout_at_ms        INTEGER,
    timeout_behavior     TEXT    NOT NULL DEFAULT 'fail' CHECK (
        timeout_behavior = 'fail' OR timeout_behavior = 'cancel'
        OR timeout_behavior = 'expire'
        OR timeout_behavior = 'auto_resume_with_timeout_signal'
        OR timeout_behavior = 'escalate'),
    suspended_at_ms      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Suspension-timeout scanner: due timeouts, earliest first (the scanner
-- re-checks that the execution is still suspended).
CREATE INDEX ff_suspension_current_timeout_idx ON ff_suspension_current (timeout_at_ms)
    WHERE timeout_at_ms IS NOT NULL;
-- ListSuspended: keyset order (suspended_at_ms, execution_id).
CREATE INDEX ff_suspension_current_suspended_at_idx ON ff_suspension_current
    (suspended_at_ms, execution_id);

-- Every waitpoint ever made. A waitpoint that stops accepting signals is
-- marked 'closed' (with close_reason) or 'expired', never deleted.
CREATE TABLE ff_waitpoint (
    waitpoint_id               TEXT    PRIMARY KEY,
    execution_id               TEXT    NOT NULL,
    -- Opaque caller key; signals count toward the condition under it.
    waitpoint_key              TEXT    NOT NULL DEFAULT '',
    -- pending: made by CreateWaitpoint, buffering signals; active: bound to
    -- the current suspension; closed / expired: final.
    state                      TEXT    NOT NULL DEFAULT 'pending'
        CHECK (state = 'pending' OR state = 'active' OR state = 'closed' OR state = 'expired'),
    -- The suspension that activated it (NULL while pending, or if it expired
    -- unbound).
    suspension_id              TEXT,
    token_kid                  TEXT    NOT NULL,
    -- Full "kid:hex" token as minted; never returned by listings.
    token                      TEXT    NOT NULL,
    -- Names a satisfying signal may carry ([] = any signal); read back only.
    required_signal_names_json TEXT    NOT NULL DEFAULT '[]'
        CHECK (json_valid(required_signal_names_json)),
    created_at_ms              INTEGER NOT NULL,
    -- NULL = no expiry. Active waitpoints carry the suspension's timeout.
    expires_at_ms              INTEGER,
    activated_at_ms            INTEGER,
    closed_at_ms               INTEGER,
    close_reason               TEXT CHECK (
        close_reason = 'resumed' OR close_reason = 'consumed' OR close_reason = 'cancelled'
        OR close_reason = 'never_committed' OR close_reason = 'timed_out_auto_resume'
        OR close_reason = 'timed_out_cancel' OR close_reason = 'timed_out_expire'
        OR close_reason = 'timed_out_fail')
) STRICT, WITHOUT ROWID;

-- ListPendingWaitpoints (keyset by waitpoint id within one execution) and
-- "close every open waitpoint of the execution".
CREATE INDEX ff_waitpoint_execution_idx ON ff_waitpoint (execution_id, waitpoint_id);
-- Pending-waitpoint expiry scanner. Partial: active waitpoints also carry
-- expires_at_ms but are governed by the suspension timeout, so the scanner
-- query must say state = 'pending' for SQLite to use this index.
CREATE INDEX ff_waitpoint_pending_expiry_idx ON ff_waitpoint (expires_at_ms)
    WHERE state = 'pending' AND expires_at_ms IS NOT NULL;

-- One row per accepted signal, in delivery order (signal_seq). Replaces the
-- original's member_map / buffered_signals JSON: a signal delivered to a
-- pending waitpoint is buffered here with suspension_seq NULL, and Suspend
-- adopts it by setting suspension_seq.
CREATE TABLE ff_signal (
    signal_seq          INTEGER PRIMARY KEY,
    -- Caller-minted. Not declared unique: the original accepts re-use, and
    -- nothing looks a signal up by id alone.
    signal_id           TEXT    NOT NULL,
    execution_id        TEXT    NOT NULL,
    -- NULL only for the synthetic auto-resume timeout signal.
    waitpoint_id        TEXT,
    -- Key the signal counts under ('__timeout__' for the synthetic one).
    waitpoint_key       TEXT    NOT NULL,
    -- The ff_suspension_current.suspension_seq of the execution's
    -- suspension this signal counts for; NULL while buffered on a pending
    -- waitpoint.
    suspension_seq      INTEGER,
    signal_name         TEXT    NOT NULL DEFAULT '',
    signal_category     TEXT    NOT NULL DEFAULT '',
    source_type         TEXT    NOT NULL DEFAULT '',
    source_identity     TEXT    NOT NULL DEFAULT '',
    correlation_id      TEXT    NOT NULL DEFAULT '',
    payload             BLOB,
    -- What the delivery did; 'resume_condition_satisfied' marks the signal
    -- that satisfied the suspension.
    effect              TEXT    NOT NULL CHECK (
        effect = 'appended_to_waitpoint' OR effect = 'buffered_for_pending_waitpoint'
        OR effect = 'resume_condition_satisfied'),
    -- Idempotency key and the end of its dedup window (both NULL when the
    -- delivery had no key or dedup was disabled).
    idempotency_key     TEXT,
    dedup_expires_at_ms INTEGER,
    accepted_at_ms      INTEGER NOT NULL,
    CHECK ((idempotency_key IS NULL) = (dedup_expires_at_ms IS NULL))
) STRICT;

-- ObserveSignals and condition evaluation: a suspension's signals by key,
-- in delivery order.
CREATE INDEX ff_signal_suspension_idx ON ff_signal
    (execution_id, suspension_seq, waitpoint_key, signal_seq)
    WHERE suspension_seq IS NOT NULL;
-- Signals buffered on (or delivered to) one waitpoint, in delivery order.
CREATE INDEX ff_signal_waitpoint_idx ON ff_signal (waitpoint_id, signal_seq);
-- DeliverSignal dedup: a live (dedup_expires_at_ms > now) row with the same
-- key on the same waitpoint. Not unique: a key may be reused once expired.
CREATE INDEX ff_signal_dedup_idx ON ff_signal (waitpoint_id, idempotency_key, dedup_expires_at_ms)
    WHERE idempotency_key IS NOT NULL;
-- Per-execution signal cap (a covering count) and retention deletes.
CREATE INDEX ff_signal_execution_idx ON ff_signal (execution_id);

-- Suspend idempotency, scoped per execution (00-decisions §14). The cached
-- outcome (details, tokens, handle bytes) is replayed verbatim; no expiry.
CREATE TABLE ff_suspend_dedup (
    execution_id    TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL CHECK (idempotency_key <> ''),
    outcome_json    TEXT    NOT NULL CHECK (json_valid(outcome_json)),
    created_at_ms   INTEGER NOT NULL,
    PRIMARY KEY (execution_id, idempotency_key)
) STRICT;

-- Signal-delivery outbox: one row per accepted signal, written in the
-- delivering transaction; SubscribeSignalDelivery replays rows after its
-- cursor (event_id).
CREATE TABLE ff_signal_event (
    event_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id    TEXT    NOT NULL,
    signal_id       TEXT    NOT NULL,
    waitpoint_id    TEXT,
    source_identity TEXT,
    -- The event's SignalDeliveryEffect (satisfied, buffered, deduped).
    effect          TEXT    NOT NULL CHECK (effect = 'satisfied' OR effect = 'buffered' OR effect = 'deduped'),
    -- Copied from the execution, for subscription filters.
    namespace       TEXT,
    instance_tag    TEXT,
    delivered_at_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX ff_signal_event_execution_idx ON ff_signal_event (execution_id, event_id);

-- +goose Down
DROP TABLE ff_signal_event;
DROP TABLE ff_suspend_dedup;
DROP TABLE ff_signal;
DROP TABLE ff_waitpoint;
DROP TABLE ff_suspension_current;
DROP TABLE ff_waitpoint_hmac;
