//! The team server and deploys under the audit of issue 28: who may change tasks (scopes, as a
//! table of call x face x key kind), keys that never appear in any output, refused keys files,
//! idle connections under a lowered descriptor limit, writes through links, `apply` against a
//! remote that answers garbage, and two servers sharing a project.

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::common::python;
use crate::common::{BIN, Server, annotask, eventually, secrets, write_private};

/// Every key these tests use: no output of any test may contain one.
const KEYS: [&str; 4] = [
    "w0rker-Key-7f3a9c",
    "n0body-Key-2b8e4d",
    "sc0ped-Key-9d1c6a",
    "p4rtial-Key-5e7b2f",
];
const API_KEY: &str = "0wner-Key-3c9f1e";
/// The key `plan`, `apply` and `pull` send to the fake remotes.
const DEPLOY_KEY: &str = "d3ploy-Key-6f2a1c";
/// A key no server has: a 401 must not echo it either.
const STRANGER: &str = "str4nger-Key-8a0d3b";

/// The keys file: a worker of the shipped tasks, a user with no role, a lead with every task
/// scope, and one that may add and change tasks (`Tasks:Add`, as in the hosted API) but not
/// delete them.
fn keys_file() -> String {
    format!(
        "{}: ana\n{}: nobody\n{}: {{user: lead, scopes: [Tasks:Add, Tasks:Delete]}}\n{}:\n  user: adder\n  scopes: [Tasks:Add]\n",
        KEYS[0], KEYS[1], KEYS[2], KEYS[3]
    )
}

/// A copy of the shipped project.
fn project() -> TempDir {
    let root = tempfile::tempdir().unwrap();
    let tasks = root.path().join("tasks");
    fs::create_dir(&tasks).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("tasks");
    for entry in fs::read_dir(shipped).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), tasks.join(entry.file_name())).unwrap();
    }
    root
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A JSON request with `key`: the HTTP status and the body's text.
/// The answer is checked for keys, as every output of these tests is.
fn call(base: &str, key: Option<&str>, method: &str, path: &str, body: &Value) -> (u16, String) {
    let url = format!("{base}{path}");
    let agent = agent();
    let auth = key.map(|k| format!("Key {k}"));
    let with = |r: ureq::RequestBuilder<ureq::typestate::WithBody>| match &auth {
        Some(a) => r.header("Authorization", a),
        None => r,
    };
    let text = body.to_string();
    let sent = match method {
        "GET" => match &auth {
            Some(a) => agent.get(&url).header("Authorization", a).call(),
            None => agent.get(&url).call(),
        },
        "POST" => with(agent.post(&url)).send(&text),
        "PATCH" => with(agent.patch(&url)).send(&text),
        "DELETE" => with(agent.delete(&url).force_send_body()).send(&text),
        other => panic!("no such method here: {other}"),
    };
    let mut response = sent.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    secrets::assert_kept(&format!("the answer to {method} {path}"), text.as_bytes());
    (status, text)
}

/// gRPC calls through the official client (`tests/python/calls.py`): one JSON answer each.
fn grpc_calls(addr: &str, calls: &[Value]) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/calls.py");
    let mut child = Command::new(python::python())
        .arg(script)
        .arg(addr)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = calls.iter().map(|c| format!("{c}\n")).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    secrets::assert_kept("the official client's answers", &output.stdout);
    secrets::assert_kept("the official client's errors", &output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A task the tables create, change and delete.
fn task(id: &str, name: &str) -> Value {
    json!({"id": id, "type": "CONCEPTS_CLASSIFICATION", "name": name,
        "worker": {"strategy": "FULL"}, "concept_ids": ["cat"],
        "input_source": {"type": "ALL_INPUTS"}, "review": {"strategy": "NONE"}})
}

/// The calls of the permissions table, on task `id`: name, JSON method and path, and body
/// (the gRPC request is the same object).
fn table_calls(id: &str) -> Vec<(&'static str, &'static str, String, Value)> {
    vec![
        ("ListTasks", "GET", "/v2/tasks".into(), json!({})),
        (
            "GetTask",
            "GET",
            "/v2/tasks/annotate-street-cats".into(),
            json!({"task_id": "annotate-street-cats"}),
        ),
        (
            "PostTasks",
            "POST",
            "/v2/tasks".into(),
            json!({"tasks": [task(id, "made")]}),
        ),
        (
            "PatchTasks",
            "PATCH",
            "/v2/users/me/apps/app/tasks".into(),
            json!({"action": "overwrite", "tasks": [task(id, "changed")]}),
        ),
        (
            "DeleteTasks",
            "DELETE",
            "/v2/tasks".into(),
            json!({"ids": [id]}),
        ),
    ]
}

/// Who calls, as a row of the table says.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// A solo server: no keys at all.
    Open,
    /// `--api-key`: the owner.
    Owner,
    /// A keys file entry without scopes, for a worker of the tasks.
    Worker,
    /// A keys file entry without scopes, for a user with no role.
    Nobody,
    /// Every task scope.
    Scoped,
    /// `Tasks:Add` only: PostTasks and PatchTasks.
    Adder,
    /// A key the keys file does not have.
    Stranger,
    /// No key, to a server with a keys file.
    Keyless,
}

