package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/migrations"
)

// bin is the ffsqlite binary TestMain builds once for every test.
var bin string

// cliTimeout bounds one CLI run. It is generous on purpose: it only turns
// a hung process into a failure, and never decides an outcome.
const cliTimeout = 2 * time.Minute

// TestMain builds the binary once and sets FF_DEV_MODE=1 for this process
// (which seeds databases through the backend API) and, by inheritance, for
// the CLI processes; tests of the guard remove it from the child's env.
func TestMain(m *testing.M) {
	if err := os.Setenv(backend.DevModeEnv, "1"); err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "ffsqlite-cli-test-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "ffsqlite")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one finished CLI run.
type result struct {
	code   int
	stderr string
	stdout string
}

// runOpts adjusts one CLI run.
type runOpts struct {
	// noDevMode removes FF_DEV_MODE from the child's environment.
	noDevMode bool
	// env adds variables to the child's environment.
	env []string
	// stdin is the child's standard input.
	stdin string
}

// childEnv is the test process's environment without FF_DEV_MODE (when
// noDevMode) and without FFSQLITE_DB (an operator's value must not leak
// into a test), plus extra.
func childEnv(noDevMode bool, extra []string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, dbEnv+"=") || (noDevMode && strings.HasPrefix(kv, backend.DevModeEnv+"="))
	})
	return append(env, extra...)
}

// runCLI runs the binary with args and returns its outputs and exit code.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	return runCLIWith(t, runOpts{}, args...)
}

// runCLIWith is runCLI with options.
func runCLIWith(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = childEnv(o.noDevMode, o.env)
	cmd.Stdin = strings.NewReader(o.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("run %v: %v", args, err)
	}
	return result{code: code, stderr: stderr.String(), stdout: stdout.String()}
}

// wantCode fails unless r exited with code.
func wantCode(t *testing.T, r result, code int, args ...any) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%v: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", args, r.code, code, r.stdout, r.stderr)
	}
}

// ok runs args and requires exit 0.
func ok(t *testing.T, args ...string) result {
	t.Helper()
	r := runCLI(t, args...)
	wantCode(t, r, exitOK, args)
	return r
}

// decode unmarshals r's stdout into v.
func decode(t *testing.T, r result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("decode JSON: %v\n%s", err, r.stdout)
	}
}

// Seeding: a file database opened through the backend API, with a signing
// key so suspensions can mint waitpoint tokens. It uses the system clock,
// like the CLI process.
const (
	lane    = backend.LaneID("cli")
	kid     = "k1"
	longTTL = time.Hour // leases outlive every test
)

var secret = strings.Repeat("ab", 32)

// env is one test's database: the backend seeding it and its path.
type env struct {
	t    *testing.T
	b    *backend.SQLiteBackend
	path string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ff.db")
	b, err := backend.NewWithOptions(t.Context(), path, backend.Options{
		Logger:              slog.New(slog.DiscardHandler),
		WaitpointHMACSecret: &backend.SeedWaitpointHMACSecretArgs{Kid: kid, SecretHex: secret},
	})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &env{t: t, b: b, path: path}
}

// create submits an execution on lane l with tags.
func (e *env) create(l backend.LaneID, tags map[string]string) backend.ExecutionID {
	e.t.Helper()
	res, err := e.b.CreateExecution(e.t.Context(), backend.CreateExecutionArgs{
		ExecutionID:   backend.NewExecutionID(),
		ExecutionKind: "job",
		LaneID:        l,
		Namespace:     "ns",
		Tags:          tags,
	})
	if err != nil {
		e.t.Fatalf("CreateExecution: %v", err)
	}
	return res.ExecutionID
}

// claim leases the next execution of l and requires it to be want.
func (e *env) claim(l backend.LaneID, want backend.ExecutionID) backend.Handle {
	e.t.Helper()
	h, err := e.b.Claim(e.t.Context(), l, backend.CapabilitySet{}, backend.ClaimPolicy{
		LeaseTTL: longTTL, WorkerID: "w", WorkerInstanceID: "w-1",
	})
	if err != nil || h == nil {
		e.t.Fatalf("Claim(%s) = %v, %v", l, h, err)
	}
	if h.ExecutionID() != want {
		e.t.Fatalf("claimed %s, want %s", h.ExecutionID(), want)
	}
	return *h
}

// running creates an execution on its own lane and claims it.
func (e *env) running(l backend.LaneID) (backend.ExecutionID, backend.Handle) {
	e.t.Helper()
	id := e.create(l, nil)
	return id, e.claim(l, id)
}

// state reads id's public state through the API.
func (e *env) state(id backend.ExecutionID) backend.PublicState {
	e.t.Helper()
	st, err := e.b.ReadExecutionState(e.t.Context(), id)
	if err != nil || st == nil {
		e.t.Fatalf("ReadExecutionState(%s) = %v, %v", id, st, err)
	}
	return *st
}

// appendFrame appends a stdout frame with payload.
func (e *env) appendFrame(h backend.Handle, payload string) {
	e.t.Helper()
	if _, err := e.b.AppendFrame(e.t.Context(), h, backend.Frame{Kind: backend.FrameStdout, Bytes: []byte(payload)}); err != nil {
		e.t.Fatalf("AppendFrame: %v", err)
	}
}

