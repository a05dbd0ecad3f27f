//! Dataset files: `inputs/<dataset_id>.jsonl` (one Input JSON a line) and `.csv` (a header
//! row with an `id` column), turned into validated input rows with diagnostics at file:line.
//! Pure: must not do I/O or know the index; [`crate::files`] reads, [`crate::sync`] stores.
//!
//! A bad line is left out and reported; the file's other lines are kept. Only a problem with
//! the whole file (too large, a CSV header without `id`) keeps none of its lines, and then
//! the sync keeps what the index had for the dataset, as it keeps an invalid task's last valid
//! version.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::layout::Format;
use crate::validate::{self, Diagnostic, Location};

/// The largest dataset file read: room for 1,000,000 inputs of 500 bytes each. A file is read
/// into memory whole, so this also bounds what one sync holds.
pub const MAX_DATASET_BYTES: u64 = 512 << 20;

/// At most this many bad lines of one file are reported one by one; the rest are counted.
pub const MAX_LINE_DIAGNOSTICS: usize = 100;

/// Said of every bad line, so that nobody takes the dataset for lost.
const LEFT_OUT: &str = "this line is left out; the file's valid lines are indexed";

/// The dataset a file defines: its name without the extension, which must be an id.
pub fn dataset_id(path: &str) -> Result<&str, Diagnostic> {
    let stem = crate::layout::stem(path);
    validate::check_id(stem).map(|()| stem).map_err(|e| {
        Diagnostic::error("", format!("the file name does not make a dataset id: {e}"))
            .hint("rename the file: a dataset's id is its file name without the extension")
    })
}

/// One input of a dataset: its id and where its line (or CSV record) lies in the file, so its
/// text can be passed through without the index keeping a copy. The place is a line number,
/// not a byte offset, so that a line edited in place moves no other input: the bytes are found
/// through the file's [`Dataset::blocks`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRow {
    pub id: String,
    /// The line its text starts on, from 1.
    pub line: u32,
    /// Its text's length in bytes, without the line break.
    pub len: u32,
}

/// A dataset file after reading: its inputs, sorted by id and distinct, its diagnostics in
/// line order, and where its blocks of lines start.
#[derive(Debug, Default, PartialEq)]
pub struct Dataset {
    pub inputs: Vec<InputRow>,
    pub diagnostics: Vec<Diagnostic>,
    /// The byte offsets of lines 1, 1 + [`LINES_PER_BLOCK`], 1 + 2 × it, ..., then the file's
    /// length: [`text_of`] finds a line from them by reading one block.
    pub blocks: Vec<u64>,
}

/// Lines to a block: a line is found by reading at most this many lines of its file, and a
/// dataset's blocks take 8 bytes per this many inputs in the index.
pub const LINES_PER_BLOCK: usize = 256;

/// [`Dataset::blocks`] of a file's bytes.
fn blocks(bytes: &[u8]) -> Vec<u64> {
    let mut blocks = Vec::with_capacity(bytes.len() / (LINES_PER_BLOCK * 64) + 2);
    blocks.push(0);
    // Counting a chunk's line breaks is a vector loop; only a chunk that ends a block is
    // searched byte by byte.
    const CHUNK: usize = 4096;
    let mut lines = 0;
    for (c, chunk) in bytes.chunks(CHUNK).enumerate() {
        let here = chunk.iter().filter(|b| **b == b'\n').count();
        if (lines % LINES_PER_BLOCK) + here < LINES_PER_BLOCK {
            lines += here;
            continue;
        }
        for (i, b) in chunk.iter().enumerate() {
            if *b == b'\n' {
                lines += 1;
                if lines % LINES_PER_BLOCK == 0 {
                    blocks.push((c * CHUNK + i + 1) as u64);
                }
            }
        }
    }
    blocks.push(bytes.len() as u64);
    blocks
}

/// Where to read a row's text: `(offset, length)` of the bytes from the start of its block
/// to the end of its text, given the block's start and the next one's (or the file's end).
pub fn span_of(row: &InputRow, block_start: u64, next_start: u64) -> (u64, usize) {
    let len = next_start.saturating_sub(block_start) + u64::from(row.len) + 1;
    (block_start, len as usize)
}

/// The block of [`Dataset::blocks`] a line is in.
pub fn block_of(line: u32) -> usize {
    (line.saturating_sub(1) as usize) / LINES_PER_BLOCK
}

/// A row's text within the bytes [`span_of`] names: `None` when they are too short, as when
/// the file changed after it was indexed.
pub fn text_of<'a>(row: &InputRow, span: &'a [u8]) -> Option<&'a [u8]> {
    let skip = (row.line.saturating_sub(1) as usize) % LINES_PER_BLOCK;
    let mut start = 0;
    for _ in 0..skip {
        start += span.get(start..)?.iter().position(|b| *b == b'\n')? + 1;
    }
    span.get(start..start + row.len as usize)
}

