//! The command line: clap derive types, converted once into the library's
//! plain types, and dispatch. Nothing here does real work.

// The doc comments here are clap's `--help` text, printed as written:
// `<dataset>` and `[_<n>]` are placeholders, not HTML or links.
#![allow(rustdoc::invalid_html_tags, rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::dataset::{Policy, selection::Rule};
use crate::error::Error;
use crate::ingest::{self, IngestConfig};
use crate::lake::check;
use crate::query::{self, Format, LakeSession, OutputTarget};

/// mcq — harmonized mammography datasets in one Parquet lake, queried in SQL.
///
/// `mcq "SELECT ..."` is short for `mcq query "SELECT ..."`.
#[derive(Debug, Parser)]
#[command(name = "mcq", version, about, long_about = None)]
pub struct Cli {
    /// The lake folder [default: $MCQ_LAKE, else ./mcq-lake]
    #[arg(long, global = true, env = "MCQ_LAKE", value_name = "DIR")]
    pub lake: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job with zero setup: synthesize look-alikes of CBIS-DDSM, TOMPEI-CMMD and
    /// VinDr-Mammo, ingest them into <OUT>/lake and print the bias report
    Demo(DemoArgs),
    /// Harmonize one dataset tree into the lake (replaces that dataset's partition)
    Ingest(IngestArgs),
    /// Run one SQL statement and print or save its result
    Query(QueryArgs),
    /// Interactive SQL shell (history, multi-line statements, \d, tab completion)
    Shell,
    /// Run the bias reports of sql/ (all, or the ones named)
    Report(ReportArgs),
    /// Verify the lake against its manifest: files, checksums, rows, schema
    Check,
    /// Write a synthetic raw tree in a dataset's real on-disk format, with ground truth in <OUT>.truth.csv
    Synth(SynthArgs),
    /// Export the lake's tensors as image files
    #[command(subcommand)]
    Export(ExportCommand),
    /// Lake maintenance
    #[command(subcommand)]
    Lake(LakeCommand),
    /// `mcq "<SQL>"`: the same as `mcq query "<SQL>"`
    #[command(external_subcommand)]
    Sql(Vec<String>),
}

/// Options of `mcq demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the raw trees, the lake and report.html (never $MCQ_LAKE)
    #[arg(long, default_value = "mcq-demo")]
    pub out: PathBuf,
    /// Patients per dataset
    #[arg(long, default_value_t = 40)]
    pub patients: usize,
    /// Seed of the synthetic data
    #[arg(long, default_value_t = 2024)]
    pub seed: u64,
}

/// Options of `mcq ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The dataset: cbis-ddsm, cmmd, vindr-mammo, tompei-cmmd
    pub dataset: String,
    /// The dataset folder as downloaded
    pub root: PathBuf,
    /// Read metadata (and DICOM headers where needed) but no pixels
    #[arg(long)]
    pub metadata_only: bool,
    /// The image tree, when it is not under ROOT
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// Tensor size HxW of a new lake [default: 1024x512]; a lake keeps the size of its first ingest
    #[arg(long, value_name = "HxW", value_parser = parse_size)]
    pub size: Option<(usize, usize)>,
    /// Dry run: print the case-selection funnel and write nothing
    #[arg(long)]
    pub explain: bool,
    /// Assign a patient-grouped `split`, stratified by diagnosis, with this seed
    #[arg(long, value_name = "S")]
    pub split_seed: Option<u64>,
    /// Share of patients in the test split (with --split-seed)
    #[arg(long, value_name = "F", default_value_t = 0.2, requires = "split_seed")]
    pub test_fraction: f64,
    /// Also drop breasts lacking CC or MLO (stricter than the dataset's default)
    #[arg(long)]
    pub require_both_views: bool,
    /// Also drop breasts with BI-RADS 0
    #[arg(long)]
    pub drop_birads_0: bool,
    /// Worker threads for decoding and QC [default: the number of cores]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Ingest only shard K of N of the dataset's patients (1 <= K <= N), into a shard lake
    /// for `mcq lake merge`; patients go to shards by a hash of their id
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<crate::lake::Shard>,
    /// Chest-wall and polarity detector: component (largest tissue component) or
    /// edge-window (the published n = 25 edge-window rule, kept as a baseline)
    #[arg(long, value_enum, default_value = "component")]
    pub qc_method: QcMethodArg,
    /// Tensors from full-resolution pixels [default: JPEG 2000 and uncompressed
    /// images decoded at a reduced resolution (a wavelet level, an area average) when
    /// the tensor is at most half the image; recorded in images.decode_reduction].
    /// JPEG 2000 is still analysed at the reduced resolution, then its breast box
    /// alone decoded again at full resolution
    #[arg(long, alias = "j2k-full-resolution")]
    pub full_resolution: bool,
    /// Also write full-resolution processed 16-bit PNGs as
    /// DIR/<dataset>/<patient>/<L|R>_<VIEW>[_<n>].png (never overwriting a file)
    #[arg(long, value_name = "DIR")]
    pub keep_processed: Option<PathBuf>,
}