impl Kind {
    fn key(self) -> Option<&'static str> {
        match self {
            Kind::Open => None,
            Kind::Owner => Some(API_KEY),
            Kind::Worker => Some(KEYS[0]),
            Kind::Nobody => Some(KEYS[1]),
            Kind::Scoped => Some(KEYS[2]),
            Kind::Adder => Some(KEYS[3]),
            Kind::Stranger => Some(STRANGER),
            Kind::Keyless => None,
        }
    }

    /// What `call` answers for this kind of caller: the HTTP status and the API's code (which
    /// the gRPC face answers in its response's status).
    fn expected(self, call: &str) -> (u16, u32) {
        match self {
            Kind::Stranger | Kind::Keyless => (401, 11008),
            _ if self.may(call) => (200, 10000),
            _ => (403, 11007),
        }
    }

    /// The scopes the key holds, by the calls they allow.
    fn may(self, call: &str) -> bool {
        match self {
            Kind::Open | Kind::Owner | Kind::Scoped => true,
            Kind::Worker | Kind::Nobody => !call.ends_with("Tasks") || call == "ListTasks",
            Kind::Adder => call != "DeleteTasks",
            Kind::Stranger | Kind::Keyless => false,
        }
    }
}

/// Route x face x key kind -> expected code: every call every key kind makes, on both faces.
/// Task writes without their scope are 403 / CONN_INSUFFICIENT_SCOPES naming the scope, and
/// write nothing; a key the keys file lacks, or none, is 401 / 11008 for every call, never
/// echoing the key; everything else answers as before.
#[test]
fn scopes_decide_who_changes_tasks() {
    let root = project();
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = keys_dir.path().join("keys.yaml");
    write_private(&keys, &keys_file());
    let servers = [
        (
            vec![Kind::Open],
            Server::start(root.path(), &[] as &[&str], &[]),
        ),
        (
            vec![Kind::Owner],
            Server::start(root.path(), &["--api-key", API_KEY], &[]),
        ),
        (
            vec![
                Kind::Worker,
                Kind::Nobody,
                Kind::Scoped,
                Kind::Adder,
                Kind::Stranger,
                Kind::Keyless,
            ],
            Server::start(root.path(), &["--keys", keys.to_str().unwrap()], &[]),
        ),
    ];
    let mut said = String::new();
    for (kinds, server) in &servers {
        for &kind in kinds {
            // JSON face.
            let id = format!("made-{kind:?}-json").to_lowercase();
            for (name, method, path, body) in table_calls(&id) {
                let (status, text) = call(&server.base, kind.key(), method, &path, &body);
                let value: Value = serde_json::from_str(&text).unwrap();
                let code = &value["status"]["code"];
                let (http, api) = kind.expected(name);
                assert_eq!(
                    (status, code),
                    (http, &json!(api)),
                    "{kind:?} json {name}: {text}"
                );
                if http == 403 {
                    let details = value["status"]["details"].as_str().unwrap();
                    assert!(details.contains("Tasks:"), "{details}");
                }
                said.push_str(&text);
            }
            // gRPC face, through the official client.
            let id = format!("made-{kind:?}-grpc").to_lowercase();
            let calls: Vec<Value> = table_calls(&id)
                .into_iter()
                .map(|(name, _, _, body)| json!({"key": kind.key(), "method": name, "request": body}))
                .collect();
            let answers = grpc_calls(server.addr(), &calls);
            for ((name, ..), answer) in table_calls(&id).into_iter().zip(&answers) {
                let (_, expected) = kind.expected(name);
                assert_eq!(answer["code"], expected, "{kind:?} grpc {name}: {answer}");
                said.push_str(&answer.to_string());
            }
            // What was refused wrote nothing; what was allowed was deleted again, except
            // by the key that may add but not delete.
            let left: Vec<String> = fs::read_dir(root.path().join("tasks"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&format!("made-{kind:?}").to_lowercase()))
                .collect();
            let expected = if matches!(kind, Kind::Adder) { 2 } else { 0 };
            assert_eq!(left.len(), expected, "{kind:?}: {left:?}");
        }
    }
    for (_, server) in &servers {
        said.push_str(&server.said());
    }
    for key in KEYS.iter().chain([&API_KEY, &STRANGER]) {
        assert!(!said.contains(key), "a key appears in the output:\n{said}");
    }
}

