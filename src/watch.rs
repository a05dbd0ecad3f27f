//! Keeps an index current while its task and dataset files change: the only module that
//! knows `notify`.
//! Owns turning file-system events into batches and applying each batch as one sync; must not
//! print or exit: it tells its caller what happened through [`Report`]s.
//!
//! An event only says "this path may have changed", so events are coalesced over a short
//! quiet period and the touched paths are synced, re-reading the files, in one transaction:
//! the index ends as a fresh sync would leave it however the editor or git wrote them. When
//! events cannot be trusted to name every change (the kernel's queue overflowed, the tasks
//! folder itself was replaced, watching failed), the whole folder is synced instead.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

use crate::error::{Error, Result};
use crate::layout::{self, INPUTS_DIR, TASKS_DIR, WORK_DIR};
use crate::repo::{Repo, WatchLock};
use crate::sync::Summary;

/// How long the events of one save or one checkout may pause without ending their batch:
/// editors write a file in a few steps, milliseconds apart.
const QUIET: Duration = Duration::from_millis(100);
/// The longest a batch waits for events to pause, so that a save shows even while something
/// else keeps writing.
const MAX_DELAY: Duration = Duration::from_millis(500);
/// The pause between two scans when polling, and before retrying a sync that failed.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How the watcher learns of changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The operating system's file notifications (inotify on Linux).
    Notify,
    /// A scan every [`POLL_INTERVAL`]; `reason` says why, when it was not asked for.
    Poll { reason: Option<String> },
}

/// What the watcher tells its caller.
#[derive(Debug)]
pub enum Report<'a> {
    /// A batch of changes was applied to the index.
    Changed(&'a Summary),
    /// Something the user should know; the watcher goes on.
    Warning(String),
}

enum Message {
    Event(notify::Result<notify::Event>),
    Stop,
}

/// Ends a running watcher from another thread (a signal handler), once its batch in flight
/// is applied.
#[derive(Clone)]
pub struct Stopper(Sender<Message>);

impl Stopper {
    pub fn stop(&self) {
        // The watcher is gone already when the channel is closed: nothing left to stop.
        let _ = self.0.send(Message::Stop);
    }
}

/// Watches a project's tasks folder and applies its changes to the index.
pub struct Watcher {
    root: PathBuf,
    tasks: PathBuf,
    inputs: PathBuf,
    work: PathBuf,
    sender: Sender<Message>,
    events: Receiver<Message>,
    notify: Option<RecommendedWatcher>,
    mode: Mode,
    /// The tasks folder is gone: the index holds no tasks until it is back.
    tasks_gone: bool,
    /// The last sync failed: sync everything again after a pause.
    retry: bool,
    _lock: WatchLock,
}

/// The paths of one batch, and whether they can be trusted.
#[derive(Default)]
struct Batch {
    paths: BTreeSet<String>,
    /// Events may have been missed: sync everything.
    full: bool,
    /// The tasks folder itself was created, removed or moved, and its watch with it.
    tasks_replaced: bool,
    /// The same of the inputs folder, or of the work folder.
    inputs_replaced: bool,
    work_replaced: bool,
    /// Watching a new folder failed, so events from it will be missed.
    lost_watch: Option<notify::Error>,
    warnings: Vec<String>,
}

