//! The Tasks API's operations on task files: get, list, create, update (PatchTasks' overwrite)
//! and delete. Every write checks everything first, goes to the files (temp file, fsync,
//! rename) under the write lock, then syncs just the files it wrote. Must not print or exit.

use super::setup::modeline;
use super::{Repo, new_id, now, refuse_repeats};
use crate::error::{Error, Result};
use crate::files::{self, Placement};
use crate::layout;
use crate::model::{Task, TaskDoc};
use crate::store::ListQuery;
use crate::validate::{self, Diagnostic, Report};
use crate::yaml;

impl Repo {
    pub fn get(&self, id: &str) -> Result<Task> {
        self.index
            .get(id)?
            .ok_or_else(|| Error::NotFound(vec![id.to_owned()]))
    }

    pub fn list(&self, query: &ListQuery) -> Result<Vec<Task>> {
        Ok(self.index.list(query)?)
    }

    /// A task's canonical JSON as the index stores it, for faces that pass it through.
    pub fn get_json(&self, id: &str) -> Result<String> {
        self.index
            .get_json(id)?
            .ok_or_else(|| Error::NotFound(vec![id.to_owned()]))
    }

    /// A task's protobuf as the index stores it ([`crate::proto::encode_task`]).
    pub fn get_proto(&self, id: &str) -> Result<Vec<u8>> {
        self.index
            .get_proto(id)?
            .ok_or_else(|| Error::NotFound(vec![id.to_owned()]))
    }

    /// [`Repo::list`] as the stored canonical JSON of each task.
    pub fn list_json(&self, query: &ListQuery) -> Result<Vec<String>> {
        Ok(self.index.list_json(query)?)
    }

    /// [`Repo::list`] as the stored protobuf of each task.
    pub fn list_proto(&self, query: &ListQuery) -> Result<Vec<Vec<u8>>> {
        Ok(self.index.list_proto(query)?)
    }

    /// How many tasks match a query, whatever its page.
    pub fn count(&self, query: &ListQuery) -> Result<u64> {
        Ok(self.index.count(query)?)
    }

    /// How many tasks the index holds.
    pub fn task_count(&self) -> Result<u64> {
        Ok(self.index.task_count()?)
    }

    /// The files that claim a task id (more than one is a conflict), by path.
    pub fn claimants(&self, id: &str) -> Result<Vec<String>> {
        Ok(self.index.claimants(id)?)
    }

    /// The file that defines a task, when one does.
    pub fn task_file(&self, id: &str) -> Result<Option<String>> {
        Ok(self.index.task_file(id)?)
    }

    /// Creates tasks, generating ids where absent. All or nothing: when any task is invalid
    /// or its id is taken, no file is written.
    pub fn create(&mut self, docs: Vec<TaskDoc>) -> Result<Vec<Task>> {
        let _lock = self.write_lock()?;
        self.catch_up(&[])?;
        let now = now();
        let mut taken = Vec::new();
        let mut docs = docs;
        for doc in &mut docs {
            doc.id.get_or_insert_with(new_id);
        }
        refuse_repeats(docs.iter().map(|d| d.id.as_deref()), "tasks", ".id")?;
        let docs = docs
            .into_iter()
            .map(|mut doc| {
                let id = doc.id.clone().unwrap_or_default();
                if validate::check_id(&id).is_ok() && self.id_taken(&id)? {
                    taken.push(id);
                }
                doc.created_at.get_or_insert(now);
                doc.modified_at = Some(now);
                Ok(doc)
            })
            .collect::<Result<Vec<_>>>()?;
        let tasks = validate_all(docs)?;
        if !taken.is_empty() {
            return Err(Error::AlreadyExists(taken));
        }
        let writes: Vec<(String, &Task)> = tasks
            .iter()
            .map(|t| (layout::path_for_id(t.id()), t))
            .collect();
        self.write_files(&writes, Placement::New)?;
        self.sync_written(writes.into_iter().map(|(path, _)| path).collect())?;
        Ok(tasks)
    }

