//! The client of a remote Tasks API (the hosted platform or another `annotask serve`): the
//! only module that is an HTTP client. Speaks the JSON API under `/v2/users/U/apps/A/`, with
//! time-outs, and retries only reads. Must not know plans or files.

use std::time::Duration;

use serde_json::{Value, json};

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

const PER_PAGE: usize = 1000;
const READ_ATTEMPTS: u32 = 3;

pub struct Client {
    remote: Remote,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(remote: Remote) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Client { remote, agent }
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

    /// A GET, retried with a growing pause on failures that may pass (unreachable, 5xx).
    fn read(&self, url: &str) -> Result<Value, RemoteError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.agent.get(url);
            if let Some(key) = &self.remote.key {
                request = request.header("Authorization", format!("Key {key}"));
            }
            match answer(url, request.call()) {
                Err(
                    e @ (RemoteError::Unreachable { .. } | RemoteError::Failed { http: 500.., .. }),
                ) if attempt < READ_ATTEMPTS => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(250 << attempt));
                }
                other => return other,
            }
        }
    }

    /// A write, sent once: PostTasks, PatchTasks (overwrite) or DeleteTasks.
    fn write(&self, method: &str, body: &Value) -> Result<Value, RemoteError> {
        let url = self.tasks_url();
        let text = body.to_string();
        let auth = self.remote.key.as_ref().map(|k| format!("Key {k}"));
        let with = |r: ureq::RequestBuilder<ureq::typestate::WithBody>| {
            let r = r.content_type("application/json");
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
        answer(&url, sent)
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
}

fn answer(
    url: &str,
    sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
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
    let body: Option<Value> = serde_json::from_str(&text).ok();
    let details = body
        .as_ref()
        .and_then(|b| {
            let s = &b["status"];
            let d = s["description"].as_str()?;
            Some(match s["details"].as_str() {
                Some(more) => format!("{d}: {more}"),
                None => d.to_owned(),
            })
        })
        .unwrap_or_else(|| text.chars().take(200).collect());
    let url = url.split('?').next().unwrap_or(url).to_owned();
    match (http, body) {
        (200..=299, Some(body)) => Ok(body),
        (200..=299, None) => Err(RemoteError::Garbled {
            url,
            reason: "the body is not JSON".into(),
        }),
        (401 | 403, _) => Err(RemoteError::Key { url, http, details }),
        _ => Err(RemoteError::Failed { url, http, details }),
    }
}

fn tasks_of(url: &str, body: Value) -> Result<Vec<Value>, RemoteError> {
    match body {
        Value::Object(mut map) => match map.remove("tasks") {
            Some(Value::Array(tasks)) => Ok(tasks),
            // The API leaves out an empty list.
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(_) => Err(RemoteError::Garbled {
                url: url.to_owned(),
                reason: "`tasks` is not a list".into(),
            }),
        },
        _ => Err(RemoteError::Garbled {
            url: url.to_owned(),
            reason: "the body is not an object".into(),
        }),
    }
}
