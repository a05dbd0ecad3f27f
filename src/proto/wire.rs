//! The hosted API's protobuf messages, as far as annotask serves them: package `clarifai.api`,
//! the official message names and field numbers (`shared/spec/grpc-wire.md`, generated from
//! clarifai-grpc 12.6.0's descriptors). Only the fields annotask reads or answers with are
//! declared; protobuf skips the rest, as it does any unknown field. Must not hold logic:
//! `convert` maps these to and from the model.
//!
//! A `oneof` with one member annotask serves is declared as a plain optional field: on the
//! wire the two are the same.

use prost_types::{Struct, Timestamp};

/// `clarifai.api.UserAppIDSet`
#[derive(Clone, PartialEq, prost::Message)]
pub struct UserAppIdSet {
    #[prost(string, tag = "1")]
    pub user_id: String,
    #[prost(string, tag = "2")]
    pub app_id: String,
}

/// `clarifai.api.status.Status`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    /// A `clarifai.api.status.StatusCode` number.
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub description: String,
    #[prost(string, tag = "3")]
    pub details: String,
}

/// `clarifai.api.Task`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Task {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(message, optional, tag = "2")]
    pub created_at: Option<Timestamp>,
    #[prost(message, optional, tag = "3")]
    pub modified_at: Option<Timestamp>,
    /// `Task.TaskType`
    #[prost(int32, tag = "4")]
    pub r#type: i32,
    #[prost(string, tag = "5")]
    pub description: String,
    #[prost(message, optional, tag = "6")]
    pub worker: Option<TaskWorker>,
    #[prost(string, repeated, tag = "7")]
    pub concept_ids: Vec<String>,
    #[prost(message, optional, tag = "8")]
    pub input_source: Option<TaskInputSource>,
    #[prost(uint32, tag = "9")]
    pub sample_ms: u32,
    #[prost(message, optional, tag = "10")]
    pub ai_assistant: Option<TaskAiAssistant>,
    #[prost(message, optional, tag = "11")]
    pub review: Option<TaskReview>,
    #[prost(message, optional, tag = "12")]
    pub status: Option<Status>,
    #[prost(string, tag = "13")]
    pub name: String,
    #[prost(message, optional, tag = "14")]
    pub ai_assist_params: Option<AiAssistParameters>,
    /// Sent only when `additional_fields` asks for it.
    #[prost(message, optional, tag = "21")]
    pub metrics: Option<TaskMetrics>,
    /// `Task.TaskPriority`
    #[prost(int32, tag = "23")]
    pub priority: i32,
    #[prost(message, optional, tag = "24")]
    pub metadata: Option<Struct>,
}

/// `clarifai.api.TaskMetrics`
#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskMetrics {
    #[prost(message, optional, tag = "2")]
    pub work: Option<TaskWorkMetrics>,
    #[prost(message, optional, tag = "3")]
    pub review: Option<TaskReviewMetrics>,
    #[prost(message, optional, tag = "4")]
    pub input_source: Option<TaskInputSourceMetrics>,
}

/// `clarifai.api.TaskWorkMetrics`
#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskWorkMetrics {
    #[prost(uint64, tag = "1")]
    pub inputs_count_estimated: u64,
    #[prost(uint32, tag = "2")]
    pub inputs_percent_estimated: u32,
}

/// `clarifai.api.TaskReviewMetrics`
#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskReviewMetrics {
    #[prost(uint64, tag = "1")]
    pub inputs_count_estimated: u64,
    #[prost(uint32, tag = "2")]
    pub inputs_percent_estimated: u32,
    #[prost(uint64, repeated, tag = "3")]
    pub inputs_count_estimated_per_reviewer: Vec<u64>,
    #[prost(uint64, repeated, tag = "4")]
    pub inputs_reviewable_count_estimated_per_reviewer: Vec<u64>,
    #[prost(uint32, repeated, tag = "5")]
    pub inputs_percent_estimated_per_reviewer: Vec<u32>,
}

