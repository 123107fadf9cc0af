package backend

// ExecutionID identifies an execution. Its text form is "{fp:N}:<uuid>",
// where N is the partition index (0..65535) and uuid is any UUID. The value
// keeps the exact text it was parsed from (equality is string equality);
// ids the backend builds are always "{fp:N}:<lowercase hyphenated uuid>".
// The SQLite backend is single-partition: flows only accept N = 0, so mint
// ids with NewExecutionID.
type ExecutionID string

// NewExecutionID returns "{fp:0}:<random v4 uuid>".
func NewExecutionID() ExecutionID {
	panic("unimplemented")
}

// ParseExecutionID validates s and returns it unchanged as an ExecutionID.
// Errors (Validation/invalid_input) name the problem: missing "{fp:" prefix,
// missing "}:", partition index not in u16 range, or an invalid UUID.
func ParseExecutionID(s string) (ExecutionID, error) {
	panic("unimplemented")
}

// ExecutionIDForFlow mints "{fp:P}:<random v4>" where P is the flow's
// partition under cfg (CRC-16/XMODEM of the flow UUID's 16 bytes modulo
// NumFlowPartitions). Under SQLitePartitionConfig P is always 0.
func ExecutionIDForFlow(flow FlowID, cfg PartitionConfig) (ExecutionID, error) {
	panic("unimplemented")
}

// SoloExecutionID mints an id for an execution outside any flow:
// "{fp:P}:<random v4>" where P = CRC-16/XMODEM(UTF-8 lane bytes) modulo
// NumFlowPartitions. Under SQLitePartitionConfig P is always 0.
func SoloExecutionID(lane LaneID, cfg PartitionConfig) (ExecutionID, error) {
	panic("unimplemented")
}

// Partition returns N of "{fp:N}:…" (0 for an id that does not parse).
func (id ExecutionID) Partition() uint16 {
	panic("unimplemented")
}

// UUID returns the canonical lowercase UUID part ("" for an id that does
// not parse).
func (id ExecutionID) UUID() string {
	panic("unimplemented")
}

// String returns the id text.
func (id ExecutionID) String() string {
	panic("unimplemented")
}

// FlowID identifies a flow: a UUID in canonical lowercase hyphenated form.
type FlowID string

// NewFlowID returns a random (v4) FlowID.
func NewFlowID() FlowID {
	panic("unimplemented")
}

// ParseFlowID accepts any UUID text form (hyphenated, simple, braced,
// urn:uuid:, any case) and returns the canonical form.
func ParseFlowID(s string) (FlowID, error) {
	panic("unimplemented")
}

// String returns the id text.
func (id FlowID) String() string {
	panic("unimplemented")
}

// EdgeID identifies a dependency edge within a flow (UUID, canonical form).
type EdgeID string

// NewEdgeID returns a random (v4) EdgeID.
func NewEdgeID() EdgeID {
	panic("unimplemented")
}

// ParseEdgeID accepts any UUID text form and returns the canonical form.
func ParseEdgeID(s string) (EdgeID, error) {
	panic("unimplemented")
}

// String returns the id text.
func (id EdgeID) String() string {
	panic("unimplemented")
}

// BudgetID identifies a budget (UUID, canonical form).
type BudgetID string

// NewBudgetID returns a random (v4) BudgetID.
func NewBudgetID() BudgetID {
	panic("unimplemented")
}

// ParseBudgetID accepts any UUID text form and returns the canonical form.
func ParseBudgetID(s string) (BudgetID, error) {
	panic("unimplemented")
}

// String returns the id text.
func (id BudgetID) String() string {
	panic("unimplemented")
}

// QuotaPolicyID identifies a quota policy (UUID, canonical form).
type QuotaPolicyID string

// NewQuotaPolicyID returns a random (v4) QuotaPolicyID.
func NewQuotaPolicyID() QuotaPolicyID {
	panic("unimplemented")
}

