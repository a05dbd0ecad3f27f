//! A YOLO labels folder into [`Read`]s: `labels/<image stem>.txt` (or the `.txt` files of the
//! folder itself), a line `class cx cy w h [confidence]` each, normalised; the class names from
//! the folder's `data.yaml` (`names:` as a list or a map), else the task's concepts in order.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::coco::read_file;
use super::{Content, ImageKey, Place, Problem, Read, invalid};
use crate::error::{Error, Result};
use crate::validate::Diagnostic;

#[derive(Deserialize)]
struct DataYaml {
    names: Names,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Names {
    List(Vec<String>),
    Map(BTreeMap<u32, String>),
}

pub fn read(folder: &Path, concepts: &[String]) -> Result<Vec<Read>> {
    let labels = if folder.join("labels").is_dir() {
        folder.join("labels")
    } else {
        folder.to_path_buf()
    };
    let yaml = [
        folder.join("data.yaml"),
        labels.join("..").join("data.yaml"),
    ]
    .into_iter()
    .find(|p| p.is_file());
    let names: BTreeMap<u32, String> = match &yaml {
        Some(path) => {
            let bytes = read_file(path)?;
            let shown = path.display().to_string();
            let data: DataYaml = crate::yaml::parse_body(&bytes)
                .map_err(|d| Error::bad_body(&shown, d).in_body(&bytes, &shown))?;
            match data.names {
                Names::List(list) => (0..).zip(list).collect(),
                Names::Map(map) => map,
            }
        }
        None => (0..).zip(concepts.iter().cloned()).collect(),
    };
    let entries = std::fs::read_dir(&labels).map_err(Error::io("list", &labels))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(Error::io("list", &labels))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".txt") && !name.starts_with('.') && entry.path().is_file() {
            files.push(name);
        }
    }
    files.sort();
    let mut reads = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        let path = labels.join(&file);
        let shown = path.display().to_string();
        let bytes = read_file(&path)?;
        let Ok(text) = std::str::from_utf8(&bytes) else {
            problems.push(Problem {
                file: shown,
                diagnostic: Diagnostic::error("", "not UTF-8 text"),
            });
            continue;
        };
        let stem = file.trim_end_matches(".txt").to_owned();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let place = Place {
                file: shown.clone(),
                field: String::new(),
                line: Some(i as u32 + 1),
            };
            let fields: Vec<&str> = line.split_whitespace().collect();
            let numbers: Option<Vec<f64>> = fields[1..]
                .iter()
                .map(|f| f.parse::<f64>().ok().filter(|n| n.is_finite()))
                .collect();
            let class = fields[0].parse::<u32>().ok();
            let (Some(class), Some(numbers)) = (class, numbers) else {
                problems.push(place.error(
                    "a label line is `class cx cy w h [confidence]`: a class number, then numbers",
                ));
                continue;
            };
            if !(4..=5).contains(&numbers.len()) {
                problems.push(place.error(format!(
                    "a label line has 5 or 6 fields, not {} (segmentation labels are not read)",
                    fields.len()
                )));
                continue;
            }
            let Some(concept) = names.get(&class) else {
                problems.push(
                    place
                        .error(format!("class {class} has no name"))
                        .hint(match &yaml {
                            Some(path) => format!("{} names {} classes", path.display(), names.len()),
                            None => format!(
                                "without a data.yaml, classes are the task's concepts in order, 0 to {}",
                                concepts.len().saturating_sub(1)
                            ),
                        }),
                );
                continue;
            };
            reads.push(Read {
                place,
                image: ImageKey::Name(stem.clone()),
                content: Content::Relative {
                    concept: concept.clone(),
                    centre_width_height: [numbers[0], numbers[1], numbers[2], numbers[3]],
                    score: numbers.get(4).copied(),
                },
            });
        }
    }
    if problems.is_empty() {
        Ok(reads)
    } else {
        Err(invalid(problems))
    }
}
