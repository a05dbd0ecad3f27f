//! A work file's lines: `{"at": "<RFC 3339>", "<event>": {...}}` read from raw text into
//! validated events with located diagnostics, written back one line at a time, and kept by the
//! index in a compact form. Pure: must not do I/O, and must not decide what an event means for
//! an input's state: [`super::replay`] does.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Annotation, Decision};
use crate::validate::Diagnostic;

/// One line of a work file: `{"at": "<RFC 3339>", "<event>": {...}}` with one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawLine", into = "RawLine")]
pub struct Line {
    pub at: Timestamp,
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// DYNAMIC: the user holds these inputs from now on.
    Start { input_ids: Vec<String> },
    /// An annotation, new or replacing the user's earlier one with the same id.
    Annotation(Annotation),
    /// The user submits their assignment on this input.
    Submit { input_id: String },
    /// A reviewer's decision on submission `submission` (from 1) of `worker` on `input_id`.
    Review {
        input_id: String,
        worker: String,
        submission: u32,
        decision: Decision,
        /// What the reviewer says to the worker (annotask's extension), at most
        /// [`COMMENT_MAX`] characters.
        comment: Option<String>,
    },
    /// The user takes back their submission `submission` (from 1) on this input, undecided
    /// (LABEL_WITHDRAW): the assignment is theirs to change and submit again.
    Withdraw { input_id: String, submission: u32 },
    /// The user deletes their annotation `id` on this input (DeleteAnnotations).
    Delete { input_id: String, id: String },
}

/// A line as written: every event key optional, so that a line with none or two is told
/// apart and named (serde's flattened enums said neither, and read four times slower). Its
/// docs are the work-line schema's ([`crate::schema`]).
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "A line of a work file (work/<task>/<user>.jsonl)")]
pub(crate) struct RawLine {
    /// When it happened: an RFC 3339 time (`2026-12-03T17:00:00Z`).
    #[schemars(with = "String", extend("format" = "date-time"))]
    at: Timestamp,
    /// DYNAMIC labeling: the user holds these inputs from now on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<RawStart>,
    /// An annotation, new or replacing the user's earlier one with the same `id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotation: Option<Annotation>,
    /// The user submits their work on an input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    submit: Option<RawSubmit>,
    /// A reviewer's decision on a worker's submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    review: Option<Decided>,
    /// The user takes back a submission, undecided (LABEL_WITHDRAW).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    withdraw: Option<Withdrawn>,
    /// The user deletes one of their annotations (DeleteAnnotations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delete: Option<Deleted>,
}

/// A hand-out's body: `{"input_ids": [...]}`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawStart {
    /// At least one input.
    #[schemars(length(min = 1))]
    input_ids: Vec<String>,
}

/// A submit's body: `{"input_id": ...}`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawSubmit {
    /// The input submitted.
    input_id: String,
}

/// A withdraw event's body: `{"input_id": ..., "submission": k}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Withdrawn {
    /// The input.
    input_id: String,
    /// Which of the user's submissions on it, from 1.
    #[schemars(range(min = 1))]
    submission: u32,
}

/// A delete event's body: `{"input_id": ..., "id": <annotation id>}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Deleted {
    /// The input the annotation labels.
    input_id: String,
    /// The annotation's id.
    id: String,
}

/// A review event's body; also how the index keeps one (`store`: the event's data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Decided {
    /// The input reviewed.
    pub input_id: String,
    /// The worker whose submission it decides.
    pub worker: String,
    /// Which of the worker's submissions on the input, from 1.
    #[schemars(range(min = 1))]
    pub submission: u32,
    /// APPROVE, REQUEST_CHANGES or REJECT.
    pub decision: Decision,
    /// What the reviewer says to the worker, at most 2000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2000))]
    pub comment: Option<String>,
}

/// The longest comment a decision carries, in characters: a note to the worker, not a document.
pub const COMMENT_MAX: usize = 2000;

impl TryFrom<RawLine> for Line {
    type Error = &'static str;

