// Package harness measures ffsqlite side by side with its peers (a raw
// SQLite floor, River on riversqlite and goqite), all on modernc.org/sqlite
// file databases in WAL mode with synchronous=NORMAL, each run on a fresh
// file.
//
// A System submits jobs one at a time and later works a given number of
// them. Pull-based systems (ffsqlite, raw, goqite) share one worker loop
// that claims and completes; River runs its own client and reports
// completions through its event subscription.
package harness

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"database/sql"
)

// Unrouted is the capability set of a job that any worker may take.
const Unrouted = -1

// payload is the input every system stores with each job.
var payload = []byte(`{"bench":true}`)

// System is one queue implementation under test. A System value is used
// for a single database file: Open, any number of Submit calls, Work, and
// Close.
type System interface {
	// Name is the label in tables and JSON.
	Name() string
	// Open creates a fresh database at path. sets is the number of
	// capability sets jobs will be routed to (0 = unrouted).
	Open(ctx context.Context, path string, sets int) error
	// Submit enqueues one job for capability set (Unrouted for none) and
	// returns its id.
	Submit(ctx context.Context, set int) (string, error)
	// Work runs workers per plan until plan.Limit jobs were completed (or,
	// with Limit 0 for pull systems, until no job is claimable) and
	// returns one Completion per job.
	Work(ctx context.Context, plan Plan) ([]Completion, error)
	// Close releases the database.
	Close() error
}

// Plan says how many workers a Work call runs and how much it does.
type Plan struct {
	// Sets is the number of capability sets (0 = unrouted: every worker
	// takes any job).
	Sets int
	// PerSet is the number of workers per set (the total when Sets is 0).
	PerSet int
	// Limit is the number of jobs to complete (0 = every queued job).
	Limit int
}

// Workers is the total worker count of p.
func (p Plan) Workers() int {
	if p.Sets == 0 {
		return p.PerSet
	}
	return p.Sets * p.PerSet
}

// Completion is one job worked: when its claim began (for River, when the
// job was locked for work) and when its completion was durable as seen by
// the worker.
type Completion struct {
	ID        string
	ClaimedAt time.Time
	DoneAt    time.Time
}

// job is a claimed job of a pull system: its id and whatever the system
// needs to complete it.
type job struct {
	id  string
	ref any
}

// puller is the claim/complete pair of a pull-based system.
type puller interface {
	// claim takes the next job for set on behalf of worker; ok is false
	// when nothing is claimable.
	claim(ctx context.Context, worker, set int) (j job, ok bool, err error)
	// complete finishes a claimed job.
	complete(ctx context.Context, j job) error
}

// chainer is a puller that can complete a job and claim the worker's next
// one in a single call.
type chainer interface {
	puller
	// completeAndClaim finishes j and claims the next job for set on
	// behalf of worker; ok is false when nothing was claimable.
	completeAndClaim(ctx context.Context, j job, worker, set int) (next job, ok bool, err error)
}

// pullWork runs plan.Workers() goroutines that claim and complete until
// plan.Limit jobs are done or nothing is claimable, and returns the
// completions. The first error stops every worker. A chainer completes
// with completeAndClaim when every queued job is to be worked (no Limit,
// which a job claimed ahead could overrun); a job it claims that way
// counts as claimed when the call returned.
func pullWork(ctx context.Context, p puller, plan Plan) ([]Completion, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := plan.Workers()
	if n <= 0 {
		return nil, errors.New("plan has no workers")
	}
	var (
		reserved atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	results := make([][]Completion, n)
	for w := range n {
		set := Unrouted
		if plan.Sets > 0 {
			set = w % plan.Sets
		}
		chain, chains := p.(chainer)
		chains = chains && plan.Limit == 0
		wg.Go(func() {
			local := make([]Completion, 0, 1024)
			defer func() { results[w] = local }()
			var (
				ahead   job // claimed by the previous completeAndClaim
				haveAt  time.Time
				holding bool
			)
			for ctx.Err() == nil {
				if plan.Limit > 0 && reserved.Add(1) > int64(plan.Limit) {
					return
				}
				start := time.Now()
				j, ok, err := ahead, true, error(nil)
				if holding {
					start, holding = haveAt, false
				} else {
					j, ok, err = p.claim(ctx, w, set)
				}
				if err == nil && ok {
					if chains {
						ahead, holding, err = chain.completeAndClaim(ctx, j, w, set)
						haveAt = time.Now()
					} else {
						err = p.complete(ctx, j)
					}
				}
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("worker %d: %w", w, err); cancel() })
					return
				}
				if !ok {
					return
				}
				local = append(local, Completion{ID: j.id, ClaimedAt: start, DoneAt: time.Now()})
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	var all []Completion
	for _, r := range results {
		all = append(all, r...)
	}
	return all, nil
}

// SQLite connection settings shared by every system.
const busyTimeoutMS = 5000

// sqliteDSN is the modernc.org/sqlite DSN every peer opens path with: WAL,
// synchronous=NORMAL and a busy timeout on every pooled connection (the
// same PRAGMAs ffsqlite applies), plus extra driver parameters.
func sqliteDSN(path string, extra ...string) string {
	params := []string{
		"_pragma=" + url.QueryEscape(fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS)),
		"_pragma=" + url.QueryEscape("journal_mode(WAL)"),
		"_pragma=" + url.QueryEscape("synchronous(NORMAL)"),
	}
	params = append(params, extra...)
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + strings.Join(params, "&")
}

// verifyWAL fails unless db's connections run journal_mode=WAL with
// synchronous=NORMAL, so no peer silently runs with other durability.
func verifyWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	var sync int
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return err
	}
	if strings.ToLower(mode) != "wal" || sync != 1 {
		return fmt.Errorf("sqlite settings not applied: journal_mode=%s synchronous=%d", mode, sync)
	}
	return nil
}

// removeDB deletes a database file and its WAL and shared-memory files.
func removeDB(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix) //nolint:errcheck // best effort cleanup
	}
}

// dbPath names a fresh database file in dir.
func dbPath(dir, label string) string {
	return filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(label)+".db")
}
