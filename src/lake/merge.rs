//! `mcq lake merge`: commits the union of shard lakes (made by `mcq ingest
//! --shard K/N`) into one lake, through the writer's normal atomic commit,
//! replacing each merged dataset's partition. Before a byte is written it
//! refuses what would not add up to one ingest: a lake that is not a shard
//! lake, shards of different N, input fingerprint, options, tensor size or
//! tool version, a shard given twice or missing, and rows (an image, a raw
//! record) present in two shards. Record batches are copied as they are
//! through the writer, which validates them against the table schemas.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::lake::manifest::{IngestRun, Shard};
use crate::lake::schema::Table;
use crate::lake::writer::{DatasetWrite, now_rfc3339};
use crate::lake::{Lake, LakeWriter};

/// What a merge wrote, per dataset: shards merged and rows per table.
#[derive(Debug, Clone)]
pub struct MergeSummary {
    pub commit_id: String,
    pub datasets: BTreeMap<String, (u32, BTreeMap<String, u64>)>,
}

/// One dataset's shard in one shard lake.
struct Part<'a> {
    lake: &'a Lake,
    shard: Shard,
    run: &'a IngestRun,
}

fn refuse(message: String) -> Error {
    Error::Merge(message)
}

fn name(lake: &Lake) -> String {
    lake.layout.root().display().to_string()
}

/// Merges the shard lakes at `shards` into the lake at `out`. `command` is
/// recorded in each merged dataset's run.
pub fn merge(out: &Path, shards: &[PathBuf], command: &str) -> Result<MergeSummary> {
    if shards.is_empty() {
        return Err(Error::Usage("name the shard lakes to merge".into()));
    }
    let out_resolved = std::fs::canonicalize(out).ok();
    let mut lakes = Vec::with_capacity(shards.len());
    for path in shards {
        if out_resolved.is_some() && std::fs::canonicalize(path).ok() == out_resolved {
            return Err(refuse(format!(
                "{} is both the output and a shard: merge into another folder",
                path.display()
            )));
        }
        lakes.push(Lake::open(path)?);
    }
    let parts = consistent_parts(&lakes)?;
    verify_checksums(&parts)?;
    check_no_overlap(&parts)?;
    write_merged(out, &parts, command)
}

