//! Remaking the stored plans of the tasks a sync changed, or whose inputs changed. Must not
//! compute a plan itself; [`crate::plans::compute`] does.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use super::Summary;
use crate::plans::{self, Source, TaskPlan};
use crate::store::{self, Writer};

/// Remakes the plans of the tasks this sync wrote (`written`, with their sources; every task,
/// in an index that was empty as the sync began), and of the tasks whose source may select
/// inputs of a dataset whose set of ids changed. A plan is a pure function of the task and the
/// set of its inputs, so remaking one that did not change changes nothing. A task whose source
/// selects no input gets the empty plan, which is not stored, so it is not even read. Returns
/// the tasks whose plans it remade; in an index that was empty, those with a plan stored.
pub(super) fn replan(
    writer: &Writer<'_>,
    summary: &Summary,
    written: BTreeMap<String, Source>,
) -> store::Result<BTreeSet<String>> {
    // An index that was empty as the sync began has no plan to replace, and every task in it
    // was written by this sync.
    let fresh = writer.is_fresh();
    if !fresh {
        for id in &summary.removed {
            writer.delete_plan(id)?;
        }
    }
    let mut inputs: HashMap<Source, Vec<String>> = HashMap::new();
    let mut sources = BTreeMap::new();
    if fresh {
        // By source, so that the tasks of a source that selects no input (every task of a
        // project without inputs) are not even read: reading every task's row for its source
        // was a twentieth of a 100,000-file load.
        for source in writer.sources()? {
            let ids = writer.source_inputs(&source)?;
            if !ids.is_empty() {
                sources.extend(writer.tasks_of(&source)?);
                inputs.insert(source, ids);
            }
        }
    } else {
        sources = written;
        if !summary.datasets_changed.is_empty() {
            for (id, source) in writer.tasks_over(&summary.datasets_changed)? {
                sources.entry(id).or_insert(source);
            }
        }
    }
    let mut tasks = Vec::new();
    for (id, source) in &sources {
        if !fresh {
            writer.delete_plan(id)?;
        }
        if !inputs.contains_key(source) {
            inputs.insert(source.clone(), writer.source_inputs(source)?);
        }
        if inputs[source].is_empty() {
            continue;
        }
        // Gone since it was written: a later file of this sync released its id.
        let Some(task) = writer.task(id)? else {
            continue;
        };
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
        writer.insert_plan(tasks[i].0.id(), &plan)?;
    }
    Ok(sources.into_keys().collect())
}
