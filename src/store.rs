//! The only module that knows SQLite. Owns the index's schema (`schema.sql`), its queries and
//! its write transactions; must not print, exit, or read task files: it stores what
//! [`crate::sync`] decided.
//!
//! The index is derived from the files, so a schema version change drops and rebuilds it
//! instead of migrating. Every writer takes an IMMEDIATE transaction and every connection
//! waits on a busy timeout, so a CLI command and a running watcher share the file safely.
//! An empty index is loaded into a new file instead, when no other connection has it open
//! (see [`Index::load_fresh`]).

mod work;

pub use work::{
    AnnotationFilter, AnnotationRow, CountDeltas, CountRow, Counted, Entry, HeldRow, WorkFileState,
};

use std::collections::HashMap;
use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, Statement, TransactionBehavior, params};

use crate::assign::{self, Move, Sample};
use crate::inputs::{self, Dataset, InputRow};
use crate::model::Task;
use crate::plans::{ReviewPlan, Source, TaskPlan};
use crate::validate::{Diagnostic, Location, Report, Severity};

const SCHEMA: &str = include_str!("../schema.sql");

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

/// What the index remembers of a task file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub size: u64,
    pub mtime_ns: i64,
    pub claim: Option<String>,
    pub conflict: bool,
    /// Whether the file had an error when last read.
    pub invalid: bool,
}

impl FileState {
    /// This state as the index's row for the file at `path`.
    pub fn at<'a>(&'a self, path: &'a str) -> KnownFile<'a> {
        KnownFile {
            path,
            size: self.size,
            mtime_ns: self.mtime_ns,
            claim: self.claim.as_deref(),
            conflict: self.conflict,
            invalid: self.invalid,
        }
    }
}

/// A row of the index's file table, borrowed from it: a sync compares 100,000 of them with
/// the disk and copies only the few that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownFile<'a> {
    pub path: &'a str,
    pub size: u64,
    pub mtime_ns: i64,
    pub claim: Option<&'a str>,
    pub conflict: bool,
    pub invalid: bool,
}

impl KnownFile<'_> {
    pub fn state(&self) -> FileState {
        FileState {
            size: self.size,
            mtime_ns: self.mtime_ns,
            claim: self.claim.map(str::to_owned),
            conflict: self.conflict,
            invalid: self.invalid,
        }
    }
}

/// Every file the index knows, in path order, packed into two allocations: at 100,000 files
/// about 12 MiB, where a string of its own for every path and claim took 15 MiB in 200,000
/// allocations.
#[derive(Debug)]
pub struct KnownFiles {
    /// Each file's path, then its claim.
    text: String,
    files: Vec<PackedFile>,
}

#[derive(Debug)]
struct PackedFile {
    /// Where the path ends in `text`; it starts where the file before ends.
    path_end: usize,
    claim_len: Option<u32>,
    size: u64,
    mtime_ns: i64,
    conflict: bool,
    invalid: bool,
}

impl KnownFiles {
    /// Room for `count` files, so that the lists are not moved as they grow. Memory reserved
    /// but not written costs nothing, so the text has room for long paths and claims.
    fn with_capacity(count: usize) -> KnownFiles {
        KnownFiles {
            text: String::with_capacity(count * 128),
            files: Vec::with_capacity(count),
        }
    }

    fn push(&mut self, file: KnownFile<'_>) {
        self.text.push_str(file.path);
        let path_end = self.text.len();
        let claim_len = file.claim.map(|claim| {
            self.text.push_str(claim);
            claim.len() as u32
        });
        self.files.push(PackedFile {
            path_end,
            claim_len,
            size: file.size,
            mtime_ns: file.mtime_ns,
            conflict: file.conflict,
            invalid: file.invalid,
        });
    }

    pub fn iter(&self) -> impl Iterator<Item = KnownFile<'_>> {
        let mut start = 0;
        self.files.iter().map(move |file| {
            let path = &self.text[start..file.path_end];
            let claim_end = file.path_end + file.claim_len.unwrap_or(0) as usize;
            let claim = file.claim_len.map(|_| &self.text[file.path_end..claim_end]);
            start = claim_end;
            KnownFile {
                path,
                size: file.size,
                mtime_ns: file.mtime_ns,
                claim,
                conflict: file.conflict,
                invalid: file.invalid,
            }
        })
    }
}

/// What the index keeps of a valid task: its canonical JSON and its protobuf, each served as
/// is by its face, and the ids the link tables index. Made where the file is read, so that
/// the inserting thread receives only this and not the whole document.
#[derive(Debug)]
pub struct TaskRow {
    pub id: String,
    pub json: String,
    pub proto: Vec<u8>,
    pub workers: Vec<String>,
    pub reviewers: Vec<String>,
}

impl TaskRow {
    pub fn new(task: &Task) -> TaskRow {
        TaskRow {
            id: task.id().to_owned(),
            json: serde_json::to_string(task).expect("tasks always serialise"),
            proto: crate::proto::encode_task(task),
            workers: task.worker_ids().to_vec(),
            reviewers: task.reviewer_ids().to_vec(),
        }
    }
}

/// What the index remembers of a dataset file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetFileState {
    pub size: u64,
    pub mtime_ns: i64,
    /// Another file defined the same dataset when it was last seen.
    pub conflict: bool,
    /// Whether the file had an error when last read.
    pub invalid: bool,
}

