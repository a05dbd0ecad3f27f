//! The task, dataset and work files on disk: finding them, reading them within limits, and writing
//! them so that a crash never leaves a half-written file. Must not parse documents or touch
//! the index.
//!
//! Paths handed out are relative to the project root and use `/` (`tasks/team/a.yaml`), so the
//! index and every diagnostic name a file the same way on every machine.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::UNIX_EPOCH;

use crate::layout::{
    self, INPUTS_DIR, SHARED_DIRS, TASKS_DIR, WORK_DIR, in_tasks, is_task_file, is_task_path,
    is_work_file,
};
use crate::yaml::MAX_FILE_BYTES;

/// A task file as the file system describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskFile {
    pub path: String,
    pub size: u64,
    pub mtime_ns: i64,
    /// Why this path cannot be read as a task file (a link, a folder that cannot be listed, a
    /// name that is not UTF-8), so that it is reported instead of skipped. Its size is then 0
    /// and its mtime [`UNREAD`].
    pub problem: Option<Box<str>>,
}

impl DiskFile {
    /// A file listed but not yet described.
    fn unread(path: String) -> DiskFile {
        DiskFile {
            path,
            size: 0,
            mtime_ns: UNREAD,
            problem: None,
        }
    }

    fn problem(path: String, problem: impl Into<Box<str>>) -> DiskFile {
        DiskFile {
            path,
            size: 0,
            mtime_ns: UNREAD,
            problem: Some(problem.into()),
        }
    }
}

/// The mtime recorded for a file that could not be read, which no file on disk has: the next
/// sync sees it changed and tries again.
pub const UNREAD: i64 = i64::MIN;

/// Every task file under `root/tasks`, sorted by path.
pub fn scan(root: &Path) -> Vec<DiskFile> {
    walk(root, TASKS_DIR)
}

/// [`scan`] without a stat of each file: sizes and times are left [`UNREAD`] for
/// [`read_listed`] to fill in from the open file. For a sync that reads every file anyway (into
/// an empty index), where a stat each was a sixth of the system's time.
pub fn scan_unstated(root: &Path) -> Vec<DiskFile> {
    walk_listing(root, TASKS_DIR, Listing::NamesOnly)
}

/// Whether a walk describes each file it lists.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listing {
    Stat,
    NamesOnly,
}

/// Every dataset file directly in `root/inputs` (`*.jsonl`, `*.csv`), sorted by path.
/// Folders inside it are not datasets and are not looked into. A missing folder has no files;
/// a folder that cannot be listed is a [`DiskFile::problem`] on `inputs`, and links are
/// problems on their own paths, as under the tasks folder.
pub fn list_inputs(root: &Path) -> Vec<DiskFile> {
    let dir = root.join(INPUTS_DIR);
    if fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return vec![DiskFile::problem(INPUTS_DIR.to_owned(), LINK_PROBLEM)];
    }
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            let problem = format!("cannot list the folder: {e}");
            return vec![DiskFile::problem(INPUTS_DIR.to_owned(), problem)];
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let Ok(entry) = entry else {
            let problem = "cannot list the folder completely";
            return vec![DiskFile::problem(INPUTS_DIR.to_owned(), problem)];
        };
        let name = match entry.file_name().into_string() {
            Ok(name) => name,
            Err(name) => {
                let name = name.to_string_lossy();
                if layout::format_of(&name).is_some() {
                    let problem = "the name is not valid UTF-8, so it cannot be named in the \
                                   index or in git on every machine; rename it";
                    files.push(DiskFile::problem(format!("{INPUTS_DIR}/{name}"), problem));
                }
                continue;
            }
        };
        if layout::format_of(&name).is_none() {
            continue;
        }
        files.extend(describe(format!("{INPUTS_DIR}/{name}"), entry.metadata()));
    }
    files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    files
}

