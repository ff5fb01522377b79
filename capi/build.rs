//! Gives the shared library its soname, so that programs linked against it record
//! `libssmail.so.0` and keep working across compatible releases.

fn main() {
    // Only ELF linkers know -soname; macOS and Windows name their libraries otherwise.
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os.ends_with("bsd") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libssmail.so.0");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
