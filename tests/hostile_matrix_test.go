package tests

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/scanners"
)

// The hostile-input matrix (issue 10 item 3): every public method of
// EngineBackend, plus SQLiteBackend's batch and transactional creates, is
// fed input a careless or malicious caller could send — malformed and
// unknown ids, wrong states, foreign, corrupt and stale handles, forged
// tokens, oversized payloads, absurd numbers, a cancelled context — and
// must answer with the typed error its spec names while leaving every
// table of the database byte-for-byte unchanged. All cases share one
// seeded fixture, so they run one after another and the database is
// hashed before and after each call.

// Input classes: the second part of each subtest name.
const (
	hmCancelled        = "CancelledContext"
	hmMalformedID      = "MalformedID"
	hmUnknownID        = "UnknownID"
	hmForeignTag       = "ForeignBackendHandle"
	hmEmbeddedTag      = "EmbeddedForeignTagHandle"
	hmOtherDatabase    = "OtherDatabaseHandle"
	hmCorruptHandle    = "CorruptHandle"
	hmZeroHandle       = "ZeroHandle"
	hmRevokedHandle    = "StaleHandleRevoked"
	hmReclaimedHandle  = "StaleHandleReclaimed"
	hmSuspendedHandle  = "StaleHandleSuspended"
	hmExpiredLease     = "ExpiredLease"
	hmCompletedHandle  = "WrongStateCompleted"
	hmForgedIDInHandle = "MalformedIDInHandle"
)

// Lanes of the fixture: one per role, so no claim ever picks up another
// role's execution.
const (
	hmLaneWait     = backend.LaneID("hm-wait")
	hmLaneActive   = backend.LaneID("hm-active")
	hmLaneActive2  = backend.LaneID("hm-active2")
	hmLaneDone     = backend.LaneID("hm-done")
	hmLaneFailed   = backend.LaneID("hm-failed")
	hmLaneCancel   = backend.LaneID("hm-cancel")
	hmLaneRevoke   = backend.LaneID("hm-revoke")
	hmLaneExpired  = backend.LaneID("hm-expired")
	hmLaneReclaim  = backend.LaneID("hm-reclaim")
	hmLaneSus      = backend.LaneID("hm-sus")
	hmLaneSus2     = backend.LaneID("hm-sus2")
	hmLaneResumed  = backend.LaneID("hm-resumed")
	hmLaneRerun    = backend.LaneID("hm-rerun")
	hmLaneSusDead  = backend.LaneID("hm-sus-dead")
	hmLaneReplay   = backend.LaneID("hm-replay")
	hmLaneGrant    = backend.LaneID("hm-grant")
	hmLaneGrant2   = backend.LaneID("hm-grant2")
	hmLaneCaps     = backend.LaneID("hm-caps")
	hmLaneFlow     = backend.LaneID("hm-flow")
	hmLaneNoWork   = backend.LaneID("hm-no-work")
	hmSusKey       = backend.WaitpointKey("approval")
	hmSusIdemKey   = "hm-sus-once"
	hmGrantWorker  = backend.WorkerID("w-grant")
	hmReclaimer    = backend.WorkerID("w-reclaim")
	hmBudgetDim    = "tokens"
	hmSignalGo     = "go"
	hmSignalNoise  = "noise"
	hmMalformedRaw = "not-an-id"
)

// HMAC keys: k1 is seeded at open, k2 replaces it midway through the
// seeding, so the fixture holds tokens minted under both.
var (
	hmSecret1 = strings.Repeat("ab", 32)
	hmSecret2 = strings.Repeat("cd", 32)
)

// Error targets the sentinels do not cover on their own.
var (
	// hmInvalid is a generic validation failure (no more specific
	// sub-kind), narrower than backend.ErrInvalidInput.
	hmInvalid        = &backend.Error{Kind: backend.KindValidation, SubKind: backend.SubKindInvalidInput}
	hmNoExecution    = &backend.Error{Kind: backend.KindNotFound, Entity: backend.EntityExecution}
	hmNoFlow         = &backend.Error{Kind: backend.KindNotFound, Entity: backend.EntityFlow}
	hmNoBudget       = &backend.Error{Kind: backend.KindNotFound, Entity: backend.EntityBudget}
	hmNoWaitpoint    = &backend.Error{Kind: backend.KindNotFound, Entity: backend.EntityWaitpoint}
	hmMalformedExec  = backend.ExecutionID(hmMalformedRaw)
	hmMalformedFlow  = backend.FlowID(hmMalformedRaw)
	hmMalformedEdge  = backend.EdgeID(hmMalformedRaw)
	hmMalformedBudgt = backend.BudgetID(hmMalformedRaw)
)

// hmFixture is the one seeded database every case runs against.
type hmFixture struct {
	b     *backend.SQLiteBackend
	path  string
	clock *backend.FakeClock
	appDB *sql.DB // a writable application connection, for the *Tx creates

	waiting   backend.ExecutionID // created, never claimed
	capsExec  backend.ExecutionID // waiting, requires capability "gpu"
	active    backend.ExecutionID // leased for an hour
	live      backend.Handle
	active2   backend.ExecutionID // a second live lease
	live2     backend.Handle
	done      backend.ExecutionID // completed with a result
	doneH     backend.Handle
	failed    backend.ExecutionID // failed terminally
	failedH   backend.Handle
	cancelled backend.ExecutionID // operator-cancelled while waiting

	revokedOld   backend.Handle // lease revoked by the operator, then re-claimed
	expired      backend.ExecutionID
	expiredH     backend.Handle // lease lapsed, marked reclaimable by the scanner
	reclaimedOld backend.Handle // lease lapsed, then taken over by a reclaiming Claim
	replayed     backend.ExecutionID
	otherDBH     backend.Handle // minted by a backend on another file

	sus        backend.ExecutionID // suspended on hmSusKey until "go"; one "noise" signal so far
	susH       backend.Handle      // the Suspended handle Suspend returned
	susWP      backend.WaitpointID
	susToken   backend.WaitpointToken // minted under k1
	sus2       backend.ExecutionID    // suspended after the rotation to k2
	sus2WP     backend.WaitpointID
	sus2Token  backend.WaitpointToken
	resumed    backend.ExecutionID // resumable: its waitpoint is closed
	resumedWP  backend.WaitpointID
	resumedTok backend.WaitpointToken
	rerun      backend.Handle      // resumed and claimed again: its own waitpoint is closed
	rerunWP    backend.WaitpointID // that closed waitpoint
	susDead    backend.ExecutionID // suspended, then operator-cancelled: waitpoint still open
	susDeadWP  backend.WaitpointID
	susDeadTok backend.WaitpointToken
	pendingWP  backend.PendingWaitpoint // pending on active, expires in an hour
	staleWP    backend.PendingWaitpoint // pending on active, already past its expiry

	grantExec   backend.ExecutionID // waiting with an unexpired claim grant for hmGrantWorker
	grantLapsed backend.ExecutionID // waiting with an expired claim grant for hmGrantWorker

	flow          backend.FlowID
	flowRev       uint64
	m1, m2, m3    backend.ExecutionID // members; m1 → m2 applied (m2 blocked), m1 → m3 staged
	appliedEdge   backend.EdgeID
	stagedEdge    backend.EdgeID
	otherFlow     backend.FlowID // open, no members
	cancelledFlow backend.FlowID

	budget backend.BudgetID
	quota  backend.QuotaPolicyID
}

// hmCase is one cell of the matrix.
type hmCase struct {
	method string
	class  string
	call   func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error
	// want is the error the spec names (errors.Is), nil for a documented
	// no-op answer (call then checks the result itself).
	want error
	// skip, when set, is a spec mismatch: the case is written per spec
	// and skipped until the backend follows it.
	skip string
}

// hmCall adapts a method call whose result is irrelevant.
func hmCall[T any](_ T, err error) error { return err }

// hmUnexpected reports a result that contradicts the spec.
func hmUnexpected(format string, args ...any) error {
	return fmt.Errorf("unexpected result: "+format, args...)
}

func TestHostileInputMatrix(t *testing.T) {
	t.Parallel()
	fx := seedHostileFixture(t)
	cases := hostileCases(t, fx)
	requireHostileCoverage(t, cases)

	raw := openRaw(t, fx.path)
	// One connection, so the snapshot's transaction reuses the statements
	// prepared on it.
	raw.SetMaxOpenConns(1)
	hasher := newHostileHasher(t, raw)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	seen := map[string]bool{}
	methods := map[string]bool{}
	// Each case's "before" is the hash taken right after the previous case
	// (nothing runs in between), so a case that wrongly changed the
	// database fails alone instead of every case after it.
	sum, snap := hasher.snapshot(t)
	for _, tc := range cases {
		name := tc.method + "/" + tc.class
		if seen[name] {
			t.Fatalf("duplicate case %s", name)
		}
		seen[name] = true
		methods[tc.method] = true
		t.Run(name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip("spec mismatch: " + tc.skip)
			}
			ctx := context.Background()
			if tc.class == hmCancelled {
				ctx = cancelled
			}
			err := tc.call(ctx, fx.b, fx)
			switch {
			case tc.want == nil && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			afterSum, after := hasher.snapshot(t)
			if afterSum != sum {
				t.Errorf("the call changed the database (-before +after)\n%s", cmp.Diff(snap, after))
			}
			sum, snap = afterSum, after
		})
	}
	t.Logf("hostile matrix: %d methods, %d cases", len(methods), len(cases))
}

