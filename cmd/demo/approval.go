package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// The approval section: jobs tagged "needs approval" suspend on a fresh
// waitpoint until a signal named "approved" arrives; an approver goroutine
// delivers it with the waitpoint token; a worker then claims the resumed
// execution, reads the signals and completes it.
const (
	laneApproval      backend.LaneID = "approval"
	approvalJobs                     = 8
	approvalWorkers                  = 2
	approvalTimeout                  = 10 * time.Second
	tagNeedsApproval                 = "demo.needs_approval"
	approvalSignal                   = "approved"
	approvalReviewMax                = 30 * time.Millisecond // simulated review time
)

// Demo-only HMAC key for waitpoint tokens (kid + 64 hex digits).
var demoWaitpointSecret = backend.SeedWaitpointHMACSecretArgs{
	Kid:       "demo-k1",
	SecretHex: "5f1e0c2a9b7d4e3f8a6c1b0d2e4f6a8c9b7d5e3f1a2c4e6b8d0f2a4c6e8b0d1f",
}

// approvalReq goes from the suspending worker to the approver.
type approvalReq struct {
	id          backend.ExecutionID
	waitpoint   backend.WaitpointID
	token       backend.WaitpointToken
	suspendedAt time.Time
}

type approvalRun struct {
	b        *backend.SQLiteBackend
	toReview chan approvalReq // worker → approver
	resumed  chan approvalReq // approver → workers

	suspended, approved, duplicates, plainDone, resumedDone atomic.Int64
	remaining                                               atomic.Int64

	mu        sync.Mutex
	latencies []time.Duration // suspend → resumed claim
	problems  []string
	ids       []backend.ExecutionID
	done      chan struct{}
	once      sync.Once
}

func (a *approvalRun) problem(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.problems = append(a.problems, fmt.Sprintf(format, args...))
}

func (a *approvalRun) finished() {
	if a.remaining.Add(-1) == 0 {
		a.once.Do(func() { close(a.done) })
	}
}

// runApprovalSection creates the jobs, runs workers and the approver, then
// prints and verifies the outcome. Its workers claim by hand rather than
// through a worker.Runner: a job suspends mid-attempt (ending its lease
// with Suspend) and is later taken with ClaimResumedExecution, neither of
// which the runner does.
func runApprovalSection(ctx context.Context, b *backend.SQLiteBackend, sum *summary) (*sectionStats, error) {
	fmt.Printf("\n== approval: %d jobs on lane %q, some suspend until a signal %q arrives ==\n", approvalJobs, laneApproval, approvalSignal)
	ctx, cancel := context.WithTimeout(ctx, approvalTimeout)
	defer cancel()
	start := time.Now()
	a := &approvalRun{
		b: b, toReview: make(chan approvalReq, approvalJobs), resumed: make(chan approvalReq, approvalJobs),
		done: make(chan struct{}),
	}
	a.remaining.Store(approvalJobs)
	needs := 0
	for i := range approvalJobs {
		need := i%4 != 3 // three in four need approval
		if need {
			needs++
		}
		id := backend.NewExecutionID()
		if _, err := b.CreateExecution(ctx, backend.CreateExecutionArgs{
			ExecutionID: id, Namespace: "demo", LaneID: laneApproval, ExecutionKind: "publish_post",
			InputPayload: fmt.Appendf(nil, `{"post":%d}`, i), PayloadEncoding: "json", CreatorIdentity: "demo-approval",
			Tags: map[string]string{tagNeedsApproval: fmt.Sprint(need)},
		}); err != nil {
			return nil, fmt.Errorf("approval: create: %w", err)
		}
		a.ids = append(a.ids, id)
	}

	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.approve(wctx) })
	for i := range approvalWorkers {
		wg.Go(func() { a.work(wctx, i) })
	}
	select {
	case <-a.done:
	case <-ctx.Done():
		a.problem("timed out with %d job(s) unfinished", a.remaining.Load())
	}
	stop()
	wg.Wait()
	wall := time.Since(start)

	// Report.
	a.mu.Lock()
	lat := slices.Clone(a.latencies)
	problems := slices.Clone(a.problems)
	a.mu.Unlock()
	slices.Sort(lat)
	fmt.Printf("approval: %d of %d jobs needed approval: %d suspended, %d approved (%d duplicate re-delivery ignored), %d resumed+completed; %d completed without approval\n",
		needs, approvalJobs, a.suspended.Load(), a.approved.Load(), a.duplicates.Load(), a.resumedDone.Load(), a.plainDone.Load())
	if len(lat) > 0 {
		fmt.Printf("suspend → resumed claim: p50 %s  p99 %s  max %s (includes ≤%s simulated review and ≤50ms pickup); section wall %s\n",
			fmtDur(percentile(lat, 50)), fmtDur(percentile(lat, 99)), fmtDur(lat[len(lat)-1]), approvalReviewMax, wall.Round(time.Millisecond))
	}
	sum.signals += int(a.approved.Load())
	sum.duplicateSignals += int(a.duplicates.Load())

	// Verify through the public API.
	vctx := context.WithoutCancel(ctx)
	stats := newSectionStats("approval")
	for _, id := range a.ids {
		info, err := b.ReadExecutionInfo(vctx, id)
		switch {
		case err != nil || info == nil:
			problems = append(problems, fmt.Sprintf("%s: read: %v (nil=%v)", id, err, info == nil))
			stats.missing++
		case info.PublicState != backend.PublicStateCompleted:
			problems = append(problems, fmt.Sprintf("%s: %s, want completed", id, info.PublicState))
		}
		if info != nil {
			stats.addInfo(info)
		}
	}
	if n := int(a.approved.Load()); n != needs || int(a.resumedDone.Load()) != needs || int(a.plainDone.Load()) != approvalJobs-needs {
		problems = append(problems, fmt.Sprintf("approved %d, resumed %d, plain %d; want %d, %d, %d",
			n, a.resumedDone.Load(), a.plainDone.Load(), needs, needs, approvalJobs-needs))
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Printf("  problem: %s\n", p)
		}
		return stats, fmt.Errorf("approval: %d problem(s), see above", len(problems))
	}
	fmt.Printf("approval verify: OK: all %d jobs completed; every approved one was woken by exactly its %q signal\n", approvalJobs, approvalSignal)
	return stats, nil
}

