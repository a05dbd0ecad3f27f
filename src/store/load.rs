//! Loading in bulk: dropping and rebuilding the secondary indexes around a large sync, and
//! loading an empty index into a new file that then replaces it, when no other connection has
//! it open. Must not decide what to load.

use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::{
    Journal, LOAD_CACHE_KIB, PendingLinks, Result, SCHEMA, Store, StoreError, Writer, connect,
    io_error, is_empty, secondary_indexes,
};

/// The lock file beside the index at `path` (see [`Store::load_fresh`]).
pub(super) fn open_lock_path(path: &Path) -> PathBuf {
    beside(path, ".open.lock")
}

/// `path` with `suffix` added to its file name.
pub(super) fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

pub(super) fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error("remove", path)(e)),
        _ => Ok(()),
    }
}

impl Store {
    /// Loads an empty index in a new file beside it, which then replaces it: `load` writes and
    /// commits as through [`Store::writer`], but with no WAL to write everything to first and
    /// to copy back afterwards (a third of a 100,000-file load). A failure or a crash leaves
    /// the index as it was, and the next load removes the half-written file.
    ///
    /// Returns `None`, without calling `load`, when the index is not empty or another
    /// connection has it open, since that connection would go on reading the replaced file;
    /// write through [`Store::writer`] then.
    pub fn load_fresh<T, E: From<StoreError>>(
        &mut self,
        load: impl FnOnce(Writer<'_>) -> Result<T, E>,
    ) -> Result<Option<T>, E> {
        if self.open_lock.is_none() || !is_empty(&self.conn)? || !self.lock_alone()? {
            return Ok(None);
        }
        // Another process may have written, and closed, since the first look.
        let loaded = match is_empty(&self.conn) {
            Ok(true) => self.load_new_file(load).map(Some),
            Ok(false) => Ok(None),
            Err(e) => Err(e.into()),
        };
        self.lock_shared()?;
        loaded
    }

    /// Trades this connection's shared lock for an exclusive one: true when no other
    /// connection is open. Otherwise the lock is shared again.
    pub(super) fn lock_alone(&self) -> Result<bool> {
        let Some(open_lock) = &self.open_lock else {
            return Ok(false);
        };
        // A lock cannot be upgraded in place.
        open_lock
            .unlock()
            .map_err(io_error("unlock", &open_lock_path(&self.path)))?;
        match open_lock.try_lock() {
            Ok(()) => Ok(true),
            Err(TryLockError::WouldBlock) => self.lock_shared().map(|()| false),
            Err(TryLockError::Error(e)) => {
                self.lock_shared()?;
                Err(io_error("lock", &open_lock_path(&self.path))(e))
            }
        }
    }

    pub(super) fn lock_shared(&self) -> Result<()> {
        let Some(open_lock) = &self.open_lock else {
            return Ok(());
        };
        open_lock
            .unlock()
            .and_then(|()| open_lock.lock_shared())
            .map_err(io_error("lock", &open_lock_path(&self.path)))
    }

    /// The body of [`Store::load_fresh`], while no other connection is open.
    pub(super) fn load_new_file<T, E: From<StoreError>>(
        &mut self,
        load: impl FnOnce(Writer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let new_path = beside(&self.path, ".load");
        remove_if_present(&new_path)?;
        let new = connect(&new_path, Journal::Off)?;
        new.execute_batch(SCHEMA).map_err(StoreError::from)?;
        let old = std::mem::replace(&mut self.conn, new);
        let loaded = Writer::begin(&self.conn)
            .map(|mut writer| {
                writer.new_file = Some(&new_path);
                writer
            })
            .map_err(E::from)
            .and_then(load);
        let new = std::mem::replace(&mut self.conn, old);
        drop(new);
        match loaded {
            Ok(value) => {
                self.replace_with(&new_path)?;
                Ok(value)
            }
            Err(e) => {
                // The error that stopped the load is the one to report.
                let _ = fs::remove_file(&new_path);
                Err(e)
            }
        }
    }

    /// Puts the database at `new_path` in place of the index and connects to it.
    pub(super) fn replace_with(&mut self, new_path: &Path) -> Result<()> {
        // On disk before it takes the index's place, so that a power cut leaves either index
        // whole. The load wrote without syncing; this is its one sync.
        File::open(new_path)
            .and_then(|file| file.sync_all())
            .map_err(io_error("sync", new_path))?;
        let old = std::mem::replace(&mut self.conn, Connection::open_in_memory()?);
        // As the last connection, closing checkpoints the old WAL and removes it; a WAL left
        // beside the new file would be read as the new file's.
        let replaced = old
            .close()
            .map_err(|(_, e)| StoreError::from(e))
            .and_then(|()| remove_if_present(&beside(&self.path, "-wal")))
            .and_then(|()| remove_if_present(&beside(&self.path, "-shm")))
            .and_then(|()| {
                fs::rename(new_path, &self.path).map_err(io_error("replace", &self.path))
            });
        self.conn = connect(&self.path, Journal::Wal)?;
        replaced
    }
}

impl Writer<'_> {
    /// True when the index held no task and no file as the transaction began: nothing in it
    /// is older than this transaction, and a sync can bulk-load.
    pub fn is_fresh(&self) -> bool {
        self.fresh
    }

    /// Drops the secondary indexes for a bulk load and keeps the links the load writes;
    /// [`Writer::end_bulk_load`] writes the links in key order and builds the indexes again,
    /// which is faster than maintaining them row by row. `tasks` is how many tasks the load
    /// may insert, at most: room is made for their ids once.
    pub fn begin_bulk_load(&mut self, tasks: usize) -> Result<()> {
        self.pending = Some(PendingLinks::new(tasks));
        for line in secondary_indexes().lines() {
            if let Some(name) = line
                .strip_prefix("CREATE INDEX ")
                .and_then(|l| l.split_whitespace().next())
            {
                self.conn
                    .execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
            }
        }
        Ok(())
    }

    /// In a load into a new file, starts putting what is written so far on disk while the
    /// load goes on, which leaves the sync that ends the load a fraction to do. A failure
    /// shows again in that sync, which reports it.
    pub fn sync_behind(&self) {
        if let Some(path) = self.new_file {
            let path = path.to_owned();
            std::thread::spawn(move || File::open(path).and_then(|file| file.sync_data()));
        }
    }

    pub fn end_bulk_load(&mut self) -> Result<()> {
        if let Some(pending) = self.pending.take() {
            pending.write(self.conn, &mut self.links)?;
        }
        // The threads that read the files are done: SQLite's sorter may use their cores.
        let helpers = crate::cores::cores() - 1;
        let cache: i64 = self
            .conn
            .pragma_query_value(None, "cache_size", |r| r.get(0))?;
        self.conn.pragma_update(None, "threads", helpers as i64)?;
        self.conn
            .pragma_update(None, "cache_size", LOAD_CACHE_KIB)?;
        // The tables are written by now.
        self.sync_behind();
        self.conn.execute_batch(secondary_indexes())?;
        self.conn.pragma_update(None, "cache_size", cache)?;
        Ok(self.conn.pragma_update(None, "threads", 0)?)
    }
}
