//! Query strings: ListTasks' filters and pages, and the keys every route tolerates. Owns which
//! keys a route accepts and how their values are read; must not touch the index.
//!
//! A key a route does not know is refused with 400 rather than ignored: a misspelt filter
//! (`worker_user_id=maria`) that silently listed every task would be worse than an error.

use std::borrow::Cow;

use crate::api::{AnnotationQuery, DEFAULT_PER_PAGE, MAX_PER_PAGE, asks_for_metrics};
use crate::store::ListQuery;
use crate::validate::did_you_mean;

use super::reply::Failure;

/// Keys every route accepts. The official client flattens `user_app_id` into the query of its
/// GET requests; annotask serves one app, so which one is asked for does not matter.
/// `additional_fields` asks for server-computed extras: GetTask and ListTasks add `metrics`
/// for `all` or a `metrics` path ([`wants_metrics`]); other routes have none to add.
const TOLERATED: [&str; 3] = [
    "user_app_id.user_id",
    "user_app_id.app_id",
    "additional_fields",
];

/// ListTasks keys of the hosted API that annotask does not implement.
const UNSUPPORTED: [&str; 5] = [
    "input_source_type",
    "input_source_ids",
    "label_order_ids",
    "including_label_order_tasks",
    "worker_ids",
];

const LIST_KEYS: [&str; 6] = [
    "page",
    "per_page",
    "worker_user_ids",
    "review_user_ids",
    "ids",
    // The current form of `worker_user_ids`: a repeated WorkerIDSet, whose `user_id` a query
    // string names the way grpc-gateway flattens fields.
    "worker_ids.user_id",
];

/// A decoded `key=value` of a query string.
type Pair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// The pairs of a query string, refusing any key that is neither `known` nor tolerated.
fn pairs<'a>(raw: Option<&'a str>, known: &[&str]) -> Result<Vec<Pair<'a>>, Failure> {
    let pairs: Vec<_> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).collect();
    for (key, _) in &pairs {
        if known.contains(&key.as_ref()) || TOLERATED.contains(&key.as_ref()) {
            continue;
        }
        if UNSUPPORTED.contains(&key.as_ref()) {
            return Err(Failure::bad_request(format!(
                "query parameter `{key}` is not supported by annotask"
            )));
        }
        let hint = match did_you_mean(key, known.iter().copied()) {
            Some(name) => format!("did you mean `{name}`?"),
            None if known.is_empty() => "this request takes no query parameters".to_owned(),
            None => format!("this request takes {}", known.join(", ")),
        };
        return Err(Failure::bad_request(format!(
            "unknown query parameter `{key}` ({hint})"
        )));
    }
    Ok(pairs)
}

/// The export route's `format` (coco, yolo, voc, csv, jsonl), required.
pub fn export_format(raw: Option<&str>) -> Result<crate::export::Format, Failure> {
    use crate::export::Format;
    let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
    let pairs = pairs(raw, &["format"])?;
    let value = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v);
    let Some(value) = value else {
        return Err(Failure::bad_request(format!(
            "query parameter `format` is required: one of {}",
            names.join(", ")
        )));
    };
    Format::parse(value).ok_or_else(|| {
        Failure::bad_request(format!(
            "`format={value}` is no export format: one of {}",
            names.join(", ")
        ))
    })
}

/// Whether `additional_fields` asks for a task's metrics: `all`, or a path under `metrics`.
pub fn wants_metrics(raw: Option<&str>) -> bool {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .any(|(key, value)| key == "additional_fields" && asks_for_metrics(value.split(',')))
}

/// GetTaskInputCount's query: `user_ids` (any of; none: every worker).
pub fn user_ids(raw: Option<&str>) -> Result<Vec<String>, Failure> {
    Ok(pairs(raw, &["user_ids"])?
        .into_iter()
        .filter(|(key, _)| key == "user_ids")
        .map(|(_, value)| value.into_owned())
        .collect())
}

/// Refuses a query string with keys the route does not take.
pub fn none_expected(raw: Option<&str>) -> Result<(), Failure> {
    pairs(raw, &[]).map(drop)
}