/// The error of a dataset file over [`MAX_DATASET_BYTES`].
pub fn too_large(size: u64) -> Diagnostic {
    Diagnostic::error(
        "",
        format!("the file is {size} bytes; dataset files are limited to {MAX_DATASET_BYTES} bytes"),
    )
    .hint("split the dataset into several files (each is a dataset of its own)")
}

/// Reads a dataset file's bytes. `Err` is a problem with the whole file: none of its lines
/// are read.
pub fn parse(format: Format, bytes: &[u8]) -> Result<Dataset, Diagnostic> {
    if bytes.len() as u64 > MAX_DATASET_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    let mut reader = Reader::default();
    match format {
        Format::Jsonl => jsonl(bytes, &mut reader),
        Format::Csv => csv(bytes, &mut reader)?,
    }
    Ok(reader.finish(blocks(bytes)))
}

/// An input as read, before duplicates are removed.
struct Read {
    row: InputRow,
    line: u32,
    column: u32,
}

#[derive(Default)]
struct Reader {
    read: Vec<Read>,
    diagnostics: Vec<Diagnostic>,
}

impl Reader {
    fn bad_line(&mut self, line: u32, column: u32, field: &str, message: impl Into<String>) {
        self.diagnostics.push(
            Diagnostic::error(field, message)
                .hint(LEFT_OUT)
                .at(Location { line, column }),
        );
    }

    /// Checks an id read at `at` and keeps its input, whose text starts on line `first` and
    /// is `len` bytes long.
    fn input(&mut self, id: Cow<'_, str>, at: Location, first: u32, len: usize) {
        match validate::check_id(&id) {
            Err(e) => self.bad_line(at.line, at.column, "id", e),
            Ok(()) => self.read.push(Read {
                row: InputRow {
                    id: id.into_owned(),
                    line: first,
                    len: len as u32,
                },
                line: at.line,
                column: at.column,
            }),
        }
    }

    fn finish(mut self, blocks: Vec<u64>) -> Dataset {
        // Stable: of two lines with one id, the first stays first.
        self.read.sort_by(|a, b| a.row.id.cmp(&b.row.id));
        let mut inputs: Vec<InputRow> = Vec::with_capacity(self.read.len());
        let mut first_line = 0;
        for read in self.read {
            match inputs.last() {
                Some(last) if last.id == read.row.id => {
                    let message = format!(
                        "input `{}` is listed twice in this dataset; its first line is {first_line}",
                        read.row.id
                    );
                    self.diagnostics.push(
                        Diagnostic::error("id", message)
                            .hint("remove one of the lines, or give this one another id")
                            .at(Location {
                                line: read.line,
                                column: read.column,
                            }),
                    );
                }
                _ => {
                    first_line = read.line;
                    inputs.push(read.row);
                }
            }
        }
        let mut diagnostics = self.diagnostics;
        diagnostics.sort_by_key(|d| d.location.map(|l| (l.line, l.column)));
        let bad = diagnostics.iter().filter(|d| d.is_error()).count();
        if bad > MAX_LINE_DIAGNOSTICS {
            let mut kept = 0;
            diagnostics.retain(|d| {
                kept += usize::from(d.is_error());
                !d.is_error() || kept <= MAX_LINE_DIAGNOSTICS
            });
            diagnostics.push(Diagnostic::error(
                "",
                format!(
                    "{} more lines have errors and are left out (only the first \
                     {MAX_LINE_DIAGNOSTICS} are listed); the file's valid lines are indexed",
                    bad - MAX_LINE_DIAGNOSTICS
                ),
            ));
        }
        Dataset {
            inputs,
            diagnostics,
            blocks,
        }
    }
}

/// The 1-based column, in characters, of byte `at` of `line`.
fn column(line: &str, at: usize) -> u32 {
    line[..at].chars().count() as u32 + 1
}

/// The fields of an input line the index needs (`id`); the rest is passed through as written,
/// but each top-level key must be one of the API's Input: serde would drop a misplaced `"url"`
/// (or a `metadata` the API keeps in `data`) without a word. The keys' list is
/// [`INPUT_KEYS`]; the dataset-line schema (`crate::schema`) is tested to hold the same.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
// The API's keys are named to be accepted, not read.
#[allow(dead_code)]
struct RawInput<'a> {
    #[serde(default, borrow)]
    id: Option<&'a RawValue>,
    #[serde(default)]
    data: IgnoredAny,
    #[serde(default)]
    created_at: IgnoredAny,
    #[serde(default)]
    modified_at: IgnoredAny,
    #[serde(default)]
    status: IgnoredAny,
    #[serde(default)]
    dataset_ids: IgnoredAny,
    #[serde(default)]
    settings: IgnoredAny,
}