// ParseQuotaPolicyID accepts any UUID text form and returns the canonical form.
func ParseQuotaPolicyID(s string) (QuotaPolicyID, error) {
	panic("unimplemented")
}

// String returns the id text.
func (id QuotaPolicyID) String() string {
	panic("unimplemented")
}

// WaitpointID identifies a waitpoint (UUID, canonical form).
type WaitpointID string

// NewWaitpointID returns a random (v4) WaitpointID.
func NewWaitpointID() WaitpointID {
	panic("unimplemented")
}

// ParseWaitpointID accepts any UUID text form and returns the canonical form.
func ParseWaitpointID(s string) (WaitpointID, error) {
	panic("unimplemented")
}

// String returns the id text.
func (id WaitpointID) String() string {
	panic("unimplemented")
}

// SignalID identifies a delivered signal (UUID, canonical form; minted by
// the caller of DeliverSignal).
type SignalID string

// NewSignalID returns a random (v4) SignalID.
func NewSignalID() SignalID {
	panic("unimplemented")
}

// ParseSignalID accepts any UUID text form and returns the canonical form.
func ParseSignalID(s string) (SignalID, error) {
	panic("unimplemented")
}

// String returns the id text.
func (id SignalID) String() string {
	panic("unimplemented")
}

// SuspensionID identifies one suspension of an execution (UUID, canonical
// form; minted by the caller of Suspend).
type SuspensionID string

// NewSuspensionID returns a random (v4) SuspensionID.
func NewSuspensionID() SuspensionID {
	panic("unimplemented")
}

// ParseSuspensionID accepts any UUID text form and returns the canonical form.
func ParseSuspensionID(s string) (SuspensionID, error) {
	panic("unimplemented")
}

// String returns the id text.
func (id SuspensionID) String() string {
	panic("unimplemented")
}

// AttemptID identifies one attempt (UUID, canonical form).
type AttemptID string

// NewAttemptID returns a random (v4) AttemptID.
func NewAttemptID() AttemptID {
	panic("unimplemented")
}

// ParseAttemptID accepts any UUID text form and returns the canonical form.
func ParseAttemptID(s string) (AttemptID, error) {
	panic("unimplemented")
}

// String returns the id text.
func (id AttemptID) String() string {
	panic("unimplemented")
}

// LeaseID identifies one lease acquisition (UUID, canonical form).
type LeaseID string

// NewLeaseID returns a random (v4) LeaseID.
func NewLeaseID() LeaseID {
	panic("unimplemented")
}

// ParseLeaseID accepts any UUID text form and returns the canonical form.
func ParseLeaseID(s string) (LeaseID, error) {
	panic("unimplemented")
}

// String returns the id text.
func (id LeaseID) String() string {
	panic("unimplemented")
}

// LaneID names a lane (the queue executions are claimed from). A valid lane
// is non-empty, at most 64 bytes, every byte in 0x20..0x7E. A conversion
// LaneID("x") is not validated; methods that take a lane validate it.
type LaneID string

// LaneIDMaxBytes is the longest valid lane name.
const LaneIDMaxBytes = 64

// ParseLaneID validates s. Errors (Validation/invalid_input) say "empty",
// "too long (N bytes)" or "non-printable byte at index I".
func ParseLaneID(s string) (LaneID, error) {
	panic("unimplemented")
}

// String returns the lane name.
func (id LaneID) String() string {
	panic("unimplemented")
}

// WorkerID names a worker (caller-chosen, not validated).
type WorkerID string

// String returns the id text.
func (id WorkerID) String() string {
	panic("unimplemented")
}

// WorkerInstanceID names one process of a worker (caller-chosen, not
// validated).
type WorkerInstanceID string

// String returns the id text.
func (id WorkerInstanceID) String() string {
	panic("unimplemented")
}

// Namespace is a tenancy label stored with executions and flows (not
// validated). DescribeFlow reports "default" for a flow stored without one.
type Namespace string

// String returns the namespace.
func (n Namespace) String() string {
	panic("unimplemented")
}

