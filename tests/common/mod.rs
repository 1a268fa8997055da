//! Fixture lakes written with the library, and a runner for the real `mcq`
//! binary, shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mcq::lake::LakeWriter;
use mcq::lake::manifest::{DatasetInfo, IngestRun};
use mcq::lake::writer::DatasetWrite;
use mcq::record::{ExclusionRow, FindingRow, ImageRow, MetadataRow};

pub const TENSOR: (usize, usize) = (4, 2);

/// One metadata row with the fields the tests vary.
#[allow(clippy::too_many_arguments)]
pub fn meta(
    patient: &str,
    side: &str,
    view: &str,
    density: Option<&str>,
    birads: Option<i32>,
    diagnosis: Option<&str>,
    mass: bool,
    calc: bool,
    row: i64,
) -> MetadataRow {
    MetadataRow {
        patient_id: patient.into(),
        study_id: None,
        image_id: format!("{patient}_{side}_{view}"),
        exam_id: format!("{patient}_{side}"),
        laterality: side.into(),
        laterality_source: "metadata".into(),
        view_position: Some(view.into()),
        age: Some(50 + row as i32),
        density: density.map(Into::into),
        birads,
        birads_raw: birads.map(|b| b.to_string()),
        diagnosis: diagnosis.map(Into::into),
        diagnosis_source: diagnosis.map(|_| "biopsy".into()),
        mass,
        calcification: calc,
        mass_shape: if mass {
            vec!["irregular".into(), "oval".into()]
        } else {
            vec![]
        },
        image_status: "ok".into(),
        source_file: "fixture.csv".into(),
        source_row: row,
        ..Default::default()
    }
}

pub fn cbis_rows() -> Vec<MetadataRow> {
    vec![
        meta(
            "P_00001",
            "L",
            "CC",
            Some("B"),
            Some(4),
            Some("Malignant"),
            true,
            false,
            1,
        ),
        meta(
            "P_00001",
            "L",
            "MLO",
            Some("B"),
            Some(4),
            Some("Malignant"),
            false,
            false,
            2,
        ),
        meta(
            "P_00002",
            "R",
            "CC",
            Some("C"),
            Some(2),
            Some("Benign"),
            false,
            true,
            3,
        ),
        meta(
            "P_00002",
            "R",
            "MLO",
            Some("C"),
            Some(2),
            Some("Benign"),
            false,
            true,
            4,
        ),
        meta(
            "P_00003",
            "L",
            "CC",
            Some("C"),
            Some(3),
            Some("Benign"),
            false,
            false,
            5,
        ),
    ]
}

pub fn cmmd_rows() -> Vec<MetadataRow> {
    vec![
        meta(
            "D1-0001",
            "L",
            "CC",
            None,
            None,
            Some("Benign"),
            true,
            false,
            1,
        ),
        meta(
            "D1-0001",
            "L",
            "MLO",
            None,
            None,
            Some("Benign"),
            true,
            false,
            2,
        ),
        meta(
            "D2-0001",
            "R",
            "CC",
            None,
            None,
            Some("Malignant"),
            false,
            true,
            3,
        ),
        meta("D2-0001", "R", "MLO", None, None, None, false, false, 4),
    ]
}

pub fn images_for(rows: &[MetadataRow]) -> Vec<ImageRow> {
    rows.iter()
        .enumerate()
        .map(|(i, m)| ImageRow {
            image_id: m.image_id.clone(),
            rows: 3000,
            columns: 2000 + i as i32,
            bits_stored: if i % 2 == 0 { 16 } else { 8 },
            photometric: Some(if i == 0 { "MONOCHROME1" } else { "MONOCHROME2" }.into()),
            modality_kind: "digital".into(),
            source_max: 4095.0,
            pixel_data_sha256: format!("{i:064x}"),
            intensity_inverted: i == 0,
            laterality_flipped: i == 1,
            norm_high: 4095.0,
            scale: 1.0,
            tensor: (0..(TENSOR.0 * TENSOR.1) as u16)
                .map(|p| p * 1000 + i as u16)
                .collect(),
            ..Default::default()
        })
        .collect()
}

pub fn run_info(dataset: &str) -> DatasetWrite {
    DatasetWrite {
        dataset: dataset.into(),
        info: DatasetInfo {
            synthetic: true,
            ..Default::default()
        },
        run: IngestRun {
            dataset: dataset.into(),
            command: "fixture".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            synthetic: true,
            ..Default::default()
        },
    }
}

/// Writes one dataset (metadata + images + a finding + an exclusion) in one commit.
pub fn write_dataset(lake: &Path, dataset: &str, rows: &[MetadataRow]) {
    let mut writer = LakeWriter::open(lake, Some(TENSOR)).expect("open writer");
    writer.replace_dataset(run_info(dataset));
    writer.write_rows(dataset, rows).unwrap();
    writer.write_rows(dataset, &images_for(rows)).unwrap();
    let finding = FindingRow {
        image_id: rows[0].image_id.clone(),
        exam_id: rows[0].exam_id.clone(),
        patient_id: rows[0].patient_id.clone(),
        laterality: rows[0].laterality.clone(),
        finding: "mass".into(),
        x0: Some(1.0),
        y0: Some(2.0),
        x1: Some(3.0),
        y1: Some(4.0),
        source_file: "fixture.csv".into(),
        source_row: 1,
        ..Default::default()
    };
    writer.write_rows(dataset, &[finding]).unwrap();
    let exclusion = ExclusionRow {
        level: "record".into(),
        source_file: "fixture.csv".into(),
        source_row: Some(99),
        patient_id: Some("X".into()),
        reason: "birads_0".into(),
        detail: "BI-RADS 0 (incomplete assessment)".into(),
        ..Default::default()
    };
    writer.write_rows(dataset, &[exclusion]).unwrap();
    writer.commit().expect("commit");
}

/// A lake with two datasets, in a fresh temporary folder.
pub fn fixture_lake() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_dataset(&lake, "cbis-ddsm", &cbis_rows());
    write_dataset(&lake, "cmmd", &cmmd_rows());
    (dir, lake)
}

/// Runs the real binary with `--lake LAKE` and the given arguments.
pub fn mcq(lake: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcq"))
        .arg("--lake")
        .arg(lake)
        .args(args)
        .env_remove("MCQ_LAKE")
        .output()
        .expect("run mcq")
}

/// `mcq ingest DATASET ROOT --size 64x32 --jobs 2 EXTRA...` into `lake`: the
/// small-tensor image ingest the end-to-end image tests share.
pub fn ingest_small(lake: &Path, dataset: &str, root: &Path, extra: &[&str]) -> Output {
    let root = root.to_str().expect("UTF-8 path");
    let mut args = vec!["ingest", dataset, root, "--size", "64x32", "--jobs", "2"];
    args.extend_from_slice(extra);
    mcq(lake, &args)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a query as CSV and returns stdout, failing the test on error.
pub fn csv(lake: &Path, sql: &str) -> String {
    let o = mcq(lake, &["query", "--format", "csv", sql]);
    assert!(o.status.success(), "query failed: {sql}\n{}", stderr(&o));
    stdout(&o)
}

/// The first file in a folder (tests use folders holding one file).
pub fn first_file(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .next()
        .expect("a file")
        .unwrap()
        .path()
}

/// Every file under `dir` (recursively), sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
