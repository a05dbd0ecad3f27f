//! `annotask delete ID...` or `annotask delete -f FILE`: deletes tasks and their files.

use std::path::PathBuf;

use annotask::api::{DeleteTasks, StatusResponse, ok};

use super::{Format, Global, Outcome, output, read_body};

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["ids", "file"]))]
pub struct Args {
    /// The ids of the tasks to delete.
    #[arg(value_parser = super::list::task_id)]
    ids: Vec<String>,
    /// A DeleteTasks body instead, JSON or YAML: {"ids": [...]}; `-` reads stdin.
    #[arg(short = 'f', long = "file", conflicts_with = "ids")]
    file: Option<PathBuf>,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let (ids, body) = match &args.file {
        Some(file) => {
            let (body, bytes, name) = read_body::<DeleteTasks>(file)?;
            (body.ids, Some((bytes, name)))
        }
        None => (args.ids, None),
    };
    let mut repo = global.open()?;
    repo.delete(&ids).map_err(|e| match &body {
        Some((bytes, name)) => e.in_body(bytes, name),
        None => e,
    })?;
    match global.format {
        Format::Json => output::json(&StatusResponse { status: ok() }),
        Format::Yaml => output::structured(Format::Yaml, &ids),
        Format::Table => println!("deleted {}", ids.join(", ")),
    }
    Ok(Outcome::Success)
}
