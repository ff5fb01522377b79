//! The x86_64 backends (the two assembly ones, and IFMA's 64-bit-limb entry) against the portable one, operation by operation:
//! Montgomery multiplication and squaring on edge values (0, 1, n-1, all-ones limbs
//! below n) and on proptest inputs, for the Oakley prime (the `n0 = 1` path) and for
//! random odd moduli (the general path).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

extern crate std;

use crate::Paths as _;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

use crate::Backend;
#[cfg(ssmail_bigint_ifma)]
use crate::backends::ifma::single::{self, X86_64Ifma};
use crate::backends::portable::Portable;
use crate::backends::x86_64_adc::X86_64Adc;
use crate::backends::x86_64_adx::{self, X86_64Adx};
use crate::backends::x86_64_adx_zen::{self, Lazy, LazyForm, X86_64AdxZen};
use crate::monty::MontArith;
use crate::monty::MontyParams;
use crate::oakley;
use crate::pow;
use crate::uint::U768;
use crate::word::{LIMBS, Word, sbb};

type Limbs = [Word; LIMBS];

/// `x - 1` (for `x >= 1`).
fn minus_one(x: &Limbs) -> Limbs {
    let mut r = [0; LIMBS];
    let mut borrow = 1;
    for j in 0..LIMBS {
        (r[j], borrow) = sbb(x[j], 0, borrow);
    }
    r
}

/// Values below `n` that stress the carry chains: 0, 1, 2, n-1, n-2, and `n-1` with
/// low, high or alternate limbs forced to all ones where that stays below n.
fn edge_values(n: &Limbs) -> Vec<Limbs> {
    let mut one = [0; LIMBS];
    one[0] = 1;
    let mut two = [0; LIMBS];
    two[0] = 2;
    let n1 = minus_one(n);
    let n2 = minus_one(&n1);
    let mut v = vec![[0; LIMBS], one, two, n1, n2];
    // All-ones limbs under a top limb one below n's (when n's top limb allows it).
    if n[LIMBS - 1] > 0 {
        let mut x = [Word::MAX; LIMBS];
        x[LIMBS - 1] = n[LIMBS - 1] - 1;
        v.push(x);
        let mut y = [0; LIMBS];
        y[LIMBS - 1] = n[LIMBS - 1] - 1;
        for (j, w) in y.iter_mut().enumerate().take(LIMBS - 1) {
            if j & 1 == 0 {
                *w = Word::MAX;
            }
        }
        v.push(y);
    }
    // n-1 with its low half all ones (still below n when n's high half is kept).
    let mut z = n1;
    for w in z.iter_mut().take(LIMBS >> 1) {
        *w = Word::MAX;
    }
    z[LIMBS >> 1] = n1[LIMBS >> 1];
    if lt(&z, n) {
        v.push(z);
    }
    v
}

fn lt(a: &Limbs, b: &Limbs) -> bool {
    for j in (0..LIMBS).rev() {
        if a[j] != b[j] {
            return a[j] < b[j];
        }
    }
    false
}

/// Every x86_64 backend this CPU runs must agree with the portable one on `a·b` and `a²`.
fn check(a: &Limbs, b: &Limbs, n: &Limbs, n0: Word) {
    let want_mul = Portable::mul(a, b, n, n0);
    let want_sqr = Portable::sqr(a, n, n0);
    assert!(lt(&want_mul, n) && lt(&want_sqr, n));
    assert_eq!(X86_64Adc::mul(a, b, n, n0), want_mul, "adc mul");
    assert_eq!(X86_64Adc::sqr(a, n, n0), want_sqr, "adc sqr");
    if x86_64_adx::is_runnable() {
        assert_eq!(X86_64Adx::mul(a, b, n, n0), want_mul, "adx mul");
        assert_eq!(X86_64Adx::sqr(a, n, n0), want_sqr, "adx sqr");
        assert_eq!(X86_64AdxZen::mul(a, b, n, n0), want_mul, "adx-zen mul");
        assert_eq!(X86_64AdxZen::sqr(a, n, n0), want_sqr, "adx-zen sqr");
    }
    #[cfg(ssmail_bigint_ifma)]
    if single::is_runnable() {
        assert_eq!(X86_64Ifma::mul(a, b, n, n0), want_mul, "ifma mul");
        assert_eq!(X86_64Ifma::sqr(a, n, n0), want_sqr, "ifma sqr");
    }
}

