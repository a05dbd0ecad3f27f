//! Every validation rule, one line per case: a document and the diagnostics it must produce,
//! each as `line:column severity field: message`.

use annotask::validate::{Diagnostic, validate};
use annotask::yaml::{locate, parse_task};

/// A valid PARTITIONED task; cases replace parts of it.
const BASE: &str = "\
id: t1
type: CONCEPTS_CLASSIFICATION
worker:
  strategy: PARTITIONED
  user_ids: [alice, bob]
  partitioned_strategy_info:
    type: WEIGHTED
    workers_per_input: 1
    weights: {alice: 3, bob: 1}
concept_ids: [cat]
input_source: {type: ALL_INPUTS}
review: {strategy: NONE}
";

fn render(d: &Diagnostic) -> String {
    let at = d
        .location
        .map_or("-".into(), |l| format!("{}:{}", l.line, l.column));
    format!("{at} {} {}: {}", d.severity, d.field, d.message)
}

fn diagnose(yaml: &str) -> Vec<String> {
    match parse_task(yaml.as_bytes()) {
        Err(d) => vec![render(&d)],
        Ok(doc) => {
            let (task, mut found) = validate(doc, Some("from-file-name"));
            assert_eq!(task.is_some(), !found.iter().any(Diagnostic::is_error));
            locate(yaml.as_bytes(), &mut found);
            found.iter().map(render).collect()
        }
    }
}

#[track_caller]
fn check(yaml: &str, expected: &[&str]) {
    assert_eq!(diagnose(yaml), expected, "\n--- document ---\n{yaml}");
}

/// BASE with its line `from` replaced by `to` (which may span lines).
fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no {from:?}");
    BASE.replacen(from, to, 1)
}

#[test]
fn valid_documents() {
    check(BASE, &[]);
    check(&with("id: t1\n", ""), &[]);
    check(
        &with(
            "weights: {alice: 3, bob: 1}",
            "weights: {alice: 90.0, bob: 10.0}",
        ),
        &[],
    );
    check(
        &with(
            "review: {strategy: NONE}",
            "status: {code: 54002}\npriority: HIGH\nmetadata: {a: [1, {b: null}]}",
        ),
        &[],
    );
    check(
        &with(
            "review: {strategy: NONE}",
            "status: {code: TASK_WONT_DO, description: dropped}",
        ),
        &[],
    );
    check(
        &with(
            "review: {strategy: NONE}",
            "created_at: 2026-11-29T10:00:00.123456Z",
        ),
        &[],
    );
}

#[test]
fn syntax_and_structure() {
    check(
        "id: [unclosed\n",
        &["1:14 error id: syntax error: while parsing a flow sequence, expected ',' or ']'"],
    );
    check(
        "id: a\n  b: c\n",
        &["2:4 error id: syntax error: mapping values are not allowed in this context"],
    );
    check("id: a\nid: b\n", &["2:1 error id: duplicate key `id`"]);
    check(
        &with("bob: 1}", "bob: 1, alice: 2}"),
        &["9:33 error worker.partitioned_strategy_info.weights.alice: duplicate key `alice`"],
    );
    check(
        &with("review: {strategy: NONE}", "metadata: {a: {b: 1, b: 2}}"),
        &["12:22 error metadata.a.b: duplicate key `b`"],
    );
    check(
        &with("concept_ids", "concept_idz"),
        &["10:1 error concept_idz: unknown key `concept_idz`"],
    );
    check(
        &with("  user_ids", "  users"),
        &["5:3 error worker.users: unknown key `users`"],
    );
    check(
        &with("workers_per_input: 1", "workers_per_input: one"),
        &[
            "8:24 error worker.partitioned_strategy_info.workers_per_input: invalid type: string \"one\", expected i32",
        ],
    );
    check(
        &with("review: {strategy: NONE}", "sample_ms: -1"),
        &[
            "12:12 error sample_ms: invalid type: integer `-1`, expected a whole number from 0 to 4294967295",
        ],
    );
    check(
        "- a\n",
        &[
            "1:1 error : invalid type: sequence, expected a map of task fields (id, type, worker, …)",
        ],
    );
    check("", &["1:1 error : the file is empty"]);
    check("# only a comment\n", &["1:1 error : the file is empty"]);
    check(
        "id: a\n---\nid: b\n",
        &["1:1 error : the file holds more than one YAML document"],
    );
}

