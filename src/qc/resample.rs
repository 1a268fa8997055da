//! Area-average downscaling of a crop of a 16-bit image: every output pixel
//! is the mean of the source area it covers, partly covered source pixels
//! weighted by the fraction covered (what OpenCV calls `INTER_AREA`).
//!
//! Written here rather than taken from `fast_image_resize` for speed: that
//! crate's 16-bit convolution runs its horizontal pass first, over every
//! source row, with 64-bit integer sums (with the normalization map after
//! it, ~12 % of an ingest's CPU against ~5 % now).
//! This one runs the vertical pass first, over contiguous rows in `f32` (a
//! loop the compiler vectorizes), so the horizontal pass only sees output
//! rows. Enlarging still goes through `fast_image_resize` (Lanczos-3), and
//! so does the small QC working copy (its box filter: the detectors were
//! tuned and scored on its noise statistics).

use fast_image_resize as fr;

/// The source samples and weights of each output pixel along one axis:
/// output `i` is `Σ_k weight[i·taps + k] · source[start[i] + k]`.
struct Axis {
    taps: usize,
    start: Vec<usize>,
    weight: Vec<f32>,
}

impl Axis {
    /// Output pixel `i` of `n` covers `[i·len/n, (i+1)·len/n)` of a source
    /// axis `len` long (`n ≤ len`, `n ≥ 1`).
    fn new(len: usize, n: usize) -> Axis {
        let ratio = len as f64 / n as f64;
        // An interval `ratio` long starting anywhere touches at most
        // ⌈ratio⌉ + 1 pixels.
        let taps = (ratio.ceil() as usize + 1).min(len);
        let mut start = Vec::with_capacity(n);
        let mut weight = vec![0f32; n * taps];
        for i in 0..n {
            let (a, b) = (i as f64 * ratio, ((i + 1) as f64 * ratio).min(len as f64));
            // The window starts at the first covered pixel, moved left when
            // it would run past the end (the extra taps get weight 0).
            let s = (a.floor() as usize).min(len - taps);
            start.push(s);
            for (k, w) in weight[i * taps..(i + 1) * taps].iter_mut().enumerate() {
                let (p0, p1) = ((s + k) as f64, (s + k + 1) as f64);
                let covered = (p1.min(b) - p0.max(a)).max(0.0);
                *w = (covered / ratio) as f32;
            }
        }
        Axis {
            taps,
            start,
            weight,
        }
    }
}

crate::simd::avx2_dispatch! {
/// Area-averages the `(x0, y0, width, height)` crop of a `cols`-wide image
/// into `out = (w, h)` values, row-major. `None` when the crop is not inside
/// `px`, or `out` is empty or larger than the crop on either axis.
pub fn area_downscale(
    px: &[u16],
    cols: usize,
    crop: (usize, usize, usize, usize),
    out: (usize, usize),
) -> Option<Vec<f32>> {
    let (x0, y0, cw, ch) = crop;
    let (w, h) = out;
    let inside = x0 + cw <= cols && (y0 + ch) * cols <= px.len();
    if !inside || w == 0 || h == 0 || w > cw || h > ch {
        return None;
    }
    let (xs, ys) = (Axis::new(cw, w), Axis::new(ch, h));
    let mut column_sums = vec![0f32; cw];
    let mut result = vec![0f32; w * h];
    for (i, out) in result.chunks_exact_mut(w).enumerate() {
        // Vertical: the weighted sum of the covered source rows.
        // The first covered row sets the sums (no clearing pass).
        let weights = &ys.weight[i * ys.taps..(i + 1) * ys.taps];
        let mut first = true;
        for (k, &wy) in weights.iter().enumerate().filter(|(_, w)| **w > 0.0) {
            let y = y0 + ys.start[i] + k;
            let row = &px[y * cols + x0..y * cols + x0 + cw];
            let sums = column_sums.iter_mut().zip(row);
            if std::mem::take(&mut first) {
                sums.for_each(|(s, &v)| *s = wy * f32::from(v));
            } else {
                sums.for_each(|(s, &v)| *s += wy * f32::from(v));
            }
        }
        if first {
            column_sums.fill(0.0);
        }
        // Horizontal: the same over the column sums, with the tap count a
        // constant where it is small (an unrolled loop).
        match xs.taps {
            1 => horizontal::<1>(&column_sums, &xs, out),
            2 => horizontal::<2>(&column_sums, &xs, out),
            3 => horizontal::<3>(&column_sums, &xs, out),
            4 => horizontal::<4>(&column_sums, &xs, out),
            5 => horizontal::<5>(&column_sums, &xs, out),
            6 => horizontal::<6>(&column_sums, &xs, out),
            taps => {
                for ((o, &s), w) in out
                    .iter_mut()
                    .zip(&xs.start)
                    .zip(xs.weight.chunks_exact(taps))
                {
                    *o = column_sums[s..s + taps]
                        .iter()
                        .zip(w)
                        .map(|(v, w)| v * w)
                        .sum();
                }
            }
        }
    }
    Some(result)
}
}

