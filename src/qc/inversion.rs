//! Polarity (SPEC §5.2): apply PhotometricInterpretation, then decide from
//! the pixels whether the stored background is bright. The decision is
//! relative to the **stored** values: `inverted` means the output is their
//! inverse (net), which is what `images.intensity_inverted` records.
//!
//! Content evidence (component method), two votes averaged because they
//! fail in different places: the histogram mode of a ring 8–14 % in from
//! the border (outside it live film borders; the breast fills the middle and
//! one side, so the ring is mostly background even for large or dense
//! breasts), and texture (tissue is textured, the background flat: flat
//! pixels away from the border mostly lie on the background's side of the
//! textured pixels' median). Neither trusts the mode of the whole image,
//! which a breast larger than its background takes over.

use super::Work;
use crate::decode::Decoded;

/// The polarity decision and its evidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Polarity {
    /// The output is the inverse of the stored values.
    pub inverted: bool,
    /// `monochrome1`, `content`, `monochrome1_mislabelled` or `None`.
    pub reason: Option<&'static str>,
    /// Evidence that the stored background is bright (positive = bright).
    pub score: Option<f64>,
}

/// Combines the header with the content evidence (`score > 0`: the stored
/// background is bright; `None`: undecidable, trust the header).
pub fn decide(photometric: Option<&str>, score: Option<f64>) -> Polarity {
    let monochrome1 = photometric
        .map(|p| p.trim().eq_ignore_ascii_case("MONOCHROME1"))
        .unwrap_or(false);
    let bright = score.map(|s| s > 0.0);
    let (inverted, reason) = match (monochrome1, bright) {
        (true, Some(false)) => (false, Some("monochrome1_mislabelled")),
        (true, _) => (true, Some("monochrome1")),
        (false, Some(true)) => (true, Some("content")),
        (false, _) => (false, None),
    };
    Polarity {
        inverted,
        reason,
        score,
    }
}

/// Component method: histogram-mode evidence on the working copy.
pub fn component(photometric: Option<&str>, work: &Work) -> Polarity {
    decide(photometric, bright_background_score(work))
}

/// Positive when the stored background is bright, in -1..=1; `None` for a
/// flat image. The mean of two votes that fail in different places:
/// [`ring_mode_score`] (where the background is) and [`texture_score`]
/// (what the background looks like).
pub fn bright_background_score(work: &Work) -> Option<f64> {
    let (lo, hi) = range(&work.px)?;
    let span = hi - lo;
    let unit: Vec<f32> = work.px.iter().map(|&v| (v - lo) / span).collect();
    let ring = ring_mode_score(&unit, work.w, work.h);
    let texture = texture_score(&unit, work.w, work.h);
    Some(((ring + texture) / 2.0).clamp(-1.0, 1.0))
}

/// The histogram mode (24 coarse bins, so a background spread by a gradient
/// still forms one peak) of the ring 8–14 % in from the image border, as a
/// position in -1..=1. Film borders live outside the ring; the breast fills
/// the middle of the image and one side, so the ring is mostly background
/// even when the breast is large or dense: its nipple side, its top and
/// bottom, its corners.
fn ring_mode_score(unit: &[f32], w: usize, h: usize) -> f64 {
    const BINS: usize = 24;
    let mut hist = [0u32; BINS];
    let (x0, x1) = ((w * 8 / 100), (w * 14 / 100).max(w * 8 / 100 + 1));
    let (y0, y1) = ((h * 8 / 100), (h * 14 / 100).max(h * 8 / 100 + 1));
    for (i, &v) in unit.iter().enumerate() {
        let (dx, dy) = ((i % w).min(w - 1 - i % w), (i / w).min(h - 1 - i / w));
        if dx >= x0 && dy >= y0 && (dx < x1 || dy < y1) {
            hist[((v * BINS as f32) as usize).min(BINS - 1)] += 1;
        }
    }
    let smooth = |i: usize| {
        let a = if i > 0 { hist[i - 1] } else { 0 };
        let c = if i + 1 < BINS { hist[i + 1] } else { 0 };
        a + 2 * hist[i] + c
    };
    let mode = (0..BINS)
        .max_by_key(|&i| (smooth(i), BINS - i))
        .unwrap_or(0);
    2.0 * (mode as f64 + 0.5) / BINS as f64 - 1.0
}

