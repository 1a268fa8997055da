//! Broken image files end to end (issue 5): a synthetic CBIS-DDSM tree in
//! which single images are damaged after `mcq synth` wrote them — truncated,
//! zero bytes, not DICOM at all, a header claiming 60000 × 60000 pixels over
//! a small PixelData, deleted — is ingested by the real binary. The run exits
//! 0 without a panic; each damaged image is an `image` exclusion carrying the
//! decoder's message, its metadata row stays with `error`/`missing`, and every
//! healthy image gets its tensor. Also `--keep-processed`: full-resolution
//! 16-bit PNGs, a hostile patient id kept inside the folder, and a second run
//! that numbers its files instead of overwriting the first run's.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// `(raw_path)` of the full mammograms of admitted records, in truth order.
fn healthy_full_images(truth: &Path) -> Vec<String> {
    let mut reader = csv::Reader::from_path(truth).unwrap();
    let h = reader.headers().unwrap().clone();
    let at = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (kind, path, role, selection, status) = (
        at("kind"),
        at("path"),
        at("role"),
        at("expected_selection"),
        at("expected_image_status"),
    );
    reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| {
            &r[kind] == "image"
                && &r[role] == "full"
                && &r[selection] == "keep"
                && &r[status] == "ok"
        })
        .map(|r| r[path].to_string())
        .collect()
}

