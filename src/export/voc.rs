//! Pascal VOC: `Annotations/<input id>.xml`, one file per image (its file name, url, size, and
//! an `object` with a `bndbox` in whole pixels, 0-based, per present concept of each region),
//! and `ImageSets/Main/default.txt` listing the input ids. Images are not copied. Pure.

use std::fmt::Write as _;
use std::io;

use super::{Export, Folder, box_of, present};

/// What the folder holds at its top.
pub const TOP: &[&str] = &["Annotations", "ImageSets"];

pub fn write(export: &Export, folder: &mut dyn Folder) -> io::Result<()> {
    let known = export.class_of();
    let mut list = String::new();
    for item in &export.items {
        let (width, height) = item.image.size.unwrap_or((0, 0));
        let id = &item.input_id;
        let file_name = match item.image.extension() {
            Some(ext) => format!("{id}{ext}"),
            None => id.clone(),
        };
        let mut xml = String::from("<annotation>\n");
        let _ = writeln!(xml, "  <folder>{}</folder>", escape(&export.task_id));
        let _ = writeln!(xml, "  <filename>{}</filename>", escape(&file_name));
        if let Some(url) = &item.image.url {
            let _ = writeln!(xml, "  <path>{}</path>", escape(url));
        }
        let state = if item.how.is_final() {
            "final"
        } else {
            "not final"
        };
        let _ = writeln!(
            xml,
            "  <source>\n    <database>annotask</database>\n    <annotation>{state}</annotation>\n  </source>"
        );
        let _ = writeln!(
            xml,
            "  <size>\n    <width>{width}</width>\n    <height>{height}</height>\n    <depth>3</depth>\n  </size>\n  <segmented>0</segmented>"
        );
        let regions = item.annotations.iter().flat_map(|a| &a.data.regions);
        for region in regions {
            let Some((left, top, right, bottom)) = box_of(region) else {
                continue;
            };
            let px = |v: f32, size: u32| (f64::from(v) * f64::from(size)).round() as i64;
            for concept in present(&region.data.concepts) {
                if !known.contains_key(concept) {
                    continue;
                }
                let _ = writeln!(
                    xml,
                    "  <object>\n    <name>{}</name>\n    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n    <difficult>0</difficult>\n    <bndbox>\n      <xmin>{}</xmin>\n      <ymin>{}</ymin>\n      <xmax>{}</xmax>\n      <ymax>{}</ymax>\n    </bndbox>\n  </object>",
                    escape(concept),
                    px(left, width),
                    px(top, height),
                    px(right, width),
                    px(bottom, height),
                );
            }
        }
        xml.push_str("</annotation>\n");
        folder.file(&format!("Annotations/{id}.xml"), xml.as_bytes())?;
        let _ = writeln!(list, "{id}");
    }
    folder.file("ImageSets/Main/default.txt", list.as_bytes())
}

/// Text as XML character data.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
