//! The work files' part of a sync: which files to read (an appended file only from where the
//! last read ended), their events into the index, and which inputs to replay, with the rules
//! that say when: an input whose events changed, every input with events of a task whose
//! definition changed, and an input whose plan (its planned workers, its review sample) moved.
//! Must not print, and must not decide states: [`crate::work::replay`] does.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::thread;

use super::Summary;
use crate::files::{self, DiskFile};
use crate::layout;
use crate::plans::InputPlans;
use crate::store::{self, CountDeltas, WorkFileState, Writer};
use crate::validate::{self, Diagnostic};
use crate::work::{self, InputState, Line, Rules, Stored};

/// What a sync must do about the work files. There are a few per task and person, so every
/// sync that looks at `work/` lists all of it.
#[derive(Debug, Default, PartialEq)]
pub struct WorkChanges {
    pub read: Vec<WorkRead>,
    /// Files in error as listed (a link, a name that is no `<task>/<user>.jsonl` of ids): recorded
    /// with their error without being read; the events they had stay.
    pub refused: Vec<(DiskFile, Diagnostic)>,
    /// Work files the index knows that are gone.
    pub remove: Vec<String>,
    /// The planned files that had an error when last read, to tell which are fixed.
    pub invalid_before: BTreeSet<String>,
}

impl WorkChanges {
    pub fn is_empty(&self) -> bool {
        self.read.is_empty() && self.refused.is_empty() && self.remove.is_empty()
    }

    /// How many bytes the plan reads.
    pub fn bytes(&self) -> u64 {
        self.read.iter().map(|r| r.file.size).sum()
    }
}

/// A work file to read: whole, or from where the last read ended when it only grew.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkRead {
    pub file: DiskFile,
    pub task: String,
    pub user: String,
    /// What the index knew of it, when it may have been appended to.
    pub before: Option<WorkFileState>,
    /// The bytes before `before.consumed` are known to be as read then (annotask appended to
    /// the file while it was as the index last read it): only the rest is read.
    pub appended_by_us: bool,
}

/// Compares the work files on disk (as [`files::list_work`] gives them) with the index's.
pub fn work_changes(disk: Vec<DiskFile>, known: &HashMap<String, WorkFileState>) -> WorkChanges {
    let mut plan = WorkChanges::default();
    let mut problems = Vec::new();
    for file in &disk {
        let was = known.get(&file.path);
        let changed = was.is_none_or(|k| k.size != file.size || k.mtime_ns != file.mtime_ns);
        if !changed {
            continue;
        }
        if was.is_some_and(|k| k.invalid) {
            plan.invalid_before.insert(file.path.clone());
        }
        if let Some(problem) = &file.problem {
            problems.push(file.path.clone());
            plan.refused
                .push((file.clone(), Diagnostic::error("", problem.to_string())));
            continue;
        }
        match owner(&file.path) {
            Ok((task, user)) => plan.read.push(WorkRead {
                task: task.to_owned(),
                user: user.to_owned(),
                // Only a file that grew may have been appended to: one rewritten to the same
                // size or smaller (a hand edit, a checkout) is read whole.
                before: was.filter(|k| file.size > k.size).cloned(),
                appended_by_us: false,
                file: file.clone(),
            }),
            Err(d) => plan.refused.push((file.clone(), d)),
        }
    }
    let on_disk: BTreeSet<&str> = disk.iter().map(|f| f.path.as_str()).collect();
    plan.remove = known
        .keys()
        .filter(|path| !on_disk.contains(path.as_str()))
        // What cannot be listed is not gone.
        .filter(|path| !super::tasks::under_any(&problems, path))
        .cloned()
        .collect();
    plan.remove.sort();
    plan
}

/// The task and user a work file belongs to, from its path.
fn owner(path: &str) -> Result<(&str, &str), Diagnostic> {
    let hint =
        "work files are `work/<task_id>/<user_id>.jsonl`, with ids of letters, digits, `-` and `_`";
    let (task, user) = layout::work_owner(path)
        .ok_or_else(|| Diagnostic::error("", "not a work file's name").hint(hint))?;
    for (what, id) in [("task", task), ("user", user)] {
        validate::check_id(id).map_err(|e| {
            Diagnostic::error(
                "",
                format!("the {what} id in the file's name is not valid: {e}"),
            )
            .hint(hint)
        })?;
    }
    Ok((task, user))
}

/// A work file after reading.
struct WorkOutcome {
    read: WorkRead,
    /// Only the lines after what was read before were read.
    append: bool,
    /// The file could not be read (or is over the size limit): the events the index has from
    /// it stay until it can be read again.
    unread: bool,
    /// How many lines hold an event (the events went to [`load_all`]'s caller block by block).
    event_lines: u64,
    diagnostics: Vec<Diagnostic>,
    /// Where the whole lines read end, how many there are, and the hash of the bytes before
    /// that end.
    consumed: u64,
    lines: u32,
    hash: Vec<u8>,
}

/// An event of a file just read, as the sync keeps it until its input's row is written and
/// replayed: its line, one input it is about, and the event as the index keeps it (an
/// annotation as its JSON text: a parsed one took four times the room, and a first sync of
/// 600,000 lines held them all).
struct ReadEvent {
    line: u32,
    input: String,
    stored: Stored,
}

/// Parsed lines into the events a sync keeps, one per input each is about.
fn keep(lines: Vec<(u32, Line)>, events: &mut Vec<ReadEvent>) {
    for (line, parsed) in lines {
        let stored = parsed.to_stored();
        match parsed.event.inputs() {
            [input] => events.push(ReadEvent {
                line,
                input: input.clone(),
                stored,
            }),
            many => events.extend(many.iter().map(|input| ReadEvent {
                line,
                input: input.clone(),
                stored: stored.clone(),
            })),
        }
    }
}

/// How many bytes of work files are read and parsed at a time for each core: a file is never
/// held whole, and its parsed lines are made compact a block at a time. (A block is parsed in
/// pieces of a MiB on every core; see [`work::parse_log`].) A first sync of 600,000 lines in
/// three files peaked at 168 MB holding two of them whole, 140-150 MB with blocks of 4 MiB,
/// and 106-111 MB with blocks of 1 MiB, in the same time.
const PARSE_BLOCK_PER_CORE: usize = 1 << 20;

