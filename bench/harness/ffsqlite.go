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
	f.workers = make([]backend.ClaimPolicy, plan.Workers())
	for i := range f.workers {
		f.workers[i] = backend.ClaimPolicy{
			LeaseTTL:         30 * time.Second,
			WorkerID:         "bench",
			WorkerInstanceID: backend.WorkerInstanceID(fmt.Sprintf("bench-%d", i)),
		}
	}
	return pullWork(ctx, f, plan)
}

func (f *FFSQLite) claim(ctx context.Context, worker, set int) (job, bool, error) {
	var caps backend.CapabilitySet
	if set != Unrouted {
		caps.Tokens = f.setCaps[set]
	}
	h, err := f.b.Claim(ctx, ffLane, caps, f.workers[worker])
	if err != nil || h == nil {
		return job{}, false, err
	}
	return job{id: string(h.ExecutionID()), ref: *h}, true, nil
}

func (f *FFSQLite) complete(ctx context.Context, j job) error {
	return f.b.Complete(ctx, j.ref.(backend.Handle), nil)
}

// Close implements System.
func (f *FFSQLite) Close() error {
	if f.b == nil {
		return nil
	}
	return f.b.Close()
}
