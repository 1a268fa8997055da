//! Chest-wall side (SPEC §5.3) on the polarity-corrected working copy, and
//! the breast mask the later stages crop and normalize on.
//!
//! Component method, step by step:
//! 1. Threshold (the lower of Otsu's and the background mode + 3σ, so bright
//!    film borders cannot lift it above the tissue); a plane fitted to the pixels below it (the background)
//!    is subtracted and Otsu runs again, so gradient backgrounds do not leak
//!    into the tissue class.
//! 2. An opening with a square of side ≈ 5 % of the short side removes thin
//!    bright structures: film-border bands, burned-in text, scanner lines.
//! 3. The largest remaining component is the breast; it is grown back into
//!    the tissue class by the same radius so its chest-wall edge is kept.
//!    When it does not reach the image's central box (the threshold caught
//!    only a film frame or markers), Otsu is rerun on the values below the
//!    threshold, up to three times.
//! 4. Three votes, each positive for "left", are summed: the component's
//!    mass centroid against the image centre, its taper (the breast is tall
//!    at the chest wall and narrow at the nipple, measured 5–15 % inside its
//!    box from each end) and its contact length with each side edge. Thick
//!    film frames that survive the opening add the same to both sides of
//!    every vote, so the breast still decides; an offset breast still has
//!    its centroid and its tall end on the chest-wall side.
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
}

/// The breast component of the working copy.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    pub w: usize,
    pub h: usize,
    /// Breast pixels of the working copy; `None` when nothing was found.
    pub breast: Option<Vec<bool>>,
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

/// Least-squares plane `a + b·x + c·y` through the selected pixels.
fn fit_plane(work: &Work, select: impl Fn(f32) -> bool) -> Option<[f64; 3]> {
    let (w, h) = (work.w, work.h);
    let mut m = [[0.0f64; 3]; 3];
    let mut rhs = [0.0f64; 3];
    let mut n = 0usize;
    for y in 0..h {
        let fy = y as f64 / h as f64;
        for x in 0..w {
            let v = work.px[y * w + x];
            if !select(v) {
                continue;
            }
            n += 1;
            let f = [1.0, x as f64 / w as f64, fy];
            for i in 0..3 {
                rhs[i] += f[i] * v as f64;
                for j in 0..3 {
                    m[i][j] += f[i] * f[j];
                }
            }
        }
    }
    if n < (w * h) / 20 || n < 16 {
        return None;
    }
    solve3(m, rhs)
}

