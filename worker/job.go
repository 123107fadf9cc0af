package worker

import (
	"context"
	"errors"
	"sync"

	"github.com/flowfabric/ffsqlite/backend"
)

// Handler runs one attempt of an execution. Returning nil completes the
// execution (with the payload given to SetResult, if any); returning an
// error fails it, transiently unless the error is wrapped with Permanent.
// ctx is cancelled when the lease is lost (cause ErrLeaseLost) or when the
// shutdown grace runs out (cause ErrShuttingDown); see context.Cause.
type Handler func(ctx context.Context, job *Job) error

// Job is one claimed attempt as a handler sees it. The runner fills it
// from the lease handle and one ReadExecutionContext read (the handle
// carries ids only, and nearly every handler needs the input), and never
// changes it afterwards; handlers must not change it either.
type Job struct {
	// ExecutionID is the execution being run.
	ExecutionID backend.ExecutionID
	// AttemptIndex numbers the attempt, from 0; a retry scheduled by a
	// transient failure runs with the next index.
	AttemptIndex backend.AttemptIndex
	// ExecutionKind is the kind given at creation.
	ExecutionKind string
	// Handle is the lease handle, for backend calls the helpers don't
	// cover (ReportUsage, CreateWaitpoint, ObserveSignals, …). Don't end
	// the attempt with it (Complete, Fail, Cancel, Delay, Suspend, …): the
	// runner does that when the handler returns, and its own call would
	// then be rejected and reported as OutcomeLeaseLost.
	Handle backend.Handle
	// HandleKind is backend.HandleReclaimed when the attempt was taken
	// over from a worker whose lease lapsed (its work may be half done).
	HandleKind backend.HandleKind
	// InputPayload is the execution's input (empty, never nil, when none
	// was given).
	InputPayload []byte
	// Lane is the lane it was claimed from.
	Lane backend.LaneID
	// Tags are the execution's tags.
	Tags map[string]string

	b backend.EngineBackend

	// mu guards the fields below: helpers may be called from goroutines
	// the handler starts.
	mu       sync.Mutex
	finished bool   // the runner has settled the attempt
	result   []byte // set by SetResult
}

// jobKey is the context key under which a handler's context carries its Job.
type jobKey struct{}

// Sentinels of the handler helpers and of the handler context's cause.
var (
	// ErrNotInHandler is returned by the helpers when ctx does not come
	// from a Handler.
	ErrNotInHandler = errors.New("worker: no job in context: not called from a handler")
	// ErrJobFinished is returned by the helpers after the runner settled
	// the attempt (the handler returned, its lease was lost, or shutdown
	// released it), e.g. from a goroutine that outlived its handler.
	ErrJobFinished = errors.New("worker: job already finished")
	// ErrLeaseLost is the cause of a handler context cancelled because
	// Renew reported the lease gone (revoked, expired, execution
	// cancelled): the execution is no longer this worker's.
	ErrLeaseLost = errors.New("worker: lease lost")
	// ErrShuttingDown is the cause of a handler context cancelled because
	// the runner's shutdown grace ran out.
	ErrShuttingDown = errors.New("worker: shutting down")
)

// JobFromContext returns the Job of the handler ctx belongs to.
func JobFromContext(ctx context.Context) (*Job, bool) {
	j, ok := ctx.Value(jobKey{}).(*Job)
	return j, ok && j != nil
}

// liveJob returns ctx's job, or ErrNotInHandler / ErrJobFinished.
func liveJob(ctx context.Context) (*Job, error) {
	j, ok := JobFromContext(ctx)
	if !ok {
		return nil, ErrNotInHandler
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.finished {
		return nil, ErrJobFinished
	}
	return j, nil
}

// Progress records a progress heartbeat (percent and message) for the
// handler's execution. Errors are the backend's (e.g. ErrStaleLease after
// the lease moved on), ErrNotInHandler or ErrJobFinished.
func Progress(ctx context.Context, percent uint8, message string) error {
	j, err := liveJob(ctx)
	if err != nil {
		return err
	}
	return j.b.Progress(ctx, j.Handle, &percent, &message)
}

// AppendFrame appends frame to the stream of the handler's attempt (see
// backend.EngineBackend.AppendFrame for its errors), or returns
// ErrNotInHandler or ErrJobFinished.
func AppendFrame(ctx context.Context, frame backend.Frame) (backend.AppendFrameOutcome, error) {
	j, err := liveJob(ctx)
	if err != nil {
		return backend.AppendFrameOutcome{}, err
	}
	return j.b.AppendFrame(ctx, j.Handle, frame)
}

// SetResult sets the payload the runner stores with Complete when the
// handler returns nil (a later call replaces it; nil means no result,
// empty means an empty result). The runner keeps payload as is, so don't
// modify it afterwards. It writes nothing to the backend; it returns
// ErrNotInHandler or ErrJobFinished when there is no running job.
func SetResult(ctx context.Context, payload []byte) error {
	j, ok := JobFromContext(ctx)
	if !ok {
		return ErrNotInHandler
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.finished {
		return ErrJobFinished
	}
	j.result = payload
	return nil
}

// finish marks the job settled and returns the result set so far; later
// helper calls get ErrJobFinished.
func (j *Job) finish() []byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.finished = true
	return j.result
}

// Permanent marks err as not worth retrying: the runner fails the
// execution with backend.FailurePermanent instead of FailureTransient.
// The failure message is err's own text. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err's chain holds an error wrapped with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// permanentError is Permanent's wrapper; it adds no text, so the stored
// failure message is the handler's own.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
