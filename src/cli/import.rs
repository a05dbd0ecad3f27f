//! `annotask import TASK_ID --format FORMAT FILE --as USER`: another tool's labels or a
//! model's predictions, appended to USER's work on the task as unsubmitted annotations.

use std::path::PathBuf;

use clap::ValueEnum;

use annotask::import::{self, Format as ImportFormat};

use super::{Format, Global, Outcome, output};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A COCO file: a dataset (images, categories, annotations) or a results list with scores.
    Coco,
    /// A YOLO labels folder (`labels/*.txt`, `data.yaml` for the class names).
    Yolo,
    /// `annotask export --format jsonl`'s lines.
    Jsonl,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The task's id.
    #[arg(value_parser = super::list::task_id)]
    task_id: String,
    #[arg(long, value_enum)]
    format: Kind,
    /// The file (coco, jsonl) or folder (yolo) to read.
    file: PathBuf,
    /// Whose work the annotations become: one of the task's workers.
    #[arg(long = "as", value_name = "USER")]
    user: String,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let format = match args.format {
        Kind::Coco => ImportFormat::Coco,
        Kind::Yolo => ImportFormat::Yolo,
        Kind::Jsonl => ImportFormat::Jsonl,
    };
    let mut repo = global.open_synced()?;
    let imported = import::run(&mut repo, &args.task_id, format, &args.file, &args.user)?;
    match global.format {
        Format::Table => eprintln!(
            "{} appended to work/{}/{}.jsonl as unsubmitted work{}",
            output::count(imported.appended, "annotation"),
            args.task_id,
            args.user,
            match imported.unchanged {
                0 => String::new(),
                n => format!(
                    "; {} already there, unchanged",
                    output::count(n, "annotation")
                ),
            }
        ),
        format => output::structured(format, &imported),
    }
    Ok(Outcome::Success)
}
