//! The work queues' fast paths against the slow ones, over generated histories: LABEL_START and
//! ListNextTaskAssignments walked from each worker's frontier against a walk of every input,
//! REVIEW_START against every row awaiting review, writes synced path by path under a
//! watcher against a rebuilt index, and the frontiers a rebuild places against a full walk.

use std::fs;
use std::path::Path;

use super::assignments::BATCH;
use super::*;
use crate::api;
use crate::plans::InputPlans;
use crate::work::{Decision, State};

/// A small deterministic generator (xorshift64*), so a failing history can be replayed by seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

const WORKERS: [&str; 3] = ["ann", "bob", "carl"];

const TASKS: [(&str, &str); 3] = [
    (
        "partitioned",
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog]\ninput_source: {type: ALL_INPUTS}\n\
         worker: {strategy: PARTITIONED, user_ids: [ann, bob, carl], \
         partitioned_strategy_info: {type: EVENLY, workers_per_input: 2}}\n\
         review: {strategy: MANUAL, user_ids: [rita], manual_strategy_info: {sample_percentage: 0.5}}\n",
    ),
    (
        "consensus",
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog]\ninput_source: {type: ALL_INPUTS}\n\
         worker: {strategy: FULL, user_ids: [ann, bob, carl]}\n\
         review: {strategy: CONSENSUS, user_ids: [rita], consensus_strategy_info: {approval_threshold: 2}}\n",
    ),
    (
        "dynamic",
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog]\ninput_source: {type: ALL_INPUTS}\n\
         worker: {strategy: DYNAMIC, user_ids: [ann, bob, carl]}\n\
         review: {strategy: MANUAL, user_ids: [rita], manual_strategy_info: {sample_percentage: 1}}\n",
    ),
];

fn write_inputs(root: &Path, n: usize) {
    let lines: String = (0..n)
        .map(|i| format!("{{\"id\": \"in-{i:03}\"}}\n"))
        .collect();
    fs::write(root.join("inputs/ds.jsonl"), lines).unwrap();
}

/// Up to `limit` of `user`'s open assignments by a walk of every input of the source.
fn open_by_full_walk(repo: &Repo, plans: &InputPlans, user: &str, limit: usize) -> Vec<String> {
    let task = plans.task().id();
    let mut open = Vec::new();
    repo.index
        .each_input(plans.source(), |input| {
            let row = repo.index.holders(task, input).unwrap();
            let row = row.iter().find(|r| r.worker == user);
            if plans.planned(input, true).iter().any(|w| w == user)
                && row.is_none_or(|r| r.state == State::Pending)
            {
                open.push(input.to_owned());
            }
            true
        })
        .unwrap();
    repo.index
        .each_held_in_state(task, user, State::Pending, |input, planned| {
            if !planned {
                open.push(input.to_owned());
            }
            true
        })
        .unwrap();
    open.sort_unstable();
    open.dedup();
    open.truncate(limit);
    open
}

/// Where a walk of every input leaves `user`'s frontier on `task`: at their first input the
/// plan gives them without a row of theirs, else at the last input.
fn frontier_by_full_walk(repo: &Repo, task: &str, user: &str) -> String {
    let plans = repo.input_plans(&repo.get(task).unwrap()).unwrap();
    let mut last = String::new();
    let mut first_untouched = None;
    repo.index
        .each_input(plans.source(), |input| {
            last = input.to_owned();
            let mine = plans.planned(input, true).iter().any(|w| w == user);
            if mine && !repo.index.has_row(task, input, user).unwrap() {
                first_untouched = Some(input.to_owned());
                return false;
            }
            true
        })
        .unwrap();
    first_untouched.unwrap_or(last)
}

/// The frontier's invariant (`store::queues`): every input before `user`'s frontier that the
/// plan gives them has a row of theirs.
fn check_frontier_holds(repo: &Repo, task: &str, user: &str, at: &str) {
    let plans = repo.input_plans(&repo.get(task).unwrap()).unwrap();
    let frontier = repo.index.frontier(task, user).unwrap();
    repo.index
        .each_input(plans.source(), |input| {
            if input >= frontier.as_str() {
                return false;
            }
            let mine = plans.planned(input, true).iter().any(|w| w == user);
            assert!(
                !mine || repo.index.has_row(task, input, user).unwrap(),
                "{user}'s frontier on {task} is {frontier}, past {input} they have not begun, {at}"
            );
            true
        })
        .unwrap();
}

