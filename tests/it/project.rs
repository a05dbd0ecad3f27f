//! Finding the project: commands search upward from the current folder, as git does; outside
//! any project they say so; `init` refuses to nest; `validate DIR` needs task files; every
//! command that opens a project sets up the schema editors load.

use std::fs;
use std::path::Path;

use predicates::prelude::*;
use predicates::str::contains;

use crate::common::{BIN, Run, annotask_in};

const TASK: &str = "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\n";

#[test]
fn commands_find_the_project_upward() {
    let dir = tempfile::tempdir().unwrap();
    annotask_in(dir.path(), &["init"]).assert().success();
    fs::create_dir(dir.path().join("tasks/birds")).unwrap();
    fs::write(dir.path().join("tasks/birds/robin.yaml"), TASK).unwrap();
    let deep = dir.path().join("tasks/birds");
    annotask_in(&deep, &["list"])
        .assert()
        .success()
        .stdout(contains("robin"));
    annotask_in(&deep, &["validate"])
        .assert()
        .success()
        .stdout(contains("1 file checked, 0 invalid"));
}

#[test]
fn outside_a_project_the_error_says_so() {
    let dir = tempfile::tempdir().unwrap();
    annotask_in(dir.path(), &["list"])
        .assert()
        .code(2)
        .stderr(contains("not inside an annotask project"))
        .stderr(contains("annotask init"))
        .stderr(contains("--root DIR"));
}

#[test]
fn init_refuses_to_nest_a_project() {
    let dir = tempfile::tempdir().unwrap();
    annotask_in(dir.path(), &["init"]).assert().success();
    annotask_in(&dir.path().join("tasks"), &["init"])
        .assert()
        .code(2)
        .stderr(contains("inside the project at .."));
    assert!(!dir.path().join("tasks/tasks").exists());
    // In the project folder itself, init is harmless.
    annotask_in(dir.path(), &["init"]).assert().success();
}

#[test]
fn validate_of_a_folder_without_task_files_fails() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("empty")).unwrap();
    annotask_in(dir.path(), &["validate", "empty"])
        .assert()
        .code(1)
        .stderr(contains("no task files under empty"));
}

#[test]
fn validate_on_a_fresh_clone_writes_the_schema_editors_load() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("tasks")).unwrap();
    fs::write(dir.path().join("tasks/a.yaml"), TASK).unwrap();
    annotask_in(dir.path(), &["validate"]).assert().success();
    let schema = fs::read_to_string(dir.path().join(".annotask/task.schema.json")).unwrap();
    assert_eq!(schema, annotask::schema::TASK_SCHEMA);
}

/// `annotask ARGS` in `cwd` as a user who may not write what it did not create: root may
/// write anything, so as root the command runs as `nobody`.
fn unprivileged(cwd: &Path, args: &[&str]) -> Run {
    let uid = std::process::Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return annotask_in(cwd, args);
    }
    let mut cmd = Run::new(std::process::Command::new("setpriv"));
    cmd.current_dir(cwd)
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(BIN)
        .args(args);
    cmd
}

#[test]
fn a_read_only_index_folder_still_answers_queries_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir(root.join("tasks")).unwrap();
    fs::write(root.join("tasks/a.yaml"), TASK).unwrap();
    annotask_in(root, &["sync"]).assert().success();
    // A task the read-only index never saw: the answers come from the files.
    fs::write(root.join("tasks/b.yaml"), TASK).unwrap();
    let chmod = |mode: &str| {
        let ok = std::process::Command::new("chmod")
            .args(["-R", mode])
            .arg(root)
            .status()
            .unwrap();
        assert!(ok.success());
    };
    chmod("a+rX,a-w");
    let warning = "cannot be written; the files are indexed in memory for this command";
    unprivileged(root, &["list"])
        .assert()
        .success()
        .stdout(contains("a ").and(contains("b ")))
        .stderr(contains(warning));
    unprivileged(root, &["-o", "json", "get", "b"])
        .assert()
        .success()
        .stdout(contains("\"id\": \"b\""));
    unprivileged(root, &["status"]).assert().success();
    unprivileged(root, &["delete", "a"])
        .assert()
        .code(4)
        .stderr(contains("writes need its folder writable"));
    chmod("u+w");
    assert!(root.join("tasks/a.yaml").exists());
}
