//! The JSON Schemas of annotask's files, generated from the types that read them so they never
//! drift from what annotask reads: a task file's ([`crate::model`]), a work file's line
//! ([`crate::work`]) and a dataset file's line. Editors use them (a task file's through
//! yaml-language-server) for completion, hover docs from the types' docs, and errors as you
//! type. Must not do I/O.
//!
//! The schemas describe types and per-field limits; rules across fields (PARTITIONED needs
//! `partitioned_strategy_info`, a label's concepts are its task's, …) are [`crate::validate`]'s
//! and [`crate::work`]'s, reported by `annotask validate`.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::model::TaskDoc;

/// The file name of the schema, in this repository and in a project's state folder.
pub const FILE_NAME: &str = "task.schema.json";

/// The schema as this repository's `task.schema.json` holds it. A test keeps it equal to
/// [`generate`], so the binary writes it without generating it.
pub const TASK_SCHEMA: &str = include_str!("../task.schema.json");

/// The work-line schema's file name, in this repository and in a project's state folder.
pub const WORK_LINE_FILE: &str = "work-line.schema.json";

/// This repository's `work-line.schema.json`, kept equal to [`work_line`] by a test.
pub const WORK_LINE_SCHEMA: &str = include_str!("../work-line.schema.json");

/// The dataset-line schema's file name, in this repository and in a project's state folder.
pub const DATASET_LINE_FILE: &str = "dataset-line.schema.json";

/// This repository's `dataset-line.schema.json`, kept equal to [`dataset_line`] by a test.
pub const DATASET_LINE_SCHEMA: &str = include_str!("../dataset-line.schema.json");

/// Every schema a project's state folder holds for editors: file name and text.
pub const EDITOR_FILES: [(&str, &str); 3] = [
    (FILE_NAME, TASK_SCHEMA),
    (WORK_LINE_FILE, WORK_LINE_SCHEMA),
    (DATASET_LINE_FILE, DATASET_LINE_SCHEMA),
];

/// The root schema of `T`, draft-07 (the dialect yaml-language-server and VS Code speak).
fn root_of<T: JsonSchema>() -> Value {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut schema = serde_json::to_value(&schema).expect("schemas always serialise");
    unwrap_nullable_refs(&mut schema);
    schema
}

/// Pretty JSON ending in a newline, as the checked-in files hold it.
fn text_of(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("schemas always serialise");
    text.push('\n');
    text
}

/// The schema of one line of a work file (`work/<task>/<user>.jsonl`): `at` and exactly one
/// event, the annotation's body in full, every object closed to unknown keys as the reader is.
pub fn work_line() -> String {
    let mut schema = root_of::<crate::work::line::RawLine>();
    let events: Vec<Value> = schema["properties"]
        .as_object()
        .expect("a line has properties")
        .keys()
        .filter(|key| *key != "at")
        .map(|key| json!({"required": [key]}))
        .collect();
    schema["oneOf"] = Value::Array(events);
    text_of(&schema)
}

/// The schema of one line of a dataset file (`inputs/<dataset>.jsonl`): the API's Input, with
/// what annotask reads described, its top-level keys closed as the reader's are, and the rest
/// of the API's `data` (video, geo, ...) left open.
pub fn dataset_line() -> String {
    text_of(&root_of::<DatasetLine>())
}

/// A dataset line as [`dataset_line`] describes it. annotask keeps no type for an Input (it
/// passes the line through as written), so this one exists for the schema; a test holds its
/// keys to the reader's, `crate::inputs::INPUT_KEYS`.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "A line of a dataset file (inputs/<dataset>.jsonl): the API's Input")]
#[allow(dead_code)]
struct DatasetLine {
    /// The input's id, unique in the dataset: letters, digits, `-` and `_`.
    id: String,
    /// What the input is: an image (`image.url`) or a text (`text.raw` or `text.url`).
    data: Option<InputData>,
    /// The API's; passed through.
    created_at: Option<String>,
    /// The API's; passed through.
    modified_at: Option<String>,
    /// The API's; passed through.
    status: Option<Map<String, Value>>,
    /// The API's; passed through.
    dataset_ids: Option<Vec<String>>,
    /// The API's; passed through.
    settings: Option<Map<String, Value>>,
}

/// An Input's `data`: what annotask reads of it; the API's other keys pass through.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct InputData {
    /// An image: its `url` (`https://...`, or a path in the project such as `images/a.jpg`).
    image: Option<InputImage>,
    /// A text: `raw` inline, or a `url`.
    text: Option<InputText>,
    /// Free-form JSON kept with the input; `export` reads an image's size from its `width`
    /// and `height` when `image.image_info` lacks them.
    metadata: Option<Map<String, Value>>,
}

/// An Input's image.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct InputImage {
    /// Where the image is: `https://...`, or a path relative to the project's root.
    url: Option<String>,
    /// Its size in pixels, which `export` uses for COCO and VOC when the image is not local.
    image_info: Option<ImageInfo>,
}

/// An image's size in pixels.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct ImageInfo {
    /// In pixels.
    width: Option<u32>,
    /// In pixels.
    height: Option<u32>,
}

/// An Input's text.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct InputText {
    /// The text itself.
    raw: Option<String>,
    /// Where the text is.
    url: Option<String>,
}

/// The schema of a task file: draft-07, the dialect yaml-language-server speaks, as pretty
/// JSON ending in a newline.
pub fn generate() -> String {
    let mut schema = root_of::<TaskDoc>();
    agree_with_validate(&mut schema);
    text_of(&schema)
}

