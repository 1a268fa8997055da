//! 4-connected components of a mask on the working copy, labelled run by
//! run: each row's runs of set cells are joined to the runs they touch in
//! the row above (union–find whose root is a component's first run in
//! scan order). A pixel-by-pixel search pushed and popped every cell and
//! divided its index by the width to find its neighbours; runs touch each
//! cell once, in order, and the flood of a collimated surround
//! (`laterality::film_frame`) and the breast mask's largest part, which
//! made a fifth of the QC time, take a few times less.

/// Runs of set cells, row by row, and the component of each.
struct Runs {
    /// `(first index, one past the last)` of each run, in scan order.
    spans: Vec<(usize, usize)>,
    /// Each run's component: the index of its first run.
    root: Vec<usize>,
}

impl Runs {
    fn of(mask: &[bool], w: usize, h: usize) -> Runs {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut parent: Vec<usize> = Vec::new();
        let mut above = 0..0;
        for (y, row) in mask.chunks_exact(w.max(1)).take(h).enumerate() {
            let first = spans.len();
            let base = y * w;
            // The first run above that may touch the next run here.
            let mut p = above.start;
            let mut x = 0;
            while let Some(start) = row[x..].iter().position(|&b| b).map(|s| x + s) {
                let end = row[start..]
                    .iter()
                    .position(|&b| !b)
                    .map_or(w, |e| start + e);
                let me = spans.len();
                spans.push((base + start, base + end));
                parent.push(me);
                // Runs above end before this one starts: they touch none
                // of the runs further right either.
                while p < above.end && spans[p].1 - (base - w) <= start {
                    p += 1;
                }
                let mut q = p;
                while q < above.end && spans[q].0 - (base - w) < end {
                    union(&mut parent, me, q);
                    q += 1;
                }
                x = end;
            }
            above = first..spans.len();
        }
        // Parents point to earlier runs only: in scan order, each run's
        // parent is already its root.
        for i in 0..parent.len() {
            parent[i] = parent[parent[i]];
        }
        Runs {
            spans,
            root: parent,
        }
    }

    /// The cells of the runs whose component `keep` says.
    fn cells<'a>(&'a self, keep: impl Fn(usize) -> bool + 'a) -> impl Iterator<Item = usize> + 'a {
        self.spans
            .iter()
            .zip(&self.root)
            .filter(move |&(_, &r)| keep(r))
            .flat_map(|(&(a, b), _)| a..b)
    }
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Joins the components of runs `a` and `b`; the earlier root stays root.
fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        let (lo, hi) = (ra.min(rb), ra.max(rb));
        parent[hi] = lo;
    }
}

/// The cells of a `w × h` grid 4-connected to `seeds` through the `open`
/// cells (the seeds are taken as given): the components of the open cells
/// and the seeds that hold a seed. `open` is a mask, not a predicate: its
/// callers build it in one vectorized pass.
pub(super) fn flood((w, h): (usize, usize), seeds: &[usize], mut open: Vec<bool>) -> Vec<bool> {
    seeds.iter().for_each(|&i| open[i] = true);
    let runs = Runs::of(&open, w, h);
    let mut seeded = vec![false; runs.spans.len()];
    for &i in seeds {
        let run = runs.spans.partition_point(|&(_, end)| end <= i);
        seeded[runs.root[run]] = true;
    }
    let mut reached = vec![false; w * h];
    runs.cells(|r| seeded[r]).for_each(|i| reached[i] = true);
    reached
}

