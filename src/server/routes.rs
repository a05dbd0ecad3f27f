//! The Tasks API's routes: each decodes its request, calls the same [`Repo`] operation as the
//! CLI command of the same name on a blocking thread, and answers with the API's shapes. Must
//! not implement task rules or touch files: that is the repo's job.
//!
//! [`Repo`]: crate::repo::Repo

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::api::{
    self, DeleteTasks, PatchTasks, PostTasks, StatusResponse, TaskInputCountResponse, TaskResponse,
    TasksResponse, ok,
};
use crate::repo::Repo;
use crate::validate::check_id;
use crate::{Error, yaml};

use super::query;
use super::reply::{self, Failure};
use super::repos::Repos;
use super::{blocking, read};

type Reply = Result<Response, Failure>;

/// What diagnostics call the request body.
const BODY: &str = "body";

/// Every task route, at `/v2/...` and under `/v2/users/{user_id}/apps/{app_id}/...`. annotask
/// serves one app, so the user and app in the path are accepted and not checked.
pub fn router(repos: Arc<Repos>) -> Router {
    let mut router = Router::new();
    for prefix in ["/v2", "/v2/users/{user_id}/apps/{app_id}"] {
        router = router
            .route(
                &format!("{prefix}/tasks"),
                get(list_tasks)
                    .post(post_tasks)
                    .patch(patch_tasks)
                    .delete(delete_tasks),
            )
            .route(&format!("{prefix}/tasks/{{task_id}}"), get(get_task))
            .route(
                &format!("{prefix}/tasks/{{task_id}}/inputs/count"),
                get(task_input_count),
            );
    }
    router
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(repos)
}

async fn post_tasks(
    State(repos): State<Arc<Repos>>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    write(repos, raw, body, |repo, request: PostTasks| {
        let tasks = repo.create(request.tasks)?;
        Ok(reply::json(&TasksResponse {
            status: ok(),
            tasks,
        }))
    })
    .await
}

#[derive(Deserialize)]
struct TaskPath {
    task_id: String,
}

async fn get_task(
    State(repos): State<Arc<Repos>>,
    path: Result<Path<TaskPath>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let Path(TaskPath { task_id: id }) = path.map_err(|e| Failure::bad_request(e.body_text()))?;
    query::none_expected(raw.as_deref())?;
    let metrics = query::wants_metrics(raw.as_deref());
    // Ids are never used as paths here, but one that no task can have is the client's
    // mistake, and worth saying so rather than "not found".
    check_id(&id).map_err(Failure::bad_request)?;
    read(repos, move |repo| {
        if metrics {
            let task = repo.with_metrics(&repo.get(&id)?)?;
            return Ok(reply::json(&TaskResponse { status: ok(), task }));
        }
        let json = repo
            .index()
            .get_json(&id)
            .map_err(Error::from)?
            .ok_or_else(|| Error::NotFound(vec![id.clone()]))?;
        Ok(reply::json(&TaskResponse {
            status: ok(),
            task: raw_json(json)?,
        }))
    })
    .await
}

/// GetTaskInputCount: each worker's assignments, all pending, exact from the task's plan.
async fn task_input_count(
    State(repos): State<Arc<Repos>>,
    path: Result<Path<TaskPath>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let Path(TaskPath { task_id: id }) = path.map_err(|e| Failure::bad_request(e.body_text()))?;
    let users = query::user_ids(raw.as_deref())?;
    check_id(&id).map_err(Failure::bad_request)?;
    read(repos, move |repo| {
        let counts = repo.counts(&id)?.per_user(&users);
        Ok(reply::json(&TaskInputCountResponse {
            status: ok(),
            task_id: id,
            counts,
        }))
    })
    .await
}

async fn list_tasks(State(repos): State<Arc<Repos>>, RawQuery(raw): RawQuery) -> Reply {
    let query = query::list(raw.as_deref())?;
    let metrics = query::wants_metrics(raw.as_deref());
    read(repos, move |repo| {
        if metrics {
            let tasks = repo
                .list(&query)?
                .iter()
                .map(|task| repo.with_metrics(task))
                .collect::<crate::Result<Vec<_>>>()?;
            return Ok(reply::json(&TasksResponse {
                status: ok(),
                tasks,
            }));
        }
        // The index holds each task's canonical JSON: it is passed through unparsed.
        let tasks = repo
            .index()
            .list_json(&query)
            .map_err(Error::from)?
            .into_iter()
            .map(raw_json)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(reply::json(&TasksResponse {
            status: ok(),
            tasks,
        }))
    })
    .await
}

async fn patch_tasks(
    State(repos): State<Arc<Repos>>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    write(repos, raw, body, |repo, request: PatchTasks| {
        let tasks = repo.patch(request)?;
        Ok(reply::json(&TasksResponse {
            status: ok(),
            tasks,
        }))
    })
    .await
}

async fn delete_tasks(
    State(repos): State<Arc<Repos>>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    write(repos, raw, body, |repo, request: DeleteTasks| {
        repo.delete(&request.ids)?;
        Ok(reply::json(&StatusResponse { status: ok() }))
    })
    .await
}

/// The shape of the routes that write: no query string, a body decoded as the request `T`,
/// and one repo operation, whose errors point into the body.
async fn write<T, F>(
    repos: Arc<Repos>,
    raw: Option<String>,
    body: Result<Bytes, BytesRejection>,
    operate: F,
) -> Reply
where
    T: DeserializeOwned,
    F: FnOnce(&mut Repo, T) -> crate::Result<Response> + Send + 'static,
{
    query::none_expected(raw.as_deref())?;
    let body = body?;
    blocking(repos, move |repos| {
        let request: T = decode(&body)?;
        let mut repo = repos.checkout()?;
        Ok(operate(&mut repo, request).map_err(|e| e.in_body(&body, BODY))?)
    })
    .await
}

async fn no_route(method: Method, uri: Uri) -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        api::StatusCode::DoesNotExist,
        format!(
            "no route {method} {}; annotask serves /v2/tasks, /v2/tasks/{{task_id}} and /v2/tasks/{{task_id}}/inputs/count",
            uri.path()
        ),
    )
}

async fn wrong_method(method: Method, uri: Uri) -> Failure {
    Failure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        api::StatusCode::BadRequest,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// Decodes a request body as the CLI does, so messages and field paths match.
fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    yaml::parse_body(body).map_err(|d| Error::bad_body(BODY, d).into())
}

fn raw_json(json: String) -> Result<Box<RawValue>, Failure> {
    RawValue::from_string(json).map_err(|_| {
        Failure::internal(
            "the index holds a task that is not valid JSON; delete the index to rebuild it",
        )
    })
}
