//! CMMD look-alike (datasets.md §3.1–3.4): the NBIA tree
//! `CMMD/<patient>/<MM-DD-YYYY>-NA-NA-<last5>/1.000000-NA-<last5>/1-N.dcm`
//! (one study and one series of 2 or 4 images per patient), the NBIA
//! `metadata.csv` with Windows `.\CMMD\...` locations, and
//! `CMMD_clinicaldata_revision.xlsx` (one row per labelled breast, D1 IDs with
//! gaps, D2 IDs contiguous, subtypes only on D2, lowercase `triple negative`,
//! unlabelled contralateral breasts). DICOM: DM For Presentation, 8-bit
//! MONOCHROME2 with two 16-bit outliers, background exactly 0, laterality only
//! in ImageLaterality, view only in ViewCodeSequence; the laterality defect is
//! CMMD's own: ImageLaterality tags swapped between two images or reversed.

use dicom_core::VR;
use dicom_dictionary_std::tags;
use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;

use super::cbis_ddsm::{NBIA_HEADER, file_size};
use super::dicom_out::{Content, Encoding, Fault, ImageJob, sequence, text};
use super::pixels::{Lesion, Phantom};
use super::{Cell, DefectKind as K, Plan, Sheet, SynthConfig, TruthRow, mix, xlsx};
use crate::error::Result;

/// The clinical workbook's header row.
pub const CLINICAL_HEADER: [&str; 7] = [
    "ID1",
    "LeftRight",
    "Age",
    "number",
    "abnormality",
    "classification",
    "subtype",
];
/// The clinical workbook's file name.
pub const CLINICAL_FILE: &str = "CMMD_clinicaldata_revision.xlsx";

const DM_CLASS: &str = "1.2.840.10008.5.1.4.1.1.1.2";
const UID_ROOT: &str = "1.3.6.1.4.1.14519.5.2.1.1239.1759.";

/// The clinical label of one breast.
#[derive(Debug, Clone)]
pub(super) struct Clinical {
    pub abnormality: &'static str,
    pub classification: &'static str,
    pub subtype: &'static str,
}

/// One image of a patient.
#[derive(Debug, Clone)]
pub(super) struct CmmdImage {
    pub view: &'static str,
    pub rel_path: String,
    /// ImageLaterality as written (may be wrong).
    pub tag_side: char,
    pub phantom: Phantom,
}

/// One imaged breast.
#[derive(Debug, Clone)]
pub(super) struct CmmdBreast {
    /// The breast the pixels show.
    pub side: char,
    pub label: Option<Clinical>,
    pub images: Vec<CmmdImage>,
}

/// One patient with its study.
#[derive(Debug, Clone)]
pub(super) struct CmmdPatient {
    pub index: usize,
    pub id: String,
    pub age: u32,
    pub breasts: Vec<CmmdBreast>,
    /// The clinical rows' side when it differs from the truth ("reversed").
    pub reversed: bool,
}

