//! What the command-line tests share: running the binary, and hex.

use std::process::{Command, Output};

/// Runs `ssmail` with `args` and waits for it.
pub fn ssmail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ssmail"))
        .args(args)
        .output()
        .expect("run ssmail")
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
