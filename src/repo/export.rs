//! The reads an export needs beyond the index's rows: the Input JSON of the inputs a task's
//! source selects, each dataset file read once. Must not decide which label is final or how
//! it is written: [`crate::export`] does.

use serde_json::value::RawValue;

use super::Repo;
use crate::error::{Error, Result};
use crate::files;
use crate::inputs::{self, MAX_DATASET_BYTES};
use crate::layout;
use crate::model::Task;
use crate::plans::Source;
use crate::store::WorkRow;

impl Repo {
    /// Visits every input of a task that has work, with what its replay derived, in input id
    /// order.
    pub fn each_work_row(&self, task_id: &str, visit: impl FnMut(WorkRow)) -> Result<()> {
        Ok(self.index.each_work_row(task_id, visit)?)
    }

    /// Calls `want` with the id of every input `task`'s source selects (each once), and
    /// returns the Input JSON of those it wanted, in id order. A wanted input whose line is not
    /// its own any more (the file changed since the index read it) is its id alone, as
    /// [`Repo::inputs_json`] answers it.
    pub fn source_inputs(
        &self,
        task: &Task,
        mut want: impl FnMut(&str) -> bool,
    ) -> Result<Vec<(String, Box<RawValue>)>> {
        let places = self.index.source_places(&Source::of(task))?;
        let mut found = Vec::new();
        for place in &places {
            let wanted: Vec<_> = place.rows.iter().filter(|row| want(&row.id)).collect();
            if wanted.is_empty() {
                continue;
            }
            let Some(format) = layout::format_of(&place.file) else {
                continue;
            };
            let bytes = files::read_up_to(&self.root, &place.file, None, MAX_DATASET_BYTES)
                .map_err(Error::io("read", self.root.join(&place.file)))?;
            // Every line's start, found once: seeking each input through its block counted
            // up to 255 lines an input.
            let mut starts = vec![0];
            starts.extend(
                bytes
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\n')
                    .map(|(i, _)| i + 1),
            );
            for row in wanted {
                let start = starts.get(row.line.saturating_sub(1) as usize).copied();
                let json = start
                    .and_then(|start| bytes.get(start..start + row.len as usize))
                    .and_then(|text| inputs::input_json(format, &bytes, text, &row.id));
                let json = json.unwrap_or_else(|| {
                    serde_json::value::to_raw_value(&serde_json::json!({ "id": row.id }))
                        .expect("an object of one string serialises")
                });
                found.push((row.id.clone(), json));
            }
        }
        if places.len() > 1 {
            found.sort_by(|a, b| a.0.cmp(&b.0));
        }
        Ok(found)
    }
}
