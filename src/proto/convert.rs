//! The one mapping between the protobuf messages (`wire`) and the model: tasks both ways,
//! enums by their official numbers, `google.protobuf.Struct` and `Timestamp`, and API statuses.
//! Must not decide task rules: a decoded task goes through the same validation as JSON's, and
//! the deprecated and current forms of a field are both handed on for it to reconcile.
//!
//! Protobuf has no "absent" for scalars: an empty string, a zero and an enum's `*_NOT_SET` (0)
//! all read as a field not sent, and a field the model does not have is not sent.

use jiff::Timestamp;
use prost_types::value::Kind;
use serde_json::{Map, Number, Value};

use serde_json::value::RawValue;

use crate::api::{
    AnnotationOut, AnnotationQuery, ApiStatus, AssignmentAction, AssignmentRef, CountPerUser,
    PostedAnnotation, PutTaskAssignments, ReviewConfig, ReviewStartConfig, SubmitConfig,
    TaskAssignment, TaskMetrics, UserRef as ApiUserRef, WorkerRef as ApiWorkerRef,
};
use crate::model::{
    AiAssistParams, AiAssistant, ConsensusStrategyInfo, InputSource, InputSourceType,
    ManualStrategyInfo, Metadata, PartitionType, PartitionedStrategyInfo, Priority, Review,
    ReviewStrategy, TaskDoc, TaskStatus, TaskStatusCode, TaskType, UserRef, Weights, Worker,
    WorkerRef, WorkerStrategy, WorkflowRef,
};
use crate::validate::Diagnostic;
use crate::work::annotation;

use super::wire;

/// Each model enum and its official numbers (`grpc-wire.md`, Enums), both ways.
macro_rules! numbered {
    ($ty:ident, $to:ident, $from:ident { $($variant:ident = $n:literal),+ $(,)? }) => {
        fn $to(v: $ty) -> i32 {
            match v { $($ty::$variant => $n),+ }
        }
        fn $from(n: i32) -> Option<$ty> {
            match n { $($n => Some($ty::$variant),)+ _ => None }
        }
    };
}

numbered!(TaskType, task_type_number, task_type {
    TYPE_NOT_SET = 0, CONCEPTS_CLASSIFICATION = 1, BOUNDING_BOX_DETECTION = 2, POLYGON_DETECTION = 3,
});
numbered!(WorkerStrategy, worker_strategy_number, worker_strategy {
    WORKER_STRATEGY_NOT_SET = 0, PARTITIONED = 2, FULL = 3, DYNAMIC = 4,
});
numbered!(PartitionType, partition_type_number, partition_type {
    PARTITIONED_WORKER_STRATEGY_NOT_SET = 0, EVENLY = 1, WEIGHTED = 2,
});
numbered!(InputSourceType, input_source_type_number, input_source_type {
    INPUT_SOURCE_TYPE_NOT_SET = 0, ALL_INPUTS = 1, SAVED_SEARCH = 2, DATASET = 3, INPUT = 4,
});
numbered!(ReviewStrategy, review_strategy_number, review_strategy {
    TASK_REVIEW_STRATEGY_NOT_SET = 0, NONE = 1, MANUAL = 2, CONSENSUS = 3,
});
numbered!(Priority, priority_number, priority {
    TASK_PRIORITY_NOT_SET = 0, LOW = 1, MEDIUM = 2, HIGH = 3,
});

/// One user's counts; protobuf's counters are 32-bit, so a count beyond them saturates.
pub fn count_to_wire(count: &CountPerUser) -> wire::TaskStatusCountPerUser {
    let n = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    wire::TaskStatusCountPerUser {
        user_id: count.worker.user.id.clone(),
        pending: n(count.pending),
        awaiting_review: n(count.awaiting_review),
        success: n(count.success),
        review_denied: n(count.review_denied),
        awaiting_consensus_review: n(count.awaiting_consensus_review),
        worker: Some(wire::Worker {
            user: Some(wire::User {
                id: count.worker.user.id.clone(),
            }),
        }),
    }
}

