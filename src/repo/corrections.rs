//! Corrections to work already done: LABEL_WITHDRAW (annotask's extension: a worker takes back
//! an undecided submission), PatchAnnotations (`overwrite`, `merge`, `remove`) and
//! DeleteAnnotations. Each is checked against the index as the other workflow operations are,
//! then written as events in the caller's own work file (an annotation line replacing the
//! earlier version, a `delete` line, a `withdraw` line). Must not decide states:
//! [`crate::work::replay`] does, through the sync.

use std::collections::BTreeMap;

use super::annotations::NewAnnotation;
use super::annotations::annotation_out;
use super::assignments::{Held, not_holder};
use super::{Repo, check_ids, invalid, report};
use crate::api::{AnnotationOut, TaskAssignment};
use crate::error::{Error, Result};
use crate::layout;
use crate::model::{ReviewStrategy, Task};
use crate::plans::InputPlans;
use crate::store::AnnotationFilter;
use crate::validate::Diagnostic;
use crate::work::annotation::{self, Annotation, Data};
use crate::work::{Event, State};

/// How PatchAnnotations changes an annotation's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnotationPatch {
    /// The posted data replaces it.
    Overwrite,
    /// The posted concepts and regions are added (one with the same id replaced).
    Merge,
    /// The posted concepts and regions (by id) are taken out.
    Remove,
}

/// The caller's annotations to delete: by `ids` (each on the input at its place in
/// `input_ids` when both are given), or every one on `input_ids`. Diagnostics name them by
/// these fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnotationsToDelete {
    pub ids: Vec<String>,
    pub input_ids: Vec<String>,
}

impl AnnotationPatch {
    /// `current`'s data after the patch.
    fn apply(self, current: &Data, posted: Data) -> Data {
        match self {
            AnnotationPatch::Overwrite => posted,
            AnnotationPatch::Merge => {
                let mut data = current.clone();
                for concept in posted.concepts {
                    match data.concepts.iter_mut().find(|c| c.id == concept.id) {
                        Some(same) => *same = concept,
                        None => data.concepts.push(concept),
                    }
                }
                for region in posted.regions {
                    let same = data
                        .regions
                        .iter_mut()
                        .find(|r| !region.id.is_empty() && r.id == region.id);
                    match same {
                        Some(same) => *same = region,
                        None => data.regions.push(region),
                    }
                }
                data
            }
            AnnotationPatch::Remove => {
                let mut data = current.clone();
                data.concepts
                    .retain(|c| !posted.concepts.iter().any(|p| p.id == c.id));
                data.regions.retain(|r| {
                    !posted.regions.iter().any(|p| {
                        if p.id.is_empty() {
                            p == r
                        } else {
                            p.id == r.id
                        }
                    })
                });
                data
            }
        }
    }
}

/// One of the caller's current annotations, as the index has it.
struct Current {
    task: String,
    annotation: Annotation,
}

impl Repo {
    /// LABEL_WITHDRAW: `user` takes back their latest submission on `input` while no reviewer
    /// and no consensus decided it; the assignment is PENDING again.
    pub(super) fn label_withdraw(
        &mut self,
        user: &str,
        plans: &InputPlans,
        input: Option<&str>,
    ) -> Result<Vec<TaskAssignment>> {
        let task = plans.task();
        let Some(input) = input else {
            return Err(invalid(
                "input_id",
                "name the input whose submission to withdraw: {\"action\": \"LABEL_WITHDRAW\", \"input_id\": \"...\"}",
            ));
        };
        check_ids(&[("input_id", input)])?;
        let Some(Held { state, submissions }) = self.held(plans, input, user)? else {
            return Err(not_holder(user, input, task));
        };
        if submissions == 0 || state == State::Pending {
            return Err(invalid(
                "input_id",
                format!(
                    "`{user}` has no submission on input `{input}` of task `{}` to withdraw ({})",
                    task.id(),
                    state.description()
                ),
            ));
        }
        if let Some(who) = self.decided_by(task, input, user, submissions, state)? {
            return Err(Error::PermissionDenied(format!(
                "`{user}`'s submission {submissions} on input `{input}` of task `{}` was decided by {who}: it can no longer be withdrawn",
                task.id()
            )));
        }
        self.append(
            task.id(),
            user,
            &[Event::Withdraw {
                input_id: input.to_owned(),
                submission: submissions,
            }],
        )?;
        self.answer(plans, user, vec![input.to_owned()])
    }

    /// Who decided `worker`'s submission `k` on `input`, if anyone did: a reviewer (named,
    /// with the decision) or the consensus.
    fn decided_by(
        &self,
        task: &Task,
        input: &str,
        worker: &str,
        k: u32,
        state: State,
    ) -> Result<Option<String>> {
        let reviewers = task.reviewer_ids();
        for user in self.index.input_events(task.id(), input)? {
            if !reviewers.contains(&user.user) || user.user == worker {
                continue;
            }
            for (_, line) in &user.lines {
                if let Event::Review {
                    worker: whose,
                    submission,
                    decision,
                    ..
                } = &line.event
                    && whose == worker
                    && *submission == k
                {
                    return Ok(Some(format!("reviewer `{}` ({decision:?})", user.user)));
                }
            }
        }
        let consensus =
            task.doc().review.as_ref().and_then(|r| r.strategy) == Some(ReviewStrategy::CONSENSUS);
        let decided = matches!(state, State::Success | State::Rejected | State::Closed);
        Ok((consensus && decided).then(|| "the labelers' consensus".to_owned()))
    }

