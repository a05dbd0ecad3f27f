//! The tasks' rows: each valid task's canonical JSON and protobuf (made once, where the file is
//! read), its worker and reviewer links, ListTasks' filters and pages, and which files claim an
//! id. Must not decide which file defines a task; [`crate::sync`] does.

use rusqlite::{Connection, OptionalExtension, params};

use super::file_rows::FileRow;
use super::{Result, Store, StoreError, Writer, user_key};
use crate::model::Task;
use crate::plans::Source;

/// What the index keeps of a valid task: its canonical JSON and its protobuf, each served as
/// is by its face, and the ids the link tables and the sources' index hold. Made where the
/// file is read, so that only this, not the whole document, waits to be inserted.
#[derive(Debug)]
pub struct TaskRow {
    pub id: String,
    pub json: String,
    pub proto: Vec<u8>,
    pub workers: Vec<String>,
    pub reviewers: Vec<String>,
    /// Kept so that a sync learns which inputs a task may have without reading it back.
    pub source: Source,
}

impl TaskRow {
    pub fn new(task: Task) -> TaskRow {
        let json = canonical_json(&task);
        let source = Source::of(&task);
        let encoded = crate::proto::encode_task(task);
        TaskRow {
            id: encoded.id,
            json,
            proto: encoded.proto,
            workers: encoded.workers,
            reviewers: encoded.reviewers,
            source,
        }
    }
}

/// Room for a typical task's canonical JSON (bench/gen.py's take 500-900 bytes): a
/// buffer that starts empty is copied into a larger one seven times on the way there, in the
/// reading threads of every sync.
const JSON_CAPACITY: usize = 1024;

fn canonical_json(task: &Task) -> String {
    let mut json = Vec::with_capacity(JSON_CAPACITY);
    serde_json::to_writer(&mut json, task).expect("tasks always serialise");
    String::from_utf8(json).expect("serde_json writes UTF-8")
}

/// A valid task file new to the index, and its task (see [`Writer::insert_new_files`]).
pub struct NewFile<'a> {
    pub path: &'a str,
    pub size: u64,
    pub mtime_ns: i64,
    pub task: &'a TaskRow,
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

pub(super) fn decode_body(id: &str, json: &str) -> Result<Task> {
    serde_json::from_str(json)
        .map(Task::vouched)
        .map_err(|_| StoreError::CorruptBody(id.to_owned()))
}

/// Adds to `tasks` the rows of `stmt`, a query of (id, source, source_id), run with `args`.
fn push_sources(
    stmt: &mut rusqlite::CachedStatement<'_>,
    args: &[&str],
    tasks: &mut Vec<(String, Source)>,
) -> Result<()> {
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    while let Some(row) = rows.next()? {
        let kind = row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
        let id = row.get_ref(2)?.as_str().map_err(rusqlite::Error::from)?;
        tasks.push((row.get(0)?, Source::from_key(kind, id)));
    }
    Ok(())
}

