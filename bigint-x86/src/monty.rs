//! Montgomery arithmetic modulo an odd 768-bit modulus: the parameters of a modulus
//! ([`MontyParams`]), the secret exponent type, and the contract every backend meets
//! ([`MontArith`]: a multiplication and a squaring, nothing more).
//!
//! Layer: above `word`, `ct` and `uint`, which are all it imports. The backends
//! (`backends/`) implement [`MontArith`]; the exponentiations (`pow`) run over a
//! backend's number form (`form`), by default [`Monty`] values through it.

use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::ct::Words;
use crate::uint::{BYTES, U768};
use crate::word::{LIMBS, Word, adc, sbb};

/// A number in Montgomery form for `R = 2^768`, `x·R mod n`, for the modulus of the
/// [`MontyParams`] that made it; plain numbers are [`U768`]. The ways between the two
/// forms are [`MontyParams::enter_monty`] and [`MontyParams::leave_monty`] (and
/// wrapping a precomputed table's words, which are in this form), so that a plain
/// value used as a Montgomery one, or the other way round, does not type-check. The
/// IFMA code's form, `R' = 2^780` over 52-bit limbs, has its own types
/// (`backends/ifma`).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct Monty(pub(crate) [Word; LIMBS]);

impl Words<LIMBS> for Monty {
    #[inline(always)]
    fn words(&self) -> &[Word; LIMBS] {
        &self.0
    }

    #[inline(always)]
    fn from_words(words: [Word; LIMBS]) -> Self {
        Self(words)
    }
}

impl Zeroize for Monty {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

/// One backend's Montgomery arithmetic over `LIMBS` words of the native width.
///
/// Contract for every implementation: inputs below `n` (and `a < 2^768` for `mul`
/// when `b < n`), `n` odd, `n0 = -n⁻¹ mod 2^w`; output fully reduced below `n`; no
/// branch and no memory address depends on `a` or `b`. An implementation may look at
/// `n` and `n0` (they are public) to pick a specialised path, for the Oakley prime's
/// `n0 = 1` say.
pub(crate) trait MontArith {
    /// `a·b·R⁻¹ mod n`, `R = 2^768`.
    fn mul(a: &[Word; LIMBS], b: &[Word; LIMBS], n: &[Word; LIMBS], n0: Word) -> [Word; LIMBS];
    /// `a²·R⁻¹ mod n`.
    fn sqr(a: &[Word; LIMBS], n: &[Word; LIMBS], n0: Word) -> [Word; LIMBS];
}

/// A secret exponent (a Diffie-Hellman private key). Wiped when dropped; its `Debug`
/// prints nothing of it.
#[derive(Clone)]
pub struct SecretExponent(pub(crate) U768);

impl SecretExponent {
    /// From 96 big-endian bytes.
    pub fn from_be_bytes(bytes: &[u8; BYTES]) -> Self {
        Self(U768::from_be_bytes(bytes))
    }

    /// From at most 96 big-endian bytes, left-padded; `None` if longer.
    pub fn from_be_slice(bytes: &[u8]) -> Option<Self> {
        U768::from_be_slice(bytes).map(Self)
    }
}

impl Drop for SecretExponent {
    fn drop(&mut self) {
        self.0.0.zeroize();
    }
}

impl ZeroizeOnDrop for SecretExponent {}

/// Prints no part of the exponent.
impl fmt::Debug for SecretExponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretExponent { ... }")
    }
}

/// `2x mod n` for `x < n`, in constant time (`const` so that parameters of a fixed
/// modulus can be worked out at compile time).
pub(crate) const fn double_mod(x: &[Word; LIMBS], n: &[Word; LIMBS]) -> [Word; LIMBS] {
    let mut d = [0 as Word; LIMBS];
    let mut carry = 0;
    let mut i = 0;
    while i < LIMBS {
        let (s, c) = adc(x[i], x[i], carry);
        d[i] = s;
        carry = c;
        i += 1;
    }
    let mut r = [0 as Word; LIMBS];
    let mut borrow = 0;
    i = 0;
    while i < LIMBS {
        let (s, b) = sbb(d[i], n[i], borrow);
        r[i] = s;
        borrow = b;
        i += 1;
    }
    // Keep d when 2x < n, that is when the subtraction borrowed past the carry.
    let (_, borrow) = sbb(carry, 0, borrow);
    let keep = borrow.wrapping_neg();
    i = 0;
    while i < LIMBS {
        r[i] ^= keep & (r[i] ^ d[i]);
        i += 1;
    }
    r
}

