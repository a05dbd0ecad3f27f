//! API keys and who calls: with one key (`--api-key`), every request must carry
//! `Authorization: Key KEY`, as the hosted API's clients send it; with a keys file (`--keys`),
//! one of its keys, and the request acts as that key's user, with that key's scopes. Owns the
//! keys file's rules, the key and scope checks, their 401 and 403 answers and the [`Caller`] a
//! request carries; must not look at anything but the header and the call's name, must not
//! read files or parse YAML itself (`files` and `yaml` do), and never logs or echoes a key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::api;
use crate::files;
use crate::validate::check_id;
use crate::yaml;

use super::reply::Failure;

/// How requests are let in.
#[derive(Clone)]
pub enum Access {
    /// Anyone (loopback only): a solo server, which may do everything.
    Open,
    /// One key, for one unnamed user, who may do everything.
    Key(Arc<str>),
    /// A key per user, each with its scopes.
    Keys(Arc<Keys>),
}

/// Who a request comes from, as its key says: `None` for the unnamed user of `--api-key` or
/// an open server.
#[derive(Debug, Clone, Default)]
pub struct Caller(pub Option<String>);

/// What a key may do beyond reading and labeling as the tasks allow: the hosted API's scopes
/// for changing tasks. A keys file entry without `scopes` has none of them.
///
/// The hosted API's operation-level scopes are `RESOURCE:Add` (write: create and change),
/// `RESOURCE:Get` and `RESOURCE:Delete`; there is no `:Patch` scope, so PatchTasks needs
/// `Tasks:Add`, as it does there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// PostTasks and PatchTasks.
    Add,
    /// DeleteTasks.
    Delete,
}

impl Scope {
    const ALL: [Scope; 2] = [Scope::Add, Scope::Delete];

    /// The scope's name as the hosted API writes it.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Add => "Tasks:Add",
            Scope::Delete => "Tasks:Delete",
        }
    }

    /// The scope a call needs, by its method name (the gRPC method's, which the JSON face's
    /// routes share): `None` for calls every key may make.
    pub fn needed_by(call: &str) -> Option<Scope> {
        match call {
            "PostTasks" | "PatchTasks" => Some(Scope::Add),
            "DeleteTasks" => Some(Scope::Delete),
            _ => None,
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }

    fn named(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One key of a keys file.
struct Key {
    secret: Box<[u8]>,
    user: String,
    /// [`Scope::bit`]s.
    scopes: u8,
}

/// The users' keys, from a keys file.
pub struct Keys {
    keys: Vec<Key>,
}

/// What is wrong with a keys file; never quotes a key, nor a user id (in a file written the
/// wrong way round, the user ids are the keys).
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("cannot read the keys file {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the keys file {}: {why}", .path.display())]
    Invalid { path: PathBuf, why: String },
    #[error(
        "the keys file {} can be {} by other users (mode {mode:03o}); keys are secrets: run `chmod 600 {}`",
        .path.display(), exposure(*.mode), .path.display()
    )]
    Exposed { path: PathBuf, mode: u32 },
}

fn exposure(mode: u32) -> &'static str {
    match (mode & 0o044 != 0, mode & 0o022 != 0) {
        (true, true) => "read and written",
        (false, true) => "written",
        _ => "read",
    }
}

/// How a keys file's entries are written, for messages.
const FORM: &str =
    "each entry is `KEY: USER_ID` or `KEY: {user: USER_ID, scopes: [Tasks:Add, ...]}`";

