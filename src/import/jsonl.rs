//! The export's own JSON lines into [`Read`]s: each line's `input_id` and its `annotations`
//! (the API's Annotation JSON); the other fields (`url`, `how`, ...) are the export's account
//! and are not read back. Problems are placed at their line; a key no annotation field reads
//! (`"concept": "bird"`) is refused at its path with a did-you-mean.

use std::path::Path;

use serde::Deserialize;

use super::coco::read_file;
use super::{Content, ImageKey, Place, Problem, Read, invalid};
use crate::error::Result;
use crate::validate::{Diagnostic, Location};
use crate::work::Annotation;
use crate::work::annotation::unknown_keys;

#[derive(Deserialize)]
struct Line {
    input_id: String,
    #[serde(default)]
    annotations: Vec<Annotation>,
}

pub fn read(path: &Path, name: &str) -> Result<Vec<Read>> {
    let bytes = read_file(path)?;
    let mut reads = Vec::new();
    let mut problems = Vec::new();
    for (i, text) in bytes.split(|b| *b == b'\n').enumerate() {
        let number = i as u32 + 1;
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let place = Place {
            file: name.to_owned(),
            field: String::new(),
            line: Some(number),
        };
        let parsed = serde_json::from_slice::<serde_json::Value>(text).and_then(|value| {
            // Keys no field reads would be dropped silently: refused, each at its path.
            let annotations = value["annotations"].as_array().into_iter().flatten();
            for (i, annotation) in annotations.enumerate() {
                for d in unknown_keys(annotation, &format!("annotations[{i}]"), &[]) {
                    problems.push(Problem {
                        file: name.to_owned(),
                        diagnostic: d.at(Location {
                            line: number,
                            column: 1,
                        }),
                    });
                }
            }
            serde_json::from_value::<Line>(value)
        });
        match parsed {
            Ok(line) => reads.push(Read {
                place,
                image: ImageKey::Id(line.input_id),
                content: Content::Annotations(line.annotations),
            }),
            Err(e) => {
                let mut problem = place.error(e.to_string());
                problem.diagnostic = Diagnostic::error("", e.to_string()).at(Location {
                    line: number,
                    column: e.column().max(1) as u32,
                });
                problems.push(problem);
            }
        }
    }
    if problems.is_empty() {
        Ok(reads)
    } else {
        Err(invalid(problems))
    }
}
