//! Tables and summaries fit the terminal: with no terminal to ask (a pipe) and no `COLUMNS`,
//! every line of `list`, `counts`, `status` and `assignments` is at most 80 characters, on the
//! shipped example project and on ids as long as ids may be; `explain` on the example (its
//! story names ids in sentences, and an id is never broken).

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::common::{BIN, Project};

/// The id rule's longest: 128 characters.
fn long(prefix: &str) -> String {
    format!("{prefix}-{}", "x".repeat(127 - prefix.len()))
}

/// The shipped tasks and datasets, in a project of their own.
fn example() -> Project {
    let project = Project::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for folder in ["tasks", "inputs"] {
        for entry in fs::read_dir(root.join(folder)).unwrap() {
            let entry = entry.unwrap();
            let to = format!("{folder}/{}", entry.file_name().to_str().unwrap());
            project.write(&to, &fs::read_to_string(entry.path()).unwrap());
        }
    }
    project
}

/// A task, its workers, its reviewer, its dataset and its inputs all with 128-character ids.
fn long_ids() -> Project {
    let project = Project::new();
    let (ann, bob, rita) = (long("ann"), long("bob"), long("rita"));
    project.write(
        &format!("tasks/{}.yaml", long("task")),
        &format!(
            "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat]\nname: {}\n\
             input_source: {{type: DATASET, id: {}}}\n\
             worker: {{strategy: FULL, user_ids: [{ann}, {bob}]}}\n\
             review: {{strategy: CONSENSUS, user_ids: [{rita}], consensus_strategy_info: {{approval_threshold: 2}}}}\n",
            "A name as long as people write them ".repeat(6).trim_end(),
            long("set"),
        ),
    );
    let lines: String = (0..3)
        .map(|i| format!("{{\"id\": \"{}\"}}\n", long(&format!("in{i}"))))
        .collect();
    project.write(&format!("inputs/{}.jsonl", long("set")), &lines);
    project
}

#[track_caller]
fn check(project: &Project, args: &[&str]) {
    let out = Command::new(BIN)
        .arg("--root")
        .arg(project.root())
        .args(args)
        .env_remove("COLUMNS")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{args:?}: {stdout}");
    assert!(!stdout.is_empty(), "{args:?}");
    for line in stdout.lines() {
        assert!(
            line.chars().count() <= 80,
            "{args:?}: {} columns: {line}",
            line.chars().count()
        );
    }
}

#[test]
fn tables_fit_80_columns_when_the_width_is_unknown() {
    let (example, long_ids) = (example(), long_ids());
    let task = long("task");
    let cases: &[(&Project, &[&str])] = &[
        (&example, &["list"]),
        (&example, &["counts", "annotate-birds-weighted"]),
        (
            &example,
            &["counts", "annotate-cars-consensus", "--annotations"],
        ),
        (&example, &["status"]),
        (&example, &["assignments", "annotate-cars-consensus"]),
        (
            &example,
            &["explain", "annotate-cars-consensus", "photo-01"],
        ),
        (&long_ids, &["list"]),
        (&long_ids, &["counts", &task]),
        (&long_ids, &["status"]),
        (&long_ids, &["assignments", &task]),
    ];
    for (project, args) in cases {
        check(project, args);
    }
}

/// `COLUMNS` asks for a width, as it does of `ls`: wide enough, the table is whole.
#[test]
fn columns_asks_for_a_width() {
    let project = long_ids();
    let out = Command::new(BIN)
        .arg("--root")
        .arg(project.root())
        .arg("list")
        .env("COLUMNS", "1000")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains(&long("task")), "{stdout}");
    assert!(
        stdout.contains(&format!("{},{}", long("ann"), long("bob"))),
        "{stdout}"
    );
    assert!(stdout.contains("CONCEPTS_CLASSIFICATION"), "{stdout}");
}
