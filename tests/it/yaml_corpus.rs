//! What the index stores for a task file's values, checked against an independent YAML 1.2
//! reading (`saphyr`, a YAML 1.2 loader that does not share libyaml's rules) over many
//! generated files: the fast reader, the fallback and the core-schema rewrite together must
//! read every plain, quoted and flow scalar as YAML 1.2 does, or refuse it at its field when
//! JSON cannot hold it.

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Number, Value};

use annotask::yaml::parse_task;

/// Scalars whose readings differ between YAML versions and readers, as they appear in a file.
/// Integers beyond 64 bits are left out: saphyr reads them as floats, where annotask refuses
/// them (`yaml::core`'s tests cover that rule).
const SCALARS: &[&str] = &[
    "7",
    "-7",
    "+7",
    "0",
    "007",
    "-007",
    "+007",
    "0x1F",
    "0X1F",
    "0o17",
    "+0x1F",
    "-0x1F",
    "-0o7",
    "0b101",
    "0.5",
    "-1.5e3",
    "1e3",
    "1E3",
    ".5",
    "1.",
    "+0.5",
    "bird",
    "true",
    "True",
    "TRUE",
    "false",
    "null",
    "~",
    "Null",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "'007'",
    "\"0x1\"",
    "'true'",
    "1_000",
    "12:30",
    "2026-01-01",
    ".inf",
    "-.inf",
    "+.inf",
    ".nan",
    ".NaN",
    "1e400",
    "-1e400",
    "9223372036854775807",
    "-9223372036854775808",
    "0x",
    "0o",
    "1e",
    "- 1",
    "a b",
    "\"\"",
    "''",
    "0.0",
    "-0",
    "00",
    "0_1",
];

/// YAML 1.2's reading as JSON, or None when JSON cannot hold it.
fn json(node: &Yaml) -> Option<Value> {
    Some(match node {
        Yaml::Value(Scalar::Null) => Value::Null,
        Yaml::Value(Scalar::Boolean(b)) => Value::Bool(*b),
        Yaml::Value(Scalar::Integer(i)) => Value::from(*i),
        Yaml::Value(Scalar::FloatingPoint(f)) => Value::Number(Number::from_f64(f.into_inner())?),
        Yaml::Value(Scalar::String(s)) => Value::String(s.to_string()),
        Yaml::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let key = match k {
                    Yaml::Value(Scalar::String(s)) => s.to_string(),
                    _ => return None,
                };
                out.insert(key, json(v)?);
            }
            Value::Object(out)
        }
        Yaml::Sequence(items) => Value::Array(items.iter().map(json).collect::<Option<_>>()?),
        _ => return None,
    })
}

#[test]
fn stored_values_equal_a_yaml_1_2_reading() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut checked = 0;
    for case in 0..3000 {
        let picks: Vec<&str> = (0..1 + next(4))
            .map(|_| SCALARS[next(SCALARS.len())])
            .collect();
        let metadata = match case % 3 {
            0 => {
                let pairs: Vec<String> = picks
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("k{i}: {s}"))
                    .collect();
                format!("metadata: {{{}}}\n", pairs.join(", "))
            }
            1 => {
                let pairs: String = picks
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("  k{i}: {s}\n"))
                    .collect();
                format!("metadata:\n{pairs}")
            }
            _ => format!("metadata:\n  list: [{}]\n", picks.join(", ")),
        };
        let text = format!("id: t\ninput_source: {{type: ALL_INPUTS}}\n{metadata}");
        let Ok(docs) = Yaml::load_from_str(&text) else {
            continue;
        };
        let expected = json(&docs[0]["metadata"]);
        let stored =
            parse_task(text.as_bytes()).map(|doc| serde_json::to_value(&doc.metadata).unwrap());
        match (expected, stored) {
            (Some(expected), Ok(stored)) => assert_eq!(stored, expected, "\n{text}"),
            (None, Err(_)) => {}
            (expected, stored) => panic!("\n{text}\nYAML 1.2: {expected:?}\nstored: {stored:?}"),
        }
        checked += 1;
    }
    assert!(checked > 2000, "only {checked} generated files were YAML");
}