/// `clarifai.api.TaskInputSourceMetrics`
#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskInputSourceMetrics {
    #[prost(uint64, tag = "1")]
    pub inputs_count_estimated: u64,
}

/// `clarifai.api.TaskWorker`
#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskWorker {
    /// `TaskWorker.TaskWorkerStrategy`
    #[prost(int32, tag = "1")]
    pub strategy: i32,
    /// Deprecated upstream in favour of `workers`.
    #[prost(string, repeated, tag = "2")]
    pub user_ids: Vec<String>,
    /// `oneof strategy_info`
    #[prost(message, optional, tag = "3")]
    pub partitioned_strategy_info: Option<PartitionedStrategyInfo>,
    #[prost(message, repeated, tag = "7")]
    pub workers: Vec<Worker>,
}

/// `clarifai.api.TaskWorkerPartitionedStrategyInfo`
#[derive(Clone, PartialEq, prost::Message)]
pub struct PartitionedStrategyInfo {
    /// `TaskWorkerPartitionedStrategyInfo.TaskWorkerPartitionedStrategy`
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(int32, tag = "2")]
    pub workers_per_input: i32,
    #[prost(message, optional, tag = "3")]
    pub weights: Option<Struct>,
}

/// `clarifai.api.Worker`: one of a user, a model or a workflow; annotask's workers are users.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Worker {
    /// `oneof worker`
    #[prost(message, optional, tag = "1")]
    pub user: Option<User>,
}

/// `clarifai.api.TaskAIAssistant`
#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskAiAssistant {
    /// Deprecated for `workflow`.
    #[prost(string, tag = "1")]
    pub workflow_id: String,
    #[prost(message, optional, tag = "2")]
    pub workflow: Option<Workflow>,
}

/// `clarifai.api.Workflow`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Workflow {
    #[prost(string, tag = "1")]
    pub id: String,
}

/// `clarifai.api.AiAssistParameters`
#[derive(Clone, PartialEq, prost::Message)]
pub struct AiAssistParameters {
    #[prost(float, tag = "1")]
    pub min_threshold: f32,
    #[prost(float, tag = "2")]
    pub max_threshold: f32,
    #[prost(string, repeated, tag = "3")]
    pub concept_relation_ids: Vec<String>,
}

/// `clarifai.api.User`
#[derive(Clone, PartialEq, prost::Message)]
pub struct User {
    #[prost(string, tag = "1")]
    pub id: String,
}

/// `clarifai.api.TaskInputSource`
#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskInputSource {
    /// `TaskInputSource.TaskInputSourceType`
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub id: String,
}

/// `clarifai.api.TaskReview`
#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskReview {
    /// `TaskReview.TaskReviewStrategy`
    #[prost(int32, tag = "1")]
    pub strategy: i32,
    /// Deprecated upstream in favour of `users`.
    #[prost(string, repeated, tag = "2")]
    pub user_ids: Vec<String>,
    /// `oneof strategy_info`
    #[prost(message, optional, tag = "3")]
    pub manual_strategy_info: Option<ManualStrategyInfo>,
    /// `oneof strategy_info`
    #[prost(message, optional, tag = "4")]
    pub consensus_strategy_info: Option<ConsensusStrategyInfo>,
    #[prost(message, repeated, tag = "5")]
    pub users: Vec<User>,
}

/// `clarifai.api.TaskReviewManualStrategyInfo`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ManualStrategyInfo {
    #[prost(float, tag = "1")]
    pub sample_percentage: f32,
}

/// `clarifai.api.TaskReviewConsensusStrategyInfo`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConsensusStrategyInfo {
    /// Deprecated upstream in favour of `approval_threshold_labelers`.
    #[prost(uint32, tag = "2")]
    pub approval_threshold: u32,
    #[prost(uint32, tag = "3")]
    pub approval_threshold_labelers: u32,
}

/// `clarifai.api.PostTasksRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct PostTasksRequest {
    #[prost(message, optional, tag = "1")]
    pub user_app_id: Option<UserAppIdSet>,
    #[prost(message, repeated, tag = "2")]
    pub tasks: Vec<Task>,
}

