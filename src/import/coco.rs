//! COCO into [`Read`]s: a dataset file (`images`, `categories`, `annotations`, as Label
//! Studio, CVAT and `annotask export` write it) or a results file (a list of `{image_id,
//! category_id, bbox, score}`, whose categories are the task's concepts in order, from 1).
//! Each problem names its field path, placed at its line by the caller's report.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use super::{Content, ImageKey, Place, Problem, Read, invalid};
use crate::error::{Error, Result};
use crate::validate::{Diagnostic, Location, Report};

/// The largest import file read.
const MAX_BYTES: u64 = 1 << 30;

/// A COCO dataset file: the keys an import reads, each list's items as typed as they can be
/// without making one bad item the whole file's error. Read into these rather than a
/// [`Value`] tree, a file of 300,000 boxes parses in a third of the time: the keys nobody
/// reads (`area`, `iscrowd`, `license`, ...) are skipped, not built.
#[derive(Deserialize)]
struct Dataset {
    #[serde(default)]
    images: Option<Vec<Image>>,
    #[serde(default)]
    categories: Option<Vec<Value>>,
    #[serde(default)]
    annotations: Option<Vec<Annotation>>,
}

/// An image's keys that an import reads, each as loosely typed as its checks need.
#[derive(Deserialize)]
#[serde(expecting = "a COCO image (an object)")]
struct Image {
    #[serde(default)]
    id: Key,
    #[serde(default)]
    annotask_input_id: Value,
    #[serde(default)]
    file_name: Value,
    #[serde(default)]
    width: Value,
    #[serde(default)]
    height: Value,
}

/// An annotation's (or a result's) keys that an import reads, each as loosely typed as its
/// checks need, so that a wrong one is refused at its field.
#[derive(Deserialize)]
#[serde(expecting = "a COCO annotation (an object)")]
struct Annotation {
    #[serde(default)]
    image_id: Key,
    #[serde(default)]
    category_id: Key,
    #[serde(default)]
    bbox: Numbers,
    #[serde(default)]
    segmentation: Value,
    #[serde(default)]
    score: Number,
}

/// An image or category id, numbers and strings alike, as its JSON text (a string's without
/// quotes); `None` for anything else. Read without building a [`Value`]: a file of 300,000
/// boxes names an image and a category in each.
#[derive(Default)]
struct Key(Option<String>);

/// A list of finite numbers (`None`: absent, or anything else), read without a [`Value`] for
/// each number.
#[derive(Default)]
struct Numbers(Option<Vec<f64>>);