// requireHostileCoverage fails unless every EngineBackend method and the
// SQLiteBackend-only methods have at least one case.
func requireHostileCoverage(t *testing.T, cases []hmCase) {
	t.Helper()
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.method] = true
	}
	want := []string{"CreateExecutions", "CreateExecutionsTx", "CreateExecutionTx", "BuildFlow"}
	iface := reflect.TypeFor[backend.EngineBackend]()
	for i := range iface.NumMethod() {
		want = append(want, iface.Method(i).Name)
	}
	for _, m := range want {
		if !covered[m] {
			t.Errorf("method %s has no hostile case", m)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// hmHasher hashes the whole database through a read-only connection, with
// one prepared statement per table.
type hmHasher struct {
	db     *sql.DB
	tables []string
	stmts  []*sql.Stmt
}

func newHostileHasher(t *testing.T, db *sql.DB) *hmHasher {
	t.Helper()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	h := &hmHasher{db: db}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		h.tables = append(h.tables, name)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(h.tables) == 0 {
		t.Fatal("hash: no tables")
	}
	for _, table := range h.tables {
		st, err := db.PrepareContext(ctx, `SELECT * FROM "`+table+`"`)
		if err != nil {
			t.Fatalf("prepare %s: %v", table, err)
		}
		t.Cleanup(func() { st.Close() })
		h.stmts = append(h.stmts, st)
	}
	return h
}

// snapshot renders every row of every table (tables in name order, rows
// sorted) and returns the SHA-256 of that rendering with the rendering
// itself, for a readable diff when two hashes differ.
func (h *hmHasher) snapshot(t *testing.T) (string, map[string][]string) {
	t.Helper()
	// One read transaction: every table from the same snapshot, and one
	// lock instead of one per table.
	tx, err := h.db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	sum := sha256.New()
	dump := make(map[string][]string, len(h.tables))
	for i, table := range h.tables {
		lines := hostileTableRows(t, tx.Stmt(h.stmts[i]), table)
		dump[table] = lines
		sum.Write([]byte("table " + table + "\n"))
		for _, l := range lines {
			sum.Write([]byte(l + "\n"))
		}
	}
	return hex.EncodeToString(sum.Sum(nil)), dump
}

// hostileTableRows renders table's rows as "col=value ..." lines, sorted.
func hostileTableRows(t *testing.T, st *sql.Stmt, table string) []string {
	t.Helper()
	rows, err := st.QueryContext(context.Background())
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return renderRows(t, rows)
}

// hmPolicy is a claim policy of worker instance inst with lease ttl.
func hmPolicy(inst string, ttl time.Duration) backend.ClaimPolicy {
	return backend.ClaimPolicy{LeaseTTL: ttl, WorkerID: "w", WorkerInstanceID: backend.WorkerInstanceID(inst)}
}

// seedHostileFixture builds the shared database through the public API.
func seedHostileFixture(t *testing.T) *hmFixture {
	t.Helper()
	clock := backend.NewFakeClock(time.Time{})
	env := newExecEnvWith(t, backend.Options{
		Clock:               clock,
		WaitpointHMACSecret: &backend.SeedWaitpointHMACSecretArgs{Kid: "k1", SecretHex: hmSecret1},
	})
	env.clock = clock
	ctx := context.Background()
	b := env.b
	fx := &hmFixture{b: b, path: env.path, clock: clock}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("seed: %s: %v", what, err)
		}
	}
	createClaim := func(lane backend.LaneID, ttl time.Duration) (backend.ExecutionID, backend.Handle) {
		t.Helper()
		id := env.create(lane, nil)
		h := env.mustClaimAs(lane, hmPolicy("w-"+string(lane), ttl))
		if h.ExecutionID() != id {
			t.Fatalf("seed: claimed %s, want %s", h.ExecutionID(), id)
		}
		return id, h
	}
	// suspend suspends h on one waitpoint keyed hmSusKey until "go".
	suspend := func(h backend.Handle, idempotencyKey string) backend.SuspendOutcome {
		t.Helper()
		args := hmSuspend(hmSusKey)
		args.IdempotencyKey = idempotencyKey
		out, err := b.Suspend(ctx, h, args)
		must("suspend", err)
		if out.Kind != backend.SuspendSuspended || out.Handle == nil {
			t.Fatalf("seed: suspend = %+v", out)
		}
		return out
	}
	deliver := func(id backend.ExecutionID, wp backend.WaitpointID, tok backend.WaitpointToken, name string) {
		t.Helper()
		_, err := b.DeliverSignal(ctx, signalArgs(id, wp, tok, name))
		must("deliver "+name, err)
	}

	// A handle minted by a second backend on another file.
	other := newExecEnv(t)
	other.create("hm-other", nil)
	fx.otherDBH = other.mustClaim("hm-other")

	fx.waiting = env.create(hmLaneWait, nil)
	fx.capsExec = env.create(hmLaneCaps, func(a *backend.CreateExecutionArgs) {
		a.Policy = &backend.ExecutionPolicy{RoutingRequirements: &backend.RoutingRequirements{RequiredCapabilities: []string{"gpu"}}}
	})
	fx.active, fx.live = createClaim(hmLaneActive, time.Hour)
	fx.active2, fx.live2 = createClaim(hmLaneActive2, time.Hour)
	var err error
	fx.pendingWP, err = b.CreateWaitpoint(ctx, fx.live, "pend", time.Hour)
	must("create pending waitpoint", err)
	fx.staleWP, err = b.CreateWaitpoint(ctx, fx.live, "soon", time.Second)
	must("create expiring waitpoint", err)

	fx.done, fx.doneH = createClaim(hmLaneDone, time.Hour)
	must("complete", b.Complete(ctx, fx.doneH, []byte("result")))
	fx.failed, fx.failedH = createClaim(hmLaneFailed, time.Hour)
	_, err = b.Fail(ctx, fx.failedH, backend.FailureReason{Message: "boom"}, backend.FailurePermanent)
	must("fail", err)
	fx.cancelled = env.create(hmLaneCancel, nil)
	_, err = b.CancelExecution(ctx, backend.CancelExecutionArgs{ExecutionID: fx.cancelled, Reason: "seed"})
	must("cancel", err)

	// Revoked, then claimed again: the first handle is superseded.
	revoked, revokedOld := createClaim(hmLaneRevoke, time.Hour)
	fx.revokedOld = revokedOld
	_, err = b.RevokeLease(ctx, backend.RevokeLeaseArgs{ExecutionID: revoked})
	must("revoke", err)
	env.mustClaimAs(hmLaneRevoke, hmPolicy("w-again", time.Hour))

	fx.expired, fx.expiredH = createClaim(hmLaneExpired, time.Second)
	_, fx.reclaimedOld = createClaim(hmLaneReclaim, time.Second)

	// Suspensions under k1.
	var h backend.Handle
	fx.sus, h = createClaim(hmLaneSus, time.Hour)
	susOut := suspend(h, hmSusIdemKey)
	fx.susH = *susOut.Handle
	fx.susWP, fx.susToken = susOut.Details.WaitpointID, susOut.Details.WaitpointToken
	deliver(fx.sus, fx.susWP, fx.susToken, hmSignalNoise)

	fx.resumed, h = createClaim(hmLaneResumed, time.Hour)
	resOut := suspend(h, "")
	fx.resumedWP, fx.resumedTok = resOut.Details.WaitpointID, resOut.Details.WaitpointToken
	deliver(fx.resumed, fx.resumedWP, fx.resumedTok, hmSignalGo)

	var rerun backend.ExecutionID
	rerun, h = createClaim(hmLaneRerun, time.Hour)
	rerunOut := suspend(h, "")
	fx.rerunWP = rerunOut.Details.WaitpointID
	deliver(rerun, fx.rerunWP, rerunOut.Details.WaitpointToken, hmSignalGo)
	again, err := b.ClaimResumedExecution(ctx, backend.ClaimResumedExecutionArgs{
		ExecutionID: rerun, WorkerID: "w", WorkerInstanceID: "w-rerun", LaneID: hmLaneRerun, LeaseTTL: time.Hour,
	})
	must("claim resumed", err)
	fx.rerun = again.Handle

	fx.susDead, h = createClaim(hmLaneSusDead, time.Hour)
	deadOut := suspend(h, "")
	fx.susDeadWP, fx.susDeadTok = deadOut.Details.WaitpointID, deadOut.Details.WaitpointToken
	_, err = b.CancelExecution(ctx, backend.CancelExecutionArgs{ExecutionID: fx.susDead, Reason: "seed"})
	must("cancel suspended", err)

	// Rotate to k2, then one suspension whose token is minted under k2.
	rot, err := b.RotateWaitpointHMACSecretAll(ctx, backend.RotateWaitpointHMACSecretAllArgs{NewKid: "k2", NewSecretHex: hmSecret2})
	must("rotate", err)
	if len(rot.Entries) != 1 || rot.Entries[0].Err != nil || rot.Entries[0].Outcome.Kind != backend.RotateRotated {
		t.Fatalf("seed: rotate = %+v", rot)
	}
	fx.sus2, h = createClaim(hmLaneSus2, time.Hour)
	sus2Out := suspend(h, "")
	fx.sus2WP, fx.sus2Token = sus2Out.Details.WaitpointID, sus2Out.Details.WaitpointToken

	// Replayed once under a cap of one, terminal again.
	fx.replayed = env.create(hmLaneReplay, func(a *backend.CreateExecutionArgs) {
		a.Policy = &backend.ExecutionPolicy{MaxReplayCount: 1}
	})
	must("complete replay 1", b.Complete(ctx, env.mustClaimAs(hmLaneReplay, hmPolicy("w-r", time.Hour)), nil))
	_, err = b.ReplayExecution(ctx, backend.ReplayExecutionArgs{ExecutionID: fx.replayed})
	must("replay", err)
	must("complete replay 2", b.Complete(ctx, env.mustClaimAs(hmLaneReplay, hmPolicy("w-r", time.Hour)), nil))

	// Claim grants: one live, one about to lapse.
	fx.grantExec = env.create(hmLaneGrant, nil)
	fx.grantLapsed = env.create(hmLaneGrant2, nil)
	for _, g := range []struct {
		id  backend.ExecutionID
		ttl time.Duration
	}{{fx.grantExec, time.Hour}, {fx.grantLapsed, time.Second}} {
		_, err = b.IssueClaimGrant(ctx, backend.IssueClaimGrantArgs{
			ExecutionID: g.id, LaneID: hmLaneGrant, WorkerID: hmGrantWorker, WorkerInstanceID: "w-grant-1",
			GrantTTL: g.ttl, Partition: backend.Partition{Family: backend.PartitionFamilyFlow},
		})
		must("issue claim grant", err)
	}

	// A flow: m1 → m2 applied (m2 gated), m1 → m3 staged only.
	fx.flow, fx.otherFlow, fx.cancelledFlow = backend.NewFlowID(), backend.NewFlowID(), backend.NewFlowID()
	for _, f := range []backend.FlowID{fx.flow, fx.otherFlow, fx.cancelledFlow} {
		_, err = b.CreateFlow(ctx, backend.CreateFlowArgs{FlowID: f, FlowKind: "dag", Namespace: "test"})
		must("create flow", err)
	}
	_, err = b.CancelFlow(ctx, fx.cancelledFlow, backend.CancelFlowOnly, backend.NoWait())
	must("cancel flow", err)
	fe := &flowEnv{execEnv: env, flow: fx.flow, lane: hmLaneFlow}
	fx.m1, fx.m2, fx.m3 = fe.member(), fe.member(), fe.member()
	fx.appliedEdge = fe.edge(fx.m1, fx.m2)
	fx.stagedEdge = fe.stage(fx.m1, fx.m3, "")
	fx.flowRev = fe.revision()

	fx.budget = backend.NewBudgetID()
	_, err = b.CreateBudget(ctx, backend.CreateBudgetArgs{
		BudgetID: fx.budget, Dimensions: []string{hmBudgetDim}, HardLimits: []uint64{100}, SoftLimits: []uint64{50},
	})
	must("create budget", err)
	fx.quota = backend.NewQuotaPolicyID()
	_, err = b.CreateQuotaPolicy(ctx, backend.CreateQuotaPolicyArgs{QuotaPolicyID: fx.quota, MaxConcurrent: 1, Window: time.Minute})
	must("create quota policy", err)

	// Two seconds later the one-second leases, grant and waitpoint have
	// lapsed. The lease-expiry scanner marks both short leases; a Claim on
	// the reclaim lane then takes its execution over.
	clock.Advance(2 * time.Second)
	res, err := b.RunScannerOnce(ctx, scanners.JobLeaseExpiry)
	must("lease expiry tick", err)
	if res.Processed != 2 {
		t.Fatalf("seed: lease expiry processed %d rows, want 2", res.Processed)
	}
	taken := env.mustClaimAs(hmLaneReclaim, hmPolicy("w-taker", time.Hour))
	if taken.Kind() != backend.HandleReclaimed {
		t.Fatalf("seed: takeover handle kind %s, want reclaimed", taken.Kind())
	}
	grant, err := b.IssueReclaimGrant(ctx, backend.IssueReclaimGrantArgs{
		ExecutionID: fx.expired, LaneID: hmLaneExpired, WorkerID: hmReclaimer, WorkerInstanceID: "w-reclaim-1", GrantTTL: time.Hour,
	})
	must("issue reclaim grant", err)
	if grant.Kind != backend.ReclaimGrantGranted {
		t.Fatalf("seed: reclaim grant = %+v", grant)
	}

	// The application's own connection for CreateExecution(s)Tx.
	dsn := "file:" + (&url.URL{Path: fx.path}).EscapedPath() + "?_txlock=immediate&_pragma=busy_timeout(5000)"
	fx.appDB, err = sql.Open("sqlite", dsn)
	must("open application db", err)
	fx.appDB.SetMaxOpenConns(1)
	t.Cleanup(func() { fx.appDB.Close() })
	return fx
}

// hmOmit marks a standard handle row that does not apply to a method (the
// call would legitimately change state).
var hmOmit = errors.New("omit this row")

// hmHandleCall is a handle method called with one particular handle.
type hmHandleCall func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture, h backend.Handle) error

// hmHandleRows feeds a handle method the standard hostile handles, each
// with the error the spec names for it (API.md EngineBackend, §5 lease
// vocabulary); over replaces a want, or drops a row with hmOmit.
func hmHandleRows(t *testing.T, fx *hmFixture, method string, call hmHandleCall, over map[string]error) []hmCase {
	t.Helper()
	p, err := fx.live.Payload()
	if err != nil {
		t.Fatal(err)
	}
	opaque := fx.live.Opaque()
	bad := p
	bad.ExecutionID = hmMalformedExec
	rows := []struct {
		class string
		h     backend.Handle
		want  error
	}{
		{hmForeignTag, backend.NewHandle(backend.BackendValkey, backend.HandleFresh, opaque), backend.ErrHandleFromOtherBackend},
		{hmEmbeddedTag, backend.NewHandle(backend.BackendSQLite, backend.HandleFresh, backend.EncodeHandleOpaque(backend.BackendPostgres, p)), backend.ErrHandleFromOtherBackend},
		{hmOtherDatabase, fx.otherDBH, notFoundAttempt},
		{hmCorruptHandle, backend.NewHandle(backend.BackendSQLite, backend.HandleFresh, opaque[:len(opaque)-1]), backend.ErrCorruption},
		{hmForgedIDInHandle, backend.NewHandle(backend.BackendSQLite, backend.HandleFresh, backend.EncodeHandleOpaque(backend.BackendSQLite, bad)), backend.ErrCorruption},
		{hmZeroHandle, backend.Handle{}, backend.ErrInvalidInput},
		{hmRevokedHandle, fx.revokedOld, backend.ErrStaleLease},
		{hmReclaimedHandle, fx.reclaimedOld, backend.ErrStaleLease},
		{hmSuspendedHandle, fx.susH, backend.ErrStaleLease},
		{hmExpiredLease, fx.expiredH, backend.ErrLeaseExpired},
		{hmCompletedHandle, fx.doneH, backend.ErrExecutionNotActive},
		{hmCancelled, fx.live, context.Canceled},
	}
	var out []hmCase
	for _, r := range rows {
		want := r.want
		if w, ok := over[r.class]; ok {
			if w == hmOmit {
				continue
			}
			want = w
		}
		h := r.h
		out = append(out, hmCase{method: method, class: r.class, want: want,
			call: func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error { return call(ctx, b, fx, h) }})
	}
	return out
}

// hmOtherPartition is id moved to partition 1 (flows accept only 0).
func hmOtherPartition(id backend.ExecutionID) backend.ExecutionID {
	return backend.ExecutionID("{fp:1}:" + id.UUID())
}

// hmTokenWith rewrites tok's digest or kid.
func hmTokenWith(tok backend.WaitpointToken, kid string, digest func(string) string) backend.WaitpointToken {
	k, d, _ := strings.Cut(tok.Raw(), ":")
	if kid != "" {
		k = kid
	}
	if digest != nil {
		d = digest(d)
	}
	return backend.WaitpointToken(k + ":" + d)
}

// hmFlipLastDigit changes the digest's last hex digit.
func hmFlipLastDigit(d string) string {
	last := d[len(d)-1]
	repl := byte('0')
	if last == '0' {
		repl = '1'
	}
	return d[:len(d)-1] + string(repl)
}

// hmTokens returns n distinct valid capability tokens.
func hmTokens(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("cap%d", i)
	}
	return out
}

// hmSuspend suspends on one fresh waitpoint keyed key until "go".
func hmSuspend(key backend.WaitpointKey) backend.SuspendArgs {
	return suspendArgs(backend.SingleCondition(key, backend.ByName(hmSignalGo)), backend.FreshBindingWithKey(key))
}

// withTx runs fn in a transaction of the application's own connection
// and rolls it back: whatever fn did to tx never commits.
func (fx *hmFixture) withTx(fn func(tx *sql.Tx) error) error {
	tx, err := fx.appDB.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("begin application tx: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // always rolled back
	return fn(tx)
}

// hmNewExec is valid CreateExecution input for a new execution.
func hmNewExec(lane backend.LaneID) backend.CreateExecutionArgs {
	return backend.CreateExecutionArgs{
		ExecutionID: backend.NewExecutionID(), LaneID: lane, Namespace: "test", ExecutionKind: "kind", InputPayload: []byte("in"),
	}
}

// hmNested nests c in depth all_of composites.
func hmNested(c backend.ResumeCondition, depth int) backend.ResumeCondition {
	for range depth {
		c = backend.AllOfCondition(c)
	}
	return c
}

// hmFn is one hostile call.
type hmFn = func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error

// hm builds one matrix cell.
func hm(method, class string, want error, call hmFn) hmCase {
	return hmCase{method: method, class: class, want: want, call: call}
}

// hostileCases is the whole matrix, grouped by domain.
func hostileCases(t *testing.T, fx *hmFixture) []hmCase {
	t.Helper()
	var cases []hmCase
	for _, part := range [][]hmCase{
		hmHotPathCases(t, fx),
		hmCreateCases(),
		hmSuspensionCases(t, fx),
		hmGrantCases(),
		hmReadCases(),
		hmOperatorCases(),
		hmFlowCases(),
		hmBudgetCases(t, fx),
		hmStreamCases(t, fx),
		hmLifecycleCases(),
	} {
		cases = append(cases, part...)
	}
	return cases
}

// hmHotPathCases covers Claim and the lease holder's methods.
func hmHotPathCases(t *testing.T, fx *hmFixture) []hmCase {
	claim := func(lane backend.LaneID, caps []string, p backend.ClaimPolicy) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			h, err := b.Claim(ctx, lane, backend.CapabilitySet{Tokens: caps}, p)
			if err == nil && h != nil {
				return hmUnexpected("claimed %s", h.ExecutionID())
			}
			return err
		}
	}
	pol := hmPolicy("w-hostile", time.Minute)
	negTTL, negWait := pol, pol
	negTTL.LeaseTTL = -time.Second
	negWait.MaxWait = -time.Second
	cases := []hmCase{
		hm("Claim", "EmptyLane", hmInvalid, claim("", nil, pol)),
		hm("Claim", "LaneTooLong", hmInvalid, claim(backend.LaneID(strings.Repeat("l", backend.LaneIDMaxBytes+1)), nil, pol)),
		hm("Claim", "LaneNonPrintable", hmInvalid, claim("hm-\x01", nil, pol)),
		hm("Claim", "TooManyCapabilities", backend.ErrInvalidCapabilities, claim(hmLaneWait, hmTokens(257), pol)),
		hm("Claim", "CapabilityWithComma", backend.ErrInvalidCapabilities, claim(hmLaneWait, []string{"a,b"}, pol)),
		hm("Claim", "CapabilityWhitespace", backend.ErrInvalidCapabilities, claim(hmLaneWait, []string{"a b"}, pol)),
		hm("Claim", "NegativeLeaseTTL", hmInvalid, claim(hmLaneWait, nil, negTTL)),
		hm("Claim", "NegativeMaxWait", hmInvalid, claim(hmLaneWait, nil, negWait)),
		hm("Claim", "LaneWithoutWork", nil, claim(hmLaneNoWork, nil, pol)),
		hm("Claim", hmCancelled, context.Canceled, claim(hmLaneWait, nil, pol)),
	}

	renew := func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture, h backend.Handle) error {
		return hmCall(b.Renew(ctx, h))
	}
	cases = append(cases, hmHandleRows(t, fx, "Renew", renew, nil)...)

	progress := func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture, h backend.Handle) error {
		return b.Progress(ctx, h, backend.Ptr(uint8(255)), backend.Ptr("hostile"))
	}
	cases = append(cases, hmHandleRows(t, fx, "Progress", progress, nil)...)
	cases = append(cases,
		hmCase{
			method: "Progress", class: "NoValuesStaleHandle", want: backend.ErrStaleLease,
			call: func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
				return b.Progress(ctx, fx.revokedOld, nil, nil)
			},
		},
	)

	complete := func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture, h backend.Handle) error {
		return b.Complete(ctx, h, []byte("hostile"))
	}
	// Complete repeated with the same handle after success is a no-op
	// (decision 9).
	cases = append(cases, hmHandleRows(t, fx, "Complete", complete, map[string]error{hmCompletedHandle: nil})...)
	cases = append(cases, hm("Complete", "WrongStateFailed", backend.ErrExecutionNotActive, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
		return b.Complete(ctx, fx.failedH, nil)
	}))

	fail := func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture, h backend.Handle) error {
		return hmCall(b.Fail(ctx, h, backend.FailureReason{Message: "hostile"}, backend.FailurePermanent))
	}
	cases = append(cases, hmHandleRows(t, fx, "Fail", fail, nil)...)
	cases = append(cases,
		hm("Fail", "RepeatAfterTerminalFailure", nil, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			out, err := b.Fail(ctx, fx.failedH, backend.FailureReason{Message: "again"}, backend.FailurePermanent)
			if err == nil && out.Kind != backend.FailTerminalFailed {
				return hmUnexpected("%+v", out)
			}
			return err
		}),
		hm("Fail", "UnknownClassStaleHandle", backend.ErrStaleLease, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return hmCall(b.Fail(ctx, fx.revokedOld, backend.FailureReason{}, "no-such-class"))
		}),
	)

	cancel := func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture, h backend.Handle) error {
		return b.Cancel(ctx, h, "hostile")
	}
	// An expired (not superseded) lease may still cancel: not hostile.
	cases = append(cases, hmHandleRows(t, fx, "Cancel", cancel, map[string]error{hmExpiredLease: hmOmit})...)

	delay := func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture, h backend.Handle) error {
		return b.Delay(ctx, h, fx.clock.Now().Add(time.Hour))
	}
	cases = append(cases, hmHandleRows(t, fx, "Delay", delay, nil)...)

	waitChildren := func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture, h backend.Handle) error {
		return b.WaitChildren(ctx, h)
	}
	cases = append(cases, hmHandleRows(t, fx, "WaitChildren", waitChildren, nil)...)
	return cases
}

