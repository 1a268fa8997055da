//! The mammogram phantom: a breast attached to the chest-wall edge with
//! tissue texture, a pectoral muscle on MLO views, lesions, a burned-in label
//! marker on the background side and, for scanned film, bright film-border
//! bands and a breast offset from the edge. Rendered in display polarity
//! (dark background); mirroring is part of the geometry, inversion is left to
//! the DICOM writer (`dicom_out`), which knows the photometric story.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One lesion in breast-relative coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lesion {
    /// Depth from the chest wall as a fraction of the breast depth (0..1).
    pub depth: f32,
    /// Vertical offset from the breast centre as a fraction of its half height (-1..1).
    pub height: f32,
    /// Radius as a fraction of the image width.
    pub radius: f32,
}

impl Lesion {
    /// A random lesion well inside the breast.
    pub fn random(rng: &mut impl Rng) -> Lesion {
        Lesion {
            depth: rng.random_range(0.2..0.65),
            height: rng.random_range(-0.5..0.5),
            radius: rng.random_range(0.025..0.05),
        }
    }
}

/// Everything that decides a phantom's pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Phantom {
    /// Image height.
    pub rows: u32,
    /// Image width.
    pub cols: u32,
    /// Value of the brightest tissue/markers (display white).
    pub white: u16,
    /// MLO view: pectoral muscle in the upper chest-wall corner.
    pub mlo: bool,
    /// Chest wall on the stored image's left edge (else mirrored to the right).
    pub chest_wall_left: bool,
    /// Bright bands along all four edges (scanned film).
    pub film_border: bool,
    /// Breast shifted away from the chest-wall edge.
    pub offset: bool,
    /// Noise in the background (false: background exactly 0, as CMMD).
    pub noisy_background: bool,
    /// Burned-in label marker on the background side.
    pub marker: bool,
    /// Lesions drawn into the tissue.
    pub lesions: Vec<Lesion>,
    /// Seed of texture and noise.
    pub seed: u64,
}

/// Smooth random field: bilinear interpolation of a coarse grid.
struct ValueNoise {
    w: usize,
    h: usize,
    vals: Vec<f32>,
}

impl ValueNoise {
    fn new(rng: &mut ChaCha8Rng, w: usize, h: usize) -> ValueNoise {
        let vals = (0..w * h).map(|_| rng.random::<f32>()).collect();
        ValueNoise { w, h, vals }
    }

    /// `u`, `v` in 0..=1.
    fn sample(&self, u: f32, v: f32) -> f32 {
        let x = u.clamp(0.0, 1.0) * (self.w - 1) as f32;
        let y = v.clamp(0.0, 1.0) * (self.h - 1) as f32;
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let g = |xx: usize, yy: usize| self.vals[yy * self.w + xx];
        let top = g(x0, y0) * (1.0 - fx) + g(x1, y0) * fx;
        let bottom = g(x0, y1) * (1.0 - fx) + g(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }
}

/// Breast geometry in unmirrored pixel coordinates (chest wall at x = 0).
#[derive(Debug, Clone, Copy)]
struct Geometry {
    x0: f32,
    depth: f32,
    cy: f32,
    half_height: f32,
    pect_w: f32,
    pect_h: f32,
}

impl Phantom {
    fn geometry(&self) -> Geometry {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x6765_6f6d);
        let (w, h) = (self.cols as f32, self.rows as f32);
        let x0 = if self.offset {
            w * rng.random_range(0.06..0.10)
        } else {
            0.0
        };
        let depth = w * rng.random_range(0.55..0.68);
        let (cy, half_height) = if self.mlo {
            (h * rng.random_range(0.54..0.58), h * 0.42)
        } else {
            (h * rng.random_range(0.48..0.52), h * 0.40)
        };
        let (pect_w, pect_h) = if self.mlo {
            (
                w * rng.random_range(0.22..0.32),
                h * rng.random_range(0.40..0.55),
            )
        } else {
            (0.0, 0.0)
        };
        Geometry {
            x0,
            depth,
            cy,
            half_height,
            pect_w,
            pect_h,
        }
    }

    /// Lesion centre and radius in stored pixel coordinates.
    pub fn lesion_circle(&self, i: usize) -> (f32, f32, f32) {
        let g = self.geometry();
        let l = self.lesions[i];
        let x = g.x0 + l.depth * g.depth;
        let y = g.cy + l.height * g.half_height * 0.8;
        let r = l.radius * self.cols as f32;
        let x = if self.chest_wall_left {
            x
        } else {
            self.cols as f32 - 1.0 - x
        };
        (x, y, r)
    }

    /// Lesion bounding box `(x0, y0, x1, y1)` in stored pixels, unclipped.
    pub fn lesion_box(&self, i: usize) -> (f32, f32, f32, f32) {
        let (x, y, r) = self.lesion_circle(i);
        (x - r, y - r, x + r, y + r)
    }

