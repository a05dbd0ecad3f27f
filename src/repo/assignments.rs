//! The workflow's assignment operations (ARCHITECTURE.md, "The workflow"): a task's
//! assignments page by page, the actions of PutTaskAssignments, ListNextTaskAssignments and
//! `explain`. Each checks what the caller may do against the index, appends to the caller's
//! own work file (durable before it returns), syncs that file, and answers from the index.
//! Must not print or decide states: [`crate::work::replay`] decides, through the sync.

use super::{Repo, check_ids, invalid, refuse_repeats, report};
use crate::api::{self, TaskAssignment};
use crate::error::{Error, Result};
use crate::layout;
use crate::model::{Task, WorkerStrategy};
use crate::plans::{self, InputPlans, Source, Walker};
use crate::store::HeldRow;
use crate::validate::Diagnostic;
use crate::work::{self, Decision, Event, Rules, State};

impl Repo {
    /// One page of a task's assignments (of one worker, with `worker`), ordered by input id
    /// then worker id: walked from the task's inputs in id order and its plan, so nothing per
    /// assignment is stored, with the states the work recorded, and the assignments held
    /// otherwise (DYNAMIC hand-outs, work kept after the plan moved an input) merged in.
    /// Assignments closed by consensus have left the list. `page` is 1-based.
    pub fn assignments(
        &self,
        task_id: &str,
        worker: Option<&str>,
        page: u32,
        per_page: u32,
    ) -> Result<Vec<Assignment>> {
        let task = self.get(task_id)?;
        let walker = Walker::new(&task);
        let workers = task.worker_ids();
        let mut page_of = Vec::new();
        if per_page == 0 {
            return Ok(page_of);
        }
        let mut held = self
            .index
            .held_otherwise(task_id, worker)?
            .into_iter()
            .peekable();
        let moves = self.index.plan_moves(task_id, false)?;
        let mut skip = u64::from(page.saturating_sub(1)) * u64::from(per_page);
        let mut failed = None;
        // Each pair in order; false once the page is full.
        let mut emit = |input: &str, worker: &str, state: State| {
            if state == State::Closed {
                return true;
            }
            if skip > 0 {
                skip -= 1;
                return true;
            }
            page_of.push(Assignment {
                input: input.to_owned(),
                worker: worker.to_owned(),
                state,
            });
            page_of.len() < per_page as usize
        };
        let source = if walker.assigns() {
            Source::of(&task)
        } else {
            Source::Nothing
        };
        let mut going = true;
        self.index.each_input(&source, |input| {
            while let Some(row) = held.next_if(|row| row.input.as_str() < input) {
                if !emit(&row.input, &row.worker, row.state) {
                    going = false;
                    return false;
                }
            }
            let mut here: Vec<(&str, State)> = walker
                .workers_of(input, moves.get(input).map_or(&[][..], Vec::as_slice))
                .into_iter()
                .map(|w| (workers[w].as_str(), State::Pending))
                .filter(|(w, _)| worker.is_none_or(|x| x == *w))
                .collect();
            let mut others = Vec::new();
            while let Some(row) = held.next_if(|row| row.input == input) {
                others.push(row);
            }
            here.extend(others.iter().map(|row| (row.worker.as_str(), row.state)));
            here.sort_unstable();
            if here.len() > others.len() {
                match self.index.holders(task_id, input) {
                    Ok(rows) => {
                        for (w, state) in &mut here {
                            if let Some(row) = rows.iter().find(|r| r.worker == *w) {
                                *state = row.state;
                            }
                        }
                    }
                    Err(e) => {
                        failed = Some(e);
                        going = false;
                        return false;
                    }
                }
            }
            for (w, state) in here {
                if !emit(input, w, state) {
                    going = false;
                    return false;
                }
            }
            true
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        if going {
            for row in held {
                if !emit(&row.input, &row.worker, row.state) {
                    break;
                }
            }
        }
        Ok(page_of)
    }

    /// PutTaskAssignments as `user`: appends to the user's work file first, then syncs it,
    /// and answers with the assignments the action concerns. The task's plan is loaded once,
    /// for the checks and the answer alike: an append changes no plan.
    pub fn put_assignments(
        &mut self,
        user: &str,
        task_id: &str,
        action: Action,
    ) -> Result<Vec<TaskAssignment>> {
        check_ids(&[("task_id", task_id), ("user", user)])?;
        let _lock = self.write_lock()?;
        self.catch_up(&[layout::work_path(task_id, user)])?;
        let task = self.get(task_id)?;
        let plans = self.input_plans(&task)?;
        match action {
            Action::LabelStart => self.label_start(user, &plans),
            Action::LabelSubmit(ids) => self.label_submit(user, &plans, &ids),
            Action::ReviewStart { workers } => self.review_start(user, &plans, &workers),
            Action::Review(review) => self.review(user, &plans, review),
            Action::LabelWithdraw { input } => self.label_withdraw(user, &plans, input.as_deref()),
        }
    }

    /// ListNextTaskAssignments: `user`'s open (PENDING) assignments on the task, as LABEL_START
    /// answers them but without handing out new DYNAMIC inputs.
    pub fn next_assignments(&self, user: &str, task_id: &str) -> Result<Vec<TaskAssignment>> {
        check_ids(&[("task_id", task_id), ("user", user)])?;
        let task = self.get(task_id)?;
        let plans = self.input_plans(&task)?;
        let open = self.open_assignments(&plans, user, BATCH, false)?;
        self.answer(&plans, user, open)
    }

    /// LABEL_START: the caller's open assignments or, under DYNAMIC when there are none, the
    /// inputs nobody holds that rank the caller first ([`crate::assign::handout_rank`]), then
    /// second, and so on, in input order within a rank: handed out to the caller.
    fn label_start(&mut self, user: &str, plans: &InputPlans) -> Result<Vec<TaskAssignment>> {
        let task = plans.task();
        if !task.worker_ids().iter().any(|w| w == user) {
            return Err(Error::PermissionDenied(format!(
                "user `{user}` is not a worker of task `{}`",
                task.id()
            )));
        }
        let mut open = self.open_assignments(plans, user, BATCH, true)?;
        let dynamic =
            task.doc().worker.as_ref().and_then(|w| w.strategy) == Some(WorkerStrategy::DYNAMIC);
        if open.is_empty() && dynamic {
            // Free inputs by the caller's rank in each; the scan ends once a batch ranks them
            // first, and asks the index only about inputs of a rank still short of a batch.
            let workers = task.worker_ids();
            let mut by_rank: Vec<Vec<String>> = vec![Vec::new(); workers.len().max(1)];
            let mut failed = None;
            self.index.each_input(&plans::Source::of(task), |input| {
                let rank = crate::assign::handout_rank(task.id(), input, workers, user);
                let Some(bucket) = by_rank.get_mut(rank).filter(|b| b.len() < BATCH) else {
                    return true;
                };
                match self.index.is_held(task.id(), input) {
                    Ok(true) => true,
                    Ok(false) => {
                        bucket.push(input.to_owned());
                        by_rank[0].len() < BATCH
                    }
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                }
            })?;
            if let Some(e) = failed {
                return Err(e.into());
            }
            let mut free: Vec<String> = by_rank.into_iter().flatten().take(BATCH).collect();
            // Answered in input order, as every queue is.
            free.sort_unstable();
            if !free.is_empty() {
                self.append(
                    task.id(),
                    user,
                    &[Event::Start {
                        input_ids: free.clone(),
                    }],
                )?;
                open = free;
            }
        }
        self.answer(plans, user, open)
    }

    /// LABEL_SUBMIT of assignments named by id (`field` says where each came from in the
    /// request). All or nothing: every one must be the caller's, and a PENDING one must have
    /// an annotation; one already submitted is left as it is.
    fn label_submit(
        &mut self,
        user: &str,
        plans: &InputPlans,
        ids: &[NamedId],
    ) -> Result<Vec<TaskAssignment>> {
        let task = plans.task();
        if ids.is_empty() {
            return Err(invalid(
                "label_submit_config.task_assignments",
                "name the assignments to submit: [{\"id\": \"<input_id>.<worker>\"}]",
            ));
        }
        refuse_repeats(
            ids.iter().map(|named| Some(named.id.as_str())),
            "label_submit_config.task_assignments",
            ".id",
        )?;
        let mut problems = Vec::new();
        let mut submit = Vec::new();
        let mut inputs = Vec::new();
        for NamedId { field, id } in ids {
            let Some(input) = own_assignment(id, user, field, &mut problems)? else {
                continue;
            };
            match self.held(plans, input, user)? {
                None => return Err(not_holder(user, input, task)),
                Some(held) if held.state == State::Pending => {
                    if self.index.annotation_count(task.id(), input, user)? == 0 {
                        problems.push(
                            Diagnostic::error(
                                field.clone(),
                                format!(
                                    "assignment `{id}` has no annotation from `{user}` to submit"
                                ),
                            )
                            .hint("post an annotation on the input with PostAnnotations first"),
                        );
                        continue;
                    }
                    submit.push(Event::Submit {
                        input_id: input.to_owned(),
                    });
                }
                Some(_) => {}
            }
            inputs.push(input.to_owned());
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(vec![report(problems)]));
        }
        self.append(task.id(), user, &submit)?;
        self.answer(plans, user, inputs)
    }

    /// REVIEW_START: the assignments of the task awaiting review, of `workers` when it names
    /// any.
    fn review_start(
        &self,
        user: &str,
        plans: &InputPlans,
        workers: &[String],
    ) -> Result<Vec<TaskAssignment>> {
        let task = plans.task();
        require_reviewer(user, task)?;
        // The first BATCH by (input, worker) are among each worker's first BATCH by input.
        let mut waiting: Vec<HeldRow> = Vec::new();
        for worker in self
            .index
            .holders_in_state(task.id(), State::AwaitingReview)?
        {
            if workers.is_empty() || workers.contains(&worker) {
                waiting.extend(self.index.held_in_state(
                    task.id(),
                    &worker,
                    State::AwaitingReview,
                    BATCH as u64,
                )?);
            }
        }
        waiting.sort_unstable_by(|a, b| (&a.input, &a.worker).cmp(&(&b.input, &b.worker)));
        waiting.truncate(BATCH);
        self.answer_rows(plans, waiting)
    }

    /// REVIEW_APPROVE, REVIEW_REQUEST_CHANGES, REVIEW_REJECT: a decision on each named
    /// assignment (or each of the named workers' awaiting review) that awaits review; the
    /// others are left as they are and answered as they stand.
    fn review(
        &mut self,
        user: &str,
        plans: &InputPlans,
        review: Review,
    ) -> Result<Vec<TaskAssignment>> {
        let task = plans.task();
        require_reviewer(user, task)?;
        let Review {
            decision,
            assignments,
            workers,
            comment,
            field: name,
        } = review;
        if comment
            .as_ref()
            .is_some_and(|c| c.chars().count() > work::COMMENT_MAX)
        {
            return Err(invalid(
                &format!("{name}.comment"),
                format!("a comment is at most {} characters", work::COMMENT_MAX),
            ));
        }
        let mut targets: Vec<(String, String)> = Vec::new();
        let mut problems = Vec::new();
        refuse_repeats(
            assignments.iter().map(|id| Some(id.as_str())),
            &format!("{name}.task_assignments"),
            ".id",
        )?;
        for (i, assignment) in assignments.iter().enumerate() {
            let field = format!("{name}.task_assignments[{i}].id");
            match api::parse_assignment_id(assignment) {
                Some((_, worker)) if worker == user => {
                    return Err(Error::PermissionDenied(format!(
                        "`{user}` may not decide on their own assignment `{assignment}`: a reviewer decides on others' work"
                    )));
                }
                Some((input, worker)) if self.held(plans, input, worker)?.is_some() => {
                    targets.push((input.to_owned(), worker.to_owned()));
                }
                Some(_) => problems.push(Diagnostic::error(
                    field,
                    format!("task `{}` has no assignment `{assignment}`", task.id()),
                )),
                None => problems.push(not_an_assignment_id(field, assignment)),
            }
        }
        for worker in workers.iter().filter(|w| *w != user) {
            for row in
                self.index
                    .held_in_state(task.id(), worker, State::AwaitingReview, u64::MAX)?
            {
                targets.push((row.input, row.worker));
            }
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(vec![report(problems)]));
        }
        if targets.is_empty() && workers.is_empty() {
            return Err(invalid(
                &name,
                "name the assignments (`task_assignments`) or the workers (`workers`) to review",
            ));
        }
        let mut events = Vec::new();
        for (input, worker) in &targets {
            let held = self.held(plans, input, worker)?;
            if let Some(held) = held.filter(|h| h.state == State::AwaitingReview) {
                events.push(Event::Review {
                    input_id: input.clone(),
                    worker: worker.clone(),
                    submission: held.submissions,
                    decision,
                    comment: comment.clone(),
                });
            }
        }
        self.append(task.id(), user, &events)?;
        let rows = targets
            .into_iter()
            .map(|(input, worker)| {
                let held = self.held(plans, &input, &worker)?;
                let held = held.unwrap_or(Held {
                    state: State::Pending,
                    submissions: 0,
                });
                Ok(HeldRow {
                    input,
                    worker,
                    state: held.state,
                    planned: false,
                    submissions: held.submissions,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.answer_rows(plans, rows)
    }

    /// Why an input of a task stands where it does: its holders, their submissions and
    /// annotations, the decisions, in order.
    pub fn explain(&self, task_id: &str, input_id: &str) -> Result<work::InputState> {
        check_ids(&[("task_id", task_id), ("input_id", input_id)])?;
        let task = self.get(task_id)?;
        let plans = self.input_plans(&task)?;
        let (rules, planned) = self.input_rules(&plans, input_id)?;
        let users = self.index.input_events(task_id, input_id)?;
        Ok(work::explain(&rules, input_id, &planned, &users))
    }

    /// The rules that decide one input of the plans' task, and the workers the plan gives it.
    fn input_rules<'p>(
        &self,
        plans: &'p InputPlans,
        input: &str,
    ) -> Result<(Rules<'p>, Vec<String>)> {
        let selected = self.index.in_source(plans.source(), input)?;
        let rules = Rules::of(plans.task(), plans.sampled(input), selected);
        Ok((rules, plans.planned(input, selected)))
    }

    /// The task's plans per input, as the index keeps them.
    pub(super) fn input_plans(&self, task: &Task) -> Result<InputPlans> {
        let plan = self.index.task_plan(task.id())?;
        Ok(InputPlans::new(
            task.clone(),
            plan.as_ref(),
            self.index.plan_moves(task.id(), false)?,
        ))
    }

    /// The caller's hold on an input: from the index's rows when the input has work, else
    /// from the plan.
    pub(super) fn held(&self, plans: &InputPlans, input: &str, user: &str) -> Result<Option<Held>> {
        let task = plans.task().id();
        let rows = self.index.holders(task, input)?;
        if let Some(row) = rows.iter().find(|r| r.worker == user) {
            return Ok(Some(Held {
                state: row.state,
                submissions: row.submissions,
            }));
        }
        let selected = self.index.in_source(plans.source(), input)?;
        Ok(plans
            .planned(input, selected)
            .iter()
            .any(|w| w == user)
            .then_some(Held {
                state: State::Pending,
                submissions: 0,
            }))
    }

    /// Up to `limit` of `user`'s PENDING assignments of the task, in input order: their rows
    /// still PENDING (work begun, a hand-out, work kept from an earlier plan), and the plan's
    /// inputs they have no row on yet. Those are walked from the user's frontier (see
    /// `store::queues`), which `advance` (LABEL_START) moves up to the first one found, so a
    /// walk costs the page it answers and the work done since the last one, not the task's
    /// size.
    pub(super) fn open_assignments(
        &self,
        plans: &InputPlans,
        user: &str,
        limit: usize,
        advance: bool,
    ) -> Result<Vec<String>> {
        let task = plans.task().id();
        let mine = |input: &str| plans.planned(input, true).iter().any(|w| w == user);
        let mut open = Vec::new();
        let mut failed = None;
        self.index
            .each_held_in_state(task, user, State::Pending, |input, planned| {
                // A row the plan gave counts while the plan still gives it.
                let keep = !planned
                    || match self.index.in_source(plans.source(), input) {
                        Ok(selected) => selected && mine(input),
                        Err(e) => {
                            failed = Some(e);
                            return false;
                        }
                    };
                if keep {
                    open.push(input.to_owned());
                }
                open.len() < limit
            })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        let walk = |from: &str| {
            let mut untouched: Vec<String> = Vec::new();
            let mut last = None;
            let mut failed = None;
            self.index.each_input_from(plans.source(), from, |input| {
                last = Some(input.to_owned());
                if !mine(input) {
                    return true;
                }
                match self.index.has_row(task, input, user) {
                    Ok(true) => true,
                    Ok(false) => {
                        untouched.push(input.to_owned());
                        untouched.len() < limit
                    }
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                }
            })?;
            match failed {
                Some(e) => Err(e),
                None => {
                    let reached = untouched.first().cloned().or(last);
                    Ok((untouched, reached))
                }
            }
        };
        let untouched = if advance {
            self.index.walk_from_frontier(task, user, walk)?
        } else {
            walk(&self.index.frontier(task, user)?)?.0
        };
        open.extend(untouched);
        open.sort_unstable();
        open.dedup();
        open.truncate(limit);
        Ok(open)
    }

    /// The caller's assignments on these inputs as TaskAssignments, with their inputs' JSON.
    pub(super) fn answer(
        &self,
        plans: &InputPlans,
        user: &str,
        inputs: Vec<String>,
    ) -> Result<Vec<TaskAssignment>> {
        let rows = inputs
            .into_iter()
            .map(|input| {
                let held = self.held(plans, &input, user)?.unwrap_or(Held {
                    state: State::Pending,
                    submissions: 0,
                });
                Ok(HeldRow {
                    input,
                    worker: user.to_owned(),
                    state: held.state,
                    planned: false,
                    submissions: held.submissions,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.answer_rows(plans, rows)
    }

    /// Rows as TaskAssignments, with their inputs' JSON; the reviewer's comment on the
    /// latest submission, if any, is the status's `details`.
    fn answer_rows(&self, plans: &InputPlans, rows: Vec<HeldRow>) -> Result<Vec<TaskAssignment>> {
        let ids: Vec<&str> = rows.iter().map(|r| r.input.as_str()).collect();
        let inputs = self.inputs_json(&ids)?;
        rows.iter()
            .zip(inputs)
            .map(|(row, input)| {
                let mut answer = TaskAssignment::new(&row.input, input, &row.worker, row.state);
                answer.status.details = self.comment(plans, row)?;
                Ok(answer)
            })
            .collect()
    }

    /// The comment of the decision that stands on a row's latest submission. The index keeps
    /// no comment among its derived states, so this reads the input's events, and replays
    /// them only when a decision on that submission has a comment: a cost per row answered.
    fn comment(&self, plans: &InputPlans, row: &HeldRow) -> Result<Option<String>> {
        if row.submissions == 0 || row.state == State::AwaitingReview {
            return Ok(None);
        }
        let users = self.index.input_events(plans.task().id(), &row.input)?;
        let commented = users.iter().flat_map(|u| &u.lines).any(|(_, line)| {
            matches!(&line.event, Event::Review { worker, submission, comment: Some(_), .. }
                if *worker == row.worker && *submission == row.submissions)
        });
        if !commented {
            return Ok(None);
        }
        let (rules, planned) = self.input_rules(plans, &row.input)?;
        Ok(work::replay(&rules, &row.input, &planned, &users)
            .assignments
            .into_iter()
            .find(|a| a.worker == row.worker)
            .and_then(|a| a.comment))
    }
}

/// One input and one worker who labels it, and where the assignment stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub input: String,
    pub worker: String,
    pub state: State,
}

/// A PutTaskAssignments action as the library takes it. The faces (the JSON routes, gRPC)
/// turn the API's request shapes into one, so this module knows no request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// LABEL_START: the caller's open assignments, or under DYNAMIC new inputs handed out.
    LabelStart,
    /// LABEL_SUBMIT of the caller's assignments.
    LabelSubmit(Vec<NamedId>),
    /// REVIEW_START: the assignments awaiting review, of these workers when it names any.
    ReviewStart { workers: Vec<String> },
    /// REVIEW_APPROVE, REVIEW_REQUEST_CHANGES or REVIEW_REJECT.
    Review(Review),
    /// LABEL_WITHDRAW (annotask's extension): the caller takes back their latest, undecided
    /// submission on this input.
    LabelWithdraw { input: Option<String> },
}

/// An assignment id (`<input_id>.<worker>`) and the request field that named it, which a
/// diagnostic about it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedId {
    pub field: String,
    pub id: String,
}

/// A reviewer's decision on assignments named by id, or on all of some workers' awaiting
/// review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub decision: Decision,
    pub assignments: Vec<String>,
    pub workers: Vec<String>,
    /// What the reviewer says to the worker, stored with each decision.
    pub comment: Option<String>,
    /// The request's name for this part of it (`review_approve_config`), for diagnostics.
    pub field: String,
}

/// How many assignments LABEL_START and REVIEW_START answer with, as the hosted API does.
pub(super) const BATCH: usize = 10;

/// An assignment as the checks see it.
pub(super) struct Held {
    pub(super) state: State,
    pub(super) submissions: u32,
}

/// The input of an assignment id that must be `user`'s; a malformed id is a problem at `field`,
/// someone else's is refused.
fn own_assignment<'a>(
    id: &'a str,
    user: &str,
    field: &str,
    problems: &mut Vec<Diagnostic>,
) -> Result<Option<&'a str>> {
    match api::parse_assignment_id(id) {
        None => {
            problems.push(not_an_assignment_id(field.to_owned(), id));
            Ok(None)
        }
        Some((_, worker)) if worker != user => Err(Error::PermissionDenied(format!(
            "assignment `{id}` is `{worker}`'s: `{user}` may submit only their own"
        ))),
        Some((input, _)) => Ok(Some(input)),
    }
}

fn not_an_assignment_id(field: String, id: &str) -> Diagnostic {
    Diagnostic::error(field, format!("`{id}` is not an assignment id"))
        .hint("an assignment's id is `<input_id>.<worker_user_id>`, as LABEL_START answers it")
}

pub(super) fn not_holder(user: &str, input: &str, task: &Task) -> Error {
    Error::PermissionDenied(format!(
        "user `{user}` does not hold input `{input}` of task `{}`: only the workers it is assigned to may work on it",
        task.id()
    ))
}

fn require_reviewer(user: &str, task: &Task) -> Result<()> {
    if task.reviewer_ids().iter().any(|r| r == user) {
        return Ok(());
    }
    Err(Error::PermissionDenied(format!(
        "user `{user}` is not a reviewer of task `{}`",
        task.id()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::NewAnnotation;
    use std::fs;

    /// A project with one dataset of `inputs` inputs and one task of `yaml`.
    fn project(inputs: usize, yaml: &str) -> (tempfile::TempDir, Repo) {
        let dir = tempfile::tempdir().unwrap();
        crate::repo::init(dir.path()).unwrap();
        fs::create_dir_all(dir.path().join("inputs")).unwrap();
        let lines: String = (1..=inputs)
            .map(|i| format!("{{\"id\": \"in-{i}\"}}\n"))
            .collect();
        fs::write(dir.path().join("inputs/ds.jsonl"), lines).unwrap();
        fs::write(dir.path().join("tasks/t.yaml"), yaml).unwrap();
        let mut repo = Repo::open(dir.path(), None).unwrap();
        repo.sync().unwrap();
        (dir, repo)
    }

    const CONSENSUS: &str = "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog]\n\
        input_source: {type: ALL_INPUTS}\n\
        worker: {strategy: FULL, user_ids: [ann, bob, carl]}\n\
        review: {strategy: CONSENSUS, user_ids: [rita], consensus_strategy_info: {approval_threshold: 2}}\n";

    fn label(repo: &mut Repo, user: &str, input: &str, concept: &str) {
        let annotation: work::Annotation = serde_json::from_value(serde_json::json!({
            "input_id": input, "data": {"concepts": [{"id": concept, "value": 1}]}
        }))
        .unwrap();
        repo.post_annotations(
            user,
            vec![NewAnnotation {
                task_id: "t".into(),
                annotation,
            }],
        )
        .unwrap();
        let submit = Action::LabelSubmit(vec![NamedId {
            field: "label_submit_config.task_assignments[0].id".into(),
            id: api::assignment_id(input, user),
        }]);
        repo.put_assignments(user, "t", submit).unwrap();
    }

    /// (worker, pending, awaiting_review, success, review_denied, awaiting_consensus_review)
    fn counts(repo: &Repo) -> Vec<(String, [u64; 5])> {
        repo.counts("t")
            .unwrap()
            .rows
            .into_iter()
            .map(|c| {
                let n = [
                    c.pending,
                    c.awaiting_review,
                    c.success,
                    c.review_denied,
                    c.awaiting_consensus_review,
                ];
                (c.worker.user.id, n)
            })
            .collect()
    }

    fn expect(rows: &[(&str, [u64; 5])]) -> Vec<(String, [u64; 5])> {
        rows.iter().map(|(w, n)| (w.to_string(), *n)).collect()
    }

    #[test]
    fn a_reviewers_comment_is_stored_in_their_file_and_shown_to_the_worker() {
        let (dir, mut repo) = project(
            1,
            "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog]\n\
             input_source: {type: ALL_INPUTS}\n\
             worker: {strategy: FULL, user_ids: [ann]}\n\
             review: {strategy: MANUAL, user_ids: [rita], manual_strategy_info: {sample_percentage: 1}}\n",
        );
        label(&mut repo, "ann", "in-1", "cat");
        let changes = |comment: String| {
            Action::Review(Review {
                decision: Decision::REQUEST_CHANGES,
                assignments: vec![api::assignment_id("in-1", "ann")],
                workers: Vec::new(),
                comment: Some(comment),
                field: "review_request_changes_config".into(),
            })
        };
        let rita = dir.path().join(layout::work_path("t", "rita"));
        // Too long by one character (not byte): refused, and nothing written.
        let refused = repo.put_assignments("rita", "t", changes("é".repeat(work::COMMENT_MAX + 1)));
        let Err(Error::Invalid(reports)) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(
            reports[0].diagnostics[0].field,
            "review_request_changes_config.comment"
        );
        assert!(!rita.exists());
        let comment = "é".repeat(work::COMMENT_MAX - 15) + " \"dog\", not cat";
        assert_eq!(comment.chars().count(), work::COMMENT_MAX);
        repo.put_assignments("rita", "t", changes(comment.clone()))
            .unwrap();
        let stored = fs::read_to_string(&rita).unwrap();
        assert!(
            stored.contains(&serde_json::to_string(&comment).unwrap()),
            "{stored}"
        );
        let shown = |repo: &mut Repo| {
            let started = repo
                .put_assignments("ann", "t", Action::LabelStart)
                .unwrap();
            let story = repo.explain("t", "in-1").unwrap().story;
            (started[0].status.details.clone(), story)
        };
        let check = |repo: &mut Repo| {
            let (details, story) = shown(repo);
            assert_eq!(details.as_ref(), Some(&comment));
            let told = serde_json::to_string(&comment).unwrap();
            assert!(
                story.iter().any(
                    |l| l.starts_with("rita requested changes on ann's submission 1")
                        && l.contains(&format!("saying {told}"))
                ),
                "{story:#?}"
            );
        };
        check(&mut repo);
        // The index rebuilt from the files answers the same.
        drop(repo);
        fs::remove_dir_all(dir.path().join(".annotask")).unwrap();
        let mut repo = Repo::open(dir.path(), None).unwrap();
        repo.sync().unwrap();
        check(&mut repo);
        // Submitted again, the input awaits review with no comment on the new submission.
        label(&mut repo, "ann", "in-1", "dog");
        let waiting = repo
            .put_assignments(
                "rita",
                "t",
                Action::ReviewStart {
                    workers: Vec::new(),
                },
            )
            .unwrap();
        assert_eq!(waiting[0].status.details, None);
    }

    #[test]
    fn consensus_approves_agreement_and_sends_disagreement_to_review() {
        let (dir, mut repo) = project(3, CONSENSUS);
        let started = repo
            .put_assignments("ann", "t", Action::LabelStart)
            .unwrap();
        assert_eq!(started.len(), 3);
        label(&mut repo, "ann", "in-1", "cat");
        label(&mut repo, "bob", "in-1", "cat");
        label(&mut repo, "ann", "in-2", "cat");
        label(&mut repo, "bob", "in-2", "dog");
        label(&mut repo, "carl", "in-2", "dog");
        label(&mut repo, "ann", "in-3", "cat");
        label(&mut repo, "bob", "in-3", "dog");
        // in-1: ann and bob agree, carl's assignment is closed; in-2: bob and carl agree,
        // ann is outvoted; in-3: waiting for carl.
        assert_eq!(
            counts(&repo),
            expect(&[
                ("ann", [0, 0, 1, 1, 1]),
                ("bob", [0, 0, 2, 0, 1]),
                ("carl", [1, 0, 1, 0, 0]),
            ])
        );
        label(&mut repo, "carl", "in-3", "cat");
        assert_eq!(
            counts(&repo),
            expect(&[
                ("ann", [0, 0, 2, 1, 0]),
                ("bob", [0, 0, 2, 1, 0]),
                ("carl", [0, 0, 2, 0, 0]),
            ])
        );
        // The index rebuilt from the files answers the same.
        let before = counts(&repo);
        drop(repo);
        fs::remove_dir_all(dir.path().join(".annotask")).unwrap();
        let mut repo = Repo::open(dir.path(), None).unwrap();
        repo.sync().unwrap();
        assert_eq!(counts(&repo), before);
        let review = Action::Review(Review {
            decision: Decision::APPROVE,
            assignments: Vec::new(),
            workers: Vec::new(),
            comment: None,
            field: "review_approve_config".into(),
        });
        assert!(matches!(
            repo.put_assignments("ann", "t", review),
            Err(Error::PermissionDenied(_))
        ));
    }
}
