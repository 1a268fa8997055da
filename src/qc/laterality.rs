//! Chest-wall side (SPEC §5.3) on the polarity-corrected working copy, and
//! the breast mask the later stages crop and normalize on.
//!
//! Component method, step by step:
//! 1. Film borders (uniform bright bands along an edge that end in a step)
//!    are peeled off as frame, and so are dark ones whose inner edge is a
//!    straight line (a scanner bed, padding), up to 35 % deep when that
//!    edge is straight; a side's outermost line counts as uniform when 80 %
//!    of it lies at one level (a label or a tilted film's wedge across it).
//! 2. A quadratic background surface (gradients, vignetting) is fitted to
//!    the lower envelope of the remaining pixels and subtracted; tissue is
//!    what lies more than 4σ of the background's residual above it, and
//!    more than 8 % of the tissue's median rise (fogged film air lies a few
//!    percent off any quadratic surface). The fit
//!    starts from the darkest 30 % or from the darkest 10 %, whichever
//!    leaves a background closer to "smooth surface plus white noise" (its
//!    spread about the surface against its pixel-to-pixel noise): a breast
//!    filling most of the image leaves a mere crescent of air, the darkest
//!    30 % then hold fat too, and a fit through air and fat is far noisier
//!    than one through air alone. When both stay clearly off noise-like, a
//!    fit from the darkest 3 % is tried on the same terms: a breast filling
//!    nearly all of the image leaves under 10 % of air. When over 70 % of
//!    the image then lies above the background, the fit may sit on
//!    something darker than the air (a scanner bed, a black label strip):
//!    with that set aside, a second fit that is as flat as air replaces it.
//!    Air is flat and tissue textured: when the resulting mask covers the
//!    textured blocks poorly, the fits are retried without them (and
//!    without the darkest 10 % or 25 %), and the mask that covers them best
//!    wins by a clear margin.
//! 3. An opening with a square of side ≈ 5 % of the short side removes thin
//!    bright structures (burned-in text, rulers, scanner lines); the
//!    largest remaining component is the breast, grown back into the tissue
//!    class by the same radius so its chest-wall edge is kept.
//! 4. Five votes, each positive for "left", are summed: the component's
//!    mass centroid against the image centre, its taper (the breast is tall
//!    at the chest wall and narrow at the nipple, measured 5–15 % inside the
//!    box holding 98 % of its mass) and its contact with each side: the rows
//!    it is cut off in, at the image edge (inside any peeled film border)
//!    or flush with the box's end (a chest wall inside the image is a
//!    straight cut too; a nipple-side skin line is a curve that reaches the
//!    box's end only near the nipple). An offset breast still has its
//!    centroid and its tall, straight end on the chest-wall side. The
//!    fourth vote does not use the mask: where the textured blocks lie
//!    across the width, against the image centre, for when the mask is led
//!    astray by its level (a fatty breast beside a glowing background, a
//!    recombined contrast image's grey background). Nor does the fifth:
//!    which way the edges' orientations turn down the image
//!    (`outline_bulge`), for the skin line's bulge toward the nipple.
//!
//! The published baseline ([`edge_window`]) compares the standard deviation
//! of the 25 outermost stored columns on each side.

use super::Work;
use super::components::{flood, largest_component};
use super::inversion::TextureMap;
use crate::decode::Decoded;

/// Image side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

impl Side {
    /// The side a lean points to (positive = left); `None` at zero.
    pub(super) fn of_lean(lean: f64) -> Option<Side> {
        if lean > 0.0 {
            Some(Side::Left)
        } else if lean < 0.0 {
            Some(Side::Right)
        } else {
            None
        }
    }

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
    /// edge contact, texture, outline; zero for the baseline.
    pub votes: [f64; 5],
}

impl ChestWall {
    /// No decision (a blank image, no breast found).
    const UNDECIDED: ChestWall = ChestWall {
        side: None,
        score: None,
        votes: [0.0; 5],
    };
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
    /// Where the structured (textured) blocks lie across the width, as
    /// [`ChestWall`]'s centroid vote measures the mask's; `None` unless a
    /// tenth of the blocks are structured.
    pub texture: Option<f64>,
    /// Which way the outline bulges (`outline_bulge`).
    pub outline: f64,
}

/// The weight of the texture centroid ([`Segmentation::texture`]) in the
/// chest-wall score, against 1 for the mask's centroid: tissue is
/// textured wherever the breast mask goes wrong by its level (a breast
/// barely apart from its background, fogged or bright flat regions taken
/// for tissue). Look-alikes of four generators (6,300 images), chest-wall
/// misses 63 -> 51 (14 fixed, 2 lost; fourth generator 39 -> 30, first
/// 20 -> 16); 0.5: 60; 1.5: 50 (16 fixed, 3 lost); 2: 51. Polarity does
/// not depend on it.
const TEXTURE_WEIGHT: f64 = 1.0;

/// The weight of [`outline_bulge`] in the chest-wall score: its median
/// size over the look-alikes (0.023) then counts about 0.7, as much as a
/// clear centroid's. Look-alikes of four generators (6,300 images),
/// chest-wall misses 46 -> 22 (27 fixed, 3 lost; fourth generator 26 ->
/// 13, first 16 -> 9, second 1 -> 0, third 3 -> 0); 20: 25; 25: 22 (1
/// lost); 35: 21 (6 lost); 40: 23 (9 lost). Polarity does not depend on it.
const OUTLINE_WEIGHT: f64 = 30.0;

/// The chest-wall votes that use no mask, summed (positive = left): the
/// [`outline_bulge`] and the texture centroid ([`Segmentation::texture`]).
/// Neither depends on polarity, so the polarity stage may lean on them
/// ([`fall_off`]).
pub(super) fn unmasked_lean(outline: f64, texture: Option<f64>) -> f64 {
    OUTLINE_WEIGHT * outline + TEXTURE_WEIGHT * texture.unwrap_or(0.0)
}

/// How the brightness falls off away from the chest wall on `side` of
/// `smooth` (`w × h`), in -1..=1: positive when it rises toward the chest
/// wall. A breast is thickest and densest at the chest wall and thins to
/// its skin line, so in display polarity its brightness rises toward the
/// chest wall, across the skin line and the tissue alike.
///
/// The mean, over the strongest third of the gradients (central
/// differences), of the cosine between each gradient and the direction
/// to the middle of the chest-wall edge; pixels within 2 of `frame` (a
/// film border's step) along their row or column are left out, and so
/// are flat ones. `None` with under 100 such pixels.
pub(super) fn fall_off(
    smooth: &[f32],
    w: usize,
    h: usize,
    frame: &[bool],
    side: Side,
) -> Option<f64> {
    if w < 5 || h < 5 || smooth.len() < w * h || frame.len() < w * h {
        return None;
    }
    let blocked = near_frame(frame, w, h);
    let wall = match side {
        Side::Left => 0.0,
        Side::Right => (w - 1) as f32,
    };
    let middle = h as f32 / 2.0;
    // Per counted pixel, its squared gradient magnitude (a positive f32,
    // whose bits order as the values do) above the bits of its cosine, so
    // that the strongest third is selected by plain integer compares.
    let mut toward: Vec<u64> = Vec::with_capacity((w - 4) * (h - 4));
    for y in 2..h - 2 {
        for x in 2..w - 2 {
            let i = y * w + x;
            if blocked.as_ref().is_some_and(|b| b[i]) {
                continue;
            }
            let gx = smooth[i + 1] - smooth[i - 1];
            let gy = smooth[i + w] - smooth[i - w];
            let energy = gx * gx + gy * gy;
            let (ux, uy) = (wall - x as f32, middle - y as f32);
            let distance2 = ux * ux + uy * uy;
            if energy > 0.0 && distance2 > 0.0 {
                let cosine = (gx * ux + gy * uy) / (energy * distance2).sqrt();
                toward.push((u64::from(energy.to_bits()) << 32) | u64::from(cosine.to_bits()));
            }
        }
    }
    if toward.len() < 100 {
        return None;
    }
    let third = toward.len() / 3;
    let at = toward.len() - third;
    toward.select_nth_unstable(at);
    let cosine = |t: &u64| f64::from(f32::from_bits(*t as u32));
    Some(toward[at..].iter().map(cosine).sum::<f64>() / third as f64)
}

/// The pixels of a `w × h` image within 2 of a `frame` pixel along their
/// row or column; `None` when there is no frame.
fn near_frame(frame: &[bool], w: usize, h: usize) -> Option<Vec<bool>> {
    if !frame.contains(&true) {
        return None;
    }
    let mut near = frame.to_vec();
    for (i, _) in frame.iter().enumerate().filter(|(_, f)| **f) {
        let (x, y) = (i % w, i / w);
        for x in x.saturating_sub(2)..(x + 3).min(w) {
            near[y * w + x] = true;
        }
        for y in y.saturating_sub(2)..(y + 3).min(h) {
            near[y * w + x] = true;
        }
    }
    Some(near)
}

/// Which way the edges of `smooth` (`w × h`) turn down the image: positive
/// when the outline bulges to the right (the chest wall on the left), in
/// -1..=1.
///
/// A breast's outline bulges toward the nipple: the normals of its skin
/// line fan out from the chest-wall side, so that above the fan's centre
/// they lean one way and below it the other. With `(gx, gy)` a pixel's
/// gradient (central differences), `gx·gy / (gx² + gy²)` is
/// `sin 2θ / 2` of its direction θ, the same for a dark-to-bright and a
/// bright-to-dark edge (no polarity needed), and zero along a horizontal
/// or vertical edge: film borders, collimators, rulers, text and a
/// tilted film's margins across the image do not vote, a closed outline
/// (an implant, a marker) cancels itself, and texture and noise turn
/// every way. The vote is its mean, over the pixels with a gradient, times
/// the pixel's row offset from their mean row, over the mean absolute
/// offset. The mask is not used: it holds for a breast barely apart from
/// its background (a recombined contrast image), where only the skin
/// line's orientation is left to see.
pub(super) fn outline_bulge(smooth: &[f32], w: usize, h: usize) -> f64 {
    if w < 3 || h < 3 || smooth.len() < w * h {
        return 0.0;
    }
    // Per row: the sum of sin 2θ / 2 and the number of pixels with a
    // gradient.
    let mut turn = vec![0.0f64; h];
    let mut pixels = vec![0usize; h];
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            let gx = (smooth[i + 1] - smooth[i - 1]) as f64;
            let gy = (smooth[i + w] - smooth[i - w]) as f64;
            let energy = gx * gx + gy * gy;
            if energy > 0.0 {
                turn[y] += gx * gy / energy;
                pixels[y] += 1;
            }
        }
    }
    let count: usize = pixels.iter().sum();
    if count == 0 {
        return 0.0;
    }
    let mid = (0..h).map(|y| (y * pixels[y]) as f64).sum::<f64>() / count as f64;
    let (mut signed, mut spread) = (0.0f64, 0.0f64);
    for y in 0..h {
        let offset = y as f64 - mid;
        signed += turn[y] * offset;
        spread += pixels[y] as f64 * offset.abs();
    }
    if spread > 0.0 { signed / spread } else { 0.0 }
}

