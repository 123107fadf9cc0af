package backend

import (
	"context"
	"database/sql"
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
	db, err := b.live("create_execution")
	if err != nil {
		return CreateExecutionResult{}, err
	}
	// Validation, all before the transaction.
	if _, err := ParseExecutionID(string(args.ExecutionID)); err != nil {
		return CreateExecutionResult{}, err
	}
	if _, err := ParseLaneID(string(args.LaneID)); err != nil {
		return CreateExecutionResult{}, err
	}
	var required []string
	if args.Policy != nil && args.Policy.RoutingRequirements != nil {
		required = args.Policy.RoutingRequirements.RequiredCapabilities
	}
	if err := validateCapabilities("required", required); err != nil {
		return CreateExecutionResult{}, err
	}
	for k := range args.Tags {
		if !tagKeyPattern.MatchString(k) {
			return CreateExecutionResult{}, errValidation(SubKindInvalidTagKey, "invalid tag key %q: want <namespace>.<name> in lowercase", k)
		}
	}
	if args.Policy != nil && args.Policy.DedupWindow < 0 {
		return CreateExecutionResult{}, errInvalidInput("policy.dedup_window: negative duration")
	}
	gates, err := gatesFromPolicy(args.Policy)
	if err != nil {
		return CreateExecutionResult{}, err
	}
	tags := args.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	tagsJSON, err := json.Marshal(tags)
	if err != nil {
		return CreateExecutionResult{}, errInvalidInput("tags: %v", err)
	}
	var policyJSON sql.NullString
	if args.Policy != nil {
		raw, err := json.Marshal(args.Policy)
		if err != nil {
			return CreateExecutionResult{}, errInvalidInput("policy: %v", err)
		}
		policyJSON = sql.NullString{String: string(raw), Valid: true}
	}
	caps := slices.Compact(slices.Sorted(slices.Values(required)))
	payload := args.InputPayload
	if payload == nil {
		payload = []byte{}
	}
	partition := int64(args.ExecutionID.Partition())

	var result CreateExecutionResult
	err = db.write(ctx, func(w *writeTx) error {
		// The caller's now stamps the row; the dedup window runs on the
		// backend clock (spec 02 §2).
		createdAt := w.callerNow(args.Now)
		// Always (new or duplicate) the lane joins the registry.
		if err := w.q.RegisterLane(ctx, dbgen.RegisterLaneParams{LaneID: string(args.LaneID), RegisteredAtMs: createdAt, RegisteredBy: "create_execution"}); err != nil {
			return err
		}
		var idemExpires sql.NullInt64
		if args.IdempotencyKey != "" {
			existing, err := w.q.FindByIdempotencyKey(ctx, dbgen.FindByIdempotencyKeyParams{
				PartitionKey: partition, Namespace: string(args.Namespace),
				IdempotencyKey: nullString(args.IdempotencyKey), NowMs: nullInt(w.now),
			})
			if err == nil {
				result = CreateExecutionResult{ExecutionID: ExecutionID(existing), Kind: CreateExecutionDuplicate}
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			window := DedupWindowDefault
			if args.Policy != nil && args.Policy.DedupWindow > 0 {
				window = args.Policy.DedupWindow
			}
			idemExpires = nullInt(w.now + durationToMS(window))
		}

		e := &exec{}
		e.setState(PhaseRunnable, OwnershipUnowned, EligibilityEligibleNow, AttemptStatePendingFirstAttempt, BlockingWaitingForWorker)
		var delayUntil sql.NullInt64
		if !args.DelayUntil.IsZero() && toMS(args.DelayUntil) > w.now {
			e.EligibilityState = string(EligibilityNotEligibleUntilTime)
			e.BlockingReason = string(BlockingWaitingForDelay)
			e.BlockingDetail = "delayed until " + fromMS(toMS(args.DelayUntil)).Format("2006-01-02T15:04:05.000Z07:00")
			delayUntil = nullInt(toMS(args.DelayUntil))
		}
		state := derivePublicState(e.phase(), e.eligibility(), OutcomeNone, "")
		instanceTag := nullString(tags[instanceTagKey])
		n, err := w.q.InsertExecution(ctx, dbgen.InsertExecutionParams{
			ExecutionID:            string(args.ExecutionID),
			PartitionKey:           partition,
			LaneID:                 string(args.LaneID),
			Namespace:              string(args.Namespace),
			ExecutionKind:          args.ExecutionKind,
			CreatorIdentity:        args.CreatorIdentity,
			Payload:                payload,
			PayloadEncoding:        nullString(args.PayloadEncoding),
			Tags:                   string(tagsJSON),
			InstanceTag:            instanceTag,
			Policy:                 policyJSON,
			Priority:               clampPriority(args.Priority),
			LifecyclePhase:         e.LifecyclePhase,
			OwnershipState:         e.OwnershipState,
			EligibilityState:       e.EligibilityState,
			AttemptState:           e.AttemptState,
			BlockingReason:         e.BlockingReason,
			TerminalOutcome:        string(OutcomeNone),
			PublicState:            string(state),
			BlockingDetail:         e.BlockingDetail,
			RequiredCapCount:       int64(len(caps)),
			DelayUntilMs:           delayUntil,
			DeadlineAtMs:           nullMS(args.ExecutionDeadlineAt),
			IdempotencyKey:         nullString(args.IdempotencyKey),
			IdempotencyExpiresAtMs: idemExpires,
			CreatedAtMs:            createdAt,
			LastMutationAtMs:       createdAt,
		})
		if err != nil {
			return err
		}
		if n == 0 {
			result = CreateExecutionResult{ExecutionID: args.ExecutionID, Kind: CreateExecutionDuplicate}
			return nil
		}
		for _, c := range caps {
			if err := w.q.InsertCapability(ctx, dbgen.InsertCapabilityParams{ExecutionID: string(args.ExecutionID), Capability: c}); err != nil {
				return err
			}
		}
		if err := w.storeGates(ctx, string(args.ExecutionID), gates); err != nil {
			return err
		}
		if state == PublicStateWaiting {
			w.wake(topicClaimable)
		}
		result = CreateExecutionResult{ExecutionID: args.ExecutionID, Kind: CreateExecutionCreated, PublicState: state}
		return nil
	})
	if err != nil {
		return CreateExecutionResult{}, err
	}
	return result, nil
}
