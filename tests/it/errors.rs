//! Decoding errors point at the field: each case is one line of a task file (after a valid
//! head) or one request body, and the first line `annotask` prints for it.

use std::fs;

use assert_cmd::Command;

const HEAD: &str = "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\n";

fn validate_line(line: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("tasks")).unwrap();
    fs::write(dir.path().join("tasks/x.yaml"), format!("{HEAD}{line}\n")).unwrap();
    let out = Command::cargo_bin("annotask")
        .unwrap()
        .current_dir(dir.path())
        .arg("validate")
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

fn create_body(body: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("tasks")).unwrap();
    let out = Command::cargo_bin("annotask")
        .unwrap()
        .current_dir(dir.path())
        .args(["create", "-f", "-"])
        .write_stdin(body)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn task_file_errors_are_placed_on_their_field() {
    for (line, expected) in [
        (
            "metadata: [1]",
            "tasks/x.yaml:3:1: error: metadata: invalid type: sequence, expected a map",
        ),
        (
            "created_at: yesterday",
            "tasks/x.yaml:3:1: error: created_at: not an RFC 3339 timestamp, e.g. 2026-11-29T10:00:00Z",
        ),
        (
            "created_at: 2026-11-29T10:00:00+24:00",
            "tasks/x.yaml:3:1: error: created_at: not an RFC 3339 timestamp, e.g. 2026-11-29T10:00:00Z: the offset `+24:00` is out of range (at most ±23:59)",
        ),
        (
            "sample_ms: -5",
            "tasks/x.yaml:3:12: error: sample_ms: invalid type: integer `-5`, expected a whole number from 0 to 4294967295",
        ),
        (
            "name: \"unterminated",
            "tasks/x.yaml:3:7: error: name: unterminated quoted string",
        ),
        (
            "id: [",
            "tasks/x.yaml:3:6: error: id: syntax error: while parsing a node, did not find expected node content",
        ),
    ] {
        assert_eq!(validate_line(line), expected, "{line}");
    }
    assert!(validate_line("created_at: null").ends_with("1 file checked, 0 invalid"));
}

#[test]
fn request_body_errors_say_what_a_body_looks_like() {
    for (body, expected) in [
        (
            r#"[{"id": "a"}]"#,
            "the body is a list; a request body is an object",
        ),
        (
            r#"[{"id": "a"}]"#,
            r#"wrap the tasks in an object: {"tasks": [...]}"#,
        ),
        ("- id: a\n", "the body is a list"),
        (
            "id: a\ntype: TYPE_NOT_SET\n",
            "a request body wraps tasks in `tasks: [...]`",
        ),
        (
            "\"just a string\"\n",
            r#"expected a request body like {"tasks": [...]}"#,
        ),
        (r#"{"tasks": [{"sample_ms": -1}]}"#, "<stdin>:1:"),
    ] {
        let stderr = create_body(body);
        assert!(stderr.contains(expected), "{body}: {stderr}");
        assert!(!stderr.contains("struct"), "{body}: {stderr}");
    }
}

#[test]
fn errors_echo_at_most_about_200_bytes_of_input() {
    let huge = "b".repeat(200_000);
    let stderr = create_body(&format!(r#"{{"tasks": [{{"sample_ms": "{huge}"}}]}}"#));
    assert!(stderr.len() < 600, "{} bytes", stderr.len());
}
