//! The labeling app in a real headless Chromium (Debian's `chromium` and `chromium-driver`),
//! against a real `annotask serve` on a temporary project, driven by keys and mouse as a person
//! would, with every effect checked through the API. Also the safety of serving inputs' local
//! files, over HTTP, as a table.
//!
//! Without chromium or chromedriver the browser tests say why and pass, except under CI
//! (`CI` set), where a missing browser is a failure: `.ci/run` installs it.

mod webdriver;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use serde_json::{Value, json};

use crate::common::{BIN, Server, eventually, write_private};
use webdriver::{Browser, DELETE, ENTER, LEFT};

const KEYS: &str = r#"{"key-ann": "ann", "key-bob": "bob", "key-rita": "rita"}"#;

/// The project every test starts from: the shipped garden images, a dataset naming them by
/// path, and a task of each kind the app draws.
const TASKS: &[(&str, &str)] = &[
    (
        "day",
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog, bird]\nworker: {strategy: FULL, user_ids: [ann, bob]}\ninput_source: {type: DATASET, id: garden}\nreview: {strategy: NONE}\n",
    ),
    (
        "checked",
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog]\nworker: {strategy: FULL, user_ids: [ann]}\ninput_source: {type: DATASET, id: garden}\nreview: {strategy: MANUAL, user_ids: [rita], manual_strategy_info: {sample_percentage: 1}}\n",
    ),
    (
        "boxes",
        "type: BOUNDING_BOX_DETECTION\nconcept_ids: [cat, dog]\nworker: {strategy: FULL, user_ids: [ann]}\ninput_source: {type: DATASET, id: garden}\nreview: {strategy: NONE}\n",
    ),
    (
        "notes",
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [positive, negative]\nworker: {strategy: FULL, user_ids: [ann]}\ninput_source: {type: DATASET, id: notes}\nreview: {strategy: NONE}\n",
    ),
    (
        "pairs",
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog]\nworker: {strategy: FULL, user_ids: [ann, bob]}\ninput_source: {type: DATASET, id: garden}\nreview: {strategy: CONSENSUS, user_ids: [rita], consensus_strategy_info: {approval_threshold: 2}}\n",
    ),
    (
        "fruit",
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [apple, apricot, banana, blueberry, cherry, date, fig, grape, kiwi, lemon, mango, melon]\nworker: {strategy: FULL, user_ids: [ann]}\ninput_source: {type: DATASET, id: garden}\nreview: {strategy: NONE}\n",
    ),
    (
        "shapes",
        "type: POLYGON_DETECTION\nconcept_ids: [cat]\nworker: {strategy: FULL, user_ids: [ann]}\ninput_source: {type: DATASET, id: garden}\nreview: {strategy: NONE}\n",
    ),
];

/// One browser test at a time: two cores are shared by everything else.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

struct Garden {
    dir: tempfile::TempDir,
    keys: PathBuf,
}

impl Garden {
    fn new() -> Garden {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("project");
        fs::create_dir_all(root.join("tasks")).unwrap();
        fs::create_dir_all(root.join("inputs")).unwrap();
        fs::create_dir_all(root.join("images/garden")).unwrap();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("images/garden");
        let mut lines = String::new();
        for n in 1..=20 {
            let name = format!("photo-{n:02}.png");
            fs::copy(shipped.join(&name), root.join("images/garden").join(&name)).unwrap();
            lines.push_str(&format!(
                "{{\"id\": \"photo-{n:02}\", \"data\": {{\"image\": {{\"url\": \"images/garden/{name}\"}}}}}}\n"
            ));
        }
        fs::write(root.join("inputs/garden.jsonl"), lines).unwrap();
        fs::write(
            root.join("inputs/notes.jsonl"),
            concat!(
                r#"{"id": "note-1", "data": {"text": {"raw": "The cat sat on the mat, happily."}}}"#,
                "\n",
                r#"{"id": "note-2", "data": {"text": {"url": "texts/note-2.txt"}}}"#,
                "\n",
            ),
        )
        .unwrap();
        fs::create_dir_all(root.join("texts")).unwrap();
        fs::write(
            root.join("texts/note-2.txt"),
            "The delivery was late again.",
        )
        .unwrap();
        for (id, yaml) in TASKS {
            fs::write(root.join(format!("tasks/{id}.yaml")), yaml).unwrap();
        }
        let keys = dir.path().join("keys.json");
        write_private(&keys, KEYS);
        Garden { dir, keys }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    fn serve(&self) -> Server {
        Server::start(
            &self.root(),
            &[OsStr::new("--keys"), self.keys.as_os_str()],
            &[],
        )
    }
}

/// A request as `user` (by their key): the HTTP status and the JSON body.
fn api(server: &Server, user: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    server.call(
        Some(&format!("Key key-{user}")),
        method,
        path,
        body.as_deref(),
    )
}

fn ok(server: &Server, user: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, value) = api(server, user, method, path, body);
    assert_eq!(status, 200, "{user} {method} {path}: {value}");
    value
}

/// `user`'s annotations on `task`, by input.
fn annotations(server: &Server, user: &str, task: &str) -> Vec<Value> {
    ok(
        server,
        user,
        "GET",
        &format!("/v2/annotations?task_id={task}&user_ids={user}&per_page=1000"),
        None,
    )["annotations"]
        .as_array()
        .unwrap()
        .clone()
}

fn annotation_on(server: &Server, user: &str, task: &str, input: &str) -> Option<Value> {
    annotations(server, user, task)
        .into_iter()
        .find(|a| a["input_id"] == input)
}

/// `user` labels `input` of `task` with `concepts` and submits it, through the API.
fn submit(server: &Server, user: &str, task: &str, input: &str, concepts: &[&str]) {
    let concepts: Vec<Value> = concepts
        .iter()
        .map(|c| json!({"id": c, "value": 1}))
        .collect();
    let annotation = json!({"annotations": [{"id": format!("{user}-{input}"),
        "task_id": task, "input_id": input, "data": {"concepts": concepts}}]});
    ok(server, user, "POST", "/v2/annotations", Some(annotation));
    let submit = json!({"action": "LABEL_SUBMIT", "label_submit_config":
        {"task_assignments": [{"id": format!("{input}.{user}")}]}});
    ok(
        server,
        user,
        "PUT",
        &format!("/v2/users/me/apps/app/tasks/{task}/assignments"),
        Some(submit),
    );
}

