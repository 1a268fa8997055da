//! CBIS-DDSM look-alike (datasets.md §1): the four case-description CSVs
//! (CRLF, one quoted path field ending in a bare LF, `breast_density` vs
//! `breast density`, `N/A`, hyphen-joined descriptors with both
//! `LUCENT_CENTER` spellings, density 0, subtlety 0) whose paths use the old
//! `<top>/<study UID>/<series UID>/00000N.dcm` layout, over the NBIA tree with
//! date/description folder names (`-DDSM-NA-` and `-DDSM-`), full mammograms,
//! crops and ROI masks (one mass crop/mask pair split over two studies), the
//! same image under a Mass and a Calc folder, and the NBIA `metadata.csv`.

use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::dicom_out::{Content, Encoding, Fault, ImageJob, text};
use super::pixels::{Lesion, Phantom};
use super::{DefectKind as K, Plan, SynthConfig, TruthRow, mix};
use crate::error::Result;

/// Header of the mass CSVs (datasets.md §1.3, character-exact).
pub const MASS_HEADER: &str = "patient_id,breast_density,left or right breast,image view,abnormality id,abnormality type,mass shape,mass margins,assessment,pathology,subtlety,image file path,cropped image file path,ROI mask file path";
/// Header of the calc CSVs.
pub const CALC_HEADER: &str = "patient_id,breast density,left or right breast,image view,abnormality id,abnormality type,calc type,calc distribution,assessment,pathology,subtlety,image file path,cropped image file path,ROI mask file path";
/// The NBIA manifest header (shared with CMMD).
pub const NBIA_HEADER: &str = "Series UID,Collection,3rd Party Analysis,Data Description URI,Subject ID,Study UID,Study Description,Study Date,Series Description,Manufacturer,Modality,SOP Class Name,SOP Class UID,Number of Images,File Size,File Location,Download Timestamp";

const SC_CLASS: &str = "1.2.840.10008.5.1.4.1.1.7";
const UID_ROOT: &str = "1.3.6.1.4.1.9590.100.1.2.";

const MASS_SHAPES: &[&str] = &[
    "IRREGULAR",
    "OVAL",
    "LOBULATED",
    "ROUND",
    "ARCHITECTURAL_DISTORTION",
    "IRREGULAR-ARCHITECTURAL_DISTORTION",
    "LOBULATED-LYMPH_NODE",
    "OVAL-LYMPH_NODE",
    "LOBULATED-OVAL",
    "OVAL-LOBULATED",
    "ASYMMETRIC_BREAST_TISSUE",
    "FOCAL_ASYMMETRIC_DENSITY",
    "ROUND-IRREGULAR-ARCHITECTURAL_DISTORTION",
    "LYMPH_NODE",
];
const MASS_MARGINS: &[&str] = &[
    "SPICULATED",
    "ILL_DEFINED",
    "CIRCUMSCRIBED",
    "OBSCURED",
    "MICROLOBULATED",
    "CIRCUMSCRIBED-MICROLOBULATED-ILL_DEFINED",
    "OBSCURED-CIRCUMSCRIBED",
    "CIRCUMSCRIBED-OBSCURED",
    "N/A",
];
const CALC_TYPES: &[&str] = &[
    "PLEOMORPHIC",
    "AMORPHOUS",
    "PUNCTATE",
    "FINE_LINEAR_BRANCHING",
    "LUCENT_CENTER",
    "LUCENT_CENTERED",
    "VASCULAR",
    "COARSE",
    "PUNCTATE-PLEOMORPHIC",
    "PLEOMORPHIC-PLEOMORPHIC",
    "ROUND_AND_REGULAR-LUCENT_CENTER",
    "VASCULAR-COARSE-LUCENT_CENTER-ROUND_AND_REGULAR-PUNCTATE",
    "EGGSHELL",
    "MILK_OF_CALCIUM",
    "N/A",
];
const CALC_DISTS: &[&str] = &[
    "CLUSTERED",
    "SEGMENTAL",
    "LINEAR",
    "REGIONAL",
    "DIFFUSELY_SCATTERED",
    "REGIONAL-REGIONAL",
    "CLUSTERED-LINEAR",
    "LINEAR-SEGMENTAL",
    "N/A",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Subset {
    MassTrain,
    MassTest,
    CalcTrain,
    CalcTest,
}

impl Subset {
    const ALL: [Subset; 4] = [
        Subset::MassTrain,
        Subset::MassTest,
        Subset::CalcTrain,
        Subset::CalcTest,
    ];
    fn file(self) -> &'static str {
        match self {
            Subset::MassTrain => "mass_case_description_train_set.csv",
            Subset::MassTest => "mass_case_description_test_set.csv",
            Subset::CalcTrain => "calc_case_description_train_set.csv",
            Subset::CalcTest => "calc_case_description_test_set.csv",
        }
    }
    fn folder(self) -> &'static str {
        match self {
            Subset::MassTrain => "Mass-Training",
            Subset::MassTest => "Mass-Test",
            Subset::CalcTrain => "Calc-Training",
            Subset::CalcTest => "Calc-Test",
        }
    }
    fn is_mass(self) -> bool {
        matches!(self, Subset::MassTrain | Subset::MassTest)
    }
}