    fn try_from(raw: RawLine) -> Result<Line, Self::Error> {
        let events = [
            raw.start.map(|s| Event::Start {
                input_ids: s.input_ids,
            }),
            raw.annotation.map(Event::Annotation),
            raw.submit.map(|s| Event::Submit {
                input_id: s.input_id,
            }),
            raw.review.map(|r| Event::Review {
                input_id: r.input_id,
                worker: r.worker,
                submission: r.submission,
                decision: r.decision,
                comment: r.comment,
            }),
            raw.withdraw.map(|w| Event::Withdraw {
                input_id: w.input_id,
                submission: w.submission,
            }),
            raw.delete.map(|d| Event::Delete {
                input_id: d.input_id,
                id: d.id,
            }),
        ];
        let mut events = events.into_iter().flatten();
        match (events.next(), events.next()) {
            (Some(event), None) => Ok(Line { at: raw.at, event }),
            (None, _) => Err(NO_EVENT),
            (Some(_), Some(_)) => Err("a line holds one event, not several"),
        }
    }
}

const NO_EVENT: &str =
    "the line holds no event: `start`, `annotation`, `submit`, `review`, `withdraw` or `delete`";

impl From<Line> for RawLine {
    fn from(line: Line) -> RawLine {
        let mut raw = RawLine {
            at: line.at,
            start: None,
            annotation: None,
            submit: None,
            review: None,
            withdraw: None,
            delete: None,
        };
        match line.event {
            Event::Start { input_ids } => raw.start = Some(RawStart { input_ids }),
            Event::Annotation(a) => raw.annotation = Some(a),
            Event::Submit { input_id } => raw.submit = Some(RawSubmit { input_id }),
            Event::Review {
                input_id,
                worker,
                submission,
                decision,
                comment,
            } => {
                raw.review = Some(Decided {
                    input_id,
                    worker,
                    submission,
                    decision,
                    comment,
                })
            }
            Event::Withdraw {
                input_id,
                submission,
            } => {
                raw.withdraw = Some(Withdrawn {
                    input_id,
                    submission,
                })
            }
            Event::Delete { input_id, id } => raw.delete = Some(Deleted { input_id, id }),
        }
        raw
    }
}

/// How the index keeps an event under one of its inputs: its kind, its time in microseconds,
/// and what it says beyond the input (an annotation's JSON, a review's, the submission a
/// withdraw takes back, the annotation a delete removes), so that replaying an
/// input reads back only what it needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub kind: i64,
    pub at: i64,
    /// Kept as the JSON it is, so that the row holding it does not escape it again.
    pub data: Option<Box<RawValue>>,
}

impl Line {
    /// The line as the index keeps it.
    pub fn to_stored(&self) -> Stored {
        fn json<T: Serialize>(value: &T) -> Option<Box<RawValue>> {
            Some(serde_json::value::to_raw_value(value).expect("events serialise"))
        }
        let (kind, data) = match &self.event {
            Event::Start { .. } => (0, None),
            Event::Annotation(a) => (1, json(a)),
            Event::Submit { .. } => (2, None),
            Event::Review {
                input_id,
                worker,
                submission,
                decision,
                comment,
            } => (
                3,
                json(&Decided {
                    input_id: input_id.clone(),
                    worker: worker.clone(),
                    submission: *submission,
                    decision: *decision,
                    comment: comment.clone(),
                }),
            ),
            Event::Withdraw { submission, .. } => (4, json(submission)),
            Event::Delete { id, .. } => (5, json(id)),
        };
        Stored {
            kind,
            at: self.at.as_microsecond(),
            data,
        }
    }

