package backend

import "time"

// UsageDimensions is a worker's usage report for ReportUsage.
type UsageDimensions struct {
	// Custom maps dimension name to delta; only these are applied (each
	// delta <= 2^63-1).
	Custom map[string]uint64
	// DedupKey, when non-empty, makes a repeat within 24 h replay the first
	// report's result without applying it again.
	DedupKey string
	// InputTokens, OutputTokens and Wall are reserved and ignored.
	InputTokens  uint64
	OutputTokens uint64
	Wall         time.Duration
}

// ReportUsageKind distinguishes usage-report results.
type ReportUsageKind string

// Usage-report result kinds.
const (
	// UsageAlreadyApplied: the dedup key is reserved but its first report
	// recorded no outcome.
	UsageAlreadyApplied ReportUsageKind = "already_applied"
	// UsageHardBreach: nothing was applied: for some dimension, usage plus
	// the reported delta would be above its hard limit. The budget's
	// on_hard_limit action, if any, is applied.
	UsageHardBreach ReportUsageKind = "hard_breach"
	UsageOK         ReportUsageKind = "ok"
	// UsageSoftBreach: applied; the first dimension (by name) past its soft
	// limit is reported.
	UsageSoftBreach ReportUsageKind = "soft_breach"
)

// ReportUsageResult is the outcome of ReportUsage and ReportUsageAdmin.
type ReportUsageResult struct {
	// CurrentUsage: soft_breach — the value after this report;
	// hard_breach — the value before it.
	CurrentUsage uint64
	Dimension    string // soft_breach, hard_breach
	Kind         ReportUsageKind
	// Limit is the soft limit (soft_breach) or hard limit (hard_breach).
	Limit uint64
}

// CreateBudgetArgs are the inputs of CreateBudget. Dimensions, HardLimits
// and SoftLimits are parallel (equal lengths, else ErrInvalidInput); a
// limit of 0 means "no limit"; a repeated dimension keeps the last value.
type CreateBudgetArgs struct {
	BudgetID        BudgetID
	Dimensions      []string
	EnforcementMode string
	HardLimits      []uint64
	Now             time.Time // zero = backend clock
	// OnHardLimit names the action taken on a hard breach ("" = none):
	// "fail" fails the reporting execution terminally, "cancel" cancels
	// it; any other value is stored and echoed and takes no action.
	OnHardLimit string
	OnSoftLimit string
	// ResetInterval: > 0 schedules periodic resets (whole ms); 0 = never.
	ResetInterval time.Duration
	ScopeID       string
	ScopeType     string
	SoftLimits    []uint64
}

// CreateBudgetKind distinguishes CreateBudget results.
type CreateBudgetKind string

// CreateBudget result kinds.
const (
	// CreateBudgetAlreadySatisfied: the budget exists (left untouched).
	CreateBudgetAlreadySatisfied CreateBudgetKind = "already_satisfied"
	CreateBudgetCreated          CreateBudgetKind = "created"
)

// CreateBudgetResult is the outcome of CreateBudget.
type CreateBudgetResult struct {
	BudgetID BudgetID
	Kind     CreateBudgetKind
}

// ResetBudgetArgs are the inputs of ResetBudget.
type ResetBudgetArgs struct {
	BudgetID BudgetID
	Now      time.Time // zero = backend clock
}

// ResetBudgetResult is the outcome of ResetBudget.
type ResetBudgetResult struct {
	// NextResetAt is the next scheduled reset (zero = none).
	NextResetAt time.Time
}

// CreateQuotaPolicyArgs are the inputs of CreateQuotaPolicy; 0 disables a
// limit.
type CreateQuotaPolicyArgs struct {
	MaxConcurrent        uint64
	MaxRequestsPerWindow uint64
	Now                  time.Time // zero = backend clock
	QuotaPolicyID        QuotaPolicyID
	// Window is the rate window (stored in whole seconds).
	Window time.Duration
}

// CreateQuotaPolicyKind distinguishes CreateQuotaPolicy results.
type CreateQuotaPolicyKind string

// CreateQuotaPolicy result kinds.
const (
	CreateQuotaPolicyAlreadySatisfied CreateQuotaPolicyKind = "already_satisfied"
	CreateQuotaPolicyCreated          CreateQuotaPolicyKind = "created"
)

// CreateQuotaPolicyResult is the outcome of CreateQuotaPolicy.
type CreateQuotaPolicyResult struct {
	Kind          CreateQuotaPolicyKind
	QuotaPolicyID QuotaPolicyID
}

// BudgetStatus is the operator view of one budget.
//
// A budget is hard-breached when, for some dimension, its current usage is
// greater than or equal to that dimension's hard limit (Usage[d] >=
// HardLimits[d]; a hard limit of 0 is no limit). Claim and ReportUsage
// use this one definition: Claim does not lease an execution whose policy
// names a hard-breached budget, and a ReportUsage that reaches a hard
// limit exactly is applied and leaves the budget hard-breached.
type BudgetStatus struct {
	BreachCount     uint64 // lifetime hard breaches
	BudgetID        BudgetID
	CreatedAt       time.Time
	EnforcementMode string
	HardLimits      map[string]uint64 // includes zero limits
	LastBreachAt    time.Time         // zero = none since the last reset
	LastBreachDim   string            // "" = none
	NextResetAt     time.Time         // zero = no schedule
	ScopeID         string
	ScopeType       string
	SoftBreachCount uint64 // lifetime soft breaches
	SoftLimits      map[string]uint64
	// Usage has one entry per dimension ever reported.
	Usage map[string]uint64
}

// ReportUsageAdminArgs are the inputs of ReportUsageAdmin. Dimensions and
// Deltas are parallel (else ErrInvalidInput); a repeated dimension keeps
// the last delta.
type ReportUsageAdminArgs struct {
	DedupKey   string
	Deltas     []uint64
	Dimensions []string
	Now        time.Time // ignored: the backend clock is authoritative
}
