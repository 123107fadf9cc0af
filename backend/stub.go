package backend

import "context"

// ClaimForWorker is not supported by the SQLite backend (there is no
// scheduler service to route a worker's claim): it always returns
// ErrUnavailable (Op "claim_for_worker"). Use Claim or the grant flow.
func (b *SQLiteBackend) ClaimForWorker(ctx context.Context, args ClaimForWorkerArgs) (ClaimForWorkerOutcome, error) {
	return *new(ClaimForWorkerOutcome), unavailable("claim_for_worker")
}

func unavailable(op string) error { return &Error{Kind: KindUnavailable, Op: op} }
