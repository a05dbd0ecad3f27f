//! A project: its tasks folder and its index, and the API's operations on them (create, get,
//! list, overwrite, delete). The CLI and the server both call this, so a write behaves the same
//! from either. Must not print or exit.
//!
//! Every write goes to the files first, each through a temporary file and a rename, then to
//! the index by an incremental sync. Writers take a lock file, so two writers never interleave.
//! A watcher holds another lock file for its lifetime, so an index has at most one watcher,
//! and queries can tell that the index is being kept current.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::{self, File, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use jiff::{Timestamp, Unit};
use serde_json::value::RawValue;

use crate::api::PatchTasks;
use crate::error::{Error, Result};
use crate::files::{self, Placement, TASKS_DIR};
use crate::inputs::{self, Format};
use crate::model::{Task, TaskDoc};
use crate::plans::{self, Source, Walker};
use crate::schema;
use crate::store::{self, Index, InputText, ListQuery};
use crate::sync::{self, Summary};
use crate::validate::{self, Diagnostic, Report};
use crate::work::State;

mod corrections;
mod work;

/// The folder under the root that holds annotask's own state.
pub const STATE_DIR: &str = ".annotask";
const GITIGNORE: &str = "# annotask's derived state: rebuilt from tasks/ at any time.\n*\n";

pub struct Repo {
    root: PathBuf,
    db: PathBuf,
    index: Index,
    /// The index folder cannot be written, so the index lives in memory for this process.
    in_memory: bool,
}

/// What [`init`] did about editor settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditorSettings {
    /// It wrote this file, mapping the task files to the schema.
    Written(PathBuf),
    /// This file maps the schema already.
    Present(PathBuf),
    /// This file exists and has no mapping; it is the user's, so it was left as it was.
    LeftAlone(PathBuf),
}

/// VS Code's setting for the YAML extension (yaml-language-server), which maps the task files
/// to the project's copy of the schema: completion, hover docs and errors as you type.
pub const VSCODE_SETTINGS: &str = r#"{
  "yaml.schemas": {
    "./.annotask/task.schema.json": ["tasks/**/*.yaml", "tasks/**/*.yml"]
  }
}
"#;

/// Creates the tasks and state folders and sets up editors; harmless when they exist.
pub fn init(root: &Path) -> Result<EditorSettings> {
    let tasks = root.join(TASKS_DIR);
    fs::create_dir_all(&tasks).map_err(Error::io("create", &tasks))?;
    ensure_state_dir(root)?;
    let settings = root.join(".vscode").join("settings.json");
    match fs::read_to_string(&settings) {
        Ok(text) if text.contains(schema::FILE_NAME) => Ok(EditorSettings::Present(settings)),
        Ok(_) => Ok(EditorSettings::LeftAlone(settings)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let dir = root.join(".vscode");
            fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
            fs::write(&settings, VSCODE_SETTINGS).map_err(Error::io("write", &settings))?;
            Ok(EditorSettings::Written(settings))
        }
        Err(e) => Err(Error::io("read", &settings)(e)),
    }
}

/// Makes sure the editor files a project's task files point at exist (the state folder and its
/// copy of the schema), as on a fresh clone, where `.annotask/` is not in git.
pub fn ensure_editor_files(root: &Path) -> Result<()> {
    ensure_state_dir(root)
}

/// Creates the state folder, and keeps its copy of the schema current for editors.
fn ensure_state_dir(root: &Path) -> Result<()> {
    let state = root.join(STATE_DIR);
    fs::create_dir_all(&state).map_err(Error::io("create", &state))?;
    let gitignore = state.join(".gitignore");
    if !gitignore.exists() {
        fs::write(&gitignore, GITIGNORE).map_err(Error::io("write", &gitignore))?;
    }
    // Atomically, as commands running at once may both find it out of date.
    let schema = format!("{STATE_DIR}/{}", schema::FILE_NAME);
    let current = schema::TASK_SCHEMA.as_bytes();
    if fs::read(root.join(&schema)).ok().as_deref() != Some(current) {
        files::write_atomic(root, &schema, current, Placement::Replace)
            .map_err(Error::io("write", root.join(&schema)))?;
    }
    Ok(())
}

