//! The assignment state machine: [`replay`] derives one input's assignments, annotations and
//! outcome from every user's events on it, and [`explain`] tells why. It enforces the API's
//! rules on every line, whoever wrote the file: a line the API would have refused is not
//! counted, and is returned as a [`Flagged`] line. Pure: must not do I/O or know SQLite.
//! ARCHITECTURE.md, "The workflow", and docs/work.md describe the rules.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::annotation::{self, Annotation, Kind};
use super::assist;
use super::{Decision, Event, Line, State};
use crate::model::{Task, WorkerStrategy};
use crate::validate::{Diagnostic, Location};

/// The task's rules that decide one input's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules<'a> {
    /// Who may work on and review the input, and what its annotations may say.
    pub task: &'a Task,
    pub review: Review,
    pub kind: Kind,
    /// Whether the task's input source selects the input: work on any other is not counted.
    pub selected: bool,
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

impl<'a> Rules<'a> {
    /// The rules of `task` for one input (`sampled`: whether MANUAL review's sample holds it;
    /// `selected`: whether the task's source does).
    pub fn of(task: &'a Task, sampled: bool, selected: bool) -> Rules<'a> {
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
            task,
            review,
            kind: Kind::of(task),
            selected,
        }
    }

    fn is_worker(&self, user: &str) -> bool {
        self.task.worker_ids().iter().any(|w| w == user)
    }

    fn is_assistant(&self, user: &str) -> bool {
        self.task.assistant() == Some(user)
    }

    fn is_reviewer(&self, user: &str) -> bool {
        self.task.reviewer_ids().iter().any(|r| r == user)
    }

