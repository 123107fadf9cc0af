package tests

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/backend"
)

func TestCreateExecutionCreated(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := backend.NewExecutionID()
	res, err := e.b.CreateExecution(e.ctx, backend.CreateExecutionArgs{
		ExecutionID: id, LaneID: "lane", Namespace: "ns", ExecutionKind: "k", InputPayload: []byte("in"),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := backend.CreateExecutionResult{ExecutionID: id, Kind: backend.CreateExecutionCreated, PublicState: backend.PublicStateWaiting}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got)\n%s", diff)
	}
	if got := e.state(id); got != backend.PublicStateWaiting {
		t.Errorf("state = %s, want waiting", got)
	}
	lanes, err := e.b.ListLanes(e.ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(backend.ListLanesPage{Items: []backend.LaneID{"lane"}}, lanes); diff != "" {
		t.Errorf("ListLanes (-want +got)\n%s", diff)
	}
}

func TestCreateExecutionDelayUntil(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		delay time.Duration // DelayUntil = now + delay
		want  backend.PublicState
	}{
		{"Future", time.Minute, backend.PublicStateDelayed},
		{"OneMillisecond", time.Millisecond, backend.PublicStateDelayed},
		// Only a time after now delays.
		{"Now", 0, backend.PublicStateWaiting},
		{"Past", -time.Hour, backend.PublicStateWaiting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			id := backend.NewExecutionID()
			res, err := e.b.CreateExecution(e.ctx, backend.CreateExecutionArgs{
				ExecutionID: id, LaneID: "lane", DelayUntil: e.now().Add(tt.delay),
			})
			if err != nil {
				t.Fatal(err)
			}
			want := backend.CreateExecutionResult{ExecutionID: id, Kind: backend.CreateExecutionCreated, PublicState: tt.want}
			if diff := cmp.Diff(want, res); diff != "" {
				t.Errorf("result (-want +got)\n%s", diff)
			}
			if got := e.state(id); got != tt.want {
				t.Errorf("stored state = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCreateExecutionDuplicateID(t *testing.T) {
	t.Parallel()
	e := newExecEnv(t)
	id := e.create("lane", func(a *backend.CreateExecutionArgs) { a.InputPayload = []byte("first") })
	before := e.dump()
	e.clock.Advance(time.Second)

	res, err := e.b.CreateExecution(e.ctx, backend.CreateExecutionArgs{
		ExecutionID: id, LaneID: "lane", Namespace: "other", ExecutionKind: "other", InputPayload: []byte("second"), Priority: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(backend.CreateExecutionResult{ExecutionID: id, Kind: backend.CreateExecutionDuplicate}, res); diff != "" {
		t.Errorf("result (-want +got)\n%s", diff)
	}
	// The first execution is untouched.
	e.requireUnchanged(before, "a duplicate create")
	ec, err := e.b.ReadExecutionContext(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if string(ec.InputPayload) != "first" {
		t.Errorf("payload = %q, want the first create's", ec.InputPayload)
	}
}

func TestCreateExecutionIdempotencyKey(t *testing.T) {
	t.Parallel()
	createKeyed := func(t *testing.T, e *execEnv, ns backend.Namespace, policy *backend.ExecutionPolicy) backend.CreateExecutionResult {
		t.Helper()
		res, err := e.b.CreateExecution(e.ctx, backend.CreateExecutionArgs{
			ExecutionID: backend.NewExecutionID(), LaneID: "lane", Namespace: ns, IdempotencyKey: "key-1", Policy: policy,
		})
		if err != nil {
			t.Fatalf("CreateExecution: %v", err)
		}
		return res
	}
	requireDuplicateOf := func(t *testing.T, e *execEnv, res backend.CreateExecutionResult, first backend.ExecutionID) {
		t.Helper()
		if diff := cmp.Diff(backend.CreateExecutionResult{ExecutionID: first, Kind: backend.CreateExecutionDuplicate}, res); diff != "" {
			t.Fatalf("repeat within the window (-want +got)\n%s", diff)
		}
	}
	requireCreated := func(t *testing.T, e *execEnv, res backend.CreateExecutionResult, first backend.ExecutionID) {
		t.Helper()
		if res.Kind != backend.CreateExecutionCreated || res.ExecutionID == first {
			t.Fatalf("result = %+v, want a new execution (first was %s)", res, first)
		}
		if e.state(res.ExecutionID) != backend.PublicStateWaiting {
			t.Fatalf("new execution is not waiting")
		}
	}

	t.Run("DefaultWindow", func(t *testing.T) {
		t.Parallel()
		e := newExecEnv(t)
		first := createKeyed(t, e, "ns", nil)
		if first.Kind != backend.CreateExecutionCreated {
			t.Fatalf("first create = %+v", first)
		}
		e.clock.Advance(backend.DedupWindowDefault - time.Millisecond)
		before := e.dump()
		requireDuplicateOf(t, e, createKeyed(t, e, "ns", nil), first.ExecutionID)
		// A deduplicated create writes no execution.
		e.requireUnchanged(before, "a deduplicated create")

		e.clock.Advance(2 * time.Millisecond) // past the 24 h window
		second := createKeyed(t, e, "ns", nil)
		requireCreated(t, e, second, first.ExecutionID)
		// The key now deduplicates to the newest execution.
		requireDuplicateOf(t, e, createKeyed(t, e, "ns", nil), second.ExecutionID)
	})

	t.Run("PolicyWindow", func(t *testing.T) {
		t.Parallel()
		e := newExecEnv(t)
		policy := &backend.ExecutionPolicy{DedupWindow: time.Minute}
		first := createKeyed(t, e, "ns", policy)
		e.clock.Advance(59 * time.Second)
		requireDuplicateOf(t, e, createKeyed(t, e, "ns", policy), first.ExecutionID)
		e.clock.Advance(2 * time.Second)
		requireCreated(t, e, createKeyed(t, e, "ns", policy), first.ExecutionID)
	})

	t.Run("OtherNamespace", func(t *testing.T) {
		t.Parallel()
		e := newExecEnv(t)
		first := createKeyed(t, e, "ns", nil)
		requireCreated(t, e, createKeyed(t, e, "ns-2", nil), first.ExecutionID)
		requireDuplicateOf(t, e, createKeyed(t, e, "ns", nil), first.ExecutionID)
	})

	t.Run("NoKeyNoDedup", func(t *testing.T) {
		t.Parallel()
		e := newExecEnv(t)
		a := e.create("lane", nil)
		b := e.create("lane", nil)
		if a == b || e.state(a) != backend.PublicStateWaiting || e.state(b) != backend.PublicStateWaiting {
			t.Fatalf("two creates without a key: %s, %s", a, b)
		}
	})
}

func TestCreateExecutionPriorityClamp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   int32
		want int32
	}{
		{"MinInt32", math.MinInt32, backend.PriorityMin},
		{"Negative", -5, 0},
		{"Zero", 0, 0},
		{"InRange", 1234, 1234},
		{"Max", 9000, 9000},
		{"AboveMax", 10000, backend.PriorityMax},
		{"MaxInt32", math.MaxInt32, backend.PriorityMax},
	}
	// One database for all cases (a subtest must not fail through the
	// parent's env), so plain iterations.
	e := newExecEnv(t)
	for _, tt := range tests {
		id := e.create("lane", func(a *backend.CreateExecutionArgs) { a.Priority = tt.in })
		if got := e.info(id).Priority; got != tt.want {
			t.Errorf("%s: priority %d stored as %d, want %d", tt.name, tt.in, got, tt.want)
		}
	}
}

// capsPolicy is a policy requiring caps.
func capsPolicy(caps ...string) *backend.ExecutionPolicy {
	return &backend.ExecutionPolicy{RoutingRequirements: &backend.RoutingRequirements{RequiredCapabilities: caps}}
}

// tokens returns n distinct capability tokens.
func tokens(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("cap%d", i)
	}
	return out
}

func TestCreateExecutionValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*backend.CreateExecutionArgs)
		want error
	}{
		{"ErrCapabilityEmptyToken", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy("gpu", "") }, backend.ErrInvalidCapabilities},
		{"ErrCapabilityComma", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy("gpu,cpu") }, backend.ErrInvalidCapabilities},
		{"ErrCapabilitySpace", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy("big gpu") }, backend.ErrInvalidCapabilities},
		{"ErrCapabilityTab", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy("gpu\t") }, backend.ErrInvalidCapabilities},
		{"ErrCapabilityNewline", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy("gpu\n") }, backend.ErrInvalidCapabilities},
		{"ErrCapabilityControl", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy("g\x01pu") }, backend.ErrInvalidCapabilities},
		{"ErrCapabilityDEL", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy("gpu\x7f") }, backend.ErrInvalidCapabilities},
		{"ErrCapabilityTooManyTokens", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy(tokens(257)...) }, backend.ErrInvalidCapabilities},
		{"ErrCapabilityTooManyBytesOneToken", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy(strings.Repeat("x", 4097)) }, backend.ErrInvalidCapabilities},
		// 2048 + ',' + 2048 = 4097 bytes comma-joined.
		{"ErrCapabilityTooManyBytesJoined", func(a *backend.CreateExecutionArgs) {
			a.Policy = capsPolicy(strings.Repeat("a", 2048), strings.Repeat("b", 2048))
		}, backend.ErrInvalidCapabilities},
		{"ErrTagKeyUppercase", func(a *backend.CreateExecutionArgs) { a.Tags = map[string]string{"Cairn.x": "v"} }, backend.ErrInvalidInput},
		{"ErrTagKeyNoDot", func(a *backend.CreateExecutionArgs) { a.Tags = map[string]string{"cairn": "v"} }, backend.ErrInvalidInput},
		{"ErrTagKeyEmptyName", func(a *backend.CreateExecutionArgs) { a.Tags = map[string]string{"cairn.": "v"} }, backend.ErrInvalidInput},
		{"ErrTagKeyLeadingDigit", func(a *backend.CreateExecutionArgs) { a.Tags = map[string]string{"1cairn.x": "v"} }, backend.ErrInvalidInput},
		{"ErrTagKeyEmpty", func(a *backend.CreateExecutionArgs) { a.Tags = map[string]string{"": "v"} }, backend.ErrInvalidInput},
		{"ErrTagKeyOneBadAmongGood", func(a *backend.CreateExecutionArgs) {
			a.Tags = map[string]string{"cairn.instance_id": "i", "a.b": "v", "bad key.x": "v"}
		}, backend.ErrInvalidInput},
		{"ErrExecutionIDEmpty", func(a *backend.CreateExecutionArgs) { a.ExecutionID = "" }, backend.ErrInvalidInput},
		{"ErrExecutionIDNoPrefix", func(a *backend.CreateExecutionArgs) {
			a.ExecutionID = backend.ExecutionID(backend.NewExecutionID().UUID())
		}, backend.ErrInvalidInput},
		{"ErrExecutionIDBadUUID", func(a *backend.CreateExecutionArgs) { a.ExecutionID = "{fp:0}:not-a-uuid" }, backend.ErrInvalidInput},
		{"ErrExecutionIDPartitionOverflow", func(a *backend.CreateExecutionArgs) {
			a.ExecutionID = backend.ExecutionID("{fp:65536}:" + backend.NewExecutionID().UUID())
		}, backend.ErrInvalidInput},
		{"ErrLaneEmpty", func(a *backend.CreateExecutionArgs) { a.LaneID = "" }, backend.ErrInvalidInput},
		{"ErrLaneTooLong", func(a *backend.CreateExecutionArgs) { a.LaneID = backend.LaneID(strings.Repeat("l", 65)) }, backend.ErrInvalidInput},
		{"ErrLaneControlByte", func(a *backend.CreateExecutionArgs) { a.LaneID = "la\x00ne" }, backend.ErrInvalidInput},
		{"ErrLaneNonASCII", func(a *backend.CreateExecutionArgs) { a.LaneID = "lané" }, backend.ErrInvalidInput},
		{"ErrNegativeDedupWindow", func(a *backend.CreateExecutionArgs) {
			a.IdempotencyKey = "k"
			a.Policy = &backend.ExecutionPolicy{DedupWindow: -time.Second}
		}, backend.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			existing := e.create("lane", nil) // so "unchanged" compares real rows
			before := e.dump()
			args := backend.CreateExecutionArgs{ExecutionID: backend.NewExecutionID(), LaneID: "lane-new", InputPayload: []byte("x")}
			tt.mod(&args)
			res, err := e.b.CreateExecution(e.ctx, args)
			requireErr(t, "CreateExecution", err, tt.want)
			if !errorsIsValidation(err) {
				t.Errorf("err = %v, want a Validation error", err)
			}
			if diff := cmp.Diff(backend.CreateExecutionResult{}, res); diff != "" {
				t.Errorf("result on error (-want +got)\n%s", diff)
			}
			e.requireUnchanged(before, "a rejected create")

			// The public views agree: no new lane, no new execution.
			lanes, err := e.b.ListLanes(e.ctx, "", 10)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]backend.LaneID{"lane"}, lanes.Items); diff != "" {
				t.Errorf("ListLanes (-want +got)\n%s", diff)
			}
			ids, err := e.b.ListExecutions(e.ctx, backend.DefaultPartitionKey, "", 10)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]backend.ExecutionID{existing}, ids.Items); diff != "" {
				t.Errorf("ListExecutions (-want +got)\n%s", diff)
			}
		})
	}
}

