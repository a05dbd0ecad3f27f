//! `export`: each input's final label, once, in the formats training code reads. This module
//! decides what an input's final label is (from the index's replayed states, see
//! docs/export.md), gathers the images' sizes, and drives a writer: one file per format
//! (`coco`, `yolo`, `voc`, `csv`, `jsonl`), each a pure function of an [`Export`] that must
//! not read the project or the index. Writing is atomic (a temporary file or folder, then a
//! rename); nothing is written when anything is wrong.

pub mod coco;
pub mod csv;
pub mod jsonl;
mod output;
mod size;
pub mod voc;
pub mod yolo;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

pub use output::{Folder, Tar, check_out, write_out};
pub use size::of_file as size_of_file;

use crate::error::{Error, Result};
use crate::layout;
use crate::model::{ReviewStrategy, Task, TaskType};
use crate::repo::Repo;
use crate::store::{Entry, WorkRow, entry_data};
use crate::validate::{Diagnostic, Report, check_id};
use crate::work::{Annotation, Decision, Event, Line, Outcome, State};

/// The formats an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Coco,
    Yolo,
    Voc,
    Csv,
    Jsonl,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Coco,
        Format::Yolo,
        Format::Voc,
        Format::Csv,
        Format::Jsonl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Coco => "coco",
            Format::Yolo => "yolo",
            Format::Voc => "voc",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The task types whose labels the format can hold.
    pub fn fits(self, task_type: Option<TaskType>) -> bool {
        use TaskType::*;
        match self {
            Format::Coco | Format::Yolo | Format::Voc => {
                matches!(task_type, Some(BOUNDING_BOX_DETECTION | POLYGON_DETECTION))
            }
            Format::Csv => task_type == Some(CONCEPTS_CLASSIFICATION),
            Format::Jsonl => true,
        }
    }

    fn fitting(self) -> &'static str {
        match self {
            Format::Coco | Format::Yolo | Format::Voc => {
                "BOUNDING_BOX_DETECTION and POLYGON_DETECTION tasks"
            }
            Format::Csv => "CONCEPTS_CLASSIFICATION tasks",
            Format::Jsonl => "every task",
        }
    }

    /// A folder (yolo, voc) rather than one file.
    pub fn is_folder(self) -> bool {
        matches!(self, Format::Yolo | Format::Voc)
    }

    /// Whether the format states boxes in pixels, so every image's size is needed.
    fn needs_sizes(self) -> bool {
        matches!(self, Format::Coco | Format::Voc)
    }

    /// The top-level names the format writes in its folder.
    fn top_names(self) -> &'static [&'static str] {
        match self {
            Format::Yolo => yolo::TOP,
            Format::Voc => voc::TOP,
            Format::Coco | Format::Csv | Format::Jsonl => &[],
        }
    }
}

/// What to export.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub format: Format,
    /// Also export inputs whose label is not final yet (open or awaiting review), marked so.
    pub include_pending: bool,
    /// Leave out, rather than refuse, images whose size cannot be found.
    pub allow_missing_sizes: bool,
}

/// How an input's label came to be the one exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// Review NONE: the worker submitted it.
    Submitted,
    /// Review MANUAL, outside the review sample: submitted, and so approved.
    NotSampled,
    /// A reviewer approved it.
    Reviewed,
    /// Enough workers agreed (CONSENSUS).
    Consensus,
    /// The task's assistant's prediction scored at least `max_threshold`, and no worker had
    /// submitted (`ai_assist_params`); `worker` is the assistant.
    Assistant,
    /// Not final: someone's work, still open (`--include-pending`).
    Pending,
    /// Not final: waiting for consensus or a reviewer (`--include-pending`).
    AwaitingReview,
}

impl How {
    pub fn is_final(self) -> bool {
        !matches!(self, How::Pending | How::AwaitingReview)
    }
}

/// An input's image: where it is and how large.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Image {
    /// `data.image.url` as the dataset line has it.
    pub url: Option<String>,
    /// The image's path in the project, when the url is a path from the project's root.
    pub local: Option<String>,
    /// Width and height in pixels.
    pub size: Option<(u32, u32)>,
}

impl Image {
    /// The image's file extension (`.jpg`), from its path or URL.
    pub fn extension(&self) -> Option<&str> {
        let path = self.local.as_deref().or(self.url.as_deref())?;
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let name = path.rsplit('/').next()?;
        let dot = name.rfind('.').filter(|i| *i > 0)?;
        let ext = &name[dot..];
        (ext.len() <= 6 && ext[1..].chars().all(|c| c.is_ascii_alphanumeric())).then_some(ext)
    }
}

