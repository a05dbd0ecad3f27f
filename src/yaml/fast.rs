//! A fast reader for the plain YAML that task files are nearly always written in: block maps and
//! lists, one-line flow lists and maps, plain and quoted one-line scalars. Owns recognising that
//! subset and building the value libyaml would build from it; must not guess at anything else.
//!
//! Whatever falls outside the subset (anchors, tags, block scalars, multi-line scalars, numbers
//! in unusual forms, anything malformed) yields `None`, and the caller decodes the text with
//! yaml_serde as before. So the subset only has to be read right, never reported on: errors and
//! their locations always come from the full parser. libyaml spends most of a sync's time on
//! tokens and events this reader never makes; the subset covers every file annotask writes.

use std::borrow::Cow;

use serde::de::value::{Error, MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};

/// The document in `text`, or `None` when `text` is outside the subset.
pub fn parse(text: &str) -> Option<Node<'_>> {
    if !plain_characters(text) {
        return None;
    }
    let mut marked = false;
    let mut lines: Vec<Line<'_>> = Vec::with_capacity(32);
    let mut start = 0;
    for end in line_ends(text.as_bytes()) {
        let raw = &text[start..end];
        start = end + 1;
        let content = raw.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = raw.len() - content.len();
        // Nesting follows indentation, so this bounds the reader's recursion too.
        if indent > MAX_INDENT {
            return None;
        }
        // Document markers: one leading `---` is harmless, any other starts or ends a document.
        if indent == 0 && (content.starts_with("---") || content.starts_with("...")) {
            if content.trim_end() == "---" && lines.is_empty() && !marked {
                marked = true;
                continue;
            }
            return None;
        }
        lines.push(Line { indent, content });
    }
    // An empty document is not a map, and a file with no task is an error to report.
    if lines.is_empty() {
        return None;
    }
    // The top map ends only where the text does: any line indented deeper than its key, where
    // no value may continue, is refused.
    Reader { lines, next: 0 }.mapping(0)
}

/// A node of the subset, borrowing from the text where it can. As a serde [`Deserializer`]
/// it gives what yaml_serde gives for the same text, or an error where yaml_serde might
/// disagree (a number where a string is wanted, say), so that the caller falls back to it.
///
/// [`Deserializer`]: serde::Deserializer
#[derive(Debug)]
pub enum Node<'a> {
    Null,
    Bool(bool),
    Unsigned(u64),
    Negative(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Seq(Vec<Node<'a>>),
    Map(Vec<(&'a str, Node<'a>)>),
}

/// Deeper than any task is indented.
const MAX_INDENT: usize = 64;

/// More keys than any task map has; duplicates are looked for one by one, which a hostile map
/// of thousands of keys would make slow.
const MAX_MAP_KEYS: usize = 64;

/// Adds an entry to a map unless its key is there already (an error for yaml_serde) or the map
/// is full.
fn insert<'a>(map: &mut Vec<(&'a str, Node<'a>)>, key: &'a str, value: Node<'a>) -> Option<()> {
    if map.len() >= MAX_MAP_KEYS || map.iter().any(|(k, _)| *k == key) {
        return None;
    }
    map.push((key, value));
    Some(())
}

/// True when `text` has no character that YAML treats specially outside of syntax: tabs (which
/// YAML allows in some places only), carriage returns, other control characters, the byte-order
/// mark, and the characters libyaml takes for line breaks (NEL, LS, PS).
fn plain_characters(text: &str) -> bool {
    let ascii_ok = |b: u8| b == b'\n' || (0x20..0x7f).contains(&b);
    if text.is_ascii() {
        // Without an early exit per byte, this loop compiles to vector instructions.
        return text
            .as_bytes()
            .chunks(64)
            .all(|chunk| chunk.iter().fold(true, |ok, &b| ok & ascii_ok(b)));
    }
    text.chars().all(|c| match c {
        c if c.is_ascii() => ascii_ok(c as u8),
        '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' => {
            false
        }
        _ => true,
    })
}

