//! Compiles the C benchmark peer `c/t32_ref.c` at `-O3` and links OpenSSL's libcrypto
//! (for its RC4 assembly, the `openssl-rc4` peer, and `BN_mod_exp_mont_consttime`) and
//! GMP (`mpz_powm_sec`).
//!
//! For 32-bit x86 the peers are Debian's i386 libcrypto and libgmp, unpacked (not
//! installed) by `scripts/i386-peers.sh`: their directory is `SSMAIL_I386_LIBDIR`, or
//! by default `target/i386-peers/root/usr/lib/i386-linux-gnu` in the workspace. It goes
//! into the link search path and the binaries' run path.

use std::path::PathBuf;

fn main() {
    for f in ["c/t32_ref.c", "c/t32_ref.h", "c/t32_sbox.h"] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=SSMAIL_I386_LIBDIR");
    cc::Build::new()
        .file("c/t32_ref.c")
        .include("c")
        .opt_level(3)
        .flag_if_supported("-std=c99")
        .warnings(true)
        .extra_warnings(true)
        .compile("ssmail_t32_ref");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("x86") {
        let dir = std::env::var_os("SSMAIL_I386_LIBDIR").map_or_else(
            || {
                let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo");
                PathBuf::from(manifest).join("../target/i386-peers/root/usr/lib/i386-linux-gnu")
            },
            PathBuf::from,
        );
        assert!(
            dir.join("libcrypto.so.3").exists() && dir.join("libgmp.so.10").exists(),
            "no i386 libcrypto and libgmp in {}: run scripts/i386-peers.sh (or set SSMAIL_I386_LIBDIR)",
            dir.display()
        );
        let dir = dir.canonicalize().expect("the directory exists");
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    }
    println!("cargo:rustc-link-lib=crypto");
    println!("cargo:rustc-link-lib=gmp");
}