/// `user`'s counts on `task`: pending, awaiting review, success, review denied.
fn counts(server: &Server, user: &str, task: &str) -> [u64; 4] {
    let answer = ok(
        server,
        user,
        "GET",
        &format!("/v2/tasks/{task}/inputs/count?user_ids={user}"),
        None,
    );
    let c = &answer["counts"][0];
    let n = |k: &str| c[k].as_u64().unwrap_or(0);
    [
        n("pending"),
        n("awaiting_review"),
        n("success"),
        n("review_denied"),
    ]
}

/// A browser for one test, or `None` (said on stderr) where there is none and CI is not set.
fn browser() -> Option<(Browser, MutexGuard<'static, ()>)> {
    match webdriver::find_browser() {
        Ok((chromium, driver)) => {
            let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
            Some((Browser::start(&chromium, &driver), guard))
        }
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!("browser test skipped: {why}");
            None
        }
        Err(why) => panic!("CI needs the browser tests to run: {why}"),
    }
}

/// Signs in on the page's form with `user`'s key and waits for the task list.
fn sign_in(browser: &Browser, base: &str, user: &str) {
    browser.goto(&format!("{base}/"));
    browser.type_into("API key", &format!("key-{user}"));
    browser.click_named("Sign in");
    browser.wait(
        "the task list shows",
        "return document.querySelector('[aria-label=\"Your tasks\"]') !== null",
    );
}

fn sign_out(browser: &Browser) {
    browser.click_named("Sign out");
    browser.find("form.signin");
}

/// Waits until the labeling screen shows input number `n` of the session with its image.
fn on_input(browser: &Browser, n: usize) -> String {
    let script = format!(
        "const p = document.querySelector('.position');
         const stage = document.querySelector('.stage');
         return p && p.textContent.startsWith('{n} of') && stage.dataset.shown === p.dataset.input
             ? p.dataset.input : null;"
    );
    let input = browser.wait(&format!("input {n} of the session is shown"), &script);
    input.as_str().unwrap().to_owned()
}

/// With `ANNOTASK_SCREENSHOTS=DIR`, the page as it is now in `DIR/{name}.png` (docs/label.png
/// is `label`).
fn snapshot(browser: &Browser, name: &str) {
    if let Some(dir) = std::env::var_os("ANNOTASK_SCREENSHOTS") {
        fs::write(
            Path::new(&dir).join(format!("{name}.png")),
            browser.screenshot(),
        )
        .unwrap();
    }
}

/// Every resource the page loaded came from its own origin.
fn stayed_home(browser: &Browser, base: &str) {
    let foreign = browser.js(
        "return performance.getEntriesByType('resource').map(e => e.name)
            .filter(u => !u.startsWith(location.origin + '/') && !u.startsWith('blob:'))",
        json!([]),
    );
    assert_eq!(foreign, json!([]), "requests left {base}");
}