/// The modulus and `n0 = -n⁻¹ mod 2^64` (Newton's iteration, checked), for an odd n.
fn params_of(n: &Limbs) -> (Limbs, Word) {
    assert!(MontyParams::new_vartime(&U768(*n)).is_some());
    let mut inv: Word = n[0];
    for _ in 0..6 {
        inv = inv.wrapping_mul((2 as Word).wrapping_sub(n[0].wrapping_mul(inv)));
    }
    assert_eq!(n[0].wrapping_mul(inv), 1);
    (*n, inv.wrapping_neg())
}

#[test]
fn oakley_prime_has_n0_one() {
    assert_eq!(params_of(oakley::P.as_limbs()).1, 1);
}

#[test]
fn edge_values_oakley() {
    let (n, n0) = params_of(oakley::P.as_limbs());
    let e = edge_values(&n);
    for a in &e {
        for b in &e {
            check(a, b, &n, n0);
        }
    }
}

#[test]
fn edge_values_other_moduli() {
    // Small, all-ones, top-heavy and sparse odd moduli (n0 != 1 for most).
    let mut moduli = vec![];
    let mut m = [0; LIMBS];
    m[0] = 3;
    moduli.push(m);
    moduli.push([Word::MAX; LIMBS]);
    let mut m = [0; LIMBS];
    m[0] = 1;
    m[LIMBS - 1] = 1 << 63;
    moduli.push(m);
    let mut m = [0x5555_5555_5555_5555; LIMBS];
    m[0] = 0xffff_ffff_0000_0001;
    moduli.push(m);
    let mut m = [Word::MAX; LIMBS];
    m[0] = 0x8000_0000_0000_0001;
    moduli.push(m);
    for n in &moduli {
        let (n, n0) = params_of(n);
        let e = edge_values(&n);
        for a in &e {
            for b in &e {
                check(a, b, &n, n0);
            }
        }
    }
}

fn limbs() -> impl Strategy<Value = Limbs> {
    proptest::array::uniform12(any::<Word>())
}

/// `x mod n` by repeated halving of the top limb until below n: cheap, public-value
/// test helper (`x` is clamped below `n` by clearing bits above n's top bit, then
/// subtracting n once if needed).
fn below(x: &Limbs, n: &Limbs) -> Limbs {
    let mut x = *x;
    let top = n[LIMBS - 1];
    let bits = Word::BITS - top.leading_zeros();
    x[LIMBS - 1] &= if bits == 0 {
        0
    } else {
        Word::MAX >> (Word::BITS - bits)
    };
    if !lt(&x, n) {
        let mut borrow = 0;
        for j in 0..LIMBS {
            (x[j], borrow) = sbb(x[j], n[j], borrow);
        }
    }
    x
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_inputs_oakley(a in limbs(), b in limbs()) {
        let (n, n0) = params_of(oakley::P.as_limbs());
        check(&below(&a, &n), &below(&b, &n), &n, n0);
    }

    #[test]
    fn random_inputs_random_odd_moduli(a in limbs(), b in limbs(), n in limbs()) {
        let mut n = n;
        n[0] |= 1;
        n[LIMBS - 1] |= 1; // above 1, and `below` has a top limb to work with
        let (n, n0) = params_of(&n);
        check(&below(&a, &n), &below(&b, &n), &n, n0);
    }

    #[test]
    fn random_inputs_n0_one_moduli(a in limbs(), b in limbs(), n in limbs()) {
        // Other moduli whose low limb is all ones take the n0 = 1 path too.
        let mut n = n;
        n[0] = Word::MAX;
        n[LIMBS - 1] |= 1;
        let (n, n0) = params_of(&n);
        prop_assert_eq!(n0, 1);
        check(&below(&a, &n), &below(&b, &n), &n, n0);
    }

    #[test]
    fn unreduced_first_factor(a in limbs(), b in limbs()) {
        // mul's contract also allows any a < 2^768 when b < n (entering Montgomery form).
        let (n, n0) = params_of(oakley::P.as_limbs());
        let b = below(&b, &n);
        let want = Portable::mul(&a, &b, &n, n0);
        prop_assert_eq!(X86_64Adc::mul(&a, &b, &n, n0), want);
        if x86_64_adx::is_runnable() {
            prop_assert_eq!(X86_64Adx::mul(&a, &b, &n, n0), want);
            prop_assert_eq!(X86_64AdxZen::mul(&a, &b, &n, n0), want);
        }
        #[cfg(ssmail_bigint_ifma)]
        if single::is_runnable() {
            prop_assert_eq!(X86_64Ifma::mul(&a, &b, &n, n0), want);
        }
    }
}

