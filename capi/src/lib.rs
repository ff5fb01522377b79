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
//!
//! Without the default `std` feature the crate is `no_std` and allocation-free (for
//! firmware): the ciphers live in caller memory ([`cipher::ssmail_cipher_init`]), and
//! a panic (a bug: every argument is checked before use) stops in the panic handler
//! below instead of being caught.
// The C names (`ssmail_cipher`, `SSMAIL_OK`) are the Rust names, so that cbindgen
// writes the header without a rename table.
#![allow(non_camel_case_types)]
#![cfg_attr(not(feature = "std"), no_std)]

pub mod cipher;
pub mod dh;
mod guard;
pub mod kdf;
#[cfg(feature = "std")]
pub mod keys;
pub mod result;
#[cfg(feature = "std")]
pub mod xcrypt;

/// Without std nothing can catch a panic, and unwinding into C is undefined: stop here.
/// Every input is checked before use, so reaching this is a bug in libssmail.
#[cfg(all(not(feature = "std"), not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

pub use cipher::ssmail_cipher;
pub use result::ssmail_result;