#[test]
fn enums_by_name() {
    check(
        &with("strategy: PARTITIONED", "strategy: PARTITONED"),
        &["4:13 error worker.strategy: unknown value `PARTITONED`"],
    );
    check(
        &with("type: WEIGHTED", "type: weighted"),
        &["7:11 error worker.partitioned_strategy_info.type: unknown value `weighted`"],
    );
    check(
        &with("review: {strategy: NONE}", "priority: URGENT"),
        &["12:11 error priority: unknown value `URGENT`"],
    );
    check(
        &with("review: {strategy: NONE}", "status: {code: DONE}"),
        &["12:16 error status.code: unknown value `DONE`"],
    );
    check(
        &with("review: {strategy: NONE}", "status: {code: 10000}"),
        &[
            "12:16 error status.code: 10000 is not a task status code; expected one of 54001, 54002, 54003, 54005, 54006",
        ],
    );
}

#[test]
fn ids() {
    check(
        &with("id: t1", "id: ../etc/passwd"),
        &[
            "1:1 error id: id `../etc/passwd` contains '.'; ids use only letters, digits, `-` and `_`",
        ],
    );
    check(&with("id: t1", "id: ''"), &["1:1 error id: id is empty"]);
    check(
        &with("id: t1", &format!("id: {}", "x".repeat(129))),
        &["1:1 error id: id is 129 characters long; at most 128 are allowed"],
    );
}

#[test]
fn partitioned_workers() {
    check(
        &with(
            "  partitioned_strategy_info:\n    type: WEIGHTED\n    workers_per_input: 1\n    weights: {alice: 3, bob: 1}\n",
            "",
        ),
        &[
            "3:1 error worker.partitioned_strategy_info: PARTITIONED needs `partitioned_strategy_info`",
        ],
    );
    check(
        &with("    type: WEIGHTED\n", ""),
        &[
            "6:3 error worker.partitioned_strategy_info.type: PARTITIONED needs a partition `type` of EVENLY or WEIGHTED",
        ],
    );
    check(
        &with("    workers_per_input: 1\n", ""),
        &[
            "6:3 error worker.partitioned_strategy_info.workers_per_input: PARTITIONED needs `workers_per_input`",
        ],
    );
    check(
        &with("workers_per_input: 1", "workers_per_input: 3"),
        &[
            "8:5 error worker.partitioned_strategy_info.workers_per_input: workers_per_input is 3; it must be from 1 to the number of workers (2)",
            "9:15 error worker.partitioned_strategy_info.weights.alice: `alice` would have to label 225% of inputs (75% of the weight, 3 workers per input)",
        ],
    );
    check(
        &with("workers_per_input: 1", "workers_per_input: 0"),
        &[
            "8:5 error worker.partitioned_strategy_info.workers_per_input: workers_per_input is 0; it must be from 1 to the number of workers (2)",
        ],
    );
    check(
        &with("user_ids: [alice, bob]", "user_ids: []"),
        &[
            "5:3 error worker.user_ids: PARTITIONED needs at least one worker",
            "8:5 error worker.partitioned_strategy_info.workers_per_input: workers_per_input is 1; it must be from 1 to the number of workers (0)",
            "9:15 error worker.partitioned_strategy_info.weights.alice: `alice` has a weight but is not a worker",
            "9:25 error worker.partitioned_strategy_info.weights.bob: `bob` has a weight but is not a worker",
        ],
    );
}

