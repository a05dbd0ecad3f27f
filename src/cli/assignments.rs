//! `annotask assignments TASK_ID`: who labels which input, a page at a time, as the hosted
//! API's TaskAssignments; `annotask counts TASK_ID`, each worker's assignments (or
//! annotations) by state, as GetTaskInputCount (GetTaskAnnotationCount) answers; and
//! `annotask explain TASK_ID INPUT_ID`, why an input stands where it does.

use serde::Serialize;

use annotask::api::{
    AnnotationOut, ApiStatus, DEFAULT_PER_PAGE, MAX_PER_PAGE, TaskAssignment,
    TaskAssignmentsResponse, TaskInputCountResponse, UserWorker, assignment_id, ok,
};

use annotask::repo::AnnotationSelection;
use annotask::work::{Outcome as WorkOutcome, State};

use super::{Format, Global, Outcome, output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The task's id.
    #[arg(value_parser = super::list::task_id)]
    id: String,
    /// Only this worker's assignments.
    #[arg(long = "worker-user-id", value_name = "USER")]
    worker_user_id: Option<String>,
    /// The page, counting from 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    page: u32,
    /// Assignments per page.
    #[arg(long, default_value_t = DEFAULT_PER_PAGE, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PER_PAGE)))]
    per_page: u32,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let repo = global.open_synced()?;
    let page = repo.assignments(
        &args.id,
        args.worker_user_id.as_deref(),
        args.page,
        args.per_page,
    )?;
    match global.format {
        Format::Table => {
            let rows: Vec<[&str; 3]> = std::iter::once(["INPUT", "WORKER", "STATUS"])
                .chain(
                    page.iter()
                        .map(|a| [a.input.as_str(), a.worker.as_str(), a.state.name()]),
                )
                .collect();
            // Ids give up room, the input's first; the state never.
            let cuts = [(0, 12), (1, 12), (0, 8), (1, 8)];
            print!(
                "{}",
                output::columns(&rows, output::terminal_width(), &cuts)
            );
            if page.len() == args.per_page as usize {
                eprintln!(
                    "page {}: {}; more may follow with --page {}",
                    args.page,
                    output::count(page.len() as u64, "assignment"),
                    args.page + 1
                );
            }
        }
        format => {
            let ids: Vec<&str> = page.iter().map(|a| a.input.as_str()).collect();
            let inputs = repo.inputs_json(&ids)?;
            let task_assignments = page
                .iter()
                .zip(inputs)
                .map(|(a, input)| TaskAssignment::new(&a.input, input, &a.worker, a.state))
                .collect();
            output::structured(
                format,
                &TaskAssignmentsResponse {
                    status: ok(),
                    task_assignments,
                },
            )
        }
    }
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct CountArgs {
    /// The task's id.
    #[arg(value_parser = super::list::task_id)]
    id: String,
    /// Count annotations instead of assignments (GetTaskAnnotationCount).
    #[arg(long)]
    annotations: bool,
}

pub fn counts(global: &Global, args: CountArgs) -> anyhow::Result<Outcome> {
    let repo = global.open_synced()?;
    let counts = if args.annotations {
        repo.annotation_counts(&args.id)?
    } else {
        repo.counts(&args.id)?
    };
    let response = TaskInputCountResponse {
        status: ok(),
        task_id: args.id,
        counts: counts.per_user(&[]),
    };
    match global.format {
        Format::Table => {
            // The API's names, on two lines so that five counts fit 80 columns.
            let head = [
                ["", "", "AWAITING", "", "REVIEW", "AWAITING"],
                [
                    "WORKER",
                    "PENDING",
                    "REVIEW",
                    "SUCCESS",
                    "DENIED",
                    "CONSENSUS_REVIEW",
                ],
            ]
            .map(|row| row.map(String::from));
            let rows: Vec<[String; 6]> = head
                .into_iter()
                .chain(response.counts.iter().map(|c| {
                    [
                        c.worker.user.id.clone(),
                        c.pending.to_string(),
                        c.awaiting_review.to_string(),
                        c.success.to_string(),
                        c.review_denied.to_string(),
                        c.awaiting_consensus_review.to_string(),
                    ]
                }))
                .collect();
            let width = output::terminal_width();
            print!("{}", output::columns(&rows, width, &[(0, 8)]));
            if !output::quiet() {
                let strategy = counts.task.doc().worker.as_ref().and_then(|w| w.strategy);
                let summary = format!(
                    "{} in the task's source; {}; counting {}",
                    output::count(counts.plan.inputs, "input"),
                    strategy.map_or("no worker strategy".to_owned(), |s| s.to_string()),
                    if args.annotations {
                        "annotations"
                    } else {
                        "assignments"
                    },
                );
                println!("{}", output::wrap(&summary, width, "  "));
            }
        }
        format => output::structured(format, &response),
    }
    Ok(Outcome::Success)
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The task's id.
    #[arg(value_parser = super::list::task_id)]
    task_id: String,
    /// The input's id.
    #[arg(value_parser = super::list::task_id)]
    input_id: String,
}

/// `explain -o json`: the input's holders, annotations and outcome, and the story.
#[derive(Serialize)]
struct Explanation<'a> {
    task_id: &'a str,
    input_id: &'a str,
    outcome: WorkOutcome,
    assignments: Vec<ExplainedAssignment>,
    annotations: Vec<AnnotationOut>,
    /// The lines on the input the replay warns about (not counted, or a hand-out that met
    /// another), each at its work file's line.
    flagged: Vec<Flagged>,
    story: &'a [String],
}

