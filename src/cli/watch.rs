//! `annotask watch`: keeps the index current while task files change, one line per change.
//! Ctrl-C or SIGTERM ends it once the batch in flight is applied.

use anyhow::Context;
use serde::Serialize;

use annotask::repo::Repo;
use annotask::sync::Summary;
use annotask::validate::Report;
use annotask::watch::{Mode, POLL_INTERVAL, Report as Event, Watcher};

use super::{Format, Global, Outcome, output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scan for changes every 500 ms instead of using the system's file notifications, which
    /// network file systems do not deliver.
    #[arg(long)]
    poll: bool,
}

/// One line of `-o json` output.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Line<'a> {
    Ready {
        tasks: u64,
        invalid: &'a [Report],
        polling: bool,
    },
    Added {
        id: &'a str,
        file: Option<String>,
    },
    Updated {
        id: &'a str,
        file: Option<String>,
    },
    Removed {
        id: &'a str,
    },
    Fixed {
        file: &'a str,
    },
    Invalid {
        #[serde(flatten)]
        report: &'a Report,
    },
    Warning {
        message: &'a str,
    },
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let mut repo = global.open()?;
    let watcher = Watcher::start(&repo, args.poll)?;
    let stopper = watcher.stopper();
    ctrlc::set_handler(move || stopper.stop()).context("cannot handle Ctrl-C")?;
    let json = global.format == Format::Json;
    let polling = matches!(watcher.mode(), Mode::Poll { .. });
    if let Mode::Poll {
        reason: Some(reason),
    } = watcher.mode()
    {
        warn(json, reason);
    }
    let summary = global.sync(&mut repo)?;
    let invalid = repo.index().reports(true)?;
    let tasks = repo.index().task_count()?;
    if json {
        line(&Line::Ready {
            tasks,
            invalid: &invalid,
            polling,
        });
    } else {
        print!(
            "{}",
            output::human(&invalid, |f| read(&repo, f), output::color())
        );
        println!("{}", output::sync_line(&summary, invalid.len(), tasks));
        let how = if polling {
            format!("scanning every {} ms", POLL_INTERVAL.as_millis())
        } else {
            "file notifications".to_owned()
        };
        println!(
            "watching {} ({how}); Ctrl-C to stop",
            repo.root().join(annotask::files::TASKS_DIR).display()
        );
    }
    watcher.run(&mut repo, |repo, event| match event {
        Event::Changed(summary) => changed(repo, summary, json),
        Event::Warning(message) => warn(json, &message),
    })?;
    Ok(Outcome::Success)
}

fn changed(repo: &Repo, summary: &Summary, json: bool) {
    let file = |id: &str| repo.index().task_file(id).ok().flatten();
    let mut lines = Vec::new();
    lines.extend(summary.removed.iter().map(|id| Line::Removed { id }));
    lines.extend(
        summary
            .added
            .iter()
            .map(|id| Line::Added { id, file: file(id) }),
    );
    lines.extend(
        summary
            .updated
            .iter()
            .map(|id| Line::Updated { id, file: file(id) }),
    );
    lines.extend(summary.fixed.iter().map(|file| Line::Fixed { file }));
    let reports: Vec<Report> = summary
        .invalid
        .iter()
        .filter_map(|path| repo.index().file_report(path).ok().flatten())
        .collect();
    lines.extend(reports.iter().map(|report| Line::Invalid { report }));
    for l in &lines {
        if json {
            line(l);
            continue;
        }
        let text = match l {
            Line::Added { id, file } => format!("added {id}{}", within(file)),
            Line::Updated { id, file } => format!("updated {id}{}", within(file)),
            Line::Removed { id } => format!("removed {id}"),
            Line::Fixed { file } => format!("fixed {file}"),
            Line::Invalid { report } => format!(
                "invalid {}\n{}",
                report.file,
                output::human(
                    std::slice::from_ref(report),
                    |f| read(repo, f),
                    output::color()
                )
                .trim_end()
            ),
            Line::Ready { .. } | Line::Warning { .. } => continue,
        };
        println!("{text}");
    }
}

fn within(file: &Option<String>) -> String {
    file.as_ref().map_or(String::new(), |f| format!(" ({f})"))
}

fn read(repo: &Repo, file: &str) -> Option<String> {
    std::fs::read_to_string(repo.root().join(file)).ok()
}

fn line(line: &Line) {
    println!(
        "{}",
        serde_json::to_string(line).expect("watch lines always serialise")
    );
}

fn warn(json: bool, message: &str) {
    if json {
        line(&Line::Warning { message });
    } else {
        eprintln!("warning: {message}");
    }
}