/// Every work file (`work/<task>/<user>.jsonl`), sorted by path. Other files are not looked
/// at; a folder that cannot be listed is a [`DiskFile::problem`] on its path, and links are
/// problems on their own paths, as under the tasks folder.
pub fn list_work(root: &Path) -> Vec<DiskFile> {
    let mut files = Vec::new();
    let mut folders = vec![(WORK_DIR.to_owned(), 0)];
    while let Some((folder, depth)) = folders.pop() {
        if fs::symlink_metadata(root.join(&folder)).is_ok_and(|m| m.file_type().is_symlink()) {
            files.push(DiskFile::problem(folder, LINK_PROBLEM));
            continue;
        }
        let entries = match fs::read_dir(root.join(&folder)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                files.push(DiskFile::problem(
                    folder,
                    format!("cannot list the folder: {e}"),
                ));
                continue;
            }
        };
        for entry in entries {
            let Ok(entry) = entry else {
                files.push(DiskFile::problem(
                    folder.clone(),
                    "cannot list the folder completely",
                ));
                break;
            };
            let Ok(name) = entry.file_name().into_string() else {
                let problem = "the name is not valid UTF-8, so it cannot be named in the index \
                               or in git on every machine; rename it";
                let name = entry.file_name().to_string_lossy().into_owned();
                files.push(DiskFile::problem(format!("{folder}/{name}"), problem));
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let path = format!("{folder}/{name}");
            let kind = entry.file_type();
            if depth == 0 && kind.as_ref().is_ok_and(|k| k.is_dir() || k.is_symlink()) {
                folders.push((path, 1));
            } else if depth == 1 && is_work_file(&name) {
                files.extend(describe(path, entry.metadata()));
            }
        }
    }
    files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    files
}

/// An append of whole lines to a work file, creating it and its folders: written in as many
/// parts as its writer likes, so that a large append (an import's 300,000 lines) is never held
/// whole in memory, and on disk once [`Appender::finish`] returns. A file whose last line was
/// cut off (a crash mid-append) gets a line break first, so the cut line stays alone and the
/// new ones read whole. A part that fails to write takes the file back to its length before
/// the append, as far as the file system lets it, so that a full disk does not leave half an
/// append behind.
///
/// A folder on the way that is a link is refused ([`Linked`]), as the scan refuses to read
/// through one: a write there would land outside the project and never be read back.
pub struct Appender {
    file: File,
    /// The file's length before the append.
    start: u64,
    /// The folders to sync once the file is on disk, when the file is new: its own, then
    /// each folder this append created, whose entry lives in its parent.
    new_entries: Vec<PathBuf>,
}

impl Appender {
    pub fn open(root: &Path, path: &str) -> io::Result<Appender> {
        use std::os::unix::fs::{FileExt, OpenOptionsExt};
        if let Some(folder) = linked_folder(root, path) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                Linked { folder },
            ));
        }
        let target = root.join(path);
        let dir = target.parent().unwrap_or(root);
        // The folders this append creates, deepest first: the task's, and `work/` itself the
        // first time anyone works.
        let mut created = Vec::new();
        let mut missing = dir;
        while !missing.exists() {
            created.push(missing);
            match missing.parent() {
                Some(parent) => missing = parent,
                None => break,
            }
        }
        fs::create_dir_all(dir)?;
        let mut file = File::options()
            .read(true)
            .append(true)
            .create(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&target)?;
        let start = file.metadata()?.len();
        let mut last = [0u8];
        if start > 0 && file.read_at(&mut last, start - 1)? == 1 && last[0] != b'\n' {
            file.write_all(b"\n")?;
        }
        let new_entries = if start == 0 {
            std::iter::once(dir)
                .chain(created.iter().map(|folder| folder.parent().unwrap_or(root)))
                .map(Path::to_path_buf)
                .collect()
        } else {
            Vec::new()
        };
        Ok(Appender {
            file,
            start,
            new_entries,
        })
    }

    /// Appends whole lines.
    pub fn write(&mut self, lines: &[u8]) -> io::Result<()> {
        self.file.write_all(lines).inspect_err(|_| {
            let _ = self.file.set_len(self.start);
        })
    }

    /// Puts the append on disk, with the path to a new file.
    pub fn finish(self) -> io::Result<()> {
        self.file.sync_data()?;
        self.new_entries.iter().try_for_each(|dir| sync_dir(dir))
    }
}

/// Why [`Appender::open`] refused: a folder on the way to the file is a symbolic link.
#[derive(Debug, thiserror::Error)]
#[error(
    "{folder} is a symbolic link, and annotask writes only inside the project (a write through it would never be read back): replace the link with a folder"
)]
pub struct Linked {
    pub folder: String,
}

impl Linked {
    /// The refusal an I/O error carries, if it is one.
    pub fn of(error: &io::Error) -> Option<&Linked> {
        error.get_ref()?.downcast_ref()
    }
}

/// The first folder from the root to `path` (the path's own folders only) that is a link.
fn linked_folder(root: &Path, path: &str) -> Option<String> {
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    let mut folder = String::new();
    for part in parts {
        if !folder.is_empty() {
            folder.push('/');
        }
        folder.push_str(part);
        if fs::symlink_metadata(root.join(&folder)).is_ok_and(|m| m.file_type().is_symlink()) {
            return Some(folder);
        }
    }
    None
}

