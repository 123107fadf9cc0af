package tests

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

func TestReadsOfUnknownExecution(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	e.create("lane", nil)
	id := backend.NewExecutionID()

	snap, err := e.b.DescribeExecution(e.ctx, id)
	if snap != nil || err != nil {
		t.Errorf("DescribeExecution = %v, %v; want nil, nil", snap, err)
	}
	ps, err := e.b.ReadExecutionState(e.ctx, id)
	if ps != nil || err != nil {
		t.Errorf("ReadExecutionState = %v, %v; want nil, nil", ps, err)
	}
	info, err := e.b.ReadExecutionInfo(e.ctx, id)
	if info != nil || err != nil {
		t.Errorf("ReadExecutionInfo = %v, %v; want nil, nil", info, err)
	}
	payload, ok, err := e.b.GetExecutionResult(e.ctx, id)
	if payload != nil || ok || err != nil {
		t.Errorf("GetExecutionResult = %v, %v, %v; want nil, false, nil", payload, ok, err)
	}
	_, err = e.b.ReadExecutionContext(e.ctx, id)
	requireErr(t, "ReadExecutionContext(unknown)", err, backend.ErrInvalidInput)
	_, err = e.b.ReadCurrentAttemptIndex(e.ctx, id)
	requireErr(t, "ReadCurrentAttemptIndex(unknown)", err, backend.ErrInvalidInput)
	_, err = e.b.ReadTotalAttemptCount(e.ctx, id)
	requireErr(t, "ReadTotalAttemptCount(unknown)", err, backend.ErrInvalidInput)
}

func TestReadsOfMalformedID(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	for _, id := range []backend.ExecutionID{"", "nope", "{fp:0}:xyz", backend.ExecutionID(backend.NewExecutionID().UUID())} {
		_, err := e.b.DescribeExecution(e.ctx, id)
		requireErr(t, "DescribeExecution("+string(id)+")", err, backend.ErrInvalidInput)
		_, err = e.b.ReadExecutionState(e.ctx, id)
		requireErr(t, "ReadExecutionState", err, backend.ErrInvalidInput)
		_, err = e.b.ReadExecutionInfo(e.ctx, id)
		requireErr(t, "ReadExecutionInfo", err, backend.ErrInvalidInput)
		_, _, err = e.b.GetExecutionResult(e.ctx, id)
		requireErr(t, "GetExecutionResult", err, backend.ErrInvalidInput)
		_, err = e.b.ReadExecutionContext(e.ctx, id)
		requireErr(t, "ReadExecutionContext", err, backend.ErrInvalidInput)
		_, err = e.b.ReadCurrentAttemptIndex(e.ctx, id)
		requireErr(t, "ReadCurrentAttemptIndex", err, backend.ErrInvalidInput)
		_, err = e.b.ReadTotalAttemptCount(e.ctx, id)
		requireErr(t, "ReadTotalAttemptCount", err, backend.ErrInvalidInput)
	}
}

