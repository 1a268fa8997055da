//! SHA-256 of many messages side by side (`images.pixel_data_sha256` of a
//! group of native images, see [`digests`]).
//!
//! SHA-256 is one chain of 64-byte blocks: a message cannot be hashed in
//! parallel with itself, but independent messages can go side by side, one
//! per lane, so that a wide kernel hashes a block of each at once
//! ([`Kernel`]):
//! - with AVX-512, sixteen messages, one per 32-bit lane of a zmm register
//!   (the "multi-buffer" scheme of Intel's isa-l_crypto): on the Intel Xeon
//!   with SHA-NI this was measured on, 3.6 GB/s over sixteen messages
//!   against 1.7 GB/s for one message through sha2's SHA-NI rounds and
//!   2.1 GB/s for two through the interleaved SHA-NI kernel below (at a
//!   busier moment of the shared machine 2.1, 1.2 and 1.1 GB/s);
//! - with SHA-NI and no AVX-512, two messages, their `sha256rnds2` rounds
//!   interleaved (one message leaves the round unit waiting on the last
//!   round's result): 2.33 against 1.80 GB/s on the AMD EPYC this was
//!   measured on;
//! - otherwise one message at a time through `sha2::compress256`, which
//!   picks sha2's own best backend.
//!
//! Messages of different lengths keep the lanes busy: a lane whose message
//! ends takes the next one. Tails (less than a block) and padding go
//! through the one-message path; padding is the standard one (FIPS 180-4,
//! 5.1.1), so a digest equals `sha2::Sha256`'s.

use std::ops::Range;

/// FIPS 180-4 initial hash value.
const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// One message being hashed: its state, a partial block, and its length.
pub(crate) struct Sha256Stream {
    state: [u32; 8],
    block: [u8; 64],
    filled: usize,
    len: u64,
}

impl Default for Sha256Stream {
    fn default() -> Self {
        Sha256Stream {
            state: H0,
            block: [0; 64],
            filled: 0,
            len: 0,
        }
    }
}

impl Sha256Stream {
    /// Adds `data` to the message.
    pub(crate) fn update(&mut self, data: &[u8]) {
        let data = self.top_up(data);
        let (blocks, rest) = data.as_chunks::<64>();
        compress(&mut self.state, blocks);
        self.keep(rest);
    }

    /// The digest as lowercase hex.
    pub(crate) fn finish_hex(mut self) -> String {
        let bits = self.len.wrapping_mul(8);
        let mut last = [0u8; 128];
        last[..self.filled].copy_from_slice(&self.block[..self.filled]);
        last[self.filled] = 0x80;
        let end = if self.filled < 56 { 64 } else { 128 };
        last[end - 8..end].copy_from_slice(&bits.to_be_bytes());
        compress(&mut self.state, last[..end].as_chunks::<64>().0);
        hex::encode(self.state.map(u32::to_be_bytes).concat())
    }

    /// Counts `data` and completes the pending partial block from it;
    /// returns what is left, which starts on a block boundary (or is empty).
    fn top_up<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        self.len += data.len() as u64;
        if self.filled == 0 {
            return data;
        }
        let take = (64 - self.filled).min(data.len());
        self.block[self.filled..self.filled + take].copy_from_slice(&data[..take]);
        self.filled += take;
        if self.filled == 64 {
            compress(&mut self.state, &[self.block]);
            self.filled = 0;
        }
        &data[take..]
    }

    /// Keeps `rest` (less than a block, after whole blocks) as the pending
    /// partial block.
    fn keep(&mut self, rest: &[u8]) {
        debug_assert!(rest.is_empty() || self.filled == 0);
        self.block[self.filled..self.filled + rest.len()].copy_from_slice(rest);
        self.filled += rest.len();
    }
}

/// sha2's compression function over whole blocks.
fn compress(state: &mut [u32; 8], blocks: &[[u8; 64]]) {
    // SAFETY: `GenericArray<u8, U64>` has the layout of `[u8; 64]` (what
    // sha2 itself casts its blocks with).
    let blocks = unsafe {
        std::slice::from_raw_parts(
            blocks
                .as_ptr()
                .cast::<sha2::digest::generic_array::GenericArray<u8, _>>(),
            blocks.len(),
        )
    };
    sha2::compress256(state, blocks);
}

/// Blocks of each message hashed per step (64 KiB; sixteen lanes' pieces
/// together fit in a core's L2 cache): after each step the caller is told
/// what was read, so that it can use the bytes while they are in cache.
const STEP_BLOCKS: usize = 1024;

