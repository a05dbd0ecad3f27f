//! `annotask plan`: what `apply` would change on a remote, task by task and field by field.
//! Also the remote options and project config that `apply` and `pull` share. Only reads.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use annotask::api::{self, ApiStatus};
use annotask::deploy::{self, Action, Change};
use annotask::remote::{Client, Remote};
use annotask::store::ListQuery;

use super::{Format, Global, Outcome, output};

/// The committed project config that names remotes; it never holds a key.
pub const CONFIG_FILE: &str = "annotask.yaml";
/// The environment variable holding the key, as the hosted API's own tools read it.
pub const KEY_ENV: &str = "CLARIFAI_PAT";

#[derive(Debug, Clone, clap::Args)]
pub struct RemoteArgs {
    /// A URL (`https://api.clarifai.com`, `http://127.0.0.1:8080`) or a remote named in
    /// annotask.yaml. The key comes from CLARIFAI_PAT (or the remote's `key_env`).
    #[arg(long)]
    remote: String,
    /// The user whose app is addressed: requests go to /v2/users/U/apps/A/tasks.
    #[arg(long)]
    user_id: Option<String>,
    #[arg(long)]
    app_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    remotes: BTreeMap<String, NamedRemote>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedRemote {
    url: String,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    app_id: Option<String>,
    /// Which environment variable holds this remote's key [default: CLARIFAI_PAT].
    #[serde(default)]
    key_env: Option<String>,
}

impl RemoteArgs {
    /// The remote these options name: a URL, or a name from the project config; flags win.
    pub fn resolve(&self, root: &Path) -> anyhow::Result<Remote> {
        let (url, user, app, key_env) = if self.remote.contains("://") {
            (self.remote.clone(), None, None, None)
        } else {
            let path = root.join(CONFIG_FILE);
            let bytes = std::fs::read(&path).with_context(|| {
                format!(
                    "`{}` is not a URL, and {} cannot be read to look it up",
                    self.remote,
                    path.display()
                )
            })?;
            let config: Config = annotask::yaml::parse_body(&bytes)
                .map_err(|d| super::finding(output::diagnostic(&path.display().to_string(), &d)))?;
            let named = config.remotes.into_iter().find(|(n, _)| *n == self.remote);
            let Some((_, r)) = named else {
                return Err(super::usage(format!(
                    "no remote named `{}` in {}",
                    self.remote,
                    path.display()
                )));
            };
            (r.url, r.user_id, r.app_id, r.key_env)
        };
        let user_id = self
            .user_id
            .clone()
            .or(user)
            .ok_or_else(|| super::usage("--user-id is required"))?;
        let app_id = self
            .app_id
            .clone()
            .or(app)
            .ok_or_else(|| super::usage("--app-id is required"))?;
        let key_env = key_env.unwrap_or_else(|| KEY_ENV.to_owned());
        let key = std::env::var(&key_env).ok().filter(|k| !k.is_empty());
        Ok(Remote {
            url,
            user_id,
            app_id,
            key,
        })
    }
}

#[derive(Debug, clap::Args)]
#[group(id = "plan_args")]
pub struct Args {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// Also delete managed remote tasks whose files are gone.
    #[arg(long)]
    pub prune: bool,
    /// Let --prune delete every managed task when tasks/ is empty.
    #[arg(long)]
    pub allow_empty: bool,
    /// Exit 0 with no changes, 3 with changes, and an error's code on an error (docs/cli.md).
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// The local tasks as JSON, once every file is valid: a project with an invalid file plans
/// nothing.
pub fn local_tasks(global: &Global) -> anyhow::Result<Vec<Value>> {
    let repo = global.open_synced()?;
    let reports = repo.reports(true)?;
    if !reports.is_empty() {
        eprint!(
            "{}",
            output::human(
                &reports,
                |f| std::fs::read_to_string(repo.root().join(f)).ok(),
                false,
                None
            )
        );
        return Err(super::finding(format!(
            "{} invalid task file(s): nothing planned, nothing sent",
            reports.len()
        )));
    }
    let mut all = Vec::new();
    for page in 1.. {
        let tasks = repo.list(&ListQuery {
            worker_user_ids: Vec::new(),
            review_user_ids: Vec::new(),
            ids: Vec::new(),
            page,
            per_page: api::MAX_PER_PAGE,
        })?;
        let n = tasks.len();
        all.extend(
            tasks
                .iter()
                .map(|t| serde_json::to_value(t).expect("tasks serialise")),
        );
        if n < api::MAX_PER_PAGE as usize {
            break;
        }
    }
    Ok(all)
}

/// Reads both sides and plans.
pub fn make(global: &Global, args: &Args) -> anyhow::Result<(Client, Vec<Value>, Vec<Change>)> {
    let remote = args.remote.resolve(&global.root)?;
    let local = local_tasks(global)?;
    let client = Client::new(remote);
    let remote_tasks = client.list_all()?;
    let changes = deploy::plan(
        &local,
        &remote_tasks,
        deploy::Options {
            prune: args.prune,
            allow_empty: args.allow_empty,
        },
    )?;
    Ok((client, remote_tasks, changes))
}

/// Whether a change is one `apply` makes (orphans are only reported).
pub fn acts(change: &Change) -> bool {
    change.action != Action::Orphan
}

#[derive(Serialize)]
struct PlanOutput<'a> {
    status: ApiStatus,
    changes: &'a [Change],
}

pub fn print(format: Format, changes: &[Change]) {
    if format != Format::Table {
        output::structured(
            format,
            &PlanOutput {
                status: api::ok(),
                changes,
            },
        );
        return;
    }
    for change in changes {
        let (sign, word) = match change.action {
            Action::Create => ("+", "create"),
            Action::Update if change.drift => ("~", "update (drift: changed on the remote only)"),
            Action::Update => ("~", "update"),
            Action::Delete => ("-", "delete"),
            Action::Conflict => ("!", "conflict (changed on the remote and in the file)"),
            Action::Orphan => (
                "?",
                "orphan (managed, its file is gone; --prune deletes it)",
            ),
        };
        println!("{sign} {} {word}", change.id);
        if change.action == Action::Create {
            continue;
        }
        for field in &change.fields {
            let show = |v: &Option<Value>| v.as_ref().map_or("(absent)".into(), Value::to_string);
            println!(
                "    {}: {} -> {}",
                field.field,
                show(&field.old),
                show(&field.new)
            );
        }
    }
    let count = |a: Action| changes.iter().filter(|c| c.action == a).count();
    println!(
        "plan: {} to create, {} to update, {} to delete, {} in conflict, {} orphaned",
        count(Action::Create),
        count(Action::Update),
        count(Action::Delete),
        count(Action::Conflict),
        count(Action::Orphan)
    );
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let (_, _, changes) = make(global, &args)?;
    print(global.format, &changes);
    Ok(if args.detailed_exitcode && changes.iter().any(acts) {
        Outcome::Changes
    } else {
        Outcome::Success
    })
}