    fn dynamic(&self) -> bool {
        self.task.doc().worker.as_ref().and_then(|w| w.strategy) == Some(WorkerStrategy::DYNAMIC)
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
    /// Submissions that took effect, withdrawn ones included: the number of the latest.
    pub submissions: u32,
    /// The comment of the decision that stands on the latest submission, when it has one:
    /// what the reviewer says to the worker.
    pub comment: Option<String>,
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

/// A line to warn about at its place in its writer's file: one the API would have refused
/// (not counted; one bad line never blocks a team), or a DYNAMIC hand-out that met another.
#[derive(Debug, Clone, PartialEq)]
pub struct Flagged {
    /// Whose file holds the line.
    pub user: String,
    pub diagnostic: Diagnostic,
}

/// What [`replay`] derives for one input of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct InputState {
    /// One per holder, by worker id.
    pub assignments: Vec<AssignmentState>,
    /// By worker id, then annotation id.
    pub annotations: Vec<AnnotationState>,
    pub outcome: Outcome,
    /// The lines on this input to warn about, by user and line: those that break a rule the
    /// API enforces (not counted), and DYNAMIC hand-outs of it to two people (both count).
    pub flagged: Vec<Flagged>,
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

/// The refused lines being gathered (the story tells them at its end).
struct Refusals {
    found: Vec<Flagged>,
}

/// What a refused line's diagnostic adds to why it was refused.
const NOT_COUNTED: &str = "; the line is not counted";

impl Refusals {
    fn refuse(&mut self, user: &str, line: u32, field: &str, message: String, hint: &str) {
        self.found.push(Flagged {
            user: user.to_owned(),
            diagnostic: Diagnostic::warning(field, format!("{message}{NOT_COUNTED}"))
                .hint(hint)
                .at(Location { line, column: 1 }),
        });
    }
}

/// The hint of a line refused for who wrote it.
const ROLE_HINT: &str = "a work file is its owner's (`work/<task_id>/<user_id>.jsonl`): workers of the task write starts, annotations and submits, reviewers write decisions on others' work";
/// The hint of a line refused for what it says.
const VALUE_HINT: &str = "the line says what the API refuses; correct it with a new line (annotask serve writes only what the API accepts)";
/// The hint of a line that does not fit the input's history.
const HISTORY_HINT: &str =
    "the line does not fit the input's history; `annotask explain TASK INPUT` tells it";

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
    let mut refusals = Refusals { found: Vec::new() };
    let mut predictions: Current = BTreeMap::new();
    let task = rules.task.id();
    for user in &users {
        let name = user.user.as_str();
        let (is_worker, is_reviewer) = (rules.is_worker(name), rules.is_reviewer(name));
        for (line, event) in &user.lines {
            if !event.event.inputs().iter().any(|i| i == input) {
                continue;
            }
            let line = *line;
            let field = event.event.field();
            if !rules.selected {
                refusals.refuse(
                    name,
                    line,
                    field,
                    format!("input `{input}` is not in task `{task}`'s input source"),
                    "only the inputs a task's `input_source` selects are its work; if the input was taken out of its dataset, its work counts again when it returns",
                );
                continue;
            }
            if let Event::Review {
                worker: whose,
                submission,
                decision,
                comment,
                ..
            } = &event.event
            {
                if !is_reviewer {
                    refusals.refuse(
                        name,
                        line,
                        field,
                        format!(
                            "`{name}` is not a reviewer of task `{task}`: only its reviewers decide"
                        ),
                        ROLE_HINT,
                    );
                } else if whose == name {
                    refusals.refuse(
                        name,
                        line,
                        field,
                        format!("`{name}` decides on their own work: a reviewer decides on others' work only"),
                        ROLE_HINT,
                    );
                } else {
                    let rulings = decisions.entry((whose.as_str(), *submission)).or_default();
                    match rulings.iter().find(|r| r.reviewer == name) {
                        Some(first) => refusals.refuse(
                            name,
                            line,
                            field,
                            format!(
                                "`{name}` already decided on {whose}'s submission {submission} at line {}",
                                first.line
                            ),
                            HISTORY_HINT,
                        ),
                        None => rulings.push(Ruling {
                            at: event.at,
                            reviewer: name,
                            line,
                            decision: *decision,
                            comment: comment.as_deref(),
                        }),
                    }
                }
                continue;
            }
            if rules.is_assistant(name) {
                predict(&mut predictions, rules, name, line, event, &mut refusals);
                continue;
            }
            if !is_worker {
                refusals.refuse(
                    name,
                    line,
                    field,
                    format!("`{name}` is not a worker of task `{task}`: only its workers label its inputs"),
                    ROLE_HINT,
                );
                continue;
            }
            let worker = workers.entry(name).or_insert_with(|| Worker::new(None));
            match &event.event {
                Event::Start { .. } if !rules.dynamic() => refusals.refuse(
                    name,
                    line,
                    field,
                    format!("task `{task}` does not hand out inputs (its worker strategy is not DYNAMIC)"),
                    ROLE_HINT,
                ),
                Event::Start { .. } => {
                    worker.held.get_or_insert(HeldBy::Start);
                    worker.started.get_or_insert(line);
                }
                Event::Annotation(annotation) => {
                    let found = annotation::check(annotation, rules.task, "annotation");
                    if let Some(problem) = found.first() {
                        let message = problem.message.clone();
                        refusals.refuse(name, line, &problem.field, message, VALUE_HINT);
                        continue;
                    }
                    let first = worker
                        .current
                        .get(annotation.id.as_str())
                        .map_or(event.at, |(_, created, ..)| *created);
                    let version = (annotation, first, event.at, line);
                    worker.current.insert(&annotation.id, version);
                }
                Event::Delete { id, .. } => {
                    worker.current.remove(id.as_str());
                }
                Event::Submit { .. } => {
                    let snapshot = worker.current.iter().map(|(id, (a, ..))| (*id, *a));
                    worker.steps.push(Step::Submit(snapshot.collect(), line));
                }
                Event::Withdraw { submission, .. } => {
                    worker.steps.push(Step::Withdraw(*submission, line));
                }
                Event::Review { .. } => {}
            }
        }
    }
    // Between reviewers the strictest decision on a submission stands (REJECT, then
    // REQUEST_CHANGES, then APPROVE): a writer chooses a line's time, never a decision's
    // weight, and two reviewers deciding apart in two clones agree after the merge.
    for rulings in decisions.values_mut() {
        rulings.sort_by(|a, b| {
            (strictness(b.decision), a.reviewer, a.line).cmp(&(
                strictness(a.decision),
                b.reviewer,
                b.line,
            ))
        });
    }
    let mut refused = refusals.found;
    // Two DYNAMIC hand-outs of one input meet only when clones handed it out apart and were
    // merged: both people hold it and their work counts; said at each hand-out.
    let starters: Vec<(&str, u32)> = workers
        .iter()
        .filter(|(_, w)| w.held == Some(HeldBy::Start))
        .filter_map(|(name, w)| Some((*name, w.started?)))
        .collect();
    if starters.len() > 1 {
        let names: Vec<&str> = starters.iter().map(|(n, _)| *n).collect();
        story.tell(|| {
            format!(
                "{} were each handed the input (DYNAMIC, apart, in clones since merged): each one's work counts",
                names.join(" and ")
            )
        });
        for (name, line) in &starters {
            let others: Vec<&str> = names.iter().copied().filter(|n| n != name).collect();
            refused.push(Flagged {
                user: (*name).to_owned(),
                diagnostic: Diagnostic::warning(
                    "start",
                    format!(
                        "input `{input}` was also handed to {} (DYNAMIC hand-outs made apart, then merged); each one's work counts",
                        others.join(", ")
                    ),
                )
                .hint("nothing to fix: the input has one more holder than the task asks for")
                .at(Location { line: *line, column: 1 }),
            });
        }
    }
    story.tell(|| match planned {
        [] => "the plan gives this input to no worker".to_owned(),
        _ => format!("the plan gives this input to {}", planned.join(", ")),
    });
    if let Review::Manual { sampled } = rules.review {
        story.tell(|| sample_story(rules.task, sampled));
    }
    for (name, worker) in workers.iter_mut() {
        match worker.held {
            Some(HeldBy::Start) => story.tell(|| format!("{name} took the input (DYNAMIC)")),
            None if !worker.current.is_empty() && worker.steps.is_empty() => story.tell(|| {
                format!("{name}'s annotations are not counted: {name} does not hold the input")
            }),
            _ => {}
        }
        follow_steps(
            name,
            worker,
            &decisions,
            rules.kind,
            &mut story,
            &mut refused,
        );
    }
    let mut states: BTreeMap<&str, State> = BTreeMap::new();
    let mut undecided = Vec::new();
    for (name, worker) in &workers {
        if worker.held.is_none() {
            continue;
        }
        let k = worker.effective.len() as u32;
        let withdrawn = worker.effective.last().is_some_and(|s| s.withdrawn);
        let state = match (k, decided(&decisions, name, k)) {
            (0, _) => State::Pending,
            _ if withdrawn => State::Pending,
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
    let (shown, assisted) = assist(rules, &predictions, &workers, &mut states, &mut story);
    let outcome = outcome(consensus || assisted, &states);
    story.tell(|| format!("outcome: {}", outcome_text(outcome)));
    let mut assignments: Vec<AssignmentState> = states
        .iter()
        .map(|(name, state)| AssignmentState {
            worker: (*name).to_owned(),
            state: *state,
            planned: workers[name].held == Some(HeldBy::Plan),
            submissions: workers[name].effective.len() as u32,
            comment: standing_comment(&decisions, name, &workers[name]),
        })
        .collect();
    let assistant = rules.task.assistant().unwrap_or_default();
    if assisted {
        let at = assignments.partition_point(|a| a.worker.as_str() < assistant);
        let approved = AssignmentState {
            worker: assistant.to_owned(),
            state: State::Success,
            planned: false,
            submissions: 0,
            comment: None,
        };
        assignments.insert(at, approved);
    }
    let mut annotations = Vec::new();
    for (name, worker) in &workers {
        let Some(state) = states.get(name) else {
            continue;
        };
        let latest = worker.effective.last().filter(|s| !s.withdrawn);
        for (id, (annotation, created_at, modified_at, line)) in &worker.current {
            let submitted = latest.is_some_and(|s| s.content.get(id) == Some(annotation));
            annotations.push(AnnotationState {
                worker: (*name).to_owned(),
                annotation: (*annotation).clone(),
                line: *line,
                state: if submitted { *state } else { State::Pending },
                created_at: *created_at,
                modified_at: *modified_at,
            });
        }
    }
    if !shown.is_empty() {
        for id in shown {
            let (annotation, created_at, modified_at, line) = predictions[id];
            annotations.push(AnnotationState {
                worker: assistant.to_owned(),
                annotation: annotation.clone(),
                line,
                state: if assisted {
                    State::Success
                } else {
                    State::Pending
                },
                created_at,
                modified_at,
            });
        }
        annotations.sort_by(|a, b| a.worker.cmp(&b.worker));
    }
    refused.sort_by(|a, b| {
        (&a.user, a.diagnostic.location.map(|l| l.line))
            .cmp(&(&b.user, b.diagnostic.location.map(|l| l.line)))
    });
    for r in &refused {
        story.tell(|| {
            let line = r.diagnostic.location.map_or(0, |l| l.line);
            match r.diagnostic.message.strip_suffix(NOT_COUNTED) {
                Some(why) => format!("not counted: {}'s line {line}: {why}", r.user),
                None => format!("{}'s line {line}: {}", r.user, r.diagnostic.message),
            }
        });
    }
    InputState {
        assignments,
        annotations,
        outcome,
        flagged: refused,
        story: story.0.unwrap_or_default(),
    }
}

/// Someone's current annotations by id: the latest version, when the first and the latest were
/// written, and the latest's line.
type Current<'a> = BTreeMap<&'a str, (&'a Annotation, Timestamp, Timestamp, u32)>;

/// A line of the task's assistant: its annotations (and deletes) are predictions. It holds no
/// assignment, so it never starts, submits or withdraws.
fn predict<'a>(
    predictions: &mut Current<'a>,
    rules: &Rules,
    name: &str,
    line: u32,
    event: &'a Line,
    refusals: &mut Refusals,
) {
    match &event.event {
        Event::Annotation(annotation) => {
            let found = annotation::check(annotation, rules.task, "annotation");
            if let Some(problem) = found.first() {
                let message = problem.message.clone();
                refusals.refuse(name, line, &problem.field, message, VALUE_HINT);
                return;
            }
            let first = predictions
                .get(annotation.id.as_str())
                .map_or(event.at, |(_, created, ..)| *created);
            predictions.insert(&annotation.id, (annotation, first, event.at, line));
        }
        Event::Delete { id, .. } => {
            predictions.remove(id.as_str());
        }
        _ => refusals.refuse(
            name,
            line,
            event.event.field(),
            format!(
                "`{name}` is task `{}`'s assistant: its annotations are predictions, never started, submitted or withdrawn",
                rules.task.id()
            ),
            ROLE_HINT,
        ),
    }
}

/// The assistant's predictions on the input ([`assist::judge`]): the ids of those shown to
/// workers, and whether they are the input's final label, which they are only while no worker
/// has a submission that took effect (a person's work is never overruled by a model). When
/// they are, every holder still to submit has their assignment closed.
fn assist<'a>(
    rules: &Rules,
    predictions: &Current<'a>,
    workers: &BTreeMap<&str, Worker>,
    states: &mut BTreeMap<&str, State>,
    story: &mut Story,
) -> (Vec<&'a str>, bool) {
    if predictions.is_empty() {
        return (Vec::new(), false);
    }
    let current: Vec<&Annotation> = predictions.values().map(|(a, ..)| *a).collect();
    let verdict = assist::judge(rules.task, &current);
    for line in verdict.story {
        story.tell(|| line);
    }
    let shown = verdict.shown.iter().map(|(a, _)| a.id.as_str());
    let shown: Vec<&'a str> = shown
        .filter_map(|id| predictions.get_key_value(id).map(|(k, _)| *k))
        .collect();
    let (Some(score), (_, Some(max))) = (verdict.approves, rules.task.assist_thresholds()) else {
        return (shown, false);
    };
    let submitted: Vec<&str> = workers
        .iter()
        .filter(|(_, w)| !w.effective.is_empty())
        .map(|(name, _)| *name)
        .collect();
    if !submitted.is_empty() {
        story.tell(|| {
            format!(
                "the assistant's prediction scores {score} >= max_threshold {max}, but {} submitted: people's work decides the input",
                submitted.join(", ")
            )
        });
        return (shown, false);
    }
    story.tell(|| {
        format!(
            "approved by the assistant's prediction, score {score} >= max_threshold {max}: no worker needed"
        )
    });
    for (name, state) in states.iter_mut() {
        if *state == State::Pending {
            story.tell(|| format!("{name} had not submitted: the assignment is closed"));
            *state = State::Closed;
        }
    }
    (shown, true)
}

/// A worker's submits and withdraws in file order, into the submissions that took effect: the
/// first submit; the next only after changes were requested on the one before or it was
/// withdrawn. A withdraw takes back the latest submission while no reviewer decided it.
fn follow_steps<'a>(
    name: &str,
    worker: &mut Worker<'a>,
    decisions: &BTreeMap<(&str, u32), Vec<Ruling>>,
    kind: Kind,
    story: &mut Story,
    refused: &mut Vec<Flagged>,
) {
    for step in std::mem::take(&mut worker.steps) {
        let k = worker.effective.len() as u32;
        let last_withdrawn = worker.effective.last().is_some_and(|s| s.withdrawn);
        match step {
            Step::Submit(content, line) => {
                let open = k == 0
                    || last_withdrawn
                    || decided(decisions, name, k) == Some(Decision::REQUEST_CHANGES);
                if !open {
                    story.tell(|| format!("{name} submitted again at line {line} with no changes asked: no new submission"));
                    continue;
                }
                worker.held.get_or_insert(HeldBy::Work);
                let n = k + 1;
                story.tell(|| {
                    format!(
                        "{name} submitted (submission {n}, line {line}): {}",
                        summary(kind, &content)
                    )
                });
                tell_decisions(name, n, decisions, story);
                worker.effective.push(Submission {
                    content,
                    withdrawn: false,
                });
            }
            Step::Withdraw(n, line) => {
                let problem = if k == 0 || n != k || last_withdrawn {
                    Some(format!(
                        "`{name}` withdraws submission {n}, which is not their latest standing submission"
                    ))
                } else {
                    decisions.get(&(name, k)).and_then(|r| r.first()).map(|r| {
                        format!(
                            "`{name}` withdraws submission {n}, which {} already decided ({:?})",
                            r.reviewer, r.decision
                        )
                    })
                };
                match problem {
                    Some(message) => {
                        refused.push(Flagged {
                            user: name.to_owned(),
                            diagnostic: Diagnostic::warning(
                                "withdraw.submission",
                                format!("{message}{NOT_COUNTED}"),
                            )
                            .hint(HISTORY_HINT)
                            .at(Location { line, column: 1 }),
                        });
                    }
                    None => {
                        story.tell(|| format!("{name} withdrew submission {n} (line {line})"));
                        if let Some(last) = worker.effective.last_mut() {
                            last.withdrawn = true;
                        }
                    }
                }
            }
        }
    }
}

/// Tells each decision on `worker`'s submission `k`: the one that stands, and those it overruled.
fn tell_decisions(
    worker: &str,
    k: u32,
    decisions: &BTreeMap<(&str, u32), Vec<Ruling>>,
    story: &mut Story,
) {
    for (i, ruling) in decisions
        .get(&(worker, k))
        .into_iter()
        .flatten()
        .enumerate()
    {
        let when = ruling.at.strftime("%Y-%m-%d %H:%M:%S UTC");
        story.tell(|| {
            let said = ruling
                .comment
                .map(|c| format!(", saying {}", serde_json::Value::from(c)))
                .unwrap_or_default();
            if i == 0 {
                format!(
                    "{} {} {worker}'s submission {k} (their line {}, written {when}{said})",
                    ruling.reviewer,
                    verb(ruling.decision),
                    ruling.line
                )
            } else {
                format!(
                    "{}'s {:?} of {worker}'s submission {k} (their line {}, written {when}{said}) is overruled: between reviewers the strictest decision stands",
                    ruling.reviewer, ruling.decision, ruling.line
                )
            }
        });
    }
}

/// Why a MANUAL review's input is in its sample or not.
fn sample_story(task: &Task, sampled: bool) -> String {
    let share = task
        .doc()
        .review
        .as_ref()
        .and_then(|r| r.manual_strategy_info.as_ref())
        .and_then(|m| m.sample_percentage);
    let rule = match share {
        Some(share) => format!(
            "the sample is {}% of the inputs, those first in an order fixed by a hash of the task and input ids",
            share * 100.0
        ),
        None => "the task sets no sample_percentage, so no input is sampled".into(),
    };
    if sampled {
        format!("MANUAL review: {rule}; this input is in it, so a reviewer decides each submission")
    } else {
        format!(
            "MANUAL review: {rule}; this input is not in it, so a submission is done unless a reviewer decides otherwise"
        )
    }
}

/// How strict a decision is: between reviewers, the strictest stands.
fn strictness(decision: Decision) -> u8 {
    match decision {
        Decision::APPROVE => 0,
        Decision::REQUEST_CHANGES => 1,
        Decision::REJECT => 2,
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

/// A worker's submit (its content and line) or withdraw (the submission and line), in file order.
enum Step<'a> {
    Submit(BTreeMap<&'a str, &'a Annotation>, u32),
    Withdraw(u32, u32),
}

/// A submission that took effect.
struct Submission<'a> {
    content: BTreeMap<&'a str, &'a Annotation>,
    /// Taken back by its worker before anyone decided it.
    withdrawn: bool,
}

/// One person's events on the input, gathered (borrowed from the events replayed).
struct Worker<'a> {
    /// None: someone whose events name the input without holding it (yet).
    held: Option<HeldBy>,
    /// Their current annotations by id: the latest version, and when the first and the
    /// latest were written, and the latest's line.
    current: BTreeMap<&'a str, (&'a Annotation, Timestamp, Timestamp, u32)>,
    /// Their submits and withdraws, in file order.
    steps: Vec<Step<'a>>,
    /// The line of their first DYNAMIC hand-out of the input.
    started: Option<u32>,
    /// The submissions that took effect, numbered from 1.
    effective: Vec<Submission<'a>>,
}

