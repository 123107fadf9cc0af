package main

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/flowfabric/ffsqlite/migrations"
)

// migrationJSON is one migration in migrate's JSON output.
type migrationJSON struct {
	AppliedAt *time.Time `json:"applied_at,omitempty"`
	Source    string     `json:"source"`
	State     string     `json:"state,omitempty"`
	Version   int64      `json:"version"`
}

// migrateResultJSON is the JSON output of migrate up and down.
type migrateResultJSON struct {
	// Applied (up) and RolledBack (down) list the migrations run.
	Applied    []migrationJSON `json:"applied,omitempty"`
	RolledBack []migrationJSON `json:"rolled_back,omitempty"`
	// Version is the schema version afterwards.
	Version int64 `json:"version"`
}

// migrateStatusJSON is the JSON output of migrate status.
type migrateStatusJSON struct {
	Migrations []migrationJSON `json:"migrations"`
	Version    int64           `json:"version"`
}

// openMigrator opens path for goose. It deliberately bypasses backend.New,
// which would apply every migration on open (and demands FF_DEV_MODE):
// down and status must see the file as it is. create says whether a
// missing file may be created (up only).
func (c *cli) openMigrator(create bool) (*sql.DB, *goose.Provider, error) {
	path, err := c.dbPath()
	if err != nil {
		return nil, nil, err
	}
	if !create {
		if err := requireFile(path); err != nil {
			return nil, nil, err
		}
	}
	// The backend's writer settings: one connection, BEGIN IMMEDIATE
	// (a deferred transaction that reads and then writes gets SQLITE_BUSY
	// without waiting), busy_timeout so a running worker's transaction is
	// waited for, foreign keys as the migrations expect.
	db, err := sql.Open("sqlite", fileDSN(path, "busy_timeout(5000)", "foreign_keys(1)")+"&_txlock=immediate")
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(1)
	// No p.Close: it would close db, which the caller closes.
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	return db, p, nil
}

// migrateUp applies every pending migration.
func (c *cli) migrateUp(args []string) error {
	fs := c.newFlags("migrate up", "", "Apply every pending migration. Creates the database file if it is missing.")
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	db, p, err := c.openMigrator(true)
	if err != nil {
		return err
	}
	defer db.Close()
	current, target, err := p.GetVersions(c.ctx)
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	// The backend refuses such a file too: running old migrations over a
	// newer schema would leave it in a state no build knows.
	if current > target {
		return fmt.Errorf("migrate up: schema version %d is newer than this build knows (%d)", current, target)
	}
	results, err := p.Up(c.ctx)
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	version, err := p.GetDBVersion(c.ctx)
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	out := migrateResultJSON{Applied: []migrationJSON{}, Version: version}
	for _, r := range results {
		out.Applied = append(out.Applied, migrationJSON{Source: filepath.Base(r.Source.Path), Version: r.Source.Version})
	}
	if c.json {
		return c.writeJSON(out)
	}
	for _, m := range out.Applied {
		fmt.Fprintf(c.stdout, "applied  %05d  %s\n", m.Version, m.Source)
	}
	if len(out.Applied) == 0 {
		fmt.Fprintln(c.stdout, "no pending migrations")
	}
	fmt.Fprintf(c.stdout, "schema version %d\n", version)
	return nil
}

// migrateDown rolls back the most recently applied migration.
func (c *cli) migrateDown(args []string) error {
	fs := c.newFlags("migrate down", "", "Roll back the most recently applied migration (one version).")
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	db, p, err := c.openMigrator(false)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := p.Down(c.ctx)
	if errors.Is(err, goose.ErrNoNextVersion) {
		// An error, not a no-op: "down" on a file with nothing applied
		// usually means the wrong --db.
		return errors.New("migrate down: no applied migration to roll back")
	}
	if err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	version, err := p.GetDBVersion(c.ctx)
	if err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	m := migrationJSON{Source: filepath.Base(r.Source.Path), Version: r.Source.Version}
	if c.json {
		return c.writeJSON(migrateResultJSON{RolledBack: []migrationJSON{m}, Version: version})
	}
	fmt.Fprintf(c.stdout, "rolled back  %05d  %s\nschema version %d\n", m.Version, m.Source, version)
	return nil
}

// migrateStatus lists every embedded migration with its applied state.
func (c *cli) migrateStatus(args []string) error {
	fs := c.newFlags("migrate status", "", "List every migration of this build and whether it is applied.")
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	db, p, err := c.openMigrator(false)
	if err != nil {
		return err
	}
	defer db.Close()
	statuses, err := p.Status(c.ctx)
	if err != nil {
		return fmt.Errorf("migrate status: %w", err)
	}
	version, err := p.GetDBVersion(c.ctx)
	if err != nil {
		return fmt.Errorf("migrate status: %w", err)
	}
	out := migrateStatusJSON{Migrations: make([]migrationJSON, 0, len(statuses)), Version: version}
	for _, s := range statuses {
		out.Migrations = append(out.Migrations, migrationJSON{
			AppliedAt: optTime(s.AppliedAt),
			Source:    filepath.Base(s.Source.Path),
			State:     string(s.State),
			Version:   s.Source.Version,
		})
	}
	if c.json {
		return c.writeJSON(out)
	}
	w := c.table()
	row(w, "VERSION", "STATE", "APPLIED_AT", "SOURCE")
	for _, m := range out.Migrations {
		applied := "-"
		if m.AppliedAt != nil {
			applied = fmtTime(*m.AppliedAt)
		}
		row(w, fmt.Sprintf("%05d", m.Version), m.State, applied, m.Source)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "schema version %d\n", version)
	return nil
}
