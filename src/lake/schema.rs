//! Column schemas of the lake tables, loaded from `schemas/*.json` (embedded in
//! the binary). They give every column its Arrow type, nullability, one-line
//! doc and, for closed vocabularies, the allowed values; the lake writer checks
//! every batch against them before a byte reaches disk.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use serde::Deserialize;

use crate::error::{Error, Result};

/// The tables of the lake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Metadata,
    Images,
    Findings,
    Exclusions,
}

impl Table {
    /// Every lake table, in display order.
    pub const ALL: [Table; 4] = [
        Table::Metadata,
        Table::Images,
        Table::Findings,
        Table::Exclusions,
    ];

    /// The table's name: its folder in the lake and its SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Metadata => "metadata",
            Table::Images => "images",
            Table::Findings => "findings",
            Table::Exclusions => "exclusions",
        }
    }

    /// Looks a table up by name.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    fn source(self) -> &'static str {
        match self {
            Table::Metadata => include_str!("../../schemas/metadata.json"),
            Table::Images => include_str!("../../schemas/images.json"),
            Table::Findings => include_str!("../../schemas/findings.json"),
            Table::Exclusions => include_str!("../../schemas/exclusions.json"),
        }
    }

    /// The table's declared schema.
    pub fn schema(self) -> &'static TableSchema {
        static SCHEMAS: OnceLock<HashMap<Table, TableSchema>> = OnceLock::new();
        let all = SCHEMAS.get_or_init(|| {
            Table::ALL
                .into_iter()
                .map(|t| {
                    let schema = TableSchema::parse(t.source())
                        .unwrap_or_else(|e| panic!("embedded schemas/{}.json: {e}", t.name()));
                    (t, schema)
                })
                .collect()
        });
        &all[&self]
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The name of the partition column every table has (from the folder path).
pub const DATASET_COLUMN: &str = "dataset";

/// The column type names the schema files use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ColumnType {
    #[serde(rename = "utf8")]
    Utf8,
    #[serde(rename = "int32")]
    Int32,
    #[serde(rename = "int64")]
    Int64,
    #[serde(rename = "float32")]
    Float32,
    #[serde(rename = "float64")]
    Float64,
    #[serde(rename = "bool")]
    Bool,
    #[serde(rename = "list<utf8>")]
    ListUtf8,
    #[serde(rename = "tensor<uint16>")]
    TensorU16,
}

impl ColumnType {
    /// The Arrow type; tensors need the lake's tensor shape.
    pub fn arrow_type(self, tensor_shape: (usize, usize)) -> DataType {
        match self {
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float32 => DataType::Float32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::ListUtf8 => {
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
            }
            ColumnType::TensorU16 => {
                let (h, w) = tensor_shape;
                // The item field must be nullable, or pyarrow reads a plain list
                // (see docs/stack.md).
                DataType::FixedSizeList(
                    Arc::new(Field::new("item", DataType::UInt16, true)),
                    (h * w) as i32,
                )
            }
        }
    }

    /// A short name for display (`\d TABLE`).
    pub fn display_name(self) -> &'static str {
        match self {
            ColumnType::Utf8 => "utf8",
            ColumnType::Int32 => "int32",
            ColumnType::Int64 => "int64",
            ColumnType::Float32 => "float32",
            ColumnType::Float64 => "float64",
            ColumnType::Bool => "bool",
            ColumnType::ListUtf8 => "list<utf8>",
            ColumnType::TensorU16 => "tensor<uint16>[H,W]",
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    pub nullable: bool,
    pub doc: String,
    /// The closed vocabulary, when there is one (for lists: of each element).
    #[serde(default)]
    pub allowed: Option<Vec<String>>,
}

/// A table's declared schema, as in `schemas/<table>.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct TableSchema {
    pub table: String,
    pub version: u32,
    pub doc: String,
    pub columns: Vec<ColumnDef>,
}

impl TableSchema {
    /// Parses and checks a schema file.
    pub fn parse(text: &str) -> Result<TableSchema> {
        let schema: TableSchema = serde_json::from_str(text).map_err(|source| Error::Json {
            context: "schema file".into(),
            source,
        })?;
        let mut seen = std::collections::HashSet::new();
        for c in &schema.columns {
            if !seen.insert(c.name.as_str()) {
                return Err(Error::Schema {
                    table: schema.table.clone(),
                    message: format!("column `{}` declared twice", c.name),
                });
            }
            if c.name == DATASET_COLUMN {
                return Err(Error::Schema {
                    table: schema.table.clone(),
                    message: "`dataset` lives in the partition path, not in the files".into(),
                });
            }
            if c.allowed.is_some()
                && !matches!(c.column_type, ColumnType::Utf8 | ColumnType::ListUtf8)
            {
                return Err(Error::Schema {
                    table: schema.table.clone(),
                    message: format!("column `{}`: `allowed` needs a utf8 column", c.name),
                });
            }
        }
        Ok(schema)
    }

