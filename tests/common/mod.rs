//! What the integration tests share: the binary under test (`annotask`, `annotask_in`, both a
//! [`Run`]), a project in a temporary folder (`Project`), `annotask serve` started on a port of
//! its choosing with a JSON client (`Server`), the official client's Python (`python`), a wait
//! for a condition with a deadline, and the one check every test gets: no output contains a
//! key the test used (`secrets`). Must not check behaviour otherwise: each test module says
//! what it tests.

pub mod python;
pub mod secrets;

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use assert_cmd::assert::{Assert, OutputAssertExt};
use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_annotask");

/// `annotask --root ROOT ARGS`.
pub fn annotask(root: &Path, args: &[&str]) -> Run {
    let mut run = Run::new(Command::new(BIN));
    run.arg("--root").arg(root).args(args);
    run
}

/// `annotask ARGS` run in `cwd`, finding its project as a user's shell would.
pub fn annotask_in(cwd: &Path, args: &[&str]) -> Run {
    let mut run = Run::new(Command::new(BIN));
    run.current_dir(cwd).args(args);
    run
}

/// A run of the binary whose output is checked for keys: a key given to it (`--api-key`, or a
/// variable such as `CLARIFAI_PAT`) is registered as used, and what it prints must contain no
/// key the test used.
pub struct Run {
    command: Command,
    stdin: Option<Vec<u8>>,
    /// Whether the last argument was `--api-key`, so that the next is a key.
    key_next: bool,
}

impl Run {
    /// `command` (the binary, or a wrapper that runs it), to add arguments to.
    pub fn new(command: Command) -> Run {
        Run {
            command,
            stdin: None,
            key_next: false,
        }
    }

    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Run {
        let arg = arg.as_ref();
        if self.key_next {
            secrets::used(&arg.to_string_lossy());
        }
        self.key_next = arg == "--api-key";
        self.command.arg(arg);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Run {
        for arg in args {
            self.arg(arg);
        }
        self
    }

    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, name: K, value: V) -> &mut Run {
        if secrets::is_key_variable(&name.as_ref().to_string_lossy()) {
            secrets::used(&value.as_ref().to_string_lossy());
        }
        self.command.env(name, value);
        self
    }

    pub fn env_remove<K: AsRef<OsStr>>(&mut self, name: K) -> &mut Run {
        self.command.env_remove(name);
        self
    }

    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Run {
        self.command.current_dir(dir);
        self
    }

    /// What the run reads on stdin (else nothing: stdin is closed).
    pub fn write_stdin(&mut self, bytes: impl Into<Vec<u8>>) -> &mut Run {
        self.stdin = Some(bytes.into());
        self
    }

    /// Runs it to the end, checking what it printed.
    #[track_caller]
    pub fn output(&mut self) -> io::Result<Output> {
        let output = match self.stdin.clone() {
            None => self.command.output()?,
            Some(bytes) => {
                let mut child = self
                    .command
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()?;
                let mut stdin = child.stdin.take().expect("stdin is piped");
                let writer = thread::spawn(move || stdin.write_all(&bytes));
                let output = child.wait_with_output()?;
                // A run that exits before reading all of its stdin is not an error here.
                let _ = writer.join();
                output
            }
        };
        secrets::assert_kept("a CLI run's stdout", &output.stdout);
        secrets::assert_kept("a CLI run's stderr", &output.stderr);
        Ok(output)
    }

    /// Runs it to the end, checking what it printed, for assertions on its output.
    #[track_caller]
    pub fn assert(&mut self) -> Assert {
        self.output().expect("the binary runs").assert()
    }

    pub fn stdout(&mut self, stdout: Stdio) -> &mut Run {
        self.command.stdout(stdout);
        self
    }

    pub fn stderr(&mut self, stderr: Stdio) -> &mut Run {
        self.command.stderr(stderr);
        self
    }

    /// Starts it; what it prints is the caller's to read (and check).
    pub fn spawn(&mut self) -> io::Result<Child> {
        self.command.spawn()
    }
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
    pub fn command(&self) -> Run {
        let mut command = Command::new(BIN);
        command.stdin(Stdio::null());
        let mut run = Run::new(command);
        run.arg("--root").arg(self.root());
        run
    }

    pub fn cmd(&self, args: &[&str]) -> Run {
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

/// `annotask serve` on 127.0.0.1, with everything it prints kept in files; killed when
/// dropped, and then what it printed is checked: no key the test used may appear in it.
pub struct Server {
    pub child: Child,
    /// The URL it printed: `http://127.0.0.1:PORT` (`https` with TLS).
    pub base: String,
    logs: TempDir,
}

impl Server {
    /// Runs `annotask --root ROOT serve --addr 127.0.0.1:0 ARGS` with `env` (and never the
    /// caller's ANNOTASK_API_KEY), and waits for the URL it prints once the port is bound.
    pub fn start<S: AsRef<OsStr>>(root: &Path, args: &[S], env: &[(&str, &str)]) -> Server {
        Server::start_with(Command::new(BIN), root, args, env)
    }

    /// Starts `command` (the binary, or a wrapper such as `prlimit` that runs it) as
    /// [`Server::start`] does. Every key in its arguments, its keys file and its environment
    /// is registered as used.
    pub fn start_with<S: AsRef<OsStr>>(
        mut command: Command,
        root: &Path,
        args: &[S],
        env: &[(&str, &str)],
    ) -> Server {
        let args: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
        for pair in args.windows(2) {
            if pair[0] == "--api-key" {
                secrets::used(&pair[1].to_string_lossy());
            }
            if pair[0] == "--keys" {
                secrets::used_in_keys_file(Path::new(pair[1]));
            }
        }
        for (name, value) in env {
            if secrets::is_key_variable(name) {
                secrets::used(value);
            }
        }
        let logs = tempfile::tempdir().unwrap();
        let mut child = command
            .arg("--root")
            .arg(root)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(&args)
            .env_remove("ANNOTASK_API_KEY")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(fs::File::create(logs.path().join("stdout")).unwrap())
            .stderr(fs::File::create(logs.path().join("stderr")).unwrap())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let base = loop {
            let out = fs::read_to_string(logs.path().join("stdout")).unwrap_or_default();
            if let Some((line, _)) = out.split_once('\n') {
                match line.strip_prefix("listening on ") {
                    Some(url) => break url.to_owned(),
                    None => panic!("unexpected first line: {line:?}"),
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                let err = fs::read_to_string(logs.path().join("stderr")).unwrap_or_default();
                panic!("the server exited ({status}) before listening: {err}");
            }
            assert!(
                start.elapsed() < STARTUP,
                "the server printed no URL within {STARTUP:?}"
            );
            thread::sleep(Duration::from_millis(10));
        };
        Server { child, base, logs }
    }

    /// `host:port`, without the scheme.
    pub fn addr(&self) -> &str {
        self.base.split_once("://").map_or(&self.base, |(_, a)| a)
    }

    /// Everything the server printed so far, stdout then stderr.
    pub fn said(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.logs.path().join(name)).unwrap_or_default();
        read("stdout") + &read("stderr")
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
        secrets::assert_kept(&format!("the answer to {method} {path}"), text.as_bytes());
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: body is not JSON ({e}): {text}"));
        (status, value)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A test already failing says why; a second panic would abort the run.
        if !thread::panicking() {
            secrets::assert_kept("the server's output", self.said().as_bytes());
        }
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
/// killed (and what it printed checked for the keys) and the keys removed when dropped.
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