    /// A line back from the index's form, as it concerns `input`; None when the row is not one
    /// this version wrote.
    pub fn from_stored(input: &str, stored: Stored) -> Option<Line> {
        let at = Timestamp::from_microsecond(stored.at).ok()?;
        let data = stored.data.as_deref().map_or("null", RawValue::get);
        let event = match stored.kind {
            0 => Event::Start {
                input_ids: vec![input.to_owned()],
            },
            1 => Event::Annotation(serde_json::from_str(data).ok()?),
            2 => Event::Submit {
                input_id: input.to_owned(),
            },
            3 => {
                let d: Decided = serde_json::from_str(data).ok()?;
                Event::Review {
                    input_id: d.input_id,
                    worker: d.worker,
                    submission: d.submission,
                    decision: d.decision,
                    comment: d.comment,
                }
            }
            4 => Event::Withdraw {
                input_id: input.to_owned(),
                submission: serde_json::from_str(data).ok()?,
            },
            5 => Event::Delete {
                input_id: input.to_owned(),
                id: serde_json::from_str(data).ok()?,
            },
            _ => return None,
        };
        Some(Line { at, event })
    }
}

impl Event {
    /// The inputs the event is about.
    pub fn inputs(&self) -> &[String] {
        match self {
            Event::Start { input_ids } => input_ids,
            Event::Annotation(annotation) => std::slice::from_ref(&annotation.input_id),
            Event::Submit { input_id }
            | Event::Review { input_id, .. }
            | Event::Withdraw { input_id, .. }
            | Event::Delete { input_id, .. } => std::slice::from_ref(input_id),
        }
    }

    /// The event's key on its line: `start`, `annotation`, ...
    pub fn field(&self) -> &'static str {
        match self {
            Event::Start { .. } => "start",
            Event::Annotation(_) => "annotation",
            Event::Submit { .. } => "submit",
            Event::Review { .. } => "review",
            Event::Withdraw { .. } => "withdraw",
            Event::Delete { .. } => "delete",
        }
    }

    /// The ids the event names, each with its field, for the id rules.
    fn ids(&self) -> Vec<(String, &str)> {
        match self {
            Event::Start { input_ids } => input_ids
                .iter()
                .enumerate()
                .map(|(i, id)| (format!("start.input_ids[{i}]"), id.as_str()))
                .collect(),
            Event::Annotation(a) => vec![
                ("annotation.id".into(), a.id.as_str()),
                ("annotation.input_id".into(), a.input_id.as_str()),
            ],
            Event::Submit { input_id } => vec![("submit.input_id".into(), input_id.as_str())],
            Event::Review {
                input_id, worker, ..
            } => vec![
                ("review.input_id".into(), input_id.as_str()),
                ("review.worker".into(), worker.as_str()),
            ],
            Event::Withdraw { input_id, .. } => {
                vec![("withdraw.input_id".into(), input_id.as_str())]
            }
            Event::Delete { input_id, id } => vec![
                ("delete.input_id".into(), input_id.as_str()),
                ("delete.id".into(), id.as_str()),
            ],
        }
    }
}

