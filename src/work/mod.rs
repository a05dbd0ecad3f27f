//! Work logs and the assignment state machine: the lines of `work/<task>/<user>.jsonl` (raw
//! text into validated events, with located diagnostics) and [`replay`], which derives one
//! input's assignments, annotations and outcome from every user's events on it. Pure: must not
//! do I/O or know SQLite; the index ([`crate::store`], [`crate::sync`]) keeps what it returns.
//! ARCHITECTURE.md, "The workflow", describes the rules.

pub mod annotation;

pub use annotation::{Annotation, Kind};

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::validate::Diagnostic;

/// Work files larger than this are refused whole (their last good rows are kept).
pub const MAX_FILE_BYTES: u64 = 512 << 20;

/// An assignment's state, as TaskAssignment's status code says it; [`State::Closed`] is
/// annotask's own: an input approved by consensus before this holder submitted leaves their
/// queue and is counted nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum State {
    Pending,
    AwaitingReview,
    AwaitingConsensusReview,
    Success,
    Rejected,
    Closed,
}

impl State {
    /// TASK_ASSIGNMENT_* (54200-54204). Closed is never sent as an assignment's state (closed
    /// assignments leave every list); it reads as done (54200).
    pub fn code(self) -> u32 {
        match self {
            State::Success | State::Closed => 54200,
            State::Pending => 54201,
            State::AwaitingReview => 54202,
            State::AwaitingConsensusReview => 54203,
            State::Rejected => 54204,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            State::Success => "Task assignment success",
            State::Pending => "Task assignment pending",
            State::AwaitingReview => "Task assignment awaiting review",
            State::AwaitingConsensusReview => "Task assignment awaiting consensus review",
            State::Rejected => "Task assignment rejected",
            State::Closed => "Task assignment closed: its input was approved by consensus first",
        }
    }

    /// The status of the assignment's annotations: ANNOTATION_* (24150, 24151, 24157, 24158,
    /// 24159); a closed assignment's annotations were never submitted, so they are pending.
    pub fn annotation_code(self) -> u32 {
        match self {
            State::Success => 24150,
            State::Pending | State::Closed => 24151,
            State::AwaitingReview => 24157,
            State::Rejected => 24158,
            State::AwaitingConsensusReview => 24159,
        }
    }

    pub fn annotation_description(self) -> &'static str {
        match self {
            State::Success => "Annotation success",
            State::Pending | State::Closed => "Annotation pending",
            State::AwaitingReview => "Annotation awaiting review",
            State::Rejected => "Annotation review denied",
            State::AwaitingConsensusReview => "Annotation awaiting consensus review",
        }
    }

    /// The state a status filter names: an assignment or an annotation code.
    pub fn from_code(code: u32) -> Option<State> {
        Some(match code {
            54200 | 24150 => State::Success,
            54201 | 24151 => State::Pending,
            54202 | 24157 => State::AwaitingReview,
            54203 | 24159 => State::AwaitingConsensusReview,
            54204 | 24158 => State::Rejected,
            _ => return None,
        })
    }

    /// The number the index stores.
    pub fn to_i64(self) -> i64 {
        self as i64
    }

    pub fn from_i64(n: i64) -> Option<State> {
        [
            State::Pending,
            State::AwaitingReview,
            State::AwaitingConsensusReview,
            State::Success,
            State::Rejected,
            State::Closed,
        ]
        .into_iter()
        .find(|s| s.to_i64() == n)
    }

    /// What the state is called in the API and in `explain`.
    pub fn name(self) -> &'static str {
        match self {
            State::Success => "SUCCESS",
            State::Pending => "PENDING",
            State::AwaitingReview => "AWAITING_REVIEW",
            State::AwaitingConsensusReview => "AWAITING_CONSENSUS_REVIEW",
            State::Rejected => "REJECTED",
            State::Closed => "CLOSED",
        }
    }
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(non_camel_case_types)]
pub enum Decision {
    APPROVE,
    REQUEST_CHANGES,
    REJECT,
}

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
    },
}

/// A line as written: every event key optional, so that a line with none or two is told
/// apart and named (serde's flattened enums said neither, and read four times slower).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<RawStart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotation: Option<Annotation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    submit: Option<RawSubmit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    review: Option<Decided>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStart {
    input_ids: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubmit {
    input_id: String,
}

