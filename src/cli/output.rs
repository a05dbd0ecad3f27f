//! Terminal output shared by the commands: diagnostics, task tables, API response bodies and
//! errors. Results go to stdout; errors to stderr, except in JSON mode, where an error is the
//! API's status object on stdout so scripts read one shape.

use std::fmt::Write as _;
use std::io::IsTerminal;

use serde::Serialize;

use annotask::api::{StatusCode, StatusResponse, TasksResponse, ok};
use annotask::model::Task;
use annotask::sync::Summary;
use annotask::validate::{Diagnostic, Report, Severity};
use annotask::yaml;

use super::Format;

/// `file:line:column: severity: field: message`, then the hint, as compilers print them.
pub fn diagnostic(file: &str, d: &Diagnostic) -> String {
    let mut out = String::from(file);
    if let Some(at) = d.location {
        let _ = write!(out, ":{}:{}", at.line, at.column);
    }
    let _ = write!(out, ": {}: ", d.severity);
    if !d.field.is_empty() {
        let _ = write!(out, "{}: ", d.field);
    }
    out.push_str(&d.message);
    if let Some(hint) = &d.hint {
        let _ = write!(out, "\n    hint: {hint}");
    }
    out
}

/// Whether to colour stdout: only on a terminal, and never when `NO_COLOR` is set
/// (<https://no-color.org>).
pub fn color() -> bool {
    match CHOICES.get().map_or(ColorChoice::Auto, |c| c.color) {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// `--color`: `auto` colours a terminal unless NO_COLOR is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The output choices of the global flags, set once at start.
struct Choices {
    color: ColorChoice,
    quiet: bool,
}

static CHOICES: std::sync::OnceLock<Choices> = std::sync::OnceLock::new();

pub fn choose(color: ColorChoice, quiet: bool) {
    let _ = CHOICES.set(Choices { color, quiet });
}

/// `-q`: no progress chatter on success (what was written, sync counts); results, problems
/// and errors are still printed.
pub fn quiet() -> bool {
    CHOICES.get().is_some_and(|c| c.quiet)
}

const RESET: &str = "\x1b[0m";
const BLUE: &str = "\x1b[1;34m";

/// Diagnostics for a person: the `file:line:column` line that editors and terminals link,
/// then the source line with the offending span marked, then the hint. `read` gives a file's
/// text, when it can be read; without it, only the first line is printed. With a `width`, the
/// first line and the hint are wrapped to it (`status`); without, the first line stays whole,
/// as compilers print it, for editors and problem matchers that read one line (`validate`).
pub fn human(
    reports: &[Report],
    read: impl Fn(&str) -> Option<String>,
    color: bool,
    width: Option<usize>,
) -> String {
    let paint = |code: &'static str| if color { code } else { "" };
    let reset = paint(RESET);
    let mut out = String::new();
    for report in reports {
        let source = read(&report.file);
        // Each line found once, not once per diagnostic: a file of many bad lines would
        // otherwise take time quadratic in them.
        let lines: Vec<&str> = source
            .as_deref()
            .map_or_else(Vec::new, |s| s.lines().collect());
        for d in report.diagnostics.iter().take(MAX_SHOWN_PER_FILE) {
            let severity = paint(match d.severity {
                Severity::Error => "\x1b[1;31m",
                Severity::Warning => "\x1b[1;33m",
            });
            let mut head = diagnostic(
                &report.file,
                &Diagnostic {
                    hint: None,
                    ..d.clone()
                },
            );
            if let Some(width) = width {
                head = wrap(&head, width, "    ");
            }
            let word = format!(": {}: ", d.severity);
            if color && let Some(at) = head.find(&word) {
                head.replace_range(
                    at..at + word.len(),
                    &format!(": {severity}{}{reset}: ", d.severity),
                );
            }
            out.push_str(&head);
            out.push('\n');
            let line = d.location.and_then(|at| {
                let text = *lines.get(at.line.checked_sub(1)? as usize)?;
                Some((at, text))
            });
            let number = line.map_or(String::new(), |(at, _)| at.line.to_string());
            let gutter = " ".repeat(number.len());
            let blue = paint(BLUE);
            if let Some((at, text)) = line {
                let (text, column) = clip(text, at.column as usize);
                let (before, span) = marked(&text, column);
                let span = span.min(MAX_SNIPPET_CHARS);
                let _ = writeln!(out, "{blue}{gutter} |{reset}");
                let _ = writeln!(out, "{blue}{number} |{reset} {text}");
                let _ = writeln!(
                    out,
                    "{blue}{gutter} |{reset} {before}{severity}{}{reset}",
                    "^".repeat(span)
                );
            }
            if let Some(hint) = &d.hint {
                let hint = format!("hint: {hint}");
                let hint = match width {
                    Some(width) => wrap(
                        &hint,
                        width.saturating_sub(gutter.len() + 3),
                        &" ".repeat(gutter.len() + 9),
                    ),
                    None => hint,
                };
                let _ = writeln!(out, "{blue}{gutter} ={reset} {hint}");
            }
            out.push('\n');
        }
        let more = report.diagnostics.len().saturating_sub(MAX_SHOWN_PER_FILE);
        if more > 0 {
            let _ = writeln!(
                out,
                "{}: {more} more problem{} not shown (`-o json` lists them all)\n",
                report.file,
                if more == 1 { "" } else { "s" }
            );
        }
    }
    out
}

/// Human output shows this many problems of one file, then how many more it has: a file of
/// thousands of bad lines says what is wrong in its first few.
const MAX_SHOWN_PER_FILE: usize = 20;

/// Source lines are shown at most this long, around the marked column: a minified file's
/// one huge line would otherwise fill the terminal.
const MAX_SNIPPET_CHARS: usize = 200;

/// `line` cut to a window around `column`, with `…` where text was left out, and the column
/// within the window.
fn clip(line: &str, column: usize) -> (String, usize) {
    let count = line.chars().count();
    if count <= MAX_SNIPPET_CHARS {
        return (line.to_owned(), column);
    }
    let start = column.saturating_sub(1).saturating_sub(40).min(count);
    let mut text: String = line.chars().skip(start).take(MAX_SNIPPET_CHARS).collect();
    let mut column = column - start;
    if start > 0 {
        text.insert(0, '…');
        column += 1;
    }
    if start + MAX_SNIPPET_CHARS < count {
        text.push('…');
    }
    (text, column)
}

/// The whitespace that lines a marker up under column `column` (1-based, in characters) of
/// `line`, keeping its tabs, and the width of the token that starts there.
pub fn marked(line: &str, column: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    let start = column.saturating_sub(1).min(chars.len());
    let before = chars[..start]
        .iter()
        .map(|c| if *c == '\t' { '\t' } else { ' ' })
        .collect();
    let rest = &chars[start..];
    let width = match rest.first() {
        Some(quote @ ('"' | '\'')) => rest[1..]
            .iter()
            .position(|c| c == quote)
            .map_or(rest.len(), |end| end + 2),
        Some(_) => {
            // A plain scalar ends at a `: ` (it was a key), a comment, or flow punctuation.
            let end = (0..rest.len())
                .find(|&i| match rest[i] {
                    ':' => rest.get(i + 1).is_none_or(|c| c.is_whitespace()),
                    '#' => i > 0 && rest[i - 1].is_whitespace(),
                    ',' | ']' | '}' => true,
                    _ => false,
                })
                .unwrap_or(rest.len());
            rest[..end]
                .iter()
                .rev()
                .skip_while(|c| c.is_whitespace())
                .count()
        }
        None => 0,
    };
    (before, width.max(1))
}

/// What a sync did, in one line.
pub fn sync_line(summary: &Summary, invalid: usize, tasks: u64) -> String {
    format!(
        "{} added, {} updated, {} removed, {invalid} invalid; {} indexed",
        summary.added.len(),
        summary.updated.len(),
        summary.removed.len(),
        count(tasks, "task"),
    )
}

/// `1 task`, `2 tasks`.
pub fn count(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", grouped(n), if n == 1 { "" } else { "s" })
}

/// `n` with its thousands grouped: 100,000.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() * 4 / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

pub fn reports(reports: &[Report]) -> String {
    let mut out = String::new();
    for report in reports {
        for d in &report.diagnostics {
            out.push_str(&diagnostic(&report.file, d));
            out.push('\n');
        }
    }
    out
}

pub fn json<T: Serialize + ?Sized>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("responses always serialise")
    );
}

