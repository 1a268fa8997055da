//! `mcq export png` through the real binary: file names, repeated views,
//! pixel values at 16 and 8 bits, `metadata.csv`, the `--where` predicate,
//! and hostile identifiers that must not write outside OUT.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::*;
use mcq::record::MetadataRow;

/// Every file under `dir`, relative to it, `/`-separated.
fn files_under(dir: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).unwrap();
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

fn export(lake: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["export", "png", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    mcq(lake, &args)
}

/// The CSV rows of `metadata.csv` as (path, image_id).
fn csv_paths(out: &Path) -> Vec<(String, String)> {
    let mut reader = csv::Reader::from_path(out.join("metadata.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let at = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (path, image) = (at("path"), at("image_id"));
    assert_eq!(headers.get(0), Some("path"));
    assert!(headers.iter().any(|h| h == "diagnosis"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[path].to_string(), r[image].to_string())
        })
        .collect()
}

/// A lake with the two fixture datasets plus one whose breast has two CC images.
fn lake_with_repeated_view() -> (tempfile::TempDir, PathBuf, Vec<MetadataRow>) {
    let (dir, lake) = fixture_lake();
    let mut first = meta("V1", "L", "CC", None, None, None, false, false, 1);
    first.image_id = "img-b".into();
    let mut second = meta("V1", "L", "CC", None, None, None, false, false, 2);
    second.image_id = "img-a".into();
    let rows = vec![first, second];
    write_dataset(&lake, "vindr-mammo", &rows);
    (dir, lake, rows)
}

fn decode16(path: &Path) -> Vec<u16> {
    match image::open(path).unwrap() {
        image::DynamicImage::ImageLuma16(img) => {
            assert_eq!(
                (img.width(), img.height()),
                (TENSOR.1 as u32, TENSOR.0 as u32)
            );
            img.into_raw()
        }
        other => panic!("{} is {:?}, not 16-bit gray", path.display(), other.color()),
    }
}

fn decode8(path: &Path) -> Vec<u8> {
    match image::open(path).unwrap() {
        image::DynamicImage::ImageLuma8(img) => img.into_raw(),
        other => panic!("{} is {:?}, not 8-bit gray", path.display(), other.color()),
    }
}

#[test]
fn exports_every_image_with_its_tensor_values() {
    let (dir, lake, _) = lake_with_repeated_view();
    let out = dir.path().join("png16");
    let o = export(&lake, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("wrote 11 PNG files"), "{}", stderr(&o));
    let files = files_under(&out);
    let expected: BTreeSet<String> = [
        "cbis-ddsm/P_00001/L_CC.png",
        "cbis-ddsm/P_00001/L_MLO.png",
        "cbis-ddsm/P_00002/R_CC.png",
        "cbis-ddsm/P_00002/R_MLO.png",
        "cbis-ddsm/P_00003/L_CC.png",
        "cmmd/D1-0001/L_CC.png",
        "cmmd/D1-0001/L_MLO.png",
        "cmmd/D2-0001/R_CC.png",
        "cmmd/D2-0001/R_MLO.png",
        "vindr-mammo/V1/L_CC.png",
        "vindr-mammo/V1/L_CC_2.png",
        "metadata.csv",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(files, expected);

    // Repeated views are numbered in image_id order.
    let rows = csv_paths(&out);
    assert_eq!(rows.len(), 11);
    assert!(rows.contains(&("vindr-mammo/V1/L_CC.png".into(), "img-a".into())));
    assert!(rows.contains(&("vindr-mammo/V1/L_CC_2.png".into(), "img-b".into())));

    // Pixels are exactly the tensor values.
    let tensors = images_for(&cbis_rows());
    for (i, m) in cbis_rows().iter().enumerate() {
        let (path, _) = rows.iter().find(|(_, id)| *id == m.image_id).unwrap();
        assert_eq!(decode16(&out.join(path)), tensors[i].tensor, "{path}");
    }

    // 8 bits: the high byte.
    let out8 = dir.path().join("png8");
    let o = export(&lake, &out8, &["--bits", "8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows8 = csv_paths(&out8);
    for (i, m) in cbis_rows().iter().enumerate() {
        let (path, _) = rows8.iter().find(|(_, id)| *id == m.image_id).unwrap();
        let want: Vec<u8> = tensors[i].tensor.iter().map(|v| (v >> 8) as u8).collect();
        assert!(want.iter().any(|&v| v > 0), "the fixture has high bytes");
        assert_eq!(decode8(&out8.join(path)), want, "{path}");
    }
}

#[test]
fn the_predicate_selects_images_over_metadata_and_qc_columns() {
    let (dir, lake) = fixture_lake();
    let selected = |name: &str, predicate: &str| {
        let out = dir.path().join(name);
        let o = export(&lake, &out, &["--where", predicate]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(files_under(&out).len(), csv_paths(&out).len() + 1);
        csv_paths(&out)
            .into_iter()
            .map(|(p, _)| p)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        selected("malignant", "diagnosis = 'Malignant'"),
        [
            "cbis-ddsm/P_00001/L_CC.png",
            "cbis-ddsm/P_00001/L_MLO.png",
            "cmmd/D2-0001/R_CC.png"
        ]
    );
    // A QC column of `images`: the fixture flags the second image of each dataset.
    assert_eq!(
        selected("flipped", "laterality_flipped"),
        ["cbis-ddsm/P_00001/L_MLO.png", "cmmd/D1-0001/L_MLO.png"]
    );
}

#[test]
fn a_bad_predicate_fails_naming_it_and_writes_no_png() {
    let (dir, lake) = fixture_lake();
    for predicate in [
        "no_such_column = 1",
        "density = ",
        "1 = 1; DROP TABLE metadata",
        "1 = 1) OR (1 = 1",
    ] {
        let out = dir.path().join("bad");
        let o = export(&lake, &out, &["--where", predicate]);
        assert_eq!(o.status.code(), Some(1), "{predicate}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("--where \"{predicate}\"")),
            "{predicate}: {}",
            stderr(&o)
        );
        assert!(!out.exists() || files_under(&out).is_empty(), "{predicate}");
    }
    let o = export(&lake, &dir.path().join("x"), &["--bits", "12"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn an_existing_export_is_never_overwritten() {
    let (dir, lake) = fixture_lake();
    let out = dir.path().join("out");
    // A file already at a name the export would use is kept; the export numbers past it.
    std::fs::create_dir_all(out.join("cmmd/D1-0001")).unwrap();
    std::fs::write(out.join("cmmd/D1-0001/L_CC.png"), b"mine").unwrap();
    let o = export(&lake, &out, &["--where", "dataset = 'cmmd'"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(out.join("cmmd/D1-0001/L_CC.png")).unwrap(),
        b"mine"
    );
    assert!(csv_paths(&out).contains(&("cmmd/D1-0001/L_CC_2.png".into(), "D1-0001_L_CC".into())));
    // A second export into the same folder is refused.
    let o = export(&lake, &out, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("already holds an export"),
        "{}",
        stderr(&o)
    );
}

/// Patient and image ids an attacker (or a careless dataset) could use.
fn hostile_rows() -> Vec<MetadataRow> {
    let patients = [
        "../../escaped",
        "..",
        ".",
        "",
        "/tmp/absolute",
        "a\0b",
        "..\\..\\windows",
        "x/y",
        "x_y",
        &"p".repeat(300),
        "../..",
    ];
    patients
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut m = meta(p, "L", "CC", None, None, None, false, false, i as i64 + 1);
            m.image_id = format!("../../{p}/img{i}");
            m.exam_id = format!("{p}_L");
            m
        })
        .collect()
}

#[test]
fn hostile_identifiers_never_write_outside_out() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let rows = hostile_rows();
    write_dataset(&lake, "cmmd", &rows);
    let work = dir.path().join("work");
    let out = work.join("out");
    let o = export(&lake, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Nothing beside OUT, nothing outside the temporary folder's two entries.
    let top: BTreeSet<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(top, BTreeSet::from(["lake".into(), "work".into()]));
    let beside: Vec<_> = std::fs::read_dir(&work).unwrap().collect();
    assert_eq!(beside.len(), 1);
    assert!(!Path::new("/tmp/absolute").exists());

    // Every image has a distinct PNG under OUT, each with its own pixels.
    let files = files_under(&out);
    let pngs: Vec<&String> = files.iter().filter(|f| f.ends_with(".png")).collect();
    assert_eq!(pngs.len(), rows.len(), "{files:#?}");
    let canonical_out = std::fs::canonicalize(&out).unwrap();
    for f in &pngs {
        let path = std::fs::canonicalize(out.join(f)).unwrap();
        assert!(path.starts_with(&canonical_out), "{}", path.display());
        for part in f.split('/') {
            assert!(!part.is_empty() && !part.starts_with('.'), "{f}");
            assert!(part.len() <= 80, "{f}");
        }
    }
    let listed = csv_paths(&out);
    assert_eq!(listed.len(), rows.len());
    let tensors = images_for(&rows);
    for (i, m) in rows.iter().enumerate() {
        let (path, _) = listed.iter().find(|(_, id)| *id == m.image_id).unwrap();
        assert_eq!(decode16(&out.join(path)), tensors[i].tensor, "{path}");
    }
    // "x/y" and "x_y" share a folder but not a file.
    assert!(files.contains("cmmd/x_y/L_CC.png") && files.contains("cmmd/x_y/L_CC_2.png"));
}

#[cfg(unix)]
#[test]
fn a_link_planted_in_out_is_not_followed() {
    let (dir, lake) = fixture_lake();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join("cmmd")).unwrap();
    let o = export(&lake, &out, &["--where", "dataset = 'cmmd'"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a folder"), "{}", stderr(&o));
    assert!(files_under(&elsewhere).is_empty());
}
