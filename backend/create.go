package backend

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/flowfabric/ffsqlite/dbgen"
)

// instanceTagKey is the tag whose value is copied onto event rows.
const instanceTagKey = "cairn.instance_id"

var tagKeyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-z0-9_][a-z0-9_.]*$`)

// Capability token limits (spec 02 §2).
const (
	maxCapabilityTokens = 256
	maxCapabilityBytes  = 4096
)

// validateCapabilities checks worker or required capability tokens; side
// names which set failed ("required" or "worker") in the detail.
func validateCapabilities(side string, tokens []string) error {
	if len(tokens) > maxCapabilityTokens {
		return errValidation(SubKindInvalidCapabilities, "%s:too_many_tokens", side)
	}
	total := 0
	for _, tok := range tokens {
		if tok == "" {
			return errValidation(SubKindInvalidCapabilities, "%s:empty_token", side)
		}
		if strings.Contains(tok, ",") {
			return errValidation(SubKindInvalidCapabilities, "%s:comma_in_token", side)
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] <= 0x20 || tok[i] == 0x7f {
				return errValidation(SubKindInvalidCapabilities, "%s:control_or_whitespace", side)
			}
		}
		total += len(tok) + 1
	}
	if total > 0 && total-1 > maxCapabilityBytes {
		return errValidation(SubKindInvalidCapabilities, "%s:too_many_bytes", side)
	}
	return nil
}

// clampPriority keeps a priority inside [PriorityMin, PriorityMax].
func clampPriority(p int32) int64 {
	return int64(min(max(p, PriorityMin), PriorityMax))
}

// CreateExecution creates a claimable execution (or a delayed one, or
// returns the existing one for a repeated id or idempotency key).
func (b *SQLiteBackend) CreateExecution(ctx context.Context, args CreateExecutionArgs) (CreateExecutionResult, error) {
	results, err := b.createExecutions(ctx, "create_execution", []CreateExecutionArgs{args}, false)
	if err != nil {
		return CreateExecutionResult{}, err
	}
	return results[0], nil
}

// CreateExecutions creates many executions in one transaction: all of
// them or, on any error, none. Each element is validated and deduplicated
// exactly as CreateExecution does it (a repeated id or idempotency key,
// also within the batch, yields CreateExecutionDuplicate with the first
// execution's id), and results[i] answers args[i]. A validation error
// names the failing element ("executions[3]: ...") and keeps its typed
// identity (errors.Is(err, ErrInvalidInput) and the sub-kind sentinels).
// An empty batch is a no-op.
func (b *SQLiteBackend) CreateExecutions(ctx context.Context, args []CreateExecutionArgs) ([]CreateExecutionResult, error) {
	return b.createExecutions(ctx, "create_executions", args, true)
}

func (b *SQLiteBackend) createExecutions(ctx context.Context, op string, args []CreateExecutionArgs, batch bool) ([]CreateExecutionResult, error) {
	db, err := b.live(op)
	if err != nil {
		return nil, err
	}
	plans, err := planCreates(args, batch)
	if err != nil {
		return nil, err
	}
	if len(plans) == 0 {
		return []CreateExecutionResult{}, nil
	}
	var results []CreateExecutionResult
	err = db.write(ctx, func(ctx context.Context, w *writeTx) error {
		var werr error
		results, werr = w.insertExecutions(ctx, plans)
		return werr
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// planCreates validates and encodes every element before any write; in a
// batch the error names the element.
func planCreates(args []CreateExecutionArgs, batch bool) ([]createPlan, error) {
	plans := make([]createPlan, len(args))
	for i := range args {
		p, err := planCreate(args[i])
		if err != nil {
			if batch {
				return nil, atIndex("executions", i, err)
			}
			return nil, err
		}
		plans[i] = p
	}
	return plans, nil
}

// createPlan is one CreateExecutionArgs after validation, encoded for the
// insert.
type createPlan struct {
	args        CreateExecutionArgs
	partition   int64
	instanceTag sql.NullString // the cairn.instance_id tag, copied to a column
	tagsJSON    string
	policyJSON  sql.NullString
	caps        []string // required capabilities, sorted and deduplicated
	payload     []byte
	// external: the payload is over payloadInlineMax and is stored in
	// ff_exec_payload (the row keeps an empty one).
	external bool
	gates    execGates
	// flow, when set, places the new execution in a flow as it is
	// inserted (BuildFlow; see flowPlacement).
	flow *flowPlacement
}

// flowPlacement is BuildFlow writing a new member's row in its final form:
// in its flow and gated on its inbound edges, the row that creation
// followed by AddExecutionToFlow and ApplyDependencyToChild leave.
type flowPlacement struct {
	flowID   FlowID
	inbound  int64  // applied edges into the member
	lastEdge string // the last of them, named in the blocking detail
}

// placedRow is what a new row stores beyond its initial state vector.
type placedRow struct {
	flowID       sql.NullString
	publicState  PublicState
	lastMutation int64
}

// place applies p's flow placement, if any, to e, a new execution's
// initial state that creation reports as created. The placement's writes
// are stamped with the transaction's time, as the flow calls' would be.
func (w *writeTx) place(p *createPlan, e *exec, created PublicState, createdAt int64) placedRow {
	if p.flow == nil {
		return placedRow{publicState: created, lastMutation: createdAt}
	}
	if p.flow.inbound > 0 {
		e.blockOnDependencies(p.flow.inbound, p.flow.lastEdge)
	}
	return placedRow{
		flowID:       nullString(string(p.flow.flowID)),
		publicState:  derivePublicState(e.phase(), e.eligibility(), OutcomeNone, created),
		lastMutation: w.now,
	}
}

// planCreate is CreateExecution's validation (spec 02 section 2); it
// touches no database.
func planCreate(args CreateExecutionArgs) (createPlan, error) {
	if _, err := ParseExecutionID(string(args.ExecutionID)); err != nil {
		return createPlan{}, err
	}
	if _, err := ParseLaneID(string(args.LaneID)); err != nil {
		return createPlan{}, err
	}
	var required []string
	if args.Policy != nil && args.Policy.RoutingRequirements != nil {
		required = args.Policy.RoutingRequirements.RequiredCapabilities
	}
	if err := validateCapabilities("required", required); err != nil {
		return createPlan{}, err
	}
	for k := range args.Tags {
		if !tagKeyPattern.MatchString(k) {
			return createPlan{}, errValidation(SubKindInvalidTagKey, "invalid tag key %q: want <namespace>.<name> in lowercase", k)
		}
	}
	if args.Policy != nil && args.Policy.DedupWindow < 0 {
		return createPlan{}, errInvalidInput("policy.dedup_window: negative duration")
	}
	gates, err := gatesFromPolicy(args.Policy)
	if err != nil {
		return createPlan{}, err
	}
	tags := args.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	tagsJSON, err := json.Marshal(tags)
	if err != nil {
		return createPlan{}, errInvalidInput("tags: %v", err)
	}
	var policyJSON sql.NullString
	if args.Policy != nil {
		raw, err := json.Marshal(args.Policy)
		if err != nil {
			return createPlan{}, errInvalidInput("policy: %v", err)
		}
		policyJSON = sql.NullString{String: string(raw), Valid: true}
	}
	payload := args.InputPayload
	if payload == nil {
		payload = []byte{}
	}
	external := storedOutOfLine(payload)
	return createPlan{
		args:        args,
		partition:   int64(args.ExecutionID.Partition()),
		instanceTag: nullString(tags[instanceTagKey]),
		tagsJSON:    string(tagsJSON),
		policyJSON:  policyJSON,
		caps:        slices.Compact(slices.Sorted(slices.Values(required))),
		payload:     payload,
		external:    external,
		gates:       gates,
	}, nil
}

// insertExecutions writes validated plans in order inside w; later
// elements see earlier ones, so duplicates within a batch resolve like
// duplicates across calls.
func (w *writeTx) insertExecutions(ctx context.Context, plans []createPlan) ([]CreateExecutionResult, error) {
	results := make([]CreateExecutionResult, len(plans))
	registered := map[LaneID]bool{}
	for i := range plans {
		p := &plans[i]
		lane := p.args.LaneID
		if !registered[lane] && (w.lanes == nil || !w.lanes.has(lane)) {
			// Always (new or duplicate) the lane joins the registry.
			if err := w.q.RegisterLane(ctx, dbgen.RegisterLaneParams{LaneID: string(lane), RegisteredAtMs: w.callerNow(p.args.Now), RegisteredBy: "create_execution"}); err != nil {
				return nil, err
			}
			registered[lane] = true
			w.registered = append(w.registered, lane)
		}
	}
	for i := 0; i < len(plans); {
		// A run of plain elements goes in one statement; the others one
		// by one, in order, so a later element always sees earlier ones.
		j := i
		for j < len(plans) && plans[j].plain() {
			j++
		}
		if j-i >= 2 {
			if err := w.insertPlainRun(ctx, plans[i:j], results[i:j]); err != nil {
				return nil, err
			}
			i = j
			continue
		}
		res, err := w.insertExecution(ctx, &plans[i])
		if err != nil {
			return nil, err
		}
		results[i] = res
		i++
	}
	return results, nil
}

// plain reports an element that needs nothing but its ff_exec_core row:
// no idempotency lookup, capability rows, gates or out-of-line payload.
func (p *createPlan) plain() bool {
	return p.args.IdempotencyKey == "" && len(p.caps) == 0 && p.gates.none() && !p.external
}

// insertPlainRun inserts a run of plain elements with one statement
// (InsertExecutionsJSON): the rows travel as one JSON document, which
// spares the driver a 27-parameter bind per row. A repeated id, within the
// run or with an existing execution, is a duplicate as in insertExecution.
func (w *writeTx) insertPlainRun(ctx context.Context, plans []createPlan, results []CreateExecutionResult) error {
	rows := make([][]any, len(plans))
	states := make([]PublicState, len(plans))
	stored := make([]PublicState, len(plans))
	for i := range plans {
		p := &plans[i]
		e, delayUntil := w.initialState(p)
		states[i] = derivePublicState(e.phase(), e.eligibility(), OutcomeNone, "")
		createdAt := w.callerNow(p.args.Now)
		placed := w.place(p, e, states[i], createdAt)
		stored[i] = placed.publicState
		rows[i] = []any{
			string(p.args.ExecutionID), p.partition, string(p.args.LaneID), string(p.args.Namespace),
			p.args.ExecutionKind, p.args.CreatorIdentity, hex.EncodeToString(p.payload),
			jsonNull(nullString(p.args.PayloadEncoding)), p.tagsJSON, jsonNull(p.instanceTag),
			jsonNull(p.policyJSON), clampPriority(p.args.Priority),
			e.LifecyclePhase, e.OwnershipState, e.EligibilityState, e.AttemptState, e.BlockingReason,
			string(OutcomeNone), string(placed.publicState), e.BlockingDetail, 0,
			jsonNull(delayUntil), jsonNull(nullMS(p.args.ExecutionDeadlineAt)),
			createdAt, placed.lastMutation, jsonNull(placed.flowID),
		}
	}
	batch, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	inserted, err := w.q.InsertExecutionsJSON(ctx, string(batch))
	if err != nil {
		return err
	}
	created := make(map[string]bool, len(inserted))
	for _, id := range inserted {
		created[id] = true
	}
	for i := range plans {
		id := plans[i].args.ExecutionID
		if !created[string(id)] {
			results[i] = CreateExecutionResult{ExecutionID: id, Kind: CreateExecutionDuplicate}
			continue
		}
		delete(created, string(id)) // a later repeat in the run is a duplicate
		results[i] = CreateExecutionResult{ExecutionID: id, Kind: CreateExecutionCreated, PublicState: states[i]}
		if stored[i] == PublicStateWaiting {
			w.wake(topicClaimable)
		}
	}
	return nil
}

// payloadInlineMax is the largest input payload kept in the execution's
// own row. Every state change rewrites that row whole, overflow pages
// included, and every claim and lease check reads it; a larger payload is
// stored once in ff_exec_payload and read only by ReadExecutionContext.
const payloadInlineMax = 1024

// storedOutOfLine reports whether an input payload goes to ff_exec_payload.
func storedOutOfLine(payload []byte) bool { return len(payload) > payloadInlineMax }

// inlinePayload is what the row's payload column holds: the payload, or
// nothing when it is stored out of line.
func inlinePayload(payload []byte, external bool) []byte {
	if external {
		return []byte{}
	}
	return payload
}

// boolInt is a boolean as an INTEGER 0/1 column value.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// setPayload replaces an execution's input payload, inline or out of line
// by its size.
func (w *writeTx) setPayload(ctx context.Context, id string, payload []byte) error {
	external := storedOutOfLine(payload)
	if external {
		if err := w.q.PayloadPut(ctx, dbgen.PayloadPutParams{ExecutionID: id, Payload: payload}); err != nil {
			return err
		}
	} else if err := w.q.PayloadDelete(ctx, id); err != nil {
		return err
	}
	return w.q.ExecutionSetPayload(ctx, dbgen.ExecutionSetPayloadParams{
		Payload: inlinePayload(payload, external), PayloadExternal: boolInt(external), ExecutionID: id,
	})
}

// jsonNull renders a nullable column value for InsertExecutionsJSON.
func jsonNull(v driver.Valuer) any {
	x, _ := v.Value() // sql.NullString and sql.NullInt64 never fail
	return x
}

// initialState is a new execution's state vector: waiting, or delayed
// when DelayUntil is after now.
func (w *writeTx) initialState(p *createPlan) (*exec, sql.NullInt64) {
	e := &exec{}
	e.setState(PhaseRunnable, OwnershipUnowned, EligibilityEligibleNow, AttemptStatePendingFirstAttempt, BlockingWaitingForWorker)
	var delayUntil sql.NullInt64
	if until := p.args.DelayUntil; !until.IsZero() && toMS(until) > w.now {
		e.EligibilityState = string(EligibilityNotEligibleUntilTime)
		e.BlockingReason = string(BlockingWaitingForDelay)
		e.BlockingDetail = "delayed until " + fromMS(toMS(until)).Format("2006-01-02T15:04:05.000Z07:00")
		delayUntil = nullInt(toMS(until))
	}
	return e, delayUntil
}

// insertExecution writes one validated plan, or finds the execution it
// duplicates.
func (w *writeTx) insertExecution(ctx context.Context, p *createPlan) (CreateExecutionResult, error) {
	args := &p.args
	// The caller's now stamps the row; the dedup window runs on the
	// backend clock (spec 02 section 2).
	createdAt := w.callerNow(args.Now)
	var idemExpires sql.NullInt64
	if args.IdempotencyKey != "" {
		existing, err := w.q.FindByIdempotencyKey(ctx, dbgen.FindByIdempotencyKeyParams{
			PartitionKey: p.partition, Namespace: string(args.Namespace),
			IdempotencyKey: nullString(args.IdempotencyKey), NowMs: nullInt(w.now),
		})
		if err == nil {
			return CreateExecutionResult{ExecutionID: ExecutionID(existing), Kind: CreateExecutionDuplicate}, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return CreateExecutionResult{}, err
		}
		window := DedupWindowDefault
		if args.Policy != nil && args.Policy.DedupWindow > 0 {
			window = args.Policy.DedupWindow
		}
		idemExpires = nullInt(w.now + durationToMS(window))
	}

	e, delayUntil := w.initialState(p)
	state := derivePublicState(e.phase(), e.eligibility(), OutcomeNone, "")
	placed := w.place(p, e, state, createdAt)
	n, err := w.q.InsertExecution(ctx, dbgen.InsertExecutionParams{
		ExecutionID:            string(args.ExecutionID),
		PartitionKey:           p.partition,
		LaneID:                 string(args.LaneID),
		Namespace:              string(args.Namespace),
		ExecutionKind:          args.ExecutionKind,
		CreatorIdentity:        args.CreatorIdentity,
		Payload:                inlinePayload(p.payload, p.external),
		PayloadExternal:        boolInt(p.external),
		PayloadEncoding:        nullString(args.PayloadEncoding),
		Tags:                   p.tagsJSON,
		InstanceTag:            p.instanceTag,
		Policy:                 p.policyJSON,
		Priority:               clampPriority(args.Priority),
		LifecyclePhase:         e.LifecyclePhase,
		OwnershipState:         e.OwnershipState,
		EligibilityState:       e.EligibilityState,
		AttemptState:           e.AttemptState,
		BlockingReason:         e.BlockingReason,
		TerminalOutcome:        string(OutcomeNone),
		PublicState:            string(placed.publicState),
		BlockingDetail:         e.BlockingDetail,
		RequiredCapCount:       int64(len(p.caps)),
		DelayUntilMs:           delayUntil,
		DeadlineAtMs:           nullMS(args.ExecutionDeadlineAt),
		IdempotencyKey:         nullString(args.IdempotencyKey),
		IdempotencyExpiresAtMs: idemExpires,
		CreatedAtMs:            createdAt,
		LastMutationAtMs:       placed.lastMutation,
		FlowID:                 placed.flowID,
	})
	if err != nil {
		return CreateExecutionResult{}, err
	}
	if n == 0 {
		return CreateExecutionResult{ExecutionID: args.ExecutionID, Kind: CreateExecutionDuplicate}, nil
	}
	if p.external {
		if err := w.q.PayloadPut(ctx, dbgen.PayloadPutParams{ExecutionID: string(args.ExecutionID), Payload: p.payload}); err != nil {
			return CreateExecutionResult{}, err
		}
	}
	for _, c := range p.caps {
		if err := w.q.InsertCapability(ctx, dbgen.InsertCapabilityParams{ExecutionID: string(args.ExecutionID), Capability: c}); err != nil {
			return CreateExecutionResult{}, err
		}
	}
	if err := w.storeGates(ctx, string(args.ExecutionID), p.gates); err != nil {
		return CreateExecutionResult{}, err
	}
	if placed.publicState == PublicStateWaiting {
		w.wake(topicClaimable)
	}
	return CreateExecutionResult{ExecutionID: args.ExecutionID, Kind: CreateExecutionCreated, PublicState: state}, nil
}
