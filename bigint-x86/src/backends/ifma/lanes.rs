//! The AVX-512 IFMA kernels of the multi-buffer API: eight independent exponentiations,
//! one per 64-bit lane of a zmm register, over 52-bit limbs.
//!
//! A number is 15 vectors, vector `j` holding limb `j` (bits `52j..52j+52`) of each of
//! the eight lanes, so `vpmadd52luq`/`vpmadd52huq` add the low and high 52 bits of
//! eight limb products at a time into 64-bit accumulators. Montgomery arithmetic runs
//! with `R' = 2^780` (15 limbs) and its own constants. Nothing is reduced below the
//! modulus until the end: for any `n < 2^768`, inputs below `2^779` give a product
//! `a·b/R' + n < 2^778 + 2^768`, again below `2^779`, so no comparison or subtraction
//! is needed between multiplications and the one masked subtraction is at the very end.
//!
//! Constant time, by construction: the kernels are straight-line vector code; loops
//! run a fixed count over public indices; every table lookup reads all 16 entries and
//! picks each lane's own with a compare-to-mask and a masked move, which is a data
//! operation, not a branch or an address; variable shifts (`vpsllvq`/`vpsrlvq`) take a
//! fixed time whatever the count. No lane influences another.
//!
//! Cost: a squaring is 120 limb products (lo and hi: 240 `vpmadd52`) and a reduction of
//! 420 (the Oakley prime's low limb of ones saves 30 more), a multiplication 450 + 420,
//! for eight lanes. On the Xeon this was written on (two 512-bit IFMA ports, measured
//! 0.5 cycle per `vpmadd52` in a throughput loop and 4.4 cycles of latency) that is
//! port-bound: with the adds, shifts and masks of the carries, about 390 cycles per
//! squaring, within a few per cent of the measured time. A single exponentiation has
//! its own IFMA backend (`single.rs` beside this file), one number across the lanes, with
//! the reduction's serial chain in general registers.
#![allow(
    unsafe_code,
    reason = "SIMD intrinsics; every block says why it is sound"
)]

use core::arch::x86_64::{
    __m512i, _mm512_add_epi64, _mm512_and_si512, _mm512_cmpeq_epi64_mask, _mm512_loadu_si512,
    _mm512_mask_mov_epi64, _mm512_or_si512, _mm512_set1_epi64, _mm512_setzero_si512,
    _mm512_slli_epi64, _mm512_sllv_epi64, _mm512_srli_epi64, _mm512_srlv_epi64,
    _mm512_storeu_si512, _mm512_sub_epi64,
};
use zeroize::Zeroize;

use super::limbs52::{
    K, L64, M52, OAKLEY, OAKLEY_C, Params52, WINDOWS, hi, lo, to52, to64, unroll, unroll_k,
};
use crate::backends::portable::reduce_below_2n;
use crate::uint::U768;
use crate::word::LANES;

type V = __m512i;
/// Eight numbers, limb-major: `num[j]` holds limb `j` of every lane.
type Num = [V; K];

/// The same value in every lane.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn splat(x: u64) -> V {
    _mm512_set1_epi64(x as i64)
}

/// A constant number in every lane.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn splat_num(x: &[u64; K]) -> Num {
    core::array::from_fn(|j| splat(x[j]))
}

/// Lane `l` of `rows[j]` is limb `j` of number `l`: the transposition into vectors.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn load_rows<const R: usize>(rows: &[[u64; LANES]; R]) -> [V; R] {
    // SAFETY: each row is 8 u64 = 64 bytes, read unaligned; AVX-512F is enabled.
    core::array::from_fn(|j| unsafe { _mm512_loadu_si512(rows[j].as_ptr().cast()) })
}

/// `normalize!(t, from)`: `t[from..from + 15]` with the carries propagated up so that
/// every limb is below `2^52`, as a `Num`; the value must fit in 15 limbs (below
/// `2^780`), which every caller's bound guarantees. A macro rather than a function so
/// that the accumulators stay in registers (a `#[target_feature]` function cannot be
/// `#[inline(always)]`, and LLVM does not inline these large bodies by itself).
macro_rules! normalize {
    ($t:expr, $from:expr) => {{
        let mask = splat(M52);
        let mut carry = _mm512_setzero_si512();
        let out: Num = core::array::from_fn(|j| {
            let x = _mm512_add_epi64($t[$from + j], carry);
            carry = _mm512_srli_epi64::<52>(x);
            _mm512_and_si512(x, mask)
        });
        out
    }};
}

