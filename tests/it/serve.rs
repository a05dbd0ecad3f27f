//! `annotask serve` over real HTTP: the binary on a port of its choosing, in a copy of the
//! shipped project, driven with the API document's request bodies, the official Python client
//! over its JSON and gRPC channels, in plain text and TLS (in a virtual environment the tests
//! make under `target/`, or ANNOTASK_TEST_PYTHON's), bad input, API keys, body limits,
//! concurrent clients and edits made on disk while it runs.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::common::{BIN, Server, annotask, eventually, python};

/// The four tasks the repository ships, by id.
const SHIPPED: [&str; 4] = [
    "annotate-birds-weighted",
    "annotate-cars-consensus",
    "annotate-dogs-reviewed",
    "annotate-street-cats",
];

/// A running server on a copy of the shipped project; killed when dropped.
struct Served {
    server: Server,
    root: TempDir,
    key: Option<String>,
}

impl Served {
    fn start() -> Served {
        Served::start_with(&[], &[])
    }

    fn start_with(args: &[&str], env: &[(&str, &str)]) -> Served {
        let root = tempfile::tempdir().unwrap();
        let tasks = root.path().join("tasks");
        fs::create_dir(&tasks).unwrap();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("tasks");
        for entry in fs::read_dir(shipped).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), tasks.join(entry.file_name())).unwrap();
        }
        let server = Server::start(root.path(), args, env);
        let key = args
            .iter()
            .position(|a| *a == "--api-key")
            .map(|i| args[i + 1].to_owned())
            .or_else(|| {
                env.iter()
                    .find(|(k, _)| *k == "ANNOTASK_API_KEY")
                    .map(|(_, v)| (*v).to_owned())
            });
        Served { server, root, key }
    }

    fn tasks_dir(&self) -> PathBuf {
        self.root.path().join("tasks")
    }

    /// Sends a request with the server's key (if any); returns the status and JSON body.
    fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let auth = self.key.as_ref().map(|k| format!("Key {k}"));
        self.call_as(auth.as_deref(), method, path, body)
    }

    fn call_as(
        &self,
        auth: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, Value) {
        self.server.call(auth, method, path, body)
    }

    fn ok(&self, method: &str, path: &str, body: Option<&str>) -> Value {
        let (status, value) = self.call(method, path, body);
        assert_eq!(status, 200, "{method} {path}: {value}");
        assert_eq!(value["status"], json!({"code": 10000, "description": "Ok"}));
        value
    }

    fn task_files(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.tasks_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}