/// Prints a value in the chosen format; `table` is drawn by the caller.
pub fn structured<T: Serialize + ?Sized>(format: Format, value: &T) {
    match format {
        Format::Json => json(value),
        Format::Yaml | Format::Table => print!("{}", yaml::to_yaml_value(value)),
    }
}

/// The tasks a write command wrote: the API's response body, task files, or one line each.
pub fn written(format: Format, tasks: Vec<Task>, line: impl Fn(&Task) -> String) {
    match format {
        Format::Json => json(&TasksResponse {
            status: ok(),
            tasks,
        }),
        Format::Yaml => structured(Format::Yaml, &tasks),
        Format::Table if quiet() => {}
        Format::Table => tasks.iter().for_each(|task| println!("{}", line(task))),
    }
}

/// The width tables and summaries are fitted to: `COLUMNS` when set (as `ls` reads it), else
/// the width of the terminal stdout is, else 80 (a pipe, a file).
pub fn terminal_width() -> usize {
    if let Some(columns) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
    {
        return columns;
    }
    if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size_of(std::io::stdout()) {
        return usize::from(w);
    }
    DEFAULT_WIDTH
}

/// The width of a pipe or a file: the terminal docs/cli.md (Tables) promises to fit.
pub const DEFAULT_WIDTH: usize = 80;

