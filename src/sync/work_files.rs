//! The work files' part of a sync: which files to read (an appended file only from where the
//! last read ended), their events into the index, and which inputs to replay, with the rules
//! that say when: an input whose events changed, every input with events of a task whose
//! definition changed, and an input whose plan (its planned workers, its review sample) moved.
//! Must not print, and must not decide states: [`crate::work::replay`] does.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
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

/// How many bytes of a file are parsed at a time: its parsed lines are kept compact block by
/// block, never all at once.
const PARSE_BLOCK: usize = 4 << 20;

/// `bytes` in blocks of whole lines of about `block` bytes (the last ends where `bytes` does),
/// each with the number of its first line.
fn blocks(bytes: &[u8], first_line: u32, block: usize) -> impl Iterator<Item = (&[u8], u32)> {
    let (mut from, mut line) = (0, first_line);
    std::iter::from_fn(move || {
        if from >= bytes.len() {
            return None;
        }
        let target = (from + block).min(bytes.len());
        let to = bytes[target..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| target + i + 1);
        let piece = &bytes[from..to];
        let start = line;
        line += piece.iter().filter(|&&b| b == b'\n').count() as u32;
        from = to;
        Some((piece, start))
    })
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

/// Reads one work file whole, and parses it from where the last read ended when every byte
/// before that end is still the same (an append: the usual change, by annotask or a
/// `git pull`), else all of it.
/// Its events go to `send` a block at a time, and only once the file is known to be readable.
fn load(root: &Path, read: WorkRead, send: &mut dyn FnMut(Vec<ReadEvent>)) -> WorkOutcome {
    load_in_blocks(root, read, PARSE_BLOCK, send)
}

/// [`load`], parsing `block` bytes at a time.
fn load_in_blocks(
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
    // An append annotask made itself reads only the new bytes, its hash extended with them.
    let trusted = read
        .before
        .as_ref()
        .filter(|_| read.appended_by_us)
        .and_then(|before| {
            let hash = PrefixHash::from_bytes(&before.tail)?;
            let len = usize::try_from(read.file.size.checked_sub(before.consumed)?).ok()?;
            let bytes = files::read_span(root, &read.file.path, before.consumed, len).ok()?;
            Some((before.consumed as usize, before.lines, hash, bytes))
        });
    // Where the lines to parse start in the file, and in `bytes` (which holds the whole file,
    // or only the new bytes of an append annotask made).
    let (start, offset, lines_before, append, mut hash, bytes) = match trusted {
        Some((start, lines, hash, bytes)) => (start, 0, lines, true, hash, bytes),
        None => {
            // Read at the size listed, which the limit was checked on; a file that grew since
            // is read to there, as the listing saw it.
            let size = usize::try_from(read.file.size).unwrap_or(usize::MAX);
            let bytes = match files::read_span(root, &read.file.path, 0, size) {
                Ok(bytes) => bytes,
                Err(e) => {
                    let d = Diagnostic::error("", format!("cannot read the file: {e}")).hint(
                        "the events the index has from this file are kept until it can be read",
                    );
                    return failed(read, d);
                }
            };
            let appended = read.before.as_ref().and_then(|before| {
                let end = usize::try_from(before.consumed).ok()?;
                let hash = PrefixHash::of(bytes.get(..end)?);
                (hash.to_bytes() == before.tail).then_some((end, before.lines, hash))
            });
            match appended {
                Some((end, lines, hash)) => (end, end, lines, true, hash, bytes),
                // A byte-order mark is no part of the first line.
                None if bytes.starts_with(BOM) => {
                    let skip = BOM.len();
                    (skip, skip, 0, false, PrefixHash::of(BOM), bytes)
                }
                None => (0, 0, 0, false, PrefixHash::new(), bytes),
            }
        }
    };
    let rest = &bytes[offset..];
    let whole = rest.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let (mut diagnostics, mut event_lines) = (Vec::new(), 0);
    for (piece, first_line) in blocks(rest, lines_before + 1, block) {
        let log = work::parse_log(piece, first_line);
        event_lines += log.lines.len() as u64;
        diagnostics.extend(log.diagnostics);
        let mut events = Vec::with_capacity(log.lines.len());
        keep(log.lines, &mut events);
        send(events);
    }
    let lines = lines_before + rest[..whole].iter().filter(|&&b| b == b'\n').count() as u32;
    hash.update(&rest[..whole]);
    let consumed = start + whole;
    WorkOutcome {
        read,
        append,
        unread: false,
        event_lines,
        diagnostics,
        consumed: consumed as u64,
        lines,
        hash: hash.to_bytes(),
    }
}

/// What [`load_all`] hands over as it reads.
enum Loaded {
    /// Events of the file `reads[file]`, as soon as a block of it is read, in any order of
    /// files: none of a file that cannot be read.
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
    let threads = crate::cores::cores().min(reads.len().max(1));
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
                    let outcome = load(root, read, &mut send);
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
                gathered.add(task, user, events, touched.entry(task.clone()).or_default());
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
            // What was read before stays, events and all, until the file can be read.
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
    for (task, by_input) in &gathered.tasks {
        let fresh = read_now || !writer.has_work_events(task)?;
        for (input, events) in by_input {
            let entries = events
                .iter()
                .map(|e| (gathered.users[e.user as usize].as_str(), e.line, &e.stored));
            writer.add_work_events(task, input, entries, fresh)?;
        }
    }
    // A first sync's events are all read now: inputs are replayed from them rather than
    // from the index.
    let remembered = read_now.then_some(gathered);
    writer.sync_behind();
    let tasks: BTreeSet<String> = touched
        .keys()
        .chain(redefined)
        .chain(replanned)
        .cloned()
        .collect();
    let mut deltas = CountDeltas::default();
    let replay = |deltas: &mut CountDeltas| {
        replay_tasks(
            writer, &tasks, touched, redefined, replanned, remembered, deltas,
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

/// Replays the inputs of `tasks` that need it (see [`write_work`]), from `remembered` events
/// when the sync read them all, adding the changes of counts to `deltas`.
fn replay_tasks(
    writer: &Writer<'_>,
    tasks: &BTreeSet<String>,
    mut touched: BTreeMap<String, BTreeSet<String>>,
    redefined: &BTreeSet<String>,
    replanned: &BTreeSet<String>,
    remembered: Option<Gathered>,
    deltas: &mut CountDeltas,
) -> store::Result<()> {
    let (mut remembered, users) = match remembered {
        Some(Gathered { tasks, users }) => (Some(tasks), users),
        None => (None, Vec::new()),
    };
    let (derived, with_events) = writer.tasks_with_work()?;
    let derived: BTreeSet<String> = derived.into_iter().collect();
    let with_events: BTreeSet<String> = with_events.into_iter().collect();
    for id in tasks {
        // Most tasks have no work yet: a first sync of 100,000 tasks must not prepare each.
        if !derived.contains(id) && !with_events.contains(id) {
            continue;
        }
        let Some(task) = writer.task(id)? else {
            writer.clear_task_work(id)?;
            continue;
        };
        let plan = writer.task_plan(id)?;
        let plans = InputPlans::new(task, plan.as_ref(), writer.plan_moves(id)?);
        let mut inputs: BTreeSet<String> = touched.remove(id).unwrap_or_default();
        if redefined.contains(id) {
            inputs.extend(writer.work_inputs(id)?.into_iter().map(|(input, _)| input));
        } else if replanned.contains(id) {
            for (input, sampled) in writer.work_inputs(id)? {
                let selected = writer.in_source(plans.source(), &input)?;
                let moved = sampled != Some(plans.sampled(&input))
                    || writer.planned_holders(id, &input)? != plans.planned(&input, selected);
                if moved {
                    inputs.insert(input);
                }
            }
        }
        let fresh = !derived.contains(id);
        let mut remembered = remembered
            .as_mut()
            .map(|m| m.remove(id).unwrap_or_default());
        // Asking the index whether the source selects each of many inputs took longer than
        // reading the source's inputs once.
        let selected: Option<HashSet<String>> = (inputs.len() > REPLAY_BATCH)
            .then(|| writer.source_inputs(plans.source()))
            .transpose()?
            .map(|ids| ids.into_iter().collect());
        let inputs: Vec<String> = inputs.into_iter().collect();
        let jobs = inputs.chunks(REPLAY_BATCH).map(|batch| {
            batch
                .iter()
                .map(|input| {
                    let entries: Vec<store::Entry> = match &mut remembered {
                        Some(inputs) => {
                            Gathered::entries(&users, inputs.remove(input).unwrap_or_default())
                        }
                        None => writer.input_entries(id, input)?,
                    };
                    let selected = !entries.is_empty()
                        && match &selected {
                            Some(ids) => ids.contains(input),
                            None => writer.in_source(plans.source(), input)?,
                        };
                    Ok((input.as_str(), entries, selected))
                })
                .collect::<store::Result<Vec<_>>>()
        });
        pipelined(
            jobs,
            |jobs| replay_all(&plans, jobs),
            |states| {
                for (input, state) in states? {
                    writer.put_input_state(
                        id,
                        input,
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
    /// Adds `user`'s events on `task`, and their inputs to `inputs`.
    fn add(
        &mut self,
        task: &str,
        user: &str,
        events: Vec<ReadEvent>,
        inputs: &mut BTreeSet<String>,
    ) {
        let known = self.users.iter().position(|u| u == user);
        let user = known.unwrap_or_else(|| {
            self.users.push(user.to_owned());
            self.users.len() - 1
        }) as u32;
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
                Some(events) => events.push(held),
                None => {
                    inputs.insert(input.clone());
                    by_input.insert(input, vec![held]);
                }
            }
        }
    }

    /// One input's events as the index keeps them: each user's together in file order, each
    /// line once (as its row holds them; files are read in any order).
    fn entries(users: &[String], mut held: Vec<Held>) -> Vec<store::Entry> {
        held.sort_by(|a, b| {
            (&users[a.user as usize], a.line).cmp(&(&users[b.user as usize], b.line))
        });
        // As the index keeps a line once: a hand-out that names an input twice is one event on it.
        held.dedup_by(|a, b| a.user == b.user && a.line == b.line);
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

/// How many inputs are replayed at a time before their rows are written.
const REPLAY_BATCH: usize = 8192;

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
type Replayed<'a> = (&'a str, Option<(InputState, bool)>);

/// Replays inputs (each with its events as the index keeps them, and whether the task's source
/// selects it) on every core, in their order: what each derives, with whether it is sampled
/// for review; `None` for an input with no events left.
fn replay_all<'a>(
    plans: &InputPlans,
    jobs: Vec<(&'a str, Vec<store::Entry>, bool)>,
) -> store::Result<Vec<Replayed<'a>>> {
    let task = plans.task().id();
    let one = |(input, entries, selected): (&'a str, Vec<store::Entry>, bool)| {
        if entries.is_empty() {
            return Ok::<Replayed, store::StoreError>((input, None));
        }
        let users = store::user_events(task, input, entries)?;
        let sampled = plans.sampled(input);
        let planned = plans.planned(input, selected);
        let rules = Rules::of(plans.task(), sampled, selected);
        Ok((
            input,
            Some((work::replay(&rules, input, &planned, &users), sampled)),
        ))
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
            let outcome = load_in_blocks(dir.path(), read_of(path, size), block, &mut |mut e| {
                events.append(&mut e)
            });
            assert_eq!(shown(&events), expected, "blocks of {block}");
            assert_eq!(outcome.diagnostics, log.diagnostics, "blocks of {block}");
            assert_eq!(outcome.event_lines, log.lines.len() as u64);
            assert_eq!(outcome.consumed, size - cut.len() as u64);
        }
    }

    /// What a first sync derives from the events it holds is what syncs of the same files
    /// appended bit by bit derive from the events they read back from the index: every row.
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
