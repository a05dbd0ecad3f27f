//! Giving tasks the ids a remote assigned them (`apply`): the file that defines each old id is
//! edited to name the new one, keeping its comments, under the write lock, then synced. Must
//! not talk to remotes: the caller has checked what the remote said.

use crate::error::{Error, Result};
use crate::files::{self, Placement};
use crate::validate::{self, Diagnostic, Report};
use crate::yaml;

use super::{Repo, refuse_repeats};

impl Repo {
    /// Renames each `(old, new)` task in its file. All or nothing: an invalid or taken new id,
    /// an old id no file defines (or two do), or a failed write changes no file.
    pub fn rename_tasks(&mut self, renames: &[(String, String)]) -> Result<()> {
        let invalid: Vec<Diagnostic> = renames
            .iter()
            .enumerate()
            .filter_map(|(i, (_, new))| {
                validate::check_id(new)
                    .err()
                    .map(|e| Diagnostic::error(format!("ids[{i}]"), e))
            })
            .collect();
        if !invalid.is_empty() {
            return Err(Error::Invalid(vec![Report {
                file: "-".into(),
                diagnostics: invalid,
            }]));
        }
        refuse_repeats(renames.iter().map(|(_, new)| Some(new.as_str())), "ids", "")?;
        let _lock = self.write_lock()?;
        self.sync()?;
        let (mut missing, mut conflicts, mut taken) = (Vec::new(), Vec::new(), Vec::new());
        let mut edits: Vec<(String, Vec<u8>, String)> = Vec::new();
        for (old, new) in renames {
            let claimants = self.index.claimants(old)?;
            let path = match claimants.as_slice() {
                [] => {
                    missing.push(old.clone());
                    continue;
                }
                [path] => path.clone(),
                _ => {
                    conflicts.push((old.clone(), claimants));
                    continue;
                }
            };
            if self.index.claimants(new)?.iter().any(|p| *p != path) {
                taken.push(new.clone());
                continue;
            }
            let bytes = files::read(&self.root, &path, None)
                .map_err(Error::io("read", self.root.join(&path)))?;
            let text = String::from_utf8_lossy(&bytes);
            let edited = yaml::set_id(&text, new);
            edits.push((path, bytes, edited));
        }
        if !conflicts.is_empty() {
            return Err(Error::Conflict(conflicts));
        }
        if !missing.is_empty() {
            return Err(Error::NotFound(missing));
        }
        if !taken.is_empty() {
            return Err(Error::AlreadyExists(taken));
        }
        for (done, (path, _, edited)) in edits.iter().enumerate() {
            if let Err(e) =
                files::write_atomic(&self.root, path, edited.as_bytes(), Placement::Replace)
            {
                for (path, old, _) in &edits[..done] {
                    let _ = files::write_atomic(&self.root, path, old, Placement::Replace);
                }
                return Err(Error::io("write", self.root.join(path))(e));
            }
        }
        self.sync_written(edits.into_iter().map(|(path, ..)| path).collect())?;
        Ok(())
    }
}
