-- Quotas: policies, the sliding admission window, per-execution admission
-- guards, and the quota side of the claim gate (spec 05 A.10-A.11, 00 decision 16).

-- name: QuotaAddWindow :exec
INSERT INTO ff_quota_window (quota_policy_id, dimension, admitted_at_ms, execution_id)
VALUES (@quota_policy_id, '', @now_ms, @execution_id)
ON CONFLICT DO NOTHING;

-- name: QuotaAdmittedUntil :one
-- The execution's admission guard: when it expires (no row = none).
SELECT expires_at_ms FROM ff_quota_admitted
WHERE quota_policy_id = @quota_policy_id AND execution_id = @execution_id;

-- name: QuotaBlockedGates :many
-- Unblock scanner: the distinct gates of quota-blocked executions.
SELECT DISTINCT blocked_gate FROM ff_exec_core
WHERE eligibility_state = 'blocked_by_quota'
LIMIT @lim;

-- name: QuotaBlockedOnGate :many
-- Quota-blocked executions recorded against one gate, in claim order.
SELECT execution_id FROM ff_exec_core
WHERE eligibility_state = 'blocked_by_quota' AND blocked_gate = @gate
  AND (CAST(@namespace AS TEXT) = '' OR namespace = @namespace)
  AND (CAST(@tag_set AS INTEGER) = 0 OR instance_tag = @instance_tag)
ORDER BY priority DESC, created_at_ms, execution_id
LIMIT @lim;

-- name: QuotaBlockedUngated :many
-- Quota-blocked executions no gate recorded (BlockRoute), in claim order.
SELECT execution_id FROM ff_exec_core
WHERE eligibility_state = 'blocked_by_quota' AND blocked_gate IS NULL
  AND (CAST(@namespace AS TEXT) = '' OR namespace = @namespace)
  AND (CAST(@tag_set AS INTEGER) = 0 OR instance_tag = @instance_tag)
ORDER BY priority DESC, created_at_ms, execution_id
LIMIT @lim;

-- name: QuotaCountActive :one
-- Executions of the policy holding (or awaiting reclaim of) a lease.
SELECT count(*) FROM ff_exec_core
WHERE quota_policy_id = @quota_policy_id AND lifecycle_phase = 'active';

-- name: QuotaCountAdmitted :one
SELECT count(*) FROM ff_quota_admitted WHERE quota_policy_id = @quota_policy_id;

-- name: QuotaCountClaimable :one
-- Executions of the policy already admitted to the claimable set.
SELECT count(*) FROM ff_exec_core
WHERE quota_policy_id = @quota_policy_id
  AND lifecycle_phase = 'runnable' AND eligibility_state = 'eligible_now';

-- name: QuotaDeleteAdmitted :execrows
DELETE FROM ff_quota_admitted
WHERE quota_policy_id = @quota_policy_id AND execution_id = @execution_id AND expires_at_ms <= @now_ms;

-- name: QuotaExpiredAdmissions :many
-- Quota reconciler: the oldest expired admission guards (expires_idx).
SELECT quota_policy_id, execution_id FROM ff_quota_admitted
WHERE expires_at_ms <= @now_ms
ORDER BY expires_at_ms
LIMIT @lim;

-- name: QuotaGetPolicy :one
SELECT * FROM ff_quota_policy WHERE quota_policy_id = @quota_policy_id;

-- name: QuotaIncrConcurrency :execrows
UPDATE ff_quota_policy SET active_concurrency = active_concurrency + 1, updated_at_ms = @now_ms
WHERE quota_policy_id = @quota_policy_id;

-- name: QuotaInsertCounterOnly :exec
-- CheckAdmission against an unknown policy with a cap: a zero-limit policy
-- row that only carries the concurrency count (spec 05 A.11).
INSERT INTO ff_quota_policy (
    quota_policy_id, window_seconds, max_requests_per_window, active_concurrency_cap,
    active_concurrency, created_at_ms, updated_at_ms
) VALUES (@quota_policy_id, 0, 0, 0, 1, @now_ms, @now_ms);

-- name: QuotaInsertPolicy :execrows
-- CreateQuotaPolicy: an existing policy is left untouched (0 rows).
INSERT INTO ff_quota_policy (
    quota_policy_id, window_seconds, max_requests_per_window, active_concurrency_cap,
    active_concurrency, created_at_ms, updated_at_ms
) VALUES (
    @quota_policy_id, @window_seconds, @max_requests_per_window, @active_concurrency_cap,
    0, @now_ms, @now_ms
)
ON CONFLICT (quota_policy_id) DO NOTHING;

-- name: QuotaListPolicies :many
-- Quota reconciler: policies in id order (keyset pages).
SELECT quota_policy_id, window_seconds, active_concurrency_cap, active_concurrency
FROM ff_quota_policy
WHERE quota_policy_id > @after
ORDER BY quota_policy_id
LIMIT @lim;

-- name: QuotaOrphanWindowPolicies :many
-- Window rows of policies without a policy row (CheckAdmission against an
-- unknown policy and no cap): their window is unknown, so the reconciler
-- trims them after the retention age.
SELECT DISTINCT w.quota_policy_id FROM ff_quota_window w
WHERE NOT EXISTS (SELECT 1 FROM ff_quota_policy p WHERE p.quota_policy_id = w.quota_policy_id)
LIMIT @lim;

-- name: QuotaPutAdmitted :exec
INSERT INTO ff_quota_admitted (quota_policy_id, execution_id, admitted_at_ms, expires_at_ms)
VALUES (@quota_policy_id, @execution_id, @now_ms, @expires_at_ms)
ON CONFLICT (quota_policy_id, execution_id) DO UPDATE SET
    admitted_at_ms = excluded.admitted_at_ms,
    expires_at_ms  = excluded.expires_at_ms;

-- name: QuotaSetConcurrency :execrows
UPDATE ff_quota_policy SET active_concurrency = @active_concurrency, updated_at_ms = @now_ms
WHERE quota_policy_id = @quota_policy_id AND active_concurrency <> @active_concurrency;

-- name: QuotaTrimWindow :execrows
-- Admissions that left the window (a primary-key range). The window is
-- (now - window, now]: an admission leaves it exactly window after it was
-- made, which is when CheckAdmission's RetryAfter says to come back.
DELETE FROM ff_quota_window
WHERE quota_policy_id = @quota_policy_id AND dimension = '' AND admitted_at_ms <= @cutoff_ms;

-- name: QuotaWindowStats :one
-- Admissions inside the window and the oldest one's time (0 when none).
SELECT count(*) AS admitted,
       CAST(coalesce(min(admitted_at_ms), 0) AS INTEGER) AS oldest_ms
FROM ff_quota_window
WHERE quota_policy_id = @quota_policy_id AND dimension = '' AND admitted_at_ms > @cutoff_ms;