/// What `root/inputs` holds that [`list_inputs`] does not read, sorted: files of other kinds
/// and folders (named with a trailing `/`), not hidden ones. So that a `birds.json` or an
/// `inputs/2024/` is pointed out rather than silently missing from the index.
pub fn not_datasets(root: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(root.join(INPUTS_DIR)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().ok()?.is_dir();
            let unread = !name.starts_with('.') && (is_dir || layout::format_of(&name).is_none());
            unread.then(|| format!("{INPUTS_DIR}/{name}{}", if is_dir { "/" } else { "" }))
        })
        .collect();
    names.sort_unstable();
    names
}

/// Every task file under `root/dir`, sorted by path, named `dir/…`. Hidden folders are
/// skipped, and links are not followed, so a walk always ends and never leaves the folder. A
/// missing folder has no files; what cannot be listed or described is a
/// [`DiskFile::problem`].
///
/// At 100,000 files the stats are most of a walk, so they run on every core, whether the files
/// sit in one folder or in many: folders are listed by whichever thread is free, and a thread
/// listing a folder queues batches of its files for the others.
pub fn walk(root: &Path, dir: &str) -> Vec<DiskFile> {
    walk_listing(root, dir, Listing::Stat)
}

fn walk_listing(root: &Path, dir: &str, listing: Listing) -> Vec<DiskFile> {
    let threads = crate::cores::cores();
    let queue = Queue::new(dir.trim_end_matches('/').to_owned(), threads, listing);
    let parts = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| queue.work(root)))
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a walk never panics"))
            .collect::<Vec<_>>()
    });
    // Each thread's part is sorted: merging them takes a pass and no scratch memory, where a
    // sort took twice the time and 4 MiB more at 100,000 files.
    let mut parts = VecDeque::from(parts);
    while let Some(a) = parts.pop_front() {
        match parts.pop_front() {
            Some(b) => parts.push_back(merge(a, b)),
            None => return a,
        }
    }
    Vec::new()
}

/// Two lists sorted by path, as one.
fn merge(a: Vec<DiskFile>, b: Vec<DiskFile>) -> Vec<DiskFile> {
    let mut merged = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
        let first = if x.path <= y.path { &mut a } else { &mut b };
        merged.extend(first.next());
    }
    merged.extend(a);
    merged.extend(b);
    merged
}

/// How many listed files a thread hands over at a time: enough to make handing over cheap,
/// few enough that a single large folder keeps every core busy.
const STAT_BATCH: usize = 256;

/// Listed task files to describe, each with its root-relative path.
type Batch = Vec<(String, fs::DirEntry)>;

enum Work {
    /// A folder to list, by its root-relative path.
    List(String),
    Stat(Batch),
}

/// The work of one walk, shared by its threads.
struct Queue {
    state: Mutex<QueueState>,
    changed: Condvar,
    threads: usize,
    listing: Listing,
}

struct QueueState {
    work: Vec<Work>,
    /// Threads doing work, which may add more.
    busy: usize,
}

