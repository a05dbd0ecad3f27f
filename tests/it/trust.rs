//! Work that cannot be forged or misread, and labels that can be corrected (issue 26): the real
//! binary on real temp folders. Corrections (PatchAnnotations, DeleteAnnotations, posting the
//! same annotation twice) through the official Python client's JSON and gRPC channels;
//! LABEL_WITHDRAW over HTTP with the counts and `explain` after it; a table of forged and
//! refused lines, each not counted, reported at its line, and answered the same by a rebuilt
//! index.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::common::{BIN, KeyedServer, python};

/// The task corrections are made on: every input reviewed by rita.
const FIX: &str = "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog, bird]\n\
    input_source: {type: DATASET, id: day}\n\
    worker: {strategy: FULL, user_ids: [ann, bob]}\n\
    review: {strategy: MANUAL, user_ids: [rita, sam], manual_strategy_info: {sample_percentage: 1}}\n";

/// A task ann is not in.
const OTHER: &str = "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat]\n\
    input_source: {type: DATASET, id: day}\n\
    worker: {strategy: FULL, user_ids: [bob]}\nreview: {strategy: NONE}\n";

/// A detection task, for geometry.
const BOXES: &str = "type: BOUNDING_BOX_DETECTION\nconcept_ids: [car]\n\
    input_source: {type: DATASET, id: day}\n\
    worker: {strategy: FULL, user_ids: [ann]}\nreview: {strategy: NONE}\n";

const KEYS: &str = r#"{"key-ann": "ann", "key-bob": "bob", "key-rita": "rita", "key-sam": "sam", "key-carl": "carl"}"#;

/// A project with inputs in-1 to in-3 and the task `fix`.
fn project() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("tasks")).unwrap();
    fs::create_dir_all(dir.path().join("inputs")).unwrap();
    let lines: String = (1..=3)
        .map(|i| format!("{{\"id\": \"in-{i}\"}}\n"))
        .collect();
    fs::write(dir.path().join("inputs/day.jsonl"), lines).unwrap();
    fs::write(dir.path().join("tasks/fix.yaml"), FIX).unwrap();
    fs::write(dir.path().join("tasks/other.yaml"), OTHER).unwrap();
    fs::write(dir.path().join("tasks/boxes.yaml"), BOXES).unwrap();
    dir
}

/// A running `annotask serve --keys` on a project, with this module's keys.
struct Served(KeyedServer);

impl std::ops::Deref for Served {
    type Target = KeyedServer;
    fn deref(&self) -> &KeyedServer {
        &self.0
    }
}

impl Served {
    fn start(root: &Path) -> Served {
        Served(KeyedServer::start(root, KEYS))
    }

    /// PutTaskAssignments on `fix` as `user`.
    fn put(&self, user: &str, body: Value) -> (u16, Value) {
        self.call(
            user,
            "PUT",
            "/v2/users/me/apps/app/tasks/fix/assignments",
            Some(body),
        )
    }

    /// `user`'s assignment states on `fix`, as LABEL_START and the others answer them.
    fn states(answer: &Value) -> Vec<(String, u64)> {
        answer["task_assignments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["id"].as_str().unwrap().to_owned(),
                    a["status"]["code"].as_u64().unwrap(),
                )
            })
            .collect()
    }
}

