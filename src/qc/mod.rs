//! Image QC and geometry: the stages after `decode` and before the lake
//! writer (SPEC §5.2–5.5). [`process`] runs, in order, polarity
//! (`inversion`), chest-wall side (`laterality`), breast-region
//! normalization (`normalize`) and crop/mirror/resize/pad (`geometry`) on one
//! [`Decoded`] image and returns a [`Processed`] with every QC and geometry
//! field of an `images` row plus the H×W tensor.
//!
//! Detection runs on a small area-averaged copy of the image (long side at
//! most [`WORK_SIZE`] pixels, made by `fast_image_resize`), so the crate's own
//! per-pixel loops stay cheap; only the final resize (`resample`) touches
//! every stored pixel of the breast box.

mod components;
pub mod geometry;
pub mod inversion;
pub mod laterality;
pub mod normalize;
pub mod resample;

use crate::decode::Decoded;
use crate::record::ImageRow;

pub use geometry::{Geometry, map_box};
pub use laterality::Side;

/// Long side of the working copy used for detection.
pub const WORK_SIZE: usize = 256;

/// How the chest-wall side (and the content polarity check) is decided.
///
/// _Default behavior:_ [`LateralityMethod::Component`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LateralityMethod {
    /// Largest tissue component after thresholding (4σ above a quadratic
    /// background surface fitted to the darkest pixels) and an opening
    /// that removes thin film borders and burned-in markers; the side is
    /// voted by the component's mass centroid, its taper (tall at the chest
    /// wall, narrow at the nipple) and its contact with each side (the
    /// image edge, or a straight cut inside it). Polarity: a
    /// noise-aware flatness vote (`inversion::flatness_vote`: blocks whose
    /// means vary no more than the image's own noise predicts are air,
    /// the others tissue; film borders are peeled first; the flat blocks'
    /// signed distance from the tissue level decides), combined with
    /// PhotometricInterpretation.
    #[default]
    Component,
    /// The published baseline: standard deviation of an n = 25-column window
    /// at each side edge; the side with the larger deviation is the chest
    /// wall. Polarity: the background window's mean against the image mean.
    EdgeWindow,
}

impl LateralityMethod {
    /// The name recorded in `images.qc_method`.
    pub fn name(self) -> &'static str {
        match self {
            LateralityMethod::Component => "component",
            LateralityMethod::EdgeWindow => "edge_window",
        }
    }
}

/// What [`process`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QcOptions {
    /// Chest-wall and polarity detector. _Default behavior:_ `Component`.
    pub method: LateralityMethod,
    /// Crop to the breast box before resizing. _Default behavior:_ on.
    pub crop: bool,
    /// Tensor shape `(H, W)`. _Default behavior:_ `(512, 512)`.
    pub tensor_shape: (usize, usize),
    /// Also return the processed image at the decoded resolution
    /// (polarity-corrected, mirrored, normalized, cropped; not resized) as
    /// [`Processed::full_resolution`]. _Default behavior:_ off.
    pub keep_full_resolution: bool,
}

impl Default for QcOptions {
    fn default() -> Self {
        QcOptions {
            method: LateralityMethod::Component,
            crop: true,
            tensor_shape: (512, 512),
            keep_full_resolution: false,
        }
    }
}

/// Every QC and geometry field of an `images` row, plus the tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    /// Net: the tensor is the inverse of the stored values.
    pub intensity_inverted: bool,
    /// `monochrome1`, `content`, `monochrome1_mislabelled` or `None`.
    pub inversion_reason: Option<String>,
    /// Evidence that the stored background is bright (positive = bright).
    pub inversion_score: Option<f64>,
    /// `left`/`right` side of the polarity-corrected, unmirrored image.
    pub chest_wall_side: Option<String>,
    /// The chest-wall detector's margin.
    pub laterality_score: Option<f64>,
    /// The detected side disagrees with the laterality label.
    pub laterality_flipped: bool,
    /// The tensor was mirrored so that the chest wall is on the left.
    pub hflip_applied: bool,
    /// Post-Modality-LUT value mapped to 0 (65535 when inverted).
    pub norm_low: f64,
    /// Post-Modality-LUT value mapped to 65535 (0 when inverted).
    pub norm_high: f64,
    /// Breast box in stored pixels (before mirroring), x1/y1 exclusive.
    pub crop_x0: i32,
    pub crop_y0: i32,
    pub crop_x1: i32,
    pub crop_y1: i32,
    /// Tensor pixels per stored pixel.
    pub scale: f64,
    pub pad_left: i32,
    pub pad_top: i32,
    /// `component` or `edge_window`.
    pub qc_method: String,
    /// Tensor shape `(H, W)`.
    pub tensor_shape: (usize, usize),
    /// Row-major H×W tensor.
    pub tensor: Vec<u16>,
    /// The processed image before resizing, with
    /// [`QcOptions::keep_full_resolution`].
    pub full_resolution: Option<geometry::FullImage>,
    /// Time spent in geometry (resize/place, and the full-resolution image).
    pub geometry_time: std::time::Duration,
}

