package backend

import "time"

// Stream limits and markers.
const (
	// MaxFramePayloadBytes is the largest Frame.Bytes AppendFrame accepts.
	MaxFramePayloadBytes = 65536
	// StreamReadHardCap is the largest countLimit honoured by ReadStream and
	// TailStream (larger values are clamped).
	StreamReadHardCap = 10000
	// SummaryNullSentinel is a string value a summary patch uses to store an
	// explicit JSON null (a patch null deletes the key).
	SummaryNullSentinel = "__ff_null__"
)

// FrameKind classifies a frame.
type FrameKind string

// Frame kinds.
const (
	FrameBlob   FrameKind = "blob"
	FrameEvent  FrameKind = "event"
	FrameStderr FrameKind = "stderr"
	FrameStdout FrameKind = "stdout"
)

// Frame is one entry appended to the stream of the handle's attempt.
type Frame struct {
	// Bytes is the payload (at most MaxFramePayloadBytes; for summary frames
	// a JSON merge patch whose root is an object).
	Bytes         []byte
	CorrelationID string // "" = none
	// FrameType labels the frame ("" = Kind's wire name).
	FrameType string
	Kind      FrameKind
	// Mode selects durability (zero = durable).
	Mode StreamMode
}

// StreamModeKind distinguishes stream modes.
type StreamModeKind string

// Stream modes. The zero value means StreamDurable.
const (
	// StreamBestEffort frames are live-only: each append trims the stream
	// (all modes) to an adaptive length (see BestEffortLiveConfig).
	StreamBestEffort StreamModeKind = "best_effort"
	StreamDurable    StreamModeKind = "durable"
	// StreamSummary frames are also applied as a JSON merge patch to the
	// attempt's summary document (ReadSummary).
	StreamSummary StreamModeKind = "summary"
)

// StreamMode is a frame's durability mode.
type StreamMode struct {
	BestEffort BestEffortLiveConfig // best_effort
	Kind       StreamModeKind
	PatchKind  PatchKind // summary ("" = json-merge-patch)
}

// DurableMode returns the durable mode.
func DurableMode() StreamMode {
	return StreamMode{Kind: StreamDurable}
}

// SummaryMode returns the summary mode with JSON merge patch.
func SummaryMode() StreamMode {
	return StreamMode{Kind: StreamSummary, PatchKind: PatchJSONMerge}
}

// BestEffortMode returns the best-effort mode.
func BestEffortMode(cfg BestEffortLiveConfig) StreamMode {
	return StreamMode{Kind: StreamBestEffort, BestEffort: cfg}
}

// PatchKind is the summary patch format.
type PatchKind string

// Patch kinds.
const PatchJSONMerge PatchKind = "json-merge-patch"

// BestEffortLiveConfig tunes best-effort trimming: the kept length is
// clamp(ceil(rate_ema × TTL) × 2, MaxlenFloor, MaxlenCeiling).
type BestEffortLiveConfig struct {
	EMAAlpha      float64 // (0, 1]; otherwise 0.2
	MaxlenCeiling uint32  // 0 = 16384
	MaxlenFloor   uint32  // 0 = 64
	TTL           time.Duration
}

// AppendFrameOutcome is the outcome of AppendFrame.
type AppendFrameOutcome struct {
	// FrameCount is the number of frames retained for the attempt.
	FrameCount uint64
	// StreamID is the new entry's id, "<ms>-<seq>".
	StreamID string
	// SummaryVersion is the summary version after a summary frame (0 for
	// other modes).
	SummaryVersion uint64
}

// StreamCursor is a position in an attempt's stream: "start", "end", or
// an entry id "<ms>" / "<ms>-<seq>" (ASCII digits). ReadStream bounds are
// inclusive; TailStream's after is exclusive and must be an entry id.
type StreamCursor string

// Stream cursor markers.
const (
	// StreamFromBeginning ("0-0") as TailStream's after returns everything.
	StreamFromBeginning StreamCursor = "0-0"
	StreamEnd           StreamCursor = "end"
	StreamStart         StreamCursor = "start"
)

// StreamAt returns the cursor for an entry id.
func StreamAt(id string) StreamCursor {
	return StreamCursor(id)
}

// ParseStreamCursor validates s (empty, bare "-"/"+" and anything that is
// not a marker or digits[-digits] are ErrInvalidInput).
func ParseStreamCursor(s string) (StreamCursor, error) {
	if _, err := parseStreamPosition(StreamCursor(s)); err != nil {
		return "", err
	}
	return StreamCursor(s), nil
}

// String returns the cursor text.
func (c StreamCursor) String() string {
	return string(c)
}

// StreamFrame is one stored frame.
type StreamFrame struct {
	// Fields are the frame's fields: frame_type, payload, encoding
	// ("utf8"), source ("worker"), ts, mode, and correlation_id /
	// summary_version when set; non-string values as JSON text.
	Fields map[string]string
	// ID is "<ms>-<seq>".
	ID string
}

// StreamFrames is a page of frames plus the stream's closed marker.
type StreamFrames struct {
	// ClosedAt is set once the attempt is terminal (zero while open).
	ClosedAt time.Time
	// ClosedReason (when closed): attempt_success, attempt_failure,
	// attempt_cancelled, reclaimed, expired or attempt_interrupted.
	ClosedReason string
	Frames       []StreamFrame
}

// TailVisibility filters TailStream.
type TailVisibility string

// Tail visibilities. The zero value means TailAll.
const (
	TailAll               TailVisibility = "all"
	TailExcludeBestEffort TailVisibility = "exclude_best_effort"
)

// SummaryDocument is an attempt's rolling summary.
type SummaryDocument struct {
	// DocumentJSON is compact JSON with sorted object keys.
	DocumentJSON   []byte
	FirstAppliedAt time.Time
	LastUpdatedAt  time.Time
	PatchKind      PatchKind
	// Version counts applied patches (>= 1).
	Version uint64
}
