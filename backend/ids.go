package backend

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// ExecutionID identifies an execution. Its text form is "{fp:N}:<uuid>",
// where N is the partition index (0..65535) and uuid is any UUID. The value
// keeps the exact text it was parsed from (equality is string equality);
// ids the backend builds are always "{fp:N}:<lowercase hyphenated uuid>".
// The SQLite backend is single-partition: flows only accept N = 0, so mint
// ids with NewExecutionID.
type ExecutionID string

// NewExecutionID returns "{fp:0}:<random v4 uuid>".
func NewExecutionID() ExecutionID {
	return executionIDWith(0, uuid.New())
}

// ParseExecutionID validates s and returns it unchanged as an ExecutionID.
// Errors (Validation/invalid_input) name the problem: missing "{fp:" prefix,
// missing "}:", partition index not in u16 range, or an invalid UUID.
func ParseExecutionID(s string) (ExecutionID, error) {
	if _, _, err := splitExecutionID(s); err != nil {
		return "", err
	}
	return ExecutionID(s), nil
}

// ExecutionIDForFlow mints "{fp:P}:<random v4>" where P is the flow's
// partition under cfg (CRC-16/XMODEM of the flow UUID's 16 bytes modulo
// NumFlowPartitions). Under SQLitePartitionConfig P is always 0.
func ExecutionIDForFlow(flow FlowID, cfg PartitionConfig) (ExecutionID, error) {
	u, err := parseUUID(string(flow))
	if err != nil {
		return "", errInvalidInput("flow_id is not a valid UUID: %q", string(flow))
	}
	if cfg.NumFlowPartitions == 0 {
		return "", errInvalidInput("partition config: num_flow_partitions must be > 0")
	}
	return executionIDWith(crc16XMODEM(u[:])%cfg.NumFlowPartitions, uuid.New()), nil
}

// SoloExecutionID mints an id for an execution outside any flow:
// "{fp:P}:<random v4>" where P = CRC-16/XMODEM(UTF-8 lane bytes) modulo
// NumFlowPartitions. Under SQLitePartitionConfig P is always 0.
func SoloExecutionID(lane LaneID, cfg PartitionConfig) (ExecutionID, error) {
	if _, err := ParseLaneID(string(lane)); err != nil {
		return "", err
	}
	if cfg.NumFlowPartitions == 0 {
		return "", errInvalidInput("partition config: num_flow_partitions must be > 0")
	}
	return executionIDWith(crc16XMODEM([]byte(lane))%cfg.NumFlowPartitions, uuid.New()), nil
}

// Partition returns N of "{fp:N}:…" (0 for an id that does not parse).
func (id ExecutionID) Partition() uint16 {
	p, _, err := splitExecutionID(string(id))
	if err != nil {
		return 0
	}
	return p
}

// UUID returns the canonical lowercase UUID part ("" for an id that does
// not parse).
func (id ExecutionID) UUID() string {
	_, u, err := splitExecutionID(string(id))
	if err != nil {
		return ""
	}
	return u.String()
}

// String returns the id text.
func (id ExecutionID) String() string {
	return string(id)
}

// FlowID identifies a flow: a UUID in canonical lowercase hyphenated form.
type FlowID string

// NewFlowID returns a random (v4) FlowID.
func NewFlowID() FlowID {
	return FlowID(uuid.NewString())
}

// ParseFlowID accepts any UUID text form (hyphenated, simple, braced,
// urn:uuid:, any case) and returns the canonical form.
func ParseFlowID(s string) (FlowID, error) {
	return parseUUIDID[FlowID]("flow_id", s)
}

// String returns the id text.
func (id FlowID) String() string {
	return string(id)
}

// EdgeID identifies a dependency edge within a flow (UUID, canonical form).
type EdgeID string

// NewEdgeID returns a random (v4) EdgeID.
func NewEdgeID() EdgeID {
	return EdgeID(uuid.NewString())
}

// ParseEdgeID accepts any UUID text form and returns the canonical form.
func ParseEdgeID(s string) (EdgeID, error) {
	return parseUUIDID[EdgeID]("edge_id", s)
}

// String returns the id text.
func (id EdgeID) String() string {
	return string(id)
}

// BudgetID identifies a budget (UUID, canonical form).
type BudgetID string

// NewBudgetID returns a random (v4) BudgetID.
func NewBudgetID() BudgetID {
	return BudgetID(uuid.NewString())
}

// ParseBudgetID accepts any UUID text form and returns the canonical form.
func ParseBudgetID(s string) (BudgetID, error) {
	return parseUUIDID[BudgetID]("budget_id", s)
}

// String returns the id text.
func (id BudgetID) String() string {
	return string(id)
}

// QuotaPolicyID identifies a quota policy (UUID, canonical form).
type QuotaPolicyID string

// NewQuotaPolicyID returns a random (v4) QuotaPolicyID.
func NewQuotaPolicyID() QuotaPolicyID {
	return QuotaPolicyID(uuid.NewString())
}

// ParseQuotaPolicyID accepts any UUID text form and returns the canonical form.
func ParseQuotaPolicyID(s string) (QuotaPolicyID, error) {
	return parseUUIDID[QuotaPolicyID]("quota_policy_id", s)
}

