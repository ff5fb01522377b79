//! Constant-time 768-bit modular exponentiation for ssmail's Diffie-Hellman step (the
//! RFC 2409 768-bit Oakley group, generator 2).
//!
//! Backends ([`Backend`]), one file each behind one trait, chosen at run time (the
//! fastest this CPU runs) or forced by name: portable Rust over `u64`/`u32` words;
//! x86_64 `mul`/`adc` and `mulx`/`adcx`/`adox` assembly; x86_64 AVX-512 IFMA over
//! 52-bit limbs (built by rustc 1.89 and later); 32-bit x86 assembly for the Pentium
//! (P5 instructions only). [`oakley`] has the XCRYPT exponentiations, with a
//! fixed-base comb for public keys, and a multi-buffer API that runs eight at once
//! ([`MultiBackend`]: AVX-512 IFMA where the CPU has it, else one by one).
//!
//! Checked: every backend against num-bigint and crypto-bigint and the published
//! vectors (`tests/`); constant time under valgrind memcheck with the secrets marked
//! undefined (`examples/ct_valgrind.rs`, every backend valgrind can run; the IFMA
//! backend and kernels by a statistical timing bench instead,
//! `benches/benches/ct_dudect.rs`).
//!
//! # Security
//! 768-bit Diffie-Hellman is within reach of a well-funded attacker. Constant time here
//! means that no branch and no memory address depends on a secret in the source; see
//! [`MontyParams::pow`] and [`oakley`].
#![no_std]
// The assembly backends allow unsafe code in their own modules, each block with a
// `// SAFETY:` line; everything else is safe Rust.
#![deny(unsafe_code)]

// The layers, bottom first; each imports only from the ones above it in this list
// (see README.md).
mod backends;
mod ct;
mod form;
mod monty;
mod multi;
pub mod oakley;
mod oakley_prime;
mod paths;
mod pow;
mod uint;
mod word;

pub use monty::{MontyParams, SecretExponent};
pub use multi::{LANES, MultiBackend};
pub use paths::Backend;
use paths::OnThisCpu;
/// The trait of [`Backend`]: list, check, choose and force a backend.
pub use ssmail_cpu::Paths;
pub use uint::{BYTES, U768};
pub use word::{LIMBS, Word};