// suspend suspends h on one fresh waitpoint until a signal named name.
func (e *env) suspend(h backend.Handle, name string) backend.SuspendOutcomeDetails {
	e.t.Helper()
	wp := backend.FreshBinding()
	out, err := e.b.Suspend(e.t.Context(), h, backend.SuspendArgs{
		SuspensionID:    backend.NewSuspensionID(),
		Waitpoints:      []backend.WaitpointBinding{wp},
		ResumeCondition: backend.SingleCondition(wp.WaitpointKey, backend.ByName(name)),
		ResumePolicy:    backend.NormalResumePolicy(),
		ReasonCode:      backend.ReasonWaitingForApproval,
	})
	if err != nil || out.Kind != backend.SuspendSuspended {
		e.t.Fatalf("Suspend = %+v, %v", out, err)
	}
	return out.Details
}

// hasRow reports whether some line of out has exactly the cells (split on
// whitespace), so table assertions do not depend on column widths.
func hasRow(out string, cells ...string) bool {
	for line := range strings.Lines(out) {
		if slices.Equal(strings.Fields(line), cells) {
			return true
		}
	}
	return false
}

// fileSize returns path's size, or -1 when it does not exist.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// migrationStatus is migrate status's JSON, as a consumer reads it.
type migrationStatus struct {
	Migrations []struct {
		AppliedAt *time.Time `json:"applied_at"`
		Source    string     `json:"source"`
		State     string     `json:"state"`
		Version   int64      `json:"version"`
	} `json:"migrations"`
	Version int64 `json:"version"`
}

// states renders a status as "version:state" items.
func (s migrationStatus) states() []string {
	out := make([]string, 0, len(s.Migrations))
	for _, m := range s.Migrations {
		out = append(out, fmt.Sprintf("%d:%s", m.Version, m.State))
		if (m.State == "applied") != (m.AppliedAt != nil) {
			out = append(out, fmt.Sprintf("%d: applied_at %v with state %s", m.Version, m.AppliedAt, m.State))
		}
	}
	return out
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(files) < 2 {
		t.Fatalf("embedded migrations: %v, %v", files, err)
	}
	n := int64(len(files))
	// wantStates is every version applied up to upTo, pending after.
	wantStates := func(upTo int64) []string {
		var out []string
		for v := int64(1); v <= n; v++ {
			state := "pending"
			if v <= upTo {
				state = "applied"
			}
			out = append(out, fmt.Sprintf("%d:%s", v, state))
		}
		return out
	}
	status := func(t *testing.T, path string, want int64) {
		t.Helper()
		var got migrationStatus
		decode(t, ok(t, "--db", path, "--json", "migrate", "status"), &got)
		if got.Version != want {
			t.Errorf("version = %d, want %d", got.Version, want)
		}
		if diff := cmp.Diff(wantStates(want), got.states()); diff != "" {
			t.Errorf("migrate status (-want +got):\n%s", diff)
		}
	}

	t.Run("FreshFile", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "fresh.db")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		status(t, path, 0)
		r := ok(t, "--db", path, "migrate", "status")
		if !strings.Contains(r.stdout, "VERSION") || strings.Count(r.stdout, "pending") != int(n) {
			t.Errorf("table:\n%s", r.stdout)
		}
		// Nothing applied: down is an error and leaves the file alone.
		wantCode(t, runCLI(t, "--db", path, "migrate", "down"), exitError, "down on fresh")
		status(t, path, 0)

		r = ok(t, "--db", path, "migrate", "up")
		if strings.Count(r.stdout, "applied") != int(n) {
			t.Errorf("up output:\n%s", r.stdout)
		}
		status(t, path, n)
		// Up again applies nothing.
		if r := ok(t, "--db", path, "migrate", "up"); !strings.Contains(r.stdout, "no pending migrations") {
			t.Errorf("second up:\n%s", r.stdout)
		}

		var down struct {
			RolledBack []struct {
				Version int64 `json:"version"`
			} `json:"rolled_back"`
			Version int64 `json:"version"`
		}
		decode(t, ok(t, "--db", path, "migrate", "down", "--json"), &down)
		if len(down.RolledBack) != 1 || down.RolledBack[0].Version != n || down.Version != n-1 {
			t.Errorf("down = %+v, want version %d rolled back", down, n)
		}
		status(t, path, n-1)
		ok(t, "--db", path, "migrate", "down")
		status(t, path, n-2)

		ok(t, "--db", path, "migrate", "up")
		status(t, path, n)
		// The migrated file is what the backend expects.
		b, err := backend.New(t.Context(), path)
		if err != nil {
			t.Fatalf("backend.New after migrate: %v", err)
		}
		b.Close()
	})

	t.Run("UpCreatesMissingFile", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "new.db")
		ok(t, "--db", path, "migrate", "up")
		status(t, path, n)
	})

	t.Run("NoDevModeNeeded", func(t *testing.T) {
		t.Parallel()
		// migrate never activates the backend, so the guard does not apply.
		path := filepath.Join(t.TempDir(), "new.db")
		r := runCLIWith(t, runOpts{noDevMode: true}, "--db", path, "migrate", "up")
		wantCode(t, r, exitOK, "migrate up without FF_DEV_MODE")
	})

	t.Run("ErrMissingFile", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "missing.db")
		for _, verb := range []string{"status", "down"} {
			r := runCLI(t, "--db", path, "migrate", verb)
			wantCode(t, r, exitError, verb)
			if !strings.Contains(r.stderr, "does not exist") {
				t.Errorf("%s stderr = %q", verb, r.stderr)
			}
		}
		if size := fileSize(t, path); size != -1 {
			t.Errorf("missing file was created (size %d)", size)
		}
	})
}

