package backend

import (
	"database/sql"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// TestGroupEvaluate pins the fan-in table of spec 03 §6.2 step 5
// (satisfied is tested before impossible).
func TestGroupEvaluate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		kind                EdgeDependencyPolicyKind
		k                   int64
		success, fail, skip int64
		running             int64
		want                string
	}{
		{"AllOfNoEdges", EdgePolicyAllOf, 0, 0, 0, 0, 0, groupPending},
		{"AllOfWaiting", EdgePolicyAllOf, 0, 1, 0, 0, 1, groupPending},
		{"AllOfAllSucceeded", EdgePolicyAllOf, 0, 3, 0, 0, 0, groupSatisfied},
		{"AllOfFirstFailure", EdgePolicyAllOf, 0, 1, 1, 0, 1, groupImpossible},
		{"AllOfSkip", EdgePolicyAllOf, 0, 0, 0, 1, 2, groupImpossible},
		{"AnyOfOneSuccess", EdgePolicyAnyOf, 1, 1, 2, 0, 0, groupSatisfied},
		{"AnyOfSomeFailed", EdgePolicyAnyOf, 1, 0, 2, 0, 1, groupPending},
		{"AnyOfAllBad", EdgePolicyAnyOf, 1, 0, 2, 1, 0, groupImpossible},
		{"AnyOfNoEdges", EdgePolicyAnyOf, 1, 0, 0, 0, 0, groupPending},
		{"QuorumReached", EdgePolicyQuorum, 2, 2, 1, 0, 0, groupSatisfied},
		{"QuorumStillPossible", EdgePolicyQuorum, 2, 1, 1, 0, 1, groupPending},
		{"QuorumTooManyBad", EdgePolicyQuorum, 2, 0, 2, 0, 1, groupImpossible},
		{"QuorumLargerThanGroup", EdgePolicyQuorum, 5, 1, 0, 0, 2, groupImpossible},
		{"QuorumSatisfiedBeatsImpossible", EdgePolicyQuorum, 1, 1, 5, 0, 0, groupSatisfied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := &group{dbgen.FfEdgeGroup{
				PolicyKind: string(tt.kind), KTarget: tt.k, SuccessCount: tt.success,
				FailCount: tt.fail, SkipCount: tt.skip, RunningCount: tt.running,
			}}
			if got := g.evaluate(); got != tt.want {
				t.Fatalf("evaluate = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestGroupPolicyColumnsRoundTrip: a valid policy stores and reads back in
// its constructor's shape (the defaulted on_satisfied made explicit);
// invalid ones fail with the spec's details.
func TestGroupPolicyColumnsRoundTrip(t *testing.T) {
	t.Parallel()
	valid := []struct {
		in, want EdgeDependencyPolicy
	}{
		{EdgeDependencyPolicy{}, AllOfPolicy()},
		{EdgeDependencyPolicy{Kind: EdgePolicyAllOf, K: 9, OnSatisfied: "junk"}, AllOfPolicy()},
		{AnyOfPolicy(""), AnyOfPolicy(OnSatisfiedCancelRemaining)},
		{AnyOfPolicy(OnSatisfiedLetRun), AnyOfPolicy(OnSatisfiedLetRun)},
		{QuorumPolicy(math.MaxInt32, OnSatisfiedLetRun), QuorumPolicy(math.MaxInt32, OnSatisfiedLetRun)},
	}
	for _, tt := range valid {
		kind, on, k, err := groupPolicyColumns(tt.in)
		if err != nil {
			t.Fatalf("groupPolicyColumns(%+v): %v", tt.in, err)
		}
		got := policyOf(dbgen.FfEdgeGroup{PolicyKind: kind, OnSatisfied: on, KTarget: k})
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Fatalf("round trip of %+v (-want +got)\n%s", tt.in, diff)
		}
	}
	invalid := []struct {
		in     EdgeDependencyPolicy
		detail string
	}{
		{QuorumPolicy(0, ""), "quorum k must be >= 1"},
		{QuorumPolicy(math.MaxInt32+1, ""), "quorum k exceeds supported maximum"},
		{QuorumPolicy(2, "maybe"), "unknown EdgeDependencyPolicy variant"},
		{EdgeDependencyPolicy{Kind: "none_of"}, "unknown EdgeDependencyPolicy variant"},
	}
	for _, tt := range invalid {
		_, _, _, err := groupPolicyColumns(tt.in)
		var e *Error
		if !errors.As(err, &e) || e.SubKind != SubKindInvalidInput || e.Detail != tt.detail {
			t.Fatalf("groupPolicyColumns(%+v) = %v, want invalid_input %q", tt.in, err, tt.detail)
		}
	}
}

// outgoingEdge must carry every column of the stored group: the resolver
// writes the group back whole (EdgeGroupPut), so a column it left out
// would be reset. A group column added to the table but not to
// EdgeListUnresolvedOutgoing or outgoingEdge fails here.
func TestOutgoingEdgeCarriesTheWholeGroup(t *testing.T) {
	row := dbgen.EdgeListUnresolvedOutgoingRow{
		EdgeID: "e", DownstreamExecutionID: "d", DataPassingRef: "ref",
		PolicyKind: sql.NullString{String: "quorum", Valid: true}, OnSatisfied: sql.NullString{String: "let_run", Valid: true},
		KTarget: sql.NullInt64{Int64: 2, Valid: true}, SuccessCount: sql.NullInt64{Int64: 1, Valid: true},
		FailCount: sql.NullInt64{Int64: 1, Valid: true}, SkipCount: sql.NullInt64{Int64: 1, Valid: true},
		RunningCount: sql.NullInt64{Int64: 1, Valid: true}, GroupState: sql.NullString{String: "satisfied", Valid: true},
		SatisfiedAtMs: sql.NullInt64{Int64: 5, Valid: true}, CancelSiblingsReason: sql.NullString{String: reasonSiblingSatisfied, Valid: true},
		CancelSiblingsPendingFlag: sql.NullInt64{Int64: 1, Valid: true},
	}
	edge := outgoingEdge("f", row)
	v := reflect.ValueOf(edge.stored.FfEdgeGroup)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("group column %s not carried from the edge row", v.Type().Field(i).Name)
		}
	}
	if edge.flowID != "f" || edge.edgeID != "e" || edge.downstream != "d" || edge.dataPassingRef != "ref" {
		t.Errorf("edge = %+v", edge)
	}
	// No group row (NULL columns): a fresh all_of group, as loadGroup gives.
	none := outgoingEdge("f", dbgen.EdgeListUnresolvedOutgoingRow{EdgeID: "e", DownstreamExecutionID: "d"})
	if diff := cmp.Diff(newGroup("f", "d"), none.stored); diff != "" {
		t.Errorf("group without a row (-want +got)\n%s", diff)
	}
}
