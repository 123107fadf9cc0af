package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// followPoll is how long one TailStream call of --follow blocks. The
// backend's wake-ups are in-process only, so a frame appended by a worker
// in another process is found by the next call, at most this late.
const followPoll = 500 * time.Millisecond

// frameJSON is one stream frame.
type frameJSON struct {
	// Event is "frame" in --follow's JSON lines (omitted otherwise).
	Event  string            `json:"event,omitempty"`
	Fields map[string]string `json:"fields"`
	ID     string            `json:"id"`
}

// closedJSON is the last JSON line of --follow.
type closedJSON struct {
	ClosedAt     time.Time `json:"closed_at"`
	ClosedReason string    `json:"closed_reason"`
	Event        string    `json:"event"`
}

// streamJSON is stream tail's JSON document without --follow.
type streamJSON struct {
	AttemptIndex uint32      `json:"attempt_index"`
	ClosedAt     *time.Time  `json:"closed_at,omitempty"`
	ClosedReason string      `json:"closed_reason,omitempty"`
	ExecutionID  string      `json:"execution_id"`
	Frames       []frameJSON `json:"frames"`
}

// streamTail prints an attempt's frames, and with --follow keeps printing
// new ones until the attempt ends or the process is interrupted.
func (c *cli) streamTail(args []string) error {
	fs := c.newFlags("stream tail", "<execution-id> [flags]",
		"Print the stream frames of one attempt (default: the current attempt). With\n"+
			"--follow keep printing frames as they are appended, until the attempt ends (its\n"+
			"stream closes) or SIGINT; with --json each frame is one JSON line, and a final\n"+
			"{\"event\":\"closed\",...} line reports how the attempt ended.")
	attempt := fs.Int("attempt", -1, "attempt `index` (default: the current attempt)")
	follow := fs.Bool("follow", false, "keep printing new frames until the attempt ends")
	pos, err := c.parse(fs, args, 1)
	if err != nil {
		return err
	}
	id, err := parseExecutionID(pos[0])
	if err != nil {
		return err
	}
	if *attempt < -1 || int64(*attempt) > int64(^uint32(0)) {
		return usagef("--attempt %d: not an attempt index", *attempt)
	}
	s, err := c.open()
	if err != nil {
		return err
	}
	defer s.Close()
	snap, err := s.b.DescribeExecution(c.ctx, id)
	if err != nil {
		return err
	}
	if snap == nil {
		return notFound(backend.EntityExecution, string(id))
	}
	index := backend.AttemptIndex(max(*attempt, 0))
	if *attempt < 0 && snap.CurrentAttempt != nil {
		index = snap.CurrentAttempt.AttemptIndex
	}
	if *follow {
		return c.followStream(s.b, id, index)
	}

	out := streamJSON{AttemptIndex: uint32(index), ExecutionID: string(id), Frames: []frameJSON{}}
	after := backend.StreamFromBeginning
	for {
		page, err := s.b.TailStream(c.ctx, id, index, after, 0, backend.StreamReadHardCap, backend.TailAll)
		if err != nil {
			return err
		}
		for _, f := range page.Frames {
			out.Frames = append(out.Frames, frameJSON{Fields: f.Fields, ID: f.ID})
			after = backend.StreamAt(f.ID)
		}
		out.ClosedAt, out.ClosedReason = optTime(page.ClosedAt), page.ClosedReason
		if len(page.Frames) < backend.StreamReadHardCap {
			break
		}
	}
	if c.json {
		return c.writeJSON(out)
	}
	w := c.table()
	row(w, "ID", "TYPE", "MODE", "PAYLOAD")
	for _, f := range out.Frames {
		row(w, f.ID, dash(f.Fields["frame_type"]), dash(f.Fields["mode"]), printable(f.Fields["payload"]))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if out.ClosedAt != nil {
		fmt.Fprintf(c.stdout, "-- stream closed at %s: %s\n", fmtTime(*out.ClosedAt), out.ClosedReason)
	}
	return nil
}

// followStream prints frames as they arrive until the stream is closed
// (the attempt ended) and drained, or ctx ends (SIGINT: a normal end).
func (c *cli) followStream(b *backend.SQLiteBackend, id backend.ExecutionID, index backend.AttemptIndex) error {
	enc := json.NewEncoder(c.stdout)
	// Lines are printed as frames arrive, so columns have fixed widths
	// instead of a tabwriter's; the header waits for the first frame so
	// that an error leaves stdout empty.
	const lineFormat = "%-22s %-10s %-11s %s\n"
	header := false
	after := backend.StreamFromBeginning
	for {
		page, err := b.TailStream(c.ctx, id, index, after, followPoll, backend.StreamReadHardCap, backend.TailAll)
		if err != nil {
			if c.ctx.Err() != nil && errors.Is(err, c.ctx.Err()) {
				return nil
			}
			return err
		}
		for _, f := range page.Frames {
			after = backend.StreamAt(f.ID)
			if c.json {
				if err := enc.Encode(frameJSON{Event: "frame", Fields: f.Fields, ID: f.ID}); err != nil {
					return err
				}
				continue
			}
			if !header {
				fmt.Fprintf(c.stdout, lineFormat, "ID", "TYPE", "MODE", "PAYLOAD")
				header = true
			}
			fmt.Fprintf(c.stdout, lineFormat, f.ID, dash(f.Fields["frame_type"]), dash(f.Fields["mode"]), printable(f.Fields["payload"]))
		}
		// A closed stream gets no more frames: once a call returns fewer
		// than it could, everything has been printed.
		if !page.ClosedAt.IsZero() && len(page.Frames) < backend.StreamReadHardCap {
			if c.json {
				return enc.Encode(closedJSON{ClosedAt: page.ClosedAt.UTC(), ClosedReason: page.ClosedReason, Event: "closed"})
			}
			fmt.Fprintf(c.stdout, "-- stream closed at %s: %s\n", fmtTime(page.ClosedAt), page.ClosedReason)
			return nil
		}
		if len(page.Frames) == 0 {
			if err := attemptCanStart(c, b, id, index); err != nil {
				return err
			}
		}
	}
}

// terminalStates are the public states of a terminal execution.
var terminalStates = map[backend.PublicState]bool{
	backend.PublicStateCancelled: true, backend.PublicStateCompleted: true, backend.PublicStateExpired: true,
	backend.PublicStateFailed: true, backend.PublicStateSkipped: true,
}

// attemptCanStart fails when the followed attempt does not exist and never
// will: its stream would then never close (a closed marker needs the
// attempt), and --follow would wait forever. That is an execution that
// ended before reaching the attempt (cancelled before its first claim, or
// an --attempt past its last one), or one deleted meanwhile. An attempt
// that does not exist yet on a live execution (not claimed yet, or a
// retry to come) is waited for.
func attemptCanStart(c *cli, b *backend.SQLiteBackend, id backend.ExecutionID, index backend.AttemptIndex) error {
	snap, err := b.DescribeExecution(c.ctx, id)
	if err != nil {
		return err
	}
	if snap == nil {
		return notFound(backend.EntityExecution, string(id))
	}
	if uint32(index) >= snap.TotalAttemptCount && terminalStates[snap.PublicState] {
		return fmt.Errorf("attempt %d of %s never started and the execution is %s: %w",
			index, id, snap.PublicState, &backend.Error{Kind: backend.KindNotFound, Entity: backend.EntityAttempt})
	}
	return nil
}
