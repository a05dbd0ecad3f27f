//! Inputs as the API answers them: the Input JSON their dataset files hold, read from the
//! place the index recorded. Must not parse a dataset whole or print.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde_json::value::RawValue;

use super::Repo;
use crate::error::Result;
use crate::files;
use crate::inputs;
use crate::layout::{self, Format};
use crate::store::InputText;

impl Repo {
    /// Inputs as the Input JSON their datasets hold ([`inputs::input_json`]), in the order of
    /// `ids`. An input whose file changed since the index read it (a watcher's batch behind)
    /// or that no dataset lists any more is its id alone.
    pub fn inputs_json(&self, ids: &[&str]) -> Result<Vec<Box<RawValue>>> {
        // A CSV header row longer than this is not a header anyone writes.
        const HEAD_BYTES: usize = 64 << 10;
        let mut heads: HashMap<String, Vec<u8>> = HashMap::new();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let found = self.index.input_text(id)?.and_then(|found| {
                let InputText { file, row, span } = found;
                let format = layout::format_of(&file)?;
                let bytes = files::read_span(&self.root, &file, span.0, span.1).ok()?;
                let text = inputs::text_of(&row, &bytes)?;
                let head = match format {
                    Format::Jsonl => &[][..],
                    Format::Csv => match heads.entry(file) {
                        Entry::Occupied(e) => e.into_mut().as_slice(),
                        Entry::Vacant(e) => {
                            let head = files::read_span(&self.root, e.key(), 0, HEAD_BYTES).ok()?;
                            e.insert(head).as_slice()
                        }
                    },
                };
                inputs::input_json(format, head, text, id)
            });
            let json = found.unwrap_or_else(|| {
                serde_json::value::to_raw_value(&serde_json::json!({ "id": id }))
                    .expect("an object of one string serialises")
            });
            out.push(json);
        }
        Ok(out)
    }
}
