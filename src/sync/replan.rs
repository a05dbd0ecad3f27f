//! Remaking the stored plans of the tasks a sync changed, or whose inputs changed. Must not
//! compute a plan itself; [`crate::plans::compute`] does.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use super::Summary;
use crate::plans::{self, Source, TaskPlan};
use crate::store::{self, Writer};

/// Remakes the plans of the tasks this sync added or changed, and of the tasks whose source
/// may select inputs of a dataset whose set of ids changed. A plan is a pure function of the
/// task and the set of its inputs, so remaking one that did not change changes nothing.
/// Returns the tasks whose plans it remade.
pub(super) fn replan(writer: &Writer<'_>, summary: &Summary) -> store::Result<BTreeSet<String>> {
    for id in &summary.removed {
        writer.delete_plan(id)?;
    }
    let mut ids: BTreeSet<String> = summary
        .added
        .iter()
        .chain(&summary.updated)
        .cloned()
        .collect();
    if !summary.datasets_changed.is_empty() {
        ids.extend(writer.tasks_over(&summary.datasets_changed)?);
    }
    let mut tasks = Vec::new();
    let mut inputs: HashMap<Source, Vec<String>> = HashMap::new();
    for id in ids {
        let Some(task) = writer.task(&id)? else {
            writer.delete_plan(&id)?;
            continue;
        };
        let source = Source::of(&task);
        if !inputs.contains_key(&source) {
            inputs.insert(source.clone(), writer.source_inputs(&source)?);
        }
        tasks.push((task, source));
    }
    let refs: HashMap<&Source, Vec<&str>> = inputs
        .iter()
        .map(|(source, ids)| (source, ids.iter().map(String::as_str).collect()))
        .collect();
    // Plans are pure and take O(N * workers) each: one thread a task, on every core.
    let threads = crate::cores::cores();
    let next = AtomicUsize::new(0);
    let mut planned: Vec<(usize, TaskPlan)> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(tasks.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((task, source)) = tasks.get(i) else {
                            return done;
                        };
                        done.push((i, plans::compute(task, &refs[source])));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a plan never panics"))
            .collect()
    });
    planned.sort_by_key(|(i, _)| *i);
    for (i, plan) in planned {
        let (task, source) = &tasks[i];
        writer.put_plan(task.id(), source, &plan)?;
    }
    Ok(tasks
        .into_iter()
        .map(|(task, _)| task.id().to_owned())
        .collect())
}