/// A review event's body; also how the index keeps one (`store`: the event's data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decided {
    pub input_id: String,
    pub worker: String,
    pub submission: u32,
    pub decision: Decision,
}

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

const NO_EVENT: &str = "the line holds no event: `start`, `annotation`, `submit` or `review`";

impl From<Line> for RawLine {
    fn from(line: Line) -> RawLine {
        let mut raw = RawLine {
            at: line.at,
            start: None,
            annotation: None,
            submit: None,
            review: None,
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
            } => {
                raw.review = Some(Decided {
                    input_id,
                    worker,
                    submission,
                    decision,
                })
            }
        }
        raw
    }
}

/// How the index keeps an event under one of its inputs: its kind, its time in microseconds,
/// and what it says beyond the input (an annotation's JSON, a review's), so that replaying an
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
            } => (
                3,
                json(&Decided {
                    input_id: input_id.clone(),
                    worker: worker.clone(),
                    submission: *submission,
                    decision: *decision,
                }),
            ),
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
                }
            }
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
            Event::Submit { input_id } | Event::Review { input_id, .. } => {
                std::slice::from_ref(input_id)
            }
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
    let threads = crate::cores::cores();
    parse_in_pieces(
        bytes,
        first_line,
        (bytes.len() / PARSE_PIECE_BYTES).clamp(1, threads),
    )
}

/// [`parse_log`] in (up to) `pieces` pieces of whole lines, each on its own thread.
fn parse_in_pieces(bytes: &[u8], first_line: u32, pieces: usize) -> Log {
    if pieces <= 1 {
        return parse_lines(bytes, first_line);
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
            .map(|&(from, to, line)| scope.spawn(move || parse_lines(&bytes[from..to], line)))
            .collect();
        let mut log = Log::default();
        for part in parts {
            let mut part = part.join().expect("reading a line never panics");
            log.lines.append(&mut part.lines);
            log.diagnostics.append(&mut part.diagnostics);
        }
        log
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
            .hint("a line is `{\"at\": \"<RFC 3339 time>\", \"<event>\": {...}}` with one event: `start`, `annotation`, `submit` or `review`")
            .at(location)
    }
}

fn parse_line(bytes: &[u8]) -> Result<Line, LineProblem> {
    let problem = |column: usize, field: &str, message: String, cut| LineProblem {
        column: column as u32,
        field: field.to_owned(),
        message,
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
        _ => Ok(line),
    }
}

/// One line as the writer appends it, `\n` included.
pub fn to_line(line: &Line) -> String {
    let mut text = serde_json::to_string(line).expect("events serialise");
    text.push('\n');
    text
}

/// The task's rules that decide an input's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub review: Review,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Review {
    None,
    /// MANUAL: whether this input is in the review sample.
    Manual {
        sampled: bool,
    },
    /// CONSENSUS: how many agreeing workers approve the input (0: never by agreement).
    Consensus {
        threshold: u32,
    },
}

impl Rules {
    /// The rules of `task` for one input (`sampled`: whether MANUAL review's sample holds it).
    pub fn of(task: &crate::model::Task, sampled: bool) -> Rules {
        use crate::model::ReviewStrategy;
        let review = task.doc().review.as_ref();
        let review = match review.and_then(|r| r.strategy) {
            Some(ReviewStrategy::MANUAL) => Review::Manual { sampled },
            Some(ReviewStrategy::CONSENSUS) => {
                let info = review.and_then(|r| r.consensus_strategy_info.as_ref());
                let threshold = info
                    .and_then(|i| i.approval_threshold.or(i.approval_threshold_labelers))
                    .unwrap_or(0);
                Review::Consensus { threshold }
            }
            _ => Review::None,
        };
        Rules {
            review,
            kind: Kind::of(task),
        }
    }
}

/// One user's events on one input, in file order, with their line numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct UserEvents {
    pub user: String,
    pub lines: Vec<(u32, Line)>,
}

/// One assignment's state.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentState {
    pub worker: String,
    pub state: State,
    /// Whether the plan gives the worker this input (else it holds it by a DYNAMIC start or
    /// by work it submitted before the plan moved the input).
    pub planned: bool,
    /// Submissions that took effect.
    pub submissions: u32,
}

