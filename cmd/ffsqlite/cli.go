package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/dbgen"
)

// cli is the state of one invocation: the global flags and the streams.
type cli struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	db      string // --db (falls back to $FFSQLITE_DB)
	json    bool   // --json
	verbose bool   // -v
}

// globalFlags registers --db, --json and -v on fs. Each subcommand's flag
// set registers them too, so "executions list --json" works as well as
// "--json executions list". They are sharedFlag values rather than
// fs.StringVar/BoolVar, which would reset the variable to the default at
// registration and so erase what the top-level parse already set.
func (c *cli) globalFlags(fs *flag.FlagSet) {
	fs.Var(sharedFlag[string]{&c.db}, "db", "SQLite database `path` (default $"+dbEnv+")")
	fs.Var(sharedFlag[bool]{&c.json}, "json", "print JSON instead of tables")
	fs.Var(sharedFlag[bool]{&c.verbose}, "v", "log backend warnings (the dev-mode banner) to stderr")
}

// sharedFlag is a flag.Value writing through to a variable several flag
// sets share. String is always "" so usage never shows another flag set's
// value as this one's default.
type sharedFlag[T string | bool] struct {
	p *T
}

func (f sharedFlag[T]) String() string { return "" }

// Set parses s into the shared variable.
func (f sharedFlag[T]) Set(s string) error {
	switch p := any(f.p).(type) {
	case *string:
		*p = s
	case *bool:
		v, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		*p = v
	}
	return nil
}

// IsBoolFlag lets a bool flag be given without a value ("--json").
func (f sharedFlag[T]) IsBoolFlag() bool {
	_, ok := any(f.p).(*bool)
	return ok
}

// newFlags returns a subcommand's flag set; usage prints synopsis and help.
func (c *cli) newFlags(name, synopsis, help string) *flag.FlagSet {
	fs := flag.NewFlagSet("ffsqlite "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	c.globalFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "usage: ffsqlite %s %s\n\n%s\n\nFlags:\n", name, synopsis, help)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args with fs, letting flags and positional arguments mix
// ("show <id> --json" as well as "show --json <id>"; the standard flag
// package stops at the first positional). After "--" everything is
// positional. It returns the positionals, requiring exactly want of them.
func (c *cli) parse(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, parseError(err)
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) != want {
		switch {
		case want == 0:
			return nil, usagef("%s: unexpected argument %q", strings.TrimPrefix(fs.Name(), "ffsqlite "), pos[0])
		case len(pos) < want:
			return nil, usagef("%s: missing argument", strings.TrimPrefix(fs.Name(), "ffsqlite "))
		default:
			return nil, usagef("%s: unexpected argument %q", strings.TrimPrefix(fs.Name(), "ffsqlite "), pos[want])
		}
	}
	return pos, nil
}

// dbPath returns --db, else $FFSQLITE_DB; neither is a usage error.
func (c *cli) dbPath() (string, error) {
	if c.db != "" {
		return c.db, nil
	}
	if p := os.Getenv(dbEnv); p != "" {
		return p, nil
	}
	return "", usagef("no database: pass --db or set %s", dbEnv)
}

// requireFile fails unless path names an existing regular file. SQLite
// (and so backend.New) creates a missing file, and an operator's typo
// must not leave an empty database behind.
func requireFile(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("database %q does not exist (\"ffsqlite migrate up\" creates one)", path)
	}
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("database %q is not a regular file", path)
	}
	return nil
}

// store is an opened database: the backend for everything the public API
// answers, plus a lazily opened query_only connection for the few
// listings in queries/cli.sql the API has no method for.
type store struct {
	b    *backend.SQLiteBackend
	path string
	raw  *sql.DB
}

// open opens the --db file with backend.New semantics (dev-mode guard,
// migrations) after checking that it exists.
func (c *cli) open() (*store, error) {
	path, err := c.dbPath()
	if err != nil {
		return nil, err
	}
	if err := requireFile(path); err != nil {
		return nil, err
	}
	// The dev-mode banner is meant for processes that run the engine; an
	// operator who already exported FF_DEV_MODE=1 for a one-shot command
	// sees it only with -v.
	level := slog.LevelError
	if c.verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level}))
	b, err := backend.NewWithOptions(c.ctx, path, backend.Options{Logger: logger})
	if err != nil {
		return nil, err
	}
	return &store{b: b, path: path}, nil
}

