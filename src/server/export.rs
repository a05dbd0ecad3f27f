//! The export route: `GET {prefix}/tasks/{task_id}/export?format=...`, for the task's workers
//! and reviewers, answering what `annotask export` writes, streamed: a file format as the file,
//! a folder format (yolo, voc) as a tar of the folder. Must not decide what is exported:
//! [`crate::export`] does.

use std::io::{self, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use http_body::Frame;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::Error;
use crate::export::{self, Format, Options};
use crate::validate::check_id;

use super::auth::{self, Caller};
use super::blocking;
use super::query;
use super::reply::Failure;
use super::repos::Repos;

#[derive(Deserialize)]
pub struct ExportPath {
    task_id: String,
    #[serde(default)]
    user_id: Option<String>,
}

/// How much of the answer is gathered before it is sent.
const CHUNK: usize = 256 << 10;

pub async fn export(
    State(repos): State<Arc<Repos>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<ExportPath>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Failure> {
    let Path(path) = path.map_err(|e| Failure::bad_request(e.body_text()))?;
    let user = auth::acting_user(&caller, path.user_id.as_deref())?;
    let task_id = path.task_id;
    check_id(&task_id).map_err(Failure::bad_request)?;
    let format = query::export_format(raw.as_deref())?;
    let name = format!("attachment; filename=\"{task_id}-{}", format.name());
    let (exported, root) = blocking(repos, move |repos| {
        let repo = repos.fresh()?;
        let task = export::task_for(&repo, &task_id, format)?;
        if !task.worker_ids().contains(&user) && !task.reviewer_ids().contains(&user) {
            return Err(Error::PermissionDenied(format!(
                "`{user}` is neither a worker nor a reviewer of task `{task_id}`, so may not export it"
            ))
            .into());
        }
        let options = Options {
            format,
            include_pending: false,
            allow_missing_sizes: false,
        };
        let exported = export::prepare(&repo, &task, &options)?;
        Ok((exported, repo.root().to_path_buf()))
    })
    .await?;
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut out = Sender {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        let written = exported
            .write_stream(format, &root, &mut out)
            .and_then(|()| out.flush());
        if let Err(e) = written {
            // The client sees the body end in an error rather than a cut that looks whole.
            let _ = out.tx.blocking_send(Err(e));
        }
    });
    let mut response = Response::new(Body::new(Receiver { rx }));
    let (kind, extension) = match format {
        Format::Coco => ("application/json", "json"),
        Format::Jsonl => ("application/x-ndjson", "jsonl"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Yolo | Format::Voc => ("application/x-tar", "tar"),
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // A checked task id needs no escaping in the header.
    if let Ok(value) = HeaderValue::from_str(&format!("{name}.{extension}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The writing side of a streamed answer: whole chunks to the response.
struct Sender {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Write for Sender {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

/// The response body: the chunks as they come.
struct Receiver {
    rx: mpsc::Receiver<io::Result<Bytes>>,
}

impl http_body::Body for Receiver {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| c.map(Frame::data)))
    }
}