/// One current annotation (the latest line with its id) and its state.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnotationState {
    pub worker: String,
    pub annotation: Annotation,
    /// The line of its latest version in the worker's file.
    pub line: u32,
    pub state: State,
    /// When its first and its latest line were written.
    pub created_at: Timestamp,
    pub modified_at: Timestamp,
}

/// Where an input stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// Some holder has not submitted (or must redo it), and nothing decided the input.
    Open,
    /// Waiting for consensus or for a reviewer.
    AwaitingReview,
    /// Approved, by consensus or by the reviewers.
    Approved,
    /// Rejected by a reviewer.
    Rejected,
}

/// What [`replay`] derives for one input of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct InputState {
    /// One per holder, by worker id.
    pub assignments: Vec<AssignmentState>,
    /// By worker id, then annotation id.
    pub annotations: Vec<AnnotationState>,
    pub outcome: Outcome,
    /// Why, in order (only from [`explain`]): who was assigned, who said what, what decided it.
    pub story: Vec<String>,
}

/// Derives one input's state. `planned` are the workers the plan gives the input (ascending);
/// `users` every user's events on it (any order of users; each user's in file order).
pub fn replay(rules: &Rules, input: &str, planned: &[String], users: &[UserEvents]) -> InputState {
    replay_telling(rules, input, planned, users, Story(None))
}

/// [`replay`], telling the story of the input as well.
pub fn explain(rules: &Rules, input: &str, planned: &[String], users: &[UserEvents]) -> InputState {
    replay_telling(rules, input, planned, users, Story(Some(Vec::new())))
}

/// Why an input stands where it does, line by line: told only when asked for, since a sync
/// replays every input and reads none of it.
struct Story(Option<Vec<String>>);

impl Story {
    fn tell(&mut self, line: impl FnOnce() -> String) {
        if let Some(lines) = &mut self.0 {
            lines.push(line());
        }
    }
}

