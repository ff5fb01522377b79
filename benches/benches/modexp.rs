//! Criterion benchmarks of the 768-bit modular exponentiation (XCRYPT's Diffie-Hellman
//! step) beside OpenSSL's `BN_mod_exp_mont_consttime`, in the same run.
//!
//! * `dh/<backend>/shared_secret`: `peer^r mod p`, a random 768-bit base and exponent,
//!   for every backend this CPU runs.
//! * `dh/<backend>/public_key`: `2^r mod p` through the base-2 path.
//! * `dh/openssl/shared_secret`: OpenSSL, same base, exponent and modulus.
//! * `dh/gmp/shared_secret`: GMP's `mpz_powm_sec`, the same again.
//!
//! On `i686-unknown-linux-gnu` the peers are Debian's i386 libcrypto and libgmp: run
//! `scripts/i386-peers.sh` first (see `build.rs`).

use std::hint::black_box;

use criterion::{Criterion, criterion_main};
use ssmail_benches::{GmpModexp, OpensslModexp, seeded_bytes};
use ssmail_bigint_x86::{Backend, SecretExponent, U768, oakley};

fn dh(c: &mut Criterion) {
    let base_bytes = seeded_bytes(0x4448_0001, 96);
    let exp_bytes = seeded_bytes(0x4448_0002, 96);
    let base = U768::from_be_slice(&base_bytes).expect("96 bytes");
    let exp = SecretExponent::from_be_slice(&exp_bytes).expect("96 bytes");
    let p = oakley::P.to_be_bytes();

    let mut ossl = OpensslModexp::new(&p, &base_bytes, &exp_bytes);
    let mut out = [0u8; 96];
    ossl.run(&mut out);
    assert_eq!(
        out,
        oakley::shared_secret(&base, &exp).to_be_bytes(),
        "OpenSSL and ours must agree before they are timed"
    );

    let mut gmp = GmpModexp::new(&p, &base_bytes, &exp_bytes);
    let mut gmp_out = [0u8; 96];
    gmp.run(&mut gmp_out);
    assert_eq!(
        gmp_out, out,
        "GMP and OpenSSL must agree before they are timed"
    );

    let mut g = c.benchmark_group("dh");
    for backend in Backend::ALL.iter().copied().filter(|b| b.is_runnable()) {
        let name = backend.name();
        g.bench_function(format!("{name}/shared_secret"), |b| {
            b.iter(|| oakley::shared_secret_with(backend, black_box(&base), black_box(&exp)));
        });
        g.bench_function(format!("{name}/public_key"), |b| {
            b.iter(|| oakley::public_key_with(backend, black_box(&exp)));
        });
    }
    g.bench_function("openssl/shared_secret", |b| {
        b.iter(|| ossl.run(black_box(&mut out)));
    });
    g.bench_function("gmp/shared_secret", |b| {
        b.iter(|| gmp.run(black_box(&mut gmp_out)));
    });
    g.finish();
}

/// The group, with criterion's command-line configuration.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    dh(&mut c);
}

criterion_main!(benches);