/// Runs the binary on `root`: exit code, stdout, stderr. Tables and notes are as wide as
/// their longest line, so that what the tests look for is never wrapped.
fn annotask(root: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("--root")
        .arg(root)
        .args(args)
        .env("COLUMNS", "1000")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs tests/python/corrections_test.py on `face` (`json` or `grpc`) against a fresh server.
fn corrections_through_the_official_client(face: &str) {
    let root = project();
    let served = Served::start(root.path());
    let address = match face {
        "json" => served.server.base.clone(),
        _ => served
            .server
            .base
            .strip_prefix("http://")
            .unwrap()
            .to_owned(),
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/corrections_test.py");
    let output = Command::new(python::python())
        .arg(script)
        .args([face, address.as_str()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Every correction is an event in ann's own file; nobody else's file was written.
    let work = root.path().join("work/fix");
    let mut files: Vec<String> = fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["ann.jsonl", "rita.jsonl"]);
    let ann = fs::read_to_string(work.join("ann.jsonl")).unwrap();
    assert_eq!(ann.matches("\"delete\"").count(), 1, "{ann}");
    // One annotation line for the two identical posts.
    assert_eq!(ann.matches("\"input_id\":\"in-1\"").count(), 5, "{ann}");
}

#[test]
fn corrections_through_the_official_python_client_json() {
    corrections_through_the_official_client("json");
}

#[test]
fn corrections_through_the_official_python_client_grpc() {
    corrections_through_the_official_client("grpc");
}

fn annotate(served: &Served, user: &str, input: &str, concept: &str) {
    let body = json!({"annotations": [{"id": format!("{user}-{input}"), "task_id": "fix",
        "input_id": input, "data": {"concepts": [{"id": concept, "value": 1}]}}]});
    let (status, value) = served.call(user, "POST", "/v2/annotations", Some(body));
    assert_eq!(status, 200, "{value}");
}

fn submit(served: &Served, user: &str, input: &str) -> Value {
    let body = json!({"action": "LABEL_SUBMIT", "label_submit_config":
        {"task_assignments": [{"id": format!("{input}.{user}")}]}});
    let (status, value) = served.put(user, body);
    assert_eq!(status, 200, "{value}");
    value
}

fn withdraw(served: &Served, user: &str, input: &str) -> (u16, Value) {
    served.put(user, json!({"action": "LABEL_WITHDRAW", "input_id": input}))
}

/// ann's counts on `fix`: pending, awaiting review, success.
fn ann_counts(served: &Served) -> [u64; 3] {
    let (_, counts) = served.call("ann", "GET", "/v2/tasks/fix/inputs/count", None);
    let row = counts["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["worker"]["user"]["id"] == "ann")
        .unwrap()
        .clone();
    ["pending", "awaiting_review", "success"].map(|k| row[k].as_u64().unwrap_or(0))
}

#[test]
fn a_worker_withdraws_an_undecided_submission() {
    let root = project();
    let served = Served::start(root.path());
    annotate(&served, "ann", "in-1", "cat");
    let submitted = submit(&served, "ann", "in-1");
    assert_eq!(Served::states(&submitted), [("in-1.ann".into(), 54202)]);
    assert_eq!(ann_counts(&served), [2, 1, 0]);
    let (status, value) = withdraw(&served, "ann", "in-1");
    assert_eq!(status, 200, "{value}");
    assert_eq!(Served::states(&value), [("in-1.ann".into(), 54201)]);
    assert_eq!(ann_counts(&served), [3, 0, 0]);
    let file = fs::read_to_string(root.path().join("work/fix/ann.jsonl")).unwrap();
    assert!(
        file.lines()
            .last()
            .unwrap()
            .contains(r#""withdraw":{"input_id":"in-1","submission":1}"#),
        "{file}"
    );
    // Nothing to withdraw now.
    let (status, value) = withdraw(&served, "ann", "in-1");
    assert_eq!(status, 400, "{value}");
    // Changed and submitted again: submission 2, which rita approves; then it is decided.
    annotate(&served, "ann", "in-1", "dog");
    submit(&served, "ann", "in-1");
    let approve = json!({"action": "REVIEW_APPROVE", "review_approve_config":
        {"task_assignments": [{"id": "in-1.ann"}]}});
    let (status, value) = served.put("rita", approve);
    assert_eq!(status, 200, "{value}");
    let (status, value) = withdraw(&served, "ann", "in-1");
    assert_eq!(status, 403, "{value}");
    let details = value["status"]["details"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
        + value["status"]["description"].as_str().unwrap_or_default();
    assert!(details.contains("rita"), "{value}");
    assert_eq!(ann_counts(&served), [2, 0, 1]);
    drop(served);
    let (code, out, err) = annotask(root.path(), &["explain", "fix", "in-1"]);
    assert_eq!(code, 0, "{err}");
    for told in [
        "ann submitted (submission 1, line 2)",
        "ann withdrew submission 1 (line 3)",
        "ann submitted (submission 2, line 5): dog=1",
        "rita approved ann's submission 2 (their line 1, written ",
        "this input is in it, so a reviewer decides each submission",
    ] {
        assert!(out.contains(told), "{told}\n{out}");
    }
}

/// Who writes what, on which task; `{at}` is replaced with a time.
struct Forged {
    name: &'static str,
    /// The file under `work/`, and the line appended to it.
    file: &'static str,
    line: &'static str,
    /// What the diagnostic says, in part.
    says: &'static str,
}

/// Lines the API refuses, written by hand into the files ([`HISTORY`] before each).
const FORGED: &[Forged] = &[
    Forged {
        name: "self-approval",
        file: "fix/ann.jsonl",
        line: r#"{"at":"{at}","review":{"input_id":"in-1","worker":"ann","submission":1,"decision":"APPROVE"}}"#,
        says: "`ann` is not a reviewer of task `fix`",
    },
    Forged {
        name: "a decision in a worker's file, in another's name",
        file: "fix/bob.jsonl",
        line: r#"{"at":"{at}","review":{"input_id":"in-1","worker":"ann","submission":1,"decision":"APPROVE"}}"#,
        says: "`bob` is not a reviewer of task `fix`",
    },
    Forged {
        name: "a backdated decision",
        file: "fix/sam.jsonl",
        line: r#"{"at":"1970-01-01T00:00:00Z","review":{"input_id":"in-2","worker":"ann","submission":1,"decision":"APPROVE"}}"#,
        says: "",
    },
    Forged {
        name: "someone else's decision in a reviewer's file",
        file: "fix/rita.jsonl",
        line: r#"{"at":"{at}","review":{"input_id":"in-1","worker":"rita","submission":1,"decision":"APPROVE"}}"#,
        says: "`rita` decides on their own work",
    },
    Forged {
        name: "a file of someone who is no worker",
        file: "fix/carl.jsonl",
        line: r#"{"at":"{at}","submit":{"input_id":"in-2"}}"#,
        says: "`carl` is not a worker of task `fix`",
    },
    Forged {
        name: "a task the writer is not in",
        file: "other/ann.jsonl",
        line: r#"{"at":"{at}","submit":{"input_id":"in-2"}}"#,
        says: "`ann` is not a worker of task `other`",
    },
    Forged {
        name: "geometry out of range",
        file: "boxes/ann.jsonl",
        line: r#"{"at":"{at}","annotation":{"id":"x","input_id":"in-2","data":{"regions":[{"region_info":{"bounding_box":{"top_row":0.1,"left_col":0.1,"bottom_row":1.5,"right_col":0.5}},"data":{"concepts":[{"id":"car"}]}}]}}}"#,
        says: "a bounding box's coordinates are from 0 to 1",
    },
    Forged {
        name: "an input outside the source",
        file: "fix/ann.jsonl",
        line: r#"{"at":"{at}","annotation":{"id":"x","input_id":"photo-99","data":{"concepts":[{"id":"cat","value":1}]}}}"#,
        says: "input `photo-99` is not in task `fix`'s input source",
    },
    Forged {
        name: "an unknown concept",
        file: "fix/ann.jsonl",
        line: r#"{"at":"{at}","annotation":{"id":"x","input_id":"in-2","data":{"concepts":[{"id":"unicorn","value":1}]}}}"#,
        says: "`unicorn` is not one of task `fix`'s concepts",
    },
    Forged {
        name: "a bad value",
        file: "fix/ann.jsonl",
        line: r#"{"at":"{at}","annotation":{"id":"x","input_id":"in-2","data":{"concepts":[{"id":"cat","value":7}]}}}"#,
        says: "7 is not a value from 0 to 1",
    },
];

/// The answers a forged line must not change: counts, annotations, each input's outcome.
fn answers(root: &Path) -> String {
    let mut all = String::new();
    for task in ["fix", "other", "boxes"] {
        for extra in [&[][..], &["--annotations"][..]] {
            let args = [&["counts", task, "-o", "json"][..], extra].concat();
            let (code, counts, err) = annotask(root, &args);
            assert_eq!(code, 0, "{err}");
            all.push_str(&counts);
        }
        for input in ["in-1", "in-2", "photo-99"] {
            let (code, out, err) = annotask(root, &["explain", task, input, "-o", "json"]);
            assert_eq!(code, 0, "{err}");
            let explained: Value = serde_json::from_str(&out).unwrap();
            for key in ["assignments", "annotations", "outcome"] {
                all.push_str(&explained[key].to_string());
            }
        }
    }
    all
}

/// The history every forged line is added to: ann labeled in-1 and in-2 and submitted both;
/// rita asked for changes on in-2.
const HISTORY: [(&str, &str); 2] = [
    (
        "fix/ann.jsonl",
        concat!(
            r#"{"at":"2026-12-01T10:00:00Z","annotation":{"id":"a1","input_id":"in-1","data":{"concepts":[{"id":"cat","value":1}]}}}"#,
            "\n",
            r#"{"at":"2026-12-01T10:00:01Z","submit":{"input_id":"in-1"}}"#,
            "\n",
            r#"{"at":"2026-12-01T10:00:02Z","annotation":{"id":"a2","input_id":"in-2","data":{"concepts":[{"id":"dog","value":1}]}}}"#,
            "\n",
            r#"{"at":"2026-12-01T10:00:03Z","submit":{"input_id":"in-2"}}"#,
            "\n",
        ),
    ),
    (
        "fix/rita.jsonl",
        concat!(
            r#"{"at":"2026-12-01T11:00:00Z","review":{"input_id":"in-2","worker":"ann","submission":1,"decision":"REQUEST_CHANGES"}}"#,
            "\n",
        ),
    ),
];

#[test]
fn forged_lines_are_not_counted_and_are_reported_at_their_line() {
    for forged in FORGED {
        let root = project();
        for (file, text) in HISTORY {
            let path = root.path().join("work").join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
        let honest = answers(root.path());
        let path = root.path().join("work").join(forged.file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let before = fs::read_to_string(&path).unwrap_or_default();
        let line_no = before.lines().count() + 1;
        fs::write(
            &path,
            format!(
                "{before}{}\n",
                forged.line.replace("{at}", "2026-12-02T10:00:00Z")
            ),
        )
        .unwrap();
        // Every line leaves the answers as they were; each but the backdated decision (sam
        // may decide: his approval is overruled by rita's stricter request, whatever its time)
        // is reported.
        let after = answers(root.path());
        assert_eq!(
            after, honest,
            "{}: the line changed the answers",
            forged.name
        );
        if !forged.says.is_empty() {
            let (code, out, err) = annotask(root.path(), &["validate"]);
            let text = format!("{out}{err}");
            let at = format!("work/{}:{line_no}:1", forged.file);
            assert!(
                text.contains(&at),
                "{}: not reported at {at}\n{text}",
                forged.name
            );
            assert!(text.contains(forged.says), "{}: {text}", forged.name);
            assert_eq!(
                code, 0,
                "{}: a refused line is a warning\n{text}",
                forged.name
            );
            let (_, out, _) = annotask(root.path(), &["status"]);
            assert!(
                out.contains(&at),
                "{}: status does not say\n{out}",
                forged.name
            );
            // explain -o json lists it on its input.
            let (task, _) = forged.file.split_once('/').unwrap();
            let input = ["in-1", "in-2", "photo-99"]
                .into_iter()
                .find(|i| forged.line.contains(&format!("\"{i}\"")))
                .unwrap();
            let (_, out, _) = annotask(root.path(), &["explain", task, input, "-o", "json"]);
            let explained: Value = serde_json::from_str(&out).unwrap();
            let flagged = &explained["flagged"];
            assert!(
                flagged
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| f["file"] == format!("work/{}", forged.file).as_str()
                        && f["line"] == line_no),
                "{}: {flagged}",
                forged.name
            );
        }
        // The same answers from an index rebuilt from the files.
        fs::remove_dir_all(root.path().join(".annotask")).unwrap();
        assert_eq!(answers(root.path()), after, "{}: rebuilt", forged.name);
    }
}

/// ann's file on `fix`: in-1 labeled `cat` and submitted (awaiting rita's review).
const ANN: &str = concat!(
    r#"{"at":"2026-12-01T10:00:00Z","annotation":{"id":"a1","input_id":"in-1","data":{"concepts":[{"id":"cat","value":1}]}}}"#,
    "\n",
    r#"{"at":"2026-12-01T10:00:01Z","submit":{"input_id":"in-1"}}"#,
    "\n",
);

/// ann's annotations on in-1 of `fix`, as `explain` lists them.
fn ann_concepts(root: &Path) -> Vec<String> {
    let (code, out, err) = annotask(root, &["explain", "fix", "in-1", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let explained: Value = serde_json::from_str(&out).unwrap();
    explained["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["data"]["concepts"].as_array().unwrap().clone())
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_file_too_large_to_read_keeps_its_events_until_it_can_be_read() {
    let root = project();
    let file = root.path().join("work/fix/ann.jsonl");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, ANN).unwrap();
    let before = answers(root.path());
    assert_eq!(ann_concepts(root.path()), ["cat"]);
    // Sparse: over the limit without writing 512 MiB.
    fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(600 << 20)
        .unwrap();
    assert_eq!(answers(root.path()), before, "the events stay");
    let (_, out, _) = annotask(root.path(), &["status"]);
    assert!(out.contains("work files are limited to"), "{out}");
    // Readable again, with one more line: read whole, nothing counted twice.
    let more = r#"{"at":"2026-12-01T10:00:02Z","annotation":{"id":"a2","input_id":"in-2","data":{"concepts":[{"id":"dog","value":1}]}}}"#;
    fs::write(&file, format!("{ANN}{more}\n")).unwrap();
    let after = answers(root.path());
    assert_ne!(after, before);
    assert_eq!(ann_concepts(root.path()), ["cat"]);
    fs::remove_dir_all(root.path().join(".annotask")).unwrap();
    assert_eq!(answers(root.path()), after, "rebuilt");
}

#[test]
fn a_line_edited_in_place_with_an_append_is_read_whole() {
    let root = project();
    let file = root.path().join("work/fix/ann.jsonl");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, ANN).unwrap();
    assert_eq!(ann_concepts(root.path()), ["cat"]);
    // `cat` becomes `dog` (the same length), and a line is added.
    let edited = ANN.replacen("\"cat\"", "\"dog\"", 1);
    assert_eq!(edited.len(), ANN.len());
    let more = r#"{"at":"2026-12-01T10:00:02Z","annotation":{"id":"a2","input_id":"in-2","data":{"concepts":[{"id":"dog","value":1}]}}}"#;
    fs::write(&file, format!("{edited}{more}\n")).unwrap();
    assert_eq!(ann_concepts(root.path()), ["dog"]);
    let after = answers(root.path());
    fs::remove_dir_all(root.path().join(".annotask")).unwrap();
    assert_eq!(answers(root.path()), after, "rebuilt");
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let root = project();
    let file = root.path().join("work/fix/ann.jsonl");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, format!("\u{feff}{ANN}")).unwrap();
    assert_eq!(ann_concepts(root.path()), ["cat"]);
    let (code, out, err) = annotask(root.path(), &["validate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("ann.jsonl"), "{out}");
}

#[test]
fn human_output_shows_a_files_first_problems_then_a_count() {
    let root = project();
    let file = root.path().join("work/fix/ann.jsonl");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, "not json\n".repeat(5000)).unwrap();
    let (code, out, err) = annotask(root.path(), &["validate"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out.matches("expected ident").count(), 20, "{out}");
    assert!(
        out.contains("work/fix/ann.jsonl: 4980 more problems not shown (`-o json` lists them all)"),
        "{out}"
    );
    let (_, json, _) = annotask(root.path(), &["validate", "-o", "json"]);
    assert_eq!(json.matches("expected ident").count(), 5000);
}

/// `git` in `dir` as `who` (`ann` commits as ann@example.org).
fn git(dir: &Path, who: &str, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", &format!("user.name={who}")])
        .args(["-c", &format!("user.email={who}@example.org")])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Appends `text` to `path` under the project and commits it as `who`.
fn commit(dir: &Path, who: &str, path: &str, text: &str, append: bool) {
    let file = dir.join(path);
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    let before = if append {
        fs::read_to_string(&file).unwrap_or_default()
    } else {
        String::new()
    };
    fs::write(&file, format!("{before}{text}")).unwrap();
    git(dir, who, &["add", "-A"]);
    git(dir, who, &["commit", "-q", "-m", path]);
}

/// A git repository holding the project, team.yaml and a first commit; returns the commit.
fn team_repository() -> (TempDir, String) {
    let root = project();
    let dir = root.path();
    fs::write(
        dir.join("team.yaml"),
        "ann: {emails: [ann@example.org]}\nbob: {emails: [bob@example.org]}\nrita: {emails: [rita@example.org]}\n",
    )
    .unwrap();
    git(dir, "lead", &["init", "-q", "-b", "main"]);
    git(dir, "lead", &["add", "-A"]);
    git(dir, "lead", &["commit", "-q", "-m", "the project"]);
    let base = git(dir, "lead", &["rev-parse", "HEAD"]).trim().to_owned();
    (root, base)
}

const SUBMIT: &str = "{\"at\":\"2026-12-01T10:00:01Z\",\"submit\":{\"input_id\":\"in-1\"}}\n";

/// `validate --commits BASE..HEAD` (and `extra`): exit code and stdout.
fn commits(dir: &Path, base: &str, extra: &[&str]) -> (i32, String) {
    let range = format!("{base}..HEAD");
    let args = [&["validate", "--commits", range.as_str()][..], extra].concat();
    let (code, out, err) = annotask(dir, &args);
    (code, format!("{out}{err}"))
}

#[test]
fn validate_commits_checks_who_wrote_each_work_file_and_that_it_only_grew() {
    let (root, base) = team_repository();
    let dir = root.path();
    // A clean history: each person appends to their own file.
    commit(dir, "ann", "work/fix/ann.jsonl", ANN, true);
    commit(dir, "ann", "work/fix/ann.jsonl", SUBMIT, true);
    let review = "{\"at\":\"2026-12-01T11:00:00Z\",\"review\":{\"input_id\":\"in-1\",\"worker\":\"ann\",\"submission\":1,\"decision\":\"APPROVE\"}}\n";
    commit(dir, "rita", "work/fix/rita.jsonl", review, true);
    let (code, out) = commits(dir, &base, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 commits checked, 0 findings"), "{out}");
    let clean = git(dir, "lead", &["rev-parse", "HEAD"]).trim().to_owned();

    // ann writes in rita's file.
    commit(dir, "ann", "work/fix/rita.jsonl", review, true);
    let (code, out) = commits(dir, &clean, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("work/fix/rita.jsonl: commit ")
            && out.contains(": written by ann@example.org, who is not `rita` (team.yaml gives `rita` rita@example.org)"),
        "{out}"
    );
    let wrong = git(dir, "lead", &["rev-parse", "HEAD"]).trim().to_owned();

    // ann rewrites her first line.
    let rewritten = fs::read_to_string(dir.join("work/fix/ann.jsonl"))
        .unwrap()
        .replacen("\"cat\"", "\"dog\"", 1);
    commit(dir, "ann", "work/fix/ann.jsonl", &rewritten, false);
    let (code, out) = commits(dir, &wrong, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("work/fix/ann.jsonl:1: commit ")
            && out.contains("rewrites an earlier line: work files are only appended to"),
        "{out}"
    );
    // A file removed is a finding too.
    let rewrote = git(dir, "lead", &["rev-parse", "HEAD"]).trim().to_owned();
    git(dir, "bob", &["rm", "-q", "work/fix/rita.jsonl"]);
    git(dir, "bob", &["commit", "-q", "-m", "gone"]);
    let (code, out) = commits(dir, &rewrote, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("removes the work file"), "{out}");
    assert!(out.contains("who is not `rita`"), "{out}");

    // Unsigned commits, when signatures are required.
    let (code, out) = commits(dir, &base, &["--require-signed"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("not signed with a signature git can verify"),
        "{out}"
    );
    assert_eq!(out.matches("not signed").count(), 6, "{out}");
}

#[test]
fn a_commit_cannot_make_its_author_the_owner_of_the_files_it_writes() {
    let (root, base) = team_repository();
    let dir = root.path();
    fs::write(
        dir.join("team.yaml"),
        "ann: {emails: [ann@example.org]}\nrita: {emails: [rita@example.org, ann@example.org]}\n",
    )
    .unwrap();
    let review = "{\"at\":\"2026-12-01T11:00:00Z\",\"review\":{\"input_id\":\"in-1\",\"worker\":\"ann\",\"submission\":1,\"decision\":\"APPROVE\"}}\n";
    commit(dir, "ann", "work/fix/rita.jsonl", review, true);
    let (code, out) = commits(dir, &base, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("who is not `rita`"), "{out}");
}

#[test]
fn the_staged_check_covers_work_files_and_datasets() {
    let (root, _) = team_repository();
    let dir = root.path();
    commit(dir, "ann", "work/fix/ann.jsonl", ANN, true);
    let rewritten = ANN.replacen("\"cat\"", "\"dog\"", 1);
    fs::write(dir.join("work/fix/ann.jsonl"), rewritten).unwrap();
    git(dir, "ann", &["add", "-A"]);
    let (code, out, err) = annotask(dir, &["validate", "--staged"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("work/fix/ann.jsonl:1:1: error: an earlier line is rewritten"),
        "{out}"
    );
    // A staged line the replay refuses is a warning at its place; a broken dataset an error.
    git(dir, "ann", &["checkout", "-q", "--", "."]);
    git(dir, "ann", &["reset", "-q", "--hard"]);
    let forged = "{\"at\":\"2026-12-01T11:00:00Z\",\"review\":{\"input_id\":\"in-1\",\"worker\":\"ann\",\"submission\":1,\"decision\":\"APPROVE\"}}\n";
    fs::write(dir.join("work/fix/ann.jsonl"), format!("{ANN}{forged}")).unwrap();
    fs::write(dir.join("inputs/day.jsonl"), "{\"id\": \"in 1\"}\n").unwrap();
    git(dir, "ann", &["add", "-A"]);
    let (code, out, err) = annotask(dir, &["validate", "--staged"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("work/fix/ann.jsonl:3:1: warning: "), "{out}");
    assert!(out.contains("inputs/day.jsonl:1:"), "{out}");
}

#[test]
fn validate_reads_team_yaml() {
    let root = project();
    fs::write(
        root.path().join("team.yaml"),
        "ann: {emails: [ann@example.org]}\nbob: {emails: [ANN@example.org]}\n",
    )
    .unwrap();
    let (code, out, err) = annotask(root.path(), &["validate"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("team.yaml:2:") && out.contains("`ANN@example.org` is also `ann`'s"),
        "{out}"
    );
}

/// A DYNAMIC task of 40 inputs for ann and bob, in a git repository.
fn dynamic_repository() -> TempDir {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    fs::create_dir_all(dir.join("tasks")).unwrap();
    fs::create_dir_all(dir.join("inputs")).unwrap();
    let lines: String = (1..=40)
        .map(|i| format!("{{\"id\": \"in-{i:02}\"}}\n"))
        .collect();
    fs::write(dir.join("inputs/day.jsonl"), lines).unwrap();
    fs::write(
        dir.join("tasks/dyn.yaml"),
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat]\ninput_source: {type: DATASET, id: day}\n\
         worker: {strategy: DYNAMIC, user_ids: [ann, bob]}\nreview: {strategy: NONE}\n",
    )
    .unwrap();
    fs::write(dir.join(".gitignore"), ".annotask/\n").unwrap();
    git(dir, "lead", &["init", "-q", "-b", "main"]);
    git(dir, "lead", &["add", "-A"]);
    git(dir, "lead", &["commit", "-q", "-m", "the project"]);
    root
}

/// `user` takes batches of `dyn` in the clone at `dir` (a server of its own, offline from the
/// other clone); returns the inputs handed out, in order.
fn take(dir: &Path, user: &str, batches: usize) -> Vec<String> {
    let served = Served::start(dir);
    let mut taken = Vec::new();
    for _ in 0..batches {
        let (status, answer) = served.call(
            user,
            "PUT",
            "/v2/users/me/apps/app/tasks/dyn/assignments",
            Some(json!({"action": "LABEL_START"})),
        );
        assert_eq!(status, 200, "{answer}");
        let inputs: Vec<String> = answer["task_assignments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["input"]["id"].as_str().unwrap().to_owned())
            .collect();
        // Labeled and submitted, so the next LABEL_START hands out new inputs.
        for input in &inputs {
            let body = json!({"annotations": [{"task_id": "dyn", "input_id": input,
                "data": {"concepts": [{"id": "cat", "value": 1}]}}]});
            let (status, value) = served.call(user, "POST", "/v2/annotations", Some(body));
            assert_eq!(status, 200, "{value}");
            let submit = json!({"action": "LABEL_SUBMIT", "label_submit_config":
                {"task_assignments": [{"id": format!("{input}.{user}")}]}});
            let (status, value) = served.call(
                user,
                "PUT",
                "/v2/users/me/apps/app/tasks/dyn/assignments",
                Some(submit),
            );
            assert_eq!(status, 200, "{value}");
        }
        taken.extend(inputs);
    }
    drop(served);
    git(dir, user, &["add", "-A"]);
    git(
        dir,
        user,
        &["commit", "-q", "-m", &format!("{user}'s work")],
    );
    taken
}

#[test]
fn two_clones_labeling_a_dynamic_task_offline_do_not_collide_within_their_shares() {
    let origin = dynamic_repository();
    let clones = tempfile::tempdir().unwrap();
    let (a, b) = (clones.path().join("a"), clones.path().join("b"));
    for clone in [&a, &b] {
        git(
            clones.path(),
            "lead",
            &[
                "clone",
                "-q",
                origin.path().to_str().unwrap(),
                clone.to_str().unwrap(),
            ],
        );
    }
    // One batch each, apart: within each one's share, no input is handed to both.
    let ann = take(&a, "ann", 1);
    let bob = take(&b, "bob", 1);
    assert_eq!((ann.len(), bob.len()), (10, 10));
    assert!(ann.iter().all(|i| !bob.contains(i)), "{ann:?} {bob:?}");
    // Then each labels everything left in their clone: past their shares they meet.
    let ann_rest = take(&a, "ann", 3);
    let bob_rest = take(&b, "bob", 3);
    assert_eq!(ann.len() + ann_rest.len(), 40);
    assert_eq!(bob.len() + bob_rest.len(), 40);
    // Merged: both people's work counts, and status and explain say the inputs met.
    git(
        &a,
        "ann",
        &[
            "pull",
            "-q",
            "--no-rebase",
            "--no-edit",
            b.to_str().unwrap(),
            "main",
        ],
    );
    let (code, counts, err) = annotask(&a, &["counts", "dyn", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let counts: Value = serde_json::from_str(&counts).unwrap();
    let success: Vec<u64> = counts["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["success"].as_u64().unwrap())
        .collect();
    assert_eq!(success, [40, 40], "{counts}");
    let (_, status, _) = annotask(&a, &["status"]);
    assert!(status.contains("was also handed to bob"), "{status}");
    let met = ann_rest.iter().find(|i| bob_rest.contains(i)).unwrap();
    let (_, story, _) = annotask(&a, &["explain", "dyn", met]);
    assert!(
        story.contains("ann and bob were each handed the input"),
        "{story}"
    );
}

#[test]
fn a_reviewer_who_also_labels_cannot_decide_on_their_own_work() {
    let root = project();
    fs::write(
        root.path().join("tasks/both.yaml"),
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat]\ninput_source: {type: DATASET, id: day}\n\
         worker: {strategy: FULL, user_ids: [rita]}\n\
         review: {strategy: MANUAL, user_ids: [rita, sam], manual_strategy_info: {sample_percentage: 1}}\n",
    )
    .unwrap();
    let served = Served::start(root.path());
    let body = json!({"annotations": [{"task_id": "both", "input_id": "in-1",
        "data": {"concepts": [{"id": "cat", "value": 1}]}}]});
    let (status, value) = served.call("rita", "POST", "/v2/annotations", Some(body));
    assert_eq!(status, 200, "{value}");
    let path = "/v2/users/me/apps/app/tasks/both/assignments";
    let submit = json!({"action": "LABEL_SUBMIT", "label_submit_config":
        {"task_assignments": [{"id": "in-1.rita"}]}});
    let (status, value) = served.call("rita", "PUT", path, Some(submit));
    assert_eq!(status, 200, "{value}");
    let approve = json!({"action": "REVIEW_APPROVE", "review_approve_config":
        {"task_assignments": [{"id": "in-1.rita"}]}});
    let (status, value) = served.call("rita", "PUT", path, Some(approve.clone()));
    assert_eq!(status, 403, "{value}");
    let (status, value) = served.call("sam", "PUT", path, Some(approve));
    assert_eq!(status, 200, "{value}");
    assert_eq!(Served::states(&value), [("in-1.rita".into(), 54200)]);
}

/// A hand edit between two of the server's appends is read: the server's own append reads only
/// its new bytes when the file is as the index last read it, never after someone changed it.
#[test]
fn a_hand_edit_between_the_servers_appends_is_read() {
    let root = project();
    let served = Served::start(root.path());
    annotate(&served, "ann", "in-1", "cat");
    let file = root.path().join("work/fix/ann.jsonl");
    let text = fs::read_to_string(&file).unwrap();
    fs::write(&file, text.replacen("\"cat\"", "\"dog\"", 1)).unwrap();
    annotate(&served, "ann", "in-2", "cat");
    drop(served);
    assert_eq!(ann_concepts(root.path()), ["dog"]);
    let after = answers(root.path());
    fs::remove_dir_all(root.path().join(".annotask")).unwrap();
    assert_eq!(answers(root.path()), after, "rebuilt");
}
