//! What the command-line tests share: running the binary, and hex.
#![allow(dead_code, reason = "each test file uses some of these")]

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

/// Runs `program` with `args`, feeding `input` on stdin from another thread (the program
/// may stop reading early, on an error), and waits for it.
pub fn piped(program: &str, args: &[&str], input: &[u8]) -> Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("stdin writer");
    out
}
