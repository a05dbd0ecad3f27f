//! `annotask watch` end to end: the real binary, real file-system events in temporary folders,
//! each editor's way of saving, git switching branches, and commands running beside the
//! watcher. Every test waits for a condition with a deadline; none sleeps and then asserts.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{BIN, Project, eventually};

fn task(id: &str, name: &str) -> String {
    format!("id: {id}\nname: {name}\ninput_source:\n  type: ALL_INPUTS\n")
}

impl Project {
    /// The task's name as `annotask get` answers, or None when there is no such task.
    fn name(&self, id: &str) -> Option<String> {
        let (task, _) = self.answer(&["get", id]);
        Some(task["task"]["name"].as_str()?.to_owned())
    }

    /// What a query sees: every task, and the diagnostics of every file.
    fn state(&self, db: Option<&Path>) -> (Value, Value) {
        let db = db.map(|db| db.display().to_string());
        let db: Vec<&str> = db.iter().flat_map(|db| ["--db", db.as_str()]).collect();
        (
            self.json(&[&db[..], &["list", "--per-page", "1000"]].concat())["tasks"].clone(),
            self.json(&[&db[..], &["status"]].concat())["reports"].clone(),
        )
    }

    /// The state a fresh index built from the files now answers with.
    fn fresh_state(&self) -> (Value, Value) {
        let db = tempfile::tempdir().unwrap();
        self.state(Some(&db.path().join("fresh.db")))
    }

    fn watch(&self, args: &[&str]) -> Watch {
        let mut child = self
            .command()
            .arg("watch")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let readers = [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ]
        .map(|stream| {
            let lines = lines.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    lines.lock().unwrap().push(line.unwrap());
                }
            })
        });
        let watch = Watch {
            child,
            lines,
            _readers: readers,
        };
        eventually("the watcher is ready", || {
            watch.printed("watching ") || watch.printed(r#"{"event":"ready""#)
        });
        watch
    }
}

struct Watch {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    _readers: [thread::JoinHandle<()>; 2],
}