/// A number that may be absent: [`Number::Other`] when it is there but is no finite number.
#[derive(Default)]
enum Number {
    #[default]
    Absent,
    Finite(f64),
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an id")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key(Some(v.to_owned())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
                Ok(Key(Some(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
                Ok(Key(Some(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
                // As the JSON number prints.
                Ok(Key(serde_json::Number::from_f64(v).map(|n| n.to_string())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Key, E> {
                Ok(Key(None))
            }
            fn visit_unit<E>(self) -> Result<Key, E> {
                Ok(Key(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Key, A::Error> {
                IgnoredAny.visit_seq(seq).map(|_| Key(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Key, A::Error> {
                IgnoredAny.visit_map(map).map(|_| Key(None))
            }
        }
        d.deserialize_any(Visit)
    }
}

impl Number {
    fn of(v: f64) -> Number {
        if v.is_finite() {
            Number::Finite(v)
        } else {
            Number::Other
        }
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Number, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Number;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Number, E> {
                Ok(Number::of(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Number, E> {
                Ok(Number::of(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Number, E> {
                Ok(Number::of(v as f64))
            }
            fn visit_unit<E>(self) -> Result<Number, E> {
                Ok(Number::Absent)
            }
            fn visit_str<E>(self, _: &str) -> Result<Number, E> {
                Ok(Number::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Number, E> {
                Ok(Number::Other)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Number, A::Error> {
                IgnoredAny.visit_seq(seq).map(|_| Number::Other)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Number, A::Error> {
                IgnoredAny.visit_map(map).map(|_| Number::Other)
            }
        }
        d.deserialize_any(Visit)
    }
}

impl<'de> Deserialize<'de> for Numbers {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Numbers, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Numbers;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of numbers")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Numbers, A::Error> {
                let mut numbers = Some(Vec::with_capacity(seq.size_hint().unwrap_or(4)));
                while let Some(n) = seq.next_element::<Number>()? {
                    match (&mut numbers, n) {
                        (Some(list), Number::Finite(n)) => list.push(n),
                        _ => numbers = None,
                    }
                }
                Ok(Numbers(numbers))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Numbers, A::Error> {
                IgnoredAny.visit_map(map).map(|_| Numbers(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Numbers, E> {
                Ok(Numbers(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Numbers, E> {
                Ok(Numbers(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Numbers, E> {
                Ok(Numbers(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Numbers, E> {
                Ok(Numbers(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Numbers, E> {
                Ok(Numbers(None))
            }
            fn visit_unit<E>(self) -> Result<Numbers, E> {
                Ok(Numbers(None))
            }
        }
        d.deserialize_any(Visit)
    }
}

pub fn read(path: &Path, name: &str, concepts: &[String]) -> Result<Vec<Read>> {
    let bytes = read_file(path)?;
    let not_json = |e: serde_json::Error| {
        let line = e.line() as u32;
        let column = e.column() as u32;
        let what = if e.is_data() { "not COCO" } else { "not JSON" };
        Error::Invalid(vec![Report {
            file: name.to_owned(),
            diagnostics: vec![Diagnostic::error("", format!("{what}: {e}")).at(Location {
                line: line.max(1),
                column: column.max(1),
            })],
        }])
    };
    let place = |field: String| Place {
        file: name.to_owned(),
        field,
        line: None,
    };
    let mut problems = Vec::new();
    let mut reads = Vec::new();
    let number = |v: &Value| v.as_f64().filter(|n| n.is_finite());
    // Image and category ids may be numbers or strings; compared as their JSON text.
    let key = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let (images, categories, annotations, results) = match bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
    {
        Some(b'[') => (
            None,
            None,
            serde_json::from_slice::<Vec<Annotation>>(&bytes).map_err(not_json)?,
            true,
        ),
        Some(b'{') => {
            let file: Dataset = serde_json::from_slice(&bytes).map_err(not_json)?;
            let Some(annotations) = file.annotations else {
                return Err(located(
                    place("annotations".into()),
                    "a COCO file has a list of `annotations` (or is a results list)",
                    &bytes,
                ));
            };
            (file.images, file.categories, annotations, false)
        }
        _ => {
            // Not JSON at all, or JSON that is neither: the parser or this says which.
            serde_json::from_slice::<Value>(&bytes).map_err(not_json)?;
            return Err(located(
                place(String::new()),
                "a COCO file is an object with `images`, `categories` and `annotations`, or a results list",
                &bytes,
            ));
        }
    };
    // Parsed, the file's text is needed again only to place problems: it is read again then
    // rather than held beside all that was read from it.
    drop(bytes);
    let mut image_of: HashMap<String, (ImageKey, Option<(u32, u32)>)> = HashMap::new();
    for (i, image) in images.into_iter().flatten().enumerate() {
        let at = format!("images[{i}]");
        let Some(id) = image.id.0 else {
            problems.push(place(format!("{at}.id")).error("an image needs an `id`"));
            continue;
        };
        let name = image
            .annotask_input_id
            .as_str()
            .map(|id| ImageKey::Id(id.to_owned()))
            .or_else(|| {
                image
                    .file_name
                    .as_str()
                    .map(|f| ImageKey::Name(f.to_owned()))
            });
        let Some(name) = name else {
            problems.push(place(format!("{at}.file_name")).error("an image needs a `file_name`"));
            continue;
        };
        let size = match (image.width.as_u64(), image.height.as_u64()) {
            (Some(w), Some(h)) if w > 0 && h > 0 => {
                u32::try_from(w).ok().zip(u32::try_from(h).ok())
            }
            _ => None,
        };
        image_of.insert(id, (name, size));
    }
    let mut category_of: HashMap<String, String> = HashMap::new();
    for (i, category) in categories.into_iter().flatten().enumerate() {
        match (key(&category["id"]), category["name"].as_str()) {
            (Some(id), Some(name)) => {
                category_of.insert(id, name.to_owned());
            }
            _ => problems.push(
                place(format!("categories[{i}]")).error("a category needs an `id` and a `name`"),
            ),
        }
    }
    if results {
        for (i, concept) in concepts.iter().enumerate() {
            category_of.insert((i + 1).to_string(), concept.clone());
        }
    }
    for (i, annotation) in annotations.into_iter().enumerate() {
        let at = |field: &str| place(format!("[{i}]{field}"));
        let at = |field: &str| {
            if results {
                at(field)
            } else {
                place(format!("annotations[{i}]{field}"))
            }
        };
        let Some(image_id) = &annotation.image_id.0 else {
            problems.push(at(".image_id").error("an annotation needs an `image_id`"));
            continue;
        };
        let (image, size) = match image_of.get(image_id) {
            Some((image, size)) => (image.clone(), *size),
            // A results file names images by what they are: an input id or a file name.
            None if results => (ImageKey::Name(image_id.clone()), None),
            None => {
                problems
                    .push(at(".image_id").error(format!("no image in `images` has id {image_id}")));
                continue;
            }
        };
        let Some(category) = &annotation.category_id.0 else {
            problems.push(at(".category_id").error("an annotation needs a `category_id`"));
            continue;
        };
        let Some(concept) = category_of.get(category) else {
            let hint = if results {
                format!(
                    "a results file's categories are the task's concepts in order, 1 to {}",
                    concepts.len()
                )
            } else {
                "add it to `categories`".to_owned()
            };
            problems.push(
                at(".category_id")
                    .error(format!("category {category} is not in `categories`"))
                    .hint(hint),
            );
            continue;
        };
        let Some(&[x, y, w, h]) = annotation.bbox.0.as_deref() else {
            problems
                .push(at(".bbox").error("`bbox` is 4 numbers: [x, y, width, height] in pixels"));
            continue;
        };
        let polygon = match &annotation.segmentation {
            Value::Null => None,
            Value::Array(parts) if parts.is_empty() => None,
            Value::Array(parts) => {
                let first: Option<Vec<f64>> = parts[0]
                    .as_array()
                    .and_then(|p| p.iter().map(number).collect());
                match first {
                    Some(points)
                        if points.len() >= 6 && points.len() % 2 == 0 && parts.len() == 1 =>
                    {
                        Some(points)
                    }
                    _ => {
                        problems.push(at(".segmentation").error(
                            "a segmentation is one polygon `[[x1, y1, x2, y2, ...]]` of at least 3 points",
                        ));
                        continue;
                    }
                }
            }
            _ => {
                problems.push(
                    at(".segmentation")
                        .error("run-length masks are not read: a region is a box or a polygon"),
                );
                continue;
            }
        };
        let score = match annotation.score {
            Number::Absent => None,
            Number::Finite(s) => Some(s),
            Number::Other => {
                problems.push(at(".score").error("`score` is a number"));
                continue;
            }
        };
        reads.push(Read {
            place: at(""),
            image,
            content: Content::Pixels {
                concept: concept.clone(),
                bbox: [x, y, w, h],
                polygon,
                size,
                score,
            },
        });
    }
    if problems.is_empty() {
        Ok(reads)
    } else {
        let bytes = read_file(path).unwrap_or_default();
        Err(invalid(problems).in_body(&bytes, name))
    }
}

fn located(place: Place, message: &str, bytes: &[u8]) -> Error {
    let file = place.file.clone();
    invalid(vec![place.error(message)]).in_body(bytes, &file)
}

/// Reads an import file whole, refusing one larger than a gigabyte.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(Error::io("open", path))?;
    // Sized once: grown as it is read, a large file was copied over and over.
    let size = file.metadata().map_or(0, |m| m.len().min(MAX_BYTES + 1));
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(Error::io("read", path))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(invalid(vec![Problem {
            file: path.display().to_string(),
            diagnostic: Diagnostic::error("", format!("larger than {MAX_BYTES} bytes")),
        }]));
    }
    Ok(bytes)
}
