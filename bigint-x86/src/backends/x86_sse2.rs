//! 32-bit x86 with SSE2 (Pentium 4 and later): Montgomery multiplication with
//! `pmuludq`, two 32 × 32-bit products per instruction.
//!
//! The operands are recut into 28 digits of 28 bits, so that a column of products (at
//! most 56 of them, each below 2^56) sums in a 64-bit lane without carrying; the carry
//! moves on once per column. Columns are summed in product-scanning order with the
//! Montgomery digits interleaved (finely integrated product scanning): `a` and the
//! digits `m` are laid out forwards, `b` and `n` backwards, so that one unaligned load
//! gives the partner of each pair of digits. 27 columns remove 27 × 28 = 756 bits; a
//! last 12-bit step (scalar) makes it 768, so the result is `a·b·2^-768 mod n`, the same
//! Montgomery form as every other backend's.
//!
//! Every loop runs a fixed number of times and every address is fixed: no branch or
//! address depends on the operands. `n0 = 1` (the Oakley prime) has its own column tail,
//! in which the Montgomery digit is the column's low digit.

use core::arch::x86::{
    __m128i, _mm_add_epi64, _mm_and_si128, _mm_cvtsi32_si128, _mm_cvtsi128_si32, _mm_load_si128,
    _mm_loadu_si128, _mm_mul_epu32, _mm_set_epi32, _mm_setzero_si128, _mm_srli_epi64,
    _mm_store_si128, _mm_unpackhi_epi64, _mm_unpacklo_epi64,
};

use crate::backends::MontArith;
use crate::backends::portable::reduce_below_2n;
use crate::word::{LIMBS, Word};

cpufeatures::new!(sse2_cpuid, "sse2");

/// Whether this CPU has SSE2.
pub(crate) fn available() -> bool {
    sse2_cpuid::get()
}

/// Digits of 28 bits in a 768-bit number (the last has 12).
const D: usize = 28;
/// The digit mask.
const MASK: u32 = (1 << 28) - 1;
/// Zero lanes before the reversed arrays, so that the first pair of a column may start
/// one digit early.
const PAD: usize = 2;
/// Lanes in a padded array.
const LANES: usize = 32;

/// 64-bit lanes, 16-byte aligned, each holding a digit in its low half.
#[repr(C, align(16))]
struct Lanes([u64; LANES]);

/// The 28-bit digits of `x`, least significant first: every 7 words make 8 digits, with
/// shifts that are all constants.
#[inline(always)]
fn digits(x: &[Word; LIMBS]) -> [u32; D] {
    let mut w = [0u32; 28];
    w[..LIMBS].copy_from_slice(x);
    let mut d = [0u32; D + 4];
    for g in 0..4 {
        let (w, d) = (&w[7 * g..7 * g + 7], &mut d[8 * g..8 * g + 8]);
        d[0] = w[0] & MASK;
        d[1] = ((w[0] >> 28) | (w[1] << 4)) & MASK;
        d[2] = ((w[1] >> 24) | (w[2] << 8)) & MASK;
        d[3] = ((w[2] >> 20) | (w[3] << 12)) & MASK;
        d[4] = ((w[3] >> 16) | (w[4] << 16)) & MASK;
        d[5] = ((w[4] >> 12) | (w[5] << 20)) & MASK;
        d[6] = ((w[5] >> 8) | (w[6] << 24)) & MASK;
        d[7] = w[6] >> 4;
    }
    core::array::from_fn(|t| d[t])
}

/// Digits in lanes, forwards (lane `t` is digit `t`) and backwards (lane
/// `PAD + 27 - t` is digit `t`).
#[inline(always)]
fn lanes(d: &[u32; D]) -> (Lanes, Lanes) {
    let mut f = Lanes([0; LANES]);
    let mut b = Lanes([0; LANES]);
    for t in 0..D {
        f.0[t] = u64::from(d[t]);
        b.0[PAD + D - 1 - t] = u64::from(d[t]);
    }
    (f, b)
}

/// The SSE2 backend.
pub(crate) struct X86Sse2;

impl MontArith for X86Sse2 {
    #[inline]
    fn mul(a: &[Word; LIMBS], b: &[Word; LIMBS], n: &[Word; LIMBS], n0: Word) -> [Word; LIMBS] {
        assert!(available(), "SSE2 is checked before this backend is chosen");
        // SAFETY: the CPU has SSE2 (checked above; `with_arith!` checks it too).
        unsafe { dispatch(a, Some(b), n, n0) }
    }

