//! CBIS-DDSM (TCIA, DOI 10.7937/K9/TCIA.2016.7O02S9CY): four case-description
//! CSVs (mass/calc × train/test), one row per abnormality per view. Rows
//! become `findings`; the images they point to become `metadata` (one row per
//! `<patient>_<LEFT|RIGHT>_<CC|MLO>`, even when listed under both a Mass and
//! a Calc folder). Case selection runs on each subset on its own, then again
//! across subsets (SPEC §6). CSV image paths use the old TCIA layout; they
//! are resolved to the current download's date/UID-suffix folders.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::dataset::selection::{Candidate, Rule, select};
use crate::dataset::source::{RawTable, find_files, relative};
use crate::dataset::vocab::{self, Mapped};
use crate::dataset::{Adapter, AdapterOptions, Harmonized, Policy, RecordAt};
use crate::error::{Error, Result};
use crate::lake::DatasetInfo;
use crate::record::{ExclusionRow, FindingRow, MetadataRow};

/// The CBIS-DDSM adapter.
pub struct CbisDdsm;

/// The four subset files: (file name, abnormality kind, official split).
const SUBSETS: [(&str, Kind, &str); 4] = [
    ("mass_case_description_train_set.csv", Kind::Mass, "train"),
    ("mass_case_description_test_set.csv", Kind::Mass, "test"),
    ("calc_case_description_train_set.csv", Kind::Calc, "train"),
    ("calc_case_description_test_set.csv", Kind::Calc, "test"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mass,
    Calc,
}

/// One parsed abnormality record.
#[derive(Debug, Clone)]
struct Record {
    file: String,
    row: i64,
    split: &'static str,
    kind: Kind,
    patient: String,
    side: &'static str,
    view: &'static str,
    abnormality_id: Option<i32>,
    density: Option<&'static str>,
    birads: Option<i32>,
    birads_raw: Option<String>,
    pathology: Option<&'static str>,
    pathology_raw: Option<String>,
    subtlety: Option<i32>,
    shape_or_type: Vec<String>,
    margin_or_distribution: Vec<String>,
    image_path: String,
    crop_path: String,
    roi_path: String,
}

impl Record {
    fn breast(&self) -> String {
        format!("{}_{}", self.patient, self.side)
    }
    fn image_id(&self) -> String {
        let side = if self.side == "L" { "LEFT" } else { "RIGHT" };
        format!("{}_{side}_{}", self.patient, self.view)
    }
    fn candidate(&self) -> Candidate {
        Candidate {
            breast: self.breast(),
            view: Some(self.view.to_string()),
            birads: self.birads,
            pathology: self.pathology.map(str::to_string),
        }
    }
    fn exclusion(&self, reason: &str, detail: String) -> ExclusionRow {
        ExclusionRow {
            level: "record".into(),
            source_file: self.file.clone(),
            source_row: Some(self.row),
            patient_id: Some(self.patient.clone()),
            laterality: Some(self.side.into()),
            view_position: Some(self.view.into()),
            image_id: Some(self.image_id()),
            exam_id: Some(self.breast()),
            reason: reason.into(),
            detail,
            ..Default::default()
        }
    }
}

impl Adapter for CbisDdsm {
    fn name(&self) -> &'static str {
        "cbis-ddsm"
    }

    fn info(&self) -> DatasetInfo {
        DatasetInfo {
            source_doi: Some("10.7937/K9/TCIA.2016.7O02S9CY".into()),
            license: Some("CC BY 3.0".into()),
            version: None,
            synthetic: false,
        }
    }

    fn modality_kind(&self) -> &'static str {
        "film"
    }

    fn default_policy(&self) -> Policy {
        Policy::new(&[
            Rule::InvalidRecord,
            Rule::Duplicate,
            Rule::MissingView,
            Rule::InconsistentBirads,
            Rule::InconsistentPathology,
            Rule::Birads0,
        ])
    }

    fn harmonize(&self, root: &Path, options: &AdapterOptions) -> Result<Harmonized> {
        let policy = self.default_policy().with_extra(&options.policy);
        let mut out = Harmonized::default();
        let image_root = options.images.clone().unwrap_or_else(|| root.to_path_buf());
        let tree = TciaTree::index(&image_root);

        let mut stage_two: Vec<Record> = Vec::new();
        let mut found_any = false;
        for (name, kind, split) in SUBSETS {
            let files = find_files(root, &|n| n.eq_ignore_ascii_case(name));
            let Some(path) = files.first() else {
                out.warnings.push(format!(
                    "no {name} under {}: that subset is not ingested",
                    root.display()
                ));
                continue;
            };
            if files.len() > 1 {
                out.warnings.push(format!(
                    "{} copies of {name}; reading {}",
                    files.len(),
                    relative(root, path)
                ));
            }
            found_any = true;
            let table = RawTable::read_csv(root, path)?;
            out.record_files
                .push((table.file.clone(), table.rows.len()));
            out.funnel.records_total += table.rows.len();
            let records = parse_subset(&table, kind, split, &mut out)?;
            // Stage 1: this subset on its own.
            let candidates: Vec<Candidate> = records.iter().map(Record::candidate).collect();
            let drops = select(
                &candidates,
                &policy.breast_rules(),
                &table.file,
                &mut out.funnel,
            );
            for (record, drop) in records.into_iter().zip(drops) {
                match drop {
                    None => stage_two.push(record),
                    Some(d) => {
                        let detail = format!("{} (within {})", d.detail, record.file);
                        out.exclusions
                            .push(record.exclusion(d.rule.reason(), detail));
                    }
                }
            }
        }
        if !found_any {
            return Err(Error::Other(format!(
                "no CBIS-DDSM case-description CSVs under {} (looked for {} at most two folders down)",
                root.display(),
                SUBSETS.map(|s| s.0).join(", ")
            )));
        }

        // Stage 2: the same breast across subsets.
        let candidates: Vec<Candidate> = stage_two.iter().map(Record::candidate).collect();
        let drops = select(
            &candidates,
            &policy.breast_rules(),
            "across subsets",
            &mut out.funnel,
        );
        let mut kept = Vec::new();
        for (record, drop) in stage_two.into_iter().zip(drops) {
            match drop {
                None => kept.push(record),
                Some(d) => {
                    let detail = format!("{} (across subsets)", d.detail);
                    out.exclusions
                        .push(record.exclusion(d.rule.reason(), detail));
                }
            }
        }
        build_rows(root, &tree, kept, options, &mut out);
        Ok(out)
    }
}

