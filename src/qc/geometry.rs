//! Geometry (SPEC §5.5): crop to the breast box, mirror to the canonical
//! orientation (chest wall on the left), resize aspect-preserving: an area
//! average when shrinking (`resample`), as the image is after a reduced
//! decode too, so the two compose into one area average; Lanczos-3
//! (`fast_image_resize`) when enlarging; anchor at the left edge, centre
//! vertically, zero-pad; and map boxes with the same transform.

use super::Work;
use crate::decode::Decoded;

/// The transform from stored pixels to tensor pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    pub crop_x0: f64,
    pub crop_y0: f64,
    /// Exclusive.
    pub crop_x1: f64,
    /// Exclusive.
    pub crop_y1: f64,
    /// Mirrored horizontally (about the crop box).
    pub hflip: bool,
    /// Tensor pixels per stored pixel.
    pub scale: f64,
    pub pad_left: f64,
    pub pad_top: f64,
    /// `(H, W)`.
    pub tensor_shape: (usize, usize),
}

/// Maps a stored-image box `(x0, y0, x1, y1)` (pixel edges, before
/// mirroring) into tensor pixels with the image's transform, clipped to the
/// tensor. Accurate to half a tensor pixel (the resized size is rounded).
pub fn map_box(g: &Geometry, bx: (f64, f64, f64, f64)) -> (f64, f64, f64, f64) {
    let (x0, y0, x1, y1) = bx;
    let (a, b) = if g.hflip {
        (g.crop_x1 - x1, g.crop_x1 - x0)
    } else {
        (x0 - g.crop_x0, x1 - g.crop_x0)
    };
    let (h, w) = (g.tensor_shape.0 as f64, g.tensor_shape.1 as f64);
    let tx = |v: f64| (v * g.scale + g.pad_left).clamp(0.0, w);
    let ty = |v: f64| ((v - g.crop_y0) * g.scale + g.pad_top).clamp(0.0, h);
    (tx(a), ty(y0), tx(b), ty(y1))
}

/// The bounding box `(x0, y0, x1, y1)` (inclusive ends) of pixel indices
/// on a `w`-wide image; `None` when there are none.
pub(super) fn bounding_box(
    pixels: impl IntoIterator<Item = usize>,
    w: usize,
) -> Option<(usize, usize, usize, usize)> {
    pixels.into_iter().fold(None, |b, i| {
        let (x, y) = (i % w, i / w);
        Some(b.map_or((x, y, x, y), |(x0, y0, x1, y1)| {
            (x0.min(x), y0.min(y), x1.max(x), y1.max(y))
        }))
    })
}

/// The breast box `(x0, y0, x1, y1)` in stored pixels (exclusive ends): the
/// mask's bounding box on the working copy plus one working pixel, scaled
/// up; the whole image without a mask.
pub fn breast_box(
    decoded: &Decoded,
    work: &Work,
    mask: Option<&[bool]>,
) -> (usize, usize, usize, usize) {
    let (cols, rows) = (decoded.columns as usize, decoded.rows as usize);
    let full = (0, 0, cols, rows);
    let Some(mask) = mask.filter(|m| m.len() == work.w * work.h) else {
        return full;
    };
    let Some((bx0, by0, bx1, by1)) = bounding_box((0..mask.len()).filter(|&i| mask[i]), work.w)
    else {
        return full;
    };
    let sx = cols as f64 / work.w as f64;
    let sy = rows as f64 / work.h as f64;
    let x0 = ((bx0.saturating_sub(1)) as f64 * sx).floor() as usize;
    let y0 = ((by0.saturating_sub(1)) as f64 * sy).floor() as usize;
    let x1 = (((bx1 + 2).min(work.w)) as f64 * sx).ceil() as usize;
    let y1 = (((by1 + 2).min(work.h)) as f64 * sy).ceil() as usize;
    let (x0, y0) = (
        x0.min(cols.saturating_sub(1)),
        y0.min(rows.saturating_sub(1)),
    );
    (
        x0,
        y0,
        x1.clamp(x0 + 1, cols.max(1)),
        y1.clamp(y0 + 1, rows.max(1)),
    )
}

/// The placed tensor and its transform numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub scale: f64,
    pub pad_left: usize,
    pub pad_top: usize,
    pub tensor: Vec<u16>,
}