// String returns the id text.
func (id QuotaPolicyID) String() string {
	return string(id)
}

// WaitpointID identifies a waitpoint (UUID, canonical form).
type WaitpointID string

// NewWaitpointID returns a random (v4) WaitpointID.
func NewWaitpointID() WaitpointID {
	return WaitpointID(uuid.NewString())
}

// ParseWaitpointID accepts any UUID text form and returns the canonical form.
func ParseWaitpointID(s string) (WaitpointID, error) {
	return parseUUIDID[WaitpointID]("waitpoint_id", s)
}

// String returns the id text.
func (id WaitpointID) String() string {
	return string(id)
}

// SignalID identifies a delivered signal (UUID, canonical form; minted by
// the caller of DeliverSignal).
type SignalID string

// NewSignalID returns a random (v4) SignalID.
func NewSignalID() SignalID {
	return SignalID(uuid.NewString())
}

// ParseSignalID accepts any UUID text form and returns the canonical form.
func ParseSignalID(s string) (SignalID, error) {
	return parseUUIDID[SignalID]("signal_id", s)
}

// String returns the id text.
func (id SignalID) String() string {
	return string(id)
}

// SuspensionID identifies one suspension of an execution (UUID, canonical
// form; minted by the caller of Suspend).
type SuspensionID string

// NewSuspensionID returns a random (v4) SuspensionID.
func NewSuspensionID() SuspensionID {
	return SuspensionID(uuid.NewString())
}

// ParseSuspensionID accepts any UUID text form and returns the canonical form.
func ParseSuspensionID(s string) (SuspensionID, error) {
	return parseUUIDID[SuspensionID]("suspension_id", s)
}

// String returns the id text.
func (id SuspensionID) String() string {
	return string(id)
}

// AttemptID identifies one attempt (UUID, canonical form).
type AttemptID string

// NewAttemptID returns a random (v4) AttemptID.
func NewAttemptID() AttemptID {
	return AttemptID(uuid.NewString())
}

// ParseAttemptID accepts any UUID text form and returns the canonical form.
func ParseAttemptID(s string) (AttemptID, error) {
	return parseUUIDID[AttemptID]("attempt_id", s)
}

// String returns the id text.
func (id AttemptID) String() string {
	return string(id)
}

// LeaseID identifies one lease acquisition (UUID, canonical form).
type LeaseID string

// NewLeaseID returns a random (v4) LeaseID.
func NewLeaseID() LeaseID {
	return LeaseID(uuid.NewString())
}

// ParseLeaseID accepts any UUID text form and returns the canonical form.
func ParseLeaseID(s string) (LeaseID, error) {
	return parseUUIDID[LeaseID]("lease_id", s)
}

// String returns the id text.
func (id LeaseID) String() string {
	return string(id)
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
	// Rules of spec 01 §2.4 (original: ff-core types.rs LaneId::try_new).
	if s == "" {
		return "", errInvalidInput("lane_id: empty")
	}
	if len(s) > LaneIDMaxBytes {
		return "", errInvalidInput("lane_id: too long (%d bytes)", len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return "", errInvalidInput("lane_id: non-printable byte at index %d", i)
		}
	}
	return LaneID(s), nil
}

// String returns the lane name.
func (id LaneID) String() string {
	return string(id)
}

// WorkerID names a worker (caller-chosen, not validated).
type WorkerID string

// String returns the id text.
func (id WorkerID) String() string {
	return string(id)
}

// WorkerInstanceID names one process of a worker (caller-chosen, not
// validated).
type WorkerInstanceID string

// String returns the id text.
func (id WorkerInstanceID) String() string {
	return string(id)
}

// Namespace is a tenancy label stored with executions and flows (not
// validated). DescribeFlow reports "default" for a flow stored without one.
type Namespace string

// String returns the namespace.
func (n Namespace) String() string {
	return string(n)
}

// WaitpointKey is the caller's opaque name for a waitpoint; resume
// conditions refer to waitpoints by key (not validated; "" is allowed).
type WaitpointKey string

// String returns the key.
func (k WaitpointKey) String() string {
	return string(k)
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
	return string(t)
}

// Kid returns the key id before the first ':' ("" when malformed).
func (t WaitpointToken) Kid() string {
	kid, _, ok := t.split()
	if !ok {
		return ""
	}
	return kid
}

// String returns the redacted form.
func (t WaitpointToken) String() string {
	kid, digest, ok := t.split()
	if !ok {
		return "<REDACTED:malformed>"
	}
	return kid + ":<REDACTED:len=" + strconv.Itoa(len(digest)) + ">"
}

// GoString returns the redacted form (for %#v).
func (t WaitpointToken) GoString() string {
	return t.String()
}

// LogValue returns the redacted form for log/slog: without it slog's JSON
// handler would marshal the raw string and leak the digest.
func (t WaitpointToken) LogValue() slog.Value {
	return slog.StringValue(t.String())
}

