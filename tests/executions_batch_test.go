package tests

import (
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

// batchArgs builds n plain creations on lane.
func batchArgs(lane backend.LaneID, n int) []backend.CreateExecutionArgs {
	args := make([]backend.CreateExecutionArgs, n)
	for i := range args {
		args[i] = backend.CreateExecutionArgs{
			ExecutionID: backend.NewExecutionID(), LaneID: lane, Namespace: "ns",
			ExecutionKind: "k", InputPayload: fmt.Appendf(nil, `{"i":%d}`, i),
		}
	}
	return args
}

func TestCreateExecutionsBatch(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	args := batchArgs("batch", 50)
	args[7].DelayUntil = e.now().Add(60_000_000_000) // one minute
	res, err := e.b.CreateExecutions(e.ctx, args)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(args) {
		t.Fatalf("got %d results for %d args", len(res), len(args))
	}
	for i, r := range res {
		want := backend.CreateExecutionResult{ExecutionID: args[i].ExecutionID, Kind: backend.CreateExecutionCreated, PublicState: backend.PublicStateWaiting}
		if i == 7 {
			want.PublicState = backend.PublicStateDelayed
		}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Errorf("results[%d] (-want +got)\n%s", i, diff)
		}
		if got := e.state(args[i].ExecutionID); got != want.PublicState {
			t.Errorf("state of %d = %s, want %s", i, got, want.PublicState)
		}
	}
	// All but the delayed one are claimable.
	for range len(args) - 1 {
		e.mustClaim("batch")
	}
	if h := e.claim("batch"); h != nil {
		t.Errorf("claimed %s, want nothing (only the delayed one is left)", h.ExecutionID())
	}
}

func TestCreateExecutionsDuplicates(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	existing := e.create("dup", func(a *backend.CreateExecutionArgs) { a.IdempotencyKey = "old"; a.Namespace = "ns" })

	args := batchArgs("dup", 4)
	args[1].IdempotencyKey = "k"
	args[2].IdempotencyKey = "k" // same key as [1], within the batch
	args[3].ExecutionID = args[0].ExecutionID
	extra := batchArgs("dup", 1)[0]
	extra.IdempotencyKey = "old" // same key as an execution created earlier
	args = append(args, extra)

	res, err := e.b.CreateExecutions(e.ctx, args)
	if err != nil {
		t.Fatal(err)
	}
	want := []backend.CreateExecutionResult{
		{ExecutionID: args[0].ExecutionID, Kind: backend.CreateExecutionCreated, PublicState: backend.PublicStateWaiting},
		{ExecutionID: args[1].ExecutionID, Kind: backend.CreateExecutionCreated, PublicState: backend.PublicStateWaiting},
		{ExecutionID: args[1].ExecutionID, Kind: backend.CreateExecutionDuplicate},
		{ExecutionID: args[0].ExecutionID, Kind: backend.CreateExecutionDuplicate},
		{ExecutionID: existing, Kind: backend.CreateExecutionDuplicate},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("results (-want +got)\n%s", diff)
	}
	for _, id := range []backend.ExecutionID{args[2].ExecutionID, extra.ExecutionID} {
		if st, err := e.b.ReadExecutionState(e.ctx, id); err != nil || st != nil {
			t.Errorf("duplicate %s: ReadExecutionState = %v, %v; want nil, nil (not stored)", id, st, err)
		}
	}
}

func TestCreateExecutionsEmpty(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	before := e.dump()
	res, err := e.b.CreateExecutions(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res == nil || len(res) != 0 {
		t.Errorf("results = %#v, want an empty slice", res)
	}
	e.requireUnchanged(before, "an empty batch")
}

// A bad element anywhere rejects the whole batch before anything is
// written, and the error names the element.
func TestCreateExecutionsValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(a *backend.CreateExecutionArgs)
		target error
	}{
		{"BadExecutionID", func(a *backend.CreateExecutionArgs) { a.ExecutionID = "nope" }, backend.ErrInvalidInput},
		{"BadLane", func(a *backend.CreateExecutionArgs) { a.LaneID = "" }, backend.ErrInvalidInput},
		{"BadTagKey", func(a *backend.CreateExecutionArgs) { a.Tags = map[string]string{"Bad": "x"} }, backend.ErrInvalidTagKey},
		{"BadCapability", func(a *backend.CreateExecutionArgs) {
			a.Policy = &backend.ExecutionPolicy{RoutingRequirements: &backend.RoutingRequirements{RequiredCapabilities: []string{"a,b"}}}
		}, backend.ErrInvalidCapabilities},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			before := e.dump()
			args := batchArgs("v", 5)
			tt.mutate(&args[3])
			_, err := e.b.CreateExecutions(e.ctx, args)
			requireErr(t, "CreateExecutions", err, tt.target)
			if !strings.Contains(err.Error(), "executions[3]") {
				t.Errorf("error %q does not name executions[3]", err)
			}
			e.requireUnchanged(before, "a rejected batch")
		})
	}
}