/// Parses one subset file; unreadable records go to exclusions at once.
fn parse_subset(
    table: &RawTable,
    kind: Kind,
    split: &'static str,
    out: &mut Harmonized,
) -> Result<Vec<Record>> {
    let col = |names: &[&str]| table.column(names);
    let c_patient = col(&["patient_id"])?;
    let c_density = col(&["breast_density", "breast density"])?;
    let c_side = col(&["left or right breast"])?;
    let c_view = col(&["image view"])?;
    let c_id = col(&["abnormality id"])?;
    let c_type = col(&["abnormality type"])?;
    let (c_a, c_b, a_column, b_column) = match kind {
        Kind::Mass => (
            col(&["mass shape"])?,
            col(&["mass margins"])?,
            "mass_shape",
            "mass_margin",
        ),
        Kind::Calc => (
            col(&["calc type"])?,
            col(&["calc distribution"])?,
            "calc_morphology",
            "calc_distribution",
        ),
    };
    let c_assessment = col(&["assessment"])?;
    let c_pathology = col(&["pathology"])?;
    let c_subtlety = col(&["subtlety"])?;
    let c_image = col(&["image file path"])?;
    let c_crop = col(&["cropped image file path"])?;
    let c_roi = col(&["ROI mask file path"])?;

    let mut records = Vec::new();
    let mut seen: HashMap<(String, &str, &str, String), i64> = HashMap::new();
    let mut invalid = 0;
    let mut duplicates = 0;
    for row in &table.rows {
        let patient = row.get(c_patient).to_string();
        let side = vocab::laterality(row.get(c_side)).value();
        let view = vocab::view_position(row.get(c_view)).value();
        let (Some(side), Some(view), false) = (side, view, patient.is_empty()) else {
            invalid += 1;
            out.exclusions.push(ExclusionRow {
                level: "record".into(),
                source_file: table.file.clone(),
                source_row: Some(row.number),
                patient_id: (!patient.is_empty()).then(|| patient.clone()),
                reason: Rule::InvalidRecord.reason().into(),
                detail: format!(
                    "patient `{}`, side `{}`, view `{}`: a record needs all three",
                    patient,
                    row.get(c_side),
                    row.get(c_view)
                ),
                ..Default::default()
            });
            continue;
        };
        let id_raw = row.get(c_id).to_string();
        let key = (patient.clone(), side, view, id_raw.clone());
        if let Some(first) = seen.get(&key) {
            duplicates += 1;
            out.exclusions.push(ExclusionRow {
                level: "record".into(),
                source_file: table.file.clone(),
                source_row: Some(row.number),
                patient_id: Some(patient.clone()),
                laterality: Some(side.into()),
                view_position: Some(view.into()),
                reason: Rule::Duplicate.reason().into(),
                detail: format!("repeats abnormality {id_raw} of data row {first}"),
                ..Default::default()
            });
            continue;
        }
        seen.insert(key, row.number);

        let at = RecordAt {
            file: &table.file,
            row: row.number,
            patient: Some(&patient),
            side: Some(side),
        };
        let density_raw = row.get(c_density);
        let density = out.valid(&at, "density", density_raw, vocab::density(density_raw));
        let assessment = row.get(c_assessment);
        let birads = out.valid(&at, "birads", assessment, vocab::birads(assessment));
        let pathology_raw = row.get(c_pathology);
        let pathology = out.valid(
            &at,
            "diagnosis",
            pathology_raw,
            vocab::diagnosis_from_pathology(pathology_raw),
        );
        let subtlety_raw = row.get(c_subtlety);
        let subtlety_mapped = match subtlety_raw.parse::<i32>() {
            Ok(s) if (1..=5).contains(&s) => Mapped::Value(s),
            _ if vocab::is_missing(subtlety_raw) => Mapped::Missing,
            _ => Mapped::Invalid,
        };
        let subtlety = out.valid(&at, "subtlety", subtlety_raw, subtlety_mapped);
        let (a_raw, b_raw) = (row.get(c_a), row.get(c_b));
        let shape_or_type = out
            .valid(&at, a_column, a_raw, vocab::lexicon_list(a_raw))
            .unwrap_or_default();
        let margin_or_distribution = out
            .valid(&at, b_column, b_raw, vocab::lexicon_list(b_raw))
            .unwrap_or_default();
        let type_raw = row.get(c_type);
        let declared = if type_raw.eq_ignore_ascii_case("mass") {
            Some(Kind::Mass)
        } else if type_raw.eq_ignore_ascii_case("calcification") {
            Some(Kind::Calc)
        } else {
            None
        };
        if declared != Some(kind) {
            out.warnings.push(format!(
                "{} data row {}: abnormality type `{type_raw}` in a {} file; read as {}",
                table.file,
                row.number,
                if kind == Kind::Mass { "mass" } else { "calc" },
                if kind == Kind::Mass {
                    "mass"
                } else {
                    "calcification"
                }
            ));
        }
        records.push(Record {
            file: table.file.clone(),
            row: row.number,
            split,
            kind,
            patient,
            side,
            view,
            abnormality_id: id_raw.parse().ok(),
            density,
            birads,
            birads_raw: (!assessment.is_empty()).then(|| assessment.to_string()),
            pathology,
            pathology_raw: (!pathology_raw.is_empty()).then(|| pathology_raw.to_string()),
            subtlety,
            shape_or_type,
            margin_or_distribution,
            image_path: clean_path(row.get(c_image)),
            crop_path: clean_path(row.get(c_crop)),
            roi_path: clean_path(row.get(c_roi)),
        });
    }
    let total = table.rows.len();
    out.funnel
        .record_step(&table.file, Rule::InvalidRecord, total, invalid, 0);
    out.funnel
        .record_step(&table.file, Rule::Duplicate, total - invalid, duplicates, 0);
    Ok(records)
}

