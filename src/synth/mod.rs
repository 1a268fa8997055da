//! `mcq synth`: synthetic look-alikes of the raw dataset downloads, written
//! in the datasets' real on-disk formats (docs/datasets.md), with ground truth
//! beside the tree.
//!
//! Every test, benchmark and the demo run on these trees, because the real
//! downloads are hundreds of gigabytes behind registrations. The generator is
//! written from datasets.md alone and never imports `crate::dataset`: the
//! adapters and the generator check each other only while they share no code.
//!
//! Layout of this module: [`SynthConfig`] and [`synthesize`] here, one file
//! per dataset (`cbis_ddsm`, `vindr_mammo`, `cmmd`, `tompei_cmmd`), the
//! mammogram phantom in `pixels`, DICOM writing (Implicit/Explicit VR LE and a
//! hand-written RLE Lossless encoder) in `dicom_out`.
//!
//! # Determinism
//! Each patient gets its own ChaCha RNG seeded from (seed, dataset, patient
//! index), and each image its own seed, so the bytes do not depend on thread
//! scheduling: same seed, same tree, byte for byte.
//!
//! # Ground truth: `<OUT>.truth.csv`
//! Written beside the tree, never inside it. One row per image file the
//! metadata refers to (`kind = image`) and one row per raw metadata record
//! (`kind = record`, one per CSV/XLSX data row). Columns:
//!
//! | column | meaning |
//! |---|---|
//! | `kind` | `image` or `record` |
//! | `path` | image: the file relative to OUT (also for missing files); record: the image file it refers to, if one |
//! | `source_file` | record: the metadata file relative to OUT; image: empty |
//! | `source_row` | record: 1-based data row (after the header rows); image: empty |
//! | `patient_id` | the dataset's patient key (`P_00001`, `D1-0001`; VinDr: study_id) |
//! | `laterality` | `L`/`R` as the metadata of that file says (CMMD: the DICOM tag, which may be wrong) |
//! | `true_laterality` | the breast the pixels really show |
//! | `view` | `CC`/`MLO` |
//! | `role` | image: `full`, `crop` or `mask` (CBIS-DDSM); record: empty |
//! | `chest_wall_side` | full images: `left`/`right`, the side the breast is attached to in the stored pixels; else empty |
//! | `laterality_flipped` | full images: the chest-wall side disagrees with `laterality` under the display convention (left breast, chest wall on the left) |
//! | `stored_inverted` | the stored values show a bright background (MONOCHROME1 counts only if its values put the background high) |
//! | `photometric` | PhotometricInterpretation written in the header |
//! | `bits_stored`, `rows`, `columns` | as written |
//! | `transfer_syntax` | UID of the file's transfer syntax |
//! | `defects` | semicolon-joined injected defects (see [`DefectKind`]) |
//! | `expected_selection` | `keep` or the SPEC §4.3 exclusion reason (`birads_0`, `missing_view`, `inconsistent_birads`, `inconsistent_pathology`, `excluded_by_dataset`, `invisible_lesion`); images carry their breast's |
//! | `expected_image_status` | `ok`, `missing` (absent file) or `error` (truncated / not DICOM) |
//! | `pixel_sum` | sum of the stored pixel values (before any Modality/VOI LUT or inversion) of a readable image |

mod cbis_ddsm;
mod cmmd;
mod dicom_out;
pub(crate) mod j2k;
pub mod pixels;
mod tompei_cmmd;
mod vindr_mammo;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{Error, Result};

pub use dicom_out::Encoding;

/// The datasets `mcq synth` can imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SynthDataset {
    /// CBIS-DDSM (TCIA): four case-description CSVs over the NBIA tree.
    CbisDdsm,
    /// VinDr-Mammo (PhysioNet): `images/<study>/<image>.dicom` and three CSVs.
    VindrMammo,
    /// CMMD (TCIA): NBIA tree, `metadata.csv`, the clinical xlsx.
    Cmmd,
    /// TOMPEI-CMMD: its workbook and annotations over the CMMD tree.
    TompeiCmmd,
}

impl SynthDataset {
    /// All datasets, in CLI order.
    pub const ALL: [SynthDataset; 4] = [
        SynthDataset::CbisDdsm,
        SynthDataset::VindrMammo,
        SynthDataset::Cmmd,
        SynthDataset::TompeiCmmd,
    ];

    /// The dataset's CLI name.
    pub fn name(self) -> &'static str {
        match self {
            SynthDataset::CbisDdsm => "cbis-ddsm",
            SynthDataset::VindrMammo => "vindr-mammo",
            SynthDataset::Cmmd => "cmmd",
            SynthDataset::TompeiCmmd => "tompei-cmmd",
        }
    }
}

