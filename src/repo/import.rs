//! Imported annotations as a person's unsubmitted work: each checked as PostAnnotations checks
//! what it posts (against the task, and the person's assignment on its input, which must be
//! open), all or nothing, appended to their own work file in one write. Idempotent: an
//! annotation identical to the person's current one with its id is not appended again. Must
//! not parse import files: [`crate::import`] does.

use std::collections::{HashMap, HashSet};

use super::Repo;
use crate::error::{Error, Result};
use crate::layout;
use crate::plans::InputPlans;
use crate::store::AnnotationFilter;
use crate::validate::{Diagnostic, Report, check_id};
use crate::work::{self, Annotation, Event, State};

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    pub appended: u64,
    /// Identical to the person's current annotation with that id: left as it is.
    pub unchanged: u64,
}

impl Repo {
    /// Appends `annotations` to `user`'s work on task `task_id`. Each comes with where it was
    /// read (`annotations[3]`, `labels/a.txt:2`), which its diagnostics name; `file` names the
    /// import in the report.
    pub fn import_annotations(
        &mut self,
        user: &str,
        task_id: &str,
        file: &str,
        annotations: Vec<(String, Annotation)>,
    ) -> Result<Imported> {
        check_id(user).map_err(|e| invalid(file, "user", e))?;
        let _lock = self.write_lock()?;
        let own = check_id(task_id).map(|()| vec![layout::work_path(task_id, user)]);
        self.catch_up(&own.unwrap_or_default())?;
        let task = self.get(task_id)?;
        let users = [user.to_owned()];
        let filter = AnnotationFilter {
            task: Some(task_id),
            workers: &users,
            limit: u64::MAX,
            ..AnnotationFilter::default()
        };
        let mut current: HashMap<String, Annotation> = HashMap::new();
        if task.assistant() == Some(user) {
            // The index answers only the predictions shown (at or above min_threshold); the
            // file holds them all.
            current = self.predictions(task_id, user)?;
        } else {
            for row in self.index.annotations(&filter)? {
                if let Ok(annotation) = serde_json::from_str::<Annotation>(&row.json) {
                    current.insert(annotation.id.clone(), annotation);
                }
            }
        }
        let held: HashMap<String, State> = self
            .index
            .worker_states(task_id, user)?
            .into_iter()
            .collect();
        let plan = self.index.task_plan(task_id)?;
        let plans = InputPlans::new(
            task.clone(),
            plan.as_ref(),
            self.index.plan_moves(task_id, false)?,
        );
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        let mut events = Vec::new();
        let mut imported = Imported::default();
        for (at, annotation) in annotations {
            let found = work::annotation::check(&annotation, &task, &at);
            if !found.is_empty() {
                problems.extend(found);
                continue;
            }
            if !seen.insert(annotation.id.clone()) {
                problems.push(Diagnostic::error(
                    format!("{at}.id"),
                    format!(
                        "annotation id `{}` comes twice in this import",
                        annotation.id
                    ),
                ));
                continue;
            }
            let input = annotation.input_id.as_str();
            // The task's assistant holds no assignment: its annotations are predictions,
            // taken on any input of the task (the replay keeps them off inputs outside it).
            let state = match held.get(input) {
                _ if task.assistant() == Some(user) => Some(State::Pending),
                Some(state) => Some(*state),
                None => {
                    let selected = self.index.in_source(plans.source(), input)?;
                    let planned = plans.planned(input, selected);
                    planned.iter().any(|w| w == user).then_some(State::Pending)
                }
            };
            match state {
                None => problems.push(
                    Diagnostic::error(
                        at,
                        format!(
                            "`{user}` does not label input `{input}` of task `{task_id}`, so cannot hold work on it"
                        ),
                    )
                    .hint("import as one of the task's workers"),
                ),
                Some(_) if current.get(&annotation.id) == Some(&annotation) => {
                    imported.unchanged += 1
                }
                Some(State::Pending) => events.push(Event::Annotation(annotation)),
                Some(state) => problems.push(Diagnostic::error(
                    at,
                    format!(
                        "`{user}` has submitted input `{input}` of task `{task_id}` ({}): it takes new annotations again only if a reviewer requests changes",
                        state.description()
                    ),
                )),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(vec![Report {
                file: file.to_owned(),
                diagnostics: problems,
            }]));
        }
        imported.appended = events.len() as u64;
        self.append(task_id, user, &events)?;
        Ok(imported)
    }
}

impl Repo {
    /// The assistant's current predictions by id, from its own work file.
    fn predictions(&self, task_id: &str, user: &str) -> Result<HashMap<String, Annotation>> {
        let path = layout::work_path(task_id, user);
        let bytes = match crate::files::read(self.root(), &path, None) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
            Err(e) => return Err(Error::io("read", &path)(e)),
        };
        let mut current = HashMap::new();
        for (_, line) in work::parse_log(&bytes, 1).lines {
            match line.event {
                Event::Annotation(a) => {
                    current.insert(a.id.clone(), a);
                }
                Event::Delete { id, .. } => {
                    current.remove(&id);
                }
                _ => {}
            }
        }
        Ok(current)
    }
}

fn invalid(file: &str, field: &str, message: impl Into<String>) -> Error {
    Error::Invalid(vec![Report {
        file: file.to_owned(),
        diagnostics: vec![Diagnostic::error(field, message)],
    }])
}
