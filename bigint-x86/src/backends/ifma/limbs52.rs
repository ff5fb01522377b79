//! Numbers as fifteen 52-bit limbs (`R' = 2^780`), the form the AVX-512 IFMA kernels
//! compute in: conversions from and to 64-bit limbs, a modulus's constants, and the
//! unrolling macros the kernels share.
//!
//! Layer: the base of `backends::ifma`; imports `monty` and `oakley_prime`
//! (whose constants it converts at compile time).

use core::arch::x86_64::{__m512i, _mm512_madd52hi_epu64, _mm512_madd52lo_epu64};

use crate::monty::{MontyParams, double_mod};
use crate::oakley_prime::PARAMS;

/// Windows in a 768-bit exponent cut into 4-bit nibbles (the IFMA exponentiations'
/// window).
pub(crate) const WINDOWS: usize = 768 >> 2;

/// 52-bit limbs in a number: `R' = 2^(52·15) = 2^780`.
pub(crate) const K: usize = 15;
/// The low 52 bits.
pub(crate) const M52: u64 = (1 << 52) - 1;
/// 64-bit limbs of a 768-bit number (x86_64 only, so `Word` is `u64`).
pub(crate) const L64: usize = 12;

/// `x · 2^k mod n` by `k` doublings.
pub(crate) const fn shift_mod(x: &[u64; L64], k: usize, n: &[u64; L64]) -> [u64; L64] {
    let mut x = *x;
    let mut i = 0;
    while i < k {
        x = double_mod(&x, n);
        i += 1;
    }
    x
}

/// 64-bit limbs to 52-bit ones (bits above 780 are dropped; there are none here).
pub(crate) const fn to52(x: &[u64; L64]) -> [u64; K] {
    let mut out = [0u64; K];
    let mut j = 0;
    while j < K {
        let bit = 52 * j;
        let (w, s) = (bit >> 6, bit & 63);
        let mut v = x[w] >> s;
        if s > 12 && w + 1 < L64 {
            v |= x[w + 1] << (64 - s);
        }
        out[j] = v & M52;
        j += 1;
    }
    out
}

/// 52-bit limbs (normalised, value below `2^768`) to 64-bit ones.
pub(crate) fn to64(x: &[u64; K]) -> [u64; L64] {
    let mut out = [0u64; L64];
    for (j, &l) in x.iter().enumerate() {
        let bit = 52 * j;
        let (w, s) = (bit >> 6, bit & 63);
        out[w] |= l << s;
        if s > 12 && w + 1 < L64 {
            out[w + 1] |= l >> (64 - s);
        }
    }
    out
}

/// A modulus and its Montgomery constants for `R' = 2^780`, as 52-bit limbs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params52 {
    pub(crate) n: [u64; K],
    /// `-n⁻¹ mod 2^52`.
    pub(crate) n0: u64,
    /// `R' mod n`: one in this Montgomery form.
    pub(crate) one: [u64; K],
    /// `R'² mod n`.
    pub(crate) rr: [u64; K],
    /// The modulus as 64-bit limbs, for the final subtraction.
    pub(crate) n64: [u64; L64],
}

impl Params52 {
    /// From the 64-bit Montgomery parameters: `R' = 2^12·R` and `R'² = 2^24·R²`.
    pub(crate) const fn new(p: &MontyParams) -> Self {
        let n64 = p.modulus().0;
        Self {
            n: to52(&n64),
            // -n⁻¹ mod 2^52 is the low 52 bits of -n⁻¹ mod 2^64.
            n0: p.neg_inv() & M52,
            one: to52(&shift_mod(&p.monty_one().0, 12, &n64)),
            rr: to52(&shift_mod(&p.monty_r2(), 24, &n64)),
            n64,
        }
    }