/// The value at quantile `q` (0..=1) of `values`, by selection (no full sort)
/// on integer keys in the order of `f32::total_cmp` (plain integer
/// compares instead of its bit fiddling at every comparison).
pub(super) fn quantile(values: impl IntoIterator<Item = f32>, q: f64) -> Option<f32> {
    // total_cmp's key, an involution: flip the magnitude bits of negative
    // values; then flip the sign bit so that the order is unsigned.
    let key = |bits: u32| bits ^ ((((bits as i32) >> 31) as u32) >> 1);
    const SIGN: u32 = 0x8000_0000;
    let mut keys: Vec<u32> = values
        .into_iter()
        .map(|x| key(x.to_bits()) ^ SIGN)
        .collect();
    if keys.is_empty() {
        return None;
    }
    let k = ((keys.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    let chosen = *keys.select_nth_unstable(k).1;
    Some(f32::from_bits(key(chosen ^ SIGN)))
}

/// How deep (percent of the image's extent) [`film_frame`] follows a band
/// brighter than the image median whose inner edge is a straight line
/// ([`straight_band`]): a digitized film's clear margin, which can cover a
/// quarter of the scan; other bands are followed 15 % deep. Look-alikes
/// of the fourth generator (1,200 images, 256 films): polarity misses
/// 125 -> 113, chest-wall side 72 -> 71; the other three generators'
/// 5,100 images score the same. Bands at any level made 119 and 75 there
/// (black film padding at the chest wall was peeled too). In display
/// polarity a band at or below the median is followed as deep when its
/// inner edge is straight ([`straight_band`]): black padding wider than
/// 15 % beside a film (look-alikes: one chest-wall side fixed, one lost,
/// a spot view of tissue alone).
const DEEP_BAND_PERCENT: usize = 35;

/// How many bands, one inside the other, [`film_frame`] peels per side: a
/// scan can hold a scanner's edge strip, a neighbouring film's edge and
/// then the film's clear margin. With the margin's inner edge allowed to
/// hold something inside it on some lines ([`straight_margin`]), look-alikes
/// of the fourth generator (4 seeds, 1,200 images) go from 113 polarity
/// and 71 chest-wall misses to 98 and 67; the other three generators'
/// 5,100 images from 32 and 29 to 32 and 28. Four layers score as three.
const FRAME_LAYERS: usize = 3;

/// Pixels skipped between a peeled band and the next one in: the edge
/// blur, whose every line is uniform too, would otherwise be peeled as
/// thin layers one after another.
const LAYER_GAP: usize = 2;

/// A side's outermost line whose share `.0` lies within `.1` of its median
/// is uniform for [`film_frame`] too, even when the rest of it holds
/// something else (a label, a dark wedge beside a tilted film, a
/// neighbouring film's corner): saturated or unexposed film and padding
/// are that flat, noisy air beside a wide breast is not. Look-alikes of
/// four generators (6,300 images): polarity misses 69 -> 67, chest-wall
/// side 63 -> 63 (1 fixed, 1 lost, both of the first generator). 0.75:
/// the same; 0.7 (within 0.005) and 0.6 (within 0.003): 68 polarity and
/// 64 chest-wall misses each; within 0.01 or 0.02: more lost (wide
/// breasts' air and pectoral muscles peeled).
const MOSTLY_UNIFORM: (f64, f32) = (0.8, 0.005);

/// How far in (percent of a side's length) [`film_frame`] looks for a
/// side's outermost uniform line when the line at the edge is not uniform,
/// on the outermost layer: a film scanned a few degrees askew leaves a
/// wedge of scanner bed along the edge, widening from nothing at one end,
/// so that the edge line is part bed, part clear margin; a few pixels in,
/// the margin fills the line. Each line's band may then begin as deep as
/// that uniform line lies (the wedge is peeled with it). Look-alikes of four generators (6,300
/// images), polarity and chest-wall misses 59 and 48 -> 54 and 46, no
/// image lost, all in the fourth generator (6 of the 7 images fixed are
/// tilted films); 2 %: 55 and 46; 5 %: 54 and 46. The other three
/// generators: no image changed. On every layer: 52 and 47, but a single
/// flat line inside textured content, past an inner band, was peeled;
/// each line beginning anywhere within the 3 % rather than at the uniform
/// line's depth: 55 and 47.
const TILT_SHIFT_PERCENT: usize = 3;

/// Which film borders [`film_frame`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FrameLevel {
    /// Display polarity is known: clear film is brighter than the median;
    /// a darker band is frame only with a straight inner edge.
    Bright,
    /// Polarity is not known yet: a band at any level (the polarity vote
    /// peels film borders before it knows which extreme they are at). The
    /// air beside a wide breast is such a band too, so here a band must end
    /// in a step on more of its lines: the air runs deeper than the border
    /// where the skin line curves away from the edge.
    Any,
}

impl FrameLevel {
    /// The least share (percent) of an edge's lines whose band ends in a
    /// step within reach (lines crossing a perpendicular band at a corner
    /// left out). Of the bands that 75 % peels on 16 look-alike seeds, 85 %
    /// keeps 23 % of the air bands (at the display's dark end) and 1.0 % of
    /// the film borders.
    fn least_ended_percent(self) -> usize {
        match self {
            FrameLevel::Bright => 75,
            FrameLevel::Any => 85,
        }
    }
}

/// Film borders: the clear margin of a scanned film, a uniform bright band
/// along an image edge. A side whose outermost line (its middle 90 %; or a
/// line a little further in, behind a tilted film's wedge of scanner bed:
/// [`TILT_SHIFT_PERCENT`]) is uniform (and, with [`FrameLevel::Bright`], brighter than the image
/// median, or darker with a straight inner edge: [`straight_band`]) is
/// peeled: the pixels connected to that line, close to its level, and at
/// most 15 % in from it are frame ([`DEEP_BAND_PERCENT`] for a bright band
/// with a straight inner edge, [`straight_margin`]). Tissue cut off by the
/// chest-wall edge is textured and varies along the edge, so it is never
/// peeled; a plain background edge is not brighter than the median, and
/// the air beside a skin line ends in a curve. Bands are peeled in up to
/// [`FRAME_LAYERS`] layers: the line just inside a peeled band (past
/// [`LAYER_GAP`]) is the next band's outermost line, and that band must
/// add more than the gap on half the side's lines. Last, the surround of
/// a collimated field is frame however deep it runs
/// ([`collimated_surround`]).
pub(super) fn film_frame(s: &[f32], w: usize, h: usize, level_rule: FrameLevel) -> Vec<bool> {
    film_frame_and_field(s, w, h, level_rule).0
}

/// [`film_frame`], and whether it holds the surround of a collimated field
/// ([`collimated_surround`]).
pub(super) fn film_frame_and_field(
    s: &[f32],
    w: usize,
    h: usize,
    level_rule: FrameLevel,
) -> (Vec<bool>, bool) {
    let mut frame = vec![false; w * h];
    let Some(median) = quantile(s.iter().copied(), 0.5) else {
        return (frame, false);
    };
    // Sides 0-3: left, right, top, bottom; lines run along the side. A
    // side's length, and `percent` of the image's extent in from it.
    let reach = |side: usize, percent: usize| {
        let (len, extent) = if side < 2 { (h, w) } else { (w, h) };
        (len, (extent * percent / 100).max(1))
    };
    let geometry = |side: usize| reach(side, 15);
    // How deep a bright band with a straight inner edge may run.
    let deep = |side: usize| reach(side, DEEP_BAND_PERCENT).1;
    // Pixel index of (position along the edge, depth in from it).
    let at = |side: usize, along: usize, depth: usize| match side {
        0 => along * w + depth,
        1 => along * w + (w - 1 - depth),
        2 => depth * w + along,
        _ => (h - 1 - depth) * w + along,
    };
    // A side with a uniform outermost line.
    struct Band {
        /// How far each line runs in from the edge at the line's level (a
        /// jagged inner edge is followed line by line), up to the deep
        /// reach.
        runs: Vec<usize>,
        /// At or below the median in display polarity (see below).
        dark: bool,
        /// Brighter than the median.
        bright: bool,
    }
    // Per side and line, the depth peeled so far: a scanner bed or an
    // edge strip can lie outside a film's margin, so bands are peeled in
    // layers, each starting where the one outside it ended.
    let mut peeled: Vec<Vec<usize>> = (0..4).map(|side| vec![0; geometry(side).0]).collect();
    for layer in 0..FRAME_LAYERS {
        let bands: Vec<Option<Band>> = (0..4)
            .map(|side| {
                let len = geometry(side).0;
                // Where each line's next band would begin: past the edge
                // blur of the band peeled outside it.
                let start: Vec<usize> = peeled[side]
                    .iter()
                    .map(|&p| if p > 0 { p + LAYER_GAP } else { 0 })
                    .collect();
                let skip = len * 5 / 100;
                let uniform = |shift: usize| -> Option<(f32, f32)> {
                    let line: Vec<f32> = (skip..len - skip)
                        .filter(|&a| start[a] + shift < deep(side))
                        .map(|a| s[at(side, a, start[a] + shift)])
                        .collect();
                    if line.len() * 2 < len {
                        return None;
                    }
                    let p10 = quantile(line.iter().copied(), 0.1)?;
                    let level = quantile(line.iter().copied(), 0.5)?;
                    let p90 = quantile(line.iter().copied(), 0.9)?;
                    // Uniform, or mostly at one level (`MOSTLY_UNIFORM`).
                    if p90 - p10 <= 0.05 {
                        return Some((level, p90 - p10));
                    }
                    let (share, tolerance) = MOSTLY_UNIFORM;
                    let at_level = line.iter().filter(|&&v| (v - level).abs() <= tolerance);
                    ((at_level.count() as f64) >= share * line.len() as f64).then_some((level, 0.0))
                };
                // The outermost uniform line: on the outermost layer, at most
                // `TILT_SHIFT_PERCENT` of the side's length in.
                let most = if layer == 0 {
                    len * TILT_SHIFT_PERCENT / 100
                } else {
                    0
                };
                let (shift, (level, spread)) =
                    (0..=most).find_map(|shift| uniform(shift).map(|u| (shift, u)))?;
                // In display polarity a band at or below the median is a
                // scanner bed or padding only if its inner edge is straight.
                let dark = level_rule == FrameLevel::Bright && level <= median;
                let tolerance = (2.0 * spread).max(0.03);
                let near = |i: usize| (s[i] - level).abs() <= tolerance;
                // Each line's band begins at its first pixel near the level,
                // at most as deep as the uniform line (a tilted film's wedge
                // of bed outside it is peeled with it), and runs while near.
                let runs = (0..len)
                    .map(|along| {
                        let (from, reach) = (start[along], deep(side));
                        let near_at = |d: &usize| near(at(side, along, *d));
                        let begin = (from..(from + shift + 1).min(reach)).find(near_at);
                        match begin.map(|b| b + (b..reach).take_while(near_at).count()) {
                            Some(end) => end,
                            None => peeled[side][along],
                        }
                    })
                    .collect();
                Some(Band {
                    runs,
                    dark,
                    bright: level > median,
                })
            })
            .collect();
        let mut grown = false;
        for (side, band) in bands.iter().enumerate() {
            let Some(band) = band else {
                continue;
            };
            let (len, depth_max) = geometry(side);
            // A band ends with a step; smooth tissue at the chest wall runs on.
            // Lines that cross a band of a perpendicular side, in a corner,
            // run on along it (within the usual reach) and are not counted.
            let (first, last) = if side < 2 { (2, 3) } else { (0, 1) };
            let corner = |perpendicular: usize| {
                let (len, depth_max) = geometry(perpendicular);
                let index = if side % 2 == 0 { 0 } else { len - 1 };
                let run = bands[perpendicular]
                    .as_ref()
                    .map_or(0, |b| b.runs[index])
                    .max(peeled[perpendicular][index]);
                run.min(depth_max)
            };
            let counted = corner(first)..len.saturating_sub(corner(last));
            if counted.is_empty() {
                continue;
            }
            // Lines past a reach count as running on (`straight_band` too).
            let lines = &band.runs[counted];
            let ended = lines.iter().filter(|&&r| r < depth_max).count();
            let usual = ended * 100 >= lines.len() * level_rule.least_ended_percent()
                && (!band.dark || straight_band(lines, depth_max));
            // A clear film margin can run deeper, tilted or not, and still
            // ends in a straight line; the air beside a breast ends in a curve.
            let peel = if usual {
                depth_max
            } else if band.bright && straight_margin(lines, deep(side)) {
                deep(side)
            } else if band.dark && straight_band(lines, deep(side)) {
                // Black padding wider than the usual reach.
                deep(side)
            } else {
                continue;
            };
            // A band inside another adds more than the edge blur skipped
            // on at least half its lines.
            let added = band
                .runs
                .iter()
                .zip(&peeled[side])
                .filter(|&(&run, &outside)| run.min(peel) > outside + LAYER_GAP)
                .count();
            if layer > 0 && added * 2 < len {
                continue;
            }
            for (along, &run) in band.runs.iter().enumerate() {
                let run = run.min(peel);
                for depth in peeled[side][along]..run {
                    frame[at(side, along, depth)] = true;
                }
                peeled[side][along] = peeled[side][along].max(run);
            }
            grown = true;
        }
        if !grown || layer + 1 == FRAME_LAYERS {
            break;
        }
    }
    // In display polarity the surround of a collimated field is frame when
    // it is bright (clear film, an unexposed border); the polarity vote
    // peels it at either level.
    let least = (level_rule == FrameLevel::Bright).then_some(median);
    let surround = collimated_surround(s, (w, h), &frame, least);
    if let Some(surround) = &surround {
        frame.iter_mut().zip(surround).for_each(|(f, &c)| *f |= c);
    }
    (frame, surround.is_some())
}

/// The least share of the border (the pixels on the image's edge, or
/// [`LAYER_GAP`] past a peeled band) at the surround's level: a spot or
/// magnification field can reach one or two edges of the image.
const SURROUND_BORDER_SHARE: f64 = 0.4;

/// The least share of its bounding box that a collimated field fills
/// (a breast beside air fills about π/4 of its box).
const FIELD_FILL: f64 = 0.97;

/// The most of a collimated field's pixels that may lie outside its box
/// ([`field_box`]): a label or a box printed across the field's edge holds
/// well under 1 % of it; a breast, whose rows and columns narrow toward
/// the nipple, leaves a tenth of it outside the box of its fuller rows.
const FIELD_OUTSIDE: f64 = 0.02;

/// The surround of a collimated field (a spot or magnification view, a
/// scan of a small film): one flat region at one level, reached from the
/// border, around a rectangle holding everything else, however deep it
/// runs (a spot view's field can be a third of the image). The air beside a
/// breast surrounds a curve, not a rectangle. Pixels at the border's
/// median level (within 0.03, as `film_frame`'s least tolerance) are
/// flooded from the border; the surround is that region when it covers
/// a fifth of the image and what it leaves ([`FIELD_FILL`] of its box, at
/// least a tenth of the image) is a rectangle. `least`: the surround must
/// be at least this bright (display polarity: a dark surround may be the
/// air). Already-peeled `frame` pixels, and the [`LAYER_GAP`] lines just
/// inside them, are neither flooded nor counted.
/// Look-alikes of the fourth generator (4 seeds, 1,200 images, 15 spot
/// views with a bright surround): polarity misses 86 -> 83 (two spot
/// views, one inverted film whose dark margins surround it), chest-wall
/// side 59 -> 59; the other three generators' 5,100 images score the
/// same.
///
/// A line at another level (a thin printed frame, an edge blur deeper than
/// [`LAYER_GAP`]) can lie between the peeled frame and the surround:
/// flooded first, it holds only itself. A first flood that is no surround
/// is peeled and the flood retried once from inside it. Fourth generator: polarity misses 69 -> 68
/// (a spot view inside a white frame line), the others the same. The
/// [`LAYER_GAP`] lines just inside a peeled band are not the border: the
/// smoothing mixes their level with the band's, and where they made half
/// the border (padding peeled along two sides) its median lay between the
/// band and the surround, so that neither flood started. Look-alikes of
/// four generators (6,300 images): polarity misses 67 -> 66 (a spot view
/// with a bright surround, padded along two sides), nothing lost.
///
/// The field is the largest part the flood leaves; what lies outside its
/// box (burned-in text, a label, a marker printed on the surround, at most
/// [`STRAY_SHARE`] of the image) is surround too. Before, the box of
/// everything left held the text and no field filled it. Look-alikes of
/// four generators: polarity misses 61 -> 59 (a spot view with text on a
/// bright surround, a MIAS-like film in a square frame), chest-wall side
/// 48 -> 48.
///
/// Three things real spot views print or leave that read as no surround
/// before: grid lines across the surround (thin: surround however long,
/// where the stray limit counts only thick parts), a label or box printed
/// across the field's edge (the field's box is that of its fuller rows and
/// columns, [`field_box`], with at most [`FIELD_OUTSIDE`] of the field
/// outside it), and a surround mostly peeled already as film bands along
/// the edges (the peeled bands count toward the surround's fifth of the
/// image). Look-alikes of four generators (6,300 images): polarity misses
/// 34 -> 32 (two spot views of the fourth generator, one with grid lines,
/// one whose surround's top and bottom were peeled as bands), chest-wall
/// side 15 -> 15, nothing lost; without `FIELD_OUTSIDE` two small breasts
/// beside clipped air or padding were taken for fields (their chest-wall
/// part is nearly a rectangle; a tenth of them lay outside its box).
fn collimated_surround(
    s: &[f32],
    (w, h): (usize, usize),
    frame: &[bool],
    least: Option<f32>,
) -> Option<Vec<bool>> {
    if w < 3 || h < 3 {
        return None;
    }
    let start = Border::of(s, (w, h), frame, least)?;
    let by_level = || {
        let (outer, found) = flood_surround(s, (w, h), &start, Reach::Level)?;
        if found {
            return Some(outer);
        }
        let peeled: Vec<bool> = frame.iter().zip(&outer).map(|(&f, &o)| f || o).collect();
        let inside = Border::of(s, (w, h), &peeled, least)?;
        let (inner, found) = flood_surround(s, (w, h), &inside, Reach::Level)?;
        found.then(|| outer.iter().zip(&inner).map(|(&o, &i)| o || i).collect())
    };
    let smoothly = || {
        let (surround, found) = flood_surround(s, (w, h), &start, Reach::Smooth)?;
        found.then_some(surround)
    };
    let surround = by_level().or_else(smoothly)?;
    // With the field's edge blur (`LAYER_GAP`): the step there inflates
    // a block's noise, so that tissue beside it reads as flat.
    Some(morph(&surround, w, h, LAYER_GAP, false))
}

/// What a surround's flood spreads through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Pixels within 0.03 of the border's median level.
    Level,
    /// Smooth pixels, each within [`SMOOTH_STEP`] of its neighbours: a
    /// surround shaded by the heel effect or a tilted exposure runs over a
    /// tenth of the range or more, while the field's edge is a step. Tried
    /// when no level reaches the surround. Look-alikes of four generators
    /// (6,300 images): polarity misses 35 -> 34 (a spot view whose shaded
    /// bright surround outvoted the air in its field), nothing lost, 9
    /// images' scores changed.
    Smooth,
}

