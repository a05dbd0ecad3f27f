//! The only module that knows SQLite. Owns the index's schema (`schema.sql`), its queries and
//! its write transactions; must not print, exit, or read task files: it stores what
//! [`crate::sync`] decided.
//!
//! The index is derived from the files, so a schema version change drops and rebuilds it
//! instead of migrating. Every writer takes an IMMEDIATE transaction and every connection
//! waits on a busy timeout, so a CLI command and a running watcher share the file safely.
//! An empty index is loaded into a new file instead, when no other connection has it open
//! (see [`Store::load_fresh`]).
//!
//! By table family: `file_rows` (the task files and their diagnostics), `tasks`, `datasets`
//! (dataset files and their inputs), `plans` (each task's stored plan and moves),
//! `work_events` (work files, events, derived states, counts), `queues` (what the work
//! queues read: a worker's open rows, where their walk may start), and `load` (a bulk load, and
//! an empty index loaded into a new file that replaces it).

mod datasets;
mod export;
mod file_rows;
mod load;
mod plans;
mod queues;
mod tasks;
mod work_events;

pub use datasets::{DatasetFileState, InputText, InputsChange};
pub use export::{DatasetPlaces, WorkRow, entry_data};
pub use file_rows::{FileState, KnownFile, KnownFiles};
pub use tasks::{Change, ListQuery, NewFile, Previous, TaskRow};
pub use work_events::{
    AnnotationFilter, AnnotationRow, CountDeltas, CountRow, Counted, Entry, HeldRow, WorkFileState,
    user_events,
};

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, Statement, TransactionBehavior};

const SCHEMA: &str = include_str!("../../schema.sql");

/// A connection's page cache, as SQLite's `cache_size` takes it (negative: in KiB).
const CACHE_KIB: i64 = -8 * 1024;
/// The page cache of a bulk load. It appends to every B-tree, so a small cache holds all it
/// works on (8 MiB was no faster); and the sorting threads that build the indexes afterwards
/// each hold up to a cache of rows before writing a sorted run to a temporary file, which
/// costs nothing measurable here. 12 MiB less at the peak of a 100,000-file load.
const LOAD_CACHE_KIB: i64 = -2 * 1024;

/// How long a connection waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the index database failed")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "the index holds a task body that is not valid JSON (task `{0}`); delete the index to rebuild it"
    )]
    CorruptBody(String),
    #[error("cannot {action} `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("the index `{}` cannot be written", .0.display())]
    ReadOnly(PathBuf),
}

/// Whether an I/O error says this process may not write there.
pub fn cannot_write(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}

impl StoreError {
    /// Whether the index could not be opened only because this process may not write there:
    /// a read-only folder, file or file system.
    pub fn is_read_only(&self) -> bool {
        use rusqlite::ErrorCode::{CannotOpen, PermissionDenied, ReadOnly};
        match self {
            StoreError::ReadOnly(_) => true,
            StoreError::Io { source, .. } => cannot_write(source),
            StoreError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(ReadOnly | CannotOpen | PermissionDenied)
            ),
            StoreError::CorruptBody(_) => false,
        }
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_owned();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The index: a connection to its SQLite file (or an index in memory), derived from the files.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Held shared while this index is open, and exclusively while [`Store::load_fresh`]
    /// replaces the file, which must not happen under another connection. `None` for an
    /// index in memory, which has no file.
    open_lock: Option<File>,
}

fn schema_version() -> i64 {
    SCHEMA
        .split("PRAGMA user_version = ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|v| v.trim().parse().ok())
        .expect("schema.sql sets PRAGMA user_version")
}

fn secondary_indexes() -> &'static str {
    SCHEMA.split("-- [indexes]").nth(1).unwrap_or_default()
}

/// How a connection writes.
#[derive(Clone, Copy)]
enum Journal {
    /// The index in use: readers beside one writer, and a crash loses no committed write.
    Wal,
    /// A new file no one else reads until it is complete: nothing to share or to recover, so
    /// no journal and no syncs.
    Off,
}