/// A work file read a block of whole lines at a time, up to the size it was listed at, through
/// one handle: a file replaced meanwhile (by a rename) is read as it was when opened.
struct Reader {
    file: File,
    /// Where the next bytes are read from, and where reading stops.
    at: u64,
    end: u64,
    block: usize,
    /// Bytes read and not yet parsed, `buf[..len]`, after the `handed` bytes of the last
    /// block. The rest of `buf` is room, zeroed once: zeroing each block anew cost a sixth of
    /// checking a 220 MB file's prefix.
    buf: Vec<u8>,
    len: usize,
    handed: usize,
}

impl Reader {
    fn new(file: File, end: u64, block: usize) -> Reader {
        Reader {
            file,
            at: 0,
            end,
            block: block.max(1),
            buf: Vec::new(),
            len: 0,
            handed: 0,
        }
    }

    /// Reads on from byte `at`, dropping what was read before.
    fn seek(&mut self, at: u64) {
        self.at = at;
        self.len = 0;
        self.handed = 0;
    }

    /// The bytes read and not yet handed out.
    fn read(&self) -> &[u8] {
        &self.buf[self.handed..self.len]
    }

    /// Reads up to `want` more bytes after those held, and says how many: none at the end (the
    /// size listed, or sooner when the file shrank since).
    fn fill(&mut self, want: usize) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let left = usize::try_from(self.end.saturating_sub(self.at)).unwrap_or(usize::MAX);
        let want = want.min(left);
        if self.buf.len() < self.len + want {
            self.buf.resize(self.len + want, 0);
        }
        let mut done = 0;
        while done < want {
            let room = &mut self.buf[self.len + done..self.len + want];
            match self.file.read_at(room, self.at + done as u64) {
                Ok(0) => {
                    self.end = self.at + done as u64;
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        self.len += done;
        self.at += done as u64;
        Ok(done)
    }

    /// The next whole lines, about a block of them (more when a line is longer); at the end,
    /// what is left, whose last line may be unfinished; `None` after that.
    fn next_block(&mut self) -> io::Result<Option<&[u8]>> {
        self.buf.copy_within(self.handed..self.len, 0);
        self.len -= self.handed;
        let mut searched = 0;
        self.handed = loop {
            let read = self.fill(self.block)?;
            let unsearched = &self.buf[searched..self.len];
            if let Some(i) = unsearched.iter().rposition(|&b| b == b'\n') {
                break searched + i + 1;
            }
            if read == 0 {
                break self.len;
            }
            searched = self.len;
        };
        Ok((self.handed > 0).then(|| &self.buf[..self.handed]))
    }

    /// The hash of the file's first `len` bytes; `None` when it is shorter. Reading goes on
    /// from there.
    fn hash_prefix(&mut self, len: u64) -> io::Result<Option<PrefixHash>> {
        self.seek(0);
        let mut hash = PrefixHash::new();
        while self.at < len {
            let want = usize::try_from(len - self.at).map_or(self.block, |n| n.min(self.block));
            if self.fill(want)? == 0 {
                return Ok(None);
            }
            hash.update(self.read());
            self.len = 0;
        }
        Ok(Some(hash))
    }
}

/// A byte-order mark, which some editors put at the start of a UTF-8 file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What an appended read must find before the end of the earlier read to take the file as only
/// appended to: a hash of every byte before it, so that a line edited in place at the same
/// length is told from an append. Four lanes of 64-bit words, each step a bijection of its lane
/// (so one changed word always changes it); the index keeps the state itself (lanes, length,
/// the bytes short of a block), so that an append annotask made itself extends it with the new
/// bytes alone. It tells edits from appends; it is no defence against a forger, which
/// `validate --commits` is.
#[derive(Debug, Clone, PartialEq)]
struct PrefixHash {
    lanes: [u64; 4],
    len: u64,
    pending: Vec<u8>,
}

impl PrefixHash {
    const K: [u64; 4] = [
        0x9e37_79b9_7f4a_7c15,
        0xc2b2_ae3d_27d4_eb4f,
        0x1656_67b1_9e37_79f9,
        0xd6e8_feb8_6659_fd93,
    ];
    const BLOCK: usize = 32;

    fn new() -> PrefixHash {
        PrefixHash {
            lanes: Self::K,
            len: 0,
            pending: Vec::new(),
        }
    }

    fn of(bytes: &[u8]) -> PrefixHash {
        let mut hash = PrefixHash::new();
        hash.update(bytes);
        hash
    }

    fn step(lane: &mut u64, word: &[u8], k: u64) {
        let mut w = [0u8; 8];
        w[..word.len()].copy_from_slice(word);
        *lane = (*lane ^ u64::from_le_bytes(w))
            .wrapping_mul(k)
            .rotate_left(29);
    }

    fn block(&mut self, block: &[u8]) {
        for (i, lane) in self.lanes.iter_mut().enumerate() {
            Self::step(lane, &block[i * 8..i * 8 + 8], Self::K[i]);
        }
    }

    fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if !self.pending.is_empty() {
            let take = (Self::BLOCK - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.pending.len() < Self::BLOCK {
                return;
            }
            let block = std::mem::take(&mut self.pending);
            self.block(&block);
        }
        let mut blocks = bytes.chunks_exact(Self::BLOCK);
        for block in &mut blocks {
            self.block(block);
        }
        self.pending = blocks.remainder().to_vec();
    }

    /// The state as the index keeps it: the lanes and length, little-endian, then the bytes
    /// short of a block.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40 + self.pending.len());
        for lane in self.lanes {
            out.extend_from_slice(&lane.to_le_bytes());
        }
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.pending);
        out
    }

