package backend

import "context"

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

func (b *SQLiteBackend) ClaimForWorker(ctx context.Context, args ClaimForWorkerArgs) (ClaimForWorkerOutcome, error) {
	return *new(ClaimForWorkerOutcome), unavailable("claim_for_worker")
}

func unavailable(op string) error { return &Error{Kind: KindUnavailable, Op: op} }
