package tests

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

// Construction and lifecycle (spec 01 §1, API.md §2 and §4.12). Tests that
// change FF_DEV_MODE with t.Setenv must not call t.Parallel.

// devModeBanner is the WARN line of spec 01 §1.7.
const devModeBanner = "FlowFabric SQLite backend active (FF_DEV_MODE=1). This backend is dev-only; single-writer, single-process, not supported in production. See RFC-023."

// open opens path with opts (a discarding logger unless opts has one) and
// registers Close with t.Cleanup; a second Close by the test is harmless.
func open(t *testing.T, path string, opts backend.Options) *backend.SQLiteBackend {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	b, err := backend.NewWithOptions(t.Context(), path, opts)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { closeBackend(t, b) })
	return b
}

// tryCreateExecution creates an execution through b. It reports false when
// CreateExecution or ReadExecutionState is not implemented yet, so that the
// data-level checks below switch on as soon as they are.
func tryCreateExecution(t *testing.T, b *backend.SQLiteBackend) (backend.ExecutionID, bool) {
	t.Helper()
	id := backend.NewExecutionID()
	_, err := b.CreateExecution(t.Context(), backend.CreateExecutionArgs{
		ExecutionID:   id,
		ExecutionKind: "construction_test",
		LaneID:        "default",
		Namespace:     "tests",
	})
	if errors.Is(err, backend.ErrUnavailable) {
		t.Log("CreateExecution is not implemented yet: data-level checks skipped")
		return "", false
	}
	if err != nil {
		t.Fatalf("CreateExecution: %v", err)
	}
	if _, err := b.ReadExecutionState(t.Context(), id); errors.Is(err, backend.ErrUnavailable) {
		t.Log("ReadExecutionState is not implemented yet: data-level checks skipped")
		return "", false
	}
	return id, true
}

// hasExecution reports whether id exists in b's database.
func hasExecution(t *testing.T, b *backend.SQLiteBackend, id backend.ExecutionID) bool {
	t.Helper()
	st, err := b.ReadExecutionState(t.Context(), id)
	if err != nil {
		t.Fatalf("ReadExecutionState: %v", err)
	}
	return st != nil
}

func TestDevModeGuard(t *testing.T) {
	// Every value but exactly "1" refuses (spec 01 §1.2).
	refusals := []struct {
		name  string
		value string
		unset bool
	}{
		{name: "Unset", unset: true},
		{name: "Empty", value: ""},
		{name: "Zero", value: "0"},
		{name: "True", value: "true"},
		{name: "LeadingSpace", value: " 1"},
		{name: "TrailingSpace", value: "1 "},
		{name: "LeadingZero", value: "01"},
	}
	constructors := []struct {
		name string
		open func(ctx context.Context, path string, opts backend.Options) (*backend.SQLiteBackend, error)
	}{
		{"New", func(ctx context.Context, path string, _ backend.Options) (*backend.SQLiteBackend, error) {
			return backend.New(ctx, path)
		}},
		{"NewWithTuning", func(ctx context.Context, path string, _ backend.Options) (*backend.SQLiteBackend, error) {
			return backend.NewWithTuning(ctx, path, 2, false)
		}},
		{"NewWithOptions", backend.NewWithOptions},
	}
	for _, tt := range refusals {
		t.Run("Err"+tt.name, func(t *testing.T) {
			t.Setenv(backend.DevModeEnv, tt.value)
			if tt.unset {
				os.Unsetenv(backend.DevModeEnv) // t.Setenv restores it afterwards
			}
			dir := t.TempDir()
			for _, c := range constructors {
				for _, path := range []string{filepath.Join(dir, "ff.db"), ":memory:", memoryURI()} {
					logs, logger := newLogBuffer()
					b, err := c.open(t.Context(), path, backend.Options{Logger: logger})
					if b != nil {
						t.Errorf("%s(%q) returned a backend", c.name, path)
						b.Close()
					}
					if !errors.Is(err, backend.ErrRequiresDevMode) {
						t.Errorf("%s(%q): err = %v, want ErrRequiresDevMode", c.name, path, err)
						continue
					}
					if got := err.Error(); got != backend.RequiresDevModeMessage {
						t.Errorf("%s(%q): Error() = %q, want %q", c.name, path, got, backend.RequiresDevModeMessage)
					}
					if logs.String() != "" {
						t.Errorf("%s(%q) logged on refusal: %s", c.name, path, logs)
					}
				}
			}
			// No file at all: not the database, not its -wal/-shm.
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 0 {
				t.Errorf("refused construction created files: %v", entries)
			}
		})
	}

	t.Run("One", func(t *testing.T) {
		t.Setenv(backend.DevModeEnv, "1")
		path := filepath.Join(t.TempDir(), "ff.db")
		for _, c := range constructors {
			b, err := c.open(t.Context(), path, backend.Options{Logger: quietLogger()})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if err := b.Ping(t.Context()); err != nil {
				t.Errorf("%s: Ping: %v", c.name, err)
			}
			closeBackend(t, b)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("database file not created: %v", err)
		}
	})

	t.Run("ErrCheckedOnRegistryHit", func(t *testing.T) {
		t.Setenv(backend.DevModeEnv, "1")
		path := filepath.Join(t.TempDir(), "ff.db")
		first := open(t, path, backend.Options{})
		mem := open(t, ":memory:", backend.Options{})

		t.Setenv(backend.DevModeEnv, "0")
		for _, p := range []string{path, ":memory:"} {
			b, err := backend.New(t.Context(), p)
			if b != nil || !errors.Is(err, backend.ErrRequiresDevMode) {
				t.Errorf("New(%q) with the database open = (%v, %v), want ErrRequiresDevMode", p, b, err)
			}
		}
		// The refusal took no reference and broke nothing.
		for _, b := range []*backend.SQLiteBackend{first, mem} {
			if err := b.Ping(t.Context()); err != nil {
				t.Errorf("Ping %v: %v", b, err)
			}
		}
	})
}

