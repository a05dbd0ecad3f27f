//! The rules a task document must follow, turned into diagnostics. Owns the [`Diagnostic`] type
//! and every rule's wording; must not do I/O. Diagnostics name a field path; [`crate::yaml`]
//! turns paths into line and column, because only it has seen the text.

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;

use crate::model::{
    InputSourceType, PartitionType, ReviewStrategy, Task, TaskDoc, TaskStatus, TaskStatusCode,
    WorkerStrategy,
};

/// Ids name files (`tasks/<id>.yaml`) and URL segments, so they are kept to a set of characters
/// that can never leave the tasks folder or need escaping.
pub const MAX_ID_LEN: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A 1-based position in a file's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Location {
    pub line: u32,
    pub column: u32,
}

/// One finding about one document. `field` is a path such as `worker.user_ids[1]` or
/// `worker.partitioned_strategy_info.weights.bob`; empty for the document as a whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Diagnostic {
    pub fn error(field: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            field: field.into(),
            message: message.into(),
            hint: None,
            location: None,
        }
    }

    pub fn warning(field: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(field, message)
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn at(mut self, location: Location) -> Diagnostic {
        self.location = Some(location);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The diagnostics of one source: a file (`tasks/a.yaml`) or a request body (`-`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub file: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The first problem with `id` as a task id, if any.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("id is empty".into());
    }
    if id.len() > MAX_ID_LEN {
        return Err(format!(
            "id is {} characters long; at most {MAX_ID_LEN} are allowed",
            id.len()
        ));
    }
    match id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        Some(c) => Err(format!(
            "id `{id}` contains {c:?}; ids use only letters, digits, `-` and `_`"
        )),
        None => Ok(()),
    }
}

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&word, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Checks a document against every rule. `default_id` is the id a document without an `id` key
/// gets (its file name). Returns the task when there is no error, and all diagnostics.
pub fn validate(mut doc: TaskDoc, default_id: Option<&str>) -> (Option<Task>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    match (&doc.id, default_id) {
        (Some(id), _) => {
            if let Err(e) = check_id(id) {
                out.push(Diagnostic::error("id", e));
            }
        }
        (None, Some(name)) => match check_id(name) {
            Ok(()) => doc.id = Some(name.to_owned()),
            Err(e) => out.push(
                Diagnostic::error(
                    "id",
                    format!("no `id` key, and the file name is no id: {e}"),
                )
                .hint("add an `id:` key, or rename the file"),
            ),
        },
        (None, None) => out.push(Diagnostic::error("id", "missing `id`")),
    }
    read_current_forms(&mut doc, &mut out);
    check_type(&doc, &mut out);
    check_worker(&doc, &mut out);
    check_review(&doc, &mut out);
    check_input_source(&doc, &mut out);
    check_assist(&doc, &mut out);
    if doc.status.is_none() {
        doc.status = Some(TaskStatus {
            code: TaskStatusCode::DEFAULT,
            description: None,
        });
    }
    let task = (!out.iter().any(Diagnostic::is_error)).then(|| Task::vouched(doc));
    (task, out)
}

