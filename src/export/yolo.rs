//! YOLO, in the layout Ultralytics trains from: `data.yaml` (the classes, `train` and `val`
//! both `images`), `images/<input id><ext>` (the project's local images, hard-linked where
//! the file system allows, else copied; remote images are listed in `remote_images.txt`, not
//! downloaded) and `labels/<input id>.txt`, a line `class cx cy w h` (normalised to 0..1)
//! per present concept of each region. An input with no region gets an empty label file, a
//! background image. Pure: the images go through the [`Folder`].

use std::fmt::Write as _;
use std::io;

use super::{Export, Folder, box_of, present};

/// What the folder holds at its top.
pub const TOP: &[&str] = &[
    "data.yaml",
    "images",
    "labels",
    "remote_images.txt",
    "pending.txt",
];

pub fn write(export: &Export, folder: &mut dyn Folder) -> io::Result<()> {
    let classes = export.class_of();
    let mut remote = String::new();
    let mut pending = String::new();
    for item in &export.items {
        let mut label = String::new();
        let regions = item.annotations.iter().flat_map(|a| &a.data.regions);
        for region in regions {
            let Some((left, top, right, bottom)) = box_of(region) else {
                continue;
            };
            for concept in present(&region.data.concepts) {
                let Some(class) = classes.get(concept) else {
                    continue;
                };
                let (cx, cy) = ((left + right) / 2.0, (top + bottom) / 2.0);
                let (w, h) = (right - left, bottom - top);
                let _ = writeln!(label, "{class} {cx:.6} {cy:.6} {w:.6} {h:.6}");
            }
        }
        let id = &item.input_id;
        folder.file(&format!("labels/{id}.txt"), label.as_bytes())?;
        let ext = item.image.extension().unwrap_or(".jpg");
        match (&item.image.local, &item.image.url) {
            (Some(local), _) => folder.image(&format!("images/{id}{ext}"), local)?,
            (None, Some(url)) => {
                let _ = writeln!(remote, "images/{id}{ext}\t{url}");
            }
            (None, None) => {}
        }
        if !item.how.is_final() {
            let _ = writeln!(pending, "{id}");
        }
    }
    let mut yaml = format!("# annotask export of task {}\n", export.task_id);
    if export.include_pending {
        yaml.push_str("# includes labels that are not final yet: see pending.txt\n");
    }
    if !remote.is_empty() {
        yaml.push_str(
            "# remote images are not downloaded: remote_images.txt says where each goes\n",
        );
    }
    yaml.push_str("train: images\nval: images\n");
    let _ = writeln!(yaml, "nc: {}\nnames:", export.concepts.len());
    for (i, concept) in export.concepts.iter().enumerate() {
        let quoted = serde_json::to_string(concept).map_err(io::Error::other)?;
        let _ = writeln!(yaml, "  {i}: {quoted}");
    }
    folder.file("data.yaml", yaml.as_bytes())?;
    if !remote.is_empty() {
        folder.file("remote_images.txt", remote.as_bytes())?;
    }
    if export.include_pending {
        folder.file("pending.txt", pending.as_bytes())?;
    }
    Ok(())
}
