//! Output and flags as people expect them from cargo, gh and kubectl: plurals, comma lists,
//! impossible ids as usage errors, `--addr :PORT`, the more-pages note on stderr.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use predicates::str::contains;

use crate::common::{BIN, annotask_in};

fn project(tasks: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("tasks")).unwrap();
    for (id, workers) in tasks {
        fs::write(
            dir.path().join(format!("tasks/{id}.yaml")),
            format!("type: TYPE_NOT_SET\ninput_source: {{type: ALL_INPUTS}}\nworker: {{strategy: FULL, user_ids: [{workers}]}}\n"),
        )
        .unwrap();
    }
    dir
}

#[test]
fn counts_are_plural_only_when_they_should_be() {
    let dir = project(&[("a", "ann")]);
    annotask_in(dir.path(), &["sync"])
        .assert()
        .success()
        .stdout(contains("; 1 task indexed"));
    annotask_in(dir.path(), &["validate"])
        .assert()
        .stdout(contains("1 file checked, 0 invalid"));
}

#[test]
fn comma_lists_work_like_repeated_flags() {
    let dir = project(&[("a", "ann"), ("b", "bob"), ("c", "cy")]);
    let ids = |args: &[&str]| {
        let out = annotask_in(dir.path(), &[&["list", "-o", "json"], args].concat())
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&["--worker-user-ids", "ann,bob"]), ["a", "b"]);
    assert_eq!(
        ids(&["--worker-user-ids", "ann", "--worker-user-ids", "bob"]),
        ["a", "b"]
    );
    assert_eq!(ids(&["--ids", "a,c"]), ["a", "c"]);
}

#[test]
fn impossible_ids_are_usage_errors() {
    let dir = project(&[]);
    for args in [
        &["list", "--ids", "bad id"][..],
        &["get", "a/b"],
        &["delete", "x y"],
    ] {
        annotask_in(dir.path(), args)
            .assert()
            .code(2)
            .stderr(contains("ids use only letters, digits"));
    }
}

#[test]
fn table_mode_says_when_more_pages_exist() {
    let dir = project(&[("a", "ann"), ("b", "bob"), ("c", "cy")]);
    annotask_in(dir.path(), &["list", "--per-page", "2"])
        .assert()
        .success()
        .stderr(contains("page 1: 2 of 3 tasks; more with --page 2"));
    annotask_in(dir.path(), &["list", "--per-page", "2", "--page", "2"])
        .assert()
        .success()
        .stderr("");
}

#[test]
fn serve_takes_a_bare_port_as_loopback() {
    let dir = project(&[]);
    for addr in [":0", "localhost:0"] {
        let mut child = std::process::Command::new(BIN)
            .current_dir(dir.path())
            .args(["serve", "--addr", addr])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            line.starts_with("listening on http://127.0.0.1:"),
            "{addr}: {line}"
        );
    }
    annotask_in(dir.path(), &["serve", "--addr", ":x"])
        .assert()
        .code(2)
        .stderr(contains("not a port number"));
}

