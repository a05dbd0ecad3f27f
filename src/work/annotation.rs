//! The Annotation document as work files and the API carry it (`id`, `input_id`, `data` with
//! concepts and regions, `annotation_info`), its checks against a task, and when two workers'
//! annotations agree (consensus). Pure: must not do I/O.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::validate::Diagnostic;

/// An annotation as posted: the fields annotask reads; the API's derived fields (`task_id`,
/// `worker`, `status`, times) are added when it is answered, never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub input_id: String,
    #[serde(default, skip_serializing_if = "Data::is_empty")]
    pub data: Data,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_info: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Data {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub concepts: Vec<Concept>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<Region>,
}

impl Data {
    pub fn is_empty(&self) -> bool {
        self.concepts.is_empty() && self.regions.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concept {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// 1 present, 0 absent; 1 when not given.
    #[serde(default = "one")]
    pub value: f32,
}

fn one() -> f32 {
    1.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_info: Option<RegionInfo>,
    #[serde(default, skip_serializing_if = "Data::is_empty")]
    pub data: Data,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounding_box: Option<BoundingBox>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polygon: Option<Polygon>,
}

/// Relative coordinates, 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox {
    pub top_row: f32,
    pub left_col: f32,
    pub bottom_row: f32,
    pub right_col: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Polygon {
    pub points: Vec<Point>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub row: f32,
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
        todo!()
    }
}

/// Checks a posted annotation against its task: an id and input id that follow the id rules,
/// classification concepts from the task's `concept_ids`, detection regions with a bounding
/// box or a polygon (coordinates in 0..=1) whose concepts are the task's. `field` names it in
/// the request (`annotations[2]`), and each diagnostic's field starts with it.
pub fn check(annotation: &Annotation, task: &crate::model::Task, field: &str) -> Vec<Diagnostic> {
    todo!()
}

/// Whether two workers' annotations on one input agree (see notes/WORK.md, Consensus).
pub fn agree(kind: Kind, a: &[&Annotation], b: &[&Annotation]) -> bool {
    todo!()
}