/// One input's exported label.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub input_id: String,
    pub image: Image,
    /// Whose annotations these are.
    pub worker: String,
    /// Every worker whose assignment on the input succeeded (for CONSENSUS, the agreeing
    /// group), by id.
    pub agreed: Vec<String>,
    /// The reviewer whose approval stands on `worker`'s submission, if any.
    pub reviewer: Option<String>,
    pub how: How,
    /// By id.
    pub annotations: Vec<Annotation>,
}

/// Where the task's inputs stand, for the line an export ends with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Inputs written, final or not.
    pub exported: u64,
    /// Of those, not final (`--include-pending`).
    pub exported_pending: u64,
    /// Inputs left out, by why.
    pub awaiting_review: u64,
    pub pending: u64,
    pub rejected: u64,
    /// Left out for want of an image size (`--allow-missing-sizes`).
    pub no_size: u64,
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n =
            |n: u64, noun: &str| format!("{} {noun}{}", grouped(n), if n == 1 { "" } else { "s" });
        write!(f, "{} exported", n(self.exported, "input"))?;
        if self.exported_pending > 0 {
            write!(
                f,
                " ({} of them not final yet, by --include-pending)",
                grouped(self.exported_pending)
            )?;
        }
        let waiting = self.awaiting_review + self.pending;
        if waiting > 0 {
            let mut parts = Vec::new();
            if self.awaiting_review > 0 {
                parts.push(format!("{} awaiting review", grouped(self.awaiting_review)));
            }
            if self.pending > 0 {
                parts.push(format!("{} pending", grouped(self.pending)));
            }
            // With --include-pending, what is left out is what nobody has labeled yet.
            let said = if self.exported_pending > 0 {
                "left out"
            } else {
                "not final yet"
            };
            write!(f, ", {} {said}: {}", grouped(waiting), parts.join(", "))?;
        }
        if self.rejected > 0 {
            write!(f, ", {} rejected", grouped(self.rejected))?;
        }
        if self.no_size > 0 {
            write!(
                f,
                ", {} left out without an image size",
                grouped(self.no_size)
            )?;
        }
        Ok(())
    }
}

/// `n` with its thousands grouped: 1,204.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Everything a writer needs: the task's concepts, and the inputs to write, by input id.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub task_id: String,
    /// The task's `concept_ids`, in the task's order: COCO's categories, YOLO's classes.
    pub concepts: Vec<String>,
    pub include_pending: bool,
    pub items: Vec<Item>,
    pub tally: Tally,
    /// Things the user should know that did not stop the export (a region naming a concept
    /// the task no longer has).
    pub warnings: Vec<String>,
}

impl Export {
    /// Writes the export in `format`: a file format to `out`; a folder format as a tar, with
    /// the project's images (under `root`).
    pub fn write_stream(
        &self,
        format: Format,
        root: &Path,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        if format.is_folder() {
            let mut tar = output::Tar::new(out).with_images(root);
            self.write_folder(format, &mut tar)?;
            tar.finish()
        } else {
            self.write_file(format, out)
        }
    }

    /// Writes a file format.
    pub fn write_file(&self, format: Format, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match format {
            Format::Coco => coco::write(self, out),
            Format::Csv => csv::write(self, out),
            Format::Jsonl => jsonl::write(self, out),
            Format::Yolo | Format::Voc => Err(std::io::Error::other("a folder format")),
        }
    }

    /// Writes a folder format.
    pub fn write_folder(&self, format: Format, folder: &mut dyn Folder) -> std::io::Result<()> {
        match format {
            Format::Yolo => yolo::write(self, folder),
            Format::Voc => voc::write(self, folder),
            Format::Coco | Format::Csv | Format::Jsonl => {
                Err(std::io::Error::other("a file format"))
            }
        }
    }

    /// A concept's position among the task's concepts.
    pub fn class_of(&self) -> HashMap<&str, usize> {
        self.concepts
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect()
    }
}

/// The bad-input error of an export: `field` names the option at fault.
fn refused(field: &str, message: impl Into<String>, hint: Option<String>) -> Error {
    let mut diagnostic = Diagnostic::error(field, message);
    if let Some(hint) = hint {
        diagnostic = diagnostic.hint(hint);
    }
    Error::Invalid(vec![Report {
        file: "export".into(),
        diagnostics: vec![diagnostic],
    }])
}

