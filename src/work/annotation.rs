//! The Annotation document as work files and the API carry it (`id`, `input_id`, `data` with
//! concepts and regions, `annotation_info`), its checks against a task, and when two workers'
//! annotations agree (consensus). Pure: must not do I/O.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::TaskType;
use crate::validate::{Diagnostic, check_id};

/// An annotation as posted: the fields annotask reads; the API's derived fields (`task_id`,
/// `worker`, `status`, times) are added when it is answered, never stored. Every level refuses
/// a key no field reads (`"concept": "bird"`): serde would otherwise drop it without a word.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Annotation {
    /// The annotation's id, unique among its author's annotations on the task: a later
    /// annotation with the same id replaces it. Letters, digits, `-` and `_`.
    #[serde(default)]
    pub id: String,
    /// The input it labels.
    #[serde(default)]
    pub input_id: String,
    /// What it says: concepts (classification) or regions (detection).
    #[serde(default, skip_serializing_if = "Data::is_empty")]
    pub data: Data,
    /// Free-form JSON the author keeps with it (the API's Struct); annotask does not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_info: Option<Map<String, Value>>,
}

/// An annotation's (or a region's) content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Data {
    /// The concepts: of the whole input (classification) or of a region (detection); each
    /// one of the task's `concept_ids`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub concepts: Vec<Concept>,
    /// The regions of a detection task's annotation, each with a shape and its concepts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<Region>,
}

impl Data {
    pub fn is_empty(&self) -> bool {
        self.concepts.is_empty() && self.regions.is_empty()
    }
}

/// A concept on an input or a region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Concept {
    /// One of the task's `concept_ids`.
    pub id: String,
    /// Its display name; annotask does not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// 1 present, 0 absent; 1 when not given. An imported prediction's score.
    #[serde(default = "one")]
    #[schemars(range(min = 0, max = 1))]
    pub value: f32,
}

fn one() -> f32 {
    1.0
}

/// A region of a detection task's annotation: a shape and its concepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// The region's id, if its author gives one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Its shape: a bounding box or a polygon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_info: Option<RegionInfo>,
    /// Its concepts (`data.concepts`).
    #[serde(default, skip_serializing_if = "Data::is_empty")]
    pub data: Data,
}

/// A region's shape: `bounding_box` or `polygon`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionInfo {
    /// A box in fractions of the image, 0 to 1 (BOUNDING_BOX_DETECTION).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounding_box: Option<BoundingBox>,
    /// A polygon of at least 3 points in fractions of the image (POLYGON_DETECTION).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polygon: Option<Polygon>,
}

/// A box in fractions of the image's height (rows) and width (columns), 0 to 1; top above
/// bottom, left left of right.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoundingBox {
    /// The top edge, from the image's top.
    #[schemars(range(min = 0, max = 1))]
    pub top_row: f32,
    /// The left edge, from the image's left.
    #[schemars(range(min = 0, max = 1))]
    pub left_col: f32,
    /// The bottom edge, from the image's top.
    #[schemars(range(min = 0, max = 1))]
    pub bottom_row: f32,
    /// The right edge, from the image's left.
    #[schemars(range(min = 0, max = 1))]
    pub right_col: f32,
}

/// A polygon's corners, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Polygon {
    /// At least 3 points.
    #[schemars(length(min = 3))]
    pub points: Vec<Point>,
}

/// A point in fractions of the image, 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// From the image's top.
    #[schemars(range(min = 0, max = 1))]
    pub row: f32,
    /// From the image's left.
    #[schemars(range(min = 0, max = 1))]
    pub col: f32,
}

/// How a task's annotations are compared, from its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Classification,
    Detection,
    Other,
}

impl Kind {
    pub fn of(task: &crate::model::Task) -> Kind {
        match task.doc().task_type {
            Some(TaskType::CONCEPTS_CLASSIFICATION) => Kind::Classification,
            Some(TaskType::BOUNDING_BOX_DETECTION | TaskType::POLYGON_DETECTION) => Kind::Detection,
            _ => Kind::Other,
        }
    }
}