// hmCreateCases covers the ingress methods.
func hmCreateCases() []hmCase {
	create := func(mod func(*backend.CreateExecutionArgs)) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			args := hmNewExec(hmLaneWait)
			mod(&args)
			return hmCall(b.CreateExecution(ctx, args))
		}
	}
	caps := func(tokens ...string) func(*backend.CreateExecutionArgs) {
		return func(a *backend.CreateExecutionArgs) {
			a.Policy = &backend.ExecutionPolicy{RoutingRequirements: &backend.RoutingRequirements{RequiredCapabilities: tokens}}
		}
	}
	badBatch := func() []backend.CreateExecutionArgs {
		bad := hmNewExec(hmLaneWait)
		bad.ExecutionID = hmMalformedExec
		return []backend.CreateExecutionArgs{hmNewExec(hmLaneWait), bad}
	}
	return []hmCase{
		hm("CreateExecution", hmMalformedID, hmInvalid, create(func(a *backend.CreateExecutionArgs) { a.ExecutionID = hmMalformedExec })),
		hm("CreateExecution", "PartitionOutOfRange", hmInvalid, create(func(a *backend.CreateExecutionArgs) {
			a.ExecutionID = backend.ExecutionID("{fp:65536}:" + a.ExecutionID.UUID())
		})),
		hm("CreateExecution", "EmptyLane", hmInvalid, create(func(a *backend.CreateExecutionArgs) { a.LaneID = "" })),
		hm("CreateExecution", "LaneTooLong", hmInvalid, create(func(a *backend.CreateExecutionArgs) {
			a.LaneID = backend.LaneID(strings.Repeat("l", backend.LaneIDMaxBytes+1))
		})),
		hm("CreateExecution", "LaneNonPrintable", hmInvalid, create(func(a *backend.CreateExecutionArgs) { a.LaneID = "lane\x7f" })),
		hm("CreateExecution", "TooManyCapabilities", backend.ErrInvalidCapabilities, create(caps(hmTokens(257)...))),
		hm("CreateExecution", "CapabilitiesTooManyBytes", backend.ErrInvalidCapabilities, create(caps(strings.Repeat("a", 2100), strings.Repeat("b", 2100)))),
		hm("CreateExecution", "EmptyCapability", backend.ErrInvalidCapabilities, create(caps(""))),
		hm("CreateExecution", "CapabilityWithComma", backend.ErrInvalidCapabilities, create(caps("gpu,cpu"))),
		hm("CreateExecution", "BadTagKey", backend.ErrInvalidTagKey, create(func(a *backend.CreateExecutionArgs) {
			a.Tags = map[string]string{"NoNamespace": "v"}
		})),
		hm("CreateExecution", "NegativeDedupWindow", hmInvalid, create(func(a *backend.CreateExecutionArgs) {
			a.IdempotencyKey = "k"
			a.Policy = &backend.ExecutionPolicy{DedupWindow: -time.Hour}
		})),
		hm("CreateExecution", "NegativeAttemptTimeout", hmInvalid, create(func(a *backend.CreateExecutionArgs) {
			a.Policy = &backend.ExecutionPolicy{TimeoutPolicy: &backend.TimeoutPolicy{AttemptTimeout: -time.Second}}
		})),
		hm("CreateExecution", "DuplicateID", nil, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := hmNewExec(hmLaneWait)
			args.ExecutionID = fx.waiting
			res, err := b.CreateExecution(ctx, args)
			if err == nil && (res.Kind != backend.CreateExecutionDuplicate || res.ExecutionID != fx.waiting) {
				return hmUnexpected("%+v", res)
			}
			return err
		}),
		hm("CreateExecution", hmCancelled, context.Canceled, create(func(*backend.CreateExecutionArgs) {})),

		hm("CreateExecutions", "OneMalformedElement", hmInvalid, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return hmCall(b.CreateExecutions(ctx, badBatch()))
		}),
		hm("CreateExecutions", "OneBadTagKey", backend.ErrInvalidTagKey, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			bad := hmNewExec(hmLaneWait)
			bad.Tags = map[string]string{"x": "y"}
			return hmCall(b.CreateExecutions(ctx, []backend.CreateExecutionArgs{hmNewExec(hmLaneWait), bad}))
		}),
		hm("CreateExecutions", "EmptyBatch", nil, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			res, err := b.CreateExecutions(ctx, nil)
			if err == nil && len(res) != 0 {
				return hmUnexpected("%+v", res)
			}
			return err
		}),
		hm("CreateExecutions", hmCancelled, context.Canceled, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return hmCall(b.CreateExecutions(ctx, []backend.CreateExecutionArgs{hmNewExec(hmLaneWait), hmNewExec(hmLaneWait)}))
		}),

		hm("CreateExecutionTx", "NilTx", hmInvalid, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return hmCall(b.CreateExecutionTx(ctx, nil, hmNewExec(hmLaneWait)))
		}),
		hm("CreateExecutionTx", hmMalformedID, hmInvalid, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return fx.withTx(func(tx *sql.Tx) error {
				args := hmNewExec(hmLaneWait)
				args.ExecutionID = hmMalformedExec
				return hmCall(b.CreateExecutionTx(ctx, tx, args))
			})
		}),
		hm("CreateExecutionTx", "TooManyCapabilities", backend.ErrInvalidCapabilities, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return fx.withTx(func(tx *sql.Tx) error {
				args := hmNewExec(hmLaneWait)
				caps(hmTokens(300)...)(&args)
				return hmCall(b.CreateExecutionTx(ctx, tx, args))
			})
		}),
		hm("CreateExecutionTx", hmCancelled, context.Canceled, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return fx.withTx(func(tx *sql.Tx) error { return hmCall(b.CreateExecutionTx(ctx, tx, hmNewExec(hmLaneWait))) })
		}),

		hm("CreateExecutionsTx", "NilTx", hmInvalid, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return hmCall(b.CreateExecutionsTx(ctx, nil, []backend.CreateExecutionArgs{hmNewExec(hmLaneWait)}))
		}),
		hm("CreateExecutionsTx", "OneMalformedElement", hmInvalid, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return fx.withTx(func(tx *sql.Tx) error { return hmCall(b.CreateExecutionsTx(ctx, tx, badBatch())) })
		}),
		hm("CreateExecutionsTx", hmCancelled, context.Canceled, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return fx.withTx(func(tx *sql.Tx) error {
				return hmCall(b.CreateExecutionsTx(ctx, tx, []backend.CreateExecutionArgs{hmNewExec(hmLaneWait)}))
			})
		}),
	}
}

