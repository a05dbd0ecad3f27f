//! What the work queues read: a worker's rows in one state, in input order, one at a time;
//! whether a worker has a row on an input; who holds rows in a state; and each worker's
//! frontier (`work_frontier`), where their walk for open assignments may start. Must not
//! decide what is open: [`crate::repo`] walks, this only stores and reads.
//!
//! The frontier keeps LABEL_START's cost to the page it answers: a worker who has done all
//! but 60 of 300,000 inputs had every input walked on each call (310 ms). It is a shortcut
//! with one invariant, "every input before it that the plan gives the worker has a
//! `work_state` row of theirs": LABEL_START moves it forward, a row that goes moves it back
//! ([`Writer::move_frontier_back`]), and a new plan drops it.

use rusqlite::{OptionalExtension, params};

use super::{Result, Store, Writer};
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