    #[inline]
    fn sqr(a: &[Word; LIMBS], n: &[Word; LIMBS], n0: Word) -> [Word; LIMBS] {
        assert!(available(), "SSE2 is checked before this backend is chosen");
        // SAFETY: as in `mul`.
        unsafe { dispatch(a, None, n, n0) }
    }
}

/// Picks the Oakley-shaped path (digits 0 and 1 of `n` all ones) or the general one,
/// on the public `n`.
///
/// # Safety
/// The CPU must have SSE2.
#[inline(always)]
unsafe fn dispatch(
    a: &[Word; LIMBS],
    b: Option<&[Word; LIMBS]>,
    n: &[Word; LIMBS],
    n0: Word,
) -> [Word; LIMBS] {
    let nd = digits(n);
    // SAFETY: the caller's contract.
    unsafe {
        if n0 == 1 && nd[1] == MASK {
            mont_mul::<true>(a, b, n, &nd, n0)
        } else {
            mont_mul::<false>(a, b, n, &nd, n0)
        }
    }
}

/// `a·b·2^-768 mod n` (see the module doc); `b = None` squares `a`. With `OAKLEY`,
/// digits 0 and 1 of `n` are all ones (so `n0 = 1`): then `m[k]·(n[0] + n[1]·2^28) =
/// m[k]·2^56 - m[k]`, so the Montgomery digit clears its column and is simply added two
/// columns up, with no product and no wait for it in the next column.
///
/// # Safety
/// The CPU must have SSE2.
#[target_feature(enable = "sse2")]
#[inline(never)]
unsafe fn mont_mul<const OAKLEY: bool>(
    a: &[Word; LIMBS],
    b: Option<&[Word; LIMBS]>,
    n: &[Word; LIMBS],
    nd: &[u32; D],
    n0: Word,
) -> [Word; LIMBS] {
    let nd = *nd;
    let (fa, ra) = lanes(&digits(a));
    let square = b.is_none();
    let rb = match b {
        Some(b) => lanes(&digits(b)).1,
        None => ra,
    };
    let (_, mut rn) = lanes(&nd);
    if OAKLEY {
        // Products by n[0] and n[1] are accounted for without multiplying.
        rn.0[PAD + D - 1] = 0;
        rn.0[PAD + D - 2] = 0;
    }
    let mut fm = Lanes([0; LANES]);
    let mut out = [0u32; D];
    let fa = fa.0.as_ptr().cast::<__m128i>();
    let rb = rb.0.as_ptr();
    let rn = rn.0.as_ptr();
    let fmp = fm.0.as_mut_ptr();
    // SAFETY (for every intrinsic below): SSE2 is enabled for this function and present
    // (the caller's contract). Every load and store is within its `Lanes` array of
    // `LANES` lanes: pairs start at an even `i <= 27` (lanes i, i + 1 <= 29) in the
    // forward arrays, and at `PAD + 27 - k + i`, between `PAD - 1` and `PAD + 28`, in
    // the backward ones; aligned loads and stores are at even lanes of 16-byte-aligned
    // arrays.
    unsafe {
        let mask = _mm_cvtsi32_si128(MASK as i32);
        let low_lane = _mm_set_epi32(0, 0, -1, -1);
        let high_lane = _mm_set_epi32(-1, -1, 0, 0);
        let n0p = _mm_cvtsi32_si128((n0 & MASK) as i32);
        let nd0 = _mm_cvtsi32_si128(nd[0] as i32);
        let mut carry = _mm_setzero_si128();
        // The pair of Montgomery digits being filled, (m[k & !1], m[k | 1]).
        let mut mcur = _mm_setzero_si128();
        // The Oakley path's last two Montgomery digits: m[k - 1] (owed to column k + 1)
        // and, while column k runs, m[k - 2].
        let mut mprev = _mm_setzero_si128();
        let mut mlone = _mm_setzero_si128();
        for k in 0..2 * D - 1 {
            let lo = k.saturating_sub(D - 1) & !1;
            let hi = k.min(D - 1);
            // Two sums, so that the additions of a·b and m·n do not wait for each other.
            let mut acc = _mm_setzero_si128();
            let mut accm = _mm_setzero_si128();
            let mut i = lo;
            if square {
                // Each cross product once, doubled: the pairs whose two products are
                // both below the diagonal (2i + 2 < k), then the pair at the diagonal,
                // whose lanes count twice, once or not at all.
                while 2 * i + 2 < k {
                    let x = _mm_load_si128(fa.add(i >> 1));
                    let y = _mm_loadu_si128(rb.add(PAD + D - 1 + i - k).cast::<__m128i>());
                    acc = _mm_add_epi64(acc, _mm_mul_epu32(x, y));
                    i += 2;
                }
                let x = _mm_load_si128(fa.add(i >> 1));
                let y = _mm_loadu_si128(rb.add(PAD + D - 1 + i - k).cast::<__m128i>());
                let p = _mm_mul_epu32(x, y);
                let (twice, once) = match 2 * i + 2 - k {
                    // Lanes (cross, diagonal).
                    0 => (_mm_and_si128(p, low_lane), _mm_and_si128(p, high_lane)),
                    // (cross, mirror).
                    1 => (_mm_and_si128(p, low_lane), _mm_setzero_si128()),
                    // (diagonal, mirror).
                    2 => (_mm_setzero_si128(), _mm_and_si128(p, low_lane)),
                    // (mirror, mirror).
                    _ => (_mm_setzero_si128(), _mm_setzero_si128()),
                };
                acc = _mm_add_epi64(acc, twice);
                acc = _mm_add_epi64(_mm_add_epi64(acc, acc), once);
            } else {
                while i <= hi {
                    let x = _mm_load_si128(fa.add(i >> 1));
                    let y = _mm_loadu_si128(rb.add(PAD + D - 1 + i - k).cast::<__m128i>());
                    acc = _mm_add_epi64(acc, _mm_mul_epu32(x, y));
                    i += 2;
                }
            }
            if OAKLEY {
                // m[k - 1] is not needed here (its products are the deferred carry);
                // m[k - 2] waits in `mlone` for an even k, so that no load waits for the
                // store of the pair (m[k - 2], m[k - 1]).
                let stored = if k < D - 1 {
                    (k.max(1) - 1) & !1
                } else {
                    hi + 1
                };
                let mut i = lo;
                while i < stored {
                    let x = _mm_load_si128(fmp.add(i).cast::<__m128i>());
                    let y = _mm_loadu_si128(rn.add(PAD + D - 1 + i - k).cast::<__m128i>());
                    accm = _mm_add_epi64(accm, _mm_mul_epu32(x, y));
                    i += 2;
                }
                if k < D - 1 && k >= 2 && k & 1 == 0 {
                    let y = _mm_loadu_si128(rn.add(PAD + D - 3).cast::<__m128i>());
                    accm = _mm_add_epi64(accm, _mm_mul_epu32(mlone, y));
                }
            } else {
                // The stored pairs of Montgomery digits; the pair holding m[k] is still
                // in `mcur` (and for an even k it is all still to come).
                let stored = if k < D { k & !1 } else { hi + 1 };
                let mut i = lo;
                while i < stored {
                    let x = _mm_load_si128(fmp.add(i).cast::<__m128i>());
                    let y = _mm_loadu_si128(rn.add(PAD + D - 1 + i - k).cast::<__m128i>());
                    accm = _mm_add_epi64(accm, _mm_mul_epu32(x, y));
                    i += 2;
                }
                if k < D && k & 1 == 1 {
                    let y = _mm_loadu_si128(rn.add(PAD + D - 2).cast::<__m128i>());
                    accm = _mm_add_epi64(accm, _mm_mul_epu32(mcur, y));
                }
            }
            let acc = _mm_add_epi64(acc, accm);
            let s = _mm_add_epi64(acc, _mm_unpackhi_epi64(acc, acc));
            let s = _mm_add_epi64(s, carry);
            if k < D - 1 {
                let m;
                if OAKLEY {
                    // s - m is (s >> 28)·2^28; m[k] itself joins column k + 2.
                    m = _mm_and_si128(s, mask);
                    carry = _mm_add_epi64(_mm_srli_epi64::<28>(s), mprev);
                    mlone = mprev;
                    mprev = m;
                } else {
                    m = _mm_and_si128(_mm_mul_epu32(_mm_and_si128(s, mask), n0p), mask);
                    carry = _mm_srli_epi64::<28>(_mm_add_epi64(s, _mm_mul_epu32(m, nd0)));
                }
                mcur = if k & 1 == 0 {
                    m
                } else {
                    _mm_unpacklo_epi64(mcur, m)
                };
                _mm_store_si128(fmp.add(k & !1).cast::<__m128i>(), mcur);
            } else {
                out[k - (D - 1)] = (_mm_cvtsi128_si32(s) as u32) & MASK;
                carry = _mm_srli_epi64::<28>(s);
                if OAKLEY {
                    // The last deferred digit, m[26], belongs to column 28.
                    carry = _mm_add_epi64(carry, mprev);
                    mprev = _mm_setzero_si128();
                }
            }
        }
        // The last column's carry: u is below 2^781, so this is the top of digit 27's
        // overflow and small.
        let top = _mm_cvtsi128_si32(carry) as u32;
        finish(&out, top, &nd, n, n0)
    }
}