    fn from_bytes(bytes: &[u8]) -> Option<PrefixHash> {
        let word = |i: usize| {
            Some(u64::from_le_bytes(
                bytes.get(i * 8..i * 8 + 8)?.try_into().ok()?,
            ))
        };
        let pending = bytes.get(40..)?;
        (pending.len() < Self::BLOCK).then_some(())?;
        Some(PrefixHash {
            lanes: [word(0)?, word(1)?, word(2)?, word(3)?],
            len: word(4)?,
            pending: pending.to_vec(),
        })
    }
}

/// Reads one work file, from where the last read ended when every byte before that end is
/// still the same (an append: the usual change, by annotask or a `git pull`), else all of it,
/// `block` bytes at a time. Its events go to `send` a block at a time; when a read fails part
/// way, the outcome says the file is unread, and the events it sent are to be dropped.
fn load(
    root: &Path,
    read: WorkRead,
    block: usize,
    send: &mut dyn FnMut(Vec<ReadEvent>),
) -> WorkOutcome {
    let failed = |mut read: WorkRead, d: Diagnostic| {
        read.file.mtime_ns = files::UNREAD;
        WorkOutcome {
            read,
            append: false,
            unread: true,
            event_lines: 0,
            diagnostics: vec![d],
            consumed: 0,
            lines: 0,
            hash: Vec::new(),
        }
    };
    if read.file.size > work::MAX_FILE_BYTES {
        let d = Diagnostic::error(
            "",
            format!(
                "the file is {} bytes; work files are limited to {} bytes",
                read.file.size,
                work::MAX_FILE_BYTES
            ),
        )
        .hint("start a new task for more work; this file's earlier events are kept");
        return failed(read, d);
    }
    let cannot_read = |e: io::Error| {
        Diagnostic::error("", format!("cannot read the file: {e}"))
            .hint("the events the index has from this file are kept until it can be read")
    };
    // Read to the size listed, which the limit was checked on; a file that grew since is read
    // to there, as the listing saw it.
    let mut reader = match files::open(root, &read.file.path) {
        Ok(file) => Reader::new(file, read.file.size, block),
        Err(e) => return failed(read, cannot_read(e)),
    };
    let (mut consumed, mut lines, append, mut hash) = match start(&read, &mut reader) {
        Ok(start) => start,
        Err(e) => return failed(read, cannot_read(e)),
    };
    let (mut diagnostics, mut event_lines) = (Vec::new(), 0);
    loop {
        let piece = match reader.next_block() {
            Ok(Some(piece)) => piece,
            Ok(None) => break,
            Err(e) => return failed(read, cannot_read(e)),
        };
        // Made compact on the cores that parsed the lines.
        let parts = work::parse_log_each(piece, lines + 1, |log| {
            let mut events = Vec::with_capacity(log.lines.len());
            let read = log.lines.len() as u64;
            keep(log.lines, &mut events);
            (events, log.diagnostics, read)
        });
        let mut events = Vec::new();
        for (mut part, found, read) in parts {
            event_lines += read;
            diagnostics.extend(found);
            if events.is_empty() {
                events = part;
            } else {
                events.append(&mut part);
            }
        }
        send(events);
        // Only the last piece may end in an unfinished line, which is read again next time.
        let whole = piece.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        hash.update(&piece[..whole]);
        lines += piece[..whole].iter().filter(|&&b| b == b'\n').count() as u32;
        consumed += whole as u64;
    }
    WorkOutcome {
        read,
        append,
        unread: false,
        event_lines,
        diagnostics,
        consumed,
        lines,
        hash: hash.to_bytes(),
    }
}

/// Where parsing starts: where the last read ended (with its lines and hash) when annotask
/// appended to the file itself, or when every byte before that end is still the same; else
/// at the start of the file, after a byte-order mark, which is no part of the first line.
/// Says the bytes before, the lines before, whether it is an append, and the hash so far.
fn start(read: &WorkRead, reader: &mut Reader) -> io::Result<(u64, u32, bool, PrefixHash)> {
    if let Some(before) = &read.before {
        let trusted = PrefixHash::from_bytes(&before.tail)
            .filter(|_| read.appended_by_us && before.consumed <= read.file.size);
        let unchanged = match trusted {
            Some(hash) => Some(hash),
            None => reader
                .hash_prefix(before.consumed)?
                .filter(|hash| hash.to_bytes() == before.tail),
        };
        if let Some(hash) = unchanged {
            reader.seek(before.consumed);
            return Ok((before.consumed, before.lines, true, hash));
        }
    }
    reader.seek(0);
    reader.fill(BOM.len())?;
    if reader.read() == BOM {
        reader.handed = BOM.len();
        return Ok((BOM.len() as u64, 0, false, PrefixHash::of(BOM)));
    }
    Ok((0, 0, false, PrefixHash::new()))
}

/// What [`load_all`] hands over as it reads.
enum Loaded {
    /// Events of the file `reads[file]`, as soon as a block of it is read, in any order of
    /// files. A file whose read fails part way has sent some: its `Done` says it is unread.
    Events { file: usize, events: Vec<ReadEvent> },
    /// A file read, in the order of `reads`, after all its events.
    Done(Box<WorkOutcome>),
}

