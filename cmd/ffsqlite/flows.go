package main

import (
	"cmp"
	"database/sql"
	"fmt"
	"io"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/dbgen"
)

// flowMembersPage is the page size of the member listing.
const flowMembersPage = 1000

// flowJSON is flows show's JSON document: the flow header, its members
// with their inbound group, and every edge. The tree of the table view is
// a rendering of members + edges; machines get the flat, lossless form.
type flowJSON struct {
	CancelReason       string            `json:"cancel_reason,omitempty"`
	CancellationPolicy string            `json:"cancellation_policy,omitempty"`
	CancelledAt        *time.Time        `json:"cancelled_at,omitempty"`
	CreatedAt          time.Time         `json:"created_at"`
	EdgeCount          uint32            `json:"edge_count"`
	Edges              []edgeJSON        `json:"edges"`
	FlowID             string            `json:"flow_id"`
	FlowKind           string            `json:"flow_kind"`
	GraphRevision      uint64            `json:"graph_revision"`
	LastMutationAt     time.Time         `json:"last_mutation_at"`
	Members            []flowMemberJSON  `json:"members"`
	Namespace          string            `json:"namespace"`
	NodeCount          uint32            `json:"node_count"`
	PublicFlowState    string            `json:"public_flow_state"`
	Tags               map[string]string `json:"tags"`
}

// flowMemberJSON is one member execution.
type flowMemberJSON struct {
	ExecutionID string `json:"execution_id"`
	// Group is the member's inbound edge group (nil without inbound edges).
	Group       *edgeGroupJSON `json:"group,omitempty"`
	LaneID      string         `json:"lane_id"`
	PublicState string         `json:"public_state"`
}

// edgeGroupJSON is a downstream member's inbound edge group.
type edgeGroupJSON struct {
	FailedCount    uint32 `json:"failed_count"`
	GroupState     string `json:"group_state"`
	K              uint32 `json:"k,omitempty"`
	OnSatisfied    string `json:"on_satisfied,omitempty"`
	Policy         string `json:"policy"`
	RunningCount   uint32 `json:"running_count"`
	SatisfiedCount uint32 `json:"satisfied_count"`
	SkippedCount   uint32 `json:"skipped_count"`
	TotalDeps      uint32 `json:"total_deps"`
}

// edgeJSON is one dependency edge.
type edgeJSON struct {
	CreatedAt             time.Time `json:"created_at"`
	DataPassingRef        string    `json:"data_passing_ref,omitempty"`
	DependencyKind        string    `json:"dependency_kind"`
	DownstreamExecutionID string    `json:"downstream_execution_id"`
	EdgeID                string    `json:"edge_id"`
	EdgeState             string    `json:"edge_state"`
	UpstreamExecutionID   string    `json:"upstream_execution_id"`
}

