//! Query results out: a terminal table, CSV, JSON or NDJSON on stdout, or a
//! `.csv`, `.json`, `.ndjson` or `.parquet` file. CSV booleans are
//! `true`/`false`, nulls empty, list values a JSON array in one field; JSON
//! keeps null keys as `null`; the table truncates long values but always says
//! how many rows it did not show.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use comfy_table::{ContentArrangement, Table as TextTable, presets};
use datafusion::prelude::DataFrame;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    Ndjson,
    Parquet,
}

impl Format {
    /// The format a file name's extension asks for.
    pub fn from_extension(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("json") => Ok(Format::Json),
            Some("ndjson") | Some("jsonl") => Ok(Format::Ndjson),
            Some("parquet") => Ok(Format::Parquet),
            _ => Err(Error::Usage(format!(
                "cannot tell the output format of {}: use a .csv, .json, .ndjson or .parquet file name",
                path.display()
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Parquet => "parquet",
        }
    }
}

/// Where results go.
#[derive(Debug, Clone)]
pub enum OutputTarget {
    Stdout(Format),
    File(PathBuf, Format),
}

impl OutputTarget {
    /// Resolves `--format` and `-o`: the file's extension decides, and a
    /// `--format` that disagrees with it is a usage error.
    pub fn resolve(format: Option<Format>, output: Option<PathBuf>) -> Result<OutputTarget> {
        match output {
            None => Ok(OutputTarget::Stdout(format.unwrap_or(Format::Table))),
            Some(path) => {
                let by_extension = Format::from_extension(&path)?;
                if let Some(f) = format
                    && f != by_extension
                {
                    return Err(Error::Usage(format!(
                        "--format {} conflicts with the output file {} (which is {})",
                        f.name(),
                        path.display(),
                        by_extension.name()
                    )));
                }
                Ok(OutputTarget::File(path, by_extension))
            }
        }
    }
}

/// Options of the terminal table.
#[derive(Debug, Clone, Copy)]
pub struct TableOptions {
    pub max_rows: usize,
    pub max_value_chars: usize,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            max_rows: 500,
            max_value_chars: 60,
        }
    }
}

/// Runs a query and writes its result. Returns the number of rows.
pub async fn write_result(
    df: DataFrame,
    target: &OutputTarget,
    table: TableOptions,
) -> Result<u64> {
    match target {
        OutputTarget::Stdout(format) => {
            let mut stdout = BufWriter::new(std::io::stdout());
            let rows = write_to(df, *format, &mut stdout, table).await?;
            stdout
                .flush()
                .map_err(Error::io("cannot write", "stdout"))?;
            Ok(rows)
        }
        OutputTarget::File(path, format) => {
            let file = File::create(path).map_err(Error::io("cannot create", path))?;
            let mut writer = BufWriter::new(file);
            let rows = write_to(df, *format, &mut writer, table).await?;
            writer.flush().map_err(Error::io("cannot write", path))?;
            Ok(rows)
        }
    }
}

/// Writes a query's result in one format to a writer.
pub async fn write_to<W: Write + Send>(
    df: DataFrame,
    format: Format,
    out: &mut W,
    table: TableOptions,
) -> Result<u64> {
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let stream = df.execute_stream().await?;
    write_stream(schema, stream, format, out, table).await
}

/// Writes batches already computed (reports post-process theirs).
pub async fn write_batches<W: Write + Send>(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    format: Format,
    out: &mut W,
    table: TableOptions,
) -> Result<u64> {
    let stream = futures::stream::iter(
        batches
            .into_iter()
            .map(Ok::<_, datafusion::error::DataFusionError>),
    );
    write_stream(schema, stream, format, out, table).await
}

async fn write_stream<W: Write + Send, S>(
    schema: SchemaRef,
    mut stream: S,
    format: Format,
    out: &mut W,
    table: TableOptions,
) -> Result<u64>
where
    S: futures::Stream<Item = std::result::Result<RecordBatch, datafusion::error::DataFusionError>>
        + Unpin
        + Send,
{
    let mut rows = 0u64;
    match format {
        Format::Table => {
            let mut batches = Vec::new();
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                batches.push(batch);
            }
            render_table(&schema, &batches, table, out)?;
        }
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            let mut wrote_any = false;
            while let Some(batch) = stream.next().await {
                let batch = nested_as_json(&batch?)?;
                rows += batch.num_rows() as u64;
                writer.write(&batch)?;
                wrote_any = true;
            }
            if !wrote_any {
                // A header even for an empty result.
                let empty = RecordBatch::new_empty(csv_schema(&schema));
                writer.write(&empty)?;
            }
        }
        Format::Json => {
            let mut writer = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::JsonArray>(out);
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                writer.write(&batch)?;
            }
            writer.finish()?;
            let out = writer.into_inner();
            out.write_all(b"\n")
                .map_err(Error::io("cannot write", "output"))?;
        }
        Format::Ndjson => {
            let mut writer = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::LineDelimited>(out);
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                writer.write(&batch)?;
            }
            writer.finish()?;
        }
        Format::Parquet => {
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(
                    ZstdLevel::try_new(3).expect("valid level"),
                ))
                .build();
            let mut writer = ArrowWriter::try_new(out, schema, Some(props)).map_err(|source| {
                Error::Parquet {
                    path: "output".into(),
                    source,
                }
            })?;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                writer.write(&batch).map_err(|source| Error::Parquet {
                    path: "output".into(),
                    source,
                })?;
            }
            writer.close().map_err(|source| Error::Parquet {
                path: "output".into(),
                source,
            })?;
        }
    }
    Ok(rows)
}