fn connect(path: &Path, journal: Journal) -> Result<Connection> {
    let conn = Connection::open(path)?;
    // SQLite opens a file it may not write read-only, and says so only at the first write.
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        return Err(StoreError::ReadOnly(path.to_owned()));
    }
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Takes effect in a new file only. A task's row is about a kilobyte, three to a default
    // page of 4 KiB: with 16 KiB pages a load allocates, splits and writes a quarter as many
    // (a tenth less CPU for a 20,000-file load, a sixth at 100,000), and a query reads no more
    // pages.
    conn.pragma_update(None, "page_size", 16384)?;
    // A sync uses a few dozen statements per file; the default cache of 16 would re-prepare
    // them over and over.
    conn.set_prepared_statement_cache_capacity(64);
    // Room for the B-trees a sync through the WAL updates at once (16 MiB cost more memory and
    // saved no time); a load into a new file only appends and needs little.
    let cache = match journal {
        Journal::Wal => CACHE_KIB,
        Journal::Off => LOAD_CACHE_KIB,
    };
    conn.pragma_update(None, "cache_size", cache)?;
    // The bundled SQLite has STAT4, which re-prepares a statement whenever a new value is
    // bound to a parameter that might change its plan: twice per file in a sync. The index's
    // plans never depend on values, so pin them.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    match journal {
        Journal::Wal => {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            // WAL with NORMAL loses at most the last transactions on power loss, never
            // consistency; the files are the truth and the next sync re-reads them.
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        Journal::Off => {
            conn.pragma_update(None, "journal_mode", "OFF")?;
            conn.pragma_update(None, "synchronous", "OFF")?;
        }
    }
    Ok(conn)
}

/// The key of a user id, interned on first use; `known` remembers the keys seen so far.
fn user_key(conn: &Connection, known: &mut HashMap<String, i64>, user: &str) -> Result<i64> {
    if let Some(key) = known.get(user) {
        return Ok(*key);
    }
    let key: i64 = conn
        .prepare_cached(
            "INSERT INTO users (id) VALUES (?1) ON CONFLICT (id) DO UPDATE SET id = id RETURNING key",
        )?
        .query_row([user], |r| r.get(0))?;
    known.insert(user.to_owned(), key);
    Ok(key)
}

/// The key of the dataset whose id is `id`.
fn dataset_key(conn: &Connection, id: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT key FROM datasets WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

fn is_empty(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM files) AND NOT EXISTS (SELECT 1 FROM tasks)
             AND NOT EXISTS (SELECT 1 FROM dataset_files) AND NOT EXISTS (SELECT 1 FROM datasets)",
        [],
        |r| r.get(0),
    )?)
}

impl Store {
    /// Opens the index at `path`, creating it, or rebuilding it empty when it was made by
    /// another schema version.
    pub fn open(path: &Path) -> Result<Store> {
        let open_lock_path = load::open_lock_path(path);
        let open_lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&open_lock_path)
            .map_err(io_error("open", &open_lock_path))?;
        // Waits while another process loads the index into a new file.
        open_lock
            .lock_shared()
            .map_err(io_error("lock", &open_lock_path))?;
        let mut index = Store {
            conn: connect(path, Journal::Wal)?,
            path: path.to_owned(),
            open_lock: Some(open_lock),
        };
        let version: i64 = index
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version != schema_version() {
            index.rebuild_schema()?;
        }
        Ok(index)
    }

    /// An empty index in memory, for a project whose index folder this process may not
    /// write: a full sync fills it, and it is gone when the command ends.
    pub fn open_in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn,
            path: PathBuf::from(":memory:"),
            open_lock: None,
        })
    }

    fn rebuild_schema(&mut self) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have rebuilt it while we waited for the lock.
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version != schema_version() {
            let tables: Vec<String> = tx
                .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for table in tables {
                tx.execute_batch(&format!("DROP TABLE \"{table}\""))?;
            }
            tx.execute_batch(SCHEMA)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Starts the one write transaction of a sync or a write command.
    pub fn writer(&mut self) -> Result<Writer<'_>> {
        Writer::begin(&self.conn)
    }
}

/// One IMMEDIATE write transaction. Dropped without [`Writer::commit`], it rolls back.
///
/// It holds the statements a sync runs for every file, prepared once: through the statement
/// cache, looking them up cost a fifth of a bulk load.
pub struct Writer<'c> {
    conn: &'c Connection,
    /// The index held no file and no task when the transaction began.
    fresh: bool,
    users: HashMap<String, i64>,
    /// Rows of `files`, and of `tasks`: one at a time, or a bulk load's new files together
    /// ([`Writer::insert_new_files`]).
    file_rows: RowInserts<'c>,
    task_rows: RowInserts<'c>,
    insert_input: Statement<'c>,
    /// task_workers, then task_reviewers.
    links: [RowInserts<'c>; 2],
    /// During a bulk load, the links not yet written.
    pending: Option<PendingLinks>,
    /// The file of a load into a new file (see [`Store::load_fresh`]).
    new_file: Option<&'c Path>,
    committed: bool,
}