/// `x - n` when `x >= n`, else `x` (public test values; `x < 2n`).
fn sub_if_ge(x: &Limbs, n: &Limbs) -> Limbs {
    if lt(x, n) {
        return *x;
    }
    let mut r = [0; LIMBS];
    let mut borrow = 0;
    for j in 0..LIMBS {
        (r[j], borrow) = sbb(x[j], n[j], borrow);
    }
    r
}

/// The lazy (almost-Montgomery) arithmetic of x86_64-adx-zen on inputs anywhere below
/// `R` (also `n` and above, up to all ones), for the Oakley prime: results below `R`
/// (they are arrays of 12 words, so that holds by type) and equal to the portable
/// result once brought below `n`.
fn check_lazy(a: &Limbs, b: &Limbs) {
    if !x86_64_adx::is_runnable() {
        return;
    }
    let (n, n0) = params_of(oakley::P.as_limbs());
    let (ar, br) = (sub_if_ge(a, &n), sub_if_ge(b, &n));
    assert_eq!(
        sub_if_ge(&Lazy::mul(a, b, &n, n0), &n),
        Portable::mul(&ar, &br, &n, n0),
        "lazy mul"
    );
    assert_eq!(
        sub_if_ge(&Lazy::sqr(a, &n, n0), &n),
        Portable::sqr(&ar, &n, n0),
        "lazy sqr"
    );
}

