//! `ssmail encrypt --raw` / `decrypt --raw` run as a user would: a separate process with
//! pipes on stdin, stdout and stderr.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::thread;
use std::time::Duration;

use ssmail_ciphers::{Arrsyfor, KeyInit, StreamCipher, T32};

const BIN: &str = env!("CARGO_BIN_EXE_ssmail");
const KEY_HEX: &str = "0102030405060708090a";
const KEY: [u8; 10] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const CIPHERS: [&str; 2] = ["arrsyfor", "t32"];

fn spawn(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ssmail")
}

/// Runs ssmail on `input`, which a thread writes by calling `feed`, so that a full stdout
/// pipe cannot deadlock against a full stdin pipe.
fn run_fed(args: &[&str], feed: impl FnOnce(ChildStdin) + Send + 'static) -> Output {
    let mut child = spawn(args);
    let stdin = child.stdin.take().expect("stdin is piped");
    let writer = thread::spawn(move || feed(stdin));
    let output = child.wait_with_output().expect("wait for ssmail");
    writer.join().expect("stdin writer thread");
    output
}

fn run(args: &[&str], input: &[u8]) -> Output {
    let input = input.to_vec();
    run_fed(args, move |mut stdin| {
        // The child may legitimately exit without reading (bad arguments); a broken pipe
        // here is then expected, and the exit status tells the story.
        let _ = stdin.write_all(&input);
    })
}

fn crypt_args<'a>(direction: &'a str, cipher: &'a str, key_hex: &'a str) -> [&'a str; 6] {
    [direction, "--raw", "--cipher", cipher, "--key-hex", key_hex]
}

