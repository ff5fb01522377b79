//! Decides which t32 vector paths are built, as cfgs:
//! * `ssmail_t32_avx2` on x86_64 (AVX2 intrinsics are stable in every rustc this
//!   workspace supports, 1.85 included);
//! * `ssmail_t32_avx512` on x86_64 when this rustc has the AVX-512 intrinsics (stable
//!   since 1.89). Rust 1.85 (the 32-bit toolchain) never builds it.
//!
//! `--cfg ssmail_t32_backend="portable"` builds neither (to test or benchmark the
//! portable path on a machine that has the vector units).

use std::env;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(ssmail_t32_avx512)");
    println!("cargo:rustc-check-cfg=cfg(ssmail_t32_avx2)");
    println!("cargo:rustc-check-cfg=cfg(ssmail_t32_backend, values(\"portable\"))");
    let x86_64 = env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "x86_64");
    // Cargo hands the build script every cfg of the build, RUSTFLAGS' `--cfg` included.
    let forced_portable = env::var("CARGO_CFG_SSMAIL_T32_BACKEND").is_ok_and(|b| b == "portable");
    if !x86_64 || forced_portable {
        return;
    }
    println!("cargo:rustc-cfg=ssmail_t32_avx2");
    let minor = rustc_minor();
    if minor.is_some_and(|m| m >= 89) {
        println!("cargo:rustc-cfg=ssmail_t32_avx512");
    }
}

include!("../build-support/rustc_minor.rs");
