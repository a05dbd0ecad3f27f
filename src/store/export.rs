//! What an export reads from the index: every input of a task that has work, with what the
//! replay derived for it (outcome, holders, current annotations) and its events, in input
//! order; and where the inputs of a source lie in their dataset files. Must not decide which
//! label is final: [`crate::export`] does.

use std::collections::HashSet;

use serde_json::value::RawValue;

use super::datasets::read_inputs;
use super::{Entry, Result, Store, StoreError};
use crate::inputs::InputRow;
use crate::plans::Source;
use crate::work::{Outcome, State};

/// One input of a task with work on it, as the last replay left it.
#[derive(Debug)]
pub struct WorkRow {
    pub input: String,
    pub outcome: Outcome,
    /// Each holder's (worker, state, effective submissions), by worker.
    pub holders: Vec<(String, State, u32)>,
    /// Each current annotation's (worker, state, line of its latest version), by worker, id.
    pub annotations: Vec<(String, State, u32)>,
    /// The input's events (`work_events.events`).
    pub events: String,
}

impl WorkRow {
    /// The input's events, to look annotations and decisions up in.
    pub fn entries(&self, task: &str) -> Result<Vec<Entry>> {
        serde_json::from_str(&self.events).map_err(|_| StoreError::CorruptBody(task.to_owned()))
    }
}

/// The JSON of the event a user wrote on a line, among an input's entries.
pub fn entry_data<'a>(entries: &'a [Entry], user: &str, line: u32) -> Option<&'a RawValue> {
    entries
        .iter()
        .find(|(u, l, _)| u == user && *l == line)
        .and_then(|(.., stored)| stored.data.as_deref())
}

/// A dataset file and the rows of the inputs an export wants from it.
#[derive(Debug)]
pub struct DatasetPlaces {
    pub file: String,
    pub rows: Vec<InputRow>,
}

fn outcome_of(n: i64) -> Option<Outcome> {
    Some(match n {
        0 => Outcome::Open,
        1 => Outcome::AwaitingReview,
        2 => Outcome::Approved,
        3 => Outcome::Rejected,
        _ => return None,
    })
}

impl Store {
    /// Visits every input of `task` that has work, in input id order.
    pub fn each_work_row(&self, task: &str, mut visit: impl FnMut(WorkRow)) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT w.input, w.outcome, coalesce(e.events, '[]'),
                 (SELECT json_group_array(json_array(s.worker, s.state, s.submissions))
                  FROM work_state s WHERE s.task = w.task AND s.input = w.input),
                 (SELECT json_group_array(json_array(a.worker, a.state, a.line))
                  FROM annotations a WHERE a.task = w.task AND a.input = w.input)
             FROM work_inputs w LEFT JOIN work_events e ON e.task = w.task AND e.input = w.input
             WHERE w.task = ?1 ORDER BY w.input",
        )?;
        let mut rows = stmt.query([task])?;
        let corrupt = || StoreError::CorruptBody(task.to_owned());
        let triples = |text: &str| -> Result<Vec<(String, State, u32)>> {
            let raw: Vec<(String, i64, u32)> = serde_json::from_str(text).map_err(|_| corrupt())?;
            raw.into_iter()
                .map(|(w, s, n)| Ok((w, State::from_i64(s).ok_or_else(corrupt)?, n)))
                .collect()
        };
        while let Some(r) = rows.next()? {
            let mut holders = triples(r.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?)?;
            holders.sort();
            let mut annotations = triples(r.get_ref(4)?.as_str().map_err(rusqlite::Error::from)?)?;
            annotations.sort();
            visit(WorkRow {
                input: r.get(0)?,
                outcome: outcome_of(r.get(1)?).ok_or_else(corrupt)?,
                holders,
                annotations,
                events: r.get(2)?,
            });
        }
        Ok(())
    }

    /// The state of every assignment `worker` holds on `task` with work on it, by input (an
    /// import checks each annotation's input against it).
    pub fn worker_states(&self, task: &str, worker: &str) -> Result<Vec<(String, State)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT input, state FROM work_state WHERE task = ?1 AND worker = ?2 ORDER BY input",
        )?;
        let corrupt = || StoreError::CorruptBody(task.to_owned());
        let mut rows = stmt.query([task, worker])?;
        let mut found = Vec::new();
        while let Some(r) = rows.next()? {
            let state = State::from_i64(r.get(1)?).ok_or_else(corrupt)?;
            found.push((r.get(0)?, state));
        }
        Ok(found)
    }

    /// Where the inputs a source selects lie: their dataset files in dataset id order, each
    /// with the rows of the inputs it is the first dataset (by id) to list, as
    /// [`Store::input_text`] finds an input.
    pub fn source_places(&self, source: &Source) -> Result<Vec<DatasetPlaces>> {
        let sql = match source {
            Source::Nothing => return Ok(Vec::new()),
            Source::Dataset(_) => "SELECT key, file FROM datasets WHERE id = ?1",
            Source::All | Source::Input(_) => {
                "SELECT key, file FROM datasets WHERE ?1 IS NOT NULL ORDER BY id"
            }
        };
        let arg = match source {
            Source::Dataset(id) | Source::Input(id) => id.as_str(),
            Source::All | Source::Nothing => "",
        };
        let mut stmt = self.conn.prepare_cached(sql)?;
        let datasets =
            stmt.query_map([arg], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let datasets: Vec<_> = datasets.collect::<rusqlite::Result<_>>()?;
        let mut seen = HashSet::new();
        let mut places = Vec::with_capacity(datasets.len());
        let several = datasets.len() > 1;
        for (key, file) in datasets {
            let mut rows = read_inputs(&self.conn, key)?;
            rows.retain(|row| match source {
                Source::Input(id) => row.id == *id && seen.insert(row.id.clone()),
                Source::All => !several || seen.insert(row.id.clone()),
                Source::Dataset(_) | Source::Nothing => true,
            });
            places.push(DatasetPlaces { file, rows });
        }
        Ok(places)
    }
}
