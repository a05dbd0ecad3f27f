//! The JSON Schema of a task file, generated from [`crate::model`] so it never drifts from what
//! annotask reads: editors use it (through yaml-language-server) for completion, hover docs
//! from the model's field docs, and errors as you type. Must not do I/O.
//!
//! The schema describes types and per-field limits; rules across fields (PARTITIONED needs
//! `partitioned_strategy_info`, …) are [`crate::validate`]'s, reported by `annotask validate`.

use schemars::generate::SchemaSettings;

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
    let mut text = serde_json::to_string_pretty(&schema).expect("schemas always serialise");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

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