    /// Overwrites existing tasks, each in the file that defines it. `created_at` stays as it
    /// was. All or nothing: when any task is invalid or unknown, no file is written.
    pub fn update(&mut self, docs: Vec<TaskDoc>) -> Result<Vec<Task>> {
        let _lock = self.write_lock()?;
        self.catch_up(&[])?;
        refuse_repeats(docs.iter().map(|d| d.id.as_deref()), "tasks", ".id")?;
        let now = now();
        let mut missing = Vec::new();
        let mut conflicts = Vec::new();
        let mut targets = Vec::new();
        let docs = docs
            .into_iter()
            .map(|mut doc| {
                let Some(id) = doc.id.clone() else {
                    return Ok(doc);
                };
                if validate::check_id(&id).is_err() {
                    return Ok(doc);
                }
                let mut claimants = self.index.claimants(&id)?;
                match claimants.len() {
                    0 => missing.push(id.clone()),
                    1 => targets.extend(claimants.pop()),
                    _ => conflicts.push((id.clone(), claimants)),
                }
                if let Some(created) = self.index.get(&id)?.and_then(|t| t.doc().created_at) {
                    doc.created_at = Some(created);
                }
                doc.modified_at = Some(now);
                Ok(doc)
            })
            .collect::<Result<Vec<_>>>()?;
        let tasks = validate_all(docs)?;
        if !conflicts.is_empty() {
            return Err(Error::Conflict(conflicts));
        }
        if !missing.is_empty() {
            return Err(Error::NotFound(missing));
        }
        let writes: Vec<(String, &Task)> = targets.into_iter().zip(&tasks).collect();
        self.write_files(&writes, Placement::Replace)?;
        self.sync_written(writes.into_iter().map(|(path, _)| path).collect())?;
        Ok(tasks)
    }

    /// Deletes tasks and their files. All or nothing: an unknown id deletes nothing.
    pub fn delete(&mut self, ids: &[String]) -> Result<()> {
        let reports: Vec<Report> = ids
            .iter()
            .enumerate()
            .filter_map(|(i, id)| {
                validate::check_id(id).err().map(|e| Report {
                    file: "-".into(),
                    diagnostics: vec![Diagnostic::error(format!("ids[{i}]"), e)],
                })
            })
            .collect();
        if !reports.is_empty() {
            return Err(Error::Invalid(reports));
        }
        refuse_repeats(ids.iter().map(|id| Some(id.as_str())), "ids", "")?;
        let _lock = self.write_lock()?;
        self.catch_up(&[])?;
        let mut doomed = Vec::new();
        let mut missing = Vec::new();
        let mut conflicts = Vec::new();
        for id in ids {
            let mut claimants = self.index.claimants(id)?;
            match claimants.len() {
                0 => missing.push(id.clone()),
                1 => doomed.extend(claimants.pop()),
                _ => conflicts.push((id.clone(), claimants)),
            }
        }
        if !conflicts.is_empty() {
            return Err(Error::Conflict(conflicts));
        }
        if !missing.is_empty() {
            return Err(Error::NotFound(missing));
        }
        for path in &doomed {
            files::remove(&self.root, path).map_err(Error::io("delete", self.root.join(path)))?;
        }
        self.sync_written(doomed)?;
        Ok(())
    }

    /// Whether an id is defined by any file, or its default file name is in use.
    fn id_taken(&self, id: &str) -> Result<bool> {
        Ok(!self.index.claimants(id)?.is_empty()
            || self.root.join(layout::path_for_id(id)).exists())
    }