impl Worker<'_> {
    fn new(held: Option<HeldBy>) -> Self {
        Worker {
            held,
            current: BTreeMap::new(),
            steps: Vec::new(),
            started: None,
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
    comment: Option<&'a str>,
}

/// The decision that stands on `worker`'s submission `k`: the strictest, then by reviewer.
fn decided(
    decisions: &BTreeMap<(&str, u32), Vec<Ruling>>,
    worker: &str,
    k: u32,
) -> Option<Decision> {
    decisions.get(&(worker, k))?.first().map(|r| r.decision)
}

/// The comment of the decision that stands on `worker`'s latest submission (none once it is
/// withdrawn: a withdrawn submission was undecided).
fn standing_comment(
    decisions: &BTreeMap<(&str, u32), Vec<Ruling>>,
    name: &str,
    worker: &Worker,
) -> Option<String> {
    let k = worker.effective.len() as u32;
    let ruling = decisions.get(&(name, k))?.first()?;
    ruling.comment.map(str::to_owned)
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
            .map(|s| s.content.values().copied().collect())
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
    /// `rita:ok:ann:1`, `rita:no:ann:1`, `rita:redo:ann:1` (a decision on ann's submission 1),
    /// `ann<1` (ann withdraws her submission 1), `ann~` (ann deletes her annotation).
    /// Each event is a second after the one before.
    fn events(history: &str) -> Vec<UserEvents> {
        let mut users: Vec<UserEvents> = Vec::new();
        for (i, word) in history.split_whitespace().enumerate() {
            let at = Timestamp::from_second(1_800_000_000 + i as i64).unwrap();
            let (user, rest) = word.split_at(word.find([':', '+', '!', '>', '<', '~']).unwrap());
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
                ("<", k) => vec![Event::Withdraw {
                    input_id: "in".into(),
                    submission: k.parse().unwrap(),
                }],
                ("~", _) => vec![Event::Delete {
                    input_id: "in".into(),
                    id: format!("{user}-a"),
                }],
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
                        comment: None,
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

    /// The task the tests replay under: DYNAMIC, four workers, two reviewers, and an assistant
    /// whose predictions (value 1) decide an input nobody submitted.
    static TASK: std::sync::LazyLock<Task> = std::sync::LazyLock::new(|| {
        let yaml = "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog, bird]\n\
            input_source: {type: ALL_INPUTS}\n\
            worker: {strategy: DYNAMIC, user_ids: [ann, bob, carl, dora]}\n\
            review: {strategy: MANUAL, user_ids: [rita, sam], manual_strategy_info: {sample_percentage: 1}}\n\
            ai_assistant: {workflow: {id: model}}\nai_assist_params: {max_threshold: 0.95}\n";
        let doc = crate::yaml::parse_task(yaml.as_bytes()).unwrap();
        crate::validate::validate(doc, Some("t")).0.unwrap()
    });

    /// [`TASK`]'s rules with `review`, on an input its source selects.
    fn rules(review: Review) -> Rules<'static> {
        Rules {
            task: &TASK,
            review,
            kind: Kind::Classification,
            selected: true,
        }
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
        let rules = rules(review);
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
        let one = explain(&rules(C2), "in", &["ann".to_owned()], &events("ann:cat"));
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
    fn withdraws_and_deletes() {
        check(SAMPLED, "ann", "ann:cat ann<1", "ann=P", O);
        check(SAMPLED, "ann", "ann:cat ann<1 ann:dog", "ann=R", W);
        check(
            SAMPLED,
            "ann",
            "ann:cat ann<1 ann:dog rita:ok:ann:2",
            "ann=S",
            A,
        );
        // A withdraw and a decision on one submission (made apart, in two clones): the
        // decision stands, whatever the times say.
        check(SAMPLED, "ann", "ann:cat ann<1 rita:ok:ann:1", "ann=S", A);
        check(SAMPLED, "ann", "ann:cat rita:ok:ann:1 ann<1", "ann=S", A);
        check(SAMPLED, "ann", "ann:cat ann<2", "ann=R", W);
        check(NONE, "ann", "ann:cat ann<1", "ann=P", O);
        // A withdraw counts before consensus: ann's submission no longer agrees with bob's.
        check(
            C2,
            "ann bob carl",
            "ann:cat bob:cat ann<1",
            "ann=P bob=C carl=P",
            O,
        );
        check(
            C2,
            "ann bob carl",
            "ann:cat bob:cat ann<1 ann:cat",
            "ann=S bob=S carl=-",
            A,
        );
        // A deleted annotation is gone from the next submission.
        let state = replay(
            &rules(SAMPLED),
            "in",
            &["ann".into()],
            &events("ann+cat ann~ ann!"),
        );
        assert!(state.annotations.is_empty(), "{state:?}");
        let state = replay(
            &rules(SAMPLED),
            "in",
            &["ann".into()],
            &events("ann:cat ann<1 ann~"),
        );
        assert!(state.annotations.is_empty(), "{state:?}");
        assert_eq!(state.assignments[0].state, State::Pending);
    }

    /// `history` replayed under MANUAL review (sampled) with ann planned: the lines refused, as
    /// `user:line message`.
    #[track_caller]
    fn refused(history: &str, selected: bool, expected: &[&str]) {
        let rules = Rules {
            selected,
            ..rules(SAMPLED)
        };
        let state = replay(&rules, "in", &["ann".into()], &events(history));
        let got: Vec<String> = state
            .flagged
            .iter()
            .map(|r| {
                let at = r.diagnostic.location.unwrap();
                format!("{}:{} {}", r.user, at.line, r.diagnostic.message)
            })
            .collect();
        assert_eq!(got, expected, "{history}");
    }

    #[test]
    fn lines_the_api_refuses_are_not_counted() {
        refused("ann:cat rita:ok:ann:1", true, &[]);
        refused(
            "ann:cat ann:ok:ann:1",
            true,
            &[
                "ann:3 `ann` is not a reviewer of task `t`: only its reviewers decide; the line is not counted",
            ],
        );
        refused(
            "ann:cat bob:ok:ann:1",
            true,
            &[
                "bob:1 `bob` is not a reviewer of task `t`: only its reviewers decide; the line is not counted",
            ],
        );
        refused(
            "rita:cat",
            true,
            &[
                "rita:1 `rita` is not a worker of task `t`: only its workers label its inputs; the line is not counted",
                "rita:2 `rita` is not a worker of task `t`: only its workers label its inputs; the line is not counted",
            ],
        );
        refused(
            "ann+unicorn",
            true,
            &["ann:1 `unicorn` is not one of task `t`'s concepts; the line is not counted"],
        );
        refused(
            "ann:cat",
            false,
            &[
                "ann:1 input `in` is not in task `t`'s input source; the line is not counted",
                "ann:2 input `in` is not in task `t`'s input source; the line is not counted",
            ],
        );
        refused(
            "ann:cat rita:ok:ann:1 rita:no:ann:1",
            true,
            &[
                "rita:2 `rita` already decided on ann's submission 1 at line 1; the line is not counted",
            ],
        );
        refused(
            "ann:cat ann<2",
            true,
            &[
                "ann:3 `ann` withdraws submission 2, which is not their latest standing submission; the line is not counted",
            ],
        );
        refused(
            "ann:cat rita:ok:ann:1 ann<1",
            true,
            &[
                "ann:3 `ann` withdraws submission 1, which rita already decided (APPROVE); the line is not counted",
            ],
        );
    }

    /// Random histories, forged lines among them: the answer depends on each user's lines
    /// only, never on the order of the files or of the users, nor on the lines' times.
    #[test]
    fn the_answer_depends_on_the_lines_and_their_owners_only() {
        let words = [
            "ann:cat",
            "ann:dog",
            "ann<1",
            "ann<2",
            "ann~",
            "ann!",
            "bob:cat",
            "bob+dog",
            "bob<1",
            "carl:cat",
            "dora>",
            "dora:dog",
            "rita:ok:ann:1",
            "rita:redo:ann:1",
            "rita:no:bob:1",
            "sam:ok:ann:1",
            "sam:no:ann:2",
            "sam:redo:carl:1",
            "ann:ok:ann:1",
            "bob:ok:ann:1",
            "zed:cat",
            "zed:ok:ann:1",
            "rita:cat",
            "ann+unicorn",
            "model+cat",
            "model+dog",
            "model~",
            "model!",
        ];
        let mut seed = 11u64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        for _ in 0..300 {
            let history: Vec<&str> = (0..1 + next(12))
                .map(|_| words[next(words.len())])
                .collect();
            let history = history.join(" ");
            let review = [NONE, SAMPLED, UNSAMPLED, C2][next(4)];
            let planned = ["ann".to_owned(), "bob".to_owned()];
            let users = events(&history);
            let first = replay(&rules(review), "in", &planned, &users);
            let mut shuffled = users.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, next(i + 1));
            }
            // Times reversed: a writer's chosen time decides nothing.
            for user in &mut shuffled {
                for (_, line) in &mut user.lines {
                    line.at = Timestamp::from_second(3_000_000_000 - line.at.as_second()).unwrap();
                }
            }
            let again = replay(&rules(review), "in", &planned, &shuffled);
            let strip = |s: InputState| InputState {
                annotations: s
                    .annotations
                    .into_iter()
                    .map(|a| AnnotationState {
                        created_at: Timestamp::UNIX_EPOCH,
                        modified_at: Timestamp::UNIX_EPOCH,
                        ..a
                    })
                    .collect(),
                ..s
            };
            assert_eq!(strip(again), strip(first), "{history}");
        }
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
        let rules = rules(SAMPLED);
        let state = replay(&rules, "in", &["ann".into()], &events("ann:cat bob+dog"));
        let got: Vec<(&str, State)> = state
            .annotations
            .iter()
            .map(|a| (a.worker.as_str(), a.state))
            .collect();
        // bob holds no part of the input: his annotation is not counted.
        assert_eq!(got, [("ann", State::AwaitingReview)]);
        // Changed after the submit: the new version is not the submitted one.
        let state = replay(&rules, "in", &["ann".into()], &events("ann:cat ann+dog"));
        assert_eq!(state.annotations[0].state, State::Pending);
        assert_eq!(state.assignments[0].state, State::AwaitingReview);
    }

    /// A task with an assistant, `model`, and `params` (YAML), under `review`.
    fn assisted_task(params: &str, review: &str) -> Task {
        let yaml = format!(
            "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog, bird]\n\
             input_source: {{type: ALL_INPUTS}}\n\
             worker: {{strategy: FULL, user_ids: [ann, bob]}}\nreview: {review}\n\
             ai_assistant: {{workflow: {{id: model}}}}\n{params}"
        );
        let doc = crate::yaml::parse_task(yaml.as_bytes()).unwrap();
        crate::validate::validate(doc, Some("t")).0.unwrap()
    }

    /// `history` (the tiny language) with `model` predicting `cat` at `score` (if any) first:
    /// each holder's state, the outcome, the annotations' `worker=state`, and the lines refused
    /// as `user:line`.
    #[track_caller]
    fn assisted(
        params: &str,
        history: &str,
        score: Option<f32>,
        expected: [&str; 3],
        outcome: Outcome,
    ) {
        // Nothing submitted: the same under any review.
        let reviews = [
            ("{strategy: NONE}", Review::None),
            (
                "{strategy: MANUAL, user_ids: [rita], manual_strategy_info: {sample_percentage: 1}}",
                Review::Manual { sampled: true },
            ),
        ];
        let reviews = if history.contains(':') {
            &reviews[..1]
        } else {
            &reviews[..]
        };
        for &(review, rule) in reviews {
            let task = assisted_task(params, review);
            let rules = Rules {
                task: &task,
                review: rule,
                kind: Kind::Classification,
                selected: true,
            };
            let mut users = events(history);
            if let Some(score) = score {
                let prediction: Annotation = serde_json::from_value(serde_json::json!({
                    "id": "p", "input_id": "in", "data": {"concepts": [{"id": "cat", "value": score}]}
                }))
                .unwrap();
                users.push(UserEvents {
                    user: "model".into(),
                    lines: vec![(
                        1,
                        Line {
                            at: Timestamp::from_second(1_700_000_000).unwrap(),
                            event: Event::Annotation(prediction),
                        },
                    )],
                });
            }
            let planned = ["ann".to_owned(), "bob".to_owned()];
            let state = explain(&rules, "in", &planned, &users);
            let join = |v: Vec<String>| v.join(" ");
            let got = [
                join(
                    state
                        .assignments
                        .iter()
                        .map(|a| format!("{}={}", a.worker, short(a.state)))
                        .collect(),
                ),
                join(
                    state
                        .annotations
                        .iter()
                        .map(|a| format!("{}={}", a.worker, short(a.state)))
                        .collect(),
                ),
                join(
                    state
                        .flagged
                        .iter()
                        .map(|f| format!("{}:{}", f.user, f.diagnostic.location.unwrap().line))
                        .collect(),
                ),
            ];
            let context = format!("{review} {history} {score:?}\n{:#?}", state.story);
            assert_eq!(got, expected, "{context}");
            assert_eq!(state.outcome, outcome, "{context}");
            users.reverse();
            assert_eq!(
                replay(&rules, "in", &planned, &users),
                InputState {
                    story: Vec::new(),
                    ..state
                }
            );
        }
    }

    #[test]
    fn the_assistant_predicts() {
        let both = "ai_assist_params: {min_threshold: 0.3, max_threshold: 0.95}\n";
        // At or above max_threshold, nobody having submitted: final, holders closed.
        assisted(
            both,
            "",
            Some(0.97),
            ["ann=- bob=- model=S", "model=S", ""],
            A,
        );
        assisted(
            both,
            "",
            Some(0.95),
            ["ann=- bob=- model=S", "model=S", ""],
            A,
        );
        assisted(
            both,
            "ann+dog",
            Some(0.95),
            ["ann=- bob=- model=S", "ann=P model=S", ""],
            A,
        );
        // Below it: shown as a starting point; workers label the input.
        assisted(both, "", Some(0.94), ["ann=P bob=P", "model=P", ""], O);
        assisted(both, "", Some(0.3), ["ann=P bob=P", "model=P", ""], O);
        // Below min_threshold: not shown either.
        assisted(both, "", Some(0.29), ["ann=P bob=P", "", ""], O);
        // No params: shown, never final.
        assisted("", "", Some(1.0), ["ann=P bob=P", "model=P", ""], O);
        // A worker's submission stands: people's work decides, the prediction stays shown.
        assisted(
            both,
            "ann:cat",
            Some(0.99),
            ["ann=S bob=P", "ann=S model=P", ""],
            O,
        );
        // The assistant holds nothing: its starts and submits are refused.
        assisted(
            both,
            "model!",
            Some(0.5),
            ["ann=P bob=P", "model=P", "model:1"],
            O,
        );
        // Another user who is not a worker: refused, as ever.
        assisted(both, "zed+cat", None, ["ann=P bob=P", "", "zed:1"], O);
        let story = explain(
            &Rules {
                task: &assisted_task(both, "{strategy: NONE}"),
                review: Review::None,
                kind: Kind::Classification,
                selected: true,
            },
            "in",
            &["ann".into()],
            &[UserEvents {
                user: "model".into(),
                lines: vec![(
                    4,
                    Line {
                        at: Timestamp::UNIX_EPOCH,
                        event: Event::Annotation(
                            serde_json::from_value(serde_json::json!({"id": "p", "input_id": "in",
                                "data": {"concepts": [{"id": "cat", "value": 0.97}]}}))
                            .unwrap(),
                        ),
                    },
                )],
            }],
        )
        .story;
        assert!(
            story.iter().any(|l| l == "approved by the assistant's prediction, score 0.97 >= max_threshold 0.95: no worker needed"),
            "{story:#?}"
        );
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
                let rules = rules(review);
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
}
