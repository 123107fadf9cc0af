package backend

import (
	"context"
	"time"
)

func (b *SQLiteBackend) AppendFrame(ctx context.Context, h Handle, frame Frame) (AppendFrameOutcome, error) {
	return *new(AppendFrameOutcome), unavailable("append_frame")
}

func (b *SQLiteBackend) CreateFlow(ctx context.Context, args CreateFlowArgs) (CreateFlowResult, error) {
	return *new(CreateFlowResult), unavailable("create_flow")
}

func (b *SQLiteBackend) AddExecutionToFlow(ctx context.Context, args AddExecutionToFlowArgs) (AddExecutionToFlowResult, error) {
	return *new(AddExecutionToFlowResult), unavailable("add_execution_to_flow")
}

func (b *SQLiteBackend) StageDependencyEdge(ctx context.Context, args StageDependencyEdgeArgs) (StageDependencyEdgeResult, error) {
	return *new(StageDependencyEdgeResult), unavailable("stage_dependency_edge")
}

func (b *SQLiteBackend) ApplyDependencyToChild(ctx context.Context, args ApplyDependencyToChildArgs) (ApplyDependencyToChildResult, error) {
	return *new(ApplyDependencyToChildResult), unavailable("apply_dependency_to_child")
}

func (b *SQLiteBackend) SetEdgeGroupPolicy(ctx context.Context, flowID FlowID, downstream ExecutionID, policy EdgeDependencyPolicy) (SetEdgeGroupPolicyResult, error) {
	return *new(SetEdgeGroupPolicyResult), unavailable("set_edge_group_policy")
}

func (b *SQLiteBackend) DescribeFlow(ctx context.Context, id FlowID) (*FlowSnapshot, error) {
	return nil, unavailable("describe_flow")
}

func (b *SQLiteBackend) DescribeEdge(ctx context.Context, flowID FlowID, edgeID EdgeID) (*EdgeSnapshot, error) {
	return nil, unavailable("describe_edge")
}

func (b *SQLiteBackend) ListEdges(ctx context.Context, flowID FlowID, direction EdgeDirection) ([]EdgeSnapshot, error) {
	return nil, unavailable("list_edges")
}

func (b *SQLiteBackend) ResolveExecutionFlowID(ctx context.Context, id ExecutionID) (*FlowID, error) {
	return nil, unavailable("resolve_execution_flow_i_d")
}

func (b *SQLiteBackend) ListFlows(ctx context.Context, partition PartitionKey, cursor FlowID, limit int) (ListFlowsPage, error) {
	return *new(ListFlowsPage), unavailable("list_flows")
}

func (b *SQLiteBackend) CancelFlow(ctx context.Context, id FlowID, policy CancelFlowPolicy, wait CancelFlowWait) (CancelFlowResult, error) {
	return *new(CancelFlowResult), unavailable("cancel_flow")
}

func (b *SQLiteBackend) CancelFlowHeader(ctx context.Context, args CancelFlowArgs) (CancelFlowHeader, error) {
	return *new(CancelFlowHeader), unavailable("cancel_flow_header")
}

func (b *SQLiteBackend) AckCancelMember(ctx context.Context, flowID FlowID, executionID ExecutionID) error {
	return unavailable("ack_cancel_member")
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
