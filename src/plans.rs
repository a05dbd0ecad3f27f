//! A task's assignment as the index keeps it: which inputs its `input_source` selects, and what
//! [`crate::assign`] makes of them (PARTITIONED: quotas and moves; MANUAL review: the sample and
//! the reviewers' plan). Pure: turns a [`Task`] and its input ids into a [`TaskPlan`]; must not
//! do I/O or know SQLite ([`crate::store`] keeps plans, [`crate::sync`] decides when to remake
//! them).

use std::collections::HashMap;

use crate::assign::{self, Assigner, Move, Sample, Spec};
use crate::model::{InputSourceType, PartitionType, ReviewStrategy, Task, WorkerStrategy};

/// The inputs a task's `input_source` selects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// Every distinct input id over all datasets.
    All,
    /// The inputs of one dataset (none when it has no file).
    Dataset(String),
    /// One input, when a dataset lists it.
    Input(String),
    /// Nothing offline: a saved search, or no source.
    Nothing,
}

impl Source {
    pub fn of(task: &Task) -> Source {
        let Some(source) = &task.doc().input_source else {
            return Source::Nothing;
        };
        let id = source.id.clone().unwrap_or_default();
        match source.source_type {
            Some(InputSourceType::ALL_INPUTS) => Source::All,
            Some(InputSourceType::DATASET) => Source::Dataset(id),
            Some(InputSourceType::INPUT) => Source::Input(id),
            _ => Source::Nothing,
        }
    }

    /// How the index records the source: its type and id.
    pub fn key(&self) -> (&'static str, &str) {
        match self {
            Source::All => ("ALL_INPUTS", ""),
            Source::Dataset(id) => ("DATASET", id),
            Source::Input(id) => ("INPUT", id),
            Source::Nothing => ("", ""),
        }
    }

    /// The source the index recorded as `key` gives it.
    pub fn from_key(kind: &str, id: &str) -> Source {
        match kind {
            "ALL_INPUTS" => Source::All,
            "DATASET" => Source::Dataset(id.to_owned()),
            "INPUT" => Source::Input(id.to_owned()),
            _ => Source::Nothing,
        }
    }
}

/// How a task's workers get its inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Labeling {
    /// Every worker gets every input.
    Full,
    /// Each input goes to `per_input` of the workers, by [`assign::partition`].
    Partitioned(Spec),
    /// Nothing is assigned up front.
    Dynamic,
}

impl Labeling {
    pub fn of(task: &Task) -> Labeling {
        let Some(worker) = &task.doc().worker else {
            return Labeling::Dynamic;
        };
        match worker.strategy {
            Some(WorkerStrategy::FULL) => Labeling::Full,
            Some(WorkerStrategy::PARTITIONED) => {
                let info = worker.partitioned_strategy_info.clone().unwrap_or_default();
                let weighted = info.partition_type == Some(PartitionType::WEIGHTED);
                let weights = info.weights.unwrap_or_default();
                let workers = task
                    .worker_ids()
                    .iter()
                    .map(|user| {
                        let weight = if weighted {
                            weights.0.get(user).copied().unwrap_or(0.0)
                        } else {
                            1.0
                        };
                        (user.clone(), weight)
                    })
                    .collect();
                Labeling::Partitioned(Spec {
                    task_id: task.id().to_owned(),
                    workers,
                    per_input: info.workers_per_input.unwrap_or(1).max(0) as usize,
                })
            }
            _ => Labeling::Dynamic,
        }
    }
}

/// MANUAL review's part of a plan: which inputs are sampled, and how the reviewers share them.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewPlan {
    pub sample: Sample,
    /// How many inputs the sample holds.
    pub sampled: u64,
    /// The reviewers' plan over the sampled inputs: each reviewer's count, and the exceptions.
    pub plan: assign::Partition,
}

/// What the index keeps of a task's assignment.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskPlan {
    /// How many inputs the source selects (N).
    pub inputs: u64,
    /// PARTITIONED's plan.
    pub work: Option<assign::Partition>,
    /// MANUAL review's, when the task has reviewers.
    pub review: Option<ReviewPlan>,
}

