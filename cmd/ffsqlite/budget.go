package main

import (
	"maps"
	"slices"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// budgetJSON is budget status's JSON document.
type budgetJSON struct {
	BreachCount     uint64            `json:"breach_count"`
	BudgetID        string            `json:"budget_id"`
	CreatedAt       time.Time         `json:"created_at"`
	EnforcementMode string            `json:"enforcement_mode"`
	HardBreached    bool              `json:"hard_breached"`
	HardLimits      map[string]uint64 `json:"hard_limits"`
	LastBreachAt    *time.Time        `json:"last_breach_at,omitempty"`
	LastBreachDim   string            `json:"last_breach_dimension,omitempty"`
	NextResetAt     *time.Time        `json:"next_reset_at,omitempty"`
	ScopeID         string            `json:"scope_id"`
	ScopeType       string            `json:"scope_type"`
	SoftBreachCount uint64            `json:"soft_breach_count"`
	SoftLimits      map[string]uint64 `json:"soft_limits"`
	Usage           map[string]uint64 `json:"usage"`
}

// hardBreached applies BudgetStatus's one definition: some dimension's
// usage is at or above its non-zero hard limit (Claim then skips the
// budget's executions).
func hardBreached(s backend.BudgetStatus) bool {
	for d, limit := range s.HardLimits {
		if limit > 0 && s.Usage[d] >= limit {
			return true
		}
	}
	return false
}

// orEmpty makes a nil map encode as {}.
func orEmpty(m map[string]uint64) map[string]uint64 {
	if m == nil {
		return map[string]uint64{}
	}
	return m
}

// budgetStatus prints one budget's limits, usage and breach counters.
func (c *cli) budgetStatus(args []string) error {
	fs := c.newFlags("budget status", "<budget-id>",
		"Show a budget: scope, limits and usage per dimension, breach counters and the\n"+
			"next scheduled reset. hard_breached means Claim skips the budget's executions.")
	pos, err := c.parse(fs, args, 1)
	if err != nil {
		return err
	}
	id, err := backend.ParseBudgetID(pos[0])
	if err != nil {
		return usagef("invalid budget id %q: %v", pos[0], err)
	}
	s, err := c.open()
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := s.b.GetBudgetStatus(c.ctx, id)
	if err != nil {
		return err
	}
	out := budgetJSON{
		BreachCount:     st.BreachCount,
		BudgetID:        string(st.BudgetID),
		CreatedAt:       st.CreatedAt.UTC(),
		EnforcementMode: st.EnforcementMode,
		HardBreached:    hardBreached(st),
		HardLimits:      orEmpty(st.HardLimits),
		LastBreachAt:    optTime(st.LastBreachAt),
		LastBreachDim:   st.LastBreachDim,
		NextResetAt:     optTime(st.NextResetAt),
		ScopeID:         st.ScopeID,
		ScopeType:       st.ScopeType,
		SoftBreachCount: st.SoftBreachCount,
		SoftLimits:      orEmpty(st.SoftLimits),
		Usage:           orEmpty(st.Usage),
	}
	if c.json {
		return c.writeJSON(out)
	}
	w := c.table()
	row(w, "budget_id", out.BudgetID)
	row(w, "scope", dash(out.ScopeType)+" "+dash(out.ScopeID))
	row(w, "enforcement_mode", dash(out.EnforcementMode))
	row(w, "hard_breached", out.HardBreached)
	row(w, "breach_count", out.BreachCount)
	row(w, "soft_breach_count", out.SoftBreachCount)
	row(w, "last_breach_at", fmtOptTime(out.LastBreachAt))
	row(w, "last_breach_dimension", dash(out.LastBreachDim))
	row(w, "next_reset_at", fmtOptTime(out.NextResetAt))
	row(w, "created_at", fmtTime(out.CreatedAt))
	if err := w.Flush(); err != nil {
		return err
	}

	// Every dimension that has a limit or was ever reported.
	dims := map[string]bool{}
	for _, m := range []map[string]uint64{out.HardLimits, out.SoftLimits, out.Usage} {
		for d := range maps.Keys(m) {
			dims[d] = true
		}
	}
	c.stdout.Write([]byte("\n"))
	w = c.table()
	row(w, "DIMENSION", "USAGE", "SOFT_LIMIT", "HARD_LIMIT")
	limit := func(v uint64) any {
		if v == 0 {
			return "-" // 0 is "no limit"
		}
		return v
	}
	for _, d := range slices.Sorted(maps.Keys(dims)) {
		row(w, printable(d), out.Usage[d], limit(out.SoftLimits[d]), limit(out.HardLimits[d]))
	}
	return w.Flush()
}
