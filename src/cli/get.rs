//! `annotask get ID`: one task, as GetTask answers it.

use annotask::api::{TaskResponse, ok};

use super::{Format, Global, Outcome, output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The task's id.
    #[arg(value_parser = super::list::task_id)]
    id: String,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let repo = global.open_synced()?;
    let task = repo.get(&args.id)?;
    match global.format {
        Format::Json => output::json(&TaskResponse { status: ok(), task }),
        format => output::structured(format, &task),
    }
    Ok(Outcome::Success)
}