/// Authorization headers of every wrong shape, each carrying a key the server does not have or
/// one it has in the wrong form: 401 on the JSON face, and no answer echoes what was sent.
#[test]
fn wrong_authorization_headers_are_refused_without_an_echo() {
    let root = project();
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = keys_dir.path().join("keys.yaml");
    write_private(&keys, &keys_file());
    let server = Server::start(root.path(), &["--keys", keys.to_str().unwrap()], &[]);
    secrets::used(STRANGER);
    let agent = agent();
    for header in [
        format!("Bearer {STRANGER}"),
        format!("key {STRANGER}"),
        STRANGER.to_owned(),
        format!("Key {STRANGER} extra"),
        format!("Key  {STRANGER}"),
        format!("Key {STRANGER}\t"),
        format!("Bearer {}", KEYS[0]),
        format!("Key {}x", KEYS[0]),
        format!("Key {}", &KEYS[0][1..]),
    ] {
        let mut response = agent
            .get(format!("{}/v2/tasks", server.base))
            .header("Authorization", &header)
            .call()
            .unwrap();
        let text = response.body_mut().read_to_string().unwrap();
        assert_eq!(response.status().as_u16(), 401, "{header:?}: {text}");
        secrets::assert_kept(&format!("the answer to {header:?}"), text.as_bytes());
        assert!(!text.contains(&KEYS[0][1..]), "{header:?}: {text}");
    }
}

/// Keys files the server refuses at start, each with the line (or the fix) named; no output
/// contains a key, nor a user id (which is a key in a reversed file).
#[test]
fn refused_keys_files() {
    let root = project();
    let dir = tempfile::tempdir().unwrap();
    let secret = KEYS[0];
    let hosted = "a8f3e9b2c4d17a8f3e9b2c4d17a8f3e9";
    let cases: [(&str, String, u32, &str); 7] = [
        (
            "reversed.json",
            format!("{{\"zuleika\": \"{secret}+/KEY==\"}}"),
            0o600,
            "line 1: the user id is not a valid id",
        ),
        (
            "reversed-id.json",
            format!("{{\"zuleika\": \"{hosted}\"}}"),
            0o600,
            "line 1: the user id looks like a generated key",
        ),
        (
            "twice.yaml",
            format!("{secret}: zuleika\nother-key: quentin\n{secret}: ottoline\n"),
            0o600,
            "line 3: the same key as line 1",
        ),
        (
            "spaces.json",
            format!("{{\"{secret}\": \"zuleika\",\n\" {secret}\": \"quentin\"}}"),
            0o600,
            "line 2: the key starts or ends with white space",
        ),
        (
            "empty.yaml",
            "other-key: zuleika\n\"\": quentin\n".into(),
            0o600,
            "line 2: the key is empty",
        ),
        (
            "readable.yaml",
            format!("{secret}: zuleika\n"),
            0o644,
            "run `chmod 600",
        ),
        (
            "writable.yaml",
            format!("{secret}: zuleika\n"),
            0o622,
            "can be written by other users",
        ),
    ];
    for (name, text, mode, says) in cases {
        let file = dir.path().join(name);
        fs::write(&file, &text).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(mode)).unwrap();
        let output = Command::new(BIN)
            .arg("--root")
            .arg(root.path())
            .args(["serve", "--addr", "127.0.0.1:0", "--keys"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{name} started");
        let said = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(said.contains(says), "{name}: {said}");
        for word in [secret, hosted, "KEY==", "zuleika", "quentin", "ottoline"] {
            assert!(!said.contains(word), "{name} says {word}: {said}");
        }
    }
}

/// What an HTTP/2 connection opens with: the preface and an empty SETTINGS frame.
const H2_OPENING: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";

/// HTTP/2 frame types the tests look for.
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const GOAWAY: u8 = 7;

/// Reads HTTP/2 frames until one of type `wanted` arrives (its type) or the server closes the
/// connection (`None`), failing after `deadline`.
fn frame_until(stream: &mut TcpStream, wanted: &[u8], deadline: Duration) -> Option<u8> {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buffered = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while buffered.len() >= 9 {
            let len = usize::from(buffered[0]) << 16
                | usize::from(buffered[1]) << 8
                | usize::from(buffered[2]);
            if buffered.len() < 9 + len {
                break;
            }
            let kind = buffered[3];
            buffered.drain(..9 + len);
            if wanted.contains(&kind) {
                return Some(kind);
            }
        }
        match stream.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => buffered.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return None,
        }
        assert!(
            start.elapsed() < deadline,
            "no frame of type {wanted:?} within {deadline:?}"
        );
    }
}

