//! Brings the index up to date with the task, dataset and work files. Owns the rules of identity
//! (which file defines which task or dataset, what happens when two files claim one id or a
//! file turns invalid); must not print. A sync is a pure [`plan`] and [`plan_datasets`] (files
//! on disk against files in the index), then [`apply`]: read the planned files on every core
//! and write the outcome, tasks and inputs, in one transaction.

mod work;

pub use work::{WorkPlan, WorkRead, check_work, plan_work};

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

use crate::files::{self, DiskFile};
use crate::inputs;
use crate::layout;
use crate::layout::INPUTS_DIR;
use crate::plans::{self, Source, TaskPlan};
use crate::store::{
    self, Change, DatasetFileState, FileState, KnownFile, Previous, Store, TaskRow, Writer,
};
use crate::validate::{self, Diagnostic};
use crate::yaml;

/// What a sync must do.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Task files to read: new, changed, or in an id conflict that may have ended.
    pub read: Vec<DiskFile>,
    /// Task files the index knows that are gone.
    pub remove: Vec<String>,
    pub datasets: DatasetPlan,
    pub work: WorkPlan,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.read.is_empty()
            && self.remove.is_empty()
            && self.datasets.is_empty()
            && self.work.is_empty()
    }
}

/// What a sync must do about the dataset files. There are few of them (a dataset holds up to
/// millions of inputs), so every sync that looks at `inputs/` lists all of it.
#[derive(Debug, Default, PartialEq)]
pub struct DatasetPlan {
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

impl DatasetPlan {
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
pub fn plan_datasets(
    disk: Vec<DiskFile>,
    known: &HashMap<String, DatasetFileState>,
    datasets: &[String],
) -> DatasetPlan {
    let mut plan = DatasetPlan::default();
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

/// Compares task files on disk with what the index knows of them, both in path order, and
/// keeps the index's state of just the files it plans for (a sync needs their old claims).
/// A file is read again only when its size or mtime changed, or while it is in an id conflict
/// (a change to another file may have ended it).
pub struct Planner {
    disk: std::iter::Peekable<std::vec::IntoIter<DiskFile>>,
    plan: Plan,
    known: HashMap<String, FileState>,
    /// Paths the listing reported problems on so far: the index keeps what it knows of the
    /// files under a folder that cannot be listed.
    problems: Vec<String>,
}

impl Planner {
    /// `disk` must be sorted by path.
    pub fn new(disk: Vec<DiskFile>) -> Planner {
        Planner {
            disk: disk.into_iter().peekable(),
            plan: Plan::default(),
            known: HashMap::new(),
            problems: Vec::new(),
        }
    }

    /// Takes the next file the index knows; paths must come in increasing order.
    pub fn known(&mut self, known: KnownFile<'_>) {
        while let Some(file) = self.disk.next_if(|f| f.path.as_str() < known.path) {
            self.note_problem(&file);
            self.plan.read.push(file);
        }
        match self.disk.next_if(|f| f.path == known.path) {
            Some(file) => {
                self.note_problem(&file);
                if file.size != known.size || file.mtime_ns != known.mtime_ns || known.conflict {
                    self.known.insert(file.path.clone(), known.state());
                    self.plan.read.push(file);
                }
            }
            None if under_any(&self.problems, known.path) => {}
            None => {
                self.known.insert(known.path.to_owned(), known.state());
                self.plan.remove.push(known.path.to_owned());
            }
        }
    }

    fn note_problem(&mut self, file: &DiskFile) {
        if file.problem.is_some() {
            self.problems.push(file.path.clone());
        }
    }

    /// The plan, and the index's state of every file in it.
    pub fn finish(mut self) -> (Plan, HashMap<String, FileState>) {
        self.plan.read.extend(self.disk);
        (self.plan, self.known)
    }
}

/// [`Planner`] over files the index knows, in any order.
pub fn plan(disk: Vec<DiskFile>, known: &HashMap<String, FileState>) -> Plan {
    let mut known: Vec<(&String, &FileState)> = known.iter().collect();
    known.sort_unstable_by_key(|(path, _)| *path);
    let mut planner = Planner::new(disk);
    for (path, state) in known {
        planner.known(state.at(path));
    }
    planner.finish().0
}

/// Like [`plan`], for just the given root-relative paths (what a file watcher reports). A
/// path may name a task file, a folder (new, or removed with every task file under it), or
/// anything else, which is ignored. `known` must hold the state of every file at or under each
/// path, and of every file in an id conflict ([`Store::file_states_near`]).
pub fn plan_paths(root: &Path, paths: &[String], known: &HashMap<String, FileState>) -> Plan {
    let mut sorted: Vec<&str> = known.keys().map(String::as_str).collect();
    sorted.sort_unstable();
    let mut disk = BTreeMap::new();
    let mut gone = BTreeSet::new();
    for path in paths {
        let found = files::find(root, path);
        let problems: Vec<String> = found
            .iter()
            .filter(|f| f.problem.is_some())
            .map(|f| f.path.clone())
            .collect();
        let under = format!("{path}/");
        let first = sorted.partition_point(|k| *k < path.as_str());
        let was = sorted[first..]
            .iter()
            .take_while(|k| k.starts_with(path.as_str()))
            .filter(|k| **k == path || k.starts_with(&under));
        let here: HashSet<&str> = found.iter().map(|f| f.path.as_str()).collect();
        gone.extend(
            was.filter(|k| !here.contains(**k) && !under_any(&problems, k))
                .map(|k| k.to_string()),
        );
        for file in found {
            disk.insert(file.path.clone(), file);
        }
    }
    // A change elsewhere may have ended a conflict, so conflicted files are always read again.
    let conflicted: Vec<&String> = known
        .iter()
        .filter(|(path, state)| {
            state.conflict && !disk.contains_key(*path) && !gone.contains(*path)
        })
        .map(|(path, _)| path)
        .collect();
    for path in conflicted {
        match files::stat(root, path) {
            Some(file) => {
                disk.insert(path.clone(), file);
            }
            None => {
                gone.insert(path.clone());
            }
        }
    }
    let subset: HashMap<String, FileState> = disk
        .keys()
        .filter_map(|p| known.get(p).map(|s| (p.clone(), s.clone())))
        .collect();
    let mut plan = plan(disk.into_values().collect(), &subset);
    plan.remove = gone.into_iter().collect();
    plan
}

/// Whether `path` lies under one of the folders `dirs`.
fn under_any(dirs: &[String], path: &str) -> bool {
    dirs.iter().any(|dir| {
        path.strip_prefix(dir.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// A file after reading: its task when valid, the id it claims, and its diagnostics.
#[derive(Debug)]
pub struct Outcome {
    pub file: DiskFile,
    /// What the index keeps of the task, when the file is valid.
    pub task: Option<TaskRow>,
    /// The id the file defines: for a file that does not decode, the one its `id:` line
    /// names (or its name, without one); None when not even that can be told.
    pub claim: Option<String>,
    pub decoded: bool,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads, decodes and validates one task file.
pub fn load(root: &Path, mut file: DiskFile) -> Outcome {
    let failed = |file, claim, diagnostic| Outcome {
        file,
        task: None,
        claim,
        decoded: false,
        diagnostics: vec![diagnostic],
    };
    if let Some(problem) = &file.problem {
        let diagnostic = Diagnostic::error("", problem.to_string());
        return failed(file, None, diagnostic);
    }
    let bytes = match files::read(root, &file.path, Some(file.size)) {
        Ok(bytes) if bytes.len() as u64 > yaml::MAX_FILE_BYTES => {
            let size = file.size.max(bytes.len() as u64);
            return failed(file, None, yaml::too_large(size));
        }
        Ok(bytes) => bytes,
        Err(e) => {
            // Recorded as never read, so that every sync tries again: a file that becomes
            // readable (its permissions fixed) need not be touched to be seen.
            file.mtime_ns = files::UNREAD;
            let diagnostic = Diagnostic::error("", format!("cannot read the file: {e}"));
            return failed(file, None, diagnostic);
        }
    };
    let stem = layout::stem(&file.path);
    let doc = match yaml::parse_task(&bytes) {
        Ok(doc) => doc,
        Err(d) => {
            // The id the text names, so that nothing else takes it while the file is broken.
            let claim = yaml::sniff_id(&bytes)
                .unwrap_or(Some(stem))
                .filter(|id| validate::check_id(id).is_ok())
                .map(str::to_owned);
            return failed(file, claim, d);
        }
    };
    let claim = doc.id.as_deref().unwrap_or(stem).to_owned();
    let claim = validate::check_id(&claim).is_ok().then_some(claim);
    let (task, mut diagnostics) = validate::validate(doc, Some(stem));
    yaml::locate(&bytes, &mut diagnostics);
    // Read top to bottom, as the file is.
    diagnostics.sort_by_key(|d| d.location.map(|l| (l.line, l.column)));
    Outcome {
        file,
        task: task.as_ref().map(TaskRow::new),
        claim,
        decoded: true,
        diagnostics,
    }
}

/// What a sync changed, for the summary.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Task ids, in the order they were written.
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub removed: Vec<String>,
    /// Files read in this sync that are invalid.
    pub invalid: Vec<String>,
    /// Files read in this sync that had an error before and have none now.
    pub fixed: Vec<String>,
    /// Files read whose task did not change.
    pub unchanged: usize,
    /// Datasets whose set of input ids changed (added, removed, or inputs added or removed),
    /// in the order they were written.
    pub datasets_changed: Vec<String>,
    pub inputs_added: u64,
    pub inputs_removed: u64,
    /// Work file lines read and indexed.
    pub events_added: u64,
}

impl Summary {
    pub fn is_empty(&self) -> bool {
        self == &Summary::default()
    }
}

/// Below this many task files a bulk load is not worth dropping the indexes for.
const BULK_LOAD_MIN_FILES: usize = 1000;
/// Nor below this many bytes of dataset and work files (about 200,000 inputs, or 100,000
/// work events).
const BULK_LOAD_MIN_BYTES: u64 = 16 << 20;

/// Whether a plan into an empty index is worth a bulk load.
fn is_bulk(plan: &Plan) -> bool {
    plan.read.len() >= BULK_LOAD_MIN_FILES
        || plan.datasets.bytes() + plan.work.bytes() >= BULK_LOAD_MIN_BYTES
}

/// Applies a plan in one transaction. `known` is the index's file states the plan was made from.
/// `progress` is told, after each file read, how many of how many are done.
pub fn apply(
    index: &mut Store,
    root: &Path,
    mut plan: Plan,
    known: &HashMap<String, FileState>,
    progress: &dyn Fn(usize, usize),
) -> store::Result<Summary> {
    if plan.is_empty() {
        return Ok(Summary::default());
    }
    if known.is_empty()
        && is_bulk(&plan)
        && let Some(summary) =
            index.load_fresh(|writer| write(writer, root, &mut plan, known, progress))?
    {
        return Ok(summary);
    }
    write(index.writer()?, root, &mut plan, known, progress)
}

/// Applies a plan through `writer`, and commits.
fn write(
    writer: Writer<'_>,
    root: &Path,
    plan: &mut Plan,
    known: &HashMap<String, FileState>,
    progress: &dyn Fn(usize, usize),
) -> store::Result<Summary> {
    let mut summary = Summary::default();
    let fresh = writer.is_fresh();
    if fresh {
        // Files are usually named by their id: loading them in that order appends to the
        // index's id-keyed B-trees instead of inserting all over them (a third less work for
        // the inserting thread at 100,000 tasks).
        plan.read.sort_unstable_by(|a, b| {
            (layout::stem(&a.path), &a.path).cmp(&(layout::stem(&b.path), &b.path))
        });
    }
    let bulk = fresh && is_bulk(plan);
    if bulk {
        writer.begin_bulk_load()?;
    }
    let mut apply = Apply {
        root,
        writer,
        known,
        seen: if fresh {
            Seen::Fresh(HashSet::new())
        } else {
            Seen::Written(HashMap::new())
        },
        summary: &mut summary,
    };
    for path in &plan.remove {
        apply.writer.remove_file(path)?;
        if let Some(claim) = known.get(path).and_then(|s| s.claim.as_deref()) {
            apply.release(claim)?;
        }
    }
    // Files being read again give up their claims until their new content says what they
    // claim, so that a file does not seem to conflict with its own old version.
    for file in &plan.read {
        if known.get(&file.path).is_some_and(|s| s.claim.is_some()) {
            apply.writer.release_claim(&file.path)?;
        }
    }
    let read = std::mem::take(&mut plan.read);
    let total = read.len();
    let mut done = 0;
    load_all(root, read, |outcome| {
        done += 1;
        progress(done, total);
        apply.outcome(outcome)
    })?;
    let datasets = std::mem::take(&mut plan.datasets);
    write_datasets(&mut apply.writer, root, datasets, apply.summary)?;
    if bulk {
        apply.writer.end_bulk_load()?;
    }
    // After the indexes are built: ALL_INPUTS reads every input id in order off `inputs_id`.
    let replanned = replan(&apply.writer, apply.summary)?;
    let redefined: BTreeSet<String> = apply
        .summary
        .added
        .iter()
        .chain(&apply.summary.updated)
        .chain(&apply.summary.removed)
        .cloned()
        .collect();
    let work = std::mem::take(&mut plan.work);
    work::write_work(
        &apply.writer,
        root,
        work,
        apply.summary,
        &redefined,
        &replanned,
    )?;
    apply.writer.commit()?;
    Ok(summary)
}

/// Remakes the plans of the tasks this sync added or changed, and of the tasks whose source
/// may select inputs of a dataset whose set of ids changed. A plan is a pure function of the
/// task and the set of its inputs, so remaking one that did not change changes nothing.
/// Returns the tasks whose plans it remade.
fn replan(writer: &Writer<'_>, summary: &Summary) -> store::Result<BTreeSet<String>> {
    for id in &summary.removed {
        writer.delete_plan(id)?;
    }
    let mut ids: BTreeSet<String> = summary
        .added
        .iter()
        .chain(&summary.updated)
        .cloned()
        .collect();
    if !summary.datasets_changed.is_empty() {
        ids.extend(writer.tasks_over(&summary.datasets_changed)?);
    }
    let mut tasks = Vec::new();
    let mut inputs: HashMap<Source, Vec<String>> = HashMap::new();
    for id in ids {
        let Some(task) = writer.task(&id)? else {
            writer.delete_plan(&id)?;
            continue;
        };
        let source = Source::of(&task);
        if !inputs.contains_key(&source) {
            inputs.insert(source.clone(), writer.source_inputs(&source)?);
        }
        tasks.push((task, source));
    }
    let refs: HashMap<&Source, Vec<&str>> = inputs
        .iter()
        .map(|(source, ids)| (source, ids.iter().map(String::as_str).collect()))
        .collect();
    // Plans are pure and take O(N * workers) each: one thread a task, on every core.
    let threads = crate::cores::cores();
    let next = AtomicUsize::new(0);
    let mut planned: Vec<(usize, TaskPlan)> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(tasks.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((task, source)) = tasks.get(i) else {
                            return done;
                        };
                        done.push((i, plans::compute(task, &refs[source])));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a plan never panics"))
            .collect()
    });
    planned.sort_by_key(|(i, _)| *i);
    for (i, plan) in planned {
        let (task, source) = &tasks[i];
        writer.put_plan(task.id(), source, &plan)?;
    }
    Ok(tasks
        .into_iter()
        .map(|(task, _)| task.id().to_owned())
        .collect())
}

/// Applies the dataset part of a plan through `writer`.
fn write_datasets(
    writer: &mut Writer<'_>,
    root: &Path,
    plan: DatasetPlan,
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

struct Apply<'a, 'w> {
    root: &'a Path,
    writer: Writer<'w>,
    known: &'a HashMap<String, FileState>,
    seen: Seen,
    summary: &'a mut Summary,
}

/// What a sync remembers of the files it has applied so far.
enum Seen {
    /// The index was empty as the sync began: the ids claimed so far. An id not among them has
    /// no other claimant, and any task row is this sync's, so the index need not be asked.
    Fresh(HashSet<Box<str>>),
    /// The ids whose task row this sync changed, with the row as it was before (`None`: there
    /// was none), so that a conflict found later in the same sync can put it back.
    Written(HashMap<String, Option<Previous>>),
}

impl Apply<'_, '_> {
    /// Deletes the task of an id that a file no longer claims, unless another file claims it.
    fn release(&mut self, id: &str) -> store::Result<()> {
        if self.writer.claimants(id)?.is_empty() && self.writer.delete_task(id)? {
            self.summary.removed.push(id.to_owned());
        }
        Ok(())
    }

    fn outcome(&mut self, outcome: Outcome) -> store::Result<()> {
        let path = outcome.file.path.as_str();
        let previous = self.known.get(path).and_then(|s| s.claim.clone());
        // A file that no longer decodes keeps its old claim, and so its task's last valid
        // version stays in the index.
        let claim = if outcome.decoded {
            outcome.claim
        } else {
            previous.clone().or(outcome.claim)
        };
        if let Some(old) = previous.as_deref()
            && claim.as_deref() != Some(old)
        {
            self.release(old)?;
        }
        self.writer.put_file(
            path,
            outcome.file.size,
            outcome.file.mtime_ns,
            claim.as_deref(),
            &outcome.diagnostics,
        )?;
        if outcome.diagnostics.iter().any(Diagnostic::is_error) {
            self.summary.invalid.push(path.to_owned());
        } else if self.known.get(path).is_some_and(|s| s.invalid) {
            self.summary.fixed.push(path.to_owned());
        }
        let Some(id) = claim else { return Ok(()) };
        let first_claim = match &mut self.seen {
            Seen::Fresh(ids) => ids.insert(id.as_str().into()),
            Seen::Written(_) => false,
        };
        let others: Vec<String> = if first_claim {
            Vec::new()
        } else {
            let mut claimants = self.writer.claimants(&id)?;
            claimants.retain(|p| p != path);
            claimants
        };
        if !others.is_empty() {
            return self.conflict(&id, path, &others);
        }
        let Some(task) = &outcome.task else {
            return Ok(());
        };
        let change = match &mut self.seen {
            Seen::Fresh(_) => self.writer.insert_task(task, path)?,
            Seen::Written(written) => {
                let (change, previous) = self.writer.put_task(task, path)?;
                if change == Change::Added || previous.is_some() {
                    written.entry(id.clone()).or_insert(previous);
                }
                change
            }
        };
        match change {
            Change::Added => self.summary.added.push(id),
            Change::Updated => self.summary.updated.push(id),
            Change::Unchanged => self.summary.unchanged += 1,
        }
        Ok(())
    }

    /// Two or more files claim `id`: all of them are in error, and the index keeps the task
    /// it had before this sync, whichever of the files came first and whatever they say. A
    /// fresh index had none, so a task that only conflicting files define is not served.
    fn conflict(&mut self, id: &str, path: &str, others: &[String]) -> store::Result<()> {
        self.writer
            .add_conflict(path, &self.located(path, conflict_diagnostic(id, others)))?;
        for other in others {
            let diagnostic = conflict_diagnostic(id, std::slice::from_ref(&path.to_owned()));
            self.writer
                .add_conflict(other, &self.located(other, diagnostic))?;
        }
        if !self.summary.invalid.iter().any(|p| p == path) {
            self.summary.invalid.push(path.to_owned());
        }
        self.summary
            .fixed
            .retain(|p| p != path && !others.contains(p));
        let undo = match &mut self.seen {
            Seen::Fresh(_) => Some(None),
            Seen::Written(written) => written.remove(id),
        };
        if let Some(previous) = undo {
            self.writer.restore(id, previous)?;
            self.summary.added.retain(|a| a != id);
            self.summary.updated.retain(|a| a != id);
        }
        Ok(())
    }

    /// Conflicts are rare, so their location is found by reading the file again.
    fn located(&self, path: &str, mut diagnostic: Diagnostic) -> Diagnostic {
        if let Ok(bytes) = files::read(self.root, path, None) {
            yaml::locate(&bytes, std::slice::from_mut(&mut diagnostic));
        }
        diagnostic
    }
}

/// The error of a file whose id other files define too.
pub fn conflict_diagnostic(id: &str, others: &[String]) -> Diagnostic {
    let others: Vec<String> = others.iter().map(|p| format!("`{p}`")).collect();
    Diagnostic::error(
        "id",
        format!("id `{id}` is also defined by {}", others.join(", ")),
    )
    .hint("give one of the files another id, or delete it")
}

/// Loads files on every core and hands the outcomes to `sink` in the order of `files`, so a
/// sync writes the same index whatever the thread timing.
pub fn load_all<E: Send>(
    root: &Path,
    files: Vec<DiskFile>,
    mut sink: impl FnMut(Outcome) -> Result<(), E>,
) -> Result<(), E> {
    // Workers take files a chunk at a time and hand over whole chunks, so a sync of 100,000
    // files is not 100,000 channel wake-ups.
    const CHUNK: usize = 32;
    // How far the readers may run ahead of the sink. The sink takes chunks in order, and the
    // reading and inserting threads outnumber the cores; with little room, a reader that is
    // done waits for a slow one and a core idles (a fifth of a 100,000-file load with room for
    // 4 chunks). 2,048 outcomes are a few MiB.
    const AHEAD: usize = 2048 / CHUNK;
    let threads = crate::cores::cores().min(files.len() / (2 * CHUNK));
    if threads <= 1 {
        return files.into_iter().try_for_each(|f| sink(load(root, f)));
    }
    let next = AtomicUsize::new(0);
    thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(usize, Vec<Outcome>)>(AHEAD);
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, files) = (&next, &files);
            scope.spawn(move || {
                loop {
                    let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                    let Some(chunk) = files.get(start..(start + CHUNK).min(files.len())) else {
                        break;
                    };
                    let outcomes = chunk.iter().map(|f| load(root, f.clone())).collect();
                    if chunk.is_empty() || tx.send((start, outcomes)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut wanted = 0;
        for (start, outcomes) in rx {
            pending.insert(start, outcomes);
            while let Some(outcomes) = pending.remove(&wanted) {
                for outcome in outcomes {
                    sink(outcome)?;
                }
                wanted += CHUNK;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    use crate::repo::{self, Repo};

    const TASK: &str = "id: other\ninput_source: {type: ALL_INPUTS}\n";

    fn project() -> (tempfile::TempDir, Repo) {
        let dir = tempfile::tempdir().unwrap();
        repo::init(dir.path()).unwrap();
        let repo = Repo::open(dir.path(), None).unwrap();
        (dir, repo)
    }

    fn write(dir: &tempfile::TempDir, path: &str, text: &str) {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn task(id: &str) -> String {
        format!("id: {id}\ninput_source: {{type: ALL_INPUTS}}\n")
    }

    fn paths(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|p| p.to_string()).collect()
    }

    /// A project with enough task files for a bulk load.
    fn many_tasks(dir: &tempfile::TempDir) -> usize {
        for i in 0..BULK_LOAD_MIN_FILES {
            write(dir, &format!("tasks/t{i}.yaml"), &task(&format!("t{i}")));
        }
        BULK_LOAD_MIN_FILES
    }

    #[test]
    fn a_bulk_load_is_seen_by_the_next_connection() {
        let (dir, mut repo) = project();
        let n = many_tasks(&dir);
        assert_eq!(repo.sync().unwrap().added.len(), n);
        assert_eq!(repo.index().task_count().unwrap(), n as u64);
        let next = Store::open(repo.db()).unwrap();
        assert_eq!(next.task_count().unwrap(), n as u64);
    }

    #[test]
    fn a_bulk_load_is_seen_by_a_connection_open_during_it() {
        let (dir, mut repo) = project();
        let n = many_tasks(&dir);
        let open = Store::open(repo.db()).unwrap();
        assert_eq!(repo.sync().unwrap().added.len(), n);
        assert_eq!(open.task_count().unwrap(), n as u64);
    }

    #[test]
    fn a_truncated_file_keeps_its_task() {
        let (dir, mut repo) = project();
        let file = dir.path().join("tasks/x.yaml");
        fs::write(&file, TASK).unwrap();
        assert_eq!(repo.sync().unwrap().added, ["other"]);

        fs::write(&file, "").unwrap();
        let summary = repo.sync().unwrap();
        assert_eq!(summary.invalid, ["tasks/x.yaml"]);
        assert!(summary.removed.is_empty(), "{summary:?}");
        assert!(repo.get("other").is_ok());
        assert!(repo.get("x").is_err(), "an empty file claims no id");
        let reports = repo.index().reports(true).unwrap();
        assert_eq!(reports[0].diagnostics[0].message, "the file is empty");
    }

    #[test]
    fn syncing_a_folder_path_adds_and_removes_everything_under_it() {
        let (dir, mut repo) = project();
        write(&dir, "tasks/team/a.yaml", &task("a"));
        write(&dir, "tasks/team/deep/b.yaml", &task("b"));
        write(&dir, "tasks/teammate.yaml", &task("c"));
        let summary = repo.sync_paths(&paths(&["tasks/team"])).unwrap();
        assert_eq!(summary.added, ["a", "b"], "only what is under the folder");

        repo.sync().unwrap();
        fs::remove_dir_all(dir.path().join("tasks/team")).unwrap();
        let summary = repo.sync_paths(&paths(&["tasks/team"])).unwrap();
        assert_eq!(summary.removed, ["a", "b"]);
        assert!(
            repo.get("c").is_ok(),
            "a sibling whose name shares the prefix stays"
        );
    }

    #[test]
    fn ignored_paths_change_nothing() {
        let (dir, mut repo) = project();
        write(&dir, "tasks/.git/a.yaml", &task("a"));
        write(&dir, "tasks/b.yaml~", &task("b"));
        write(&dir, "notes/c.yaml", &task("c"));
        let summary = repo
            .sync_paths(&paths(&[
                "tasks/.git",
                "tasks/.git/a.yaml",
                "tasks/b.yaml~",
                "notes/c.yaml",
            ]))
            .unwrap();
        assert!(summary.is_empty(), "{summary:?}");
    }

    #[test]
    fn a_file_that_is_valid_again_is_reported_fixed() {
        let (dir, mut repo) = project();
        write(&dir, "tasks/a.yaml", "id: a\n");
        assert_eq!(repo.sync().unwrap().invalid, ["tasks/a.yaml"]);
        write(&dir, "tasks/a.yaml", &task("a"));
        let summary = repo.sync_paths(&paths(&["tasks/a.yaml"])).unwrap();
        assert_eq!(summary.fixed, ["tasks/a.yaml"]);
        assert_eq!(summary.added, ["a"]);
    }

    #[test]
    fn removing_one_of_two_claimants_ends_the_conflict() {
        let (dir, mut repo) = project();
        write(&dir, "tasks/a.yaml", &task("a"));
        write(&dir, "tasks/copy.yaml", &task("a"));
        let summary = repo.sync().unwrap();
        assert!(summary.added.is_empty());
        assert_eq!(repo.index().reports(true).unwrap().len(), 2);

        fs::remove_file(dir.path().join("tasks/copy.yaml")).unwrap();
        let summary = repo.sync_paths(&paths(&["tasks/copy.yaml"])).unwrap();
        assert_eq!(summary.added, ["a"]);
        assert_eq!(summary.fixed, ["tasks/a.yaml"]);
        assert!(repo.index().reports(true).unwrap().is_empty());
    }

    /// Every dataset's rows, each input as it is read back, and every file's diagnostics, as
    /// the index holds them.
    type InputsState = (
        Vec<(String, Vec<inputs::InputRow>)>,
        Vec<String>,
        Vec<validate::Report>,
    );

    fn inputs_state(repo: &Repo) -> InputsState {
        let index = repo.index();
        let datasets: Vec<(String, Vec<inputs::InputRow>)> = index
            .dataset_ids()
            .unwrap()
            .into_iter()
            .map(|id| {
                let rows = index.dataset_inputs(&id).unwrap().unwrap();
                (id, rows)
            })
            .collect();
        let ids: Vec<&str> = datasets
            .iter()
            .flat_map(|(_, rows)| rows.iter().map(|r| r.id.as_str()))
            .collect();
        let read = repo
            .inputs_json(&ids)
            .unwrap()
            .iter()
            .map(|json| json.get().to_owned())
            .collect();
        (datasets, read, index.reports(false).unwrap())
    }

    #[track_caller]
    fn same_as_rebuilt(dir: &tempfile::TempDir, repo: &Repo) {
        let fresh_dir = tempfile::tempdir().unwrap();
        let mut fresh = Repo::open(dir.path(), Some(&fresh_dir.path().join("i.db"))).unwrap();
        fresh.sync().unwrap();
        assert_eq!(inputs_state(repo), inputs_state(&fresh));
    }

    #[test]
    fn incremental_dataset_syncs_answer_as_a_rebuilt_index() {
        let (dir, mut repo) = project();
        let lines = |ids: &[&str]| -> String {
            ids.iter()
                .map(|id| format!("{{\"id\": \"{id}\", \"data\": {{}}}}\n"))
                .collect()
        };
        let steps: Vec<(&str, Option<String>)> = vec![
            ("inputs/a.jsonl", Some(lines(&["x1", "x2", "x3"]))),
            ("inputs/b.csv", Some("id,url\nx3,u\ny1,u\n".into())),
            // A changed line moves the offsets after it.
            ("inputs/a.jsonl", Some(lines(&["x1", "x2-longer", "x3"]))),
            ("inputs/a.jsonl", Some(lines(&["x3", "x1"]))),
            // A bad line is left out, the others kept.
            (
                "inputs/a.jsonl",
                Some(lines(&["x3", "x1"]) + "{\"id\": 1}\n"),
            ),
            ("inputs/b.csv", None),
            ("inputs/c d.jsonl", Some(lines(&["z"]))),
            ("inputs/e.jsonl", Some(lines(&["e1", "e1"]))),
            ("inputs/a.jsonl", Some(String::new())),
        ];
        for (path, text) in steps {
            match text {
                Some(text) => write(&dir, path, &text),
                None => fs::remove_file(dir.path().join(path)).unwrap(),
            }
            repo.sync().unwrap();
            same_as_rebuilt(&dir, &repo);
            let synced = inputs_state(&repo);
            // A sync of just the path ends in the same place.
            let (dir2, mut other) = project();
            for entry in fs::read_dir(dir.path().join("inputs")).unwrap() {
                let entry = entry.unwrap();
                let name = entry.file_name().into_string().unwrap();
                write(
                    &dir2,
                    &format!("inputs/{name}"),
                    &fs::read_to_string(entry.path()).unwrap(),
                );
            }
            other.sync_paths(&paths(&["inputs"])).unwrap();
            assert_eq!(inputs_state(&other).0, synced.0, "after {path}");
        }
        let (datasets, _, reports) = inputs_state(&repo);
        let ids: Vec<&str> = datasets.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["a", "e"]);
        let files: Vec<&str> = reports.iter().map(|r| r.file.as_str()).collect();
        assert_eq!(files, ["inputs/c d.jsonl", "inputs/e.jsonl"]);
    }

    #[test]
    fn two_files_for_one_dataset_keep_what_it_had() {
        let (dir, mut repo) = project();
        write(&dir, "inputs/a.jsonl", "{\"id\": \"x\"}\n");
        repo.sync().unwrap();
        write(&dir, "inputs/a.csv", "id\ny\n");
        let summary = repo.sync().unwrap();
        assert_eq!(summary.invalid, ["inputs/a.csv", "inputs/a.jsonl"]);
        let rows = repo.index().dataset_inputs("a").unwrap().unwrap();
        assert_eq!(rows[0].id, "x", "the dataset keeps the inputs it had");
        let reports = repo.index().reports(true).unwrap();
        assert_eq!(
            reports[0].diagnostics[0].message,
            "dataset `a` is also defined by `inputs/a.jsonl`"
        );
        fs::remove_file(dir.path().join("inputs/a.jsonl")).unwrap();
        let summary = repo.sync().unwrap();
        assert_eq!(summary.fixed, ["inputs/a.csv"]);
        let rows = repo.index().dataset_inputs("a").unwrap().unwrap();
        assert_eq!(
            rows[0].id, "y",
            "the conflict is over: the remaining file is read"
        );
        assert!(repo.index().reports(false).unwrap().is_empty());
        same_as_rebuilt(&dir, &repo);
    }

    #[test]
    fn a_csv_without_ids_keeps_the_dataset_as_it_was() {
        let (dir, mut repo) = project();
        write(&dir, "inputs/a.csv", "id\nx\n");
        repo.sync().unwrap();
        write(&dir, "inputs/a.csv", "name\nx\ny\n");
        assert_eq!(repo.sync().unwrap().invalid, ["inputs/a.csv"]);
        let rows = repo.index().dataset_inputs("a").unwrap().unwrap();
        assert_eq!(rows.len(), 1);
        assert!(
            repo.sync().unwrap().is_empty(),
            "an unchanged file is not read again"
        );
    }

    /// Every task's inputs count, counts and whole assignment, as the queries answer.
    type Answer = (String, u64, Vec<(String, u64)>, Vec<repo::Assignment>);

    fn answers(repo: &Repo) -> Vec<Answer> {
        let query = store::ListQuery {
            page: 1,
            per_page: 1000,
            ..Default::default()
        };
        repo.list(&query)
            .unwrap()
            .iter()
            .map(|task| {
                let counts = repo.counts(task.id()).unwrap();
                let all = repo.assignments(task.id(), None, 1, 100_000).unwrap();
                (
                    task.id().to_owned(),
                    counts.plan.inputs,
                    counts.per_worker,
                    all,
                )
            })
            .collect()
    }

    #[test]
    fn tasks_get_the_inputs_of_their_source_and_plans_follow_them() {
        let (dir, mut repo) = project();
        let lines = |ids: std::ops::Range<u32>| -> String {
            ids.map(|i| format!("{{\"id\": \"x{i:02}\"}}\n")).collect()
        };
        write(&dir, "inputs/a.jsonl", &lines(1..21));
        let csv: String = (15..31).map(|i| format!("x{i:02},u\n")).collect();
        write(&dir, "inputs/b.csv", &format!("id,url\n{csv}"));
        let base = "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [c]\n";
        let partitioned = "{strategy: PARTITIONED, user_ids: [w1, w2, w3], partitioned_strategy_info: {type: EVENLY, workers_per_input: 2}}";
        for (id, source, worker) in [
            ("all", "{type: ALL_INPUTS}", partitioned),
            (
                "ds",
                "{type: DATASET, id: b}",
                "{strategy: FULL, user_ids: [f1, f2]}",
            ),
            ("one", "{type: INPUT, id: x03}", partitioned),
            ("search", "{type: SAVED_SEARCH, id: s}", partitioned),
            ("missing", "{type: DATASET, id: zz}", partitioned),
            (
                "dyn",
                "{type: ALL_INPUTS}",
                "{strategy: DYNAMIC, user_ids: [d1]}",
            ),
        ] {
            write(
                &dir,
                &format!("tasks/{id}.yaml"),
                &format!("{base}input_source: {source}\nworker: {worker}\n"),
            );
        }
        repo.sync().unwrap();
        let inputs_of = |repo: &Repo| -> Vec<(String, u64)> {
            answers(repo)
                .into_iter()
                .map(|(id, n, _, _)| (id, n))
                .collect()
        };
        let expected = [
            ("all", 30),
            ("ds", 16),
            ("dyn", 30),
            ("missing", 0),
            ("one", 1),
            ("search", 0),
        ];
        assert_eq!(inputs_of(&repo), expected.map(|(id, n)| (id.to_owned(), n)));

        let check_partitioned = |repo: &Repo, n: usize| {
            let counts = repo.counts("all").unwrap().per_worker;
            let all = repo.assignments("all", None, 1, 100_000).unwrap();
            assert_eq!(all.len(), 2 * n, "workers_per_input workers an input");
            for pair in all.chunks(2) {
                assert_eq!(pair[0].input, pair[1].input);
                assert!(pair[0].worker < pair[1].worker, "distinct, in worker order");
            }
            for (worker, count) in counts {
                let share = 2.0 * n as f64 / 3.0;
                assert!(count == share.floor() as u64 || count == share.ceil() as u64);
                let mine = repo.assignments("all", Some(&worker), 1, 100_000).unwrap();
                assert_eq!(mine.len() as u64, count, "a worker's pages meet its count");
                let page2 = repo.assignments("all", Some(&worker), 2, 3).unwrap();
                assert_eq!(page2, mine[3..6]);
            }
        };
        check_partitioned(&repo, 30);
        assert_eq!(
            repo.counts("ds").unwrap().per_worker,
            [("f1".to_owned(), 16), ("f2".to_owned(), 16)]
        );
        assert!(repo.assignments("dyn", None, 1, 100).unwrap().is_empty());
        same_answers_rebuilt(&dir, &repo);

        // One more input: ALL_INPUTS plans are remade, the others left alone.
        write(&dir, "inputs/a.jsonl", &lines(0..21));
        let summary = repo.sync().unwrap();
        assert_eq!(summary.datasets_changed, ["a"]);
        check_partitioned(&repo, 31);
        same_answers_rebuilt(&dir, &repo);
        // Lines reordered: the same set, the same answers.
        let before = answers(&repo);
        let mut reordered: Vec<String> = lines(0..21).lines().map(str::to_owned).collect();
        reordered.reverse();
        write(&dir, "inputs/a.jsonl", &(reordered.join("\n") + "\n"));
        let summary = repo.sync().unwrap();
        assert!(summary.datasets_changed.is_empty());
        assert_eq!(answers(&repo), before);
        // The dataset goes: its DATASET task has no inputs.
        fs::remove_file(dir.path().join("inputs/b.csv")).unwrap();
        repo.sync().unwrap();
        assert_eq!(repo.counts("ds").unwrap().plan.inputs, 0);
        same_answers_rebuilt(&dir, &repo);
    }

    #[track_caller]
    fn same_answers_rebuilt(dir: &tempfile::TempDir, repo: &Repo) {
        let fresh_dir = tempfile::tempdir().unwrap();
        let mut fresh = Repo::open(dir.path(), Some(&fresh_dir.path().join("i.db"))).unwrap();
        fresh.sync().unwrap();
        assert_eq!(answers(repo), answers(&fresh));
    }

    fn disk(path: &str, size: u64, mtime_ns: i64) -> DiskFile {
        DiskFile {
            path: path.into(),
            size,
            mtime_ns,
            problem: None,
        }
    }

    fn known(path: &str, size: u64, mtime_ns: i64, conflict: bool) -> (String, FileState) {
        let claim = Some(layout::stem(path).to_owned());
        let state = FileState {
            size,
            mtime_ns,
            claim,
            conflict,
            invalid: false,
        };
        (path.into(), state)
    }

    #[track_caller]
    fn check(
        on_disk: Vec<DiskFile>,
        index: Vec<(String, FileState)>,
        read: &[&str],
        remove: &[&str],
    ) {
        let plan = plan(on_disk, &index.into_iter().collect());
        let planned: Vec<&str> = plan.read.iter().map(|f| f.path.as_str()).collect();
        let removed: Vec<&str> = plan.remove.iter().map(String::as_str).collect();
        assert_eq!((planned.as_slice(), removed.as_slice()), (read, remove));
    }

    #[test]
    fn plans_read_only_what_changed() {
        let a = "tasks/a.yaml";
        check(vec![], vec![], &[], &[]);
        check(vec![disk(a, 1, 1)], vec![], &[a], &[]);
        check(vec![disk(a, 1, 1)], vec![known(a, 1, 1, false)], &[], &[]);
        check(vec![disk(a, 2, 1)], vec![known(a, 1, 1, false)], &[a], &[]);
        check(vec![disk(a, 1, 2)], vec![known(a, 1, 1, false)], &[a], &[]);
        check(vec![], vec![known(a, 1, 1, false)], &[], &[a]);
        // A file whose read failed is read again, though it was not touched.
        check(
            vec![disk(a, 1, 1)],
            vec![known(a, 1, files::UNREAD, false)],
            &[a],
            &[],
        );
        // Files under a folder that cannot be listed keep their rows.
        let mut unlisted = disk("tasks/sub", 0, files::UNREAD);
        unlisted.problem = Some("cannot list the folder".into());
        check(
            vec![unlisted.clone()],
            vec![known("tasks/sub/b.yaml", 1, 1, false)],
            &["tasks/sub"],
            &[],
        );
        // A file in an id conflict is read again: another file's change may have ended it.
        check(vec![disk(a, 1, 1)], vec![known(a, 1, 1, true)], &[a], &[]);
        check(
            vec![disk(a, 1, 1), disk("tasks/c.yaml", 1, 1)],
            vec![known(a, 1, 1, false), known("tasks/b.yaml", 1, 1, false)],
            &["tasks/c.yaml"],
            &["tasks/b.yaml"],
        );
    }
}
