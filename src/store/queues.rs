//! What the work queues read: a worker's rows in one state, in input order, one at a time;
//! whether a worker has a row on an input; who holds rows in a state; and each worker's
//! frontier (`work_frontier`), where their walk for open assignments may start. Must not
//! decide what is open: [`crate::repo`] walks, this only stores and reads.
//!
//! The frontier keeps LABEL_START's cost to the page it answers: a worker who has done all
//! but 60 of 300,000 inputs had every input walked on each call (310 ms). It is a shortcut
//! with one invariant, "every input before it that the plan gives the worker has a
//! `work_state` row of theirs": LABEL_START moves it forward, a row that goes moves it back
//! ([`Writer::move_frontier_back`]), and a new plan drops it. A sync places the frontier of
//! every worker who has none on the tasks it replayed ([`Writer::place_frontiers`]), so the
//! first LABEL_START after a rebuilt index or a new plan costs its page too.

use std::collections::{BTreeSet, HashMap};

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, Writer};
use crate::plans::{Source, Walker};
use crate::work::State;

impl Store {
    /// Calls `visit` with each input on which `worker` holds a row of the task in `state`, in
    /// input order, with whether the plan gave it, until `visit` returns false.
    pub fn each_held_in_state(
        &self,
        task: &str,
        worker: &str,
        state: State,
        mut visit: impl FnMut(&str, bool) -> bool,
    ) -> Result<()> {
        // Without INDEXED BY, SQLite walks the task's rows by primary key to find these,
        // since `planned` is not in the index: 150 ms at 100,000 inputs instead of 0.1.
        let mut stmt = self.conn.prepare_cached(
            "SELECT input, planned FROM work_state INDEXED BY work_state_worker
             WHERE task = ?1 AND worker = ?2 AND state = ?3 ORDER BY input",
        )?;
        let mut rows = stmt.query(params![task, worker, state.to_i64()])?;
        while let Some(row) = rows.next()? {
            let input = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
            if !visit(input, row.get(1)?) {
                break;
            }
        }
        Ok(())
    }

