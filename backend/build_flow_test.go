package backend

import "testing"

func TestDistinctAcyclic(t *testing.T) {
	e := func(id, up, down string) stagedEdge {
		return stagedEdge{edgeID: EdgeID(id), up: up, down: down}
	}
	tests := []struct {
		name  string
		edges []stagedEdge
		want  bool
	}{
		{"none", nil, true},
		{"chain", []stagedEdge{e("1", "a", "b"), e("2", "b", "c")}, true},
		{"diamond", []stagedEdge{e("1", "a", "b"), e("2", "a", "c"), e("3", "b", "d"), e("4", "c", "d")}, true},
		{"parallel edges", []stagedEdge{e("1", "a", "b"), e("2", "a", "b")}, true},
		{"two nodes in a cycle", []stagedEdge{e("1", "a", "b"), e("2", "b", "a")}, false},
		{"cycle behind a tail", []stagedEdge{e("1", "x", "a"), e("2", "a", "b"), e("3", "b", "c"), e("4", "c", "a")}, false},
		{"repeated edge id", []stagedEdge{e("1", "a", "b"), e("1", "b", "c")}, false},
	}
	for _, tt := range tests {
		if got := distinctAcyclic(tt.edges); got != tt.want {
			t.Errorf("%s: distinctAcyclic = %v, want %v", tt.name, got, tt.want)
		}
	}
}