/// A message being hashed in a lane: which one, how far, its state.
struct Slot {
    message: usize,
    at: usize,
    stream: Sha256Stream,
}

/// The SHA-256 digests (lowercase hex) of `messages`, hashed side by side by
/// the widest kernel the CPU has. `hashed(i, range)` is told each range of
/// message `i` once it has been read: in order, together covering the
/// message.
pub(crate) fn digests(messages: &[&[u8]], hashed: impl FnMut(usize, Range<usize>)) -> Vec<String> {
    digests_with(Kernel::detect(), messages, hashed)
}

/// How many messages [`digests`] hashes at once on this CPU.
pub(crate) fn lanes() -> usize {
    Kernel::detect().width()
}

/// [`digests`] with a given kernel.
fn digests_with(
    kernel: Kernel,
    messages: &[&[u8]],
    mut hashed: impl FnMut(usize, Range<usize>),
) -> Vec<String> {
    let mut out = vec![String::new(); messages.len()];
    let mut queue = 0..messages.len();
    let mut slots: Vec<Slot> = Vec::with_capacity(kernel.width());
    loop {
        slots.extend(
            queue
                .by_ref()
                .take(kernel.width() - slots.len())
                .map(|message| Slot {
                    message,
                    at: 0,
                    stream: Sha256Stream::default(),
                }),
        );
        // A message with less than a block left is finished by itself, and
        // its lane refilled.
        let before = slots.len();
        slots.retain_mut(|slot| {
            let message = messages[slot.message];
            if message.len() - slot.at >= 64 {
                return true;
            }
            slot.stream.update(&message[slot.at..]);
            hashed(slot.message, slot.at..message.len());
            out[slot.message] = std::mem::take(&mut slot.stream).finish_hex();
            false
        });
        if slots.len() < before {
            continue;
        }
        let Some(blocks) = slots
            .iter()
            .map(|slot| (messages[slot.message].len() - slot.at) / 64)
            .min()
        else {
            return out;
        };
        let n = blocks.min(STEP_BLOCKS);
        let pieces: Vec<&[[u8; 64]]> = slots
            .iter()
            .map(|slot| {
                messages[slot.message][slot.at..][..64 * n]
                    .as_chunks::<64>()
                    .0
            })
            .collect();
        let mut states: Vec<[u32; 8]> = slots.iter().map(|slot| slot.stream.state).collect();
        if slots.len() >= kernel.fewest() {
            kernel.compress(&mut states, &pieces);
        } else {
            Kernel::One.compress(&mut states, &pieces);
        }
        for (slot, state) in slots.iter_mut().zip(states) {
            slot.stream.state = state;
            slot.stream.len += 64 * n as u64;
            hashed(slot.message, slot.at..slot.at + 64 * n);
            slot.at += 64 * n;
        }
    }
}

/// How blocks of several messages are compressed at once.
#[derive(Clone, Copy, Debug)]
enum Kernel {
    /// Sixteen lanes of AVX-512.
    Sixteen,
    /// Two messages' SHA-NI rounds interleaved.
    Pair,
    /// One message at a time (sha2).
    One,
}

impl Kernel {
    /// The widest kernel the CPU runs.
    fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if avx512() {
                return Kernel::Sixteen;
            }
            if shani() {
                return Kernel::Pair;
            }
        }
        Kernel::One
    }

    /// Messages hashed at once.
    fn width(self) -> usize {
        match self {
            Kernel::Sixteen => 16,
            Kernel::Pair => 2,
            Kernel::One => 1,
        }
    }

    /// The fewest busy lanes for which the kernel beats hashing them one by
    /// one: the sixteen-lane kernel costs the same however many lanes are
    /// busy, and is 1.75–2.1× one message's speed when all are (see the
    /// module doc), so nine lanes or more.
    fn fewest(self) -> usize {
        match self {
            Kernel::Sixteen => 9,
            Kernel::Pair => 2,
            Kernel::One => 1,
        }
    }

    /// Compresses `pieces[k]` into `states[k]`, all pieces of one length
    /// (at most sixteen of them for [`Kernel::Sixteen`]).
    fn compress(self, states: &mut [[u32; 8]], pieces: &[&[[u8; 64]]]) {
        debug_assert_eq!(states.len(), pieces.len());
        match self {
            Kernel::Sixteen => {
                #[cfg(target_arch = "x86_64")]
                if avx512() && !pieces.is_empty() {
                    let mut all = [H0; 16];
                    all[..states.len()].copy_from_slice(states);
                    // Idle lanes hash a copy of the first piece, thrown away.
                    let lanes = std::array::from_fn(|k| *pieces.get(k).unwrap_or(&pieces[0]));
                    // SAFETY: the CPU has AVX-512F and AVX-512BW, checked
                    // just above.
                    unsafe { x86::compress16(&mut all, &lanes) };
                    states.copy_from_slice(&all[..states.len()]);
                    return;
                }
                Kernel::One.compress(states, pieces)
            }
            Kernel::Pair => {
                for (s, p) in states.chunks_mut(2).zip(pieces.chunks(2)) {
                    if let ([sa, sb], [a, b]) = (&mut *s, p) {
                        compress_pair(sa, sb, a, b);
                    } else {
                        Kernel::One.compress(s, p);
                    }
                }
            }
            Kernel::One => {
                for (state, piece) in states.iter_mut().zip(pieces) {
                    compress(state, piece);
                }
            }
        }
    }
}