/// The top-level keys of a dataset line, as [`RawInput`] reads them.
pub const INPUT_KEYS: [&str; 7] = [
    "id",
    "data",
    "created_at",
    "modified_at",
    "status",
    "dataset_ids",
    "settings",
];

/// The field and the hint of serde's "unknown field `x`, expected ..." of a dataset line.
fn unknown_key(message: &str) -> Option<(String, String)> {
    let key = message.strip_prefix("unknown field `")?.split('`').next()?;
    let hint = match validate::did_you_mean(key, INPUT_KEYS) {
        _ if key == "metadata" => "the API keeps an input's metadata in `data.metadata`".to_owned(),
        Some(known) => format!("did you mean `{known}`?"),
        None => format!(
            "an Input's keys are {}; an image's address is `data.image.url`",
            INPUT_KEYS.join(", ")
        ),
    };
    Some((key.to_owned(), hint))
}

fn jsonl(bytes: &[u8], reader: &mut Reader) {
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line_no = n as u32 + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = match std::str::from_utf8(line) {
            Ok(line) => line,
            Err(e) => {
                let column = column(
                    std::str::from_utf8(&line[..e.valid_up_to()]).unwrap_or_default(),
                    e.valid_up_to(),
                );
                reader.bad_line(line_no, column, "", "the line is not valid UTF-8");
                continue;
            }
        };
        let text = line.trim_start();
        if text.is_empty() {
            continue;
        }
        if !text.starts_with('{') {
            let at = line.len() - text.len();
            reader.bad_line(
                line_no,
                column(line, at),
                "",
                "each line must be one JSON object (an Input, `{\"id\": ...}`)",
            );
            continue;
        }
        let raw: RawInput = match serde_json::from_str(line) {
            Ok(raw) => raw,
            Err(e) => {
                // The line and column go in the location; serde_json's own are the line's.
                let text = e.to_string();
                let text = text.rfind(" at line ").map_or(&text[..], |i| &text[..i]);
                let unknown = unknown_key(text);
                // serde_json counts columns in bytes, and places an unknown key at its closing
                // quote: the column is its opening one's.
                let back = unknown.as_ref().map_or(0, |(key, _)| key.len() + 1);
                let at = e.column().saturating_sub(1 + back).min(line.len());
                let at = (0..=at)
                    .rev()
                    .find(|i| line.is_char_boundary(*i))
                    .unwrap_or(0);
                let at = Location {
                    line: line_no,
                    column: column(line, at),
                };
                let diagnostic = match unknown {
                    Some((key, hint)) => {
                        Diagnostic::error(&key, format!("unknown key `{key}`; {LEFT_OUT}"))
                            .hint(hint)
                    }
                    None => Diagnostic::error("", format!("not valid JSON: {text}")).hint(LEFT_OUT),
                };
                reader.diagnostics.push(diagnostic.at(at));
                continue;
            }
        };
        let Some(raw) = raw.id else {
            reader.bad_line(line_no, 1, "id", "the input has no `id`");
            continue;
        };
        let at = raw.get().as_ptr() as usize - line.as_ptr() as usize;
        let id: Option<Cow<str>> = serde_json::from_str::<&str>(raw.get())
            .map(Cow::Borrowed)
            .or_else(|_| serde_json::from_str::<String>(raw.get()).map(Cow::Owned))
            .ok();
        match id {
            Some(id) => {
                let at = Location {
                    line: line_no,
                    column: column(line, at),
                };
                reader.input(id, at, line_no, line.len());
            }
            None => reader.bad_line(
                line_no,
                column(line, at),
                "id",
                format!("id must be a string, not `{}`", raw.get()),
            ),
        }
    }
}

/// The positions of the header's columns named `want` (trimmed, in any case).
fn columns_named<'n>(names: &'n [&str], want: &'n str) -> impl Iterator<Item = usize> + 'n {
    names
        .iter()
        .enumerate()
        .filter(move |(_, n)| n.trim().eq_ignore_ascii_case(want))
        .map(|(i, _)| i)
}

/// A CSV record's Input JSON, its id first as in the API's examples.
#[derive(serde::Serialize)]
struct CsvInput<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<serde_json::Value>,
}

