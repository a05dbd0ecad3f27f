//! Terminal output shared by the commands: diagnostics, task tables, API response bodies and
//! errors. Results go to stdout; errors to stderr, except in JSON mode, where an error is the
//! API's status object on stdout so scripts read one shape.

use std::fmt::Write as _;

use serde::Serialize;

use annotask::api::{StatusCode, StatusResponse, TasksResponse, ok};
use annotask::model::Task;
use annotask::validate::{Diagnostic, Report};
use annotask::yaml;

use super::Format;

/// `file:line:column: severity: field: message`, then the hint, as compilers print them.
pub fn diagnostic(file: &str, d: &Diagnostic) -> String {
    let mut out = String::from(file);
    if let Some(at) = d.location {
        let _ = write!(out, ":{}:{}", at.line, at.column);
    }
    let _ = write!(out, ": {}: ", d.severity);
    if !d.field.is_empty() {
        let _ = write!(out, "{}: ", d.field);
    }
    out.push_str(&d.message);
    if let Some(hint) = &d.hint {
        let _ = write!(out, "\n    hint: {hint}");
    }
    out
}

pub fn reports(reports: &[Report]) -> String {
    let mut out = String::new();
    for report in reports {
        for d in &report.diagnostics {
            out.push_str(&diagnostic(&report.file, d));
            out.push('\n');
        }
    }
    out
}

pub fn json<T: Serialize + ?Sized>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("responses always serialise")
    );
}

/// Prints a value in the chosen format; `table` is drawn by the caller.
pub fn structured<T: Serialize + ?Sized>(format: Format, value: &T) {
    match format {
        Format::Json => json(value),
        Format::Yaml | Format::Table => print!("{}", yaml::to_yaml_value(value)),
    }
}

/// The tasks a write command wrote: the API's response body, task files, or one line each.
pub fn written(format: Format, tasks: Vec<Task>, line: impl Fn(&Task) -> String) {
    match format {
        Format::Json => json(&TasksResponse {
            status: ok(),
            tasks,
        }),
        Format::Yaml => structured(Format::Yaml, &tasks),
        Format::Table => tasks.iter().for_each(|task| println!("{}", line(task))),
    }
}

/// One line per task: what a person scanning a list needs.
pub fn task_table(tasks: &[Task]) -> String {
    let mut rows = vec![["ID", "TYPE", "STATUS", "WORKERS", "REVIEWERS", "NAME"].map(String::from)];
    for task in tasks {
        let doc = task.doc();
        rows.push([
            task.id().to_owned(),
            doc.task_type.map_or("-".into(), |t| t.to_string()),
            task.status().name().to_owned(),
            join_or_dash(task.worker_ids()),
            join_or_dash(task.reviewer_ids()),
            doc.name.clone().unwrap_or_default(),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c == row.len() - 1 {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn join_or_dash(ids: &[String]) -> String {
    if ids.is_empty() {
        "-".into()
    } else {
        ids.join(",")
    }
}

/// Prints a failed command: its full cause chain, and any diagnostics.
pub fn error(format: Format, err: &anyhow::Error) {
    let lib = err.downcast_ref::<annotask::Error>();
    if format == Format::Json {
        let status = match lib {
            Some(e) => e.status(),
            None => StatusCode::Failure.status(Some(chain(err))),
        };
        json(&StatusResponse { status });
        return;
    }
    match lib {
        Some(annotask::Error::Invalid(found)) => eprint!("{}", reports(found)),
        _ => eprintln!("error: {}", chain(err)),
    }
}

fn chain(err: &anyhow::Error) -> String {
    err.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}
