//! Drives one dataset into the lake: adapter → records → case selection →
//! (optional harmonized split) → lake writer, in one atomic commit that
//! replaces the dataset's partition. `--explain` stops before writing and
//! prints the case-selection funnel.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::dataset::{self, AdapterOptions, Harmonized, Policy};
use crate::error::{Error, Result};
use crate::lake::LakeWriter;
use crate::lake::manifest::IngestRun;
use crate::lake::writer::{DatasetWrite, now_rfc3339};

/// What `mcq ingest` was asked to do.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub dataset: String,
    pub root: PathBuf,
    pub lake: PathBuf,
    pub metadata_only: bool,
    pub images: Option<PathBuf>,
    /// Tensor size (H, W); None keeps the lake's (or the default).
    pub size: Option<(usize, usize)>,
    pub explain: bool,
    /// A patient-grouped split stratified by diagnosis, when given.
    pub split_seed: Option<u64>,
    pub test_fraction: f64,
    /// Stricter rules on top of the dataset's policy.
    pub extra_policy: Policy,
    /// Marks the dataset as synthetic in the manifest (`mcq demo`, tests).
    pub synthetic: bool,
    /// Worker threads for the pixel stage.
    pub jobs: usize,
    /// The chest-wall / polarity detector.
    pub qc_method: crate::qc::LateralityMethod,
    /// Decode JPEG 2000 at full resolution even when the tensor is much
    /// smaller (normally a reduced resolution level is decoded).
    pub j2k_full_resolution: bool,
    /// Also write full-resolution processed 16-bit PNGs under this folder.
    pub keep_processed: Option<PathBuf>,
}

/// What an ingest did.
#[derive(Debug)]
pub struct IngestSummary {
    pub dataset: String,
    pub harmonized_counts: BTreeMap<&'static str, usize>,
    pub report: String,
}

