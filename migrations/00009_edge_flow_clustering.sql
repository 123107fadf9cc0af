-- +goose Up
-- ff_edge is re-keyed so a flow's edges sit together. It was keyed by
-- (edge_id, flow_id) with adjacency indexes that led with the execution id:
-- all three keys are random UUIDs, so every edge a flow gained wrote three
-- B-tree pages scattered over the file, and a 10-member chain built in one
-- transaction wrote ~27 pages for its 9 edges. Leading every key with
-- flow_id keeps one flow's edges on the same few pages. Every query on the
-- table already names the flow (an execution is a member of at most one);
-- the adjacency queries name their index (see queries/edges.sql).
ALTER TABLE ff_edge RENAME TO ff_edge_by_edge_id;

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
        CHECK (satisfaction_condition = 'all_required'),
    data_passing_ref        TEXT    NOT NULL DEFAULT '',
    edge_state              TEXT    NOT NULL DEFAULT 'pending'
        CHECK (edge_state = 'pending' OR edge_state = 'applied'),
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
    PRIMARY KEY (flow_id, edge_id)
) STRICT, WITHOUT ROWID;

INSERT INTO ff_edge (
    flow_id, edge_id, upstream_execution_id, downstream_execution_id, dependency_kind,
    satisfaction_condition, data_passing_ref, edge_state, resolution_state, upstream_outcome,
    created_by, created_at_ms, applied_at_ms, resolved_at_ms
)
SELECT flow_id, edge_id, upstream_execution_id, downstream_execution_id, dependency_kind,
    satisfaction_condition, data_passing_ref, edge_state, resolution_state, upstream_outcome,
    created_by, created_at_ms, applied_at_ms, resolved_at_ms
FROM ff_edge_by_edge_id;

DROP TABLE ff_edge_by_edge_id;

-- Outgoing edges of a node: dependency resolution when the upstream turns
-- terminal, cycle detection (BFS downstream), ListEdges(Outgoing).
CREATE INDEX ff_edge_upstream_idx ON ff_edge (flow_id, upstream_execution_id, edge_id);
-- Incoming edges of a node: ListEdges(Incoming), sibling cancel, and the
-- SetEdgeGroupPolicy "dependencies already staged" guard.
CREATE INDEX ff_edge_downstream_idx ON ff_edge (flow_id, downstream_execution_id, edge_id);

-- +goose Down
ALTER TABLE ff_edge RENAME TO ff_edge_by_flow_id;

CREATE TABLE ff_edge (
    flow_id                 TEXT    NOT NULL,
    edge_id                 TEXT    NOT NULL,
    upstream_execution_id   TEXT    NOT NULL,
    downstream_execution_id TEXT    NOT NULL,
    dependency_kind         TEXT    NOT NULL DEFAULT 'success_only',
    satisfaction_condition  TEXT    NOT NULL DEFAULT 'all_required'
        CHECK (satisfaction_condition IN ('all_required')),
    data_passing_ref        TEXT    NOT NULL DEFAULT '',
    edge_state              TEXT    NOT NULL DEFAULT 'pending'
        CHECK (edge_state IN ('pending', 'applied')),
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
    PRIMARY KEY (edge_id, flow_id)
) STRICT, WITHOUT ROWID;

INSERT INTO ff_edge SELECT
    flow_id, edge_id, upstream_execution_id, downstream_execution_id, dependency_kind,
    satisfaction_condition, data_passing_ref, edge_state, resolution_state, upstream_outcome,
    created_by, created_at_ms, applied_at_ms, resolved_at_ms
FROM ff_edge_by_flow_id;

DROP TABLE ff_edge_by_flow_id;

CREATE INDEX ff_edge_upstream_idx ON ff_edge (upstream_execution_id, flow_id, edge_id);
CREATE INDEX ff_edge_downstream_idx ON ff_edge (downstream_execution_id, flow_id, edge_id);
