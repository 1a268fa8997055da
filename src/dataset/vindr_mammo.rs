//! VinDr-Mammo (PhysioNet, DOI 10.13026/br2v-7517): `breast-level_annotations.csv`
//! has one row per image (breast-level BI-RADS and density, the split);
//! `finding_annotations.csv` one row per finding box, plus one `No Finding`
//! row per image without any; `metadata.csv` the DICOM attributes per image.
//! Images are `images/<study_id>/<image_id>.dicom`. VinDr publishes no
//! patient key: the study stands in (one study per patient). All cases are
//! retained and the dataset's own, patient-disjoint split is kept.
//!
//! Accounting: breast-level rows become `metadata`; finding rows become
//! `findings` (one per category of a box); a `No Finding` row repeats what
//! the image's breast-level row says, so it is a `duplicate` record exclusion
//! that names that row.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use crate::dataset::selection::Rule;
use crate::dataset::source::{RawTable, find_files};
use crate::dataset::vocab::{self, FindingCategory, Flag, Mapped};
use crate::dataset::{Adapter, AdapterOptions, Harmonized, Policy, RecordAt};
use crate::error::{Error, Result};
use crate::lake::DatasetInfo;
use crate::record::{ExclusionRow, FindingRow, MetadataRow};

/// The VinDr-Mammo adapter.
pub struct VindrMammo;

const BREAST_LEVEL: &str = "breast-level_annotations.csv";
const FINDINGS: &str = "finding_annotations.csv";
const METADATA: &str = "metadata.csv";

/// What the finding rows say about one image.
#[derive(Default)]
struct ImageFindings {
    flags: BTreeSet<&'static str>,
    asymmetry_kinds: BTreeSet<&'static str>,
    other: BTreeSet<&'static str>,
}