/// The reviewers' spec: each gets the sampled inputs evenly, one reviewer an input.
fn review_spec(task: &Task) -> Option<(Spec, f64)> {
    let review = task.doc().review.as_ref()?;
    if review.strategy != Some(ReviewStrategy::MANUAL) || task.reviewer_ids().is_empty() {
        return None;
    }
    let fraction = review
        .manual_strategy_info
        .as_ref()
        .and_then(|m| m.sample_percentage)
        .unwrap_or(1.0);
    let spec = Spec {
        // Its own seed, so the reviewers' split is not the labelers'.
        task_id: format!("{}\u{0}review", task.id()),
        workers: task
            .reviewer_ids()
            .iter()
            .map(|user| (user.clone(), 1.0))
            .collect(),
        per_input: 1,
    };
    Some((spec, fraction))
}

/// The plan of `task` over `inputs` (distinct ids, any order).
pub fn compute(task: &Task, inputs: &[&str]) -> TaskPlan {
    let work = match Labeling::of(task) {
        Labeling::Partitioned(spec) => Some(assign::partition(&spec, inputs)),
        Labeling::Full | Labeling::Dynamic => None,
    };
    let review = review_spec(task).map(|(spec, fraction)| {
        let sample = assign::sample(task.id(), inputs, fraction);
        let chosen: Vec<&str> = inputs
            .iter()
            .copied()
            .filter(|input| assign::sampled(task.id(), input, &sample))
            .collect();
        ReviewPlan {
            sample,
            sampled: chosen.len() as u64,
            plan: assign::partition(&spec, &chosen),
        }
    });
    TaskPlan {
        inputs: inputs.len() as u64,
        work,
        review,
    }
}

/// Each worker's number of inputs (in the task's worker order): FULL every input, PARTITIONED
/// its quota, DYNAMIC none up front.
pub fn worker_counts(task: &Task, plan: &TaskPlan) -> Vec<u64> {
    let workers = task.worker_ids().len();
    match (Labeling::of(task), &plan.work) {
        (Labeling::Full, _) => vec![plan.inputs; workers],
        (Labeling::Partitioned(_), Some(work)) => work.quotas.clone(),
        _ => vec![0; workers],
    }
}

/// Answers "which workers label this input" for one task, input after input in id order.
pub struct Walker {
    kind: Walk,
    workers: usize,
}

enum Walk {
    Full,
    Partitioned(Assigner),
    Dynamic,
}

impl Walker {
    pub fn new(task: &Task) -> Walker {
        let kind = match Labeling::of(task) {
            Labeling::Full => Walk::Full,
            Labeling::Partitioned(spec) => Walk::Partitioned(Assigner::new(&spec)),
            Labeling::Dynamic => Walk::Dynamic,
        };
        Walker {
            kind,
            workers: task.worker_ids().len(),
        }
    }

    /// The workers (indexes into the task's workers, ascending) of `input`, given its moves.
    pub fn workers_of(&self, input: &str, moves: &[Move]) -> Vec<usize> {
        match &self.kind {
            Walk::Full => (0..self.workers).collect(),
            Walk::Partitioned(assigner) => assigner.workers_of(input, moves),
            Walk::Dynamic => Vec::new(),
        }
    }

    /// Whether any input has workers up front.
    pub fn assigns(&self) -> bool {
        !matches!(self.kind, Walk::Dynamic) && self.workers > 0
    }
}

/// Who the plan gives each input of one task, and whether MANUAL review's sample holds it:
/// what replaying an input's work needs of the plan, prepared once per task.
pub struct InputPlans {
    task: Task,
    walker: Walker,
    moves: HashMap<String, Vec<Move>>,
    sample: Option<Sample>,
    source: Source,
}

impl InputPlans {
    /// `plan` and `moves` as the index keeps them for `task`.
    pub fn new(
        task: Task,
        plan: Option<&TaskPlan>,
        moves: HashMap<String, Vec<Move>>,
    ) -> InputPlans {
        InputPlans {
            walker: Walker::new(&task),
            moves,
            sample: plan
                .and_then(|p| p.review.as_ref())
                .map(|r| r.sample.clone()),
            source: Source::of(&task),
            task,
        }
    }

