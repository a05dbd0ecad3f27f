//! The index's side of the workflow: work files as last read, their events, and what replaying
//! them derived (each holder's state, the annotations, each input's outcome) with counts kept
//! as rows change. Must not decide states: [`crate::work::replay`] does, and [`crate::sync`]
//! says when.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, Store, StoreError, Writer};
use crate::validate::Diagnostic;
use crate::work::{InputState, Line, Outcome, State, Stored, UserEvents};

/// What the index remembers of a work file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkFileState {
    pub size: u64,
    pub mtime_ns: i64,
    /// Bytes read: up to the end of the last whole line.
    pub consumed: u64,
    /// Whole lines read.
    pub lines: u32,
    /// A hash of the bytes before `consumed` (the sync's), to tell an append from a rewrite.
    pub tail: Vec<u8>,
    pub invalid: bool,
}

/// The kinds of rows `work_counts` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counted {
    /// Assignments the plan gives.
    Planned = 0,
    /// Assignments held otherwise (a DYNAMIC hand-out, work kept after the plan moved).
    Held = 1,
    Annotations = 2,
}

/// Changes to `work_counts` being gathered, by task, worker, and (kind, state): looked up by
/// the names as borrowed, so that counting each of 100,000 rows copies no name.
#[derive(Debug, Default)]
pub struct CountDeltas(HashMap<String, HashMap<String, WorkerDeltas>>);

/// One worker's changes of counts on a task.
type WorkerDeltas = HashMap<(Counted, State), i64>;

impl CountDeltas {
    fn add(&mut self, task: &str, worker: &str, kind: Counted, state: State, n: i64) {
        if !self.0.contains_key(task) {
            self.0.insert(task.to_owned(), HashMap::new());
        }
        let workers = self.0.get_mut(task).expect("inserted above");
        if !workers.contains_key(worker) {
            workers.insert(worker.to_owned(), HashMap::new());
        }
        let counts = workers.get_mut(worker).expect("inserted above");
        *counts.entry((kind, state)).or_default() += n;
    }
}

/// One row of `work_counts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    pub worker: String,
    pub kind: Counted,
    pub state: State,
    pub n: u64,
}

/// One assignment's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRow {
    pub input: String,
    pub worker: String,
    pub state: State,
    pub planned: bool,
    pub submissions: u32,
}

/// An annotation as the index answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnotationRow {
    pub task: String,
    pub worker: String,
    pub id: String,
    pub state: State,
    /// Microseconds since 1970.
    pub created_at: i64,
    pub modified_at: i64,
    pub json: String,
}

/// ListAnnotations' filters, as the index applies them: each list matches any of its values,
/// and the lists combine with AND.
#[derive(Debug, Clone, Default)]
pub struct AnnotationFilter<'a> {
    pub task: Option<&'a str>,
    pub ids: &'a [String],
    pub workers: &'a [String],
    pub inputs: &'a [String],
    pub states: &'a [State],
    pub offset: u64,
    pub limit: u64,
}

fn outcome_number(outcome: Outcome) -> i64 {
    match outcome {
        Outcome::Open => 0,
        Outcome::AwaitingReview => 1,
        Outcome::Approved => 2,
        Outcome::Rejected => 3,
    }
}

fn state_of(n: i64, table: &str) -> rusqlite::Result<State> {
    State::from_i64(n).ok_or_else(|| {
        rusqlite::Error::InvalidColumnType(
            0,
            format!("{table}.state {n}"),
            rusqlite::types::Type::Integer,
        )
    })
}

/// A `work_files` row's state from its `size` column on (`at`), as `work_files` selects it.
fn work_file_state_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<WorkFileState> {
    Ok(WorkFileState {
        size: r.get::<_, i64>(at)? as u64,
        mtime_ns: r.get(at + 1)?,
        consumed: r.get::<_, i64>(at + 2)? as u64,
        lines: r.get(at + 3)?,
        tail: r.get(at + 4)?,
        invalid: r.get(at + 5)?,
    })
}

