//! What the integration tests share: the binary under test (`annotask`, `annotask_in`), a
//! project in a temporary folder (`Project`), `annotask serve` started on a port of its
//! choosing with a JSON client (`Server`), the official client's Python (`python`), and a wait
//! for a condition with a deadline. Must not check behaviour: each test module says what it
//! tests.

pub mod python;

use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_annotask");

/// `annotask --root ROOT ARGS`.
pub fn annotask(root: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(BIN);
    cmd.arg("--root").arg(root).args(args);
    cmd
}

/// `annotask ARGS` run in `cwd`, finding its project as a user's shell would.
pub fn annotask_in(cwd: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(BIN);
    cmd.current_dir(cwd).args(args);
    cmd
}

/// A project made by `annotask init` in a temporary folder, removed when dropped.
pub struct Project {
    dir: TempDir,
}

impl Project {
    pub fn new() -> Project {
        let project = Project {
            dir: tempfile::tempdir().unwrap(),
        };
        project.cmd(&["init"]).assert().success();
        project
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, path: &str) -> PathBuf {
        self.root().join(path)
    }

    pub fn exists(&self, path: &str) -> bool {
        self.path(path).exists()
    }

    /// Writes a file of the project, making its folders.
    pub fn write(&self, path: &str, text: &str) {
        let path = self.path(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// Writes a request body beside the project's folders; its path, for `-f`.
    pub fn body(&self, name: &str, text: &str) -> String {
        let path = self.path(&format!("{name}.body"));
        fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// The binary with `--root` set and no stdin, to add arguments to.
    pub fn command(&self) -> Command {
        let mut command = Command::new(BIN);
        command.arg("--root").arg(self.root()).stdin(Stdio::null());
        command
    }

    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        annotask(self.root(), args)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// A command's `-o json` answer, whether it succeeded or not, and its exit code.
    pub fn answer(&self, args: &[&str]) -> (Value, i32) {
        let out = self.run(&[args, &["-o", "json"]].concat());
        let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: {e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (value, out.status.code().unwrap())
    }

    /// Runs a command that must succeed with `-o json`, and parses what it printed.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run(&[args, &["-o", "json"]].concat());
        assert!(
            out.status.success(),
            "{args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// How long a condition may take to hold: generous, since the tests share two cores with
/// other builds.
const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `check` until it holds, failing the test after [`DEADLINE`]. Tests wait this way
/// for what a server or watcher does; none sleeps and then asserts.
#[track_caller]
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < DEADLINE,
            "gave up after {DEADLINE:?} waiting until {what}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// How long a server may take to bind and print its URL on a busy machine.
const STARTUP: Duration = Duration::from_secs(60);

/// `annotask serve` on 127.0.0.1; killed when dropped.
pub struct Server {
    pub child: Child,
    /// The URL it printed: `http://127.0.0.1:PORT` (`https` with TLS).
    pub base: String,
}

impl Server {
    /// Runs `annotask --root ROOT serve --addr 127.0.0.1:0 ARGS` with `env` (and never the
    /// caller's ANNOTASK_API_KEY), and waits for the URL it prints once the port is bound.
    pub fn start<S: AsRef<OsStr>>(root: &Path, args: &[S], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(BIN)
            .arg("--root")
            .arg(root)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .env_remove("ANNOTASK_API_KEY")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Read on a thread, so that a server that never prints fails the test at the deadline
        // instead of hanging it.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(STARTUP)
            .expect("the server prints its URL in time");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        Server { child, base }
    }

    /// Sends a JSON request with this `Authorization` header (if any); returns the HTTP
    /// status and the JSON body.
    pub fn call(
        &self,
        auth: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let url = format!("{}{path}", self.base);
        fn authed<B>(r: ureq::RequestBuilder<B>, auth: Option<&str>) -> ureq::RequestBuilder<B> {
            match auth {
                Some(a) => r.header("Authorization", a),
                None => r,
            }
        }
        let body = body.unwrap_or_default();
        let sent = match method {
            "GET" => authed(agent.get(&url), auth).call(),
            "PUT" => authed(agent.put(&url), auth).send(body),
            "POST" => authed(agent.post(&url), auth)
                .content_type("application/json")
                .send(body),
            "PATCH" => authed(agent.patch(&url), auth)
                .content_type("application/json")
                .send(body),
            "DELETE" => authed(agent.delete(&url), auth)
                .force_send_body()
                .content_type("application/json")
                .send(body),
            other => panic!("no such method in these tests: {other}"),
        };
        let mut response = sent.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: body is not JSON ({e}): {text}"));
        (status, value)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a private file (mode 600), as a keys file must be: the server refuses one that
/// others may read.
pub fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
}

/// `annotask serve --keys` with a keys file of `keys` (JSON), written private; the server is
/// killed and the keys removed when dropped.
pub struct KeyedServer {
    pub server: Server,
    _keys: TempDir,
}

impl KeyedServer {
    pub fn start(root: &Path, keys: &str) -> KeyedServer {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys.json");
        write_private(&file, keys);
        let server = Server::start(root, &[OsStr::new("--keys"), file.as_os_str()], &[]);
        KeyedServer { server, _keys: dir }
    }

    /// A request as `user`, by the key `key-<user>`: the HTTP status and the JSON body.
    pub fn call(&self, user: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let auth = format!("Key key-{user}");
        let body = body.map(|b| b.to_string());
        self.server.call(Some(&auth), method, path, body.as_deref())
    }
}
