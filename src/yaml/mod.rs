//! The only module that parses or writes YAML (and the JSON request bodies that share its error
//! reporting). Owns turning text into documents and errors into located diagnostics; must not
//! touch the file system or the index.
//!
//! Three readers, for speed without losing locations: [`fast`] reads the plain subset of YAML
//! that nearly every task file is written in, about three times faster than libyaml; `yaml_serde`
//! (libyaml) decodes whatever it leaves, and reports every decoding error; only when a document
//! has a problem is it walked again with `saphyr-parser`, whose events carry the line and column
//! of every key and value, to place each diagnostic on the offending key.

mod core;
mod edit;
mod fast;

pub use edit::{edit, set_id};

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::model::{Task, TaskDoc};
use crate::validate::{Diagnostic, Location, did_you_mean};

/// Larger task files are refused unread: a real task is a few hundred bytes.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Reads one task document. A document that does not decode yields one located error (decoding
/// stops at the first structural problem; rule checks in [`crate::validate`] report them all).
///
/// A file with no content is an error rather than an empty document: editors truncate a file
/// before writing it, and an empty document would claim its file name as the id, giving up the
/// task the file defined. As an error, the index keeps the task's last valid version.
pub fn parse_task(bytes: &[u8]) -> Result<TaskDoc, Diagnostic> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    let doc = parse_document(bytes, Format::Yaml)?;
    if doc == TaskDoc::default() && std::str::from_utf8(bytes).is_ok_and(is_blank) {
        return Err(Diagnostic::error("", "the file is empty")
            .hint("write a task, e.g. `type: CONCEPTS_CLASSIFICATION`, or delete the file")
            .at(Location { line: 1, column: 1 }));
    }
    Ok(doc)
}

/// The id named by a top-level `id:` line, read from the text without decoding it, for a file
/// that does not decode: while it is broken it still claims the id it names. None when no such
/// line exists; `Some(None)` when one does but its value cannot be told.
pub fn sniff_id(bytes: &[u8]) -> Option<Option<&str>> {
    let bytes = bytes.strip_prefix(BOM.as_bytes()).unwrap_or(bytes);
    let line = bytes
        .split(|b| *b == b'\n')
        .find_map(|line| line.strip_prefix(b"id:"))?;
    let Ok(value) = std::str::from_utf8(line) else {
        return Some(None);
    };
    let value = value.split(" #").next().unwrap_or_default().trim();
    let value = ['"', '\'']
        .iter()
        .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
        .unwrap_or(value);
    Some(Some(value).filter(|v| !v.is_empty()))
}

/// The UTF-8 byte-order mark, which some editors write at the start of a file.
const BOM: &str = "\u{feff}";

/// A leading byte-order mark says nothing a UTF-8 reader needs, and editors do not count it
/// as a column: it is ignored.
fn without_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
}

/// Whether a YAML text holds no node: only blank lines, comments and document markers.
fn is_blank(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---" || line == "..."
    })
}

/// Reads an API request body, JSON (the API's own format) or YAML, told apart by its first
/// character. JSON goes to a JSON parser because request bodies pasted from the API's
/// documentation indent with tabs, which YAML forbids. A body holds many tasks, so the limit
/// of one task file does not apply; the caller bounds what it reads.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Diagnostic> {
    let json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{' || *b == b'[');
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let list = first == Some(&b'[')
        || (!json
            && first == Some(&b'-')
            && bytes
                .iter()
                .skip_while(|b| b.is_ascii_whitespace())
                .nth(1)
                .is_some_and(|b| b.is_ascii_whitespace()));
    if list {
        let at = location_of_byte(
            bytes,
            bytes.len() - bytes.iter().skip_while(|b| b.is_ascii_whitespace()).count(),
        );
        return Err(
            Diagnostic::error("", "the body is a list; a request body is an object")
                .hint("wrap the tasks in an object: {\"tasks\": [...]}")
                .at(at),
        );
    }
    parse_document(bytes, if json { Format::Json } else { Format::Yaml })
}

/// One entry of a document's top-level map, with the line its key is on (when the text can
/// tell it).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<V> {
    pub key: String,
    pub line: Option<u32>,
    pub value: V,
}

