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

/// What the watcher prints: one JSON object a line with `-o json`, else text for people.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Line<'a> {
    /// The first sync is done and changes are being watched.
    Ready {
        #[serde(skip)]
        summary: &'a Summary,
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
    /// The sets of input ids of these datasets changed.
    Inputs {
        datasets: &'a [String],
        added: u64,
        removed: u64,
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
    let json = global.format == Format::Json;
    if let Mode::Poll {
        reason: Some(message),
    } = watcher.mode()
    {
        emit(&repo, json, &Line::Warning { message });
    }
    let summary = global.sync(&mut repo)?;
    // Only now: a stop during the first sync may as well end the process, since its one
    // transaction then rolls back, and a long first sync should not have to run to the end.
    // Before the ready line, so that whoever waits for it can stop the watcher cleanly.
    let stopper = watcher.stopper();
    ctrlc::set_handler(move || stopper.stop())
        .context(super::Failure::new(super::Exit::Io, "cannot handle Ctrl-C"))?;
    let ready = Line::Ready {
        summary: &summary,
        tasks: repo.task_count()?,
        invalid: &repo.reports(true)?,
        polling: matches!(watcher.mode(), Mode::Poll { .. }),
    };
    emit(&repo, json, &ready);
    let mut flagged = warn_flagged(&repo, json, 0);
    watcher.run(&mut repo, |repo, event| match event {
        Event::Changed(summary) => {
            changed(repo, json, summary);
            flagged = warn_flagged(repo, json, flagged);
        }
        Event::Warning(message) => emit(repo, json, &Line::Warning { message: &message }),
    })?;
    Ok(Outcome::Success)
}

fn changed(repo: &Repo, json: bool, summary: &Summary) {
    let file = |id: &str| repo.task_file(id).ok().flatten();
    for id in &summary.removed {
        emit(repo, json, &Line::Removed { id });
    }
    for id in &summary.added {
        emit(repo, json, &Line::Added { id, file: file(id) });
    }
    for id in &summary.updated {
        emit(repo, json, &Line::Updated { id, file: file(id) });
    }
    if !summary.datasets_changed.is_empty() {
        let line = Line::Inputs {
            datasets: &summary.datasets_changed,
            added: summary.inputs_added,
            removed: summary.inputs_removed,
        };
        emit(repo, json, &line);
    }
    for file in &summary.fixed {
        emit(repo, json, &Line::Fixed { file });
    }
    for path in &summary.invalid {
        if let Ok(Some(report)) = repo.file_report(path) {
            emit(repo, json, &Line::Invalid { report: &report });
        }
    }
}

/// A warning line when the replay warns about work lines and their number is not `before`
/// (so a change that adds one says so, and others stay quiet); returns the number now.
fn warn_flagged(repo: &Repo, json: bool, before: usize) -> usize {
    let Ok(reports) = repo.work_warnings() else {
        return before;
    };
    let flagged: usize = reports.iter().map(|r| r.diagnostics.len()).sum();
    if flagged > 0 && flagged != before {
        let message = format!(
            "{flagged} work line(s) to look at (not counted, or an input handed out twice); `annotask status` lists them"
        );
        emit(repo, json, &Line::Warning { message: &message });
    }
    flagged
}

fn emit(repo: &Repo, json: bool, line: &Line) {
    if json {
        let text = serde_json::to_string(line).expect("watch lines always serialise");
        println!("{text}");
        return;
    }
    let within = |file: &Option<String>| file.as_ref().map_or(String::new(), |f| format!(" ({f})"));
    let problems = |reports: &[Report]| {
        let read = |file: &str| std::fs::read_to_string(repo.root().join(file)).ok();
        output::human(reports, read, output::color(), None)
    };
    match line {
        Line::Ready {
            summary,
            tasks,
            invalid,
            polling,
        } => {
            print!("{}", problems(invalid));
            println!("{}", output::sync_line(summary, invalid.len(), *tasks));
            let how = if *polling {
                format!("scanning every {} ms", POLL_INTERVAL.as_millis())
            } else {
                "file notifications".to_owned()
            };
            println!(
                "watching {} ({how}, pid {}); Ctrl-C to stop",
                repo.root().join(annotask::layout::TASKS_DIR).display(),
                std::process::id()
            );
        }
        Line::Added { id, file } => println!("added {id}{}", within(file)),
        Line::Updated { id, file } => println!("updated {id}{}", within(file)),
        Line::Removed { id } => println!("removed {id}"),
        Line::Fixed { file } => println!("fixed {file}"),
        Line::Inputs {
            datasets,
            added,
            removed,
        } => println!(
            "inputs of {}: {added} added, {removed} removed",
            datasets.join(", ")
        ),
        Line::Invalid { report } => {
            let text = problems(std::slice::from_ref(report));
            println!("invalid {}\n{}", report.file, text.trim_end());
        }
        Line::Warning { message } => eprintln!("warning: {message}"),
    }
}
