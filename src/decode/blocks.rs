//! Area averages over whole `f × f` blocks, a row at a time: what a
//! reduced native decode (`native`) and the QC working copy
//! (`crate::qc::Work`) shrink images with before any convolution. The last
//! block of a row or column averages the samples it has.

crate::simd::avx2_dispatch! {
/// Averages `f × f` blocks of a `cols × rows` image:
/// `(pixels, cols.div_ceil(f), rows.div_ceil(f))`.
pub(crate) fn block_average(
    px: &[u16],
    cols: usize,
    rows: usize,
    f: usize,
) -> (Vec<u16>, usize, usize) {
    let (w, h) = (cols.div_ceil(f), rows.div_ceil(f));
    let mut out = Vec::with_capacity(w * h);
    let mut sums = vec![0u32; w];
    for (y, row) in px.chunks_exact(cols).take(rows).enumerate() {
        add_row(&mut sums, row, f);
        if (y + 1) % f == 0 || y + 1 == rows {
            emit(&mut sums, &mut out, cols, f, y % f + 1);
        }
    }
    (out, w, h)
}
}

/// Adds one row to the per-block column sums (`f` columns a block).
#[inline(always)]
pub(crate) fn add_row(sums: &mut [u32], row: &[u16], f: usize) {
    if f == 2 {
        let pairs = row.chunks_exact(2);
        if let [last] = pairs.remainder() {
            sums[row.len() / 2] += u32::from(*last);
        }
        let even = &row[..row.len() & !1];
        // SAFETY: every bit pattern is a valid u32; align_to only yields
        // the aligned middle part.
        let (head, words, _) = unsafe { even.align_to::<u32>() };
        if head.is_empty() && cfg!(target_endian = "little") {
            // Two little-endian samples a word: a shape that vectorizes.
            for (s, &w) in sums.iter_mut().zip(words) {
                *s += (w & 0xFFFF) + (w >> 16);
            }
        } else {
            for (s, p) in sums.iter_mut().zip(pairs) {
                *s += u32::from(p[0]) + u32::from(p[1]);
            }
        }
    } else {
        for (s, block) in sums.iter_mut().zip(row.chunks(f)) {
            *s += block.iter().map(|&v| u32::from(v)).sum::<u32>();
        }
    }
}

/// Appends one row of block averages (rounded) of `height` rows and clears
/// the sums. Inlined into its callers' AVX2 builds: a call of the plain
/// build took as long as the row sums themselves (2 % of an ingest's CPU).
#[inline(always)]
pub(crate) fn emit(sums: &mut [u32], out: &mut Vec<u16>, cols: usize, f: usize, height: usize) {
    let full = cols / f;
    // Each sum is read and cleared in one pass (a separate clearing pass
    // was 1.2 % of an ingest's samples).
    use std::mem::take;
    if height == f && f.is_power_of_two() {
        let shift = 2 * f.trailing_zeros();
        let half = (1u32 << shift) >> 1;
        out.extend(
            sums[..full]
                .iter_mut()
                .map(|s| ((take(s) + half) >> shift) as u16),
        );
    } else {
        let count = (f * height) as u32;
        out.extend(
            sums[..full]
                .iter_mut()
                .map(|s| ((take(s) + count / 2) / count) as u16),
        );
    }
    if let Some(last) = sums.get_mut(full) {
        let count = ((cols - full * f) * height) as u32;
        out.push(((take(last) + count / 2) / count) as u16);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_averages_round_and_cover_partial_blocks() {
        // 5 × 3 image, 2 × 2 blocks: 3 × 2 output.
        let rows: [[u16; 5]; 3] = [[1, 2, 3, 4, 5], [3, 4, 5, 6, 7], [10, 10, 20, 20, 9]];
        let mut sums = vec![0u32; 3];
        let mut out = Vec::new();
        add_row(&mut sums, &rows[0], 2);
        add_row(&mut sums, &rows[1], 2);
        emit(&mut sums, &mut out, 5, 2, 2);
        add_row(&mut sums, &rows[2], 2);
        emit(&mut sums, &mut out, 5, 2, 1);
        // (1+2+3+4)/4 = 2.5 → 3; (3+4+5+6)/4 = 4.5 → 5; (5+7)/2 = 6;
        // (10+10)/2 = 10; (20+20)/2 = 20; 9.
        assert_eq!(out, vec![3, 5, 6, 10, 20, 9]);
        let mut out4 = Vec::new();
        let mut sums4 = vec![0u32; 2];
        for r in &rows {
            add_row(&mut sums4, r, 4);
        }
        emit(&mut sums4, &mut out4, 5, 4, 3);
        // (1+2+3+4 + 3+4+5+6 + 10+10+20+20)/12 = 88/12 = 7.33 → 7; (5+7+9)/3 = 7.
        assert_eq!(out4, vec![7, 7]);
    }

    #[test]
    fn whole_images_average_like_row_by_row() {
        let px: Vec<u16> = (0..7 * 5).map(|i| (i * 37 % 101) as u16).collect();
        let (out, w, h) = block_average(&px, 7, 5, 3);
        assert_eq!((w, h), (3, 2));
        // Top-left block: rows 0..3, columns 0..3; bottom-right: rows 3..5, column 6.
        let px = &px;
        let mean = |xs: &[usize], ys: &[usize]| {
            let v: Vec<u32> = ys
                .iter()
                .flat_map(|&y| xs.iter().map(move |&x| u32::from(px[y * 7 + x])))
                .collect();
            ((v.iter().sum::<u32>() + v.len() as u32 / 2) / v.len() as u32) as u16
        };
        assert_eq!(out[0], mean(&[0, 1, 2], &[0, 1, 2]));
        assert_eq!(out[5], mean(&[6], &[3, 4]));
    }
}
