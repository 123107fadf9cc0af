package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/flowfabric/ffsqlite/dbgen"
	"github.com/flowfabric/ffsqlite/migrations"
	"github.com/flowfabric/ffsqlite/scanners"
)

// devModeBanner is logged once per fresh construction (spec 01 §1.7).
const devModeBanner = "FlowFabric SQLite backend active (FF_DEV_MODE=1). This backend is dev-only; single-writer, single-process, not supported in production. See RFC-023."

// busyTimeoutMS is how long SQLite itself waits on a lock before reporting
// SQLITE_BUSY; the write helper's retries sit on top of it.
const busyTimeoutMS = 5000

// database is the state shared by every *SQLiteBackend opened on one
// database in this process: connections, prepared queries, the clock, the
// wake-up notifier and the scanner slot.
type database struct {
	key    string
	memory bool
	wal    bool

	// writer has exactly one connection whose transactions begin with
	// BEGIN IMMEDIATE, so SQLite's single writer is never contended
	// in-process and read-to-write lock upgrades cannot deadlock.
	writer *sql.DB
	// reader serves reads (query_only). For memory databases it is the
	// writer: a shared-cache memory database has table-level locks that
	// would turn concurrent readers into SQLITE_LOCKED faults.
	reader *sql.DB
	// sentinel keeps a memory database alive while the pools recycle
	// their connections.
	sentinel *sql.Conn
	sentDB   *sql.DB

	writes writeQueue     // callers waiting for the writer (group commit)
	ckpt   *checkpointer  // background WAL checkpoints (nil without WAL)
	ops    savepointStmts // a group's per-body savepoint statements, prepared once
	lanes  knownLanes     // lanes registered by committed writes
	wq     *dbgen.Queries // statements prepared once on the writer
	rq     *dbgen.Queries // statements prepared once on the reader

	clock  Clock
	log    *slog.Logger
	notify *notifier
	subs   subscriptionSet // live event subscriptions (subscribe.go)

	refs int // guarded by registry.mu

	scannerMu  sync.Mutex
	scannerSet bool
	supervisor *scanners.Supervisor
	scannerCfg *scanners.Config // the installed supervisor's (scanner_settings.go)
}

// backendRegistry maps a registry key to its open database (spec 01 §1.4).
type backendRegistry struct {
	mu   sync.Mutex
	open map[string]*database
}

var registry = &backendRegistry{open: map[string]*database{}}

func (r *backendRegistry) acquire(ctx context.Context, path string, opts Options) (*database, error) {
	target, key, memory, err := classifyPath(path)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if db, ok := r.open[key]; ok {
		db.refs++
		return db, nil
	}
	// Building under the lock keeps two first openers of one path from
	// both migrating it; construction is rare and fast.
	db, err := openDatabase(ctx, path, target, key, memory, opts)
	if err != nil {
		return nil, err
	}
	db.refs = 1
	r.open[key] = db
	return db, nil
}

func (r *backendRegistry) release(db *database) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	db.refs--
	if db.refs > 0 {
		return nil
	}
	if r.open[db.key] == db {
		delete(r.open, db.key)
	}
	// Closing under the lock: an open of the same key meanwhile must build
	// a fresh database, never attach to this one while it is torn down.
	return db.close()
}

// classifyPath applies spec 01 §1.3: it returns the target to open, the
// registry key and whether the database lives in memory. Unlike the
// original, a file that does not exist yet keys by the canonical path it
// will have rather than by the raw text, so the key does not change when
// the first open creates the file.
func classifyPath(path string) (target, key string, memory bool, err error) {
	if path == "" {
		return "", "", false, constructionError(SubKindBackendProtocol, `sqlite connect-opts parse for "": empty path`)
	}
	if isMemoryPath(path) {
		target = path
		if path == ":memory:" {
			// Every pooled connection must see the same database.
			target = "file::memory:?cache=shared"
		}
		return target, target, true, nil
	}
	key = path
	if !strings.HasPrefix(path, "file:") {
		if canonical, ok := canonicalPath(path); ok {
			key = canonical
		}
		// A plain path becomes a URI so that '?' or '#' in a file name are
		// not read as parameters.
		target = "file:" + (&url.URL{Path: path}).EscapedPath()
		return target, key, false, nil
	}
	if canonical, ok := canonicalPath(strings.TrimPrefix(strings.SplitN(path, "?", 2)[0], "file:")); ok {
		key = canonical
	}
	return path, key, false, nil
}

