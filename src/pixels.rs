//! The pixel stage of an ingest: decode every admitted image, run QC and
//! geometry, and stream `images` rows to the lake writer — in parallel with
//! rayon over a bounded window of images (so only a few decoded images are
//! in memory at once; a worker reads a group of uncompressed files
//! together, hashing their pixel data side by side as it decodes them, up to
//! 96 MiB of decoded samples), with a progress bar on a terminal. An
//! image that cannot be read becomes `image_status = 'error'` plus an
//! `unreadable_image` exclusion with the decoder's message; a file that is
//! not there, `missing` plus `missing_image`. The run always continues.
//!
//! With [`PixelOptions::keep_processed`] every processed image is also
//! written at full resolution as a 16-bit PNG (`crate::paths` names it);
//! its pixels are then decoded at full resolution (for JPEG 2000 the breast
//! box alone, as with [`PixelOptions::full_resolution`]). The time each stage
//! takes (decode, QC, geometry, write) is summed over the workers.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::decode::{self, DecodeOptions, Decoded};
use crate::error::{Error, Result};
use crate::lake::writer::{EncodedGroup, PartWriter};
use crate::qc::{self, Geometry, QcOptions};
use crate::record::{ExclusionRow, FindingRow, ImageRow, MetadataRow};

/// One image's outcome: its row and transform, or the decoder's message.
type Outcome = std::result::Result<(ImageRow, Geometry), String>;

/// What a worker hands the writing thread.
enum Done {
    /// The outcome of the image of record `i` (boxed: an `ImageRow` is
    /// large), and its stage times.
    Image(usize, Box<Result<Outcome>>, StageTimes),
    /// Row group `k` of `images` rows, encoded, and how long that took.
    Group(usize, Result<EncodedGroup>, Duration),
}

/// The queue of row groups to encode, even after a worker panicked.
fn lock<T>(queue: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    queue
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How the pixel stage runs (besides QC, which [`QcOptions`] says).
#[derive(Debug, Clone)]
pub struct PixelOptions {
    /// `film` or `digital`, recorded per image.
    pub modality_kind: String,
    /// Worker threads.
    pub jobs: usize,
    /// Decoding options; `reduce_for` is the tensor to reduce for (`None`:
    /// full resolution), adjusted by [`reduce_for`]; `reduce_j2k_only`
    /// follows [`PixelOptions::full_resolution`].
    pub decode: DecodeOptions,
    /// Also write full-resolution processed 16-bit PNGs as
    /// `DIR/<dataset>/<patient>/<L|R>_<VIEW>[_<n>].png`.
    pub keep_processed: Option<PathBuf>,
    /// The dataset name (the first folder under `keep_processed`).
    pub dataset: String,
    /// Tensors (and PNGs) from full-resolution pixels, while a JPEG 2000
    /// image decoded at a reduced resolution (`decode.reduce_for`; native
    /// data stay whole: `decode.reduce_j2k_only`) is analysed at that
    /// resolution and only
    /// its breast box decoded again at full resolution
    /// (`DecodeOptions::j2k_area`): OpenJPEG decodes only the code-blocks
    /// that reach the box, and nothing outside the box is kept anyway.
    pub full_resolution: bool,
}

/// Time spent per stage, summed over the workers.
#[derive(Debug, Default, Clone, Copy)]
pub struct StageTimes {
    pub decode: Duration,
    pub qc: Duration,
    pub geometry: Duration,
    /// Writing `images` rows, and the PNGs of `--keep-processed`.
    pub write: Duration,
}

impl std::ops::AddAssign for StageTimes {
    fn add_assign(&mut self, o: StageTimes) {
        self.decode += o.decode;
        self.qc += o.qc;
        self.geometry += o.geometry;
        self.write += o.write;
    }
}

impl std::fmt::Display for StageTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "decode {:.1}s, QC {:.1}s, geometry {:.1}s, write {:.1}s",
            self.decode.as_secs_f64(),
            self.qc.as_secs_f64(),
            self.geometry.as_secs_f64(),
            self.write.as_secs_f64()
        )
    }
}

