//! API keys and who calls: with one key (`--api-key`), every request must carry
//! `Authorization: Key KEY`, as the hosted API's clients send it; with a keys file (`--keys`),
//! one of its keys, and the request acts as that key's user. Owns the keys file, the check, its
//! 401 answers and the [`Caller`] a request carries; must not look at anything but the header,
//! and never logs or echoes a key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api;
use crate::validate::check_id;

use super::reply::Failure;

/// How requests are let in.
#[derive(Clone)]
pub enum Access {
    /// Anyone (loopback only).
    Open,
    /// One key, for one unnamed user.
    Key(Arc<str>),
    /// A key per user.
    Keys(Arc<Keys>),
}

/// Who a request comes from, as its key says: `None` for the unnamed user of `--api-key` or
/// an open server.
#[derive(Debug, Clone, Default)]
pub struct Caller(pub Option<String>);

/// The users' keys, from a keys file.
pub struct Keys {
    users: Vec<(Box<[u8]>, String)>,
}

/// What is wrong with a keys file; never quotes a key.
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
}

impl Keys {
    /// Reads a keys file, JSON or YAML (`{"key-ann": "ann"}`), refusing one inside the
    /// project's shared folders.
    pub fn load(path: &Path, root: &Path) -> Result<Keys, KeysError> {
        let canonical = path.canonicalize().map_err(|source| KeysError::Read {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |why: String| KeysError::Invalid {
            path: path.to_owned(),
            why,
        };
        for folder in crate::layout::SHARED_DIRS {
            if let Ok(shared) = root.join(folder).canonicalize()
                && canonical.starts_with(&shared)
            {
                return Err(invalid(format!(
                    "it is inside the project's {folder}/ folder, which is shared through git; keep keys outside it"
                )));
            }
        }
        let text = std::fs::read_to_string(path).map_err(|source| KeysError::Read {
            path: path.to_owned(),
            source,
        })?;
        // JSON is YAML; the YAML reader's message says where a file went wrong, never what it
        // holds.
        let map: HashMap<String, String> = yaml_serde::from_str(&text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!("line {}, column {}", l.line(), l.column()))
                .unwrap_or_else(|| "expected `key: user_id` pairs".into());
            invalid(format!("it is not a map of keys to user ids ({at})"))
        })?;
        if map.is_empty() {
            return Err(invalid("it maps no keys".into()));
        }
        let mut users = Vec::with_capacity(map.len());
        for (key, user) in map {
            let key = key.trim();
            if key.is_empty() {
                return Err(invalid(format!("it has an empty key (for user `{user}`)")));
            }
            if let Err(e) = check_id(&user) {
                return Err(invalid(format!(
                    "it maps a key to `{user}`, which is not a valid user id: {e}"
                )));
            }
            users.push((key.as_bytes().into(), user));
        }
        Ok(Keys { users })
    }

    /// The user a presented key belongs to. Every key is compared in full, so the time taken
    /// does not tell which key came close.
    fn user(&self, presented: &str) -> Option<&str> {
        let mut found = None;
        for (key, user) in &self.users {
            if same(presented.as_bytes(), key) {
                found = Some(user.as_str());
            }
        }
        found
    }
}

impl Access {
    /// The caller a request's headers name, or why they are refused.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Caller, &'static str> {
        match self {
            Access::Open => Ok(Caller(None)),
            Access::Key(key) => {
                let presented = presented(headers)?;
                if same(presented.as_bytes(), key.as_bytes()) {
                    Ok(Caller(None))
                } else {
                    Err("the API key is not valid")
                }
            }
            Access::Keys(keys) => keys
                .user(presented(headers)?)
                .map(|user| Caller(Some(user.to_owned())))
                .ok_or("the API key is not valid"),
        }
    }
}

/// Middleware: passes the request on, with its [`Caller`], only with a valid key.
pub async fn require_key(
    State(access): State<Access>,
    mut request: Request,
    next: Next,
) -> Response {
    match access.caller(request.headers()) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(why) => refused(why).into_response(),
    }
}

/// A request without a valid key.
pub fn refused(why: impl Into<String>) -> Failure {
    Failure::new(StatusCode::UNAUTHORIZED, api::StatusCode::KeyInvalid, why)
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

    fn with(value: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(v) = value {
            headers.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn one_key() {
        let access = Access::Key("s3cret".into());
        let check = |value| access.caller(&with(value)).map(|c| c.0);
        assert_eq!(check(Some("Key s3cret")), Ok(None));
        assert_eq!(check(Some("key  s3cret ")), Ok(None));
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
    fn keys_name_users() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys.yaml");
        std::fs::write(&file, "key-ann: ann\nkey-rita: rita\n").unwrap();
        let access = Access::Keys(Keys::load(&file, dir.path()).unwrap().into());
        let check = |value| access.caller(&with(value)).map(|c| c.0);
        assert_eq!(check(Some("Key key-ann")), Ok(Some("ann".into())));
        assert_eq!(check(Some("Key key-rita")), Ok(Some("rita".into())));
        assert!(check(Some("Key key-bob")).is_err());
        assert!(check(None).is_err());
    }

    #[test]
    fn keys_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("work/t")).unwrap();
        let load = |name: &str, text: &str| {
            let file = dir.path().join(name);
            std::fs::write(&file, text).unwrap();
            Keys::load(&file, dir.path())
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert_eq!(load("a.json", r#"{"k1": "ann", "k2": "bob"}"#), Ok(()));
        for (name, text, says) in [
            ("b.json", "{}", "maps no keys"),
            ("c.yaml", "- ann\n", "not a map of keys to user ids"),
            ("d.yaml", "\"\": ann\n", "has an empty key (for user `ann`)"),
            ("e.yaml", "k: an n\n", "not a valid user id"),
            (
                "work/t/keys.yaml",
                "k: ann\n",
                "inside the project's work/ folder",
            ),
        ] {
            let error = load(name, text).unwrap_err();
            assert!(error.contains(says), "{name}: {error}");
            assert!(
                !error.contains("k1") && !error.contains("s3cret"),
                "{error}"
            );
        }
    }
}
