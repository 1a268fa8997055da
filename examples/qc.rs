//! What mcq's image QC saw, per file: for auditing a polarity or chest-wall
//! decision (`images.inversion_score`, `images.laterality_score`) by eye.
//!
//! ```text
//! qc OUT FILE...     for each FILE, print its polarity and chest-wall evidence and
//!                    write OUT/<file name>.png: the working copy in display polarity
//!                    (left), the same with the breast mask in green and peeled
//!                    film borders in red (middle), and the polarity vote's blocks
//!                    on the stored copy (right): tissue green, smooth tissue
//!                    dark green, votes for a bright background red and for a
//!                    dark one blue, enclosed flat blocks yellow
//! qc --time [--rounds R] DIR
//!                    decode every .dcm/.dicom under DIR once (at the reduced
//!                    resolution an ingest with a 1024x512 tensor decodes at), then
//!                    run `qc::process` (polarity, chest wall, normalization,
//!                    geometry) over all of them R times (default 5) on one thread
//!                    and print milliseconds per image of QC (without geometry) and
//!                    of geometry: the fastest round and the median
//! ```
//!
//! It runs the library's own stages (`qc::Work::of`, `inversion::component`,
//! `laterality::segment`, `Segmentation::chest_wall`): the component method,
//! as `mcq ingest` runs it by default, on the file decoded at full
//! resolution (an ingest that decodes at a reduced resolution averages
//! the same pixels in another order, so its scores can differ slightly).

mod common;

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use mcq::decode::{DecodeOptions, decode_with};
use mcq::qc::inversion::{BlockRole, VoteMap};
use mcq::qc::{QcOptions, WORK_SIZE, Work, inversion, laterality};

/// The allocator `mcq` runs with, so that `--time` measures the same
/// handling of QC's working buffers.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The side-by-side picture of the display copy, its segmentation and the
/// polarity vote's blocks.
fn picture(display: &Work, seg: &laterality::Segmentation, votes: Option<&VoteMap>) -> RgbImage {
    let (w, h) = (display.w, display.h);
    let mut out = RgbImage::new(3 * w as u32 + 8, h as u32);
    let third = 2 * w as u32 + 8;
    // The display copy is already scaled to 0..=1.
    for (i, &v) in display.px.iter().enumerate() {
        let g = (255.0 * v) as u8;
        let (x, y) = ((i % w) as u32, (i / w) as u32);
        out.put_pixel(x, y, Rgb([g, g, g]));
        let breast = seg.breast.as_ref().is_some_and(|m| m[i]);
        let frame = seg.frame.get(i).copied().unwrap_or(false);
        let tint = match (breast, frame) {
            (true, _) => Rgb([g / 2, 128 + g / 2, g / 2]),
            (false, true) => Rgb([200, g / 3, g / 3]),
            _ => Rgb([g, g, g]),
        };
        out.put_pixel(x + w as u32 + 4, y, tint);
        // The vote ran on the stored copy: its blocks are the display's,
        // and "bright" is in stored polarity.
        let role = votes.and_then(|m| {
            let k = (y as usize / m.side) * m.bw + x as usize / m.side;
            (x as usize / m.side < m.bw)
                .then(|| m.roles.get(k).copied())
                .flatten()
        });
        let dim = g / 2;
        let tint = match role {
            Some(BlockRole::Tissue) => Rgb([dim, 100 + dim, dim]),
            Some(BlockRole::SmoothTissue) => Rgb([dim / 2, 60 + dim / 2, dim / 2]),
            Some(BlockRole::Vote { bright: true }) => Rgb([120 + dim, dim, dim]),
            Some(BlockRole::Vote { bright: false }) => Rgb([dim, dim, 120 + dim]),
            Some(BlockRole::Enclosed) => Rgb([100 + dim, 100 + dim, dim]),
            _ => Rgb([g, g, g]),
        };
        out.put_pixel(x + third, y, tint);
    }
    out
}

