//! The project's layout: its folder names and the rules for its root-relative paths (which is a
//! task file, a dataset file, a work file `work/<task>/<user>.jsonl`). Pure: must not do I/O;
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
}