impl Processed {
    /// The transform from stored pixels to tensor pixels, for [`map_box`].
    pub fn geometry(&self) -> Geometry {
        Geometry {
            crop_x0: self.crop_x0 as f64,
            crop_y0: self.crop_y0 as f64,
            crop_x1: self.crop_x1 as f64,
            crop_y1: self.crop_y1 as f64,
            hflip: self.hflip_applied,
            scale: self.scale,
            pad_left: self.pad_left as f64,
            pad_top: self.pad_top as f64,
            tensor_shape: self.tensor_shape,
        }
    }

    /// Moves the QC, geometry and tensor fields into an `images` row (the
    /// tensor is moved, not copied).
    pub fn fill_row(self, row: &mut ImageRow) {
        row.intensity_inverted = self.intensity_inverted;
        row.inversion_reason = self.inversion_reason;
        row.inversion_score = self.inversion_score;
        row.chest_wall_side = self.chest_wall_side;
        row.laterality_score = self.laterality_score;
        row.laterality_flipped = self.laterality_flipped;
        row.hflip_applied = self.hflip_applied;
        row.norm_low = self.norm_low;
        row.norm_high = self.norm_high;
        row.crop_x0 = self.crop_x0;
        row.crop_y0 = self.crop_y0;
        row.crop_x1 = self.crop_x1;
        row.crop_y1 = self.crop_y1;
        row.scale = self.scale;
        row.pad_left = self.pad_left;
        row.pad_top = self.pad_top;
        row.qc_method = Some(self.qc_method);
        row.tensor = self.tensor;
    }
}

/// The small working copy: stored values, area-averaged.
#[derive(Debug, Clone, PartialEq)]
pub struct Work {
    pub w: usize,
    pub h: usize,
    pub px: Vec<f32>,
}

impl Work {
    /// Area-averaged copy of `decoded` with the long side at most `max_side`.
    pub fn of(decoded: &Decoded, max_side: usize) -> Work {
        let (cols, rows) = (decoded.columns as usize, decoded.rows as usize);
        let long = cols.max(rows).max(1);
        if long <= max_side || decoded.pixels.len() < cols * rows {
            return Work {
                w: cols,
                h: rows,
                px: decoded.pixels.iter().map(|&v| v as f32).collect(),
            };
        }
        let f = max_side as f64 / long as f64;
        let w = ((cols as f64 * f).round() as usize).max(1);
        let h = ((rows as f64 * f).round() as usize).max(1);
        // k × k blocks are averaged first (a plain loop, far cheaper
        // per pixel than a convolution), keeping at least twice the output
        // size; the box filter then averages the rest. Both are area
        // averages, so the copy is the same up to rounding.
        // A power of two: the block loop then adds sample pairs as words.
        let k = match long / (2 * max_side) {
            0 | 1 => 1,
            n => 1 << n.ilog2(),
        };
        let blocks =
            (k >= 2).then(|| crate::decode::blocks::block_average(&decoded.pixels, cols, rows, k));
        let (source, size) = match &blocks {
            Some((px, bw, bh)) => (px.as_slice(), (*bw, *bh)),
            None => (decoded.pixels.as_slice(), (cols, rows)),
        };
        // fast_image_resize's box filter (whole pixels weighted by their
        // centres), not `resample::area_downscale`: the detectors' noise
        // measures were tuned and scored on this copy, and the exact area
        // average shifts them (look-alike polarity at seed 3: 99.0 -> 98.7 %).
        let crop = (0.0, 0.0, size.0 as f64, size.1 as f64);
        match resample::convolve(
            source,
            size,
            crop,
            (w, h),
            fast_image_resize::FilterType::Box,
        ) {
            Some(small) => Work {
                w,
                h,
                px: small.into_iter().map(f32::from).collect(),
            },
            None => Work {
                w: cols,
                h: rows,
                px: decoded.pixels.iter().map(|&v| v as f32).collect(),
            },
        }
    }
}