impl Watcher {
    /// Becomes the index's one watcher and starts listening. Call this before the first sync,
    /// so that no change between the sync and the watch goes unseen.
    pub fn start(repo: &Repo, poll: bool) -> Result<Watcher> {
        let lock = repo.lock_watch()?;
        // Events name absolute paths; a canonical root makes them easy to relate to it.
        let root = repo
            .root()
            .canonicalize()
            .map_err(Error::io("open", repo.root()))?;
        let (sender, events) = mpsc::channel();
        let mut watcher = Watcher {
            tasks: root.join(TASKS_DIR),
            inputs: root.join(INPUTS_DIR),
            work: root.join(WORK_DIR),
            root,
            sender,
            events,
            notify: None,
            mode: Mode::Poll { reason: None },
            tasks_gone: false,
            retry: false,
            _lock: lock,
        };
        if !poll {
            match watcher.listen() {
                Ok(()) => watcher.mode = Mode::Notify,
                Err(e) => {
                    watcher.fall_back(&e);
                }
            }
        }
        Ok(watcher)
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    pub fn stopper(&self) -> Stopper {
        Stopper(self.sender.clone())
    }

    /// Starts the operating system's notifications: the root for the tasks, inputs and work
    /// folders themselves coming and going, the tasks folder and everything under it for the
    /// task files, the inputs folder (datasets are the files directly in it) and the work
    /// folder with its tasks' folders, when they exist.
    fn listen(&mut self) -> notify::Result<()> {
        let sender = self.sender.clone();
        // Links are not followed, as a scan does not follow them: nothing outside the
        // project is watched or read.
        let config = notify::Config::default().with_follow_symlinks(false);
        let mut notify = RecommendedWatcher::new(
            move |event| {
                let _ = sender.send(Message::Event(event));
            },
            config,
        )?;
        notify.watch(&self.root, RecursiveMode::NonRecursive)?;
        notify.watch(&self.tasks, RecursiveMode::Recursive)?;
        self.notify = Some(notify);
        self.watch_inputs()?;
        self.watch_work()
    }

    /// Watches the inputs folder, when there is one: its creation shows in the root's watch.
    fn watch_inputs(&mut self) -> notify::Result<()> {
        let inputs = self.inputs.clone();
        self.watch_if_there(&inputs, RecursiveMode::NonRecursive)
    }

    /// Watches the work folder and its tasks' folders, when there is one.
    fn watch_work(&mut self) -> notify::Result<()> {
        let work = self.work.clone();
        self.watch_if_there(&work, RecursiveMode::Recursive)
    }

    /// Watches a folder that may come and go: its creation shows in the root's watch.
    fn watch_if_there(&mut self, folder: &Path, mode: RecursiveMode) -> notify::Result<()> {
        let Some(notify) = &mut self.notify else {
            return Ok(());
        };
        // The old watch, if any, went with the old folder.
        let _ = notify.unwatch(folder);
        if !folder.is_dir() {
            return Ok(());
        }
        match notify.watch(folder, mode) {
            // Gone again since the look: its next creation shows in the root's watch.
            Err(e) if matches!(&e.kind, notify::ErrorKind::PathNotFound) => Ok(()),
            Err(e) if matches!(&e.kind, notify::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound) => {
                Ok(())
            }
            result => result,
        }
    }

    /// Watches the tasks folder again after it was replaced.
    fn rewatch(&mut self) -> notify::Result<()> {
        let Some(notify) = &mut self.notify else {
            return Ok(());
        };
        // The old watch went with the old folder; removing what is left of it may fail.
        let _ = notify.unwatch(&self.tasks);
        notify.watch(&self.tasks, RecursiveMode::Recursive)
    }

    fn fall_back(&mut self, error: &notify::Error) -> String {
        self.notify = None;
        let hint = match error.kind {
            notify::ErrorKind::MaxFilesWatch => {
                " (raise the limit with `sysctl fs.inotify.max_user_watches=524288`)"
            }
            _ => "",
        };
        let reason = format!(
            "cannot watch {} for changes: {error}{hint}; scanning it every {} ms instead",
            self.tasks.display(),
            POLL_INTERVAL.as_millis()
        );
        self.mode = Mode::Poll {
            reason: Some(reason.clone()),
        };
        reason
    }

    /// Applies changes as they come until stopped, reporting each batch. Returns once a
    /// [`Stopper`] asked, after applying the batch in flight; the index is then consistent.
    pub fn run(mut self, repo: &mut Repo, mut report: impl FnMut(&Repo, Report)) -> Result<()> {
        loop {
            let timeout = match self.mode {
                Mode::Poll { .. } => Some(POLL_INTERVAL),
                Mode::Notify if self.retry => Some(POLL_INTERVAL),
                Mode::Notify => None,
            };
            let first = match timeout {
                None => self.events.recv().ok(),
                Some(timeout) => match self.events.recv_timeout(timeout) {
                    Ok(message) => Some(message),
                    Err(RecvTimeoutError::Timeout) => {
                        let batch = Batch {
                            full: true,
                            ..Batch::default()
                        };
                        self.apply(repo, batch, &mut report);
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => None,
                },
            };
            // The watcher holds a sender itself, so the channel never closes under it.
            let Some(first) = first else { return Ok(()) };
            let (batch, stop) = self.collect(first);
            self.apply(repo, batch, &mut report);
            if stop {
                return Ok(());
            }
        }
    }

    /// Gathers events until they pause for [`QUIET`] or [`MAX_DELAY`] has passed since the
    /// first; also says whether a stop was asked for.
    fn collect(&self, first: Message) -> (Batch, bool) {
        let start = Instant::now();
        let mut batch = Batch::default();
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Stop => return (batch, true),
                Message::Event(event) => batch.add(event, &self.root),
            }
            let now = Instant::now();
            let wait = QUIET.min((start + MAX_DELAY).saturating_duration_since(now));
            next = self.events.recv_timeout(wait).ok();
        }
        (batch, false)
    }

