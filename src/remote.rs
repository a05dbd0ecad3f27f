//! The client of a remote Tasks API (the hosted platform or another `annotask serve`): the
//! only module that is an HTTP client. Speaks the JSON API under `/v2/users/U/apps/A/`, within
//! a time limit per call (retries included), retries only reads, and refuses answers that are
//! not the API's shapes. Also owns the project config that names remotes (`annotask.yaml`).
//! Must not know plans or task files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::files;
use crate::validate::{Diagnostic, check_id};

/// Where a remote is and who the requests act as.
#[derive(Debug, Clone)]
pub struct Remote {
    pub url: String,
    pub user_id: String,
    pub app_id: String,
    pub key: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} did not answer within {0:?} (--timeout); nothing more was sent", .limit)]
    TimedOut { url: String, limit: Duration },
    #[error("{url} refused the key (HTTP {http}): {details}; set CLARIFAI_PAT to a valid key")]
    Key {
        url: String,
        http: u16,
        details: String,
    },
    #[error("{url} answered HTTP {http}: {details}")]
    Failed {
        url: String,
        http: u16,
        details: String,
    },
    #[error("{url} answered something that is not the Tasks API: {reason}")]
    Garbled { url: String, reason: String },
}

/// The committed project config that names remotes; it never holds a key.
pub const CONFIG_FILE: &str = "annotask.yaml";

/// How long one call may take by default, connecting, answering and retrying included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The project config: `remotes: {name: {url, user_id, app_id, key_env}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub remotes: BTreeMap<String, NamedRemote>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedRemote {
    pub url: String,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub app_id: Option<String>,
    /// Which environment variable holds this remote's key [default: CLARIFAI_PAT].
    #[serde(default)]
    pub key_env: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("`{name}` is not a URL, and {} cannot be read to look it up", .path.display())]
    Read {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The config does not decode; the diagnostic says where.
    #[error("{} is not a valid project config", .path.display())]
    Invalid {
        path: PathBuf,
        diagnostic: Diagnostic,
    },
    #[error("no remote named `{name}` in {}", .path.display())]
    Unknown { name: String, path: PathBuf },
}

impl Config {
    /// The remote `name` of the project at `root`.
    pub fn remote(root: &Path, name: &str) -> Result<NamedRemote, ConfigError> {
        let path = root.join(CONFIG_FILE);
        let bytes = files::read(root, CONFIG_FILE).map_err(|source| ConfigError::Read {
            name: name.to_owned(),
            path: path.clone(),
            source,
        })?;
        let config: Config =
            crate::yaml::parse_body(&bytes).map_err(|diagnostic| ConfigError::Invalid {
                path: path.clone(),
                diagnostic,
            })?;
        config
            .remotes
            .get(name)
            .cloned()
            .ok_or(ConfigError::Unknown {
                name: name.to_owned(),
                path,
            })
    }
}

/// The id a remote gave a task, checked as a local id is: what `apply` writes into a file
/// and `pull` names a file after. The error says what is wrong without echoing more than the
/// start of a long value, and in JSON's words, never in Rust's.
pub fn task_id(task: &Value) -> Result<&str, String> {
    match task.get("id") {
        None | Some(Value::Null) => Err("no id".into()),
        Some(Value::String(id)) => match check_id(id) {
            Ok(()) => Ok(id),
            Err(_) => {
                let count = id.chars().count();
                let shown = if count > 40 {
                    let start: String = id.chars().take(40).collect();
                    format!("`{start}…` ({count} characters)")
                } else {
                    format!("`{id}`")
                };
                Err(format!(
                    "the id {shown}, which is not a valid id (letters, digits, `-` and `_`, at most {} characters)",
                    crate::validate::MAX_ID_LEN
                ))
            }
        },
        Some(other) => Err(format!("an id that is {}", kind(other))),
    }
}

/// What kind of JSON value this is, in JSON's words.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