fn ids(response: &Value) -> Vec<String> {
    response["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The document's four PostTasks bodies (tasks-api.md), placeholders filled in. The first is
/// kept as the document prints it, tabs and all.
const NON_ASSIGNED: &str = r#"
  {
      "tasks": [
          {
              "type": "CONCEPTS_CLASSIFICATION",
              "name": "Annotate owl",
              "worker": {
              	"strategy": "FULL"
              },
          	"concept_ids": [
          		"owl"
          	],
          	"input_source": {
          		"type": "ALL_INPUTS"
          	},
          	"sample_ms": 1000,
          	"review": {
          		"strategy": "NONE"
          	}
          }
      ]
  }"#;

const ASSIGNED: &str = r#"
    {
        "tasks": [
            {
                "type": "CONCEPTS_CLASSIFICATION",
                "name": "Annotate owl",
                "worker": {
                    "strategy": "FULL",
                    "user_ids": [
                        "ana"
                    ]
                },
                "concept_ids": [
                    "owl"
                ],
                "input_source": {
                    "type": "ALL_INPUTS"
                },
                "sample_ms": 1000,
                "review": {
                    "strategy": "MANUAL",
                    "manual_strategy_info": {
                        "sample_percentage": 0.5
                    },
                    "user_ids": [
                        "dee"
                    ]
                }
            }
        ]
    }"#;

const PARTITIONED: &str = r#"
    {
        "tasks": [
            {
                "type": "CONCEPTS_CLASSIFICATION",
                "name": "Annotate owl",
                "worker": {
                    "strategy": "PARTITIONED",
                    "user_ids": ["ana", "ben"],
                    "partitioned_strategy_info": {
                        "type": "WEIGHTED",
                        "workers_per_input": 1,
                        "weights": {
                            "ana": 90,
                            "ben": 10
                        }
                    }
                },
                "concept_ids": [
                    "owl"
                ],
                "input_source": {
                    "type": "ALL_INPUTS"
                },
                "sample_ms": 1000,
                "review": {
                    "strategy": "NONE"
                }
            }
        ]
    }"#;

const CONSENSUS: &str = r#"
    {
        "tasks": [
            {
                "type": "CONCEPTS_CLASSIFICATION",
                "name": "Annotate owl",
                "worker": {
                    "strategy": "PARTITIONED",
                    "user_ids": ["ana", "ben", "cy"],
                    "partitioned_strategy_info": {
                        "type": "WEIGHTED",
                        "workers_per_input": 1,
                        "weights": {
                            "ana": 1,
                            "ben": 1,
                            "cy": 1
                        }
                    }
                },
                "concept_ids": [
                    "owl"
                ],
                "input_source": {
                    "type": "ALL_INPUTS"
                },
                "sample_ms": 1000,
                "review": {
                    "strategy": "CONSENSUS",
                    "consensus_strategy_info": {
                        "approval_threshold": 2
                    },
                    "user_ids": [
                        "dee"
                    ]
                }
            }
        ]
    }"#;

/// The document's PatchTasks body for a task id.
fn update_body(id: &str) -> String {
    r#"
    {
        "action": "overwrite",
        "tasks": [
            {
                "id": "TASK_ID",
                "type": "CONCEPTS_CLASSIFICATION",
                "name": "Annotate owl",
                "worker": {
                    "strategy": "PARTITIONED",
                    "user_ids": ["ana", "ben"],
                    "partitioned_strategy_info": {
                        "type": "WEIGHTED",
                        "workers_per_input": 1,
                        "weights": {
                            "ana": 1,
                            "ben": 1
                        }
                    }
                },
                "concept_ids": [
                    "owl"
                ],
                "input_source": {
                    "type": "ALL_INPUTS"
                },
                "sample_ms": 1000,
                "review": {
                    "strategy": "CONSENSUS",
                    "consensus_strategy_info": {
                        "approval_threshold": 2
                    },
                    "user_ids": [
                        "eve"
                    ]
                },
                "status": {
                    "code": "TASK_DONE"
                }
            }
        ]
    }"#
    .replace("TASK_ID", id)
}

/// Takes the server-made fields out of an answered task, checking them on the way.
fn without_server_fields(mut task: Value) -> Value {
    let object = task.as_object_mut().unwrap();
    let id = object.remove("id").expect("an id");
    let id = id.as_str().unwrap();
    assert!(
        id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "generated id {id}"
    );
    for key in ["created_at", "modified_at"] {
        let at = object.remove(key).unwrap_or_else(|| panic!("a {key}"));
        at.as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap_or_else(|e| panic!("{key} {at}: {e}"));
    }
    task
}

#[test]
fn the_documents_requests() {
    let server = Served::start();
    let mut created = Vec::new();
    for body in [NON_ASSIGNED, ASSIGNED, PARTITIONED, CONSENSUS] {
        let response = server.ok("POST", "/v2/tasks", Some(body));
        let sent: Value = serde_json::from_str(body).unwrap();
        let mut expected = sent["tasks"][0].clone();
        expected["status"] = json!({"code": "TASK_IN_PROGRESS"});
        assert_eq!(response["tasks"].as_array().unwrap().len(), 1);
        let task = response["tasks"][0].clone();
        assert_eq!(task["created_at"], task["modified_at"]);
        assert_eq!(without_server_fields(task.clone()), expected, "{body}");
        created.push(task);
    }
    let [non_assigned, assigned, partitioned, consensus] = created.try_into().unwrap();
    let id = |t: &Value| t["id"].as_str().unwrap().to_owned();

    // Get: each task comes back as it was created, and its file holds it.
    for task in [&non_assigned, &assigned, &partitioned, &consensus] {
        let got = server.ok("GET", &format!("/v2/tasks/{}", id(task)), None);
        assert_eq!(&got["task"], task);
        assert!(
            server
                .tasks_dir()
                .join(format!("{}.yaml", id(task)))
                .is_file()
        );
    }

    // List all, in id order.
    let mut all: Vec<String> = SHIPPED.iter().map(|s| (*s).to_owned()).collect();
    all.extend([&non_assigned, &assigned, &partitioned, &consensus].map(id));
    all.sort();
    let listed = server.ok("GET", "/v2/tasks", None);
    assert_eq!(ids(&listed), all);
    let body_of = |wanted: &str| {
        listed["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == wanted)
            .unwrap()
            .clone()
    };
    assert_eq!(body_of(&id(&consensus)), consensus);

    // By worker, by reviewer: the query, and the ids it lists (in any order here).
    let birds = "annotate-birds-weighted".to_owned();
    let cars = "annotate-cars-consensus".to_owned();
    let dogs = "annotate-dogs-reviewed".to_owned();
    for (query, mut expected) in [
        (
            "worker_user_ids=ana",
            vec![id(&assigned), id(&partitioned), id(&consensus)],
        ),
        ("review_user_ids=dee", vec![id(&assigned), id(&consensus)]),
        (
            "worker_user_ids=chen-wei&worker_user_ids=cy",
            vec![birds, cars.clone(), id(&consensus)],
        ),
        (
            "worker_user_ids=maria-lopez&review_user_ids=sam-okafor",
            vec![cars, dogs],
        ),
    ] {
        expected.sort();
        let listed = server.ok("GET", &format!("/v2/tasks?{query}"), None);
        assert_eq!(ids(&listed), expected, "{query}");
    }

    // Paginated: pages of 3 cover everything once, then come back empty.
    let mut paged = Vec::new();
    for page in 1..=3 {
        let got = server.ok("GET", &format!("/v2/tasks?page={page}&per_page=3"), None);
        assert_eq!(ids(&got).len(), if page < 3 { 3 } else { 2 });
        paged.extend(ids(&got));
    }
    assert_eq!(paged, all);
    assert!(ids(&server.ok("GET", "/v2/tasks?page=4&per_page=3", None)).is_empty());

    // Update: overwritten, status taken, created_at kept, and the file says so.
    let target = id(&partitioned);
    let updated = server.ok("PATCH", "/v2/tasks", Some(&update_body(&target)));
    let task = &updated["tasks"][0];
    let sent: Value = serde_json::from_str(&update_body(&target)).unwrap();
    let mut expected = sent["tasks"][0].clone();
    expected["created_at"] = partitioned["created_at"].clone();
    expected["modified_at"] = task["modified_at"].clone();
    assert_eq!(task, &expected);
    assert_ne!(task["modified_at"], partitioned["modified_at"]);
    let got = server.ok("GET", &format!("/v2/tasks/{target}"), None);
    assert_eq!(&got["task"], task);
    let file = fs::read_to_string(server.tasks_dir().join(format!("{target}.yaml"))).unwrap();
    assert!(file.contains("TASK_DONE") && file.contains("eve"), "{file}");
    assert_eq!(
        ids(&server.ok("GET", "/v2/tasks?review_user_ids=eve", None)),
        [target]
    );

    // Delete: the document's body; the tasks and their files are gone.
    let doomed = [id(&partitioned), id(&non_assigned)];
    let deleted = server.ok(
        "DELETE",
        "/v2/tasks",
        Some(&format!(
            "\n    {{\n        \"ids\":[\"{}\", \"{}\"]\n    }}",
            doomed[0], doomed[1]
        )),
    );
    assert_eq!(
        deleted,
        json!({"status": {"code": 10000, "description": "Ok"}})
    );
    for gone in &doomed {
        let (status, body) = server.call("GET", &format!("/v2/tasks/{gone}"), None);
        assert_eq!(status, 404);
        assert_eq!(body["status"]["code"], 54102);
        assert!(!server.tasks_dir().join(format!("{gone}.yaml")).exists());
    }
    assert_eq!(ids(&server.ok("GET", "/v2/tasks", None)).len(), 6);
}

#[test]
fn user_and_app_paths() {
    let server = Served::start();
    let prefix = "/v2/users/me/apps/annotations";
    let body = r#"{"user_app_id": {"user_id": "me", "app_id": "annotations"},
        "tasks": [{"id": "via-app", "type": "TYPE_NOT_SET", "name": "Scoped",
                   "input_source": {"type": "ALL_INPUTS"}}]}"#;
    let created = server.ok("POST", &format!("{prefix}/tasks"), Some(body));
    assert_eq!(ids(&created), ["via-app"]);
    let got = server.ok(
        "GET",
        &format!("{prefix}/tasks/via-app?user_app_id.user_id=me&user_app_id.app_id=annotations"),
        None,
    );
    assert_eq!(got["task"]["name"], "Scoped");
    let listed = server.ok(
        "GET",
        &format!("{prefix}/tasks?user_app_id.user_id=me&user_app_id.app_id=annotations&ids=via-app&ids=annotate-street-cats"),
        None,
    );
    assert_eq!(ids(&listed), ["annotate-street-cats", "via-app"]);
    let patch = r#"{"action": "overwrite", "tasks": [{"id": "via-app", "name": "Rescoped",
        "input_source": {"type": "ALL_INPUTS"}}]}"#;
    server.ok("PATCH", &format!("{prefix}/tasks"), Some(patch));
    assert_eq!(
        server.ok("GET", "/v2/tasks/via-app", None)["task"]["name"],
        "Rescoped"
    );
    server.ok(
        "DELETE",
        &format!("{prefix}/tasks"),
        Some(r#"{"user_app_id": {"app_id": "annotations"}, "ids": ["via-app"]}"#),
    );
    assert_eq!(server.call("GET", "/v2/tasks/via-app", None).0, 404);
}

