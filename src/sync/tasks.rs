//! Syncing the task files: which to read (files on disk against the index's, or just the paths
//! a watcher reported), reading them on every core, and the identity rules as they are written
//! (which file defines which task, conflicts, invalid files). Must not print.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::thread;

use super::{Changes, Summary};
use crate::files::{self, DiskFile, OpenFolder};
use crate::layout::{self};
use crate::plans::Source;
use crate::store::{self, Change, FileState, KnownFile, NewFile, Previous, TaskRow, Writer};
use crate::validate::{self, Diagnostic};
use crate::yaml;

/// Compares task files on disk with what the index knows of them, both in path order, and
/// keeps the index's state of just the files it plans for (a sync needs their old claims).
/// A file is read again only when its size or mtime changed, or while it is in an id conflict
/// (a change to another file may have ended it).
pub struct Differ {
    disk: std::iter::Peekable<std::vec::IntoIter<DiskFile>>,
    plan: Changes,
    known: HashMap<String, FileState>,
    /// Paths the listing reported problems on so far: the index keeps what it knows of the
    /// files under a folder that cannot be listed.
    problems: Vec<String>,
}

impl Differ {
    /// `disk` must be sorted by path.
    pub fn new(disk: Vec<DiskFile>) -> Differ {
        Differ {
            disk: disk.into_iter().peekable(),
            plan: Changes::default(),
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
    pub fn finish(mut self) -> (Changes, HashMap<String, FileState>) {
        self.plan.read.extend(self.disk);
        (self.plan, self.known)
    }
}

/// [`Differ`] over files the index knows, in any order.
pub fn changes(disk: Vec<DiskFile>, known: &HashMap<String, FileState>) -> Changes {
    let mut known: Vec<(&String, &FileState)> = known.iter().collect();
    known.sort_unstable_by_key(|(path, _)| *path);
    let mut planner = Differ::new(disk);
    for (path, state) in known {
        planner.known(state.at(path));
    }
    planner.finish().0
}

/// Like [`changes`], for just the given root-relative paths (what a file watcher reports). A
/// path may name a task file, a folder (new, or removed with every task file under it), or
/// anything else, which is ignored. `known` must hold the state of every file at or under each
/// path, and of every file in an id conflict ([`crate::store::Store::file_states_near`]).
pub fn changes_at(root: &Path, paths: &[String], known: &HashMap<String, FileState>) -> Changes {
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
    let mut plan = changes(disk.into_values().collect(), &subset);
    plan.remove = gone.into_iter().collect();
    plan
}

/// Whether `path` lies under one of the folders `dirs`.
pub(super) fn under_any(dirs: &[String], path: &str) -> bool {
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
pub fn load(root: &OpenFolder, mut file: DiskFile) -> Outcome {
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
    let bytes = match files::read_listed(root, &mut file) {
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
        task: task.map(TaskRow::new),
        claim,
        decoded: true,
        diagnostics,
    }
}

pub(super) struct Apply<'a, 'w> {
    pub(super) root: &'a Path,
    pub(super) writer: Writer<'w>,
    pub(super) known: &'a HashMap<String, FileState>,
    pub(super) seen: Seen,
    pub(super) summary: &'a mut Summary,
    /// The tasks this sync added or changed, with their sources, for [`super::replan`]. A
    /// sync into an empty index keeps none: it wrote every task in the index, and replan reads
    /// them from there (kept here, 100,000 of them were the largest part of the load's peak).
    pub(super) written: BTreeMap<String, Source>,
    /// In a sync into an empty index, the valid files read last that claim ids no file claimed
    /// before: written together ([`Writer::insert_new_files`]), before anything else is written
    /// or read.
    pub(super) new_files: Vec<(DiskFile, TaskRow)>,
}

/// How many new files are written together: a statement per file and table cost a third more
/// time.
pub(super) const NEW_FILES_AT_ONCE: usize = 32;

/// What a sync remembers of the files it has applied so far.
pub(super) enum Seen {
    /// The index was empty as the sync began: the ids claimed so far. An id not among them has
    /// no other claimant, and any task row is this sync's, so the index need not be asked.
    Fresh(Claimed),
    /// The ids whose task row this sync changed, with the row as it was before (`None`: there
    /// was none), so that a conflict found later in the same sync can put it back.
    Written(HashMap<String, Option<Previous>>),
}

/// The ids claimed so far, as hashes under a key of this process's own: an id whose hash is
/// new was never claimed, and one whose hash was seen (claimed, or a collision) is looked up
/// in the index. Eight bytes an id, against some sixty for a copy of it, at the load's peak.
#[derive(Default)]
pub(super) struct Claimed {
    hasher: RandomState,
    hashes: HashSet<u64>,
}

impl Claimed {
    /// Whether `id`'s hash is new, noting it.
    fn insert(&mut self, id: &str) -> bool {
        self.hashes.insert(self.hasher.hash_one(id))
    }
}

impl Apply<'_, '_> {
    /// Deletes the task of an id that a file no longer claims, unless another file claims it.
    pub(super) fn release(&mut self, id: &str) -> store::Result<()> {
        if self.writer.claimants(id)?.is_empty() && self.writer.delete_task(id)? {
            self.summary.removed.push(id.to_owned());
        }
        Ok(())
    }

    pub(super) fn outcome(&mut self, outcome: Outcome) -> store::Result<()> {
        let Some(outcome) = self.keep_new(outcome) else {
            if self.new_files.len() < NEW_FILES_AT_ONCE {
                return Ok(());
            }
            return self.write_new_files();
        };
        self.write_new_files()?;
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
            Seen::Fresh(claimed) => claimed.insert(&id),
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
            Change::Added => self.summary.added.push(id.clone()),
            Change::Updated => self.summary.updated.push(id.clone()),
            Change::Unchanged => {
                self.summary.unchanged += 1;
                return Ok(());
            }
        }
        if !matches!(self.seen, Seen::Fresh(_)) {
            self.written.insert(id, task.source.clone());
        }
        Ok(())
    }

    /// Keeps a valid file that claims an id first in a sync into an empty index, to be written
    /// with others; gives back any other outcome.
    fn keep_new(&mut self, outcome: Outcome) -> Option<Outcome> {
        let Seen::Fresh(claimed) = &mut self.seen else {
            return Some(outcome);
        };
        let new = outcome.decoded
            && outcome.diagnostics.is_empty()
            && !self.known.contains_key(&outcome.file.path);
        match outcome.task {
            Some(task)
                if new && outcome.claim.as_ref() == Some(&task.id) && claimed.insert(&task.id) =>
            {
                self.summary.added.push(task.id.clone());
                self.new_files.push((outcome.file, task));
                None
            }
            task => Some(Outcome { task, ..outcome }),
        }
    }

    /// Writes the new files kept so far.
    pub(super) fn write_new_files(&mut self) -> store::Result<()> {
        if self.new_files.is_empty() {
            return Ok(());
        }
        let files: Vec<NewFile<'_>> = self
            .new_files
            .iter()
            .map(|(file, task)| NewFile {
                path: &file.path,
                size: file.size,
                mtime_ns: file.mtime_ns,
                task,
            })
            .collect();
        self.writer.insert_new_files(&files)?;
        self.new_files.clear();
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
            self.written.remove(id);
        }
        Ok(())
    }

    /// Conflicts are rare, so their location is found by reading the file again.
    fn located(&self, path: &str, mut diagnostic: Diagnostic) -> Diagnostic {
        if let Ok(bytes) = files::read(self.root, path) {
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
/// sync writes the same index whatever the thread timing. One thread per core reads, this one
/// among them: it applies the chunks in order and reads one whenever the next is not there
/// yet. A separate thread for `sink` made three threads on two cores, and a chunk read on one
/// core was applied, and its memory freed, on another (a tenth of a 100,000-file load).
pub fn load_all<E: Send>(
    root: &Path,
    files: Vec<DiskFile>,
    mut sink: impl FnMut(Outcome) -> Result<(), E>,
) -> Result<(), E> {
    // Files are read a chunk at a time and handed over whole, so a sync of 100,000 files is
    // not 100,000 channel wake-ups.
    const CHUNK: usize = 32;
    // How far the other readers may run ahead of the chunk applied next; with little room, a
    // reader that is done waits for a slow one and a core idles. 1,024 outcomes are a few MiB.
    const AHEAD: usize = 1024 / CHUNK;
    let root = &OpenFolder::new(root);
    let threads = crate::cores::cores().min(files.len() / (2 * CHUNK));
    if threads <= 1 {
        return files.into_iter().try_for_each(|f| sink(load(root, f)));
    }
    // Each chunk is taken whole by one thread, which owns its files from then on.
    let mut files = files.into_iter();
    let chunks: Vec<Mutex<Vec<DiskFile>>> = std::iter::from_fn(|| {
        let chunk: Vec<DiskFile> = files.by_ref().take(CHUNK).collect();
        (!chunk.is_empty()).then(|| Mutex::new(chunk))
    })
    .collect();
    let next = AtomicUsize::new(0);
    let read_next = || {
        let at = next.fetch_add(1, Ordering::Relaxed);
        let chunk = chunks.get(at)?;
        let chunk = std::mem::take(&mut *chunk.lock().unwrap_or_else(|e| e.into_inner()));
        Some((
            at,
            chunk.into_iter().map(|f| load(root, f)).collect::<Vec<_>>(),
        ))
    };
    thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(usize, Vec<Outcome>)>(AHEAD);
        for _ in 1..threads {
            let tx = tx.clone();
            let read_next = &read_next;
            scope.spawn(move || {
                while let Some(read) = read_next() {
                    if tx.send(read).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut wanted = 0;
        while wanted < chunks.len() {
            if let Some(outcomes) = pending.remove(&wanted) {
                for outcome in outcomes {
                    sink(outcome)?;
                }
                wanted += 1;
                continue;
            }
            let (at, outcomes) = match rx.try_recv() {
                Ok(read) => read,
                // The chunk wanted is being read; read another meanwhile, or wait.
                Err(_) => match read_next() {
                    Some(read) => read,
                    None => match rx.recv() {
                        Ok(read) => read,
                        Err(_) => break,
                    },
                },
            };
            pending.insert(at, outcomes);
        }
        Ok(())
    })
}