// listedExecution is one executions list JSON item, as a consumer reads it.
type listedExecution struct {
	ExecutionID       string            `json:"execution_id"`
	LaneID            string            `json:"lane_id"`
	Namespace         string            `json:"namespace"`
	PublicState       string            `json:"public_state"`
	Tags              map[string]string `json:"tags"`
	TotalAttemptCount uint32            `json:"total_attempt_count"`
}

type executionList struct {
	Executions []listedExecution `json:"executions"`
	Next       string            `json:"next"`
}

func TestExecutions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Three executions: a1 and a2 on lane "a" (a1 claimed), b1 on "b".
	// a1 is claimed before a2 exists: executions created in the same
	// millisecond are claimed in (random) id order.
	a1 := e.create("a", map[string]string{"app.user": "42"})
	h := e.claim("a", a1)
	a2 := e.create("a", nil)
	b1 := e.create("b", nil)
	want := map[backend.ExecutionID]listedExecution{
		a1: {ExecutionID: string(a1), LaneID: "a", Namespace: "ns", PublicState: "active", Tags: map[string]string{"app.user": "42"}, TotalAttemptCount: 1},
		a2: {ExecutionID: string(a2), LaneID: "a", Namespace: "ns", PublicState: "waiting", Tags: map[string]string{}},
		b1: {ExecutionID: string(b1), LaneID: "b", Namespace: "ns", PublicState: "waiting", Tags: map[string]string{}},
	}
	// inIDOrder is the listing's order.
	inIDOrder := func(ids ...backend.ExecutionID) []listedExecution {
		slices.Sort(ids)
		out := make([]listedExecution, 0, len(ids))
		for _, id := range ids {
			out = append(out, want[id])
		}
		return out
	}

	t.Run("ListTable", func(t *testing.T) {
		t.Parallel()
		r := ok(t, "--db", e.path, "executions", "list")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "EXECUTION_ID") {
			t.Fatalf("table:\n%s", r.stdout)
		}
		for _, id := range []backend.ExecutionID{a1, a2, b1} {
			w := want[id]
			if !slices.ContainsFunc(lines, func(l string) bool {
				f := strings.Fields(l)
				return len(f) > 3 && f[0] == w.ExecutionID && f[1] == w.LaneID && f[2] == w.PublicState
			}) {
				t.Errorf("no row for %s in:\n%s", id, r.stdout)
			}
		}
	})

	t.Run("ListJSON", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			args []string
			want executionList
		}{
			{"All", nil, executionList{Executions: inIDOrder(a1, a2, b1)}},
			{"Lane", []string{"--lane", "a"}, executionList{Executions: inIDOrder(a1, a2)}},
			{"State", []string{"--state", "waiting"}, executionList{Executions: inIDOrder(a2, b1)}},
			{"LaneAndState", []string{"--lane", "a", "--state", "active"}, executionList{Executions: inIDOrder(a1)}},
			{"NoMatch", []string{"--state", "failed"}, executionList{Executions: []listedExecution{}}},
			{"OtherPartition", []string{"--partition", "7"}, executionList{Executions: []listedExecution{}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				var got executionList
				decode(t, ok(t, append([]string{"--db", e.path, "executions", "list", "--json"}, tt.args...)...), &got)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("executions list %v (-want +got):\n%s", tt.args, diff)
				}
			})
		}
	})

	t.Run("ListPages", func(t *testing.T) {
		t.Parallel()
		all := inIDOrder(a1, a2, b1)
		for _, filter := range [][]string{nil, {"--lane", "a"}} {
			var got []listedExecution
			after := ""
			for range 4 {
				args := append([]string{"--db", e.path, "--json", "executions", "list", "--limit", "1"}, filter...)
				if after != "" {
					args = append(args, "--after", after)
				}
				var page executionList
				decode(t, ok(t, args...), &page)
				got = append(got, page.Executions...)
				if after = page.Next; after == "" {
					break
				}
			}
			wantAll := slices.DeleteFunc(slices.Clone(all), func(x listedExecution) bool {
				return filter != nil && x.LaneID != "a"
			})
			if diff := cmp.Diff(wantAll, got); diff != "" {
				t.Errorf("pages of 1 with %v (-want +got):\n%s", filter, diff)
			}
		}
	})

	t.Run("ShowJSON", func(t *testing.T) {
		t.Parallel()
		var got struct {
			listedExecution
			Attempts []struct {
				AttemptIndex     int64      `json:"attempt_index"`
				AttemptType      string     `json:"attempt_type"`
				EndedAt          *time.Time `json:"ended_at"`
				LeaseEpoch       int64      `json:"lease_epoch"`
				Outcome          string     `json:"outcome"`
				WorkerID         string     `json:"worker_id"`
				WorkerInstanceID string     `json:"worker_instance_id"`
			} `json:"attempts"`
			CurrentLease *struct {
				LeaseEpoch       uint64 `json:"lease_epoch"`
				WorkerInstanceID string `json:"worker_instance_id"`
			} `json:"current_lease"`
			ExecutionKind string `json:"execution_kind"`
			State         struct {
				AttemptState    string `json:"attempt_state"`
				LifecyclePhase  string `json:"lifecycle_phase"`
				OwnershipState  string `json:"ownership_state"`
				TerminalOutcome string `json:"terminal_outcome"`
			} `json:"state"`
		}
		decode(t, ok(t, "--db", e.path, "executions", "show", string(a1), "--json"), &got)
		if diff := cmp.Diff(want[a1], got.listedExecution); diff != "" {
			t.Errorf("snapshot (-want +got):\n%s", diff)
		}
		if got.ExecutionKind != "job" {
			t.Errorf("execution_kind = %q", got.ExecutionKind)
		}
		type state = struct{ AttemptState, LifecyclePhase, OwnershipState, TerminalOutcome string }
		if diff := cmp.Diff(state{"running_attempt", "active", "leased", "none"}, state(got.State)); diff != "" {
			t.Errorf("state (-want +got):\n%s", diff)
		}
		if got.CurrentLease == nil || got.CurrentLease.WorkerInstanceID != "w-1" || got.CurrentLease.LeaseEpoch != uint64(h.LeaseEpoch()) {
			t.Errorf("current_lease = %+v, want w-1 at epoch %d", got.CurrentLease, h.LeaseEpoch())
		}
		if len(got.Attempts) != 1 {
			t.Fatalf("attempts = %+v, want one", got.Attempts)
		}
		a := got.Attempts[0]
		if a.AttemptIndex != 0 || a.AttemptType != "initial" || a.WorkerID != "w" || a.WorkerInstanceID != "w-1" ||
			a.Outcome != "" || a.EndedAt != nil || a.LeaseEpoch != int64(h.LeaseEpoch()) {
			t.Errorf("attempt = %+v", a)
		}
	})

	t.Run("ShowTable", func(t *testing.T) {
		t.Parallel()
		r := ok(t, "--db", e.path, "executions", "show", string(a1))
		for _, want := range []string{
			"execution_id", string(a1), "lifecycle_phase", "running_attempt", "app.user=42",
			"ATTEMPT", "initial", "w/w-1",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("show output lacks %q:\n%s", want, r.stdout)
			}
		}
	})

	t.Run("ShowNotClaimed", func(t *testing.T) {
		t.Parallel()
		var got struct {
			Attempts       []json.RawMessage `json:"attempts"`
			CurrentAttempt *json.RawMessage  `json:"current_attempt"`
			PublicState    string            `json:"public_state"`
		}
		decode(t, ok(t, "--db", e.path, "--json", "executions", "show", string(b1)), &got)
		if len(got.Attempts) != 0 || got.CurrentAttempt != nil || got.PublicState != "waiting" {
			t.Errorf("unclaimed execution = %+v", got)
		}
	})
}

func TestErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.create(lane, nil)
	missing := filepath.Join(t.TempDir(), "missing.db")
	unknownExec := string(backend.NewExecutionID())
	unknownUUID := string(backend.NewBudgetID())
	tests := []struct {
		name   string
		opts   runOpts
		args   []string
		code   int
		stderr string // a substring stderr must contain
	}{
		{"ErrNotFoundExecution", runOpts{}, []string{"--db", e.path, "executions", "show", unknownExec}, exitNotFound, "not found"},
		{"ErrNotFoundExecutionJSON", runOpts{}, []string{"--db", e.path, "--json", "executions", "show", unknownExec}, exitNotFound, "not found"},
		{"ErrNotFoundStream", runOpts{}, []string{"--db", e.path, "stream", "tail", unknownExec}, exitNotFound, "not found"},
		{"ErrNotFoundWaitpointsOfExecution", runOpts{}, []string{"--db", e.path, "waitpoints", "list", "--execution", unknownExec}, exitNotFound, "not found"},
		{"ErrNotFoundFlow", runOpts{}, []string{"--db", e.path, "flows", "show", unknownUUID}, exitNotFound, "not found"},
		{"ErrNotFoundBudget", runOpts{}, []string{"--db", e.path, "budget", "status", unknownUUID}, exitNotFound, "not found"},
		{"ErrNotFoundWaitpoint", runOpts{}, []string{"--db", e.path, "signal", "deliver", "--execution", string(id), "--waitpoint", unknownUUID, "--token", kid + ":" + secret, "--name", "x"}, exitNotFound, "not found"},
		{"ErrUsageMalformedID", runOpts{}, []string{"--db", e.path, "executions", "show", "not-an-id"}, exitUsage, "invalid execution id"},
		{"ErrUsageUnknownFlag", runOpts{}, []string{"--db", e.path, "executions", "list", "--bogus"}, exitUsage, "flag provided but not defined"},
		{"ErrUsageUnknownGlobalFlag", runOpts{}, []string{"--bogus", "executions", "list"}, exitUsage, "flag provided but not defined"},
		{"ErrUsageBadState", runOpts{}, []string{"--db", e.path, "executions", "list", "--state", "sleeping"}, exitUsage, "--state"},
		{"ErrUsageBadLimit", runOpts{}, []string{"--db", e.path, "executions", "list", "--limit", "0"}, exitUsage, "--limit"},
		{"ErrUsageBadPartition", runOpts{}, []string{"--db", e.path, "executions", "list", "--partition", "70000"}, exitUsage, "--partition"},
		{"ErrUsageMissingArg", runOpts{}, []string{"--db", e.path, "executions", "show"}, exitUsage, "missing argument"},
		{"ErrUsageExtraArg", runOpts{}, []string{"--db", e.path, "executions", "list", "x"}, exitUsage, "unexpected argument"},
		{"ErrUsageUnknownCommand", runOpts{}, []string{"--db", e.path, "jobs", "list"}, exitUsage, "unknown command"},
		{"ErrUsageUnknownSubcommand", runOpts{}, []string{"--db", e.path, "executions", "delete"}, exitUsage, "unknown subcommand"},
		{"ErrUsageNoCommand", runOpts{}, nil, exitUsage, "usage:"},
		{"ErrUsageNoDB", runOpts{}, []string{"executions", "list"}, exitUsage, dbEnv},
		{"ErrUsageSignalMissingFlag", runOpts{}, []string{"--db", e.path, "signal", "deliver", "--execution", string(id)}, exitUsage, "--waitpoint is required"},
		{"ErrUsageSignalBadPayload", runOpts{}, []string{"--db", e.path, "signal", "deliver", "--execution", string(id), "--waitpoint", unknownUUID, "--token", "t", "--name", "x", "--payload", "{"}, exitUsage, "JSON"},
		{"ErrUsageStreamBadAttempt", runOpts{}, []string{"--db", e.path, "stream", "tail", string(id), "--attempt", "-5"}, exitUsage, "--attempt"},
		{"ErrMissingDatabase", runOpts{}, []string{"--db", missing, "executions", "list"}, exitError, "does not exist"},
		{"ErrDevMode", runOpts{noDevMode: true}, []string{"--db", e.path, "executions", "list"}, exitDevMode, backend.RequiresDevModeMessage},
		{"ErrDevModeShow", runOpts{noDevMode: true}, []string{"--db", e.path, "--json", "executions", "show", string(id)}, exitDevMode, backend.RequiresDevModeMessage},
		{"DBFromEnv", runOpts{env: []string{dbEnv + "=" + e.path}}, []string{"executions", "show", string(id)}, exitOK, ""},
		{"Help", runOpts{}, []string{"-h"}, exitOK, "Exit codes"},
		{"SubcommandHelp", runOpts{}, []string{"executions", "list", "-h"}, exitOK, "-state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLIWith(t, tt.opts, tt.args...)
			wantCode(t, r, tt.code, tt.args)
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, r.stderr)
			}
			if tt.code != exitOK && r.stdout != "" {
				t.Errorf("stdout on error:\n%s", r.stdout)
			}
		})
	}
	// No case created the missing database, and none changed the seeded
	// execution.
	if size := fileSize(t, missing); size != -1 {
		t.Errorf("missing database was created (size %d)", size)
	}
	if st := e.state(id); st != backend.PublicStateWaiting {
		t.Errorf("state = %s, want waiting", st)
	}
}

