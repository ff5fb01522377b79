//! x86_64 AVX2 window: the LFSR eight words per vector step, the NLF for eight positions
//! at once, and the stutter walked four dibits per table lookup.
//!
//! The LFSR satisfies every multiple of its characteristic polynomial
//! p(x) = x^17 + x^15 + x^4 + α, and in characteristic 2, p(x)^4 = x^68 + x^60 + x^16 + α^4:
//! `s[i] = s[i-8] ^ s[i-52] ^ α^4·s[i-68]`. Every lag is at least 8, so eight words come
//! from older ones at once, the one eight back is the previous vector (kept in a
//! register, so nothing waits on a store), and the other two were written long before.
//! α^4·w is linear in w: the XOR over the eleven 3-bit groups of w of an eight-entry
//! table, which `vpermd` reads with the table in a register (no mask needed, as `vpermd`
//! uses the low three bits of each index). The NLF has no recurrence: it is computed for
//! every position, eight at a time, the S-box read with a gather. The stutter then takes
//! a control word a byte (four dibits) at a time: a 256-entry table gives which of the
//! next eight NLFs go out, their whitening and the steps taken, and one `vpermd` picks
//! them.
//!
//! Measured on AMD Zen 3 (EPYC, family 25 model 1), where this path runs at about 2.4×
//! the portable one and 6× the plain C reference. Tried there and not kept:
//! * the S-box by scalar loads instead of the gather (a separate pass, or pipelined two
//!   blocks behind, or every other block): no faster, or up to 10% slower, although a
//!   `vpgatherdd` costs about 10 cycles there;
//! * α^4 by scalar byte-table lookups for every other block (to use the integer units
//!   beside the permutes): about 25% slower;
//! * run-aheads of 64 or 256 steps instead of 128: no difference; windows of 256, 384
//!   and 1024 steps: 512 was best (a window is cleared per batch).
//!
//! What bounds it there: the run-ahead takes about three quarters of the time, split
//! about evenly between the eleven permutes of α^4 (per eight steps) and the gather.
#![allow(
    unsafe_code,
    reason = "SIMD intrinsics; every block says why it is sound"
)]

use core::arch::x86_64::{
    __m256i, _mm_cvtsi32_si128, _mm_loadu_si128, _mm_storeu_si128, _mm_xor_si128, _mm256_add_epi32,
    _mm256_and_si256, _mm256_castsi256_si128, _mm256_cvtepu8_epi32, _mm256_i32gather_epi32,
    _mm256_loadu_si256, _mm256_permutevar8x32_epi32, _mm256_set1_epi32, _mm256_shuffle_epi8,
    _mm256_srli_epi32, _mm256_storeu_si256, _mm256_xor_si256,
};

use super::Stream;
use super::bulk::{DIBITS_SPAN, Window, apply_through, walk};
use super::nlf::{N, WHITEN, feedback};
use super::tables::{ALPHA, SBOX, gf_mul};

/// Steps computed per run-ahead (a multiple of 8, at least one control word's span).
const LOOKAHEAD: usize = 128;
/// Window length in steps.
const SPAN: usize = 512;
/// Room after the window for the walk's last 8-wide loads.
const PAD: usize = 16;
/// How far back the recurrence reaches.
const HISTORY: usize = 68;

/// α^4.
const ALPHA4: u32 = {
    let a2 = gf_mul(ALPHA, ALPHA);
    gf_mul(a2, a2)
};

/// `A4[g][n] = α^4·(n·x^(3g))`, truncated to 32 bits (the top group has two bits).
static A4: [[u32; 8]; 11] = {
    let mut t = [[0u32; 8]; 11];
    let mut g = 0;
    while g < 11 {
        let mut n = 0;
        while n < 8 {
            t[g][n] = gf_mul(ALPHA4, ((n as u64) << (3 * g)) as u32);
            n += 1;
        }
        g += 1;
    }
    t
};

/// A `vpshufb` pattern that reverses the bytes of each 32-bit lane.
static BSWAP8: [u32; 8] = [
    0x0001_0203,
    0x0405_0607,
    0x0809_0a0b,
    0x0c0d_0e0f,
    0x0001_0203,
    0x0405_0607,
    0x0809_0a0b,
    0x0c0d_0e0f,
];

/// What four dibits (one byte of a control word) do, from the position before them.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
struct Four {
    /// The whitening of each output word, byte-swapped like the NLFs it is XORed into.
    whiten: [u32; 4],
    /// Byte j: which of the next eight NLFs (0 is the one after one step) output j is.
    idx: u32,
    /// Steps the four dibits take.
    steps: u32,
    /// Words they output.
    count: u32,
    _pad: u32,
}