impl Keys {
    /// Reads a keys file, JSON or YAML (`{"key-ann": "ann"}`), refusing one inside the
    /// project's shared folders, one other users may read or write, and any entry that is not
    /// plainly one key for one user.
    pub fn load(path: &Path, root: &Path) -> Result<Keys, KeysError> {
        let read = files::read_private(path, root).map_err(|source| KeysError::Read {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |why: String| KeysError::Invalid {
            path: path.to_owned(),
            why,
        };
        if let Some(folder) = read.shared_dir {
            return Err(invalid(format!(
                "it is inside the project's {folder}/ folder, which is shared through git; keep keys outside it"
            )));
        }
        if read.mode & 0o077 != 0 {
            return Err(KeysError::Exposed {
                path: path.to_owned(),
                mode: read.mode,
            });
        }
        // The reader's own message may quote the text; only where it stopped is told.
        let entries = yaml::parse_entries::<Value>(&read.bytes).map_err(|d| {
            let at = d
                .location
                .map(|l| format!("line {}: ", l.line))
                .unwrap_or_default();
            invalid(format!("{at}it is not a map of keys to user ids; {FORM}"))
        })?;
        if entries.is_empty() {
            return Err(invalid("it maps no keys".into()));
        }
        let mut keys: Vec<Key> = Vec::with_capacity(entries.len());
        let mut lines: Vec<Option<u32>> = Vec::with_capacity(entries.len());
        for (i, entry) in entries.into_iter().enumerate() {
            let at = match entry.line {
                Some(line) => format!("line {line}"),
                None => format!("entry {}", i + 1),
            };
            let key = entry_key(&entry.key).map_err(|why| invalid(format!("{at}: {why}")))?;
            if let Some(j) = keys.iter().position(|k| *k.secret == *key.as_bytes()) {
                let first = lines[j].map_or(format!("entry {}", j + 1), |l| format!("line {l}"));
                return Err(invalid(format!(
                    "{at}: the same key as {first}; a key names one user, so give each entry its own key"
                )));
            }
            let (user, scopes) =
                entry_value(&entry.value, key).map_err(|why| invalid(format!("{at}: {why}")))?;
            keys.push(Key {
                secret: key.as_bytes().into(),
                user,
                scopes,
            });
            lines.push(entry.line);
        }
        Ok(Keys { keys })
    }

    /// The key a presented secret matches. Every key is compared in full, so the time taken
    /// does not tell which key came close.
    fn key(&self, presented: &str) -> Option<&Key> {
        let mut found = None;
        for key in &self.keys {
            if same(presented.as_bytes(), &key.secret) {
                found = Some(key);
            }
        }
        found
    }
}

/// A keys file entry's key, checked: what an `Authorization` header can carry, whole.
fn entry_key(key: &str) -> Result<&str, String> {
    if key.trim().is_empty() {
        return Err("the key is empty".into());
    }
    if key.trim() != key {
        return Err(
            "the key starts or ends with white space, which a request's header cannot carry; remove it"
                .into(),
        );
    }
    if !key.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return Err(
            "the key holds a character a request's header cannot carry; keys are printable ASCII"
                .into(),
        );
    }
    Ok(key)
}

/// A keys file entry's value: the user and the scopes. Says what is wrong without quoting the
/// user id, which in a reversed file is a key.
fn entry_value(value: &Value, key: &str) -> Result<(String, u8), String> {
    let (user, scopes) = match value {
        Value::String(user) => (user, &[][..]),
        Value::Object(fields) => {
            if let Some(field) = fields
                .keys()
                .find(|f| !matches!(f.as_str(), "user" | "scopes"))
            {
                return Err(format!(
                    "`{}` is not a field of a key; {FORM}",
                    field.chars().take(40).collect::<String>()
                ));
            }
            let Some(Value::String(user)) = fields.get("user") else {
                return Err(format!("the entry names no `user`; {FORM}"));
            };
            let scopes = match fields.get("scopes") {
                None | Some(Value::Null) => &[][..],
                Some(Value::Array(scopes)) => scopes.as_slice(),
                Some(_) => return Err(format!("`scopes` is not a list; {FORM}")),
            };
            (user, scopes)
        }
        _ => return Err(format!("the value is neither a user id nor a map; {FORM}")),
    };
    if check_id(user).is_err() {
        return Err(format!(
            "the user id is not a valid id (letters, digits, `-` and `_`); is the file written the wrong way round? {FORM}"
        ));
    }
    if looks_like_a_secret(user) && key.len() < user.len() {
        return Err(format!(
            "the user id looks like a generated key, and the key is shorter than it: is the file written the wrong way round? {FORM}"
        ));
    }
    let mut bits = 0;
    for scope in scopes {
        let name = scope.as_str().unwrap_or_default();
        let Some(scope) = Scope::named(name) else {
            if name == "Tasks:Patch" {
                return Err(
                    "`Tasks:Patch` is not a scope: as in the hosted API, `Tasks:Add` allows PatchTasks"
                        .into(),
                );
            }
            let known: Vec<&str> = Scope::ALL.iter().map(|s| s.name()).collect();
            return Err(format!(
                "`{}` is not a scope annotask knows; every key may read and label as the tasks allow, and scopes add {}",
                name.chars().take(40).collect::<String>(),
                known.join(", ")
            ));
        };
        bits |= scope.bit();
    }
    Ok((user.clone(), bits))
}

/// Whether an id has the look of a generated key rather than a person's name: long, and
/// mixing letters and digits, as the hosted API's keys (32 hex digits) do.
fn looks_like_a_secret(id: &str) -> bool {
    id.len() >= 20
        && id.bytes().any(|b| b.is_ascii_digit())
        && id.bytes().any(|b| b.is_ascii_alphabetic())
}

impl Access {
    /// The caller a request's headers name, once its key lets it make `call` (a method name as
    /// [`Scope::needed_by`] takes it); or the 401 or 403 that refuses it.
    pub fn admit(&self, headers: &HeaderMap, call: &str) -> Result<Caller, Failure> {
        match self {
            Access::Open => Ok(Caller(None)),
            Access::Key(key) => {
                let presented = presented(headers).map_err(refused)?;
                if same(presented.as_bytes(), key.as_bytes()) {
                    Ok(Caller(None))
                } else {
                    Err(refused("the API key is not valid"))
                }
            }
            Access::Keys(keys) => {
                let key = keys
                    .key(presented(headers).map_err(refused)?)
                    .ok_or_else(|| refused("the API key is not valid"))?;
                if let Some(scope) = Scope::needed_by(call)
                    && key.scopes & scope.bit() == 0
                {
                    return Err(insufficient(call, scope));
                }
                Ok(Caller(Some(key.user.clone())))
            }
        }
    }
}

/// Middleware: passes the request on, with its [`Caller`], only with a valid key whose scopes
/// allow the call.
pub async fn require_key(
    State(access): State<Access>,
    mut request: Request,
    next: Next,
) -> Response {
    let call = json_call(request.method(), request.uri().path()).unwrap_or_default();
    match access.admit(request.headers(), call) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(failure) => failure.into_response(),
    }
}