/// Where each line of `text` ends: at each line break, and at the end of a last line without
/// one. Breaks are found eight bytes at a time; a task's lines are too short for a search per
/// line to pay (finding them byte by byte was half of this reader's own time).
fn line_ends(text: &[u8]) -> impl Iterator<Item = usize> + '_ {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const LOW_BITS: u64 = ONES * 0x7f;
    let words = text.chunks_exact(8);
    let tail = words.remainder();
    let mut padded = [0; 8];
    padded[..tail.len()].copy_from_slice(tail);
    let last = (!text.is_empty() && !text.ends_with(b"\n")).then_some(text.len());
    words
        .map(|word| u64::from_le_bytes(word.try_into().expect("eight bytes")))
        .chain((!tail.is_empty()).then_some(u64::from_le_bytes(padded)))
        .enumerate()
        .flat_map(|(at, word)| {
            // A byte of `x` is zero where `word` has a line break; the sum sets the top bit
            // of every byte whose low seven bits are not all zero, without carries between
            // bytes, so `breaks` has the top bit of exactly the zero bytes.
            let x = word ^ (ONES * u64::from(b'\n'));
            let mut breaks = !(((x & LOW_BITS) + LOW_BITS) | x | LOW_BITS);
            std::iter::from_fn(move || {
                (breaks != 0).then(|| {
                    let i = breaks.trailing_zeros() as usize / 8;
                    breaks &= breaks - 1;
                    at * 8 + i
                })
            })
        })
        .chain(last)
}

#[derive(Clone, Copy)]
struct Line<'a> {
    indent: usize,
    /// The line after its indent; not blank, not a comment.
    content: &'a str,
}

struct Reader<'a> {
    lines: Vec<Line<'a>>,
    next: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<Line<'a>> {
        self.lines.get(self.next).copied()
    }

    /// A block map whose keys are indented by `indent`.
    fn mapping(&mut self, indent: usize) -> Option<Node<'a>> {
        let mut map = Vec::with_capacity(8);
        while let Some(line) = self.peek() {
            if line.indent < indent {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let (key, rest) = split_key(line.content)?;
            self.next += 1;
            // A deeper line after an inline value would continue it (a multi-line scalar) or be
            // an error; the loop refuses it either way.
            let value = if rest.is_empty() {
                self.nested(indent)?
            } else {
                inline_value(rest)?
            };
            insert(&mut map, key, value)?;
        }
        Some(Node::Map(map))
    }

    /// The value of a key written with nothing after its colon: a block below it, a list at
    /// the key's own indent, or null.
    fn nested(&mut self, indent: usize) -> Option<Node<'a>> {
        match self.peek() {
            Some(next) if next.indent > indent => {
                let indent = next.indent;
                if is_entry(next.content) {
                    self.sequence(indent)
                } else {
                    self.mapping(indent)
                }
            }
            Some(next) if next.indent == indent && is_entry(next.content) => self.sequence(indent),
            _ => Some(Node::Null),
        }
    }

    /// A block list whose `-` are indented by `indent`; each entry is one inline value.
    fn sequence(&mut self, indent: usize) -> Option<Node<'a>> {
        let mut items = Vec::new();
        while let Some(line) = self.peek() {
            if line.indent != indent || !is_entry(line.content) {
                break;
            }
            let rest = after_spaces(&line.content[1..]);
            if rest.is_empty() {
                return None;
            }
            self.next += 1;
            items.push(inline_value(rest)?);
        }
        Some(Node::Seq(items))
    }
}

fn is_entry(content: &str) -> bool {
    content == "-" || content.starts_with("- ")
}

/// The text after leading spaces, or nothing when that is a comment.
fn after_spaces(s: &str) -> &str {
    let s = s.trim_start_matches(' ');
    if s.starts_with('#') { "" } else { s }
}

/// Splits `key: rest` into the key and what follows the colon (without spaces or a comment).
/// Keys are simple words; anything else is left to the full parser.
fn split_key(content: &str) -> Option<(&str, &str)> {
    let key = &content[..key_len(content)];
    let rest = content[key.len()..].strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with(' ')) || !is_simple_key(key) {
        return None;
    }
    Some((key, after_spaces(rest)))
}

/// The length of the run of key characters (letters, digits, `_`, `-`, `.`) `s` starts with.
fn key_len(s: &str) -> usize {
    s.bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')))
        .unwrap_or(s.len())
}

