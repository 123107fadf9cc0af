-- +goose Up
-- Flows: the flow header, dependency edges, inbound edge groups, and the
-- cancel bookkeeping (pending cancel groups, the sibling-cancel dispatch
-- outbox, the cancel backlog and its members). Spec 03 §1, 01 §4.6, 00 §13.
-- Flow and edge ids are canonical lowercase UUID text; execution ids are the
-- full wire text "{fp:N}:<uuid>". Every member lives on partition 0, so text
-- order of execution ids equals the spec's "ascending uuid" order.
-- Membership is ff_exec_core.flow_id (00002); there is no member table.

CREATE TABLE ff_flow_core (
    flow_id             TEXT    PRIMARY KEY,
    -- Kept for ListFlows(partition, …); always 0 in this backend.
    partition_key       INTEGER NOT NULL DEFAULT 0,
    flow_kind           TEXT    NOT NULL DEFAULT '',
    namespace           TEXT    NOT NULL DEFAULT '',
    -- This backend writes only 'open' and 'cancelled'; the other values are
    -- the rest of the original's vocabulary, which guards still recognise.
    public_flow_state   TEXT    NOT NULL DEFAULT 'open' CHECK (
        public_flow_state = 'open' OR public_flow_state = 'running'
        OR public_flow_state = 'blocked' OR public_flow_state = 'completed'
        OR public_flow_state = 'failed' OR public_flow_state = 'cancelled'),
    -- Optimistic-concurrency token: +1 per added member and per staged edge.
    graph_revision      INTEGER NOT NULL DEFAULT 0 CHECK (graph_revision >= 0),
    node_count          INTEGER NOT NULL DEFAULT 0 CHECK (node_count >= 0),
    edge_count          INTEGER NOT NULL DEFAULT 0 CHECK (edge_count >= 0),
    -- Free text: CancelFlow stores its policy's wire string, CancelFlowHeader
    -- records the caller's string verbatim. NULL = never cancelled.
    cancellation_policy TEXT,
    cancel_reason       TEXT,
    -- Flat namespaced tags (key -> string), echoed by DescribeFlow.
    tags_json           TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(tags_json)),
    created_at_ms       INTEGER NOT NULL,
    last_mutation_at_ms INTEGER NOT NULL,
    -- Set once by the first cancel (FlowSnapshot.CancelledAt).
    terminal_at_ms      INTEGER
) STRICT, WITHOUT ROWID;

-- ListFlows: keyset pagination by flow id within one partition.
CREATE INDEX ff_flow_core_partition_idx ON ff_flow_core (partition_key, flow_id);

-- One row per staged edge. The edge record that the original kept as JSON
-- is typed here, because dependency resolution filters on edge_state and
-- resolution_state.
CREATE TABLE ff_edge (
    flow_id                 TEXT    NOT NULL,
    -- Caller-minted, unique within its flow (the same id may exist in
    -- another flow).
    edge_id                 TEXT    NOT NULL,
    upstream_execution_id   TEXT    NOT NULL,
    downstream_execution_id TEXT    NOT NULL,
    -- Caller label; only 'success_only' has semantics, so no CHECK.
    dependency_kind         TEXT    NOT NULL DEFAULT 'success_only',
    satisfaction_condition  TEXT    NOT NULL DEFAULT 'all_required'
        CHECK (satisfaction_condition IN ('all_required')),
    data_passing_ref        TEXT    NOT NULL DEFAULT '',
    edge_state              TEXT    NOT NULL DEFAULT 'pending'
        CHECK (edge_state IN ('pending', 'applied')),
    -- 'unsatisfied' until the upstream's terminal outcome resolves the edge
    -- (once; replay of a skipped member may reset 'impossible' edges).
    resolution_state        TEXT    NOT NULL DEFAULT 'unsatisfied'
        CHECK (resolution_state = 'unsatisfied' OR resolution_state = 'satisfied' OR resolution_state = 'impossible'),
    upstream_outcome        TEXT CHECK (
        upstream_outcome = 'success' OR upstream_outcome = 'failed'
        OR upstream_outcome = 'cancelled' OR upstream_outcome = 'expired'
        OR upstream_outcome = 'skipped'),
    created_by              TEXT    NOT NULL DEFAULT 'engine',
    created_at_ms           INTEGER NOT NULL,
    applied_at_ms           INTEGER,
    resolved_at_ms          INTEGER,
    CHECK (upstream_execution_id <> downstream_execution_id),
    CHECK ((edge_state = 'applied') = (applied_at_ms IS NOT NULL)),
    -- edge_id first on purpose: with (flow_id, edge_id), SQLite's planner
    -- (no ANALYZE stats) prefers a flow_id-prefix scan of the primary key
    -- over the adjacency indexes below, i.e. it walks every edge of the flow.
    PRIMARY KEY (edge_id, flow_id)
) STRICT, WITHOUT ROWID;

-- The adjacency indexes lead with the execution id (an execution is in at
-- most one flow, so it is the selective column); queries still pass flow_id.
-- Outgoing edges of a node: dependency resolution when the upstream turns
-- terminal, cycle detection (BFS downstream), ListEdges(Outgoing).
CREATE INDEX ff_edge_upstream_idx ON ff_edge (upstream_execution_id, flow_id, edge_id);
-- Incoming edges of a node: ListEdges(Incoming), sibling cancel, and the
-- SetEdgeGroupPolicy "dependencies already staged" guard.
CREATE INDEX ff_edge_downstream_idx ON ff_edge (downstream_execution_id, flow_id, edge_id);

