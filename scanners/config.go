package scanners

import "time"

// Job names one reconciler. The value is the job id used in logs and metrics
// (rendered as "sqlite.<job>").
type Job string

// The reconcilers. Each runs only when its interval in Config is > 0.
const (
	JobAttemptTimeout         Job = "attempt_timeout"
	JobBudgetReset            Job = "budget_reset"
	JobCancelReconciler       Job = "cancel_reconciler"
	JobDelayedPromoter        Job = "delayed_promoter"
	JobDependencyReconciler   Job = "dependency_reconciler"
	JobEdgeCancelDispatcher   Job = "edge_cancel_dispatcher"
	JobEdgeCancelReconciler   Job = "edge_cancel_reconciler"
	JobExecutionDeadline      Job = "execution_deadline"
	JobLeaseExpiry            Job = "lease_expiry"
	JobPendingWaitpointExpiry Job = "pending_waitpoint_expiry"
	JobQuotaReconciler        Job = "quota_reconciler"
	JobRetentionTrimmer       Job = "retention_trimmer"
	JobSuspensionTimeout      Job = "suspension_timeout"
	JobUnblock                Job = "unblock"
)

// Jobs returns every Job in a stable order.
func Jobs() []Job {
	return []Job{
		JobAttemptTimeout, JobBudgetReset, JobCancelReconciler, JobDelayedPromoter,
		JobDependencyReconciler, JobEdgeCancelDispatcher, JobEdgeCancelReconciler,
		JobExecutionDeadline, JobLeaseExpiry, JobPendingWaitpointExpiry,
		JobQuotaReconciler, JobRetentionTrimmer, JobSuspensionTimeout, JobUnblock,
	}
}

// Defaults used by DefaultConfig (the Valkey engine's cadences).
const (
	AttemptTimeoutIntervalDefault         = 2 * time.Second
	BudgetResetIntervalDefault            = 15 * time.Second
	CancelReconcilerIntervalDefault       = 15 * time.Second
	DelayedPromoterIntervalDefault        = 750 * time.Millisecond
	DependencyReconcilerIntervalDefault   = 15 * time.Second
	EdgeCancelDispatcherIntervalDefault   = 1 * time.Second
	EdgeCancelReconcilerIntervalDefault   = 10 * time.Second
	ExecutionDeadlineIntervalDefault      = 5 * time.Second
	LeaseExpiryIntervalDefault            = 1500 * time.Millisecond
	PendingWaitpointExpiryIntervalDefault = 5 * time.Second
	QuotaReconcilerIntervalDefault        = 30 * time.Second
	RetentionTrimmerIntervalDefault       = 60 * time.Second
	SuspensionTimeoutIntervalDefault      = 2 * time.Second
	UnblockIntervalDefault                = 5 * time.Second

	// DependencyStaleThresholdDefault is how old an undispatched completion
	// event must be before the dependency reconciler re-drives it.
	DependencyStaleThresholdDefault = 15 * time.Second
	// RetentionDefault is how long a terminal execution is kept before the
	// retention trimmer deletes it.
	RetentionDefault = 24 * time.Hour
)

// Config sets the cadence of every reconciler. The zero value runs nothing:
// a zero interval disables that reconciler, so a literal that sets only
// BudgetResetInterval enables only budget_reset. Use DefaultConfig for the
// full set.
type Config struct {
	AttemptTimeoutInterval         time.Duration
	BudgetResetInterval            time.Duration
	CancelReconcilerInterval       time.Duration
	DelayedPromoterInterval        time.Duration
	DependencyReconcilerInterval   time.Duration
	EdgeCancelDispatcherInterval   time.Duration
	EdgeCancelReconcilerInterval   time.Duration
	ExecutionDeadlineInterval      time.Duration
	LeaseExpiryInterval            time.Duration
	PendingWaitpointExpiryInterval time.Duration
	QuotaReconcilerInterval        time.Duration
	RetentionTrimmerInterval       time.Duration
	SuspensionTimeoutInterval      time.Duration
	UnblockInterval                time.Duration

	// DependencyStaleThreshold: 0 means DependencyStaleThresholdDefault.
	DependencyStaleThreshold time.Duration
	// Filter restricts reconcilers that iterate executions to matching
	// rows (namespace / instance tag). The zero value matches everything.
	Filter Filter
	// Retention: 0 means RetentionDefault.
	Retention time.Duration
}