/// The most a smooth pixel differs from any of its 4 neighbours (share of
/// the range) for [`Reach::Smooth`].
const SMOOTH_STEP: f32 = 0.01;

/// How far from the border's median level a smooth flood's seeds may lie
/// (a shaded surround's range, not a field's).
const SMOOTH_SEED: f32 = 0.15;

/// How thin (pixels each side of a line) what a flood leaves may be and
/// still be no part of the field.
const THIN_LINE: usize = 2;

/// Where the floods of [`collimated_surround`] start: the frame with the
/// lines just inside it, the cells on its border and their median level.
struct Border {
    /// `film_frame`'s frame grown by [`LAYER_GAP`] (the lines just inside a
    /// peeled band mix its level with what lies inside it, the working
    /// copy's smoothing: they are skipped, as between `film_frame`'s
    /// layers).
    frame: Vec<bool>,
    /// The cells outside `frame` on the image's edge or beside `frame`.
    cells: Vec<usize>,
    /// The median of their values.
    level: f32,
}

impl Border {
    /// The border of `frame` in `s`; `None` without one, or when its level
    /// is under `least`.
    fn of(s: &[f32], (w, h): (usize, usize), frame: &[bool], least: Option<f32>) -> Option<Border> {
        let frame = if frame.contains(&true) {
            morph(frame, w, h, LAYER_GAP, false)
        } else {
            frame.to_vec()
        };
        let cells = frame_border(&frame, w, h);
        let level = quantile(cells.iter().map(|&i| s[i]), 0.5)?;
        if least.is_some_and(|least| level < least) {
            return None;
        }
        Some(Border {
            frame,
            cells,
            level,
        })
    }
}

/// One flood of [`collimated_surround`] from `start`: the flooded pixels
/// and whether they are a collimated field's surround.
fn flood_surround(
    s: &[f32],
    (w, h): (usize, usize),
    start: &Border,
    reach: Reach,
) -> Option<(Vec<bool>, bool)> {
    let (frame, border, level) = (start.frame.as_slice(), &start.cells, start.level);
    let near: Vec<bool> = match reach {
        Reach::Level => s
            .iter()
            .zip(frame)
            .map(|(&v, &f)| !f && (v - level).abs() <= 0.03)
            .collect(),
        Reach::Smooth => smooth_cells(s, frame, w, h),
    };
    // A smooth flood starts from the surround's part of the border only: a
    // field reaching the edge has smooth specks there too.
    let seeds: Vec<usize> = border
        .iter()
        .copied()
        .filter(|&i| near[i] && (reach == Reach::Level || (s[i] - level).abs() <= SMOOTH_SEED))
        .collect();
    if (seeds.len() as f64) < border.len() as f64 * SURROUND_BORDER_SHARE {
        return None;
    }
    let mut surround = flood((w, h), &seeds, near);
    // The field: the largest part of what is left, and its box.
    let left: Vec<bool> = surround
        .iter()
        .zip(frame)
        .map(|(&c, &f)| !c && !f)
        .collect();
    // A flood leaves thin lines (grid lines and text strokes on the
    // surround; the steps around what a smooth flood reached: a line along
    // a peeled border, a scratch): they would join the field and widen its
    // box, so the field is found among the thick parts and its box grown
    // back by as much.
    let core = morph(&left, w, h, THIN_LINE, true);
    let field = largest_component(&core, w, h);
    let Some((x0, y0, x1, y1)) = field_box(&field, w, h) else {
        return Some((surround, false));
    };
    let in_box = |i: usize| (x0..=x1).contains(&(i % w)) && (y0..=y1).contains(&(i / w));
    let filled = field.iter().filter(|&&i| in_box(i)).count();
    let fill = filled as f64 / ((x1 + 1 - x0) * (y1 + 1 - y0)) as f64;
    let (x0, y0, x1, y1) = (
        x0.saturating_sub(THIN_LINE),
        y0.saturating_sub(THIN_LINE),
        (x1 + THIN_LINE).min(w - 1),
        (y1 + THIN_LINE).min(h - 1),
    );
    // The box grown back by the erosion's depth.
    let inside = |x: usize, y: usize| (x0..=x1).contains(&x) && (y0..=y1).contains(&y);
    // What is left outside the box: text, a label or a marker printed on
    // the surround, a few percent of the image ([`STRAY_SHARE`]); a part of
    // the field cut off by something at the surround's level is more.
    // Thin lines (grid lines, text strokes) are surround however long.
    let mut stray = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if left[i] && !inside(x, y) {
                stray.push(i);
            }
        }
    }
    let thick_stray = stray.iter().filter(|&&i| core[i]).count();
    let boxed = (x1 + 1 - x0) * (y1 + 1 - y0);
    // The surround with the bands `film_frame` peeled from it.
    let framed = frame.iter().filter(|&&f| f).count();
    let flooded = surround.iter().filter(|&&c| c).count() + stray.len() + framed;
    let found = fill >= FIELD_FILL
        && (field.len() - filled) as f64 <= FIELD_OUTSIDE * field.len() as f64
        && boxed * 10 >= w * h
        && flooded * 5 >= w * h
        && thick_stray as f64 <= STRAY_SHARE * (w * h) as f64;
    if found {
        stray.into_iter().for_each(|i| surround[i] = true);
    }
    Some((surround, found))
}

/// The box of a collimated field's pixels (`field`, indices into a `w × h`
/// grid): the rows and columns holding at least half as many of them as
/// the fullest row and column, so that a label or a box outline printed
/// across the field's edge does not stretch it. `None` without pixels.
fn field_box(field: &[usize], w: usize, h: usize) -> Option<(usize, usize, usize, usize)> {
    let (mut rows, mut columns) = (vec![0usize; h], vec![0usize; w]);
    for &i in field {
        rows[i / w] += 1;
        columns[i % w] += 1;
    }
    let span = |counts: &[usize]| {
        let most = *counts.iter().max()?;
        let full = |&(_, &c): &(usize, &usize)| most > 0 && c * 2 >= most;
        let first = counts.iter().enumerate().find(full)?.0;
        let last = counts.iter().enumerate().rev().find(full)?.0;
        Some((first, last))
    };
    let ((x0, x1), (y0, y1)) = (span(&columns)?, span(&rows)?);
    Some((x0, y0, x1, y1))
}

/// The cells a smooth flood ([`Reach::Smooth`]) may reach: outside
/// `frame`, within [`SMOOTH_STEP`] of each of their 4 neighbours (a
/// neighbour in the frame is no step: the frame ends there). Passes along
/// rows, each of which the compiler vectorizes.
fn smooth_cells(s: &[f32], frame: &[bool], w: usize, h: usize) -> Vec<bool> {
    let mut near: Vec<bool> = frame.iter().map(|&f| !f).collect();
    // Each cell of `out` stays near when its neighbour (same position in
    // `other`, `other_frame`) is in the frame or within a step.
    let step = |out: &mut [bool], own: &[f32], other: &[f32], other_frame: &[bool]| {
        for (((n, &a), &b), &f) in out.iter_mut().zip(own).zip(other).zip(other_frame) {
            *n &= f | ((a - b).abs() <= SMOOTH_STEP);
        }
    };
    for y in 0..h {
        let row = y * w..(y + 1) * w;
        let (own, out) = (&s[row.clone()], &mut near[row.clone()]);
        if w > 1 {
            // The left and the right neighbour.
            step(
                &mut out[1..],
                &own[1..],
                &own[..w - 1],
                &frame[row.start..row.end - 1],
            );
            step(
                &mut out[..w - 1],
                &own[..w - 1],
                &own[1..],
                &frame[row.start + 1..row.end],
            );
        }
        if y > 0 {
            step(
                out,
                own,
                &s[row.start - w..row.start],
                &frame[row.start - w..row.start],
            );
        }
        if y + 1 < h {
            step(
                out,
                own,
                &s[row.end..row.end + w],
                &frame[row.end..row.end + w],
            );
        }
    }
    near
}

/// The cells of a `w × h` grid outside `frame` on its edge or beside a
/// `frame` cell, row by row. Plain loops: as a filtered iterator over the
/// cells its test stayed out of line, a call per cell.
fn frame_border(frame: &[bool], w: usize, h: usize) -> Vec<usize> {
    let mut border = Vec::new();
    // Per row: beside a frame cell (or on the left or right edge), as a
    // pass the compiler vectorizes; then the cells marked and outside.
    let mut beside = vec![true; w];
    for y in 0..h {
        let row = &frame[y * w..(y + 1) * w];
        if y == 0 || y + 1 == h {
            border.extend((0..w).filter(|&x| !row[x]).map(|x| y * w + x));
            continue;
        }
        let (up, down) = (&frame[(y - 1) * w..y * w], &frame[(y + 1) * w..(y + 2) * w]);
        if w > 2 {
            let inner = beside[1..w - 1]
                .iter_mut()
                .zip(&up[1..w - 1])
                .zip(&down[1..w - 1]);
            for (x, ((b, &u), &d)) in inner.enumerate() {
                // x + 1 is the cell's column; row[x] and row[x + 2] its neighbours.
                *b = u | d | row[x] | row[x + 2];
            }
        }
        border.extend((0..w).filter(|&x| beside[x] && !row[x]).map(|x| y * w + x));
    }
    border
}

/// The most of the image (share) that what a collimated field's flood
/// leaves outside the field's box may hold for it to be surround (text, a
/// label, a marker printed on it; [`collimated_surround`]): a part of the
/// field cut off by something at the surround's level holds more, and is
/// not peeled. Look-alikes of four generators (6,300 images), against no
/// limit: 0.02 polarity 59 -> 59 (a raw spot view with an implant fixed,
/// a spot view whose collimator stripes left 3.2 % lost), chest-wall side
/// 49 -> 48; 0.05 the same verdicts as no limit.
const STRAY_SHARE: f64 = 0.02;

/// A dark band along an edge, in display polarity, is frame (a scanner bed
/// beside the film, padding, the air between the edge and an offset chest
/// wall) when its inner edge is a straight line, as a film's or a chest
/// wall's is: at least [`FrameLevel::Any`]'s share of its lines end inside
/// reach, not at the edge itself, and nine in ten of those ends lie within
/// 2 pixels of the line fitted through them (a tilted film is straight
/// too). The air beside a breast's skin line runs in to a curve.
fn straight_band(runs: &[usize], depth_max: usize) -> bool {
    band_ends(runs, depth_max).is_some_and(|ends| {
        EdgeLine::fit(&ends).is_some_and(|line| line.holds(&ends) * 10 >= ends.len() * 9)
    })
}

