//! `ssmail encrypt` / `decrypt` with the authenticated format, run as a user would:
//! spawned processes, files and pipes, every tampering case, every error's exit code.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/run.rs"]
mod run;

const CHUNK: usize = 1 << 16;
/// Header bytes for a symmetric-key file: magic, 4 codes, nonce, tag.
const HEADER: usize = 8 + 4 + 16 + 32;

fn ssmail(args: &[&str], stdin: &[u8]) -> Output {
    run::piped(env!("CARGO_BIN_EXE_ssmail"), args, stdin)
}

/// A fresh directory for one test.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ssmail-stream-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn symmetric_key(d: &Path) -> PathBuf {
    let k = d.join("key");
    let out = ssmail(&["keygen", "--symmetric", "--out", p(&k)], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    k
}

fn data(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

/// Exit code and the single stderr line.
fn failed(out: &Output) -> (i32, String) {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("ssmail: ") && !err.contains("panicked"),
        "{err}"
    );
    (out.status.code().unwrap(), err)
}

#[test]
fn symmetric_round_trips_through_pipes_for_every_size_and_both_ciphers() {
    let d = dir("sizes");
    let k = symmetric_key(&d);
    let meta = std::fs::metadata(&k).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    for cipher in ["t32", "arrsyfor"] {
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let plain = data(n);
            let enc = ssmail(
                &["encrypt", "--cipher", cipher, "--key-file", p(&k)],
                &plain,
            );
            assert!(
                enc.status.success(),
                "{}",
                String::from_utf8_lossy(&enc.stderr)
            );
            let chunks = n.div_ceil(CHUNK).max(1);
            assert_eq!(enc.stdout.len(), HEADER + n + chunks * 36, "{cipher} {n}");
            assert!(n < 16 || enc.stdout.windows(16).all(|w| w != &plain[..16]));
            let dec = ssmail(&["decrypt", "--key-file", p(&k)], &enc.stdout);
            assert!(
                dec.status.success(),
                "{}",
                String::from_utf8_lossy(&dec.stderr)
            );
            assert!(dec.stdout == plain, "{cipher} {n}");
        }
    }
    // The same input twice: different nonces, different files.
    let a = ssmail(&["encrypt", "--key-file", p(&k)], b"same");
    let b = ssmail(&["encrypt", "--key-file", p(&k)], b"same");
    assert_ne!(a.stdout, b.stdout);
}

#[test]
fn files_in_and_out_and_a_large_file() {
    let d = dir("files");
    let k = symmetric_key(&d);
    let (plain, enc, dec) = (d.join("plain"), d.join("enc"), d.join("dec"));
    let big = data(5 * CHUNK * 16 + 12345);
    std::fs::write(&plain, &big).unwrap();
    let args = [
        "encrypt",
        "--key-file",
        p(&k),
        "--in",
        p(&plain),
        "--out",
        p(&enc),
    ];
    assert!(ssmail(&args, b"").status.success());
    let args = [
        "decrypt",
        "--key-file",
        p(&k),
        "--in",
        p(&enc),
        "--out",
        p(&dec),
    ];
    assert!(ssmail(&args, b"").status.success());
    assert!(std::fs::read(&dec).unwrap() == big);
    // The output exists now: not replaced without --force (exit 9), replaced with it.
    let out = ssmail(&args, b"");
    assert_eq!(failed(&out).0, 9);
    std::fs::write(&dec, b"old").unwrap();
    let mut forced = args.to_vec();
    forced.push("--force");
    assert!(ssmail(&forced, b"").status.success());
    assert!(std::fs::read(&dec).unwrap() == big);
    // No temporary files are left in the directory.
    let names: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".ssmail-")),
        "{names:?}"
    );
}

