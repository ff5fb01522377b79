//! x86_64 AVX-512 window: eight LFSR words per vector step and sixteen NLFs at once.
//!
//! Two facts make the LFSR vectorise. It satisfies every multiple of its characteristic
//! polynomial x^17 + x^15 + x^4 + α; times (x + 1)^6 = x^6 + x^4 + x^2 + 1 that is
//! x^23 + x^15 + x^10 + x^8 + (1 + α)(x^6 + x^4) + α(x^2 + 1), so
//! `s[i] = s[i-8] ^ s[i-13] ^ s[i-15] ^ u ^ α·(u ^ v)` with `u = s[i-17] ^ s[i-19]`,
//! `v = s[i-21] ^ s[i-23]`: eight new words from older ones, one α-multiply each. And
//! α·w is the XOR of eight nibble lookups in 16-entry tables, which `vpermt2d` does for
//! eight words at a time with the tables in registers. The NLF has no recurrence, so it
//! is computed for every position, sixteen at a time, the S-box read with a gather.
#![allow(
    unsafe_code,
    reason = "SIMD intrinsics; every block says why it is sound"
)]

use core::arch::x86_64::{
    __m256i, __m512i, _mm256_loadu_si256, _mm256_permutex2var_epi32, _mm256_srli_epi32,
    _mm256_storeu_si256, _mm256_xor_si256, _mm512_add_epi32, _mm512_alignr_epi32, _mm512_and_si512,
    _mm512_andnot_si512, _mm512_i32gather_epi32, _mm512_loadu_si512, _mm512_maskz_compress_epi32,
    _mm512_permutex2var_epi32, _mm512_permutexvar_epi32, _mm512_set1_epi32, _mm512_setr_epi32,
    _mm512_setzero_si512, _mm512_shuffle_epi8, _mm512_srli_epi32, _mm512_srlv_epi32,
    _mm512_storeu_si512, _mm512_sub_epi32, _mm512_test_epi32_mask, _mm512_xor_si512,
};

use super::Stream;
use super::bulk::{DIBITS_SPAN, Window, walk};
use super::nlf::{N, WHITEN, feedback};
use super::tables::{ALPHA, SBOX, gf_mul};

/// Steps computed per run-ahead (a multiple of 16, at least one control word's span).
const LOOKAHEAD: usize = 64;
/// Window length in steps.
const SPAN: usize = 256;
/// Room after the window for the last 16-wide loads.
const PAD: usize = 32;

/// `NIBBLES[j][n] = α·(n·x^(4j))`: α·w is the XOR over j of `NIBBLES[j][nibble j of w]`.
static NIBBLES: [[u32; 16]; 8] = {
    let mut t = [[0u32; 16]; 8];
    let mut j = 0;
    while j < 8 {
        let mut n = 0;
        while n < 16 {
            t[j][n] = gf_mul(ALPHA, (n as u32) << (4 * j));
            n += 1;
        }
        j += 1;
    }
    t
};

/// The whitening masks by dibit, padded to a vector.
static WHITEN16: [u32; 16] = [
    WHITEN[0], WHITEN[1], WHITEN[2], WHITEN[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// A `vpshufb` pattern that reverses the bytes of each 32-bit lane.
static BSWAP16: [u32; 16] = [
    0x0001_0203,
    0x0405_0607,
    0x0809_0a0b,
    0x0c0d_0e0f,
    0x0001_0203,
    0x0405_0607,
    0x0809_0a0b,
    0x0c0d_0e0f,
    0x0001_0203,
    0x0405_0607,
    0x0809_0a0b,
    0x0c0d_0e0f,
    0x0001_0203,
    0x0405_0607,
    0x0809_0a0b,
    0x0c0d_0e0f,
];

struct Avx512 {
    win: [u32; SPAN + N + PAD],
    /// `nlfs[p]` is the NLF after `p` steps, for `k < p <= ready`.
    nlfs: [u32; SPAN + PAD],
    k: usize,
    ready: usize,
    konst: u32,
}

/// Eight words from `s[at..at + 8]`.
#[inline(always)]
fn load8(s: &[u32], at: usize) -> __m256i {
    let s = &s[at..at + 8];
    // SAFETY: `s` holds 8 words; the load is unaligned. Only reached from `fill`, which
    // runs with AVX-512F/VL/BW enabled after runtime detection.
    unsafe { _mm256_loadu_si256(s.as_ptr().cast()) }
}

/// Sixteen words from `s[at..at + 16]`.
#[inline(always)]
fn load16(s: &[u32], at: usize) -> __m512i {
    let s = &s[at..at + 16];
    // SAFETY: `s` holds 16 words; the load is unaligned; AVX-512F as for `load8`.
    unsafe { _mm512_loadu_si512(s.as_ptr().cast()) }
}

/// α times each of eight words.
#[inline(always)]
fn alpha8(x: __m256i, tab: &[(__m256i, __m256i); 8]) -> __m256i {
    // SAFETY: register-only intrinsics; AVX-512F/VL/BW as for `load8`.
    unsafe {
        // vpermt2d uses the low four bits of each index lane, so no masking is needed.
        let look = |j: usize, idx: __m256i| _mm256_permutex2var_epi32(tab[j].0, idx, tab[j].1);
        let a = _mm256_xor_si256(look(0, x), look(1, _mm256_srli_epi32::<4>(x)));
        let b = _mm256_xor_si256(
            look(2, _mm256_srli_epi32::<8>(x)),
            look(3, _mm256_srli_epi32::<12>(x)),
        );
        let c = _mm256_xor_si256(
            look(4, _mm256_srli_epi32::<16>(x)),
            look(5, _mm256_srli_epi32::<20>(x)),
        );
        let d = _mm256_xor_si256(
            look(6, _mm256_srli_epi32::<24>(x)),
            look(7, _mm256_srli_epi32::<28>(x)),
        );
        _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d))
    }
}