    fn apply(&mut self, repo: &mut Repo, batch: Batch, report: &mut impl FnMut(&Repo, Report)) {
        for warning in batch.warnings {
            report(repo, Report::Warning(warning));
        }
        let mut full = batch.full || self.retry;
        if let Some(error) = batch.lost_watch
            && self.notify.is_some()
        {
            let reason = self.fall_back(&error);
            report(repo, Report::Warning(reason));
            full = true;
        }
        if !self.tasks.is_dir() {
            // The index is derived: with no folder it answers as a sync of an empty one would,
            // on every face, rather than serve tasks whose files are gone.
            if !self.tasks_gone {
                self.tasks_gone = true;
                report(
                    repo,
                    Report::Warning(format!(
                        "{} is missing; no tasks are served until it is back",
                        self.tasks.display()
                    )),
                );
            }
            full = true;
        } else if self.tasks_gone || batch.tasks_replaced {
            self.tasks_gone = false;
            if let Err(e) = self.rewatch() {
                let reason = self.fall_back(&e);
                report(repo, Report::Warning(reason));
            }
            full = true;
        }
        let rewatched = [
            batch.inputs_replaced.then(|| self.watch_inputs()),
            batch.work_replaced.then(|| self.watch_work()),
        ];
        if let Some(e) = rewatched.into_iter().flatten().find_map(Result::err) {
            let reason = self.fall_back(&e);
            report(repo, Report::Warning(reason));
            full = true;
        }
        let paths: Vec<String> = batch.paths.into_iter().collect();
        let result = if full {
            repo.sync()
        } else if !paths.is_empty() {
            repo.sync_paths(&paths)
        } else {
            return;
        };
        match result {
            Ok(summary) => {
                self.retry = false;
                report(repo, Report::Changed(&summary));
            }
            Err(e) => {
                self.retry = true;
                report(
                    repo,
                    Report::Warning(format!(
                        "{}; trying again in {} ms",
                        error_chain(&e),
                        POLL_INTERVAL.as_millis()
                    )),
                );
            }
        }
    }
}

impl Batch {
    fn add(&mut self, event: notify::Result<notify::Event>, root: &Path) {
        let event = match event {
            Ok(event) => event,
            // notify stops adding watches for new folders once the limit is reached.
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                self.lost_watch = Some(e);
                return;
            }
            Err(e) => {
                self.warnings
                    .push(format!("watching failed: {e}; reading every file again"));
                self.full = true;
                return;
            }
        };
        if event.need_rescan() {
            self.full = true;
        }
        let folder_event = match event.kind {
            // Opening and reading change nothing, and the sync itself reads files.
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => false,
            EventKind::Access(_) => return,
            EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Name(_)) => true,
            _ => false,
        };
        for path in &event.paths {
            let Some(path) = relative(root, path) else {
                // A name that is not UTF-8 cannot be synced alone; a full sync reports it.
                self.full |= [TASKS_DIR, INPUTS_DIR, WORK_DIR]
                    .iter()
                    .any(|dir| path.starts_with(root.join(dir)));
                continue;
            };
            if path == TASKS_DIR {
                self.tasks_replaced |= folder_event;
            } else if layout::in_tasks(&path) {
                self.paths.insert(path);
            } else if layout::in_inputs(&path) {
                self.inputs_replaced |= folder_event && path == INPUTS_DIR;
                self.paths.insert(path);
            } else if layout::in_work(&path) {
                self.work_replaced |= folder_event && path == WORK_DIR;
                self.paths.insert(path);
            }
        }
    }
}

