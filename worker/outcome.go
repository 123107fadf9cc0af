package worker

import (
	"time"

	"github.com/flowfabric/ffsqlite/backend"
)

// OutcomeKind says how the runner settled one claimed attempt.
type OutcomeKind string

// Outcome kinds.
const (
	// OutcomeCompleted: the handler returned nil and Complete succeeded.
	OutcomeCompleted OutcomeKind = "completed"
	// OutcomeFailed: Fail ended the execution (a permanent error, or a
	// transient one with no retry left).
	OutcomeFailed OutcomeKind = "failed"
	// OutcomeFinishError: Complete, Fail or Delay failed for a reason
	// other than a lost lease (Err says why); the lease lapses at its
	// expiry and the execution is reclaimed then.
	OutcomeFinishError OutcomeKind = "finish_error"
	// OutcomeLeaseLost: the lease was gone (reported by Renew, or by
	// Complete/Fail/Delay) and the handler's result was discarded.
	OutcomeLeaseLost OutcomeKind = "lease_lost"
	// OutcomeReleased: shutdown interrupted the handler and its lease was
	// released; the execution is claimable again on the same attempt.
	OutcomeReleased OutcomeKind = "released"
	// OutcomeRetryScheduled: Fail scheduled a retry (see Outcome.RetryAt).
	OutcomeRetryScheduled OutcomeKind = "retry_scheduled"
)

// Outcome describes one settled attempt; Config.OutcomeFunc receives it.
type Outcome struct {
	// Job is the attempt (never nil; for an attempt whose input could not
	// be read only the handle-derived fields are set).
	Job *Job
	// Class is the failure class reported to Fail (OutcomeFailed,
	// OutcomeRetryScheduled; "" otherwise).
	Class backend.FailureClass
	// Duration is the handler's run time (0 when it never ran).
	Duration time.Duration
	// Err is the handler's error for OutcomeFailed and
	// OutcomeRetryScheduled, and the backend's error for
	// OutcomeLeaseLost and OutcomeFinishError.
	Err error
	// Kind says what happened.
	Kind OutcomeKind
	// RetryAt is when the retry becomes claimable (OutcomeRetryScheduled).
	RetryAt time.Time
}