impl Avx512 {
    fn new(s: &Stream) -> Self {
        let mut win = [0; SPAN + N + PAD];
        win[..N].copy_from_slice(&s.r);
        Self {
            win,
            nlfs: [0; SPAN + PAD],
            k: 0,
            ready: 0,
            konst: s.konst,
        }
    }

    /// LFSR words `win[from..to]`.
    #[inline(always)]
    fn lfsr(&mut self, from: usize, to: usize) {
        let w = &mut self.win;
        let mut i = from;
        // The eight-at-a-time recurrence reaches 23 words back.
        while i < to && i < 23 {
            w[i] = feedback(w[i - 17], w[i - 13], w[i - 2]);
            i += 1;
        }
        // (Not `array::from_fn`: its closure is not inlined into this target-feature code.)
        let nib = |j: usize| (load8(&NIBBLES[j], 0), load8(&NIBBLES[j], 8));
        let tab = [
            nib(0),
            nib(1),
            nib(2),
            nib(3),
            nib(4),
            nib(5),
            nib(6),
            nib(7),
        ];
        while i + 8 <= to {
            // SAFETY: register-only intrinsics except the store, which writes the 8 words
            // `w[i..i + 8]` (bounds-checked); AVX-512F/VL/BW as for `load8`.
            unsafe {
                let u = _mm256_xor_si256(load8(w, i - 17), load8(w, i - 19));
                let v = _mm256_xor_si256(load8(w, i - 21), load8(w, i - 23));
                let near = _mm256_xor_si256(load8(w, i - 8), load8(w, i - 13));
                let far = _mm256_xor_si256(load8(w, i - 15), u);
                let new = _mm256_xor_si256(
                    _mm256_xor_si256(near, far),
                    alpha8(_mm256_xor_si256(u, v), &tab),
                );
                let dst = &mut w[i..i + 8];
                _mm256_storeu_si256(dst.as_mut_ptr().cast(), new);
            }
            i += 8;
        }
        while i < to {
            w[i] = feedback(w[i - 17], w[i - 13], w[i - 2]);
            i += 1;
        }
    }

    /// NLFs `nlfs[from..from + 16 * blocks]`.
    #[inline(always)]
    fn nlfs(&mut self, from: usize, blocks: usize) {
        let w = &self.win;
        // SAFETY: register-only intrinsics except the gather, whose 16 indices are
        // `x >> 24 < 256` into the 256-entry S-box, and the store, which writes the 16
        // words `nlfs[p..p + 16]` (bounds-checked); AVX-512F as for `load8`.
        unsafe {
            let konst = _mm512_set1_epi32(self.konst as i32);
            let low24 = _mm512_set1_epi32(0x00FF_FFFF);
            for b in 0..blocks {
                let p = from + 16 * b;
                let x = _mm512_add_epi32(load16(w, p), load16(w, p + 16));
                let top = _mm512_srli_epi32::<24>(x);
                let sb = _mm512_i32gather_epi32::<4>(top, SBOX.as_ptr().cast());
                let f = _mm512_xor_si512(sb, _mm512_and_si512(x, low24));
                let t = _mm512_add_epi32(_mm512_add_epi32(f, load16(w, p + 1)), load16(w, p + 6));
                let t = _mm512_add_epi32(_mm512_xor_si512(t, konst), load16(w, p + 13));
                let dst = &mut self.nlfs[p..p + 16];
                _mm512_storeu_si512(dst.as_mut_ptr().cast(), t);
            }
        }
    }
}

