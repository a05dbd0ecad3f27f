//! Output and flags as people expect them from cargo, gh and kubectl: plurals, comma lists,
//! impossible ids as usage errors, `--addr :PORT`, the more-pages note on stderr.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use assert_cmd::Command;
use predicates::str::contains;

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

fn annotask(root: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("annotask").unwrap();
    cmd.current_dir(root).args(args);
    cmd
}

#[test]
fn counts_are_plural_only_when_they_should_be() {
    let dir = project(&[("a", "ann")]);
    annotask(dir.path(), &["sync"])
        .assert()
        .success()
        .stdout(contains("; 1 task indexed"));
    annotask(dir.path(), &["validate"])
        .assert()
        .stdout(contains("1 file checked, 0 invalid"));
}

#[test]
fn comma_lists_work_like_repeated_flags() {
    let dir = project(&[("a", "ann"), ("b", "bob"), ("c", "cy")]);
    let ids = |args: &[&str]| {
        let out = annotask(dir.path(), &[&["list", "-o", "json"], args].concat())
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
        annotask(dir.path(), args)
            .assert()
            .code(2)
            .stderr(contains("ids use only letters, digits"));
    }
}

#[test]
fn table_mode_says_when_more_pages_exist() {
    let dir = project(&[("a", "ann"), ("b", "bob"), ("c", "cy")]);
    annotask(dir.path(), &["list", "--per-page", "2"])
        .assert()
        .success()
        .stderr(contains("page 1: 2 tasks; more with --page 2"));
    annotask(dir.path(), &["list", "--per-page", "2", "--page", "2"])
        .assert()
        .success()
        .stderr("");
}

#[test]
fn serve_takes_a_bare_port_as_loopback() {
    let dir = project(&[]);
    for addr in [":0", "localhost:0"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_annotask"))
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
    annotask(dir.path(), &["serve", "--addr", ":x"])
        .assert()
        .code(2)
        .stderr(contains("not a port number"));
}

#[test]
fn init_prints_json_with_o_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = annotask(dir.path(), &["-o", "json", "init"])
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
        annotask(dir.path(), &[command, "--help"])
            .assert()
            .success()
            .stdout(contains("Examples:\n  annotask "));
    }
}

#[test]
fn quiet_and_color_flags() {
    let dir = project(&[("a", "ann")]);
    annotask(dir.path(), &["-q", "sync"])
        .assert()
        .success()
        .stdout("");
    annotask(dir.path(), &["validate", "--quiet"])
        .assert()
        .success()
        .stdout("");
    fs::write(dir.path().join("tasks/bad.yaml"), "nmae: x\n").unwrap();
    let out = |args: &[&str]| {
        let out = annotask(dir.path(), args).output().unwrap();
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

#[test]
fn fish_completes_shells_and_task_ids() {
    let dir = project(&[("alpha", "ann")]);
    let out = annotask(dir.path(), &["completions", "fish"])
        .output()
        .unwrap();
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(
        script.contains(r#"using_subcommand completions" -f -a "bash zsh fish elvish powershell""#)
    );
    assert!(script.contains(
        "__fish_annotask_using_subcommand get; or __fish_annotask_using_subcommand delete"
    ));
    // The id source the script calls: the first column of the table, after its header.
    let out = annotask(dir.path(), &["-q", "list", "--per-page", "1000"])
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<&str> = table
        .lines()
        .skip(1)
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(ids, ["alpha"]);
}

#[test]
fn global_options_are_kept_apart_in_each_commands_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = annotask(dir.path(), &["list", "--help"]).output().unwrap();
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