/// Runs one ingest (or, with `explain`, a dry run).
pub fn run(config: &IngestConfig) -> Result<IngestSummary> {
    let adapter = dataset::adapter(&config.dataset)?;
    if !config.root.exists() {
        return Err(Error::Usage(format!(
            "{} does not exist",
            config.root.display()
        )));
    }
    let started_at = now_rfc3339();
    let t0 = Instant::now();
    let options = AdapterOptions {
        images: config.images.clone(),
        metadata_only: config.metadata_only,
        policy: config.extra_policy.clone(),
    };
    let mut harmonized = adapter.harmonize(&config.root, &options)?;
    let harmonize_ms = t0.elapsed().as_millis() as u64;
    if let Some(seed) = config.split_seed {
        assign_split(&mut harmonized, seed, config.test_fraction);
    }
    let policy = adapter.default_policy().with_extra(&config.extra_policy);
    let mut report = String::new();
    report.push_str(&format!(
        "{}: policy {}\n",
        adapter.name(),
        policy
            .rules
            .iter()
            .map(|r| r.reason())
            .collect::<Vec<_>>()
            .join(" → ")
    ));
    report.push_str(&format!("{}\n", harmonized.funnel));
    let counts = BTreeMap::from([
        ("metadata", harmonized.metadata.len()),
        ("findings", harmonized.findings.len()),
        ("exclusions", harmonized.exclusions.len()),
    ]);
    if config.explain {
        report.push_str(&describe(&harmonized));
        report.push_str("dry run (--explain): nothing written\n");
        return Ok(IngestSummary {
            dataset: adapter.name().into(),
            harmonized_counts: counts,
            report,
        });
    }
    if harmonized.metadata.is_empty() && harmonized.findings.is_empty() {
        return Err(Error::Other(format!(
            "nothing could be ingested from {}: every record was excluded\n{report}",
            config.root.display()
        )));
    }

    let t1 = Instant::now();
    let mut writer = LakeWriter::open(&config.lake, config.size)?;
    let mut info = adapter.info();
    info.synthetic = config.synthetic;
    let mut rows = BTreeMap::new();
    rows.insert("metadata".to_string(), harmonized.metadata.len() as u64);
    rows.insert("findings".to_string(), harmonized.findings.len() as u64);
    rows.insert("exclusions".to_string(), harmonized.exclusions.len() as u64);
    writer.replace_dataset(DatasetWrite {
        dataset: adapter.name().into(),
        info,
        run: IngestRun {
            dataset: adapter.name().into(),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            started_at,
            finished_at: String::new(),
            options: serde_json::json!({
                "metadata_only": config.metadata_only,
                "images": config.images,
                "policy": policy.rules.iter().map(|r| r.reason()).collect::<Vec<_>>(),
                "split_seed": config.split_seed,
                "test_fraction": config.split_seed.map(|_| config.test_fraction),
                "qc_method": config.qc_method.name(),
                "crop": true,
                "j2k_reduced_resolution": !config.j2k_full_resolution && config.keep_processed.is_none(),
                "keep_processed": config.keep_processed,
                "tensor_shape": writer.tensor_shape(),
            }),
            input_fingerprint: Some(fingerprint(&config.root, &harmonized.record_files)),
            timings_ms: BTreeMap::new(),
            rows,
            synthetic: config.synthetic,
        },
    });
    let name = adapter.name();
    let pixel_ms = if config.metadata_only {
        0
    } else {
        let mut part = writer.part_writer(crate::lake::Table::Images, name)?;
        let options = crate::qc::QcOptions {
            method: config.qc_method,
            crop: true,
            tensor_shape: writer.tensor_shape(),
            keep_full_resolution: false,
        };
        let stage = crate::pixels::PixelOptions {
            modality_kind: adapter.modality_kind().into(),
            jobs: config.jobs,
            decode: crate::decode::DecodeOptions {
                j2k_reduce_for: (!config.j2k_full_resolution).then(|| writer.tensor_shape()),
                ..Default::default()
            },
            keep_processed: config.keep_processed.clone(),
            dataset: name.into(),
        };
        let image_root = config.root.clone();
        let pixels = crate::pixels::process_images(
            &image_root,
            &mut harmonized.metadata,
            &mut harmonized.findings,
            &mut harmonized.exclusions,
            &mut part,
            &options,
            &stage,
        )?;
        writer.finish_part(part)?;
        report.push_str(&format!(
            "pixels: {} ok, {} missing, {} unreadable; {} laterality_flipped, {} intensity_inverted ({:.1}s)\n",
            pixels.ok,
            pixels.missing,
            pixels.error,
            pixels.laterality_flipped,
            pixels.intensity_inverted,
            pixels.decode_ms as f64 / 1000.0
        ));
        report.push_str(&format!(
            "pixel stages (summed over {} workers): {}\n",
            config.jobs, pixels.stages
        ));
        pixels.decode_ms
    };
    report.push_str(&describe(&harmonized));
    writer.write_rows(name, &harmonized.metadata)?;
    writer.write_rows(name, &harmonized.findings)?;
    writer.write_rows(name, &harmonized.exclusions)?;
    let manifest = writer.commit_with(|run| {
        run.finished_at = now_rfc3339();
        run.timings_ms.insert("harmonize".into(), harmonize_ms);
        run.timings_ms.insert("pixels".into(), pixel_ms);
        run.timings_ms.insert(
            "write".into(),
            (t1.elapsed().as_millis() as u64).saturating_sub(pixel_ms),
        );
    })?;
    report.push_str(&format!(
        "wrote {} (commit {}, {:.1}s)\n",
        config.lake.display(),
        manifest.commit_id,
        t0.elapsed().as_secs_f64()
    ));
    Ok(IngestSummary {
        dataset: name.into(),
        harmonized_counts: counts,
        report,
    })
}

