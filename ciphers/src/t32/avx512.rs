//! x86_64 AVX-512 window: sixteen LFSR words per vector step, sixteen NLFs at once,
//! and the stutter sixteen dibits at once.
//!
//! The LFSR satisfies every multiple of its characteristic polynomial
//! p(x) = x^17 + x^15 + x^4 + α, and in characteristic 2,
//! p(x)^8 = x^136 + x^120 + x^32 + α^8: `s[i] = s[i-16] ^ s[i-104] ^ α^8·s[i-136]`. Every
//! lag is at least 16, so one 512-bit vector of new words comes from older ones, the one
//! sixteen back being the previous vector (kept in a register). α^8·w is linear in w: the
//! XOR over the eight nibbles of w of a 16-entry table, which `vpermd` reads with the
//! table in a register (it uses the low four bits of each index, so no mask is needed):
//! eight permutes per sixteen words, against eleven per eight on the AVX2 path.
//!
//! The 136 words of history a window needs are made by a shorter recurrence, eight at a
//! time: times (x + 1)^6 = x^6 + x^4 + x^2 + 1, p(x) becomes
//! x^23 + x^15 + x^10 + x^8 + (1 + α)(x^6 + x^4) + α(x^2 + 1), so
//! `s[i] = s[i-8] ^ s[i-13] ^ s[i-15] ^ u ^ α·(u ^ v)` with `u = s[i-17] ^ s[i-19]`,
//! `v = s[i-21] ^ s[i-23]`, α·w again by nibble tables (`vpermt2d`, eight words).
//!
//! Measured on an Intel Xeon reported as family 6 model 167 (AVX-512 with IFMA; a KVM
//! guest), 2026-12-08, criterion in one run: 5.6 µs at 14,671 B and 397 µs at 1 MiB,
//! against the AVX2 path's 7.8 and 530 (1.38× / 1.33×) and the C reference's 54.5 and
//! 3,606 (9.7× / 9.1×). The window it replaced (the LFSR eight words a step by the
//! degree-23 recurrence above, 64-step run-aheads, a new window per 4 KiB buffer) ran
//! 12.1 and 844 there, slower than AVX2. In 4 KiB calls (what Postfix's smtpd hands
//! libssmail) 23.5-24.5 µs per 64 KiB against AVX2's 32.3-33.1; it stays ahead of AVX2
//! down to 128-byte calls (`examples/chunked_min.rs`). Tried there and not kept: the
//! stutter four dibits per table lookup as on the AVX2 path (the same speed within
//! noise), and run-aheads of 128 or 256 steps in windows of 512 or 1024 (within 1 µs
//! per 64 KiB of each other in long runs, slower in short calls). Not measured on AMD:
//! Zen 4 and Zen 5 run AVX-512 too, and the trial at first use
//! ([`T32Path::best`](super::T32Path)) decides there.
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
use super::bulk::{DIBITS_SPAN, Window, apply_through, walk};
use super::nlf::{N, WHITEN, feedback};
use super::tables::{ALPHA, SBOX, gf_mul};

/// Steps computed per run-ahead (a multiple of 16, at least one control word's span).
const LOOKAHEAD: usize = 64;
/// Window length in steps.
const SPAN: usize = 512;
/// Room after the window for the last 16-wide loads.
const PAD: usize = 32;
/// How far back the 16-wide recurrence reaches.
const HISTORY: usize = 136;
/// Length of the window arrays.
const WIN: usize = SPAN + PAD;

/// `t[j][n] = m·(n·x^(4j))`: m·w is the XOR over j of `t[j][nibble j of w]`.
const fn nibble_tables(m: u32) -> [[u32; 16]; 8] {
    let mut t = [[0u32; 16]; 8];
    let mut j = 0;
    while j < 8 {
        let mut n = 0;
        while n < 16 {
            t[j][n] = gf_mul(m, (n as u32) << (4 * j));
            n += 1;
        }
        j += 1;
    }
    t
}

/// α·w by nibbles, for the 8-wide recurrence that makes the history.
static NIBBLES: [[u32; 16]; 8] = nibble_tables(ALPHA);

/// α^8.
const ALPHA8: u32 = {
    let a2 = gf_mul(ALPHA, ALPHA);
    let a4 = gf_mul(a2, a2);
    gf_mul(a4, a4)
};