/// Checks a posted annotation against its task: an id and input id that follow the id rules,
/// classification concepts from the task's `concept_ids`, detection regions with a bounding
/// box or a polygon (coordinates in 0..=1) whose concepts are the task's. `field` names it in
/// the request (`annotations[2]`), and each diagnostic's field starts with it.
pub fn check(annotation: &Annotation, task: &crate::model::Task, field: &str) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for (name, id) in [("id", &annotation.id), ("input_id", &annotation.input_id)] {
        if let Err(e) = check_id(id) {
            found.push(Diagnostic::error(format!("{field}.{name}"), e));
        }
    }
    let allowed = &task.doc().concept_ids;
    let concepts = |concepts: &[Concept], at: &str, found: &mut Vec<Diagnostic>| {
        if concepts.is_empty() {
            found.push(
                Diagnostic::error(at, "at least one concept is needed")
                    .hint(format!("the task's concepts: {}", allowed.join(", "))),
            );
        }
        for (i, concept) in concepts.iter().enumerate() {
            if !allowed.contains(&concept.id) {
                found.push(
                    Diagnostic::error(
                        format!("{at}[{i}].id"),
                        format!(
                            "`{}` is not one of task `{}`'s concepts",
                            concept.id,
                            task.id()
                        ),
                    )
                    .hint(format!("the task's concepts: {}", allowed.join(", "))),
                );
            }
            if !(0.0..=1.0).contains(&concept.value) {
                found.push(Diagnostic::error(
                    format!("{at}[{i}].value"),
                    format!("{} is not a value from 0 to 1", concept.value),
                ));
            }
        }
    };
    let data = format!("{field}.data");
    match Kind::of(task) {
        Kind::Classification => {
            concepts(
                &annotation.data.concepts,
                &format!("{data}.concepts"),
                &mut found,
            );
            if !annotation.data.regions.is_empty() {
                found.push(Diagnostic::error(
                    format!("{data}.regions"),
                    "a classification task labels whole inputs: its annotations have no regions",
                ));
            }
        }
        Kind::Detection => {
            if annotation.data.regions.is_empty() {
                found.push(
                    Diagnostic::error(format!("{data}.regions"), "at least one region is needed")
                        .hint("a region has `region_info.bounding_box` or `region_info.polygon`, and `data.concepts`"),
                );
            }
            for (i, region) in annotation.data.regions.iter().enumerate() {
                let at = format!("{data}.regions[{i}]");
                if let Some(problem) = shape_problem(region.region_info.as_ref()) {
                    found.push(Diagnostic::error(format!("{at}.region_info"), problem).hint(
                        "coordinates are fractions of the image, 0 to 1: `bounding_box: {top_row, left_col, bottom_row, right_col}` or `polygon: {points: [{row, col}, ...]}`",
                    ));
                }
                concepts(
                    &region.data.concepts,
                    &format!("{at}.data.concepts"),
                    &mut found,
                );
            }
        }
        Kind::Other => {}
    }
    found
}

/// What is wrong with a region's shape, if anything.
fn shape_problem(info: Option<&RegionInfo>) -> Option<String> {
    let inside = |x: f32| (0.0..=1.0).contains(&x);
    match info {
        Some(RegionInfo {
            bounding_box: Some(b),
            ..
        }) => {
            if ![b.top_row, b.left_col, b.bottom_row, b.right_col]
                .into_iter()
                .all(inside)
            {
                Some("a bounding box's coordinates are from 0 to 1".into())
            } else if b.top_row >= b.bottom_row || b.left_col >= b.right_col {
                Some("a bounding box's top_row is above its bottom_row and its left_col left of its right_col".into())
            } else {
                None
            }
        }
        Some(RegionInfo {
            polygon: Some(p), ..
        }) => {
            if p.points.len() < 3 {
                Some("a polygon has at least 3 points".into())
            } else if !p.points.iter().all(|pt| inside(pt.row) && inside(pt.col)) {
                Some("a polygon's points are from 0 to 1".into())
            } else {
                None
            }
        }
        _ => Some("a region needs a bounding_box or a polygon".into()),
    }
}

/// Whether two workers' annotations on one input agree (consensus): classification the same
/// (concept, value) set; detection the same number of regions, matched one to one greedily by
/// IoU, each pair at least 0.5 with the same concepts; other types equal `data`.
pub fn agree(kind: Kind, a: &[&Annotation], b: &[&Annotation]) -> bool {
    match kind {
        Kind::Classification => concept_set(a) == concept_set(b),
        Kind::Detection => regions_match(&regions(a), &regions(b)),
        Kind::Other => data_set(a) == data_set(b),
    }
}

/// A value's bits, with -0 as 0, so that equal values compare equal.
fn value_bits(value: f32) -> u32 {
    (value + 0.0).to_bits()
}

fn concept_set<'a>(annotations: &[&'a Annotation]) -> BTreeSet<(&'a str, u32)> {
    annotations
        .iter()
        .flat_map(|a| &a.data.concepts)
        .map(|c| (c.id.as_str(), value_bits(c.value)))
        .collect()
}

