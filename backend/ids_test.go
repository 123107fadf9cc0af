package backend

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
)

const (
	testUUID      = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	testUUIDUpper = "6BA7B810-9DAD-11D1-80B4-00C04FD430C8"
	testUUIDPlain = "6ba7b8109dad11d180b400c04fd430c8"
)

// wantInvalidInput fails unless err is a Validation/invalid_input error
// with exactly the given detail.
func wantInvalidInput(t *testing.T, err error, detail string) {
	t.Helper()
	wantValidation(t, err, SubKindInvalidInput, detail)
}

// wantValidation fails unless err is a Validation error with the sub-kind
// and exact detail.
func wantValidation(t *testing.T, err error, sub SubKind, detail string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want validation %s %q", sub, detail)
	}
	if !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("errors.Is(%v, ErrInvalidInput) = false", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("errors.As(%v, *Error) = false", err)
	}
	if diff := cmp.Diff(struct {
		SubKind SubKind
		Detail  string
	}{sub, detail}, struct {
		SubKind SubKind
		Detail  string
	}{e.SubKind, e.Detail}); diff != "" {
		t.Fatalf("error mismatch (-want +got):\n%s", diff)
	}
}

func TestCRC16XMODEM(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   []byte
		want uint16
	}{
		{"CheckValue", []byte("123456789"), 0x31c3}, // the catalogued check value
		{"Empty", nil, 0},
		{"Lane", []byte("default"), 0xd656},
		{"UUIDBytes", mustUUID(t, testUUID), 0xf34d},
		{"AllOnes", bytes.Repeat([]byte{0xff}, 16), 0x0041},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := crc16XMODEM(tt.in); got != tt.want {
				t.Fatalf("crc16XMODEM = %#04x, want %#04x", got, tt.want)
			}
		})
	}
}

func mustUUID(t *testing.T, s string) []byte {
	t.Helper()
	u, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u[:]
}

func TestParseExecutionID(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name          string
		in            string
		wantPartition uint16
		wantUUID      string
	}{
		{"Canonical", "{fp:0}:" + testUUID, 0, testUUID},
		{"MaxPartition", "{fp:65535}:" + testUUID, 65535, testUUID},
		{"LeadingZeros", "{fp:007}:" + testUUID, 7, testUUID},
		{"LeadingPlus", "{fp:+7}:" + testUUID, 7, testUUID},
		{"UpperUUID", "{fp:3}:" + testUUIDUpper, 3, testUUID},
		{"SimpleUUID", "{fp:3}:" + testUUIDPlain, 3, testUUID},
		{"BracedUUID", "{fp:3}:{" + testUUID + "}", 3, testUUID},
		{"URNUUID", "{fp:3}:urn:uuid:" + testUUID, 3, testUUID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := ParseExecutionID(tt.in)
			if err != nil {
				t.Fatalf("ParseExecutionID(%q): %v", tt.in, err)
			}
			// The id keeps the exact input text.
			got := struct {
				ID        ExecutionID
				Partition uint16
				UUID      string
			}{id, id.Partition(), id.UUID()}
			want := struct {
				ID        ExecutionID
				Partition uint16
				UUID      string
			}{ExecutionID(tt.in), tt.wantPartition, tt.wantUUID}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseExecutionIDRejects(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		in     string
		detail string
	}{
		{"ErrEmpty", "", "execution_id missing `{fp:` prefix: "},
		{"ErrBareUUID", testUUID, "execution_id missing `{fp:` prefix: " + testUUID},
		{"ErrUpperTag", "{FP:0}:" + testUUID, "execution_id missing `{fp:` prefix: {FP:0}:" + testUUID},
		{"ErrOtherFamily", "{b:0}:" + testUUID, "execution_id missing `{fp:` prefix: {b:0}:" + testUUID},
		{"ErrNoCloser", "{fp:0}", "execution_id missing `}:`: {fp:0}"},
		{"ErrNoColonAfterBrace", "{fp:0}" + testUUID, "execution_id missing `}:`: {fp:0}" + testUUID},
		{"ErrEmptyPartition", "{fp:}:" + testUUID, "execution_id partition index not in u16 range: {fp:}:" + testUUID},
		{"ErrPartitionOverflow", "{fp:65536}:" + testUUID, "execution_id partition index not in u16 range: {fp:65536}:" + testUUID},
		{"ErrNegativePartition", "{fp:-1}:" + testUUID, "execution_id partition index not in u16 range: {fp:-1}:" + testUUID},
		{"ErrBarePlus", "{fp:+}:" + testUUID, "execution_id partition index not in u16 range: {fp:+}:" + testUUID},
		{"ErrDoublePlus", "{fp:++1}:" + testUUID, "execution_id partition index not in u16 range: {fp:++1}:" + testUUID},
		{"ErrSpacePartition", "{fp: 1}:" + testUUID, "execution_id partition index not in u16 range: {fp: 1}:" + testUUID},
		{"ErrHexPartition", "{fp:0x1}:" + testUUID, "execution_id partition index not in u16 range: {fp:0x1}:" + testUUID},
		{"ErrEmptyUUID", "{fp:0}:", "execution_id UUID invalid: {fp:0}:"},
		{"ErrBadUUID", "{fp:0}:not-a-uuid", "execution_id UUID invalid: {fp:0}:not-a-uuid"},
		{"ErrUUIDBadHex", "{fp:0}:6ba7b810-9dad-11d1-80b4-00c04fd430cg", "execution_id UUID invalid: {fp:0}:6ba7b810-9dad-11d1-80b4-00c04fd430cg"},
		{"ErrUUIDTrailing", "{fp:0}:" + testUUID + "x", "execution_id UUID invalid: {fp:0}:" + testUUID + "x"},
		{"ErrUUIDFakeBraces", "{fp:0}:x" + testUUID + "y", "execution_id UUID invalid: {fp:0}:x" + testUUID + "y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := ParseExecutionID(tt.in)
			if id != "" {
				t.Errorf("id = %q, want empty", id)
			}
			wantInvalidInput(t, err, tt.detail)
			// The accessors are total: malformed ids read as zero values.
			if p, u := ExecutionID(tt.in).Partition(), ExecutionID(tt.in).UUID(); p != 0 || u != "" {
				t.Errorf("Partition, UUID = %d, %q, want 0, \"\"", p, u)
			}
		})
	}
}