/// `--qc-method` choices.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum QcMethodArg {
    Component,
    EdgeWindow,
}

fn parse_shard(s: &str) -> Result<crate::lake::Shard, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let (h, w) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{s}` is not HxW (e.g. 1024x512)"))?;
    let parse = |v: &str| {
        v.trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (8..=16384).contains(n))
            .ok_or_else(|| format!("`{v}` in `{s}` is not a size between 8 and 16384"))
    };
    Ok((parse(h)?, parse(w)?))
}

impl IngestArgs {
    fn into_config(self, lake: PathBuf) -> Result<IngestConfig, Error> {
        if !(0.0..=1.0).contains(&self.test_fraction) {
            return Err(Error::Usage(format!(
                "--test-fraction {} is not between 0 and 1",
                self.test_fraction
            )));
        }
        let mut extra = Vec::new();
        if self.require_both_views {
            extra.push(Rule::MissingView);
        }
        if self.drop_birads_0 {
            extra.push(Rule::Birads0);
        }
        Ok(IngestConfig {
            dataset: self.dataset,
            root: self.root,
            lake,
            metadata_only: self.metadata_only,
            images: self.images,
            size: self.size,
            explain: self.explain,
            split_seed: self.split_seed,
            test_fraction: self.test_fraction,
            extra_policy: Policy::new(&extra),
            synthetic: false,
            jobs: self
                .jobs
                .filter(|&n| n > 0)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
            qc_method: match self.qc_method {
                QcMethodArg::Component => crate::qc::LateralityMethod::Component,
                QcMethodArg::EdgeWindow => crate::qc::LateralityMethod::EdgeWindow,
            },
            shard: self.shard,
            full_resolution: self.full_resolution,
            keep_processed: self.keep_processed,
        })
    }
}

/// Options of `mcq query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Output format on stdout [default: table]; with -o the file's extension decides
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Write the result to FILE (.csv, .json, .ndjson or .parquet)
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rows the table format shows before it summarizes the rest
    #[arg(long, default_value_t = 500)]
    pub max_rows: usize,
    /// The SQL statement
    pub sql: String,
}

/// `mcq lake` commands.
#[derive(Debug, Subcommand)]
pub enum LakeCommand {
    /// Commit the union of shard lakes (from `mcq ingest --shard K/N`) into OUT, a new or
    /// existing lake; each merged dataset's partition is replaced
    Merge(MergeArgs),
}

/// Options of `mcq lake merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The lake to write (created if need be)
    pub out: PathBuf,
    /// The shard lakes: all N shards of each dataset
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
}

/// `mcq export` formats.
#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// One grayscale PNG per image: OUT/<dataset>/<patient>/<L|R>_<VIEW>[_<n>].png, plus
    /// OUT/metadata.csv (each PNG's path and metadata)
    Png(ExportPngArgs),
}

/// Options of `mcq export png`.
#[derive(Debug, Args)]
pub struct ExportPngArgs {
    /// Output folder (created if need be; must not hold a metadata.csv already)
    pub out: PathBuf,
    /// SQL predicate over the metadata columns and the image QC columns, e.g.
    /// "dataset = 'cmmd' AND diagnosis = 'Malignant'"
    #[arg(long = "where", value_name = "PREDICATE")]
    pub predicate: Option<String>,
    /// Bits per pixel: 16 (the tensor's values) or 8 (value >> 8)
    #[arg(long, default_value_t = 16, value_parser = parse_bits)]
    pub bits: u8,
}

