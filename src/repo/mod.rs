//! A project: its folders and its index, and the API's operations on them. The CLI and the
//! server both call these, so an operation behaves the same from either, and neither reaches
//! the index itself. Must not print or exit.
//!
//! Every write goes to the files first, each through a temporary file and a rename, then to
//! the index by an incremental sync. Writers take a lock file, so two writers never interleave.
//! A watcher holds another lock file for its lifetime, so an index has at most one watcher,
//! and queries can tell that the index is being kept current.
//!
//! The operations live by concern: `tasks` (the Tasks API), `assignments` and `annotations`
//! (the workflow), `counts` (counts and metrics), `inputs` (Input JSON), `lock` (the write and
//! watch locks), `setup` (`init` and the editors' files).

use std::path::{Path, PathBuf};
use std::thread;

use jiff::{Timestamp, Unit};

use crate::error::{Error, Result};
use crate::files;
use crate::layout::{self, STATE_DIR, TASKS_DIR};
use crate::store::{self, Store};
use crate::sync::{self, Summary};
use crate::validate::{self, Diagnostic, Report};
use crate::work::{self, Event, Line};

mod agreement;
mod annotations;
mod assignments;
mod corrections;
mod counts;
mod export;
mod feedback;
mod import;
mod inputs;
mod lock;
#[cfg(test)]
mod queue_tests;
mod setup;
mod tasks;

pub use agreement::PairAgreement;
pub use annotations::{AnnotationSelection, NewAnnotation};
pub use assignments::{Action, Assignment, NamedId, Review};
pub use corrections::{AnnotationPatch, AnnotationsToDelete};
pub use counts::Counts;
pub use feedback::Feedback;
pub use import::Imported;
pub use lock::{WatchLock, Watcher};
pub use setup::{EditorSettings, VSCODE_SETTINGS, ensure_editor_files, init, refresh_editor_files};

pub struct Repo {
    root: PathBuf,
    db: PathBuf,
    index: Store,
    /// The index folder cannot be written, so the index lives in memory for this process.
    in_memory: bool,
}

impl Repo {
    /// Opens the project at `root`, creating the index when needed. A project has a tasks
    /// folder or a state folder: one whose tasks folder was removed has no tasks.
    pub fn open(root: &Path, db: Option<&Path>) -> Result<Repo> {
        let tasks = root.join(TASKS_DIR);
        if !tasks.is_dir() && !root.join(STATE_DIR).is_dir() {
            return Err(Error::NoTasksDir(tasks));
        }
        let db = match db {
            Some(db) => db.to_owned(),
            None => {
                match setup::ensure_state_dir(root) {
                    // The index's own open says what a read-only state folder means.
                    Err(Error::Io { source, .. }) if store::cannot_write(&source) => {}
                    other => other?,
                }
                layout::default_db(root)
            }
        };
        // Files are the truth, so a project whose index cannot be written (a read-only
        // checkout, another user's folder) still answers: from an index in memory that the
        // first sync fills from the files.
        let (index, in_memory) = match Store::open(&db) {
            Ok(index) => (index, false),
            Err(e) if e.is_read_only() => (Store::open_in_memory()?, true),
            Err(e) => return Err(e.into()),
        };
        Ok(Repo {
            root: root.to_owned(),
            db,
            index,
            in_memory,
        })
    }

    /// A project read into an index in memory only, never into its own: `validate` replays the
    /// work with it to find the lines the replay does not count, touching nothing.
    pub fn open_in_memory(root: &Path) -> Result<Repo> {
        let tasks = root.join(TASKS_DIR);
        if !tasks.is_dir() {
            return Err(Error::NoTasksDir(tasks));
        }
        Ok(Repo {
            root: root.to_owned(),
            db: layout::default_db(root),
            index: Store::open_in_memory()?,
            in_memory: true,
        })
    }