func TestMintExecutionID(t *testing.T) {
	t.Parallel()

	flow := FlowID(testUUID)
	tests := []struct {
		name          string
		mint          func() (ExecutionID, error)
		wantPartition uint16
	}{
		{"New", func() (ExecutionID, error) { return NewExecutionID(), nil }, 0},
		{"ForFlowSQLite", func() (ExecutionID, error) { return ExecutionIDForFlow(flow, SQLitePartitionConfig) }, 0},
		// crc16(0xf34d) % 256 = 77, computed independently.
		{"ForFlowDefault", func() (ExecutionID, error) { return ExecutionIDForFlow(flow, DefaultPartitionConfig) }, 77},
		{"ForFlowUpperCase", func() (ExecutionID, error) { return ExecutionIDForFlow(FlowID(testUUIDUpper), DefaultPartitionConfig) }, 77},
		{"ForFlowSmallConfig", func() (ExecutionID, error) {
			return ExecutionIDForFlow(flow, PartitionConfig{NumFlowPartitions: 32, NumBudgetPartitions: 1, NumQuotaPartitions: 1})
		}, 13},
		{"SoloSQLite", func() (ExecutionID, error) { return SoloExecutionID("default", SQLitePartitionConfig) }, 0},
		// crc16("default") = 0xd656 → 86.
		{"SoloDefault", func() (ExecutionID, error) { return SoloExecutionID("default", DefaultPartitionConfig) }, 86},
		{"SoloEmails", func() (ExecutionID, error) { return SoloExecutionID("emails", DefaultPartitionConfig) }, 144},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := tt.mint()
			if err != nil {
				t.Fatal(err)
			}
			wantPrefix := fmt.Sprintf("{fp:%d}:", tt.wantPartition)
			if !strings.HasPrefix(string(id), wantPrefix) {
				t.Fatalf("id = %q, want prefix %q", id, wantPrefix)
			}
			if _, err := ParseExecutionID(string(id)); err != nil {
				t.Fatalf("minted id does not parse: %v", err)
			}
			u := uuid.MustParse(id.UUID())
			if u.Version() != 4 || u.String() != strings.TrimPrefix(string(id), wantPrefix) {
				t.Fatalf("uuid part %q: version %d, want canonical v4", id.UUID(), u.Version())
			}
		})
	}
	if a, b := NewExecutionID(), NewExecutionID(); a == b {
		t.Fatalf("two NewExecutionID calls returned %q", a)
	}
}