/// Reads a document that is a map, YAML or JSON, keeping every entry in the order written,
/// duplicate keys included, each with the line of its key: for files whose entries are checked
/// one by one, such as the server's keys file. A document that does not decode yields a
/// diagnostic whose message may quote the text; callers reading secrets use its location only.
pub fn parse_entries<V: DeserializeOwned>(bytes: &[u8]) -> Result<Vec<Entry<V>>, Diagnostic> {
    let InOrder(pairs) = parse_body::<InOrder<V>>(bytes)?;
    let lines = std::str::from_utf8(bytes)
        .map(|text| key_lines(without_bom(text)))
        .unwrap_or_default();
    Ok(pairs
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| Entry {
            key,
            line: lines.get(i).copied(),
            value,
        })
        .collect())
}

/// A map's entries in the order the text gives them, duplicates kept.
struct InOrder<V>(Vec<(String, V)>);

impl<'de, V: serde::Deserialize<'de>> serde::Deserialize<'de> for InOrder<V> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<V>(std::marker::PhantomData<V>);
        impl<'de, V: serde::Deserialize<'de>> serde::de::Visitor<'de> for Entries<V> {
            type Value = InOrder<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(InOrder(pairs))
            }
        }
        deserializer.deserialize_map(Entries(std::marker::PhantomData))
    }
}

/// The line of each key of the top-level map, in order.
fn key_lines(text: &str) -> Vec<u32> {
    let mut lines = Vec::new();
    let mut depth = 0usize;
    let mut top_is_map = false;
    let mut is_key = true;
    let mut parser = Parser::new_from_str(text);
    while let Some(Ok((event, span))) = parser.next_event() {
        let starts = matches!(
            event,
            Event::Scalar(..)
                | Event::Alias(_)
                | Event::MappingStart(..)
                | Event::SequenceStart(..)
        );
        if starts && depth == 1 && top_is_map {
            if is_key {
                lines.push(location(span).line);
            }
            is_key = !is_key;
        }
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if depth == 0 {
                    top_is_map = matches!(event, Event::MappingStart(..));
                }
                depth += 1;
            }
            Event::MappingEnd | Event::SequenceEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    lines
}

#[derive(Clone, Copy)]
enum Format {
    Yaml,
    Json,
}

fn parse_document<T: DeserializeOwned>(bytes: &[u8], format: Format) -> Result<T, Diagnostic> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = location_of_byte(bytes, e.valid_up_to());
            return Err(Diagnostic::error("", "the file is not UTF-8 text")
                .hint("save it as UTF-8; is it a binary file?")
                .at(at));
        }
    };
    let text = without_bom(text);
    let fast = || fast::parse(text).and_then(|node| T::deserialize(node).ok());
    // A small document cannot nest deeply enough to be slow, so it needs no nesting check; and
    // one the fast reader reads has no NUL, a control character it refuses. So a small YAML
    // document goes to the fast reader first, and only the rest are searched for a NUL.
    let small = text.len() <= 4096;
    if let Format::Yaml = format
        && small
        && let Some(doc) = fast()
    {
        return Ok(doc);
    }
    if let Some(i) = text.find('\0') {
        return Err(
            Diagnostic::error("", "the file contains a NUL byte; it is not a text file")
                .at(location_of_byte(text.as_bytes(), i)),
        );
    }
    if !small {
        check_flow_nesting(text)?;
    }
    let result = match format {
        // A small document was tried above.
        Format::Yaml => match if small { None } else { fast() } {
            Some(doc) => Ok(doc),
            None => {
                let text = core::to_libyaml(text)?;
                yaml_serde::from_str(&text).map_err(|e| yaml_decode_error::<T>(&text, &e))
            }
        },
        Format::Json => from_json(text),
    };
    result.map_err(|d| shorten(relocate(text, d)))
}

/// A YAML decoding error, told as a syntax error when the text is not YAML at all (serde may
/// meet a wrong type before the parser reaches the broken syntax), and with the field path
/// where decoding stopped when serde's message has none.
fn yaml_decode_error<T: DeserializeOwned>(text: &str, e: &yaml_serde::Error) -> Diagnostic {
    if let Some(d) = syntax_error(text, e) {
        return d;
    }
    let mut d = yaml_error(e);
    // Not for whole-document problems (alias bombs, nesting, several documents).
    if d.field.is_empty() && !d.message.starts_with("the ") {
        let de = yaml_serde::Deserializer::from_str(text);
        if let Err(e) = serde_path_to_error::deserialize::<_, T>(de) {
            let path = e.path().to_string();
            if path != "." && !path.is_empty() {
                d.field = path;
                d.location = None;
            }
        }
    }
    d
}

