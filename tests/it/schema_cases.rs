//! The editor's schema says what `annotask validate` says: one table of task files, each checked
//! by `annotask validate` and by a standard JSON Schema validator (Python's `jsonschema`, draft
//! 7, as yaml-language-server reads it) against `task.schema.json`. They must agree on every
//! case the schema can express; the cases it cannot are listed, and must still disagree as the
//! docs/tasks.md says.

use std::fs;
use std::process::Command;

use serde_json::Value;

const BASE: &str = "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\n";

/// (file text, valid for `validate`, whether the schema can express the rule).
const CASES: &[(&str, bool, bool)] = &[
    (BASE, true, true),
    ("type: TYPE_NOT_SET\n", false, true),
    ("type: TYPE_NOT_SET\ninput_source: null\n", false, true),
    ("type: TYPE_NOT_SET\ninput_source: {id: x}\n", false, true),
    (
        "type: TYPE_NOT_SET\ninput_source: {type: INPUT_SOURCE_TYPE_NOT_SET}\n",
        false,
        true,
    ),
    (
        "type: TYPE_NOT_SET\ninput_source: {type: DATASET}\n",
        false,
        true,
    ),
    (
        "type: TYPE_NOT_SET\ninput_source: {type: DATASET, id: garden}\n",
        true,
        true,
    ),
    (
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: []\ninput_source: {type: ALL_INPUTS}\n",
        false,
        true,
    ),
    (
        "type: CONCEPTS_CLASSIFICATION\ninput_source: {type: ALL_INPUTS}\n",
        false,
        true,
    ),
    (
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: ['']\ninput_source: {type: ALL_INPUTS}\n",
        false,
        true,
    ),
    (
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [bird]\ninput_source: {type: ALL_INPUTS}\n",
        true,
        true,
    ),
    (
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [bird, bird]\ninput_source: {type: ALL_INPUTS}\n",
        false,
        true,
    ),
    (
        "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\nsample_ms: 4294967296\n",
        false,
        true,
    ),
    (
        "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\nsample_ms: 4294967295\n",
        true,
        true,
    ),
    (
        "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\nsample_ms: -1\n",
        false,
        true,
    ),
    (
        "id: 42\ntype: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\n",
        true,
        true,
    ),
    (
        "id: 'a b'\ntype: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\n",
        false,
        true,
    ),
    (
        "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\ncreated_at: null\n",
        true,
        true,
    ),
    (
        "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\nnmae: x\n",
        false,
        true,
    ),
    (
        "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\npriority: URGENT\n",
        false,
        true,
    ),
    (
        "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\nstatus: {code: 54002}\n",
        true,
        true,
    ),
    (
        "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\nstatus: {code: 54004}\n",
        false,
        true,
    ),
    (
        "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\nreview: {strategy: MANUAL, user_ids: [sam], manual_strategy_info: {sample_percentage: 0}}\n",
        false,
        true,
    ),
    (
        "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\nmetadata: [1]\n",
        false,
        true,
    ),
    // What draft-07 cannot say, or says only with the `anyOf` wrappers that mislead editors:
    // an integral float where an integer belongs, `null` as "absent" for a key whose schema
    // is a `$ref`, and rules across fields.
    (
        "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\nsample_ms: 1000.0\n",
        false,
        false,
    ),
    (
        "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\npriority: null\n",
        true,
        false,
    ),
    (
        "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\nworker: {strategy: PARTITIONED, user_ids: [a]}\n",
        false,
        false,
    ),
];

/// A Python with `jsonschema`: ANNOTASK_TEST_PYTHON (which `.ci/run` sets up), else `python3`.
fn python() -> Option<String> {
    if let Ok(python) = std::env::var("ANNOTASK_TEST_PYTHON") {
        return Some(python);
    }
    let ok = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| "python3".to_owned())
}

const CHECK: &str = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)
docs = json.load(open(sys.argv[2]))
print(json.dumps([validator.is_valid(d) for d in docs]))
"#;

#[test]
fn schema_and_validate_agree_on_every_case() {
    let Some(python) = python() else {
        eprintln!("skipped: no Python with jsonschema (set ANNOTASK_TEST_PYTHON; .ci/run does)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("tasks");
    fs::create_dir(&tasks).unwrap();
    let mut docs = Vec::new();
    for (i, (text, ..)) in CASES.iter().enumerate() {
        fs::write(tasks.join(format!("case-{i:02}.yaml")), text).unwrap();
        docs.push(yaml_serde::from_str::<Value>(text).unwrap());
    }
    let out = assert_cmd::Command::cargo_bin("annotask")
        .unwrap()
        .current_dir(dir.path())
        .args(["validate", "--format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let invalid: Vec<String> = report["reports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["diagnostics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["severity"] == "error")
        })
        .map(|r| r["file"].as_str().unwrap().to_owned())
        .collect();
    let docs_file = dir.path().join("docs.json");
    fs::write(&docs_file, serde_json::to_string(&docs).unwrap()).unwrap();
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/task.schema.json");
    let out = Command::new(python)
        .args(["-c", CHECK, schema, docs_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let by_schema: Vec<bool> = serde_json::from_slice(&out.stdout).unwrap();
    for (i, (text, valid, expressible)) in CASES.iter().enumerate() {
        let by_validate = !invalid
            .iter()
            .any(|f| f.ends_with(&format!("case-{i:02}.yaml")));
        assert_eq!(by_validate, *valid, "validate on case {i}:\n{text}");
        assert_eq!(
            by_schema[i] == by_validate,
            *expressible,
            "schema ({}) against validate ({by_validate}) on case {i}:\n{text}",
            by_schema[i]
        );
    }
}