/// A DICOM-style UID under the CBIS root with a long integer suffix.
fn uid(rng: &mut ChaCha8Rng) -> String {
    let len = rng.random_range(37..=39);
    let mut s = String::from(UID_ROOT);
    s.push(char::from(b'1' + rng.random_range(0..9u8)));
    for _ in 1..len {
        s.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    s
}

fn last5(uid: &str) -> &str {
    &uid[uid.len() - 5..]
}

/// One abnormality of one breast in one subset.
#[derive(Debug, Clone)]
struct Abnormality {
    subset: Subset,
    id: u32,
    lesion: usize,
    shape_or_type: String,
    margins_or_dist: String,
    subtlety: u32,
    split_mask: bool,
    mask_bits: u16,
}

/// Label-level defect of a breast (at most one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LabelDefect {
    None,
    SingleView,
    Birads0,
    InconsistentBirads,
    InconsistentPathology,
}

struct Breast {
    side: &'static str,
    density: u32,
    assessment: u32,
    pathology: &'static str,
    defect: LabelDefect,
    dropped_view: Option<&'static str>,
    abnormalities: Vec<Abnormality>,
    lesions: Vec<Lesion>,
}

impl Breast {
    fn selection(&self) -> &'static str {
        match self.defect {
            LabelDefect::None => "keep",
            LabelDefect::SingleView => "missing_view",
            LabelDefect::Birads0 => "birads_0",
            LabelDefect::InconsistentBirads => "inconsistent_birads",
            LabelDefect::InconsistentPathology => "inconsistent_pathology",
        }
    }
}

struct CsvRow {
    subset: Subset,
    pid: String,
    side: &'static str,
    view: &'static str,
    abn: u32,
    fields: Vec<String>,
    disk_full: String,
    selection: &'static str,
    defects: Vec<String>,
}

/// Series rows of the NBIA manifest.
struct SeriesRow {
    series_uid: String,
    subject: String,
    study_uid: String,
    study_date: String,
    description: &'static str,
    images: usize,
    bytes_each: u64,
    location: String,
}

fn dicom_date(folder_date: &str) -> String {
    // MM-DD-YYYY -> YYYYMMDD
    format!(
        "{}{}{}",
        &folder_date[6..10],
        &folder_date[0..2],
        &folder_date[3..5]
    )
}

#[allow(clippy::too_many_arguments)]
fn header(
    top: &str,
    study: &str,
    series: &str,
    sop: &str,
    description: &str,
    folder_date: &str,
    side: &str,
    view: &str,
    instance: u16,
) -> Vec<dicom_object::mem::InMemElement> {
    vec![
        text(tags::SOP_CLASS_UID, VR::UI, SC_CLASS),
        text(tags::SOP_INSTANCE_UID, VR::UI, sop),
        text(tags::STUDY_DATE, VR::DA, &dicom_date(folder_date)),
        text(tags::CONTENT_DATE, VR::DA, "20160426"),
        text(tags::MODALITY, VR::CS, "MG"),
        text(tags::CONVERSION_TYPE, VR::CS, "WSD"),
        text(tags::SERIES_DESCRIPTION, VR::LO, description),
        text(tags::PATIENT_NAME, VR::PN, top),
        text(tags::PATIENT_ID, VR::LO, top),
        text(tags::PATIENT_BIRTH_DATE, VR::DA, ""),
        text(tags::PATIENT_SEX, VR::CS, ""),
        text(Tag(0x0013, 0x0010), VR::LO, "CTP"),
        text(Tag(0x0013, 0x1010), VR::LO, "CBIS-DDSM "),
        text(Tag(0x0013, 0x1013), VR::LO, "43352602"),
        text(tags::BODY_PART_EXAMINED, VR::CS, "BREAST"),
        text(
            tags::SECONDARY_CAPTURE_DEVICE_MANUFACTURER,
            VR::LO,
            "MathWorks",
        ),
        text(
            tags::SECONDARY_CAPTURE_DEVICE_MANUFACTURER_MODEL_NAME,
            VR::LO,
            "MATLAB",
        ),
        text(tags::STUDY_INSTANCE_UID, VR::UI, study),
        text(tags::SERIES_INSTANCE_UID, VR::UI, series),
        text(tags::STUDY_ID, VR::SH, "DDSM"),
        text(tags::SERIES_NUMBER, VR::IS, "1"),
        text(tags::INSTANCE_NUMBER, VR::IS, &instance.to_string()),
        text(tags::PATIENT_ORIENTATION, VR::CS, view),
        text(tags::LATERALITY, VR::CS, &side[..1]),
    ]
}

