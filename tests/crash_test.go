package tests

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // to read the outbox directly

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

// Environment of the crash scenario. The child variables are set by the
// parent test; the soak variables by `make soak` (defaults: the short
// version that runs in `make test`).
const (
	crashChildEnv     = "FFSQLITE_CRASH_CHILD_DB"   // the child's database
	crashChildWorkEnv = "FFSQLITE_CRASH_CHILD_WORK" // the child's per-execution work time
	soakRoundsEnv     = "FFSQLITE_SOAK_ROUNDS"      // rounds (default 3)
	soakExecutionsEnv = "FFSQLITE_SOAK_EXECUTIONS"  // executions per round (default 60)
)

// TestCrashChildWorker is not a test on its own: TestWorkerKilledMidRun runs
// the test binary again with crashChildEnv set, and this function is then
// a worker that claims and completes until it is killed.
func TestCrashChildWorker(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("runs only as the child of TestWorkerKilledMidRun")
	}
	work, _ := time.ParseDuration(os.Getenv(crashChildWorkEnv))
	ctx := context.Background()
	b, err := backend.NewWithOptions(ctx, path, backend.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatalf("child open: %v", err)
	}
	// Several workers, so that a kill also lands inside a group commit
	// (bodies of different callers sharing one transaction). The odd ones
	// complete with CompleteAndClaim, so a kill also lands in a
	// transaction that completes one execution and leases the next.
	const workers = 4
	errc := make(chan error, workers)
	for w := range workers {
		go func() {
			policy := backend.ClaimPolicy{
				LeaseTTL: 5 * time.Second, MaxWait: 100 * time.Millisecond, WorkerID: "child",
				WorkerInstanceID: backend.WorkerInstanceID(fmt.Sprintf("child-%d", w)),
			}
			var h *backend.Handle
			for {
				var err error
				if h == nil {
					if h, err = b.Claim(ctx, "crash", backend.CapabilitySet{}, policy); err != nil {
						errc <- fmt.Errorf("child claim: %w", err)
						return
					}
					if h == nil {
						continue
					}
				}
				time.Sleep(work)
				if w%2 == 1 {
					if h, err = b.CompleteAndClaim(ctx, *h, []byte("child"), "crash", backend.CapabilitySet{}, policy); err != nil {
						errc <- fmt.Errorf("child complete and claim: %w", err)
						return
					}
					continue
				}
				if err := b.Complete(ctx, *h, []byte("child")); err != nil {
					errc <- fmt.Errorf("child complete: %w", err)
					return
				}
				h = nil
			}
		}()
	}
	t.Fatal(<-errc) // the parent kills the child long before a clean end
}

// envInt reads a positive integer setting, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// TestWorkerKilledMidRun kills a worker process with SIGKILL at a random
// moment of its run (often inside a write transaction), then lets a fresh
// backend finish: in every round no execution is lost, none completes
// twice (checked from the completion outbox and from the attempt rows),
// and PRAGMA integrity_check is ok. `make soak` runs 20 rounds of 10,000.
func TestWorkerKilledMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	requireDevMode(t)
	rounds := envInt(t, soakRoundsEnv, 3)
	n := envInt(t, soakExecutionsEnv, 60)
	// A short run gives the child work time so the kill lands with leases
	// held; a soak keeps it busy in write transactions instead.
	work := "20ms"
	if n > 1000 {
		work = "0s"
	}
	for round := range rounds {
		seed := rand.Uint64()
		t.Run("round"+strconv.Itoa(round), func(t *testing.T) {
			crashRound(t, n, work, rand.New(rand.NewPCG(seed, 0)))
		})
		if t.Failed() {
			t.Fatalf("round %d failed (seed %d)", round, seed)
		}
	}
}

func crashRound(t *testing.T, n int, work string, rng *rand.Rand) {
	path := filepath.Join(t.TempDir(), "crash.db")
	ctx := t.Context()
	b, err := backend.NewWithOptions(ctx, path, backend.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]backend.ExecutionID, n)
	for i := range ids {
		res, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: backend.NewExecutionID(), LaneID: "crash", Namespace: "crash"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = res.ExecutionID
	}
	// The parent's backend is closed while the child runs, so the file is
	// shared only through SQLite; the survivor is a fresh open.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run=^TestCrashChildWorker$", "-test.count=1")
	child.Env = append(os.Environ(), crashChildEnv+"="+path, crashChildWorkEnv+"="+work, backend.DevModeEnv+"=1")
	if err := child.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	defer child.Process.Kill() //nolint:errcheck // already dead in the normal path

	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	count := func(query string, args ...any) int {
		t.Helper()
		var c int
		if err := raw.QueryRowContext(ctx, query, args...).Scan(&c); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return c
	}
	// Kill once the child has finished a random share of the work (at
	// least one execution, at most half), however fast it is.
	killAt := 1 + rng.IntN(max(n/2, 1))
	deadline := time.Now().Add(5 * time.Minute)
	for count("SELECT count(*) FROM ff_completion_event") < killAt {
		if time.Now().After(deadline) {
			t.Fatalf("child completed fewer than %d executions in 5 minutes", killAt)
		}
		time.Sleep(time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	_ = child.Wait()
	killedAt := count("SELECT count(*) FROM ff_completion_event")
	leased := count("SELECT count(*) FROM ff_exec_core WHERE public_state = 'active'")
	if killedAt >= n {
		t.Fatalf("child finished all %d executions before the kill; nothing was tested", n)
	}

	// The survivor: a fresh backend whose clock starts past the dead
	// worker's leases; it expires them and drains the lane.
	clock := backend.NewFakeClock(time.Now().UTC().Add(time.Minute).Truncate(time.Millisecond))
	s, err := backend.NewWithOptions(ctx, path, backend.Options{Clock: clock, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.RunScannerOnce(ctx, scanners.JobLeaseExpiry); err != nil {
		t.Fatal(err)
	}
	for {
		h, err := s.Claim(ctx, "crash", backend.CapabilitySet{}, backend.ClaimPolicy{LeaseTTL: time.Minute, WorkerID: "survivor", WorkerInstanceID: "survivor-1"})
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		if err := s.Complete(ctx, *h, []byte("survivor")); err != nil {
			t.Fatal(err)
		}
	}

	if lost := count("SELECT count(*) FROM ff_exec_core WHERE public_state <> 'completed'"); lost != 0 {
		t.Errorf("%d executions not completed after the survivor drained the lane", lost)
	}
	if twice := count(`SELECT count(*) FROM (SELECT execution_id FROM ff_completion_event
		WHERE outcome = 'success' GROUP BY execution_id HAVING count(*) <> 1)`); twice != 0 {
		t.Errorf("%d executions have other than one success event", twice)
	}
	if twice := count(`SELECT count(*) FROM (SELECT execution_id FROM ff_attempt
		WHERE outcome = 'success' GROUP BY execution_id HAVING count(*) <> 1)`); twice != 0 {
		t.Errorf("%d executions have other than one successful attempt", twice)
	}
	if total := count("SELECT count(*) FROM ff_completion_event"); total != n {
		t.Errorf("completion events = %d, want %d", total, n)
	}
	var integrity string
	if err := raw.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
		t.Errorf("integrity_check = %q, %v", integrity, err)
	}
	t.Logf("child completed %d of %d and held %d lease(s) at SIGKILL", killedAt, n, leased)
}
