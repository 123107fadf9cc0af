package backend

import (
	"context"
	"time"
)

func (b *SQLiteBackend) AppendFrame(ctx context.Context, h Handle, frame Frame) (AppendFrameOutcome, error) {
	return *new(AppendFrameOutcome), unavailable("append_frame")
}

func (b *SQLiteBackend) ReportUsage(ctx context.Context, h Handle, budget BudgetID, dims UsageDimensions) (ReportUsageResult, error) {
	return *new(ReportUsageResult), unavailable("report_usage")
}

func (b *SQLiteBackend) ReportUsageAdmin(ctx context.Context, budget BudgetID, args ReportUsageAdminArgs) (ReportUsageResult, error) {
	return *new(ReportUsageResult), unavailable("report_usage_admin")
}

func (b *SQLiteBackend) CreateBudget(ctx context.Context, args CreateBudgetArgs) (CreateBudgetResult, error) {
	return *new(CreateBudgetResult), unavailable("create_budget")
}

func (b *SQLiteBackend) ResetBudget(ctx context.Context, args ResetBudgetArgs) (ResetBudgetResult, error) {
	return *new(ResetBudgetResult), unavailable("reset_budget")
}

func (b *SQLiteBackend) GetBudgetStatus(ctx context.Context, id BudgetID) (BudgetStatus, error) {
	return *new(BudgetStatus), unavailable("get_budget_status")
}

func (b *SQLiteBackend) CreateQuotaPolicy(ctx context.Context, args CreateQuotaPolicyArgs) (CreateQuotaPolicyResult, error) {
	return *new(CreateQuotaPolicyResult), unavailable("create_quota_policy")
}

func (b *SQLiteBackend) ReadStream(ctx context.Context, executionID ExecutionID, attemptIndex AttemptIndex, from, to StreamCursor, countLimit int) (StreamFrames, error) {
	return *new(StreamFrames), unavailable("read_stream")
}

func (b *SQLiteBackend) TailStream(ctx context.Context, executionID ExecutionID, attemptIndex AttemptIndex, after StreamCursor, block time.Duration, countLimit int, visibility TailVisibility) (StreamFrames, error) {
	return *new(StreamFrames), unavailable("tail_stream")
}

func (b *SQLiteBackend) ReadSummary(ctx context.Context, executionID ExecutionID, attemptIndex AttemptIndex) (*SummaryDocument, error) {
	return nil, unavailable("read_summary")
}

func (b *SQLiteBackend) ClaimForWorker(ctx context.Context, args ClaimForWorkerArgs) (ClaimForWorkerOutcome, error) {
	return *new(ClaimForWorkerOutcome), unavailable("claim_for_worker")
}

func (b *SQLiteBackend) SubscribeCompletion(ctx context.Context, cursor EventCursor, filter ScannerFilter) (CompletionSubscription, error) {
	return *new(CompletionSubscription), unavailable("subscribe_completion")
}

func (b *SQLiteBackend) SubscribeLeaseHistory(ctx context.Context, cursor EventCursor, filter ScannerFilter) (LeaseHistorySubscription, error) {
	return *new(LeaseHistorySubscription), unavailable("subscribe_lease_history")
}

func (b *SQLiteBackend) SubscribeSignalDelivery(ctx context.Context, cursor EventCursor, filter ScannerFilter) (SignalDeliverySubscription, error) {
	return *new(SignalDeliverySubscription), unavailable("subscribe_signal_delivery")
}

func (b *SQLiteBackend) SubscribeInstanceTags(ctx context.Context, cursor EventCursor) (InstanceTagSubscription, error) {
	return *new(InstanceTagSubscription), unavailable("subscribe_instance_tags")
}

func unavailable(op string) error { return &Error{Kind: KindUnavailable, Op: op} }