func TestFlowsShow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	flow := backend.NewFlowID()
	if _, err := e.b.CreateFlow(ctx, backend.CreateFlowArgs{FlowID: flow, FlowKind: "pipeline", Namespace: "ns"}); err != nil {
		t.Fatal(err)
	}
	// root → left (applied), root → right (staged only); lone has no edges.
	root, left, right, lone := e.create(lane, nil), e.create(lane, nil), e.create(lane, nil), e.create(lane, nil)
	for _, id := range []backend.ExecutionID{root, left, right, lone} {
		if _, err := e.b.AddExecutionToFlow(ctx, backend.AddExecutionToFlowArgs{ExecutionID: id, FlowID: flow}); err != nil {
			t.Fatal(err)
		}
	}
	stage := func(up, down backend.ExecutionID) backend.EdgeID {
		snap, err := e.b.DescribeFlow(ctx, flow)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.b.StageDependencyEdge(ctx, backend.StageDependencyEdgeArgs{
			FlowID: flow, EdgeID: backend.NewEdgeID(), UpstreamExecutionID: up, DownstreamExecutionID: down,
			ExpectedGraphRevision: snap.GraphRevision,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res.EdgeID
	}
	toLeft, toRight := stage(root, left), stage(root, right)
	if _, err := e.b.ApplyDependencyToChild(ctx, backend.ApplyDependencyToChildArgs{FlowID: flow, EdgeID: toLeft, DownstreamExecutionID: left}); err != nil {
		t.Fatal(err)
	}

	t.Run("Tree", func(t *testing.T) {
		t.Parallel()
		r := ok(t, "--db", e.path, "flows", "show", string(flow))
		for _, want := range [][]string{{"kind", "pipeline"}, {"members", "4"}, {"edges", "2"}, {"state", "open"}} {
			if !hasRow(r.stdout, want...) {
				t.Errorf("header lacks row %q:\n%s", want, r.stdout)
			}
		}
		for _, want := range []string{
			string(root) + "  waiting\n",
			fmt.Sprintf("(edge %s applied) %s  waiting_children  [deps all_of: pending, 0/1 satisfied]", toLeft[:8], left),
			fmt.Sprintf("(edge %s pending) %s  waiting\n", toRight[:8], right),
			string(lone) + "  waiting\n",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("tree lacks %q:\n%s", want, r.stdout)
			}
		}
		// The children hang under root with tree branches.
		if !strings.Contains(r.stdout, "├── ") || !strings.Contains(r.stdout, "└── ") {
			t.Errorf("no tree branches:\n%s", r.stdout)
		}
	})

	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		type edge struct {
			DownstreamExecutionID string `json:"downstream_execution_id"`
			EdgeID                string `json:"edge_id"`
			EdgeState             string `json:"edge_state"`
			UpstreamExecutionID   string `json:"upstream_execution_id"`
		}
		type member struct {
			ExecutionID string `json:"execution_id"`
			Group       *struct {
				GroupState string `json:"group_state"`
				Policy     string `json:"policy"`
				TotalDeps  uint32 `json:"total_deps"`
			} `json:"group"`
			PublicState string `json:"public_state"`
		}
		var got struct {
			Edges         []edge   `json:"edges"`
			FlowID        string   `json:"flow_id"`
			FlowKind      string   `json:"flow_kind"`
			GraphRevision uint64   `json:"graph_revision"`
			Members       []member `json:"members"`
			NodeCount     uint32   `json:"node_count"`
		}
		decode(t, ok(t, "--db", e.path, "--json", "flows", "show", string(flow)), &got)
		members := []backend.ExecutionID{root, left, right, lone}
		slices.Sort(members)
		var ids, states []string
		for _, m := range got.Members {
			ids = append(ids, m.ExecutionID)
			states = append(states, m.ExecutionID+":"+m.PublicState)
			if (m.Group != nil) != (m.ExecutionID == string(left)) {
				t.Errorf("member %s group = %+v", m.ExecutionID, m.Group)
			}
			if m.Group != nil && (m.Group.GroupState != "pending" || m.Group.Policy != "all_of" || m.Group.TotalDeps != 1) {
				t.Errorf("left's group = %+v", *m.Group)
			}
		}
		var wantIDs []string
		for _, id := range members {
			wantIDs = append(wantIDs, string(id))
		}
		if diff := cmp.Diff(wantIDs, ids); diff != "" {
			t.Errorf("members (-want +got):\n%s", diff)
		}
		wantEdges := []edge{
			{DownstreamExecutionID: string(left), EdgeID: string(toLeft), EdgeState: "applied", UpstreamExecutionID: string(root)},
			{DownstreamExecutionID: string(right), EdgeID: string(toRight), EdgeState: "pending", UpstreamExecutionID: string(root)},
		}
		slices.SortFunc(got.Edges, func(a, b edge) int {
			return strings.Compare(a.DownstreamExecutionID+a.EdgeID, b.DownstreamExecutionID+b.EdgeID)
		})
		slices.SortFunc(wantEdges, func(a, b edge) int {
			return strings.Compare(a.DownstreamExecutionID+a.EdgeID, b.DownstreamExecutionID+b.EdgeID)
		})
		if diff := cmp.Diff(wantEdges, got.Edges); diff != "" {
			t.Errorf("edges (-want +got):\n%s", diff)
		}
		if got.FlowID != string(flow) || got.FlowKind != "pipeline" || got.NodeCount != 4 {
			t.Errorf("header = %s %s %d", got.FlowID, got.FlowKind, got.NodeCount)
		}
	})
}

