//! Open projects for the request handlers, and where a read's freshness comes from. Owns the
//! pool of [`Repo`]s (a SQLite connection is not shared between threads, and opening one per
//! request would prepare every statement anew) and the server's watcher: its own, or, while
//! another process watches the project, a standby that takes over when that process goes
//! away. Must not know HTTP.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::layout::TASKS_DIR;
use crate::repo::Repo;
use crate::watch::{Stopper, Watcher};

/// More idle repos than this are closed: a burst of requests should not keep its connections.
const MAX_IDLE: usize = 16;

/// How often a server whose project another process watches checks that it still does.
const STANDBY_INTERVAL: Duration = Duration::from_millis(250);

pub struct Repos {
    root: PathBuf,
    db: Option<PathBuf>,
    idle: Mutex<Vec<Repo>>,
    /// Whether a watcher keeps the index current; without one, reads sync first.
    watched: bool,
    /// Serialises the syncs of reads, so a burst of readers syncs once, not once each.
    syncing: Mutex<()>,
}

/// The watching this server does: its own watcher, or a standby ready to become one. Dropping
/// it stops both, the watcher once its batch in flight is applied.
pub struct OwnWatcher {
    state: Arc<Watching>,
    standby: Option<JoinHandle<()>>,
}

struct Watching {
    stop: AtomicBool,
    running: Mutex<Option<Running>>,
}

/// A watcher thread this process runs.
struct Running {
    stopper: Stopper,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stopper.stop();
        if let Some(thread) = self.thread.take() {
            // A watcher thread that panicked has nothing left to finish.
            let _ = thread.join();
        }
    }
}

impl Drop for OwnWatcher {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        if let Some(standby) = self.standby.take() {
            let _ = standby.join();
        }
        lock(&self.state.running).take();
    }
}

impl OwnWatcher {
    /// Whether this process runs the project's watcher now.
    pub fn is_running(&self) -> bool {
        lock(&self.state.running).is_some()
    }
}

/// Runs `watcher` on its own thread, keeping `repo` current.
fn run_watcher(watcher: Watcher, mut repo: Repo, warn: fn(&str)) -> Result<Running> {
    let stopper = watcher.stopper();
    let root = repo.root().to_owned();
    let thread = thread::Builder::new()
        .name("annotask-watch".into())
        .spawn(move || {
            // A failed batch is retried by the watcher itself.
            let _ = watcher.run(&mut repo, |_, report| {
                if let crate::watch::Report::Warning(message) = report {
                    warn(&message);
                }
            });
        })
        .map_err(Error::io("start a thread for", root.join(TASKS_DIR)))?;
    Ok(Running {
        stopper,
        thread: Some(thread),
    })
}

impl Repos {
    /// Opens the project, starts watching its task files and brings its index up to date, so
    /// that a missing tasks folder or a broken index fails at start rather than on the first
    /// request. When another process already watches (which keeps the index just as current),
    /// a standby checks every [`STANDBY_INTERVAL`] that it still does, and takes over the
    /// watching, after a sync, when it has gone. Where the system cannot watch, reads sync
    /// first.
    pub fn open(root: &Path, db: Option<&Path>, warn: fn(&str)) -> Result<(Repos, OwnWatcher)> {
        let mut repo = Repo::open(root, db)?;
        // Before the first sync, so that no change between the two goes unseen.
        let watcher = match Watcher::start(&repo, false) {
            Ok(watcher) => Some(watcher),
            Err(Error::WatcherRunning { .. }) => None,
            Err(e) => return Err(e),
        };
        repo.sync()?;
        let state = Arc::new(Watching {
            stop: AtomicBool::new(false),
            running: Mutex::new(None),
        });
        let standby = match watcher {
            Some(watcher) => {
                *lock(&state.running) = Some(run_watcher(watcher, Repo::open(root, db)?, warn)?);
                None
            }
            None => Some(standby(Repo::open(root, db)?, state.clone(), warn)?),
        };
        let repos = Repos {
            root: root.to_owned(),
            db: db.map(Path::to_owned),
            idle: Mutex::new(vec![repo]),
            watched: true,
            syncing: Mutex::new(()),
        };
        Ok((repos, OwnWatcher { state, standby }))
    }

    /// A repo as the pool has it: enough for writes, whose path takes the project's write
    /// lock and syncs under it.
    pub fn checkout(&self) -> Result<Lease<'_>> {
        let repo = match lock(&self.idle).pop() {
            Some(repo) => repo,
            None => Repo::open(&self.root, self.db.as_deref())?,
        };
        Ok(Lease {
            repos: self,
            repo: Some(repo),
        })
    }

    /// A repo whose index answers for the files as they are now, edits made in an editor
    /// included: a watcher keeps it so, else a sync (one stat per file) comes first.
    pub fn fresh(&self) -> Result<Lease<'_>> {
        let mut lease = self.checkout()?;
        if !self.watched {
            let _one_at_a_time = lock(&self.syncing);
            lease.sync()?;
        }
        Ok(lease)
    }

    /// Whether a watcher keeps the index current, so that a read needs no sync first.
    pub fn watched(&self) -> bool {
        self.watched
    }

    /// How many work lines the replay warns about (not counted, or handed out twice).
    pub fn flagged_lines(&self) -> Result<usize> {
        let reports = self.checkout()?.work_warnings()?;
        Ok(reports.iter().map(|r| r.diagnostics.len()).sum())
    }

    /// How many task files the index holds as invalid (and so does not serve).
    pub fn invalid_files(&self) -> Result<usize> {
        Ok(self.checkout()?.reports(true)?.len())
    }
}

/// A repo on loan from the pool; dropping it gives it back.
pub struct Lease<'a> {
    repos: &'a Repos,
    repo: Option<Repo>,
}

impl Deref for Lease<'_> {
    type Target = Repo;
    fn deref(&self) -> &Repo {
        self.repo
            .as_ref()
            .expect("a lease holds its repo until dropped")
    }
}

impl DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Repo {
        self.repo
            .as_mut()
            .expect("a lease holds its repo until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut idle = lock(&self.repos.idle);
        if idle.len() < MAX_IDLE {
            idle.extend(self.repo.take());
        }
    }
}

/// A panic while a lock was held leaves nothing half-done here (the pool is a list, the sync
/// lock guards no data), so a poisoned lock is used as it is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits, on its own thread, for the process that watches the project to go away, then takes
/// over: syncs what changed meanwhile and watches from then on.
fn standby(mut repo: Repo, state: Arc<Watching>, warn: fn(&str)) -> Result<JoinHandle<()>> {
    let root = repo.root().to_owned();
    thread::Builder::new()
        .name("annotask-standby".into())
        .spawn(move || {
            while !state.stop.load(Ordering::Relaxed) {
                thread::sleep(STANDBY_INTERVAL);
                let watcher = match Watcher::start(&repo, false) {
                    Ok(watcher) => watcher,
                    Err(Error::WatcherRunning { .. }) => continue,
                    Err(e) => {
                        warn(&format!("cannot take over watching the project: {e}"));
                        continue;
                    }
                };
                if let Err(e) = repo.sync() {
                    warn(&format!("the sync before taking over watching failed: {e}"));
                }
                match run_watcher(watcher, repo, warn) {
                    Ok(running) => {
                        *lock(&state.running) = Some(running);
                        warn(&format!(
                            "the process that watched the project stopped; this server (pid {}) watches it now",
                            std::process::id()
                        ));
                    }
                    Err(e) => warn(&format!("cannot take over watching the project: {e}")),
                }
                return;
            }
        })
        .map_err(Error::io("start a thread for", root.join(TASKS_DIR)))
}