/// How writing a dataset's inputs changed them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputsChange {
    pub added: u64,
    pub removed: u64,
    /// Inputs whose line moved or changed (same id).
    pub moved: u64,
}

/// What writing a task did to the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Updated,
    Unchanged,
}

/// A task's row as it was before a write replaced it, so that the write can be undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    pub file: String,
    pub json: String,
}

/// The API's ListTasks filters. Filters combine with AND; the ids within one filter with OR.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub worker_user_ids: Vec<String>,
    pub review_user_ids: Vec<String>,
    pub ids: Vec<String>,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

pub struct Index {
    conn: Connection,
    path: PathBuf,
    /// Held shared while this index is open, and exclusively while [`Index::load_fresh`]
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

/// The lock file beside the index at `path` (see [`Index::load_fresh`]).
fn open_lock_path(path: &Path) -> PathBuf {
    beside(path, ".open.lock")
}

/// `path` with `suffix` added to its file name.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error("remove", path)(e)),
        _ => Ok(()),
    }
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

/// The key of the row of `table` (`tasks`, `datasets`) whose id is `id`.
fn key_of(conn: &Connection, table: &str, id: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(&format!("SELECT key FROM {table} WHERE id = ?1"))?
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

/// The forms of a task the index stores, each served as it is by one face.
#[derive(Clone, Copy)]
enum Face {
    Json,
    Proto,
}

impl Face {
    fn column(self) -> &'static str {
        match self {
            Face::Json => "json",
            Face::Proto => "proto",
        }
    }
}

/// The `key, id` of every task matching `query`'s filters (not its page), and the
/// statement's arguments.
fn matching(query: &ListQuery) -> (String, Vec<&str>) {
    let marks = |n: usize| vec!["?"; n].join(", ");
    // Whose tasks: one user is `= ?`, so the page comes off the link table's primary key in id
    // order; several need a set.
    let users = |n: usize| match n {
        1 => "= (SELECT key FROM users WHERE id = ?)".to_owned(),
        n => format!("IN (SELECT key FROM users WHERE id IN ({}))", marks(n)),
    };
    let mut base = None;
    let mut filters = Vec::new();
    let mut args: Vec<&str> = Vec::new();
    for (table, ids) in [
        ("task_workers", &query.worker_user_ids),
        ("task_reviewers", &query.review_user_ids),
    ] {
        if ids.is_empty() {
            continue;
        }
        let who = users(ids.len());
        if base.is_none() {
            let distinct = if ids.len() > 1 { "DISTINCT" } else { "" };
            base = Some(format!(
                "SELECT {distinct} task AS key, id FROM {table} WHERE user {who}"
            ));
        } else {
            filters.push(format!(
                "key IN (SELECT task FROM {table} WHERE user {who})"
            ));
        }
        args.extend(ids.iter().map(String::as_str));
    }
    if !query.ids.is_empty() {
        filters.push(format!("id IN ({})", marks(query.ids.len())));
        args.extend(query.ids.iter().map(String::as_str));
    }
    let base = base.unwrap_or_else(|| "SELECT key, id FROM tasks".to_owned());
    let filters = if filters.is_empty() {
        "1".to_owned()
    } else {
        filters.join(" AND ")
    };
    (
        format!("SELECT key, id FROM ({base}) WHERE {filters}"),
        args,
    )
}

