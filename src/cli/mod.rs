//! The command line: argument parsing, one module per command, terminal output, exit codes.
//! The only place that prints or decides how the process exits.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use annotask::layout;
use annotask::repo::{self, EditorSettings, Repo};
use annotask::sync::Summary;
use annotask::yaml;

mod apply;
mod assignments;
mod commits;
mod completions;
mod create;
mod delete;
mod export;
mod get;
mod import;
mod list;
mod output;
mod plan;
mod progress;
mod project;
mod pull;
mod serve;
mod status;
mod sync;
mod update;
mod validate;
mod watch;

/// The help heading of the options every command takes, kept apart from each command's own.
const GLOBAL: &str = "Global options";

/// Annotation tasks as YAML files, indexed locally, answered with the hosted Tasks API's JSON.
#[derive(Debug, Parser)]
#[command(name = "annotask", version)]
struct Cli {
    /// The project folder; its task files are in ROOT/tasks [default: the nearest folder, from
    /// the current one up, that holds tasks/ or .annotask/].
    #[arg(long, global = true, help_heading = GLOBAL)]
    root: Option<PathBuf>,
    /// The index database [default: ROOT/.annotask/index.db].
    #[arg(long, global = true, help_heading = GLOBAL)]
    db: Option<PathBuf>,
    /// How to print results: `json` prints the hosted API's response bodies.
    #[arg(short, long, global = true, value_enum, default_value_t = Format::Table, help_heading = GLOBAL)]
    output: Format,
    /// Print only results, problems and errors: no lines about what was written or synced.
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    quiet: bool,
    /// When to colour diagnostics: `auto` on a terminal, unless NO_COLOR is set.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = output::ColorChoice::Auto, help_heading = GLOBAL)]
    color: output::ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the tasks folder and the .annotask state folder.
    Init,
    /// Check task files and print every problem; exit 1 if any file has an error.
    #[command(
        after_help = "Examples:\n  annotask validate\n  annotask validate tasks/birds.yaml --format github\n  annotask validate --staged    # what a commit would hold"
    )]
    Validate(validate::Args),
    /// Bring the index up to date with the task files.
    Sync,
    /// Create tasks from a PostTasks body: {"tasks": [...]}.
    #[command(
        after_help = "Examples:\n  annotask create -f body.json\n  echo '{\"tasks\": [{\"id\": \"cats\", \"type\": \"TYPE_NOT_SET\", \"input_source\": {\"type\": \"ALL_INPUTS\"}}]}' | annotask create -f -"
    )]
    Create(create::Args),
    /// Print one task.
    #[command(
        after_help = "Examples:\n  annotask get annotate-birds-weighted\n  annotask get annotate-birds-weighted -o json"
    )]
    Get(get::Args),
    /// List tasks, a page at a time, ordered by id.
    #[command(
        after_help = "Examples:\n  annotask list --worker-user-ids chen-wei,maria-lopez\n  annotask list --review-user-ids sam-okafor -o json --page 2"
    )]
    List(list::Args),
    /// Who labels which input of a task, a page at a time, ordered by input id then worker.
    #[command(
        after_help = "Examples:\n  annotask assignments annotate-birds-weighted --worker-user-id maria-lopez\n  annotask assignments annotate-birds-weighted -o json --page 2 --per-page 1000"
    )]
    Assignments(assignments::Args),
    /// Each worker's assignments (or annotations) of a task by state, as GetTaskInputCount
    /// (GetTaskAnnotationCount) answers.
    #[command(
        after_help = "Examples:\n  annotask counts annotate-birds-weighted -o json\n  annotask counts annotate-cars-consensus --annotations"
    )]
    Counts(assignments::CountArgs),
    /// Why an input of a task stands where it does: who holds it, who said what, and what
    /// decided it.
    #[command(after_help = "Examples:\n  annotask explain annotate-cars-consensus photo-01")]
    Explain(assignments::ExplainArgs),
    /// Overwrite tasks from a PatchTasks body: {"action": "overwrite", "tasks": [...]}.
    #[command(
        after_help = "Examples:\n  annotask update -f patch.json    # edits each file in place, comments kept"
    )]
    Update(update::Args),
    /// Delete tasks and their files.
    #[command(
        after_help = "Examples:\n  annotask delete annotate-street-cats\n  annotask delete -f body.json    # {\"ids\": [...]}"
    )]
    Delete(delete::Args),
    /// Serve the hosted Tasks API on a local address, answered from the task files.
    #[command(after_help = "Examples:\n  annotask serve\n  annotask serve --addr :8081")]
    Serve(serve::Args),
    /// Keep the index current while task files change, printing each change, until Ctrl-C.
    Watch(watch::Args),
    /// How many tasks are indexed, which files have problems, whether a watcher is running.
    Status,
    /// Print the JSON Schema of a task file, for editors (see `task.schema.json`); with
    /// `--team`, of `team.yaml` (see `team.schema.json`); with `--work-line`, of one line of a
    /// work file; with `--dataset-line`, of one line of a dataset file.
    Schema {
        #[arg(long, group = "of")]
        team: bool,
        #[arg(long, group = "of")]
        work_line: bool,
        #[arg(long, group = "of")]
        dataset_line: bool,
    },
    /// Print the completion script of a shell (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Show what `apply` would change on a remote, task by task and field by field.
    Plan(plan::Args),
    /// Write each input's final label once, as COCO, YOLO, Pascal VOC, CSV or JSON lines.
    #[command(
        after_help = "Examples:\n  annotask export annotate-cars --format coco --out cars.json\n  annotask export annotate-cars --format yolo --out cars-yolo --force\n  annotask export annotate-dogs --format csv --out dogs.csv --include-pending"
    )]
    Export(export::Args),
    /// Append another tool's labels or a model's predictions to a person's work, unsubmitted.
    #[command(
        after_help = "Examples:\n  annotask import annotate-cars --format coco predictions.json --as model-v3\n  annotask import annotate-cars --format yolo runs/detect/labels --as ann"
    )]
    Import(import::Args),
    /// Carry the task files to a remote: create, overwrite and (with --prune) delete tasks.
    Apply(apply::Args),
    /// Write a file for every remote task that no local file defines.
    Pull(pull::Args),
}

