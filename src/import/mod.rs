//! `import`: other tools' labels and models' predictions into a person's work. Reads COCO
//! (a dataset file, or a results file of `{image_id, category_id, bbox, score}`), a YOLO labels
//! folder and the export's own JSON lines (`coco.rs`, `yolo.rs`, `jsonl.rs`, each raw text into
//! [`Read`]s with their places), matches each image to one input of the task (by input id,
//! url, file name or stem), turns boxes into the task's relative coordinates, and hands the
//! annotations to [`Repo::import_annotations`], which checks and appends them. Every problem
//! is located in the file; nothing is appended unless everything is right.

mod coco;
mod jsonl;
mod yolo;

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::export::{self, image_of};
use crate::repo::{Imported, Repo};
use crate::validate::{Diagnostic, Location, Report, did_you_mean};
use crate::work::Annotation;
use crate::work::annotation::{BoundingBox, Concept, Data, Point, Polygon, Region, RegionInfo};

/// The formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Coco,
    Yolo,
    Jsonl,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Coco => "coco",
            Format::Yolo => "yolo",
            Format::Jsonl => "jsonl",
        }
    }

    fn export_format(self) -> export::Format {
        match self {
            Format::Coco => export::Format::Coco,
            Format::Yolo => export::Format::Yolo,
            Format::Jsonl => export::Format::Jsonl,
        }
    }
}

/// Where something was read: a file, and a field path in it or a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub file: String,
    pub field: String,
    pub line: Option<u32>,
}

impl Place {
    fn error(&self, message: impl Into<String>) -> Problem {
        let mut d = Diagnostic::error(self.field.clone(), message);
        if let Some(line) = self.line {
            d = d.at(Location { line, column: 1 });
        }
        Problem {
            file: self.file.clone(),
            diagnostic: d,
        }
    }
}

/// A located problem of an import.
#[derive(Debug, Clone)]
pub struct Problem {
    pub file: String,
    pub diagnostic: Diagnostic,
}

impl Problem {
    fn hint(mut self, hint: impl Into<String>) -> Problem {
        self.diagnostic = self.diagnostic.hint(hint);
        self
    }
}

/// Which image something is about.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageKey {
    /// An input id, as the export's own files name it.
    Id(String),
    /// A file name, path or URL (or a YOLO label's stem).
    Name(String),
}

/// What was read about one image.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// A region in pixels: `[x, y, width, height]`, maybe a polygon `[x1, y1, ...]`; the
    /// image's size when the file states it.
    Pixels {
        concept: String,
        bbox: [f64; 4],
        polygon: Option<Vec<f64>>,
        size: Option<(u32, u32)>,
        score: Option<f64>,
    },
    /// A box in relative coordinates: centre, width and height (YOLO).
    Relative {
        concept: String,
        centre_width_height: [f64; 4],
        score: Option<f64>,
    },
    /// Whole annotations (the export's JSON lines).
    Annotations(Vec<Annotation>),
}

/// One thing an import file says.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub place: Place,
    pub image: ImageKey,
    pub content: Content,
}

/// Reads `path` in `format` and appends what it says to `user`'s work on task `task_id`.
pub fn run(
    repo: &mut Repo,
    task_id: &str,
    format: Format,
    path: &Path,
    user: &str,
) -> Result<Imported> {
    let task = export::task_for(repo, task_id, format.export_format())?;
    let concepts = task.doc().concept_ids.clone();
    let name = path.display().to_string();
    // The file is read on another core while the task's inputs are read from the index.
    let (reads, inputs) = std::thread::scope(|scope| {
        let reads = scope.spawn(|| match format {
            Format::Coco => coco::read(path, &name, &concepts),
            Format::Yolo => yolo::read(path, &concepts),
            Format::Jsonl => jsonl::read(path, &name),
        });
        let inputs = repo.source_inputs(&task, |_| true);
        let reads = reads.join().expect("reading an import file never panics");
        (reads, inputs)
    });
    let (reads, inputs) = (reads?, inputs?);
    let annotations = annotations_of(reads, &inputs, &concepts, task_id, repo.root())?;
    // The inputs, and all that was read, go before the annotations are written and synced.
    drop(inputs);
    repo.import_annotations(user, task_id, &name, annotations)
}

