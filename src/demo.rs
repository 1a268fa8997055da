//! `mcq demo`: the main job with zero setup. Synthesizes look-alike raw trees
//! of the three datasets of the published harmonization study (CBIS-DDSM,
//! TOMPEI-CMMD over CMMD, VinDr-Mammo), ingests them into `<out>/lake`
//! (marked synthetic; never `$MCQ_LAKE`), prints the bias reports, writes the
//! HTML report and shows queries to try.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::ingest::{self, IngestConfig};
use crate::query::{self, LakeSession};
use crate::synth::{self, SynthConfig, SynthDataset};

/// What `mcq demo` is asked to do.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Folder for the raw trees, the lake and the HTML report.
    pub out: PathBuf,
    /// Patients per dataset.
    pub patients: usize,
    pub seed: u64,
}

/// The demo lake's tensor size: small, as the look-alikes are scaled down.
const DEMO_TENSOR: (usize, usize) = (256, 128);

/// The datasets of the study, in the order they are ingested.
const DATASETS: [(&str, SynthDataset); 3] = [
    ("cbis-ddsm", SynthDataset::CbisDdsm),
    ("tompei-cmmd", SynthDataset::TompeiCmmd),
    ("vindr-mammo", SynthDataset::VindrMammo),
];

fn step(n: usize, total: usize, what: &str) -> Instant {
    eprint!("[{n}/{total}] {what} … ");
    let _ = std::io::stderr().flush();
    Instant::now()
}

fn done(started: Instant, note: &str) {
    eprintln!("{note} ({:.1} s)", started.elapsed().as_secs_f64());
}

/// Runs the demo; prints reports to `out`.
pub fn run<W: Write + Send>(config: &DemoConfig, out: &mut W) -> Result<PathBuf> {
    let raw = config.out.join("raw");
    let lake = config.out.join("lake");
    let html = config.out.join("report.html");
    for path in [&raw, &lake] {
        if path.exists() {
            std::fs::remove_dir_all(path).map_err(Error::io("cannot clear", path))?;
        }
    }
    let total = DATASETS.len() * 2 + 2;
    let mut n = 0;
    for (i, (name, dataset)) in DATASETS.iter().enumerate() {
        n += 1;
        let t = step(
            n,
            total,
            &format!("synthesizing {name} ({} patients)", config.patients),
        );
        let mut synth_config = SynthConfig::new(*dataset, raw.join(name));
        synth_config.patients = config.patients;
        synth_config.seed = config.seed + i as u64;
        let summary = synth::synthesize(&synth_config)?;
        done(
            t,
            &format!("{} images, {} records", summary.images, summary.records),
        );
    }
    for (name, _) in DATASETS {
        n += 1;
        let t = step(n, total, &format!("ingesting {name}"));
        let summary = ingest::run(&IngestConfig {
            dataset: name.into(),
            root: raw.join(name),
            lake: lake.clone(),
            metadata_only: false,
            images: None,
            size: Some(DEMO_TENSOR),
            explain: false,
            split_seed: None,
            test_fraction: 0.2,
            extra_policy: Default::default(),
            synthetic: true,
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
            qc_method: Default::default(),
            shard: None,
            full_resolution: false,
            keep_processed: None,
        })?;
        done(
            t,
            &format!(
                "{} metadata rows, {} findings, {} exclusions",
                summary.harmonized_counts["metadata"],
                summary.harmonized_counts["findings"],
                summary.harmonized_counts["exclusions"]
            ),
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        n += 1;
        let t = step(n, total, "running the bias reports");
        let session = LakeSession::open(&lake).await?;
        query::reports::print(&session, query::reports::all(), query::Format::Table, out).await?;
        done(t, "done");
        n += 1;
        let t = step(n, total, "writing the HTML report");
        query::html::write_html(&session, &html).await?;
        done(t, &html.display().to_string());
        Ok::<_, Error>(())
    })?;
    writeln!(out, "\n{}", next_steps(&lake, &html)).map_err(Error::io("cannot write", "stdout"))?;
    Ok(lake)
}

fn next_steps(lake: &Path, html: &Path) -> String {
    let l = lake.display();
    format!(
        "The lake: {l} (synthetic look-alikes, tensors 256x128)\n\
         The HTML report: {}\n\n\
         Try:\n  \
         mcq --lake {l} \"SELECT dataset, density, count(*) AS breasts FROM exams GROUP BY 1, 2 ORDER BY 1, 2\"\n  \
         mcq --lake {l} \"SELECT dataset, reason, count(*) FROM exclusions GROUP BY 1, 2 ORDER BY 1, 3 DESC\"\n  \
         mcq --lake {l} \"SELECT m.dataset, f.finding, count(*) FROM findings f JOIN metadata m ON m.dataset = f.dataset AND m.image_id = f.image_id GROUP BY 1, 2 ORDER BY 1, 3 DESC\"\n  \
         mcq --lake {l} shell",
        html.display()
    )
}