    /// Whether `worker` has a row on this input of the task (work, a hand-out, a decision).
    pub fn has_row(&self, task: &str, input: &str, worker: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT 1 FROM work_state WHERE task = ?1 AND input = ?2 AND worker = ?3",
            )?
            .query_row(params![task, input, worker], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Who holds at least one assignment of the task in `state`, by id (from the counts, so
    /// without reading the rows).
    pub fn holders_in_state(&self, task: &str, state: State) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT worker FROM work_counts
             WHERE task = ?1 AND kind IN (0, 1) AND state = ?2 AND n > 0 ORDER BY worker",
        )?;
        let rows = stmt.query_map(params![task, state.to_i64()], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Runs `walk` from `worker`'s frontier on the task (`""` when there is none) and stores
    /// the frontier it returns, in one transaction, so that no sync moves it back in between.
    pub fn walk_from_frontier<T>(
        &self,
        task: &str,
        worker: &str,
        walk: impl FnOnce(&str) -> Result<(T, Option<String>)>,
    ) -> Result<T> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let walked = (|| {
            let from = self.frontier(task, worker)?;
            let (value, reached) = walk(&from)?;
            if let Some(reached) = reached.filter(|r| *r != from) {
                self.conn
                    .prepare_cached(
                        "INSERT OR REPLACE INTO work_frontier (task, worker, input)
                         VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![task, worker, reached])?;
            }
            Ok(value)
        })();
        match walked {
            Ok(value) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(value)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// `worker`'s frontier on the task, without moving it (`""` when there is none).
    pub fn frontier(&self, task: &str, worker: &str) -> Result<String> {
        Ok(self
            .conn
            .prepare_cached("SELECT input FROM work_frontier WHERE task = ?1 AND worker = ?2")?
            .query_row(params![task, worker], |r| r.get(0))
            .optional()?
            .unwrap_or_default())
    }
}

impl Writer<'_> {
    /// Places the frontier of each worker of these tasks (those with work) who has none
    /// where a walk from the first input would leave it: at their first input the plan gives
    /// them and they have no row on, else at the source's last input. One pass over the
    /// task's inputs and its rows together, in input order, for all its workers at once, and
    /// only as far as the last of them needs: a rebuild, which has just written every row,
    /// pays for it once instead of each worker's first LABEL_START.
    pub fn place_frontiers(&self, tasks: &BTreeSet<String>) -> Result<()> {
        for id in self.tasks_with_work()?.0 {
            if !tasks.contains(&id) {
                continue;
            }
            let Some(task) = self.task(&id)? else {
                continue;
            };
            let workers = task.worker_ids();
            let placed: BTreeSet<String> = self
                .conn
                .prepare_cached("SELECT worker FROM work_frontier WHERE task = ?1")?
                .query_map([&id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut missing: Vec<bool> = workers.iter().map(|w| !placed.contains(w)).collect();
            let mut left = missing.iter().filter(|m| **m).count();
            if left == 0 {
                continue;
            }
            let index: HashMap<&str, usize> = workers
                .iter()
                .enumerate()
                .map(|(i, w)| (w.as_str(), i))
                .collect();
            let walker = Walker::new(&task);
            let moves = self.plan_moves(&id)?;
            let mut stmt = self.conn.prepare_cached(
                "SELECT input, worker FROM work_state WHERE task = ?1 ORDER BY input, worker",
            )?;
            let mut rows = stmt.query([&id])?;
            // The row under the cursor, in buffers reused from row to row.
            let (mut row_input, mut row_worker) = (String::new(), String::new());
            let mut advance = |input: &mut String, worker: &mut String| -> Result<bool> {
                let Some(row) = rows.next()? else {
                    return Ok(false);
                };
                input.clear();
                input.push_str(row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?);
                worker.clear();
                worker.push_str(row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?);
                Ok(true)
            };
            let mut on_row = advance(&mut row_input, &mut row_worker)?;
            let mut frontiers: Vec<(usize, String)> = Vec::new();
            let mut last: Option<String> = None;
            let mut held = Vec::new();
            let mut failed = None;
            super::plans::each_input(self.conn, &Source::of(&task), "", |input| {
                let last = last.get_or_insert_with(String::new);
                last.clear();
                last.push_str(input);
                held.clear();
                let mut step = || -> Result<()> {
                    while on_row && row_input.as_str() <= input {
                        if row_input == input {
                            held.extend(index.get(row_worker.as_str()));
                        }
                        on_row = advance(&mut row_input, &mut row_worker)?;
                    }
                    Ok(())
                };
                if let Err(e) = step() {
                    failed = Some(e);
                    return false;
                }
                let moved = moves.get(input).map_or(&[][..], Vec::as_slice);
                for w in walker.workers_of(input, moved) {
                    if missing[w] && !held.contains(&w) {
                        missing[w] = false;
                        left -= 1;
                        frontiers.push((w, input.to_owned()));
                    }
                }
                left > 0
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            if let Some(last) = last.filter(|_| left > 0) {
                for (w, _) in missing.iter().enumerate().filter(|(_, m)| **m) {
                    frontiers.push((w, last.clone()));
                }
            }
            let mut insert = self.conn.prepare_cached(
                "INSERT INTO work_frontier (task, worker, input) VALUES (?1, ?2, ?3)",
            )?;
            for (w, input) in frontiers {
                insert.execute(params![id, workers[w], input])?;
            }
        }
        Ok(())
    }

    /// `worker` has no row on `input` any more: their frontier may not stay past it.
    pub fn move_frontier_back(&self, task: &str, worker: &str, input: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE work_frontier SET input = ?3 WHERE task = ?1 AND worker = ?2 AND input > ?3",
            )?
            .execute(params![task, worker, input])?;
        Ok(())
    }
}