#[test]
fn api_keys() {
    // From the environment, as a service manager would pass it.
    let server = Served::start_with(&[], &[("ANNOTASK_API_KEY", "s3cret")]);
    for auth in [
        None,
        Some("Key wrong"),
        Some("Bearer s3cret"),
        Some("s3cret"),
    ] {
        for (method, path, body) in [
            ("GET", "/v2/tasks", None),
            ("GET", "/v2/tasks/annotate-street-cats", None),
            (
                "POST",
                "/v2/tasks",
                Some(r#"{"tasks": [{"id": "sneaky"}]}"#),
            ),
            (
                "DELETE",
                "/v2/tasks",
                Some(r#"{"ids": ["annotate-street-cats"]}"#),
            ),
        ] {
            let (status, value) = server.call_as(auth, method, path, body);
            assert_eq!(status, 401, "{auth:?} {method} {path}");
            assert_eq!(value["status"]["code"], 11008);
            assert!(!value["status"]["details"].as_str().unwrap().is_empty());
        }
    }
    assert_eq!(server.task_files().len(), 4, "nothing written or deleted");
    server.ok("GET", "/v2/tasks/annotate-street-cats", None);

    // From the flag.
    let server = Served::start_with(&["--api-key", "flag-key"], &[]);
    assert_eq!(server.call_as(None, "GET", "/v2/tasks", None).0, 401);
    server.ok("GET", "/v2/tasks", None);
}

#[test]
fn refuses_to_listen_beyond_loopback_without_a_key() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir(root.path().join("tasks")).unwrap();
    let output = Command::new(BIN)
        .arg("--root")
        .arg(root.path())
        .args(["serve", "--addr", "0.0.0.0:0"])
        .env_remove("ANNOTASK_API_KEY")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("without an API key") && stderr.contains("--api-key"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "it never listened");
}

#[test]
fn bad_requests_write_nothing() {
    let server = Served::start();
    let before = server.task_files();
    let cases: [(&str, &str, &str, &str); 12] = [
        ("POST", "/v2/tasks", r#"{"tasks": [{"id": "half""#, "EOF"),
        ("POST", "/v2/tasks", "{\"tasks\": [}", "expected value"),
        (
            "POST",
            "/v2/tasks",
            r#"{"tasks": [{"id": "t1", "nmae": "x"}]}"#,
            "tasks[0].nmae: unknown key `nmae` (line 1, column 25; hint: did you mean `name`?)",
        ),
        (
            "POST",
            "/v2/tasks",
            r#"{"tasks": [{"id": "t1", "sample_ms": "fast"}]}"#,
            "tasks[0].sample_ms: invalid type: string \"fast\", expected a whole number from 0 to 4294967295",
        ),
        (
            "POST",
            "/v2/tasks",
            r#"{"tasks": [{"id": "t1", "type": "TYPE_NOT_SET"}, {"id": "../escape", "type": "TYPE_NOT_SET"}]}"#,
            "tasks[1].id: id `../escape` contains '.'",
        ),
        (
            "POST",
            "/v2/tasks",
            r#"{"tasks": [{"id": "t1"}], "task": []}"#,
            "unknown key `task`",
        ),
        ("POST", "/v2/tasks", "just some words", "invalid type"),
        (
            "POST",
            "/v2/tasks",
            r#"{"tasks": [{"id": "annotate-street-cats", "type": "TYPE_NOT_SET",
                "input_source": {"type": "ALL_INPUTS"}}]}"#,
            "already exists",
        ),
        (
            "PATCH",
            "/v2/tasks",
            r#"{"action": "merge", "tasks": [{"id": "annotate-street-cats"}]}"#,
            "unsupported action `merge`",
        ),
        (
            "PATCH",
            "/v2/tasks",
            r#"{"action": "overwrite", "tasks": [
                {"id": "annotate-street-cats", "input_source": {"type": "ALL_INPUTS"}},
                {"id": "ghost", "input_source": {"type": "ALL_INPUTS"}}]}"#,
            "no task with id `ghost`",
        ),
        (
            "DELETE",
            "/v2/tasks",
            r#"{"ids": ["annotate-street-cats", "../../etc/passwd"]}"#,
            "ids[1]: id `../../etc/passwd` contains '.'",
        ),
        (
            "DELETE",
            "/v2/tasks",
            r#"{"ids": ["annotate-street-cats", "ghost"]}"#,
            "no task with id `ghost`",
        ),
    ];
    for (method, path, body, says) in cases {
        let (status, value) = server.call(method, path, Some(body));
        let details = value["status"]["details"].as_str().unwrap_or_default();
        assert!(details.contains(says), "{body}: {details}");
        let (http, code) = match says {
            "already exists" => (409, 54100),
            s if s.starts_with("no task") => (404, 54102),
            s if s.starts_with("unsupported") => (400, 54101),
            _ => (400, 11102),
        };
        assert_eq!(
            (status, value["status"]["code"].as_u64().unwrap()),
            (http, code),
            "{body}: {value}"
        );
    }
    for (path, says) in [
        ("/v2/tasks/..%2F..%2Fetc%2Fpasswd", "contains '.'"),
        (
            "/v2/tasks?worker_user_id=maria-lopez",
            "did you mean `worker_user_ids`?",
        ),
        ("/v2/tasks?per_page=5000", "per_page is `5000`"),
        ("/v2/tasks?page=zero", "page is `zero`"),
        ("/v2/tasks?input_source_type=DATASET", "not supported"),
    ] {
        let (status, value) = server.call("GET", path, None);
        assert_eq!(
            (status, &value["status"]["code"]),
            (400, &json!(11102)),
            "{path}"
        );
        let details = value["status"]["details"].as_str().unwrap();
        assert!(details.contains(says), "{path}: {details}");
    }
    for (method, path, body, http, code) in [
        ("GET", "/v2/tasks/ghost", None, 404, 54102),
        ("GET", "/v2/models", None, 404, 11101),
        ("PUT", "/v2/tasks", Some("{}"), 405, 90400),
    ] {
        let (status, value) = server.call(method, path, body);
        assert_eq!((status, &value["status"]["code"]), (http, &json!(code)));
    }

    assert_eq!(
        server.task_files(),
        before,
        "no request wrote or deleted a file"
    );
    assert!(!server.root.path().join("escape.yaml").exists());
    assert_eq!(ids(&server.ok("GET", "/v2/tasks", None)), SHIPPED);
}

