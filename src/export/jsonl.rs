//! JSON lines, for any task type: one line per input with its final label as the API's
//! Annotation JSON (`annotations`), whose it is (`worker`), who agreed (`agreed`: every worker
//! whose assignment succeeded), how it was decided (`how`, and `reviewer` when one approved
//! it; `assistant` when the task's assistant's prediction did, with the assistant as
//! `worker`) and whether it is final. `annotask import --format jsonl` reads it back. Pure.

use std::io::{self, Write};

use serde::Serialize;

use super::{Export, How};
use crate::work::Annotation;

#[derive(Serialize)]
pub struct Line<'a> {
    pub input_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<&'a str>,
    #[serde(rename = "final")]
    pub is_final: bool,
    pub how: How,
    pub worker: &'a str,
    pub agreed: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<&'a str>,
    pub annotations: &'a [Annotation],
}

pub fn write(export: &Export, out: &mut dyn Write) -> io::Result<()> {
    for item in &export.items {
        let line = Line {
            input_id: &item.input_id,
            url: item.image.url.as_deref(),
            is_final: item.how.is_final(),
            how: item.how,
            worker: &item.worker,
            agreed: &item.agreed,
            reviewer: item.reviewer.as_deref(),
            annotations: &item.annotations,
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
