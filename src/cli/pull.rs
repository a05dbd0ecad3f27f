//! `annotask pull`: writes a file under `tasks/` for every remote task no local file defines.
//! A reviewed import: it never overwrites or deletes a file, and a failed or empty answer
//! changes nothing.

use annotask::deploy;
use annotask::model::TaskDoc;
use annotask::remote;
use annotask::{validate, yaml};

use super::plan::RemoteArgs;
use super::{Global, Outcome, output};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    remote: RemoteArgs,
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let client = args.remote.client(&global.root)?;
    let remote = client.list_all()?;
    let mut repo = global.open_synced()?;
    let mut docs = Vec::new();
    let mut skipped = Vec::new();
    for task in &remote {
        let id = match remote::task_id(task) {
            Ok(id) => id,
            Err(why) => {
                skipped.push(format!("a remote task with {why}"));
                continue;
            }
        };
        if !repo.claimants(id)?.is_empty() {
            continue;
        }
        // A managed task without a file is an orphan: its file was removed on purpose.
        if deploy::marker(task).is_some() {
            skipped.push(format!(
                "{id}: managed by apply and its file was removed (apply --prune deletes it)"
            ));
            continue;
        }
        // Decoded as a task file is, so that what is wrong reads as it would in one.
        let json = serde_json::to_vec(&deploy::for_file(task)).unwrap_or_default();
        let doc: TaskDoc = match yaml::parse_body(&json) {
            Ok(doc) => doc,
            Err(d) => {
                let field = if d.field.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", d.field)
                };
                skipped.push(format!("{id}: {field}{}", d.message));
                continue;
            }
        };
        match validate::validate(doc.clone(), None) {
            (Some(_), _) => docs.push(doc),
            (None, diagnostics) => skipped.push(format!(
                "{id}: {}",
                diagnostics
                    .iter()
                    .filter(|d| d.is_error())
                    .map(|d| d.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
        }
    }
    for why in &skipped {
        eprintln!("skipped {why}");
    }
    let tasks = if docs.is_empty() {
        Vec::new()
    } else {
        repo.create(docs)?
    };
    output::written(global.format, tasks, |task| {
        format!("pulled {}", annotask::layout::path_for_id(task.id()))
    });
    Ok(Outcome::Success)
}
