//! Chest-wall side (SPEC §5.3) on the polarity-corrected working copy, and
//! the breast mask the later stages crop and normalize on.
//!
//! Component method, step by step:
//! 1. Film borders (uniform bright bands along an edge that end in a step)
//!    are peeled off as frame.
//! 2. A quadratic background surface (gradients, vignetting) is fitted to
//!    the lower envelope of the remaining pixels (from the darkest 30 %, or
//!    10 % when that leaves under a tenth of the image as tissue: a breast
//!    much larger than its background) and subtracted; tissue is what lies
//!    more than 4σ of the background's residual above it.
//! 3. An opening with a square of side ≈ 5 % of the short side removes thin
//!    bright structures (burned-in text, rulers, scanner lines); the
//!    largest remaining component is the breast, grown back into the tissue
//!    class by the same radius so its chest-wall edge is kept.
//! 4. Three votes, each positive for "left", are summed: the component's
//!    mass centroid against the image centre, its taper (the breast is tall
//!    at the chest wall and narrow at the nipple, measured 5–15 % inside the
//!    box holding 98 % of its mass) and its contact length with each side
//!    edge (inside any peeled film border). An offset breast still has its
//!    centroid and its tall end on the chest-wall side.
//!
//! The published baseline ([`edge_window`]) compares the standard deviation
//! of the 25 outermost stored columns on each side.

use super::Work;
use crate::decode::Decoded;

/// Image side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

impl Side {
    /// `left` / `right`, as recorded in `images.chest_wall_side`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }
}

/// A chest-wall decision and its margin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChestWall {
    /// `None` when undecidable (blank image).
    pub side: Option<Side>,
    /// The margin (larger = more confident).
    pub score: Option<f64>,
    /// The component method's votes (positive = left): centroid, taper,
    /// edge contact; zero for the baseline.
    pub votes: [f64; 3],
}

/// The breast component of the working copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    pub w: usize,
    pub h: usize,
    /// Breast pixels of the working copy; `None` when nothing was found.
    pub breast: Option<Vec<bool>>,
    /// Film-border pixels peeled off before segmenting (empty when none
    /// were looked for).
    pub frame: Vec<bool>,
}

/// Otsu threshold of values in 0..=1 (256 bins); `None` for a flat input.
pub fn otsu(px: &[f32]) -> Option<f32> {
    let lo = px.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = px.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return None;
    }
    let mut hist = [0u64; 256];
    let span = hi - lo;
    for &v in px {
        hist[(((v - lo) / span) * 255.0) as usize & 255] += 1;
    }
    let total = px.len() as f64;
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut w0, mut sum0, mut best, mut best_i) = (0.0, 0.0, -1.0, 0usize);
    for (i, &c) in hist.iter().enumerate() {
        w0 += c as f64;
        sum0 += i as f64 * c as f64;
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let m0 = sum0 / w0;
        let m1 = (sum_all - sum0) / w1;
        let between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if between > best {
            best = between;
            best_i = i;
        }
    }
    Some(lo + (best_i as f32 + 1.0) / 255.0 * span)
}

/// The value at quantile `q` (0..=1) of `v`, by selection (no full sort).
fn quantile(v: &[f32], q: f64) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    let mut copy = v.to_vec();
    let k = ((copy.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    Some(*copy.select_nth_unstable_by(k, f32::total_cmp).1)
}

/// Which film borders [`film_frame`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FrameLevel {
    /// Display polarity is known: clear film is brighter than the median.
    Bright,
    /// Polarity is not known yet: a band at any level (the polarity vote
    /// peels film borders before it knows which extreme they are at).
    Any,
}

