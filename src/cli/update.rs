//! `annotask update -f FILE`: overwrites tasks from a PatchTasks body.

use std::path::PathBuf;

use annotask::api::{PatchTasks, TasksResponse, ok};

use super::{Format, Global, Outcome, output, read_body};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The body, JSON or YAML: {"action": "overwrite", "tasks": [...]}; `-` reads stdin.
    #[arg(short = 'f', long = "file")]
    file: PathBuf,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let (body, bytes, name) = read_body::<PatchTasks>(&args.file)?;
    if body.action != "overwrite" {
        return Err(annotask::Error::UnsupportedAction(body.action).into());
    }
    let mut repo = global.open()?;
    let tasks = repo
        .update(body.tasks)
        .map_err(|e| e.in_body(&bytes, &name))?;
    match global.format {
        Format::Json => output::json(&TasksResponse {
            status: ok(),
            tasks,
        }),
        Format::Yaml => output::structured(Format::Yaml, &tasks),
        Format::Table => {
            for task in &tasks {
                println!("updated {}", task.id());
            }
        }
    }
    Ok(Outcome::Success)
}
