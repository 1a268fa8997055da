//! `mcq export png`: the lake's tensors as PNG files, for tools that want
//! images on disk. A query stage over the lake (a `LakeSession`): the
//! `--where` predicate runs over `metadata` joined with the QC columns of
//! `images` (no tensor bytes read), which picks the images and fixes their
//! file names in a deterministic order; a second pass streams the tensors
//! and writes `OUT/<dataset>/<patient>/<L|R>_<VIEW>[_<n>].png` (16-bit
//! grayscale, or the high byte for 8-bit), then `OUT/metadata.csv` with one
//! row per PNG written. Identifiers come from the data, so every path
//! component is sanitized and every folder is checked to lie under OUT.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray, UInt16Array};
use arrow::datatypes::{DataType, Field, Schema, UInt16Type};
use datafusion::prelude::{DataFrame, col, lit};
use futures::StreamExt;
use image::codecs::png::PngEncoder;
use image::{ImageBuffer, Luma};

use crate::error::{Error, Result};
use crate::lake::Table;
use crate::lake::schema::DATASET_COLUMN;
use crate::query::LakeSession;
use crate::query::output::{Format, TableOptions, write_batches};

/// Bit depth of the PNG files. _Default behavior:_ 16-bit, the tensor's
/// values as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PngBits {
    /// 8-bit grayscale: each value's high byte (`value >> 8`).
    Eight,
    /// 16-bit grayscale: the tensor's values.
    #[default]
    Sixteen,
}

/// What `mcq export png` was asked to do.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// The folder that receives the PNGs and `metadata.csv`.
    pub out: PathBuf,
    /// An SQL predicate over the metadata and image QC columns.
    pub predicate: Option<String>,
    pub bits: PngBits,
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub pngs: usize,
    pub metadata_csv: PathBuf,
}

/// Up to this many selected images, the tensor scan filters on their ids.
const MAX_LISTED_IMAGES: usize = 4096;

/// The metadata columns written to `metadata.csv` (and the query's order).
fn metadata_columns() -> Vec<String> {
    std::iter::once(DATASET_COLUMN.to_string())
        .chain(
            Table::Metadata
                .schema()
                .columns
                .iter()
                .map(|c| c.name.clone()),
        )
        .collect()
}

/// `metadata` joined with the QC columns of `images`: what `--where` sees.
fn joined_sql() -> String {
    let quote = |name: &str| format!("\"{name}\"");
    let mut select: Vec<String> = metadata_columns()
        .iter()
        .map(|c| format!("m.{}", quote(c)))
        .collect();
    let metadata = metadata_columns();
    select.extend(
        Table::Images
            .schema()
            .columns
            .iter()
            .filter(|c| c.name != "tensor" && !metadata.contains(&c.name))
            .map(|c| format!("i.{}", quote(&c.name))),
    );
    format!(
        "SELECT {} FROM metadata m JOIN images i ON m.dataset = i.dataset AND m.image_id = i.image_id",
        select.join(", ")
    )
}

/// A column as plain UTF-8 strings, whatever string type the engine chose.
fn strings(batch: &RecordBatch, name: &str) -> Result<StringArray> {
    let column = batch
        .column_by_name(name)
        .ok_or_else(|| Error::Other(format!("internal: export query has no column {name}")))?;
    let cast = arrow::compute::cast(column, &DataType::Utf8)?;
    Ok(cast.as_string::<i32>().clone())
}

/// The images an export writes, in order, and where each goes.
struct Plan {
    /// Metadata rows of the selected images, sorted.
    batches: Vec<RecordBatch>,
    /// Per batch, per row: the PNG's path relative to OUT.
    paths: Vec<Vec<PathBuf>>,
    /// (dataset, image_id) → indexes (batch, row) still waiting for a tensor.
    pending: HashMap<(String, String), VecDeque<(usize, usize)>>,
    datasets: Vec<String>,
}