/// A server whose descriptor limit is `descriptors`: its connection cap is 256 fewer.
fn limited(root: &Path, descriptors: u32) -> Server {
    let mut prlimit = Command::new("prlimit");
    prlimit
        .arg(format!("--nofile={descriptors}:{descriptors}"))
        .arg(BIN);
    Server::start_with(prlimit, root, &[] as &[&str], &[])
}

/// How long a GET may wait beside idle connections: issue 28's bound.
const PROMPT: Duration = Duration::from_secs(1);

/// GETs the task list three times, each a new connection that must be answered within
/// [`PROMPT`], however many idle connections hold places.
#[track_caller]
fn answered_promptly(server: &Server, beside: &str) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(PROMPT))
        .max_idle_connections(0)
        .build()
        .into();
    for _ in 0..3 {
        let mut answer = agent
            .get(format!("{}/v2/tasks", server.base))
            .call()
            .unwrap_or_else(|e| {
                panic!("a GET beside {beside} is not answered within {PROMPT:?}: {e}")
            });
        let tasks: Value =
            serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(tasks["tasks"].as_array().unwrap().len(), 4);
    }
}

/// 150 idle HTTP/2 connections and 300 silent sockets against a cap of 144: the server sheds
/// the connections idle the longest, and a GET is answered within a second rather than locked
/// out.
#[test]
fn at_the_connection_cap_idle_connections_make_room() {
    let root = project();
    let server = limited(root.path(), 400);
    let mut idle: Vec<TcpStream> = (0..150)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr()).unwrap();
            s.write_all(H2_OPENING).unwrap();
            s
        })
        .collect();
    let silent: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(server.addr()).unwrap())
        .collect();
    answered_promptly(&server, "450 idle connections");
    // The oldest connection was shed: told to go away (GOAWAY) once the server had read its
    // preface, or closed outright when a loaded server shed it before reading a byte of it.
    // `frame_until` fails the test should it stay open.
    frame_until(&mut idle[0], &[GOAWAY], Duration::from_secs(30));
    drop(silent);
}

/// Raises this process's soft descriptor limit to at least `wanted` (up to the hard limit),
/// so that the test itself can hold its sockets open.
fn descriptors_for_the_test(wanted: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct they are given.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
    assert!(
        limit.rlim_cur >= wanted,
        "this test needs {wanted} descriptors; the hard limit is {}",
        limit.rlim_max
    );
}

/// Issue 28 at its real size: 1,100 silent sockets against a server with 1,024 descriptors
/// (a cap of 768 connections). The server sheds the connections idle the longest instead of
/// running out of descriptors or ceasing to accept, so a GET is answered within a second.
#[test]
fn eleven_hundred_idle_sockets_against_1024_descriptors() {
    descriptors_for_the_test(1_500);
    let root = project();
    let server = limited(root.path(), 1_024);
    // Were the server to stop accepting at its cap, or run out of descriptors, the GET would
    // wait for the header timeout (10 s) to close silent sockets.
    let silent: Vec<TcpStream> = (0..1_100)
        .map(|_| TcpStream::connect(server.addr()).unwrap())
        .collect();
    answered_promptly(&server, "1,100 silent sockets");
    drop(silent);
}

