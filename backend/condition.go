package backend

import (
	"encoding/json"
	"fmt"
)

// Resume conditions: validation, the stored JSON form and evaluation over
// a suspension's signals (spec 04 §3.2, §5.0b).

// Reserved names a waitpoint reports in RequiredSignalNames for conditions
// no signal can satisfy (spec 04 §5.0b).
const (
	operatorOnlyName = "__operator_only__"
	timeoutOnlyName  = "__timeout_only__"
)

// timeoutSignalKey is the key the synthetic auto-resume timeout signal is
// recorded under.
const timeoutSignalKey = "__timeout__"

// validateCondition checks the structural limits of API.md
// ResumeCondition: known kinds, non-empty all_of members, count N >= 1
// over a non-empty waitpoint set (and no more distinct waitpoints than
// listed), by-name matchers with a name, and composite nesting at most
// MaxCompositeDepth deep.
func validateCondition(c ResumeCondition) error {
	return validateConditionAt(c, "<root>", 0)
}

// validateConditionAt checks c at path; depth counts the composites (all_of,
// count) enclosing and including c, from 1 at the outermost one.
func validateConditionAt(c ResumeCondition, path string, depth int) error {
	switch c.Kind {
	case ConditionSingle:
		return validateMatcher(c.Matcher, path)
	case ConditionOperatorOnly, ConditionTimeoutOnly:
		return nil
	case ConditionAllOf, ConditionCount:
	default:
		return errInvalidInput("resume_condition: unknown kind %q at path %s", c.Kind, path)
	}
	depth++
	if depth > MaxCompositeDepth {
		return errInvalidInput("resume_condition: depth %d exceeds cap %d at path %s", depth, MaxCompositeDepth, path)
	}
	if c.Kind == ConditionAllOf {
		if len(c.Members) == 0 {
			return errInvalidInput("resume_condition: allof_empty_members at path %s", path)
		}
		for i, m := range c.Members {
			p := fmt.Sprintf("members[%d]", i)
			if path != "<root>" {
				p = path + "." + p
			}
			if err := validateConditionAt(m, p, depth); err != nil {
				return err
			}
		}
		return nil
	}
	switch c.CountKind {
	case CountDistinctSignals, CountDistinctSources, CountDistinctWaitpoints:
	default:
		return errInvalidInput("resume_condition: unknown count kind %q at path %s", c.CountKind, path)
	}
	if c.N == 0 {
		return errInvalidInput("resume_condition: count_n_zero at path %s", path)
	}
	if len(c.Waitpoints) == 0 {
		return errInvalidInput("resume_condition: count_waitpoints_empty at path %s", path)
	}
	if c.CountKind == CountDistinctWaitpoints && int(c.N) > len(c.Waitpoints) {
		return errInvalidInput("resume_condition: count_exceeds_waitpoint_set: n=%d > waitpoints.len()=%d at path %s", c.N, len(c.Waitpoints), path)
	}
	return validateMatcher(c.Matcher, path)
}

func validateMatcher(m SignalMatcher, path string) error {
	switch m.Kind {
	case "", MatchWildcard:
		return nil
	case MatchByName:
		if m.Name == "" {
			return errInvalidInput("resume_condition: empty signal name (use Wildcard instead) at path %s", path)
		}
		return nil
	}
	return errInvalidInput("resume_condition: unknown matcher kind %q at path %s", m.Kind, path)
}

// matches reports whether signal s passes m (the zero matcher passes all).
func (m SignalMatcher) matches(s *ResumeSignal) bool {
	if m.Kind == MatchByName {
		return s.SignalName == m.Name
	}
	return true
}

// signalsByKey is a suspension's signals grouped by waitpoint key, each
// group in delivery order.
type signalsByKey map[WaitpointKey][]ResumeSignal