#[test]
fn to_a_public_key_and_back_with_the_private_key() {
    let d = dir("recipient");
    let (private, other) = (d.join("me.key"), d.join("other.key"));
    let public = ssmail(&["keygen", "--out", p(&private)], b"");
    let public = String::from_utf8(public.stdout).unwrap();
    let public = public.trim();
    assert!(
        ssmail(&["keygen", "--out", p(&other)], b"")
            .status
            .success()
    );
    let pubfile = d.join("me.pub");
    std::fs::write(&pubfile, public).unwrap();
    let plain = data(CHUNK + 3);
    for to in [public.to_owned(), format!("@{}", p(&pubfile))] {
        let enc = ssmail(&["encrypt", "--to", &to, "--cipher", "arrsyfor"], &plain);
        assert!(
            enc.status.success(),
            "{}",
            String::from_utf8_lossy(&enc.stderr)
        );
        let mine = format!("@{}", p(&private));
        let dec = ssmail(&["decrypt", "--private", &mine], &enc.stdout);
        assert!(dec.status.success() && dec.stdout == plain);
        // Someone else's private key is the wrong key.
        let theirs = format!("@{}", p(&other));
        let (code, err) = failed(&ssmail(&["decrypt", "--private", &theirs], &enc.stdout));
        assert_eq!(code, 3, "{err}");
        assert!(err.contains("wrong key"));
    }
}

#[test]
fn every_tampering_is_reported_and_no_plaintext_is_written() {
    let d = dir("tamper");
    let k = symmetric_key(&d);
    let plain = data(3 * CHUNK + 100);
    let enc = ssmail(&["encrypt", "--key-file", p(&k)], &plain).stdout;
    let c0 = HEADER; // first chunk's word
    let c1 = c0 + 4 + CHUNK + 32;
    let c2 = c1 + 4 + CHUNK + 32;
    let flip = |at: usize| {
        let mut b = enc.clone();
        b[at] ^= 0x01;
        b
    };
    let mut swapped = enc[..c0].to_vec();
    swapped.extend_from_slice(&enc[c1..c2]);
    swapped.extend_from_slice(&enc[c0..c1]);
    swapped.extend_from_slice(&enc[c2..]);
    let mut dropped = enc[..c1].to_vec();
    dropped.extend_from_slice(&enc[c2..]);
    let mut appended = enc.clone();
    appended.push(0);
    let cases: Vec<(&str, Vec<u8>, i32, &str)> = vec![
        ("magic", flip(0), 5, "not an ssmail file"),
        ("version", flip(8), 6, "format version"),
        ("cipher code", flip(9), 6, "cipher code"),
        ("nonce", flip(20), 3, "wrong key"),
        ("header tag", flip(HEADER - 1), 3, "wrong key"),
        ("chunk data", flip(c1 + 100), 3, "chunk 1"),
        ("chunk tag", flip(c1 - 1), 3, "chunk 0"),
        ("chunk length", flip(c0 + 3), 3, "corrupted"),
        ("final flag", flip(c0), 3, "corrupted"),
        ("reordered", swapped, 3, "chunk 0"),
        ("dropped", dropped, 3, "chunk 1"),
        ("appended", appended, 3, "after the final chunk"),
        (
            "cut at a chunk boundary",
            enc[..c2].to_vec(),
            4,
            "truncated",
        ),
        ("cut mid-chunk", enc[..c2 + 1000].to_vec(), 4, "truncated"),
        ("cut in the header", enc[..30].to_vec(), 4, "truncated"),
        ("cut in the magic", enc[..5].to_vec(), 4, "truncated"),
        ("empty", Vec::new(), 5, "not an ssmail file"),
        (
            "plain text",
            b"hello, world, this is not encrypted".to_vec(),
            5,
            "not an ssmail",
        ),
    ];
    let out_path = d.join("out");
    for (what, bytes, code, needle) in cases {
        let args = ["decrypt", "--key-file", p(&k), "--out", p(&out_path)];
        let out = ssmail(&args, &bytes);
        let (got, err) = failed(&out);
        assert_eq!(got, code, "{what}: {err}");
        assert!(err.contains(needle), "{what}: {err}");
        assert!(!out_path.exists(), "{what}: output written");
    }
    // To stdout, nothing of a chunk that fails is written: the first chunk's plaintext
    // is all that comes out when the second is changed.
    let out = ssmail(&["decrypt", "--key-file", p(&k)], &flip(c1 + 100));
    assert!(out.stdout == plain[..CHUNK]);
    // A wrong key.
    let k2 = symmetric_key(&dir("tamper2"));
    let (code, err) = failed(&ssmail(&["decrypt", "--key-file", p(&k2)], &enc));
    assert_eq!((code, err.contains("wrong key")), (3, true), "{err}");
}

