-- Output streams (spec 05 Part C): per-attempt frames, the rolling summary
-- document and per-stream metadata. A stream is one (execution, attempt).

-- name: StreamFrameInsert :exec
INSERT INTO ff_stream_frame (
    execution_id, attempt_index, ts_ms, seq, frame_kind, frame_type, mode,
    payload, correlation_id, summary_version
) VALUES (
    sqlc.arg(execution_id), sqlc.arg(attempt_index), sqlc.arg(ts_ms), sqlc.arg(seq),
    sqlc.arg(frame_kind), sqlc.arg(frame_type), sqlc.arg(mode), sqlc.arg(payload),
    sqlc.narg(correlation_id), sqlc.narg(summary_version)
);

-- name: StreamFrameListAfter :many
-- TailStream: frames strictly after (after_ts, after_seq), ascending. The
-- leading ts_ms >= bound keeps the primary-key range scan; the OR refines
-- it. exclude_best_effort = 1 hides best-effort frames (the limit counts
-- only visible ones).
SELECT ts_ms, seq, frame_type, mode, payload, correlation_id, summary_version
FROM ff_stream_frame
WHERE execution_id = sqlc.arg(execution_id)
  AND attempt_index = sqlc.arg(attempt_index)
  AND ts_ms >= sqlc.arg(after_ts)
  AND (ts_ms > sqlc.arg(after_ts) OR seq > sqlc.arg(after_seq))
  AND (CAST(sqlc.arg(exclude_best_effort) AS INTEGER) = 0 OR mode <> 'best_effort')
ORDER BY ts_ms, seq
LIMIT sqlc.arg(max_rows);

-- name: StreamFrameListRange :many
-- ReadStream: frames with (from_ts, from_seq) <= id <= (to_ts, to_seq),
-- both bounds inclusive, ascending.
SELECT ts_ms, seq, frame_type, mode, payload, correlation_id, summary_version
FROM ff_stream_frame
WHERE execution_id = sqlc.arg(execution_id)
  AND attempt_index = sqlc.arg(attempt_index)
  AND ts_ms >= sqlc.arg(from_ts) AND ts_ms <= sqlc.arg(to_ts)
  AND (ts_ms > sqlc.arg(from_ts) OR seq >= sqlc.arg(from_seq))
  AND (ts_ms < sqlc.arg(to_ts) OR seq <= sqlc.arg(to_seq))
ORDER BY ts_ms, seq
LIMIT sqlc.arg(max_rows);

-- name: StreamFrameTrimToNewest :execrows
-- Best-effort trimming: delete every frame of the stream except the keep
-- newest by entry id (all modes, spec 05 s.C.3 step 8). LIMIT -1 OFFSET n
-- is SQLite's "all rows after the first n".
DELETE FROM ff_stream_frame
WHERE rowid IN (
    SELECT f.rowid FROM ff_stream_frame AS f
    WHERE f.execution_id = sqlc.arg(execution_id) AND f.attempt_index = sqlc.arg(attempt_index)
    ORDER BY f.ts_ms DESC, f.seq DESC
    LIMIT -1 OFFSET sqlc.arg(keep)
);

-- name: StreamMetaGet :one
SELECT * FROM ff_stream_meta
WHERE execution_id = sqlc.arg(execution_id) AND attempt_index = sqlc.arg(attempt_index);

-- name: StreamMetaPut :exec
-- Writes the stream's metadata row whole (AppendFrame computes every value).
INSERT INTO ff_stream_meta (
    execution_id, attempt_index, last_entry_ts_ms, last_entry_seq, frame_count,
    ema_rate_hz, last_append_ts_ms, maxlen_applied_last
) VALUES (
    sqlc.arg(execution_id), sqlc.arg(attempt_index), sqlc.arg(last_entry_ts_ms),
    sqlc.arg(last_entry_seq), sqlc.arg(frame_count), sqlc.arg(ema_rate_hz),
    sqlc.arg(last_append_ts_ms), sqlc.arg(maxlen_applied_last)
)
ON CONFLICT (execution_id, attempt_index) DO UPDATE SET
    last_entry_ts_ms    = excluded.last_entry_ts_ms,
    last_entry_seq      = excluded.last_entry_seq,
    frame_count         = excluded.frame_count,
    ema_rate_hz         = excluded.ema_rate_hz,
    last_append_ts_ms   = excluded.last_append_ts_ms,
    maxlen_applied_last = excluded.maxlen_applied_last;

-- name: StreamSummaryGet :one
SELECT * FROM ff_stream_summary
WHERE execution_id = sqlc.arg(execution_id) AND attempt_index = sqlc.arg(attempt_index);

-- name: StreamSummaryPut :exec
-- Inserts the first version (first_applied = last_updated) or replaces the
-- document of a later one, keeping first_applied_at_ms.
INSERT INTO ff_stream_summary (
    execution_id, attempt_index, document_json, version, patch_kind,
    first_applied_at_ms, last_updated_at_ms
) VALUES (
    sqlc.arg(execution_id), sqlc.arg(attempt_index), sqlc.arg(document_json),
    sqlc.arg(version), 'json-merge-patch', sqlc.arg(updated_at_ms), sqlc.arg(updated_at_ms)
)
ON CONFLICT (execution_id, attempt_index) DO UPDATE SET
    document_json      = excluded.document_json,
    version            = excluded.version,
    patch_kind         = 'json-merge-patch',
    last_updated_at_ms = excluded.last_updated_at_ms;