// DefaultConfig returns a Config with every reconciler enabled at its
// default cadence.
func DefaultConfig() Config {
	return Config{
		AttemptTimeoutInterval:         AttemptTimeoutIntervalDefault,
		BudgetResetInterval:            BudgetResetIntervalDefault,
		CancelReconcilerInterval:       CancelReconcilerIntervalDefault,
		DelayedPromoterInterval:        DelayedPromoterIntervalDefault,
		DependencyReconcilerInterval:   DependencyReconcilerIntervalDefault,
		EdgeCancelDispatcherInterval:   EdgeCancelDispatcherIntervalDefault,
		EdgeCancelReconcilerInterval:   EdgeCancelReconcilerIntervalDefault,
		ExecutionDeadlineInterval:      ExecutionDeadlineIntervalDefault,
		LeaseExpiryInterval:            LeaseExpiryIntervalDefault,
		PendingWaitpointExpiryInterval: PendingWaitpointExpiryIntervalDefault,
		QuotaReconcilerInterval:        QuotaReconcilerIntervalDefault,
		RetentionTrimmerInterval:       RetentionTrimmerIntervalDefault,
		SuspensionTimeoutInterval:      SuspensionTimeoutIntervalDefault,
		UnblockInterval:                UnblockIntervalDefault,
		DependencyStaleThreshold:       DependencyStaleThresholdDefault,
		Retention:                      RetentionDefault,
	}
}

// Interval returns the configured cadence of j (0 = disabled).
func (c Config) Interval(j Job) time.Duration {
	switch j {
	case JobAttemptTimeout:
		return c.AttemptTimeoutInterval
	case JobBudgetReset:
		return c.BudgetResetInterval
	case JobCancelReconciler:
		return c.CancelReconcilerInterval
	case JobDelayedPromoter:
		return c.DelayedPromoterInterval
	case JobDependencyReconciler:
		return c.DependencyReconcilerInterval
	case JobEdgeCancelDispatcher:
		return c.EdgeCancelDispatcherInterval
	case JobEdgeCancelReconciler:
		return c.EdgeCancelReconcilerInterval
	case JobExecutionDeadline:
		return c.ExecutionDeadlineInterval
	case JobLeaseExpiry:
		return c.LeaseExpiryInterval
	case JobPendingWaitpointExpiry:
		return c.PendingWaitpointExpiryInterval
	case JobQuotaReconciler:
		return c.QuotaReconcilerInterval
	case JobRetentionTrimmer:
		return c.RetentionTrimmerInterval
	case JobSuspensionTimeout:
		return c.SuspensionTimeoutInterval
	case JobUnblock:
		return c.UnblockInterval
	}
	return 0
}

// Filter selects executions by namespace and by the value of their
// "cairn.instance_id" tag. It is also the filter of the backend's event
// subscriptions (backend.ScannerFilter is an alias of this type).
// A row passes when every set dimension matches; a NULL column never
// matches a set dimension. The zero value matches everything.
type Filter struct {
	// InstanceTag, when non-nil, requires the row's instance tag to equal
	// InstanceTag.Value. Key is carried for the caller's benefit and is not
	// compared (rows only ever store "cairn.instance_id" values).
	InstanceTag *InstanceTag
	// Namespace, when non-empty, requires the row's namespace to equal it.
	Namespace string
}

// InstanceTag is one tag key/value pair used by Filter.
type InstanceTag struct {
	Key   string
	Value string
}

// TickResult reports one reconciler tick.
type TickResult struct {
	// Errors counts rows whose transaction failed (logged, tick continued).
	Errors int
	// Processed counts rows the tick changed.
	Processed int
}