/// A clear film margin's inner edge: a straight band's ([`straight_band`]),
/// or one where something lies inside the margin on some lines (a
/// neighbouring film's edge, a sticker): two in three of the ends lie on
/// the line through the deepest ones, and nine in ten of the others short
/// of it. A skin line's ends lie on no line.
fn straight_margin(runs: &[usize], depth_max: usize) -> bool {
    let Some(ends) = band_ends(runs, depth_max) else {
        return false;
    };
    let Some(all) = EdgeLine::fit(&ends) else {
        return false;
    };
    if all.holds(&ends) * 10 >= ends.len() * 9 {
        return true;
    }
    let mut depths: Vec<f64> = ends.iter().map(|&(_, r)| r).collect();
    depths.sort_unstable_by(f64::total_cmp);
    let half = depths[depths.len() / 2];
    let deepest: Vec<(f64, f64)> = ends.iter().copied().filter(|&(_, r)| r >= half).collect();
    // Refitted through the ends on it, a few times, from the deepest half.
    let mut line = EdgeLine::fit(&deepest);
    for _ in 0..3 {
        let on: Vec<(f64, f64)> = line
            .map(|l| {
                ends.iter()
                    .copied()
                    .filter(|&p| l.off(p).abs() <= 2.0)
                    .collect()
            })
            .unwrap_or_default();
        line = EdgeLine::fit(&on);
    }
    let Some(line) = line else {
        return false;
    };
    let on = line.holds(&ends);
    let short = ends.iter().filter(|&&p| line.off(p) < -2.0).count();
    on * 3 >= ends.len() * 2 && short * 10 >= (ends.len() - on) * 9
}

/// The `(line, depth)` ends of a band's lines that end inside reach and not
/// at the edge itself; `None` unless at least [`FrameLevel::Any`]'s share
/// of the lines do.
fn band_ends(runs: &[usize], depth_max: usize) -> Option<Vec<(f64, f64)>> {
    let ends: Vec<(f64, f64)> = runs
        .iter()
        .enumerate()
        .filter(|&(_, &r)| r > 0 && r < depth_max)
        .map(|(a, &r)| (a as f64, r as f64))
        .collect();
    (ends.len() * 100 >= runs.len() * FrameLevel::Any.least_ended_percent()).then_some(ends)
}

/// The least-squares line `depth = depth + slope · (along - along_mean)`
/// through a band's ends.
#[derive(Clone, Copy)]
struct EdgeLine {
    along: f64,
    depth: f64,
    slope: f64,
}

impl EdgeLine {
    fn fit(ends: &[(f64, f64)]) -> Option<EdgeLine> {
        if ends.is_empty() {
            return None;
        }
        let n = ends.len() as f64;
        let (along, depth) = ends
            .iter()
            .fold((0.0, 0.0), |(a, r), &(x, y)| (a + x / n, r + y / n));
        let (sar, saa) = ends.iter().fold((0.0, 0.0), |(ar, aa), &(x, y)| {
            (
                ar + (x - along) * (y - depth),
                aa + (x - along) * (x - along),
            )
        });
        let slope = if saa > 0.0 { sar / saa } else { 0.0 };
        Some(EdgeLine {
            along,
            depth,
            slope,
        })
    }

    /// How far an end lies deeper than the line (negative: short of it).
    fn off(self, (x, y): (f64, f64)) -> f64 {
        y - self.depth - self.slope * (x - self.along)
    }

    /// How many of `ends` lie within 2 pixels of the line.
    fn holds(self, ends: &[(f64, f64)]) -> usize {
        ends.iter().filter(|&&p| self.off(p).abs() <= 2.0).count()
    }
}

/// Every other row and column of the working copy: where the background
/// fit samples, and its coordinates scaled to -1..=1.
struct Grid {
    /// Grid columns.
    w: usize,
    /// The scaled `x` of each grid column and `y` of each grid row.
    fx: Vec<f64>,
    fy: Vec<f64>,
}

impl Grid {
    fn of(w: usize, h: usize) -> Grid {
        Grid {
            w: w.div_ceil(2),
            fx: (0..w)
                .step_by(2)
                .map(|x| quadratic_terms(x, 0, w, h)[1])
                .collect(),
            fy: (0..h)
                .step_by(2)
                .map(|y| quadratic_terms(0, y, w, h)[2])
                .collect(),
        }
    }

    /// The grid's values of a `w`-wide image, row-major.
    fn sample<T: Copy>(&self, v: &[T], w: usize) -> Vec<T> {
        v.chunks(w)
            .step_by(2)
            .flat_map(|row| row.iter().step_by(2).copied())
            .collect()
    }
}

crate::simd::avx2_dispatch! {
/// Least-squares quadratic surface in `(x, y)` (both scaled to -1..=1)
/// through the selected grid values. The normal equations' sums run side
/// by side: with `f = [1, x, y, x², xy, y², value]`, row `a` of `sums`
/// adds `f[a] · f` (a vector multiply-add per row; the entries below the
/// diagonal are summed and ignored). Each sum still adds the same products
/// in the same order as a product-by-product loop.
fn fit_quadratic(values: &[f32], select: &[bool], fx: &[f64], fy: &[f64]) -> Option<[f64; 6]> {
    let mut sums = [[0.0f64; 8]; 6];
    let mut n = 0usize;
    let rows = values.chunks(fx.len().max(1)).zip(select.chunks(fx.len().max(1)));
    for ((row, selected), &fy) in rows.zip(fy) {
        for ((&v, &keep), &fx) in row.iter().zip(selected).zip(fx) {
            if !keep {
                continue;
            }
            n += 1;
            let f = [1.0, fx, fy, fx * fx, fx * fy, fy * fy, v as f64, 0.0];
            for (sum, &fa) in sums.iter_mut().zip(&f) {
                for (s, &fb) in sum.iter_mut().zip(&f) {
                    *s += fa * fb;
                }
            }
        }
    }
    if n < 24 {
        return None;
    }
    let (mut m, mut rhs) = ([[0.0f64; 6]; 6], [0.0f64; 6]);
    for (a, sum) in sums.iter().enumerate() {
        for b in a..6 {
            m[a][b] = sum[b];
            m[b][a] = sum[b];
        }
        rhs[a] = sum[6];
    }
    solve(m, rhs)
}
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

/// A background fit: the smoothed copy's height above a quadratic surface.
struct Background {
    /// Smoothed copy minus the surface.
    residual: Vec<f32>,
    /// Robust spread of the residual over the background pixels.
    sigma: f32,
    /// How far the background departs from "a smooth surface plus white
    /// noise": the spread of the unsmoothed pixels about the surface over
    /// the spread of their high-pass residual (both over the background
    /// pixels, robustly, the latter scaled to the noise's σ). About 1 for
    /// air; well above 1 when the fit sits on a mix of air and tissue.
    excess: f32,
    /// The share of the non-frame pixels (on the fit's grid) the final
    /// surface was fitted to.
    share: f32,
}

/// The fit from the darkest 10 % replaces the one from the darkest 30 % when
/// the latter's [`Background::excess`] is larger by more than this factor
/// (5 % in spread, about 10 % of the noise's variance: more than a smooth
/// gradient fitted over a larger area adds, far less than the tissue a
/// mixed fit takes in, which doubles the spread or more).
const MIXED: f32 = 1.05;

/// The smoothed copy's height above its background: a quadratic surface
/// (gradients, vignetting) fitted to the lower envelope of the non-frame
/// pixels, starting from the darkest `start` share and refitted to the
/// pixels within (-3σ, +1.5σ) of it (σ from the median absolute residual),
/// so tissue, which lies above the background, and dark label boxes, below
/// it, drop out. `raw` is the unsmoothed copy, for [`Background::excess`].
fn above_background(
    raw: &[f32],
    s: &[f32],
    w: usize,
    h: usize,
    frame: &[bool],
    start: f64,
) -> Option<Background> {
    let inside = s.iter().zip(frame).filter(|&(_, &f)| !f);
    let start = quantile(inside.map(|(&v, _)| v), start)?;
    // The fit samples every other row and column; so do σ, the
    // reselection and the excess, until the final surface.
    let grid = Grid::of(w, h);
    let (values, inner) = (grid.sample(s, w), grid.sample(frame, w));
    let mut select: Vec<bool> = values
        .iter()
        .zip(&inner)
        .map(|(&v, &f)| !f && v <= start)
        .collect();
    // Per row the surface is a quadratic in x alone.
    let row_terms =
        |c: &[f64; 6], fy: f64| (c[0] + c[2] * fy + c[5] * fy * fy, c[1] + c[4] * fy, c[3]);
    let level = |(a0, a1, a2): (f64, f64, f64), fx: f64| (a0 + fx * (a1 + a2 * fx)) as f32;
    let mut c = [0.0f64; 6];
    let mut sigma = 0.0f32;
    // The residual on the grid, kept from the σ pass for the reselection.
    let mut on_grid = vec![0.0f32; values.len()];
    for _ in 0..6 {
        c = fit_quadratic(&values, &select, &grid.fx, &grid.fy)?;
        let rows = on_grid.chunks_mut(grid.w).zip(values.chunks(grid.w));
        for ((out, row), &fy) in rows.zip(&grid.fy) {
            let terms = row_terms(&c, fy);
            for ((r, &v), &fx) in out.iter_mut().zip(row).zip(&grid.fx) {
                *r = v - level(terms, fx);
            }
        }
        let selected = on_grid.iter().zip(&select).filter(|(_, s)| **s);
        sigma = (1.4826 * quantile(selected.map(|(r, _)| r.abs()), 0.5)?).max(1e-4);
        let mut changed = false;
        for ((&r, &f), selected) in on_grid.iter().zip(&inner).zip(&mut select) {
            let keep = !f && r > -3.0 * sigma && r < 1.5 * sigma;
            changed |= keep != *selected;
            *selected = keep;
        }
        // Converged: the next fit would be the same.
        if !changed {
            break;
        }
    }
    let fxs: Vec<f64> = (0..w).map(|x| quadratic_terms(x, 0, w, h)[1]).collect();
    let mut residual = vec![0.0f32; w * h];
    for (y, (out, row)) in residual
        .chunks_exact_mut(w)
        .zip(s.chunks_exact(w))
        .enumerate()
    {
        let terms = row_terms(&c, quadratic_terms(0, y, w, h)[2]);
        for ((r, &v), &fx) in out.iter_mut().zip(row).zip(&fxs) {
            *r = v - level(terms, fx);
        }
    }
    // Excess spread over the interior background pixels of the grid:
    // |pixel - surface| against |pixel - mean of its 4 neighbours| (1.25 σ²
    // for white noise).
    let (mut spread, mut noise) = (Vec::new(), Vec::new());
    for (gy, y) in (0..h)
        .step_by(2)
        .enumerate()
        .filter(|&(_, y)| y > 0 && y + 1 < h)
    {
        let terms = row_terms(&c, grid.fy[gy]);
        for (gx, x) in (0..w)
            .step_by(2)
            .enumerate()
            .filter(|&(_, x)| x > 0 && x + 1 < w)
        {
            let i = y * w + x;
            if select[gy * grid.w + gx] {
                let surface = level(terms, grid.fx[gx]);
                let around = (raw[i - 1] + raw[i + 1] + raw[i - w] + raw[i + w]) / 4.0;
                spread.push((raw[i] - surface).abs());
                noise.push((raw[i] - around).abs());
            }
        }
    }
    // The share of the grid's non-frame pixels the surface was fitted to.
    let fitted = select.iter().filter(|&&s| s).count();
    let share = fitted as f32 / inner.iter().filter(|&&f| !f).count().max(1) as f32;
    let excess = match (quantile(spread, 0.5), quantile(noise, 0.5)) {
        (Some(a), Some(b)) => a / (b / 1.25f32.sqrt()).max(1e-6),
        _ => f32::INFINITY,
    };
    Some(Background {
        residual,
        sigma,
        excess,
        share,
    })
}

/// The darkest share a last background fit starts from, when the fits
/// from 30 % and 10 % both stay clearly off "noise about a surface".
const LEAST_AIR: f64 = 0.03;

/// The background fit from the darkest 30 % of the pixels, or the one from
/// the darkest 10 % when it is clearly more noise-like ([`MIXED`]): a
/// breast filling most of the image leaves only a crescent of air, the
/// darkest 30 % then hold fat too and the fit follows it. A breast filling
/// nearly all of it leaves under 10 % of air: while the chosen fit is still
/// more than [`MIXED`] off noise-like, one from the darkest
/// [`LEAST_AIR`] replaces it on the same terms, provided it settled on at
/// least that share (a black label box alone is smaller, and perfectly
/// flat). Returns the chosen fit and the 10 % one when it was not chosen.
fn background(
    raw: &[f32],
    s: &[f32],
    w: usize,
    h: usize,
    frame: &[bool],
) -> Option<(Background, Option<Background>)> {
    let upper = above_background(raw, s, w, h, frame, 0.3);
    let lower = above_background(raw, s, w, h, frame, 0.1);
    let (fit, lower) = match (upper, lower) {
        (Some(u), Some(l)) if l.excess * MIXED < u.excess => (l, None),
        (Some(u), l) => (u, l),
        (None, l) => (l?, None),
    };
    if fit.excess > MIXED
        && let Some(least) = above_background(raw, s, w, h, frame, LEAST_AIR)
        && least.excess * MIXED < fit.excess
        && least.share >= LEAST_AIR as f32
    {
        return Some((least, None));
    }
    Some((fit, lower))
}

impl Background {
    /// How far above the surface tissue lies: 4σ of the residual, at least
    /// 0.02.
    fn tissue_threshold(&self) -> f32 {
        (4.0 * self.sigma).max(0.02)
    }
}

/// The least rise of tissue above the background fit, as a share of the
/// median rise of what lies above [`Background::tissue_threshold`]: a
/// digitized film's air under fog, or a scanner's uneven light, lies a few
/// percent of the range off any quadratic surface, several times its own
/// noise, and joined the breast mask. Tissue rises tens of percent.
/// Look-alikes of four generators (6,300 images), chest-wall misses 66 ->
/// 64 (5 fixed, among them 4 CBIS-like films with fogged air; 3 lost, two
/// decided by under 0.02 before); with deep black padding peeled too
/// ([`DEEP_BAND_PERCENT`]) 63 (fourth generator 41 -> 39, third 4 -> 3,
/// first 20 -> 20). 0.1: 63 (8 fixed, 5 lost); 0.12: 64; 0.15: more lost
/// than fixed.
const LEAST_RISE: f32 = 0.08;

/// The pixels more than [`Background::tissue_threshold`], and more than
/// [`LEAST_RISE`] of the median rise of those, above the fit's surface,
/// outside `frame`.
fn tissue_of(fit: &Background, frame: &[bool]) -> Vec<bool> {
    let t = fit.tissue_threshold();
    let above = fit
        .residual
        .iter()
        .zip(frame)
        .filter(|&(&r, &f)| !f && r > t)
        .map(|(&r, _)| r);
    let t = quantile(above, 0.5).map_or(t, |height| t.max(LEAST_RISE * height));
    fit.residual
        .iter()
        .zip(frame)
        .map(|(&r, &f)| !f && r > t)
        .collect()
}

/// Tenths of the non-frame pixels above the background from which
/// [`layered_tissue`] is tried.
const LAYERED: usize = 7;

/// Most of the image above its background: the fit may sit on something
/// darker than the air (a scanner bed, a black label strip or a tilted
/// film's wedge beside a digitized film), and the film's air is then
/// "tissue". With that first background set aside, a second fit is the
/// air's when it is as flat as a background must be: noise-like (an
/// excess up to 1.2, against 1.05 for the first choice: a film's air under
/// a heel gradient read 1.09-1.13) and so quiet that the first fit's
/// tissue threshold lies over 4σ of it (film air: σ under 0.001). When
/// the first background was the air beside a wide breast, what is left is
/// fat: in noisy images it can pass the first test (excess 0.95-1.10 on 7
/// look-alikes) but not the second (σ 0.023-0.033). Returns the tissue
/// above the second fit (outside `frame`, within `tissue`), `None` when it
/// is not the air's; the fit skips `fitted_out` too, as the first did.
fn layered_tissue(
    raw: &[f32],
    s: &[f32],
    (w, h): (usize, usize),
    (frame, fitted_out): (&[bool], &[bool]),
    tissue: &[bool],
    threshold: f32,
) -> Option<Vec<bool>> {
    let aside =
        |out: &[bool]| -> Vec<bool> { out.iter().zip(tissue).map(|(&f, &t)| f || !t).collect() };
    let (next, _) = background(raw, s, w, h, &aside(fitted_out))?;
    (next.excess <= 1.2 && next.share >= 0.1 && 4.0 * next.sigma <= threshold)
        .then(|| tissue_of(&next, &aside(frame)))
}

/// Erosion (`erode = true`, outside counts as background) or dilation with a
/// `(2r+1)²` square, separably with running counts: along each row, then
/// down all columns at once (one count per column, updated a row at a time).
fn morph(mask: &[bool], w: usize, h: usize, r: usize, erode: bool) -> Vec<bool> {
    if w == 0 {
        return Vec::new();
    }
    let full = 2 * r + 1;
    let hit = |count: usize| if erode { count == full } else { count > 0 };
    let mut rows = vec![false; mask.len()];
    // Per row, the window [i - r, i + r] counted from running sums: the
    // windows wholly inside the row (all but r at each end) in one pass
    // the compiler vectorizes.
    let mut sums = vec![0u32; w + 1];
    let inner = r..w.saturating_sub(r);
    for (src, out) in mask.chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
        let mut sum = 0;
        for (total, &b) in sums[1..].iter_mut().zip(src) {
            sum += u32::from(b);
            *total = sum;
        }
        let count = |i: usize| (sums[(i + r + 1).min(w)] - sums[i.saturating_sub(r)]) as usize;
        if inner.is_empty() {
            for (i, o) in out.iter_mut().enumerate() {
                *o = hit(count(i));
            }
            continue;
        }
        for i in (0..r).chain(inner.end..w) {
            out[i] = hit(count(i));
        }
        let windows = sums[2 * r + 1..].iter().zip(&sums);
        for (o, (&end, &start)) in out[inner.clone()].iter_mut().zip(windows) {
            *o = hit((end - start) as usize);
        }
    }
    // u32 counts (a window is far narrower than 2^32): the column loops
    // fit twice as many in a vector as usize counts.
    let mut counts = vec![0u32; w];
    let line = |y: usize| &rows[y * w..(y + 1) * w];
    for y in 0..r.min(h) {
        counts
            .iter_mut()
            .zip(line(y))
            .for_each(|(c, &b)| *c += u32::from(b));
    }
    let mut out = vec![false; mask.len()];
    for (y, o) in out.chunks_exact_mut(w).enumerate() {
        if y + r < h {
            counts
                .iter_mut()
                .zip(line(y + r))
                .for_each(|(c, &b)| *c += u32::from(b));
        }
        if y > r {
            counts
                .iter_mut()
                .zip(line(y - r - 1))
                .for_each(|(c, &b)| *c -= u32::from(b));
        }
        o.iter_mut()
            .zip(&counts)
            .for_each(|(o, &c)| *o = hit(c as usize));
    }
    out
}