/// The first syntax error of a text that is not well-formed YAML, on the key it is under.
fn syntax_error(text: &str, e: &yaml_serde::Error) -> Option<Diagnostic> {
    let message = e.to_string();
    // libyaml says where an unterminated quote starts; saphyr only where the text ends.
    if let Some(rest) = message
        .split("while scanning a quoted scalar at line ")
        .nth(1)
    {
        let (line, column) = rest.split_once(" column ")?;
        let at = Location {
            line: line.trim().parse().ok()?,
            column: column.trim().parse().ok()?,
        };
        return Some(
            Diagnostic::error(key_on_line(text, at.line), "unterminated quoted string")
                .hint("close the string with the quote it opens with")
                .at(at),
        );
    }
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_event()? {
            Ok((Event::StreamEnd, _)) => return None,
            Ok(_) => {}
            Err(scan) => {
                let mark = scan.marker();
                let mut at = Location {
                    line: mark.line() as u32,
                    column: mark.col() as u32 + 1,
                };
                // An error at the end of the text is about its last line.
                let lines = text.lines().count() as u32;
                if at.line > lines && lines > 0 {
                    let last = text.lines().last().unwrap_or_default();
                    at = Location {
                        line: lines,
                        column: last.chars().count() as u32 + 1,
                    };
                }
                return Some(
                    Diagnostic::error(
                        key_on_line(text, at.line),
                        format!("syntax error: {}", scan.info()),
                    )
                    .at(at),
                );
            }
        }
    }
}

/// The field path of the key on (or nearest above) a line, from what parses before it.
fn key_on_line(text: &str, line: u32) -> String {
    let spans = SpanMap::build(text);
    spans
        .starts
        .iter()
        .filter(|(path, at)| at.line <= line && !path.ends_with(']'))
        .max_by_key(|(path, at)| (at.line, at.column, std::cmp::Reverse(path.len())))
        .map(|(path, _)| path.clone())
        .unwrap_or_default()
}

/// Inputs quoted in a message are cut to about 200 bytes, so that a huge value never comes
/// back as a huge error.
const MAX_ECHO_BYTES: usize = 200;

fn shorten(mut d: Diagnostic) -> Diagnostic {
    d.message = shorten_quoted(&d.message);
    d.field = shorten_quoted(&d.field);
    d.hint = d.hint.as_deref().map(shorten_quoted);
    d
}

fn shorten_quoted(text: &str) -> String {
    if text.len() <= MAX_ECHO_BYTES {
        return text.to_owned();
    }
    let mut out = String::with_capacity(MAX_ECHO_BYTES * 2);
    let mut run = 0;
    let mut cut = false;
    for c in text.chars() {
        if matches!(c, '`' | '"') {
            run = 0;
            cut = false;
            out.push(c);
            continue;
        }
        run += c.len_utf8();
        if run <= MAX_ECHO_BYTES {
            out.push(c);
        } else if !cut {
            out.push('…');
            cut = true;
        }
    }
    out
}

/// Deeper `[`/`{` nesting than any task needs. libyaml keeps a possible key per open bracket
/// and rescans them all at every token, so 100,000 brackets would take minutes to refuse;
/// counting them first refuses them at once.
const MAX_FLOW_DEPTH: usize = 64;

