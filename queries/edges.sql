-- Dependency edges, inbound edge groups and the sibling-cancel bookkeeping
-- (spec 03 s.1.3-1.5, s.6). Edge rows are typed; groups are loaded whole,
-- changed in Go (where the fan-in policies live) and written back whole.
-- Queries by an edge's upstream or downstream name their index (INDEXED
-- BY): every ff_edge key leads with flow_id (migration 00009), and without
-- ANALYZE statistics the planner would rather scan the flow's primary-key
-- range, i.e. every edge of the flow, than use the adjacency index. With
-- INDEXED BY a plan that cannot use the index is an error, not a slow scan.

-- name: CancelDispatchDeleteGroup :exec
DELETE FROM ff_cancel_dispatch_outbox
WHERE flow_id = @flow_id AND downstream_execution_id = @downstream_execution_id;

-- name: CancelDispatchTargets :many
-- The siblings queued for one group, in id order.
SELECT target_execution_id, reason FROM ff_cancel_dispatch_outbox
WHERE flow_id = @flow_id AND downstream_execution_id = @downstream_execution_id
ORDER BY target_execution_id;

-- name: EdgeGet :one
SELECT * FROM ff_edge WHERE flow_id = @flow_id AND edge_id = @edge_id;

-- name: EdgeGroupGet :one
SELECT * FROM ff_edge_group
WHERE flow_id = @flow_id AND downstream_execution_id = @downstream_execution_id;

-- name: EdgeGroupListByFlow :many
-- DescribeFlow: every group of the flow, by downstream execution.
SELECT * FROM ff_edge_group WHERE flow_id = @flow_id ORDER BY downstream_execution_id;

-- name: EdgeGroupListRunning :many
-- CancelFlow(cancel_pending): groups that still wait on unresolved edges.
SELECT downstream_execution_id FROM ff_edge_group
WHERE flow_id = @flow_id AND running_count > 0
ORDER BY downstream_execution_id;

-- name: EdgeGroupPut :exec
-- Writes a group row whole (insert or replace every column but the key).
INSERT INTO ff_edge_group (
    flow_id, downstream_execution_id, policy_kind, on_satisfied, k_target,
    success_count, fail_count, skip_count, running_count, group_state,
    satisfied_at_ms, cancel_siblings_reason, cancel_siblings_pending_flag
) VALUES (
    @flow_id, @downstream_execution_id, @policy_kind, @on_satisfied, @k_target,
    @success_count, @fail_count, @skip_count, @running_count, @group_state,
    sqlc.narg(satisfied_at_ms), sqlc.narg(cancel_siblings_reason), @cancel_siblings_pending_flag
)
ON CONFLICT (flow_id, downstream_execution_id) DO UPDATE SET
    policy_kind                  = excluded.policy_kind,
    on_satisfied                 = excluded.on_satisfied,
    k_target                     = excluded.k_target,
    success_count                = excluded.success_count,
    fail_count                   = excluded.fail_count,
    skip_count                   = excluded.skip_count,
    running_count                = excluded.running_count,
    group_state                  = excluded.group_state,
    satisfied_at_ms              = excluded.satisfied_at_ms,
    cancel_siblings_reason       = excluded.cancel_siblings_reason,
    cancel_siblings_pending_flag = excluded.cancel_siblings_pending_flag;

-- name: EdgeGroupSetPolicy :exec
-- SetEdgeGroupPolicy: a fresh group gets the policy with zero counters; an
-- existing one keeps its counters and state (spec 03 s.3.5 step 4).
INSERT INTO ff_edge_group (flow_id, downstream_execution_id, policy_kind, on_satisfied, k_target)
VALUES (@flow_id, @downstream_execution_id, @policy_kind, @on_satisfied, @k_target)
ON CONFLICT (flow_id, downstream_execution_id) DO UPDATE SET
    policy_kind  = excluded.policy_kind,
    on_satisfied = excluded.on_satisfied,
    k_target     = excluded.k_target;

-- name: EdgeHasIncoming :one
-- SetEdgeGroupPolicy's ordering guard: any staged edge (applied or not)
-- into the downstream fixes its policy.
SELECT CAST(EXISTS (
    SELECT 1 FROM ff_edge INDEXED BY ff_edge_downstream_idx
    WHERE downstream_execution_id = @downstream_execution_id AND flow_id = @flow_id
) AS INTEGER);

-- name: EdgeInsert :execrows
-- A duplicate (flow, edge id) inserts nothing; the caller then reads the
-- stored edge for the Conflict error.
INSERT INTO ff_edge (
    flow_id, edge_id, upstream_execution_id, downstream_execution_id, dependency_kind,
    data_passing_ref, created_at_ms
) VALUES (
    @flow_id, @edge_id, @upstream_execution_id, @downstream_execution_id, @dependency_kind,
    @data_passing_ref, @created_at_ms
)
ON CONFLICT (edge_id, flow_id) DO NOTHING;

-- name: EdgeInsertApplied :exec
-- BuildFlow on a flow it has just created: an edge staged and applied in
-- one write (the row EdgeInsert then EdgeMarkApplied leave).
INSERT INTO ff_edge (
    flow_id, edge_id, upstream_execution_id, downstream_execution_id, dependency_kind,
    data_passing_ref, created_at_ms, edge_state, applied_at_ms, resolution_state
) VALUES (
    @flow_id, @edge_id, @upstream_execution_id, @downstream_execution_id, @dependency_kind,
    @data_passing_ref, @created_at_ms, 'applied', @created_at_ms, 'unsatisfied'
);

