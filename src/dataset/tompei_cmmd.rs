//! TOMPEI-CMMD (TCIA analysis result over CMMD, v01 2025): the workbook
//! `TOMPEI-CMMD_clinical_data_*.xlsx`, sheet `Imaging Diagnosis Details
//! Sheet` (two header rows, columns by position), one row per imaged breast
//! with a classification (`Malignant`, `Benign`, `Normal`, `Invisible`,
//! `Exclusion`), density words, BI-RADS and lesion descriptors; MLO lesion
//! outlines in `*_MLO_<L|R>_AnnotationFile.json`. Images are the CMMD tree
//! (under ROOT or `--images`). Breasts classified `Exclusion` and `Invisible`
//! are dropped (`excluded_by_dataset`, `invisible_lesion`); TOMPEI's
//! corrected laterality wins over the DICOM header's.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use crate::dataset::cmmd::{CmmdImage, scan_images};
use crate::dataset::selection::Rule;
use crate::dataset::source::{RawRow, RawTable, find_files, find_files_deep, relative};
use crate::dataset::vocab::{self, Finding};
use crate::dataset::{Adapter, AdapterOptions, Harmonized, Policy, RecordAt};
use crate::error::{Error, Result};
use crate::lake::DatasetInfo;
use crate::record::{ExclusionRow, FindingRow, MetadataRow};

/// The TOMPEI-CMMD adapter.
pub struct TompeiCmmd;

const SHEET: &str = "Imaging Diagnosis Details Sheet";

/// Column positions of the Imaging Diagnosis Details Sheet (datasets.md §3.5).
mod col {
    pub const PATIENT: usize = 0;
    pub const SIDE: usize = 1;
    pub const AGE: usize = 2;
    pub const CLASSIFICATION: usize = 3;
    pub const EXCLUSION_REASON: usize = 4;
    pub const DENSITY: usize = 5;
    pub const MASS_LOCATION: usize = 6;
    pub const MASS_SHAPE: usize = 7;
    pub const MASS_MARGIN: usize = 8;
    pub const MASS_DENSITY: usize = 9;
    pub const CALC_LOCATION: usize = 12;
    pub const CALC_MORPHOLOGY: usize = 13;
    pub const CALC_DISTRIBUTION: usize = 14;
    pub const OTHER_ASSOCIATED: usize = 16;
    pub const BIRADS: usize = 21;
    pub const EXTRA_MASS_LOCATION: usize = 23;
    pub const EXTRA_MASS_SHAPE: usize = 24;
    pub const EXTRA_MASS_MARGIN: usize = 25;
    pub const EXTRA_MASS_DENSITY: usize = 26;
    pub const EXTRA_CALC_LOCATION: usize = 29;
    pub const EXTRA_CALC_MORPHOLOGY: usize = 30;
    pub const EXTRA_CALC_DISTRIBUTION: usize = 31;
    /// The fewest columns a usable sheet has (through BI-RADS).
    pub const MINIMUM: usize = 22;
}

/// Free-text descriptors to lower_snake_case terms (split on `,;/`).
fn terms(raw: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    if vocab::is_missing(raw) {
        return Vec::new();
    }
    for part in raw.split([',', ';', '/', '\n']) {
        if vocab::is_missing(part) {
            continue;
        }
        let mut term = String::new();
        for c in part.trim().chars() {
            if c.is_alphanumeric() {
                term.extend(c.to_lowercase());
            } else if !term.ends_with('_') && !term.is_empty() {
                term.push('_');
            }
        }
        let term = term.trim_matches('_').to_string();
        if !term.is_empty() {
            out.insert(if term == "lucent_centered" {
                "lucent_center".into()
            } else {
                term
            });
        }
    }
    out.into_iter().collect()
}

/// One breast row of the sheet.
struct Breast {
    row: RawRow,
    patient: String,
    side: &'static str,
}

