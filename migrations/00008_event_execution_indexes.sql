-- +goose Up
-- The completion and lease outboxes lose their per-execution indexes.
-- Every claim and every completion inserted into them at a random place
-- (execution ids are random UUIDs): one more B-tree page written per event
-- on the hot path, and at a million executions a working set that no
-- longer fits the cache. Their one reader was the retention trimmer's
-- per-execution delete; it now leaves an execution's events to the outbox
-- trim, which deletes by age with the same cutoff, in the same tick.
DROP INDEX ff_completion_event_execution_idx;
DROP INDEX ff_lease_event_execution_idx;

-- +goose Down
CREATE INDEX ff_completion_event_execution_idx ON ff_completion_event (execution_id, event_id);
CREATE INDEX ff_lease_event_execution_idx ON ff_lease_event (execution_id, event_id);