func TestDescribeExecutionLifecycle(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	createdAt := e.now()
	tags := map[string]string{"cairn.instance_id": "inst-1", "app.owner": "team-a", "app.empty": ""}
	id := e.create("lane", func(a *backend.CreateExecutionArgs) {
		a.Namespace = "tenant-a"
		a.Tags = tags
	})
	want := backend.ExecutionSnapshot{
		BlockingReason: backend.BlockingWaitingForWorker,
		CreatedAt:      createdAt,
		ExecutionID:    id,
		LaneID:         "lane",
		LastMutationAt: createdAt,
		Namespace:      "tenant-a",
		PublicState:    backend.PublicStateWaiting,
		Tags:           tags,
	}
	if diff := cmp.Diff(want, e.describe(id)); diff != "" {
		t.Fatalf("after create (-want +got)\n%s", diff)
	}

	claimedAt := e.clock.Advance(time.Second)
	h := e.mustClaim("lane")
	want.BlockingReason = ""
	want.CurrentAttempt = &backend.AttemptSummary{AttemptID: h.AttemptID(), AttemptIndex: 0}
	want.CurrentLease = &backend.LeaseSummary{
		AttemptIndex: 0, ExpiresAt: claimedAt.Add(30 * time.Second), LastHeartbeatAt: claimedAt,
		LeaseEpoch: 1, LeaseID: h.LeaseID(), WorkerInstanceID: "w-1",
	}
	want.LastMutationAt = claimedAt
	want.PublicState = backend.PublicStateActive
	want.TotalAttemptCount = 1
	if diff := cmp.Diff(want, e.describe(id)); diff != "" {
		t.Fatalf("while leased (-want +got)\n%s", diff)
	}

	doneAt := e.clock.Advance(time.Second)
	if err := e.b.Complete(e.ctx, h, nil); err != nil {
		t.Fatal(err)
	}
	want.CurrentLease = nil
	want.LastMutationAt = doneAt
	want.PublicState = backend.PublicStateCompleted
	if diff := cmp.Diff(want, e.describe(id)); diff != "" {
		t.Fatalf("after complete (-want +got)\n%s", diff)
	}
}

func TestDescribeExecutionDelayed(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane", func(a *backend.CreateExecutionArgs) { a.DelayUntil = e.now().Add(time.Minute) })
	snap := e.describe(id)
	if snap.PublicState != backend.PublicStateDelayed || snap.BlockingReason != backend.BlockingWaitingForDelay {
		t.Errorf("state %s blocking %q; want delayed, waiting_for_delay", snap.PublicState, snap.BlockingReason)
	}
	if !strings.HasPrefix(snap.BlockingDetail, "delayed until ") {
		t.Errorf("BlockingDetail = %q, want it to start with %q", snap.BlockingDetail, "delayed until ")
	}
	if snap.Tags == nil {
		t.Errorf("Tags = nil, want an empty map")
	}
}

func TestReadExecutionContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*backend.CreateExecutionArgs)
		want backend.ExecutionContext
	}{
		{"Full", func(a *backend.CreateExecutionArgs) {
			a.ExecutionKind = "send_email"
			a.InputPayload = []byte(`{"to":"x"}`)
			a.Tags = map[string]string{"app.k": "v", "cairn.instance_id": "i"}
		}, backend.ExecutionContext{
			ExecutionKind: "send_email", InputPayload: []byte(`{"to":"x"}`), Tags: map[string]string{"app.k": "v", "cairn.instance_id": "i"},
		}},
		// Absent payload and tags read back empty, never nil.
		{"Empty", func(a *backend.CreateExecutionArgs) {
			a.ExecutionKind = ""
			a.InputPayload = nil
			a.Tags = nil
		}, backend.ExecutionContext{InputPayload: []byte{}, Tags: map[string]string{}}},
		{"EmptyPayload", func(a *backend.CreateExecutionArgs) { a.InputPayload = []byte{} },
			backend.ExecutionContext{ExecutionKind: "kind", InputPayload: []byte{}, Tags: map[string]string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			id := e.create("lane", tt.mod)
			got, err := e.b.ReadExecutionContext(e.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("context (-want +got)\n%s", diff)
			}
			if got.InputPayload == nil || got.Tags == nil {
				t.Errorf("nil payload or tags: %#v", got)
			}
		})
	}
}

