//! The hosted Tasks API's request bodies, response shapes and status codes, shared by the CLI's
//! JSON output and the HTTP server. Must not do I/O.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::model::TaskDoc;

/// A response's `status` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiStatus {
    pub code: u32,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// The API's response status codes that annotask answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    Success,
    Failure,
    BadRequest,
    ServerError,
    InvalidRequest,
    DoesNotExist,
    InsufficientScopes,
    KeyInvalid,
    TaskConflict,
    TaskNotImplemented,
    TaskMissing,
    TaskPermissionDenied,
}

impl StatusCode {
    pub fn number(self) -> u32 {
        match self {
            Self::Success => 10000,
            Self::Failure => 10020,
            Self::BadRequest => 90400,
            Self::ServerError => 90500,
            Self::InvalidRequest => 11102,
            Self::DoesNotExist => 11101,
            Self::InsufficientScopes => 11007,
            Self::KeyInvalid => 11008,
            Self::TaskConflict => 54100,
            Self::TaskNotImplemented => 54101,
            Self::TaskMissing => 54102,
            Self::TaskPermissionDenied => 54103,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::Success => "Ok",
            Self::Failure => "Failure",
            Self::BadRequest => "Bad request",
            Self::ServerError => "Internal server error",
            Self::InvalidRequest => "Invalid request",
            Self::DoesNotExist => "Resource does not exist",
            Self::InsufficientScopes => "Insufficient scopes",
            Self::KeyInvalid => "API key not found",
            Self::TaskConflict => "Task conflict",
            Self::TaskNotImplemented => "Not implemented",
            Self::TaskMissing => "Task missing",
            Self::TaskPermissionDenied => "Permission denied",
        }
    }

    pub fn status(self, details: Option<String>) -> ApiStatus {
        ApiStatus {
            code: self.number(),
            description: self.description().to_owned(),
            details,
        }
    }
}

pub fn ok() -> ApiStatus {
    StatusCode::Success.status(None)
}

/// Which user's app a request addresses; annotask serves one app, so it is accepted and unused.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserAppId {
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub app_id: Option<String>,
}

/// PostTasks: `{"tasks": [...]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostTasks {
    pub tasks: Vec<TaskDoc>,
    #[serde(default)]
    pub user_app_id: Option<UserAppId>,
}

/// PatchTasks: `{"action": "overwrite", "tasks": [...]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchTasks {
    pub action: String,
    pub tasks: Vec<TaskDoc>,
    #[serde(default)]
    pub user_app_id: Option<UserAppId>,
}

/// DeleteTasks: `{"ids": [...]}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteTasks {
    pub ids: Vec<String>,
    #[serde(default)]
    pub user_app_id: Option<UserAppId>,
}

/// `{"status": …, "tasks": […]}`: PostTasks, ListTasks and PatchTasks answers.
#[derive(Debug, Serialize)]
pub struct TasksResponse<T> {
    pub status: ApiStatus,
    pub tasks: Vec<T>,
}

/// `{"status": …, "task": {…}}`: the GetTask answer.
#[derive(Debug, Serialize)]
pub struct TaskResponse<T> {
    pub status: ApiStatus,
    pub task: T,
}

/// `{"status": …}`: DeleteTasks answers and every error.
#[derive(Debug, Serialize)]
pub struct StatusResponse {
    pub status: ApiStatus,
}

/// The default and largest page sizes of ListTasks.
pub const DEFAULT_PER_PAGE: u32 = 128;
pub const MAX_PER_PAGE: u32 = 1000;

/// A user by id, as the API nests it: `{"id": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Id {
    pub id: String,
}

/// A Worker that is a user: `{"user": {"id": ...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserWorker {
    pub user: Id,
}

impl UserWorker {
    pub fn new(user: &str) -> UserWorker {
        UserWorker {
            user: Id {
                id: user.to_owned(),
            },
        }
    }
}

/// TaskAssignment: one input and one worker. Its id names both, joined by `.`, which no id
/// holds, so it is the same on every machine and tells them apart.
#[derive(Debug, Clone, Serialize)]
pub struct TaskAssignment {
    pub id: String,
    /// The Input as its dataset holds it, passed through.
    pub input: Box<RawValue>,
    pub worker: UserWorker,
    pub status: ApiStatus,
}

impl TaskAssignment {
    pub fn new(
        input_id: &str,
        input: Box<RawValue>,
        worker: &str,
        state: crate::work::State,
    ) -> TaskAssignment {
        TaskAssignment {
            id: assignment_id(input_id, worker),
            input,
            worker: UserWorker::new(worker),
            status: ApiStatus {
                code: state.code(),
                description: state.description().to_owned(),
                details: None,
            },
        }
    }
}