impl Watch {
    fn printed(&self, start: &str) -> bool {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with(start))
    }

    fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Ends the watcher as a service manager would, with SIGTERM.
    fn stop(mut self) -> ExitStatus {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let mut status = None;
        eventually("the watcher exits", || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status.unwrap()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_save_is_visible_at_once() {
    let project = Project::new();
    project.write("tasks/a.yaml", &task("a", "v0"));
    let watch = project.watch(&[]);
    let mut latencies = Vec::new();
    for version in 1..=5 {
        let name = format!("v{version}");
        let saved = Instant::now();
        project.write("tasks/a.yaml", &task("a", &name));
        eventually("the save shows", || {
            project.name("a").as_deref() == Some(&*name)
        });
        latencies.push(saved.elapsed());
    }
    latencies.sort();
    assert!(
        latencies[2] < Duration::from_secs(1),
        "median latency {:?}; all: {latencies:?}",
        latencies[2]
    );
    eventually("the change is printed", || {
        watch.printed("updated a (tasks/a.yaml)")
    });
    assert!(watch.stop().success(), "SIGTERM ends the watcher cleanly");
}

#[test]
fn json_lines_for_scripts() {
    let project = Project::new();
    project.write("tasks/a.yaml", &task("a", "old"));
    let watch = project.watch(&["-o", "json"]);
    project.write("tasks/a.yaml", &task("a", "new"));
    eventually("the change is printed", || {
        watch.printed(r#"{"event":"updated""#)
    });
    let lines: Vec<Value> = watch
        .output()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    assert_eq!(lines[0]["event"], "ready");
    assert_eq!(lines[0]["tasks"], 1);
    assert_eq!(lines[0]["polling"], false);
    let updated = lines.iter().find(|l| l["event"] == "updated").unwrap();
    assert_eq!(updated["id"], "a");
    assert_eq!(updated["file"], "tasks/a.yaml");
}

#[test]
fn vim_saves_through_a_backup() {
    let project = Project::new();
    project.write("tasks/a.yaml", &task("a", "old"));
    let _watch = project.watch(&[]);
    // Vim checks that it may write the folder, writes a swap file, renames the original to
    // its backup, writes the new file, then deletes the backup.
    project.write("tasks/4913", "");
    fs::remove_file(project.path("tasks/4913")).unwrap();
    project.write("tasks/.a.yaml.swp", "swap");
    fs::rename(project.path("tasks/a.yaml"), project.path("tasks/a.yaml~")).unwrap();
    project.write("tasks/a.yaml", &task("a", "new"));
    fs::remove_file(project.path("tasks/a.yaml~")).unwrap();
    fs::remove_file(project.path("tasks/.a.yaml.swp")).unwrap();
    eventually("vim's save shows", || {
        project.name("a").as_deref() == Some("new")
    });
    assert_eq!(project.state(None), project.fresh_state());
}

#[test]
fn vs_code_truncates_then_writes() {
    let project = Project::new();
    project.write("tasks/a.yaml", &task("a", "old"));
    let watch = project.watch(&[]);
    fs::File::create(project.path("tasks/a.yaml")).unwrap();
    eventually("the empty file is seen", || {
        watch.printed("invalid tasks/a.yaml")
    });
    assert_eq!(
        project.name("a").as_deref(),
        Some("old"),
        "a briefly empty file is not a deletion"
    );
    project.write("tasks/a.yaml", &task("a", "new"));
    eventually("the write shows", || {
        project.name("a").as_deref() == Some("new")
    });
    eventually("the fix is printed", || watch.printed("fixed tasks/a.yaml"));
}

#[test]
fn jetbrains_writes_a_temporary_file_and_renames_it() {
    let project = Project::new();
    project.write("tasks/a.yaml", &task("a", "old"));
    let _watch = project.watch(&[]);
    project.write("tasks/a.yaml___jb_tmp___", &task("a", "new"));
    fs::rename(
        project.path("tasks/a.yaml"),
        project.path("tasks/a.yaml___jb_old___"),
    )
    .unwrap();
    fs::rename(
        project.path("tasks/a.yaml___jb_tmp___"),
        project.path("tasks/a.yaml"),
    )
    .unwrap();
    fs::remove_file(project.path("tasks/a.yaml___jb_old___")).unwrap();
    eventually("the IDE's save shows", || {
        project.name("a").as_deref() == Some("new")
    });
    assert_eq!(project.state(None), project.fresh_state());
}

#[test]
fn an_invalid_edit_keeps_the_last_valid_version_until_fixed() {
    let project = Project::new();
    project.write("tasks/a.yaml", &task("a", "good"));
    let watch = project.watch(&[]);
    project.write(
        "tasks/a.yaml",
        &format!("{}prioirty: HIGH\n", task("a", "bad")),
    );
    eventually("the error is printed", || {
        watch.output().contains("did you mean `priority`?")
    });
    let out = watch.output();
    assert!(out.contains("invalid tasks/a.yaml"), "{out}");
    assert!(out.contains("unknown key `prioirty`"), "{out}");
    assert_eq!(project.name("a").as_deref(), Some("good"));
    let status = project.json(&["status"]);
    assert_eq!(status["invalid"], 1);
    assert_eq!(status["reports"][0]["file"], "tasks/a.yaml");

    project.write(
        "tasks/a.yaml",
        &format!("{}priority: HIGH\n", task("a", "fixed")),
    );
    eventually("the fix shows", || {
        project.name("a").as_deref() == Some("fixed")
    });
    eventually("the fix is printed", || watch.printed("fixed tasks/a.yaml"));
    assert_eq!(project.json(&["status"])["invalid"], 0);
}

#[test]
fn subfolders_and_the_tasks_folder_come_and_go() {
    let project = Project::new();
    project.write("tasks/a.yaml", &task("a", "a"));
    let watch = project.watch(&[]);

    fs::create_dir(project.path("tasks/team")).unwrap();
    project.write("tasks/team/b.yaml", &task("b", "b"));
    project.write("tasks/team/deeper/c.yaml", &task("c", "c"));
    eventually("a new folder's tasks show", || project.name("c").is_some());
    assert!(project.name("b").is_some());

    fs::rename(project.path("tasks/team"), project.path("tasks/renamed")).unwrap();
    project.write("tasks/renamed/deeper/c.yaml", &task("c", "moved"));
    eventually("a renamed folder is followed", || {
        project.name("c").as_deref() == Some("moved")
    });
    fs::remove_dir_all(project.path("tasks/renamed")).unwrap();
    eventually("a removed folder's tasks go", || {
        project.name("b").is_none()
    });
    assert!(project.name("c").is_none());

    fs::remove_dir_all(project.path("tasks")).unwrap();
    eventually("the missing folder is reported", || {
        watch.output().contains("is missing; no tasks are served")
    });
    eventually("a missing folder serves no tasks", || {
        project.name("a").is_none()
    });
    assert_eq!(project.state(None), project.fresh_state());
    assert_eq!(project.json(&["list"])["tasks"], serde_json::json!([]));
    project.write("tasks/d.yaml", &task("d", "d"));
    eventually("the new folder is watched", || project.name("d").is_some());
    assert!(project.name("a").is_none());
    project.write("tasks/e.yaml", &task("e", "e"));
    eventually("changes in the new folder show", || {
        project.name("e").is_some()
    });
    assert_eq!(project.state(None), project.fresh_state());
    assert!(watch.stop().success());
}

#[test]
fn polling_follows_changes_too() {
    let project = Project::new();
    project.write("tasks/a.yaml", &task("a", "old"));
    let watch = project.watch(&["--poll"]);
    assert!(watch.printed("watching "), "{}", watch.output());
    assert!(
        watch.output().contains("scanning every"),
        "{}",
        watch.output()
    );
    project.write("tasks/a.yaml", &task("a", "new"));
    project.write("tasks/team/b.yaml", &task("b", "b"));
    eventually("polling sees the edit", || {
        project.name("a").as_deref() == Some("new") && project.name("b").is_some()
    });
    assert!(watch.stop().success());
}

#[test]
fn a_second_watcher_refuses() {
    let project = Project::new();
    let first = project.watch(&[]);
    let second = project.run(&["watch"]);
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    let expected = format!(
        "another watcher (pid {}) is already watching",
        first.child.id()
    );
    assert!(err.contains(&expected), "{err}");

    let status = project.json(&["status"]);
    assert_eq!(status["watcher"]["running"], true);
    assert_eq!(status["watcher"]["pid"], first.child.id());

    assert!(first.stop().success());
    assert_eq!(project.json(&["status"])["watcher"]["running"], false);
    let again = project.watch(&[]);
    assert!(
        again.stop().success(),
        "the lock is free once the first ends"
    );
}

#[test]
fn commands_write_beside_a_watcher() {
    let project = Project::new();
    let watch = project.watch(&[]);
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let root = project.root().to_owned();
            thread::spawn(move || {
                for i in 0..5 {
                    let body = format!(
                        r#"{{"tasks": [{{"id": "w{writer}-{i}", "input_source": {{"type": "ALL_INPUTS"}}}}]}}"#
                    );
                    let mut child = Command::new(BIN)
                        .arg("--root")
                        .arg(&root)
                        .args(["create", "-f", "-"])
                        .stdin(Stdio::piped())
                        .stdout(Stdio::null())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap();
                    std::io::Write::write_all(&mut child.stdin.take().unwrap(), body.as_bytes())
                        .unwrap();
                    let out = child.wait_with_output().unwrap();
                    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    assert!(project.run(&["delete", "w0-0"]).status.success());
    project.write("tasks/by-hand.yaml", &task("by-hand", "x"));
    eventually("every write is indexed", || {
        project.name("by-hand").is_some()
            && project.json(&["list", "--per-page", "1000"])["tasks"]
                .as_array()
                .is_some_and(|t| t.len() == 20)
    });
    assert!(project.name("w0-0").is_none());
    assert_eq!(project.state(None), project.fresh_state());
    assert!(watch.stop().success());
}

#[test]
fn a_git_checkout_of_500_files_is_followed_exactly() {
    let project = Project::new();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=one",
            ])
            .args(args)
            .current_dir(project.root())
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    for i in 0..300 {
        let folder = if i % 3 == 0 { "tasks/team" } else { "tasks" };
        project.write(
            &format!("{folder}/t{i}.yaml"),
            &task(&format!("t{i}"), "one"),
        );
    }
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "one"]);
    git(&["checkout", "-q", "-b", "two"]);
    // 500 files differ: 150 changed, 150 removed, 200 added, some in a new folder, and one
    // that turns invalid.
    for i in 0..300 {
        let folder = if i % 3 == 0 { "tasks/team" } else { "tasks" };
        let path = format!("{folder}/t{i}.yaml");
        if i < 150 {
            project.write(&path, &task(&format!("t{i}"), "two"));
        } else {
            fs::remove_file(project.path(&path)).unwrap();
        }
    }
    for i in 0..200 {
        let folder = if i % 2 == 0 {
            "tasks/new/deep"
        } else {
            "tasks"
        };
        project.write(
            &format!("{folder}/n{i}.yaml"),
            &task(&format!("n{i}"), "two"),
        );
    }
    project.write("tasks/t1.yaml", "id: t1\nworker: [oops]\n");
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "two"]);
    git(&["checkout", "-q", "one"]);

    let watch = project.watch(&[]);
    // t1 is invalid on branch two: the watcher keeps its last valid version, which a fresh
    // index never saw. Everything else must be exactly what a fresh sync finds.
    let without_t1 = |(tasks, reports): (Value, Value)| {
        let tasks: Vec<Value> = tasks
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["id"] != "t1")
            .cloned()
            .collect();
        (tasks, reports)
    };
    for branch in ["two", "one", "two"] {
        git(&["checkout", "-q", branch]);
        let expected = without_t1(project.fresh_state());
        eventually(
            &format!("the index follows the checkout of {branch}"),
            || without_t1(project.state(None)) == expected,
        );
    }
    assert_eq!(
        project.name("t1").as_deref(),
        Some("one"),
        "an invalid file keeps the last valid version"
    );
    git(&["checkout", "-q", "one"]);
    let expected = project.fresh_state();
    eventually("the index equals a fresh one", || {
        project.state(None) == expected
    });
    assert!(watch.stop().success());
}

