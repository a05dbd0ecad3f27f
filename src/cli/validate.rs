//! `annotask validate [PATH...]`: checks task, dataset and work files without touching the index,
//! for people (`human`), scripts (`json`) and GitHub Actions (`github`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use annotask::files::{self, DiskFile};
use annotask::inputs;
use annotask::layout;
use annotask::layout::INPUTS_DIR;
use annotask::sync::{self, Outcome as Loaded};
use annotask::validate::{Diagnostic, Location, Report};

use super::{Format, Global, Outcome, output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files or folders to check [default: ROOT/tasks, the datasets in ROOT/inputs and the
    /// work files in ROOT/work]; a `.jsonl` or `.csv` file is checked as a dataset.
    paths: Vec<PathBuf>,
    /// How to print problems [default: human, or json with `-o json`].
    #[arg(long, value_enum)]
    format: Option<Style>,
    /// Check what would be committed: the task, dataset and work files and team.yaml staged in
    /// git's index, as staged, so an untracked draft does not block a commit, and no staged
    /// work file rewrites what the last commit had (the pre-commit hook's mode).
    #[arg(long, conflicts_with = "paths")]
    staged: bool,
    /// Check who wrote the work files in a range of commits (e.g. `origin/main..HEAD`): each
    /// work file a commit changes must be its author's (team.yaml) and only appended to.
    #[arg(long, value_name = "RANGE", conflicts_with_all = ["paths", "staged"])]
    commits: Option<String>,
    /// With --commits: every commit must carry a signature git can verify.
    #[arg(long, requires = "commits")]
    require_signed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Style {
    /// Each problem on its source line, the offending text marked.
    Human,
    /// One JSON object: `{"files", "invalid", "reports"}` (stable; see docs/watch.md).
    Json,
    /// GitHub Actions workflow commands, which annotate the files in a pull request.
    Github,
}

#[derive(Serialize)]
struct Summary<'a> {
    files: usize,
    invalid: usize,
    reports: &'a [Report],
}

impl Args {
    /// Whether paths were named, so that no project is needed.
    pub fn has_paths(&self) -> bool {
        !self.paths.is_empty()
    }
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    if let Some(range) = &args.commits {
        return super::commits::run(&global.root, range, args.require_signed);
    }
    let mut targets = Vec::new();
    let staged = args
        .staged
        .then(|| Staged::checkout(&global.root))
        .transpose()?;
    let base = staged.as_ref().map_or_else(PathBuf::new, |s| s.dir.clone());
    let named = args.has_paths();
    // Validate opens no index, but editors need the schema the task files point at. A project
    // that cannot take it (read-only) is still validated.
    if super::project::is_project(&global.root) {
        let _ = annotask::repo::ensure_editor_files(&global.root);
    }
    // The datasets the task files may name: those of the project (or of the commit).
    let dataset_root = staged
        .as_ref()
        .map_or(global.root.clone(), |s| s.dir.clone());
    let listed = files::list_inputs(&dataset_root);
    let dataset_ids: std::collections::HashSet<String> = listed
        .iter()
        .filter_map(|f| inputs::dataset_id(&f.path).ok().map(str::to_owned))
        .collect();
    let mut datasets: Vec<DiskFile> = Vec::new();
    let mut work: Vec<DiskFile> = Vec::new();
    let mut unread: Vec<String> = Vec::new();
    let mut dataset_base = PathBuf::new();
    if !named {
        // `./inputs/a.jsonl` reads worse than `inputs/a.jsonl`, as for task files.
        let shown = |path: String| {
            if staged.is_some() || global.root == Path::new(".") {
                path
            } else {
                global.root.join(path).display().to_string()
            }
        };
        dataset_base = if staged.is_some() {
            dataset_root.clone()
        } else {
            PathBuf::new()
        };
        datasets = listed
            .into_iter()
            .map(|mut f| {
                f.path = shown(f.path);
                f
            })
            .collect();
        unread = files::not_datasets(&dataset_root)
            .into_iter()
            .map(shown)
            .collect();
        work = files::list_work(&dataset_root);
    }
    let mut named_paths = Vec::new();
    for path in &args.paths {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.as_deref().and_then(layout::format_of).is_some() && !path.is_dir() {
            let file = files::stat(&base, &path.to_string_lossy())
                .ok_or_else(|| no_such_file(&path.display().to_string()))?;
            datasets.push(file);
        } else {
            named_paths.push(path.clone());
        }
    }
    let paths = if staged.is_some() {
        vec![PathBuf::from(layout::TASKS_DIR)]
    } else if args.paths.is_empty() {
        // `./tasks/a.yaml` reads worse than `tasks/a.yaml` in every message.
        vec![if global.root == Path::new(".") {
            PathBuf::from(layout::TASKS_DIR)
        } else {
            global.root.join(layout::TASKS_DIR)
        }]
    } else {
        named_paths
    };
    for path in &paths {
        let found = task_files(&base, path)?;
        if found.is_empty() && path.is_dir() && named {
            return Err(super::finding(format!(
                "no task files under {} (*.yaml or *.yml)",
                path.display()
            )));
        }
        targets.extend(found);
    }
    let mut claims: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut reports = Vec::new();
    sync::load_all(&base, targets.clone(), |mut loaded: Loaded| {
        if let Some(id) = &loaded.claim {
            claims
                .entry(id.clone())
                .or_default()
                .push(loaded.file.path.clone());
        }
        if let Some(task) = &loaded.task {
            let mut found = input_source_warnings(&task.json, &dataset_ids);
            if !found.is_empty() {
                let bytes = files::read(&base, &loaded.file.path).unwrap_or_default();
                annotask::yaml::locate(&bytes, &mut found);
                loaded.diagnostics.extend(found);
            }
        }
        reports.push(Report {
            file: loaded.file.path,
            diagnostics: loaded.diagnostics,
        });
        Ok::<_, anyhow::Error>(())
    })?;
    let mut checked = targets.len() + datasets.len() + work.len();
    if !named {
        let team = dataset_root.join(annotask::team::TEAM_FILE);
        if let Ok(bytes) = std::fs::read(&team) {
            checked += 1;
            let diagnostics = annotask::team::Team::parse(&bytes)
                .err()
                .unwrap_or_default();
            let file = if staged.is_some() || global.root == Path::new(".") {
                annotask::team::TEAM_FILE.to_owned()
            } else {
                team.display().to_string()
            };
            reports.push(Report { file, diagnostics });
        }
        if staged.is_some() {
            reports.extend(rewritten_work_files(&global.root)?);
        }
    }
    check_datasets(&dataset_base, datasets, &mut reports);
    let mut refused = if work.is_empty() {
        Vec::new()
    } else {
        flagged_lines(&dataset_root)?
    };
    for (file, mut diagnostics) in sync::check_work(&dataset_root, work) {
        if let Some(i) = refused.iter().position(|r| r.file == file) {
            diagnostics.append(&mut refused.swap_remove(i).diagnostics);
        }
        let file = if staged.is_some() || global.root == Path::new(".") {
            file
        } else {
            global.root.join(file).display().to_string()
        };
        reports.push(Report { file, diagnostics });
    }
    reports.sort_by(|a, b| a.file.cmp(&b.file));
    for path in unread {
        let diagnostic = Diagnostic::warning(
            "",
            "not read: a dataset is a `.jsonl` or `.csv` file directly in inputs/",
        )
        .hint("rename or move it to make it a dataset, or move it out of inputs/");
        reports.push(Report {
            file: path,
            diagnostics: vec![diagnostic],
        });
    }
    // Two files defining one id make both invalid, as they do in the index.
    for (id, paths) in claims.iter().filter(|(_, paths)| paths.len() > 1) {
        for path in paths {
            let others: Vec<String> = paths.iter().filter(|p| *p != path).cloned().collect();
            let mut d = sync::conflict_diagnostic(id, &others);
            let bytes = files::read(&base, path).unwrap_or_default();
            annotask::yaml::locate(&bytes, std::slice::from_mut(&mut d));
            if let Some(report) = reports.iter_mut().find(|r| &r.file == path) {
                report.diagnostics.push(d);
            }
        }
    }
    reports.retain(|r| !r.diagnostics.is_empty());
    let invalid = reports.iter().filter(|r| r.has_errors()).count();
    let summary = Summary {
        files: checked,
        invalid,
        reports: &reports,
    };
    let style = args.format.unwrap_or(match global.format {
        Format::Json => Style::Json,
        Format::Table | Format::Yaml => Style::Human,
    });
    match (style, global.format) {
        (Style::Human, Format::Yaml) => output::structured(Format::Yaml, &summary),
        (Style::Human, _) => {
            let read = |file: &str| std::fs::read_to_string(base.join(file)).ok();
            print!("{}", output::human(&reports, read, output::color(), None));
            if !output::quiet() {
                println!("{}, {invalid} invalid", files_checked(checked));
            }
        }
        (Style::Json, _) => output::json(&summary),
        (Style::Github, _) => {
            print!("{}", github(&base, &reports));
            if !output::quiet() {
                println!("{}, {invalid} invalid", files_checked(checked));
            }
        }
    }
    Ok(if invalid > 0 {
        Outcome::Invalid
    } else {
        Outcome::Success
    })
}

/// The warnings of a task whose inputs cannot be found offline: a DATASET with no file, a
/// SAVED_SEARCH. `json` is the task's canonical JSON.
fn input_source_warnings(
    json: &str,
    datasets: &std::collections::HashSet<String>,
) -> Vec<Diagnostic> {
    let task: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let source = &task["input_source"];
    match (source["type"].as_str(), source["id"].as_str()) {
        (Some("DATASET"), Some(id)) if !datasets.contains(id) => vec![
            Diagnostic::warning(
                "input_source.id",
                format!("dataset `{id}` has no file, so the task has no inputs"),
            )
            .hint(format!(
                "add {INPUTS_DIR}/{id}.jsonl or {INPUTS_DIR}/{id}.csv"
            )),
        ],
        (Some("SAVED_SEARCH"), _) => vec![
            Diagnostic::warning(
                "input_source.type",
                "a saved search is answered by the hosted API only: offline the task has no inputs",
            )
            .hint("list its inputs in a dataset file and use `type: DATASET`"),
        ],
        _ => Vec::new(),
    }
}

/// Checks dataset files as the sync reads them (the same rules and messages), adding their
/// reports.
fn check_datasets(base: &Path, datasets: Vec<DiskFile>, reports: &mut Vec<Report>) {
    let plan = sync::dataset_changes(datasets, &Default::default(), &[]);
    for (file, _, d) in plan.refused {
        reports.push(Report {
            file: file.path,
            diagnostics: vec![d],
        });
    }
    let _ = sync::load_datasets(base, plan.read, |outcome| {
        let diagnostics = match outcome.dataset {
            Ok(mut dataset) => {
                let found = local_file_warnings(base, &outcome.file.path, &dataset);
                dataset.diagnostics.extend(found);
                dataset.diagnostics
            }
            Err(d) => vec![d],
        };
        reports.push(Report {
            file: outcome.file.path,
            diagnostics,
        });
        Ok::<_, ()>(())
    });
    reports.sort_by(|a, b| a.file.cmp(&b.file));
}

/// At most this many missing or unservable local files are reported per dataset; the rest are
/// counted.
const MAX_FILE_WARNINGS: usize = 100;

/// Warnings for inputs whose local file (a URL without a scheme: a path from the project's
/// root) does not exist, lies outside the project or would not be served, each at its line.
/// Only for a dataset in a project's `inputs/` folder, whose root is known.
fn local_file_warnings(base: &Path, file: &str, dataset: &inputs::Dataset) -> Vec<Diagnostic> {
    let path = base.join(file);
    let Some(root) = path
        .parent()
        .filter(|dir| dir.file_name().is_some_and(|n| n == INPUTS_DIR))
        .and_then(Path::parent)
    else {
        return Vec::new();
    };
    let Some(format) = path
        .file_name()
        .and_then(|n| layout::format_of(&n.to_string_lossy()))
    else {
        return Vec::new();
    };
    let Ok(bytes) = std::fs::read(&path) else {
        return Vec::new();
    };
    let mut starts = vec![0];
    starts.extend(line_starts(&bytes));
    let head = &bytes[..starts.get(1).copied().unwrap_or(bytes.len())];
    let mut found = Vec::new();
    let mut more = 0;
    for row in &dataset.inputs {
        let Some(&start) = starts.get(row.line as usize - 1) else {
            continue;
        };
        let Some(text) = bytes.get(start..start + row.len as usize) else {
            continue;
        };
        let Some(url) = inputs::input_json(format, head, text, &row.id)
            .and_then(|json| inputs::file_url(json.get()))
        else {
            continue;
        };
        let layout::MediaSource::Local(local) = layout::media_source(&url) else {
            continue;
        };
        let problem = match layout::local_media_path(local) {
            Err(why) => why.to_string(),
            Ok((local, _)) => match files::is_file_no_links(root, &local) {
                Ok(()) => continue,
                Err(why) => why,
            },
        };
        if found.len() == MAX_FILE_WARNINGS {
            more += 1;
            continue;
        }
        let line = std::str::from_utf8(text).unwrap_or_default();
        let column = line
            .find(url.as_str())
            .map_or(1, |at| line[..at].chars().count() as u32 + 1);
        found.push(
            Diagnostic::warning(
                "data.image.url",
                format!("input `{}`'s file `{url}` cannot be shown: {problem}", row.id),
            )
            .hint("a URL without a scheme is a path from the project's root (the folder that holds tasks/), e.g. `images/0001.jpg`")
            .at(Location {
                line: row.line,
                column,
            }),
        );
    }
    if more > 0 {
        found.push(Diagnostic::warning(
            "",
            format!("and {more} more inputs whose local file cannot be shown"),
        ));
    }
    found
}

/// Where each line after the first starts.
fn line_starts(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
}

fn files_checked(n: usize) -> String {
    format!("{n} file{} checked", if n == 1 { "" } else { "s" })
}

/// GitHub's workflow commands: `::error file=F,line=L,col=C,title=FIELD::MESSAGE`, one per
/// problem, which the Actions runner turns into annotations on the files.
fn github(base: &Path, reports: &[Report]) -> String {
    // Values are escaped as the runner expects; properties escape `:` and `,` as well.
    let data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    let text = |file: &str| std::fs::read_to_string(base.join(file)).ok();
    let mut out = String::new();
    for report in reports {
        for d in &report.diagnostics {
            let mut props = format!("file={}", property(&report.file));
            if let Some(at) = d.location {
                props.push_str(&format!(",line={},col={}", at.line, at.column));
                // The span the human format marks, so the annotation covers the same text.
                if let Some(line) = text(&report.file)
                    .as_deref()
                    .and_then(|t| t.lines().nth(at.line as usize - 1))
                {
                    let width = output::marked(line, at.column as usize).1;
                    props.push_str(&format!(
                        ",endLine={},endColumn={}",
                        at.line,
                        at.column as usize + width - 1
                    ));
                }
            }
            let title = if d.field.is_empty() {
                "annotask"
            } else {
                &d.field
            };
            props.push_str(&format!(",title={}", property(title)));
            let mut message = d.message.clone();
            if let Some(hint) = &d.hint {
                message.push_str(&format!("\nhint: {hint}"));
            }
            out.push_str(&format!("::{} {props}::{}\n", d.severity, data(&message)));
        }
    }
    out
}

/// The task files of git's index, checked out into a temporary folder (`git checkout-index`),
/// so `--staged` reads exactly what a commit would hold; removed when dropped.
struct Staged {
    dir: PathBuf,
}

impl Staged {
    fn checkout(root: &Path) -> anyhow::Result<Staged> {
        let dir = std::env::temp_dir().join(format!("annotask-staged-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join(layout::TASKS_DIR))
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let staged = Staged { dir };
        let git = |args: &[&str]| -> anyhow::Result<Vec<u8>> {
            let out = std::process::Command::new("git")
                .current_dir(root)
                .args(args)
                .output()
                .context("cannot run git")?;
            if !out.status.success() {
                return Err(super::Failure::new(
                    super::Exit::Io,
                    format!(
                        "git {}: {}",
                        args.join(" "),
                        String::from_utf8_lossy(&out.stderr).trim()
                    ),
                )
                .into());
            }
            Ok(out.stdout)
        };
        let listed = git(&[
            "ls-files",
            "-z",
            "--cached",
            "--",
            layout::TASKS_DIR,
            INPUTS_DIR,
            annotask::layout::WORK_DIR,
            annotask::team::TEAM_FILE,
        ])?;
        let prefix = format!("--prefix={}/", staged.dir.display());
        let paths: Vec<&str> = std::str::from_utf8(&listed)
            .context(super::Failure::new(
                super::Exit::Io,
                "git listed a path that is not UTF-8",
            ))?
            .split('\0')
            .filter(|p| !p.is_empty())
            .collect();
        for chunk in paths.chunks(1000) {
            let mut args = vec!["checkout-index", "--force", &prefix, "--"];
            args.extend_from_slice(chunk);
            git(&args)?;
        }
        Ok(staged)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A file named on the command line is checked whatever its name; a folder, for its task files.
fn task_files(base: &Path, path: &Path) -> anyhow::Result<Vec<DiskFile>> {
    let name = path.to_string_lossy().into_owned();
    if base.join(path).is_dir() {
        return Ok(files::walk(base, &name));
    }
    files::stat(base, &name)
        .map(|f| vec![f])
        .ok_or_else(|| no_such_file(&name))
}

fn no_such_file(name: &str) -> anyhow::Error {
    super::Failure::new(super::Exit::Io, format!("{name}: no such file")).into()
}

/// The work lines the replay does not count (they break a rule the API enforces), by file:
/// the project read into an index in memory, so that the project's own is not touched. A
/// project whose tasks cannot be read has none to tell.
fn flagged_lines(root: &Path) -> anyhow::Result<Vec<Report>> {
    let Ok(mut repo) = annotask::repo::Repo::open_in_memory(root) else {
        return Ok(Vec::new());
    };
    repo.sync()?;
    Ok(repo.work_warnings()?)
}

/// The staged work files that rewrite what the last commit had (work files are only appended
/// to): one error each, at the first line that differs.
fn rewritten_work_files(root: &Path) -> anyhow::Result<Vec<Report>> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .context("cannot run git")
    };
    let changed = git(&[
        "diff",
        "--cached",
        "--name-status",
        "--no-renames",
        "-z",
        "--",
        annotask::layout::WORK_DIR,
    ])?;
    if !changed.status.success() {
        // No commit yet: nothing to compare with.
        return Ok(Vec::new());
    }
    let changed = String::from_utf8_lossy(&changed.stdout).into_owned();
    let mut parts = changed.split('\0').filter(|p| !p.is_empty());
    let mut reports = Vec::new();
    while let (Some(status), Some(path)) = (parts.next(), parts.next()) {
        let problem = match status {
            "A" => continue,
            "M" => {
                let before = git(&["show", &format!("HEAD:{path}")])?.stdout;
                let after = git(&["show", &format!(":{path}")])?.stdout;
                if after.starts_with(&before) {
                    continue;
                }
                let same = before
                    .iter()
                    .zip(&after)
                    .take_while(|(a, b)| a == b)
                    .count();
                let line = before[..same].iter().filter(|&&b| b == b'\n').count() as u32 + 1;
                Diagnostic::error(
                    "",
                    "an earlier line is rewritten: work files are only appended to",
                )
                .at(annotask::validate::Location { line, column: 1 })
            }
            _ => Diagnostic::error(
                "",
                "the work file is removed: work files are only appended to",
            ),
        };
        reports.push(Report {
            file: path.to_owned(),
            diagnostics: vec![problem.hint("append a new line that corrects it instead (annotask serve writes corrections as new lines)")],
        });
    }
    Ok(reports)
}
