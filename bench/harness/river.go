package harness

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// riverArgs is the job River runs; its worker does nothing.
type riverArgs struct {
	Bench bool `json:"bench"`
}

// Kind implements river.JobArgs.
func (riverArgs) Kind() string { return "bench" }

// riverWorker completes every job at once.
type riverWorker struct {
	river.WorkerDefaults[riverArgs]
}

// Work implements river.Worker.
func (riverWorker) Work(context.Context, *river.Job[riverArgs]) error { return nil }

// River drives River v0.51.2 with its riversqlite driver: its migrations
// are applied at Open, jobs are inserted one per transaction by an
// insert-only client, and Work starts a client whose queues (one per
// capability set, "default" when unrouted) have PerSet workers each.
// Completions are observed through River's JobCompleted event
// subscription; ClaimedAt is the job's attempted_at (set when River locks
// it for work).
//
// River's riversqlite documentation recommends a single-connection pool
// (River runs internal operations in parallel, which otherwise meets
// SQLITE_BUSY); that is the default here.
type River struct {
	// FetchCooldown and FetchPollInterval override River's defaults (100 ms
	// and 1 s) when non-zero; the default cooldown caps a queue at one
	// fetch per 100 ms, so the harness lowers it.
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	// MaxConns is the pool size (0 = 1).
	MaxConns int

	db        *sql.DB
	driver    *riversqlite.Driver
	inserter  *river.Client[*sql.Tx]
	submitted int
}

// Name implements System.
func (*River) Name() string { return "river" }

// riverLogger keeps River's warnings and errors on stderr.
func riverLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// Open implements System.
func (r *River) Open(ctx context.Context, path string, _ int) error {
	db, err := sql.Open("sqlite", sqliteDSN(path, "_txlock=immediate"))
	if err != nil {
		return err
	}
	conns := max(r.MaxConns, 1)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	r.db = db
	if err := verifyWAL(ctx, db); err != nil {
		return err
	}
	r.driver = riversqlite.New(db)
	migrator, err := rivermigrate.New(r.driver, &rivermigrate.Config{Logger: riverLogger()})
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	r.inserter, err = river.NewClient(r.driver, &river.Config{Logger: riverLogger()})
	return err
}

// riverQueue names the queue of set.
func riverQueue(set int) string {
	if set == Unrouted {
		return river.QueueDefault
	}
	return fmt.Sprintf("set-%d", set)
}

// Submit implements System.
func (r *River) Submit(ctx context.Context, set int) (string, error) {
	res, err := r.inserter.Insert(ctx, riverArgs{Bench: true}, &river.InsertOpts{Queue: riverQueue(set)})
	if err != nil {
		return "", err
	}
	r.submitted++
	return strconv.FormatInt(res.Job.ID, 10), nil
}

// Work implements System. It starts a working client, waits for
// plan.Limit (0 = every submitted job) completion events and stops it.
func (r *River) Work(ctx context.Context, plan Plan) ([]Completion, error) {
	want := plan.Limit
	if want == 0 {
		want = r.submitted
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &riverWorker{})
	queues := map[string]river.QueueConfig{}
	if plan.Sets == 0 {
		queues[riverQueue(Unrouted)] = river.QueueConfig{MaxWorkers: plan.PerSet}
	}
	for set := range plan.Sets {
		queues[riverQueue(set)] = river.QueueConfig{MaxWorkers: plan.PerSet}
	}
	client, err := river.NewClient(r.driver, &river.Config{
		FetchCooldown:     r.FetchCooldown,
		FetchPollInterval: r.FetchPollInterval,
		Logger:            riverLogger(),
		Queues:            queues,
		Workers:           workers,
	})
	if err != nil {
		return nil, err
	}
	events, cancelSub := client.SubscribeConfig(&river.SubscribeConfig{
		ChanSize: want + 1024,
		Kinds:    []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled},
	})
	defer cancelSub()
	if err := client.Start(ctx); err != nil {
		return nil, err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		client.Stop(stopCtx) //nolint:errcheck // the measurement is over
	}()
	out := make([]Completion, 0, want)
	for len(out) < want {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("river: %d of %d jobs completed: %w", len(out), want, ctx.Err())
		case ev := <-events:
			now := time.Now()
			if ev.Kind != river.EventKindJobCompleted {
				return nil, fmt.Errorf("river: job %d ended %s", ev.Job.ID, ev.Kind)
			}
			claimed := now
			if ev.Job.AttemptedAt != nil {
				claimed = *ev.Job.AttemptedAt
			}
			out = append(out, Completion{ID: strconv.FormatInt(ev.Job.ID, 10), ClaimedAt: claimed, DoneAt: now})
		}
	}
	return out, nil
}

// Close implements System.
func (r *River) Close() error {
	if r.db == nil {
		return nil
	}
	return r.db.Close()
}
