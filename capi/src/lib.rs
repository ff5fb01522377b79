//! libssmail: ssmail's XCRYPT primitives behind a C ABI (`include/ssmail.h`).
//!
//! The conventions are rustls-ffi's: opaque handles made by `_new` and released by
//! `_free` (which accepts NULL), one result code ([`ssmail_result`]) from every call
//! that can fail, pointer and length for every buffer, an error code (never a crash)
//! for a NULL or short buffer, and no panic across the boundary: each entry point runs
//! its body under [`std::panic::catch_unwind`]. Secrets held by a handle are wiped when
//! it is freed, and stack copies of secrets are wiped before a call returns.
//!
//! All the cryptography is `ssmail-core` and `ssmail-ciphers`; this crate only checks
//! what C hands it and translates.
//!
//! # Security
//! RC4, SOBER-t32 and 768-bit Diffie-Hellman are broken or within reach today, and
//! XCRYPT defends against passive listeners only (docs/xcrypt.md §4.8).
// The C names (`ssmail_cipher`, `SSMAIL_OK`) are the Rust names, so that cbindgen
// writes the header without a rename table.
#![allow(non_camel_case_types)]

pub mod cipher;
pub mod dh;
mod guard;
pub mod kdf;
pub mod keys;
pub mod result;
pub mod xcrypt;

pub use cipher::ssmail_cipher;
pub use result::ssmail_result;