/// Below this [`TextureMap::agreement`], a breast mask may hold air: the
/// background fits are retried ([`RETRY_SKIPS`]). A retry costs about one
/// segmentation (2 ms on a 256-pixel copy) and must beat the first mask by
/// [`BETTER_AGREEMENT`]: from 0.9 down to 0.8, the look-alikes' chest-wall
/// misses stayed the same (101 against 100 of 6,300, the differences all
/// images whose polarity is wrong or marginal) and a 300-image ingest at
/// 64×48 went from 23-39 % to 8-18 % over the time before the retries.
const AGREEING: f32 = 0.8;

/// A retried mask replaces the first when its [`TextureMap::agreement`] is
/// higher by this much (the highest one wins; the retries stop at one that
/// reaches [`AGREEING`]).
const BETTER_AGREEMENT: f32 = 0.1;

/// The darkest shares of the non-frame pixels that the retried background
/// fits leave out, besides the structured blocks: none, then 10 % and
/// 25 % (a black label box, a scanner bed or padding darker than the air).
const RETRY_SKIPS: [f64; 3] = [0.0, 0.1, 0.25];

/// Segments the breast on the display copy (values 0..=1, tissue bright).
///
/// The background fits start from the darkest pixels. When something
/// darker than the air lies beside it (a black label box holding white
/// text, a dark halo or gap, a scanner bed), or a heel gradient makes part
/// of the air the darkest thing, the rest of the air lies "above the
/// background" and can form the largest component. Air is flat and tissue
/// textured (`TextureMap`): when the mask covers the structured blocks
/// poorly (`AGREEING`), the fits are retried without the structured
/// blocks (`RETRY_SKIPS`), and a mask covering them clearly better
/// (`BETTER_AGREEMENT`) wins. Over 17 look-alike trees of three
/// generators (5,100 images) the chest-wall misses went 41 -> 29.
pub fn segment(display: &Work) -> Segmentation {
    segment_with(display, Cues::default())
}

/// What the polarity stage measured that [`segment`] needs too
/// (`inversion::component_and_cues`); `None` where it is to be measured.
#[derive(Default)]
pub(super) struct Cues {
    /// The display copy's [`TextureMap`].
    pub texture_map: Option<TextureMap>,
    /// The display copy's [`outline_bulge`] (the stored copy's: polarity
    /// does not change it).
    pub outline: Option<f64>,
}

/// [`segment`] with what is already measured.
pub(super) fn segment_with(display: &Work, cues: Cues) -> Segmentation {
    let Cues {
        texture_map,
        outline,
    } = cues;
    let (w, h) = (display.w, display.h);
    debug_assert!(texture_map.as_ref().is_none_or(|map| map.fits(w, h)));
    if w < 4 || h < 4 {
        return Segmentation {
            w,
            h,
            breast: None,
            frame: Vec::new(),
            texture: None,
            outline: 0.0,
        };
    }
    let smooth = super::inversion::box_mean(&display.px, w, h, 1);
    let outline = outline.unwrap_or_else(|| outline_bulge(&smooth, w, h));
    let frame = film_frame(&smooth, w, h, FrameLevel::Bright);
    let mut breast = breast_mask(display, &smooth, &frame, &frame);
    let texture_map = texture_map.or_else(|| TextureMap::of(&display.px, w, h));
    let texture = texture_map.as_ref().and_then(|map| map.centroid(w));
    if let Some(map) = texture_map {
        let agreement = |m: &Option<Vec<bool>>| m.as_deref().and_then(|m| map.agreement(m, w));
        let first = agreement(&breast);
        if first.is_none_or(|a| a < AGREEING) {
            let structured = map.structured_pixels(w, h);
            let inside = || {
                smooth
                    .iter()
                    .zip(&frame)
                    .filter(|(_, f)| !**f)
                    .map(|(&v, _)| v)
            };
            let mut best = first.unwrap_or(0.0) + BETTER_AGREEMENT;
            for skip in RETRY_SKIPS {
                let darkest = (skip > 0.0).then(|| quantile(inside(), skip)).flatten();
                let fitted_out: Vec<bool> = (0..w * h)
                    .map(|i| frame[i] || structured[i] || darkest.is_some_and(|d| smooth[i] <= d))
                    .collect();
                let retried = breast_mask(display, &smooth, &frame, &fitted_out);
                if let Some(a) = agreement(&retried)
                    && a > best
                {
                    best = a;
                    breast = retried;
                    if a >= AGREEING {
                        break;
                    }
                }
            }
        }
    }
    Segmentation {
        w,
        h,
        breast,
        frame,
        texture,
        outline,
    }
}

/// The breast mask of [`segment`]: tissue is what lies above the
/// background fits (which skip the pixels of `fitted_out`: `frame`, or
/// more), outside `frame`; the largest component after an opening, grown
/// back into the tissue. `None` when no background or no component of
/// 0.2 % of the image is found.
fn breast_mask(
    display: &Work,
    smooth: &[f32],
    frame: &[bool],
    fitted_out: &[bool],
) -> Option<Vec<bool>> {
    let (w, h) = (display.w, display.h);
    let count = |m: &[bool]| m.iter().filter(|&&t| t).count();
    let (fit, lower) = background(&display.px, smooth, w, h, fitted_out)?;
    // The first fit's tissue threshold, for the layered fit below.
    let threshold = fit.tissue_threshold();
    let mut tissue = tissue_of(&fit, frame);
    // A breast much larger than its background whose 30 % fit still looked
    // as noise-like: the 10 % fit, all the same.
    let inside = frame.iter().filter(|&&f| !f).count();
    if count(&tissue) * 10 < inside
        && let Some(lower) = lower
    {
        tissue = tissue_of(&lower, frame);
    }
    if count(&tissue) * 10 >= inside * LAYERED
        && let Some(layered) = layered_tissue(
            &display.px,
            smooth,
            (w, h),
            (frame, fitted_out),
            &tissue,
            threshold,
        )
        && count(&layered) * 20 >= inside
    {
        tissue = layered;
    }
    let min_area = ((w * h) / 500).max(1);
    let r = ((w.min(h) as f64 * 0.025).round() as usize).max(1);
    let opened = morph(&morph(&tissue, w, h, r, true), w, h, r, false);
    let mut core = largest_component(&opened, w, h);
    if core.len() < min_area {
        core = largest_component(&tissue, w, h);
        if core.len() < min_area {
            return None;
        }
    }
    let mut core_mask = vec![false; w * h];
    core.iter().for_each(|&i| core_mask[i] = true);
    let grown = morph(&core_mask, w, h, r, false);
    Some(grown.iter().zip(&tissue).map(|(&g, &t)| g && t).collect())
}