/// The first line of every file annotask writes. It points yaml-language-server (VS Code,
/// Neovim, Helix) at the project's copy of the schema by a path relative to the file, so the
/// file is checked as it is edited even without editor settings.
fn modeline(path: &str) -> String {
    let up = "../".repeat(path.matches('/').count());
    format!(
        "# yaml-language-server: $schema={up}{STATE_DIR}/{}\n",
        schema::FILE_NAME
    )
}

/// What a write puts in a task file. A new file is canonical; an existing one is edited in
/// place, so its comments, blank lines and key order survive and `git diff` shows only the
/// values that changed. A file the editor cannot edit (not a valid task now, or laid out in
/// ways it does not rewrite) is written canonically.
fn file_text(path: &str, old: Option<&[u8]>, task: &Task) -> String {
    old.and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|text| crate::yaml::edit(text, Some(files::stem(path)), task))
        .unwrap_or_else(|| modeline(path) + &crate::yaml::to_yaml(task))
}

/// Where the index lives unless `--db` says otherwise.
pub fn default_db(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join("index.db")
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
                match ensure_state_dir(root) {
                    // The index's own open says what a read-only state folder means.
                    Err(Error::Io { source, .. }) if store::cannot_write(&source) => {}
                    other => other?,
                }
                default_db(root)
            }
        };
        // Files are the truth, so a project whose index cannot be written (a read-only
        // checkout, another user's folder) still answers: from an index in memory that the
        // first sync fills from the files.
        let (index, in_memory) = match Index::open(&db) {
            Ok(index) => (index, false),
            Err(e) if e.is_read_only() => (Index::open_in_memory()?, true),
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
            db: default_db(root),
            index: Index::open_in_memory()?,
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

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The index database's path.
    pub fn db(&self) -> &Path {
        &self.db
    }

    /// The watcher keeping this index current, if one is running.
    pub fn watcher(&self) -> Option<Watcher> {
        let mut file = File::open(watch_lock_path(&self.db)).ok()?;
        // A shared lock, so that two commands checking at once do not see each other as a
        // watcher; only a watcher takes the lock exclusively.
        match file.try_lock_shared() {
            Err(TryLockError::WouldBlock) => Some(Watcher {
                pid: read_pid(&mut file),
            }),
            Ok(()) | Err(TryLockError::Error(_)) => None,
        }
    }

    /// Makes this process the index's one watcher until the returned lock is dropped. Fails
    /// when another watcher is running.
    pub fn lock_watch(&self) -> Result<WatchLock> {
        let path = watch_lock_path(&self.db);
        let mut file = File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(Error::io("open", &path))?;
        let running = |file: &mut File| Error::WatcherRunning {
            pid: read_pid(file),
            index: self.db.clone(),
        };
        // A command checking for a watcher holds a shared lock for a moment: wait those out.
        for _ in 0..100 {
            match file.try_lock() {
                Ok(()) => {
                    file.set_len(0)
                        .and_then(|()| write!(file, "{}", std::process::id()))
                        .map_err(Error::io("write", &path))?;
                    return Ok(WatchLock { _file: file });
                }
                Err(TryLockError::WouldBlock) => match file.try_lock_shared() {
                    Ok(()) => file.unlock().map_err(Error::io("unlock", &path))?,
                    Err(TryLockError::WouldBlock) => return Err(running(&mut file)),
                    Err(TryLockError::Error(e)) => return Err(Error::io("lock", &path)(e)),
                },
                Err(TryLockError::Error(e)) => return Err(Error::io("lock", &path)(e)),
            }
            thread::sleep(Duration::from_millis(10));
        }
        Err(running(&mut file))
    }

    /// Brings the index up to date with every task file.
    pub fn sync(&mut self) -> Result<Summary> {
        self.sync_with_progress(&|_, _| {})
    }

    /// [`Repo::sync`], telling `progress` after each file read how many of how many are done.
    pub fn sync_with_progress(&mut self, progress: &dyn Fn(usize, usize)) -> Result<Summary> {
        // The index's files are read while the folders are listed rather than after, which
        // took a tenth longer at 100,000 files: the listing leaves a core idle now and then.
        let (disk, indexed) = thread::scope(|scope| {
            let scan = scope.spawn(|| files::scan(&self.root));
            let indexed = self.index.known_files();
            (scan.join().expect("a scan never panics"), indexed)
        });
        let mut planner = sync::Planner::new(disk);
        for file in indexed?.iter() {
            planner.known(file);
        }
        let (mut plan, known) = planner.finish();
        plan.datasets = self.plan_datasets()?;
        plan.work = self.plan_work()?;
        Ok(sync::apply(
            &mut self.index,
            &self.root,
            plan,
            &known,
            progress,
        )?)
    }

    /// What a sync must do about the dataset files: all of them are listed, as there are few.
    fn plan_datasets(&self) -> Result<sync::DatasetPlan> {
        Ok(sync::plan_datasets(
            files::list_inputs(&self.root),
            &self.index.dataset_files()?,
            &self.index.dataset_ids()?,
        ))
    }

    /// What a sync must do about the work files: all of them are listed, as there are a few
    /// per task and person.
    fn plan_work(&self) -> Result<sync::WorkPlan> {
        Ok(sync::plan_work(
            files::list_work(&self.root),
            &self.index.work_files()?,
        ))
    }

    /// Brings the index up to date with just these root-relative paths: task files, folders
    /// under the tasks folder, the inputs folder or files in it, the work folder or anything
    /// in it. Other paths are ignored.
    pub fn sync_paths(&mut self, paths: &[String]) -> Result<Summary> {
        let known = self.index.file_states_near(paths)?;
        let mut plan = sync::plan_paths(&self.root, paths, &known);
        if paths.iter().any(|p| files::in_inputs(p)) {
            plan.datasets = self.plan_datasets()?;
        }
        if paths.iter().any(|p| files::in_work(p)) {
            plan.work = self.plan_work()?;
        }
        Ok(sync::apply(
            &mut self.index,
            &self.root,
            plan,
            &known,
            &|_, _| {},
        )?)
    }

    pub fn get(&self, id: &str) -> Result<Task> {
        self.index
            .get(id)?
            .ok_or_else(|| Error::NotFound(vec![id.to_owned()]))
    }

    pub fn list(&self, query: &ListQuery) -> Result<Vec<Task>> {
        Ok(self.index.list(query)?)
    }

    /// One page of a task's assignments (of one worker, with `worker`), ordered by input id
    /// then worker id: walked from the task's inputs in id order and its plan, so nothing per
    /// assignment is stored, with the states the work recorded, and the assignments held
    /// otherwise (DYNAMIC hand-outs, work kept after the plan moved an input) merged in.
    /// Assignments closed by consensus have left the list. `page` is 1-based.
    pub fn assignments(
        &self,
        task_id: &str,
        worker: Option<&str>,
        page: u32,
        per_page: u32,
    ) -> Result<Vec<Assignment>> {
        let task = self.get(task_id)?;
        let walker = Walker::new(&task);
        let workers = task.worker_ids();
        let mut page_of = Vec::new();
        if per_page == 0 {
            return Ok(page_of);
        }
        let mut held = self
            .index
            .held_otherwise(task_id, worker)?
            .into_iter()
            .peekable();
        let moves = self.index.plan_moves(task_id, false)?;
        let mut skip = u64::from(page.saturating_sub(1)) * u64::from(per_page);
        let mut failed = None;
        // Each pair in order; false once the page is full.
        let mut emit = |input: &str, worker: &str, state: State| {
            if state == State::Closed {
                return true;
            }
            if skip > 0 {
                skip -= 1;
                return true;
            }
            page_of.push(Assignment {
                input: input.to_owned(),
                worker: worker.to_owned(),
                state,
            });
            page_of.len() < per_page as usize
        };
        let source = if walker.assigns() {
            Source::of(&task)
        } else {
            Source::Nothing
        };
        let mut going = true;
        self.index.each_input(&source, |input| {
            while let Some(row) = held.next_if(|row| row.input.as_str() < input) {
                if !emit(&row.input, &row.worker, row.state) {
                    going = false;
                    return false;
                }
            }
            let mut here: Vec<(&str, State)> = walker
                .workers_of(input, moves.get(input).map_or(&[][..], Vec::as_slice))
                .into_iter()
                .map(|w| (workers[w].as_str(), State::Pending))
                .filter(|(w, _)| worker.is_none_or(|x| x == *w))
                .collect();
            let mut others = Vec::new();
            while let Some(row) = held.next_if(|row| row.input == input) {
                others.push(row);
            }
            here.extend(others.iter().map(|row| (row.worker.as_str(), row.state)));
            here.sort_unstable();
            if here.len() > others.len() {
                match self.index.holders(task_id, input) {
                    Ok(rows) => {
                        for (w, state) in &mut here {
                            if let Some(row) = rows.iter().find(|r| r.worker == *w) {
                                *state = row.state;
                            }
                        }
                    }
                    Err(e) => {
                        failed = Some(e);
                        going = false;
                        return false;
                    }
                }
            }
            for (w, state) in here {
                if !emit(input, w, state) {
                    going = false;
                    return false;
                }
            }
            true
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        if going {
            for row in held {
                if !emit(&row.input, &row.worker, row.state) {
                    break;
                }
            }
        }
        Ok(page_of)
    }

    /// Inputs as the Input JSON their datasets hold ([`inputs::input_json`]), in the order of
    /// `ids`. An input whose file changed since the index read it (a watcher's batch behind)
    /// or that no dataset lists any more is its id alone.
    pub fn inputs_json(&self, ids: &[&str]) -> Result<Vec<Box<RawValue>>> {
        // A CSV header row longer than this is not a header anyone writes.
        const HEAD_BYTES: usize = 64 << 10;
        let mut heads: HashMap<String, Vec<u8>> = HashMap::new();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let found = self.index.input_text(id)?.and_then(|found| {
                let InputText { file, row, span } = found;
                let format = inputs::format_of(&file)?;
                let bytes = files::read_span(&self.root, &file, span.0, span.1).ok()?;
                let text = inputs::text_of(&row, &bytes)?;
                let head = match format {
                    Format::Jsonl => &[][..],
                    Format::Csv => match heads.entry(file) {
                        Entry::Occupied(e) => e.into_mut().as_slice(),
                        Entry::Vacant(e) => {
                            let head = files::read_span(&self.root, e.key(), 0, HEAD_BYTES).ok()?;
                            e.insert(head).as_slice()
                        }
                    },
                };
                inputs::input_json(format, head, text, id)
            });
            let json = found.unwrap_or_else(|| {
                serde_json::value::to_raw_value(&serde_json::json!({ "id": id }))
                    .expect("an object of one string serialises")
            });
            out.push(json);
        }
        Ok(out)
    }

    /// A task as the API's JSON with its `metrics` added.
    pub fn with_metrics(&self, task: &Task) -> Result<serde_json::Value> {
        let mut value = serde_json::to_value(task).expect("tasks always serialise");
        value["metrics"] = serde_json::to_value(self.metrics(task)?).expect("metrics serialise");
        Ok(value)
    }

    /// A task's stored plan (without its moves); a task the index has no plan for yet has no
    /// inputs.
    pub fn plan(&self, task: &Task) -> Result<plans::TaskPlan> {
        Ok(self
            .index
            .task_plan(task.id())?
            .unwrap_or_else(|| plans::compute(task, &[])))
    }

    /// Creates tasks, generating ids where absent. All or nothing: when any task is invalid
    /// or its id is taken, no file is written.
    pub fn create(&mut self, docs: Vec<TaskDoc>) -> Result<Vec<Task>> {
        let _lock = self.write_lock()?;
        self.sync()?;
        let now = now();
        let mut taken = Vec::new();
        let mut docs = docs;
        for doc in &mut docs {
            doc.id.get_or_insert_with(new_id);
        }
        refuse_repeats(docs.iter().map(|d| d.id.as_deref()), "tasks", ".id")?;
        let docs = docs
            .into_iter()
            .map(|mut doc| {
                let id = doc.id.clone().unwrap_or_default();
                if validate::check_id(&id).is_ok() && self.id_taken(&id)? {
                    taken.push(id);
                }
                doc.created_at.get_or_insert(now);
                doc.modified_at = Some(now);
                Ok(doc)
            })
            .collect::<Result<Vec<_>>>()?;
        let tasks = validate_all(docs)?;
        if !taken.is_empty() {
            return Err(Error::AlreadyExists(taken));
        }
        let writes: Vec<(String, &Task)> = tasks
            .iter()
            .map(|t| (files::path_for_id(t.id()), t))
            .collect();
        self.write_files(&writes, Placement::New)?;
        self.sync_written(writes.into_iter().map(|(path, _)| path).collect())?;
        Ok(tasks)
    }

    /// Overwrites existing tasks, each in the file that defines it. `created_at` stays as it
    /// was. All or nothing: when any task is invalid or unknown, no file is written.
    pub fn update(&mut self, docs: Vec<TaskDoc>) -> Result<Vec<Task>> {
        let _lock = self.write_lock()?;
        self.sync()?;
        refuse_repeats(docs.iter().map(|d| d.id.as_deref()), "tasks", ".id")?;
        let now = now();
        let mut missing = Vec::new();
        let mut conflicts = Vec::new();
        let mut targets = Vec::new();
        let docs = docs
            .into_iter()
            .map(|mut doc| {
                let Some(id) = doc.id.clone() else {
                    return Ok(doc);
                };
                if validate::check_id(&id).is_err() {
                    return Ok(doc);
                }
                let mut claimants = self.index.claimants(&id)?;
                match claimants.len() {
                    0 => missing.push(id.clone()),
                    1 => targets.extend(claimants.pop()),
                    _ => conflicts.push((id.clone(), claimants)),
                }
                if let Some(created) = self.index.get(&id)?.and_then(|t| t.doc().created_at) {
                    doc.created_at = Some(created);
                }
                doc.modified_at = Some(now);
                Ok(doc)
            })
            .collect::<Result<Vec<_>>>()?;
        let tasks = validate_all(docs)?;
        if !conflicts.is_empty() {
            return Err(Error::Conflict(conflicts));
        }
        if !missing.is_empty() {
            return Err(Error::NotFound(missing));
        }
        let writes: Vec<(String, &Task)> = targets.into_iter().zip(&tasks).collect();
        self.write_files(&writes, Placement::Replace)?;
        self.sync_written(writes.into_iter().map(|(path, _)| path).collect())?;
        Ok(tasks)
    }

    /// PatchTasks: only the `overwrite` action exists.
    pub fn patch(&mut self, request: PatchTasks) -> Result<Vec<Task>> {
        if request.action != "overwrite" {
            return Err(Error::UnsupportedAction(request.action));
        }
        self.update(request.tasks)
    }

    /// Deletes tasks and their files. All or nothing: an unknown id deletes nothing.
    pub fn delete(&mut self, ids: &[String]) -> Result<()> {
        let reports: Vec<Report> = ids
            .iter()
            .enumerate()
            .filter_map(|(i, id)| {
                validate::check_id(id).err().map(|e| Report {
                    file: "-".into(),
                    diagnostics: vec![Diagnostic::error(format!("ids[{i}]"), e)],
                })
            })
            .collect();
        if !reports.is_empty() {
            return Err(Error::Invalid(reports));
        }
        refuse_repeats(ids.iter().map(|id| Some(id.as_str())), "ids", "")?;
        let _lock = self.write_lock()?;
        self.sync()?;
        let mut doomed = Vec::new();
        let mut missing = Vec::new();
        let mut conflicts = Vec::new();
        for id in ids {
            let mut claimants = self.index.claimants(id)?;
            match claimants.len() {
                0 => missing.push(id.clone()),
                1 => doomed.extend(claimants.pop()),
                _ => conflicts.push((id.clone(), claimants)),
            }
        }
        if !conflicts.is_empty() {
            return Err(Error::Conflict(conflicts));
        }
        if !missing.is_empty() {
            return Err(Error::NotFound(missing));
        }
        for path in &doomed {
            files::remove(&self.root, path).map_err(Error::io("delete", self.root.join(path)))?;
        }
        self.sync_written(doomed)?;
        Ok(())
    }

    /// Brings the index up to date after a write command changed just these files. The
    /// command synced everything before it checked and wrote, under the write lock, so only
    /// its own files need reading again: at 100,000 tasks a second full sync doubled the time
    /// of every write.
    fn sync_written(&mut self, paths: Vec<String>) -> Result<Summary> {
        self.sync_paths(&paths)
    }

    /// Whether an id is defined by any file, or its default file name is in use.
    fn id_taken(&self, id: &str) -> Result<bool> {
        Ok(
            !self.index.claimants(id)?.is_empty()
                || self.root.join(files::path_for_id(id)).exists(),
        )
    }

    /// Writes every file or, if one write fails, puts back what was there. `writes` are in
    /// the order of the request's tasks. A file the sync would refuse to read is not written:
    /// the write would be acknowledged and never served.
    fn write_files(&self, writes: &[(String, &Task)], placement: Placement) -> Result<()> {
        let olds: Vec<Option<Vec<u8>>> = writes
            .iter()
            .map(|(path, _)| match placement {
                Placement::New => None,
                Placement::Replace => files::read(&self.root, path, None).ok(),
            })
            .collect();
        let texts: Vec<String> = writes
            .iter()
            .zip(&olds)
            .map(|((path, task), old)| file_text(path, old.as_deref(), task))
            .collect();
        let too_large: Vec<Diagnostic> = texts
            .iter()
            .enumerate()
            .filter(|(_, text)| text.len() as u64 > crate::yaml::MAX_FILE_BYTES)
            .map(|(i, text)| {
                let limit = crate::yaml::MAX_FILE_BYTES;
                let message = format!(
                    "its file would be {} bytes; task files are limited to {limit} bytes",
                    text.len()
                );
                Diagnostic::error(format!("tasks[{i}]"), message)
                    .hint("keep large data in inputs or metadata elsewhere, not in the task")
            })
            .collect();
        if !too_large.is_empty() {
            return Err(Error::Invalid(vec![Report {
                file: "-".into(),
                diagnostics: too_large,
            }]));
        }
        let mut done: Vec<(&str, Option<Vec<u8>>)> = Vec::new();
        for (((path, _), text), old) in writes.iter().zip(texts).zip(olds) {
            if let Err(e) = files::write_atomic(&self.root, path, text.as_bytes(), placement) {
                for (path, old) in done.into_iter().rev() {
                    let _ = match old {
                        Some(bytes) => {
                            files::write_atomic(&self.root, path, &bytes, Placement::Replace)
                        }
                        None => files::remove(&self.root, path),
                    };
                }
                return Err(Error::io("write", self.root.join(path))(e));
            }
            done.push((path, old));
        }
        Ok(())
    }

    /// Serialises writers across processes: held until the returned file is dropped.
    fn write_lock(&self) -> Result<File> {
        if self.in_memory {
            return Err(Error::ReadOnlyIndex(self.db.clone()));
        }
        let path = self.db.with_extension("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Error::io("open", &path))?;
        file.lock().map_err(Error::io("lock", &path))?;
        Ok(file)
    }
}

/// A task's counts: each worker's number of inputs as planned, in the task's worker order,
/// and every holder's assignments (or annotations) by state.
#[derive(Debug)]
pub struct Counts {
    pub task: Task,
    pub per_worker: Vec<(String, u64)>,
    pub plan: plans::TaskPlan,
    /// The task's workers in its order, then anyone else holding work on it, by id.
    pub rows: Vec<crate::api::CountPerUser>,
}

impl Counts {
    /// GetTaskInputCount's rows: each worker's, or only those of `users` when it names any.
    pub fn per_user(&self, users: &[String]) -> Vec<crate::api::CountPerUser> {
        self.rows
            .iter()
            .filter(|row| users.is_empty() || users.contains(&row.worker.user.id))
            .cloned()
            .collect()
    }
}

/// One input and one worker who labels it, and where the assignment stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub input: String,
    pub worker: String,
    pub state: State,
}

/// A running watcher, as its lock file tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watcher {
    /// Its process id, when it has written it yet.
    pub pid: Option<u32>,
}