/// α^8·w by nibbles, for the 16-wide recurrence.
static NIBBLES8: [[u32; 16]; 8] = nibble_tables(ALPHA8);

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
    /// LFSR words: the register after `k` steps is `win[k..k + 17]`.
    win: [u32; WIN],
    /// `nlfs[p]` is the NLF after `p` steps, for `k < p <= ready`.
    nlfs: [u32; WIN],
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
fn alpha_times8(x: __m256i, tab: &[(__m256i, __m256i); 8]) -> __m256i {
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

/// α^8 times each of sixteen words, with [`NIBBLES8`] in registers.
#[inline(always)]
fn alpha8_times16(x: __m512i, tab: &[__m512i; 8]) -> __m512i {
    // SAFETY: register-only intrinsics; AVX-512F as for `load8`.
    unsafe {
        // vpermd uses the low four bits of each index lane, so no masking is needed.
        let look = |j: usize, idx: __m512i| _mm512_permutexvar_epi32(idx, tab[j]);
        let a = _mm512_xor_si512(look(0, x), look(1, _mm512_srli_epi32::<4>(x)));
        let b = _mm512_xor_si512(
            look(2, _mm512_srli_epi32::<8>(x)),
            look(3, _mm512_srli_epi32::<12>(x)),
        );
        let c = _mm512_xor_si512(
            look(4, _mm512_srli_epi32::<16>(x)),
            look(5, _mm512_srli_epi32::<20>(x)),
        );
        let d = _mm512_xor_si512(
            look(6, _mm512_srli_epi32::<24>(x)),
            look(7, _mm512_srli_epi32::<28>(x)),
        );
        _mm512_xor_si512(_mm512_xor_si512(a, b), _mm512_xor_si512(c, d))
    }
}

impl Avx512 {
    /// The window over `s`'s register, with the history the 16-wide recurrence needs
    /// made by the 8-wide one.
    #[inline(always)]
    fn new(s: &Stream) -> Self {
        let mut win = [0; WIN];
        win[..N].copy_from_slice(&s.r);
        let w = &mut win;
        let mut i = N;
        // The eight-at-a-time recurrence reaches 23 words back.
        while i < 23 {
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
        while i + 8 <= HISTORY {
            // SAFETY: register-only intrinsics except the store, which writes the 8 words
            // `w[i..i + 8]` (bounds-checked); AVX-512F/VL/BW as for `load8`.
            unsafe {
                let u = _mm256_xor_si256(load8(w, i - 17), load8(w, i - 19));
                let v = _mm256_xor_si256(load8(w, i - 21), load8(w, i - 23));
                let near = _mm256_xor_si256(load8(w, i - 8), load8(w, i - 13));
                let far = _mm256_xor_si256(load8(w, i - 15), u);
                let new = _mm256_xor_si256(
                    _mm256_xor_si256(near, far),
                    alpha_times8(_mm256_xor_si256(u, v), &tab),
                );
                let dst = &mut w[i..i + 8];
                _mm256_storeu_si256(dst.as_mut_ptr().cast(), new);
            }
            i += 8;
        }
        while i < HISTORY {
            w[i] = feedback(w[i - 17], w[i - 13], w[i - 2]);
            i += 1;
        }
        Self {
            win,
            nlfs: [0; WIN],
            k: 0,
            ready: 0,
            konst: s.konst,
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
    /// LOOKAHEAD more LFSR words and as many NLFs, in one loop: each pass makes sixteen
    /// words and the sixteen NLFs that end 104 words behind them (long stored, so their
    /// unaligned loads do not wait on the stores), so that the permutes of the one and
    /// the gather of the other overlap.
    #[inline(always)]
    fn run_ahead(&mut self) {
        // LFSR words are made up to `win[ready + HISTORY]`: the vector recurrence needs
        // that many words behind the next one.
        if self.ready + HISTORY + LOOKAHEAD > SPAN {
            // Keep the register at `k` and what follows.
            let k = self.k;
            self.win.copy_within(k..self.ready + HISTORY, 0);
            self.nlfs.copy_within(k..=self.ready, 0);
            self.k = 0;
            self.ready -= k;
        }
        let ready = self.ready;
        let made = ready + HISTORY;
        let w = &mut self.win;
        // SAFETY: register-only intrinsics and 16-word loads and stores (bounds-checked),
        // except the gather, whose 16 indices are `x >> 24 < 256` into the 256-entry
        // S-box; AVX-512F as for `load8`.
        unsafe {
            let t = |j: usize| load16(&NIBBLES8[j], 0);
            let tab = [t(0), t(1), t(2), t(3), t(4), t(5), t(6), t(7)];
            let konst = _mm512_set1_epi32(self.konst as i32);
            let low24 = _mm512_set1_epi32(0x00FF_FFFF);
            let mut prev = load16(w, made - 16);
            for b in 0..LOOKAHEAD >> 4 {
                // s[i] = s[i-16] ^ s[i-104] ^ α^8·s[i-136], sixteen at a time.
                let i = made + 16 * b;
                let x = load16(w, i - HISTORY);
                let new = _mm512_xor_si512(
                    alpha8_times16(x, &tab),
                    _mm512_xor_si512(prev, load16(w, i - 104)),
                );
                let dst = &mut w[i..i + 16];
                _mm512_storeu_si512(dst.as_mut_ptr().cast(), new);
                prev = new;
                // The NLF after p steps, for sixteen p; its last word is win[p + 15 + 16],
                // at most i - 104.
                let p = ready + 1 + 16 * b;
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
        self.ready = ready + LOOKAHEAD;
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

/// XORs the next keystream bytes into `data` (whole words), through a buffer of `B`
/// bytes (a multiple of 4), with one window for the whole run ([`apply_through`]).
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512VL and AVX-512BW.
#[target_feature(enable = "avx512f,avx512vl,avx512bw")]
pub(crate) unsafe fn apply<const B: usize>(s: &mut Stream, data: &mut [u8]) {
    debug_assert!(data.len() & 3 == 0 && B & 3 == 0);
    if data.is_empty() {
        return;
    }
    apply_through::<_, B>(&mut Avx512::new(s), s, data);
}
