//! The workflow's request shapes (the JSON face's, which gRPC's convert into, and the CLI's
//! bodies) turned into the library's own request types in [`repo`], for every face: each
//! keeps the request field a diagnostic names. Must not check what the caller may do; the
//! [`repo::Repo`] operation does.

use crate::api::{
    self, AnnotationQuery, AssignmentAction, DeleteAnnotations, PatchAnnotations, PatchTasks,
    PostedAnnotation, PutTaskAssignments, ReviewConfig,
};
use crate::error::{Error, Result};
use crate::model::TaskDoc;
use crate::repo::{
    self, Action, AnnotationPatch, AnnotationSelection, AnnotationsToDelete, NamedId, NewAnnotation,
};
use crate::validate::{Diagnostic, Report};
use crate::work::annotation::unknown_keys;
use crate::work::{Decision, State};

/// The action a PutTaskAssignments body asks of `user` on `task_id` (the path's task, which a
/// body's `task_id` must match). A body with an `input_id` and no action is a LABEL_SUBMIT.
pub fn action(request: PutTaskAssignments, task_id: &str, user: &str) -> Result<Action> {
    if let Some(named) = request.task_id.as_deref().filter(|t| *t != task_id) {
        return Err(invalid(
            "task_id",
            format!("the body names task `{named}`, the path task `{task_id}`"),
        ));
    }
    let action = match (request.action, &request.input_id) {
        (Some(action), _) => action,
        (None, Some(_)) => AssignmentAction::LABEL_SUBMIT,
        (None, None) => {
            return Err(invalid(
                "action",
                "an action is required: LABEL_START, LABEL_SUBMIT, REVIEW_START, REVIEW_APPROVE, REVIEW_REQUEST_CHANGES, REVIEW_REJECT or LABEL_WITHDRAW",
            ));
        }
    };
    Ok(match action {
        AssignmentAction::LABEL_START => Action::LabelStart,
        AssignmentAction::LABEL_SUBMIT => {
            Action::LabelSubmit(match (request.label_submit_config, request.input_id) {
                (Some(config), _) => config
                    .task_assignments
                    .into_iter()
                    .enumerate()
                    .map(|(i, a)| NamedId {
                        field: format!("label_submit_config.task_assignments[{i}].id"),
                        id: a.id,
                    })
                    .collect(),
                (None, Some(input)) => vec![NamedId {
                    field: "input_id".to_owned(),
                    id: api::assignment_id(&input, user),
                }],
                (None, None) => Vec::new(),
            })
        }
        AssignmentAction::REVIEW_START => Action::ReviewStart {
            workers: request
                .review_start_config
                .map(|c| c.workers.into_iter().map(|w| w.user.id).collect())
                .unwrap_or_default(),
        },
        AssignmentAction::REVIEW_APPROVE => review(
            Decision::APPROVE,
            request.review_approve_config,
            "review_approve_config",
        ),
        AssignmentAction::REVIEW_REQUEST_CHANGES => review(
            Decision::REQUEST_CHANGES,
            request.review_request_changes_config,
            "review_request_changes_config",
        ),
        AssignmentAction::REVIEW_REJECT => review(
            Decision::REJECT,
            request.review_reject_config,
            "review_reject_config",
        ),
        AssignmentAction::LABEL_WITHDRAW => Action::LabelWithdraw {
            input: request.input_id,
        },
    })
}

fn review(decision: Decision, config: Option<ReviewConfig>, field: &str) -> Action {
    let config = config.unwrap_or_default();
    Action::Review(repo::Review {
        decision,
        assignments: config.task_assignments.into_iter().map(|a| a.id).collect(),
        workers: config.workers.into_iter().map(|w| w.user.id).collect(),
        comment: config.comment,
        field: field.to_owned(),
    })
}

/// Refuses the keys no annotation field reads in a PostAnnotations or PatchAnnotations body
/// (`"concept": "bird"`), every one at its path (`annotations[0].data.concept`) with a
/// did-you-mean. It reads the body before its types do: they flatten an annotation beside its
/// `task_id`, and serde loses the path of a key inside a flattened part. gRPC needs no such
/// check: protobuf has no way to send a key its message lacks.
pub fn refuse_unknown_annotation_keys(body: &[u8]) -> Result<()> {
    // A body that does not parse is the typed decode's to explain.
    let Ok(value) = crate::yaml::parse_body::<serde_json::Value>(body) else {
        return Ok(());
    };
    let found: Vec<Diagnostic> = value["annotations"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .flat_map(|(i, a)| unknown_keys(a, &format!("annotations[{i}]"), &["task_id"]))
        .collect();
    if found.is_empty() {
        Ok(())
    } else {
        Err(reported(found))
    }
}

/// PostAnnotations' (and PatchAnnotations') annotations, in the request's order.
pub fn new_annotations(posted: Vec<PostedAnnotation>) -> Vec<NewAnnotation> {
    posted
        .into_iter()
        .map(|p| NewAnnotation {
            task_id: p.task_id,
            annotation: p.annotation,
        })
        .collect()
}

/// PatchAnnotations' action and annotations.
pub fn annotation_patch(
    request: PatchAnnotations,
) -> Result<(AnnotationPatch, Vec<NewAnnotation>)> {
    let patch = match request.action.as_str() {
        "overwrite" => AnnotationPatch::Overwrite,
        "merge" => AnnotationPatch::Merge,
        "remove" => AnnotationPatch::Remove,
        other => {
            return Err(reported(vec![
                Diagnostic::error("action", format!("unknown action `{other}`"))
                    .hint("PatchAnnotations' actions are `overwrite`, `merge` and `remove`"),
            ]));
        }
    };
    Ok((patch, new_annotations(request.annotations)))
}

/// DeleteAnnotations' annotations: by id, by input, or each id on its input.
pub fn annotations_to_delete(request: DeleteAnnotations) -> AnnotationsToDelete {
    AnnotationsToDelete {
        ids: request.ids,
        input_ids: request.input_ids,
    }
}

/// ListAnnotations' filters and page, its status codes read as states (`statuses[i]` names a
/// code that is none).
pub fn annotation_selection(query: AnnotationQuery) -> Result<AnnotationSelection> {
    let mut states = Vec::new();
    let mut problems = Vec::new();
    for (i, code) in query.statuses.iter().enumerate() {
        match State::from_code(*code) {
            Some(state) => states.push(state),
            None => problems.push(Diagnostic::error(
                format!("statuses[{i}]"),
                format!("{code} is no annotation or assignment status"),
            ).hint("annotations are 24150 (success), 24151 (pending), 24157 (awaiting review), 24158 (review denied) or 24159 (awaiting consensus review)")),
        }
    }
    if !problems.is_empty() {
        return Err(reported(problems));
    }
    Ok(AnnotationSelection {
        task: query.task_id,
        ids: query.ids,
        workers: query.user_ids,
        inputs: query.input_ids,
        states,
        page: query.page,
        per_page: query.per_page,
    })
}

/// PatchTasks' tasks: `overwrite`, the only action, replaces each whole.
pub fn task_overwrite(request: PatchTasks) -> Result<Vec<TaskDoc>> {
    if request.action != "overwrite" {
        return Err(Error::UnsupportedAction(request.action));
    }
    Ok(request.tasks)
}

fn invalid(field: &str, message: impl Into<String>) -> Error {
    reported(vec![Diagnostic::error(field, message)])
}

fn reported(diagnostics: Vec<Diagnostic>) -> Error {
    Error::Invalid(vec![Report {
        file: "-".into(),
        diagnostics,
    }])
}