/// The page's own timings of "from the submitting key to the next input shown", in ms.
fn submit_timings(browser: &Browser) -> Vec<f64> {
    let value = browser.js(
        "return performance.getEntriesByName('submit-to-next').map(e => e.duration)",
        json!([]),
    );
    value
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Whether the server takes LABEL_WITHDRAW (annotask's extension, which the undo needs).
fn withdraw_served(server: &Server) -> bool {
    let (status, answer) = api(
        server,
        "ann",
        "PUT",
        "/v2/users/me/apps/app/tasks/day/assignments",
        Some(json!({"action": "LABEL_WITHDRAW", "input_id": "no-such-input"})),
    );
    let text = answer.to_string();
    let unknown = text.contains("unknown") && text.contains("`LABEL_WITHDRAW`");
    status != 200 && !unknown
}

#[test]
fn a_classification_day_by_keyboard() {
    let Some((browser, _one)) = browser() else {
        return;
    };
    let project = Garden::new();
    let server = project.serve();
    let base = &server.base;
    sign_in(&browser, base, "ann");
    browser.click_named("Label day");
    let mut labeled = Vec::new();
    for i in 0..12 {
        let input = on_input(&browser, i + 1);
        let key = if i % 2 == 0 { "1" } else { "2" };
        browser.keys(&[key, ENTER]);
        labeled.push((input, if i % 2 == 0 { "cat" } else { "dog" }));
    }
    on_input(&browser, 13);
    eventually("every label reached the server", || {
        annotations(&server, "ann", "day").len() == 12 && counts(&server, "ann", "day")[2] == 12
    });
    for (input, concept) in &labeled {
        let a = annotation_on(&server, "ann", "day", input).unwrap();
        assert_eq!(
            a["data"]["concepts"],
            json!([{"id": concept, "value": 1.0}]),
            "{a}"
        );
    }
    let timings = submit_timings(&browser);
    assert!(!timings.is_empty());
    println!(
        "submit key to next image shown: median {:.1} ms over {} submits (max {:.1} ms)",
        median(timings.clone()),
        timings.len(),
        timings.iter().cloned().fold(0.0, f64::max)
    );

    if withdraw_served(&server) {
        // Back to the last submit, change it from dog to bird, submit again.
        browser.keys(&[LEFT]);
        on_input(&browser, 12);
        browser.wait(
            "the input shows as submitted",
            "return document.querySelector('[aria-label=\"Input state\"]').textContent === 'Submitted'",
        );
        browser.keys(&["2", "3", ENTER]);
        let (input, _) = &labeled[11];
        eventually("the change replaced the label", || {
            annotation_on(&server, "ann", "day", input)
                .is_some_and(|a| a["data"]["concepts"] == json!([{"id": "bird", "value": 1.0}]))
                && counts(&server, "ann", "day")[2] == 12
        });
        // Z: the last submit goes back to being labeled.
        browser.keys(&["z"]);
        eventually("the undo reached the server", || {
            counts(&server, "ann", "day")[2] == 11
        });
    } else {
        eprintln!("undo not tested: this server does not take LABEL_WITHDRAW yet");
    }
    stayed_home(&browser, base);
}

/// Alone on one's machine (no keys) the page asks for a user id; with one key for everyone
/// (`--api-key`), for the key and then the user id; "Sign out" forgets both.
#[test]
fn signing_in_without_a_keys_file() {
    let Some((browser, _one)) = browser() else {
        return;
    };
    let project = Garden::new();
    for (args, key) in [
        (vec![], None),
        (vec!["--api-key", "s3cret"], Some("s3cret")),
    ] {
        let server = Server::start(&project.root(), &args, &[]);
        let base = &server.base;
        browser.goto(&format!("{base}/"));
        browser.find("[aria-label=\"Sign in\"]");
        let asks_key = browser.js(
            "return document.querySelector('[aria-label=\"API key\"]') !== null",
            json!([]),
        );
        assert_eq!(asks_key, json!(key.is_some()));
        if let Some(key) = key {
            browser.type_into("API key", key);
            browser.click_named("Sign in");
            browser.wait(
                "the page asks who signs in",
                "return !document.querySelector('[aria-label=\"User id\"]').closest('p').hidden",
            );
        }
        browser.type_into("User id", "ann");
        browser.click_named("Sign in");
        browser.click_named("Label day");
        let input = on_input(&browser, 1);
        browser.keys(&["3", ENTER]);
        let auth = key.map(|k| format!("Key {k}"));
        eventually("ann's label reached the server", || {
            let (_, answer) = server.call(
                auth.as_deref(),
                "GET",
                "/v2/annotations?task_id=day&user_ids=ann",
                None,
            );
            answer["annotations"]
                .as_array()
                .is_some_and(|all| all.iter().any(|a| a["input_id"] == input.as_str()))
        });
        sign_out(&browser);
        let stored = browser.js(
            "return sessionStorage.getItem('annotask.session')",
            json!([]),
        );
        assert_eq!(stored, Value::Null);
    }
}

#[test]
fn texts_are_labeled_like_images() {
    let Some((browser, _one)) = browser() else {
        return;
    };
    let project = Garden::new();
    let server = project.serve();
    let base = &server.base;
    sign_in(&browser, base, "ann");
    browser.click_named("Label notes");
    let shown = "return document.querySelector('.text-input:not([hidden])')?.textContent";
    for (n, text, key, concept) in [
        (1, "The cat sat on the mat, happily.", "1", "positive"),
        (2, "The delivery was late again.", "2", "negative"),
    ] {
        let input = on_input(&browser, n);
        assert_eq!(browser.wait("the text is shown", shown), json!(text));
        browser.keys(&[key, ENTER]);
        eventually("the label reached the server", || {
            annotation_on(&server, "ann", "notes", &input)
                .is_some_and(|a| a["data"]["concepts"] == json!([{"id": concept, "value": 1.0}]))
        });
    }
    browser.wait(
        "the page says the task is done",
        "return document.querySelector('.status').textContent.includes('Nothing left')",
    );
    stayed_home(&browser, base);
}

#[test]
fn a_box_and_a_polygon_in_the_images_coordinates() {
    let Some((browser, _one)) = browser() else {
        return;
    };
    let project = Garden::new();
    let server = project.serve();
    let base = &server.base;
    sign_in(&browser, base, "ann");
    browser.goto(&format!("{base}/label/boxes"));
    let first = on_input(&browser, 1);
    let overlay = browser.find("svg.overlay");
    browser.keys(&["2"]);
    // Around the dark animal of the first garden still.
    browser.drag(&overlay, &[(0.19, 0.68), (0.3, 0.8), (0.42, 0.93)]);
    browser.wait(
        "the box is drawn",
        "return document.querySelectorAll('svg.overlay .region').length === 1",
    );
    snapshot(&browser, "label");
    browser.keys(&[ENTER]);
    let second = on_input(&browser, 2);
    eventually("the box reached the server", || {
        annotation_on(&server, "ann", "boxes", &first).is_some()
    });
    let a = annotation_on(&server, "ann", "boxes", &first).unwrap();
    let region = &a["data"]["regions"][0];
    assert_eq!(region["data"]["concepts"][0]["id"], "dog", "{a}");
    let near = |b: &Value, expected: [f64; 4]| {
        let got = [
            b["top_row"].as_f64().unwrap(),
            b["left_col"].as_f64().unwrap(),
            b["bottom_row"].as_f64().unwrap(),
            b["right_col"].as_f64().unwrap(),
        ];
        assert!(
            got.iter().zip(expected).all(|(g, e)| (g - e).abs() < 0.015),
            "{got:?} is not {expected:?}"
        );
    };
    near(
        &region["region_info"]["bounding_box"],
        [0.68, 0.19, 0.93, 0.42],
    );

    // A box drawn, selected and deleted; another drawn and moved by dragging it.
    let overlay = browser.find("svg.overlay");
    browser.drag(&overlay, &[(0.5, 0.5), (0.9, 0.9)]);
    browser.click_at(&overlay, 0.7, 0.7);
    browser.keys(&[DELETE]);
    browser.wait(
        "the box is deleted",
        "return document.querySelectorAll('svg.overlay .region').length === 0",
    );
    browser.drag(&overlay, &[(0.1, 0.1), (0.3, 0.3)]);
    browser.drag(&overlay, &[(0.2, 0.2), (0.3, 0.3), (0.4, 0.4)]);
    browser.keys(&[ENTER]);
    on_input(&browser, 3);
    eventually("the moved box reached the server", || {
        annotation_on(&server, "ann", "boxes", &second).is_some()
    });
    let a = annotation_on(&server, "ann", "boxes", &second).unwrap();
    assert_eq!(a["data"]["regions"].as_array().unwrap().len(), 1, "{a}");
    near(
        &a["data"]["regions"][0]["region_info"]["bounding_box"],
        [0.3, 0.3, 0.5, 0.5],
    );

    // A polygon: three clicks, and a click on the first point closes it.
    browser.goto(&format!("{base}/label/shapes"));
    let input = on_input(&browser, 1);
    let overlay = browser.find("svg.overlay");
    for (x, y) in [(0.2, 0.2), (0.8, 0.25), (0.5, 0.8), (0.2, 0.2)] {
        browser.click_at(&overlay, x, y);
    }
    browser.wait(
        "the polygon is closed",
        "return document.querySelectorAll('svg.overlay polygon.region').length === 1",
    );
    browser.keys(&[ENTER]);
    on_input(&browser, 2);
    eventually("the polygon reached the server", || {
        annotation_on(&server, "ann", "shapes", &input).is_some()
    });
    let a = annotation_on(&server, "ann", "shapes", &input).unwrap();
    let points = a["data"]["regions"][0]["region_info"]["polygon"]["points"]
        .as_array()
        .unwrap()
        .clone();
    let expected = [(0.2, 0.2), (0.25, 0.8), (0.8, 0.5)];
    assert_eq!(points.len(), 3, "{a}");
    for (p, (row, col)) in points.iter().zip(expected) {
        assert!(
            (p["row"].as_f64().unwrap() - row).abs() < 0.015
                && (p["col"].as_f64().unwrap() - col).abs() < 0.015,
            "{p} is not ({row}, {col})"
        );
    }
    stayed_home(&browser, base);
}

#[test]
fn a_review_sends_work_back_and_the_worker_sees_it() {
    let Some((browser, _one)) = browser() else {
        return;
    };
    let project = Garden::new();
    let server = project.serve();
    let base = &server.base;
    for input in ["photo-01", "photo-02"] {
        submit(&server, "ann", "checked", input, &["cat"]);
    }
    assert_eq!(counts(&server, "ann", "checked")[1], 2);
    sign_in(&browser, base, "rita");
    browser.click_named("Review checked");
    browser.find("[aria-label=\"Version 1: ann\"]");
    let why = browser.wait(
        "the reason is shown",
        "return document.querySelector('[aria-label=\"Why this input is here\"]').textContent",
    );
    assert!(why.as_str().unwrap().contains("Sampled"), "{why}");
    snapshot(&browser, "review");
    // `c` asks for a comment; Enter in the field sends it with the request for changes.
    browser.keys(&["c"]);
    browser.wait(
        "the comment field has the focus",
        "return document.activeElement?.getAttribute('aria-label') === 'Comment'",
    );
    browser.type_into("Comment", "the bird is a kite");
    browser.keys(&[ENTER]);
    browser.wait(
        "the second input is up",
        "return document.querySelector('.position').textContent.startsWith('1 decided')",
    );
    browser.keys(&["a"]);
    eventually("both decisions reached the server", || {
        counts(&server, "ann", "checked")[1] == 0
    });
    let [pending, _, success, _] = counts(&server, "ann", "checked");
    assert_eq!(success, 1);
    assert_eq!(pending, 19, "the input sent back is ann's to do again");
    sign_out(&browser);

    // ann finds the input sent back in her queue, with her earlier label on it.
    sign_in(&browser, base, "ann");
    browser.click_named("Label checked");
    on_input(&browser, 1);
    let pressed = browser.wait(
        "ann's earlier label is shown",
        "return [...document.querySelectorAll('.concept[aria-pressed=\"true\"]')].map(b => b.textContent.trim()).join()",
    );
    assert!(pressed.as_str().unwrap().contains("cat"), "{pressed}");
    let note = browser.wait(
        "the reviewer's comment is shown",
        "const n = document.querySelector('[role=note]'); return !n.hidden && n.textContent",
    );
    assert_eq!(note, json!("Reviewer: the bird is a kite"));
    stayed_home(&browser, base);
}

#[test]
fn the_team_view_follows_the_work() {
    let Some((browser, _one)) = browser() else {
        return;
    };
    let project = Garden::new();
    let server = project.serve();
    let base = &server.base;
    sign_in(&browser, base, "ann");
    snapshot(&browser, "tasks");
    browser.click_named("Team view of day");
    let cell = "return document.querySelector('tr[data-worker=\"bob\"] td[data-state=\"success\"]')?.textContent";
    assert_eq!(browser.wait("the counts show", cell), json!("0"));
    browser.find("svg[aria-label=\"Chart of each worker's inputs by state\"]");
    submit(&server, "bob", "day", "photo-05", &["cat"]);
    browser.wait(
        "the team view shows bob's submit without a reload",
        &format!("{cell} === '1'"),
    );
    browser.find("[aria-label=\"bob: 1 done\"]");
    snapshot(&browser, "team");
    stayed_home(&browser, base);
}

#[test]
fn a_server_stopped_mid_session_loses_nothing() {
    let Some((browser, _one)) = browser() else {
        return;
    };
    let project = Garden::new();
    let mut server = project.serve();
    let base = server.base.clone();
    sign_in(&browser, &base, "ann");
    browser.click_named("Label day");
    for i in 0..3 {
        on_input(&browser, i + 1);
        browser.keys(&["1", ENTER]);
    }
    on_input(&browser, 4);
    eventually("the first labels reached the server", || {
        counts(&server, "ann", "day")[2] == 3
    });
    // The server dies; the person goes on labeling what the page already has.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    browser.keys(&["1", ENTER]);
    on_input(&browser, 5);
    browser.keys(&["2", ENTER]);
    on_input(&browser, 6);
    browser.wait(
        "the page says labels are waiting",
        "return document.getElementById('outbox').textContent.includes('waiting to be sent')",
    );
    // Back on the same address, the page sends what it kept.
    let port = base.rsplit(':').next().unwrap();
    let mut again = Command::new(BIN)
        .arg("--root")
        .arg(project.root())
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--keys"])
        .arg(&project.keys)
        .env_remove("ANNOTASK_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    browser.wait(
        "the kept labels are sent",
        "return document.getElementById('outbox').textContent === ''",
    );
    eventually("the server has every label", || {
        annotations(&server, "ann", "day").len() == 5 && counts(&server, "ann", "day")[2] == 5
    });
    let _ = again.kill();
    let _ = again.wait();
    stayed_home(&browser, &base);
}

/// The team's view of a CONSENSUS task: how often each pair of workers agrees, as the server
/// counts it by the consensus rule, following new submits without a reload.
#[test]
fn the_team_view_shows_how_often_workers_agree() {
    let Some((browser, _one)) = browser() else {
        return;
    };
    let project = Garden::new();
    let server = project.serve();
    let base = &server.base;
    // photo-01 and photo-03 agreed on, photo-02 not; photo-04 only ann submitted.
    for (input, ann, bob) in [
        ("photo-01", &["cat"][..], &["cat"][..]),
        ("photo-02", &["cat"], &["dog"]),
        ("photo-03", &["cat", "dog"], &["dog", "cat"]),
    ] {
        submit(&server, "ann", "pairs", input, ann);
        submit(&server, "bob", "pairs", input, bob);
    }
    submit(&server, "ann", "pairs", "photo-04", &["dog"]);
    let agreement = |server: &Server| {
        ok(server, "rita", "GET", "/v2/tasks/pairs/agreement", None)["pairs"].clone()
    };
    assert_eq!(
        agreement(&server),
        json!([{"user_ids": ["ann", "bob"], "inputs": 3, "agreed": 2}])
    );
    sign_in(&browser, base, "rita");
    browser.goto(&format!("{base}/tasks/pairs"));
    let figure = "return document.querySelector('tr[data-pair=\"ann bob\"] td[data-agreement]')?.getAttribute('aria-label')";
    assert_eq!(
        browser.wait("the agreement shows", figure),
        json!("ann and bob agree on 2 of 3")
    );
    let shown = browser.js(
        "return document.querySelector('tr[data-pair=\"ann bob\"] td[data-agreement]').textContent",
        json!([]),
    );
    assert_eq!(shown, json!("67%"));
    // bob disagrees on photo-04: the view follows without a reload.
    submit(&server, "bob", "pairs", "photo-04", &["cat"]);
    assert_eq!(
        agreement(&server),
        json!([{"user_ids": ["ann", "bob"], "inputs": 4, "agreed": 2}])
    );
    browser.wait(
        "the agreement follows the new submit",
        &format!("{figure} === 'ann and bob agree on 2 of 4'"),
    );
    snapshot(&browser, "team-agreement");
    // A task without consensus shows no agreement.
    browser.goto(&format!("{base}/tasks/day"));
    browser.find("[aria-label=\"Counts per worker and state\"] tbody tr");
    let none = browser.js(
        "return document.querySelector('[aria-label=\"Agreement between workers\"]') === null",
        json!([]),
    );
    assert_eq!(none, json!(true));
    stayed_home(&browser, base);
}

/// More than nine concepts: `/` opens the filter, typing narrows the buttons (renumbered 1-9),
/// a digit picks among those shown, and Enter in the filter picks the first one.
#[test]
fn a_filter_finds_one_of_many_concepts() {
    let Some((browser, _one)) = browser() else {
        return;
    };
    let project = Garden::new();
    let server = project.serve();
    let base = &server.base;
    sign_in(&browser, base, "ann");
    browser.click_named("Label fruit");
    let first = on_input(&browser, 1);
    let shown = "return [...document.querySelectorAll('[aria-label=\"Concepts\"] button')].map(b => b.getAttribute('aria-label')).join(', ')";
    let all = browser.js(shown, json!([])).as_str().unwrap().to_owned();
    assert!(
        all.starts_with("apple (key 1), apricot (key 2)")
            && all.ends_with("kiwi (key 9), lemon, mango, melon"),
        "{all}"
    );
    browser.keys(&["/"]);
    browser.wait(
        "the filter has the focus",
        "return document.activeElement?.getAttribute('aria-label') === 'Filter concepts'",
    );
    browser.keys(&["an"]);
    assert_eq!(
        browser.wait(
            "the filter narrows the concepts",
            &format!("const s = (() => {{ {shown} }})(); return s === 'banana (key 1), mango (key 2)' && s"),
        ),
        json!("banana (key 1), mango (key 2)")
    );
    browser.keys(&["\u{E00C}", "2", ENTER]);
    let second = on_input(&browser, 2);
    // Enter in the filter picks the first concept shown.
    browser.keys(&["/"]);
    browser.type_into("Filter concepts", "\u{E003}\u{E003}kiw");
    browser.wait(
        "only kiwi is shown",
        &format!("return (() => {{ {shown} }})() === 'kiwi (key 1)'"),
    );
    browser.keys(&[ENTER, ENTER]);
    on_input(&browser, 3);
    for (input, concept) in [(&first, "mango"), (&second, "kiwi")] {
        eventually("the label reached the server", || {
            annotation_on(&server, "ann", "fruit", input)
                .is_some_and(|a| a["data"]["concepts"] == json!([{"id": concept, "value": 1.0}]))
        });
    }
    // The submit follows the annotation: wait for it too, not only for the labels.
    eventually("both submits reached the server", || {
        counts(&server, "ann", "fruit")[2] == 2
    });
    stayed_home(&browser, base);
}

/// The export control offers the formats the server says fit the task, and downloads what the
/// export route answers.
#[test]
fn the_export_offers_the_fitting_formats_and_downloads() {
    let Some((browser, _one)) = browser() else {
        return;
    };
    let project = Garden::new();
    let server = project.serve();
    let base = &server.base;
    // An input of `day` is done once both its workers submitted.
    for user in ["ann", "bob"] {
        submit(&server, user, "day", "photo-01", &["cat"]);
        submit(&server, user, "day", "photo-02", &["bird"]);
    }
    sign_in(&browser, base, "ann");
    let offered = "return [...document.querySelectorAll('[aria-label=\"Export format\"] option')].map(o => o.value).join(' ')";
    for (task, expected) in [("day", "csv jsonl"), ("boxes", "coco yolo voc jsonl")] {
        let served = ok(
            &server,
            "ann",
            "GET",
            &format!("/v2/tasks/{task}/export/formats"),
            None,
        );
        let names: Vec<&str> = served["formats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.join(" "), expected, "{served}");
        browser.goto(&format!("{base}/tasks/{task}"));
        assert_eq!(
            browser.wait("the formats are offered", offered),
            json!(expected)
        );
    }
    // CSV, the first format of a classification task, downloaded.
    browser.goto(&format!("{base}/tasks/day"));
    browser.wait("the formats are offered", offered);
    browser.click_named("Export");
    let said = browser.wait(
        "the page says it exported",
        "return document.querySelector('[aria-label=\"Export status\"]').textContent",
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let expected = agent
        .get(&format!("{base}/v2/tasks/day/export?format=csv"))
        .header("Authorization", "Key key-ann")
        .call()
        .unwrap()
        .body_mut()
        .read_to_vec()
        .unwrap();
    let text = String::from_utf8(expected.clone()).unwrap();
    assert!(text.contains("photo-01") && text.contains("bird"), "{text}");
    assert_eq!(
        said,
        json!(format!("Exported day-csv.csv ({} bytes)", expected.len()))
    );
    let file = browser.downloads().join("day-csv.csv");
    eventually("the browser saved the download", || file.exists());
    assert_eq!(fs::read(&file).unwrap(), expected);
    let fetched = browser.js(
        "return performance.getEntriesByType('resource').some(e => e.name === location.origin + '/v2/tasks/day/export?format=csv')",
        json!([]),
    );
    assert_eq!(fetched, json!(true));
    stayed_home(&browser, base);
}

/// Approving and rejecting with a comment (Shift+A, Shift+R): stored with the decision, and
/// shown to the worker, whose decided work never comes back to label.
#[test]
fn approvals_and_rejections_carry_a_comment_to_the_worker() {
    let Some((browser, _one)) = browser() else {
        return;
    };
    let project = Garden::new();
    let server = project.serve();
    let base = &server.base;
    for input in ["photo-01", "photo-02", "photo-03"] {
        submit(&server, "ann", "checked", input, &["cat"]);
    }
    sign_in(&browser, base, "rita");
    browser.click_named("Review checked");
    let decided = |n: usize| {
        format!("return document.querySelector('.position').textContent.startsWith('{n} decided')")
    };
    for (n, key, comment) in [(1, "A", "clean work"), (2, "R", "that is a fox")] {
        browser.find("[aria-label=\"Version 1: ann\"]");
        browser.keys(&[key]);
        browser.wait(
            "the comment field has the focus",
            "return document.activeElement?.getAttribute('aria-label') === 'Comment'",
        );
        browser.type_into("Comment", comment);
        browser.keys(&[ENTER]);
        browser.wait("the decision is made", &decided(n));
    }
    // Approval without a comment stays one key.
    browser.keys(&["a"]);
    browser.wait("the decision is made", &decided(3));
    eventually("the decisions reached the server", || {
        counts(&server, "ann", "checked")[1] == 0
    });
    let [_, _, success, rejected] = counts(&server, "ann", "checked");
    assert_eq!((success, rejected), (2, 1));
    let feedback = ok(
        &server,
        "ann",
        "GET",
        "/v2/users/me/apps/app/tasks/checked/feedback",
        None,
    )["feedback"]
        .clone();
    assert_eq!(
        feedback,
        json!([
            {"id": "photo-01.ann", "input_id": "photo-01", "status":
                {"code": 54200, "description": "Task assignment success", "details": "clean work"}},
            {"id": "photo-02.ann", "input_id": "photo-02", "status":
                {"code": 54204, "description": "Task assignment rejected", "details": "that is a fox"}},
        ])
    );
    let lines = fs::read_to_string(project.root().join("work/checked/rita.jsonl")).unwrap();
    assert!(
        lines.contains("\"clean work\"") && lines.contains("\"that is a fox\""),
        "{lines}"
    );
    sign_out(&browser);

    sign_in(&browser, base, "ann");
    browser.click_named("Label checked");
    let listed = browser.wait(
        "ann sees the reviewers' comments",
        "const l = document.querySelector('[aria-label=\"Reviewers\\' comments on your work\"]');
         return l && !l.closest('details').hidden && [...l.children].map(li => li.textContent).join('\\n')",
    );
    assert_eq!(
        listed,
        json!("photo-01 approved: clean work\nphoto-02 rejected: that is a fox")
    );
    stayed_home(&browser, base);
}

/// One-key mode: a digit picks its concept and submits at once; Back and a digit change a
/// submitted input; the toggle is remembered for the tab.
#[test]
fn one_key_mode_submits_with_a_digit() {
    let Some((browser, _one)) = browser() else {
        return;
    };
    let project = Garden::new();
    let server = project.serve();
    let base = &server.base;
    sign_in(&browser, base, "ann");
    browser.click_named("Label day");
    let first = on_input(&browser, 1);
    browser.click_named("One-key mode");
    browser.wait(
        "the keys say one-key mode",
        "return document.querySelector('.keys').textContent.includes('one-key mode')",
    );
    browser.keys(&["2"]);
    let second = on_input(&browser, 2);
    browser.keys(&["1"]);
    on_input(&browser, 3);
    eventually("both labels reached the server", || {
        counts(&server, "ann", "day")[2] == 2
    });
    for (input, concept) in [(&first, "dog"), (&second, "cat")] {
        let a = annotation_on(&server, "ann", "day", input).unwrap();
        assert_eq!(
            a["data"]["concepts"],
            json!([{"id": concept, "value": 1.0}]),
            "{a}"
        );
    }
    if withdraw_served(&server) {
        // Back to the second input: a digit changes its label and submits it again.
        browser.keys(&[LEFT]);
        on_input(&browser, 2);
        browser.keys(&["3"]);
        on_input(&browser, 3);
        eventually("the change replaced the label", || {
            annotation_on(&server, "ann", "day", &second)
                .is_some_and(|a| a["data"]["concepts"] == json!([{"id": "bird", "value": 1.0}]))
                && counts(&server, "ann", "day")[2] == 2
        });
    }
    // A reload of the tab keeps the mode.
    browser.goto(&format!("{base}/label/day"));
    on_input(&browser, 1);
    let checked = browser.js(
        "return document.querySelector('[aria-label=\"One-key mode\"]').checked",
        json!([]),
    );
    assert_eq!(checked, json!(true));
    stayed_home(&browser, base);
}

/// The agreement route without a browser: every pair of workers, only submitted work (a
/// withdrawn submission is not compared).
#[test]
fn agreement_counts_each_pair_on_what_both_submitted() {
    let project = Garden::new();
    fs::write(
        project.root().join("tasks/trio.yaml"),
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog]\nworker: {strategy: FULL, user_ids: [ann, bob, rita]}\ninput_source: {type: DATASET, id: garden}\nreview: {strategy: CONSENSUS, user_ids: [rita], consensus_strategy_info: {approval_threshold: 3}}\n",
    )
    .unwrap();
    let server = project.serve();
    for (user, input, concept) in [
        ("ann", "photo-01", "cat"),
        ("bob", "photo-01", "cat"),
        ("rita", "photo-01", "dog"),
        ("ann", "photo-02", "dog"),
        ("bob", "photo-02", "dog"),
        ("rita", "photo-02", "cat"),
    ] {
        submit(&server, user, "trio", input, &[concept]);
    }
    ok(
        &server,
        "rita",
        "PUT",
        "/v2/users/me/apps/app/tasks/trio/assignments",
        Some(json!({"action": "LABEL_WITHDRAW", "input_id": "photo-02"})),
    );
    let answer = ok(&server, "ann", "GET", "/v2/tasks/trio/agreement", None);
    assert_eq!(
        answer["pairs"],
        json!([
            {"user_ids": ["ann", "bob"], "inputs": 2, "agreed": 2},
            {"user_ids": ["ann", "rita"], "inputs": 1, "agreed": 0},
            {"user_ids": ["bob", "rita"], "inputs": 1, "agreed": 0},
        ])
    );
    let (status, _) = api(&server, "ann", "GET", "/v2/tasks/nope/agreement", None);
    assert_eq!(status, 404);
}

/// The media route over HTTP: which dataset URLs are served, and what every other request gets.
#[test]
fn local_files_are_served_only_from_inside_the_project() {
    let project = Garden::new();
    let root = project.root();
    let outside = project.dir.path().join("outside.png");
    fs::copy(root.join("images/garden/photo-01.png"), &outside).unwrap();
    fs::create_dir_all(root.join(".git")).unwrap();
    fs::write(root.join(".git/config"), "[core]\n").unwrap();
    fs::create_dir_all(root.join("work/day")).unwrap();
    fs::copy(
        root.join("images/garden/photo-01.png"),
        root.join("work/day/ann.png"),
    )
    .unwrap();
    fs::write(root.join("texts.txt"), "a cat on the lawn").unwrap();
    fs::write(root.join("fake.png"), "<html><script>alert(1)</script>").unwrap();
    fs::create_dir_all(root.join("links")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("links/out.png")).unwrap();
    std::os::unix::fs::symlink(project.dir.path(), root.join("linked")).unwrap();
    // A keys file inside the project, named like a text input.
    let keys = root.join("secret.txt");
    write_private(&keys, "key-ann: ann\n");
    let cases: &[(&str, &str, u16)] = &[
        ("good", "images/garden/photo-01.png", 200),
        ("dotslash", "./images//garden/photo-02.png", 200),
        ("text", "texts.txt", 200),
        ("up", "../outside.png", 404),
        ("upinside", "images/../../outside.png", 404),
        ("encoded", "%2e%2e/outside.png", 404),
        ("encodedslash", "..%2foutside.png", 404),
        ("absolute", &format!("{}", outside.display()), 404),
        ("etc", "/etc/passwd", 404),
        ("gitconfig", ".git/config", 404),
        ("work", "work/day/ann.png", 404),
        ("keysfile", "secret.txt", 404),
        ("linkfile", "links/out.png", 404),
        ("linkdir", "linked/outside.png", 404),
        ("notimage", "fake.png", 404),
        ("yaml", "tasks/day.yaml", 404),
        ("backslash", "images\\..\\..\\outside.png", 404),
        ("remote", "https://example.com/a.png", 404),
    ];
    let lines: String = cases
        .iter()
        .map(|(id, url, _)| json!({"id": id, "data": {"image": {"url": url}}}).to_string() + "\n")
        .collect();
    fs::write(root.join("inputs/cases.jsonl"), lines).unwrap();
    let server = Server::start(&root, &[OsStr::new("--keys"), keys.as_os_str()], &[]);
    let get = |path: &str, key: Option<&str>| {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut request = agent.get(&format!("{}{path}", server.base));
        if let Some(key) = key {
            request = request.header("Authorization", &format!("Key {key}"));
        }
        let mut response = request.call().unwrap();
        let status = response.status().as_u16();
        let nosniff = response
            .headers()
            .get("x-content-type-options")
            .is_some_and(|v| v == "nosniff");
        let kind = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = response.body_mut().read_to_vec().unwrap();
        (status, kind, nosniff, body)
    };
    for (id, url, expected) in cases {
        let (status, kind, nosniff, body) = get(&format!("/app/media/{id}"), Some("key-ann"));
        assert_eq!(
            status,
            *expected,
            "{id}: {url}: {}",
            String::from_utf8_lossy(&body)
        );
        if status == 200 {
            assert!(nosniff, "{id}");
            assert!(
                kind == "image/png" || kind.starts_with("text/plain"),
                "{id}: {kind}"
            );
        } else {
            assert!(kind.starts_with("application/json"), "{id}: {kind}");
            let text = String::from_utf8_lossy(&body);
            assert!(
                !text.contains("[core]") && !text.contains("key-ann"),
                "{id}: {text}"
            );
        }
    }
    // Ids that are paths never reach the file system; without a key nothing is served.
    for (path, expected) in [
        ("/app/media/..%2f..%2fetc%2fpasswd", 400),
        ("/app/media/%2e%2e", 400),
        ("/app/media/..", 400),
        ("/app/media/good%00", 400),
        ("/app/media/no-such-input", 404),
        ("/app/media/images%2fgarden%2fphoto-01.png", 400),
    ] {
        let (status, _, _, body) = get(path, Some("key-ann"));
        assert_eq!(
            status,
            expected,
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    assert_eq!(get("/app/media/good", None).0, 401);
    assert_eq!(get("/app/media/good", Some("wrong")).0, 401);
    // The page itself needs no key, and says where it may load from.
    let (status, kind, nosniff, _) = get("/label/day", None);
    assert_eq!((status, nosniff), (200, true));
    assert!(kind.starts_with("text/html"), "{kind}");
    assert_eq!(get("/app/app.js", None).0, 200);
    assert_eq!(get("/app/nope.js", None).0, 404);
    assert_eq!(get("/v2/tasks", None).0, 401);
}

/// `bench/app`: against the server `ANNOTASK_BENCH_URL` names (serving a project of 20,000
/// tasks and 100,000 inputs, with the keys of this file), ann labels 60 inputs of the task
/// `app-bench` by keyboard; prints the page's own timings of the submitting key to the next
/// image on screen. A figure, never an assertion.
#[test]
#[ignore = "a benchmark: bench/app runs it against a server it starts"]
fn submit_to_next_image() {
    let Some(base) = std::env::var("ANNOTASK_BENCH_URL").ok() else {
        eprintln!("set ANNOTASK_BENCH_URL to a server's address (bench/app starts one)");
        return;
    };
    let Some((browser, _one)) = browser() else {
        return;
    };
    sign_in(&browser, &base, "ann");
    browser.goto(&format!("{base}/label/app-bench"));
    for i in 0..60 {
        on_input(&browser, i + 1);
        browser.keys(&["1", ENTER]);
    }
    on_input(&browser, 61);
    let timings = submit_timings(&browser);
    let mut sorted = timings.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "submit key to next image shown, {} submits: median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        sorted.len(),
        median(timings),
        sorted[sorted.len() * 9 / 10],
        sorted[sorted.len() - 1]
    );
    stayed_home(&browser, &base);
}

/// AI assist (issue 27): an input the worker has not annotated opens with the assistant's
/// predictions drawn, ready to submit as the worker's own; a prediction below min_threshold is
/// not shown, and one at max_threshold decided its input, which is not handed out.
#[test]
fn the_assistants_predictions_are_the_starting_point() {
    let Some((browser, _one)) = browser() else {
        return;
    };
    let project = Garden::new();
    let root = project.root();
    fs::write(
        root.join("tasks/assisted.yaml"),
        "type: BOUNDING_BOX_DETECTION\nconcept_ids: [cat, dog]\nworker: {strategy: FULL, user_ids: [ann]}\n\
         input_source: {type: DATASET, id: garden}\nreview: {strategy: NONE}\n\
         ai_assistant: {workflow: {id: model}}\nai_assist_params: {min_threshold: 0.3, max_threshold: 0.95}\n",
    )
    .unwrap();
    let prediction = |input: &str, score: f64| {
        json!({"at": "2026-12-01T10:00:00Z", "annotation": {"id": format!("p-{input}"), "input_id": input,
            "data": {"regions": [{"region_info": {"bounding_box":
                {"top_row": 0.2, "left_col": 0.1, "bottom_row": 0.6, "right_col": 0.5}},
                "data": {"concepts": [{"id": "dog", "value": score}]}}]}}})
        .to_string()
    };
    fs::create_dir_all(root.join("work/assisted")).unwrap();
    let lines = [
        prediction("photo-01", 0.8),
        prediction("photo-02", 0.1),
        prediction("photo-03", 0.99),
    ];
    fs::write(
        root.join("work/assisted/model.jsonl"),
        lines.join("\n") + "\n",
    )
    .unwrap();
    let server = project.serve();
    let base = &server.base;
    sign_in(&browser, base, "ann");
    browser.goto(&format!("{base}/label/assisted"));
    assert_eq!(on_input(&browser, 1), "photo-01");
    browser.wait(
        "the prediction is drawn",
        "return document.querySelectorAll('svg.overlay .region').length === 1",
    );
    // The labeler is told where the drawing came from.
    browser.wait(
        "the badge names the assistant",
        "return document.querySelector('[aria-label=\"Input state\"]').textContent === \"To label · model's predictions drawn: check them\"",
    );
    snapshot(&browser, "label-prefilled");
    browser.keys(&[ENTER]);
    // photo-03 was decided by the prediction: the next input is photo-02, with nothing drawn.
    assert_eq!(on_input(&browser, 2), "photo-02");
    eventually("the submitted prediction reached the server", || {
        annotation_on(&server, "ann", "assisted", "photo-01").is_some()
    });
    let a = annotation_on(&server, "ann", "assisted", "photo-01").unwrap();
    assert_eq!(
        a["data"]["regions"][0]["data"]["concepts"],
        json!([{"id": "dog", "value": 1.0}]),
        "{a}"
    );
    let b = &a["data"]["regions"][0]["region_info"]["bounding_box"];
    assert_eq!(
        [
            &b["top_row"],
            &b["left_col"],
            &b["bottom_row"],
            &b["right_col"]
        ]
        .map(|v| v.as_f64().unwrap()),
        [0.2, 0.1, 0.6, 0.5],
        "{a}"
    );
    // On screen since the check above, so drawn before it: its prediction is below min_threshold.
    let drawn = "return document.querySelectorAll('svg.overlay .region').length";
    assert_eq!(browser.js(drawn, json!([])), json!(0));
}