impl Adapter for VindrMammo {
    fn name(&self) -> &'static str {
        "vindr-mammo"
    }

    fn info(&self) -> DatasetInfo {
        DatasetInfo {
            source_doi: Some("10.13026/br2v-7517".into()),
            license: Some("PhysioNet Credentialed Health Data License 1.5.0".into()),
            version: Some("1.0.0".into()),
            synthetic: false,
        }
    }

    fn default_policy(&self) -> Policy {
        Policy::new(&[Rule::InvalidRecord, Rule::Duplicate])
    }

    fn harmonize(&self, root: &Path, options: &AdapterOptions) -> Result<Harmonized> {
        let policy = self.default_policy().with_extra(&options.policy);
        let mut out = Harmonized::default();
        let find = |name: &str| {
            find_files(root, &|n| n.eq_ignore_ascii_case(name))
                .into_iter()
                .next()
        };
        let breast_path = find(BREAST_LEVEL).ok_or_else(|| {
            Error::Other(format!(
                "no {BREAST_LEVEL} under {} (looked at most two folders down)",
                root.display()
            ))
        })?;
        let dataset_root = breast_path.parent().unwrap_or(root).to_path_buf();
        let image_root = options
            .images
            .clone()
            .unwrap_or_else(|| dataset_root.clone());
        let breast = RawTable::read_csv(root, &breast_path)?;
        out.record_files
            .push((breast.file.clone(), breast.rows.len()));
        out.funnel.records_total += breast.rows.len();

        let ages = find(METADATA)
            .map(|p| read_ages(root, &p, &mut out))
            .unwrap_or_default();

        // Findings first: they set the image flags.
        let mut per_image: HashMap<String, ImageFindings> = HashMap::new();
        let mut no_finding_rows: Vec<(i64, String, String, String)> = Vec::new();
        let findings_table = match find(FINDINGS) {
            Some(p) => Some(RawTable::read_csv(root, &p)?),
            None => {
                out.warnings.push(format!(
                    "no {FINDINGS}: no findings and no abnormality flags"
                ));
                None
            }
        };
        if let Some(t) = &findings_table {
            out.record_files.push((t.file.clone(), t.rows.len()));
            out.funnel.records_total += t.rows.len();
            read_findings(t, &mut out, &mut per_image, &mut no_finding_rows)?;
        }

        let c_study = breast.column(&["study_id"])?;
        let c_image = breast.column(&["image_id"])?;
        let c_side = breast.column(&["laterality"])?;
        let c_view = breast.column(&["view_position"])?;
        let c_birads = breast.column(&["breast_birads"])?;
        let c_density = breast.column(&["breast_density"])?;
        let c_split = breast.column(&["split"])?;
        let mut seen: HashMap<String, i64> = HashMap::new();
        let (mut invalid, mut duplicates) = (0, 0);
        let mut rows = Vec::new();
        for row in &breast.rows {
            let study = row.get(c_study).to_string();
            let image = row.get(c_image).to_string();
            let side = vocab::laterality(row.get(c_side)).value();
            let (Some(side), false, false) = (side, study.is_empty(), image.is_empty()) else {
                invalid += 1;
                out.exclusions.push(ExclusionRow {
                    level: "record".into(),
                    source_file: breast.file.clone(),
                    source_row: Some(row.number),
                    patient_id: (!study.is_empty()).then(|| study.clone()),
                    image_id: (!image.is_empty()).then(|| image.clone()),
                    reason: Rule::InvalidRecord.reason().into(),
                    detail: format!(
                        "study `{study}`, image `{image}`, laterality `{}`: a record needs all three",
                        row.get(c_side)
                    ),
                    ..Default::default()
                });
                continue;
            };
            if let Some(first) = seen.get(&image) {
                duplicates += 1;
                out.exclusions.push(ExclusionRow {
                    level: "record".into(),
                    source_file: breast.file.clone(),
                    source_row: Some(row.number),
                    patient_id: Some(study.clone()),
                    image_id: Some(image.clone()),
                    reason: Rule::Duplicate.reason().into(),
                    detail: format!("image {image} is listed again (first: data row {first})"),
                    ..Default::default()
                });
                continue;
            }
            seen.insert(image.clone(), row.number);
            let at = RecordAt {
                file: &breast.file,
                row: row.number,
                patient: Some(&study),
                side: Some(side),
            };
            let view_raw = row.get(c_view);
            let view = out.valid(
                &at,
                "view_position",
                view_raw,
                vocab::view_position(view_raw),
            );
            let birads_raw = row.get(c_birads);
            let birads = out.valid(&at, "birads", birads_raw, vocab::birads(birads_raw));
            let density_raw = row.get(c_density);
            let density = out.valid(&at, "density", density_raw, vocab::density(density_raw));
            let split_raw = row.get(c_split);
            let split = out.valid(&at, "split", split_raw, vocab::source_split(split_raw));
            let found = per_image.remove(&image).unwrap_or_default();
            let file = image_root
                .join("images")
                .join(&study)
                .join(format!("{image}.dicom"));
            let raw_path = file
                .is_file()
                .then(|| crate::dataset::source::relative(root, &file));
            rows.push(MetadataRow {
                patient_id: study.clone(),
                study_id: Some(study.clone()),
                image_id: image.clone(),
                exam_id: format!("{study}_{side}"),
                laterality: side.into(),
                laterality_source: "metadata".into(),
                view_position: view.map(Into::into),
                age: ages.get(&image).copied(),
                density: density.map(Into::into),
                birads,
                birads_raw: (!birads_raw.is_empty()).then(|| birads_raw.to_string()),
                diagnosis: None,
                diagnosis_source: None,
                mass: found.flags.contains("mass"),
                calcification: found.flags.contains("calcification"),
                asymmetry: found.flags.contains("asymmetry"),
                distortion: found.flags.contains("distortion"),
                asymmetry_kinds: found
                    .asymmetry_kinds
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                other_findings: found.other.iter().map(|s| s.to_string()).collect(),
                split: split.map(Into::into),
                source_split: split.map(Into::into),
                image_status: if options.metadata_only {
                    "metadata_only".into()
                } else if raw_path.is_some() {
                    "ok".into()
                } else {
                    "missing".into()
                },
                raw_path,
                source_file: breast.file.clone(),
                source_row: row.number,
                ..Default::default()
            });
        }
        out.funnel.record_step(
            &breast.file,
            Rule::InvalidRecord,
            breast.rows.len(),
            invalid,
            0,
        );
        out.funnel.record_step(
            &breast.file,
            Rule::Duplicate,
            breast.rows.len() - invalid,
            duplicates,
            0,
        );

        // `No Finding` markers repeat the image's breast-level row.
        if let Some(t) = &findings_table {
            let total = no_finding_rows.len();
            for (number, study, image, side) in no_finding_rows {
                let detail = match seen.get(&image) {
                    Some(r) => format!(
                        "`No Finding` marker of image {image}, which is in metadata from {} data row {r}",
                        breast.file
                    ),
                    None => format!(
                        "`No Finding` marker of image {image}, which {} does not list",
                        breast.file
                    ),
                };
                out.exclusions.push(ExclusionRow {
                    level: "record".into(),
                    source_file: t.file.clone(),
                    source_row: Some(number),
                    patient_id: Some(study),
                    laterality: Some(side),
                    image_id: Some(image),
                    reason: Rule::Duplicate.reason().into(),
                    detail,
                    ..Default::default()
                });
            }
            out.funnel
                .record_step(&t.file, Rule::Duplicate, t.rows.len(), total, 0);
        }
        for image in per_image.keys() {
            out.warnings.push(format!(
                "{FINDINGS} has findings for image {image}, which {BREAST_LEVEL} does not list"
            ));
        }

        crate::dataset::apply_breast_rules(rows, &policy.breast_rules(), &breast.file, &mut out);
        Ok(out)
    }
}

