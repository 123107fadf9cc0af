package worker

import (
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// Defaults applied by New to zero Config fields.
const (
	// ClaimMaxWaitDefault is how long one Claim call parks on an empty
	// lane. It only bounds one call: the runner claims again at once, and
	// a commit on the lane (or Run's cancellation) ends the wait early.
	ClaimMaxWaitDefault = 5 * time.Second
	// ConcurrencyDefault is how many handlers may run at once.
	ConcurrencyDefault = 10
	// LeaseTTLDefault is the lease length asked of Claim.
	LeaseTTLDefault = 30 * time.Second
	// ShutdownGraceDefault is how long Run waits for in-flight handlers
	// after its context is cancelled.
	ShutdownGraceDefault = 10 * time.Second
	// WorkerIDDefault is the WorkerID recorded on leases.
	WorkerIDDefault backend.WorkerID = "ffsqlite-worker"
)

// RenewIntervalDivisor derives the default renew interval from the lease
// TTL (LeaseTTL / 3): two renewals can fail before the lease lapses.
const RenewIntervalDivisor = 3

// Config configures a Runner. Only Lane is required; New fills the other
// zero fields with the defaults above. Negative durations or counts are
// invalid rather than "default", so a miscomputed value is caught.
type Config struct {
	// Capabilities are the tokens the runner offers to Claim; executions
	// whose RoutingRequirements ask for more are left to other workers.
	// The backend validates them: an invalid token makes Run return an
	// error matching backend.ErrInvalidCapabilities.
	Capabilities []string
	// ClaimMaxWait is the MaxWait of each Claim call (0 =
	// ClaimMaxWaitDefault).
	ClaimMaxWait time.Duration
	// Concurrency is the most handlers that run at once (0 =
	// ConcurrencyDefault).
	Concurrency int
	// Lane is the lane to claim from (required; see backend.ParseLaneID).
	Lane backend.LaneID
	// LeaseTTL is the lease length (0 = LeaseTTLDefault; at least 1 ms,
	// because the backend stores it in whole milliseconds).
	LeaseTTL time.Duration
	// Logger receives claim errors, lost leases, recovered panics and
	// shutdown notes (nil = slog.Default()).
	Logger *slog.Logger
	// OutcomeFunc, when set, is called once per claimed attempt after the
	// runner has settled it (see Outcome). It runs on the attempt's
	// goroutine while the attempt still holds its concurrency slot, so it
	// should be quick.
	OutcomeFunc func(Outcome)
	// RenewInterval is how often each lease is renewed (0 = LeaseTTL /
	// RenewIntervalDivisor); it must be shorter than LeaseTTL.
	RenewInterval time.Duration
	// ShutdownGrace is how long Run lets in-flight handlers finish after
	// its context is cancelled (0 = ShutdownGraceDefault).
	ShutdownGrace time.Duration
	// WorkerID names the worker on leases ("" = WorkerIDDefault).
	WorkerID backend.WorkerID
	// WorkerInstanceID names this process on leases; operators use it to
	// revoke one instance's leases ("" = "<hostname>-<pid>-<random>", unique
	// per Runner).
	WorkerInstanceID backend.WorkerInstanceID
}

// ErrInvalidConfig matches every error New returns for a bad Config, a nil
// backend or a nil handler. Those errors are *ConfigError values and also
// match backend.ErrInvalidInput, so callers that already sort errors by
// the backend's kinds need no special case.
var ErrInvalidConfig = errors.New("worker: invalid config")

// ConfigError reports one invalid Config field (or the backend or handler
// argument of New).
type ConfigError struct {
	// Field names the offending field ("Lane", "LeaseTTL", …, or
	// "backend" / "handler" for New's arguments).
	Field string
	// Err is the validation error: a *backend.Error of kind validation.
	Err error
}

// Error renders "worker: invalid config: <field>: <cause>".
func (e *ConfigError) Error() string {
	return fmt.Sprintf("%v: %s: %v", ErrInvalidConfig, e.Field, e.Err)
}

// Unwrap returns ErrInvalidConfig and the validation error, so errors.Is
// matches both ErrInvalidConfig and backend.ErrInvalidInput.
func (e *ConfigError) Unwrap() []error {
	return []error{ErrInvalidConfig, e.Err}
}

// configErr builds a ConfigError whose cause is a backend validation error
// (invalid_input), the kind the backend itself uses for bad arguments.
func configErr(field, format string, args ...any) error {
	return &ConfigError{Field: field, Err: &backend.Error{
		Kind:    backend.KindValidation,
		SubKind: backend.SubKindInvalidInput,
		Detail:  fmt.Sprintf(format, args...),
	}}
}

// withDefaults validates c and returns it with every default filled in.
func (c Config) withDefaults() (Config, error) {
	if _, err := backend.ParseLaneID(string(c.Lane)); err != nil {
		return c, &ConfigError{Field: "Lane", Err: err}
	}
	switch {
	case c.Concurrency < 0:
		return c, configErr("Concurrency", "must not be negative (got %d)", c.Concurrency)
	case c.LeaseTTL < 0:
		return c, configErr("LeaseTTL", "must not be negative (got %s)", c.LeaseTTL)
	case c.LeaseTTL > 0 && c.LeaseTTL < time.Millisecond:
		return c, configErr("LeaseTTL", "must be at least 1ms (got %s)", c.LeaseTTL)
	case c.RenewInterval < 0:
		return c, configErr("RenewInterval", "must not be negative (got %s)", c.RenewInterval)
	case c.ClaimMaxWait < 0:
		return c, configErr("ClaimMaxWait", "must not be negative (got %s)", c.ClaimMaxWait)
	case c.ShutdownGrace < 0:
		return c, configErr("ShutdownGrace", "must not be negative (got %s)", c.ShutdownGrace)
	}
	// A copy, so a caller reusing its slice cannot change a running
	// runner's claims.
	c.Capabilities = slices.Clone(c.Capabilities)
	c.Concurrency = cmp.Or(c.Concurrency, ConcurrencyDefault)
	c.LeaseTTL = cmp.Or(c.LeaseTTL, LeaseTTLDefault)
	c.RenewInterval = cmp.Or(c.RenewInterval, c.LeaseTTL/RenewIntervalDivisor)
	if c.RenewInterval >= c.LeaseTTL {
		return c, configErr("RenewInterval", "must be shorter than LeaseTTL (%s >= %s)", c.RenewInterval, c.LeaseTTL)
	}
	c.ClaimMaxWait = cmp.Or(c.ClaimMaxWait, ClaimMaxWaitDefault)
	c.ShutdownGrace = cmp.Or(c.ShutdownGrace, ShutdownGraceDefault)
	c.WorkerID = cmp.Or(c.WorkerID, WorkerIDDefault)
	c.WorkerInstanceID = cmp.Or(c.WorkerInstanceID, defaultInstanceID())
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// defaultInstanceID is "<hostname>-<pid>-<random>": the random part keeps
// two runners in one process apart, so revoking one instance's leases
// never touches the other's.
func defaultInstanceID() backend.WorkerInstanceID {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	return backend.WorkerInstanceID(fmt.Sprintf("%s-%d-%s", host, os.Getpid(), rand.Text()[:8]))
}