// split returns the kid and digest of a well-formed token: text before
// and after the first ':', both non-empty (the original's redaction rule).
func (t WaitpointToken) split() (kid, digest string, ok bool) {
	kid, digest, found := strings.Cut(string(t), ":")
	if !found || kid == "" || digest == "" {
		return "", "", false
	}
	return kid, digest, true
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
	return PartitionKey("{" + p.Family.prefix() + ":" + strconv.FormatUint(uint64(p.Index), 10) + "}")
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
// It returns the canonical form ("{fp:007}" → "{fp:7}") so keys compare
// as strings.
func ParsePartitionKey(s string) (PartitionKey, error) {
	p, err := PartitionKey(s).Partition()
	if err != nil {
		return "", err
	}
	return p.Key(), nil
}

// Partition decodes the key.
func (k PartitionKey) Partition() (Partition, error) {
	// Checks and messages of spec 01 §2.5 (original: ff-core partition.rs
	// PartitionKeyParseError).
	s := string(k)
	inner, ok := strings.CutPrefix(s, "{")
	if ok {
		inner, ok = strings.CutSuffix(inner, "}")
	}
	if !ok {
		return Partition{}, errInvalidInput("partition_key: partition key must be wrapped in '{...}': %q", s)
	}
	prefix, index, ok := strings.Cut(inner, ":")
	if !ok {
		return Partition{}, errInvalidInput("partition_key: partition key body must be '<prefix>:<index>': %q", s)
	}
	var family PartitionFamily
	switch prefix {
	case "fp":
		family = PartitionFamilyFlow
	case "b":
		family = PartitionFamilyBudget
	case "q":
		family = PartitionFamilyQuota
	default:
		return Partition{}, errInvalidInput("partition_key: unknown partition family prefix '%s' (expected 'fp', 'b', 'q')", prefix)
	}
	n, ok := parseU16(index)
	if !ok {
		return Partition{}, errInvalidInput("partition_key: partition index '%s' is not a valid u16", index)
	}
	return Partition{Family: family, Index: n}, nil
}

// String returns the key text.
func (k PartitionKey) String() string {
	return string(k)
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

// prefix returns the family's hash-tag prefix; the execution family is an
// alias of flow and has no constant of its own.
func (f PartitionFamily) prefix() string {
	switch f {
	case PartitionFamilyFlow:
		return "fp"
	case PartitionFamilyBudget:
		return "b"
	case PartitionFamilyQuota:
		return "q"
	}
	return string(f)
}

// crc16XMODEM is CRC-16/XMODEM (poly 0x1021, init 0, no reflection, no
// xorout): the Valkey cluster-slot CRC the original partitions with, so
// ids minted here land in the same partitions as the original's.
func crc16XMODEM(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// parseU16 parses a decimal u16 with the leniency of Rust's
// str::parse::<u16>, which the original's id grammar uses: one optional
// leading '+', leading zeros allowed, no sign '-', no spaces.
func parseU16(s string) (uint16, bool) {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return 0, false
	}
	var n uint32
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint32(c-'0')
		if n > math.MaxUint16 {
			return 0, false
		}
	}
	return uint16(n), true
}

// errBadUUIDBraces: google/uuid treats any 38-byte string as "{…}" without
// looking at the first and last bytes.
var errBadUUIDBraces = errors.New("invalid UUID format: 38-byte form must be wrapped in '{' '}'")

// parseUUID accepts the usual UUID spellings (hyphenated, 32 hex digits,
// braced, urn:uuid:), any case.
func parseUUID(s string) (uuid.UUID, error) {
	if len(s) == 38 && (s[0] != '{' || s[37] != '}') {
		return uuid.Nil, errBadUUIDBraces
	}
	return uuid.Parse(s)
}

// parseUUIDID parses a UUID-backed id into its canonical lowercase
// hyphenated form; field names the argument in the error detail.
func parseUUIDID[T ~string](field, s string) (T, error) {
	u, err := parseUUID(s)
	if err != nil {
		return "", errInvalidInput("%s is not a valid UUID: %q", field, s)
	}
	return T(u.String()), nil
}

// splitExecutionID checks the "{fp:N}:<uuid>" grammar (spec 01 §2.2) and
// returns its parts; the details are the spec's.
func splitExecutionID(s string) (uint16, uuid.UUID, error) {
	rest, ok := strings.CutPrefix(s, "{fp:")
	if !ok {
		return 0, uuid.Nil, errInvalidInput("execution_id missing `{fp:` prefix: %s", s)
	}
	part, uuidText, ok := strings.Cut(rest, "}:")
	if !ok {
		return 0, uuid.Nil, errInvalidInput("execution_id missing `}:`: %s", s)
	}
	n, ok := parseU16(part)
	if !ok {
		return 0, uuid.Nil, errInvalidInput("execution_id partition index not in u16 range: %s", s)
	}
	u, err := parseUUID(uuidText)
	if err != nil {
		return 0, uuid.Nil, errInvalidInput("execution_id UUID invalid: %s", s)
	}
	return n, u, nil
}

// executionIDWith renders the canonical id text.
func executionIDWith(partition uint16, u uuid.UUID) ExecutionID {
	return ExecutionID(fmt.Sprintf("{fp:%d}:%s", partition, u))
}
