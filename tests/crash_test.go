package tests

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // to read the outbox directly

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

// crashChildEnv names the database a re-executed test binary works on as
// the worker that gets killed.
const crashChildEnv = "FFSQLITE_CRASH_CHILD_DB"

// TestCrashChildWorker is not a test on its own: TestWorkerKilledMidRun runs
// the test binary again with crashChildEnv set, and this function is then
// a worker that claims and completes until it is killed.
func TestCrashChildWorker(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("runs only as the child of TestWorkerKilledMidRun")
	}
	ctx := context.Background()
	b, err := backend.NewWithOptions(ctx, path, backend.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatalf("child open: %v", err)
	}
	for {
		h, err := b.Claim(ctx, "crash", backend.CapabilitySet{}, backend.ClaimPolicy{
			LeaseTTL: 5 * time.Second, MaxWait: 100 * time.Millisecond, WorkerID: "child", WorkerInstanceID: "child-1",
		})
		if err != nil {
			t.Fatalf("child claim: %v", err)
		}
		if h == nil {
			continue
		}
		// Work takes a while, so the kill lands with leases held.
		time.Sleep(20 * time.Millisecond)
		if err := b.Complete(ctx, *h, []byte("child")); err != nil {
			t.Fatalf("child complete: %v", err)
		}
	}
}

// TestWorkerKilledMidRun kills a worker process with SIGKILL while it holds
// a lease, then lets a second worker finish: every execution completes
// exactly once (counted from the completion outbox) and none is lost.
func TestWorkerKilledMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	requireDevMode(t)
	path := filepath.Join(t.TempDir(), "crash.db")
	ctx := t.Context()
	// The child stamps leases with the system clock; the parent starts its
	// fake clock there and moves it past the child's leases after the kill.
	clock := backend.NewFakeClock(time.Now().UTC().Truncate(time.Millisecond))
	b, err := backend.NewWithOptions(ctx, path, backend.Options{Clock: clock, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	const n = 60
	ids := make([]backend.ExecutionID, n)
	for i := range ids {
		res, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: backend.NewExecutionID(), LaneID: "crash", Namespace: "crash"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = res.ExecutionID
	}

	child := exec.Command(os.Args[0], "-test.run=^TestCrashChildWorker$", "-test.count=1")
	child.Env = append(os.Environ(), crashChildEnv+"="+path, backend.DevModeEnv+"=1")
	if err := child.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	defer child.Process.Kill() //nolint:errcheck // already dead in the normal path

	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	completions := func() int {
		var c int
		if err := raw.QueryRowContext(ctx, "SELECT count(*) FROM ff_completion_event").Scan(&c); err != nil {
			t.Fatalf("count completions: %v", err)
		}
		return c
	}
	// Kill once the child has finished some work (however fast it is).
	deadline := time.Now().Add(2 * time.Minute)
	for completions() < 5 {
		if time.Now().After(deadline) {
			t.Fatal("child completed nothing within 2 minutes")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	_ = child.Wait()
	killedAt := completions()
	var leased int
	if err := raw.QueryRowContext(ctx, "SELECT count(*) FROM ff_exec_core WHERE public_state = 'active'").Scan(&leased); err != nil {
		t.Fatal(err)
	}
	if killedAt >= n {
		t.Fatalf("child finished all %d executions before the kill; nothing was tested", n)
	}

	// The survivor: expire the dead worker's lease, then drain the lane.
	clock.Advance(time.Minute)
	if _, err := b.RunScannerOnce(ctx, scanners.JobLeaseExpiry); err != nil {
		t.Fatal(err)
	}
	for {
		h, err := b.Claim(ctx, "crash", backend.CapabilitySet{}, backend.ClaimPolicy{LeaseTTL: time.Minute, WorkerID: "survivor", WorkerInstanceID: "survivor-1"})
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		if err := b.Complete(ctx, *h, []byte("survivor")); err != nil {
			t.Fatal(err)
		}
	}

	for _, id := range ids {
		var successes int
		if err := raw.QueryRowContext(ctx, "SELECT count(*) FROM ff_completion_event WHERE execution_id = ? AND outcome = 'success'", string(id)).Scan(&successes); err != nil {
			t.Fatal(err)
		}
		if successes != 1 {
			t.Errorf("%s completed %d times, want exactly once", id, successes)
		}
		if got, err := b.ReadExecutionState(ctx, id); err != nil || *got != backend.PublicStateCompleted {
			t.Errorf("%s state = %v, %v; want completed", id, got, err)
		}
	}
	if total := completions(); total != n {
		t.Errorf("completion events = %d, want %d", total, n)
	}
	t.Logf("child completed %d of %d and held %d lease(s) at SIGKILL", killedAt, n, leased)
}
