-- name: Ping :one
SELECT 1;
