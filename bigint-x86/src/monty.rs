//! Montgomery arithmetic modulo an odd 768-bit modulus, and exponentiation.

use crate::Paths as _;
use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Backend;
use crate::backends::portable::Portable;
use crate::backends::{MontArith, with_arith};
use crate::ct;
use crate::uint::{BYTES, U768};
use crate::word::{LIMBS, Word, adc, sbb};

/// Windows in a 768-bit exponent cut into 4-bit nibbles (the IFMA exponentiations'
/// window).
#[cfg(ssmail_bigint_ifma)]
pub(crate) const WINDOWS: usize = 768 >> 2;

/// Bits per exponent window in [`MontyParams::pow_in`]. Five rather than four: 153
/// multiplications by table entries (and 30 to build the table, half of them
/// squarings) instead of 192 (and 15), for 32-entry lookups instead of 16-entry ones,
/// which cost little beside a multiplication. Measured with `modexp_min` on AMD Zen 3
/// (EPYC, family 25 model 1), fastest of 400 calls: portable 196 → 190 µs, x86_64-adc
/// 188 → 183, x86_64-adx 137.0 → 136.5 (the lookups overlap the products there; an
/// SSE2 lookup measured no faster). Six bits would take 127 multiplications but 62 to
/// build the table, more than it saves.
const WINDOW: usize = 5;
/// Entries in the window table.
const TABLE: usize = 1 << WINDOW;
/// Full windows below the top one: 768 = 5·153 + 3.
const FULL_WINDOWS: usize = 153;
/// Bits in the top window (the ones above the full windows).
const TOP_BITS: usize = 3;
const _: () = assert!(FULL_WINDOWS * WINDOW + TOP_BITS == 768 && TOP_BITS < WINDOW);

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

    /// One in Montgomery form, from which the IFMA code derives its own (and which
    /// `x86_64_adx_zen`'s exponentiation puts in its table).
    #[cfg(any(ssmail_bigint_ifma, target_arch = "x86_64"))]
    pub(crate) const fn monty_one(&self) -> [Word; LIMBS] {
        self.one
    }

    /// `-n⁻¹ mod 2^w`, for the multi-buffer code's own `-n⁻¹ mod 2^52` (and for
    /// `x86_64_adx_zen`'s exponentiation).
    #[cfg(any(ssmail_bigint_ifma, target_arch = "x86_64"))]
    pub(crate) const fn neg_inv(&self) -> Word {
        self.n0
    }

    /// `R² mod n`, from which the multi-buffer code derives its own `R'² mod n` (and
    /// with which `x86_64_adx_zen`'s exponentiation enters Montgomery form).
    #[cfg(any(ssmail_bigint_ifma, target_arch = "x86_64"))]
    pub(crate) const fn monty_r2(&self) -> [Word; LIMBS] {
        self.r2
    }

    #[inline(always)]
    pub(crate) fn mul<A: MontArith>(&self, a: &[Word; LIMBS], b: &[Word; LIMBS]) -> [Word; LIMBS] {
        A::mul(a, b, &self.n, self.n0)
    }

    #[inline(always)]
    pub(crate) fn sqr<A: MontArith>(&self, a: &[Word; LIMBS]) -> [Word; LIMBS] {
        A::sqr(a, &self.n, self.n0)
    }

    /// Into Montgomery form; any 768-bit `x` (also `x >= n`) comes out reduced.
    #[inline(always)]
    fn enter_monty<A: MontArith>(&self, x: &U768) -> [Word; LIMBS] {
        self.mul::<A>(&x.0, &self.r2)
    }

    /// Out of Montgomery form.
    #[inline(always)]
    pub(crate) fn leave_monty<A: MontArith>(&self, x: &[Word; LIMBS]) -> U768 {
        U768(self.mul::<A>(x, &U768::ONE.0))
    }

    /// `base^exp mod n`, in constant time: a fixed 5-bit window over all 768 exponent
    /// bits, every table entry read at every window, the final subtraction masked. No
    /// branch or memory address depends on `base`, `exp` or any intermediate value.
    /// A `base >= n` is reduced first. Runs on [`Backend::default_path`](crate::Paths::default_path).
    pub fn pow(&self, base: &U768, exp: &SecretExponent) -> U768 {
        self.pow_with(Backend::default_path(), base, exp)
    }

    /// [`pow`](Self::pow) on the given backend.
    ///
    /// # Panics
    /// If `backend` cannot run on this CPU ([`Backend::is_runnable`]).
    pub fn pow_with(&self, backend: Backend, base: &U768, exp: &SecretExponent) -> U768 {
        with_arith!(backend, A => A::pow(self, base, exp))
    }

    /// [`pow`](Self::pow) with the arithmetic `A`.
    pub(crate) fn pow_in<A: MontArith>(&self, base: &U768, exp: &SecretExponent) -> U768 {
        let b = self.enter_monty::<A>(base);
        // table[i] = b^i; the even entries by squaring, which is cheaper than a product.
        let mut table = [[0 as Word; LIMBS]; TABLE];
        table[0] = self.one;
        table[1] = b;
        for i in 2..TABLE {
            table[i] = if i & 1 == 0 {
                self.sqr::<A>(&table[i >> 1])
            } else {
                self.mul::<A>(&table[i - 1], &b)
            };
        }
        // The top window (TOP_BITS bits, so its index is below 2^TOP_BITS, but the
        // lookup still reads all the entries) starts the product: one times it would
        // be it.
        let mut acc = ct::lookup(&table, exp.0.bits(FULL_WINDOWS * WINDOW, TOP_BITS));
        for w in (0..FULL_WINDOWS).rev() {
            for _ in 0..WINDOW {
                acc = self.sqr::<A>(&acc);
            }
            let e = ct::lookup(&table, exp.0.bits(w * WINDOW, WINDOW));
            acc = self.mul::<A>(&acc, &e);
        }
        table.zeroize();
        self.leave_monty::<A>(&acc)
    }

    /// `base^exp mod n`, square and multiply.
    ///
    /// NOTE: variable time: branches on the bits of `exp`, which must be public.
    pub fn pow_vartime(&self, base: &U768, exp: &U768) -> U768 {
        let b = self.enter_monty::<Portable>(base);
        let mut acc = self.one;
        for i in (0..768).rev() {
            acc = self.sqr::<Portable>(&acc);
            if exp.bit(i) == 1 {
                acc = self.mul::<Portable>(&acc, &b);
            }
        }
        self.leave_monty::<Portable>(&acc)
    }
}