/// `reduce!(LOW_ONES, t, n, n0)`: Montgomery reduction of a double-length product `t`
/// (30 accumulators, each below `2^60` so nothing overflows): `t / R' mod n`, below
/// `2^779`, normalised. A macro for the reason given at [`normalize!`].
macro_rules! reduce {
    ($low_ones:expr, $t:ident, $n:expr, $n0:expr) => {{
        let mask = splat(M52);
        unroll_k!(i {
            let m;
            if $low_ones {
                // n0 = 1 and n[0] = 2^52 - 1: m = t[i] mod 2^52, and t[i] + m·n[0] =
                // t[i] - m + m·2^52 ≡ 0 carries (t[i] >> 52) + m into the next limb (the
                // high half of m·n[0] and the low half's carry included).
                m = _mm512_and_si512($t[i], mask);
                $t[i + 1] = _mm512_add_epi64(
                    $t[i + 1],
                    _mm512_add_epi64(m, _mm512_srli_epi64::<52>($t[i])),
                );
            } else {
                m = lo(_mm512_setzero_si512(), $t[i], $n0);
                $t[i] = lo($t[i], m, $n[0]);
                $t[i + 1] = hi($t[i + 1], m, $n[0]);
                // t[i] is now a multiple of 2^52; its carry is exact.
                $t[i + 1] = _mm512_add_epi64($t[i + 1], _mm512_srli_epi64::<52>($t[i]));
            }
            unroll_k!(j {
                if j > 0 {
                    $t[i + j] = lo($t[i + j], m, $n[j]);
                    $t[i + j + 1] = hi($t[i + j + 1], m, $n[j]);
                }
            });
        });
        normalize!($t, K)
    }};
}

/// `a·b/R' mod n` (not fully reduced: below `2^779`), for `a, b < 2^779` normalised.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn mul<const LOW_ONES: bool>(a: &Num, b: &Num, n: &Num, n0: V) -> Num {
    let mut t = [_mm512_setzero_si512(); 2 * K];
    unroll_k!(i {
        unroll_k!(j {
            t[i + j] = lo(t[i + j], a[j], b[i]);
            t[i + j + 1] = hi(t[i + j + 1], a[j], b[i]);
        });
    });
    reduce!(LOW_ONES, t, n, n0)
}

/// `a²/R' mod n`: each cross product once, doubled, then the squares (120 limb
/// products instead of 225).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn sqr<const LOW_ONES: bool>(a: &Num, n: &Num, n0: V) -> Num {
    let mut t = [_mm512_setzero_si512(); 2 * K];
    unroll_k!(i {
        unroll_k!(j {
            if j > i {
                t[i + j] = lo(t[i + j], a[i], a[j]);
                t[i + j + 1] = hi(t[i + j + 1], a[i], a[j]);
            }
        });
    });
    for x in t.iter_mut() {
        *x = _mm512_add_epi64(*x, *x);
    }
    unroll_k!(i {
        t[2 * i] = lo(t[2 * i], a[i], a[i]);
        t[2 * i + 1] = hi(t[2 * i + 1], a[i], a[i]);
    });
    reduce!(LOW_ONES, t, n, n0)
}

/// Each lane's `table[index]`: all 16 entries are read, and each lane keeps its own by
/// a compare into a mask register and a masked move.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn lookup(table: &[Num; 16], index: V) -> Num {
    let mut out = [_mm512_setzero_si512(); K];
    for (e, entry) in table.iter().enumerate() {
        let hit = _mm512_cmpeq_epi64_mask(index, splat(e as u64));
        for (o, x) in out.iter_mut().zip(entry) {
            *o = _mm512_mask_mov_epi64(*o, hit, *x);
        }
    }
    out
}

/// The exponents transposed: `rows[w]` holds 64-bit limb `w` of every lane's.
fn exponent_rows(exps: &[&U768; LANES]) -> [[u64; LANES]; L64] {
    core::array::from_fn(|w| core::array::from_fn(|l| exps[l].0[w]))
}

/// Each lane's 4-bit window starting at bit `4·w` of its exponent.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn window(rows: &[V; L64], w: usize) -> V {
    let shift = splat(((w & 15) << 2) as u64);
    _mm512_and_si512(_mm512_srlv_epi64(rows[w >> 4], shift), splat(15))
}

