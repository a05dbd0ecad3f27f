//! CSV for classification: a header row (`input_id`, `url`, then one column per concept of
//! the task, in the task's order; and `final` with `--include-pending`) and one row per input
//! whose cells hold each concept's value (1 present, 0 absent) or nothing when the label does
//! not mention it. RFC 4180 quoting. Pure.

use std::io::{self, Write};

use super::Export;

pub fn write(export: &Export, out: &mut dyn Write) -> io::Result<()> {
    let mut header: Vec<&str> = vec!["input_id", "url"];
    header.extend(export.concepts.iter().map(String::as_str));
    if export.include_pending {
        header.push("final");
    }
    row(out, header.iter().map(|s| s.to_string()))?;
    for item in &export.items {
        let mut cells = vec![
            item.input_id.clone(),
            item.image.url.clone().unwrap_or_default(),
        ];
        for concept in &export.concepts {
            let value = item
                .annotations
                .iter()
                .flat_map(|a| &a.data.concepts)
                .filter(|c| c.id == *concept)
                .map(|c| c.value)
                .reduce(f32::max);
            cells.push(value.map(|v| v.to_string()).unwrap_or_default());
        }
        if export.include_pending {
            cells.push(item.how.is_final().to_string());
        }
        row(out, cells.into_iter())?;
    }
    Ok(())
}

fn row(out: &mut dyn Write, cells: impl Iterator<Item = String>) -> io::Result<()> {
    let mut line = String::new();
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            line.push(',');
        }
        if cell.contains([',', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&cell.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&cell);
        }
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes())
}
