//! What reviewers said to a worker about their decided work: each input of a task the worker
//! holds approved or rejected whose standing decision carries a comment. Work sent back for
//! changes comes back through LABEL_START with its comment; decided work never does, so the
//! labeling app asks here. Must not decide which decision stands: the replay does
//! ([`Repo::explain`]), and only for inputs where some decision on the worker's latest
//! submission has a comment at all.

use super::Repo;
use crate::error::Result;
use crate::work::{Event, State};

/// A decided input of the worker's and the comment of the decision that stands on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub input: String,
    /// [`State::Success`] (approved) or [`State::Rejected`].
    pub state: State,
    pub comment: String,
}

impl Repo {
    /// `worker`'s approved and rejected inputs of the task with a reviewer's comment, by input.
    pub fn feedback(&self, task_id: &str, worker: &str) -> Result<Vec<Feedback>> {
        self.get(task_id)?;
        let mut found = Vec::new();
        for (input, state) in self.index.worker_states(task_id, worker)? {
            if !matches!(state, State::Success | State::Rejected) {
                continue;
            }
            let users = self.index.input_events(task_id, &input)?;
            let commented = users.iter().flat_map(|u| &u.lines).any(|(_, line)| {
                matches!(&line.event, Event::Review { worker: w, comment: Some(_), .. } if w == worker)
            });
            if !commented {
                continue;
            }
            let comment = self
                .explain(task_id, &input)?
                .assignments
                .into_iter()
                .find(|a| a.worker == worker)
                .and_then(|a| a.comment);
            if let Some(comment) = comment {
                found.push(Feedback {
                    input,
                    state,
                    comment,
                });
            }
        }
        Ok(found)
    }
}