/// The task, checked against the format.
pub fn task_for(repo: &Repo, task_id: &str, format: Format) -> Result<Task> {
    check_id(task_id).map_err(|e| refused("task_id", e, None))?;
    let task = repo.get(task_id)?;
    let task_type = task.doc().task_type;
    if !format.fits(task_type) {
        let named = task_type.map_or("no type".to_owned(), |t| format!("type {t:?}"));
        let fitting: Vec<&str> = Format::ALL
            .into_iter()
            .filter(|f| f.fits(task_type))
            .map(Format::name)
            .collect();
        return Err(refused(
            "format",
            format!(
                "task `{task_id}` has {named}; {} holds only {}",
                format.name(),
                format.fitting()
            ),
            Some(format!("formats for this task: {}", fitting.join(", "))),
        ));
    }
    Ok(task)
}

/// Reads every input's final label of a task, with its image's size where the format needs
/// it. An image with no size is an error naming the inputs, unless `allow_missing_sizes`.
pub fn prepare(repo: &Repo, task: &Task, options: &Options) -> Result<Export> {
    let review = task.doc().review.as_ref().and_then(|r| r.strategy);
    let assistant = task.assistant();
    // Both in input id order, as the index gives them.
    let mut chosen: Vec<Item> = Vec::new();
    let mut left_out: Vec<(String, Outcome)> = Vec::new();
    let mut failure = None;
    repo.each_work_row(task.id(), |row| {
        if failure.is_some() {
            return;
        }
        match choose(task.id(), review, assistant, &row, options.include_pending) {
            Ok(Some(item)) => chosen.push(item),
            Ok(None) => left_out.push((row.input, row.outcome)),
            Err(e) => failure = Some(e),
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let find =
        |chosen: &[Item], id: &str| chosen.binary_search_by(|item| item.input_id.as_str().cmp(id));
    // Only inputs the source selects: work kept on an input the task no longer selects is
    // not the task's label of anything.
    let mut tally = Tally::default();
    let inputs = repo.source_inputs(task, |id| {
        if find(&chosen, id).is_ok() {
            return true;
        }
        match left_out.binary_search_by(|(i, _)| i.as_str().cmp(id)) {
            Ok(i) if left_out[i].1 == Outcome::AwaitingReview => tally.awaiting_review += 1,
            Ok(i) if left_out[i].1 == Outcome::Rejected => tally.rejected += 1,
            // Open, or no work at all.
            _ => tally.pending += 1,
        }
        false
    })?;
    let mut items = Vec::with_capacity(inputs.len());
    for (id, json) in inputs {
        if let Ok(i) = find(&chosen, &id) {
            let mut item = std::mem::replace(&mut chosen[i], empty_item());
            item.image = image_of(&json);
            items.push(item);
        }
    }
    let root = repo.root();
    for item in &mut items {
        // A link could lead out of the project, and a missing file is no local image.
        let is_file = |local: &String| {
            std::fs::symlink_metadata(root.join(local)).is_ok_and(|m| m.file_type().is_file())
        };
        if item.image.local.as_ref().is_some_and(|l| !is_file(l)) {
            item.image.local = None;
        }
    }
    let mut warnings = Vec::new();
    if options.format.needs_sizes() {
        let mut missing = Vec::new();
        for item in &mut items {
            if let Some(local) = &item.image.local {
                // The image itself says what it is; a dataset line may be stale.
                if let Some(size) = size::of_file(&root.join(local)) {
                    item.image.size = Some(size);
                }
            }
            if item.image.size.is_none() {
                missing.push(item.input_id.clone());
            }
        }
        if !missing.is_empty() {
            if !options.allow_missing_sizes {
                return Err(no_sizes(&missing));
            }
            tally.no_size = missing.len() as u64;
            warnings.push(format!(
                "left out for want of an image size: {}",
                sample_of(&missing)
            ));
            items.retain(|item| item.image.size.is_some());
        }
    }
    tally.exported = items.len() as u64;
    tally.exported_pending = items.iter().filter(|i| !i.how.is_final()).count() as u64;
    let concepts = task.doc().concept_ids.clone();
    let known: std::collections::HashSet<&str> = concepts.iter().map(String::as_str).collect();
    let mut unknown = std::collections::BTreeSet::new();
    for item in &items {
        for annotation in &item.annotations {
            let regions = annotation
                .data
                .regions
                .iter()
                .flat_map(|r| &r.data.concepts);
            for concept in annotation.data.concepts.iter().chain(regions) {
                if !known.contains(concept.id.as_str()) {
                    unknown.insert(concept.id.clone());
                }
            }
        }
    }
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.into_iter().map(|c| format!("`{c}`")).collect();
        warnings.push(format!(
            "labels with concepts task `{}` no longer has are left out: {}",
            task.id(),
            names.join(", ")
        ));
    }
    Ok(Export {
        task_id: task.id().to_owned(),
        concepts,
        include_pending: options.include_pending,
        items,
        tally,
        warnings,
    })
}

fn empty_item() -> Item {
    Item {
        input_id: String::new(),
        image: Image::default(),
        worker: String::new(),
        agreed: Vec::new(),
        reviewer: None,
        how: How::Pending,
        annotations: Vec::new(),
    }
}

/// At most ten ids, and how many more.
fn sample_of(ids: &[String]) -> String {
    let shown: Vec<&str> = ids.iter().take(10).map(String::as_str).collect();
    match ids.len() {
        n if n > 10 => format!("{} and {} more", shown.join(", "), grouped(n as u64 - 10)),
        _ => shown.join(", "),
    }
}

fn no_sizes(missing: &[String]) -> Error {
    let message = format!(
        "{} without a known image size: {}",
        if missing.len() == 1 {
            "1 input is".to_owned()
        } else {
            format!("{} inputs are", grouped(missing.len() as u64))
        },
        sample_of(missing)
    );
    let hint = "put the image in the project and name it by its path from the project's root in \
                `data.image.url`, \
                or give its dataset line `data.image.image_info.width` and `height` (or \
                `data.metadata.width` and `height`), or pass --allow-missing-sizes to leave these \
                inputs out";
    refused("inputs", message, Some(hint.to_owned()))
}

/// An input's image from its Input JSON: its url, whether that is a file of the project, and
/// its size as the line states it (`data.image.image_info`, else `data.metadata`).
pub fn image_of(json: &serde_json::value::RawValue) -> Image {
    #[derive(serde::Deserialize)]
    struct Line<'a> {
        #[serde(borrow, default)]
        data: Option<LineData<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct LineData<'a> {
        #[serde(borrow, default)]
        image: Option<LineImage<'a>>,
        #[serde(default)]
        metadata: Option<Dims>,
    }
    #[derive(serde::Deserialize)]
    struct LineImage<'a> {
        #[serde(borrow, default)]
        url: Option<std::borrow::Cow<'a, str>>,
        #[serde(default)]
        image_info: Option<Dims>,
    }
    /// Width and height, when both are positive whole numbers; anything else is no size.
    #[derive(serde::Deserialize)]
    struct Dims {
        #[serde(default)]
        width: Option<Value>,
        #[serde(default)]
        height: Option<Value>,
    }
    let dims = |d: Option<&Dims>| -> Option<(u32, u32)> {
        let d = d?;
        let side = |v: &Option<Value>| {
            v.as_ref()?
                .as_u64()
                .filter(|n| *n > 0)
                .and_then(|n| u32::try_from(n).ok())
        };
        Some((side(&d.width)?, side(&d.height)?))
    };
    let Ok(line) = serde_json::from_str::<Line>(json.get()) else {
        return Image::default();
    };
    let (image, metadata) = line.data.map_or((None, None), |d| (d.image, d.metadata));
    let url = image
        .as_ref()
        .and_then(|i| i.url.as_deref())
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    Image {
        local: url.as_deref().and_then(local_path),
        size: dims(image.as_ref().and_then(|i| i.image_info.as_ref()))
            .or_else(|| dims(metadata.as_ref())),
        url,
    }
}