    /// Writes every file or, if one write fails, puts back what was there. `writes` are in
    /// the order of the request's tasks. A file the sync would refuse to read is not written:
    /// the write would be acknowledged and never served.
    fn write_files(&self, writes: &[(String, &Task)], placement: Placement) -> Result<()> {
        let olds: Vec<Option<Vec<u8>>> = writes
            .iter()
            .map(|(path, _)| match placement {
                Placement::New => None,
                Placement::Replace => files::read(&self.root, path).ok(),
            })
            .collect();
        let texts: Vec<String> = writes
            .iter()
            .zip(&olds)
            .map(|((path, task), old)| file_text(path, old.as_deref(), task))
            .collect();
        let too_large: Vec<Diagnostic> = texts
            .iter()
            .enumerate()
            .filter(|(_, text)| text.len() as u64 > crate::yaml::MAX_FILE_BYTES)
            .map(|(i, text)| {
                let limit = crate::yaml::MAX_FILE_BYTES;
                let message = format!(
                    "its file would be {} bytes; task files are limited to {limit} bytes",
                    text.len()
                );
                Diagnostic::error(format!("tasks[{i}]"), message)
                    .hint("keep large data in inputs or metadata elsewhere, not in the task")
            })
            .collect();
        if !too_large.is_empty() {
            return Err(Error::Invalid(vec![Report {
                file: "-".into(),
                diagnostics: too_large,
            }]));
        }
        let mut done: Vec<(&str, Option<Vec<u8>>)> = Vec::new();
        for (((path, _), text), old) in writes.iter().zip(texts).zip(olds) {
            if let Err(e) = files::write_atomic(&self.root, path, text.as_bytes(), placement) {
                for (path, old) in done.into_iter().rev() {
                    let _ = match old {
                        Some(bytes) => {
                            files::write_atomic(&self.root, path, &bytes, Placement::Replace)
                        }
                        None => files::remove(&self.root, path),
                    };
                }
                return Err(Error::io("write", self.root.join(path))(e));
            }
            done.push((path, old));
        }
        Ok(())
    }

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
        self.catch_up(&[])?;
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
            let bytes =
                files::read(&self.root, &path).map_err(Error::io("read", self.root.join(&path)))?;
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

/// What a write puts in a task file. A new file is canonical; an existing one is edited in
/// place, so its comments, blank lines and key order survive and `git diff` shows only the
/// values that changed. A file the editor cannot edit (not a valid task now, or laid out in
/// ways it does not rewrite) is written canonically.
fn file_text(path: &str, old: Option<&[u8]>, task: &Task) -> String {
    old.and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(|text| crate::yaml::edit(text, Some(layout::stem(path)), task))
        .unwrap_or_else(|| modeline(path) + &crate::yaml::to_yaml(task))
}

/// Validates request documents, naming each one's fields `tasks[i].…`.
fn validate_all(docs: Vec<TaskDoc>) -> Result<Vec<Task>> {
    let mut tasks = Vec::new();
    let mut diagnostics = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        let (task, found) = validate::validate(doc, None);
        diagnostics.extend(found.into_iter().filter(Diagnostic::is_error).map(|mut d| {
            d.field = if d.field.is_empty() {
                format!("tasks[{i}]")
            } else {
                format!("tasks[{i}].{}", d.field)
            };
            d
        }));
        tasks.extend(task);
    }
    if diagnostics.is_empty() {
        Ok(tasks)
    } else {
        Err(Error::Invalid(vec![Report {
            file: "-".into(),
            diagnostics,
        }]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::{EditorSettings, init};
    use crate::schema;
    use std::fs;

    #[test]
    fn writes_leave_the_index_current() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path()).unwrap();
        let mut repo = Repo::open(dir.path(), None).unwrap();
        let doc = |name: &str| {
            let yaml = format!("id: a\nname: {name}\ninput_source: {{type: ALL_INPUTS}}");
            crate::yaml::parse_task(yaml.as_bytes()).unwrap()
        };
        // Read straight from the index: nothing syncs between a write and the check.
        let name = |repo: &Repo| repo.get("a").map(|task| task.doc().name.clone());
        repo.create(vec![doc("first")]).unwrap();
        assert_eq!(name(&repo).unwrap().as_deref(), Some("first"));
        repo.update(vec![doc("second")]).unwrap();
        assert_eq!(name(&repo).unwrap().as_deref(), Some("second"));
        repo.delete(&["a".to_owned()]).unwrap();
        assert!(matches!(name(&repo), Err(Error::NotFound(_))));
    }

    #[test]
    fn written_files_point_editors_at_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let settings = dir.path().join(".vscode/settings.json");
        assert_eq!(
            init(dir.path()).unwrap(),
            EditorSettings::Written(settings.clone())
        );
        assert_eq!(
            init(dir.path()).unwrap(),
            EditorSettings::Present(settings.clone())
        );
        fs::write(&settings, "{}").unwrap();
        assert_eq!(
            init(dir.path()).unwrap(),
            EditorSettings::LeftAlone(settings)
        );

        let repo = Repo::open(dir.path(), None).unwrap();
        let (task, _) = validate::validate(
            crate::yaml::parse_task(b"input_source: {type: ALL_INPUTS}").unwrap(),
            Some("a"),
        );
        let task = task.unwrap();
        for path in ["tasks/a.yaml", "tasks/team/deep/a.yaml"] {
            repo.write_files(&[(path.to_owned(), &task)], Placement::New)
                .unwrap();
            let text = fs::read_to_string(dir.path().join(path)).unwrap();
            let first = text.lines().next().unwrap();
            let schema = first
                .strip_prefix("# yaml-language-server: $schema=")
                .unwrap();
            let file = dir.path().join(path);
            let schema = file.parent().unwrap().join(schema);
            assert_eq!(
                fs::read_to_string(schema).unwrap(),
                schema::TASK_SCHEMA,
                "{first}"
            );
        }
    }
}