// hmSuspensionCases covers suspension, waitpoints, signals and HMAC keys.
func hmSuspensionCases(t *testing.T, fx *hmFixture) []hmCase {
	suspendLive := func(mod func(*backend.SuspendArgs)) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := hmSuspend("hm-hostile")
			mod(&args)
			return hmCall(b.Suspend(ctx, fx.live, args))
		}
	}
	usePending := func(h func(*hmFixture) backend.Handle, wp func(*hmFixture) backend.PendingWaitpoint, key backend.WaitpointKey) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := suspendArgs(backend.SingleCondition(key, backend.ByName(hmSignalGo)), backend.UsePendingBinding(wp(fx)))
			return hmCall(b.Suspend(ctx, h(fx), args))
		}
	}
	live := func(fx *hmFixture) backend.Handle { return fx.live }
	live2 := func(fx *hmFixture) backend.Handle { return fx.live2 }
	suspend := func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture, h backend.Handle) error {
		return hmCall(b.Suspend(ctx, h, hmSuspend("hm-hostile")))
	}
	cases := hmHandleRows(t, fx, "Suspend", suspend, nil)
	cases = append(cases,
		hm("Suspend", "NoWaitpoints", hmInvalid, suspendLive(func(a *backend.SuspendArgs) { a.Waitpoints = nil })),
		hm("Suspend", "MalformedSuspensionID", hmInvalid, suspendLive(func(a *backend.SuspendArgs) { a.SuspensionID = hmMalformedRaw })),
		hm("Suspend", "MalformedWaitpointID", hmInvalid, suspendLive(func(a *backend.SuspendArgs) { a.Waitpoints[0].WaitpointID = hmMalformedRaw })),
		hm("Suspend", "UnknownBindingKind", hmInvalid, suspendLive(func(a *backend.SuspendArgs) { a.Waitpoints[0].Kind = "sideways" })),
		hm("Suspend", "SameWaitpointTwice", hmInvalid, suspendLive(func(a *backend.SuspendArgs) {
			a.Waitpoints = append(a.Waitpoints, a.Waitpoints[0])
		})),
		hm("Suspend", "AdditionalBindingEmptyKey", hmInvalid, suspendLive(func(a *backend.SuspendArgs) {
			a.Waitpoints = append(a.Waitpoints, backend.FreshBindingWithKey(""))
		})),
		hm("Suspend", "AdditionalBindingUsePending", hmInvalid, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := hmSuspend("hm-hostile")
			args.Waitpoints = append(args.Waitpoints, backend.UsePendingBinding(fx.pendingWP))
			return hmCall(b.Suspend(ctx, fx.live, args))
		}),
		hm("Suspend", "ConditionKeyMismatch", hmInvalid, suspendLive(func(a *backend.SuspendArgs) {
			a.ResumeCondition = backend.SingleCondition("elsewhere", backend.Wildcard())
		})),
		hm("Suspend", "EmptySignalName", hmInvalid, suspendLive(func(a *backend.SuspendArgs) {
			a.ResumeCondition = backend.SingleCondition("hm-hostile", backend.ByName(""))
		})),
		hm("Suspend", "CountZero", hmInvalid, suspendLive(func(a *backend.SuspendArgs) {
			a.ResumeCondition = backend.CountCondition(0, backend.CountDistinctSignals, backend.Wildcard(), "hm-hostile")
		})),
		hm("Suspend", "CountWithoutWaitpoints", hmInvalid, suspendLive(func(a *backend.SuspendArgs) {
			a.ResumeCondition = backend.CountCondition(1, backend.CountDistinctSignals, backend.Wildcard())
		})),
		hm("Suspend", "AllOfEmpty", hmInvalid, suspendLive(func(a *backend.SuspendArgs) { a.ResumeCondition = backend.AllOfCondition() })),
		hm("Suspend", "ConditionTooDeep", hmInvalid, suspendLive(func(a *backend.SuspendArgs) {
			a.ResumeCondition = hmNested(backend.SingleCondition("hm-hostile", backend.Wildcard()), backend.MaxCompositeDepth+2)
		})),
		hm("Suspend", "TimeoutOnlyWithoutDeadline", hmInvalid, suspendLive(func(a *backend.SuspendArgs) {
			a.ResumeCondition = backend.TimeoutOnlyCondition()
		})),
		hm("Suspend", "TimeoutFarInPast", hmInvalid, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := hmSuspend("hm-hostile")
			args.TimeoutAt = fx.clock.Now().Add(-11 * time.Minute)
			return hmCall(b.Suspend(ctx, fx.live, args))
		}),
		hm("Suspend", "UnknownReasonCode", hmInvalid, suspendLive(func(a *backend.SuspendArgs) { a.ReasonCode = "because" })),
		hm("Suspend", "UnknownTimeoutBehavior", hmInvalid, suspendLive(func(a *backend.SuspendArgs) { a.TimeoutBehavior = "explode" })),
		hm("Suspend", "UsePendingUnknown", backend.ErrWaitpointNotFound, usePending(live, func(*hmFixture) backend.PendingWaitpoint {
			return backend.PendingWaitpoint{WaitpointID: backend.NewWaitpointID()}
		}, "pend")),
		hm("Suspend", "UsePendingClosedWaitpoint", backend.ErrWaitpointNotPending, usePending(func(fx *hmFixture) backend.Handle { return fx.rerun },
			func(fx *hmFixture) backend.PendingWaitpoint { return backend.PendingWaitpoint{WaitpointID: fx.rerunWP} }, hmSusKey)),
		hmCase{
			method: "Suspend", class: "UsePendingActiveWaitpointOfOtherExecution", want: backend.ErrWaitpointNotPending,
			call: usePending(live, func(fx *hmFixture) backend.PendingWaitpoint {
				return backend.PendingWaitpoint{WaitpointID: fx.susWP, HMACToken: fx.susToken}
			}, hmSusKey),
		},
		hm("Suspend", "UsePendingOfOtherExecution", backend.ErrInvalidWaitpointForExecution, usePending(live2, func(fx *hmFixture) backend.PendingWaitpoint {
			return fx.pendingWP
		}, "pend")),
		hm("Suspend", "UsePendingExpired", backend.ErrPendingWaitpointExpired, usePending(live, func(fx *hmFixture) backend.PendingWaitpoint {
			return fx.staleWP
		}, "soon")),
		// The first outcome is replayed without a lease check (decision 14).
		hm("Suspend", "RepeatWithIdempotencyKey", nil, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := hmSuspend(hmSusKey)
			args.IdempotencyKey = hmSusIdemKey
			out, err := b.Suspend(ctx, fx.susH, args)
			if err == nil && (out.Kind != backend.SuspendSuspended || out.Details.WaitpointID != fx.susWP) {
				return hmUnexpected("%+v", out)
			}
			return err
		}),
	)

	triple := func(id func(*hmFixture) backend.ExecutionID, fence func(backend.LeaseFence) backend.LeaseFence, args func() backend.SuspendArgs) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			f := backend.LeaseFence{AttemptID: fx.live2.AttemptID(), LeaseEpoch: fx.live2.LeaseEpoch(), LeaseID: fx.live2.LeaseID()}
			return hmCall(b.SuspendByTriple(ctx, id(fx), fence(f), args()))
		}
	}
	same := func(f backend.LeaseFence) backend.LeaseFence { return f }
	valid := func() backend.SuspendArgs { return hmSuspend("hm-hostile") }
	active2 := func(fx *hmFixture) backend.ExecutionID { return fx.active2 }
	cases = append(cases,
		hm("SuspendByTriple", hmMalformedID, hmInvalid, triple(func(*hmFixture) backend.ExecutionID { return hmMalformedExec }, same, valid)),
		hm("SuspendByTriple", hmUnknownID, hmNoExecution, triple(func(*hmFixture) backend.ExecutionID { return backend.NewExecutionID() }, same, valid)),
		hm("SuspendByTriple", "StaleEpoch", backend.ErrStaleLease, triple(active2, func(f backend.LeaseFence) backend.LeaseFence {
			f.LeaseEpoch++
			return f
		}, valid)),
		hm("SuspendByTriple", "ZeroEpoch", backend.ErrStaleLease, triple(active2, func(f backend.LeaseFence) backend.LeaseFence {
			f.LeaseEpoch = 0
			return f
		}, valid)),
		hm("SuspendByTriple", "ForeignLeaseID", backend.ErrStaleLease, triple(active2, func(f backend.LeaseFence) backend.LeaseFence {
			f.LeaseID = backend.NewLeaseID()
			return f
		}, valid)),
		hm("SuspendByTriple", "NoWaitpoints", hmInvalid, triple(active2, same, func() backend.SuspendArgs {
			a := valid()
			a.Waitpoints = nil
			return a
		})),
		hm("SuspendByTriple", "WrongStateCompleted", backend.ErrExecutionNotActive, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			f := backend.LeaseFence{LeaseEpoch: fx.doneH.LeaseEpoch(), LeaseID: fx.doneH.LeaseID()}
			return hmCall(b.SuspendByTriple(ctx, fx.done, f, valid()))
		}),
		hm("SuspendByTriple", hmCancelled, context.Canceled, triple(active2, same, valid)),
	)

	createWP := func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture, h backend.Handle) error {
		return hmCall(b.CreateWaitpoint(ctx, h, "hm-hostile", time.Hour))
	}
	cases = append(cases, hmHandleRows(t, fx, "CreateWaitpoint", createWP, nil)...)
	cases = append(cases, hm("CreateWaitpoint", "NegativeExpiry", hmInvalid, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
		return hmCall(b.CreateWaitpoint(ctx, fx.live, "hm-hostile", -time.Second))
	}))

	// ObserveSignals checks no lease: any handle of the execution reads.
	observe := func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture, h backend.Handle) error {
		return hmCall(b.ObserveSignals(ctx, h))
	}
	observeRows := hmHandleRows(t, fx, "ObserveSignals", observe, map[string]error{
		hmRevokedHandle: nil, hmReclaimedHandle: nil, hmSuspendedHandle: nil, hmExpiredLease: nil, hmCompletedHandle: nil,
	})
	cases = append(cases, observeRows...)

	deliver := func(mod func(fx *hmFixture, a *backend.DeliverSignalArgs)) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := signalArgs(fx.sus, fx.susWP, fx.susToken, hmSignalNoise)
			mod(fx, &args)
			return hmCall(b.DeliverSignal(ctx, args))
		}
	}
	cases = append(cases,
		hm("DeliverSignal", "MalformedExecutionID", hmInvalid, deliver(func(_ *hmFixture, a *backend.DeliverSignalArgs) { a.ExecutionID = hmMalformedExec })),
		hm("DeliverSignal", "MalformedWaitpointID", hmInvalid, deliver(func(_ *hmFixture, a *backend.DeliverSignalArgs) { a.WaitpointID = hmMalformedRaw })),
		hm("DeliverSignal", "MalformedSignalID", hmInvalid, deliver(func(_ *hmFixture, a *backend.DeliverSignalArgs) { a.SignalID = hmMalformedRaw })),
		hm("DeliverSignal", "UnknownWaitpoint", hmNoWaitpoint, deliver(func(_ *hmFixture, a *backend.DeliverSignalArgs) { a.WaitpointID = backend.NewWaitpointID() })),
		hm("DeliverSignal", "WaitpointOfOtherExecution", hmInvalid, deliver(func(fx *hmFixture, a *backend.DeliverSignalArgs) { a.ExecutionID = fx.sus2 })),
		hm("DeliverSignal", "TokenByteFlipped", backend.ErrInvalidToken, deliver(func(fx *hmFixture, a *backend.DeliverSignalArgs) {
			a.WaitpointToken = hmTokenWith(fx.susToken, "", hmFlipLastDigit)
		})),
		hm("DeliverSignal", "TokenUppercaseDigest", backend.ErrInvalidToken, deliver(func(fx *hmFixture, a *backend.DeliverSignalArgs) {
			a.WaitpointToken = hmTokenWith(fx.susToken, "", strings.ToUpper)
		})),
		hm("DeliverSignal", "TokenTruncated", backend.ErrInvalidToken, deliver(func(fx *hmFixture, a *backend.DeliverSignalArgs) {
			a.WaitpointToken = hmTokenWith(fx.susToken, "", func(d string) string { return d[:62] })
		})),
		hm("DeliverSignal", "TokenUnknownKid", backend.ErrInvalidKid, deliver(func(fx *hmFixture, a *backend.DeliverSignalArgs) {
			a.WaitpointToken = hmTokenWith(fx.susToken, "k9", nil)
		})),
		hm("DeliverSignal", "TokenOtherKnownKid", backend.ErrInvalidToken, deliver(func(fx *hmFixture, a *backend.DeliverSignalArgs) {
			a.WaitpointToken = hmTokenWith(fx.susToken, "k2", nil)
		})),
		hm("DeliverSignal", "TokenOfOtherWaitpoint", backend.ErrInvalidToken, deliver(func(fx *hmFixture, a *backend.DeliverSignalArgs) {
			a.WaitpointToken = fx.susDeadTok // same kid, another waitpoint
		})),
		hm("DeliverSignal", "TokenOfOtherWaitpointOtherKid", backend.ErrInvalidToken, deliver(func(fx *hmFixture, a *backend.DeliverSignalArgs) {
			a.WaitpointToken = fx.sus2Token
		})),
		hm("DeliverSignal", "TokenMalformed", backend.ErrInvalidToken, deliver(func(_ *hmFixture, a *backend.DeliverSignalArgs) {
			a.WaitpointToken = "no-colon-here"
		})),
		hm("DeliverSignal", "TokenEmpty", backend.ErrInvalidToken, deliver(func(_ *hmFixture, a *backend.DeliverSignalArgs) { a.WaitpointToken = "" })),
		hm("DeliverSignal", "ClosedWaitpoint", backend.ErrWaitpointClosed, deliver(func(fx *hmFixture, a *backend.DeliverSignalArgs) {
			a.ExecutionID, a.WaitpointID, a.WaitpointToken = fx.resumed, fx.resumedWP, fx.resumedTok
		})),
		hm("DeliverSignal", "PendingWaitpointExpired", backend.ErrPendingWaitpointExpired, deliver(func(fx *hmFixture, a *backend.DeliverSignalArgs) {
			a.ExecutionID, a.WaitpointID, a.WaitpointToken = fx.active, fx.staleWP.WaitpointID, fx.staleWP.HMACToken
		})),
		hm("DeliverSignal", "TerminalExecution", backend.ErrTargetNotSignalable, deliver(func(fx *hmFixture, a *backend.DeliverSignalArgs) {
			a.ExecutionID, a.WaitpointID, a.WaitpointToken = fx.susDead, fx.susDeadWP, fx.susDeadTok
		})),
		hm("DeliverSignal", "SignalLimitReached", backend.ErrSignalLimitExceeded, deliver(func(_ *hmFixture, a *backend.DeliverSignalArgs) {
			a.MaxSignalsPerExecution = 1 // one signal was already accepted
		})),
		hm("DeliverSignal", "NegativeDedupTTL", hmInvalid, deliver(func(_ *hmFixture, a *backend.DeliverSignalArgs) {
			a.IdempotencyKey = "k"
			a.DedupTTL = backend.Ptr(-time.Second)
		})),
		hm("DeliverSignal", hmCancelled, context.Canceled, deliver(func(_ *hmFixture, a *backend.DeliverSignalArgs) { a.SignalName = hmSignalGo })),
	)

	claimResumed := func(mod func(fx *hmFixture, a *backend.ClaimResumedExecutionArgs)) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := backend.ClaimResumedExecutionArgs{
				ExecutionID: fx.resumed, WorkerID: "w", WorkerInstanceID: "w-hostile", LaneID: hmLaneResumed,
				LeaseID: backend.NewLeaseID(), LeaseTTL: time.Minute,
			}
			mod(fx, &args)
			return hmCall(b.ClaimResumedExecution(ctx, args))
		}
	}
	cases = append(cases,
		hm("ClaimResumedExecution", hmMalformedID, hmInvalid, claimResumed(func(_ *hmFixture, a *backend.ClaimResumedExecutionArgs) { a.ExecutionID = hmMalformedExec })),
		hm("ClaimResumedExecution", hmUnknownID, hmNoExecution, claimResumed(func(_ *hmFixture, a *backend.ClaimResumedExecutionArgs) {
			a.ExecutionID = backend.NewExecutionID()
		})),
		hm("ClaimResumedExecution", "WrongStateWaiting", backend.ErrNotAResumedExecution, claimResumed(func(fx *hmFixture, a *backend.ClaimResumedExecutionArgs) {
			a.ExecutionID = fx.waiting
		})),
		hm("ClaimResumedExecution", "WrongStateSuspended", backend.ErrNotAResumedExecution, claimResumed(func(fx *hmFixture, a *backend.ClaimResumedExecutionArgs) {
			a.ExecutionID = fx.sus
		})),
		hm("ClaimResumedExecution", "WrongStateCompleted", backend.ErrNotAResumedExecution, claimResumed(func(fx *hmFixture, a *backend.ClaimResumedExecutionArgs) {
			a.ExecutionID = fx.done
		})),
		hm("ClaimResumedExecution", "NegativeLeaseTTL", hmInvalid, claimResumed(func(_ *hmFixture, a *backend.ClaimResumedExecutionArgs) { a.LeaseTTL = -time.Second })),
		hm("ClaimResumedExecution", "MalformedLeaseID", hmInvalid, claimResumed(func(_ *hmFixture, a *backend.ClaimResumedExecutionArgs) { a.LeaseID = hmMalformedRaw })),
		hm("ClaimResumedExecution", hmCancelled, context.Canceled, claimResumed(func(*hmFixture, *backend.ClaimResumedExecutionArgs) {})),
	)

	fromGrant := func(id func(*hmFixture) backend.ExecutionID, ttl time.Duration, wantNil bool) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			h, err := b.ClaimFromResumeGrant(ctx, backend.ResumeToken{
				Grant:    backend.ResumeGrant{ExecutionID: id(fx), LaneID: hmLaneSus, PartitionKey: backend.DefaultPartitionKey},
				LeaseTTL: ttl, WorkerID: "w", WorkerInstanceID: "w-hostile",
			})
			if err == nil && wantNil && h != nil {
				return hmUnexpected("claimed %v", h)
			}
			return err
		}
	}
	fixed := func(id backend.ExecutionID) func(*hmFixture) backend.ExecutionID {
		return func(*hmFixture) backend.ExecutionID { return id }
	}
	cases = append(cases,
		hm("ClaimFromResumeGrant", hmMalformedID, hmInvalid, fromGrant(fixed(hmMalformedExec), time.Minute, true)),
		hm("ClaimFromResumeGrant", hmUnknownID, backend.ErrNotFound, fromGrant(fixed(backend.NewExecutionID()), time.Minute, true)),
		hm("ClaimFromResumeGrant", "NoAttemptYet", notFoundAttempt, fromGrant(func(fx *hmFixture) backend.ExecutionID { return fx.waiting }, time.Minute, true)),
		hm("ClaimFromResumeGrant", "LeaseStillLive", nil, fromGrant(func(fx *hmFixture) backend.ExecutionID { return fx.active }, time.Minute, true)),
		hm("ClaimFromResumeGrant", "WrongStateCompleted", nil, fromGrant(func(fx *hmFixture) backend.ExecutionID { return fx.done }, time.Minute, true)),
		hm("ClaimFromResumeGrant", "NegativeLeaseTTL", hmInvalid, fromGrant(func(fx *hmFixture) backend.ExecutionID { return fx.sus }, -time.Second, true)),
		hm("ClaimFromResumeGrant", hmCancelled, context.Canceled, fromGrant(func(fx *hmFixture) backend.ExecutionID { return fx.sus }, time.Minute, false)),
	)

	listWP := func(mod func(fx *hmFixture, a *backend.ListPendingWaitpointsArgs)) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := backend.ListPendingWaitpointsArgs{ExecutionID: fx.active}
			mod(fx, &args)
			return hmCall(b.ListPendingWaitpoints(ctx, args))
		}
	}
	cases = append(cases,
		hm("ListPendingWaitpoints", hmMalformedID, hmInvalid, listWP(func(_ *hmFixture, a *backend.ListPendingWaitpointsArgs) { a.ExecutionID = hmMalformedExec })),
		hm("ListPendingWaitpoints", hmUnknownID, hmNoExecution, listWP(func(_ *hmFixture, a *backend.ListPendingWaitpointsArgs) {
			a.ExecutionID = backend.NewExecutionID()
		})),
		hm("ListPendingWaitpoints", "MalformedCursor", hmInvalid, listWP(func(_ *hmFixture, a *backend.ListPendingWaitpointsArgs) { a.After = hmMalformedRaw })),
		hm("ListPendingWaitpoints", "NegativeLimit", nil, listWP(func(_ *hmFixture, a *backend.ListPendingWaitpointsArgs) { a.Limit = -1 })),
		hm("ListPendingWaitpoints", "HugeLimit", nil, listWP(func(_ *hmFixture, a *backend.ListPendingWaitpointsArgs) { a.Limit = math.MaxInt })),
		hm("ListPendingWaitpoints", hmCancelled, context.Canceled, listWP(func(*hmFixture, *backend.ListPendingWaitpointsArgs) {})),
	)

	seed := func(kid, secret string) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return hmCall(b.SeedWaitpointHMACSecret(ctx, backend.SeedWaitpointHMACSecretArgs{Kid: kid, SecretHex: secret}))
		}
	}
	cases = append(cases,
		hm("SeedWaitpointHMACSecret", "EmptyKid", hmInvalid, seed("", hmSecret1)),
		hm("SeedWaitpointHMACSecret", "KidWithColon", hmInvalid, seed("k:3", hmSecret1)),
		hm("SeedWaitpointHMACSecret", "SecretTooShort", backend.ErrInvalidInput, seed("k3", hmSecret1[:62])),
		hm("SeedWaitpointHMACSecret", "SecretNotHex", backend.ErrInvalidInput, seed("k3", strings.Repeat("zz", 32))),
		hm("SeedWaitpointHMACSecret", "OtherKidActive", hmInvalid, seed("k3", hmSecret1)),
		hm("SeedWaitpointHMACSecret", "AlreadySeeded", nil, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			out, err := b.SeedWaitpointHMACSecret(ctx, backend.SeedWaitpointHMACSecretArgs{Kid: "k1", SecretHex: hmSecret2})
			if err == nil && (out.Kind != backend.SeedAlreadySeeded || out.SameSecret) {
				return hmUnexpected("%+v", out)
			}
			return err
		}),
		hm("SeedWaitpointHMACSecret", hmCancelled, context.Canceled, seed("k3", hmSecret1)),
	)

	rotate := func(kid, secret string, grace time.Duration) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			res, err := b.RotateWaitpointHMACSecretAll(ctx, backend.RotateWaitpointHMACSecretAllArgs{NewKid: kid, NewSecretHex: secret, Grace: grace})
			if err != nil {
				return err
			}
			if len(res.Entries) != 1 {
				return hmUnexpected("%+v", res)
			}
			if e := res.Entries[0]; e.Err != nil {
				return e.Err
			} else if e.Outcome.Kind != backend.RotateNoop {
				return hmUnexpected("%+v", e.Outcome)
			}
			return nil
		}
	}
	cases = append(cases,
		hm("RotateWaitpointHMACSecretAll", "EmptyKid", hmInvalid, rotate("", hmSecret1, 0)),
		hm("RotateWaitpointHMACSecretAll", "KidWithColon", hmInvalid, rotate("k:9", hmSecret1, 0)),
		hm("RotateWaitpointHMACSecretAll", "SecretNotHex", backend.ErrInvalidInput, rotate("k9", strings.Repeat("g", 64), 0)),
		hm("RotateWaitpointHMACSecretAll", "SecretTooLong", backend.ErrInvalidInput, rotate("k9", hmSecret1+"ab", 0)),
		hm("RotateWaitpointHMACSecretAll", "KnownKidOtherSecret", backend.ErrRotationConflict, rotate("k1", hmSecret2, 0)),
		hm("RotateWaitpointHMACSecretAll", "KnownKidSameSecret", nil, rotate("k1", hmSecret1, 0)),
		// Grace is accepted and has no effect (API.md
		// RotateWaitpointHMACSecretAllArgs), whatever its value.
		hm("RotateWaitpointHMACSecretAll", "NegativeGrace", nil, rotate("k2", hmSecret2, -time.Hour)),
		hm("RotateWaitpointHMACSecretAll", hmCancelled, context.Canceled, rotate("k9", hmSecret1, 0)),
	)
	return cases
}