#[test]
fn weights() {
    check(
        &with("{alice: 3, bob: 1}", "{alice: 3}"),
        &["9:5 error worker.partitioned_strategy_info.weights: worker `bob` has no weight"],
    );
    check(
        &with("{alice: 3, bob: 1}", "{alice: 3, bob: 1, bobby: 2}"),
        &[
            "9:33 error worker.partitioned_strategy_info.weights.bobby: `bobby` has a weight but is not a worker",
        ],
    );
    check(
        &with("{alice: 3, bob: 1}", "{alice: 3, bob: 0}"),
        &[
            "9:25 error worker.partitioned_strategy_info.weights.bob: weight 0 is not a positive number",
        ],
    );
    check(
        &with("{alice: 3, bob: 1}", "{alice: 3, bob: -2}"),
        &[
            "9:25 error worker.partitioned_strategy_info.weights.bob: weight -2 is not a positive number",
        ],
    );
    check(
        &with("    weights: {alice: 3, bob: 1}\n", ""),
        &["6:3 error worker.partitioned_strategy_info.weights: WEIGHTED needs `weights`"],
    );
    // With two workers per input and two workers, each labels every input: 50% of the weight
    // each is exactly honourable; 75% is not.
    check(
        &with(
            "workers_per_input: 1\n    weights: {alice: 3, bob: 1}",
            "workers_per_input: 2\n    weights: {alice: 1, bob: 1}",
        ),
        &[],
    );
    check(
        &with("workers_per_input: 1", "workers_per_input: 2"),
        &[
            "9:15 error worker.partitioned_strategy_info.weights.alice: `alice` would have to label 150% of inputs (75% of the weight, 2 workers per input)",
        ],
    );
    check(
        &with("type: WEIGHTED", "type: EVENLY"),
        &["9:5 error worker.partitioned_strategy_info.weights: EVENLY takes no weights"],
    );
    check(
        &with(
            "    type: WEIGHTED\n    workers_per_input: 1\n    weights: {alice: 3, bob: 1}\n",
            "    type: EVENLY\n    workers_per_input: 2\n",
        ),
        &[],
    );
}

#[test]
fn worker_ids_and_other_strategies() {
    check(
        &with("user_ids: [alice, bob]", "user_ids: [alice, bob, alice]"),
        &["5:26 error worker.user_ids[2]: duplicate worker `alice`"],
    );
    check(
        &with("user_ids: [alice, bob]", "user_ids: [alice, bob, '']"),
        &["5:26 error worker.user_ids[2]: empty worker id"],
    );
    check(
        &with("strategy: PARTITIONED", "strategy: FULL"),
        &["6:3 error worker.partitioned_strategy_info: FULL takes no `partitioned_strategy_info`"],
    );
    check(
        &with("strategy: PARTITIONED", "strategy: DYNAMIC"),
        &[
            "6:3 error worker.partitioned_strategy_info: DYNAMIC takes no `partitioned_strategy_info`",
        ],
    );
    check(
        "id: a\ntype: CONCEPTS_CLASSIFICATION\nworker: {strategy: FULL}\nconcept_ids: [c]\ninput_source: {type: ALL_INPUTS}\n",
        &[],
    );
}

#[test]
fn review() {
    let manual = |info: &str, reviewers: &str| {
        with(
            "review: {strategy: NONE}",
            &format!(
                "review:\n  strategy: MANUAL\n  user_ids: {reviewers}\n  manual_strategy_info: {info}"
            ),
        )
    };
    check(&manual("{sample_percentage: 0.5}", "[sam]"), &[]);
    check(&manual("{sample_percentage: 1}", "[sam]"), &[]);
    check(
        &manual("{sample_percentage: 0.5}", "[]"),
        &["14:3 error review.user_ids: MANUAL review needs at least one reviewer"],
    );
    check(
        &manual("{sample_percentage: 0}", "[sam]"),
        &[
            "15:26 error review.manual_strategy_info.sample_percentage: sample_percentage is 0; it must be more than 0 and at most 1",
        ],
    );
    check(
        &manual("{sample_percentage: 50}", "[sam]"),
        &[
            "15:26 error review.manual_strategy_info.sample_percentage: sample_percentage is 50; it must be more than 0 and at most 1",
        ],
    );
    check(
        &manual("{}", "[sam]"),
        &[
            "15:3 error review.manual_strategy_info.sample_percentage: MANUAL review needs `sample_percentage`",
        ],
    );
    check(
        &manual("{sample_percentage: 0.5}", "[sam, sam]"),
        &["14:19 error review.user_ids[1]: duplicate reviewer `sam`"],
    );
    let consensus = |threshold: &str| {
        with(
            "review: {strategy: NONE}",
            &format!(
                "review:\n  strategy: CONSENSUS\n  consensus_strategy_info: {{approval_threshold: {threshold}}}"
            ),
        )
    };
    check(&consensus("1"), &[]);
    check(
        &consensus("0"),
        &[
            "14:29 error review.consensus_strategy_info.approval_threshold: CONSENSUS review needs `approval_threshold` of at least 1",
        ],
    );
    // The document's own consensus example: valid, with a warning.
    check(
        &consensus("2"),
        &[
            "14:29 warning review.consensus_strategy_info.approval_threshold: approval_threshold is 2, but each input is labeled by 1 worker(s), so consensus can never be reached",
        ],
    );
    check(
        &with(
            "review: {strategy: NONE}",
            "review: {strategy: NONE, manual_strategy_info: {sample_percentage: 0.5}}",
        ),
        &["12:26 error review.manual_strategy_info: NONE review takes no `manual_strategy_info`"],
    );
    check(
        &with(
            "review: {strategy: NONE}",
            "review: {strategy: MANUAL, user_ids: [s], manual_strategy_info: {sample_percentage: 1}, consensus_strategy_info: {approval_threshold: 1}}",
        ),
        &[
            "12:89 error review.consensus_strategy_info: MANUAL review takes no `consensus_strategy_info`",
        ],
    );
}