/// True when the files named as crop and ROI mask hold the other one: the
/// mask has the full mammogram's size, the crop is smaller (CBIS-DDSM's
/// file numbering of crop and mask is inconsistent, so the content decides,
/// from DICOM headers only). Unknown sizes keep the CSV's roles.
fn mask_is_crop(root: &Path, full: Option<&str>, crop: &str, roi: &str) -> bool {
    let size = |path: &str| {
        crate::dicom::read_header(&root.join(path))
            .ok()
            .and_then(|h| h.rows.zip(h.columns))
    };
    let (Some(full), Some(crop), Some(roi)) = (full.and_then(size), size(crop), size(roi)) else {
        return false;
    };
    crop == full && roi != full
}

/// CSV paths carry a trailing LF in one column and may use backslashes.
fn clean_path(raw: &str) -> String {
    raw.trim().replace('\\', "/")
}

/// Unified rows from the kept records: one finding per record, one
/// metadata row per image.
fn build_rows(
    root: &Path,
    tree: &TciaTree,
    kept: Vec<Record>,
    options: &AdapterOptions,
    out: &mut Harmonized,
) {
    let mut images: BTreeMap<String, Vec<&Record>> = BTreeMap::new();
    for r in &kept {
        images.entry(r.image_id()).or_default().push(r);
    }
    let mut swapped = 0;
    for r in &kept {
        let (crop_path, roi_path) = {
            let crop = tree.resolve(root, &r.crop_path);
            let roi = tree.resolve(root, &r.roi_path);
            let full = tree.resolve(root, &r.image_path);
            match (crop, roi) {
                (Some(crop), Some(roi)) if mask_is_crop(root, full.as_deref(), &crop, &roi) => {
                    swapped += 1;
                    (Some(roi), Some(crop))
                }
                (crop, roi) => (
                    crop.or_else(|| Some(r.crop_path.clone())),
                    roi.or_else(|| Some(r.roi_path.clone())),
                ),
            }
        };
        out.findings.push(FindingRow {
            image_id: r.image_id(),
            exam_id: r.breast(),
            patient_id: r.patient.clone(),
            laterality: r.side.into(),
            view_position: Some(r.view.into()),
            finding: match r.kind {
                Kind::Mass => "mass",
                Kind::Calc => "calcification",
            }
            .into(),
            finding_raw: Some(match r.kind {
                Kind::Mass => "mass".into(),
                Kind::Calc => "calcification".into(),
            }),
            finding_index: r.abnormality_id,
            birads: r.birads,
            birads_raw: r.birads_raw.clone(),
            pathology: r.pathology.map(Into::into),
            pathology_raw: r.pathology_raw.clone(),
            subtlety: r.subtlety,
            mass_shape: if r.kind == Kind::Mass {
                r.shape_or_type.clone()
            } else {
                vec![]
            },
            mass_margin: if r.kind == Kind::Mass {
                r.margin_or_distribution.clone()
            } else {
                vec![]
            },
            calc_morphology: if r.kind == Kind::Calc {
                r.shape_or_type.clone()
            } else {
                vec![]
            },
            calc_distribution: if r.kind == Kind::Calc {
                r.margin_or_distribution.clone()
            } else {
                vec![]
            },
            roi_path,
            crop_path,
            source_file: r.file.clone(),
            source_row: r.row,
            ..Default::default()
        });
    }
    if swapped > 0 {
        out.warnings.push(format!(
            "{swapped} abnormalities: the file the CSV names as the crop is the ROI mask (it has the \
             full mammogram's size) and the other way round; crop_path and roi_path follow the content"
        ));
    }
    for (image_id, records) in images {
        let first = records[0];
        let union = |pick: &dyn Fn(&Record) -> Option<&Vec<String>>| -> Vec<String> {
            let set: BTreeSet<&String> = records.iter().filter_map(|r| pick(r)).flatten().collect();
            set.into_iter().cloned().collect()
        };
        let mass_shape = union(&|r| (r.kind == Kind::Mass).then_some(&r.shape_or_type));
        let (distortion, asymmetry_kinds) = vocab::cbis_shape_flags(&mass_shape);
        let splits: BTreeSet<&str> = records.iter().map(|r| r.split).collect();
        let source_split = if splits.len() > 1 {
            "train+test"
        } else {
            splits.into_iter().next().unwrap_or("train")
        };
        let raw_path = tree.resolve(root, &first.image_path);
        out.metadata.push(MetadataRow {
            patient_id: first.patient.clone(),
            study_id: None,
            image_id,
            exam_id: first.breast(),
            laterality: first.side.into(),
            laterality_source: "metadata".into(),
            view_position: Some(first.view.into()),
            age: None,
            density: records.iter().find_map(|r| r.density).map(Into::into),
            birads: records.iter().find_map(|r| r.birads),
            birads_raw: records.iter().find_map(|r| r.birads_raw.clone()),
            diagnosis: records.iter().find_map(|r| r.pathology).map(Into::into),
            diagnosis_source: records
                .iter()
                .find_map(|r| r.pathology)
                .map(|_| "biopsy".into()),
            mass: records.iter().any(|r| r.kind == Kind::Mass),
            calcification: records.iter().any(|r| r.kind == Kind::Calc),
            asymmetry: !asymmetry_kinds.is_empty(),
            distortion,
            asymmetry_kinds,
            mass_shape,
            mass_margin: union(&|r| (r.kind == Kind::Mass).then_some(&r.margin_or_distribution)),
            mass_density: vec![],
            calc_morphology: union(&|r| (r.kind == Kind::Calc).then_some(&r.shape_or_type)),
            calc_distribution: union(&|r| {
                (r.kind == Kind::Calc).then_some(&r.margin_or_distribution)
            }),
            other_findings: vec![],
            split: None,
            source_split: Some(source_split.into()),
            image_status: if options.metadata_only {
                "metadata_only".into()
            } else if raw_path.is_some() {
                "ok".into()
            } else {
                "missing".into()
            },
            raw_path,
            source_file: first.file.clone(),
            source_row: first.row,
        });
    }
}

