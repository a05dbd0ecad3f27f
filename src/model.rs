//! The Task document: the one set of types behind the YAML files, the API's JSON and the CLI's
//! output. Owns field names, enums and (de)serialisation; must not do I/O or know about storage.
//!
//! [`TaskDoc`] is the raw document as written by a person or a client: every field optional,
//! nothing checked beyond types. [`Task`] is a document that passed [`crate::validate`]; only
//! that module can make one, so holding a `Task` means its invariants hold.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// An annotation task: one YAML file under `tasks/`, with the hosted Tasks API's field names.
// Field order here is the canonical key order of the files annotask writes. Field docs are
// what editors show on hover (through the JSON Schema), so they speak to the file's author.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "annotask task")]
pub struct TaskDoc {
    /// The task's id: letters, digits, `-` and `_`, at most 128 characters. Without it, the
    /// file name (without `.yaml`) is the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), pattern(r"^[A-Za-z0-9_-]+$"))]
    pub id: Option<String>,
    /// What workers do with each input.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub task_type: Option<TaskType>,
    /// A short name, shown in task lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the task is about, for the workers and reviewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who labels the inputs, and how the inputs are split between them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<Worker>,
    /// The concepts workers label; every task type but TYPE_NOT_SET needs at least one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("uniqueItems" = true))]
    pub concept_ids: Vec<String>,
    /// Which inputs to label. Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_source: Option<InputSource>,
    /// For video inputs: label one frame every this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_ms: Option<u32>,
    /// Who reviews the labels, and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    /// A user whose annotations are predictions that help the workers: each worker starts an
    /// input from them (docs/export.md, "AI assist").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_assistant: Option<AiAssistant>,
    /// When the assistant's predictions are shown, and when one is the input's final label
    /// without a worker; only with `ai_assistant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_assist_params: Option<AiAssistParams>,
    /// Where the task stands; TASK_IN_PROGRESS when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// How urgent the task is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Any JSON object, for your own use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// When the task was created (RFC 3339); annotask sets it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "rfc3339_out",
        deserialize_with = "rfc3339"
    )]
    #[schemars(schema_with = "timestamp_schema")]
    pub created_at: Option<Timestamp>,
    /// When the task last changed (RFC 3339); annotask sets it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "rfc3339_out",
        deserialize_with = "rfc3339"
    )]
    #[schemars(schema_with = "timestamp_schema")]
    pub modified_at: Option<Timestamp>,
}

/// An RFC 3339 timestamp, said in words when it is not one. jiff accepts offsets up to ±25:59,
/// which RFC 3339 (hours 00 to 23) and other readers of the file do not.
fn rfc3339<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    const EXAMPLE: &str = "not an RFC 3339 timestamp, e.g. 2026-11-29T10:00:00Z";
    let Some(text) = Option::<Cow<'de, str>>::deserialize(d)? else {
        return Ok(None);
    };
    let offset_hours = text
        .len()
        .checked_sub(6)
        .and_then(|i| text.get(i..))
        .filter(|tail| tail.starts_with(['+', '-']) && tail.as_bytes()[3] == b':')
        .and_then(|tail| tail[1..3].parse::<u32>().ok());
    if offset_hours.is_some_and(|h| h > 23) {
        return Err(de::Error::custom(format!(
            "{EXAMPLE}: the offset `{}` is out of range (at most ±23:59)",
            &text[text.len() - 6..]
        )));
    }
    text.parse()
        .map(Some)
        .map_err(|_| de::Error::custom(EXAMPLE))
}

/// Writes a timestamp as jiff does: RFC 3339, in UTC. Years 0 to 9999, every timestamp annotask
/// stamps or reads from a file in practice, skip jiff's general printer, which wrote a task's
/// two timestamps with a seventh of the instructions of the rest of its canonical JSON.
fn rfc3339_out<S: Serializer>(at: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    let Some(at) = at else {
        return s.serialize_none();
    };
    match utc_text(*at) {
        Some((text, len)) => {
            s.serialize_str(std::str::from_utf8(&text[..len]).expect("digits and marks"))
        }
        None => at.serialize(s),
    }
}