    /// Renders the image in display polarity, row-major.
    pub fn render(&self) -> Vec<u16> {
        self.render_rows(0, self.rows)
    }

    /// Renders rows `y0..y1` only (identical to those rows of `render`).
    pub fn render_rows(&self, y0: u32, y1: u32) -> Vec<u16> {
        let (w, h) = (self.cols as usize, self.rows as usize);
        let (y0, y1) = (y0.min(self.rows) as usize, y1.min(self.rows) as usize);
        let g = self.geometry();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let coarse = ValueNoise::new(&mut rng, 9, 13);
        let fine = ValueNoise::new(&mut rng, 33, 49);
        let white = self.white as f32;
        let lesions: Vec<(f32, f32, f32)> = (0..self.lesions.len())
            .map(|i| {
                let (x, y, r) = self.lesion_circle(i);
                // back to unmirrored coordinates
                let x = if self.chest_wall_left {
                    x
                } else {
                    w as f32 - 1.0 - x
                };
                (x, y, r)
            })
            .collect();
        let border_x = (w as f32 * 0.03).max(2.0) as usize;
        let border_y = (h as f32 * 0.025).max(2.0) as usize;
        let mut out = vec![0u16; w * (y1 - y0)];
        for yy in y0..y1 {
            let mut noise_state = super::mix(&[self.seed, yy as u64]) | 1;
            let y = yy as f32;
            let v = y / h as f32;
            let dy = (y - g.cy) / g.half_height;
            let row = &mut out[(yy - y0) * w..(yy - y0 + 1) * w];
            for (xx, px) in row.iter_mut().enumerate() {
                let x = xx as f32;
                noise_state ^= noise_state << 13;
                noise_state ^= noise_state >> 7;
                noise_state ^= noise_state << 17;
                let n = (noise_state >> 40) as f32 / (1u64 << 24) as f32; // 0..1
                let dx = (x - g.x0) / g.depth;
                let r2 = dx * dx + dy * dy;
                let in_breast = x >= g.x0 && r2 < 1.0;
                let in_pect = self.mlo && x >= g.x0 && (x - g.x0) / g.pect_w + y / g.pect_h < 1.0;
                let mut val = if in_pect {
                    0.72 + 0.08 * fine.sample(x / w as f32, v) + 0.02 * n
                } else if in_breast {
                    let u = x / w as f32;
                    let tex = 0.6 * coarse.sample(u, v) + 0.4 * fine.sample(u, v);
                    let falloff = 1.0 - 0.45 * r2 * r2;
                    (0.32 + 0.34 * tex) * falloff + 0.03 * n + 0.08
                } else if self.noisy_background {
                    0.02 + 0.015 * n
                } else {
                    0.0
                };
                if in_breast || in_pect {
                    for &(lx, ly, lr) in &lesions {
                        let d2 = ((x - lx) * (x - lx) + (y - ly) * (y - ly)) / (lr * lr);
                        if d2 < 4.0 {
                            val += 0.22 * (-d2).exp();
                        }
                    }
                }
                if self.film_border
                    && (xx < border_x || xx >= w - border_x || yy < border_y || yy >= h - border_y)
                {
                    val = 0.9 + 0.03 * n;
                }
                *px = (val.clamp(0.0, 1.0) * white) as u16;
            }
        }
        if self.marker {
            self.draw_marker(&mut out, y0, y1);
        }
        if !self.chest_wall_left {
            for row in out.chunks_mut(w) {
                row.reverse();
            }
        }
        out
    }

    /// A blocky label ("R MLO"-like) near the top of the background side.
    fn draw_marker(&self, img: &mut [u16], row0: usize, row1: usize) {
        let (w, h) = (self.cols as usize, self.rows as usize);
        let x0 = (w as f32 * 0.80) as usize;
        let x1 = (w as f32 * 0.93) as usize;
        let y0 = (h as f32 * 0.05) as usize;
        let y1 = (h as f32 * 0.09) as usize;
        let cell = ((y1 - y0) / 5).max(1);
        let value = (self.white as f32 * 0.97) as u16;
        for y in y0.max(row0)..y1.min(row1) {
            for x in x0..x1 {
                let (cx, cy) = ((x - x0) / cell, (y - y0) / cell);
                if (cx * 3 + cy * 5 + (self.seed as usize % 7)) % 7 < 3 && cx % 4 != 3 {
                    img[(y - row0) * w + x] = value;
                }
            }
        }
    }

