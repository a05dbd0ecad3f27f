//! A task's numbers: its stored plan, GetTaskInputCount and GetTaskAnnotationCount (each
//! holder's assignments or annotations by state, exact) and the metrics the API adds to a task.
//! Must not print or count by scanning work: the index keeps the counts as rows change.

use std::collections::{BTreeMap, HashMap};

use super::Repo;
use crate::api::{self, CountPerUser};
use crate::error::Result;
use crate::model::Task;
use crate::plans;
use crate::store::Counted;
use crate::work::State;

impl Repo {
    /// A task as the API's JSON with its `metrics` added.
    pub fn with_metrics(&self, task: &Task) -> Result<serde_json::Value> {
        let mut value = serde_json::to_value(task).expect("tasks always serialise");
        value["metrics"] = serde_json::to_value(self.metrics(task)?).expect("metrics serialise");
        Ok(value)
    }

    /// A task's stored plan (without its moves); a task the index has no plan for yet has no
    /// inputs.
    pub fn plan(&self, task: &Task) -> Result<plans::TaskPlan> {
        Ok(self
            .index
            .task_plan(task.id())?
            .unwrap_or_else(|| plans::compute(task, &[])))
    }

    /// GetTaskAnnotationCount: each holder's annotations on the task, by state.
    pub fn annotation_counts(&self, task_id: &str) -> Result<Counts> {
        let mut counts = self.planned_counts(task_id)?;
        let mut rows = Rows::new(&counts.task);
        for row in self.index.work_counts(task_id)? {
            if row.kind == Counted::Annotations {
                rows.add(&row.worker, row.state, row.n as i64);
            }
        }
        counts.rows = rows.done();
        Ok(counts)
    }

    /// GetTaskInputCount: each holder's assignments by state: the plan's, all PENDING, with
    /// the work recorded on them, and those held otherwise (DYNAMIC hand-outs, kept work).
    pub fn counts(&self, task_id: &str) -> Result<Counts> {
        let mut counts = self.planned_counts(task_id)?;
        let mut rows = Rows::new(&counts.task);
        for (worker, n) in &counts.per_worker {
            rows.add(worker, State::Pending, *n as i64);
        }
        for row in self.index.work_counts(task_id)? {
            match row.kind {
                Counted::Planned if row.state != State::Pending => {
                    rows.add(&row.worker, State::Pending, -(row.n as i64));
                    rows.add(&row.worker, row.state, row.n as i64);
                }
                Counted::Held => rows.add(&row.worker, row.state, row.n as i64),
                Counted::Planned | Counted::Annotations => {}
            }
        }
        counts.rows = rows.done();
        Ok(counts)
    }

    /// Exact task metrics: the plan's counts, and the share of inputs labeled (every holder
    /// submitted) and decided (approved or rejected).
    pub fn metrics(&self, task: &Task) -> Result<api::TaskMetrics> {
        let mut metrics = api::TaskMetrics::new(task, &self.plan(task)?);
        let (labeled, decided) = self.index.work_progress(task.id())?;
        let inputs = metrics.input_source.inputs_count_estimated;
        let percent = |n: u64| {
            (n.min(inputs) * 100)
                .checked_div(inputs)
                .map_or(0, |p| p as u32)
        };
        metrics.work.inputs_percent_estimated = percent(labeled);
        metrics.review.inputs_percent_estimated = percent(decided);
        Ok(metrics)
    }

    /// A task's planned counts, with no rows yet.
    fn planned_counts(&self, task_id: &str) -> Result<Counts> {
        let task = self.get(task_id)?;
        let plan = self.plan(&task)?;
        let per_worker = task
            .worker_ids()
            .iter()
            .cloned()
            .zip(plans::worker_counts(&task, &plan))
            .collect();
        Ok(Counts {
            task,
            per_worker,
            plan,
            rows: Vec::new(),
        })
    }
}

/// A task's counts: each worker's number of inputs as planned, in the task's worker order,
/// and every holder's assignments (or annotations) by state.
#[derive(Debug)]
pub struct Counts {
    pub task: Task,
    pub per_worker: Vec<(String, u64)>,
    pub plan: plans::TaskPlan,
    /// The task's workers in its order, then anyone else holding work on it, by id.
    pub rows: Vec<crate::api::CountPerUser>,
}

impl Counts {
    /// GetTaskInputCount's rows: each worker's, or only those of `users` when it names any.
    pub fn per_user(&self, users: &[String]) -> Vec<crate::api::CountPerUser> {
        self.rows
            .iter()
            .filter(|row| users.is_empty() || users.contains(&row.worker.user.id))
            .cloned()
            .collect()
    }
}

/// TaskStatusCountPerUser rows being added up: the task's workers in its order, then anyone
/// else by id.
struct Rows {
    rows: Vec<CountPerUser>,
    at: HashMap<String, usize>,
    others: BTreeMap<String, CountPerUser>,
}

impl Rows {
    fn new(task: &Task) -> Rows {
        let rows: Vec<CountPerUser> = task
            .worker_ids()
            .iter()
            .map(|w| CountPerUser::pending(w, 0))
            .collect();
        let at = task
            .worker_ids()
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i))
            .collect();
        Rows {
            rows,
            at,
            others: BTreeMap::new(),
        }
    }

    fn add(&mut self, worker: &str, state: State, n: i64) {
        let row = match self.at.get(worker) {
            Some(&i) => &mut self.rows[i],
            None => self
                .others
                .entry(worker.to_owned())
                .or_insert_with(|| CountPerUser::pending(worker, 0)),
        };
        let count = match state {
            State::Pending => &mut row.pending,
            State::AwaitingReview => &mut row.awaiting_review,
            State::AwaitingConsensusReview => &mut row.awaiting_consensus_review,
            State::Success => &mut row.success,
            State::Rejected => &mut row.review_denied,
            State::Closed => return,
        };
        *count = count.saturating_add_signed(n);
    }

    fn done(mut self) -> Vec<CountPerUser> {
        self.rows.extend(self.others.into_values());
        self.rows
    }
}
