//! The project's layout: its folder names and the rules for its root-relative paths (which is a
//! task file, a dataset file, a work file `work/<task>/<user>.jsonl`, an input's local image or
//! text file that may be shown). Pure: must not do I/O;
//! [`crate::files`] lists, reads and writes what these rules name.
//!
//! Paths are relative to the project root and use `/` (`tasks/team/a.yaml`), so the index and
//! every diagnostic name a file the same way on every machine.

use std::path::{Path, PathBuf};

/// The folder under the root that holds the task files.
pub const TASKS_DIR: &str = "tasks";

/// The folder under the root that holds the dataset files.
pub const INPUTS_DIR: &str = "inputs";

/// The folder beside `tasks/` that holds the work files, one per task and person.
pub const WORK_DIR: &str = "work";

/// The folder under the root that holds annotask's own state.
pub const STATE_DIR: &str = ".annotask";

/// The index's file name in the state folder.
pub const INDEX_FILE: &str = "index.db";

/// The folders a project shares in git, which annotask's own secrets (a keys file) must stay
/// out of.
pub const SHARED_DIRS: [&str; 3] = [TASKS_DIR, INPUTS_DIR, WORK_DIR];

/// Whether a file name is a task file: YAML (`.yaml` or `.yml`, in any case), and not an
/// editor's scratch or hidden file.
pub fn is_task_file(name: &str) -> bool {
    let yaml = name.rsplit_once('.').is_some_and(|(_, ext)| {
        ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml")
    });
    yaml && !name.starts_with('.') && !name.starts_with("___jb_")
}

/// Whether a root-relative path is under the tasks folder and in no hidden folder: somewhere
/// a scan looks.
pub fn in_tasks(path: &str) -> bool {
    let mut parts = path.split('/');
    parts.next() == Some(TASKS_DIR)
        && parts.all(|p| !p.starts_with('.') && !p.is_empty() && p != "..")
}

/// Whether a root-relative path names a task file: under the tasks folder, in no hidden
/// folder, with a task file name.
pub fn is_task_path(path: &str) -> bool {
    in_tasks(path) && path.rsplit('/').next().is_some_and(is_task_file)
}

/// The file name without its extension: the id of a task whose file has no `id` key.
pub fn stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.').map_or(name, |(stem, _)| stem)
}

/// The relative path of the file annotask writes for a new task. `id` must be a checked id.
pub fn path_for_id(id: &str) -> String {
    format!("{TASKS_DIR}/{id}.yaml")
}

/// Whether a root-relative path is the inputs folder or a file directly in it, not hidden:
/// where dataset files are looked for.
pub fn in_inputs(path: &str) -> bool {
    match path.strip_prefix(INPUTS_DIR) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('/')
            .is_some_and(|name| !name.is_empty() && !name.contains('/') && !name.starts_with('.')),
        None => false,
    }
}

/// Whether a root-relative path is the work folder, a task's folder in it, or a work file
/// (`work/<task>/<user>.jsonl`), not hidden: where work files are looked for.
pub fn in_work(path: &str) -> bool {
    let mut parts = path.split('/');
    parts.next() == Some(WORK_DIR)
        && parts.enumerate().all(|(depth, p)| {
            depth < 2 && !p.is_empty() && !p.starts_with('.') && (depth == 0 || is_work_file(p))
        })
}

/// Whether a file name is a work file's: `<user>.jsonl`, not hidden.
pub fn is_work_file(name: &str) -> bool {
    name.strip_suffix(".jsonl")
        .is_some_and(|user| !user.is_empty() && !name.starts_with('.'))
}

/// The work file of `user` on `task`. Both must be checked ids.
pub fn work_path(task: &str, user: &str) -> String {
    format!("{WORK_DIR}/{task}/{user}.jsonl")
}

/// The task and user a work file's path names, unchecked: `work/<task>/<user>.jsonl`.
pub fn work_owner(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix(WORK_DIR)?.strip_prefix('/')?;
    let (task, name) = rest.split_once('/')?;
    Some((task, name.strip_suffix(".jsonl")?))
}

/// A dataset file's format, which its name's extension tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One Input JSON object a line.
    Jsonl,
    /// A header row naming an `id` column and optionally a `url` column (RFC 4180 quoting).
    Csv,
}