/// How a command ended, when it did not fail outright.
pub enum Outcome {
    Success,
    /// The command ran, and found invalid input (exit 1).
    Invalid,
    /// `plan --detailed-exitcode` found changes (exit 3).
    Changes,
    /// The command reported what it did, and then this error stopped it (`apply` part way
    /// through): exit as the error says, without printing it again.
    Stopped(anyhow::Error),
}

/// The process's exit codes, the one table of them (docs/cli.md). Scripts tell the cases apart
/// by these, so a code never changes its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// The command ran and found a problem in what it was given: invalid task, dataset or work
    /// files, an invalid request body, a task that does not exist or already exists, a refused
    /// write; also an `apply` answered "no".
    Finding = 1,
    /// The command line cannot run as given: clap's errors (its own code 2), and what the
    /// command finds before doing anything (outside a project, a flag a remote needs).
    Usage = 2,
    /// `plan --detailed-exitcode`: there are changes to apply.
    Changes = 3,
    /// A file, a folder or the index could not be read, written or locked.
    Io = 4,
    /// The remote (`plan`, `apply`, `pull`) or the server (`serve`) failed: unreachable, a
    /// refused key, an error answer, an address that cannot be listened on, TLS.
    Service = 5,
}

/// An error the CLI itself finds, with the exit it means.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    exit: Exit,
    message: String,
}

impl Failure {
    /// Also a context: `.context(Failure::new(Exit::Service, "the server failed"))`.
    pub fn new(exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            message: message.into(),
        }
    }
}

/// A command line that cannot run as given (exit 2).
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Failure::new(Exit::Usage, message).into()
}

/// A problem found in what the command was given (exit 1).
pub fn finding(message: impl Into<String>) -> anyhow::Error {
    Failure::new(Exit::Finding, message).into()
}

/// The exit an error means: the first cause in its chain whose type says. This is the only
/// place that decides it.
fn exit_of(err: &anyhow::Error) -> Exit {
    use annotask::server::{KeysError, StartError};
    // A `Failure` given as a context is found this way; the chain below holds only errors.
    if let Some(failure) = err.downcast_ref::<Failure>() {
        return failure.exit;
    }
    for cause in err.chain() {
        if let Some(failure) = cause.downcast_ref::<Failure>() {
            return failure.exit;
        }
        if let Some(e) = cause.downcast_ref::<annotask::Error>() {
            return library_exit(e);
        }
        if let Some(e) = cause.downcast_ref::<StartError>() {
            return match e {
                StartError::NeedsKey(_) | StartError::EmptyKey | StartError::KeyAndKeys => {
                    Exit::Usage
                }
                StartError::Keys(KeysError::Read { .. }) => Exit::Io,
                StartError::Keys(KeysError::Invalid { .. } | KeysError::Exposed { .. }) => {
                    Exit::Finding
                }
                StartError::Bind { .. } | StartError::Tls(_) => Exit::Service,
                StartError::Project(e) => library_exit(e),
            };
        }
        if cause.is::<annotask::remote::RemoteError>() {
            return Exit::Service;
        }
        if let Some(e) = cause.downcast_ref::<annotask::remote::ConfigError>() {
            return match e {
                annotask::remote::ConfigError::Read { .. } => Exit::Io,
                annotask::remote::ConfigError::Invalid { .. } => Exit::Finding,
                annotask::remote::ConfigError::Unknown { .. } => Exit::Usage,
            };
        }
        // `--prune` with nothing to keep, without `--allow-empty`.
        if cause.is::<annotask::deploy::DiffError>() {
            return Exit::Usage;
        }
        if cause.is::<annotask::store::StoreError>() || cause.is::<io::Error>() {
            return Exit::Io;
        }
    }
    // Every error the commands make has a type above; one that slips through is still a
    // failure, and never looks like success, usage or changes.
    Exit::Finding
}

