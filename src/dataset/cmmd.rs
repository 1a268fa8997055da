//! CMMD, the Chinese Mammography Database (TCIA, DOI 10.7937/tcia.eqde4b16):
//! the clinical workbook `CMMD_clinicaldata_revision.xlsx` has one row per
//! labelled breast (diagnosis from biopsy); the NBIA manifest `metadata.csv`
//! lists one series per patient. View and laterality of each image live
//! only in the DICOM headers (ImageLaterality, ViewCodeSequence); with no
//! image files the lake gets one row per labelled breast, `view_position`
//! null, `image_id` = `exam_id`, `image_status = 'missing'` (SPEC §4.1).

use std::collections::HashMap;
use std::path::Path;

use crate::dataset::selection::Rule;
use crate::dataset::source::{RawTable, find_files};
use crate::dataset::vocab;
use crate::dataset::{Adapter, AdapterOptions, Harmonized, Policy, RecordAt};
use crate::error::{Error, Result};
use crate::lake::DatasetInfo;
use crate::record::{ExclusionRow, MetadataRow};

/// The CMMD adapter.
pub struct Cmmd;

const CLINICAL: &str = "CMMD_clinicaldata_revision.xlsx";
const MANIFEST: &str = "metadata.csv";

impl Adapter for Cmmd {
    fn name(&self) -> &'static str {
        "cmmd"
    }

    fn info(&self) -> DatasetInfo {
        DatasetInfo {
            source_doi: Some("10.7937/tcia.eqde4b16".into()),
            license: Some("CC BY 4.0".into()),
            version: None,
            synthetic: false,
        }
    }

    fn default_policy(&self) -> Policy {
        // All clinical rows are retained (SPEC §6); only unreadable or
        // repeated rows are dropped.
        Policy::new(&[Rule::InvalidRecord, Rule::Duplicate])
    }

    fn harmonize(&self, root: &Path, options: &AdapterOptions) -> Result<Harmonized> {
        let policy = self.default_policy().with_extra(&options.policy);
        let mut out = Harmonized::default();
        let clinical = find_files(root, &|n| n.eq_ignore_ascii_case(CLINICAL));
        let Some(path) = clinical.first() else {
            return Err(Error::Other(format!(
                "no {CLINICAL} under {} (looked at most two folders down)",
                root.display()
            )));
        };
        let table = RawTable::read_xlsx(root, path, None, 1)?;
        out.record_files
            .push((table.file.clone(), table.rows.len()));
        out.funnel.records_total = table.rows.len();
        let studies = read_manifest(root, &mut out);

        let c_id = table.column(&["ID1"])?;
        let c_side = table.column(&["LeftRight"])?;
        let c_age = table.column(&["Age"])?;
        let c_abnormality = table.column(&["abnormality"])?;
        let c_class = table.column(&["classification"])?;

        let mut seen: HashMap<String, i64> = HashMap::new();
        let (mut invalid, mut duplicates) = (0, 0);
        let mut rows = Vec::new();
        for row in &table.rows {
            let patient = row.get(c_id).to_string();
            let side_raw = row.get(c_side);
            let Some(side) = vocab::laterality(side_raw)
                .value()
                .filter(|_| !patient.is_empty())
            else {
                invalid += 1;
                out.exclusions.push(ExclusionRow {
                    level: "record".into(),
                    source_file: table.file.clone(),
                    source_row: Some(row.number),
                    patient_id: (!patient.is_empty()).then(|| patient.clone()),
                    reason: Rule::InvalidRecord.reason().into(),
                    detail: format!("patient `{patient}`, side `{side_raw}`: a record needs both"),
                    ..Default::default()
                });
                continue;
            };
            let exam_id = format!("{patient}_{side}");
            if let Some(first) = seen.get(&exam_id) {
                duplicates += 1;
                out.exclusions.push(ExclusionRow {
                    level: "record".into(),
                    source_file: table.file.clone(),
                    source_row: Some(row.number),
                    patient_id: Some(patient.clone()),
                    laterality: Some(side.into()),
                    exam_id: Some(exam_id.clone()),
                    reason: Rule::Duplicate.reason().into(),
                    detail: format!("a second row for breast {exam_id} (first: data row {first})"),
                    ..Default::default()
                });
                continue;
            }
            seen.insert(exam_id.clone(), row.number);

            let at = RecordAt {
                file: &table.file,
                row: row.number,
                patient: Some(&patient),
                side: Some(side),
            };
            let age_raw = row.get(c_age);
            let age = out.valid(&at, "age", age_raw, vocab::age(age_raw));
            let abnormality_raw = row.get(c_abnormality);
            let (mass, calcification) = out
                .valid(
                    &at,
                    "mass",
                    abnormality_raw,
                    vocab::cmmd_abnormality(abnormality_raw),
                )
                .unwrap_or((false, false));
            let class_raw = row.get(c_class);
            let diagnosis = out.valid(
                &at,
                "diagnosis",
                class_raw,
                vocab::diagnosis_from_pathology(class_raw),
            );
            rows.push(MetadataRow {
                patient_id: patient.clone(),
                study_id: studies.get(&patient).cloned(),
                image_id: exam_id.clone(),
                exam_id,
                laterality: side.into(),
                laterality_source: "metadata".into(),
                view_position: None,
                age,
                diagnosis: diagnosis.map(Into::into),
                diagnosis_source: diagnosis.map(|_| "biopsy".into()),
                mass,
                calcification,
                image_status: "missing".into(),
                source_file: table.file.clone(),
                source_row: row.number,
                ..Default::default()
            });
        }
        let total = table.rows.len();
        out.funnel
            .record_step(&table.file, Rule::InvalidRecord, total, invalid, 0);
        out.funnel
            .record_step(&table.file, Rule::Duplicate, total - invalid, duplicates, 0);

        // Stricter policies asked for on the command line.
        crate::dataset::apply_breast_rules(rows, &policy.breast_rules(), &table.file, &mut out);
        let image_root = options.images.clone().unwrap_or_else(|| root.to_path_buf());
        let images = scan_images(root, &image_root, &mut out);
        if !images.is_empty() {
            let breasts = std::mem::take(&mut out.metadata);
            out.metadata = attach_images(breasts, images, &studies_rows(root), options, &mut out);
        }
        Ok(out)
    }
}

