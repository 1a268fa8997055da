//! TOMPEI-CMMD look-alike (datasets.md §3.5): the workbook
//! `TOMPEI-CMMD_clinical_data_v01_20250121.xlsx` (sheets `README`,
//! `Imaging Diagnosis Details Sheet` with two header rows and blank first
//! header cells, `Lesion Details Sheet` with three header rows and a totals
//! row), one row per imaged breast with the corrected laterality,
//! classifications incl. `Exclusion` (with a reason) and `Invisible`, density
//! words, BI-RADS and location codes; the MLO annotation JSONs (`Draw` /
//! `Polyline` outlines, box-only `dist`, `"calc "` with a trailing space) plus
//! their `__MACOSX/` AppleDouble junk; and the CMMD download it annotates
//! (NBIA tree, metadata.csv, clinical xlsx) under `manifest-1616439774456/`,
//! with CMMD's laterality errors in the DICOM tags.

use std::collections::HashMap;

use rand::Rng;
use rand::seq::IndexedRandom;

use super::cmmd::{self, CmmdBreast};
use super::{Cell, Plan, Sheet, SynthConfig, TruthRow, xlsx};
use crate::error::Result;

/// The workbook's file name.
pub const WORKBOOK: &str = "TOMPEI-CMMD_clinical_data_v01_20250121.xlsx";
/// Folder of the annotation JSONs.
pub const ANNOTATIONS: &str = "annotations/TOMPEI-CMMD_v01_20250123";
/// Folder of the CMMD download inside OUT.
pub const CMMD_ROOT: &str = "manifest-1616439774456/";

/// Second header row of the Imaging Diagnosis Details Sheet (33 columns).
pub const IMAGING_HEADER_2: [&str; 33] = [
    "ID1",
    "LeftRight",
    "Age",
    "Classification",
    "Reason for exclusion",
    "Breast composition",
    "Location",
    "Shape",
    "Margin",
    "Density",
    "Associated calcification",
    "Other associated findings",
    "Location",
    "Morphology",
    "Distribution",
    "Clearly benign calcifications",
    "Associated findings",
    "Location",
    "Breast parenchyma",
    "Skin",
    "Lymph nodes",
    "BI-RADS",
    "Notes",
    "Location",
    "Shape",
    "Margin",
    "Density",
    "Associated calcification",
    "Other associated findings",
    "Location",
    "Morphology",
    "Distribution",
    "Clearly benign calcifications",
];

/// First header row: group titles over merged ranges `(first col, last col, title)`.
const IMAGING_GROUPS: [(u16, u16, &str); 7] = [
    (4, 5, "Overall"),
    (6, 11, "Mass"),
    (12, 15, "Calcification"),
    (16, 20, "Other findings"),
    (21, 22, "Assessment"),
    (23, 28, "Mass - additional lesion"),
    (29, 32, "Calcification - additional lesion"),
];

const EXCLUSION_REASONS: &[&str] = &[
    "CV port",
    "Phyllodes tumor",
    "Presence of white objects",
    "Neurofibromatosis",
    "Foreign object at the top",
    "Scale is incorrect",
    "Image noise",
    "Breast augmentation",
    "Lower part missing",
    "Unclear on image/Pacemaker?",
    "Lymphedema",
];
const LOCATIONS: &[&str] = &["U", "L", "M", "S", "M-L", "U-M", "whole area"];

struct TompeiRow {
    classification: &'static str,
    reason: &'static str,
    density: &'static str,
    birads: Option<u32>,
    annotated: bool,
}

