//! How the server answers: the API's JSON bodies, and every failure as an HTTP status with the
//! API's `{"status": {...}}` body, so a client never has to parse anything else. Owns the
//! mapping from library errors to HTTP statuses; must not decide what a request means.

use std::error::Error as _;

use axum::body::Body;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::api::{self, ApiStatus, StatusResponse};

/// A `200 OK` with a JSON body.
pub fn json<T: Serialize>(value: &T) -> Response {
    with_json(StatusCode::OK, value)
}

/// A `200 OK` with the GetTask answer around a task's JSON as the index stores it.
pub fn stored_task(json: &str) -> Response {
    json_body(StatusCode::OK, around_stored("task", [json], false))
}

/// A `200 OK` with the ListTasks answer around tasks' JSON as the index stores it.
pub fn stored_tasks(jsons: &[String]) -> Response {
    json_body(
        StatusCode::OK,
        around_stored("tasks", jsons.iter().map(String::as_str), true),
    )
}

/// `{"status":…,"<field>":…}` with the tasks' JSON written in as it is. The index stores what
/// serde_json wrote for valid tasks, so it is not parsed again: checking a page of 128 tasks
/// took 41% of a ListTasks answer's time.
fn around_stored<'a>(
    field: &str,
    tasks: impl IntoIterator<Item = &'a str> + Clone,
    list: bool,
) -> Vec<u8> {
    let size: usize = tasks.clone().into_iter().map(|t| t.len() + 1).sum();
    let mut body = Vec::with_capacity(size + 64);
    body.extend_from_slice(br#"{"status":"#);
    serde_json::to_writer(&mut body, &api::ok()).expect("a status always serialises");
    body.extend_from_slice(format!(r#","{field}":"#).as_bytes());
    if list {
        body.push(b'[');
    }
    for (i, task) in tasks.into_iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(task.as_bytes());
    }
    if list {
        body.push(b']');
    }
    body.push(b'}');
    body
}

fn with_json<T: Serialize>(http: StatusCode, value: &T) -> Response {
    let body = serde_json::to_vec(value).expect("responses always serialise");
    json_body(http, body)
}

fn json_body(http: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = http;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A request that failed: the HTTP status, and the API status that says why.
#[derive(Debug)]
pub struct Failure {
    http: StatusCode,
    status: ApiStatus,
}

impl Failure {
    pub fn new(http: StatusCode, code: api::StatusCode, details: impl Into<String>) -> Failure {
        Failure {
            http,
            status: code.status(Some(details.into())),
        }
    }

    /// A request the client got wrong before any task was looked at.
    pub fn bad_request(details: impl Into<String>) -> Failure {
        Failure::new(
            StatusCode::BAD_REQUEST,
            api::StatusCode::InvalidRequest,
            details,
        )
    }

    pub fn too_large() -> Failure {
        Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            api::StatusCode::InvalidRequest,
            format!(
                "the request body is larger than {} bytes; send fewer tasks per request",
                super::MAX_BODY_BYTES
            ),
        )
    }

    /// The API status alone, for a face that has no HTTP status to send it with (gRPC).
    pub fn into_status(self) -> ApiStatus {
        self.status
    }

    pub fn internal(details: impl Into<String>) -> Failure {
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            api::StatusCode::ServerError,
            details,
        )
    }
}

impl From<crate::Error> for Failure {
    fn from(e: crate::Error) -> Failure {
        use crate::Error;
        let http = match &e {
            Error::Invalid(_) | Error::UnsupportedAction(_) => StatusCode::BAD_REQUEST,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::PermissionDenied(_) => StatusCode::FORBIDDEN,
            Error::AlreadyExists(_) | Error::Conflict(_) => StatusCode::CONFLICT,
            Error::NoTasksDir(_)
            | Error::WatcherRunning { .. }
            | Error::Io { .. }
            | Error::ReadOnlyIndex(_)
            | Error::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut status = e.status();
        if !e.is_input_error() {
            // "cannot write tasks/a.yaml" alone does not say what to fix; its cause does.
            let mut details = e.to_string();
            let mut source = e.source();
            while let Some(cause) = source {
                details.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            status.details = Some(details);
        }
        Failure { http, status }
    }
}

impl From<BytesRejection> for Failure {
    fn from(rejection: BytesRejection) -> Failure {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Failure::too_large(),
            _ => Failure::bad_request(format!(
                "cannot read the request body: {}",
                rejection.body_text()
            )),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = with_json(
            self.http,
            &StatusResponse {
                status: self.status,
            },
        );
        if self.http == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Key"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;
    use crate::api::{TaskResponse, TasksResponse, ok};

    /// What the answers around stored JSON hold must be what serde_json writes for the
    /// API's response types, so that their shape is defined once, in `api`.
    fn check(tasks: &[&str]) {
        let raw = |t: &&str| RawValue::from_string(t.to_string()).unwrap();
        let expected = serde_json::to_vec(&TasksResponse {
            status: ok(),
            tasks: tasks.iter().map(raw).collect(),
        })
        .unwrap();
        let stored = around_stored("tasks", tasks.iter().copied(), true);
        assert_eq!(
            String::from_utf8(stored).unwrap(),
            String::from_utf8(expected).unwrap()
        );
        if let [task] = tasks {
            let expected = serde_json::to_vec(&TaskResponse {
                status: ok(),
                task: raw(task),
            })
            .unwrap();
            let stored = around_stored("task", [*task], false);
            assert_eq!(
                String::from_utf8(stored).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }

    #[test]
    fn answers_around_stored_json_are_what_serde_writes() {
        check(&[]);
        check(&[r#"{"id":"a"}"#]);
        check(&[r#"{"id":"a","concept_ids":["cat"]}"#, r#"{"id":"b"}"#]);
        check(&[r#"{"id":"é\"q"}"#, "{}", "{}"]);
    }
}
