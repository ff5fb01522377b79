//! The 768-bit prime of RFC 2409 section 6.1 ("First Oakley Default Group", generator 2),
//! which XCRYPT uses, and the two exponentiations of a key agreement over it.
//!
//! The prime is `2^768 - 2^704 - 1 + 2^64·⌊2^638·π + 149686⌋` (RFC 2409, 6.1). Its low
//! limb is all ones, so `-p⁻¹ mod 2^w = 1`; the parameters below are worked out at
//! compile time, and the portable Montgomery multiplication folds the constant `n0`.

use crate::Backend;
use crate::backends::portable::reduce_below_2n;
use crate::backends::{MontArith, with_arith};
use crate::monty::{MontyParams, SecretExponent};
use crate::multi::{self, LANES, MultiBackend};
use crate::uint::U768;
use crate::word::{LIMBS, WORD_BITS, WORD_SHIFT, Word, mac, sbb};

/// The prime p, big-endian (RFC 2409 section 6.1).
pub const P: U768 = U768::from_be_bytes(&[
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21, 0x68, 0xC2, 0x34,
    0xC4, 0xC6, 0x62, 0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74,
    0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13, 0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD,
    0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30, 0x2B, 0x0A, 0x6D, 0xF2, 0x5F, 0x14, 0x37,
    0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5, 0x76, 0x62, 0x5E, 0x7E, 0xC6,
    0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x3A, 0x36, 0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
]);

/// Montgomery parameters for p, computed at compile time.
pub const PARAMS: MontyParams = match MontyParams::new_vartime(&P) {
    Some(p) => p,
    None => panic!("p is odd and above 1"),
};

/// `2^768 - p`, which is `2^768 mod p` since `p > 2^767`.
const R_MINUS_P: [Word; LIMBS] = {
    let mut c = [0 as Word; LIMBS];
    let mut borrow = 0;
    let mut i = 0;
    while i < LIMBS {
        let (s, b) = sbb(0, P.as_limbs()[i], borrow);
        c[i] = s;
        borrow = b;
        i += 1;
    }
    c
};

/// `x · 2^k mod p` for `x < p` and a secret `k < 2^PK_WINDOW` (at most the word size),
/// in constant time: a one-word multiply and one reduction, far cheaper than a
/// Montgomery multiplication. (Multiplying by 2 commutes with the Montgomery form, so
/// `x` may be in it.)
#[inline(always)]
fn mul_pow2(x: &[Word; LIMBS], k: Word) -> [Word; LIMBS] {
    // The shift is a multiplication by 2^k, and 2^k a product of masked factors, one per
    // bit of k (bit i contributes 2^(2^i)): no shift by a secret count. (LLVM vectorised
    // shifts by `k` into `pslld xmm, xmm` on i686, which valgrind's x86 memcheck reports
    // as a secret-dependent choice.) The product is 2^k < 2^(w-1).
    // Each bit goes through `black_box`: seeing bits of a small k, LLVM otherwise folds
    // the product back into a shift by k or a table lookup (both seen on i686).
    let mut pow: Word = 1;
    let mut factor: Word = 2;
    for i in 0..PK_WINDOW {
        let bit = core::hint::black_box((k >> i) & 1);
        pow *= 1 + (factor - 1) * bit;
        factor = factor.wrapping_mul(factor);
    }
    let mut lo = [0 as Word; LIMBS];
    let mut hi = 0;
    for i in 0..LIMBS {
        // x[i]·2^k has its low k bits clear and the previous limb's overflow is below
        // 2^k: adding it cannot carry.
        let (l, h) = mac(0, x[i], pow, 0);
        lo[i] = l | hi;
        hi = h;
    }
    // x·2^k = hi·2^768 + lo ≡ lo + hi·(2^768 - p), which is below 2p: hi < 2^k ≤
    // 2^(w-1) and 2^768 - p < 2^704, so the sum is below 2^768 + 2^767 < 2p.
    let mut s = [0 as Word; LIMBS];
    let mut c = 0;
    for i in 0..LIMBS {
        let (t, c1) = mac(lo[i], hi, R_MINUS_P[i], c);
        s[i] = t;
        c = c1;
    }
    // s + c·2^768 < 2p.
    reduce_below_2n(&s, c, P.as_limbs())
}

/// Bits per exponent window of the base-2 path: as many as a one-word shift allows
/// (`2^6 - 1 < 64`) and dividing 768, so 128 shift-and-reduce steps instead of 192 on
/// 64-bit words; 4 bits on 32-bit words.
const PK_WINDOW: usize = if WORD_BITS == 64 { 6 } else { 4 };
/// Windows in a 768-bit exponent for the base-2 path.
const PK_WINDOWS: usize = if WORD_BITS == 64 { 128 } else { 192 };
const _: () = assert!(PK_WINDOWS * PK_WINDOW == 768 && (1 << PK_WINDOW) <= WORD_BITS);