impl Adapter for TompeiCmmd {
    fn name(&self) -> &'static str {
        "tompei-cmmd"
    }

    fn info(&self) -> DatasetInfo {
        DatasetInfo {
            source_doi: Some(
                "TCIA analysis result TOMPEI-CMMD (over CMMD, 10.7937/tcia.eqde4b16)".into(),
            ),
            license: Some("CC BY 4.0".into()),
            version: Some("v01 (2025-01-24)".into()),
            synthetic: false,
        }
    }

    fn default_policy(&self) -> Policy {
        Policy::new(&[
            Rule::InvalidRecord,
            Rule::Duplicate,
            Rule::ExcludedByDataset,
            Rule::InvisibleLesion,
        ])
    }

    fn harmonize(&self, root: &Path, options: &AdapterOptions) -> Result<Harmonized> {
        let policy = self.default_policy().with_extra(&options.policy);
        let mut out = Harmonized::default();
        let workbook = find_files(root, &|n| {
            let l = n.to_ascii_lowercase();
            l.starts_with("tompei-cmmd_clinical_data_") && l.ends_with(".xlsx")
        });
        let Some(path) = workbook.last() else {
            return Err(Error::Other(format!(
                "no TOMPEI-CMMD_clinical_data_*.xlsx under {} (looked at most two folders down)",
                root.display()
            )));
        };
        let table = RawTable::read_xlsx(root, path, Some(SHEET), 2)?;
        if table.headers.len() < col::MINIMUM {
            return Err(Error::Other(format!(
                "{}: sheet `{SHEET}` has {} columns, expected at least {} (through BI-RADS); headers found: {}",
                table.file,
                table.headers.len(),
                col::MINIMUM,
                table.headers.join(" | ")
            )));
        }
        out.record_files
            .push((table.file.clone(), table.rows.len()));
        out.funnel.records_total = table.rows.len();
        let file = table.file.clone();

        // Rows: readable, unique, then the dataset's own classes.
        let mut breasts: Vec<Breast> = Vec::new();
        let mut seen: HashMap<String, i64> = HashMap::new();
        let (mut invalid, mut duplicates, mut excluded, mut invisible) = (0, 0, 0, 0);
        let exclude =
            |row: &RawRow, patient: &str, side: Option<&str>, rule: Rule, detail: String| {
                ExclusionRow {
                    level: "record".into(),
                    source_file: file.clone(),
                    source_row: Some(row.number),
                    patient_id: (!patient.is_empty()).then(|| patient.to_string()),
                    laterality: side.map(Into::into),
                    exam_id: side.map(|s| format!("{patient}_{s}")),
                    reason: rule.reason().into(),
                    detail,
                    ..Default::default()
                }
            };
        for row in &table.rows {
            let patient = row.get(col::PATIENT).to_string();
            let side = vocab::laterality(row.get(col::SIDE)).value();
            let Some(side) = side.filter(|_| !patient.is_empty()) else {
                invalid += 1;
                out.exclusions.push(exclude(
                    row,
                    &patient,
                    None,
                    Rule::InvalidRecord,
                    format!(
                        "patient `{patient}`, side `{}`: a record needs both",
                        row.get(col::SIDE)
                    ),
                ));
                continue;
            };
            let exam = format!("{patient}_{side}");
            if let Some(first) = seen.get(&exam) {
                duplicates += 1;
                out.exclusions.push(exclude(
                    row,
                    &patient,
                    Some(side),
                    Rule::Duplicate,
                    format!("a second row for breast {exam} (first: data row {first})"),
                ));
                continue;
            }
            seen.insert(exam, row.number);
            let class = row.get(col::CLASSIFICATION);
            if class.eq_ignore_ascii_case("exclusion") && policy.has(Rule::ExcludedByDataset) {
                excluded += 1;
                let reason = row.get(col::EXCLUSION_REASON);
                out.exclusions.push(exclude(
                    row,
                    &patient,
                    Some(side),
                    Rule::ExcludedByDataset,
                    format!(
                        "TOMPEI-CMMD recommends excluding this breast: {}",
                        if reason.is_empty() {
                            "no reason given"
                        } else {
                            reason
                        }
                    ),
                ));
                continue;
            }
            if class.eq_ignore_ascii_case("invisible") && policy.has(Rule::InvisibleLesion) {
                invisible += 1;
                out.exclusions.push(exclude(
                    row,
                    &patient,
                    Some(side),
                    Rule::InvisibleLesion,
                    "malignant, but the lesion cannot be located on the images (TOMPEI-CMMD `Invisible`)".into(),
                ));
                continue;
            }
            breasts.push(Breast {
                row: row.clone(),
                patient,
                side,
            });
        }
        let total = table.rows.len();
        out.funnel
            .record_step(&file, Rule::InvalidRecord, total, invalid, 0);
        out.funnel
            .record_step(&file, Rule::Duplicate, total - invalid, duplicates, 0);
        let after = total - invalid - duplicates;
        out.funnel
            .record_step(&file, Rule::ExcludedByDataset, after, excluded, excluded);
        out.funnel.record_step(
            &file,
            Rule::InvisibleLesion,
            after - excluded,
            invisible,
            invisible,
        );

        // Images from the CMMD tree, sides corrected by TOMPEI.
        let image_root = options.images.clone().unwrap_or_else(|| root.to_path_buf());
        let images = scan_images(root, &image_root, &mut out);
        let sides_in_sheet_all: HashMap<String, BTreeSet<String>> =
            table.rows.iter().fold(HashMap::new(), |mut m, r| {
                if let Some(s) = vocab::laterality(r.get(col::SIDE)).value() {
                    m.entry(r.get(col::PATIENT).to_string())
                        .or_default()
                        .insert(s.to_string());
                }
                m
            });
        let mut images_by_exam: HashMap<String, Vec<(CmmdImage, bool)>> = HashMap::new();
        let mut header_sides: HashMap<String, BTreeSet<&'static str>> = HashMap::new();
        for image in &images {
            if let Some(s) = image.side {
                header_sides
                    .entry(image.patient.clone())
                    .or_default()
                    .insert(s);
            }
        }
        for image in images {
            let Some(header_side) = image.side else {
                continue;
            };
            let sheet = sides_in_sheet_all.get(&image.patient);
            let headers = header_sides.get(&image.patient);
            // One breast imaged, and the sheet names the other side: TOMPEI's
            // "reversed left and right" correction.
            let corrected = match (sheet, headers) {
                (Some(sheet), Some(h))
                    if sheet.len() == 1 && h.len() == 1 && !sheet.contains(header_side) =>
                {
                    Some(if header_side == "L" { "R" } else { "L" })
                }
                _ => None,
            };
            let side = corrected.unwrap_or(header_side);
            images_by_exam
                .entry(format!("{}_{side}", image.patient))
                .or_default()
                .push((image, corrected.is_some()));
        }

        let annotations = read_annotations(root, &mut out);
        let mut rows = Vec::new();
        for b in &breasts {
            let exam_id = format!("{}_{}", b.patient, b.side);
            let breast_images = images_by_exam.remove(&exam_id).unwrap_or_default();
            let mlo_image = breast_images
                .iter()
                .find(|(i, _)| i.view == Some("MLO"))
                .and_then(|(i, _)| i.sop_instance_uid.clone());
            let template = self.breast_row(b, &file, &mut out);
            self.breast_findings(b, &file, &exam_id, mlo_image.as_deref(), &mut out);
            let mut flags_from_outlines = (false, false, false, false);
            if let Some(lesions) = annotations.get(&(b.patient.clone(), b.side)) {
                for f in lesions {
                    match f.finding.as_str() {
                        "mass" => flags_from_outlines.0 = true,
                        "calcification" => flags_from_outlines.1 = true,
                        "distortion" => flags_from_outlines.2 = true,
                        "focal_asymmetry" => flags_from_outlines.3 = true,
                        _ => {}
                    }
                    out.findings.push(FindingRow {
                        image_id: mlo_image.clone().unwrap_or_else(|| exam_id.clone()),
                        exam_id: exam_id.clone(),
                        patient_id: b.patient.clone(),
                        laterality: b.side.into(),
                        view_position: Some("MLO".into()),
                        ..f.clone()
                    });
                }
            }
            let mut template = template;
            template.mass |= flags_from_outlines.0;
            template.calcification |= flags_from_outlines.1;
            template.distortion |= flags_from_outlines.2;
            if flags_from_outlines.3 {
                template.asymmetry = true;
                if !template.asymmetry_kinds.iter().any(|k| k == "focal") {
                    template.asymmetry_kinds.push("focal".into());
                    template.asymmetry_kinds.sort();
                }
            }
            if breast_images.is_empty() {
                rows.push(template);
                continue;
            }
            for (image, corrected) in breast_images {
                rows.push(MetadataRow {
                    image_id: image
                        .sop_instance_uid
                        .clone()
                        .unwrap_or_else(|| image.path.clone()),
                    study_id: image.study_instance_uid.clone(),
                    view_position: image.view.map(Into::into),
                    laterality_source: if corrected { "corrected" } else { "metadata" }.into(),
                    raw_path: Some(image.path.clone()),
                    image_status: if options.metadata_only {
                        "metadata_only"
                    } else {
                        "ok"
                    }
                    .into(),
                    ..template.clone()
                });
            }
        }
        // Images of excluded breasts go with their record; other leftovers
        // belong to no breast of the sheet.
        let excluded_exams: BTreeSet<String> = out
            .exclusions
            .iter()
            .filter_map(|e| e.exam_id.clone())
            .collect();
        for (exam, imgs) in images_by_exam {
            if !excluded_exams.contains(&exam) {
                out.warnings.push(format!(
                    "{} image(s) of breast {exam} have no row in {SHEET}: not ingested",
                    imgs.len()
                ));
            }
        }

        // Stricter policies asked for on the command line.
        crate::dataset::apply_breast_rules(rows, &policy.breast_rules(), &file, &mut out);
        Ok(out)
    }
}