/// Whether a run of key characters is a key that every YAML reading takes for the same
/// string: a word that is not null or a boolean.
fn is_simple_key(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && !is_keyword(key)
}

fn is_keyword(s: &str) -> bool {
    matches!(
        s,
        "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
    )
}

/// A value written on the line of its key or `-`: `s` starts with it and holds nothing else but
/// an optional comment.
fn inline_value(s: &str) -> Option<Node<'_>> {
    let (value, rest) = match s.as_bytes()[0] {
        b'\'' | b'"' => quoted(s)?,
        b'[' => flow_sequence(&s[1..])?,
        b'{' => flow_mapping(&s[1..])?,
        _ => {
            let end = plain_end(s)?;
            let text = s[..end].trim_end_matches(' ');
            if starts_with_indicator(text) {
                return None;
            }
            (resolve_plain(text)?, &s[end..])
        }
    };
    after_spaces(rest).is_empty().then_some(value)
}

/// Where a plain scalar at the start of `s` ends: before a comment (` #`) or at the end of the
/// line. `None` when it holds `: ` or ends with `:`, which would make it a key.
fn plain_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'#' if i > 0 && bytes[i - 1] == b' ' => return Some(i - 1),
            b':' if bytes.get(i + 1).is_none_or(|c| *c == b' ') => return None,
            _ => {}
        }
    }
    Some(bytes.len())
}

/// Whether a plain scalar would begin with a character that YAML gives a meaning there.
fn starts_with_indicator(text: &str) -> bool {
    let bytes = text.as_bytes();
    match bytes.first() {
        None => true,
        Some(b'-' | b'?' | b':') => bytes.get(1).is_none_or(|b| *b == b' '),
        Some(b) => matches!(
            b,
            b'#' | b'&'
                | b'*'
                | b'!'
                | b'|'
                | b'>'
                | b'\''
                | b'"'
                | b'%'
                | b'@'
                | b'`'
                | b','
                | b'['
                | b']'
                | b'{'
                | b'}'
        ),
    }
}

/// A quoted scalar at the start of `s`, and the text after its closing quote.
fn quoted(s: &str) -> Option<(Node<'_>, &str)> {
    let quote = s.as_bytes()[0];
    let body = &s[1..];
    let end = body.find(quote as char)?;
    let escaped = match quote {
        b'\'' => body[end + 1..].starts_with('\''),
        _ => body[..end].contains('\\'),
    };
    if !escaped {
        return Some((Node::Str(Cow::Borrowed(&body[..end])), &body[end + 1..]));
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            (b'\'', '\'') => {
                if body[i + 1..].starts_with('\'') {
                    chars.next();
                    out.push('\'');
                } else {
                    return Some((Node::Str(Cow::Owned(out)), &body[i + 1..]));
                }
            }
            (b'"', '"') => return Some((Node::Str(Cow::Owned(out)), &body[i + 1..])),
            (b'"', '\\') => out.push(match chars.next()?.1 {
                '\\' => '\\',
                '"' => '"',
                '/' => '/',
                'n' => '\n',
                't' => '\t',
                _ => return None,
            }),
            _ => out.push(c),
        }
    }
    // The string goes on to the next line.
    None
}

/// The items of a one-line flow list after its `[`, and the text after its `]`.
fn flow_sequence(mut s: &str) -> Option<(Node<'_>, &str)> {
    let mut items = Vec::new();
    s = s.trim_start_matches(' ');
    if let Some(rest) = s.strip_prefix(']') {
        return Some((Node::Seq(items), rest));
    }
    loop {
        let (item, rest) = flow_scalar(s)?;
        items.push(item);
        s = rest.trim_start_matches(' ');
        match s.as_bytes().first()? {
            b',' => s = s[1..].trim_start_matches(' '),
            b']' => return Some((Node::Seq(items), &s[1..])),
            _ => return None,
        }
    }
}

