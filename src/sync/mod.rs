//! Brings the index up to date with the task, dataset and work files. Owns the rules of identity
//! (which file defines which task or dataset, what happens when two files claim one id or a
//! file turns invalid); must not print. A sync is a pure [`changes`] and [`dataset_changes`] (files
//! on disk against files in the index), then [`apply`]: read the planned files on every core
//! and write the outcome, tasks and inputs, in one transaction.
//!
//! By what it syncs: `tasks` (task files and the identity rules), `datasets` (dataset files and
//! their inputs), `replan` (the stored plans of the tasks that changed), `work_files` (work
//! files and the replay of the inputs they touch).

mod datasets;
mod replan;
mod tasks;
mod work_files;

use datasets::write_datasets;
pub use datasets::{DatasetChanges, DatasetOutcome, dataset_changes, load_dataset, load_datasets};
use replan::replan;
use tasks::{Apply, Claimed, NEW_FILES_AT_ONCE, Seen};
pub use tasks::{Differ, Outcome, changes, changes_at, conflict_diagnostic, load, load_all};
pub use work_files::{WorkChanges, WorkRead, check_work, work_changes};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use crate::files::DiskFile;
use crate::layout;
use crate::store::{self, FileState, Store, Writer};

/// What a sync must change: the files on disk whose rows differ from the index's.
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    /// Task files to read: new, changed, or in an id conflict that may have ended.
    pub read: Vec<DiskFile>,
    /// Task files the index knows that are gone.
    pub remove: Vec<String>,
    pub datasets: DatasetChanges,
    pub work: WorkChanges,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.read.is_empty()
            && self.remove.is_empty()
            && self.datasets.is_empty()
            && self.work.is_empty()
    }
}

/// What a sync changed, for the summary.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Task ids, in the order they were written.
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub removed: Vec<String>,
    /// Files read in this sync that are invalid.
    pub invalid: Vec<String>,
    /// Files read in this sync that had an error before and have none now.
    pub fixed: Vec<String>,
    /// Files read whose task did not change.
    pub unchanged: usize,
    /// Datasets whose set of input ids changed (added, removed, or inputs added or removed),
    /// in the order they were written.
    pub datasets_changed: Vec<String>,
    pub inputs_added: u64,
    pub inputs_removed: u64,
    /// Work file lines read and indexed.
    pub events_added: u64,
}

impl Summary {
    pub fn is_empty(&self) -> bool {
        self == &Summary::default()
    }
}

/// Below this many task files a bulk load is not worth dropping the indexes for.
const BULK_LOAD_MIN_FILES: usize = 1000;
/// Nor below this many bytes of dataset and work files (about 200,000 inputs, or 100,000
/// work events).
const BULK_LOAD_MIN_BYTES: u64 = 16 << 20;

/// Whether a plan into an empty index is worth a bulk load.
fn is_bulk(plan: &Changes) -> bool {
    plan.read.len() >= BULK_LOAD_MIN_FILES
        || plan.datasets.bytes() + plan.work.bytes() >= BULK_LOAD_MIN_BYTES
}

/// Applies a plan in one transaction. `known` is the index's file states the plan was made from.
/// `progress` is told, after each file read, how many of how many are done.
pub fn apply(
    index: &mut Store,
    root: &Path,
    mut plan: Changes,
    known: &HashMap<String, FileState>,
    progress: &dyn Fn(usize, usize),
) -> store::Result<Summary> {
    if plan.is_empty() {
        return Ok(Summary::default());
    }
    if known.is_empty()
        && is_bulk(&plan)
        && let Some(summary) =
            index.load_fresh(|writer| write(writer, root, &mut plan, known, progress))?
    {
        return Ok(summary);
    }
    write(index.writer()?, root, &mut plan, known, progress)
}