/// One output row of the horizontal pass, `T` taps a pixel.
#[inline(always)]
fn horizontal<const T: usize>(sums: &[f32], xs: &Axis, out: &mut [f32]) {
    for ((o, &s), w) in out.iter_mut().zip(&xs.start).zip(xs.weight.chunks_exact(T)) {
        let (Some(window), Ok(w)) = (sums.get(s..s + T), <&[f32; T]>::try_from(w)) else {
            continue;
        };
        let mut acc = 0.0;
        for k in 0..T {
            acc += window[k] * w[k];
        }
        *o = acc;
    }
}

/// Resizes the `(left, top, width, height)` crop of a `size = (w, h)` u16
/// image into `out = (w, h)` with one of `fast_image_resize`'s convolution
/// filters. `None` on its error (never expected for valid sizes).
pub fn convolve(
    pixels: &[u16],
    size: (usize, usize),
    crop: (f64, f64, f64, f64),
    out: (usize, usize),
    filter: fr::FilterType,
) -> Option<Vec<u16>> {
    use fr::images::{TypedImage, TypedImageRef};
    use fr::pixels::U16;
    // SAFETY: `U16` is a `#[repr(C)]` wrapper of one `u16` (plus a
    // zero-sized marker), valid for every bit pattern, with u16's alignment.
    let (prefix, typed, suffix) = unsafe { pixels.align_to::<U16>() };
    if !prefix.is_empty() || !suffix.is_empty() {
        return None;
    }
    let src = TypedImageRef::new(size.0 as u32, size.1 as u32, typed).ok()?;
    let mut dst = TypedImage::<U16>::new(out.0 as u32, out.1 as u32);
    let options = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(filter))
        .crop(crop.0, crop.1, crop.2, crop.3);
    fr::Resizer::new()
        .resize_typed(&src, &mut dst, &options)
        .ok()?;
    Some(dst.pixels().iter().map(|p| p.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_blocks_average_exactly() {
        // 4×4 → 2×2: each output is the mean of one 2×2 block.
        let px: Vec<u16> = (0..16).collect();
        let out = area_downscale(&px, 4, (0, 0, 4, 4), (2, 2)).unwrap();
        assert_eq!(out, vec![2.5, 4.5, 10.5, 12.5]);
    }

    #[test]
    fn partial_pixels_are_weighted_by_coverage() {
        // 3 → 2 along x: output 0 covers pixel 0 and half of pixel 1.
        let px = [0u16, 300, 600];
        let out = area_downscale(&px, 3, (0, 0, 3, 1), (2, 1)).unwrap();
        assert!((out[0] - 100.0).abs() < 1e-3, "{out:?}");
        assert!((out[1] - 500.0).abs() < 1e-3, "{out:?}");
    }

    #[test]
    fn crops_keep_the_mean_and_constant_images_stay_constant() {
        let (cols, rows) = (37, 23);
        let px: Vec<u16> = (0..cols * rows).map(|i| (i * 7919 % 4096) as u16).collect();
        let crop = (3, 2, 31, 19);
        let out = area_downscale(&px, cols, crop, (9, 7)).unwrap();
        let mean_in: f64 = (crop.1..crop.1 + crop.3)
            .flat_map(|y| (crop.0..crop.0 + crop.2).map(move |x| (x, y)))
            .map(|(x, y)| f64::from(px[y * cols + x]))
            .sum::<f64>()
            / (crop.2 * crop.3) as f64;
        let mean_out = out.iter().map(|&v| f64::from(v)).sum::<f64>() / out.len() as f64;
        assert!((mean_in - mean_out).abs() < 0.05, "{mean_in} vs {mean_out}");
        let flat = vec![1234u16; cols * rows];
        let out = area_downscale(&flat, cols, crop, (5, 11)).unwrap();
        assert!(out.iter().all(|&v| (v - 1234.0).abs() < 0.05), "{out:?}");
    }

    #[test]
    fn bad_requests_are_refused() {
        let px = vec![0u16; 12];
        assert!(area_downscale(&px, 4, (0, 0, 4, 4), (2, 2)).is_none());
        assert!(area_downscale(&px, 4, (2, 0, 3, 3), (1, 1)).is_none());
        assert!(area_downscale(&px, 4, (0, 0, 4, 3), (5, 1)).is_none());
        assert!(area_downscale(&px, 4, (0, 0, 4, 3), (0, 1)).is_none());
        assert_eq!(
            area_downscale(&px, 4, (0, 0, 4, 3), (4, 3)).unwrap().len(),
            12
        );
    }
}