/// Reads finding rows into `findings` and per-image flags.
fn read_findings(
    t: &RawTable,
    out: &mut Harmonized,
    per_image: &mut HashMap<String, ImageFindings>,
    no_finding_rows: &mut Vec<(i64, String, String, String)>,
) -> Result<()> {
    let c_study = t.column(&["study_id"])?;
    let c_image = t.column(&["image_id"])?;
    let c_side = t.column(&["laterality"])?;
    let c_view = t.column(&["view_position"])?;
    let c_height = t.column(&["height"])?;
    let c_width = t.column(&["width"])?;
    let c_categories = t.column(&["finding_categories"])?;
    let c_birads = t.column(&["finding_birads"])?;
    let boxes = [
        t.column(&["xmin"])?,
        t.column(&["ymin"])?,
        t.column(&["xmax"])?,
        t.column(&["ymax"])?,
    ];
    for row in &t.rows {
        let study = row.get(c_study).to_string();
        let image = row.get(c_image).to_string();
        let side = vocab::laterality(row.get(c_side)).value();
        let categories = vocab::parse_python_list(row.get(c_categories));
        let (Some(side), Some(categories), false) = (side, categories, image.is_empty()) else {
            out.exclusions.push(ExclusionRow {
                level: "record".into(),
                source_file: t.file.clone(),
                source_row: Some(row.number),
                patient_id: (!study.is_empty()).then(|| study.clone()),
                image_id: (!image.is_empty()).then(|| image.clone()),
                reason: Rule::InvalidRecord.reason().into(),
                detail: format!(
                    "image `{image}`, laterality `{}`, finding_categories `{}`: unreadable",
                    row.get(c_side),
                    row.get(c_categories)
                ),
                ..Default::default()
            });
            continue;
        };
        let mapped: Vec<(String, Mapped<FindingCategory>)> = categories
            .iter()
            .map(|c| (c.clone(), vocab::vindr_category(c)))
            .collect();
        if mapped
            .iter()
            .all(|(_, m)| matches!(m, Mapped::Value(FindingCategory::NoFinding)))
        {
            no_finding_rows.push((row.number, study, image, side.to_string()));
            continue;
        }
        let number = |c: usize| row.get(c).parse::<f64>().ok().filter(|v| v.is_finite());
        let (height, width) = (number(c_height), number(c_width));
        let raw: Vec<Option<f64>> = boxes.iter().map(|&c| number(c)).collect();
        let clip = |v: Option<f64>, limit: Option<f64>| match (v, limit) {
            (Some(v), Some(l)) => Some(v.clamp(0.0, l)),
            (v, _) => v,
        };
        let clipped = [
            clip(raw[0], width),
            clip(raw[1], height),
            clip(raw[2], width),
            clip(raw[3], height),
        ];
        let box_clipped = clipped.iter().zip(&raw).any(|(a, b)| a != b);
        let birads_raw = row.get(c_birads);
        let birads = vocab::birads(birads_raw).value();
        let view = vocab::view_position(row.get(c_view)).value();
        let image_flags = per_image.entry(image.clone()).or_default();
        for (name, category) in mapped {
            let finding = match category {
                Mapped::Value(FindingCategory::Finding(f)) => Some(f),
                Mapped::Value(FindingCategory::NoFinding) => continue,
                _ => None,
            };
            if let Some(f) = finding {
                if let Some(flag) = f.flag() {
                    image_flags.flags.insert(match flag {
                        Flag::Mass => "mass",
                        Flag::Calcification => "calcification",
                        Flag::Asymmetry => "asymmetry",
                        Flag::Distortion => "distortion",
                    });
                }
                if let Some(kind) = f.asymmetry_kind() {
                    image_flags.asymmetry_kinds.insert(kind);
                }
                if let Some(term) = f.other_findings_term() {
                    image_flags.other.insert(term);
                }
            }
            out.findings.push(FindingRow {
                image_id: image.clone(),
                exam_id: format!("{study}_{side}"),
                patient_id: study.clone(),
                laterality: side.into(),
                view_position: view.map(Into::into),
                finding: finding.map_or("other", |f| f.as_str()).into(),
                finding_raw: Some(name),
                birads,
                birads_raw: (!birads_raw.is_empty()).then(|| birads_raw.to_string()),
                x0: clipped[0],
                y0: clipped[1],
                x1: clipped[2],
                y1: clipped[3],
                raw_x0: raw[0],
                raw_y0: raw[1],
                raw_x1: raw[2],
                raw_y1: raw[3],
                box_clipped,
                source_file: t.file.clone(),
                source_row: row.number,
                ..Default::default()
            });
        }
    }
    Ok(())
}