impl Index {
    /// Opens the index at `path`, creating it, or rebuilding it empty when it was made by
    /// another schema version.
    pub fn open(path: &Path) -> Result<Index> {
        let open_lock_path = open_lock_path(path);
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
        let mut index = Index {
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
    pub fn open_in_memory() -> Result<Index> {
        let conn = Connection::open_in_memory()?;
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch(SCHEMA)?;
        Ok(Index {
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

    /// Every file the index knows: a sync compares them with the disk to find the few that
    /// changed.
    pub fn known_files(&self) -> Result<KnownFiles> {
        // Counting first passes over the pages of an index without decoding a row, and saves
        // growing the lists: each time a large list grows it moves into fresh memory, and at
        // 100,000 files that cost more than the count.
        let count: i64 = self
            .conn
            .query_row("SELECT count(*) FROM files", [], |r| r.get(0))?;
        let mut known = KnownFiles::with_capacity(count as usize);
        self.query_files("1 ORDER BY path", &[], |file| known.push(file))?;
        Ok(known)
    }

    /// What a sync of just `paths` needs to know: the state of the file at each path, of every
    /// file under each (a path may name a folder), and of every file in an id conflict.
    pub fn file_states_near(&self, paths: &[String]) -> Result<HashMap<String, FileState>> {
        let mut states = HashMap::new();
        let mut add = |file: KnownFile<'_>| {
            states.insert(file.path.to_owned(), file.state());
        };
        for path in paths {
            // `/` sorts just before `0`, so this range is exactly the paths under `path/`.
            self.query_files(
                "path = ?1 OR (path > ?1 || '/' AND path < ?1 || '0')",
                &[path],
                &mut add,
            )?;
        }
        self.query_files("conflict", &[], &mut add)?;
        Ok(states)
    }

    fn query_files(
        &self,
        filter: &str,
        args: &[&str],
        mut visit: impl FnMut(KnownFile<'_>),
    ) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT path, size, mtime_ns, claim, conflict, errors > 0 FROM files WHERE {filter}"
        ))?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let text = rusqlite::Error::from;
        while let Some(row) = rows.next()? {
            visit(KnownFile {
                path: row.get_ref(0)?.as_str().map_err(text)?,
                size: row.get::<_, i64>(1)? as u64,
                mtime_ns: row.get(2)?,
                claim: row.get_ref(3)?.as_str_or_null().map_err(text)?,
                conflict: row.get(4)?,
                invalid: row.get(5)?,
            });
        }
        Ok(())
    }

    /// Every dataset file the index knows, by path.
    pub fn dataset_files(&self) -> Result<HashMap<String, DatasetFileState>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT path, size, mtime_ns, conflict, errors > 0 FROM dataset_files",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                DatasetFileState {
                    size: r.get::<_, i64>(1)? as u64,
                    mtime_ns: r.get(2)?,
                    conflict: r.get(3)?,
                    invalid: r.get(4)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The ids of the datasets the index holds, in id order.
    pub fn dataset_ids(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM datasets ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many distinct inputs the datasets hold (an input in two datasets counts once).
    pub fn input_count(&self) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM (SELECT DISTINCT id FROM inputs)",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Where an input's text is: the file of the first dataset (by id) that lists it, its
    /// row there, and the bytes to read it from ([`inputs::span_of`]). `None` when no dataset
    /// lists it.
    pub fn input_text(&self, input: &str) -> Result<Option<InputText>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.file, i.line, i.len, substr(d.blocks, ((i.line - 1) / ?2) * 8 + 1, 16)
             FROM inputs i JOIN datasets d ON d.key = i.dataset
             WHERE i.id = ?1 ORDER BY d.id LIMIT 1",
        )?;
        let found = stmt
            .query_row(params![input, inputs::LINES_PER_BLOCK as i64], |r| {
                let row = InputRow {
                    id: input.to_owned(),
                    line: r.get(1)?,
                    len: r.get(2)?,
                };
                let blocks = decode_blocks(r.get_ref(3)?.as_blob()?);
                Ok((r.get(0)?, row, blocks))
            })
            .optional()?;
        Ok(found.and_then(|(file, row, blocks)| match blocks[..] {
            [start, next] => Some(InputText {
                file,
                span: inputs::span_of(&row, start, next),
                row,
            }),
            // Rows and blocks are written together; this is a damaged index.
            _ => None,
        }))
    }

    /// One dataset's inputs in id order, with where each line is: `None` when the index has
    /// no such dataset.
    pub fn dataset_inputs(&self, dataset: &str) -> Result<Option<Vec<InputRow>>> {
        let key = key_of(&self.conn, "datasets", dataset)?;
        key.map(|key| read_inputs(&self.conn, key)).transpose()
    }

    /// The stored plan of a task, without its moves ([`Index::plan_moves`]).
    pub fn task_plan(&self, task: &str) -> Result<Option<TaskPlan>> {
        task_plan(&self.conn, task)
    }

    /// The moves of a task's workers' plan (or, with `review`, of its reviewers'), by input.
    pub fn plan_moves(&self, task: &str, review: bool) -> Result<HashMap<String, Vec<Move>>> {
        plan_moves(&self.conn, task, review)
    }

    /// Visits the inputs a source selects, in id order, until `visit` returns false.
    pub fn each_input(&self, source: &Source, visit: impl FnMut(&str) -> bool) -> Result<()> {
        each_input(&self.conn, source, visit)
    }

    /// Whether a source selects an input.
    pub fn in_source(&self, source: &Source, input: &str) -> Result<bool> {
        in_source(&self.conn, source, input)
    }

    /// Starts the one write transaction of a sync or a write command.
    pub fn writer(&mut self) -> Result<Writer<'_>> {
        Writer::begin(&self.conn)
    }