/// Resizes the `crop` of the stored image into `shape = (H, W)`, applies
/// `map` (normalization) to every resized value, mirrors when `hflip`, and
/// places it at the left edge, centred vertically, zero elsewhere.
pub fn place(
    decoded: &Decoded,
    crop: (usize, usize, usize, usize),
    hflip: bool,
    shape: (usize, usize),
    map: impl Fn(f32) -> u16,
) -> Placed {
    let (th, tw) = shape;
    let mut tensor = vec![0u16; th * tw];
    let (cols, rows) = (decoded.columns as usize, decoded.rows as usize);
    let (x0, y0, x1, y1) = crop;
    let (cw, ch) = (x1.saturating_sub(x0), y1.saturating_sub(y0));
    if th == 0 || tw == 0 || cw == 0 || ch == 0 || decoded.pixels.len() < cols * rows {
        return Placed {
            scale: 0.0,
            pad_left: 0,
            pad_top: 0,
            tensor,
        };
    }
    let scale = (tw as f64 / cw as f64).min(th as f64 / ch as f64);
    let nw = ((cw as f64 * scale).round() as usize).clamp(1, tw);
    let nh = ((ch as f64 * scale).round() as usize).clamp(1, th);
    let crop = (x0, y0, cw, ch);
    let resized = if scale < 1.0 {
        super::resample::area_downscale(&decoded.pixels, cols, crop, (nw, nh))
    } else {
        let crop = (x0 as f64, y0 as f64, cw as f64, ch as f64);
        super::resample::convolve(
            &decoded.pixels,
            (cols, rows),
            crop,
            (nw, nh),
            fast_image_resize::FilterType::Lanczos3,
        )
        .map(|v| v.into_iter().map(f32::from).collect())
    }
    .unwrap_or_else(|| {
        // Nearest-neighbour fallback (not expected to be needed).
        (0..nw * nh)
            .map(|i| {
                let sx = x0 + ((i % nw) * cw / nw).min(cw - 1);
                let sy = y0 + ((i / nw) * ch / nh).min(ch - 1);
                f32::from(decoded.pixels[sy * cols + sx])
            })
            .collect()
    });
    let pad_top = (th - nh) / 2;
    for (y, row) in resized.chunks_exact(nw).enumerate() {
        let out = &mut tensor[(pad_top + y) * tw..(pad_top + y) * tw + nw];
        // Mapped in order, then mirrored: a loop that vectorizes.
        for (o, &v) in out.iter_mut().zip(row) {
            *o = map(v);
        }
        if hflip {
            out.reverse();
        }
    }
    Placed {
        scale,
        pad_left: 0,
        pad_top,
        tensor,
    }
}

/// A processed grey image at the decoded resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct FullImage {
    pub width: usize,
    pub height: usize,
    /// Row-major `height × width`.
    pub pixels: Vec<u16>,
}

/// The `crop` of the stored image, mirrored when `hflip`, with `map`
/// (normalization) applied to every pixel: the tensor before resizing.
pub fn crop_mirror_map(
    decoded: &Decoded,
    crop: (usize, usize, usize, usize),
    hflip: bool,
    map: impl Fn(f32) -> u16,
) -> FullImage {
    let (cols, rows) = (decoded.columns as usize, decoded.rows as usize);
    let (x0, y0) = (crop.0.min(cols), crop.1.min(rows));
    let (x1, y1) = (crop.2.clamp(x0, cols), crop.3.clamp(y0, rows));
    let (w, h) = (x1 - x0, y1 - y0);
    if decoded.pixels.len() < cols * rows {
        return FullImage {
            width: 0,
            height: 0,
            pixels: Vec::new(),
        };
    }
    let mut pixels = Vec::with_capacity(w * h);
    for y in y0..y1 {
        let row = &decoded.pixels[y * cols + x0..y * cols + x1];
        if hflip {
            pixels.extend(row.iter().rev().map(|&v| map(v as f32)));
        } else {
            pixels.extend(row.iter().map(|&v| map(v as f32)));
        }
    }
    FullImage {
        width: w,
        height: h,
        pixels,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testimg::{Spec, image};
    use super::*;

    #[test]
    fn boxes_map_with_the_same_transform_as_the_pixels() {
        // A bright 10x10 square in a dark 200x100 image, mirrored.
        let mut d = image(Spec {
            w: 200,
            h: 100,
            ..Spec::default()
        });
        d.pixels.iter_mut().for_each(|v| *v = 0);
        for y in 40..50 {
            for x in 20..30 {
                d.pixels[y * 200 + x] = 1000;
            }
        }
        let placed = place(&d, (0, 0, 200, 100), true, (50, 100), |v| {
            v.min(1000.0) as u16
        });
        assert_eq!((placed.scale, placed.pad_top), (0.5, 0));
        let g = Geometry {
            crop_x0: 0.0,
            crop_y0: 0.0,
            crop_x1: 200.0,
            crop_y1: 100.0,
            hflip: true,
            scale: placed.scale,
            pad_left: 0.0,
            pad_top: placed.pad_top as f64,
            tensor_shape: (50, 100),
        };
        let (tx0, ty0, tx1, ty1) = map_box(&g, (20.0, 40.0, 30.0, 50.0));
        assert_eq!((tx0, ty0, tx1, ty1), (85.0, 20.0, 90.0, 25.0));
        let centre = placed.tensor[22 * 100 + 87];
        assert!(centre > 800, "{centre}");
        assert!(placed.tensor[22 * 100 + 12] < 50);
    }

    #[test]
    fn tall_crop_is_centred_and_anchored_left() {
        let d = image(Spec {
            w: 300,
            h: 400,
            ..Spec::default()
        });
        let placed = place(&d, (0, 0, 100, 400), false, (200, 200), |_| 9);
        assert_eq!((placed.scale, placed.pad_left, placed.pad_top), (0.5, 0, 0));
        let placed = place(&d, (0, 0, 200, 100), false, (200, 200), |_| 9);
        assert_eq!(placed.pad_top, 50);
        assert_eq!(placed.tensor[49 * 200], 0);
        assert_eq!(placed.tensor[50 * 200], 9);
        assert_eq!(placed.tensor[149 * 200 + 199], 9);
    }
}