/// A TaskAssignment's id: its input and worker joined by `.`, which no id holds.
pub fn assignment_id(input_id: &str, worker: &str) -> String {
    format!("{input_id}.{worker}")
}

/// The input and worker an assignment id names.
pub fn parse_assignment_id(id: &str) -> Option<(&str, &str)> {
    id.split_once('.')
}

/// `{"status": …, "task_assignments": […]}`.
#[derive(Debug, Serialize)]
pub struct TaskAssignmentsResponse {
    pub status: ApiStatus,
    pub task_assignments: Vec<TaskAssignment>,
}

/// TaskStatusCountPerUser: a worker's assignments by state; all are pending for now, and the
/// other counts are always sent, as the hosted API sends them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountPerUser {
    pub worker: UserWorker,
    pub pending: u64,
    pub awaiting_review: u64,
    pub success: u64,
    pub review_denied: u64,
    pub awaiting_consensus_review: u64,
}

impl CountPerUser {
    pub fn pending(user: &str, pending: u64) -> CountPerUser {
        CountPerUser {
            worker: UserWorker::new(user),
            pending,
            awaiting_review: 0,
            success: 0,
            review_denied: 0,
            awaiting_consensus_review: 0,
        }
    }
}

/// The GetTaskInputCount answer.
#[derive(Debug, Serialize)]
pub struct TaskInputCountResponse {
    pub status: ApiStatus,
    pub task_id: String,
    pub counts: Vec<CountPerUser>,
}

/// Whether `additional_fields` asks for a task's metrics: `all`, `metrics` or one of them.
pub fn asks_for_metrics<'a>(additional_fields: impl IntoIterator<Item = &'a str>) -> bool {
    additional_fields
        .into_iter()
        .any(|v| v == "all" || v == "metrics" || v.starts_with("metrics."))
}

/// `Task.metrics`, as the hosted API fills it when `additional_fields` asks. Upstream these
/// are estimates; annotask's counts are exact (nothing is labeled yet, so every percentage
/// is 0).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskMetrics {
    pub input_source: InputSourceMetrics,
    pub work: WorkMetrics,
    pub review: ReviewMetrics,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputSourceMetrics {
    pub inputs_count_estimated: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkMetrics {
    pub inputs_count_estimated: u64,
    pub inputs_percent_estimated: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewMetrics {
    pub inputs_count_estimated: u64,
    pub inputs_percent_estimated: u32,
    /// In the order of the task's reviewers.
    pub inputs_count_estimated_per_reviewer: Vec<u64>,
    pub inputs_reviewable_count_estimated_per_reviewer: Vec<u64>,
    pub inputs_percent_estimated_per_reviewer: Vec<u32>,
}

impl TaskMetrics {
    /// A task's metrics from its plan: every input is work; MANUAL review reviews its sample,
    /// shared by the reviewers as the plan says; other review has nothing to review up front
    /// (CONSENSUS reviews only inputs whose labelers disagree).
    pub fn new(task: &crate::model::Task, plan: &crate::plans::TaskPlan) -> TaskMetrics {
        let reviewers = task.reviewer_ids().len();
        let (reviewed, per_reviewer) = match &plan.review {
            Some(review) => (review.sampled, review.plan.quotas.clone()),
            None => (0, vec![0; reviewers]),
        };
        TaskMetrics {
            input_source: InputSourceMetrics {
                inputs_count_estimated: plan.inputs,
            },
            work: WorkMetrics {
                inputs_count_estimated: plan.inputs,
                inputs_percent_estimated: 0,
            },
            review: ReviewMetrics {
                inputs_count_estimated: reviewed,
                inputs_percent_estimated: 0,
                inputs_reviewable_count_estimated_per_reviewer: vec![0; per_reviewer.len()],
                inputs_percent_estimated_per_reviewer: vec![0; per_reviewer.len()],
                inputs_count_estimated_per_reviewer: per_reviewer,
            },
        }
    }
}

/// PutTaskAssignments' actions, by name as JSON sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[allow(non_camel_case_types)]
pub enum AssignmentAction {
    LABEL_START,
    LABEL_SUBMIT,
    REVIEW_START,
    REVIEW_APPROVE,
    REVIEW_REQUEST_CHANGES,
    REVIEW_REJECT,
    /// annotask's extension (gRPC value 100): the caller takes back their latest submission
    /// on `input_id` while nobody decided it, and may change it and submit again.
    LABEL_WITHDRAW,
}

/// A reference to a TaskAssignment: its id (`<input_id>.<worker>`); other fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AssignmentRef {
    pub id: String,
}

/// A Worker by reference: `{"user": {"id": ...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WorkerRef {
    pub user: UserRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserRef {
    pub id: String,
}

/// `label_submit_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitConfig {
    #[serde(default)]
    pub task_assignments: Vec<AssignmentRef>,
}