/// Out of the Montgomery form, fully reduced, back to 64-bit limbs, lane by lane.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn leave<const LOW_ONES: bool>(p: &Params52, acc: &Num, n: &Num, n0: V) -> [U768; LANES] {
    let mut one = [0u64; K];
    one[0] = 1;
    // acc/R' with acc < 2^779 is at most n (n exactly when acc ≡ 0): one subtraction.
    let x = mul::<LOW_ONES>(acc, &splat_num(&one), n, n0);
    let mut rows = [[0u64; LANES]; K];
    for (row, v) in rows.iter_mut().zip(&x) {
        // SAFETY: `row` is 64 writable bytes, written unaligned; AVX-512F is enabled.
        unsafe { _mm512_storeu_si512(row.as_mut_ptr().cast(), *v) };
    }
    let out = core::array::from_fn(|l| {
        let limbs: [u64; K] = core::array::from_fn(|j| rows[j][l]);
        U768(reduce_below_2n(&to64(&limbs), 0, &p.n64))
    });
    rows.zeroize();
    out
}

cpufeatures::new!(ifma_cpuid, "avx512f", "avx512ifma");

/// Whether this CPU (and OS, which must save the zmm registers) runs these kernels.
pub(crate) fn runnable() -> bool {
    ifma_cpuid::get()
}

/// `bases[l]^exps[l] mod n` for each lane `l`, with the 4-bit fixed window of
/// [`MontyParams::pow`].
///
/// # Panics
/// Unless [`runnable`].
pub(crate) fn pow(p: &Params52, bases: &[U768; LANES], exps: &[&U768; LANES]) -> [U768; LANES] {
    assert!(runnable(), "AVX-512 IFMA is not available");
    if p.low_all_ones() {
        // SAFETY: the CPU has AVX-512F and IFMA, checked above.
        unsafe { pow_in::<true>(p, bases, exps) }
    } else {
        // SAFETY: as above.
        unsafe { pow_in::<false>(p, bases, exps) }
    }
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn pow_in<const LOW_ONES: bool>(
    p: &Params52,
    bases: &[U768; LANES],
    exps: &[&U768; LANES],
) -> [U768; LANES] {
    let n = splat_num(&p.n);
    let n0 = splat(p.n0);
    let one = splat_num(&p.one);
    let mut base_rows: [[u64; LANES]; K] = [[0; LANES]; K];
    for (l, b) in bases.iter().enumerate() {
        for (j, limb) in to52(&b.0).into_iter().enumerate() {
            base_rows[j][l] = limb;
        }
    }
    // A base of 2^768 - 1 is above n but below 2^779: the product comes out reduced.
    let b = mul::<LOW_ONES>(&load_rows(&base_rows), &splat_num(&p.rr), &n, n0);
    base_rows.zeroize();
    let mut table = [one; 16];
    for i in 1..16 {
        table[i] = mul::<LOW_ONES>(&table[i - 1], &b, &n, n0);
    }
    let mut e_rows = exponent_rows(exps);
    let mut e = load_rows(&e_rows);
    e_rows.zeroize();
    let mut acc = one;
    for w in (0..WINDOWS).rev() {
        for _ in 0..4 {
            acc = sqr::<LOW_ONES>(&acc, &n, n0);
        }
        acc = mul::<LOW_ONES>(&acc, &lookup(&table, window(&e, w)), &n, n0);
    }
    table.zeroize();
    e.zeroize();
    leave::<LOW_ONES>(p, &acc, &n, n0)
}

/// `x · 2^k mod p` for the Oakley prime, `k` (0..16) per lane: a shift and a
/// reduction of the bits above `2^768` by `2^768 ≡ 2^768 - p`. `x < 2^779` gives a
/// result below `2^769`.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn mul_pow2_oakley(x: &Num, k: V, c: &Num) -> Num {
    let mask = splat(M52);
    let back = _mm512_sub_epi64(splat(52), k);
    // y = x << k over 16 limbs; each limb is its own bits moved up and the bits the
    // limb below pushed out, which do not overlap.
    let mut y = [_mm512_setzero_si512(); K + 1];
    for j in 0..K {
        let up = _mm512_and_si512(_mm512_sllv_epi64(x[j], k), mask);
        y[j] = if j == 0 {
            up
        } else {
            _mm512_or_si512(up, _mm512_srlv_epi64(x[j - 1], back))
        };
    }
    y[K] = _mm512_srlv_epi64(x[K - 1], back);
    // Bits 768 and up (768 = 52·14 + 40): below 2^27.
    let top = _mm512_or_si512(
        _mm512_srli_epi64::<40>(y[K - 1]),
        _mm512_slli_epi64::<12>(y[K]),
    );
    y[K - 1] = _mm512_and_si512(y[K - 1], splat((1 << 40) - 1));
    for j in 0..K - 1 {
        y[j] = lo(y[j], top, c[j]);
        y[j + 1] = hi(y[j + 1], top, c[j]);
    }
    normalize!(y, 0)
}

