//! Tells the compiler whether this rustc has the AVX-512 intrinsics (stable since 1.89);
//! the t32 AVX-512 path is built only then. Rust 1.85 (the 32-bit toolchain) skips it.

use std::process::Command;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(ssmail_avx512)");
    // `--cfg ssmail_t32_backend="portable"` forces the portable t32 path (for benchmarks
    // and tests of the fallback on machines that have AVX-512).
    println!("cargo:rustc-check-cfg=cfg(ssmail_t32_backend, values(\"portable\"))");
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()));
    if minor.is_some_and(|m| m >= 89) {
        println!("cargo:rustc-cfg=ssmail_avx512");
    }
}
