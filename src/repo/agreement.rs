//! How often a task's workers agree: for each pair of workers, the inputs both have submitted
//! and how many of them they agree on, by the rule consensus decides by
//! ([`crate::work::annotation::agree`]). Must not decide consensus (the replay does) nor keep
//! numbers of its own: it reads the index's replayed rows each time it is asked, a cost that
//! follows the task's work, not the project.

use std::collections::BTreeMap;

use super::Repo;
use crate::error::Result;
use crate::store::{StoreError, entry_data};
use crate::work::{Annotation, Kind, State, annotation};

/// Two workers and the inputs both submitted: how many, and on how many they agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairAgreement {
    /// The two workers, in id order.
    pub workers: [String; 2],
    pub inputs: u64,
    pub agreed: u64,
}

impl Repo {
    /// Every pair of workers who both submitted at least one input of the task, in id order.
    /// A worker's version of an input is their current annotations on it while their
    /// assignment is submitted (awaiting a decision or decided); withdrawn work and work sent
    /// back for changes are not compared.
    pub fn agreement(&self, task_id: &str) -> Result<Vec<PairAgreement>> {
        let task = self.get(task_id)?;
        let kind = Kind::of(&task);
        let corrupt = || StoreError::CorruptBody(task_id.to_owned());
        let mut pairs: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        let mut failed = None;
        self.index.each_work_row(task_id, |row| {
            if failed.is_some() {
                return;
            }
            let submitted: Vec<&str> = row
                .holders
                .iter()
                .filter(|(_, state, _)| submitted(*state))
                .map(|(worker, ..)| worker.as_str())
                .collect();
            if submitted.len() < 2 {
                return;
            }
            let versions = row.entries(task_id).and_then(|entries| {
                submitted
                    .iter()
                    .map(|worker| {
                        row.annotations
                            .iter()
                            .filter(|(w, ..)| w == worker)
                            .map(|(w, _, line)| {
                                let data = entry_data(&entries, w, *line).ok_or_else(corrupt)?;
                                serde_json::from_str::<Annotation>(data.get())
                                    .map_err(|_| corrupt())
                            })
                            .collect::<std::result::Result<Vec<_>, _>>()
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()
            });
            let versions = match versions {
                Ok(versions) => versions,
                Err(e) => {
                    failed = Some(e);
                    return;
                }
            };
            let refs: Vec<Vec<&Annotation>> = versions.iter().map(|v| v.iter().collect()).collect();
            for i in 0..submitted.len() {
                for j in i + 1..submitted.len() {
                    let (a, b) = (submitted[i], submitted[j]);
                    let key = if a < b { (a, b) } else { (b, a) };
                    let counted = pairs
                        .entry((key.0.to_owned(), key.1.to_owned()))
                        .or_default();
                    counted.0 += 1;
                    counted.1 += u64::from(annotation::agree(kind, &refs[i], &refs[j]));
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        Ok(pairs
            .into_iter()
            .map(|((a, b), (inputs, agreed))| PairAgreement {
                workers: [a, b],
                inputs,
                agreed,
            })
            .collect())
    }
}

/// Whether an assignment in this state holds a submission: awaiting a decision, or decided.
fn submitted(state: State) -> bool {
    match state {
        State::AwaitingReview
        | State::AwaitingConsensusReview
        | State::Success
        | State::Rejected => true,
        State::Pending | State::Closed => false,
    }
}
