//! Portable Rust over the native word: coarsely integrated operand scanning (CIOS), then
//! a masked final subtraction. No branch and no index depends on the operands.

use crate::ct;
use crate::monty::MontArith;
use crate::word::{LIMBS, Word, adc, mac, sbb};

/// The portable backend.
pub(crate) struct Portable;

/// Exponentiates in `MontyForm` (the default).
impl crate::form::HasForm for Portable {}

impl MontArith for Portable {
    #[inline(always)]
    fn mul(a: &[Word; LIMBS], b: &[Word; LIMBS], n: &[Word; LIMBS], n0: Word) -> [Word; LIMBS] {
        mont_mul(a, b, n, n0)
    }

    #[inline(always)]
    fn sqr(a: &[Word; LIMBS], n: &[Word; LIMBS], n0: Word) -> [Word; LIMBS] {
        mont_sqr(a, n, n0)
    }
}

/// `a·b·R⁻¹ mod n`, for `a, b < n`, `n` odd, `n0 = -n⁻¹ mod 2^w`, `R = 2^768`. Also
/// correct for any `a < R` when `b < n` (so it reduces a base that is not below `n`).
#[inline(always)]
pub(crate) fn mont_mul(
    a: &[Word; LIMBS],
    b: &[Word; LIMBS],
    n: &[Word; LIMBS],
    n0: Word,
) -> [Word; LIMBS] {
    // t has two extra limbs for the carries of the running sum, which stays below 2n.
    let mut t = [0 as Word; LIMBS + 2];
    for &bi in b {
        // t += a · b[i]
        let mut c = 0;
        for j in 0..LIMBS {
            (t[j], c) = mac(t[j], a[j], bi, c);
        }
        let (s, c2) = adc(t[LIMBS], c, 0);
        t[LIMBS] = s;
        t[LIMBS + 1] = c2;
        // t = (t + m·n) / 2^w, with m chosen so that the low limb cancels.
        let m = t[0].wrapping_mul(n0);
        let (_, mut c) = mac(t[0], m, n[0], 0);
        for j in 1..LIMBS {
            (t[j - 1], c) = mac(t[j], m, n[j], c);
        }
        let (s, c3) = adc(t[LIMBS], c, 0);
        t[LIMBS - 1] = s;
        t[LIMBS] = t[LIMBS + 1] + c3;
    }
    // t < 2n.
    let low: [Word; LIMBS] = core::array::from_fn(|j| t[j]);
    reduce_below_2n(&low, t[LIMBS], n)
}

/// `x mod n` for `x = top·2^768 + low < 2n`: `x - n` unless that borrows, chosen by a
/// mask, in constant time. The last step of every multiplication here.
#[inline(always)]
pub(crate) fn reduce_below_2n(low: &[Word; LIMBS], top: Word, n: &[Word; LIMBS]) -> [Word; LIMBS] {
    let mut r = [0 as Word; LIMBS];
    let mut borrow = 0;
    for j in 0..LIMBS {
        (r[j], borrow) = sbb(low[j], n[j], borrow);
    }
    let (_, borrow) = sbb(top, 0, borrow);
    ct::select(&r, low, ct::mask_bit(borrow))
}

/// `a²·R⁻¹ mod n`, for `a < n`: the square first (each cross product once, then doubled:
/// 78 word products instead of 144 for 12 limbs), then a separate Montgomery reduction.
#[inline(always)]
pub(crate) fn mont_sqr(a: &[Word; LIMBS], n: &[Word; LIMBS], n0: Word) -> [Word; LIMBS] {
    let mut t = [0 as Word; 2 * LIMBS];
    // Cross products a[i]·a[j], i < j.
    for i in 0..LIMBS {
        let mut c = 0;
        for j in i + 1..LIMBS {
            (t[i + j], c) = mac(t[i + j], a[i], a[j], c);
        }
        t[i + LIMBS] = c;
    }
    // Doubled, plus the squares on the diagonal.
    let mut top = 0;
    for w in t.iter_mut() {
        let next = *w >> (Word::BITS - 1);
        *w = (*w << 1) | top;
        top = next;
    }
    let mut c = 0;
    for i in 0..LIMBS {
        let (lo, hi) = mac(0, a[i], a[i], 0);
        (t[2 * i], c) = adc(t[2 * i], lo, c);
        (t[2 * i + 1], c) = adc(t[2 * i + 1], hi, c);
    }
    // a² < n² < n·R, so nothing was lost off the top. Reduce one limb at a time; `hi`
    // is the carry owed to the limb above the current row's last.
    let mut hi = 0;
    for i in 0..LIMBS {
        let m = t[i].wrapping_mul(n0);
        let mut c = 0;
        for j in 0..LIMBS {
            (t[i + j], c) = mac(t[i + j], m, n[j], c);
        }
        (t[i + LIMBS], hi) = adc(t[i + LIMBS], c, hi);
    }
    // The result, t[LIMBS..] plus `hi` on top, is below 2n.
    let high: [Word; LIMBS] = core::array::from_fn(|j| t[LIMBS + j]);
    reduce_below_2n(&high, hi, n)
}