impl Queue {
    fn new(dir: String, threads: usize, listing: Listing) -> Queue {
        Queue {
            threads,
            listing,
            state: Mutex::new(QueueState {
                work: vec![Work::List(dir)],
                busy: 0,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().expect("a walk never panics")
    }

    /// Does work until there is none left, and returns the files this thread described,
    /// sorted.
    fn work(&self, root: &Path) -> Vec<DiskFile> {
        let mut files = Vec::new();
        while let Some(work) = self.next() {
            match work {
                Work::List(dir) => self.list(root, &dir, &mut files),
                Work::Stat(batch) => describe_all(batch, &mut files),
            }
            let mut state = self.lock();
            state.busy -= 1;
            if state.busy == 0 {
                self.changed.notify_all();
            }
        }
        files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        files
    }

    /// The next piece of work, waiting while other threads may still add some; None once
    /// the walk is over.
    fn next(&self) -> Option<Work> {
        let mut state = self.lock();
        loop {
            if let Some(work) = state.work.pop() {
                state.busy += 1;
                return Some(work);
            }
            if state.busy == 0 {
                return None;
            }
            state = self.changed.wait(state).expect("a walk never panics");
        }
    }

    fn push(&self, work: Work) {
        self.lock().work.push(work);
        self.changed.notify_one();
    }

    /// Queues `batch` for any thread, or gives it back when the queue already holds a piece
    /// of work for every thread: a thread that finishes a batch then finds the next one
    /// waiting, and the files listed but not yet described stay few.
    fn offer(&self, batch: Batch) -> Option<Batch> {
        let mut state = self.lock();
        if state.work.len() >= self.threads {
            return Some(batch);
        }
        state.work.push(Work::Stat(batch));
        drop(state);
        self.changed.notify_one();
        None
    }

    /// Lists the folder `dir`: its visible folders become work, and its task files are
    /// described here or by another thread ([`Queue::offer`]). What cannot be listed or
    /// described becomes a [`DiskFile::problem`] on its path, and the walk goes on.
    fn list(&self, root: &Path, dir: &str, files: &mut Vec<DiskFile>) {
        let entries = match fs::read_dir(root.join(dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) => {
                files.push(DiskFile::problem(
                    dir.to_owned(),
                    format!("cannot list the folder: {e}"),
                ));
                return;
            }
        };
        let mut batch = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    let problem = format!("cannot list the folder completely: {e}");
                    files.push(DiskFile::problem(dir.to_owned(), problem));
                    break;
                }
            };
            // The type comes with the directory entry: no stat is needed to tell.
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let name = match entry.file_name().into_string() {
                Ok(name) => name,
                Err(name) => {
                    let name = name.to_string_lossy();
                    if !name.starts_with('.') && (file_type.is_dir() || is_task_file(&name)) {
                        let problem = "the name is not valid UTF-8, so it cannot be named in \
                                       the index or in git on every machine; rename it";
                        files.push(DiskFile::problem(format!("{dir}/{name}"), problem));
                    }
                    continue;
                }
            };
            if name.starts_with('.') {
                continue;
            }
            // Not `format!`, whose machinery was two fifths of the listing's instructions.
            let path = [dir, "/", &name].concat();
            if file_type.is_dir() {
                self.push(Work::List(path));
            } else if file_type.is_symlink() {
                files.extend(link(path, &entry.path()));
            } else if file_type.is_file() && is_task_file(&name) {
                if self.listing == Listing::NamesOnly {
                    files.push(DiskFile::unread(path));
                    continue;
                }
                batch.push((path, entry));
                if batch.len() == STAT_BATCH
                    && let Some(batch) = self.offer(std::mem::take(&mut batch))
                {
                    describe_all(batch, files);
                }
            }
        }
        describe_all(batch, files);
    }
}

/// A link where a task file or a folder could be: reported, never followed.
fn link(path: String, full: &Path) -> Option<DiskFile> {
    let to_folder = fs::metadata(full).is_ok_and(|m| m.is_dir());
    let task_name = path.rsplit('/').next().is_some_and(is_task_file);
    (to_folder || task_name).then(|| DiskFile::problem(path, LINK_PROBLEM))
}

/// Why a link in the project's folders is not read (nor, in work/, written through).
const LINK_PROBLEM: &str = "a symbolic link: annotask reads and writes only regular files and \
                            folders under tasks/, inputs/ and work/, never through a link, so \
                            that nothing outside the project is ever read or written; replace \
                            the link with a copy of what it points to";

/// Describes listed files. Each stat is relative to the open folder, so no path is looked up
/// again.
fn describe_all(batch: Batch, files: &mut Vec<DiskFile>) {
    for (path, entry) in batch {
        // A directory entry's metadata does not follow links.
        files.extend(describe(path, entry.metadata()));
    }
}

/// The current description of one file, as a scan would give it: None when it is gone or
/// not a file, a problem when it is a link or cannot be described.
pub fn stat(root: &Path, path: &str) -> Option<DiskFile> {
    describe(path.to_owned(), fs::symlink_metadata(root.join(path)))
}

/// The task files a root-relative path names now, as a scan would find them: the file itself,
/// every task file under it when it is a folder, none when it is gone, is no task file, or
/// lies behind a link (which the scan reports on the link's own path).
pub fn find(root: &Path, path: &str) -> Vec<DiskFile> {
    if !in_tasks(path) || behind_link(root, path) {
        return Vec::new();
    }
    let full = root.join(path);
    match fs::symlink_metadata(&full) {
        Ok(m) if m.is_dir() => walk(root, path),
        Ok(m) if m.file_type().is_symlink() => link(path.to_owned(), &full).into_iter().collect(),
        Ok(_) if is_task_path(path) => stat(root, path).into_iter().collect(),
        Ok(_) => Vec::new(),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Vec::new()
        }
        Err(e) => vec![DiskFile::problem(
            path.to_owned(),
            format!("cannot read: {e}"),
        )],
    }
}

/// Whether a folder on the way from the root to `path` (the tasks folder included) is a link.
pub fn behind_link(root: &Path, path: &str) -> bool {
    linked_folder(root, path).is_some()
}

