//! The JSON Schema of a task file, generated from [`crate::model`] so it never drifts from what
//! annotask reads: editors use it (through yaml-language-server) for completion, hover docs
//! from the model's field docs, and errors as you type. Must not do I/O.
//!
//! The schema describes types and per-field limits; rules across fields (PARTITIONED needs
//! `partitioned_strategy_info`, …) are [`crate::validate`]'s, reported by `annotask validate`.

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::model::TaskDoc;

/// The file name of the schema, in this repository and in a project's state folder.
pub const FILE_NAME: &str = "task.schema.json";

/// The schema as this repository's `task.schema.json` holds it. A test keeps it equal to
/// [`generate`], so the binary writes it without generating it.
pub const TASK_SCHEMA: &str = include_str!("../task.schema.json");

/// The schema of a task file: draft-07, the dialect yaml-language-server speaks, as pretty
/// JSON ending in a newline.
pub fn generate() -> String {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<TaskDoc>();
    let mut schema = serde_json::to_value(&schema).expect("schemas always serialise");
    agree_with_validate(&mut schema);
    let mut text = serde_json::to_string_pretty(&schema).expect("schemas always serialise");
    text.push('\n');
    text
}

/// Brings the derived schema to what `annotask validate` accepts, wherever draft-07 can say
/// it. The model's types say less than the rules: `validate` requires `input_source`, refuses
/// its NOT_SET type, needs concepts for the labeling types, and accepts `null` (absent) and
/// numbers as ids. What the schema cannot say is listed in docs/tasks.md (Editors).
fn agree_with_validate(schema: &mut Value) {
    unwrap_nullable_refs(schema);
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