    /// The id of `user`'s current annotation on the posted one's input that says the same
    /// (data and info), when the posted one names no id or the same id.
    pub(super) fn same_annotation(
        &self,
        task: &str,
        user: &str,
        posted: &Annotation,
        named: bool,
    ) -> Result<Option<String>> {
        let current = self.current_annotations(
            Some(task),
            user,
            &[],
            std::slice::from_ref(&posted.input_id),
        )?;
        Ok(current
            .into_iter()
            .map(|c| c.annotation)
            .find(|a| {
                (!named || a.id == posted.id)
                    && a.data == posted.data
                    && a.annotation_info == posted.annotation_info
            })
            .map(|a| a.id))
    }

    /// `user`'s current annotations, by task and ids or inputs (any of each; all when empty).
    fn current_annotations(
        &self,
        task: Option<&str>,
        user: &str,
        ids: &[String],
        inputs: &[String],
    ) -> Result<Vec<Current>> {
        let workers = [user.to_owned()];
        let filter = AnnotationFilter {
            task,
            ids,
            workers: &workers,
            inputs,
            limit: u64::MAX >> 1,
            ..AnnotationFilter::default()
        };
        self.index
            .annotations(&filter)?
            .into_iter()
            .map(|row| {
                let task = row.task.clone();
                let annotation = annotation_out(row)?.annotation;
                Ok(Current { task, annotation })
            })
            .collect()
    }

    /// The caller's assignment on an annotation's input must be open (PENDING) for it to change.
    fn require_open(
        &self,
        plans: &mut BTreeMap<String, (Task, crate::plans::InputPlans)>,
        task: &str,
        user: &str,
        input: &str,
        field: &str,
    ) -> Result<Option<Diagnostic>> {
        if !plans.contains_key(task) {
            let t = self.get(task)?;
            let p = self.input_plans(&t)?;
            plans.insert(task.to_owned(), (t, p));
        }
        let (task, input_plans) = &plans[task];
        match self.held(input_plans, input, user)? {
            None => Err(not_holder(user, input, task)),
            Some(held) if held.state != State::Pending => Ok(Some(Diagnostic::error(
                field,
                format!(
                    "`{user}` has submitted input `{input}` of task `{}` ({}): its annotations change again only if a reviewer requests changes or `{user}` withdraws the submission (LABEL_WITHDRAW)",
                    task.id(),
                    held.state.description()
                ),
            ))),
            Some(_) => Ok(None),
        }
    }

