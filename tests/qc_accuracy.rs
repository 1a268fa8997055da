//! QC accuracy (issue 5): synthesize each dataset with the real binary and
//! every defect kind on at notable rates, decode every full image the truth
//! lists, run `qc::process` with both chest-wall methods and compare
//! `laterality_flipped` and `intensity_inverted` with the ground truth
//! (`laterality_flipped`, `stored_inverted`). Prints both methods side by
//! side (`cargo test --test qc_accuracy -- --nocapture`); the component
//! method must reach 99 % on both flags for every dataset.

use std::path::{Path, PathBuf};
use std::process::Command;

use mcq::decode::{DEFAULT_MAX_PIXELS, decode};
use mcq::qc::{LateralityMethod, QcOptions, process};

const DEFECTS: &[&str] = &[
    "mirrored=0.3",
    "monochrome1=0.15",
    "inverted_monochrome2=0.15",
    "mislabelled_monochrome1=0.1",
    "film_border=0.3",
    "offset=0.3",
    "truncated=0.04",
    "non_dicom=0.04",
    "missing_image=0.03",
    "rle=0.2",
    "alt_uncompressed=0.2",
];

fn synth(dataset: &str, out: &Path, patients: usize) -> PathBuf {
    let patients = patients.to_string();
    let mut args = vec![
        "synth",
        dataset,
        out.to_str().unwrap(),
        "--patients",
        &patients,
    ];
    for d in DEFECTS {
        args.push("--defect");
        args.push(d);
    }
    let o = Command::new(env!("CARGO_BIN_EXE_mcq"))
        .args(&args)
        .output()
        .expect("run mcq synth");
    assert!(
        o.status.success(),
        "mcq synth {dataset}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut truth = out.as_os_str().to_owned();
    truth.push(".truth.csv");
    PathBuf::from(truth)
}

#[derive(Default)]
struct Tally {
    images: usize,
    errors_expected: usize,
    flipped_true: usize,
    inverted_true: usize,
    flipped_ok: [usize; 2],
    inverted_ok: [usize; 2],
    side_ok: [usize; 2],
    misses: Vec<String>,
}

fn pct(n: usize, d: usize) -> f64 {
    if d == 0 {
        100.0
    } else {
        100.0 * n as f64 / d as f64
    }
}

fn run(dataset: &str, patients: usize) -> Tally {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(dataset);
    let truth = synth(dataset, &out, patients);
    let mut reader = csv::Reader::from_path(&truth).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (kind, path, lat, role, side, flipped, inverted, status, defects) = (
        col("kind"),
        col("path"),
        col("laterality"),
        col("role"),
        col("chest_wall_side"),
        col("laterality_flipped"),
        col("stored_inverted"),
        col("expected_image_status"),
        col("defects"),
    );
    let methods = [LateralityMethod::Component, LateralityMethod::EdgeWindow];
    let mut t = Tally::default();
    for rec in reader.records() {
        let rec = rec.unwrap();
        if &rec[kind] != "image" || &rec[role] != "full" {
            continue;
        }
        let file = out.join(&rec[path]);
        match &rec[status] {
            "missing" => continue,
            "error" => {
                let e = decode(&file, DEFAULT_MAX_PIXELS);
                assert!(e.is_err(), "{}: a broken file decoded", &rec[path]);
                t.errors_expected += 1;
                continue;
            }
            _ => {}
        }
        let decoded =
            decode(&file, DEFAULT_MAX_PIXELS).unwrap_or_else(|e| panic!("{}: {e}", &rec[path]));
        t.images += 1;
        let want_flipped = &rec[flipped] == "true";
        let want_inverted = &rec[inverted] == "true";
        t.flipped_true += want_flipped as usize;
        t.inverted_true += want_inverted as usize;
        for (m, method) in methods.into_iter().enumerate() {
            let options = QcOptions {
                method,
                crop: true,
                tensor_shape: (128, 96),
                ..QcOptions::default()
            };
            let p = process(&decoded, Some(&rec[lat]), &options);
            t.flipped_ok[m] += (p.laterality_flipped == want_flipped) as usize;
            t.inverted_ok[m] += (p.intensity_inverted == want_inverted) as usize;
            t.side_ok[m] += (p.chest_wall_side.as_deref() == Some(&rec[side])) as usize;
            if m == 0
                && (p.laterality_flipped != want_flipped || p.intensity_inverted != want_inverted)
            {
                t.misses.push(format!(
                    "{} [{}] flipped {} (truth {want_flipped}) inverted {} (truth {want_inverted}) side {:?} score {:?} inv {:?}",
                    &rec[path],
                    &rec[defects],
                    p.laterality_flipped,
                    p.intensity_inverted,
                    p.chest_wall_side,
                    p.laterality_score,
                    p.inversion_score
                ));
            }
        }
    }
    t
}

#[test]
fn component_method_reaches_99_percent_on_every_dataset() {
    let mut failures = Vec::new();
    println!(
        "{:<12} {:>6} {:>6} {:>7} {:>7} | {:>10} {:>10} | {:>10} {:>10} | {:>10} {:>10}",
        "dataset",
        "images",
        "errors",
        "flipped",
        "invertd",
        "flip comp",
        "flip edge",
        "inv comp",
        "inv edge",
        "side comp",
        "side edge"
    );
    for (dataset, patients) in [("cbis-ddsm", 30), ("vindr-mammo", 30), ("cmmd", 30)] {
        let t = run(dataset, patients);
        let n = t.images;
        println!(
            "{:<12} {:>6} {:>6} {:>7} {:>7} | {:>9.1}% {:>9.1}% | {:>9.1}% {:>9.1}% | {:>9.1}% {:>9.1}%",
            dataset,
            n,
            t.errors_expected,
            t.flipped_true,
            t.inverted_true,
            pct(t.flipped_ok[0], n),
            pct(t.flipped_ok[1], n),
            pct(t.inverted_ok[0], n),
            pct(t.inverted_ok[1], n),
            pct(t.side_ok[0], n),
            pct(t.side_ok[1], n),
        );
        for m in &t.misses {
            println!("  miss: {m}");
        }
        assert!(n >= 40, "{dataset}: only {n} readable full images");
        for (flag, ok) in [
            ("laterality_flipped", t.flipped_ok[0]),
            ("intensity_inverted", t.inverted_ok[0]),
        ] {
            if pct(ok, n) < 99.0 {
                failures.push(format!("{dataset}: {flag} {:.1}% < 99%", pct(ok, n)));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Decode + QC time per full-size image (debug build: the pixel crates are
/// optimized, mcq's own loops are not). Run with `-- --ignored --nocapture`.
#[test]
#[ignore]
fn full_size_timing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("vindr");
    let o = Command::new(env!("CARGO_BIN_EXE_mcq"))
        .args([
            "synth",
            "vindr-mammo",
            out.to_str().unwrap(),
            "--patients",
            "1",
            "--full-size",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let mut truth = out.as_os_str().to_owned();
    truth.push(".truth.csv");
    let mut reader = csv::Reader::from_path(PathBuf::from(truth)).unwrap();
    for rec in reader.deserialize::<std::collections::HashMap<String, String>>() {
        let rec = rec.unwrap();
        if rec["kind"] != "image" || rec["expected_image_status"] != "ok" {
            continue;
        }
        let start = std::time::Instant::now();
        let d = decode(&out.join(&rec["path"]), DEFAULT_MAX_PIXELS).unwrap();
        let decoded = start.elapsed();
        let p = process(&d, Some(&rec["laterality"]), &QcOptions::default());
        println!(
            "{}x{} {}: decode {:?}, qc {:?} (side {:?})",
            d.columns,
            d.rows,
            rec["transfer_syntax"],
            decoded,
            start.elapsed() - decoded,
            p.chest_wall_side
        );
    }
}
