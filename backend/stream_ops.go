package backend

import (
	"context"
	"database/sql"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// Best-effort trimming defaults (spec 05 §C.1 BestEffortLiveConfig).
const (
	bestEffortAlphaDefault   = 0.2
	bestEffortCeilingDefault = 16384
	bestEffortFloorDefault   = 64
)

// AppendFrame appends one frame to the stream of the handle's attempt and
// returns its id (monotonic per attempt). Errors, in check order: the
// handle errors (ErrHandleFromOtherBackend, ErrCorruption,
// NotFound(EntityAttempt)); ErrStaleLease (superseded or revoked);
// ErrRetentionLimitExceeded (payload over MaxFramePayloadBytes);
// ErrStreamClosed (attempt ended or execution not active on it);
// ErrStaleOwnerCannotAppend (lease expired or marked reclaimable);
// ErrInvalidInput (summary patch not a JSON object); ErrCorruption (stored
// summary unreadable). An unknown Kind, Mode or PatchKind is
// ErrInvalidInput before any of these. A failed append writes nothing.
func (b *SQLiteBackend) AppendFrame(ctx context.Context, h Handle, frame Frame) (AppendFrameOutcome, error) {
	if _, err := b.live("append_frame"); err != nil {
		return AppendFrameOutcome{}, err
	}
	mode, err := frameMode(frame)
	if err != nil {
		return AppendFrameOutcome{}, err
	}
	// The patch is parsed before the transaction (pure work), but its
	// error is reported in its place in the check order, after the lease
	// and stream checks.
	var patch map[string]any
	var patchErr error
	if mode == StreamSummary && len(frame.Bytes) <= MaxFramePayloadBytes {
		patch, patchErr = parseSummaryPatch(frame.Bytes)
	}
	var out AppendFrameOutcome
	err = b.handleOp(ctx, "append_frame", h, func(ctx context.Context, w *writeTx, l *leased) error {
		if err := checkAppendable(w.now, l, len(frame.Bytes)); err != nil {
			return err
		}
		if patchErr != nil {
			return patchErr
		}
		var err error
		out, err = w.appendFrame(ctx, l.att, frame, mode, patch)
		return err
	})
	if err != nil {
		return AppendFrameOutcome{}, err
	}
	return out, nil
}

// frameMode validates the frame's enums and returns its mode (the zero
// mode is durable).
func frameMode(f Frame) (StreamModeKind, error) {
	switch f.Kind {
	case FrameBlob, FrameEvent, FrameStderr, FrameStdout:
	default:
		return "", errInvalidInput("append_frame: unknown frame kind %q", f.Kind)
	}
	switch f.Mode.Kind {
	case "", StreamDurable:
		return StreamDurable, nil
	case StreamBestEffort:
		return StreamBestEffort, nil
	case StreamSummary:
		if f.Mode.PatchKind != "" && f.Mode.PatchKind != PatchJSONMerge {
			return "", errInvalidInput("append_frame: unknown patch kind %q", f.Mode.PatchKind)
		}
		return StreamSummary, nil
	}
	return "", errInvalidInput("append_frame: unknown stream mode %q", f.Mode.Kind)
}

// checkAppendable runs AppendFrame's checks after the fence, in the order
// API.md gives (decision 17).
func checkAppendable(now int64, l *leased, payloadLen int) error {
	e, a := l.exec, l.att
	if e.ownership() == OwnershipLeaseRevoked {
		return errState(SubKindStaleLease, "append_frame: lease revoked")
	}
	if payloadLen > MaxFramePayloadBytes {
		return errValidation(SubKindRetentionLimitExceeded, "append_frame: payload is %d bytes, the limit is %d", payloadLen, MaxFramePayloadBytes)
	}
	if a.Outcome.Valid || e.phase() != PhaseActive || e.AttemptIndex != a.AttemptIndex {
		return errState(SubKindStreamClosed, "append_frame: attempt "+strconv.FormatInt(a.AttemptIndex, 10)+" of "+e.ExecutionID+" is no longer running (execution "+e.LifecyclePhase+")")
	}
	if e.ownership() == OwnershipLeaseExpiredReclaimable || !a.LeaseExpiresAtMs.Valid || a.LeaseExpiresAtMs.Int64 <= now {
		return errState(SubKindStaleOwnerCannotAppend, "append_frame: lease expired")
	}
	return nil
}

// appendFrame stores one frame of attempt a (spec 05 §C.3 steps 4–9) and
// schedules the stream wake-up.
func (w *writeTx) appendFrame(ctx context.Context, a *attempt, frame Frame, mode StreamModeKind, patch map[string]any) (AppendFrameOutcome, error) {
	key := dbgen.StreamMetaGetParams{ExecutionID: a.ExecutionID, AttemptIndex: a.AttemptIndex}
	meta, err := w.q.StreamMetaGet(ctx, key)
	found := err == nil
	switch {
	case isNoRows(err):
		meta = dbgen.FfStreamMetum{ExecutionID: a.ExecutionID, AttemptIndex: a.AttemptIndex}
	case err != nil:
		return AppendFrameOutcome{}, err
	}
	// The id never goes backwards, even if the clock does (like Valkey
	// stream ids): a smaller now reuses the newest ts with the next seq.
	// The newest id lives in the meta row, so an id is never reused even
	// after trimming deleted the frame that had it.
	ts, seq := max(w.now, meta.LastEntryTsMs, 0), int64(0)
	if found && ts == meta.LastEntryTsMs {
		seq = meta.LastEntrySeq + 1
	}

	var out AppendFrameOutcome
	var summaryVersion sql.NullInt64
	if mode == StreamSummary {
		v, err := w.applySummary(ctx, a, patch, ts)
		if err != nil {
			return AppendFrameOutcome{}, err
		}
		out.SummaryVersion = uint64(v)
		summaryVersion = nullInt(v)
	}
	frameType := frame.FrameType
	if frameType == "" {
		frameType = string(frame.Kind)
	}
	payload := frame.Bytes
	if payload == nil {
		payload = []byte{}
	}
	if err := w.q.StreamFrameInsert(ctx, dbgen.StreamFrameInsertParams{
		ExecutionID:    a.ExecutionID,
		AttemptIndex:   a.AttemptIndex,
		TsMs:           ts,
		Seq:            seq,
		FrameKind:      string(frame.Kind),
		FrameType:      frameType,
		Mode:           string(mode),
		Payload:        payload,
		CorrelationID:  nullString(frame.CorrelationID),
		SummaryVersion: summaryVersion,
	}); err != nil {
		return AppendFrameOutcome{}, err
	}
	meta.LastEntryTsMs, meta.LastEntrySeq = ts, seq
	meta.FrameCount++

	if mode == StreamBestEffort {
		keep := bestEffortKeep(&meta, frame.Mode.BestEffort, ts)
		trimmed, err := w.q.StreamFrameTrimToNewest(ctx, dbgen.StreamFrameTrimToNewestParams{
			ExecutionID: a.ExecutionID, AttemptIndex: a.AttemptIndex, Keep: keep,
		})
		if err != nil {
			return AppendFrameOutcome{}, err
		}
		meta.FrameCount = max(meta.FrameCount-trimmed, 0)
	}
	if err := w.q.StreamMetaPut(ctx, dbgen.StreamMetaPutParams(meta)); err != nil {
		return AppendFrameOutcome{}, err
	}
	w.wake(topicStreamFrame)
	out.FrameCount = uint64(meta.FrameCount)
	out.StreamID = formatStreamID(ts, seq)
	return out, nil
}

// applySummary merges patch into the attempt's summary document (spec 05
// §C.3 step 7) and returns the new version.
func (w *writeTx) applySummary(ctx context.Context, a *attempt, patch map[string]any, ts int64) (int64, error) {
	cur, err := w.q.StreamSummaryGet(ctx, dbgen.StreamSummaryGetParams{ExecutionID: a.ExecutionID, AttemptIndex: a.AttemptIndex})
	doc, version := map[string]any{}, int64(0)
	switch {
	case isNoRows(err):
	case err != nil:
		return 0, err
	default:
		if doc, err = decodeSummaryDocument(cur.DocumentJson); err != nil {
			return 0, err
		}
		version = cur.Version
	}
	next, err := encodeJSONValue(applySummaryPatch(doc, patch))
	if err != nil {
		return 0, errInvalidInput("summary patch: %v", err)
	}
	version++
	return version, w.q.StreamSummaryPut(ctx, dbgen.StreamSummaryPutParams{
		ExecutionID: a.ExecutionID, AttemptIndex: a.AttemptIndex,
		DocumentJson: string(next), Version: version, UpdatedAtMs: ts,
	})
}

// decodeSummaryDocument parses a stored summary; anything but a JSON
// object is ErrCorruption.
func decodeSummaryDocument(s string) (map[string]any, error) {
	v, err := decodeJSONValue([]byte(s))
	if err != nil {
		return nil, errCorruption("stream_summary: document_json: " + err.Error())
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, errCorruption("stream_summary: document_json is not a JSON object")
	}
	return doc, nil
}

// bestEffortKeep updates meta's append-rate EMA for a best-effort append
// at ts and returns how many frames the stream keeps (spec 05 §C.3 step
// 8): clamp(ceil(ema × TTL_s) × 2, floor, ceiling).
func bestEffortKeep(meta *dbgen.FfStreamMetum, cfg BestEffortLiveConfig, ts int64) int64 {
	floor, ceiling, alpha := int64(cfg.MaxlenFloor), int64(cfg.MaxlenCeiling), cfg.EMAAlpha
	if floor <= 0 {
		floor = bestEffortFloorDefault
	}
	if ceiling <= 0 {
		ceiling = bestEffortCeilingDefault
	}
	if !(alpha > 0 && alpha <= 1) { // also catches NaN
		alpha = bestEffortAlphaDefault
	}
	ceiling = max(ceiling, floor)
	inst := 0.0
	if last := meta.LastAppendTsMs; last > 0 && ts > last {
		inst = 1000 / float64(ts-last)
	}
	ema := alpha*inst + (1-alpha)*meta.EmaRateHz
	want := math.Ceil(ema*float64(durationToMS(cfg.TTL))/1000) * 2
	keep := floor
	if want > float64(floor) {
		keep = int64(math.Min(want, float64(ceiling)))
	}
	meta.EmaRateHz, meta.LastAppendTsMs, meta.MaxlenAppliedLast = ema, ts, keep
	return keep
}

// formatStreamID renders an entry id "<ms>-<seq>".
func formatStreamID(ts, seq int64) string {
	return strconv.FormatInt(ts, 10) + "-" + strconv.FormatInt(seq, 10)
}

// streamReadArgs validates the arguments ReadStream and TailStream share.
func streamReadArgs(executionID ExecutionID, countLimit int) (ExecutionID, int64, error) {
	id, err := ParseExecutionID(string(executionID))
	if err != nil {
		return "", 0, err
	}
	if countLimit < 1 {
		return "", 0, errInvalidInput("count_limit must be at least 1, got %d", countLimit)
	}
	return id, int64(min(countLimit, StreamReadHardCap)), nil
}

// ReadStream returns frames of one attempt with from <= id <= to
// (inclusive), ascending, at most countLimit (1..StreamReadHardCap; larger
// is clamped, < 1 is ErrInvalidInput). Unknown attempts give an empty
// page. Once the attempt has ended the page carries its closed marker.
func (b *SQLiteBackend) ReadStream(ctx context.Context, executionID ExecutionID, attemptIndex AttemptIndex, from, to StreamCursor, countLimit int) (StreamFrames, error) {
	db, err := b.live("read_stream")
	if err != nil {
		return StreamFrames{}, err
	}
	id, limit, err := streamReadArgs(executionID, countLimit)
	if err != nil {
		return StreamFrames{}, err
	}
	lo, err := parseStreamPosition(from)
	if err != nil {
		return StreamFrames{}, err
	}
	hi, err := parseStreamPosition(to)
	if err != nil {
		return StreamFrames{}, err
	}
	loTS, loSeq := lo.bound()
	hiTS, hiSeq := hi.bound()
	var out StreamFrames
	err = db.read(ctx, func(q *dbgen.Queries) error {
		rows, err := q.StreamFrameListRange(ctx, dbgen.StreamFrameListRangeParams{
			ExecutionID: string(id), AttemptIndex: int64(attemptIndex),
			FromTs: loTS, FromSeq: loSeq, ToTs: hiTS, ToSeq: hiSeq, MaxRows: limit,
		})
		if err != nil {
			return err
		}
		out.Frames = make([]StreamFrame, 0, len(rows))
		for _, r := range rows {
			out.Frames = append(out.Frames, frameFromRow(dbgen.StreamFrameListAfterRow(r)))
		}
		return streamClosed(ctx, q, string(id), int64(attemptIndex), &out)
	})
	if err != nil {
		return StreamFrames{}, err
	}
	return out, nil
}

// bound is the (ts, seq) a position stands for: "start" the lowest id,
// "end" the highest, "<ms>" (ms, 0).
func (p streamPosition) bound() (int64, int64) {
	switch p.Marker {
	case StreamStart:
		return 0, 0
	case StreamEnd:
		return math.MaxInt64, math.MaxInt64
	}
	return p.MS, p.Seq
}

// TailStream returns frames after the exclusive cursor after (an entry id;
// "start"/"end" are ErrInvalidInput), waiting up to block for the first
// one (0 = don't wait): an append wakes it at once through the in-process
// notifier. An empty result after the wait is not an error. A stream that
// is closed (its attempt ended) returns at once with its closed marker
// instead of waiting for frames that cannot come. A ctx that ends while
// waiting returns ctx.Err().
func (b *SQLiteBackend) TailStream(ctx context.Context, executionID ExecutionID, attemptIndex AttemptIndex, after StreamCursor, block time.Duration, countLimit int, visibility TailVisibility) (StreamFrames, error) {
	const op = "tail_stream"
	db, err := b.live(op)
	if err != nil {
		return StreamFrames{}, err
	}
	id, limit, err := streamReadArgs(executionID, countLimit)
	if err != nil {
		return StreamFrames{}, err
	}
	pos, err := parseStreamPosition(after)
	if err != nil {
		return StreamFrames{}, err
	}
	if pos.Marker != "" {
		return StreamFrames{}, errInvalidInput("tail_stream requires concrete after cursor, got %q", string(after))
	}
	if block < 0 {
		return StreamFrames{}, errInvalidInput("tail_stream: negative block %s", block)
	}
	var exclude int64
	switch visibility {
	case "", TailAll:
	case TailExcludeBestEffort:
		exclude = 1
	default:
		return StreamFrames{}, errInvalidInput("tail_stream: unknown visibility %q", visibility)
	}
	args := dbgen.StreamFrameListAfterParams{
		ExecutionID: string(id), AttemptIndex: int64(attemptIndex),
		AfterTs: pos.MS, AfterSeq: pos.Seq, ExcludeBestEffort: exclude, MaxRows: limit,
	}
	deadline := time.Now().Add(block)
	var timer *time.Timer
	for {
		// Register before querying: a frame committed after the query
		// has then always closed this channel.
		wake := db.notify.wait(topicStreamFrame)
		out, err := tailOnce(ctx, db, args)
		if err != nil {
			return StreamFrames{}, err
		}
		if len(out.Frames) > 0 || !out.ClosedAt.IsZero() {
			return out, nil
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return out, nil
		}
		if timer == nil {
			timer = time.NewTimer(remaining)
			defer timer.Stop()
		}
		select {
		case <-wake:
			// Some stream got a frame; re-query (it may be another one).
		case <-timer.C:
			return out, nil
		case <-ctx.Done():
			return StreamFrames{}, ctx.Err()
		case <-db.notify.done():
			if _, err := b.live(op); err != nil {
				return StreamFrames{}, err
			}
			return out, nil
		}
	}
}

// tailOnce is one TailStream query plus the closed marker.
func tailOnce(ctx context.Context, db *database, args dbgen.StreamFrameListAfterParams) (StreamFrames, error) {
	var out StreamFrames
	err := db.read(ctx, func(q *dbgen.Queries) error {
		rows, err := q.StreamFrameListAfter(ctx, args)
		if err != nil {
			return err
		}
		out.Frames = make([]StreamFrame, 0, len(rows))
		for _, r := range rows {
			out.Frames = append(out.Frames, frameFromRow(r))
		}
		return streamClosed(ctx, q, args.ExecutionID, args.AttemptIndex, &out)
	})
	return out, err
}

// frameFromRow builds the public frame: the stored columns become the
// Fields map of spec 05 §C.3 step 5, the payload rendered as UTF-8 text.
func frameFromRow(r dbgen.StreamFrameListAfterRow) StreamFrame {
	fields := map[string]string{
		"encoding":   "utf8",
		"frame_type": r.FrameType,
		"mode":       r.Mode,
		"payload":    lossyUTF8(r.Payload),
		"source":     "worker",
		"ts":         strconv.FormatInt(r.TsMs, 10),
	}
	if r.CorrelationID.Valid {
		fields["correlation_id"] = r.CorrelationID.String
	}
	if r.SummaryVersion.Valid {
		fields["summary_version"] = strconv.FormatInt(r.SummaryVersion.Int64, 10)
	}
	return StreamFrame{ID: formatStreamID(r.TsMs, r.Seq), Fields: fields}
}

// lossyUTF8 renders b as text, each invalid byte becoming U+FFFD.
func lossyUTF8(b []byte) string {
	s := string(b)
	if utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	for _, r := range s {
		sb.WriteRune(r) // ranging yields U+FFFD for each invalid byte
	}
	return sb.String()
}

// streamClosed fills out's closed marker (decision 17): a stream is closed
// once its attempt has ended for good — a final attempt outcome, a later
// attempt superseding it, or its execution turning terminal while the
// attempt was parked (delayed, suspended) — and open while the attempt
// may still be leased again (delay, revoke, suspension and replay keep
// the attempt index).
func streamClosed(ctx context.Context, q *dbgen.Queries, id string, index int64, out *StreamFrames) error {
	a, err := q.GetAttempt(ctx, dbgen.GetAttemptParams{ExecutionID: id, AttemptIndex: index})
	if isNoRows(err) {
		return nil
	}
	if err != nil {
		return err
	}
	e, err := q.GetExecution(ctx, id)
	if err != nil && !isNoRows(err) {
		return err
	}
	current := err == nil && e.AttemptIndex == a.AttemptIndex
	reason, final := attemptClosedReason[a.Outcome.String]
	switch {
	case a.TerminalAtMs.Valid && a.Outcome.Valid && (final || !current):
		if !final {
			reason = "attempt_interrupted"
		}
		out.ClosedAt, out.ClosedReason = fromMS(a.TerminalAtMs.Int64), reason
	case current && e.LifecyclePhase == string(PhaseTerminal) && e.TerminalAtMs.Valid:
		reason, ok := executionClosedReason[e.TerminalOutcome]
		if !ok {
			reason = "attempt_interrupted"
		}
		out.ClosedAt, out.ClosedReason = fromMS(e.TerminalAtMs.Int64), reason
	}
	return nil
}

// attemptClosedReason maps the outcomes that end an attempt for good to
// the stream's closed reason (spec 05 §C.5). Outcomes left out (delay or
// revoke "interrupted", "waiting_children", suspension's
// "attempt_interrupted") park the attempt, which the next lease reuses.
var attemptClosedReason = map[string]string{
	"cancelled":             "attempt_cancelled",
	"expired":               "expired",
	"failed":                "attempt_failure",
	"interrupted_reclaimed": "reclaimed",
	"retry":                 "attempt_failure",
	"skipped":               "attempt_interrupted",
	"success":               "attempt_success",
}

// executionClosedReason is the closed reason of a parked attempt whose
// execution became terminal (cancelled while delayed, suspension timeout).
var executionClosedReason = map[string]string{
	string(OutcomeCancelled): "attempt_cancelled",
	string(OutcomeExpired):   "expired",
	string(OutcomeFailed):    "attempt_failure",
	string(OutcomeSuccess):   "attempt_success",
}

// ReadSummary returns the attempt's summary document, or (nil, nil) when
// no summary frame was appended. A stored document that does not parse is
// ErrCorruption.
func (b *SQLiteBackend) ReadSummary(ctx context.Context, executionID ExecutionID, attemptIndex AttemptIndex) (*SummaryDocument, error) {
	db, err := b.live("read_summary")
	if err != nil {
		return nil, err
	}
	id, err := ParseExecutionID(string(executionID))
	if err != nil {
		return nil, err
	}
	var out *SummaryDocument
	err = db.read(ctx, func(q *dbgen.Queries) error {
		row, err := q.StreamSummaryGet(ctx, dbgen.StreamSummaryGetParams{ExecutionID: string(id), AttemptIndex: int64(attemptIndex)})
		if isNoRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		doc, err := decodeSummaryDocument(row.DocumentJson)
		if err != nil {
			return err
		}
		text, err := encodeJSONValue(doc)
		if err != nil {
			return errCorruption("stream_summary: document_json: " + err.Error())
		}
		if row.Version < 1 {
			return errCorruption("stream_summary: version " + strconv.FormatInt(row.Version, 10) + " is below 1")
		}
		out = &SummaryDocument{
			DocumentJSON:   text,
			FirstAppliedAt: fromMS(row.FirstAppliedAtMs),
			LastUpdatedAt:  fromMS(row.LastUpdatedAtMs),
			PatchKind:      PatchJSONMerge,
			Version:        uint64(row.Version),
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
