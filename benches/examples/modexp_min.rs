//! A second measurement of the 768-bit exponentiation, for loaded machines: each
//! backend and each peer (OpenSSL's `BN_mod_exp_mont_consttime`, GMP's `mpz_powm_sec`)
//! is timed one call at a time, in turn, for many rounds, and the fastest call of each
//! is printed beside its ratio to the peers. The minimum is what the code costs when
//! nothing else is running; criterion's means (`benches/modexp.rs`) move with the load.
//!
//! `cargo run --release -p ssmail-benches --example modexp_min [-- ROUNDS]`; for 32-bit
//! x86 add `--target i686-unknown-linux-gnu` after `scripts/i386-peers.sh`.

use ssmail_ciphers::Paths as _;
use std::hint::black_box;

use ssmail_benches::{Fastest, GmpModexp, OpensslModexp, rounds_arg, seeded_bytes};
use ssmail_bigint_x86::{Backend, SecretExponent, U768, oakley};

fn main() {
    let rounds = rounds_arg(300);
    let base_bytes = seeded_bytes(0x4448_0001, 96);
    let exp_bytes = seeded_bytes(0x4448_0002, 96);
    let base = U768::from_be_slice(&base_bytes).expect("96 bytes");
    let exp = SecretExponent::from_be_slice(&exp_bytes).expect("96 bytes");
    let p = oakley::P.to_be_bytes();
    let want = oakley::shared_secret(&base, &exp, None).to_be_bytes();
    let mut out = [0u8; 96];
    let mut ossl = OpensslModexp::new(&p, &base_bytes, &exp_bytes);
    ossl.run(&mut out);
    assert_eq!(out, want, "OpenSSL and ours must agree");
    let mut gmp = GmpModexp::new(&p, &base_bytes, &exp_bytes);
    gmp.run(&mut out);
    assert_eq!(out, want, "GMP and ours must agree");

    let backends: Vec<Backend> = Backend::runnable().collect();
    let mut shared = vec![Fastest::default(); backends.len()];
    let mut public = vec![Fastest::default(); backends.len()];
    let (mut t_ossl, mut t_gmp) = (Fastest::default(), Fastest::default());
    for _ in 0..rounds {
        for (i, &b) in backends.iter().enumerate() {
            shared[i].time(|| {
                black_box(oakley::shared_secret(
                    black_box(&base),
                    black_box(&exp),
                    Some(b),
                ));
            });
            public[i].time(|| {
                black_box(oakley::public_key(black_box(&exp), Some(b)));
            });
        }
        t_ossl.time(|| ossl.run(black_box(&mut out)));
        t_gmp.time(|| gmp.run(black_box(&mut out)));
    }
    let (o, g) = (t_ossl.seconds() * 1e6, t_gmp.seconds() * 1e6);
    println!("fastest of {rounds} calls each, in µs; ratios to OpenSSL and to GMP");
    println!("{:28} {o:9.1}", "openssl/shared_secret");
    println!("{:28} {g:9.1}  {:5.2}x", "gmp/shared_secret", g / o);
    for (i, b) in backends.iter().enumerate() {
        let (s, k) = (shared[i].seconds() * 1e6, public[i].seconds() * 1e6);
        let name = b.name();
        println!(
            "{:28} {s:9.1}  {:5.2}x  {:5.2}x",
            format!("{name}/shared_secret"),
            s / o,
            s / g
        );
        println!(
            "{:28} {k:9.1}  {:5.2}x  {:5.2}x",
            format!("{name}/public_key"),
            k / o,
            k / g
        );
    }
}