/// [`Four`] for every byte value.
static FOURS: [Four; 256] = {
    let mut t = [Four {
        whiten: [0; 4],
        idx: 0,
        steps: 0,
        count: 0,
        _pad: 0,
    }; 256];
    let mut b = 0;
    while b < 256 {
        let (mut k, mut m, mut i) = (0u32, 0usize, 0);
        while i < 4 {
            let d = (b >> (2 * i)) & 3;
            // d = 1 and d = 3 output the NLF after one step, d = 2 after two; d = 1 and
            // d = 2 take two steps, d = 0 and d = 3 one.
            if d != 0 {
                let at = if d == 2 { 2 } else { 1 };
                t[b].whiten[m] = WHITEN[d].swap_bytes();
                t[b].idx |= (k + at - 1) << (8 * m);
                m += 1;
            }
            k += if d == 1 || d == 2 { 2 } else { 1 };
            i += 1;
        }
        t[b].steps = k;
        t[b].count = m as u32;
        b += 1;
    }
    t
};

struct Avx2 {
    /// LFSR words: the register after `k` steps is `win[k..k + 17]`.
    win: [u32; WIN],
    /// `nlfs[p]` is the NLF after `p` steps, bytes swapped (big-endian in memory), for
    /// `k < p <= ready`.
    nlfs: [u32; WIN],
    k: usize,
    ready: usize,
    /// LFSR words are made up to `win[made]` (always `ready + HISTORY`: the vector
    /// recurrence needs that many words behind the next one).
    made: usize,
    konst: u32,
}

/// Length of the window arrays.
const WIN: usize = SPAN + PAD;

/// Eight words from `s[at..at + 8]`.
#[inline(always)]
fn load8(s: &[u32], at: usize) -> __m256i {
    let s = &s[at..at + 8];
    // SAFETY: `s` holds 8 words; the load is unaligned. Only reached from `fill`, which
    // runs with AVX2 enabled after runtime detection.
    unsafe { _mm256_loadu_si256(s.as_ptr().cast()) }
}

/// Writes eight words to `s[at..at + 8]`.
#[inline(always)]
fn store8(s: &mut [u32], at: usize, v: __m256i) {
    let s = &mut s[at..at + 8];
    // SAFETY: `s` holds 8 words; the store is unaligned; AVX2 as for `load8`.
    unsafe { _mm256_storeu_si256(s.as_mut_ptr().cast(), v) }
}

/// α^4 times each of eight words.
#[inline(always)]
fn alpha4(x: __m256i) -> __m256i {
    // SAFETY: register-only intrinsics plus 8-word loads of the tables; AVX2 as for
    // `load8`.
    unsafe {
        let look = |g: usize, idx: __m256i| _mm256_permutevar8x32_epi32(load8(&A4[g], 0), idx);
        let a = _mm256_xor_si256(look(0, x), look(1, _mm256_srli_epi32::<3>(x)));
        let b = _mm256_xor_si256(
            look(2, _mm256_srli_epi32::<6>(x)),
            look(3, _mm256_srli_epi32::<9>(x)),
        );
        let c = _mm256_xor_si256(
            look(4, _mm256_srli_epi32::<12>(x)),
            look(5, _mm256_srli_epi32::<15>(x)),
        );
        let d = _mm256_xor_si256(
            look(6, _mm256_srli_epi32::<18>(x)),
            look(7, _mm256_srli_epi32::<21>(x)),
        );
        let e = _mm256_xor_si256(
            look(8, _mm256_srli_epi32::<24>(x)),
            look(9, _mm256_srli_epi32::<27>(x)),
        );
        let f = look(10, _mm256_srli_epi32::<30>(x));
        _mm256_xor_si256(
            _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d)),
            _mm256_xor_si256(e, f),
        )
    }
}

impl Avx2 {
    /// The window over `s`'s register, with the LFSR run one word at a time up to where
    /// the vector recurrence can take over.
    fn new(s: &Stream) -> Self {
        let mut win = [0; WIN];
        win[..N].copy_from_slice(&s.r);
        for i in N..HISTORY {
            win[i] = feedback(win[i - 17], win[i - 13], win[i - 2]);
        }
        Self {
            win,
            nlfs: [0; WIN],
            k: 0,
            ready: 0,
            made: HISTORY,
            konst: s.konst,
        }
    }
}

impl Window for Avx2 {
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