/// The last 12 bits of the reduction, then back to 32-bit words and below `n`.
/// `u = out + top·2^784 < 2^781` is `a·b·2^-756` modulo `n`.
#[inline(always)]
fn finish(out: &[u32; D], top: u32, nd: &[u32; D], n: &[Word; LIMBS], n0: Word) -> [Word; LIMBS] {
    let m = out[0].wrapping_mul(n0) & 0xFFF;
    let mut v = [0u32; D];
    let mut c: u64 = 0;
    for j in 0..D {
        let t = u64::from(out[j]) + u64::from(m) * u64::from(nd[j]) + c;
        v[j] = (t as u32) & MASK;
        c = t >> 28;
    }
    let top = u64::from(top) + c;
    // (v + top·2^784) / 2^12, cut into 32-bit words.
    let mut words = [0 as Word; LIMBS];
    let mut acc: u64 = u64::from(v[0] >> 12);
    let mut bits = 16;
    let mut w = 0;
    for &d in &v[1..] {
        acc |= u64::from(d) << bits;
        bits += 28;
        if bits >= 32 {
            words[w] = acc as Word;
            w += 1;
            acc >>= 32;
            bits -= 32;
        }
    }
    debug_assert_eq!((w, bits), (LIMBS, 4));
    let hi = (acc | (top << bits)) as Word;
    reduce_below_2n(&words, hi, n)
}