// flowsShow prints a flow's header and its members as a tree.
func (c *cli) flowsShow(args []string) error {
	fs := c.newFlags("flows show", "<flow-id>",
		"Show a flow: its header, then its members as a tree from the members without\n"+
			"inbound edges, each child under the edge (and edge state) that leads to it. A\n"+
			"member with several upstreams appears under each; its subtree is printed once.")
	pos, err := c.parse(fs, args, 1)
	if err != nil {
		return err
	}
	id, err := backend.ParseFlowID(pos[0])
	if err != nil {
		return usagef("invalid flow id %q: %v", pos[0], err)
	}
	s, err := c.open()
	if err != nil {
		return err
	}
	defer s.Close()
	snap, err := s.b.DescribeFlow(c.ctx, id)
	if err != nil {
		return err
	}
	if snap == nil {
		return notFound(backend.EntityFlow, string(id))
	}
	out := flowJSON{
		CancelReason:       snap.CancelReason,
		CancellationPolicy: snap.CancellationPolicy,
		CancelledAt:        optTime(snap.CancelledAt),
		CreatedAt:          snap.CreatedAt.UTC(),
		EdgeCount:          snap.EdgeCount,
		Edges:              []edgeJSON{},
		FlowID:             string(snap.FlowID),
		FlowKind:           snap.FlowKind,
		GraphRevision:      snap.GraphRevision,
		LastMutationAt:     snap.LastMutationAt.UTC(),
		Members:            []flowMemberJSON{},
		Namespace:          string(snap.Namespace),
		NodeCount:          snap.NodeCount,
		PublicFlowState:    snap.PublicFlowState,
		Tags:               snap.Tags,
	}
	if out.Tags == nil {
		out.Tags = map[string]string{}
	}
	groups := make(map[backend.ExecutionID]*edgeGroupJSON, len(snap.EdgeGroups))
	for _, g := range snap.EdgeGroups {
		groups[g.DownstreamExecutionID] = &edgeGroupJSON{
			FailedCount:    g.FailedCount,
			GroupState:     string(g.GroupState),
			K:              g.Policy.K,
			OnSatisfied:    string(g.Policy.OnSatisfied),
			Policy:         string(cmp.Or(g.Policy.Kind, backend.EdgePolicyAllOf)), // "" means all_of
			RunningCount:   g.RunningCount,
			SatisfiedCount: g.SatisfiedCount,
			SkippedCount:   g.SkippedCount,
			TotalDeps:      g.TotalDeps,
		}
	}

	// Members come from queries/cli.sql (the API only counts them); each
	// member's state and outgoing edges come from the API.
	q, err := s.queries()
	if err != nil {
		return err
	}
	after := ""
	for {
		ids, err := q.CliFlowMemberList(c.ctx, dbgen.CliFlowMemberListParams{
			FlowID: sql.NullString{String: string(id), Valid: true}, After: after, Lim: flowMembersPage,
		})
		if err != nil {
			return fmt.Errorf("list flow members: %w", err)
		}
		for _, m := range ids {
			mid := backend.ExecutionID(m)
			ms, err := s.b.DescribeExecution(c.ctx, mid)
			if err != nil {
				return err
			}
			if ms == nil {
				continue // deleted by retention since the listing
			}
			out.Members = append(out.Members, flowMemberJSON{
				ExecutionID: m, Group: groups[mid], LaneID: string(ms.LaneID), PublicState: string(ms.PublicState),
			})
			edges, err := s.b.ListEdges(c.ctx, id, backend.OutgoingEdges(mid))
			if err != nil {
				return err
			}
			for _, e := range edges {
				out.Edges = append(out.Edges, edgeJSON{
					CreatedAt:             e.CreatedAt.UTC(),
					DataPassingRef:        e.DataPassingRef,
					DependencyKind:        e.DependencyKind,
					DownstreamExecutionID: string(e.DownstreamExecutionID),
					EdgeID:                string(e.EdgeID),
					EdgeState:             e.EdgeState,
					UpstreamExecutionID:   string(e.UpstreamExecutionID),
				})
			}
		}
		if len(ids) < flowMembersPage {
			break
		}
		after = ids[len(ids)-1]
	}

	if c.json {
		return c.writeJSON(out)
	}
	w := c.table()
	row(w, "flow_id", out.FlowID)
	row(w, "kind", dash(out.FlowKind))
	row(w, "namespace", dash(out.Namespace))
	row(w, "state", out.PublicFlowState)
	row(w, "graph_revision", out.GraphRevision)
	row(w, "members", out.NodeCount)
	row(w, "edges", out.EdgeCount)
	row(w, "tags", fmtTags(out.Tags))
	row(w, "created_at", fmtTime(out.CreatedAt))
	row(w, "last_mutation_at", fmtTime(out.LastMutationAt))
	if out.CancelledAt != nil {
		row(w, "cancelled_at", fmtTime(*out.CancelledAt))
		row(w, "cancellation_policy", dash(out.CancellationPolicy))
		row(w, "cancel_reason", dash(out.CancelReason))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout)
	printFlowTree(c.stdout, out)
	return nil
}

// printFlowTree renders members as a forest: roots are members without
// inbound edges, children hang under the edge that leads to them. The
// engine rejects cycles, but the walk still guards against one (and
// against printing a shared subtree twice) with the expanded set.
func printFlowTree(w io.Writer, f flowJSON) {
	members := make(map[string]flowMemberJSON, len(f.Members))
	for _, m := range f.Members {
		members[m.ExecutionID] = m
	}
	children := map[string][]edgeJSON{}
	hasParent := map[string]bool{}
	for _, e := range f.Edges {
		children[e.UpstreamExecutionID] = append(children[e.UpstreamExecutionID], e)
		hasParent[e.DownstreamExecutionID] = true
	}
	label := func(id string) string {
		m, ok := members[id]
		if !ok {
			return id + "  (not a listed member)"
		}
		s := id + "  " + m.PublicState
		if g := m.Group; g != nil {
			policy := g.Policy
			if g.K > 0 {
				policy = fmt.Sprintf("%s(%d)", policy, g.K)
			}
			s += fmt.Sprintf("  [deps %s: %s, %d/%d satisfied]", policy, g.GroupState, g.SatisfiedCount, g.TotalDeps)
		}
		return s
	}
	expanded := map[string]bool{}
	var walk func(id, prefix string)
	walk = func(id, prefix string) {
		expanded[id] = true
		kids := children[id]
		for i, e := range kids {
			branch, next := "├── ", "│   "
			if i == len(kids)-1 {
				branch, next = "└── ", "    "
			}
			line := fmt.Sprintf("%s%s(edge %s %s) %s", prefix, branch, shortID(e.EdgeID), e.EdgeState, label(e.DownstreamExecutionID))
			if expanded[e.DownstreamExecutionID] {
				fmt.Fprintln(w, line+"  (see above)")
				continue
			}
			fmt.Fprintln(w, line)
			walk(e.DownstreamExecutionID, prefix+next)
		}
	}
	if len(f.Members) == 0 {
		fmt.Fprintln(w, "(no members)")
	}
	for _, m := range f.Members {
		if hasParent[m.ExecutionID] {
			continue
		}
		fmt.Fprintln(w, label(m.ExecutionID))
		walk(m.ExecutionID, "")
	}
	// A member reachable only through a cycle has no root above it.
	for _, m := range f.Members {
		if !expanded[m.ExecutionID] {
			fmt.Fprintln(w, label(m.ExecutionID)+"  (cycle)")
			walk(m.ExecutionID, "")
		}
	}
}

// shortID is the first 8 characters of a UUID: enough to tell a flow's
// edges apart in the tree (the JSON output has the full ids).
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