/// `user`'s first page of open assignments on `task` by a full walk, as assignment ids.
fn expected_page(repo: &Repo, task: &str, user: &str) -> Vec<String> {
    let plans = repo.input_plans(&repo.get(task).unwrap()).unwrap();
    open_by_full_walk(repo, &plans, user, BATCH)
        .iter()
        .map(|input| api::assignment_id(input, user))
        .collect()
}

/// REVIEW_START as the task's reviewer.
fn review_start(repo: &mut Repo, task: &str) -> Vec<api::TaskAssignment> {
    let start = Action::ReviewStart {
        workers: Vec::new(),
    };
    repo.put_assignments("rita", task, start).unwrap()
}

/// Every row of the task awaiting review, first ten by (input, worker).
fn awaiting_by_full_walk(repo: &Repo, task: &str) -> Vec<String> {
    let mut rows = Vec::new();
    repo.index
        .each_input(&crate::plans::Source::All, |input| {
            for row in repo.index.holders(task, input).unwrap() {
                if row.state == State::AwaitingReview {
                    rows.push(api::assignment_id(input, &row.worker));
                }
            }
            true
        })
        .unwrap();
    rows.truncate(BATCH);
    rows
}

fn ids(assignments: &[api::TaskAssignment]) -> Vec<String> {
    assignments.iter().map(|a| a.id.clone()).collect()
}

fn annotate(repo: &mut Repo, task: &str, user: &str, input: &str, concept: &str) -> bool {
    let annotation = serde_json::from_value(serde_json::json!({
        "input_id": input, "data": {"concepts": [{"id": concept, "value": 1}]}
    }))
    .unwrap();
    let annotations = vec![NewAnnotation {
        task_id: task.into(),
        annotation,
    }];
    repo.post_annotations(user, annotations).is_ok()
}

fn submit(repo: &mut Repo, task: &str, user: &str, input: &str) {
    let submit = Action::LabelSubmit(vec![NamedId {
        field: "label_submit_config.task_assignments[0].id".into(),
        id: api::assignment_id(input, user),
    }]);
    // Refused when the assignment is not open: that is part of the history too.
    let _ = repo.put_assignments(user, task, submit);
}

/// Checks every worker's queue on every task, and the reviewer's, against the full walks.
fn check_queues(repo: &mut Repo, seed: u64, step: usize) {
    for (task, _) in TASKS {
        for user in WORKERS {
            check_frontier_holds(repo, task, user, &format!("seed {seed}, step {step}"));
            assert_eq!(
                ids(&repo.next_assignments(user, task).unwrap()),
                expected_page(repo, task, user),
                "ListNextTaskAssignments of {user} on {task}, seed {seed}, step {step}"
            );
        }
        assert_eq!(
            ids(&review_start(repo, task)),
            awaiting_by_full_walk(repo, task),
            "REVIEW_START on {task}, seed {seed}, step {step}"
        );
    }
}

