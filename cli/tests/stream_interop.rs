//! `ssmail encrypt --cipher arrsyfor` files opened by an outside reader written from
//! `cli/STREAM-FORMAT.md` (`scripts/stream_open.py`: Python's HMAC and HKDF steps, and
//! OpenSSL's RC4 through the `cryptography` package), and tampered files refused by it.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

#[path = "support/run.rs"]
mod run;
use run::piped as run;

#[test]
fn an_outside_reader_opens_what_we_write() {
    let dir = std::env::temp_dir().join(format!("ssmail-stream-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("key");
    let ssmail = env!("CARGO_BIN_EXE_ssmail");
    let k = key.to_str().unwrap();
    assert!(
        run(
            ssmail,
            &["keygen", "--symmetric", "--out", k, "--force"],
            b""
        )
        .status
        .success()
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/stream_open.py");
    for n in [0usize, 1, 65_535, 65_536, 65_537, 200_000] {
        let plain: Vec<u8> = (0..n).map(|i| (i * 31 + 7) as u8).collect();
        let enc = run(
            ssmail,
            &["encrypt", "--cipher", "arrsyfor", "--key-file", k],
            &plain,
        );
        assert!(enc.status.success());
        let out = run("python3", &[script, k], &enc.stdout);
        assert!(
            out.status.success(),
            "{n}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout == plain,
            "{n}: the outside reader got other bytes"
        );
        // And it refuses what we refuse.
        if n > 100 {
            let mut bad = enc.stdout.clone();
            bad[100] ^= 1;
            assert_eq!(run("python3", &[script, k], &bad).status.code(), Some(3));
            let cut = &enc.stdout[..enc.stdout.len() - 1];
            assert_eq!(run("python3", &[script, k], cut).status.code(), Some(4));
        }
    }
}
