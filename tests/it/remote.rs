//! `plan`, `apply` and `pull` against a real second `annotask serve`, on its own temp root
//! with an API key, started by the test; the local project is another temp root.

use std::fs;
use std::path::PathBuf;
use std::process::Output;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::common::{Project, Server};

const KEY: &str = "remote-key";

/// The team server: an empty project served with a key; killed when dropped.
struct Remote {
    server: Server,
    root: TempDir,
}

impl Remote {
    fn start() -> Remote {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("tasks")).unwrap();
        let server = Server::start(root.path(), &["--api-key", KEY], &[]);
        Remote { server, root }
    }

    fn call(&self, method: &str, body: Option<Value>) -> Value {
        let path = match method {
            "GET" => "/v2/users/u/apps/a/tasks?per_page=1000",
            _ => "/v2/users/u/apps/a/tasks",
        };
        let text = body.map(|b| b.to_string());
        let auth = format!("Key {KEY}");
        let (status, body) = self.server.call(Some(&auth), method, path, text.as_deref());
        assert_eq!(status, 200, "{method}: {body}");
        body
    }

    /// The remote's tasks by id.
    fn tasks(&self) -> Vec<Value> {
        self.call("GET", None)["tasks"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn ids(&self) -> Vec<String> {
        self.tasks()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    }

    fn task(&self, id: &str) -> Value {
        self.tasks()
            .into_iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("no remote task {id}"))
    }

    fn files(&self) -> usize {
        fs::read_dir(self.root.path().join("tasks"))
            .unwrap()
            .count()
    }
}

/// A local project, and the remote it deploys to.
struct Deployment {
    local: Project,
    remote: Remote,
}

fn task(id: &str, name: &str) -> String {
    format!(
        "# {id}: kept by apply\nid: {id}\ntype: CONCEPTS_CLASSIFICATION\nname: {name}\nworker:\n  strategy: FULL\nconcept_ids:\n  - cat\ninput_source:\n  type: ALL_INPUTS\nsample_ms: 1000\nreview:\n  strategy: NONE\n"
    )
}

impl Deployment {
    fn new(ids: &[&str]) -> Deployment {
        let project = Deployment {
            local: Project::new(),
            remote: Remote::start(),
        };
        for id in ids {
            project.write(id, &task(id, "first"));
        }
        project
    }

    fn path(&self, id: &str) -> PathBuf {
        self.local.path(&format!("tasks/{id}.yaml"))
    }

    fn write(&self, id: &str, text: &str) {
        fs::write(self.path(id), text).unwrap();
    }

    fn run_with_key(&self, key: &str, args: &[&str]) -> Output {
        self.local
            .command()
            .args(args)
            .args([
                "--remote",
                &self.remote.server.base,
                "--user-id",
                "u",
                "--app-id",
                "a",
            ])
            .env("CLARIFAI_PAT", key)
            .output()
            .unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_key(KEY, args)
    }

