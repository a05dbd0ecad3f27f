//! YAML 1.2's core schema for plain scalars, where libyaml's reader (`yaml_serde`) follows
//! older rules. Owns rewriting a document's text so that `yaml_serde` reads what YAML 1.2 says
//! it holds, and refusing numbers that have no JSON form; must not decode documents.
//!
//! The differences, and what is done about each:
//! - `0b101`, `+0x1F`, `-0x1F`, `-0o7` are strings in YAML 1.2, integers to libyaml: quoted.
//! - `007` is the integer 7 in YAML 1.2, a string to libyaml: written `7`; `0x10` and `0o7`
//!   are written in decimal too, which a float field takes as libyaml's integers are not.
//! - `.inf`, `.nan` and numbers beyond a 64-bit float (`1e400`) have no JSON form, and
//!   integers beyond 64 bits no exact one: errors at their field.
//! - Where `saphyr-parser`, which finds the plain scalars, refuses a layout libyaml reads (a
//!   flow list continued at its key's indentation), a scalar after that point that libyaml
//!   would misread is an error at its place: it cannot be rewritten, and is never misread.
//!
//! Every rewrite keeps line breaks where they were, so positions in errors still hold.

use std::borrow::Cow;

use saphyr_parser::Span;

use super::{SpanMap, location};
use crate::validate::{Diagnostic, Location};

