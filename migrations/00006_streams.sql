-- +goose Up
-- Streams: per-attempt output frames, the rolling summary document, and
-- per-stream metadata. Spec 05 Part C, 00 §17. A stream is one
-- (execution, attempt); execution ids are the full wire text "{fp:N}:<uuid>".
-- Entry id = "<ts_ms>-<seq>".

-- One row per retained frame. The primary key is the entry id, so ranges,
-- tails and "the K newest" are index walks. The read-side Fields map
-- (encoding "utf8", source "worker", ts, …) is built in Go from these
-- columns.
CREATE TABLE ff_stream_frame (
    execution_id    TEXT    NOT NULL,
    attempt_index   INTEGER NOT NULL CHECK (attempt_index >= 0),
    ts_ms           INTEGER NOT NULL CHECK (ts_ms >= 0),
    -- 0.. within one ts_ms.
    seq             INTEGER NOT NULL CHECK (seq >= 0),
    frame_kind      TEXT    NOT NULL CHECK (frame_kind = 'blob' OR frame_kind = 'event' OR frame_kind = 'stderr' OR frame_kind = 'stdout'),
    -- The caller's label, or the kind's wire name.
    frame_type      TEXT    NOT NULL,
    -- TailStream(exclude_best_effort) filters on it.
    mode            TEXT    NOT NULL CHECK (mode = 'durable' OR mode = 'summary' OR mode = 'best_effort'),
    -- Raw bytes (<= 64 KiB); rendered as UTF-8 text on read.
    payload         BLOB    NOT NULL CHECK (length(payload) <= 65536),
    correlation_id  TEXT,
    -- Summary frames: the summary version this patch produced.
    summary_version INTEGER,
    CHECK ((mode = 'summary') = (summary_version IS NOT NULL)),
    PRIMARY KEY (execution_id, attempt_index, ts_ms, seq)
) STRICT;

-- The attempt's summary document, built from its summary frames by JSON
-- merge patch.
CREATE TABLE ff_stream_summary (
    execution_id        TEXT    NOT NULL,
    attempt_index       INTEGER NOT NULL CHECK (attempt_index >= 0),
    document_json       TEXT    NOT NULL CHECK (json_valid(document_json)),
    -- Applied patches so far.
    version             INTEGER NOT NULL CHECK (version >= 1),
    patch_kind          TEXT    NOT NULL DEFAULT 'json-merge-patch'
        CHECK (patch_kind IN ('json-merge-patch')),
    first_applied_at_ms INTEGER NOT NULL,
    last_updated_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (execution_id, attempt_index)
) STRICT;

-- One row per stream with frames, updated by every append: the newest entry
-- id (monotonic ids without scanning), the retained frame count (the
-- AppendFrame outcome without COUNT(*)), and the best-effort trimming state.
CREATE TABLE ff_stream_meta (
    execution_id        TEXT    NOT NULL,
    attempt_index       INTEGER NOT NULL CHECK (attempt_index >= 0),
    last_entry_ts_ms    INTEGER NOT NULL DEFAULT 0,
    last_entry_seq      INTEGER NOT NULL DEFAULT 0,
    frame_count         INTEGER NOT NULL DEFAULT 0 CHECK (frame_count >= 0),
    -- Best-effort EMA of the append rate, the time of the last best-effort
    -- append it was computed from, and the last length trimmed to.
    ema_rate_hz         REAL    NOT NULL DEFAULT 0,
    last_append_ts_ms   INTEGER NOT NULL DEFAULT 0,
    maxlen_applied_last INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (execution_id, attempt_index)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE ff_stream_meta;
DROP TABLE ff_stream_summary;
DROP TABLE ff_stream_frame;
