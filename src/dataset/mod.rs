//! Dataset adapters: one file per public dataset, each reading that dataset's
//! own metadata files into `record` rows for the ingest stage, behind the
//! [`Adapter`] trait and the [`registry`]. Adding a dataset is one file here
//! plus one line in `registry`; nothing outside this module names a dataset.
//!
//! Shared parts: `vocab` maps raw labels onto the lake's vocabularies,
//! `source` finds and reads metadata files (CSV, XLSX), `selection` applies
//! the case-selection rules (policies as data) and counts the funnel.

pub mod cbis_ddsm;
pub mod cmmd;
pub mod selection;
pub mod source;
pub mod tompei_cmmd;
pub mod vindr_mammo;
pub mod vocab;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lake::DatasetInfo;
use crate::record::{ExclusionRow, FindingRow, MetadataRow};
pub use selection::{Funnel, Policy};

/// What an adapter is asked to do.
#[derive(Debug, Clone, Default)]
pub struct AdapterOptions {
    /// The image tree, when it is not under ROOT (TOMPEI-CMMD over CMMD).
    pub images: Option<PathBuf>,
    /// Decode no pixels; DICOM headers may still be read where a dataset
    /// keeps metadata only there.
    pub metadata_only: bool,
    /// Extra selection rules on top of the dataset's default policy.
    pub policy: Policy,
}

/// An adapter's output: unified rows, with every raw record accounted for.
#[derive(Debug, Default)]
pub struct Harmonized {
    pub metadata: Vec<MetadataRow>,
    pub findings: Vec<FindingRow>,
    pub exclusions: Vec<ExclusionRow>,
    /// The case-selection funnel, rule by rule.
    pub funnel: Funnel,
    /// Per lake column, how many raw values were set to null (each also an
    /// `invalid_value` exclusion).
    pub nulled_values: BTreeMap<String, usize>,
    /// Things worth telling the user (a missing subset file, ...).
    pub warnings: Vec<String>,
    /// The metadata files read, relative to ROOT, with their raw record counts.
    pub record_files: Vec<(String, usize)>,
}

/// A 64-bit key of an identifier, for sets that grow with a dataset (a
/// streaming ingest keeps keys, not strings).
pub fn id_key(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// Receives a streaming adapter's rows, chunk by chunk (each chunk holds
/// whole patients, so breast-level rules and leakage stay exact).
pub trait RowSink {
    /// Takes the chunk's `metadata`, `findings` and `exclusions`, leaving
    /// those vectors empty.
    fn rows(&mut self, chunk: &mut Harmonized) -> Result<()>;
    /// Forgets every row received so far: the adapter starts over.
    fn restart(&mut self) -> Result<()>;
}

/// Keeping every row: a streaming adapter's whole output in memory.
impl RowSink for Harmonized {
    fn rows(&mut self, chunk: &mut Harmonized) -> Result<()> {
        self.metadata.append(&mut chunk.metadata);
        self.findings.append(&mut chunk.findings);
        self.exclusions.append(&mut chunk.exclusions);
        Ok(())
    }

    fn restart(&mut self) -> Result<()> {
        self.clear_rows();
        Ok(())
    }
}

/// Where a raw record sits: for exclusions and nulled values.
#[derive(Debug, Clone, Copy)]
pub struct RecordAt<'a> {
    pub file: &'a str,
    pub row: i64,
    pub patient: Option<&'a str>,
    pub side: Option<&'a str>,
}

impl Harmonized {
    /// Drops the rows (metadata, findings, exclusions), keeping the counts.
    pub fn clear_rows(&mut self) {
        self.metadata.clear();
        self.findings.clear();
        self.exclusions.clear();
    }

    /// A mapped raw value: the value; `None` when the source says nothing;
    /// for a value outside the vocabulary, `None` plus an `invalid_value`
    /// exclusion naming the lake column and the raw text.
    pub fn valid<T>(
        &mut self,
        at: &RecordAt,
        column: &str,
        raw: &str,
        mapped: vocab::Mapped<T>,
    ) -> Option<T> {
        match mapped {
            vocab::Mapped::Value(v) => Some(v),
            vocab::Mapped::Missing => None,
            vocab::Mapped::Invalid => {
                self.invalid_value(
                    at.file,
                    at.row,
                    at.patient,
                    at.side,
                    column,
                    raw,
                    format!("{column} `{raw}` is not valid; set to null"),
                );
                None
            }
        }
    }

    /// Records an invalid raw value that was set to null (`level = 'value'`).
    #[allow(clippy::too_many_arguments)]
    pub fn invalid_value(
        &mut self,
        source_file: &str,
        source_row: i64,
        patient_id: Option<&str>,
        laterality: Option<&str>,
        column: &str,
        raw_value: &str,
        detail: String,
    ) {
        *self.nulled_values.entry(column.to_string()).or_default() += 1;
        self.exclusions.push(ExclusionRow {
            level: "value".into(),
            source_file: source_file.into(),
            source_row: Some(source_row),
            patient_id: patient_id.map(Into::into),
            laterality: laterality.map(Into::into),
            column: Some(column.into()),
            raw_value: Some(raw_value.into()),
            reason: "invalid_value".into(),
            detail,
            ..Default::default()
        });
    }
}