/// The TCIA download tree: top folders (`Mass-Training_P_00001_LEFT_CC`)
/// found anywhere up to three levels under the image root.
struct TciaTree {
    top_folders: HashMap<String, PathBuf>,
}

impl TciaTree {
    fn index(image_root: &Path) -> TciaTree {
        let mut top_folders = HashMap::new();
        let mut stack = vec![(image_root.to_path_buf(), 0usize)];
        while let Some((dir, depth)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if name.starts_with('.') || name == "__MACOSX" || !entry.path().is_dir() {
                    continue;
                }
                if name.starts_with("Mass-") || name.starts_with("Calc-") {
                    top_folders.insert(name, entry.path());
                } else if depth < 3 {
                    stack.push((entry.path(), depth + 1));
                }
            }
        }
        TciaTree { top_folders }
    }

    /// The file on disk for a CSV path, relative to ROOT: the path itself
    /// when it exists (old layout), else top folder → study folder ending in
    /// the study UID's last 5 digits → series folder likewise → the file
    /// (`000000.dcm` ↔ `1-1.dcm`, `000001.dcm` ↔ `1-2.dcm`).
    fn resolve(&self, root: &Path, csv_path: &str) -> Option<String> {
        if csv_path.is_empty() {
            return None;
        }
        let direct = root.join(csv_path);
        if direct.is_file() {
            return Some(relative(root, &direct));
        }
        let parts: Vec<&str> = csv_path.split('/').filter(|p| !p.is_empty()).collect();
        let [top, study, series, file] = parts.as_slice() else {
            return None;
        };
        let top_dir = self.top_folders.get(*top)?;
        let study_dir = child_ending_with(top_dir, last5(study))?;
        let series_dir = child_ending_with(&study_dir, last5(series))?;
        let index: usize = file.trim_end_matches(".dcm").parse().ok()?;
        let wanted = series_dir.join(format!("1-{}.dcm", index + 1));
        let path = if wanted.is_file() {
            wanted
        } else {
            // A series with a single file holds it whatever its number.
            let files: Vec<PathBuf> = std::fs::read_dir(&series_dir)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("dcm")))
                .collect();
            match files.as_slice() {
                [only] => only.clone(),
                _ => return None,
            }
        };
        Some(relative(root, &path))
    }
}

