//! The hosted API's gRPC service, `clarifai.api.V2`, on the JSON API's port: the only module
//! that knows tonic. Each method decodes its protobuf request into the model (`convert`), calls
//! the same [`Repo`](crate::repo::Repo) operation as the JSON route of the same name, and
//! answers as the hosted API does: gRPC status OK, with the API's status object (code,
//! description, details) in the response message, the same codes as the JSON face. Must not
//! decide task rules or write its own field lists: `wire` declares the messages, `convert`
//! is the one mapping.
//!
//! gRPC statuses other than OK are left to what the transport itself decides: an unknown
//! method or a unary call with other than one request message (UNIMPLEMENTED), a message over
//! the size limit (OUT_OF_RANGE), an expired deadline (DEADLINE_EXCEEDED).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{self, HeaderMap, header};
use tonic::Streaming;
use tonic::codec::{BufferSettings, EncodeBuf, Encoder};
use tonic::server::Grpc;
use tonic_prost::{ProstDecoder, ProstEncoder};

use crate::Error;
use crate::api::{self, DEFAULT_PER_PAGE, MAX_PER_PAGE, PatchTasks};
use crate::model::Task;
use crate::model::TaskDoc;
use crate::proto::{self, Encoded, convert, wire};
use crate::repo::AnnotationsToDelete;
use crate::store::ListQuery;
use crate::validate::check_id;

use super::auth::{self, Access, Caller};
use super::reply::Failure;
use super::repos::Repos;
use super::requests;
use super::{MAX_BODY_BYTES, blocking, read};

/// What diagnostics call a protobuf request.
const REQUEST: &str = "request";

/// The path prefix of the service's methods.
const SERVICE: &str = "/clarifai.api.V2/";

/// Whether a request is a gRPC call: its content type says so (`application/grpc`,
/// `application/grpc+proto`).
pub fn is_grpc<B>(request: &http::Request<B>) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// The gRPC face of the server.
#[derive(Clone)]
pub struct Service {
    repos: Arc<Repos>,
    /// Who may call, as on the JSON face: the metadata `authorization: Key <key>`.
    access: Access,
}

type Answer<T> = Result<T, Failure>;

impl Service {
    pub fn new(repos: Arc<Repos>, access: Access) -> Service {
        Service { repos, access }
    }

    /// Answers one gRPC call.
    pub async fn call(self, request: http::Request<Body>) -> http::Response<tonic::body::Body> {
        let path = request.uri().path().to_owned();
        let repos = self.repos.clone();
        let method = path.strip_prefix(SERVICE).unwrap_or_default().to_owned();
        match method.as_str() {
            "PostTasks" => self.unary(request, |_, r| post_tasks(repos, r)).await,
            "GetTask" => self.unary(request, |_, r| get_task(repos, r)).await,
            "ListTasks" => self.unary(request, |_, r| list_tasks(repos, r)).await,
            "GetTaskInputCount" => self.unary(request, |_, r| task_input_count(repos, r)).await,
            "PatchTasks" => self.unary(request, |_, r| patch_tasks(repos, r)).await,
            "DeleteTasks" => self.unary(request, |_, r| delete_tasks(repos, r)).await,
            "GetTaskAnnotationCount" => {
                self.unary(request, |_, r| task_annotation_count(repos, r)).await
            }
            "PutTaskAssignments" => {
                self.unary(request, |c, r| put_assignments(repos, c, r)).await
            }
            "ListNextTaskAssignments" => {
                self.unary(request, |c, r| next_assignments(repos, c, r)).await
            }
            "PostAnnotations" => self.unary(request, |c, r| post_annotations(repos, c, r)).await,
            "ListAnnotations" => self.unary(request, |_, r| list_annotations(repos, r)).await,
            "PatchAnnotations" => {
                self.unary(request, |c, r| patch_annotations(repos, c, r)).await
            }
            "DeleteAnnotations" => {
                self.unary(request, |c, r| delete_annotations(repos, c, r)).await
            }
            "DeleteAnnotation" => {
                self.unary(request, |c, r| delete_annotation(repos, c, r)).await
            }
            _ => tonic::Status::unimplemented(format!(
                "annotask does not serve {path}; it serves PostTasks, GetTask, ListTasks, PatchTasks, DeleteTasks, GetTaskInputCount, GetTaskAnnotationCount, PutTaskAssignments, ListNextTaskAssignments, PostAnnotations, ListAnnotations, PatchAnnotations, DeleteAnnotations and DeleteAnnotation of clarifai.api.V2"
            ))
            .into_http(),
        }
    }

