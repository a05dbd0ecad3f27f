//! The Tasks API's routes: each decodes its request, calls the same [`Repo`] operation as the
//! CLI command of the same name (through `read` or `blocking`), and answers with the API's
//! shapes. Must not implement task rules or touch files: that is the repo's job.
//!
//! [`Repo`]: crate::repo::Repo

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::api::{
    self, AnnotationsResponse, DeleteAnnotations, DeleteTasks, InputsResponse, PatchAnnotations,
    PatchTasks, PostAnnotations, PostTasks, PutTaskAssignments, StatusResponse,
    TaskAssignmentsResponse, TaskInputCountResponse, TaskResponse, TasksResponse, ok,
};
use crate::repo::{AnnotationsToDelete, Repo};
use crate::validate::check_id;
use crate::{Error, yaml};

use super::auth::{self, Caller};
use super::query;
use super::reply::{self, Failure};
use super::repos::Repos;
use super::requests;
use super::{blocking, read};

type Reply = Result<Response, Failure>;

/// What diagnostics call the request body.
const BODY: &str = "body";

/// Every route, at `/v2/...` and under `/v2/users/{user_id}/apps/{app_id}/...` (PutTaskAssignments
/// only there, as the hosted API has it). annotask serves one app, so the app in the path is
/// accepted and not checked; the user is who a call acts as when no key says it.
pub fn router(repos: Arc<Repos>) -> Router {
    let mut router = Router::new();
    for prefix in ["/v2", "/v2/users/{user_id}/apps/{app_id}"] {
        let assignments: MethodRouter<Arc<Repos>> = if prefix == "/v2" {
            get(next_assignments)
        } else {
            get(next_assignments).put(put_assignments)
        };
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
            )
            .route(
                &format!("{prefix}/tasks/{{task_id}}/annotations/count"),
                get(task_annotation_count),
            )
            .route(
                &format!("{prefix}/tasks/{{task_id}}/assignments"),
                assignments,
            )
            .route(
                &format!("{prefix}/tasks/{{task_id}}/export"),
                get(super::export::export),
            )
            .route(
                &format!("{prefix}/annotations"),
                get(list_annotations)
                    .post(post_annotations)
                    .patch(patch_annotations)
                    .delete(delete_annotations),
            )
            .route(
                &format!("{prefix}/inputs/annotations"),
                axum::routing::delete(delete_annotations),
            )
            .route(
                &format!("{prefix}/inputs/{{input_id}}/annotations/{{annotation_id}}"),
                axum::routing::delete(delete_annotation),
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
        let json = repo.get_json(&id)?;
        Ok(reply::stored_task(&json))
    })
    .await
}