/// A task with its metrics, as `additional_fields` asks for them.
pub fn task_with_metrics_to_wire(doc: &TaskDoc, metrics: &TaskMetrics) -> wire::Task {
    let TaskMetrics {
        input_source,
        work,
        review,
    } = metrics;
    wire::Task {
        metrics: Some(wire::TaskMetrics {
            work: Some(wire::TaskWorkMetrics {
                inputs_count_estimated: work.inputs_count_estimated,
                inputs_percent_estimated: work.inputs_percent_estimated,
            }),
            review: Some(wire::TaskReviewMetrics {
                inputs_count_estimated: review.inputs_count_estimated,
                inputs_percent_estimated: review.inputs_percent_estimated,
                inputs_count_estimated_per_reviewer: review
                    .inputs_count_estimated_per_reviewer
                    .clone(),
                inputs_reviewable_count_estimated_per_reviewer: review
                    .inputs_reviewable_count_estimated_per_reviewer
                    .clone(),
                inputs_percent_estimated_per_reviewer: review
                    .inputs_percent_estimated_per_reviewer
                    .clone(),
            }),
            input_source: Some(wire::TaskInputSourceMetrics {
                inputs_count_estimated: input_source.inputs_count_estimated,
            }),
        }),
        ..task_to_wire(doc.clone())
    }
}

pub fn status(status: ApiStatus) -> wire::Status {
    wire::Status {
        code: status.code as i32,
        description: status.description,
        details: status.details.unwrap_or_default(),
    }
}

/// A task as the answers carry it: the document's fields, in the forms the JSON face's answers
/// and the task files use (`worker.user_ids`, `review.user_ids`, `approval_threshold`), so the
/// two faces answer with the same task.
pub fn task_to_wire(doc: TaskDoc) -> wire::Task {
    wire::Task {
        id: doc.id.unwrap_or_default(),
        created_at: doc.created_at.map(timestamp_to_wire),
        modified_at: doc.modified_at.map(timestamp_to_wire),
        r#type: doc.task_type.map_or(0, task_type_number),
        description: doc.description.unwrap_or_default(),
        worker: doc.worker.map(|w| wire::TaskWorker {
            strategy: w.strategy.map_or(0, worker_strategy_number),
            user_ids: w.user_ids,
            partitioned_strategy_info: w.partitioned_strategy_info.map(|p| {
                wire::PartitionedStrategyInfo {
                    r#type: p.partition_type.map_or(0, partition_type_number),
                    workers_per_input: p.workers_per_input.unwrap_or_default(),
                    weights: p.weights.map(|w| prost_types::Struct {
                        fields: w
                            .0
                            .into_iter()
                            .map(|(user, weight)| (user, number_value(weight)))
                            .collect(),
                    }),
                }
            }),
            workers: Vec::new(),
        }),
        concept_ids: doc.concept_ids,
        input_source: doc.input_source.map(|s| wire::TaskInputSource {
            r#type: s.source_type.map_or(0, input_source_type_number),
            id: s.id.unwrap_or_default(),
        }),
        sample_ms: doc.sample_ms.unwrap_or_default(),
        review: doc.review.map(|r| wire::TaskReview {
            strategy: r.strategy.map_or(0, review_strategy_number),
            user_ids: r.user_ids,
            manual_strategy_info: r.manual_strategy_info.map(|m| wire::ManualStrategyInfo {
                sample_percentage: m.sample_percentage.unwrap_or_default() as f32,
            }),
            consensus_strategy_info: r.consensus_strategy_info.map(|c| {
                wire::ConsensusStrategyInfo {
                    approval_threshold: c.approval_threshold.unwrap_or_default(),
                    approval_threshold_labelers: 0,
                }
            }),
            users: Vec::new(),
        }),
        status: doc.status.map(|s| wire::Status {
            code: s.code.number() as i32,
            description: s.description.unwrap_or_default(),
            details: String::new(),
        }),
        name: doc.name.unwrap_or_default(),
        ai_assistant: doc.ai_assistant.map(|a| wire::TaskAiAssistant {
            workflow_id: a.workflow_id.unwrap_or_default(),
            workflow: a.workflow.map(|w| wire::Workflow { id: w.id }),
        }),
        ai_assist_params: doc.ai_assist_params.map(|p| wire::AiAssistParameters {
            min_threshold: p.min_threshold.unwrap_or_default() as f32,
            max_threshold: p.max_threshold.unwrap_or_default() as f32,
            concept_relation_ids: p.concept_relation_ids,
        }),
        metrics: None,
        priority: doc.priority.map_or(0, priority_number),
        metadata: doc.metadata.as_ref().map(|m| struct_to_wire(&m.0)),
    }
}