    /// One unary method: checks the key, decodes the request within the size limit, runs the
    /// handler within the call's deadline, and encodes the answer.
    async fn unary<Req, Resp, F, Fut>(
        self,
        request: http::Request<Body>,
        handler: F,
    ) -> http::Response<tonic::body::Body>
    where
        Req: prost::Message + Default + Send + 'static,
        Resp: Reply,
        F: FnOnce(Caller, Req) -> Fut + Send + 'static,
        Fut: Future<Output = Answer<Resp>> + Send + 'static,
    {
        let call = request
            .uri()
            .path()
            .strip_prefix(SERVICE)
            .unwrap_or_default();
        let caller = self.access.admit(request.headers(), call);
        let deadline = timeout(request.headers());
        let handler = move |req: Req| async move {
            let answer = match caller {
                Err(failure) => Err(failure),
                Ok(caller) => handler(caller, req).await,
            };
            answer.unwrap_or_else(|failure| Resp::failed(convert::status(failure.into_status())))
        };
        let mut grpc = Grpc::new(ReservingCodec::<Resp, Req>(PhantomData))
            .max_decoding_message_size(MAX_BODY_BYTES)
            .max_encoding_message_size(usize::MAX);
        grpc.client_streaming(Method(Some((handler, deadline))), request)
            .await
    }
}

/// tonic's prost codec, except that the encoder reserves a message's length before it writes
/// it. tonic's buffer starts at 8 KiB and prost writes through `BufMut`, so a page of tasks
/// grew the buffer three times, copying what it held each time.
struct ReservingCodec<Resp, Req>(PhantomData<(Resp, Req)>);

impl<Resp, Req> tonic::codec::Codec for ReservingCodec<Resp, Req>
where
    Resp: prost::Message + Send + 'static,
    Req: prost::Message + Default + Send + 'static,
{
    type Encode = Resp;
    type Decode = Req;
    type Encoder = ReservingEncoder<Resp>;
    type Decoder = ProstDecoder<Req>;

    fn encoder(&mut self) -> Self::Encoder {
        ReservingEncoder(ProstEncoder::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoder::default()
    }
}

struct ReservingEncoder<Resp>(ProstEncoder<Resp>);

impl<Resp: prost::Message> Encoder for ReservingEncoder<Resp> {
    type Item = Resp;
    type Error = tonic::Status;

    fn encode(&mut self, item: Resp, buf: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        buf.reserve(item.encoded_len());
        self.0.encode(item, buf)
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

/// A response message: every one starts with the API's status object.
trait Reply: prost::Message + Default + Send + 'static {
    fn failed(status: wire::Status) -> Self;
}

/// The responses that are their status and lists or values left empty on failure.
macro_rules! status_first {
    ($($message:ty),+ $(,)?) => {$(
        impl Reply for $message {
            fn failed(status: wire::Status) -> Self {
                Self {
                    status: Some(status),
                    ..Self::default()
                }
            }
        }
    )+};
}

status_first!(
    wire::MultiTaskResponse,
    wire::SingleTaskCountResponse,
    wire::MultiTaskAssignmentResponse,
    wire::MultiInputResponse,
    wire::MultiAnnotationResponse,
);

impl Reply for Encoded {
    fn failed(status: wire::Status) -> Self {
        Encoded::status(&status)
    }
}

impl Reply for wire::BaseResponse {
    fn failed(status: wire::Status) -> Self {
        Self {
            status: Some(status),
        }
    }
}

/// A handler as a tonic service: called once per call, with the call's deadline. tonic's
/// unary calls drop request messages after the first; the gRPC spec makes any number of
/// messages but one a cardinality violation, answered UNIMPLEMENTED, so the messages are read
/// here, as a stream.
struct Method<F>(Option<(F, Option<Duration>)>);

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<Req, Resp, F, Fut> tower_service::Service<tonic::Request<Streaming<Req>>> for Method<F>
where
    Req: Send + 'static,
    Resp: Send + 'static,
    F: FnOnce(Req) -> Fut + Send + 'static,
    Fut: Future<Output = Resp> + Send + 'static,
{
    type Response = tonic::Response<Resp>;
    type Error = tonic::Status;
    type Future = BoxFuture<Result<tonic::Response<Resp>, tonic::Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), tonic::Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<Streaming<Req>>) -> Self::Future {
        let (handler, deadline) = self.0.take().expect("a method is called once per request");
        Box::pin(async move {
            let answer = async move {
                let mut messages = request.into_inner();
                let Some(message) = messages.message().await? else {
                    return Err(tonic::Status::unimplemented(
                        "the call carried no request message; a unary method takes exactly one",
                    ));
                };
                if messages.message().await?.is_some() {
                    return Err(tonic::Status::unimplemented(
                        "the call carried more than one request message; a unary method takes exactly one",
                    ));
                }
                Ok(handler(message).await)
            };
            let answer = match deadline {
                Some(limit) => tokio::time::timeout(limit, answer).await.map_err(|_| {
                    tonic::Status::deadline_exceeded(format!(
                        "the call's deadline of {limit:?} passed before it was answered"
                    ))
                })??,
                None => answer.await?,
            };
            Ok(tonic::Response::new(answer))
        })
    }
}