// hmGrantCases covers the scheduler primitives and the reclaim path.
func hmGrantCases() []hmCase {
	flow0 := backend.Partition{Family: backend.PartitionFamilyFlow}
	scan := func(lane backend.LaneID, limit int) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			ids, err := b.ScanEligibleExecutions(ctx, backend.ScanEligibleArgs{LaneID: lane, Limit: limit, Partition: flow0})
			if err == nil && len(ids) > 1 {
				return hmUnexpected("%d ids on a lane of one execution", len(ids))
			}
			return err
		}
	}
	issue := func(mod func(fx *hmFixture, a *backend.IssueClaimGrantArgs)) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := backend.IssueClaimGrantArgs{
				ExecutionID: fx.waiting, LaneID: hmLaneWait, WorkerID: "w-hostile", WorkerInstanceID: "w-hostile-1",
				GrantTTL: time.Minute, Partition: flow0,
			}
			mod(fx, &args)
			return hmCall(b.IssueClaimGrant(ctx, args))
		}
	}
	block := func(id func(*hmFixture) backend.ExecutionID, reason backend.BlockingReason, wantRejected bool) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			out, err := b.BlockRoute(ctx, backend.BlockRouteArgs{ExecutionID: id(fx), LaneID: hmLaneWait, Partition: flow0, ReasonCode: reason})
			if err == nil && wantRejected && out.Kind != backend.BlockRouteRejected {
				return hmUnexpected("%+v", out)
			}
			return err
		}
	}
	claimExec := func(mod func(fx *hmFixture, a *backend.ClaimExecutionArgs)) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := backend.ClaimExecutionArgs{
				ExecutionID: fx.grantExec, WorkerID: hmGrantWorker, WorkerInstanceID: "w-grant-1", LaneID: hmLaneGrant,
				LeaseID: backend.NewLeaseID(), AttemptID: backend.NewAttemptID(), LeaseTTL: time.Minute,
			}
			mod(fx, &args)
			return hmCall(b.ClaimExecution(ctx, args))
		}
	}
	issueReclaim := func(mod func(fx *hmFixture, a *backend.IssueReclaimGrantArgs), wantKind backend.IssueReclaimGrantKind) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := backend.IssueReclaimGrantArgs{
				ExecutionID: fx.expired, LaneID: hmLaneExpired, WorkerID: hmReclaimer, WorkerInstanceID: "w-reclaim-2", GrantTTL: time.Minute,
			}
			mod(fx, &args)
			out, err := b.IssueReclaimGrant(ctx, args)
			if err == nil && out.Kind != wantKind {
				return hmUnexpected("%+v", out)
			}
			return err
		}
	}
	reclaim := func(mod func(fx *hmFixture, a *backend.ReclaimExecutionArgs), wantKind backend.ReclaimExecutionKind) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := backend.ReclaimExecutionArgs{
				ExecutionID: fx.expired, WorkerID: hmReclaimer, WorkerInstanceID: "w-reclaim-2", LaneID: hmLaneExpired,
				LeaseID: backend.NewLeaseID(), AttemptID: backend.NewAttemptID(), LeaseTTL: time.Minute,
			}
			mod(fx, &args)
			out, err := b.ReclaimExecution(ctx, args)
			if err == nil && out.Kind != wantKind {
				return hmUnexpected("%+v", out)
			}
			return err
		}
	}
	return []hmCase{
		hm("ScanEligibleExecutions", "EmptyLane", hmInvalid, scan("", 10)),
		hm("ScanEligibleExecutions", "NegativeLimit", hmInvalid, scan(hmLaneWait, -1)),
		hm("ScanEligibleExecutions", "HugeLimit", nil, scan(hmLaneWait, math.MaxInt)),
		hm("ScanEligibleExecutions", hmCancelled, context.Canceled, scan(hmLaneWait, 10)),

		hm("IssueClaimGrant", hmMalformedID, hmInvalid, issue(func(_ *hmFixture, a *backend.IssueClaimGrantArgs) { a.ExecutionID = hmMalformedExec })),
		hm("IssueClaimGrant", hmUnknownID, hmNoExecution, issue(func(_ *hmFixture, a *backend.IssueClaimGrantArgs) { a.ExecutionID = backend.NewExecutionID() })),
		hm("IssueClaimGrant", "PartitionMismatch", hmInvalid, issue(func(_ *hmFixture, a *backend.IssueClaimGrantArgs) { a.Partition.Index = 7 })),
		hm("IssueClaimGrant", "WrongStateActive", backend.ErrExecutionNotEligible, issue(func(fx *hmFixture, a *backend.IssueClaimGrantArgs) { a.ExecutionID = fx.active })),
		hm("IssueClaimGrant", "WrongStateCompleted", backend.ErrExecutionNotEligible, issue(func(fx *hmFixture, a *backend.IssueClaimGrantArgs) { a.ExecutionID = fx.done })),
		hm("IssueClaimGrant", "WrongStateBlocked", backend.ErrExecutionNotEligible, issue(func(fx *hmFixture, a *backend.IssueClaimGrantArgs) { a.ExecutionID = fx.m2 })),
		hm("IssueClaimGrant", "GrantAlreadyExists", backend.ErrGrantAlreadyExists, issue(func(fx *hmFixture, a *backend.IssueClaimGrantArgs) { a.ExecutionID = fx.grantExec })),
		hm("IssueClaimGrant", "CapabilityMismatch", backend.ErrCapabilityMismatch, issue(func(fx *hmFixture, a *backend.IssueClaimGrantArgs) {
			a.ExecutionID, a.WorkerCapabilities = fx.capsExec, []string{"cpu"}
		})),
		hm("IssueClaimGrant", "TooManyCapabilities", backend.ErrInvalidCapabilities, issue(func(_ *hmFixture, a *backend.IssueClaimGrantArgs) {
			a.WorkerCapabilities = hmTokens(257)
		})),
		hm("IssueClaimGrant", "NegativeGrantTTL", hmInvalid, issue(func(_ *hmFixture, a *backend.IssueClaimGrantArgs) { a.GrantTTL = -time.Second })),
		hm("IssueClaimGrant", hmCancelled, context.Canceled, issue(func(*hmFixture, *backend.IssueClaimGrantArgs) {})),

		hm("BlockRoute", hmMalformedID, hmInvalid, block(func(*hmFixture) backend.ExecutionID { return hmMalformedExec }, backend.BlockingWaitingForQuota, true)),
		hm("BlockRoute", hmUnknownID, hmNoExecution, block(func(*hmFixture) backend.ExecutionID { return backend.NewExecutionID() }, backend.BlockingWaitingForQuota, true)),
		hm("BlockRoute", "UnknownReasonCode", nil, block(func(fx *hmFixture) backend.ExecutionID { return fx.waiting }, "because", true)),
		hm("BlockRoute", "ReasonNotABlock", nil, block(func(fx *hmFixture) backend.ExecutionID { return fx.waiting }, backend.BlockingWaitingForWorker, true)),
		hm("BlockRoute", "WrongStateActive", nil, block(func(fx *hmFixture) backend.ExecutionID { return fx.active }, backend.BlockingWaitingForQuota, true)),
		hm("BlockRoute", "WrongStateCompleted", nil, block(func(fx *hmFixture) backend.ExecutionID { return fx.done }, backend.BlockingWaitingForQuota, true)),
		hm("BlockRoute", hmCancelled, context.Canceled, block(func(fx *hmFixture) backend.ExecutionID { return fx.waiting }, backend.BlockingWaitingForQuota, false)),

		hm("ClaimExecution", hmMalformedID, hmInvalid, claimExec(func(_ *hmFixture, a *backend.ClaimExecutionArgs) { a.ExecutionID = hmMalformedExec })),
		hm("ClaimExecution", hmUnknownID, hmNoExecution, claimExec(func(_ *hmFixture, a *backend.ClaimExecutionArgs) { a.ExecutionID = backend.NewExecutionID() })),
		hm("ClaimExecution", "MalformedLeaseID", hmInvalid, claimExec(func(_ *hmFixture, a *backend.ClaimExecutionArgs) { a.LeaseID = hmMalformedRaw })),
		hm("ClaimExecution", "MalformedAttemptID", hmInvalid, claimExec(func(_ *hmFixture, a *backend.ClaimExecutionArgs) { a.AttemptID = hmMalformedRaw })),
		hm("ClaimExecution", "NegativeLeaseTTL", hmInvalid, claimExec(func(_ *hmFixture, a *backend.ClaimExecutionArgs) { a.LeaseTTL = -time.Second })),
		hm("ClaimExecution", "WrongStateCompleted", backend.ErrExecutionNotActive, claimExec(func(fx *hmFixture, a *backend.ClaimExecutionArgs) { a.ExecutionID = fx.done })),
		hm("ClaimExecution", "WrongStateActive", backend.ErrExecutionNotActive, claimExec(func(fx *hmFixture, a *backend.ClaimExecutionArgs) { a.ExecutionID = fx.active })),
		hm("ClaimExecution", "WrongStateBlocked", backend.ErrExecutionNotLeaseable, claimExec(func(fx *hmFixture, a *backend.ClaimExecutionArgs) { a.ExecutionID = fx.m2 })),
		hm("ClaimExecution", "NoGrant", backend.ErrInvalidClaimGrant, claimExec(func(fx *hmFixture, a *backend.ClaimExecutionArgs) { a.ExecutionID = fx.waiting })),
		hm("ClaimExecution", "GrantOfOtherWorker", backend.ErrInvalidClaimGrant, claimExec(func(_ *hmFixture, a *backend.ClaimExecutionArgs) { a.WorkerID = "w-intruder" })),
		hm("ClaimExecution", "GrantExpired", backend.ErrClaimGrantExpired, claimExec(func(fx *hmFixture, a *backend.ClaimExecutionArgs) { a.ExecutionID = fx.grantLapsed })),
		hm("ClaimExecution", hmCancelled, context.Canceled, claimExec(func(*hmFixture, *backend.ClaimExecutionArgs) {})),

		hm("ClaimForWorker", "NotSupported", backend.ErrUnavailable, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return hmCall(b.ClaimForWorker(ctx, backend.ClaimForWorkerArgs{LaneID: hmLaneWait, WorkerID: "w", WorkerInstanceID: "w-1"}))
		}),
		hm("ClaimForWorker", "HostileArgs", backend.ErrUnavailable, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return hmCall(b.ClaimForWorker(ctx, backend.ClaimForWorkerArgs{LaneID: "\x00", GrantTTL: -time.Hour, WorkerCapabilities: hmTokens(300)}))
		}),

		hm("IssueReclaimGrant", hmMalformedID, hmInvalid, issueReclaim(func(_ *hmFixture, a *backend.IssueReclaimGrantArgs) { a.ExecutionID = hmMalformedExec }, "")),
		hm("IssueReclaimGrant", hmUnknownID, hmNoExecution, issueReclaim(func(_ *hmFixture, a *backend.IssueReclaimGrantArgs) { a.ExecutionID = backend.NewExecutionID() }, "")),
		hm("IssueReclaimGrant", "WrongStateWaiting", nil, issueReclaim(func(fx *hmFixture, a *backend.IssueReclaimGrantArgs) { a.ExecutionID = fx.waiting }, backend.ReclaimGrantNotReclaimable)),
		hm("IssueReclaimGrant", "WrongStateLiveLease", nil, issueReclaim(func(fx *hmFixture, a *backend.IssueReclaimGrantArgs) { a.ExecutionID = fx.active }, backend.ReclaimGrantNotReclaimable)),
		hm("IssueReclaimGrant", "WrongStateCompleted", nil, issueReclaim(func(fx *hmFixture, a *backend.IssueReclaimGrantArgs) { a.ExecutionID = fx.done }, backend.ReclaimGrantNotReclaimable)),
		hm("IssueReclaimGrant", "NegativeGrantTTL", hmInvalid, issueReclaim(func(_ *hmFixture, a *backend.IssueReclaimGrantArgs) { a.GrantTTL = -time.Second }, "")),
		hm("IssueReclaimGrant", "TooManyCapabilities", backend.ErrInvalidCapabilities, issueReclaim(func(_ *hmFixture, a *backend.IssueReclaimGrantArgs) {
			a.WorkerCapabilities = hmTokens(257)
		}, "")),
		hm("IssueReclaimGrant", hmCancelled, context.Canceled, issueReclaim(func(*hmFixture, *backend.IssueReclaimGrantArgs) {}, "")),

		hm("ReclaimExecution", hmMalformedID, hmInvalid, reclaim(func(_ *hmFixture, a *backend.ReclaimExecutionArgs) { a.ExecutionID = hmMalformedExec }, "")),
		hm("ReclaimExecution", hmUnknownID, hmNoExecution, reclaim(func(_ *hmFixture, a *backend.ReclaimExecutionArgs) { a.ExecutionID = backend.NewExecutionID() }, "")),
		hm("ReclaimExecution", "NoGrant", nil, reclaim(func(fx *hmFixture, a *backend.ReclaimExecutionArgs) { a.ExecutionID = fx.active }, backend.ReclaimGrantNotFound)),
		hm("ReclaimExecution", "GrantOfOtherWorker", hmInvalid, reclaim(func(_ *hmFixture, a *backend.ReclaimExecutionArgs) { a.WorkerID = "w-intruder" }, "")),
		hm("ReclaimExecution", "NegativeLeaseTTL", hmInvalid, reclaim(func(_ *hmFixture, a *backend.ReclaimExecutionArgs) { a.LeaseTTL = -time.Second }, "")),
		hm("ReclaimExecution", "MalformedLeaseID", hmInvalid, reclaim(func(_ *hmFixture, a *backend.ReclaimExecutionArgs) { a.LeaseID = hmMalformedRaw }, "")),
		hm("ReclaimExecution", hmCancelled, context.Canceled, reclaim(func(*hmFixture, *backend.ReclaimExecutionArgs) {}, "")),
	}
}