/// The counts a person wants after an ingest.
fn describe(h: &Harmonized) -> String {
    let mut s = String::new();
    let by_level = |level: &str| h.exclusions.iter().filter(|e| e.level == level).count();
    s.push_str(&format!(
        "rows: metadata {}, findings {}, exclusions {} (record {}, image {}, value {})\n",
        h.metadata.len(),
        h.findings.len(),
        h.exclusions.len(),
        by_level("record"),
        by_level("image"),
        by_level("value")
    ));
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for e in h.exclusions.iter().filter(|e| e.level == "record") {
        *reasons.entry(e.reason.as_str()).or_default() += 1;
    }
    if !reasons.is_empty() {
        s.push_str(&format!(
            "records excluded: {}\n",
            reasons
                .iter()
                .map(|(r, n)| format!("{r} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !h.nulled_values.is_empty() {
        s.push_str(&format!(
            "values set to null (invalid_value exclusions): {}\n",
            h.nulled_values
                .iter()
                .map(|(c, n)| format!("{c} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut statuses: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &h.metadata {
        *statuses.entry(m.image_status.as_str()).or_default() += 1;
    }
    s.push_str(&format!(
        "images: {}\n",
        statuses
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let leak = leakage(h);
    s.push_str(&format!(
        "leakage: {} patients in both train and test by the dataset's own split (source_split); {} by split\n",
        leak.0, leak.1
    ));
    for w in &h.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    s
}

/// Patients present in both train and test: (by source_split, by split).
pub fn leakage(h: &Harmonized) -> (usize, usize) {
    let count = |pick: &dyn Fn(&crate::record::MetadataRow) -> Option<&str>| {
        let mut sides: HashMap<&str, (bool, bool)> = HashMap::new();
        for m in &h.metadata {
            if let Some(s) = pick(m) {
                let e = sides.entry(m.patient_id.as_str()).or_default();
                e.0 |= s.contains("train");
                e.1 |= s.contains("test");
            }
        }
        sides.values().filter(|(a, b)| *a && *b).count()
    };
    (
        count(&|m| m.source_split.as_deref()),
        count(&|m| m.split.as_deref()),
    )
}

/// A patient-grouped split, stratified by each patient's most severe
/// diagnosis: within each stratum, patients ordered by a seeded hash of
/// their id; the first `fraction` of them go to test.
fn assign_split(h: &mut Harmonized, seed: u64, fraction: f64) {
    let rank = |d: Option<&str>| match d {
        Some("Malignant") => 3,
        Some("Benign") => 2,
        Some("Normal") => 1,
        _ => 0,
    };
    let mut stratum: BTreeMap<String, i32> = BTreeMap::new();
    for m in &h.metadata {
        let r = stratum.entry(m.patient_id.clone()).or_default();
        *r = (*r).max(rank(m.diagnosis.as_deref()));
    }
    let mut by_stratum: BTreeMap<i32, Vec<(String, String)>> = BTreeMap::new();
    for (patient, r) in stratum {
        let mut hasher = Sha256::new();
        hasher.update(seed.to_le_bytes());
        hasher.update(patient.as_bytes());
        let key = hex::encode(hasher.finalize());
        by_stratum.entry(r).or_default().push((key, patient));
    }
    let mut test: BTreeSet<String> = BTreeSet::new();
    for (_, mut patients) in by_stratum {
        patients.sort();
        let n = (patients.len() as f64 * fraction).round() as usize;
        test.extend(patients.into_iter().take(n).map(|(_, p)| p));
    }
    for m in &mut h.metadata {
        m.split = Some(
            if test.contains(&m.patient_id) {
                "test"
            } else {
                "train"
            }
            .into(),
        );
    }
}

/// SHA-256 over the metadata files read (name, size, content).
fn fingerprint(root: &Path, files: &[(String, usize)]) -> String {
    let mut hasher = Sha256::new();
    for (file, _) in files {
        hasher.update(file.as_bytes());
        if let Ok(bytes) = std::fs::read(root.join(file)) {
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(Sha256::digest(&bytes));
        }
    }
    hex::encode(hasher.finalize())
}