/// The call's `grpc-timeout` (an integer of at most 8 digits and a unit, H M S m u n).
fn timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

fn ok() -> Option<wire::Status> {
    Some(ok_status())
}

fn ok_status() -> wire::Status {
    convert::status(api::ok())
}

fn tasks_to_wire(tasks: Vec<Task>) -> Vec<wire::Task> {
    tasks
        .into_iter()
        .map(|t| convert::task_to_wire(t.into_doc()))
        .collect()
}

fn tasks_from_wire(tasks: Vec<wire::Task>) -> Answer<Vec<TaskDoc>> {
    tasks
        .into_iter()
        .enumerate()
        .map(|(i, t)| convert::task_from_wire(t, &format!("tasks[{i}]")))
        .collect::<Result<_, _>>()
        .map_err(|d| Error::bad_body(REQUEST, d).into())
}

async fn post_tasks(
    repos: Arc<Repos>,
    request: wire::PostTasksRequest,
) -> Answer<wire::MultiTaskResponse> {
    let docs = tasks_from_wire(request.tasks)?;
    blocking(repos, move |repos| {
        let tasks = repos.checkout()?.create(docs)?;
        Ok(wire::MultiTaskResponse {
            status: ok(),
            tasks: tasks_to_wire(tasks),
        })
    })
    .await
}

async fn get_task(repos: Arc<Repos>, request: wire::GetTaskRequest) -> Answer<Encoded> {
    let id = request.task_id;
    check_id(&id).map_err(Failure::bad_request)?;
    let metrics = wants_metrics(&request.additional_fields);
    // The index holds each task's protobuf: it is sent as it is.
    read(repos, move |repo| {
        if metrics {
            let task = with_metrics(repo, &repo.get(&id)?)?;
            return Ok(Encoded::task_response(&ok_status(), &task));
        }
        let task = repo.get_proto(&id)?;
        Ok(Encoded::task_response(&ok_status(), &task))
    })
    .await
}

async fn list_tasks(repos: Arc<Repos>, request: wire::ListTasksRequest) -> Answer<Encoded> {
    let metrics = wants_metrics(&request.additional_fields);
    let query = list_query(request)?;
    read(repos, move |repo| {
        let tasks = if metrics {
            let tasks = repo.list(&query)?;
            tasks
                .iter()
                .map(|task| with_metrics(repo, task))
                .collect::<crate::Result<_>>()?
        } else {
            repo.list_proto(&query)?
        };
        Ok(Encoded::tasks_response(
            &ok_status(),
            tasks.iter().map(Vec::as_slice),
        ))
    })
    .await
}

fn wants_metrics(additional_fields: &[String]) -> bool {
    api::asks_for_metrics(additional_fields.iter().map(String::as_str))
}

/// A task's protobuf with its metrics, exact from its plan.
fn with_metrics(repo: &crate::repo::Repo, task: &Task) -> crate::Result<Vec<u8>> {
    Ok(proto::encode_task_with_metrics(task, &repo.metrics(task)?))
}

/// GetTaskInputCount: each worker's assignments by state, as the JSON route answers.
async fn task_input_count(
    repos: Arc<Repos>,
    request: wire::GetTaskCountRequest,
) -> Answer<wire::SingleTaskCountResponse> {
    count(repos, request, false).await
}

/// GetTaskAnnotationCount: each worker's annotations by state, as the JSON route answers.
async fn task_annotation_count(
    repos: Arc<Repos>,
    request: wire::GetTaskCountRequest,
) -> Answer<wire::SingleTaskCountResponse> {
    count(repos, request, true).await
}

