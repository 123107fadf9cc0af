package harness

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"maragu.dev/goqite"
)

// goqiteSchema is schema_sqlite.sql of maragu.dev/goqite v0.4.0 (MIT
// licensed), which the module ships as a file but does not export.
const goqiteSchema = `
create table goqite (
  id text primary key default ('m_' || lower(hex(randomblob(16)))),
  created text not null default (strftime('%Y-%m-%dT%H:%M:%fZ')),
  updated text not null default (strftime('%Y-%m-%dT%H:%M:%fZ')),
  queue text not null,
  body blob not null,
  timeout text not null default (strftime('%Y-%m-%dT%H:%M:%fZ')),
  received integer not null default 0,
  priority integer not null default 0
) strict;

create trigger goqite_updated_timestamp after update on goqite begin
  update goqite set updated = strftime('%Y-%m-%dT%H:%M:%fZ') where id = old.id;
end;

create index goqite_queue_priority_created_idx on goqite (queue, priority desc, created);
`

// Goqite drives goqite v0.4.0: Send per job, then Receive and Delete per
// job, with one queue per capability set ("default" when unrouted). The
// pool has one connection, as goqite's README sets it up; every call is
// its own transaction.
type Goqite struct {
	db     *sql.DB
	queues []*goqite.Queue // index set+1 (0 = unrouted)
}

// Name implements System.
func (*Goqite) Name() string { return "goqite" }

// Open implements System.
func (g *Goqite) Open(ctx context.Context, path string, sets int) error {
	db, err := sql.Open("sqlite", sqliteDSN(path, "_txlock=immediate"))
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	g.db = db
	if err := verifyWAL(ctx, db); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, goqiteSchema); err != nil {
		return fmt.Errorf("goqite schema: %w", err)
	}
	g.queues = make([]*goqite.Queue, sets+1)
	for i := range g.queues {
		name := "default"
		if i > 0 {
			name = fmt.Sprintf("set-%d", i-1)
		}
		g.queues[i] = goqite.New(goqite.NewOpts{DB: db, Name: name, Timeout: 30 * time.Second})
	}
	return nil
}

// Submit implements System.
func (g *Goqite) Submit(ctx context.Context, set int) (string, error) {
	id, err := g.queues[set+1].SendAndGetID(ctx, goqite.Message{Body: payload})
	return string(id), err
}

// Work implements System.
func (g *Goqite) Work(ctx context.Context, plan Plan) ([]Completion, error) {
	return pullWork(ctx, g, plan)
}

func (g *Goqite) claim(ctx context.Context, _, set int) (job, bool, error) {
	q := g.queues[set+1]
	m, err := q.Receive(ctx)
	if err != nil || m == nil {
		return job{}, false, err
	}
	return job{id: string(m.ID), ref: q}, true, nil
}

func (g *Goqite) complete(ctx context.Context, j job) error {
	return j.ref.(*goqite.Queue).Delete(ctx, goqite.ID(j.id))
}

// Close implements System.
func (g *Goqite) Close() error {
	if g.db == nil {
		return nil
	}
	return g.db.Close()
}