// work serves resumed executions first, then claims new ones.
func (a *approvalRun) work(ctx context.Context, id int) {
	name := fmt.Sprintf("a%d", id)
	policy := backend.ClaimPolicy{
		WorkerID: "demo-approval-worker", WorkerInstanceID: backend.WorkerInstanceID(name),
		LeaseTTL: leaseTTL, MaxWait: 50 * time.Millisecond,
	}
	for ctx.Err() == nil {
		select {
		case r := <-a.resumed:
			a.finishResumed(ctx, name, r)
			continue
		default:
		}
		h, err := a.b.Claim(ctx, laneApproval, backend.CapabilitySet{}, policy)
		if err != nil {
			if ctx.Err() == nil {
				a.problem("claim: %v", err)
				sleep(ctx, 50*time.Millisecond)
			}
			continue
		}
		if h != nil {
			a.start(ctx, *h)
		}
	}
}

// start runs a freshly claimed job: plain ones complete, the others suspend.
func (a *approvalRun) start(ctx context.Context, h backend.Handle) {
	ec, err := a.b.ReadExecutionContext(ctx, h.ExecutionID())
	if err != nil {
		a.problem("%s: read context: %v", h.ExecutionID(), err)
		return
	}
	if ec.Tags[tagNeedsApproval] != "true" {
		if err := a.b.Complete(ctx, h, []byte(`{"published":true,"approval":"not needed"}`)); err != nil {
			a.problem("%s: complete: %v", h.ExecutionID(), err)
			return
		}
		a.plainDone.Add(1)
		a.finished()
		return
	}
	wp := backend.FreshBinding()
	out, err := a.b.Suspend(ctx, h, backend.SuspendArgs{
		SuspensionID:    backend.NewSuspensionID(),
		Waitpoints:      []backend.WaitpointBinding{wp},
		ResumeCondition: backend.SingleCondition(wp.WaitpointKey, backend.ByName(approvalSignal)),
		ResumePolicy:    backend.NormalResumePolicy(),
		ReasonCode:      backend.ReasonWaitingForApproval,
		TimeoutAt:       time.Now().Add(time.Minute),
		TimeoutBehavior: backend.TimeoutFail,
		IdempotencyKey:  "demo-approval:" + string(h.ExecutionID()),
	})
	if err != nil {
		a.problem("%s: suspend: %v", h.ExecutionID(), err)
		return
	}
	if out.Kind != backend.SuspendSuspended || out.Details.WaitpointID != wp.WaitpointID {
		a.problem("%s: suspend: kind %q waitpoint %s, want suspended on %s", h.ExecutionID(), out.Kind, out.Details.WaitpointID, wp.WaitpointID)
		return
	}
	a.suspended.Add(1)
	a.toReview <- approvalReq{id: h.ExecutionID(), waitpoint: out.Details.WaitpointID, token: out.Details.WaitpointToken, suspendedAt: time.Now()}
}