// satisfiedBy evaluates c over the suspension's signals (spec 04 §5.0b).
func (c ResumeCondition) satisfiedBy(sigs signalsByKey) bool {
	switch c.Kind {
	case ConditionSingle:
		for i := range sigs[c.WaitpointKey] {
			if c.Matcher.matches(&sigs[c.WaitpointKey][i]) {
				return true
			}
		}
		return false
	case ConditionAllOf:
		if len(c.Members) == 0 {
			return false
		}
		for _, m := range c.Members {
			if !m.satisfiedBy(sigs) {
				return false
			}
		}
		return true
	case ConditionCount:
		distinct := map[any]struct{}{}
		for _, key := range c.Waitpoints {
			for i := range sigs[key] {
				s := &sigs[key][i]
				if !c.Matcher.matches(s) {
					continue
				}
				switch c.CountKind {
				case CountDistinctWaitpoints:
					distinct[key] = struct{}{}
				case CountDistinctSignals:
					distinct[s.SignalID] = struct{}{}
				case CountDistinctSources:
					distinct[[2]string{s.SourceType, s.SourceIdentity}] = struct{}{}
				}
			}
		}
		return len(distinct) >= int(c.N)
	}
	// operator_only and timeout_only are never satisfied by signals.
	return false
}

// requiredSignalNames derives what a waitpoint under key reports as the
// names that can satisfy it: distinct non-empty names in first-seen order
// ([] = any signal).
func (c ResumeCondition) requiredSignalNames(key WaitpointKey) []string {
	names := []string{}
	seen := map[string]bool{}
	push := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	var walk func(ResumeCondition)
	walk = func(c ResumeCondition) {
		switch c.Kind {
		case ConditionSingle:
			if c.WaitpointKey == key && c.Matcher.Kind == MatchByName {
				push(c.Matcher.Name)
			}
		case ConditionOperatorOnly:
			push(operatorOnlyName)
		case ConditionTimeoutOnly:
			push(timeoutOnlyName)
		case ConditionAllOf:
			for _, m := range c.Members {
				walk(m)
			}
		case ConditionCount:
			if c.Matcher.Kind == MatchByName {
				for _, w := range c.Waitpoints {
					if w == key {
						push(c.Matcher.Name)
						break
					}
				}
			}
		}
	}
	walk(c)
	return names
}

// The stored JSON form mirrors the original's serde shape (spec 04 §3.2),
// so databases stay readable by either implementation:
//
//	{"Single":{"waitpoint_key":"K","matcher":{"ByName":"n"}}}
//	{"Single":{"waitpoint_key":"K","matcher":"Wildcard"}}
//	"OperatorOnly" / "TimeoutOnly"
//	{"Composite":{"kind":"AllOf","members":[...]}}
//	{"Composite":{"kind":"Count","n":2,"count_kind":"DistinctSources","matcher":{"ByName":"x"},"waitpoints":["K1"]}}

var countKindWire = map[CountKind]string{
	CountDistinctWaitpoints: "DistinctWaitpoints",
	CountDistinctSignals:    "DistinctSignals",
	CountDistinctSources:    "DistinctSources",
}

// conditionJSON renders a validated condition in the stored form.
func conditionJSON(c ResumeCondition) (string, error) {
	raw, err := json.Marshal(conditionValue(c))
	if err != nil {
		return "", err
	}
	return string(raw), nil
}

func conditionValue(c ResumeCondition) any {
	switch c.Kind {
	case ConditionSingle:
		return map[string]any{"Single": map[string]any{
			"waitpoint_key": string(c.WaitpointKey),
			"matcher":       matcherValue(c.Matcher),
		}}
	case ConditionOperatorOnly:
		return "OperatorOnly"
	case ConditionTimeoutOnly:
		return "TimeoutOnly"
	case ConditionAllOf:
		members := make([]any, 0, len(c.Members))
		for _, m := range c.Members {
			members = append(members, conditionValue(m))
		}
		return map[string]any{"Composite": map[string]any{"kind": "AllOf", "members": members}}
	}
	body := map[string]any{
		"kind":       "Count",
		"n":          c.N,
		"count_kind": countKindWire[c.CountKind],
		"waitpoints": c.Waitpoints,
	}
	// The original's count matcher is optional: absent means "all".
	if c.Matcher.Kind != "" {
		body["matcher"] = matcherValue(c.Matcher)
	}
	return map[string]any{"Composite": body}
}

