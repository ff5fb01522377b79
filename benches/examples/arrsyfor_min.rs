//! A second measurement of arrsyfor's keystream, for loaded machines: every runnable
//! path, OpenSSL's RC4 and the `rc4` crate are timed one buffer at a time, in turn, for
//! many rounds, on the benchmark's two sizes, and each one's fastest pass is printed in
//! MiB/s beside its ratio to OpenSSL. The minimum is what the code costs when nothing
//! else is running; criterion's means (`benches/ciphers.rs`) move with the load.
//!
//! `cargo run --release -p ssmail-benches --example arrsyfor_min [-- ROUNDS]`; for 32-bit
//! x86 add `--target i686-unknown-linux-gnu` after `scripts/i386-peers.sh`.

use ssmail_ciphers::Paths as _;
use std::hint::black_box;

use ssmail_benches::{Fastest, OpensslRc4, rounds_arg, seeded_bytes};
use ssmail_ciphers::{Arrsyfor, ArrsyforPath, KeyInit, StreamCipher};

fn main() {
    let rounds = rounds_arg(2000);
    let key = seeded_bytes(0x5353_4d41_494c_0001, 10);
    let paths: Vec<ArrsyforPath> = ArrsyforPath::runnable().collect();
    println!("best() = {}", ArrsyforPath::best().name());
    for size in [14_671usize, 1 << 20] {
        let mut buf = seeded_bytes(0x5353_4d41_494c_0002, size);
        let mut ours: Vec<Arrsyfor> = paths
            .iter()
            .map(|&p| Arrsyfor::with_path(&key, p).expect("10-byte key"))
            .collect();
        let mut ossl = OpensslRc4::new(&key);
        let mut crate_rc4 = rc4::Rc4::new_from_slice(&key).expect("10-byte key");
        let mut best = vec![Fastest::default(); paths.len()];
        let (mut t_ossl, mut t_crate) = (Fastest::default(), Fastest::default());
        // Fewer rounds on the big buffer: each is 70 times longer.
        let n = if size > 100_000 {
            (rounds >> 4) + 1
        } else {
            rounds
        };
        for _ in 0..n {
            for (c, b) in ours.iter_mut().zip(&mut best) {
                b.time(|| c.apply_keystream(black_box(&mut buf)));
            }
            t_ossl.time(|| ossl.apply_keystream(black_box(&mut buf)));
            t_crate.time(|| crate_rc4.apply_keystream(black_box(&mut buf)));
        }
        let mib = |t: f64| size as f64 / t / f64::from(1u32 << 20);
        println!("{size} B, {n} rounds, fastest pass:");
        for (p, b) in paths.iter().zip(&best) {
            println!(
                "  {:<12} {:8.1} MiB/s  {:.3}x openssl",
                p.name(),
                mib(b.seconds()),
                t_ossl.seconds() / b.seconds()
            );
        }
        println!(
            "  {:<12} {:8.1} MiB/s",
            "openssl-rc4",
            mib(t_ossl.seconds())
        );
        println!(
            "  {:<12} {:8.1} MiB/s  {:.3}x openssl",
            "rc4-crate",
            mib(t_crate.seconds()),
            t_ossl.seconds() / t_crate.seconds()
        );
    }
}
