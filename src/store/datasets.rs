//! The dataset files' rows and their inputs: each input's id and where its line lies (in blocks
//! of lines), so its text is read from the file, never copied. Must not parse a dataset.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, Store, Writer, dataset_key};
use crate::inputs::{self, Dataset, InputRow};
use crate::validate::Diagnostic;

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

/// Where an input's text lies: its file, its row, and the `(offset, length)` of the bytes
/// that hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputText {
    pub file: String,
    pub row: InputRow,
    pub span: (u64, usize),
}

pub(super) fn encode_blocks(blocks: &[u64]) -> Vec<u8> {
    blocks.iter().flat_map(|b| b.to_le_bytes()).collect()
}

pub(super) fn decode_blocks(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("chunks of 8")))
        .collect()
}

/// A dataset's input rows, in id order.
pub(super) fn read_inputs(conn: &Connection, key: i64) -> Result<Vec<InputRow>> {
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

impl Store {
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
        let key = dataset_key(&self.conn, dataset)?;
        key.map(|key| read_inputs(&self.conn, key)).transpose()
    }
}

impl Writer<'_> {
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
        let key = dataset_key(self.conn, id)?;
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

    pub(super) fn insert_input(&mut self, dataset: i64, row: &InputRow) -> Result<()> {
        self.insert_input
            .execute(params![dataset, row.id, row.line, row.len])?;
        Ok(())
    }

    /// Removes a dataset and its inputs; how many inputs it had.
    pub fn delete_dataset(&self, id: &str) -> Result<u64> {
        let key = dataset_key(self.conn, id)?;
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
}