/// GetTaskInputCount: each worker's assignments by state, exact.
async fn task_input_count(
    State(repos): State<Arc<Repos>>,
    path: Result<Path<TaskPath>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Reply {
    count(repos, path, raw, false).await
}

/// GetTaskAnnotationCount: each worker's annotations by state, exact.
async fn task_annotation_count(
    State(repos): State<Arc<Repos>>,
    path: Result<Path<TaskPath>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Reply {
    count(repos, path, raw, true).await
}

async fn count(
    repos: Arc<Repos>,
    path: Result<Path<TaskPath>, PathRejection>,
    raw: Option<String>,
    annotations: bool,
) -> Reply {
    let Path(TaskPath { task_id: id }) = path.map_err(|e| Failure::bad_request(e.body_text()))?;
    let users = query::user_ids(raw.as_deref())?;
    check_id(&id).map_err(Failure::bad_request)?;
    read(repos, move |repo| {
        let counts = if annotations {
            repo.annotation_counts(&id)?
        } else {
            repo.counts(&id)?
        };
        Ok(reply::json(&TaskInputCountResponse {
            status: ok(),
            task_id: id,
            counts: counts.per_user(&users),
        }))
    })
    .await
}

/// A workflow route's path: the task, when it names one, and the user of a prefixed path.
#[derive(Deserialize)]
struct WorkPath {
    #[serde(default)]
    task_id: String,
    #[serde(default)]
    user_id: Option<String>,
}

/// The task a workflow route's path names, and the user the call acts as.
fn work_path(
    path: Result<Path<WorkPath>, PathRejection>,
    caller: &Caller,
) -> Result<(String, String), Failure> {
    let Path(path) = path.map_err(|e| Failure::bad_request(e.body_text()))?;
    let user = auth::acting_user(caller, path.user_id.as_deref())?;
    Ok((path.task_id, user))
}

/// PutTaskAssignments: the caller's action on the task's assignments.
async fn put_assignments(
    State(repos): State<Arc<Repos>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<WorkPath>, PathRejection>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let (task_id, user) = work_path(path, &caller)?;
    check_id(&task_id).map_err(Failure::bad_request)?;
    write(
        repos,
        raw,
        body,
        move |repo, request: PutTaskAssignments| {
            let action = super::requests::action(request, &task_id, &user)?;
            let task_assignments = repo.put_assignments(&user, &task_id, action)?;
            Ok(reply::json(&TaskAssignmentsResponse {
                status: ok(),
                task_assignments,
            }))
        },
    )
    .await
}

/// ListNextTaskAssignments: the inputs of the caller's open assignments.
async fn next_assignments(
    State(repos): State<Arc<Repos>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<WorkPath>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let (task_id, user) = work_path(path, &caller)?;
    query::none_expected(raw.as_deref())?;
    check_id(&task_id).map_err(Failure::bad_request)?;
    read(repos, move |repo| {
        let assignments = repo.next_assignments(&user, &task_id)?;
        Ok(reply::json(&InputsResponse {
            status: ok(),
            inputs: assignments.into_iter().map(|a| a.input).collect(),
        }))
    })
    .await
}

/// The acting user of an annotations write, and its body, refused when an annotation in it has
/// a key the API does not know (serde would drop it silently).
fn annotations_request(
    path: Result<Path<WorkPath>, PathRejection>,
    caller: &Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(String, Bytes), Failure> {
    let (_, user) = work_path(path, caller)?;
    let body = body?;
    requests::refuse_unknown_annotation_keys(&body).map_err(|e| e.in_body(&body, BODY))?;
    Ok((user, body))
}

/// PostAnnotations, as the caller.
async fn post_annotations(
    State(repos): State<Arc<Repos>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<WorkPath>, PathRejection>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let (user, body) = annotations_request(path, &caller, body)?;
    write(
        repos,
        raw,
        Ok(body),
        move |repo, request: PostAnnotations| {
            let annotations =
                repo.post_annotations(&user, requests::new_annotations(request.annotations))?;
            Ok(reply::json(&AnnotationsResponse {
                status: ok(),
                annotations,
            }))
        },
    )
    .await
}

/// PatchAnnotations (`overwrite`, `merge`, `remove`) of the caller's own annotations.
async fn patch_annotations(
    State(repos): State<Arc<Repos>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<WorkPath>, PathRejection>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let (user, body) = annotations_request(path, &caller, body)?;
    write(
        repos,
        raw,
        Ok(body),
        move |repo, request: PatchAnnotations| {
            let (patch, annotations) = requests::annotation_patch(request)?;
            let annotations = repo.patch_annotations(&user, patch, annotations)?;
            Ok(reply::json(&AnnotationsResponse {
                status: ok(),
                annotations,
            }))
        },
    )
    .await
}

/// DeleteAnnotations of the caller's own annotations, by id or by input.
async fn delete_annotations(
    State(repos): State<Arc<Repos>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<WorkPath>, PathRejection>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let (_, user) = work_path(path, &caller)?;
    write(repos, raw, body, move |repo, request: DeleteAnnotations| {
        repo.delete_annotations(&user, requests::annotations_to_delete(request))?;
        Ok(reply::json(&StatusResponse { status: ok() }))
    })
    .await
}

/// DeleteAnnotation: one of the caller's annotations, named by its input and id in the path.
#[derive(Deserialize)]
struct AnnotationPath {
    input_id: String,
    annotation_id: String,
    #[serde(default)]
    user_id: Option<String>,
}

async fn delete_annotation(
    State(repos): State<Arc<Repos>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<AnnotationPath>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let Path(path) = path.map_err(|e| Failure::bad_request(e.body_text()))?;
    let user = auth::acting_user(&caller, path.user_id.as_deref())?;
    query::none_expected(raw.as_deref())?;
    let request = AnnotationsToDelete {
        ids: vec![path.annotation_id],
        input_ids: vec![path.input_id],
    };
    blocking(repos, move |repos| {
        repos.checkout()?.delete_annotations(&user, request)?;
        Ok(reply::json(&StatusResponse { status: ok() }))
    })
    .await
}

/// ListAnnotations: by task, user, status, input and id, a page at a time.
async fn list_annotations(State(repos): State<Arc<Repos>>, RawQuery(raw): RawQuery) -> Reply {
    let selection = requests::annotation_selection(query::annotations(raw.as_deref())?)?;
    read(repos, move |repo| {
        let annotations = repo.list_annotations(&selection)?;
        Ok(reply::json(&AnnotationsResponse {
            status: ok(),
            annotations,
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
        let tasks = repo.list_json(&query)?;
        Ok(reply::stored_tasks(&tasks))
    })
    .await
}

async fn patch_tasks(
    State(repos): State<Arc<Repos>>,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    write(repos, raw, body, |repo, request: PatchTasks| {
        let tasks = repo.update(requests::task_overwrite(request)?)?;
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
            "no route {method} {}; annotask serves /v2/tasks, /v2/tasks/{{task_id}}, its inputs/count, annotations/count and assignments, and /v2/annotations (GET, POST, PATCH, DELETE; each also under /v2/users/{{user_id}}/apps/{{app_id}}/)",
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