/// The format of a dataset file name, when it is one: `.jsonl` or `.csv` in any case, not
/// hidden.
pub fn format_of(name: &str) -> Option<Format> {
    if name.starts_with('.') {
        return None;
    }
    let (_, ext) = name.rsplit_once('.')?;
    if ext.eq_ignore_ascii_case("jsonl") {
        Some(Format::Jsonl)
    } else if ext.eq_ignore_ascii_case("csv") {
        Some(Format::Csv)
    } else {
        None
    }
}

/// Where the index lives unless `--db` says otherwise.
pub fn default_db(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join(INDEX_FILE)
}

/// Folders of the project whose files are never served: the repository, the index, people's
/// work and the task definitions.
const PRIVATE_FOLDERS: [&str; 4] = [".git", STATE_DIR, WORK_DIR, TASKS_DIR];

/// What a dataset URL names.
#[derive(Debug, PartialEq, Eq)]
pub enum MediaSource<'a> {
    /// An `http(s)` (or other scheme's) URL, which the page loads as it is.
    Remote(&'a str),
    /// A path relative to the project's root, checked by [`local_media_path`].
    Local(&'a str),
}

/// A dataset URL: with a scheme (`https:`, `data:`) it is remote, else a path in the project.
pub fn media_source(url: &str) -> MediaSource<'_> {
    let scheme = url.split_once(':').map(|(s, _)| s).filter(|s| {
        s.len() > 1
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    match scheme {
        Some(_) => MediaSource::Remote(url),
        None => MediaSource::Local(url),
    }
}

/// Why a local path is not served.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MediaRefused {
    #[error("the path is empty")]
    Empty,
    #[error(
        "the path is absolute; it must be relative to the project's root (the folder that holds tasks/)"
    )]
    Absolute,
    #[error("the path goes up with `..`; it must stay inside the project")]
    Up,
    #[error("the path has a backslash, a NUL or a control character")]
    Character,
    #[error("the path passes through a hidden file or folder (`{0}`)")]
    Hidden(String),
    #[error("the path is under the project's {0}/ folder, which is never served")]
    Private(String),
    #[error(
        "the file's extension is not one of an image (png, jpg, jpeg, gif, webp, avif, bmp) or text (txt)"
    )]
    Extension,
}

/// A served file's kind, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Avif,
    Bmp,
    Text,
}

impl MediaKind {
    pub fn content_type(self) -> &'static str {
        match self {
            MediaKind::Png => "image/png",
            MediaKind::Jpeg => "image/jpeg",
            MediaKind::Gif => "image/gif",
            MediaKind::Webp => "image/webp",
            MediaKind::Avif => "image/avif",
            MediaKind::Bmp => "image/bmp",
            MediaKind::Text => "text/plain; charset=utf-8",
        }
    }
}

/// The kind a file name's extension says, in any case.
pub fn media_kind(path: &str) -> Option<MediaKind> {
    let (_, ext) = path.rsplit_once('.')?;
    Some(match ext.to_ascii_lowercase().as_str() {
        "png" => MediaKind::Png,
        "jpg" | "jpeg" => MediaKind::Jpeg,
        "gif" => MediaKind::Gif,
        "webp" => MediaKind::Webp,
        "avif" => MediaKind::Avif,
        "bmp" => MediaKind::Bmp,
        "txt" => MediaKind::Text,
        _ => return None,
    })
}