// hmReadCases covers the execution reads and listings.
func hmReadCases() []hmCase {
	// Reads whose answer for an unknown execution is "nothing", not an
	// error; found reports whether they returned something.
	nilReads := map[string]func(ctx context.Context, b *backend.SQLiteBackend, id backend.ExecutionID) (found bool, err error){
		"DescribeExecution": func(ctx context.Context, b *backend.SQLiteBackend, id backend.ExecutionID) (bool, error) {
			v, err := b.DescribeExecution(ctx, id)
			return v != nil, err
		},
		"GetExecutionResult": func(ctx context.Context, b *backend.SQLiteBackend, id backend.ExecutionID) (bool, error) {
			_, ok, err := b.GetExecutionResult(ctx, id)
			return ok, err
		},
		"ReadExecutionInfo": func(ctx context.Context, b *backend.SQLiteBackend, id backend.ExecutionID) (bool, error) {
			v, err := b.ReadExecutionInfo(ctx, id)
			return v != nil, err
		},
		"ReadExecutionState": func(ctx context.Context, b *backend.SQLiteBackend, id backend.ExecutionID) (bool, error) {
			v, err := b.ReadExecutionState(ctx, id)
			return v != nil, err
		},
		"ResolveExecutionFlowID": func(ctx context.Context, b *backend.SQLiteBackend, id backend.ExecutionID) (bool, error) {
			v, err := b.ResolveExecutionFlowID(ctx, id)
			return v != nil, err
		},
	}
	// Reads whose answer for an unknown execution is ErrInvalidInput (spec
	// 02 §16.2–16.4).
	errReads := map[string]func(ctx context.Context, b *backend.SQLiteBackend, id backend.ExecutionID) error{
		"ReadCurrentAttemptIndex": func(ctx context.Context, b *backend.SQLiteBackend, id backend.ExecutionID) error {
			return hmCall(b.ReadCurrentAttemptIndex(ctx, id))
		},
		"ReadExecutionContext": func(ctx context.Context, b *backend.SQLiteBackend, id backend.ExecutionID) error {
			return hmCall(b.ReadExecutionContext(ctx, id))
		},
		"ReadTotalAttemptCount": func(ctx context.Context, b *backend.SQLiteBackend, id backend.ExecutionID) error {
			return hmCall(b.ReadTotalAttemptCount(ctx, id))
		},
	}
	var cases []hmCase
	for _, m := range slices.Sorted(maps.Keys(nilReads)) {
		read := nilReads[m]
		cases = append(cases,
			hm(m, hmMalformedID, hmInvalid, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
				return hmCall(read(ctx, b, hmMalformedExec))
			}),
			hm(m, "PartitionOutOfRange", hmInvalid, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
				return hmCall(read(ctx, b, backend.ExecutionID("{fp:70000}:"+backend.NewExecutionID().UUID())))
			}),
			hm(m, hmUnknownID, nil, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
				found, err := read(ctx, b, backend.NewExecutionID())
				if err == nil && found {
					return hmUnexpected("found an execution that does not exist")
				}
				return err
			}),
			hm(m, hmCancelled, context.Canceled, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
				return hmCall(read(ctx, b, fx.done))
			}),
		)
	}
	for _, m := range slices.Sorted(maps.Keys(errReads)) {
		read := errReads[m]
		cases = append(cases,
			hm(m, hmMalformedID, hmInvalid, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
				return read(ctx, b, hmMalformedExec)
			}),
			hm(m, hmUnknownID, hmInvalid, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
				return read(ctx, b, backend.NewExecutionID())
			}),
			hm(m, hmCancelled, context.Canceled, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
				return read(ctx, b, fx.done)
			}),
		)
	}

	listExec := func(p backend.PartitionKey, cursor backend.ExecutionID, limit int) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			page, err := b.ListExecutions(ctx, p, cursor, limit)
			if err == nil && (len(page.Items) > max(limit, 0) || len(page.Items) > 1000) {
				return hmUnexpected("%d items for limit %d", len(page.Items), limit)
			}
			return err
		}
	}
	listLanes := func(cursor backend.LaneID, limit int) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			page, err := b.ListLanes(ctx, cursor, limit)
			if err == nil && len(page.Items) > max(limit, 0) {
				return hmUnexpected("%d items for limit %d", len(page.Items), limit)
			}
			return err
		}
	}
	listSus := func(p backend.PartitionKey, cursor backend.ExecutionID, limit int) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			page, err := b.ListSuspended(ctx, p, cursor, limit)
			if err == nil && len(page.Items) > max(limit, 0) {
				return hmUnexpected("%d items for limit %d", len(page.Items), limit)
			}
			return err
		}
	}
	p0 := backend.DefaultPartitionKey
	return append(cases,
		hm("ListExecutions", "MalformedPartition", hmInvalid, listExec("fp:0", "", 10)),
		hm("ListExecutions", "PartitionIndexTooBig", hmInvalid, listExec("{fp:65536}", "", 10)),
		hm("ListExecutions", "UnknownPartitionFamily", hmInvalid, listExec("{zz:0}", "", 10)),
		hm("ListExecutions", "MalformedCursor", hmInvalid, listExec(p0, hmMalformedExec, 10)),
		hm("ListExecutions", "NegativeLimit", nil, listExec(p0, "", -1)),
		hm("ListExecutions", "HugeLimit", nil, listExec(p0, "", math.MaxInt)),
		hm("ListExecutions", hmCancelled, context.Canceled, listExec(p0, "", 10)),

		hm("ListLanes", "NegativeLimit", nil, listLanes("", -1)),
		hm("ListLanes", "HugeLimit", nil, listLanes("", math.MaxInt)),
		hmCase{
			method: "ListLanes", class: "MalformedCursor", want: hmInvalid, call: listLanes("\x01not a lane", 10),
		},
		hm("ListLanes", hmCancelled, context.Canceled, listLanes("", 10)),

		hm("ListSuspended", "MalformedPartition", hmInvalid, listSus("{fp:x}", "", 10)),
		hm("ListSuspended", "MalformedCursor", hmInvalid, listSus(p0, hmMalformedExec, 10)),
		hm("ListSuspended", "NegativeLimit", nil, listSus(p0, "", -1)),
		hm("ListSuspended", "HugeLimit", nil, listSus(p0, "", math.MaxInt)),
		hm("ListSuspended", hmCancelled, context.Canceled, listSus(p0, "", 10)),
	)
}

// hmOperatorCases covers the operator methods.
func hmOperatorCases() []hmCase {
	cancelExec := func(mod func(fx *hmFixture, a *backend.CancelExecutionArgs)) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := backend.CancelExecutionArgs{ExecutionID: fx.waiting, Reason: "hostile"}
			mod(fx, &args)
			return hmCall(b.CancelExecution(ctx, args))
		}
	}
	revoke := func(mod func(fx *hmFixture, a *backend.RevokeLeaseArgs), wantReason string) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := backend.RevokeLeaseArgs{ExecutionID: fx.active, Reason: "hostile"}
			mod(fx, &args)
			out, err := b.RevokeLease(ctx, args)
			if err == nil && (out.Kind != backend.RevokeLeaseAlreadySatisfied || out.Reason != wantReason) {
				return hmUnexpected("%+v", out)
			}
			return err
		}
	}
	priority := func(id func(*hmFixture) backend.ExecutionID, p int32) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return hmCall(b.ChangePriority(ctx, backend.ChangePriorityArgs{ExecutionID: id(fx), NewPriority: p}))
		}
	}
	replay := func(id func(*hmFixture) backend.ExecutionID) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return hmCall(b.ReplayExecution(ctx, backend.ReplayExecutionArgs{ExecutionID: id(fx)}))
		}
	}
	malformed := func(*hmFixture) backend.ExecutionID { return hmMalformedExec }
	unknown := func(*hmFixture) backend.ExecutionID { return backend.NewExecutionID() }
	waiting := func(fx *hmFixture) backend.ExecutionID { return fx.waiting }
	active := func(fx *hmFixture) backend.ExecutionID { return fx.active }
	done := func(fx *hmFixture) backend.ExecutionID { return fx.done }
	return []hmCase{
		hm("CancelExecution", hmMalformedID, hmInvalid, cancelExec(func(_ *hmFixture, a *backend.CancelExecutionArgs) { a.ExecutionID = hmMalformedExec })),
		hm("CancelExecution", hmUnknownID, hmNoExecution, cancelExec(func(_ *hmFixture, a *backend.CancelExecutionArgs) { a.ExecutionID = backend.NewExecutionID() })),
		hm("CancelExecution", "WrongStateCompleted", hmInvalid, cancelExec(func(fx *hmFixture, a *backend.CancelExecutionArgs) { a.ExecutionID = fx.done })),
		hm("CancelExecution", "WrongStateFailed", hmInvalid, cancelExec(func(fx *hmFixture, a *backend.CancelExecutionArgs) { a.ExecutionID = fx.failed })),
		// Already cancelled: the result again, without writing.
		hm("CancelExecution", "AlreadyCancelled", nil, cancelExec(func(fx *hmFixture, a *backend.CancelExecutionArgs) { a.ExecutionID = fx.cancelled })),
		hm("CancelExecution", "LeaseHolderWithoutEpoch", hmInvalid, cancelExec(func(fx *hmFixture, a *backend.CancelExecutionArgs) {
			a.ExecutionID, a.Source = fx.active, backend.CancelSourceLeaseHolder
		})),
		hm("CancelExecution", "LeaseHolderStaleEpoch", backend.ErrStaleLease, cancelExec(func(fx *hmFixture, a *backend.CancelExecutionArgs) {
			a.ExecutionID, a.Source, a.LeaseEpoch = fx.active, backend.CancelSourceLeaseHolder, fx.live.LeaseEpoch()+1
		})),
		hm("CancelExecution", "LeaseHolderAbsurdEpoch", backend.ErrStaleLease, cancelExec(func(fx *hmFixture, a *backend.CancelExecutionArgs) {
			a.ExecutionID, a.Source, a.LeaseEpoch = fx.active, "custom-source", math.MaxUint64
		})),
		hm("CancelExecution", hmCancelled, context.Canceled, cancelExec(func(*hmFixture, *backend.CancelExecutionArgs) {})),

		hm("RevokeLease", hmMalformedID, hmInvalid, revoke(func(_ *hmFixture, a *backend.RevokeLeaseArgs) { a.ExecutionID = hmMalformedExec }, "")),
		hm("RevokeLease", hmUnknownID, hmNoExecution, revoke(func(_ *hmFixture, a *backend.RevokeLeaseArgs) { a.ExecutionID = backend.NewExecutionID() }, "")),
		hm("RevokeLease", "WrongStateWaiting", nil, revoke(func(fx *hmFixture, a *backend.RevokeLeaseArgs) { a.ExecutionID = fx.waiting }, "no_active_lease")),
		hm("RevokeLease", "WrongStateCompleted", nil, revoke(func(fx *hmFixture, a *backend.RevokeLeaseArgs) { a.ExecutionID = fx.done }, "no_active_lease")),
		hm("RevokeLease", "OtherWorkerInstance", nil, revoke(func(_ *hmFixture, a *backend.RevokeLeaseArgs) { a.WorkerInstanceID = "w-intruder" }, "different_worker_instance_id")),
		hm("RevokeLease", "ForeignLeaseID", nil, revoke(func(_ *hmFixture, a *backend.RevokeLeaseArgs) { a.ExpectedLeaseID = string(backend.NewLeaseID()) }, "lease_id_mismatch")),
		hm("RevokeLease", hmCancelled, context.Canceled, revoke(func(*hmFixture, *backend.RevokeLeaseArgs) {}, "")),

		hm("ChangePriority", hmMalformedID, hmInvalid, priority(malformed, 1)),
		hm("ChangePriority", hmUnknownID, hmNoExecution, priority(unknown, 1)),
		hm("ChangePriority", "WrongStateActive", backend.ErrNotRunnable, priority(active, 1)),
		hm("ChangePriority", "WrongStateCompleted", backend.ErrTerminal, priority(done, 1)),
		// Out-of-range priorities are clamped, not rejected: they reach the
		// state checks.
		hm("ChangePriority", "AbsurdPriorityCompleted", backend.ErrTerminal, priority(done, math.MaxInt32)),
		hm("ChangePriority", "NegativePriorityActive", backend.ErrNotRunnable, priority(active, math.MinInt32)),
		hm("ChangePriority", hmCancelled, context.Canceled, priority(waiting, 5)),

		hm("ReplayExecution", hmMalformedID, hmInvalid, replay(malformed)),
		hm("ReplayExecution", hmUnknownID, hmNoExecution, replay(unknown)),
		hm("ReplayExecution", "WrongStateActive", backend.ErrExecutionNotTerminal, replay(active)),
		hm("ReplayExecution", "WrongStateWaiting", backend.ErrExecutionNotTerminal, replay(waiting)),
		hm("ReplayExecution", "WrongStateSuspended", backend.ErrExecutionNotTerminal, replay(func(fx *hmFixture) backend.ExecutionID { return fx.sus })),
		hm("ReplayExecution", "ReplaysExhausted", backend.ErrMaxReplaysExhausted, replay(func(fx *hmFixture) backend.ExecutionID { return fx.replayed })),
		hm("ReplayExecution", hmCancelled, context.Canceled, replay(done)),
	}
}

