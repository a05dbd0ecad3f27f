//! `annotask apply`: plans, shows the plan, asks, then creates, overwrites and deletes remote
//! tasks; reports each task's result, and on a failure exactly what was and was not applied.

use std::io::{self, BufRead, IsTerminal, Write};

use serde::Serialize;
use serde_json::Value;

use annotask::api::ApiStatus;
use annotask::deploy::{Action, Change};
use annotask::remote::{self, Client};

use super::plan::{self, acts};
use super::{Format, Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    plan: plan::Args,
    /// Apply without asking; required when stdin is not a terminal.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Overwrite remote tasks changed both on the remote and in their files.
    #[arg(long)]
    force_conflicts: bool,
}

/// Tasks sent per request: a failed request leaves at most this many unapplied at once.
const BATCH: usize = 100;

#[derive(Serialize)]
struct Result<'a> {
    id: &'a str,
    action: Action,
    /// applied, failed, or not_attempted.
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_id: Option<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    status: ApiStatus,
    results: Vec<Result<'a>>,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let (client, _, changes) = plan::make(global, &args.plan)?;
    let todo: Vec<&Change> = changes.iter().filter(|c| acts(c)).collect();
    if global.format == Format::Table {
        plan::print(global.format, &changes);
    }
    if todo.is_empty() {
        if global.format == Format::Table {
            println!("nothing to apply");
        } else {
            plan::print(global.format, &changes);
        }
        return Ok(Outcome::Success);
    }
    let conflicts: Vec<&str> = todo
        .iter()
        .filter(|c| c.action == Action::Conflict)
        .map(|c| c.id.as_str())
        .collect();
    if !conflicts.is_empty() && !args.force_conflicts {
        return Err(super::finding(format!(
            "{} task(s) changed on the remote and in their files: {}; nothing applied\n    hint: `annotask pull` cannot resolve this; edit the file to what you want and pass --force-conflicts",
            conflicts.len(),
            conflicts.join(", ")
        )));
    }
    if !args.yes {
        if !io::stdin().is_terminal() {
            return Err(super::usage(
                "stdin is not a terminal: pass --yes to apply without asking; nothing applied",
            ));
        }
        eprint!("apply {} change(s)? [y/N] ", todo.len());
        io::stderr().flush()?;
        let mut line = String::new();
        io::stdin().lock().read_line(&mut line)?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing applied");
            return Ok(Outcome::Invalid);
        }
    }
    let (results, failure) = execute(global, &client, &todo);
    let status = match &failure {
        None => annotask::api::ok(),
        Some(e) => ApiStatus {
            code: MIXED_STATUS,
            description: "Mixed status".into(),
            details: Some(format!("{e:#}")),
        },
    };
    match global.format {
        Format::Table => {
            for r in &results {
                let remote = r.remote_id.as_deref().map_or(String::new(), |id| {
                    format!(" (the remote named it {id}; written into its file)")
                });
                println!("{} {}: {}{remote}", r.result, r.id, word(r.action));
            }
            if let Some(e) = &failure {
                let n = |s: &str| results.iter().filter(|r| r.result == s).count();
                eprintln!(
                    "MIXED_STATUS: {} applied, {} failed, {} not attempted: {e:#}",
                    n("applied"),
                    n("failed"),
                    n("not_attempted")
                );
            }
        }
        format => super::output::structured(format, &Report { status, results }),
    }
    Ok(match failure {
        Some(e) => Outcome::Stopped(e),
        None => Outcome::Success,
    })
}

/// The hosted API's code for a request that partly succeeded.
const MIXED_STATUS: u32 = 10010;

fn word(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update | Action::Conflict => "updated",
        Action::Delete => "deleted",
        Action::Orphan => "left",
    }
}

/// Sends the changes in batches, creates first, then updates, then deletes; stops at the first
/// failed request, and names every task as applied, failed or not attempted. The ids the
/// remote gave created tasks are checked as a local id is, and written into their files at
/// the end, through the repo; one bad id, and no file is changed.
fn execute<'a>(
    global: &Global,
    client: &Client,
    todo: &[&'a Change],
) -> (Vec<Result<'a>>, Option<anyhow::Error>) {
    let mut results = Vec::new();
    let mut failure: Option<anyhow::Error> = None;
    let mut renames: Vec<(String, String)> = Vec::new();
    let mut bad_answer = false;
    let groups = [
        vec![Action::Create],
        vec![Action::Update, Action::Conflict],
        vec![Action::Delete],
    ];
    for group in groups {
        let changes: Vec<&Change> = todo
            .iter()
            .copied()
            .filter(|c| group.contains(&c.action))
            .collect();
        for batch in changes.chunks(BATCH) {
            let mark = |results: &mut Vec<Result<'a>>, result, remote_ids: Option<&[String]>| {
                for (i, c) in batch.iter().enumerate() {
                    let remote_id = remote_ids
                        .and_then(|ids| ids.get(i))
                        .filter(|id| **id != c.id)
                        .cloned();
                    results.push(Result {
                        id: &c.id,
                        action: c.action,
                        result,
                        remote_id,
                    });
                }
            };
            if failure.is_some() {
                mark(&mut results, "not_attempted", None);
                continue;
            }
            let bodies = || {
                batch
                    .iter()
                    .filter_map(|c| c.body.clone())
                    .collect::<Vec<Value>>()
            };
            let sent = match group[0] {
                Action::Create => client.create(bodies()).map(Some),
                Action::Delete => {
                    let ids: Vec<String> = batch.iter().map(|c| c.id.clone()).collect();
                    client.delete(&ids).map(|()| None)
                }
                _ => client.overwrite(bodies()).map(|_| None),
            };
            match sent {
                Ok(Some(created)) => match created_ids(batch, &created) {
                    Ok(ids) => {
                        renames.extend(
                            batch
                                .iter()
                                .zip(&ids)
                                .filter(|(c, id)| c.id != **id)
                                .map(|(c, id)| (c.id.clone(), id.clone())),
                        );
                        mark(&mut results, "applied", Some(&ids));
                    }
                    Err(e) => {
                        // The remote created them; what it said about them cannot be kept.
                        mark(&mut results, "applied", None);
                        bad_answer = true;
                        failure = Some(e);
                    }
                },
                Ok(None) => mark(&mut results, "applied", None),
                Err(e) => {
                    mark(&mut results, "failed", None);
                    failure = Some(e.into());
                }
            }
        }
    }
    if !bad_answer
        && !renames.is_empty()
        && let Err(e) = global
            .open()
            .and_then(|mut repo| repo.rename_tasks(&renames))
    {
        failure.get_or_insert(anyhow::Error::from(e).context(
            "the remote gave created tasks new ids, and they cannot be written into their files",
        ));
    }
    (results, failure)
}

/// The ids the remote gave the tasks of a create batch, in order, each checked as a local id
/// is.
fn created_ids(batch: &[&Change], created: &[Value]) -> anyhow::Result<Vec<String>> {
    if created.len() != batch.len() {
        return Err(super::finding(format!(
            "the remote answered {} task(s) to the creation of {}; no local file was changed",
            created.len(),
            batch.len()
        )));
    }
    batch
        .iter()
        .zip(created)
        .map(|(change, task)| match remote::task_id(task) {
            Ok(id) => Ok(id.to_owned()),
            Err(why) => Err(super::finding(format!(
                "the remote answered the creation of task `{}` with {why}; no local file was changed",
                change.id
            ))),
        })
        .collect()
}