impl fmt::Display for SynthDataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SynthDataset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        SynthDataset::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "mcq synth cannot imitate dataset `{s}`; choose one of cbis-ddsm, vindr-mammo, cmmd, tompei-cmmd"
                ))
            })
    }
}

/// Defects (and encoding variants) that can be injected, each at a rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DefectKind {
    /// Pixels stored horizontally mirrored relative to the laterality label
    /// (CMMD/TOMPEI: the ImageLaterality tags of two images swapped instead).
    Mirrored,
    /// A MONOCHROME1 file whose values put the background high.
    Monochrome1,
    /// A MONOCHROME2 file stored inverted (bright background).
    InvertedMonochrome2,
    /// Header says MONOCHROME1 but the values are display polarity.
    MislabelledMonochrome1,
    /// Bright bands along the film edges (scanned film).
    FilmBorder,
    /// Breast offset from the chest-wall edge (scanned film).
    Offset,
    /// A breast with only one of CC/MLO.
    SingleView,
    /// Records of one breast disagree on BI-RADS or pathology.
    ContradictoryLabels,
    /// BI-RADS 0 (incomplete assessment).
    Birads0,
    /// The file ends in the middle of the pixel data.
    Truncated,
    /// A file with the right name that is not DICOM.
    NonDicom,
    /// A file the metadata references that is absent.
    MissingImage,
    /// RLE Lossless transfer syntax (an encoding variant, not a defect).
    Rle,
    /// JPEG 2000 Lossless transfer syntax (an encoding variant; none of the
    /// four datasets is documented to use it, so its default rate is 0).
    J2k,
    /// Explicit VR Little Endian (where the dataset default is implicit, or
    /// vice versa: the non-default uncompressed syntax).
    AltUncompressed,
}

impl DefectKind {
    /// All kinds, in help order.
    pub const ALL: [DefectKind; 15] = [
        DefectKind::Mirrored,
        DefectKind::Monochrome1,
        DefectKind::InvertedMonochrome2,
        DefectKind::MislabelledMonochrome1,
        DefectKind::FilmBorder,
        DefectKind::Offset,
        DefectKind::SingleView,
        DefectKind::ContradictoryLabels,
        DefectKind::Birads0,
        DefectKind::Truncated,
        DefectKind::NonDicom,
        DefectKind::MissingImage,
        DefectKind::Rle,
        DefectKind::J2k,
        DefectKind::AltUncompressed,
    ];

    /// The name used by `--defect KIND=RATE` and in the truth file.
    pub fn name(self) -> &'static str {
        match self {
            DefectKind::Mirrored => "mirrored",
            DefectKind::Monochrome1 => "monochrome1",
            DefectKind::InvertedMonochrome2 => "inverted_monochrome2",
            DefectKind::MislabelledMonochrome1 => "mislabelled_monochrome1",
            DefectKind::FilmBorder => "film_border",
            DefectKind::Offset => "offset",
            DefectKind::SingleView => "single_view",
            DefectKind::ContradictoryLabels => "contradictory_labels",
            DefectKind::Birads0 => "birads_0",
            DefectKind::Truncated => "truncated",
            DefectKind::NonDicom => "non_dicom",
            DefectKind::MissingImage => "missing_image",
            DefectKind::Rle => "rle",
            DefectKind::J2k => "j2k",
            DefectKind::AltUncompressed => "alt_uncompressed",
        }
    }

    /// Default rate for a dataset: near the published rates where there are
    /// some, small elsewhere; 0 where the dataset cannot have the defect.
    pub fn default_rate(self, dataset: SynthDataset) -> f64 {
        use DefectKind as K;
        use SynthDataset as D;
        match (self, dataset) {
            (K::Mirrored, D::CbisDdsm) => 0.28,
            (K::Mirrored, D::VindrMammo) => 0.02,
            (K::Mirrored, D::Cmmd | D::TompeiCmmd) => 0.05,
            (K::Monochrome1, D::VindrMammo) => 0.12,
            (K::InvertedMonochrome2, D::VindrMammo) => 0.11,
            (K::MislabelledMonochrome1, D::VindrMammo) => 0.03,
            (K::FilmBorder, D::CbisDdsm) => 0.30,
            (K::Offset, D::CbisDdsm) => 0.15,
            (K::SingleView, D::CbisDdsm) => 0.08,
            (K::SingleView, D::VindrMammo) => 0.02,
            (K::ContradictoryLabels, D::CbisDdsm) => 0.05,
            (K::Birads0, D::CbisDdsm) => 0.04,
            (K::Truncated | K::NonDicom | K::MissingImage, _) => 0.005,
            (K::Rle, _) => 0.10,
            (K::AltUncompressed, _) => 0.10,
            _ => 0.0,
        }
    }
}

