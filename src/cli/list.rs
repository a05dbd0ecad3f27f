//! `annotask list`: a page of tasks, as ListTasks answers it.

use annotask::api::{DEFAULT_PER_PAGE, MAX_PER_PAGE, TasksResponse, ok};
use annotask::store::ListQuery;

use super::{Format, Global, Outcome, output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only tasks with this worker (repeatable: any of them).
    #[arg(long = "worker-user-ids", value_name = "USER")]
    worker_user_ids: Vec<String>,
    /// Only tasks with this reviewer (repeatable: any of them).
    #[arg(long = "review-user-ids", value_name = "USER")]
    review_user_ids: Vec<String>,
    /// Only these tasks (repeatable).
    #[arg(long = "ids", value_name = "ID")]
    ids: Vec<String>,
    /// The page, counting from 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    page: u32,
    /// Tasks per page.
    #[arg(long, default_value_t = DEFAULT_PER_PAGE, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PER_PAGE)))]
    per_page: u32,
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
                .index()
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
        Format::Table => print!("{}", output::task_table(&repo.list(&query)?)),
    }
    Ok(Outcome::Success)
}
