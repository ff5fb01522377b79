//! Decides whether the AVX-512 IFMA multi-buffer kernels are built, as one cfg,
//! `ssmail_bigint_ifma`: on x86_64, when this rustc has the AVX-512 intrinsics (stable
//! since 1.89). Rust 1.85 (the 32-bit and firmware toolchain) never builds them; the
//! multi-buffer API then loops over the single-exponentiation backends.

use std::env;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(ssmail_bigint_ifma)");
    let x86_64 = env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "x86_64");
    let minor = rustc_minor();
    if x86_64 && minor.is_some_and(|m| m >= 89) {
        println!("cargo:rustc-cfg=ssmail_bigint_ifma");
    }
}

include!("../build-support/rustc_minor.rs");
