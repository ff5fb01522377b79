//! The Montgomery multiplication backends, one file each, each a type implementing
//! `monty::MontArith` (a multiplication and a squaring) and `form::HasForm` (the number
//! form it exponentiates in). Two backends keep a form of their own through a whole
//! exponentiation (`x86_64_adx_zen`'s almost-Montgomery values, `ifma::single`'s 52-bit
//! limbs): they implement `form::Form` for it (into and out of it, mul, sqr, lookup),
//! never a loop; the loops are the `pow` layer's. All the AVX-512 IFMA code, including
//! the batches' eight-lane kernels, is in `ifma/`.
//!
//! Layer: above `monty`, `oakley_prime` (the Oakley prime's constants, on which some
//! backends specialise) and `form`; imports nothing above them. The enum
//! that names the backends is `paths`, one layer up.

/// The [`MontArith`](crate::monty::MontArith) of an x86_64 backend whose product and
/// reduction are separate steps over a scratch buffer (`Scratch::uninit`, `mul_product`
/// or `sqr_product`, then `$reduce`): `x86_64-adc`, `x86_64-adx`, `x86_64-adx-zen`
/// (whose single multiplications are `x86_64-adx`'s) and adx-zen's lazy arithmetic
/// differ only in the functions named. Defined before the modules so that they can use it.
#[cfg(target_arch = "x86_64")]
macro_rules! product_then_reduce {
    ($backend:ty, $reduce:path) => {
        impl $crate::monty::MontArith for $backend {
            #[inline]
            fn mul(
                a: &[Word; LIMBS],
                b: &[Word; LIMBS],
                n: &[Word; LIMBS],
                n0: Word,
            ) -> [Word; LIMBS] {
                let mut t = Scratch::uninit();
                mul_product(a, b, &mut t);
                $reduce(&mut t, n, n0)
            }

            #[inline]
            fn sqr(a: &[Word; LIMBS], n: &[Word; LIMBS], n0: Word) -> [Word; LIMBS] {
                let mut t = Scratch::uninit();
                sqr_product(a, &mut t);
                $reduce(&mut t, n, n0)
            }
        }
    };
}

#[cfg(ssmail_bigint_ifma)]
#[allow(
    clippy::incompatible_msrv,
    reason = "compiled only when rustc has the AVX-512 intrinsics (1.89 and later), see build.rs"
)]
pub(crate) mod ifma;
pub(crate) mod portable;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64_adc;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64_adx;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64_adx_zen;
#[cfg(all(test, target_arch = "x86_64"))]
mod x86_64_tests;
#[cfg(target_arch = "x86")]
#[allow(
    unsafe_code,
    reason = "the Pentium assembly and its FFI; every block says why"
)]
pub(crate) mod x86_p5;