// listedWaitpoint is one waitpoints list JSON item, as a consumer reads it.
type listedWaitpoint struct {
	ExecutionID         string   `json:"execution_id"`
	RequiredSignalNames []string `json:"required_signal_names"`
	State               string   `json:"state"`
	TokenKid            string   `json:"token_kid"`
	WaitpointID         string   `json:"waitpoint_id"`
	WaitpointKey        string   `json:"waitpoint_key"`
}

func TestWaitpointsAndSignal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id1, h1 := e.running("l1")
	id2, h2 := e.running("l2")
	wp1, wp2 := e.suspend(h1, "approved"), e.suspend(h2, "approved")
	e.running("l3") // active, no waitpoints
	listed := func(id backend.ExecutionID, d backend.SuspendOutcomeDetails) listedWaitpoint {
		return listedWaitpoint{
			ExecutionID: string(id), RequiredSignalNames: []string{"approved"}, State: "active",
			TokenKid: kid, WaitpointID: string(d.WaitpointID), WaitpointKey: string(d.WaitpointKey),
		}
	}
	list := func(t *testing.T, args ...string) []listedWaitpoint {
		t.Helper()
		var got struct {
			Waitpoints []listedWaitpoint `json:"waitpoints"`
		}
		decode(t, ok(t, append([]string{"--db", e.path, "--json", "waitpoints", "list"}, args...)...), &got)
		return got.Waitpoints
	}
	byExecution := func(ws ...listedWaitpoint) []listedWaitpoint {
		slices.SortFunc(ws, func(a, b listedWaitpoint) int { return strings.Compare(a.ExecutionID, b.ExecutionID) })
		return ws
	}

	// Listings before any signal.
	if diff := cmp.Diff(byExecution(listed(id1, wp1), listed(id2, wp2)), list(t)); diff != "" {
		t.Errorf("waitpoints list (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]listedWaitpoint{listed(id1, wp1)}, list(t, "--execution", string(id1))); diff != "" {
		t.Errorf("waitpoints list --execution (-want +got):\n%s", diff)
	}
	if got := list(t, "--limit", "1"); len(got) != 1 {
		t.Errorf("--limit 1 listed %d", len(got))
	}
	r := ok(t, "--db", e.path, "waitpoints", "list")
	if !strings.Contains(r.stdout, string(wp1.WaitpointID)) || !strings.Contains(r.stdout, "approved") || strings.Contains(r.stdout, secret) {
		t.Errorf("table:\n%s", r.stdout)
	}

	deliver := []string{"--db", e.path, "signal", "deliver", "--execution", string(id1), "--waitpoint", string(wp1.WaitpointID), "--name", "approved"}

	// A token that does not verify changes nothing.
	bad := runCLI(t, append(deliver, "--token", kid+":"+strings.Repeat("0", 64))...)
	wantCode(t, bad, exitError, "bad token")
	if st := e.state(id1); st != backend.PublicStateSuspended {
		t.Fatalf("after bad token: state = %s, want suspended", st)
	}

	// The token comes on stdin ("--token -"), as an operator keeps it out
	// of the process list.
	r = runCLIWith(t, runOpts{stdin: wp1.WaitpointToken.Raw() + "\n"}, append(deliver, "--token", "-", "--json", "--payload", `{"by":"alice"}`, "--idempotency-key", "k")...)
	wantCode(t, r, exitOK, "deliver")
	var res struct {
		Effect   string `json:"effect"`
		Kind     string `json:"kind"`
		SignalID string `json:"signal_id"`
	}
	decode(t, r, &res)
	if res.Kind != "accepted" || res.Effect != string(backend.EffectResumeConditionSatisfied) || res.SignalID == "" {
		t.Errorf("deliver = %+v", res)
	}
	if st := e.state(id1); st != backend.PublicStateResumable {
		t.Errorf("after deliver: state = %s, want resumable", st)
	}
	// A repeat with the same idempotency key is a duplicate of the first.
	r = ok(t, append(deliver, "--token", wp1.WaitpointToken.Raw(), "--idempotency-key", "k")...)
	if !strings.Contains(r.stdout, "duplicate") || !strings.Contains(r.stdout, res.SignalID) {
		t.Errorf("repeat:\n%s", r.stdout)
	}
	// The resumed execution's waitpoint is closed, so no longer listed.
	if diff := cmp.Diff([]listedWaitpoint{listed(id2, wp2)}, list(t)); diff != "" {
		t.Errorf("waitpoints after resume (-want +got):\n%s", diff)
	}
	if got := list(t, "--execution", string(id1)); len(got) != 0 {
		t.Errorf("resumed execution still lists %+v", got)
	}
}

