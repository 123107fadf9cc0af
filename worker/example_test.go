package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"sync/atomic"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/worker"
)

// A runner greets everyone on the "greetings" lane. An empty name is a
// permanent failure: retrying cannot fix the input. The runner is stopped
// once every execution is settled. FF_DEV_MODE=1 must be set.
func ExampleRunner() {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	b, err := backend.NewWithOptions(ctx, "file:worker-example?mode=memory&cache=shared", backend.Options{Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	var ids []backend.ExecutionID
	for _, name := range []string{"ada", "grace", ""} {
		id := backend.NewExecutionID()
		if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{
			ExecutionID: id, LaneID: "greetings", ExecutionKind: "greet", InputPayload: []byte(name),
			Namespace: "example", CreatorIdentity: "example",
		}); err != nil {
			log.Fatal(err)
		}
		ids = append(ids, id)
	}

	runCtx, stop := context.WithCancel(ctx)
	var settled atomic.Int64
	r, err := worker.New(b, worker.Config{
		Lane:        "greetings",
		Concurrency: 2,
		Logger:      quiet,
		OutcomeFunc: func(o worker.Outcome) {
			if settled.Add(1) == int64(len(ids)) {
				stop() // Run stops claiming and returns once nothing is in flight
			}
		},
	}, func(ctx context.Context, job *worker.Job) error {
		if len(job.InputPayload) == 0 {
			return worker.Permanent(errors.New("no name"))
		}
		if err := worker.Progress(ctx, 50, "composing"); err != nil {
			return err
		}
		return worker.SetResult(ctx, fmt.Appendf(nil, "hello, %s", job.InputPayload))
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Run(runCtx); err != nil {
		log.Fatal(err)
	}

	for _, id := range ids {
		st, _ := b.ReadExecutionState(ctx, id)
		res, _, _ := b.GetExecutionResult(ctx, id)
		fmt.Printf("%s %q\n", *st, res)
	}
	// Output:
	// completed "hello, ada"
	// completed "hello, grace"
	// failed ""
}
