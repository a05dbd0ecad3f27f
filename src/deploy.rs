//! What a deployment changes: local tasks against a remote's tasks, as a list of changes
//! ([`diff`]). Owns the ownership marker, fingerprints, drift and conflict rules. Pure: no I/O,
//! so it is tested on data alone.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Map, Value};

/// The `metadata` key under which `apply` marks the remote tasks it manages:
/// `{"annotask": {"fingerprint": "…"}}`.
pub const MARKER: &str = "annotask";

/// Fields the server owns: never diffed, never sent.
pub const SERVER_FIELDS: [&str; 5] = ["created_at", "modified_at", "metrics", "app_id", "user_id"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
    Conflict,
    Orphan,
}

/// One changed field: its dotted path, and its remote (`old`) and local (`new`) values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub action: Action,
    pub id: String,
    /// An update that puts back a remote edited outside annotask (only the remote changed).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub drift: bool,
    pub fields: Vec<FieldChange>,
    /// What to send: the local task with its marker (create, update, conflict).
    #[serde(skip)]
    pub body: Option<Value>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub prune: bool,
    pub allow_empty: bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DiffError {
    #[error(
        "--prune with no local tasks would delete every managed remote task; pass --allow-empty if that is meant"
    )]
    EmptyPrune,
}

/// The changes that make the remote match the local tasks. `local` are validated tasks as
/// JSON; `remote` what the remote lists. Unmanaged remote-only tasks are left alone (`pull`
/// imports them); managed ones are orphans, or deletes with `prune`.
pub fn diff(local: &[Value], remote: &[Value], options: Options) -> Result<Vec<Change>, DiffError> {
    if options.prune && local.is_empty() && !options.allow_empty {
        return Err(DiffError::EmptyPrune);
    }
    let remote: BTreeMap<&str, &Value> = remote.iter().map(|t| (id_of(t), t)).collect();
    let local_ids: BTreeSet<&str> = local.iter().map(id_of).collect();
    let mut changes = Vec::new();
    for task in local {
        let id = id_of(task).to_owned();
        let wanted = content(task);
        let fingerprint = fingerprint(&wanted);
        let body = Some(with_marker(&wanted, &fingerprint));
        let Some(there) = remote.get(id.as_str()) else {
            changes.push(Change {
                action: Action::Create,
                id,
                drift: false,
                fields: field_changes(&Value::Object(Map::new()), &wanted),
                body,
            });
            continue;
        };
        let actual = content(there);
        let fields = field_changes(&actual, &wanted);
        if fields.is_empty() {
            continue;
        }
        let (action, drift) = match marker(there) {
            // Not managed yet: apply takes it over.
            None => (Action::Update, false),
            Some(applied) => {
                let remote_moved = self::fingerprint(&actual) != applied;
                let local_moved = fingerprint != applied;
                match (remote_moved, local_moved) {
                    (true, true) => (Action::Conflict, false),
                    (true, false) => (Action::Update, true),
                    _ => (Action::Update, false),
                }
            }
        };
        changes.push(Change {
            action,
            id,
            drift,
            fields,
            body,
        });
    }
    for (id, task) in &remote {
        if local_ids.contains(id) || marker(task).is_none() {
            continue;
        }
        changes.push(Change {
            action: if options.prune {
                Action::Delete
            } else {
                Action::Orphan
            },
            id: (*id).to_owned(),
            drift: false,
            fields: Vec::new(),
            body: None,
        });
    }
    Ok(changes)
}

fn id_of(task: &Value) -> &str {
    task.get("id").and_then(Value::as_str).unwrap_or_default()
}

/// The fingerprint `apply` recorded on a remote task, if it manages it.
pub fn marker(task: &Value) -> Option<&str> {
    task.get("metadata")?
        .get(MARKER)?
        .get("fingerprint")?
        .as_str()
}

/// What is compared: the task without server-owned fields, without the marker, and without
/// empty values (`[]`, `{}`, `null`), which the API treats as absent.
pub fn content(task: &Value) -> Value {
    let mut task = task.clone();
    if let Value::Object(map) = &mut task {
        for field in SERVER_FIELDS {
            map.remove(field);
        }
        if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
            metadata.remove(MARKER);
        }
    }
    prune_empty(&mut task);
    task
}

fn prune_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for v in map.values_mut() {
                prune_empty(v);
            }
            map.retain(|_, v| !is_empty(v));
        }
        Value::Array(items) => items.iter_mut().for_each(prune_empty),
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// `content` with the marker carrying `fingerprint`: what apply sends.
fn with_marker(content: &Value, fingerprint: &str) -> Value {
    let mut task = content.clone();
    if let Value::Object(map) = &mut task {
        let metadata = map
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(metadata) = metadata {
            metadata.insert(
                MARKER.to_owned(),
                serde_json::json!({ "fingerprint": fingerprint }),
            );
        }
    }
    task
}

/// A stable hash of a task's content: keys in order, numbers by value (`90` = `90.0`).
/// FNV-1a over the canonical text; it detects edits, it does not resist forgery.
pub fn fingerprint(content: &Value) -> String {
    let mut text = String::new();
    canonical(content, &mut text);
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("fnv1a64:{hash:016x}")
}

fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Number(n) => {
            let _ = write!(out, "{}", n.as_f64().unwrap_or(f64::NAN));
        }
        Value::Array(items) => {
            out.push('[');
            for item in items {
                canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(map) => {
            let keys: BTreeSet<&String> = map.keys().collect();
            out.push('{');
            for key in keys {
                let _ = write!(out, "{}:", Value::String(key.clone()));
                canonical(&map[key], out);
                out.push(',');
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Values equal as the API means them: numbers by value, objects regardless of key order.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The fields that differ, descending into objects; lists are compared whole.
fn field_changes(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    diff_into("", old, new, &mut out);
    out
}

fn diff_into(path: &str, old: &Value, new: &Value, out: &mut Vec<FieldChange>) {
    if let (Value::Object(o), Value::Object(n)) = (old, new) {
        let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
        for key in keys {
            let sub = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match (o.get(key), n.get(key)) {
                (Some(a), Some(b)) => diff_into(&sub, a, b, out),
                (a, b) => out.push(FieldChange {
                    field: sub,
                    old: a.cloned(),
                    new: b.cloned(),
                }),
            }
        }
    } else if !same(old, new) {
        out.push(FieldChange {
            field: path.to_owned(),
            old: Some(old.clone()),
            new: Some(new.clone()),
        });
    }
}

/// A remote task as a file would hold it: without server fields or the marker.
pub fn for_file(remote: &Value) -> Value {
    content(remote)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn managed(mut task: Value) -> Value {
        let fp = fingerprint(&content(&task));
        if task.get("metadata").is_none() {
            task["metadata"] = json!({});
        }
        task["metadata"][MARKER] = json!({ "fingerprint": fp });
        task
    }

    /// Each case: local tasks, remote tasks, prune, expected `(action, id, fields, drift)`.
    fn check(local: Value, remote: Value, prune: bool, expected: &[(&str, &str, &[&str], bool)]) {
        let options = Options {
            prune,
            allow_empty: false,
        };
        let changes = diff(
            local.as_array().unwrap(),
            remote.as_array().unwrap(),
            options,
        )
        .unwrap();
        let got: Vec<(String, String, Vec<String>, bool)> = changes
            .iter()
            .map(|c| {
                (
                    serde_json::to_value(c.action)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    c.id.clone(),
                    c.fields.iter().map(|f| f.field.clone()).collect(),
                    c.drift,
                )
            })
            .collect();
        let want: Vec<(String, String, Vec<String>, bool)> = expected
            .iter()
            .map(|(a, id, f, d)| {
                (
                    (*a).to_owned(),
                    (*id).to_owned(),
                    f.iter().map(|s| (*s).to_owned()).collect(),
                    *d,
                )
            })
            .collect();
        assert_eq!(got, want);
    }

    fn t(id: &str, name: &str) -> Value {
        json!({"id": id, "name": name, "priority": "HIGH"})
    }

    #[test]
    fn rules() {
        // Empty remote: all creates.
        check(
            json!([t("a", "A")]),
            json!([]),
            false,
            &[("create", "a", &["id", "name", "priority"], false)],
        );
        // Same content, marked: nothing.
        check(
            json!([t("a", "A")]),
            json!([managed(t("a", "A"))]),
            false,
            &[],
        );
        // Local edit of a managed task: one update with its field.
        check(
            json!([t("a", "B")]),
            json!([managed(t("a", "A"))]),
            false,
            &[("update", "a", &["name"], false)],
        );
        // Remote-only edit: drift, shown as an update back to the file.
        let mut edited = managed(t("a", "A"));
        edited["name"] = json!("remote");
        check(
            json!([t("a", "A")]),
            json!([edited.clone()]),
            false,
            &[("update", "a", &["name"], true)],
        );
        // Both sides edited: conflict.
        check(
            json!([t("a", "B")]),
            json!([edited]),
            false,
            &[("conflict", "a", &["name"], false)],
        );
        // Unmanaged remote-only: left alone, even with prune.
        check(
            json!([t("a", "A")]),
            json!([managed(t("a", "A")), t("r", "R")]),
            true,
            &[],
        );
        // Managed remote-only: orphan, delete with prune.
        check(
            json!([t("a", "A")]),
            json!([managed(t("a", "A")), managed(t("o", "O"))]),
            false,
            &[("orphan", "o", &[], false)],
        );
        check(
            json!([t("a", "A")]),
            json!([managed(t("a", "A")), managed(t("o", "O"))]),
            true,
            &[("delete", "o", &[], false)],
        );
        // Unmanaged with the same content: the marker alone is not a change.
        check(json!([t("a", "A")]), json!([t("a", "A")]), false, &[]);
        // Server fields are never diffed; numbers compare by value; empty equals absent.
        check(
            json!([{"id": "a", "sample_ms": 90, "metadata": {"w": 1}}]),
            json!([managed(
                json!({"id": "a", "sample_ms": 90.0, "metadata": {"w": 1.0}, "created_at": "x", "modified_at": "y", "app_id": "p", "user_id": "u", "metrics": {}, "concept_ids": []})
            )]),
            false,
            &[],
        );
        // Nested fields are named by path.
        check(
            json!([{"id": "a", "worker": {"user_ids": ["x"], "strategy": "DYNAMIC"}}]),
            json!([managed(
                json!({"id": "a", "worker": {"user_ids": ["y"], "strategy": "DYNAMIC"}})
            )]),
            false,
            &[("update", "a", &["worker.user_ids"], false)],
        );
    }

    #[test]
    fn fingerprints_ignore_number_form_and_key_order() {
        assert_eq!(
            fingerprint(&json!({"a": 90, "b": [1]})),
            fingerprint(&json!({"b": [1.0], "a": 90.0}))
        );
        assert_ne!(fingerprint(&json!({"a": 1})), fingerprint(&json!({"a": 2})));
    }

    #[test]
    fn prune_of_nothing_is_refused() {
        let options = Options {
            prune: true,
            allow_empty: false,
        };
        assert_eq!(diff(&[], &[], options), Err(DiffError::EmptyPrune));
    }
}