impl Segmentation {
    /// Component method: centroid + taper + edge-contact + texture + outline
    /// votes.
    pub fn chest_wall(&self) -> ChestWall {
        let Some(mask) = &self.breast else {
            return ChestWall::UNDECIDED;
        };
        let (w, h) = (self.w, self.h);
        let mut count = 0usize;
        let mut sum_x = 0.0f64;
        let mut col_height = vec![0usize; w];
        for row in mask.chunks_exact(w) {
            for (x, &m) in row.iter().enumerate() {
                if m {
                    count += 1;
                    sum_x += x as f64 + 0.5;
                    col_height[x] += 1;
                }
            }
        }
        if count == 0 || w < 2 {
            return ChestWall::UNDECIDED;
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
        // Contact: the rows where the breast is cut off on each side. The
        // chest wall cuts it straight, at the image edge (inside any film
        // border) or, when the chest wall sits inside the image, along the
        // breast's own outermost column; a nipple-side skin line is a
        // curve that reaches the box's end only near the nipple.
        let edge = ((w as f64 * 0.02).round() as usize).max(1);
        let (mut touch_left, mut touch_right) = (0usize, 0usize);
        for (y, row) in mask.chunks_exact(w).enumerate() {
            let (Some(first), Some(last)) =
                (row.iter().position(|&m| m), row.iter().rposition(|&m| m))
            else {
                continue;
            };
            let (left_edge, right_edge) = match self.frame.get(y * w..(y + 1) * w) {
                Some(f) => (
                    f.iter().take_while(|&&b| b).count(),
                    f.iter().rev().take_while(|&&b| b).count(),
                ),
                None => (0, 0),
            };
            touch_left += (first < left_edge + edge || first <= x0 + edge) as usize;
            touch_right += (last + right_edge + edge >= w || last + edge >= x1) as usize;
        }
        let contact = (touch_left as f64 - touch_right as f64) / h as f64;
        let texture = self.texture.unwrap_or(0.0);
        let outline = OUTLINE_WEIGHT * self.outline;
        let score = centroid + taper + 0.5 * contact + unmasked_lean(self.outline, self.texture);
        let side = Side::of_lean(score);
        ChestWall {
            side,
            score: side.map(|_| score.abs()),
            votes: [centroid, taper, contact, texture, outline],
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
        return ChestWall::UNDECIDED;
    };
    let total = l.std + r.std;
    if total <= 0.0 || l.std == r.std {
        return ChestWall::UNDECIDED;
    }
    let score = (l.std - r.std) / total;
    ChestWall {
        side: Some(if score > 0.0 { Side::Left } else { Side::Right }),
        score: Some(score.abs()),
        ..ChestWall::UNDECIDED
    }
}

#[cfg(test)]
mod tests {
    use super::super::inversion::display_copy;
    use super::super::testimg::{Spec, blobs, grid, image, spot_view, uniform_noise};
    use super::*;

    /// Textured content for the film-frame tests: no line of it uniform.
    fn textured(x: usize, y: usize) -> f32 {
        0.5 + 0.3 * ((x as f32 * 0.9).sin() * (y as f32 * 0.7).cos())
    }

    /// Asserts that on each row of `rows` the `depth` leftmost pixels of
    /// `frame` are peeled and no other pixel is.
    fn assert_left_band(
        frame: &[bool],
        w: usize,
        rows: std::ops::Range<usize>,
        depth: usize,
        what: &str,
    ) {
        for y in rows {
            let row = &frame[y * w..(y + 1) * w];
            assert!(row[..depth].iter().all(|&f| f), "{what}, row {y}");
            assert!(!row[depth..].iter().any(|&f| f), "{what}, row {y}");
        }
    }

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
    fn a_fatty_breast_beside_a_bright_edge_glow_is_found_by_its_texture() {
        // A small fatty breast barely above its air, and the air glowing
        // up steeply along the nipple-side edge (no quadratic surface
        // follows it): the glow lies further above the background fit
        // than the fat and becomes the mask.
        let (w, h) = (300, 400);
        let mut noise = uniform_noise(99);
        let px = grid(w, h, |x, y| {
            let (x, y) = (x as f32, y as f32);
            let n = noise();
            let (dx, dy) = (
                x / (w as f32 * 0.35),
                (y - h as f32 / 2.0) / (h as f32 * 0.4),
            );
            let glow = 0.5 * ((x - w as f32) / (w as f32 * 0.15)).exp();
            let v = if dx * dx + dy * dy < 1.0 {
                0.1 + 0.03 * (x * 0.4).sin() * (y * 0.3).cos() + 0.005 * n
            } else {
                0.03 + glow + 0.005 * n
            };
            (v * 4095.0) as u16
        });
        let mut d = image(Spec::default());
        d.pixels = px;
        let work = Work::of(&d, 200);
        let wall = segment(&display_copy(&work, false)).chest_wall();
        assert!(wall.votes[3] > 0.2, "texture vote {:?}", wall.votes);
        assert_eq!(wall.side, Some(Side::Left), "votes {:?}", wall.votes);
    }

    /// A `w × h` noisy grey background holding a disc of centre
    /// `(cx, cy)` (in pixels) and radius `r` that is `rise` brighter.
    fn disc(w: usize, h: usize, (cx, cy): (f32, f32), r: f32, rise: f32) -> Vec<f32> {
        let mut noise = uniform_noise(7);
        grid(w, h, |x, y| {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let inside = dx * dx + dy * dy < r * r;
            0.4 + if inside { rise } else { 0.0 } + 0.01 * noise()
        })
    }

    #[test]
    fn outline_bulge_leans_toward_the_chest_wall_in_either_polarity() {
        let (w, h) = (120, 160);
        let smooth = |px: &[f32]| super::super::inversion::box_mean(px, w, h, 1);
        let bulge = |px: &[f32]| outline_bulge(&smooth(px), w, h);
        // A half disc against the left edge: the chest wall on the left.
        let left = disc(w, h, (0.0, 80.0), 70.0, 0.3);
        let right = disc(w, h, (w as f32 - 1.0, 80.0), 70.0, 0.3);
        let inverted: Vec<f32> = left.iter().map(|v| 1.0 - v).collect();
        let (l, r, i) = (bulge(&left), bulge(&right), bulge(&inverted));
        assert!(l > 0.01, "left {l}");
        assert!(r < -0.01, "right {r}");
        assert!((i - l).abs() < 1e-6, "inverted {i} vs {l}");
        // A closed outline (an implant, a marker), a straight border and
        // a rectangle (a collimated field) do not vote.
        let closed = disc(w, h, (60.0, 80.0), 40.0, 0.3);
        let border = grid(w, h, |x, y| {
            if x < 10 {
                0.9
            } else {
                0.4 + 0.1 * ((x + 3 * y) % 7) as f32 / 7.0
            }
        });
        let field = grid(w, h, |x, y| {
            if (20..100).contains(&x) && (30..130).contains(&y) {
                0.7
            } else {
                0.1
            }
        });
        for (what, px) in [("closed", closed), ("border", border), ("field", field)] {
            let b = bulge(&px);
            assert!(b.abs() < 0.2 * l, "{what}: {b} against {l}");
        }
        assert_eq!(outline_bulge(&[0.5; 4], 2, 2), 0.0);
        assert_eq!(outline_bulge(&[0.5; 100], 10, 10), 0.0);
    }

    #[test]
    fn fall_off_points_to_the_chest_wall_in_display_polarity() {
        // A half disc against the left edge, brightest at the chest wall,
        // on dark air; a bright film border along the right edge, whose
        // step points away from the chest wall, peeled.
        let (w, h) = (120, 160);
        let mut noise = uniform_noise(3);
        let px = grid(w, h, |x, y| {
            let (dx, dy) = (x as f32, y as f32 - 80.0);
            let r = (dx * dx + dy * dy).sqrt() / 70.0;
            let v = match x {
                110.. => 0.95,
                _ if r < 1.0 => 0.4 + 0.4 * (1.0 - r),
                _ => 0.1,
            };
            v + 0.002 * noise()
        });
        let frame = grid(w, h, |x, _| if x >= 110 { 1.0 } else { 0.0 });
        let frame: Vec<bool> = frame.iter().map(|&f| f > 0.5).collect();
        let smooth = super::super::inversion::box_mean(&px, w, h, 1);
        let inverted: Vec<f32> = smooth.iter().map(|v| 1.0 - v).collect();
        let at = |s: &[f32], side| fall_off(s, w, h, &frame, side).expect("enough gradients");
        assert!(at(&smooth, Side::Left) > 0.5, "{}", at(&smooth, Side::Left));
        assert!(
            at(&smooth, Side::Right) < 0.0,
            "{}",
            at(&smooth, Side::Right)
        );
        assert!(
            at(&inverted, Side::Left) < -0.5,
            "{}",
            at(&inverted, Side::Left)
        );
        // Unpeeled, the border's step pulls the other way.
        let bare = vec![false; w * h];
        let unpeeled = fall_off(&smooth, w, h, &bare, Side::Left).expect("enough gradients");
        assert!(unpeeled < at(&smooth, Side::Left), "{unpeeled}");
        assert_eq!(fall_off(&[0.5; 16], 4, 4, &[false; 16], Side::Left), None);
        assert_eq!(
            fall_off(&[0.5; 400], 20, 20, &[false; 400], Side::Left),
            None
        );
    }

    #[test]
    fn a_breast_the_mask_does_not_place_is_decided_by_its_outline() {
        // A mask that tells neither side (centred, square, touching both
        // sides on every row) and no texture: the outline decides.
        let (w, h) = (40, 40);
        let mask: Vec<bool> = (0..w * h).map(|i| (10..30).contains(&(i / w))).collect();
        for (outline, side) in [(0.02, Side::Left), (-0.02, Side::Right)] {
            let seg = Segmentation {
                w,
                h,
                breast: Some(mask.clone()),
                frame: Vec::new(),
                texture: None,
                outline,
            };
            let wall = seg.chest_wall();
            assert_eq!(wall.side, Some(side), "votes {:?}", wall.votes);
            assert_eq!(wall.votes[..4], [0.0; 4]);
        }
    }

    #[test]
    fn a_strip_darker_than_the_air_is_set_aside() {
        // A noiseless black label strip across the image, inside it (not
        // a border), below the film's air: the first background fit sits
        // on it and takes the air for tissue.
        for left in [true, false] {
            let mut d = image(Spec {
                left,
                noise: 0.005,
                ..Spec::default()
            });
            let (w, h) = (d.columns as usize, d.rows as usize);
            for v in &mut d.pixels {
                *v += 200;
            }
            for v in &mut d.pixels[w * h * 84 / 100..w * h * 92 / 100] {
                *v = 0;
            }
            let work = Work::of(&d, 200);
            let seg = segment(&display_copy(&work, false));
            let breast = seg.breast.as_ref().expect("a breast");
            let share = breast.iter().filter(|&&b| b).count() as f64 / breast.len() as f64;
            // The half-disc covers 0.6 × 0.8 × π/4 ≈ 38 % of the image.
            assert!(
                (0.3..0.45).contains(&share),
                "left {left}: breast {share:.2} of the image"
            );
            let want = if left { Side::Left } else { Side::Right };
            assert_eq!(seg.chest_wall().side, Some(want));
        }
    }

    #[test]
    fn fogged_air_a_few_percent_above_the_fit_is_no_tissue() {
        // Film air fogged over the nipple side's upper half: a step of 3 %
        // of the range, far above the air's noise and off any quadratic
        // surface, joined to the skin line.
        let mut d = image(Spec {
            noise: 0.005,
            ..Spec::default()
        });
        let (w, h) = (d.columns as usize, d.rows as usize);
        let fogged = |i: usize, v: u16| i % w > w / 3 && i / w < h / 2 && v < 400;
        for (i, v) in d.pixels.iter_mut().enumerate() {
            if fogged(i, *v) {
                *v += 120;
            }
        }
        let fog: Vec<bool> = (0..w * h).map(|i| fogged(i, 0)).collect();
        let work = Work::of(&d, 200);
        let seg = segment(&display_copy(&work, false));
        let breast = seg.breast.as_ref().expect("a breast");
        // The working copy is the image scaled by 2/3 (no reduction).
        let (ww, wh) = (work.w, work.h);
        let (mut fog_in, mut fog_all) = (0usize, 0usize);
        for (j, &b) in breast.iter().enumerate() {
            let (x, y) = ((j % ww) * w / ww, (j / ww) * h / wh);
            if fog[y * w + x] && d.pixels[y * w + x] < 520 {
                fog_all += 1;
                fog_in += b as usize;
            }
        }
        assert!(fog_all > 1000, "{fog_all} fogged air pixels");
        // Only the blur of the skin line (without the rise: all of it).
        assert!(
            fog_in * 10 < fog_all,
            "{fog_in} of {fog_all} fogged air pixels in the breast mask"
        );
        assert_eq!(seg.chest_wall().side, Some(Side::Left));
    }

    #[test]
    fn black_label_boxes_darker_than_the_air_are_left_out_of_the_fit() {
        // Black boxes holding white text at the nipple side, darker than
        // the air, which rises across the image (a heel gradient): the
        // first background fit sits on the boxes and takes the far air for
        // tissue. The boxes read as flat (their strokes count as noise),
        // so only the retry that leaves out the darkest pixels finds the
        // air; without the retries every case here picks the wrong side.
        for (box_w, box_h, lift, rise, boxes) in [
            (0.3, 0.12, 400, 600, 2),
            (0.2, 0.08, 300, 800, 2),
            (0.25, 0.1, 300, 0, 3),
        ] {
            for left in [true, false] {
                let mut d = image(Spec {
                    noise: 0.01,
                    depth: 0.4,
                    gradient: true,
                    ..Spec::default()
                });
                let (w, h) = (d.columns as usize, d.rows as usize);
                for (i, v) in d.pixels.iter_mut().enumerate() {
                    *v += lift + (rise as f32 * (i % w) as f32 / w as f32) as u16;
                }
                let (bw, bh) = ((w as f32 * box_w) as usize, (h as f32 * box_h) as usize);
                for y0 in [h - bh - 5, 5, h / 2 - bh / 2].into_iter().take(boxes) {
                    let x0 = w - bw - 5;
                    for y in y0..y0 + bh {
                        for x in x0..x0 + bw {
                            let inner =
                                (4..bh - 4).contains(&(y - y0)) && (4..bw - 4).contains(&(x - x0));
                            let stroke = inner && (x / 3 + y / 4) % 5 == 0;
                            d.pixels[y * w + x] = if stroke { 4000 } else { 0 };
                        }
                    }
                }
                if !left {
                    d.pixels.chunks_mut(w).for_each(|row| row.reverse());
                }
                let display = display_copy(&Work::of(&d, 200), false);
                let seg = segment(&display);
                let breast = seg.breast.as_ref().expect("a breast");
                let share = breast.iter().filter(|&&b| b).count() as f64 / breast.len() as f64;
                let case = format!("boxes {box_w}x{box_h}x{boxes}, rise {rise}, left {left}");
                // The half-disc covers 0.4 × 0.8 × π/4 ≈ 25 % of the image.
                assert!((0.2..0.4).contains(&share), "{case}: breast {share:.2}");
                let want = if left { Side::Left } else { Side::Right };
                assert_eq!(seg.chest_wall().side, Some(want), "{case}");
            }
        }
    }

    #[test]
    fn quantile_selects_in_total_cmp_order() {
        let v = [
            3.5f32,
            -0.0,
            0.0,
            -2.25,
            f32::INFINITY,
            1e-30,
            -1e30,
            7.0,
            f32::NAN,
            -7.0,
            0.5,
        ];
        let mut sorted = v.to_vec();
        sorted.sort_by(f32::total_cmp);
        for (k, want) in sorted.iter().enumerate() {
            let q = k as f64 / (v.len() - 1) as f64;
            let got = quantile(v, q).unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "q {q}");
        }
        assert_eq!(quantile([], 0.5), None);
    }

    #[test]
    #[allow(clippy::needless_range_loop)] // the plain form, indexed like the maths
    fn fit_and_morphology_equal_their_plain_forms_bit_for_bit() {
        let (w, h) = (37, 23);
        let s: Vec<f32> = (0..w * h)
            .map(|i| ((i * 7919 % 1000) as f32 / 997.0).sin().abs())
            .collect();
        let select: Vec<bool> = (0..w * h).map(|i| i % 3 != 0).collect();
        // The normal equations summed one product at a time.
        let (mut m, mut rhs) = ([[0.0f64; 6]; 6], [0.0f64; 6]);
        for y in (0..h).step_by(2) {
            for x in (0..w).step_by(2) {
                if !select[y * w + x] {
                    continue;
                }
                let f = quadratic_terms(x, y, w, h);
                for a in 0..6 {
                    rhs[a] += f[a] * s[y * w + x] as f64;
                    for b in a..6 {
                        m[a][b] += f[a] * f[b];
                    }
                }
            }
        }
        for a in 0..6 {
            for b in 0..a {
                m[a][b] = m[b][a];
            }
        }
        let grid = Grid::of(w, h);
        let (values, selected) = (grid.sample(&s, w), grid.sample(&select, w));
        let fit = fit_quadratic(&values, &selected, &grid.fx, &grid.fy);
        assert_eq!(fit, solve(m, rhs));
        // A square window checked pixel by pixel.
        let mask: Vec<bool> = s.iter().map(|&v| v > 0.4).collect();
        for (r, erode) in [(1, true), (1, false), (3, true), (3, false), (30, false)] {
            let plain: Vec<bool> = (0..w * h)
                .map(|i| {
                    let (x, y) = ((i % w) as isize, (i / w) as isize);
                    let r = r as isize;
                    let window =
                        (y - r..=y + r).flat_map(|yy| (x - r..=x + r).map(move |xx| (xx, yy)));
                    let mut values = window.map(|(xx, yy)| {
                        let inside = (0..w as isize).contains(&xx) && (0..h as isize).contains(&yy);
                        inside && mask[yy as usize * w + xx as usize]
                    });
                    if erode {
                        values.all(|b| b)
                    } else {
                        values.any(|b| b)
                    }
                })
                .collect();
            assert_eq!(morph(&mask, w, h, r, erode), plain, "r {r} erode {erode}");
        }
        assert!(morph(&[], 0, 0, 2, true).is_empty());
    }

    #[test]
    fn the_floods_border_and_smooth_cells_equal_their_plain_forms() {
        // A frame of two blocks and scattered cells; values in steps of
        // 0.004 to 0.016 around the smooth step (0.01), on grids down to a
        // single row or column.
        let mut noise = uniform_noise(99);
        for (w, h) in [(17, 11), (1, 6), (6, 1), (2, 2), (3, 9)] {
            let frame: Vec<bool> = grid(w, h, |x, y| {
                (x < 3 && y < 4) || (x + 2 >= w && y > 5) || (x * 7 + y * 3) % 11 == 0
            });
            let s: Vec<f32> = (0..w * h).map(|_| 0.5 + 0.016 * noise()).collect();
            let at = |x: isize, y: isize| {
                ((0..w as isize).contains(&x) && (0..h as isize).contains(&y))
                    .then(|| y as usize * w + x as usize)
            };
            let around = |i: usize| {
                let (x, y) = ((i % w) as isize, (i / w) as isize);
                [at(x - 1, y), at(x + 1, y), at(x, y - 1), at(x, y + 1)]
            };
            let plain_border: Vec<usize> = (0..w * h)
                .filter(|&i| {
                    let n = around(i);
                    !frame[i] && (n.contains(&None) || n.iter().flatten().any(|&j| frame[j]))
                })
                .collect();
            assert_eq!(frame_border(&frame, w, h), plain_border, "{w}x{h}");
            let plain_smooth: Vec<bool> = (0..w * h)
                .map(|i| {
                    let step = |j: &usize| frame[*j] || (s[i] - s[*j]).abs() <= SMOOTH_STEP;
                    !frame[i] && around(i).iter().flatten().all(step)
                })
                .collect();
            assert_eq!(smooth_cells(&s, &frame, w, h), plain_smooth, "{w}x{h}");
        }
    }

    #[test]
    fn tiny_and_blank_images_are_undecided_without_panicking() {
        for (w, h) in [(1, 1), (1, 5), (5, 1), (4, 4), (7, 3)] {
            let mut d = image(Spec {
                w: 8,
                h: 8,
                ..Spec::default()
            });
            d.columns = w as u32;
            d.rows = h as u32;
            d.pixels.truncate(w * h);
            let work = Work::of(&d, 200);
            let _ = segment(&display_copy(&work, false)).chest_wall();
            d.pixels.iter_mut().for_each(|v| *v = 100);
            let work = Work::of(&d, 200);
            assert_eq!(segment(&display_copy(&work, false)).chest_wall().side, None);
        }
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
    }

    #[test]
    fn film_frame_peels_straight_dark_bands_too() {
        // A dark uniform band along the left edge (a film border in stored,
        // inverted polarity, or a scanner bed in display polarity) beside
        // textured content.
        let (w, h) = (60, 50);
        let s = grid(w, h, |x, y| if x < 4 { 0.02 } else { textured(x, y) });
        for level in [FrameLevel::Bright, FrameLevel::Any] {
            let frame = film_frame(&s, w, h, level);
            assert_left_band(&frame, w, 0..h, 4, &format!("{level:?}"));
        }
    }

    #[test]
    fn film_frame_peels_deep_black_padding_and_the_margin_inside_it() {
        // In display polarity: black padding over the left 22 % (deeper
        // than the usual 15 % reach), then a film's clear margin, then
        // textured content.
        let (w, h) = (100, 60);
        let s = grid(w, h, |x, y| match x {
            0..22 => 0.01,
            22..28 => 0.95,
            _ => textured(x, y),
        });
        let frame = film_frame(&s, w, h, FrameLevel::Bright);
        assert_left_band(&frame, w, 0..h, 28, "Bright");
    }

    #[test]
    fn film_frame_peels_a_flat_band_with_a_wedge_across_its_end() {
        // A saturated band along the left edge whose outermost column is
        // dark over its top 15 % (the corner of a tilted film's wedge).
        let (w, h) = (80, 100);
        let s = grid(w, h, |x, y| match x {
            _ if x < 10 && y * 100 < h * 15 && x < 10 - y / 2 => 0.01,
            0..10 => 0.998,
            _ => textured(x, y),
        });
        for level in [FrameLevel::Bright, FrameLevel::Any] {
            let frame = film_frame(&s, w, h, level);
            assert_left_band(&frame, w, h * 20 / 100..h, 10, &format!("{level:?}"));
        }
    }

    #[test]
    fn film_frame_follows_a_deep_tilted_clear_margin() {
        // A digitized film whose clear margin (bright) covers the bottom
        // 24-34 % of the image, its inner edge tilted: beyond the usual
        // 15 % reach, but a straight line, so it is peeled at either level;
        // a textured breast above it, dark air beside it. With a scanner's
        // dark edge strip (3 rows) outside the margin, the strip is the
        // outermost band and the margin is peeled as the next one in (the
        // strip's edge blur skipped).
        let (w, h) = (80, 120);
        let edge = |x: usize| h as f32 * 0.66 + x as f32 * 0.15;
        for strip in [0, 3] {
            let s: Vec<f32> = (0..w * h)
                .map(|i| {
                    let (x, y) = (i % w, i / w);
                    let (dx, dy) = (x as f32 / 45.0, (y as f32 - 40.0) / 36.0);
                    if y >= h - strip {
                        0.02
                    } else if y as f32 >= edge(x) {
                        0.96
                    } else if dx * dx + dy * dy < 1.0 {
                        0.5 + 0.2 * ((x as f32 * 0.9).sin() * (y as f32 * 0.7).cos())
                    } else {
                        0.05 + 0.01 * ((x * 7 + y * 13) % 5) as f32
                    }
                })
                .collect();
            let blur = if strip > 0 { strip + LAYER_GAP } else { 0 };
            for level in [FrameLevel::Bright, FrameLevel::Any] {
                let frame = film_frame(&s, w, h, level);
                for x in 0..w {
                    let mut rows = 0..h;
                    let in_margin = |y: &usize| *y as f32 >= edge(x) + 1.0 && *y < h - blur;
                    let above = |y: &usize| (*y as f32) < edge(x) - 1.0;
                    assert!(
                        rows.clone().filter(in_margin).all(|y| frame[y * w + x]),
                        "strip {strip}, {level:?}, column {x}"
                    );
                    assert!(
                        !rows.any(|y| above(&y) && frame[y * w + x]),
                        "strip {strip}, {level:?}, column {x}"
                    );
                }
            }
        }
    }

    #[test]
    fn film_frame_peels_a_tilted_films_margin_behind_a_wedge_of_bed() {
        // A film scanned 2 degrees askew: along the left edge a wedge of
        // dark scanner bed widens from nothing (upper half) to 2 columns
        // (bottom quarter), so that half the edge column and a quarter of
        // the next are bed, the rest clear margin; the margin (8 columns,
        // bright) follows the wedge; then dark air and a textured breast
        // against the right edge. The margin and the wedge are frame; the
        // breast is not.
        let (w, h) = (80, 120);
        let wedge = |y: usize| (y / 30).saturating_sub(1);
        let s: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let (dx, dy) = ((w - x) as f32 / 40.0, (y as f32 - 60.0) / 45.0);
                if x < wedge(y) {
                    0.02
                } else if x < wedge(y) + 8 {
                    0.96 + 0.002 * ((x * 3 + y * 5) % 3) as f32
                } else if dx * dx + dy * dy < 1.0 {
                    0.5 + 0.2 * ((x as f32 * 0.9).sin() * (y as f32 * 0.7).cos())
                } else {
                    0.05 + 0.01 * ((x * 7 + y * 13) % 5) as f32
                }
            })
            .collect();
        for level in [FrameLevel::Bright, FrameLevel::Any] {
            let frame = film_frame(&s, w, h, level);
            for y in 0..h {
                let margin = wedge(y) + 7;
                assert!(
                    (0..margin).all(|x| frame[y * w + x]),
                    "{level:?}, row {y}: wedge and margin"
                );
                assert!(
                    (margin + 4..w).all(|x| !frame[y * w + x]),
                    "{level:?}, row {y}: inside the film"
                );
            }
        }
    }

    #[test]
    fn film_frame_peels_the_surround_of_a_collimated_field_however_deep() {
        // The surround runs 35 % of the width in from the left and a
        // quarter of the height from the top and bottom: the left band is
        // as deep as a clear film margin may be, but past it, and the
        // top and bottom bands end on the field's corners only.
        let (w, h) = (100, 160);
        let spot = spot_view(w, h);
        let field = |x: usize, y: usize, margin: usize| {
            x >= 35 + margin && y >= 40 + margin && y + margin < 120
        };
        // At least 2 pixels (the field's edge blur) outside the field.
        let surround = |x: usize, y: usize| x < 33 || !(38..122).contains(&y);
        let inverted: Vec<f32> = spot.iter().map(|v| 1.0 - v).collect();
        for (s, level, peeled) in [
            (&spot, FrameLevel::Bright, true),
            (&spot, FrameLevel::Any, true),
            (&inverted, FrameLevel::Any, true),
            // In display polarity a dark surround may be the air.
            (&inverted, FrameLevel::Bright, false),
        ] {
            let frame = film_frame(s, w, h, level);
            let peeled_deep = (0..w * h)
                .filter(|&i| surround(i % w, i / w))
                .all(|i| frame[i]);
            assert_eq!(peeled_deep, peeled, "{level:?}, peeled {peeled}");
            assert!(
                !(0..w * h).any(|i| field(i % w, i / w, 2) && frame[i]),
                "{level:?}: the field is peeled"
            );
        }
        // The air beside a half-disc breast surrounds a curve.
        let d = image(Spec::default());
        let s: Vec<f32> = d.pixels.iter().map(|&v| v as f32 / 4095.0).collect();
        let (w, h) = (d.columns as usize, d.rows as usize);
        let none = vec![false; w * h];
        assert!(collimated_surround(&s, (w, h), &none, None).is_none());
    }

    #[test]
    fn a_collimated_surround_shaded_across_the_image_is_found() {
        // The heel effect: the whole image times 0.85 at the left to 1.15
        // at the right (clipped at 1), so that the surround runs from 0.82
        // to 1.0, far beyond one level's reach, in steps of 0.003.
        let (w, h) = (100, 160);
        let shade = |i: usize| 0.85 + 0.3 * (i % w) as f32 / w as f32;
        let s: Vec<f32> = spot_view(w, h)
            .iter()
            .enumerate()
            .map(|(i, v)| (v * shade(i)).min(1.0))
            .collect();
        let none = vec![false; w * h];
        let start = Border::of(&s, (w, h), &none, None).expect("a border");
        let by_level = flood_surround(&s, (w, h), &start, Reach::Level);
        assert!(
            !matches!(by_level, Some((_, true))),
            "one level reaches the whole surround"
        );
        let surround = collimated_surround(&s, (w, h), &none, None).expect("a surround");
        assert_spot_surround(&surround, w, |_| true);
    }

    #[test]
    fn a_collimated_surround_is_found_inside_a_line_at_another_level() {
        // A peeled 3-pixel frame, its 2-pixel edge blur (skipped), then a
        // 1-pixel line darker than the surround (a thin printed frame),
        // then the surround.
        let (w, h) = (100, 160);
        let depth = |i: usize| (i % w).min(i / w).min(w - 1 - i % w).min(h - 1 - i / w);
        let levels = [1.0, 1.0, 1.0, 0.97, 0.97, 0.93];
        let (s, frame) = banded_spot_view((w, h), depth, &levels, 3);
        let surround = collimated_surround(&s, (w, h), &frame, None).expect("a surround");
        // The line is surround too, also where it crosses the field.
        assert!((0..w * h).filter(|&i| depth(i) == 5).all(|i| surround[i]));
        assert_spot_surround(&surround, w, |i| depth(i) >= 8);
    }

    /// `testimg::spot_view` with the pixels `depth` deep in from its
    /// edges at `levels[depth]` (deeper ones as they are), and as frame
    /// those under `peeled` deep.
    fn banded_spot_view(
        (w, h): (usize, usize),
        depth: impl Fn(usize) -> usize,
        levels: &[f32],
        peeled: usize,
    ) -> (Vec<f32>, Vec<bool>) {
        let mut s = spot_view(w, h);
        for (i, v) in s.iter_mut().enumerate() {
            if let Some(&level) = levels.get(depth(i)) {
                *v = level;
            }
        }
        let frame = (0..w * h).map(|i| depth(i) < peeled).collect();
        (s, frame)
    }

    /// Asserts that `surround` holds all of `testimg::spot_view`'s
    /// surround (the field begins at x = 35 and spans y = 40..120) and
    /// none of its field but the 2 pixels of edge blur, at the pixels
    /// `checked` keeps.
    fn assert_spot_surround(surround: &[bool], w: usize, checked: impl Fn(usize) -> bool) {
        let outside = |x: usize, y: usize| x < 35 || !(40..120).contains(&y);
        let inside = |x: usize, y: usize| x >= 37 && (42..118).contains(&y);
        for (i, &peeled) in surround.iter().enumerate().filter(|&(i, _)| checked(i)) {
            let (x, y) = (i % w, i / w);
            assert!(!outside(x, y) || peeled, "({x}, {y}) is surround");
            assert!(!inside(x, y) || !peeled, "({x}, {y}) is field");
        }
    }

    #[test]
    fn a_collimated_surround_is_found_past_the_edge_blur_of_peeled_padding() {
        // Black padding 10 pixels deep along the top and 5 wide along both
        // sides, peeled; between it and the surround, its 2-pixel edge
        // blur (0.3, then 0.65), which holds most of the border next to
        // it. The bottom edge is the surround itself.
        let (w, h) = (100, 160);
        let depth = |i: usize| (i / w).saturating_sub(5).min(i % w).min(w - 1 - i % w);
        let levels = [0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 0.65];
        let (s, frame) = banded_spot_view((w, h), depth, &levels, 5);
        let surround = collimated_surround(&s, (w, h), &frame, None).expect("a surround");
        assert_spot_surround(&surround, w, |i| depth(i) >= 7);
    }

    #[test]
    fn text_on_a_collimated_surround_is_surround() {
        // Burned-in text at the surround's lower left: two lines of dark
        // 4×2-pixel strokes the flood does not enter.
        let (w, h) = (100, 160);
        let mut s = spot_view(w, h);
        let text = |x: usize, y: usize| (5..30).contains(&x) && (135..145).contains(&y);
        for (i, v) in s.iter_mut().enumerate() {
            let (x, y) = (i % w, i / w);
            if text(x, y) && x % 6 < 4 && y % 5 < 2 {
                *v = 0.1;
            }
        }
        let none = vec![false; w * h];
        let surround = collimated_surround(&s, (w, h), &none, None).expect("a surround");
        assert_spot_surround(&surround, w, |_| true);
    }

    #[test]
    fn a_field_cut_in_two_at_the_surrounds_level_keeps_both_parts() {
        // A bright strip at the surround's level across the field (a
        // saturated band, an implant's edge): the smaller part is no text.
        let (w, h) = (100, 160);
        let mut s = spot_view(w, h);
        for (i, v) in s.iter_mut().enumerate() {
            if (58..61).contains(&(i % w)) {
                *v = 0.97;
            }
        }
        let none = vec![false; w * h];
        let left_part = |i: usize| (37..56).contains(&(i % w)) && (42..118).contains(&(i / w));
        if let Some(surround) = collimated_surround(&s, (w, h), &none, None) {
            assert!(!(0..w * h).any(|i| left_part(i) && surround[i]));
        }
    }

    #[test]
    fn grid_lines_across_a_collimated_surround_are_surround() {
        // An anti-scatter grid's lines: a pixel wide every 8 columns, 0.1
        // below the surround's level, from edge to edge and through the
        // field: 8 % of the image outside the field's box, far more than
        // stray text may be.
        let (w, h) = (100, 160);
        let line = |i: usize| i % w % 8 == 3;
        let mut s = spot_view(w, h);
        s.iter_mut()
            .enumerate()
            .filter(|&(i, _)| line(i))
            .for_each(|(_, v)| *v -= 0.1);
        let none = vec![false; w * h];
        let start = Border::of(&s, (w, h), &none, None).expect("a border");
        let by_level = flood_surround(&s, (w, h), &start, Reach::Level);
        assert!(matches!(by_level, Some((_, true))), "one level's flood");
        let surround = collimated_surround(&s, (w, h), &none, None).expect("a surround");
        assert_spot_surround(&surround, w, |i| !line(i));
    }

    #[test]
    fn a_label_across_a_collimated_fields_edge_does_not_stretch_its_box() {
        // A grey label 6 pixels wide from 8 pixels above the field's top
        // edge into the field: in the box of all the field's pixels, which
        // reaches the label's top, the field fills 91 %.
        let (w, h) = (100, 160);
        let label = |i: usize| (60..66).contains(&(i % w)) && (32..48).contains(&(i / w));
        let mut s = spot_view(w, h);
        s.iter_mut()
            .enumerate()
            .filter(|&(i, _)| label(i))
            .for_each(|(_, v)| *v = 0.6);
        let none = vec![false; w * h];
        let surround = collimated_surround(&s, (w, h), &none, None).expect("a surround");
        assert_spot_surround(&surround, w, |i| !label(i));
    }

    #[test]
    fn a_field_with_a_bulge_is_no_collimated_field() {
        // A textured rectangle at the left edge (x < 40, y in 20..140) on
        // a flat bright surround, with a bulge of 12 × 20 pixels off its
        // right side: the box of its fuller columns leaves 5 % of it out,
        // as a small breast's chest-wall part leaves its nipple side out.
        let (w, h) = (100, 160);
        let shape = |x: usize, y: usize| {
            (x < 40 && (20..140).contains(&y)) || ((40..52).contains(&x) && (60..80).contains(&y))
        };
        let s = on_flat_surround((w, h), shape);
        let none = vec![false; w * h];
        assert!(collimated_surround(&s, (w, h), &none, None).is_none());
    }

    /// A `w × h` image: texture where `inside` holds, else a flat surround
    /// at 0.97.
    fn on_flat_surround((w, h): (usize, usize), inside: impl Fn(usize, usize) -> bool) -> Vec<f32> {
        grid(w, h, |x, y| {
            if inside(x, y) {
                0.3 + 0.3 * blobs(x as f32 / 6.0, y as f32 / 6.0)
            } else {
                0.97
            }
        })
    }

    #[test]
    fn a_collimated_surround_mostly_peeled_as_bands_is_found() {
        // A field (x in 15..85, y in 30..130) on a flat bright surround
        // whose top and bottom were peeled as film bands (28 and 28 rows):
        // the strips left beside the field past the bands' edge blur are
        // 19 % of the image, the bands and they 54 %.
        let (w, h) = (100, 160);
        let field = |x: usize, y: usize| (15..85).contains(&x) && (30..130).contains(&y);
        let s = on_flat_surround((w, h), field);
        let frame: Vec<bool> = (0..w * h).map(|i| !(28..132).contains(&(i / w))).collect();
        let surround = collimated_surround(&s, (w, h), &frame, None).expect("a surround");
        for (i, &peeled) in surround.iter().enumerate() {
            let (x, y) = (i % w, i / w);
            // The field's edge blur (2 pixels) is peeled with the surround.
            if (32..128).contains(&y) && !(15..17).contains(&x) && !(83..85).contains(&x) {
                assert_eq!(peeled, !field(x, y), "({x}, {y})");
            }
        }
    }

    #[test]
    fn a_margin_edge_may_have_something_inside_it_and_a_skin_line_may_not() {
        // Runs of a band along a side: a margin whose inner edge lies 40
        // pixels in, with a neighbouring film's edge 15 pixels in on a
        // quarter of the lines; a tilted one; the air beside a curved skin
        // line; and a jagged edge with ends on both sides of the line.
        let n = 200;
        let layered: Vec<usize> = (0..n).map(|a| if a < 50 { 15 } else { 40 }).collect();
        let tilted: Vec<usize> = (0..n).map(|a| 30 + a / 10).collect();
        let skin: Vec<usize> = (0..n)
            .map(|a| {
                let t = (a as f64 - 100.0) / 100.0;
                (10.0 + 40.0 * t * t) as usize
            })
            .collect();
        let jagged: Vec<usize> = (0..n).map(|a| [20, 40, 40, 60][a % 4]).collect();
        let depth_max = 70;
        assert!(straight_margin(&layered, depth_max));
        assert!(!straight_band(&layered, depth_max));
        assert!(straight_margin(&tilted, depth_max));
        assert!(straight_band(&tilted, depth_max));
        assert!(!straight_margin(&skin, depth_max));
        assert!(!straight_margin(&jagged, depth_max));
    }

    #[test]
    fn film_frame_in_display_polarity_keeps_dark_air_beside_a_skin_line() {
        // Dark air along the right edge, 2 to 8 columns deep along a
        // curved skin line (within reach on every row): not straight, so
        // not a scanner bed.
        let (w, h) = (60, 50);
        let skin = |y: usize| {
            let t = (y as f32 - 25.0) / 25.0;
            w - 2 - (6.0 * t * t).round() as usize
        };
        let s: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if x >= skin(y) {
                    0.02
                } else {
                    0.5 + 0.3 * ((x as f32 * 0.9 + 1.0).sin() * (y as f32 * 0.7).cos())
                }
            })
            .collect();
        let bright = film_frame(&s, w, h, FrameLevel::Bright);
        assert!(!bright.iter().any(|&f| f), "the air is no frame");
    }

    #[test]
    fn film_frame_does_not_count_the_lines_crossing_a_corner() {
        // A border 6 pixels deep on every side: the rows of the left band
        // inside the top and bottom bands (12 of 50) run on along them.
        let (w, h) = (60, 50);
        let border = |x: usize, y: usize| x < 6 || x >= w - 6 || y < 6 || y >= h - 6;
        let s: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if border(x, y) { 0.02 } else { textured(x, y) }
            })
            .collect();
        let any = film_frame(&s, w, h, FrameLevel::Any);
        for (i, &f) in any.iter().enumerate() {
            assert_eq!(f, border(i % w, i / w), "pixel ({}, {})", i % w, i / w);
        }
    }

    #[test]
    fn film_frame_at_any_level_keeps_the_air_beside_a_wide_breast() {
        // Stored in inverted polarity: a dark film border along the left
        // edge, and bright air above a wide breast, 3 rows deep up to
        // column 44 and deeper beyond, where the skin line curves away;
        // past the left border, its band ends within reach (7 rows) in 44
        // of the 56 columns.
        let (w, h) = (60, 50);
        let top = |x: usize| 3 + x.saturating_sub(44);
        let s: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                if x < 4 {
                    0.02
                } else if y < top(x) {
                    0.95
                } else {
                    textured(x, y)
                }
            })
            .collect();
        let any = film_frame(&s, w, h, FrameLevel::Any);
        for y in 0..h {
            assert!(any[y * w..y * w + 4].iter().all(|&f| f), "border, row {y}");
        }
        assert!(!any[4..w].iter().any(|&f| f), "the air is no border");
        // With the level known, a band over 75 % of the lines is a border.
        let bright = film_frame(&s, w, h, FrameLevel::Bright);
        assert!((4..w).all(|x| bright[x]));
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

