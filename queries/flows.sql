-- Flows: the flow header, membership (ff_exec_core.flow_id), the cancel
-- backlog, and the completion-event bookkeeping of dependency resolution
-- (spec 03 s.1, s.5, s.6; spec 05 s.B.4 J8/J9).

-- name: CancelBacklogDeleteIfEmpty :exec
-- Removes the flow's backlog header once no member rows remain; runs after
-- the member delete in the same transaction, so it sees it.
DELETE FROM ff_cancel_backlog
WHERE ff_cancel_backlog.flow_id = @flow_id
  AND NOT EXISTS (
      SELECT 1 FROM ff_cancel_backlog_member m WHERE m.flow_id = ff_cancel_backlog.flow_id);

-- name: CancelBacklogDue :many
-- The cancel reconciler's batch: backlogs past their grace (if any) that
-- were requested before cutoff, oldest first.
SELECT * FROM ff_cancel_backlog
WHERE (grace_until_ms IS NULL OR grace_until_ms <= @now_ms)
  AND requested_at_ms < @cutoff_ms
ORDER BY requested_at_ms, flow_id
LIMIT @lim;

-- name: CancelBacklogGet :one
SELECT * FROM ff_cancel_backlog WHERE flow_id = @flow_id;

-- name: CancelBacklogInsert :exec
INSERT INTO ff_cancel_backlog (flow_id, requested_at_ms, requester, reason, cancellation_policy)
VALUES (@flow_id, @requested_at_ms, '', @reason, @cancellation_policy)
ON CONFLICT (flow_id) DO NOTHING;

-- name: CancelBacklogMemberDelete :exec
DELETE FROM ff_cancel_backlog_member WHERE flow_id = @flow_id AND execution_id = @execution_id;

-- name: CancelBacklogMemberIDs :many
SELECT execution_id FROM ff_cancel_backlog_member WHERE flow_id = @flow_id ORDER BY execution_id;

-- name: CancelBacklogMemberInsert :exec
INSERT INTO ff_cancel_backlog_member (flow_id, execution_id) VALUES (@flow_id, @execution_id)
ON CONFLICT (flow_id, execution_id) DO NOTHING;

-- name: CompletionEventInsertDispatched :exec
-- The completion event of the shared "became terminal" step. Dependency
-- resolution consumes it in the same transaction, so it is written already
-- dispatched: the dependency reconciler only ever sees events written by
-- paths that did not resolve (spec 05 s.B.4 J8).
INSERT INTO ff_completion_event (
    execution_id, flow_id, outcome, namespace, instance_tag, occurred_at_ms, dispatched_at_ms
) VALUES (
    @execution_id, sqlc.narg(flow_id), @outcome, sqlc.narg(namespace), sqlc.narg(instance_tag),
    @occurred_at_ms, @occurred_at_ms
);

-- name: CompletionEventMarkDispatched :execrows
-- Claims an undispatched event for the dependency reconciler; 0 rows means
-- another tick (or process) already took it.
UPDATE ff_completion_event SET dispatched_at_ms = @now_ms
WHERE event_id = @event_id AND dispatched_at_ms IS NULL;

-- name: CompletionEventUndispatched :many
-- The dependency reconciler's batch: events nobody resolved that are older
-- than the stale threshold, oldest first.
SELECT event_id, execution_id, outcome FROM ff_completion_event
WHERE dispatched_at_ms IS NULL AND occurred_at_ms < @cutoff_ms
ORDER BY event_id
LIMIT @lim;

-- name: ExecutionSetPayload :exec
-- Data passing: the upstream's result becomes the downstream's input,
-- inline or (payload_external = 1, the row's payload empty) out of line.
-- (SaveExecution never writes payload, so the two cannot clobber each other.)
UPDATE ff_exec_core SET payload = @payload, payload_external = @payload_external
WHERE execution_id = @execution_id;

-- name: FlowAddNode :one
UPDATE ff_flow_core SET
    graph_revision      = graph_revision + 1,
    node_count          = node_count + 1,
    last_mutation_at_ms = @now_ms
WHERE flow_id = @flow_id
RETURNING node_count;

-- name: FlowGrow :exec
-- BuildFlow on a flow it has just created: the node and edge counts and
-- the graph revision move as AddExecutionToFlow and StageDependencyEdge,
-- called once per member and edge, would move them.
UPDATE ff_flow_core SET
    graph_revision      = graph_revision + @nodes + @edges,
    node_count          = node_count + @nodes,
    edge_count          = edge_count + @edges,
    last_mutation_at_ms = @now_ms
WHERE flow_id = @flow_id;

-- name: FlowBumpEdgeRevision :one
-- StageDependencyEdge's compare-and-set: only an open flow at the expected
-- revision moves on (no row = stale, missing or terminal; the caller probes).
UPDATE ff_flow_core SET
    graph_revision      = graph_revision + 1,
    edge_count          = edge_count + 1,
    last_mutation_at_ms = @now_ms
WHERE flow_id = @flow_id AND graph_revision = @expected_revision AND public_flow_state = 'open'
RETURNING graph_revision;

-- name: FlowCancel :exec
-- Flips the flow whatever its state; the first cancel's time is kept.
-- cancel_reason is only written when given (CancelFlow has no reason).
UPDATE ff_flow_core SET
    public_flow_state   = 'cancelled',
    terminal_at_ms      = coalesce(terminal_at_ms, @now_ms),
    cancellation_policy = @cancellation_policy,
    cancel_reason       = coalesce(sqlc.narg(cancel_reason), cancel_reason),
    last_mutation_at_ms = @now_ms
WHERE flow_id = @flow_id;

-- name: FlowGet :one
SELECT * FROM ff_flow_core WHERE flow_id = @flow_id;

-- name: FlowInsert :execrows
INSERT INTO ff_flow_core (flow_id, partition_key, flow_kind, namespace, created_at_ms, last_mutation_at_ms)
VALUES (@flow_id, 0, @flow_kind, @namespace, @now_ms, @now_ms)
ON CONFLICT (flow_id) DO NOTHING;

-- name: FlowList :many
SELECT flow_id, created_at_ms, public_flow_state FROM ff_flow_core
WHERE partition_key = @partition_key AND flow_id > @after
ORDER BY flow_id
LIMIT @lim;

-- name: FlowMemberIDs :many
-- Every member of the flow, by execution id.
SELECT execution_id FROM ff_exec_core WHERE flow_id = @flow_id ORDER BY execution_id;

-- name: FlowMemberIDsInFlight :many
-- Members that are not terminal, by execution id.
SELECT execution_id FROM ff_exec_core
WHERE flow_id = @flow_id AND lifecycle_phase <> 'terminal'
ORDER BY execution_id;

-- name: FlowMemberIDsQueued :many
-- Members that have not started running (submitted or runnable), by
-- execution id: CancelFlow(cancel_pending) lets active and suspended ones
-- drain.
SELECT execution_id FROM ff_exec_core
WHERE flow_id = @flow_id AND lifecycle_phase IN ('submitted', 'runnable')
ORDER BY execution_id;