/// `at` as `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (the fraction with as many digits as it needs),
/// and the text's length, when its year is 0 to 9999.
fn utc_text(at: Timestamp) -> Option<([u8; 30], usize)> {
    let time = jiff::tz::Offset::UTC.to_datetime(at);
    let year = u32::try_from(time.year()).ok()?;
    let nanos = time.subsec_nanosecond() as u32;
    let mut text = *b"0000-00-00T00:00:00.000000000Z";
    let fields = [
        (0..4, year),
        (5..7, time.month() as u32),
        (8..10, time.day() as u32),
        (11..13, time.hour() as u32),
        (14..16, time.minute() as u32),
        (17..19, time.second() as u32),
        (20..29, nanos),
    ];
    for (digits, mut value) in fields {
        for digit in text[digits].iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    // Whole seconds have no fraction; any other drops the fraction's trailing zeros.
    let end = match nanos {
        0 => 19,
        _ => {
            29 - (1..9)
                .take_while(|i| nanos.is_multiple_of(10u32.pow(*i)))
                .count()
        }
    };
    text[end] = b'Z';
    Some((text, end + 1))
}

fn timestamp_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "format": "date-time" })
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Worker {
    /// FULL: every worker labels every input. PARTITIONED: each input goes to
    /// `workers_per_input` of the workers (see `partitioned_strategy_info`). Or DYNAMIC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<WorkerStrategy>,
    /// The workers' user ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("uniqueItems" = true))]
    pub user_ids: Vec<String>,
    /// How PARTITIONED splits the inputs; only with `strategy: PARTITIONED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitioned_strategy_info: Option<PartitionedStrategyInfo>,
    /// The hosted API's current form of `user_ids`: `[{user: {id: maria-lopez}}]`. Read into
    /// `user_ids`, which is what annotask writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<WorkerRef>,
}

/// A worker in the hosted API's current form: a user (the API's models and workflows as
/// workers are not served).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerRef {
    /// The user who works on the task.
    pub user: UserRef,
}

/// A user by id, as the hosted API's current forms name workers and reviewers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRef {
    /// The user's id.
    pub id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartitionedStrategyInfo {
    /// EVENLY splits the inputs equally; WEIGHTED by `weights`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub partition_type: Option<PartitionType>,
    /// How many workers label each input: from 1 to the number of workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub workers_per_input: Option<i32>,
    /// With WEIGHTED: each worker's share of the inputs, by user id. Weights need not add
    /// up to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Weights>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSource {
    /// ALL_INPUTS of the app, or the SAVED_SEARCH, DATASET or INPUT that `id` names.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub source_type: Option<InputSourceType>,
    /// The saved search, dataset or input id; not used with ALL_INPUTS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// NONE; MANUAL: reviewers check a sample of the inputs; CONSENSUS: inputs whose workers
    /// agree are approved without review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<ReviewStrategy>,
    /// The reviewers' user ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("uniqueItems" = true))]
    pub user_ids: Vec<String>,
    /// How much MANUAL review checks; only with `strategy: MANUAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_strategy_info: Option<ManualStrategyInfo>,
    /// When CONSENSUS approves an input; only with `strategy: CONSENSUS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consensus_strategy_info: Option<ConsensusStrategyInfo>,
    /// The hosted API's current form of `user_ids`: `[{id: sam-okafor}]`. Read into
    /// `user_ids`, which is what annotask writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualStrategyInfo {
    /// The fraction of inputs sent to review: more than 0, at most 1 (0.5 is half).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0, "maximum" = 1))]
    pub sample_percentage: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsensusStrategyInfo {
    /// How many workers must agree for an input to be approved without review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub approval_threshold: Option<u32>,
    /// The hosted API's current name for `approval_threshold`; read into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub approval_threshold_labelers: Option<u32>,
}

/// The task's AI assistant. The hosted API names a workflow whose predictions help; annotask
/// names a user whose annotations are the predictions (imported with `annotask import --as`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AiAssistant {
    /// The assistant: `{id: USER}`, the user whose annotations are the predictions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowRef>,
    /// The hosted API's deprecated form of `workflow.id`; read into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
}

/// The assistant by id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowRef {
    /// The user id whose annotations are the predictions.
    pub id: String,
}

/// How the assistant's predictions are used. A prediction's score is the lowest `value` of
/// its concepts (a classification's concepts, each region's concepts).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AiAssistParams {
    /// A prediction scored below this (0 to 1) is not shown to workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub min_threshold: Option<f64>,
    /// A prediction scored at or above this (0 to 1; 0 is off) is the input's final label
    /// while no worker has submitted it; at least `min_threshold`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub max_threshold: Option<f64>,
    /// The hosted API's concept relations; kept, not used by annotask.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub concept_relation_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskStatus {
    /// TASK_IN_PROGRESS, TASK_DONE, TASK_WONT_DO, TASK_FAILED or TASK_IDLE, or its number
    /// (54001 to 54006).
    pub code: TaskStatusCode,
    /// Why the task has this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Declares a wire enum whose variants are spelled exactly as the API spells them.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => stringify!($variant)),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(TaskType {
    TYPE_NOT_SET,
    CONCEPTS_CLASSIFICATION,
    BOUNDING_BOX_DETECTION,
    POLYGON_DETECTION,
});
wire_enum!(WorkerStrategy {
    WORKER_STRATEGY_NOT_SET,
    PARTITIONED,
    FULL,
    DYNAMIC,
});
wire_enum!(PartitionType {
    PARTITIONED_WORKER_STRATEGY_NOT_SET,
    EVENLY,
    WEIGHTED,
});
wire_enum!(InputSourceType {
    INPUT_SOURCE_TYPE_NOT_SET,
    ALL_INPUTS,
    SAVED_SEARCH,
    DATASET,
    INPUT,
});
wire_enum!(ReviewStrategy {
    TASK_REVIEW_STRATEGY_NOT_SET,
    NONE,
    MANUAL,
    CONSENSUS,
});
wire_enum!(Priority {
    TASK_PRIORITY_NOT_SET,
    LOW,
    MEDIUM,
    HIGH,
});