/// Runs the predicate and assigns file names: repeated views of a breast
/// get `_2`, `_3`, ... in the sorted order, and a name already on disk is
/// never reused.
async fn plan(session: &LakeSession, config: &ExportConfig) -> Result<Plan> {
    let mut df: DataFrame = session.ctx.sql(&joined_sql()).await?;
    let predicate_error =
        |predicate: &str, e: datafusion::error::DataFusionError| Error::Predicate {
            predicate: predicate.to_string(),
            message: e.to_string(),
        };
    if let Some(predicate) = &config.predicate {
        let expr = df
            .parse_sql_expr(predicate)
            .map_err(|e| predicate_error(predicate, e))?;
        df = df.filter(expr).map_err(|e| predicate_error(predicate, e))?;
    }
    let columns = metadata_columns();
    let df = df
        .select_columns(&columns.iter().map(String::as_str).collect::<Vec<_>>())?
        .sort(vec![
            col(DATASET_COLUMN).sort(true, false),
            col("patient_id").sort(true, false),
            col("laterality").sort(true, false),
            col("view_position").sort(true, false),
            col("image_id").sort(true, false),
        ])?;
    let batches = match &config.predicate {
        Some(predicate) => df
            .collect()
            .await
            .map_err(|e| predicate_error(predicate, e))?,
        None => df.collect().await?,
    };

    let mut namer = crate::paths::ImageNamer::new(&config.out, "png");
    let mut paths = Vec::with_capacity(batches.len());
    let mut pending: HashMap<(String, String), VecDeque<(usize, usize)>> = HashMap::new();
    let mut datasets: Vec<String> = Vec::new();
    for (b, batch) in batches.iter().enumerate() {
        let dataset = strings(batch, DATASET_COLUMN)?;
        let patient = strings(batch, "patient_id")?;
        let laterality = strings(batch, "laterality")?;
        let view = strings(batch, "view_position")?;
        let image_id = strings(batch, "image_id")?;
        let mut batch_paths = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let text = |a: &StringArray| {
                if a.is_null(row) {
                    String::new()
                } else {
                    a.value(row).to_string()
                }
            };
            let full = namer.next(
                &text(&dataset),
                &text(&patient),
                &text(&laterality),
                (!view.is_null(row)).then(|| view.value(row)),
            )?;
            let path = full
                .strip_prefix(&config.out)
                .map(Path::to_path_buf)
                .unwrap_or(full);
            batch_paths.push(path);
            let ds = text(&dataset);
            if !datasets.contains(&ds) {
                datasets.push(ds.clone());
            }
            pending
                .entry((ds, text(&image_id)))
                .or_default()
                .push_back((b, row));
        }
        paths.push(batch_paths);
    }
    Ok(Plan {
        batches,
        paths,
        pending,
        datasets,
    })
}

/// Writes one tensor as a grayscale PNG into a new file (never overwrites).
fn write_png(path: &Path, pixels: &[u16], shape: (usize, usize), bits: PngBits) -> Result<()> {
    let (h, w) = shape;
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(Error::io("cannot create", path))?;
    let mut sink = BufWriter::new(file);
    let encode_error = |e: image::ImageError| Error::Other(format!("{}: {e}", path.display()));
    let (width, height) = (w as u32, h as u32);
    match bits {
        PngBits::Sixteen => {
            let image: ImageBuffer<Luma<u16>, Vec<u16>> =
                ImageBuffer::from_raw(width, height, pixels.to_vec())
                    .ok_or_else(|| Error::Other(format!("internal: tensor is not {h}x{w}")))?;
            image
                .write_with_encoder(PngEncoder::new(&mut sink))
                .map_err(encode_error)?;
        }
        PngBits::Eight => {
            let bytes: Vec<u8> = pixels.iter().map(|v| (v >> 8) as u8).collect();
            let image: ImageBuffer<Luma<u8>, Vec<u8>> = ImageBuffer::from_raw(width, height, bytes)
                .ok_or_else(|| Error::Other(format!("internal: tensor is not {h}x{w}")))?;
            image
                .write_with_encoder(PngEncoder::new(&mut sink))
                .map_err(encode_error)?;
        }
    }
    sink.flush().map_err(Error::io("cannot write", path))
}

