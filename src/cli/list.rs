//! `annotask list`: a page of tasks, as ListTasks answers it.

use annotask::api::{DEFAULT_PER_PAGE, MAX_PER_PAGE, TasksResponse, ok};
use annotask::store::ListQuery;

use super::{Format, Global, Outcome, output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only tasks with this worker (repeatable, or comma-separated: any of them).
    #[arg(long = "worker-user-ids", value_name = "USER", value_delimiter = ',')]
    worker_user_ids: Vec<String>,
    /// Only tasks with this reviewer (repeatable, or comma-separated: any of them).
    #[arg(long = "review-user-ids", value_name = "USER", value_delimiter = ',')]
    review_user_ids: Vec<String>,
    /// Only these tasks (repeatable, or comma-separated).
    #[arg(long = "ids", value_name = "ID", value_delimiter = ',', value_parser = task_id)]
    ids: Vec<String>,
    /// The page, counting from 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    page: u32,
    /// Tasks per page.
    #[arg(long, default_value_t = DEFAULT_PER_PAGE, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PER_PAGE)))]
    per_page: u32,
}

/// An id that no task can have is a usage error, not an empty answer.
pub fn task_id(text: &str) -> Result<String, String> {
    annotask::validate::check_id(text).map(|()| text.to_owned())
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let repo = global.open_synced()?;
    let query = ListQuery {
        worker_user_ids: args.worker_user_ids,
        review_user_ids: args.review_user_ids,
        ids: args.ids,
        page: args.page,
        per_page: args.per_page,
    };
    match global.format {
        Format::Json => {
            // The index holds each task's canonical JSON: pass it through unparsed.
            let tasks = repo
                .list_json(&query)?
                .into_iter()
                .map(serde_json::value::RawValue::from_string)
                .collect::<Result<Vec<_>, _>>()?;
            output::json(&TasksResponse {
                status: ok(),
                tasks,
            });
        }
        Format::Yaml => output::structured(Format::Yaml, &repo.list(&query)?),
        Format::Table => {
            let tasks = repo.list(&query)?;
            print!("{}", output::task_table(&tasks, output::terminal_width()));
            let shown = u64::from(query.page.saturating_sub(1)) * u64::from(query.per_page)
                + tasks.len() as u64;
            if tasks.len() == query.per_page as usize {
                let total = repo.count(&query)?;
                if total > shown {
                    eprintln!(
                        "page {}: {} of {}; more with --page {}",
                        query.page,
                        output::grouped(tasks.len() as u64),
                        output::count(total, "task"),
                        query.page + 1
                    );
                }
            }
        }
    }
    Ok(Outcome::Success)
}
