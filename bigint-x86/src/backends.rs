//! The Montgomery multiplication backends, one file each behind one trait,
//! [`MontArith`]. The exponentiations in `monty` and `oakley` are generic over it, and
//! [`with_arith!`] turns a runtime [`Backend`](crate::Backend) into the type.

use crate::monty::{MontyParams, SecretExponent};
use crate::uint::U768;
use crate::word::{LIMBS, Word};

pub(crate) mod portable;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64_adc;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64_adx;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64_adx_zen;
#[cfg(ssmail_bigint_ifma)]
#[allow(
    clippy::incompatible_msrv,
    reason = "compiled only when rustc has the AVX-512 intrinsics (1.89 and later), see build.rs"
)]
pub(crate) mod x86_64_ifma;
#[cfg(all(test, target_arch = "x86_64"))]
mod x86_64_tests;
#[cfg(target_arch = "x86")]
#[allow(
    unsafe_code,
    reason = "the Pentium assembly and its FFI; every block says why"
)]
pub(crate) mod x86_p5;

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

    /// `base^exp mod n` for the modulus of `params`, in constant time: the fixed-window
    /// exponentiation over [`mul`](Self::mul) and [`sqr`](Self::sqr), unless the
    /// backend has one of its own (one that keeps its own number form throughout).
    fn pow(params: &MontyParams, base: &U768, exp: &SecretExponent) -> U768
    where
        Self: Sized,
    {
        params.pow_in::<Self>(base, exp)
    }

    /// `2^r mod p` for the Oakley prime: the fixed-base comb over [`mul`](Self::mul)
    /// and [`sqr`](Self::sqr), unless the backend has one of its own.
    fn oakley_public_key(r: &SecretExponent) -> U768
    where
        Self: Sized,
    {
        crate::oakley::public_key_in::<Self>(r)
    }
}

/// `with_arith!(backend, A => expr)`: evaluates `expr` with the type alias `A` naming
/// the [`MontArith`] of `backend`.
///
/// # Panics
/// If `backend` cannot run on this CPU: running it would execute instructions the CPU
/// does not have. Callers that take a backend from a user check
/// [`Backend::is_runnable`](crate::Backend::is_runnable) first.
macro_rules! with_arith {
    ($backend:expr, $A:ident => $body:expr) => {{
        let backend: $crate::Backend = $backend;
        assert!(
            backend.is_runnable(),
            "the {} backend cannot run on this CPU",
            backend.name()
        );
        match backend {
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
                type $A = $crate::backends::x86_64_ifma::X86_64Ifma;
                $body
            }
        }
    }};
}
pub(crate) use with_arith;