/// Tissue is textured and the background is flat: the median value of the
/// textured pixels (local deviation of a 5×5-smoothed copy, in 9×9
/// windows, above 3× its 10th percentile; smoothing first keeps white noise
/// out) is the tissue level. Flat pixels (below 1.5× that percentile) inside
/// a 12 % inset, away from film borders, are mostly background: in -1..=1,
/// the share of them brighter than the tissue level minus the share darker.
fn texture_score(unit: &[f32], w: usize, h: usize) -> f64 {
    let smooth = box_mean(unit, w, h, 2);
    let squares: Vec<f32> = smooth.iter().map(|v| v * v).collect();
    let (mean, mean_sq) = (box_mean(&smooth, w, h, 4), box_mean(&squares, w, h, 4));
    let deviation: Vec<f32> = mean
        .iter()
        .zip(&mean_sq)
        .map(|(m, s)| (s - m * m).max(0.0).sqrt())
        .collect();
    // The exact order statistics by selection (no full sort).
    let mut sorted = deviation.clone();
    let tenth = sorted.len() / 10;
    let floor = *sorted.select_nth_unstable_by(tenth, f32::total_cmp).1 + 1e-6;
    let mut textured: Vec<f32> = unit
        .iter()
        .zip(&deviation)
        .filter(|&(_, &d)| d > 3.0 * floor)
        .map(|(&v, _)| v)
        .collect();
    if textured.len() < 20 {
        return 0.0;
    }
    let half = textured.len() / 2;
    let tissue = *textured.select_nth_unstable_by(half, f32::total_cmp).1;
    let (x0, y0) = (w * 12 / 100, h * 12 / 100);
    let (mut brighter, mut darker) = (0.0f64, 0.0f64);
    for (i, (&v, &d)) in unit.iter().zip(&deviation).enumerate() {
        let (x, y) = (i % w, i / w);
        if d < 1.5 * floor && (x0..w - x0).contains(&x) && (y0..h - y0).contains(&y) {
            if v > tissue {
                brighter += 1.0;
            } else if v < tissue {
                darker += 1.0;
            }
        }
    }
    (brighter - darker) / (brighter + darker + 1.0)
}

/// Mean over the `(2r+1)²` square around each pixel (edges clamped), from a
/// summed-area table.
pub(super) fn box_mean(px: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut table = vec![0.0f64; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0.0f64;
        for x in 0..w {
            row += px[y * w + x] as f64;
            table[(y + 1) * (w + 1) + x + 1] = table[y * (w + 1) + x + 1] + row;
        }
    }
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        let (ya, yb) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (xa, xb) = (x.saturating_sub(r), (x + r + 1).min(w));
            let sum =
                table[yb * (w + 1) + xb] - table[ya * (w + 1) + xb] - table[yb * (w + 1) + xa]
                    + table[ya * (w + 1) + xa];
            out[y * w + x] = (sum / ((yb - ya) * (xb - xa)) as f64) as f32;
        }
    }
    out
}

/// The baseline: the side window with the smaller standard deviation is the
/// background; it is bright when its mean exceeds the image mean.
pub fn edge_window(photometric: Option<&str>, decoded: &Decoded) -> Polarity {
    let score = super::laterality::edge_windows(decoded).and_then(|(l, r)| {
        let (mean_all, span) = mean_and_span(&decoded.pixels)?;
        let background = if l.std <= r.std { l } else { r };
        Some((background.mean - mean_all) / span)
    });
    decide(photometric, score)
}

fn mean_and_span(px: &[u16]) -> Option<(f64, f64)> {
    let lo = *px.iter().min()? as f64;
    let hi = *px.iter().max()? as f64;
    if hi <= lo {
        return None;
    }
    let sum: u64 = px.iter().map(|&v| v as u64).sum();
    Some((sum as f64 / px.len() as f64, hi - lo))
}

fn range(px: &[f32]) -> Option<(f32, f32)> {
    let lo = px.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = px.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (hi > lo).then_some((lo, hi))
}

/// The working copy in display polarity, scaled to 0..=1 (0 everywhere for a
/// flat image).
pub fn display_copy(work: &Work, inverted: bool) -> Work {
    let (lo, hi) = range(&work.px).unwrap_or((0.0, 1.0));
    let span = hi - lo;
    let px = work
        .px
        .iter()
        .map(|&v| {
            let u = ((v - lo) / span).clamp(0.0, 1.0);
            if inverted { 1.0 - u } else { u }
        })
        .collect();
    Work {
        w: work.w,
        h: work.h,
        px,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testimg::{Spec, image};
    use super::*;

    #[test]
    fn header_and_content_combine_as_the_schema_says() {
        let cases = [
            (Some("MONOCHROME1"), Some(0.5), true, Some("monochrome1")),
            (
                Some("MONOCHROME1"),
                Some(-0.5),
                false,
                Some("monochrome1_mislabelled"),
            ),
            (Some("MONOCHROME1"), None, true, Some("monochrome1")),
            (Some("MONOCHROME2"), Some(0.5), true, Some("content")),
            (Some("MONOCHROME2"), Some(-0.5), false, None),
            (None, Some(0.3), true, Some("content")),
            (None, None, false, None),
        ];
        for (photometric, score, inverted, reason) in cases {
            let p = decide(photometric, score);
            assert_eq!(
                (p.inverted, p.reason),
                (inverted, reason),
                "{photometric:?} {score:?}"
            );
        }
    }

    #[test]
    fn content_score_sees_bright_backgrounds_with_borders_and_markers() {
        for film_border in [false, true] {
            for marker in [false, true] {
                for inverted in [false, true] {
                    let d = image(Spec {
                        film_border,
                        marker,
                        inverted,
                        gradient: film_border,
                        ..Spec::default()
                    });
                    let work = Work::of(&d, 128);
                    let s = bright_background_score(&work).unwrap();
                    assert_eq!(
                        s > 0.0,
                        inverted,
                        "border {film_border} marker {marker}: {s}"
                    );
                }
            }
        }
    }

    #[test]
    fn edge_window_baseline_reads_plain_images() {
        let d = image(Spec {
            inverted: true,
            ..Spec::default()
        });
        assert!(edge_window(Some("MONOCHROME2"), &d).inverted);
        let d = image(Spec::default());
        assert!(!edge_window(Some("MONOCHROME2"), &d).inverted);
    }
}
