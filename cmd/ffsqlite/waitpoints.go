package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
	"github.com/flowfabric/ffsqlite/dbgen"
)

// Listing bounds of waitpoints list.
const (
	// waitpointsLimitDefault is the --limit default.
	waitpointsLimitDefault = 100
	// waitpointExecutionsPage is the page size of the executions-with-
	// waitpoints listing.
	waitpointExecutionsPage = 500
)

// waitpointJSON is one pending or active waitpoint (never its token).
type waitpointJSON struct {
	ActivatedAt         *time.Time `json:"activated_at,omitempty"`
	CreatedAt           time.Time  `json:"created_at"`
	ExecutionID         string     `json:"execution_id"`
	ExpiresAt           *time.Time `json:"expires_at,omitempty"`
	RequiredSignalNames []string   `json:"required_signal_names"`
	State               string     `json:"state"`
	TokenFingerprint    string     `json:"token_fingerprint"`
	TokenKid            string     `json:"token_kid"`
	WaitpointID         string     `json:"waitpoint_id"`
	WaitpointKey        string     `json:"waitpoint_key"`
}

// waitpointsListJSON is waitpoints list's JSON document.
type waitpointsListJSON struct {
	Waitpoints []waitpointJSON `json:"waitpoints"`
	// Truncated is true when --limit cut the listing short.
	Truncated bool `json:"truncated,omitempty"`
}

func waitpointFromInfo(w backend.PendingWaitpointInfo) waitpointJSON {
	names := w.RequiredSignalNames
	if names == nil {
		names = []string{}
	}
	return waitpointJSON{
		ActivatedAt:         optTime(w.ActivatedAt),
		CreatedAt:           w.CreatedAt.UTC(),
		ExecutionID:         string(w.ExecutionID),
		ExpiresAt:           optTime(w.ExpiresAt),
		RequiredSignalNames: names,
		State:               string(w.State),
		TokenFingerprint:    w.TokenFingerprint,
		TokenKid:            w.TokenKid,
		WaitpointID:         string(w.WaitpointID),
		WaitpointKey:        string(w.WaitpointKey),
	}
}