-- name: EdgeListIncoming :many
SELECT * FROM ff_edge INDEXED BY ff_edge_downstream_idx
WHERE downstream_execution_id = @downstream_execution_id AND flow_id = @flow_id
ORDER BY edge_id;

-- name: EdgeListOutgoing :many
SELECT * FROM ff_edge INDEXED BY ff_edge_upstream_idx
WHERE upstream_execution_id = @upstream_execution_id AND flow_id = @flow_id
ORDER BY edge_id;

-- name: EdgeListUnresolvedOutgoing :many
-- Dependency resolution: applied edges of a terminal upstream that no
-- outcome has resolved yet, in edge id order (spec 03 s.6.2), each with
-- its downstream's inbound group as stored (NULL columns: no row). Only
-- what resolution uses: a query pays per column it returns, and this one
-- replaces a group lookup per edge.
SELECT e.edge_id, e.downstream_execution_id, e.data_passing_ref,
    g.policy_kind, g.on_satisfied, g.k_target, g.success_count, g.fail_count,
    g.skip_count, g.running_count, g.group_state, g.satisfied_at_ms,
    g.cancel_siblings_reason, g.cancel_siblings_pending_flag
FROM ff_edge AS e INDEXED BY ff_edge_upstream_idx
LEFT JOIN ff_edge_group AS g
    ON g.flow_id = e.flow_id AND g.downstream_execution_id = e.downstream_execution_id
WHERE e.upstream_execution_id = @upstream_execution_id AND e.flow_id = @flow_id
  AND e.edge_state = 'applied' AND e.resolution_state = 'unsatisfied'
ORDER BY e.edge_id;

-- name: EdgeMarkApplied :exec
UPDATE ff_edge SET
    edge_state       = 'applied',
    applied_at_ms    = @applied_at_ms,
    resolution_state = 'unsatisfied'
WHERE flow_id = @flow_id AND edge_id = @edge_id;

-- name: EdgeReachable :one
-- Cycle detection (spec 03 s.3.3 step 3): walks the flow's edges downstream
-- from start (staged edges count, applied or not) and reports how many
-- distinct nodes were reached, start included, and whether target was one
-- of them. UNION (not UNION ALL) visits each node once, so the walk ends;
-- the LIMIT stops it just past the 1000-node budget.
WITH RECURSIVE reach(node) AS (
    SELECT CAST(@start AS TEXT)
    UNION
    SELECT e.downstream_execution_id FROM ff_edge AS e INDEXED BY ff_edge_upstream_idx
    JOIN reach r ON e.upstream_execution_id = r.node
    WHERE e.flow_id = @flow_id
    LIMIT 1002
)
SELECT CAST(count(*) AS INTEGER) AS visited,
       CAST(coalesce(sum(node = CAST(@target AS TEXT)), 0) AS INTEGER) AS found
FROM reach;

-- name: EdgeResetImpossibleIncoming :many
-- Replay of a skipped member: its inbound edges that resolved impossible
-- resolve again when their upstream next turns terminal (spec 03 s.6.9).
UPDATE ff_edge SET
    resolution_state = 'unsatisfied',
    resolved_at_ms   = NULL,
    upstream_outcome = NULL
WHERE ff_edge.flow_id = @flow_id AND ff_edge.edge_id IN (
    SELECT d.edge_id FROM ff_edge AS d INDEXED BY ff_edge_downstream_idx
    WHERE d.flow_id = @flow_id AND d.downstream_execution_id = @downstream_execution_id
      AND d.resolution_state = 'impossible')
RETURNING edge_id, upstream_execution_id;

-- name: EdgeResolve :execrows
-- Resolves an edge once: a second resolution of the same edge changes
-- nothing (spec 03 s.6.7 Q2).
UPDATE ff_edge SET
    resolution_state = @resolution_state,
    resolved_at_ms   = @resolved_at_ms,
    upstream_outcome = @upstream_outcome
WHERE flow_id = @flow_id AND edge_id = @edge_id AND resolution_state = 'unsatisfied';

-- name: EdgeUpstreamRows :many
-- Sibling cancel: the rows of the distinct upstreams of every edge into a
-- downstream, in id order, in one statement (an upstream whose row is gone
-- is left out).
SELECT sqlc.embed(e) FROM ff_exec_core e
WHERE e.execution_id IN (
    SELECT ed.upstream_execution_id FROM ff_edge AS ed INDEXED BY ff_edge_downstream_idx
    WHERE ed.downstream_execution_id = @downstream_execution_id AND ed.flow_id = @flow_id)
ORDER BY e.execution_id;

-- name: PendingCancelGroupDelete :exec
DELETE FROM ff_pending_cancel_groups
WHERE flow_id = @flow_id AND downstream_execution_id = @downstream_execution_id;

-- name: PendingCancelGroupInsert :exec
INSERT INTO ff_pending_cancel_groups (flow_id, downstream_execution_id, enqueued_at_ms)
VALUES (@flow_id, @downstream_execution_id, @enqueued_at_ms)
ON CONFLICT (flow_id, downstream_execution_id) DO NOTHING;

-- name: PendingCancelGroupList :many
-- The edge-cancel jobs' batch, oldest first, with the group's pending flag
-- (NULL when the group row is gone).
SELECT p.flow_id, p.downstream_execution_id, p.enqueued_at_ms,
       g.cancel_siblings_pending_flag AS pending_flag
FROM ff_pending_cancel_groups p
LEFT JOIN ff_edge_group g
  ON g.flow_id = p.flow_id AND g.downstream_execution_id = p.downstream_execution_id
ORDER BY p.enqueued_at_ms, p.flow_id, p.downstream_execution_id
LIMIT @lim;