// WaitpointKey is the caller's opaque name for a waitpoint; resume
// conditions refer to waitpoints by key (not validated; "" is allowed).
type WaitpointKey string

// String returns the key.
func (k WaitpointKey) String() string {
	panic("unimplemented")
}

// AttemptIndex numbers the attempts of one execution, from 0.
type AttemptIndex uint32

// LeaseEpoch is the fencing token of an attempt's lease. It starts at 1 and
// increases on every new lease of the attempt and on every operation that
// must fence out the previous holder; 0 never names a lease.
type LeaseEpoch uint64

// WaitpointToken is the HMAC token that authorises signal delivery to a
// waitpoint: "<kid>:<64 lowercase hex digits>". String and GoString redact
// it ("<kid>:<REDACTED:len=N>", or "<REDACTED:malformed>"), so %v, %s and
// slog never print the secret part; use Raw at the wire boundary only.
//
// DeliverSignal verifies the token and reports exactly two errors: a kid
// the key store does not hold is ErrInvalidKid; every other failure is
// ErrInvalidToken — a malformed token (no "<kid>:<digest>" shape, Kid()
// returns ""), or, under a known kid, a digest that is not 64 lowercase
// hex digits, does not verify (compared in constant time), or is not the
// token minted for this waitpoint (for example one signed under another
// known kid).
type WaitpointToken string

// Raw returns the full token text.
func (t WaitpointToken) Raw() string {
	panic("unimplemented")
}

// Kid returns the key id before the first ':' ("" when malformed).
func (t WaitpointToken) Kid() string {
	panic("unimplemented")
}

// String returns the redacted form.
func (t WaitpointToken) String() string {
	panic("unimplemented")
}

// GoString returns the redacted form (for %#v).
func (t WaitpointToken) GoString() string {
	panic("unimplemented")
}

// PartitionFamily names a partition family.
type PartitionFamily string

// Partition families and their hash-tag prefixes: flow "fp" (also used by
// executions), budget "b", quota "q".
const (
	PartitionFamilyBudget PartitionFamily = "budget"
	PartitionFamilyFlow   PartitionFamily = "flow"
	PartitionFamilyQuota  PartitionFamily = "quota"
)

// Partition is a decoded partition key.
type Partition struct {
	Family PartitionFamily
	Index  uint16
}

// Key renders p as "{fp:N}", "{b:N}" or "{q:N}".
func (p Partition) Key() PartitionKey {
	panic("unimplemented")
}

// PartitionKey is the text form of a partition: "{fp:N}", "{b:N}" or
// "{q:N}" with N a u16.
type PartitionKey string

// DefaultPartitionKey is the only partition the SQLite backend writes flows,
// budgets, quotas and events to.
const DefaultPartitionKey PartitionKey = "{fp:0}"

// ParsePartitionKey validates s. Errors (Validation/invalid_input, detail
// "partition_key: …") report missing braces, a body that is not
// "<prefix>:<index>", an unknown prefix, or an index that is not a u16.
func ParsePartitionKey(s string) (PartitionKey, error) {
	panic("unimplemented")
}

// Partition decodes the key.
func (k PartitionKey) Partition() (Partition, error) {
	panic("unimplemented")
}

// String returns the key text.
func (k PartitionKey) String() string {
	panic("unimplemented")
}

// PartitionConfig is the deployment's partition counts (a count of 0 is a
// configuration error).
type PartitionConfig struct {
	NumBudgetPartitions uint16
	NumFlowPartitions   uint16
	NumQuotaPartitions  uint16
}

// Partition configurations: the shared default (256 flow, 32 budget,
// 32 quota) and the single-partition shape the SQLite backend stores
// (1/1/1).
var (
	DefaultPartitionConfig = PartitionConfig{NumBudgetPartitions: 32, NumFlowPartitions: 256, NumQuotaPartitions: 32}
	SQLitePartitionConfig  = PartitionConfig{NumBudgetPartitions: 1, NumFlowPartitions: 1, NumQuotaPartitions: 1}
)

// --- unexported helpers ---
