//! Comment- and layout-preserving rewrites of a task file: given the file's text and the task it
//! must now hold, change only the text of the values that changed. Must not touch files.
//!
//! The old text and the new task are both brought to their canonical value trees and compared;
//! only where they differ is the text touched, using the positions `saphyr-parser` gives every
//! key and value. A changed scalar is replaced in place (its comment stays); a changed flow
//! collection is rewritten as a flow collection; a changed block list is rewritten as its lines.
//! A new key is inserted where the canonical key order puts it, at its siblings' indentation; a
//! removed key takes its lines with it. The result is read back and must be the new task exactly,
//! or the caller gets `None` and writes the canonical file instead.

use saphyr_parser::{Event, Parser};
use yaml_serde::{Mapping, Value};

use crate::model::Task;

/// The text of `old_text` changed to hold `new`, or `None` when the text cannot be edited in
/// place (it does not hold a valid task, uses layouts the editor does not rewrite, or the
/// result would not read back as `new`). `default_id` is the file's name without extension,
/// the id of a file without an `id` key.
pub fn edit(old_text: &str, default_id: Option<&str>, new: &Task) -> Option<String> {
    let old = read_task(old_text, default_id)?;
    let old_value = yaml_serde::to_value(old.doc()).ok()?;
    let new_value = yaml_serde::to_value(new.doc()).ok()?;
    let (Value::Mapping(old_map), Value::Mapping(new_map)) = (&old_value, &new_value) else {
        return None;
    };
    let tree = Tree::build(old_text)?;
    let mut edits = Edits {
        text: old_text,
        list: Vec::new(),
    };
    match &tree {
        Node::Map {
            flow: false,
            entries,
            ..
        } => edits.map(entries, old_map, new_map)?,
        _ => return None,
    }
    let edited = edits.apply()?;
    let reread = read_task(&edited, default_id)?;
    (crate::yaml::to_yaml(&reread) == crate::yaml::to_yaml(new)).then_some(edited)
}

fn read_task(text: &str, default_id: Option<&str>) -> Option<Task> {
    let doc = crate::yaml::parse_task(text.as_bytes()).ok()?;
    crate::validate::validate(doc, default_id).0
}

/// A node of the text, with byte offsets: `start..end` covers its text (for a block collection,
/// from its first key or item to the end of its last value).
#[derive(Debug)]
enum Node {
    Scalar {
        start: usize,
        end: usize,
    },
    Map {
        flow: bool,
        start: usize,
        end: usize,
        entries: Vec<Entry>,
    },
    Seq {
        flow: bool,
        start: usize,
        end: usize,
    },
    /// An alias or anything else the editor leaves alone.
    Other,
}

#[derive(Debug)]
struct Entry {
    key: String,
    key_start: usize,
    value: Node,
}

impl Node {
    fn span(&self) -> Option<(usize, usize)> {
        match self {
            Node::Scalar { start, end }
            | Node::Map { start, end, .. }
            | Node::Seq { start, end, .. } => Some((*start, *end)),
            Node::Other => None,
        }
    }
}

struct Tree<'a> {
    text: &'a str,
    /// Byte offset of each character, as the parser counts characters.
    offsets: Option<Vec<usize>>,
    events: Vec<(Event<'a>, usize, usize)>,
    next: usize,
}

impl<'a> Tree<'a> {
    fn build(text: &'a str) -> Option<Node> {
        let offsets = (!text.is_ascii()).then(|| {
            let mut v: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            v.push(text.len());
            v
        });
        let mut events = Vec::new();
        let mut parser = Parser::new_from_str(text);
        while let Some(event) = parser.next_event() {
            let (event, span) = event.ok()?;
            if matches!(
                event,
                Event::StreamStart | Event::DocumentStart(_) | Event::Nothing
            ) {
                continue;
            }
            if matches!(event, Event::DocumentEnd | Event::StreamEnd) {
                break;
            }
            events.push((event, span.start.index(), span.end.index()));
        }
        let mut tree = Tree {
            text,
            offsets,
            events,
            next: 0,
        };
        tree.node(0)
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.offsets {
            Some(v) => v.get(char_index).copied().unwrap_or(self.text.len()),
            None => char_index.min(self.text.len()),
        }
    }