/// The project path of an image url that names a file of the project, by the rule the app
/// serves images by ([`layout::local_media_path`]: relative to the project's root, never out
/// of it or into its private folders). A URL with a scheme is not a project file.
fn local_path(url: &str) -> Option<String> {
    match layout::media_source(url) {
        layout::MediaSource::Local(path) => layout::local_media_path(path).ok().map(|(p, _)| p),
        layout::MediaSource::Remote(_) => None,
    }
}

/// The label of one input with work on it, when it is final (or, with `include_pending`, when
/// someone's work on it is not final yet but is not rejected); see docs/export.md.
fn choose(
    task: &str,
    review: Option<ReviewStrategy>,
    assistant: Option<&str>,
    row: &WorkRow,
    include_pending: bool,
) -> Result<Option<Item>> {
    let how = match row.outcome {
        Outcome::Approved => None,
        Outcome::Rejected => return Ok(None),
        Outcome::Open if include_pending => Some(How::Pending),
        Outcome::AwaitingReview if include_pending => Some(How::AwaitingReview),
        Outcome::Open | Outcome::AwaitingReview => return Ok(None),
    };
    let entries = row.entries(task)?;
    // Review NONE has no decisions to look for.
    let approvals = match review {
        Some(ReviewStrategy::MANUAL | ReviewStrategy::CONSENSUS) => approvals(&row.input, &entries),
        _ => HashMap::new(),
    };
    let approved_by = |worker: &str, k: u32| approvals.get(&(worker.to_owned(), k)).cloned();
    let agreed: Vec<String> = row
        .holders
        .iter()
        .filter(|(_, state, _)| *state == State::Success)
        .map(|(w, ..)| w.clone())
        .collect();
    // Whose label: a worker whose success a reviewer approved, else the first by id (the
    // assistant, when its prediction decided: it is then the one success); for pending work,
    // the first (by id) with submitted work, else with any annotation, never a prediction.
    let worker = match how {
        None => row
            .holders
            .iter()
            .filter(|(_, state, _)| *state == State::Success)
            .min_by_key(|(w, _, k)| (approved_by(w, *k).is_none(), w.as_str()))
            .map(|(w, ..)| w.as_str()),
        Some(_) => {
            let work = || {
                let people = row.annotations.iter();
                people.filter(|(w, ..)| Some(w.as_str()) != assistant)
            };
            work()
                .find(|(_, s, _)| *s != State::Pending)
                .or_else(|| work().next())
                .map(|(w, ..)| w.as_str())
        }
    };
    let Some(worker) = worker else {
        return Ok(None);
    };
    let submissions = row
        .holders
        .iter()
        .find(|(w, ..)| w == worker)
        .map_or(0, |(.., k)| *k);
    let reviewer = approved_by(worker, submissions);
    let how = how.unwrap_or(match (&reviewer, review) {
        _ if Some(worker) == assistant => How::Assistant,
        (Some(_), _) => How::Reviewed,
        (None, Some(ReviewStrategy::CONSENSUS)) => How::Consensus,
        (None, Some(ReviewStrategy::MANUAL)) => How::NotSampled,
        (None, _) => How::Submitted,
    });
    let mut annotations = Vec::new();
    // A final label is what succeeded; pending work is the worker's current annotations.
    for (w, state, line) in &row.annotations {
        if w != worker || (how.is_final() && *state != State::Success) {
            continue;
        }
        let data = entry_data(&entries, w, *line)
            .ok_or_else(|| crate::store::StoreError::CorruptBody(task.to_owned()))?;
        let annotation: Annotation = serde_json::from_str(data.get())
            .map_err(|_| crate::store::StoreError::CorruptBody(task.to_owned()))?;
        annotations.push(annotation);
    }
    annotations.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Some(Item {
        input_id: row.input.clone(),
        image: Image::default(),
        worker: worker.to_owned(),
        agreed,
        reviewer,
        how,
        annotations,
    }))
}