func TestMintExecutionIDRejects(t *testing.T) {
	t.Parallel()

	zero := PartitionConfig{NumBudgetPartitions: 1, NumQuotaPartitions: 1}
	tests := []struct {
		name   string
		mint   func() (ExecutionID, error)
		detail string
	}{
		{"ErrForFlowZeroPartitions", func() (ExecutionID, error) { return ExecutionIDForFlow(FlowID(testUUID), zero) }, "partition config: num_flow_partitions must be > 0"},
		{"ErrForFlowBadFlow", func() (ExecutionID, error) { return ExecutionIDForFlow("nope", DefaultPartitionConfig) }, `flow_id is not a valid UUID: "nope"`},
		{"ErrSoloZeroPartitions", func() (ExecutionID, error) { return SoloExecutionID("default", zero) }, "partition config: num_flow_partitions must be > 0"},
		{"ErrSoloBadLane", func() (ExecutionID, error) { return SoloExecutionID("", DefaultPartitionConfig) }, "lane_id: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := tt.mint()
			if id != "" {
				t.Errorf("id = %q, want empty", id)
			}
			wantInvalidInput(t, err, tt.detail)
		})
	}
}

func TestUUIDIDs(t *testing.T) {
	t.Parallel()

	// Each UUID-backed type, through its own New/Parse pair.
	type pair struct {
		name  string
		field string
		newf  func() string
		parse func(string) (string, error)
	}
	pairs := []pair{
		{"Flow", "flow_id", func() string { return NewFlowID().String() }, func(s string) (string, error) { id, err := ParseFlowID(s); return string(id), err }},
		{"Edge", "edge_id", func() string { return NewEdgeID().String() }, func(s string) (string, error) { id, err := ParseEdgeID(s); return string(id), err }},
		{"Budget", "budget_id", func() string { return NewBudgetID().String() }, func(s string) (string, error) { id, err := ParseBudgetID(s); return string(id), err }},
		{"QuotaPolicy", "quota_policy_id", func() string { return NewQuotaPolicyID().String() }, func(s string) (string, error) { id, err := ParseQuotaPolicyID(s); return string(id), err }},
		{"Waitpoint", "waitpoint_id", func() string { return NewWaitpointID().String() }, func(s string) (string, error) { id, err := ParseWaitpointID(s); return string(id), err }},
		{"Signal", "signal_id", func() string { return NewSignalID().String() }, func(s string) (string, error) { id, err := ParseSignalID(s); return string(id), err }},
		{"Suspension", "suspension_id", func() string { return NewSuspensionID().String() }, func(s string) (string, error) { id, err := ParseSuspensionID(s); return string(id), err }},
		{"Attempt", "attempt_id", func() string { return NewAttemptID().String() }, func(s string) (string, error) { id, err := ParseAttemptID(s); return string(id), err }},
		{"Lease", "lease_id", func() string { return NewLeaseID().String() }, func(s string) (string, error) { id, err := ParseLeaseID(s); return string(id), err }},
	}
	accepted := []string{
		testUUID,
		testUUIDUpper,
		testUUIDPlain,
		strings.ToUpper(testUUIDPlain),
		"{" + testUUID + "}",
		"urn:uuid:" + testUUID,
		"URN:UUID:" + testUUIDUpper,
	}
	rejected := []string{
		"",
		"nope",
		"{fp:0}:" + testUUID,
		testUUID[:35],
		testUUID + "0",
		"x" + testUUID + "y", // 38 bytes but not braced
		"{" + testUUID,
		strings.ReplaceAll(testUUID, "-", "_"),
		"6ba7b810-9dad-11d1-80b4-00c04fd430cz",
	}
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			a, b := p.newf(), p.newf()
			if a == b {
				t.Fatalf("New returned %q twice", a)
			}
			if u := uuid.MustParse(a); u.Version() != 4 || u.String() != a {
				t.Fatalf("New = %q, want canonical v4", a)
			}
			for _, in := range accepted {
				got, err := p.parse(in)
				if err != nil || got != testUUID {
					t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, testUUID)
				}
			}
			for _, in := range rejected {
				got, err := p.parse(in)
				if got != "" {
					t.Errorf("Parse(%q) = %q, want empty", in, got)
				}
				wantInvalidInput(t, err, fmt.Sprintf("%s is not a valid UUID: %q", p.field, in))
			}
		})
	}
}