/// The hosted API names workers, reviewers and the consensus threshold two ways, the form the
/// API document uses (`worker.user_ids`, `review.user_ids`, `approval_threshold`) and a current
/// one (`worker.workers`, `review.users`, `approval_threshold_labelers`). A task sent in either
/// is the same task: the current form is read into the document's, which is what annotask
/// stores and writes. Both forms at once must agree.
fn read_current_forms(doc: &mut TaskDoc, out: &mut Vec<Diagnostic>) {
    fn merge<T: PartialEq>(
        field: &str,
        seed: &str,
        current: T,
        into: &mut T,
        unset: bool,
        out: &mut Vec<Diagnostic>,
    ) {
        if unset {
            *into = current;
        } else if *into != current {
            out.push(
                Diagnostic::error(
                    field,
                    format!("differs from `{seed}`, which names the same thing"),
                )
                .hint(format!("send only one of `{field}` and `{seed}`")),
            );
        }
    }
    if let Some(worker) = &mut doc.worker
        && !worker.workers.is_empty()
    {
        let ids: Vec<String> = worker.workers.drain(..).map(|w| w.user.id).collect();
        let unset = worker.user_ids.is_empty();
        merge(
            "worker.workers",
            "worker.user_ids",
            ids,
            &mut worker.user_ids,
            unset,
            out,
        );
    }
    if let Some(assistant) = &mut doc.ai_assistant
        && let Some(id) = assistant.workflow_id.take()
    {
        let unset = assistant.workflow.is_none();
        merge(
            "ai_assistant.workflow_id",
            "ai_assistant.workflow.id",
            Some(crate::model::WorkflowRef { id }),
            &mut assistant.workflow,
            unset,
            out,
        );
    }
    if let Some(review) = &mut doc.review {
        if !review.users.is_empty() {
            let ids: Vec<String> = review.users.drain(..).map(|u| u.id).collect();
            let unset = review.user_ids.is_empty();
            merge(
                "review.users",
                "review.user_ids",
                ids,
                &mut review.user_ids,
                unset,
                out,
            );
        }
        if let Some(info) = &mut review.consensus_strategy_info
            && let Some(n) = info.approval_threshold_labelers.take()
        {
            let unset = info.approval_threshold.is_none();
            merge(
                "review.consensus_strategy_info.approval_threshold_labelers",
                "review.consensus_strategy_info.approval_threshold",
                Some(n),
                &mut info.approval_threshold,
                unset,
                out,
            );
        }
    }
}

/// The assistant is a user id that is neither a worker nor a reviewer of the task (its lines
/// are predictions, never work or decisions); the thresholds are from 0 to 1, the minimum at
/// most the maximum.
fn check_assist(doc: &TaskDoc, out: &mut Vec<Diagnostic>) {
    let assistant = doc.ai_assistant.as_ref();
    match assistant.map(|a| a.workflow.as_ref()) {
        None => {}
        Some(None) => out.push(
            Diagnostic::error("ai_assistant.workflow", "no assistant named")
                .hint("name the user whose annotations are predictions: `ai_assistant: {workflow: {id: USER}}`"),
        ),
        Some(Some(workflow)) => {
            let field = "ai_assistant.workflow.id";
            if let Err(e) = check_id(&workflow.id) {
                out.push(Diagnostic::error(field, e.replacen("id", "user id", 1)));
            }
            let id = workflow.id.as_str();
            let role = |ids: Option<&Vec<String>>| ids.is_some_and(|ids| ids.iter().any(|u| u == id));
            for (ids, what) in [
                (doc.worker.as_ref().map(|w| &w.user_ids), "a worker"),
                (doc.review.as_ref().map(|r| &r.user_ids), "a reviewer"),
            ] {
                if role(ids) {
                    out.push(
                        Diagnostic::error(
                            field,
                            format!("`{id}` is {what} of the task; the assistant's annotations are predictions, not work"),
                        )
                        .hint("import predictions as a user of their own, e.g. `--as model-v1`"),
                    );
                }
            }
        }
    }
    let Some(params) = &doc.ai_assist_params else {
        return;
    };
    if assistant.is_none() {
        out.push(
            Diagnostic::warning(
                "ai_assist_params",
                "no `ai_assistant`: the thresholds apply to nothing",
            )
            .hint("add `ai_assistant: {workflow: {id: USER}}`"),
        );
    }
    for (name, value) in [
        ("min_threshold", params.min_threshold),
        ("max_threshold", params.max_threshold),
    ] {
        if let Some(v) = value
            && !(0.0..=1.0).contains(&v)
        {
            out.push(Diagnostic::error(
                format!("ai_assist_params.{name}"),
                format!("{v} is not a score from 0 to 1"),
            ));
        }
    }
    if let (Some(min), Some(max)) = (params.min_threshold, params.max_threshold)
        && max > 0.0
        && min > max
    {
        out.push(
            Diagnostic::error(
                "ai_assist_params.min_threshold",
                format!("{min} is above max_threshold {max}"),
            )
            .hint("predictions below min_threshold are hidden, at or above max_threshold final: min_threshold must be at most max_threshold"),
        );
    }
    check_id_list(
        "ai_assist_params.concept_relation_ids",
        "concept relation",
        &params.concept_relation_ids,
        out,
    );
}