/// Runs a command that must succeed quietly and returns its stdout.
fn crypt(direction: &str, cipher: &str, key_hex: &str, input: &[u8]) -> Vec<u8> {
    let out = run(&crypt_args(direction, cipher, key_hex), input);
    assert!(
        out.status.success(),
        "{direction} {cipher}: {:?}, stderr {:?}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The library's answer for the same key and data.
fn library(cipher: &str, key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut buf = data.to_vec();
    match cipher {
        "arrsyfor" => Arrsyfor::new_from_slice(key)
            .expect("valid key")
            .apply_keystream(&mut buf),
        "t32" => T32::new_from_slice(key)
            .expect("valid key")
            .apply_keystream(&mut buf),
        _ => panic!("no cipher {cipher}"),
    }
    buf
}

/// Data that is neither constant nor periodic at any small period.
fn pattern(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_u32;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn known_answers() {
    // RFC 6229, 40-bit key, keystream offsets 0 and 16.
    let rc4 = "ede3b04643e586cc907dc21851709902\
               03516ba78f413beb223aa5d4d2df6711";
    let t32 = "870b6926801a4810263d650b4ad85c9a733f33555c656483e9c0246dd26d1703";
    for (cipher, expected) in [("arrsyfor", rc4), ("t32", t32)] {
        for direction in ["encrypt", "decrypt"] {
            let out = crypt(direction, cipher, KEY_HEX, &[0; 32]);
            assert_eq!(hex(&out), expected, "{direction} {cipher}");
        }
        // Upper-case hex is the same key.
        let upper = crypt("encrypt", cipher, &KEY_HEX.to_uppercase(), &[0; 32]);
        assert_eq!(hex(&upper), expected, "{cipher} with upper-case key");
    }
}

#[test]
fn round_trips_and_matches_the_library() {
    for len in [0, 1, 65535, 65536, 65537, (1 << 20) + 3] {
        let plain = pattern(len);
        for cipher in CIPHERS {
            let sealed = crypt("encrypt", cipher, KEY_HEX, &plain);
            assert_eq!(sealed.len(), len, "{cipher} {len}");
            assert!(
                sealed == library(cipher, &KEY, &plain),
                "{cipher}, {len} bytes: differs from the library"
            );
            if len >= 16 {
                assert_ne!(
                    sealed[..16],
                    plain[..16],
                    "{cipher}: no encryption happened"
                );
            }
            let opened = crypt("decrypt", cipher, KEY_HEX, &sealed);
            assert!(opened == plain, "{cipher}, {len} bytes: round trip failed");
        }
    }
}

#[test]
fn extreme_key_lengths_work() {
    let data = pattern(1000);
    for (cipher, len) in [("arrsyfor", 1), ("arrsyfor", 256), ("t32", 1), ("t32", 32)] {
        let key = pattern(len);
        let out = crypt("encrypt", cipher, &hex(&key), &data);
        assert!(
            out == library(cipher, &key, &data),
            "{cipher}, {len}-byte key"
        );
    }
}

#[test]
fn slow_odd_sized_writes_give_the_one_shot_result() {
    const PIECES: [usize; 8] = [1, 3, 7, 4093, 2, 65537, 5, 13];
    let data = pattern(5 * PIECES.iter().sum::<usize>());
    for cipher in CIPHERS {
        let fed = data.clone();
        let out = run_fed(&crypt_args("encrypt", cipher, KEY_HEX), move |mut stdin| {
            let mut rest = &fed[..];
            for &size in PIECES.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (now, later) = rest.split_at(size.min(rest.len()));
                stdin.write_all(now).expect("write to ssmail");
                stdin.flush().expect("flush to ssmail");
                rest = later;
                // Let ssmail's read return with just this piece.
                thread::sleep(Duration::from_millis(2));
            }
        });
        assert!(out.status.success(), "{cipher}: {:?}", out.status);
        assert!(
            out.stdout == library(cipher, &KEY, &data),
            "{cipher}: differs"
        );
    }
}

#[test]
fn output_is_not_held_back_while_input_stays_open() {
    use std::sync::mpsc;

    // Ends in a byte that is not 0x0a after encryption, so a line-buffered stdout that is
    // never flushed would keep at least the last byte back.
    let data = pattern(1000);
    for cipher in CIPHERS {
        let mut child = spawn(&crypt_args("encrypt", cipher, KEY_HEX));
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let mut stdout = child.stdout.take().expect("stdout is piped");
        stdin.write_all(&data).expect("write to ssmail");
        stdin.flush().expect("flush to ssmail");
        // Read on a thread so that a stall fails the test instead of hanging it.
        let (done, result) = mpsc::channel();
        let reader = thread::spawn(move || {
            let mut got = vec![0u8; 1000];
            let r = stdout.read_exact(&mut got);
            let _ = done.send(r.map(|()| got));
        });
        let got = result.recv_timeout(Duration::from_secs(20));
        // Closing stdin lets ssmail end, and with it a stalled reader.
        drop(stdin);
        let status = child.wait().expect("wait for ssmail");
        reader.join().expect("stdout reader thread");
        let got = got
            .unwrap_or_else(|e| panic!("{cipher}: output held back until EOF ({e})"))
            .expect("read from ssmail");
        assert!(got == library(cipher, &KEY, &data), "{cipher}: differs");
        assert!(status.success(), "{cipher}: {status:?}");
    }
}

/// Asserts exit code 2, nothing on stdout and exactly one `ssmail: ` line on stderr, which
/// contains `needle`.
fn assert_usage_error(args: &[&str], needle: &str) {
    let out = run(args, b"some input");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: stderr {stderr:?}");
    assert!(out.stdout.is_empty(), "{args:?}: wrote to stdout");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: stderr {stderr:?}");
    assert!(
        lines[0].starts_with("ssmail: "),
        "{args:?}: stderr {stderr:?}"
    );
    assert!(
        lines[0].contains(needle),
        "{args:?}: {stderr:?} lacks {needle:?}"
    );
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr:?}");
}

#[test]
fn bad_arguments_are_one_line_usage_errors() {
    let k33 = "ab".repeat(33);
    let k257 = "ab".repeat(257);
    for direction in ["encrypt", "decrypt"] {
        let cases: [(&[&str], &str); 9] = [
            (
                &crypt_args(direction, "t32", "0102030405z7"),
                "not hexadecimal at position 11",
            ),
            (
                &crypt_args(direction, "t32", "0x0102"),
                "not hexadecimal at position 2",
            ),
            (
                &crypt_args(direction, "arrsyfor", "01020"),
                "odd number of hex digits",
            ),
            (&crypt_args(direction, "arrsyfor", ""), "empty"),
            (
                &crypt_args(direction, "t32", &k33),
                "t32 keys are 1 to 32 bytes, got 33",
            ),
            (
                &crypt_args(direction, "arrsyfor", &k257),
                "arrsyfor keys are 1 to 256 bytes, got 257",
            ),
            (
                &crypt_args(direction, "rc5", KEY_HEX),
                "unknown cipher \"rc5\"",
            ),
            (
                &[direction, "--cipher", "t32", "--key-hex", KEY_HEX],
                "--raw",
            ),
            // The raw-mode check comes first, whatever else is wrong.
            (
                &[direction, "--cipher", "rc5", "--key-hex", "zz"],
                "--key-hex is for --raw mode",
            ),
        ];
        for (args, needle) in cases {
            assert_usage_error(args, needle);
        }
    }
}

#[test]
fn key_is_not_echoed_in_errors() {
    let secret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00";
    let out = run(&crypt_args("encrypt", "t32", secret), b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(secret));
}

#[test]
fn clap_usage_errors_exit_2_and_help_exits_0() {
    let out = run(&["encrypt", "--raw", "--cipher", "t32"], b"");
    assert_eq!(out.status.code(), Some(2), "missing --key-hex");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--key-hex"));
    let out = run(&["frobnicate"], b"");
    assert_eq!(out.status.code(), Some(2), "unknown subcommand");
    let out = run(&["encrypt", "--help"], b"");
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--raw") && help.contains("arrsyfor"),
        "{help}"
    );
}