fn classify(
    rng: &mut rand_chacha::ChaCha8Rng,
    breast: &CmmdBreast,
    force: Option<&'static str>,
) -> TompeiRow {
    let classification = force.unwrap_or_else(|| match &breast.label {
        None => "Normal",
        Some(l) if l.classification == "Benign" && rng.random_bool(0.6) => "Benign",
        Some(l) if l.classification == "Benign" => "Normal",
        Some(_) => {
            let u: f64 = rng.random();
            if u < 0.02 {
                "Exclusion"
            } else if u < 0.12 {
                "Invisible"
            } else {
                "Malignant"
            }
        }
    });
    let density = *[
        "heterogeneous dense",
        "heterogeneous dense",
        "heterogeneous dense",
        "extremely dense",
        "scattered",
        "fatty",
        "",
    ]
    .choose(rng)
    .unwrap_or(&"scattered");
    let birads = match classification {
        "Normal" => Some(1),
        "Benign" => Some(rng.random_range(2..=3)),
        "Malignant" => Some(rng.random_range(4..=5)),
        "Invisible" => rng.random_bool(0.5).then_some(4),
        _ => None,
    };
    TompeiRow {
        classification,
        reason: if classification == "Exclusion" {
            EXCLUSION_REASONS
                .choose(rng)
                .copied()
                .unwrap_or("Image noise")
        } else {
            ""
        },
        density,
        birads,
        annotated: matches!(classification, "Malignant" | "Benign")
            && !breast.images.is_empty()
            && !breast.images[0].phantom.lesions.is_empty(),
    }
}

fn s(v: &str) -> Cell {
    if v.is_empty() {
        Cell::Blank
    } else {
        Cell::Str(v.to_string())
    }
}

/// The AppleDouble header macOS zips add as `__MACOSX/._name`.
fn apple_double() -> Vec<u8> {
    let mut b = vec![0x00, 0x05, 0x16, 0x07, 0x00, 0x02, 0x00, 0x00];
    b.extend_from_slice(b"Mac OS X        ");
    b.extend_from_slice(&[0x00, 0x02, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x32]);
    b.resize(4096, 0);
    b
}