/// One line per task: what a person scanning a list needs, fitted to `width`: TYPE goes first,
/// then user lists shrink (to `maria-lopez +4` where that fits), then the name, then the id.
pub fn task_table(tasks: &[Task], width: usize) -> String {
    let mut rows = vec![["ID", "TYPE", "STATUS", "WORKERS", "REVIEWERS", "NAME"].map(String::from)];
    for task in tasks {
        let doc = task.doc();
        rows.push([
            task.id().to_owned(),
            doc.task_type.map_or("-".into(), |t| t.to_string()),
            task.status().name().to_owned(),
            join_or_dash(task.worker_ids()),
            join_or_dash(task.reviewer_ids()),
            doc.name.clone().unwrap_or_default(),
        ]);
    }
    let cuts = [(1, 0), (3, 14), (4, 14), (5, 8), (0, 8), (3, 7), (4, 9)];
    fitted(&rows, width, &cuts, |column, text, room| match column {
        3 | 4 => users_within(text, room),
        _ => cut(text, room),
    })
}

/// A comma-separated user list in `room` characters: whole, else its first user and how
/// many more (`maria-lopez +4`), else cut.
fn users_within(list: &str, room: usize) -> String {
    if list.chars().count() <= room {
        return list.to_owned();
    }
    let mut users = list.split(',');
    let first = users.next().unwrap_or_default();
    let short = format!("{first} +{}", users.count());
    if short.chars().count() <= room {
        short
    } else {
        cut(&short, room)
    }
}

/// `text` in `room` characters: whole, else its start and `…`.
pub fn cut(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_owned();
    }
    match room {
        0 => String::new(),
        room => text.chars().take(room - 1).chain(['…']).collect(),
    }
}

