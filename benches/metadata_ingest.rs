//! Benchmark (not a test): metadata-only ingest of synthetic VinDr-Mammo
//! trees (no images) at 100k and 1M images, against pandas merely reading
//! the same CSVs, in the same run. Prints rows/s and peak RSS of each
//! (GNU time's `%M`), so RSS growth from 100k to 1M rows is visible.
//!
//! Two more baselines show what reading *and writing* costs elsewhere:
//! pyarrow (multi-threaded C++ CSV reader + Parquet writer, zstd, no
//! harmonization) and DuckDB (`COPY (SELECT * FROM read_csv(..)) TO
//! parquet`, 2 threads) converting the same three CSVs to Parquet.
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
    let files = [
        "breast-level_annotations.csv",
        "finding_annotations.csv",
        "metadata.csv",
    ];
    println!(
        "{:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>11} {:>12} {:>12}",
        "images",
        "mcq s",
        "mcq MiB",
        "pd s",
        "pd MiB",
        "pa s",
        "pa MiB",
        "duck s",
        "duck MiB",
        "mcq/pandas",
        "mcq/pyarrow",
        "mcq/duckdb"
    );
    for patients in [25_000usize, 250_000] {
        let tree = base.join(format!("p{patients}"));
        if !tree.join(files[0]).is_file() {
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
        let list = format!("{files:?}");
        let dir = tree.display();
        let out = base.join(format!("floor{patients}"));
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).unwrap();
        let out = out.display();
        let pandas =
            format!("import pandas as pd\nfor f in {list}:\n    pd.read_csv('{dir}/' + f)\n");
        let pyarrow = format!(
            "import pyarrow.csv as c, pyarrow.parquet as q\nfor f in {list}:\n    q.write_table(c.read_csv('{dir}/' + f), '{out}/pa-' + f + '.parquet', compression='zstd')\n"
        );
        let duckdb = format!(
            "import duckdb\ncon = duckdb.connect()\ncon.execute('SET threads = 2')\nfor f in {list}:\n    con.execute(f\"COPY (SELECT * FROM read_csv('{dir}/{{f}}')) TO '{out}/duck-{{f}}.parquet' (FORMAT parquet, COMPRESSION zstd)\")\n"
        );
        let timed = |script: &str| measure(Command::new(&python).args(["-c", script]));
        let (pd_s, pd_mib) = timed(&pandas);
        let (pa_s, pa_mib) = timed(&pyarrow);
        let (dd_s, dd_mib) = timed(&duckdb);
        let images = patients * 4;
        println!(
            "{images:>9} {mcq_s:>8.2} {mcq_mib:>8.0} {pd_s:>8.2} {pd_mib:>8.0} {pa_s:>8.2} {pa_mib:>8.0} {dd_s:>8.2} {dd_mib:>8.0} {:>11.2} {:>12.2} {:>12.2}",
            mcq_s / pd_s,
            mcq_s / pa_s,
            mcq_s / dd_s
        );
    }
}