/// Writes one processed image as a 16-bit grey PNG at a new `path` (never
/// replacing a file).
fn write_png(path: &Path, image: &crate::qc::geometry::FullImage) -> Result<()> {
    let io = |action: &'static str| {
        move |source| Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io("cannot create"))?;
    }
    let buffer = image::ImageBuffer::<image::Luma<u16>, _>::from_raw(
        image.width as u32,
        image.height as u32,
        image.pixels.as_slice(),
    )
    .ok_or_else(|| Error::Other(format!("{}: empty processed image", path.display())))?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io("cannot create"))?;
    let mut out = std::io::BufWriter::new(file);
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new_with_quality(
            &mut out,
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::Adaptive,
        ),
        bytes_of(buffer.as_raw()),
        image.width as u32,
        image.height as u32,
        image::ExtendedColorType::L16,
    )
    .map_err(|e| Error::Other(format!("{}: cannot write PNG: {e}", path.display())))?;
    std::io::Write::flush(&mut out).map_err(io("cannot write"))
}

/// The native-endian bytes of `u16` samples (what `PngEncoder` takes).
fn bytes_of(v: &[u16]) -> &[u8] {
    // SAFETY: u8 has no alignment or validity requirements; the length is
    // exactly the bytes of `v`.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) }
}

/// The image files of records `group`, in order.
fn image_paths(root: &Path, records: &[MetadataRow], group: &[usize]) -> Vec<PathBuf> {
    group
        .iter()
        .map(|&i| root.join(records[i].raw_path.as_deref().unwrap_or_default()))
        .collect()
}

/// `todo` cut into groups in order for the workers: `size` images each
/// (what the decoder hashes side by side), smaller toward the end — each
/// at most an even share of what is left among `jobs` workers — so that
/// the workers finish together instead of one waiting for the other's last
/// group (JPEG 2000 images take a second each at full resolution).
fn groups(todo: &[usize], size: usize, jobs: usize) -> Vec<&[usize]> {
    let mut groups = Vec::new();
    let mut rest = todo;
    while !rest.is_empty() {
        let n = (rest.len() / jobs.max(1)).clamp(1, size.max(1));
        let (group, tail) = rest.split_at(n);
        groups.push(group);
        rest = tail;
    }
    groups
}

/// QC and (optionally) the PNG of one decoded image, timed per stage.
fn one_image(
    decoded: Result<Decoded>,
    m: &MetadataRow,
    png: Option<&Path>,
    options: &QcOptions,
    stage: &PixelOptions,
    times: &mut StageTimes,
) -> Result<Outcome> {
    let decoded = match decoded {
        Ok(d) => d,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let t1 = Instant::now();
    let analysis = qc::analyse(&decoded, Some(&m.laterality), options);
    let analysed = t1.elapsed();
    // A reduced JPEG 2000 decode with full-resolution tensors: the breast
    // box decoded again, at full resolution.
    let area = (stage.full_resolution && decoded.reduction > 0 && decoded.is_jpeg2000())
        .then(|| analysis.stored_box())
        .filter(|&(x0, y0, x1, y1)| x0 < x1 && y0 < y1);
    let source = match area {
        Some(area) => {
            let t = Instant::now();
            let options = DecodeOptions {
                j2k_area: Some(area),
                ..stage.decode
            };
            let source = decode::decode_with(&decoded.path, &options);
            times.decode += t.elapsed();
            match source {
                Ok(source) => Some(source),
                Err(e) => return Ok(Err(e.to_string())),
            }
        }
        None => None,
    };
    let finishing = Instant::now();
    let mut processed = match &source {
        Some(source) => qc::finish(analysis, source, area, options),
        None => qc::finish(analysis, &decoded, None, options),
    };
    times.geometry += processed.geometry_time;
    times.qc += analysed + finishing.elapsed().saturating_sub(processed.geometry_time);
    let mut row = ImageRow {
        image_id: m.image_id.clone(),
        modality_kind: stage.modality_kind.clone(),
        ..Default::default()
    };
    decoded.fill_row(&mut row);
    if let Some(source) = &source {
        row.decode_reduction = source.reduction as i32;
    }
    drop((decoded, source));
    if let (Some(png), Some(full)) = (png, processed.full_resolution.take()) {
        let t2 = Instant::now();
        write_png(png, &full)?;
        times.write += t2.elapsed();
    }
    let geometry = processed.geometry();
    processed.fill_row(&mut row);
    Ok(Ok((row, geometry)))
}

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
    /// Wall time of the whole stage.
    pub decode_ms: u64,
    /// Time per stage, summed over the workers.
    pub stages: StageTimes,
}

