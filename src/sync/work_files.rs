//! The work files' part of a sync: which files to read (an appended file only from where the
//! last read ended), their events into the index, and which inputs to replay, with the rules
//! that say when: an input whose events changed, every input with events of a task whose
//! definition changed, and an input whose plan (its planned workers, its review sample) moved.
//! Must not print, and must not decide states: [`crate::work::replay`] does.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::thread;

use super::Summary;
use crate::files::{self, DiskFile};
use crate::layout;
use crate::plans::InputPlans;
use crate::store::{self, CountDeltas, WorkFileState, Writer};
use crate::validate::{self, Diagnostic};
use crate::work::{self, InputState, Log, Rules, UserEvents};

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
    log: Log,
    /// Where the whole lines read end, how many there are, and the hash of the bytes before
    /// that end.
    consumed: u64,
    lines: u32,
    hash: Vec<u8>,
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
fn load(root: &Path, read: WorkRead) -> WorkOutcome {
    let failed = |mut read: WorkRead, d: Diagnostic| {
        read.file.mtime_ns = files::UNREAD;
        let mut log = Log::default();
        log.diagnostics.push(d);
        WorkOutcome {
            read,
            append: false,
            unread: true,
            log,
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
            let bytes = match files::read_up_to(
                root,
                &read.file.path,
                Some(read.file.size),
                work::MAX_FILE_BYTES,
            ) {
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
    let log = work::parse_log(rest, lines_before + 1);
    let lines = lines_before + rest[..whole].iter().filter(|&&b| b == b'\n').count() as u32;
    hash.update(&rest[..whole]);
    let consumed = start + whole;
    WorkOutcome {
        read,
        append,
        unread: false,
        log,
        consumed: consumed as u64,
        lines,
        hash: hash.to_bytes(),
    }
}

/// Reads work files on every core, handing the outcomes over in the order of `reads`.
fn load_all(root: &Path, reads: Vec<WorkRead>) -> Vec<WorkOutcome> {
    let threads = crate::cores::cores().min(reads.len().max(1));
    let mut slots: Vec<Option<WorkRead>> = reads.into_iter().map(Some).collect();
    let chunk = slots.len().div_ceil(threads).max(1);
    thread::scope(|scope| {
        let workers: Vec<_> = slots
            .chunks_mut(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter_mut()
                        .filter_map(|slot| slot.take().map(|read| load(root, read)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("reading a work file never panics"))
            .collect()
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
    found.extend(
        load_all(root, plan.read)
            .into_iter()
            .map(|outcome| (outcome.read.file.path, outcome.log.diagnostics)),
    );
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
    let mut gathered: Gathered = HashMap::new();
    for outcome in load_all(root, plan.read) {
        let WorkRead {
            file, task, user, ..
        } = &outcome.read;
        let inputs = touched.entry(task.clone()).or_default();
        let diagnostics = &outcome.log.diagnostics;
        if outcome.unread {
            // What was read before stays, events and all, until the file can be read.
            writer.put_unread_work_file(&file.path, (task, user), file.size, diagnostics)?;
            summary.invalid.push(file.path.clone());
            continue;
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
        let by_input = gathered.entry(task.clone()).or_default();
        for (line_no, line) in outcome.log.lines {
            summary.events_added += 1;
            match line.event.inputs() {
                [input] => {
                    inputs.insert(input.clone());
                    let events = by_input.entry(input.clone()).or_default();
                    events.push((user.clone(), line_no, line));
                }
                many => {
                    for input in many {
                        inputs.insert(input.clone());
                        let events = by_input.entry(input.clone()).or_default();
                        events.push((user.clone(), line_no, line.clone()));
                    }
                }
            }
        }
    }
    for (task, by_input) in &gathered {
        let inputs: Vec<_> = by_input.iter().map(|(i, e)| (i.as_str(), e)).collect();
        pipelined(inputs.chunks(REPLAY_BATCH).map(Ok), to_stored, |encoded| {
            for (input, entries) in encoded {
                writer.add_work_events(task, input, entries, read_now)?;
            }
            Ok(())
        })?;
    }
    // A first sync's events are all read now: inputs are replayed from them rather than
    // from the index.
    let remembered = read_now.then(|| remember(gathered));
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
    mut remembered: Option<Remembered>,
    deltas: &mut CountDeltas,
) -> store::Result<()> {
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
                    let users = match &mut remembered {
                        Some(inputs) => inputs.remove(input).unwrap_or_default(),
                        None => writer.input_events(id, input)?,
                    };
                    let selected = !users.is_empty()
                        && match &selected {
                            Some(ids) => ids.contains(input),
                            None => writer.in_source(plans.source(), input)?,
                        };
                    Ok((input.as_str(), users, selected))
                })
                .collect::<store::Result<Vec<_>>>()
        });
        pipelined(
            jobs,
            |jobs| replay_all(&plans, jobs),
            |states| {
                for (input, state) in states {
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

/// The events a sync read, by task and input.
type Gathered = HashMap<String, BTreeMap<String, Written>>;

/// Events with who wrote each, on which line.
type Written = Vec<(String, u32, work::Line)>;

/// The same, each user's lines together, as replaying takes them.
type Remembered = HashMap<String, HashMap<String, Vec<UserEvents>>>;

/// Events read in this sync, by task and input, as replaying needs them: each user's lines
/// together, in file order.
fn remember(gathered: Gathered) -> Remembered {
    gathered
        .into_iter()
        .map(|(task, by_input)| {
            let inputs = by_input
                .into_iter()
                .map(|(input, events)| {
                    let mut users: Vec<UserEvents> = Vec::new();
                    for (user, number, line) in events {
                        match users.last_mut() {
                            Some(last) if last.user == user => last.lines.push((number, line)),
                            _ => users.push(UserEvents {
                                user,
                                lines: vec![(number, line)],
                            }),
                        }
                    }
                    (input, users)
                })
                .collect();
            (task, inputs)
        })
        .collect()
}

/// Events as the index keeps them, each input's in a row.
fn to_stored<'a>(inputs: &[(&'a str, &Written)]) -> Vec<(&'a str, Vec<store::Entry>)> {
    inputs
        .iter()
        .map(|(input, events)| {
            let entries = events
                .iter()
                .map(|(user, number, line)| (user.clone(), *number, line.to_stored()))
                .collect();
            (*input, entries)
        })
        .collect()
}

/// How many inputs are encoded or replayed at a time before their rows are written.
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

/// Replays inputs (each with its users' events, and whether the task's source selects it) on
/// every core, in their order: what each derives, with whether it is sampled for review;
/// `None` for an input with no events left.
fn replay_all<'a>(
    plans: &InputPlans,
    jobs: Vec<(&'a str, Vec<UserEvents>, bool)>,
) -> Vec<(&'a str, Option<(InputState, bool)>)> {
    let one = |(input, users, selected): &(&'a str, Vec<UserEvents>, bool)| {
        if users.is_empty() {
            return (*input, None);
        }
        let sampled = plans.sampled(input);
        let planned = plans.planned(input, *selected);
        let rules = Rules::of(plans.task(), sampled, *selected);
        (
            *input,
            Some((work::replay(&rules, input, &planned, users), sampled)),
        )
    };
    let threads = crate::cores::cores();
    let chunk = jobs.len().div_ceil(threads).max(1);
    thread::scope(|scope| {
        let workers: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a replay never panics"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::PrefixHash;

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
