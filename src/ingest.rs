//! Drives one dataset into the lake: adapter → records → case selection →
//! (optional harmonized split) → lake writer, in one atomic commit that
//! replaces the dataset's partition. `--explain` stops before writing and
//! prints the case-selection funnel.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::dataset::{self, AdapterOptions, Harmonized, Policy, RowSink};
use crate::error::{Error, Result};
use crate::lake::LakeWriter;
use crate::lake::manifest::IngestRun;
use crate::lake::writer::{DatasetWrite, PartWriter, now_rfc3339};

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
    /// Ingest only this shard of the dataset's patients (`--shard K/N`).
    pub shard: Option<crate::lake::Shard>,
    /// Decode at full resolution even when the tensor is much smaller
    /// (normally JPEG 2000 and native images are decoded reduced).
    pub full_resolution: bool,
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
///
/// Metadata-only ingests and dry runs stream: the adapter hands over rows in
/// chunks of whole patients, which are counted and written as Parquet row
/// groups while the next chunk is read, so memory stays flat however many
/// rows a dataset has. Ingests with pixels (and `--split-seed`, which ranks
/// all patients) hold the dataset's rows until the commit.
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
    let policy = adapter.default_policy().with_extra(&config.extra_policy);
    let mut report = format!(
        "{}: policy {}\n",
        adapter.name(),
        policy
            .rules
            .iter()
            .map(|r| r.reason())
            .collect::<Vec<_>>()
            .join(" → ")
    );
    let name = adapter.name();
    if config.explain {
        let mut tally = Tally::default();
        let rest = adapter.harmonize_stream(&config.root, &options, &mut tally)?;
        report.push_str(&format!("{}\n", rest.funnel));
        report.push_str(&describe(&tally, &rest));
        report.push_str("dry run (--explain): nothing written\n");
        return Ok(IngestSummary {
            dataset: name.into(),
            harmonized_counts: tally.counts(),
            report,
        });
    }

    let mut writer = LakeWriter::open(&config.lake, config.size)?;
    let mut info = adapter.info();
    info.synthetic = config.synthetic;
    writer.replace_dataset(DatasetWrite {
        dataset: name.into(),
        info,
        run: IngestRun {
            dataset: name.into(),
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
                "reduced_resolution": crate::pixels::reduce_for(
                    (!config.full_resolution && config.keep_processed.is_none())
                        .then(|| writer.tensor_shape()),
                    config.qc_method,
                )
                .is_some(),
                "keep_processed": config.keep_processed,
                "tensor_shape": writer.tensor_shape(),
            }),
            input_fingerprint: None,
            timings_ms: BTreeMap::new(),
            rows: BTreeMap::new(),
            synthetic: config.synthetic,
            shard: config.shard,
            merged_shards: None,
        },
    });

    let mut timings = BTreeMap::new();
    let mut shard = config.shard.map(ShardTally::new);
    let (tally, rest) = if config.metadata_only && config.split_seed.is_none() {
        let mut sink = LakeSink::start(&mut writer, name, shard.take())?;
        let rest = adapter.harmonize_stream(&config.root, &options, &mut sink);
        let (tally, sharded) = sink.finish(rest.is_ok())?;
        shard = sharded;
        timings.insert("harmonize_and_write", t0.elapsed().as_millis() as u64);
        (tally, rest?)
    } else {
        let mut harmonized = adapter.harmonize(&config.root, &options)?;
        timings.insert("harmonize", t0.elapsed().as_millis() as u64);
        if let Some(seed) = config.split_seed {
            assign_split(&mut harmonized, seed, config.test_fraction);
        }
        if let Some(s) = &mut shard {
            s.keep(&mut harmonized);
        }
        if !config.metadata_only {
            let t = Instant::now();
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
                // With full-resolution tensors, JPEG 2000 is still decoded
                // reduced for QC, and then its breast box at full resolution
                // (`PixelOptions::full_resolution`).
                decode: crate::decode::DecodeOptions {
                    reduce_for: Some(writer.tensor_shape()),
                    ..Default::default()
                },
                keep_processed: config.keep_processed.clone(),
                dataset: name.into(),
                full_resolution: config.full_resolution,
            };
            let pixels = crate::pixels::process_images(
                &config.root,
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
            timings.insert("pixels", t.elapsed().as_millis() as u64);
        }
        let t = Instant::now();
        let mut tally = Tally::default();
        tally.add(&harmonized);
        writer.write_rows(name, &harmonized.metadata)?;
        writer.write_rows(name, &harmonized.findings)?;
        writer.write_rows(name, &harmonized.exclusions)?;
        timings.insert("write", t.elapsed().as_millis() as u64);
        (tally, harmonized)
    };
    report.insert_str(
        report.find('\n').map_or(0, |i| i + 1),
        &format!("{}\n", rest.funnel),
    );
    let mut had_rows = tally.metadata + tally.findings > 0;
    if let Some(s) = &shard {
        report.push_str(&format!(
            "shard {}: {} of {} patients\n",
            s.shard, s.counts.patients_kept, s.counts.patients
        ));
        had_rows = s.rows_before > 0;
    }
    report.push_str(&describe(&tally, &rest));
    if !had_rows {
        return Err(Error::Other(format!(
            "nothing could be ingested from {}: every record was excluded\n{report}",
            config.root.display()
        )));
    }
    let fingerprint = fingerprint(&config.root, &rest.record_files);
    let counts = tally.counts();
    let manifest = writer.commit_with(|run| {
        run.finished_at = now_rfc3339();
        run.input_fingerprint = Some(fingerprint.clone());
        run.rows = counts
            .iter()
            .map(|(t, n)| (t.to_string(), *n as u64))
            .collect();
        run.timings_ms = timings.iter().map(|(k, v)| (k.to_string(), *v)).collect();
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

/// The counts a person wants after an ingest, gathered as rows go past.
#[derive(Debug, Default)]
pub struct Tally {
    pub metadata: usize,
    pub findings: usize,
    /// Exclusions by level.
    pub levels: BTreeMap<String, usize>,
    /// Record exclusions by reason.
    pub reasons: BTreeMap<String, usize>,
    /// Metadata rows by `image_status`.
    pub statuses: BTreeMap<String, usize>,
    /// Per patient (a 64-bit key): seen in train / test by `source_split`
    /// (bits 0, 1) and by `split` (bits 2, 3).
    patients: HashMap<u64, u8>,
}

impl Tally {
    /// Counts a chunk of rows.
    pub fn add(&mut self, h: &Harmonized) {
        self.metadata += h.metadata.len();
        self.findings += h.findings.len();
        for e in &h.exclusions {
            bump(&mut self.levels, &e.level);
            if e.level == "record" {
                bump(&mut self.reasons, &e.reason);
            }
        }
        for m in &h.metadata {
            bump(&mut self.statuses, &m.image_status);
            let sides = |split: &Option<String>, shift: u8| {
                split.as_deref().map_or(0, |s| {
                    (u8::from(s.contains("train")) | u8::from(s.contains("test")) << 1) << shift
                })
            };
            let bits = sides(&m.source_split, 0) | sides(&m.split, 2);
            if bits != 0 {
                *self
                    .patients
                    .entry(dataset::id_key(&m.patient_id))
                    .or_default() |= bits;
            }
        }
    }

    /// Patients present in both train and test: (by source_split, by split).
    pub fn leakage(&self) -> (usize, usize) {
        let both = |mask: u8| self.patients.values().filter(|b| *b & mask == mask).count();
        (both(0b0011), both(0b1100))
    }

    /// Rows per table.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        BTreeMap::from([
            ("metadata", self.metadata),
            ("findings", self.findings),
            ("exclusions", self.levels.values().sum()),
        ])
    }
}