/// Reads work files on every core, handing what is read to `take` on this thread as soon as
/// it is, so that the events of a block of lines are all that is held of them.
fn load_all<E>(
    root: &Path,
    reads: Vec<WorkRead>,
    mut take: impl FnMut(Loaded) -> Result<(), E>,
) -> Result<(), E> {
    let cores = crate::cores::cores();
    let threads = cores.min(reads.len().max(1));
    // Fewer files than cores are read in larger blocks, which are parsed on the other cores.
    let block = PARSE_BLOCK_PER_CORE * (cores / threads).max(1);
    let slots: Vec<Mutex<Option<WorkRead>>> = reads
        .into_iter()
        .map(|read| Mutex::new(Some(read)))
        .collect();
    let next = AtomicUsize::new(0);
    let (slots, next) = (&slots, &next);
    thread::scope(|scope| {
        // Bounded, so that reading stays at most a few blocks ahead of `take`.
        let (sender, received) = mpsc::sync_channel(2 * threads);
        for _ in 0..threads {
            let sender = sender.clone();
            scope.spawn(move || {
                loop {
                    let file = next.fetch_add(1, Ordering::Relaxed);
                    let Some(read) = slots.get(file).and_then(|s| s.lock().ok()?.take()) else {
                        break;
                    };
                    let mut send = |events| {
                        let _ = sender.send((file, Loaded::Events { file, events }));
                    };
                    let outcome = load(root, read, block, &mut send);
                    // Fails only when `take` stopped at an error: nothing more is wanted.
                    if sender
                        .send((file, Loaded::Done(Box::new(outcome))))
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
        drop(sender);
        // Files read before the one next in order.
        let mut early = BTreeMap::new();
        let mut due = 0;
        for (file, loaded) in received {
            match loaded {
                Loaded::Done(outcome) => {
                    early.insert(file, outcome);
                }
                events => take(events)?,
            }
            while let Some(outcome) = early.remove(&due) {
                take(Loaded::Done(outcome))?;
                due += 1;
            }
        }
        Ok(())
    })
}

/// Checks work files (as [`files::list_work`] gives them) as a sync would read them, without
/// the index: each file's diagnostics, in path order.
pub fn check_work(root: &Path, disk: Vec<DiskFile>) -> Vec<(String, Vec<Diagnostic>)> {
    let plan = work_changes(disk, &HashMap::new());
    let mut found: Vec<(String, Vec<Diagnostic>)> = plan
        .refused
        .into_iter()
        .map(|(file, d)| (file.path, vec![d]))
        .collect();
    let Ok(()) = load_all(root, plan.read, |loaded| {
        if let Loaded::Done(outcome) = loaded {
            found.push((outcome.read.file.path, outcome.diagnostics));
        }
        Ok::<(), std::convert::Infallible>(())
    });
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// Applies the work part of a plan through `writer`, then replays the inputs that need it:
/// those whose events changed, those of `redefined` tasks (added, changed or removed), and
/// those of `replanned` tasks whose plan moved them.
pub(super) fn write_work(
    writer: &Writer<'_>,
    root: &Path,
    plan: WorkChanges,
    summary: &mut Summary,
    redefined: &BTreeSet<String>,
    replanned: &BTreeSet<String>,
) -> store::Result<()> {
    let mut touched: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // When the index held no events, every event is read now (a third of a first sync of
    // 600,000 events was reading them back).
    let read_now = writer.no_work_events()?;
    for path in &plan.remove {
        if let Some((task, user)) = layout::work_owner(path) {
            let inputs = writer.delete_work_events(task, user)?;
            touched.entry(task.to_owned()).or_default().extend(inputs);
        }
        writer.remove_work_file(path)?;
    }
    for (file, d) in &plan.refused {
        let owner = layout::work_owner(&file.path).unwrap_or_default();
        writer.put_work_file(
            &file.path,
            owner,
            (file.size, files::UNREAD),
            (0, 0, &[]),
            std::slice::from_ref(d),
            false,
        )?;
        summary.invalid.push(file.path.clone());
    }
    // Each input's new events, gathered over every file, so that its row is written once.
    let mut gathered = Gathered::default();
    // Whose each file is, by its place in the reads.
    let owners: Vec<(String, String)> = plan
        .read
        .iter()
        .map(|r| (r.task.clone(), r.user.clone()))
        .collect();
    load_all(root, plan.read, |loaded| -> store::Result<()> {
        let outcome = match loaded {
            Loaded::Events { file, events } => {
                let (task, user) = &owners[file];
                gathered.add(task, user, events);
                return Ok(());
            }
            Loaded::Done(outcome) => outcome,
        };
        let WorkRead {
            file, task, user, ..
        } = &outcome.read;
        let inputs = touched.entry(task.clone()).or_default();
        let diagnostics = &outcome.diagnostics;
        if outcome.unread {
            // What was read before stays, events and all, until the file can be read; so do
            // none of the events of a read that failed part way.
            gathered.forget(task, user);
            writer.put_unread_work_file(&file.path, (task, user), file.size, diagnostics)?;
            summary.invalid.push(file.path.clone());
            return Ok(());
        }
        if !outcome.append {
            inputs.extend(writer.delete_work_events(task, user)?);
        }
        writer.put_work_file(
            &file.path,
            (task, user),
            (file.size, file.mtime_ns),
            (outcome.consumed, outcome.lines, &outcome.hash),
            diagnostics,
            outcome.append,
        )?;
        if diagnostics.iter().any(Diagnostic::is_error) {
            summary.invalid.push(file.path.clone());
        } else if plan.invalid_before.contains(&file.path) {
            summary.fixed.push(file.path.clone());
        }
        summary.events_added += outcome.event_lines;
        Ok(())
    })?;
    // Each input's row is written once, from what it held and what was read, and the input is
    // replayed from the same events: reading the row back and parsing it again was a tenth of
    // importing 100,000 annotations.
    let Gathered { tasks: read, users } = &mut gathered;
    for (task, by_input) in read.iter_mut() {
        let fresh = read_now || !writer.has_work_events(task)?;
        for (input, events) in by_input.iter_mut() {
            if !fresh {
                let known = writer.input_entries(task, input)?;
                if !known.is_empty() {
                    // What the row held first: should a line come again, it is the same line.
                    let mut merged = Vec::with_capacity(known.len() + events.len());
                    for (user, line, stored) in known {
                        let user = Gathered::user_number(users, &user);
                        merged.push(Held { user, line, stored });
                    }
                    merged.append(events);
                    *events = merged;
                }
            }
            Gathered::order(users, events);
            let entries: Vec<(&str, u32, &Stored)> = events
                .iter()
                .map(|e| (users[e.user as usize].as_str(), e.line, &e.stored))
                .collect();
            writer.put_work_events(task, input, &entries)?;
        }
    }
    writer.sync_behind();
    // Only a task with work can need a replay: a first sync of 100,000 tasks must not prepare
    // each, nor copy every id.
    let (derived, with_events) = writer.tasks_with_work()?;
    let derived: BTreeSet<String> = derived.into_iter().collect();
    let tasks: BTreeSet<String> = derived
        .iter()
        .cloned()
        .chain(with_events)
        .filter(|id| {
            touched.contains_key(id)
                || gathered.tasks.contains_key(id)
                || redefined.contains(id)
                || replanned.contains(id)
        })
        .collect();
    let mut deltas = CountDeltas::default();
    let replay = |deltas: &mut CountDeltas| {
        replay_tasks(
            writer, &tasks, &derived, touched, redefined, replanned, gathered, read_now, deltas,
        )
    };
    if read_now {
        writer.without_worker_index(|| replay(&mut deltas))?;
    } else {
        replay(&mut deltas)?;
    }
    writer.place_frontiers(&tasks)?;
    writer.add_counts(deltas)
}

/// Replays the inputs of `tasks` (each with work; `derived`: those with rows replayed before)
/// that need it (see [`write_work`]): those with events `read`
/// (each with all its events, as its row holds them) from those, the others from the index,
/// or, when the sync read every event (`complete`), as having none; adding the changes of
/// counts to `deltas`.
#[allow(clippy::too_many_arguments)]
fn replay_tasks(
    writer: &Writer<'_>,
    tasks: &BTreeSet<String>,
    derived: &BTreeSet<String>,
    mut touched: BTreeMap<String, BTreeSet<String>>,
    redefined: &BTreeSet<String>,
    replanned: &BTreeSet<String>,
    read: Gathered,
    complete: bool,
    deltas: &mut CountDeltas,
) -> store::Result<()> {
    let Gathered {
        tasks: mut read,
        users,
    } = read;
    for id in tasks {
        let Some(task) = writer.task(id)? else {
            writer.clear_task_work(id)?;
            continue;
        };
        let plan = writer.task_plan(id)?;
        let plans = InputPlans::new(task, plan.as_ref(), writer.plan_moves(id)?);
        let held = read.remove(id).unwrap_or_default();
        // Inputs whose events are held are replayed anyway (and a first sync holds every
        // input's): they are not copied into the set of the others.
        let other = |input: &String| !held.contains_key(input);
        let mut inputs: BTreeSet<String> = touched.remove(id).unwrap_or_default();
        if redefined.contains(id) {
            let all = writer.work_inputs(id)?.into_iter().map(|(input, _)| input);
            inputs.extend(all.filter(other));
        } else if replanned.contains(id) {
            for (input, sampled) in writer.work_inputs(id)? {
                if !other(&input) {
                    continue;
                }
                let selected = writer.in_source(plans.source(), &input)?;
                let moved = sampled != Some(plans.sampled(&input))
                    || writer.planned_holders(id, &input)? != plans.planned(&input, selected);
                if moved {
                    inputs.insert(input);
                }
            }
        }
        let fresh = !derived.contains(id);
        let (count, mut inputs) = in_order(inputs, held, complete);
        // Asking the index whether the source selects each of many inputs took longer than
        // reading the source's inputs once.
        let selected: Option<Vec<String>> = (count > REPLAY_BATCH)
            .then(|| writer.source_inputs(plans.source()))
            .transpose()?
            .map(|mut ids| {
                ids.sort_unstable();
                ids
            });
        let job = |(input, held): (String, Option<Vec<Held>>)| {
            let entries: Vec<store::Entry> = match held {
                Some(held) => Gathered::entries(&users, held),
                None => writer.input_entries(id, &input)?,
            };
            let selected = !entries.is_empty()
                && match &selected {
                    Some(ids) => ids.binary_search(&input).is_ok(),
                    None => writer.in_source(plans.source(), &input)?,
                };
            Ok((input, entries, selected))
        };
        let jobs = std::iter::from_fn(|| {
            let batch: store::Result<Vec<_>> =
                inputs.by_ref().take(REPLAY_BATCH).map(job).collect();
            match &batch {
                Ok(jobs) if jobs.is_empty() => None,
                _ => Some(batch),
            }
        });
        pipelined(
            jobs,
            |jobs| replay_all(&plans, jobs),
            |states| {
                for (input, state) in states? {
                    writer.put_input_state(
                        id,
                        &input,
                        state.as_ref().map(|(s, sampled)| (s, *sampled)),
                        fresh,
                        deltas,
                    )?;
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}

/// The events a sync read, by task and input, and the users who wrote them.
#[derive(Default)]
struct Gathered {
    tasks: HashMap<String, BTreeMap<String, Vec<Held>>>,
    users: Vec<String>,
}

impl Gathered {
    /// Adds `user`'s events on `task`.
    fn add(&mut self, task: &str, user: &str, events: Vec<ReadEvent>) {
        let user = Gathered::user_number(&mut self.users, user);
        if !self.tasks.contains_key(task) {
            self.tasks.insert(task.to_owned(), BTreeMap::new());
        }
        let by_input = self.tasks.get_mut(task).expect("inserted above");
        for ReadEvent {
            line,
            input,
            stored,
        } in events
        {
            let held = Held { user, line, stored };
            match by_input.get_mut(&input) {
                Some(events) => {
                    // An input has a few events from each of a few users: grown by half (a
                    // pair at least), the usual six take room for six, not eight.
                    if events.len() == events.capacity() {
                        events.reserve_exact((events.len() / 2).max(2));
                    }
                    events.push(held);
                }
                None => {
                    let mut events = Vec::with_capacity(2);
                    events.push(held);
                    by_input.insert(input, events);
                }
            }
        }
    }

    /// Drops `user`'s events on `task`.
    fn forget(&mut self, task: &str, user: &str) {
        let Some(user) = self.users.iter().position(|u| u == user) else {
            return;
        };
        if let Some(by_input) = self.tasks.get_mut(task) {
            by_input.retain(|_, events| {
                events.retain(|e| e.user as usize != user);
                !events.is_empty()
            });
        }
    }

    /// The number of `user` among `users`, added when new.
    fn user_number(users: &mut Vec<String>, user: &str) -> u32 {
        let known = users.iter().position(|u| u == user);
        known.unwrap_or_else(|| {
            users.push(user.to_owned());
            users.len() - 1
        }) as u32
    }

    /// Puts one input's events as the index keeps them: each user's together in file order,
    /// each line once (files are read in any order; a hand-out that names an input twice is
    /// one event on it). Of a line held twice, the first stays.
    fn order(users: &[String], held: &mut Vec<Held>) {
        held.sort_by(|a, b| {
            (&users[a.user as usize], a.line).cmp(&(&users[b.user as usize], b.line))
        });
        held.dedup_by(|a, b| a.user == b.user && a.line == b.line);
    }

    /// One input's events, in [`Gathered::order`], as replaying takes them.
    fn entries(users: &[String], held: Vec<Held>) -> Vec<store::Entry> {
        held.into_iter()
            .map(|e| (users[e.user as usize].clone(), e.line, e.stored))
            .collect()
    }
}

/// An event read in this sync, held until its input is written and replayed: its writer (by
/// number), its line, and the event as the index keeps it.
struct Held {
    user: u32,
    line: u32,
    stored: Stored,
}

/// How many inputs are replayed at a time before their rows are written. Two batches are held
/// at once, with every event parsed: batches of 8,192 inputs raised a first sync's peak by
/// 5-10 MB over batches of 2,048, in the same time.
const REPLAY_BATCH: usize = 2048;

/// Computes each batch (as `batches` yields it, on this thread) on other threads, while the
/// result of the batch before is written on this one: the index has one writer, and the next
/// batch need not wait for it.
fn pipelined<B: Send, T: Send>(
    batches: impl Iterator<Item = store::Result<B>>,
    compute: impl Fn(B) -> T + Sync,
    mut write: impl FnMut(T) -> store::Result<()>,
) -> store::Result<()> {
    let compute = &compute;
    thread::scope(|scope| {
        let mut running = None;
        for batch in batches {
            let batch = batch?;
            let next = scope.spawn(move || compute(batch));
            if let Some(done) = running.replace(next) {
                write(done.join().expect("encoding and replaying never panic"))?;
            }
        }
        match running {
            Some(done) => write(done.join().expect("encoding and replaying never panic")),
            None => Ok(()),
        }
    })
}

/// An input replayed: what it derives, with whether it is sampled for review (`None`: it has no
/// events left).
type Replayed = (String, Option<(InputState, bool)>);

/// How many inputs to replay, and each in order: with its events when the sync holds them
/// (`held`, all of each input's), else with none when the sync read every event of the task
/// (`complete`), else to be read from the index. The held events are handed on as they come,
/// not copied.
fn in_order(
    inputs: BTreeSet<String>,
    held: BTreeMap<String, Vec<Held>>,
    complete: bool,
) -> (usize, impl Iterator<Item = (String, Option<Vec<Held>>)>) {
    let count = held.len() + inputs.iter().filter(|i| !held.contains_key(*i)).count();
    let mut others = inputs.into_iter().peekable();
    let mut held = held.into_iter().peekable();
    let other = move |input| (input, complete.then(Vec::new));
    let next = move || match (others.peek(), held.peek()) {
        (Some(other_input), Some((input, _))) if other_input < input => others.next().map(other),
        (Some(other_input), Some((input, _))) if other_input == input => {
            others.next();
            held.next().map(|(input, events)| (input, Some(events)))
        }
        (_, Some(_)) => held.next().map(|(input, events)| (input, Some(events))),
        (_, None) => others.next().map(other),
    };
    (count, std::iter::from_fn(next))
}

/// Replays inputs (each with its events as the index keeps them, and whether the task's source
/// selects it) on every core, in their order: what each derives, with whether it is sampled
/// for review; `None` for an input with no events left.
fn replay_all(
    plans: &InputPlans,
    jobs: Vec<(String, Vec<store::Entry>, bool)>,
) -> store::Result<Vec<Replayed>> {
    let task = plans.task().id();
    let one = |(input, entries, selected): (String, Vec<store::Entry>, bool)| {
        if entries.is_empty() {
            return Ok::<Replayed, store::StoreError>((input, None));
        }
        let users = store::user_events(task, &input, entries)?;
        let sampled = plans.sampled(&input);
        let planned = plans.planned(&input, selected);
        let rules = Rules::of(plans.task(), sampled, selected);
        let state = work::replay(&rules, &input, &planned, &users);
        Ok((input, Some((state, sampled))))
    };
    let threads = crate::cores::cores();
    let chunk = jobs.len().div_ceil(threads).max(1);
    let mut jobs = jobs.into_iter();
    let parts: Vec<Vec<_>> = std::iter::from_fn(|| {
        let part: Vec<_> = jobs.by_ref().take(chunk).collect();
        (!part.is_empty()).then_some(part)
    })
    .collect();
    thread::scope(|scope| {
        let workers: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || part.into_iter().map(one).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a replay never panics"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::repo::Repo;

    const AT: &str = r#""at":"2026-12-03T17:00:00.123456789Z""#;

    /// `inputs` work lines of every kind over seven inputs: annotations (one of a concept
    /// no task has), submits, a hand-out of two inputs, withdraws, deletes and decisions, with
    /// a bad line, a blank one and a CRLF among them.
    fn history(inputs: usize, seed: u64) -> String {
        let mut seed = seed;
        let mut text = String::new();
        for i in 0..inputs {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let input = format!("in-{}", i % 7 + 1);
            let concept = ["cat", "dog", "unicorn"][(seed >> 33) as usize % 3];
            let other = ["ann", "bob", "carl"][(seed >> 40) as usize % 3];
            let decision = ["APPROVE", "REJECT", "REQUEST_CHANGES"][(seed >> 45) as usize % 3];
            text.push_str(&match (seed >> 50) % 9 {
                0 => format!("{{{AT},\"start\":{{\"input_ids\":[\"{input}\",\"in-2\"]}}}}\n"),
                1 => format!("{{{AT},\"withdraw\":{{\"input_id\":\"{input}\",\"submission\":1}}}}\r\n"),
                2 => format!("{{{AT},\"delete\":{{\"input_id\":\"{input}\",\"id\":\"a-{input}\"}}}}\n"),
                3 => format!("{{{AT},\"review\":{{\"input_id\":\"{input}\",\"worker\":\"{other}\",\"submission\":1,\"decision\":\"{decision}\",\"comment\":\"why {i}\"}}}}\n"),
                4 => "{\"at\": oops}\n\n".to_owned(),
                5 | 6 => format!("{{{AT},\"submit\":{{\"input_id\":\"{input}\"}}}}\n"),
                _ => format!(
                    "{{{AT},\"annotation\":{{\"id\":\"a-{input}\",\"input_id\":\"{input}\",\"data\":{{\"concepts\":[{{\"id\":\"{concept}\",\"value\":1}}]}},\"annotation_info\":{{\"n\":{i}}}}}}}\n"
                ),
            });
        }
        text
    }

    fn read_of(path: &str, size: u64) -> WorkRead {
        WorkRead {
            file: DiskFile {
                path: path.to_owned(),
                size,
                mtime_ns: 1,
                problem: None,
            },
            task: "t".into(),
            user: "ann".into(),
            before: None,
            appended_by_us: false,
        }
    }

    /// A file parsed in blocks of any size gives the events and diagnostics of its lines read
    /// whole, as the sync kept them before it held them compact: every line's event under
    /// each input it names, as the index keeps it.
    #[test]
    fn a_file_read_in_blocks_reads_as_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = history(400, 3);
        let cut = format!("{{{AT},\"submit\":");
        text.push_str(&cut);
        let path = "work/t/ann.jsonl";
        fs::create_dir_all(dir.path().join("work/t")).unwrap();
        fs::write(dir.path().join(path), format!("\u{feff}{text}")).unwrap();
        let size = text.len() as u64 + 3;
        let shown = |events: &[ReadEvent]| -> Vec<String> {
            events
                .iter()
                .map(|e| {
                    format!(
                        "{} {} {}",
                        e.line,
                        e.input,
                        serde_json::to_string(&e.stored).unwrap()
                    )
                })
                .collect()
        };
        let log = work::parse_log(text.as_bytes(), 1);
        let expected: Vec<String> = log
            .lines
            .iter()
            .flat_map(|(n, line)| {
                line.event.inputs().iter().map(move |input| {
                    format!(
                        "{n} {input} {}",
                        serde_json::to_string(&line.to_stored()).unwrap()
                    )
                })
            })
            .collect();
        assert!(expected.len() > 300 && log.diagnostics.len() > 20);
        for block in [1, 60, 333, 4096, usize::MAX / 2] {
            let mut events = Vec::new();
            let outcome = load(dir.path(), read_of(path, size), block, &mut |mut e| {
                events.append(&mut e)
            });
            assert_eq!(shown(&events), expected, "blocks of {block}");
            assert_eq!(outcome.diagnostics, log.diagnostics, "blocks of {block}");
            assert_eq!(outcome.event_lines, log.lines.len() as u64);
            assert_eq!(outcome.consumed, size - cut.len() as u64);
        }
    }

    /// A file that grew is parsed from where the last read ended when the bytes before are as
    /// they were (or when annotask appended to it), and whole when one of them changed, in
    /// blocks of any size.
    #[test]
    fn a_grown_file_is_read_from_where_it_was_left_only_when_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("work/t")).unwrap();
        let path = "work/t/ann.jsonl";
        let text = history(300, 5);
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let (first, rest) = (lines[..120].concat(), lines[120..].concat());
        let read_all = |read: WorkRead, block: usize| {
            let mut events = Vec::new();
            let outcome = load(dir.path(), read, block, &mut |mut e| events.append(&mut e));
            let lines: Vec<u32> = events.iter().map(|e| e.line).collect();
            (outcome, lines)
        };
        let size = |text: &str| text.len() as u64;
        for block in [1, 70, 4096, 1 << 20] {
            fs::write(dir.path().join(path), &first).unwrap();
            let (earlier, _) = read_all(read_of(path, size(&first)), block);
            let before = WorkFileState {
                size: size(&first),
                mtime_ns: 1,
                consumed: earlier.consumed,
                lines: earlier.lines,
                tail: earlier.hash.clone(),
                invalid: false,
            };
            let grown = format!("{first}{rest}");
            fs::write(dir.path().join(path), &grown).unwrap();
            let (whole, all_lines) = read_all(read_of(path, size(&grown)), 1 << 20);
            let new_lines: Vec<u32> = all_lines.iter().copied().filter(|&n| n > 120).collect();
            // (the file as annotask wrote it, the file as found, by annotask) -> read only the rest
            let edited = grown.replacen("\"in-", "\"in_", 1);
            for (written, found, ours, appended) in [
                (&grown, &grown, false, true),
                (&grown, &grown, true, true),
                (&edited, &edited, false, false),
            ] {
                fs::write(dir.path().join(path), found).unwrap();
                let read = WorkRead {
                    before: Some(before.clone()),
                    appended_by_us: ours,
                    ..read_of(path, size(written))
                };
                let (outcome, lines) = read_all(read, block);
                let case = format!("blocks of {block}, ours {ours}, appended {appended}");
                assert_eq!(outcome.append, appended, "{case}");
                assert_eq!(outcome.consumed, whole.consumed, "{case}");
                assert_eq!(outcome.lines, whole.lines, "{case}");
                if appended {
                    assert_eq!(lines, new_lines, "{case}");
                    assert_eq!(outcome.hash, whole.hash, "{case}");
                } else {
                    assert_eq!(lines.len(), all_lines.len(), "{case}");
                    assert_ne!(outcome.hash, whole.hash, "{case}");
                }
            }
        }
    }

    /// A sync drops the events a file sent before its read failed, and keeps everyone else's.
    #[test]
    fn forgetting_a_users_events() {
        let event = |line: u32, input: &str| ReadEvent {
            line,
            input: input.to_owned(),
            stored: Stored {
                kind: 2,
                at: 0,
                data: None,
            },
        };
        let mut gathered = Gathered::default();
        gathered.add("t", "ann", vec![event(1, "a"), event(2, "b")]);
        gathered.add("t", "bob", vec![event(1, "b"), event(2, "c")]);
        gathered.add("u", "ann", vec![event(1, "a")]);
        gathered.forget("t", "ann");
        gathered.forget("t", "zed");
        let shown = |task: &str| -> Vec<(String, Vec<(u32, u32)>)> {
            gathered.tasks[task]
                .iter()
                .map(|(input, held)| {
                    let held = held.iter().map(|h| (h.user, h.line)).collect();
                    (input.clone(), held)
                })
                .collect()
        };
        assert_eq!(
            shown("t"),
            [("b".into(), vec![(1, 1)]), ("c".into(), vec![(1, 2)])]
        );
        assert_eq!(shown("u"), [("a".into(), vec![(0, 1)])]);
    }

    /// The inputs to replay are those touched and those with events held, each once, in
    /// order; without held events, each is read from the index.
    #[test]
    fn inputs_in_order() {
        let held = |line: u32| Held {
            user: 0,
            line,
            stored: Stored {
                kind: 2,
                at: 0,
                data: None,
            },
        };
        fn shown(
            (count, all): (usize, impl Iterator<Item = (String, Option<Vec<Held>>)>),
        ) -> Vec<String> {
            let all: Vec<String> = all
                .map(|(input, events)| match events {
                    Some(events) => {
                        let lines: Vec<String> =
                            events.iter().map(|e| e.line.to_string()).collect();
                        format!("{input}:{}", lines.join(","))
                    }
                    None => format!("{input}?"),
                })
                .collect();
            assert_eq!(all.len(), count);
            all
        }
        let touched: BTreeSet<String> = ["a", "c", "d", "f"].map(String::from).into();
        let events = || -> BTreeMap<String, Vec<Held>> {
            [
                ("b".to_owned(), vec![held(1)]),
                ("c".to_owned(), vec![held(2), held(3)]),
                ("e".to_owned(), vec![held(4)]),
            ]
            .into()
        };
        assert_eq!(
            shown(in_order(touched.clone(), events(), true)),
            ["a:", "b:1", "c:2,3", "d:", "e:4", "f:"]
        );
        assert_eq!(
            shown(in_order(touched.clone(), events(), false)),
            ["a?", "b:1", "c:2,3", "d?", "e:4", "f?"]
        );
        assert_eq!(
            shown(in_order(touched, BTreeMap::new(), false)),
            ["a?", "c?", "d?", "f?"]
        );
    }

    /// What a first sync derives from the events it holds is what syncs of the same files
    /// appended bit by bit derive from each input's row merged with the lines they read:
    /// every row.
    #[test]
    fn a_first_sync_derives_what_appends_read_back_derive() {
        let dir = tempfile::tempdir().unwrap();
        crate::repo::init(dir.path()).unwrap();
        fs::create_dir_all(dir.path().join("inputs")).unwrap();
        fs::create_dir_all(dir.path().join("work/t")).unwrap();
        let inputs: String = (1..=6)
            .map(|i| format!("{{\"id\": \"in-{i}\"}}\n"))
            .collect();
        fs::write(dir.path().join("inputs/ds.jsonl"), inputs).unwrap();
        fs::write(
            dir.path().join("tasks/t.yaml"),
            "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog]\n\
             input_source: {type: ALL_INPUTS}\n\
             worker: {strategy: FULL, user_ids: [ann, bob, carl]}\n\
             review: {strategy: CONSENSUS, user_ids: [rita], consensus_strategy_info: {approval_threshold: 2}}\n",
        )
        .unwrap();
        let users = ["ann", "bob", "carl", "rita", "zed"];
        let texts: Vec<String> = users
            .iter()
            .enumerate()
            .map(|(i, _)| history(120, i as u64))
            .collect();
        let index = tempfile::tempdir().unwrap();
        let mut appended = Repo::open(dir.path(), Some(&index.path().join("a.db"))).unwrap();
        for part in 1..=4 {
            for (user, text) in users.iter().zip(&texts) {
                let lines: Vec<&str> = text.split_inclusive('\n').collect();
                let upto = lines.len() * part / 4;
                fs::write(
                    dir.path().join(format!("work/t/{user}.jsonl")),
                    lines[..upto].concat(),
                )
                .unwrap();
            }
            appended.sync().unwrap();
        }
        let mut first = Repo::open(dir.path(), Some(&index.path().join("f.db"))).unwrap();
        first.sync().unwrap();
        let rows = first.index().work_rows();
        assert!(
            rows.iter().any(|r| r.starts_with("work_refused")),
            "{rows:#?}"
        );
        let again = appended.index().work_rows();
        let count = |all: &[String], r: &String| all.iter().filter(|x| *x == r).count();
        let differ: Vec<String> = rows
            .iter()
            .chain(&again)
            .filter(|r| count(&rows, r) != count(&again, r))
            .map(|r| {
                format!(
                    "{} {} {}",
                    count(&rows, r),
                    count(&again, r),
                    &r[..r.len().min(200)]
                )
            })
            .collect();
        assert!(differ.is_empty(), "{differ:#?}");
        assert_eq!(again, rows);
    }

    /// Every byte changed anywhere, and every length, gives another hash; a hash extended
    /// piece by piece is the hash of the whole, wherever the pieces end.
    #[test]
    fn the_prefix_hash() {
        let text: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
        let whole = PrefixHash::of(&text).to_bytes();
        for at in 0..text.len() {
            let mut edited = text.clone();
            edited[at] ^= 1;
            assert_ne!(PrefixHash::of(&edited).to_bytes(), whole, "byte {at}");
            assert_ne!(PrefixHash::of(&text[..at]).to_bytes(), whole, "length {at}");
            for cut in [at, (at + 7).min(text.len())] {
                let mut pieces = PrefixHash::of(&text[..at.min(cut)]);
                let kept = PrefixHash::from_bytes(&pieces.to_bytes()).unwrap();
                assert_eq!(kept, pieces);
                pieces.update(&text[at.min(cut)..cut]);
                pieces.update(&text[cut..]);
                assert_eq!(pieces.to_bytes(), whole, "pieces at {at}, {cut}");
            }
        }
    }
}