async fn count(
    repos: Arc<Repos>,
    request: wire::GetTaskCountRequest,
    annotations: bool,
) -> Answer<wire::SingleTaskCountResponse> {
    let id = request.task_id;
    check_id(&id).map_err(Failure::bad_request)?;
    read(repos, move |repo| {
        let counts = if annotations {
            repo.annotation_counts(&id)?
        } else {
            repo.counts(&id)?
        };
        let counts = counts.per_user(&request.user_ids);
        Ok(wire::SingleTaskCountResponse {
            status: ok(),
            task_id: id,
            counts: counts.iter().map(convert::count_to_wire).collect(),
        })
    })
    .await
}

/// The user a call acts as: its key's, else its `user_app_id`'s.
fn acting_user(caller: &Caller, app: Option<&wire::UserAppIdSet>) -> Answer<String> {
    auth::acting_user(caller, app.map(|a| a.user_id.as_str()))
}

async fn put_assignments(
    repos: Arc<Repos>,
    caller: Caller,
    request: wire::PutTaskAssignmentsRequest,
) -> Answer<wire::MultiTaskAssignmentResponse> {
    let user = acting_user(&caller, request.user_app_id.as_ref())?;
    let task_id = request.task_id.clone();
    check_id(&task_id).map_err(Failure::bad_request)?;
    let request = convert::put_assignments_from_wire(request)
        .map_err(|d| Failure::from(Error::bad_body(REQUEST, d)))?;
    blocking(repos, move |repos| {
        let action = requests::action(request, &task_id, &user)?;
        let assignments = repos.checkout()?.put_assignments(&user, &task_id, action)?;
        Ok(wire::MultiTaskAssignmentResponse {
            status: ok(),
            task_assignments: assignments
                .iter()
                .map(convert::assignment_to_wire)
                .collect(),
        })
    })
    .await
}

async fn next_assignments(
    repos: Arc<Repos>,
    caller: Caller,
    request: wire::ListNextTaskAssignmentsRequest,
) -> Answer<wire::MultiInputResponse> {
    let user = acting_user(&caller, request.user_app_id.as_ref())?;
    let task_id = request.task_id;
    check_id(&task_id).map_err(Failure::bad_request)?;
    read(repos, move |repo| {
        let assignments = repo.next_assignments(&user, &task_id)?;
        Ok(wire::MultiInputResponse {
            status: ok(),
            inputs: assignments
                .iter()
                .map(|a| convert::input_to_wire(&a.input))
                .collect(),
        })
    })
    .await
}

