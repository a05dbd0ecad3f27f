//! The hosted Tasks API's request bodies, response shapes and status codes, shared by the CLI's
//! JSON output and the HTTP server. Must not do I/O.

use serde::{Deserialize, Serialize};

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
    KeyInvalid,
    TaskConflict,
    TaskNotImplemented,
    TaskMissing,
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
            Self::KeyInvalid => 11008,
            Self::TaskConflict => 54100,
            Self::TaskNotImplemented => 54101,
            Self::TaskMissing => 54102,
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
            Self::KeyInvalid => "API key not found",
            Self::TaskConflict => "Task conflict",
            Self::TaskNotImplemented => "Not implemented",
            Self::TaskMissing => "Task missing",
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