/// Compresses `a` into `sa` and `b` into `sb` (`a.len() == b.len()`).
fn compress_pair(sa: &mut [u32; 8], sb: &mut [u32; 8], a: &[[u8; 64]], b: &[[u8; 64]]) {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if shani() {
        // SAFETY: the CPU has the SHA extensions, SSSE3 and SSE4.1, checked
        // just above.
        return unsafe { x86::compress_pair(sa, sb, a, b) };
    }
    compress(sa, a);
    compress(sb, b);
}

/// Whether the CPU has what [`x86::compress_pair`] runs on (std caches the
/// check).
#[cfg(target_arch = "x86_64")]
fn shani() -> bool {
    std::arch::is_x86_feature_detected!("sha")
        && std::arch::is_x86_feature_detected!("sse4.1")
        && std::arch::is_x86_feature_detected!("ssse3")
}

/// Whether the CPU has what [`x86::compress16`] runs on.
#[cfg(target_arch = "x86_64")]
fn avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// FIPS 180-4 round constants.
    static K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    /// One message's state in the registers SHA-NI works on.
    struct Lane {
        abef: __m128i,
        cdgh: __m128i,
    }

    impl Lane {
        #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
        fn load(s: &[u32; 8]) -> Lane {
            // SAFETY: `s` is 32 readable bytes; the loads are unaligned.
            let (dcba, efgh) = unsafe {
                let p = s.as_ptr().cast::<__m128i>();
                (_mm_loadu_si128(p), _mm_loadu_si128(p.add(1)))
            };
            let cdab = _mm_shuffle_epi32(dcba, 0xB1);
            let efgh = _mm_shuffle_epi32(efgh, 0x1B);
            Lane {
                abef: _mm_alignr_epi8(cdab, efgh, 8),
                cdgh: _mm_blend_epi16(efgh, cdab, 0xF0),
            }
        }

        #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
        fn store(&self, s: &mut [u32; 8]) {
            let feba = _mm_shuffle_epi32(self.abef, 0x1B);
            let dchg = _mm_shuffle_epi32(self.cdgh, 0xB1);
            // SAFETY: `s` is 32 writable bytes; the stores are unaligned.
            unsafe {
                let p = s.as_mut_ptr().cast::<__m128i>();
                _mm_storeu_si128(p, _mm_blend_epi16(feba, dchg, 0xF0));
                _mm_storeu_si128(p.add(1), _mm_alignr_epi8(dchg, feba, 8));
            }
        }

        /// A block's 16 message words, big-endian, four to a register.
        #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
        fn words(block: &[u8; 64]) -> [__m128i; 4] {
            let swap = _mm_set_epi64x(
                0x0C0D_0E0F_0809_0A0Bu64 as i64,
                0x0405_0607_0001_0203u64 as i64,
            );
            let p = block.as_ptr().cast::<__m128i>();
            // SAFETY: `block` is 64 readable bytes; the loads are unaligned.
            std::array::from_fn(|i| _mm_shuffle_epi8(unsafe { _mm_loadu_si128(p.add(i)) }, swap))
        }

        /// Rounds `4i .. 4i + 4`, first extending the schedule `w` (a ring
        /// of the last 16 words) from round 16 on.
        #[inline]
        #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
        fn rounds4(&mut self, w: &mut [__m128i; 4], i: usize, k: __m128i) {
            if i >= 4 {
                let j = i % 4;
                let (w0, w1, w2, w3) = (w[j], w[(j + 1) % 4], w[(j + 2) % 4], w[(j + 3) % 4]);
                let t = _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8(w3, w2, 4));
                w[j] = _mm_sha256msg2_epu32(t, w3);
            }
            let t = _mm_add_epi32(w[i % 4], k);
            self.cdgh = _mm_sha256rnds2_epu32(self.cdgh, self.abef, t);
            self.abef = _mm_sha256rnds2_epu32(self.abef, self.cdgh, _mm_shuffle_epi32(t, 0x0E));
        }
    }

    /// Compresses `a` into `sa` and `b` into `sb`, round by round in step.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) fn compress_pair(
        sa: &mut [u32; 8],
        sb: &mut [u32; 8],
        a: &[[u8; 64]],
        b: &[[u8; 64]],
    ) {
        let (mut la, mut lb) = (Lane::load(sa), Lane::load(sb));
        for (ba, bb) in a.iter().zip(b) {
            let saved = [la.abef, la.cdgh, lb.abef, lb.cdgh];
            let (mut wa, mut wb) = (Lane::words(ba), Lane::words(bb));
            for i in 0..16 {
                // SAFETY: K holds 64 words, so 4i..4i + 4 are readable.
                let k = unsafe { _mm_loadu_si128(K.as_ptr().add(4 * i).cast::<__m128i>()) };
                la.rounds4(&mut wa, i, k);
                lb.rounds4(&mut wb, i, k);
            }
            la.abef = _mm_add_epi32(la.abef, saved[0]);
            la.cdgh = _mm_add_epi32(la.cdgh, saved[1]);
            lb.abef = _mm_add_epi32(lb.abef, saved[2]);
            lb.cdgh = _mm_add_epi32(lb.cdgh, saved[3]);
        }
        la.store(sa);
        lb.store(sb);
    }

    /// Sixteen rows of sixteen words (a block of each lane) into sixteen
    /// columns (word `j` of every lane): 32-bit, then 64-bit interleaves
    /// within 128-bit lanes, then two 128-bit shuffles.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn transpose(r: [__m512i; 16]) -> [__m512i; 16] {
        let t: [__m512i; 16] = std::array::from_fn(|i| {
            let (a, b) = (r[i & !1], r[i | 1]);
            if i % 2 == 0 {
                _mm512_unpacklo_epi32(a, b)
            } else {
                _mm512_unpackhi_epi32(a, b)
            }
        });
        // u[4g + m]: in 128-bit lane k, word 4k + m of rows 4g .. 4g + 4.
        let u: [__m512i; 16] = std::array::from_fn(|i| {
            let (g, m) = (i / 4 * 4, i % 4);
            let (a, b) = (t[g + m / 2], t[g + 2 + m / 2]);
            if m % 2 == 0 {
                _mm512_unpacklo_epi64(a, b)
            } else {
                _mm512_unpackhi_epi64(a, b)
            }
        });
        let mut w = [_mm512_setzero_si512(); 16];
        for m in 0..4 {
            let even = _mm512_shuffle_i32x4::<0x88>(u[m], u[4 + m]);
            let even2 = _mm512_shuffle_i32x4::<0x88>(u[8 + m], u[12 + m]);
            let odd = _mm512_shuffle_i32x4::<0xDD>(u[m], u[4 + m]);
            let odd2 = _mm512_shuffle_i32x4::<0xDD>(u[8 + m], u[12 + m]);
            w[m] = _mm512_shuffle_i32x4::<0x88>(even, even2);
            w[4 + m] = _mm512_shuffle_i32x4::<0x88>(odd, odd2);
            w[8 + m] = _mm512_shuffle_i32x4::<0xDD>(even, even2);
            w[12 + m] = _mm512_shuffle_i32x4::<0xDD>(odd, odd2);
        }
        w
    }

    /// Word `t ≥ 16` of the schedule into the ring `w` of the last sixteen:
    /// σ1(w[t−2]) + w[t−7] + σ0(w[t−15]) + w[t−16].
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn schedule(w: &mut [__m512i; 16], t: usize) -> __m512i {
        let (w2, w15) = (w[(t + 14) % 16], w[(t + 1) % 16]);
        let s0 = _mm512_ternarylogic_epi32::<0x96>(
            _mm512_ror_epi32::<7>(w15),
            _mm512_ror_epi32::<18>(w15),
            _mm512_srli_epi32::<3>(w15),
        );
        let s1 = _mm512_ternarylogic_epi32::<0x96>(
            _mm512_ror_epi32::<17>(w2),
            _mm512_ror_epi32::<19>(w2),
            _mm512_srli_epi32::<10>(w2),
        );
        let v = _mm512_add_epi32(
            _mm512_add_epi32(s1, w[(t + 9) % 16]),
            _mm512_add_epi32(s0, w[t % 16]),
        );
        w[t % 16] = v;
        v
    }

    /// One round on sixteen lanes; the names rotate from round to round
    /// instead of the values (`d += T1`, `h = T1 + T2`). 0x96 is a three-way
    /// xor, 0xCA `e ? f : g` (Ch), 0xE8 the majority (Maj).
    macro_rules! round {
        ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident, $kw:expr) => {
            let s1 = _mm512_ternarylogic_epi32::<0x96>(
                _mm512_ror_epi32::<6>($e),
                _mm512_ror_epi32::<11>($e),
                _mm512_ror_epi32::<25>($e),
            );
            let ch = _mm512_ternarylogic_epi32::<0xCA>($e, $f, $g);
            let t1 = _mm512_add_epi32(_mm512_add_epi32($h, $kw), _mm512_add_epi32(s1, ch));
            let s0 = _mm512_ternarylogic_epi32::<0x96>(
                _mm512_ror_epi32::<2>($a),
                _mm512_ror_epi32::<13>($a),
                _mm512_ror_epi32::<22>($a),
            );
            let maj = _mm512_ternarylogic_epi32::<0xE8>($a, $b, $c);
            $d = _mm512_add_epi32($d, t1);
            $h = _mm512_add_epi32(t1, _mm512_add_epi32(s0, maj));
        };
    }

    /// Compresses `blocks[k]` into `states[k]` for sixteen messages, one
    /// per 32-bit lane (all `blocks[k]` of one length).
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn compress16(states: &mut [[u32; 8]; 16], blocks: &[&[[u8; 64]]; 16]) {
        let n = blocks[0].len();
        assert!(blocks.iter().all(|b| b.len() == n));
        let swap = _mm512_set4_epi32(0x0C0D0E0F, 0x08090A0B, 0x04050607, 0x00010203);
        let load = |i: usize| {
            let column: [u32; 16] = std::array::from_fn(|k| states[k][i]);
            // SAFETY: `column` is 64 readable bytes; the load is unaligned.
            unsafe { _mm512_loadu_si512(column.as_ptr().cast()) }
        };
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = std::array::from_fn(load);
        #[expect(
            clippy::needless_range_loop,
            reason = "block j of every lane, not of one slice"
        )]
        for j in 0..n {
            let rows = std::array::from_fn(|k| {
                // SAFETY: every `blocks[k]` has `n > j` blocks of 64
                // readable bytes (asserted above); the load is unaligned.
                let row = unsafe { _mm512_loadu_si512(blocks[k][j].as_ptr().cast()) };
                _mm512_shuffle_epi8(row, swap)
            });
            let mut w = transpose(rows);
            let saved = [a, b, c, d, e, f, g, h];
            let mut kw = |t: usize| {
                let word = if t < 16 { w[t] } else { schedule(&mut w, t) };
                _mm512_add_epi32(word, _mm512_set1_epi32(K[t] as i32))
            };
            for t in (0..64).step_by(8) {
                round!(a, b, c, d, e, f, g, h, kw(t));
                round!(h, a, b, c, d, e, f, g, kw(t + 1));
                round!(g, h, a, b, c, d, e, f, kw(t + 2));
                round!(f, g, h, a, b, c, d, e, kw(t + 3));
                round!(e, f, g, h, a, b, c, d, kw(t + 4));
                round!(d, e, f, g, h, a, b, c, kw(t + 5));
                round!(c, d, e, f, g, h, a, b, kw(t + 6));
                round!(b, c, d, e, f, g, h, a, kw(t + 7));
            }
            let mut state = [a, b, c, d, e, f, g, h];
            for (v, s) in state.iter_mut().zip(saved) {
                *v = _mm512_add_epi32(*v, s);
            }
            [a, b, c, d, e, f, g, h] = state;
        }
        for (i, v) in [a, b, c, d, e, f, g, h].into_iter().enumerate() {
            let mut column = [0u32; 16];
            // SAFETY: `column` is 64 writable bytes; the store is unaligned.
            unsafe { _mm512_storeu_si512(column.as_mut_ptr().cast(), v) };
            for (state, word) in states.iter_mut().zip(column) {
                state[i] = word;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn message(len: usize, seed: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i.wrapping_mul(2654435761) >> 7 ^ seed.wrapping_mul(97)) as u8)
            .collect()
    }

    fn reference(m: &[u8]) -> String {
        hex::encode(Sha256::digest(m))
    }

    #[test]
    fn one_message_in_any_pieces_has_sha2s_digest() {
        for len in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 4099] {
            let m = message(len, len);
            for piece in [1, 7, 64, 100, len.max(1)] {
                let mut s = Sha256Stream::default();
                m.chunks(piece).for_each(|c| s.update(c));
                assert_eq!(
                    s.finish_hex(),
                    reference(&m),
                    "len {len}, pieces of {piece}"
                );
            }
        }
    }

    /// Messages of assorted lengths (empty, under a block, around block and
    /// step boundaries, several steps), more of them than lanes: every
    /// kernel gives sha2's digests — through refilled lanes, idle lanes and
    /// the one-by-one tail — and reports each message read once, in order.
    #[test]
    fn messages_side_by_side_have_sha2s_digests() {
        let lengths = [
            0, 1, 55, 56, 63, 64, 65, 128, 1000, 65_536, 70_000, 200_003, 1_048_576, 1_100_001,
        ];
        let messages: Vec<Vec<u8>> = (0..41)
            .map(|i| message(lengths[i * 7 % lengths.len()] + i / 14, i))
            .collect();
        let views: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let expected: Vec<String> = views.iter().map(|m| reference(m)).collect();
        for kernel in [Kernel::Sixteen, Kernel::Pair, Kernel::One, Kernel::detect()] {
            let mut read = vec![0usize; views.len()];
            let got = digests_with(kernel, &views, |i, range| {
                assert_eq!(range.start, read[i], "{kernel:?}: message {i} out of order");
                read[i] = range.end;
            });
            assert_eq!(got, expected, "{kernel:?}");
            let lengths: Vec<usize> = views.iter().map(|m| m.len()).collect();
            assert_eq!(read, lengths, "{kernel:?}");
        }
        assert!(digests(&[], |_, _| ()).is_empty());
    }

    /// The sixteen-lane kernel against sha2's compression, lane by lane
    /// (where the CPU has AVX-512; elsewhere it is sha2's own).
    #[test]
    fn the_sixteen_lane_rounds_are_sha2s_compression() {
        let messages: Vec<Vec<u8>> = (0..16).map(|k| message(64 * 20, 10 + k)).collect();
        let pieces: Vec<&[[u8; 64]]> = messages.iter().map(|m| m.as_chunks::<64>().0).collect();
        let mut states: Vec<[u32; 8]> = (0..16u32)
            .map(|k| std::array::from_fn(|i| H0[i].rotate_left(k) ^ i as u32))
            .collect();
        let mut expected = states.clone();
        Kernel::Sixteen.compress(&mut states, &pieces);
        Kernel::One.compress(&mut expected, &pieces);
        assert_eq!(states, expected);
        #[cfg(target_arch = "x86_64")]
        if !avx512() {
            eprintln!("no AVX-512 here: the sixteen-lane kernel went untested");
        }
    }

    /// The interleaved kernel against sha2's compression, block for block
    /// (where the CPU has SHA-NI; elsewhere `compress_pair` is sha2's own).
    #[test]
    fn the_interleaved_rounds_are_sha2s_compression() {
        let (a, b) = (message(64 * 50, 3), message(64 * 50, 4));
        let (ba, bb) = (a.as_chunks::<64>().0, b.as_chunks::<64>().0);
        let (mut sa, mut sb) = (H0, [7u32; 8]);
        compress_pair(&mut sa, &mut sb, ba, bb);
        let (mut ra, mut rb) = (H0, [7u32; 8]);
        compress(&mut ra, ba);
        compress(&mut rb, bb);
        assert_eq!((sa, sb), (ra, rb));
        // On a CPU without SHA-NI this compares sha2 with itself: say so.
        #[cfg(target_arch = "x86_64")]
        if !shani() {
            eprintln!("no SHA-NI here: the interleaved kernel went untested");
        }
    }
}