fn library_exit(err: &annotask::Error) -> Exit {
    use annotask::Error as E;
    match err {
        E::Invalid(_)
        | E::NotFound(_)
        | E::AlreadyExists(_)
        | E::Conflict(_)
        | E::UnsupportedAction(_)
        | E::PermissionDenied(_) => Exit::Finding,
        E::NoTasksDir(_)
        | E::WatcherRunning { .. }
        | E::Io { .. }
        | E::ReadOnlyIndex(_)
        | E::Store(_) => Exit::Io,
    }
}

/// The global options every command sees.
pub struct Global {
    root: PathBuf,
    db: Option<PathBuf>,
    format: Format,
}

impl Global {
    fn open(&self) -> Result<Repo, annotask::Error> {
        let repo = Repo::open(&self.root, self.db.as_deref())?;
        // The task files annotask writes point editors at the schema in the state folder,
        // which a fresh clone lacks; the server never writes it on a request's path.
        if self.db.is_none() {
            repo::refresh_editor_files(&self.root)?;
        }
        if repo.in_memory() {
            eprintln!(
                "warning: `{}` cannot be written; the files are indexed in memory for this command, and writes are refused",
                repo.db().display()
            );
        }
        Ok(repo)
    }

    /// Opens the project with its index brought up to date, as every query needs. A running
    /// watcher keeps it current, so then the query answers at once, without a scan.
    fn open_synced(&self) -> Result<Repo, annotask::Error> {
        let mut repo = self.open()?;
        if repo.watcher().is_none() {
            self.sync(&mut repo)?;
        }
        Ok(repo)
    }

    /// A full sync, with a progress bar when it takes long on a terminal.
    fn sync(&self, repo: &mut Repo) -> Result<Summary, annotask::Error> {
        let bar = progress::Bar::new();
        repo.sync_with_progress(&|done, total| bar.show(done, total))
    }
}

pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // `--help` and `--version` are "errors" that print to stdout and succeed.
            let _ = err.print();
            return exit(if err.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            });
        }
    };
    if !matches!(cli.command, Command::Serve(_)) {
        end_quietly_on_closed_pipe();
    }
    output::choose(cli.color, cli.quiet);
    let format = cli.output;
    let root = match resolve_root(cli.root, &cli.command) {
        Ok(root) => root,
        Err(err) => {
            output::error(format, &err);
            return exit(exit_of(&err));
        }
    };
    let ctx = Global {
        root,
        db: cli.db,
        format,
    };
    let result = match cli.command {
        Command::Init => init(&ctx),
        Command::Validate(args) => validate::run(&ctx, args),
        Command::Sync => sync::run(&ctx),
        Command::Create(args) => create::run(&ctx, args),
        Command::Get(args) => get::run(&ctx, args),
        Command::List(args) => list::run(&ctx, args),
        Command::Assignments(args) => assignments::run(&ctx, args),
        Command::Counts(args) => assignments::counts(&ctx, args),
        Command::Explain(args) => assignments::explain(&ctx, args),
        Command::Update(args) => update::run(&ctx, args),
        Command::Delete(args) => delete::run(&ctx, args),
        Command::Serve(args) => serve::run(&ctx, args),
        Command::Watch(args) => watch::run(&ctx, args),
        Command::Status => status::run(&ctx),
        Command::Schema {
            team,
            work_line,
            dataset_line,
        } => {
            let text = match (team, work_line, dataset_line) {
                (true, _, _) => annotask::team::schema(),
                (_, true, _) => annotask::schema::work_line(),
                (_, _, true) => annotask::schema::dataset_line(),
                _ => annotask::schema::generate(),
            };
            print!("{text}");
            Ok(Outcome::Success)
        }
        Command::Completions { shell } => {
            completions::print(shell);
            Ok(Outcome::Success)
        }
        Command::Plan(args) => plan::run(&ctx, args),
        Command::Export(args) => export::run(&ctx, args),
        Command::Import(args) => import::run(&ctx, args),
        Command::Apply(args) => apply::run(&ctx, args),
        Command::Pull(args) => pull::run(&ctx, args),
    };
    exit(match result {
        Ok(Outcome::Success) => Exit::Ok,
        Ok(Outcome::Invalid) => Exit::Finding,
        Ok(Outcome::Changes) => Exit::Changes,
        Ok(Outcome::Stopped(err)) => exit_of(&err),
        Err(err) => {
            output::error(ctx.format, &err);
            exit_of(&err)
        }
    })
}

