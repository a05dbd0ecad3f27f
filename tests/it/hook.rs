//! `validate --staged`, the pre-commit hook's mode: what git's index holds, as staged. Real git.

use std::fs;
use std::os::unix::fs::PermissionsExt;
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

#[test]
fn the_pre_commit_hook_builds_with_the_lock_file_then_checks_the_staged_files() {
    let hooks =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"))
            .unwrap();
    assert!(hooks.contains("entry: hooks/annotask-validate\n  language: script"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("hooks/annotask-validate");
    // A cargo that records how it was called, and a target folder holding the binary under
    // test, stand in for the release build the hook makes (minutes, on a fresh checkout).
    let tools = tempfile::tempdir().unwrap();
    let calls = tools.path().join("cargo-calls");
    fs::write(
        tools.path().join("cargo"),
        format!("#!/bin/sh\necho \"$@\" >> '{}'\n", calls.display()),
    )
    .unwrap();
    fs::create_dir(tools.path().join("release")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_annotask"),
        tools.path().join("release/annotask"),
    )
    .unwrap();
    fs::set_permissions(
        tools.path().join("cargo"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q"]);
    fs::create_dir(root.join("tasks")).unwrap();
    fs::write(root.join("tasks/a.yaml"), "name: [\n").unwrap();
    git(root, &["add", "tasks/a.yaml"]);
    let out = Process::new(&script)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", tools.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                tools.path().display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("tasks/a.yaml"));
    let calls = fs::read_to_string(calls).unwrap();
    assert!(calls.starts_with("build --locked --release"), "{calls}");
}
