//! A WebDriver client for the browser tests: Debian's `chromedriver` driving headless
//! Chromium, spoken to as the W3C protocol has it (JSON over HTTP) with the HTTP client the
//! tests already use, so the browser tests add no dependency. Must not check behaviour: the
//! tests do.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// W3C's name for an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a condition on the page may take to hold.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Keys as WebDriver sends them.
pub const ENTER: &str = "\u{E007}";
pub const LEFT: &str = "\u{E012}";
pub const DELETE: &str = "\u{E017}";

/// Where the browser and its driver are, or why the tests cannot run.
pub fn find_browser() -> Result<(PathBuf, PathBuf), String> {
    let which = |names: &[&str]| {
        names.iter().find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        })
    };
    let chromium = which(&["chromium", "chromium-browser", "google-chrome"])
        .ok_or("no chromium on PATH (Debian: apt-get install chromium)")?;
    let driver = which(&["chromedriver"])
        .ok_or("no chromedriver on PATH (Debian: apt-get install chromium-driver)")?;
    Ok((chromium, driver))
}

/// A chromedriver process and one browser session; both end when dropped.
pub struct Browser {
    driver: Child,
    url: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
    downloads: tempfile::TempDir,
}

pub type Element = String;

impl Browser {
    pub fn start(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while agent.get(&format!("{url}/status")).call().is_err() {
            assert!(
                started.elapsed() < DEADLINE,
                "chromedriver did not answer in time"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let downloads = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            driver,
            url,
            session: String::new(),
            agent,
            _profile: profile,
            downloads,
        };
        // Without these, a headless Chromium on a machine without network floods refused
        // connections (updates, sync, field trials) and can stall.
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,800",
            &format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let answer = browser.send(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": args, "prefs": {
                    "download.default_directory": browser.downloads.path(),
                    "download.prompt_for_download": false,
                }},
            }}}),
        );
        browser.session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        browser
    }

    /// One WebDriver command; answers its `value`, failing the test on an error.
    fn send(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.url);
        let sent = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(&body.to_string()),
        };
        let mut response = sent.unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(status == 200, "WebDriver {method} {path}: {status} {text}");
        // A new session answers {"value": {"sessionId"...}}.
        value["value"].clone()
    }

    fn command(&self, method: &str, path: &str, body: Value) -> Value {
        self.send(method, &format!("/session/{}{path}", self.session), body)
    }

    /// The folder the browser saves downloads in.
    pub fn downloads(&self) -> &Path {
        self.downloads.path()
    }

    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", json!({ "url": url }));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub fn js(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
    }

    /// Runs `script` until it returns something truthy, failing the test at the deadline with
    /// `what` and the page's error banner.
    #[track_caller]
    pub fn wait(&self, what: &str, script: &str) -> Value {
        let started = Instant::now();
        loop {
            let value = self.js(script, json!([]));
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return value;
            }
            if started.elapsed() > DEADLINE {
                let banner = self.js(
                    "return [document.getElementById('error')?.textContent, document.getElementById('main')?.innerText, location.href].join(' | ')",
                    json!([]),
                );
                panic!("gave up waiting until {what} (page says: {banner})");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// The element `css` selects, once there is one.
    #[track_caller]
    pub fn find(&self, css: &str) -> Element {
        let what = format!("`{css}` is on the page");
        self.wait(
            &what,
            &format!(
                "return document.querySelector({}) !== null",
                serde_json::to_string(css).unwrap()
            ),
        );
        let found = self.command(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("`{css}`: {found}"))
            .to_owned()
    }

    /// Clicks the element with this accessible name (`aria-label`).
    #[track_caller]
    pub fn click_named(&self, name: &str) {
        let el = self.find(&format!(
            "[aria-label={}]",
            serde_json::to_string(name).unwrap()
        ));
        self.command("POST", &format!("/element/{el}/click"), json!({}));
    }

    /// Types into the element with this accessible name.
    #[track_caller]
    pub fn type_into(&self, name: &str, text: &str) {
        let el = self.find(&format!(
            "[aria-label={}]",
            serde_json::to_string(name).unwrap()
        ));
        self.command(
            "POST",
            &format!("/element/{el}/value"),
            json!({ "text": text }),
        );
    }

    /// Presses and releases each key in turn, as a person typing at whatever has focus.
    pub fn keys(&self, keys: &[&str]) {
        let mut actions = Vec::new();
        for key in keys {
            for ch in key.chars() {
                actions.push(json!({"type": "keyDown", "value": ch.to_string()}));
                actions.push(json!({"type": "keyUp", "value": ch.to_string()}));
            }
        }
        self.command(
            "POST",
            "/actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        );
    }

    /// A mouse path over `el`: press at the first point, move through the others, release at
    /// the last. Points are fractions of the element's box (0..1 from its top-left corner).
    pub fn drag(&self, el: &Element, points: &[(f64, f64)]) {
        let rect = self.js(
            "const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];",
            json!([reference(el)]),
        );
        let (w, h) = (rect[0].as_f64().unwrap(), rect[1].as_f64().unwrap());
        // W3C offsets from an element's origin are from its centre.
        let at = |(x, y): (f64, f64)| {
            json!({"type": "pointerMove", "duration": 50, "origin": reference(el),
                "x": (x * w - w / 2.0).round() as i64, "y": (y * h - h / 2.0).round() as i64})
        };
        let mut actions = vec![at(points[0]), json!({"type": "pointerDown", "button": 0})];
        for point in &points[1..] {
            actions.push(at(*point));
        }
        actions.push(json!({"type": "pointerUp", "button": 0}));
        self.command(
            "POST",
            "/actions",
            json!({"actions": [{"type": "pointer", "id": "mouse",
                "parameters": {"pointerType": "mouse"}, "actions": actions}]}),
        );
    }

    /// Clicks at a point of an element (fractions of its box).
    pub fn click_at(&self, el: &Element, x: f64, y: f64) {
        self.drag(el, &[(x, y)]);
    }

    /// The page as a PNG.
    pub fn screenshot(&self) -> Vec<u8> {
        let value = self.command("GET", "/screenshot", Value::Null);
        base64(value.as_str().unwrap())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(&format!("{}/session/{}", self.url, self.session))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// An element as WebDriver's JSON refers to it.
fn reference(el: &Element) -> Value {
    let mut map = serde_json::Map::new();
    map.insert(ELEMENT.to_owned(), Value::String(el.clone()));
    Value::Object(map)
}

/// Standard base64 (with padding), as WebDriver sends screenshots.
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | u32::from(*d) << (18 - 6 * i));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes() {
    assert_eq!(base64("aGVsbG8="), b"hello");
    assert_eq!(base64("aGk="), b"hi");
    assert_eq!(base64("YWJj"), b"abc");
}