func matcherValue(m SignalMatcher) any {
	if m.Kind == MatchByName {
		return map[string]string{"ByName": m.Name}
	}
	return "Wildcard"
}

// parseCondition decodes the stored form; anything else is ErrCorruption.
func parseCondition(s string) (ResumeCondition, error) {
	var raw json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return ResumeCondition{}, errCorruption("condition: " + err.Error())
	}
	c, err := conditionFrom(raw)
	if err != nil {
		return ResumeCondition{}, errCorruption("condition: " + err.Error())
	}
	return c, nil
}

func conditionFrom(raw json.RawMessage) (ResumeCondition, error) {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		switch name {
		case "OperatorOnly":
			return OperatorOnlyCondition(), nil
		case "TimeoutOnly":
			return TimeoutOnlyCondition(), nil
		}
		return ResumeCondition{}, fmt.Errorf("unknown condition %q", name)
	}
	var tagged struct {
		Single *struct {
			WaitpointKey string          `json:"waitpoint_key"`
			Matcher      json.RawMessage `json:"matcher"`
		} `json:"Single"`
		Composite *struct {
			Kind       string            `json:"kind"`
			Members    []json.RawMessage `json:"members"`
			N          uint32            `json:"n"`
			CountKind  string            `json:"count_kind"`
			Matcher    json.RawMessage   `json:"matcher"`
			Waitpoints []WaitpointKey    `json:"waitpoints"`
		} `json:"Composite"`
	}
	if err := json.Unmarshal(raw, &tagged); err != nil {
		return ResumeCondition{}, err
	}
	switch {
	case tagged.Single != nil:
		m, err := matcherFrom(tagged.Single.Matcher)
		if err != nil {
			return ResumeCondition{}, err
		}
		return SingleCondition(WaitpointKey(tagged.Single.WaitpointKey), m), nil
	case tagged.Composite != nil && tagged.Composite.Kind == "AllOf":
		members := make([]ResumeCondition, 0, len(tagged.Composite.Members))
		for _, mr := range tagged.Composite.Members {
			m, err := conditionFrom(mr)
			if err != nil {
				return ResumeCondition{}, err
			}
			members = append(members, m)
		}
		return ResumeCondition{Kind: ConditionAllOf, Members: members}, nil
	case tagged.Composite != nil && tagged.Composite.Kind == "Count":
		body := tagged.Composite
		var kind CountKind
		for k, wire := range countKindWire {
			if wire == body.CountKind {
				kind = k
			}
		}
		if kind == "" {
			return ResumeCondition{}, fmt.Errorf("unknown count_kind %q", body.CountKind)
		}
		var m SignalMatcher
		if len(body.Matcher) > 0 && string(body.Matcher) != "null" {
			var err error
			if m, err = matcherFrom(body.Matcher); err != nil {
				return ResumeCondition{}, err
			}
		}
		return CountCondition(body.N, kind, m, body.Waitpoints...), nil
	}
	return ResumeCondition{}, fmt.Errorf("unknown condition shape %s", string(raw))
}

func matcherFrom(raw json.RawMessage) (SignalMatcher, error) {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		if name == "Wildcard" {
			return Wildcard(), nil
		}
		return SignalMatcher{}, fmt.Errorf("unknown matcher %q", name)
	}
	var byName struct {
		ByName *string `json:"ByName"`
	}
	if err := json.Unmarshal(raw, &byName); err != nil || byName.ByName == nil {
		return SignalMatcher{}, fmt.Errorf("unknown matcher %s", string(raw))
	}
	return ByName(*byName.ByName), nil
}
