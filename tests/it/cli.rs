//! End to end: the real binary on real temporary project folders.

use std::fs;
use std::path::Path;

use serde_json::{Value, json};

use crate::common::{Project, annotask, annotask_in};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const POST_BODIES: [&str; 4] = [
    "post-non-assigned",
    "post-assigned",
    "post-partitioned",
    "post-consensus",
];

impl Project {
    /// Runs a command that must fail with exit code 1 and `-o json`: its status object.
    fn json_error(&self, args: &[&str]) -> Value {
        let out = self.cmd(args).args(["-o", "json"]).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["status"].clone()
    }

    fn create_fixture(&self, name: &str) -> Value {
        let body = Path::new(FIXTURES).join(format!("{name}.json"));
        let out = self.json(&["create", "-f", body.to_str().unwrap()]);
        assert_eq!(out["status"], json!({"code": 10000, "description": "Ok"}));
        out["tasks"][0].clone()
    }

    fn task_files(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.root().join("tasks"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn ids(&self, args: &[&str]) -> Vec<String> {
        let out = self.json(&[&["list"], args].concat());
        out["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn fixture(name: &str) -> Value {
    let text = fs::read_to_string(Path::new(FIXTURES).join(format!("{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A task as the server returned it, without the fields the server fills in.
fn without_server_fields(task: &Value) -> Value {
    let mut task = task.clone();
    for field in ["id", "status", "created_at", "modified_at"] {
        task.as_object_mut().unwrap().remove(field);
    }
    task
}

#[test]
fn document_bodies_create_get_list_update_delete() {
    let project = Project::new();
    let mut ids = Vec::new();
    for name in POST_BODIES {
        let sent = &fixture(name)["tasks"][0];
        let created = project.create_fixture(name);
        let id = created["id"].as_str().unwrap().to_owned();
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        assert_eq!(
            without_server_fields(&created),
            *sent,
            "{name}: every field sent comes back"
        );
        assert_eq!(created["status"], json!({"code": "TASK_IN_PROGRESS"}));
        assert_eq!(created["created_at"], created["modified_at"]);
        let got = project.json(&["get", &id]);
        assert_eq!(got["status"]["code"], 10000);
        assert_eq!(got["task"], created, "{name}: get answers what create did");
        let file = fs::read_to_string(project.root().join(format!("tasks/{id}.yaml"))).unwrap();
        assert!(
            file.starts_with(&format!(
                "# yaml-language-server: $schema=../.annotask/task.schema.json\nid: {id}\ntype: CONCEPTS_CLASSIFICATION\n"
            )),
            "{file}"
        );
        ids.push(id);
    }
    let [non_assigned, assigned, partitioned, consensus] = ids.clone().try_into().unwrap();

    let mut all = ids.clone();
    all.sort();
    assert_eq!(project.ids(&[]), all, "list all, ordered by id");
    let mut by_worker = vec![assigned.clone(), partitioned.clone(), consensus.clone()];
    by_worker.sort();
    assert_eq!(
        project.ids(&["--worker-user-ids", "maria-lopez"]),
        by_worker
    );
    assert_eq!(
        project.ids(&["--worker-user-ids", "priya-nair"]),
        [consensus.as_str()]
    );
    let mut either = vec![partitioned.clone(), consensus.clone()];
    either.sort();
    assert_eq!(
        project.ids(&[
            "--worker-user-ids",
            "chen-wei",
            "--worker-user-ids",
            "priya-nair"
        ]),
        either
    );
    let mut by_reviewer = vec![assigned.clone(), consensus.clone()];
    by_reviewer.sort();
    assert_eq!(
        project.ids(&["--review-user-ids", "sam-okafor"]),
        by_reviewer
    );
    assert_eq!(
        project.ids(&[
            "--worker-user-ids",
            "maria-lopez",
            "--review-user-ids",
            "sam-okafor"
        ]),
        by_reviewer,
        "filters combine with AND"
    );
    assert_eq!(
        project.ids(&["--ids", &non_assigned, "--ids", "unknown"]),
        [non_assigned.as_str()]
    );
    assert!(project.ids(&["--worker-user-ids", "nobody"]).is_empty());
    let pages: Vec<Vec<String>> = (1..=3)
        .map(|page| project.ids(&["--per-page", "3", "--page", &page.to_string()]))
        .collect();
    assert_eq!(pages, [all[..3].to_vec(), all[3..].to_vec(), vec![]]);

    // The document's update body, aimed at the partitioned task.
    let before = project.json(&["get", &partitioned])["task"].clone();
    let text = fs::read_to_string(Path::new(FIXTURES).join("patch-overwrite.json")).unwrap();
    let body = project.body("patch", &text.replace("{{task_id}}", &partitioned));
    let updated = project.json(&["update", "-f", &body]);
    let task = &updated["tasks"][0];
    assert_eq!(task["status"], json!({"code": "TASK_DONE"}));
    assert_eq!(task["review"]["strategy"], "CONSENSUS");
    assert_eq!(
        task["worker"]["partitioned_strategy_info"]["weights"],
        json!({"maria-lopez": 1, "chen-wei": 1})
    );
    assert_eq!(
        task["created_at"], before["created_at"],
        "created_at survives an overwrite"
    );
    assert_ne!(task["modified_at"], before["modified_at"]);
    assert_eq!(project.json(&["get", &partitioned])["task"], *task);
    assert_eq!(
        project.ids(&["--worker-user-ids", "priya-nair"]),
        [consensus.as_str()]
    );
    assert_eq!(project.ids(&["--review-user-ids", "sam-okafor"]).len(), 3);

    let text = fs::read_to_string(Path::new(FIXTURES).join("delete.json")).unwrap();
    let body = project.body("delete", &text.replace("{{task_id}}", &assigned));
    let deleted = project.json(&["delete", "-f", &body]);
    assert_eq!(
        deleted,
        json!({"status": {"code": 10000, "description": "Ok"}})
    );
    assert!(
        !project
            .root()
            .join(format!("tasks/{assigned}.yaml"))
            .exists()
    );
    assert_eq!(project.json_error(&["get", &assigned])["code"], 54102);
    project
        .cmd(&["delete", &non_assigned, &consensus])
        .assert()
        .success();
    assert_eq!(project.ids(&[]), [partitioned]);
}

#[test]
fn create_reads_yaml_from_stdin_and_keeps_given_ids() {
    let project = Project::new();
    let body = "tasks:\n  - id: my-task\n    type: CONCEPTS_CLASSIFICATION\n    concept_ids: [cat]\n    input_source: {type: ALL_INPUTS}\n";
    project
        .cmd(&["create", "-f", "-"])
        .write_stdin(body)
        .assert()
        .success();
    assert_eq!(project.task_files(), ["my-task.yaml"]);
    assert_eq!(
        project.json(&["get", "my-task"])["task"]["concept_ids"],
        json!(["cat"])
    );
}

#[test]
fn create_is_all_or_nothing() {
    let project = Project::new();
    let body = project.body(
        "two",
        r#"{"tasks": [
            {"id": "good", "type": "CONCEPTS_CLASSIFICATION", "concept_ids": ["c"], "input_source": {"type": "ALL_INPUTS"}},
            {"id": "bad", "type": "CONCEPTS_CLASSIFICATION", "input_source": {"type": "ALL_INPUTS"}}
        ]}"#,
    );
    let status = project.json_error(&["create", "-f", &body]);
    assert_eq!(status["code"], 11102);
    assert!(
        status["details"]
            .as_str()
            .unwrap()
            .contains("tasks[1].concept_ids"),
        "{status}"
    );
    assert!(project.task_files().is_empty());

    // Located in the body, for people.
    project
        .cmd(&["create", "-f", &body])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("two.body:3:13: error: tasks[1].concept_ids: a CONCEPTS_CLASSIFICATION task needs at least one concept"));

    project.write(
        "tasks/taken.yaml",
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [c]\ninput_source: {type: ALL_INPUTS}\n",
    );
    let body = project.body(
        "dup",
        r#"{"tasks": [
            {"id": "fresh", "type": "CONCEPTS_CLASSIFICATION", "concept_ids": ["c"], "input_source": {"type": "ALL_INPUTS"}},
            {"id": "taken", "type": "CONCEPTS_CLASSIFICATION", "concept_ids": ["c"], "input_source": {"type": "ALL_INPUTS"}}
        ]}"#,
    );
    let status = project.json_error(&["create", "-f", &body]);
    assert_eq!(status["code"], 54100);
    assert_eq!(project.task_files(), ["taken.yaml"]);
}

#[test]
fn bad_bodies_are_refused() {
    let project = Project::new();
    for (text, expected) in [
        ("{\"tasks\": [", "EOF while parsing"),
        ("{\"tasks\": [], \"extra\": 1}", "unknown key `extra`"),
        ("{\"tasks\": [{\"nmae\": \"x\"}]}", "did you mean"),
        (
            "{\"tasks\": [{\"id\": \"../../etc/passwd\"}]}",
            "ids use only letters",
        ),
        ("{\"tasks\": [{\"sample_ms\": \"fast\"}]}", "invalid type"),
    ] {
        let body = project.body("bad", text);
        project
            .cmd(&["create", "-f", &body])
            .assert()
            .code(1)
            .stderr(predicates::str::contains(expected));
    }
    assert!(project.task_files().is_empty());
    let body = project.body("bad", "{\"ids\": [\"../x\"]}");
    project.cmd(&["delete", "-f", &body]).assert().code(1);
}

#[test]
fn update_and_delete_are_all_or_nothing() {
    let project = Project::new();
    let task = project.create_fixture("post-non-assigned");
    let id = task["id"].as_str().unwrap();
    let file = project.root().join(format!("tasks/{id}.yaml"));
    let original = fs::read_to_string(&file).unwrap();

    let patch = |action: &str, ids: [&str; 2]| {
        let tasks: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": id, "type": "POLYGON_DETECTION", "concept_ids": ["c"], "input_source": {"type": "ALL_INPUTS"}}))
            .collect();
        project.body(
            "patch",
            &json!({"action": action, "tasks": tasks}).to_string(),
        )
    };
    let status = project.json_error(&["update", "-f", &patch("overwrite", [id, "missing"])]);
    assert_eq!(status["code"], 54102);
    assert!(status["details"].as_str().unwrap().contains("`missing`"));
    let status = project.json_error(&["update", "-f", &patch("merge", [id, id])]);
    assert_eq!(status["code"], 54101);
    assert!(status["details"].as_str().unwrap().contains("`merge`"));
    assert_eq!(fs::read_to_string(&file).unwrap(), original);

    let status = project.json_error(&["delete", id, "missing"]);
    assert_eq!(status["code"], 54102);
    assert!(file.exists());
}

#[test]
fn an_invalid_edit_keeps_the_last_valid_version() {
    let project = Project::new();
    let valid = "type: CONCEPTS_CLASSIFICATION\nname: first\nconcept_ids: [cat]\ninput_source: {type: ALL_INPUTS}\n";
    project.write("tasks/team/edited.yaml", valid);
    project.cmd(&["sync"]).assert().success();

    project.write(
        "tasks/team/edited.yaml",
        &valid
            .replace("first", "second")
            .replace("ALL_INPUTS", "ALL_INPUT"),
    );
    project
        .cmd(&["sync"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "tasks/team/edited.yaml:4:22: error: input_source.type: unknown value `ALL_INPUT`",
        ))
        .stdout(predicates::str::contains("did you mean `ALL_INPUTS`?"));
    assert_eq!(project.json(&["get", "edited"])["task"]["name"], "first");

    project.write("tasks/team/edited.yaml", "{{{ not yaml");
    project.cmd(&["sync"]).assert().code(1);
    assert_eq!(project.json(&["get", "edited"])["task"]["name"], "first");

    project.write("tasks/team/edited.yaml", &valid.replace("first", "third"));
    project.cmd(&["sync"]).assert().success();
    assert_eq!(project.json(&["get", "edited"])["task"]["name"], "third");
}

#[test]
fn two_files_claiming_one_id() {
    let project = Project::new();
    let task = |name: &str| {
        format!(
            "id: shared\nname: {name}\ntype: CONCEPTS_CLASSIFICATION\nconcept_ids: [c]\ninput_source: {{type: ALL_INPUTS}}\n"
        )
    };
    project.write("tasks/a.yaml", &task("original"));
    project.cmd(&["sync"]).assert().success();

    project.write("tasks/b.yaml", &task("copy"));
    for _ in 0..2 {
        project
            .cmd(&["sync"])
            .assert()
            .code(1)
            .stdout(predicates::str::contains(
                "tasks/a.yaml:1:1: error: id: id `shared` is also defined by `tasks/b.yaml`",
            ))
            .stdout(predicates::str::contains(
                "tasks/b.yaml:1:1: error: id: id `shared` is also defined by `tasks/a.yaml`",
            ));
        assert_eq!(
            project.json(&["get", "shared"])["task"]["name"],
            "original",
            "the index keeps what it had"
        );
    }
    // A fresh index has no version older than the conflict to keep.
    let fresh = project.root().join("fresh.db");
    project
        .cmd(&["--db", fresh.to_str().unwrap(), "get", "shared"])
        .assert()
        .code(1);

    fs::remove_file(project.root().join("tasks/a.yaml")).unwrap();
    project.cmd(&["sync"]).assert().success();
    assert_eq!(project.json(&["get", "shared"])["task"]["name"], "copy");
}

#[test]
fn files_define_tasks_by_id_or_name() {
    let project = Project::new();
    let body =
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [c]\ninput_source: {type: ALL_INPUTS}\n";
    project.write("tasks/by-name.yml", body);
    project.write("tasks/deep/er/file.yaml", &format!("id: by-key\n{body}"));
    project.write("tasks/notes.txt", "not a task");
    project.write("tasks/.hidden/x.yaml", "not read");
    project.write("tasks/by-name.yml.swp", "editor scratch");
    assert_eq!(project.ids(&[]), ["by-key", "by-name"]);

    fs::rename(
        project.root().join("tasks/deep/er/file.yaml"),
        project.root().join("tasks/moved.yaml"),
    )
    .unwrap();
    assert_eq!(
        project.ids(&[]),
        ["by-key", "by-name"],
        "a moved file keeps its task"
    );
    fs::remove_file(project.root().join("tasks/by-name.yml")).unwrap();
    assert_eq!(
        project.ids(&[]),
        ["by-key"],
        "a removed file removes its task"
    );
}

#[test]
fn a_rebuilt_index_answers_the_same() {
    let project = Project::new();
    for name in POST_BODIES {
        project.create_fixture(name);
    }
    project.write("tasks/hand/written.yaml", "type: BOUNDING_BOX_DETECTION\nconcept_ids: [car]\ninput_source: {type: DATASET, id: d1}\nworker: {strategy: FULL, user_ids: [zoe]}\n");
    project.write("tasks/broken.yaml", "type: [");
    let queries: [&[&str]; 4] = [
        &["list", "--per-page", "1000"],
        &["list", "--worker-user-ids", "maria-lopez"],
        &["list", "--review-user-ids", "sam-okafor"],
        &["list", "--worker-user-ids", "zoe"],
    ];
    let fresh = project.root().join("fresh.db");
    for query in queries {
        let incremental = project.json(query);
        let rebuilt = project.json(&[&["--db", fresh.to_str().unwrap()], query].concat());
        assert_eq!(incremental, rebuilt, "{query:?}");
    }
}

#[test]
fn an_index_of_another_schema_version_is_rebuilt() {
    let project = Project::new();
    project.create_fixture("post-assigned");
    let db = project.root().join(".annotask/index.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA user_version = 999; DROP TABLE task_workers;")
        .unwrap();
    drop(conn);
    assert_eq!(project.ids(&["--worker-user-ids", "maria-lopez"]).len(), 1);
}

#[test]
fn exit_codes_and_error_shapes() {
    let project = Project::new();
    project.cmd(&["frobnicate"]).assert().code(2);
    project
        .cmd(&["list", "--per-page", "1001"])
        .assert()
        .code(2);
    project
        .cmd(&["get", "missing"])
        .assert()
        .code(1)
        .stderr("error: no task with id `missing`\n");
    let out = project.json_error(&["get", "missing"]);
    assert_eq!(
        out,
        json!({"code": 54102, "description": "Task missing", "details": "no task with id `missing`"})
    );
    let empty = tempfile::tempdir().unwrap();
    annotask(empty.path(), &["list"])
        .assert()
        .code(4)
        .stderr(predicates::str::contains("there is no tasks folder"));
}

#[test]
fn validate_reports_every_file() {
    let project = Project::new();
    project.write(
        "tasks/ok.yaml",
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [c]\ninput_source: {type: ALL_INPUTS}\n",
    );
    project.write("tasks/bad.yaml", "type: CONCEPTS_CLASSIFICATION\ninput_source: {type: ALL_INPUTS}\nworker: {strategy: FULL, user_ids: [a, a]}\n");
    // Run from the root, as people do, so the paths read `tasks/…`.
    let out = annotask_in(project.root(), &["validate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
    project
        .cmd(&[
            "validate",
            project.root().join("tasks/ok.yaml").to_str().unwrap(),
        ])
        .assert()
        .success();
}

#[test]
fn datasets_are_indexed_counted_and_their_bad_lines_reported() {
    let project = Project::new();
    project.write(
        "inputs/birds.jsonl",
        "{\"id\": \"img-1\", \"data\": {\"image\": {\"url\": \"https://x/1.jpg\"}}}\n{\"id\": \"img 2\"}\n{\"id\": \"img-3\"}\n",
    );
    project.write(
        "inputs/more.csv",
        "id,url\nimg-3,https://x/3.jpg\nimg-4,\"https://x/4.jpg?a=1,2\"\n",
    );
    let out = project.cmd(&["sync"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a bad line is an error");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("inputs/birds.jsonl:2:8: error: id: id `img 2` contains ' '"),
        "{stdout}"
    );
    assert!(stdout.contains("this line is left out; the file's valid lines are indexed"));
    let status = project.json(&["status"]);
    assert_eq!(
        status["inputs"], 3,
        "img-3 is in both datasets and counts once"
    );
    assert_eq!(status["datasets"], 2);
    assert_eq!(status["reports"][0]["file"], "inputs/birds.jsonl");
    project
        .cmd(&["status"])
        .assert()
        .stdout(predicates::str::contains(
            "0 tasks, 3 inputs in 2 datasets and 0 work files indexed;\n1 file with errors",
        ));

    // Fixed, removed: followed by the next query.
    project.write("inputs/birds.jsonl", "{\"id\": \"img-1\"}\n");
    std::fs::remove_file(project.root().join("inputs/more.csv")).unwrap();
    let status = project.json(&["status"]);
    assert_eq!(
        (status["inputs"].clone(), status["datasets"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(status["reports"], json!([]));
    let fresh = project.root().join("fresh.db");
    let rebuilt = project.json(&["--db", fresh.to_str().unwrap(), "status"]);
    assert_eq!(rebuilt["inputs"], status["inputs"]);
    assert_eq!(rebuilt["reports"], status["reports"]);
}

#[test]
fn validate_checks_datasets_and_what_tasks_name() {
    let project = Project::new();
    let task = |source: &str| {
        format!("type: CONCEPTS_CLASSIFICATION\nconcept_ids: [c]\ninput_source: {source}\n")
    };
    project.write("tasks/known.yaml", &task("{type: DATASET, id: birds}"));
    project.write("tasks/unknown.yaml", &task("{type: DATASET, id: cats}"));
    project.write("tasks/search.yaml", &task("{type: SAVED_SEARCH, id: s1}"));
    project.write("inputs/birds.csv", "id\nimg-1\n");
    project.write("inputs/cats.json", "{\"id\": \"a\"}\n");
    project.write("inputs/2024/cats.jsonl", "{\"id\": \"a\"}\n");
    project.write("inputs/.DS_Store", "");
    let out = project.json(&["validate"]);
    assert_eq!(out["files"], 4);
    assert_eq!(out["invalid"], 0, "warnings only: {out}");
    let messages: Vec<(String, String)> = out["reports"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["diagnostics"].as_array().unwrap().iter().map(|d| {
                let at = &d["location"];
                (
                    format!("{}:{}", r["file"].as_str().unwrap(), at["line"]),
                    d["message"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect();
    let root = project.root().display().to_string();
    let unread = "not read: a dataset is a `.jsonl` or `.csv` file directly in inputs/";
    assert_eq!(
        messages,
        [
            (
                format!("{root}/tasks/search.yaml:3"),
                "a saved search is answered by the hosted API only: offline the task has no inputs"
                    .to_owned()
            ),
            (
                format!("{root}/tasks/unknown.yaml:3"),
                "dataset `cats` has no file, so the task has no inputs".to_owned()
            ),
            (format!("{root}/inputs/2024/:null"), unread.to_owned()),
            (format!("{root}/inputs/cats.json:null"), unread.to_owned()),
        ]
    );
    project.write("inputs/cats.jsonl", "{\"id\": \"a\"}\nnot json\n");
    project
        .cmd(&["validate"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "inputs/cats.jsonl:2:1: error: each line must be one JSON object",
        ));
    let named = project.root().join("inputs/cats.jsonl");
    project
        .cmd(&["validate", named.to_str().unwrap()])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("1 file checked, 1 invalid"));
}

#[test]
fn assignments_and_counts_of_a_weighted_task() {
    let project = Project::new();
    project.write(
        "tasks/w.yaml",
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [c]\ninput_source: {type: DATASET, id: photos}\nworker:\n  strategy: PARTITIONED\n  user_ids: [ann, bob]\n  partitioned_strategy_info: {type: WEIGHTED, workers_per_input: 1, weights: {ann: 3, bob: 1}}\nreview: {strategy: MANUAL, user_ids: [rev], manual_strategy_info: {sample_percentage: 0.5}}\n",
    );
    let csv: String = (0..8)
        .map(|i| format!("p{i},https://x/{i}.jpg\n"))
        .collect();
    project.write("inputs/photos.csv", &format!("id,url\n{csv}"));
    let counts = project.json(&["counts", "w"]);
    assert_eq!(counts["task_id"], "w");
    let pending: Vec<(String, u64)> = counts["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["worker"]["user"]["id"].as_str().unwrap().to_owned(),
                c["pending"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(pending, [("ann".to_owned(), 6), ("bob".to_owned(), 2)]);

    let all = project.json(&["assignments", "w", "--per-page", "1000"]);
    let rows = all["task_assignments"].as_array().unwrap();
    assert_eq!(rows.len(), 8, "one worker an input");
    let inputs: Vec<&str> = rows
        .iter()
        .map(|r| r["input"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"]);
    assert_eq!(rows[0]["status"]["code"], 54201);
    assert_eq!(
        rows[0]["input"],
        json!({"id": "p0", "data": {"image": {"url": "https://x/0.jpg"}}}),
        "a CSV's url column is the input's image"
    );
    let first = &rows[0];
    assert_eq!(
        first["id"],
        format!("p0.{}", first["worker"]["user"]["id"].as_str().unwrap())
    );
    let bob = project.json(&["assignments", "w", "--worker-user-id", "bob"]);
    assert_eq!(bob["task_assignments"].as_array().unwrap().len(), 2);
    let page = project.json(&["assignments", "w", "--per-page", "3", "--page", "3"]);
    assert_eq!(page["task_assignments"], json!(rows[6..8]));
    project
        .cmd(&["assignments", "w", "--per-page", "2"])
        .assert()
        .success()
        .stdout(predicates::str::starts_with("INPUT  WORKER  STATUS\np0"));

    let task = project.json(&["get", "w", "--metrics"])["task"].clone();
    assert_eq!(
        task["metrics"],
        json!({
            "input_source": {"inputs_count_estimated": 8},
            "work": {"inputs_count_estimated": 8, "inputs_percent_estimated": 0},
            "review": {"inputs_count_estimated": 4, "inputs_percent_estimated": 0,
                       "inputs_count_estimated_per_reviewer": [4],
                       "inputs_reviewable_count_estimated_per_reviewer": [0],
                       "inputs_percent_estimated_per_reviewer": [0]},
        })
    );
    assert!(project.json(&["get", "w"])["task"].get("metrics").is_none());
    project.cmd(&["counts", "missing"]).assert().code(1);
}