pub(super) fn plan(cfg: &SynthConfig) -> Result<Plan> {
    let (mut plan, patients) = cmmd::plan_with_patients(cfg, CMMD_ROOT)?;
    // The CMMD workbook's rows are not this dataset's records.
    plan.truth.retain(|r| r.kind == "image");

    let mut imaging: Vec<Vec<Cell>> = Vec::new();
    let mut row1 = vec![Cell::Blank; 33];
    for (c0, _, title) in IMAGING_GROUPS {
        row1[c0 as usize] = Cell::Str(title.into());
    }
    imaging.push(row1);
    imaging.push(IMAGING_HEADER_2.iter().map(|h| s(h)).collect());
    let mut lesion_rows: Vec<Vec<Cell>> = vec![
        {
            let mut r = vec![Cell::Blank; 19];
            r[4] = Cell::Str("Lesions".into());
            r
        },
        {
            let mut r = vec![Cell::Blank; 19];
            for k in 0..7 {
                r[4 + 2 * k] = Cell::Str(format!("Lesion {}", k + 1));
            }
            r
        },
        {
            let mut r: Vec<Cell> = ["ID1", "LeftRight", "View", "Number of lesions"]
                .iter()
                .map(|h| s(h))
                .collect();
            for _ in 0..7 {
                r.push(s("Label"));
                r.push(s("Type"));
            }
            r.push(s("Note"));
            r
        },
    ];
    let mut total_lesions = 0usize;
    let mut selection_by_path: HashMap<String, &'static str> = HashMap::new();
    let mut trailing_space_done = false;

    for p in &patients {
        let mut rng = cfg.rng(7, p.index as u64);
        let corrected = p.reversed
            || p.breasts
                .iter()
                .any(|b| b.images.iter().any(|i| i.tag_side != b.side));
        for (bi, breast) in p.breasts.iter().enumerate() {
            let force = match (p.index, bi) {
                (3, 0) => Some("Exclusion"),
                (4, 0) => Some("Invisible"),
                _ => None,
            };
            let row = classify(&mut rng, breast, force);
            let selection = match row.classification {
                "Exclusion" => "excluded_by_dataset",
                "Invisible" => "invisible_lesion",
                _ => "keep",
            };
            for img in &breast.images {
                selection_by_path.insert(img.rel_path.clone(), selection);
            }
            let has_mass = breast
                .label
                .as_ref()
                .is_some_and(|l| l.abnormality != "calcification");
            let has_calc = breast
                .label
                .as_ref()
                .is_some_and(|l| l.abnormality != "mass");
            let lesion_like = matches!(row.classification, "Malignant" | "Benign");
            let mut cells = vec![Cell::Blank; 33];
            cells[0] = s(&p.id);
            cells[1] = s(&breast.side.to_string());
            cells[2] = Cell::Num(p.age as f64);
            cells[3] = s(row.classification);
            cells[4] = s(row.reason);
            cells[5] = s(row.density);
            if lesion_like && has_mass {
                cells[6] = s(LOCATIONS.choose(&mut rng).unwrap_or(&"U"));
                cells[7] = s(["irregular", "oval", "round"]
                    .choose(&mut rng)
                    .unwrap_or(&"oval"));
                cells[8] = s(["spiculated", "indistinct", "circumscribed", "obscured"]
                    .choose(&mut rng)
                    .unwrap_or(&"indistinct"));
                cells[9] = s(["high density", "equal density"]
                    .choose(&mut rng)
                    .unwrap_or(&"equal density"));
                cells[10] = s(if has_calc { "calc" } else { "" });
            }
            if lesion_like && has_calc {
                cells[12] = s(LOCATIONS.choose(&mut rng).unwrap_or(&"S"));
                cells[13] = s(["fine pleomorphic", "amorphous", "fine linear"]
                    .choose(&mut rng)
                    .unwrap_or(&"amorphous"));
                cells[14] = s(["grouped", "segmental", "linear", "regional"]
                    .choose(&mut rng)
                    .unwrap_or(&"grouped"));
            }
            if lesion_like && rng.random_bool(0.1) {
                cells[16] = s("FAD");
                cells[17] = s(LOCATIONS.choose(&mut rng).unwrap_or(&"M"));
            }
            cells[21] = row.birads.map_or(Cell::Blank, |b| Cell::Num(b as f64));
            if corrected {
                cells[22] = s(if p.reversed {
                    "Reversed left and right"
                } else {
                    "Laterality tags of two images swapped"
                });
            }
            imaging.push(cells);
            plan.truth.push(TruthRow {
                kind: "record",
                path: breast
                    .images
                    .first()
                    .map(|i| i.rel_path.clone())
                    .unwrap_or_default(),
                source_file: WORKBOOK.into(),
                source_row: Some(imaging.len() - 2),
                patient_id: p.id.clone(),
                laterality: breast.side.to_string(),
                true_laterality: breast.side.to_string(),
                defects: if corrected {
                    vec!["mirrored".into()]
                } else {
                    Vec::new()
                },
                expected_selection: selection.into(),
                ..Default::default()
            });

            // Annotation JSON of the MLO image.
            if !row.annotated {
                continue;
            }
            let Some(mlo) = breast.images.iter().find(|i| i.view == "MLO") else {
                continue;
            };
            let mut lesions_json = Vec::new();
            let mut label_cells = Vec::new();
            for li in 0..mlo.phantom.lesions.len() {
                let (cx, cy, r) = mlo.phantom.lesion_circle(li);
                let label = if has_calc && (li == 1 || !has_mass) {
                    if !trailing_space_done || rng.random_bool(0.04) {
                        trailing_space_done = true;
                        "calc "
                    } else {
                        "calc"
                    }
                } else if rng.random_bool(0.05) {
                    "dist"
                } else {
                    *["mass", "mass", "mass", "FA", "FAD"]
                        .choose(&mut rng)
                        .unwrap_or(&"mass")
                };
                let kind = if rng.random_bool(0.03) {
                    "Polyline"
                } else {
                    "Draw"
                };
                let points: Vec<String> = if label == "dist" {
                    [
                        (-1.0, -1.0),
                        (1.0, -1.0),
                        (1.0, 1.0),
                        (-1.0, 1.0),
                        (-1.0, -1.0),
                    ]
                    .iter()
                    .map(|(dx, dy)| {
                        format!(
                            "{{\"x\":{:.1},\"y\":{:.1}}}",
                            cx + dx * r * 1.3,
                            cy + dy * r * 1.3
                        )
                    })
                    .collect()
                } else {
                    let n = rng.random_range(12..24);
                    (0..n)
                        .map(|k| {
                            let a = k as f32 / n as f32 * std::f32::consts::TAU;
                            let rr = r * rng.random_range(0.85..1.15);
                            format!(
                                "{{\"x\":{:.1},\"y\":{:.1}}}",
                                cx + rr * a.cos(),
                                cy + rr * a.sin()
                            )
                        })
                        .collect()
                };
                let id: u64 = rng.random();
                lesions_json.push(format!(
                    "{{\"cgPoints\":[{}],\"label\":\"{label}\",\"type\":\"{kind}\",\"_id\":\"{id:016x}\",\"color\":\"#ff0000\"}}",
                    points.join(",")
                ));
                label_cells.push(s(label));
                label_cells.push(s(kind));
            }
            let name = format!("{}_MLO_{}_AnnotationFile.json", p.id, breast.side);
            plan.files.push((
                format!("{ANNOTATIONS}/{name}"),
                format!("[{}]", lesions_json.join(",")).into_bytes(),
            ));
            plan.files
                .push((format!("__MACOSX/{ANNOTATIONS}/._{name}"), apple_double()));
            let n = mlo.phantom.lesions.len();
            total_lesions += n;
            let mut r = vec![
                s(&p.id),
                s(&breast.side.to_string()),
                s("MLO"),
                Cell::Num(n as f64),
            ];
            r.extend(label_cells);
            r.resize(18, Cell::Blank);
            r.push(Cell::Blank);
            lesion_rows.push(r);
        }
    }
    // The totals row: no ID.
    let mut totals = vec![Cell::Blank; 19];
    totals[2] = s("Total");
    totals[3] = Cell::Num(total_lesions as f64);
    lesion_rows.push(totals);

    for row in plan.truth.iter_mut().filter(|r| r.kind == "image") {
        if let Some(sel) = selection_by_path.get(&row.path) {
            row.expected_selection = sel.to_string();
        }
    }
    let imaging_merges: Vec<(u32, u16, u32, u16)> = IMAGING_GROUPS
        .iter()
        .filter(|(a, b, _)| a != b)
        .map(|&(a, b, _)| (0, a, 0, b))
        .collect();
    let readme = vec![
        vec![s("TOMPEI-CMMD clinical data, version 1 (2025/01/24)")],
        vec![s(
            "Classification: Normal = normal or benign without a locatable lesion; Invisible = malignant but not locatable on the image; Exclusion = recommended exclusion.",
        )],
        vec![s(
            "Location codes: U upper, L lower, M medial, S subareolar, M-L middle to lateral, U-M upper-medial, whole area.",
        )],
        vec![s(
            "Abbreviations: calc = calcification, FAD = focal asymmetric density, FA = fibroadenoma.",
        )],
    ];
    let book = xlsx(&[
        Sheet {
            name: "README".into(),
            rows: readme,
            merges: Vec::new(),
        },
        Sheet {
            name: "Imaging Diagnosis Details Sheet".into(),
            rows: imaging,
            merges: imaging_merges,
        },
        Sheet {
            name: "Lesion Details Sheet".into(),
            rows: lesion_rows,
            merges: vec![(0, 4, 0, 17)],
        },
    ])?;
    plan.files.push((WORKBOOK.into(), book));
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_double_junk_has_the_macos_magic() {
        let b = apple_double();
        assert_eq!(&b[..4], &[0x00, 0x05, 0x16, 0x07]);
        assert_eq!(&b[8..24], b"Mac OS X        ");
        assert_eq!(b.len(), 4096);
    }

    #[test]
    fn imaging_sheet_has_33_columns_in_seven_groups() {
        assert_eq!(IMAGING_HEADER_2.len(), 33);
        assert_eq!(IMAGING_HEADER_2[21], "BI-RADS");
        let covered: u16 = IMAGING_GROUPS.iter().map(|(a, b, _)| b - a + 1).sum();
        assert_eq!(covered, 33 - 4, "all but the four blank leading columns");
    }
}