    fn node(&mut self, depth: usize) -> Option<Node> {
        if depth > super::MAX_DEPTH {
            return None;
        }
        let (event, start, end) = self.events.get(self.next)?.clone();
        self.next += 1;
        let (start, end) = (self.byte(start), self.byte(end));
        let flow = |c: u8| self.text.as_bytes().get(start) == Some(&c);
        Some(match event {
            Event::Scalar(..) => Node::Scalar { start, end },
            Event::MappingStart(..) => {
                let flow = flow(b'{');
                let mut entries = Vec::new();
                let mut last = start;
                loop {
                    let (event, key_start, end_of_event) = self.events.get(self.next)?.clone();
                    if matches!(event, Event::MappingEnd) {
                        self.next += 1;
                        if flow {
                            last = self.byte(end_of_event);
                        }
                        break;
                    }
                    let Event::Scalar(key, ..) = event else {
                        return None;
                    };
                    self.next += 1;
                    let value = self.node(depth + 1)?;
                    if let Some((_, end)) = value.span() {
                        last = last.max(end);
                    }
                    entries.push(Entry {
                        key: key.to_string(),
                        key_start: self.byte(key_start),
                        value,
                    });
                }
                Node::Map {
                    flow,
                    start,
                    end: last,
                    entries,
                }
            }
            Event::SequenceStart(..) => {
                let flow = flow(b'[');
                let mut last = start;
                loop {
                    let (event, _, end_of_event) = self.events.get(self.next)?.clone();
                    if matches!(event, Event::SequenceEnd) {
                        self.next += 1;
                        if flow {
                            last = self.byte(end_of_event);
                        }
                        break;
                    }
                    if let Some((_, end)) = self.node(depth + 1)?.span() {
                        last = last.max(end);
                    }
                }
                Node::Seq {
                    flow,
                    start,
                    end: last,
                }
            }
            _ => Node::Other,
        })
    }
}

struct Edit {
    start: usize,
    end: usize,
    text: String,
}

struct Edits<'a> {
    text: &'a str,
    list: Vec<Edit>,
}

impl Edits<'_> {
    /// Edits a block map's entries from `old` to `new`.
    fn map(&mut self, entries: &[Entry], old: &Mapping, new: &Mapping) -> Option<()> {
        let indent = {
            let first = entries.first()?;
            let line = self.line_start(first.key_start);
            if !self.text[line..first.key_start].bytes().all(|b| b == b' ') {
                return None;
            }
            first.key_start - line
        };
        let find = |key: &str| entries.iter().find(|e| e.key == key);
        let mut inserted_after: Option<usize> = None;
        for (key, new_value) in new {
            let name = key.as_str()?;
            let old_value = old.get(key);
            match find(name) {
                Some(entry) => {
                    inserted_after = Some(self.entry_end(entry));
                    if old_value != Some(new_value) {
                        self.entry(entry, old_value, new_value, indent)?;
                    }
                }
                None if old_value == Some(new_value) => {}
                None => {
                    // After the last key that precedes it in canonical order, else before
                    // the first key of the map.
                    let at = match inserted_after {
                        Some(end) => end,
                        None => self.line_start(entries[0].key_start),
                    };
                    let text = block(name, new_value, indent)?;
                    self.push(at, at, text);
                }
            }
        }
        for entry in entries {
            if !new.contains_key(entry.key.as_str()) {
                let start = self.line_start(entry.key_start);
                self.push(start, self.entry_end(entry), String::new());
            }
        }
        Some(())
    }

    fn entry(
        &mut self,
        entry: &Entry,
        old: Option<&Value>,
        new: &Value,
        indent: usize,
    ) -> Option<()> {
        let scalar = |v: &Value| !matches!(v, Value::Sequence(_) | Value::Mapping(_));
        match (&entry.value, new) {
            (
                Node::Map {
                    flow: false,
                    entries,
                    ..
                },
                Value::Mapping(new_map),
            ) => {
                let empty = Mapping::new();
                let old_map = match old {
                    Some(Value::Mapping(m)) => m,
                    _ => &empty,
                };
                self.map(entries, old_map, new_map)
            }
            (Node::Scalar { start, end }, v) if scalar(v) && !self.is_block_scalar(*start) => {
                self.push(*start, *end, inline(v, false)?);
                Some(())
            }
            (
                Node::Map {
                    flow: true,
                    start,
                    end,
                    ..
                }
                | Node::Seq {
                    flow: true,
                    start,
                    end,
                },
                v,
            ) => {
                self.push(*start, *end, inline(v, true)?);
                Some(())
            }
            (Node::Other, _) => None,
            _ => {
                let start = self.line_start(entry.key_start);
                if start + indent != entry.key_start {
                    return None;
                }
                self.push(
                    start,
                    self.entry_end(entry),
                    block(&entry.key, new, indent)?,
                );
                Some(())
            }
        }
    }

    fn is_block_scalar(&self, start: usize) -> bool {
        matches!(self.text.as_bytes().get(start), Some(b'|' | b'>'))
    }

    fn line_start(&self, at: usize) -> usize {
        self.text[..at].rfind('\n').map_or(0, |i| i + 1)
    }

    /// The end of an entry's last line, past its newline.
    fn entry_end(&self, entry: &Entry) -> usize {
        let end = entry.value.span().map_or(entry.key_start, |(_, end)| end);
        // A block scalar's span may end at the start of the next line.
        let end = if end > 0 && self.text.as_bytes().get(end - 1) == Some(&b'\n') {
            end - 1
        } else {
            end
        };
        self.text[end..]
            .find('\n')
            .map_or(self.text.len(), |i| end + i + 1)
    }

    fn push(&mut self, start: usize, end: usize, text: String) {
        self.list.push(Edit { start, end, text });
    }

    fn apply(mut self) -> Option<String> {
        self.list.sort_by_key(|e| e.start);
        let mut out = String::with_capacity(self.text.len() + 64);
        let mut at = 0;
        for edit in &self.list {
            if edit.start < at {
                return None;
            }
            out.push_str(&self.text[at..edit.start]);
            if edit.start == self.text.len() && !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&edit.text);
            at = edit.end;
        }
        out.push_str(&self.text[at..]);
        Some(out)
    }
}