/// Plans the whole CBIS-DDSM tree.
pub(super) fn plan(cfg: &SynthConfig) -> Result<Plan> {
    let mut plan = Plan::default();
    let mut rows: Vec<CsvRow> = Vec::new();
    let mut series_rows: Vec<SeriesRow> = Vec::new();
    let mut pid_num = 0u32;
    let mut lucent_forced = 0;
    let mut density0_done = false;
    let mut subtlety0_done = false;
    let mut split_done = false;
    let on = |k: K| cfg.rate(k) > 0.0;

    for i in 0..cfg.patients {
        let mut rng = cfg.rng(0, i as u64);
        pid_num += rng.random_range(1..=4);
        let pid = format!("P_{pid_num:05}");
        // Which lesion types: forced variety for the first patients.
        let (mass, calc) = match i {
            0 => (true, false),
            1 | 3 => (false, true),
            2 => (true, true),
            _ => {
                let u: f64 = rng.random();
                (!(0.55..0.9).contains(&u), u >= 0.5)
            }
        };
        let mass_subset = if rng.random_bool(0.8) {
            Subset::MassTrain
        } else {
            Subset::MassTest
        };
        let calc_subset = if i == 2 || !rng.random_bool(0.8) {
            Subset::CalcTest
        } else {
            Subset::CalcTrain
        };
        let overlap = mass && calc;
        let film = rng.random_bool(cfg.rate(K::FilmBorder));
        let two_sides = rng.random_bool(0.15);
        let first_side = if rng.random_bool(0.5) {
            "LEFT"
        } else {
            "RIGHT"
        };
        let sides: Vec<&'static str> = if two_sides {
            vec!["LEFT", "RIGHT"]
        } else {
            vec![first_side]
        };
        let study_na = match i {
            0 => true,
            1 => false,
            _ => rng.random_bool(0.5),
        };
        for (bi, side) in sides.iter().enumerate() {
            let density = if calc && !density0_done && i >= 3 {
                density0_done = true;
                0
            } else {
                rng.random_range(1..=4)
            };
            let assessment = *[2u32, 3, 4, 4, 5, 5, 1].choose(&mut rng).unwrap_or(&4);
            let pathology = if assessment >= 4 && rng.random_bool(0.7) {
                "MALIGNANT"
            } else if rng.random_bool(0.6) {
                "BENIGN"
            } else {
                "BENIGN_WITHOUT_CALLBACK"
            };
            // Label defects: forced once each on patients 5..8, else drawn;
            // never on breasts listed in two subsets (see module docs).
            let defect = if overlap || bi > 0 {
                LabelDefect::None
            } else {
                match i {
                    5 if on(K::SingleView) => LabelDefect::SingleView,
                    6 if on(K::Birads0) => LabelDefect::Birads0,
                    7 if on(K::ContradictoryLabels) => LabelDefect::InconsistentBirads,
                    8 if on(K::ContradictoryLabels) => LabelDefect::InconsistentPathology,
                    _ => {
                        let u: f64 = rng.random();
                        let (a, b, c) = (
                            cfg.rate(K::SingleView),
                            cfg.rate(K::Birads0),
                            cfg.rate(K::ContradictoryLabels),
                        );
                        if u < a {
                            LabelDefect::SingleView
                        } else if u < a + b {
                            LabelDefect::Birads0
                        } else if u < a + b + c {
                            if rng.random_bool(0.5) {
                                LabelDefect::InconsistentBirads
                            } else {
                                LabelDefect::InconsistentPathology
                            }
                        } else {
                            LabelDefect::None
                        }
                    }
                }
            };
            let assessment = if defect == LabelDefect::Birads0 {
                0
            } else {
                assessment
            };
            let dropped_view = (defect == LabelDefect::SingleView)
                .then(|| if rng.random_bool(0.5) { "CC" } else { "MLO" });
            let mut breast = Breast {
                side,
                density,
                assessment,
                pathology,
                defect,
                dropped_view,
                abnormalities: Vec::new(),
                lesions: Vec::new(),
            };
            let mut subsets = Vec::new();
            if mass {
                subsets.push(mass_subset);
            }
            if calc {
                subsets.push(calc_subset);
            }
            for subset in subsets {
                let n = if defect == LabelDefect::InconsistentBirads
                    || defect == LabelDefect::InconsistentPathology
                {
                    1
                } else {
                    rng.random_range(1..=2)
                };
                for id in 1..=n {
                    let lesion = breast.lesions.len();
                    breast.lesions.push(Lesion::random(&mut rng));
                    let (a, b) = if subset.is_mass() {
                        let (shape, margins) = if !subtlety0_done && i >= 3 {
                            ("N/A".to_string(), "N/A".to_string())
                        } else {
                            (
                                MASS_SHAPES.choose(&mut rng).unwrap_or(&"OVAL").to_string(),
                                MASS_MARGINS
                                    .choose(&mut rng)
                                    .unwrap_or(&"SPICULATED")
                                    .to_string(),
                            )
                        };
                        (shape, margins)
                    } else {
                        let t = if lucent_forced < 2 && id == 1 {
                            lucent_forced += 1;
                            if lucent_forced == 1 {
                                "LUCENT_CENTER"
                            } else {
                                "LUCENT_CENTERED"
                            }
                        } else {
                            CALC_TYPES.choose(&mut rng).unwrap_or(&"PLEOMORPHIC")
                        };
                        let d = if i == 3 && id == 1 {
                            "N/A"
                        } else {
                            CALC_DISTS.choose(&mut rng).unwrap_or(&"CLUSTERED")
                        };
                        (t.to_string(), d.to_string())
                    };
                    let subtlety = if subset.is_mass() && a == "N/A" && !subtlety0_done {
                        subtlety0_done = true;
                        0
                    } else {
                        rng.random_range(1..=5)
                    };
                    let split_mask = subset.is_mass()
                        && (if !split_done {
                            split_done = true;
                            true
                        } else {
                            rng.random_bool(0.07)
                        });
                    let mask_bits = if rng.random_bool(0.5) { 8 } else { 16 };
                    breast.abnormalities.push(Abnormality {
                        subset,
                        id,
                        lesion,
                        shape_or_type: a,
                        margins_or_dist: b,
                        subtlety,
                        split_mask,
                        mask_bits,
                    });
                }
            }
            plan_breast(
                cfg,
                &mut rng,
                &mut plan,
                &mut rows,
                &mut series_rows,
                PatientCtx {
                    index: i,
                    pid: &pid,
                    film,
                    study_na,
                    bits: 16,
                },
                &breast,
            );
        }
    }

    // CSVs, in (patient, side, view, abnormality) order per subset.
    rows.sort_by(|a, b| (&a.pid, a.side, a.view, a.abn).cmp(&(&b.pid, b.side, b.view, b.abn)));
    for subset in Subset::ALL {
        let header = if subset.is_mass() {
            MASS_HEADER
        } else {
            CALC_HEADER
        };
        let mut out = String::new();
        out.push_str(header);
        out.push_str("\r\n");
        let mut n = 0;
        for row in rows.iter().filter(|r| r.subset == subset) {
            n += 1;
            out.push_str(&row.fields.join(","));
            out.push_str("\r\n");
            plan.truth.push(TruthRow {
                kind: "record",
                path: row.disk_full.clone(),
                source_file: subset.file().to_string(),
                source_row: Some(n),
                patient_id: row.pid.clone(),
                laterality: row.side[..1].to_string(),
                true_laterality: row.side[..1].to_string(),
                view: row.view.to_string(),
                defects: row.defects.clone(),
                expected_selection: row.selection.to_string(),
                expected_image_status: "",
                ..Default::default()
            });
        }
        plan.files
            .push((subset.file().to_string(), out.into_bytes()));
    }

    // NBIA manifest.
    let mut manifest = String::from(NBIA_HEADER);
    manifest.push('\n');
    for (k, s) in series_rows.iter().enumerate() {
        manifest.push_str(&format!(
            "{},CBIS-DDSM,NO,https://doi.org/10.7937/K9/TCIA.2016.7O02S9CY,{},{},,{},{},,MG,Secondary Capture Image Storage,{SC_CLASS},{},{},{},2022-04-06T20:{:02}:{:02}.{:03}\n",
            s.series_uid,
            s.subject,
            s.study_uid,
            s.study_date,
            s.description,
            s.images,
            file_size(s.bytes_each * s.images as u64),
            s.location,
            (k / 60) % 60,
            k % 60,
            (k * 137) % 1000
        ));
    }
    plan.files
        .push(("metadata.csv".to_string(), manifest.into_bytes()));
    Ok(plan)
}

