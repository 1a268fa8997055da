//! The lake: Hive-partitioned zstd Parquet under `<lake>/<table>/dataset=<name>/`,
//! described by `_mcq/manifest.json`. This module knows the layout; `writer`
//! commits new data atomically, `check` verifies a lake against its manifest.
//! It never knows a dataset by name.

pub mod batch;
pub mod check;
pub mod manifest;
pub mod merge;
pub mod schema;
pub mod tensor_chunk;
pub mod writer;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
pub use manifest::{DatasetInfo, FileEntry, IngestRun, Manifest, Shard};
pub use schema::Table;
pub use writer::LakeWriter;

/// Where things live inside a lake folder.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn mcq_dir(&self) -> PathBuf {
        self.root.join("_mcq")
    }
    pub fn manifest(&self) -> PathBuf {
        self.mcq_dir().join("manifest.json")
    }
    pub fn lock(&self) -> PathBuf {
        self.mcq_dir().join("lock")
    }
    pub fn tmp(&self) -> PathBuf {
        self.mcq_dir().join("tmp")
    }
    /// The record of a commit in progress (present only while one is).
    pub fn journal(&self) -> PathBuf {
        self.mcq_dir().join("journal.json")
    }
    pub fn table_dir(&self, table: Table) -> PathBuf {
        self.root.join(table.name())
    }
    /// A data file's path relative to the lake root.
    pub fn relative_file(table: Table, dataset: &str, file_name: &str) -> String {
        format!("{}/dataset={dataset}/{file_name}", table.name())
    }
    /// The absolute path of a manifest entry.
    pub fn file(&self, entry: &FileEntry) -> PathBuf {
        self.root.join(&entry.path)
    }
}

/// A lake opened for reading: its layout and its manifest as committed.
#[derive(Debug, Clone)]
pub struct Lake {
    pub layout: Layout,
    pub manifest: Manifest,
}

impl Lake {
    /// Opens a lake for reading. Fails with "no lake at X" when there is none,
    /// and with the list of problems when a data file the manifest lists is
    /// missing or has another size (the cheap part of `mcq check`).
    pub fn open(root: impl Into<PathBuf>) -> Result<Lake> {
        let layout = Layout::new(root);
        let manifest_path = layout.manifest();
        if !manifest_path.is_file() {
            return Err(Error::NoLake {
                path: layout.root().to_path_buf(),
            });
        }
        let manifest = Manifest::read(&manifest_path)?;
        let lake = Lake { layout, manifest };
        let problems = lake.missing_or_resized_files();
        if !problems.is_empty() {
            return Err(Error::Damaged {
                lake: lake.layout.root().to_path_buf(),
                problems,
            });
        }
        Ok(lake)
    }

    /// Files the manifest lists that are absent or of another size.
    pub fn missing_or_resized_files(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for table in Table::ALL {
            for entry in self.manifest.files(table) {
                let path = self.layout.file(entry);
                match std::fs::metadata(&path) {
                    Err(_) => problems.push(format!("missing data file {}", entry.path)),
                    Ok(meta) if meta.len() != entry.bytes => problems.push(format!(
                        "data file {} has {} bytes, the manifest says {}",
                        entry.path,
                        meta.len(),
                        entry.bytes
                    )),
                    Ok(_) => {}
                }
            }
        }
        problems
    }

    /// Datasets present in the lake.
    pub fn datasets(&self) -> Vec<&str> {
        self.manifest.datasets.keys().map(String::as_str).collect()
    }
}
