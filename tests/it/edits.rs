//! `update` edits task files in place: comments, blank lines and key order survive, and the
//! file's diff is exactly the lines of the values that changed (plus `modified_at`). The real
//! binary on temporary projects; `tests/serve.rs` checks the same over HTTP PATCH.

use std::fs;

use serde_json::{Value, json};

use crate::common::annotask;

/// A commented, hand-laid-out task file.
pub const COMMENTED: &str = "\
# The garden camera's birds.
id: birds   # stable: the labeling tool links here
type: CONCEPTS_CLASSIFICATION
name: Annotate bird  # shown in lists

worker:
  strategy: PARTITIONED
  user_ids: [maria-lopez, chen-wei]
  partitioned_strategy_info:
    type: WEIGHTED
    workers_per_input: 1
    # Maria does most of it.
    weights:
      maria-lopez: 90   # she knows birds
      chen-wei: 10
concept_ids:
  - bird   # the only one
input_source:
  type: DATASET
  id: garden-stills
priority: LOW   # for now
created_at: 2026-11-29T10:00:00Z
modified_at: 2026-11-29T10:00:00Z
";

/// Updates the commented file with the task `change` makes of its JSON, and returns the file.
fn update(change: impl FnOnce(&mut Value)) -> String {
    let dir = tempfile::tempdir().unwrap();
    annotask(dir.path(), &["init"]).assert().success();
    let file = dir.path().join("tasks/birds.yaml");
    fs::write(&file, COMMENTED).unwrap();
    let out = annotask(dir.path(), &["get", "birds", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut task = serde_json::from_slice::<Value>(&out.stdout).unwrap()["task"].take();
    change(&mut task);
    let body = dir.path().join("body.json");
    fs::write(
        &body,
        json!({"action": "overwrite", "tasks": [task]}).to_string(),
    )
    .unwrap();
    annotask(dir.path(), &["update", "-f", body.to_str().unwrap()])
        .assert()
        .success();
    fs::read_to_string(file).unwrap()
}

/// The commented file with `replacements` made and `modified_at` set to what `update` wrote.
fn expected(written: &str, replacements: &[(&str, &str)]) -> String {
    let modified = written
        .lines()
        .find(|l| l.starts_with("modified_at: "))
        .expect("update sets modified_at");
    assert_ne!(modified, "modified_at: 2026-11-29T10:00:00Z");
    let mut text = COMMENTED.replace("modified_at: 2026-11-29T10:00:00Z", modified);
    for (from, to) in replacements {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    text
}

#[test]
fn a_changed_name_changes_only_its_line() {
    let written = update(|t| t["name"] = json!("Annotate birds"));
    assert_eq!(
        written,
        expected(
            &written,
            &[("name: Annotate bird  #", "name: Annotate birds  #")]
        )
    );
}

#[test]
fn a_changed_nested_value_changes_only_its_line() {
    let written =
        update(|t| t["worker"]["partitioned_strategy_info"]["weights"]["maria-lopez"] = json!(80));
    assert_eq!(
        written,
        expected(&written, &[("maria-lopez: 90   #", "maria-lopez: 80   #")])
    );
}

#[test]
fn an_added_key_goes_in_canonical_order_and_a_removed_key_takes_its_line() {
    let written = update(|t| {
        t["sample_ms"] = json!(500);
        t.as_object_mut().unwrap().remove("priority");
    });
    assert_eq!(
        written,
        expected(
            &written,
            &[
                (
                    "  id: garden-stills\n",
                    "  id: garden-stills\nsample_ms: 500\n"
                ),
                ("priority: LOW   # for now\n", ""),
            ]
        )
    );
}

#[test]
fn created_files_stay_canonical() {
    let dir = tempfile::tempdir().unwrap();
    annotask(dir.path(), &["init"]).assert().success();
    let body = dir.path().join("body.yaml");
    fs::write(
        &body,
        "tasks:\n- id: t  # a comment\n  type: TYPE_NOT_SET\n  input_source: {type: ALL_INPUTS}\n",
    )
    .unwrap();
    annotask(dir.path(), &["create", "-f", body.to_str().unwrap()])
        .assert()
        .success();
    let text = fs::read_to_string(dir.path().join("tasks/t.yaml")).unwrap();
    assert!(text.starts_with("# yaml-language-server: $schema=../.annotask/task.schema.json\nid: t\ntype: TYPE_NOT_SET\ninput_source:\n  type: ALL_INPUTS\n"), "{text}");
}