/// Runs polarity, laterality, normalization and geometry on one image:
/// [`analyse`], then [`finish`] on the same pixels.
/// `laterality` is the label (`L`/`R`, `left`/`right`, any case); `None` or
/// anything else never sets `laterality_flipped`.
pub fn process(decoded: &Decoded, laterality: Option<&str>, options: &QcOptions) -> Processed {
    finish(
        analyse(decoded, laterality, options),
        decoded,
        None,
        options,
    )
}

/// What QC decided about one decoded image before geometry: polarity,
/// chest-wall side, the breast's normalization range and its box.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    polarity: inversion::Polarity,
    chest_wall: laterality::ChestWall,
    laterality_flipped: bool,
    /// Stored values mapped to 0 and 65535 (before any inversion).
    low: u16,
    high: u16,
    /// The breast box in the analysed image's pixels, x1/y1 exclusive.
    crop_box: (usize, usize, usize, usize),
    /// The analysed image's reduction and stored size.
    reduction: u32,
    full: (u32, u32),
}

impl Analysis {
    /// The breast box in stored pixels, `(x0, y0, x1, y1)`, x1/y1
    /// exclusive: the analysed image's box scaled back from its
    /// reduction, clamped to the stored image.
    pub fn stored_box(&self) -> (u32, u32, u32, u32) {
        let factor = 1u64 << self.reduction.min(16);
        let to_stored = |v: usize, full: u32| (v as u64 * factor).min(u64::from(full)) as u32;
        let (x0, y0, x1, y1) = self.crop_box;
        let (w, h) = self.full;
        (
            to_stored(x0, w),
            to_stored(y0, h),
            to_stored(x1, w),
            to_stored(y1, h),
        )
    }
}

/// Polarity, laterality and the breast's range and box of one image.
/// `laterality` as for [`process`].
pub fn analyse(decoded: &Decoded, laterality: Option<&str>, options: &QcOptions) -> Analysis {
    let work = Work::of(decoded, WORK_SIZE);
    let (polarity, cues) = match options.method {
        LateralityMethod::Component => inversion::component_and_cues(
            decoded.photometric.as_deref(),
            decoded.header.is_for_processing(),
            &work,
        ),
        LateralityMethod::EdgeWindow => (
            inversion::edge_window(decoded.photometric.as_deref(), decoded),
            laterality::Cues::default(),
        ),
    };
    let display = inversion::display_copy(&work, polarity.inverted);
    let segmentation = laterality::segment_with(&display, cues);
    let chest_wall = match options.method {
        LateralityMethod::Component => segmentation.chest_wall(),
        LateralityMethod::EdgeWindow => laterality::edge_window(decoded),
    };
    let expected = laterality.and_then(|l| match l.trim().to_ascii_uppercase().as_str() {
        "L" | "LEFT" => Some(Side::Left),
        "R" | "RIGHT" => Some(Side::Right),
        _ => None,
    });
    let laterality_flipped = matches!((expected, chest_wall.side), (Some(e), Some(d)) if e != d);
    let mask = segmentation.breast.as_deref();
    let (low, high) = normalize::breast_range(decoded, &work, mask);
    let crop_box = if options.crop {
        geometry::breast_box(decoded, &work, mask)
    } else {
        (0, 0, decoded.columns as usize, decoded.rows as usize)
    };
    Analysis {
        polarity,
        chest_wall,
        laterality_flipped,
        low,
        high,
        crop_box,
        reduction: decoded.reduction,
        full: (decoded.full_columns, decoded.full_rows),
    }
}