fn replay_telling(
    rules: &Rules,
    input: &str,
    planned: &[String],
    users: &[UserEvents],
    mut story: Story,
) -> InputState {
    let mut users: Vec<&UserEvents> = users.iter().collect();
    users.sort_by(|a, b| a.user.cmp(&b.user));
    let mut workers: BTreeMap<&str, Worker> = planned
        .iter()
        .map(|w| (w.as_str(), Worker::new(Some(HeldBy::Plan))))
        .collect();
    let mut decisions: BTreeMap<(&str, u32), Vec<Ruling>> = BTreeMap::new();
    for user in &users {
        for (line, event) in &user.lines {
            if !event.event.inputs().iter().any(|i| i == input) {
                continue;
            }
            let worker = workers
                .entry(user.user.as_str())
                .or_insert_with(|| Worker::new(None));
            match &event.event {
                Event::Start { .. } => worker.held.get_or_insert(HeldBy::Start),
                Event::Annotation(annotation) => {
                    let first = worker
                        .current
                        .get(annotation.id.as_str())
                        .map_or(event.at, |(_, created, ..)| *created);
                    let version = (annotation, first, event.at, *line);
                    worker.current.insert(&annotation.id, version);
                    continue;
                }
                Event::Submit { .. } => {
                    let snapshot = worker.current.iter().map(|(id, (a, ..))| (*id, *a));
                    worker.submits.push(snapshot.collect());
                    continue;
                }
                Event::Review {
                    worker: whose,
                    submission,
                    decision,
                    ..
                } => {
                    decisions
                        .entry((whose.as_str(), *submission))
                        .or_default()
                        .push(Ruling {
                            at: event.at,
                            reviewer: &user.user,
                            line: *line,
                            decision: *decision,
                        });
                    continue;
                }
            };
        }
    }
    for rulings in decisions.values_mut() {
        rulings.sort_by(|a, b| (a.at, a.reviewer, a.line).cmp(&(b.at, b.reviewer, b.line)));
    }
    story.tell(|| match planned {
        [] => "the plan gives this input to no worker".to_owned(),
        _ => format!("the plan gives this input to {}", planned.join(", ")),
    });
    // Each worker's effective submissions: the first; the next only after changes were
    // requested on the one before.
    for (name, worker) in workers.iter_mut() {
        if worker.held == Some(HeldBy::Start) {
            story.tell(|| format!("{name} took the input (DYNAMIC)"));
        }
        let mut raw = std::mem::take(&mut worker.submits).into_iter();
        while let Some(content) = raw.next().filter(|_| {
            let k = worker.effective.len() as u32;
            k == 0 || decided(&decisions, name, k) == Some(Decision::REQUEST_CHANGES)
        }) {
            worker.held.get_or_insert(HeldBy::Work);
            let k = worker.effective.len() as u32;
            story.tell(|| {
                format!(
                    "{name} submitted (submission {k}): {}",
                    summary(rules.kind, &content)
                )
            });
            for (i, ruling) in decisions.get(&(*name, k)).into_iter().flatten().enumerate() {
                story.tell(|| if i == 0 {
                    format!("{} {} {name}'s submission {k}", ruling.reviewer, verb(ruling.decision))
                } else {
                    format!(
                        "{}'s later {:?} of {name}'s submission {k} was ignored: the first decision stands",
                        ruling.reviewer, ruling.decision
                    )
                });
            }
            worker.effective.push(content);
        }
    }
    let mut states: BTreeMap<&str, State> = BTreeMap::new();
    let mut undecided = Vec::new();
    for (name, worker) in &workers {
        if worker.held.is_none() {
            continue;
        }
        let k = worker.effective.len() as u32;
        let state = match (k, decided(&decisions, name, k)) {
            (0, _) => State::Pending,
            (_, Some(Decision::APPROVE)) => State::Success,
            (_, Some(Decision::REJECT)) => State::Rejected,
            (_, Some(Decision::REQUEST_CHANGES)) => State::Pending,
            (_, None) => match rules.review {
                Review::None | Review::Manual { sampled: false } => State::Success,
                Review::Manual { sampled: true } => State::AwaitingReview,
                Review::Consensus { .. } => {
                    undecided.push(*name);
                    State::AwaitingConsensusReview
                }
            },
        };
        states.insert(name, state);
    }
    let mut consensus = false;
    if let Review::Consensus { threshold } = rules.review {
        consensus = agree_on(
            rules,
            threshold,
            &workers,
            &undecided,
            &mut states,
            &mut story,
        );
    }
    let outcome = outcome(consensus, &states);
    story.tell(|| format!("outcome: {}", outcome_text(outcome)));
    let assignments = states
        .iter()
        .map(|(name, state)| AssignmentState {
            worker: (*name).to_owned(),
            state: *state,
            planned: workers[name].held == Some(HeldBy::Plan),
            submissions: workers[name].effective.len() as u32,
        })
        .collect();
    let mut annotations = Vec::new();
    for (name, worker) in &workers {
        let latest = worker.effective.last();
        for (id, (annotation, created_at, modified_at, line)) in &worker.current {
            let submitted = latest.is_some_and(|c| c.get(id) == Some(annotation));
            let state = match states.get(name) {
                Some(state) if submitted => *state,
                _ => State::Pending,
            };
            annotations.push(AnnotationState {
                worker: (*name).to_owned(),
                annotation: (*annotation).clone(),
                line: *line,
                state,
                created_at: *created_at,
                modified_at: *modified_at,
            });
        }
    }
    InputState {
        assignments,
        annotations,
        outcome,
        story: story.0.unwrap_or_default(),
    }
}

/// Why someone holds an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeldBy {
    Plan,
    /// A DYNAMIC hand-out.
    Start,
    /// Work they submitted on it.
    Work,
}

/// One person's events on the input, gathered (borrowed from the events replayed).
struct Worker<'a> {
    /// None: someone whose events name the input without holding it (yet).
    held: Option<HeldBy>,
    /// Their current annotations by id: the latest version, and when the first and the
    /// latest were written, and the latest's line.
    current: BTreeMap<&'a str, (&'a Annotation, Timestamp, Timestamp, u32)>,
    /// The content of every submit line, in file order.
    submits: Vec<BTreeMap<&'a str, &'a Annotation>>,
    /// The content of the submissions that took effect.
    effective: Vec<BTreeMap<&'a str, &'a Annotation>>,
}

impl Worker<'_> {
    fn new(held: Option<HeldBy>) -> Self {
        Worker {
            held,
            current: BTreeMap::new(),
            submits: Vec::new(),
            effective: Vec::new(),
        }
    }
}

/// A reviewer's decision as read.
struct Ruling<'a> {
    at: Timestamp,
    reviewer: &'a str,
    line: u32,
    decision: Decision,
}

