//! An image's size from its file's header: the only module that knows `imagesize`, which
//! reads the first bytes of the file, never decodes it.

use std::path::Path;

/// Width and height in pixels; `None` when the file cannot be read or is no image it knows.
pub fn of_file(path: &Path) -> Option<(u32, u32)> {
    let size = imagesize::size(path).ok()?;
    let w = u32::try_from(size.width).ok().filter(|w| *w > 0)?;
    let h = u32::try_from(size.height).ok().filter(|h| *h > 0)?;
    Some((w, h))
}