/// Reads what the server sends until it closes the connection; fails after `deadline`.
fn until_closed(stream: &mut TcpStream, deadline: Duration) -> String {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut said = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => said.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        assert!(
            start.elapsed() < deadline,
            "the connection is still open after {deadline:?}; it said: {}",
            String::from_utf8_lossy(&said)
        );
    }
    String::from_utf8_lossy(&said).into_owned()
}

/// An HTTP/1.1 request whose body stalls (its headers sent, 1,000 bytes promised, a few sent)
/// is answered and its connection closed once the body has sent nothing for the stall
/// timeout, rather than held open, with its place at the cap, for ever.
#[test]
fn a_stalled_http1_body_is_answered_and_closed() {
    let root = project();
    let server = Server::start(root.path(), &[] as &[&str], &[]);
    let mut stalled = TcpStream::connect(server.addr()).unwrap();
    stalled
        .write_all(
            b"POST /v2/tasks HTTP/1.1\r\nHost: annotask\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"tasks\": [",
        )
        .unwrap();
    let said = until_closed(&mut stalled, Duration::from_secs(60));
    let status = said.lines().next().unwrap_or_default();
    assert!(status.starts_with("HTTP/1.1 4"), "{said}");
    let (status, tasks) = call(&server.base, None, "GET", "/v2/tasks", &Value::Null);
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&tasks).unwrap()["tasks"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

/// An HTTP/2 connection that opens and then sends nothing is closed with a GOAWAY, and a
/// stream whose body stalls is answered and reset rather than held open.
#[test]
fn idle_http2_connections_and_stalled_bodies_are_closed() {
    let root = project();
    let server = Server::start(root.path(), &[] as &[&str], &[]);
    let mut idle = TcpStream::connect(server.addr()).unwrap();
    idle.write_all(H2_OPENING).unwrap();
    let mut stalled = TcpStream::connect(server.addr()).unwrap();
    stalled.write_all(H2_OPENING).unwrap();
    // HEADERS for POST /v2/tasks on stream 1, ending the headers but not the stream
    // (HPACK: :method POST and :scheme http indexed, :path and :authority literal).
    let mut block = vec![0x83, 0x86, 0x04, 9];
    block.extend_from_slice(b"/v2/tasks");
    block.extend_from_slice(&[0x01, 1, b'x']);
    let mut frame = vec![0, 0, block.len() as u8, HEADERS, 0x4, 0, 0, 0, 1];
    frame.extend_from_slice(&block);
    stalled.write_all(&frame).unwrap();
    assert!(
        frame_until(
            &mut stalled,
            &[HEADERS, RST_STREAM],
            Duration::from_secs(60)
        )
        .is_some(),
        "the stalled stream was answered"
    );
    assert_eq!(
        frame_until(&mut idle, &[GOAWAY], Duration::from_secs(90)),
        Some(GOAWAY)
    );
}

/// A project with one task, `day`, that `ann` labels over one input.
fn labeling_project() -> TempDir {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("tasks")).unwrap();
    fs::create_dir_all(root.path().join("inputs")).unwrap();
    fs::write(
        root.path().join("inputs/day.jsonl"),
        "{\"id\": \"in-1\", \"data\": {\"image\": {\"url\": \"https://x/1.jpg\"}}}\n",
    )
    .unwrap();
    fs::write(
        root.path().join("tasks/day.yaml"),
        "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat]\ninput_source: {type: DATASET, id: day}\n\
         worker: {strategy: FULL, user_ids: [ann]}\nreview: {strategy: NONE}\n",
    )
    .unwrap();
    root
}