#[test]
fn closed_stdout_ends_quietly_with_exit_1() {
    let mut child = spawn(&crypt_args("encrypt", "t32", KEY_HEX));
    // Nobody will read ssmail's output.
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let writer = thread::spawn(move || {
        let chunk = vec![0u8; 1 << 16];
        // ssmail stops reading once its first write fails; our write then fails too.
        for _ in 0..64 {
            if stdin.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr is piped")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    let status = child.wait().expect("wait for ssmail");
    writer.join().expect("stdin writer thread");
    assert_eq!(status.code(), Some(1), "stderr {stderr:?}");
    assert!(stderr.is_empty(), "stderr {stderr:?}");
}

/// Asserts exit code 1 and exactly one `ssmail: ` line on stderr, which contains `needle`.
#[cfg(target_os = "linux")]
fn assert_io_error(stdin: Stdio, stdout: Stdio, needle: &str) {
    let out = Command::new(BIN)
        .args(crypt_args("encrypt", "t32", KEY_HEX))
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("run ssmail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr {stderr:?}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "stderr {stderr:?}");
    assert!(
        lines[0].starts_with("ssmail: ") && lines[0].contains(needle),
        "{stderr:?}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn io_errors_are_one_line_with_exit_1() {
    let dir = std::fs::File::open("/").expect("open / to read it as stdin");
    assert_io_error(dir.into(), Stdio::null(), "reading stdin: ");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    let zeros = std::fs::File::open("/dev/zero").expect("open /dev/zero");
    assert_io_error(zeros.into(), full.into(), "writing stdout: ");
}

/// Peak resident memory of a running process, in KiB. Must be read before the process
/// exits: a zombie's status has no memory lines.
#[cfg(target_os = "linux")]
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or_else(|| panic!("no VmHWM in {status}"));
    line.trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

#[cfg(target_os = "linux")]
#[test]
fn memory_stays_constant_over_512_mib() {
    const MIB: usize = 1 << 20;
    const TOTAL_MIB: usize = 512;
    const LIMIT_KIB: u64 = 16 * 1024;

    let mut child = spawn(&crypt_args("encrypt", "t32", KEY_HEX));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let writer = thread::spawn(move || {
        let chunk = pattern(MIB);
        for _ in 0..TOTAL_MIB {
            stdin.write_all(&chunk).expect("write to ssmail");
        }
    });

    let plain = pattern(MIB);
    let mut reference = T32::new_from_slice(&KEY).expect("valid key");
    let mut got = vec![0u8; MIB];
    let mut expected = vec![0u8; MIB];
    let mut peak_kib = None;
    for mib in 0..TOTAL_MIB {
        stdout.read_exact(&mut got).expect("read from ssmail");
        expected.copy_from_slice(&plain);
        reference.apply_keystream(&mut expected);
        assert!(got == expected, "output differs in MiB {mib}");
        if mib == TOTAL_MIB - 2 {
            // ssmail still has a whole MiB to write, more than a pipe holds, so it cannot
            // have exited yet: its peak so far covers 511 of the 512 MiB.
            peak_kib = Some(vm_hwm_kib(child.id()));
        }
    }
    writer.join().expect("stdin writer thread");
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).expect("read to end");
    assert!(rest.is_empty(), "{} bytes too many", rest.len());
    let status = child.wait().expect("wait for ssmail");
    assert!(status.success(), "{status:?}");

    let peak_kib = peak_kib.expect("peak was measured");
    eprintln!("ssmail peak RSS (VmHWM) after 511 of {TOTAL_MIB} MiB: {peak_kib} KiB");
    assert!(peak_kib < LIMIT_KIB, "peak RSS {peak_kib} KiB");
}