/// Applies stricter breast-level rules (`--require-both-views`,
/// `--drop-birads-0`) to harmonized metadata rows: kept rows go to
/// `out.metadata`; each dropped record becomes one record exclusion (once per
/// source row, however many images it gave); findings of dropped breasts go
/// with them, accounted the same way. Counts go to the funnel under `stage`.
pub fn apply_breast_rules(
    rows: Vec<MetadataRow>,
    rules: &[selection::Rule],
    stage: &str,
    out: &mut Harmonized,
) {
    if rules.is_empty() {
        out.metadata.extend(rows);
        return;
    }
    let candidates: Vec<selection::Candidate> = rows
        .iter()
        .map(|r| selection::Candidate {
            breast: r.exam_id.clone(),
            view: r.view_position.clone(),
            birads: r.birads,
            pathology: r.diagnosis.clone(),
        })
        .collect();
    let drops = selection::select(&candidates, rules, stage, &mut out.funnel);
    let mut excluded: std::collections::HashSet<(String, i64)> = out
        .exclusions
        .iter()
        .filter(|e| e.level == "record")
        .filter_map(|e| Some((e.source_file.clone(), e.source_row?)))
        .collect();
    let mut dropped: std::collections::HashMap<String, (selection::Rule, String)> =
        Default::default();
    for (row, drop) in rows.into_iter().zip(drops) {
        let Some(d) = drop else {
            out.metadata.push(row);
            continue;
        };
        dropped.insert(row.exam_id.clone(), (d.rule, d.detail.clone()));
        if excluded.insert((row.source_file.clone(), row.source_row)) {
            out.exclusions.push(ExclusionRow {
                level: "record".into(),
                source_file: row.source_file,
                source_row: Some(row.source_row),
                patient_id: Some(row.patient_id),
                laterality: Some(row.laterality),
                view_position: row.view_position,
                image_id: Some(row.image_id),
                exam_id: Some(row.exam_id),
                reason: d.rule.reason().into(),
                detail: d.detail,
                ..Default::default()
            });
        }
    }
    let (kept, gone): (Vec<FindingRow>, Vec<FindingRow>) = std::mem::take(&mut out.findings)
        .into_iter()
        .partition(|f| !dropped.contains_key(&f.exam_id));
    // The funnel also counts the finding records (lesion rows) that went
    // with their breast: per file, rule by rule.
    let mut per_file: BTreeMap<String, (std::collections::HashSet<i64>, Vec<usize>)> =
        BTreeMap::new();
    for f in kept.iter().chain(&gone) {
        let entry = per_file
            .entry(f.source_file.clone())
            .or_insert_with(|| (Default::default(), vec![0; rules.len()]));
        entry.0.insert(f.source_row);
    }
    out.findings = kept;
    for f in gone {
        let (rule, why) = &dropped[&f.exam_id];
        let first = !excluded.contains(&(f.source_file.clone(), f.source_row));
        if let (true, Some(i), Some(entry)) = (
            first,
            rules.iter().position(|r| r == rule),
            per_file.get_mut(&f.source_file),
        ) {
            entry.1[i] += 1;
        }
        if excluded.insert((f.source_file.clone(), f.source_row)) {
            out.exclusions.push(ExclusionRow {
                level: "record".into(),
                detail: format!(
                    "finding of breast {} dropped by the selection: {why}",
                    f.exam_id
                ),
                source_file: f.source_file,
                source_row: Some(f.source_row),
                patient_id: Some(f.patient_id),
                laterality: Some(f.laterality),
                view_position: f.view_position,
                image_id: Some(f.image_id),
                exam_id: Some(f.exam_id),
                reason: rule.reason().into(),
                ..Default::default()
            });
        }
    }
    for (file, (records, dropped)) in per_file {
        let mut alive = records.len();
        for (rule, n) in rules.iter().zip(dropped) {
            out.funnel.record_step(&file, *rule, alive, n, 0);
            alive -= n;
        }
    }
}

/// One public dataset's conventions.
pub trait Adapter: Sync {
    /// The dataset name used on the command line and in the lake.
    fn name(&self) -> &'static str;
    /// Where the dataset comes from (DOI, license, version).
    fn info(&self) -> DatasetInfo;
    /// The default case-selection policy (SPEC §6), printed by `--explain`.
    fn default_policy(&self) -> Policy;
    /// `film` (digitized screen-film) or `digital`, for `images.modality_kind`.
    fn modality_kind(&self) -> &'static str {
        "digital"
    }
    /// Reads the dataset under `root` into unified rows.
    fn harmonize(&self, root: &Path, options: &AdapterOptions) -> Result<Harmonized>;
    /// Reads the dataset and hands its rows to `sink` in chunks, so that
    /// memory need not grow with the dataset; returns everything else (the
    /// funnel, counts, warnings, files read) with empty row vectors.
    /// _Default:_ `harmonize`, handed over as one chunk.
    fn harmonize_stream(
        &self,
        root: &Path,
        options: &AdapterOptions,
        sink: &mut dyn RowSink,
    ) -> Result<Harmonized> {
        let mut all = self.harmonize(root, options)?;
        sink.rows(&mut all)?;
        Ok(all)
    }
}

/// Every dataset mcq can ingest: one line per adapter.
pub fn registry() -> Vec<&'static dyn Adapter> {
    vec![
        &cbis_ddsm::CbisDdsm,
        &cmmd::Cmmd,
        &vindr_mammo::VindrMammo,
        &tompei_cmmd::TompeiCmmd,
    ]
}

/// Looks an adapter up by name.
pub fn adapter(name: &str) -> Result<&'static dyn Adapter> {
    registry()
        .into_iter()
        .find(|a| a.name() == name)
        .ok_or_else(|| {
            Error::Usage(format!(
                "unknown dataset `{name}`; mcq can ingest: {}",
                registry()
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}
