package backend

import "context"

func (b *SQLiteBackend) ClaimForWorker(ctx context.Context, args ClaimForWorkerArgs) (ClaimForWorkerOutcome, error) {
	return *new(ClaimForWorkerOutcome), unavailable("claim_for_worker")
}

func unavailable(op string) error { return &Error{Kind: KindUnavailable, Op: op} }