fn parse_bits(s: &str) -> Result<u8, String> {
    match s {
        "8" => Ok(8),
        "16" => Ok(16),
        _ => Err(format!("`{s}` is not 8 or 16")),
    }
}

impl ExportPngArgs {
    fn into_config(self) -> crate::export::ExportConfig {
        crate::export::ExportConfig {
            out: self.out,
            predicate: self.predicate,
            bits: if self.bits == 8 {
                crate::export::PngBits::Eight
            } else {
                crate::export::PngBits::Sixteen
            },
        }
    }
}

/// Options of `mcq report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Reports to run [default: all]; `mcq report --list` names them
    pub names: Vec<String>,
    /// List the reports with their descriptions
    #[arg(long)]
    pub list: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: FormatArg,
    /// Also write all reports as one self-contained HTML page with charts
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// Options of `mcq synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Dataset to imitate: cbis-ddsm, vindr-mammo, cmmd, tompei-cmmd
    #[arg(value_parser = parse_synth_dataset)]
    pub dataset: crate::synth::SynthDataset,
    /// Output folder (must not exist or be empty); truth goes to <OUT>.truth.csv
    pub out: PathBuf,
    /// Number of patients
    #[arg(long, default_value_t = 20)]
    pub patients: usize,
    /// Seed: the same seed gives the same bytes
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Real image sizes (e.g. 3518x2800 14-bit for VinDr) instead of 1/8 scale
    #[arg(long)]
    pub full_size: bool,
    /// Write only the metadata files
    #[arg(long)]
    pub no_images: bool,
    /// Override a defect rate, e.g. `--defect mirrored=0.5` (repeatable); kinds: mirrored,
    /// monochrome1, inverted_monochrome2, mislabelled_monochrome1, film_border, offset,
    /// single_view, contradictory_labels, birads_0, truncated, non_dicom, missing_image, rle,
    /// j2k, alt_uncompressed
    #[arg(long = "defect", value_name = "KIND=RATE", value_parser = parse_defect_arg)]
    pub defects: Vec<(crate::synth::DefectKind, f64)>,
}

fn parse_synth_dataset(s: &str) -> Result<crate::synth::SynthDataset, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_defect_arg(s: &str) -> Result<(crate::synth::DefectKind, f64), String> {
    crate::synth::parse_defect(s).map_err(|e| e.to_string())
}

impl SynthArgs {
    /// The library's plain config.
    pub fn into_config(self) -> crate::synth::SynthConfig {
        let mut cfg = crate::synth::SynthConfig::new(self.dataset, self.out);
        cfg.patients = self.patients;
        cfg.seed = self.seed;
        cfg.full_size = self.full_size;
        cfg.no_images = self.no_images;
        cfg.defect_rates = self.defects.into_iter().collect();
        cfg
    }
}

/// `--format` choices.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Table,
    Csv,
    Json,
    Ndjson,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Ndjson => Format::Ndjson,
        }
    }
}