impl TompeiCmmd {
    /// The breast's metadata row (without image-specific fields).
    fn breast_row(&self, b: &Breast, file: &str, out: &mut Harmonized) -> MetadataRow {
        let row = &b.row;
        let at = RecordAt {
            file,
            row: row.number,
            patient: Some(&b.patient),
            side: Some(b.side),
        };
        let density_raw = row.get(col::DENSITY);
        let density = out.valid(&at, "density", density_raw, vocab::density(density_raw));
        let class_raw = row.get(col::CLASSIFICATION);
        let diagnosis = out.valid(
            &at,
            "diagnosis",
            class_raw,
            vocab::diagnosis_from_pathology(class_raw),
        );
        let birads_raw = row.get(col::BIRADS);
        let birads = out.valid(&at, "birads", birads_raw, vocab::birads(birads_raw));
        let age_raw = row.get(col::AGE);
        let age = out.valid(&at, "age", age_raw, vocab::age(age_raw));
        let both = |a: usize, b: usize| {
            let mut t = terms(row.get(a));
            t.extend(terms(row.get(b)));
            t.sort();
            t.dedup();
            t
        };
        let mass_shape = both(col::MASS_SHAPE, col::EXTRA_MASS_SHAPE);
        let mass_margin = both(col::MASS_MARGIN, col::EXTRA_MASS_MARGIN);
        let mass_density = both(col::MASS_DENSITY, col::EXTRA_MASS_DENSITY);
        let calc_morphology = both(col::CALC_MORPHOLOGY, col::EXTRA_CALC_MORPHOLOGY);
        let calc_distribution = both(col::CALC_DISTRIBUTION, col::EXTRA_CALC_DISTRIBUTION);
        let present = |c: usize| !vocab::is_missing(row.get(c));
        let mass = present(col::MASS_LOCATION)
            || present(col::MASS_SHAPE)
            || present(col::EXTRA_MASS_SHAPE);
        let calcification = present(col::CALC_LOCATION)
            || present(col::CALC_MORPHOLOGY)
            || present(col::EXTRA_CALC_MORPHOLOGY);
        let other = terms(row.get(col::OTHER_ASSOCIATED));
        let distortion = other.iter().any(|t| t.contains("distortion"));
        let focal = other.iter().any(|t| t == "fad" || t.contains("focal_asym"));
        let asym = other.iter().any(|t| t.contains("asymmetr")) || focal;
        MetadataRow {
            patient_id: b.patient.clone(),
            image_id: format!("{}_{}", b.patient, b.side),
            exam_id: format!("{}_{}", b.patient, b.side),
            laterality: b.side.into(),
            laterality_source: "metadata".into(),
            age,
            density: density.map(Into::into),
            birads,
            birads_raw: (!birads_raw.is_empty()).then(|| birads_raw.to_string()),
            diagnosis: diagnosis.map(Into::into),
            diagnosis_source: diagnosis.map(|_| "dataset_class".into()),
            mass,
            calcification,
            asymmetry: asym,
            distortion,
            asymmetry_kinds: if focal {
                vec!["focal".into()]
            } else if asym {
                vec!["asymmetry".into()]
            } else {
                vec![]
            },
            mass_shape,
            mass_margin,
            mass_density,
            calc_morphology,
            calc_distribution,
            other_findings: other
                .into_iter()
                .filter(|t| !t.contains("distortion") && !t.contains("asymmetr") && t != "fad")
                .collect(),
            image_status: "missing".into(),
            source_file: file.into(),
            source_row: row.number,
            ..Default::default()
        }
    }

