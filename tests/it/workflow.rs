//! The labeling workflow end to end (issue 12): the real binary serving a real project with a
//! keys file, a scripted day of labeling, consensus and review over HTTP with the counts and
//! metrics checked against hand-computed numbers after every step; two clones merged with real
//! `git`; a rebuilt index; a cut-off line; permissions; and a watcher following appends.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::thread;

use serde_json::{Value, json};

use crate::common::{KeyedServer, annotask, eventually, python};

/// Six inputs, and the consensus task of the day: every worker labels every input, and two who
/// agree approve it.
const DAY: &str = "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog, bird]\n\
    input_source: {type: DATASET, id: day}\n\
    worker: {strategy: FULL, user_ids: [ann, bob, carl]}\n\
    review: {strategy: CONSENSUS, user_ids: [rita], consensus_strategy_info: {approval_threshold: 2}}\n";

/// The API document's consensus example: one worker an input, threshold 2.
const NEVER: &str = "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat]\n\
    input_source: {type: DATASET, id: day}\n\
    worker: {strategy: PARTITIONED, user_ids: [ann, bob], partitioned_strategy_info: {type: EVENLY, workers_per_input: 1}}\n\
    review: {strategy: CONSENSUS, user_ids: [rita], consensus_strategy_info: {approval_threshold: 2}}\n";

/// Four workers, no review: each submit is done.
const FOUR: &str = "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog]\n\
    input_source: {type: DATASET, id: day}\n\
    worker: {strategy: FULL, user_ids: [ann, bob, carl, dora]}\nreview: {strategy: NONE}\n";

const KEYS: &str = r#"{"key-ann": "ann", "key-bob": "bob", "key-carl": "carl", "key-dora": "dora",
    "key-rita": "rita", "key-dave": "dave"}"#;

/// A project folder with the day's dataset and tasks.
fn project(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::create_dir_all(dir.join("tasks")).unwrap();
    fs::create_dir_all(dir.join("inputs")).unwrap();
    let lines: String = (1..=6)
        .map(|i| format!("{{\"id\": \"in-{i}\", \"data\": {{\"image\": {{\"url\": \"https://x/{i}.jpg\"}}}}}}\n"))
        .collect();
    fs::write(dir.join("inputs/day.jsonl"), lines).unwrap();
    fs::write(dir.join("tasks/day.yaml"), DAY).unwrap();
    fs::write(dir.join("tasks/never.yaml"), NEVER).unwrap();
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

    fn ok(&self, user: &str, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(user, method, path, body);
        assert_eq!(status, 200, "{user} {method} {path}: {value}");
        value
    }

    /// PutTaskAssignments on `task` as `user`.
    fn put(&self, user: &str, task: &str, body: Value) -> (u16, Value) {
        let path = format!("/v2/users/me/apps/app/tasks/{task}/assignments");
        self.call(user, "PUT", &path, Some(body))
    }

    /// `user` labels `input` of `task` with one concept and submits it. The annotation's id is
    /// the same each time, so labeling again replaces it.
    fn label(&self, user: &str, task: &str, input: &str, concept: &str) {
        let annotation = json!({"annotations": [{"id": format!("{user}-{input}"),
            "task_id": task, "input_id": input,
            "data": {"concepts": [{"id": concept, "value": 1}]}}]});
        self.ok(user, "POST", "/v2/annotations", Some(annotation));
        let submit = json!({"action": "LABEL_SUBMIT", "label_submit_config":
            {"task_assignments": [{"id": format!("{input}.{user}")}]}});
        let (status, value) = self.put(user, task, submit);
        assert_eq!(status, 200, "{value}");
    }

    /// rita's decision (`APPROVE`, `REJECT`, `REQUEST_CHANGES`) on `input.worker` of the
    /// day's task.
    fn review(&self, decision: &str, input: &str, worker: &str) {
        let config = format!("review_{}_config", decision.to_lowercase());
        let body = json!({"action": format!("REVIEW_{decision}"),
            config: {"task_assignments": [{"id": format!("{input}.{worker}")}]}});
        let (status, value) = self.put("rita", "day", body);
        assert_eq!(status, 200, "{value}");
    }

    /// Each worker's counts of the day's task: pending, awaiting review, success, review
    /// denied, awaiting consensus review.
    fn counts(&self, task: &str) -> Vec<(String, [u64; 5])> {
        let value = self.ok(
            "ann",
            "GET",
            &format!("/v2/tasks/{task}/inputs/count"),
            None,
        );
        counts_of(&value)
    }

    /// The task's work and review percentages.
    fn percents(&self, task: &str) -> (u64, u64) {
        let value = self.ok(
            "ann",
            "GET",
            &format!("/v2/tasks/{task}?additional_fields=all"),
            None,
        );
        let metrics = &value["task"]["metrics"];
        (
            metrics["work"]["inputs_percent_estimated"]
                .as_u64()
                .unwrap(),
            metrics["review"]["inputs_percent_estimated"]
                .as_u64()
                .unwrap(),
        )
    }
}