#[cfg(test)]
mod tests {
    use super::X86Sse2;
    use crate::backends::MontArith;
    use crate::backends::portable::Portable;
    use crate::word::{LIMBS, Word};
    use crate::{U768, oakley};

    fn words(seed: &mut u64) -> [Word; LIMBS] {
        core::array::from_fn(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed as Word
        })
    }

    fn neg_inv(x: Word) -> Word {
        let mut inv = x;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(x.wrapping_mul(inv)));
        }
        inv.wrapping_neg()
    }

    fn below(x: [Word; LIMBS], n: &[Word; LIMBS]) -> [Word; LIMBS] {
        if U768(x).to_be_bytes() < U768(*n).to_be_bytes() {
            return x;
        }
        let mut r = [0; LIMBS];
        let mut borrow = 0;
        for i in 0..LIMBS {
            (r[i], borrow) = crate::word::sbb(x[i], n[i], borrow);
        }
        r
    }

    fn check(n: &[Word; LIMBS], n0: Word, seed: &mut u64) {
        let mut n1 = *n;
        n1[0] = n1[0].wrapping_sub(1);
        let mut one = [0; LIMBS];
        one[0] = 1;
        let mut xs = [[0; LIMBS]; 10];
        xs[1] = one;
        xs[2] = n1;
        xs[3] = below([Word::MAX; LIMBS], n);
        for x in &mut xs[4..] {
            *x = below(words(seed), n);
        }
        for a in &xs {
            assert_eq!(
                X86Sse2::sqr(a, n, n0),
                Portable::sqr(a, n, n0),
                "sqr {a:x?}"
            );
            for b in &xs {
                assert_eq!(
                    X86Sse2::mul(a, b, n, n0),
                    Portable::mul(a, b, n, n0),
                    "mul {a:x?} {b:x?}"
                );
            }
        }
    }

    #[test]
    fn matches_portable() {
        if !super::available() {
            return;
        }
        let mut seed = 0x5EED_0000_0000_0001;
        check(&oakley::P.0, 1, &mut seed);
        for _ in 0..8 {
            let mut n = words(&mut seed);
            n[0] |= 1;
            n[LIMBS - 1] |= 1 << 31;
            check(&n, neg_inv(n[0]), &mut seed);
        }
        let mut n = words(&mut seed);
        n[0] = Word::MAX;
        n[LIMBS - 1] |= 1 << 31;
        check(&n, 1, &mut seed);
    }
}