/// Patient ages per image from `metadata.csv` (`Patient's Age`, e.g. `053Y`).
fn read_ages(root: &Path, path: &Path, out: &mut Harmonized) -> HashMap<String, i32> {
    let mut ages = HashMap::new();
    let table = match RawTable::read_csv(root, path) {
        Ok(t) => t,
        Err(e) => {
            out.warnings.push(format!("{METADATA} not used: {e}"));
            return ages;
        }
    };
    let (Ok(c_uid), Ok(c_age)) = (
        table.column(&["SOP Instance UID"]),
        table.column(&["Patient's Age"]),
    ) else {
        out.warnings.push(format!(
            "{}: no `SOP Instance UID` / `Patient's Age` columns: ages not read",
            table.file
        ));
        return ages;
    };
    for row in &table.rows {
        if let Mapped::Value(a) = vocab::age(row.get(c_age)) {
            ages.insert(row.get(c_uid).to_string(), a);
        }
    }
    ages
}

#[cfg(test)]
mod tests {
    use super::*;

    const FINDINGS_HEADER: &str = "study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,finding_categories,finding_birads,xmin,ymin,xmax,ymax,split";
    const BREAST_HEADER: &str = "study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,split";

    #[test]
    fn images_findings_and_no_finding_markers() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join(BREAST_LEVEL),
            format!(
                "{BREAST_HEADER}\ns1,x,i1,L,CC,3518,2800,BI-RADS 4,DENSITY C,training\ns1,x,i2,L,MLO,3518,2800,BI-RADS 4,DENSITY C,training\ns1,x,i3,R,CC,3518,2800,BI-RADS 1,DENSITY E,training\n"
            ),
        )
        .unwrap();
        std::fs::write(
            root.join(FINDINGS),
            format!(
                "{FINDINGS_HEADER}\n\
                 s1,x,i1,L,CC,3518,2800,BI-RADS 4,DENSITY C,\"['Suspicious Calcification', 'Mass']\",BI-RADS 4,-6.25,10,2800.43,20.5,training\n\
                 s1,x,i2,L,MLO,3518,2800,BI-RADS 4,DENSITY C,['Focal Asymmetry'],BI-RADS 3,1,2,3,4,training\n\
                 s1,x,i2,L,MLO,3518,2800,BI-RADS 4,DENSITY C,['Skin Thickening'],,1,2,3,4,training\n\
                 s1,x,i3,R,CC,3518,2800,BI-RADS 1,DENSITY E,['No Finding'],,,,,,training\n"
            ),
        )
        .unwrap();
        let out = VindrMammo
            .harmonize(root, &AdapterOptions::default())
            .unwrap();
        assert_eq!(out.metadata.len(), 3);
        let i1 = &out.metadata[0];
        assert!(i1.mass && i1.calcification && !i1.asymmetry);
        assert_eq!(i1.split.as_deref(), Some("train"));
        assert_eq!(i1.exam_id, "s1_L");
        let i2 = &out.metadata[1];
        assert!(i2.asymmetry);
        assert_eq!(i2.asymmetry_kinds, ["focal"]);
        assert_eq!(i2.other_findings, ["skin_thickening"]);
        assert_eq!(out.metadata[2].density, None, "DENSITY E is invalid");
        assert_eq!(out.findings.len(), 4);
        let f = &out.findings[0];
        assert_eq!(
            (f.x0, f.x1, f.raw_x0, f.box_clipped),
            (Some(0.0), Some(2800.0), Some(-6.25), true)
        );
        let reasons: Vec<(&str, &str)> = out
            .exclusions
            .iter()
            .map(|e| (e.level.as_str(), e.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [("value", "invalid_value"), ("record", "duplicate")]
        );
        assert!(
            out.exclusions[1].detail.contains("data row 3"),
            "{}",
            out.exclusions[1].detail
        );
    }
}