impl Window for Avx512 {
    #[inline(always)]
    fn k(&self) -> usize {
        self.k
    }
    #[inline(always)]
    fn advance(&mut self, steps: usize) {
        self.k += steps;
    }
    #[inline(always)]
    fn ready(&self) -> usize {
        self.ready
    }
    #[inline(always)]
    fn run_ahead(&mut self) {
        if self.ready + LOOKAHEAD > SPAN {
            let (k, live) = (self.k, self.ready - self.k);
            self.win.copy_within(k..k + N + live, 0);
            self.nlfs.copy_within(k..=k + live, 0);
            self.k = 0;
            self.ready = live;
        }
        let base = self.ready;
        self.lfsr(base + N, base + N + LOOKAHEAD);
        self.nlfs(base + 1, LOOKAHEAD >> 4);
        self.ready = base + LOOKAHEAD;
    }
    #[inline(always)]
    fn nlf_at(&self, p: usize) -> u32 {
        self.nlfs[p]
    }
    fn register(&self) -> &[u32] {
        &self.win[self.k..self.k + N]
    }

    /// All 16 dibits at once: lane i takes dibit i; a prefix sum of the step counts
    /// gives each dibit's position, one permute over the next 32 NLFs fetches them, and a
    /// compress keeps the lanes that output.
    #[inline(always)]
    fn control_word(&mut self, ctrl: u32, dst: &mut [u8; 64]) -> usize {
        let base = self.k;
        // The window holds DIBITS_SPAN steps after `base`.
        let nlfs = &self.nlfs;
        // SAFETY: register-only intrinsics except the store, which writes the 64 bytes of
        // `dst`; AVX-512F and AVX-512BW as for `load8`.
        unsafe {
            let zero = _mm512_setzero_si512();
            let one = _mm512_set1_epi32(1);
            let shifts =
                _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let d = _mm512_and_si512(
                _mm512_srlv_epi32(_mm512_set1_epi32(ctrl as i32), shifts),
                _mm512_set1_epi32(3),
            );
            let hi = _mm512_srli_epi32::<1>(d);
            let steps = _mm512_add_epi32(one, _mm512_and_si512(_mm512_xor_si512(d, hi), one));
            let late = _mm512_and_si512(_mm512_andnot_si512(d, hi), one);
            let mut sum = steps;
            sum = _mm512_add_epi32(sum, _mm512_alignr_epi32::<15>(sum, zero));
            sum = _mm512_add_epi32(sum, _mm512_alignr_epi32::<14>(sum, zero));
            sum = _mm512_add_epi32(sum, _mm512_alignr_epi32::<12>(sum, zero));
            sum = _mm512_add_epi32(sum, _mm512_alignr_epi32::<8>(sum, zero));
            let before = _mm512_sub_epi32(sum, steps);
            // Offsets from `base + 1`, all below 32: a two-register permute reads them.
            let at = _mm512_add_epi32(before, late);
            let near = &nlfs[base + 1..base + 1 + DIBITS_SPAN];
            let v = _mm512_permutex2var_epi32(load16(near, 0), at, load16(near, 16));
            let whiten = _mm512_permutexvar_epi32(d, load16(&WHITEN16, 0));
            let out = _mm512_maskz_compress_epi32(
                _mm512_test_epi32_mask(d, d),
                _mm512_xor_si512(v, whiten),
            );
            // Words go out most significant byte first.
            let out = _mm512_shuffle_epi8(out, load16(&BSWAP16, 0));
            _mm512_storeu_si512(dst.as_mut_ptr().cast(), out);
        }
        // Dibits 1 and 2 take two steps; every dibit but 0 outputs.
        let long = (ctrl ^ (ctrl >> 1)) & 0x5555_5555;
        let emits = (ctrl | (ctrl >> 1)) & 0x5555_5555;
        self.k += 16 + long.count_ones() as usize;
        emits.count_ones() as usize
    }
}

/// Fills `out` (whole words) with the next keystream bytes.
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512VL and AVX-512BW.
#[target_feature(enable = "avx512f,avx512vl,avx512bw")]
pub(crate) unsafe fn fill(s: &mut Stream, out: &mut [u8]) {
    if out.is_empty() {
        return;
    }
    let mut w = Avx512::new(s);
    walk(&mut w, s, out);
}
