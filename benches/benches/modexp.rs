//! Criterion benchmarks of the 768-bit modular exponentiation (XCRYPT's Diffie-Hellman
//! step) beside OpenSSL's `BN_mod_exp_mont_consttime`, in the same run.
//!
//! * `dh/<backend>/shared_secret`: `peer^r mod p`, a random 768-bit base and exponent,
//!   for every backend this CPU runs.
//! * `dh/<backend>/public_key`: `2^r mod p` through the base-2 path.
//! * `dh/openssl/shared_secret`: OpenSSL, same base, exponent and modulus;
//!   `dh/openssl/public_key`: the same with base 2.
//! * `dh/crypto-bigint/shared_secret` and `.../public_key`: crypto-bigint 0.6's
//!   constant-time `MontyForm::pow` (fixed 4-bit window) over `U768`, same inputs.
//! * `dh/gmp/shared_secret`: GMP's `mpz_powm_sec`, the same again.
//!
//! On `i686-unknown-linux-gnu` the peers are Debian's i386 libcrypto and libgmp: run
//! `scripts/i386-peers.sh` first (see `build.rs`).

use ssmail_ciphers::Paths as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_main};
use crypto_bigint::modular::{MontyForm, MontyParams};
use crypto_bigint::{Odd, U768 as CbU768};
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
        oakley::shared_secret(&base, &exp, None).to_be_bytes(),
        "OpenSSL and ours must agree before they are timed"
    );

    let mut gmp = GmpModexp::new(&p, &base_bytes, &exp_bytes);
    let mut gmp_out = [0u8; 96];
    gmp.run(&mut gmp_out);
    assert_eq!(
        gmp_out, out,
        "GMP and OpenSSL must agree before they are timed"
    );

    let mut ossl2 = OpensslModexp::new(&p, &[2], &exp_bytes);
    ossl2.run(&mut out);
    assert_eq!(
        out,
        oakley::public_key(&exp, None).to_be_bytes(),
        "OpenSSL (base 2) and ours must agree before they are timed"
    );

    let cb_p = Option::<Odd<CbU768>>::from(Odd::new(CbU768::from_be_slice(&p))).expect("p is odd");
    let cb_params = MontyParams::new(cb_p);
    let cb_base = MontyForm::new(&CbU768::from_be_slice(&base_bytes), cb_params);
    let cb_two = MontyForm::new(&CbU768::from_u8(2), cb_params);
    let cb_exp = CbU768::from_be_slice(&exp_bytes);
    assert_eq!(
        cb_base.pow(&cb_exp).retrieve().to_be_bytes(),
        oakley::shared_secret(&base, &exp, None).to_be_bytes(),
        "crypto-bigint and ours must agree before they are timed"
    );
    assert_eq!(
        cb_two.pow(&cb_exp).retrieve().to_be_bytes(),
        oakley::public_key(&exp, None).to_be_bytes(),
        "crypto-bigint (base 2) and ours must agree before they are timed"
    );

    let mut g = c.benchmark_group("dh");
    for backend in Backend::runnable() {
        let name = backend.name();
        g.bench_function(format!("{name}/shared_secret"), |b| {
            b.iter(|| oakley::shared_secret(black_box(&base), black_box(&exp), Some(backend)));
        });
        g.bench_function(format!("{name}/public_key"), |b| {
            b.iter(|| oakley::public_key(black_box(&exp), Some(backend)));
        });
    }
    g.bench_function("openssl/shared_secret", |b| {
        b.iter(|| ossl.run(black_box(&mut out)));
    });
    g.bench_function("gmp/shared_secret", |b| {
        b.iter(|| gmp.run(black_box(&mut gmp_out)));
    });
    g.bench_function("openssl/public_key", |b| {
        b.iter(|| ossl2.run(black_box(&mut out)));
    });
    g.bench_function("crypto-bigint/shared_secret", |b| {
        b.iter(|| black_box(&cb_base).pow(black_box(&cb_exp)).retrieve());
    });
    g.bench_function("crypto-bigint/public_key", |b| {
        b.iter(|| black_box(&cb_two).pow(black_box(&cb_exp)).retrieve());
    });
    g.finish();
}

/// The group, with criterion's command-line configuration.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    dh(&mut c);
}

criterion_main!(benches);