/// The reviewer whose APPROVE stands on each (worker, submission): the first decision by
/// (time, reviewer, line) on it, when it is an approval.
fn approvals(input: &str, entries: &[Entry]) -> HashMap<(String, u32), String> {
    let mut first: HashMap<(String, u32), (i64, &str, u32, Decision)> = HashMap::new();
    for (reviewer, line, stored) in entries {
        let event = Line::from_stored(input, stored.clone()).map(|l| l.event);
        let Some(Event::Review {
            worker,
            submission,
            decision,
            ..
        }) = event
        else {
            continue;
        };
        let candidate = (stored.at, reviewer.as_str(), *line, decision);
        let slot = first.entry((worker, submission)).or_insert(candidate);
        if (candidate.0, candidate.1, candidate.2) < (slot.0, slot.1, slot.2) {
            *slot = candidate;
        }
    }
    first
        .into_iter()
        .filter(|(_, (.., d))| *d == Decision::APPROVE)
        .map(|(k, (_, reviewer, ..))| (k, reviewer.to_owned()))
        .collect()
}

/// Pixels from a relative coordinate, to the hundredth.
pub fn pixels(relative: f32, size: u32) -> f64 {
    (f64::from(relative) * f64::from(size) * 100.0).round() / 100.0
}

/// A region's box as (left, top, right, bottom), relative: its bounding box, else its
/// polygon's.
pub fn box_of(region: &crate::work::annotation::Region) -> Option<(f32, f32, f32, f32)> {
    let info = region.region_info.as_ref()?;
    if let Some(b) = &info.bounding_box {
        return Some((b.left_col, b.top_row, b.right_col, b.bottom_row));
    }
    let points = &info.polygon.as_ref()?.points;
    let first = points.first()?;
    let start = (first.col, first.row, first.col, first.row);
    Some(points.iter().fold(start, |(l, t, r, b), p| {
        (l.min(p.col), t.min(p.row), r.max(p.col), b.max(p.row))
    }))
}