/// An input's Input JSON, from the text the index located for it: a JSON line as written,
/// every field kept; a CSV record as `{"id": ..., "data": {"image": {"url": ...}}}`, its
/// columns named by the file's first record, which `head` (the file's first bytes) holds.
/// `None` when the text is not that input's any more: the file changed after it was indexed.
pub fn input_json(format: Format, head: &[u8], text: &[u8], id: &str) -> Option<Box<RawValue>> {
    let text = std::str::from_utf8(text).ok()?;
    match format {
        Format::Jsonl => {
            let raw: RawInput = serde_json::from_str(text).ok()?;
            let same = serde_json::from_str::<Cow<str>>(raw.id?.get()).ok()? == id;
            same.then(|| RawValue::from_string(text.to_owned()).ok())?
        }
        Format::Csv => {
            // A cut in the middle of a character ends the head early, after its first row.
            let head = match std::str::from_utf8(head) {
                Ok(head) => head,
                Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
            };
            let header = Records::new(head.trim_start_matches('\u{feff}'))
                .next()?
                .ok()?;
            let names: Vec<&str> = header.fields.iter().map(|(n, _)| n.as_ref()).collect();
            let record = Records::new(text).next()?.ok()?;
            let field = |i: Option<usize>| i.and_then(|i| record.fields.get(i)).map(|f| &f.0);
            if field(columns_named(&names, "id").next())?.as_ref() != id {
                return None;
            }
            let url = field(columns_named(&names, "url").next()).filter(|url| !url.is_empty());
            let input = CsvInput {
                id,
                data: url.map(|url| serde_json::json!({"image": {"url": url}})),
            };
            serde_json::value::to_raw_value(&input).ok()
        }
    }
}

/// One CSV record: where it starts and how long it is, and its fields with their byte
/// offsets in the text.
struct Record<'a> {
    line: u32,
    start: usize,
    end: usize,
    fields: Vec<(Cow<'a, str>, usize)>,
}

/// A CSV record that cannot be read: where, and why.
struct CsvError {
    line: u32,
    at: usize,
    message: &'static str,
}

/// RFC 4180 records, read by hand: fields separated by `,`, records by `\n` or `\r\n`; a
/// field in double quotes may hold `,`, line breaks and `""` (one quote). A quote anywhere
/// else is an error rather than a guess. A record in error is skipped to its line's end.
struct Records<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
}

