//! Constant-time 768-bit modular exponentiation for ssmail's Diffie-Hellman step (the
//! RFC 2409 768-bit Oakley group, generator 2).
//!
//! Work in progress: this is the portable backend and the API around it. The x86
//! assembly backends, the multi-buffer API and the constant-time checks under valgrind
//! that this crate's issue asks for are still to come.
//!
//! # Security
//! 768-bit Diffie-Hellman is within reach of a well-funded attacker. Constant time here
//! means that no branch and no memory address depends on a secret in the source; see
//! [`MontyParams::pow`] and [`oakley`].
#![no_std]
// The assembly backends allow unsafe code in their own modules, each block with a
// `// SAFETY:` line; everything else is safe Rust.
#![deny(unsafe_code)]

mod backend;
mod backends;
mod ct;
mod monty;
mod multi;
pub mod oakley;
mod uint;
mod word;

pub use backend::Backend;
pub use monty::{MontyParams, SecretExponent};
pub use multi::{LANES, MultiBackend};
pub use uint::{BYTES, U768};
pub use word::{LIMBS, Word};
