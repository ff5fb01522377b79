//! Keystream applied the way a mail server hands it over: 64 KiB in chunks of the
//! sizes a socket read returns (the patched Postfix's smtpd decrypts each `read(2)`,
//! which for a 64 KB body is 16 reads of 4,096 bytes: `mta/postfix/cost_probe.sh
//! xcrypt strace`), down to command-line sizes. Each path's fastest pass over the whole
//! 64 KiB, in µs, per chunk size, beside OpenSSL's RC4 in the same chunks. Per-call
//! costs (a window's set-up, a buffer cleared) show here and not in criterion's
//! one-call groups.
//!
//! `cargo run --release -p ssmail-benches --example chunked_min [-- ROUNDS]`

use std::hint::black_box;

use ssmail_benches::{Fastest, OpensslRc4, rounds_arg, seeded_bytes};
use ssmail_ciphers::Paths as _;
use ssmail_ciphers::{Arrsyfor, ArrsyforPath, StreamCipher, T32, T32Path};

fn main() {
    let rounds = rounds_arg(400);
    let key = seeded_bytes(0x5353_4d41_494c_0001, 10);
    let size = 1 << 16;
    let mut buf = seeded_bytes(0x5353_4d41_494c_0002, size);
    let t32_paths: Vec<T32Path> = T32Path::runnable().collect();
    let rc_paths: Vec<ArrsyforPath> = ArrsyforPath::runnable().collect();
    println!("64 KiB in chunks; fastest of {rounds} passes, µs per 64 KiB");
    for chunk in [65_536usize, 4096, 1448, 512, 300, 256, 200, 128, 100] {
        let mut t32s: Vec<T32> = t32_paths
            .iter()
            .map(|&p| T32::with_path(&key, None, p).expect("10-byte key"))
            .collect();
        let mut rcs: Vec<Arrsyfor> = rc_paths
            .iter()
            .map(|&p| Arrsyfor::with_path(&key, p).expect("10-byte key"))
            .collect();
        let mut ossl = OpensslRc4::new(&key);
        let mut bt = vec![Fastest::default(); t32s.len()];
        let mut br = vec![Fastest::default(); rcs.len()];
        let mut bo = Fastest::default();
        for _ in 0..rounds {
            for (c, b) in t32s.iter_mut().zip(&mut bt) {
                b.time(|| in_chunks(&mut buf, chunk, |part| c.apply_keystream(part)));
            }
            for (c, b) in rcs.iter_mut().zip(&mut br) {
                b.time(|| in_chunks(&mut buf, chunk, |part| c.apply_keystream(part)));
            }
            bo.time(|| in_chunks(&mut buf, chunk, |part| ossl.apply_keystream(part)));
        }
        let us = |f: Fastest| f.seconds() * 1e6;
        print!("chunk {chunk:>6}:");
        for (p, b) in t32_paths.iter().zip(&bt) {
            print!("  t32-{} {:7.1}", p.name(), us(*b));
        }
        for (p, b) in rc_paths.iter().zip(&br) {
            print!("  rc-{} {:7.1}", p.name(), us(*b));
        }
        println!("  openssl-rc4 {:7.1}", us(bo));
    }
}

/// `apply` over `buf` in pieces of `chunk` bytes, as a server's reads hand them over.
#[inline(always)]
fn in_chunks(buf: &mut [u8], chunk: usize, mut apply: impl FnMut(&mut [u8])) {
    for part in black_box(buf).chunks_mut(chunk) {
        apply(part);
    }
}
