package harness

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// ffLane is the lane every ffsqlite job is created on.
const ffLane backend.LaneID = "bench"

// FFSQLite drives the ffsqlite backend through its public API:
// CreateExecution, then Claim and Complete per job. Routed jobs require
// the capability "cap-<set>" and each worker offers exactly its set's
// token. Scanners are not installed (nothing in these scenarios needs
// them). Construction needs FF_DEV_MODE=1.
type FFSQLite struct {
	b       *backend.SQLiteBackend
	setCaps [][]string // RequiredCapabilities per set
	workers []backend.ClaimPolicy
}

// Name implements System.
func (*FFSQLite) Name() string { return "ffsqlite" }

// Open implements System.
func (f *FFSQLite) Open(ctx context.Context, path string, sets int) error {
	b, err := backend.NewWithOptions(ctx, path, backend.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	f.b = b
	f.setCaps = make([][]string, sets)
	for i := range sets {
		f.setCaps[i] = []string{capToken(i)}
	}
	return nil
}

// capToken is the capability token of set i.
func capToken(i int) string { return fmt.Sprintf("cap-%d", i) }

// Submit implements System.
func (f *FFSQLite) Submit(ctx context.Context, set int) (string, error) {
	args := backend.CreateExecutionArgs{
		ExecutionID:   backend.NewExecutionID(),
		Namespace:     "bench",
		LaneID:        ffLane,
		ExecutionKind: "bench",
		InputPayload:  payload,
	}
	if set != Unrouted {
		args.Policy = &backend.ExecutionPolicy{
			RoutingRequirements: &backend.RoutingRequirements{RequiredCapabilities: f.setCaps[set]},
		}
	}
	res, err := f.b.CreateExecution(ctx, args)
	if err != nil {
		return "", err
	}
	return string(res.ExecutionID), nil
}

// Work implements System.
func (f *FFSQLite) Work(ctx context.Context, plan Plan) ([]Completion, error) {
	f.setWorkers(plan)
	return pullWork(ctx, f, plan)
}

// setWorkers gives each of plan's workers its claim policy.
func (f *FFSQLite) setWorkers(plan Plan) {
	f.workers = make([]backend.ClaimPolicy, plan.Workers())
	for i := range f.workers {
		f.workers[i] = backend.ClaimPolicy{
			LeaseTTL:         30 * time.Second,
			WorkerID:         "bench",
			WorkerInstanceID: backend.WorkerInstanceID(fmt.Sprintf("bench-%d", i)),
		}
	}
}

// caps is the capability set a worker of set offers.
func (f *FFSQLite) caps(set int) backend.CapabilitySet {
	if set == Unrouted {
		return backend.CapabilitySet{}
	}
	return backend.CapabilitySet{Tokens: f.setCaps[set]}
}

func (f *FFSQLite) claim(ctx context.Context, worker, set int) (job, bool, error) {
	h, err := f.b.Claim(ctx, ffLane, f.caps(set), f.workers[worker])
	if err != nil || h == nil {
		return job{}, false, err
	}
	return job{id: string(h.ExecutionID()), ref: *h}, true, nil
}

func (f *FFSQLite) complete(ctx context.Context, j job) error {
	return f.b.Complete(ctx, j.ref.(backend.Handle), nil)
}

// FFSQLiteChained is FFSQLite with each worker completing through
// CompleteAndClaim, which claims its next job in the same transaction (as
// the worker package's runner does).
type FFSQLiteChained struct {
	FFSQLite
}

// Name implements System.
func (*FFSQLiteChained) Name() string { return "ffsqlite-chained" }

// Work implements System.
func (c *FFSQLiteChained) Work(ctx context.Context, plan Plan) ([]Completion, error) {
	c.setWorkers(plan)
	return pullWork(ctx, c, plan)
}

func (c *FFSQLiteChained) completeAndClaim(ctx context.Context, j job, worker, set int) (job, bool, error) {
	h, err := c.b.CompleteAndClaim(ctx, j.ref.(backend.Handle), nil, ffLane, c.caps(set), c.workers[worker])
	if err != nil || h == nil {
		return job{}, false, err
	}
	return job{id: string(h.ExecutionID()), ref: *h}, true, nil
}

// Close implements System.
func (f *FFSQLite) Close() error {
	if f.b == nil {
		return nil
	}
	return f.b.Close()
}
