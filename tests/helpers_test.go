// Package tests holds the black-box conformance scenarios: they use only
// the public API of backend and scanners.
package tests

import (
	"bytes"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/flowfabric/ffsqlite/backend"
)

// TestMain sets FF_DEV_MODE=1 for the whole package (make test runs with it
// empty), so tests that call t.Parallel can construct backends. Tests of
// the guard override it with t.Setenv, which restores it when they end;
// such tests must not call t.Parallel.
func TestMain(m *testing.M) {
	if err := os.Setenv(backend.DevModeEnv, "1"); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// requireDevMode makes sure the guard passes. Under TestMain it is already
// set; otherwise (a non-parallel test that cleared it) it is set for the
// rest of t.
func requireDevMode(t *testing.T) {
	t.Helper()
	if os.Getenv(backend.DevModeEnv) != "1" {
		t.Setenv(backend.DevModeEnv, "1")
	}
}

// quietLogger discards the dev-mode banner and scanner warnings.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newFileBackend opens a fresh file database in t.TempDir() driven by a
// FakeClock (at backend.FakeClockStartDefault), with a discarding logger
// and default pool/WAL settings. Close is registered with t.Cleanup. It
// returns the backend, its clock and the database path (open the path
// again to get a second backend on the same database, or with
// database/sql to inspect rows).
func newFileBackend(t *testing.T) (*backend.SQLiteBackend, *backend.FakeClock, string) {
	t.Helper()
	requireDevMode(t)
	path := filepath.Join(t.TempDir(), "ff.db")
	clock := backend.NewFakeClock(backend.FakeClockStartDefault)
	b, err := backend.NewWithOptions(t.Context(), path, backend.Options{Clock: clock, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { closeBackend(t, b) })
	return b, clock, path
}

// newMemoryBackend opens a fresh in-memory database under a unique
// "file:ff-test-<random>?mode=memory&cache=shared" URI (isolated from every
// other test; a bare ":memory:" is one process-wide database), driven by a
// FakeClock, with Close registered with t.Cleanup.
func newMemoryBackend(t *testing.T) (*backend.SQLiteBackend, *backend.FakeClock) {
	t.Helper()
	requireDevMode(t)
	clock := backend.NewFakeClock(backend.FakeClockStartDefault)
	b, err := backend.NewWithOptions(t.Context(), memoryURI(), backend.Options{Clock: clock, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("open memory database: %v", err)
	}
	t.Cleanup(func() { closeBackend(t, b) })
	return b, clock
}

// memoryURI returns a new unique shared-cache in-memory database URI.
func memoryURI() string {
	return "file:ff-test-" + rand.Text() + "?mode=memory&cache=shared"
}

// closeBackend closes b and fails t if Close reports an error.
func closeBackend(t *testing.T, b *backend.SQLiteBackend) {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Errorf("close %v: %v", b, err)
	}
}

// logBuffer is a goroutine-safe bytes.Buffer for capturing a backend's log
// (scanner goroutines may write while the test reads).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// newLogBuffer returns a buffer and a text logger writing into it.
func newLogBuffer() (*logBuffer, *slog.Logger) {
	lb := &logBuffer{}
	return lb, slog.New(slog.NewTextHandler(lb, nil))
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