/// The entries of a one-line flow map after its `{`, and the text after its `}`.
fn flow_mapping(mut s: &str) -> Option<(Node<'_>, &str)> {
    let mut map = Vec::with_capacity(4);
    s = s.trim_start_matches(' ');
    if let Some(rest) = s.strip_prefix('}') {
        return Some((Node::Map(map), rest));
    }
    loop {
        let key = &s[..key_len(s)];
        let rest = s[key.len()..].strip_prefix(": ")?;
        if !is_simple_key(key) {
            return None;
        }
        let (value, rest) = flow_scalar(rest.trim_start_matches(' '))?;
        insert(&mut map, key, value)?;
        s = rest.trim_start_matches(' ');
        match s.as_bytes().first()? {
            b',' => s = s[1..].trim_start_matches(' '),
            b'}' => return Some((Node::Map(map), &s[1..])),
            _ => return None,
        }
    }
}

/// A scalar inside a flow collection, and the text after it. Plain scalars there end at `,`,
/// `]` or `}`; one holding any other flow or comment character, or starting with `?` (a key
/// indicator in flow context), is left to the full parser.
fn flow_scalar(s: &str) -> Option<(Node<'_>, &str)> {
    if s.starts_with(['\'', '"']) {
        return quoted(s);
    }
    let end = s
        .bytes()
        .position(|b| matches!(b, b',' | b']' | b'}' | b'[' | b'{' | b':' | b'#'))
        .unwrap_or(s.len());
    let text = s[..end].trim_end_matches(' ');
    if !matches!(s.as_bytes().get(end), None | Some(b',' | b']' | b'}'))
        || starts_with_indicator(text)
        || text.starts_with('?')
    {
        return None;
    }
    Some((resolve_plain(text)?, &s[end..]))
}

/// What yaml_serde makes of a plain scalar (null, boolean, number or string), for the forms
/// whose reading is certain; `None` for the rest (hex, exponents, leading zeros, `.inf`, …).
fn resolve_plain(text: &str) -> Option<Node<'_>> {
    if text.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some(match text {
            "null" | "Null" | "NULL" => Node::Null,
            "true" | "True" | "TRUE" => Node::Bool(true),
            "false" | "False" | "FALSE" => Node::Bool(false),
            // No number starts with a letter: Rust's float parser takes `inf` and `nan`, but
            // yaml_serde refuses them as numbers.
            _ => Node::Str(Cow::Borrowed(text)),
        });
    }
    if text == "~" {
        return Some(Node::Null);
    }
    if let Some(number) = decimal(text) {
        return Some(number);
    }
    // yaml_serde reads numbers with Rust's parsers, after its own `0x`, `0o`, `0b` and `.inf`
    // forms. Past a sign, those parsers take only digits, `.`, `e` and the words `inf`,
    // `infinity` and `nan`, whose values yaml_serde refuses as numbers; a scalar with any other
    // character is a string.
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned.starts_with('.') {
        return None;
    }
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = unsigned.strip_prefix(prefix) {
            let no_number = digits.chars().any(|c| !c.is_digit(radix));
            return no_number.then_some(Node::Str(Cow::Borrowed(text)));
        }
    }
    let string = text
        .bytes()
        .any(|b| !matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'));
    string.then_some(Node::Str(Cow::Borrowed(text)))
}

/// `0`, `42`, `-7`, `0.5`, `-12.25`: a decimal with at most 17 digits, which every reader
/// converts alike.
fn decimal(text: &str) -> Option<Node<'static>> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole)
        || (whole.len() > 1 && whole.starts_with('0'))
        || fraction.is_some_and(|f| !digits(f))
        || whole.len() + fraction.map_or(0, str::len) > 17
    {
        return None;
    }
    let negative = unsigned.len() < text.len();
    Some(match fraction {
        Some(_) => Node::Float(text.parse().ok()?),
        None if negative && whole == "0" => return None,
        None if negative => Node::Negative(text.parse().ok()?),
        None => Node::Unsigned(text.parse().ok()?),
    })
}