/// The decision that stands on `worker`'s submission `k`: the first by time, then reviewer.
fn decided(
    decisions: &BTreeMap<(&str, u32), Vec<Ruling>>,
    worker: &str,
    k: u32,
) -> Option<Decision> {
    decisions.get(&(worker, k))?.first().map(|r| r.decision)
}

fn verb(decision: Decision) -> &'static str {
    match decision {
        Decision::APPROVE => "approved",
        Decision::REQUEST_CHANGES => "requested changes on",
        Decision::REJECT => "rejected",
    }
}

/// What a submission says, for the story: its concepts, or its regions.
fn summary(kind: Kind, content: &BTreeMap<&str, &Annotation>) -> String {
    let annotations: Vec<&Annotation> = content.values().copied().collect();
    if annotations.is_empty() {
        return "no annotation".into();
    }
    match kind {
        Kind::Detection => {
            let regions: usize = annotations.iter().map(|a| a.data.regions.len()).sum();
            format!("{regions} region{}", if regions == 1 { "" } else { "s" })
        }
        Kind::Classification | Kind::Other => {
            let concepts: Vec<String> = annotations
                .iter()
                .flat_map(|a| &a.data.concepts)
                .map(|c| format!("{}={}", c.id, c.value))
                .collect();
            if concepts.is_empty() {
                format!("{} annotation(s)", annotations.len())
            } else {
                concepts.join(", ")
            }
        }
    }
}

/// Consensus over the submitted, undecided workers: approves the input when `threshold` of
/// them agree, else sends it to review once nobody is still to submit. Returns whether it
/// approved the input.
fn agree_on<'a>(
    rules: &Rules,
    threshold: u32,
    workers: &BTreeMap<&'a str, Worker>,
    undecided: &[&'a str],
    states: &mut BTreeMap<&'a str, State>,
    story: &mut Story,
) -> bool {
    let content = |name: &str| -> Vec<&Annotation> {
        workers[name]
            .effective
            .last()
            .map(|c| c.values().copied().collect())
            .unwrap_or_default()
    };
    // Groups of agreeing workers, each joined by the first group whose first member it agrees
    // with; in worker order, so the same events always give the same groups.
    let mut groups: Vec<Vec<&str>> = Vec::new();
    for name in undecided {
        let mine = content(name);
        match groups
            .iter_mut()
            .find(|g| annotation::agree(rules.kind, &content(g[0]), &mine))
        {
            Some(group) => group.push(name),
            None => groups.push(vec![name]),
        }
    }
    let best = groups
        .iter()
        .max_by(|a, b| a.len().cmp(&b.len()).then_with(|| b.cmp(a)))
        .cloned()
        .unwrap_or_default();
    let holders = states.len();
    if threshold > 0 && best.len() >= threshold as usize {
        story.tell(|| {
            format!(
                "consensus: {} agree (approval threshold {threshold}): the input is approved",
                best.join(", ")
            )
        });
        for (name, state) in states.iter_mut() {
            if best.contains(name) {
                *state = State::Success;
            } else if undecided.contains(name) {
                story.tell(|| format!("{name} is outvoted: REJECTED"));
                *state = State::Rejected;
            } else if *state == State::Pending {
                story.tell(|| format!("{name} had not submitted: the assignment is closed"));
                *state = State::Closed;
            }
        }
        return true;
    }
    if threshold == 0 {
        story.tell(|| "labeler consensus is off (approval threshold 0): reviewers decide".into());
    } else if threshold as usize > holders {
        story.tell(|| format!(
            "the approval threshold {threshold} can never be reached: the input has {holders} worker{}",
            if holders == 1 { "" } else { "s" }
        ));
    }
    let waiting: Vec<&str> = states
        .iter()
        .filter(|(_, s)| **s == State::Pending)
        .map(|(n, _)| *n)
        .collect();
    if waiting.is_empty() {
        if !undecided.is_empty() {
            if threshold > 0 && threshold as usize <= holders {
                story.tell(|| format!(
                    "no consensus: no {threshold} of the submitted workers agree; the input goes to review"
                ));
            }
            for name in undecided {
                states.insert(name, State::AwaitingReview);
            }
        }
    } else if !undecided.is_empty() {
        story.tell(|| format!("waiting for {} to submit", waiting.join(", ")));
    }
    false
}