/// `clarifai.api.GetTaskRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetTaskRequest {
    #[prost(message, optional, tag = "1")]
    pub user_app_id: Option<UserAppIdSet>,
    #[prost(string, tag = "2")]
    pub task_id: String,
    #[prost(string, repeated, tag = "3")]
    pub additional_fields: Vec<String>,
}

/// `clarifai.api.GetTaskCountRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct GetTaskCountRequest {
    #[prost(message, optional, tag = "1")]
    pub user_app_id: Option<UserAppIdSet>,
    #[prost(string, tag = "2")]
    pub task_id: String,
    #[prost(string, repeated, tag = "3")]
    pub user_ids: Vec<String>,
}

/// `clarifai.api.SingleTaskCountResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct SingleTaskCountResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(string, tag = "3")]
    pub task_id: String,
    #[prost(message, repeated, tag = "4")]
    pub counts: Vec<TaskStatusCountPerUser>,
}

/// `clarifai.api.TaskStatusCountPerUser`
#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskStatusCountPerUser {
    /// Deprecated upstream for `worker`; sent too, for clients that still read it.
    #[prost(string, tag = "1")]
    pub user_id: String,
    #[prost(uint32, tag = "2")]
    pub pending: u32,
    #[prost(uint32, tag = "3")]
    pub awaiting_review: u32,
    #[prost(uint32, tag = "4")]
    pub success: u32,
    #[prost(uint32, tag = "5")]
    pub review_denied: u32,
    #[prost(uint32, tag = "6")]
    pub awaiting_consensus_review: u32,
    #[prost(message, optional, tag = "7")]
    pub worker: Option<Worker>,
}

/// `clarifai.api.ListTasksRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListTasksRequest {
    #[prost(message, optional, tag = "1")]
    pub user_app_id: Option<UserAppIdSet>,
    #[prost(uint32, tag = "2")]
    pub page: u32,
    #[prost(uint32, tag = "3")]
    pub per_page: u32,
    /// Deprecated upstream in favour of `worker_ids`.
    #[prost(string, repeated, tag = "4")]
    pub worker_user_ids: Vec<String>,
    #[prost(string, repeated, tag = "5")]
    pub review_user_ids: Vec<String>,
    #[prost(bool, tag = "6")]
    pub including_label_order_tasks: bool,
    #[prost(string, repeated, tag = "7")]
    pub additional_fields: Vec<String>,
    #[prost(string, repeated, tag = "8")]
    pub label_order_ids: Vec<String>,
    #[prost(string, repeated, tag = "9")]
    pub ids: Vec<String>,
    #[prost(int32, tag = "10")]
    pub input_source_type: i32,
    #[prost(string, repeated, tag = "11")]
    pub input_source_ids: Vec<String>,
    #[prost(message, repeated, tag = "12")]
    pub worker_ids: Vec<WorkerIdSet>,
}

/// `clarifai.api.WorkerIDSet`
#[derive(Clone, PartialEq, prost::Message)]
pub struct WorkerIdSet {
    #[prost(string, tag = "1")]
    pub user_id: String,
    #[prost(string, tag = "3")]
    pub model_id: String,
    #[prost(string, tag = "5")]
    pub workflow_id: String,
}

/// `clarifai.api.PatchTasksRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct PatchTasksRequest {
    #[prost(message, optional, tag = "1")]
    pub user_app_id: Option<UserAppIdSet>,
    #[prost(message, repeated, tag = "2")]
    pub tasks: Vec<Task>,
    #[prost(string, tag = "3")]
    pub action: String,
}

/// `clarifai.api.DeleteTasksRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteTasksRequest {
    #[prost(message, optional, tag = "1")]
    pub user_app_id: Option<UserAppIdSet>,
    #[prost(string, repeated, tag = "2")]
    pub ids: Vec<String>,
}

/// `clarifai.api.MultiTaskResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct MultiTaskResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(message, repeated, tag = "2")]
    pub tasks: Vec<Task>,
}