/// Film borders: the clear margin of a scanned film, a uniform bright band
/// along an image edge. A side whose outermost line (its middle 70 %) is
/// uniform (and, with [`FrameLevel::Bright`], brighter than the image
/// median) is peeled: the pixels connected to that line, close to its
/// level, and at most 15 % in from it are frame. Tissue cut off by the
/// chest-wall edge is textured and varies along the edge, so it is never
/// peeled; a plain background edge is not brighter than the median.
pub(super) fn film_frame(s: &[f32], w: usize, h: usize, level_rule: FrameLevel) -> Vec<bool> {
    let mut frame = vec![false; w * h];
    let Some(median) = quantile(s, 0.5) else {
        return frame;
    };
    for side in 0..4 {
        let (len, depth_max) = if side < 2 {
            (h, (w * 15 / 100).max(1))
        } else {
            (w, (h * 15 / 100).max(1))
        };
        // Pixel index of (position along the edge, depth in from it).
        let at = |along: usize, depth: usize| match side {
            0 => along * w + depth,
            1 => along * w + (w - 1 - depth),
            2 => depth * w + along,
            _ => (h - 1 - depth) * w + along,
        };
        let skip = len * 5 / 100;
        let line: Vec<f32> = (skip..len - skip).map(|a| s[at(a, 0)]).collect();
        let (Some(p10), Some(level), Some(p90)) = (
            quantile(&line, 0.1),
            quantile(&line, 0.5),
            quantile(&line, 0.9),
        ) else {
            continue;
        };
        if p90 - p10 > 0.05 || (level_rule == FrameLevel::Bright && level <= median) {
            continue;
        }
        let tolerance = (2.0 * (p90 - p10)).max(0.03);
        let near = |i: usize| (s[i] - level).abs() <= tolerance;
        // Per line, the band runs in from the edge while it stays at its
        // level (a jagged inner edge is followed line by line) and ends
        // with a step; smooth tissue at the chest wall runs on.
        let runs: Vec<usize> = (0..len)
            .map(|along| (0..depth_max).take_while(|&d| near(at(along, d))).count())
            .collect();
        let ended = runs.iter().filter(|&&r| r < depth_max).count();
        if ended * 4 < len * 3 {
            continue;
        }
        for (along, &run) in runs.iter().enumerate() {
            for depth in 0..run {
                frame[at(along, depth)] = true;
            }
        }
    }
    frame
}

/// Least-squares quadratic surface in `(x, y)` (both scaled to -1..=1)
/// through the selected pixels, sampled on every other row and column.
fn fit_quadratic(s: &[f32], w: usize, h: usize, select: &[bool]) -> Option<[f64; 6]> {
    let mut m = [[0.0f64; 6]; 6];
    let mut rhs = [0.0f64; 6];
    let mut n = 0usize;
    for y in (0..h).step_by(2) {
        for x in (0..w).step_by(2) {
            let i = y * w + x;
            if !select[i] {
                continue;
            }
            n += 1;
            let f = quadratic_terms(x, y, w, h);
            for a in 0..6 {
                rhs[a] += f[a] * s[i] as f64;
                for b in 0..6 {
                    m[a][b] += f[a] * f[b];
                }
            }
        }
    }
    if n < 24 {
        return None;
    }
    solve(m, rhs)
}

fn quadratic_terms(x: usize, y: usize, w: usize, h: usize) -> [f64; 6] {
    let fx = 2.0 * x as f64 / w.max(2) as f64 - 1.0;
    let fy = 2.0 * y as f64 / h.max(2) as f64 - 1.0;
    [1.0, fx, fy, fx * fx, fx * fy, fy * fy]
}

/// Gaussian elimination with partial pivoting; `None` when singular.
fn solve<const N: usize>(mut m: [[f64; N]; N], mut r: [f64; N]) -> Option<[f64; N]> {
    for col in 0..N {
        let pivot = (col..N).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-9 {
            return None;
        }
        m.swap(col, pivot);
        r.swap(col, pivot);
        for row in 0..N {
            if row != col {
                let f = m[row][col] / m[col][col];
                let pivot_row = m[col];
                for (v, p) in m[row].iter_mut().zip(pivot_row) {
                    *v -= f * p;
                }
                r[row] -= f * r[col];
            }
        }
    }
    let mut out = [0.0; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = r[i] / m[i][i];
    }
    Some(out)
}