fn uid(rng: &mut ChaCha8Rng) -> String {
    let mut s = String::from(UID_ROOT);
    s.push(char::from(b'1' + rng.random_range(0..9u8)));
    for _ in 1..30 {
        s.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    s
}

fn last5(u: &str) -> &str {
    &u[u.len() - 5..]
}

/// The CMMD tree (images, metadata.csv) under `root` (`""` or `"folder/"`),
/// with image truth rows; the patients for the workbooks.
pub(super) fn build(cfg: &SynthConfig, root: &str) -> (Plan, Vec<CmmdPatient>) {
    let mut plan = Plan::default();
    let mut patients = Vec::new();
    let n_d1 = (cfg.patients * 58).div_ceil(100);
    let (mut d1, mut d2) = (0u32, 0u32);
    let mut manifest = String::from(NBIA_HEADER);
    manifest.push('\n');
    let mut swap_forced = false;

    for i in 0..cfg.patients {
        let mut rng = cfg.rng(0, i as u64);
        let is_d1 = i < n_d1;
        let id = if is_d1 {
            d1 += rng.random_range(1..=3);
            format!("D1-{d1:04}")
        } else {
            d2 += 1;
            format!("D2-{d2:04}")
        };
        let four = match i {
            1 => true,
            _ if is_d1 => rng.random_bool(0.35),
            _ => rng.random_bool(0.97),
        };
        let age = rng.random_range(30..=80);
        let main_side = if rng.random_bool(0.5) { 'L' } else { 'R' };
        let sides: Vec<char> = if four {
            vec!['L', 'R']
        } else {
            vec![main_side]
        };
        let both_labelled = is_d1 && four && rng.random_bool(0.15);
        let study = uid(&mut rng);
        let series = uid(&mut rng);
        let date = format!(
            "07-{:02}-{}",
            rng.random_range(10..=28),
            rng.random_range(2010..=2016)
        );
        let base = format!(
            "CMMD/{id}/{date}-NA-NA-{}/1.000000-NA-{}",
            last5(&study),
            last5(&series)
        );
        // Laterality defect: two MLO tags swapped (4 images) or all reversed (2).
        let swap = four
            && cfg.rate(K::Mirrored) > 0.0
            && ((!swap_forced && i >= 2) || rng.random_bool(cfg.rate(K::Mirrored)));
        swap_forced |= swap;
        let reversed = !four && rng.random_bool(cfg.rate(K::Mirrored));
        let mut breasts = Vec::new();
        let mut slots: Vec<(char, &'static str)> = Vec::new();
        for &side in &sides {
            let labelled = side == main_side || both_labelled;
            let label = labelled.then(|| {
                let classification = if is_d1 {
                    if rng.random_bool(0.6) {
                        "Malignant"
                    } else {
                        "Benign"
                    }
                } else if rng.random_bool(0.9) {
                    "Malignant"
                } else {
                    "Benign"
                };
                let no_subtype = is_d1 || rng.random_bool(0.03) || classification == "Benign";
                let subtype = if no_subtype {
                    ""
                } else {
                    ["Luminal A", "Luminal B", "HER2-enriched", "triple negative"]
                        .choose(&mut rng)
                        .copied()
                        .unwrap_or("Luminal B")
                };
                Clinical {
                    abnormality: ["calcification", "mass", "both"]
                        .choose(&mut rng)
                        .copied()
                        .unwrap_or("mass"),
                    classification,
                    subtype,
                }
            });
            let lesions: Vec<Lesion> = if label.is_some() {
                (0..rng.random_range(1..=2))
                    .map(|_| Lesion::random(&mut rng))
                    .collect()
            } else {
                Vec::new()
            };
            let mut images = Vec::new();
            for (vi, view) in ["CC", "MLO"].into_iter().enumerate() {
                slots.push((side, view));
                let tag_side = if reversed || (swap && view == "MLO") {
                    if side == 'L' { 'R' } else { 'L' }
                } else {
                    side
                };
                images.push(CmmdImage {
                    view,
                    rel_path: String::new(),
                    tag_side,
                    phantom: Phantom {
                        rows: cfg.dim(2294),
                        cols: cfg.dim(1914),
                        white: 250,
                        mlo: view == "MLO",
                        chest_wall_left: side == 'L',
                        film_border: false,
                        offset: false,
                        noisy_background: false,
                        marker: true,
                        lesions: lesions.clone(),
                        seed: mix(&[cfg.seed, 3, i as u64, side as u64, vi as u64]),
                    },
                });
            }
            breasts.push(CmmdBreast {
                side,
                label,
                images,
            });
        }
        // File order in the series is not by view: only the tags tell.
        let mut order: Vec<usize> = (0..slots.len()).collect();
        order.shuffle(&mut rng);
        for (k, &slot) in order.iter().enumerate() {
            let (bi, ii) = (slot / 2, slot % 2);
            breasts[bi].images[ii].rel_path = format!("{root}{base}/1-{}.dcm", k + 1);
        }
        for breast in &breasts {
            for img in &breast.images {
                let sixteen = i == 1 && breast.side == 'L';
                plan_image(
                    cfg, &mut rng, &mut plan, &id, age, &study, &series, &date, breast, img,
                    sixteen,
                );
            }
        }
        let bytes = (cfg.dim(2294) * cfg.dim(1914)) as u64 * slots.len() as u64;
        let location = format!(".\\{}", base.replace('/', "\\"));
        manifest.push_str(&format!(
            "{series},CMMD,NO,https://doi.org/10.7937/tcia.eqde4b16,{id},{study},NA,{date},NA,NA,MG,Digital Mammography X-Ray Image Storage - For Presentation,{DM_CLASS},{},{},{},2022-04-06T19:{:02}:{:02}.{:03}\n",
            slots.len(),
            file_size(bytes),
            location,
            50 + (i / 60) % 10,
            i % 60,
            (i * 123) % 1000
        ));
        patients.push(CmmdPatient {
            index: i,
            id,
            age,
            breasts,
            reversed,
        });
    }
    plan.files
        .push((format!("{root}metadata.csv"), manifest.into_bytes()));
    (plan, patients)
}

#[allow(clippy::too_many_arguments)]
fn plan_image(
    cfg: &SynthConfig,
    rng: &mut ChaCha8Rng,
    plan: &mut Plan,
    id: &str,
    age: u32,
    study: &str,
    series: &str,
    date: &str,
    breast: &CmmdBreast,
    img: &CmmdImage,
    sixteen: bool,
) {
    let sop = uid(rng);
    let encoding = cfg.pick_encoding(&mut *rng, Encoding::ExplicitLe, Encoding::ImplicitLe);
    let u: f64 = rng.random();
    let (a, b, c) = (
        cfg.rate(K::MissingImage),
        cfg.rate(K::Truncated),
        cfg.rate(K::NonDicom),
    );
    let fault = if u < a {
        Fault::Missing
    } else if u < a + b {
        Fault::Truncated
    } else if u < a + b + c {
        Fault::NonDicom
    } else {
        Fault::None
    };
    let (code, meaning) = if img.view == "CC" {
        ("399162004", "cranio-caudal")
    } else {
        ("399368009", "medio-lateral oblique")
    };
    let (bits, center, width) = if sixteen {
        (16u16, "32768", "65536")
    } else {
        (8u16, "128", "256")
    };
    let mut phantom = img.phantom.clone();
    if sixteen {
        phantom.white = 60000;
    }
    let dicom_date = format!("{}{}{}", &date[6..10], &date[0..2], &date[3..5]);
    let elements = vec![
        text(tags::SOP_CLASS_UID, VR::UI, DM_CLASS),
        text(tags::SOP_INSTANCE_UID, VR::UI, &sop),
        text(tags::STUDY_DATE, VR::DA, &dicom_date),
        text(tags::MODALITY, VR::CS, "MG"),
        text(tags::PRESENTATION_INTENT_TYPE, VR::CS, "FOR PRESENTATION"),
        text(tags::MANUFACTURER, VR::LO, ""),
        text(tags::PATIENT_NAME, VR::PN, id),
        text(tags::PATIENT_ID, VR::LO, id),
        text(tags::PATIENT_SEX, VR::CS, "F"),
        text(tags::PATIENT_AGE, VR::AS, &format!("{age:03}Y")),
        text(tags::PATIENT_IDENTITY_REMOVED, VR::CS, "YES"),
        text(tags::DEIDENTIFICATION_METHOD, VR::LO, "CTP Default"),
        text(tags::BODY_PART_EXAMINED, VR::CS, "BREAST"),
        text(tags::DETECTOR_TYPE, VR::CS, "DIRECT"),
        text(tags::IMAGER_PIXEL_SPACING, VR::DS, "0.094\\0.094"),
        text(tags::POSITIONER_TYPE, VR::CS, "MAMMOGRAPHIC"),
        text(tags::ORGAN_EXPOSED, VR::CS, "BREAST"),
        sequence(
            tags::VIEW_CODE_SEQUENCE,
            vec![vec![
                text(tags::CODE_VALUE, VR::SH, code),
                text(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "SCT"),
                text(tags::CODE_MEANING, VR::LO, meaning),
            ]],
        ),
        text(tags::STUDY_INSTANCE_UID, VR::UI, study),
        text(tags::SERIES_INSTANCE_UID, VR::UI, series),
        text(tags::SERIES_NUMBER, VR::IS, "1"),
        text(tags::INSTANCE_NUMBER, VR::IS, "1"),
        text(
            tags::PATIENT_ORIENTATION,
            VR::CS,
            if img.tag_side == 'L' { "A\\R" } else { "P\\L" },
        ),
        text(tags::IMAGE_LATERALITY, VR::CS, &img.tag_side.to_string()),
        text(tags::BURNED_IN_ANNOTATION, VR::CS, "NO"),
        text(tags::PIXEL_INTENSITY_RELATIONSHIP, VR::CS, "LOG"),
        text(tags::PIXEL_INTENSITY_RELATIONSHIP_SIGN, VR::SS, "1"),
        text(tags::WINDOW_CENTER, VR::DS, center),
        text(tags::WINDOW_WIDTH, VR::DS, width),
        text(tags::WINDOW_CENTER_WIDTH_EXPLANATION, VR::LO, "identity"),
        text(tags::VOILUT_FUNCTION, VR::CS, "LINEAR"),
        text(tags::RESCALE_INTERCEPT, VR::DS, "0"),
        text(tags::RESCALE_SLOPE, VR::DS, "1"),
        text(tags::RESCALE_TYPE, VR::LO, "US"),
        text(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00"),
        text(tags::PRESENTATION_LUT_SHAPE, VR::CS, "IDENTITY"),
    ];
    plan.jobs.push(ImageJob {
        rel_path: img.rel_path.clone(),
        content: Content::Full(phantom),
        bits_allocated: bits,
        bits_stored: bits,
        photometric: "MONOCHROME2",
        invert_stored: false,
        encoding,
        meta_sop_class: DM_CLASS.into(),
        meta_sop_instance: sop.clone(),
        implementation: None,
        elements,
        min_max: false,
        fault,
    });
    let mut defects = Vec::new();
    if img.tag_side != breast.side {
        defects.push(K::Mirrored.name().to_string());
    }
    match fault {
        Fault::Missing => defects.push(K::MissingImage.name().into()),
        Fault::Truncated => defects.push(K::Truncated.name().into()),
        Fault::NonDicom => defects.push(K::NonDicom.name().into()),
        Fault::None => {}
    }
    plan.truth.push(TruthRow {
        kind: "image",
        path: img.rel_path.clone(),
        patient_id: id.to_string(),
        laterality: img.tag_side.to_string(),
        true_laterality: breast.side.to_string(),
        view: img.view.to_string(),
        role: "full",
        chest_wall_side: if breast.side == 'L' { "left" } else { "right" }.into(),
        laterality_flipped: Some(img.tag_side != breast.side),
        stored_inverted: Some(false),
        photometric: "MONOCHROME2".into(),
        bits_stored: Some(bits),
        rows: Some(img.phantom.rows),
        columns: Some(img.phantom.cols),
        transfer_syntax: encoding.uid().into(),
        defects,
        expected_selection: "keep".into(),
        expected_image_status: match fault {
            Fault::None => "ok",
            Fault::Missing => "missing",
            _ => "error",
        },
        ..Default::default()
    });
}

/// The CMMD download: tree, metadata.csv and the clinical workbook.
pub(super) fn plan(cfg: &SynthConfig, root: &str) -> Result<Plan> {
    Ok(plan_with_patients(cfg, root)?.0)
}

/// `plan`, also handing back the patients (for TOMPEI-CMMD).
pub(super) fn plan_with_patients(
    cfg: &SynthConfig,
    root: &str,
) -> Result<(Plan, Vec<CmmdPatient>)> {
    let (mut plan, patients) = build(cfg, root);
    let mut rows = vec![
        CLINICAL_HEADER
            .iter()
            .map(|h| Cell::Str(h.to_string()))
            .collect::<Vec<_>>(),
    ];
    for p in &patients {
        for b in &p.breasts {
            let Some(label) = &b.label else { continue };
            // "reversed" patients: the row names the side the tags say.
            let side = if p.reversed {
                if b.side == 'L' { 'R' } else { 'L' }
            } else {
                b.side
            };
            rows.push(vec![
                Cell::Str(p.id.clone()),
                Cell::Str(side.to_string()),
                Cell::Num(p.age as f64),
                Cell::Num(2.0),
                Cell::Str(label.abnormality.into()),
                Cell::Str(label.classification.into()),
                if label.subtype.is_empty() {
                    Cell::Blank
                } else {
                    Cell::Str(label.subtype.into())
                },
            ]);
            let n = rows.len() - 1;
            plan.truth.push(TruthRow {
                kind: "record",
                path: b
                    .images
                    .first()
                    .map(|i| i.rel_path.clone())
                    .unwrap_or_default(),
                source_file: CLINICAL_FILE.into(),
                source_row: Some(n),
                patient_id: p.id.clone(),
                laterality: side.to_string(),
                true_laterality: b.side.to_string(),
                defects: if p.reversed {
                    vec![K::Mirrored.name().into()]
                } else {
                    Vec::new()
                },
                expected_selection: "keep".into(),
                ..Default::default()
            });
        }
    }
    let book = xlsx(&[Sheet {
        name: "Sheet1".into(),
        rows,
        merges: Vec::new(),
    }])?;
    plan.files.push((format!("{root}{CLINICAL_FILE}"), book));
    Ok((plan, patients))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::SynthDataset;

    #[test]
    fn ids_labels_and_laterality_tags_follow_cmmd() {
        let mut cfg = SynthConfig::new(SynthDataset::Cmmd, "unused");
        cfg.patients = 40;
        let (plan, patients) = build(&cfg, "");
        let d1: Vec<u32> = patients
            .iter()
            .filter_map(|p| p.id.strip_prefix("D1-")?.parse().ok())
            .collect();
        let d2: Vec<u32> = patients
            .iter()
            .filter_map(|p| p.id.strip_prefix("D2-")?.parse().ok())
            .collect();
        assert!(d1.windows(2).all(|w| w[0] < w[1]));
        assert!(d1.windows(2).any(|w| w[1] - w[0] > 1), "D1 has gaps");
        assert_eq!(
            d2,
            (1..=d2.len() as u32).collect::<Vec<_>>(),
            "D2 contiguous"
        );
        for p in &patients {
            let n: usize = p.breasts.iter().map(|b| b.images.len()).sum();
            assert!(n == 2 || n == 4);
            assert!(p.breasts.iter().any(|b| b.label.is_some()));
            if p.id.starts_with("D1") {
                assert!(
                    p.breasts
                        .iter()
                        .filter_map(|b| b.label.as_ref())
                        .all(|l| l.subtype.is_empty())
                );
            }
        }
        // one patient with two MLO tags swapped (the forced laterality defect)
        assert!(patients.iter().any(|p| p.breasts.len() == 2
            && p.breasts.iter().all(|b| {
                b.images
                    .iter()
                    .any(|i| i.view == "MLO" && i.tag_side != b.side)
            })));
        assert_eq!(plan.jobs.len(), plan.truth.len());
        assert!(plan.files[0].0.ends_with("metadata.csv"));
    }
}
