// The minor version of the rustc that builds this crate, for build scripts that turn on
// code needing newer intrinsics (`include!`d by `ciphers/build.rs` and
// `bigint-x86/build.rs`, so that the probe is written once). `None` when it cannot be
// read: the caller then builds only what every supported rustc has.

/// `89` for rustc 1.89.0: the second field of `$RUSTC --version`.
fn rustc_minor() -> Option<u32> {
    use std::env::var_os;
    use std::process::Command;
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()))
}