/// A task as a request sends it, or the first field that cannot be one, named by its path
/// under `at` (`tasks[2]`).
pub fn task_from_wire(task: wire::Task, at: &str) -> Result<TaskDoc, Diagnostic> {
    let field = |name: &str| format!("{at}.{name}");
    let worker = task
        .worker
        .map(|w| worker_from_wire(w, &field("worker")))
        .transpose()?;
    let review = task
        .review
        .map(|r| review_from_wire(r, &field("review")))
        .transpose()?;
    let status = match task.status {
        Some(s) if s.code != 0 => Some(TaskStatus {
            code: TaskStatusCode::ALL
                .into_iter()
                .find(|c| c.number() as i32 == s.code)
                .ok_or_else(|| {
                    Diagnostic::error(
                        field("status.code"),
                        format!(
                            "{} is not a task status code; expected one of 54001, 54002, 54003, 54005, 54006",
                            s.code
                        ),
                    )
                })?,
            description: non_empty(s.description),
        }),
        _ => None,
    };
    let metadata = task
        .metadata
        .map(|m| struct_from_wire(m).map(Metadata))
        .transpose()
        .map_err(|e| Diagnostic::error(field("metadata"), e))?;
    Ok(TaskDoc {
        id: non_empty(task.id),
        task_type: enum_from_wire(task.r#type, task_type, &field("type"))?,
        name: non_empty(task.name),
        description: non_empty(task.description),
        worker,
        concept_ids: task.concept_ids,
        input_source: task
            .input_source
            .map(|s| {
                Ok::<_, Diagnostic>(InputSource {
                    source_type: enum_from_wire(
                        s.r#type,
                        input_source_type,
                        &field("input_source.type"),
                    )?,
                    id: non_empty(s.id),
                })
            })
            .transpose()?,
        sample_ms: (task.sample_ms != 0).then_some(task.sample_ms),
        review,
        ai_assistant: task.ai_assistant.map(|a| AiAssistant {
            workflow: a.workflow.map(|w| WorkflowRef { id: w.id }),
            workflow_id: non_empty(a.workflow_id),
        }),
        ai_assist_params: task.ai_assist_params.map(|p| AiAssistParams {
            min_threshold: (p.min_threshold != 0.0).then(|| widen(p.min_threshold)),
            max_threshold: (p.max_threshold != 0.0).then(|| widen(p.max_threshold)),
            concept_relation_ids: p.concept_relation_ids,
        }),
        status,
        priority: enum_from_wire(task.priority, priority, &field("priority"))?,
        metadata,
        created_at: task
            .created_at
            .map(|t| timestamp_from_wire(t, &field("created_at")))
            .transpose()?,
        modified_at: task
            .modified_at
            .map(|t| timestamp_from_wire(t, &field("modified_at")))
            .transpose()?,
    })
}

fn worker_from_wire(w: wire::TaskWorker, at: &str) -> Result<Worker, Diagnostic> {
    let workers = w
        .workers
        .into_iter()
        .enumerate()
        .map(|(i, worker)| match worker.user {
            Some(user) => Ok(WorkerRef {
                user: UserRef { id: user.id },
            }),
            None => Err(Diagnostic::error(
                format!("{at}.workers[{i}]"),
                "only users can be workers in annotask; models and workflows are not served",
            )),
        })
        .collect::<Result<_, _>>()?;
    let partitioned_strategy_info = w
        .partitioned_strategy_info
        .map(|p| {
            let at = format!("{at}.partitioned_strategy_info");
            let weights = p
                .weights
                .map(|s| {
                    s.fields
                        .into_iter()
                        .map(|(user, v)| match v.kind {
                            Some(Kind::NumberValue(n)) => Ok((user, n)),
                            _ => Err(Diagnostic::error(
                                format!("{at}.weights.{user}"),
                                "a weight must be a number",
                            )),
                        })
                        .collect::<Result<_, _>>()
                        .map(Weights)
                })
                .transpose()?;
            Ok::<_, Diagnostic>(PartitionedStrategyInfo {
                partition_type: enum_from_wire(p.r#type, partition_type, &format!("{at}.type"))?,
                workers_per_input: (p.workers_per_input != 0).then_some(p.workers_per_input),
                weights,
            })
        })
        .transpose()?;
    Ok(Worker {
        strategy: enum_from_wire(w.strategy, worker_strategy, &format!("{at}.strategy"))?,
        user_ids: w.user_ids,
        partitioned_strategy_info,
        workers,
    })
}

fn review_from_wire(r: wire::TaskReview, at: &str) -> Result<Review, Diagnostic> {
    Ok(Review {
        strategy: enum_from_wire(r.strategy, review_strategy, &format!("{at}.strategy"))?,
        user_ids: r.user_ids,
        manual_strategy_info: r.manual_strategy_info.map(|m| ManualStrategyInfo {
            sample_percentage: (m.sample_percentage != 0.0).then(|| widen(m.sample_percentage)),
        }),
        consensus_strategy_info: r.consensus_strategy_info.map(|c| ConsensusStrategyInfo {
            approval_threshold: (c.approval_threshold != 0).then_some(c.approval_threshold),
            approval_threshold_labelers: (c.approval_threshold_labelers != 0)
                .then_some(c.approval_threshold_labelers),
        }),
        users: r.users.into_iter().map(|u| UserRef { id: u.id }).collect(),
    })
}

// ---- the workflow's messages (issue 12) ----

/// `PutTaskAssignmentsRequestAction` by its number; requests only come in, so there is no way
/// back.
fn assignment_action(n: i32) -> Option<AssignmentAction> {
    Some(match n {
        1 => AssignmentAction::LABEL_START,
        2 => AssignmentAction::LABEL_SUBMIT,
        10 => AssignmentAction::REVIEW_START,
        11 => AssignmentAction::REVIEW_APPROVE,
        12 => AssignmentAction::REVIEW_REQUEST_CHANGES,
        13 => AssignmentAction::REVIEW_REJECT,
        // annotask's extension, outside the hosted API's values.
        100 => AssignmentAction::LABEL_WITHDRAW,
        _ => return None,
    })
}

/// PutTaskAssignments as the JSON face reads it.
pub fn put_assignments_from_wire(
    r: wire::PutTaskAssignmentsRequest,
) -> Result<PutTaskAssignments, Diagnostic> {
    let refs = |config: &wire::AssignmentsConfig| {
        config
            .task_assignments
            .iter()
            .map(|a| AssignmentRef { id: a.id.clone() })
            .collect()
    };
    let workers = |workers: &[wire::Worker]| {
        workers
            .iter()
            .filter_map(|w| w.user.as_ref())
            .map(|u| ApiWorkerRef {
                user: ApiUserRef { id: u.id.clone() },
            })
            .collect()
    };
    let review = |config: Option<wire::AssignmentsConfig>| {
        config.map(|c| ReviewConfig {
            task_assignments: refs(&c),
            workers: workers(&c.workers),
            // The wire message has no comment: a JSON-only extension.
            comment: None,
        })
    };
    Ok(PutTaskAssignments {
        task_id: non_empty(r.task_id),
        action: enum_from_wire(r.action, assignment_action, "action")?,
        input_id: non_empty(r.input_id),
        label_submit_config: r.label_submit_config.map(|c| SubmitConfig {
            task_assignments: refs(&c),
        }),
        review_start_config: r.review_start_config.map(|c| ReviewStartConfig {
            workers: workers(&c.workers),
        }),
        review_approve_config: review(r.review_approve_config),
        review_request_changes_config: review(r.review_request_changes_config),
        review_reject_config: review(r.review_reject_config),
        user_app_id: None,
    })
}

pub fn assignment_to_wire(a: &TaskAssignment) -> wire::TaskAssignment {
    wire::TaskAssignment {
        id: a.id.clone(),
        worker: Some(user_worker(&a.worker.user.id)),
        input: Some(input_to_wire(&a.input)),
        status: Some(status(a.status.clone())),
    }
}

fn user_worker(id: &str) -> wire::Worker {
    wire::Worker {
        user: Some(wire::User { id: id.to_owned() }),
    }
}

/// An Input as its dataset holds it (JSON): its id, image URL, concepts and metadata, the
/// fields annotask's messages declare.
pub fn input_to_wire(input: &RawValue) -> wire::Input {
    let value: Value = serde_json::from_str(input.get()).unwrap_or_default();
    let data = &value["data"];
    let concepts = data["concepts"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| wire::Concept {
                    id: c["id"].as_str().unwrap_or_default().to_owned(),
                    name: c["name"].as_str().unwrap_or_default().to_owned(),
                    value: c["value"].as_f64().unwrap_or(1.0) as f32,
                })
                .collect()
        })
        .unwrap_or_default();
    wire::Input {
        id: value["id"].as_str().unwrap_or_default().to_owned(),
        data: Some(wire::Data {
            image: data["image"]["url"].as_str().map(|url| wire::Image {
                url: url.to_owned(),
            }),
            concepts,
            metadata: data["metadata"].as_object().map(struct_to_wire),
            regions: Vec::new(),
        }),
    }
}

