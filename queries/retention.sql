-- Retention trimmer (spec 05 B.4 J11): finished executions past the
-- retention age are deleted with every row that names them, and old outbox
-- rows and long-expired claim grants are trimmed. Each delete uses an index
-- that leads with the execution (or flow) id.

-- name: RetentionCandidates :many
-- Terminal executions finished at or before the cutoff, oldest first
-- (terminal_idx). A flow member qualifies only once every member of its
-- flow does, so a flow is never left half-deleted while still in use.
SELECT e.execution_id, e.flow_id FROM ff_exec_core e
WHERE e.lifecycle_phase = 'terminal' AND e.terminal_at_ms <= @cutoff_ms
  AND (CAST(@namespace AS TEXT) = '' OR e.namespace = @namespace)
  AND (CAST(@tag_set AS INTEGER) = 0 OR e.instance_tag = @instance_tag)
  AND (e.flow_id IS NULL OR NOT EXISTS (
      SELECT 1 FROM ff_exec_core m
      WHERE m.flow_id = e.flow_id
        AND NOT (m.lifecycle_phase = 'terminal' AND m.terminal_at_ms <= @cutoff_ms)))
ORDER BY e.terminal_at_ms, e.execution_id
LIMIT @lim;

-- name: RetentionDeleteAttempts :exec
DELETE FROM ff_attempt WHERE execution_id = @execution_id;

-- name: RetentionDeleteBacklogMember :exec
DELETE FROM ff_cancel_backlog_member WHERE execution_id = @execution_id;

-- name: RetentionDeleteCapabilities :exec
DELETE FROM ff_execution_capabilities WHERE execution_id = @execution_id;

-- name: RetentionDeleteExec :execrows
DELETE FROM ff_exec_core WHERE execution_id = @execution_id;

-- name: RetentionDeleteExecBudgets :exec
DELETE FROM ff_execution_budget WHERE execution_id = @execution_id;

-- name: RetentionDeleteFlow :exec
DELETE FROM ff_flow_core WHERE flow_id = @flow_id;

-- name: RetentionDeleteFlowBacklog :exec
DELETE FROM ff_cancel_backlog WHERE flow_id = @flow_id;

-- name: RetentionDeleteFlowBacklogMembers :exec
DELETE FROM ff_cancel_backlog_member WHERE flow_id = @flow_id;

-- name: RetentionDeleteFlowCancelDispatch :exec
DELETE FROM ff_cancel_dispatch_outbox WHERE flow_id = @flow_id;

-- name: RetentionDeleteFlowGroups :exec
DELETE FROM ff_edge_group WHERE flow_id = @flow_id;

-- name: RetentionDeleteFlowPendingCancels :exec
DELETE FROM ff_pending_cancel_groups WHERE flow_id = @flow_id;

-- name: RetentionDeleteGrants :exec
DELETE FROM ff_claim_grant WHERE execution_id = @execution_id;

-- name: RetentionDeleteLedger :exec
DELETE FROM ff_budget_usage_by_exec WHERE execution_id = @execution_id;

-- name: RetentionDeleteMemberCancelDispatch :exec
DELETE FROM ff_cancel_dispatch_outbox
WHERE flow_id = @flow_id AND (downstream_execution_id = @execution_id OR target_execution_id = @execution_id);

-- name: RetentionDeleteMemberEdgesFrom :exec
DELETE FROM ff_edge INDEXED BY ff_edge_upstream_idx WHERE flow_id = @flow_id AND upstream_execution_id = @execution_id;

-- name: RetentionDeleteMemberEdgesTo :exec
DELETE FROM ff_edge INDEXED BY ff_edge_downstream_idx WHERE flow_id = @flow_id AND downstream_execution_id = @execution_id;

-- name: RetentionDeleteMemberGroup :exec
-- A flow member's inbound group (the flow's remaining rows go with its
-- last member).
DELETE FROM ff_edge_group WHERE flow_id = @flow_id AND downstream_execution_id = @execution_id;

-- name: RetentionDeleteMemberPendingCancel :exec
DELETE FROM ff_pending_cancel_groups WHERE flow_id = @flow_id AND downstream_execution_id = @execution_id;

-- name: RetentionDeleteOperatorEvents :exec
-- Also used with a flow id: flow operator events are keyed by it.
DELETE FROM ff_operator_event WHERE execution_id = @execution_id;

-- name: RetentionDeletePayload :exec
DELETE FROM ff_exec_payload WHERE execution_id = @execution_id;