#[test]
fn key_and_argument_errors_have_their_own_codes() {
    let d = dir("keys");
    let k = symmetric_key(&d);
    // Not overwritten without --force.
    let (code, _) = failed(&ssmail(&["keygen", "--symmetric", "--out", p(&k)], b""));
    assert_eq!(code, 2);
    let missing = d.join("missing");
    let bad = d.join("bad");
    std::fs::write(&bad, "not a key\n").unwrap();
    for key in [&missing, &bad] {
        let (code, err) = failed(&ssmail(&["encrypt", "--key-file", p(key)], b"x"));
        assert_eq!(code, 7, "{err}");
        assert!(err.contains(p(key)), "{err}");
    }
    let (code, _) = failed(&ssmail(
        &["decrypt", "--private", &format!("@{}", p(&missing))],
        b"x",
    ));
    assert_eq!(code, 7);
    for args in [
        &["encrypt"][..],
        &["encrypt", "--key-file", p(&k), "--to", "00"],
        &["encrypt", "--key-file", p(&k), "--cipher", "rc5"],
        &["encrypt", "--to", "1234"],
        &["decrypt", "--key-file", p(&k), "--cipher", "t32"],
    ] {
        let (code, err) = failed(&ssmail(args, b"x"));
        assert_eq!(code, 2, "{args:?}: {err}");
    }
    // A file sealed to a public key, opened with a symmetric key: told what to use.
    let private = d.join("me.key");
    let public = String::from_utf8(ssmail(&["keygen", "--out", p(&private)], b"").stdout).unwrap();
    let enc = ssmail(&["encrypt", "--to", public.trim()], b"hi").stdout;
    let (code, err) = failed(&ssmail(&["decrypt", "--key-file", p(&k)], &enc));
    assert_eq!(code, 2);
    assert!(err.contains("--private"), "{err}");
    // An input we may not read (skipped when running as root, who may read anything).
    let locked = d.join("locked");
    std::fs::write(&locked, b"x").unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    if std::fs::read(&locked).is_err() {
        let (code, _) = failed(&ssmail(
            &["encrypt", "--key-file", p(&k), "--in", p(&locked)],
            b"",
        ));
        assert_eq!(code, 8);
    }
}

#[test]
fn a_progress_bar_on_a_terminal_only() {
    // `script` (util-linux) runs the command on a pseudo-terminal; skip where it is absent.
    if Command::new("script").arg("--version").output().is_err() {
        return;
    }
    let d = dir("progress");
    let k = symmetric_key(&d);
    let input = d.join("in");
    std::fs::write(&input, data(4 * CHUNK)).unwrap();
    let on_tty = |extra: &str| {
        let cmd = format!(
            "{} encrypt --key-file {} --in {} --out {} --force {extra}",
            env!("CARGO_BIN_EXE_ssmail"),
            p(&k),
            p(&input),
            p(&d.join("out"))
        );
        let out = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    };
    // The bar's characters, and then nothing when asked to be quiet.
    assert!(String::from_utf8_lossy(&on_tty("")).contains('░'));
    assert!(on_tty("--quiet").is_empty());
    // Not a terminal: silent.
    let out = ssmail(&["encrypt", "--key-file", p(&k), "--in", p(&input)], b"");
    assert!(out.status.success() && out.stderr.is_empty());
}