pub fn annotation_to_wire(a: &AnnotationOut) -> wire::Annotation {
    wire::Annotation {
        id: a.annotation.id.clone(),
        input_id: a.annotation.input_id.clone(),
        data: Some(data_to_wire(&a.annotation.data)),
        status: Some(status(a.status.clone())),
        created_at: Some(timestamp_to_wire(a.created_at)),
        modified_at: Some(timestamp_to_wire(a.modified_at)),
        annotation_info: a.annotation.annotation_info.as_ref().map(struct_to_wire),
        user_id: a.user_id.clone(),
        task_id: a.task_id.clone(),
        worker: Some(user_worker(&a.worker.user.id)),
    }
}

fn data_to_wire(d: &annotation::Data) -> wire::Data {
    wire::Data {
        image: None,
        concepts: d
            .concepts
            .iter()
            .map(|c| wire::Concept {
                id: c.id.clone(),
                name: c.name.clone().unwrap_or_default(),
                value: c.value,
            })
            .collect(),
        metadata: None,
        regions: d
            .regions
            .iter()
            .map(|r| wire::Region {
                id: r.id.clone(),
                region_info: r.region_info.as_ref().map(|info| wire::RegionInfo {
                    bounding_box: info.bounding_box.map(|b| wire::BoundingBox {
                        top_row: b.top_row,
                        left_col: b.left_col,
                        bottom_row: b.bottom_row,
                        right_col: b.right_col,
                    }),
                    polygon: info.polygon.as_ref().map(|p| wire::Polygon {
                        points: p
                            .points
                            .iter()
                            .map(|pt| wire::Point {
                                row: pt.row,
                                col: pt.col,
                            })
                            .collect(),
                    }),
                }),
                data: (!r.data.is_empty()).then(|| data_to_wire(&r.data)),
            })
            .collect(),
    }
}

