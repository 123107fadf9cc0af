package backend

import (
	"context"
	"time"

	"github.com/flowfabric/ffsqlite/scanners"
)

// Compile-time proof that SQLiteBackend is the whole engine contract.
var _ EngineBackend = (*SQLiteBackend)(nil)

// supportedFeatures is what Capabilities reports. A flag turns true in the
// same change that gives its method a real body.
var supportedFeatures = Supports{
	CancelExecution:    true,
	IssueReclaimGrant:  true,
	ChangePriority:     true,
	ReplayExecution:    true,
	RevokeLease:        true,
	Prepare:            true,
	ReadExecutionState: true,
	ReadExecutionInfo:  true,
	GetExecutionResult: true,
	// Budgets and quotas (budget_ops.go, quota.go).
	BudgetAdmin: true,
	QuotaAdmin:  true,
	// Flows (flow_ops.go): cancellation is synchronous, so every wait
	// mode is served.
	CancelFlowHeader:         true,
	CancelFlowWaitTimeout:    true,
	CancelFlowWaitIndefinite: true,
	AckCancelMember:          true,
	// Suspension (hmac.go, waitpoint.go).
	RotateWaitpointHMACSecretAll: true,
	SeedWaitpointHMACSecret:      true,
	ListPendingWaitpoints:        true,
	// Streams and subscriptions (stream_ops.go, subscribe.go);
	// SubscribeInstanceTags stays false (decision 2).
	StreamDurableSummary:    true,
	StreamBestEffortLive:    true,
	SubscribeCompletion:     true,
	SubscribeLeaseHistory:   true,
	SubscribeSignalDelivery: true,
}

// Prepare runs one-time boot preparation. Migrations already ran in the
// constructor, so there is nothing left to do.
func (b *SQLiteBackend) Prepare(ctx context.Context) (PrepareOutcome, error) {
	if _, err := b.live("prepare"); err != nil {
		return PrepareOutcome{}, err
	}
	if err := ctx.Err(); err != nil {
		return PrepareOutcome{}, err
	}
	return PrepareOutcome{Kind: PrepareNoOp}, nil
}

// Ping checks that the database answers a query on both pools.
func (b *SQLiteBackend) Ping(ctx context.Context) error {
	db, err := b.live("ping")
	if err != nil {
		return err
	}
	if _, err := db.wq.Ping(ctx); err != nil {
		return errTransportCtx(ctx, err)
	}
	if _, err := db.rq.Ping(ctx); err != nil {
		return errTransportCtx(ctx, err)
	}
	return nil
}

// BackendLabel returns "sqlite".
func (b *SQLiteBackend) BackendLabel() string { return BackendLabelSQLite }

// Capabilities reports identity and supported features.
func (b *SQLiteBackend) Capabilities() Capabilities {
	return Capabilities{
		Identity: BackendIdentity{Family: BackendLabelSQLite, RFC017Stage: "Phase-4", Version: BackendVersion},
		Supports: supportedFeatures,
	}
}

// AsAny returns the concrete backend (a *SQLiteBackend).
func (b *SQLiteBackend) AsAny() any { return b }

// ShutdownPrepare stops the scanner supervisor (if installed) and waits up
// to grace for running ticks. It never fails and leaves the backend usable.
func (b *SQLiteBackend) ShutdownPrepare(ctx context.Context, grace time.Duration) error {
	if b == nil || b.closed.Load() {
		return nil
	}
	b.db.stopScanners(grace)
	return nil
}

// installScanners starts the supervisor unless one was ever installed on
// this database; the slot is never reset, not even by ShutdownPrepare.
func (db *database) installScanners(cfg scanners.Config, r scanners.Runner) bool {
	db.scannerMu.Lock()
	defer db.scannerMu.Unlock()
	if db.scannerSet {
		return false
	}
	db.scannerSet = true
	db.scannerCfg = &cfg
	db.supervisor = scanners.Start(cfg, r, db.log)
	return true
}

// stopScanners stops the supervisor, waiting up to grace; grace <= 0 waits
// until every tick has returned (ticks see their context cancelled).
func (db *database) stopScanners(grace time.Duration) {
	db.scannerMu.Lock()
	sup := db.supervisor
	db.scannerMu.Unlock()
	if sup == nil {
		return
	}
	if grace <= 0 {
		grace = time.Hour
	}
	if !sup.Stop(grace) {
		db.log.Warn("scanner supervisor: reconcilers still running at shutdown deadline", "grace", grace)
	}
}

// scannerRunner runs reconciler ticks against one database.
type scannerRunner struct{ db *database }

// RunOnce runs one tick of job at the clock's current time. Jobs whose
// domain has no reconciler yet process nothing.
func (r scannerRunner) RunOnce(ctx context.Context, job scanners.Job) (scanners.TickResult, error) {
	if err := ctx.Err(); err != nil {
		return scanners.TickResult{}, err
	}
	if tick, ok := reconcilers[job]; ok {
		return tick(ctx, r.db)
	}
	for _, j := range scanners.Jobs() {
		if j == job {
			return scanners.TickResult{}, nil
		}
	}
	return scanners.TickResult{}, errInvalidInput("unknown scanner job: %s", job)
}
