//! Imported annotations as a person's unsubmitted work: each checked as PostAnnotations checks
//! what it posts (against the task, and the person's assignment on its input, which must be
//! open), all before any is written; then appended to their own work file a batch at a time
//! ([`crate::files::Appender`]: a write that fails part way takes the file back to what it
//! was) and on disk before the import returns. Idempotent: an annotation identical to the
//! person's current one with its id is not appended again. Must not parse import files:
//! [`crate::import`] does.

use std::collections::{HashMap, HashSet};

use super::Repo;
use crate::cores::{cores, in_parallel};
use crate::error::{Error, Result};
use crate::layout;
use crate::model::Task;
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
        // The person's current annotations by id, as the JSON the index keeps: an imported one
        // is compared by its own JSON, not parsed back (a typed parse of 100,000 annotations
        // was a third of importing the same file again).
        let current: HashMap<String, String> = if task.assistant() == Some(user) {
            // The index answers only the predictions shown (at or above min_threshold); the
            // file holds them all.
            self.predictions(task_id, user)?
        } else {
            self.index
                .annotations(&filter)?
                .into_iter()
                .map(|row| (row.id, row.json))
                .collect()
        };
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
        // Asking the index whether the source selects each of many inputs took longer than
        // reading the source's inputs once.
        let mut selected: Option<HashSet<String>> = None;
        if annotations.len() > SELECTED_BY_QUERY {
            let mut ids = HashSet::new();
            self.index.each_input(plans.source(), |id| {
                ids.insert(id.to_owned());
                true
            })?;
            selected = Some(ids);
        }
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        let mut imported = Imported::default();
        // Every annotation is checked before any is written, so that an import with a
        // problem appends nothing; the lines are then written a batch at a time.
        let mut to_append = Vec::new();
        for (n, batch) in annotations.chunks(CHECK_BATCH).enumerate() {
            for (i, ((at, annotation), verdict)) in
                batch.iter().zip(judged(batch, &task, &current)).enumerate()
            {
                let unchanged = match verdict {
                    Ok(unchanged) => unchanged,
                    Err(found) => {
                        problems.extend(found);
                        continue;
                    }
                };
                if !seen.insert(annotation.id.as_str()) {
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
                        let selected = match &selected {
                            Some(ids) => ids.contains(input),
                            None => self.index.in_source(plans.source(), input)?,
                        };
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
                Some(_) if unchanged => imported.unchanged += 1,
                Some(State::Pending) => to_append.push(n * CHECK_BATCH + i),
                Some(state) => problems.push(Diagnostic::error(
                    at,
                    format!(
                        "`{user}` has submitted input `{input}` of task `{task_id}` ({}): it takes new annotations again only if a reviewer requests changes",
                        state.description()
                    ),
                )),
            }
            }
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(vec![Report {
                file: file.to_owned(),
                diagnostics: problems,
            }]));
        }
        // What the checks held goes before the lines are written and read back.
        drop((current, held, selected, seen, plans));
        if to_append.is_empty() {
            return Ok(imported);
        }
        imported.appended = to_append.len() as u64;
        let at_now = super::now();
        // The annotations go once written, before the sync.
        self.append_with(task_id, user, move |out| {
            write_lines(&annotations, &to_append, at_now, out)
        })?;
        Ok(imported)
    }
}

impl Repo {
    /// The assistant's current predictions by id, as the index keeps an annotation's JSON,
    /// from its own work file.
    fn predictions(&self, task_id: &str, user: &str) -> Result<HashMap<String, String>> {
        let path = layout::work_path(task_id, user);
        let bytes = match crate::files::read(self.root(), &path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
            Err(e) => return Err(Error::io("read", &path)(e)),
        };
        let mut current = HashMap::new();
        for (_, line) in work::parse_log(&bytes, 1).lines {
            match line.event {
                Event::Annotation(a) => {
                    let json = serde_json::to_string(&a).expect("annotations serialise");
                    current.insert(a.id, json);
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

/// Each annotation's problems against the task, or whether it is the person's current
/// annotation with its id as it is (`current`).
fn judged(
    annotations: &[(String, Annotation)],
    task: &Task,
    current: &HashMap<String, String>,
) -> Vec<Result<bool, Vec<Diagnostic>>> {
    let one = |(at, annotation): &(String, Annotation)| {
        let found = work::annotation::check(annotation, task, at);
        if !found.is_empty() {
            return Err(found);
        }
        Ok(current.get(&annotation.id).is_some_and(|known| {
            let json = serde_json::to_string(annotation).expect("annotations serialise");
            same(known, &json, annotation)
        }))
    };
    // On every core: checking and writing 100,000 annotations on one core took a tenth of
    // importing them.
    in_parallel(annotations.len(), cores(), |range| {
        annotations[range].iter().map(one).collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

/// Writes the lines of `annotations[i]` for each `i` of `chosen`, all at `at`: a batch is
/// written while the next is serialised on every core.
fn write_lines(
    annotations: &[(String, Annotation)],
    chosen: &[usize],
    at: jiff::Timestamp,
    out: &mut crate::files::Appender,
) -> std::io::Result<()> {
    let serialised = |batch: &[usize]| {
        let parts = in_parallel(batch.len(), cores(), |range| {
            let mut text = String::new();
            for &i in &batch[range] {
                let json = serde_json::to_string(&annotations[i].1).expect("annotations serialise");
                work::annotation_line(at, &json, &mut text);
            }
            text
        });
        parts.concat()
    };
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<String>(1);
        scope.spawn(move || {
            for batch in chosen.chunks(CHECK_BATCH) {
                if tx.send(serialised(batch)).is_err() {
                    break;
                }
            }
        });
        rx.into_iter()
            .try_for_each(|text| out.write(text.as_bytes()))
    })
}

/// How many annotations are checked, and written, at a time.
const CHECK_BATCH: usize = 8192;

/// How many annotations an import checks against the task's source one query each; more, and
/// the source's inputs are read once.
const SELECTED_BY_QUERY: usize = 1000;

/// Whether an annotation (and `json`, its JSON) is the one the index keeps as `known`: the
/// same text, or (rarely, as for `-0.0` beside `0.0`) text that reads as the same annotation.
fn same(known: &str, json: &str, annotation: &Annotation) -> bool {
    known == json || serde_json::from_str::<Annotation>(known).is_ok_and(|k| k == *annotation)
}

fn invalid(file: &str, field: &str, message: impl Into<String>) -> Error {
    Error::Invalid(vec![Report {
        file: file.to_owned(),
        diagnostics: vec![Diagnostic::error(field, message)],
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_annotation_is_the_same_by_its_text_or_by_what_it_reads_as() {
        let read = |json: &str| serde_json::from_str::<Annotation>(json).unwrap();
        let box_at = |top: &str| {
            format!(
                r#"{{"id":"a","input_id":"in","data":{{"regions":[{{"region_info":{{"bounding_box":{{"top_row":{top},"left_col":0.25,"bottom_row":0.5,"right_col":1.0}}}},"data":{{"concepts":[{{"id":"car","value":1.0}}]}}}}]}}}}"#
            )
        };
        let zero = box_at("0.0");
        assert_eq!(serde_json::to_string(&read(&zero)).unwrap(), zero);
        for (known, new, same_one) in [
            (box_at("0.0"), box_at("0.0"), true),
            // Another text of the same annotation.
            (box_at("-0.0"), box_at("0.0"), true),
            (box_at("0.1"), box_at("0.0"), false),
            ("not json".to_owned(), box_at("0.0"), false),
        ] {
            assert_eq!(same(&known, &new, &read(&new)), same_one, "{known} / {new}");
        }
    }
}