fn data_from_wire(d: wire::Data) -> annotation::Data {
    annotation::Data {
        concepts: d
            .concepts
            .into_iter()
            .map(|c| annotation::Concept {
                id: c.id,
                name: non_empty(c.name),
                value: c.value,
            })
            .collect(),
        regions: d
            .regions
            .into_iter()
            .map(|r| annotation::Region {
                id: r.id,
                region_info: r.region_info.map(|info| annotation::RegionInfo {
                    bounding_box: info.bounding_box.map(|b| annotation::BoundingBox {
                        top_row: b.top_row,
                        left_col: b.left_col,
                        bottom_row: b.bottom_row,
                        right_col: b.right_col,
                    }),
                    polygon: info.polygon.map(|p| annotation::Polygon {
                        points: p
                            .points
                            .into_iter()
                            .map(|pt| annotation::Point {
                                row: pt.row,
                                col: pt.col,
                            })
                            .collect(),
                    }),
                }),
                data: r.data.map(data_from_wire).unwrap_or_default(),
            })
            .collect(),
    }
}

/// A posted annotation: its task (field 19) and the document. `at` names it in the request.
pub fn annotation_from_wire(a: wire::Annotation, at: &str) -> Result<PostedAnnotation, Diagnostic> {
    let annotation_info = a
        .annotation_info
        .map(struct_from_wire)
        .transpose()
        .map_err(|e| Diagnostic::error(format!("{at}.annotation_info"), e))?;
    Ok(PostedAnnotation {
        task_id: a.task_id,
        annotation: annotation::Annotation {
            id: a.id,
            input_id: a.input_id,
            data: a.data.map(data_from_wire).unwrap_or_default(),
            annotation_info,
        },
    })
}

/// ListAnnotations' filters, as the JSON face reads them from the query string.
pub fn annotation_query_from_wire(r: wire::ListAnnotationsRequest) -> AnnotationQuery {
    AnnotationQuery {
        task_id: non_empty(r.task_id),
        ids: r.ids,
        user_ids: r.user_ids,
        input_ids: r.input_ids,
        statuses: r.statuses.iter().map(|s| s.code.max(0) as u32).collect(),
        page: r.page.max(1),
        per_page: r.per_page,
    }
}

/// The number a person wrote as a protobuf `float`: 0.1f32 is 0.100000001490116…, which
/// would not read back as the 0.1 sent; its shortest decimal form does.
fn widen(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}