    /// `plan -o json --detailed-exitcode`: the exit code and the changes.
    fn plan(&self, extra: &[&str]) -> (i32, Vec<Value>) {
        let mut args = vec!["-o", "json", "plan", "--detailed-exitcode"];
        args.extend(extra);
        let out = self.run(&args);
        let code = out.status.code().unwrap();
        assert!(
            matches!(code, 0 | 3),
            "plan failed ({code}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let body: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(body["status"]["code"], 10000);
        (code, body["changes"].as_array().unwrap().clone())
    }

    fn apply(&self, extra: &[&str]) -> Output {
        let mut args = vec!["apply", "--yes"];
        args.extend(extra);
        self.run(&args)
    }
}

/// `(action, id, changed fields)` of each change.
fn summary(changes: &[Value]) -> Vec<(String, String, Vec<String>)> {
    changes
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_owned(),
                c["id"].as_str().unwrap().to_owned(),
                c["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["field"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect()
}

fn change(action: &str, id: &str, fields: &[&str]) -> (String, String, Vec<String>) {
    (
        action.to_owned(),
        id.to_owned(),
        fields.iter().map(|f| (*f).to_owned()).collect(),
    )
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn plan_apply_plan_then_a_local_edit_is_one_update() {
    let p = Deployment::new(&["a", "b"]);
    let (code, changes) = p.plan(&[]);
    assert_eq!(code, 3);
    assert_eq!(
        summary(&changes)
            .iter()
            .map(|c| (c.0.as_str(), c.1.as_str()))
            .collect::<Vec<_>>(),
        [("create", "a"), ("create", "b")]
    );
    let out = ok(&p.apply(&[]));
    assert!(out.contains("applied a: created"), "{out}");
    assert_eq!(p.remote.ids(), ["a", "b"]);
    assert!(p.remote.task("a")["metadata"]["annotask"]["fingerprint"].is_string());
    assert_eq!(p.plan(&[]), (0, vec![]));

    p.write("a", &task("a", "second"));
    let (code, changes) = p.plan(&[]);
    assert_eq!(code, 3);
    assert_eq!(summary(&changes), [change("update", "a", &["name"])]);
    assert_eq!(changes[0]["fields"][0]["old"], "first");
    assert_eq!(changes[0]["fields"][0]["new"], "second");
    ok(&p.apply(&[]));
    assert_eq!(p.remote.task("a")["name"], "second");
    assert_eq!(p.plan(&[]), (0, vec![]));
    // The file's comment survived.
    assert!(
        fs::read_to_string(p.path("a"))
            .unwrap()
            .starts_with("# a: kept by apply")
    );
}

#[test]
fn a_remote_only_task_is_pulled_and_never_pruned() {
    let p = Deployment::new(&["a"]);
    ok(&p.apply(&[]));
    let theirs = json_task("theirs", "made on the server");
    p.remote.call("POST", Some(json!({ "tasks": [theirs] })));
    // Unmanaged: neither an orphan nor a delete.
    assert_eq!(p.plan(&["--prune"]), (0, vec![]));
    let before = fs::read_to_string(p.path("a")).unwrap();
    let out = ok(&p.run(&["pull"]));
    assert!(out.contains("pulled tasks/theirs.yaml"), "{out}");
    let pulled = fs::read_to_string(p.path("theirs")).unwrap();
    assert!(pulled.contains("name: made on the server"), "{pulled}");
    assert_eq!(fs::read_to_string(p.path("a")).unwrap(), before);
    // A second pull writes nothing new.
    assert!(!ok(&p.run(&["pull"])).contains("pulled"));
    assert_eq!(p.remote.ids(), ["a", "theirs"]);
}

/// The JSON of a task made on the server, as `task` writes one.
fn json_task(id: &str, name: &str) -> Value {
    json!({
        "id": id, "type": "CONCEPTS_CLASSIFICATION", "name": name,
        "worker": {"strategy": "FULL"}, "concept_ids": ["cat"],
        "input_source": {"type": "ALL_INPUTS"}, "review": {"strategy": "NONE"}
    })
}

#[test]
fn a_removed_file_is_an_orphan_then_deleted_by_prune() {
    let p = Deployment::new(&["a", "gone"]);
    ok(&p.apply(&[]));
    fs::remove_file(p.path("gone")).unwrap();
    let (code, changes) = p.plan(&[]);
    assert_eq!(code, 0, "an orphan is reported, not applied");
    assert_eq!(summary(&changes), [change("orphan", "gone", &[])]);
    let (code, changes) = p.plan(&["--prune"]);
    assert_eq!(code, 3);
    assert_eq!(summary(&changes), [change("delete", "gone", &[])]);
    ok(&p.apply(&["--prune"]));
    assert_eq!(p.remote.ids(), ["a"]);
}

#[test]
fn edits_on_both_sides_conflict_and_remote_edits_are_drift() {
    let p = Deployment::new(&["both", "remote-only"]);
    ok(&p.apply(&[]));
    for id in ["both", "remote-only"] {
        let mut edited = p.remote.task(id);
        edited["name"] = json!("edited on the server");
        p.remote.call(
            "PATCH",
            Some(json!({"action": "overwrite", "tasks": [edited]})),
        );
    }
    p.write("both", &task("both", "edited in the file"));
    let (code, changes) = p.plan(&[]);
    assert_eq!(code, 3);
    assert_eq!(
        summary(&changes),
        [
            change("conflict", "both", &["name"]),
            change("update", "remote-only", &["name"])
        ]
    );
    assert_eq!(changes[1]["drift"], true);
    assert_eq!(changes[1]["fields"][0]["new"], "first");

    let refused = p.apply(&[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("--force-conflicts"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(p.remote.task("both")["name"], "edited on the server");
    assert_eq!(p.remote.task("remote-only")["name"], "edited on the server");

    ok(&p.apply(&["--force-conflicts"]));
    assert_eq!(p.remote.task("both")["name"], "edited in the file");
    assert_eq!(p.remote.task("remote-only")["name"], "first");
    assert_eq!(p.plan(&[]), (0, vec![]));
}

#[test]
fn an_empty_tasks_folder_with_prune_is_refused() {
    let p = Deployment::new(&["a"]);
    ok(&p.apply(&[]));
    fs::remove_file(p.path("a")).unwrap();
    for command in ["plan", "apply"] {
        let out = p.run(&[command, "--prune", "--yes"][..if command == "plan" { 2 } else { 3 }]);
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("--allow-empty"), "{}", stderr(&out));
    }
    assert_eq!(p.remote.ids(), ["a"]);
    ok(&p.apply(&["--prune", "--allow-empty"]));
    assert!(p.remote.ids().is_empty());
}

#[test]
fn a_wrong_key_changes_nothing() {
    let p = Deployment::new(&["a"]);
    for args in [&["plan"][..], &["apply", "--yes"], &["pull"]] {
        let out = p.run_with_key("wrong", args);
        assert_eq!(out.status.code(), Some(5), "{args:?}");
        assert!(stderr(&out).contains("refused the key"), "{}", stderr(&out));
    }
    assert_eq!(p.remote.files(), 0);
    assert_eq!(
        fs::read_dir(p.local.root().join("tasks")).unwrap().count(),
        1
    );
}

#[test]
fn apply_in_a_pipe_needs_yes_and_invalid_files_send_nothing() {
    let p = Deployment::new(&["a"]);
    let out = p.run(&["apply"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    p.write("bad", "id: bad\ntype: NOT_A_TYPE\n");
    let out = p.apply(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nothing planned"), "{}", stderr(&out));
    assert_eq!(p.remote.files(), 0);
}

#[test]
fn an_unreachable_remote_is_a_clear_error() {
    let out = Project::new()
        .command()
        .args([
            "plan",
            "--remote",
            "http://127.0.0.1:9",
            "--user-id",
            "u",
            "--app-id",
            "a",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
}

#[test]
fn named_remotes_come_from_the_project_config() {
    let p = Deployment::new(&["a"]);
    let config = format!(
        "remotes:\n  team:\n    url: {}\n    user_id: u\n    app_id: a\n    key_env: TEAM_KEY\n",
        p.remote.server.base
    );
    fs::write(p.local.root().join("annotask.yaml"), config).unwrap();
    let out = p
        .local
        .command()
        .args(["plan", "--remote", "team"])
        .env("TEAM_KEY", KEY)
        .env_remove("CLARIFAI_PAT")
        .output()
        .unwrap();
    assert!(ok(&out).contains("+ a create"));
    fs::write(
        p.local.root().join("annotask.yaml"),
        "remotes:\n  team:\n    url: x\n    key: secret\n",
    )
    .unwrap();
    let out = p
        .local
        .command()
        .args(["plan", "--remote", "team"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("key"), "{}", stderr(&out));
}

#[test]
fn a_partial_failure_names_what_was_and_was_not_applied() {
    let p = Deployment::new(&[]);
    let ids: Vec<String> = (0..100).map(|i| format!("a{i:03}")).collect();
    for id in &ids {
        p.write(id, &task(id, "first"));
    }
    p.write("x", &task("x", "first"));
    // The remote cannot take `x`: an invalid file of its own claims that id, so ListTasks
    // does not show it and PostTasks refuses it. The first request of 100 goes through.
    fs::write(
        p.remote.root.path().join("tasks/x.yaml"),
        "id: x\ntype: NOPE\n",
    )
    .unwrap();
    let out = p.run(&["-o", "json", "apply", "--yes"]);
    assert_eq!(out.status.code(), Some(5));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"]["code"], 10010, "{report}");
    let results = report["results"].as_array().unwrap();
    let by = |r: &str| results.iter().filter(|x| x["result"] == r).count();
    assert_eq!(
        (by("applied"), by("failed"), by("not_attempted")),
        (100, 1, 0)
    );
    assert_eq!(results.last().unwrap()["id"], "x");
    assert_eq!(p.remote.ids(), ids);
    let out = p.apply(&[]);
    assert!(
        stderr(&out).contains("MIXED_STATUS: 0 applied, 1 failed"),
        "{}",
        stderr(&out)
    );
}