/// Exports the images the predicate selects as PNG files under `config.out`.
pub async fn export_png(session: &LakeSession, config: &ExportConfig) -> Result<ExportSummary> {
    let csv_path = config.out.join("metadata.csv");
    if csv_path.exists() {
        return Err(Error::Usage(format!(
            "{} already holds an export ({} exists): choose another folder",
            config.out.display(),
            csv_path.display()
        )));
    }
    fs::create_dir_all(&config.out).map_err(Error::io("cannot create", &config.out))?;
    let mut plan = plan(session, config).await?;
    let shape = session.lake.manifest.tensor_shape();
    let pixels_per_image = shape.0 * shape.1;
    let mut written: Vec<Vec<bool>> = plan.paths.iter().map(|p| vec![false; p.len()]).collect();
    let mut made_dirs: HashSet<PathBuf> = HashSet::new();
    let mut pngs = 0;

    if !plan.pending.is_empty() {
        let datasets: Vec<_> = plan.datasets.iter().map(|d| lit(d.clone())).collect();
        let mut images = session
            .ctx
            .table(Table::Images.name())
            .await?
            .filter(col(DATASET_COLUMN).in_list(datasets, false))?;
        // A small selection also names its images, so the Parquet reader
        // can skip the other tensors; a large one streams the datasets.
        if plan.pending.len() <= MAX_LISTED_IMAGES {
            let ids: BTreeSet<&str> = plan.pending.keys().map(|(_, id)| id.as_str()).collect();
            images = images.filter(col("image_id").in_list(
                ids.into_iter().map(|id| lit(id.to_string())).collect(),
                false,
            ))?;
        }
        let mut stream = images
            .select_columns(&[DATASET_COLUMN, "image_id", "tensor"])?
            .execute_stream()
            .await?;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let dataset = strings(&batch, DATASET_COLUMN)?;
            let image_id = strings(&batch, "image_id")?;
            let tensors = batch
                .column_by_name("tensor")
                .and_then(|c| c.as_fixed_size_list_opt())
                .ok_or_else(|| Error::Other("internal: images.tensor is not a tensor".into()))?;
            for row in 0..batch.num_rows() {
                let key = (
                    dataset.value(row).to_string(),
                    image_id.value(row).to_string(),
                );
                let Some((b, r)) = plan.pending.get_mut(&key).and_then(VecDeque::pop_front) else {
                    continue;
                };
                let values = tensors.value(row);
                let pixels: &UInt16Array = values.as_primitive::<UInt16Type>();
                if tensors.is_null(row) || pixels.len() != pixels_per_image {
                    return Err(Error::InvalidValue {
                        table: "images".into(),
                        column: "tensor".into(),
                        value: format!("{} pixels", pixels.len()),
                        row: None,
                        message: format!(
                            "image {} of {}: the lake's tensors are {}x{}",
                            key.1, key.0, shape.0, shape.1
                        ),
                    });
                }
                let rel = &plan.paths[b][r];
                if let Some(dir) = rel.parent()
                    && made_dirs.insert(dir.to_path_buf())
                {
                    crate::paths::create_dirs_under(&config.out, dir)?;
                }
                write_png(&config.out.join(rel), pixels.values(), shape, config.bits)?;
                written[b][r] = true;
                pngs += 1;
            }
        }
    }

    write_metadata_csv(&csv_path, &plan, &written).await?;
    Ok(ExportSummary {
        pngs,
        metadata_csv: csv_path,
    })
}

/// `metadata.csv`: the PNG's path (relative to OUT, `/`-separated) and the
/// metadata columns, one row per PNG written, in the export's order.
async fn write_metadata_csv(path: &Path, plan: &Plan, written: &[Vec<bool>]) -> Result<()> {
    let mut out_batches = Vec::with_capacity(plan.batches.len());
    let mut schema = None;
    for ((batch, paths), done) in plan.batches.iter().zip(&plan.paths).zip(written) {
        let path_column: ArrayRef = Arc::new(StringArray::from_iter_values(
            paths.iter().map(|p| p.to_string_lossy().replace('\\', "/")),
        ));
        let mut fields = vec![Arc::new(Field::new("path", DataType::Utf8, false))];
        fields.extend(batch.schema().fields().iter().cloned());
        let batch_schema = Arc::new(Schema::new(fields));
        let mut columns = vec![path_column];
        columns.extend(batch.columns().iter().cloned());
        let full = RecordBatch::try_new(Arc::clone(&batch_schema), columns)?;
        let mask = BooleanArray::from(done.clone());
        out_batches.push(arrow::compute::filter_record_batch(&full, &mask)?);
        schema = Some(batch_schema);
    }
    let schema = schema.unwrap_or_else(|| {
        let mut fields = vec![Field::new("path", DataType::Utf8, false)];
        fields.extend(
            metadata_columns()
                .into_iter()
                .map(|c| Field::new(c, DataType::Utf8, true)),
        );
        Arc::new(Schema::new(fields))
    });
    let file = File::create(path).map_err(Error::io("cannot create", path))?;
    let mut sink = BufWriter::new(file);
    write_batches(
        schema,
        out_batches,
        Format::Csv,
        &mut sink,
        TableOptions::default(),
    )
    .await?;
    sink.flush().map_err(Error::io("cannot write", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_predicate_sees_metadata_and_image_qc_columns() {
        let sql = joined_sql();
        assert!(sql.contains("m.\"density\""), "{sql}");
        assert!(sql.contains("i.\"laterality_flipped\""), "{sql}");
        assert!(!sql.contains("\"tensor\""), "{sql}");
        assert!(!sql.contains("i.\"image_id\""), "{sql}");
    }
}