/// Geometry (crop, mirror, normalize, resize, pad) after [`analyse`]:
/// from the analysed image itself (`area` `None`), or from `source`
/// holding only the stored pixels of `area` (`(x0, y0, x1, y1)`, x1/y1
/// exclusive; [`Analysis::stored_box`] decoded again at full resolution),
/// which is then the crop box.
pub fn finish(
    analysis: Analysis,
    source: &Decoded,
    area: Option<(u32, u32, u32, u32)>,
    options: &QcOptions,
) -> Processed {
    let Analysis {
        polarity,
        chest_wall,
        laterality_flipped,
        low,
        high,
        ..
    } = analysis;
    let hflip = chest_wall.side == Some(Side::Right);
    let crop_box = match area {
        Some(_) => (0, 0, source.columns as usize, source.rows as usize),
        None => analysis.crop_box,
    };
    let geometry_started = std::time::Instant::now();
    let normalize = |v: f32| normalize::map(v, low, high, polarity.inverted);
    let placed = geometry::place(source, crop_box, hflip, options.tensor_shape, normalize);
    let full_resolution = options
        .keep_full_resolution
        .then(|| geometry::crop_mirror_map(source, crop_box, hflip, normalize));
    let geometry_time = geometry_started.elapsed();
    // A reduced decode: the crop box and the scale go back to stored pixels
    // (the tensor is unchanged: the transform is the same).
    let (stored_box, factor) = match area {
        Some(area) => (area, 1.0),
        None => (
            analysis.stored_box(),
            f64::from(1u32 << analysis.reduction.min(16)),
        ),
    };
    Processed {
        intensity_inverted: polarity.inverted,
        inversion_reason: polarity.reason.map(str::to_string),
        inversion_score: polarity.score,
        chest_wall_side: chest_wall.side.map(|s| s.name().to_string()),
        laterality_score: chest_wall.side.and(chest_wall.score),
        laterality_flipped,
        hflip_applied: hflip,
        norm_low: source.modality(low as f64),
        norm_high: source.modality(high as f64),
        crop_x0: stored_box.0 as i32,
        crop_y0: stored_box.1 as i32,
        crop_x1: stored_box.2 as i32,
        crop_y1: stored_box.3 as i32,
        scale: placed.scale / factor,
        pad_left: placed.pad_left as i32,
        pad_top: placed.pad_top as i32,
        qc_method: options.method.name().to_string(),
        tensor_shape: options.tensor_shape,
        tensor: placed.tensor,
        full_resolution,
        geometry_time,
    }
}

#[cfg(test)]
pub(crate) mod testimg {
    //! Synthetic arrays for the unit tests: a half-disc breast on one side.
    use crate::decode::Decoded;
    use crate::dicom::Header;

    /// Options of a test image (display polarity before `inverted`).
    #[derive(Debug, Clone, Copy)]
    pub struct Spec {
        pub w: usize,
        pub h: usize,
        pub left: bool,
        pub marker: bool,
        pub film_border: bool,
        pub gradient: bool,
        pub offset: bool,
        pub inverted: bool,
        pub photometric: &'static str,
        /// Film-border band width as a fraction of the side (with `film_border`).
        pub border: f32,
        /// Background noise amplitude (fraction of white).
        pub noise: f32,
        /// Breast depth as a fraction of the width (> 1: touches both edges).
        pub depth: f32,
    }

    impl Default for Spec {
        fn default() -> Self {
            Spec {
                w: 300,
                h: 400,
                left: true,
                marker: false,
                film_border: false,
                gradient: false,
                offset: false,
                inverted: false,
                photometric: "MONOCHROME2",
                border: 0.04,
                noise: 0.02,
                depth: 0.6,
            }
        }
    }

    /// A spot or magnification view on a 0..=1 copy, in display polarity:
    /// a collimated field holding only textured tissue (the right 65 % of
    /// the width, the middle half of the height, reaching the right edge)
    /// in a flat bright surround (0.97).
    pub fn spot_view(w: usize, h: usize) -> Vec<f32> {
        let mut noise = uniform_noise(777);
        (0..w * h)
            .map(|i| {
                // 0..1 (exactly: the -0.5 and +0.5 cancel).
                let n = noise() + 0.5;
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                let field = x >= w as f32 * 0.35 && (h as f32 * 0.25..h as f32 * 0.75).contains(&y);
                if field {
                    0.35 + 0.3 * blobs(x / 6.0, y / 6.0) + 0.05 * n
                } else {
                    0.97 + 0.005 * n
                }
            })
            .collect()
    }

    /// A `w × h` image of `value(x, y)`, row by row.
    pub fn grid<T>(w: usize, h: usize, mut value: impl FnMut(usize, usize) -> T) -> Vec<T> {
        (0..w * h).map(|i| value(i % w, i / w)).collect()
    }

