//! Finding the project: commands search upward from the current folder, as git does; outside
//! any project they say so; `init` refuses to nest; `validate DIR` needs task files; every
//! command that opens a project sets up the schema editors load.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::str::contains;

fn annotask(cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("annotask").unwrap();
    cmd.current_dir(cwd).args(args);
    cmd
}

const TASK: &str = "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\n";

#[test]
fn commands_find_the_project_upward() {
    let dir = tempfile::tempdir().unwrap();
    annotask(dir.path(), &["init"]).assert().success();
    fs::create_dir(dir.path().join("tasks/birds")).unwrap();
    fs::write(dir.path().join("tasks/birds/robin.yaml"), TASK).unwrap();
    let deep = dir.path().join("tasks/birds");
    annotask(&deep, &["list"])
        .assert()
        .success()
        .stdout(contains("robin"));
    annotask(&deep, &["validate"])
        .assert()
        .success()
        .stdout(contains("1 file checked, 0 invalid"));
}

#[test]
fn outside_a_project_the_error_says_so() {
    let dir = tempfile::tempdir().unwrap();
    annotask(dir.path(), &["list"])
        .assert()
        .code(1)
        .stderr(contains("not inside an annotask project"))
        .stderr(contains("annotask init"))
        .stderr(contains("--root DIR"));
}

#[test]
fn init_refuses_to_nest_a_project() {
    let dir = tempfile::tempdir().unwrap();
    annotask(dir.path(), &["init"]).assert().success();
    annotask(&dir.path().join("tasks"), &["init"])
        .assert()
        .code(1)
        .stderr(contains("inside the project at .."));
    assert!(!dir.path().join("tasks/tasks").exists());
    // In the project folder itself, init is harmless.
    annotask(dir.path(), &["init"]).assert().success();
}

#[test]
fn validate_of_a_folder_without_task_files_fails() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("empty")).unwrap();
    annotask(dir.path(), &["validate", "empty"])
        .assert()
        .code(1)
        .stderr(contains("no task files under empty"));
}

#[test]
fn validate_on_a_fresh_clone_writes_the_schema_editors_load() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("tasks")).unwrap();
    fs::write(dir.path().join("tasks/a.yaml"), TASK).unwrap();
    annotask(dir.path(), &["validate"]).assert().success();
    let schema = fs::read_to_string(dir.path().join(".annotask/task.schema.json")).unwrap();
    assert_eq!(schema, annotask::schema::TASK_SCHEMA);
}
