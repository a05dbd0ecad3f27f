//! `annotask validate` output, snapshotted in each format: what people, scripts and GitHub
//! Actions read must not change by accident.

use std::fs;
use std::process::Command;

use crate::common::BIN;

/// A project with one problem of each kind, checked from its root as CI would.
fn validate(format: &str) -> (String, i32) {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        (
            "a-typo.yaml",
            "id: a-typo\ntype: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat]\ninput_source:\n  type: ALL_INPUTS\nprioirty: HIGH\n",
        ),
        (
            "b-rules.yaml",
            "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat]\ninput_source: {type: ALL_INPUTS}\nworker:\n  strategy: PARTITIONED\n  user_ids: [ann, bob]\n  partitioned_strategy_info:\n    type: WEIGHTED\n    workers_per_input: 1\n    weights:\n      ann: 1\n      bbo: 1\n",
        ),
        ("c-empty.yaml", ""),
        (
            "d-warning.yaml",
            "input_source:\n  type: ALL_INPUTS\n  id: \"ignored, really\"\n",
        ),
        (
            "e-fine.yaml",
            "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat]\ninput_source: {type: ALL_INPUTS}\n",
        ),
    ];
    fs::create_dir(dir.path().join("tasks")).unwrap();
    for (name, text) in files {
        fs::write(dir.path().join("tasks").join(name), text).unwrap();
    }
    let out = Command::new(BIN)
        .args(["validate", "--format", format])
        .current_dir(dir.path())
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        out.status.code().unwrap(),
    )
}

#[test]
fn human_output_marks_the_source() {
    let (out, code) = validate("human");
    assert_eq!(code, 1);
    assert!(!out.contains('\x1b'), "no colour in a pipe");
    insta::assert_snapshot!(out);
}

#[test]
fn github_output_annotates_files() {
    let (out, code) = validate("github");
    assert_eq!(code, 1);
    insta::assert_snapshot!(out);
}

#[test]
fn json_output_is_stable() {
    let (out, code) = validate("json");
    assert_eq!(code, 1);
    serde_json::from_str::<serde_json::Value>(&out).expect("one JSON document");
    insta::assert_snapshot!(out);
}
