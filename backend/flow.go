package backend

import "time"

// CreateFlowArgs are the inputs of CreateFlow.
type CreateFlowArgs struct {
	FlowID    FlowID
	FlowKind  string // opaque label, may be empty
	Namespace Namespace
	Now       time.Time // zero = backend clock
}

// CreateFlowKind distinguishes CreateFlow results.
type CreateFlowKind string

// CreateFlow result kinds.
const (
	// CreateFlowAlreadySatisfied: a flow with this id exists (left untouched).
	CreateFlowAlreadySatisfied CreateFlowKind = "already_satisfied"
	CreateFlowCreated          CreateFlowKind = "created"
)

// CreateFlowResult is the outcome of CreateFlow.
type CreateFlowResult struct {
	FlowID FlowID
	Kind   CreateFlowKind
}

// AddExecutionToFlowArgs are the inputs of AddExecutionToFlow.
type AddExecutionToFlowArgs struct {
	ExecutionID ExecutionID // partition must be 0
	FlowID      FlowID
	Now         time.Time // zero = backend clock
}

// AddExecutionToFlowKind distinguishes AddExecutionToFlow results.
type AddExecutionToFlowKind string

// AddExecutionToFlow result kinds.
const (
	AddExecutionAdded         AddExecutionToFlowKind = "added"
	AddExecutionAlreadyMember AddExecutionToFlowKind = "already_member"
)

// AddExecutionToFlowResult is the outcome of AddExecutionToFlow.
type AddExecutionToFlowResult struct {
	ExecutionID ExecutionID
	Kind        AddExecutionToFlowKind
	// NodeCount is the flow's member count after the call.
	NodeCount uint32
}

// StageDependencyEdgeArgs are the inputs of StageDependencyEdge.
type StageDependencyEdgeArgs struct {
	// DataPassingRef, when non-empty, copies the upstream's result into the
	// downstream's input payload when the edge is satisfied.
	DataPassingRef string
	// DependencyKind ("" = "success_only"): success satisfies the edge,
	// any other outcome makes it impossible.
	DependencyKind        string
	DownstreamExecutionID ExecutionID
	EdgeID                EdgeID // caller-minted, unique within the flow
	// ExpectedGraphRevision must equal the flow's graph revision
	// (else ErrStaleGraphRevision; re-read it with DescribeFlow).
	ExpectedGraphRevision uint64
	FlowID                FlowID
	Now                   time.Time // zero = backend clock
	UpstreamExecutionID   ExecutionID
}

// StageDependencyEdgeResult is the outcome of StageDependencyEdge.
type StageDependencyEdgeResult struct {
	EdgeID           EdgeID
	NewGraphRevision uint64
}

// ApplyDependencyToChildArgs are the inputs of ApplyDependencyToChild.
// Only FlowID, EdgeID, DownstreamExecutionID and Now are used; the staged
// edge is authoritative for the rest.
type ApplyDependencyToChildArgs struct {
	DataPassingRef        string
	DependencyKind        string
	DownstreamExecutionID ExecutionID // must match the staged edge
	EdgeID                EdgeID
	FlowID                FlowID
	GraphRevision         uint64
	Now                   time.Time // zero = backend clock
	UpstreamExecutionID   ExecutionID
}

// ApplyDependencyKind distinguishes ApplyDependencyToChild results.
type ApplyDependencyKind string

// ApplyDependencyToChild result kinds.
const (
	ApplyDependencyAlreadyApplied ApplyDependencyKind = "already_applied"
	ApplyDependencyApplied        ApplyDependencyKind = "applied"
)

// ApplyDependencyToChildResult is the outcome of ApplyDependencyToChild.
type ApplyDependencyToChildResult struct {
	Kind ApplyDependencyKind
	// UnsatisfiedCount (applied) is the group's unresolved edge count.
	UnsatisfiedCount uint32
}

// EdgeDependencyPolicyKind distinguishes inbound edge-group policies.
type EdgeDependencyPolicyKind string

// Edge-group policy kinds. The zero value means EdgePolicyAllOf.
const (
	EdgePolicyAllOf  EdgeDependencyPolicyKind = "all_of"
	EdgePolicyAnyOf  EdgeDependencyPolicyKind = "any_of"
	EdgePolicyQuorum EdgeDependencyPolicyKind = "quorum"
)

// EdgeDependencyPolicy decides when a downstream execution's inbound
// edges (its group) are satisfied: all_of (every edge succeeds), any_of
// (one succeeds) or quorum (K succeed).
type EdgeDependencyPolicy struct {
	// K (quorum) is 1..2147483647.
	K    uint32
	Kind EdgeDependencyPolicyKind
	// OnSatisfied (any_of, quorum; "" = cancel_remaining) says what happens
	// to still-running upstreams once the group is decided.
	OnSatisfied OnSatisfied
}

