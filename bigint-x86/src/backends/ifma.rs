//! All the AVX-512 IFMA code, over 52-bit limbs (`R' = 2^780`): the shared base
//! ([`limbs52`]: conversions, a modulus's constants, the multiply-add helpers and
//! unrolling macros), the single-exponentiation backend ([`single`], one number across
//! the lanes of two zmm registers, `Backend::X86_64Ifma`), and the eight-lane kernels of
//! the batches ([`lanes`], one number per lane, `MultiBackend::Ifma`).
//!
//! Compiled only where rustc has the AVX-512 intrinsics (1.89 and later, `build.rs`);
//! run only where the CPU has them (each file's `is_runnable`/`runnable`).
//!
//! Layer: the backends' (see `backends`): imports `word`, `ct`, `uint`, `monty`, `form`,
//! `oakley_prime` and the portable backend's final subtraction; nothing above.

pub(crate) mod lanes;
pub(crate) mod limbs52;
pub(crate) mod single;
