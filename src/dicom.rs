//! DICOM headers: read a file up to (not including) its pixel data and pick
//! the attributes the adapters and the image pipeline need. Tolerant of the
//! defects of real datasets (non-numeric UIDs, dummy meta, odd values): a
//! missing or unreadable attribute is `None`, never an error.

use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};

use crate::error::{Error, Result};

/// The header attributes mcq uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    pub transfer_syntax: Option<String>,
    pub sop_instance_uid: Option<String>,
    pub study_instance_uid: Option<String>,
    pub series_instance_uid: Option<String>,
    pub patient_id: Option<String>,
    pub patient_age: Option<String>,
    /// ImageLaterality (0020,0062).
    pub image_laterality: Option<String>,
    /// Laterality (0020,0060), the series-level attribute.
    pub laterality: Option<String>,
    pub view_position: Option<String>,
    /// `ViewCodeSequence[0]` CodeMeaning and CodeValue.
    pub view_code_meaning: Option<String>,
    pub view_code_value: Option<String>,
    pub patient_orientation: Option<String>,
    pub rows: Option<u32>,
    pub columns: Option<u32>,
    pub bits_allocated: Option<u32>,
    pub bits_stored: Option<u32>,
    pub photometric: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub presentation_intent: Option<String>,
    pub pixel_spacing_mm: Option<f64>,
    pub window_center: Option<f64>,
    pub window_width: Option<f64>,
    pub voi_lut_function: Option<String>,
}

impl Header {
    /// PresentationIntentType `FOR PROCESSING`: raw detector data.
    pub fn is_for_processing(&self) -> bool {
        self.presentation_intent
            .as_deref()
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("FOR PROCESSING"))
    }
}

/// Reads a file's header, stopping before the pixel data.
pub fn read_header(path: &Path) -> Result<Header> {
    let object = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .open_file(path)
        .map_err(|e| {
            Error::Other(format!(
                "{}: not a readable DICOM file: {e}",
                path.display()
            ))
        })?;
    Ok(header_of(&object))
}

fn text(object: &InMemDicomObject, tag: dicom_core::Tag) -> Option<String> {
    let element = object.element_opt(tag).ok()??;
    let value = element.to_str().ok()?;
    let value = value.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!value.is_empty()).then(|| value.to_string())
}

fn number(object: &InMemDicomObject, tag: dicom_core::Tag) -> Option<f64> {
    let element = object.element_opt(tag).ok()??;
    // Multi-valued (WindowCenter "40\\80"): the first value.
    let raw = element.to_str().ok()?;
    raw.split('\\')
        .next()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

fn unsigned(object: &InMemDicomObject, tag: dicom_core::Tag) -> Option<u32> {
    object.element_opt(tag).ok()??.to_int::<u32>().ok()
}

/// Picks the header attributes from an opened object (header-only or full).
pub fn header_of(object: &DefaultDicomObject) -> Header {
    let (meaning, value) = object
        .element_opt(tags::VIEW_CODE_SEQUENCE)
        .ok()
        .flatten()
        .and_then(|e| e.items())
        .and_then(|items| items.first())
        .map(|item| (text(item, tags::CODE_MEANING), text(item, tags::CODE_VALUE)))
        .unwrap_or((None, None));
    let ts = object
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .trim()
        .to_string();
    Header {
        transfer_syntax: (!ts.is_empty()).then_some(ts),
        sop_instance_uid: text(object, tags::SOP_INSTANCE_UID),
        study_instance_uid: text(object, tags::STUDY_INSTANCE_UID),
        series_instance_uid: text(object, tags::SERIES_INSTANCE_UID),
        patient_id: text(object, tags::PATIENT_ID),
        patient_age: text(object, tags::PATIENT_AGE),
        image_laterality: text(object, tags::IMAGE_LATERALITY),
        laterality: text(object, tags::LATERALITY),
        view_position: text(object, tags::VIEW_POSITION),
        view_code_meaning: meaning,
        view_code_value: value,
        patient_orientation: text(object, tags::PATIENT_ORIENTATION),
        rows: unsigned(object, tags::ROWS),
        columns: unsigned(object, tags::COLUMNS),
        bits_allocated: unsigned(object, tags::BITS_ALLOCATED),
        bits_stored: unsigned(object, tags::BITS_STORED),
        photometric: text(object, tags::PHOTOMETRIC_INTERPRETATION),
        manufacturer: text(object, tags::MANUFACTURER),
        model: text(object, tags::MANUFACTURER_MODEL_NAME),
        presentation_intent: text(object, tags::PRESENTATION_INTENT_TYPE),
        pixel_spacing_mm: number(object, tags::PIXEL_SPACING)
            .or_else(|| number(object, tags::IMAGER_PIXEL_SPACING)),
        window_center: number(object, tags::WINDOW_CENTER),
        window_width: number(object, tags::WINDOW_WIDTH),
        voi_lut_function: text(object, tags::VOILUT_FUNCTION),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, PrimitiveValue, VR, dicom_value};
    use dicom_object::meta::FileMetaTableBuilder;

    #[test]
    fn reads_view_code_sequence_and_laterality() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.dcm");
        let mut obj = InMemDicomObject::new_empty();
        obj.put(DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.3"),
        ));
        obj.put(DataElement::new(
            tags::IMAGE_LATERALITY,
            VR::CS,
            PrimitiveValue::from("L "),
        ));
        obj.put(DataElement::new(
            tags::WINDOW_CENTER,
            VR::DS,
            dicom_value!(Strs, ["128", "64"]),
        ));
        let mut item = InMemDicomObject::new_empty();
        item.put(DataElement::new(
            tags::CODE_VALUE,
            VR::SH,
            PrimitiveValue::from("399368009"),
        ));
        item.put(DataElement::new(
            tags::CODE_MEANING,
            VR::LO,
            PrimitiveValue::from("medio-lateral oblique"),
        ));
        obj.put(DataElement::new(
            tags::VIEW_CODE_SEQUENCE,
            VR::SQ,
            dicom_core::value::DataSetSequence::from(vec![item]),
        ));
        let file = obj
            .with_meta(
                FileMetaTableBuilder::new()
                    .transfer_syntax("1.2.840.10008.1.2.1")
                    .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.1.2")
                    .media_storage_sop_instance_uid("1.2.3"),
            )
            .unwrap();
        file.write_to_file(&path).unwrap();
        let h = read_header(&path).unwrap();
        assert_eq!(h.image_laterality.as_deref(), Some("L"));
        assert_eq!(
            h.view_code_meaning.as_deref(),
            Some("medio-lateral oblique")
        );
        assert_eq!(h.view_code_value.as_deref(), Some("399368009"));
        assert_eq!(h.window_center, Some(128.0));
        assert_eq!(h.transfer_syntax.as_deref(), Some("1.2.840.10008.1.2.1"));
        let err = read_header(&dir.path().join("missing.dcm"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing.dcm: not a readable DICOM file"),
            "{err}"
        );
    }
}
