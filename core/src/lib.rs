//! XCRYPT key agreement for ssmail (`docs/xcrypt.md`): the Oakley group, keys,
//! the shared secret and the SHA-1 derivation of the two direction keys, the key cache
//! (in memory, and with the `std` feature in a file that several processes share), and
//! the dialogue as client and server state machines without I/O ([`xcrypt`]).
//!
//! It may import `ssmail-bigint-x86` (the exponentiation) and `ssmail-ciphers` (the
//! direction ciphers), and with `std` the operating system (file locks); never the
//! gateway, libssmail or the CLI, which import it. Inside, [`xcrypt`]'s state machines
//! sit on its line and framing modules, which sit on the keys, agreement and derivation
//! modules.
//!
//! # Security
//! 768-bit Diffie-Hellman is within reach of a well-funded attacker, and XCRYPT defends
//! against passive listeners only (docs/xcrypt.md §4.8).
#![no_std]
#![forbid(unsafe_code)]

// (Tests use std too: proptest, and `Vec` for what they collect.)
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod agreement;
pub mod cache;
pub mod error;
pub mod group;
pub mod hex;
pub mod kdf;
pub mod keys;
pub mod xcrypt;

pub use agreement::{SharedSecret, shared_secret};
pub use cache::{DEFAULT_LIFETIME_SECS, KeyCache, Lookup};
pub use error::PublicKeyError;
pub use kdf::{DirectionKeys, derive};
pub use keys::{KeyPair, PrivateKey, PublicKey};
