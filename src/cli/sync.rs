//! `annotask sync`: brings the index up to date and reports what changed and what is invalid.

use serde::Serialize;

use annotask::validate::Report;

use super::{Format, Global, Outcome, output};

#[derive(Serialize)]
struct SyncReport<'a> {
    added: &'a [String],
    updated: &'a [String],
    removed: &'a [String],
    invalid: &'a [Report],
}

pub fn run(global: &Global) -> anyhow::Result<Outcome> {
    let mut repo = global.open()?;
    let summary = global.sync(&mut repo)?;
    let invalid = repo.reports(true)?;
    match global.format {
        Format::Table => {
            let read = |file: &str| std::fs::read_to_string(repo.root().join(file)).ok();
            print!("{}", output::human(&invalid, read, output::color(), None));
            // Lines the replay did not count are warnings: they never fail a sync.
            let refused: Vec<Report> = repo
                .work_warnings()?
                .into_iter()
                .filter(|r| !invalid.iter().any(|i| i.file == r.file))
                .collect();
            print!("{}", output::human(&refused, read, output::color(), None));
            if !output::quiet() {
                println!(
                    "{}",
                    output::sync_line(&summary, invalid.len(), repo.task_count()?)
                );
            }
        }
        format => output::structured(
            format,
            &SyncReport {
                added: &summary.added,
                updated: &summary.updated,
                removed: &summary.removed,
                invalid: &invalid,
            },
        ),
    }
    Ok(if invalid.is_empty() {
        Outcome::Success
    } else {
        Outcome::Invalid
    })
}