/// The path of a local dataset URL inside the project, normalised (`./` and repeated `/`
/// dropped), with its kind, or why it is not served. The URL is taken as it is written: no
/// percent-decoding, so `%2e%2e` is a file name, never a way up.
pub fn local_media_path(url: &str) -> Result<(String, MediaKind), MediaRefused> {
    if url.is_empty() {
        return Err(MediaRefused::Empty);
    }
    if url.chars().any(|c| c == '\\' || c.is_control()) {
        return Err(MediaRefused::Character);
    }
    if url.starts_with('/') {
        return Err(MediaRefused::Absolute);
    }
    let parts: Vec<&str> = url
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() {
        return Err(MediaRefused::Empty);
    }
    if parts.contains(&"..") {
        return Err(MediaRefused::Up);
    }
    if let Some(hidden) = parts.iter().find(|p| p.starts_with('.')) {
        return Err(MediaRefused::Hidden((*hidden).to_owned()));
    }
    // Compared without case: on a case-insensitive file system `Work/` is `work/`.
    if let Some(private) = PRIVATE_FOLDERS
        .iter()
        .find(|f| parts.len() > 1 && parts[0].eq_ignore_ascii_case(f))
    {
        return Err(MediaRefused::Private((*private).to_owned()));
    }
    let path = parts.join("/");
    let kind = media_kind(&path).ok_or(MediaRefused::Extension)?;
    Ok((path, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_files() {
        for (name, expected) in [
            ("a.yaml", true),
            ("a.yml", true),
            ("a.json", false),
            (".a.yaml", false),
            (".a.yaml.swp", false),
            ("a.yaml~", false),
            ("4913", false),
            ("___jb_tmp___a.yaml", false),
        ] {
            assert_eq!(is_task_file(name), expected, "{name}");
        }
    }

    #[test]
    fn paths_in_tasks() {
        for (path, expected) in [
            ("tasks", true),
            ("tasks/team", true),
            ("tasks/team/a.yaml", true),
            ("tasks/.git/a.yaml", false),
            ("tasks/../a.yaml", false),
            ("other/a.yaml", false),
            ("tasksx/a.yaml", false),
        ] {
            assert_eq!(in_tasks(path), expected, "{path}");
        }
    }

    #[test]
    fn stems() {
        assert_eq!(stem("tasks/a/b.yaml"), "b");
        assert_eq!(stem("tasks/b.c.yml"), "b.c");
    }

    fn check_media(url: &str, expected: Result<&str, MediaRefused>) {
        assert_eq!(
            local_media_path(url).map(|(p, _)| p),
            expected.map(str::to_owned),
            "{url}"
        );
    }

    #[test]
    fn local_media_paths() {
        check_media("images/a.png", Ok("images/a.png"));
        check_media("./images//a.PNG", Ok("images/a.PNG"));
        check_media("a.jpeg", Ok("a.jpeg"));
        check_media("texts/a.txt", Ok("texts/a.txt"));
        check_media("images/%2e%2e/a.png", Ok("images/%2e%2e/a.png"));
        check_media("work.png", Ok("work.png"));
        check_media("", Err(MediaRefused::Empty));
        check_media("./", Err(MediaRefused::Empty));
        check_media("/etc/passwd.png", Err(MediaRefused::Absolute));
        check_media("../a.png", Err(MediaRefused::Up));
        check_media("images/../../a.png", Err(MediaRefused::Up));
        check_media("images\\..\\a.png", Err(MediaRefused::Character));
        check_media("a\0.png", Err(MediaRefused::Character));
        check_media(".git/config", Err(MediaRefused::Hidden(".git".into())));
        check_media("x/.git/a.png", Err(MediaRefused::Hidden(".git".into())));
        check_media(
            ".annotask/index.png",
            Err(MediaRefused::Hidden(".annotask".into())),
        );
        check_media("work/t/ann.png", Err(MediaRefused::Private("work".into())));
        check_media("Work/t/ann.png", Err(MediaRefused::Private("work".into())));
        check_media("tasks/a.png", Err(MediaRefused::Private("tasks".into())));
        check_media("images/a.svg", Err(MediaRefused::Extension));
        check_media("keys.yaml", Err(MediaRefused::Extension));
        check_media("images/a", Err(MediaRefused::Extension));
    }

    #[test]
    fn media_sources() {
        assert_eq!(
            media_source("images/a.png"),
            MediaSource::Local("images/a.png")
        );
        assert_eq!(
            media_source("https://x/a.png"),
            MediaSource::Remote("https://x/a.png")
        );
        assert_eq!(
            media_source("data:image/png;base64,AA"),
            MediaSource::Remote("data:image/png;base64,AA")
        );
        // One letter is a drive, not a scheme; the path rules refuse nothing for it on Unix.
        assert_eq!(media_source("C:/a.png"), MediaSource::Local("C:/a.png"));
        assert_eq!(media_source("ab:c.png"), MediaSource::Remote("ab:c.png"));
    }
}