    /// Loads an empty index in a new file beside it, which then replaces it: `load` writes and
    /// commits as through [`Index::writer`], but with no WAL to write everything to first and
    /// to copy back afterwards (a third of a 100,000-file load). A failure or a crash leaves
    /// the index as it was, and the next load removes the half-written file.
    ///
    /// Returns `None`, without calling `load`, when the index is not empty or another
    /// connection has it open, since that connection would go on reading the replaced file;
    /// write through [`Index::writer`] then.
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
    fn lock_alone(&self) -> Result<bool> {
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

    fn lock_shared(&self) -> Result<()> {
        let Some(open_lock) = &self.open_lock else {
            return Ok(());
        };
        open_lock
            .unlock()
            .and_then(|()| open_lock.lock_shared())
            .map_err(io_error("lock", &open_lock_path(&self.path)))
    }

    /// The body of [`Index::load_fresh`], while no other connection is open.
    fn load_new_file<T, E: From<StoreError>>(
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
    fn replace_with(&mut self, new_path: &Path) -> Result<()> {
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

    /// The canonical JSON of one task.
    pub fn get_json(&self, id: &str) -> Result<Option<String>> {
        self.get_face(Face::Json, id)
    }

    /// A task as a protobuf `clarifai.api.Task`.
    pub fn get_proto(&self, id: &str) -> Result<Option<Vec<u8>>> {
        self.get_face(Face::Proto, id)
    }

    fn get_face<T: rusqlite::types::FromSql>(&self, face: Face, id: &str) -> Result<Option<T>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM tasks WHERE id = ?1",
                face.column()
            ))?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    pub fn get(&self, id: &str) -> Result<Option<Task>> {
        self.get_json(id)?
            .map(|json| decode_body(id, &json))
            .transpose()
    }

    /// One page of tasks matching `query`, ordered by id, as canonical JSON.
    pub fn list_json(&self, query: &ListQuery) -> Result<Vec<String>> {
        self.list_face(Face::Json, query)
    }

    /// [`Index::list_json`], each task as a protobuf `clarifai.api.Task`.
    pub fn list_proto(&self, query: &ListQuery) -> Result<Vec<Vec<u8>>> {
        self.list_face(Face::Proto, query)
    }

    fn list_face<T: rusqlite::types::FromSql>(
        &self,
        face: Face,
        query: &ListQuery,
    ) -> Result<Vec<T>> {
        let (matching, args) = matching(query);
        // The page is chosen before any body is read: joining the bodies first would read
        // every match's body, a thousand for one user, to keep 128.
        let sql = format!(
            "SELECT t.{} FROM ({matching} ORDER BY id LIMIT ? OFFSET ?) page
             JOIN tasks t ON t.key = page.key ORDER BY page.id",
            face.column()
        );
        let limit = i64::from(query.per_page);
        let offset = i64::from(query.page.saturating_sub(1)) * limit;
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut params: Vec<&dyn rusqlite::ToSql> =
            args.iter().map(|a| a as &dyn rusqlite::ToSql).collect();
        params.push(&limit);
        params.push(&offset);
        let rows = stmt.query_map(params.as_slice(), |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many tasks match `query` on every page together.
    pub fn count(&self, query: &ListQuery) -> Result<u64> {
        let (matching, args) = matching(query);
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT count(*) FROM ({matching})"))?;
        let count: i64 = stmt.query_row(rusqlite::params_from_iter(&args), |r| r.get(0))?;
        Ok(count as u64)
    }

    pub fn list(&self, query: &ListQuery) -> Result<Vec<Task>> {
        self.list_json(query)?
            .iter()
            .map(|json| decode_body("", json))
            .collect()
    }

    pub fn task_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM tasks", [], |r| r.get::<_, i64>(0))? as u64)
    }

    /// The files that claim `id`, in path order.
    pub fn claimants(&self, id: &str) -> Result<Vec<String>> {
        claimants(&self.conn, id)
    }

    /// The file a task was last read from.
    pub fn task_file(&self, id: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT file FROM tasks WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    /// Every file with diagnostics, in path order; with `errors_only`, just the invalid ones.
    pub fn reports(&self, errors_only: bool) -> Result<Vec<Report>> {
        self.query_reports("f.errors > 0 OR NOT ?1", [errors_only])
    }

    /// The work files with lines the replay did not count (they break a rule the API
    /// enforces), each with those lines' warnings.
    pub fn refused_reports(&self) -> Result<Vec<Report>> {
        self.query_reports("d.part = 1", [])
    }

    /// The diagnostics of one file, if it has any.
    pub fn file_report(&self, path: &str) -> Result<Option<Report>> {
        Ok(self.query_reports("d.file = ?1", [path])?.pop())
    }

    fn query_reports(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<Report>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT d.file, d.severity, d.line, d.col, d.field, d.message, d.hint
             FROM (SELECT file, 0 AS part, seq, severity, line, col, field, message, hint
                   FROM diagnostics
                   UNION ALL
                   SELECT file, 1, line, 'warning', line, col, field, message, hint
                   FROM work_refused) d
             JOIN (SELECT path, errors FROM files UNION ALL SELECT path, errors FROM dataset_files
                   UNION ALL SELECT path, errors FROM work_files) f
               ON f.path = d.file
             WHERE {filter}
             ORDER BY d.file, d.part, d.seq"
        ))?;
        let mut reports: Vec<Report> = Vec::new();
        let mut rows = stmt.query(args)?;
        while let Some(r) = rows.next()? {
            let file: String = r.get(0)?;
            let line: Option<u32> = r.get(2)?;
            let column: Option<u32> = r.get(3)?;
            let diagnostic = Diagnostic {
                severity: if r.get::<_, String>(1)? == "warning" {
                    Severity::Warning
                } else {
                    Severity::Error
                },
                field: r.get(4)?,
                message: r.get(5)?,
                hint: r.get(6)?,
                location: line
                    .zip(column)
                    .map(|(line, column)| Location { line, column }),
            };
            match reports.last_mut() {
                Some(report) if report.file == file => report.diagnostics.push(diagnostic),
                _ => reports.push(Report {
                    file,
                    diagnostics: vec![diagnostic],
                }),
            }
        }
        Ok(reports)
    }
}

fn decode_body(id: &str, json: &str) -> Result<Task> {
    serde_json::from_str(json)
        .map(Task::vouched)
        .map_err(|_| StoreError::CorruptBody(id.to_owned()))
}

/// Visits the inputs a source selects, in id order, until `visit` returns false.
fn each_input(
    conn: &Connection,
    source: &Source,
    mut visit: impl FnMut(&str) -> bool,
) -> Result<()> {
    let (sql, arg) = match source {
        Source::All => ("SELECT DISTINCT id FROM inputs ORDER BY id", None),
        Source::Dataset(id) => (
            "SELECT id FROM inputs WHERE dataset = (SELECT key FROM datasets WHERE id = ?1) ORDER BY id",
            Some(id),
        ),
        Source::Input(id) => ("SELECT DISTINCT id FROM inputs WHERE id = ?1", Some(id)),
        Source::Nothing => return Ok(()),
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = match arg {
        Some(arg) => stmt.query([arg])?,
        None => stmt.query([])?,
    };
    while let Some(row) = rows.next()? {
        let id = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        if !visit(id) {
            break;
        }
    }
    Ok(())
}

/// The stored plan of a task, without its moves ([`Index::plan_moves`]).
fn task_plan(conn: &Connection, task: &str) -> Result<Option<TaskPlan>> {
    let row = conn
        .prepare_cached(
            "SELECT inputs, quotas, sample_hash, sample_id, sampled, review_quotas
             FROM task_plans WHERE task = ?1",
        )?
        .query_row([task], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })
        .optional()?;
    let Some((inputs, quotas, hash, id, sampled, review_quotas)) = row else {
        return Ok(None);
    };
    let parse = |text: Option<String>| -> Result<Option<Vec<u64>>> {
        text.map(|t| serde_json::from_str(&t).map_err(|_| StoreError::CorruptBody(task.to_owned())))
            .transpose()
    };
    let work = parse(quotas)?.map(|quotas| assign::Plan {
        quotas,
        moves: Vec::new(),
    });
    let review = parse(review_quotas)?.map(|quotas| ReviewPlan {
        sample: Sample {
            threshold: hash.zip(id).map(|(h, id)| (h as u64, id)),
        },
        sampled: sampled.unwrap_or(0) as u64,
        plan: assign::Plan {
            quotas,
            moves: Vec::new(),
        },
    });
    Ok(Some(TaskPlan {
        inputs: inputs as u64,
        work,
        review,
    }))
}

/// The moves of a task's workers' plan (or, with `review`, of its reviewers'), by input.
fn plan_moves(conn: &Connection, task: &str, review: bool) -> Result<HashMap<String, Vec<Move>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT input, from_worker, to_worker FROM plan_moves
         WHERE task = ?1 AND review = ?2 ORDER BY input, seq",
    )?;
    let mut moves: HashMap<String, Vec<Move>> = HashMap::new();
    let mut rows = stmt.query(params![task, review])?;
    while let Some(r) = rows.next()? {
        let input: String = r.get(0)?;
        let m = Move {
            input: input.clone(),
            from: r.get::<_, i64>(1)? as usize,
            to: r.get::<_, i64>(2)? as usize,
        };
        moves.entry(input).or_default().push(m);
    }
    Ok(moves)
}

