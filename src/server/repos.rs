//! Open projects for the request handlers, and where a read's freshness comes from. Owns the
//! pool of [`Repo`]s (a SQLite connection is not shared between threads, and opening one per
//! request would prepare every statement anew) and the server's watcher thread; must not
//! know HTTP.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use std::thread::{self, JoinHandle};

use crate::error::{Error, Result};
use crate::layout::TASKS_DIR;
use crate::repo::Repo;
use crate::watch::{Stopper, Watcher};

/// More idle repos than this are closed: a burst of requests should not keep its connections.
const MAX_IDLE: usize = 16;

pub struct Repos {
    root: PathBuf,
    db: Option<PathBuf>,
    idle: Mutex<Vec<Repo>>,
    /// Whether a watcher keeps the index current; without one, reads sync first.
    watched: bool,
    /// Serialises the syncs of reads, so a burst of readers syncs once, not once each.
    syncing: Mutex<()>,
}

/// The watcher this server runs, if it runs one; dropping it stops the watcher once its batch
/// in flight is applied.
pub struct OwnWatcher {
    stopper: Stopper,
    thread: Option<JoinHandle<()>>,
}

impl Drop for OwnWatcher {
    fn drop(&mut self) {
        self.stopper.stop();
        if let Some(thread) = self.thread.take() {
            // A watcher thread that panicked has nothing left to finish.
            let _ = thread.join();
        }
    }
}

impl Repos {
    /// Opens the project, starts watching its task files (unless another process already
    /// does, which keeps the index just as current) and brings its index up to date, so that
    /// a missing tasks folder or a broken index fails at start rather than on the first
    /// request. Where the system cannot watch, reads sync first.
    pub fn open(
        root: &Path,
        db: Option<&Path>,
        warn: fn(&str),
    ) -> Result<(Repos, Option<OwnWatcher>)> {
        let mut repo = Repo::open(root, db)?;
        // Before the first sync, so that no change between the two goes unseen.
        let (watched, watcher) = match Watcher::start(&repo, false) {
            Ok(watcher) => (true, Some(watcher)),
            Err(Error::WatcherRunning { .. }) => (true, None),
            Err(e) => return Err(e),
        };
        repo.sync()?;
        let own = match watcher {
            Some(watcher) => {
                let stopper = watcher.stopper();
                let mut watching = Repo::open(root, db)?;
                let thread = thread::Builder::new()
                    .name("annotask-watch".into())
                    .spawn(move || {
                        // A failed batch is retried by the watcher itself.
                        let _ = watcher.run(&mut watching, |_, report| {
                            if let crate::watch::Report::Warning(message) = report {
                                warn(&message);
                            }
                        });
                    })
                    .map_err(Error::io("start a thread for", root.join(TASKS_DIR)))?;
                Some(OwnWatcher {
                    stopper,
                    thread: Some(thread),
                })
            }
            None => None,
        };
        let repos = Repos {
            root: root.to_owned(),
            db: db.map(Path::to_owned),
            idle: Mutex::new(vec![repo]),
            watched,
            syncing: Mutex::new(()),
        };
        Ok((repos, own))
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
