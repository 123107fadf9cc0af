package backend

// Capabilities is a backend's identity plus the features it can serve.
type Capabilities struct {
	Identity BackendIdentity
	Supports Supports
}

// BackendIdentity names the backend family and version.
type BackendIdentity struct {
	// Family is "sqlite" for SQLiteBackend.
	Family string
	// RFC017Stage is "Phase-4" for SQLiteBackend.
	RFC017Stage string
	Version     Version
}

// Version is a semantic version.
type Version struct {
	Major uint32
	Minor uint32
	Patch uint32
}

// BackendVersion is the version SQLiteBackend reports.
var BackendVersion = Version{Major: 0, Minor: 13, Patch: 0}

// Supports has one flag per optional method or feature; the zero value
// supports nothing. Fields follow the original capability surface's order.
// SQLiteBackend reports every flag true except ClaimForWorker and
// SubscribeInstanceTags.
type Supports struct {
	CancelExecution              bool
	ChangePriority               bool
	ReplayExecution              bool
	RevokeLease                  bool
	ReadExecutionState           bool
	ReadExecutionInfo            bool
	GetExecutionResult           bool
	BudgetAdmin                  bool
	QuotaAdmin                   bool
	RotateWaitpointHMACSecretAll bool
	SeedWaitpointHMACSecret      bool
	ListPendingWaitpoints        bool
	CancelFlowHeader             bool
	CancelFlowWaitTimeout        bool
	CancelFlowWaitIndefinite     bool
	AckCancelMember              bool
	ClaimForWorker               bool
	IssueReclaimGrant            bool
	Prepare                      bool
	SubscribeLeaseHistory        bool
	SubscribeCompletion          bool
	SubscribeSignalDelivery      bool
	SubscribeInstanceTags        bool
	StreamDurableSummary         bool
	StreamBestEffortLive         bool
}

// PrepareOutcomeKind distinguishes Prepare results.
type PrepareOutcomeKind string

// Prepare result kinds.
const (
	PrepareApplied PrepareOutcomeKind = "applied"
	PrepareNoOp    PrepareOutcomeKind = "no_op"
)

// PrepareOutcome is the outcome of Prepare.
type PrepareOutcome struct {
	Description string // applied
	Kind        PrepareOutcomeKind
}