/// `clarifai.api.SingleTaskResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct SingleTaskResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(message, optional, tag = "2")]
    pub task: Option<Task>,
}

/// `clarifai.api.status.BaseResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct BaseResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
}

/// `clarifai.api.PutTaskAssignmentsRequest`; the configs are a `oneof action_config`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PutTaskAssignmentsRequest {
    #[prost(message, optional, tag = "1")]
    pub user_app_id: Option<UserAppIdSet>,
    #[prost(string, tag = "2")]
    pub task_id: String,
    #[prost(string, tag = "3")]
    pub input_id: String,
    /// `PutTaskAssignmentsRequestAction`
    #[prost(int32, tag = "4")]
    pub action: i32,
    #[prost(message, optional, tag = "6")]
    pub label_submit_config: Option<AssignmentsConfig>,
    #[prost(message, optional, tag = "7")]
    pub review_approve_config: Option<AssignmentsConfig>,
    #[prost(message, optional, tag = "8")]
    pub review_request_changes_config: Option<AssignmentsConfig>,
    #[prost(message, optional, tag = "9")]
    pub review_reject_config: Option<AssignmentsConfig>,
    #[prost(message, optional, tag = "10")]
    pub review_start_config: Option<ReviewStartConfig>,
}

/// `clarifai.api.LabelSubmitConfig`, `ReviewApproveConfig`, `ReviewRequestChangesConfig` and
/// `ReviewRejectConfig`: the same fields (LabelSubmitConfig has no `workers`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AssignmentsConfig {
    #[prost(message, repeated, tag = "1")]
    pub task_assignments: Vec<TaskAssignment>,
    #[prost(message, repeated, tag = "2")]
    pub workers: Vec<Worker>,
}

/// `clarifai.api.ReviewStartConfig`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReviewStartConfig {
    #[prost(message, repeated, tag = "1")]
    pub workers: Vec<Worker>,
}

/// `clarifai.api.TaskAssignment`
#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskAssignment {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(message, optional, tag = "4")]
    pub worker: Option<Worker>,
    #[prost(message, optional, tag = "5")]
    pub input: Option<Input>,
    #[prost(message, optional, tag = "6")]
    pub status: Option<Status>,
}

/// `clarifai.api.MultiTaskAssignmentResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct MultiTaskAssignmentResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(message, repeated, tag = "2")]
    pub task_assignments: Vec<TaskAssignment>,
}

/// `clarifai.api.ListNextTaskAssignmentsRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListNextTaskAssignmentsRequest {
    #[prost(message, optional, tag = "1")]
    pub user_app_id: Option<UserAppIdSet>,
    #[prost(string, tag = "2")]
    pub task_id: String,
}

/// `clarifai.api.MultiInputResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct MultiInputResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(message, repeated, tag = "2")]
    pub inputs: Vec<Input>,
}

/// `clarifai.api.Input`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Input {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(message, optional, tag = "2")]
    pub data: Option<Data>,
}

/// `clarifai.api.Data`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Data {
    #[prost(message, optional, tag = "1")]
    pub image: Option<Image>,
    #[prost(message, repeated, tag = "3")]
    pub concepts: Vec<Concept>,
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<Struct>,
    #[prost(message, repeated, tag = "11")]
    pub regions: Vec<Region>,
}

/// `clarifai.api.Image`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Image {
    #[prost(string, tag = "1")]
    pub url: String,
}

/// `clarifai.api.Concept`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Concept {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(float, tag = "3")]
    pub value: f32,
}

/// `clarifai.api.Region`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Region {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(message, optional, tag = "2")]
    pub region_info: Option<RegionInfo>,
    #[prost(message, optional, tag = "3")]
    pub data: Option<Data>,
}

/// `clarifai.api.RegionInfo`
#[derive(Clone, PartialEq, prost::Message)]
pub struct RegionInfo {
    #[prost(message, optional, tag = "1")]
    pub bounding_box: Option<BoundingBox>,
    #[prost(message, optional, tag = "5")]
    pub polygon: Option<Polygon>,
}