fn data_set(annotations: &[&Annotation]) -> Vec<String> {
    let mut texts: Vec<String> = annotations
        .iter()
        .map(|a| serde_json::to_string(&a.data).expect("data serialises"))
        .collect();
    texts.sort_unstable();
    texts
}

/// A region as agreement compares it: its box (`[top, left, bottom, right]`; a polygon's
/// bounding box) and its concepts.
type Shape<'a> = ([f32; 4], BTreeSet<(&'a str, u32)>);

/// Each region's box and concepts.
fn regions<'a>(annotations: &[&'a Annotation]) -> Vec<Shape<'a>> {
    annotations
        .iter()
        .flat_map(|a| &a.data.regions)
        .map(|r| {
            let concepts = r
                .data
                .concepts
                .iter()
                .map(|c| (c.id.as_str(), value_bits(c.value)))
                .collect();
            (bounds(r.region_info.as_ref()), concepts)
        })
        .collect()
}

/// `[top, left, bottom, right]`.
fn bounds(info: Option<&RegionInfo>) -> [f32; 4] {
    match info {
        Some(RegionInfo {
            bounding_box: Some(b),
            ..
        }) => [b.top_row, b.left_col, b.bottom_row, b.right_col],
        Some(RegionInfo {
            polygon: Some(p), ..
        }) if !p.points.is_empty() => p.points.iter().fold(
            [f32::MAX, f32::MAX, f32::MIN, f32::MIN],
            |[t, l, b, r], pt| [t.min(pt.row), l.min(pt.col), b.max(pt.row), r.max(pt.col)],
        ),
        _ => [0.0; 4],
    }
}

fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let area = |[t, l, b, r]: [f32; 4]| (b - t).max(0.0) * (r - l).max(0.0);
    let inter = area([
        a[0].max(b[0]),
        a[1].max(b[1]),
        a[2].min(b[2]),
        a[3].min(b[3]),
    ]);
    let union = area(a) + area(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// The minimum overlap of two regions that agree.
const MIN_IOU: f32 = 0.5;

fn regions_match(a: &[Shape<'_>], b: &[Shape<'_>]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (i, (box_a, concepts_a)) in a.iter().enumerate() {
        for (j, (box_b, concepts_b)) in b.iter().enumerate() {
            let overlap = iou(*box_a, *box_b);
            if concepts_a == concepts_b && overlap >= MIN_IOU {
                pairs.push((overlap, i, j));
            }
        }
    }
    // Best overlap first; equal overlaps by position, so the matching is deterministic.
    pairs.sort_by(|x, y| y.0.total_cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
    let (mut used_a, mut used_b) = (vec![false; a.len()], vec![false; b.len()]);
    let mut matched = 0;
    for (_, i, j) in pairs {
        if !used_a[i] && !used_b[j] {
            used_a[i] = true;
            used_b[j] = true;
            matched += 1;
        }
    }
    matched == a.len()
}

/// The keys of an annotation's JSON that no field reads, each at its path (`{field}.data.concept`)
/// with a did-you-mean, for a carrier whose types cannot say where a key is (PostAnnotations
/// flattens an annotation beside its `task_id`) or that wants every such key at once.
/// `beside` are the carrier's own keys at the annotation's top level. `annotation_info` is the
/// API's free-form Struct and is not looked into.
pub fn unknown_keys(value: &Value, field: &str, beside: &[&str]) -> Vec<Diagnostic> {
    let shape = shape();
    let mut found = Vec::new();
    match value {
        Value::Object(map) if !beside.is_empty() => {
            let own: Map<String, Value> = map
                .iter()
                .filter(|(key, _)| !beside.contains(&key.as_str()))
                .map(|(key, inner)| (key.clone(), inner.clone()))
                .collect();
            walk(
                &Value::Object(own),
                shape,
                &shape["data"],
                field,
                &mut found,
            );
        }
        _ => walk(value, shape, &shape["data"], field, &mut found),
    }
    found
}

/// An annotation with every field set, as it serialises: the keys each level may hold, from
/// the types themselves rather than a list written twice.
fn shape() -> &'static Value {
    static SHAPE: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SHAPE.get_or_init(|| {
        let concept = Concept {
            id: "c".into(),
            name: Some("c".into()),
            value: 1.0,
        };
        let region = Region {
            id: "r".into(),
            region_info: Some(RegionInfo {
                bounding_box: Some(BoundingBox {
                    top_row: 0.0,
                    left_col: 0.0,
                    bottom_row: 1.0,
                    right_col: 1.0,
                }),
                polygon: Some(Polygon {
                    points: vec![Point { row: 0.0, col: 0.0 }],
                }),
            }),
            data: Data {
                concepts: vec![concept.clone()],
                regions: Vec::new(),
            },
        };
        let annotation = Annotation {
            id: "a".into(),
            input_id: "i".into(),
            data: Data {
                concepts: vec![concept],
                regions: vec![region],
            },
            annotation_info: Some(Map::new()),
        };
        serde_json::to_value(annotation).expect("an annotation serialises")
    })
}

/// Compares `value` with `shape` key by key; every `data` (a region's too) against `data`.
fn walk(value: &Value, shape: &Value, data: &Value, at: &str, found: &mut Vec<Diagnostic>) {
    match (value, shape) {
        (Value::Object(map), Value::Object(known)) if !known.is_empty() => {
            for (key, inner) in map {
                let path = format!("{at}.{key}");
                match known.get(key) {
                    Some(_) if key == "data" => walk(inner, data, data, &path, found),
                    Some(shape) => walk(inner, shape, data, &path, found),
                    None => {
                        let names = known.keys().map(String::as_str);
                        let hint = match crate::validate::did_you_mean(key, names.clone()) {
                            Some(name) => format!("did you mean `{name}`?"),
                            None => {
                                format!("the keys here: {}", names.collect::<Vec<_>>().join(", "))
                            }
                        };
                        found.push(
                            Diagnostic::error(path, format!("unknown key `{key}`")).hint(hint),
                        );
                    }
                }
            }
        }
        (Value::Array(items), Value::Array(shapes)) => {
            if let Some(shape) = shapes.first() {
                for (i, item) in items.iter().enumerate() {
                    walk(item, shape, data, &format!("{at}[{i}]"), found);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotation(json: serde_json::Value) -> Annotation {
        serde_json::from_value(json).unwrap()
    }

    fn task(yaml: &str) -> crate::model::Task {
        let doc = crate::yaml::parse_task(yaml.as_bytes()).unwrap();
        crate::validate::validate(doc, Some("t")).0.unwrap()
    }

    const CLASSIFY: &str = "type: CONCEPTS_CLASSIFICATION\nconcept_ids: [cat, dog]\ninput_source: {type: ALL_INPUTS}\n";
    const DETECT: &str =
        "type: BOUNDING_BOX_DETECTION\nconcept_ids: [car]\ninput_source: {type: ALL_INPUTS}\n";

    /// The fields `check` finds fault with, in order.
    #[track_caller]
    fn faults(task_yaml: &str, data: serde_json::Value, expected: &[&str]) {
        let a = annotation(serde_json::json!({"id": "a1", "input_id": "in-1", "data": data}));
        let found: Vec<String> = check(&a, &task(task_yaml), "annotations[0]")
            .into_iter()
            .map(|d| d.field)
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn checks() {
        use serde_json::json;
        faults(CLASSIFY, json!({"concepts": [{"id": "cat"}]}), &[]);
        faults(CLASSIFY, json!({}), &["annotations[0].data.concepts"]);
        faults(
            CLASSIFY,
            json!({"concepts": [{"id": "owl"}]}),
            &["annotations[0].data.concepts[0].id"],
        );
        faults(
            CLASSIFY,
            json!({"concepts": [{"id": "cat", "value": 2}]}),
            &["annotations[0].data.concepts[0].value"],
        );
        faults(
            CLASSIFY,
            json!({"concepts": [{"id": "cat"}], "regions": [{}]}),
            &["annotations[0].data.regions"],
        );
        let region = |info: serde_json::Value, concept: &str| json!({"regions": [{"region_info": info, "data": {"concepts": [{"id": concept}]}}]});
        let boxed = |t: f32, l: f32, b: f32, r: f32| json!({"bounding_box": {"top_row": t, "left_col": l, "bottom_row": b, "right_col": r}});
        faults(DETECT, region(boxed(0.1, 0.1, 0.5, 0.5), "car"), &[]);
        faults(
            DETECT,
            region(boxed(0.5, 0.1, 0.1, 0.5), "car"),
            &["annotations[0].data.regions[0].region_info"],
        );
        faults(
            DETECT,
            region(boxed(0.1, 0.1, 1.5, 0.5), "car"),
            &["annotations[0].data.regions[0].region_info"],
        );
        faults(
            DETECT,
            region(json!({}), "car"),
            &["annotations[0].data.regions[0].region_info"],
        );
        faults(
            DETECT,
            region(boxed(0.1, 0.1, 0.5, 0.5), "cat"),
            &["annotations[0].data.regions[0].data.concepts[0].id"],
        );
        let polygon = |points: usize| json!({"polygon": {"points": (0..points).map(|i| json!({"row": 0.1 * i as f32, "col": 0.2})).collect::<Vec<_>>()}});
        faults(DETECT, region(polygon(3), "car"), &[]);
        faults(
            DETECT,
            region(polygon(2), "car"),
            &["annotations[0].data.regions[0].region_info"],
        );
        faults(DETECT, json!({}), &["annotations[0].data.regions"]);
        let bad_id =
            annotation(json!({"id": "a 1", "input_id": "", "data": {"concepts": [{"id": "cat"}]}}));
        let found: Vec<String> = check(&bad_id, &task(CLASSIFY), "a")
            .into_iter()
            .map(|d| d.field)
            .collect();
        assert_eq!(found, ["a.id", "a.input_id"]);
    }

    #[track_caller]
    fn agreeing(kind: Kind, a: serde_json::Value, b: serde_json::Value, expected: bool) {
        let (a, b) = (
            annotation(serde_json::json!({"id": "a", "input_id": "i", "data": a})),
            annotation(serde_json::json!({"id": "b", "input_id": "i", "data": b})),
        );
        assert_eq!(agree(kind, &[&a], &[&b]), expected);
        assert_eq!(
            agree(kind, &[&b], &[&a]),
            expected,
            "agreement is symmetric"
        );
    }

    #[test]
    fn agreement() {
        use serde_json::json;
        let c = |concepts: &[(&str, f32)]| json!({"concepts": concepts.iter().map(|(id, v)| json!({"id": id, "value": v})).collect::<Vec<_>>()});
        agreeing(
            Kind::Classification,
            c(&[("cat", 1.0)]),
            c(&[("cat", 1.0)]),
            true,
        );
        agreeing(
            Kind::Classification,
            c(&[("cat", 1.0), ("dog", 0.0)]),
            c(&[("dog", 0.0), ("cat", 1.0)]),
            true,
        );
        agreeing(
            Kind::Classification,
            c(&[("cat", 1.0)]),
            c(&[("cat", 0.0)]),
            false,
        );
        agreeing(
            Kind::Classification,
            c(&[("cat", 1.0)]),
            c(&[("cat", 1.0), ("dog", 1.0)]),
            false,
        );
        let boxes = |list: &[([f32; 4], &str)]| {
            json!({"regions": list.iter().map(|(b, c)| json!({
            "region_info": {"bounding_box": {"top_row": b[0], "left_col": b[1], "bottom_row": b[2], "right_col": b[3]}},
            "data": {"concepts": [{"id": c}]}})).collect::<Vec<_>>()})
        };
        let unit = [0.0, 0.0, 0.4, 0.4];
        // IoU of [0, 0, 0.4, 0.4] with [0, 0, 0.4, w]: 0.4w/0.16 when w <= 0.4.
        agreeing(
            Kind::Detection,
            boxes(&[(unit, "car")]),
            boxes(&[([0.0, 0.0, 0.4, 0.204], "car")]),
            true,
        );
        agreeing(
            Kind::Detection,
            boxes(&[(unit, "car")]),
            boxes(&[([0.0, 0.0, 0.4, 0.196], "car")]),
            false,
        );
        agreeing(
            Kind::Detection,
            boxes(&[(unit, "car")]),
            boxes(&[(unit, "bus")]),
            false,
        );
        let far = [0.6, 0.6, 1.0, 1.0];
        agreeing(
            Kind::Detection,
            boxes(&[(unit, "car"), (far, "car")]),
            boxes(&[(far, "car"), (unit, "car")]),
            true,
        );
        agreeing(
            Kind::Detection,
            boxes(&[(unit, "car"), (far, "car")]),
            boxes(&[(unit, "car")]),
            false,
        );
        agreeing(
            Kind::Detection,
            boxes(&[(unit, "car"), (unit, "car")]),
            boxes(&[(unit, "car"), (far, "car")]),
            false,
        );
        let polygon = json!({"regions": [{"region_info": {"polygon": {"points": [
            {"row": 0.0, "col": 0.0}, {"row": 0.4, "col": 0.0}, {"row": 0.4, "col": 0.4}, {"row": 0.0, "col": 0.4}]}},
            "data": {"concepts": [{"id": "car"}]}}]});
        agreeing(Kind::Detection, polygon, boxes(&[(unit, "car")]), true);
        agreeing(
            Kind::Other,
            json!({"concepts": [{"id": "x"}]}),
            json!({"concepts": [{"id": "x"}]}),
            true,
        );
    }
}