/// Held by an index's one watcher; dropping it lets another start.
pub struct WatchLock {
    _file: File,
}

/// Beside the index, so that every index, the default or one given by `--db`, has its own.
fn watch_lock_path(db: &Path) -> PathBuf {
    db.with_extension("watch.lock")
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
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

/// Validates request documents, naming each one's fields `tasks[i].…`.
fn validate_all(docs: Vec<TaskDoc>) -> Result<Vec<Task>> {
    let mut tasks = Vec::new();
    let mut diagnostics = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        let (task, found) = validate::validate(doc, None);
        diagnostics.extend(found.into_iter().filter(Diagnostic::is_error).map(|mut d| {
            d.field = if d.field.is_empty() {
                format!("tasks[{i}]")
            } else {
                format!("tasks[{i}].{}", d.field)
            };
            d
        }));
        tasks.extend(task);
    }
    if diagnostics.is_empty() {
        Ok(tasks)
    } else {
        Err(Error::Invalid(vec![Report {
            file: "-".into(),
            diagnostics,
        }]))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_leave_the_index_current() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path()).unwrap();
        let mut repo = Repo::open(dir.path(), None).unwrap();
        let doc = |name: &str| {
            let yaml = format!("id: a\nname: {name}\ninput_source: {{type: ALL_INPUTS}}");
            crate::yaml::parse_task(yaml.as_bytes()).unwrap()
        };
        // Read straight from the index: nothing syncs between a write and the check.
        let name = |repo: &Repo| repo.get("a").map(|task| task.doc().name.clone());
        repo.create(vec![doc("first")]).unwrap();
        assert_eq!(name(&repo).unwrap().as_deref(), Some("first"));
        repo.update(vec![doc("second")]).unwrap();
        assert_eq!(name(&repo).unwrap().as_deref(), Some("second"));
        repo.delete(&["a".to_owned()]).unwrap();
        assert!(matches!(name(&repo), Err(Error::NotFound(_))));
    }

    #[test]
    fn written_files_point_editors_at_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let settings = dir.path().join(".vscode/settings.json");
        assert_eq!(
            init(dir.path()).unwrap(),
            EditorSettings::Written(settings.clone())
        );
        assert_eq!(
            init(dir.path()).unwrap(),
            EditorSettings::Present(settings.clone())
        );
        fs::write(&settings, "{}").unwrap();
        assert_eq!(
            init(dir.path()).unwrap(),
            EditorSettings::LeftAlone(settings)
        );

        let repo = Repo::open(dir.path(), None).unwrap();
        let (task, _) = validate::validate(
            crate::yaml::parse_task(b"input_source: {type: ALL_INPUTS}").unwrap(),
            Some("a"),
        );
        let task = task.unwrap();
        for path in ["tasks/a.yaml", "tasks/team/deep/a.yaml"] {
            repo.write_files(&[(path.to_owned(), &task)], Placement::New)
                .unwrap();
            let text = fs::read_to_string(dir.path().join(path)).unwrap();
            let first = text.lines().next().unwrap();
            let schema = first
                .strip_prefix("# yaml-language-server: $schema=")
                .unwrap();
            let file = dir.path().join(path);
            let schema = file.parent().unwrap().join(schema);
            assert_eq!(
                fs::read_to_string(schema).unwrap(),
                schema::TASK_SCHEMA,
                "{first}"
            );
        }
    }

    #[test]
    fn an_index_has_one_watcher() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path()).unwrap();
        let repo = Repo::open(dir.path(), None).unwrap();
        assert_eq!(repo.watcher(), None);

        let lock = repo.lock_watch().unwrap();
        let me = Some(std::process::id());
        assert_eq!(repo.watcher(), Some(Watcher { pid: me }));
        assert_eq!(
            repo.watcher(),
            Some(Watcher { pid: me }),
            "checking takes nothing"
        );
        match repo.lock_watch() {
            Err(Error::WatcherRunning { pid, .. }) => assert_eq!(pid, me),
            other => panic!("a second watcher started: {:?}", other.err()),
        }

        drop(lock);
        assert_eq!(repo.watcher(), None);
        let _again = repo.lock_watch().unwrap();
    }
}