-- The inbound group of one downstream execution: its policy and counters.
-- Created by SetEdgeGroupPolicy or implicitly (all_of) by the first apply.
CREATE TABLE ff_edge_group (
    flow_id                      TEXT    NOT NULL,
    downstream_execution_id      TEXT    NOT NULL,
    policy_kind                  TEXT    NOT NULL DEFAULT 'all_of'
        CHECK (policy_kind = 'all_of' OR policy_kind = 'any_of' OR policy_kind = 'quorum'),
    -- Meaningful for any_of and quorum; all_of rows keep the default.
    on_satisfied                 TEXT    NOT NULL DEFAULT 'cancel_remaining'
        CHECK (on_satisfied IN ('cancel_remaining', 'let_run')),
    -- 0 for all_of, 1 for any_of, K for quorum.
    k_target                     INTEGER NOT NULL DEFAULT 0,
    -- running = applied edges not yet resolved; the other three count
    -- resolved edges by upstream outcome bucket. total = the sum of all four.
    success_count                INTEGER NOT NULL DEFAULT 0 CHECK (success_count >= 0),
    fail_count                   INTEGER NOT NULL DEFAULT 0 CHECK (fail_count >= 0),
    skip_count                   INTEGER NOT NULL DEFAULT 0 CHECK (skip_count >= 0),
    running_count                INTEGER NOT NULL DEFAULT 0 CHECK (running_count >= 0),
    -- One-shot: leaves 'pending' at most once ('cancelled' is reserved).
    group_state                  TEXT    NOT NULL DEFAULT 'pending'
        CHECK (group_state = 'pending' OR group_state = 'satisfied' OR group_state = 'impossible' OR group_state = 'cancelled'),
    satisfied_at_ms              INTEGER,
    cancel_siblings_reason       TEXT CHECK (cancel_siblings_reason IN
        ('sibling_quorum_satisfied', 'sibling_quorum_impossible')),
    -- 1 while sibling cancels are queued in ff_cancel_dispatch_outbox for the
    -- edge-cancel dispatcher (sibling cancels run inline, so normally 0).
    cancel_siblings_pending_flag INTEGER NOT NULL DEFAULT 0
        CHECK (cancel_siblings_pending_flag IN (0, 1)),
    CHECK ((policy_kind = 'all_of' AND k_target = 0)
        OR (policy_kind = 'any_of' AND k_target = 1)
        OR (policy_kind = 'quorum' AND k_target BETWEEN 1 AND 2147483647)),
    PRIMARY KEY (flow_id, downstream_execution_id)
) STRICT, WITHOUT ROWID;

-- Groups queued by CancelFlow(cancel_pending) for the edge-cancel
-- dispatcher and reconciler.
CREATE TABLE ff_pending_cancel_groups (
    flow_id                 TEXT    NOT NULL,
    downstream_execution_id TEXT    NOT NULL,
    enqueued_at_ms          INTEGER NOT NULL,
    PRIMARY KEY (flow_id, downstream_execution_id)
) STRICT, WITHOUT ROWID;

-- Dispatcher and reconciler scan oldest first.
CREATE INDEX ff_pending_cancel_groups_enqueued_idx ON ff_pending_cancel_groups (enqueued_at_ms);

-- Sibling cancels queued for the edge-cancel dispatcher: one row per
-- (group, sibling) — the typed form of the original's pending-members list.
CREATE TABLE ff_cancel_dispatch_outbox (
    event_id                INTEGER PRIMARY KEY AUTOINCREMENT,
    flow_id                 TEXT    NOT NULL,
    downstream_execution_id TEXT    NOT NULL,
    target_execution_id     TEXT    NOT NULL,
    reason                  TEXT    NOT NULL CHECK (reason IN
        ('sibling_quorum_satisfied', 'sibling_quorum_impossible')),
    -- Copied from the target execution, for the scanner filter.
    namespace               TEXT,
    instance_tag            TEXT,
    enqueued_at_ms          INTEGER NOT NULL,
    -- A sibling is queued at most once per group (INSERT OR IGNORE).
    UNIQUE (flow_id, downstream_execution_id, target_execution_id)
) STRICT;

-- The "header" half of CancelFlowHeader: one row per cancelled flow whose
-- members still await acknowledgement (drained by AckCancelMember and the
-- cancel reconciler).
CREATE TABLE ff_cancel_backlog (
    flow_id             TEXT    PRIMARY KEY,
    requested_at_ms     INTEGER NOT NULL,
    requester           TEXT    NOT NULL DEFAULT '',
    reason              TEXT    NOT NULL DEFAULT '',
    -- NULL = no grace period; the reconciler drains after it.
    grace_until_ms      INTEGER,
    cancellation_policy TEXT    NOT NULL,
    status              TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending'))
) STRICT, WITHOUT ROWID;

-- Cancel reconciler: backlogs old enough to drain, oldest first.
CREATE INDEX ff_cancel_backlog_requested_idx ON ff_cancel_backlog (requested_at_ms);

CREATE TABLE ff_cancel_backlog_member (
    flow_id      TEXT NOT NULL,
    -- The member's wire id exactly as recorded (AckCancelMember matches it
    -- verbatim).
    execution_id TEXT NOT NULL,
    PRIMARY KEY (flow_id, execution_id)
) STRICT, WITHOUT ROWID;

-- Retention trimmer deletes a finished execution's rows by execution id.
CREATE INDEX ff_cancel_backlog_member_execution_idx ON ff_cancel_backlog_member (execution_id);

-- +goose Down
DROP TABLE ff_cancel_backlog_member;
DROP TABLE ff_cancel_backlog;
DROP TABLE ff_cancel_dispatch_outbox;
DROP TABLE ff_pending_cancel_groups;
DROP TABLE ff_edge_group;
DROP TABLE ff_edge;
DROP TABLE ff_flow_core;
