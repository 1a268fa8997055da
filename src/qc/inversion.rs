//! Polarity (SPEC §5.2): apply PhotometricInterpretation, then decide from
//! the pixels whether the stored background is bright. The decision is
//! relative to the **stored** values: `inverted` means the output is their
//! inverse (net), which is what `images.intensity_inverted` records.
//!
//! Content evidence (component method): the background is the largest flat
//! region of a mammogram, so the mode of a smoothed histogram of the small
//! working copy sits at the background level; its position in the value
//! range tells whether the background is dark or bright. The histogram
//! leaves out the outer 12 % of each side, where film borders live; markers
//! are small next to the background and do not move the mode. When
//! the mode sits mid-range (ambiguous), the border ring of the image, minus
//! its outermost band (film edges), is compared with the image median.

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
/// flat image.
pub fn bright_background_score(work: &Work) -> Option<f64> {
    let (lo, hi) = range(&work.px)?;
    // Coarse bins: a background spread by a gradient still forms one peak.
    const BINS: usize = 24;
    let mut hist = [0u32; BINS];
    let span = hi - lo;
    // Film borders live in the outer ring: the mode is taken inside it.
    let (w, h) = (work.w, work.h);
    let (x0, x1) = (w * 12 / 100, w - w * 12 / 100);
    let (y0, y1) = (h * 12 / 100, h - h * 12 / 100);
    let inner = x1 > x0 && y1 > y0;
    for (i, &v) in work.px.iter().enumerate() {
        if inner && !((x0..x1).contains(&(i % w)) && (y0..y1).contains(&(i / w))) {
            continue;
        }
        let b = (((v - lo) / span) * BINS as f32) as usize;
        hist[b.min(BINS - 1)] += 1;
    }
    let smooth: Vec<u32> = (0..BINS)
        .map(|i| {
            let a = if i > 0 { hist[i - 1] } else { 0 };
            let c = if i + 1 < BINS { hist[i + 1] } else { 0 };
            a + 2 * hist[i] + c
        })
        .collect();
    let mode = (0..BINS).max_by_key(|&i| (smooth[i], BINS - i))?;
    let mode_pos = (mode as f64 + 0.5) / BINS as f64;
    let mode_score = 2.0 * mode_pos - 1.0;
    if mode_score.abs() >= 0.4 {
        return Some(mode_score);
    }
    // Ambiguous: the ring between 6 % and 15 % from the border against the median.
    let mut sorted = work.px.clone();
    sorted.sort_by(f32::total_cmp);
    let median = sorted[sorted.len() / 2];
    let (ix0, ix1) = ((w * 6 / 100), (w * 15 / 100).max(w * 6 / 100 + 1));
    let (iy0, iy1) = ((h * 6 / 100), (h * 15 / 100).max(h * 6 / 100 + 1));
    let mut ring = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let dx = x.min(w - 1 - x);
            let dy = y.min(h - 1 - y);
            let inside_outer = dx >= ix0 && dy >= iy0;
            let in_ring = dx < ix1 || dy < iy1;
            if inside_outer && in_ring {
                ring.push(work.px[y * w + x]);
            }
        }
    }
    if ring.is_empty() {
        return Some(mode_score);
    }
    ring.sort_by(f32::total_cmp);
    let ring_median = ring[ring.len() / 2];
    let ring_score = ((ring_median - median) / span) as f64;
    Some((0.5 * mode_score + ring_score).clamp(-1.0, 1.0))
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
