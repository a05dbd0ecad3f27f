//! Setting a project up for people and their editors: `init` (the tasks and state folders,
//! VS Code's settings), the state folder's `.gitignore`, the copies of the JSON Schemas (the
//! task file's, which task files point at, a work line's and a dataset line's), and the
//! modeline that points at the task file's. Runs at `init` and when the
//! CLI asks, never on a request's path. Must not open the index or print.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::files::{self, Placement};
use crate::layout::{STATE_DIR, TASKS_DIR};
use crate::schema;
use crate::store;

const GITIGNORE: &str = "# annotask's derived state: rebuilt from tasks/ at any time.\n*\n";

/// What [`init`] did about editor settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditorSettings {
    /// It wrote this file, mapping the task files to the schema.
    Written(PathBuf),
    /// This file maps the schema already.
    Present(PathBuf),
    /// This file exists and has no mapping; it is the user's, so it was left as it was.
    LeftAlone(PathBuf),
}

/// VS Code's setting for the YAML extension (yaml-language-server), which maps the task files
/// to the project's copy of the schema: completion, hover docs and errors as you type. The
/// line schemas are not mapped: VS Code's JSON service reads a `.jsonl` file as one document
/// (its second line is "End of file expected") and has no per-line schema, so a mapping would
/// only mislead; `annotask validate` checks those files (docs/work.md, Editors).
pub const VSCODE_SETTINGS: &str = r#"{
  "yaml.schemas": {
    "./.annotask/task.schema.json": ["tasks/**/*.yaml", "tasks/**/*.yml"]
  }
}
"#;

/// Creates the tasks and state folders and sets up editors; harmless when they exist.
pub fn init(root: &Path) -> Result<EditorSettings> {
    let tasks = root.join(TASKS_DIR);
    fs::create_dir_all(&tasks).map_err(Error::io("create", &tasks))?;
    ensure_editor_files(root)?;
    let settings = root.join(".vscode").join("settings.json");
    match fs::read_to_string(&settings) {
        Ok(text) if text.contains(schema::FILE_NAME) => Ok(EditorSettings::Present(settings)),
        Ok(_) => Ok(EditorSettings::LeftAlone(settings)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let dir = root.join(".vscode");
            fs::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
            fs::write(&settings, VSCODE_SETTINGS).map_err(Error::io("write", &settings))?;
            Ok(EditorSettings::Written(settings))
        }
        Err(e) => Err(Error::io("read", &settings)(e)),
    }
}

/// Makes sure the editor files exist (the state folder and its copies of the schemas: the
/// task file's, which task files point at, and a work line's and a dataset line's), as on a
/// fresh clone, where `.annotask/` is not in git.
pub fn ensure_editor_files(root: &Path) -> Result<()> {
    ensure_state_dir(root)?;
    for (name, text) in schema::EDITOR_FILES {
        // Atomically, as commands running at once may both find it out of date.
        let path = format!("{STATE_DIR}/{name}");
        if fs::read(root.join(&path)).ok().as_deref() != Some(text.as_bytes()) {
            files::write_atomic(root, &path, text.as_bytes(), Placement::Replace)
                .map_err(Error::io("write", root.join(&path)))?;
        }
    }
    Ok(())
}

/// [`ensure_editor_files`] where the project can take them: a read-only checkout is still
/// worked on, from an index in memory.
pub fn refresh_editor_files(root: &Path) -> Result<()> {
    match ensure_editor_files(root) {
        Err(Error::Io { source, .. }) if store::cannot_write(&source) => Ok(()),
        other => other,
    }
}

/// Creates the state folder, which git is told to leave alone.
pub(super) fn ensure_state_dir(root: &Path) -> Result<()> {
    let state = root.join(STATE_DIR);
    fs::create_dir_all(&state).map_err(Error::io("create", &state))?;
    let gitignore = state.join(".gitignore");
    if !gitignore.exists() {
        fs::write(&gitignore, GITIGNORE).map_err(Error::io("write", &gitignore))?;
    }
    Ok(())
}

/// The first line of every file annotask writes. It points yaml-language-server (VS Code,
/// Neovim, Helix) at the project's copy of the schema by a path relative to the file, so the
/// file is checked as it is edited even without editor settings.
pub(super) fn modeline(path: &str) -> String {
    let up = "../".repeat(path.matches('/').count());
    format!(
        "# yaml-language-server: $schema={up}{STATE_DIR}/{}\n",
        schema::FILE_NAME
    )
}