/// The `PK_WINDOW` bits of `x` from bit `i` (a public multiple of `PK_WINDOW`). The one
/// branch is on `i`; the bits may be secret.
#[inline(always)]
fn window(x: &U768, i: usize) -> Word {
    let limb = i >> WORD_SHIFT;
    let off = i & (WORD_BITS - 1);
    let mut v = x.0[limb] >> off;
    if off + PK_WINDOW > WORD_BITS && limb + 1 < LIMBS {
        v |= x.0[limb + 1] << (WORD_BITS - off);
    }
    v & ((1 << PK_WINDOW) - 1)
}

/// `2^r mod p`: an XCRYPT public key. Constant time in `r`: fixed windows (6 bits on
/// 64-bit words), each of which multiplies by `2^window` with a shift and a reduction
/// instead of a table lookup and a Montgomery multiplication. Runs on
/// [`Backend::best`].
pub fn public_key(r: &SecretExponent) -> U768 {
    public_key_with(Backend::best(), r)
}

/// [`public_key`] on the given backend.
///
/// # Panics
/// If `backend` cannot run on this CPU ([`Backend::is_runnable`]).
pub fn public_key_with(backend: Backend, r: &SecretExponent) -> U768 {
    with_arith!(backend, A => public_key_in::<A>(r))
}

fn public_key_in<A: MontArith>(r: &SecretExponent) -> U768 {
    let mut acc = PARAMS.monty_one();
    for w in (0..PK_WINDOWS).rev() {
        for _ in 0..PK_WINDOW {
            acc = PARAMS.sqr::<A>(&acc);
        }
        acc = mul_pow2(&acc, window(&r.0, w * PK_WINDOW));
    }
    PARAMS.leave_monty::<A>(&acc)
}

/// `peer^r mod p`: an XCRYPT shared secret, in constant time in both `peer` and `r`.
/// Runs on [`Backend::best`].
pub fn shared_secret(peer: &U768, r: &SecretExponent) -> U768 {
    PARAMS.pow(peer, r)
}

/// [`shared_secret`] on the given backend.
///
/// # Panics
/// If `backend` cannot run on this CPU ([`Backend::is_runnable`]).
pub fn shared_secret_with(backend: Backend, peer: &U768, r: &SecretExponent) -> U768 {
    PARAMS.pow_with(backend, peer, r)
}

// Multi-buffer: several key agreements at once (see `crate::multi`).

/// [`shared_secret`] for [`LANES`] peers at once: `peers[l]^exps[l] mod p`. Runs on
/// [`MultiBackend::best`] (AVX-512 IFMA where the CPU has it).
pub fn shared_secret_many(peers: &[U768; LANES], exps: &[SecretExponent; LANES]) -> [U768; LANES] {
    multi::shared_secret_many_with(MultiBackend::best(), peers, exps)
}

/// [`shared_secret_many`] on the given multi-buffer backend.
///
/// # Panics
/// If `backend` cannot run on this CPU ([`MultiBackend::is_runnable`]).
pub fn shared_secret_many_with(
    backend: MultiBackend,
    peers: &[U768; LANES],
    exps: &[SecretExponent; LANES],
) -> [U768; LANES] {
    multi::shared_secret_many_with(backend, peers, exps)
}

/// [`public_key`] for [`LANES`] exponents at once: `2^exps[l] mod p`. Runs on
/// [`MultiBackend::best`].
pub fn public_key_many(exps: &[SecretExponent; LANES]) -> [U768; LANES] {
    multi::public_key_many_with(MultiBackend::best(), exps)
}

/// [`public_key_many`] on the given multi-buffer backend.
///
/// # Panics
/// If `backend` cannot run on this CPU ([`MultiBackend::is_runnable`]).
pub fn public_key_many_with(
    backend: MultiBackend,
    exps: &[SecretExponent; LANES],
) -> [U768; LANES] {
    multi::public_key_many_with(backend, exps)
}

/// [`shared_secret`] for any number of peers, [`LANES`] at a time on
/// [`MultiBackend::best`]: `out[i] = peers[i]^exps[i] mod p`. A last partial group
/// costs a full one.
///
/// # Panics
/// If `peers`, `exps` and `out` differ in length.
pub fn shared_secret_each(peers: &[U768], exps: &[SecretExponent], out: &mut [U768]) {
    multi::each(MultiBackend::best(), Some(peers), exps, out);
}

/// [`public_key`] for any number of exponents, [`LANES`] at a time on
/// [`MultiBackend::best`]: `out[i] = 2^exps[i] mod p`.
///
/// # Panics
/// If `exps` and `out` differ in length.
pub fn public_key_each(exps: &[SecretExponent], out: &mut [U768]) {
    multi::each(MultiBackend::best(), None, exps, out);
}