// AllOfPolicy returns the all_of policy (the default).
func AllOfPolicy() EdgeDependencyPolicy {
	return EdgeDependencyPolicy{Kind: EdgePolicyAllOf}
}

// AnyOfPolicy returns an any_of policy.
func AnyOfPolicy(on OnSatisfied) EdgeDependencyPolicy {
	return EdgeDependencyPolicy{Kind: EdgePolicyAnyOf, OnSatisfied: on}
}

// QuorumPolicy returns a quorum policy.
func QuorumPolicy(k uint32, on OnSatisfied) EdgeDependencyPolicy {
	return EdgeDependencyPolicy{Kind: EdgePolicyQuorum, K: k, OnSatisfied: on}
}

// OnSatisfied says what happens to the remaining upstreams once an any_of
// or quorum group is decided.
type OnSatisfied string

// OnSatisfied values. The zero value means OnSatisfiedCancelRemaining.
const (
	OnSatisfiedCancelRemaining OnSatisfied = "cancel_remaining"
	OnSatisfiedLetRun          OnSatisfied = "let_run"
)

// SetEdgeGroupPolicyResult is the outcome of SetEdgeGroupPolicy.
type SetEdgeGroupPolicyResult string

// SetEdgeGroupPolicy results.
const (
	// EdgeGroupPolicyAlreadySet: the identical policy was already stored.
	EdgeGroupPolicyAlreadySet SetEdgeGroupPolicyResult = "already_set"
	EdgeGroupPolicySet        SetEdgeGroupPolicyResult = "set"
)

// EdgeGroupState is the one-shot state of an inbound edge group.
type EdgeGroupState string

// Edge-group states.
const (
	EdgeGroupCancelled  EdgeGroupState = "cancelled" // reserved, never written
	EdgeGroupImpossible EdgeGroupState = "impossible"
	EdgeGroupPending    EdgeGroupState = "pending"
	EdgeGroupSatisfied  EdgeGroupState = "satisfied"
)

// EdgeGroupSnapshot describes one downstream execution's inbound group.
type EdgeGroupSnapshot struct {
	DownstreamExecutionID ExecutionID
	FailedCount           uint32
	GroupState            EdgeGroupState
	Policy                EdgeDependencyPolicy
	RunningCount          uint32 // applied edges not yet resolved
	SatisfiedCount        uint32
	SkippedCount          uint32
	TotalDeps             uint32 // sum of the four counts
}

// FlowSnapshot is the read model of one flow (DescribeFlow).
type FlowSnapshot struct {
	CancelReason       string    // "" = none
	CancellationPolicy string    // "" = none
	CancelledAt        time.Time // zero = not cancelled
	CreatedAt          time.Time
	EdgeCount          uint32
	// EdgeGroups are ordered by downstream execution.
	EdgeGroups     []EdgeGroupSnapshot
	FlowID         FlowID
	FlowKind       string
	GraphRevision  uint64
	LastMutationAt time.Time
	Namespace      Namespace
	NodeCount      uint32
	// PublicFlowState is "open" or "cancelled" as written by this backend.
	PublicFlowState string
	// Tags are the flow's namespaced tags.
	Tags map[string]string
}

// EdgeSnapshot describes one dependency edge.
type EdgeSnapshot struct {
	CreatedAt             time.Time
	CreatedBy             string // "engine"
	DataPassingRef        string // "" = none
	DependencyKind        string // "success_only" by default
	DownstreamExecutionID ExecutionID
	EdgeID                EdgeID
	EdgeState             string // "pending" when staged, "applied" once applied
	FlowID                FlowID
	SatisfactionCondition string // "all_required"
	UpstreamExecutionID   ExecutionID
}

// EdgeDirectionKind distinguishes edge directions.
type EdgeDirectionKind string

// Edge directions.
const (
	EdgesIncoming EdgeDirectionKind = "incoming"
	EdgesOutgoing EdgeDirectionKind = "outgoing"
)

// EdgeDirection selects the edges adjacent to one execution: outgoing
// (Node is the upstream) or incoming (Node is the downstream).
type EdgeDirection struct {
	Kind EdgeDirectionKind
	Node ExecutionID
}

// OutgoingEdges selects edges whose upstream is from.
func OutgoingEdges(from ExecutionID) EdgeDirection {
	return EdgeDirection{Kind: EdgesOutgoing, Node: from}
}

// IncomingEdges selects edges whose downstream is to.
func IncomingEdges(to ExecutionID) EdgeDirection {
	return EdgeDirection{Kind: EdgesIncoming, Node: to}
}

// FlowStatus is the coarse status of a listed flow.
type FlowStatus string