impl fmt::Display for DefectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DefectKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let norm = s.trim().replace('-', "_").to_ascii_lowercase();
        DefectKind::ALL
            .into_iter()
            .find(|k| k.name() == norm)
            .ok_or_else(|| {
                let names: Vec<_> = DefectKind::ALL.iter().map(|k| k.name()).collect();
                Error::Usage(format!(
                    "unknown defect kind `{s}`; known kinds: {}",
                    names.join(", ")
                ))
            })
    }
}

/// Parses one `KIND=RATE` option (rate in 0..=1).
pub fn parse_defect(s: &str) -> Result<(DefectKind, f64)> {
    let (kind, rate) = s.split_once('=').ok_or_else(|| {
        Error::Usage(format!(
            "--defect `{s}`: expected KIND=RATE, e.g. mirrored=0.3"
        ))
    })?;
    let kind: DefectKind = kind.parse()?;
    let rate: f64 = rate.trim().parse().map_err(|_| {
        Error::Usage(format!(
            "--defect `{s}`: rate `{rate}` is not a number between 0 and 1"
        ))
    })?;
    if !(0.0..=1.0).contains(&rate) {
        return Err(Error::Usage(format!(
            "--defect `{s}`: rate {rate} is outside 0..=1"
        )));
    }
    Ok((kind, rate))
}

/// Everything `synthesize` needs; built by the CLI or by tests.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    /// Which dataset to imitate.
    pub dataset: SynthDataset,
    /// Output folder (the dataset root as downloaded). Must not exist or be empty.
    pub out: PathBuf,
    /// Number of patients. _Default: 20._
    pub patients: usize,
    /// RNG seed. _Default: 0._
    pub seed: u64,
    /// Real image sizes instead of 1/8 scale.
    pub full_size: bool,
    /// Write only the metadata files.
    pub no_images: bool,
    /// Rates that override the per-dataset defaults.
    pub defect_rates: BTreeMap<DefectKind, f64>,
}

impl SynthConfig {
    /// A config with defaults for `dataset` into `out`.
    pub fn new(dataset: SynthDataset, out: impl Into<PathBuf>) -> SynthConfig {
        SynthConfig {
            dataset,
            out: out.into(),
            patients: 20,
            seed: 0,
            full_size: false,
            no_images: false,
            defect_rates: BTreeMap::new(),
        }
    }

    /// The effective rate of a defect.
    pub fn rate(&self, kind: DefectKind) -> f64 {
        self.defect_rates
            .get(&kind)
            .copied()
            .unwrap_or_else(|| kind.default_rate(self.dataset))
    }

    /// Scales a real dimension (rounded to an even number, at least 32).
    pub(crate) fn dim(&self, real: u32) -> u32 {
        let v = if self.full_size { real } else { real / 8 };
        (v.max(32) + 1) & !1
    }

    /// The RNG of one patient (or other unit) of this dataset.
    pub(crate) fn rng(&self, stream: u64, index: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(mix(&[self.seed, self.dataset as u64 + 1, stream, index]))
    }

    /// The transfer syntax of one image: RLE, JPEG 2000 or the alternative
    /// uncompressed syntax at their rates, else the dataset's usual one.
    pub(crate) fn pick_encoding(
        &self,
        rng: &mut impl rand::Rng,
        usual: Encoding,
        alternative: Encoding,
    ) -> Encoding {
        if rng.random_bool(self.rate(DefectKind::Rle)) {
            Encoding::Rle
        } else if rng.random_bool(self.rate(DefectKind::J2k)) {
            Encoding::J2kLossless
        } else if rng.random_bool(self.rate(DefectKind::AltUncompressed)) {
            alternative
        } else {
            usual
        }
    }

    /// `out.truth.csv`
    pub fn truth_path(&self) -> PathBuf {
        let mut s = self.out.clone().into_os_string();
        s.push(".truth.csv");
        PathBuf::from(s)
    }
}

/// What `synthesize` wrote.
#[derive(Debug, Clone, Default)]
pub struct SynthSummary {
    /// Image files referenced by the metadata (written or deliberately missing).
    pub images: usize,
    /// Files written under OUT (images and metadata).
    pub files: usize,
    /// Bytes written under OUT.
    pub bytes: u64,
    /// Raw metadata records (CSV/XLSX data rows).
    pub records: usize,
    /// Truth file.
    pub truth: PathBuf,
}

