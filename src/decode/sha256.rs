//! SHA-256 of two messages at once (`images.pixel_data_sha256` of two
//! images), for the native decode of a pair of files.
//!
//! SHA-256 is one chain of 64-byte blocks: a message cannot be hashed in
//! parallel with itself. On x86-64 with the SHA extensions, one message
//! leaves the round unit waiting on the previous round's result most of the
//! time (one `sha256rnds2` depends on the last), so the rounds of a second,
//! independent message interleave into those gaps: ~1.3x the bytes per
//! second of one message on the AMD EPYC this was measured on (2.33 vs
//! 1.80 GB/s). The blocks the two messages do not share (one is longer, or a
//! partial block is pending) and every CPU without SHA-NI go through
//! `sha2::compress256`, which picks sha2's own best backend; padding is the
//! standard one (FIPS 180-4, 5.1.1), so a digest equals `sha2::Sha256`'s.

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

/// Adds `da` to message `a` and `db` to message `b`, their shared run of
/// whole blocks with the two rounds interleaved.
pub(crate) fn update_pair(a: &mut Sha256Stream, da: &[u8], b: &mut Sha256Stream, db: &[u8]) {
    let (da, db) = (a.top_up(da), b.top_up(db));
    let ((ba, ra), (bb, rb)) = (da.as_chunks::<64>(), db.as_chunks::<64>());
    let n = ba.len().min(bb.len());
    compress_pair(&mut a.state, &mut b.state, &ba[..n], &bb[..n]);
    compress(&mut a.state, &ba[n..]);
    compress(&mut b.state, &bb[n..]);
    a.keep(ra);
    b.keep(rb);
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

    /// Two messages of different lengths in pieces of different sizes: the
    /// shared blocks, the longer one's own blocks, pending partial blocks.
    #[test]
    fn two_messages_hashed_together_have_sha2s_digests() {
        for (la, lb) in [
            (0, 0),
            (0, 300),
            (64, 64),
            (1000, 999),
            (5000, 3000),
            (257, 4096),
        ] {
            let (a, b) = (message(la, 1), message(lb, 2));
            for (pa, pb) in [(64, 64), (100, 37), (1, 640), (4096, 4096)] {
                let (mut sa, mut sb) = (Sha256Stream::default(), Sha256Stream::default());
                let (mut ca, mut cb) = (a.chunks(pa), b.chunks(pb));
                loop {
                    match (ca.next(), cb.next()) {
                        (None, None) => break,
                        (x, y) => update_pair(&mut sa, x.unwrap_or(&[]), &mut sb, y.unwrap_or(&[])),
                    }
                }
                let what = format!("lengths {la}/{lb}, pieces {pa}/{pb}");
                assert_eq!(sa.finish_hex(), reference(&a), "a: {what}");
                assert_eq!(sb.finish_hex(), reference(&b), "b: {what}");
            }
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