/// What a decode may reduce for, given the `tensor` asked for (`None`: full
/// resolution): nothing for the edge-window baseline (its windows are 25
/// stored columns wide); otherwise the tensor, but at least twice QC's
/// working copy (`qc::WORK_SIZE`) on each axis, so that detection sees the
/// same working copy whatever the tensor size (a 1024x512 tensor is
/// unaffected).
pub fn reduce_for(
    tensor: Option<(usize, usize)>,
    method: qc::LateralityMethod,
) -> Option<(usize, usize)> {
    let floor = 2 * qc::WORK_SIZE;
    tensor
        .filter(|_| method == qc::LateralityMethod::Component)
        .map(|(h, w)| (h.max(floor), w.max(floor)))
}

/// Decodes and processes the images of `metadata` (rows whose status is
/// `ok` and that have a `raw_path`), writing `images` rows to `part` and
/// updating statuses, exclusions and the findings' tensor boxes.
pub fn process_images(
    root: &Path,
    metadata: &mut [MetadataRow],
    findings: &mut [FindingRow],
    exclusions: &mut Vec<ExclusionRow>,
    part: &mut PartWriter,
    options: &QcOptions,
    stage: &PixelOptions,
) -> Result<PixelSummary> {
    let jobs = stage.jobs;
    let mut stage = stage.clone();
    let mut options = *options;
    if stage.keep_processed.is_some() {
        // Full-resolution PNGs: JPEG 2000 analysed reduced and its breast
        // box decoded again at full resolution, every other file whole.
        options.keep_full_resolution = true;
        stage.full_resolution = true;
    }
    stage.decode.reduce_j2k_only = stage.full_resolution;
    stage.decode.reduce_for = reduce_for(stage.decode.reduce_for, options.method);
    let (options, stage) = (&options, &stage);
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
    // PNG names are handed out in record order, before the parallel part,
    // so that numbering is deterministic.
    let mut pngs: HashMap<usize, PathBuf> = HashMap::new();
    if let Some(dir) = &stage.keep_processed {
        let mut namer = crate::paths::ImageNamer::new(dir, "png");
        for &i in &todo {
            let m = &metadata[i];
            let path = namer.next(
                &stage.dataset,
                &m.patient_id,
                &m.laterality,
                m.view_position.as_deref(),
            )?;
            pngs.insert(i, path);
        }
    }
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
    let encoder = part.group_encoder()?;
    let group_rows = encoder.group_rows;
    // Workers pull groups of images in record order (par_bridge; a group's
    // files are hashed side by side, see `decode::decode_group`), decode
    // them one at a time and send each result through a bounded channel;
    // this thread puts them back in record order and cuts them into row
    // groups, which the workers encode between images (`queue`) and this
    // thread writes in order. A few row groups and a few image groups are
    // in flight (one decoded image per worker, the rest as rows waiting for
    // an earlier image), so memory stays bounded; a write error stops the
    // workers.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Done>(jobs * 8);
    let queue: Mutex<VecDeque<(usize, Vec<ImageRow>)>> = Mutex::default();
    let cancelled = std::sync::atomic::AtomicBool::new(false);
    let mut failed: Vec<(usize, String)> = Vec::new();
    let shared: &[MetadataRow] = metadata;
    let written: Result<()> = pool.in_place_scope(|scope| {
        let (cancelled, pngs, todo, queue, encoder) = (&cancelled, &pngs, &todo, &queue, &encoder);
        scope.spawn(move |_| {
            let groups = groups(todo, decode::group_size(), jobs);
            groups
                .into_iter()
                .par_bridge()
                .for_each_with(tx, |tx, group| {
                    if cancelled.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let paths = image_paths(root, shared, group);
                    // Opening the group's files is shared out evenly; a batch
                    // (its files hashed and decoded together) counts toward the
                    // image whose turn reads it. The stage sums are right
                    // either way.
                    let t0 = Instant::now();
                    let decoded = decode::decode_group(&paths, &stage.decode);
                    let opening = t0.elapsed() / group.len() as u32;
                    let mut taken = Instant::now();
                    for (&i, decoded) in group.iter().zip(decoded) {
                        if cancelled.load(std::sync::atomic::Ordering::Relaxed) {
                            return;
                        }
                        let mut times = StageTimes {
                            decode: opening + taken.elapsed(),
                            ..Default::default()
                        };
                        let png = pngs.get(&i).map(PathBuf::as_path);
                        let result =
                            one_image(decoded, &shared[i], png, options, stage, &mut times);
                        // The receiver is gone only after a write error.
                        let _ = tx.send(Done::Image(i, Box::new(result), times));
                        // Then a row group the writing thread has filled, if any.
                        let next = lock(queue).pop_front();
                        if let Some((k, rows)) = next {
                            let t = Instant::now();
                            let group = encoder.encode(&rows);
                            let _ = tx.send(Done::Group(k, group, t.elapsed()));
                        }
                        taken = Instant::now();
                    }
                });
        });
        let order: HashMap<usize, usize> = todo.iter().enumerate().map(|(k, &i)| (i, k)).collect();
        let mut pending: std::collections::BTreeMap<usize, (usize, Result<Outcome>)> =
            Default::default();
        let mut encoded: HashMap<usize, EncodedGroup> = HashMap::new();
        let (mut next, mut groups_cut, mut groups_written) = (0, 0, 0);
        let mut rows = Vec::with_capacity(group_rows);
        // Writes the encoded groups that are next in order.
        let mut write_ready =
            |encoded: &mut HashMap<usize, EncodedGroup>, times: &mut StageTimes| -> Result<()> {
                while let Some(group) = encoded.remove(&groups_written) {
                    let t = Instant::now();
                    part.append_group(group)?;
                    times.write += t.elapsed();
                    groups_written += 1;
                }
                Ok(())
            };
        // Takes the receiver, so that returning early (a write error) drops
        // it and unblocks the workers.
        let mut step = |rx: std::sync::mpsc::Receiver<Done>| -> Result<()> {
            for done in rx.iter() {
                let (i, result, times) = match done {
                    Done::Image(i, result, times) => (i, *result, times),
                    Done::Group(k, group, took) => {
                        summary.stages.write += took;
                        encoded.insert(k, group?);
                        write_ready(&mut encoded, &mut summary.stages)?;
                        continue;
                    }
                };
                summary.stages += times;
                pending.insert(order[&i], (i, result));
                while let Some((i, result)) = pending.remove(&next) {
                    next += 1;
                    progress.inc(1);
                    match result? {
                        Ok((row, geometry)) => {
                            summary.ok += 1;
                            summary.laterality_flipped += row.laterality_flipped as usize;
                            summary.intensity_inverted += row.intensity_inverted as usize;
                            geometries.insert(row.image_id.clone(), geometry);
                            rows.push(row);
                        }
                        Err(message) => {
                            summary.error += 1;
                            failed.push((i, message));
                        }
                    }
                    if rows.len() == group_rows {
                        let full = std::mem::replace(&mut rows, Vec::with_capacity(group_rows));
                        lock(queue).push_back((groups_cut, full));
                        groups_cut += 1;
                    }
                }
            }
            // The workers are done: the groups they left, and the last,
            // partial one, are encoded here.
            let mut rest: Vec<_> = lock(queue).drain(..).collect();
            if !rows.is_empty() {
                rest.push((groups_cut, std::mem::take(&mut rows)));
            }
            for (k, rows) in rest {
                let t = Instant::now();
                encoded.insert(k, encoder.encode(&rows)?);
                summary.stages.write += t.elapsed();
            }
            write_ready(&mut encoded, &mut summary.stages)
        };
        let result = step(rx);
        if result.is_err() {
            cancelled.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        result
    });
    written?;
    for (i, message) in failed {
        let m = &mut metadata[i];
        m.image_status = "error".into();
        exclusions.push(image_exclusion(m, "unreadable_image", message));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_shrink_toward_the_end_so_workers_finish_together() {
        let todo: Vec<usize> = (0..200).collect();
        let cut = groups(&todo, 16, 2);
        assert_eq!(cut.concat(), todo, "every image once, in order");
        let sizes: Vec<usize> = cut.iter().map(|g| g.len()).collect();
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
        assert_eq!(sizes[..11], [16; 11], "{sizes:?}");
        assert_eq!(sizes[11..], [12, 6, 3, 1, 1, 1], "{sizes:?}");
        // One worker waits for no one: whole groups, then the rest.
        let sizes: Vec<usize> = groups(&todo, 16, 1).iter().map(|g| g.len()).collect();
        assert_eq!(sizes, [vec![16; 12], vec![8]].concat());
        assert!(groups(&[], 16, 2).is_empty());
        assert_eq!(groups(&todo[..3], 16, 8).len(), 3);
    }
}