fn describe(path: String, metadata: io::Result<fs::Metadata>) -> Option<DiskFile> {
    let metadata = match metadata {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => return Some(DiskFile::problem(path, format!("cannot read: {e}"))),
    };
    if metadata.file_type().is_symlink() {
        return Some(DiskFile::problem(path, LINK_PROBLEM));
    }
    if !metadata.is_file() {
        return None;
    }
    Some(DiskFile {
        path,
        size: metadata.len(),
        mtime_ns: mtime_ns(&metadata),
        problem: None,
    })
}

fn mtime_ns(metadata: &fs::Metadata) -> i64 {
    // A file system without modification times gives every file the same one, so changes
    // show only in sizes; annotask then re-reads on size changes alone.
    metadata
        .modified()
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Reads a task file, refusing to read more than the size limit plus one byte, so a file that
/// grew after it was listed still cannot exhaust memory.
pub fn read(root: &Path, path: &str) -> io::Result<Vec<u8>> {
    read_up_to(root, path, None, MAX_FILE_BYTES)
}

/// A folder held open, so that files under it are opened by their paths relative to it: the
/// system then looks up the names of the relative path only, not the folder's own path again
/// for every file (a project root given as an absolute path is most of the names a task
/// file's path has).
pub struct OpenFolder {
    path: PathBuf,
    /// None when the folder cannot be opened: files are then opened by their whole paths,
    /// and each one's error says why.
    handle: Option<File>,
}

impl OpenFolder {
    pub fn new(path: &Path) -> OpenFolder {
        OpenFolder {
            path: path.to_owned(),
            handle: File::open(path).ok(),
        }
    }

    /// Opens the file at `relative` for reading, without following a link in its place.
    fn open_no_follow(&self, relative: &str) -> io::Result<File> {
        match &self.handle {
            Some(handle) => open_at(handle, relative, 0),
            None => open_no_follow(&self.path.join(relative)),
        }
    }
}

/// Opens `relative`, under the open folder `dir`, for reading with `flags` added, without
/// following a link in the last name's place.
fn open_at(dir: &File, relative: &str, flags: libc::c_int) -> io::Result<File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let relative = std::ffi::CString::new(relative)
        .map_err(|_| io::Error::other("the path holds a NUL byte"))?;
    // SAFETY: `relative` is a NUL-terminated string and `dir` an open descriptor; the new
    // descriptor is owned by the returned File alone.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            relative.as_ptr(),
            flags | libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is not owned elsewhere.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Reads a listed task file and describes it again, from the open file as it was just before
/// the read: the size and time the index keeps are those of the text it read, and a file
/// listed without a stat ([`scan_unstated`]) costs no path lookup more.
pub fn read_listed(root: &OpenFolder, file: &mut DiskFile) -> io::Result<Vec<u8>> {
    let open = root.open_no_follow(&file.path)?;
    let metadata = open.metadata()?;
    file.size = metadata.len();
    file.mtime_ns = mtime_ns(&metadata);
    read_open(open, Some(file.size), MAX_FILE_BYTES)
}

/// [`read`] with another size limit (a dataset file's).
///
/// `listed_size` is the size a listing found, when there was one: a first read that returns
/// just that many bytes is taken to have reached the end, without asking the system once more
/// (a third of the system calls of a sync). A file that grew since it was listed is still read
/// to its end.
pub fn read_up_to(
    root: &Path,
    path: &str,
    listed_size: Option<u64>,
    max_bytes: u64,
) -> io::Result<Vec<u8>> {
    read_open(open_no_follow(&root.join(path))?, listed_size, max_bytes)
}

fn read_open(file: File, listed_size: Option<u64>, max_bytes: u64) -> io::Result<Vec<u8>> {
    let limit = max_bytes + 1;
    let mut file = file.take(limit);
    let expected = listed_size.map_or(limit, |size| size.min(limit));
    let mut bytes = vec![0; expected.min(4096) as usize + 1];
    let mut len = 0;
    loop {
        if len == bytes.len() {
            bytes.resize(2 * len, 0);
        }
        match file.read(&mut bytes[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if len as u64 == expected {
            break;
        }
    }
    bytes.truncate(len);
    Ok(bytes)
}

/// Up to `len` bytes of a file from byte `offset`: fewer where the file ends first.
pub fn read_span(root: &Path, path: &str, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let file = open_no_follow(&root.join(path))?;
    let mut bytes = vec![0; len];
    let mut done = 0;
    while done < len {
        match file.read_at(&mut bytes[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(done);
    Ok(bytes)
}

/// Opens a file of the project to read it in parts, refusing a link as [`read_span`] does.
pub fn open(root: &Path, path: &str) -> io::Result<File> {
    open_no_follow(&root.join(path))
}

/// Opens a file for reading, refusing a link where the file should be: a link swapped in after
/// the listing must not make annotask read a file outside the project.
fn open_no_follow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// A file that holds secrets (the server's keys file), as read: its text, its permission
/// bits, taken from the file that was read, and the project's shared folder it lies in, if
/// it does.
pub struct PrivateFile {
    pub bytes: Vec<u8>,
    pub mode: u32,
    pub shared_dir: Option<&'static str>,
}

/// Reads a small file of secrets, with what the caller needs to judge where it lives and who
/// else may read it: whether it lies, links resolved, in one of the folders the project at
/// `root` shares in git ([`SHARED_DIRS`]), and its mode. The mode comes from the open file, so
/// a file swapped after the check cannot be read in its place.
pub fn read_private(path: &Path, root: &Path) -> io::Result<PrivateFile> {
    use std::os::unix::fs::PermissionsExt;
    let canonical = path.canonicalize()?;
    let shared_dir = SHARED_DIRS.into_iter().find(|folder| {
        root.join(folder)
            .canonicalize()
            .is_ok_and(|shared| canonical.starts_with(shared))
    });
    let file = File::open(&canonical)?;
    let mode = file.metadata()?.permissions().mode() & 0o7777;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    Ok(PrivateFile {
        bytes,
        mode,
        shared_dir,
    })
}

/// Reads a regular file by its path relative to `root` (`/`-separated, no `..`), opening each
/// folder on the way and the file itself without following a link, so neither a link nor a
/// folder swapped for one after a check can lead outside the project. Refuses what is not a
/// regular file, a file over `max_bytes`, and the files `never` names (the same file under
/// another name or a hard link included).
pub fn read_no_links(
    root: &Path,
    path: &str,
    max_bytes: u64,
    never: &[PathBuf],
) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::MetadataExt;
    let refuse = |why: &str| io::Error::other(why.to_owned());
    let open_at = |dir: &File, name: &str, flags: libc::c_int| {
        open_at(dir, name, flags).map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) | Some(libc::ENOTDIR) => {
                refuse("a link or a file is in its place on the path")
            }
            _ => e,
        })
    };
    let parts: Vec<&str> = path.split('/').collect();
    let Some((name, folders)) = parts.split_last() else {
        return Err(refuse("the path is empty"));
    };
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err(refuse("the path must name a file inside the project"));
    }
    let mut dir = File::open(root)?;
    for folder in folders {
        dir = open_at(&dir, folder, libc::O_DIRECTORY)?;
    }
    // Non-blocking, so that a FIFO put in the file's place does not hang the open.
    let file = open_at(&dir, name, libc::O_NONBLOCK)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refuse("it is not a regular file"));
    }
    if meta.len() > max_bytes {
        return Err(refuse("it is larger than the server serves"));
    }
    if never.iter().any(|secret| {
        fs::metadata(secret).is_ok_and(|s| s.dev() == meta.dev() && s.ino() == meta.ino())
    }) {
        return Err(refuse("it is a file the server keeps private"));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max_bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(refuse("it is larger than the server serves"));
    }
    Ok(bytes)
}

