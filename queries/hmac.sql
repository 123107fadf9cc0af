-- Waitpoint token signing keys (ff_waitpoint_hmac). Rows are never deleted:
-- a token names its kid, and verification looks that kid up whatever its
-- active flag, so rotation only flips which kid signs new tokens.

-- name: GetHMACKey :one
SELECT * FROM ff_waitpoint_hmac WHERE kid = ?;

-- name: GetActiveHMACKey :one
-- The signing key. The partial unique index allows at most one active row.
SELECT * FROM ff_waitpoint_hmac WHERE active = 1;

-- name: DeactivateHMACKeys :exec
UPDATE ff_waitpoint_hmac SET active = 0 WHERE active = 1;

-- name: InsertHMACKey :exec
INSERT INTO ff_waitpoint_hmac (kid, secret, rotated_at_ms, active) VALUES (?, ?, ?, 1);