/// Precomputed values for Montgomery arithmetic modulo an odd 768-bit `n`.
#[derive(Clone, Copy, Debug)]
pub struct MontyParams {
    n: [Word; LIMBS],
    /// `-n⁻¹ mod 2^w`.
    n0: Word,
    /// `R mod n`: one in Montgomery form.
    one: [Word; LIMBS],
    /// `R² mod n`, to convert into Montgomery form.
    r2: [Word; LIMBS],
}

impl MontyParams {
    /// Parameters for the modulus `n`, or `None` unless `n` is odd and above 1.
    ///
    /// NOTE: variable time in `n`, which must be public (a group modulus).
    pub const fn new_vartime(n: &U768) -> Option<Self> {
        let n = n.0;
        if n[0] & 1 == 0 {
            return None;
        }
        let mut above_one = n[0] > 1;
        let mut i = 1;
        while i < LIMBS {
            above_one |= n[i] != 0;
            i += 1;
        }
        if !above_one {
            return None;
        }
        // n⁻¹ mod 2^w by Newton's iteration: each round doubles the correct low bits,
        // starting from 3 (n·n ≡ 1 mod 8 for odd n).
        let mut inv: Word = n[0];
        let mut round = 0;
        while round < 6 {
            inv = inv.wrapping_mul((2 as Word).wrapping_sub(n[0].wrapping_mul(inv)));
            round += 1;
        }
        // R mod n and R² mod n by doubling 1 (n > 1, so 1 < n to start).
        let mut x = [0 as Word; LIMBS];
        x[0] = 1;
        let mut one = [0 as Word; LIMBS];
        let mut k = 0;
        while k < 2 * 768 {
            x = double_mod(&x, &n);
            k += 1;
            if k == 768 {
                one = x;
            }
        }
        Some(Self {
            n,
            n0: inv.wrapping_neg(),
            one,
            r2: x,
        })
    }

    /// The modulus.
    pub const fn modulus(&self) -> U768 {
        U768(self.n)
    }

    /// The modulus's limbs, in place: for a backend whose form holds the parameters by
    /// reference (`x86_64_adx_zen`'s).
    #[cfg(target_arch = "x86_64")]
    pub(crate) const fn modulus_limbs(&self) -> &[Word; LIMBS] {
        &self.n
    }

    /// One in Montgomery form, from which the IFMA code derives its own (and with which
    /// the exponentiations start their tables).
    pub(crate) const fn monty_one(&self) -> Monty {
        Monty(self.one)
    }

    /// `-n⁻¹ mod 2^w`, for the multi-buffer code's own `-n⁻¹ mod 2^52` (and for
    /// `x86_64_adx_zen`'s exponentiation).
    #[cfg(any(ssmail_bigint_ifma, target_arch = "x86_64"))]
    pub(crate) const fn neg_inv(&self) -> Word {
        self.n0
    }

    /// `R² mod n` (as words: it is `R` in Montgomery form, but used only to enter it),
    /// from which the multi-buffer code derives its own `R'² mod n` (and
    /// with which `x86_64_adx_zen`'s exponentiation enters Montgomery form).
    #[cfg(any(ssmail_bigint_ifma, target_arch = "x86_64"))]
    pub(crate) const fn monty_r2(&self) -> [Word; LIMBS] {
        self.r2
    }

    /// `a·b` in Montgomery form, by the arithmetic `A`.
    #[inline(always)]
    pub(crate) fn mul<A: MontArith>(&self, a: &Monty, b: &Monty) -> Monty {
        Monty(A::mul(&a.0, &b.0, &self.n, self.n0))
    }

    /// `a²` in Montgomery form, by the arithmetic `A`.
    #[inline(always)]
    pub(crate) fn sqr<A: MontArith>(&self, a: &Monty) -> Monty {
        Monty(A::sqr(&a.0, &self.n, self.n0))
    }

    /// Into Montgomery form; any 768-bit `x` (also `x >= n`) comes out reduced.
    #[inline(always)]
    pub(crate) fn enter_monty<A: MontArith>(&self, x: &U768) -> Monty {
        Monty(A::mul(&x.0, &self.r2, &self.n, self.n0))
    }

    /// Out of Montgomery form.
    #[inline(always)]
    pub(crate) fn leave_monty<A: MontArith>(&self, x: &Monty) -> U768 {
        U768(A::mul(&x.0, &U768::ONE.0, &self.n, self.n0))
    }
}
