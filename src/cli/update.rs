//! `annotask update -f FILE`: overwrites tasks from a PatchTasks body.

use std::path::PathBuf;

use annotask::api::PatchTasks;
use annotask::server::requests;

use super::{Global, Outcome, output, read_body};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The body, JSON or YAML: {"action": "overwrite", "tasks": [...]}; `-` reads stdin.
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let (body, bytes, name) = read_body::<PatchTasks>(&args.file)?;
    let mut repo = global.open()?;
    let tasks = requests::task_overwrite(body)
        .and_then(|docs| repo.update(docs))
        .map_err(|e| e.in_body(&bytes, &name))?;
    output::written(global.format, tasks, |task| {
        format!("updated {}", task.id())
    });
    Ok(Outcome::Success)
}