// streamFrame is one stream frame in JSON, as a consumer reads it.
type streamFrame struct {
	Event  string            `json:"event"`
	Fields map[string]string `json:"fields"`
	ID     string            `json:"id"`
}

func TestStreamTail(t *testing.T) {
	t.Parallel()

	t.Run("Read", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		id, h := e.running(lane)
		e.appendFrame(h, "hello")
		e.appendFrame(h, "line\nbreak")
		r := ok(t, "--db", e.path, "stream", "tail", string(id))
		if !strings.Contains(r.stdout, "hello") || !strings.Contains(r.stdout, `"line\nbreak"`) || strings.Contains(r.stdout, "closed") {
			t.Errorf("table:\n%s", r.stdout)
		}
		var got struct {
			AttemptIndex uint32        `json:"attempt_index"`
			ClosedAt     *time.Time    `json:"closed_at"`
			ClosedReason string        `json:"closed_reason"`
			Frames       []streamFrame `json:"frames"`
		}
		decode(t, ok(t, "--db", e.path, "--json", "stream", "tail", string(id), "--attempt", "0"), &got)
		var payloads []string
		for _, f := range got.Frames {
			payloads = append(payloads, f.Fields["payload"]+"/"+f.Fields["frame_type"])
		}
		if diff := cmp.Diff([]string{"hello/stdout", "line\nbreak/stdout"}, payloads); diff != "" {
			t.Errorf("frames (-want +got):\n%s", diff)
		}
		if got.ClosedAt != nil {
			t.Errorf("open attempt reported closed: %+v", got)
		}

		if err := e.b.Complete(t.Context(), h, nil); err != nil {
			t.Fatal(err)
		}
		decode(t, ok(t, "--db", e.path, "--json", "stream", "tail", string(id)), &got)
		if got.ClosedAt == nil || got.ClosedReason != "attempt_success" || len(got.Frames) != 2 {
			t.Errorf("after complete: %+v", got)
		}
		// Following an ended attempt prints its frames and the close, then
		// returns.
		r = ok(t, "--db", e.path, "stream", "tail", string(id), "--follow")
		if !strings.HasPrefix(r.stdout, "ID ") || !strings.Contains(r.stdout, "hello") || !strings.Contains(r.stdout, "stream closed at") {
			t.Errorf("text follow:\n%s", r.stdout)
		}
		// An attempt that never existed has no frames.
		decode(t, ok(t, "--db", e.path, "--json", "stream", "tail", string(id), "--attempt", "5"), &got)
		if len(got.Frames) != 0 {
			t.Errorf("attempt 5: %+v", got)
		}
	})

	t.Run("FollowUntilComplete", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		id, h := e.running(lane)
		e.appendFrame(h, "first")
		f := startFollow(t, e.path, id)
		// The frame appended before the start proves the CLI is tailing.
		if got := f.next(t); got.Event != "frame" || got.Fields["payload"] != "first" {
			t.Fatalf("first line = %+v", got)
		}
		e.appendFrame(h, "second")
		if got := f.next(t); got.Event != "frame" || got.Fields["payload"] != "second" {
			t.Fatalf("second line = %+v", got)
		}
		e.appendFrame(h, "third")
		if err := e.b.Complete(t.Context(), h, nil); err != nil {
			t.Fatal(err)
		}
		if got := f.next(t); got.Fields["payload"] != "third" {
			t.Fatalf("third line = %+v", got)
		}
		var closed struct {
			ClosedAt     time.Time `json:"closed_at"`
			ClosedReason string    `json:"closed_reason"`
			Event        string    `json:"event"`
		}
		f.nextInto(t, &closed)
		if closed.Event != "closed" || closed.ClosedReason != "attempt_success" || closed.ClosedAt.IsZero() {
			t.Errorf("closed line = %+v", closed)
		}
		if code := f.wait(t); code != exitOK {
			t.Errorf("exit code %d, stderr:\n%s", code, f.stderr.String())
		}
	})

	t.Run("FollowInterrupted", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		id, h := e.running(lane)
		e.appendFrame(h, "only")
		f := startFollow(t, e.path, id)
		if got := f.next(t); got.Fields["payload"] != "only" {
			t.Fatalf("first line = %+v", got)
		}
		// SIGINT ends the follow as a normal stop.
		if err := f.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		if code := f.wait(t); code != exitOK {
			t.Errorf("exit code %d after SIGINT, stderr:\n%s", code, f.stderr.String())
		}
		if st := e.state(id); st != backend.PublicStateActive {
			t.Errorf("state = %s, want active", st)
		}
	})
}

