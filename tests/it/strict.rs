//! Strictness (issue 27): a key no field reads is refused at its path with a did-you-mean, on
//! every face that can carry one: the JSON API of a real `serve`, work files and dataset files
//! (`annotask validate`, whose other lines still count), and imports (tests/it/export.rs). The
//! line schemas `annotask schema` prints are the committed files, and a real JSON Schema
//! validator (Python's `jsonschema`) accepts good lines and refuses the same bad ones.
//! gRPC cannot carry an unknown key: protobuf drops fields its message lacks.

use serde_json::{Value, json};

use crate::common::{KeyedServer, Project, python};

const TASK: &str = "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog]\n\
    input_source: {type: DATASET, id: day}\n\
    worker: {strategy: FULL, user_ids: [ann]}\nreview: {strategy: NONE}\n";

fn project() -> Project {
    let project = Project::new();
    project.write(
        "inputs/day.jsonl",
        "{\"id\": \"in-1\", \"data\": {\"image\": {\"url\": \"https://x/1.jpg\"}}}\n",
    );
    project.write("tasks/day.yaml", TASK);
    project
}

#[test]
fn the_json_api_refuses_unknown_annotation_keys_at_their_path() {
    let project = project();
    let server = KeyedServer::start(project.root(), r#"{"key-ann": "ann"}"#);
    let annotation =
        |data: Value| json!({"id": "a1", "task_id": "day", "input_id": "in-1", "data": data});
    // The request, and what its answer's details say (the path, and the hint where one is near).
    let check = |method: &str, body: Value, expected: &[&str]| {
        let (status, answer) = server.call("ann", method, "/v2/annotations", Some(body.clone()));
        let details = answer["status"]["details"].as_str().unwrap_or_default();
        assert_eq!(
            (status, answer["status"]["code"].as_u64()),
            (400, Some(11102)),
            "{body}: {answer}"
        );
        for part in expected {
            assert!(details.contains(part), "{body}: {part:?} not in {details}");
        }
    };
    let post = |a: Value| json!({"annotations": [a]});
    check(
        "POST",
        post(annotation(json!({"concept": "bird"}))),
        &[
            "annotations[0].data.concept: unknown key `concept`",
            "did you mean `concepts`?",
        ],
    );
    let mut bogus = annotation(json!({"concepts": [{"id": "cat"}]}));
    bogus["bogus"] = json!(1);
    check(
        "POST",
        post(bogus),
        &["annotations[0].bogus: unknown key `bogus`"],
    );
    check(
        "POST",
        json!({"annotations": [annotation(json!({"concepts": [{"id": "cat"}]})),
            annotation(json!({"concepts": [{"id": "cat", "valeu": 1}]}))]}),
        &[
            "annotations[1].data.concepts[0].valeu: unknown key `valeu`",
            "did you mean `value`?",
        ],
    );
    check(
        "PATCH",
        json!({"action": "merge", "annotations": [annotation(json!({"regions": [{"region_info": {"bounding_box": {"top_row": 0, "left_col": 0, "bottom_row": 1, "rigth_col": 1}}}]}))]}),
        &[
            "annotations[0].data.regions[0].region_info.bounding_box.rigth_col: unknown key `rigth_col`",
            "did you mean `right_col`?",
        ],
    );
    assert!(
        !project.exists("work/day/ann.jsonl"),
        "nothing refused was written"
    );
    // The same annotation without the stray key is taken.
    let (status, answer) = server.call(
        "ann",
        "POST",
        "/v2/annotations",
        Some(post(annotation(json!({"concepts": [{"id": "cat"}]})))),
    );
    assert_eq!(status, 200, "{answer}");
}

/// `text` as a file at `path` of a fresh project: `annotask validate` fails, saying each of
/// `expected`.
#[track_caller]
fn refused(path: &str, text: &str, expected: &[&str]) {
    let project = project();
    project.write(path, text);
    let out = project.run(&["validate"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}: {said}");
    for part in expected {
        assert!(said.contains(part), "{text}: {part:?} not in:\n{said}");
    }
}

const AT: &str = r#""at": "2026-12-03T17:00:00Z""#;

#[test]
fn work_and_dataset_lines_refuse_unknown_keys_at_file_line_column() {
    let work = "work/day/ann.jsonl";
    let line = |data: &str| {
        format!(
            "{{{AT}, \"submit\": {{\"input_id\": \"in-1\"}}}}\n{{{AT}, \"annotation\": {{\"id\": \"a\", \"input_id\": \"in-1\", \"data\": {data}}}}}\n"
        )
    };
    refused(
        work,
        &line(r#"{"concept": "bird"}"#),
        &[
            "work/day/ann.jsonl:2:87: error: annotation.data.concept: unknown key `concept`; the line is left out",
            "hint: did you mean `concepts`?",
        ],
    );
    refused(
        work,
        &line(r#"{"concepts": [{"id": "cat", "bogus": 1}]}"#),
        &[
            "work/day/ann.jsonl:2:114: error: annotation.data.concepts[0].bogus: unknown key `bogus`",
        ],
    );
    refused(
        work,
        &format!("{{{AT}, \"sumbit\": {{\"input_id\": \"in-1\"}}}}\n"),
        &[
            "work/day/ann.jsonl:1:32: error: sumbit: unknown key `sumbit`; the line is left out",
            "hint: did you mean `submit`?",
        ],
    );
    refused(
        "inputs/more.jsonl",
        "{\"id\": \"m1\", \"url\": \"https://x/m1.jpg\"}\n{\"id\": \"m2\"}\n",
        &["inputs/more.jsonl:1:14: error: url: unknown key `url`"],
    );
    refused(
        "inputs/more.jsonl",
        "{\"id\": \"m1\", \"metadata\": {\"width\": 4}}\n",
        &[
            "inputs/more.jsonl:1:14: error: metadata: unknown key `metadata`",
            "hint: the API keeps an input's metadata in `data.metadata`",
        ],
    );
    refused(
        "inputs/more.jsonl",
        "{\"id\": \"m1\", \"dta\": {}}\n",
        &["hint: did you mean `data`?"],
    );
}

#[test]
fn the_line_schemas_are_the_committed_files_and_a_validator_agrees_with_the_reader() {
    let project = project();
    for (flag, file) in [
        ("--work-line", "work-line.schema.json"),
        ("--dataset-line", "dataset-line.schema.json"),
    ] {
        let printed = project.run(&["schema", flag]);
        let committed =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
                .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&printed.stdout),
            committed,
            "{flag}"
        );
    }
    assert_eq!(project.run(&["init"]).status.code(), Some(0));
    for file in ["work-line.schema.json", "dataset-line.schema.json"] {
        assert!(
            project.exists(&format!(".annotask/{file}")),
            "init writes {file}"
        );
    }
    // Each line, the schema it is checked against, and whether it is valid.
    let cases: &[(&str, Value, bool)] = &[
        (
            "work-line",
            json!({"at": "2026-12-03T17:00:00Z", "submit": {"input_id": "a"}}),
            true,
        ),
        (
            "work-line",
            json!({"at": "2026-12-03T17:00:00Z", "annotation": {"id": "x", "input_id": "a", "data": {"regions": [{"region_info": {"bounding_box": {"top_row": 0.1, "left_col": 0.1, "bottom_row": 0.5, "right_col": 0.5}}, "data": {"concepts": [{"id": "car", "value": 1}]}}]}}}),
            true,
        ),
        (
            "work-line",
            json!({"at": "2026-12-03T17:00:00Z", "review": {"input_id": "a", "worker": "ann", "submission": 1, "decision": "APPROVE"}}),
            true,
        ),
        (
            "work-line",
            json!({"at": "2026-12-03T17:00:00Z", "annotation": {"id": "x", "input_id": "a", "data": {"concept": "bird"}}}),
            false,
        ),
        ("work-line", json!({"at": "2026-12-03T17:00:00Z"}), false),
        (
            "work-line",
            json!({"at": "2026-12-03T17:00:00Z", "submit": {"input_id": "a"}, "delete": {"input_id": "a", "id": "x"}}),
            false,
        ),
        (
            "work-line",
            json!({"at": "2026-12-03T17:00:00Z", "review": {"input_id": "a", "worker": "ann", "submission": 1, "decision": "MAYBE"}}),
            false,
        ),
        (
            "dataset-line",
            json!({"id": "a", "data": {"image": {"url": "https://x/a.jpg", "image_info": {"width": 640, "height": 480}}, "video": {}}}),
            true,
        ),
        (
            "dataset-line",
            json!({"id": "a", "url": "https://x/a.jpg"}),
            false,
        ),
        ("dataset-line", json!({"data": {}}), false),
    ];
    let script = r#"
import json, sys, jsonschema
root = sys.argv[1]
for case in json.loads(sys.stdin.read()):
    with open(f"{root}/{case[0]}.schema.json") as f:
        schema = json.load(f)
    print(jsonschema.Draft7Validator(schema).is_valid(case[1]))
"#;
    let mut child = std::process::Command::new(python::python())
        .args(["-c", script, env!("CARGO_MANIFEST_DIR")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = serde_json::to_string(
        &cases
            .iter()
            .map(|(s, l, _)| json!([s, l]))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let verdicts: Vec<bool> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l == "True")
        .collect();
    let expected: Vec<bool> = cases.iter().map(|(_, _, valid)| *valid).collect();
    assert_eq!(
        verdicts,
        expected,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