pub(super) fn claimants(conn: &Connection, id: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT path FROM files WHERE claim = ?1 ORDER BY path")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

impl Store {
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

    /// [`Store::list_json`], each task as a protobuf `clarifai.api.Task`.
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
}

impl Writer<'_> {
    pub fn claimants(&self, id: &str) -> Result<Vec<String>> {
        claimants(self.conn, id)
    }

    /// Writes a task read from `file`. When the row existed and anything of it changed (its
    /// body or its file), also returns what it was.
    pub fn put_task(&mut self, task: &TaskRow, file: &str) -> Result<(Change, Option<Previous>)> {
        debug_assert!(self.pending.is_none(), "a bulk load only inserts tasks");
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
        let (source, source_id) = task.source.key();
        self.conn
            .prepare_cached(
                "UPDATE tasks SET file = ?2, json = ?3, proto = ?4, source = ?5, source_id = ?6
                 WHERE key = ?1",
            )?
            .execute(params![key, file, task.json, task.proto, source, source_id])?;
        self.delete_links(&task.id, &old_json)?;
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
                self.put_task(&TaskRow::new(task), &previous.file)?;
            }
        }
        Ok(())
    }

    /// Writes a task the index is known not to have.
    pub fn insert_task(&mut self, task: &TaskRow, file: &str) -> Result<Change> {
        // NULL lets SQLite choose the key.
        let chosen = match &mut self.pending {
            Some(pending) => Some(pending.add_task(&task.id)?),
            None => None,
        };
        self.insert_task_rows(&[(chosen, task, file)])?;
        self.insert_links(self.conn.last_insert_rowid(), task)?;
        Ok(Change::Added)
    }

    /// Writes `tasks` rows: each task's key (None: SQLite chooses), the task, and its file.
    fn insert_task_rows(&mut self, rows: &[(Option<i64>, &TaskRow, &str)]) -> Result<()> {
        self.task_rows
            .insert(self.conn, rows, |stmt, first, (key, task, file)| {
                let (source, source_id) = task.source.key();
                stmt.raw_bind_parameter(first, key)?;
                stmt.raw_bind_parameter(first + 1, &task.id)?;
                stmt.raw_bind_parameter(first + 2, file)?;
                stmt.raw_bind_parameter(first + 3, &task.json)?;
                stmt.raw_bind_parameter(first + 4, &task.proto)?;
                stmt.raw_bind_parameter(first + 5, source)?;
                Ok(stmt.raw_bind_parameter(first + 6, source_id)?)
            })
    }

    /// Writes valid files the index has never had, each claiming its task's id, with their
    /// tasks: what [`Writer::put_file`] (without diagnostics) and [`Writer::insert_task`] write
    /// for each, but many rows to a statement in a bulk load, which numbers the tasks itself.
    pub fn insert_new_files(&mut self, files: &[NewFile<'_>]) -> Result<()> {
        let Some(pending) = &mut self.pending else {
            for file in files {
                let claim = Some(file.task.id.as_str());
                self.put_file(file.path, file.size, file.mtime_ns, claim, &[])?;
                self.insert_task(file.task, file.path)?;
            }
            return Ok(());
        };
        let keyed = files
            .iter()
            .map(|file| Ok((pending.add_task(&file.task.id)?, file)))
            .collect::<Result<Vec<_>>>()?;
        let file_rows: Vec<FileRow<'_>> = files
            .iter()
            .map(|f| (f.path, f.size, f.mtime_ns, Some(f.task.id.as_str()), (0, 0)))
            .collect();
        self.insert_file_rows(&file_rows)?;
        let task_rows: Vec<_> = keyed
            .iter()
            .map(|(key, file)| (Some(*key), file.task, file.path))
            .collect();
        self.insert_task_rows(&task_rows)?;
        for (key, file) in keyed {
            self.insert_links(key, file.task)?;
        }
        Ok(())
    }

    pub(super) fn insert_links(&mut self, key: i64, task: &TaskRow) -> Result<()> {
        let users = [&task.workers, &task.reviewers];
        if let Some(pending) = &mut self.pending {
            for (table, users) in users.into_iter().enumerate() {
                for user in users {
                    pending.keep(table, user_key(self.conn, &mut self.users, user)?, key)?;
                }
            }
            return Ok(());
        }
        for (inserts, users) in self.links.iter_mut().zip(users) {
            let links = users
                .iter()
                .map(|user| {
                    Ok((
                        user_key(self.conn, &mut self.users, user)?,
                        task.id.as_str(),
                        key,
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            inserts.insert_links(self.conn, &links)?;
        }
        Ok(())
    }

    /// Removes the links of task `id`, whose body in the index is `json`: the links are keyed
    /// by user, and the body names the users. The links a bulk load keeps are dropped as it
    /// writes them, since the task is gone.
    fn delete_links(&mut self, id: &str, json: &str) -> Result<()> {
        if self.pending.is_some() {
            return Ok(());
        }
        let task = decode_body(id, json)?;
        for (users, table) in [
            (task.worker_ids(), "task_workers"),
            (task.reviewer_ids(), "task_reviewers"),
        ] {
            let mut stmt = self.conn.prepare_cached(&format!(
                "DELETE FROM {table} WHERE user = (SELECT key FROM users WHERE id = ?2) AND id = ?1"
            ))?;
            for user in users {
                stmt.execute([id, user.as_str()])?;
            }
        }
        Ok(())
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

    /// The tasks whose source may select inputs of `datasets`, with their sources: every
    /// ALL_INPUTS and INPUT task, and the DATASET tasks of these datasets.
    pub fn tasks_over(&self, datasets: &[String]) -> Result<Vec<(String, Source)>> {
        let mut tasks = Vec::new();
        push_sources(
            &mut self.conn.prepare_cached(
                "SELECT id, source, source_id FROM tasks WHERE source IN ('ALL_INPUTS', 'INPUT')",
            )?,
            &[],
            &mut tasks,
        )?;
        let mut by_dataset = self.conn.prepare_cached(
            "SELECT id, source, source_id FROM tasks WHERE source = 'DATASET' AND source_id = ?1",
        )?;
        for dataset in datasets {
            push_sources(&mut by_dataset, &[dataset], &mut tasks)?;
        }
        Ok(tasks)
    }

    /// Every source some task has, each once, read off `tasks_source` without a task's row.
    pub fn sources(&self) -> Result<Vec<Source>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT source, source_id FROM tasks")?;
        let mut rows = stmt.query([])?;
        let mut sources = Vec::new();
        while let Some(row) = rows.next()? {
            let kind = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
            let id = row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
            sources.push(Source::from_key(kind, id));
        }
        Ok(sources)
    }

    /// The tasks whose source is `source`, with it.
    pub fn tasks_of(&self, source: &Source) -> Result<Vec<(String, Source)>> {
        let (kind, id) = source.key();
        let mut tasks = Vec::new();
        push_sources(
            &mut self.conn.prepare_cached(
                "SELECT id, source, source_id FROM tasks WHERE source = ?1 AND source_id = ?2",
            )?,
            &[kind, id],
            &mut tasks,
        )?;
        Ok(tasks)
    }

    /// Removes a task; false when the index had none with that id.
    pub fn delete_task(&mut self, id: &str) -> Result<bool> {
        let row: Option<(i64, String)> = self
            .conn
            .prepare_cached("SELECT key, json FROM tasks WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((key, json)) = row else {
            return Ok(false);
        };
        self.delete_links(id, &json)?;
        if let Some(pending) = &mut self.pending {
            pending.delete_task(key);
        }
        self.conn
            .prepare_cached("DELETE FROM tasks WHERE key = ?1")?
            .execute([key])?;
        Ok(true)
    }
}

#[cfg(test)]
impl Store {
    /// Every link as (table, user id, task id), checking that each names its task's key.
    pub(crate) fn link_rows(&self) -> Vec<(String, String, String)> {
        let mut rows = Vec::new();
        for table in ["task_workers", "task_reviewers"] {
            let mut stmt = self
                .conn
                .prepare(&format!(
                    "SELECT u.id, l.id, t.id FROM {table} l JOIN users u ON u.key = l.user
                     LEFT JOIN tasks t ON t.key = l.task ORDER BY u.id, l.id"
                ))
                .unwrap();
            let found = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                })
                .unwrap();
            for link in found {
                let (user, id, task) = link.unwrap();
                assert_eq!(task.as_deref(), Some(id.as_str()), "{table}: {user} {id}");
                rows.push((table.to_owned(), user, id));
            }
        }
        rows
    }
}