// canonicalPath returns p as an absolute path with symlinks resolved. A
// file that does not exist yet is resolved through its directory, so its
// key is the same before and after the first open creates it (otherwise a
// second open would get a second inner state on the same file). ok is
// false when p cannot be resolved (empty, or its directory is missing);
// the raw path is the key then.
func canonicalPath(p string) (_ string, ok bool) {
	if p == "" {
		return "", false
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", false
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, true
	}
	if _, err := os.Lstat(abs); !errors.Is(err, fs.ErrNotExist) {
		return "", false // e.g. a dangling symlink
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return "", false
	}
	return filepath.Join(dir, filepath.Base(abs)), true
}

// isMemoryPath is the in-memory test of spec 01 §1.3.
func isMemoryPath(path string) bool {
	switch {
	case path == ":memory:", strings.HasPrefix(path, "file::memory:"):
		return true
	case !strings.HasPrefix(path, "file:"):
		return false
	}
	_, query, ok := strings.Cut(path, "?")
	if !ok {
		return false
	}
	query, _, _ = strings.Cut(query, "#")
	for _, piece := range strings.Split(query, "&") {
		if piece == "mode=memory" {
			return true
		}
	}
	return false
}

// dsn appends the driver parameters to target. Every connection of a pool
// runs the PRAGMAs, not only the first.
func dsn(target string, pragmas []string, extra ...string) string {
	params := make([]string, 0, len(pragmas)+len(extra))
	for _, p := range pragmas {
		params = append(params, "_pragma="+url.QueryEscape(p))
	}
	params = append(params, extra...)
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	return target + sep + strings.Join(params, "&")
}