/// The concepts of a region that are present (value above 0), in order.
pub fn present(concepts: &[crate::work::annotation::Concept]) -> impl Iterator<Item = &str> {
    concepts
        .iter()
        .filter(|c| c.value > 0.0)
        .map(|c| c.id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_size_comes_from_image_info_else_data_metadata() {
        #[track_caller]
        fn check(line: &str, expected: Option<(u32, u32)>) {
            let raw = serde_json::value::RawValue::from_string(line.to_owned()).unwrap();
            assert_eq!(image_of(&raw).size, expected, "{line}");
        }
        let info = r#""image_info": {"width": 640, "height": 480}"#;
        let meta = r#""metadata": {"width": 32, "height": 24}"#;
        check(
            &format!(r#"{{"data": {{"image": {{{info}}}}}}}"#),
            Some((640, 480)),
        );
        check(
            &format!(r#"{{"data": {{"image": {{}}, {meta}}}}}"#),
            Some((32, 24)),
        );
        check(
            &format!(r#"{{"data": {{"image": {{{info}}}, {meta}}}}}"#),
            Some((640, 480)),
        );
        // Top-level `metadata` is not the API's place: no size from it.
        check(&format!(r#"{{"data": {{"image": {{}}}}, {meta}}}"#), None);
        check(
            r#"{"data": {"metadata": {"width": 0, "height": 24}}}"#,
            None,
        );
        check(
            r#"{"data": {"metadata": {"width": "32", "height": 24}}}"#,
            None,
        );
        check(r#"{"data": {"metadata": {"width": 32}}}"#, None);
    }

    #[test]
    fn the_tally_reads_as_a_sentence() {
        #[track_caller]
        fn check(tally: [u64; 6], expected: &str) {
            let [
                exported,
                exported_pending,
                awaiting_review,
                pending,
                rejected,
                no_size,
            ] = tally;
            let tally = Tally {
                exported,
                exported_pending,
                awaiting_review,
                pending,
                rejected,
                no_size,
            };
            assert_eq!(tally.to_string(), expected);
        }
        check(
            [1204, 0, 80, 16, 0, 0],
            "1,204 inputs exported, 96 not final yet: 80 awaiting review, 16 pending",
        );
        check([1, 0, 0, 0, 0, 0], "1 input exported");
        check(
            [0, 0, 0, 3, 0, 0],
            "0 inputs exported, 3 not final yet: 3 pending",
        );
        check(
            [5, 2, 1, 0, 2, 0],
            "5 inputs exported (2 of them not final yet, by --include-pending), 1 left out: 1 awaiting review, 2 rejected",
        );
        check(
            [2, 0, 0, 0, 0, 1],
            "2 inputs exported, 1 left out without an image size",
        );
    }

    #[test]
    fn only_relative_paths_are_project_images() {
        for (url, local) in [
            ("img/a.png", Some("img/a.png")),
            (
                "images/garden/photo-01.png",
                Some("images/garden/photo-01.png"),
            ),
            ("./a.png", Some("a.png")),
            ("work/t/a.png", None),
            (".git/a.png", None),
            ("https://x/a.png", None),
            ("file:///etc/passwd", None),
            ("/etc/passwd", None),
            ("../secret.png", None),
            ("img/../../secret.png", None),
            ("data:image/png;base64,AAAA", None),
            ("img\\a.png", None),
        ] {
            assert_eq!(local_path(url).as_deref(), local, "{url}");
        }
    }

    #[test]
    fn extensions_come_from_the_path_or_url() {
        for (url, ext) in [
            ("https://x/a.JPG?x=1", Some(".JPG")),
            ("img/a.tar.gz", Some(".gz")),
            ("https://x/noext", None),
            ("https://x/.hidden", None),
            ("https://x/a.weird-ext", None),
        ] {
            let image = Image {
                url: Some(url.into()),
                ..Image::default()
            };
            assert_eq!(image.extension(), ext, "{url}");
        }
    }
}