fn counts_of(value: &Value) -> Vec<(String, [u64; 5])> {
    value["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let n = |k: &str| c[k].as_u64().unwrap();
            (
                c["worker"]["user"]["id"].as_str().unwrap().to_owned(),
                [
                    n("pending"),
                    n("awaiting_review"),
                    n("success"),
                    n("review_denied"),
                    n("awaiting_consensus_review"),
                ],
            )
        })
        .collect()
}

/// What someone does in a step of the day's task.
enum Act {
    /// (worker, input, concept): the worker labels the input with the concept and submits it.
    Label(&'static str, &'static str, &'static str),
    /// (decision, input, worker): rita's decision on the worker's assignment of the input.
    Review(&'static str, &'static str, &'static str),
}

/// A step of the day: its name, what is done, then ann's, bob's and carl's counts (pending,
/// awaiting review, success, review denied, awaiting consensus review) and the work and
/// review percentages after it.
type Step = (
    &'static str,
    &'static [Act],
    [u64; 5],
    [u64; 5],
    [u64; 5],
    (u64, u64),
);

/// Plays steps of the day, checking the counts and percentages after each.
#[track_caller]
fn play(served: &Served, steps: &[Step]) {
    for (step, acts, ann, bob, carl, percents) in steps {
        for act in *acts {
            match *act {
                Act::Label(worker, input, concept) => served.label(worker, "day", input, concept),
                Act::Review(decision, input, worker) => served.review(decision, input, worker),
            }
        }
        let expected: Vec<(String, [u64; 5])> = [("ann", ann), ("bob", bob), ("carl", carl)]
            .into_iter()
            .map(|(w, n)| (w.to_owned(), *n))
            .collect();
        assert_eq!(served.counts("day"), expected, "after {step}");
        assert_eq!(served.percents("day"), *percents, "metrics after {step}");
    }
}

/// Every answer a project gives about its work: counts of both tasks, the annotations, and
/// each input's explanation.
fn answers(root: &Path) -> Vec<String> {
    let mut all = Vec::new();
    for args in [
        vec!["counts", "day", "-o", "json"],
        vec!["counts", "day", "--annotations", "-o", "json"],
        vec!["counts", "never", "-o", "json"],
    ] {
        let out = annotask(root, &args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        all.push(String::from_utf8(out.stdout).unwrap());
    }
    for i in 1..=6 {
        let out = annotask(root, &["explain", "day", &format!("in-{i}"), "-o", "json"])
            .output()
            .unwrap();
        assert!(out.status.success());
        all.push(String::from_utf8(out.stdout).unwrap());
    }
    all
}

#[test]
fn a_scripted_day_of_labeling_consensus_and_review() {
    use Act::{Label, Review};
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let served = Served::start(dir.path());
    let started = served.put("ann", "day", json!({"action": "LABEL_START"})).1;
    assert_eq!(started["task_assignments"].as_array().unwrap().len(), 6);
    assert_eq!(started["task_assignments"][0]["id"], "in-1.ann");
    assert_eq!(started["task_assignments"][0]["status"]["code"], 54201);
    assert_eq!(
        started["task_assignments"][0]["input"]["data"]["image"]["url"],
        "https://x/1.jpg"
    );
    #[rustfmt::skip]
    let labeling: &[Step] = &[
        ("the start", &[], [6, 0, 0, 0, 0], [6, 0, 0, 0, 0], [6, 0, 0, 0, 0], (0, 0)),
        // in-1: ann and bob agree; carl's assignment closes.
        ("ann on in-1", &[Label("ann", "in-1", "cat")],
            [5, 0, 0, 0, 1], [6, 0, 0, 0, 0], [6, 0, 0, 0, 0], (0, 0)),
        ("consensus on in-1", &[Label("bob", "in-1", "cat")],
            [5, 0, 1, 0, 0], [5, 0, 1, 0, 0], [5, 0, 0, 0, 0], (16, 16)),
        // in-2: bob and carl agree; ann is outvoted.
        ("no agreement yet on in-2", &[Label("ann", "in-2", "cat"), Label("bob", "in-2", "dog")],
            [4, 0, 1, 0, 1], [4, 0, 1, 0, 1], [5, 0, 0, 0, 0], (16, 16)),
        ("consensus on in-2", &[Label("carl", "in-2", "dog")],
            [4, 0, 1, 1, 0], [4, 0, 2, 0, 0], [4, 0, 1, 0, 0], (33, 33)),
        // in-3: all three disagree, so it goes to review.
        ("disagreement on in-3",
            &[Label("ann", "in-3", "cat"), Label("bob", "in-3", "dog"), Label("carl", "in-3", "bird")],
            [3, 1, 1, 1, 0], [3, 1, 2, 0, 0], [3, 1, 1, 0, 0], (50, 33)),
    ];
    play(&served, labeling);
    let review = served
        .put("rita", "day", json!({"action": "REVIEW_START"}))
        .1;
    let waiting: Vec<&str> = review["task_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(waiting, ["in-3.ann", "in-3.bob", "in-3.carl"]);

    #[rustfmt::skip]
    let reviews: &[Step] = &[
        ("approving ann", &[Review("APPROVE", "in-3", "ann")],
            [3, 0, 2, 1, 0], [3, 1, 2, 0, 0], [3, 1, 1, 0, 0], (50, 33)),
        ("rejecting carl", &[Review("REJECT", "in-3", "carl")],
            [3, 0, 2, 1, 0], [3, 1, 2, 0, 0], [3, 0, 1, 1, 0], (50, 33)),
        ("changes asked of bob", &[Review("REQUEST_CHANGES", "in-3", "bob")],
            [3, 0, 2, 1, 0], [4, 0, 2, 0, 0], [3, 0, 1, 1, 0], (33, 33)),
        // bob labels again; alone undecided, his new submission goes to review, then is approved.
        ("bob's second submission", &[Label("bob", "in-3", "cat")],
            [3, 0, 2, 1, 0], [3, 1, 2, 0, 0], [3, 0, 1, 1, 0], (50, 33)),
        ("approving bob", &[Review("APPROVE", "in-3", "bob")],
            [3, 0, 2, 1, 0], [3, 0, 3, 0, 0], [3, 0, 1, 1, 0], (50, 50)),
    ];
    play(&served, reviews);

    // Idempotent: submitting and approving again change nothing, and write nothing.
    let ann_file = dir.path().join("work/day/ann.jsonl");
    let before = fs::read(&ann_file).unwrap();
    let again = json!({"action": "LABEL_SUBMIT", "label_submit_config":
        {"task_assignments": [{"id": "in-1.ann"}]}});
    let (status, value) = served.put("ann", "day", again);
    assert_eq!(status, 200);
    assert_eq!(value["task_assignments"][0]["status"]["code"], 54200);
    assert_eq!(
        fs::read(&ann_file).unwrap(),
        before,
        "a second submit writes nothing"
    );
    #[rustfmt::skip]
    let repeated: &[Step] = &[
        ("repeated actions", &[Review("APPROVE", "in-3", "bob")],
            [3, 0, 2, 1, 0], [3, 0, 3, 0, 0], [3, 0, 1, 1, 0], (50, 50)),
    ];
    play(&served, repeated);

    // Annotations carry their assignment's state: ann's in-2 label was outvoted.
    let listed = served.ok(
        "ann",
        "GET",
        "/v2/annotations?task_id=day&user_ids=ann&input_ids=in-2",
        None,
    );
    assert_eq!(listed["annotations"][0]["status"]["code"], 24158);
    let success = served.ok(
        "ann",
        "GET",
        "/v2/annotations?task_id=day&statuses=24150",
        None,
    );
    assert_eq!(success["annotations"].as_array().unwrap().len(), 6);
    let counted = served.ok(
        "ann",
        "GET",
        "/v2/tasks/day/annotations/count?user_ids=bob",
        None,
    );
    assert_eq!(
        counts_of(&counted),
        [("bob".to_owned(), [0, 0, 3, 0, 0])],
        "bob's first in-3 label was replaced by his second"
    );

    // The open assignments, as ListNextTaskAssignments answers them.
    let next = served.ok(
        "ann",
        "GET",
        "/v2/users/me/apps/app/tasks/day/assignments",
        None,
    );
    let inputs: Vec<&str> = next["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["in-4", "in-5", "in-6"]);

    // The CLI beside the server tells the same.
    let out = annotask(dir.path(), &["explain", "day", "in-2"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("consensus: bob, carl agree"), "{text}");
    assert!(text.contains("ann is outvoted"), "{text}");

    // The API document's example can never reach consensus: a submitted input goes to review.
    let never = served
        .put("ann", "never", json!({"action": "LABEL_START"}))
        .1;
    let first = never["task_assignments"][0]["input"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    served.label("ann", "never", &first, "cat");
    let counts = served.counts("never");
    assert_eq!(
        counts[0].1[1], 1,
        "ann's submitted input awaits review: {counts:?}"
    );
    let out = annotask(dir.path(), &["explain", "never", &first])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("the approval threshold 2 can never be reached: the input has 1 worker"),
        "{text}"
    );

    // Deleting the index loses nothing: a rebuild answers the same.
    let before = answers(dir.path());
    drop(served);
    fs::remove_dir_all(dir.path().join(".annotask")).unwrap();
    assert_eq!(answers(dir.path()), before);
}

/// A reviewer's comment over JSON: refused when too long (nothing written), else stored in
/// the reviewer's file, answered as the worker's `status.details`, told by `explain`, and the
/// same from an index rebuilt from the files.
#[test]
fn a_review_comment_reaches_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let served = Served::start(dir.path());
    served.label("ann", "day", "in-1", "cat");
    served.label("bob", "day", "in-1", "dog");
    // All three disagree, so the input awaits rita's review.
    served.label("carl", "day", "in-1", "bird");
    let changes = |comment: &str| {
        json!({"action": "REVIEW_REQUEST_CHANGES", "review_request_changes_config":
            {"task_assignments": [{"id": "in-1.bob"}], "comment": comment}})
    };
    let (status, value) = served.put("rita", "day", changes(&"x".repeat(2001)));
    assert_eq!(status, 400, "{value}");
    let details = value["status"]["details"].as_str().unwrap();
    assert!(
        details.contains("review_request_changes_config.comment"),
        "{details}"
    );
    let rita = dir.path().join("work/day/rita.jsonl");
    assert!(!rita.exists(), "a refused comment writes nothing");
    let (status, value) = served.put("rita", "day", changes("it is a cat"));
    assert_eq!(status, 200, "{value}");
    assert_eq!(
        value["task_assignments"][0]["status"]["details"],
        "it is a cat"
    );
    let line = fs::read_to_string(&rita).unwrap();
    assert!(
        line.contains(r#""decision":"REQUEST_CHANGES","comment":"it is a cat""#),
        "{line}"
    );
    let shown = |served: &Served| {
        let started = served.put("bob", "day", json!({"action": "LABEL_START"})).1;
        let first = &started["task_assignments"][0];
        assert_eq!(first["id"], "in-1.bob");
        first["status"]["details"].clone()
    };
    assert_eq!(shown(&served), json!("it is a cat"));
    let explained = annotask(dir.path(), &["explain", "day", "in-1"])
        .output()
        .unwrap();
    let told = String::from_utf8(explained.stdout).unwrap();
    assert!(told.contains(r#"saying "it is a cat""#), "{told}");
    drop(served);
    fs::remove_dir_all(dir.path().join(".annotask")).unwrap();
    let served = Served::start(dir.path());
    assert_eq!(shown(&served), json!("it is a cat"));
}

#[test]
fn permissions_are_checked_and_bad_requests_located() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let served = Served::start(dir.path());
    let annotate = |user: &str, task: &str, input: &str, concept: &str| {
        let body = json!({"annotations": [{"task_id": task, "input_id": input,
            "data": {"concepts": [{"id": concept, "value": 1}]}}]});
        served.call(user, "POST", "/v2/annotations", Some(body))
    };
    let submit = |user: &str, id: &str| {
        served.put(
            user,
            "day",
            json!({"action": "LABEL_SUBMIT",
            "label_submit_config": {"task_assignments": [{"id": id}]}}),
        )
    };
    let code = |answer: &(u16, Value)| (answer.0, answer.1["status"]["code"].as_u64().unwrap());
    // dave works on nothing; ann may not submit bob's assignment; nobody but rita reviews.
    assert_eq!(code(&annotate("dave", "day", "in-1", "cat")), (403, 54103));
    assert_eq!(code(&submit("ann", "in-1.bob")), (403, 54103));
    let approve = json!({"action": "REVIEW_APPROVE", "review_approve_config": {"workers": [{"user": {"id": "bob"}}]}});
    assert_eq!(code(&served.put("ann", "day", approve)), (403, 54103));
    // Submitting with no annotation, a concept the task does not have: 400, at the field.
    let empty = submit("ann", "in-1.ann");
    assert_eq!(code(&empty), (400, 11102));
    assert!(
        empty.1["status"]["details"]
            .as_str()
            .unwrap()
            .contains("has no annotation from `ann`")
    );
    let wrong = annotate("ann", "day", "in-1", "owl");
    assert_eq!(code(&wrong), (400, 11102));
    assert!(
        wrong.1["status"]["details"]
            .as_str()
            .unwrap()
            .contains("annotations[0].data.concepts[0].id")
    );
    // An unknown task, a bare path with no user to act as (keys name one, so it is fine).
    assert_eq!(code(&annotate("ann", "nope", "in-1", "cat")), (404, 54102));
    let (status, _) = served.call("ann", "GET", "/v2/tasks/day/assignments", None);
    assert_eq!(status, 200);
    // Nothing refused was written.
    assert!(!dir.path().join("work/day/dave.jsonl").exists());
    assert!(!dir.path().join("work/day/ann.jsonl").exists());
}

#[test]
fn a_cut_off_line_is_ignored_with_a_warning_and_work_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    {
        let served = Served::start(dir.path());
        served.label("ann", "day", "in-1", "cat");
    }
    let file = dir.path().join("work/day/ann.jsonl");
    let mut text = fs::read_to_string(&file).unwrap();
    text.push_str(r#"{"at":"2026-12-03T17:00:00Z","submit":{"input_"#);
    fs::write(&file, &text).unwrap();
    let out = annotask(dir.path(), &["validate"]).output().unwrap();
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "a cut-off line is no error: {report}");
    assert!(report.contains("an unfinished line"), "{report}");
    let served = Served::start(dir.path());
    assert_eq!(
        served.counts("day")[0].1,
        [5, 0, 0, 0, 1],
        "the good lines count"
    );
    // The next write starts on a fresh line, and the cut line stays a warning.
    served.label("ann", "day", "in-2", "cat");
    assert_eq!(served.counts("day")[0].1, [4, 0, 0, 0, 2]);
    let out = annotask(dir.path(), &["validate"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A line that is not an event is an error, and the rest of the file still counts.
    let mut text = fs::read_to_string(&file).unwrap();
    text.push_str("{\"at\": \"2026-12-03T17:00:00Z\", \"submitt\": {}}\n");
    fs::write(&file, text).unwrap();
    let out = annotask(dir.path(), &["validate"]).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success());
    assert!(report.contains("unknown key `submitt`"), "{report}");
    eventually("the watcher reads the file again", || {
        served.counts("day")[0].1 == [4, 0, 0, 0, 2]
    });
}

#[test]
fn the_server_follows_work_files_appended_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let served = Served::start(dir.path());
    served.label("ann", "day", "in-1", "cat");
    // bob's file arrives as a `git pull` would bring it.
    let folder = dir.path().join("work/day");
    let lines = [
        r#"{"at":"2026-12-03T09:00:00Z","annotation":{"id":"b1","input_id":"in-1","data":{"concepts":[{"id":"cat","value":1}]}}}"#,
        r#"{"at":"2026-12-03T09:00:01Z","submit":{"input_id":"in-1"}}"#,
    ];
    fs::write(folder.join("bob.jsonl"), lines.join("\n") + "\n").unwrap();
    eventually("bob's work counts", || {
        served.counts("day")[1].1 == [5, 0, 1, 0, 0]
    });
    assert_eq!(
        served.counts("day")[0].1,
        [5, 0, 1, 0, 0],
        "consensus with ann"
    );
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn two_clones_label_offline_and_merge_without_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let origin = dir.path().join("origin.git");
    let seed = dir.path().join("seed");
    project(&seed);
    fs::write(seed.join("tasks/four.yaml"), FOUR).unwrap();
    git(
        dir.path(),
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            origin.to_str().unwrap(),
        ],
    );
    git(&seed, &["init", "-q", "-b", "main"]);
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-q", "-m", "the day"]);
    git(&seed, &["push", "-q", origin.to_str().unwrap(), "main"]);
    let clone = |name: &str| {
        git(dir.path(), &["clone", "-q", origin.to_str().unwrap(), name]);
        dir.path().join(name)
    };
    let (a, b) = (clone("a"), clone("b"));
    // Two workers label in each clone, offline from each other, some on the same input.
    let counts = |root: &Path| {
        let out = annotask(root, &["counts", "four", "-o", "json"])
            .output()
            .unwrap();
        counts_of(&serde_json::from_slice(&out.stdout).unwrap())
    };
    {
        let served = Served::start(&a);
        served.label("ann", "four", "in-1", "cat");
        served.label("ann", "four", "in-2", "cat");
        served.label("bob", "four", "in-1", "dog");
    }
    {
        let served = Served::start(&b);
        served.label("carl", "four", "in-1", "cat");
        served.label("dora", "four", "in-3", "cat");
    }
    let expect = |rows: [(&str, [u64; 5]); 4]| -> Vec<(String, [u64; 5])> {
        rows.into_iter().map(|(w, n)| (w.to_owned(), n)).collect()
    };
    assert_eq!(
        counts(&a),
        expect([
            ("ann", [4, 0, 2, 0, 0]),
            ("bob", [5, 0, 1, 0, 0]),
            ("carl", [6, 0, 0, 0, 0]),
            ("dora", [6, 0, 0, 0, 0])
        ])
    );
    for (clone, what) in [(&a, "ann's and bob's work"), (&b, "carl's and dora's work")] {
        git(clone, &["add", "work"]);
        git(clone, &["commit", "-q", "-m", what]);
    }
    git(&a, &["push", "-q", "origin", "main"]);
    git(
        &b,
        &["pull", "-q", "--no-rebase", "--no-edit", "origin", "main"],
    );
    let status = git(&b, &["status", "--porcelain"]);
    assert!(
        status.is_empty(),
        "no conflict, nothing left over: {status}"
    );
    // The merged project answers with both clones' work: the sum of both.
    assert_eq!(
        counts(&b),
        expect([
            ("ann", [4, 0, 2, 0, 0]),
            ("bob", [5, 0, 1, 0, 0]),
            ("carl", [5, 0, 1, 0, 0]),
            ("dora", [5, 0, 1, 0, 0])
        ])
    );
}

/// The official Python client, unchanged, drives the workflow over its JSON and gRPC channels.
#[test]
fn the_official_client_labels_over_json_and_grpc() {
    for face in ["work-json", "work-grpc"] {
        let dir = tempfile::tempdir().unwrap();
        project(dir.path());
        fs::write(dir.path().join("tasks/four.yaml"), FOUR).unwrap();
        let served = Served::start(dir.path());
        let address = match face {
            "work-json" => served.server.base.clone(),
            _ => served.server.base.trim_start_matches("http://").to_owned(),
        };
        python::client(&[face, &address], &[]);
        assert!(dir.path().join("work/four/ann.jsonl").exists());
    }
}

/// DYNAMIC hands out inputs nobody holds, ten at a time: two workers asking at once never get
/// the same input.
#[test]
fn dynamic_hands_each_input_to_one_worker_even_at_once() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    fs::write(
        dir.path().join("tasks/dyn.yaml"),
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat]\ninput_source: {type: DATASET, id: day}\n\
         worker: {strategy: DYNAMIC, user_ids: [ann, bob]}\n",
    )
    .unwrap();
    let served = Served::start(dir.path());
    let handed: Vec<Vec<String>> = thread::scope(|scope| {
        let asks: Vec<_> = ["ann", "bob"]
            .into_iter()
            .map(|user| {
                let served = &served;
                scope.spawn(move || {
                    let (status, value) = served.put(user, "dyn", json!({"action": "LABEL_START"}));
                    assert_eq!(status, 200, "{value}");
                    value["task_assignments"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a["input"]["id"].as_str().unwrap().to_owned())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        asks.into_iter().map(|a| a.join().unwrap()).collect()
    });
    let mut all: Vec<&String> = handed.iter().flatten().collect();
    assert_eq!(all.len(), 6, "every input handed out once: {handed:?}");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 6, "no input handed out twice: {handed:?}");
    // Asking again returns one's own open assignments, not new ones.
    let again = served.put("ann", "dyn", json!({"action": "LABEL_START"})).1;
    assert_eq!(
        again["task_assignments"].as_array().unwrap().len(),
        handed[0].len()
    );
}

/// A task changed so that its worker is someone else: the work of the one taken off the task
/// stops counting (the replay counts work only from the task's workers, as the API takes it),
/// and counts again, as it was, once they are back. (Work a worker of the task submitted on an
/// input the plan moved away stays theirs: `work::replay`'s tests.)
#[test]
fn work_of_someone_taken_off_a_task_counts_again_when_they_are_back() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let only = |worker: &str| {
        format!(
            "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat]\ninput_source: {{type: DATASET, id: day}}\n\
             worker: {{strategy: FULL, user_ids: [{worker}]}}\nreview: {{strategy: NONE}}\n"
        )
    };
    fs::write(dir.path().join("tasks/moved.yaml"), only("ann")).unwrap();
    let served = Served::start(dir.path());
    served.label("ann", "moved", "in-1", "cat");
    assert_eq!(
        served.counts("moved"),
        [("ann".to_owned(), [5, 0, 1, 0, 0])]
    );
    fs::write(dir.path().join("tasks/moved.yaml"), only("bob")).unwrap();
    eventually("the new plan counts bob only", || {
        served.counts("moved") == [("bob".to_owned(), [6, 0, 0, 0, 0])]
    });
    let listed = served.ok("bob", "GET", "/v2/annotations?task_id=moved", None);
    assert_eq!(listed["annotations"], json!([]));
    fs::write(dir.path().join("tasks/moved.yaml"), only("ann")).unwrap();
    eventually("ann's work counts again", || {
        served.counts("moved") == [("ann".to_owned(), [5, 0, 1, 0, 0])]
    });
}