/// NBIA's human-readable size: `30.40 MB`, `184.00 KB`.
pub(super) fn file_size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.2} MB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.2} KB", b / 1024.0)
    }
}

struct PatientCtx<'a> {
    index: usize,
    pid: &'a str,
    film: bool,
    study_na: bool,
    bits: u16,
}

fn study_folder(date: &str, na: bool, study: &str) -> String {
    if na {
        format!("{date}-DDSM-NA-{}", last5(study))
    } else {
        format!("{date}-DDSM-{}", last5(study))
    }
}

/// Image jobs, CSV rows and series rows of one breast.
fn plan_breast(
    cfg: &SynthConfig,
    rng: &mut ChaCha8Rng,
    plan: &mut Plan,
    rows: &mut Vec<CsvRow>,
    series_rows: &mut Vec<SeriesRow>,
    p: PatientCtx<'_>,
    breast: &Breast,
) {
    let views: Vec<&'static str> = ["CC", "MLO"]
        .into_iter()
        .filter(|v| Some(*v) != breast.dropped_view)
        .collect();
    let rows_real = rng.random_range(4400..6100u32);
    let cols_real = rng.random_range(2400..3400u32);
    let (h, w) = (cfg.dim(rows_real), cfg.dim(cols_real));
    let selection = breast.selection();
    let mut subsets: Vec<Subset> = breast.abnormalities.iter().map(|a| a.subset).collect();
    subsets.dedup();

    for (vi, view) in views.iter().enumerate() {
        // One physical image per (breast, view), listed under every subset.
        let mirrored = rng.random_bool(cfg.rate(K::Mirrored));
        let offset = rng.random_bool(cfg.rate(K::Offset));
        let encoding = cfg.pick_encoding(&mut *rng, Encoding::ImplicitLe, Encoding::ExplicitLe);
        let forced_fault = match (p.index, vi, breast.side) {
            (9, 0, _) if cfg.rate(K::MissingImage) > 0.0 => Some(Fault::Missing),
            (10, 0, _) if cfg.rate(K::Truncated) > 0.0 => Some(Fault::Truncated),
            (11, 0, _) if cfg.rate(K::NonDicom) > 0.0 => Some(Fault::NonDicom),
            _ => None,
        };
        let fault = forced_fault.unwrap_or_else(|| {
            let u: f64 = rng.random();
            let (a, b, c) = (
                cfg.rate(K::MissingImage),
                cfg.rate(K::Truncated),
                cfg.rate(K::NonDicom),
            );
            if p.index < 12 {
                Fault::None
            } else if u < a {
                Fault::Missing
            } else if u < a + b {
                Fault::Truncated
            } else if u < a + b + c {
                Fault::NonDicom
            } else {
                Fault::None
            }
        });
        let chest_wall_left = (breast.side == "LEFT") != mirrored;
        let phantom = Phantom {
            rows: h,
            cols: w,
            white: 55866,
            mlo: *view == "MLO",
            chest_wall_left,
            film_border: p.film,
            offset,
            noisy_background: true,
            marker: true,
            lesions: breast.lesions.clone(),
            seed: mix(&[
                cfg.seed,
                1,
                p.index as u64,
                breast.side.len() as u64,
                vi as u64,
            ]),
        };
        let mut image_defects: Vec<String> = Vec::new();
        if mirrored {
            image_defects.push(K::Mirrored.name().into());
        }
        if p.film {
            image_defects.push(K::FilmBorder.name().into());
        }
        if offset {
            image_defects.push(K::Offset.name().into());
        }
        match fault {
            Fault::Missing => image_defects.push(K::MissingImage.name().into()),
            Fault::Truncated => image_defects.push(K::Truncated.name().into()),
            Fault::NonDicom => image_defects.push(K::NonDicom.name().into()),
            Fault::None => {}
        }
        let status = match fault {
            Fault::None => "ok",
            Fault::Missing => "missing",
            Fault::Truncated | Fault::NonDicom => "error",
        };

        for subset in &subsets {
            let top = format!("{}_{}_{}_{}", subset.folder(), p.pid, breast.side, view);
            let study = uid(rng);
            let series = uid(rng);
            let sop = uid(rng);
            let date = if subset.is_mass() {
                "07-20-2016"
            } else {
                "08-29-2017"
            };
            let sfolder = study_folder(date, p.study_na, &study);
            let series_folder = format!("1.000000-full mammogram images-{}", last5(&series));
            let disk_full = format!("CBIS-DDSM/{top}/{sfolder}/{series_folder}/1-1.dcm");
            let csv_full = format!("{top}/{study}/{series}/000000.dcm");
            let bytes_each = (h * w * 2) as u64 + 1500;
            series_rows.push(SeriesRow {
                series_uid: series.clone(),
                subject: top.clone(),
                study_uid: study.clone(),
                study_date: date.to_string(),
                description: "full mammogram images",
                images: 1,
                bytes_each,
                location: format!("./CBIS-DDSM/{top}/{sfolder}/{series_folder}"),
            });
            plan.jobs.push(ImageJob {
                rel_path: disk_full.clone(),
                content: Content::Full(phantom.clone()),
                bits_allocated: 16,
                bits_stored: p.bits,
                photometric: "MONOCHROME2",
                invert_stored: false,
                encoding,
                meta_sop_class: SC_CLASS.into(),
                meta_sop_instance: sop.clone(),
                implementation: Some(("1.2.40.0.13.1.1".into(), Some("dcm4che-1.4.35".into()))),
                elements: header(
                    &top,
                    &study,
                    &series,
                    &sop,
                    "full mammogram images",
                    date,
                    breast.side,
                    view,
                    1,
                ),
                min_max: true,
                fault,
            });
            plan.truth.push(TruthRow {
                kind: "image",
                path: disk_full.clone(),
                patient_id: p.pid.to_string(),
                laterality: breast.side[..1].to_string(),
                true_laterality: breast.side[..1].to_string(),
                view: view.to_string(),
                role: "full",
                chest_wall_side: if chest_wall_left { "left" } else { "right" }.into(),
                laterality_flipped: Some(mirrored),
                stored_inverted: Some(false),
                photometric: "MONOCHROME2".into(),
                bits_stored: Some(p.bits),
                rows: Some(h),
                columns: Some(w),
                transfer_syntax: encoding.uid().into(),
                defects: image_defects.clone(),
                expected_selection: selection.into(),
                expected_image_status: status,
                ..Default::default()
            });

            for abn in breast.abnormalities.iter().filter(|a| a.subset == *subset) {
                let top_abn = format!("{top}_{}", abn.id);
                let s2 = uid(rng);
                let r2 = uid(rng);
                let crop_date = if subset.is_mass() {
                    "07-21-2016"
                } else {
                    "08-30-2017"
                };
                let s2_folder = study_folder(crop_date, p.study_na, &s2);
                let (lx0, ly0, lx1, ly1) = phantom.lesion_box(abn.lesion);
                let pad = (lx1 - lx0) * 0.4;
                let crop_box = (lx0 - pad, ly0 - pad, lx1 + pad, ly1 + pad);
                let crop_sop = uid(rng);
                let mask_sop = uid(rng);
                let (csv_crop, csv_mask, disk_crop, disk_mask);
                if abn.split_mask {
                    let s3 = uid(rng);
                    let r3 = uid(rng);
                    let s3_folder = study_folder("07-22-2016", p.study_na, &s3);
                    let crop_series = format!("1.000000-cropped images-{}", last5(&r2));
                    let mask_series = format!("1.000000-ROI mask images-{}", last5(&r3));
                    csv_crop = format!("{top_abn}/{s2}/{r2}/000000.dcm");
                    csv_mask = format!("{top_abn}/{s3}/{r3}/000000.dcm");
                    disk_crop = format!("CBIS-DDSM/{top_abn}/{s2_folder}/{crop_series}/1-1.dcm");
                    disk_mask = format!("CBIS-DDSM/{top_abn}/{s3_folder}/{mask_series}/1-1.dcm");
                    series_rows.push(SeriesRow {
                        series_uid: r2.clone(),
                        subject: top_abn.clone(),
                        study_uid: s2.clone(),
                        study_date: crop_date.into(),
                        description: "cropped images",
                        images: 1,
                        bytes_each: 60_000,
                        location: format!("./CBIS-DDSM/{top_abn}/{s2_folder}/{crop_series}"),
                    });
                    series_rows.push(SeriesRow {
                        series_uid: r3.clone(),
                        subject: top_abn.clone(),
                        study_uid: s3.clone(),
                        study_date: "07-22-2016".into(),
                        description: "ROI mask images",
                        images: 1,
                        bytes_each: (h * w) as u64 * (abn.mask_bits as u64 / 8) + 1500,
                        location: format!("./CBIS-DDSM/{top_abn}/{s3_folder}/{mask_series}"),
                    });
                    push_roi_jobs(
                        plan,
                        &phantom,
                        abn,
                        crop_box,
                        (&disk_crop, &top_abn, &s2, &r2, &crop_sop, crop_date, 1),
                        (&disk_mask, &top_abn, &s3, &r3, &mask_sop, "07-22-2016", 1),
                        breast,
                        view,
                        p.pid,
                        selection,
                        "cropped images",
                        "ROI mask images",
                    );
                } else {
                    let desc = if subset.is_mass() || rng.random_bool(0.5) {
                        "ROI mask images"
                    } else {
                        "cropped images"
                    };
                    let series_folder = format!("1.000000-{desc}-{}", last5(&r2));
                    let base = format!("CBIS-DDSM/{top_abn}/{s2_folder}/{series_folder}");
                    // mass: 000000 = crop (1-1), 000001 = mask (1-2); calc: the reverse.
                    let (crop_n, mask_n) = if subset.is_mass() { (0, 1) } else { (1, 0) };
                    csv_crop = format!("{top_abn}/{s2}/{r2}/00000{crop_n}.dcm");
                    csv_mask = format!("{top_abn}/{s2}/{r2}/00000{mask_n}.dcm");
                    disk_crop = format!("{base}/1-{}.dcm", crop_n + 1);
                    disk_mask = format!("{base}/1-{}.dcm", mask_n + 1);
                    series_rows.push(SeriesRow {
                        series_uid: r2.clone(),
                        subject: top_abn.clone(),
                        study_uid: s2.clone(),
                        study_date: crop_date.into(),
                        description: desc,
                        images: 2,
                        bytes_each: (h * w) as u64 * (abn.mask_bits as u64 / 8) / 2 + 30_000,
                        location: format!("./{base}"),
                    });
                    push_roi_jobs(
                        plan,
                        &phantom,
                        abn,
                        crop_box,
                        (
                            &disk_crop,
                            &top_abn,
                            &s2,
                            &r2,
                            &crop_sop,
                            crop_date,
                            crop_n + 1,
                        ),
                        (
                            &disk_mask,
                            &top_abn,
                            &s2,
                            &r2,
                            &mask_sop,
                            crop_date,
                            mask_n + 1,
                        ),
                        breast,
                        view,
                        p.pid,
                        selection,
                        desc,
                        desc,
                    );
                }
                // The CSV row.
                let mut assessment = breast.assessment;
                let mut pathology = breast.pathology;
                let mut row_defects = Vec::new();
                if *view == "MLO" {
                    match breast.defect {
                        LabelDefect::InconsistentBirads => {
                            assessment = if assessment >= 4 { 2 } else { 5 };
                            row_defects.push(K::ContradictoryLabels.name().to_string());
                        }
                        LabelDefect::InconsistentPathology => {
                            pathology = if pathology == "MALIGNANT" {
                                "BENIGN"
                            } else {
                                "MALIGNANT"
                            };
                            row_defects.push(K::ContradictoryLabels.name().to_string());
                        }
                        _ => {}
                    }
                }
                match breast.defect {
                    LabelDefect::Birads0 => row_defects.push(K::Birads0.name().into()),
                    LabelDefect::SingleView => row_defects.push(K::SingleView.name().into()),
                    _ => {}
                }
                let (crop_field, mask_field) = if subset.is_mass() {
                    (csv_crop.clone(), format!("\"{csv_mask}\n\""))
                } else {
                    (format!("\"{csv_crop}\n\""), csv_mask.clone())
                };
                rows.push(CsvRow {
                    subset: *subset,
                    pid: p.pid.to_string(),
                    side: breast.side,
                    view,
                    abn: abn.id,
                    fields: vec![
                        p.pid.to_string(),
                        breast.density.to_string(),
                        breast.side.to_string(),
                        view.to_string(),
                        abn.id.to_string(),
                        if subset.is_mass() {
                            "mass"
                        } else {
                            "calcification"
                        }
                        .to_string(),
                        abn.shape_or_type.clone(),
                        abn.margins_or_dist.clone(),
                        assessment.to_string(),
                        pathology.to_string(),
                        abn.subtlety.to_string(),
                        csv_full.clone(),
                        crop_field,
                        mask_field,
                    ],
                    disk_full: disk_full.clone(),
                    selection,
                    defects: row_defects,
                });
            }
        }
    }
}