fn is_nested(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
            | DataType::FixedSizeList(_, _)
            | DataType::Struct(_)
            | DataType::Map(_, _)
    )
}

fn csv_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| {
                if is_nested(f.data_type()) {
                    Field::new(f.name(), DataType::Utf8, true)
                } else {
                    f.as_ref().clone()
                }
            })
            .collect::<Vec<_>>(),
    ))
}

/// Replaces nested columns (lists, structs) by their JSON text, for CSV.
fn nested_as_json(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| is_nested(f.data_type())) {
        return Ok(batch.clone());
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if !is_nested(field.data_type()) {
            columns.push(Arc::clone(column));
            continue;
        }
        let one = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "v",
                field.data_type().clone(),
                true,
            )])),
            vec![Arc::clone(column)],
        )?;
        let mut buf = Vec::new();
        {
            let mut w = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::LineDelimited>(&mut buf);
            w.write(&one)?;
            w.finish()?;
        }
        let text = String::from_utf8_lossy(&buf);
        let values: Vec<Option<String>> = text
            .lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
                match v.get("v") {
                    None | Some(serde_json::Value::Null) => None,
                    Some(v) => Some(v.to_string()),
                }
            })
            .collect();
        columns.push(Arc::new(StringArray::from(values)));
    }
    Ok(RecordBatch::try_new(csv_schema(&schema), columns)?)
}

/// Short text for a tensor column value.
fn tensor_label(field: &Field) -> Option<String> {
    if field
        .metadata()
        .get("ARROW:extension:name")
        .map(String::as_str)
        != Some("arrow.fixed_shape_tensor")
    {
        return None;
    }
    let shape = field
        .metadata()
        .get("ARROW:extension:metadata")
        .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
        .and_then(|v| v.get("shape").cloned())
        .and_then(|s| s.as_array().cloned())
        .map(|dims| {
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("x")
        })
        .unwrap_or_default();
    Some(format!("<tensor {shape}>"))
}

fn render_table<W: Write>(
    schema: &Schema,
    batches: &[RecordBatch],
    options: TableOptions,
    out: &mut W,
) -> Result<()> {
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut table = TextTable::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(schema.fields().iter().map(|f| f.name().to_string()));
    let format = FormatOptions::default().with_null("NULL");
    let mut shown = 0usize;
    'outer: for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(c, f)| match tensor_label(f) {
                Some(label) => Ok(Err(label)),
                None => ArrayFormatter::try_new(c.as_ref(), &format).map(Ok),
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            if shown == options.max_rows {
                break 'outer;
            }
            let cells: Vec<String> = formatters
                .iter()
                .zip(batch.columns())
                .map(|(f, c)| match f {
                    Ok(f) => truncate(&f.value(row).to_string(), options.max_value_chars),
                    Err(label) if c.is_null(row) => "NULL".to_string(),
                    Err(label) => label.clone(),
                })
                .collect();
            table.add_row(cells);
            shown += 1;
        }
    }
    let io = Error::io("cannot write", "stdout");
    writeln!(out, "{table}").map_err(io)?;
    let more = total - shown;
    let summary = if more > 0 {
        format!("{total} rows; {more} more not shown (use --format csv or -o FILE for all)")
    } else if total == 1 {
        "1 row".to_string()
    } else {
        format!("{total} rows")
    };
    writeln!(out, "{summary}").map_err(Error::io("cannot write", "stdout"))?;
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_extension_and_conflicts_are_usage_errors() {
        let t = OutputTarget::resolve(None, Some("a/b.parquet".into())).unwrap();
        assert!(matches!(t, OutputTarget::File(_, Format::Parquet)));
        let e = OutputTarget::resolve(Some(Format::Json), Some("x.csv".into())).unwrap_err();
        assert!(e.is_usage());
        assert!(
            OutputTarget::resolve(None, Some("x.txt".into()))
                .unwrap_err()
                .is_usage()
        );
        assert!(matches!(
            OutputTarget::resolve(Some(Format::Csv), None).unwrap(),
            OutputTarget::Stdout(Format::Csv)
        ));
    }

    #[test]
    fn truncates_long_values() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