    /// Mass and calcification findings described on the sheet (with their
    /// location), one per described lesion.
    fn breast_findings(
        &self,
        b: &Breast,
        file: &str,
        exam_id: &str,
        mlo: Option<&str>,
        out: &mut Harmonized,
    ) {
        let row = &b.row;
        let lesions = [
            (
                Finding::Mass,
                col::MASS_LOCATION,
                col::MASS_SHAPE,
                col::MASS_MARGIN,
                col::MASS_DENSITY,
                1,
            ),
            (
                Finding::Mass,
                col::EXTRA_MASS_LOCATION,
                col::EXTRA_MASS_SHAPE,
                col::EXTRA_MASS_MARGIN,
                col::EXTRA_MASS_DENSITY,
                2,
            ),
            (
                Finding::Calcification,
                col::CALC_LOCATION,
                col::CALC_MORPHOLOGY,
                col::CALC_DISTRIBUTION,
                usize::MAX,
                1,
            ),
            (
                Finding::Calcification,
                col::EXTRA_CALC_LOCATION,
                col::EXTRA_CALC_MORPHOLOGY,
                col::EXTRA_CALC_DISTRIBUTION,
                usize::MAX,
                2,
            ),
        ];
        for (finding, loc, a, bcol, dens, index) in lesions {
            let location = row.get(loc);
            if vocab::is_missing(location) && vocab::is_missing(row.get(a)) {
                continue;
            }
            let is_mass = finding == Finding::Mass;
            out.findings.push(FindingRow {
                image_id: mlo.map_or_else(|| exam_id.to_string(), str::to_string),
                exam_id: exam_id.into(),
                patient_id: b.patient.clone(),
                laterality: b.side.into(),
                finding: finding.as_str().into(),
                finding_index: Some(index),
                birads: vocab::birads(row.get(col::BIRADS)).value(),
                location: (!vocab::is_missing(location)).then(|| location.to_lowercase()),
                mass_shape: if is_mass { terms(row.get(a)) } else { vec![] },
                mass_margin: if is_mass {
                    terms(row.get(bcol))
                } else {
                    vec![]
                },
                mass_density: if is_mass {
                    terms(row.get(dens))
                } else {
                    vec![]
                },
                calc_morphology: if is_mass { vec![] } else { terms(row.get(a)) },
                calc_distribution: if is_mass {
                    vec![]
                } else {
                    terms(row.get(bcol))
                },
                source_file: file.into(),
                source_row: row.number,
                ..Default::default()
            });
        }
    }
}

