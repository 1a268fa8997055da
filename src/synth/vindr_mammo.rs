//! VinDr-Mammo look-alike (datasets.md §2): `images/<study_id>/<image_id>.dicom`
//! with 32-hex IDs standing in for the MD5-hashed UIDs (the same value in the
//! file name, the DICOM UIDs and the CSVs), the de-identified header (no SOP
//! Class UID, dummy `1.2.3.4` file meta), `finding_annotations.csv` (python-list
//! categories, `No Finding` rows with empty BI-RADS and box, float boxes partly
//! outside the image), `breast-level_annotations.csv` (one row per image) and
//! `metadata.csv`. Defects: MONOCHROME1 files, MONOCHROME2 files stored
//! inverted, mislabelled MONOCHROME1 (about 23 % inverted in all), a study
//! with its images over two series, a breast with two CC images and no MLO.

use dicom_core::VR;
use dicom_dictionary_std::tags;
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::dicom_out::{Content, Encoding, Fault, ImageJob, text};
use super::pixels::{Lesion, Phantom};
use super::{DefectKind as K, Plan, SynthConfig, TruthRow, mix};
use crate::error::{Error, Result};

/// `finding_annotations.csv` header (datasets.md §2.2).
pub const FINDING_HEADER: &str = "study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,finding_categories,finding_birads,xmin,ymin,xmax,ymax,split";
/// `breast-level_annotations.csv` header (column order inferred, §2.3).
pub const BREAST_HEADER: &str = "study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,split";
/// `metadata.csv` header (DICOM attribute names; set of columns inferred, §2.4).
pub const METADATA_HEADER: &str = "SOP Instance UID,Series Instance UID,Study Instance UID,Patient's Age,Patient's Sex,Photometric Interpretation,Rows,Columns,Bits Stored,Manufacturer,Manufacturer's Model Name";

const CATEGORIES: &[&str] = &[
    "Mass",
    "Mass",
    "Suspicious Calcification",
    "Focal Asymmetry",
    "Architectural Distortion",
    "Asymmetry",
    "Global Asymmetry",
    "Suspicious Lymph Node",
    "Skin Thickening",
    "Skin Retraction",
    "Nipple Retraction",
];
const NON_BIRADS: &[&str] = &[
    "Suspicious Lymph Node",
    "Skin Thickening",
    "Skin Retraction",
    "Nipple Retraction",
];

fn hex_id(rng: &mut ChaCha8Rng) -> String {
    let v: u128 = rng.random();
    format!("{v:032x}")
}