fn synth_cbis(dir: &Path, patients: usize, seed: u64) -> PathBuf {
    let out = dir.join("cbis");
    let o = Command::new(env!("CARGO_BIN_EXE_mcq"))
        .args(["synth", "cbis-ddsm"])
        .arg(&out)
        .args([
            "--patients",
            &patients.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        // The only damaged files are the ones the tests damage.
        .args(["--defect", "truncated=0", "--defect", "non_dicom=0"])
        .args(["--defect", "missing_image=0"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

/// Sets Rows and Columns (0028,0010/0011) of a little-endian DICOM file to
/// `value` in place (implicit or explicit VR), leaving PixelData as it is.
fn claim_size(path: &Path, value: u16) {
    let mut bytes = std::fs::read(path).unwrap();
    let mut patched = 0;
    for elem in [0x10u8, 0x11] {
        for header in [
            vec![0x28, 0x00, elem, 0x00, 0x02, 0x00, 0x00, 0x00],
            vec![0x28, 0x00, elem, 0x00, b'U', b'S', 0x02, 0x00],
        ] {
            if let Some(at) = bytes.windows(8).position(|w| w == header.as_slice()) {
                bytes[at + 8..at + 10].copy_from_slice(&value.to_le_bytes());
                patched += 1;
            }
        }
    }
    assert_eq!(patched, 2, "Rows and Columns of {}", path.display());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn damaged_images_are_image_exclusions_and_healthy_ones_are_processed() {
    let dir = tempfile::tempdir().unwrap();
    let raw = synth_cbis(dir.path(), 12, 41);
    let images = healthy_full_images(&dir.path().join("cbis.truth.csv"));
    assert!(images.len() >= 12, "{} images", images.len());
    let damage = |i: usize| raw.join(&images[i]);
    // What is done to which image, and what its row and exclusion must say.
    let full = std::fs::read(damage(0)).unwrap();
    std::fs::write(damage(0), &full[..full.len() / 2]).unwrap();
    std::fs::write(damage(1), b"").unwrap();
    std::fs::write(damage(2), "patient notes, not an image\n".repeat(40)).unwrap();
    claim_size(&damage(3), 60000);
    std::fs::remove_file(damage(4)).unwrap();
    // CBIS-DDSM's image_id is the top folder without its `Mass-Training_` prefix.
    let image_id = |i: usize| -> String {
        let top = images[i].split('/').nth(1).unwrap();
        top.split_once('_').unwrap().1.to_string()
    };
    let expected: BTreeMap<String, (&str, &str, &str, &str)> = BTreeMap::from([
        (image_id(0), ("error", "unreadable_image", "", "truncated")),
        (image_id(1), ("error", "unreadable_image", "", "zero bytes")),
        (image_id(2), ("error", "unreadable_image", "", "not DICOM")),
        (
            image_id(3),
            (
                "error",
                "unreadable_image",
                "60000 × Columns 60000",
                "absurd size",
            ),
        ),
        (
            image_id(4),
            ("missing", "missing_image", "not there", "deleted"),
        ),
    ]);

    let lake = dir.path().join("lake");
    let o = ingest_small(&lake, "cbis-ddsm", &raw, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));

    let rows = csv(
        &lake,
        "SELECT m.image_id, m.image_status, e.level, e.reason, e.detail, e.source_row, \
         i.image_id IS NOT NULL AS has_row, cardinality(i.tensor) AS tensor_len \
         FROM metadata m \
         LEFT JOIN exclusions e ON e.image_id = m.image_id AND e.level = 'image' \
         LEFT JOIN images i ON i.image_id = m.image_id \
         ORDER BY m.image_id",
    );
    let mut reader = csv::Reader::from_reader(rows.as_bytes());
    let mut seen = 0;
    let mut healthy = 0;
    for r in reader.records() {
        let r = r.unwrap();
        let (id, status, level, reason, detail, source_row, has_row, tensor_len) =
            (&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6], &r[7]);
        match expected.get(id) {
            Some((want_status, want_reason, want_detail, what)) => {
                let path = format!("{id} ({what})");
                seen += 1;
                assert_eq!(status, *want_status, "{path}");
                assert_eq!((level, reason), ("image", *want_reason), "{path}");
                assert!(detail.contains(want_detail), "{path}: {detail}");
                assert_eq!(
                    source_row, "",
                    "{path}: image exclusions have no source_row"
                );
                assert_eq!(has_row, "false", "{path}: no images row");
                if *want_status == "error" {
                    // The decoder's message names the file.
                    assert!(detail.contains("1-1.dcm"), "{path}: {detail}");
                }
            }
            None => {
                let path = id;
                healthy += 1;
                assert_eq!(status, "ok", "{path}");
                assert_eq!(level, "", "{path}: no exclusion");
                assert_eq!((has_row, tensor_len), ("true", "2048"), "{path}");
            }
        }
    }
    assert_eq!(seen, 5, "{rows}");
    assert!(healthy >= 7, "{healthy} healthy images");
    let count = |sql: &str| -> usize { csv(&lake, sql).lines().nth(1).unwrap().parse().unwrap() };
    assert_eq!(
        count("SELECT count(*) FROM exclusions WHERE level = 'image'"),
        5
    );
    assert_eq!(count("SELECT count(*) FROM images"), healthy);
    assert!(mcq(&lake, &["check"]).status.success());
}

#[test]
fn keep_processed_writes_16_bit_pngs_inside_the_folder_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let raw = synth_cbis(dir.path(), 4, 9);
    // A hostile patient id in the case description files (the image paths
    // stay as they are).
    let mut renamed = 0;
    for entry in std::fs::read_dir(&raw).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.contains("case_description") {
            let text = std::fs::read_to_string(&path).unwrap();
            let hostile = text.replace("\nP_00008,", "\n../../../escape/P 8,");
            renamed += (hostile != text) as usize;
            std::fs::write(&path, hostile).unwrap();
        }
    }
    assert!(renamed >= 1);
    let keep = dir.path().join("out").join("processed");
    let lake = dir.path().join("lake");
    let ingest = || {
        let o = ingest_small(
            &lake,
            "cbis-ddsm",
            &raw,
            &["--keep-processed", keep.to_str().unwrap()],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    };
    ingest();
    let pngs = files_under;
    let first = pngs(&keep);
    let rows = csv(
        &lake,
        "SELECT m.patient_id, m.laterality, m.view_position, i.crop_x1 - i.crop_x0 AS w, \
         i.crop_y1 - i.crop_y0 AS h, i.hflip_applied FROM images i JOIN metadata m \
         ON m.image_id = i.image_id ORDER BY 1, 2, 3",
    );
    let mut reader = csv::Reader::from_reader(rows.as_bytes());
    let mut hostile = 0;
    let mut n = 0;
    for r in reader.records() {
        let r = r.unwrap();
        n += 1;
        let patient = r[0].to_string();
        let folder = if patient.contains('/') {
            hostile += 1;
            assert_eq!(patient, "../../../escape/P 8");
            "_._.._.._escape_P_8".to_string()
        } else {
            patient
        };
        let png = keep
            .join("cbis-ddsm")
            .join(&folder)
            .join(format!("{}_{}.png", &r[1], &r[2]));
        assert!(first.contains(&png), "{} not in {first:?}", png.display());
        let img = image::open(&png).unwrap();
        assert_eq!(img.color(), image::ColorType::L16, "{}", png.display());
        let (w, h): (u32, u32) = (r[3].parse().unwrap(), r[4].parse().unwrap());
        assert_eq!((img.width(), img.height()), (w, h), "{}", png.display());
        // Canonical orientation: the chest wall (tissue) on the left.
        let px = img.into_luma16();
        let column_mean = |x: u32| (0..h).map(|y| px.get_pixel(x, y).0[0] as f64).sum::<f64>();
        assert!(
            column_mean(w / 10) > column_mean(w - 1 - w / 10),
            "{}: chest wall not on the left",
            png.display()
        );
    }
    assert_eq!(hostile, 2, "{rows}");
    assert_eq!(first.len(), n, "{first:?}");
    for p in &first {
        assert!(p.starts_with(keep.join("cbis-ddsm")), "{}", p.display());
    }
    assert!(!dir.path().join("escape").exists());
    assert!(!dir.path().join("out").join("escape").exists());

    // A second run into the same folder keeps every file and numbers its own.
    let before: Vec<Vec<u8>> = first.iter().map(|p| std::fs::read(p).unwrap()).collect();
    ingest();
    let second = pngs(&keep);
    assert_eq!(second.len(), 2 * first.len());
    for (p, bytes) in first.iter().zip(&before) {
        assert_eq!(&std::fs::read(p).unwrap(), bytes, "{}", p.display());
        let numbered = p.with_file_name(format!(
            "{}_2.png",
            p.file_stem().unwrap().to_str().unwrap()
        ));
        assert!(second.contains(&numbered), "{}", numbered.display());
    }
}

#[test]
fn an_unwritable_keep_processed_folder_fails_the_run_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let raw = synth_cbis(dir.path(), 3, 5);
    // A regular file where the PNG folder would go.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"a file").unwrap();
    let keep = blocker.join("processed");
    let lake = dir.path().join("lake");
    let o = ingest_small(
        &lake,
        "cbis-ddsm",
        &raw,
        &["--keep-processed", keep.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("blocker"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    // Nothing was committed.
    assert!(!lake.join("metadata").join("dataset=cbis-ddsm").exists());
}
