package tests

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "modernc.org/sqlite" // the "sqlite" driver, for the raw read-only view

	"github.com/flowfabric/ffsqlite/backend"
)

// execEnv is an open file-backed backend on a fake clock, with helpers for
// the execution scenarios.
type execEnv struct {
	t     *testing.T
	ctx   context.Context
	b     *backend.SQLiteBackend
	clock *backend.FakeClock // nil when the backend runs on the system clock
	path  string

	rawOnce sync.Once
	rawDB   *sql.DB
	rawErr  error
}

// newExecEnv opens a fresh file database driven by a FakeClock at
// backend.FakeClockStartDefault. It may be called after t.Parallel.
func newExecEnv(t *testing.T) *execEnv {
	t.Helper()
	clock := backend.NewFakeClock(time.Time{})
	e := newExecEnvWith(t, backend.Options{Clock: clock})
	e.clock = clock
	return e
}

// newExecEnvWith opens a fresh file database with opts (a nil Logger
// discards the log).
func newExecEnvWith(t *testing.T, opts backend.Options) *execEnv {
	t.Helper()
	// TestMain normally sets FF_DEV_MODE=1 for the package. t.Setenv would
	// panic in a parallel test, so set it process-wide if it is missing:
	// the tests that exercise the guard override it with t.Setenv
	// themselves and never run in parallel with this.
	if os.Getenv(backend.DevModeEnv) != "1" {
		if err := os.Setenv(backend.DevModeEnv, "1"); err != nil {
			t.Fatal(err)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	path := filepath.Join(t.TempDir(), "ff.db")
	tpl, err := migratedTemplate()
	if err != nil {
		t.Fatalf("template database: %v", err)
	}
	if err := os.WriteFile(path, tpl, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := backend.NewWithOptions(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("open backend: %v", err)
	}
	e := &execEnv{t: t, ctx: context.Background(), b: b, path: path}
	// Cleanups run last-registered first: close the raw view, then the
	// backend.
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close backend: %v", err)
		}
	})
	t.Cleanup(func() {
		if e.rawDB != nil {
			e.rawDB.Close()
		}
	})
	return e
}

// execTemplate holds a freshly migrated database file, made once per test
// binary. Every env starts from a copy: opening it still runs the
// backend's migration check, but not the migrations themselves, which
// under -race cost about 0.3 s per database (the migrations are covered by
// the construction and migration tests).
var execTemplate struct {
	once sync.Once
	data []byte
	err  error
}

func migratedTemplate() ([]byte, error) {
	execTemplate.once.Do(func() {
		dir, err := os.MkdirTemp("", "ffsqlite-template-")
		if err != nil {
			execTemplate.err = err
			return
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "template.db")
		// Rollback journal, so after Close the whole database is in the
		// one file; copies switch to WAL when opened.
		b, err := backend.NewWithOptions(context.Background(), path, backend.Options{
			Logger: slog.New(slog.DiscardHandler), WAL: backend.Ptr(false),
		})
		if err != nil {
			execTemplate.err = err
			return
		}
		if err := b.Close(); err != nil {
			execTemplate.err = err
			return
		}
		execTemplate.data, execTemplate.err = os.ReadFile(path)
	})
	return execTemplate.data, execTemplate.err
}

// create creates an execution on lane with args adjusted by mod.
func (e *execEnv) create(lane backend.LaneID, mod func(*backend.CreateExecutionArgs)) backend.ExecutionID {
	e.t.Helper()
	args := backend.CreateExecutionArgs{
		ExecutionID:   backend.NewExecutionID(),
		LaneID:        lane,
		Namespace:     "test",
		ExecutionKind: "kind",
		InputPayload:  []byte("in"),
	}
	if mod != nil {
		mod(&args)
	}
	res, err := e.b.CreateExecution(e.ctx, args)
	if err != nil {
		e.t.Fatalf("CreateExecution: %v", err)
	}
	return res.ExecutionID
}

// workerPolicy is the claim policy of worker instance inst: a 30 s lease.
func workerPolicy(inst string) backend.ClaimPolicy {
	return backend.ClaimPolicy{LeaseTTL: 30 * time.Second, WorkerID: "w", WorkerInstanceID: backend.WorkerInstanceID(inst)}
}

// claim claims from lane with the given capabilities and a 30 s lease.
func (e *execEnv) claim(lane backend.LaneID, caps ...string) *backend.Handle {
	e.t.Helper()
	h, err := e.b.Claim(e.ctx, lane, backend.CapabilitySet{Tokens: caps}, workerPolicy("w-1"))
	if err != nil {
		e.t.Fatalf("Claim: %v", err)
	}
	return h
}

// mustClaim is claim that fails the test when nothing was claimed.
func (e *execEnv) mustClaim(lane backend.LaneID, caps ...string) backend.Handle {
	e.t.Helper()
	h := e.claim(lane, caps...)
	if h == nil {
		e.t.Fatalf("Claim(%s): nothing claimable", lane)
	}
	return *h
}