/// Whether a source selects an input.
fn in_source(conn: &Connection, source: &Source, input: &str) -> Result<bool> {
    let (sql, arg) = match source {
        Source::All => ("SELECT 1 FROM inputs WHERE id = ?1 LIMIT 1", None),
        Source::Dataset(id) => (
            "SELECT 1 FROM inputs WHERE dataset = (SELECT key FROM datasets WHERE id = ?2) AND id = ?1",
            Some(id.as_str()),
        ),
        Source::Input(id) if id == input => ("SELECT 1 FROM inputs WHERE id = ?1 LIMIT 1", None),
        Source::Input(_) | Source::Nothing => return Ok(false),
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let found = match arg {
        Some(arg) => stmt.query_row(params![input, arg], |_| Ok(())),
        None => stmt.query_row(params![input], |_| Ok(())),
    };
    Ok(found.optional()?.is_some())
}

/// Where an input's text lies: its file, its row, and the `(offset, length)` of the bytes
/// that hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputText {
    pub file: String,
    pub row: InputRow,
    pub span: (u64, usize),
}

fn encode_blocks(blocks: &[u64]) -> Vec<u8> {
    blocks.iter().flat_map(|b| b.to_le_bytes()).collect()
}

fn decode_blocks(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("chunks of 8")))
        .collect()
}