fn check_type(doc: &TaskDoc, out: &mut Vec<Diagnostic>) {
    match doc.task_type {
        None => out.push(
            Diagnostic::warning("type", "no `type`: workers will not know what to label")
                .hint("add e.g. `type: CONCEPTS_CLASSIFICATION`"),
        ),
        Some(t) if t.labels_concepts() && doc.concept_ids.is_empty() => out.push(
            Diagnostic::error(
                "concept_ids",
                format!("a {t} task needs at least one concept"),
            )
            .hint("add `concept_ids: [your-concept]`"),
        ),
        _ => {}
    }
    check_id_list("concept_ids", "concept", &doc.concept_ids, out);
}

/// Ids in a list must be non-empty and unique; the error points at the offending element.
fn check_id_list(field: &str, what: &str, ids: &[String], out: &mut Vec<Diagnostic>) {
    // Lists are short: comparing with the ids before is cheaper than hashing, up to a length
    // past which a long list must not cost its square.
    const COMPARED: usize = 16;
    let mut seen = HashSet::new();
    for (i, id) in ids.iter().enumerate() {
        let repeated = if ids.len() <= COMPARED {
            ids[..i].contains(id)
        } else {
            !seen.insert(id.as_str())
        };
        if id.trim().is_empty() {
            out.push(Diagnostic::error(
                format!("{field}[{i}]"),
                format!("empty {what} id"),
            ));
        } else if repeated {
            out.push(
                Diagnostic::error(format!("{field}[{i}]"), format!("duplicate {what} `{id}`"))
                    .hint("list each id once"),
            );
        }
    }
}

fn check_worker(doc: &TaskDoc, out: &mut Vec<Diagnostic>) {
    let Some(worker) = &doc.worker else { return };
    check_id_list("worker.user_ids", "worker", &worker.user_ids, out);
    let strategy = worker
        .strategy
        .unwrap_or(WorkerStrategy::WORKER_STRATEGY_NOT_SET);
    let Some(info) = &worker.partitioned_strategy_info else {
        if strategy == WorkerStrategy::PARTITIONED {
            out.push(
                Diagnostic::error(
                    "worker.partitioned_strategy_info",
                    "PARTITIONED needs `partitioned_strategy_info`",
                )
                .hint("add `partitioned_strategy_info: {type: EVENLY, workers_per_input: 1}`"),
            );
        }
        return;
    };
    if strategy != WorkerStrategy::PARTITIONED {
        out.push(
            Diagnostic::error(
                "worker.partitioned_strategy_info",
                format!("{strategy} takes no `partitioned_strategy_info`"),
            )
            .hint("remove it, or use `strategy: PARTITIONED`"),
        );
        return;
    }
    let workers = worker.user_ids.len();
    if workers == 0 {
        out.push(
            Diagnostic::error("worker.user_ids", "PARTITIONED needs at least one worker")
                .hint("list the workers in `worker.user_ids`"),
        );
    }
    let wpi_field = "worker.partitioned_strategy_info.workers_per_input";
    match info.workers_per_input {
        None => out.push(
            Diagnostic::error(wpi_field, "PARTITIONED needs `workers_per_input`")
                .hint("add `workers_per_input: 1` (how many workers label each input)"),
        ),
        Some(n) if n < 1 || n as usize > workers => out.push(Diagnostic::error(
            wpi_field,
            format!(
                "workers_per_input is {n}; it must be from 1 to the number of workers ({workers})"
            ),
        )),
        _ => {}
    }
    let weights_field = "worker.partitioned_strategy_info.weights";
    match info.partition_type {
        Some(PartitionType::WEIGHTED) => check_weights(worker, info, out),
        Some(PartitionType::EVENLY) => {
            if info.weights.is_some() {
                out.push(
                    Diagnostic::error(weights_field, "EVENLY takes no weights")
                        .hint("remove `weights`, or use `type: WEIGHTED`"),
                );
            }
        }
        _ => out.push(
            Diagnostic::error(
                "worker.partitioned_strategy_info.type",
                "PARTITIONED needs a partition `type` of EVENLY or WEIGHTED",
            )
            .hint("add `type: EVENLY` to split inputs equally"),
        ),
    }
}