#[test]
fn links_are_reported_not_followed_as_a_full_sync_does() {
    let project = Project::new();
    project.write("tasks/a.yaml", &task("a", "a"));
    fs::create_dir(project.path("outside")).unwrap();
    project.write("outside/o.yaml", &task("o", "o"));
    let watch = project.watch(&[]);
    std::os::unix::fs::symlink("/etc/passwd", project.path("tasks/passwd.yaml")).unwrap();
    std::os::unix::fs::symlink(project.path("outside"), project.path("tasks/linked")).unwrap();
    eventually("both links are reported", || {
        let reports = project.json(&["status"])["reports"].to_string();
        reports.contains("tasks/passwd.yaml") && reports.contains("tasks/linked")
    });
    project.write("outside/o.yaml", &task("o", "changed"));
    project.write("tasks/b.yaml", &task("b", "b"));
    eventually("a later change shows", || project.name("b").is_some());
    assert!(
        project.name("o").is_none(),
        "a linked folder is not followed"
    );
    let reports = project.json(&["status"])["reports"].to_string();
    assert!(reports.contains("symbolic link"), "{reports}");
    assert!(
        !reports.contains("root:"),
        "nothing behind the link is read"
    );
    assert_eq!(project.state(None), project.fresh_state());
    assert!(watch.stop().success());
}