/// Applies a plan through `writer`, and commits.
fn write(
    mut writer: Writer<'_>,
    root: &Path,
    plan: &mut Changes,
    known: &HashMap<String, FileState>,
    progress: &dyn Fn(usize, usize),
) -> store::Result<Summary> {
    let mut summary = Summary::default();
    let fresh = writer.is_fresh();
    if fresh {
        // Files are usually named by their id: loading them in that order appends to the
        // index's id-keyed B-trees instead of inserting all over them (a third less work for
        // the inserting thread at 100,000 tasks).
        plan.read.sort_unstable_by(|a, b| {
            (layout::stem(&a.path), &a.path).cmp(&(layout::stem(&b.path), &b.path))
        });
    }
    let bulk = fresh && is_bulk(plan);
    if bulk {
        writer.begin_bulk_load(plan.read.len())?;
    }
    let mut apply = Apply {
        root,
        writer,
        known,
        seen: if fresh {
            Seen::Fresh(Claimed::default())
        } else {
            Seen::Written(HashMap::new())
        },
        summary: &mut summary,
        written: BTreeMap::new(),
        new_files: Vec::with_capacity(NEW_FILES_AT_ONCE),
    };
    for path in &plan.remove {
        apply.writer.remove_file(path)?;
        if let Some(claim) = known.get(path).and_then(|s| s.claim.as_deref()) {
            apply.release(claim)?;
        }
    }
    // Files being read again give up their claims until their new content says what they
    // claim, so that a file does not seem to conflict with its own old version.
    for file in &plan.read {
        if known.get(&file.path).is_some_and(|s| s.claim.is_some()) {
            apply.writer.release_claim(&file.path)?;
        }
    }
    let read = std::mem::take(&mut plan.read);
    let total = read.len();
    let mut done = 0;
    load_all(root, read, |outcome| {
        done += 1;
        progress(done, total);
        apply.outcome(outcome)
    })?;
    apply.write_new_files()?;
    let datasets = std::mem::take(&mut plan.datasets);
    write_datasets(&mut apply.writer, root, datasets, apply.summary)?;
    if bulk {
        // The hashes of the ids claimed (2 MiB at 100,000) are not needed now, and the end
        // of the load is where its memory peaks.
        apply.seen = Seen::Fresh(Claimed::default());
        apply.writer.end_bulk_load()?;
    }
    // After the indexes are built: ALL_INPUTS reads every input id in order off `inputs_id`.
    let replanned = replan(&apply.writer, apply.summary, apply.written)?;
    let redefined: BTreeSet<String> = apply
        .summary
        .added
        .iter()
        .chain(&apply.summary.updated)
        .chain(&apply.summary.removed)
        .cloned()
        .collect();
    let work = std::mem::take(&mut plan.work);
    work_files::write_work(
        &apply.writer,
        root,
        work,
        apply.summary,
        &redefined,
        &replanned,
    )?;
    apply.writer.commit()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    use crate::repo::{self, Repo};
    use crate::{files, inputs, validate};

    const TASK: &str = "id: other\ninput_source: {type: ALL_INPUTS}\n";

    fn project() -> (tempfile::TempDir, Repo) {
        let dir = tempfile::tempdir().unwrap();
        repo::init(dir.path()).unwrap();
        let repo = Repo::open(dir.path(), None).unwrap();
        (dir, repo)
    }

    fn write(dir: &tempfile::TempDir, path: &str, text: &str) {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn task(id: &str) -> String {
        format!("id: {id}\ninput_source: {{type: ALL_INPUTS}}\n")
    }

    fn paths(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|p| p.to_string()).collect()
    }

    /// A project with enough task files for a bulk load.
    fn many_tasks(dir: &tempfile::TempDir) -> usize {
        for i in 0..BULK_LOAD_MIN_FILES {
            write(dir, &format!("tasks/t{i}.yaml"), &task(&format!("t{i}")));
        }
        BULK_LOAD_MIN_FILES
    }

    #[test]
    fn a_bulk_load_is_seen_by_the_next_connection() {
        let (dir, mut repo) = project();
        let n = many_tasks(&dir);
        assert_eq!(repo.sync().unwrap().added.len(), n);
        assert_eq!(repo.index().task_count().unwrap(), n as u64);
        let next = Store::open(repo.db()).unwrap();
        assert_eq!(next.task_count().unwrap(), n as u64);
    }

    /// A first sync writes valid new files a batch at a time: a file claiming the id of one not
    /// written yet must still find it, in a bulk load as in a small sync.
    #[test]
    fn a_first_sync_finds_the_claims_of_files_it_has_yet_to_write() {
        // Without a warning, which would have the file written on its own.
        let valid = |id: &str| {
            format!(
                "id: {id}\ntype: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat]\ninput_source: {{type: ALL_INPUTS}}\n"
            )
        };
        for many in [false, true] {
            let (dir, mut repo) = project();
            if many {
                many_tasks(&dir);
            }
            write(&dir, "tasks/a.yaml", &valid("a"));
            write(&dir, "tasks/b.yaml", &valid("twice"));
            write(&dir, "tasks/c.yaml", &valid("twice"));
            let summary = repo.sync().unwrap();
            for path in ["tasks/b.yaml", "tasks/c.yaml"] {
                assert!(
                    repo.index()
                        .file_report(path)
                        .unwrap()
                        .unwrap()
                        .has_errors()
                );
            }
            assert!(summary.added.contains(&"a".to_owned()));
            assert!(!summary.added.contains(&"twice".to_owned()));
            // Batched, as it has no diagnostic.
            assert_eq!(repo.index().file_report("tasks/a.yaml").unwrap(), None);
            assert!(repo.index().get_json("a").unwrap().is_some());
            assert_eq!(repo.index().get_json("twice").unwrap(), None);
            assert_eq!(repo.index().claimants("twice").unwrap().len(), 2);
        }
    }

    /// A first sync lists files without a stat each and describes them as it reads them: what
    /// it records must be what the next sync's listing finds, or that sync reads everything.
    #[test]
    fn a_first_sync_records_files_as_the_next_sync_lists_them() {
        for many in [false, true] {
            let (dir, mut repo) = project();
            if many {
                many_tasks(&dir);
            }
            write(&dir, "tasks/team/odd name.yaml", &task("odd"));
            write(&dir, "tasks/broken.yaml", "id: [");
            let first = repo.sync().unwrap();
            assert!(first.added.contains(&"odd".to_owned()));
            assert_eq!(first.invalid, ["tasks/broken.yaml"]);
            let again = repo.sync().unwrap();
            assert!(again.is_empty(), "{again:?}");
        }
    }

    #[test]
    fn a_bulk_load_is_seen_by_a_connection_open_during_it() {
        let (dir, mut repo) = project();
        let n = many_tasks(&dir);
        let open = Store::open(repo.db()).unwrap();
        assert_eq!(repo.sync().unwrap().added.len(), n);
        assert_eq!(open.task_count().unwrap(), n as u64);
    }

    /// A task whose file name sorts apart from its id, with workers and reviewers that vary.
    fn linked_task(i: usize, workers: &[usize]) -> String {
        let workers: Vec<String> = workers.iter().map(|w| format!("u{w}")).collect();
        format!(
            "id: t{i}\ninput_source: {{type: ALL_INPUTS}}\n\
             worker: {{strategy: FULL, user_ids: [{}]}}\n\
             review: {{strategy: MANUAL, user_ids: [u{}], manual_strategy_info: {{sample_percentage: 0.5}}}}\n",
            workers.join(", "),
            i % 5
        )
    }

    #[test]
    fn a_bulk_load_links_users_and_tasks_as_syncs_task_by_task_do() {
        let dir = tempfile::tempdir().unwrap();
        repo::init(dir.path()).unwrap();
        let file = |i: usize| format!("tasks/f{:04}.yaml", BULK_LOAD_MIN_FILES - i);
        let files: Vec<(String, String)> = (0..BULK_LOAD_MIN_FILES)
            .map(|i| (file(i), linked_task(i, &[i % 7, 7 + i % 3])))
            .collect();
        let index = tempfile::tempdir().unwrap();
        let open = |name: &str| Repo::open(dir.path(), Some(&index.path().join(name))).unwrap();
        // One index is written task by task: a few files first, then the rest into an index
        // that is no longer empty.
        let mut by_task = open("by-task.db");
        for (path, text) in &files[..10] {
            write(&dir, path, text);
        }
        // Two files claim one id: neither defines the task, which each load wrote first. The
        // copy is read right after the first, so a load that gave the deleted task's key to
        // the next task would link that task to the first's people.
        write(&dir, &file(3).replace(".yaml", "-copy.yaml"), &files[3].1);
        by_task.sync().unwrap();
        for (path, text) in &files[10..] {
            write(&dir, path, text);
        }
        by_task.sync().unwrap();
        let mut bulk = open("bulk.db");
        assert!(bulk.sync().unwrap().added.len() >= BULK_LOAD_MIN_FILES - 1);
        let links = bulk.index().link_rows();
        assert!(
            !links.iter().any(|(_, _, id)| id == "t3"),
            "t3 is in conflict"
        );
        assert_eq!(links.len(), 3 * (BULK_LOAD_MIN_FILES - 1));
        same_links(&by_task.index().link_rows(), &links);
        // Then both change some tasks' people and lose others, through the links as keyed.
        for i in (0..BULK_LOAD_MIN_FILES).step_by(9) {
            write(&dir, &file(i), &linked_task(i, &[20 + i % 2]));
        }
        for i in (5..BULK_LOAD_MIN_FILES).step_by(50) {
            fs::remove_file(dir.path().join(file(i))).unwrap();
        }
        by_task.sync().unwrap();
        bulk.sync().unwrap();
        let links = bulk.index().link_rows();
        assert!(links.iter().any(|(_, user, _)| user == "u20"));
        assert!(!links.iter().any(|(_, _, id)| id == "t5"));
        same_links(&by_task.index().link_rows(), &links);
    }

    fn same_links(a: &[(String, String, String)], b: &[(String, String, String)]) {
        let first = a.iter().zip(b).position(|(a, b)| a != b);
        assert_eq!(
            first,
            None,
            "{:?} / {:?}",
            first.map(|i| &a[i]),
            first.map(|i| &b[i])
        );
        assert_eq!(a.len(), b.len());
    }

    #[test]
    fn a_truncated_file_keeps_its_task() {
        let (dir, mut repo) = project();
        let file = dir.path().join("tasks/x.yaml");
        fs::write(&file, TASK).unwrap();
        assert_eq!(repo.sync().unwrap().added, ["other"]);

        fs::write(&file, "").unwrap();
        let summary = repo.sync().unwrap();
        assert_eq!(summary.invalid, ["tasks/x.yaml"]);
        assert!(summary.removed.is_empty(), "{summary:?}");
        assert!(repo.get("other").is_ok());
        assert!(repo.get("x").is_err(), "an empty file claims no id");
        let reports = repo.index().reports(true).unwrap();
        assert_eq!(reports[0].diagnostics[0].message, "the file is empty");
    }

    #[test]
    fn syncing_a_folder_path_adds_and_removes_everything_under_it() {
        let (dir, mut repo) = project();
        write(&dir, "tasks/team/a.yaml", &task("a"));
        write(&dir, "tasks/team/deep/b.yaml", &task("b"));
        write(&dir, "tasks/teammate.yaml", &task("c"));
        let summary = repo.sync_paths(&paths(&["tasks/team"])).unwrap();
        assert_eq!(summary.added, ["a", "b"], "only what is under the folder");

        repo.sync().unwrap();
        fs::remove_dir_all(dir.path().join("tasks/team")).unwrap();
        let summary = repo.sync_paths(&paths(&["tasks/team"])).unwrap();
        assert_eq!(summary.removed, ["a", "b"]);
        assert!(
            repo.get("c").is_ok(),
            "a sibling whose name shares the prefix stays"
        );
    }

    #[test]
    fn ignored_paths_change_nothing() {
        let (dir, mut repo) = project();
        write(&dir, "tasks/.git/a.yaml", &task("a"));
        write(&dir, "tasks/b.yaml~", &task("b"));
        write(&dir, "notes/c.yaml", &task("c"));
        let summary = repo
            .sync_paths(&paths(&[
                "tasks/.git",
                "tasks/.git/a.yaml",
                "tasks/b.yaml~",
                "notes/c.yaml",
            ]))
            .unwrap();
        assert!(summary.is_empty(), "{summary:?}");
    }

    #[test]
    fn a_file_that_is_valid_again_is_reported_fixed() {
        let (dir, mut repo) = project();
        write(&dir, "tasks/a.yaml", "id: a\n");
        assert_eq!(repo.sync().unwrap().invalid, ["tasks/a.yaml"]);
        write(&dir, "tasks/a.yaml", &task("a"));
        let summary = repo.sync_paths(&paths(&["tasks/a.yaml"])).unwrap();
        assert_eq!(summary.fixed, ["tasks/a.yaml"]);
        assert_eq!(summary.added, ["a"]);
    }

    #[test]
    fn removing_one_of_two_claimants_ends_the_conflict() {
        let (dir, mut repo) = project();
        write(&dir, "tasks/a.yaml", &task("a"));
        write(&dir, "tasks/copy.yaml", &task("a"));
        let summary = repo.sync().unwrap();
        assert!(summary.added.is_empty());
        assert_eq!(repo.index().reports(true).unwrap().len(), 2);

        fs::remove_file(dir.path().join("tasks/copy.yaml")).unwrap();
        let summary = repo.sync_paths(&paths(&["tasks/copy.yaml"])).unwrap();
        assert_eq!(summary.added, ["a"]);
        assert_eq!(summary.fixed, ["tasks/a.yaml"]);
        assert!(repo.index().reports(true).unwrap().is_empty());
    }

    /// Every task and every file's diagnostics, as the index holds them.
    fn tasks_state(repo: &Repo) -> (Vec<Option<String>>, Vec<validate::Report>) {
        let index = repo.index();
        let tasks = ["a", "b", "c"]
            .map(|id| index.get_json(id).unwrap())
            .to_vec();
        (tasks, index.reports(false).unwrap())
    }

    /// Syncs of just the changed paths find the conflicted files through their own index
    /// (`files_conflict`): conflicts begun, grown and ended that way leave the files'
    /// diagnostics as a rebuild does, and the tasks too once no conflict is left.
    #[test]
    fn path_syncs_through_conflicts_answer_as_a_rebuilt_index() {
        let (dir, mut repo) = project();
        let steps: Vec<(&str, Option<String>)> = vec![
            ("tasks/a.yaml", Some(task("a"))),
            ("tasks/b.yaml", Some(task("b"))),
            ("tasks/copy.yaml", Some(task("a"))),
            ("tasks/third.yaml", Some(task("a"))),
            ("tasks/b.yaml", Some(task("c"))),
            ("tasks/copy.yaml", Some(task("b"))),
            ("tasks/third.yaml", None),
            ("tasks/copy.yaml", None),
            ("tasks/b.yaml", Some(task("b"))),
        ];
        for (path, text) in steps {
            match text {
                Some(text) => write(&dir, path, &text),
                None => fs::remove_file(dir.path().join(path)).unwrap(),
            }
            repo.sync_paths(&paths(&[path])).unwrap();
            let fresh_dir = tempfile::tempdir().unwrap();
            let mut fresh = Repo::open(dir.path(), Some(&fresh_dir.path().join("i.db"))).unwrap();
            fresh.sync().unwrap();
            let (tasks, reports) = tasks_state(&repo);
            let (fresh_tasks, fresh_reports) = tasks_state(&fresh);
            assert_eq!(reports, fresh_reports, "after {path}");
            // In a conflict the index keeps the task it had, which a rebuild never had.
            if reports.is_empty() {
                assert_eq!(tasks, fresh_tasks, "after {path}");
            }
        }
    }

    /// Every dataset's rows, each input as it is read back, and every file's diagnostics, as
    /// the index holds them.
    type InputsState = (
        Vec<(String, Vec<inputs::InputRow>)>,
        Vec<String>,
        Vec<validate::Report>,
    );

    fn inputs_state(repo: &Repo) -> InputsState {
        let index = repo.index();
        let datasets: Vec<(String, Vec<inputs::InputRow>)> = index
            .dataset_ids()
            .unwrap()
            .into_iter()
            .map(|id| {
                let rows = index.dataset_inputs(&id).unwrap().unwrap();
                (id, rows)
            })
            .collect();
        let ids: Vec<&str> = datasets
            .iter()
            .flat_map(|(_, rows)| rows.iter().map(|r| r.id.as_str()))
            .collect();
        let read = repo
            .inputs_json(&ids)
            .unwrap()
            .iter()
            .map(|json| json.get().to_owned())
            .collect();
        (datasets, read, index.reports(false).unwrap())
    }

    #[track_caller]
    fn same_as_rebuilt(dir: &tempfile::TempDir, repo: &Repo) {
        let fresh_dir = tempfile::tempdir().unwrap();
        let mut fresh = Repo::open(dir.path(), Some(&fresh_dir.path().join("i.db"))).unwrap();
        fresh.sync().unwrap();
        assert_eq!(inputs_state(repo), inputs_state(&fresh));
    }

    #[test]
    fn incremental_dataset_syncs_answer_as_a_rebuilt_index() {
        let (dir, mut repo) = project();
        let lines = |ids: &[&str]| -> String {
            ids.iter()
                .map(|id| format!("{{\"id\": \"{id}\", \"data\": {{}}}}\n"))
                .collect()
        };
        let steps: Vec<(&str, Option<String>)> = vec![
            ("inputs/a.jsonl", Some(lines(&["x1", "x2", "x3"]))),
            ("inputs/b.csv", Some("id,url\nx3,u\ny1,u\n".into())),
            // A changed line moves the offsets after it.
            ("inputs/a.jsonl", Some(lines(&["x1", "x2-longer", "x3"]))),
            ("inputs/a.jsonl", Some(lines(&["x3", "x1"]))),
            // A bad line is left out, the others kept.
            (
                "inputs/a.jsonl",
                Some(lines(&["x3", "x1"]) + "{\"id\": 1}\n"),
            ),
            ("inputs/b.csv", None),
            ("inputs/c d.jsonl", Some(lines(&["z"]))),
            ("inputs/e.jsonl", Some(lines(&["e1", "e1"]))),
            ("inputs/a.jsonl", Some(String::new())),
        ];
        for (path, text) in steps {
            match text {
                Some(text) => write(&dir, path, &text),
                None => fs::remove_file(dir.path().join(path)).unwrap(),
            }
            repo.sync().unwrap();
            same_as_rebuilt(&dir, &repo);
            let synced = inputs_state(&repo);
            // A sync of just the path ends in the same place.
            let (dir2, mut other) = project();
            for entry in fs::read_dir(dir.path().join("inputs")).unwrap() {
                let entry = entry.unwrap();
                let name = entry.file_name().into_string().unwrap();
                write(
                    &dir2,
                    &format!("inputs/{name}"),
                    &fs::read_to_string(entry.path()).unwrap(),
                );
            }
            other.sync_paths(&paths(&["inputs"])).unwrap();
            assert_eq!(inputs_state(&other).0, synced.0, "after {path}");
        }
        let (datasets, _, reports) = inputs_state(&repo);
        let ids: Vec<&str> = datasets.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["a", "e"]);
        let files: Vec<&str> = reports.iter().map(|r| r.file.as_str()).collect();
        assert_eq!(files, ["inputs/c d.jsonl", "inputs/e.jsonl"]);
    }

    #[test]
    fn two_files_for_one_dataset_keep_what_it_had() {
        let (dir, mut repo) = project();
        write(&dir, "inputs/a.jsonl", "{\"id\": \"x\"}\n");
        repo.sync().unwrap();
        write(&dir, "inputs/a.csv", "id\ny\n");
        let summary = repo.sync().unwrap();
        assert_eq!(summary.invalid, ["inputs/a.csv", "inputs/a.jsonl"]);
        let rows = repo.index().dataset_inputs("a").unwrap().unwrap();
        assert_eq!(rows[0].id, "x", "the dataset keeps the inputs it had");
        let reports = repo.index().reports(true).unwrap();
        assert_eq!(
            reports[0].diagnostics[0].message,
            "dataset `a` is also defined by `inputs/a.jsonl`"
        );
        fs::remove_file(dir.path().join("inputs/a.jsonl")).unwrap();
        let summary = repo.sync().unwrap();
        assert_eq!(summary.fixed, ["inputs/a.csv"]);
        let rows = repo.index().dataset_inputs("a").unwrap().unwrap();
        assert_eq!(
            rows[0].id, "y",
            "the conflict is over: the remaining file is read"
        );
        assert!(repo.index().reports(false).unwrap().is_empty());
        same_as_rebuilt(&dir, &repo);
    }

    #[test]
    fn a_csv_without_ids_keeps_the_dataset_as_it_was() {
        let (dir, mut repo) = project();
        write(&dir, "inputs/a.csv", "id\nx\n");
        repo.sync().unwrap();
        write(&dir, "inputs/a.csv", "name\nx\ny\n");
        assert_eq!(repo.sync().unwrap().invalid, ["inputs/a.csv"]);
        let rows = repo.index().dataset_inputs("a").unwrap().unwrap();
        assert_eq!(rows.len(), 1);
        assert!(
            repo.sync().unwrap().is_empty(),
            "an unchanged file is not read again"
        );
    }

    /// Every task's inputs count, counts and whole assignment, as the queries answer.
    type Answer = (String, u64, Vec<(String, u64)>, Vec<repo::Assignment>);

    fn answers(repo: &Repo) -> Vec<Answer> {
        let query = store::ListQuery {
            page: 1,
            per_page: 1000,
            ..Default::default()
        };
        repo.list(&query)
            .unwrap()
            .iter()
            .map(|task| {
                let counts = repo.counts(task.id()).unwrap();
                let all = repo.assignments(task.id(), None, 1, 100_000).unwrap();
                (
                    task.id().to_owned(),
                    counts.plan.inputs,
                    counts.per_worker,
                    all,
                )
            })
            .collect()
    }

    #[test]
    fn tasks_get_the_inputs_of_their_source_and_plans_follow_them() {
        let (dir, mut repo) = project();
        let lines = |ids: std::ops::Range<u32>| -> String {
            ids.map(|i| format!("{{\"id\": \"x{i:02}\"}}\n")).collect()
        };
        write(&dir, "inputs/a.jsonl", &lines(1..21));
        let csv: String = (15..31).map(|i| format!("x{i:02},u\n")).collect();
        write(&dir, "inputs/b.csv", &format!("id,url\n{csv}"));
        let base = "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [c]\n";
        let partitioned = "{strategy: PARTITIONED, user_ids: [w1, w2, w3], partitioned_strategy_info: {type: EVENLY, workers_per_input: 2}}";
        for (id, source, worker) in [
            ("all", "{type: ALL_INPUTS}", partitioned),
            (
                "ds",
                "{type: DATASET, id: b}",
                "{strategy: FULL, user_ids: [f1, f2]}",
            ),
            ("one", "{type: INPUT, id: x03}", partitioned),
            ("search", "{type: SAVED_SEARCH, id: s}", partitioned),
            ("missing", "{type: DATASET, id: zz}", partitioned),
            (
                "dyn",
                "{type: ALL_INPUTS}",
                "{strategy: DYNAMIC, user_ids: [d1]}",
            ),
        ] {
            write(
                &dir,
                &format!("tasks/{id}.yaml"),
                &format!("{base}input_source: {source}\nworker: {worker}\n"),
            );
        }
        repo.sync().unwrap();
        let inputs_of = |repo: &Repo| -> Vec<(String, u64)> {
            answers(repo)
                .into_iter()
                .map(|(id, n, _, _)| (id, n))
                .collect()
        };
        let expected = [
            ("all", 30),
            ("ds", 16),
            ("dyn", 30),
            ("missing", 0),
            ("one", 1),
            ("search", 0),
        ];
        assert_eq!(inputs_of(&repo), expected.map(|(id, n)| (id.to_owned(), n)));

        let check_partitioned = |repo: &Repo, n: usize| {
            let counts = repo.counts("all").unwrap().per_worker;
            let all = repo.assignments("all", None, 1, 100_000).unwrap();
            assert_eq!(all.len(), 2 * n, "workers_per_input workers an input");
            for pair in all.chunks(2) {
                assert_eq!(pair[0].input, pair[1].input);
                assert!(pair[0].worker < pair[1].worker, "distinct, in worker order");
            }
            for (worker, count) in counts {
                let share = 2.0 * n as f64 / 3.0;
                assert!(count == share.floor() as u64 || count == share.ceil() as u64);
                let mine = repo.assignments("all", Some(&worker), 1, 100_000).unwrap();
                assert_eq!(mine.len() as u64, count, "a worker's pages meet its count");
                let page2 = repo.assignments("all", Some(&worker), 2, 3).unwrap();
                assert_eq!(page2, mine[3..6]);
            }
        };
        check_partitioned(&repo, 30);
        assert_eq!(
            repo.counts("ds").unwrap().per_worker,
            [("f1".to_owned(), 16), ("f2".to_owned(), 16)]
        );
        assert!(repo.assignments("dyn", None, 1, 100).unwrap().is_empty());
        same_answers_rebuilt(&dir, &repo);

        // One more input: ALL_INPUTS plans are remade, the others left alone.
        write(&dir, "inputs/a.jsonl", &lines(0..21));
        let summary = repo.sync().unwrap();
        assert_eq!(summary.datasets_changed, ["a"]);
        check_partitioned(&repo, 31);
        same_answers_rebuilt(&dir, &repo);
        // Lines reordered: the same set, the same answers.
        let before = answers(&repo);
        let mut reordered: Vec<String> = lines(0..21).lines().map(str::to_owned).collect();
        reordered.reverse();
        write(&dir, "inputs/a.jsonl", &(reordered.join("\n") + "\n"));
        let summary = repo.sync().unwrap();
        assert!(summary.datasets_changed.is_empty());
        assert_eq!(answers(&repo), before);
        // The dataset goes: its DATASET task has no inputs.
        fs::remove_file(dir.path().join("inputs/b.csv")).unwrap();
        repo.sync().unwrap();
        assert_eq!(repo.counts("ds").unwrap().plan.inputs, 0);
        same_answers_rebuilt(&dir, &repo);
    }

    #[track_caller]
    fn same_answers_rebuilt(dir: &tempfile::TempDir, repo: &Repo) {
        let fresh_dir = tempfile::tempdir().unwrap();
        let mut fresh = Repo::open(dir.path(), Some(&fresh_dir.path().join("i.db"))).unwrap();
        fresh.sync().unwrap();
        assert_eq!(answers(repo), answers(&fresh));
    }

    /// Every task's stored plan row, as the index holds it.
    fn plan_rows(repo: &Repo) -> Vec<(String, Option<crate::plans::TaskPlan>)> {
        answers(repo)
            .into_iter()
            .map(|(id, ..)| {
                let row = repo.index().task_plan(&id).unwrap();
                (id, row)
            })
            .collect()
    }

    #[test]
    fn incremental_plans_answer_as_a_cold_sync_with_and_without_inputs() {
        let (dir, mut repo) = project();
        let task = |source: &str| {
            format!(
                "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [c]\ninput_source: {source}\n\
                 worker: {{strategy: PARTITIONED, user_ids: [w1, w2], partitioned_strategy_info: {{type: EVENLY, workers_per_input: 1}}}}\n\
                 review: {{strategy: MANUAL, user_ids: [r1, r2], manual_strategy_info: {{sample_percentage: 0.5}}}}\n"
            )
        };
        let lines = |ids: std::ops::Range<u32>| -> String {
            ids.map(|i| format!("{{\"id\": \"x{i:02}\"}}\n")).collect()
        };
        // Each step, and how many inputs each task has after it.
        type Step<'a> = (&'a str, Option<String>, &'a [(&'a str, u64)]);
        let steps: Vec<Step> = vec![
            (
                "tasks/all.yaml",
                Some(task("{type: ALL_INPUTS}")),
                &[("all", 0)],
            ),
            (
                "tasks/ds.yaml",
                Some(task("{type: DATASET, id: b}")),
                &[("all", 0), ("ds", 0)],
            ),
            (
                "tasks/one.yaml",
                Some(task("{type: INPUT, id: x06}")),
                &[("all", 0), ("ds", 0), ("one", 0)],
            ),
            (
                "tasks/search.yaml",
                Some(task("{type: SAVED_SEARCH, id: s}")),
                &[("all", 0), ("ds", 0), ("one", 0), ("search", 0)],
            ),
            // Datasets appear under tasks that had no inputs.
            (
                "inputs/a.jsonl",
                Some(lines(1..11)),
                &[("all", 10), ("ds", 0), ("one", 1), ("search", 0)],
            ),
            (
                "inputs/b.jsonl",
                Some(lines(5..9)),
                &[("all", 10), ("ds", 4), ("one", 1), ("search", 0)],
            ),
            // A task moves to a source that selects nothing; one comes with inputs waiting.
            (
                "tasks/ds.yaml",
                Some(task("{type: DATASET, id: zz}")),
                &[("all", 10), ("ds", 0), ("one", 1), ("search", 0)],
            ),
            (
                "tasks/late.yaml",
                Some(task("{type: DATASET, id: b}")),
                &[
                    ("all", 10),
                    ("ds", 0),
                    ("late", 4),
                    ("one", 1),
                    ("search", 0),
                ],
            ),
            // A dataset goes: its task has no inputs again.
            (
                "inputs/b.jsonl",
                None,
                &[
                    ("all", 10),
                    ("ds", 0),
                    ("late", 0),
                    ("one", 1),
                    ("search", 0),
                ],
            ),
            (
                "tasks/ds.yaml",
                Some(task("{type: DATASET, id: a}")),
                &[
                    ("all", 10),
                    ("ds", 10),
                    ("late", 0),
                    ("one", 1),
                    ("search", 0),
                ],
            ),
            (
                "inputs/a.jsonl",
                Some(lines(3..7)),
                &[
                    ("all", 4),
                    ("ds", 4),
                    ("late", 0),
                    ("one", 1),
                    ("search", 0),
                ],
            ),
            (
                "tasks/all.yaml",
                None,
                &[("ds", 4), ("late", 0), ("one", 1), ("search", 0)],
            ),
            (
                "inputs/a.jsonl",
                None,
                &[("ds", 0), ("late", 0), ("one", 0), ("search", 0)],
            ),
        ];
        for (path, text, expected) in steps {
            match text {
                Some(text) => write(&dir, path, &text),
                None => fs::remove_file(dir.path().join(path)).unwrap(),
            }
            repo.sync().unwrap();
            let inputs: Vec<(String, u64)> = answers(&repo)
                .into_iter()
                .map(|(id, n, _, _)| (id, n))
                .collect();
            let expected: Vec<(String, u64)> = expected
                .iter()
                .map(|(id, n)| (id.to_string(), *n))
                .collect();
            assert_eq!(inputs, expected, "after {path}");
            // A task whose source selects nothing has no plan row.
            for (id, row) in plan_rows(&repo) {
                assert_eq!(
                    row.is_some(),
                    !inputs.contains(&(id.clone(), 0)),
                    "{id} after {path}"
                );
            }
            let fresh_dir = tempfile::tempdir().unwrap();
            let mut fresh = Repo::open(dir.path(), Some(&fresh_dir.path().join("i.db"))).unwrap();
            fresh.sync().unwrap();
            assert_eq!(answers(&repo), answers(&fresh), "after {path}");
            assert_eq!(plan_rows(&repo), plan_rows(&fresh), "after {path}");
        }
    }

    fn disk(path: &str, size: u64, mtime_ns: i64) -> DiskFile {
        DiskFile {
            path: path.into(),
            size,
            mtime_ns,
            problem: None,
        }
    }

    fn known(path: &str, size: u64, mtime_ns: i64, conflict: bool) -> (String, FileState) {
        let claim = Some(layout::stem(path).to_owned());
        let state = FileState {
            size,
            mtime_ns,
            claim,
            conflict,
            invalid: false,
        };
        (path.into(), state)
    }

    #[track_caller]
    fn check(
        on_disk: Vec<DiskFile>,
        index: Vec<(String, FileState)>,
        read: &[&str],
        remove: &[&str],
    ) {
        let plan = changes(on_disk, &index.into_iter().collect());
        let planned: Vec<&str> = plan.read.iter().map(|f| f.path.as_str()).collect();
        let removed: Vec<&str> = plan.remove.iter().map(String::as_str).collect();
        assert_eq!((planned.as_slice(), removed.as_slice()), (read, remove));
    }

    #[test]
    fn plans_read_only_what_changed() {
        let a = "tasks/a.yaml";
        check(vec![], vec![], &[], &[]);
        check(vec![disk(a, 1, 1)], vec![], &[a], &[]);
        check(vec![disk(a, 1, 1)], vec![known(a, 1, 1, false)], &[], &[]);
        check(vec![disk(a, 2, 1)], vec![known(a, 1, 1, false)], &[a], &[]);
        check(vec![disk(a, 1, 2)], vec![known(a, 1, 1, false)], &[a], &[]);
        check(vec![], vec![known(a, 1, 1, false)], &[], &[a]);
        // A file whose read failed is read again, though it was not touched.
        check(
            vec![disk(a, 1, 1)],
            vec![known(a, 1, files::UNREAD, false)],
            &[a],
            &[],
        );
        // Files under a folder that cannot be listed keep their rows.
        let mut unlisted = disk("tasks/sub", 0, files::UNREAD);
        unlisted.problem = Some("cannot list the folder".into());
        check(
            vec![unlisted.clone()],
            vec![known("tasks/sub/b.yaml", 1, 1, false)],
            &["tasks/sub"],
            &[],
        );
        // A file in an id conflict is read again: another file's change may have ended it.
        check(vec![disk(a, 1, 1)], vec![known(a, 1, 1, true)], &[a], &[]);
        check(
            vec![disk(a, 1, 1), disk("tasks/c.yaml", 1, 1)],
            vec![known(a, 1, 1, false), known("tasks/b.yaml", 1, 1, false)],
            &["tasks/c.yaml"],
            &["tasks/b.yaml"],
        );
    }
}
