package backend

import (
	"context"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/flowfabric/ffsqlite/scanners"
)

// Construction constants.
const (
	// BackendLabelSQLite is what BackendLabel returns.
	BackendLabelSQLite = "sqlite"
	// DevModeEnv must be exactly "1" for any constructor to succeed.
	DevModeEnv = "FF_DEV_MODE"
	// PoolSizeDefault is the reader pool size of New.
	PoolSizeDefault = 4
)

// SQLiteBackend is the SQLite implementation of EngineBackend. Values are
// created by New, NewWithTuning or NewWithOptions and are safe for
// concurrent use. All backends opened on the same database in one process
// share one inner state (connections, in-process wake-ups, scanner
// supervisor), so events committed through one are seen by subscribers of
// another.
type SQLiteBackend struct {
	db     *database
	closed atomic.Bool
}

// Options configures NewWithOptions. The zero value equals New's defaults.
type Options struct {
	// Clock supplies now (nil = SystemClock).
	Clock Clock
	// Logger receives the dev-mode banner, scanner warnings and
	// migration logs (nil = slog.Default()).
	Logger *slog.Logger
	// PoolSize is the reader pool size (<= 0 = PoolSizeDefault); the
	// writer always has one connection.
	PoolSize int
	// WAL enables journal_mode=WAL for file databases (nil = true; ignored
	// for in-memory databases).
	WAL *bool
	// WaitpointHMACSecret, when non-nil, is seeded right after migrations
	// with SeedWaitpointHMACSecret semantics (an already-seeded kid is
	// fine; a different active kid fails construction).
	WaitpointHMACSecret *SeedWaitpointHMACSecretArgs
}

// New opens (creating if needed) the database at path with default
// options. path is a file path, ":memory:" (every ":memory:" in a process
// is the same shared database while open), or a "file:…" URI such as
// "file:<name>?mode=memory&cache=shared". It refuses with
// ErrRequiresDevMode unless FF_DEV_MODE is exactly "1", logs a one-time
// dev-only WARN banner and applies all migrations. Within one process,
// opening a path that is already open returns a new *SQLiteBackend sharing
// the open database's inner state; the first opener's options win (later
// options, Clock included, are ignored). Other construction failures are
// KindBackend errors with sub-kind protocol (bad path, migration) or
// transport (connect).
func New(ctx context.Context, path string) (*SQLiteBackend, error) {
	return NewWithOptions(ctx, path, Options{})
}

// NewWithTuning is New with an explicit reader pool size (<= 0 = 1) and
// WAL switch.
func NewWithTuning(ctx context.Context, path string, poolSize int, walMode bool) (*SQLiteBackend, error) {
	return NewWithOptions(ctx, path, Options{PoolSize: max(poolSize, 1), WAL: &walMode})
}

// NewWithOptions is New with Options.
func NewWithOptions(ctx context.Context, path string, opts Options) (*SQLiteBackend, error) {
	// The guard runs before anything else, registry hits included, so
	// removing the variable is felt by the very next constructor call.
	if os.Getenv(DevModeEnv) != "1" {
		return nil, &Error{Kind: KindBackend, SubKind: SubKindRequiresDevMode, Detail: RequiresDevModeMessage}
	}
	db, err := registry.acquire(ctx, path, opts)
	if err != nil {
		return nil, err
	}
	return &SQLiteBackend{db: db}, nil
}

// Close releases this backend's reference to the shared database; the
// last Close of a database stops its scanners, ends its subscriptions
// (after a final catch-up) and closes its connections. Close is
// idempotent per *SQLiteBackend and never affects other backends on the
// same database. Methods called after Close return ErrUnavailable.
func (b *SQLiteBackend) Close() error {
	if b == nil || !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	return registry.release(b.db)
}

// live returns the shared database, or ErrUnavailable once this backend
// was closed. Every storage method starts with it.
func (b *SQLiteBackend) live(op string) (*database, error) {
	if b == nil || b.closed.Load() {
		return nil, &Error{Kind: KindUnavailable, Op: op, Detail: "backend is closed"}
	}
	return b.db, nil
}

// WithScanners installs the scanner supervisor with cfg, once per database:
// the first call returns true; every later call (any backend on the same
// database, any cfg, even after ShutdownPrepare) returns false and starts
// nothing. Reconcilers first run one interval after installation.
func (b *SQLiteBackend) WithScanners(cfg scanners.Config) bool {
	if b == nil || b.closed.Load() {
		return false
	}
	return b.db.installScanners(cfg, scannerRunner{b.db})
}

// RunScannerOnce runs one tick of job at the Clock's current time, whether
// or not the supervisor is installed (tests advance a FakeClock, then call
// this). It is safe to call concurrently with a running supervisor.
func (b *SQLiteBackend) RunScannerOnce(ctx context.Context, job scanners.Job) (scanners.TickResult, error) {
	db, err := b.live("run_scanner_once")
	if err != nil {
		return scanners.TickResult{}, err
	}
	return scannerRunner{db}.RunOnce(ctx, job)
}

// String renders "SqliteBackend{key: <registry key>}".
func (b *SQLiteBackend) String() string {
	return "SqliteBackend{key: " + b.db.key + "}"
}
