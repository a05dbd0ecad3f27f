//! PutTaskAssignments' request body (the JSON face's, which gRPC's converts into) turned into
//! the library's [`repo::Action`]: which action, the assignments it names and the request field
//! each came from. Must not check what the caller may do; [`repo::Repo::put_assignments`] does.

use crate::api::{self, AssignmentAction, PutTaskAssignments, ReviewConfig};
use crate::error::{Error, Result};
use crate::repo::{self, Action, NamedId};
use crate::validate::{Diagnostic, Report};
use crate::work::Decision;

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

fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::Invalid(vec![Report {
        file: "-".into(),
        diagnostics: vec![Diagnostic::error(field, message)],
    }])
}