/// The lake folder: `--lake`, else `$MCQ_LAKE` (via clap), else `./mcq-lake`.
fn lake_dir(cli_lake: Option<PathBuf>) -> PathBuf {
    cli_lake.unwrap_or_else(|| PathBuf::from("mcq-lake"))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let lake = lake_dir(cli.lake);
    match cli.command {
        Command::Demo(args) => {
            let config = crate::demo::DemoConfig {
                out: args.out,
                patients: args.patients,
                seed: args.seed,
            };
            let started = std::time::Instant::now();
            let mut out = std::io::BufWriter::new(std::io::stdout());
            crate::demo::run(&config, &mut out)?;
            std::io::Write::flush(&mut out).map_err(Error::io("cannot write", "stdout"))?;
            eprintln!("demo finished in {:.1} s", started.elapsed().as_secs_f64());
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest(args) => {
            let config = args.into_config(lake)?;
            let summary = ingest::run(&config)?;
            print!("{}", summary.report);
            Ok(ExitCode::SUCCESS)
        }
        Command::Query(args) => run_query(&lake, args),
        Command::Sql(words) => {
            // `mcq <SQL> [options]`: reuse the query parser on the words.
            let first = words.first().cloned().unwrap_or_default();
            if !first.contains(char::is_whitespace) {
                return Err(Error::Usage(format!(
                    "unknown command `{first}`; see `mcq --help` (SQL must be quoted as one argument)"
                ))
                .into());
            }
            let args = QueryArgs::try_parse_from_words(&words)?;
            run_query(&lake, args)
        }
        Command::Shell => {
            let rt = runtime()?;
            rt.block_on(async {
                let session = LakeSession::open(&lake).await?;
                query::shell::run(&session).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Report(args) => {
            if args.list {
                for r in query::reports::all() {
                    println!("{:<28} {}", r.name, r.description);
                }
                return Ok(ExitCode::SUCCESS);
            }
            let reports = query::reports::find(&args.names)?;
            let rt = runtime()?;
            rt.block_on(async {
                let session = LakeSession::open(&lake).await?;
                if let Some(path) = &args.html {
                    query::html::write_html(&session, path).await?;
                    eprintln!("wrote {}", path.display());
                    return Ok(());
                }
                let mut out = std::io::BufWriter::new(std::io::stdout());
                query::reports::print(&session, reports, args.format.into(), &mut out).await?;
                std::io::Write::flush(&mut out).map_err(Error::io("cannot write", "stdout"))
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Synth(args) => {
            let cfg = args.into_config();
            let start = std::time::Instant::now();
            let summary = crate::synth::synthesize(&cfg)?;
            eprintln!(
                "{}: {} images, {} records, {} files, {} bytes in {:.1} s; truth in {}",
                cfg.out.display(),
                summary.images,
                summary.records,
                summary.files,
                summary.bytes,
                start.elapsed().as_secs_f64(),
                summary.truth.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(ExportCommand::Png(args)) => {
            let config = args.into_config();
            let rt = runtime()?;
            let summary = rt.block_on(async {
                let session = LakeSession::open(&lake).await?;
                crate::export::export_png(&session, &config).await
            })?;
            eprintln!(
                "wrote {} PNG files and {}",
                summary.pngs,
                summary.metadata_csv.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Lake(LakeCommand::Merge(args)) => {
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            let summary = crate::lake::merge::merge(&args.out, &args.shards, &command)?;
            for (dataset, (shards, rows)) in &summary.datasets {
                println!(
                    "{dataset}: merged {shards} shards: {}",
                    rows.iter()
                        .map(|(table, n)| format!("{table} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            println!(
                "wrote {} (commit {})",
                args.out.display(),
                summary.commit_id
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check => {
            let report = check::check(&lake)?;
            for w in &report.warnings {
                println!("warning: {w}");
            }
            for p in &report.problems {
                println!("damaged: {p}");
            }
            println!(
                "{}: {} files, {} rows, {} bytes checked; {} problems, {} warnings",
                lake.display(),
                report.files_checked,
                report.rows_checked,
                report.bytes_checked,
                report.problems.len(),
                report.warnings.len()
            );
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

impl QueryArgs {
    fn try_parse_from_words(words: &[String]) -> Result<QueryArgs, Error> {
        #[derive(Parser)]
        #[command(name = "mcq")]
        struct Shortcut {
            #[command(flatten)]
            args: QueryArgs,
        }
        Shortcut::try_parse_from(std::iter::once("mcq".to_string()).chain(words.iter().cloned()))
            .map(|s| s.args)
            .map_err(|e| Error::Usage(e.to_string()))
    }
}

fn run_query(lake: &std::path::Path, args: QueryArgs) -> anyhow::Result<ExitCode> {
    let target = OutputTarget::resolve(args.format.map(Into::into), args.output)?;
    let rt = runtime()?;
    let rows = rt.block_on(async {
        let session = LakeSession::open(lake).await?;
        let df = session.sql(&args.sql).await?;
        let options = query::output::TableOptions {
            max_rows: args.max_rows,
            ..Default::default()
        };
        query::output::write_result(df, &target, options).await
    })?;
    if let OutputTarget::File(path, _) = &target {
        eprintln!("wrote {rows} rows to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
