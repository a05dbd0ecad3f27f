//! The cross-process locks of a project's index: the write lock every writer holds, and the
//! watch lock the one watcher holds for its lifetime (with its pid, so that queries can tell
//! the index is being kept current). Must not read or write the project's files.

use std::fs::{File, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use super::Repo;
use crate::error::{Error, Result};

impl Repo {
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

    /// Serialises writers across processes: held until the returned file is dropped.
    pub(super) fn write_lock(&self) -> Result<File> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::init;

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