#[test]
fn oversized_bodies_get_413() {
    let server = Served::start();
    let addr = server.server.base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // The header announces more than the limit; the server answers without reading it all.
    write!(
        stream,
        "POST /v2/tasks HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{{\"tasks\": [",
        17 << 20
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let value: Value = serde_json::from_str(body).unwrap();
    assert_eq!(value["status"]["code"], 11102);
    assert!(
        value["status"]["details"]
            .as_str()
            .unwrap()
            .contains("larger than 16777216 bytes")
    );
    assert_eq!(server.task_files().len(), 4);
}

#[test]
fn concurrent_clients() {
    let server = Served::start();
    const WRITERS: usize = 20;
    thread::scope(|scope| {
        let server = &server;
        let mut handles = Vec::new();
        for i in 0..WRITERS {
            handles.push(scope.spawn(move || {
                let body = format!(
                    r#"{{"tasks": [{{"id": "parallel-{i:02}", "type": "CONCEPTS_CLASSIFICATION",
                        "concept_ids": ["c{i}"], "input_source": {{"type": "ALL_INPUTS"}},
                        "worker": {{"strategy": "FULL", "user_ids": ["w{i}"]}}}}]}}"#
                );
                server.call("POST", "/v2/tasks", Some(&body))
            }));
        }
        // Readers at the same time: each answer is a consistent list.
        for _ in 0..5 {
            handles.push(scope.spawn(move || server.call("GET", "/v2/tasks", None)));
        }
        for handle in handles {
            let (status, value) = handle.join().unwrap();
            assert_eq!(status, 200, "{value}");
        }
    });
    let listed = server.ok("GET", "/v2/tasks?per_page=1000", None);
    assert_eq!(ids(&listed).len(), 4 + WRITERS);
    for i in 0..WRITERS {
        assert!(
            server
                .tasks_dir()
                .join(format!("parallel-{i:02}.yaml"))
                .is_file()
        );
    }

    // Overwrites of different tasks at once: every one lands.
    thread::scope(|scope| {
        let server = &server;
        let handles: Vec<_> = (0..WRITERS)
            .map(|i| {
                scope.spawn(move || {
                    let body = format!(
                        r#"{{"action": "overwrite", "tasks": [{{"id": "parallel-{i:02}",
                            "type": "TYPE_NOT_SET", "name": "renamed {i}",
                            "input_source": {{"type": "ALL_INPUTS"}}}}]}}"#
                    );
                    server.call("PATCH", "/v2/tasks", Some(&body))
                })
            })
            .collect();
        for handle in handles {
            let (status, value) = handle.join().unwrap();
            assert_eq!(status, 200, "{value}");
        }
    });
    for i in 0..WRITERS {
        let got = server.ok("GET", &format!("/v2/tasks/parallel-{i:02}"), None);
        assert_eq!(got["task"]["name"], format!("renamed {i}"));
    }
}

