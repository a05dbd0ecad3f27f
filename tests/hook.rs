//! `validate --staged`, the pre-commit hook's mode: what git's index holds, as staged. Real git.

use std::fs;
use std::path::Path;
use std::process::Command as Process;

use assert_cmd::Command;
use predicates::str::contains;

const TASK: &str = "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\n";

fn git(dir: &Path, args: &[&str]) {
    let ok = Process::new("git")
        .current_dir(dir)
        .args(args)
        .status()
        .unwrap();
    assert!(ok.success(), "git {args:?}");
}

fn staged(dir: &Path) -> assert_cmd::assert::Assert {
    Command::cargo_bin("annotask")
        .unwrap()
        .current_dir(dir)
        .args(["validate", "--staged"])
        .assert()
}

#[test]
fn the_hook_checks_what_would_be_committed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q"]);
    fs::create_dir(root.join("tasks")).unwrap();
    fs::write(root.join("tasks/a.yaml"), TASK).unwrap();
    git(root, &["add", "tasks/a.yaml"]);
    // An untracked draft is not part of the commit.
    fs::write(root.join("tasks/draft.yaml"), "name: [\n").unwrap();
    staged(root)
        .success()
        .stdout(contains("1 file checked, 0 invalid"));
    // A staged file that claims a tracked file's id is still found.
    fs::write(root.join("tasks/b.yaml"), format!("id: a\n{TASK}")).unwrap();
    git(root, &["add", "tasks/b.yaml"]);
    staged(root)
        .code(1)
        .stdout(contains("id `a` is also defined by `tasks/b.yaml`"));
    // What is checked is the staged content, not the working tree's.
    fs::write(root.join("tasks/b.yaml"), format!("id: b\n{TASK}")).unwrap();
    staged(root).code(1);
    git(root, &["add", "tasks/b.yaml"]);
    staged(root)
        .success()
        .stdout(contains("2 files checked, 0 invalid"));
}