#[test]
fn init_prints_json_with_o_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = annotask_in(dir.path(), &["-o", "json", "init"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"]["code"], 10000);
    assert_eq!(v["editor_settings"]["state"], "written");
    assert_eq!(v["tasks_dir"], "./tasks");
}

#[test]
fn main_commands_show_examples_in_their_help() {
    let dir = tempfile::tempdir().unwrap();
    for command in [
        "validate", "create", "get", "list", "update", "delete", "serve",
    ] {
        annotask_in(dir.path(), &[command, "--help"])
            .assert()
            .success()
            .stdout(contains("Examples:\n  annotask "));
    }
}

#[test]
fn quiet_and_color_flags() {
    let dir = project(&[("a", "ann")]);
    annotask_in(dir.path(), &["-q", "sync"])
        .assert()
        .success()
        .stdout("");
    annotask_in(dir.path(), &["validate", "--quiet"])
        .assert()
        .success()
        .stdout("");
    fs::write(dir.path().join("tasks/bad.yaml"), "nmae: x\n").unwrap();
    let out = |args: &[&str]| {
        let out = annotask_in(dir.path(), args).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(out(&["validate", "--color", "always"]).contains("\x1b["));
    assert!(!out(&["validate", "--color", "never"]).contains("\x1b["));
    assert!(
        !out(&["validate"]).contains("\x1b["),
        "a pipe is not coloured"
    );
    assert!(
        out(&["-q", "validate"]).contains("unknown key `nmae`"),
        "problems still print"
    );
}

/// What `annotask completions SHELL` prints, run in `root`.
fn completion_script(root: &Path, shell: &str) -> String {
    let out = annotask_in(root, &["completions", shell]).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// `PATH` with the binary under test first, as the scripts call `annotask` by name.
fn path_with_annotask() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_annotask")).parent().unwrap();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

#[test]
fn bash_completes_task_ids_for_get_and_delete_from_the_index() {
    let dir = project(&[("alpha", "ann"), ("beta", "bob")]);
    fs::write(
        dir.path().join("completion.bash"),
        completion_script(dir.path(), "bash"),
    )
    .unwrap();
    // The words typed so far, the last being completed, and what bash would offer.
    let check = |words: &[&str], expected: &[&str]| {
        let script = format!(
            "source ./completion.bash; COMP_WORDS=({}); COMP_CWORD={}; \
             _annotask_with_task_ids annotask \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1
        );
        let out = std::process::Command::new("bash")
            .current_dir(dir.path())
            .env("PATH", path_with_annotask())
            .args(["-c", &script])
            .output()
            .expect("bash runs");
        let offered = String::from_utf8(out.stdout).unwrap();
        let offered: Vec<&str> = offered.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(
            offered,
            expected,
            "{words:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    check(&["annotask", "get", ""], &["alpha", "beta"]);
    check(&["annotask", "get", "b"], &["beta"]);
    check(&["annotask", "delete", "alpha", ""], &["alpha", "beta"]);
    check(&["annotask", "--root", ".", "get", "a"], &["alpha"]);
    // Not a task id: a subcommand, and the value of `-o`, are clap's.
    check(&["annotask", "li"], &["list"]);
    check(&["annotask", "get", "-o", "j"], &["json"]);
    // An id longer than a piped table's 80 columns leave it, whole.
    let long = format!("long-{}", "x".repeat(123));
    fs::write(
        dir.path().join(format!("tasks/{long}.yaml")),
        "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\n",
    )
    .unwrap();
    check(&["annotask", "get", "lo"], &[&long]);
}

#[test]
fn zsh_and_fish_complete_task_ids_and_the_shells_of_completions() {
    let dir = project(&[("alpha", "ann")]);
    let zsh = completion_script(dir.path(), "zsh");
    assert!(
        zsh.contains("':id -- The task'\\''s id:_annotask_task_ids' \\"),
        "{zsh}"
    );
    assert!(zsh.contains("'*::ids -- The ids of the tasks to delete:_annotask_task_ids' \\"));
    let defined = zsh.find("_annotask_task_ids() {").unwrap();
    let called = zsh.rfind("_annotask \"$@\"").unwrap();
    assert!(
        defined < called,
        "the function is defined before zsh calls the script"
    );
    let fish = completion_script(dir.path(), "fish");
    assert!(
        fish.contains(r#"using_subcommand completions" -f -a "bash zsh fish elvish powershell""#)
    );
    assert!(fish.contains(
        "__fish_annotask_using_subcommand get; or __fish_annotask_using_subcommand delete"
    ));
    // The id source every script calls.
    let task_ids = "env COLUMNS=100000 annotask -q list --per-page 1000 2>/dev/null | tail -n +2 | cut -d' ' -f1";
    let ids = std::process::Command::new("sh")
        .current_dir(dir.path())
        .env("PATH", path_with_annotask())
        .args(["-c", task_ids])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(ids.stdout).unwrap(), "alpha\n");
    assert!(zsh.contains(task_ids));
    assert!(fish.contains(&format!("({task_ids})")));
}

#[test]
fn global_options_are_kept_apart_in_each_commands_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = annotask_in(dir.path(), &["list", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let (own, global) = help
        .split_once("Global options:")
        .expect("a heading of its own");
    assert!(
        own.contains("--worker-user-ids") && !own.contains("--root"),
        "{help}"
    );
    assert!(
        global.contains("--root") && global.contains("--output"),
        "{help}"
    );
}