#[test]
fn edits_on_disk_show_up() {
    let server = Served::start();
    let cats = server.tasks_dir().join("annotate-street-cats.yaml");
    let text = fs::read_to_string(&cats).unwrap();
    fs::write(
        &cats,
        text.replace("name: Annotate cat", "name: Annotate tabby cat"),
    )
    .unwrap();
    eventually("the edited name is served", || {
        server.ok("GET", "/v2/tasks/annotate-street-cats", None)["task"]["name"]
            == "Annotate tabby cat"
    });

    fs::create_dir(server.tasks_dir().join("team")).unwrap();
    fs::write(
        server.tasks_dir().join("team/annotate-hedgehogs.yaml"),
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [hedgehog]\ninput_source: {type: ALL_INPUTS}\n\
         worker: {strategy: FULL, user_ids: [ana]}\n",
    )
    .unwrap();
    eventually("a task in a new folder is listed", || {
        ids(&server.ok("GET", "/v2/tasks?worker_user_ids=ana", None)) == ["annotate-hedgehogs"]
    });

    fs::remove_file(server.tasks_dir().join("annotate-dogs-reviewed.yaml")).unwrap();
    eventually("a deleted file's task is gone", || {
        server
            .call("GET", "/v2/tasks/annotate-dogs-reviewed", None)
            .0
            == 404
    });
    assert_eq!(
        ids(&server.ok("GET", "/v2/tasks?review_user_ids=sam-okafor", None)),
        ["annotate-cars-consensus"]
    );

    // A write through the API lands in the file the editor made.
    let patch = r#"{"action": "overwrite", "tasks": [{"id": "annotate-hedgehogs",
        "type": "TYPE_NOT_SET", "input_source": {"type": "ALL_INPUTS"}}]}"#;
    server.ok("PATCH", "/v2/tasks", Some(patch));
    let file = fs::read_to_string(server.tasks_dir().join("team/annotate-hedgehogs.yaml")).unwrap();
    assert!(file.contains("TYPE_NOT_SET"), "{file}");
}