/// The smoothed copy's height above its background: a quadratic surface
/// (gradients, vignetting) fitted to the lower envelope of the non-frame
/// pixels, starting from the darkest 30 % and refitted to the pixels within
/// (-3σ, +1.5σ) of it (σ from the median absolute residual), so tissue,
/// which lies above the background, and dark label boxes, below it, drop
/// out. Returns the residuals and σ.
fn above_background(
    s: &[f32],
    w: usize,
    h: usize,
    frame: &[bool],
    start: f64,
) -> Option<(Vec<f32>, f32)> {
    let inside: Vec<f32> = s
        .iter()
        .zip(frame)
        .filter(|&(_, &f)| !f)
        .map(|(&v, _)| v)
        .collect();
    let start = quantile(&inside, start)?;
    let mut select: Vec<bool> = s
        .iter()
        .zip(frame)
        .map(|(&v, &f)| !f && v <= start)
        .collect();
    let mut residual = vec![0.0f32; w * h];
    let mut sigma = 0.0f32;
    for _ in 0..6 {
        let c = fit_quadratic(s, w, h, &select)?;
        for y in 0..h {
            for x in 0..w {
                let f = quadratic_terms(x, y, w, h);
                let surface: f64 = f.iter().zip(&c).map(|(a, b)| a * b).sum();
                residual[y * w + x] = s[y * w + x] - surface as f32;
            }
        }
        let deviations: Vec<f32> = residual
            .iter()
            .zip(&select)
            .filter(|&(_, &k)| k)
            .map(|(r, _)| r.abs())
            .collect();
        sigma = (1.4826 * quantile(&deviations, 0.5)?).max(1e-4);
        for ((k, &r), &f) in select.iter_mut().zip(&residual).zip(frame) {
            *k = !f && r > -3.0 * sigma && r < 1.5 * sigma;
        }
    }
    Some((residual, sigma))
}

/// Erosion (`erode = true`, outside counts as background) or dilation with a
/// `(2r+1)²` square, separably with running counts.
fn morph(mask: &[bool], w: usize, h: usize, r: usize, erode: bool) -> Vec<bool> {
    let full = 2 * r + 1;
    let pass = |src: &[bool], len: usize, lines: usize, at: &dyn Fn(usize, usize) -> usize| {
        let mut out = vec![false; src.len()];
        for line in 0..lines {
            let mut count = 0usize;
            // window [i - r, i + r]
            for i in 0..r.min(len) {
                count += src[at(line, i)] as usize;
            }
            for i in 0..len {
                if i + r < len {
                    count += src[at(line, i + r)] as usize;
                }
                if i > r {
                    count -= src[at(line, i - r - 1)] as usize;
                }
                out[at(line, i)] = if erode { count == full } else { count > 0 };
            }
        }
        out
    };
    let rows = pass(mask, w, h, &|line, i| line * w + i);
    pass(&rows, h, w, &|line, i| i * w + line)
}

