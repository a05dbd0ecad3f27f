//! Work logs and the assignment state machine: the lines of `work/<task>/<user>.jsonl` (raw
//! text into validated events, with located diagnostics) and [`replay`], which derives one
//! input's assignments, annotations and outcome from every user's events on it. Pure: must not
//! do I/O or know SQLite; the index ([`crate::store`], [`crate::sync`]) keeps what it returns.
//! The contract is in notes/WORK.md.

pub mod annotation;

pub use annotation::{Annotation, Kind};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::validate::Diagnostic;

/// The folder beside `tasks/` that holds the work files.
pub const WORK_DIR: &str = "work";

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
    /// TASK_ASSIGNMENT_* (54200-54204); Closed has none and is never sent.
    pub fn code(self) -> u32 {
        todo!()
    }
    pub fn description(self) -> &'static str {
        todo!()
    }
    /// The status of the assignment's annotations: ANNOTATION_* (24150, 24151, 24157, 24158,
    /// 24159).
    pub fn annotation_code(self) -> u32 {
        todo!()
    }
    pub fn annotation_description(self) -> &'static str {
        todo!()
    }
    /// The state a status filter names: an assignment or an annotation code.
    pub fn from_code(code: u32) -> Option<State> {
        todo!()
    }
    /// The number the index stores.
    pub fn to_i64(self) -> i64 {
        self as i64
    }
    pub fn from_i64(n: i64) -> Option<State> {
        todo!()
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

/// One line of a work file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub at: Timestamp,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

impl Event {
    /// The inputs the event is about.
    pub fn inputs(&self) -> &[String] {
        todo!()
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
pub fn parse_log(bytes: &[u8], first_line: u32) -> Log {
    todo!()
}

/// One line as the writer appends it, `\n` included.
pub fn to_line(line: &Line) -> String {
    todo!()
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
        todo!()
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
    pub state: State,
    /// When its first and its latest line were written.
    pub created_at: Timestamp,
    pub modified_at: Timestamp,
}

/// Where an input stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// Why, in order, for `explain`: who was assigned, who said what, what decided it.
    pub story: Vec<String>,
}

/// Derives one input's state. `planned` are the workers the plan gives the input (ascending);
/// `users` every user's events on it (any order of users; each user's in file order).
pub fn replay(rules: &Rules, input: &str, planned: &[String], users: &[UserEvents]) -> InputState {
    todo!()
}