fn check_weights(
    worker: &crate::model::Worker,
    info: &crate::model::PartitionedStrategyInfo,
    out: &mut Vec<Diagnostic>,
) {
    let field = "worker.partitioned_strategy_info.weights";
    let Some(weights) = &info.weights else {
        out.push(
            Diagnostic::error(field, "WEIGHTED needs `weights`")
                .hint("give every worker a weight, e.g. `weights: {alice: 1, bob: 1}`"),
        );
        return;
    };
    let workers: Vec<&str> = worker.user_ids.iter().map(String::as_str).collect();
    for user in workers.iter().filter(|u| !u.trim().is_empty()) {
        if !weights.0.contains_key(*user) {
            out.push(
                Diagnostic::error(field, format!("worker `{user}` has no weight"))
                    .hint(format!("add `{user}: 1` to weights")),
            );
        }
    }
    let mut total = 0.0;
    for (user, &weight) in &weights.0 {
        // Made only for a problem: a valid file would format one per weight.
        let at = || format!("{field}.{user}");
        if !workers.contains(&user.as_str()) {
            let mut d =
                Diagnostic::error(at(), format!("`{user}` has a weight but is not a worker"));
            d = match did_you_mean(user, workers.iter().copied()) {
                Some(w) => d.hint(format!("did you mean `{w}`?")),
                None => d.hint("add them to `worker.user_ids`, or remove the weight"),
            };
            out.push(d);
        } else if !(weight.is_finite() && weight > 0.0) {
            out.push(Diagnostic::error(
                at(),
                format!("weight {weight} is not a positive number"),
            ));
        } else {
            total += weight;
        }
    }
    let Some(per_input) = info.workers_per_input.filter(|n| *n >= 1) else {
        return;
    };
    for (user, &weight) in &weights.0 {
        if !(workers.contains(&user.as_str()) && weight.is_finite() && weight > 0.0) {
            continue;
        }
        let share = weight / total;
        // A worker labels each input at most once, so their share of the labeling work,
        // `share * workers_per_input`, cannot exceed every input.
        if share * f64::from(per_input) > 1.0 + 1e-9 {
            out.push(
                Diagnostic::error(
                    format!("{field}.{user}"),
                    format!(
                        "`{user}` would have to label {:.0}% of inputs ({:.0}% of the weight, {per_input} workers per input)",
                        share * f64::from(per_input) * 100.0,
                        share * 100.0,
                    ),
                )
                .hint("lower this weight, raise the others, or lower workers_per_input"),
            );
        }
    }
}