/// (disk path, top folder, study, series, SOP instance, folder date, instance number)
type RoiFile<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str, u16);

#[allow(clippy::too_many_arguments)]
fn push_roi_jobs(
    plan: &mut Plan,
    phantom: &Phantom,
    abn: &Abnormality,
    crop_box: (f32, f32, f32, f32),
    crop: RoiFile<'_>,
    mask: RoiFile<'_>,
    breast: &Breast,
    view: &str,
    pid: &str,
    selection: &str,
    crop_desc: &str,
    mask_desc: &str,
) {
    for (role, file, desc) in [("crop", crop, crop_desc), ("mask", mask, mask_desc)] {
        let (path, top, study, series, sop, date, instance) = file;
        let (content, bits) = if role == "crop" {
            (Content::Crop(phantom.clone(), crop_box), 16)
        } else {
            (Content::Mask(phantom.clone(), abn.lesion), abn.mask_bits)
        };
        let (w, h) = if role == "crop" {
            crop_dims(phantom, crop_box)
        } else {
            (phantom.cols, phantom.rows)
        };
        let elements = header(
            top,
            study,
            series,
            sop,
            desc,
            date,
            breast.side,
            view,
            instance,
        );
        plan.jobs.push(ImageJob {
            rel_path: path.to_string(),
            content,
            bits_allocated: bits,
            bits_stored: bits,
            photometric: "MONOCHROME2",
            invert_stored: false,
            encoding: Encoding::ImplicitLe,
            meta_sop_class: SC_CLASS.into(),
            meta_sop_instance: sop.to_string(),
            implementation: Some(("1.2.40.0.13.1.1".into(), Some("dcm4che-1.4.35".into()))),
            elements,
            min_max: true,
            fault: Fault::None,
        });
        plan.truth.push(TruthRow {
            kind: "image",
            path: path.to_string(),
            patient_id: pid.to_string(),
            laterality: breast.side[..1].to_string(),
            true_laterality: breast.side[..1].to_string(),
            view: view.to_string(),
            role,
            stored_inverted: Some(false),
            photometric: "MONOCHROME2".into(),
            bits_stored: Some(bits),
            rows: Some(h),
            columns: Some(w),
            transfer_syntax: Encoding::ImplicitLe.uid().into(),
            expected_selection: selection.into(),
            expected_image_status: "ok",
            ..Default::default()
        });
    }
}

/// Width and height of a crop, computed like `pixels::crop` does.
fn crop_dims(p: &Phantom, bx: (f32, f32, f32, f32)) -> (u32, u32) {
    let (x0, y0, x1, y1) = super::pixels::crop_box(p.cols, p.rows, bx);
    (x1 - x0, y1 - y0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_have_the_cbis_root_and_long_suffixes() {
        let mut rng = rand::SeedableRng::seed_from_u64(1);
        let u = uid(&mut rng);
        assert!(u.starts_with(UID_ROOT));
        assert!(u.len() <= 64, "{u}");
        assert!(u.len() > UID_ROOT.len() + 30);
    }

    #[test]
    fn nbia_sizes_and_dates() {
        assert_eq!(file_size(31_876_710), "30.40 MB");
        assert_eq!(file_size(188_416), "184.00 KB");
        assert_eq!(dicom_date("07-20-2016"), "20160720");
        assert_eq!(
            study_folder("08-29-2017", true, "1.2.96009"),
            "08-29-2017-DDSM-NA-96009"
        );
        assert_eq!(
            study_folder("07-20-2016", false, "1.2.94258"),
            "07-20-2016-DDSM-94258"
        );
    }
}
