//! Exponentiation: the fixed-window `base^exp mod n` and the fixed-base comb for the
//! Oakley generator, generic over a backend's [`MontArith`], and the choice, per
//! backend, of which loop runs ([`Exponentiator`]: the generic ones, or a backend's own
//! where it keeps its own number form throughout).
//!
//! Layer: above `monty`, `oakley_prime`, `backends` and `paths` (the enum of backends,
//! turned into a type by [`with_arith!`]); imports nothing above them. The group API
//! (`oakley`) and the batches (`multi`) call down into it.

use zeroize::Zeroize;

use crate::Paths as _;
use crate::backends::portable::Portable;
use crate::ct;
use crate::monty::{MontArith, Monty, MontyParams, SecretExponent};
use crate::oakley_prime::{COMB, COMB_COLS, PARAMS, comb_index};
use crate::uint::U768;
use crate::{Backend, OnThisCpu};

/// Bits per exponent window in [`window`], on x86. Five rather than four: 153
/// multiplications by table entries (and 30 to build the table, half of them
/// squarings) instead of 192 (and 15), for 32-entry lookups instead of 16-entry ones,
/// which cost little beside a multiplication. Measured with `modexp_min` on AMD Zen 3
/// (EPYC, family 25 model 1), fastest of 400 calls: portable 196 → 190 µs, x86_64-adc
/// 188 → 183, x86_64-adx 137.0 → 136.5 (the lookups overlap the products there; an
/// SSE2 lookup measured no faster). Six bits would take 127 multiplications but 62 to
/// build the table, more than it saves.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
const WINDOW: usize = 5;
/// Elsewhere (microcontrollers) four: the table, on the stack, is 16 entries (1.5 KiB)
/// instead of 32 (3 KiB). It takes about 3 % more products and yet fewer instructions on
/// a Cortex-M4F (QEMU mps2-an386, `firmware/README.md`: shared secret 4,036 → 2,500
/// bytes of stack, 9.69 → 9.53 million instructions), where every lookup, which reads
/// all the entries, costs more beside a product than on x86.
#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
const WINDOW: usize = 4;
/// Entries in the window table.
const TABLE: usize = 1 << WINDOW;
/// Full windows below the top one: 768 = 5·153 + 3 (x86), or 4·191 + 4.
const FULL_WINDOWS: usize = if WINDOW == 5 { 153 } else { 191 };
/// Bits in the top window (the ones above the full windows): 1 to `WINDOW`.
const TOP_BITS: usize = 768 - FULL_WINDOWS * WINDOW;
const _: () = assert!(TOP_BITS >= 1 && TOP_BITS <= WINDOW);

/// How a backend exponentiates: by default the generic loops of this module over its
/// [`MontArith`]; a backend with a number form of its own overrides them with its own
/// loops (which the backend module exports).
pub(crate) trait Exponentiator: MontArith + Sized {
    /// `base^exp mod n` for the modulus of `params`, in constant time.
    fn pow(params: &MontyParams, base: &U768, exp: &SecretExponent) -> U768 {
        window::<Self>(params, base, exp)
    }

    /// `2^r mod p` for the Oakley prime, in constant time.
    fn oakley_public_key(r: &SecretExponent) -> U768 {
        comb::<Self>(r)
    }
}

impl Exponentiator for Portable {}
#[cfg(target_arch = "x86")]
impl Exponentiator for crate::backends::x86_p5::X86P5 {}
#[cfg(target_arch = "x86_64")]
impl Exponentiator for crate::backends::x86_64_adc::X86_64Adc {}
#[cfg(target_arch = "x86_64")]
impl Exponentiator for crate::backends::x86_64_adx::X86_64Adx {}

/// Its own almost-Montgomery loops (see the backend's module doc).
#[cfg(target_arch = "x86_64")]
impl Exponentiator for crate::backends::x86_64_adx_zen::X86_64AdxZen {
    fn pow(params: &MontyParams, base: &U768, exp: &SecretExponent) -> U768 {
        crate::backends::x86_64_adx_zen::pow(params, base, exp)
    }

    fn oakley_public_key(r: &SecretExponent) -> U768 {
        crate::backends::x86_64_adx_zen::oakley_public_key(r)
    }
}

/// Its own loops over 52-bit limbs (see the backend's module doc).
#[cfg(ssmail_bigint_ifma)]
impl Exponentiator for crate::backends::ifma::single::X86_64Ifma {
    fn pow(params: &MontyParams, base: &U768, exp: &SecretExponent) -> U768 {
        crate::backends::ifma::single::pow(params, base, exp)
    }

    fn oakley_public_key(r: &SecretExponent) -> U768 {
        crate::backends::ifma::single::oakley_public_key(r)
    }
}