/// What YAML 1.2 reads a plain scalar as, where libyaml would read it otherwise.
#[derive(Debug, PartialEq)]
enum Reading {
    /// As libyaml reads it.
    Same,
    /// A string, which libyaml would read as a number.
    Text,
    /// This integer, which libyaml would read as a string.
    Integer(String),
    /// A number JSON cannot hold.
    Refused(&'static str),
}

fn read(plain: &str) -> Reading {
    let unsigned = plain.strip_prefix(['-', '+']).unwrap_or(plain);
    let signed = unsigned.len() != plain.len();
    let all = |s: &str, digit: fn(u8) -> bool| !s.is_empty() && s.bytes().all(digit);
    for (prefix, digit, radix) in [
        ("0x", (|b: u8| b.is_ascii_hexdigit()) as fn(u8) -> bool, 16),
        ("0o", |b: u8| (b'0'..=b'7').contains(&b), 8),
        ("0b", |b: u8| b == b'0' || b == b'1', 2),
    ] {
        if let Some(digits) = unsigned.strip_prefix(prefix)
            && all(digits, digit)
        {
            // YAML 1.2 has no binary, and no sign before a hex or octal integer.
            if signed || radix == 2 {
                return Reading::Text;
            }
            // In decimal, so that a float field takes it as it takes `16`.
            return match u64::from_str_radix(digits, radix) {
                Ok(v) => Reading::Integer(v.to_string()),
                Err(_) => Reading::Refused("is beyond the range of a 64-bit integer"),
            };
        }
    }
    if all(unsigned, |b| b.is_ascii_digit()) {
        let value: Option<i128> = plain.parse().ok();
        return match value {
            Some(v) if v >= i64::MIN as i128 && v <= u64::MAX as i128 => {
                let canonical = v.to_string();
                if canonical == plain.trim_start_matches('+') {
                    Reading::Same
                } else {
                    Reading::Integer(canonical)
                }
            }
            _ => Reading::Refused("is beyond the range of a 64-bit integer"),
        };
    }
    let special = unsigned.strip_prefix('.').unwrap_or("");
    if ["inf", "Inf", "INF"].contains(&special) {
        return Reading::Refused("is infinite, which JSON cannot hold");
    }
    if !signed && ["nan", "NaN", "NAN"].contains(&special) {
        return Reading::Refused("is not a number, which JSON cannot hold");
    }
    if is_float(unsigned) && plain.parse::<f64>().is_ok_and(f64::is_infinite) {
        return Reading::Refused("is beyond the range of a 64-bit number");
    }
    Reading::Same
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, YAML 1.2's float without its sign.
fn is_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", fraction)) => digits(fraction),
        Some((whole, fraction)) => digits(whole) && (fraction.is_empty() || digits(fraction)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// The text `yaml_serde` should read so that it reads what YAML 1.2 does, or the error of the
/// first number that has no JSON form.
pub fn to_libyaml(text: &str) -> Result<Cow<'_, str>, Diagnostic> {
    let text = tabs_after_dashes(text);
    if !text.bytes().any(|b| b.is_ascii_digit() || b == b'.') {
        return Ok(text);
    }
    let spans = SpanMap::build(&text);
    if let Some(line) = spans.broken_at
        && let Some(misread) = unplaced_misreading(&text, line)
    {
        return Err(misread);
    }
    let mut edits = Vec::new();
    for (field, span, value) in spans.plain {
        match read(&value) {
            Reading::Same => {}
            Reading::Text => edits.push((span, format!("'{value}'"))),
            Reading::Integer(canonical) => edits.push((span, canonical)),
            Reading::Refused(why) => {
                return Err(Diagnostic::error(field, format!("`{value}` {why}"))
                    .hint("quote it to keep it as text")
                    .at(location(span)));
            }
        }
    }
    Ok(match apply(&text, edits) {
        Cow::Borrowed(_) => text,
        Cow::Owned(out) => Cow::Owned(out),
    })
}

/// Where the walk that finds plain scalars stopped at `line` (libyaml accepts layouts it does
/// not, such as a flow list continued at its key's indentation), the scalars after it cannot
/// be rewritten: one that libyaml would read otherwise than YAML 1.2 is an error at its place,
/// when libyaml would read the text at all (else its own error is the one to report).
fn unplaced_misreading(text: &str, line: u32) -> Option<Diagnostic> {
    let first = line.saturating_sub(1) as usize;
    for (n, content) in text.lines().enumerate().skip(first) {
        let content = content.split(" #").next().unwrap_or_default();
        let mut column = 0;
        for token in content.split_inclusive([' ', '\t', '[', ']', '{', '}', ',']) {
            let start = column;
            column += token.chars().count();
            let plain = token
                .trim_end_matches([' ', '\t', '[', ']', '{', '}', ','])
                .trim_end_matches(':');
            if plain.is_empty()
                || plain.starts_with(['"', '\'', '#'])
                || read(plain) == Reading::Same
            {
                continue;
            }
            if yaml_serde::from_str::<yaml_serde::Value>(text).is_err() {
                return None;
            }
            let at = Location {
                line: n as u32 + 1,
                column: start as u32 + 1,
            };
            return Some(
                Diagnostic::error(
                    "",
                    format!(
                        "`{plain}` continues a flow collection on a line indented no deeper than its key, where YAML readers disagree on what it holds"
                    ),
                )
                .hint("indent the continued line further than its key, or quote the value")
                .at(at),
            );
        }
    }
    None
}

/// What `yaml_serde` wrote, with every plain scalar quoted that YAML 1.2 would not read as the
/// string `yaml_serde` meant: it writes `1e400` plain, which it reads as a string, and which
/// YAML 1.2 reads as a number. Numbers it writes (decimal integers, finite floats) read the
/// same, so only strings are quoted.
pub fn quote_misread(text: &str) -> Cow<'_, str> {
    let edits: Vec<(Span, String)> = SpanMap::build(text)
        .plain
        .into_iter()
        .filter(|(_, _, value)| read(value) != Reading::Same)
        .map(|(_, span, value)| (span, format!("'{value}'")))
        .collect();
    apply(text, edits)
}

/// `text` with each span replaced; the spans come in document order.
fn apply(text: &str, edits: Vec<(Span, String)>) -> Cow<'_, str> {
    if edits.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 2 * edits.len());
    let mut copied = 0;
    for (span, replacement) in edits {
        let start = char_to_byte(text, span.start.index());
        let end = char_to_byte(text, span.end.index());
        out.push_str(&text[copied..start]);
        out.push_str(&replacement);
        copied = end;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Spans count characters; edits are few, so each is found by counting.
fn char_to_byte(text: &str, index: usize) -> usize {
    if text.is_ascii() {
        return index;
    }
    text.char_indices()
        .nth(index)
        .map_or(text.len(), |(i, _)| i)
}

/// YAML 1.2 allows a tab among the spaces after a sequence's dash (`- \tbird`); libyaml takes
/// it for indentation and refuses it. Tabs there become spaces, one for one.
fn tabs_after_dashes(text: &str) -> Cow<'_, str> {
    let needs = |line: &str| {
        let rest = line.trim_start_matches(' ');
        rest.starts_with("-\t") || rest.starts_with("- \t")
    };
    if !text.contains('\t') || !text.lines().any(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if needs(line) {
            let indent = line.len() - line.trim_start_matches(' ').len();
            let after = &line[indent + 1..];
            let gap = after.len() - after.trim_start_matches([' ', '\t']).len();
            out.push_str(&line[..=indent]);
            out.push_str(&" ".repeat(gap));
            out.push_str(&after[gap..]);
        } else {
            out.push_str(line);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_read_as_yaml_1_2_does() {
        for (plain, expected) in [
            ("7", Reading::Same),
            ("-7", Reading::Same),
            ("+7", Reading::Same),
            ("007", Reading::Integer("7".into())),
            ("-007", Reading::Integer("-7".into())),
            ("0x1F", Reading::Integer("31".into())),
            ("0o17", Reading::Integer("15".into())),
            ("+0x1F", Reading::Text),
            ("-0x1F", Reading::Text),
            ("-0o7", Reading::Text),
            ("0b101", Reading::Text),
            ("0xZZ", Reading::Same),
            ("18446744073709551615", Reading::Same),
            (
                "18446744073709551616",
                Reading::Refused("is beyond the range of a 64-bit integer"),
            ),
            (
                "-9223372036854775809",
                Reading::Refused("is beyond the range of a 64-bit integer"),
            ),
            (
                "0x1FFFFFFFFFFFFFFFF",
                Reading::Refused("is beyond the range of a 64-bit integer"),
            ),
            (
                ".inf",
                Reading::Refused("is infinite, which JSON cannot hold"),
            ),
            (
                "-.Inf",
                Reading::Refused("is infinite, which JSON cannot hold"),
            ),
            (
                ".nan",
                Reading::Refused("is not a number, which JSON cannot hold"),
            ),
            (
                "1e400",
                Reading::Refused("is beyond the range of a 64-bit number"),
            ),
            ("1e300", Reading::Same),
            ("0.5", Reading::Same),
            ("bird", Reading::Same),
            ("1.2.3", Reading::Same),
        ] {
            assert_eq!(read(plain), expected, "{plain}");
        }
    }

    #[test]
    fn rewrites_keep_everything_else() {
        let check = |text: &str, expected: &str| {
            assert_eq!(to_libyaml(text).unwrap(), expected, "{text:?}");
        };
        check("a: 1\n", "a: 1\n");
        check(
            "m: {b: 0b101, o: 007, é: -0x1F}\n",
            "m: {b: '0b101', o: 7, é: '-0x1F'}\n",
        );
        check("l:\n- \tbird\n-\tcat\n", "l:\n-  bird\n- cat\n");
        let err = to_libyaml("metadata:\n  big: 1e400\n").unwrap_err();
        assert_eq!(err.field, "metadata.big");
        assert_eq!(err.location.map(|l| (l.line, l.column)), Some((2, 8)));
    }

    /// The same list in every layout reads as YAML 1.2 says, through whichever reader takes
    /// it, or, where libyaml's reading cannot be corrected, is an error at the value.
    #[test]
    fn numbers_read_the_same_whatever_the_layout() {
        let yaml_1_2 = serde_json::json!({"a": ["+0x1F", "0b101", "-0x1F", -7, 16, 7]});
        let check = |text: &str, expected: Result<&serde_json::Value, (u32, u32)>| {
            let read = crate::yaml::parse_body::<serde_json::Value>(text.as_bytes())
                .map_err(|d| d.location.map(|l| (l.line, l.column)).unwrap_or_default());
            assert_eq!(read.as_ref().map_err(|e| *e), expected, "{text:?}");
        };
        check("a: [+0x1F, 0b101, -0x1F, -007, 0x10, 007]\n", Ok(&yaml_1_2));
        check(
            "a:\n- +0x1F\n- 0b101\n- -0x1F\n- -007\n- 0x10\n- 007\n",
            Ok(&yaml_1_2),
        );
        check(
            "a: [+0x1F,\n    0b101, -0x1F,\n    -007, 0x10, 007]\n",
            Ok(&yaml_1_2),
        );
        check(
            "a: [\n  +0x1F,\n  0b101, -0x1F, -007,\n  0x10, 007\n]\n",
            Ok(&yaml_1_2),
        );
        check(
            "a: [+0x1F, # one\n  0b101, -0x1F, -007, 0x10, 007]\n",
            Ok(&yaml_1_2),
        );
        check("m:\n  a: [+0x1F,\n  0b101, -0x1F, -007]\n", Err((3, 3)));
        check("m:\n  a: [+0x1F,\n0b101, -0x1F, -007]\n", Err((3, 1)));
        check(
            "m:\n  a: [cat,\n  dog]\n",
            Ok(&serde_json::json!({"m": {"a": ["cat", "dog"]}})),
        );
    }
}