#[test]
fn concepts_and_inputs() {
    check(
        &with("concept_ids: [cat]\n", ""),
        &["1:1 error concept_ids: a CONCEPTS_CLASSIFICATION task needs at least one concept"],
    );
    check(
        &with("concept_ids: [cat]", "concept_ids: [cat, dog, cat]"),
        &["10:25 error concept_ids[2]: duplicate concept `cat`"],
    );
    // A long list is checked by hashing, not by comparing each id with those before it.
    let many: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    check(
        &with(
            "concept_ids: [cat]",
            &format!("concept_ids: [{}, c3, '', '']", many.join(", ")),
        ),
        &[
            "10:105 error concept_ids[20]: duplicate concept `c3`",
            "10:109 error concept_ids[21]: empty concept id",
            "10:113 error concept_ids[22]: empty concept id",
        ],
    );
    check(
        &with("concept_ids: [cat]", "concept_ids: [' ']"),
        &["10:15 error concept_ids[0]: empty concept id"],
    );
    check(
        &with("type: CONCEPTS_CLASSIFICATION\n", "").replace("concept_ids: [cat]\n", ""),
        &["1:1 warning type: no `type`: workers will not know what to label"],
    );
    check(
        &with("input_source: {type: ALL_INPUTS}\n", ""),
        &["1:1 error input_source: missing `input_source`: which inputs to label"],
    );
    check(
        &with("{type: ALL_INPUTS}", "{id: x}"),
        &["11:1 error input_source.type: missing input source `type`"],
    );
    for source in ["DATASET", "SAVED_SEARCH", "INPUT"] {
        check(
            &with("{type: ALL_INPUTS}", &format!("{{type: {source}}}")),
            &[&format!(
                "11:1 error input_source.id: a {source} input source needs an `id`"
            )],
        );
        check(
            &with("{type: ALL_INPUTS}", &format!("{{type: {source}, id: x1}}")),
            &[],
        );
    }
    check(
        &with("{type: ALL_INPUTS}", "{type: ALL_INPUTS, id: x1}"),
        &["11:34 warning input_source.id: ALL_INPUTS takes no `id`; it is ignored"],
    );
}

#[test]
fn identity_from_file_name() {
    let doc = parse_task(with("id: t1\n", "").as_bytes()).unwrap();
    let (task, _) = validate(doc.clone(), Some("from-file-name"));
    assert_eq!(task.unwrap().id(), "from-file-name");
    let (task, found) = validate(doc, Some("bad name"));
    assert!(task.is_none());
    assert_eq!(
        found[0].message,
        "no `id` key, and the file name is no id: id `bad name` contains ' '; ids use only letters, digits, `-` and `_`"
    );
}

#[test]
fn hints_snapshot() {
    let cases = [
        with("strategy: PARTITIONED", "strategy: PARTITONED"),
        with("  user_ids", "  user_idz"),
        with("{alice: 3, bob: 1}", "{alice: 3, bob: 1, bobb: 1}"),
        with("review: {strategy: NONE}", "priority: URGENT"),
        with(
            "review: {strategy: NONE}",
            "review: {strategy: MANUAL, user_ids: [s], manual_strategy_info: {sample_percentage: 50}}",
        ),
        with("workers_per_input: 1", "workers_per_input: 2"),
        "".to_owned(),
    ];
    let mut out = String::new();
    for yaml in &cases {
        let found = match parse_task(yaml.as_bytes()) {
            Err(d) => vec![d],
            Ok(doc) => validate(doc, None).1,
        };
        for d in found {
            out.push_str(&format!(
                "{}: {}\n    hint: {}\n",
                d.field,
                d.message,
                d.hint.unwrap_or_default()
            ));
        }
    }
    insta::assert_snapshot!(out);
}