/// Rows (the first ones the header) as left-aligned columns two spaces apart; the last column
/// is not padded. Fitted to `width`: while the lines would be wider, the columns `cuts` names
/// give up room in its order, each down to the minimum given with it (0 leaves the column out),
/// and the cells wider than their column are shortened by `shorten(column, text, room)`.
pub fn fitted<const N: usize, S: AsRef<str>>(
    rows: &[[S; N]],
    width: usize,
    cuts: &[(usize, usize)],
    shorten: impl Fn(usize, &str, usize) -> String,
) -> String {
    let mut widths: [usize; N] = std::array::from_fn(|c| {
        rows.iter()
            .map(|r| r[c].as_ref().chars().count())
            .max()
            .unwrap_or(0)
    });
    let total = |widths: &[usize; N]| {
        let shown = widths.iter().filter(|w| **w > 0).count();
        widths.iter().sum::<usize>() + 2 * shown.saturating_sub(1)
    };
    for &(column, min) in cuts {
        let over = total(&widths).saturating_sub(width);
        if over == 0 {
            break;
        }
        widths[column] = if min == 0 {
            0
        } else {
            widths[column]
                .saturating_sub(over)
                .max(min)
                .min(widths[column])
        };
    }
    let shown: Vec<usize> = (0..N).filter(|c| widths[*c] > 0).collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, &c) in shown.iter().enumerate() {
            let cell = row[c].as_ref();
            let cell = if cell.chars().count() > widths[c] {
                shorten(c, cell, widths[c])
            } else {
                cell.to_owned()
            };
            if i + 1 == shown.len() {
                line.push_str(&cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// [`fitted`] with cells cut at their end.
pub fn columns<const N: usize, S: AsRef<str>>(
    rows: &[[S; N]],
    width: usize,
    cuts: &[(usize, usize)],
) -> String {
    fitted(rows, width, cuts, |_, text, room| cut(text, room))
}

/// Prose in lines of at most `width` characters, broken between words; lines after the first
/// start with `indent`. A word longer than a line stays whole.
pub fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > width && line.trim() != "" {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_owned();
        } else if len > 0 && !line.ends_with(' ') {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(line.trim_end());
    out
}

fn join_or_dash(ids: &[String]) -> String {
    if ids.is_empty() {
        "-".into()
    } else {
        ids.join(",")
    }
}

/// Prints a failed command: its full cause chain, and any diagnostics.
pub fn error(format: Format, err: &anyhow::Error) {
    let lib = err.downcast_ref::<annotask::Error>();
    if format == Format::Json {
        let status = match lib {
            Some(e) => e.status(),
            None => StatusCode::Failure.status(Some(chain(err))),
        };
        json(&StatusResponse { status });
        return;
    }
    match lib {
        Some(annotask::Error::Invalid(found)) => eprint!("{}", reports(found)),
        _ => eprintln!("error: {}", chain(err)),
    }
}

fn chain(err: &anyhow::Error) -> String {
    err.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_group_their_thousands() {
        for (n, text) in [
            (0, "0 tasks"),
            (1, "1 task"),
            (999, "999 tasks"),
            (1000, "1,000 tasks"),
            (100_000, "100,000 tasks"),
            (1_234_567, "1,234,567 tasks"),
        ] {
            assert_eq!(count(n, "task"), text);
        }
    }

    #[test]
    fn long_source_lines_are_clipped_around_the_column() {
        let line = format!("name: {}", "x".repeat(5000));
        let (text, column) = clip(&line, 1);
        assert_eq!((text.chars().count(), column), (201, 1));
        let (text, column) = clip(&line, 3000);
        assert_eq!(text.chars().nth(column - 1), Some('x'));
        assert!(text.starts_with('…') && text.ends_with('…') && text.len() < 300);
        assert_eq!(clip("id: a", 5), ("id: a".to_owned(), 5));
    }

    #[test]
    fn the_table_fits_its_width_and_is_whole_when_wide() {
        let text = "id: t\ntype: TYPE_NOT_SET\nname: A rather long name for a task\ninput_source: {type: ALL_INPUTS}\nworker: {strategy: FULL, user_ids: [maria-lopez, chen-wei, sam-okafor, ann, bob]}\n";
        let doc = annotask::yaml::parse_task(text.as_bytes()).unwrap();
        let task = annotask::validate::validate(doc, None).0.unwrap();
        let tasks = [task];
        let wide = task_table(&tasks, 200);
        assert!(
            wide.contains("maria-lopez,chen-wei,sam-okafor,ann,bob"),
            "{wide}"
        );
        assert!(wide.contains("TYPE_NOT_SET  TASK_IN_PROGRESS"), "{wide}");
        assert!(wide.contains("A rather long name for a task"), "{wide}");
        for width in [80, 60] {
            let fitted = task_table(&tasks, width);
            assert!(fitted.contains("maria-lopez +4"), "{fitted}");
            assert!(!fitted.contains("TYPE"), "TYPE goes first: {fitted}");
            for line in fitted.lines() {
                assert!(line.chars().count() <= width, "{line}");
            }
        }
        assert!(task_table(&tasks, 80).contains("A rather long name for a task"));
        let narrow = task_table(&tasks, 60);
        assert!(narrow.lines().nth(1).unwrap().ends_with('…'), "{narrow}");
    }

    #[test]
    fn prose_wraps_between_words() {
        for (text, width, expected) in [
            ("a b c", 80, "a b c"),
            ("aaa bbb ccc", 7, "aaa bbb\n  ccc"),
            ("aaa bbb ccc", 3, "aaa\n  bbb\n  ccc"),
            ("a-very-long-word b", 5, "a-very-long-word\n  b"),
        ] {
            assert_eq!(wrap(text, width, "  "), expected, "{text} in {width}");
        }
        for (text, room, expected) in [("abc", 3, "abc"), ("abcd", 3, "ab…"), ("abc", 0, "")] {
            assert_eq!(cut(text, room), expected);
        }
    }

    #[test]
    fn markers_cover_the_token_at_the_column() {
        let width = |line: &str, column| marked(line, column).1;
        assert_eq!(width("worker:", 1), 6, "a key");
        assert_eq!(
            width("name: Annotate birds  # soon", 7),
            14,
            "a plain scalar"
        );
        assert_eq!(width("  - \"bob: x\"", 5), 8, "a quoted scalar");
        assert_eq!(width("info: {type: EVENLY, workers_per_input: 0}", 22), 17);
        assert_eq!(width("  - [a, b]", 9), 1);
        assert_eq!(width("url: http://x", 6), 8, "a colon without a space");
        assert_eq!(width("short", 40), 1, "past the end of the line");
        assert_eq!(marked("\t- x", 4).0, "\t  ", "tabs line up");
    }

    #[test]
    fn colour_only_when_asked() {
        let report = Report {
            file: "a.yaml".into(),
            diagnostics: vec![
                Diagnostic::error("id", "bad id")
                    .at(annotask::validate::Location { line: 1, column: 5 }),
            ],
        };
        let read = |_: &str| Some("id: x y\n".to_owned());
        let plain = human(std::slice::from_ref(&report), read, false, None);
        assert_eq!(
            plain,
            "a.yaml:1:5: error: id: bad id\n  |\n1 | id: x y\n  |     ^^^\n\n"
        );
        let coloured = human(&[report], read, true, None);
        assert!(coloured.contains("\x1b[1;31merror\x1b[0m"), "{coloured:?}");
    }
}