/// `key: value` as canonical block YAML, each line indented, ending with a newline.
fn block(key: &str, value: &Value, indent: usize) -> Option<String> {
    let mut map = Mapping::new();
    map.insert(Value::String(key.to_owned()), value.clone());
    let text = yaml_serde::to_string(&map).ok()?;
    let pad = " ".repeat(indent);
    Some(text.lines().map(|l| format!("{pad}{l}\n")).collect())
}

/// A value on one line: a scalar as the canonical writer spells it, a collection in flow style.
fn inline(value: &Value, in_flow: bool) -> Option<String> {
    match value {
        Value::Sequence(items) => {
            let items: Option<Vec<String>> = items.iter().map(|v| inline(v, true)).collect();
            Some(format!("[{}]", items?.join(", ")))
        }
        Value::Mapping(map) => {
            let entries: Option<Vec<String>> = map
                .iter()
                .map(|(k, v)| Some(format!("{}: {}", inline(k, true)?, inline(v, true)?)))
                .collect();
            Some(format!("{{{}}}", entries?.join(", ")))
        }
        Value::Tagged(_) => None,
        scalar => {
            let text = yaml_serde::to_string(scalar).ok()?;
            let text = text.trim_end_matches('\n');
            if text.contains('\n') {
                return None;
            }
            let plain = !text.starts_with(['"', '\'']);
            if in_flow && plain && text.contains([',', '[', ']', '{', '}', '#', ':']) {
                return serde_json::to_string(scalar.as_str()?).ok();
            }
            Some(text.to_owned())
        }
    }
}