/// Lesion outlines per (patient, side) from `*_MLO_<L|R>_AnnotationFile.json`
/// (not the `__MACOSX` copies): finding, outline and bounding box, with the
/// file and the lesion's 1-based position as provenance.
fn read_annotations(
    root: &Path,
    out: &mut Harmonized,
) -> HashMap<(String, &'static str), Vec<FindingRow>> {
    let mut by_breast: HashMap<(String, &'static str), Vec<FindingRow>> = HashMap::new();
    let files = find_files_deep(root, 4, &|n| n.ends_with("_AnnotationFile.json"));
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let rel = relative(root, &path);
        let parts: Vec<&str> = name
            .trim_end_matches("_AnnotationFile.json")
            .split('_')
            .collect();
        let (patient, side) = match parts.as_slice() {
            [patient, "MLO", side] => match vocab::laterality(side).value() {
                Some(s) => (patient.to_string(), s),
                None => continue,
            },
            _ => {
                out.warnings.push(format!(
                    "{rel}: not a <patient>_MLO_<L|R>_AnnotationFile.json name; skipped"
                ));
                continue;
            }
        };
        let lesions = match std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.as_array().cloned())
        {
            Some(l) => l,
            None => {
                out.exclusions.push(ExclusionRow {
                    level: "record".into(),
                    source_file: rel.clone(),
                    patient_id: Some(patient.clone()),
                    laterality: Some(side.into()),
                    reason: Rule::InvalidRecord.reason().into(),
                    detail: "not a JSON list of lesions".into(),
                    ..Default::default()
                });
                continue;
            }
        };
        out.record_files.push((rel.clone(), lesions.len()));
        for (i, lesion) in lesions.iter().enumerate() {
            let label = lesion.get("label").and_then(|l| l.as_str()).unwrap_or("");
            let points: Vec<(f64, f64)> = lesion
                .get("cgPoints")
                .and_then(|p| p.as_array())
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| Some((p.get("x")?.as_f64()?, p.get("y")?.as_f64()?)))
                        .collect()
                })
                .unwrap_or_default();
            let finding = vocab::tompei_lesion_label(label).value();
            let bbox = (!points.is_empty()).then(|| {
                points.iter().fold(
                    (
                        f64::INFINITY,
                        f64::INFINITY,
                        f64::NEG_INFINITY,
                        f64::NEG_INFINITY,
                    ),
                    |(a, b, c, d), &(x, y)| (a.min(x), b.min(y), c.max(x), d.max(y)),
                )
            });
            by_breast
                .entry((patient.clone(), side))
                .or_default()
                .push(FindingRow {
                    finding: finding.map_or("other", |f| f.as_str()).into(),
                    finding_raw: Some(label.trim().to_string()),
                    finding_index: Some(i as i32 + 1),
                    x0: bbox.map(|b| b.0),
                    y0: bbox.map(|b| b.1),
                    x1: bbox.map(|b| b.2),
                    y1: bbox.map(|b| b.3),
                    raw_x0: bbox.map(|b| b.0),
                    raw_y0: bbox.map(|b| b.1),
                    raw_x1: bbox.map(|b| b.2),
                    raw_y1: bbox.map(|b| b.3),
                    outline: Some(
                        serde_json::to_string(
                            &points.iter().map(|&(x, y)| [x, y]).collect::<Vec<_>>(),
                        )
                        .unwrap_or_default(),
                    ),
                    source_file: rel.clone(),
                    source_row: i as i64 + 1,
                    ..Default::default()
                });
        }
    }
    by_breast
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_descriptors_become_terms() {
        assert_eq!(terms("Irregular, Oval"), ["irregular", "oval"]);
        assert_eq!(
            terms("ill-defined / Lucent centered"),
            ["ill_defined", "lucent_center"]
        );
        assert!(terms("N/A").is_empty());
        assert!(terms("").is_empty());
    }
}