const PER_PAGE: usize = 1000;
const READ_ATTEMPTS: u32 = 3;

pub struct Client {
    remote: Remote,
    agent: ureq::Agent,
    /// How long one call may take, its retries included.
    timeout: Duration,
}

impl Client {
    pub fn new(remote: Remote, timeout: Duration) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Client {
            remote,
            agent,
            timeout,
        }
    }

    fn tasks_url(&self) -> String {
        format!(
            "{}/v2/users/{}/apps/{}/tasks",
            self.remote.url.trim_end_matches('/'),
            self.remote.user_id,
            self.remote.app_id
        )
    }

    /// Every task, reading ListTasks page by page until a short page.
    pub fn list_all(&self) -> Result<Vec<Value>, RemoteError> {
        let mut all = Vec::new();
        for page in 1.. {
            let url = format!("{}?page={page}&per_page={PER_PAGE}", self.tasks_url());
            let body = self.read(&url)?;
            let tasks = tasks_of(&url, body)?;
            let n = tasks.len();
            all.extend(tasks);
            if n < PER_PAGE {
                break;
            }
        }
        Ok(all)
    }

    /// A GET, retried with a growing pause on failures that may pass (unreachable, 5xx), all
    /// within the time limit.
    fn read(&self, url: &str) -> Result<Value, RemoteError> {
        let deadline = Instant::now() + self.timeout;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let left = self.left(url, deadline)?;
            let mut request = self.agent.get(url);
            if let Some(key) = &self.remote.key {
                request = request.header("Authorization", format!("Key {key}"));
            }
            let sent = request.config().timeout_global(Some(left)).build().call();
            match self.answer(url, sent, deadline) {
                Err(RemoteError::Unreachable { .. } | RemoteError::Failed { http: 500.., .. })
                    if attempt < READ_ATTEMPTS && Instant::now() + pause(attempt) < deadline =>
                {
                    std::thread::sleep(pause(attempt));
                }
                other => return other,
            }
        }
    }

    /// What is left of the time limit, or the error that says it passed.
    fn left(&self, url: &str, deadline: Instant) -> Result<Duration, RemoteError> {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| self.timed_out(url))
    }

    fn timed_out(&self, url: &str) -> RemoteError {
        RemoteError::TimedOut {
            url: url.split('?').next().unwrap_or(url).to_owned(),
            limit: self.timeout,
        }
    }

    /// A write, sent once: PostTasks, PatchTasks (overwrite) or DeleteTasks.
    fn write(&self, method: &str, body: &Value) -> Result<Value, RemoteError> {
        let url = self.tasks_url();
        let deadline = Instant::now() + self.timeout;
        let text = body.to_string();
        let auth = self.remote.key.as_ref().map(|k| format!("Key {k}"));
        let with = |r: ureq::RequestBuilder<ureq::typestate::WithBody>| {
            let r = r
                .content_type("application/json")
                .config()
                .timeout_global(Some(self.timeout))
                .build();
            match &auth {
                Some(a) => r.header("Authorization", a),
                None => r,
            }
        };
        let sent = match method {
            "POST" => with(self.agent.post(&url)).send(&text),
            "PATCH" => with(self.agent.patch(&url)).send(&text),
            _ => with(self.agent.delete(&url).force_send_body()).send(&text),
        };
        self.answer(&url, sent, deadline)
    }

    /// PostTasks; the answer's tasks, in the order sent.
    pub fn create(&self, tasks: Vec<Value>) -> Result<Vec<Value>, RemoteError> {
        let url = self.tasks_url();
        tasks_of(&url, self.write("POST", &json!({ "tasks": tasks }))?)
    }

    /// PatchTasks with `overwrite`: each task replaced whole.
    pub fn overwrite(&self, tasks: Vec<Value>) -> Result<Vec<Value>, RemoteError> {
        let url = self.tasks_url();
        let body = json!({ "action": "overwrite", "tasks": tasks });
        tasks_of(&url, self.write("PATCH", &body)?)
    }

    pub fn delete(&self, ids: &[String]) -> Result<(), RemoteError> {
        self.write("DELETE", &json!({ "ids": ids })).map(drop)
    }

    /// An answer, or why there is none: a failure past the deadline is the time limit's.
    fn answer(
        &self,
        url: &str,
        sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        deadline: Instant,
    ) -> Result<Value, RemoteError> {
        match answer(url, sent, self.remote.key.as_deref()) {
            Err(RemoteError::Unreachable { .. }) if Instant::now() >= deadline => {
                Err(self.timed_out(url))
            }
            other => other,
        }
    }
}

