//! The work people do on tasks: the lines of `work/<task>/<user>.jsonl` ([`line`]), the
//! Annotation document ([`annotation`]) and the assignment state machine ([`replay`]), with the
//! names they share (states, decisions). Pure: must not do I/O or know SQLite; the index
//! ([`crate::store`], [`crate::sync`]) keeps what they return. ARCHITECTURE.md, "The
//! workflow", describes the rules.

pub mod annotation;
pub mod assist;
pub mod line;
pub mod replay;

pub use annotation::{Annotation, Kind};
pub use line::{
    COMMENT_MAX, Decided, Event, Line, Log, Stored, annotation_line, parse_log, parse_log_each,
    to_line,
};
pub use replay::{
    AnnotationState, AssignmentState, InputState, Outcome, Review, Rules, UserEvents, explain,
    replay,
};

use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[allow(non_camel_case_types)]
pub enum Decision {
    APPROVE,
    REQUEST_CHANGES,
    REJECT,
}