/// `clarifai.api.BoundingBox`
#[derive(Clone, PartialEq, prost::Message)]
pub struct BoundingBox {
    #[prost(float, tag = "1")]
    pub top_row: f32,
    #[prost(float, tag = "2")]
    pub left_col: f32,
    #[prost(float, tag = "3")]
    pub bottom_row: f32,
    #[prost(float, tag = "4")]
    pub right_col: f32,
}

/// `clarifai.api.Polygon`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Polygon {
    #[prost(message, repeated, tag = "1")]
    pub points: Vec<Point>,
}

/// `clarifai.api.Point`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Point {
    #[prost(float, tag = "1")]
    pub row: f32,
    #[prost(float, tag = "2")]
    pub col: f32,
}

/// `clarifai.api.Annotation`
#[derive(Clone, PartialEq, prost::Message)]
pub struct Annotation {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub input_id: String,
    #[prost(message, optional, tag = "3")]
    pub data: Option<Data>,
    #[prost(message, optional, tag = "7")]
    pub status: Option<Status>,
    #[prost(message, optional, tag = "8")]
    pub created_at: Option<Timestamp>,
    #[prost(message, optional, tag = "9")]
    pub modified_at: Option<Timestamp>,
    #[prost(message, optional, tag = "13")]
    pub annotation_info: Option<Struct>,
    #[prost(string, tag = "15")]
    pub user_id: String,
    #[prost(string, tag = "19")]
    pub task_id: String,
    #[prost(message, optional, tag = "21")]
    pub worker: Option<Worker>,
}

/// `clarifai.api.PostAnnotationsRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct PostAnnotationsRequest {
    #[prost(message, optional, tag = "1")]
    pub user_app_id: Option<UserAppIdSet>,
    #[prost(message, repeated, tag = "2")]
    pub annotations: Vec<Annotation>,
}

/// `clarifai.api.PatchAnnotationsRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct PatchAnnotationsRequest {
    #[prost(message, optional, tag = "1")]
    pub user_app_id: Option<UserAppIdSet>,
    #[prost(message, repeated, tag = "2")]
    pub annotations: Vec<Annotation>,
    #[prost(string, tag = "3")]
    pub action: String,
    #[prost(bool, tag = "4")]
    pub delete_if_empty_data: bool,
}

/// `clarifai.api.DeleteAnnotationsRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteAnnotationsRequest {
    #[prost(message, optional, tag = "1")]
    pub user_app_id: Option<UserAppIdSet>,
    #[prost(string, repeated, tag = "2")]
    pub ids: Vec<String>,
    #[prost(string, repeated, tag = "3")]
    pub input_ids: Vec<String>,
}

/// `clarifai.api.DeleteAnnotationRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteAnnotationRequest {
    #[prost(message, optional, tag = "1")]
    pub user_app_id: Option<UserAppIdSet>,
    #[prost(string, tag = "2")]
    pub input_id: String,
    #[prost(string, tag = "3")]
    pub annotation_id: String,
}

/// `clarifai.api.ListAnnotationsRequest`
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListAnnotationsRequest {
    #[prost(message, optional, tag = "1")]
    pub user_app_id: Option<UserAppIdSet>,
    #[prost(string, repeated, tag = "2")]
    pub ids: Vec<String>,
    #[prost(string, repeated, tag = "3")]
    pub input_ids: Vec<String>,
    #[prost(message, repeated, tag = "5")]
    pub statuses: Vec<Status>,
    #[prost(uint32, tag = "7")]
    pub page: u32,
    #[prost(uint32, tag = "8")]
    pub per_page: u32,
    #[prost(string, repeated, tag = "9")]
    pub user_ids: Vec<String>,
    #[prost(string, tag = "11")]
    pub task_id: String,
}

/// `clarifai.api.MultiAnnotationResponse`
#[derive(Clone, PartialEq, prost::Message)]
pub struct MultiAnnotationResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<Status>,
    #[prost(message, repeated, tag = "2")]
    pub annotations: Vec<Annotation>,
}