/// One random step of a team's day: labeling, submitting, reviewing, a worker's file cut back
/// (its last events gone, as a `git checkout` of an older version does), new inputs.
fn step(repo: &mut Repo, root: &Path, rng: &mut Rng, inputs: &mut usize) {
    let (task, _) = TASKS[rng.below(TASKS.len())];
    let user = WORKERS[rng.below(WORKERS.len())];
    match rng.below(10) {
        0..=5 => {
            let started = repo
                .put_assignments(user, task, Action::LabelStart)
                .unwrap();
            // Under DYNAMIC an empty queue hands out new inputs, which are then the queue.
            assert_eq!(
                ids(&started),
                expected_page(repo, task, user),
                "LABEL_START of {user} on {task}"
            );
            // Work on some of the page, not always the first, so frontiers meet gaps.
            for assignment in &started {
                if rng.below(3) == 0 {
                    continue;
                }
                let input = assignment.id.rsplit_once('.').unwrap().0.to_owned();
                let concept = ["cat", "dog"][rng.below(2)];
                if annotate(repo, task, user, &input, concept) && rng.below(4) > 0 {
                    submit(repo, task, user, &input);
                }
            }
        }
        6 | 7 => {
            let waiting = review_start(repo, task);
            if let Some(a) = waiting.get(rng.below(waiting.len().max(1))) {
                let decision = [
                    Decision::APPROVE,
                    Decision::REQUEST_CHANGES,
                    Decision::REJECT,
                ][rng.below(3)];
                let review = Review {
                    decision,
                    assignments: vec![a.id.clone()],
                    workers: Vec::new(),
                    comment: None,
                    field: "review_approve_config".into(),
                };
                repo.put_assignments("rita", task, Action::Review(review))
                    .unwrap();
            }
        }
        8 => {
            let path = root.join(layout::work_path(task, user));
            if let Ok(text) = fs::read_to_string(&path) {
                let lines: Vec<&str> = text.lines().collect();
                let keep = rng.below(lines.len() + 1);
                let kept: String = lines[..keep].iter().map(|l| format!("{l}\n")).collect();
                fs::write(&path, kept).unwrap();
                repo.sync_paths(&[layout::work_path(task, user)]).unwrap();
            }
        }
        _ => {
            *inputs += 1 + rng.below(5);
            write_inputs(root, *inputs);
            repo.sync_paths(&["inputs/ds.jsonl".to_owned()]).unwrap();
        }
    }
}

fn history(seed: u64, watched: bool) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    crate::repo::init(root).unwrap();
    fs::create_dir_all(root.join("inputs")).unwrap();
    let mut inputs = 40;
    write_inputs(root, inputs);
    for (id, yaml) in TASKS {
        fs::write(root.join(format!("tasks/{id}.yaml")), yaml).unwrap();
    }
    let mut repo = Repo::open(root, None).unwrap();
    repo.sync().unwrap();
    // A watcher's lock makes writes sync only what they touch; nothing else moves the files.
    let _watching = watched.then(|| repo.lock_watch().unwrap());
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    for n in 0..60 {
        step(&mut repo, root, &mut rng, &mut inputs);
        check_queues(&mut repo, seed, n);
    }
    drop(_watching);
    // What the writes left in the index is what a rebuild reads from the files.
    let mut rebuilt = Repo::open(root, Some(&root.join("rebuilt.db"))).unwrap();
    rebuilt.sync().unwrap();
    for (task, _) in TASKS {
        for user in WORKERS {
            // The rebuild placed every frontier where a first walk would have left it.
            assert_eq!(
                rebuilt.index.frontier(task, user).unwrap(),
                frontier_by_full_walk(&rebuilt, task, user),
                "{user}'s frontier on {task} after a rebuild, seed {seed}"
            );
            assert_eq!(
                ids(&repo.next_assignments(user, task).unwrap()),
                ids(&rebuilt.next_assignments(user, task).unwrap()),
                "{user} on {task}, seed {seed}"
            );
        }
        let counts = |r: &Repo| format!("{:?}", r.counts(task).unwrap().rows);
        assert_eq!(
            counts(&repo),
            counts(&rebuilt),
            "counts of {task}, seed {seed}"
        );
    }
    // Queues walked from the placed frontiers, right after the rebuild and as work goes on.
    drop(repo);
    for n in 60..90 {
        check_queues(&mut rebuilt, seed, n);
        step(&mut rebuilt, root, &mut rng, &mut inputs);
    }
    check_queues(&mut rebuilt, seed, 90);
}

#[test]
fn queues_walked_from_frontiers_answer_as_full_walks() {
    for seed in 1..=6 {
        history(seed, false);
    }
}

#[test]
fn writes_under_a_watcher_sync_only_their_files_and_match_a_rebuild() {
    for seed in 7..=10 {
        history(seed, true);
    }
}
