-- +goose Up
-- Large input payloads move out of the execution row. Every state change
-- rewrites the whole ff_exec_core record, and a payload past a page spills
-- into overflow pages that the rewrite copies too: a 64 KiB payload cost
-- 18 more WAL pages per claim and per complete, and as many per Renew and
-- Progress, and every read of the row (claim, the lease fence) read it
-- back. A payload over the inline limit (backend payloadInlineMax) is kept
-- here, written once, read by ReadExecutionContext; the row keeps an empty
-- payload and payload_external = 1. Payloads stored before this migration
-- stay inline (payload_external = 0), which is still valid.
CREATE TABLE ff_exec_payload (
    execution_id TEXT PRIMARY KEY,
    payload      BLOB NOT NULL
) STRICT;

ALTER TABLE ff_exec_core ADD COLUMN payload_external INTEGER NOT NULL DEFAULT 0
    CHECK (payload_external = 0 OR payload_external = 1);

-- +goose Down
UPDATE ff_exec_core SET
    payload = (SELECT p.payload FROM ff_exec_payload p WHERE p.execution_id = ff_exec_core.execution_id)
WHERE payload_external = 1
  AND EXISTS (SELECT 1 FROM ff_exec_payload p WHERE p.execution_id = ff_exec_core.execution_id);
ALTER TABLE ff_exec_core DROP COLUMN payload_external;
DROP TABLE ff_exec_payload;