// Flow statuses (open/running/blocked list as active).
const (
	FlowActive    FlowStatus = "active"
	FlowCancelled FlowStatus = "cancelled"
	FlowCompleted FlowStatus = "completed"
	FlowFailed    FlowStatus = "failed"
	FlowUnknown   FlowStatus = "unknown"
)

// FlowSummary is one row of ListFlows.
type FlowSummary struct {
	CreatedAt time.Time
	FlowID    FlowID
	Status    FlowStatus
}

// ListFlowsPage lists flows of one partition by flow id.
type ListFlowsPage = Page[FlowSummary, FlowID]

// CancelFlowPolicy says which members CancelFlow cancels.
type CancelFlowPolicy string

// Cancel-flow policies. Unknown values are treated as CancelFlowOnly.
const (
	// CancelFlowAll cancels every non-terminal member, active and
	// suspended ones included.
	CancelFlowAll CancelFlowPolicy = "cancel_all"
	// CancelFlowOnly flips the flow only.
	CancelFlowOnly CancelFlowPolicy = "cancel_flow_only"
	// CancelFlowPending cancels members that are not yet running; active
	// and suspended members drain.
	CancelFlowPending CancelFlowPolicy = "cancel_pending"
)

// CancelFlowWaitKind distinguishes wait modes.
type CancelFlowWaitKind string

// Wait modes. The zero value means CancelFlowNoWait.
const (
	CancelFlowNoWait         CancelFlowWaitKind = "no_wait"
	CancelFlowWaitIndefinite CancelFlowWaitKind = "wait_indefinite"
	CancelFlowWaitTimeout    CancelFlowWaitKind = "wait_timeout"
)

// CancelFlowWait says how long CancelFlow waits for member cancellation.
// The SQLite backend cancels members synchronously, so every mode returns
// the same, already-complete result.
type CancelFlowWait struct {
	Kind    CancelFlowWaitKind
	Timeout time.Duration // wait_timeout
}

// NoWait returns the no_wait mode.
func NoWait() CancelFlowWait {
	return CancelFlowWait{Kind: CancelFlowNoWait}
}

// WaitTimeout returns the wait_timeout mode.
func WaitTimeout(d time.Duration) CancelFlowWait {
	return CancelFlowWait{Kind: CancelFlowWaitTimeout, Timeout: d}
}

// WaitIndefinite returns the wait_indefinite mode.
func WaitIndefinite() CancelFlowWait {
	return CancelFlowWait{Kind: CancelFlowWaitIndefinite}
}

// CancelFlowResultKind distinguishes CancelFlow results.
type CancelFlowResultKind string

// CancelFlow result kinds; the SQLite backend only returns
// CancelFlowCancelled (the others belong to asynchronous dispatch).
const (
	CancelFlowCancelled             CancelFlowResultKind = "cancelled"
	CancelFlowCancellationScheduled CancelFlowResultKind = "cancellation_scheduled"
	CancelFlowPartiallyCancelled    CancelFlowResultKind = "partially_cancelled"
)

// CancelFlowResult is the outcome of CancelFlow.
type CancelFlowResult struct {
	// CancellationPolicy is the policy's wire string.
	CancellationPolicy       string
	FailedMemberExecutionIDs []ExecutionID // partially_cancelled
	Kind                     CancelFlowResultKind
	MemberCount              uint32 // cancellation_scheduled
	// MemberExecutionIDs are the members this call cancelled, ascending.
	MemberExecutionIDs []ExecutionID
}

// CancelFlowArgs are the inputs of CancelFlowHeader.
type CancelFlowArgs struct {
	// CancellationPolicy is free text, recorded verbatim.
	CancellationPolicy string
	FlowID             FlowID
	Now                time.Time // zero = backend clock
	Reason             string
}

// CancelFlowHeaderKind distinguishes CancelFlowHeader results.
type CancelFlowHeaderKind string

// CancelFlowHeader result kinds.
const (
	CancelFlowHeaderAlreadyTerminal CancelFlowHeaderKind = "already_terminal"
	CancelFlowHeaderCancelled       CancelFlowHeaderKind = "cancelled"
)

// CancelFlowHeader is the outcome of the CancelFlowHeader method.
type CancelFlowHeader struct {
	CancellationPolicy string // cancelled: args.CancellationPolicy
	Kind               CancelFlowHeaderKind
	// MemberExecutionIDs: cancelled — the in-flight members flipped now;
	// already_terminal — the flow's cancel backlog (or, if empty, all
	// members).
	MemberExecutionIDs       []ExecutionID
	StoredCancelReason       string // already_terminal ("" = none)
	StoredCancellationPolicy string // already_terminal ("" = none)
}