fn check_flow_nesting(text: &str) -> Result<(), Diagnostic> {
    // Brackets inside quoted scalars and comments are text, not nesting. A quote opens a
    // scalar only where a node can start (after a space, a bracket, a comma or a colon), so
    // the apostrophe of `don't` does not hide the brackets after it.
    #[derive(PartialEq)]
    enum In {
        Plain,
        Single,
        Double,
        Comment,
    }
    let bytes = text.as_bytes();
    let mut state = In::Plain;
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let starts_node = i == 0
            || matches!(
                bytes[i - 1],
                b' ' | b'\t' | b'\n' | b'\r' | b'[' | b'{' | b',' | b':'
            );
        match state {
            In::Plain => match c {
                b'\'' if starts_node => state = In::Single,
                b'"' if starts_node => state = In::Double,
                b'#' if starts_node => state = In::Comment,
                b'[' | b'{' => depth += 1,
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            },
            In::Single if c == b'\'' => {
                if bytes.get(i + 1) == Some(&b'\'') {
                    i += 1;
                } else {
                    state = In::Plain;
                }
            }
            In::Double if c == b'\\' => i += 1,
            In::Double if c == b'"' => state = In::Plain,
            In::Comment if c == b'\n' => state = In::Plain,
            _ => {}
        }
        if depth > MAX_FLOW_DEPTH {
            return Err(Diagnostic::error("", "the document is nested too deeply")
                .hint("task documents need only a few levels of nesting")
                .at(location_of_byte(bytes, i)));
        }
        i += 1;
    }
    Ok(())
}

pub fn too_large(size: u64) -> Diagnostic {
    Diagnostic::error(
        "",
        format!("the file is {size} bytes; task files are limited to {MAX_FILE_BYTES} bytes"),
    )
    .hint("is this really a task file?")
}

fn location_of_byte(bytes: &[u8], index: usize) -> Location {
    let before = &bytes[..index];
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    Location {
        line: 1 + before.iter().filter(|b| **b == b'\n').count() as u32,
        column: 1 + String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count() as u32,
    }
}

fn yaml_error(e: &yaml_serde::Error) -> Diagnostic {
    let location = e.location().map(|l| Location {
        line: l.line() as u32,
        column: l.column() as u32,
    });
    // yaml_serde writes "<path>: <message> at line L column C"; take it apart so the path and
    // the position become fields of their own.
    let mut message = e.to_string();
    if let Some(l) = &location {
        let suffix = format!(" at line {} column {}", l.line, l.column);
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = stripped.to_owned();
        }
    }
    let (field, message) = split_path(&message);
    let mut d = serde_message(field, message);
    d.location = location.filter(|l| l.line > 0);
    d
}

/// serde_json's errors name no field, so a tracker records the path where decoding stopped.
fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, Diagnostic> {
    check_json_integers(text)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| json_error(&json_path(e.path(), e.inner()), e.inner()))?;
    de.end().map_err(|e| json_error("", &e))?;
    Ok(value)
}