/// SplitMix64-style mixing of several words into one seed.
pub(crate) fn mix(words: &[u64]) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for &w in words {
        h ^= w.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_add(h << 6);
        h = splitmix(h);
    }
    h
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One row of the truth file.
#[derive(Debug, Clone, Default)]
pub(crate) struct TruthRow {
    pub kind: &'static str,
    pub path: String,
    pub source_file: String,
    pub source_row: Option<usize>,
    pub patient_id: String,
    pub laterality: String,
    pub true_laterality: String,
    pub view: String,
    pub role: &'static str,
    pub chest_wall_side: String,
    pub laterality_flipped: Option<bool>,
    pub stored_inverted: Option<bool>,
    pub photometric: String,
    pub bits_stored: Option<u16>,
    pub rows: Option<u32>,
    pub columns: Option<u32>,
    pub transfer_syntax: String,
    pub defects: Vec<String>,
    pub expected_selection: String,
    pub expected_image_status: &'static str,
    pub pixel_sum: Option<u64>,
}

const TRUTH_HEADER: &str = "kind,path,source_file,source_row,patient_id,laterality,true_laterality,view,role,chest_wall_side,laterality_flipped,stored_inverted,photometric,bits_stored,rows,columns,transfer_syntax,defects,expected_selection,expected_image_status,pixel_sum";

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(|x| x.to_string()).unwrap_or_default()
}

fn write_truth(path: &Path, rows: &[TruthRow]) -> Result<()> {
    let file = std::fs::File::create(path).map_err(Error::io("create", path))?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(std::io::BufWriter::new(file));
    let err = |e: csv::Error| Error::Other(format!("write {}: {e}", path.display()));
    w.write_record(TRUTH_HEADER.split(',')).map_err(err)?;
    for r in rows {
        w.write_record([
            r.kind.to_string(),
            r.path.clone(),
            r.source_file.clone(),
            opt(&r.source_row),
            r.patient_id.clone(),
            r.laterality.clone(),
            r.true_laterality.clone(),
            r.view.clone(),
            r.role.to_string(),
            r.chest_wall_side.clone(),
            opt(&r.laterality_flipped),
            opt(&r.stored_inverted),
            r.photometric.clone(),
            opt(&r.bits_stored),
            opt(&r.rows),
            opt(&r.columns),
            r.transfer_syntax.clone(),
            r.defects.join(";"),
            r.expected_selection.clone(),
            r.expected_image_status.to_string(),
            opt(&r.pixel_sum),
        ])
        .map_err(err)?;
    }
    w.flush().map_err(Error::io("write", path))?;
    Ok(())
}

/// Writes a file under OUT, creating its folders; returns its size.
pub(crate) fn write_file(out: &Path, rel: &str, bytes: &[u8]) -> Result<u64> {
    let path = out.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io("create folder", parent))?;
    }
    let mut f = std::fs::File::create(&path).map_err(Error::io("create", &path))?;
    f.write_all(bytes).map_err(Error::io("write", &path))?;
    Ok(bytes.len() as u64)
}

/// One cell of a synthetic workbook.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Str(String),
    Num(f64),
    Blank,
}

/// One worksheet: name, rows of cells, merged ranges `(r0, c0, r1, c1)`.
pub(crate) struct Sheet {
    pub name: String,
    pub rows: Vec<Vec<Cell>>,
    pub merges: Vec<(u32, u16, u32, u16)>,
}

/// Renders a workbook with rust_xlsxwriter; deterministic (fixed creation
/// time; the zip entries carry a fixed timestamp).
pub(crate) fn xlsx(sheets: &[Sheet]) -> Result<Vec<u8>> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| Error::Other(format!("synth: xlsx: {e}"));
    let mut wb = Workbook::new();
    let created = ExcelDateTime::from_ymd(2021, 3, 1).map_err(err)?;
    wb.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let plain = Format::new();
    for sheet in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(sheet.name.as_str()).map_err(err)?;
        for &(r0, c0, r1, c1) in &sheet.merges {
            let text = match sheet.rows.get(r0 as usize).and_then(|r| r.get(c0 as usize)) {
                Some(Cell::Str(s)) => s.clone(),
                _ => String::new(),
            };
            ws.merge_range(r0, c0, r1, c1, &text, &plain).map_err(err)?;
        }
        for (r, row) in sheet.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                let merged = sheet
                    .merges
                    .iter()
                    .any(|&(r0, c0, r1, c1)| (r0..=r1).contains(&r) && (c0..=c1).contains(&c));
                if merged {
                    continue;
                }
                match cell {
                    Cell::Str(s) => {
                        ws.write_string(r, c, s.as_str()).map_err(err)?;
                    }
                    Cell::Num(v) => {
                        ws.write_number(r, c, *v).map_err(err)?;
                    }
                    Cell::Blank => {}
                }
            }
        }
    }
    wb.save_to_buffer().map_err(err)
}