impl<'de> de::Deserializer<'de> for Node<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::Null => visitor.visit_unit(),
            Node::Bool(b) => visitor.visit_bool(b),
            Node::Unsigned(n) => visitor.visit_u64(n),
            Node::Negative(n) => visitor.visit_i64(n),
            Node::Float(f) => visitor.visit_f64(f),
            Node::Str(Cow::Borrowed(s)) => visitor.visit_borrowed_str(s),
            Node::Str(Cow::Owned(s)) => visitor.visit_string(s),
            Node::Seq(items) => {
                let mut seq = SeqDeserializer::new(items.into_iter());
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Node::Map(entries) => {
                let mut map = MapDeserializer::new(entries.into_iter());
                let value = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::Null => visitor.visit_none(),
            node => visitor.visit_some(node),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Node::Str(name) => visitor.visit_enum(name.into_deserializer()),
            node => node.unexpected(&visitor),
        }
    }

    // yaml_serde builds structs and maps from YAML maps only, never from lists as serde's
    // derived visitors would also accept.
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::Map(_) => self.deserialize_any(visitor),
            node => node.unexpected(&visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct identifier ignored_any
    }
}

impl Node<'_> {
    fn unexpected<T>(&self, expected: &dyn de::Expected) -> Result<T, Error> {
        let unexpected = match self {
            Node::Null => de::Unexpected::Unit,
            Node::Bool(b) => de::Unexpected::Bool(*b),
            Node::Unsigned(n) => de::Unexpected::Unsigned(*n),
            Node::Negative(n) => de::Unexpected::Signed(*n),
            Node::Float(f) => de::Unexpected::Float(*f),
            Node::Str(s) => de::Unexpected::Str(s),
            Node::Seq(_) => de::Unexpected::Seq,
            Node::Map(_) => de::Unexpected::Map,
        };
        Err(de::Error::invalid_type(unexpected, expected))
    }
}

