package backend

import (
	"context"
	"database/sql"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// CreateExecutionTx is CreateExecution inside tx, a transaction the caller
// opened on the same database file: the execution commits or rolls back
// with the caller's own rows. See CreateExecutionsTx for how to open tx.
func (b *SQLiteBackend) CreateExecutionTx(ctx context.Context, tx *sql.Tx, args CreateExecutionArgs) (CreateExecutionResult, error) {
	results, err := b.createExecutionsTx(ctx, "create_execution_tx", tx, []CreateExecutionArgs{args}, false)
	if err != nil {
		return CreateExecutionResult{}, err
	}
	return results[0], nil
}

// CreateExecutionsTx is CreateExecutions inside tx, a transaction the
// caller opened on the same database file, so application rows and the
// executions they enqueue commit or roll back together (the transactional
// outbox pattern without an outbox). Validation happens before anything is
// written to tx, and a batch that fails half-way is undone inside tx (a
// savepoint), so tx holds all of the batch or none of it.
//
// Open the application's *sql.DB on the backend's file with the
// modernc.org/sqlite driver and a DSN such as
//
//	file:app.db?_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)
//
// _txlock=immediate makes BeginTx take SQLite's write lock at once, so
// the transaction never fails half-way when it first writes; busy_timeout
// lets it wait for the backend's own writer. Keep such transactions short:
// while one is open, every writer on the file, the backend's included,
// waits. The backend cannot see the commit, so claimers parked in Claim
// notice the new executions on their next poll (within 250 ms) rather than
// at once. In-memory databases cannot share a transaction this way; use a
// file.
func (b *SQLiteBackend) CreateExecutionsTx(ctx context.Context, tx *sql.Tx, args []CreateExecutionArgs) ([]CreateExecutionResult, error) {
	return b.createExecutionsTx(ctx, "create_executions_tx", tx, args, true)
}

func (b *SQLiteBackend) createExecutionsTx(ctx context.Context, op string, tx *sql.Tx, args []CreateExecutionArgs, batch bool) ([]CreateExecutionResult, error) {
	db, err := b.live(op)
	if err != nil {
		return nil, err
	}
	if tx == nil {
		return nil, errInvalidInput("%s: nil transaction", op)
	}
	plans, err := planCreates(args, batch)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The batch is all-or-nothing inside the caller's transaction too: a
	// savepoint undoes the elements already inserted when a later one
	// fails, so committing tx after an error never keeps half a batch.
	if _, err := tx.ExecContext(ctx, "SAVEPOINT ff_create_executions"); err != nil {
		return nil, errTransportCtx(ctx, err)
	}
	// Statements prepared on the backend's own connections cannot run on a
	// foreign transaction, so the queries are bound to tx unprepared.
	w := &writeTx{q: dbgen.New(tx), now: nowMS(db.clock)}
	results, err := w.insertExecutions(ctx, plans)
	if err != nil {
		// Best effort: when the rollback fails too, tx itself is broken
		// and the caller's Commit reports it.
		_, _ = tx.ExecContext(context.WithoutCancel(ctx), "ROLLBACK TO ff_create_executions")
		_, _ = tx.ExecContext(context.WithoutCancel(ctx), "RELEASE ff_create_executions")
		return nil, errTransportCtx(ctx, err)
	}
	if _, err := tx.ExecContext(ctx, "RELEASE ff_create_executions"); err != nil {
		return nil, errTransportCtx(ctx, err)
	}
	return results, nil
}