fn exit(exit: Exit) -> ExitCode {
    ExitCode::from(exit as u8)
}

/// `annotask list | head -3`: once the reader is gone, the command ends as `cat` or `grep`
/// would, killed by SIGPIPE without a word, instead of failing on its next print. Rust ignores
/// the signal so that a program can handle write errors, and then its prints panic. The server
/// keeps it ignored: a client that hangs up must never end it.
fn end_quietly_on_closed_pipe() {
    // SAFETY: called before any other thread starts; restoring a signal's default action
    // touches no memory of this program.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The project folder: `--root`, else the nearest one found upward. `init` makes the current
/// folder a project, unless it lies inside another one; `validate` of named paths, `schema` and
/// `completions` need no project.
fn resolve_root(root: Option<PathBuf>, command: &Command) -> anyhow::Result<PathBuf> {
    if let Some(root) = root {
        return Ok(root);
    }
    let found = project::find();
    match command {
        Command::Init => match found {
            Some(project) if project != Path::new(".") => Err(project::nested(&project)),
            _ => Ok(PathBuf::from(".")),
        },
        Command::Schema { .. } | Command::Completions { .. } => Ok(PathBuf::from(".")),
        Command::Validate(args) if args.has_paths() => Ok(found.unwrap_or_else(|| ".".into())),
        _ => found.ok_or_else(project::outside),
    }
}

fn init(ctx: &Global) -> anyhow::Result<Outcome> {
    let editor = repo::init(&ctx.root)?;
    if ctx.format != Format::Table {
        // What was set up, with the API's status object, for scripts.
        let (state, path) = match &editor {
            EditorSettings::Written(path) => ("written", path),
            EditorSettings::Present(path) => ("present", path),
            EditorSettings::LeftAlone(path) => ("left_alone", path),
        };
        let result = serde_json::json!({
            "status": annotask::api::ok(),
            "root": ctx.root,
            "tasks_dir": ctx.root.join(annotask::layout::TASKS_DIR),
            "schema": ctx.root.join(layout::STATE_DIR).join(annotask::schema::FILE_NAME),
            "editor_settings": {"path": path, "state": state},
        });
        output::structured(ctx.format, &result);
    }
    if ctx.format == Format::Table && !output::quiet() {
        println!(
            "ready: put task files in {}",
            ctx.root.join(annotask::layout::TASKS_DIR).display()
        );
        match editor {
            EditorSettings::Written(path) => println!(
                "wrote {}: VS Code checks task files as you type (YAML extension)",
                path.display()
            ),
            EditorSettings::Present(_) => {}
            EditorSettings::LeftAlone(path) => println!(
                "to check task files as you type in VS Code, add this to {}:\n{}",
                path.display(),
                repo::VSCODE_SETTINGS.trim_end()
            ),
        }
    }
    Ok(Outcome::Success)
}

/// Request bodies larger than this are refused: a PostTasks body of 10,000 tasks is ~6 MiB.
const MAX_BODY_BYTES: u64 = 64 << 20;

/// Reads and decodes a request body from a file, or from stdin for `-`.
fn read_body<T: serde::de::DeserializeOwned>(file: &Path) -> anyhow::Result<(T, Vec<u8>, String)> {
    let name = file.display().to_string();
    let mut bytes = Vec::new();
    let source: Box<dyn Read> = if name == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(std::fs::File::open(file).with_context(|| format!("cannot open {name}"))?)
    };
    source
        .take(MAX_BODY_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {name}"))?;
    if bytes.len() as u64 > MAX_BODY_BYTES {
        return Err(finding(format!(
            "{name} is larger than {MAX_BODY_BYTES} bytes"
        )));
    }
    let name = if name == "-" {
        "<stdin>".to_owned()
    } else {
        name
    };
    let body = yaml::parse_body::<T>(&bytes).map_err(|d| annotask::Error::bad_body(&name, d))?;
    Ok((body, bytes, name))
}