/// The pause before a read's next attempt.
fn pause(attempt: u32) -> Duration {
    Duration::from_millis(250 << attempt)
}

/// The answer's JSON, or the error it says. An error never carries `key`: a remote that quotes
/// the key it was sent back (careless, or hostile) must not make annotask print a secret.
fn answer(
    url: &str,
    sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    key: Option<&str>,
) -> Result<Value, RemoteError> {
    let mut response = sent.map_err(|e| RemoteError::Unreachable {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    let http = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_string()
        .map_err(|e| RemoteError::Unreachable {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    let url = url.split('?').next().unwrap_or(url).to_owned();
    let redact = |said: String| match key.filter(|k| !k.is_empty()) {
        Some(key) => said.replace(key, "[the key]"),
        None => said,
    };
    if (200..=299).contains(&http) {
        let body: Value = serde_json::from_str(&text).map_err(|_| RemoteError::Garbled {
            url: url.clone(),
            reason: "the body is not JSON".into(),
        })?;
        // A 2xx whose status says anything but SUCCESS (MIXED_STATUS, FAILURE, ...) did not do
        // what was asked: taken as success, a failed ListTasks would read as "no tasks".
        return match body["status"]["code"].as_u64() {
            None | Some(SUCCESS) => Ok(body),
            Some(code) => Err(RemoteError::Failed {
                url,
                http,
                details: redact(status_details(&body).unwrap_or_else(|| format!("status {code}"))),
            }),
        };
    }
    // The text before anything is cut from it, so that no part of the key is left; the
    // details again once decoded, in case the JSON escaped a character of the key.
    let text = redact(text);
    let details = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|b| status_details(&b))
        .unwrap_or_else(|| text.chars().take(200).collect());
    let details = redact(details);
    match http {
        401 | 403 => Err(RemoteError::Key { url, http, details }),
        _ => Err(RemoteError::Failed { url, http, details }),
    }
}

/// The API's SUCCESS status code.
const SUCCESS: u64 = 10000;

/// An answer's `status.description`, with its `details` when it has them.
fn status_details(body: &Value) -> Option<String> {
    let s = &body["status"];
    let d = s["description"].as_str()?;
    Some(match s["details"].as_str() {
        Some(more) => format!("{d}: {more}"),
        None => d.to_owned(),
    })
}

/// The `tasks` of an answer, each an object: anything else is not the API's answer.
fn tasks_of(url: &str, body: Value) -> Result<Vec<Value>, RemoteError> {
    let garbled = |reason: String| RemoteError::Garbled {
        url: url.to_owned(),
        reason,
    };
    let tasks = match body {
        Value::Object(mut map) => match map.remove("tasks") {
            Some(Value::Array(tasks)) => tasks,
            // The API leaves out an empty list.
            None | Some(Value::Null) => Vec::new(),
            Some(other) => return Err(garbled(format!("`tasks` is {}, not a list", kind(&other)))),
        },
        other => {
            return Err(garbled(format!(
                "the body is {}, not an object",
                kind(&other)
            )));
        }
    };
    if let Some((i, task)) = tasks.iter().enumerate().find(|(_, t)| !t.is_object()) {
        return Err(garbled(format!(
            "`tasks[{i}]` is {}, not a task",
            kind(task)
        )));
    }
    Ok(tasks)
}