/// Where the work folder, or a task's folder in it, is a link to a folder elsewhere, the
/// server refuses to append through it (403, naming the link), writes nothing there, and
/// `status` names the link.
#[test]
fn writes_never_go_through_a_link() {
    let annotation = json!({"annotations": [{"id": "a1", "task_id": "day", "input_id": "in-1",
        "data": {"concepts": [{"id": "cat", "value": 1}]}}]});
    for linked in ["work", "work/day"] {
        let root = labeling_project();
        let outside = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("work")).unwrap();
        if linked == "work" {
            fs::remove_dir(root.path().join("work")).unwrap();
        }
        std::os::unix::fs::symlink(outside.path(), root.path().join(linked)).unwrap();
        let server = Server::start(root.path(), &[] as &[&str], &[]);
        let (status, text) = call(
            &server.base,
            None,
            "POST",
            "/v2/users/ann/apps/a/annotations",
            &annotation,
        );
        assert_eq!(status, 403, "{linked}: {text}");
        assert!(
            text.contains(&format!("{linked} is a symbolic link")),
            "{linked}: {text}"
        );
        let written: Vec<_> = walk(outside.path());
        assert!(written.is_empty(), "{linked}: wrote {written:?}");
        drop(server);
        let output = Command::new(BIN)
            .arg("--root")
            .arg(root.path())
            .arg("status")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(
            said.contains(&format!("{linked}: error: a symbolic link")),
            "{linked}: {said}"
        );
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A remote that answers ListTasks with `list` and PostTasks with `created`, whatever is
/// sent, or, with `silent`, accepts connections and never answers.
struct FakeRemote {
    base: String,
}

impl FakeRemote {
    fn start(list: &str, created: &str) -> FakeRemote {
        FakeRemote::serve(Some((list.to_owned(), created.to_owned())), "200 OK")
    }

    /// A remote that refuses every request with 401 and `body`.
    fn refusing(body: &str) -> FakeRemote {
        FakeRemote::serve(Some((body.to_owned(), body.to_owned())), "401 Unauthorized")
    }

    fn silent() -> FakeRemote {
        FakeRemote::serve(None, "")
    }

    fn serve(answers: Option<(String, String)>, status: &'static str) -> FakeRemote {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let Some((list, created)) = &answers else {
                    held.push(stream);
                    continue;
                };
                let Some(method) = read_request(&mut stream) else {
                    continue;
                };
                let body = if method == "GET" { list } else { created };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        FakeRemote { base }
    }
}

/// Reads one HTTP/1.1 request, head and body; its method.
fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        bytes.extend_from_slice(&buf[..n]);
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while bytes.len() < head_end + length {
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        bytes.extend_from_slice(&buf[..n]);
    }
    head.split(' ').next().map(str::to_uppercase)
}

/// A local project with two tasks to create, `a-task` and `b-task`, in `a.yaml` and `b.yaml`.
fn deploying() -> TempDir {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("tasks")).unwrap();
    for (file, id) in [("a", "a-task"), ("b", "b-task")] {
        fs::write(
            root.path().join(format!("tasks/{file}.yaml")),
            format!("# {id}, kept\nid: {id}\n{}", &task_yaml()),
        )
        .unwrap();
    }
    root
}

fn task_yaml() -> String {
    "type: CONCEPTS_CLASSIFICATION\nworker: {strategy: FULL}\nconcept_ids: [cat]\n\
     input_source: {type: ALL_INPUTS}\nreview: {strategy: NONE}\n"
        .to_owned()
}

