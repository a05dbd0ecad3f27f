//! Syncing the dataset files: which to read (all of `inputs/` is listed, as there are few),
//! reading them on every core, and writing their inputs, keeping a dataset's last good
//! inputs when its file turns bad or a second file claims it. Must not print.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

use super::Summary;
use crate::files::{self, DiskFile};
use crate::inputs;
use crate::layout::{self, INPUTS_DIR};
use crate::store::{self, DatasetFileState, Writer};
use crate::validate::Diagnostic;

/// What a sync must do about the dataset files. There are few of them (a dataset holds up to
/// millions of inputs), so every sync that looks at `inputs/` lists all of it.
#[derive(Debug, Default, PartialEq)]
pub struct DatasetChanges {
    /// Files to read (new, changed, or in a conflict that may have ended), each with the
    /// dataset it defines.
    pub read: Vec<(DiskFile, String)>,
    /// Files in error as listed, recorded with their error without being read: a link, a name
    /// that is no id, one of two files defining one dataset. A dataset one of them names keeps
    /// the inputs it had; `true` marks a conflict, which every sync looks at again.
    pub refused: Vec<(DiskFile, bool, Diagnostic)>,
    /// Dataset files the index knows that are gone.
    pub remove: Vec<String>,
    /// Datasets no file defines any more.
    pub drop: Vec<String>,
    /// The planned files that had an error when last read, to tell which are fixed.
    pub invalid_before: HashSet<String>,
}

impl DatasetChanges {
    pub fn is_empty(&self) -> bool {
        self.read.is_empty()
            && self.refused.is_empty()
            && self.remove.is_empty()
            && self.drop.is_empty()
    }

    /// How many bytes the plan reads.
    pub fn bytes(&self) -> u64 {
        self.read.iter().map(|(f, _)| f.size).sum()
    }
}

/// Compares the dataset files on disk (`disk`, as [`files::list_inputs`] gives them) with the
/// index's dataset files and datasets. Which files define which dataset follows from the
/// names alone, so conflicts are found without reading anything: two files with one name
/// (`birds.jsonl`, `birds.csv`) are both in error, and the dataset keeps what it had.
pub fn dataset_changes(
    disk: Vec<DiskFile>,
    known: &HashMap<String, DatasetFileState>,
    datasets: &[String],
) -> DatasetChanges {
    let mut plan = DatasetChanges::default();
    let unlisted = disk.iter().any(|f| f.path == INPUTS_DIR);
    let mut by_id: BTreeMap<&str, Vec<&DiskFile>> = BTreeMap::new();
    for file in &disk {
        if let Ok(id) = inputs::dataset_id(&file.path)
            && file.path != INPUTS_DIR
        {
            by_id.entry(id).or_default().push(file);
        }
    }
    for file in &disk {
        let was = known.get(&file.path);
        let changed =
            was.is_none_or(|k| k.size != file.size || k.mtime_ns != file.mtime_ns || k.conflict);
        if was.is_some_and(|k| k.invalid) {
            plan.invalid_before.insert(file.path.clone());
        }
        let refuse = |d: Diagnostic, conflict| (file.clone(), conflict, d);
        if let Some(problem) = &file.problem {
            if !changed {
                continue;
            }
            plan.refused
                .push(refuse(Diagnostic::error("", problem.to_string()), false));
            continue;
        }
        let id = match inputs::dataset_id(&file.path) {
            Ok(id) => id,
            Err(d) => {
                if changed {
                    plan.refused.push(refuse(d, false));
                }
                continue;
            }
        };
        let claimants = &by_id[id];
        if claimants.len() > 1 {
            let others: Vec<String> = claimants
                .iter()
                .filter(|f| f.path != file.path)
                .map(|f| format!("`{}`", f.path))
                .collect();
            let d = Diagnostic::error(
                "",
                format!("dataset `{id}` is also defined by {}", others.join(", ")),
            )
            .hint("a dataset is one file: rename or remove the others; until then the dataset keeps the inputs it had");
            plan.refused.push(refuse(d, true));
            continue;
        }
        if changed {
            plan.read.push((file.clone(), id.to_owned()));
        }
    }
    if unlisted {
        // What cannot be listed is not gone.
        return plan;
    }
    let on_disk: HashSet<&str> = disk.iter().map(|f| f.path.as_str()).collect();
    plan.remove = known
        .keys()
        .filter(|p| !on_disk.contains(p.as_str()))
        .cloned()
        .collect();
    plan.remove.sort();
    plan.drop = datasets
        .iter()
        .filter(|id| !by_id.contains_key(id.as_str()))
        .cloned()
        .collect();
    plan
}