func openDatabase(ctx context.Context, path, target, key string, memory bool, opts Options) (_ *database, err error) {
	poolSize := opts.PoolSize
	if poolSize <= 0 {
		poolSize = PoolSizeDefault
	}
	wal := !memory && (opts.WAL == nil || *opts.WAL)
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	clock := opts.Clock
	if clock == nil {
		clock = SystemClock{}
	}
	db := &database{key: key, memory: memory, wal: wal, clock: clock, log: logger, notify: newNotifier()}
	defer func() {
		if err != nil {
			db.close()
		}
	}()

	pragmas := []string{fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS), "foreign_keys(1)"}
	if wal {
		// NORMAL under WAL never corrupts and loses nothing on a process
		// crash; only an OS crash can roll back the last commits.
		// A larger auto-checkpoint interval writes each hot page back once
		// per interval instead of many times (bench S1: +17% cycles/s at one
		// worker, p99 12.5 ms -> 1.7 ms); the WAL grows to ~32 MB between
		// restarts. The background checkpointer (checkpoint.go) does most of
		// the copying; the writer's auto-checkpoint is the backstop.
		pragmas = append(pragmas, "journal_mode(WAL)", "synchronous(NORMAL)", "wal_autocheckpoint(8000)")
	}
	// The writer's page cache holds the hot index pages of a large queue
	// (the default 2 MB makes every insert into the random-keyed id
	// indexes re-read pages from the OS once the queue outgrows it).
	// temp_store MEMORY keeps the statement and savepoint journals in
	// memory: on disk, every group-commit transaction past 64 KiB of
	// journalled pages opened, wrote and deleted a temporary file
	// (strace of 1000 BuildFlows: 768 opens and ~6,000 pwrites fewer).
	writerPragmas := []string{"cache_size(-65536)", "temp_store(MEMORY)"}
	connectFail := func(what string, cause error) error {
		return constructionError(SubKindBackendTransport, fmt.Sprintf("sqlite %s connect for %q: %v", what, path, cause))
	}

	if memory {
		// The sentinel is its own one-connection handle so it never takes
		// a slot of the pool; held open, it keeps the database alive.
		if db.sentDB, err = sql.Open("sqlite", dsn(target, pragmas)); err != nil {
			return nil, constructionError(SubKindBackendProtocol, fmt.Sprintf("sqlite connect-opts parse for %q: %v", path, err))
		}
		if db.sentinel, err = db.sentDB.Conn(ctx); err != nil {
			return nil, connectFail("sentinel", err)
		}
	}
	if db.writer, err = sql.Open("sqlite", dsn(target, append(slices.Clone(pragmas), writerPragmas...), "_txlock=immediate")); err != nil {
		return nil, constructionError(SubKindBackendProtocol, fmt.Sprintf("sqlite connect-opts parse for %q: %v", path, err))
	}
	db.writer.SetMaxOpenConns(1)
	db.writer.SetMaxIdleConns(1)
	db.writer.SetConnMaxLifetime(0)
	db.writer.SetConnMaxIdleTime(0)
	if err = db.writer.PingContext(ctx); err != nil {
		return nil, connectFail("pool", err)
	}
	if err = verifyPragmas(ctx, db.writer, wal); err != nil {
		return nil, err
	}
	if memory {
		db.reader = db.writer
	} else {
		if db.reader, err = sql.Open("sqlite", dsn(target, append(pragmas, "query_only(1)"))); err != nil {
			return nil, constructionError(SubKindBackendProtocol, fmt.Sprintf("sqlite connect-opts parse for %q: %v", path, err))
		}
		db.reader.SetMaxOpenConns(poolSize)
		db.reader.SetMaxIdleConns(poolSize)
		db.reader.SetConnMaxIdleTime(0)
		if err = db.reader.PingContext(ctx); err != nil {
			return nil, connectFail("pool", err)
		}
	}

	if wal {
		if db.ckpt, err = startCheckpointer(ctx, target, pragmas); err != nil {
			return nil, connectFail("checkpointer", err)
		}
	}

	logger.Warn(devModeBanner)

	if err = migrate(ctx, db.writer); err != nil {
		return nil, constructionError(SubKindBackendProtocol, fmt.Sprintf("sqlite migrate for %q: %v", path, err))
	}
	if err = verifyWritable(ctx, db.writer); err != nil {
		return nil, constructionError(SubKindBackendTransport, fmt.Sprintf("sqlite %q is not writable: %v", path, err))
	}
	if db.wq, err = dbgen.Prepare(ctx, db.writer); err != nil {
		return nil, constructionError(SubKindBackendProtocol, fmt.Sprintf("sqlite prepare for %q: %v", path, err))
	}
	if err = db.ops.prepare(ctx, db.writer); err != nil {
		return nil, constructionError(SubKindBackendProtocol, fmt.Sprintf("sqlite prepare for %q: %v", path, err))
	}
	if memory {
		db.rq = db.wq
	} else if db.rq, err = dbgen.Prepare(ctx, db.reader); err != nil {
		return nil, constructionError(SubKindBackendProtocol, fmt.Sprintf("sqlite prepare for %q: %v", path, err))
	}
	if opts.WaitpointHMACSecret != nil {
		b := &SQLiteBackend{db: db}
		if _, err = b.SeedWaitpointHMACSecret(ctx, *opts.WaitpointHMACSecret); err != nil {
			return nil, fmt.Errorf("seed waitpoint hmac secret: %w", err)
		}
	}
	return db, nil
}

