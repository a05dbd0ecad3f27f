//! The export's own JSON lines into [`Read`]s: each line's `input_id` and its `annotations`
//! (the API's Annotation JSON); the other fields (`url`, `how`, ...) are the export's account
//! and are not read back. Problems are placed at their line.

use std::path::Path;

use serde::Deserialize;

use super::coco::read_file;
use super::{Content, ImageKey, Place, Read, invalid};
use crate::error::Result;
use crate::validate::{Diagnostic, Location};
use crate::work::Annotation;

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
        match serde_json::from_slice::<Line>(text) {
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