/// A link: the user's key, the task's id and the task's key.
type Link<'a> = (i64, &'a str, i64);

/// Inserts rows into one table, many rows a statement: a statement per row cost a fifth more
/// instructions for links (callgrind, a bulk load of 10,000 tasks), and a third more time for
/// a bulk load's task and file rows.
struct RowInserts<'c> {
    /// `INSERT INTO table (columns)`.
    head: &'static str,
    /// One row's values: `(?, ?, 0)`.
    row: &'static str,
    /// The statement inserting `n + 1` rows, once prepared.
    by_count: Vec<Option<Statement<'c>>>,
}

impl<'c> RowInserts<'c> {
    /// More rows than this take several statements.
    const MAX_ROWS: usize = 64;

    fn new(head: &'static str, row: &'static str) -> RowInserts<'c> {
        RowInserts {
            head,
            row,
            by_count: Vec::new(),
        }
    }

    /// Inserts `rows`, each bound by `bind` from the statement's parameter `first` on.
    fn insert<R>(
        &mut self,
        conn: &'c Connection,
        rows: &[R],
        bind: impl Fn(&mut Statement<'c>, usize, &R) -> Result<()>,
    ) -> Result<()> {
        let params = self.row.matches('?').count();
        for rows in rows.chunks(Self::MAX_ROWS) {
            let n = rows.len();
            if self.by_count.len() < n {
                self.by_count.resize_with(n, || None);
            }
            let stmt = match &mut self.by_count[n - 1] {
                Some(stmt) => stmt,
                empty => {
                    let sql = format!("{} VALUES {}", self.head, vec![self.row; n].join(", "));
                    empty.insert(conn.prepare(&sql)?)
                }
            };
            for (i, row) in rows.iter().enumerate() {
                bind(stmt, params * i + 1, row)?;
            }
            stmt.raw_execute()?;
        }
        Ok(())
    }

    /// Inserts links into a link table.
    fn insert_links(&mut self, conn: &'c Connection, links: &[Link<'_>]) -> Result<()> {
        self.insert(conn, links, |stmt, first, (user, id, task)| {
            stmt.raw_bind_parameter(first, user)?;
            stmt.raw_bind_parameter(first + 1, id)?;
            Ok(stmt.raw_bind_parameter(first + 2, task)?)
        })
    }
}

/// The links a bulk load keeps until its end, when it writes them in key order. A link table
/// is keyed by user and task id, so links written task by task land in the middle of it (at
/// the end of each user's run), and each split there rewrites three pages; appended in order,
/// every page is written once (a fifth of a 100,000-file load was link inserts and an index
/// built by sorting them again).
#[derive(Default)]
struct PendingLinks {
    /// Per link table: the user's key in the high half, the task's in the low one.
    links: [Vec<u64>; 2],
    /// The ids of the tasks inserted, one after another, task key `k` ending at `ends[k - 1]`:
    /// the link rows name them, and reading them back from the index cost a sixth of the
    /// links' time.
    ids: String,
    ends: Vec<u32>,
    /// Whether each task was inserted after every task with a smaller id, as a load in file
    /// name order inserts them: then task keys are in id order already.
    ascending: bool,
    /// The keys of the tasks deleted since they were inserted (a conflict found later in the
    /// load), whose links are not written.
    deleted: HashSet<u32>,
}

impl PendingLinks {
    /// Room for the ids of `tasks` tasks, at the length of the ids annotask makes: grown by
    /// doubling, the buffers held up to twice what they use at the load's peak.
    fn new(tasks: usize) -> PendingLinks {
        PendingLinks {
            ids: String::with_capacity(tasks * 32),
            ends: Vec::with_capacity(tasks),
            ascending: true,
            ..PendingLinks::default()
        }
    }