impl<'a> Records<'a> {
    fn new(text: &'a str) -> Records<'a> {
        Records {
            text,
            pos: 0,
            line: 1,
        }
    }

    /// The byte offset of the start of the line `at` is on.
    fn line_start(&self, at: usize) -> usize {
        self.text[..at].rfind('\n').map_or(0, |i| i + 1)
    }

    fn skip_line(&mut self) {
        match self.text[self.pos..].find('\n') {
            Some(i) => {
                self.pos += i + 1;
                self.line += 1;
            }
            None => self.pos = self.text.len(),
        }
    }

    fn record(&mut self) -> Result<Record<'a>, CsvError> {
        let text = self.text;
        let bytes = text.as_bytes();
        let (start, line) = (self.pos, self.line);
        let mut fields = Vec::new();
        loop {
            let field_start = self.pos;
            if bytes.get(self.pos) == Some(&b'"') {
                let opening_line = self.line;
                let mut value = String::new();
                let mut i = self.pos + 1;
                loop {
                    let Some(q) = text[i..].find('"') else {
                        self.line = opening_line;
                        self.pos = text.len();
                        return Err(CsvError {
                            line: opening_line,
                            at: field_start,
                            message: "this quoted field is never closed, so nothing after it \
                                      is read",
                        });
                    };
                    let chunk = &text[i..i + q];
                    self.line += chunk.matches('\n').count() as u32;
                    value.push_str(chunk);
                    i += q + 1;
                    if bytes.get(i) == Some(&b'"') {
                        value.push('"');
                        i += 1;
                    } else {
                        break;
                    }
                }
                self.pos = i;
                fields.push((Cow::Owned(value), field_start));
                match bytes.get(self.pos) {
                    Some(b',') => self.pos += 1,
                    Some(b'\n') | None => break,
                    Some(b'\r') if bytes.get(self.pos + 1) == Some(&b'\n') => break,
                    Some(_) => {
                        return Err(CsvError {
                            line: self.line,
                            at: self.pos,
                            message: "a closing quote must end its field: a `,` or the end of \
                                      the line must follow it",
                        });
                    }
                }
            } else {
                let end = text[self.pos..]
                    .find([',', '\n', '"'])
                    .map_or(text.len(), |i| self.pos + i);
                if bytes.get(end) == Some(&b'"') {
                    return Err(CsvError {
                        line: self.line,
                        at: end,
                        message: "a quote inside a field that does not start with one: quote \
                                  the whole field and double the quote (`\"a \"\"b\"\"\"`)",
                    });
                }
                let value = &text[self.pos..end];
                let value = if bytes.get(end) == Some(&b'\n') {
                    value.strip_suffix('\r').unwrap_or(value)
                } else {
                    value
                };
                fields.push((Cow::Borrowed(value), self.pos));
                self.pos = end;
                if bytes.get(end) == Some(&b',') {
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }
        let mut end = self.pos;
        if bytes.get(end) == Some(&b'\r') {
            self.pos += 1;
        }
        if bytes.get(self.pos) == Some(&b'\n') {
            self.pos += 1;
            self.line += 1;
        }
        if text[start..end].ends_with('\r') {
            end -= 1;
        }
        Ok(Record {
            line,
            start,
            end,
            fields,
        })
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, CsvError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.pos >= self.text.len() {
                return None;
            }
            let rest = &self.text[self.pos..];
            // Blank lines separate nothing: skipped.
            if rest.starts_with('\n') || rest.starts_with("\r\n") {
                self.skip_line();
                continue;
            }
            let result = self.record();
            if result.is_err() {
                self.skip_line();
            }
            return Some(result);
        }
    }
}

fn csv(bytes: &[u8], reader: &mut Reader) -> Result<(), Diagnostic> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u32
            + 1;
        Diagnostic::error("", "the file is not valid UTF-8")
            .hint("save the CSV as UTF-8")
            .at(Location { line, column: 1 })
    })?;
    let offset = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut records = Records::new(text);
    records.pos = offset;
    let located = |records: &Records, line: u32, at: usize| {
        let start = records.line_start(at).max(offset);
        Location {
            line,
            column: column(&text[start..], at - start),
        }
    };
    let header = match records.next() {
        None => return Ok(()),
        Some(Err(e)) => {
            return Err(
                Diagnostic::error("", format!("the header row: {}", e.message))
                    .at(located(&records, e.line, e.at)),
            );
        }
        Some(Ok(header)) => header,
    };
    let names: Vec<&str> = header.fields.iter().map(|(n, _)| n.trim()).collect();
    let find = |want: &str| -> Result<Option<usize>, Diagnostic> {
        let mut found = columns_named(&names, want);
        let first = found.next();
        if let Some(i) = found.next() {
            return Err(Diagnostic::error(
                "",
                format!("the header row names the `{want}` column twice"),
            )
            .at(located(&records, header.line, header.fields[i].1)));
        }
        Ok(first)
    };
    let Some(id_col) = find("id")? else {
        let mut d = Diagnostic::error(
            "",
            format!(
                "the header row has no `id` column (it has {})",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .at(Location {
            line: header.line,
            column: 1,
        });
        d = match validate::did_you_mean("id", names.iter().copied()) {
            Some(close) => d.hint(format!("rename the column `{close}` to `id`")),
            None => d.hint("the first row of a CSV dataset names its columns: `id,url`"),
        };
        return Err(d);
    };
    let url_col = find("url")?;
    for (i, (name, at)) in header.fields.iter().enumerate() {
        if i != id_col && Some(i) != url_col {
            reader.diagnostics.push(
                Diagnostic::warning(
                    "",
                    format!("the column `{}` is not read: a CSV dataset gives each input an `id` and a `url`", name.trim()),
                )
                .hint("use a .jsonl dataset to keep other fields with each input")
                .at(located(&records, header.line, *at)),
            );
        }
    }
    while let Some(record) = records.next() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let at = located(&records, e.line, e.at);
                reader.bad_line(at.line, at.column, "", e.message);
                continue;
            }
        };
        if record.fields.len() != names.len() {
            let at = located(&records, record.line, record.start);
            reader.bad_line(
                at.line,
                at.column,
                "",
                format!(
                    "the row has {} fields; the header row has {}",
                    record.fields.len(),
                    names.len()
                ),
            );
            continue;
        }
        let (id, at) = &record.fields[id_col];
        let at = located(&records, record.line, *at);
        reader.input(id.clone(), at, record.line, record.end - record.start);
    }
    Ok(())
}

/// The part of an Input's JSON that names its file.
#[derive(Deserialize)]
struct InputFile {
    #[serde(default)]
    data: Option<InputData>,
}

#[derive(Deserialize)]
struct InputData {
    #[serde(default)]
    image: Option<Url>,
    #[serde(default)]
    text: Option<Url>,
}

#[derive(Deserialize)]
struct Url {
    #[serde(default)]
    url: Option<String>,
}

