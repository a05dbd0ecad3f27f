//! Where an export goes: the checks on the output path (never inside the project's own
//! folders, never over an existing path without `--force`), the atomic write of a file or a
//! folder (a temporary one beside it, then a rename), and the tar a folder format streams as.
//! Must not decide what is exported.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{Export, Format, refused};
use crate::error::{Error, Result};
use crate::layout;

/// What a folder format writes into: a folder on disk, or a tar.
pub trait Folder {
    /// A file at `path` (relative, `/`-separated) holding `bytes`.
    fn file(&mut self, path: &str, bytes: &[u8]) -> io::Result<()>;
    /// A copy of the project's image `local` (a project path) at `path`.
    fn image(&mut self, path: &str, local: &str) -> io::Result<()>;
}

/// The project's folders annotask reads: an export never goes inside them.
const PROJECT_FOLDERS: [&str; 4] = [
    layout::TASKS_DIR,
    layout::INPUTS_DIR,
    layout::WORK_DIR,
    layout::STATE_DIR,
];

/// Checks an output path before anything is read or written, and returns it absolute (its
/// folder's links resolved).
pub fn check_out(root: &Path, out: &Path, format: Format, force: bool) -> Result<PathBuf> {
    let shown = out.display().to_string();
    let name = out
        .file_name()
        .filter(|n| *n != "." && *n != "..")
        .ok_or_else(|| refused("out", format!("`{shown}` names no file or folder"), None))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let parent = fs::canonicalize(&parent).map_err(|_| {
        refused(
            "out",
            format!("the folder `{}` does not exist", parent.display()),
            Some("create it first".into()),
        )
    })?;
    let out = parent.join(name);
    let root = fs::canonicalize(root).map_err(Error::io("read", root))?;
    if let Some(folder) = PROJECT_FOLDERS
        .iter()
        .find(|f| out.starts_with(root.join(f)))
    {
        return Err(refused(
            "out",
            format!("`{shown}` is inside the project's `{folder}/` folder, which annotask reads"),
            Some("write the export outside tasks/, inputs/, work/ and .annotask/".into()),
        ));
    }
    if root.starts_with(&out) {
        return Err(refused(
            "out",
            format!("`{shown}` holds the project; an export there would replace it"),
            None,
        ));
    }
    let Ok(meta) = fs::symlink_metadata(&out) else {
        return Ok(out);
    };
    if !force {
        return Err(refused(
            "out",
            format!("`{shown}` exists"),
            Some("pass --force to replace it".into()),
        ));
    }
    match (format.is_folder(), meta.is_dir()) {
        (false, true) => Err(refused(
            "out",
            format!("`{shown}` is a folder; {} writes one file", format.name()),
            None,
        )),
        (true, true) => {
            // --force replaces an earlier export, never a folder holding anything else.
            let entries = fs::read_dir(&out).map_err(Error::io("list", &out))?;
            let mut strangers = Vec::new();
            for entry in entries {
                let entry = entry.map_err(Error::io("list", &out))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if !format.top_names().contains(&name.as_str()) {
                    strangers.push(name);
                }
            }
            strangers.sort();
            if strangers.is_empty() {
                Ok(out)
            } else {
                Err(refused(
                    "out",
                    format!(
                        "`{shown}` holds files a {} export does not write ({}); --force replaces only an earlier export",
                        format.name(),
                        strangers.join(", ")
                    ),
                    Some("remove the folder yourself, or choose another path".into()),
                ))
            }
        }
        (_, false) => Ok(out),
    }
}

/// Writes `export` at `out` (checked by [`check_out`]), atomically: a temporary file or
/// folder beside it, renamed into place once whole. `root` is the project, for the images a
/// folder format copies.
pub fn write_out(export: &Export, format: Format, root: &Path, out: &Path) -> Result<()> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = out.parent().unwrap_or(Path::new("."));
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let failed = |temp: &Path| {
        let _ = fs::remove_file(temp);
        let _ = fs::remove_dir_all(temp);
    };
    let written = if format.is_folder() {
        (|| {
            fs::create_dir(&temp)?;
            let mut folder = Disk {
                dir: temp.clone(),
                root: root.to_path_buf(),
                made: HashSet::new(),
            };
            export.write_folder(format, &mut folder)
        })()
    } else {
        (|| {
            let file = File::create_new(&temp)?;
            let mut writer = BufWriter::with_capacity(1 << 20, file);
            export.write_file(format, &mut writer)?;
            writer.into_inner().map_err(|e| e.into_error())?.sync_all()
        })()
    };
    if let Err(e) = written {
        failed(&temp);
        return Err(Error::io("write", &temp)(e));
    }
    let placed = (|| {
        if format.is_folder() && out.is_dir() {
            // The old export steps aside first: a rename cannot replace a folder with files.
            let old = dir.join(format!(".{name}.{}.old", std::process::id()));
            fs::rename(out, &old)?;
            fs::rename(&temp, out)?;
            fs::remove_dir_all(&old)
        } else {
            fs::rename(&temp, out)
        }
    })();
    if let Err(e) = placed {
        failed(&temp);
        return Err(Error::io("write", out)(e));
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("write", dir))
}

/// A folder being written on disk.
struct Disk {
    dir: PathBuf,
    root: PathBuf,
    made: HashSet<PathBuf>,
}

impl Disk {
    fn target(&mut self, path: &str) -> io::Result<PathBuf> {
        let target = self.dir.join(path);
        if let Some(parent) = target.parent()
            && !self.made.contains(parent)
        {
            fs::create_dir_all(parent)?;
            self.made.insert(parent.to_path_buf());
        }
        Ok(target)
    }
}

impl Folder for Disk {
    fn file(&mut self, path: &str, bytes: &[u8]) -> io::Result<()> {
        fs::write(self.target(path)?, bytes)
    }

    /// A hard link where the file system allows one (no copy, no space), else a copy.
    fn image(&mut self, path: &str, local: &str) -> io::Result<()> {
        let target = self.target(path)?;
        let from = self.root.join(local);
        fs::hard_link(&from, &target).or_else(|_| fs::copy(&from, &target).map(|_| ()))
    }
}

/// A folder as a tar stream (ustar, GNU long names), with fixed owners, modes and times, so
/// the same export is the same bytes.
pub struct Tar<'a> {
    builder: tar::Builder<&'a mut dyn Write>,
    root: Option<PathBuf>,
}

impl<'a> Tar<'a> {
    pub fn new(out: &'a mut dyn Write) -> Tar<'a> {
        Tar {
            builder: tar::Builder::new(out),
            root: None,
        }
    }

    /// Images are read from under `root`; without it they are left out.
    pub fn with_images(mut self, root: &Path) -> Tar<'a> {
        self.root = Some(root.to_path_buf());
        self
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.builder.finish()
    }
}

impl Folder for Tar<'_> {
    fn file(&mut self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        self.builder.append_data(&mut header, path, bytes)
    }

    fn image(&mut self, path: &str, local: &str) -> io::Result<()> {
        let Some(root) = &self.root else {
            return Ok(());
        };
        let bytes = fs::read(root.join(local))?;
        self.file(path, &bytes)
    }
}
