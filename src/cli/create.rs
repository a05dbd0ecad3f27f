//! `annotask create -f FILE`: creates tasks from a PostTasks body.

use std::path::PathBuf;

use annotask::api::PostTasks;
use annotask::layout;

use super::{Global, Outcome, output, read_body};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The body, JSON or YAML: {"tasks": [...]}; `-` reads stdin.
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let (body, bytes, name) = read_body::<PostTasks>(&args.file)?;
    let mut repo = global.open()?;
    let tasks = repo
        .create(body.tasks)
        .map_err(|e| e.in_body(&bytes, &name))?;
    output::written(global.format, tasks, |task| {
        format!("created {}", layout::path_for_id(task.id()))
    });
    Ok(Outcome::Success)
}