/// Counts one more `key` (allocating only for a key not seen yet).
fn bump(counts: &mut BTreeMap<String, usize>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_string(), 1);
        }
    }
}

/// A dry run's sink: counts, keeps nothing.
impl RowSink for Tally {
    fn rows(&mut self, chunk: &mut Harmonized) -> Result<()> {
        self.add(chunk);
        chunk.clear_rows();
        Ok(())
    }

    fn restart(&mut self) -> Result<()> {
        *self = Tally::default();
        Ok(())
    }
}

/// Rows gathered before they go to the writer thread as one batch per table.
const SINK_ROWS: usize = 16 * 1024;

/// The three part writers of a streaming ingest, fed by a thread of their
/// own so that Parquet encoding overlaps reading and harmonizing.
type PartWriters = [PartWriter; 3];

/// The writer thread: its queue and its handle.
type Worker = (
    std::sync::mpsc::SyncSender<Harmonized>,
    std::thread::JoinHandle<(PartWriters, Result<()>)>,
);

/// Streams harmonized rows into the lake: counts them, gathers them into
/// batches, and hands the batches to a writer thread (a bounded queue, so
/// memory stays flat).
struct LakeSink<'w> {
    writer: &'w mut LakeWriter,
    dataset: &'static str,
    shard: Option<ShardTally>,
    tally: Tally,
    buffer: Harmonized,
    worker: Option<Worker>,
}

