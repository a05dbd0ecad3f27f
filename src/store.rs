//! The only module that knows SQLite. Owns the index's schema (`schema.sql`), its queries and
//! its write transactions; must not print, exit, or read task files: it stores what
//! [`crate::sync`] decided.
//!
//! The index is derived from the files, so a schema version change drops and rebuilds it
//! instead of migrating. Every writer takes an IMMEDIATE transaction and every connection
//! waits on a busy timeout, so a CLI command and a running watcher share the file safely.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, Statement, TransactionBehavior, params};

use crate::model::Task;
use crate::validate::{Diagnostic, Location, Report, Severity};

const SCHEMA: &str = include_str!("../schema.sql");

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

/// A [`FileState`] borrowed from the row being visited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRef<'a> {
    pub size: u64,
    pub mtime_ns: i64,
    pub claim: Option<&'a str>,
    pub conflict: bool,
    pub invalid: bool,
}

impl FileRef<'_> {
    pub fn to_owned(self) -> FileState {
        FileState {
            size: self.size,
            mtime_ns: self.mtime_ns,
            claim: self.claim.map(str::to_owned),
            conflict: self.conflict,
            invalid: self.invalid,
        }
    }
}

impl FileState {
    pub fn as_ref(&self) -> FileRef<'_> {
        FileRef {
            size: self.size,
            mtime_ns: self.mtime_ns,
            claim: self.claim.as_deref(),
            conflict: self.conflict,
            invalid: self.invalid,
        }
    }
}

/// What writing a task did to the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Updated,
    Unchanged,
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

impl Index {
    /// Opens the index at `path`, creating it, or rebuilding it empty when it was made by
    /// another schema version.
    pub fn open(path: &Path) -> Result<Index> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // A sync uses a few dozen statements per file; the default cache of 16 would
        // re-prepare them over and over.
        conn.set_prepared_statement_cache_capacity(64);
        // Room for the randomly ordered B-trees of a bulk load (the id and claim indexes), so
        // that their pages are not spilled to the WAL again and again, within the memory a
        // sync of 100,000 files may use (64 MiB in all; 16 MiB here cost 17 MiB more and
        // saved no time).
        conn.pragma_update(None, "cache_size", -8 * 1024)?;
        // The bundled SQLite has STAT4, which re-prepares a statement whenever a new value is
        // bound to a parameter that might change its plan: twice per file in a sync. The
        // index's plans never depend on values, so pin them.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // WAL with NORMAL loses at most the last transactions on power loss, never consistency;
        // the files are the truth and the next sync re-reads them.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let mut index = Index { conn };
        let version: i64 = index
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version != schema_version() {
            index.rebuild_schema()?;
        }
        Ok(index)
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