/// What `reads` say, as annotations on the task's `inputs` (each with where it was read), or
/// every problem.
fn annotations_of(
    reads: Vec<Read>,
    inputs: &[(String, Box<RawValue>)],
    concepts: &[String],
    task_id: &str,
    root: &Path,
) -> Result<Vec<(String, Annotation)>> {
    let matcher = Matcher::new(inputs);
    let mut problems = Vec::new();
    let mut regions: BTreeMap<&str, (Place, Vec<Region>)> = BTreeMap::new();
    let mut whole = Vec::new();
    for read in reads {
        let input = match matcher.find(&read.image) {
            Ok(input) => input,
            Err(message) => {
                problems.push(read.place.error(message));
                continue;
            }
        };
        match read.content {
            Content::Annotations(annotations) => {
                for (i, mut annotation) in annotations.into_iter().enumerate() {
                    let place = format!("{}.annotations[{i}]", read.place.field);
                    if annotation.input_id.is_empty() {
                        annotation.input_id = input.id.to_owned();
                    } else if annotation.input_id != input.id {
                        problems.push(read.place.error(format!(
                            "annotation `{}` is on input `{}`, not on this line's `{}`",
                            annotation.id, annotation.input_id, input.id
                        )));
                        continue;
                    }
                    let at = match read.place.line {
                        Some(line) => format!("line {line}: {place}"),
                        None => place,
                    };
                    whole.push((at, annotation));
                }
            }
            content => {
                let known = concepts.iter().map(String::as_str);
                let concept = match &content {
                    Content::Pixels { concept, .. } | Content::Relative { concept, .. } => concept,
                    Content::Annotations(_) => unreachable!("handled above"),
                };
                if !concepts.contains(concept) {
                    let mut p = read.place.error(format!(
                        "`{concept}` is not one of task `{task_id}`'s concepts"
                    ));
                    if let Some(near) = did_you_mean(concept, known) {
                        p = p.hint(format!("did you mean `{near}`?"));
                    } else {
                        p = p.hint(format!("the task's concepts: {}", concepts.join(", ")));
                    }
                    problems.push(p);
                    continue;
                }
                match region_of(&content, &input, root) {
                    Ok(region) => {
                        regions
                            .entry(input.id)
                            .or_insert_with(|| (read.place, Vec::new()))
                            .1
                            .push(region);
                    }
                    Err(message) => problems.push(read.place.error(message)),
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let mut annotations = whole;
    for (input, (place, regions)) in regions {
        let at = match place.line {
            Some(line) => format!("{}:{line}", place.file),
            None => place.field,
        };
        annotations.push((
            at,
            Annotation {
                id: import_id(input),
                input_id: input.to_owned(),
                data: Data {
                    concepts: Vec::new(),
                    regions,
                },
                annotation_info: None,
            },
        ));
    }
    Ok(annotations)
}

/// The id of the annotation an import makes on an input: the same for every import, so that
/// importing again replaces it, and an identical one is not appended again.
fn import_id(input: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in input.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("import-{hash:016x}")
}

fn invalid(problems: Vec<Problem>) -> Error {
    let mut reports: Vec<Report> = Vec::new();
    for problem in problems {
        match reports.iter_mut().find(|r| r.file == problem.file) {
            Some(report) => report.diagnostics.push(problem.diagnostic),
            None => reports.push(Report {
                file: problem.file,
                diagnostics: vec![problem.diagnostic],
            }),
        }
    }
    Error::Invalid(reports)
}

/// An input an import matched, with its dataset line (where the export finds its image).
struct Input<'a> {
    id: &'a str,
    json: &'a RawValue,
}

/// Finds inputs by id, url, file name and file stem. Files that name inputs by id (as the
/// export's own do) need no more: the maps by name are built at the first name looked up.
struct Matcher<'a> {
    inputs: &'a [(String, Box<RawValue>)],
    ids: HashMap<&'a str, &'a RawValue>,
    names: OnceCell<Names<'a>>,
}

/// The inputs by url, file name and file stem.
#[derive(Default)]
struct Names<'a> {
    by_url: HashMap<String, Vec<&'a str>>,
    by_name: HashMap<String, Vec<&'a str>>,
    by_stem: HashMap<String, Vec<&'a str>>,
}

/// The file name of a path or URL, without a query.
fn file_name(path: &str) -> &str {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn stem(name: &str) -> &str {
    match name.rfind('.') {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    }
}

impl<'a> Matcher<'a> {
    fn new(inputs: &'a [(String, Box<RawValue>)]) -> Matcher<'a> {
        Matcher {
            inputs,
            ids: inputs
                .iter()
                .map(|(id, json)| (id.as_str(), json.as_ref()))
                .collect(),
            names: OnceCell::new(),
        }
    }

    fn names(&self) -> &Names<'a> {
        self.names.get_or_init(|| {
            let mut names = Names::default();
            for (id, json) in self.inputs {
                let Some(url) = image_of(json).url else {
                    continue;
                };
                let name = file_name(&url).to_owned();
                names
                    .by_stem
                    .entry(stem(&name).to_owned())
                    .or_default()
                    .push(id);
                names.by_name.entry(name).or_default().push(id);
                names.by_url.entry(url).or_default().push(id);
            }
            names
        })
    }

    /// The one input an image names: by id, then url, then file name, then stem.
    fn find(&self, key: &ImageKey) -> Result<Input<'_>, String> {
        let one = |id: &'a str| Input {
            id,
            json: self.ids[id],
        };
        let name = match key {
            ImageKey::Id(id) => {
                return self
                    .ids
                    .get_key_value(id.as_str())
                    .map(|(id, _)| one(id))
                    .ok_or_else(|| format!("no input of the task has id `{id}`"));
            }
            ImageKey::Name(name) => name,
        };
        if let Some((id, _)) = self.ids.get_key_value(name.as_str()) {
            return Ok(one(id));
        }
        let base = file_name(name);
        let decide = |how: &str, found: &Vec<&'a str>| {
            let mut seen = HashSet::new();
            let distinct: Vec<&str> = found
                .iter()
                .copied()
                .filter(|id| seen.insert(*id))
                .collect();
            match distinct[..] {
                [id] => Ok(one(id)),
                _ => Err(format!(
                    "`{name}` matches {} inputs by {how}: {}; name the input by its id",
                    distinct.len(),
                    distinct.join(", ")
                )),
            }
        };
        let names = self.names();
        if let Some(found) = names.by_url.get(name.as_str()) {
            return decide("url", found);
        }
        if let Some(found) = names.by_name.get(base) {
            return decide("file name", found);
        }
        if let Some((id, _)) = self.ids.get_key_value(stem(base)) {
            return Ok(one(id));
        }
        if let Some(found) = names.by_stem.get(stem(base)) {
            return decide("file stem", found);
        }
        Err(format!(
            "`{name}` matches no input of the task (by id, url, file name or stem)"
        ))
    }
}

