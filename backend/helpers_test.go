package backend

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPtr(t *testing.T) {
	t.Parallel()

	v := uint32(0)
	p := Ptr(v)
	if p == nil || *p != 0 || p == &v {
		t.Fatalf("Ptr = %v", p)
	}
	if s := Ptr("x"); *s != "x" {
		t.Fatalf("Ptr(\"x\") = %q", *s)
	}
}

func TestInputConstructors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		got  any
		want any
	}{
		{"FixedBackoff", FixedBackoff(5 * time.Second), Backoff{Kind: BackoffFixed, Delay: 5 * time.Second}},
		{"ExponentialBackoff", ExponentialBackoff(time.Second, time.Minute, 3), Backoff{Kind: BackoffExponential, InitialDelay: time.Second, MaxDelay: time.Minute, Multiplier: 3}},
		{"FreshBindingWithKey", FreshBindingWithKey("k").Kind, BindingFresh},
		{"UsePendingBinding", UsePendingBinding(PendingWaitpoint{WaitpointID: "w1", HMACToken: "k:ab"}), WaitpointBinding{Kind: BindingUsePending, WaitpointID: "w1"}},
		{"SingleCondition", SingleCondition("a", ByName("go")), ResumeCondition{Kind: ConditionSingle, WaitpointKey: "a", Matcher: SignalMatcher{Kind: MatchByName, Name: "go"}}},
		{"AllOfCondition", AllOfCondition(OperatorOnlyCondition(), TimeoutOnlyCondition()), ResumeCondition{Kind: ConditionAllOf, Members: []ResumeCondition{{Kind: ConditionOperatorOnly}, {Kind: ConditionTimeoutOnly}}}},
		{"AllOfWaitpoints", AllOfWaitpoints("a", "b"), ResumeCondition{Kind: ConditionAllOf, Members: []ResumeCondition{
			{Kind: ConditionSingle, WaitpointKey: "a", Matcher: SignalMatcher{Kind: MatchWildcard}},
			{Kind: ConditionSingle, WaitpointKey: "b", Matcher: SignalMatcher{Kind: MatchWildcard}},
		}}},
		{"AllOfWaitpointsNone", AllOfWaitpoints(), ResumeCondition{Kind: ConditionAllOf, Members: []ResumeCondition{}}},
		{"CountCondition", CountCondition(2, CountDistinctSources, Wildcard(), "a", "b"), ResumeCondition{Kind: ConditionCount, N: 2, CountKind: CountDistinctSources, Matcher: SignalMatcher{Kind: MatchWildcard}, Waitpoints: []WaitpointKey{"a", "b"}}},
		{"OperatorOnly", OperatorOnlyCondition(), ResumeCondition{Kind: ConditionOperatorOnly}},
		{"TimeoutOnly", TimeoutOnlyCondition(), ResumeCondition{Kind: ConditionTimeoutOnly}},
		{"ByName", ByName("approve"), SignalMatcher{Kind: MatchByName, Name: "approve"}},
		{"Wildcard", Wildcard(), SignalMatcher{Kind: MatchWildcard}},
		{"NormalResumePolicy", NormalResumePolicy(), ResumePolicy{CloseWaitpointOnResume: true, ConsumeMatchedSignals: true, ResumeTarget: ResumeTargetRunnable}},
		{"AllOfPolicy", AllOfPolicy(), EdgeDependencyPolicy{Kind: EdgePolicyAllOf}},
		{"AnyOfPolicy", AnyOfPolicy(OnSatisfiedCancelRemaining), EdgeDependencyPolicy{Kind: EdgePolicyAnyOf, OnSatisfied: OnSatisfiedCancelRemaining}},
		{"QuorumPolicy", QuorumPolicy(3, ""), EdgeDependencyPolicy{Kind: EdgePolicyQuorum, K: 3}},
		{"OutgoingEdges", OutgoingEdges("{fp:0}:x"), EdgeDirection{Kind: EdgesOutgoing, Node: "{fp:0}:x"}},
		{"IncomingEdges", IncomingEdges("{fp:0}:y"), EdgeDirection{Kind: EdgesIncoming, Node: "{fp:0}:y"}},
		{"NoWait", NoWait(), CancelFlowWait{Kind: CancelFlowNoWait}},
		{"WaitTimeout", WaitTimeout(3 * time.Second), CancelFlowWait{Kind: CancelFlowWaitTimeout, Timeout: 3 * time.Second}},
		{"WaitIndefinite", WaitIndefinite(), CancelFlowWait{Kind: CancelFlowWaitIndefinite}},
		{"DurableMode", DurableMode(), StreamMode{Kind: StreamDurable}},
		{"SummaryMode", SummaryMode(), StreamMode{Kind: StreamSummary, PatchKind: PatchJSONMerge}},
		{"BestEffortMode", BestEffortMode(BestEffortLiveConfig{TTL: time.Second, MaxlenFloor: 8}), StreamMode{Kind: StreamBestEffort, BestEffort: BestEffortLiveConfig{TTL: time.Second, MaxlenFloor: 8}}},
		{"StreamAt", StreamAt("12-3"), StreamCursor("12-3")},
		{"StreamCursorString", StreamAt("7").String(), "7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestFreshBinding(t *testing.T) {
	t.Parallel()

	a, b := FreshBinding(), FreshBinding()
	if a.Kind != BindingFresh || a.WaitpointID == b.WaitpointID {
		t.Fatalf("FreshBinding = %+v, %+v", a, b)
	}
	if _, err := ParseWaitpointID(string(a.WaitpointID)); err != nil {
		t.Fatalf("id %q: %v", a.WaitpointID, err)
	}
	if want := WaitpointKey("wpk:" + string(a.WaitpointID)); a.WaitpointKey != want {
		t.Fatalf("key = %q, want %q", a.WaitpointKey, want)
	}
	k := FreshBindingWithKey("mine")
	if k.WaitpointKey != "mine" || k.WaitpointID == "" || k.WaitpointID == a.WaitpointID {
		t.Fatalf("FreshBindingWithKey = %+v", k)
	}
}

func TestConditionConstructorsCopy(t *testing.T) {
	t.Parallel()

	keys := []WaitpointKey{"a", "b"}
	c := CountCondition(1, CountDistinctSignals, Wildcard(), keys...)
	members := []ResumeCondition{SingleCondition("a", Wildcard())}
	all := AllOfCondition(members...)
	keys[0], members[0].WaitpointKey = "mutated", "mutated"
	if c.Waitpoints[0] != "a" || all.Members[0].WaitpointKey != "a" {
		t.Fatal("constructors alias the caller's slice")
	}
}

func TestParseStreamCursor(t *testing.T) {
	t.Parallel()

	valid := []struct {
		in   string
		want streamPosition
	}{
		{"start", streamPosition{Marker: StreamStart}},
		{"end", streamPosition{Marker: StreamEnd}},
		{"0", streamPosition{}},
		{"0-0", streamPosition{}},
		{"1700000000000", streamPosition{MS: 1700000000000}},
		{"1700000000000-12", streamPosition{MS: 1700000000000, Seq: 12}},
		{"007-009", streamPosition{MS: 7, Seq: 9}},
		{"9223372036854775807-9223372036854775807", streamPosition{MS: 1<<63 - 1, Seq: 1<<63 - 1}},
	}
	for _, tt := range valid {
		c, err := ParseStreamCursor(tt.in)
		if err != nil || c != StreamCursor(tt.in) {
			t.Errorf("ParseStreamCursor(%q) = %q, %v", tt.in, c, err)
		}
		pos, err := parseStreamPosition(StreamCursor(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, pos); diff != "" {
			t.Errorf("parseStreamPosition(%q) (-want +got):\n%s", tt.in, diff)
		}
	}

	invalid := []string{
		"", "-", "+", "+1", "-1", "1-", "-1-2", "1-2-3", "1--2", "a", "1a", "1-a",
		"START", "End", " 1", "1 ", "1.5", "０", // full-width digit
		"9223372036854775808", "1-9223372036854775808", "99999999999999999999",
	}
	for _, in := range invalid {
		c, err := ParseStreamCursor(in)
		if c != "" {
			t.Errorf("ParseStreamCursor(%q) = %q, want empty", in, c)
		}
		if err == nil {
			t.Errorf("ParseStreamCursor(%q): want error", in)
			continue
		}
		wantInvalidInput(t, err, `bad stream cursor: "`+in+`"`)
	}
	if StreamFromBeginning != "0-0" {
		t.Fatalf("StreamFromBeginning = %q", StreamFromBeginning)
	}
}

func TestEventCursor(t *testing.T) {
	t.Parallel()

	c := NewEventCursor(1)
	if want := []byte{0x02, 0, 0, 0, 0, 0, 0, 0, 0x01}; !bytes.Equal(c, want) {
		t.Fatalf("NewEventCursor(1) = %x, want %x", []byte(c), want)
	}
	if got := NewEventCursor(0x0102030405060708).String(); got != "020102030405060708" {
		t.Fatalf("String = %q", got)
	}
	if (EventCursor(nil)).String() != "" || !EventCursor(nil).IsZero() || !(EventCursor{}).IsZero() || c.IsZero() {
		t.Fatal("IsZero/String of the empty cursor")
	}

	for _, id := range []int64{0, 1, 255, 256, 1 << 40, 1<<63 - 1} {
		got, ok, err := NewEventCursor(id).EventID()
		if err != nil || !ok || got != id {
			t.Errorf("round trip %d: %d, %v, %v", id, got, ok, err)
		}
	}
	// Byte order follows event order for positive ids.
	ids := []int64{1, 2, 255, 256, 65536, 1 << 40}
	for i := 1; i < len(ids); i++ {
		if bytes.Compare(NewEventCursor(ids[i-1]), NewEventCursor(ids[i])) >= 0 {
			t.Errorf("cursor(%d) !< cursor(%d)", ids[i-1], ids[i])
		}
	}

	id, ok, err := EventCursor(nil).EventID()
	if id != 0 || ok || err != nil {
		t.Fatalf("empty cursor: %d, %v, %v", id, ok, err)
	}

	valkey := append([]byte{0x01}, make([]byte, 16)...)
	bad := map[string]EventCursor{
		"ShortCursor":  {0x02, 0x01},
		"LongCursor":   append(NewEventCursor(1), 0),
		"WrongPrefix":  {0x01, 0, 0, 0, 0, 0, 0, 0, 1},
		"ValkeyCursor": valkey,
		"PrefixOnly":   {0x02},
	}
	for name, c := range bad {
		id, ok, err := c.EventID()
		if id != 0 || ok || !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: %d, %v, %v; want ErrInvalidInput", name, id, ok, err)
		}
		if err != nil && !strings.HasPrefix(errorDetail(err), "invalid event_id cursor: ") {
			t.Errorf("%s: detail %q", name, errorDetail(err))
		}
	}
}