func TestCreateExecutionsAfterClose(t *testing.T) {
	t.Parallel()
	b, _, _ := newFileBackend(t)
	closeBackend(t, b)
	_, err := b.CreateExecutions(t.Context(), batchArgs("l", 1))
	requireErr(t, "CreateExecutions after Close", err, backend.ErrUnavailable)
}

// appDB opens the application's own connection pool on the backend's
// file, the way CreateExecutionsTx documents it, with an application
// table.
func appDB(t *testing.T, e *execEnv) *sql.DB {
	t.Helper()
	dsn := "file:" + (&url.URL{Path: e.path}).EscapedPath() +
		"?_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(e.ctx, `CREATE TABLE IF NOT EXISTS app_orders (id INTEGER PRIMARY KEY, execution_id TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func countRows(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCreateExecutionsTxCommit(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	app := appDB(t, e)
	args := batchArgs("orders", 3)

	tx, err := app.BeginTx(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range args {
		if _, err := tx.ExecContext(e.ctx, `INSERT INTO app_orders (id, execution_id) VALUES (?, ?)`, i, string(a.ExecutionID)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := e.b.CreateExecutionsTx(e.ctx, tx, args)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Kind != backend.CreateExecutionCreated || r.ExecutionID != args[i].ExecutionID {
			t.Errorf("results[%d] = %+v", i, r)
		}
	}
	// Not visible to the backend before the caller commits.
	if st, err := e.b.ReadExecutionState(e.ctx, args[0].ExecutionID); err != nil || st != nil {
		t.Errorf("before commit: ReadExecutionState = %v, %v; want nil, nil", st, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, app, `SELECT count(*) FROM app_orders`); n != 3 {
		t.Errorf("app rows = %d, want 3", n)
	}
	for _, a := range args {
		if got := e.state(a.ExecutionID); got != backend.PublicStateWaiting {
			t.Errorf("state of %s = %s, want waiting", a.ExecutionID, got)
		}
	}
	for range args {
		e.mustClaim("orders")
	}

	// The single-execution form joins the caller's transaction the same way.
	tx, err = app.BeginTx(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	one := batchArgs("orders", 1)[0]
	if _, err := e.b.CreateExecutionTx(e.ctx, tx, one); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := e.state(one.ExecutionID); got != backend.PublicStateWaiting {
		t.Errorf("state of single = %s, want waiting", got)
	}
}

func TestCreateExecutionsTxRollback(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	app := appDB(t, e)
	before := e.dump()
	args := batchArgs("orders", 3)

	tx, err := app.BeginTx(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(e.ctx, `INSERT INTO app_orders (id, execution_id) VALUES (1, ?)`, string(args[0].ExecutionID)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.CreateExecutionsTx(e.ctx, tx, args); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	e.requireUnchanged(before, "a rolled-back transaction")
	if h := e.claim("orders"); h != nil {
		t.Errorf("claimed %s after rollback", h.ExecutionID())
	}
}

func TestCreateExecutionsTxErrors(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	app := appDB(t, e)
	before := e.dump()

	_, err := e.b.CreateExecutionsTx(e.ctx, nil, batchArgs("l", 1))
	requireErr(t, "nil tx", err, backend.ErrInvalidInput)

	// A bad element writes nothing, and the caller's transaction stays
	// usable: its own rows still commit.
	tx, err := app.BeginTx(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	args := batchArgs("l", 2)
	args[1].LaneID = ""
	_, err = e.b.CreateExecutionsTx(e.ctx, tx, args)
	requireErr(t, "bad element", err, backend.ErrInvalidInput)
	if !strings.Contains(err.Error(), "executions[1]") {
		t.Errorf("error %q does not name executions[1]", err)
	}
	if _, err := tx.ExecContext(e.ctx, `INSERT INTO app_orders (id, execution_id) VALUES (1, 'x')`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	after := e.dump()
	if n := len(after["app_orders"]); n != 1 {
		t.Errorf("app rows = %d, want 1", n)
	}
	delete(after, "app_orders")
	delete(before, "app_orders")
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("backend tables changed (-before +after)\n%s", diff)
	}

	// A finished transaction is a transport error, not a panic.
	tx, err = app.BeginTx(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	_, err = e.b.CreateExecutionsTx(e.ctx, tx, batchArgs("l", 1))
	requireErr(t, "finished tx", err, backend.ErrTransport)
}

// A run of plain elements is inserted with one statement; its rows must
// be exactly what CreateExecution writes for the same arguments.
func TestCreateExecutionsBulkRowsMatchSingle(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	deadline := e.now().Add(time.Hour)
	variants := []func(a *backend.CreateExecutionArgs){
		func(a *backend.CreateExecutionArgs) {},
		func(a *backend.CreateExecutionArgs) { a.InputPayload = nil },
		func(a *backend.CreateExecutionArgs) { a.InputPayload = []byte{0, 1, 0xfe, 0xff, '"', '\\'} },
		func(a *backend.CreateExecutionArgs) {
			a.PayloadEncoding = "json"
			a.Tags = map[string]string{"cairn.instance_id": "i-1", "app.note": "quote \" and \\ and \u00e9 and \x01"}
			a.Priority = 99999 // clamped
			a.CreatorIdentity = "svc"
		},
		func(a *backend.CreateExecutionArgs) { a.DelayUntil = e.now().Add(time.Minute) },
		func(a *backend.CreateExecutionArgs) { a.ExecutionDeadlineAt = deadline },
		func(a *backend.CreateExecutionArgs) {
			a.Policy = &backend.ExecutionPolicy{RetryPolicy: &backend.RetryPolicy{MaxRetries: backend.Ptr[uint32](2)}}
		},
		func(a *backend.CreateExecutionArgs) { a.Now = e.now().Add(-time.Second) },
	}
	newArgs := func(lane backend.LaneID, mod func(*backend.CreateExecutionArgs)) backend.CreateExecutionArgs {
		a := backend.CreateExecutionArgs{
			ExecutionID: backend.NewExecutionID(), LaneID: lane, Namespace: "ns", ExecutionKind: "k", InputPayload: []byte("in"),
		}
		mod(&a)
		return a
	}
	var bulk []backend.CreateExecutionArgs
	var single []backend.ExecutionID
	for _, v := range variants {
		bulk = append(bulk, newArgs("same", v))
		a := newArgs("same", v)
		if _, err := e.b.CreateExecution(e.ctx, a); err != nil {
			t.Fatal(err)
		}
		single = append(single, a.ExecutionID)
	}
	if _, err := e.b.CreateExecutions(e.ctx, bulk); err != nil {
		t.Fatal(err)
	}
	row := func(id backend.ExecutionID) string {
		t.Helper()
		lines := e.dumpTable("ff_exec_core")
		for _, l := range lines {
			if strings.HasPrefix(l, "execution_id="+string(id)+" ") {
				return strings.TrimPrefix(l, "execution_id="+string(id)+" ")
			}
		}
		t.Fatalf("no row for %s", id)
		return ""
	}
	for i := range variants {
		if diff := cmp.Diff(row(single[i]), row(bulk[i].ExecutionID)); diff != "" {
			t.Errorf("variant %d: bulk row differs from CreateExecution's (-single +bulk)\n%s", i, diff)
		}
	}
}

// Repeated ids inside a run of plain elements: the first is created, the
// repeats and an id that already exists are duplicates.
func TestCreateExecutionsBulkDuplicates(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	existing := e.create("bulk", nil)
	args := batchArgs("bulk", 5)
	args[2].ExecutionID = args[0].ExecutionID
	args[3].ExecutionID = existing
	res, err := e.b.CreateExecutions(e.ctx, args)
	if err != nil {
		t.Fatal(err)
	}
	created := backend.CreateExecutionResult{Kind: backend.CreateExecutionCreated, PublicState: backend.PublicStateWaiting}
	want := make([]backend.CreateExecutionResult, len(args))
	for i := range args {
		want[i] = created
		want[i].ExecutionID = args[i].ExecutionID
	}
	want[2] = backend.CreateExecutionResult{ExecutionID: args[0].ExecutionID, Kind: backend.CreateExecutionDuplicate}
	want[3] = backend.CreateExecutionResult{ExecutionID: existing, Kind: backend.CreateExecutionDuplicate}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("results (-want +got)\n%s", diff)
	}
	ctx, err := e.b.ReadExecutionContext(e.ctx, args[0].ExecutionID)
	if err != nil {
		t.Fatal(err)
	}
	if string(ctx.InputPayload) != `{"i":0}` {
		t.Errorf("payload of %s = %q, want the first element's", args[0].ExecutionID, ctx.InputPayload)
	}
}

// A batch that fails half-way inside the caller's transaction leaves none
// of its executions there, even when the caller commits anyway.
func TestCreateExecutionsTxAllOrNothing(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	app := appDB(t, e)
	// A trigger makes the second element fail at insert time, after the
	// first was written (validation cannot catch it).
	if _, err := app.ExecContext(e.ctx, `CREATE TRIGGER boom BEFORE INSERT ON ff_exec_core
		WHEN NEW.execution_kind = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END`); err != nil {
		t.Fatal(err)
	}
	args := batchArgs("orders", 2)
	args[0].IdempotencyKey = "first" // inserted on its own, before the failing one
	args[1].ExecutionKind = "boom"

	tx, err := app.BeginTx(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(e.ctx, `INSERT INTO app_orders (id, execution_id) VALUES (1, 'x')`); err != nil {
		t.Fatal(err)
	}
	_, err = e.b.CreateExecutionsTx(e.ctx, tx, args)
	requireErr(t, "failing batch", err, backend.ErrTransport)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, app, `SELECT count(*) FROM app_orders`); n != 1 {
		t.Errorf("app rows = %d, want 1 (the caller's own write commits)", n)
	}
	if st, err := e.b.ReadExecutionState(e.ctx, args[0].ExecutionID); err != nil || st != nil {
		t.Errorf("first element after a failed batch: state %v, err %v; want nil, nil", st, err)
	}
}