// hmFlowCases covers the flow methods.
func hmFlowCases() []hmCase {
	add := func(mod func(fx *hmFixture, a *backend.AddExecutionToFlowArgs), want backend.AddExecutionToFlowKind) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := backend.AddExecutionToFlowArgs{ExecutionID: fx.waiting, FlowID: fx.otherFlow}
			mod(fx, &args)
			out, err := b.AddExecutionToFlow(ctx, args)
			if err == nil && out.Kind != want {
				return hmUnexpected("%+v", out)
			}
			return err
		}
	}
	stage := func(mod func(fx *hmFixture, a *backend.StageDependencyEdgeArgs)) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := backend.StageDependencyEdgeArgs{
				FlowID: fx.flow, EdgeID: backend.NewEdgeID(), UpstreamExecutionID: fx.m2, DownstreamExecutionID: fx.m3,
				ExpectedGraphRevision: fx.flowRev,
			}
			mod(fx, &args)
			return hmCall(b.StageDependencyEdge(ctx, args))
		}
	}
	apply := func(mod func(fx *hmFixture, a *backend.ApplyDependencyToChildArgs), want backend.ApplyDependencyKind) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := backend.ApplyDependencyToChildArgs{FlowID: fx.flow, EdgeID: fx.stagedEdge, DownstreamExecutionID: fx.m3}
			mod(fx, &args)
			out, err := b.ApplyDependencyToChild(ctx, args)
			if err == nil && out.Kind != want {
				return hmUnexpected("%+v", out)
			}
			return err
		}
	}
	policy := func(flow func(*hmFixture) backend.FlowID, down func(*hmFixture) backend.ExecutionID, p backend.EdgeDependencyPolicy) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return hmCall(b.SetEdgeGroupPolicy(ctx, flow(fx), down(fx), p))
		}
	}
	// newBuildArgs is a fresh two-member flow with one edge.
	newBuildArgs := func() backend.BuildFlowArgs {
		up, down := hmNewExec(hmLaneWait), hmNewExec(hmLaneWait)
		return backend.BuildFlowArgs{
			FlowID:  backend.NewFlowID(),
			Members: []backend.CreateExecutionArgs{up, down},
			Edges:   []backend.BuildFlowEdge{{Upstream: up.ExecutionID, Downstream: down.ExecutionID}},
		}
	}
	build := func(mod func(*hmFixture, *backend.BuildFlowArgs)) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := newBuildArgs()
			mod(fx, &args)
			return hmCall(b.BuildFlow(ctx, args))
		}
	}
	theFlow := func(fx *hmFixture) backend.FlowID { return fx.flow }
	fresh := func(*hmFixture) backend.ExecutionID { return backend.NewExecutionID() }
	describeFlow := func(id func(*hmFixture) backend.FlowID) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			snap, err := b.DescribeFlow(ctx, id(fx))
			if err == nil && snap != nil && snap.FlowID != fx.flow {
				return hmUnexpected("found flow %s", snap.FlowID)
			}
			return err
		}
	}
	describeEdge := func(flow func(*hmFixture) backend.FlowID, edge func(*hmFixture) backend.EdgeID, wantNil bool) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			e, err := b.DescribeEdge(ctx, flow(fx), edge(fx))
			if err == nil && wantNil && e != nil {
				return hmUnexpected("found edge %s", e.EdgeID)
			}
			return err
		}
	}
	listEdges := func(flow func(*hmFixture) backend.FlowID, dir func(*hmFixture) backend.EdgeDirection) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			edges, err := b.ListEdges(ctx, flow(fx), dir(fx))
			if err == nil && len(edges) != 0 {
				return hmUnexpected("%d edges", len(edges))
			}
			return err
		}
	}
	listFlows := func(p backend.PartitionKey, cursor backend.FlowID, limit int) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			page, err := b.ListFlows(ctx, p, cursor, limit)
			if err == nil && len(page.Items) > max(limit, 0) {
				return hmUnexpected("%d items for limit %d", len(page.Items), limit)
			}
			return err
		}
	}
	cancelFlow := func(id func(*hmFixture) backend.FlowID, p backend.CancelFlowPolicy, wait backend.CancelFlowWait) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			out, err := b.CancelFlow(ctx, id(fx), p, wait)
			if err == nil && len(out.MemberExecutionIDs) != 0 {
				return hmUnexpected("%+v", out)
			}
			return err
		}
	}
	header := func(id func(*hmFixture) backend.FlowID, want backend.CancelFlowHeaderKind) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			out, err := b.CancelFlowHeader(ctx, backend.CancelFlowArgs{FlowID: id(fx), Reason: "hostile", CancellationPolicy: "cancel_all"})
			if err == nil && out.Kind != want {
				return hmUnexpected("%+v", out)
			}
			return err
		}
	}
	ack := func(flow func(*hmFixture) backend.FlowID, id func(*hmFixture) backend.ExecutionID) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return b.AckCancelMember(ctx, flow(fx), id(fx))
		}
	}
	malformedFlow := func(*hmFixture) backend.FlowID { return hmMalformedFlow }
	unknownFlow := func(*hmFixture) backend.FlowID { return backend.NewFlowID() }
	cancelledFlow := func(fx *hmFixture) backend.FlowID { return fx.cancelledFlow }
	otherFlow := func(fx *hmFixture) backend.FlowID { return fx.otherFlow }
	appliedEdge := func(fx *hmFixture) backend.EdgeID { return fx.appliedEdge }
	m1 := func(fx *hmFixture) backend.ExecutionID { return fx.m1 }
	return []hmCase{
		hm("CreateFlow", hmMalformedID, hmInvalid, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return hmCall(b.CreateFlow(ctx, backend.CreateFlowArgs{FlowID: hmMalformedFlow}))
		}),
		hm("CreateFlow", "AlreadyExists", nil, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			out, err := b.CreateFlow(ctx, backend.CreateFlowArgs{FlowID: fx.cancelledFlow, FlowKind: "other", Namespace: "elsewhere"})
			if err == nil && out.Kind != backend.CreateFlowAlreadySatisfied {
				return hmUnexpected("%+v", out)
			}
			return err
		}),
		hm("CreateFlow", hmCancelled, context.Canceled, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return hmCall(b.CreateFlow(ctx, backend.CreateFlowArgs{FlowID: backend.NewFlowID()}))
		}),

		hm("BuildFlow", hmMalformedID, hmInvalid, build(func(_ *hmFixture, a *backend.BuildFlowArgs) { a.FlowID = hmMalformedFlow })),
		hm("BuildFlow", "AlreadyExists", nil, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := newBuildArgs()
			args.FlowID = fx.cancelledFlow
			out, err := b.BuildFlow(ctx, args)
			if err == nil && out.Kind != backend.CreateFlowAlreadySatisfied {
				return hmUnexpected("%+v", out)
			}
			return err
		}),
		hm("BuildFlow", "EdgeToOtherFlowsMember", backend.ErrExecutionNotInFlow, build(func(fx *hmFixture, a *backend.BuildFlowArgs) { a.Edges[0].Downstream = fx.m1 })),
		// Found inside the transaction, after the flow and members were
		// written: all of it rolls back.
		hm("BuildFlow", "Cycle", backend.ErrCycleDetected, build(func(_ *hmFixture, a *backend.BuildFlowArgs) {
			a.Edges = append(a.Edges, backend.BuildFlowEdge{Upstream: a.Edges[0].Downstream, Downstream: a.Edges[0].Upstream})
		})),
		hm("BuildFlow", "MemberOfOtherFlow", backend.ErrExecutionAlreadyInFlow, build(func(fx *hmFixture, a *backend.BuildFlowArgs) {
			a.Members[0].ExecutionID, a.Edges[0].Upstream = fx.m1, fx.m1
		})),
		hm("BuildFlow", hmCancelled, context.Canceled, build(func(*hmFixture, *backend.BuildFlowArgs) {})),

		hm("AddExecutionToFlow", hmMalformedID, hmInvalid, add(func(_ *hmFixture, a *backend.AddExecutionToFlowArgs) { a.ExecutionID = hmMalformedExec }, "")),
		hm("AddExecutionToFlow", "MalformedFlowID", hmInvalid, add(func(_ *hmFixture, a *backend.AddExecutionToFlowArgs) { a.FlowID = hmMalformedFlow }, "")),
		hm("AddExecutionToFlow", "PartitionMismatch", hmInvalid, add(func(fx *hmFixture, a *backend.AddExecutionToFlowArgs) { a.ExecutionID = hmOtherPartition(fx.waiting) }, "")),
		hm("AddExecutionToFlow", "UnknownFlow", hmInvalid, add(func(_ *hmFixture, a *backend.AddExecutionToFlowArgs) { a.FlowID = backend.NewFlowID() }, "")),
		hm("AddExecutionToFlow", "UnknownExecution", hmInvalid, add(func(_ *hmFixture, a *backend.AddExecutionToFlowArgs) { a.ExecutionID = backend.NewExecutionID() }, "")),
		hm("AddExecutionToFlow", "FlowCancelled", backend.ErrFlowAlreadyTerminal, add(func(fx *hmFixture, a *backend.AddExecutionToFlowArgs) { a.FlowID = fx.cancelledFlow }, "")),
		hm("AddExecutionToFlow", "MemberOfOtherFlow", backend.ErrExecutionAlreadyInFlow, add(func(fx *hmFixture, a *backend.AddExecutionToFlowArgs) { a.ExecutionID = fx.m1 }, "")),
		hm("AddExecutionToFlow", "AlreadyMember", nil, add(func(fx *hmFixture, a *backend.AddExecutionToFlowArgs) {
			a.ExecutionID, a.FlowID = fx.m1, fx.flow
		}, backend.AddExecutionAlreadyMember)),
		hm("AddExecutionToFlow", hmCancelled, context.Canceled, add(func(*hmFixture, *backend.AddExecutionToFlowArgs) {}, "")),

		hm("StageDependencyEdge", "SelfReference", backend.ErrSelfReferencingEdge, stage(func(fx *hmFixture, a *backend.StageDependencyEdgeArgs) { a.UpstreamExecutionID = fx.m3 })),
		hm("StageDependencyEdge", hmMalformedID, hmInvalid, stage(func(_ *hmFixture, a *backend.StageDependencyEdgeArgs) { a.UpstreamExecutionID = hmMalformedExec })),
		hm("StageDependencyEdge", "MalformedEdgeID", hmInvalid, stage(func(_ *hmFixture, a *backend.StageDependencyEdgeArgs) { a.EdgeID = hmMalformedEdge })),
		hm("StageDependencyEdge", "MalformedFlowID", hmInvalid, stage(func(_ *hmFixture, a *backend.StageDependencyEdgeArgs) { a.FlowID = hmMalformedFlow })),
		hm("StageDependencyEdge", "PartitionMismatch", hmInvalid, stage(func(fx *hmFixture, a *backend.StageDependencyEdgeArgs) {
			a.DownstreamExecutionID = hmOtherPartition(fx.m3)
		})),
		hm("StageDependencyEdge", "UnknownFlow", hmInvalid, stage(func(_ *hmFixture, a *backend.StageDependencyEdgeArgs) { a.FlowID = backend.NewFlowID() })),
		hm("StageDependencyEdge", "FlowCancelled", backend.ErrFlowAlreadyTerminal, stage(func(fx *hmFixture, a *backend.StageDependencyEdgeArgs) {
			a.FlowID, a.ExpectedGraphRevision = fx.cancelledFlow, 0
		})),
		hm("StageDependencyEdge", "StaleGraphRevision", backend.ErrStaleGraphRevision, stage(func(fx *hmFixture, a *backend.StageDependencyEdgeArgs) { a.ExpectedGraphRevision = fx.flowRev - 1 })),
		hm("StageDependencyEdge", "AbsurdGraphRevision", backend.ErrStaleGraphRevision, stage(func(_ *hmFixture, a *backend.StageDependencyEdgeArgs) { a.ExpectedGraphRevision = math.MaxUint64 })),
		hm("StageDependencyEdge", "ExecutionNotInFlow", backend.ErrExecutionNotInFlow, stage(func(fx *hmFixture, a *backend.StageDependencyEdgeArgs) { a.DownstreamExecutionID = fx.waiting })),
		hm("StageDependencyEdge", "Cycle", backend.ErrCycleDetected, stage(func(fx *hmFixture, a *backend.StageDependencyEdgeArgs) {
			a.UpstreamExecutionID, a.DownstreamExecutionID = fx.m2, fx.m1
		})),
		hm("StageDependencyEdge", "DuplicateEdgeID", backend.ErrDependencyAlreadyExists, stage(func(fx *hmFixture, a *backend.StageDependencyEdgeArgs) { a.EdgeID = fx.appliedEdge })),
		hm("StageDependencyEdge", hmCancelled, context.Canceled, stage(func(*hmFixture, *backend.StageDependencyEdgeArgs) {})),

		// Applying an applied edge again is AlreadyApplied, without writing.
		hm("ApplyDependencyToChild", "AppliedTwice", nil, apply(func(fx *hmFixture, a *backend.ApplyDependencyToChildArgs) {
			a.EdgeID, a.DownstreamExecutionID = fx.appliedEdge, fx.m2
		}, backend.ApplyDependencyAlreadyApplied)),
		hm("ApplyDependencyToChild", "UnknownEdge", hmInvalid, apply(func(_ *hmFixture, a *backend.ApplyDependencyToChildArgs) { a.EdgeID = backend.NewEdgeID() }, "")),
		hm("ApplyDependencyToChild", "EdgeOfOtherFlow", hmInvalid, apply(func(fx *hmFixture, a *backend.ApplyDependencyToChildArgs) { a.FlowID = fx.otherFlow }, "")),
		hm("ApplyDependencyToChild", "DownstreamMismatch", hmInvalid, apply(func(fx *hmFixture, a *backend.ApplyDependencyToChildArgs) { a.DownstreamExecutionID = fx.m2 }, "")),
		hm("ApplyDependencyToChild", hmMalformedID, hmInvalid, apply(func(_ *hmFixture, a *backend.ApplyDependencyToChildArgs) { a.DownstreamExecutionID = hmMalformedExec }, "")),
		hm("ApplyDependencyToChild", "MalformedEdgeID", hmInvalid, apply(func(_ *hmFixture, a *backend.ApplyDependencyToChildArgs) { a.EdgeID = hmMalformedEdge }, "")),
		hm("ApplyDependencyToChild", "PartitionMismatch", hmInvalid, apply(func(fx *hmFixture, a *backend.ApplyDependencyToChildArgs) {
			a.DownstreamExecutionID = hmOtherPartition(fx.m3)
		}, "")),
		hm("ApplyDependencyToChild", hmCancelled, context.Canceled, apply(func(*hmFixture, *backend.ApplyDependencyToChildArgs) {}, backend.ApplyDependencyApplied)),

		hm("SetEdgeGroupPolicy", "QuorumZero", hmInvalid, policy(theFlow, fresh, backend.QuorumPolicy(0, backend.OnSatisfiedLetRun))),
		hm("SetEdgeGroupPolicy", "QuorumTooBig", hmInvalid, policy(theFlow, fresh, backend.QuorumPolicy(math.MaxInt32+1, backend.OnSatisfiedLetRun))),
		hm("SetEdgeGroupPolicy", "UnknownKind", hmInvalid, policy(theFlow, fresh, backend.EdgeDependencyPolicy{Kind: "most_of"})),
		hm("SetEdgeGroupPolicy", "UnknownOnSatisfied", hmInvalid, policy(theFlow, fresh, backend.AnyOfPolicy("shrug"))),
		hm("SetEdgeGroupPolicy", hmMalformedID, hmInvalid, policy(theFlow, func(*hmFixture) backend.ExecutionID { return hmMalformedExec }, backend.AllOfPolicy())),
		hm("SetEdgeGroupPolicy", "PartitionMismatch", hmInvalid, policy(theFlow, func(fx *hmFixture) backend.ExecutionID { return hmOtherPartition(fx.m3) }, backend.AllOfPolicy())),
		hm("SetEdgeGroupPolicy", "MalformedFlowID", hmInvalid, policy(malformedFlow, fresh, backend.AllOfPolicy())),
		hm("SetEdgeGroupPolicy", "UnknownFlow", hmNoFlow, policy(unknownFlow, fresh, backend.AllOfPolicy())),
		hm("SetEdgeGroupPolicy", "EdgesAlreadyStaged", hmInvalid, policy(theFlow, func(fx *hmFixture) backend.ExecutionID { return fx.m3 }, backend.AnyOfPolicy(backend.OnSatisfiedLetRun))),
		hm("SetEdgeGroupPolicy", hmCancelled, context.Canceled, policy(theFlow, fresh, backend.AnyOfPolicy(backend.OnSatisfiedLetRun))),

		hm("DescribeFlow", hmMalformedID, hmInvalid, describeFlow(malformedFlow)),
		hm("DescribeFlow", hmUnknownID, nil, describeFlow(unknownFlow)),
		hm("DescribeFlow", hmCancelled, context.Canceled, describeFlow(theFlow)),

		hm("DescribeEdge", "MalformedFlowID", hmInvalid, describeEdge(malformedFlow, appliedEdge, true)),
		hm("DescribeEdge", "MalformedEdgeID", hmInvalid, describeEdge(theFlow, func(*hmFixture) backend.EdgeID { return hmMalformedEdge }, true)),
		hm("DescribeEdge", hmUnknownID, nil, describeEdge(theFlow, func(*hmFixture) backend.EdgeID { return backend.NewEdgeID() }, true)),
		hm("DescribeEdge", "EdgeOfOtherFlow", nil, describeEdge(otherFlow, appliedEdge, true)),
		hm("DescribeEdge", hmCancelled, context.Canceled, describeEdge(theFlow, appliedEdge, false)),

		hm("ListEdges", "MalformedFlowID", hmInvalid, listEdges(malformedFlow, func(fx *hmFixture) backend.EdgeDirection { return backend.OutgoingEdges(fx.m1) })),
		hm("ListEdges", hmMalformedID, hmInvalid, listEdges(theFlow, func(*hmFixture) backend.EdgeDirection { return backend.IncomingEdges(hmMalformedExec) })),
		hm("ListEdges", "UnknownDirection", hmInvalid, listEdges(theFlow, func(fx *hmFixture) backend.EdgeDirection {
			return backend.EdgeDirection{Kind: "sideways", Node: fx.m1}
		})),
		hm("ListEdges", "UnknownFlow", nil, listEdges(unknownFlow, func(fx *hmFixture) backend.EdgeDirection { return backend.OutgoingEdges(fx.m1) })),
		hm("ListEdges", hmCancelled, context.Canceled, listEdges(theFlow, func(fx *hmFixture) backend.EdgeDirection { return backend.OutgoingEdges(fx.waiting) })),

		hm("ListFlows", "MalformedPartition", hmInvalid, listFlows("{fp:-1}", "", 10)),
		hm("ListFlows", "MalformedCursor", hmInvalid, listFlows(backend.DefaultPartitionKey, hmMalformedFlow, 10)),
		hm("ListFlows", "NegativeLimit", nil, listFlows(backend.DefaultPartitionKey, "", -1)),
		hm("ListFlows", "HugeLimit", nil, listFlows(backend.DefaultPartitionKey, "", math.MaxInt)),
		hm("ListFlows", hmCancelled, context.Canceled, listFlows(backend.DefaultPartitionKey, "", 10)),

		hm("CancelFlow", hmMalformedID, hmInvalid, cancelFlow(malformedFlow, backend.CancelFlowAll, backend.NoWait())),
		// An unknown flow is an empty Cancelled result, not an error.
		hm("CancelFlow", hmUnknownID, nil, cancelFlow(unknownFlow, backend.CancelFlowAll, backend.NoWait())),
		hm("CancelFlow", "UnknownWaitMode", hmInvalid, cancelFlow(theFlow, backend.CancelFlowAll, backend.CancelFlowWait{Kind: "wait_forever_and_ever"})),
		hm("CancelFlow", "NegativeWaitTimeout", hmInvalid, cancelFlow(theFlow, backend.CancelFlowAll, backend.WaitTimeout(-time.Second))),
		hm("CancelFlow", hmCancelled, context.Canceled, cancelFlow(theFlow, backend.CancelFlowAll, backend.NoWait())),

		hm("CancelFlowHeader", hmMalformedID, hmInvalid, header(malformedFlow, "")),
		hm("CancelFlowHeader", hmUnknownID, hmNoFlow, header(unknownFlow, "")),
		hm("CancelFlowHeader", "AlreadyCancelled", nil, header(cancelledFlow, backend.CancelFlowHeaderAlreadyTerminal)),
		hm("CancelFlowHeader", hmCancelled, context.Canceled, header(otherFlow, backend.CancelFlowHeaderCancelled)),

		hm("AckCancelMember", "MalformedFlowID", hmInvalid, ack(malformedFlow, m1)),
		hm("AckCancelMember", hmMalformedID, hmInvalid, ack(theFlow, func(*hmFixture) backend.ExecutionID { return hmMalformedExec })),
		hm("AckCancelMember", "NoBacklog", nil, ack(cancelledFlow, m1)),
		hm("AckCancelMember", hmUnknownID, nil, ack(unknownFlow, fresh)),
		hm("AckCancelMember", hmCancelled, context.Canceled, ack(theFlow, m1)),
	}
}