fn held_rows(conn: &Connection, sql: &str, args: impl rusqlite::Params) -> Result<Vec<HeldRow>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(args, |r| {
        Ok(HeldRow {
            input: r.get(0)?,
            worker: r.get(1)?,
            state: state_of(r.get(2)?, "work_state")?,
            planned: r.get(3)?,
            submissions: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One event as an input's row holds it: who wrote it, on which line, and the event.
pub type Entry = (String, u32, Stored);

/// An input's events as its row holds them, by user and line.
fn read_entries(conn: &Connection, task: &str, input: &str) -> Result<Vec<Entry>> {
    let text: Option<String> = conn
        .prepare_cached("SELECT events FROM work_events WHERE task = ?1 AND input = ?2")?
        .query_row(params![task, input], |r| r.get(0))
        .optional()?;
    text.map_or(Ok(Vec::new()), |text| {
        serde_json::from_str(&text).map_err(|_| StoreError::CorruptBody(task.to_owned()))
    })
}

/// Events of one input of a task as its row holds them (each user's together, in file order)
/// into what replaying takes: whether read back from the index, or held by the sync that read
/// them, an input's events are replayed from this one form.
pub fn user_events(task: &str, input: &str, entries: Vec<Entry>) -> Result<Vec<UserEvents>> {
    let mut users: Vec<UserEvents> = Vec::new();
    for (user, number, stored) in entries {
        let line = Line::from_stored(input, stored)
            .ok_or_else(|| StoreError::CorruptBody(task.to_owned()))?;
        match users.last_mut() {
            Some(last) if last.user == user => last.lines.push((number, line)),
            _ => users.push(UserEvents {
                user,
                lines: vec![(number, line)],
            }),
        }
    }
    Ok(users)
}

/// Every user's events on one input of a task, each user's in file order.
fn input_events(conn: &Connection, task: &str, input: &str) -> Result<Vec<UserEvents>> {
    user_events(task, input, read_entries(conn, task, input)?)
}

impl Store {
    /// Every work file the index knows, by path.
    pub fn work_files(&self) -> Result<HashMap<String, WorkFileState>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT path, size, mtime_ns, consumed, lines, tail, errors > 0 FROM work_files",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, work_file_state_at(r, 1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// What the index knows of these work files (those it knows).
    pub fn work_files_at(&self, paths: &[&str]) -> Result<HashMap<String, WorkFileState>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT size, mtime_ns, consumed, lines, tail, errors > 0 FROM work_files
             WHERE path = ?1",
        )?;
        let mut known = HashMap::new();
        for path in paths {
            let state = stmt
                .query_row([path], |r| work_file_state_at(r, 0))
                .optional()?;
            if let Some(state) = state {
                known.insert((*path).to_owned(), state);
            }
        }
        Ok(known)
    }

    /// How many work files the index knows.
    pub fn work_file_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM work_files", [], |r| {
                r.get::<_, i64>(0)
            })? as u64)
    }

    /// Every user's events on one input of a task.
    pub fn input_events(&self, task: &str, input: &str) -> Result<Vec<UserEvents>> {
        input_events(&self.conn, task, input)
    }

    /// The holders of one input of a task that has events, by worker.
    pub fn holders(&self, task: &str, input: &str) -> Result<Vec<HeldRow>> {
        held_rows(
            &self.conn,
            "SELECT input, worker, state, planned, submissions FROM work_state
             WHERE task = ?1 AND input = ?2 ORDER BY worker",
            params![task, input],
        )
    }

    /// A worker's assignments of a task that have events, in one state, by input.
    pub fn held_in_state(
        &self,
        task: &str,
        worker: &str,
        state: State,
        limit: u64,
    ) -> Result<Vec<HeldRow>> {
        held_rows(
            &self.conn,
            // Not by primary key, as SQLite otherwise chooses: see `Store::each_held_in_state`.
            "SELECT input, worker, state, planned, submissions FROM work_state
             INDEXED BY work_state_worker
             WHERE task = ?1 AND worker = ?2 AND state = ?3 ORDER BY input LIMIT ?4",
            params![task, worker, state.to_i64(), limit as i64],
        )
    }

    /// A task's assignments held other than by its plan (of one worker, with `worker`), by
    /// input then worker.
    pub fn held_otherwise(&self, task: &str, worker: Option<&str>) -> Result<Vec<HeldRow>> {
        held_rows(
            &self.conn,
            "SELECT input, worker, state, planned, submissions FROM work_state
             WHERE task = ?1 AND NOT planned AND (?2 IS NULL OR worker = ?2) ORDER BY input, worker",
            params![task, worker],
        )
    }

    /// Whether anyone holds an input of a task by its events (a DYNAMIC hand-out, work).
    pub fn is_held(&self, task: &str, input: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM work_state WHERE task = ?1 AND input = ?2 LIMIT 1")?
            .query_row(params![task, input], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// A task's counts of assignments and annotations by worker and state.
    pub fn work_counts(&self, task: &str) -> Result<Vec<CountRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT worker, kind, state, n FROM work_counts WHERE task = ?1 AND n != 0
             ORDER BY worker, kind, state",
        )?;
        let rows = stmt.query_map([task], |r| {
            let kind = match r.get::<_, i64>(1)? {
                0 => Counted::Planned,
                1 => Counted::Held,
                _ => Counted::Annotations,
            };
            Ok(CountRow {
                worker: r.get(0)?,
                kind,
                state: state_of(r.get(2)?, "work_counts")?,
                n: r.get::<_, i64>(3)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many of a task's inputs are labeled (every holder submitted), and how many are
    /// decided (approved or rejected).
    pub fn work_progress(&self, task: &str) -> Result<(u64, u64)> {
        Ok(self.conn.query_row(
            "SELECT coalesce(sum(labeled), 0), coalesce(sum(outcome IN (2, 3)), 0)
             FROM work_inputs WHERE task = ?1",
            [task],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?)
    }

    /// The annotations that match, by task, input, worker and id.
    pub fn annotations(&self, filter: &AnnotationFilter<'_>) -> Result<Vec<AnnotationRow>> {
        let mut clauses = Vec::new();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(task) = filter.task {
            args.push(task.to_owned().into());
            clauses.push(format!("task = ?{}", args.len()));
        }
        let mut any_of = |column: &str, values: Vec<rusqlite::types::Value>| {
            if values.is_empty() {
                return;
            }
            let first = args.len() + 1;
            let marks: Vec<String> = (first..first + values.len())
                .map(|i| format!("?{i}"))
                .collect();
            args.extend(values);
            clauses.push(format!("{column} IN ({})", marks.join(", ")));
        };
        let text = |values: &[String]| values.iter().map(|v| v.clone().into()).collect();
        any_of("id", text(filter.ids));
        any_of("worker", text(filter.workers));
        any_of("input", text(filter.inputs));
        any_of(
            "state",
            filter.states.iter().map(|s| s.to_i64().into()).collect(),
        );
        let filter_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = format!(
            "SELECT task, input, worker, state, created_at, modified_at, line, id FROM annotations
             {filter_sql} ORDER BY task, input, worker, id LIMIT {} OFFSET {}",
            filter.limit.min(i64::MAX as u64),
            filter.offset.min(i64::MAX as u64),
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut found = Vec::new();
        // The annotation's JSON is its line's, in its input's events, read once per input.
        let mut events: Option<(String, String, Vec<Entry>)> = None;
        while let Some(r) = rows.next()? {
            let (task, input): (String, String) = (r.get(0)?, r.get(1)?);
            let worker: String = r.get(2)?;
            let line: u32 = r.get(6)?;
            if events
                .as_ref()
                .is_none_or(|(t, i, _)| *t != task || *i != input)
            {
                let entries = read_entries(&self.conn, &task, &input)?;
                events = Some((task.clone(), input.clone(), entries));
            }
            let entries = events.as_ref().map_or(&[][..], |(.., e)| e.as_slice());
            let json = entries
                .iter()
                .find(|(user, number, _)| *user == worker && *number == line)
                .and_then(|(.., stored)| stored.data.as_ref())
                .map(|data| data.get().to_owned())
                .ok_or_else(|| StoreError::CorruptBody(task.clone()))?;
            found.push(AnnotationRow {
                state: state_of(r.get(3)?, "annotations")?,
                created_at: r.get(4)?,
                modified_at: r.get(5)?,
                id: r.get(7)?,
                task,
                worker,
                json,
            });
        }
        Ok(found)
    }

    /// How many current annotations a worker has on one input of a task.
    pub fn annotation_count(&self, task: &str, input: &str, worker: &str) -> Result<u64> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM annotations WHERE task = ?1 AND input = ?2 AND worker = ?3",
            )?
            .query_row(params![task, input, worker], |r| r.get::<_, i64>(0))? as u64)
    }
}

impl Writer<'_> {
    /// Records a work file as read now, with its diagnostics (`append`: added to the ones it
    /// had, as only its new lines were read).
    #[allow(clippy::too_many_arguments)]
    pub fn put_work_file(
        &self,
        path: &str,
        owner: (&str, &str),
        disk: (u64, i64),
        read: (u64, u32, &[u8]),
        diagnostics: &[Diagnostic],
        append: bool,
    ) -> Result<()> {
        let (size, mtime_ns) = disk;
        let (consumed, lines, tail) = read;
        let errors = diagnostics.iter().filter(|d| d.is_error()).count() as i64;
        let warnings = diagnostics.len() as i64 - errors;
        let (mut seq, mut old_errors, mut old_warnings) = (0, 0, 0);
        if append {
            (old_errors, old_warnings) = self
                .conn
                .prepare_cached("SELECT errors, warnings FROM work_files WHERE path = ?1")?
                .query_row([path], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .unwrap_or((0, 0));
            seq = self
                .conn
                .prepare_cached(
                    "SELECT coalesce(max(seq) + 1, 0) FROM diagnostics WHERE file = ?1",
                )?
                .query_row([path], |r| r.get(0))?;
        } else {
            self.forget_diagnostics(path)?;
        }
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO work_files
                 (path, task, user, size, mtime_ns, consumed, lines, tail, errors, warnings)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                path,
                owner.0,
                owner.1,
                size as i64,
                mtime_ns,
                consumed as i64,
                lines,
                tail,
                old_errors + errors,
                old_warnings + warnings
            ])?;
        for (i, d) in diagnostics.iter().enumerate() {
            self.insert_diagnostic(path, seq + i as i64, d)?;
        }
        Ok(())
    }

    /// Records that a work file could not be read now (`diagnostics` say why): what was read of
    /// it before, its events included, stays, and the next sync tries it again.
    pub fn put_unread_work_file(
        &self,
        path: &str,
        owner: (&str, &str),
        size: u64,
        diagnostics: &[Diagnostic],
    ) -> Result<()> {
        let known = self
            .conn
            .prepare_cached("SELECT 1 FROM work_files WHERE path = ?1")?
            .exists([path])?;
        if !known {
            return self.put_work_file(
                path,
                owner,
                (size, crate::files::UNREAD),
                (0, 0, &[]),
                diagnostics,
                false,
            );
        }
        self.forget_diagnostics(path)?;
        let errors = diagnostics.iter().filter(|d| d.is_error()).count() as i64;
        self.conn
            .prepare_cached(
                "UPDATE work_files SET mtime_ns = ?2, errors = ?3, warnings = ?4 WHERE path = ?1",
            )?
            .execute(params![
                path,
                crate::files::UNREAD,
                errors,
                diagnostics.len() as i64 - errors
            ])?;
        for (i, d) in diagnostics.iter().enumerate() {
            self.insert_diagnostic(path, i as i64, d)?;
        }
        Ok(())
    }

    /// Forgets a work file and its diagnostics (its events: [`Writer::delete_work_events`]).
    pub fn remove_work_file(&self, path: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM work_files WHERE path = ?1")?
            .execute([path])?;
        self.forget_diagnostics(path)
    }

    /// Deletes one user's events on a task (one work file's), returning the inputs they were
    /// about.
    pub fn delete_work_events(&self, task: &str, user: &str) -> Result<Vec<String>> {
        let rows: Vec<(String, String)> = self
            .conn
            .prepare_cached("SELECT input, events FROM work_events WHERE task = ?1")?
            .query_map([task], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut touched = Vec::new();
        for (input, text) in rows {
            let mut entries: Vec<Entry> = serde_json::from_str(&text)
                .map_err(|_| StoreError::CorruptBody(task.to_owned()))?;
            let before = entries.len();
            entries.retain(|(u, ..)| u != user);
            if entries.len() != before {
                self.write_entries(task, &input, &entries)?;
                touched.push(input);
            }
        }
        Ok(touched)
    }

    /// Writes an input's row of events, each `(user, line, event)`, each user's together in
    /// file order, each line once (none: the row goes). A sync merges what the row held
    /// ([`Writer::input_entries`]) with what it read, and replays the input from the same.
    pub fn put_work_events(
        &self,
        task: &str,
        input: &str,
        entries: &[(&str, u32, &Stored)],
    ) -> Result<()> {
        self.write_entries(task, input, entries)
    }

    /// Writes an input's row of events, `(user, line, event)` each (an [`Entry`], owned or
    /// borrowed: both are written alike).
    fn write_entries<E: serde::Serialize>(
        &self,
        task: &str,
        input: &str,
        entries: &[E],
    ) -> Result<()> {
        if entries.is_empty() {
            self.conn
                .prepare_cached("DELETE FROM work_events WHERE task = ?1 AND input = ?2")?
                .execute(params![task, input])?;
            return Ok(());
        }
        let text = serde_json::to_string(entries).expect("events serialise");
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO work_events (task, input, events) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![task, input, text])?;
        Ok(())
    }

    /// Whether the index holds no work events at all.
    pub fn no_work_events(&self) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM work_events LIMIT 1")?
            .query_row([], |_| Ok(()))
            .optional()?
            .is_none())
    }

    /// Whether the index holds work events of a task: when it holds none, events added to
    /// its inputs have none to join (a file of 100,000 inputs new to the task otherwise looked
    /// each up in vain).
    pub fn has_work_events(&self, task: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM work_events WHERE task = ?1 LIMIT 1")?
            .query_row([task], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// One input's events as its row holds them, as this transaction sees them ([`user_events`]
    /// makes them what replaying takes).
    pub fn input_entries(&self, task: &str, input: &str) -> Result<Vec<Entry>> {
        read_entries(self.conn, task, input)
    }

    /// The inputs of a task that have events or derived rows, with whether each was sampled
    /// for review when last replayed (`None`: never replayed).
    pub fn work_inputs(&self, task: &str) -> Result<Vec<(String, Option<bool>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT e.input, w.sampled
             FROM (SELECT input FROM work_events WHERE task = ?1
                   UNION SELECT input FROM work_inputs WHERE task = ?1) e
             LEFT JOIN work_inputs w ON w.task = ?1 AND w.input = e.input
             ORDER BY e.input",
        )?;
        let rows = stmt.query_map([task], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The workers the plan gave one input when it was last replayed.
    pub fn planned_holders(&self, task: &str, input: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT worker FROM work_state WHERE task = ?1 AND input = ?2 AND planned ORDER BY worker",
        )?;
        let rows = stmt.query_map(params![task, input], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The tasks that have derived rows, and those that have events (derived or not yet).
    pub fn tasks_with_work(&self) -> Result<(Vec<String>, Vec<String>)> {
        let tasks = |sql: &str| -> Result<Vec<String>> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        };
        // A skip-scan: one look-up per task with work. `SELECT DISTINCT` read every row, and
        // reading 100,000 inputs' events made each LABEL_SUBMIT take 60 ms.
        let distinct = |table: &str| {
            format!(
                "WITH RECURSIVE t(task) AS (
                     SELECT MIN(task) FROM {table}
                     UNION ALL
                     SELECT (SELECT MIN(task) FROM {table} WHERE task > t.task) FROM t
                     WHERE t.task IS NOT NULL)
                 SELECT task FROM t WHERE task IS NOT NULL"
            )
        };
        Ok((
            tasks(&distinct("work_inputs"))?,
            tasks(&distinct("work_events"))?,
        ))
    }

    /// Replaces what was derived for one input of a task (`None`: nothing, it has no events
    /// any more), adding the changes to the task's counts to `deltas` ([`Writer::add_counts`]
    /// writes them). `fresh`: nothing was derived for the task before, so there is nothing to
    /// replace.
    pub fn put_input_state(
        &self,
        task: &str,
        input: &str,
        state: Option<(&InputState, bool)>,
        fresh: bool,
        deltas: &mut CountDeltas,
    ) -> Result<()> {
        let before = if fresh {
            Vec::new()
        } else {
            self.forget_input_state(task, input, deltas)?
        };
        // A worker whose row goes has this input untouched again: their walk must see it.
        for worker in &before {
            let kept =
                state.is_some_and(|(s, _)| s.assignments.iter().any(|a| &a.worker == worker));
            if !kept {
                self.move_frontier_back(task, worker, input)?;
            }
        }
        let Some((state, sampled)) = state else {
            return Ok(());
        };
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO work_state (task, input, worker, state, planned, submissions)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for a in &state.assignments {
            insert.execute(params![
                task,
                input,
                a.worker,
                a.state.to_i64(),
                a.planned,
                a.submissions
            ])?;
            let kind = if a.planned {
                Counted::Planned
            } else {
                Counted::Held
            };
            deltas.add(task, &a.worker, kind, a.state, 1);
        }
        let mut insert = self.conn.prepare_cached(
            "INSERT OR REPLACE INTO annotations
             (task, input, worker, id, state, created_at, modified_at, line)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for a in &state.annotations {
            insert.execute(params![
                task,
                input,
                a.worker,
                a.annotation.id,
                a.state.to_i64(),
                a.created_at.as_microsecond(),
                a.modified_at.as_microsecond(),
                a.line
            ])?;
            deltas.add(task, &a.worker, Counted::Annotations, a.state, 1);
        }
        // Statements are prepared only when used: looking one up costs as much as a small
        // insert, and most inputs have nothing refused.
        for flagged in &state.flagged {
            let mut insert = self.conn.prepare_cached(
                "INSERT INTO work_refused (task, input, file, line, col, field, message, hint)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let d = &flagged.diagnostic;
            let at = d
                .location
                .unwrap_or(crate::validate::Location { line: 0, column: 0 });
            insert.execute(params![
                task,
                input,
                crate::layout::work_path(task, &flagged.user),
                at.line,
                at.column,
                d.field,
                d.message,
                d.hint
            ])?;
        }
        let labeled = !state.assignments.is_empty()
            && state.assignments.iter().all(|a| a.state != State::Pending);
        self.conn
            .prepare_cached(
                "INSERT INTO work_inputs (task, input, outcome, labeled, sampled)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                task,
                input,
                outcome_number(state.outcome),
                labeled,
                sampled
            ])?;
        Ok(())
    }

    /// Deletes what was derived for one input, taking it off the counts. Returns the workers
    /// who had a row.
    fn forget_input_state(
        &self,
        task: &str,
        input: &str,
        deltas: &mut CountDeltas,
    ) -> Result<Vec<String>> {
        let held = self.held(task, input)?;
        for row in &held {
            let kind = if row.planned {
                Counted::Planned
            } else {
                Counted::Held
            };
            deltas.add(task, &row.worker, kind, row.state, -1);
        }
        {
            let mut stmt = self.conn.prepare_cached(
                "SELECT worker, state FROM annotations WHERE task = ?1 AND input = ?2",
            )?;
            let mut rows = stmt.query(params![task, input])?;
            while let Some(r) = rows.next()? {
                let state = state_of(r.get(1)?, "annotations")?;
                let worker = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
                deltas.add(task, worker, Counted::Annotations, state, -1);
            }
        }
        for sql in [
            "DELETE FROM work_state WHERE task = ?1 AND input = ?2",
            "DELETE FROM annotations WHERE task = ?1 AND input = ?2",
            "DELETE FROM work_inputs WHERE task = ?1 AND input = ?2",
            "DELETE FROM work_refused WHERE task = ?1 AND input = ?2",
        ] {
            self.conn
                .prepare_cached(sql)?
                .execute(params![task, input])?;
        }
        Ok(held.into_iter().map(|row| row.worker).collect())
    }

    /// Adds changes of counts to `work_counts`.
    pub fn add_counts(&self, deltas: CountDeltas) -> Result<()> {
        let mut add = self.conn.prepare_cached(
            "INSERT INTO work_counts (task, worker, kind, state, n) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (task, worker, kind, state) DO UPDATE SET n = n + excluded.n",
        )?;
        for (task, workers) in deltas.0 {
            for (worker, counts) in workers {
                for ((kind, state), n) in counts {
                    if n != 0 {
                        add.execute(params![task, worker, kind as i64, state.to_i64(), n])?;
                    }
                }
            }
        }
        Ok(())
    }

    fn held(&self, task: &str, input: &str) -> Result<Vec<HeldRow>> {
        held_rows(
            self.conn,
            "SELECT input, worker, state, planned, submissions FROM work_state
             WHERE task = ?1 AND input = ?2",
            params![task, input],
        )
    }

    /// Runs `load` without the index of assignments by worker, which it then builds once: a
    /// first sync's hundreds of thousands of rows are faster sorted at the end than kept in
    /// order one by one.
    pub fn without_worker_index<T>(&self, load: impl FnOnce() -> Result<T>) -> Result<T> {
        let create = super::secondary_indexes()
            .lines()
            .find(|l| l.starts_with("CREATE INDEX work_state_worker "))
            .expect("schema.sql indexes work_state by worker");
        self.conn
            .execute_batch("DROP INDEX IF EXISTS work_state_worker")?;
        let loaded = load()?;
        self.sync_behind();
        self.conn.execute_batch(create)?;
        Ok(loaded)
    }

    /// Forgets everything derived for a task (its events stay: they are its work files').
    pub fn clear_task_work(&self, task: &str) -> Result<()> {
        for table in [
            "work_state",
            "annotations",
            "work_inputs",
            "work_counts",
            "work_refused",
            "work_frontier",
        ] {
            self.conn
                .prepare_cached(&format!("DELETE FROM {table} WHERE task = ?1"))?
                .execute([task])?;
        }
        Ok(())
    }
}

#[cfg(test)]
impl Store {
    /// Every row of the tables the work files make, as text, table by table in key order: two
    /// indexes that hold the same are told apart from none.
    pub fn work_rows(&self) -> Vec<String> {
        let tables = [
            ("work_files", "path"),
            ("work_events", "task, input"),
            ("work_state", "task, input, worker"),
            ("annotations", "task, input, worker, id"),
            ("work_inputs", "task, input"),
            ("work_refused", "task, input, file, line, message"),
            ("work_frontier", "task, worker"),
            ("work_counts WHERE n != 0", "task, worker, kind, state"),
            ("diagnostics WHERE file LIKE 'work/%'", "file, seq"),
        ];
        let mut rows = Vec::new();
        for (table, order) in tables {
            let mut stmt = self
                .conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
                .unwrap();
            let columns = stmt.column_count();
            let mut found = stmt.query([]).unwrap();
            while let Some(r) = found.next().unwrap() {
                let values: Vec<String> = (0..columns)
                    .map(|i| match r.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Text(text) => {
                            String::from_utf8_lossy(text).into_owned()
                        }
                        value => format!("{value:?}"),
                    })
                    .collect();
                rows.push(format!("{table}: {}", values.join(" | ")));
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use crate::repo::Repo;

    /// Events of a task new to the index are added without looking up each input's row (the
    /// task has none): the rows are those a first sync of the same files makes, and those of
    /// appends to the task once it has events.
    #[test]
    fn events_of_a_task_new_to_the_index_add_what_a_first_sync_adds() {
        let dir = tempfile::tempdir().unwrap();
        crate::repo::init(dir.path()).unwrap();
        let write = |path: &str, text: &str| {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        let inputs: String = (1..=4)
            .map(|i| format!("{{\"id\": \"in-{i}\"}}\n"))
            .collect();
        write("inputs/ds.jsonl", &inputs);
        for task in ["a", "b"] {
            write(
                &format!("tasks/{task}.yaml"),
                "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog]\n\
                 input_source: {type: ALL_INPUTS}\nworker: {strategy: FULL, user_ids: [ann, bob]}\n",
            );
        }
        let line = |event: String| format!("{{\"at\":\"2026-12-03T17:00:00Z\",{event}}}\n");
        let annotation = |id: &str, input: &str, concept: &str| {
            line(format!(
                "\"annotation\":{{\"id\":\"{id}\",\"input_id\":\"{input}\",\"data\":{{\"concepts\":[{{\"id\":\"{concept}\"}}]}}}}"
            ))
        };
        let submit = |input: &str| line(format!("\"submit\":{{\"input_id\":\"{input}\"}}"));
        let index = tempfile::tempdir().unwrap();
        let mut appended = Repo::open(dir.path(), Some(&index.path().join("a.db"))).unwrap();
        let mut ann_b = String::new();
        let steps: [(&str, String); 4] = [
            (
                "work/a/ann.jsonl",
                annotation("x", "in-1", "cat") + &submit("in-1"),
            ),
            // Task b has no events yet: its inputs' rows are added without a look-up.
            (
                "work/b/ann.jsonl",
                annotation("y", "in-1", "dog") + &annotation("z", "in-2", "cat") + &submit("in-2"),
            ),
            ("work/b/bob.jsonl", annotation("w", "in-2", "dog")),
            (
                "work/b/ann.jsonl",
                annotation("y", "in-1", "cat") + &submit("in-1"),
            ),
        ];
        for (path, text) in steps {
            let whole = if path == "work/b/ann.jsonl" {
                ann_b.push_str(&text);
                ann_b.clone()
            } else {
                text
            };
            write(path, &whole);
            appended.sync().unwrap();
        }
        let mut first = Repo::open(dir.path(), Some(&index.path().join("f.db"))).unwrap();
        first.sync().unwrap();
        let rows = first.index().work_rows();
        assert!(
            rows.iter().any(|r| r.starts_with("work_events: b | in-2")),
            "{rows:#?}"
        );
        assert_eq!(appended.index().work_rows(), rows);
    }
}
