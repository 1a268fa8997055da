//! Benchmark (not a test): cold-process time of a GROUP BY over 100,000
//! metadata rows in 4 datasets, `mcq query --format csv` against the DuckDB
//! CLI on the same Parquet files, alternating runs, medians and their ratio.
//! Then the same mcq query on two lakes whose `images` hold 64x32 and
//! 1024x512 tensors: metadata queries never read tensor bytes, so the two
//! times should match.
//!
//! Run: `cargo bench --bench query_vs_duckdb` (installs the pinned DuckDB CLI
//! under .cache/venv on first use).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use mcq::lake::LakeWriter;
use mcq::lake::manifest::{DatasetInfo, IngestRun};
use mcq::lake::writer::DatasetWrite;
use mcq::record::{ImageRow, MetadataRow};
use rand::{Rng, SeedableRng};

const SQL: &str = "SELECT dataset, density, count(*) FROM metadata GROUP BY 1, 2";
const DATASETS: [&str; 4] = ["cbis-ddsm", "vindr-mammo", "cmmd", "tompei-cmmd"];
const ROWS: usize = 100_000;
const IMAGE_ROWS_PER_DATASET: usize = 250;
const RUNS: usize = 15;

fn build_lake(root: &Path, tensor: (usize, usize)) {
    if root.join("_mcq/manifest.json").is_file() {
        return;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut writer = LakeWriter::open(root, Some(tensor)).unwrap();
    for (d, dataset) in DATASETS.iter().enumerate() {
        writer.replace_dataset(DatasetWrite {
            dataset: dataset.to_string(),
            info: DatasetInfo {
                synthetic: true,
                ..Default::default()
            },
            run: IngestRun {
                dataset: dataset.to_string(),
                command: "bench".into(),
                synthetic: true,
                ..Default::default()
            },
        });
        let rows: Vec<MetadataRow> = (0..ROWS / DATASETS.len())
            .map(|i| {
                let patient = format!("P{d}_{:06}", i / 4);
                let side = if (i / 2) % 2 == 0 { "L" } else { "R" };
                let view = if i % 2 == 0 { "CC" } else { "MLO" };
                MetadataRow {
                    patient_id: patient.clone(),
                    image_id: format!("{patient}_{side}_{view}"),
                    exam_id: format!("{patient}_{side}"),
                    laterality: side.into(),
                    laterality_source: "metadata".into(),
                    view_position: Some(view.into()),
                    age: Some(rng.random_range(30..90)),
                    density: ["A", "B", "C", "D"]
                        .get(rng.random_range(0..5))
                        .map(|s| s.to_string()),
                    birads: Some(rng.random_range(1..6)),
                    diagnosis: Some(
                        ["Normal", "Benign", "Malignant"][rng.random_range(0..3)].into(),
                    ),
                    mass: rng.random_bool(0.3),
                    calcification: rng.random_bool(0.2),
                    image_status: "ok".into(),
                    source_file: "bench.csv".into(),
                    source_row: i as i64 + 1,
                    ..Default::default()
                }
            })
            .collect();
        writer.write_rows(dataset, &rows).unwrap();
        let mut part = writer
            .part_writer(mcq::lake::Table::Images, dataset)
            .unwrap();
        let pixels = tensor.0 * tensor.1;
        for chunk in rows[..IMAGE_ROWS_PER_DATASET].chunks(16) {
            let images: Vec<ImageRow> = chunk
                .iter()
                .map(|m| ImageRow {
                    image_id: m.image_id.clone(),
                    rows: 3518,
                    columns: 2800,
                    bits_stored: 14,
                    modality_kind: "digital".into(),
                    pixel_data_sha256: "0".repeat(64),
                    scale: 1.0,
                    tensor: (0..pixels).map(|_| rng.random::<u16>() >> 4).collect(),
                    ..Default::default()
                })
                .collect();
            part.write_rows(&images).unwrap();
        }
        writer.finish_part(part).unwrap();
    }
    writer.commit().unwrap();
}

/// The native DuckDB CLI binary that the pinned `duckdb-cli` package ships
/// (its `bin/duckdb` entry point is a Python wrapper: timing that would add
/// Python's start-up to DuckDB's).
fn duckdb_cli() -> PathBuf {
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
    let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let lib = bin.parent().expect("venv").join("lib");
    std::fs::read_dir(&lib)
        .expect("venv lib")
        .flatten()
        .map(|python| python.path().join("site-packages/duckdb_cli/duckdb"))
        .find(|p| p.is_file())
        .expect("the duckdb-cli package ships its native binary")
}

fn time(cmd: &mut Command) -> f64 {
    let start = Instant::now();
    let out = cmd.output().expect("run");
    let elapsed = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.len() > 20);
    elapsed
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn mcq_cmd(lake: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mcq"));
    c.arg("--lake")
        .arg(lake)
        .args(["query", "--format", "csv", SQL]);
    c
}

fn main() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-lakes");
    let small = base.join("q100k-t64x32");
    let large = base.join("q100k-t1024x512");
    let t = Instant::now();
    build_lake(&small, (64, 32));
    build_lake(&large, (1024, 512));
    println!(
        "lakes ready in {:.1}s ({} metadata rows, {} image rows each)",
        t.elapsed().as_secs_f64(),
        ROWS,
        IMAGE_ROWS_PER_DATASET * 4
    );
    let duckdb = duckdb_cli();
    let duck_sql = format!(
        "SELECT dataset, density, count(*) FROM read_parquet('{}/metadata/*/*.parquet', hive_partitioning = true) GROUP BY 1, 2",
        small.display()
    );
    let duck_cmd = || {
        let mut c = Command::new(&duckdb);
        c.args(["-csv", "-c", &duck_sql]);
        c
    };
    // Warm the page cache once for every contender.
    time(&mut mcq_cmd(&small));
    time(&mut mcq_cmd(&large));
    time(&mut duck_cmd());
    let (mut m_small, mut m_large, mut duck) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        m_small.push(time(&mut mcq_cmd(&small)));
        duck.push(time(&mut duck_cmd()));
        m_large.push(time(&mut mcq_cmd(&large)));
    }
    let (ms, ml, dk) = (median(m_small), median(m_large), median(duck));
    println!("query: {SQL}");
    println!("runs: {RUNS} each, alternating, cold processes, medians");
    println!("  mcq    (images 64x32)     {:>8.1} ms", ms * 1e3);
    println!("  duckdb CLI                {:>8.1} ms", dk * 1e3);
    println!("  mcq    (images 1024x512)  {:>8.1} ms", ml * 1e3);
    println!("ratio mcq / duckdb: {:.2} (target <= 1.5)", ms / dk);
    println!(
        "ratio mcq 1024x512 / 64x32 tensors: {:.2} (metadata never reads tensor bytes)",
        ml / ms
    );
}