-- name: RetentionDeleteQuotaAdmitted :exec
DELETE FROM ff_quota_admitted WHERE execution_id = @execution_id;

-- name: RetentionDeleteQuotaWindow :exec
DELETE FROM ff_quota_window WHERE execution_id = @execution_id;

-- name: RetentionDeleteSignalEvents :exec
DELETE FROM ff_signal_event WHERE execution_id = @execution_id;

-- name: RetentionDeleteSignals :exec
DELETE FROM ff_signal WHERE execution_id = @execution_id;

-- name: RetentionDeleteStreamFrames :exec
DELETE FROM ff_stream_frame WHERE execution_id = @execution_id;

-- name: RetentionDeleteStreamMeta :exec
DELETE FROM ff_stream_meta WHERE execution_id = @execution_id;

-- name: RetentionDeleteStreamSummaries :exec
DELETE FROM ff_stream_summary WHERE execution_id = @execution_id;

-- name: RetentionDeleteSuspendDedup :exec
DELETE FROM ff_suspend_dedup WHERE execution_id = @execution_id;

-- name: RetentionDeleteSuspension :exec
DELETE FROM ff_suspension_current WHERE execution_id = @execution_id;

-- name: RetentionDeleteWaitpoints :exec
DELETE FROM ff_waitpoint WHERE execution_id = @execution_id;

-- name: RetentionFlowBusy :one
-- Whether a flow still has a member that is unfinished or too young.
SELECT EXISTS (
    SELECT 1 FROM ff_exec_core m
    WHERE m.flow_id = @flow_id
      AND NOT (m.lifecycle_phase = 'terminal' AND m.terminal_at_ms <= @cutoff_ms));

-- name: RetentionFlowHasMembers :one
SELECT EXISTS (SELECT 1 FROM ff_exec_core WHERE flow_id = @flow_id);

-- name: RetentionGetExec :one
-- The trimmer's in-transaction re-check of one candidate.
SELECT lifecycle_phase, terminal_at_ms, flow_id FROM ff_exec_core WHERE execution_id = @execution_id;

-- The outbox trims look at the oldest @lim rows only (a primary-key walk),
-- so a tick costs the same however large the table is.

-- name: RetentionTrimCompletionEvents :execrows
-- Only consumed events: an undispatched one still owes dependency resolution.
-- Never the table's newest row: its id is what keeps new ids above every
-- cursor handed out (the table has no AUTOINCREMENT; see 00002).
DELETE FROM ff_completion_event
WHERE ff_completion_event.event_id IN (SELECT o.event_id FROM ff_completion_event o ORDER BY o.event_id LIMIT @lim)
  AND ff_completion_event.occurred_at_ms < @cutoff_ms AND ff_completion_event.dispatched_at_ms IS NOT NULL
  AND ff_completion_event.event_id < (SELECT max(m.event_id) FROM ff_completion_event m);

-- name: RetentionTrimGrants :execrows
-- Claim grants that expired before the cutoff (grant expiry_idx).
DELETE FROM ff_claim_grant
WHERE grant_id IN (
    SELECT g.grant_id FROM ff_claim_grant g
    WHERE g.expires_at_ms < @cutoff_ms
    ORDER BY g.expires_at_ms LIMIT @lim);

-- name: RetentionTrimLeaseEvents :execrows
-- Never the newest row (see RetentionTrimCompletionEvents).
DELETE FROM ff_lease_event
WHERE ff_lease_event.event_id IN (SELECT o.event_id FROM ff_lease_event o ORDER BY o.event_id LIMIT @lim)
  AND ff_lease_event.occurred_at_ms < @cutoff_ms
  AND ff_lease_event.event_id < (SELECT max(m.event_id) FROM ff_lease_event m);

-- name: RetentionTrimOperatorEvents :execrows
DELETE FROM ff_operator_event
WHERE ff_operator_event.event_id IN (SELECT o.event_id FROM ff_operator_event o ORDER BY o.event_id LIMIT @lim)
  AND ff_operator_event.occurred_at_ms < @cutoff_ms;

-- name: RetentionTrimSignalEvents :execrows
DELETE FROM ff_signal_event
WHERE ff_signal_event.event_id IN (SELECT o.event_id FROM ff_signal_event o ORDER BY o.event_id LIMIT @lim)
  AND ff_signal_event.delivered_at_ms < @cutoff_ms;