#[test]
fn datasets_are_followed_too() {
    let project = Project::new();
    let watch = project.watch(&[]);
    let inputs = |project: &Project| project.json(&["status"])["inputs"].clone();
    // The folder is new: the watcher starts watching it.
    project.write("inputs/birds.jsonl", "{\"id\": \"a\"}\n{\"id\": \"b\"}\n");
    eventually("the new dataset shows", || inputs(&project) == 2);
    project.write(
        "inputs/birds.jsonl",
        "{\"id\": \"a\"}\n{\"id\": \"b\"}\n{\"id\": \"c\"}\n",
    );
    eventually("the added line shows", || inputs(&project) == 3);
    eventually("the change is printed", || {
        watch.printed("inputs of birds: 1 added, 0 removed")
    });
    fs::remove_dir_all(project.path("inputs")).unwrap();
    eventually("the removed folder shows", || inputs(&project) == 0);
    project.write("inputs/cats.csv", "id\nx\n");
    eventually("the folder made again is watched", || inputs(&project) == 1);
    assert_eq!(project.json(&["status"])["reports"], Value::Array(vec![]));
    assert!(watch.stop().success());
}

/// A work line the replay does not count, appended while the watcher runs, is said at once.
#[test]
fn a_forged_work_line_is_reported_as_it_arrives() {
    let project = Project::new();
    project.write("inputs/day.jsonl", "{\"id\": \"in-1\"}\n");
    project.write(
        "tasks/fix.yaml",
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat]\ninput_source: {type: DATASET, id: day}\n\
         worker: {strategy: FULL, user_ids: [ann]}\n\
         review: {strategy: MANUAL, user_ids: [rita], manual_strategy_info: {sample_percentage: 1}}\n",
    );
    let watch = project.watch(&[]);
    project.write(
        "work/fix/ann.jsonl",
        "{\"at\":\"2026-12-01T10:00:00Z\",\"review\":{\"input_id\":\"in-1\",\"worker\":\"ann\",\"submission\":1,\"decision\":\"APPROVE\"}}\n",
    );
    eventually("the forged line is reported", || {
        watch.printed("warning: 1 work line(s) to look at")
    });
    assert!(watch.stop().success());
}
