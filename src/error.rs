//! The library's error type, and which API status each error answers with. Must not print:
//! the CLI and the server decide how an error is shown.

use std::io;
use std::path::PathBuf;

use crate::api::{ApiStatus, StatusCode};
use crate::store::StoreError;
use crate::validate::{Diagnostic, Report};
use crate::yaml;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Documents that break the rules; nothing was written.
    #[error("{}", invalid_summary(.0))]
    Invalid(Vec<Report>),
    #[error("no task with id {}", quoted(.0))]
    NotFound(Vec<String>),
    #[error("a task with id {} already exists", quoted(.0))]
    AlreadyExists(Vec<String>),
    #[error("{}", conflicts(.0))]
    Conflict(Vec<(String, Vec<String>)>),
    #[error("unsupported action `{0}`; the only action is `overwrite`")]
    UnsupportedAction(String),
    /// The caller may not do this: annotate an input not theirs, review without being a
    /// reviewer of the task.
    #[error("{0}")]
    PermissionDenied(String),
    #[error("there is no tasks folder at {0}")]
    NoTasksDir(PathBuf),
    #[error("another watcher{} is already watching {}", .pid.map(|p| format!(" (pid {p})")).unwrap_or_default(), .index.display())]
    WatcherRunning { pid: Option<u32>, index: PathBuf },
    #[error("cannot {action} {}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "the index `{}` cannot be written, so nothing was: queries still answer from the files, writes need its folder writable",
        .0.display()
    )]
    ReadOnlyIndex(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn quoted(ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn conflicts(ids: &[(String, Vec<String>)]) -> String {
    let each: Vec<String> = ids
        .iter()
        .map(|(id, files)| {
            let files: Vec<String> = files.iter().map(|f| format!("`{f}`")).collect();
            format!("id `{id}` is defined by {}", files.join(" and "))
        })
        .collect();
    format!(
        "{}; nothing was written: keep one file per id, then try again",
        each.join("; ")
    )
}

/// One line for every error, as a client reading an API status's `details` needs it: the field,
/// the message, and where the text has them, the position and the hint.
fn invalid_summary(reports: &[Report]) -> String {
    let mut lines = Vec::new();
    for report in reports {
        for d in report.diagnostics.iter().filter(|d| d.is_error()) {
            let mut line = if d.field.is_empty() {
                d.message.clone()
            } else {
                format!("{}: {}", d.field, d.message)
            };
            let notes: Vec<String> = d
                .location
                .map(|at| format!("line {}, column {}", at.line, at.column))
                .into_iter()
                .chain(d.hint.as_ref().map(|hint| format!("hint: {hint}")))
                .collect();
            if !notes.is_empty() {
                line.push_str(&format!(" ({})", notes.join("; ")));
            }
            lines.push(line);
        }
    }
    format!("invalid input: {}", lines.join("; "))
}

impl Error {
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }

    /// A request body that did not decode; `name` says where it came from (a file, `-`).
    pub fn bad_body(name: &str, diagnostic: Diagnostic) -> Error {
        Error::Invalid(vec![Report {
            file: name.to_owned(),
            diagnostics: vec![diagnostic],
        }])
    }

    /// Names the request body an invalid request came in, and places its diagnostics (which
    /// name fields such as `tasks[1].worker`) at their line and column in it.
    pub fn in_body(self, bytes: &[u8], name: &str) -> Error {
        match self {
            Error::Invalid(mut reports) => {
                for report in &mut reports {
                    report.file = name.to_owned();
                    yaml::locate(bytes, &mut report.diagnostics);
                }
                Error::Invalid(reports)
            }
            other => other,
        }
    }

    /// The API status this error answers with; `details` carries the message.
    pub fn status(&self) -> ApiStatus {
        let code = match self {
            Error::Invalid(_) => StatusCode::InvalidRequest,
            Error::NotFound(_) => StatusCode::TaskMissing,
            Error::AlreadyExists(_) | Error::Conflict(_) => StatusCode::TaskConflict,
            Error::UnsupportedAction(_) => StatusCode::TaskNotImplemented,
            Error::PermissionDenied(_) => StatusCode::TaskPermissionDenied,
            Error::WatcherRunning { .. } => StatusCode::Failure,
            Error::NoTasksDir(_) | Error::Io { .. } | Error::ReadOnlyIndex(_) | Error::Store(_) => {
                StatusCode::ServerError
            }
        };
        code.status(Some(self.to_string()))
    }

    /// Whether the caller's input is at fault (as opposed to this machine).
    pub fn is_input_error(&self) -> bool {
        matches!(
            self,
            Error::Invalid(_)
                | Error::NotFound(_)
                | Error::AlreadyExists(_)
                | Error::Conflict(_)
                | Error::UnsupportedAction(_)
                | Error::PermissionDenied(_)
        )
    }
}
