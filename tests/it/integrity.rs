//! The promise that a bad file never destroys good data, end to end on the real binary:
//! identity conflicts in every name order, writes that could not be read back, paths the
//! sync cannot read, and closed pipes.

use std::fs;
use std::os::unix::fs::symlink;
use std::process::Command;

use crate::common::{BIN, Project};

impl Project {
    /// The name `get` serves for an id, or the status code it fails with.
    fn served(&self, id: &str) -> Result<String, u64> {
        let (answer, _) = self.answer(&["get", id]);
        match answer["task"]["id"].as_str() {
            Some(_) => Ok(answer["task"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()),
            None => Err(answer["status"]["code"].as_u64().unwrap()),
        }
    }
}

fn task(id: &str, name: &str) -> String {
    format!("id: {id}\nname: {name}\ninput_source: {{type: ALL_INPUTS}}\n")
}

/// Both name orders of a second file beside `tasks/orig.yaml`: one sorts before it, one after.
const SECOND: [&str; 2] = ["tasks/0-copy.yaml", "tasks/zz-copy.yaml"];

/// `orig.yaml` defines `shared`, synced; then `second` claims `shared` too.
fn conflicted(second: &str, text: &str) -> Project {
    let project = Project::new();
    project.write("tasks/orig.yaml", &task("shared", "original"));
    assert!(project.run(&["sync"]).status.success());
    project.write(second, text);
    project
}

#[test]
fn a_conflict_serves_the_version_before_it_in_any_name_order_and_any_number_of_syncs() {
    for second in SECOND {
        for text in [
            task("shared", "edited copy"),
            task("shared", "original"),
            // Does not decode, and names the id on its id line.
            "id: shared\nname: [unclosed\n".to_owned(),
        ] {
            let project = conflicted(second, &text);
            for round in 0..3 {
                let out = project.run(&["sync"]);
                let printed = String::from_utf8_lossy(&out.stdout);
                assert!(
                    printed.contains(" 0 removed"),
                    "{second} round {round}: {printed}"
                );
                assert_eq!(
                    project.served("shared"),
                    Ok("original".into()),
                    "{second} with {text:?}, sync {round}"
                );
            }
            let (status, _) = project.answer(&["status"]);
            let reports = status["reports"].to_string();
            assert!(reports.contains("tasks/orig.yaml"), "{reports}");
            assert!(reports.contains(second), "{reports}");
            // Ending the conflict serves the file that is left.
            fs::remove_file(project.root().join(second)).unwrap();
            assert!(project.run(&["sync"]).status.success());
            assert_eq!(project.served("shared"), Ok("original".into()));
        }
    }
}

#[test]
fn writes_to_a_conflicted_id_are_refused_and_touch_nothing() {
    for second in SECOND {
        let project = conflicted(second, &task("shared", "draft"));
        let before = |p: &Project| {
            (
                fs::read(p.root().join("tasks/orig.yaml")).unwrap(),
                fs::read(p.root().join(second)).unwrap(),
            )
        };
        let files = before(&project);
        let update = project.body("request", 
            r#"{"action": "overwrite", "tasks": [{"id": "shared", "name": "new", "input_source": {"type": "ALL_INPUTS"}}]}"#,
        );
        for args in [
            vec!["update", "-f", update.as_str()],
            vec!["delete", "shared"],
        ] {
            let (answer, code) = project.answer(&args);
            assert_eq!(code, 1, "{args:?}");
            assert_eq!(answer["status"]["code"], 54100, "{args:?}: {answer}");
            let details = answer["status"]["details"].as_str().unwrap();
            assert!(
                details.contains("tasks/orig.yaml") && details.contains(second),
                "names every claiming file: {details}"
            );
            assert_eq!(before(&project), files, "{args:?} wrote nothing");
        }
        assert!(project.run(&["sync"]).status.code() == Some(1));
        assert_eq!(project.served("shared"), Ok("original".into()));
    }
}

#[test]
fn create_refuses_an_id_that_any_file_claims() {
    let project = Project::new();
    project.write("tasks/draft.yaml", "id: taken\nname: [unclosed\n");
    project.write("tasks/other.yaml", "name: [unclosed\n");
    let body = |id: &str| {
        project.body(
            "request",
            &format!(
                r#"{{"tasks": [{{"id": "{id}", "input_source": {{"type": "ALL_INPUTS"}}}}]}}"#
            ),
        )
    };
    for id in ["taken", "other"] {
        let (answer, code) = project.answer(&["create", "-f", &body(id)]);
        assert_eq!(
            (code, answer["status"]["code"].clone()),
            (1, 54100.into()),
            "{id}"
        );
    }
    assert!(!project.exists("tasks/taken.yaml"));
    let draft = fs::read_to_string(project.root().join("tasks/other.yaml")).unwrap();
    assert_eq!(draft, "name: [unclosed\n", "the draft is left as it was");
}

#[test]
fn a_request_that_names_an_id_twice_is_refused_whole() {
    let project = Project::new();
    project.write("tasks/x.yaml", &task("x", "x"));
    let (answer, code) = project.answer(&["delete", "x", "x"]);
    assert_eq!((code, answer["status"]["code"].clone()), (1, 11102.into()));
    assert!(
        answer["status"]["details"]
            .as_str()
            .unwrap()
            .contains("id `x` appears twice in this request"),
        "{answer}"
    );
    assert!(project.exists("tasks/x.yaml"), "nothing was deleted");

    let twice = project.body("request", 
        r#"{"tasks": [{"id": "y", "input_source": {"type": "ALL_INPUTS"}}, {"id": "y", "input_source": {"type": "ALL_INPUTS"}}]}"#,
    );
    let (answer, code) = project.answer(&["create", "-f", &twice]);
    assert_eq!((code, answer["status"]["code"].clone()), (1, 11102.into()));
    assert!(
        answer["status"]["details"]
            .as_str()
            .unwrap()
            .contains("tasks[1].id")
    );
    assert!(!project.exists("tasks/y.yaml"));
}

#[test]
fn a_task_too_large_to_read_back_is_refused_before_writing() {
    let project = Project::new();
    let big = "x".repeat(1 << 20);
    let body = project.body("request", &format!(
        r#"{{"tasks": [{{"id": "big", "description": "{big}", "input_source": {{"type": "ALL_INPUTS"}}}}]}}"#
    ));
    let (answer, code) = project.answer(&["create", "-f", &body]);
    assert_eq!((code, answer["status"]["code"].clone()), (1, 11102.into()));
    assert!(!project.exists("tasks/big.yaml"));
    // The id is not stuck: a smaller task takes it.
    let small = project.body(
        "request",
        r#"{"tasks": [{"id": "big", "input_source": {"type": "ALL_INPUTS"}}]}"#,
    );
    assert_eq!(project.answer(&["create", "-f", &small]).1, 0);
    assert!(project.served("big").is_ok());
}

#[test]
fn unreadable_paths_are_diagnostics_and_everything_else_works() {
    let project = Project::new();
    project.write("tasks/good.yaml", &task("good", "good"));
    // Deeper than PATH_MAX (4096) from the root: made one folder at a time, relative to the
    // last, as no full path that long can be opened.
    let part = "d".repeat(200);
    let script = format!(
        "cd tasks && for i in $(seq 25); do mkdir {part} && cd {part}; done && printf '{}' > deep.yaml",
        task("deep", "deep").replace('\n', "\\n")
    );
    let made = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(project.root())
        .status()
        .unwrap();
    assert!(made.success());

    let out = project.run(&["sync"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(project.served("good"), Ok("good".into()));
    let (status, code) = project.answer(&["status"]);
    assert_eq!(code, 0);
    assert!(status.to_string().contains("too long"), "{status}");
}

#[test]
fn links_and_odd_names_are_reported_the_same_by_every_command() {
    let project = Project::new();
    project.write("tasks/good.yaml", &task("good", "good"));
    project.write("tasks/upper.YAML", &task("upper", "upper"));
    symlink("/etc/passwd", project.root().join("tasks/passwd.yaml")).unwrap();
    fs::create_dir(project.root().join("outside")).unwrap();
    project.write("outside/o.yaml", &task("o", "o"));
    symlink(
        project.root().join("outside"),
        project.root().join("tasks/linked"),
    )
    .unwrap();
    let odd = std::ffi::OsStr::from_encoded_bytes_unchecked_safe(b"bad\xff.yaml");
    fs::write(project.root().join("tasks").join(odd), task("odd", "odd")).unwrap();

    assert_eq!(project.run(&["sync"]).status.code(), Some(1));
    assert_eq!(project.served("good"), Ok("good".into()));
    assert_eq!(
        project.served("upper"),
        Ok("upper".into()),
        ".YAML is a task file"
    );
    assert!(
        project.served("o").is_err(),
        "a linked folder is not followed"
    );
    let (status, _) = project.answer(&["status"]);
    let reports = status["reports"].to_string();
    for path in [
        "tasks/passwd.yaml",
        "tasks/linked",
        "tasks/bad\u{fffd}.yaml",
    ] {
        assert!(reports.contains(path), "{path} is reported: {reports}");
    }
    assert!(
        !reports.contains("root:"),
        "nothing of the linked file is read: {reports}"
    );

    let validate = project.run(&["validate"]);
    let printed = String::from_utf8_lossy(&validate.stdout);
    assert_eq!(validate.status.code(), Some(1));
    assert!(printed.contains("symbolic link"), "{printed}");
    let one = project.root().join("tasks/passwd.yaml");
    let validate = project.run(&["validate", one.to_str().unwrap()]);
    assert_eq!(
        validate.status.code(),
        Some(1),
        "a link named alone is refused too"
    );
}

trait FromBytes {
    fn from_encoded_bytes_unchecked_safe(bytes: &[u8]) -> &std::ffi::OsStr;
}

impl FromBytes for std::ffi::OsStr {
    fn from_encoded_bytes_unchecked_safe(bytes: &[u8]) -> &std::ffi::OsStr {
        std::os::unix::ffi::OsStrExt::from_bytes(bytes)
    }
}

#[test]
fn closed_pipes_end_commands_quietly() {
    let project = Project::new();
    for i in 0..2000 {
        project.write(&format!("tasks/t{i}.yaml"), &task(&format!("t{i}"), "n"));
    }
    assert!(project.run(&["sync"]).status.success());
    for args in [
        "list --per-page 1000",
        "list --per-page 1000 -o json",
        "schema",
        "completions bash",
        "validate",
    ] {
        let script = format!(
            "set -o pipefail; '{BIN}' --root '{}' {args} | head -c 1 >/dev/null",
            project.root().display()
        );
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args}: {stderr}");
        assert!(
            !stderr.contains("Broken pipe") && !stderr.contains("error"),
            "{args}: {stderr}"
        );
    }
}

#[test]
fn every_acknowledged_write_reads_back_as_sent() {
    let project = Project::new();
    // Strings that look like numbers to some YAML reader, numbers at the edges of their
    // ranges, and text YAML must quote or fold.
    let metadata = serde_json::json!({
        "a": "007", "b": "0b101", "c": "+0x1F", "d": ".inf", "e": "1e400", "f": "0x10",
        "g": "0o7", "h": "yes", "i": "1_000", "j": "- x", "k": "a #b", "l": "line\nbreak",
        "m": "99999999999999999999", "n": 18446744073709551615u64, "o": i64::MIN, "p": 1e300,
        "q": "\t tab", "r": "null", "s": "~", "t": "", "u": "é ✓", "v": [1, "1", 1.5, true],
        "w": {"nested": "0o17"}, "x": "'quoted'", "y": "\"double\"", "z": "true"
    });
    let sent = serde_json::json!({"id": "rt", "input_source": {"type": "ALL_INPUTS"}, "metadata": metadata});
    let create = project.body("request", &serde_json::json!({"tasks": [sent]}).to_string());
    assert_eq!(project.answer(&["create", "-f", &create]).1, 0);
    let (got, code) = project.answer(&["get", "rt"]);
    assert_eq!(code, 0, "{got}");
    assert_eq!(got["task"]["metadata"], metadata);
    // The same from a fresh index, which reads the file anew.
    let fresh = project.root().join("fresh.db");
    let (again, _) = project.answer(&["--db", fresh.to_str().unwrap(), "get", "rt"]);
    assert_eq!(again["task"]["metadata"], metadata);
    let update = project.body("request", 
        &serde_json::json!({"action": "overwrite", "tasks": [{"id": "rt", "input_source": {"type": "ALL_INPUTS"}, "metadata": {"e": "1e400", "n": 7}}]}).to_string(),
    );
    assert_eq!(project.answer(&["update", "-f", &update]).1, 0);
    let (got, _) = project.answer(&["get", "rt"]);
    assert_eq!(
        got["task"]["metadata"],
        serde_json::json!({"e": "1e400", "n": 7})
    );
}