// approve is the approver: it checks the execution is suspended, "reviews"
// it, delivers the signal, and re-delivers it once to show idempotency.
func (a *approvalRun) approve(ctx context.Context) {
	for {
		var r approvalReq
		select {
		case <-ctx.Done():
			return
		case r = <-a.toReview:
		}
		if st, err := a.b.ReadExecutionState(ctx, r.id); err != nil || st == nil || *st != backend.PublicStateSuspended {
			a.problem("%s: before approval: state %v, err %v; want suspended", r.id, st, err)
		}
		sleep(ctx, time.Duration(rand.N(int64(approvalReviewMax))))
		args := backend.DeliverSignalArgs{
			ExecutionID:    r.id,
			WaitpointID:    r.waitpoint,
			WaitpointToken: r.token,
			SignalID:       backend.NewSignalID(),
			SignalName:     approvalSignal,
			SignalCategory: "approval",
			SourceType:     "user",
			SourceIdentity: "alice",
			IdempotencyKey: "approve:" + string(r.id),
		}
		res, err := a.b.DeliverSignal(ctx, args)
		if err != nil {
			if ctx.Err() == nil {
				a.problem("%s: deliver: %v", r.id, err)
			}
			continue
		}
		if res.Kind != backend.DeliverSignalAccepted || res.Effect != backend.EffectResumeConditionSatisfied {
			a.problem("%s: deliver: %s/%s, want accepted/resume_condition_satisfied", r.id, res.Kind, res.Effect)
			continue
		}
		a.approved.Add(1)
		// A retry of the same approval (same idempotency key) must not
		// count twice, even though the waitpoint is now closed.
		args.SignalID = backend.NewSignalID()
		dup, err := a.b.DeliverSignal(ctx, args)
		switch {
		case err == nil && dup.Kind == backend.DeliverSignalDuplicate && dup.SignalID == res.SignalID:
			a.duplicates.Add(1)
		case errors.Is(err, backend.ErrWaitpointClosed):
			// Also acceptable: closed waitpoints may reject before dedup.
		default:
			a.problem("%s: re-delivery: %+v, %v; want duplicate of %s", r.id, dup, err, res.SignalID)
		}
		a.resumed <- r
	}
}

// finishResumed claims a resumed execution, checks its signals, completes it.
func (a *approvalRun) finishResumed(ctx context.Context, worker string, r approvalReq) {
	res, err := a.b.ClaimResumedExecution(ctx, backend.ClaimResumedExecutionArgs{
		ExecutionID:      r.id,
		WorkerID:         "demo-approval-worker",
		WorkerInstanceID: backend.WorkerInstanceID(worker),
		LaneID:           laneApproval,
		LeaseID:          backend.NewLeaseID(),
		LeaseTTL:         leaseTTL,
	})
	if err != nil {
		a.problem("%s: claim resumed: %v", r.id, err)
		return
	}
	lat := time.Since(r.suspendedAt)
	sigs, err := a.b.ObserveSignals(ctx, res.Handle)
	if err != nil {
		a.problem("%s: observe signals: %v", r.id, err)
		return
	}
	if len(sigs) != 1 || sigs[0].SignalName != approvalSignal || sigs[0].SourceIdentity != "alice" {
		a.problem("%s: signals %+v, want one %q from alice", r.id, sigs, approvalSignal)
	}
	if err := a.b.Complete(ctx, res.Handle, fmt.Appendf(nil, `{"published":true,"approved_by":%q}`, "alice")); err != nil {
		a.problem("%s: complete resumed: %v", r.id, err)
		return
	}
	a.mu.Lock()
	a.latencies = append(a.latencies, lat)
	a.mu.Unlock()
	a.resumedDone.Add(1)
	a.finished()
}