/// Refuses an integer beyond 64 bits, which serde_json would read as a float without a word.
/// A scan of the tokens, keeping the field path, so the error is placed at its field; text that
/// is not JSON is left to the parser's own errors.
fn check_json_integers(text: &str) -> Result<(), Diagnostic> {
    enum Frame {
        Object(Option<String>),
        Array(usize),
    }
    let path = |stack: &[Frame]| {
        let mut out = String::new();
        for frame in stack {
            match frame {
                Frame::Object(Some(key)) if out.is_empty() => out.push_str(key),
                Frame::Object(Some(key)) => out.push_str(&format!(".{key}")),
                Frame::Object(None) => {}
                Frame::Array(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    };
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    // In an object, whether the next string is a key.
    let mut want_key = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                stack.push(Frame::Object(None));
                want_key = true;
            }
            b'[' => stack.push(Frame::Array(0)),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array(n)) => *n += 1,
                Some(Frame::Object(_)) => want_key = true,
                None => {}
            },
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if want_key && let Some(Frame::Object(key)) = stack.last_mut() {
                    let raw = &text[start..i.min(text.len())];
                    *key = Some(
                        serde_json::from_str(&format!("\"{raw}\""))
                            .unwrap_or_else(|_| raw.to_owned()),
                    );
                    want_key = false;
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let number = &text[start..i];
                let integer = !number.contains(['.', 'e', 'E']);
                if integer && number.parse::<i64>().is_err() && number.parse::<u64>().is_err() {
                    return Err(Diagnostic::error(
                        path(&stack),
                        format!("`{number}` is beyond the range of a 64-bit integer"),
                    )
                    .hint("send it as a string to keep every digit")
                    .at(location_of_byte(bytes, start)));
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The tracked path in this module's spelling (`tasks[0].worker`), up to the last key known.
/// An error about a key (unknown, duplicate) gets the path of its map, as YAML errors have,
/// because the message names the key.
fn json_path(path: &serde_path_to_error::Path, e: &serde_json::Error) -> String {
    use serde_path_to_error::Segment;
    let mut segments: Vec<&Segment> = path
        .iter()
        .take_while(|s| !matches!(s, Segment::Unknown))
        .collect();
    let message = e.to_string();
    if let Some(Segment::Map { key }) = segments.last()
        && backquoted(&message).first() == Some(&key.as_str())
    {
        segments.pop();
    }
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

fn json_error(field: &str, e: &serde_json::Error) -> Diagnostic {
    let message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = message.strip_suffix(&suffix).unwrap_or(&message);
    let mut d = serde_message(field, message);
    if e.line() > 0 {
        d.location = Some(Location {
            line: e.line() as u32,
            column: e.column() as u32,
        });
    }
    d
}

/// Splits `worker.user_ids[0]: invalid type…` into its path and message.
fn split_path(message: &str) -> (&str, &str) {
    match message.split_once(": ") {
        Some((path, rest)) if !path.is_empty() && !path.contains([' ', '`']) => (path, rest),
        _ => ("", message),
    }
}

/// Backquoted words of a serde message: the offending name, then the names serde expected.
fn backquoted(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

/// Rewords serde's messages for people, with a did-you-mean where serde listed the choices.
fn serde_message(field: &str, message: &str) -> Diagnostic {
    let join = |parent: &str, key: &str| {
        if parent.is_empty() {
            key.to_owned()
        } else {
            format!("{parent}.{key}")
        }
    };
    let names = backquoted(message);
    let choices = |names: &[&str]| {
        let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        list.join(", ")
    };
    if message.starts_with("unknown field ")
        && let [name, expected @ ..] = names.as_slice()
    {
        let d = Diagnostic::error(join(field, name), format!("unknown key `{name}`"));
        if field.is_empty() && expected.contains(&"tasks") && TASK_KEYS.contains(name) {
            return d
                .hint("this looks like a task file; a request body wraps tasks in `tasks: [...]`");
        }
        return match did_you_mean(name, expected.iter().copied()) {
            Some(m) => d.hint(format!("did you mean `{m}`?")),
            None => d.hint(format!("known keys here: {}", choices(expected))),
        };
    }
    if message.starts_with("unknown variant ")
        && let [name, expected @ ..] = names.as_slice()
    {
        let d = Diagnostic::error(field, format!("unknown value `{name}`"));
        return match did_you_mean(name, expected.iter().copied()) {
            Some(m) => d.hint(format!("did you mean `{m}`?")),
            None => d.hint(format!("expected one of {}", choices(expected))),
        };
    }
    if (message.starts_with("duplicate field ") || message.starts_with("duplicate key "))
        && let [name, ..] = names.as_slice()
    {
        return Diagnostic::error(join(field, name), format!("duplicate key `{name}`"))
            .hint("each key may appear once; remove one of them");
    }
    if message == "repetition limit exceeded" {
        return Diagnostic::error(
            field,
            "the document expands too many aliases (an alias bomb?)",
        )
        .hint("write the values out instead of repeating `*alias` references");
    }
    if message == "recursion limit exceeded" {
        return Diagnostic::error(field, "the document is nested too deeply")
            .hint("task documents need only a few levels of nesting");
    }
    if message.starts_with("missing field ")
        && let [name, ..] = names.as_slice()
    {
        return Diagnostic::error(join(field, name), format!("missing `{name}`"));
    }
    if message.starts_with("deserializing from YAML containing more than one document") {
        return Diagnostic::error(field, "the file holds more than one YAML document")
            .hint("a task file holds one task; split the `---` sections into files");
    }
    Diagnostic::error(field, in_words(message))
}

/// The top-level keys of a task, to tell a task file given where a request body belongs.
const TASK_KEYS: [&str; 6] = [
    "id",
    "type",
    "name",
    "worker",
    "input_source",
    "concept_ids",
];

/// serde's Rust type names in people's words.
fn in_words(message: &str) -> String {
    const WORDS: [(&str, &str); 9] = [
        (
            "expected struct TaskDoc",
            "expected a map of task fields (id, type, worker, …)",
        ),
        (
            "expected struct PostTasks",
            "expected a request body like {\"tasks\": [...]}",
        ),
        (
            "expected struct PatchTasks",
            "expected a request body like {\"action\": \"overwrite\", \"tasks\": [...]}",
        ),
        (
            "expected struct DeleteTasks",
            "expected a request body like {\"ids\": [...]}",
        ),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected u64", "expected a whole number of 0 or more"),
        ("expected f64", "expected a number"),
        ("expected i64", "expected a whole number"),
    ];
    let mut message = message.to_owned();
    for (rust, words) in WORDS {
        message = message.replace(rust, words);
    }
    if let Some(rest) = message.strip_prefix("expected struct ") {
        message = format!("expected a map ({rest})");
    }
    message
}

/// Points a decoding error at the offending key when the error names one: serde reports
/// unknown and duplicate keys at the start of the enclosing map, not at the key itself.
fn relocate(text: &str, d: Diagnostic) -> Diagnostic {
    let keyed = d.message.starts_with("unknown key") || d.message.starts_with("duplicate key");
    if !keyed && d.location.is_some() {
        return d;
    }
    let spans = SpanMap::build(text);
    let found = if d.message.starts_with("duplicate key") {
        spans.duplicates.get(&d.field).copied()
    } else {
        spans.find(&d.field)
    };
    match found {
        Some(at) => d.at(at),
        None => d,
    }
}

/// Gives every diagnostic that has no location the position of its field, or of the nearest
/// enclosing field that the text has (a missing key is reported on its parent).
pub fn locate(text: &[u8], diagnostics: &mut [Diagnostic]) {
    if diagnostics.iter().all(|d| d.location.is_some()) {
        return;
    }
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let spans = SpanMap::build(without_bom(text));
    for d in diagnostics.iter_mut().filter(|d| d.location.is_none()) {
        d.location = spans.find(&d.field);
    }
}

/// Where each field path of a document starts: at its key inside a map, at the value itself
/// inside a sequence. Also where the second occurrence of each duplicate key is.
#[derive(Default)]
struct SpanMap {
    starts: HashMap<String, Location>,
    duplicates: HashMap<String, Location>,
    /// Every untagged plain scalar that is a value (not a key), with its field path and span,
    /// in document order: what [`core`] checks.
    plain: Vec<(String, Span, String)>,
    /// The line where the walk stopped at text `saphyr-parser` refuses, when it did: what
    /// follows is not in the map, though libyaml may read it.
    broken_at: Option<u32>,
}

/// Deeper documents are not tasks; stop walking rather than grow without bound.
const MAX_DEPTH: usize = 64;

enum Frame {
    Map {
        path: String,
        key: Option<String>,
        seen: HashSet<String>,
    },
    Seq {
        path: String,
        index: usize,
    },
}

impl SpanMap {
    fn build(text: &str) -> SpanMap {
        let mut map = SpanMap::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        while let Some(next) = parser.next_event() {
            let (event, span) = match next {
                Ok(next) => next,
                Err(e) => {
                    map.broken_at = Some(e.marker().line() as u32);
                    break;
                }
            };
            let at = location(span);
            let is_node = matches!(
                event,
                Event::Scalar(..)
                    | Event::SequenceStart(..)
                    | Event::MappingStart(..)
                    | Event::Alias(_)
            );
            if !is_node {
                if matches!(event, Event::SequenceEnd | Event::MappingEnd) {
                    stack.pop();
                }
                continue;
            }
            // Where does this node stand: as a key, as a value of a key, or in a sequence?
            let path = match stack.last_mut() {
                None => String::new(),
                Some(Frame::Seq { path, index }) => {
                    let p = format!("{path}[{index}]");
                    *index += 1;
                    map.starts.entry(p.clone()).or_insert(at);
                    p
                }
                Some(Frame::Map {
                    path,
                    key: key @ None,
                    seen,
                }) => {
                    let name = match &event {
                        Event::Scalar(v, ..) => v.to_string(),
                        _ => "?".to_owned(),
                    };
                    let p = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}.{name}")
                    };
                    if !seen.insert(name.clone()) {
                        map.duplicates.entry(p.clone()).or_insert(at);
                    } else {
                        map.starts.entry(p.clone()).or_insert(at);
                    }
                    *key = Some(name);
                    if matches!(event, Event::Scalar(..) | Event::Alias(_)) {
                        continue;
                    }
                    // A complex key: walk into it under a path no field has.
                    format!("{p}?")
                }
                Some(Frame::Map {
                    path,
                    key: key @ Some(_),
                    ..
                }) => {
                    let name = key.take().unwrap_or_default();
                    if path.is_empty() {
                        name
                    } else {
                        format!("{path}.{name}")
                    }
                }
            };
            if let Event::Scalar(value, ScalarStyle::Plain, _, None) = &event {
                map.plain.push((path.clone(), span, value.to_string()));
            }
            if stack.len() >= MAX_DEPTH {
                break;
            }
            match event {
                Event::MappingStart(..) => stack.push(Frame::Map {
                    path,
                    key: None,
                    seen: HashSet::new(),
                }),
                Event::SequenceStart(..) => stack.push(Frame::Seq { path, index: 0 }),
                _ => {}
            }
        }
        map
    }

    /// The start of `field`, else of its nearest enclosing field, else of the document.
    fn find(&self, field: &str) -> Option<Location> {
        let mut path = field;
        loop {
            if let Some(at) = self.starts.get(path) {
                return Some(*at);
            }
            if path.is_empty() {
                return Some(Location { line: 1, column: 1 });
            }
            path = match path.rfind(['.', '[']) {
                Some(i) => &path[..i],
                None => "",
            };
        }
    }
}

fn location(span: Span) -> Location {
    Location {
        line: span.start.line() as u32,
        column: span.start.col() as u32 + 1,
    }
}

/// The canonical text of a task file: keys in model order, no empty fields.
pub fn to_yaml(task: &Task) -> String {
    to_yaml_value(task)
}

/// Any serialisable value as YAML (the CLI's `-o yaml`).
pub fn to_yaml_value<T: Serialize + ?Sized>(value: &T) -> String {
    let text = yaml_serde::to_string(value).expect("task documents always serialise");
    core::quote_misread(&text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::PostTasks;

    #[test]
    fn bodies_may_exceed_the_file_limit() {
        let task =
            r#"{"id": "t", "type": "TYPE_NOT_SET", "description": "padding padding padding"}"#;
        let count = MAX_FILE_BYTES as usize / task.len() + 1;
        let body = format!(r#"{{"tasks": [{}]}}"#, vec![task; count].join(","));
        assert!(body.len() as u64 > MAX_FILE_BYTES);
        let parsed: PostTasks = parse_body(body.as_bytes()).unwrap();
        assert_eq!(parsed.tasks.len(), count);
        assert!(
            parse_task(body.as_bytes()).is_err(),
            "a task file that large is refused"
        );
    }

    #[test]
    fn json_errors_name_their_field() {
        for (body, field, message) in [
            (
                r#"{"tasks": [{"sample_ms": "fast"}]}"#,
                "tasks[0].sample_ms",
                "invalid type: string \"fast\", expected a whole number from 0 to 4294967295",
            ),
            (
                r#"{"tasks": [{}, {"nmae": "x"}]}"#,
                "tasks[1].nmae",
                "unknown key `nmae`",
            ),
            (
                r#"{"tasks": [{"worker": {"strategy": "FUL"}}]}"#,
                "tasks[0].worker.strategy",
                "unknown value `FUL`",
            ),
            (
                r#"{"tasks": [{"id": "a", "id": "b"}]}"#,
                "tasks[0].id",
                "duplicate key `id`",
            ),
            (r#"{"tasks": []} x"#, "", "trailing characters"),
        ] {
            let d = parse_body::<PostTasks>(body.as_bytes()).unwrap_err();
            assert_eq!(
                (d.field.as_str(), d.message.as_str()),
                (field, message),
                "{body}"
            );
            assert!(d.location.is_some(), "{body}");
        }
    }

    #[test]
    fn an_empty_file_is_an_error_not_an_empty_task() {
        for text in ["", "  \n\n", "# all commented out\n#id: a\n", "---\n...\n"] {
            let err = parse_task(text.as_bytes()).unwrap_err();
            assert_eq!(err.message, "the file is empty", "{text:?}");
        }
        assert!(parse_task(b"# a comment\nid: a\n").is_ok());
    }
}