#[test]
fn lazy_edge_values() {
    let (n, _) = params_of(oakley::P.as_limbs());
    let mut e = edge_values(&n);
    // At and above n: n, n+1, all ones, all ones but the low limb.
    e.push(n);
    let mut n1 = n;
    n1[0] = 0;
    n1[1] += 1;
    e.push(n1);
    e.push([Word::MAX; LIMBS]);
    let mut m = [Word::MAX; LIMBS];
    m[0] = 0;
    e.push(m);
    for a in &e {
        for b in &e {
            check_lazy(a, b);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn lazy_random_inputs(a in limbs(), b in limbs()) {
        check_lazy(&a, &b);
    }
}

/// The default on this CPU against the table in `Backend::best`, with the vendor from
/// the kernel's `/proc/cpuinfo` (ssmail-cpu's own test checks its vendor against it).
#[test]
fn vendor_and_default_backend() {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let vendor = info
        .lines()
        .find(|l| l.starts_with("vendor_id"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap()
        .trim();
    assert_eq!(
        ssmail_cpu::vendor() == ssmail_cpu::Vendor::Amd,
        vendor == "AuthenticAMD",
        "{vendor}"
    );
    let best = Backend::best();
    assert!(best.is_runnable());
    #[cfg(ssmail_bigint_ifma)]
    if single::is_runnable() {
        assert_eq!(best, Backend::X86_64Ifma);
        return;
    }
    let want = if x86_64_adx::is_runnable() {
        Backend::X86_64AdxZen
    } else {
        Backend::X86_64Adc
    };
    assert_eq!(best, want);
}

/// The AVX2 lookup against `ct::lookup` on every index of a 32- and a 64-entry table
/// of distinct words, and on indexes past the end (no entry: all zeros, as
/// `ct::lookup` gives).
#[test]
fn avx2_lookup_matches_the_scalar_one() {
    if !x86_64_adx_zen::has_avx2() {
        return;
    }
    fn table<const T: usize>() -> [Limbs; T] {
        core::array::from_fn(|i| {
            core::array::from_fn(|j| {
                0x9e37_79b9_7f4a_7c15_u64.wrapping_mul((i * LIMBS + j + 1) as u64)
            })
        })
    }
    let t32 = table::<32>();
    let t64 = table::<64>();
    for index in (0..70).chain([Word::MAX, 1 << 63, 32 + (1 << 32)]) {
        let got = x86_64_adx_zen::lookup_avx2_checked(&t32, index).unwrap();
        assert_eq!(
            got,
            crate::ct::lookup(&t32, index),
            "32 entries, index {index}"
        );
        let got = x86_64_adx_zen::lookup_avx2_checked(&t64, index).unwrap();
        assert_eq!(
            got,
            crate::ct::lookup(&t64, index),
            "64 entries, index {index}"
        );
    }
}

/// The generic window and comb over x86_64-adx-zen's form, with the AVX2 lookup and
/// with the scalar one, and through `pow_with`, against the portable backend (through
/// `MontyParams::pow_with` and the comb over `Portable`).
fn check_zen_pow(n: &Limbs, base: &Limbs, exp: &Limbs) {
    if !x86_64_adx::is_runnable() {
        return;
    }
    use crate::monty::SecretExponent;
    let params = MontyParams::new_vartime(&U768(*n)).unwrap();
    let e = SecretExponent(U768(*exp));
    let want = params.pow_with(Backend::Portable, &U768(*base), &e);
    for avx2 in [false, x86_64_adx_zen::has_avx2()] {
        let got = pow::window(LazyForm::new(&params, avx2), &U768(*base), &e);
        assert_eq!(got, want, "pow, avx2 {avx2}");
    }
    assert_eq!(
        params.pow_with(Backend::X86_64AdxZen, &U768(*base), &e),
        want
    );
    if n == oakley::P.as_limbs() {
        let want = oakley::public_key(&e, Some(Backend::Portable));
        for avx2 in [false, x86_64_adx_zen::has_avx2()] {
            let got = pow::comb(LazyForm::new(&oakley::PARAMS, avx2), &e);
            assert_eq!(got, want, "public key, avx2 {avx2}");
        }
    }
}

#[test]
fn zen_pow_edge_exponents() {
    let p = *oakley::P.as_limbs();
    let mut p1 = p;
    p1[0] -= 1;
    let mut p2 = p;
    p2[0] -= 2;
    let mut odd = [0x5555_5555_5555_5555; LIMBS];
    odd[0] = 0xffff_ffff_0000_0001;
    let mut one = [0; LIMBS];
    one[0] = 1;
    let mut top = [0; LIMBS];
    top[LIMBS - 1] = 1 << 63;
    for n in [p, odd] {
        for base in [[0; LIMBS], one, p1, [Word::MAX; LIMBS]] {
            for exp in [[0; LIMBS], one, p2, top, [Word::MAX; LIMBS]] {
                check_zen_pow(&n, &base, &exp);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn zen_pow_random(base in limbs(), exp in limbs(), n in limbs()) {
        check_zen_pow(oakley::P.as_limbs(), &base, &exp);
        let mut n = n;
        n[0] |= 1;
        n[LIMBS - 1] |= 1;
        check_zen_pow(&n, &below(&base, &n), &exp);
    }
}