impl<'w> LakeSink<'w> {
    fn start(
        writer: &'w mut LakeWriter,
        dataset: &'static str,
        shard: Option<ShardTally>,
    ) -> Result<LakeSink<'w>> {
        let mut sink = LakeSink {
            writer,
            dataset,
            shard,
            tally: Tally::default(),
            buffer: Harmonized::default(),
            worker: None,
        };
        sink.spawn()?;
        Ok(sink)
    }

    fn spawn(&mut self) -> Result<()> {
        use crate::lake::Table;
        let mut parts = [
            self.writer.part_writer(Table::Metadata, self.dataset)?,
            self.writer.part_writer(Table::Findings, self.dataset)?,
            self.writer.part_writer(Table::Exclusions, self.dataset)?,
        ];
        let (tx, rx) = std::sync::mpsc::sync_channel::<Harmonized>(2);
        let handle = std::thread::spawn(move || {
            let write = || -> Result<()> {
                for chunk in rx {
                    parts[0].write_rows(&chunk.metadata)?;
                    parts[1].write_rows(&chunk.findings)?;
                    parts[2].write_rows(&chunk.exclusions)?;
                }
                Ok(())
            };
            let result = write();
            (parts, result)
        });
        self.worker = Some((tx, handle));
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let chunk = std::mem::take(&mut self.buffer);
        let Some((tx, _)) = &self.worker else {
            return Ok(());
        };
        if tx.send(chunk).is_err() {
            // The writer thread stopped on an error: `join` reports it.
            return self.join().map(|_| ());
        }
        Ok(())
    }

    fn join(&mut self) -> Result<Option<PartWriters>> {
        let Some((tx, handle)) = self.worker.take() else {
            return Ok(None);
        };
        drop(tx);
        let (parts, result) = handle
            .join()
            .map_err(|_| Error::Other("the lake writer thread panicked".into()))?;
        match result {
            Ok(()) => Ok(Some(parts)),
            Err(e) => {
                parts.into_iter().for_each(PartWriter::discard);
                Err(e)
            }
        }
    }

    /// Writes what is left and hands the files to the commit (`keep`), or
    /// drops them.
    fn finish(mut self, keep: bool) -> Result<(Tally, Option<ShardTally>)> {
        if keep {
            self.flush()?;
        }
        if let Some(parts) = self.join()? {
            for part in parts {
                if keep {
                    self.writer.finish_part(part)?;
                } else {
                    part.discard();
                }
            }
        }
        Ok((self.tally, self.shard))
    }
}

impl RowSink for LakeSink<'_> {
    fn rows(&mut self, chunk: &mut Harmonized) -> Result<()> {
        if let Some(s) = &mut self.shard {
            s.keep(chunk);
        }
        self.tally.add(chunk);
        self.buffer.rows(chunk)?;
        let b = &self.buffer;
        if b.metadata.len() + b.findings.len() + b.exclusions.len() >= SINK_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn restart(&mut self) -> Result<()> {
        if let Some(parts) = self.join()? {
            parts.into_iter().for_each(PartWriter::discard);
        }
        self.tally = Tally::default();
        if let Some(s) = &mut self.shard {
            *s = ShardTally::new(s.shard);
        }
        self.buffer = Harmonized::default();
        self.spawn()
    }
}

/// `--shard K/N` applied chunk by chunk (chunks hold whole patients, so
/// the per-chunk patient counts add up).
struct ShardTally {
    shard: crate::lake::Shard,
    counts: crate::shard::ShardCounts,
    /// Metadata and findings rows before the shard was taken.
    rows_before: usize,
}

impl ShardTally {
    fn new(shard: crate::lake::Shard) -> ShardTally {
        ShardTally {
            shard,
            counts: Default::default(),
            rows_before: 0,
        }
    }

    fn keep(&mut self, h: &mut Harmonized) {
        self.rows_before += h.metadata.len() + h.findings.len();
        let c = crate::shard::keep_shard(h, self.shard);
        self.counts.patients_kept += c.patients_kept;
        self.counts.patients += c.patients;
    }
}

/// The counts a person wants after an ingest.
fn describe(t: &Tally, h: &Harmonized) -> String {
    let mut s = String::new();
    let level = |l: &str| t.levels.get(l).copied().unwrap_or(0);
    s.push_str(&format!(
        "rows: metadata {}, findings {}, exclusions {} (record {}, image {}, value {})\n",
        t.metadata,
        t.findings,
        t.levels.values().sum::<usize>(),
        level("record"),
        level("image"),
        level("value")
    ));
    let list = |m: &BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !t.reasons.is_empty() {
        s.push_str(&format!("records excluded: {}\n", list(&t.reasons)));
    }
    if !h.nulled_values.is_empty() {
        s.push_str(&format!(
            "values set to null (invalid_value exclusions): {}\n",
            list(&h.nulled_values)
        ));
    }
    s.push_str(&format!("images: {}\n", list(&t.statuses)));
    let leak = t.leakage();
    s.push_str(&format!(
        "leakage: {} patients in both train and test by the dataset's own split (source_split); {} by split\n",
        leak.0, leak.1
    ));
    for w in &h.warnings {
        s.push_str(&format!("warning: {w}\n"));
    }
    s
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
