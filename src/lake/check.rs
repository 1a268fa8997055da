//! `mcq check`: verifies a lake against its manifest — every listed file
//! present, of the recorded size and SHA-256, with the recorded row count and
//! the declared schema; no unlisted data files; no interrupted commit.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::lake::manifest::Manifest;
use crate::lake::schema::Table;
use crate::lake::{Layout, manifest::FileEntry};

/// What `mcq check` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Damage: the lake does not match its manifest.
    pub problems: Vec<String>,
    /// Not damage, but worth knowing (an interrupted commit, leftovers).
    pub warnings: Vec<String>,
    pub files_checked: usize,
    pub rows_checked: u64,
    pub bytes_checked: u64,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks the lake at `root`. Errors only when there is no lake or its
/// manifest cannot be read; everything else lands in the report.
pub fn check(root: &Path) -> Result<CheckReport> {
    let layout = Layout::new(root);
    if !layout.manifest().is_file() {
        return Err(Error::NoLake {
            path: root.to_path_buf(),
        });
    }
    let manifest = Manifest::read(&layout.manifest())?;
    let mut report = CheckReport::default();

    let journal_files = pending_commit_files(&layout);
    if layout.journal().is_file() {
        report.warnings.push(format!(
            "an interrupted commit is pending ({}): the next mcq command that writes completes or rolls it back; readers see the last committed version",
            layout.journal().display()
        ));
    }
    if let Ok(mut entries) = std::fs::read_dir(layout.tmp())
        && entries.next().is_some()
    {
        report.warnings.push(format!(
            "temporary files under {} (cleared by the next write)",
            layout.tmp().display()
        ));
    }

    for table in Table::ALL {
        let listed: BTreeSet<&str> = manifest
            .files(table)
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        for entry in manifest.files(table) {
            check_file(&layout, &manifest, table, entry, &mut report);
        }
        for rel in data_files_on_disk(&layout, table) {
            if listed.contains(rel.as_str()) {
                continue;
            }
            if journal_files.contains(&rel) {
                report.warnings.push(format!(
                    "{rel} belongs to the interrupted commit, not to the lake"
                ));
            } else {
                report.problems.push(format!(
                    "extra data file {rel} is not in the manifest (Parquet readers other than mcq would read it)"
                ));
            }
        }
    }
    Ok(report)
}

fn check_file(
    layout: &Layout,
    manifest: &Manifest,
    table: Table,
    entry: &FileEntry,
    report: &mut CheckReport,
) {
    let path = layout.file(entry);
    let expected_prefix = format!("{}/dataset={}/", table.name(), entry.dataset);
    if !entry.path.starts_with(&expected_prefix) {
        report.problems.push(format!(
            "{} is listed under table {table}, dataset {} but lies elsewhere",
            entry.path, entry.dataset
        ));
    }
    let mut bytes = Vec::new();
    if let Err(e) = File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)) {
        report
            .problems
            .push(format!("missing data file {}: {e}", entry.path));
        return;
    }
    report.files_checked += 1;
    report.bytes_checked += bytes.len() as u64;
    if bytes.len() as u64 != entry.bytes {
        report.problems.push(format!(
            "{} has {} bytes, the manifest says {}",
            entry.path,
            bytes.len(),
            entry.bytes
        ));
    }
    let digest = hex::encode(Sha256::digest(&bytes));
    if digest != entry.sha256 {
        report.problems.push(format!(
            "{} has SHA-256 {digest}, the manifest says {} (the file was modified)",
            entry.path, entry.sha256
        ));
        return;
    }
    match ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)) {
        Err(e) => report
            .problems
            .push(format!("{} is not readable Parquet: {e}", entry.path)),
        Ok(reader) => {
            let rows = reader.metadata().file_metadata().num_rows() as u64;
            report.rows_checked += rows;
            if rows != entry.rows {
                report.problems.push(format!(
                    "{} has {rows} rows, the manifest says {}",
                    entry.path, entry.rows
                ));
            }
            let declared = table.schema().arrow_schema(manifest.tensor_shape());
            let found = reader.schema();
            let same = declared.fields().len() == found.fields().len()
                && declared.fields().iter().zip(found.fields()).all(|(a, b)| {
                    a.name() == b.name()
                        && a.data_type() == b.data_type()
                        && a.is_nullable() == b.is_nullable()
                });
            if !same {
                report.problems.push(format!(
                    "{} does not have the declared schema of table {table}",
                    entry.path
                ));
            }
        }
    }
}

/// Data files under a table folder, relative to the lake root.
fn data_files_on_disk(layout: &Layout, table: Table) -> Vec<String> {
    let mut out = Vec::new();
    let dir = layout.table_dir(table);
    let Ok(partitions) = std::fs::read_dir(&dir) else {
        return out;
    };
    for partition in partitions.flatten() {
        let pname = partition.file_name().to_string_lossy().to_string();
        let Ok(files) = std::fs::read_dir(partition.path()) else {
            out.push(format!("{}/{pname}", table.name()));
            continue;
        };
        for file in files.flatten() {
            let fname = file.file_name().to_string_lossy().to_string();
            if fname.starts_with('.') || fname.starts_with('_') {
                continue;
            }
            out.push(format!("{}/{pname}/{fname}", table.name()));
        }
    }
    out.sort();
    out
}

fn pending_commit_files(layout: &Layout) -> BTreeSet<String> {
    #[derive(serde::Deserialize)]
    struct Moves {
        moves: Vec<(String, String)>,
    }
    std::fs::read_to_string(layout.journal())
        .ok()
        .and_then(|t| serde_json::from_str::<Moves>(&t).ok())
        .map(|j| j.moves.into_iter().map(|(_, fin)| fin).collect())
        .unwrap_or_default()
}