// hmBudgetCases covers budgets and quota policies.
func hmBudgetCases(t *testing.T, fx *hmFixture) []hmCase {
	report := func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture, h backend.Handle) error {
		return hmCall(b.ReportUsage(ctx, h, fx.budget, backend.UsageDimensions{Custom: map[string]uint64{hmBudgetDim: 1}}))
	}
	cases := hmHandleRows(t, fx, "ReportUsage", report, nil)
	reportLive := func(budget func(*hmFixture) backend.BudgetID, dims map[string]uint64) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return hmCall(b.ReportUsage(ctx, fx.live, budget(fx), backend.UsageDimensions{Custom: dims}))
		}
	}
	theBudget := func(fx *hmFixture) backend.BudgetID { return fx.budget }
	admin := func(budget func(*hmFixture) backend.BudgetID, dims []string, deltas []uint64) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return hmCall(b.ReportUsageAdmin(ctx, budget(fx), backend.ReportUsageAdminArgs{Dimensions: dims, Deltas: deltas}))
		}
	}
	createBudget := func(mod func(fx *hmFixture, a *backend.CreateBudgetArgs)) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := backend.CreateBudgetArgs{BudgetID: backend.NewBudgetID(), Dimensions: []string{"d"}, HardLimits: []uint64{10}, SoftLimits: []uint64{5}}
			mod(fx, &args)
			return hmCall(b.CreateBudget(ctx, args))
		}
	}
	reset := func(id func(*hmFixture) backend.BudgetID) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return hmCall(b.ResetBudget(ctx, backend.ResetBudgetArgs{BudgetID: id(fx)}))
		}
	}
	status := func(id func(*hmFixture) backend.BudgetID) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return hmCall(b.GetBudgetStatus(ctx, id(fx)))
		}
	}
	quota := func(mod func(fx *hmFixture, a *backend.CreateQuotaPolicyArgs)) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			args := backend.CreateQuotaPolicyArgs{QuotaPolicyID: backend.NewQuotaPolicyID(), MaxConcurrent: 2, Window: time.Minute}
			mod(fx, &args)
			return hmCall(b.CreateQuotaPolicy(ctx, args))
		}
	}
	malformed := func(*hmFixture) backend.BudgetID { return hmMalformedBudgt }
	unknown := func(*hmFixture) backend.BudgetID { return backend.NewBudgetID() }
	return append(cases,
		hm("ReportUsage", "MalformedBudgetID", hmInvalid, reportLive(malformed, map[string]uint64{hmBudgetDim: 1})),
		hm("ReportUsage", "DeltaOverInt63", hmInvalid, reportLive(theBudget, map[string]uint64{hmBudgetDim: math.MaxUint64})),

		hm("ReportUsageAdmin", "MalformedBudgetID", hmInvalid, admin(malformed, []string{hmBudgetDim}, []uint64{1})),
		hm("ReportUsageAdmin", "LengthMismatch", hmInvalid, admin(theBudget, []string{hmBudgetDim, "other"}, []uint64{1})),
		hm("ReportUsageAdmin", "DeltaOverInt63", hmInvalid, admin(theBudget, []string{hmBudgetDim}, []uint64{1 << 63})),
		hm("ReportUsageAdmin", hmCancelled, context.Canceled, admin(theBudget, []string{hmBudgetDim}, []uint64{1})),

		hm("CreateBudget", hmMalformedID, hmInvalid, createBudget(func(_ *hmFixture, a *backend.CreateBudgetArgs) { a.BudgetID = hmMalformedBudgt })),
		hm("CreateBudget", "LengthMismatch", hmInvalid, createBudget(func(_ *hmFixture, a *backend.CreateBudgetArgs) { a.SoftLimits = nil })),
		hm("CreateBudget", "LimitOverInt63", hmInvalid, createBudget(func(_ *hmFixture, a *backend.CreateBudgetArgs) { a.HardLimits = []uint64{math.MaxUint64} })),
		hm("CreateBudget", "NegativeResetInterval", hmInvalid, createBudget(func(_ *hmFixture, a *backend.CreateBudgetArgs) { a.ResetInterval = -time.Hour })),
		// An existing budget is left untouched.
		hm("CreateBudget", "AlreadyExists", nil, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			out, err := b.CreateBudget(ctx, backend.CreateBudgetArgs{BudgetID: fx.budget, Dimensions: []string{"x"}, HardLimits: []uint64{1}, SoftLimits: []uint64{1}})
			if err == nil && out.Kind != backend.CreateBudgetAlreadySatisfied {
				return hmUnexpected("%+v", out)
			}
			return err
		}),
		hm("CreateBudget", hmCancelled, context.Canceled, createBudget(func(*hmFixture, *backend.CreateBudgetArgs) {})),

		hm("ResetBudget", hmMalformedID, hmInvalid, reset(malformed)),
		hm("ResetBudget", hmUnknownID, hmNoBudget, reset(unknown)),
		hm("ResetBudget", hmCancelled, context.Canceled, reset(theBudget)),

		hm("GetBudgetStatus", hmMalformedID, hmInvalid, status(malformed)),
		hm("GetBudgetStatus", hmUnknownID, hmNoBudget, status(unknown)),
		hm("GetBudgetStatus", hmCancelled, context.Canceled, status(theBudget)),

		hm("CreateQuotaPolicy", hmMalformedID, hmInvalid, quota(func(_ *hmFixture, a *backend.CreateQuotaPolicyArgs) { a.QuotaPolicyID = hmMalformedRaw })),
		hm("CreateQuotaPolicy", "NegativeWindow", hmInvalid, quota(func(_ *hmFixture, a *backend.CreateQuotaPolicyArgs) { a.Window = -time.Minute })),
		hm("CreateQuotaPolicy", "AlreadyExists", nil, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			out, err := b.CreateQuotaPolicy(ctx, backend.CreateQuotaPolicyArgs{QuotaPolicyID: fx.quota, MaxConcurrent: 99})
			if err == nil && out.Kind != backend.CreateQuotaPolicyAlreadySatisfied {
				return hmUnexpected("%+v", out)
			}
			return err
		}),
		hm("CreateQuotaPolicy", hmCancelled, context.Canceled, quota(func(*hmFixture, *backend.CreateQuotaPolicyArgs) {})),
	)
}

// hmStreamCases covers AppendFrame and the stream reads.
func hmStreamCases(t *testing.T, fx *hmFixture) []hmCase {
	appendH := func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture, h backend.Handle) error {
		return hmCall(b.AppendFrame(ctx, h, stdout("hostile")))
	}
	cases := hmHandleRows(t, fx, "AppendFrame", appendH, map[string]error{
		hmExpiredLease:    backend.ErrStaleOwnerCannotAppend,
		hmCompletedHandle: backend.ErrStreamClosed,
	})
	appendLive := func(f backend.Frame) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return hmCall(b.AppendFrame(ctx, fx.live, f))
		}
	}
	deep := strings.Repeat(`{"a":`, 20) + "1" + strings.Repeat("}", 20)
	cases = append(cases,
		hm("AppendFrame", "OversizedFrame", backend.ErrRetentionLimitExceeded, appendLive(backend.Frame{
			Bytes: make([]byte, backend.MaxFramePayloadBytes+1), Kind: backend.FrameBlob,
		})),
		hm("AppendFrame", "OversizedSummaryFrame", backend.ErrRetentionLimitExceeded, appendLive(backend.Frame{
			Bytes: []byte(`{"k":"` + strings.Repeat("x", backend.MaxFramePayloadBytes) + `"}`), Kind: backend.FrameEvent, Mode: backend.SummaryMode(),
		})),
		hm("AppendFrame", "OversizedFrameStaleHandle", backend.ErrStaleLease, func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return hmCall(b.AppendFrame(ctx, fx.revokedOld, backend.Frame{Bytes: make([]byte, 1<<20), Kind: backend.FrameBlob}))
		}),
		hm("AppendFrame", "UnknownFrameKind", hmInvalid, appendLive(backend.Frame{Bytes: []byte("x"), Kind: "smoke"})),
		hm("AppendFrame", "UnknownStreamMode", hmInvalid, appendLive(backend.Frame{Bytes: []byte("x"), Kind: backend.FrameStdout, Mode: backend.StreamMode{Kind: "firehose"}})),
		hm("AppendFrame", "UnknownPatchKind", hmInvalid, appendLive(backend.Frame{
			Bytes: []byte(`{}`), Kind: backend.FrameEvent, Mode: backend.StreamMode{Kind: backend.StreamSummary, PatchKind: "json-patch"},
		})),
		hm("AppendFrame", "SummaryPatchNotJSON", hmInvalid, appendLive(summaryFrame(`{"a":`))),
		hm("AppendFrame", "SummaryPatchNotObject", hmInvalid, appendLive(summaryFrame(`[1,2]`))),
		hm("AppendFrame", "SummaryPatchTooDeep", hmInvalid, appendLive(summaryFrame(deep))),
	)

	read := func(id func(*hmFixture) backend.ExecutionID, from, to backend.StreamCursor, limit int) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			out, err := b.ReadStream(ctx, id(fx), 0, from, to, limit)
			if err == nil && len(out.Frames) != 0 {
				return hmUnexpected("%d frames", len(out.Frames))
			}
			return err
		}
	}
	tail := func(after backend.StreamCursor, block time.Duration, limit int, vis backend.TailVisibility) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			return hmCall(b.TailStream(ctx, fx.active, 0, after, block, limit, vis))
		}
	}
	summary := func(id func(*hmFixture) backend.ExecutionID) hmFn {
		return func(ctx context.Context, b *backend.SQLiteBackend, fx *hmFixture) error {
			doc, err := b.ReadSummary(ctx, id(fx), 0)
			if err == nil && doc != nil {
				return hmUnexpected("%+v", doc)
			}
			return err
		}
	}
	active := func(fx *hmFixture) backend.ExecutionID { return fx.active }
	malformed := func(*hmFixture) backend.ExecutionID { return hmMalformedExec }
	unknown := func(*hmFixture) backend.ExecutionID { return backend.NewExecutionID() }
	s, e := backend.StreamStart, backend.StreamEnd
	return append(cases,
		hm("ReadStream", hmMalformedID, hmInvalid, read(malformed, s, e, 10)),
		hm("ReadStream", hmUnknownID, nil, read(unknown, s, e, 10)),
		hm("ReadStream", "ZeroCount", hmInvalid, read(active, s, e, 0)),
		hm("ReadStream", "NegativeCount", hmInvalid, read(active, s, e, -1)),
		hm("ReadStream", "HugeCount", nil, read(active, s, e, math.MaxInt)),
		hm("ReadStream", "MalformedFromCursor", hmInvalid, read(active, "abc", e, 10)),
		hm("ReadStream", "BareDashCursor", hmInvalid, read(active, s, "-", 10)),
		hm("ReadStream", "EmptyCursor", hmInvalid, read(active, "", e, 10)),
		hm("ReadStream", "FromAfterTo", nil, read(active, e, s, 10)),
		hm("ReadStream", hmCancelled, context.Canceled, read(active, s, e, 10)),

		hm("TailStream", hmMalformedID, hmInvalid, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return hmCall(b.TailStream(ctx, hmMalformedExec, 0, backend.StreamFromBeginning, 0, 10, backend.TailAll))
		}),
		hm("TailStream", "AfterStart", hmInvalid, tail(s, 0, 10, backend.TailAll)),
		hm("TailStream", "AfterEnd", hmInvalid, tail(e, 0, 10, backend.TailAll)),
		hm("TailStream", "MalformedCursor", hmInvalid, tail("1-2-3", 0, 10, backend.TailAll)),
		hm("TailStream", "NegativeBlock", hmInvalid, tail(backend.StreamFromBeginning, -time.Second, 10, backend.TailAll)),
		hm("TailStream", "ZeroCount", hmInvalid, tail(backend.StreamFromBeginning, 0, 0, backend.TailAll)),
		hm("TailStream", "UnknownVisibility", hmInvalid, tail(backend.StreamFromBeginning, 0, 10, "invisible")),
		hm("TailStream", hmCancelled, context.Canceled, tail(backend.StreamFromBeginning, time.Minute, 10, backend.TailAll)),

		hm("ReadSummary", hmMalformedID, hmInvalid, summary(malformed)),
		hm("ReadSummary", hmUnknownID, nil, summary(unknown)),
		hm("ReadSummary", hmCancelled, context.Canceled, summary(active)),
	)
}

// hmLifecycleCases covers subscriptions and the lifecycle and identity
// methods.
func hmLifecycleCases() []hmCase {
	valkeyCursor := append([]byte{0x01}, make([]byte, 16)...)
	type closer interface{ Close() error }
	subscribe := func(open func(ctx context.Context, b *backend.SQLiteBackend, c backend.EventCursor) (closer, error)) func(c backend.EventCursor) hmFn {
		return func(c backend.EventCursor) hmFn {
			return func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
				sub, err := open(ctx, b, c)
				if err == nil {
					sub.Close()
					return hmUnexpected("subscribed")
				}
				return err
			}
		}
	}
	completion := subscribe(func(ctx context.Context, b *backend.SQLiteBackend, c backend.EventCursor) (closer, error) {
		return b.SubscribeCompletion(ctx, c, backend.ScannerFilter{})
	})
	lease := subscribe(func(ctx context.Context, b *backend.SQLiteBackend, c backend.EventCursor) (closer, error) {
		return b.SubscribeLeaseHistory(ctx, c, backend.ScannerFilter{})
	})
	signal := subscribe(func(ctx context.Context, b *backend.SQLiteBackend, c backend.EventCursor) (closer, error) {
		return b.SubscribeSignalDelivery(ctx, c, backend.ScannerFilter{})
	})
	var cases []hmCase
	for _, s := range []struct {
		method string
		open   func(backend.EventCursor) hmFn
	}{{"SubscribeCompletion", completion}, {"SubscribeLeaseHistory", lease}, {"SubscribeSignalDelivery", signal}} {
		cases = append(cases,
			hm(s.method, "ValkeyCursor", hmInvalid, s.open(valkeyCursor)),
			hm(s.method, "TruncatedCursor", hmInvalid, s.open(backend.NewEventCursor(7)[:5])),
			hm(s.method, "OverlongCursor", hmInvalid, s.open(append(backend.NewEventCursor(7), 0))),
			hm(s.method, hmCancelled, context.Canceled, s.open(nil)),
		)
	}
	return append(cases,
		hm("SubscribeInstanceTags", "NotSupported", backend.ErrUnavailable, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return hmCall(b.SubscribeInstanceTags(ctx, nil))
		}),
		hm("SubscribeInstanceTags", "ValkeyCursor", backend.ErrUnavailable, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return hmCall(b.SubscribeInstanceTags(ctx, valkeyCursor))
		}),
		hm("Prepare", hmCancelled, context.Canceled, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return hmCall(b.Prepare(ctx))
		}),
		hm("Ping", hmCancelled, context.Canceled, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return b.Ping(ctx)
		}),
		// ShutdownPrepare never returns an error (spec 01 §1.12).
		hm("ShutdownPrepare", hmCancelled, nil, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return b.ShutdownPrepare(ctx, time.Second)
		}),
		hm("ShutdownPrepare", "NegativeGrace", nil, func(ctx context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			return b.ShutdownPrepare(ctx, -time.Hour)
		}),
		// No context and no input: they must answer without touching the
		// database.
		hm("BackendLabel", "NoInput", nil, func(_ context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			if got := b.BackendLabel(); got != backend.BackendLabelSQLite {
				return hmUnexpected("label %q", got)
			}
			return nil
		}),
		hm("Capabilities", "NoInput", nil, func(_ context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			c := b.Capabilities()
			if c.Identity.Family != backend.BackendLabelSQLite || c.Supports.ClaimForWorker || c.Supports.SubscribeInstanceTags {
				return hmUnexpected("%+v", c)
			}
			return nil
		}),
		hm("AsAny", "NoInput", nil, func(_ context.Context, b *backend.SQLiteBackend, _ *hmFixture) error {
			if got, ok := b.AsAny().(*backend.SQLiteBackend); !ok || got != b {
				return hmUnexpected("%T", b.AsAny())
			}
			return nil
		}),
	)
}