/// A work file's events with their line numbers (from 1), and what was wrong with the rest.
#[derive(Debug, Default)]
pub struct Log {
    pub lines: Vec<(u32, Line)>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads a work file's text (or an appended tail of it, whose first line is `first_line`):
/// each line on its own; a line that is not an event is left out with an error at
/// line:column; an unterminated last line (a crash mid-append) with a warning.
///
/// A large file is read in pieces of whole lines on every core: one worker's file of a
/// 100,000-input task holds 200,000 lines, and a sync reads several.
pub fn parse_log(bytes: &[u8], first_line: u32) -> Log {
    let mut log = Log::default();
    for mut part in parse_log_each(bytes, first_line, |part| part) {
        log.lines.append(&mut part.lines);
        log.diagnostics.append(&mut part.diagnostics);
    }
    log
}

/// [`parse_log`] in pieces, each piece's [`Log`] handed to `each` on the piece's thread (what
/// a caller makes of the lines is made on every core too): what `each` makes of them, in the
/// order of the pieces.
pub fn parse_log_each<T: Send>(
    bytes: &[u8],
    first_line: u32,
    each: impl Fn(Log) -> T + Sync,
) -> Vec<T> {
    let threads = crate::cores::cores();
    let pieces = (bytes.len() / PARSE_PIECE_BYTES).clamp(1, threads);
    parse_in_pieces(bytes, first_line, pieces, &each)
}

/// [`parse_log_each`] in (up to) `pieces` pieces of whole lines, each on its own thread.
fn parse_in_pieces<T: Send>(
    bytes: &[u8],
    first_line: u32,
    pieces: usize,
    each: &(impl Fn(Log) -> T + Sync),
) -> Vec<T> {
    if pieces <= 1 {
        return vec![each(parse_lines(bytes, first_line))];
    }
    // Each piece ends after the first newline at or past its share of the bytes.
    let mut spans = Vec::with_capacity(pieces);
    let (mut from, mut line) = (0, first_line);
    for k in 1..=pieces {
        let target = (bytes.len() * k / pieces).max(from);
        let to = match bytes[target..].iter().position(|&b| b == b'\n') {
            Some(i) if k < pieces => target + i + 1,
            _ => bytes.len(),
        };
        spans.push((from, to, line));
        line += bytes[from..to].iter().filter(|&&b| b == b'\n').count() as u32;
        from = to;
        if to == bytes.len() {
            break;
        }
    }
    std::thread::scope(|scope| {
        let parts: Vec<_> = spans
            .iter()
            .map(|&(from, to, line)| scope.spawn(move || each(parse_lines(&bytes[from..to], line))))
            .collect();
        parts
            .into_iter()
            .map(|part| part.join().expect("reading a line never panics"))
            .collect()
    })
}

/// Below this many bytes a work file is read on one core.
const PARSE_PIECE_BYTES: usize = 1 << 20;

/// [`parse_log`] on one core.
fn parse_lines(bytes: &[u8], first_line: u32) -> Log {
    let mut log = Log::default();
    for (number, text) in (first_line..).zip(bytes.split(|&b| b == b'\n')) {
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_line(text) {
            Ok(line) => log.lines.push((number, line)),
            Err(problem) => log.diagnostics.push(problem.at(number)),
        }
    }
    log
}

/// Why a line is not an event.
struct LineProblem {
    column: u32,
    field: String,
    message: String,
    /// What to do about it, when more is known than the line's shape (`did you mean ...?`).
    hint: Option<String>,
    /// The line ends before its JSON does: a write cut off.
    cut: bool,
}

impl LineProblem {
    fn at(self, line: u32) -> Diagnostic {
        let location = crate::validate::Location {
            line,
            column: self.column,
        };
        if self.cut {
            return Diagnostic::warning(
                self.field,
                "an unfinished line (a write cut off by a crash?) is ignored",
            )
            .hint("the file's other lines count; annotask starts its next line on a fresh line")
            .at(location);
        }
        Diagnostic::error(self.field, format!("{}; the line is left out", self.message))
            .hint(self.hint.unwrap_or_else(|| "a line is `{\"at\": \"<RFC 3339 time>\", \"<event>\": {...}}` with one event: `start`, `annotation`, `submit`, `review`, `withdraw` or `delete`".into()))
            .at(location)
    }
}

fn parse_line(bytes: &[u8]) -> Result<Line, LineProblem> {
    let problem = |column: usize, field: &str, message: String, cut| LineProblem {
        column: column as u32,
        field: field.to_owned(),
        message,
        hint: None,
        cut,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        problem(
            e.valid_up_to() + 1,
            "",
            "the line is not valid UTF-8".into(),
            false,
        )
    })?;
    let line: Line = serde_json::from_str(text).map_err(|e| {
        if !e.is_eof()
            && text.trim_start().starts_with('{')
            && let Err(d) = crate::yaml::parse_body::<Line>(text.as_bytes())
        {
            // Read again on this rare path with the field tracked, as a request body is: the
            // problem gets its path (`annotation.data.concept`) and a misspelt key the key it
            // likely means.
            return LineProblem {
                column: d.location.map_or(1, |l| l.column),
                field: d.field,
                message: d.message,
                hint: d.hint,
                cut: false,
            };
        }
        let message = e.to_string();
        let message = match message.rsplit_once(" at line ") {
            Some((head, _)) => head.to_owned(),
            None => message,
        };
        problem(e.column().max(1), "", message, e.is_eof())
    })?;
    for (field, id) in line.event.ids() {
        crate::validate::check_id(id).map_err(|e| problem(1, &field, e, false))?;
    }
    match &line.event {
        Event::Start { input_ids } if input_ids.is_empty() => Err(problem(
            1,
            "start.input_ids",
            "a hand-out names at least one input".into(),
            false,
        )),
        Event::Review { submission: 0, .. } => Err(problem(
            1,
            "review.submission",
            "submissions are counted from 1".into(),
            false,
        )),
        Event::Review {
            comment: Some(comment),
            ..
        } if comment.chars().count() > COMMENT_MAX => Err(problem(
            1,
            "review.comment",
            format!("a comment is at most {COMMENT_MAX} characters"),
            false,
        )),
        Event::Withdraw { submission: 0, .. } => Err(problem(
            1,
            "withdraw.submission",
            "submissions are counted from 1".into(),
            false,
        )),
        _ => Ok(line),
    }
}

