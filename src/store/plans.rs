//! Each task's stored plan (N, quotas, MANUAL review's sample) and its moves, and the inputs a
//! task's source selects, walked in id order. Must not compute a plan; [`crate::plans`] does.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, Store, StoreError, Writer};
use crate::assign::{self, Move, Sample};
use crate::plans::{ReviewPlan, Source, TaskPlan};

/// Visits the inputs a source selects from `from` on (`""`: all), in id order, until `visit`
/// returns false.
pub(super) fn each_input(
    conn: &Connection,
    source: &Source,
    from: &str,
    mut visit: impl FnMut(&str) -> bool,
) -> Result<()> {
    let (sql, arg) = match source {
        Source::All => (
            "SELECT DISTINCT id FROM inputs WHERE id >= ?2 ORDER BY id",
            None,
        ),
        Source::Dataset(id) => (
            "SELECT id FROM inputs WHERE dataset = (SELECT key FROM datasets WHERE id = ?1)
             AND id >= ?2 ORDER BY id",
            Some(id),
        ),
        Source::Input(id) => (
            "SELECT DISTINCT id FROM inputs WHERE id = ?1 AND id >= ?2",
            Some(id),
        ),
        Source::Nothing => return Ok(()),
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params![arg, from])?;
    while let Some(row) = rows.next()? {
        let id = row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        if !visit(id) {
            break;
        }
    }
    Ok(())
}

/// The stored plan of a task, without its moves ([`Store::plan_moves`]).
pub(super) fn task_plan(conn: &Connection, task: &str) -> Result<Option<TaskPlan>> {
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
    let work = parse(quotas)?.map(|quotas| assign::Partition {
        quotas,
        moves: Vec::new(),
    });
    let review = parse(review_quotas)?.map(|quotas| ReviewPlan {
        sample: Sample {
            threshold: hash.zip(id).map(|(h, id)| (h as u64, id)),
        },
        sampled: sampled.unwrap_or(0) as u64,
        plan: assign::Partition {
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
pub(super) fn plan_moves(
    conn: &Connection,
    task: &str,
    review: bool,
) -> Result<HashMap<String, Vec<Move>>> {
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
pub(super) fn in_source(conn: &Connection, source: &Source, input: &str) -> Result<bool> {
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

impl Store {
    /// The stored plan of a task, without its moves ([`Store::plan_moves`]).
    pub fn task_plan(&self, task: &str) -> Result<Option<TaskPlan>> {
        task_plan(&self.conn, task)
    }

    /// The moves of a task's workers' plan (or, with `review`, of its reviewers'), by input.
    pub fn plan_moves(&self, task: &str, review: bool) -> Result<HashMap<String, Vec<Move>>> {
        plan_moves(&self.conn, task, review)
    }

    /// Visits the inputs a source selects, in id order, until `visit` returns false.
    pub fn each_input(&self, source: &Source, visit: impl FnMut(&str) -> bool) -> Result<()> {
        each_input(&self.conn, source, "", visit)
    }

    /// [`Store::each_input`] from input `from` on.
    pub fn each_input_from(
        &self,
        source: &Source,
        from: &str,
        visit: impl FnMut(&str) -> bool,
    ) -> Result<()> {
        each_input(&self.conn, source, from, visit)
    }

    /// Whether a source selects an input.
    pub fn in_source(&self, source: &Source, input: &str) -> Result<bool> {
        in_source(&self.conn, source, input)
    }
}

impl Writer<'_> {
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
        each_input(self.conn, source, "", |id| {
            ids.push(id.to_owned());
            true
        })?;
        Ok(ids)
    }

    /// Writes the plan of a task that has none ([`Writer::delete_plan`]). A plan over no input
    /// is not stored: [`task_plan`] gives `None` for it, and its readers make the empty plan.
    pub fn insert_plan(&self, task: &str, plan: &TaskPlan) -> Result<()> {
        if plan.inputs == 0 {
            return Ok(());
        }
        let text = |quotas: &[u64]| serde_json::to_string(quotas).expect("numbers serialise");
        let review = plan.review.as_ref();
        let threshold = review.and_then(|r| r.sample.threshold.as_ref());
        self.conn
            .prepare_cached(
                "INSERT INTO task_plans (task, inputs, quotas, sample_hash, sample_id, sampled,
                     review_quotas)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                task,
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
            // Who the plan gives which input is new: every walk starts over.
            "DELETE FROM work_frontier WHERE task = ?1",
        ] {
            self.conn.prepare_cached(sql)?.execute([task])?;
        }
        Ok(())
    }
}