    /// Uniform noise in -0.5..0.5 from a linear congruential generator.
    pub fn uniform_noise(mut seed: u32) -> impl FnMut() -> f32 {
        move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        }
    }

    /// Value noise in 0..1: random values on the integer grid, bilinearly
    /// interpolated (blobs of about one grid step, at random levels).
    pub fn blobs(x: f32, y: f32) -> f32 {
        let at = |ix: u32, iy: u32| {
            let k = ix.wrapping_mul(73_856_093) ^ iy.wrapping_mul(19_349_663);
            (k.wrapping_mul(2_654_435_761) >> 8) as f32 / (1u32 << 24) as f32
        };
        let (ix, iy) = (x.floor() as u32, y.floor() as u32);
        let (fx, fy) = (x - x.floor(), y - y.floor());
        let top = at(ix, iy) * (1.0 - fx) + at(ix + 1, iy) * fx;
        let bottom = at(ix, iy + 1) * (1.0 - fx) + at(ix + 1, iy + 1) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    /// A 12-bit half-disc breast with texture; options add artefacts.
    pub fn image(s: Spec) -> Decoded {
        let (w, h) = (s.w, s.h);
        let mut px = vec![0u16; w * h];
        let x0 = if s.offset { w as f32 * 0.08 } else { 0.0 };
        let depth = w as f32 * s.depth;
        let (cy, hh) = (h as f32 * 0.5, h as f32 * 0.4);
        let mut seed = 12345u32;
        for y in 0..h {
            for x in 0..w {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let n = (seed >> 8) as f32 / (1u32 << 24) as f32;
                let dx = (x as f32 - x0) / depth;
                let dy = (y as f32 - cy) / hh;
                let r2 = dx * dx + dy * dy;
                let mut v = if x as f32 >= x0 && r2 < 1.0 {
                    0.35 + 0.25 * ((x as f32 * 0.07).sin() * (y as f32 * 0.05).cos()).abs()
                        + 0.05 * n
                } else {
                    0.03 + s.noise * n
                        + if s.gradient {
                            0.12 * x as f32 / w as f32 + 0.08 * y as f32 / h as f32
                        } else {
                            0.0
                        }
                };
                let bx = (w as f32 * s.border) as usize;
                let by = (h as f32 * s.border * 0.75) as usize;
                if s.film_border && (x < bx || x >= w - bx || y < by || y >= h - by) {
                    v = 0.92 + 0.03 * n;
                }
                if s.marker
                    && (w * 78 / 100..w * 92 / 100).contains(&x)
                    && (h * 6 / 100..h * 12 / 100).contains(&y)
                    && (x / 4 + y / 5) % 3 != 0
                {
                    v = 0.98;
                }
                px[y * w + x] = (v.clamp(0.0, 1.0) * 4095.0) as u16;
            }
        }
        if !s.left {
            for row in px.chunks_mut(w) {
                row.reverse();
            }
        }
        if s.inverted {
            for v in px.iter_mut() {
                *v = 4095 - *v;
            }
        }
        let (lo, hi) = (
            *px.iter().min().unwrap() as f64,
            *px.iter().max().unwrap() as f64,
        );
        Decoded {
            path: "test.dcm".into(),
            rows: h as u32,
            columns: w as u32,
            full_rows: h as u32,
            full_columns: w as u32,
            reduction: 0,
            bits_stored: 12,
            photometric: Some(s.photometric.to_string()),
            transfer_syntax: None,
            pixels: px,
            rescale_slope: 1.0,
            rescale_intercept: 0.0,
            source_min: lo,
            source_max: hi,
            pixel_data_sha256: String::new(),
            clamped_pixels: 0,
            header: Header::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testimg::{Spec, image};
    use super::*;

    #[test]
    fn finishing_on_the_breast_box_alone_equals_finishing_on_the_whole_image() {
        // What the pixel stage does for a JPEG 2000 image with
        // full-resolution tensors (the box decoded again, alone), here with
        // the box cut from the analysed image itself: the same row. The
        // tensor is smaller than the box, as it always is there (the image
        // was decoded reduced, so it is at least twice the tensor): the
        // area average reads the box's pixels only (an upscaling filter
        // would read past its edge).
        for (left, inverted) in [(true, false), (false, true)] {
            let d = image(Spec {
                left,
                inverted,
                offset: true,
                ..Spec::default()
            });
            let options = QcOptions {
                keep_full_resolution: true,
                tensor_shape: (96, 64),
                ..QcOptions::default()
            };
            let analysis = analyse(&d, Some("L"), &options);
            let area = analysis.stored_box();
            let (x0, y0, x1, y1) = (
                area.0 as usize,
                area.1 as usize,
                area.2 as usize,
                area.3 as usize,
            );
            assert!(
                (x1 - x0) * (y1 - y0) < d.pixels.len() * 3 / 4,
                "{area:?}: a box"
            );
            let mut boxed = d.clone();
            boxed.pixels = (y0..y1)
                .flat_map(|y| (x0..x1).map(move |x| (y, x)))
                .map(|(y, x)| d.pixels[y * d.columns as usize + x])
                .collect();
            (boxed.columns, boxed.rows) = ((x1 - x0) as u32, (y1 - y0) as u32);
            let whole = finish(analysis.clone(), &d, None, &options);
            let alone = finish(analysis, &boxed, Some(area), &options);
            let facts = |p: &Processed| {
                format!(
                    "{} {:?} {:?} {} {} {} {} {} {} {} {} {} {} {}",
                    p.intensity_inverted,
                    p.chest_wall_side,
                    p.laterality_score,
                    p.hflip_applied,
                    p.norm_low,
                    p.norm_high,
                    p.crop_x0,
                    p.crop_y0,
                    p.crop_x1,
                    p.crop_y1,
                    p.scale,
                    p.pad_left,
                    p.pad_top,
                    p.laterality_flipped
                )
            };
            assert_eq!(facts(&alone), facts(&whole), "left {left}");
            assert!(alone.tensor == whole.tensor, "left {left}: the tensor");
            assert!(
                alone.full_resolution == whole.full_resolution,
                "left {left}"
            );
        }
    }

    #[test]
    fn every_variant_is_oriented_and_polarity_corrected() {
        for left in [true, false] {
            for (marker, film_border, gradient, offset) in [
                (false, false, false, false),
                (true, false, false, false),
                (true, true, false, false),
                (true, false, true, false),
                (false, true, false, true),
                (true, true, true, true),
            ] {
                for (inverted, photometric, want_inv, reason) in [
                    (false, "MONOCHROME2", false, None),
                    (true, "MONOCHROME2", true, Some("content")),
                    (true, "MONOCHROME1", true, Some("monochrome1")),
                    (false, "MONOCHROME1", false, Some("monochrome1_mislabelled")),
                ] {
                    let s = Spec {
                        left,
                        marker,
                        film_border,
                        gradient,
                        offset,
                        inverted,
                        photometric,
                        ..Spec::default()
                    };
                    let d = image(s);
                    let p = process(&d, Some("L"), &QcOptions::default());
                    assert_eq!(p.intensity_inverted, want_inv, "{s:?}");
                    assert_eq!(p.inversion_reason.as_deref(), reason, "{s:?}");
                    let side = if left { "left" } else { "right" };
                    assert_eq!(p.chest_wall_side.as_deref(), Some(side), "{s:?}");
                    assert_eq!(p.laterality_flipped, !left, "{s:?}");
                    assert_eq!(p.hflip_applied, !left, "{s:?}");
                    // Canonical tensor: tall at the chest wall (x = 0), narrow at the nipple.
                    let (h, w) = p.tensor_shape;
                    let nw = ((p.crop_x1 - p.crop_x0) as f64 * p.scale).round() as usize;
                    let tall = |x: usize| (0..h).filter(|&y| p.tensor[y * w + x] > 8000).count();
                    let (near, far) = (tall(nw / 20), tall(nw * 9 / 10));
                    assert!(near > far, "{s:?}: {near} vs {far}");
                }
            }
        }
    }

    #[test]
    fn the_votes_cues_are_the_ones_segmentation_would_measure() {
        for (film_border, inverted) in [(false, false), (true, false), (true, true)] {
            let s = Spec {
                film_border,
                inverted,
                ..Spec::default()
            };
            let d = image(s);
            let work = Work::of(&d, WORK_SIZE);
            let (polarity, cues) = inversion::component_and_cues(Some("MONOCHROME2"), false, &work);
            // Only the stored copy's blocks are the display copy's.
            assert_eq!(cues.texture_map.is_some(), !inverted, "{s:?}");
            let display = inversion::display_copy(&work, polarity.inverted);
            let (given, measured) = (
                laterality::segment_with(&display, cues),
                laterality::segment(&display),
            );
            // The inverted copy's outline differs by rounding alone.
            let drift = (given.outline - measured.outline).abs();
            assert!(drift <= 1e-6 * measured.outline.abs(), "{s:?}: {drift}");
            assert_eq!(
                laterality::Segmentation {
                    outline: measured.outline,
                    ..given
                },
                measured,
                "{s:?}"
            );
        }
    }

    #[test]
    fn thick_borders_heavy_noise_and_wide_breasts() {
        for left in [true, false] {
            for inverted in [false, true] {
                let base = Spec {
                    left,
                    inverted,
                    photometric: if inverted && left {
                        "MONOCHROME1"
                    } else {
                        "MONOCHROME2"
                    },
                    marker: true,
                    ..Spec::default()
                };
                for s in [
                    Spec {
                        film_border: true,
                        border: 0.10,
                        ..base
                    },
                    Spec {
                        noise: 0.15,
                        ..base
                    },
                    Spec { depth: 1.2, ..base },
                    Spec {
                        depth: 1.1,
                        film_border: true,
                        gradient: true,
                        ..base
                    },
                    Spec {
                        film_border: true,
                        border: 0.08,
                        offset: true,
                        noise: 0.08,
                        ..base
                    },
                    Spec {
                        depth: 1.3,
                        gradient: true,
                        noise: 0.1,
                        ..base
                    },
                    Spec {
                        depth: 1.2,
                        film_border: true,
                        border: 0.1,
                        gradient: true,
                        ..base
                    },
                    Spec {
                        depth: 0.35,
                        offset: true,
                        film_border: true,
                        noise: 0.1,
                        ..base
                    },
                    Spec {
                        w: 600,
                        h: 300,
                        film_border: true,
                        gradient: true,
                        ..base
                    },
                ] {
                    let p = process(&image(s), Some("L"), &QcOptions::default());
                    assert_eq!(p.intensity_inverted, inverted, "{s:?}");
                    let side = if left { "left" } else { "right" };
                    assert_eq!(p.chest_wall_side.as_deref(), Some(side), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn edge_window_baseline_runs_and_is_recorded() {
        let d = image(Spec {
            left: false,
            ..Spec::default()
        });
        let options = QcOptions {
            method: LateralityMethod::EdgeWindow,
            ..QcOptions::default()
        };
        let p = process(&d, Some("R"), &options);
        assert_eq!(p.qc_method, "edge_window");
        assert_eq!(p.chest_wall_side.as_deref(), Some("right"));
        assert!(!p.laterality_flipped);
        assert!(!p.intensity_inverted);
    }

    #[test]
    fn blank_and_tiny_images_do_not_panic() {
        let mut d = image(Spec::default());
        d.pixels.iter_mut().for_each(|v| *v = 7);
        for method in [LateralityMethod::Component, LateralityMethod::EdgeWindow] {
            let options = QcOptions {
                method,
                ..QcOptions::default()
            };
            let p = process(&d, Some("L"), &options);
            assert_eq!(p.tensor.len(), 512 * 512);
            let mut tiny = image(Spec {
                w: 1,
                h: 1,
                ..Spec::default()
            });
            tiny.pixels = vec![3];
            let p = process(&tiny, None, &options);
            assert_eq!(p.tensor.len(), 512 * 512);
            assert!(!p.laterality_flipped);
        }
    }

    #[test]
    fn fill_row_copies_everything() {
        let d = image(Spec::default());
        let p = process(&d, Some("L"), &QcOptions::default());
        let mut row = ImageRow::default();
        d.fill_row(&mut row);
        let (crop_x0, tensor) = (p.crop_x0, p.tensor.clone());
        p.fill_row(&mut row);
        assert_eq!(row.columns, 300);
        assert_eq!(row.qc_method.as_deref(), Some("component"));
        assert_eq!(row.tensor, tensor);
        assert_eq!(row.tensor.len(), 512 * 512);
        assert_eq!(row.crop_x0, crop_x0);
    }
}
