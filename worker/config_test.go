package worker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/worker"
)

func noop(context.Context, *worker.Job) error { return nil }

func TestNewValidation(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	valid := worker.Config{Lane: testLane}

	tests := []struct {
		name   string
		mutate func(*worker.Config)
		field  string
	}{
		{name: "ErrBadLane", mutate: func(c *worker.Config) { c.Lane = "tab\there" }, field: "Lane"},
		{name: "ErrEmptyLane", mutate: func(c *worker.Config) { c.Lane = "" }, field: "Lane"},
		{name: "ErrNegativeClaimMaxWait", mutate: func(c *worker.Config) { c.ClaimMaxWait = -time.Second }, field: "ClaimMaxWait"},
		{name: "ErrNegativeConcurrency", mutate: func(c *worker.Config) { c.Concurrency = -1 }, field: "Concurrency"},
		{name: "ErrNegativeLeaseTTL", mutate: func(c *worker.Config) { c.LeaseTTL = -time.Second }, field: "LeaseTTL"},
		{name: "ErrNegativeRenewInterval", mutate: func(c *worker.Config) { c.RenewInterval = -time.Second }, field: "RenewInterval"},
		{name: "ErrNegativeShutdownGrace", mutate: func(c *worker.Config) { c.ShutdownGrace = -time.Second }, field: "ShutdownGrace"},
		{name: "ErrNilBackend", field: "backend"},
		{name: "ErrNilHandler", field: "handler"},
		{
			name:   "ErrRenewIntervalNotShorterThanLeaseTTL",
			mutate: func(c *worker.Config) { c.LeaseTTL, c.RenewInterval = time.Second, time.Second },
			field:  "RenewInterval",
		},
		{name: "ErrSubMillisecondLeaseTTL", mutate: func(c *worker.Config) { c.LeaseTTL = 500 * time.Microsecond }, field: "LeaseTTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			if tt.mutate != nil {
				tt.mutate(&cfg)
			}
			var b backend.EngineBackend = tb.b
			if tt.field == "backend" {
				b = nil
			}
			handler := worker.Handler(noop)
			if tt.field == "handler" {
				handler = nil
			}
			r, err := worker.New(b, cfg, handler)
			if r != nil {
				t.Errorf("New returned a runner with error %v", err)
			}
			if !errors.Is(err, worker.ErrInvalidConfig) || !errors.Is(err, backend.ErrInvalidInput) {
				t.Fatalf("New: %v, want ErrInvalidConfig and backend.ErrInvalidInput", err)
			}
			var ce *worker.ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("New: %v, want a ConfigError for %s", err, tt.field)
			}
			if !strings.HasPrefix(err.Error(), "worker: invalid config: "+tt.field+": ") {
				t.Errorf("error text %q", err.Error())
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	tb := setup(t)

	t.Run("ZeroFields", func(t *testing.T) {
		t.Parallel()
		r, err := worker.New(tb.b, worker.Config{Lane: testLane}, noop)
		if err != nil {
			t.Fatal(err)
		}
		got := r.Config()
		want := worker.Config{
			ClaimMaxWait:  worker.ClaimMaxWaitDefault,
			Concurrency:   worker.ConcurrencyDefault,
			Lane:          testLane,
			LeaseTTL:      worker.LeaseTTLDefault,
			RenewInterval: worker.LeaseTTLDefault / worker.RenewIntervalDivisor,
			ShutdownGrace: worker.ShutdownGraceDefault,
			WorkerID:      worker.WorkerIDDefault,
		}
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(worker.Config{}, "Logger", "WorkerInstanceID", "OutcomeFunc")); diff != "" {
			t.Errorf("Config() (-want +got):\n%s", diff)
		}
		if got.Logger == nil || got.WorkerInstanceID == "" {
			t.Errorf("Logger %v, WorkerInstanceID %q: want both set", got.Logger, got.WorkerInstanceID)
		}
		r2, err := worker.New(tb.b, worker.Config{Lane: testLane}, noop)
		if err != nil {
			t.Fatal(err)
		}
		if r2.Config().WorkerInstanceID == got.WorkerInstanceID {
			t.Errorf("two runners share the default instance id %q", got.WorkerInstanceID)
		}
	})

	t.Run("RenewIntervalFollowsLeaseTTL", func(t *testing.T) {
		t.Parallel()
		r, err := worker.New(tb.b, worker.Config{Lane: testLane, LeaseTTL: 9 * time.Second}, noop)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Config().RenewInterval; got != 3*time.Second {
			t.Errorf("RenewInterval = %s, want 3s", got)
		}
	})
}
