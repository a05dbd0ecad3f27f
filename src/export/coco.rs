//! COCO: one JSON file (`info`, `licenses`, `categories`, `images`, `annotations`) as
//! `pycocotools` loads it. Categories are the task's concepts in the task's order (ids from 1,
//! named by concept id); images are the inputs in id order (ids from 1, `file_name` the
//! input's url or path); a region gives one annotation per present concept, `bbox`
//! `[x, y, width, height]` in pixels, and `segmentation` when it is a polygon. Pure.

use std::io::{self, Write};

use serde::Serialize;

use super::{Export, box_of, pixels, present};

#[derive(Serialize)]
struct Coco<'a> {
    info: Info<'a>,
    licenses: [(); 0],
    categories: Vec<Category<'a>>,
    images: Vec<Image<'a>>,
    annotations: Vec<Annotation>,
}

#[derive(Serialize)]
struct Info<'a> {
    description: String,
    contributor: &'a str,
    /// Whether every image's label is final; false with `--include-pending`.
    annotask_final_only: bool,
}

#[derive(Serialize)]
struct Category<'a> {
    id: usize,
    name: &'a str,
    supercategory: &'a str,
}

#[derive(Serialize)]
struct Image<'a> {
    id: usize,
    file_name: &'a str,
    width: u32,
    height: u32,
    annotask_input_id: &'a str,
    /// Only with `--include-pending`: whether this image's label is final.
    #[serde(skip_serializing_if = "Option::is_none")]
    annotask_final: Option<bool>,
}

#[derive(Serialize)]
struct Annotation {
    id: usize,
    image_id: usize,
    category_id: usize,
    bbox: [f64; 4],
    area: f64,
    iscrowd: u8,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    segmentation: Vec<Vec<f64>>,
}

pub fn write(export: &Export, out: &mut dyn Write) -> io::Result<()> {
    let classes = export.class_of();
    let mut coco = Coco {
        info: Info {
            description: format!("annotask export of task {}", export.task_id),
            contributor: "annotask",
            annotask_final_only: !export.include_pending,
        },
        licenses: [],
        categories: export
            .concepts
            .iter()
            .enumerate()
            .map(|(i, c)| Category {
                id: i + 1,
                name: c,
                supercategory: "",
            })
            .collect(),
        images: Vec::with_capacity(export.items.len()),
        annotations: Vec::new(),
    };
    for (i, item) in export.items.iter().enumerate() {
        let image_id = i + 1;
        // Without a size an item never gets here: the export refuses or leaves it out.
        let (width, height) = item.image.size.unwrap_or((0, 0));
        coco.images.push(Image {
            id: image_id,
            file_name: item.image.url.as_deref().unwrap_or(&item.input_id),
            width,
            height,
            annotask_input_id: &item.input_id,
            annotask_final: export.include_pending.then_some(item.how.is_final()),
        });
        let regions = item.annotations.iter().flat_map(|a| &a.data.regions);
        for region in regions {
            let Some((left, top, right, bottom)) = box_of(region) else {
                continue;
            };
            let x = pixels(left, width);
            let y = pixels(top, height);
            let w = round(pixels(right, width) - x);
            let h = round(pixels(bottom, height) - y);
            let polygon = region
                .region_info
                .as_ref()
                .and_then(|info| info.polygon.as_ref());
            let segmentation: Vec<Vec<f64>> = polygon
                .map(|p| {
                    vec![
                        p.points
                            .iter()
                            .flat_map(|pt| [pixels(pt.col, width), pixels(pt.row, height)])
                            .collect(),
                    ]
                })
                .unwrap_or_default();
            let area = match segmentation.first() {
                Some(points) => shoelace(points),
                None => round(w * h),
            };
            for concept in present(&region.data.concepts) {
                let Some(class) = classes.get(concept) else {
                    continue;
                };
                coco.annotations.push(Annotation {
                    id: coco.annotations.len() + 1,
                    image_id,
                    category_id: class + 1,
                    bbox: [x, y, w, h],
                    area,
                    iscrowd: 0,
                    segmentation: segmentation.clone(),
                });
            }
        }
    }
    serde_json::to_writer(&mut *out, &coco)?;
    out.write_all(b"\n")
}

fn round(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// A polygon's area from its flat `[x1, y1, x2, y2, ...]`.
fn shoelace(flat: &[f64]) -> f64 {
    let points: Vec<(f64, f64)> = flat.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    let twice: f64 = points
        .iter()
        .zip(points.iter().cycle().skip(1))
        .map(|(a, b)| a.0 * b.1 - b.0 * a.1)
        .sum();
    round(twice.abs() / 2.0)
}