/// One image of the CMMD tree, as its header describes it.
#[derive(Debug, Clone)]
pub(crate) struct CmmdImage {
    /// Relative to ROOT.
    pub path: String,
    pub patient: String,
    pub side: Option<&'static str>,
    pub view: Option<&'static str>,
    pub sop_instance_uid: Option<String>,
    pub study_instance_uid: Option<String>,
}

/// Is this folder name a CMMD patient (`D1-0001`, `D2-0749`)?
fn is_patient_folder(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 7
        && b[0] == b'D'
        && b[1].is_ascii_digit()
        && b[2] == b'-'
        && b[3..].iter().all(u8::is_ascii_digit)
}

/// Every `.dcm` under patient folders of the image root, headers read (in
/// parallel) up to the pixel data. Unreadable files become image-level
/// exclusions.
pub(crate) fn scan_images(root: &Path, image_root: &Path, out: &mut Harmonized) -> Vec<CmmdImage> {
    use rayon::prelude::*;
    let files = crate::dataset::source::find_files_deep(image_root, 6, &|n| {
        n.to_ascii_lowercase().ends_with(".dcm")
    });
    let read: Vec<(String, String, Result<crate::dicom::Header>)> = files
        .par_iter()
        .filter_map(|path| {
            let patient = path
                .ancestors()
                .filter_map(|a| a.file_name())
                .map(|n| n.to_string_lossy().to_string())
                .find(|n| is_patient_folder(n))?;
            Some((
                crate::dataset::source::relative(root, path),
                patient,
                crate::dicom::read_header(path),
            ))
        })
        .collect();
    let mut images = Vec::new();
    for (path, patient, header) in read {
        match header {
            Ok(h) => {
                let side = h
                    .image_laterality
                    .as_deref()
                    .or(h.laterality.as_deref())
                    .and_then(|s| vocab::laterality(s).value());
                let view = h
                    .view_code_meaning
                    .as_deref()
                    .and_then(|m| vocab::view_position(m).value())
                    .or_else(|| {
                        h.view_code_value
                            .as_deref()
                            .and_then(|c| vocab::view_from_snomed(c).value())
                    })
                    .or_else(|| {
                        h.view_position
                            .as_deref()
                            .and_then(|v| vocab::view_position(v).value())
                    });
                images.push(CmmdImage {
                    path,
                    patient,
                    side,
                    view,
                    sop_instance_uid: h.sop_instance_uid,
                    study_instance_uid: h.study_instance_uid,
                });
            }
            Err(e) => out.exclusions.push(ExclusionRow {
                level: "image".into(),
                source_file: path.clone(),
                patient_id: Some(patient),
                reason: "unreadable_image".into(),
                detail: e.to_string(),
                ..Default::default()
            }),
        }
    }
    images.sort_by(|a, b| a.path.cmp(&b.path));
    images
}