/// One line as the writer appends it, `\n` included.
pub fn to_line(line: &Line) -> String {
    let mut text = serde_json::to_string(line).expect("events serialise");
    text.push('\n');
    text
}

/// Appends to `out` the line [`to_line`] writes for an annotation at `at`, from the
/// annotation's JSON (`serde_json::to_string` of it), which a writer that compared it already
/// holds: the annotation is not serialised again.
pub fn annotation_line(at: Timestamp, annotation_json: &str, out: &mut String) {
    use std::fmt::Write as _;
    // As `RawLine` orders its keys; jiff writes a timestamp as serde writes it.
    let _ = writeln!(out, "{{\"at\":\"{at}\",\"annotation\":{annotation_json}}}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bytes` read as a work file: each line's event kind or its diagnostic.
    #[track_caller]
    fn read(bytes: &[u8], expected: &[&str]) {
        let log = parse_log(bytes, 1);
        let mut got: Vec<String> = log
            .lines
            .iter()
            .map(|(n, line)| format!("{n}: {}", line.to_stored().kind))
            .collect();
        got.extend(log.diagnostics.iter().map(|d| {
            let at = d.location.unwrap();
            let hint = match &d.hint {
                Some(hint) if hint.starts_with("did you mean") => format!(" ({hint})"),
                _ => String::new(),
            };
            format!(
                "{}:{} {:?} {} {}{hint}",
                at.line, at.column, d.severity, d.field, d.message
            )
        }));
        assert_eq!(got, expected, "{}", String::from_utf8_lossy(bytes));
    }

    const AT: &str = r#""at":"2026-12-03T17:00:00Z""#;

    #[test]
    fn a_file_read_in_pieces_reads_as_on_one_core() {
        // Lines of many lengths, blank lines, CRLF, bad lines and a cut-off last line, so that
        // piece boundaries fall everywhere among them.
        let mut text = String::new();
        let mut seed: u64 = 7;
        for i in 0..3000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let pad = "x".repeat((seed >> 33) as usize % 40);
            text.push_str(&match i % 97 {
                0 => "{\"at\": oops}\n".to_owned(),
                1 => "\n".to_owned(),
                2 => format!("{{{AT},\"submit\":{{\"input_id\":\"in{i}\"}}}}\r\n"),
                _ => format!(
                    "{{{AT},\"annotation\":{{\"id\":\"a{pad}\",\"input_id\":\"in{i}\",\"data\":{{\"concepts\":[{{\"id\":\"cat\",\"value\":1}}]}}}}}}\n"
                ),
            });
        }
        text.push_str(&format!("{{{AT},\"submit\":"));
        for first_line in [1, 1000] {
            let whole = parse_lines(text.as_bytes(), first_line);
            assert_eq!(whole.lines.len(), 3000 - 2 * 31);
            assert_eq!(whole.diagnostics.len(), 31 + 1);
            for pieces in 2..8 {
                let mut log = Log::default();
                for mut part in parse_in_pieces(text.as_bytes(), first_line, pieces, &|p| p) {
                    log.lines.append(&mut part.lines);
                    log.diagnostics.append(&mut part.diagnostics);
                }
                assert_eq!(log.lines, whole.lines, "{pieces} pieces");
                assert_eq!(log.diagnostics, whole.diagnostics, "{pieces} pieces");
            }
        }
    }

    #[test]
    fn reading_lines() {
        let submit = format!("{{{AT},\"submit\":{{\"input_id\":\"in-1\"}}}}");
        read(format!("{submit}\n").as_bytes(), &["1: 2"]);
        read(
            format!("{submit}\r\n\n  \n{submit}").as_bytes(),
            &["1: 2", "4: 2"],
        );
        read(
            format!("{submit}\n{{{AT},\"submit\":{{\"input_").as_bytes(),
            &[
                "1: 2",
                "2:46 Warning  an unfinished line (a write cut off by a crash?) is ignored",
            ],
        );
        read(
            format!("{{{AT},\"submitt\":{{}}}}\n{submit}\n").as_bytes(),
            &[
                "2: 2",
                "1:30 Error submitt unknown key `submitt`; the line is left out (did you mean `submit`?)",
            ],
        );
        // A key no field reads is refused at its path, not dropped; the file's other lines count.
        let annotation = |data: &str| {
            format!(
                "{{{AT},\"annotation\":{{\"id\":\"a\",\"input_id\":\"in\",\"data\":{data}}}}}\n{submit}\n"
            )
        };
        read(
            annotation(r#"{"concept":"bird"}"#).as_bytes(),
            &[
                "2: 2",
                "1:77 Error annotation.data.concept unknown key `concept`; the line is left out (did you mean `concepts`?)",
            ],
        );
        read(
            annotation(r#"{"concepts":[{"id":"cat","valeu":1}]}"#).as_bytes(),
            &[
                "2: 2",
                "1:101 Error annotation.data.concepts[0].valeu unknown key `valeu`; the line is left out (did you mean `value`?)",
            ],
        );
        read(
            annotation(r#"{"regions":[{"region_info":{"bounding_box":{"top_row":0,"left_col":0,"bottom_row":1,"right_col":1,"bogus":1}},"data":{}}]}"#).as_bytes(),
            &[
                "2: 2",
                "1:174 Error annotation.data.regions[0].region_info.bounding_box.bogus unknown key `bogus`; the line is left out",
            ],
        );
        read(
            format!("{{{AT},\"annotation\":{{\"id\":\"a\",\"input_id\":\"in\",\"bogus\":1}}}}\n")
                .as_bytes(),
            &["1:69 Error annotation.bogus unknown key `bogus`; the line is left out"],
        );
        read(
            format!("{{{AT}}}\n").as_bytes(),
            &[
                "1:1 Error  the line holds no event: `start`, `annotation`, `submit`, `review`, `withdraw` or `delete`; the line is left out",
            ],
        );
        read(
            format!("{{{AT},\"submit\":{{\"input_id\":\"in 1\"}}}}\n").as_bytes(),
            &[
                "1:1 Error submit.input_id id `in 1` contains ' '; ids use only letters, digits, `-` and `_`; the line is left out",
            ],
        );
        read(
            format!("{{{AT},\"review\":{{\"input_id\":\"a\",\"worker\":\"b\",\"submission\":0,\"decision\":\"APPROVE\"}}}}\n").as_bytes(),
            &["1:1 Error review.submission submissions are counted from 1; the line is left out"],
        );
        let long = "é".repeat(COMMENT_MAX + 1);
        read(
            format!("{{{AT},\"review\":{{\"input_id\":\"a\",\"worker\":\"b\",\"submission\":1,\"decision\":\"REJECT\",\"comment\":\"{long}\"}}}}\n").as_bytes(),
            &["1:1 Error review.comment a comment is at most 2000 characters; the line is left out"],
        );
        read(
            format!("{{{AT},\"review\":{{\"input_id\":\"a\",\"worker\":\"b\",\"submission\":1,\"decision\":\"REJECT\",\"comment\":7}}}}\n").as_bytes(),
            &["1:113 Error review.comment invalid type: integer `7`, expected a string; the line is left out"],
        );
        read(
            format!("{{{AT},\"withdraw\":{{\"input_id\":\"a\",\"submission\":0}}}}\n").as_bytes(),
            &["1:1 Error withdraw.submission submissions are counted from 1; the line is left out"],
        );
        read(
            format!("{{{AT},\"withdraw\":{{\"input_id\":\"a\",\"submission\":2}}}}\n{{{AT},\"delete\":{{\"input_id\":\"a\",\"id\":\"x\"}}}}\n").as_bytes(),
            &["1: 4", "2: 5"],
        );
        read(
            b"\xff\xfe\n",
            &["1:1 Error  the line is not valid UTF-8; the line is left out"],
        );
        read(
            b"not json\n",
            &["1:2 Error  expected ident; the line is left out"],
        );
    }

    #[test]
    fn an_annotation_line_from_its_json_is_the_line_written() {
        let annotation: Annotation = serde_json::from_value(serde_json::json!({
            "id": "a1", "input_id": "in", "data": {"regions": [{"region_info": {"bounding_box":
                {"top_row": 0.1, "left_col": 0.25, "bottom_row": 0.5, "right_col": 1}},
                "data": {"concepts": [{"id": "cat", "value": 0.75}]}}]},
            "annotation_info": {"note": "a \"kite\"\n"}
        }))
        .unwrap();
        let json = serde_json::to_string(&annotation).unwrap();
        for at in [
            Timestamp::from_second(1_800_000_000).unwrap(),
            Timestamp::from_microsecond(1_800_000_000_000_001).unwrap(),
            Timestamp::from_microsecond(1_800_000_000_120_000).unwrap(),
        ] {
            let mut text = String::from("before\n");
            annotation_line(at, &json, &mut text);
            let line = Line {
                at,
                event: Event::Annotation(annotation.clone()),
            };
            assert_eq!(text, format!("before\n{}", to_line(&line)));
        }
    }

    #[test]
    fn lines_read_back_as_written() {
        let annotation: Annotation = serde_json::from_value(serde_json::json!({
            "id": "a1", "input_id": "in", "data": {"concepts": [{"id": "cat", "value": 1}]}
        }))
        .unwrap();
        let input_id = || "in".to_owned();
        let events = [
            Event::Start {
                input_ids: vec![input_id()],
            },
            Event::Annotation(annotation),
            Event::Submit {
                input_id: input_id(),
            },
            Event::Review {
                input_id: input_id(),
                worker: "ann".into(),
                submission: 1,
                decision: Decision::REQUEST_CHANGES,
                comment: None,
            },
            Event::Review {
                input_id: input_id(),
                worker: "ann".into(),
                submission: 2,
                decision: Decision::REJECT,
                comment: Some("the \"bird\" is a kite\n".into()),
            },
            Event::Withdraw {
                input_id: input_id(),
                submission: 2,
            },
            Event::Delete {
                input_id: input_id(),
                id: "a1".into(),
            },
        ];
        for event in events {
            let line = &Line {
                at: Timestamp::from_second(1_800_000_000).unwrap(),
                event,
            };
            let log = parse_log(to_line(line).as_bytes(), 1);
            assert_eq!(log.lines, [(1, line.clone())]);
            assert_eq!(
                Line::from_stored("in", line.to_stored()).as_ref(),
                Some(line)
            );
        }
    }
}