/// The largest 4-connected component: its pixel indices.
fn largest_component(mask: &[bool], w: usize, h: usize) -> Vec<usize> {
    let mut seen = vec![false; mask.len()];
    let mut best: Vec<usize> = Vec::new();
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        let mut comp = Vec::new();
        seen[start] = true;
        stack.push(start);
        while let Some(i) = stack.pop() {
            comp.push(i);
            let (x, y) = (i % w, i / w);
            let mut visit = |j: usize| {
                if mask[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        if comp.len() > best.len() {
            best = comp;
        }
    }
    best
}

/// Segments the breast on the display copy (values 0..=1, tissue bright).
pub fn segment(display: &Work) -> Segmentation {
    let (w, h) = (display.w, display.h);
    let none = Segmentation {
        w,
        h,
        breast: None,
        frame: Vec::new(),
    };
    if w < 4 || h < 4 {
        return none;
    }
    let smooth = super::inversion::box_mean(&display.px, w, h, 1);
    let frame = film_frame(&smooth, w, h, FrameLevel::Bright);
    let tissue_of = |start: f64| {
        let (residual, sigma) = above_background(&smooth, w, h, &frame, start)?;
        let t = (4.0 * sigma).max(0.02);
        let tissue: Vec<bool> = residual
            .iter()
            .zip(&frame)
            .map(|(&r, &f)| !f && r > t)
            .collect();
        Some(tissue)
    };
    let Some(mut tissue) = tissue_of(0.3) else {
        return none;
    };
    // A breast much larger than its background: the darkest 30 % held
    // tissue and the fit followed it. Start again from the darkest 10 %.
    let inside = frame.iter().filter(|&&f| !f).count();
    if tissue.iter().filter(|&&t| t).count() * 10 < inside
        && let Some(lower) = tissue_of(0.1)
    {
        tissue = lower;
    }
    let min_area = ((w * h) / 500).max(1);
    let r = ((w.min(h) as f64 * 0.025).round() as usize).max(1);
    let opened = morph(&morph(&tissue, w, h, r, true), w, h, r, false);
    let mut core = largest_component(&opened, w, h);
    if core.len() < min_area {
        core = largest_component(&tissue, w, h);
        if core.len() < min_area {
            return Segmentation { frame, ..none };
        }
    }
    let mut core_mask = vec![false; w * h];
    core.iter().for_each(|&i| core_mask[i] = true);
    let grown = morph(&core_mask, w, h, r, false);
    let breast = grown.iter().zip(&tissue).map(|(&g, &t)| g && t).collect();
    Segmentation {
        w,
        h,
        breast: Some(breast),
        frame,
    }
}

impl Segmentation {
    /// The breast mask of the working copy, if one was found.
    pub fn breast_mask(&self) -> Option<Vec<bool>> {
        self.breast.clone()
    }

    /// Component method: centroid + taper + edge-contact votes.
    pub fn chest_wall(&self) -> ChestWall {
        let undecided = ChestWall {
            side: None,
            score: None,
            votes: [0.0; 3],
        };
        let Some(mask) = &self.breast else {
            return undecided;
        };
        let (w, h) = (self.w, self.h);
        let mut count = 0usize;
        let mut sum_x = 0.0f64;
        let mut col_height = vec![0usize; w];
        let edge = ((w as f64 * 0.02).round() as usize).max(1);
        let (mut touch_left, mut touch_right) = (0usize, 0usize);
        for y in 0..h {
            let row = &mask[y * w..(y + 1) * w];
            // The edge a row's tissue can touch: inside any film border.
            let (left_edge, right_edge) = match self.frame.get(y * w..(y + 1) * w) {
                Some(f) => (
                    f.iter().take_while(|&&b| b).count(),
                    f.iter().rev().take_while(|&&b| b).count(),
                ),
                None => (0, 0),
            };
            let (mut l, mut r) = (false, false);
            for (x, &m) in row.iter().enumerate() {
                if m {
                    count += 1;
                    sum_x += x as f64 + 0.5;
                    col_height[x] += 1;
                    l |= x < left_edge + edge;
                    r |= x + right_edge + edge >= w;
                }
            }
            touch_left += l as usize;
            touch_right += r as usize;
        }
        if count == 0 || w < 2 {
            return undecided;
        }
        let half = w as f64 / 2.0;
        let centroid = (half - sum_x / count as f64) / half;
        // The box holding 98 % of the mass, so that stray marker pixels
        // joined to the breast do not stretch it.
        let mass_at = |share: f64| {
            let mut seen = 0usize;
            col_height
                .iter()
                .position(|&c| {
                    seen += c;
                    seen as f64 > share * count as f64
                })
                .unwrap_or(0)
        };
        let (x0, x1) = (mass_at(0.01), mass_at(0.99));
        let bw = (x1 - x0 + 1) as f64;
        let band = |from: f64, to: f64| -> f64 {
            let a = (from.floor() as usize).min(w - 1);
            let b = (to.ceil() as usize).clamp(a + 1, w);
            col_height[a..b].iter().sum::<usize>() as f64 / (b - a) as f64
        };
        let hl = band(x0 as f64 + 0.05 * bw, x0 as f64 + 0.15 * bw);
        let hr = band(x1 as f64 + 1.0 - 0.15 * bw, x1 as f64 + 1.0 - 0.05 * bw);
        let taper = (hl - hr) / hl.max(hr).max(1.0);
        let contact = (touch_left as f64 - touch_right as f64) / h as f64;
        let score = centroid + taper + 0.5 * contact;
        let side = if score > 0.0 {
            Some(Side::Left)
        } else if score < 0.0 {
            Some(Side::Right)
        } else {
            None
        };
        ChestWall {
            side,
            score: side.map(|_| score.abs()),
            votes: [centroid, taper, contact],
        }
    }
}

/// Mean and standard deviation of one edge window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub mean: f64,
    pub std: f64,
}

/// The baseline's windows: the `n = 25` outermost stored columns on the left
/// and on the right (fewer on images narrower than 50 columns).
pub fn edge_windows(decoded: &Decoded) -> Option<(Window, Window)> {
    let (w, h) = (decoded.columns as usize, decoded.rows as usize);
    if w < 2 || h == 0 || decoded.pixels.len() < w * h {
        return None;
    }
    let n = 25.min(w / 2);
    let stats = |xs: std::ops::Range<usize>| {
        let (mut s, mut s2, mut c) = (0.0f64, 0.0f64, 0.0f64);
        for row in decoded.pixels.chunks_exact(w) {
            for &v in &row[xs.clone()] {
                let v = v as f64;
                s += v;
                s2 += v * v;
                c += 1.0;
            }
        }
        let mean = s / c;
        Window {
            mean,
            std: (s2 / c - mean * mean).max(0.0).sqrt(),
        }
    };
    Some((stats(0..n), stats(w - n..w)))
}

/// The published baseline: the side window with the larger standard
/// deviation holds the chest wall.
pub fn edge_window(decoded: &Decoded) -> ChestWall {
    let Some((l, r)) = edge_windows(decoded) else {
        return ChestWall {
            side: None,
            score: None,
            votes: [0.0; 3],
        };
    };
    let total = l.std + r.std;
    if total <= 0.0 || l.std == r.std {
        return ChestWall {
            side: None,
            score: None,
            votes: [0.0; 3],
        };
    }
    let score = (l.std - r.std) / total;
    ChestWall {
        side: Some(if score > 0.0 { Side::Left } else { Side::Right }),
        score: Some(score.abs()),
        votes: [0.0; 3],
    }
}

#[cfg(test)]
mod tests {
    use super::super::inversion::display_copy;
    use super::super::testimg::{Spec, image};
    use super::*;

    fn side_of(s: Spec) -> Option<Side> {
        let d = image(s);
        let work = Work::of(&d, 200);
        segment(&display_copy(&work, s.inverted)).chest_wall().side
    }

    #[test]
    fn component_method_survives_markers_borders_gradients_and_offsets() {
        for left in [true, false] {
            let want = Some(if left { Side::Left } else { Side::Right });
            let base = Spec {
                left,
                ..Spec::default()
            };
            let variants = [
                base,
                Spec {
                    marker: true,
                    ..base
                },
                Spec {
                    film_border: true,
                    ..base
                },
                Spec {
                    gradient: true,
                    marker: true,
                    ..base
                },
                Spec {
                    offset: true,
                    film_border: true,
                    ..base
                },
                Spec {
                    inverted: true,
                    marker: true,
                    ..base
                },
            ];
            for s in variants {
                assert_eq!(side_of(s), want, "{s:?}");
            }
        }
    }

    #[test]
    fn breast_touching_both_edges_is_still_decided_by_its_taper() {
        // A wide breast: half-disc deeper than the image.
        let mut d = image(Spec::default());
        let (w, h) = (d.columns as usize, d.rows as usize);
        for y in 0..h {
            for x in 0..w {
                let dx = x as f32 / (w as f32 * 1.15);
                let dy = (y as f32 - h as f32 / 2.0) / (h as f32 * 0.45);
                d.pixels[y * w + x] = if dx * dx + dy * dy < 1.0 { 2000 } else { 60 };
            }
        }
        let work = Work::of(&d, 200);
        let cw = segment(&display_copy(&work, false)).chest_wall();
        assert_eq!(cw.side, Some(Side::Left));
    }

    #[test]
    fn morphology_and_components() {
        let (w, h) = (10, 6);
        let mut m = vec![false; w * h];
        for y in 1..5 {
            for x in 1..6 {
                m[y * w + x] = true;
            }
        }
        m[2 * w + 8] = true;
        let e = morph(&m, w, h, 1, true);
        assert_eq!(e.iter().filter(|&&b| b).count(), 3 * 2);
        let d = morph(&e, w, h, 1, false);
        assert_eq!(d.iter().filter(|&&b| b).count(), 5 * 4);
        assert_eq!(largest_component(&m, w, h).len(), 20);
        assert!(otsu(&[0.0, 0.1, 0.9, 1.0]).unwrap() > 0.1);
        assert_eq!(otsu(&[0.5; 4]), None);
    }

    #[test]
    fn film_frame_at_any_level_peels_dark_borders_too() {
        // A dark uniform band along the left edge (a film border in stored,
        // inverted polarity) beside textured content.
        let (w, h) = (60, 50);
        let s: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if x < 4 {
                    0.02
                } else {
                    0.5 + 0.3 * ((x as f32 * 0.9).sin() * (y as f32 * 0.7).cos())
                }
            })
            .collect();
        let bright = film_frame(&s, w, h, FrameLevel::Bright);
        assert!(
            !bright.iter().any(|&f| f),
            "a dark band is no bright border"
        );
        let any = film_frame(&s, w, h, FrameLevel::Any);
        for y in 0..h {
            assert!(any[y * w..y * w + 4].iter().all(|&f| f), "row {y}");
            assert!(!any[y * w + 4..(y + 1) * w].iter().any(|&f| f), "row {y}");
        }
    }

    #[test]
    fn edge_window_baseline_picks_the_textured_side() {
        let d = image(Spec {
            left: false,
            ..Spec::default()
        });
        assert_eq!(edge_window(&d).side, Some(Side::Right));
    }
}
