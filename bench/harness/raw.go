package harness

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// rawSchema is the floor's whole schema: one table and one partial index
// over queued rows in claim order.
const rawSchema = `
CREATE TABLE job (
	id          INTEGER PRIMARY KEY,
	state       TEXT    NOT NULL,
	cap         INTEGER NOT NULL,
	payload     BLOB    NOT NULL,
	created_at  INTEGER NOT NULL,
	claimed_at  INTEGER,
	finished_at INTEGER
);
CREATE INDEX job_queued ON job (cap, id) WHERE state = 'queued';
`

// Raw is the floor: the same submit, claim and complete cycle as three
// plain autocommit statements (each its own transaction) on one
// connection, with prepared statements and no engine around them.
type Raw struct {
	db      *sql.DB
	insert  *sql.Stmt
	claimQ  *sql.Stmt
	finishQ *sql.Stmt
}

// Name implements System.
func (*Raw) Name() string { return "raw-sqlite" }

// Open implements System.
func (r *Raw) Open(ctx context.Context, path string, sets int) error {
	db, err := sql.Open("sqlite", sqliteDSN(path, "_txlock=immediate"))
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	r.db = db
	if err := verifyWAL(ctx, db); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, rawSchema); err != nil {
		return fmt.Errorf("raw schema: %w", err)
	}
	if r.insert, err = db.PrepareContext(ctx,
		`INSERT INTO job (state, cap, payload, created_at) VALUES ('queued', ?, ?, ?)`); err != nil {
		return err
	}
	if r.claimQ, err = db.PrepareContext(ctx, `
		UPDATE job SET state = 'running', claimed_at = ?
		WHERE id = (SELECT id FROM job WHERE state = 'queued' AND cap = ? ORDER BY id LIMIT 1)
		RETURNING id, payload`); err != nil {
		return err
	}
	if r.finishQ, err = db.PrepareContext(ctx,
		`UPDATE job SET state = 'done', finished_at = ? WHERE id = ? AND state = 'running'`); err != nil {
		return err
	}
	return nil
}

// Submit implements System.
func (r *Raw) Submit(ctx context.Context, set int) (string, error) {
	res, err := r.insert.ExecContext(ctx, set, payload, time.Now().UnixMilli())
	if err != nil {
		return "", err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(id, 10), nil
}

// Work implements System.
func (r *Raw) Work(ctx context.Context, plan Plan) ([]Completion, error) {
	return pullWork(ctx, r, plan)
}

func (r *Raw) claim(ctx context.Context, _, set int) (job, bool, error) {
	var id int64
	var body []byte
	err := r.claimQ.QueryRowContext(ctx, time.Now().UnixMilli(), set).Scan(&id, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return job{}, false, nil
	}
	if err != nil {
		return job{}, false, err
	}
	return job{id: strconv.FormatInt(id, 10), ref: id}, true, nil
}

func (r *Raw) complete(ctx context.Context, j job) error {
	res, err := r.finishQ.ExecContext(ctx, time.Now().UnixMilli(), j.ref.(int64))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("raw complete %s: %d rows, %v", j.id, n, err)
	}
	return nil
}

// seed bulk-loads queued and finished rows for set with one statement
// each (the floor's growth fixture).
func (r *Raw) seed(ctx context.Context, queued, finished int, set int) error {
	const q = `
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO job (state, cap, payload, created_at, claimed_at, finished_at)
		SELECT ?, ?, ?, ?, ?, ? FROM n`
	now := time.Now().UnixMilli()
	if finished > 0 {
		if _, err := r.db.ExecContext(ctx, q, finished, "done", set, payload, now, now, now); err != nil {
			return err
		}
	}
	if queued > 0 {
		if _, err := r.db.ExecContext(ctx, q, queued, "queued", set, payload, now, nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// Close implements System.
func (r *Raw) Close() error {
	if r.db == nil {
		return nil
	}
	return r.db.Close()
}