func TestReadAttemptCounters(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane", nil)
	counters := func() [2]backend.AttemptIndex {
		t.Helper()
		cur, err := e.b.ReadCurrentAttemptIndex(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		total, err := e.b.ReadTotalAttemptCount(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return [2]backend.AttemptIndex{cur, total}
	}
	steps := []struct {
		name string
		do   func()
		want [2]backend.AttemptIndex // current, total
	}{
		{"Created", func() {}, [2]backend.AttemptIndex{0, 0}},
		{"Claimed", func() { e.mustClaim("lane") }, [2]backend.AttemptIndex{0, 1}},
		{"FailedRetry", func() {
			out, err := e.b.Fail(e.ctx, handleOf(t, e, id), backend.FailureReason{Message: "x"}, backend.FailureTransient)
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Set(out.DelayUntil)
		}, [2]backend.AttemptIndex{0, 1}},
		{"RetryClaimed", func() { e.mustClaim("lane") }, [2]backend.AttemptIndex{1, 2}},
		{"Delayed", func() {
			if err := e.b.Delay(e.ctx, handleOf(t, e, id), e.now()); err != nil {
				t.Fatal(err)
			}
		}, [2]backend.AttemptIndex{1, 2}},
		// Continuing the same attempt creates none.
		{"ReClaimed", func() { e.mustClaim("lane") }, [2]backend.AttemptIndex{1, 2}},
		{"Completed", func() {
			if err := e.b.Complete(e.ctx, handleOf(t, e, id), nil); err != nil {
				t.Fatal(err)
			}
		}, [2]backend.AttemptIndex{1, 2}},
	}
	for _, s := range steps {
		s.do()
		if got := counters(); got != s.want {
			t.Fatalf("%s: (current, total) = %v, want %v", s.name, got, s.want)
		}
	}
}

// handleOf forges the handle of id's live lease from its snapshot (the
// tests above keep no handle around); the lane and TTL are the env's
// defaults.
func handleOf(t *testing.T, e *execEnv, id backend.ExecutionID) backend.Handle {
	t.Helper()
	s := e.describe(id)
	if s.CurrentLease == nil || s.CurrentAttempt == nil {
		t.Fatalf("%s has no live lease", id)
	}
	return backend.NewHandle(backend.BackendSQLite, backend.HandleFresh, backend.EncodeHandleOpaque(backend.BackendSQLite, backend.HandlePayload{
		AttemptID:        s.CurrentAttempt.AttemptID,
		AttemptIndex:     s.CurrentLease.AttemptIndex,
		ExecutionID:      id,
		LaneID:           s.LaneID,
		LeaseEpoch:       s.CurrentLease.LeaseEpoch,
		LeaseID:          s.CurrentLease.LeaseID,
		LeaseTTL:         30 * time.Second,
		WorkerInstanceID: s.CurrentLease.WorkerInstanceID,
	}))
}

func TestReadExecutionInfoStateVector(t *testing.T) {
	t.Parallel()
	sv := func(ps backend.PublicState, phase backend.LifecyclePhase, own backend.OwnershipState, elig backend.EligibilityState,
		att backend.AttemptState, br backend.BlockingReason, out backend.TerminalOutcome) backend.StateVector {
		return backend.StateVector{
			AttemptState: att, BlockingReason: br, EligibilityState: elig, LifecyclePhase: phase,
			OwnershipState: own, PublicState: ps, TerminalOutcome: out,
		}
	}
	fail := func(class backend.FailureClass) func(*execEnv, backend.Handle) {
		return func(e *execEnv, h backend.Handle) {
			if _, err := e.b.Fail(e.ctx, h, backend.FailureReason{Message: "x"}, class); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name    string
		delayed bool                           // create with a future DelayUntil
		claim   bool                           // claim before step
		step    func(*execEnv, backend.Handle) // nil = none
		want    backend.StateVector
	}{
		{"Waiting", false, false, nil, sv(backend.PublicStateWaiting, backend.PhaseRunnable, backend.OwnershipUnowned,
			backend.EligibilityEligibleNow, backend.AttemptStatePendingFirstAttempt, backend.BlockingWaitingForWorker, backend.OutcomeNone)},
		{"Delayed", true, false, nil, sv(backend.PublicStateDelayed, backend.PhaseRunnable, backend.OwnershipUnowned,
			backend.EligibilityNotEligibleUntilTime, backend.AttemptStatePendingFirstAttempt, backend.BlockingWaitingForDelay, backend.OutcomeNone)},
		{"Active", false, true, nil, sv(backend.PublicStateActive, backend.PhaseActive, backend.OwnershipLeased,
			backend.EligibilityNotApplicable, backend.AttemptStateRunningAttempt, backend.BlockingNone, backend.OutcomeNone)},
		{"LeaseExpired", false, true, func(e *execEnv, h backend.Handle) {
			e.clock.Advance(time.Minute)
			_, err := e.b.Renew(e.ctx, h)
			requireErr(e.t, "Renew", err, backend.ErrLeaseExpired)
		}, sv(backend.PublicStateActive, backend.PhaseActive, backend.OwnershipLeaseExpiredReclaimable,
			backend.EligibilityNotApplicable, backend.AttemptStateAttemptInterrupted, backend.BlockingWaitingForWorker, backend.OutcomeNone)},
		{"RetryBackoff", false, true, fail(backend.FailureTransient), sv(backend.PublicStateDelayed, backend.PhaseRunnable, backend.OwnershipUnowned,
			backend.EligibilityNotEligibleUntilTime, backend.AttemptStatePendingRetryAttempt, backend.BlockingWaitingForRetryBackoff, backend.OutcomeNone)},
		{"WorkerDelay", false, true, func(e *execEnv, h backend.Handle) {
			if err := e.b.Delay(e.ctx, h, e.now().Add(time.Minute)); err != nil {
				e.t.Fatal(err)
			}
		}, sv(backend.PublicStateDelayed, backend.PhaseRunnable, backend.OwnershipUnowned,
			backend.EligibilityNotEligibleUntilTime, backend.AttemptStateAttemptInterrupted, backend.BlockingWaitingForDelay, backend.OutcomeNone)},
		{"Completed", false, true, func(e *execEnv, h backend.Handle) {
			if err := e.b.Complete(e.ctx, h, nil); err != nil {
				e.t.Fatal(err)
			}
		}, sv(backend.PublicStateCompleted, backend.PhaseTerminal, backend.OwnershipUnowned,
			backend.EligibilityNotApplicable, backend.AttemptStateAttemptTerminal, backend.BlockingNone, backend.OutcomeSuccess)},
		{"Failed", false, true, fail(backend.FailurePermanent), sv(backend.PublicStateFailed, backend.PhaseTerminal, backend.OwnershipUnowned,
			backend.EligibilityNotApplicable, backend.AttemptStateAttemptTerminal, backend.BlockingNone, backend.OutcomeFailed)},
		{"Cancelled", false, true, func(e *execEnv, h backend.Handle) {
			if err := e.b.Cancel(e.ctx, h, "stop"); err != nil {
				e.t.Fatal(err)
			}
		}, sv(backend.PublicStateCancelled, backend.PhaseTerminal, backend.OwnershipUnowned,
			backend.EligibilityNotApplicable, backend.AttemptStateAttemptTerminal, backend.BlockingNone, backend.OutcomeCancelled)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			id := e.create("lane", func(a *backend.CreateExecutionArgs) {
				if tt.delayed {
					a.DelayUntil = e.now().Add(time.Minute)
				}
			})
			if tt.claim {
				h := e.mustClaim("lane")
				if tt.step != nil {
					tt.step(e, h)
				}
			}
			info := e.info(id)
			if diff := cmp.Diff(tt.want, info.StateVector); diff != "" {
				t.Errorf("state vector (-want +got)\n%s", diff)
			}
			if info.PublicState != tt.want.PublicState {
				t.Errorf("PublicState = %s, StateVector.PublicState = %s", info.PublicState, tt.want.PublicState)
			}
			if got := e.state(id); got != tt.want.PublicState {
				t.Errorf("ReadExecutionState = %s, want %s", got, tt.want.PublicState)
			}
		})
	}
}

func TestReadExecutionInfoFields(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	createdAt := e.now().Add(-time.Hour) // explicit creation time
	id := e.create("lane-x", func(a *backend.CreateExecutionArgs) {
		a.Now = createdAt
		a.Namespace = "ns"
		a.ExecutionKind = "resize"
		a.Priority = 42
	})
	want := backend.ExecutionInfo{
		CreatedAt: createdAt, ExecutionID: id, ExecutionKind: "resize", LaneID: "lane-x", Namespace: "ns",
		Priority: 42, PublicState: backend.PublicStateWaiting,
		StateVector: backend.StateVector{
			AttemptState: backend.AttemptStatePendingFirstAttempt, BlockingReason: backend.BlockingWaitingForWorker,
			EligibilityState: backend.EligibilityEligibleNow, LifecyclePhase: backend.PhaseRunnable,
			OwnershipState: backend.OwnershipUnowned, PublicState: backend.PublicStateWaiting, TerminalOutcome: backend.OutcomeNone,
		},
	}
	if diff := cmp.Diff(want, e.info(id)); diff != "" {
		t.Fatalf("after create (-want +got)\n%s", diff)
	}

	startedAt := e.clock.Advance(time.Second)
	h := e.mustClaim("lane-x")
	out, err := e.b.Fail(e.ctx, h, backend.FailureReason{Message: "x"}, backend.FailureTransient)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(out.DelayUntil)
	h = e.mustClaim("lane-x")
	doneAt := e.clock.Advance(time.Second)
	if err := e.b.Complete(e.ctx, h, nil); err != nil {
		t.Fatal(err)
	}
	// StartedAt is the first claim, CompletedAt the terminal time.
	want.StartedAt = startedAt
	want.CompletedAt = doneAt
	want.CurrentAttemptIndex = 1
	want.PublicState = backend.PublicStateCompleted
	want.StateVector = backend.StateVector{
		AttemptState: backend.AttemptStateAttemptTerminal, BlockingReason: backend.BlockingNone,
		EligibilityState: backend.EligibilityNotApplicable, LifecyclePhase: backend.PhaseTerminal,
		OwnershipState: backend.OwnershipUnowned, PublicState: backend.PublicStateCompleted, TerminalOutcome: backend.OutcomeSuccess,
	}
	if diff := cmp.Diff(want, e.info(id)); diff != "" {
		t.Fatalf("after complete (-want +got)\n%s", diff)
	}
}

func TestGetExecutionResultBeforeCompletion(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane", nil)
	h := e.mustClaim("lane")
	if payload, ok, err := e.b.GetExecutionResult(e.ctx, id); payload != nil || ok || err != nil {
		t.Fatalf("GetExecutionResult while active = %q, %v, %v; want nil, false, nil", payload, ok, err)
	}
	if _, err := e.b.Fail(e.ctx, h, backend.FailureReason{Message: "x"}, backend.FailurePermanent); err != nil {
		t.Fatal(err)
	}
	if payload, ok, err := e.b.GetExecutionResult(e.ctx, id); payload != nil || ok || err != nil {
		t.Fatalf("GetExecutionResult after Fail = %q, %v, %v; want nil, false, nil", payload, ok, err)
	}
}

// listPages pages through ListExecutions with limit and returns the pages.
func listPages(t *testing.T, e *execEnv, partition backend.PartitionKey, limit int) []backend.ListExecutionsPage {
	t.Helper()
	var pages []backend.ListExecutionsPage
	var cursor backend.ExecutionID
	for range 100 {
		page, err := e.b.ListExecutions(e.ctx, partition, cursor, limit)
		if err != nil {
			t.Fatalf("ListExecutions(%s, %q, %d): %v", partition, cursor, limit, err)
		}
		pages = append(pages, page)
		if page.Next == "" {
			return pages
		}
		cursor = page.Next
	}
	t.Fatal("ListExecutions never ended")
	return nil
}

func TestListExecutions(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	var ids []backend.ExecutionID
	for i := range 6 {
		ids = append(ids, e.create(backend.LaneID("lane-"+string(rune('a'+i%2))), nil))
	}
	slices.Sort(ids)
	other := backend.ExecutionID("{fp:7}:" + backend.NewExecutionID().UUID())
	e.create("lane-a", func(a *backend.CreateExecutionArgs) { a.ExecutionID = other })

	t.Run("LimitZero", func(t *testing.T) {
		t.Parallel()
		for _, limit := range []int{0, -1} {
			page, err := e.b.ListExecutions(e.ctx, backend.DefaultPartitionKey, "", limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(backend.ListExecutionsPage{Items: []backend.ExecutionID{}}, page); diff != "" {
				t.Errorf("limit %d (-want +got)\n%s", limit, diff)
			}
		}
	})
	t.Run("Pages", func(t *testing.T) {
		t.Parallel()
		want := []backend.ListExecutionsPage{
			{Items: ids[0:4], Next: ids[3]},
			{Items: ids[4:6]},
		}
		if diff := cmp.Diff(want, listPages(t, e, backend.DefaultPartitionKey, 4)); diff != "" {
			t.Errorf("pages (-want +got)\n%s", diff)
		}
	})
	t.Run("ExactlyFullLastPage", func(t *testing.T) {
		t.Parallel()
		want := []backend.ListExecutionsPage{
			{Items: ids[0:3], Next: ids[2]},
			{Items: ids[3:6]},
		}
		if diff := cmp.Diff(want, listPages(t, e, backend.DefaultPartitionKey, 3)); diff != "" {
			t.Errorf("pages (-want +got)\n%s", diff)
		}
		page, err := e.b.ListExecutions(e.ctx, backend.DefaultPartitionKey, "", 6)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(backend.ListExecutionsPage{Items: ids}, page); diff != "" {
			t.Errorf("one exactly-full page (-want +got)\n%s", diff)
		}
	})
	t.Run("CursorIsExclusive", func(t *testing.T) {
		t.Parallel()
		page, err := e.b.ListExecutions(e.ctx, backend.DefaultPartitionKey, ids[4], 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(backend.ListExecutionsPage{Items: ids[5:]}, page); diff != "" {
			t.Errorf("after ids[4] (-want +got)\n%s", diff)
		}
		page, err = e.b.ListExecutions(e.ctx, backend.DefaultPartitionKey, ids[5], 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(backend.ListExecutionsPage{Items: []backend.ExecutionID{}}, page); diff != "" {
			t.Errorf("after the last id (-want +got)\n%s", diff)
		}
	})
	t.Run("Partitions", func(t *testing.T) {
		t.Parallel()
		page, err := e.b.ListExecutions(e.ctx, "{fp:7}", "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(backend.ListExecutionsPage{Items: []backend.ExecutionID{other}}, page); diff != "" {
			t.Errorf("{fp:7} (-want +got)\n%s", diff)
		}
		page, err = e.b.ListExecutions(e.ctx, "{fp:1}", "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(backend.ListExecutionsPage{Items: []backend.ExecutionID{}}, page); diff != "" {
			t.Errorf("{fp:1} (-want +got)\n%s", diff)
		}
	})
	t.Run("OtherFamilyKeyUsesItsIndex", func(t *testing.T) {
		t.Parallel()
		// Spec 02 §16.8: any family parses, only the index is used.
		for _, key := range []backend.PartitionKey{"{b:0}", "{q:0}"} {
			page, err := e.b.ListExecutions(e.ctx, key, "", 10)
			if err != nil {
				t.Fatalf("ListExecutions(%s): %v", key, err)
			}
			if diff := cmp.Diff(backend.ListExecutionsPage{Items: ids}, page); diff != "" {
				t.Errorf("%s (-want +got)\n%s", key, diff)
			}
		}
	})
	t.Run("ErrBadPartitionKey", func(t *testing.T) {
		t.Parallel()
		for _, key := range []backend.PartitionKey{"", "fp:0", "{fp:0", "{fp}", "{zz:0}", "{fp:65536}", "{fp:-1}"} {
			_, err := e.b.ListExecutions(e.ctx, key, "", 10)
			requireErr(t, "ListExecutions("+string(key)+")", err, backend.ErrInvalidInput)
		}
	})
	t.Run("ErrBadCursor", func(t *testing.T) {
		t.Parallel()
		_, err := e.b.ListExecutions(e.ctx, backend.DefaultPartitionKey, "not-an-id", 10)
		requireErr(t, "ListExecutions(bad cursor)", err, backend.ErrInvalidInput)
	})
}

func TestListExecutionsCapsLimit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("creates 1001 executions")
	}
	e := newExecEnv(t)
	for range 1001 {
		e.create("lane", nil)
	}
	page, err := e.b.ListExecutions(e.ctx, backend.DefaultPartitionKey, "", 5000)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1000 || page.Next != page.Items[999] {
		t.Fatalf("limit 5000: %d items, next %q; want 1000 and a cursor", len(page.Items), page.Next)
	}
	rest, err := e.b.ListExecutions(e.ctx, backend.DefaultPartitionKey, page.Next, 5000)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest.Items) != 1 || rest.Next != "" {
		t.Fatalf("second page: %d items, next %q; want 1 and none", len(rest.Items), rest.Next)
	}
}

// TestListLanesNoLimitCap: unlike ListExecutions, ListLanes has no upper
// cap on limit (spec 02 §16.9).
func TestListLanesNoLimitCap(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("creates 1001 lanes")
	}
	e := newExecEnv(t)
	for i := range 1001 {
		e.create(backend.LaneID(fmt.Sprintf("lane-%04d", i)), nil)
	}
	page, err := e.b.ListLanes(e.ctx, "", 2000)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1001 || page.Next != "" {
		t.Fatalf("limit 2000: %d lanes, next %q; want all 1001 and no cursor", len(page.Items), page.Next)
	}
}

func TestListLanes(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	if page, err := e.b.ListLanes(e.ctx, "", 10); err != nil || page.Items == nil || len(page.Items) != 0 || page.Next != "" {
		t.Fatalf("ListLanes on an empty database = %+v, %v", page, err)
	}
	for _, lane := range []backend.LaneID{"c", "a", "b", "a", "B", "d"} {
		e.create(lane, nil)
	}
	// Byte order, each lane once.
	all := []backend.LaneID{"B", "a", "b", "c", "d"}

	lanePages := func(limit int) []backend.ListLanesPage {
		t.Helper()
		var pages []backend.ListLanesPage
		var cursor backend.LaneID
		for range 100 {
			page, err := e.b.ListLanes(e.ctx, cursor, limit)
			if err != nil {
				t.Fatal(err)
			}
			pages = append(pages, page)
			if page.Next == "" {
				return pages
			}
			cursor = page.Next
		}
		t.Fatal("ListLanes never ended")
		return nil
	}
	tests := []struct {
		limit int
		want  []backend.ListLanesPage
	}{
		{2, []backend.ListLanesPage{{Items: all[0:2], Next: all[1]}, {Items: all[2:4], Next: all[3]}, {Items: all[4:]}}},
		// Exactly-full last page.
		{5, []backend.ListLanesPage{{Items: all}}},
		{4, []backend.ListLanesPage{{Items: all[0:4], Next: all[3]}, {Items: all[4:]}}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, lanePages(tt.limit)); diff != "" {
			t.Errorf("limit %d (-want +got)\n%s", tt.limit, diff)
		}
	}
	for _, limit := range []int{0, -3} {
		page, err := e.b.ListLanes(e.ctx, "", limit)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(backend.ListLanesPage{Items: []backend.LaneID{}}, page); diff != "" {
			t.Errorf("limit %d (-want +got)\n%s", limit, diff)
		}
	}
	page, err := e.b.ListLanes(e.ctx, "bb", 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(backend.ListLanesPage{Items: []backend.LaneID{"c", "d"}}, page); diff != "" {
		t.Errorf("after a cursor that is no lane (-want +got)\n%s", diff)
	}
}
