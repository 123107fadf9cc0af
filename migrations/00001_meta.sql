-- +goose Up
-- Deployment facts. The SQLite backend is single-partition; the row records
-- the shape so a future multi-partition reader can refuse a mismatch.
CREATE TABLE ff_partition_config (
    singleton_lock        INTEGER PRIMARY KEY CHECK (singleton_lock = 1),
    num_flow_partitions   INTEGER NOT NULL,
    num_budget_partitions INTEGER NOT NULL,
    num_quota_partitions  INTEGER NOT NULL,
    ff_version            TEXT    NOT NULL
) STRICT;

INSERT INTO ff_partition_config VALUES (1, 1, 1, 1, '0.13.0');

-- +goose Down
DROP TABLE ff_partition_config;