/// A dataset file after reading: its inputs, or the problem that kept any from being read.
#[derive(Debug)]
pub struct DatasetOutcome {
    pub file: DiskFile,
    pub id: String,
    pub dataset: Result<inputs::Dataset, Diagnostic>,
}

/// Reads and validates one dataset file.
pub fn load_dataset(root: &Path, mut file: DiskFile, id: String) -> DatasetOutcome {
    let dataset = if file.size > inputs::MAX_DATASET_BYTES {
        Err(inputs::too_large(file.size))
    } else {
        let format = layout::format_of(file.path.rsplit('/').next().unwrap_or_default())
            .expect("listed as a dataset");
        match files::read_up_to(root, &file.path, Some(file.size), inputs::MAX_DATASET_BYTES) {
            Ok(bytes) => inputs::parse(format, &bytes),
            Err(e) => {
                // Read again by every sync until it can be.
                file.mtime_ns = files::UNREAD;
                Err(Diagnostic::error("", format!("cannot read the file: {e}")))
            }
        }
    };
    DatasetOutcome { file, id, dataset }
}

/// Loads dataset files on every core, a file per thread at a time, and hands the outcomes to
/// `sink` in the order of `files`.
pub fn load_datasets<E: Send>(
    root: &Path,
    files: Vec<(DiskFile, String)>,
    mut sink: impl FnMut(DatasetOutcome) -> Result<(), E>,
) -> Result<(), E> {
    let threads = crate::cores::cores().min(files.len());
    if threads <= 1 {
        return files
            .into_iter()
            .try_for_each(|(f, id)| sink(load_dataset(root, f, id)));
    }
    let next = AtomicUsize::new(0);
    thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(usize, DatasetOutcome)>(threads);
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, files) = (&next, &files);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((file, id)) = files.get(i) else {
                        break;
                    };
                    let outcome = load_dataset(root, file.clone(), id.clone());
                    if tx.send((i, outcome)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut wanted = 0;
        for (i, outcome) in rx {
            pending.insert(i, outcome);
            while let Some(outcome) = pending.remove(&wanted) {
                sink(outcome)?;
                wanted += 1;
            }
        }
        Ok(())
    })
}

/// Applies the dataset part of a plan through `writer`.
pub(super) fn write_datasets(
    writer: &mut Writer<'_>,
    root: &Path,
    plan: DatasetChanges,
    summary: &mut Summary,
) -> store::Result<()> {
    for path in &plan.remove {
        writer.remove_dataset_file(path)?;
    }
    for id in &plan.drop {
        summary.inputs_removed += writer.delete_dataset(id)?;
        summary.datasets_changed.push(id.clone());
    }
    for (file, conflict, d) in &plan.refused {
        writer.put_dataset_file(
            &file.path,
            file.size,
            file.mtime_ns,
            *conflict,
            std::slice::from_ref(d),
        )?;
        summary.invalid.push(file.path.clone());
    }
    let invalid_before = &plan.invalid_before;
    load_datasets(root, plan.read, |outcome| {
        let path = outcome.file.path.as_str();
        let diagnostics = match outcome.dataset {
            Ok(dataset) => {
                let change = writer.put_dataset(&outcome.id, path, &dataset)?;
                summary.inputs_added += change.added;
                summary.inputs_removed += change.removed;
                if change.added > 0 || change.removed > 0 {
                    summary.datasets_changed.push(outcome.id.clone());
                }
                dataset.diagnostics
            }
            Err(d) => vec![d],
        };
        writer.put_dataset_file(
            path,
            outcome.file.size,
            outcome.file.mtime_ns,
            false,
            &diagnostics,
        )?;
        if diagnostics.iter().any(Diagnostic::is_error) {
            summary.invalid.push(path.to_owned());
        } else if invalid_before.contains(path) {
            summary.fixed.push(path.to_owned());
        }
        Ok(())
    })
}