    /// ROI mask of lesion `i`: 255 inside the lesion circle, 0 elsewhere.
    pub fn mask(&self, i: usize) -> Vec<u16> {
        let (w, h) = (self.cols as usize, self.rows as usize);
        let (lx, ly, lr) = self.lesion_circle(i);
        let mut out = vec![0u16; w * h];
        let ys =
            (ly - lr).floor().max(0.0) as usize..((ly + lr).ceil().max(0.0) as usize + 1).min(h);
        let xs =
            (lx - lr).floor().max(0.0) as usize..((lx + lr).ceil().max(0.0) as usize + 1).min(w);
        for yy in ys {
            for xx in xs.clone() {
                let (dx, dy) = (xx as f32 - lx, yy as f32 - ly);
                if dx * dx + dy * dy <= lr * lr {
                    out[yy * w + xx] = 255;
                }
            }
        }
        out
    }
}

/// The clamped integer box `(x0, y0, x1, y1)` of a crop, at least 2×2.
pub fn crop_box(cols: u32, rows: u32, bx: (f32, f32, f32, f32)) -> (u32, u32, u32, u32) {
    let clamp = |v: f32, max: u32| (v.max(0.0) as u32).min(max);
    let x0 = clamp(bx.0, cols - 2);
    let y0 = clamp(bx.1, rows - 2);
    let x1 = clamp(bx.2, cols).max(x0 + 2);
    let y1 = clamp(bx.3, rows).max(y0 + 2);
    (x0, y0, x1, y1)
}

/// Renders the crop `bx` (stored pixels) of a phantom: pixels, width, height.
pub fn crop(p: &Phantom, bx: (f32, f32, f32, f32)) -> (Vec<u16>, u32, u32) {
    let (x0, y0, x1, y1) = crop_box(p.cols, p.rows, bx);
    let band = p.render_rows(y0, y1);
    let (cw, ch) = (x1 - x0, y1 - y0);
    let mut out = Vec::with_capacity((cw * ch) as usize);
    for row in band.chunks(p.cols as usize) {
        out.extend_from_slice(&row[x0 as usize..x1 as usize]);
    }
    (out, cw, ch)
}

/// Side with more tissue mass (`true` = left) of a display-polarity image:
/// the check the tests use, kept here for the unit tests.
pub fn heavier_left(img: &[u16], cols: u32) -> bool {
    let w = cols as usize;
    let (mut left, mut right) = (0u64, 0u64);
    for row in img.chunks(w) {
        for (x, &v) in row.iter().enumerate() {
            if x < w / 2 {
                left += v as u64;
            } else if x >= w - w / 2 {
                right += v as u64;
            }
        }
    }
    left > right
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phantom(mlo: bool, left: bool, film: bool, offset: bool) -> Phantom {
        Phantom {
            rows: 200,
            cols: 120,
            white: 4000,
            mlo,
            chest_wall_left: left,
            film_border: film,
            offset,
            noisy_background: true,
            marker: true,
            lesions: vec![Lesion {
                depth: 0.4,
                height: 0.1,
                radius: 0.04,
            }],
            seed: 42,
        }
    }

    #[test]
    fn chest_wall_side_is_the_heavier_half_in_every_variant() {
        for mlo in [false, true] {
            for left in [false, true] {
                for film in [false, true] {
                    for offset in [false, true] {
                        let p = phantom(mlo, left, film, offset);
                        let img = p.render();
                        assert_eq!(heavier_left(&img, p.cols), left, "{p:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn mirroring_is_an_exact_horizontal_flip() {
        let a = phantom(true, true, false, false);
        let mut b = a.clone();
        b.chest_wall_left = false;
        let (ia, ib) = (a.render(), b.render());
        for (ra, rb) in ia.chunks(120).zip(ib.chunks(120)) {
            let mut r = rb.to_vec();
            r.reverse();
            assert_eq!(ra, &r[..]);
        }
    }

    #[test]
    fn row_bands_and_crops_match_the_full_render() {
        let p = phantom(true, false, true, true);
        let full = p.render();
        let band = p.render_rows(50, 90);
        assert_eq!(&full[50 * 120..90 * 120], &band[..]);
        let (c, cw, ch) = crop(&p, (10.5, 20.0, 40.0, 60.0));
        assert_eq!((cw, ch), (30, 40));
        assert_eq!(c[0], full[20 * 120 + 10]);
        assert_eq!(c[c.len() - 1], full[59 * 120 + 39]);
    }

    #[test]
    fn mask_is_binary_and_inside_the_lesion_box() {
        let p = phantom(false, false, false, false);
        let m = p.mask(0);
        assert!(m.iter().all(|&v| v == 0 || v == 255));
        assert!(m.contains(&255));
        let (x0, _, x1, _) = p.lesion_box(0);
        assert!(
            x0 > 60.0 && x1 < 120.0,
            "right breast lesion on the right: {x0} {x1}"
        );
    }

    #[test]
    fn background_is_exactly_zero_without_noise() {
        let mut p = phantom(false, true, false, false);
        p.noisy_background = false;
        p.marker = false;
        let img = p.render();
        assert_eq!(img[119], 0);
        assert_eq!(img[199 * 120 + 119], 0);
    }
}
