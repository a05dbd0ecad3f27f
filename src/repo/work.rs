//! The workflow's operations on a project (ARCHITECTURE.md, "The workflow"): the actions of
//! PutTaskAssignments, PostAnnotations, ListAnnotations, the counts by state and `explain`. Each checks what the
//! caller may do against the index, appends to the caller's own work file (durable before it
//! returns), syncs that file, and answers from the index. Must not print or decide states:
//! [`crate::work::replay`] decides, through the sync.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;

use super::{Counts, Repo, now, refuse_repeats};
use crate::api::{
    self, AnnotationOut, AnnotationQuery, AssignmentAction, CountPerUser, PostAnnotations,
    PutTaskAssignments, ReviewConfig, TaskAssignment, UserWorker,
};
use crate::error::{Error, Result};
use crate::files;
use crate::model::{Task, WorkerStrategy};
use crate::plans::{self, InputPlans};
use crate::store::{AnnotationFilter, AnnotationRow, Counted, HeldRow};
use crate::validate::{self, Diagnostic, Report};
use crate::work::{self, Decision, Event, Line, Rules, State};

/// How many assignments LABEL_START and REVIEW_START answer with, as the hosted API does.
const BATCH: usize = 10;

/// An assignment as the checks see it.
pub(super) struct Held {
    pub(super) state: State,
    pub(super) submissions: u32,
}

impl Repo {
    /// PutTaskAssignments as `user`: appends to the user's work file
    /// first, then syncs it, and answers with the assignments the action concerns.
    pub fn put_assignments(
        &mut self,
        user: &str,
        task_id: &str,
        request: PutTaskAssignments,
    ) -> Result<Vec<TaskAssignment>> {
        check_ids(&[("task_id", task_id), ("user", user)])?;
        if let Some(named) = request.task_id.as_deref().filter(|t| *t != task_id) {
            return Err(invalid(
                "task_id",
                format!("the body names task `{named}`, the path task `{task_id}`"),
            ));
        }
        let action = match (request.action, &request.input_id) {
            (Some(action), _) => action,
            (None, Some(_)) => AssignmentAction::LABEL_SUBMIT,
            (None, None) => {
                return Err(invalid(
                    "action",
                    "an action is required: LABEL_START, LABEL_SUBMIT, REVIEW_START, REVIEW_APPROVE, REVIEW_REQUEST_CHANGES, REVIEW_REJECT or LABEL_WITHDRAW",
                ));
            }
        };
        let _lock = self.write_lock()?;
        self.sync()?;
        let task = self.get(task_id)?;
        match action {
            AssignmentAction::LABEL_START => self.label_start(user, &task),
            AssignmentAction::LABEL_SUBMIT => {
                let ids: Vec<(String, String)> =
                    match (&request.label_submit_config, &request.input_id) {
                        (Some(config), _) => config
                            .task_assignments
                            .iter()
                            .enumerate()
                            .map(|(i, a)| {
                                (
                                    format!("label_submit_config.task_assignments[{i}].id"),
                                    a.id.clone(),
                                )
                            })
                            .collect(),
                        (None, Some(input)) => {
                            vec![("input_id".to_owned(), api::assignment_id(input, user))]
                        }
                        (None, None) => Vec::new(),
                    };
                self.label_submit(user, &task, &ids)
            }
            AssignmentAction::REVIEW_START => {
                let workers: Vec<String> = request
                    .review_start_config
                    .map(|c| c.workers.into_iter().map(|w| w.user.id).collect())
                    .unwrap_or_default();
                self.review_start(user, &task, &workers)
            }
            AssignmentAction::REVIEW_APPROVE => self.review(
                user,
                &task,
                Decision::APPROVE,
                request.review_approve_config,
                "review_approve_config",
            ),
            AssignmentAction::REVIEW_REQUEST_CHANGES => self.review(
                user,
                &task,
                Decision::REQUEST_CHANGES,
                request.review_request_changes_config,
                "review_request_changes_config",
            ),
            AssignmentAction::REVIEW_REJECT => self.review(
                user,
                &task,
                Decision::REJECT,
                request.review_reject_config,
                "review_reject_config",
            ),
            AssignmentAction::LABEL_WITHDRAW => {
                self.label_withdraw(user, &task, request.input_id.as_deref())
            }
        }
    }