/// A request's annotations in the API's own shapes, a bad one refused at `annotations[i]`.
fn annotations_from_wire(
    annotations: Vec<wire::Annotation>,
) -> Result<Vec<api::PostedAnnotation>, Failure> {
    annotations
        .into_iter()
        .enumerate()
        .map(|(i, a)| convert::annotation_from_wire(a, &format!("annotations[{i}]")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|d| Failure::from(Error::bad_body(REQUEST, d)))
}

async fn post_annotations(
    repos: Arc<Repos>,
    caller: Caller,
    request: wire::PostAnnotationsRequest,
) -> Answer<wire::MultiAnnotationResponse> {
    let user = acting_user(&caller, request.user_app_id.as_ref())?;
    let annotations = annotations_from_wire(request.annotations)?;
    blocking(repos, move |repos| {
        let posted = repos
            .checkout()?
            .post_annotations(&user, requests::new_annotations(annotations))?;
        Ok(wire::MultiAnnotationResponse {
            status: ok(),
            annotations: posted.iter().map(convert::annotation_to_wire).collect(),
        })
    })
    .await
}

async fn patch_annotations(
    repos: Arc<Repos>,
    caller: Caller,
    request: wire::PatchAnnotationsRequest,
) -> Answer<wire::MultiAnnotationResponse> {
    let user = acting_user(&caller, request.user_app_id.as_ref())?;
    let annotations = annotations_from_wire(request.annotations)?;
    let request = api::PatchAnnotations {
        action: request.action,
        annotations,
        delete_if_empty_data: request.delete_if_empty_data,
        user_app_id: None,
    };
    blocking(repos, move |repos| {
        let (patch, annotations) = requests::annotation_patch(request)?;
        let patched = repos
            .checkout()?
            .patch_annotations(&user, patch, annotations)?;
        Ok(wire::MultiAnnotationResponse {
            status: ok(),
            annotations: patched.iter().map(convert::annotation_to_wire).collect(),
        })
    })
    .await
}

async fn delete_annotations(
    repos: Arc<Repos>,
    caller: Caller,
    request: wire::DeleteAnnotationsRequest,
) -> Answer<wire::BaseResponse> {
    let user = acting_user(&caller, request.user_app_id.as_ref())?;
    let request = AnnotationsToDelete {
        ids: request.ids,
        input_ids: request.input_ids,
    };
    blocking(repos, move |repos| {
        repos.checkout()?.delete_annotations(&user, request)?;
        Ok(wire::BaseResponse { status: ok() })
    })
    .await
}

async fn delete_annotation(
    repos: Arc<Repos>,
    caller: Caller,
    request: wire::DeleteAnnotationRequest,
) -> Answer<wire::BaseResponse> {
    let user = acting_user(&caller, request.user_app_id.as_ref())?;
    let request = AnnotationsToDelete {
        ids: vec![request.annotation_id],
        input_ids: vec![request.input_id],
    };
    blocking(repos, move |repos| {
        repos.checkout()?.delete_annotations(&user, request)?;
        Ok(wire::BaseResponse { status: ok() })
    })
    .await
}

async fn list_annotations(
    repos: Arc<Repos>,
    request: wire::ListAnnotationsRequest,
) -> Answer<wire::MultiAnnotationResponse> {
    let mut query = convert::annotation_query_from_wire(request);
    query.per_page = per_page(query.per_page)?;
    let selection = requests::annotation_selection(query)?;
    read(repos, move |repo| {
        let listed = repo.list_annotations(&selection)?;
        Ok(wire::MultiAnnotationResponse {
            status: ok(),
            annotations: listed.iter().map(convert::annotation_to_wire).collect(),
        })
    })
    .await
}

/// A page size as ListTasks takes it: 0 (not sent) is the default.
fn per_page(n: u32) -> Answer<u32> {
    match n {
        0 => Ok(DEFAULT_PER_PAGE),
        n if n > MAX_PER_PAGE => Err(Failure::bad_request(format!(
            "per_page is `{n}`; it must be a whole number from 1 to {MAX_PER_PAGE}"
        ))),
        n => Ok(n),
    }
}

/// ListTasks' filters, as the JSON face reads them from the query string; a field protobuf
/// sends as 0 or empty was not sent.
fn list_query(request: wire::ListTasksRequest) -> Answer<ListQuery> {
    let unsupported = [
        ("input_source_type", request.input_source_type != 0),
        ("input_source_ids", !request.input_source_ids.is_empty()),
        ("label_order_ids", !request.label_order_ids.is_empty()),
        (
            "including_label_order_tasks",
            request.including_label_order_tasks,
        ),
        (
            "worker_ids.model_id",
            request.worker_ids.iter().any(|w| !w.model_id.is_empty()),
        ),
        (
            "worker_ids.workflow_id",
            request.worker_ids.iter().any(|w| !w.workflow_id.is_empty()),
        ),
    ];
    if let Some((field, _)) = unsupported.iter().find(|(_, sent)| *sent) {
        return Err(Failure::bad_request(format!(
            "`{field}` is not supported by annotask"
        )));
    }
    let per_page = per_page(request.per_page)?;
    let mut worker_user_ids = request.worker_user_ids;
    worker_user_ids.extend(
        request
            .worker_ids
            .into_iter()
            .map(|w| w.user_id)
            .filter(|id| !id.is_empty()),
    );
    Ok(ListQuery {
        worker_user_ids,
        review_user_ids: request.review_user_ids,
        ids: request.ids,
        page: request.page.max(1),
        per_page,
    })
}

async fn patch_tasks(
    repos: Arc<Repos>,
    request: wire::PatchTasksRequest,
) -> Answer<wire::MultiTaskResponse> {
    let patch = PatchTasks {
        action: request.action,
        tasks: tasks_from_wire(request.tasks)?,
        user_app_id: None,
    };
    blocking(repos, move |repos| {
        let tasks = repos.checkout()?.update(requests::task_overwrite(patch)?)?;
        Ok(wire::MultiTaskResponse {
            status: ok(),
            tasks: tasks_to_wire(tasks),
        })
    })
    .await
}

async fn delete_tasks(
    repos: Arc<Repos>,
    request: wire::DeleteTasksRequest,
) -> Answer<wire::BaseResponse> {
    blocking(repos, move |repos| {
        repos.checkout()?.delete(&request.ids)?;
        Ok(wire::BaseResponse { status: ok() })
    })
    .await
}
