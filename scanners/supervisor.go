package scanners

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Runner runs one tick of a reconciler. The backend implements it; this
// package knows nothing about storage.
type Runner interface {
	RunOnce(ctx context.Context, job Job) (TickResult, error)
}

// Supervisor ticks every enabled reconciler on its own goroutine at its
// configured cadence until Stop.
type Supervisor struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{} // closed once every reconciler goroutine returned
	log    *slog.Logger
}

// Start launches one goroutine per reconciler whose interval in cfg is
// positive. The goroutines are registered before Start returns, so an
// immediate Stop always drains them. The first tick of each happens one
// interval after Start; a slow tick delays the next one instead of
// bursting.
func Start(cfg Config, r Runner, log *slog.Logger) *Supervisor {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Supervisor{cancel: cancel, log: log, done: make(chan struct{})}
	for _, job := range Jobs() {
		interval := cfg.Interval(job)
		if interval <= 0 {
			continue
		}
		s.wg.Add(1)
		go s.loop(ctx, r, job, interval)
	}
	go func() { s.wg.Wait(); close(s.done) }()
	return s
}

func (s *Supervisor) loop(ctx context.Context, r Runner, job Job, interval time.Duration) {
	defer s.wg.Done()
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		res, err := r.RunOnce(ctx, job)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("scanner tick failed", "job", "sqlite."+string(job), "err", err)
		case res.Errors > 0:
			s.log.Warn("scanner tick had row errors", "job", "sqlite."+string(job), "errors", res.Errors, "processed", res.Processed)
		}
		timer.Reset(interval)
	}
}

// Stop signals every reconciler to stop (a tick in progress sees its
// context cancelled) and waits up to grace for them to return. It reports
// whether all of them did; a later call waits again, so a caller that must
// not outlive the ticks (closing connections) can insist.
func (s *Supervisor) Stop(grace time.Duration) (drained bool) {
	s.cancel()
	select {
	case <-s.done: // already drained: report it even with a zero grace
		return true
	default:
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-s.done:
		return true
	case <-timer.C:
		return false
	}
}