fn check_review(doc: &TaskDoc, out: &mut Vec<Diagnostic>) {
    let Some(review) = &doc.review else { return };
    check_id_list("review.user_ids", "reviewer", &review.user_ids, out);
    let strategy = review
        .strategy
        .unwrap_or(ReviewStrategy::TASK_REVIEW_STRATEGY_NOT_SET);
    if strategy != ReviewStrategy::MANUAL && review.manual_strategy_info.is_some() {
        out.push(
            Diagnostic::error(
                "review.manual_strategy_info",
                format!("{strategy} review takes no `manual_strategy_info`"),
            )
            .hint("remove it, or use `strategy: MANUAL`"),
        );
    }
    if strategy != ReviewStrategy::CONSENSUS && review.consensus_strategy_info.is_some() {
        out.push(
            Diagnostic::error(
                "review.consensus_strategy_info",
                format!("{strategy} review takes no `consensus_strategy_info`"),
            )
            .hint("remove it, or use `strategy: CONSENSUS`"),
        );
    }
    match strategy {
        ReviewStrategy::MANUAL => {
            if review.user_ids.is_empty() {
                out.push(
                    Diagnostic::error(
                        "review.user_ids",
                        "MANUAL review needs at least one reviewer",
                    )
                    .hint("list the reviewers in `review.user_ids`"),
                );
            }
            let field = "review.manual_strategy_info.sample_percentage";
            match review.manual_strategy_info.as_ref().and_then(|m| m.sample_percentage) {
                None => out.push(
                    Diagnostic::error(field, "MANUAL review needs `sample_percentage`")
                        .hint("add `manual_strategy_info: {sample_percentage: 0.5}` to review half the inputs"),
                ),
                Some(p) if !(p > 0.0 && p <= 1.0) => {
                    let d = Diagnostic::error(
                        field,
                        format!("sample_percentage is {p}; it must be more than 0 and at most 1"),
                    );
                    out.push(if p > 1.0 && p <= 100.0 {
                        d.hint(format!("it is a fraction: {p}% is {}", p / 100.0))
                    } else {
                        d
                    });
                }
                _ => {}
            }
        }
        ReviewStrategy::CONSENSUS => {
            let field = "review.consensus_strategy_info.approval_threshold";
            match review
                .consensus_strategy_info
                .as_ref()
                .and_then(|c| c.approval_threshold)
            {
                None | Some(0) => out.push(
                    Diagnostic::error(
                        field,
                        "CONSENSUS review needs `approval_threshold` of at least 1",
                    )
                    .hint("add `consensus_strategy_info: {approval_threshold: 2}`"),
                ),
                Some(threshold) => {
                    if let Some(labelers) = labelers_per_input(doc)
                        && threshold as usize > labelers
                    {
                        out.push(
                            Diagnostic::warning(
                                field,
                                format!(
                                    "approval_threshold is {threshold}, but each input is labeled by {labelers} worker(s), so consensus can never be reached"
                                ),
                            )
                            .hint("inputs will all go to the reviewers; lower the threshold or add workers per input"),
                        );
                    }
                }
            }
        }
        _ => {}
    }
}

/// How many workers label each input, where the document says.
fn labelers_per_input(doc: &TaskDoc) -> Option<usize> {
    let worker = doc.worker.as_ref()?;
    match worker.strategy? {
        WorkerStrategy::FULL if !worker.user_ids.is_empty() => Some(worker.user_ids.len()),
        WorkerStrategy::PARTITIONED => worker
            .partitioned_strategy_info
            .as_ref()?
            .workers_per_input
            .and_then(|n| usize::try_from(n).ok()),
        _ => None,
    }
}

fn check_input_source(doc: &TaskDoc, out: &mut Vec<Diagnostic>) {
    let Some(source) = &doc.input_source else {
        out.push(
            Diagnostic::error(
                "input_source",
                "missing `input_source`: which inputs to label",
            )
            .hint("add `input_source: {type: ALL_INPUTS}`"),
        );
        return;
    };
    let has_id = source.id.as_deref().is_some_and(|id| !id.is_empty());
    match source.source_type {
        None | Some(InputSourceType::INPUT_SOURCE_TYPE_NOT_SET) => out.push(
            Diagnostic::error("input_source.type", "missing input source `type`")
                .hint("one of ALL_INPUTS, SAVED_SEARCH, DATASET, INPUT"),
        ),
        Some(
            t @ (InputSourceType::SAVED_SEARCH | InputSourceType::DATASET | InputSourceType::INPUT),
        ) if !has_id => {
            out.push(
                Diagnostic::error(
                    "input_source.id",
                    format!("a {t} input source needs an `id`"),
                )
                .hint(format!(
                    "add the {} id",
                    t.as_str().to_ascii_lowercase().replace('_', " ")
                )),
            );
        }
        Some(InputSourceType::ALL_INPUTS) if has_id => out.push(
            Diagnostic::warning("input_source.id", "ALL_INPUTS takes no `id`; it is ignored")
                .hint("remove the id, or use type DATASET, SAVED_SEARCH or INPUT"),
        ),
        _ => {}
    }
}