// queries returns dbgen queries on the store's raw reader, opening it on
// first use. The connection is query_only: the CLI never writes outside
// the backend API.
func (s *store) queries() (*dbgen.Queries, error) {
	if s.raw == nil {
		db, err := sql.Open("sqlite", fileDSN(s.path, "busy_timeout(5000)", "query_only(1)"))
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		s.raw = db
	}
	// Unprepared: preparing every query of dbgen for one listing would
	// cost more than the listing.
	return dbgen.New(s.raw), nil
}

// Close closes the raw reader and the backend.
func (s *store) Close() error {
	var errs []error
	if s.raw != nil {
		errs = append(errs, s.raw.Close())
	}
	errs = append(errs, s.b.Close())
	return errors.Join(errs...)
}

// fileDSN is the modernc DSN of a plain file path with PRAGMAs applied to
// every connection. The path becomes a file: URI so that '?' or '#' in a
// file name is not read as a parameter (as backend.New does).
func fileDSN(path string, pragmas ...string) string {
	params := make([]string, 0, len(pragmas))
	for _, p := range pragmas {
		params = append(params, "_pragma="+url.QueryEscape(p))
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + strings.Join(params, "&")
}

// --- errors and exit codes ---

// usageError is a bad command line (exit 2).
type usageError struct {
	msg string
}

func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// printedError marks an error whose message (and usage) the flag package
// or the CLI already wrote to stderr, so run does not repeat it.
type printedError struct {
	err error
}

func (e *printedError) Error() string { return e.err.Error() }
func (e *printedError) Unwrap() error { return e.err }

// printed wraps err as already reported.
func printed(err error) error { return &printedError{err: err} }

func isPrinted(err error) bool {
	var p *printedError
	return errors.As(err, &p)
}

// parseError turns a flag-package error into a usage error. The flag
// package has printed the message and the usage already; -h stays
// flag.ErrHelp (exit 0).
func parseError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return printed(&usageError{msg: err.Error()})
}

// notFound reports a missing entity the API signals with a nil result
// (DescribeExecution, DescribeFlow); it matches backend.ErrNotFound.
func notFound(entity, id string) error {
	return fmt.Errorf("%s %s: %w", entity, id, &backend.Error{Kind: backend.KindNotFound, Entity: entity})
}

// exitCode maps an error to the documented exit code.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, backend.ErrRequiresDevMode):
		return exitDevMode
	// ErrWaitpointNotFound is a contention error in the taxonomy but
	// still means "no such waitpoint" to an operator.
	case errors.Is(err, backend.ErrNotFound), errors.Is(err, backend.ErrWaitpointNotFound):
		return exitNotFound
	default:
		return exitError
	}
}

// verbList renders a command group's verbs for error messages.
func verbList(verbs map[string]command) string {
	return strings.Join(slices.Sorted(maps.Keys(verbs)), ", ")
}

// --- argument parsing helpers (malformed ids are usage errors) ---

func parseExecutionID(s string) (backend.ExecutionID, error) {
	id, err := backend.ParseExecutionID(s)
	if err != nil {
		return "", usagef("invalid execution id %q: %v", s, err)
	}
	return id, nil
}

// --- output helpers ---

// writeJSON prints v as one indented JSON document.
func (c *cli) writeJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table returns a tabwriter for aligned columns; call Flush when done.
func (c *cli) table() *tabwriter.Writer {
	return tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
}

// row writes tab-separated cells and a newline.
func row(w io.Writer, cells ...any) {
	for i, cell := range cells {
		if i > 0 {
			io.WriteString(w, "\t")
		}
		fmt.Fprint(w, cell)
	}
	io.WriteString(w, "\n")
}

// timeLayout renders instants in UTC with milliseconds (the stored
// precision).
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// fmtTime renders t, or "-" for the zero time ("none" in the API).
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeLayout)
}

// optTime is t for JSON, nil (omitted) for the zero time.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// dash renders an empty string as "-" so table columns never collapse.
func dash[S ~string](s S) string {
	if s == "" {
		return "-"
	}
	return printable(string(s))
}

// printable quotes s when it holds control characters (a newline in a
// payload would break the table's lines).
func printable(s string) string {
	if strings.ContainsFunc(s, unicode.IsControl) {
		return strconv.Quote(s)
	}
	return s
}

// fmtTags renders tags as sorted "k=v" pairs.
func fmtTags(tags map[string]string) string {
	if len(tags) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		parts = append(parts, k+"="+tags[k])
	}
	return printable(strings.Join(parts, ", "))
}