/// The NBIA manifest rows per patient (source of unlabelled images).
fn studies_rows(root: &Path) -> HashMap<String, (String, i64)> {
    let mut rows = HashMap::new();
    let Some(path) = find_files(root, &|n| n.eq_ignore_ascii_case(MANIFEST))
        .into_iter()
        .next()
    else {
        return rows;
    };
    if let Ok(table) = RawTable::read_csv(root, &path)
        && let Ok(c_subject) = table.column(&["Subject ID"])
    {
        for row in &table.rows {
            rows.entry(row.get(c_subject).to_string())
                .or_insert((table.file.clone(), row.number));
        }
    }
    rows
}

/// One metadata row per image: the labelled breast's labels where the
/// clinical workbook has the breast, none (diagnosis null) for an
/// unlabelled contralateral breast. Labelled breasts without any image keep
/// their one row (`image_status = 'missing'`).
fn attach_images(
    breasts: Vec<MetadataRow>,
    images: Vec<CmmdImage>,
    manifest_rows: &HashMap<String, (String, i64)>,
    options: &AdapterOptions,
    out: &mut Harmonized,
) -> Vec<MetadataRow> {
    let mut by_exam: HashMap<String, MetadataRow> = breasts
        .iter()
        .map(|b| (b.exam_id.clone(), b.clone()))
        .collect();
    let mut used = std::collections::HashSet::new();
    let mut rows = Vec::new();
    for image in images {
        let Some(side) = image.side else {
            out.exclusions.push(ExclusionRow {
                level: "image".into(),
                source_file: image.path.clone(),
                patient_id: Some(image.patient.clone()),
                reason: "unreadable_image".into(),
                detail:
                    "no ImageLaterality or Laterality in the header: the image cannot be placed"
                        .into(),
                ..Default::default()
            });
            continue;
        };
        let exam_id = format!("{}_{side}", image.patient);
        let template = match by_exam.get(&exam_id) {
            Some(b) => {
                used.insert(exam_id.clone());
                b.clone()
            }
            None => {
                let (file, row) = manifest_rows
                    .get(&image.patient)
                    .cloned()
                    .unwrap_or_else(|| (image.path.clone(), 1));
                MetadataRow {
                    patient_id: image.patient.clone(),
                    exam_id: exam_id.clone(),
                    laterality: side.into(),
                    laterality_source: "header".into(),
                    source_file: file,
                    source_row: row,
                    ..Default::default()
                }
            }
        };
        let image_id = image
            .sop_instance_uid
            .clone()
            .unwrap_or_else(|| image.path.clone());
        rows.push(MetadataRow {
            image_id,
            study_id: image
                .study_instance_uid
                .clone()
                .or(template.study_id.clone()),
            view_position: image.view.map(Into::into),
            raw_path: Some(image.path.clone()),
            image_status: if options.metadata_only {
                "metadata_only"
            } else {
                "ok"
            }
            .into(),
            ..template
        });
    }
    for (exam_id, breast) in by_exam.drain() {
        if !used.contains(&exam_id) {
            rows.push(breast);
        }
    }
    rows.sort_by(|a, b| (&a.exam_id, &a.image_id).cmp(&(&b.exam_id, &b.image_id)));
    rows
}

/// Study UIDs per patient from the NBIA manifest, when it is there.
fn read_manifest(root: &Path, out: &mut Harmonized) -> HashMap<String, String> {
    let mut studies = HashMap::new();
    let Some(path) = find_files(root, &|n| n.eq_ignore_ascii_case(MANIFEST))
        .into_iter()
        .next()
    else {
        return studies;
    };
    match RawTable::read_csv(root, &path) {
        Ok(table) => {
            if let (Ok(c_subject), Ok(c_study)) =
                (table.column(&["Subject ID"]), table.column(&["Study UID"]))
            {
                for row in &table.rows {
                    studies.insert(row.get(c_subject).to_string(), row.get(c_study).to_string());
                }
            }
        }
        Err(e) => out.warnings.push(format!("NBIA manifest not used: {e}")),
    }
    studies
}