/// Brings the derived schema to what `annotask validate` accepts, wherever draft-07 can say
/// it. The model's types say less than the rules: `validate` requires `input_source`, refuses
/// its NOT_SET type, needs concepts for the labeling types, and accepts `null` (absent) and
/// numbers as ids. What the schema cannot say is listed in docs/tasks.md (Editors).
fn agree_with_validate(schema: &mut Value) {
    let root = schema.as_object_mut().expect("a root schema is an object");
    root.insert("required".into(), json!(["input_source"]));
    root.insert(
        "allOf".into(),
        json!([{
            "if": {
                "properties": {"type": {"enum": LABELING_TYPES}},
                "required": ["type"]
            },
            "then": {"required": ["concept_ids"], "properties": {"concept_ids": {"minItems": 1}}}
        }]),
    );
    let properties = &mut root["properties"];
    properties["id"]["type"] = json!(["string", "integer", "null"]);
    for stamp in ["created_at", "modified_at"] {
        properties[stamp]["type"] = json!(["string", "null"]);
    }
    properties["concept_ids"]["items"]["minLength"] = json!(1);
    properties["sample_ms"]["maximum"] = json!(u32::MAX);
    let definitions = &mut root["definitions"];
    let source = &mut definitions["InputSource"];
    source["required"] = json!(["type"]);
    source["allOf"] = json!([{
        "if": {"properties": {"type": {"enum": ["SAVED_SEARCH", "DATASET", "INPUT"]}}},
        "then": {"required": ["id"], "properties": {"id": {"type": "string", "minLength": 1}}}
    }]);
    if let Some(names) = definitions["InputSourceType"]["enum"].as_array_mut() {
        names.retain(|n| n != "INPUT_SOURCE_TYPE_NOT_SET");
    }
}

/// The task types whose workers label concepts, so they need `concept_ids`.
const LABELING_TYPES: [&str; 3] = [
    "CONCEPTS_CLASSIFICATION",
    "BOUNDING_BOX_DETECTION",
    "POLYGON_DETECTION",
];

/// `anyOf: [{$ref}, {type: null}]` becomes the `$ref`: the wrapper made editors offer `null`
/// for every enum and head hovers with the title twice, and sent generic validators' errors
/// to the wrong branch. `null` for these keys is what `validate` reads as absent; an editor
/// now flags it, the one place the schema is stricter.
fn unwrap_nullable_refs(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Array(branches)) = map.get("anyOf")
                && branches.len() == 2
                && branches.contains(&json!({"type": "null"}))
                && let Some(reference) = branches.iter().find(|b| b.get("$ref").is_some())
            {
                let reference = reference["$ref"].clone();
                map.remove("anyOf");
                map.insert("$ref".into(), reference);
            }
            map.values_mut().for_each(unwrap_nullable_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap_nullable_refs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_schema_matches_the_model() {
        assert!(
            TASK_SCHEMA == generate(),
            "task.schema.json no longer matches src/model.rs: run `annotask schema > task.schema.json`"
        );
    }

    #[test]
    fn the_checked_in_line_schemas_match_the_types() {
        for (file, committed, generated, flag) in [
            (WORK_LINE_FILE, WORK_LINE_SCHEMA, work_line(), "--work-line"),
            (
                DATASET_LINE_FILE,
                DATASET_LINE_SCHEMA,
                dataset_line(),
                "--dataset-line",
            ),
        ] {
            assert!(
                committed == generated,
                "{file} no longer matches the types: run `annotask schema {flag} > {file}`"
            );
            let schema: Value = serde_json::from_str(&generated).unwrap();
            assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
            assert_eq!(schema["additionalProperties"], false, "{file}");
        }
    }

    /// The dataset-line schema names the top-level keys the dataset reader accepts, no more.
    #[test]
    fn the_dataset_line_schema_has_the_readers_keys() {
        let schema: Value = serde_json::from_str(&dataset_line()).unwrap();
        let mut keys: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut read = crate::inputs::INPUT_KEYS.to_vec();
        keys.sort_unstable();
        read.sort_unstable();
        assert_eq!(keys, read);
    }

    /// A work line holds exactly one event: the schema lists each as its own `oneOf` branch.
    #[test]
    fn a_work_line_names_one_event() {
        let schema: Value = serde_json::from_str(&work_line()).unwrap();
        let events: Vec<&Value> = schema["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|branch| &branch["required"][0])
            .collect();
        assert_eq!(
            events,
            [
                "annotation",
                "delete",
                "review",
                "start",
                "submit",
                "withdraw"
            ]
        );
    }

    /// Every key an author can write has a description, so hovering over it explains it.
    #[test]
    fn every_field_is_documented() {
        fn walk(schema: &Value, path: &str, undocumented: &mut Vec<String>) {
            let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
                return;
            };
            for (key, property) in properties {
                if property.get("description").is_none() {
                    undocumented.push(format!("{path}{key}"));
                }
            }
        }
        let schema: Value = serde_json::from_str(&generate()).unwrap();
        let mut undocumented = Vec::new();
        walk(&schema, "", &mut undocumented);
        for (name, definition) in schema["definitions"].as_object().unwrap() {
            walk(definition, &format!("{name}."), &mut undocumented);
        }
        assert!(undocumented.is_empty(), "no description: {undocumented:?}");
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_eq!(
            schema["additionalProperties"], false,
            "unknown keys are errors"
        );
    }
}