    /// Whether the index lives in memory because its folder cannot be written: every command
    /// then reads every file, and writes are refused.
    pub fn in_memory(&self) -> bool {
        self.in_memory
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The index itself, for tests: the CLI and the server go through `Repo`'s operations.
    #[cfg(test)]
    pub(crate) fn index(&self) -> &Store {
        &self.index
    }

    /// The index database's path.
    pub fn db(&self) -> &Path {
        &self.db
    }

    /// Every file's report of the last sync (only those with errors, with `errors_only`).
    pub fn reports(&self, errors_only: bool) -> Result<Vec<Report>> {
        Ok(self.index.reports(errors_only)?)
    }

    /// The work files with lines the replay warns about (lines not counted for breaking a
    /// rule the API enforces; DYNAMIC hand-outs of one input to two people), with the warnings.
    pub fn work_warnings(&self) -> Result<Vec<Report>> {
        Ok(self.index.work_warnings()?)
    }

    /// One file's report of the last sync, when it has diagnostics.
    pub fn file_report(&self, path: &str) -> Result<Option<Report>> {
        Ok(self.index.file_report(path)?)
    }

    /// What the index holds besides tasks: inputs, datasets and work files.
    pub fn totals(&self) -> Result<Totals> {
        Ok(Totals {
            tasks: self.index.task_count()?,
            inputs: self.index.input_count()?,
            datasets: self.index.dataset_ids()?.len(),
            work_files: self.index.work_file_count()?,
        })
    }

    /// Brings the index up to date with every task file.
    pub fn sync(&mut self) -> Result<Summary> {
        self.sync_with_progress(&|_, _| {})
    }

    /// [`Repo::sync`], telling `progress` after each file read how many of how many are done.
    pub fn sync_with_progress(&mut self, progress: &dyn Fn(usize, usize)) -> Result<Summary> {
        // An index that knows no task file reads every one, and a read describes its file.
        let scan = if self.index.knows_task_files()? {
            files::scan
        } else {
            files::scan_unstated
        };
        // The index's files are read while the folders are listed rather than after, which
        // took a tenth longer at 100,000 files: the listing leaves a core idle now and then.
        let (disk, indexed) = thread::scope(|scope| {
            let scan = scope.spawn(|| scan(&self.root));
            let indexed = self.index.known_files();
            (scan.join().expect("a scan never panics"), indexed)
        });
        let mut planner = sync::Differ::new(disk);
        for file in indexed?.iter() {
            planner.known(file);
        }
        let (mut plan, known) = planner.finish();
        plan.datasets = self.dataset_changes()?;
        plan.work = self.work_changes()?;
        Ok(sync::apply(
            &mut self.index,
            &self.root,
            plan,
            &known,
            progress,
        )?)
    }

    /// What a sync must do about the dataset files: all of them are listed, as there are few.
    fn dataset_changes(&self) -> Result<sync::DatasetChanges> {
        Ok(sync::dataset_changes(
            files::list_inputs(&self.root),
            &self.index.dataset_files()?,
            &self.index.dataset_ids()?,
        ))
    }

    /// What a sync must do about the work files: all of them are listed, as there are a few
    /// per task and person.
    fn work_changes(&self) -> Result<sync::WorkChanges> {
        Ok(sync::work_changes(
            files::list_work(&self.root),
            &self.index.work_files()?,
        ))
    }

    /// [`Repo::work_changes`] for the work paths among `paths`: when each names a work file
    /// (a write appends to one), only those are described and compared; otherwise the whole
    /// folder is listed.
    fn work_changes_at(&self, paths: &[String]) -> Result<sync::WorkChanges> {
        let work: Vec<&str> = paths
            .iter()
            .map(String::as_str)
            .filter(|p| layout::in_work(p))
            .collect();
        let files_only = work
            .iter()
            .all(|p| layout::work_owner(p).is_some() && !files::behind_link(&self.root, p));
        if !files_only {
            return self.work_changes();
        }
        let disk = work
            .iter()
            .filter_map(|p| files::stat(&self.root, p))
            .collect();
        Ok(sync::work_changes(disk, &self.index.work_files_at(&work)?))
    }

    /// Brings the index up to date before a write checks anything. While a watcher keeps it
    /// current, only `paths` are read (the work file a write appends to, whose earlier lines
    /// its checks count on); otherwise everything is synced, which stats every file: 37 ms
    /// before each label saved in a project of 20,000 tasks.
    fn catch_up(&mut self, paths: &[String]) -> Result<()> {
        if self.watcher().is_none() {
            self.sync()?;
        } else if !paths.is_empty() {
            self.sync_paths(paths)?;
        }
        Ok(())
    }

    /// Brings the index up to date with just these root-relative paths: task files, folders
    /// under the tasks folder, the inputs folder or files in it, the work folder or anything
    /// in it. Other paths are ignored.
    pub fn sync_paths(&mut self, paths: &[String]) -> Result<Summary> {
        self.sync_paths_appended(paths, None)
    }

    /// [`Repo::sync_paths`]; `appended`: a work file annotask just appended to while it was as
    /// the index last read it, so that only its new bytes are read.
    fn sync_paths_appended(&mut self, paths: &[String], appended: Option<&str>) -> Result<Summary> {
        let known = self.index.file_states_near(paths)?;
        let mut plan = sync::changes_at(&self.root, paths, &known);
        if paths.iter().any(|p| layout::in_inputs(p)) {
            plan.datasets = self.dataset_changes()?;
        }
        if paths.iter().any(|p| layout::in_work(p)) {
            plan.work = self.work_changes_at(paths)?;
            for read in &mut plan.work.read {
                read.appended_by_us = appended == Some(read.file.path.as_str());
            }
        }
        Ok(sync::apply(
            &mut self.index,
            &self.root,
            plan,
            &known,
            &|_, _| {},
        )?)
    }

    /// Brings the index up to date after a write command changed just these files. The
    /// command synced everything before it checked and wrote, under the write lock, so only
    /// its own files need reading again: at 100,000 tasks a second full sync doubled the time
    /// of every write.
    fn sync_written(&mut self, paths: Vec<String>) -> Result<Summary> {
        self.sync_paths(&paths)
    }

    /// Appends events to `user`'s work file on `task`, durably, and syncs it.
    fn append(&mut self, task: &str, user: &str, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let at = now();
        let text: String = events
            .iter()
            .map(|event| {
                work::to_line(&Line {
                    at,
                    event: event.clone(),
                })
            })
            .collect();
        self.append_with(task, user, |out| out.write(text.as_bytes()))
    }

    /// Appends to `user`'s work file on `task` the lines `write` gives the appender, durably,
    /// and syncs it.
    fn append_with(
        &mut self,
        task: &str,
        user: &str,
        write: impl FnOnce(&mut files::Appender) -> std::io::Result<()>,
    ) -> Result<()> {
        let path = layout::work_path(task, user);
        // The file as the index last read it (size and time alike, as a sync judges files
        // unchanged): what was read of it stays as it was, and only the append is read.
        let before = files::stat(&self.root, &path);
        let known = self.index.work_files_at(&[path.as_str()])?;
        let as_read = before.zip(known.get(&path)).is_some_and(|(disk, k)| {
            disk.size == k.size && disk.mtime_ns == k.mtime_ns && k.mtime_ns != files::UNREAD
        });
        files::Appender::open(&self.root, &path)
            .and_then(|mut out| write(&mut out).and_then(|()| out.finish()))
            .map_err(|e| match files::Linked::of(&e) {
                Some(linked) => Error::PermissionDenied(format!("cannot write {path}: {linked}")),
                None => Error::io("append to", self.root.join(&path))(e),
            })?;
        let appended = as_read.then_some(path.as_str());
        self.sync_paths_appended(std::slice::from_ref(&path), appended)?;
        Ok(())
    }
}

/// How much the index holds, as `status` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub tasks: u64,
    pub inputs: u64,
    pub datasets: usize,
    pub work_files: u64,
}

