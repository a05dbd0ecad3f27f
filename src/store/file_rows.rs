//! The task files' rows: what the index remembers of each file (size, mtime, the id it claims,
//! conflicts), listed in path order for a sync, and each file's diagnostics. Must not know a
//! task's contents.

use std::collections::HashMap;

use rusqlite::params;

use super::{Result, Store, Writer};
use crate::validate::{Diagnostic, Location, Report, Severity};

/// A `files` row to write: path, size, mtime, claim, and counts of errors and warnings.
pub(super) type FileRow<'a> = (&'a str, u64, i64, Option<&'a str>, (usize, usize));

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
    pub(super) fn with_capacity(count: usize) -> KnownFiles {
        KnownFiles {
            text: String::with_capacity(count * 128),
            files: Vec::with_capacity(count),
        }
    }

    pub(super) fn push(&mut self, file: KnownFile<'_>) {
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

/// The statement reading the file rows that match `filter`.
fn files_where(filter: &str) -> String {
    format!("SELECT path, size, mtime_ns, claim, conflict, errors > 0 FROM files WHERE {filter}")
}

/// The rows of the files in an id conflict, which a sync of a few paths reads again.
const CONFLICTED: &str = "conflict";

impl Store {
    /// Whether the index has a row for any task file.
    pub fn knows_task_files(&self) -> Result<bool> {
        Ok(self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM files)", [], |r| r.get(0))?)
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
        self.query_files(CONFLICTED, &[], &mut add)?;
        Ok(states)
    }

    pub(super) fn query_files(
        &self,
        filter: &str,
        args: &[&str],
        mut visit: impl FnMut(KnownFile<'_>),
    ) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(&files_where(filter))?;
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

    /// Every file with diagnostics, in path order; with `errors_only`, just the invalid ones.
    pub fn reports(&self, errors_only: bool) -> Result<Vec<Report>> {
        self.query_reports("f.errors > 0 OR NOT ?1", [errors_only])
    }

    /// The work files with lines the replay warns about (lines not counted for breaking a
    /// rule the API enforces; DYNAMIC hand-outs of one input to two people), with the warnings.
    pub fn work_warnings(&self) -> Result<Vec<Report>> {
        self.query_reports("d.part = 1", [])
    }

    /// The diagnostics of one file, if it has any.
    pub fn file_report(&self, path: &str) -> Result<Option<Report>> {
        Ok(self.query_reports("d.file = ?1", [path])?.pop())
    }

    pub(super) fn query_reports(
        &self,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<Report>> {
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

impl Writer<'_> {
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
        let counts = (errors, diagnostics.len() - errors);
        self.insert_file_rows(&[(path, size, mtime_ns, claim, counts)])?;
        self.replace_diagnostics(path, diagnostics)
    }

    pub(super) fn insert_file_rows(&mut self, rows: &[FileRow<'_>]) -> Result<()> {
        self.file_rows.insert(
            self.conn,
            rows,
            |stmt, first, (path, size, mtime_ns, claim, (errors, warnings))| {
                stmt.raw_bind_parameter(first, path)?;
                stmt.raw_bind_parameter(first + 1, *size as i64)?;
                stmt.raw_bind_parameter(first + 2, mtime_ns)?;
                stmt.raw_bind_parameter(first + 3, claim)?;
                stmt.raw_bind_parameter(first + 4, *errors as i64)?;
                Ok(stmt.raw_bind_parameter(first + 5, *warnings as i64)?)
            },
        )
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
    pub(super) fn replace_diagnostics(&self, path: &str, diagnostics: &[Diagnostic]) -> Result<()> {
        // A load into an empty index has none to replace.
        if !self.fresh {
            self.forget_diagnostics(path)?;
        }
        for (seq, d) in diagnostics.iter().enumerate() {
            self.insert_diagnostic(path, seq as i64, d)?;
        }
        Ok(())
    }

    pub(super) fn forget_diagnostics(&self, path: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM diagnostics WHERE file = ?1")?
            .execute([path])?;
        Ok(())
    }

    pub(super) fn insert_diagnostic(&self, path: &str, seq: i64, d: &Diagnostic) -> Result<()> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write under a watcher syncs its own paths and the conflicted files: finding those
    /// must not read every file row (`files_conflict`, a partial index), or each write costs
    /// more as the project grows.
    #[test]
    fn conflicted_files_are_found_without_a_scan() {
        let store = Store::open_in_memory().unwrap();
        let plan: Vec<String> = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", files_where(CONFLICTED)))
            .unwrap()
            .query_map([], |r| r.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(plan, ["SCAN files USING INDEX files_conflict"]);
    }
}
