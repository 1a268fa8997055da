//! The pixel stage end to end: `mcq synth` trees with every fault and QC
//! defect, ingested with images; statuses, exclusions and the QC flags match
//! the generator's truth, and every healthy image becomes a tensor.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::*;

struct TruthImage {
    status: String,
    flipped: Option<bool>,
    inverted: Option<bool>,
}

fn truth_images(truth: &Path) -> BTreeMap<String, TruthImage> {
    let mut reader = csv::Reader::from_path(truth).unwrap();
    let h = reader.headers().unwrap().clone();
    let at = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (kind, path, role, status, flipped, inverted) = (
        at("kind"),
        at("path"),
        at("role"),
        at("expected_image_status"),
        at("laterality_flipped"),
        at("stored_inverted"),
    );
    let mut out = BTreeMap::new();
    for r in reader.records() {
        let r = r.unwrap();
        if &r[kind] == "image" && (r[role].is_empty() || &r[role] == "full") {
            out.insert(
                r[path].to_string(),
                TruthImage {
                    status: r[status].to_string(),
                    flipped: r[flipped].parse().ok(),
                    inverted: r[inverted].parse().ok(),
                },
            );
        }
    }
    out
}

fn ingest_with_images(dataset: &str, patients: usize, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(dataset);
    let o = Command::new(env!("CARGO_BIN_EXE_mcq"))
        .args(["synth", dataset])
        .arg(&out)
        .args([
            "--patients",
            &patients.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        .args([
            "--defect",
            "mirrored=0.3",
            "--defect",
            "film_border=0.2",
            "--defect",
            "offset=0.2",
        ])
        .args([
            "--defect",
            "truncated=0.05",
            "--defect",
            "non_dicom=0.05",
            "--defect",
            "missing_image=0.05",
        ])
        .args(["--defect", "rle=0.2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let lake = dir.path().join("lake");
    let o = ingest_small(&lake, dataset, &out, &[]);
    assert!(o.status.success(), "{dataset}: {}", stderr(&o));
    assert!(!stderr(&o).contains("panicked at"), "{}", stderr(&o));
    let truth = truth_images(&dir.path().join(format!("{dataset}.truth.csv")));
    let rows = csv(
        &lake,
        &format!(
            "SELECT m.raw_path, m.image_status, i.laterality_flipped, i.intensity_inverted, \
             CASE WHEN i.image_id IS NULL THEN 0 ELSE 1 END AS decoded FROM metadata m LEFT JOIN images i \
             ON i.dataset = m.dataset AND i.image_id = m.image_id \
             WHERE m.dataset = '{dataset}' AND m.raw_path IS NOT NULL"
        ),
    );
    let (mut compared, mut flip_ok, mut inv_ok) = (0, 0, 0);
    for line in rows.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let Some(t) = truth.get(f[0]) else { continue };
        assert_eq!(f[1], t.status, "{}: status", f[0]);
        if f[1] == "ok" {
            assert_eq!(f[4], "1", "{}: an images row", f[0]);
            compared += 1;
            flip_ok += (t.flipped == f[2].parse().ok()) as usize;
            inv_ok += (t.inverted == f[3].parse().ok()) as usize;
        }
    }
    assert!(compared >= 20, "{dataset}: only {compared} images compared");
    println!(
        "{dataset}: {compared} images, laterality_flipped {flip_ok} right, intensity_inverted {inv_ok} right"
    );
    assert!(
        flip_ok * 100 >= compared * 99,
        "{dataset}: laterality_flipped {flip_ok}/{compared}"
    );
    assert!(
        inv_ok * 100 >= compared * 99,
        "{dataset}: intensity_inverted {inv_ok}/{compared}"
    );
    // every unusable image is an image-level exclusion, and each one is named
    let bad = truth.values().filter(|t| t.status != "ok").count();
    let excluded = csv(
        &lake,
        &format!(
            "SELECT count(*) AS n FROM exclusions WHERE dataset = '{dataset}' AND level = 'image' \
             AND reason IN ('unreadable_image', 'missing_image')"
        ),
    );
    let n: usize = excluded.lines().nth(1).unwrap().parse().unwrap();
    assert!(
        n >= 1 && n <= bad + 2,
        "{dataset}: {n} image exclusions for {bad} bad images"
    );
    assert!(mcq(&lake, &["check"]).status.success());
}

#[test]
fn cbis_ddsm_images() {
    ingest_with_images("cbis-ddsm", 25, 21);
}

#[test]
fn vindr_mammo_images() {
    ingest_with_images("vindr-mammo", 12, 22);
}

#[test]
fn cmmd_images() {
    ingest_with_images("cmmd", 15, 23);
}

#[test]
fn full_resolution_jpeg2000_tensors_come_from_the_breast_box_decoded_again() {
    // The same JPEG 2000 tree (full-size images: a reduced decode needs an
    // image at least twice QC's working copy) ingested by default (tensors
    // from a reduced decode) and with --full-resolution (QC on the same
    // reduced decode, then the breast box decoded again at full
    // resolution): the same QC and boxes, the tensors' pixels at full
    // resolution.
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    let o = Command::new(env!("CARGO_BIN_EXE_mcq"))
        .args(["synth", "vindr-mammo"])
        .arg(&raw)
        .args([
            "--patients",
            "1",
            "--seed",
            "9",
            "--full-size",
            "--defect",
            "j2k=1",
        ])
        .args(["--defect", "truncated=0", "--defect", "non_dicom=0"])
        .args(["--defect", "missing_image=0", "--defect", "rle=0"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let sql = "SELECT image_id, decode_reduction, crop_x0, crop_y0, crop_x1, crop_y1, \
               intensity_inverted, chest_wall_side, laterality_flipped, scale, transfer_syntax \
               FROM images ORDER BY image_id";
    // --keep-processed writes full-resolution PNGs the same way.
    let keep = dir.path().join("png");
    let keep_arg = ["--keep-processed", keep.to_str().unwrap()];
    let mut lakes = Vec::new();
    for extra in [&[][..], &["--full-resolution"][..], &keep_arg[..]] {
        let lake = dir.path().join(format!("lake{}", lakes.len()));
        let o = ingest_small(&lake, "vindr-mammo", &raw, extra);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        assert!(mcq(&lake, &["check"]).status.success());
        lakes.push(csv(&lake, sql));
    }
    let rows = |text: &str| -> Vec<Vec<String>> {
        text.lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    };
    let (reduced, full) = (rows(&lakes[0]), rows(&lakes[1]));
    assert_eq!(reduced.len(), 4, "one patient's images");
    assert_eq!(reduced.len(), full.len());
    assert_eq!(lakes[2], lakes[1], "--keep-processed as --full-resolution");
    // Each PNG is the breast box at full resolution.
    let mut sizes: Vec<(u32, u32)> = files_under(&keep)
        .iter()
        .map(|p| {
            let img = image::open(p).unwrap();
            assert_eq!(img.color(), image::ColorType::L16, "{}", p.display());
            (img.width(), img.height())
        })
        .collect();
    let mut boxes: Vec<(u32, u32)> = full
        .iter()
        .map(|r| {
            let v = |k: usize| r[k].parse::<u32>().unwrap();
            (v(4) - v(2), v(5) - v(3))
        })
        .collect();
    sizes.sort();
    boxes.sort();
    assert_eq!(sizes, boxes);
    for (a, b) in reduced.iter().zip(&full) {
        assert!(
            a[10].starts_with("1.2.840.10008.1.2.4.9"),
            "{a:?}: JPEG 2000"
        );
        assert!(a[1].parse::<i32>().unwrap() > 0, "{a:?}: decoded reduced");
        assert_eq!(b[1], "0", "{b:?}: the tensor from full-resolution pixels");
        // image_id, the box in stored pixels, the QC columns
        assert_eq!(a[..1], b[..1]);
        assert_eq!(a[2..9], b[2..9], "{}", a[0]);
        // tensor pixels per stored pixel: the same transform
        let (sa, sb): (f64, f64) = (a[9].parse().unwrap(), b[9].parse().unwrap());
        assert!((sa / sb - 1.0).abs() < 1e-9, "{sa} {sb}");
    }
}