impl TaskType {
    /// Types whose workers label inputs with concepts, so they need `concept_ids`.
    pub fn labels_concepts(self) -> bool {
        !matches!(self, TaskType::TYPE_NOT_SET)
    }
}

/// The task statuses of the API's status code table. Written by name; read by name or number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatusCode {
    InProgress,
    Done,
    WontDo,
    Failed,
    Idle,
}

impl TaskStatusCode {
    pub const ALL: [TaskStatusCode; 5] = [
        Self::InProgress,
        Self::Done,
        Self::WontDo,
        Self::Failed,
        Self::Idle,
    ];
    /// What a task without a `status` is: work on it has not been stopped.
    pub const DEFAULT: TaskStatusCode = Self::InProgress;

    pub fn name(self) -> &'static str {
        match self {
            Self::InProgress => "TASK_IN_PROGRESS",
            Self::Done => "TASK_DONE",
            Self::WontDo => "TASK_WONT_DO",
            Self::Failed => "TASK_FAILED",
            Self::Idle => "TASK_IDLE",
        }
    }

    pub fn number(self) -> u32 {
        match self {
            Self::InProgress => 54001,
            Self::Done => 54002,
            Self::WontDo => 54003,
            Self::Failed => 54005,
            Self::Idle => 54006,
        }
    }
}

impl Serialize for TaskStatusCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TaskStatusCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CodeVisitor;
        const NAMES: &[&str] = &[
            "TASK_IN_PROGRESS",
            "TASK_DONE",
            "TASK_WONT_DO",
            "TASK_FAILED",
            "TASK_IDLE",
        ];
        impl Visitor<'_> for CodeVisitor {
            type Value = TaskStatusCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a task status name (TASK_DONE) or number (54002)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                TaskStatusCode::ALL
                    .into_iter()
                    .find(|c| c.name() == v)
                    .ok_or_else(|| E::unknown_variant(v, NAMES))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                TaskStatusCode::ALL
                    .into_iter()
                    .find(|c| u64::from(c.number()) == v)
                    .ok_or_else(|| E::custom(format_args!("{v} is not a task status code; expected one of 54001, 54002, 54003, 54005, 54006")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                }
            }
        }
        d.deserialize_any(CodeVisitor)
    }
}

impl JsonSchema for TaskStatusCode {
    fn schema_name() -> Cow<'static, str> {
        "TaskStatusCode".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = Self::ALL.iter().map(|c| c.name()).collect();
        let numbers: Vec<u32> = Self::ALL.iter().map(|c| c.number()).collect();
        json_schema!({
            "oneOf": [
                { "type": "string", "enum": names },
                { "type": "integer", "enum": numbers },
            ]
        })
    }
}

/// Worker weights by user id. Integral weights are written as integers (`90`, not `90.0`) so a
/// file keeps the spelling people use; duplicate user ids are an error, not a silent overwrite.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Weights(pub BTreeMap<String, f64>);

impl Serialize for Weights {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Weight(f64);
        impl Serialize for Weight {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
                if self.0.fract() == 0.0 && self.0.abs() < EXACT {
                    s.serialize_i64(self.0 as i64)
                } else {
                    s.serialize_f64(self.0)
                }
            }
        }
        s.collect_map(self.0.iter().map(|(k, v)| (k, Weight(*v))))
    }
}

impl<'de> Deserialize<'de> for Weights {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct WeightsVisitor;
        impl<'de> Visitor<'de> for WeightsVisitor {
            type Value = Weights;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from worker user id to weight")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Weights, A::Error> {
                let mut weights = BTreeMap::new();
                while let Some(user) = map.next_key::<String>()? {
                    if weights.contains_key(&user) {
                        return Err(de::Error::custom(format_args!("duplicate key `{user}`")));
                    }
                    let weight = map.next_value::<f64>()?;
                    weights.insert(user, weight);
                }
                Ok(Weights(weights))
            }
        }
        d.deserialize_map(WeightsVisitor)
    }
}