    /// The key of a new task: a bulk load numbers tasks itself, from 1, so that a key is never
    /// given again after its task is deleted and the links kept for it cannot be taken for
    /// another task's.
    fn add_task(&mut self, id: &str) -> Result<i64> {
        let last = self.ends.len().checked_sub(1).map(|at| self.id(at));
        self.ascending &= last.is_none_or(|last| last < id);
        let end = self.ids.len() + id.len();
        let end = u32::try_from(end)
            .map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, end as i64))?;
        self.ids.push_str(id);
        self.ends.push(end);
        Ok(self.ends.len() as i64)
    }

    fn delete_task(&mut self, key: i64) {
        self.deleted.extend(u32::try_from(key));
    }

    /// The id of the task at `at` in insertion order (key `at + 1`).
    fn id(&self, at: usize) -> &str {
        let start = at
            .checked_sub(1)
            .map_or(0, |before| self.ends[before] as usize);
        &self.ids[start..self.ends[at] as usize]
    }

    /// Keeps a link of table `table` (0: task_workers, 1: task_reviewers).
    fn keep(&mut self, table: usize, user: i64, task: i64) -> Result<()> {
        let narrow = |key: i64| {
            u32::try_from(key).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, key))
        };
        self.links[table].push(u64::from(narrow(user)?) << 32 | u64::from(narrow(task)?));
        Ok(())
    }

    /// Writes the links in key order, but those of tasks deleted since.
    fn write<'c>(mut self, conn: &'c Connection, inserts: &mut [RowInserts<'c>; 2]) -> Result<()> {
        // Each task's place in id order stands in for its key while the links are sorted.
        let by_id: Option<Vec<u32>> = (!self.ascending).then(|| {
            let mut order: Vec<u32> = (0..self.ends.len() as u32).collect();
            order.sort_unstable_by(|a, b| self.id(*a as usize).cmp(self.id(*b as usize)));
            order
        });
        let places: Option<Vec<u32>> = by_id.as_ref().map(|order| {
            let mut places = vec![0; order.len()];
            for (place, at) in order.iter().enumerate() {
                places[*at as usize] = place as u32;
            }
            places
        });
        // Where the task with key `key` is in insertion order, and back.
        let at_of_key = |key: u64| (key as u32 - 1) as usize;
        let place_of = |at: usize| places.as_ref().map_or(at as u32, |p| p[at]);
        let at_of_place = |place: u32| by_id.as_ref().map_or(place, |o| o[place as usize]) as usize;
        let [workers, reviewers] = std::mem::take(&mut self.links).map(|mut links| {
            if !self.deleted.is_empty() {
                links.retain(|link| !self.deleted.contains(&(*link as u32)));
            }
            for link in &mut links {
                *link = *link & !u64::from(u32::MAX) | u64::from(place_of(at_of_key(*link)));
            }
            links
        });
        // The two tables' links sort at once, on two cores where there are.
        let sorted = std::thread::scope(|scope| {
            let reviewers = scope.spawn(move || {
                let mut links = reviewers;
                links.sort_unstable();
                links
            });
            let mut workers = workers;
            workers.sort_unstable();
            [workers, reviewers.join().expect("sorting does not panic")]
        });
        for (inserts, links) in inserts.iter_mut().zip(sorted) {
            let mut rows = Vec::with_capacity(RowInserts::MAX_ROWS);
            for chunk in links.chunks(RowInserts::MAX_ROWS) {
                rows.clear();
                rows.extend(chunk.iter().map(|link| {
                    let at = at_of_place(*link as u32);
                    ((link >> 32) as i64, self.id(at), at as i64 + 1)
                }));
                inserts.insert_links(conn, &rows)?;
            }
        }
        Ok(())
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if !self.committed {
            // Nothing to report to: the caller already has the error that stopped it.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl<'c> Writer<'c> {
    fn begin(conn: &'c Connection) -> Result<Writer<'c>> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut writer = Writer {
            conn,
            fresh: false,
            users: HashMap::new(),
            file_rows: RowInserts::new(
                "INSERT OR REPLACE INTO files (path, size, mtime_ns, claim, errors, warnings, conflict)",
                "(?, ?, ?, ?, ?, ?, 0)",
            ),
            task_rows: RowInserts::new(
                "INSERT INTO tasks (key, id, file, json, proto, source, source_id)",
                "(?, ?, ?, ?, ?, ?, ?)",
            ),
            insert_input: conn
                .prepare("INSERT INTO inputs (dataset, id, line, len) VALUES (?1, ?2, ?3, ?4)")?,
            links: [
                RowInserts::new("INSERT INTO task_workers (user, id, task)", "(?, ?, ?)"),
                RowInserts::new("INSERT INTO task_reviewers (user, id, task)", "(?, ?, ?)"),
            ],
            pending: None,
            new_file: None,
            committed: false,
        };
        writer.fresh = is_empty(conn)?;
        Ok(writer)
    }

    pub fn commit(mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT")?;
        self.committed = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::load::beside;
    use super::*;
    use crate::validate::Diagnostic;
    use std::fs;

    /// An empty index in a folder of its own.
    fn index() -> (tempfile::TempDir, PathBuf, Store) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.db");
        let index = Store::open(&path).unwrap();
        (dir, path, index)
    }

    fn journal_mode(path: &Path) -> String {
        Connection::open(path)
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_fresh_load_replaces_the_index_file() {
        let (_dir, path, mut index) = index();
        // Left by a load that crashed.
        fs::write(beside(&path, ".load"), "half a database").unwrap();
        #[cfg(unix)]
        let inode = || std::os::unix::fs::MetadataExt::ino(&fs::metadata(&path).unwrap());
        #[cfg(unix)]
        let before = inode();

        let loaded = index.load_fresh(|mut writer| {
            writer.put_file("tasks/a.yaml", 1, 1, Some("a"), &[])?;
            writer.commit()
        });
        assert!(matches!(loaded, Ok(Some(()))), "{loaded:?}");

        #[cfg(unix)]
        assert_ne!(inode(), before, "a new file took the index's place");
        assert!(!beside(&path, ".load").exists());
        assert_eq!(journal_mode(&path), "wal");
        assert_eq!(index.claimants("a").unwrap(), ["tasks/a.yaml"]);
        let other = Store::open(&path).unwrap();
        assert_eq!(other.claimants("a").unwrap(), ["tasks/a.yaml"]);
        // Only an empty index is loaded afresh.
        drop(other);
        assert!(index.load_fresh(|w| w.commit()).unwrap().is_none());
    }

    #[test]
    fn known_files_come_back_in_path_order_as_written() {
        let (_dir, _path, mut index) = index();
        assert_eq!(index.known_files().unwrap().iter().count(), 0);
        let error = [Diagnostic::error("name", "is missing")];
        let mut writer = index.writer().unwrap();
        writer
            .put_file("tasks/b.yaml", 20, -2, None, &error)
            .unwrap();
        writer
            .put_file("tasks/a/c.yaml", 30, 3, Some("c"), &[])
            .unwrap();
        writer
            .put_file("tasks/a.yaml", 10, 1, Some("id-a"), &[])
            .unwrap();
        writer.commit().unwrap();
        let file = |path, size, mtime_ns, claim, invalid| KnownFile {
            path,
            size,
            mtime_ns,
            claim,
            conflict: false,
            invalid,
        };
        let known = index.known_files().unwrap();
        assert_eq!(
            known.iter().collect::<Vec<_>>(),
            [
                file("tasks/a.yaml", 10, 1, Some("id-a"), false),
                file("tasks/a/c.yaml", 30, 3, Some("c"), false),
                file("tasks/b.yaml", 20, -2, None, true),
            ]
        );
    }

    #[test]
    fn no_fresh_load_under_another_connection() {
        let (_dir, path, mut index) = index();
        let other = Store::open(&path).unwrap();
        assert!(index.load_fresh(|w| w.commit()).unwrap().is_none());
        // The lock is shared again: more connections may open.
        let third = Store::open(&path).unwrap();
        drop((other, third));
        assert!(index.load_fresh(|w| w.commit()).unwrap().is_some());
    }

    #[test]
    fn a_failed_fresh_load_leaves_the_index_as_it_was() {
        let (_dir, path, mut index) = index();
        let failed = index.load_fresh(|mut writer| {
            writer.put_file("tasks/a.yaml", 1, 1, Some("a"), &[])?;
            Err::<(), _>(StoreError::CorruptBody("a".into()))
        });
        assert!(
            matches!(failed, Err(StoreError::CorruptBody(_))),
            "{failed:?}"
        );
        assert!(!beside(&path, ".load").exists());
        assert!(index.claimants("a").unwrap().is_empty());
        assert_eq!(journal_mode(&path), "wal");
        drop(Store::open(&path).unwrap());
    }
}