/// ListTasks' query: repeated keys add to a filter (`worker_user_ids=a&worker_user_ids=b`).
pub fn list(raw: Option<&str>) -> Result<ListQuery, Failure> {
    let mut query = ListQuery {
        page: 1,
        per_page: DEFAULT_PER_PAGE,
        ..ListQuery::default()
    };
    for (key, value) in pairs(raw, &LIST_KEYS)? {
        match key.as_ref() {
            "page" => query.page = number(&key, &value, 1, u32::MAX)?,
            "per_page" => query.per_page = number(&key, &value, 1, MAX_PER_PAGE)?,
            "worker_user_ids" | "worker_ids.user_id" => {
                query.worker_user_ids.push(value.into_owned())
            }
            "review_user_ids" => query.review_user_ids.push(value.into_owned()),
            "ids" => query.ids.push(value.into_owned()),
            _ => {}
        }
    }
    Ok(query)
}

const ANNOTATION_KEYS: [&str; 8] = [
    "page",
    "per_page",
    "task_id",
    "user_ids",
    "input_ids",
    "ids",
    "statuses",
    // A repeated Status, as grpc-gateway flattens its `code`.
    "statuses.code",
];

/// ListAnnotations' query: repeated keys add to a filter; statuses are codes.
pub fn annotations(raw: Option<&str>) -> Result<AnnotationQuery, Failure> {
    let mut query = AnnotationQuery {
        page: 1,
        per_page: DEFAULT_PER_PAGE,
        ..AnnotationQuery::default()
    };
    for (key, value) in pairs(raw, &ANNOTATION_KEYS)? {
        match key.as_ref() {
            "page" => query.page = number(&key, &value, 1, u32::MAX)?,
            "per_page" => query.per_page = number(&key, &value, 1, MAX_PER_PAGE)?,
            "task_id" => query.task_id = Some(value.into_owned()),
            "user_ids" => query.user_ids.push(value.into_owned()),
            "input_ids" => query.input_ids.push(value.into_owned()),
            "ids" => query.ids.push(value.into_owned()),
            "statuses" | "statuses.code" => query.statuses.push(number(&key, &value, 0, u32::MAX)?),
            _ => {}
        }
    }
    Ok(query)
}

fn number(key: &str, value: &str, min: u32, max: u32) -> Result<u32, Failure> {
    match value.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(Failure::bad_request(format!(
            "{key} is `{value}`; it must be a whole number from {min} to {max}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        let q = list(Some(
            "page=2&per_page=10&worker_user_ids=u1&worker_user_ids=u%202&worker_ids.user_id=u3&review_user_ids=r&ids=a&user_app_id.app_id=x",
        ))
        .unwrap();
        assert_eq!((q.page, q.per_page), (2, 10));
        assert_eq!(q.worker_user_ids, ["u1", "u 2", "u3"]);
        assert_eq!(q.review_user_ids, ["r"]);
        assert_eq!(q.ids, ["a"]);
        let q = list(None).unwrap();
        assert_eq!((q.page, q.per_page), (1, DEFAULT_PER_PAGE));
    }

    #[test]
    fn refuses() {
        for raw in [
            "page=0",
            "page=x",
            "per_page=1001",
            "per_page=-1",
            "worker_user_id=a",
            "input_source_type=DATASET",
        ] {
            assert!(list(Some(raw)).is_err(), "{raw}");
        }
        assert!(none_expected(Some("user_app_id.user_id=me")).is_ok());
        assert!(wants_metrics(Some("additional_fields=all")));
        assert!(wants_metrics(Some("additional_fields=metrics.work")));
        assert!(!wants_metrics(Some("additional_fields=stars")));
        assert!(!wants_metrics(None));
        assert_eq!(user_ids(Some("user_ids=a&user_ids=b")).unwrap(), ["a", "b"]);
        assert!(user_ids(Some("user_id=a")).is_err());
        assert!(none_expected(Some("page=1")).is_err());
    }
}