func TestParseLaneID(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		in     string
		detail string // "" = valid
	}{
		{"Simple", "default", ""},
		{"PrintableEdges", " ~", ""},
		{"MaxLength", strings.Repeat("a", LaneIDMaxBytes), ""},
		{"ErrEmpty", "", "lane_id: empty"},
		{"ErrTooLong", strings.Repeat("a", LaneIDMaxBytes+1), "lane_id: too long (65 bytes)"},
		{"ErrTooLongBeforePrintable", strings.Repeat("\n", 70), "lane_id: too long (70 bytes)"},
		{"ErrNewline", "bad\nlane", "lane_id: non-printable byte at index 3"},
		{"ErrLeadingTab", "\tlane", "lane_id: non-printable byte at index 0"},
		{"ErrDEL", "la\x7fne", "lane_id: non-printable byte at index 2"},
		{"ErrNUL", "lane\x00x", "lane_id: non-printable byte at index 4"},
		{"ErrNonASCII", "lan\u00e9", "lane_id: non-printable byte at index 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseLaneID(tt.in)
			if tt.detail == "" {
				if err != nil || got != LaneID(tt.in) {
					t.Fatalf("ParseLaneID(%q) = %q, %v", tt.in, got, err)
				}
				return
			}
			if got != "" {
				t.Errorf("lane = %q, want empty", got)
			}
			wantInvalidInput(t, err, tt.detail)
		})
	}
}

func TestPartitionKey(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		in      string
		want    Partition
		wantKey PartitionKey
	}{
		{"Flow", "{fp:0}", Partition{PartitionFamilyFlow, 0}, "{fp:0}"},
		{"Budget", "{b:31}", Partition{PartitionFamilyBudget, 31}, "{b:31}"},
		{"Quota", "{q:65535}", Partition{PartitionFamilyQuota, 65535}, "{q:65535}"},
		{"LeadingZeros", "{fp:007}", Partition{PartitionFamilyFlow, 7}, "{fp:7}"},
		{"LeadingPlus", "{b:+3}", Partition{PartitionFamilyBudget, 3}, "{b:3}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := PartitionKey(tt.in).Partition()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, p); diff != "" {
				t.Fatalf("Partition (-want +got):\n%s", diff)
			}
			k, err := ParsePartitionKey(tt.in)
			if err != nil || k != tt.wantKey || p.Key() != tt.wantKey || k.String() != string(tt.wantKey) {
				t.Fatalf("ParsePartitionKey = %q, %v; Key() = %q; want %q", k, err, p.Key(), tt.wantKey)
			}
		})
	}
	if DefaultPartitionKey != (Partition{PartitionFamilyFlow, 0}).Key() {
		t.Fatalf("DefaultPartitionKey = %q", DefaultPartitionKey)
	}
}

func TestPartitionKeyRejects(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		in     string
		detail string
	}{
		{"ErrEmpty", "", `partition_key: partition key must be wrapped in '{...}': ""`},
		{"ErrNoBraces", "fp:0", `partition_key: partition key must be wrapped in '{...}': "fp:0"`},
		{"ErrNoCloser", "{fp:0", `partition_key: partition key must be wrapped in '{...}': "{fp:0"`},
		{"ErrNoOpener", "fp:0}", `partition_key: partition key must be wrapped in '{...}': "fp:0}"`},
		{"ErrLoneBrace", "{", `partition_key: partition key must be wrapped in '{...}': "{"`},
		{"ErrEmptyBody", "{}", `partition_key: partition key body must be '<prefix>:<index>': "{}"`},
		{"ErrNoColon", "{fp0}", `partition_key: partition key body must be '<prefix>:<index>': "{fp0}"`},
		{"ErrUnknownPrefix", "{x:1}", "partition_key: unknown partition family prefix 'x' (expected 'fp', 'b', 'q')"},
		{"ErrEmptyPrefix", "{:1}", "partition_key: unknown partition family prefix '' (expected 'fp', 'b', 'q')"},
		{"ErrUpperPrefix", "{FP:1}", "partition_key: unknown partition family prefix 'FP' (expected 'fp', 'b', 'q')"},
		{"ErrIndexOverflow", "{fp:65536}", "partition_key: partition index '65536' is not a valid u16"},
		{"ErrNegativeIndex", "{q:-1}", "partition_key: partition index '-1' is not a valid u16"},
		{"ErrEmptyIndex", "{fp:}", "partition_key: partition index '' is not a valid u16"},
		{"ErrExtraColon", "{fp:1:2}", "partition_key: partition index '1:2' is not a valid u16"},
		{"ErrTrailingBrace", "{fp:1}}", "partition_key: partition index '1}' is not a valid u16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := ParsePartitionKey(tt.in)
			if k != "" {
				t.Errorf("key = %q, want empty", k)
			}
			wantInvalidInput(t, err, tt.detail)
			_, err = PartitionKey(tt.in).Partition()
			wantInvalidInput(t, err, tt.detail)
		})
	}
}

