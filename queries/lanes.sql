-- name: RegisterLane :exec
INSERT INTO ff_lane_registry (lane_id, registered_at_ms, registered_by)
VALUES (?, ?, ?)
ON CONFLICT (lane_id) DO NOTHING;

-- name: ListLanes :many
SELECT lane_id FROM ff_lane_registry
WHERE lane_id > sqlc.arg(after)
ORDER BY lane_id
LIMIT sqlc.arg(lim);