/// A float the way the real CSV prints box coordinates (float32 values,
/// up to 14 significant digits, trailing zeros trimmed).
fn coord(v: f64) -> String {
    let v = v as f32 as f64;
    let int_digits = (v.abs().max(1.0).log10().floor() as usize) + 1;
    let s = format!("{:.*}", 14usize.saturating_sub(int_digits), v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Python's repr of a list of strings.
fn py_list(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", inner.join(", "))
}

/// Photometric story of a study.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Polarity {
    Normal,
    Monochrome1,
    InvertedM2,
    MislabelledM1,
}

pub(super) fn plan(cfg: &SynthConfig) -> Result<Plan> {
    let mut plan = Plan::default();
    let err = |e: csv::Error| Error::Other(format!("synth vindr-mammo: {e}"));
    let mut findings = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let mut breast_level = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let mut metadata = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    findings
        .write_record(FINDING_HEADER.split(','))
        .map_err(err)?;
    breast_level
        .write_record(BREAST_HEADER.split(','))
        .map_err(err)?;
    metadata
        .write_record(METADATA_HEADER.split(','))
        .map_err(err)?;
    let (mut finding_row, mut breast_row) = (0usize, 0usize);
    let mut overflow_forced = false;

    for i in 0..cfg.patients {
        let mut rng = cfg.rng(0, i as u64);
        let study = hex_id(&mut rng);
        let series_a = hex_id(&mut rng);
        let two_series = i == 1 || rng.random_bool(0.006);
        let series_b = if two_series {
            hex_id(&mut rng)
        } else {
            series_a.clone()
        };
        let split = if rng.random_bool(0.8) {
            "training"
        } else {
            "test"
        };
        let siemens = rng.random_bool(0.75);
        let (rows_real, cols_real, bits, manufacturer, model) = if siemens {
            (3518, 2800, 14u16, "SIEMENS", "Mammomat Inspiration")
        } else {
            (2812, 2012, 12u16, "Planmed", "Planmed Nuance")
        };
        let (h, w) = (cfg.dim(rows_real), cfg.dim(cols_real));
        let age = rng.random_range(30..=80);
        let rates = (
            cfg.rate(K::Monochrome1),
            cfg.rate(K::InvertedMonochrome2),
            cfg.rate(K::MislabelledMonochrome1),
        );
        let polarity = match i {
            0 if rates.0 > 0.0 => Polarity::Monochrome1,
            2 if rates.1 > 0.0 => Polarity::InvertedM2,
            3 if rates.2 > 0.0 => Polarity::MislabelledM1,
            _ => {
                let u: f64 = rng.random();
                if u < rates.0 {
                    Polarity::Monochrome1
                } else if u < rates.0 + rates.1 {
                    Polarity::InvertedM2
                } else if u < rates.0 + rates.1 + rates.2 {
                    Polarity::MislabelledM1
                } else {
                    Polarity::Normal
                }
            }
        };
        let photometric = match polarity {
            Polarity::Normal | Polarity::InvertedM2 => "MONOCHROME2",
            Polarity::Monochrome1 | Polarity::MislabelledM1 => "MONOCHROME1",
        };
        let stored_inverted = matches!(polarity, Polarity::Monochrome1 | Polarity::InvertedM2);
        // A breast with two CC images and no MLO (the real study dbca9d28…).
        let double_cc = cfg.rate(K::SingleView) > 0.0
            && (i == 4 || (i > 4 && rng.random_bool(cfg.rate(K::SingleView))));
        let density_l = *[
            "DENSITY A",
            "DENSITY B",
            "DENSITY C",
            "DENSITY C",
            "DENSITY D",
        ]
        .choose(&mut rng)
        .unwrap_or(&"DENSITY C");
        let density_r = if rng.random_bool(0.05) {
            "DENSITY B"
        } else {
            density_l
        };
        for side in ['L', 'R'] {
            let birads: u32 = *[1u32, 1, 1, 2, 2, 3, 4, 5].choose(&mut rng).unwrap_or(&1);
            let density = if side == 'L' { density_l } else { density_r };
            // Findings of this breast (seen on every view).
            let n_findings = if birads >= 3 {
                rng.random_range(1..=2)
            } else if rng.random_bool(0.05) {
                1
            } else {
                0
            };
            let mut breast_findings: Vec<(Vec<&str>, String, Lesion)> = Vec::new();
            for _ in 0..n_findings {
                let k = if rng.random_bool(0.15) { 2 } else { 1 };
                let mut cats: Vec<&str> = Vec::new();
                while cats.len() < k {
                    let c = *CATEGORIES.choose(&mut rng).unwrap_or(&"Mass");
                    if !cats.contains(&c) {
                        cats.push(c);
                    }
                }
                let finding_birads = if cats.iter().all(|c| NON_BIRADS.contains(c)) {
                    String::new()
                } else {
                    format!("BI-RADS {}", birads.clamp(3, 5))
                };
                breast_findings.push((cats, finding_birads, Lesion::random(&mut rng)));
            }
            let lesions: Vec<Lesion> = breast_findings.iter().map(|f| f.2).collect();
            let views: &[&str] = if double_cc && side == 'L' {
                &["CC", "CC"]
            } else {
                &["CC", "MLO"]
            };
            for (vi, view) in views.iter().enumerate() {
                let image = hex_id(&mut rng);
                let series = if *view == "MLO" { &series_b } else { &series_a };
                let mirrored = rng.random_bool(cfg.rate(K::Mirrored));
                let chest_wall_left = (side == 'L') != mirrored;
                let encoding =
                    cfg.pick_encoding(&mut rng, Encoding::ExplicitLe, Encoding::ImplicitLe);
                let u: f64 = rng.random();
                let (a, b, c) = (
                    cfg.rate(K::MissingImage),
                    cfg.rate(K::Truncated),
                    cfg.rate(K::NonDicom),
                );
                let fault = if i < 5 {
                    Fault::None
                } else if u < a {
                    Fault::Missing
                } else if u < a + b {
                    Fault::Truncated
                } else if u < a + b + c {
                    Fault::NonDicom
                } else {
                    Fault::None
                };
                let phantom = Phantom {
                    rows: h,
                    cols: w,
                    white: (((1u32 << bits) - 1) as f32 * 0.9) as u16,
                    mlo: *view == "MLO",
                    chest_wall_left,
                    film_border: false,
                    offset: false,
                    noisy_background: true,
                    marker: true,
                    lesions: lesions.clone(),
                    seed: mix(&[cfg.seed, 2, i as u64, side as u64, vi as u64]),
                };
                let rel_path = format!("images/{study}/{image}.dicom");
                let (center, width) = if bits == 14 {
                    ("8191", "16383")
                } else {
                    ("2047", "4095")
                };
                let elements = vec![
                    text(tags::SOP_INSTANCE_UID, VR::UI, &image),
                    text(tags::MODALITY, VR::CS, "MG"),
                    text(tags::PRESENTATION_INTENT_TYPE, VR::CS, "FOR PRESENTATION"),
                    text(tags::MANUFACTURER, VR::LO, manufacturer),
                    text(tags::MANUFACTURER_MODEL_NAME, VR::LO, model),
                    text(tags::PATIENT_SEX, VR::CS, "F"),
                    text(tags::PATIENT_AGE, VR::AS, &format!("{age:03}Y")),
                    text(tags::BODY_PART_EXAMINED, VR::CS, "BREAST"),
                    text(tags::IMAGER_PIXEL_SPACING, VR::DS, "0.085\\0.085"),
                    text(tags::PIXEL_SPACING, VR::DS, "0.085\\0.085"),
                    text(tags::VIEW_POSITION, VR::CS, view),
                    text(tags::STUDY_INSTANCE_UID, VR::UI, &study),
                    text(tags::SERIES_INSTANCE_UID, VR::UI, series),
                    text(tags::LATERALITY, VR::CS, &side.to_string()),
                    text(tags::IMAGE_LATERALITY, VR::CS, &side.to_string()),
                    text(tags::WINDOW_CENTER, VR::DS, center),
                    text(tags::WINDOW_WIDTH, VR::DS, width),
                    text(tags::VOILUT_FUNCTION, VR::CS, "LINEAR"),
                    text(tags::RESCALE_INTERCEPT, VR::DS, "0"),
                    text(tags::RESCALE_SLOPE, VR::DS, "1"),
                    text(tags::RESCALE_TYPE, VR::LO, "US"),
                    text(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00"),
                    text(
                        tags::PRESENTATION_LUT_SHAPE,
                        VR::CS,
                        if photometric == "MONOCHROME1" {
                            "INVERSE"
                        } else {
                            "IDENTITY"
                        },
                    ),
                ];
                plan.jobs.push(ImageJob {
                    rel_path: rel_path.clone(),
                    content: Content::Full(phantom.clone()),
                    bits_allocated: 16,
                    bits_stored: bits,
                    photometric,
                    invert_stored: stored_inverted,
                    encoding,
                    meta_sop_class: "1.2.3.4".into(),
                    meta_sop_instance: image.clone(),
                    implementation: Some(("1.2.3.4".into(), None)),
                    elements,
                    min_max: false,
                    fault,
                });
                let mut defects = Vec::new();
                if mirrored {
                    defects.push(K::Mirrored.name().to_string());
                }
                match polarity {
                    Polarity::Monochrome1 => defects.push(K::Monochrome1.name().into()),
                    Polarity::InvertedM2 => defects.push(K::InvertedMonochrome2.name().into()),
                    Polarity::MislabelledM1 => {
                        defects.push(K::MislabelledMonochrome1.name().into())
                    }
                    Polarity::Normal => {}
                }
                if double_cc && side == 'L' {
                    defects.push(K::SingleView.name().into());
                }
                match fault {
                    Fault::Missing => defects.push(K::MissingImage.name().into()),
                    Fault::Truncated => defects.push(K::Truncated.name().into()),
                    Fault::NonDicom => defects.push(K::NonDicom.name().into()),
                    Fault::None => {}
                }
                let base = TruthRow {
                    path: rel_path.clone(),
                    patient_id: study.clone(),
                    laterality: side.to_string(),
                    true_laterality: side.to_string(),
                    view: view.to_string(),
                    expected_selection: "keep".into(),
                    ..Default::default()
                };
                plan.truth.push(TruthRow {
                    kind: "image",
                    role: "full",
                    chest_wall_side: if chest_wall_left { "left" } else { "right" }.into(),
                    laterality_flipped: Some(mirrored),
                    stored_inverted: Some(stored_inverted),
                    photometric: photometric.into(),
                    bits_stored: Some(bits),
                    rows: Some(h),
                    columns: Some(w),
                    transfer_syntax: encoding.uid().into(),
                    defects,
                    expected_image_status: match fault {
                        Fault::None => "ok",
                        Fault::Missing => "missing",
                        _ => "error",
                    },
                    ..base.clone()
                });
                let (hs, ws) = (h.to_string(), w.to_string());
                let breast_birads = format!("BI-RADS {birads}");
                let prefix = [
                    study.as_str(),
                    series.as_str(),
                    image.as_str(),
                    if side == 'L' { "L" } else { "R" },
                    view,
                    hs.as_str(),
                    ws.as_str(),
                    breast_birads.as_str(),
                    density,
                ];
                breast_row += 1;
                let mut rec: Vec<&str> = prefix.to_vec();
                rec.push(split);
                breast_level.write_record(&rec).map_err(err)?;
                plan.truth.push(TruthRow {
                    kind: "record",
                    source_file: "breast-level_annotations.csv".into(),
                    source_row: Some(breast_row),
                    ..base.clone()
                });
                metadata
                    .write_record([
                        image.as_str(),
                        series.as_str(),
                        study.as_str(),
                        &format!("{age:03}Y"),
                        "F",
                        photometric,
                        &hs,
                        &ws,
                        &bits.to_string(),
                        manufacturer,
                        model,
                    ])
                    .map_err(err)?;
                let mut finding_records: Vec<Vec<String>> = Vec::new();
                if breast_findings.is_empty() {
                    finding_records.push(vec![
                        py_list(&["No Finding"]),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]);
                }
                for (fi, (cats, fb, _)) in breast_findings.iter().enumerate() {
                    let (mut x0, y0, mut x1, y1) = phantom.lesion_box(fi);
                    // Boxes partly outside the image, as in the real file.
                    let overflow = !overflow_forced || rng.random_bool(0.05);
                    overflow_forced = true;
                    if overflow {
                        if chest_wall_left {
                            x0 = -rng.random_range(0.5..8.0f32);
                        } else {
                            x1 = w as f32 + rng.random_range(0.1..2.0f32);
                        }
                    }
                    let jitter = |v: f32, r: &mut ChaCha8Rng| v as f64 + r.random_range(0.0..1.0);
                    finding_records.push(vec![
                        py_list(cats),
                        fb.clone(),
                        coord(jitter(x0, &mut rng)),
                        coord(jitter(y0, &mut rng)),
                        coord(jitter(x1, &mut rng)),
                        coord(jitter(y1, &mut rng)),
                    ]);
                }
                for fr in finding_records {
                    let mut rec: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
                    rec.extend(fr);
                    rec.push(split.to_string());
                    findings.write_record(&rec).map_err(err)?;
                    finding_row += 1;
                    plan.truth.push(TruthRow {
                        kind: "record",
                        source_file: "finding_annotations.csv".into(),
                        source_row: Some(finding_row),
                        ..base.clone()
                    });
                }
            }
        }
    }
    let into = |w: csv::Writer<Vec<u8>>| {
        w.into_inner()
            .map_err(|e| Error::Other(format!("synth vindr-mammo: {e}")))
    };
    plan.files
        .push(("finding_annotations.csv".into(), into(findings)?));
    plan.files
        .push(("breast-level_annotations.csv".into(), into(breast_level)?));
    plan.files.push(("metadata.csv".into(), into(metadata)?));
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_print_like_the_real_csv() {
        assert_eq!(coord(1852.75), "1852.75");
        assert_eq!(coord(2355.1398925781), "2355.1398925781");
        assert_eq!(coord(-6.2529702186584), "-6.2529702186584");
        assert_eq!(coord(2800.0), "2800");
    }

    #[test]
    fn categories_are_python_list_reprs() {
        assert_eq!(py_list(&["Mass"]), "['Mass']");
        assert_eq!(
            py_list(&["Suspicious Calcification", "Mass"]),
            "['Suspicious Calcification', 'Mass']"
        );
    }
}
