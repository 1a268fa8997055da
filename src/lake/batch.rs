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
    /// The value of the named column.
    fn cell(&self, column: &str) -> Cell<'_>;
}

/// Builds a batch from rows, in the declared column order, then validates it.
pub fn to_batch<R: LakeRow>(rows: &[R], tensor_shape: (usize, usize)) -> Result<RecordBatch> {
    let table = R::TABLE.schema();
    let schema = table.arrow_schema(tensor_shape);
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table.columns.len());
    for def in &table.columns {
        let name = def.name.as_str();
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
                    .map(|r| match r.cell(name) {
                        Cell::Str(v) => Ok(v),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<StringArray>>()?,
            ),
            ColumnType::Int32 => Arc::new(
                rows.iter()
                    .map(|r| match r.cell(name) {
                        Cell::I32(v) => Ok(v),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<Int32Array>>()?,
            ),
            ColumnType::Int64 => Arc::new(
                rows.iter()
                    .map(|r| match r.cell(name) {
                        Cell::I64(v) => Ok(v),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<Int64Array>>()?,
            ),
            ColumnType::Float64 => Arc::new(
                rows.iter()
                    .map(|r| match r.cell(name) {
                        Cell::F64(v) => Ok(v),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<Float64Array>>()?,
            ),
            ColumnType::Float32 => Arc::new(
                rows.iter()
                    .map(|r| match r.cell(name) {
                        Cell::F64(v) => Ok(v.map(|x| x as f32)),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<Float32Array>>()?,
            ),
            ColumnType::Bool => Arc::new(
                rows.iter()
                    .map(|r| match r.cell(name) {
                        Cell::Bool(v) => Ok(Some(v)),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<BooleanArray>>()?,
            ),
            ColumnType::ListUtf8 => {
                let mut builder = ListBuilder::new(StringBuilder::new())
                    .with_field(Arc::new(Field::new("item", DataType::Utf8, true)));
                for r in rows {
                    let Cell::List(items) = r.cell(name) else {
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
                    let Cell::Tensor(pixels) = r.cell(name) else {
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
    fn cell(&self, column: &str) -> Cell<'_> {
        match column {
            "patient_id" => s(&self.patient_id),
            "study_id" => os(&self.study_id),
            "image_id" => s(&self.image_id),
            "exam_id" => s(&self.exam_id),
            "laterality" => s(&self.laterality),
            "laterality_source" => s(&self.laterality_source),
            "view_position" => os(&self.view_position),
            "age" => Cell::I32(self.age),
            "density" => os(&self.density),
            "birads" => Cell::I32(self.birads),
            "birads_raw" => os(&self.birads_raw),
            "diagnosis" => os(&self.diagnosis),
            "diagnosis_source" => os(&self.diagnosis_source),
            "mass" => Cell::Bool(self.mass),
            "calcification" => Cell::Bool(self.calcification),
            "asymmetry" => Cell::Bool(self.asymmetry),
            "distortion" => Cell::Bool(self.distortion),
            "asymmetry_kinds" => Cell::List(&self.asymmetry_kinds),
            "mass_shape" => Cell::List(&self.mass_shape),
            "mass_margin" => Cell::List(&self.mass_margin),
            "mass_density" => Cell::List(&self.mass_density),
            "calc_morphology" => Cell::List(&self.calc_morphology),
            "calc_distribution" => Cell::List(&self.calc_distribution),
            "other_findings" => Cell::List(&self.other_findings),
            "split" => os(&self.split),
            "source_split" => os(&self.source_split),
            "raw_path" => os(&self.raw_path),
            "image_status" => s(&self.image_status),
            "source_file" => s(&self.source_file),
            "source_row" => Cell::I64(Some(self.source_row)),
            _ => Cell::Unknown,
        }
    }
}

impl LakeRow for FindingRow {
    const TABLE: Table = Table::Findings;
    fn cell(&self, column: &str) -> Cell<'_> {
        match column {
            "image_id" => s(&self.image_id),
            "exam_id" => s(&self.exam_id),
            "patient_id" => s(&self.patient_id),
            "laterality" => s(&self.laterality),
            "view_position" => os(&self.view_position),
            "finding" => s(&self.finding),
            "finding_raw" => os(&self.finding_raw),
            "finding_index" => Cell::I32(self.finding_index),
            "birads" => Cell::I32(self.birads),
            "birads_raw" => os(&self.birads_raw),
            "pathology" => os(&self.pathology),
            "pathology_raw" => os(&self.pathology_raw),
            "subtlety" => Cell::I32(self.subtlety),
            "location" => os(&self.location),
            "mass_shape" => Cell::List(&self.mass_shape),
            "mass_margin" => Cell::List(&self.mass_margin),
            "mass_density" => Cell::List(&self.mass_density),
            "calc_morphology" => Cell::List(&self.calc_morphology),
            "calc_distribution" => Cell::List(&self.calc_distribution),
            "x0" => Cell::F64(self.x0),
            "y0" => Cell::F64(self.y0),
            "x1" => Cell::F64(self.x1),
            "y1" => Cell::F64(self.y1),
            "raw_x0" => Cell::F64(self.raw_x0),
            "raw_y0" => Cell::F64(self.raw_y0),
            "raw_x1" => Cell::F64(self.raw_x1),
            "raw_y1" => Cell::F64(self.raw_y1),
            "box_clipped" => Cell::Bool(self.box_clipped),
            "tensor_x0" => Cell::F64(self.tensor_x0),
            "tensor_y0" => Cell::F64(self.tensor_y0),
            "tensor_x1" => Cell::F64(self.tensor_x1),
            "tensor_y1" => Cell::F64(self.tensor_y1),
            "roi_path" => os(&self.roi_path),
            "crop_path" => os(&self.crop_path),
            "outline" => os(&self.outline),
            "source_file" => s(&self.source_file),
            "source_row" => Cell::I64(Some(self.source_row)),
            _ => Cell::Unknown,
        }
    }
}

impl LakeRow for ExclusionRow {
    const TABLE: Table = Table::Exclusions;
    fn cell(&self, column: &str) -> Cell<'_> {
        match column {
            "level" => s(&self.level),
            "source_file" => s(&self.source_file),
            "source_row" => Cell::I64(self.source_row),
            "patient_id" => os(&self.patient_id),
            "laterality" => os(&self.laterality),
            "view_position" => os(&self.view_position),
            "image_id" => os(&self.image_id),
            "exam_id" => os(&self.exam_id),
            "column" => os(&self.column),
            "raw_value" => os(&self.raw_value),
            "reason" => s(&self.reason),
            "detail" => s(&self.detail),
            _ => Cell::Unknown,
        }
    }
}

impl LakeRow for ImageRow {
    const TABLE: Table = Table::Images;
    fn cell(&self, column: &str) -> Cell<'_> {
        match column {
            "image_id" => s(&self.image_id),
            "rows" => Cell::I32(Some(self.rows)),
            "columns" => Cell::I32(Some(self.columns)),
            "bits_stored" => Cell::I32(Some(self.bits_stored)),
            "photometric" => os(&self.photometric),
            "transfer_syntax" => os(&self.transfer_syntax),
            "modality_kind" => s(&self.modality_kind),
            "manufacturer" => os(&self.manufacturer),
            "model" => os(&self.model),
            "presentation_intent" => os(&self.presentation_intent),
            "pixel_spacing_mm" => Cell::F64(self.pixel_spacing_mm),
            "window_center" => Cell::F64(self.window_center),
            "window_width" => Cell::F64(self.window_width),
            "voi_lut_function" => os(&self.voi_lut_function),
            "source_min" => Cell::F64(Some(self.source_min)),
            "source_max" => Cell::F64(Some(self.source_max)),
            "pixel_data_sha256" => s(&self.pixel_data_sha256),
            "decode_reduction" => Cell::I32(Some(self.decode_reduction)),
            "intensity_inverted" => Cell::Bool(self.intensity_inverted),
            "inversion_reason" => os(&self.inversion_reason),
            "inversion_score" => Cell::F64(self.inversion_score),
            "chest_wall_side" => os(&self.chest_wall_side),
            "laterality_score" => Cell::F64(self.laterality_score),
            "laterality_flipped" => Cell::Bool(self.laterality_flipped),
            "hflip_applied" => Cell::Bool(self.hflip_applied),
            "norm_low" => Cell::F64(Some(self.norm_low)),
            "norm_high" => Cell::F64(Some(self.norm_high)),
            "crop_x0" => Cell::I32(Some(self.crop_x0)),
            "crop_y0" => Cell::I32(Some(self.crop_y0)),
            "crop_x1" => Cell::I32(Some(self.crop_x1)),
            "crop_y1" => Cell::I32(Some(self.crop_y1)),
            "scale" => Cell::F64(Some(self.scale)),
            "pad_left" => Cell::I32(Some(self.pad_left)),
            "pad_top" => Cell::I32(Some(self.pad_top)),
            "qc_method" => os(&self.qc_method),
            "tensor" => Cell::Tensor(&self.tensor),
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
