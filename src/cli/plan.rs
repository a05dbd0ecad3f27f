//! `annotask plan`: what `apply` would change on a remote, task by task and field by field.
//! Also the remote options and project config that `apply` and `pull` share. Only reads.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use annotask::api::{self, ApiStatus};
use annotask::deploy::{self, Action, Change};
use annotask::remote::{self, Client, Remote};
use annotask::store::ListQuery;

use super::{Format, Global, Outcome, output};

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
    /// Seconds one call to the remote may take, connecting, answering and retrying included.
    #[arg(long, value_name = "SECS", default_value_t = remote::DEFAULT_TIMEOUT.as_secs_f64())]
    timeout: f64,
}

impl RemoteArgs {
    /// The remote these options name: a URL, or a name from the project config; flags win.
    pub fn resolve(&self, root: &Path) -> anyhow::Result<Remote> {
        let named = if self.remote.contains("://") {
            None
        } else {
            Some(
                remote::Config::remote(root, &self.remote).map_err(|e| match e {
                    remote::ConfigError::Invalid { path, diagnostic } => {
                        super::finding(output::diagnostic(&path.display().to_string(), &diagnostic))
                    }
                    remote::ConfigError::Unknown { .. } => super::usage(e.to_string()),
                    remote::ConfigError::Read { .. } => e.into(),
                })?,
            )
        };
        let url = named
            .as_ref()
            .map_or(self.remote.clone(), |r| r.url.clone());
        let user_id = self
            .user_id
            .clone()
            .or(named.as_ref().and_then(|r| r.user_id.clone()))
            .ok_or_else(|| super::usage("--user-id is required"))?;
        let app_id = self
            .app_id
            .clone()
            .or(named.as_ref().and_then(|r| r.app_id.clone()))
            .ok_or_else(|| super::usage("--app-id is required"))?;
        let key_env = named
            .and_then(|r| r.key_env)
            .unwrap_or_else(|| KEY_ENV.to_owned());
        let key = std::env::var(&key_env).ok().filter(|k| !k.is_empty());
        Ok(Remote {
            url,
            user_id,
            app_id,
            key,
        })
    }

    /// A client of the remote these options name.
    pub fn client(&self, root: &Path) -> anyhow::Result<Client> {
        if !(self.timeout.is_finite() && self.timeout > 0.0) {
            return Err(super::usage(
                "--timeout must be a positive number of seconds",
            ));
        }
        Ok(Client::new(
            self.resolve(root)?,
            Duration::from_secs_f64(self.timeout),
        ))
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
    let client = args.remote.client(&global.root)?;
    let local = local_tasks(global)?;
    let remote_tasks = client.list_all()?;
    let changes = deploy::diff(
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