/// YAML 1.2's core schema, which `yaml_serde` alone does not follow, and editors' habits.
#[test]
fn yaml_1_2_readings() {
    let stored = |yaml: &str| -> String {
        let doc = parse_task(yaml.as_bytes()).unwrap();
        serde_json::to_string(&doc.metadata).unwrap()
    };
    assert_eq!(
        stored("metadata: {bin: 0b101, hex: +0x1F, neg: -0x1F, oct: 007, h: 0x10, o: 0o7}\n"),
        r#"{"bin":"0b101","h":16,"hex":"+0x1F","neg":"-0x1F","o":7,"oct":7}"#
    );
    for (value, column) in [
        (".inf", 15),
        (".nan", 15),
        ("1e400", 15),
        ("99999999999999999999", 15),
    ] {
        let yaml = format!("metadata: {{x: {value}}}\n");
        let error = render(&parse_task(yaml.as_bytes()).unwrap_err());
        assert!(
            error.starts_with(&format!("1:{column} error metadata.x: `{value}`")),
            "{error}"
        );
    }
    // A JSON body's integer beyond 64 bits is refused at its field, not read as a float.
    let body = "{\"tasks\": [{\"id\": \"a\", \"metadata\": {\"n\": 123456789012345678901234}}]}";
    let error = annotask::yaml::parse_body::<serde_json::Value>(body.as_bytes()).unwrap_err();
    assert_eq!(
        render(&error),
        "1:42 error tasks[0].metadata.n: `123456789012345678901234` is beyond the range of a 64-bit integer"
    );
    // A float field takes hex and octal integers as it takes decimal ones.
    check(
        &with(
            "    weights: {alice: 3, bob: 1}",
            "    weights: {alice: 0x3, bob: 0o1}",
        ),
        &[],
    );
    // A tab among the spaces after a dash, and a leading byte-order mark.
    check(&with("concept_ids: [cat]", "concept_ids:\n- \tcat"), &[]);
    let bom = format!("\u{feff}{BASE}");
    check(&bom, &[]);
    let nested = "\u{feff}metadata:\n name: x\ninput_source: {type: ALL_INPUTS}\n";
    let doc = parse_task(nested.as_bytes()).unwrap();
    assert_eq!(
        doc.name, None,
        "the BOM does not move `name` out of metadata"
    );
}

#[test]
fn hostile_input() {
    let alias_bomb = {
        let mut yaml = String::from("id: x\nmetadata:\n  a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n");
        for (name, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"]
            .iter()
            .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
        {
            yaml.push_str(&format!(
                "  {name}: &{name} [{}]\n",
                vec![format!("*{prev}"); 9].join(", ")
            ));
        }
        yaml
    };
    check(
        &alias_bomb,
        &["1:1 error : the document expands too many aliases (an alias bomb?)"],
    );
    let deep = format!("metadata: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    check(&deep, &["1:75 error : the document is nested too deeply"]);
    // Brackets in quoted scalars and comments are text: only the nesting counts.
    let quoted = format!(
        "{}description: \"{}\"\n# {}\n",
        BASE,
        "[".repeat(65),
        "{".repeat(65)
    ) + &"#\n".repeat(2100);
    check(&quoted, &[]);
    let apostrophe = format!(
        "id: x\nname: don't {}\n{}",
        "[".repeat(65),
        "#\n".repeat(2100)
    );
    check(
        &apostrophe,
        &["2:77 error : the document is nested too deeply"],
    );
    let huge = format!("id: x\nname: {}\n", "x".repeat(1 << 20));
    check(
        &huge,
        &["- error : the file is 1048589 bytes; task files are limited to 1048576 bytes"],
    );
    let not_utf8 = b"id: x\nname: caf\xe9\n";
    assert_eq!(
        render(&parse_task(not_utf8).unwrap_err()),
        "2:10 error : the file is not UTF-8 text"
    );
    check(
        "id: x\nname: a\0b\n",
        &["2:8 error : the file contains a NUL byte; it is not a text file"],
    );
    // Random bytes: always an error, never a panic or a hang.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..200 {
        let garbage: Vec<u8> = (0..512)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 32) as u8
            })
            .collect();
        assert!(parse_task(&garbage).is_err());
    }
}