    pub fn task(&self) -> &Task {
        &self.task
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Whether MANUAL review's sample holds the input.
    pub fn sampled(&self, input: &str) -> bool {
        self.sample
            .as_ref()
            .is_some_and(|s| assign::sampled(self.task.id(), input, s))
    }

    /// The workers the plan gives the input, by id; none when the source does not select it
    /// (`selected`).
    pub fn planned(&self, input: &str, selected: bool) -> Vec<String> {
        if !selected || !self.walker.assigns() {
            return Vec::new();
        }
        let moves = self.moves.get(input).map_or(&[][..], Vec::as_slice);
        let workers = self.task.worker_ids();
        let mut planned: Vec<String> = self
            .walker
            .workers_of(input, moves)
            .into_iter()
            .map(|w| workers[w].clone())
            .collect();
        planned.sort_unstable();
        planned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(yaml: &str) -> Task {
        let doc = crate::yaml::parse_task(yaml.as_bytes()).unwrap();
        let (task, diagnostics) = crate::validate::validate(doc, Some("t"));
        task.unwrap_or_else(|| panic!("{diagnostics:?}"))
    }

    const BASE: &str = "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [c]\n";

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("in-{i:05}")).collect()
    }

    /// Every input's workers as the walk gives them, as counts per worker.
    fn walked(task: &Task, plan: &TaskPlan, inputs: &[String]) -> Vec<u64> {
        let walker = Walker::new(task);
        let moves = plan.work.as_ref().map_or(&[][..], |w| &w.moves[..]);
        let mut counts = vec![0; task.worker_ids().len()];
        for input in inputs {
            let mine: Vec<Move> = moves
                .iter()
                .filter(|m| &m.input == input)
                .cloned()
                .collect();
            for w in walker.workers_of(input, &mine) {
                counts[w] += 1;
            }
        }
        counts
    }

    /// `expected` is sorted: which of two equal shares gets the extra input is the hash's.
    #[track_caller]
    fn check(worker: &str, n: usize, expected: &[u64]) {
        let task = task(&format!(
            "{BASE}input_source: {{type: ALL_INPUTS}}\nworker: {worker}\n"
        ));
        let inputs = ids(n);
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let plan = compute(&task, &refs);
        assert_eq!(plan.inputs, n as u64);
        let counts = worker_counts(&task, &plan);
        let mut sorted = counts.clone();
        sorted.sort();
        assert_eq!(sorted, expected, "{worker}");
        assert_eq!(
            walked(&task, &plan, &inputs),
            counts,
            "the walk meets the counts: {worker}"
        );
    }

    #[test]
    fn workers_get_what_their_strategy_says() {
        check("{strategy: FULL, user_ids: [a, b]}", 7, &[7, 7]);
        check("{strategy: DYNAMIC, user_ids: [a, b]}", 7, &[0, 0]);
        check(
            "{strategy: PARTITIONED, user_ids: [a, b, c], partitioned_strategy_info: {type: EVENLY, workers_per_input: 1}}",
            10,
            &[3, 3, 4],
        );
        check(
            "{strategy: PARTITIONED, user_ids: [a, b], partitioned_strategy_info: {type: WEIGHTED, workers_per_input: 1, weights: {a: 90, b: 10}}}",
            101,
            &[10, 91],
        );
        check(
            "{strategy: PARTITIONED, user_ids: [a, b, c], partitioned_strategy_info: {type: EVENLY, workers_per_input: 2}}",
            5,
            &[3, 3, 4],
        );
    }

    #[test]
    fn sources() {
        let source = |s: &str| Source::of(&task(&format!("{BASE}input_source: {s}\n")));
        assert_eq!(source("{type: ALL_INPUTS}"), Source::All);
        assert_eq!(
            source("{type: DATASET, id: d}"),
            Source::Dataset("d".into())
        );
        assert_eq!(source("{type: INPUT, id: i}"), Source::Input("i".into()));
        assert_eq!(source("{type: SAVED_SEARCH, id: s}"), Source::Nothing);
        for s in [
            "{type: ALL_INPUTS}",
            "{type: DATASET, id: d}",
            "{type: INPUT, id: i}",
        ] {
            let source = source(s);
            let (kind, id) = source.key();
            assert_eq!(Source::from_key(kind, id), source, "{s}");
        }
    }

    #[test]
    fn manual_review_samples_and_shares_evenly() {
        let task = task(&format!(
            "{BASE}input_source: {{type: ALL_INPUTS}}\nworker: {{strategy: FULL, user_ids: [a]}}\nreview: {{strategy: MANUAL, user_ids: [r1, r2, r3], manual_strategy_info: {{sample_percentage: 0.25}}}}\n"
        ));
        let inputs = ids(1001);
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let review = compute(&task, &refs).review.unwrap();
        assert_eq!(review.sampled, 250, "round(1001 * 0.25)");
        let mut quotas = review.plan.quotas.clone();
        quotas.sort();
        assert_eq!(quotas, [83, 83, 84]);
    }
}