/// A dataset's input rows, in id order.
fn read_inputs(conn: &Connection, key: i64) -> Result<Vec<InputRow>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, line, len FROM inputs WHERE dataset = ?1 ORDER BY id")?;
    let rows = stmt.query_map([key], |r| {
        Ok(InputRow {
            id: r.get(0)?,
            line: r.get(1)?,
            len: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn claimants(conn: &Connection, id: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT path FROM files WHERE claim = ?1 ORDER BY path")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
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
    insert_file: Statement<'c>,
    insert_task: Statement<'c>,
    insert_input: Statement<'c>,
    workers: LinkInserts<'c>,
    reviewers: LinkInserts<'c>,
    /// The user keys of the links being written, kept to spare an allocation per task.
    user_keys: Vec<i64>,
    /// The file of a load into a new file (see [`Index::load_fresh`]).
    new_file: Option<&'c Path>,
    committed: bool,
}

/// Writes a task's links to one link table, with one statement for all of them: a statement
/// per link cost a fifth more instructions (callgrind, a bulk load of 10,000 tasks).
struct LinkInserts<'c> {
    table: &'static str,
    /// The statement inserting `n + 1` links, once prepared.
    by_count: Vec<Option<Statement<'c>>>,
}

impl<'c> LinkInserts<'c> {
    /// More links than this take several statements.
    const MAX_ROWS: usize = 16;

    fn new(table: &'static str) -> LinkInserts<'c> {
        LinkInserts {
            table,
            by_count: Vec::new(),
        }
    }

    fn insert(&mut self, conn: &'c Connection, task: i64, id: &str, users: &[i64]) -> Result<()> {
        for users in users.chunks(Self::MAX_ROWS) {
            let n = users.len();
            if self.by_count.len() < n {
                self.by_count.resize_with(n, || None);
            }
            let stmt = match &mut self.by_count[n - 1] {
                Some(stmt) => stmt,
                empty => {
                    // ?1 is the task key and ?2 its id in every row.
                    let rows: Vec<String> =
                        (0..n).map(|i| format!("(?1, ?{}, ?2)", i + 3)).collect();
                    let sql = format!(
                        "INSERT INTO {} (task, user, id) VALUES {}",
                        self.table,
                        rows.join(", ")
                    );
                    empty.insert(conn.prepare(&sql)?)
                }
            };
            stmt.raw_bind_parameter(1, task)?;
            stmt.raw_bind_parameter(2, id)?;
            for (i, user) in users.iter().enumerate() {
                stmt.raw_bind_parameter(i + 3, user)?;
            }
            stmt.raw_execute()?;
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
            insert_file: conn.prepare(
                "INSERT OR REPLACE INTO files (path, size, mtime_ns, claim, errors, warnings, conflict)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
            )?,
            insert_task: conn
                .prepare("INSERT INTO tasks (id, file, json, proto) VALUES (?1, ?2, ?3, ?4)")?,
            insert_input: conn
                .prepare("INSERT INTO inputs (dataset, id, line, len) VALUES (?1, ?2, ?3, ?4)")?,
            workers: LinkInserts::new("task_workers"),
            reviewers: LinkInserts::new("task_reviewers"),
            user_keys: Vec::new(),
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

    /// True when the index held no task and no file as the transaction began: nothing in it
    /// is older than this transaction, and a sync can bulk-load.
    pub fn is_fresh(&self) -> bool {
        self.fresh
    }

    /// Drops the secondary indexes for a bulk load; [`Writer::end_bulk_load`] builds them
    /// again, which is faster than maintaining them row by row.
    pub fn begin_bulk_load(&self) -> Result<()> {
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

    pub fn end_bulk_load(&self) -> Result<()> {
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

    pub fn claimants(&self, id: &str) -> Result<Vec<String>> {
        claimants(self.conn, id)
    }

    /// Forgets a file and its diagnostics.
    pub fn remove_file(&self, path: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM files WHERE path = ?1")?
            .execute([path])?;
        self.forget_diagnostics(path)
    }

    /// Drops the claim a file made, while it is being read again.
    pub fn release_claim(&self, path: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE files SET claim = NULL WHERE path = ?1")?
            .execute([path])?;
        Ok(())
    }

    /// Records what a file looks like now, its claim and its diagnostics.
    pub fn put_file(
        &mut self,
        path: &str,
        size: u64,
        mtime_ns: i64,
        claim: Option<&str>,
        diagnostics: &[Diagnostic],
    ) -> Result<()> {
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        self.insert_file.execute(params![
            path,
            size as i64,
            mtime_ns,
            claim,
            errors as i64,
            (diagnostics.len() - errors) as i64
        ])?;
        self.replace_diagnostics(path, diagnostics)
    }

    /// Marks a file as claiming an id that another file claims too, adding the error.
    pub fn add_conflict(&self, path: &str, diagnostic: &Diagnostic) -> Result<()> {
        let seq: i64 = self
            .conn
            .prepare_cached("SELECT coalesce(max(seq) + 1, 0) FROM diagnostics WHERE file = ?1")?
            .query_row([path], |r| r.get(0))?;
        self.insert_diagnostic(path, seq, diagnostic)?;
        self.conn
            .prepare_cached("UPDATE files SET conflict = 1, errors = errors + 1 WHERE path = ?1")?
            .execute([path])?;
        Ok(())
    }

    /// Makes `diagnostics` a file's diagnostics, in place of any it had.
    fn replace_diagnostics(&self, path: &str, diagnostics: &[Diagnostic]) -> Result<()> {
        // A load into an empty index has none to replace.
        if !self.fresh {
            self.forget_diagnostics(path)?;
        }
        for (seq, d) in diagnostics.iter().enumerate() {
            self.insert_diagnostic(path, seq as i64, d)?;
        }
        Ok(())
    }

    fn forget_diagnostics(&self, path: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM diagnostics WHERE file = ?1")?
            .execute([path])?;
        Ok(())
    }

    fn insert_diagnostic(&self, path: &str, seq: i64, d: &Diagnostic) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO diagnostics (file, seq, severity, line, col, field, message, hint)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                path,
                seq,
                d.severity.to_string(),
                d.location.map(|l| l.line),
                d.location.map(|l| l.column),
                d.field,
                d.message,
                d.hint
            ])?;
        Ok(())
    }

    /// Writes a task read from `file`. When the row existed and anything of it changed (its
    /// body or its file), also returns what it was.
    pub fn put_task(&mut self, task: &TaskRow, file: &str) -> Result<(Change, Option<Previous>)> {
        let existing: Option<(i64, String, String)> = self
            .conn
            .prepare_cached("SELECT key, file, json FROM tasks WHERE id = ?1")?
            .query_row([&task.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((key, old_file, old_json)) = existing else {
            return Ok((self.insert_task(task, file)?, None));
        };
        if old_json == task.json {
            if old_file == file {
                return Ok((Change::Unchanged, None));
            }
            self.conn
                .prepare_cached("UPDATE tasks SET file = ?2 WHERE key = ?1")?
                .execute(params![key, file])?;
            let previous = Previous {
                file: old_file,
                json: old_json,
            };
            return Ok((Change::Unchanged, Some(previous)));
        }
        self.conn
            .prepare_cached("UPDATE tasks SET file = ?2, json = ?3, proto = ?4 WHERE key = ?1")?
            .execute(params![key, file, task.json, task.proto])?;
        self.delete_links(key)?;
        self.insert_links(key, task)?;
        let previous = Previous {
            file: old_file,
            json: old_json,
        };
        Ok((Change::Updated, Some(previous)))
    }

    /// Puts back a task's row as it was before this transaction wrote it: `None` when it had
    /// none.
    pub fn restore(&mut self, id: &str, previous: Option<Previous>) -> Result<()> {
        match previous {
            None => {
                self.delete_task(id)?;
            }
            Some(previous) => {
                let task = decode_body(id, &previous.json)?;
                self.put_task(&TaskRow::new(&task), &previous.file)?;
            }
        }
        Ok(())
    }

    /// Writes a task the index is known not to have.
    pub fn insert_task(&mut self, task: &TaskRow, file: &str) -> Result<Change> {
        let key = self
            .insert_task
            .insert(params![task.id, file, task.json, task.proto])?;
        self.insert_links(key, task)?;
        Ok(Change::Added)
    }

    fn insert_links(&mut self, key: i64, task: &TaskRow) -> Result<()> {
        for (users, links) in [
            (&task.workers, &mut self.workers),
            (&task.reviewers, &mut self.reviewers),
        ] {
            self.user_keys.clear();
            for user in users {
                self.user_keys
                    .push(user_key(self.conn, &mut self.users, user)?);
            }
            links.insert(self.conn, key, &task.id, &self.user_keys)?;
        }
        Ok(())
    }

    fn delete_links(&self, key: i64) -> Result<()> {
        for sql in [
            "DELETE FROM task_workers WHERE task = ?1",
            "DELETE FROM task_reviewers WHERE task = ?1",
        ] {
            self.conn.prepare_cached(sql)?.execute([key])?;
        }
        Ok(())
    }

    /// Records a dataset file as it looks now, and its diagnostics.
    pub fn put_dataset_file(
        &self,
        path: &str,
        size: u64,
        mtime_ns: i64,
        conflict: bool,
        diagnostics: &[Diagnostic],
    ) -> Result<()> {
        let errors = diagnostics.iter().filter(|d| d.is_error()).count();
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO dataset_files (path, size, mtime_ns, errors, warnings, conflict)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                path,
                size as i64,
                mtime_ns,
                errors as i64,
                (diagnostics.len() - errors) as i64,
                conflict
            ])?;
        self.replace_diagnostics(path, diagnostics)
    }

    /// Forgets a dataset file and its diagnostics (not its dataset: see
    /// [`Writer::delete_dataset`]).
    pub fn remove_dataset_file(&self, path: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM dataset_files WHERE path = ?1")?
            .execute([path])?;
        self.forget_diagnostics(path)
    }

    /// Makes a dataset the one `file` was read into. Only the differences are written: a
    /// file with one line changed in place rewrites that line's row (and the dataset's
    /// blocks), not the whole dataset.
    pub fn put_dataset(&mut self, id: &str, file: &str, dataset: &Dataset) -> Result<InputsChange> {
        let (rows, blocks) = (&dataset.inputs, encode_blocks(&dataset.blocks));
        let key = key_of(self.conn, "datasets", id)?;
        let mut change = InputsChange::default();
        let Some(key) = key else {
            let key = self
                .conn
                .prepare_cached("INSERT INTO datasets (id, file, blocks) VALUES (?1, ?2, ?3)")?
                .insert(params![id, file, blocks])?;
            for row in rows {
                self.insert_input(key, row)?;
            }
            change.added = rows.len() as u64;
            return Ok(change);
        };
        self.conn
            .prepare_cached("UPDATE datasets SET file = ?2, blocks = ?3 WHERE key = ?1")?
            .execute(params![key, file, blocks])?;
        let old = read_inputs(self.conn, key)?;
        let (mut old, mut new) = (old.iter().peekable(), rows.iter().peekable());
        loop {
            let order = match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(a), Some(b)) => a.id.cmp(&b.id),
            };
            match order {
                std::cmp::Ordering::Less => {
                    let gone = old.next().expect("peeked");
                    self.conn
                        .prepare_cached("DELETE FROM inputs WHERE dataset = ?1 AND id = ?2")?
                        .execute(params![key, gone.id])?;
                    change.removed += 1;
                }
                std::cmp::Ordering::Greater => {
                    let row = new.next().expect("peeked");
                    self.insert_input(key, row)?;
                    change.added += 1;
                }
                std::cmp::Ordering::Equal => {
                    let (was, row) = (old.next().expect("peeked"), new.next().expect("peeked"));
                    if was != row {
                        self.conn
                            .prepare_cached(
                                "UPDATE inputs SET line = ?3, len = ?4 WHERE dataset = ?1 AND id = ?2",
                            )?
                            .execute(params![key, row.id, row.line, row.len])?;
                        change.moved += 1;
                    }
                }
            }
        }
        Ok(change)
    }

    fn insert_input(&mut self, dataset: i64, row: &InputRow) -> Result<()> {
        self.insert_input
            .execute(params![dataset, row.id, row.line, row.len])?;
        Ok(())
    }

    /// Removes a dataset and its inputs; how many inputs it had.
    pub fn delete_dataset(&self, id: &str) -> Result<u64> {
        let key = key_of(self.conn, "datasets", id)?;
        let Some(key) = key else { return Ok(0) };
        let removed = self
            .conn
            .prepare_cached("DELETE FROM inputs WHERE dataset = ?1")?
            .execute([key])?;
        self.conn
            .prepare_cached("DELETE FROM datasets WHERE key = ?1")?
            .execute([key])?;
        Ok(removed as u64)
    }

    /// A task as this transaction sees it.
    pub fn task(&self, id: &str) -> Result<Option<Task>> {
        let json: Option<String> = self
            .conn
            .prepare_cached("SELECT json FROM tasks WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        json.map(|json| decode_body(id, &json)).transpose()
    }

    /// The ids of the tasks whose source may select inputs of `datasets`: every ALL_INPUTS and
    /// INPUT task, and the DATASET tasks of these datasets.
    pub fn tasks_over(&self, datasets: &[String]) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT task, source, source_id FROM task_plans WHERE source IN ('ALL_INPUTS', 'INPUT', 'DATASET')",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut tasks = Vec::new();
        for row in rows {
            let (task, source, id) = row?;
            if source != "DATASET" || datasets.contains(&id) {
                tasks.push(task);
            }
        }
        Ok(tasks)
    }

    /// Whether a source selects an input.
    pub fn in_source(&self, source: &Source, input: &str) -> Result<bool> {
        in_source(self.conn, source, input)
    }

    /// The moves of a task's workers' plan, by input, as this transaction sees them.
    pub fn plan_moves(&self, task: &str) -> Result<HashMap<String, Vec<Move>>> {
        plan_moves(self.conn, task, false)
    }

    /// A task's stored plan (without its moves), as this transaction sees it.
    pub fn task_plan(&self, task: &str) -> Result<Option<TaskPlan>> {
        task_plan(self.conn, task)
    }

    /// The inputs a source selects, in id order.
    pub fn source_inputs(&self, source: &Source) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        each_input(self.conn, source, |id| {
            ids.push(id.to_owned());
            true
        })?;
        Ok(ids)
    }

    /// Replaces a task's plan.
    pub fn put_plan(&self, task: &str, source: &Source, plan: &TaskPlan) -> Result<()> {
        self.delete_plan(task)?;
        let (source, source_id) = source.key();
        let text = |quotas: &[u64]| serde_json::to_string(quotas).expect("numbers serialise");
        let review = plan.review.as_ref();
        let threshold = review.and_then(|r| r.sample.threshold.as_ref());
        self.conn
            .prepare_cached(
                "INSERT INTO task_plans (task, source, source_id, inputs, quotas, sample_hash,
                     sample_id, sampled, review_quotas)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                task,
                source,
                source_id,
                plan.inputs as i64,
                plan.work.as_ref().map(|w| text(&w.quotas)),
                threshold.map(|(hash, _)| *hash as i64),
                threshold.map(|(_, id)| id),
                review.map(|r| r.sampled as i64),
                review.map(|r| text(&r.plan.quotas)),
            ])?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO plan_moves (task, review, input, seq, from_worker, to_worker)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let plans = [(false, plan.work.as_ref()), (true, review.map(|r| &r.plan))];
        for (is_review, p) in plans {
            for (seq, m) in p.map_or(&[][..], |p| &p.moves[..]).iter().enumerate() {
                insert.execute(params![
                    task,
                    is_review,
                    m.input,
                    seq as i64,
                    m.from as i64,
                    m.to as i64
                ])?;
            }
        }
        Ok(())
    }

    /// Forgets a task's plan.
    pub fn delete_plan(&self, task: &str) -> Result<()> {
        for sql in [
            "DELETE FROM task_plans WHERE task = ?1",
            "DELETE FROM plan_moves WHERE task = ?1",
        ] {
            self.conn.prepare_cached(sql)?.execute([task])?;
        }
        Ok(())
    }

    /// Removes a task; false when the index had none with that id.
    pub fn delete_task(&self, id: &str) -> Result<bool> {
        let key = key_of(self.conn, "tasks", id)?;
        let Some(key) = key else { return Ok(false) };
        self.delete_links(key)?;
        self.conn
            .prepare_cached("DELETE FROM tasks WHERE key = ?1")?
            .execute([key])?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty index in a folder of its own.
    fn index() -> (tempfile::TempDir, PathBuf, Index) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.db");
        let index = Index::open(&path).unwrap();
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
        let other = Index::open(&path).unwrap();
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
        let other = Index::open(&path).unwrap();
        assert!(index.load_fresh(|w| w.commit()).unwrap().is_none());
        // The lock is shared again: more connections may open.
        let third = Index::open(&path).unwrap();
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
        drop(Index::open(&path).unwrap());
    }
}