fn run(out: &Path, file: &str) -> Result<(), String> {
    let path = Path::new(file);
    let decoded = decode_with(path, &DecodeOptions::default()).map_err(|e| e.to_string())?;
    let work = Work::of(&decoded, WORK_SIZE);
    let for_processing = decoded.header.is_for_processing();
    let polarity = inversion::component(decoded.photometric.as_deref(), for_processing, &work);
    let display = inversion::display_copy(&work, polarity.inverted);
    let seg = laterality::segment(&display);
    let wall = seg.chest_wall();
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let png = out.join(format!("{name}.png"));
    let votes = VoteMap::of(&work);
    picture(&display, &seg, votes.as_ref())
        .save(&png)
        .map_err(|e| format!("{}: {e}", png.display()))?;
    let side = wall.side.map_or("none", |s| s.name());
    let [centroid, taper, contact, texture, outline] = wall.votes;
    println!(
        "{file}\t{}\tinverted {} ({:?}, score {:.3})\tchest wall {side} (score {:.3}: centroid {centroid:.3}, taper {taper:.3}, contact {contact:.3}, texture {texture:.3}, outline {outline:.3})",
        decoded.photometric.as_deref().unwrap_or("-"),
        polarity.inverted,
        polarity.reason,
        polarity.score.unwrap_or(f64::NAN),
        wall.score.unwrap_or(f64::NAN),
    );
    Ok(())
}

/// `qc --time`: milliseconds per image of `qc::process`, QC and geometry
/// apart, over `rounds` rounds of every image under `dir`.
fn time(dir: &Path, rounds: usize) -> Result<(), String> {
    let mut files = Vec::new();
    common::dicom_files(dir, &mut files).map_err(|e| format!("{}: {e}", dir.display()))?;
    files.sort();
    let options = DecodeOptions {
        reduce_for: Some((1024, 512)),
        ..DecodeOptions::default()
    };
    let decoded: Vec<_> = files
        .iter()
        .filter_map(|f| decode_with(f, &options).map_err(|e| eprintln!("{e}")).ok())
        .collect();
    if decoded.is_empty() {
        return Err(format!("{}: no decodable DICOM file", dir.display()));
    }
    let qc = QcOptions {
        tensor_shape: (1024, 512),
        ..QcOptions::default()
    };
    let mut times: Vec<(Duration, Duration)> = (0..rounds.max(1))
        .map(|_| {
            let (mut total, mut geometry) = (Duration::ZERO, Duration::ZERO);
            for d in &decoded {
                let started = Instant::now();
                let processed = mcq::qc::process(d, Some("L"), &qc);
                total += started.elapsed();
                geometry += processed.geometry_time;
                std::hint::black_box(processed);
            }
            (total - geometry, geometry)
        })
        .collect();
    times.sort();
    let per_image = |d: Duration| d.as_secs_f64() * 1e3 / decoded.len() as f64;
    let (fastest, median) = (times[0], times[times.len() / 2]);
    println!(
        "{} images, {} rounds: QC {:.2} ms/image (median round {:.2}), geometry {:.2} ms/image (median {:.2})",
        decoded.len(),
        times.len(),
        per_image(fastest.0),
        per_image(median.0),
        per_image(fastest.1),
        per_image(median.1),
    );
    Ok(())
}

fn main() -> ExitCode {
    // SAFETY: the first thing main does; no other thread runs yet.
    unsafe { mcq::allocator::keep_freed_memory() };
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--time") {
        let parsed = match &args[1..] {
            [dir] => Some((5, dir)),
            [flag, r, dir] if flag == "--rounds" => r.parse().ok().map(|r| (r, dir)),
            _ => None,
        };
        let Some((rounds, dir)) = parsed else {
            eprintln!("usage: qc --time [--rounds R] DIR");
            return ExitCode::from(2);
        };
        return match time(Path::new(dir), rounds) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    let Some((out, files)) = args.split_first().filter(|(_, f)| !f.is_empty()) else {
        eprintln!("usage: qc OUT FILE...\n       qc --time [--rounds R] DIR");
        return ExitCode::from(2);
    };
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("{out}: {e}");
        return ExitCode::FAILURE;
    }
    let mut failed = 0;
    for file in files {
        if let Err(e) = run(Path::new(out), file) {
            eprintln!("{file}: {e}");
            failed += 1;
        }
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
