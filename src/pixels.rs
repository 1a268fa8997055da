//! The pixel stage of an ingest: decode every admitted image, run QC and
//! geometry, and stream `images` rows to the lake writer — in parallel with
//! rayon over a bounded window of images (so only a few decoded images are
//! in memory at once), with a progress bar on a terminal. An image that
//! cannot be read becomes `image_status = 'error'` plus an `unreadable_image`
//! exclusion with the decoder's message; a file that is not there,
//! `missing` plus `missing_image`. The run always continues.

use std::collections::HashMap;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::decode::{self, DEFAULT_MAX_PIXELS};
use crate::error::{Error, Result};
use crate::lake::writer::PartWriter;
use crate::qc::{self, Geometry, QcOptions};
use crate::record::{ExclusionRow, FindingRow, ImageRow, MetadataRow};

/// One image's outcome: its row and transform, or the decoder's message.
type Outcome = std::result::Result<(ImageRow, Geometry), String>;

/// An image-level exclusion of an admitted image (its metadata row stays).
fn image_exclusion(m: &MetadataRow, reason: &str, detail: String) -> ExclusionRow {
    ExclusionRow {
        level: "image".into(),
        source_file: m.source_file.clone(),
        source_row: None,
        patient_id: Some(m.patient_id.clone()),
        laterality: Some(m.laterality.clone()),
        view_position: m.view_position.clone(),
        image_id: Some(m.image_id.clone()),
        exam_id: Some(m.exam_id.clone()),
        reason: reason.into(),
        detail,
        ..Default::default()
    }
}

/// What the pixel stage did.
#[derive(Debug, Default, Clone)]
pub struct PixelSummary {
    pub ok: usize,
    pub missing: usize,
    pub error: usize,
    pub laterality_flipped: usize,
    pub intensity_inverted: usize,
    pub decode_ms: u64,
}

/// Decodes and processes the images of `metadata` (rows whose status is
/// `ok` and that have a `raw_path`), writing `images` rows to `part` and
/// updating statuses, exclusions and the findings' tensor boxes.
#[allow(clippy::too_many_arguments)]
pub fn process_images(
    root: &Path,
    metadata: &mut [MetadataRow],
    findings: &mut [FindingRow],
    exclusions: &mut Vec<ExclusionRow>,
    part: &mut PartWriter,
    options: &QcOptions,
    modality_kind: &str,
    jobs: usize,
) -> Result<PixelSummary> {
    let started = std::time::Instant::now();
    let mut summary = PixelSummary::default();
    for m in metadata.iter_mut().filter(|m| m.image_status == "missing") {
        summary.missing += 1;
        let detail = match &m.raw_path {
            Some(p) => format!("{p} is not there"),
            None => "the image file the record names is not there".into(),
        };
        exclusions.push(image_exclusion(m, "missing_image", detail));
    }
    let todo: Vec<usize> = metadata
        .iter()
        .enumerate()
        .filter(|(_, m)| m.image_status == "ok" && m.raw_path.is_some())
        .map(|(i, _)| i)
        .collect();
    let progress = ProgressBar::new(todo.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} images  {per_sec}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| Error::Other(format!("cannot start {jobs} worker threads: {e}")))?;
    let mut geometries: HashMap<String, Geometry> = HashMap::new();
    // A window of a few images per worker bounds the decoded pixels in memory.
    for window in todo.chunks(jobs.max(1) * 2) {
        let results: Vec<(usize, Outcome)> = pool.install(|| {
            window
                .par_iter()
                .map(|&i| {
                    let m = &metadata[i];
                    let path = root.join(m.raw_path.as_deref().unwrap_or_default());
                    let result = decode::decode(&path, DEFAULT_MAX_PIXELS)
                        .map(|decoded| {
                            let processed = qc::process(&decoded, Some(&m.laterality), options);
                            let mut row = ImageRow {
                                image_id: m.image_id.clone(),
                                modality_kind: modality_kind.into(),
                                ..Default::default()
                            };
                            decoded.fill_row(&mut row);
                            processed.fill_row(&mut row);
                            (row, processed.geometry())
                        })
                        .map_err(|e| e.to_string());
                    (i, result)
                })
                .collect()
        });
        let mut rows = Vec::with_capacity(results.len());
        for (i, result) in results {
            match result {
                Ok((row, geometry)) => {
                    summary.ok += 1;
                    summary.laterality_flipped += row.laterality_flipped as usize;
                    summary.intensity_inverted += row.intensity_inverted as usize;
                    geometries.insert(row.image_id.clone(), geometry);
                    rows.push(row);
                }
                Err(message) => {
                    summary.error += 1;
                    let m = &mut metadata[i];
                    m.image_status = "error".into();
                    exclusions.push(image_exclusion(m, "unreadable_image", message));
                }
            }
            progress.inc(1);
        }
        part.write_rows(&rows)?;
    }
    progress.finish_and_clear();
    for f in findings.iter_mut() {
        let (Some(g), Some(x0), Some(y0), Some(x1), Some(y1)) =
            (geometries.get(&f.image_id), f.x0, f.y0, f.x1, f.y1)
        else {
            continue;
        };
        let (a, b, c, d) = qc::map_box(g, (x0, y0, x1, y1));
        (f.tensor_x0, f.tensor_y0, f.tensor_x1, f.tensor_y1) = (Some(a), Some(b), Some(c), Some(d));
    }
    summary.decode_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}