impl JsonSchema for Weights {
    fn schema_name() -> Cow<'static, str> {
        "Weights".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "additionalProperties": { "type": "number", "exclusiveMinimum": 0 }
        })
    }
}

/// Free-form JSON object (`google.protobuf.Struct`). Duplicate keys at any depth are an error.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Metadata(pub Map<String, Value>);

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match UniqueKeysValue.deserialize(d)? {
            Value::Object(map) => Ok(Metadata(map)),
            other => Err(de::Error::invalid_type(unexpected(&other), &"a map")),
        }
    }
}

impl JsonSchema for Metadata {
    fn schema_name() -> Cow<'static, str> {
        "Metadata".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "object" })
    }
}

fn unexpected(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("number"),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

/// Builds a JSON value like `serde_json::Value` does, but rejects duplicate map keys.
struct UniqueKeysValue;

impl<'de> DeserializeSeed<'de> for UniqueKeysValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeysValue {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(UniqueKeysValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let value = map.next_value_seed(UniqueKeysValue)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// A task whose document passed validation: it has a valid `id`, a `status`, and every rule of
/// [`crate::validate`] holds. Serialises as its document.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Task(TaskDoc);

impl Task {
    /// Only [`crate::validate`] may vouch for a document.
    pub(crate) fn vouched(doc: TaskDoc) -> Task {
        debug_assert!(doc.id.is_some() && doc.status.is_some());
        Task(doc)
    }

    pub fn id(&self) -> &str {
        self.0.id.as_deref().unwrap_or_default()
    }

    pub fn doc(&self) -> &TaskDoc {
        &self.0
    }

    pub fn into_doc(self) -> TaskDoc {
        self.0
    }

    pub fn status(&self) -> TaskStatusCode {
        self.0
            .status
            .as_ref()
            .map_or(TaskStatusCode::DEFAULT, |s| s.code)
    }

    pub fn worker_ids(&self) -> &[String] {
        self.0.worker.as_ref().map_or(&[], |w| &w.user_ids)
    }

    pub fn reviewer_ids(&self) -> &[String] {
        self.0.review.as_ref().map_or(&[], |r| &r.user_ids)
    }

    /// The assistant user, whose annotations are predictions (validation read the deprecated
    /// `workflow_id` into `workflow`).
    pub fn assistant(&self) -> Option<&str> {
        let assistant = self.0.ai_assistant.as_ref()?.workflow.as_ref()?;
        Some(assistant.id.as_str())
    }

    /// `ai_assist_params`' thresholds, `(min, max)`; an unset or 0 threshold is `None`.
    pub fn assist_thresholds(&self) -> (Option<f64>, Option<f64>) {
        let params = self.0.ai_assist_params.as_ref();
        let set = |v: Option<f64>| v.filter(|v| *v > 0.0);
        (
            set(params.and_then(|p| p.min_threshold)),
            set(params.and_then(|p| p.max_threshold)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written as jiff writes them, over the whole range jiff has: years 0 to 9999 by the
    /// fast path, the rest by jiff.
    #[test]
    fn timestamps_are_written_as_jiff_writes_them() {
        let check = |at: Timestamp| {
            let doc = TaskDoc {
                created_at: Some(at),
                ..TaskDoc::default()
            };
            let json = serde_json::to_value(&doc).expect("a task serialises");
            assert_eq!(json["created_at"], at.to_string(), "{}", at.as_second());
            let year = jiff::tz::Offset::UTC.to_datetime(at).year();
            assert_eq!(utc_text(at).is_some(), year >= 0);
        };
        // The seconds `Timestamp::new` takes.
        let (min, max) = (-377_705_023_201_i64, 253_402_207_200_i64);
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let second = min + (state % (max - min + 1) as u64) as i64;
            // Whole seconds, microseconds as annotask stamps them, and any nanoseconds.
            let nanos = (state >> 34) as i32 % 1_000_000_000;
            let nanos = [
                0,
                nanos / 1000 * 1000,
                nanos,
                nanos / 100_000_000 * 100_000_000,
            ][i % 4];
            check(Timestamp::new(second, nanos).unwrap_or(Timestamp::MAX));
        }
        for second in [min, -62_167_219_201, -62_167_219_200, 0, 1, max] {
            for nanos in [0, 1, 10, 500_000_000, 999_999_999] {
                check(Timestamp::new(second, nanos).unwrap_or(Timestamp::MAX));
            }
        }
    }
}
