//! What the integration tests share: the binary under test, `annotask serve` started on a
//! port of its choosing, and a wait for a condition with a deadline. Must not check
//! behaviour: each test file says what it tests.

// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_annotask");

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
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