    /// PatchAnnotations as `user`: all or nothing; each names one of the caller's current
    /// annotations by id, whose assignment must be open. A patch that changes nothing writes
    /// nothing; one that leaves no concept and no region deletes the annotation.
    pub fn patch_annotations(
        &mut self,
        user: &str,
        patch: AnnotationPatch,
        annotations: Vec<NewAnnotation>,
    ) -> Result<Vec<AnnotationOut>> {
        check_ids(&[("user", user)])?;
        let _lock = self.write_lock()?;
        let touched: Vec<String> = annotations
            .iter()
            .filter(|item| crate::validate::check_id(&item.task_id).is_ok())
            .map(|item| layout::work_path(&item.task_id, user))
            .collect();
        self.catch_up(&touched)?;
        let mut problems = Vec::new();
        let mut plans = BTreeMap::new();
        let mut by_task: BTreeMap<String, Vec<Event>> = BTreeMap::new();
        let mut answered = Vec::new();
        super::refuse_repeats(
            annotations.iter().map(|a| Some(a.annotation.id.as_str())),
            "annotations",
            ".id",
        )?;
        for (i, item) in annotations.into_iter().enumerate() {
            let field = format!("annotations[{i}]");
            let posted = item.annotation;
            if let Err(e) = crate::validate::check_id(&posted.id) {
                problems.push(
                    Diagnostic::error(format!("{field}.id"), e)
                        .hint("PatchAnnotations names each annotation to change by its id"),
                );
                continue;
            }
            let task = Some(item.task_id.as_str()).filter(|t| !t.is_empty());
            let found =
                self.current_annotations(task, user, std::slice::from_ref(&posted.id), &[])?;
            let found: Vec<Current> = found
                .into_iter()
                .filter(|c| posted.input_id.is_empty() || c.annotation.input_id == posted.input_id)
                .collect();
            let current = match <[Current; 1]>::try_from(found) {
                Ok([current]) => current,
                Err(found) if found.is_empty() => {
                    problems.push(Diagnostic::error(
                        format!("{field}.id"),
                        format!("`{user}` has no annotation `{}`", posted.id),
                    ).hint("PatchAnnotations changes the caller's own annotations; ListAnnotations with user_ids lists them"));
                    continue;
                }
                Err(_) => {
                    problems.push(
                        Diagnostic::error(
                            format!("{field}.task_id"),
                            format!("`{user}` has annotations `{}` on several tasks", posted.id),
                        )
                        .hint("name the task with `task_id`"),
                    );
                    continue;
                }
            };
            let input = current.annotation.input_id.clone();
            if let Some(closed) =
                self.require_open(&mut plans, &current.task, user, &input, &field)?
            {
                problems.push(closed);
                continue;
            }
            let mut changed = current.annotation.clone();
            changed.data = patch.apply(&current.annotation.data, posted.data);
            if patch == AnnotationPatch::Overwrite && posted.annotation_info.is_some() {
                changed.annotation_info = posted.annotation_info;
            }
            if changed == current.annotation {
                answered.push((current.task, input, changed.id));
                continue;
            }
            if changed.data.is_empty() {
                by_task
                    .entry(current.task)
                    .or_default()
                    .push(Event::Delete {
                        input_id: input,
                        id: changed.id,
                    });
                continue;
            }
            let (task, _) = &plans[&current.task];
            let found = annotation::check(&changed, task, &field);
            if !found.is_empty() {
                problems.extend(found);
                continue;
            }
            answered.push((current.task.clone(), input, changed.id.clone()));
            by_task
                .entry(current.task)
                .or_default()
                .push(Event::Annotation(changed));
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(vec![report(problems)]));
        }
        for (task, events) in &by_task {
            self.append(task, user, events)?;
        }
        let workers = [user.to_owned()];
        let mut out = Vec::with_capacity(answered.len());
        for (task, input, id) in answered {
            let filter = AnnotationFilter {
                task: Some(&task),
                ids: std::slice::from_ref(&id),
                workers: &workers,
                inputs: std::slice::from_ref(&input),
                limit: 1,
                ..AnnotationFilter::default()
            };
            for row in self.index.annotations(&filter)? {
                out.push(annotation_out(row)?);
            }
        }
        Ok(out)
    }

    /// DeleteAnnotations as `user`: all or nothing, each annotation the caller's own on an
    /// open assignment. `ids` alone names annotations; with `input_ids` of the same length,
    /// each id on its input; `input_ids` alone, every one of the caller's on those inputs.
    pub fn delete_annotations(&mut self, user: &str, request: AnnotationsToDelete) -> Result<()> {
        check_ids(&[("user", user)])?;
        let mut problems = Vec::new();
        for (name, ids) in [("ids", &request.ids), ("input_ids", &request.input_ids)] {
            for (i, id) in ids.iter().enumerate() {
                if let Err(e) = crate::validate::check_id(id) {
                    problems.push(Diagnostic::error(format!("{name}[{i}]"), e));
                }
            }
        }
        if request.ids.is_empty() && request.input_ids.is_empty() {
            problems.push(Diagnostic::error(
                "ids",
                "name the annotations to delete (`ids`) or their inputs (`input_ids`)",
            ));
        }
        let paired = !request.ids.is_empty() && !request.input_ids.is_empty();
        if paired && request.ids.len() != request.input_ids.len() {
            problems.push(Diagnostic::error(
                "input_ids",
                format!(
                    "{} ids and {} input ids: with both, each id is paired with the input at its place",
                    request.ids.len(),
                    request.input_ids.len()
                ),
            ));
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(vec![report(problems)]));
        }
        let _lock = self.write_lock()?;
        // The tasks are found from the index: under a watcher, the caller's files are as current
        // as it keeps them.
        self.catch_up(&[])?;
        let mut targets: Vec<(String, Current)> = Vec::new();
        if request.ids.is_empty() {
            for (i, input) in request.input_ids.iter().enumerate() {
                for current in
                    self.current_annotations(None, user, &[], std::slice::from_ref(input))?
                {
                    targets.push((format!("input_ids[{i}]"), current));
                }
            }
        } else {
            for (i, id) in request.ids.iter().enumerate() {
                let inputs = match request.input_ids.get(i) {
                    Some(input) => std::slice::from_ref(input),
                    None => &[],
                };
                let found =
                    self.current_annotations(None, user, std::slice::from_ref(id), inputs)?;
                if found.is_empty() {
                    problems.push(Diagnostic::error(
                        format!("ids[{i}]"),
                        format!("`{user}` has no annotation `{id}`"),
                    ).hint("DeleteAnnotations deletes the caller's own annotations; ListAnnotations with user_ids lists them"));
                }
                targets.extend(found.into_iter().map(|c| (format!("ids[{i}]"), c)));
            }
        }
        let mut plans = BTreeMap::new();
        let mut by_task: BTreeMap<String, Vec<Event>> = BTreeMap::new();
        for (field, current) in targets {
            let input = current.annotation.input_id;
            if let Some(closed) =
                self.require_open(&mut plans, &current.task, user, &input, &field)?
            {
                problems.push(closed);
                continue;
            }
            by_task
                .entry(current.task)
                .or_default()
                .push(Event::Delete {
                    input_id: input,
                    id: current.annotation.id,
                });
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(vec![report(problems)]));
        }
        for (task, events) in &by_task {
            self.append(task, user, events)?;
        }
        Ok(())
    }
}