// mustClaimAs claims from lane (no capabilities) with policy p and fails
// the test when nothing was claimed.
func (e *execEnv) mustClaimAs(lane backend.LaneID, p backend.ClaimPolicy) backend.Handle {
	e.t.Helper()
	h, err := e.b.Claim(e.ctx, lane, backend.CapabilitySet{}, p)
	if err != nil || h == nil {
		e.t.Fatalf("Claim(%s) as %s = %v, %v; want a handle", lane, p.WorkerInstanceID, h, err)
	}
	return *h
}

// state reads the public state of id.
func (e *execEnv) state(id backend.ExecutionID) backend.PublicState {
	e.t.Helper()
	ps, err := e.b.ReadExecutionState(e.ctx, id)
	if err != nil || ps == nil {
		e.t.Fatalf("ReadExecutionState(%s) = %v, %v", id, ps, err)
	}
	return *ps
}

// info reads the full legacy view of id, which must exist.
func (e *execEnv) info(id backend.ExecutionID) backend.ExecutionInfo {
	e.t.Helper()
	info, err := e.b.ReadExecutionInfo(e.ctx, id)
	if err != nil || info == nil {
		e.t.Fatalf("ReadExecutionInfo(%s) = %v, %v", id, info, err)
	}
	return *info
}

// describe reads the snapshot of id, which must exist.
func (e *execEnv) describe(id backend.ExecutionID) backend.ExecutionSnapshot {
	e.t.Helper()
	s, err := e.b.DescribeExecution(e.ctx, id)
	if err != nil || s == nil {
		e.t.Fatalf("DescribeExecution(%s) = %v, %v", id, s, err)
	}
	return *s
}

// now is the fake clock's time.
func (e *execEnv) now() time.Time {
	e.t.Helper()
	if e.clock == nil {
		e.t.Fatal("now: this env runs on the system clock")
	}
	return e.clock.Now()
}

// raw is a read-only database/sql connection to the backend's file, for
// the few facts the API does not expose and for "nothing changed" checks.
func (e *execEnv) raw() *sql.DB {
	e.t.Helper()
	e.rawOnce.Do(func() {
		dsn := "file:" + (&url.URL{Path: e.path}).EscapedPath() + "?_pragma=busy_timeout(5000)&_pragma=query_only(1)"
		e.rawDB, e.rawErr = sql.Open("sqlite", dsn)
	})
	if e.rawErr != nil {
		e.t.Fatalf("open raw view: %v", e.rawErr)
	}
	return e.rawDB
}

// dbDump is every row of every table, rendered as text and sorted per
// table.
type dbDump map[string][]string

// dump reads the whole database through the raw view.
func (e *execEnv) dump() dbDump {
	e.t.Helper()
	db := e.raw()
	rows, err := db.QueryContext(e.ctx, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
	if err != nil {
		e.t.Fatalf("dump: list tables: %v", err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			e.t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Close(); err != nil {
		e.t.Fatal(err)
	}
	if len(tables) == 0 {
		e.t.Fatal("dump: no tables")
	}
	out := dbDump{}
	for _, table := range tables {
		out[table] = e.dumpTable(table)
	}
	return out
}

func (e *execEnv) dumpTable(table string) []string {
	e.t.Helper()
	rows, err := e.raw().QueryContext(e.ctx, `SELECT * FROM "`+table+`"`)
	if err != nil {
		e.t.Fatalf("dump %s: %v", table, err)
	}
	return renderRows(e.t, rows)
}

// renderRows reads and closes rows, rendering each as "col=value ..."
// (blobs quoted, NULL spelled out) and returning the lines sorted.
func renderRows(t *testing.T, rows *sql.Rows) []string {
	t.Helper()
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(cols))
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
				parts[i] = cols[i] + "=NULL"
			case []byte:
				parts[i] = fmt.Sprintf("%s=x%q", cols[i], v)
			default:
				parts[i] = fmt.Sprintf("%s=%v", cols[i], v)
			}
		}
		lines = append(lines, strings.Join(parts, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return lines
}

// requireUnchanged fails the test when the database differs from before.
func (e *execEnv) requireUnchanged(before dbDump, what string) {
	e.t.Helper()
	if diff := cmp.Diff(before, e.dump()); diff != "" {
		e.t.Fatalf("%s changed the database (-before +after)\n%s", what, diff)
	}
}

// rawExecColumn reads one column of id's ff_exec_core row (nil for NULL).
func (e *execEnv) rawExecColumn(id backend.ExecutionID, column string) any {
	e.t.Helper()
	var v any
	err := e.raw().QueryRowContext(e.ctx, `SELECT "`+column+`" FROM ff_exec_core WHERE execution_id = ?`, string(id)).Scan(&v)
	if err != nil {
		e.t.Fatalf("read ff_exec_core.%s of %s: %v", column, id, err)
	}
	return v
}

// requireErr fails the test unless errors.Is(err, target).
func requireErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

// notFoundAttempt is the error target of a handle whose attempt does not
// exist.
var notFoundAttempt = &backend.Error{Kind: backend.KindNotFound, Entity: backend.EntityAttempt}

// openRaw opens the database file read-only with database/sql, for
// asserting on rows the API does not expose (outbox tables).
func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}