/// `path` relative to `root`, with `/` between its parts, as the index names files.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = path
        .strip_prefix(root)
        .ok()?
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    Some(parts?.join("/"))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo;
    use notify::event::{CreateKind, DataChange, RemoveKind};

    /// Runs a watcher over a project with one unsynced task file, feeding it `events` as
    /// notify would, then a stop; returns what it reported.
    fn run_on(events: Vec<notify::Result<notify::Event>>) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        repo::init(dir.path()).unwrap();
        std::fs::write(
            dir.path().join("tasks/a.yaml"),
            "input_source: {type: ALL_INPUTS}\n",
        )
        .unwrap();
        let mut repo = Repo::open(dir.path(), None).unwrap();
        let watcher = Watcher::start(&repo, false).unwrap();
        assert_eq!(watcher.mode(), &Mode::Notify);
        for event in events {
            watcher.sender.send(Message::Event(event)).unwrap();
        }
        watcher.stopper().stop();
        let mut reports = Vec::new();
        watcher
            .run(&mut repo, |_, report| {
                reports.push(match report {
                    Report::Changed(summary) => format!("changed {:?}", summary.added),
                    Report::Warning(warning) => warning,
                })
            })
            .unwrap();
        reports
    }

    #[test]
    fn an_overflowing_queue_means_reading_everything() {
        let overflow = notify::Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan);
        assert_eq!(run_on(vec![Ok(overflow)]), [r#"changed ["a"]"#]);
    }

    #[test]
    fn running_out_of_watches_falls_back_to_polling() {
        // What notify sends when a new folder cannot be watched.
        let limit = notify::Error::new(notify::ErrorKind::MaxFilesWatch);
        let reports = run_on(vec![Err(limit)]);
        assert_eq!(reports.len(), 2, "{reports:?}");
        assert!(reports[0].contains("max_user_watches"), "{reports:?}");
        assert!(
            reports[0].contains("scanning it every 500 ms"),
            "{reports:?}"
        );
        assert_eq!(reports[1], r#"changed ["a"]"#, "everything is read again");
    }

    fn event(kind: EventKind, path: &str) -> notify::Result<notify::Event> {
        Ok(notify::Event::new(kind).add_path(PathBuf::from("/p").join(path)))
    }

    #[test]
    fn batches_keep_the_paths_a_sync_must_look_at() {
        let mut batch = Batch::default();
        let modify = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        batch.add(event(modify, "tasks/a.yaml"), Path::new("/p"));
        batch.add(event(modify, "tasks/a.yaml"), Path::new("/p"));
        batch.add(
            event(EventKind::Create(CreateKind::Folder), "tasks/team"),
            Path::new("/p"),
        );
        batch.add(event(modify, "tasks/.git/index"), Path::new("/p"));
        batch.add(event(modify, ".annotask/index.db"), Path::new("/p"));
        batch.add(
            event(
                EventKind::Access(AccessKind::Open(AccessMode::Any)),
                "tasks/b.yaml",
            ),
            Path::new("/p"),
        );
        batch.add(event(modify, "tasks"), Path::new("/p"));
        batch.add(event(modify, "inputs/birds.jsonl"), Path::new("/p"));
        batch.add(event(modify, "inputs/.birds.jsonl.swp"), Path::new("/p"));
        batch.add(event(modify, "inputs/team/birds.jsonl"), Path::new("/p"));
        assert_eq!(
            batch.paths.iter().collect::<Vec<_>>(),
            ["inputs/birds.jsonl", "tasks/a.yaml", "tasks/team"]
        );
        assert!(!batch.full && !batch.tasks_replaced && !batch.inputs_replaced);
        batch.add(
            event(EventKind::Create(CreateKind::Folder), "inputs"),
            Path::new("/p"),
        );
        assert!(batch.inputs_replaced);

        batch.add(
            event(EventKind::Remove(RemoveKind::Folder), "tasks"),
            Path::new("/p"),
        );
        assert!(batch.tasks_replaced);
    }
}
