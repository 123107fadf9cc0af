package backend

import (
	"context"
	"time"
)

// EngineBackend is the engine contract implemented by SQLiteBackend.
//
// Every method that touches storage takes ctx first and runs as exactly one
// transaction; a ctx that ends before the transaction starts (or while the
// call waits for the writer) aborts it and returns ctx.Err(), and a write
// that has started runs to completion and reports its outcome. Methods that
// take a Handle first validate it — a foreign outer or embedded tag is
// ErrHandleFromOtherBackend, undecodable bytes are ErrCorruption, a missing
// attempt is NotFound(EntityAttempt) — and then, unless noted, the lease:
// ErrStaleLease when the lease was superseded (epoch or lease mismatch,
// revoked, reclaimed by another worker), ErrLeaseExpired when its expiry
// has passed, ErrExecutionNotActive when the execution is no longer
// running. Malformed ids are ErrInvalidInput. Storage faults are
// ErrTransport (busy/locked faults are retried internally first).
type EngineBackend interface {
	// ---- Worker hot path ----

	// Claim leases the best eligible execution of lane whose required
	// capabilities are covered by caps (priority desc, then created_at,
	// then id), creating or re-leasing its current attempt (HandleFresh).
	// A lease-expired execution of the lane is taken over as a reclaim
	// (new attempt, HandleReclaimed; past the reclaim cap it fails
	// terminally instead). Executions with a hard-breached budget (see
	// BudgetStatus) or a full quota are skipped and marked blocked
	// (public state rate_limited). Returns
	// (nil, nil) when nothing is claimable after waiting up to
	// policy.MaxWait.
	Claim(ctx context.Context, lane LaneID, caps CapabilitySet, policy ClaimPolicy) (*Handle, error)

	// Renew extends the lease to now + the handle's LeaseTTL; the epoch is
	// unchanged. Lease errors as above.
	Renew(ctx context.Context, h Handle) (LeaseRenewal, error)

	// Progress records a progress heartbeat: nil percent or message leaves
	// that value unchanged; both nil writes nothing. Values above 100 are
	// accepted. Not visible to stream readers.
	Progress(ctx context.Context, h Handle, percent *uint8, message *string) error

	// AppendFrame appends one frame to the stream of the handle's attempt
	// and returns its id (monotonic per attempt). Errors, in check order:
	// ErrStaleLease (superseded); ErrRetentionLimitExceeded (payload over
	// MaxFramePayloadBytes); ErrStreamClosed (attempt terminal or execution
	// not active); ErrStaleOwnerCannotAppend (lease expired or marked
	// reclaimable — the stream-specific form of ErrLeaseExpired);
	// ErrInvalidInput (summary patch not a JSON object).
	AppendFrame(ctx context.Context, h Handle, frame Frame) (AppendFrameOutcome, error)

	// Complete ends the execution successfully, storing payload as its
	// result (nil = no result, empty = empty result), and resolves
	// dependent flow edges in the same transaction. Repeating it with the
	// same handle after success returns nil without writing.
	Complete(ctx context.Context, h Handle, payload []byte) error

	// Fail records a failure. A retryable class (transient, infra_crash)
	// schedules a retry per the execution's RetryPolicy (new attempt index,
	// claimable at DelayUntil) until MaxRetries is used up; a terminal
	// class or exhausted retries fail the execution terminally. Repeating
	// it with the same handle returns the first outcome.
	Fail(ctx context.Context, h Handle, reason FailureReason, class FailureClass) (FailOutcome, error)

	// Cancel is the lease holder's cooperative cancel: the execution ends
	// cancelled with reason. An expired (but not superseded) lease may
	// still cancel. Repeating it returns nil.
	Cancel(ctx context.Context, h Handle, reason string) error

	// Delay releases the lease and parks the execution until delayUntil
	// (public state delayed); the next claim continues the same attempt
	// index. A past time makes it claimable at once.
	Delay(ctx context.Context, h Handle, delayUntil time.Time) error

	// WaitChildren releases the lease and makes the execution wait for its
	// children: the upstreams of its applied inbound flow edges. If its
	// inbound edge group is already satisfied under the group's policy
	// (all_of: every child succeeded), or it has no applied inbound edges,
	// it is claimable at once (public state waiting). Otherwise it is
	// blocked (eligibility blocked_by_dependencies, public state
	// waiting_children) until dependency resolution satisfies the group,
	// and claimable from then on (a group that becomes impossible skips it
	// instead). Either way the next claim continues the same attempt index.
	WaitChildren(ctx context.Context, h Handle) error

	// ---- Suspension and signals ----

	// Suspend releases the lease and suspends the execution until
	// args.ResumeCondition is satisfied by delivered signals (or the
	// timeout fires). It mints one HMAC token per waitpoint under the
	// active kid (none seeded is ErrInvalidInput). With a non-empty
	// IdempotencyKey a repeat returns the first outcome without any lease
	// check. Returns SuspendAlreadySatisfied (no state change, lease kept)
	// when the single UsePending binding's buffered signals already satisfy
	// the condition. UsePending errors: ErrWaitpointNotFound,
	// ErrWaitpointNotPending, ErrInvalidWaitpointForExecution,
	// ErrPendingWaitpointExpired.
	Suspend(ctx context.Context, h Handle, args SuspendArgs) (SuspendOutcome, error)

	// SuspendByTriple is Suspend for callers holding a LeaseFence instead
	// of a handle (see LeaseFence for the check); the returned Suspended
	// handle is synthesised from the fence. Unknown execution is
	// NotFound(EntityExecution).
	SuspendByTriple(ctx context.Context, executionID ExecutionID, fence LeaseFence, args SuspendArgs) (SuspendOutcome, error)

	// CreateWaitpoint creates a pending waitpoint (expiring after
	// expiresIn) that a later Suspend activates with UsePendingBinding;
	// signals delivered before that are buffered. Each call mints a new
	// waitpoint and token, whatever the key. It checks the handle's lease
	// like every other handle method (ErrStaleLease, ErrLeaseExpired). No
	// kid seeded is ErrInvalidInput.
	CreateWaitpoint(ctx context.Context, h Handle, key WaitpointKey, expiresIn time.Duration) (PendingWaitpoint, error)

	// ObserveSignals returns every signal recorded for the execution's
	// current or last suspension, satisfying or not (empty when never
	// suspended). Read-only; any handle of the execution works (no lease
	// check), including a Suspended or Resumed one.
	ObserveSignals(ctx context.Context, h Handle) ([]ResumeSignal, error)

	// DeliverSignal verifies the waitpoint token and records the signal;
	// when the suspension's resume condition becomes satisfied the
	// execution turns resumable and its waitpoints close (see
	// WaitpointClosed). A pending waitpoint buffers the signal for a later
	// Suspend. Checks, in order: NotFound(EntityWaitpoint); ErrInvalidInput
	// (waitpoint of another execution); the token (ErrInvalidKid,
	// ErrInvalidToken: see WaitpointToken); then, with a non-empty
	// IdempotencyKey, a repeat within DedupTTL returns
	// DeliverSignalDuplicate whatever happened since; ErrWaitpointClosed
	// (the waitpoint is closed, also when its execution is terminal);
	// ErrPendingWaitpointExpired (a pending waitpoint past its expiry,
	// marked expired or not); ErrTargetNotSignalable (terminal execution,
	// waitpoint still open); NotFound(EntitySuspension);
	// ErrSignalLimitExceeded.
	DeliverSignal(ctx context.Context, args DeliverSignalArgs) (DeliverSignalResult, error)

	// ClaimResumedExecution leases a resumable execution on the attempt it
	// suspended on (epoch + 1, HandleResumed). Not resumable is
	// ErrNotAResumedExecution; unknown is NotFound(EntityExecution).
	ClaimResumedExecution(ctx context.Context, args ClaimResumedExecutionArgs) (ClaimResumedExecutionResult, error)

	// ClaimFromResumeGrant re-leases the execution's latest attempt when
	// its lease is released or lapsed (epoch + 1, HandleResumed). Returns
	// (nil, nil) when the lease is still live or the execution is terminal.
	// No attempt at all is NotFound(EntityAttempt).
	ClaimFromResumeGrant(ctx context.Context, token ResumeToken) (*Handle, error)

	// ListPendingWaitpoints lists the execution's pending and active
	// waitpoints by waitpoint id (never the raw tokens); closed and expired
	// waitpoints are kept but not listed. Unknown execution is
	// NotFound(EntityExecution).
	ListPendingWaitpoints(ctx context.Context, args ListPendingWaitpointsArgs) (ListPendingWaitpointsResult, error)

	// SeedWaitpointHMACSecret installs the first signing key. Seeding an
	// existing kid returns SeedAlreadySeeded (never an error); a different
	// active kid, an empty kid or one containing ':', or a secret that is
	// not 64 hex digits is ErrInvalidInput.
	SeedWaitpointHMACSecret(ctx context.Context, args SeedWaitpointHMACSecretArgs) (SeedOutcome, error)

	// RotateWaitpointHMACSecretAll installs and activates a new signing
	// key. Per-partition outcomes (including ErrRotationConflict) are in
	// the result; the method's own error is for invalid input and storage
	// faults.
	RotateWaitpointHMACSecretAll(ctx context.Context, args RotateWaitpointHMACSecretAllArgs) (RotateWaitpointHMACSecretAllResult, error)

	// ---- Reclaim ----

	// IssueReclaimGrant admits an execution whose lease expired or was
	// revoked to the reclaim path (marking a lapsed lease expired first).
	// Not admitted is a NotReclaimable or ReclaimCapExceeded result, not an
	// error; unknown is NotFound(EntityExecution).
	IssueReclaimGrant(ctx context.Context, args IssueReclaimGrantArgs) (IssueReclaimGrantOutcome, error)

	// ReclaimExecution consumes the newest reclaim grant: the old attempt
	// ends interrupted_reclaimed and a new attempt is leased
	// (HandleReclaimed). Missing or expired grant is GrantNotFound; past
	// the cap the execution fails terminally (ReclaimCapExceeded). A grant
	// for another worker id is ErrInvalidInput.
	ReclaimExecution(ctx context.Context, args ReclaimExecutionArgs) (ReclaimExecutionOutcome, error)

	// ---- Execution reads ----

	// DescribeExecution returns the execution's snapshot, or (nil, nil)
	// when it does not exist.
	DescribeExecution(ctx context.Context, id ExecutionID) (*ExecutionSnapshot, error)

	// ReadExecutionContext returns input payload, kind and tags. Unknown
	// execution is ErrInvalidInput ("read_execution_context: execution not
	// found: <id>").
	ReadExecutionContext(ctx context.Context, id ExecutionID) (ExecutionContext, error)

	// ReadCurrentAttemptIndex returns the current (leased, or last) attempt
	// index; 0 before the first claim. Unknown is ErrInvalidInput.
	ReadCurrentAttemptIndex(ctx context.Context, id ExecutionID) (AttemptIndex, error)

	// ReadTotalAttemptCount returns how many attempts were ever created
	// (the next fresh attempt index). Unknown is ErrInvalidInput.
	ReadTotalAttemptCount(ctx context.Context, id ExecutionID) (AttemptIndex, error)

	// ReadExecutionState returns the public state, or (nil, nil) when the
	// execution does not exist.
	ReadExecutionState(ctx context.Context, id ExecutionID) (*PublicState, error)

	// ReadExecutionInfo returns the legacy full view, or (nil, nil) when
	// the execution does not exist.
	ReadExecutionInfo(ctx context.Context, id ExecutionID) (*ExecutionInfo, error)

	// GetExecutionResult returns the stored result payload; ok is false
	// when the execution does not exist or has no result.
	GetExecutionResult(ctx context.Context, id ExecutionID) (payload []byte, ok bool, err error)

	// ListExecutions lists execution ids of one partition in id order.
	ListExecutions(ctx context.Context, partition PartitionKey, cursor ExecutionID, limit int) (ListExecutionsPage, error)

	// ListLanes lists every lane an execution was ever created on.
	ListLanes(ctx context.Context, cursor LaneID, limit int) (ListLanesPage, error)

	// ListSuspended lists suspended executions of one partition ordered by
	// suspension time, then id.
	ListSuspended(ctx context.Context, partition PartitionKey, cursor ExecutionID, limit int) (ListSuspendedPage, error)

	// ---- Flows ----

	// CreateFlow creates an open flow (CreateFlowAlreadySatisfied if it
	// exists).
	CreateFlow(ctx context.Context, args CreateFlowArgs) (CreateFlowResult, error)

	// AddExecutionToFlow makes an existing execution a member (members
	// never leave). Errors are Validation errors (all match
	// ErrInvalidInput) with exact details: ErrFlowAlreadyTerminal
	// ("flow_already_terminal"), ErrExecutionAlreadyInFlow
	// ("already_member_of_different_flow:<flow uuid>"), and sub-kind
	// invalid_input for "flow_not_found", "execution_not_found" and a
	// partition mismatch.
	AddExecutionToFlow(ctx context.Context, args AddExecutionToFlowArgs) (AddExecutionToFlowResult, error)

	// StageDependencyEdge records upstream → downstream, guarded by the
	// flow's graph revision (ErrStaleGraphRevision). Validation errors
	// (all match ErrInvalidInput) with exact details:
	// ErrSelfReferencingEdge ("self_referencing_edge"),
	// ErrFlowAlreadyTerminal ("flow_already_terminal"),
	// ErrExecutionNotInFlow ("execution_not_in_flow"), and sub-kind
	// invalid_input for "flow_not_found" and a partition mismatch. Also
	// ErrCycleDetected and ErrDependencyAlreadyExists (Error.Existing holds
	// the stored edge).
	StageDependencyEdge(ctx context.Context, args StageDependencyEdgeArgs) (StageDependencyEdgeResult, error)

	// ApplyDependencyToChild activates a staged edge on its downstream:
	// the child is gated until its group resolves, and an already-terminal
	// upstream resolves the edge at once. Errors: ErrInvalidInput
	// ("edge_not_found", "edge_downstream_mismatch").
	ApplyDependencyToChild(ctx context.Context, args ApplyDependencyToChildArgs) (ApplyDependencyToChildResult, error)

	// SetEdgeGroupPolicy sets the inbound group policy of downstream; it
	// must precede the first staged edge into it (else ErrInvalidInput
	// "edge_group_policy_already_fixed: …"). Unknown flow is
	// NotFound(EntityFlow); quorum K of 0 is ErrInvalidInput.
	SetEdgeGroupPolicy(ctx context.Context, flowID FlowID, downstream ExecutionID, policy EdgeDependencyPolicy) (SetEdgeGroupPolicyResult, error)

	// DescribeFlow returns the flow's snapshot, or (nil, nil) when it does
	// not exist.
	DescribeFlow(ctx context.Context, id FlowID) (*FlowSnapshot, error)

	// DescribeEdge returns one edge of the flow, or (nil, nil) when the
	// flow has no such edge.
	DescribeEdge(ctx context.Context, flowID FlowID, edgeID EdgeID) (*EdgeSnapshot, error)

	// ListEdges returns the edges adjacent to one execution in edge-id
	// order (empty, not an error, for unknown flows or executions).
	ListEdges(ctx context.Context, flowID FlowID, direction EdgeDirection) ([]EdgeSnapshot, error)

	// ResolveExecutionFlowID returns the execution's flow, or (nil, nil)
	// when it does not exist or belongs to no flow.
	ResolveExecutionFlowID(ctx context.Context, id ExecutionID) (*FlowID, error)

	// ListFlows lists flows of one partition in flow-id order.
	ListFlows(ctx context.Context, partition PartitionKey, cursor FlowID, limit int) (ListFlowsPage, error)

	// CancelFlow cancels the flow and, per policy, its members, all in one
	// transaction (wait is accepted; every mode returns the completed
	// result). An unknown flow returns an empty Cancelled result.
	CancelFlow(ctx context.Context, id FlowID, policy CancelFlowPolicy, wait CancelFlowWait) (CancelFlowResult, error)

	// CancelFlowHeader flips the flow to cancelled, records the cancel
	// backlog and cancels in-flight members; an already-terminal flow
	// returns CancelFlowHeaderAlreadyTerminal without writing. Unknown flow
	// is NotFound(EntityFlow).
	CancelFlowHeader(ctx context.Context, args CancelFlowArgs) (CancelFlowHeader, error)

	// AckCancelMember removes one member from the flow's cancel backlog
	// (and the backlog when it empties). Idempotent.
	AckCancelMember(ctx context.Context, flowID FlowID, executionID ExecutionID) error

	// ---- Budgets and quotas ----

	// ReportUsage charges the handle's execution's usage (dims.Custom) to
	// budget after validating the handle and lease. A report that would
	// take a dimension above its hard limit applies nothing and returns
	// UsageHardBreach; one that reaches the limit is applied and leaves the
	// budget hard-breached (see BudgetStatus). An unknown budget has no
	// limits.
	ReportUsage(ctx context.Context, h Handle, budget BudgetID, dims UsageDimensions) (ReportUsageResult, error)

	// ReportUsageAdmin is ReportUsage without a lease (operator path).
	ReportUsageAdmin(ctx context.Context, budget BudgetID, args ReportUsageAdminArgs) (ReportUsageResult, error)

	// CreateBudget creates a budget (CreateBudgetAlreadySatisfied if it
	// exists; it is left untouched).
	CreateBudget(ctx context.Context, args CreateBudgetArgs) (CreateBudgetResult, error)

	// ResetBudget zeroes the budget's usage and schedules the next reset.
	// Unknown is NotFound(EntityBudget).
	ResetBudget(ctx context.Context, args ResetBudgetArgs) (ResetBudgetResult, error)

	// GetBudgetStatus returns the budget's limits, usage and counters.
	// Unknown is NotFound(EntityBudget).
	GetBudgetStatus(ctx context.Context, id BudgetID) (BudgetStatus, error)

	// CreateQuotaPolicy creates a quota policy
	// (CreateQuotaPolicyAlreadySatisfied if it exists).
	CreateQuotaPolicy(ctx context.Context, args CreateQuotaPolicyArgs) (CreateQuotaPolicyResult, error)

	// ---- Streams ----

	// ReadStream returns frames of one attempt with from <= id <= to
	// (inclusive), ascending, at most countLimit (1..StreamReadHardCap;
	// larger is clamped, < 1 is ErrInvalidInput). Unknown attempts give an
	// empty page.
	ReadStream(ctx context.Context, executionID ExecutionID, attemptIndex AttemptIndex, from, to StreamCursor, countLimit int) (StreamFrames, error)

	// TailStream returns frames after the exclusive cursor after (an entry
	// id; "start"/"end" are ErrInvalidInput), waiting up to block for the
	// first one (0 = don't wait). An empty result after the wait is not an
	// error.
	TailStream(ctx context.Context, executionID ExecutionID, attemptIndex AttemptIndex, after StreamCursor, block time.Duration, countLimit int, visibility TailVisibility) (StreamFrames, error)

	// ReadSummary returns the attempt's summary document, or (nil, nil)
	// when no summary frame was appended.
	ReadSummary(ctx context.Context, executionID ExecutionID, attemptIndex AttemptIndex) (*SummaryDocument, error)

	// ---- Ingress and operator ----

	// CreateExecution creates a claimable execution (or a delayed one, or
	// returns the existing one for a repeated id or idempotency key).
	// Invalid capability tokens are ErrInvalidCapabilities; invalid tag
	// keys are ErrInvalidInput.
	CreateExecution(ctx context.Context, args CreateExecutionArgs) (CreateExecutionResult, error)

	// CancelExecution is the operator cancel. Already cancelled returns the
	// result without writing; another terminal state is ErrInvalidInput; a
	// non-operator source with a live lease needs args.LeaseEpoch
	// (ErrInvalidInput if missing, ErrStaleLease if wrong).
	CancelExecution(ctx context.Context, args CancelExecutionArgs) (CancelExecutionResult, error)

	// RevokeLease revokes the live lease (epoch + 1); the execution is
	// immediately claimable again on the same attempt index. No matching
	// lease is a RevokeLeaseAlreadySatisfied result.
	RevokeLease(ctx context.Context, args RevokeLeaseArgs) (RevokeLeaseResult, error)

	// ChangePriority re-scores an execution that is neither active nor
	// terminal (submitted, runnable in any eligibility, suspended); claim
	// order reflects it at once. Active is ErrNotRunnable, terminal is
	// ErrTerminal, unknown is NotFound(EntityExecution).
	ChangePriority(ctx context.Context, args ChangePriorityArgs) (ChangePriorityResult, error)

	// ReplayExecution re-queues a terminal execution on its current attempt
	// index. Not terminal is ErrExecutionNotTerminal; past MaxReplayCount
	// is ErrMaxReplaysExhausted.
	ReplayExecution(ctx context.Context, args ReplayExecutionArgs) (ReplayExecutionResult, error)

	// ---- Scheduler primitives ----

	// ScanEligibleExecutions returns up to args.Limit claimable execution
	// ids of the lane and partition, in claim order.
	ScanEligibleExecutions(ctx context.Context, args ScanEligibleArgs) ([]ExecutionID, error)

	// IssueClaimGrant records a claim grant for one eligible execution.
	// Errors: NotFound(EntityExecution), ErrExecutionNotEligible,
	// ErrGrantAlreadyExists, ErrCapabilityMismatch.
	IssueClaimGrant(ctx context.Context, args IssueClaimGrantArgs) (IssueClaimGrantOutcome, error)

	// BlockRoute parks a submitted or runnable execution as blocked for
	// args.ReasonCode, which decides its eligibility state and so its
	// public state: rate_limited for budget and quota blocks, waiting for
	// route (capable worker), operator and policy blocks (see
	// BlockRouteArgs.ReasonCode). Logical rejections are a result.
	BlockRoute(ctx context.Context, args BlockRouteArgs) (BlockRouteOutcome, error)

	// ClaimExecution consumes a claim grant and leases the expected
	// attempt. Errors: NotFound(EntityExecution), ErrExecutionNotActive,
	// ErrLeaseConflict, ErrExecutionNotLeaseable, ErrActiveAttemptExists,
	// ErrInvalidClaimGrant, ErrClaimGrantExpired.
	ClaimExecution(ctx context.Context, args ClaimExecutionArgs) (ClaimExecutionResult, error)

	// ClaimForWorker is not supported by the SQLite backend: it always
	// returns ErrUnavailable (Op "claim_for_worker").
	ClaimForWorker(ctx context.Context, args ClaimForWorkerArgs) (ClaimForWorkerOutcome, error)

	// ---- Event subscriptions ----

	// SubscribeCompletion delivers completion events after cursor (empty =
	// from now) that pass filter. ctx bounds only this call; the
	// subscription lives until Close. A malformed cursor is
	// ErrInvalidInput.
	SubscribeCompletion(ctx context.Context, cursor EventCursor, filter ScannerFilter) (CompletionSubscription, error)

	// SubscribeLeaseHistory delivers lease-history events (see
	// SubscribeCompletion).
	SubscribeLeaseHistory(ctx context.Context, cursor EventCursor, filter ScannerFilter) (LeaseHistorySubscription, error)

	// SubscribeSignalDelivery delivers signal-delivery events (see
	// SubscribeCompletion).
	SubscribeSignalDelivery(ctx context.Context, cursor EventCursor, filter ScannerFilter) (SignalDeliverySubscription, error)

	// SubscribeInstanceTags is not supported: it always returns
	// ErrUnavailable (Op "subscribe_instance_tags").
	SubscribeInstanceTags(ctx context.Context, cursor EventCursor) (InstanceTagSubscription, error)

	// ---- Lifecycle and identity ----

	// Prepare runs one-time boot preparation; SQLite migrates in the
	// constructor, so it returns PrepareNoOp.
	Prepare(ctx context.Context) (PrepareOutcome, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error

	// ShutdownPrepare stops the scanner supervisor (if installed) and waits
	// up to grace for running ticks; it never returns an error and leaves
	// the backend usable. Repeat calls are no-ops.
	ShutdownPrepare(ctx context.Context, grace time.Duration) error

	// BackendLabel returns "sqlite".
	BackendLabel() string

	// Capabilities reports identity and supported features.
	Capabilities() Capabilities

	// AsAny returns the concrete backend (a *SQLiteBackend).
	AsAny() any
}
