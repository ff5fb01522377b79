//! Decides whether the AVX-512 IFMA multi-buffer kernels are built, as one cfg,
//! `ssmail_bigint_ifma`: on x86_64, when this rustc has the AVX-512 intrinsics (stable
//! since 1.89). Rust 1.85 (the 32-bit and firmware toolchain) never builds them; the
//! multi-buffer API then loops over the single-exponentiation backends.

use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(ssmail_bigint_ifma)");
    println!("cargo:rerun-if-env-changed=RUSTC");
    let x86_64 = env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "x86_64");
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()));
    if x86_64 && minor.is_some_and(|m| m >= 89) {
        println!("cargo:rustc-cfg=ssmail_bigint_ifma");
    }
}