// verifyWritable writes one page and rolls it back: SQLite opens a file
// it may not write read-only without a word (even BEGIN IMMEDIATE
// succeeds), and every write would then fail long after construction said
// yes. It runs after migrate, so the goose table exists.
func verifyWritable(ctx context.Context, writer *sql.DB) error {
	tx, err := writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // the probe is always rolled back
	_, err = tx.ExecContext(ctx, `UPDATE goose_db_version SET is_applied = is_applied WHERE id = (SELECT max(id) FROM goose_db_version)`)
	return err
}

// verifyPragmas reads the connection settings back: a DSN the driver
// silently ignored must fail construction, not run unsafely.
func verifyPragmas(ctx context.Context, conn *sql.DB, wal bool) error {
	var s connSettings
	var err error
	if s, err = readSettings(ctx, conn); err != nil {
		return constructionError(SubKindBackendTransport, fmt.Sprintf("sqlite pragma read-back: %v", err))
	}
	want := connSettings{JournalMode: s.JournalMode, Synchronous: s.Synchronous, BusyTimeoutMS: busyTimeoutMS, ForeignKeys: true}
	if wal {
		want.JournalMode, want.Synchronous = "wal", 1
	}
	if s != want {
		return constructionError(SubKindBackendProtocol, fmt.Sprintf("sqlite pragmas not applied: got %+v, want %+v", s, want))
	}
	return nil
}

// connSettings are one connection's PRAGMAs as SQLite reports them.
type connSettings struct {
	JournalMode   string
	Synchronous   int
	BusyTimeoutMS int
	ForeignKeys   bool
}

// readSettings reads journal_mode, synchronous, busy_timeout and
// foreign_keys from one connection.
func readSettings(ctx context.Context, db *sql.DB) (connSettings, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return connSettings{}, err
	}
	defer conn.Close()
	var s connSettings
	var fk int
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&s.JournalMode); err != nil {
		return s, err
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&s.Synchronous); err != nil {
		return s, err
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&s.BusyTimeoutMS); err != nil {
		return s, err
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return s, err
	}
	s.JournalMode = strings.ToLower(s.JournalMode)
	s.ForeignKeys = fk == 1
	return s, nil
}

// migrate applies every embedded migration with goose's Provider; already
// applied versions are skipped, each file runs in its own transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	p, err := newMigrationProvider(db)
	if err != nil {
		return err
	}
	// A database written by a newer build has versions this one does not
	// know; migrating "up" would silently run old code on a newer schema.
	current, target, err := p.GetVersions(ctx)
	if err != nil {
		return err
	}
	if current > target {
		return fmt.Errorf("schema version %d is newer than this build knows (%d): open it with a newer ffsqlite", current, target)
	}
	_, err = p.Up(ctx)
	return err
}

func newMigrationProvider(db *sql.DB) (*goose.Provider, error) {
	return goose.NewProvider(goose.DialectSQLite3, db, migrations.FS)
}

func (db *database) close() error {
	db.stopScanners(0)
	// Subscriptions get their final catch-up while the pools still work.
	db.subs.end()
	db.notify.shutdown()
	errs := []error{db.ckpt.close()}
	if db.rq != nil && db.rq != db.wq {
		errs = append(errs, db.rq.Close())
	}
	if db.wq != nil {
		errs = append(errs, db.wq.Close())
	}
	errs = append(errs, db.ops.close())
	if db.reader != nil && db.reader != db.writer {
		errs = append(errs, db.reader.Close())
	}
	if db.writer != nil {
		errs = append(errs, db.writer.Close())
	}
	if db.sentinel != nil {
		errs = append(errs, db.sentinel.Close())
	}
	if db.sentDB != nil {
		errs = append(errs, db.sentDB.Close())
	}
	return errors.Join(errs...)
}

func constructionError(sub SubKind, detail string) error {
	return &Error{Kind: KindBackend, SubKind: sub, Detail: detail}
}