/// Whether `path` (relative to `root`, `/`-separated) is a regular file reached without
/// passing through a link, as [`read_no_links`] would open it; `Err` says why not.
pub fn is_file_no_links(root: &Path, path: &str) -> Result<(), String> {
    let mut at = root.to_path_buf();
    let parts: Vec<&str> = path.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        let meta = fs::symlink_metadata(&at).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => "no such file".to_owned(),
            _ => e.to_string(),
        })?;
        let last = i + 1 == parts.len();
        if meta.file_type().is_symlink() {
            return Err(format!(
                "`{}` is a link, which is never followed",
                parts[..=i].join("/")
            ));
        }
        if !last && !meta.is_dir() {
            return Err(format!("`{}` is not a folder", parts[..=i].join("/")));
        }
        if last && !meta.is_file() {
            return Err("it is not a regular file".to_owned());
        }
    }
    Ok(())
}

/// How to place a new file's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Fails with `AlreadyExists` rather than replace a file.
    New,
    /// Atomically replaces the file.
    Replace,
}

/// Writes `bytes` to `root/path` through a temporary file that is flushed to disk before it
/// takes the file's place, so readers see the old file or the new one, never a part.
pub fn write_atomic(root: &Path, path: &str, bytes: &[u8], placement: Placement) -> io::Result<()> {
    let target = root.join(path);
    let dir = target.parent().unwrap_or(root);
    fs::create_dir_all(dir)?;
    let temp = temp_path(&target);
    let result = (|| {
        let mut file = File::create_new(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        match placement {
            // A hard link fails if the target exists, where a rename would replace it.
            Placement::New => fs::hard_link(&temp, &target),
            Placement::Replace => fs::rename(&temp, &target),
        }
    })();
    let _ = fs::remove_file(&temp);
    result?;
    sync_dir(dir)
}

/// Removes a task file, making the removal durable.
pub fn remove(root: &Path, path: &str) -> io::Result<()> {
    let target = root.join(path);
    fs::remove_file(&target)?;
    sync_dir(target.parent().unwrap_or(root))
}

/// Names the temporary file so that the scan ignores it (it starts with a dot).
fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("task");
    target.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_whatever_the_listing_said() {
        let dir = tempfile::tempdir().unwrap();
        let text = "id: a\n".repeat(1000);
        fs::write(dir.path().join("a.yaml"), &text).unwrap();
        let size = text.len() as u64;
        // As listed, grown since, shrunk since, not listed.
        for listed in [Some(size), Some(size / 2), Some(size * 2), Some(0), None] {
            let bytes = read_up_to(dir.path(), "a.yaml", listed, MAX_FILE_BYTES).unwrap();
            assert_eq!(bytes, text.as_bytes(), "listed as {listed:?}");
        }
        // Listed without a stat, or with a stale one: the read describes the file.
        let mut listed = DiskFile::unread("a.yaml".into());
        assert_eq!(
            read_listed(&OpenFolder::new(dir.path()), &mut listed).unwrap(),
            text.as_bytes()
        );
        let stat = stat(dir.path(), "a.yaml").unwrap();
        assert_eq!((listed.size, listed.mtime_ns), (stat.size, stat.mtime_ns));
    }

    /// A file under an open folder is opened as its whole path would be: through linked
    /// folders, but not through a link in the file's own place; and a folder that cannot be
    /// opened leaves each file's own error.
    #[test]
    fn an_open_folder_opens_files_as_their_paths_would() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("tasks/team")).unwrap();
        fs::write(root.join("tasks/team/a.yaml"), "id: a\n").unwrap();
        std::os::unix::fs::symlink(root.join("tasks/team"), root.join("tasks/linked")).unwrap();
        std::os::unix::fs::symlink(root.join("tasks/team/a.yaml"), root.join("tasks/b.yaml"))
            .unwrap();
        let check = |folder: &OpenFolder, path: &str, expected: Result<&str, i32>| {
            let got = read_listed(folder, &mut DiskFile::unread(path.into()));
            let got = got.as_deref().map(|b| std::str::from_utf8(b).unwrap());
            let got = got.map_err(|e| e.raw_os_error().unwrap());
            assert_eq!(got, expected, "{path}");
        };
        let folder = OpenFolder::new(root);
        check(&folder, "tasks/team/a.yaml", Ok("id: a\n"));
        check(&folder, "tasks/linked/a.yaml", Ok("id: a\n"));
        check(&folder, "tasks/b.yaml", Err(libc::ELOOP));
        check(&folder, "tasks/none.yaml", Err(libc::ENOENT));
        let missing = OpenFolder::new(&root.join("gone"));
        check(&missing, "tasks/team/a.yaml", Err(libc::ENOENT));
    }

    #[test]
    fn find_names_files_folders_and_nothing() {
        let dir = tempfile::tempdir().unwrap();
        for path in ["tasks/a.yaml", "tasks/team/b.yaml", "tasks/team/notes.txt"] {
            write_atomic(dir.path(), path, b"x", Placement::New).unwrap();
        }
        let found =
            |path| -> Vec<String> { find(dir.path(), path).into_iter().map(|f| f.path).collect() };
        assert_eq!(found("tasks/a.yaml"), ["tasks/a.yaml"]);
        assert_eq!(found("tasks/team"), ["tasks/team/b.yaml"]);
        assert_eq!(found("tasks"), ["tasks/a.yaml", "tasks/team/b.yaml"]);
        assert!(found("tasks/team/notes.txt").is_empty());
        assert!(found("tasks/gone").is_empty());
        assert!(found("tasks/a.yaml/under-a-file.yaml").is_empty());
    }

    #[test]
    fn walks_find_every_task_file_once_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        // More files in one folder than a thread hands over at once, in folders at several
        // depths, and names that sort around `/`.
        let mut expected: Vec<String> = (0..3 * STAT_BATCH + 7)
            .map(|i| format!("tasks/{i}.yaml"))
            .chain((0..STAT_BATCH).map(|i| format!("tasks/a/{i}.yml")))
            .chain(["tasks/a.yaml", "tasks/a.b/c.yaml", "tasks/a/b/c/d.yaml"].map(String::from))
            .collect();
        let ignored = [
            "tasks/.git/a.yaml",
            "tasks/a/notes.txt",
            "tasks/.a.yaml",
            "b.yaml",
        ];
        for path in expected.iter().map(String::as_str).chain(ignored) {
            let file = dir.path().join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, path).unwrap();
        }
        expected.sort();
        let paths =
            |files: Vec<DiskFile>| -> Vec<String> { files.into_iter().map(|f| f.path).collect() };
        assert_eq!(paths(scan(dir.path())), expected);
        let under_a: Vec<String> = expected
            .iter()
            .filter(|p| p.starts_with("tasks/a/"))
            .cloned()
            .collect();
        assert_eq!(paths(walk(dir.path(), "tasks/a/")), under_a);
        assert!(scan(&dir.path().join("nowhere")).is_empty());
        // A folder that cannot be listed is a problem on its path, and the walk ends on every
        // thread rather than leaving some waiting.
        let listed = walk(dir.path(), "tasks/0.yaml");
        assert_eq!(paths(listed.clone()), ["tasks/0.yaml"]);
        assert!(
            listed[0]
                .problem
                .as_deref()
                .unwrap()
                .contains("cannot list the folder")
        );
        let sizes: Vec<u64> = scan(dir.path()).iter().map(|f| f.size).collect();
        let lengths: Vec<u64> = expected.iter().map(|p| p.len() as u64).collect();
        assert_eq!(sizes, lengths, "each file is described by its own stat");
    }

    #[test]
    fn merges_keep_path_order() {
        fn check(a: &[&str], b: &[&str], expected: &[&str]) {
            let files = |paths: &[&str]| -> Vec<DiskFile> {
                paths
                    .iter()
                    .map(|p| DiskFile {
                        path: p.to_string(),
                        size: 0,
                        mtime_ns: 0,
                        problem: None,
                    })
                    .collect()
            };
            let merged: Vec<String> = merge(files(a), files(b))
                .into_iter()
                .map(|f| f.path)
                .collect();
            assert_eq!(merged, expected, "{a:?} + {b:?}");
        }
        check(&[], &[], &[]);
        check(&["a"], &[], &["a"]);
        check(&[], &["a"], &["a"]);
        check(&["a", "c"], &["b", "d"], &["a", "b", "c", "d"]);
        check(&["b", "c"], &["a"], &["a", "b", "c"]);
        check(
            &["t/a.yaml", "t/a/b.yaml"],
            &["t/a.b/c.yaml"],
            &["t/a.b/c.yaml", "t/a.yaml", "t/a/b.yaml"],
        );
    }

    #[test]
    fn dataset_files_are_the_datasets_directly_in_inputs() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list_inputs(dir.path()).is_empty(), "no folder, no datasets");
        for path in [
            "inputs/b.csv",
            "inputs/a.jsonl",
            "inputs/notes.txt",
            "inputs/.a.jsonl",
            "inputs/team/c.jsonl",
        ] {
            write_atomic(dir.path(), path, b"x", Placement::New).unwrap();
        }
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("inputs/l.jsonl")).unwrap();
        let listed: Vec<(String, bool)> = list_inputs(dir.path())
            .into_iter()
            .map(|f| (f.path, f.problem.is_some()))
            .collect();
        let expected = [
            ("inputs/a.jsonl", false),
            ("inputs/b.csv", false),
            ("inputs/l.jsonl", true),
        ];
        assert_eq!(listed, expected.map(|(p, b)| (p.to_owned(), b)));
        for (path, expected) in [
            ("inputs", true),
            ("inputs/a.jsonl", true),
            ("inputs/.a.jsonl.swp", false),
            ("inputs/team/a.jsonl", false),
            ("inputsx/a.jsonl", false),
            ("tasks/a.yaml", false),
        ] {
            assert_eq!(layout::in_inputs(path), expected, "{path}");
        }
    }

    #[test]
    fn new_files_never_replace() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), "tasks/a.yaml", b"one", Placement::New).unwrap();
        let err = write_atomic(dir.path(), "tasks/a.yaml", b"two", Placement::New).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        write_atomic(dir.path(), "tasks/a.yaml", b"three", Placement::Replace).unwrap();
        assert_eq!(fs::read(dir.path().join("tasks/a.yaml")).unwrap(), b"three");
        let names: Vec<_> = scan(dir.path()).into_iter().map(|f| f.path).collect();
        assert_eq!(names, ["tasks/a.yaml"], "no temporary file is left behind");
    }
}