func TestWaitpointTokenRedaction(t *testing.T) {
	t.Parallel()

	digest := strings.Repeat("ab", 32)
	tok := WaitpointToken("k1:" + digest)
	if tok.Raw() != "k1:"+digest || tok.Kid() != "k1" {
		t.Fatalf("Raw, Kid = %q, %q", tok.Raw(), tok.Kid())
	}
	const want = "k1:<REDACTED:len=64>"

	var jsonLog, textLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("m", "token", tok)
	slog.New(slog.NewTextHandler(&textLog, nil)).Info("m", "token", tok)
	renderings := map[string]string{
		"String":      tok.String(),
		"GoString":    tok.GoString(),
		"%v":          fmt.Sprintf("%v", tok),
		"%s":          fmt.Sprintf("%s", tok),
		"%q":          fmt.Sprintf("%q", tok),
		"%#v":         fmt.Sprintf("%#v", tok),
		"%+v struct":  fmt.Sprintf("%+v", PendingWaitpoint{HMACToken: tok}),
		"%v pointer":  fmt.Sprintf("%v", &tok),
		"slog JSON":   jsonLog.String(),
		"slog text":   textLog.String(),
		"error wraps": fmt.Errorf("deliver %v: %w", tok, ErrInvalidToken).Error(),
	}
	for name, got := range renderings {
		if strings.Contains(got, digest) || strings.Contains(got, "abab") {
			t.Errorf("%s leaks the digest: %s", name, got)
		}
		if !strings.Contains(got, want) {
			t.Errorf("%s = %s, want it to contain %q", name, got, want)
		}
	}
	// The wire form (JSON) carries the raw token on purpose.
	raw, err := json.Marshal(tok)
	if err != nil || string(raw) != `"k1:`+digest+`"` {
		t.Fatalf("json.Marshal = %s, %v", raw, err)
	}
}

func TestWaitpointTokenShapes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		in      WaitpointToken
		wantKid string
		wantStr string
	}{
		{"WellFormed", "kid:0123", "kid", "kid:<REDACTED:len=4>"},
		{"FirstColonSplits", "k:a:b", "k", "k:<REDACTED:len=3>"},
		{"MalformedEmpty", "", "", "<REDACTED:malformed>"},
		{"MalformedNoColon", "deadbeef", "", "<REDACTED:malformed>"},
		{"MalformedEmptyKid", ":deadbeef", "", "<REDACTED:malformed>"},
		{"MalformedEmptyDigest", "kid:", "", "<REDACTED:malformed>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := [3]string{tt.in.Kid(), tt.in.String(), tt.in.GoString()}
			want := [3]string{tt.wantKid, tt.wantStr, tt.wantStr}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("Kid, String, GoString (-want +got):\n%s", diff)
			}
			if tt.in.Raw() != string(tt.in) {
				t.Fatalf("Raw = %q", tt.in.Raw())
			}
		})
	}
}

func TestStringIDs(t *testing.T) {
	t.Parallel()

	got := []string{
		ExecutionID("{fp:0}:x").String(), FlowID("f").String(), EdgeID("e").String(),
		BudgetID("b").String(), QuotaPolicyID("q").String(), WaitpointID("w").String(),
		SignalID("s").String(), SuspensionID("su").String(), AttemptID("a").String(),
		LeaseID("l").String(), LaneID("lane").String(), WorkerID("wk").String(),
		WorkerInstanceID("wi").String(), Namespace("ns").String(), WaitpointKey("wpk").String(),
		PartitionKey("{b:1}").String(),
	}
	want := []string{"{fp:0}:x", "f", "e", "b", "q", "w", "s", "su", "a", "l", "lane", "wk", "wi", "ns", "wpk", "{b:1}"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
