//! Compiles the C benchmark peer `c/t32_ref.c` at `-O3` and links OpenSSL's libcrypto
//! (for its RC4 assembly, the `openssl-rc4` peer).

fn main() {
    for f in ["c/t32_ref.c", "c/t32_ref.h", "c/t32_sbox.h"] {
        println!("cargo:rerun-if-changed={f}");
    }
    cc::Build::new()
        .file("c/t32_ref.c")
        .include("c")
        .opt_level(3)
        .flag_if_supported("-std=c99")
        .warnings(true)
        .extra_warnings(true)
        .compile("ssmail_t32_ref");
    println!("cargo:rustc-link-lib=crypto");
}
