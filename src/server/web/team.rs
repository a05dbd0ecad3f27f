//! Three reads the app needs and the Tasks API does not have (annotask's extensions, read-only,
//! behind the key check like every call): how often the task's workers agree
//! (`GET /v2/tasks/{task_id}/agreement`, by [`crate::repo::Repo::agreement`]), which export
//! formats fit the task (`GET /v2/tasks/{task_id}/export/formats`, by
//! [`crate::export::Format::fits`]), so the page never holds a copy of either rule, and the
//! reviewers' comments on the caller's decided work (`GET .../tasks/{task_id}/feedback`, by
//! [`crate::repo::Repo::feedback`]), which LABEL_START never hands back.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, State};
use axum::response::Response;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::api::{ApiStatus, ok};
use crate::export::Format;
use crate::server::auth::{self, Caller};
use crate::validate::check_id;

use crate::server::reply::{self, Failure};
use crate::server::repos::Repos;
use crate::server::{blocking, read};

pub fn router(repos: Arc<Repos>) -> Router {
    let mut router = Router::new();
    for prefix in ["/v2", "/v2/users/{user_id}/apps/{app_id}"] {
        router = router
            .route(
                &format!("{prefix}/tasks/{{task_id}}/agreement"),
                get(agreement),
            )
            .route(
                &format!("{prefix}/tasks/{{task_id}}/export/formats"),
                get(export_formats),
            )
            .route(
                &format!("{prefix}/tasks/{{task_id}}/feedback"),
                get(feedback),
            );
    }
    router.with_state(repos)
}

#[derive(Deserialize)]
struct TaskPath {
    task_id: String,
    #[serde(default)]
    user_id: Option<String>,
}

fn task_id(path: Result<Path<TaskPath>, PathRejection>) -> Result<String, Failure> {
    Ok(task_path(path)?.task_id)
}

fn task_path(path: Result<Path<TaskPath>, PathRejection>) -> Result<TaskPath, Failure> {
    let Path(path) = path.map_err(|e| Failure::bad_request(e.body_text()))?;
    check_id(&path.task_id).map_err(Failure::bad_request)?;
    Ok(path)
}

#[derive(Serialize)]
struct AgreementResponse {
    status: ApiStatus,
    task_id: String,
    pairs: Vec<Pair>,
}

#[derive(Serialize)]
struct Pair {
    user_ids: [String; 2],
    /// The inputs both workers submitted.
    inputs: u64,
    /// Of those, the ones on which they agree.
    agreed: u64,
}

/// For each pair of workers, the inputs both submitted and how many they agree on.
async fn agreement(
    State(repos): State<Arc<Repos>>,
    path: Result<Path<TaskPath>, PathRejection>,
) -> Result<Response, Failure> {
    let task_id = task_id(path)?;
    // A walk over the task's work: on a blocking thread, not the async one.
    blocking(repos, move |repos| {
        let pairs = repos
            .fresh()?
            .agreement(&task_id)?
            .into_iter()
            .map(|p| Pair {
                user_ids: p.workers,
                inputs: p.inputs,
                agreed: p.agreed,
            })
            .collect();
        Ok(reply::json(&AgreementResponse {
            status: ok(),
            task_id,
            pairs,
        }))
    })
    .await
}

#[derive(Serialize)]
struct FormatsResponse {
    status: ApiStatus,
    task_id: String,
    formats: Vec<FormatOut>,
}

#[derive(Serialize)]
struct FormatOut {
    name: &'static str,
    /// A folder format, which the export route answers as a tar of the folder.
    folder: bool,
}

/// The export formats that fit the task's type, in the export's order.
async fn export_formats(
    State(repos): State<Arc<Repos>>,
    path: Result<Path<TaskPath>, PathRejection>,
) -> Result<Response, Failure> {
    let task_id = task_id(path)?;
    read(repos, move |repo| {
        let task = repo.get(&task_id)?;
        let task_type = task.doc().task_type;
        let formats = Format::ALL
            .into_iter()
            .filter(|f| f.fits(task_type))
            .map(|f| FormatOut {
                name: f.name(),
                folder: f.is_folder(),
            })
            .collect();
        Ok(reply::json(&FormatsResponse {
            status: ok(),
            task_id,
            formats,
        }))
    })
    .await
}

#[derive(Serialize)]
struct FeedbackResponse {
    status: ApiStatus,
    task_id: String,
    feedback: Vec<FeedbackOut>,
}

/// As a TaskAssignment says it: the assignment's id, its input, and its state as a status
/// whose `details` is the comment (as LABEL_START says the comment of a request for changes).
#[derive(Serialize)]
struct FeedbackOut {
    id: String,
    input_id: String,
    status: ApiStatus,
}

/// The caller's approved and rejected inputs of the task whose standing decision has a comment.
async fn feedback(
    State(repos): State<Arc<Repos>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<TaskPath>, PathRejection>,
) -> Result<Response, Failure> {
    let path = task_path(path)?;
    let user = auth::acting_user(&caller, path.user_id.as_deref())?;
    let task_id = path.task_id;
    blocking(repos, move |repos| {
        let feedback = repos
            .fresh()?
            .feedback(&task_id, &user)?
            .into_iter()
            .map(|f| FeedbackOut {
                id: format!("{}.{user}", f.input),
                input_id: f.input,
                status: ApiStatus {
                    code: f.state.code(),
                    description: f.state.description().to_owned(),
                    details: Some(f.comment),
                },
            })
            .collect();
        Ok(reply::json(&FeedbackResponse {
            status: ok(),
            task_id,
            feedback,
        }))
    })
    .await
}