/// Where the input stands, from its holders' states.
fn outcome(consensus: bool, states: &BTreeMap<&str, State>) -> Outcome {
    if consensus {
        return Outcome::Approved;
    }
    let any = |s: State| states.values().any(|x| *x == s);
    if states.is_empty() || any(State::Pending) {
        Outcome::Open
    } else if any(State::AwaitingReview) || any(State::AwaitingConsensusReview) {
        Outcome::AwaitingReview
    } else if any(State::Success) {
        Outcome::Approved
    } else {
        Outcome::Rejected
    }
}

fn outcome_text(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Open => "open: work is still to be submitted",
        Outcome::AwaitingReview => "awaiting review",
        Outcome::Approved => "approved",
        Outcome::Rejected => "rejected",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny history language, one event a word: `ann:cat` (ann annotates and submits `cat`),
    /// `ann+cat` (annotates only), `ann!` (submits only), `ann>` (takes the input, DYNAMIC),
    /// `rita:ok:ann:1`, `rita:no:ann:1`, `rita:redo:ann:1` (a decision on ann's submission 1).
    /// Each event is a second after the one before.
    fn events(history: &str) -> Vec<UserEvents> {
        let mut users: Vec<UserEvents> = Vec::new();
        for (i, word) in history.split_whitespace().enumerate() {
            let at = Timestamp::from_second(1_800_000_000 + i as i64).unwrap();
            let (user, rest) = word.split_at(word.find([':', '+', '!', '>']).unwrap());
            let annotation = |concept: &str| {
                Event::Annotation(
                    serde_json::from_value(serde_json::json!({
                        "id": format!("{user}-a"), "input_id": "in",
                        "data": {"concepts": [{"id": concept, "value": 1}]}
                    }))
                    .unwrap(),
                )
            };
            let submit = Event::Submit {
                input_id: "in".into(),
            };
            let mut new: Vec<Event> = match rest.split_at(1) {
                (">", _) => vec![Event::Start {
                    input_ids: vec!["in".into()],
                }],
                ("!", _) => vec![submit],
                ("+", concept) => vec![annotation(concept)],
                (":", rest) => match rest.split(':').collect::<Vec<_>>()[..] {
                    [decision, worker, k] => vec![Event::Review {
                        input_id: "in".into(),
                        worker: worker.into(),
                        submission: k.parse().unwrap(),
                        decision: match decision {
                            "ok" => Decision::APPROVE,
                            "no" => Decision::REJECT,
                            _ => Decision::REQUEST_CHANGES,
                        },
                    }],
                    [concept] => vec![annotation(concept), submit],
                    _ => panic!("{word}"),
                },
                _ => panic!("{word}"),
            };
            let slot = match users.iter().position(|u| u.user == user) {
                Some(i) => i,
                None => {
                    users.push(UserEvents {
                        user: user.into(),
                        lines: Vec::new(),
                    });
                    users.len() - 1
                }
            };
            let lines = &mut users[slot].lines;
            for event in new.drain(..) {
                lines.push((lines.len() as u32 + 1, Line { at, event }));
            }
        }
        users
    }

    fn short(state: State) -> &'static str {
        match state {
            State::Pending => "P",
            State::AwaitingReview => "R",
            State::AwaitingConsensusReview => "C",
            State::Success => "S",
            State::Rejected => "X",
            State::Closed => "-",
        }
    }

    /// Replays `history` under `review` with `planned` workers; `expected` is each holder's
    /// state (`ann=S bob=X`) and the outcome.
    #[track_caller]
    fn check(review: Review, planned: &str, history: &str, expected: &str, outcome: Outcome) {
        let rules = Rules {
            review,
            kind: Kind::Classification,
        };
        let planned: Vec<String> = planned.split_whitespace().map(String::from).collect();
        let users = events(history);
        let state = explain(&rules, "in", &planned, &users);
        let got: Vec<String> = state
            .assignments
            .iter()
            .map(|a| format!("{}={}", a.worker, short(a.state)))
            .collect();
        assert_eq!(got.join(" "), expected, "{history}\n{:#?}", state.story);
        assert_eq!(state.outcome, outcome, "{history}\n{:#?}", state.story);
        // The same events in any order of the users' files give the same state.
        let mut reversed = users.clone();
        reversed.reverse();
        assert_eq!(
            explain(&rules, "in", &planned, &reversed),
            state,
            "{history}"
        );
        // Replaying without the story derives the same.
        let told = InputState {
            story: Vec::new(),
            ..state
        };
        assert_eq!(replay(&rules, "in", &planned, &users), told, "{history}");
    }

    const NONE: Review = Review::None;
    const SAMPLED: Review = Review::Manual { sampled: true };
    const UNSAMPLED: Review = Review::Manual { sampled: false };
    const C2: Review = Review::Consensus { threshold: 2 };
    const C0: Review = Review::Consensus { threshold: 0 };
    use Outcome::{Approved as A, AwaitingReview as W, Open as O, Rejected as J};

    #[test]
    fn states() {
        check(NONE, "ann bob", "", "ann=P bob=P", O);
        check(NONE, "ann bob", "ann+cat", "ann=P bob=P", O);
        check(NONE, "ann bob", "ann:cat", "ann=S bob=P", O);
        check(NONE, "ann bob", "ann:cat bob:dog", "ann=S bob=S", A);
        check(NONE, "ann", "ann:cat ann! ann!", "ann=S", A);
        check(UNSAMPLED, "ann", "ann:cat", "ann=S", A);
        check(SAMPLED, "ann", "ann:cat", "ann=R", W);
        check(SAMPLED, "ann", "ann:cat rita:ok:ann:1", "ann=S", A);
        check(SAMPLED, "ann", "ann:cat rita:no:ann:1", "ann=X", J);
        check(SAMPLED, "ann", "ann:cat rita:redo:ann:1", "ann=P", O);
        check(
            SAMPLED,
            "ann",
            "ann:cat rita:redo:ann:1 ann:dog",
            "ann=R",
            W,
        );
        check(
            SAMPLED,
            "ann",
            "ann:cat rita:redo:ann:1 ann:dog rita:ok:ann:2",
            "ann=S",
            A,
        );
        // A decision on a submission that is not the latest changes nothing now.
        check(
            SAMPLED,
            "ann",
            "ann:cat rita:redo:ann:1 ann:dog rita:no:ann:1",
            "ann=R",
            W,
        );
        // The first decision stands; a later one is ignored.
        check(
            SAMPLED,
            "ann",
            "ann:cat sam:no:ann:1 rita:ok:ann:1",
            "ann=X",
            J,
        );
        // A second submit without changes asked is no new submission.
        check(SAMPLED, "ann", "ann:cat ann! rita:ok:ann:2", "ann=R", W);
        // Submitting with nothing annotated still submits (the server refuses it first).
        check(NONE, "ann", "ann!", "ann=S", A);
    }

    #[test]
    fn consensus() {
        check(C2, "ann bob carl", "ann:cat", "ann=C bob=P carl=P", O);
        check(
            C2,
            "ann bob carl",
            "ann:cat bob:cat",
            "ann=S bob=S carl=-",
            A,
        );
        check(
            C2,
            "ann bob carl",
            "ann:cat bob:dog",
            "ann=C bob=C carl=P",
            O,
        );
        check(
            C2,
            "ann bob carl",
            "ann:cat bob:dog carl:dog",
            "ann=X bob=S carl=S",
            A,
        );
        check(
            C2,
            "ann bob carl",
            "ann:cat bob:dog carl:bird",
            "ann=R bob=R carl=R",
            W,
        );
        check(
            C2,
            "ann bob carl",
            "ann:cat bob:dog carl:bird rita:ok:ann:1 rita:no:carl:1 rita:ok:bob:1",
            "ann=S bob=S carl=X",
            A,
        );
        check(
            C2,
            "ann bob carl",
            "ann:cat bob:dog carl:bird rita:no:ann:1 rita:no:bob:1 rita:no:carl:1",
            "ann=X bob=X carl=X",
            J,
        );
        // Changes asked of one: the new submission can make a consensus.
        check(
            C2,
            "ann bob carl",
            "ann:cat bob:dog carl:bird rita:redo:carl:1 carl:dog",
            "ann=X bob=S carl=S",
            A,
        );
        // A late submit after the consensus closed the assignment: agreeing or not.
        check(
            C2,
            "ann bob carl",
            "ann:cat bob:cat carl:cat",
            "ann=S bob=S carl=S",
            A,
        );
        check(
            C2,
            "ann bob carl",
            "ann:cat bob:cat carl:dog",
            "ann=S bob=S carl=X",
            A,
        );
        // One worker an input and threshold 2: never by agreement, always to review.
        check(C2, "ann", "ann:cat", "ann=R", W);
        check(C0, "ann bob", "ann:cat bob:cat", "ann=R bob=R", W);
        let one = explain(
            &Rules {
                review: C2,
                kind: Kind::Classification,
            },
            "in",
            &["ann".to_owned()],
            &events("ann:cat"),
        );
        assert!(
            one.story
                .iter()
                .any(|l| l
                    == "the approval threshold 2 can never be reached: the input has 1 worker"),
            "{:?}",
            one.story
        );
    }

    #[test]
    fn holders() {
        // DYNAMIC: taking the input makes one a holder.
        check(NONE, "", "ann> ann:cat bob>", "ann=S bob=P", O);
        // Work submitted by someone the plan no longer names stays theirs and counts.
        check(NONE, "bob", "ann:cat", "ann=S bob=P", O);
        // Annotations alone, by someone who does not hold the input, hold nothing.
        check(NONE, "bob", "ann+cat", "bob=P", O);
        // Reviewers hold nothing.
        check(SAMPLED, "ann", "ann:cat rita:ok:ann:1", "ann=S", A);
    }

    #[test]
    fn annotation_states() {
        let rules = Rules {
            review: SAMPLED,
            kind: Kind::Classification,
        };
        let state = replay(&rules, "in", &["ann".into()], &events("ann:cat bob+dog"));
        let got: Vec<(&str, State)> = state
            .annotations
            .iter()
            .map(|a| (a.worker.as_str(), a.state))
            .collect();
        assert_eq!(
            got,
            [("ann", State::AwaitingReview), ("bob", State::Pending)]
        );
        // Changed after the submit: the new version is not the submitted one.
        let state = replay(&rules, "in", &["ann".into()], &events("ann:cat ann+dog"));
        assert_eq!(state.annotations[0].state, State::Pending);
        assert_eq!(state.assignments[0].state, State::AwaitingReview);
    }

    /// Shuffled users, reversed lines of other users: the state depends on the events only.
    #[test]
    fn the_order_of_files_never_matters() {
        let histories = [
            "ann:cat bob:dog carl:dog rita:ok:ann:1",
            "ann:cat bob:dog carl:bird rita:redo:carl:1 carl:dog sam:no:bob:1",
            "ann> bob> ann:cat bob:cat carl:cat",
        ];
        let mut seed = 7u64;
        for history in histories {
            for review in [NONE, SAMPLED, C2] {
                let rules = Rules {
                    review,
                    kind: Kind::Classification,
                };
                let planned = ["ann".to_owned(), "bob".to_owned(), "carl".to_owned()];
                let users = events(history);
                let first = replay(&rules, "in", &planned, &users);
                for _ in 0..20 {
                    let mut shuffled = users.clone();
                    for i in (1..shuffled.len()).rev() {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        shuffled.swap(i, (seed >> 33) as usize % (i + 1));
                    }
                    assert_eq!(
                        replay(&rules, "in", &planned, &shuffled),
                        first,
                        "{history}"
                    );
                }
            }
        }
    }

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
            format!(
                "{}:{} {:?} {} {}",
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
                let log = parse_in_pieces(text.as_bytes(), first_line, pieces);
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
                "1:38 Error  unknown field `submitt`, expected one of `at`, `start`, `annotation`, `submit`, `review`; the line is left out",
            ],
        );
        read(
            format!("{{{AT}}}\n").as_bytes(),
            &[
                "1:1 Error  the line holds no event: `start`, `annotation`, `submit` or `review`; the line is left out",
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
    fn lines_read_back_as_written() {
        let lines = events("ann> ann:cat rita:redo:ann:1");
        for (_, line) in &lines
            .iter()
            .flat_map(|u| u.lines.clone())
            .collect::<Vec<_>>()
        {
            let log = parse_log(to_line(line).as_bytes(), 1);
            assert_eq!(log.lines, [(1, line.clone())]);
            assert_eq!(
                Line::from_stored("in", line.to_stored()).as_ref(),
                Some(line)
            );
        }
    }
}
