//! Runs `scripts/interop_arc4.py`, which checks arrsyfor against the RC4 of Python's
//! `cryptography` package. Skipped, with a note, where that package is not installed.

use std::path::Path;
use std::process::Command;

#[test]
fn arrsyfor_matches_python_cryptography_arc4() {
    let has_cryptography = Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_cryptography {
        eprintln!("skipped: python3 with the `cryptography` package is not available");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/interop_arc4.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_ssmail"))
        .output()
        .expect("run interop_arc4.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{}", stdout.trim_end());
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("arc4 interop: ") && stdout.contains(" 0 failed"),
        "{stdout}"
    );
}
