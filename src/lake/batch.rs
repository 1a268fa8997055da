//! Turns rows (`crate::record`) into Arrow record batches laid out exactly as
//! the table's declared schema says, column by column, matched by name.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, Float64Array, Int32Array, Int64Array,
    ListBuilder, RecordBatch, StringArray, StringBuilder, UInt16Array,
};
use arrow::datatypes::{DataType, Field};

use crate::error::{Error, Result};
use crate::lake::schema::{ColumnType, Table};
use crate::record::{ExclusionRow, FindingRow, ImageRow, MetadataRow};

/// A borrowed cell value.
pub enum Cell<'a> {
    Str(Option<&'a str>),
    I32(Option<i32>),
    I64(Option<i64>),
    F64(Option<f64>),
    Bool(bool),
    List(&'a [String]),
    Tensor(&'a [u16]),
    /// The row type has no such column.
    Unknown,
}

/// A row type of one lake table.
pub trait LakeRow {
    const TABLE: Table;
    /// The row type's columns, numbered as `cell_at` reads them.
    const COLUMNS: &'static [&'static str];
    /// The value of column `index` of [`Self::COLUMNS`] (an index, not a
    /// name, so building a batch matches each column name once, not once
    /// per row).
    fn cell_at(&self, index: usize) -> Cell<'_>;
    /// The value of the named column.
    fn cell(&self, column: &str) -> Cell<'_> {
        Self::COLUMNS
            .iter()
            .position(|c| *c == column)
            .map_or(Cell::Unknown, |i| self.cell_at(i))
    }
}