fn enum_from_wire<T>(
    n: i32,
    known: fn(i32) -> Option<T>,
    at: &str,
) -> Result<Option<T>, Diagnostic> {
    if n == 0 {
        return Ok(None);
    }
    known(n)
        .map(Some)
        .ok_or_else(|| Diagnostic::error(at, format!("{n} is not a known value")))
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn timestamp_to_wire(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.as_second(),
        nanos: t.subsec_nanosecond(),
    }
}

fn timestamp_from_wire(t: prost_types::Timestamp, at: &str) -> Result<Timestamp, Diagnostic> {
    Timestamp::new(t.seconds, t.nanos)
        .map_err(|e| Diagnostic::error(at, format!("not a valid timestamp: {e}")))
}

fn number_value(n: f64) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::NumberValue(n)),
    }
}

fn struct_to_wire(map: &Map<String, Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: map
            .iter()
            .map(|(k, v)| (k.clone(), value_to_wire(v)))
            .collect(),
    }
}

fn value_to_wire(v: &Value) -> prost_types::Value {
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(value_to_wire).collect(),
        }),
        Value::Object(map) => Kind::StructValue(struct_to_wire(map)),
    };
    prost_types::Value { kind: Some(kind) }
}

fn struct_from_wire(s: prost_types::Struct) -> Result<Map<String, Value>, String> {
    s.fields
        .into_iter()
        .map(|(k, v)| Ok((k, value_from_wire(v)?)))
        .collect()
}

fn value_from_wire(v: prost_types::Value) -> Result<Value, String> {
    Ok(match v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        // JSON has no NaN or infinity; an integral number reads back as the integer sent.
        Some(Kind::NumberValue(n)) if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 => {
            Value::Number((n as i64).into())
        }
        Some(Kind::NumberValue(n)) => Value::Number(
            Number::from_f64(n).ok_or_else(|| format!("{n} is not a number JSON can hold"))?,
        ),
        Some(Kind::StringValue(s)) => Value::String(s),
        Some(Kind::ListValue(l)) => Value::Array(
            l.values
                .into_iter()
                .map(value_from_wire)
                .collect::<Result<_, _>>()?,
        ),
        Some(Kind::StructValue(s)) => Value::Object(struct_from_wire(s)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field the model has survives the trip through protobuf.
    #[test]
    fn round_trip() {
        let doc: TaskDoc = serde_json::from_value(serde_json::json!({
            "id": "t1", "type": "BOUNDING_BOX_DETECTION", "name": "n", "description": "d",
            "worker": {"strategy": "PARTITIONED", "user_ids": ["a", "b"],
                "partitioned_strategy_info": {"type": "WEIGHTED", "workers_per_input": 1,
                    "weights": {"a": 90, "b": 10.5}}},
            "concept_ids": ["c"], "input_source": {"type": "DATASET", "id": "ds"},
            "sample_ms": 1000,
            "review": {"strategy": "MANUAL", "user_ids": ["r"],
                "manual_strategy_info": {"sample_percentage": 0.1}},
            "ai_assistant": {"workflow": {"id": "model-v1"}, "workflow_id": "model-v1"},
            "ai_assist_params": {"min_threshold": 0.3, "max_threshold": 0.95,
                "concept_relation_ids": ["rel"]},
            "status": {"code": "TASK_DONE", "description": "why"}, "priority": "HIGH",
            "metadata": {"k": [1, 2.5, "s", null, true, {"x": {}}]},
            "created_at": "2026-11-29T10:00:00.123456Z", "modified_at": "2026-11-29T10:00:01Z"
        }))
        .unwrap();
        assert_eq!(
            task_from_wire(task_to_wire(doc.clone()), "tasks[0]").unwrap(),
            doc
        );
    }

    #[test]
    fn refuses() {
        let bad = |task: wire::Task| task_from_wire(task, "tasks[1]").unwrap_err().field;
        let task = wire::Task {
            r#type: 9,
            ..Default::default()
        };
        assert_eq!(bad(task), "tasks[1].type");
        let task = wire::Task {
            status: Some(wire::Status {
                code: 10000,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(bad(task), "tasks[1].status.code");
        let task = wire::Task {
            worker: Some(wire::TaskWorker {
                workers: vec![wire::Worker { user: None }],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(bad(task), "tasks[1].worker.workers[0]");
    }
}