/// The URL an Input's JSON names for its content: its image's, else its text's.
pub fn file_url(input: &str) -> Option<String> {
    let input: InputFile = serde_json::from_str(input).ok()?;
    let data = input.data?;
    data.image
        .and_then(|i| i.url)
        .or_else(|| data.text.and_then(|t| t.url))
        .filter(|u| !u.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `text` and shows the result in one line a test can compare: the kept ids with
    /// their `line+len`, then each diagnostic as `line:column severity field: message`.
    fn show(format: Format, text: &str) -> String {
        match parse(format, text.as_bytes()) {
            Err(d) => format!("FILE {}", one(&d)),
            Ok(dataset) => {
                let mut parts: Vec<String> = dataset
                    .inputs
                    .iter()
                    .map(|i| format!("{}@{}+{}", i.id, i.line, i.len))
                    .collect();
                parts.extend(dataset.diagnostics.iter().map(one));
                parts.join(" | ")
            }
        }
    }

    fn one(d: &Diagnostic) -> String {
        let at = d
            .location
            .map_or(String::new(), |l| format!("{}:{} ", l.line, l.column));
        let field = if d.field.is_empty() {
            String::new()
        } else {
            format!("{}: ", d.field)
        };
        format!("{at}{} {field}{}", d.severity, d.message)
    }

    #[track_caller]
    fn check(format: Format, text: &str, expected: &str) {
        assert_eq!(show(format, text), expected, "{text:?}");
    }

    use crate::layout::format_of;
    use Format::{Csv, Jsonl};

    #[test]
    fn jsonl_lines() {
        check(Jsonl, "", "");
        check(Jsonl, "\n\n", "");
        check(Jsonl, r#"{"id": "a"}"#, "a@1+11");
        check(
            Jsonl,
            "{\"id\": \"b\"}\r\n{\"id\":\"a\"}\n",
            "a@2+10 | b@1+11",
        );
        check(
            Jsonl,
            r#"{"id": "a", "data": {"image": {"url": "https://x/1.jpg"}}, "settings": {"k": [1]}}"#,
            "a@1+82",
        );
        check(Jsonl, r#"{"id": "a\u0062"}"#, "ab@1+17");
        check(Jsonl, "  {\"id\": \"a\"}  ", "a@1+15");
        check(
            Jsonl,
            "{\"id\": \"a\"}\n{\"id\": \"b\"\n{\"id\": \"c\"}",
            "a@1+11 | c@3+11 | 2:10 error not valid JSON: EOF while parsing an object",
        );
        check(
            Jsonl,
            "{}\n{\"data\": {}}",
            "1:1 error id: the input has no `id` | 2:1 error id: the input has no `id`",
        );
        check(
            Jsonl,
            r#"{"id": 7}"#,
            "1:8 error id: id must be a string, not `7`",
        );
        check(
            Jsonl,
            r#"{"id": null}"#,
            "1:1 error id: the input has no `id`",
        );
        check(
            Jsonl,
            r#"{"id": "a b"}"#,
            "1:8 error id: id `a b` contains ' '; ids use only letters, digits, `-` and `_`",
        );
        check(Jsonl, r#"{"id": ""}"#, "1:8 error id: id is empty");
        check(
            Jsonl,
            "[\"a\"]\n\"a\"",
            "1:1 error each line must be one JSON object (an Input, `{\"id\": ...}`) | \
             2:1 error each line must be one JSON object (an Input, `{\"id\": ...}`)",
        );
        check(
            Jsonl,
            r#"{"id": "a", "id": "b"}"#,
            "1:16 error not valid JSON: duplicate field `id`",
        );
        check(
            Jsonl,
            "{\"id\": \"é\", \"settings\": tru}",
            "1:28 error not valid JSON: expected ident",
        );
        // A key the API's Input has not is refused at its line, not dropped.
        let unknown = "this line is left out; the file's valid lines are indexed";
        check(
            Jsonl,
            "{\"id\": \"a\", \"url\": \"https://x/1.jpg\"}\n{\"id\": \"b\"}",
            &format!("b@2+11 | 1:13 error url: unknown key `url`; {unknown}"),
        );
        check(
            Jsonl,
            "{\"id\": \"a\", \"dta\": {}}",
            &format!("1:13 error dta: unknown key `dta`; {unknown}"),
        );
        check(
            Jsonl,
            "{\"id\": \"a\"}\n{\"id\": \"b\"}\n{\"id\": \"a\"}",
            "a@1+11 | b@2+11 | 3:8 error id: input `a` is listed twice in this dataset; its first line is 1",
        );
    }

    #[test]
    fn jsonl_bytes_that_are_not_text() {
        let dataset = parse(Jsonl, b"{\"id\": \"a\"}\n{\"id\": \"\xff\"}\n").unwrap();
        assert_eq!(dataset.inputs.len(), 1);
        assert_eq!(
            one(&dataset.diagnostics[0]),
            "2:9 error the line is not valid UTF-8"
        );
    }

    #[test]
    fn csv_records() {
        check(Csv, "", "");
        check(Csv, "id\n", "");
        check(Csv, "id\na\nb", "a@2+1 | b@3+1");
        check(Csv, "\u{feff}id,url\r\na,http://x/a.jpg\r\n", "a@2+16");
        check(Csv, "url,id\nhttp://x,a\n", "a@2+10");
        check(Csv, "ID , Url\na,\n", "a@2+2");
        check(Csv, "id,url\n\na,x\n\n", "a@3+3");
        // Quoted fields hold commas, doubled quotes and line breaks; lines are counted through.
        check(
            Csv,
            "id,url\n\"a\",\"http://x/?q=1,2\"\n\"b\",\"line\nbreak \"\"q\"\"\"\nc c,x\n",
            "a@2+21 | b@3+22 | 5:1 error id: id `c c` contains ' '; ids use only letters, digits, `-` and `_`",
        );
        check(
            Csv,
            "id,url\na\nb,x,y\nc,x\n",
            "c@4+3 | 2:1 error the row has 1 fields; the header row has 2 | 3:1 error the row has 3 fields; the header row has 2",
        );
        check(
            Csv,
            "id\na\"b\nc\n",
            "c@3+1 | 2:2 error a quote inside a field that does not start with one: quote the whole field and double the quote (`\"a \"\"b\"\"\"`)",
        );
        check(
            Csv,
            "id\n\"a\"b\nc\n",
            "c@3+1 | 2:4 error a closing quote must end its field: a `,` or the end of the line must follow it",
        );
        check(
            Csv,
            "id\na\n\"b\nc\n",
            "a@2+1 | 3:1 error this quoted field is never closed, so nothing after it is read",
        );
        check(
            Csv,
            "id,url\na,1\nb,2\na,3\n",
            "a@2+3 | b@3+3 | 4:1 error id: input `a` is listed twice in this dataset; its first line is 2",
        );
        check(
            Csv,
            "id,url,caption\na,x,y\n",
            "a@2+5 | 1:8 warning the column `caption` is not read: a CSV dataset gives each input an `id` and a `url`",
        );
        check(
            Csv,
            "name,url\na,x\n",
            "FILE 1:1 error the header row has no `id` column (it has `name`, `url`)",
        );
        check(
            Csv,
            "ids,url\na,x\n",
            "FILE 1:1 error the header row has no `id` column (it has `ids`, `url`)",
        );
        check(
            Csv,
            "id,url,id\na,x,a\n",
            "FILE 1:8 error the header row names the `id` column twice",
        );
        check(
            Csv,
            "\"id\n",
            "FILE 1:1 error the header row: this quoted field is never closed, so nothing after it is read",
        );
    }

    #[test]
    fn a_csv_that_is_not_text_is_refused_whole() {
        let shown = match parse(Csv, b"id\na\n\xff\n") {
            Err(d) => one(&d),
            Ok(d) => panic!("{d:?}"),
        };
        assert_eq!(shown, "3:1 error the file is not valid UTF-8");
    }

    #[test]
    fn many_bad_lines_are_counted_after_the_first_hundred() {
        let text: String = (0..250).map(|i| format!("{{\"id\": {i}}}\n")).collect();
        let dataset = parse(Jsonl, format!("{text}{{\"id\": \"ok\"}}").as_bytes()).unwrap();
        assert_eq!(dataset.inputs.len(), 1, "the good line is kept");
        assert_eq!(dataset.diagnostics.len(), MAX_LINE_DIAGNOSTICS + 1);
        assert_eq!(
            dataset.diagnostics.last().unwrap().message,
            "150 more lines have errors and are left out (only the first 100 are listed); \
             the file's valid lines are indexed"
        );
    }

    /// Each kept input's Input JSON, read back from where the parse located it.
    #[track_caller]
    fn check_json(format: Format, text: &str, expected: &[&str]) {
        let dataset = parse(format, text.as_bytes()).unwrap();
        let read: Vec<String> = dataset
            .inputs
            .iter()
            .map(|i| {
                let (start, next) = (
                    dataset.blocks[block_of(i.line)],
                    dataset.blocks[block_of(i.line) + 1],
                );
                let (offset, len) = span_of(i, start, next);
                let span = &text.as_bytes()[offset as usize..text.len().min(offset as usize + len)];
                input_json(format, text.as_bytes(), text_of(i, span).unwrap(), &i.id)
                    .map_or("NONE".to_owned(), |j| j.get().to_owned())
            })
            .collect();
        assert_eq!(read, expected, "{text:?}");
    }

    #[test]
    fn inputs_read_back_as_input_json() {
        check_json(
            Jsonl,
            "{\"id\": \"b\", \"settings\": {\"k\": [1]}}\r\n  {\"id\":\"a\"}\n",
            &[r#"{"id":"a"}"#, r#"{"id": "b", "settings": {"k": [1]}}"#],
        );
        check_json(Jsonl, r#"{"id": "a\u0062"}"#, &[r#"{"id": "a\u0062"}"#]);
        check_json(
            Csv,
            "\u{feff}URL , Id\r\nhttp://x/?q=1,a\r\n\"http://y\",\"b\"\n,c\n",
            &[
                r#"{"id":"a","data":{"image":{"url":"http://x/?q=1"}}}"#,
                r#"{"id":"b","data":{"image":{"url":"http://y"}}}"#,
                r#"{"id":"c"}"#,
            ],
        );
        check_json(Csv, "id\na\n", &[r#"{"id":"a"}"#]);
    }

    #[test]
    fn every_line_is_found_through_the_blocks() {
        // Lines of every length, some longer than a chunk of the block count, some blank, so
        // that blocks end in every kind of chunk.
        let mut seed = 7u64;
        let mut text = String::new();
        let mut expected = Vec::new();
        for i in 0..3000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let pad = match seed >> 60 {
                0 => 5000,
                1 => {
                    text.push('\n');
                    0
                }
                n => n as usize,
            };
            let line = format!(
                "{{\"id\": \"i{i:04}\", \"settings\": \"{}\"}}",
                "x".repeat(pad)
            );
            text.push_str(&line);
            text.push('\n');
            expected.push(line);
        }
        let dataset = parse(Jsonl, text.as_bytes()).unwrap();
        assert_eq!(dataset.inputs.len(), 3000);
        assert_eq!(*dataset.blocks.last().unwrap(), text.len() as u64);
        for (row, line) in dataset.inputs.iter().zip(&expected) {
            let b = block_of(row.line);
            let (offset, len) = span_of(row, dataset.blocks[b], dataset.blocks[b + 1]);
            let end = text.len().min(offset as usize + len);
            let found = text_of(row, &text.as_bytes()[offset as usize..end]).unwrap();
            assert_eq!(std::str::from_utf8(found).unwrap(), line, "{row:?}");
        }
    }

    #[test]
    fn a_line_that_changed_since_it_was_indexed_is_not_taken_for_the_input() {
        let cases: [(Format, &str, &str); 4] = [
            (Jsonl, r#"{"id": "b"}"#, ""),
            (Jsonl, r#"{"id": "a""#, ""),
            (Csv, "b,http://x", "id,url\n"),
            (Csv, "a,http://x", "name,url\n"),
        ];
        for (format, text, head) in cases {
            assert!(
                input_json(format, head.as_bytes(), text.as_bytes(), "a").is_none(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn line_order_does_not_change_the_inputs() {
        let lines: Vec<String> = (0..50).map(|i| format!("{{\"id\": \"in-{i}\"}}")).collect();
        let ids = |lines: &[String]| -> Vec<String> {
            let text = lines.join("\n");
            let dataset = parse(Jsonl, text.as_bytes()).unwrap();
            dataset.inputs.into_iter().map(|i| i.id).collect()
        };
        let mut reversed = lines.clone();
        reversed.reverse();
        assert_eq!(ids(&lines), ids(&reversed));
        let mut sorted = ids(&lines);
        sorted.sort();
        assert_eq!(ids(&lines), sorted);
    }

    #[test]
    fn names() {
        for (name, expected) in [
            ("a.jsonl", Some(Jsonl)),
            ("a.JSONL", Some(Jsonl)),
            ("a.csv", Some(Csv)),
            ("a.json", None),
            (".a.jsonl", None),
            ("a.jsonl~", None),
            ("jsonl", None),
        ] {
            assert_eq!(format_of(name), expected, "{name}");
        }
        assert_eq!(dataset_id("inputs/birds-2024.jsonl"), Ok("birds-2024"));
        assert_eq!(
            dataset_id("inputs/birds 2024.csv").unwrap_err().message,
            "the file name does not make a dataset id: id `birds 2024` contains ' '; ids use only letters, digits, `-` and `_`"
        );
    }

    #[test]
    fn urls_of_inputs() {
        assert_eq!(
            file_url(r#"{"id":"a","data":{"image":{"url":"images/a.png"}}}"#).as_deref(),
            Some("images/a.png")
        );
        assert_eq!(
            file_url(r#"{"id":"a","data":{"text":{"url":"t/a.txt"}}}"#).as_deref(),
            Some("t/a.txt")
        );
        assert_eq!(file_url(r#"{"id":"a","data":{"text":{"raw":"hi"}}}"#), None);
        assert_eq!(file_url(r#"{"id":"a"}"#), None);
    }
}
