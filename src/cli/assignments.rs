//! `annotask assignments TASK_ID`: who labels which input, a page at a time, as the hosted
//! API's TaskAssignments; and `annotask counts TASK_ID`, each worker's number, as
//! GetTaskInputCount answers.

use annotask::api::{
    DEFAULT_PER_PAGE, MAX_PER_PAGE, TaskAssignment, TaskAssignmentsResponse,
    TaskInputCountResponse, ok,
};

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
                        .map(|a| [a.input.as_str(), a.worker.as_str(), "PENDING"]),
                )
                .collect();
            print!("{}", output::columns(&rows));
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
}

pub fn counts(global: &Global, args: CountArgs) -> anyhow::Result<Outcome> {
    let repo = global.open_synced()?;
    let counts = repo.counts(&args.id)?;
    let response = TaskInputCountResponse {
        status: ok(),
        task_id: args.id,
        counts: counts.per_user(&[]),
    };
    match global.format {
        Format::Table => {
            let rows: Vec<[String; 2]> = std::iter::once(["WORKER".into(), "PENDING".into()])
                .chain(
                    response
                        .counts
                        .iter()
                        .map(|c| [c.worker.user.id.clone(), c.pending.to_string()]),
                )
                .collect();
            print!("{}", output::columns(&rows));
            if !output::quiet() {
                let strategy = counts.task.doc().worker.as_ref().and_then(|w| w.strategy);
                println!(
                    "{} in the task's source; {}; every assignment is pending",
                    output::count(counts.plan.inputs, "input"),
                    strategy.map_or("no worker strategy".to_owned(), |s| s.to_string()),
                );
            }
        }
        format => output::structured(format, &response),
    }
    Ok(Outcome::Success)
}
