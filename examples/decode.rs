//! mcq's image decoder on its own, outside any ingest: the library's
//! `decode::decode_with` (`--npy`) and `decode::decode_group` (`--time`)
//! and nothing else.
//!
//! ```text
//! decode --npy OUT FILE...            decode each FILE at full resolution and write
//!                                     OUT/<file name>.npy (uint16, rows × columns), the
//!                                     stored sample values the pipeline works on
//! decode --time [--jobs N] [--reduce-for HxW] [--bare] DIR
//!                                     decode every .dcm/.dicom under DIR to u16 with
//!                                     N rayon threads and print images/s: the ceiling
//!                                     an ingest (decode + QC + geometry + write) can reach.
//!                                     Files are decoded in groups in path order (one
//!                                     folder's files together), as an ingest's workers
//!                                     decode records (`decode_group`, `group_size`).
//!                                     The decoder also hashes the pixel data (SHA-256,
//!                                     `images.pixel_data_sha256`), as every ingest must;
//!                                     --bare instead only reads each file and sums its
//!                                     bytes as u16 words (no parsing, no hash): the floor
//!                                     of reading uncompressed files, for comparison
//! ```
//!
//! The first form is what the Python pixel-equality test compares with
//! pydicom (`tests/python/test_pixel_equality.py`); the second is the
//! decode-only pass of `benches/image_ingest.sh`.

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use mcq::decode::{DecodeOptions, decode_group, decode_with, group_size};
use rayon::prelude::*;

/// The allocator `mcq` runs with, set up the same way, so that the ceiling
/// does not measure a different allocator's handling of large buffers.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Reads `path` and sums its bytes as little-endian u16 words (so the read
/// cannot be optimized away): `(1, words)`, or `(0, 0)` when unreadable.
fn bare_read(path: &Path) -> (usize, usize) {
    let Ok(bytes) = std::fs::read(path) else {
        return (0, 0);
    };
    let words = bytes.chunks_exact(2);
    let sum = words
        .clone()
        .fold(0u64, |s, w| s + u64::from(u16::from_le_bytes([w[0], w[1]])));
    std::hint::black_box(sum);
    (1, words.len())
}

/// A NumPy `.npy` (format 1.0) of little-endian u16 samples.
fn write_npy(path: &Path, rows: u32, columns: u32, pixels: &[u16]) -> std::io::Result<()> {
    let mut header =
        format!("{{'descr': '<u2', 'fortran_order': False, 'shape': ({rows}, {columns}), }}");
    // magic (6) + version (2) + length (2) + header + '\n', padded to 64.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + pixels.len() * 2);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in pixels {
        out.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, out)
}

fn parse_shape(s: &str) -> Option<(usize, usize)> {
    let (h, w) = s.split_once(['x', 'X'])?;
    Some((h.parse().ok()?, w.parse().ok()?))
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: decode --npy OUT FILE...\n       decode --time [--jobs N] [--reduce-for HxW] [--bare] DIR"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    // SAFETY: the first thing main does; no other thread runs yet.
    unsafe { mcq::allocator::keep_freed_memory() };
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--npy") if args.len() >= 3 => {
            let out = Path::new(&args[1]);
            let mut failed = 0;
            for file in &args[2..] {
                let path = Path::new(file);
                match decode_with(path, &DecodeOptions::default()) {
                    Ok(d) => {
                        let name = path.file_name().unwrap_or_default().to_string_lossy();
                        let npy = out.join(format!("{name}.npy"));
                        if let Err(e) = write_npy(&npy, d.rows, d.columns, &d.pixels) {
                            eprintln!("{}: {e}", npy.display());
                            failed += 1;
                        }
                        let sum: u64 = d.pixels.iter().map(|&v| v as u64).sum();
                        println!(
                            "{file}\t{}\t{}\t{}\t{sum}",
                            d.rows, d.columns, d.bits_stored
                        );
                    }
                    Err(e) => {
                        eprintln!("{e}");
                        failed += 1;
                    }
                }
            }
            if failed > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Some("--time") => {
            let mut jobs = 2;
            let mut options = DecodeOptions::default();
            let mut dir = None;
            let mut bare = false;
            let mut rest = args[1..].iter();
            while let Some(a) = rest.next() {
                match a.as_str() {
                    "--jobs" => match rest.next().and_then(|v| v.parse().ok()) {
                        Some(n) => jobs = n,
                        None => return usage(),
                    },
                    "--reduce-for" => match rest.next().and_then(|v| parse_shape(v)) {
                        Some(shape) => options.reduce_for = Some(shape),
                        None => return usage(),
                    },
                    "--bare" => bare = true,
                    other => dir = Some(PathBuf::from(other)),
                }
            }
            let Some(dir) = dir else { return usage() };
            let mut files = Vec::new();
            if let Err(e) = common::dicom_files(&dir, &mut files) {
                eprintln!("{}: {e}", dir.display());
                return ExitCode::FAILURE;
            }
            files.sort();
            let pool = match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            let t0 = Instant::now();
            let (ok, pixels) = pool.install(|| {
                files
                    .par_chunks(group_size())
                    .flat_map_iter(|group| {
                        if bare {
                            return group.iter().map(|f| bare_read(f)).collect();
                        }
                        decode_group(group, &options)
                            .map(|d| d.map_or((0, 0), |d| (1usize, d.pixels.len())))
                            .collect::<Vec<_>>()
                    })
                    .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
            });
            let dt = t0.elapsed().as_secs_f64();
            println!(
                "{ok} images ({} files, {:.1} Mpx decoded), {dt:.2} s, {:.2} images/s",
                files.len(),
                pixels as f64 / 1e6,
                ok as f64 / dt
            );
            ExitCode::SUCCESS
        }
        _ => usage(),
    }
}