/// Every task file's text, by name.
fn task_files(root: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = fs::read_dir(root.join("tasks"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// `annotask COMMAND --remote URL ...` in `root`: the exit code and everything it printed.
fn deploy(root: &Path, command: &[&str], remote: &str, timeout: &str) -> (i32, String) {
    // The run's key is registered as used, and the run fails should it print it.
    let output = annotask(root, command)
        .args([
            "--remote",
            remote,
            "--user-id",
            "u",
            "--app-id",
            "a",
            "--timeout",
            timeout,
        ])
        .env("CLARIFAI_PAT", DEPLOY_KEY)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), said)
}

/// `apply` against a remote whose PostTasks answers are garbage: every bad id is an error
/// naming the task and the value, exit 1, and no local file changes; a good answer renames
/// the file's task, keeping its comments.
#[test]
fn apply_checks_the_ids_a_remote_gives() {
    let long = "x".repeat(10_000);
    let empty = r#"{"status": {"code": 10000}, "tasks": []}"#;
    let created = |ids: &str| format!(r#"{{"status": {{"code": 10000}}, "tasks": [{ids}]}}"#);
    // (PostTasks' answer, what the error says); each exits 1, as a finding, except an answer
    // that is not the API's shape at all, a remote error (5).
    let cases: Vec<(String, &str)> = vec![
        (created("1, 2"), "`tasks[0]` is a number, not a task"),
        (
            created(r#"{"id": null}, {"id": "x"}"#),
            "creation of task `a-task` with no id",
        ),
        (
            created(r#"{"id": 7}, {"id": "x"}"#),
            "with an id that is a number",
        ),
        (
            created(r#"{"id": "../../evil"}, {"id": "x"}"#),
            "with the id `../../evil`, which is not a valid id",
        ),
        (
            created(r#"{"id": "a-task"}, {"id": "bad id"}"#),
            "creation of task `b-task` with the id `bad id`",
        ),
        (
            created(&format!(r#"{{"id": "{long}"}}, {{"id": "x"}}"#)),
            "(10000 characters), which is not a valid id",
        ),
        (
            created(r#"{"id": "a-task"}"#),
            "answered 1 task(s) to the creation of 2",
        ),
        (
            created(r#"{"id": "same"}, {"id": "same"}"#),
            "appears twice",
        ),
        (
            created(r#"{"id": "c-task"}, {"id": "a-task"}"#),
            "`a-task` already exists",
        ),
    ];
    for (answer, says) in cases {
        let root = deploying();
        let before = task_files(root.path());
        let remote = FakeRemote::start(empty, &answer);
        let (code, said) = deploy(root.path(), &["apply", "--yes"], &remote.base, "10");
        let expected = if says.contains("not a task") { 5 } else { 1 };
        assert_eq!(code, expected, "{says}: {said}");
        assert!(said.contains(says), "{says}: {said}");
        assert!(!said.contains(&long[..100]), "echoes the long id: {said}");
        for rust in ["invalid type", "TaskDoc", "struct", "Value"] {
            assert!(!said.contains(rust), "{says}: {said}");
        }
        assert_eq!(task_files(root.path()), before, "{says}: files changed");
    }
    // A good answer: the remote's ids go into the files, through the repo, comments kept.
    let root = deploying();
    let remote = FakeRemote::start(empty, &created(r#"{"id": "a-remote"}, {"id": "b-task"}"#));
    let (code, said) = deploy(root.path(), &["apply", "--yes"], &remote.base, "10");
    assert_eq!(code, 0, "{said}");
    let a = fs::read_to_string(root.path().join("tasks/a.yaml")).unwrap();
    assert!(a.starts_with("# a-task, kept\nid: a-remote\n"), "{a}");
    let listed = Command::new(BIN)
        .arg("--root")
        .arg(root.path())
        .args(["-o", "json", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("a-remote") && !listed.contains("a-task"),
        "{listed}"
    );
}

/// `plan`, `apply` and `pull` refuse a ListTasks answer with entries that are not tasks,
/// saying so in JSON's words, and one whose status is not SUCCESS; a remote that never answers
/// fails within `--timeout`.
#[test]
fn remotes_that_answer_garbage_or_nothing_are_errors() {
    let root = deploying();
    let remote = FakeRemote::start(r#"{"tasks": [{"id": "r"}, null, "x"]}"#, "{}");
    for command in [&["plan"][..], &["apply", "--yes"], &["pull"]] {
        let before = task_files(root.path());
        let (code, said) = deploy(root.path(), command, &remote.base, "10");
        assert_eq!(code, 5, "{command:?} exits as a remote error does: {said}");
        assert!(
            said.contains("`tasks[1]` is null, not a task"),
            "{command:?}: {said}"
        );
        for rust in ["invalid type", "TaskDoc", "struct", "Value"] {
            assert!(
                !said.contains(rust),
                "{command:?} names a Rust type: {said}"
            );
        }
        assert_eq!(task_files(root.path()), before, "{command:?}");
    }
    // A 200 whose status is not SUCCESS failed: read as "no tasks", apply would create them all.
    let failing = FakeRemote::start(
        r#"{"status": {"code": 10020, "description": "Failure", "details": "shard down"}}"#,
        "{}",
    );
    for command in [&["plan"][..], &["apply", "--yes"], &["pull"]] {
        let before = task_files(root.path());
        let (code, said) = deploy(root.path(), command, &failing.base, "10");
        assert_eq!(code, 5, "{command:?}: {said}");
        assert!(said.contains("Failure: shard down"), "{command:?}: {said}");
        assert_eq!(task_files(root.path()), before, "{command:?}");
    }
    let silent = FakeRemote::silent();
    let start = Instant::now();
    let (code, said) = deploy(root.path(), &["plan"], &silent.base, "1");
    assert_eq!(code, 5, "{said}");
    assert!(said.contains("did not answer within 1s"), "{said}");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "gave up after {:?}",
        start.elapsed()
    );
}

/// A remote that quotes the key it was sent back in its error (a careless or hostile one):
/// `plan`, `apply` and `pull` report the remote's error without the key.
#[test]
fn a_remote_that_echoes_the_key_is_not_echoed() {
    let root = deploying();
    let echo = format!(
        r#"{{"status": {{"code": 11008, "description": "API key not found", "details": "no key {DEPLOY_KEY} (Key {DEPLOY_KEY})"}}}}"#
    );
    let remote = FakeRemote::refusing(&echo);
    for command in [&["plan"][..], &["apply", "--yes"], &["pull"]] {
        // `deploy` fails the test should the run print the key.
        let (code, said) = deploy(root.path(), command, &remote.base, "10");
        assert_ne!(code, 0, "{command:?}: {said}");
        assert!(said.contains("API key not found"), "{command:?}: {said}");
    }
}

/// A unary call carrying two request messages, or none, is refused UNIMPLEMENTED (a request
/// cardinality violation, in the gRPC spec's words); one message is answered.
#[test]
fn unary_grpc_calls_take_exactly_one_message() {
    let root = project();
    let server = Server::start(root.path(), &[] as &[&str], &[]);
    let request = json!({"task_id": "annotate-street-cats"});
    let calls: Vec<Value> = [1, 2, 0]
        .iter()
        .map(|n| json!({"key": null, "method": "GetTask", "request": request, "messages": n}))
        .collect();
    let answers = grpc_calls(server.addr(), &calls);
    let codes: Vec<&str> = answers
        .iter()
        .map(|a| a["grpc"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["OK", "UNIMPLEMENTED", "UNIMPLEMENTED"],
        "{answers:?}"
    );
}

/// Two processes share a project: the one that watches it (a server, or `annotask watch`) goes
/// away (killed, stopped with SIGTERM as a service manager does, or with Ctrl-C), and a running
/// server takes over, so an edit made afterwards is served.
#[test]
fn a_second_server_takes_over_watching() {
    let cases = [
        ("serve", libc::SIGKILL),
        ("serve", libc::SIGTERM),
        ("watch", libc::SIGKILL),
        ("watch", libc::SIGINT),
    ];
    for (first, signal) in cases {
        let root = project();
        // The first process; `annotask watch` is ready once it prints its first line.
        let (mut server, mut watch) = (None, None);
        let watching: &mut Child = if first == "serve" {
            &mut server
                .insert(Server::start(root.path(), &[] as &[&str], &[]))
                .child
        } else {
            let child = watch.insert(
                Command::new(BIN)
                    .arg("--root")
                    .arg(root.path())
                    .arg("watch")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            let mut line = String::new();
            BufReader::new(child.stdout.as_mut().unwrap())
                .read_line(&mut line)
                .unwrap();
            child
        };
        let second = Server::start(root.path(), &[] as &[&str], &[]);
        let other = format!(
            "another process (pid {}) watches the project",
            watching.id()
        );
        eventually(&format!("the second server says: {other}"), || {
            second.said().contains(&other)
        });
        let pid = libc::pid_t::try_from(watching.id()).unwrap();
        // SAFETY: kill only sends a signal, to a child this test started and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        watching.wait().unwrap();
        let file = root.path().join("tasks/annotate-street-cats.yaml");
        let text = fs::read_to_string(&file).unwrap();
        fs::write(
            &file,
            text.replace("name: Annotate cat", "name: Annotate kittens"),
        )
        .unwrap();
        eventually("the second server serves the edit", || {
            let (status, body) = call(
                &second.base,
                None,
                "GET",
                "/v2/tasks/annotate-street-cats",
                &Value::Null,
            );
            status == 200 && body.contains("Annotate kittens")
        });
        eventually(
            &format!("the second server says it watches ({first}, signal {signal})"),
            || second.said().contains("watches it now"),
        );
    }
}