/// What a dataset generator hands back: image jobs to render, metadata files
/// (already rendered) and truth rows.
#[derive(Default)]
pub(crate) struct Plan {
    pub jobs: Vec<dicom_out::ImageJob>,
    pub files: Vec<(String, Vec<u8>)>,
    pub truth: Vec<TruthRow>,
}

/// Writes a synthetic raw tree of `cfg.dataset` into `cfg.out` and its
/// ground truth into `<out>.truth.csv`.
pub fn synthesize(cfg: &SynthConfig) -> Result<SynthSummary> {
    if cfg.patients == 0 {
        return Err(Error::Usage("--patients must be at least 1".into()));
    }
    if cfg.out.exists() {
        let mut entries =
            std::fs::read_dir(&cfg.out).map_err(Error::io("read folder", &cfg.out))?;
        if entries.next().is_some() {
            return Err(Error::Other(format!(
                "{} exists and is not empty: mcq synth writes a fresh tree; choose another OUT or remove it",
                cfg.out.display()
            )));
        }
    }
    std::fs::create_dir_all(&cfg.out).map_err(Error::io("create folder", &cfg.out))?;

    let mut plan = match cfg.dataset {
        SynthDataset::CbisDdsm => cbis_ddsm::plan(cfg)?,
        SynthDataset::VindrMammo => vindr_mammo::plan(cfg)?,
        SynthDataset::Cmmd => cmmd::plan(cfg, "")?,
        SynthDataset::TompeiCmmd => tompei_cmmd::plan(cfg)?,
    };

    let mut summary = SynthSummary {
        truth: cfg.truth_path(),
        ..Default::default()
    };
    summary.images = plan.jobs.len();
    summary.records = plan.truth.iter().filter(|r| r.kind == "record").count();

    if !cfg.no_images {
        let results: Vec<Result<dicom_out::Written>> = plan
            .jobs
            .par_iter()
            .map(|job| dicom_out::render(job, &cfg.out))
            .collect();
        let mut by_path: BTreeMap<String, dicom_out::Written> = BTreeMap::new();
        for r in results {
            let w = r?;
            if w.bytes > 0 {
                summary.files += 1;
                summary.bytes += w.bytes;
            }
            by_path.insert(w.rel_path.clone(), w);
        }
        for row in plan.truth.iter_mut().filter(|r| r.kind == "image") {
            if let Some(w) = by_path.get(&row.path) {
                row.pixel_sum = w.pixel_sum;
            }
        }
    }
    for (rel, bytes) in &plan.files {
        summary.bytes += write_file(&cfg.out, rel, bytes)?;
        summary.files += 1;
    }
    if cfg.no_images {
        for row in plan.truth.iter_mut().filter(|r| r.kind == "image") {
            row.expected_image_status = "missing";
        }
    }
    write_truth(&summary.truth, &plan.truth)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defect_options_parse_and_refuse() {
        assert_eq!(
            parse_defect("mirrored=0.5").unwrap(),
            (DefectKind::Mirrored, 0.5)
        );
        assert_eq!(
            parse_defect("inverted-monochrome2=1").unwrap(),
            (DefectKind::InvertedMonochrome2, 1.0)
        );
        for bad in ["mirrored", "mirrored=x", "mirrored=1.5", "nope=0.1", "=0.1"] {
            let e = parse_defect(bad).unwrap_err().to_string();
            assert!(e.contains(bad.split('=').next().unwrap()), "{e}");
        }
    }

    #[test]
    fn dataset_names_round_trip() {
        for d in SynthDataset::ALL {
            assert_eq!(d.name().parse::<SynthDataset>().unwrap(), d);
        }
        assert!("inbreast".parse::<SynthDataset>().is_err());
    }

    #[test]
    fn seeds_differ_per_stream_and_index() {
        assert_ne!(mix(&[0, 1, 0, 0]), mix(&[0, 1, 0, 1]));
        assert_ne!(mix(&[0, 1, 0, 0]), mix(&[0, 2, 0, 0]));
        assert_eq!(mix(&[7, 1, 2, 3]), mix(&[7, 1, 2, 3]));
    }
}