/// The method name of a JSON request that needs a scope: the task writes on
/// `{prefix}/tasks`.
fn json_call(method: &Method, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    let tasks = matches!(segments.as_slice(), ["", "v2", "tasks"])
        || matches!(
            segments.as_slice(),
            ["", "v2", "users", _, "apps", _, "tasks"]
        );
    if !tasks {
        return None;
    }
    match *method {
        Method::POST => Some("PostTasks"),
        Method::PATCH => Some("PatchTasks"),
        Method::DELETE => Some("DeleteTasks"),
        _ => None,
    }
}

/// A request without a valid key.
pub fn refused(why: impl Into<String>) -> Failure {
    Failure::new(StatusCode::UNAUTHORIZED, api::StatusCode::KeyInvalid, why)
}

/// A call the key's scopes do not allow.
fn insufficient(call: &str, scope: Scope) -> Failure {
    Failure::new(
        StatusCode::FORBIDDEN,
        api::StatusCode::InsufficientScopes,
        format!(
            "{call} needs the scope {}, which this key does not have; the keys file gives a key scopes as `KEY: {{user: USER_ID, scopes: [{}]}}`",
            scope.name(),
            scope.name()
        ),
    )
}

/// The user a call acts as: its key's user, else the `user_id` its path (or, over gRPC, its
/// `user_app_id`) names.
pub fn acting_user(caller: &Caller, named: Option<&str>) -> Result<String, Failure> {
    match (&caller.0, named.filter(|u| !u.is_empty())) {
        (Some(user), _) => Ok(user.clone()),
        (None, Some(user)) => {
            check_id(user).map_err(|e| Failure::bad_request(format!("user_id: {e}")))?;
            Ok(user.to_owned())
        }
        (None, None) => Err(refused(
            "this call acts as a user, and nothing names one: start the server with --keys FILE (a key per user), or call it under /v2/users/{user_id}/apps/{app_id}/",
        )),
    }
}