    /// Shows `visit` every file the index knows, in path order, without copying the rows: a
    /// sync compares 100,000 of them with the disk to find the few that changed.
    pub fn visit_files(&self, mut visit: impl FnMut(&str, FileRef<'_>)) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT path, size, mtime_ns, claim, conflict, errors > 0 FROM files ORDER BY path",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let text = |i| -> rusqlite::Result<Option<&str>> {
                r.get_ref(i)?
                    .as_str_or_null()
                    .map_err(rusqlite::Error::from)
            };
            let path = text(0)?.unwrap_or_default();
            visit(
                path,
                FileRef {
                    size: r.get::<_, i64>(1)? as u64,
                    mtime_ns: r.get(2)?,
                    claim: text(3)?,
                    conflict: r.get(4)?,
                    invalid: r.get(5)?,
                },
            );
        }
        Ok(())
    }

    /// What a sync of just `paths` needs to know: the state of the file at each path, of every
    /// file under each (a path may name a folder), and of every file in an id conflict.
    pub fn file_states_near(&self, paths: &[String]) -> Result<HashMap<String, FileState>> {
        let mut states = HashMap::new();
        for path in paths {
            // `/` sorts just before `0`, so this range is exactly the paths under `path/`.
            self.add_file_states(
                &mut states,
                "path = ?1 OR (path > ?1 || '/' AND path < ?1 || '0')",
                &[path],
            )?;
        }
        self.add_file_states(&mut states, "conflict", &[])?;
        Ok(states)
    }

    fn add_file_states(
        &self,
        states: &mut HashMap<String, FileState>,
        filter: &str,
        args: &[&str],
    ) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT path, size, mtime_ns, claim, conflict, errors > 0 FROM files WHERE {filter}"
        ))?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok((
                r.get::<_, String>(0)?,
                FileState {
                    size: r.get::<_, i64>(1)? as u64,
                    mtime_ns: r.get(2)?,
                    claim: r.get(3)?,
                    conflict: r.get(4)?,
                    invalid: r.get(5)?,
                },
            ))
        })?;
        for row in rows {
            let (path, state) = row?;
            states.insert(path, state);
        }
        Ok(())
    }

    /// Starts the one write transaction of a sync or a write command.
    pub fn writer(&mut self) -> Result<Writer<'_>> {
        Writer::begin(&self.conn)
    }

    /// The canonical JSON of one task.
    pub fn get_json(&self, id: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT b.json FROM tasks t JOIN task_bodies b ON b.task = t.key WHERE t.id = ?1",
            )?
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
        let marks = |n: usize| vec!["?"; n].join(", ");
        // Whose tasks: one user is `= ?`, so the page comes off the link table's primary key
        // in id order; several need a set.
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
        // The page is chosen before any body is read: joining the bodies first would read
        // every match's body, a thousand for one user, to keep 128.
        let sql = format!(
            "SELECT b.json FROM (SELECT key, id FROM ({base}) WHERE {filters} ORDER BY id LIMIT ? OFFSET ?) page
             JOIN task_bodies b ON b.task = page.key ORDER BY page.id"
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

    /// The diagnostics of one file, if it has any.
    pub fn file_report(&self, path: &str) -> Result<Option<Report>> {
        Ok(self.query_reports("d.file = ?1", [path])?.pop())
    }

    fn query_reports(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<Report>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT d.file, d.severity, d.line, d.col, d.field, d.message, d.hint
             FROM diagnostics d JOIN files f ON f.path = d.file
             WHERE {filter}
             ORDER BY d.file, d.seq"
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
    insert_body: Statement<'c>,
    insert_worker: Statement<'c>,
    insert_reviewer: Statement<'c>,
    committed: bool,
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
            insert_task: conn.prepare("INSERT INTO tasks (id, file) VALUES (?1, ?2)")?,
            insert_body: conn.prepare("INSERT INTO task_bodies (task, json) VALUES (?1, ?2)")?,
            insert_worker: conn
                .prepare("INSERT INTO task_workers (task, user, id) VALUES (?1, ?2, ?3)")?,
            insert_reviewer: conn
                .prepare("INSERT INTO task_reviewers (task, user, id) VALUES (?1, ?2, ?3)")?,
            committed: false,
        };
        writer.fresh = conn.query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM files) AND NOT EXISTS (SELECT 1 FROM tasks)",
            [],
            |r| r.get(0),
        )?;
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

    pub fn end_bulk_load(&self) -> Result<()> {
        Ok(self.conn.execute_batch(secondary_indexes())?)
    }

    pub fn claimants(&self, id: &str) -> Result<Vec<String>> {
        claimants(self.conn, id)
    }

    /// Forgets a file and its diagnostics.
    pub fn remove_file(&self, path: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM files WHERE path = ?1")?
            .execute([path])?;
        self.conn
            .prepare_cached("DELETE FROM diagnostics WHERE file = ?1")?
            .execute([path])?;
        Ok(())
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
        if !self.fresh {
            self.conn
                .prepare_cached("DELETE FROM diagnostics WHERE file = ?1")?
                .execute([path])?;
        }
        for (seq, d) in diagnostics.iter().enumerate() {
            self.insert_diagnostic(path, seq as i64, d)?;
        }
        Ok(())
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

    /// Writes a task read from `file`, whose canonical JSON is `json`.
    pub fn put_task(&mut self, task: &Task, json: &str, file: &str) -> Result<Change> {
        let existing: Option<(i64, String, String)> = self
            .conn
            .prepare_cached(
                "SELECT t.key, t.file, b.json FROM tasks t JOIN task_bodies b ON b.task = t.key WHERE t.id = ?1",
            )?
            .query_row([task.id()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let (key, change) = match existing {
            Some((key, old_file, old_json)) => {
                if old_json == json {
                    if old_file != file {
                        self.conn
                            .prepare_cached("UPDATE tasks SET file = ?2 WHERE key = ?1")?
                            .execute(params![key, file])?;
                    }
                    return Ok(Change::Unchanged);
                }
                self.conn
                    .prepare_cached("UPDATE tasks SET file = ?2 WHERE key = ?1")?
                    .execute(params![key, file])?;
                self.conn
                    .prepare_cached("UPDATE task_bodies SET json = ?2 WHERE task = ?1")?
                    .execute(params![key, json])?;
                self.delete_links(key)?;
                (key, Change::Updated)
            }
            None => return self.insert_task(task, json, file),
        };
        self.insert_links(key, task)?;
        Ok(change)
    }

    /// Writes a task the index is known not to have.
    pub fn insert_task(&mut self, task: &Task, json: &str, file: &str) -> Result<Change> {
        let key = self.insert_task.insert(params![task.id(), file])?;
        self.insert_body.execute(params![key, json])?;
        self.insert_links(key, task)?;
        Ok(Change::Added)
    }

    fn insert_links(&mut self, key: i64, task: &Task) -> Result<()> {
        for user in task.worker_ids() {
            let user_key = self.user_key(user)?;
            self.insert_worker
                .execute(params![key, user_key, task.id()])?;
        }
        for user in task.reviewer_ids() {
            let user_key = self.user_key(user)?;
            self.insert_reviewer
                .execute(params![key, user_key, task.id()])?;
        }
        Ok(())
    }

    fn user_key(&mut self, user: &str) -> Result<i64> {
        if let Some(key) = self.users.get(user) {
            return Ok(*key);
        }
        let key: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO users (id) VALUES (?1) ON CONFLICT (id) DO UPDATE SET id = id RETURNING key",
            )?
            .query_row([user], |r| r.get(0))?;
        self.users.insert(user.to_owned(), key);
        Ok(key)
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

    /// Removes a task; false when the index had none with that id.
    pub fn delete_task(&self, id: &str) -> Result<bool> {
        let key: Option<i64> = self
            .conn
            .prepare_cached("SELECT key FROM tasks WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let Some(key) = key else { return Ok(false) };
        self.delete_links(key)?;
        self.conn
            .prepare_cached("DELETE FROM task_bodies WHERE task = ?1")?
            .execute([key])?;
        self.conn
            .prepare_cached("DELETE FROM tasks WHERE key = ?1")?
            .execute([key])?;
        Ok(true)
    }
}
