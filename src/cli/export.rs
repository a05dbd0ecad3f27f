//! `annotask export TASK_ID --format FORMAT --out PATH`: each input's final label, once, as a
//! file (coco, csv, jsonl) or a folder (yolo, voc), written atomically. What is left out is
//! counted on stderr.

use std::path::PathBuf;

use clap::ValueEnum;
use serde::Serialize;

use annotask::export::{self, Options, Tally};

use super::{Format, Global, Outcome, output};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON file, for detection and polygon tasks (pycocotools, detectron2, mmdetection).
    Coco,
    /// A folder in Ultralytics' layout: data.yaml, images/, labels/ (detection tasks).
    Yolo,
    /// A folder of Pascal VOC XML files, one per image (detection tasks).
    Voc,
    /// One CSV file: a row per input, a column per concept (classification tasks).
    Csv,
    /// One JSON line per input: the API's Annotation JSON, whose it is and how it was decided.
    Jsonl,
}

impl ExportFormat {
    pub fn format(self) -> export::Format {
        match self {
            ExportFormat::Coco => export::Format::Coco,
            ExportFormat::Yolo => export::Format::Yolo,
            ExportFormat::Voc => export::Format::Voc,
            ExportFormat::Csv => export::Format::Csv,
            ExportFormat::Jsonl => export::Format::Jsonl,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The task's id.
    #[arg(value_parser = super::list::task_id)]
    task_id: String,
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// The file (coco, csv, jsonl) or folder (yolo, voc) to write; not inside tasks/, inputs/
    /// or work/.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// Replace what is at PATH (a folder only when it holds an earlier export).
    #[arg(long)]
    force: bool,
    /// Also export labels that are not final yet (open or awaiting review), marked as such.
    #[arg(long)]
    include_pending: bool,
    /// Leave out images whose size is unknown instead of refusing (coco, voc).
    #[arg(long)]
    allow_missing_sizes: bool,
}

#[derive(Serialize)]
struct Summary<'a> {
    status: annotask::api::ApiStatus,
    out: &'a std::path::Path,
    format: &'a str,
    #[serde(flatten)]
    tally: Tally,
    warnings: &'a [String],
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let format = args.format.format();
    let repo = global.open_synced()?;
    let out = export::check_out(repo.root(), &args.out, format, args.force)?;
    let task = export::task_for(&repo, &args.task_id, format)?;
    let options = Options {
        format,
        include_pending: args.include_pending,
        allow_missing_sizes: args.allow_missing_sizes,
    };
    let exported = export::prepare(&repo, &task, &options)?;
    export::write_out(&exported, format, repo.root(), &out)?;
    for warning in &exported.warnings {
        eprintln!("warning: {warning}");
    }
    match global.format {
        Format::Table => eprintln!("{} -> {}", exported.tally, args.out.display()),
        format => output::structured(
            format,
            &Summary {
                status: annotask::api::ok(),
                out: &out,
                format: options.format.name(),
                tally: exported.tally,
                warnings: &exported.warnings,
            },
        ),
    }
    Ok(Outcome::Success)
}