func TestConstructionErrors(t *testing.T) {
	t.Parallel()

	t.Run("ErrMissingDirectory", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "missing")
		path := filepath.Join(dir, "ff.db")
		b, err := backend.NewWithOptions(t.Context(), path, backend.Options{Logger: quietLogger()})
		if b != nil {
			b.Close()
		}
		if !errors.Is(err, &backend.Error{Kind: backend.KindBackend, SubKind: backend.SubKindBackendTransport}) {
			t.Fatalf("err = %v, want a backend transport error", err)
		}
		// A failed construction leaves nothing behind in the registry.
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		b = open(t, path, backend.Options{})
		if err := b.Ping(t.Context()); err != nil {
			t.Errorf("Ping after fixing the path: %v", err)
		}
	})

	t.Run("ErrNotADatabase", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "junk.db")
		junk := []byte("this is not an SQLite database, and must not be replaced by one\n")
		if err := os.WriteFile(path, junk, 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := backend.NewWithOptions(t.Context(), path, backend.Options{Logger: quietLogger()})
		if b != nil {
			b.Close()
		}
		if !errors.Is(err, backend.ErrBackend) {
			t.Fatalf("err = %v, want a KindBackend construction error", err)
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != string(junk) {
			t.Fatalf("the file was changed: %q, %v", got, err)
		}
	})

	t.Run("ErrNewerSchema", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "ff.db")
		closeBackend(t, open(t, path, backend.Options{}))
		raw, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (9999, 1)`); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		b, err := backend.NewWithOptions(t.Context(), path, backend.Options{Logger: quietLogger()})
		if b != nil {
			b.Close()
		}
		if !errors.Is(err, &backend.Error{Kind: backend.KindBackend, SubKind: backend.SubKindBackendProtocol}) {
			t.Fatalf("err = %v, want a backend protocol error naming the newer schema", err)
		}
	})

	t.Run("ErrReadOnlyFile", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "ro.db")
		closeBackend(t, open(t, path, backend.Options{}))
		before, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		makeReadOnly(t, path)
		b, err := backend.NewWithOptions(t.Context(), path, backend.Options{Logger: quietLogger()})
		if b != nil {
			b.Close()
		}
		if !errors.Is(err, backend.ErrBackend) {
			t.Fatalf("err = %v, want a KindBackend construction error", err)
		}
		if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
			t.Fatalf("the read-only file changed (read err %v)", err)
		}
	})

	t.Run("ErrEmptyPath", func(t *testing.T) {
		t.Parallel()
		b, err := backend.New(t.Context(), "")
		if b != nil {
			b.Close()
		}
		if !errors.Is(err, &backend.Error{Kind: backend.KindBackend, SubKind: backend.SubKindBackendProtocol}) {
			t.Errorf("err = %v, want a backend protocol error", err)
		}
	})
}

func TestRegistryFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, _, path := newFileBackend(t)
	canonical, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}

	logs, logger := newLogBuffer()
	b := open(t, path, backend.Options{Logger: logger})
	if got, want := b.String(), "SqliteBackend{key: "+canonical+"}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if a.String() != b.String() {
		t.Errorf("two backends on one file: %q != %q", a, b)
	}
	if strings.Contains(logs.String(), devModeBanner) {
		t.Error("a registry hit logged the dev-mode banner")
	}
	if id, ok := tryCreateExecution(t, a); ok && !hasExecution(t, b, id) {
		t.Error("an execution created through one backend is not visible through the other")
	}

	// Close is per backend and idempotent: closing a twice must not drop
	// b's reference.
	closeBackend(t, a)
	closeBackend(t, a)
	if err := b.Ping(ctx); err != nil {
		t.Errorf("Ping on the surviving backend: %v", err)
	}
	if _, err := b.Prepare(ctx); err != nil {
		t.Errorf("Prepare on the surviving backend: %v", err)
	}
	c := open(t, path, backend.Options{})
	if c.String() != b.String() {
		t.Errorf("third open: %q != %q", c, b)
	}
}

func TestMethodsAfterClose(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b, _ := newMemoryBackend(t)
	closeBackend(t, b)

	checks := map[string]error{
		"Ping": b.Ping(ctx),
	}
	_, checks["Prepare"] = b.Prepare(ctx)
	_, checks["RunScannerOnce"] = b.RunScannerOnce(ctx, scanners.JobLeaseExpiry)
	_, checks["CreateExecution"] = b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: backend.NewExecutionID(), LaneID: "default"})
	_, checks["ReadExecutionState"] = b.ReadExecutionState(ctx, backend.NewExecutionID())
	for name, err := range checks {
		if !errors.Is(err, backend.ErrUnavailable) {
			t.Errorf("%s after Close: err = %v, want ErrUnavailable", name, err)
		}
	}
	if b.WithScanners(scanners.Config{}) {
		t.Error("WithScanners after Close returned true")
	}
	if err := b.ShutdownPrepare(ctx, time.Second); err != nil {
		t.Errorf("ShutdownPrepare after Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestReopenFileAfterLastClose(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "ff.db")
	first := open(t, path, backend.Options{})
	id, haveData := tryCreateExecution(t, first)
	if !first.WithScanners(scanners.Config{}) {
		t.Fatal("WithScanners on a fresh database returned false")
	}
	closeBackend(t, first)

	// A fresh construction: banner again, migrations re-run over an
	// already-migrated file without error, a new scanner slot.
	logs, logger := newLogBuffer()
	again := open(t, path, backend.Options{Logger: logger})
	if n := strings.Count(logs.String(), devModeBanner); n != 1 {
		t.Errorf("re-open logged the banner %d times, want 1", n)
	}
	if err := again.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if !again.WithScanners(scanners.Config{}) {
		t.Error("WithScanners after re-open returned false: the old inner state survived")
	}
	if haveData && !hasExecution(t, again, id) {
		t.Error("the execution did not survive a close and re-open of the file")
	}
}

func TestRegistryMemory(t *testing.T) {
	t.Run("BareMemoryIsOneDatabase", func(t *testing.T) {
		// Not parallel: every ":memory:" in the process is the same
		// database, so no other test may hold it meanwhile.
		requireDevMode(t)
		const want = "SqliteBackend{key: file::memory:?cache=shared}"
		a := open(t, ":memory:", backend.Options{})
		b := open(t, ":memory:", backend.Options{})
		for _, x := range []*backend.SQLiteBackend{a, b} {
			if got := x.String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
		}
		if !a.WithScanners(scanners.Config{}) {
			t.Error("first WithScanners returned false")
		}
		if b.WithScanners(scanners.Config{}) {
			t.Error("WithScanners through the second \":memory:\" returned true: not the same database")
		}
		id, haveData := tryCreateExecution(t, a)
		if haveData && !hasExecution(t, b, id) {
			t.Error("data written through one \":memory:\" is not visible through another")
		}

		// After the last Close the database is gone.
		closeBackend(t, a)
		closeBackend(t, b)
		c := open(t, ":memory:", backend.Options{})
		if !c.WithScanners(scanners.Config{}) {
			t.Error("WithScanners after the last Close returned false: the old database survived")
		}
		if haveData && hasExecution(t, c, id) {
			t.Error("a new \":memory:\" after the last Close still holds the old data")
		}
	})

	t.Run("DistinctURIsAreIsolated", func(t *testing.T) {
		t.Parallel()
		u1, u2 := memoryURI(), memoryURI()
		a := open(t, u1, backend.Options{})
		b := open(t, u2, backend.Options{})
		if got, want := a.String(), "SqliteBackend{key: "+u1+"}"; got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		if a.String() == b.String() {
			t.Errorf("distinct URIs share a key: %q", a)
		}
		if !a.WithScanners(scanners.Config{}) || !b.WithScanners(scanners.Config{}) {
			t.Error("WithScanners returned false on a fresh isolated database")
		}
		id, haveData := tryCreateExecution(t, a)
		if haveData && hasExecution(t, b, id) {
			t.Error("data written to one memory URI is visible through another")
		}

		// The same URI again is the same database while it is open...
		a2 := open(t, u1, backend.Options{})
		if a2.String() != a.String() || a2.WithScanners(scanners.Config{}) {
			t.Error("re-opening an open memory URI did not share its state")
		}
		if haveData && !hasExecution(t, a2, id) {
			t.Error("re-opening an open memory URI lost its data")
		}
		// ...and a new, empty one after its last Close.
		closeBackend(t, a)
		closeBackend(t, a2)
		fresh := open(t, u1, backend.Options{})
		if !fresh.WithScanners(scanners.Config{}) {
			t.Error("WithScanners after the last Close returned false: the old database survived")
		}
		if haveData && hasExecution(t, fresh, id) {
			t.Error("a memory database re-opened after its last Close is not empty")
		}
	})
}

func TestDevModeBanner(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		path func(t *testing.T) string
	}{
		{"File", func(t *testing.T) string { return filepath.Join(t.TempDir(), "ff.db") }},
		{"Memory", func(*testing.T) string { return memoryURI() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tt.path(t)
			logs, logger := newLogBuffer()
			open(t, path, backend.Options{Logger: logger})
			got := logs.String()
			if n := strings.Count(got, devModeBanner); n != 1 {
				t.Fatalf("fresh construction logged the banner %d times, want 1; log:\n%s", n, got)
			}
			for _, line := range strings.Split(got, "\n") {
				if strings.Contains(line, devModeBanner) && !strings.Contains(line, "level=WARN") {
					t.Errorf("banner not at WARN: %s", line)
				}
			}

			// A registry hit logs nothing, to its own logger or the first.
			hitLogs, hitLogger := newLogBuffer()
			open(t, path, backend.Options{Logger: hitLogger})
			if n := strings.Count(hitLogs.String(), devModeBanner); n != 0 {
				t.Errorf("registry hit logged the banner %d times", n)
			}
			if n := strings.Count(logs.String(), devModeBanner); n != 1 {
				t.Errorf("banner count after a registry hit = %d, want 1", n)
			}
		})
	}
}

func TestSmallMethods(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b, _ := newMemoryBackend(t)

	if err := b.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	out, err := b.Prepare(ctx)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if diff := cmp.Diff(backend.PrepareOutcome{Kind: backend.PrepareNoOp}, out); diff != "" {
		t.Errorf("Prepare (-want +got)\n%s", diff)
	}
	if got := b.BackendLabel(); got != "sqlite" {
		t.Errorf("BackendLabel() = %q, want sqlite", got)
	}
	if got, ok := b.AsAny().(*backend.SQLiteBackend); !ok || got != b {
		t.Errorf("AsAny() = %#v, want the backend itself", b.AsAny())
	}
	var _ backend.EngineBackend = b

	t.Run("ErrCancelledContext", func(t *testing.T) {
		t.Parallel()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := b.Ping(cctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Ping: err = %v, want context.Canceled", err)
		}
		if _, err := b.Prepare(cctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Prepare: err = %v, want context.Canceled", err)
		}
	})
}

func TestCapabilities(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	b, _ := newMemoryBackend(t)
	caps := b.Capabilities()

	// Spec 01 §1.13: tests check family and stage; the version is a
	// package constant.
	wantID := backend.BackendIdentity{Family: "sqlite", RFC017Stage: "Phase-4"}
	if diff := cmp.Diff(wantID, caps.Identity, cmpopts.IgnoreFields(backend.BackendIdentity{}, "Version")); diff != "" {
		t.Errorf("Identity (-want +got)\n%s", diff)
	}
	if caps.Identity.Version != backend.BackendVersion {
		t.Errorf("Version = %+v, want BackendVersion %+v", caps.Identity.Version, backend.BackendVersion)
	}
	if caps.Supports.ClaimForWorker || caps.Supports.SubscribeInstanceTags {
		t.Errorf("ClaimForWorker=%v SubscribeInstanceTags=%v, want both false",
			caps.Supports.ClaimForWorker, caps.Supports.SubscribeInstanceTags)
	}
	if !caps.Supports.Prepare {
		t.Error("Supports.Prepare = false")
	}

	_, claimErr := b.ClaimForWorker(ctx, backend.ClaimForWorkerArgs{})
	_, subErr := b.SubscribeInstanceTags(ctx, nil)
	for _, tt := range []struct {
		err error
		op  string
	}{{claimErr, "claim_for_worker"}, {subErr, "subscribe_instance_tags"}} {
		if !errors.Is(tt.err, backend.ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrUnavailable", tt.op, tt.err)
			continue
		}
		var e *backend.Error
		if !errors.As(tt.err, &e) || e.Op != tt.op {
			t.Errorf("%s: Op = %q, want %q", tt.op, e.Op, tt.op)
		}
		if !errors.Is(tt.err, &backend.Error{Kind: backend.KindUnavailable, Op: tt.op}) {
			t.Errorf("%s: does not match an Unavailable target with Op %q", tt.op, tt.op)
		}
	}
}

func TestWithScanners(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, _, path := newFileBackend(t)
	b := open(t, path, backend.Options{})

	// ShutdownPrepare with nothing installed is a no-op.
	if err := a.ShutdownPrepare(ctx, time.Second); err != nil {
		t.Errorf("ShutdownPrepare before WithScanners: %v", err)
	}
	if !a.WithScanners(scanners.DefaultConfig()) {
		t.Fatal("first WithScanners returned false")
	}
	if a.WithScanners(scanners.DefaultConfig()) {
		t.Error("second WithScanners on the same backend returned true")
	}
	if b.WithScanners(scanners.Config{LeaseExpiryInterval: time.Millisecond}) {
		t.Error("WithScanners from another backend on the same database returned true")
	}

	for i := range 2 {
		if err := b.ShutdownPrepare(ctx, 5*time.Second); err != nil {
			t.Errorf("ShutdownPrepare #%d: %v", i+1, err)
		}
	}
	// The slot is never reset, and the backend stays usable.
	if a.WithScanners(scanners.DefaultConfig()) || b.WithScanners(scanners.Config{}) {
		t.Error("WithScanners after ShutdownPrepare returned true")
	}
	if err := a.Ping(ctx); err != nil {
		t.Errorf("Ping after ShutdownPrepare: %v", err)
	}
	if _, err := a.Prepare(ctx); err != nil {
		t.Errorf("Prepare after ShutdownPrepare: %v", err)
	}
	for _, job := range scanners.Jobs() {
		if _, err := a.RunScannerOnce(ctx, job); err != nil {
			t.Errorf("RunScannerOnce(%s) after ShutdownPrepare: %v", job, err)
		}
	}
	tryCreateExecution(t, a) // fails the test on any error but Unavailable
}

// TestRegistryKeyOfNewFile opens a file that does not exist yet under one
// spelling and then, once it exists, under another: both must share one
// inner state (API.md §2: all backends on one database share it), or
// wake-ups and the scanner slot would split in two.
func TestRegistryKeyOfNewFile(t *testing.T) {
	// Not parallel: t.Chdir.
	requireDevMode(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "real"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)

	for _, tt := range []struct {
		name         string
		first, later string
	}{
		{"Relative", "real/a.db", filepath.Join(dir, "real", "a.db")},
		{"ThroughSymlink", filepath.Join(dir, "link", "b.db"), filepath.Join(dir, "real", "b.db")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			first := open(t, tt.first, backend.Options{})
			later := open(t, tt.later, backend.Options{})
			if first.String() != later.String() {
				t.Errorf("%q then %q: keys differ: %v vs %v", tt.first, tt.later, first, later)
			}
			if want := "SqliteBackend{key: " + tt.later + "}"; later.String() != want {
				t.Errorf("String() = %q, want %q", later, want)
			}
			if !first.WithScanners(scanners.Config{}) || later.WithScanners(scanners.Config{}) {
				t.Error("the two backends do not share one scanner slot")
			}
		})
	}
}

// makeReadOnly makes path unwritable for this process: chmod for a normal
// user; root ignores file modes, so there it sets the immutable attribute
// (chattr +i, removed again at cleanup). Where neither works the test is
// skipped, naming why.
func makeReadOnly(t *testing.T, path string) {
	t.Helper()
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(path, 0o644) })
	if writable(path) {
		if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
			t.Skipf("cannot make %s read-only for uid %d: chmod is ignored and chattr +i failed: %v %s", path, os.Geteuid(), err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
	}
	if writable(path) {
		t.Skipf("cannot make %s read-only for uid %d", path, os.Geteuid())
	}
}

func writable(path string) bool {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}