/// `with_arith!(on_this_cpu, A => expr)`: evaluates `expr` with the type alias `A`
/// naming the backend type (a [`MontArith`] and an [`Exponentiator`]) of the backend
/// that `on_this_cpu`, an [`OnThisCpu`], proves this CPU runs.
macro_rules! with_arith {
    ($on_this_cpu:expr, $A:ident => $body:expr) => {{
        let proof: $crate::OnThisCpu = $on_this_cpu;
        match proof.backend() {
            $crate::Backend::Portable => {
                type $A = $crate::backends::portable::Portable;
                $body
            }
            #[cfg(target_arch = "x86")]
            $crate::Backend::X86P5 => {
                type $A = $crate::backends::x86_p5::X86P5;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            $crate::Backend::X86_64Adc => {
                type $A = $crate::backends::x86_64_adc::X86_64Adc;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            $crate::Backend::X86_64Adx => {
                type $A = $crate::backends::x86_64_adx::X86_64Adx;
                $body
            }
            #[cfg(target_arch = "x86_64")]
            $crate::Backend::X86_64AdxZen => {
                type $A = $crate::backends::x86_64_adx_zen::X86_64AdxZen;
                $body
            }
            #[cfg(ssmail_bigint_ifma)]
            $crate::Backend::X86_64Ifma => {
                type $A = $crate::backends::ifma::single::X86_64Ifma;
                $body
            }
        }
    }};
}

/// `base^exp mod n` on `backend` (see [`MontyParams::pow`]).
pub(crate) fn pow_on(
    backend: OnThisCpu,
    params: &MontyParams,
    base: &U768,
    exp: &SecretExponent,
) -> U768 {
    with_arith!(backend, A => A::pow(params, base, exp))
}

/// `2^r mod p` for the Oakley prime on `backend`.
pub(crate) fn oakley_public_key_on(backend: OnThisCpu, r: &SecretExponent) -> U768 {
    with_arith!(backend, A => A::oakley_public_key(r))
}

/// `base^exp mod n` with the arithmetic `A`, in constant time: a fixed `WINDOW`-bit window
/// over all 768 exponent bits, every table entry read at every window. A `base >= n`
/// is reduced on entry.
pub(crate) fn window<A: MontArith>(
    params: &MontyParams,
    base: &U768,
    exp: &SecretExponent,
) -> U768 {
    let b = params.enter_monty::<A>(base);
    // table[i] = b^i; the even entries by squaring, which is cheaper than a product.
    let mut table = [params.monty_one(); TABLE];
    table[1] = b;
    for i in 2..TABLE {
        table[i] = if i & 1 == 0 {
            params.sqr::<A>(&table[i >> 1])
        } else {
            params.mul::<A>(&table[i - 1], &b)
        };
    }
    // The top window (TOP_BITS bits, so its index is below 2^TOP_BITS, but the lookup
    // still reads all the entries) starts the product: one times it would be it.
    let mut acc = ct::lookup(&table, exp.0.bits(FULL_WINDOWS * WINDOW, TOP_BITS));
    for w in (0..FULL_WINDOWS).rev() {
        for _ in 0..WINDOW {
            acc = params.sqr::<A>(&acc);
        }
        let e = ct::lookup(&table, exp.0.bits(w * WINDOW, WINDOW));
        acc = params.mul::<A>(&acc, &e);
    }
    table.zeroize();
    params.leave_monty::<A>(&acc)
}

/// `2^r mod p` by a fixed-base comb (Lim and Lee, 1994): with `r = Σ r_j·2^(128 j)`,
/// `2^r = Π g_j^(r_j)` for the public `g_j = 2^(2^(128 j))`, and one pass over the 128
/// bit positions squares once and multiplies by the table entry that the six bits at
/// that position of the six rows pick. 127 squarings and 127 multiplications instead of
/// 768 squarings. Constant time: every position is visited, the entry is read with
/// [`ct::lookup`] (all 64 entries), and the arithmetic is the backend's.
pub(crate) fn comb<A: MontArith>(r: &SecretExponent) -> U768 {
    // The top position's entry starts the product (one times it would be it).
    // The table's words are in Montgomery form (see `oakley_prime`).
    let mut acc = Monty(ct::lookup(&COMB.0, comb_index(r, COMB_COLS - 1)));
    for i in (0..COMB_COLS - 1).rev() {
        acc = PARAMS.sqr::<A>(&acc);
        acc = PARAMS.mul::<A>(&acc, &Monty(ct::lookup(&COMB.0, comb_index(r, i))));
    }
    PARAMS.leave_monty::<A>(&acc)
}

// The exponentiations of `MontyParams` live here, above the backends they run on.
impl MontyParams {
    /// `base^exp mod n`, in constant time: a fixed window (5 bits on x86, 4 elsewhere)
    /// over all 768 exponent bits, every table entry read at every window, the final
    /// subtraction masked. No
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
        pow_on(backend.checked(), self, base, exp)
    }

    /// `base^exp mod n`, square and multiply.
    ///
    /// NOTE: variable time: branches on the bits of `exp`, which must be public.
    pub fn pow_vartime(&self, base: &U768, exp: &U768) -> U768 {
        let b = self.enter_monty::<Portable>(base);
        let mut acc = self.monty_one();
        for i in (0..768).rev() {
            acc = self.sqr::<Portable>(&acc);
            if exp.bit(i) == 1 {
                acc = self.mul::<Portable>(&acc, &b);
            }
        }
        self.leave_monty::<Portable>(&acc)
    }
}