    /// Looks a column up by name.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The Arrow schema of the table's files (without the `dataset` partition
    /// column). The tensor column carries the `arrow.fixed_shape_tensor`
    /// extension with the given shape.
    pub fn arrow_schema(&self, tensor_shape: (usize, usize)) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| {
                let field = Field::new(&c.name, c.column_type.arrow_type(tensor_shape), c.nullable);
                if c.column_type == ColumnType::TensorU16 {
                    field.with_metadata(tensor_extension_metadata(tensor_shape))
                } else {
                    field
                }
            })
            .collect();
        Arc::new(Schema::new(fields))
    }

    /// Checks that a batch matches the declared schema: column names, types and
    /// order, no nulls in non-nullable columns, every value of a closed
    /// vocabulary allowed. Errors name the column, the value and the source row.
    pub fn validate(&self, batch: &RecordBatch, tensor_shape: (usize, usize)) -> Result<()> {
        let expected = self.arrow_schema(tensor_shape);
        let actual = batch.schema();
        if expected.fields().len() != actual.fields().len() {
            return Err(self.schema_error(format!(
                "batch has {} columns, the schema declares {}",
                actual.fields().len(),
                expected.fields().len()
            )));
        }
        let source_rows = batch
            .column_by_name("source_row")
            .and_then(|c| c.as_primitive_opt::<Int64Type>().cloned());
        let row_of = |i: usize| {
            source_rows
                .as_ref()
                .and_then(|a| a.is_valid(i).then(|| a.value(i)))
        };
        for ((want, got), (def, array)) in expected
            .fields()
            .iter()
            .zip(actual.fields())
            .zip(self.columns.iter().zip(batch.columns()))
        {
            if want.name() != got.name() || want.data_type() != got.data_type() {
                return Err(self.schema_error(format!(
                    "column {} is `{}` {}, the schema declares `{}` {}",
                    self.columns
                        .iter()
                        .position(|c| c.name == def.name)
                        .unwrap_or(0),
                    got.name(),
                    got.data_type(),
                    want.name(),
                    want.data_type()
                )));
            }
            if !def.nullable && array.null_count() > 0 {
                let i = (0..array.len()).find(|&i| array.is_null(i)).unwrap_or(0);
                return Err(Error::InvalidValue {
                    table: self.table.clone(),
                    column: def.name.clone(),
                    value: "null".into(),
                    row: row_of(i),
                    message: "is not nullable".into(),
                });
            }
            if let Some(allowed) = &def.allowed {
                let check = |value: &str, i: usize| -> Result<()> {
                    if allowed.iter().any(|a| a == value) {
                        Ok(())
                    } else {
                        Err(Error::InvalidValue {
                            table: self.table.clone(),
                            column: def.name.clone(),
                            value: value.to_string(),
                            row: row_of(i),
                            message: format!("not one of {}", allowed.join(", ")),
                        })
                    }
                };
                match def.column_type {
                    ColumnType::Utf8 => {
                        let strings = array.as_string::<i32>();
                        for (i, v) in strings.iter().enumerate() {
                            if let Some(v) = v {
                                check(v, i)?;
                            }
                        }
                    }
                    ColumnType::ListUtf8 => {
                        let lists = array.as_list::<i32>();
                        for i in 0..lists.len() {
                            if lists.is_null(i) {
                                continue;
                            }
                            let items = lists.value(i);
                            for v in items.as_string::<i32>().iter().flatten() {
                                check(v, i)?;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn schema_error(&self, message: String) -> Error {
        Error::Schema {
            table: self.table.clone(),
            message,
        }
    }
}

/// Field metadata that marks a column as an `arrow.fixed_shape_tensor`.
/// Written by hand: pyarrow refuses the `"dim_names":null` arrow-rs writes.
pub fn tensor_extension_metadata((h, w): (usize, usize)) -> HashMap<String, String> {
    HashMap::from([
        (
            "ARROW:extension:name".to_string(),
            "arrow.fixed_shape_tensor".to_string(),
        ),
        (
            "ARROW:extension:metadata".to_string(),
            format!("{{\"shape\":[{h},{w}]}}"),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array, StringArray};

    #[test]
    fn every_embedded_schema_parses() {
        for t in Table::ALL {
            let s = t.schema();
            assert_eq!(s.table, t.name());
            assert!(!s.columns.is_empty());
            for c in &s.columns {
                assert!(!c.doc.trim().is_empty(), "{}.{} has no doc", t, c.name);
            }
        }
    }

    #[test]
    fn tensor_column_has_extension_metadata() {
        let schema = Table::Images.schema().arrow_schema((4, 2));
        let tensor = schema.field_with_name("tensor").unwrap();
        assert_eq!(
            tensor.metadata()["ARROW:extension:metadata"],
            "{\"shape\":[4,2]}"
        );
        assert!(
            matches!(tensor.data_type(), DataType::FixedSizeList(item, 8) if item.is_nullable())
        );
    }

    #[test]
    fn rejects_value_outside_vocabulary_with_row() {
        let schema = TableSchema::parse(
            r#"{"table":"t","version":1,"doc":"d","columns":[
                {"name":"density","type":"utf8","nullable":true,"doc":"d","allowed":["A","B"]},
                {"name":"source_row","type":"int64","nullable":false,"doc":"d"}]}"#,
        )
        .unwrap();
        let batch = RecordBatch::try_new(
            schema.arrow_schema((1, 1)),
            vec![
                Arc::new(StringArray::from(vec![Some("A"), None, Some("E")])) as ArrayRef,
                Arc::new(Int64Array::from(vec![2, 3, 4])),
            ],
        )
        .unwrap();
        let err = schema.validate(&batch, (1, 1)).unwrap_err().to_string();
        assert_eq!(
            err,
            "t: column `density`: not one of A, B (value \"E\", source row 4)"
        );
    }

    #[test]
    fn rejects_dataset_column_and_duplicates() {
        let dup = r#"{"table":"t","version":1,"doc":"d","columns":[
            {"name":"a","type":"utf8","nullable":true,"doc":"d"},
            {"name":"a","type":"utf8","nullable":true,"doc":"d"}]}"#;
        assert!(TableSchema::parse(dup).is_err());
        let ds = r#"{"table":"t","version":1,"doc":"d","columns":[
            {"name":"dataset","type":"utf8","nullable":true,"doc":"d"}]}"#;
        assert!(TableSchema::parse(ds).is_err());
    }
}