/// `2^r mod p` for the Oakley prime and each lane's `r`: the windows of
/// [`pow`], each multiplying by `2^window` with [`mul_pow2_oakley`].
///
/// # Panics
/// Unless [`runnable`].
pub(crate) fn public_key_oakley(exps: &[&U768; LANES]) -> [U768; LANES] {
    assert!(runnable(), "AVX-512 IFMA is not available");
    // SAFETY: the CPU has AVX-512F and IFMA, checked above.
    unsafe { public_key_in(exps) }
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn public_key_in(exps: &[&U768; LANES]) -> [U768; LANES] {
    let p = &OAKLEY;
    let n = splat_num(&p.n);
    let n0 = splat(p.n0);
    let c = splat_num(&OAKLEY_C);
    let mut e_rows = exponent_rows(exps);
    let mut e = load_rows(&e_rows);
    e_rows.zeroize();
    let mut acc = splat_num(&p.one);
    for w in (0..WINDOWS).rev() {
        for _ in 0..4 {
            acc = sqr::<true>(&acc, &n, n0);
        }
        acc = mul_pow2_oakley(&acc, window(&e, w), &c);
    }
    e.zeroize();
    leave::<true>(p, &acc, &n, n0)
}

/// The kernels at the edges of their bounds (inputs up to `2^779 - 1`, not just the
/// reduced values the public API reaches), against num-bigint.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::ifma::limbs52::testing::{SEED, big, check, edge_values, random};
    use crate::monty::MontyParams;
    use num_bigint::BigUint;

    /// The shared edge values and three pseudo-random ones: one per lane.
    fn values(n: &[u64; K]) -> [[u64; K]; LANES] {
        let [max, below_r, n_minus_1, zero, one] = edge_values(n);
        let mut state = SEED;
        [
            max,
            below_r,
            n_minus_1,
            zero,
            one,
            random(&mut state),
            random(&mut state),
            random(&mut state),
        ]
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn lanes(v: &[[u64; K]; LANES]) -> Num {
        let rows: [[u64; LANES]; K] = core::array::from_fn(|j| core::array::from_fn(|l| v[l][j]));
        load_rows(&rows)
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn unlanes(x: &Num) -> [[u64; K]; LANES] {
        let mut rows = [[0u64; LANES]; K];
        for (row, v) in rows.iter_mut().zip(x) {
            // SAFETY: 64 writable bytes, unaligned store; AVX-512F is enabled.
            unsafe { _mm512_storeu_si512(row.as_mut_ptr().cast(), *v) };
        }
        core::array::from_fn(|l| core::array::from_fn(|j| rows[j][l]))
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn mul_and_sqr<const LOW_ONES: bool>(p: &Params52) {
        let n = splat_num(&p.n);
        let n0 = splat(p.n0);
        let nb = big(&p.n);
        let vals = values(&p.n);
        for shift in 0..LANES {
            let b_vals: [[u64; K]; LANES] = core::array::from_fn(|l| vals[(l + shift) & 7]);
            let m = unlanes(&mul::<LOW_ONES>(&lanes(&vals), &lanes(&b_vals), &n, n0));
            let s = unlanes(&sqr::<LOW_ONES>(&lanes(&b_vals), &n, n0));
            for l in 0..LANES {
                let (a, b) = (big(&vals[l]), big(&b_vals[l]));
                check(&m[l], &(&a * &b), &nb, "mul");
                check(&s[l], &(&b * &b), &nb, "sqr");
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn pow2_oakley() {
        let p = big(&OAKLEY.n);
        let c = splat_num(&OAKLEY_C);
        let vals = values(&OAKLEY.n);
        let ks = [15u64, 0, 1, 7, 15, 3, 8, 14];
        let k = load_rows(&[ks]);
        let got = unlanes(&mul_pow2_oakley(&lanes(&vals), k[0], &c));
        for l in 0..LANES {
            assert!(got[l].iter().all(|&x| x <= M52), "not normalised");
            let g = big(&got[l]);
            assert!(g < BigUint::from(1u8) << 769, "above 2^769");
            assert_eq!(&g % &p, (big(&vals[l]) << ks[l]) % &p, "lane {l}");
        }
    }

    #[test]
    fn kernels_at_their_bounds() {
        if !runnable() {
            return;
        }
        // A modulus with n0 != 1 for the general reduction: p - 2.
        let mut q = crate::oakley_prime::P;
        q.0[0] -= 2;
        let general = Params52::new(&MontyParams::new_vartime(&q).unwrap());
        assert!(!general.low_all_ones());
        // SAFETY: the CPU has AVX-512F and IFMA, checked above.
        unsafe {
            mul_and_sqr::<true>(&OAKLEY);
            mul_and_sqr::<false>(&OAKLEY);
            mul_and_sqr::<false>(&general);
            pow2_oakley();
        }
    }
}
