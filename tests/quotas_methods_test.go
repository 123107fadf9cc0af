package tests

import (
	"math"
	"testing"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// createQuota creates a quota policy and fails the test unless it is new.
func (e *execEnv) createQuota(window time.Duration, rate, concurrent uint64) backend.QuotaPolicyID {
	e.t.Helper()
	id := backend.NewQuotaPolicyID()
	res, err := e.b.CreateQuotaPolicy(e.ctx, backend.CreateQuotaPolicyArgs{
		QuotaPolicyID: id, Window: window, MaxRequestsPerWindow: rate, MaxConcurrent: concurrent,
	})
	if err != nil || res.Kind != backend.CreateQuotaPolicyCreated || res.QuotaPolicyID != id {
		e.t.Fatalf("CreateQuotaPolicy = %+v, %v; want created", res, err)
	}
	return id
}

// quotaRow reads a quota policy row through the raw view.
func (e *execEnv) quotaRow(id backend.QuotaPolicyID) (window, rate, capacity, active int64) {
	e.t.Helper()
	err := e.raw().QueryRowContext(e.ctx, `SELECT window_seconds, max_requests_per_window, active_concurrency_cap, active_concurrency
		FROM ff_quota_policy WHERE quota_policy_id = ?`, string(id)).Scan(&window, &rate, &capacity, &active)
	if err != nil {
		e.t.Fatalf("read quota %s: %v", id, err)
	}
	return
}

func TestCreateQuotaPolicy(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	// A fractional window is stored rounded up to whole seconds.
	id := e.createQuota(1500*time.Millisecond, 5, 2)
	if w, r, c, a := e.quotaRow(id); w != 2 || r != 5 || c != 2 || a != 0 {
		t.Fatalf("row = %d/%d/%d/%d, want 2/5/2/0", w, r, c, a)
	}
	before := e.dump()
	res, err := e.b.CreateQuotaPolicy(e.ctx, backend.CreateQuotaPolicyArgs{QuotaPolicyID: id, Window: time.Hour, MaxConcurrent: 9})
	if err != nil || res.Kind != backend.CreateQuotaPolicyAlreadySatisfied {
		t.Fatalf("repeat = %+v, %v; want already_satisfied", res, err)
	}
	e.requireUnchanged(before, "a repeated CreateQuotaPolicy")
	// Zeros are allowed: no limits.
	e.createQuota(0, 0, 0)

	for name, args := range map[string]backend.CreateQuotaPolicyArgs{
		"ErrBadID":          {QuotaPolicyID: "q"},
		"ErrNegativeWindow": {QuotaPolicyID: backend.NewQuotaPolicyID(), Window: -time.Second},
		"ErrLimitTooLarge":  {QuotaPolicyID: backend.NewQuotaPolicyID(), MaxConcurrent: math.MaxUint64},
	} {
		before := e.dump()
		_, err := e.b.CreateQuotaPolicy(e.ctx, args)
		requireErr(t, name, err, backend.ErrInvalidInput)
		e.requireUnchanged(before, name)
	}
}

func TestCheckAdmission(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	q := e.createQuota(time.Minute, 0, 0)
	admit := func(exec backend.ExecutionID, rate, capacity uint64) backend.CheckAdmissionResult {
		t.Helper()
		res, err := e.b.CheckAdmission(e.ctx, q, "ignored", backend.CheckAdmissionArgs{
			ExecutionID: exec, Window: 10 * time.Second, RateLimit: rate, ConcurrencyCap: capacity, Jitter: 3 * time.Millisecond,
		})
		if err != nil {
			t.Fatalf("CheckAdmission: %v", err)
		}
		return res
	}
	a, b, c := backend.NewExecutionID(), backend.NewExecutionID(), backend.NewExecutionID()
	if got := admit(a, 2, 0); got.Kind != backend.AdmissionAdmitted {
		t.Fatalf("first = %+v", got)
	}
	if got := admit(a, 2, 0); got.Kind != backend.AdmissionAlreadyAdmitted {
		t.Fatalf("same execution in the window = %+v, want already_admitted", got)
	}
	e.clock.Advance(4 * time.Second)
	if got := admit(b, 2, 0); got.Kind != backend.AdmissionAdmitted {
		t.Fatalf("second = %+v", got)
	}
	// Full: retry when the oldest admission (4 s ago) leaves the 10 s
	// window, plus the jitter.
	if got := admit(c, 2, 0); got.Kind != backend.AdmissionRateExceeded || got.RetryAfter != 6*time.Second+3*time.Millisecond {
		t.Fatalf("over the rate = %+v, want rate_exceeded after 6.003s", got)
	}
	e.clock.Advance(6 * time.Second)
	if got := admit(c, 2, 0); got.Kind != backend.AdmissionAdmitted {
		t.Fatalf("after the oldest left the window = %+v", got)
	}

	// The concurrency count is the stored policy's; each admission with a
	// cap counts one.
	d, f := backend.NewExecutionID(), backend.NewExecutionID()
	if got := admit(d, 0, 1); got.Kind != backend.AdmissionAdmitted {
		t.Fatalf("under the cap = %+v", got)
	}
	if _, _, _, active := e.quotaRow(q); active != 1 {
		t.Fatalf("active_concurrency = %d, want 1", active)
	}
	if got := admit(f, 0, 1); got.Kind != backend.AdmissionConcurrencyExceeded {
		t.Fatalf("at the cap = %+v, want concurrency_exceeded", got)
	}

	// An unknown policy with a cap gets a counter-only row.
	unknown := backend.NewQuotaPolicyID()
	if res, err := e.b.CheckAdmission(e.ctx, unknown, "", backend.CheckAdmissionArgs{ExecutionID: a, ConcurrencyCap: 5}); err != nil || res.Kind != backend.AdmissionAdmitted {
		t.Fatalf("unknown policy = %+v, %v", res, err)
	}
	if w, r, capacity, active := e.quotaRow(unknown); w != 0 || r != 0 || capacity != 0 || active != 1 {
		t.Fatalf("counter row = %d/%d/%d/%d, want 0/0/0/1", w, r, capacity, active)
	}

}

func TestCheckAdmissionErrors(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	q := backend.NewQuotaPolicyID()
	x := backend.NewExecutionID()
	tests := []struct {
		name string
		q    backend.QuotaPolicyID
		args backend.CheckAdmissionArgs
	}{
		{"ErrBadPolicy", "nope", backend.CheckAdmissionArgs{ExecutionID: x}},
		{"ErrBadExecution", q, backend.CheckAdmissionArgs{ExecutionID: "nope"}},
		{"ErrNegativeWindow", q, backend.CheckAdmissionArgs{ExecutionID: x, Window: -1}},
		{"ErrNegativeJitter", q, backend.CheckAdmissionArgs{ExecutionID: x, Jitter: -1}},
		{"ErrRateTooLarge", q, backend.CheckAdmissionArgs{ExecutionID: x, RateLimit: math.MaxUint64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.dump()
			_, err := e.b.CheckAdmission(e.ctx, tt.q, "", tt.args)
			requireErr(t, "CheckAdmission", err, backend.ErrInvalidInput)
			e.requireUnchanged(before, "a rejected CheckAdmission")
		})
	}
}
