//! Normalization (SPEC §5.4): the stored-value range of the breast region —
//! robust 0.5th/99.5th percentiles of the stored values inside the breast
//! mask — is mapped onto 0…65535, so burned-in markers, film borders and the
//! background do not compress the tissue.

use super::Work;
use crate::decode::Decoded;

/// Lower and upper percentiles used for the breast range.
pub const LOW_PERCENTILE: f64 = 0.005;
pub const HIGH_PERCENTILE: f64 = 0.995;

/// About how many stored pixels [`breast_range`] samples.
const SAMPLES: f64 = (1 << 18) as f64;

/// `(low, high)` stored values of the breast region (`mask` on the working
/// copy; the whole image without one), with `high > low`. Sampled on a grid
/// of at most about 2^18 stored pixels (a 0.5 % quantile of a quarter of a
/// million samples is still a thousand pixels deep).
pub fn breast_range(decoded: &Decoded, work: &Work, mask: Option<&[bool]>) -> (u16, u16) {
    let (cols, rows) = (decoded.columns as usize, decoded.rows as usize);
    if cols == 0 || rows == 0 || decoded.pixels.len() < cols * rows {
        return (0, 1);
    }
    let stride = ((cols * rows) as f64 / SAMPLES).sqrt().ceil().max(1.0) as usize;
    let mask = mask.filter(|m| m.len() == work.w * work.h && m.iter().any(|&b| b));
    let sampled: Vec<(usize, usize)> = (0..cols)
        .step_by(stride)
        .map(|x| (x, (x * work.w / cols).min(work.w.saturating_sub(1))))
        .collect();
    let mut hist = vec![0u32; 65536];
    let mut n = 0u64;
    for y in (0..rows).step_by(stride) {
        let row = &decoded.pixels[y * cols..(y + 1) * cols];
        match mask {
            Some(m) => {
                let wy = (y * work.h / rows).min(work.h.saturating_sub(1));
                let mrow = &m[wy * work.w..(wy + 1) * work.w];
                for &(x, wx) in &sampled {
                    if mrow[wx] {
                        hist[row[x] as usize] += 1;
                        n += 1;
                    }
                }
            }
            None => {
                for &(x, _) in &sampled {
                    hist[row[x] as usize] += 1;
                }
                n += sampled.len() as u64;
            }
        }
    }
    let quantile = |q: f64| -> u16 {
        let target = (q * n as f64).floor() as u64;
        let mut acc = 0u64;
        for (v, &c) in hist.iter().enumerate() {
            acc += c as u64;
            if acc > target {
                return v as u16;
            }
        }
        u16::MAX
    };
    let (mut low, mut high) = (quantile(LOW_PERCENTILE), quantile(HIGH_PERCENTILE));
    if high <= low {
        if low == u16::MAX {
            low -= 1;
        }
        high = low + 1;
    }
    (low, high)
}

/// Maps a stored value (possibly interpolated) into 0…65535, inverting when
/// the polarity stage says so.
pub fn map(value: f32, low: u16, high: u16, inverted: bool) -> u16 {
    // A product with the reciprocal: loop-invariant, so a caller's
    // per-pixel loop multiplies instead of dividing.
    let scale = 1.0 / (high as f32 - low as f32);
    // max/min rather than clamp: a NaN comes out as 0 (as `as u16` made of
    // it), so `u` is always in 0..=1.
    #[allow(clippy::manual_clamp)]
    let u = ((value - low as f32) * scale).max(0.0).min(1.0);
    let u = if inverted { 1.0 - u } else { u };
    // `+ 0.5` then truncation rounds like `round` (u ≥ 0) without a libm call.
    // SAFETY: the value is in 0.5..=65535.5, inside i32's range and not NaN,
    // so the unchecked conversion (one that vectorizes) is defined and
    // equals the saturating `as u16`.
    unsafe { (u * 65535.0 + 0.5).to_int_unchecked::<i32>() as u16 }
}

#[cfg(test)]
mod tests {
    use super::super::testimg::{Spec, image};
    use super::*;

    #[test]
    fn markers_do_not_compress_the_tissue() {
        let d = image(Spec {
            marker: true,
            film_border: true,
            ..Spec::default()
        });
        let work = Work::of(&d, 100);
        let mask: Vec<bool> = (0..work.w * work.h)
            .map(|i| {
                (i % work.w) > work.w / 10
                    && (i % work.w) < work.w / 3
                    && (i / work.w) > work.h / 4
                    && (i / work.w) < work.h * 3 / 4
            })
            .collect();
        let (low, high) = breast_range(&d, &work, Some(&mask));
        // Tissue is 0.35..0.65 of 4095; markers are 0.98, borders 0.92.
        assert!(
            low as f32 > 0.3 * 4095.0 && (high as f32) < 0.7 * 4095.0,
            "{low} {high}"
        );
        let (_, whole_high) = breast_range(&d, &work, None);
        assert!(whole_high as f32 > 0.9 * 4095.0);
    }

    #[test]
    fn mapping_clamps_and_inverts() {
        assert_eq!(map(10.0, 10, 20, false), 0);
        assert_eq!(map(25.0, 10, 20, false), 65535);
        assert_eq!(map(15.0, 10, 20, false), 32768);
        assert_eq!(map(25.0, 10, 20, true), 0);
        assert_eq!(map(f32::NAN, 10, 20, false), 0);
        assert_eq!(map(f32::INFINITY, 10, 20, false), 65535);
        assert_eq!(map(f32::NEG_INFINITY, 10, 20, true), 65535);
        assert_eq!(map(19.999, 10, 20, false), 65528);
        let flat = image(Spec::default());
        let mut flat = flat;
        flat.pixels.iter_mut().for_each(|v| *v = 65535);
        let work = Work::of(&flat, 50);
        assert_eq!(breast_range(&flat, &work, None), (65534, 65535));
    }
}