impl<'de> IntoDeserializer<'de, Error> for Node<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use yaml_serde::Value;

    use super::*;
    use crate::model::TaskDoc;

    /// The node as the yaml_serde value it stands for.
    fn to_value(node: &Node<'_>) -> Value {
        match node {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Unsigned(n) => Value::Number((*n).into()),
            Node::Negative(n) => Value::Number((*n).into()),
            Node::Float(f) => Value::Number((*f).into()),
            Node::Str(s) => Value::String(s.to_string()),
            Node::Seq(items) => Value::Sequence(items.iter().map(to_value).collect()),
            Node::Map(entries) => Value::Mapping(
                entries
                    .iter()
                    .map(|(k, v)| (Value::String(k.to_string()), to_value(v)))
                    .collect(),
            ),
        }
    }

    /// Whatever the subset reads must be what yaml_serde reads, both as a YAML value and as a
    /// task; returns whether the subset read it.
    fn agrees(text: &str) -> bool {
        let Some(node) = parse(text) else {
            return false;
        };
        let full: Result<Value, _> = yaml_serde::from_str(text);
        assert_eq!(Some(to_value(&node)), full.ok(), "{text:?}");
        if let Ok(task) = TaskDoc::deserialize(node) {
            let full: Result<TaskDoc, _> = yaml_serde::from_str(text);
            assert_eq!(Some(task), full.ok(), "{text:?}");
        }
        true
    }

    fn check(text: &str, in_subset: bool) {
        assert_eq!(agrees(text), in_subset, "{text:?}");
    }

    #[test]
    fn scalars() {
        for (value, in_subset) in [
            ("plain words", true),
            ("u-0197", true),
            ("'2026-09-19T14:22:45Z'", true),
            ("2026-09-19T14:22:45Z", true),
            ("0002f1e989d59f9bbc89cedfc24d7b99", true),
            ("0b50c77c3d432bc780ee406ec6317df7", true),
            ("0x1F", false),
            ("0b101", false),
            ("0o17", false),
            ("0xZZ", true),
            ("42", true),
            ("-7", true),
            ("0", true),
            ("-0", false),
            ("007", false),
            ("0.5", true),
            ("-12.25", true),
            ("1.", false),
            (".5", false),
            ("1e5", false),
            ("+5", false),
            ("12345678901234567890", false),
            (".inf", false),
            ("-.inf", false),
            (".nan", false),
            ("inf", true),
            ("-inf", true),
            ("nan", true),
            ("Infinity", true),
            ("null", true),
            ("~", true),
            ("NULL", true),
            ("nil", true),
            ("true", true),
            ("False", true),
            ("yes", true),
            ("off", true),
            ("2026-09-19", false),
            ("1_000", true),
            ("12:30", true),
            ("a:b", true),
            ("a: b", false),
            ("a:", false),
            ("a # comment", true),
            ("a#b", true),
            ("a  b", true),
            ("a[1]{2},", true),
            ("it's", true),
            ("'it''s'", true),
            ("'a' b", false),
            ("\"a\\tb\"", true),
            ("\"a\\u00e9\"", false),
            ("\"say \\\"hi\\\"\"", true),
            ("'unterminated", false),
            ("\"unterminated", false),
            ("&anchor a", false),
            ("*alias", false),
            ("!tag a", false),
            ("!!str 5", false),
            ("|", false),
            (">", false),
            ("@a", false),
            ("`a", false),
            ("%a", false),
            ("? a", false),
            ("- a", false),
            ("-a", true),
            ("-5a", true),
            ("[]", true),
            ("{}", true),
            ("[a, 'b', \"c\", 1, 2.5, null, true]", true),
            ("[a,b]", true),
            ("[a, ]", false),
            ("[a, [b]]", false),
            ("[a:b]", false),
            ("[?a]", false),
            ("?a", true),
            ("[a #b]", false),
            ("[a] # c", true),
            ("[a] b", false),
            ("{a: 1, b: c d, 'e': f}", false),
            ("{a: 1, b: c d}", true),
            ("{a: 1, a: 2}", false),
            ("{a:1}", false),
            ("{a: {b: 1}}", false),
            ("[a", false),
        ] {
            check(&format!("key: {value}\n"), in_subset);
        }
    }

    /// Every length around a word's, and the bytes next to a line break's (`\x0b`, `\x8a`,
    /// `\t`), against a plain search.
    #[test]
    fn line_ends_are_found_where_a_search_finds_them() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for len in 0..40 {
            for _ in 0..50 {
                let text: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        [b'\n', b'\x0b', b'\x8a', b'\t', b'a', 0][(state % 6) as usize]
                    })
                    .collect();
                let mut expected: Vec<usize> = (0..len).filter(|&i| text[i] == b'\n').collect();
                if !text.is_empty() && !text.ends_with(b"\n") {
                    expected.push(len);
                }
                assert_eq!(line_ends(&text).collect::<Vec<_>>(), expected, "{text:?}");
            }
        }
    }

    #[test]
    fn documents() {
        for (text, in_subset) in [
            ("a: 1\nb: 2\n", true),
            ("a: 1\nb: 2", true),
            ("# c\n---\na: 1\n", true),
            ("---\n---\na: 1\n", false),
            ("--- a: 1\n", false),
            ("a: 1\n---\nb: 2\n", false),
            ("a: 1\n...\n", false),
            ("%YAML 1.2\n---\na: 1\n", false),
            ("", false),
            ("# only a comment\n", false),
            ("- a\n", false),
            ("plain\n", false),
            ("a: 1\na: 2\n", false),
            ("null: 1\n", false),
            ("'a': 1\n", false),
            ("a b: 1\n", false),
            ("a:1\n", false),
            (" a: 1\n", false),
            ("a: 1\n b: 2\n", false),
            ("a:\n  b: 1\n  c:\n    d: x\n  e: y\nf: z\n", true),
            ("a:\n  b: 1\n c: 2\n", false),
            ("a:\n- x\n- y\nb: 1\n", true),
            ("a:\n  - x\n  - y\nb: 1\n", true),
            ("a:\n  - x\n  b: 1\n", false),
            ("a:\n  - x\n    y\n", false),
            ("a:\n  -\n    b: 1\n", false),
            ("a:\n  - b: 1\n", false),
            ("a:\n  - - b\n", false),
            ("a:\nb:\n", true),
            ("a:   # nothing\nb: 1\n", true),
            ("a: long\n  continued\n", false),
            ("a: 'two\n  lines'\n", false),
            ("a: |\n  block\n", false),
            ("a:\n  plain\n", false),
            ("a: 1\r\nb: 2\r\n", false),
            ("a:\t1\n", false),
            ("\u{feff}a: 1\n", false),
            ("a: x\u{2028}y\n", false),
            ("a: x\u{85}y\n", false),
            ("a: caf\u{e9}\n", true),
            ("a: \u{1}\n", false),
        ] {
            check(text, in_subset);
        }
    }

    #[test]
    fn hostile_files_are_left_to_the_full_parser() {
        let deep: String = (0..1000)
            .map(|d| format!("{}k:\n", " ".repeat(d)))
            .collect();
        assert!(parse(&deep).is_none());
        let wide: String = (0..1000).map(|k| format!("k{k}: 1\n")).collect();
        assert!(parse(&wide).is_none());
        let long = format!("k: [{}]\n", vec!["a"; 100_000].join(", "));
        check(&long, true);
    }

    #[test]
    fn typed_fields_are_as_strict_as_yaml_serde() {
        // The subset reads `name: 5` as a number, which a string field refuses; yaml_serde
        // reads the name "5". The caller then takes yaml_serde's reading.
        let node = parse("name: 5\n").unwrap();
        assert!(TaskDoc::deserialize(node).is_err());
        // serde's derived structs also take lists; yaml_serde does not.
        let node = parse("worker: [FULL]\n").unwrap();
        assert!(TaskDoc::deserialize(node).is_err());
        assert!(yaml_serde::from_str::<TaskDoc>("worker: [FULL]\n").is_err());
    }

    #[test]
    fn files_annotask_writes_are_in_the_subset() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tasks");
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            check(&text, true);
            let task = crate::validate::validate(yaml_serde::from_str(&text).unwrap(), None).0;
            check(&crate::yaml::to_yaml(&task.unwrap()), true);
        }
    }

    /// Random edits of task files with YAML's special characters: whatever the subset still
    /// reads must be read as yaml_serde reads it.
    #[test]
    fn mutated_files_agree_with_yaml_serde() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tasks");
        let mut seeds: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        seeds.sort();
        seeds.push(SEED.to_owned());
        let pieces = [
            " ", "  ", "\n", "\n  ", ":", ": ", "-", "- ", "#", " #", "'", "''", "\"", "\\", "[",
            "]", "{", "}", ",", ", ", "&a ", "*a", "!", "|", ">", "?", "%", "@", "~", "0", "1",
            "-1", "0.5", "1e3", "0x", ".inf", "null", "true", "a", "\t", "\r", "---", "...",
            "\u{e9}", "\u{a0}", "\u{2028}", "\u{feff}",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: usize| {
            // xorshift64: the same edits on every run.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut read, mut total) = (0, 0);
        for seed in &seeds {
            for _ in 0..3000 {
                let mut text = seed.clone();
                for _ in 0..1 + next(3) {
                    let mut at = next(text.len() + 1);
                    while !text.is_char_boundary(at) {
                        at -= 1;
                    }
                    let end = (at + next(4)).min(text.len());
                    let end = (end..=text.len())
                        .find(|e| text.is_char_boundary(*e))
                        .unwrap();
                    text.replace_range(at..end, pieces[next(pieces.len())]);
                }
                total += 1;
                if agrees(&text) {
                    read += 1;
                }
            }
        }
        // The edits must leave enough files in the subset for the comparison to mean something.
        assert!(
            read * 5 > total,
            "only {read} of {total} edited files were in the subset"
        );
    }

    const SEED: &str = "\
id: 0b50c77c3d432bc780ee406ec6317df7
type: POLYGON_DETECTION
name: Annotate bicycle in home-interiors batch 123
description: Outline every bicycle, table and boat; ignore reflections. # why
worker:
  strategy: PARTITIONED
  user_ids: [u-0207, u-0092, 'u-0273']
  partitioned_strategy_info:
    type: WEIGHTED
    workers_per_input: 2
    weights: {u-0207: 1, u-0092: 2.5, u-0273: 1}
concept_ids:
- bicycle
- \"table\"
input_source:
  type: DATASET
  id: ds-17
sample_ms: 1000
review:
  strategy: MANUAL
  user_ids:
    - u-0010
  manual_strategy_info:
    sample_percentage: 0.5
status:
  code: 54002
priority: LOW
metadata: {project: home-interiors, batch: 123, ok: true, none: null, ratio: -0.25}
created_at: '2025-06-04T12:59:39Z'
modified_at: 2025-06-14T13:00:20Z
";
}