#[derive(Serialize)]
struct Flagged {
    file: String,
    line: u32,
    field: String,
    message: String,
}

#[derive(Serialize)]
struct ExplainedAssignment {
    id: String,
    worker: UserWorker,
    status: ApiStatus,
    planned: bool,
    submissions: u32,
    #[serde(skip)]
    state: State,
}

pub fn explain(global: &Global, args: ExplainArgs) -> anyhow::Result<Outcome> {
    let repo = global.open_synced()?;
    let state = repo.explain(&args.task_id, &args.input_id)?;
    let task = repo.get(&args.task_id)?;
    let assistant = task.assistant();
    let assignments: Vec<ExplainedAssignment> = state
        .assignments
        .iter()
        .map(|a| ExplainedAssignment {
            id: assignment_id(&args.input_id, &a.worker),
            worker: UserWorker::new(&a.worker),
            status: ApiStatus {
                code: a.state.code(),
                description: a.state.description().to_owned(),
                details: a.comment.clone(),
            },
            planned: a.planned,
            submissions: a.submissions,
            state: a.state,
        })
        .collect();
    match global.format {
        Format::Table => {
            let head = ["WORKER", "STATUS", "HELD", "SUBMISSIONS"].map(String::from);
            let rows: Vec<[String; 4]> = std::iter::once(head)
                .chain(assignments.iter().map(|a| {
                    [
                        a.worker.user.id.clone(),
                        a.state.name().to_owned(),
                        match a.planned {
                            true => "planned",
                            // AI assist: its prediction decided the input.
                            false if assistant == Some(a.worker.user.id.as_str()) => "predicted",
                            false => "by work",
                        }
                        .to_owned(),
                        a.submissions.to_string(),
                    ]
                }))
                .collect();
            let width = output::terminal_width();
            print!("{}", output::columns(&rows, width, &[(0, 8)]));
            for line in &state.story {
                println!("{}", output::wrap(&format!("- {line}"), width, "  "));
            }
        }
        format => {
            let annotations = repo.list_annotations(&AnnotationSelection {
                task: Some(args.task_id.clone()),
                ids: Vec::new(),
                workers: Vec::new(),
                inputs: vec![args.input_id.clone()],
                states: Vec::new(),
                page: 1,
                per_page: u32::MAX,
            })?;
            output::structured(
                format,
                &Explanation {
                    task_id: &args.task_id,
                    input_id: &args.input_id,
                    outcome: state.outcome,
                    assignments,
                    annotations,
                    flagged: state
                        .flagged
                        .iter()
                        .map(|f| Flagged {
                            file: annotask::layout::work_path(&args.task_id, &f.user),
                            line: f.diagnostic.location.map_or(0, |l| l.line),
                            field: f.diagnostic.field.clone(),
                            message: f.diagnostic.message.clone(),
                        })
                        .collect(),
                    story: &state.story,
                },
            )
        }
    }
    Ok(Outcome::Success)
}