/// Groups the shard lakes' runs by dataset and checks that each dataset's
/// shards are the complete, consistent set 1..=N.
fn consistent_parts(lakes: &[Lake]) -> Result<BTreeMap<String, Vec<Part<'_>>>> {
    let mut parts: BTreeMap<String, Vec<Part>> = BTreeMap::new();
    for lake in lakes {
        if lake.manifest.datasets.is_empty() {
            return Err(refuse(format!("{} holds no dataset", name(lake))));
        }
        for dataset in lake.manifest.datasets.keys() {
            let run = lake.manifest.runs.iter().rfind(|r| &r.dataset == dataset);
            let Some((run, shard)) = run.and_then(|r| Some((r, r.shard?))) else {
                return Err(refuse(format!(
                    "{} is not a shard lake: its dataset {dataset} was not ingested with --shard K/N",
                    name(lake)
                )));
            };
            parts
                .entry(dataset.clone())
                .or_default()
                .push(Part { lake, shard, run });
        }
    }
    let shape = lakes[0].manifest.tensor_shape();
    for lake in lakes {
        if lake.manifest.tensor_shape() != shape {
            let (h, w) = lake.manifest.tensor_shape();
            return Err(refuse(format!(
                "inconsistent shards: {} holds {h}x{w} tensors, {} holds {}x{}",
                name(lake),
                name(&lakes[0]),
                shape.0,
                shape.1
            )));
        }
    }
    for (dataset, list) in &mut parts {
        list.sort_by_key(|p| p.shard.index);
        let first = &list[0];
        let n = first.shard.count;
        for p in list.iter() {
            let differs = |what: &str, a: String, b: String| {
                refuse(format!(
                    "inconsistent shards of {dataset}: {} has {what} {a}, {} has {b}",
                    name(first.lake),
                    name(p.lake)
                ))
            };
            if p.shard.count != n {
                return Err(differs(
                    "shard",
                    first.shard.to_string(),
                    p.shard.to_string(),
                ));
            }
            if p.run.tool_version != first.run.tool_version {
                return Err(differs(
                    "tool version",
                    first.run.tool_version.clone(),
                    p.run.tool_version.clone(),
                ));
            }
            if p.run.input_fingerprint != first.run.input_fingerprint {
                return Err(differs(
                    "input fingerprint",
                    format!("{:?}", first.run.input_fingerprint),
                    format!("{:?}", p.run.input_fingerprint),
                ));
            }
            if p.run.options != first.run.options {
                return Err(differs(
                    "options",
                    first.run.options.to_string(),
                    p.run.options.to_string(),
                ));
            }
            let (a, b) = (
                &first.lake.manifest.datasets[dataset],
                &p.lake.manifest.datasets[dataset],
            );
            if a != b || p.run.synthetic != first.run.synthetic {
                return Err(differs("source", format!("{a:?}"), format!("{b:?}")));
            }
        }
        for pair in list.windows(2) {
            if pair[0].shard == pair[1].shard {
                return Err(refuse(format!(
                    "overlapping shards: shard {} of {dataset} is given twice ({} and {})",
                    pair[0].shard,
                    name(pair[0].lake),
                    name(pair[1].lake)
                )));
            }
        }
        let have: BTreeSet<u32> = list.iter().map(|p| p.shard.index).collect();
        let missing: Vec<String> = (1..=n)
            .filter(|k| !have.contains(k))
            .map(|k| format!("{k}/{n}"))
            .collect();
        if !missing.is_empty() {
            return Err(refuse(format!(
                "missing shards of {dataset}: {} (given: {})",
                missing.join(", "),
                list.iter()
                    .map(|p| format!("{} in {}", p.shard, name(p.lake)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(parts)
}

/// Refuses a shard whose data files are not the ones its manifest describes
/// (the cheap size check is `Lake::open`'s; this is the SHA-256).
fn verify_checksums(parts: &BTreeMap<String, Vec<Part>>) -> Result<()> {
    for (dataset, list) in parts {
        for part in list {
            for table in Table::ALL {
                for entry in part.lake.manifest.files(table) {
                    if &entry.dataset != dataset {
                        continue;
                    }
                    let path = part.lake.layout.file(entry);
                    let mut file = File::open(&path).map_err(Error::io("cannot open", &path))?;
                    let mut hasher = Sha256::new();
                    std::io::copy(&mut file, &mut hasher)
                        .map_err(Error::io("cannot read", &path))?;
                    if hex::encode(hasher.finalize()) != entry.sha256 {
                        return Err(refuse(format!(
                            "{} in shard {} of {dataset} does not match its manifest (SHA-256): run `mcq --lake {} check`",
                            entry.path,
                            part.shard,
                            name(part.lake)
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Reads the batches of one data file, only `columns` when given.
fn for_each_batch(
    path: &Path,
    table: Table,
    columns: Option<&[&str]>,
    mut f: impl FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let parquet_error = |source| Error::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(Error::io("cannot open", path))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_error)?;
    if let Some(columns) = columns {
        let mask = ProjectionMask::columns(builder.parquet_schema(), columns.iter().copied());
        builder = builder.with_projection(mask);
    }
    // Tensors are large: a few at a time.
    let rows = if table == Table::Images { 16 } else { 8192 };
    let reader = builder
        .with_batch_size(rows)
        .build()
        .map_err(parquet_error)?;
    for batch in reader {
        f(batch?)?;
    }
    Ok(())
}

/// The identity of a row across shards: an image, or a raw record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RowKey {
    Image(String),
    Record(&'static str, String, i64),
}

impl std::fmt::Display for RowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowKey::Image(id) => write!(f, "image_id {id}"),
            RowKey::Record(table, file, row) => write!(f, "{table} record {file}:{row}"),
        }
    }
}

/// The keys of one table's rows in one shard: metadata by image_id, findings
/// and record exclusions by their raw record.
fn row_keys(part: &Part, dataset: &str, table: Table) -> Result<Vec<RowKey>> {
    let columns: &[&str] = match table {
        Table::Metadata => &["image_id"],
        Table::Findings => &["source_file", "source_row"],
        Table::Exclusions => &["level", "source_file", "source_row"],
        Table::Images => return Ok(Vec::new()),
    };
    let mut keys = Vec::new();
    for entry in part.lake.manifest.files(table) {
        if entry.dataset != dataset {
            continue;
        }
        let path = part.lake.layout.file(entry);
        for_each_batch(&path, table, Some(columns), |batch| {
            let text = |name: &str| -> Result<arrow::array::StringArray> {
                let column = batch
                    .column_by_name(name)
                    .ok_or_else(|| Error::Other(format!("{}: no column {name}", path.display())))?;
                Ok(arrow::compute::cast(column, &DataType::Utf8)?
                    .as_string::<i32>()
                    .clone())
            };
            if table == Table::Metadata {
                let ids = text("image_id")?;
                keys.extend((0..batch.num_rows()).map(|i| RowKey::Image(ids.value(i).to_string())));
                return Ok(());
            }
            let files = text("source_file")?;
            let rows = batch
                .column_by_name("source_row")
                .and_then(|c| c.as_primitive_opt::<Int64Type>())
                .ok_or_else(|| Error::Other(format!("{}: no source_row", path.display())))?;
            let level = (table == Table::Exclusions)
                .then(|| text("level"))
                .transpose()?;
            for i in 0..batch.num_rows() {
                let is_record = level.as_ref().is_none_or(|l| l.value(i) == "record");
                if is_record && rows.is_valid(i) {
                    keys.push(RowKey::Record(
                        table.name(),
                        files.value(i).to_string(),
                        rows.value(i),
                    ));
                }
            }
            Ok(())
        })?;
    }
    Ok(keys)
}

/// Refuses shards that share an image or a raw record.
fn check_no_overlap(parts: &BTreeMap<String, Vec<Part>>) -> Result<()> {
    for (dataset, list) in parts {
        let mut seen: HashMap<RowKey, usize> = HashMap::new();
        for (i, part) in list.iter().enumerate() {
            for table in [Table::Metadata, Table::Findings, Table::Exclusions] {
                for key in row_keys(part, dataset, table)? {
                    match seen.get(&key) {
                        Some(&j) if j != i => {
                            return Err(refuse(format!(
                                "overlapping shards of {dataset}: {key} is in shard {} ({}) and in shard {} ({})",
                                list[j].shard,
                                name(list[j].lake),
                                part.shard,
                                name(part.lake)
                            )));
                        }
                        Some(_) => {}
                        None => {
                            seen.insert(key, i);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Copies every shard's batches into one commit of the lake at `out`.
fn write_merged(
    out: &Path,
    parts: &BTreeMap<String, Vec<Part>>,
    command: &str,
) -> Result<MergeSummary> {
    let started = std::time::Instant::now();
    let shape = parts
        .values()
        .next()
        .map(|list| list[0].lake.manifest.tensor_shape());
    let mut writer = LakeWriter::open(out, shape)?;
    let mut summary = BTreeMap::new();
    for (dataset, list) in parts {
        let first = &list[0];
        let mut rows: BTreeMap<String, u64> = BTreeMap::new();
        let mut timings: BTreeMap<String, u64> = BTreeMap::new();
        for p in list {
            for (stage, ms) in &p.run.timings_ms {
                *timings.entry(stage.clone()).or_default() += ms;
            }
        }
        writer.replace_dataset(DatasetWrite {
            dataset: dataset.clone(),
            info: first.lake.manifest.datasets[dataset].clone(),
            run: IngestRun {
                dataset: dataset.clone(),
                command: command.to_string(),
                tool_version: first.run.tool_version.clone(),
                started_at: list
                    .iter()
                    .map(|p| p.run.started_at.clone())
                    .min()
                    .unwrap_or_default(),
                finished_at: String::new(),
                options: first.run.options.clone(),
                input_fingerprint: first.run.input_fingerprint.clone(),
                timings_ms: timings,
                rows: BTreeMap::new(),
                synthetic: first.run.synthetic,
                shard: None,
                merged_shards: Some(first.shard.count),
            },
        });
        for table in Table::ALL {
            let mut part = writer.part_writer(table, dataset)?;
            let mut n = 0u64;
            for p in list {
                for entry in p.lake.manifest.files(table) {
                    if &entry.dataset != dataset {
                        continue;
                    }
                    for_each_batch(&p.lake.layout.file(entry), table, None, |batch| {
                        n += batch.num_rows() as u64;
                        part.write(&batch)
                    })?;
                }
            }
            writer.finish_part(part)?;
            rows.insert(table.name().to_string(), n);
        }
        summary.insert(dataset.clone(), (first.shard.count, rows));
    }
    let merge_ms = started.elapsed().as_millis() as u64;
    let manifest = writer.commit_with(|run| {
        run.finished_at = now_rfc3339();
        run.timings_ms.insert("merge".into(), merge_ms);
        if let Some((_, rows)) = summary.get(&run.dataset) {
            run.rows = rows.clone();
        }
    })?;
    Ok(MergeSummary {
        commit_id: manifest.commit_id,
        datasets: summary,
    })
}