    /// Whether the Oakley shortcut applies: `n0 = 1` and a low limb of all ones, so
    /// the reduction's multiple of `n[0]` is an addition (see `reduce`).
    pub(crate) fn low_all_ones(&self) -> bool {
        self.n0 == 1 && self.n[0] == M52
    }
}

/// `2^768 - p` for the Oakley prime, as 52-bit limbs: `2^768 ≡ C` when reducing the
/// bits of a shifted value above `2^768`. As `2^767 < p`, it is `R mod p`, one in
/// Montgomery form. It is below `2^704`, so limb 14 is zero.
pub(crate) const OAKLEY_C: [u64; K] = to52(&PARAMS.monty_one().0);
const _: () = assert!(OAKLEY_C[K - 1] == 0);

/// The Oakley prime's parameters, at compile time.
pub(crate) const OAKLEY: Params52 = Params52::new(&PARAMS);
const _: () = assert!(OAKLEY.n0 == 1 && OAKLEY.n[0] == M52);

/// `unroll!(i in [0 1 ..] { body })`: the body once per listed index, with `i` a
/// constant, so that every limb index is known at compile time and the accumulator
/// arrays live in registers (LLVM does not fully unroll these nests by itself).
macro_rules! unroll {
    ($i:ident in [$($n:literal)*] $body:block) => {
        $({
            let $i: usize = $n;
            $body
        })*
    };
}

/// `unroll_k!(i { body })`: [`unroll!`] over the 15 limb indices.
macro_rules! unroll_k {
    ($i:ident $body:block) => {
        unroll!($i in [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14] $body)
    };
}

pub(crate) use {unroll, unroll_k};

/// `a + lo52(b·c)`, lane by lane.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn lo(a: __m512i, b: __m512i, c: __m512i) -> __m512i {
    _mm512_madd52lo_epu64(a, b, c)
}

/// `a + hi52(b·c)`, lane by lane.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn hi(a: __m512i, b: __m512i, c: __m512i) -> __m512i {
    _mm512_madd52hi_epu64(a, b, c)
}

/// Test helpers shared by the two IFMA kernels' bound tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{K, M52};
    use num_bigint::BigUint;

    /// The value of 52-bit limbs.
    pub(crate) fn big(x: &[u64]) -> BigUint {
        x.iter()
            .enumerate()
            .fold(BigUint::from(0u8), |acc, (j, &l)| {
                acc + (BigUint::from(l) << (52 * j))
            })
    }

    /// Edge values below `2^779`, as normalised limbs: `2^779 - 1`, `2^768 - 1`,
    /// `n - 1`, 0 and 1.
    pub(crate) fn edge_values(n: &[u64; K]) -> [[u64; K]; 5] {
        let mut max = [M52; K];
        max[K - 1] = (1 << 51) - 1;
        let mut below_r = [M52; K];
        below_r[K - 1] = (1 << 40) - 1;
        let mut n_minus_1 = *n;
        n_minus_1[0] -= 1;
        let mut one = [0; K];
        one[0] = 1;
        [max, below_r, n_minus_1, [0; K], one]
    }

    /// Pseudo-random limbs below `2^779`, from the generator state `state` (a 64-bit
    /// LCG; the tests start it at `SEED`).
    pub(crate) fn random(state: &mut u64) -> [u64; K] {
        core::array::from_fn(|j| {
            *state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let l = *state >> 12;
            if j == K - 1 { l >> 1 } else { l }
        })
    }

    /// The random inputs' starting state.
    pub(crate) const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

    /// Normalised, below `2^779`, and `≡ want · 2^-780 (mod n)`.
    pub(crate) fn check(got: &[u64], want_times_r: &BigUint, n: &BigUint, what: &str) {
        assert!(got.iter().all(|&l| l <= M52), "{what}: not normalised");
        let g = big(got);
        assert!(g < BigUint::from(1u8) << 779, "{what}: above the bound");
        assert_eq!(
            (&g << 780u32) % n,
            want_times_r % n,
            "{what}: wrong residue"
        );
    }
}