#[cfg(test)]
mod timing {
    use super::super::inversion::display_copy;
    use super::super::testimg::{Spec, image};
    use super::*;

    /// Segmentation + chest-wall vote time on the 256-pixel working copy
    /// (min over repeats). Run with `-- --ignored --nocapture`, release.
    #[test]
    #[ignore]
    fn segmentation_timing() {
        let d = image(Spec {
            w: 1800,
            h: 2400,
            gradient: true,
            marker: true,
            noise: 0.03,
            ..Spec::default()
        });
        let display = display_copy(&Work::of(&d, 256), false);
        let (w, h) = (display.w, display.h);
        let time = |f: &dyn Fn()| {
            (0..15)
                .map(|_| {
                    let t = std::time::Instant::now();
                    for _ in 0..20 {
                        f();
                    }
                    t.elapsed() / 20
                })
                .min()
                .unwrap()
        };
        let seg = time(&|| {
            std::hint::black_box(segment(&display).chest_wall());
        });
        let smooth = super::super::inversion::box_mean(&display.px, w, h, 1);
        let frame = vec![false; w * h];
        let fit = time(&|| {
            std::hint::black_box(
                above_background(&display.px, &smooth, w, h, &frame, 0.3).map(|b| b.sigma),
            );
        });
        let texture = time(&|| {
            std::hint::black_box(TextureMap::of(&display.px, w, h).is_some());
        });
        println!(
            "{w}x{h}: segment+vote {seg:?}, one background fit {fit:?}, texture map {texture:?}"
        );
        // A breast filling nearly all of the image (the darkest 3 % fit is
        // tried there too).
        let d = image(Spec {
            w: 1800,
            h: 2400,
            gradient: true,
            noise: 0.03,
            depth: 1.3,
            ..Spec::default()
        });
        let display = display_copy(&Work::of(&d, 256), false);
        let wide = time(&|| {
            std::hint::black_box(segment(&display).chest_wall());
        });
        println!("{w}x{h}: segment+vote {wide:?} on a breast filling the image");
    }
}