/// The last five characters (char-safe: a hostile path is not a panic).
fn last5(uid: &str) -> &str {
    let start = uid.char_indices().rev().nth(4).map_or(0, |(i, _)| i);
    &uid[start..]
}

fn child_ending_with(dir: &Path, suffix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.path().is_dir())
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with(&format!("-{suffix}"))
        })
        .map(|e| e.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASS_HEADER: &str = "patient_id,breast_density,left or right breast,image view,abnormality id,abnormality type,mass shape,mass margins,assessment,pathology,subtlety,image file path,cropped image file path,ROI mask file path";

    fn row(
        patient: &str,
        side: &str,
        view: &str,
        id: u32,
        birads: &str,
        pathology: &str,
    ) -> String {
        let top = format!("Mass-Training_{patient}_{side}_{view}");
        format!(
            "{patient},3,{side},{view},{id},mass,IRREGULAR-ARCHITECTURAL_DISTORTION,SPICULATED,{birads},{pathology},4,{top}/1.2.3.96009/1.2.4.63992/000000.dcm,{top}_1/1.2/1.3/000000.dcm,\"{top}_1/1.2/1.3/000001.dcm\n\""
        )
    }

    fn write_mass_train(dir: &Path, rows: &[String]) {
        let mut text = format!("{MASS_HEADER}\r\n");
        for r in rows {
            text.push_str(r);
            text.push_str("\r\n");
        }
        std::fs::write(dir.join("mass_case_description_train_set.csv"), text).unwrap();
    }

    #[test]
    fn selection_and_rows_on_a_small_subset() {
        let dir = tempfile::tempdir().unwrap();
        write_mass_train(
            dir.path(),
            &[
                row("P_00001", "LEFT", "CC", 1, "4", "MALIGNANT"),
                row("P_00001", "LEFT", "MLO", 1, "4", "MALIGNANT"),
                row("P_00002", "RIGHT", "CC", 1, "3", "BENIGN"),
                row("P_00003", "LEFT", "CC", 1, "0", "BENIGN_WITHOUT_CALLBACK"),
                row("P_00003", "LEFT", "MLO", 1, "0", "BENIGN"),
                row("P_00001", "LEFT", "MLO", 1, "4", "MALIGNANT"),
            ],
        );
        let out = CbisDdsm
            .harmonize(
                dir.path(),
                &AdapterOptions {
                    metadata_only: true,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(out.metadata.len(), 2);
        assert_eq!(out.findings.len(), 2);
        let m = &out.metadata[0];
        assert_eq!(m.image_id, "P_00001_LEFT_CC");
        assert_eq!(m.exam_id, "P_00001_L");
        assert_eq!(m.density.as_deref(), Some("C"));
        assert!(m.mass && m.distortion && !m.calcification);
        assert_eq!(m.mass_shape, ["architectural_distortion", "irregular"]);
        assert_eq!(m.source_split.as_deref(), Some("train"));
        assert_eq!(m.image_status, "metadata_only");
        let reasons: Vec<(i64, &str)> = out
            .exclusions
            .iter()
            .map(|e| (e.source_row.unwrap(), e.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                (6, "duplicate"),
                (3, "missing_view"),
                (4, "birads_0"),
                (5, "birads_0")
            ]
        );
        assert!(
            out.findings[0]
                .roi_path
                .as_deref()
                .unwrap()
                .ends_with("000001.dcm")
        );
    }

    #[test]
    fn renamed_column_is_an_error_naming_file_and_headers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mass_case_description_train_set.csv"),
            "patient_id,density\r\nP_1,3\r\n",
        )
        .unwrap();
        let err = CbisDdsm
            .harmonize(dir.path(), &AdapterOptions::default())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "mass_case_description_train_set.csv: no column `breast_density` or `breast density` (found: `patient_id`, `density`)"
        );
    }

    #[test]
    fn resolves_csv_paths_to_the_current_tcia_layout() {
        let dir = tempfile::tempdir().unwrap();
        let series = dir
            .path()
            .join("CBIS-DDSM/Mass-Training_P_00001_LEFT_CC/07-20-2016-DDSM-NA-96009/1.000000-full mammogram images-63992");
        std::fs::create_dir_all(&series).unwrap();
        std::fs::write(series.join("1-1.dcm"), b"x").unwrap();
        let tree = TciaTree::index(dir.path());
        let got = tree.resolve(
            dir.path(),
            "Mass-Training_P_00001_LEFT_CC/1.3.6.1.4.1.9590.100.1.2.85935434310203356712688695661986996009/1.3.6.1.4.1.9590.100.1.2.374115997511889073021386151921807063992/000000.dcm",
        );
        assert_eq!(
            got.as_deref(),
            Some(
                "CBIS-DDSM/Mass-Training_P_00001_LEFT_CC/07-20-2016-DDSM-NA-96009/1.000000-full mammogram images-63992/1-1.dcm"
            )
        );
        assert_eq!(
            tree.resolve(dir.path(), "Calc-Test_P_9_LEFT_CC/1/2/000000.dcm"),
            None
        );
    }
}