/// A region from a box read in pixels or relative coordinates. A score (a model's confidence)
/// is its concept's `value`, where the API keeps it and AI assist reads it; without one, 1.
fn region_of(content: &Content, input: &Input<'_>, root: &Path) -> Result<Region, String> {
    let (concept, score) = match content {
        Content::Pixels { concept, score, .. } | Content::Relative { concept, score, .. } => {
            (concept.clone(), *score)
        }
        Content::Annotations(_) => unreachable!("not a region"),
    };
    let value = match score {
        None => 1.0,
        Some(s) if s > 0.0 && s <= 1.0 => s as f32,
        Some(s) => {
            return Err(format!(
                "score {s} is not a confidence above 0 and at most 1 (it becomes the region's concept `value`)"
            ));
        }
    };
    let (bounds, polygon) = match content {
        Content::Pixels {
            bbox,
            polygon,
            size,
            ..
        } => {
            // The file's size, else the local image's, else the dataset line's.
            let known = || {
                let image = image_of(input.json);
                let local = image
                    .local
                    .as_ref()
                    .and_then(|l| export::size_of_file(&root.join(l)));
                local.or(image.size)
            };
            let Some((w, h)) = size.or_else(known) else {
                return Err(format!(
                    "the size of input `{}`'s image is unknown, so pixels cannot be placed: give the file's image its `width` and `height`",
                    input.id
                ));
            };
            let (w, h) = (f64::from(w), f64::from(h));
            let [x, y, bw, bh] = *bbox;
            let bounds = [x / w, y / h, (x + bw) / w, (y + bh) / h];
            let polygon = polygon.as_ref().map(|flat| {
                flat.chunks_exact(2)
                    .map(|p| (p[0] / w, p[1] / h))
                    .collect::<Vec<_>>()
            });
            (inside(bounds, bbox, (w, h))?, polygon)
        }
        Content::Relative {
            centre_width_height: [cx, cy, bw, bh],
            ..
        } => {
            let bounds = [cx - bw / 2.0, cy - bh / 2.0, cx + bw / 2.0, cy + bh / 2.0];
            (inside(bounds, &[*cx, *cy, *bw, *bh], (1.0, 1.0))?, None)
        }
        Content::Annotations(_) => unreachable!("not a region"),
    };
    let [left, top, right, bottom] = bounds;
    let region_info = match polygon {
        Some(points) => RegionInfo {
            bounding_box: None,
            polygon: Some(Polygon {
                points: points
                    .into_iter()
                    .map(|(col, row)| Point {
                        row: row.clamp(0.0, 1.0) as f32,
                        col: col.clamp(0.0, 1.0) as f32,
                    })
                    .collect(),
            }),
        },
        None => RegionInfo {
            bounding_box: Some(BoundingBox {
                top_row: top as f32,
                left_col: left as f32,
                bottom_row: bottom as f32,
                right_col: right as f32,
            }),
            polygon: None,
        },
    };
    Ok(Region {
        id: String::new(),
        region_info: Some(region_info),
        data: Data {
            concepts: vec![Concept {
                id: concept,
                name: None,
                value,
            }],
            regions: Vec::new(),
        },
    })
}

/// Relative bounds `[left, top, right, bottom]` inside the image, allowing half a pixel of
/// rounding (then clamped); else why not.
fn inside(bounds: [f64; 4], read: &[f64; 4], (w, h): (f64, f64)) -> Result<[f64; 4], String> {
    let slack = [0.5 / w, 0.5 / h, 0.5 / w, 0.5 / h];
    let [l, t, r, b] = bounds;
    let fits = bounds.iter().all(|v| v.is_finite())
        && bounds
            .iter()
            .zip(slack)
            .all(|(v, s)| *v >= -s && *v <= 1.0 + s)
        && r > l
        && b > t;
    if !fits {
        let shown: Vec<String> = read.iter().map(|v| v.to_string()).collect();
        return Err(if w == 1.0 {
            format!(
                "box [{}] lies outside the image (relative coordinates are 0 to 1, width and height above 0)",
                shown.join(", ")
            )
        } else {
            format!("box [{}] lies outside the {w}x{h} image", shown.join(", "))
        });
    }
    Ok([
        l.clamp(0.0, 1.0),
        t.clamp(0.0, 1.0),
        r.clamp(0.0, 1.0),
        b.clamp(0.0, 1.0),
    ])
}