    /// LOOKAHEAD more LFSR words and as many NLFs, in one loop: each pass makes eight
    /// words and the eight NLFs that end 51 words behind them (long stored, so their
    /// unaligned loads do not wait on the stores), so that the permutes of the one and
    /// the gather of the other share the vector units.
    #[inline(always)]
    fn run_ahead(&mut self) {
        if self.made + LOOKAHEAD > SPAN {
            // Keep the register at `k` and what follows.
            let k = self.k;
            self.win.copy_within(k..self.made, 0);
            self.nlfs.copy_within(k..=self.ready, 0);
            self.k = 0;
            self.ready -= k;
            self.made -= k;
        }
        let (made, ready) = (self.made, self.ready);
        let w = &mut self.win;
        // SAFETY: register-only intrinsics and 8-word loads and stores, except the
        // gather, whose 8 indices are `x >> 24 < 256` into the 256-entry S-box; AVX2 as
        // for `load8`.
        unsafe {
            let konst = _mm256_set1_epi32(self.konst as i32);
            let low24 = _mm256_set1_epi32(0x00FF_FFFF);
            let bswap = load8(&BSWAP8, 0);
            let mut prev = load8(w, made - 8);
            for b in 0..LOOKAHEAD >> 3 {
                // s[i] = s[i-8] ^ s[i-52] ^ α^4·s[i-68], eight at a time.
                let i = made + 8 * b;
                let new = _mm256_xor_si256(
                    _mm256_xor_si256(prev, load8(w, i - 52)),
                    alpha4(load8(w, i - 68)),
                );
                store8(w, i, new);
                prev = new;
                // The NLF after p steps, for eight p; its last word is win[p + 16 + 7],
                // at most i - 44.
                let p = ready + 1 + 8 * b;
                let x = _mm256_add_epi32(load8(w, p), load8(w, p + 16));
                let top = _mm256_srli_epi32::<24>(x);
                let sb = _mm256_i32gather_epi32::<4>(SBOX.as_ptr().cast(), top);
                let f = _mm256_xor_si256(sb, _mm256_and_si256(x, low24));
                let t = _mm256_add_epi32(_mm256_add_epi32(f, load8(w, p + 1)), load8(w, p + 6));
                let t = _mm256_add_epi32(_mm256_xor_si256(t, konst), load8(w, p + 13));
                store8(&mut self.nlfs, p, _mm256_shuffle_epi8(t, bswap));
            }
        }
        self.made = made + LOOKAHEAD;
        self.ready = ready + LOOKAHEAD;
    }
    #[inline(always)]
    fn nlf_at(&self, p: usize) -> u32 {
        self.nlfs[p].swap_bytes()
    }
    fn register(&self) -> &[u32] {
        &self.win[self.k..self.k + N]
    }

    /// Four dibits per step: a table says, for the byte of the control word, which of
    /// the next eight NLFs go out, with what whitening, and how far the register moves.
    #[inline(always)]
    fn control_word(&mut self, ctrl: u32, dst: &mut [u8; 64]) -> usize {
        // The NLFs the 16 dibits can reach, and eight more for the last 8-wide load; a
        // fixed-size view, so that (with the `min`s) no access needs a bounds check.
        let near: &[u32; DIBITS_SPAN + 8] = (&self.nlfs[self.k + 1..self.k + 1 + DIBITS_SPAN + 8])
            .try_into()
            .expect("the window holds a control word's span and PAD more");
        let (mut k, mut m) = (0usize, 0usize);
        for byte in 0..4 {
            let e = &FOURS[((ctrl >> (8 * byte)) & 0xff) as usize];
            // Three bytes of dibits take at most 24 steps and output at most 12 words.
            let at = k.min(DIBITS_SPAN - 8);
            let o = 4 * m.min(12);
            let dst = &mut dst[o..o + 16];
            // SAFETY: register-only intrinsics, an 8-word load of `near`, a 16-byte load of
            // `e.whiten` and a 16-byte store to `dst`, which holds 16 bytes; AVX2 as for
            // `load8`.
            unsafe {
                let idx = _mm256_cvtepu8_epi32(_mm_cvtsi32_si128(e.idx as i32));
                let v = _mm256_permutevar8x32_epi32(load8(near, at), idx);
                let v = _mm_xor_si128(
                    _mm256_castsi256_si128(v),
                    _mm_loadu_si128(e.whiten.as_ptr().cast()),
                );
                _mm_storeu_si128(dst.as_mut_ptr().cast(), v);
            }
            m += e.count as usize;
            k += e.steps as usize;
        }
        self.k += k;
        m
    }
}

/// XORs the next keystream bytes into `data` (whole words), through a buffer of `B`
/// bytes (a multiple of 4), with one window for the whole run ([`apply_through`]).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn apply<const B: usize>(s: &mut Stream, data: &mut [u8]) {
    debug_assert!(data.len() & 3 == 0 && B & 3 == 0);
    if data.is_empty() {
        return;
    }
    apply_through::<_, B>(&mut Avx2::new(s), s, data);
}

/// Fills `out` (whole words) with the next keystream bytes.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn fill(s: &mut Stream, out: &mut [u8]) {
    if out.is_empty() {
        return;
    }
    let mut w = Avx2::new(s);
    walk(&mut w, s, out);
}
