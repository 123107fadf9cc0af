package backend

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCheckpointDue(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		commits uint64
		since   time.Duration
		want    bool
	}{
		{"NothingCommitted", 0, time.Hour, false},
		{"BusyWriter", checkpointBatch, checkpointTick, true},
		{"TrickleNotYet", checkpointBatch - 1, checkpointIdle - time.Millisecond, false},
		{"TrickleAfterIdle", 1, checkpointIdle, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := checkpointDue(tt.commits, tt.since); got != tt.want {
				t.Errorf("checkpointDue(%d, %v) = %v, want %v", tt.commits, tt.since, got, tt.want)
			}
		})
	}
}

// TestCheckpointerCopiesWAL commits far fewer frames than the writer's
// auto-checkpoint interval and waits for the rows to reach the database
// file itself: only the background checkpointer can have put them there.
func TestCheckpointerCopiesWAL(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	path := filepath.Join(t.TempDir(), "ff.db")
	db := openTestDatabase(t, path, Options{})
	if db.ckpt == nil {
		t.Fatal("a WAL database has no checkpointer")
	}
	b := &SQLiteBackend{db: db}
	const n = checkpointBatch + 1
	for range n {
		if _, err := b.CreateExecution(ctx, CreateExecutionArgs{
			ExecutionID: NewExecutionID(), LaneID: "ckpt", Namespace: "ns", ExecutionKind: "k",
		}); err != nil {
			t.Fatal(err)
		}
	}
	// A copy of the main file alone, without its WAL, holds what has
	// been checkpointed. The deadline is generous: a pass is due within
	// one tick of the last commit.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := checkpointedExecutions(t, path)
		if got == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file holds %d of %d executions after 30 s", got, n)
		}
		time.Sleep(checkpointTick)
	}
}

// checkpointedExecutions counts the executions in a copy of the database
// file taken without its WAL (0 while the table is not there yet).
func checkpointedExecutions(t *testing.T, path string) int {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "snap.db")
	if err := os.WriteFile(snap, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	conn, err := sql.Open("sqlite", "file:"+snap+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var count int
	if err := conn.QueryRow(`SELECT count(*) FROM ff_exec_core`).Scan(&count); err != nil {
		return 0
	}
	return count
}

func TestNoCheckpointerWithoutWAL(t *testing.T) {
	t.Parallel()

	off := false
	if db := openTestDatabase(t, filepath.Join(t.TempDir(), "ff.db"), Options{WAL: &off}); db.ckpt != nil {
		t.Error("a rollback-journal database has a checkpointer")
	}
	if db := openTestDatabase(t, ":memory:", Options{}); db.ckpt != nil {
		t.Error("a memory database has a checkpointer")
	}
}