/// Sets a task file's top-level `id` to `id` with the smallest text edit, keeping every
/// comment: the `id:` line's value is replaced, or an `id:` line goes before the first key.
pub fn set_id(text: &str, id: &str) -> String {
    let mut out = String::with_capacity(text.len() + id.len() + 8);
    let mut done = false;
    let mut first_key = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let top_level = !line.starts_with([' ', '\t', '#', '-']) && !line.trim().is_empty();
        if !done && top_level && first_key.is_none() {
            first_key = Some(offset);
        }
        if !done && top_level && line.starts_with("id:") {
            let ending = if line.ends_with("\r\n") {
                "\r\n"
            } else if line.ends_with('\n') {
                "\n"
            } else {
                ""
            };
            let rest = line[3..].trim_end_matches(['\r', '\n']);
            let comment = rest.find(" #").map_or("", |at| &rest[at..]);
            out.push_str(&format!("id: {id}{comment}{ending}"));
            done = true;
        } else {
            out.push_str(line);
        }
        offset += line.len();
    }
    if done {
        return out;
    }
    let at = first_key.unwrap_or(text.len());
    format!("{}id: {id}\n{}", &text[..at], &text[at..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TaskDoc;

    const FILE: &str = "\
# yaml-language-server: $schema=../.annotask/task.schema.json
# The garden camera's birds.
id: birds   # stable: the labeling tool links here
type: CONCEPTS_CLASSIFICATION
name: Annotate bird  # shown in lists

worker:
  strategy: PARTITIONED
  user_ids: [maria-lopez, chen-wei]
  partitioned_strategy_info:
    type: WEIGHTED
    workers_per_input: 1
    # Maria does most of it.
    weights: {maria-lopez: 90, chen-wei: 10}
concept_ids:
  - bird   # the only one
input_source:
  type: DATASET
  id: garden-stills
status:
  code: TASK_IN_PROGRESS
metadata: {project: garden}
";

    fn task(text: &str) -> Task {
        read_task(text, None).expect("a valid task")
    }

    /// Edits FILE to the task `change` makes of it, and returns the diff as (removed, added)
    /// lines.
    fn diff(text: &str, change: impl FnOnce(&mut TaskDoc)) -> (Vec<String>, Vec<String>) {
        let mut doc = task(text).into_doc();
        change(&mut doc);
        let new = crate::validate::validate(doc, None).0.expect("valid");
        let edited = edit(text, None, &new).expect("edited in place");
        let old: Vec<&str> = text.lines().collect();
        let now: Vec<&str> = edited.lines().collect();
        let removed = old
            .iter()
            .filter(|l| !now.contains(l))
            .map(|l| l.to_string());
        let added = now
            .iter()
            .filter(|l| !old.contains(l))
            .map(|l| l.to_string());
        (removed.collect(), added.collect())
    }

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_changed_scalar_keeps_its_comment() {
        let (removed, added) = diff(FILE, |d| d.name = Some("Annotate birds".into()));
        assert_eq!(removed, lines(&["name: Annotate bird  # shown in lists"]));
        assert_eq!(added, lines(&["name: Annotate birds  # shown in lists"]));
    }

    #[test]
    fn a_nested_flow_value_is_replaced_in_place() {
        let (removed, added) = diff(FILE, |d| {
            let info = d.worker.as_mut().unwrap();
            let info = info.partitioned_strategy_info.as_mut().unwrap();
            info.weights
                .as_mut()
                .unwrap()
                .0
                .insert("maria-lopez".into(), 80.0);
        });
        assert_eq!(
            removed,
            lines(&["    weights: {maria-lopez: 90, chen-wei: 10}"])
        );
        assert_eq!(
            added,
            lines(&["    weights: {chen-wei: 10, maria-lopez: 80}"])
        );
    }

    #[test]
    fn a_new_key_goes_in_canonical_order_and_a_removed_key_takes_its_line() {
        let text = "# top\nid: t   # keep\ntype: TYPE_NOT_SET\ninput_source:\n  type: ALL_INPUTS\n# before priority\npriority: LOW\n";
        let mut doc = task(text).into_doc();
        doc.description = Some("new text".into());
        doc.priority = None;
        doc.sample_ms = Some(500);
        let new = crate::validate::validate(doc, None).0.unwrap();
        let edited = edit(text, None, &new).unwrap();
        assert_eq!(
            edited,
            "# top\nid: t   # keep\ntype: TYPE_NOT_SET\ndescription: new text\ninput_source:\n  type: ALL_INPUTS\nsample_ms: 500\n# before priority\n"
        );
    }

    #[test]
    fn block_lists_and_maps_are_rewritten_as_their_lines_only() {
        let (removed, added) = diff(FILE, |d| d.concept_ids = vec!["bird".into(), "cat".into()]);
        // `concept_ids:` is rewritten too, to the same text.
        assert_eq!(removed, lines(&["  - bird   # the only one"]));
        assert_eq!(added, lines(&["- bird", "- cat"]));
        let (removed, added) = diff(FILE, |d| d.worker = None);
        assert_eq!(removed.len(), 8, "{removed:?}");
        assert!(added.is_empty());
    }

    #[test]
    fn a_file_the_editor_cannot_edit_gives_none() {
        let new = task("id: a\ntype: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\n");
        assert!(edit("id: [", None, &new).is_none());
        assert!(edit("- not a map\n", None, &new).is_none());
    }

    #[test]
    fn an_unchanged_task_leaves_the_text_as_it_was() {
        assert_eq!(edit(FILE, None, &task(FILE)).as_deref(), Some(FILE));
    }

    #[test]
    fn set_id_keeps_comments() {
        let check = |text: &str, want: &str| assert_eq!(set_id(text, "new"), want);
        check(
            "# head\nid: old # mine\nname: x\n",
            "# head\nid: new # mine\nname: x\n",
        );
        check("# head\nname: x\n", "# head\nid: new\nname: x\n");
        check(
            "name: x\nworker:\n  id: keep\n",
            "id: new\nname: x\nworker:\n  id: keep\n",
        );
        check("id: old", "id: new");
    }
}