/// Refuses a request that names one id twice (`list[i]` + `suffix` is the field of each),
/// before anything is looked up or written.
fn refuse_repeats<'a>(
    ids: impl Iterator<Item = Option<&'a str>>,
    list: &str,
    suffix: &str,
) -> Result<()> {
    let mut first = std::collections::HashMap::new();
    let mut diagnostics = Vec::new();
    for (i, id) in ids.enumerate() {
        let Some(id) = id else { continue };
        if let Some(j) = first.insert(id, i) {
            first.insert(id, j);
            diagnostics.push(Diagnostic::error(
                format!("{list}[{i}]{suffix}"),
                format!("id `{id}` appears twice in this request, also at {list}[{j}]"),
            ));
        }
    }
    if diagnostics.is_empty() {
        return Ok(());
    }
    Err(Error::Invalid(vec![Report {
        file: "-".into(),
        diagnostics,
    }]))
}

/// A new task id: 32 lowercase hex digits, like the hosted API's.
fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Timestamps are kept to microseconds, as the hosted API reports them.
fn now() -> Timestamp {
    Timestamp::now()
        .round(Unit::Microsecond)
        .unwrap_or_else(|_| Timestamp::now())
}

fn check_ids(ids: &[(&str, &str)]) -> Result<()> {
    let problems: Vec<Diagnostic> = ids
        .iter()
        .filter_map(|(field, id)| {
            validate::check_id(id)
                .err()
                .map(|e| Diagnostic::error(*field, e))
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(vec![report(problems)]))
    }
}

fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::Invalid(vec![report(vec![Diagnostic::error(field, message)])])
}

fn report(diagnostics: Vec<Diagnostic>) -> Report {
    Report {
        file: "-".into(),
        diagnostics,
    }
}
