//! Finding the project a command works on: `--root`, else the nearest folder, from the current
//! one upward, that holds `tasks/` or `.annotask/`, as git and cargo find theirs.

use std::path::{Path, PathBuf};

use annotask::layout::{STATE_DIR, TASKS_DIR};

/// Whether `dir` is a project folder.
pub fn is_project(dir: &Path) -> bool {
    dir.join(TASKS_DIR).is_dir() || dir.join(STATE_DIR).is_dir()
}

/// The nearest project folder at or above the current folder, as a path relative to it (`.`,
/// `..`, `../..`), so that messages name files as short as they can be.
pub fn find() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let mut relative = PathBuf::from(".");
    for (up, dir) in cwd.ancestors().enumerate() {
        if is_project(dir) {
            return Some(relative);
        }
        relative = if up == 0 {
            PathBuf::from("..")
        } else {
            relative.join("..")
        };
    }
    None
}

/// The error of a command run outside any project.
pub fn outside() -> anyhow::Error {
    super::usage(format!(
        "not inside an annotask project (no {TASKS_DIR}/ or {STATE_DIR}/ in this folder or any above it)\n\
         hint: run `annotask init` to make this folder a project, or pass `--root DIR`"
    ))
}

/// The error of `init` inside an existing project's folders.
pub fn nested(project: &Path) -> anyhow::Error {
    super::usage(format!(
        "this folder is inside the project at {}; refusing to make a second project in it\n\
         hint: run annotask commands from anywhere in that project, or pass `--root .` to make a separate project here",
        project.display()
    ))
}
