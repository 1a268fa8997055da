//! `_mcq/manifest.json`: the single source of truth for which files make up
//! the lake. Readers trust only the files it lists; writers replace it by
//! rename, last, so a reader always sees one consistent version.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lake::schema::Table;

/// The version of the lake layout this build writes and reads.
pub const LAKE_VERSION: u32 = 1;

/// The default tensor size (rows × columns) of a new lake.
pub const DEFAULT_TENSOR_SHAPE: (usize, usize) = (1024, 512);

/// The manifest of a lake.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub lake_version: u32,
    /// Increases by one with every commit.
    pub generation: u64,
    /// The id of the commit that wrote this manifest.
    pub commit_id: String,
    /// Schema version of each table, from `schemas/*.json`.
    pub schema_versions: BTreeMap<String, u32>,
    /// Tensor size `[H, W]` of `images.tensor`, fixed by the first ingest.
    pub tensor_shape: [usize; 2],
    /// Per table, the data files that make it up.
    pub tables: BTreeMap<String, Vec<FileEntry>>,
    /// Per dataset, where it comes from.
    pub datasets: BTreeMap<String, DatasetInfo>,
    /// Every ingest run that shaped the current lake, oldest first.
    pub runs: Vec<IngestRun>,
}

/// One Parquet data file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// Path relative to the lake root, `/`-separated.
    pub path: String,
    pub dataset: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// Provenance of a dataset in the lake.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DatasetInfo {
    pub source_doi: Option<String>,
    pub license: Option<String>,
    pub version: Option<String>,
    /// Made by `mcq synth`, not a real download.
    pub synthetic: bool,
}

/// One ingest run (or merge) that wrote a dataset's partition.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IngestRun {
    pub dataset: String,
    pub command: String,
    pub tool_version: String,
    pub started_at: String,
    pub finished_at: String,
    /// The options in force (every QC choice included).
    pub options: serde_json::Value,
    /// A fingerprint of the inputs (metadata files' names, sizes, hashes).
    pub input_fingerprint: Option<String>,
    /// Milliseconds per stage.
    pub timings_ms: BTreeMap<String, u64>,
    /// Rows written per table.
    pub rows: BTreeMap<String, u64>,
    pub synthetic: bool,
}

impl Manifest {
    /// An empty lake with the given tensor size.
    pub fn empty(tensor_shape: (usize, usize)) -> Manifest {
        Manifest {
            lake_version: LAKE_VERSION,
            generation: 0,
            commit_id: String::new(),
            schema_versions: Table::ALL
                .iter()
                .map(|t| (t.name().to_string(), t.schema().version))
                .collect(),
            tensor_shape: [tensor_shape.0, tensor_shape.1],
            tables: Table::ALL
                .iter()
                .map(|t| (t.name().to_string(), Vec::new()))
                .collect(),
            datasets: BTreeMap::new(),
            runs: Vec::new(),
        }
    }

    /// Reads and checks a manifest file.
    pub fn read(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(Error::io("cannot read", path))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Error::Manifest {
            path: path.to_path_buf(),
            message: format!("not a valid mcq manifest: {e}"),
        })?;
        if manifest.lake_version != LAKE_VERSION {
            return Err(Error::Manifest {
                path: path.to_path_buf(),
                message: format!(
                    "lake version {} is not supported by this mcq (which reads version {LAKE_VERSION})",
                    manifest.lake_version
                ),
            });
        }
        for t in Table::ALL {
            let have = manifest.schema_versions.get(t.name()).copied();
            if have != Some(t.schema().version) {
                return Err(Error::Manifest {
                    path: path.to_path_buf(),
                    message: format!(
                        "table {t} has schema version {}, this mcq writes version {}: re-ingest into a new lake",
                        have.map_or("none".into(), |v| v.to_string()),
                        t.schema().version
                    ),
                });
            }
        }
        Ok(manifest)
    }

    /// The tensor size as (H, W).
    pub fn tensor_shape(&self) -> (usize, usize) {
        (self.tensor_shape[0], self.tensor_shape[1])
    }

    /// The files of one table.
    pub fn files(&self, table: Table) -> &[FileEntry] {
        self.tables.get(table.name()).map_or(&[], Vec::as_slice)
    }

    /// Rows of one table, over all datasets.
    pub fn row_count(&self, table: Table) -> u64 {
        self.files(table).iter().map(|f| f.rows).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let mut m = Manifest::empty((64, 32));
        m.datasets.insert("cmmd".into(), DatasetInfo::default());
        let text = serde_json::to_string(&m).unwrap();
        let back: Manifest = serde_json::from_str(&text).unwrap();
        assert_eq!(m, back);
        assert_eq!(back.tensor_shape(), (64, 32));
    }
}