    /// ListNextTaskAssignments: `user`'s open (PENDING) assignments on the task, as LABEL_START
    /// answers them but without handing out new DYNAMIC inputs.
    pub fn next_assignments(&self, user: &str, task_id: &str) -> Result<Vec<TaskAssignment>> {
        check_ids(&[("task_id", task_id), ("user", user)])?;
        let task = self.get(task_id)?;
        let open = self.open_assignments(&task, user, BATCH)?;
        self.answer(&task, user, open)
    }

    /// LABEL_START: the caller's open assignments or, under DYNAMIC when there are none, the
    /// next inputs nobody holds, handed out to the caller.
    fn label_start(&mut self, user: &str, task: &Task) -> Result<Vec<TaskAssignment>> {
        if !task.worker_ids().iter().any(|w| w == user) {
            return Err(Error::PermissionDenied(format!(
                "user `{user}` is not a worker of task `{}`",
                task.id()
            )));
        }
        let mut open = self.open_assignments(task, user, BATCH)?;
        let dynamic =
            task.doc().worker.as_ref().and_then(|w| w.strategy) == Some(WorkerStrategy::DYNAMIC);
        if open.is_empty() && dynamic {
            let mut free = Vec::new();
            let mut failed = None;
            self.index.each_input(&plans::Source::of(task), |input| {
                match self.index.is_held(task.id(), input) {
                    Ok(true) => true,
                    Ok(false) => {
                        free.push(input.to_owned());
                        free.len() < BATCH
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
        self.answer(task, user, open)
    }

    /// LABEL_SUBMIT of assignments named by id (`field` says where each came from in the
    /// request). All or nothing: every one must be the caller's, and a PENDING one must have
    /// an annotation; one already submitted is left as it is.
    fn label_submit(
        &mut self,
        user: &str,
        task: &Task,
        ids: &[(String, String)],
    ) -> Result<Vec<TaskAssignment>> {
        if ids.is_empty() {
            return Err(invalid(
                "label_submit_config.task_assignments",
                "name the assignments to submit: [{\"id\": \"<input_id>.<worker>\"}]",
            ));
        }
        refuse_repeats(
            ids.iter().map(|(_, id)| Some(id.as_str())),
            "label_submit_config.task_assignments",
            ".id",
        )?;
        let plans = self.input_plans(task)?;
        let mut problems = Vec::new();
        let mut submit = Vec::new();
        let mut inputs = Vec::new();
        for (field, id) in ids {
            let Some(input) = own_assignment(id, user, field, &mut problems)? else {
                continue;
            };
            match self.held(&plans, input, user)? {
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
        self.answer(task, user, inputs)
    }

    /// REVIEW_START: the assignments of the task awaiting review, of `workers` when it names
    /// any.
    fn review_start(
        &self,
        user: &str,
        task: &Task,
        workers: &[String],
    ) -> Result<Vec<TaskAssignment>> {
        require_reviewer(user, task)?;
        let waiting: Vec<HeldRow> = self
            .index
            .task_in_state(task.id(), State::AwaitingReview, u64::MAX)?
            .into_iter()
            .filter(|row| workers.is_empty() || workers.contains(&row.worker))
            .take(BATCH)
            .collect();
        self.answer_rows(waiting)
    }

    /// REVIEW_APPROVE, REVIEW_REQUEST_CHANGES, REVIEW_REJECT: a decision on each named
    /// assignment (or each of the named workers' awaiting review) that awaits review; the
    /// others are left as they are and answered as they stand.
    fn review(
        &mut self,
        user: &str,
        task: &Task,
        decision: Decision,
        config: Option<ReviewConfig>,
        name: &str,
    ) -> Result<Vec<TaskAssignment>> {
        require_reviewer(user, task)?;
        let config = config.unwrap_or_default();
        let mut targets: Vec<(String, String)> = Vec::new();
        let mut problems = Vec::new();
        refuse_repeats(
            config.task_assignments.iter().map(|a| Some(a.id.as_str())),
            &format!("{name}.task_assignments"),
            ".id",
        )?;
        let plans = self.input_plans(task)?;
        for (i, assignment) in config.task_assignments.iter().enumerate() {
            let field = format!("{name}.task_assignments[{i}].id");
            match api::parse_assignment_id(&assignment.id) {
                Some((_, worker)) if worker == user => {
                    return Err(Error::PermissionDenied(format!(
                        "`{user}` may not decide on their own assignment `{}`: a reviewer decides on others' work",
                        assignment.id
                    )));
                }
                Some((input, worker)) if self.held(&plans, input, worker)?.is_some() => {
                    targets.push((input.to_owned(), worker.to_owned()));
                }
                Some(_) => problems.push(Diagnostic::error(
                    field,
                    format!("task `{}` has no assignment `{}`", task.id(), assignment.id),
                )),
                None => problems.push(not_an_assignment_id(field, &assignment.id)),
            }
        }
        for worker in config.workers.iter().filter(|w| w.user.id != user) {
            for row in self.index.held_in_state(
                task.id(),
                &worker.user.id,
                State::AwaitingReview,
                u64::MAX,
            )? {
                targets.push((row.input, row.worker));
            }
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(vec![report(problems)]));
        }
        if targets.is_empty() && config.workers.is_empty() {
            return Err(invalid(
                name,
                "name the assignments (`task_assignments`) or the workers (`workers`) to review",
            ));
        }
        let mut events = Vec::new();
        for (input, worker) in &targets {
            let held = self.held(&plans, input, worker)?;
            if let Some(held) = held.filter(|h| h.state == State::AwaitingReview) {
                events.push(Event::Review {
                    input_id: input.clone(),
                    worker: worker.clone(),
                    submission: held.submissions,
                    decision,
                });
            }
        }
        self.append(task.id(), user, &events)?;
        let rows = targets
            .into_iter()
            .map(|(input, worker)| {
                let held = self.held(&plans, &input, &worker)?;
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
        self.answer_rows(rows)
    }

    /// PostAnnotations as `user`: all or nothing, each checked against its task and the
    /// user's assignment on its input, which must be open (PENDING).
    pub fn post_annotations(
        &mut self,
        user: &str,
        request: PostAnnotations,
    ) -> Result<Vec<AnnotationOut>> {
        check_ids(&[("user", user)])?;
        let _lock = self.write_lock()?;
        self.sync()?;
        let mut problems = Vec::new();
        let mut by_task: BTreeMap<String, Vec<Event>> = BTreeMap::new();
        let mut posted = Vec::new();
        let mut tasks: HashMap<String, (Task, InputPlans)> = HashMap::new();
        let mut ids = Vec::new();
        for (i, item) in request.annotations.into_iter().enumerate() {
            let field = format!("annotations[{i}]");
            let mut annotation = item.annotation;
            let named = !annotation.id.is_empty();
            if annotation.id.is_empty() {
                annotation.id = super::new_id();
            }
            ids.push((item.task_id.clone(), annotation.id.clone()));
            if let Err(e) = validate::check_id(&item.task_id) {
                problems.push(
                    Diagnostic::error(format!("{field}.task_id"), e)
                        .hint("an annotation is work on a task: name it with `task_id`"),
                );
                continue;
            }
            if !tasks.contains_key(&item.task_id) {
                let task = self.get(&item.task_id)?;
                let plans = self.input_plans(&task)?;
                tasks.insert(item.task_id.clone(), (task, plans));
            }
            let (task, plans) = &tasks[&item.task_id];
            let found = work::annotation::check(&annotation, task, &field);
            if !found.is_empty() {
                problems.extend(found);
                continue;
            }
            match self.held(plans, &annotation.input_id, user)? {
                None => return Err(not_holder(user, &annotation.input_id, task)),
                Some(held) if held.state != State::Pending => problems.push(
                    Diagnostic::error(
                        field,
                        format!(
                            "`{user}` has submitted input `{}` of task `{}` ({}): it takes new annotations again only if a reviewer requests changes",
                            annotation.input_id,
                            task.id(),
                            held.state.description()
                        ),
                    ),
                ),
                Some(_) => {
                    if let Some(same) = self.same_annotation(&item.task_id, user, &annotation, named)? {
                        // Posting the current annotation again changes nothing.
                        posted.push((item.task_id.clone(), annotation.input_id.clone(), same));
                        continue;
                    }
                    posted.push((item.task_id.clone(), annotation.input_id.clone(), annotation.id.clone()));
                    by_task
                        .entry(item.task_id)
                        .or_default()
                        .push(Event::Annotation(annotation));
                }
            }
        }
        refuse_repeats(
            ids.iter()
                .map(|(task, id)| Some(id.as_str()).filter(|_| !task.is_empty())),
            "annotations",
            ".id",
        )?;
        if !problems.is_empty() {
            return Err(Error::Invalid(vec![report(problems)]));
        }
        for (task, events) in &by_task {
            self.append(task, user, events)?;
        }
        let mut out = Vec::with_capacity(posted.len());
        for (task, input, id) in posted {
            let filter = AnnotationFilter {
                task: Some(&task),
                ids: std::slice::from_ref(&id),
                workers: &[user.to_owned()],
                inputs: std::slice::from_ref(&input),
                limit: 1,
                ..AnnotationFilter::default()
            };
            out.extend(
                self.index
                    .annotations(&filter)?
                    .into_iter()
                    .map(annotation_out),
            );
        }
        out.into_iter().collect()
    }

    /// ListAnnotations: the current annotations that match, by task, input, worker and id.
    pub fn list_annotations(&self, query: &AnnotationQuery) -> Result<Vec<AnnotationOut>> {
        let mut states = Vec::new();
        let mut problems = Vec::new();
        for (i, code) in query.statuses.iter().enumerate() {
            match State::from_code(*code) {
                Some(state) => states.push(state),
                None => problems.push(Diagnostic::error(
                    format!("statuses[{i}]"),
                    format!("{code} is no annotation or assignment status"),
                ).hint("annotations are 24150 (success), 24151 (pending), 24157 (awaiting review), 24158 (review denied) or 24159 (awaiting consensus review)")),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(vec![report(problems)]));
        }
        let filter = AnnotationFilter {
            task: query.task_id.as_deref(),
            ids: &query.ids,
            workers: &query.user_ids,
            inputs: &query.input_ids,
            states: &states,
            offset: u64::from(query.page.saturating_sub(1)) * u64::from(query.per_page),
            limit: u64::from(query.per_page),
        };
        self.index
            .annotations(&filter)?
            .into_iter()
            .map(annotation_out)
            .collect()
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

    /// Why an input of a task stands where it does: its holders, their submissions and
    /// annotations, the decisions, in order.
    pub fn explain(&self, task_id: &str, input_id: &str) -> Result<work::InputState> {
        check_ids(&[("task_id", task_id), ("input_id", input_id)])?;
        let task = self.get(task_id)?;
        let plans = self.input_plans(&task)?;
        let sampled = plans.sampled(input_id);
        let selected = self.index.in_source(plans.source(), input_id)?;
        let planned = plans.planned(input_id, selected);
        let users = self.index.input_events(task_id, input_id)?;
        Ok(work::explain(
            &Rules::of(&task, sampled, selected),
            input_id,
            &planned,
            &users,
        ))
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

    /// Up to `limit` of `user`'s PENDING assignments of the task, in input order: the plan's
    /// without recorded work or still pending, and those held otherwise.
    fn open_assignments(&self, task: &Task, user: &str, limit: usize) -> Result<Vec<String>> {
        let held: HashMap<String, HeldRow> = self
            .index
            .held_by(task.id(), user)?
            .into_iter()
            .map(|row| (row.input.clone(), row))
            .collect();
        let mut open: Vec<String> = held
            .values()
            .filter(|row| !row.planned && row.state == State::Pending)
            .map(|row| row.input.clone())
            .collect();
        let plans = self.input_plans(task)?;
        let mut planned = 0;
        self.index.each_input(plans.source(), |input| {
            if plans.planned(input, true).iter().any(|w| w == user)
                && held
                    .get(input)
                    .is_none_or(|row| row.state == State::Pending)
            {
                open.push(input.to_owned());
                planned += 1;
            }
            planned < limit
        })?;
        open.sort_unstable();
        open.dedup();
        open.truncate(limit);
        Ok(open)
    }

    /// The caller's assignments on these inputs as TaskAssignments, with their inputs' JSON.
    pub(super) fn answer(
        &self,
        task: &Task,
        user: &str,
        inputs: Vec<String>,
    ) -> Result<Vec<TaskAssignment>> {
        let plans = self.input_plans(task)?;
        let rows = inputs
            .into_iter()
            .map(|input| {
                let held = self.held(&plans, &input, user)?.unwrap_or(Held {
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
        self.answer_rows(rows)
    }

    fn answer_rows(&self, rows: Vec<HeldRow>) -> Result<Vec<TaskAssignment>> {
        let ids: Vec<&str> = rows.iter().map(|r| r.input.as_str()).collect();
        let inputs = self.inputs_json(&ids)?;
        Ok(rows
            .iter()
            .zip(inputs)
            .map(|(row, input)| TaskAssignment::new(&row.input, input, &row.worker, row.state))
            .collect())
    }

    /// Appends events to `user`'s work file on `task`, durably, and syncs it.
    pub(super) fn append(&mut self, task: &str, user: &str, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let at = now();
        let text: String = events
            .iter()
            .map(|event| {
                work::to_line(&Line {
                    at,
                    event: event.clone(),
                })
            })
            .collect();
        let path = files::work_path(task, user);
        files::append(&self.root, &path, text.as_bytes())
            .map_err(Error::io("append to", self.root.join(&path)))?;
        self.sync_paths(&[path])?;
        Ok(())
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

pub(super) fn annotation_out(row: AnnotationRow) -> Result<AnnotationOut> {
    let corrupt = || Error::Store(crate::store::StoreError::CorruptBody(row.task.clone()));
    let annotation: work::Annotation = serde_json::from_str(&row.json).map_err(|_| corrupt())?;
    let time = |micros: i64| Timestamp::from_microsecond(micros).map_err(|_| corrupt());
    Ok(AnnotationOut {
        annotation,
        status: api::ApiStatus {
            code: row.state.annotation_code(),
            description: row.state.annotation_description().to_owned(),
            details: None,
        },
        created_at: time(row.created_at)?,
        modified_at: time(row.modified_at)?,
        worker: UserWorker::new(&row.worker),
        user_id: row.worker,
        task_id: row.task,
    })
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

pub(super) fn check_ids(ids: &[(&str, &str)]) -> Result<()> {
    let problems: Vec<Diagnostic> = ids
        .iter()
        .filter_map(|(field, id)| {
            validate::check_id(id)
                .err()
                .map(|e| Diagnostic::error(*field, e))
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(vec![report(problems)]))
    }
}

pub(super) fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::Invalid(vec![report(vec![Diagnostic::error(field, message)])])
}

pub(super) fn report(diagnostics: Vec<Diagnostic>) -> Report {
    Report {
        file: "-".into(),
        diagnostics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AssignmentRef, PostedAnnotation, ReviewConfig, SubmitConfig};
    use std::fs;

    /// A project with one dataset of `inputs` inputs and one task of `yaml`.
    fn project(inputs: usize, yaml: &str) -> (tempfile::TempDir, Repo) {
        let dir = tempfile::tempdir().unwrap();
        super::super::init(dir.path()).unwrap();
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

    fn action(action: AssignmentAction) -> PutTaskAssignments {
        PutTaskAssignments {
            action: Some(action),
            ..PutTaskAssignments::default()
        }
    }

    fn label(repo: &mut Repo, user: &str, input: &str, concept: &str) {
        let annotation: work::Annotation = serde_json::from_value(serde_json::json!({
            "input_id": input, "data": {"concepts": [{"id": concept, "value": 1}]}
        }))
        .unwrap();
        repo.post_annotations(
            user,
            PostAnnotations {
                annotations: vec![PostedAnnotation {
                    task_id: "t".into(),
                    annotation,
                }],
                user_app_id: None,
            },
        )
        .unwrap();
        let submit = PutTaskAssignments {
            label_submit_config: Some(SubmitConfig {
                task_assignments: vec![AssignmentRef {
                    id: api::assignment_id(input, user),
                }],
            }),
            ..action(AssignmentAction::LABEL_SUBMIT)
        };
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
    fn consensus_approves_agreement_and_sends_disagreement_to_review() {
        let (dir, mut repo) = project(3, CONSENSUS);
        let started = repo
            .put_assignments("ann", "t", action(AssignmentAction::LABEL_START))
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
        let review = PutTaskAssignments {
            review_approve_config: Some(ReviewConfig::default()),
            ..action(AssignmentAction::REVIEW_APPROVE)
        };
        assert!(matches!(
            repo.put_assignments("ann", "t", review),
            Err(Error::PermissionDenied(_))
        ));
    }
}