#[test]
fn stops_cleanly_on_sigint() {
    let mut server = Served::start();
    server.ok("GET", "/v2/tasks", None);
    let killed = Command::new("kill")
        .args(["-INT", &server.server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

/// The official Python client (clarifai-grpc's JSON channel) against the server.
#[test]
fn official_python_client() {
    let server = Served::start_with(&["--api-key", "client-key"], &[]);
    python::client(&["json", server.server.base.as_str(), "client-key"], &[]);
    assert_eq!(
        server.task_files().len(),
        4,
        "the client cleaned up after itself"
    );
}

#[test]
fn patch_edits_the_file_in_place() {
    let server = Served::start();
    let original = "# Reviewed weekly.\nid: commented   # keep me\ntype: TYPE_NOT_SET\nname: Old name  # shown in lists\n\ninput_source:\n  type: ALL_INPUTS\nmodified_at: 2026-11-29T10:00:00Z\n";
    let file = server.tasks_dir().join("commented.yaml");
    fs::write(&file, original).unwrap();
    eventually("the watcher indexes the new file", || {
        server.call("GET", "/v2/tasks/commented", None).0 == 200
    });
    let patch = json!({"action": "overwrite", "tasks": [{
        "id": "commented", "type": "TYPE_NOT_SET", "name": "New name",
        "input_source": {"type": "ALL_INPUTS"},
    }]});
    server.ok("PATCH", "/v2/tasks", Some(&patch.to_string()));
    let written = fs::read_to_string(&file).unwrap();
    let modified = written
        .lines()
        .find(|l| l.starts_with("modified_at: "))
        .unwrap();
    assert_eq!(
        written,
        original
            .replace("name: Old name  #", "name: New name  #")
            .replace("modified_at: 2026-11-29T10:00:00Z", modified)
    );
}

#[test]
fn a_removed_tasks_folder_serves_no_tasks_on_every_face() {
    let served = Served::start();
    assert_eq!(ids(&served.ok("GET", "/v2/tasks", None)).len(), 4);
    fs::remove_dir_all(served.tasks_dir()).unwrap();
    eventually("the list is empty", || {
        ids(&served.ok("GET", "/v2/tasks", None)).is_empty()
    });
    let id = SHIPPED[0];
    let get = format!("/v2/tasks/{id}");
    let delete = json!({"ids": [id]}).to_string();
    for (method, path, body) in [
        ("GET", get.as_str(), None),
        ("PATCH", "/v2/tasks", Some(update_body(id))),
        ("DELETE", "/v2/tasks", Some(delete)),
    ] {
        let (status, answer) = served.call(method, path, body.as_deref());
        assert_eq!(
            (status, answer["status"]["code"].clone()),
            (404, json!(54102)),
            "{method}: {answer}"
        );
    }
    // The CLI beside the server answers the same, not 90500.
    let out = annotask(served.root.path(), &["list", "-o", "json"])
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["tasks"], json!([]), "{listed}");
    // When the folder comes back, the server follows it.
    fs::create_dir(served.tasks_dir()).unwrap();
    fs::write(
        served.tasks_dir().join("back.yaml"),
        "input_source: {type: ALL_INPUTS}\n",
    )
    .unwrap();
    eventually("the new folder's task is served", || {
        ids(&served.ok("GET", "/v2/tasks", None)) == ["back"]
    });
}

/// The official client's default channel, gRPC, in plain text on the JSON port
/// (`get_insecure_grpc_channel`): every call, both forms of the fields, every error.
#[test]
fn official_python_client_grpc() {
    let server = Served::start_with(&["--api-key", "client-key"], &[]);
    let address = server.server.base.strip_prefix("http://").unwrap();
    python::client(&["grpc", address, "client-key"], &[]);
    assert_eq!(server.task_files().len(), 4, "the client cleaned up");
}

/// JSON and gRPC clients at once, both writing, then the same requests on both faces giving
/// the same tasks and statuses.
#[test]
fn official_python_client_both_faces_at_once() {
    let server = Served::start_with(&["--api-key", "client-key"], &[]);
    let address = server.server.base.strip_prefix("http://").unwrap();
    python::client(&["both", address, "client-key"], &[]);
    assert_eq!(server.task_files().len(), 4, "the client cleaned up");
}

/// A test CA and a certificate it signed for `localhost`, made at run time, as PEM files.
fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "annotask test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    fs::write(&paths.0, ca.pem()).unwrap();
    fs::write(&paths.1, cert.pem()).unwrap();
    fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// `serve --tls-cert --tls-key`: the client's default secure channel (`get_grpc_channel` with
/// the test CA as its roots) and its JSON channel over https, on one port.
#[test]
fn official_python_client_over_tls() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_certificates(certs.path());
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server = Served::start_with(
        &[
            "--api-key",
            "client-key",
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ],
        &[],
    );
    let port = server.server.base.rsplit(':').next().unwrap();
    assert!(
        server.server.base.starts_with("https://"),
        "{}",
        server.server.base
    );
    let address = format!("localhost:{port}");
    python::client(
        &["grpcs", &address, "client-key", ca.to_str().unwrap()],
        &[],
    );
    python::client(
        &["json", &format!("https://{address}"), "client-key"],
        &[("REQUESTS_CA_BUNDLE", ca.as_path())],
    );
    assert_eq!(server.task_files().len(), 4, "the client cleaned up");
}

/// Reads from `stream` until the server closes it, failing after `deadline`.
fn wait_closed(stream: &mut TcpStream, deadline: Duration) -> Duration {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return start.elapsed(),
        }
        assert!(
            start.elapsed() < deadline,
            "the server kept the connection open past {deadline:?}"
        );
    }
}

