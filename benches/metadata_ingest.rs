//! Benchmark (not a test): metadata-only ingest of synthetic VinDr-Mammo
//! trees (no images) at 100k and 1M images, against pandas merely reading
//! the same CSVs, in the same run. Prints rows/s and peak RSS of each
//! (GNU time's `%M`), so RSS growth from 100k to 1M rows is visible.
//!
//! Run: `cargo bench --bench metadata_ingest` (needs /usr/bin/time; uses
//! the pinned Python env under .cache/venv for pandas).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("tests/python/env.sh"))
        .output()
        .expect("run tests/python/env.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("python")
}

/// Runs a command under GNU time: (wall seconds, peak RSS in MiB).
fn measure(cmd: &mut Command) -> (f64, f64) {
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%M"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    let start = Instant::now();
    let out = timed.output().expect("run /usr/bin/time");
    let wall = start.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let kib: f64 = err
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0.0);
    (wall, kib / 1024.0)
}

fn main() {
    let mcq = env!("CARGO_BIN_EXE_mcq");
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-vindr");
    let python = python();
    println!(
        "{:>9} {:>12} {:>10} {:>12} {:>10} {:>14} {:>10}",
        "images",
        "mcq rows/s",
        "mcq MiB",
        "pandas rows/s",
        "pandas MiB",
        "mcq/pandas time",
        "mcq s"
    );
    for patients in [25_000usize, 250_000] {
        let tree = base.join(format!("p{patients}"));
        if !tree.join("breast-level_annotations.csv").is_file() {
            let _ = std::fs::remove_dir_all(&tree);
            let o = Command::new(mcq)
                .args(["synth", "vindr-mammo"])
                .arg(&tree)
                .args([
                    "--no-images",
                    "--patients",
                    &patients.to_string(),
                    "--seed",
                    "1",
                ])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let lake = base.join(format!("lake{patients}"));
        let _ = std::fs::remove_dir_all(&lake);
        let mut ingest = Command::new(mcq);
        ingest
            .arg("--lake")
            .arg(&lake)
            .args(["ingest", "vindr-mammo"])
            .arg(&tree)
            .arg("--metadata-only");
        let (mcq_s, mcq_mib) = measure(&mut ingest);
        let script = format!(
            "import pandas as pd\nfor f in ['breast-level_annotations.csv', 'finding_annotations.csv', 'metadata.csv']:\n    pd.read_csv('{}/' + f)\n",
            tree.display()
        );
        let mut pandas = Command::new(&python);
        pandas.args(["-c", &script]);
        let (pd_s, pd_mib) = measure(&mut pandas);
        let images = patients * 4;
        println!(
            "{images:>9} {:>12.0} {:>10.0} {:>12.0} {:>10.0} {:>14.2} {:>10.2}",
            images as f64 / mcq_s,
            mcq_mib,
            images as f64 / pd_s,
            pd_mib,
            mcq_s / pd_s,
            mcq_s
        );
    }
}
