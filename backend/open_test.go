package backend

import (
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// TestIsMemoryPath covers every row of the table in spec 01 §1.3, plus the
// fragment rule of its step 4.
func TestIsMemoryPath(t *testing.T) {
	t.Parallel()

	tests := []struct {
		path string
		want bool
	}{
		{":memory:", true},
		{"file::memory:", true},
		{"file::memory:?cache=shared", true},
		{"file:ff-test-abc?mode=memory&cache=shared", true},
		{"file:ff-test?cache=shared&mode=memory", true},
		{"file:test?mode=memory", true},
		{"/srv/ff.sqlite", false},
		{"./ff.sqlite", false},
		{"file:/srv/ff.sqlite", false},
		{"file:./data.db", false},
		{"file:ff-test?cache=shared", false},
		{"file:my_mode=memory_db.sqlite", false},
		{"file:foo?mode=memory_extra", false},
		// Step 4: everything from the first '#' is dropped.
		{"file:foo?cache=shared#mode=memory", false},
		{"file:foo?cache=shared&mode=memory#frag", true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			if got := isMemoryPath(tt.path); got != tt.want {
				t.Errorf("isMemoryPath(%q) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

// classified is classifyPath's result as one comparable value.
type classified struct {
	Target string
	Key    string
	Memory bool
}

func classify(t *testing.T, path string) classified {
	t.Helper()
	target, key, memory, err := classifyPath(path)
	if err != nil {
		t.Fatalf("classifyPath(%q): %v", path, err)
	}
	return classified{Target: target, Key: key, Memory: memory}
}

// realDir is t.TempDir() with symlinks resolved (the temp root itself may
// sit behind a symlink).
func realDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestClassifyPath(t *testing.T) {
	t.Parallel()

	t.Run("BareMemory", func(t *testing.T) {
		t.Parallel()
		want := classified{Target: "file::memory:?cache=shared", Key: "file::memory:?cache=shared", Memory: true}
		if diff := cmp.Diff(want, classify(t, ":memory:")); diff != "" {
			t.Errorf("(-want +got)\n%s", diff)
		}
	})

	t.Run("MemoryURIVerbatim", func(t *testing.T) {
		t.Parallel()
		const uri = "file:ff-test-abc?mode=memory&cache=shared"
		want := classified{Target: uri, Key: uri, Memory: true}
		if diff := cmp.Diff(want, classify(t, uri)); diff != "" {
			t.Errorf("(-want +got)\n%s", diff)
		}
	})

	t.Run("ExistingFileThroughSymlink", func(t *testing.T) {
		t.Parallel()
		dir := realDir(t)
		if err := os.Mkdir(filepath.Join(dir, "real"), 0o700); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "real", "ff.db")
		touch(t, file)
		if err := os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "link")); err != nil {
			t.Fatal(err)
		}
		got := classify(t, filepath.Join(dir, "link", "ff.db"))
		if got.Key != file || got.Memory {
			t.Errorf("key = %q, memory = %v; want %q, false", got.Key, got.Memory, file)
		}
		// A file: URI naming an existing file keys by the same canonical path.
		if got := classify(t, "file:"+filepath.Join(dir, "link", "ff.db")); got.Key != file {
			t.Errorf("file: URI key = %q, want %q", got.Key, file)
		}
	})

	t.Run("MissingFileKeysByItsFuturePath", func(t *testing.T) {
		t.Parallel()
		dir := realDir(t)
		want := filepath.Join(dir, "new.db")
		for _, path := range []string{want, "file:" + want + "?cache=shared"} {
			if got := classify(t, path); got.Key != want {
				t.Errorf("key of missing %q = %q, want %q", path, got.Key, want)
			}
		}
		// With no directory to resolve, the raw path is the key.
		missing := filepath.Join(dir, "nodir", "x.db")
		if got := classify(t, missing); got.Key != missing {
			t.Errorf("key of %q = %q, want it unchanged", missing, got.Key)
		}
	})

	t.Run("ErrEmpty", func(t *testing.T) {
		t.Parallel()
		_, _, _, err := classifyPath("")
		if !errors.Is(err, &Error{Kind: KindBackend, SubKind: SubKindBackendProtocol}) {
			t.Errorf("classifyPath(\"\") = %v, want a backend protocol error", err)
		}
	})

	t.Run("PlainPathBecomesEscapedURI", func(t *testing.T) {
		t.Parallel()
		got := classify(t, "/srv/we?ird#name.db")
		if want := "file:/srv/we%3Fird%23name.db"; got.Target != want {
			t.Errorf("target = %q, want %q", got.Target, want)
		}
	})
}

// TestClassifyPathRelative changes the working directory, so it cannot
// run in parallel.
func TestClassifyPathRelative(t *testing.T) {
	dir := realDir(t)
	t.Chdir(dir)
	want := filepath.Join(dir, "ff.db")

	// Not created yet: the key must already be the path the file will
	// have, or a second open after creation would get a second inner state.
	before := classify(t, "ff.db")
	if before.Key != want {
		t.Errorf("key of a missing relative path = %q, want %q", before.Key, want)
	}
	touch(t, want)
	for _, path := range []string{"ff.db", "./ff.db", "sub/../ff.db"} {
		if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
		if got := classify(t, path); got.Key != want {
			t.Errorf("key of %q = %q, want %q", path, got.Key, want)
		}
	}
}

// openTestDatabase opens path with the real construction code, bypassing
// the dev-mode guard and the registry.
func openTestDatabase(t *testing.T, path string, opts Options) *database {
	t.Helper()
	target, key, memory, err := classifyPath(path)
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	db, err := openDatabase(t.Context(), path, target, key, memory, opts)
	if err != nil {
		t.Fatalf("openDatabase(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := db.close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

func TestPragmas(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		wal  bool
		want connSettings
	}{
		{"WAL", true, connSettings{JournalMode: "wal", Synchronous: 1, BusyTimeoutMS: 5000, ForeignKeys: true}},
		// Without WAL synchronous is left at SQLite's default, FULL (2).
		{"NoWAL", false, connSettings{JournalMode: "delete", Synchronous: 2, BusyTimeoutMS: 5000, ForeignKeys: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			const poolSize = 3
			db := openTestDatabase(t, filepath.Join(t.TempDir(), "ff.db"), Options{WAL: &tt.wal, PoolSize: poolSize})
			if db.reader == db.writer {
				t.Fatal("a file database must have a separate reader pool")
			}
			for _, pool := range []struct {
				name string
				db   *sql.DB
			}{{"writer", db.writer}, {"reader", db.reader}} {
				got, err := readSettings(ctx, pool.db)
				if err != nil {
					t.Fatalf("%s: readSettings: %v", pool.name, err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s settings (-want +got)\n%s", pool.name, diff)
				}
			}

			// The PRAGMAs reach every pooled connection, not only the first:
			// hold the whole reader pool at once and ask each connection.
			conns := make([]*sql.Conn, poolSize)
			for i := range conns {
				c, err := db.reader.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				conns[i] = c
			}
			for i, c := range conns {
				var busy, fk, queryOnly int
				if err := c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
					t.Fatal(err)
				}
				if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
					t.Fatal(err)
				}
				if err := c.QueryRowContext(ctx, "PRAGMA query_only").Scan(&queryOnly); err != nil {
					t.Fatal(err)
				}
				if busy != busyTimeoutMS || fk != 1 || queryOnly != 1 {
					t.Errorf("reader conn %d: busy_timeout=%d foreign_keys=%d query_only=%d, want %d 1 1", i, busy, fk, queryOnly, busyTimeoutMS)
				}
			}
		})
	}
}

func TestReaderIsQueryOnly(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openTestDatabase(t, filepath.Join(t.TempDir(), "ff.db"), Options{})

	var writerQueryOnly int
	if err := db.writer.QueryRowContext(ctx, "PRAGMA query_only").Scan(&writerQueryOnly); err != nil {
		t.Fatal(err)
	}
	if writerQueryOnly != 0 {
		t.Errorf("writer query_only = %d, want 0", writerQueryOnly)
	}

	for _, stmt := range []string{
		"CREATE TABLE ff_test_probe (a INTEGER)",
		// goose's ledger exists after migrations; any table would do.
		"DELETE FROM goose_db_version WHERE version_id < 0",
	} {
		_, err := db.reader.ExecContext(ctx, stmt)
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_READONLY {
			t.Errorf("reader %q: err = %v, want SQLITE_READONLY", stmt, err)
		}
	}
	// The same write goes through on the writer.
	if _, err := db.writer.ExecContext(ctx, "CREATE TABLE ff_test_probe (a INTEGER)"); err != nil {
		t.Errorf("writer: %v", err)
	}
}

// TestOpenEscapedFileName opens a file whose name holds URI metacharacters:
// the name must reach the file system literally.
func TestOpenEscapedFileName(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "we?ird#name.db")
	openTestDatabase(t, path, Options{})
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not created under its literal name: %v", err)
	}
}

// TestWriterTempStoreInMemory: the writer keeps its statement and
// savepoint journals in memory (see openDatabase).
func TestWriterTempStoreInMemory(t *testing.T) {
	t.Parallel()
	db := openTestDatabase(t, filepath.Join(t.TempDir(), "ff.db"), Options{})
	var store int
	if err := db.writer.QueryRowContext(t.Context(), "PRAGMA temp_store").Scan(&store); err != nil {
		t.Fatal(err)
	}
	if store != 2 {
		t.Errorf("writer temp_store = %d, want 2 (MEMORY)", store)
	}
}