func TestStreamFollowNeverStarted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.create(lane, nil)
	if _, err := e.b.CancelExecution(t.Context(), backend.CancelExecutionArgs{ExecutionID: id, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	// The attempt will never exist, so its stream never closes: follow
	// must not wait forever.
	r := runCLI(t, "--db", e.path, "stream", "tail", string(id), "--follow")
	wantCode(t, r, exitNotFound, "follow of a cancelled, never claimed execution")
	if !strings.Contains(r.stderr, "never started") || r.stdout != "" {
		t.Errorf("stdout = %q, stderr = %q", r.stdout, r.stderr)
	}
}

// follower is a running "stream tail --follow --json".
type follower struct {
	cmd    *exec.Cmd
	lines  *bufio.Scanner
	stderr *bytes.Buffer
}

// startFollow starts the follow in JSON-lines mode; the process is killed
// after cliTimeout or at the end of the test.
func startFollow(t *testing.T, path string, id backend.ExecutionID) *follower {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cliTimeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, "--db", path, "--json", "stream", "tail", string(id), "--follow")
	cmd.Env = childEnv(false, nil)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	f := &follower{cmd: cmd, lines: bufio.NewScanner(stdout), stderr: &bytes.Buffer{}}
	cmd.Stderr = f.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return f
}

// next reads the next JSON line as a frame; the read ends at the latest
// when the process is killed at cliTimeout.
func (f *follower) next(t *testing.T) streamFrame {
	t.Helper()
	var fr streamFrame
	f.nextInto(t, &fr)
	return fr
}

func (f *follower) nextInto(t *testing.T, v any) {
	t.Helper()
	if !f.lines.Scan() {
		t.Fatalf("follow ended early: %v\nstderr:\n%s", f.lines.Err(), f.stderr.String())
	}
	if err := json.Unmarshal(f.lines.Bytes(), v); err != nil {
		t.Fatalf("decode line %q: %v", f.lines.Text(), err)
	}
}

// wait drains stdout (no further lines are expected) and returns the exit
// code.
func (f *follower) wait(t *testing.T) int {
	t.Helper()
	for f.lines.Scan() {
		t.Errorf("unexpected line: %s", f.lines.Text())
	}
	err := f.cmd.Wait()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		return exitErr.ExitCode()
	}
	t.Fatalf("wait: %v", err)
	return -1
}

func TestBudgetStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	budget := backend.NewBudgetID()
	if _, err := e.b.CreateBudget(ctx, backend.CreateBudgetArgs{
		BudgetID: budget, Dimensions: []string{"tokens", "usd"}, HardLimits: []uint64{100, 0}, SoftLimits: []uint64{50, 5},
		EnforcementMode: "strict", ScopeType: "tenant", ScopeID: "acme",
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.ReportUsageAdmin(ctx, budget, backend.ReportUsageAdminArgs{Dimensions: []string{"tokens", "usd"}, Deltas: []uint64{60, 2}}); err != nil {
		t.Fatal(err)
	}

	type status struct {
		BudgetID        string            `json:"budget_id"`
		EnforcementMode string            `json:"enforcement_mode"`
		HardBreached    bool              `json:"hard_breached"`
		HardLimits      map[string]uint64 `json:"hard_limits"`
		ScopeID         string            `json:"scope_id"`
		ScopeType       string            `json:"scope_type"`
		SoftBreachCount uint64            `json:"soft_breach_count"`
		SoftLimits      map[string]uint64 `json:"soft_limits"`
		Usage           map[string]uint64 `json:"usage"`
	}
	var got status
	decode(t, ok(t, "--db", e.path, "--json", "budget", "status", string(budget)), &got)
	want := status{
		BudgetID: string(budget), EnforcementMode: "strict", ScopeID: "acme", ScopeType: "tenant", SoftBreachCount: 1,
		HardLimits: map[string]uint64{"tokens": 100, "usd": 0},
		SoftLimits: map[string]uint64{"tokens": 50, "usd": 5},
		Usage:      map[string]uint64{"tokens": 60, "usd": 2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("budget status (-want +got):\n%s", diff)
	}

	// Reaching the hard limit exactly breaches it.
	if _, err := e.b.ReportUsageAdmin(ctx, budget, backend.ReportUsageAdminArgs{Dimensions: []string{"tokens"}, Deltas: []uint64{40}}); err != nil {
		t.Fatal(err)
	}
	r := ok(t, "--db", e.path, "budget", "status", string(budget))
	for _, want := range [][]string{
		{"hard_breached", "true"}, {"scope", "tenant", "acme"},
		{"DIMENSION", "USAGE", "SOFT_LIMIT", "HARD_LIMIT"}, {"tokens", "100", "50", "100"}, {"usd", "2", "5", "-"},
	} {
		if !hasRow(r.stdout, want...) {
			t.Errorf("table lacks row %q:\n%s", want, r.stdout)
		}
	}
}
