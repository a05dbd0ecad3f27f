//! The workflow's annotation operations: PostAnnotations (checked against the task and the
//! caller's assignment, appended to the caller's own work file) and ListAnnotations, answered
//! from the index. Must not print or decide states.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;

use super::assignments::not_holder;
use super::{Repo, check_ids, refuse_repeats, report};
use crate::api::{self, AnnotationOut, UserWorker};
use crate::error::{Error, Result};
use crate::layout;
use crate::model::Task;
use crate::plans::InputPlans;
use crate::store::{AnnotationFilter, AnnotationRow};
use crate::validate::{self, Diagnostic};
use crate::work::{self, Annotation, Event, State};

/// An annotation to post: the document (its `id` generated when empty) and the task it is
/// work on. Diagnostics name it `annotations[i]` by its place in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAnnotation {
    pub task_id: String,
    pub annotation: Annotation,
}

/// Which current annotations to list (any of each list; all lists at once), and the page.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnotationSelection {
    pub task: Option<String>,
    pub ids: Vec<String>,
    pub workers: Vec<String>,
    pub inputs: Vec<String>,
    /// Any state when empty.
    pub states: Vec<State>,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

impl Repo {
    /// PostAnnotations as `user`: all or nothing, each checked against its task and the
    /// user's assignment on its input, which must be open (PENDING).
    pub fn post_annotations(
        &mut self,
        user: &str,
        annotations: Vec<NewAnnotation>,
    ) -> Result<Vec<AnnotationOut>> {
        check_ids(&[("user", user)])?;
        let _lock = self.write_lock()?;
        // The work files this request appends to; a task id that is no id is refused below.
        let touched: BTreeSet<String> = annotations
            .iter()
            .filter(|item| validate::check_id(&item.task_id).is_ok())
            .map(|item| layout::work_path(&item.task_id, user))
            .collect();
        self.catch_up(&touched.into_iter().collect::<Vec<_>>())?;
        let mut problems = Vec::new();
        let mut by_task: BTreeMap<String, Vec<Event>> = BTreeMap::new();
        let mut posted = Vec::new();
        let mut tasks: HashMap<String, (Task, InputPlans)> = HashMap::new();
        let mut ids = Vec::new();
        for (i, item) in annotations.into_iter().enumerate() {
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
    pub fn list_annotations(&self, selection: &AnnotationSelection) -> Result<Vec<AnnotationOut>> {
        let filter = AnnotationFilter {
            task: selection.task.as_deref(),
            ids: &selection.ids,
            workers: &selection.workers,
            inputs: &selection.inputs,
            states: &selection.states,
            offset: u64::from(selection.page.saturating_sub(1)) * u64::from(selection.per_page),
            limit: u64::from(selection.per_page),
        };
        self.index
            .annotations(&filter)?
            .into_iter()
            .map(annotation_out)
            .collect()
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