fn solve3(mut m: [[f64; 3]; 3], mut r: [f64; 3]) -> Option<[f64; 3]> {
    for col in 0..3 {
        let pivot = (col..3).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-9 {
            return None;
        }
        m.swap(col, pivot);
        r.swap(col, pivot);
        for row in 0..3 {
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
    Some([r[0] / m[0][0], r[1] / m[1][1], r[2] / m[2][2]])
}

/// Threshold just above the background: the (dark) histogram mode plus
/// three standard deviations of the values below it (at least 5 % of the
/// way to the maximum). Bright film borders and markers, which can pull an
/// Otsu threshold above the tissue, do not move it.
pub fn background_threshold(px: &[f32]) -> Option<f32> {
    let mut sorted = px.to_vec();
    sorted.sort_by(f32::total_cmp);
    let (lo, hi) = (*sorted.first()?, *sorted.last()?);
    // The background is dark and large: look for its mode below the 60th
    // percentile, where narrow bright peaks (film borders) cannot compete.
    let p60 = sorted[sorted.len() * 6 / 10];
    if hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return None;
    }
    const BINS: usize = 128;
    let span = (p60 - lo).max((hi - lo) / BINS as f32);
    let mut hist = [0u32; BINS];
    for &v in sorted.iter().take_while(|&&v| v <= p60) {
        hist[((((v - lo) / span) * BINS as f32) as usize).min(BINS - 1)] += 1;
    }
    let smooth = |i: usize| {
        hist[i.saturating_sub(1)] as u64 + 2 * hist[i] as u64 + hist[(i + 1).min(BINS - 1)] as u64
    };
    let mode_bin = (0..BINS).max_by_key(|&i| (smooth(i), BINS - i))?;
    let mode = lo + (mode_bin as f32 + 0.5) / BINS as f32 * span;
    let below: Vec<f32> = sorted.iter().copied().take_while(|&v| v <= mode).collect();
    let sigma = if below.is_empty() {
        0.0
    } else {
        (below
            .iter()
            .map(|&v| ((v - mode) as f64).powi(2))
            .sum::<f64>()
            / below.len() as f64)
            .sqrt() as f32
    };
    Some(mode + (3.0 * sigma).max(0.05 * (hi - mode)))
}

/// The lower of Otsu's and the background threshold.
fn tissue_threshold(px: &[f32]) -> Option<f32> {
    match (otsu(px), background_threshold(px)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The display copy minus a plane fitted to its background, and the first
/// tissue threshold on it.
fn flattened(display: &Work) -> Option<(Vec<f32>, f32)> {
    let t0 = tissue_threshold(&display.px)?;
    let (w, h) = (display.w, display.h);
    let flat: Vec<f32> = match fit_plane(display, |v| v <= t0) {
        Some([a, b, c]) => (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f64 / w as f64, (i / w) as f64 / h as f64);
                display.px[i] - (a + b * x + c * y) as f32
            })
            .collect(),
        None => display.px.clone(),
    };
    let t = tissue_threshold(&flat)?;
    Some((flat, t))
}

/// Whether an opened core looks like a breast rather than a bare film
/// frame: it covers some of the image's central box (x and y in 20–80 %).
fn reaches_centre(core: &[usize], w: usize, h: usize) -> bool {
    let (x0, x1, y0, y1) = (w / 5, w - w / 5, h / 5, h - h / 5);
    let inside = core
        .iter()
        .filter(|&&i| (x0..x1).contains(&(i % w)) && (y0..y1).contains(&(i / w)))
        .count();
    inside * 50 >= (x1 - x0) * (y1 - y0)
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
    let none = Segmentation { w, h, breast: None };
    let Some((flat, mut t)) = flattened(display) else {
        return none;
    };
    let min_area = ((w * h) / 500).max(1);
    let r = ((w.min(h) as f64 * 0.025).round() as usize).max(1);
    let mut fallback: Option<Vec<usize>> = None;
    // A threshold that isolates only bright film borders or markers leaves
    // no breast-like core: retry with Otsu on the values below it.
    for _attempt in 0..3 {
        let tissue: Vec<bool> = flat.iter().map(|&v| v > t).collect();
        let opened = morph(&morph(&tissue, w, h, r, true), w, h, r, false);
        let core = largest_component(&opened, w, h);
        if core.len() >= min_area && reaches_centre(&core, w, h) {
            let mut core_mask = vec![false; w * h];
            core.iter().for_each(|&i| core_mask[i] = true);
            let grown = morph(&core_mask, w, h, r, false);
            let breast = grown.iter().zip(&tissue).map(|(&g, &t)| g && t).collect();
            return Segmentation {
                w,
                h,
                breast: Some(breast),
            };
        }
        if fallback.is_none() {
            let comp = if core.len() >= min_area {
                core
            } else {
                largest_component(&tissue, w, h)
            };
            fallback = Some(comp).filter(|c| c.len() >= min_area);
        }
        let below: Vec<f32> = flat.iter().copied().filter(|&v| v <= t).collect();
        match otsu(&below) {
            Some(lower) if lower < t => t = lower,
            _ => break,
        }
    }
    let Some(comp) = fallback else {
        return none;
    };
    let mut m = vec![false; w * h];
    comp.iter().for_each(|&i| m[i] = true);
    Segmentation {
        w,
        h,
        breast: Some(m),
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
            let (mut l, mut r) = (false, false);
            for (x, &m) in row.iter().enumerate() {
                if m {
                    count += 1;
                    sum_x += x as f64 + 0.5;
                    col_height[x] += 1;
                    l |= x < edge;
                    r |= x >= w - edge;
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
        let x0 = col_height.iter().position(|&c| c > 0).unwrap_or(0);
        let x1 = col_height.iter().rposition(|&c| c > 0).unwrap_or(w - 1);
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
        };
    };
    let total = l.std + r.std;
    if total <= 0.0 || l.std == r.std {
        return ChestWall {
            side: None,
            score: None,
        };
    }
    let score = (l.std - r.std) / total;
    ChestWall {
        side: Some(if score > 0.0 { Side::Left } else { Side::Right }),
        score: Some(score.abs()),
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
    fn edge_window_baseline_picks_the_textured_side() {
        let d = image(Spec {
            left: false,
            ..Spec::default()
        });
        assert_eq!(edge_window(&d).side, Some(Side::Right));
    }
}