/// `review_start_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewStartConfig {
    #[serde(default)]
    pub workers: Vec<WorkerRef>,
}

/// `review_approve_config`, `review_request_changes_config`, `review_reject_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewConfig {
    #[serde(default)]
    pub task_assignments: Vec<AssignmentRef>,
    #[serde(default)]
    pub workers: Vec<WorkerRef>,
    /// What the reviewer says to the worker: annotask's extension, JSON only (the gRPC
    /// message has no field for it).
    #[serde(default)]
    pub comment: Option<String>,
}

/// PutTaskAssignments: the task comes from the path (a body's `task_id` must match it).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutTaskAssignments {
    #[serde(default)]
    pub task_id: Option<String>,
    #[serde(default)]
    pub action: Option<AssignmentAction>,
    /// Deprecated: with no action, LABEL_SUBMIT of the caller's assignment on this input.
    #[serde(default)]
    pub input_id: Option<String>,
    #[serde(default)]
    pub label_submit_config: Option<SubmitConfig>,
    #[serde(default)]
    pub review_start_config: Option<ReviewStartConfig>,
    #[serde(default)]
    pub review_approve_config: Option<ReviewConfig>,
    #[serde(default)]
    pub review_request_changes_config: Option<ReviewConfig>,
    #[serde(default)]
    pub review_reject_config: Option<ReviewConfig>,
    #[serde(default)]
    pub user_app_id: Option<UserAppId>,
}

/// PostAnnotations: `{"annotations": [...]}`, each with `task_id` and `input_id`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostAnnotations {
    pub annotations: Vec<PostedAnnotation>,
    #[serde(default)]
    pub user_app_id: Option<UserAppId>,
}

/// PatchAnnotations: `{"action": "overwrite" | "merge" | "remove", "annotations": [...]}`,
/// each naming one of the caller's annotations by `id`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchAnnotations {
    pub action: String,
    pub annotations: Vec<PostedAnnotation>,
    /// An annotation left with no concept and no region is deleted whether or not this is set:
    /// annotask keeps no empty annotations.
    #[serde(default)]
    pub delete_if_empty_data: bool,
    #[serde(default)]
    pub user_app_id: Option<UserAppId>,
}

/// DeleteAnnotations: the caller's annotations with these `ids` (paired with `input_ids` when
/// both are given), or every one of theirs on `input_ids`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteAnnotations {
    #[serde(default)]
    pub ids: Vec<String>,
    #[serde(default)]
    pub input_ids: Vec<String>,
    #[serde(default)]
    pub user_app_id: Option<UserAppId>,
}

/// One posted annotation: the document, and the task it is work on.
#[derive(Debug, Clone, Deserialize)]
pub struct PostedAnnotation {
    #[serde(default)]
    pub task_id: String,
    #[serde(flatten)]
    pub annotation: crate::work::Annotation,
}

/// ListAnnotations' filters (any of each list; all lists at once), and its page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnnotationQuery {
    pub task_id: Option<String>,
    pub ids: Vec<String>,
    pub user_ids: Vec<String>,
    pub input_ids: Vec<String>,
    /// Annotation (or assignment) status codes.
    pub statuses: Vec<u32>,
    pub page: u32,
    pub per_page: u32,
}

/// An annotation as the API answers it: the document with `task_id`, `worker`, `status` and
/// its times.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnnotationOut {
    #[serde(flatten)]
    pub annotation: crate::work::Annotation,
    pub task_id: String,
    pub worker: UserWorker,
    /// Deprecated upstream, still sent by it.
    pub user_id: String,
    pub status: ApiStatus,
    pub created_at: jiff::Timestamp,
    pub modified_at: jiff::Timestamp,
}

/// `{"status": …, "annotations": […]}`.
#[derive(Debug, Serialize)]
pub struct AnnotationsResponse {
    pub status: ApiStatus,
    pub annotations: Vec<AnnotationOut>,
}

/// `{"status": …, "inputs": […]}`: ListNextTaskAssignments' answer.
#[derive(Debug, Serialize)]
pub struct InputsResponse {
    pub status: ApiStatus,
    pub inputs: Vec<Box<RawValue>>,
}
