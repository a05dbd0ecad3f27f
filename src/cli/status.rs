//! `annotask status`: how many tasks, inputs, datasets and work files are indexed, which files have
//! problems, and whether a watcher keeps the index current.

use serde::Serialize;

use annotask::validate::Report;

use super::{Format, Global, Outcome, output};

#[derive(Serialize)]
struct Status<'a> {
    tasks: u64,
    /// Distinct input ids over every dataset.
    inputs: u64,
    datasets: usize,
    /// Files under `work/`: one per task and person who worked on it.
    work_files: u64,
    /// Files with an error; `reports` also lists files with only warnings.
    invalid: usize,
    watcher: Watcher,
    reports: &'a [Report],
}

#[derive(Serialize)]
struct Watcher {
    running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
}

pub fn run(global: &Global) -> anyhow::Result<Outcome> {
    let repo = global.open_synced()?;
    let reports = repo.reports(false)?;
    let watcher = repo.watcher();
    let totals = repo.totals()?;
    let status = Status {
        tasks: totals.tasks,
        inputs: totals.inputs,
        datasets: totals.datasets,
        work_files: totals.work_files,
        invalid: reports.iter().filter(|r| r.has_errors()).count(),
        watcher: Watcher {
            running: watcher.is_some(),
            pid: watcher.and_then(|w| w.pid),
        },
        reports: &reports,
    };
    match global.format {
        Format::Table => {
            let width = output::terminal_width();
            print!(
                "{}",
                output::human(
                    &reports,
                    |f| std::fs::read_to_string(repo.root().join(f)).ok(),
                    output::color(),
                    Some(width)
                )
            );
            let files = |n: usize| {
                if n == 1 {
                    "1 file".into()
                } else {
                    format!("{n} files")
                }
            };
            let indexed = format!(
                "{}, {} in {} and {} indexed",
                output::count(status.tasks, "task"),
                output::count(status.inputs, "input"),
                output::count(status.datasets as u64, "dataset"),
                output::count(status.work_files, "work file"),
            );
            let problems = format!(
                "{} with errors, {} with warnings only",
                files(status.invalid),
                files(reports.len() - status.invalid)
            );
            // One line where it fits, else a line each.
            let summary = format!("{indexed}; {problems}");
            if summary.chars().count() <= width {
                println!("{summary}");
            } else {
                println!("{};", output::wrap(&indexed, width.saturating_sub(1), "  "));
                println!("{}", output::wrap(&problems, width, "  "));
            }
            match (status.watcher.running, status.watcher.pid) {
                (true, Some(pid)) => println!("a watcher keeps the index current (pid {pid})"),
                (true, None) => println!("a watcher keeps the index current"),
                (false, _) => println!("no watcher is running"),
            }
        }
        format => output::structured(format, &status),
    }
    Ok(Outcome::Success)
}