// errorsIsValidation reports whether err is a Validation error.
func errorsIsValidation(err error) bool {
	var e *backend.Error
	return errors.As(err, &e) && e.Kind == backend.KindValidation
}

// TestCreateExecutionValidationLimits covers the inputs right at the
// limits, which are accepted.
func TestCreateExecutionValidationLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(*backend.CreateExecutionArgs)
	}{
		{"Capabilities256Tokens", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy(tokens(256)...) }},
		{"Capabilities4096BytesOneToken", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy(strings.Repeat("x", 4096)) }},
		// 2048 + ',' + 2047 = 4096 bytes comma-joined.
		{"Capabilities4096BytesJoined", func(a *backend.CreateExecutionArgs) {
			a.Policy = capsPolicy(strings.Repeat("a", 2048), strings.Repeat("b", 2047))
		}},
		{"CapabilitiesPrintable", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy("gpu:a100", "~x!", "région") }},
		{"CapabilitiesNone", func(a *backend.CreateExecutionArgs) { a.Policy = capsPolicy() }},
		{"TagKeys", func(a *backend.CreateExecutionArgs) {
			a.Tags = map[string]string{"cairn.instance_id": "i-1", "a.b": "", "x_1.y.z_2": "v", "ns.0": "v"}
		}},
		{"Lane64Bytes", func(a *backend.CreateExecutionArgs) { a.LaneID = backend.LaneID(strings.Repeat("l", 64)) }},
		{"LanePrintableASCII", func(a *backend.CreateExecutionArgs) { a.LaneID = " lane/with:all~chars! " }},
		{"ExecutionIDOtherPartition", func(a *backend.CreateExecutionArgs) {
			a.ExecutionID = backend.ExecutionID("{fp:65535}:" + backend.NewExecutionID().UUID())
		}},
		{"ExecutionIDUppercaseUUID", func(a *backend.CreateExecutionArgs) {
			a.ExecutionID = backend.ExecutionID("{fp:0}:" + strings.ToUpper(backend.NewExecutionID().UUID()))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newExecEnv(t)
			args := backend.CreateExecutionArgs{ExecutionID: backend.NewExecutionID(), LaneID: "lane"}
			tt.mod(&args)
			res, err := e.b.CreateExecution(e.ctx, args)
			if err != nil {
				t.Fatalf("CreateExecution: %v", err)
			}
			if res.Kind != backend.CreateExecutionCreated || res.ExecutionID != args.ExecutionID {
				t.Fatalf("result = %+v", res)
			}
			if got := e.describe(args.ExecutionID).LaneID; got != args.LaneID {
				t.Errorf("lane = %q, want %q", got, args.LaneID)
			}
		})
	}
}