/// The largest 4-connected component: its pixel indices, in scan order
/// (of equal ones, the one met first in scan order).
pub(super) fn largest_component(mask: &[bool], w: usize, h: usize) -> Vec<usize> {
    let runs = Runs::of(mask, w, h);
    let mut size = vec![0usize; runs.spans.len()];
    for (&(a, b), &r) in runs.spans.iter().zip(&runs.root) {
        size[r] += b - a;
    }
    // The first of the largest: `max_by_key` keeps the last maximum.
    let Some((best, _)) = size
        .iter()
        .enumerate()
        .rev()
        .max_by_key(|&(_, &s)| s)
        .filter(|&(_, &s)| s > 0)
    else {
        return Vec::new();
    };
    runs.cells(|r| r == best).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 4-neighbours of cell `i`.
    fn around(i: usize, w: usize, h: usize) -> [Option<usize>; 4] {
        let (x, y) = (i % w, i / w);
        [
            (x > 0).then(|| i - 1),
            (x + 1 < w).then(|| i + 1),
            (y > 0).then(|| i - w),
            (y + 1 < h).then(|| i + w),
        ]
    }

    /// The pixel-by-pixel search these replace, as it was.
    fn search(mask: &[bool], w: usize, h: usize) -> Vec<Vec<usize>> {
        let mut seen = vec![false; mask.len()];
        let mut found = Vec::new();
        for start in 0..mask.len() {
            if !mask[start] || seen[start] {
                continue;
            }
            let (mut comp, mut stack) = (Vec::new(), vec![start]);
            seen[start] = true;
            while let Some(i) = stack.pop() {
                comp.push(i);
                for j in around(i, w, h).into_iter().flatten() {
                    if mask[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
            comp.sort_unstable();
            found.push(comp);
        }
        found
    }

    fn noise_mask(w: usize, h: usize, seed: u32, density: u32) -> Vec<bool> {
        let mut s = seed;
        (0..w * h)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                s % 100 < density
            })
            .collect()
    }

    /// The stack flood `flood` replaces, as it was.
    fn stack_flood(
        (w, h): (usize, usize),
        seeds: Vec<usize>,
        pass: impl Fn(usize) -> bool,
    ) -> Vec<bool> {
        let mut reached = vec![false; w * h];
        seeds.iter().for_each(|&i| reached[i] = true);
        let mut stack = seeds;
        while let Some(i) = stack.pop() {
            for j in around(i, w, h).into_iter().flatten() {
                if !reached[j] && pass(j) {
                    reached[j] = true;
                    stack.push(j);
                }
            }
        }
        reached
    }

    #[test]
    fn runs_find_what_a_pixel_search_finds() {
        // Random masks around the percolation threshold: many components,
        // U shapes joined late, runs touching two runs above.
        for (seed, density, (w, h)) in [
            (1, 45, (37, 23)),
            (2, 55, (64, 64)),
            (3, 60, (1, 50)),
            (4, 60, (50, 1)),
            (5, 70, (29, 31)),
            (6, 50, (256, 200)),
            (7, 0, (8, 8)),
        ] {
            let mask = noise_mask(w, h, seed, density);
            let comps = search(&mask, w, h);
            let largest = comps.iter().map(Vec::len).max().unwrap_or(0);
            let expected = comps.iter().find(|c| c.len() == largest).cloned();
            assert_eq!(
                largest_component(&mask, w, h),
                expected.unwrap_or_default(),
                "seed {seed}"
            );
            // Seeds on and off the mask (one off it is reached, and its
            // passing neighbours through it).
            let seeds: Vec<usize> = (0..w * h).step_by(97).collect();
            assert_eq!(
                flood((w, h), &seeds, mask.clone()),
                stack_flood((w, h), seeds, |i| mask[i]),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn a_seed_that_does_not_pass_still_joins_its_neighbours() {
        // 5 × 1: pass, pass, seed (not passing), pass, blocked.
        let pass = [true, true, false, true, false];
        let reached = flood((5, 1), &[2], pass.to_vec());
        assert_eq!(reached, vec![true, true, true, true, false]);
        // Nothing set: no component.
        assert!(largest_component(&[false; 6], 3, 2).is_empty());
        assert!(largest_component(&[], 0, 0).is_empty());
    }

    #[test]
    fn of_equal_components_the_first_in_scan_order_is_largest() {
        // Two 2-cell components; the lower-left one starts later.
        let mask = [
            false, false, true, true, //
            true, false, false, false, //
            true, false, false, false,
        ];
        assert_eq!(largest_component(&mask, 4, 3), vec![2, 3]);
    }
}