#[test]
fn idle_and_slow_clients_never_stop_others_from_being_served() {
    let served = Served::start();
    let addr = served
        .server
        .base
        .strip_prefix("http://")
        .unwrap()
        .to_owned();
    let idle: Vec<TcpStream> = (0..2000)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let start = Instant::now();
    let list = served.ok("GET", "/v2/tasks", None);
    assert_eq!(list["tasks"].as_array().unwrap().len(), 4);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "answered in {:?} beside 2,000 idle connections",
        start.elapsed()
    );
    // A client that sends its headers a byte at a time is cut off.
    let mut slow = TcpStream::connect(&addr).unwrap();
    let dripping = thread::spawn({
        let mut slow = slow.try_clone().unwrap();
        move || {
            for byte in b"GET /v2/tasks HTTP/1.1\r\nHost: x\r\n" {
                if slow.write_all(&[*byte]).is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(500));
            }
        }
    });
    wait_closed(&mut slow, Duration::from_secs(30));
    let _ = dripping.join();
    // An idle keep-alive connection is closed too, after its request was answered.
    let mut kept = TcpStream::connect(&addr).unwrap();
    kept.write_all(b"GET /v2/tasks HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    wait_closed(&mut kept, Duration::from_secs(60));
    drop(idle);
}

#[test]
fn input_counts_and_metrics_follow_the_datasets() {
    let server = Served::start();
    let inputs = server.root.path().join("inputs");
    fs::create_dir(&inputs).unwrap();
    let lines: String = (0..10)
        .map(|i| format!("{{\"id\": \"photo-{i}\"}}\n"))
        .collect();
    fs::write(inputs.join("photos.jsonl"), lines).unwrap();
    let counts = |prefix: &str| {
        server.ok(
            "GET",
            &format!("{prefix}/tasks/annotate-birds-weighted/inputs/count"),
            None,
        )
    };
    eventually("the dataset is counted", || {
        counts("/v2")["counts"][0]["pending"] == 9
    });
    let expected = json!([
        {"worker": {"user": {"id": "maria-lopez"}}, "pending": 9, "awaiting_review": 0,
         "success": 0, "review_denied": 0, "awaiting_consensus_review": 0},
        {"worker": {"user": {"id": "chen-wei"}}, "pending": 1, "awaiting_review": 0,
         "success": 0, "review_denied": 0, "awaiting_consensus_review": 0},
    ]);
    let answer = counts("/v2/users/me/apps/annotations");
    assert_eq!(answer["counts"], expected, "90/10 of 10 inputs, exactly");
    assert_eq!(answer["task_id"], "annotate-birds-weighted");
    let one = server.ok(
        "GET",
        "/v2/tasks/annotate-birds-weighted/inputs/count?user_ids=chen-wei",
        None,
    );
    assert_eq!(one["counts"], json!([expected[1]]));

    let task = server.ok(
        "GET",
        "/v2/tasks/annotate-birds-weighted?additional_fields=all",
        None,
    )["task"]
        .clone();
    assert_eq!(
        task["metrics"]["input_source"]["inputs_count_estimated"],
        10
    );
    assert_eq!(task["metrics"]["work"]["inputs_count_estimated"], 10);
    let plain = server.ok("GET", "/v2/tasks/annotate-birds-weighted", None)["task"].clone();
    assert!(plain.get("metrics").is_none(), "only when asked");
    let listed = server.ok("GET", "/v2/tasks?additional_fields=all", None);
    for task in listed["tasks"].as_array().unwrap() {
        assert_eq!(
            task["metrics"]["input_source"]["inputs_count_estimated"],
            10
        );
    }
    assert_eq!(
        server.call("GET", "/v2/tasks/missing/inputs/count", None).0,
        404
    );
}
