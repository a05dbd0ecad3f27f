//! Small commands end to end: shell completions, the schema, and the pre-commit hooks' command.

use std::process::Command;

use crate::common::BIN;

fn run(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let script = run(&["completions", shell]);
        assert!(script.contains("watch"), "{shell}: {script}");
        assert!(
            script.contains("format") && script.contains("github"),
            "{shell} completes validate's options"
        );
    }
}

#[test]
fn the_schema_command_prints_the_checked_in_schema() {
    assert_eq!(
        run(&["schema"]),
        include_str!("../../task.schema.json"),
        "run `annotask schema > task.schema.json`"
    );
}

/// The hooks run `annotask validate --staged` from the root of a repository: it must find the
/// staged tasks/ there. (The hook that builds annotask first runs it through
/// `hooks/annotask-validate`, tested in `tests/hook.rs`.)
#[test]
fn the_pre_commit_hooks_run_validate() {
    let hooks = include_str!("../../.pre-commit-hooks.yaml");
    assert_eq!(
        hooks.matches("entry: annotask validate --staged\n").count(),
        1
    );
    assert!(include_str!("../../hooks/annotask-validate").contains("validate --staged \"$@\""));
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tasks")).unwrap();
    std::fs::write(dir.path().join("tasks/a.yaml"), "id: a\n").unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .current_dir(dir.path())
            .args(args)
            .status();
        assert!(ok.unwrap().success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "tasks/a.yaml"]);
    let out = Command::new(BIN)
        .args(["validate", "--staged"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "an invalid file fails the commit"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("tasks/a.yaml:1:1: error: input_source"),
        "{text}"
    );
}