// waitpointsList lists pending and active waitpoints of one execution, or
// of every execution that has one.
func (c *cli) waitpointsList(args []string) error {
	fs := c.newFlags("waitpoints list", "[flags]",
		"List pending and active waitpoints (closed and expired ones are kept but not\n"+
			"listed), ordered by execution then waitpoint id. Tokens are never shown.")
	execution := fs.String("execution", "", "only waitpoints of execution `id`")
	limit := fs.Int("limit", waitpointsLimitDefault, "print at most `N` waitpoints")
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	if *limit < 1 {
		return usagef("--limit %d: must be at least 1", *limit)
	}
	var only backend.ExecutionID
	if *execution != "" {
		id, err := parseExecutionID(*execution)
		if err != nil {
			return err
		}
		only = id
	}
	s, err := c.open()
	if err != nil {
		return err
	}
	defer s.Close()

	out := waitpointsListJSON{Waitpoints: []waitpointJSON{}}
	// collect appends id's waitpoints; false once --limit is reached.
	collect := func(id backend.ExecutionID) (bool, error) {
		var after backend.WaitpointID
		for {
			page, err := s.b.ListPendingWaitpoints(c.ctx, backend.ListPendingWaitpointsArgs{
				After: after, ExecutionID: id, Limit: min(*limit+1, 1000),
			})
			if err != nil {
				return false, err
			}
			for _, w := range page.Items {
				if len(out.Waitpoints) == *limit {
					out.Truncated = true
					return false, nil
				}
				out.Waitpoints = append(out.Waitpoints, waitpointFromInfo(w))
			}
			if page.Next == "" {
				return true, nil
			}
			after = page.Next
		}
	}
	if only != "" {
		if _, err := collect(only); err != nil {
			return err
		}
	} else {
		// Which executions have open waitpoints comes from
		// queries/cli.sql: the API lists waitpoints per execution only.
		q, err := s.queries()
		if err != nil {
			return err
		}
		after := ""
	scan:
		for {
			ids, err := q.CliWaitpointExecutionList(c.ctx, dbgen.CliWaitpointExecutionListParams{After: after, Lim: waitpointExecutionsPage})
			if err != nil {
				return fmt.Errorf("list executions with waitpoints: %w", err)
			}
			for _, id := range ids {
				more, err := collect(backend.ExecutionID(id))
				if err != nil {
					return err
				}
				if !more {
					break scan
				}
			}
			if len(ids) < waitpointExecutionsPage {
				break
			}
			after = ids[len(ids)-1]
		}
	}

	if c.json {
		return c.writeJSON(out)
	}
	w := c.table()
	row(w, "WAITPOINT_ID", "EXECUTION_ID", "KEY", "STATE", "SIGNALS", "KID", "FINGERPRINT", "CREATED_AT", "EXPIRES_AT")
	for _, wp := range out.Waitpoints {
		signals := "any"
		if len(wp.RequiredSignalNames) > 0 {
			signals = printable(strings.Join(wp.RequiredSignalNames, ","))
		}
		row(w, wp.WaitpointID, wp.ExecutionID, dash(wp.WaitpointKey), wp.State, signals, dash(wp.TokenKid),
			dash(wp.TokenFingerprint), fmtTime(wp.CreatedAt), fmtOptTime(wp.ExpiresAt))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if out.Truncated {
		fmt.Fprintf(c.stderr, "more waitpoints exist: raise --limit\n")
	}
	return nil
}

// signalResultJSON is signal deliver's JSON document.
type signalResultJSON struct {
	Effect   string `json:"effect,omitempty"`
	Kind     string `json:"kind"`
	SignalID string `json:"signal_id"`
}

// signalDeliver delivers one signal to a waitpoint.
func (c *cli) signalDeliver(args []string) error {
	fs := c.newFlags("signal deliver", "--execution ID --waitpoint ID --token TOKEN --name NAME [flags]",
		"Deliver a signal to a waitpoint. The token is the one minted for the waitpoint\n"+
			"(Suspend or CreateWaitpoint); pass --token - to read it from stdin so it does\n"+
			"not show in the process list. Prints the outcome: accepted with its effect, or\n"+
			"duplicate (same --idempotency-key within 24 h).")
	execution := fs.String("execution", "", "target execution `id` (required)")
	waitpoint := fs.String("waitpoint", "", "waitpoint `id` (required)")
	token := fs.String("token", "", "waitpoint `token` \"kid:hex\", or - for stdin (required)")
	name := fs.String("name", "", "signal `name` (required)")
	category := fs.String("category", "operator", "signal `category`")
	sourceType := fs.String("source-type", "operator", "source `type`")
	sourceIdentity := fs.String("source-identity", "ffsqlite-cli", "source `identity`")
	payload := fs.String("payload", "", "signal payload, a `JSON` document")
	idempotencyKey := fs.String("idempotency-key", "", "deduplicate repeats with this `key`")
	correlationID := fs.String("correlation-id", "", "correlation `id` recorded with the signal")
	if _, err := c.parse(fs, args, 0); err != nil {
		return err
	}
	for _, req := range []struct{ flag, value string }{
		{"execution", *execution}, {"waitpoint", *waitpoint}, {"token", *token}, {"name", *name},
	} {
		if req.value == "" {
			return usagef("signal deliver: --%s is required", req.flag)
		}
	}
	execID, err := parseExecutionID(*execution)
	if err != nil {
		return err
	}
	wpID, err := backend.ParseWaitpointID(*waitpoint)
	if err != nil {
		return usagef("invalid waitpoint id %q: %v", *waitpoint, err)
	}
	var body []byte
	if *payload != "" {
		if !json.Valid([]byte(*payload)) {
			return usagef("--payload is not valid JSON")
		}
		body = []byte(*payload)
	}
	tok := *token
	if tok == "-" {
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && line == "" {
			return usagef("--token -: no token on stdin")
		}
		tok = strings.TrimSpace(line)
	}

	s, err := c.open()
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.b.DeliverSignal(c.ctx, backend.DeliverSignalArgs{
		CorrelationID:   *correlationID,
		ExecutionID:     execID,
		IdempotencyKey:  *idempotencyKey,
		Payload:         body,
		PayloadEncoding: "json",
		SignalCategory:  *category,
		SignalID:        backend.NewSignalID(),
		SignalName:      *name,
		SourceIdentity:  *sourceIdentity,
		SourceType:      *sourceType,
		WaitpointID:     wpID,
		WaitpointToken:  backend.WaitpointToken(tok),
	})
	if err != nil {
		return err
	}
	out := signalResultJSON{Effect: string(res.Effect), Kind: string(res.Kind), SignalID: string(res.SignalID)}
	if c.json {
		return c.writeJSON(out)
	}
	w := c.table()
	row(w, "kind", out.Kind)
	row(w, "effect", dash(out.Effect))
	row(w, "signal_id", out.SignalID)
	return w.Flush()
}
