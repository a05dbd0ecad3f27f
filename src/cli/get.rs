//! `annotask get ID`: one task, as GetTask answers it.

use annotask::api::{TaskResponse, ok};

use super::{Format, Global, Outcome, output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The task's id.
    #[arg(value_parser = super::list::task_id)]
    id: String,
    /// Add the task's `metrics` (inputs, work, review), as `additional_fields=all` asks the
    /// API; annotask's are exact counts.
    #[arg(long)]
    metrics: bool,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let repo = global.open_synced()?;
    let task = repo.get(&args.id)?;
    if args.metrics {
        print(global.format, repo.with_metrics(&task)?);
    } else {
        print(global.format, task);
    }
    Ok(Outcome::Success)
}

fn print<T: serde::Serialize>(format: Format, task: T) {
    match format {
        Format::Json => output::json(&TaskResponse { status: ok(), task }),
        format => output::structured(format, &task),
    }
}