/// Builds a batch from rows, in the declared column order, then validates it.
pub fn to_batch<R: LakeRow>(rows: &[R], tensor_shape: (usize, usize)) -> Result<RecordBatch> {
    let table = R::TABLE.schema();
    let schema = table.arrow_schema(tensor_shape);
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table.columns.len());
    for def in &table.columns {
        let name = def.name.as_str();
        let index = R::COLUMNS
            .iter()
            .position(|c| *c == name)
            .unwrap_or(usize::MAX);
        let mismatch = || Error::Schema {
            table: table.table.clone(),
            message: format!(
                "the row type has no {} value for column `{name}`",
                def.column_type.display_name()
            ),
        };
        let array: ArrayRef = match def.column_type {
            ColumnType::Utf8 => Arc::new(
                rows.iter()
                    .map(|r| match r.cell_at(index) {
                        Cell::Str(v) => Ok(v),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<StringArray>>()?,
            ),
            ColumnType::Int32 => Arc::new(
                rows.iter()
                    .map(|r| match r.cell_at(index) {
                        Cell::I32(v) => Ok(v),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<Int32Array>>()?,
            ),
            ColumnType::Int64 => Arc::new(
                rows.iter()
                    .map(|r| match r.cell_at(index) {
                        Cell::I64(v) => Ok(v),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<Int64Array>>()?,
            ),
            ColumnType::Float64 => Arc::new(
                rows.iter()
                    .map(|r| match r.cell_at(index) {
                        Cell::F64(v) => Ok(v),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<Float64Array>>()?,
            ),
            ColumnType::Float32 => Arc::new(
                rows.iter()
                    .map(|r| match r.cell_at(index) {
                        Cell::F64(v) => Ok(v.map(|x| x as f32)),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<Float32Array>>()?,
            ),
            ColumnType::Bool => Arc::new(
                rows.iter()
                    .map(|r| match r.cell_at(index) {
                        Cell::Bool(v) => Ok(Some(v)),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<BooleanArray>>()?,
            ),
            ColumnType::ListUtf8 => {
                let mut builder = ListBuilder::new(StringBuilder::new())
                    .with_field(Arc::new(Field::new("item", DataType::Utf8, true)));
                for r in rows {
                    let Cell::List(items) = r.cell_at(index) else {
                        return Err(mismatch());
                    };
                    for item in items {
                        builder.values().append_value(item);
                    }
                    builder.append(true);
                }
                Arc::new(builder.finish())
            }
            ColumnType::TensorU16 => {
                let (h, w) = tensor_shape;
                let mut values: Vec<u16> = Vec::with_capacity(rows.len() * h * w);
                for r in rows {
                    let Cell::Tensor(pixels) = r.cell_at(index) else {
                        return Err(mismatch());
                    };
                    if pixels.len() != h * w {
                        return Err(Error::InvalidValue {
                            table: table.table.clone(),
                            column: name.into(),
                            value: format!("{} pixels", pixels.len()),
                            row: None,
                            message: format!("the lake's tensors are {h}x{w}"),
                        });
                    }
                    values.extend_from_slice(pixels);
                }
                let item = Arc::new(Field::new("item", DataType::UInt16, true));
                Arc::new(FixedSizeListArray::try_new(
                    item,
                    (h * w) as i32,
                    Arc::new(UInt16Array::from(values)),
                    None,
                )?)
            }
        };
        arrays.push(array);
    }
    let batch = RecordBatch::try_new(schema, arrays)?;
    table.validate(&batch, tensor_shape)?;
    Ok(batch)
}

fn s(v: &str) -> Cell<'_> {
    Cell::Str(Some(v))
}

fn os(v: &Option<String>) -> Cell<'_> {
    Cell::Str(v.as_deref())
}

impl LakeRow for MetadataRow {
    const TABLE: Table = Table::Metadata;
    const COLUMNS: &'static [&'static str] = &[
        "patient_id",
        "study_id",
        "image_id",
        "exam_id",
        "laterality",
        "laterality_source",
        "view_position",
        "age",
        "density",
        "birads",
        "birads_raw",
        "diagnosis",
        "diagnosis_source",
        "mass",
        "calcification",
        "asymmetry",
        "distortion",
        "asymmetry_kinds",
        "mass_shape",
        "mass_margin",
        "mass_density",
        "calc_morphology",
        "calc_distribution",
        "other_findings",
        "split",
        "source_split",
        "raw_path",
        "image_status",
        "source_file",
        "source_row",
    ];
    fn cell_at(&self, index: usize) -> Cell<'_> {
        match index {
            0 => s(&self.patient_id),
            1 => os(&self.study_id),
            2 => s(&self.image_id),
            3 => s(&self.exam_id),
            4 => s(&self.laterality),
            5 => s(&self.laterality_source),
            6 => os(&self.view_position),
            7 => Cell::I32(self.age),
            8 => os(&self.density),
            9 => Cell::I32(self.birads),
            10 => os(&self.birads_raw),
            11 => os(&self.diagnosis),
            12 => os(&self.diagnosis_source),
            13 => Cell::Bool(self.mass),
            14 => Cell::Bool(self.calcification),
            15 => Cell::Bool(self.asymmetry),
            16 => Cell::Bool(self.distortion),
            17 => Cell::List(&self.asymmetry_kinds),
            18 => Cell::List(&self.mass_shape),
            19 => Cell::List(&self.mass_margin),
            20 => Cell::List(&self.mass_density),
            21 => Cell::List(&self.calc_morphology),
            22 => Cell::List(&self.calc_distribution),
            23 => Cell::List(&self.other_findings),
            24 => os(&self.split),
            25 => os(&self.source_split),
            26 => os(&self.raw_path),
            27 => s(&self.image_status),
            28 => s(&self.source_file),
            29 => Cell::I64(Some(self.source_row)),
            _ => Cell::Unknown,
        }
    }
}

impl LakeRow for FindingRow {
    const TABLE: Table = Table::Findings;
    const COLUMNS: &'static [&'static str] = &[
        "image_id",
        "exam_id",
        "patient_id",
        "laterality",
        "view_position",
        "finding",
        "finding_raw",
        "finding_index",
        "birads",
        "birads_raw",
        "pathology",
        "pathology_raw",
        "subtlety",
        "location",
        "mass_shape",
        "mass_margin",
        "mass_density",
        "calc_morphology",
        "calc_distribution",
        "x0",
        "y0",
        "x1",
        "y1",
        "raw_x0",
        "raw_y0",
        "raw_x1",
        "raw_y1",
        "box_clipped",
        "tensor_x0",
        "tensor_y0",
        "tensor_x1",
        "tensor_y1",
        "roi_path",
        "crop_path",
        "outline",
        "source_file",
        "source_row",
    ];
    fn cell_at(&self, index: usize) -> Cell<'_> {
        match index {
            0 => s(&self.image_id),
            1 => s(&self.exam_id),
            2 => s(&self.patient_id),
            3 => s(&self.laterality),
            4 => os(&self.view_position),
            5 => s(&self.finding),
            6 => os(&self.finding_raw),
            7 => Cell::I32(self.finding_index),
            8 => Cell::I32(self.birads),
            9 => os(&self.birads_raw),
            10 => os(&self.pathology),
            11 => os(&self.pathology_raw),
            12 => Cell::I32(self.subtlety),
            13 => os(&self.location),
            14 => Cell::List(&self.mass_shape),
            15 => Cell::List(&self.mass_margin),
            16 => Cell::List(&self.mass_density),
            17 => Cell::List(&self.calc_morphology),
            18 => Cell::List(&self.calc_distribution),
            19 => Cell::F64(self.x0),
            20 => Cell::F64(self.y0),
            21 => Cell::F64(self.x1),
            22 => Cell::F64(self.y1),
            23 => Cell::F64(self.raw_x0),
            24 => Cell::F64(self.raw_y0),
            25 => Cell::F64(self.raw_x1),
            26 => Cell::F64(self.raw_y1),
            27 => Cell::Bool(self.box_clipped),
            28 => Cell::F64(self.tensor_x0),
            29 => Cell::F64(self.tensor_y0),
            30 => Cell::F64(self.tensor_x1),
            31 => Cell::F64(self.tensor_y1),
            32 => os(&self.roi_path),
            33 => os(&self.crop_path),
            34 => os(&self.outline),
            35 => s(&self.source_file),
            36 => Cell::I64(Some(self.source_row)),
            _ => Cell::Unknown,
        }
    }
}

impl LakeRow for ExclusionRow {
    const TABLE: Table = Table::Exclusions;
    const COLUMNS: &'static [&'static str] = &[
        "level",
        "source_file",
        "source_row",
        "patient_id",
        "laterality",
        "view_position",
        "image_id",
        "exam_id",
        "column",
        "raw_value",
        "reason",
        "detail",
    ];
    fn cell_at(&self, index: usize) -> Cell<'_> {
        match index {
            0 => s(&self.level),
            1 => s(&self.source_file),
            2 => Cell::I64(self.source_row),
            3 => os(&self.patient_id),
            4 => os(&self.laterality),
            5 => os(&self.view_position),
            6 => os(&self.image_id),
            7 => os(&self.exam_id),
            8 => os(&self.column),
            9 => os(&self.raw_value),
            10 => s(&self.reason),
            11 => s(&self.detail),
            _ => Cell::Unknown,
        }
    }
}

impl LakeRow for ImageRow {
    const TABLE: Table = Table::Images;
    const COLUMNS: &'static [&'static str] = &[
        "image_id",
        "rows",
        "columns",
        "bits_stored",
        "photometric",
        "transfer_syntax",
        "modality_kind",
        "manufacturer",
        "model",
        "presentation_intent",
        "pixel_spacing_mm",
        "window_center",
        "window_width",
        "voi_lut_function",
        "source_min",
        "source_max",
        "pixel_data_sha256",
        "decode_reduction",
        "intensity_inverted",
        "inversion_reason",
        "inversion_score",
        "chest_wall_side",
        "laterality_score",
        "laterality_flipped",
        "hflip_applied",
        "norm_low",
        "norm_high",
        "crop_x0",
        "crop_y0",
        "crop_x1",
        "crop_y1",
        "scale",
        "pad_left",
        "pad_top",
        "qc_method",
        "tensor",
    ];
    fn cell_at(&self, index: usize) -> Cell<'_> {
        match index {
            0 => s(&self.image_id),
            1 => Cell::I32(Some(self.rows)),
            2 => Cell::I32(Some(self.columns)),
            3 => Cell::I32(Some(self.bits_stored)),
            4 => os(&self.photometric),
            5 => os(&self.transfer_syntax),
            6 => s(&self.modality_kind),
            7 => os(&self.manufacturer),
            8 => os(&self.model),
            9 => os(&self.presentation_intent),
            10 => Cell::F64(self.pixel_spacing_mm),
            11 => Cell::F64(self.window_center),
            12 => Cell::F64(self.window_width),
            13 => os(&self.voi_lut_function),
            14 => Cell::F64(Some(self.source_min)),
            15 => Cell::F64(Some(self.source_max)),
            16 => s(&self.pixel_data_sha256),
            17 => Cell::I32(Some(self.decode_reduction)),
            18 => Cell::Bool(self.intensity_inverted),
            19 => os(&self.inversion_reason),
            20 => Cell::F64(self.inversion_score),
            21 => os(&self.chest_wall_side),
            22 => Cell::F64(self.laterality_score),
            23 => Cell::Bool(self.laterality_flipped),
            24 => Cell::Bool(self.hflip_applied),
            25 => Cell::F64(Some(self.norm_low)),
            26 => Cell::F64(Some(self.norm_high)),
            27 => Cell::I32(Some(self.crop_x0)),
            28 => Cell::I32(Some(self.crop_y0)),
            29 => Cell::I32(Some(self.crop_x1)),
            30 => Cell::I32(Some(self.crop_y1)),
            31 => Cell::F64(Some(self.scale)),
            32 => Cell::I32(Some(self.pad_left)),
            33 => Cell::I32(Some(self.pad_top)),
            34 => os(&self.qc_method),
            35 => Cell::Tensor(&self.tensor),
            _ => Cell::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_types_cover_every_declared_column() {
        // An empty batch still walks every column: a column without a value
        // in the row type would fail here, a typed mismatch in the first row.
        to_batch::<MetadataRow>(&[MetadataRow::default()], (1, 1)).unwrap_err();
        let meta = MetadataRow {
            laterality: "L".into(),
            laterality_source: "metadata".into(),
            image_status: "ok".into(),
            ..Default::default()
        };
        assert_eq!(to_batch(&[meta], (1, 1)).unwrap().num_rows(), 1);
        let excl = ExclusionRow {
            level: "record".into(),
            reason: "duplicate".into(),
            ..Default::default()
        };
        assert_eq!(to_batch(&[excl], (1, 1)).unwrap().num_rows(), 1);
        let finding = FindingRow {
            laterality: "R".into(),
            finding: "mass".into(),
            ..Default::default()
        };
        assert_eq!(to_batch(&[finding], (1, 1)).unwrap().num_rows(), 1);
        let image = ImageRow {
            modality_kind: "digital".into(),
            tensor: vec![7; 6],
            ..Default::default()
        };
        let batch = to_batch(&[image], (3, 2)).unwrap();
        assert_eq!(batch.num_rows(), 1);
    }

    #[test]
    fn wrong_tensor_size_is_an_error() {
        let image = ImageRow {
            modality_kind: "digital".into(),
            tensor: vec![7; 5],
            ..Default::default()
        };
        let err = to_batch(&[image], (3, 2)).unwrap_err().to_string();
        assert!(err.contains("3x2"), "{err}");
    }
}
