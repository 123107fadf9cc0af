-- +goose Up
-- Placeholder: the full schema lands in the following migrations.
CREATE TABLE ff_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE ff_meta;