/// The key an `Authorization` header presents.
fn presented(headers: &HeaderMap) -> Result<&str, &'static str> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err("this server needs an API key: send the header `Authorization: Key <key>`");
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        // Authentication schemes are case-insensitive (RFC 9110 §11.1).
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("key"))
        .map(|(_, token)| token.trim())
        .ok_or("the Authorization header must read `Key <key>`")
}

/// Compares in time that depends on the lengths only, so response timing does not tell an
/// attacker how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::os::unix::fs::PermissionsExt;

    fn with(value: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(v) = value {
            headers.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    /// Writes a keys file of `text` with `mode` under `dir` and loads it.
    fn load(dir: &Path, name: &str, text: &str, mode: u32) -> Result<Keys, String> {
        let file = dir.join(name);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, text).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        Keys::load(&file, dir).map_err(|e| e.to_string())
    }

    #[test]
    fn one_key() {
        let access = Access::Key("s3cret".into());
        let check = |value| access.admit(&with(value), "PostTasks").map(|c| c.0);
        assert_eq!(check(Some("Key s3cret")).unwrap(), None);
        assert_eq!(check(Some("key  s3cret ")).unwrap(), None);
        for bad in [
            None,
            Some("s3cret"),
            Some("Bearer s3cret"),
            Some("Key s3cre"),
            Some("Key s3cret2"),
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_name_users_and_scopes_allow_task_writes() {
        let dir = tempfile::tempdir().unwrap();
        let text = "key-ann: ann\nkey-lead: {user: lead, scopes: [Tasks:Add, Tasks:Delete]}\nkey-rm: {user: rm, scopes: [Tasks:Delete]}\n";
        let access = Access::Keys(load(dir.path(), "keys.yaml", text, 0o600).unwrap().into());
        // (key, call) -> the user, or the HTTP status of the refusal.
        let check = |value: Option<&str>, call: &str| {
            access
                .admit(&with(value), call)
                .map(|c| c.0.unwrap())
                .map_err(|f| f.into_response().status().as_u16())
        };
        let cases: [(Option<&str>, &str, Result<&str, u16>); 13] = [
            (Some("Key key-ann"), "GetTask", Ok("ann")),
            (Some("Key key-ann"), "PostAnnotations", Ok("ann")),
            (Some("Key key-ann"), "PostTasks", Err(403)),
            (Some("Key key-ann"), "PatchTasks", Err(403)),
            (Some("Key key-ann"), "DeleteTasks", Err(403)),
            (Some("Key key-lead"), "PostTasks", Ok("lead")),
            (Some("Key key-lead"), "PatchTasks", Ok("lead")),
            (Some("Key key-lead"), "DeleteTasks", Ok("lead")),
            (Some("Key key-rm"), "PostTasks", Err(403)),
            (Some("Key key-rm"), "PatchTasks", Err(403)),
            (Some("Key key-rm"), "DeleteTasks", Ok("rm")),
            (Some("Key key-bob"), "GetTask", Err(401)),
            (None, "GetTask", Err(401)),
        ];
        for (value, call, expected) in cases {
            assert_eq!(
                check(value, call).as_deref().map_err(|e| *e),
                expected,
                "{value:?} {call}"
            );
        }
    }

    #[test]
    fn json_calls_are_named_by_method_and_path() {
        let check = |method: Method, path: &str| json_call(&method, path);
        assert_eq!(check(Method::POST, "/v2/tasks"), Some("PostTasks"));
        assert_eq!(
            check(Method::PATCH, "/v2/users/u/apps/a/tasks"),
            Some("PatchTasks")
        );
        assert_eq!(check(Method::DELETE, "/v2/tasks"), Some("DeleteTasks"));
        assert_eq!(check(Method::GET, "/v2/tasks"), None);
        assert_eq!(check(Method::POST, "/v2/annotations"), None);
        assert_eq!(check(Method::DELETE, "/v2/tasks/t"), None);
    }

    /// Every way a keys file is refused, with what the message says; no message quotes a key
    /// or a user id (which, in a reversed file, is a key).
    #[test]
    fn keys_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("work/t")).unwrap();
        let secret = "s3cr3tXKEYq9";
        let hosted = "a8f3e9b2c4d17a8f3e9b2c4d17a8f3e9";
        assert!(
            load(
                dir.path(),
                "a.json",
                r#"{"k1": "ulla", "k2": "vito"}"#,
                0o600
            )
            .is_ok()
        );
        assert!(
            load(
                dir.path(),
                "b.json",
                r#"{"k1": "ulla", "k2": "ulla"}"#,
                0o400
            )
            .is_ok()
        );
        assert!(
            load(
                dir.path(),
                "c.yaml",
                "key-lead:\n  user: lead\n  scopes: [Tasks:Add]\n",
                0o600
            )
            .is_ok()
        );
        let cases: Vec<(&str, String, u32, &str)> = vec![
            ("d.json", "{}".into(), 0o600, "maps no keys"),
            (
                "e.yaml",
                "- ulla\n".into(),
                0o600,
                "not a map of keys to user ids",
            ),
            (
                "f.yaml",
                "\"\": ulla\n".into(),
                0o600,
                "line 1: the key is empty",
            ),
            (
                "g.yaml",
                "k1: ulla\n\" \": vito\n".into(),
                0o600,
                "line 2: the key is empty",
            ),
            (
                "h.yaml",
                format!("k1: ulla\n\"{secret} \": vito\n"),
                0o600,
                "line 2: the key starts or ends with white space",
            ),
            (
                "i.yaml",
                format!("{secret}: ulla\n\" {secret}\": vito\n"),
                0o600,
                "line 2: the key starts or ends",
            ),
            (
                "j.json",
                format!("{{\"{secret}\": \"ulla\",\n \"{secret}\": \"vito\"}}"),
                0o600,
                "line 2: the same key as line 1",
            ),
            (
                "k.json",
                format!("{{\"ulla\": \"{secret}+/KEY==\"}}"),
                0o600,
                "line 1: the user id is not a valid id",
            ),
            (
                "l.json",
                format!("{{\"k1\": \"ulla\",\n\"ulla\": \"{hosted}\"}}"),
                0o600,
                "line 2: the user id looks like a generated key",
            ),
            (
                "m.yaml",
                format!("{secret}: ul la\n"),
                0o600,
                "line 1: the user id is not a valid id",
            ),
            (
                "n.yaml",
                format!("{secret}: {{user: ulla, scopes: [Tasks:Ad]}}\n"),
                0o600,
                "line 1: `Tasks:Ad` is not a scope",
            ),
            (
                "n2.yaml",
                format!("{secret}: {{user: ulla, scopes: [Tasks:Patch]}}\n"),
                0o600,
                "line 1: `Tasks:Patch` is not a scope: as in the hosted API, `Tasks:Add` allows PatchTasks",
            ),
            (
                "o.yaml",
                format!("{secret}: {{usr: ulla}}\n"),
                0o600,
                "line 1: `usr` is not a field of a key",
            ),
            (
                "p.yaml",
                format!("{secret}: [ulla]\n"),
                0o600,
                "line 1: the value is neither a user id nor a map",
            ),
            (
                "q.yaml",
                format!("{secret}: ulla\n"),
                0o644,
                "can be read by other users (mode 644); keys are secrets: run `chmod 600",
            ),
            (
                "r.yaml",
                format!("{secret}: ulla\n"),
                0o620,
                "can be written by other users",
            ),
            (
                "s.yaml",
                format!("{secret}: ulla\n"),
                0o666,
                "can be read and written by other users",
            ),
            (
                "work/t/keys.yaml",
                format!("{secret}: ulla\n"),
                0o600,
                "inside the project's work/ folder",
            ),
            ("u.yaml", format!("{secret}: [ulla\n"), 0o600, "line 1"),
        ];
        for (name, text, mode, says) in cases {
            let error = load(dir.path(), name, &text, mode)
                .err()
                .unwrap_or_else(|| panic!("{name} loaded"));
            assert!(error.contains(says), "{name}: {error}");
            for secret in [secret, hosted, "ulla", "vito"] {
                assert!(!error.contains(secret), "{name} quotes {secret}: {error}");
            }
        }
    }
}
