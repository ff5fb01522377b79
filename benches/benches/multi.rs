//! Criterion benchmarks of the multi-buffer exponentiation (eight independent 768-bit
//! exponentiations per call) beside OpenSSL's `BN_mod_exp_mont_consttime` for one, in
//! the same run. The multi-buffer groups count eight elements per call, so criterion's
//! per-element rate is the time per exponentiation (total / 8).
//!
//! * `dh-multi/<backend>/shared_secret_x8`: `peers[l]^r[l] mod p`, eight random bases
//!   and exponents, for every multi-buffer backend this CPU runs (`ifma`, and the
//!   one-after-another loop over the best single backend).
//! * `dh-multi/<backend>/public_key_x8`: `2^r[l] mod p`.
//! * `dh-multi/openssl/shared_secret_x1`: OpenSSL, one exponentiation.

use ssmail_ciphers::Paths as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_main};
use ssmail_benches::{OpensslModexp, seeded_bytes};
use ssmail_bigint_x86::{Backend, LANES, MultiBackend, SecretExponent, U768, oakley};

fn multi(c: &mut Criterion) {
    let bases: [U768; LANES] = core::array::from_fn(|l| {
        U768::from_be_slice(&seeded_bytes(0x4d55_0000 + l as u64, 96)).expect("96 bytes")
    });
    let exp_bytes: Vec<Vec<u8>> = (0..LANES)
        .map(|l| seeded_bytes(0x4d55_0100 + l as u64, 96))
        .collect();
    let exps: [SecretExponent; LANES] =
        core::array::from_fn(|l| SecretExponent::from_be_slice(&exp_bytes[l]).expect("96 bytes"));
    let p = oakley::P.to_be_bytes();

    let mut ossl = OpensslModexp::new(&p, &bases[0].to_be_bytes(), &exp_bytes[0]);
    let mut out = [0u8; 96];
    ossl.run(&mut out);
    let want = {
        let mut out = [U768::ZERO; LANES];
        oakley::batch(
            Some(&bases[..]),
            &exps,
            &mut out,
            Some(MultiBackend::Each(Backend::Portable)),
        );
        out
    };
    assert_eq!(out, want[0].to_be_bytes(), "OpenSSL and ours must agree");

    let mut g = c.benchmark_group("dh-multi");
    g.throughput(Throughput::Elements(LANES as u64));
    // The IFMA lanes, and the loop over the best single backend for comparison.
    let mut ways = vec![MultiBackend::Each(Backend::best())];
    ways.extend(MultiBackend::runnable().filter(|b| !matches!(b, MultiBackend::Each(_))));
    for way in ways {
        assert_eq!(
            {
                let mut out = [U768::ZERO; LANES];
                oakley::batch(Some(&bases[..]), &exps, &mut out, Some(way));
                out
            },
            want
        );
        let name = way.name();
        g.bench_function(format!("{name}/shared_secret_x8"), |b| {
            b.iter(|| {
                let mut out = [U768::ZERO; LANES];
                oakley::batch(
                    Some(&black_box(&bases)[..]),
                    black_box(&exps),
                    &mut out,
                    Some(way),
                );
                out
            });
        });
        g.bench_function(format!("{name}/public_key_x8"), |b| {
            b.iter(|| {
                let mut out = [U768::ZERO; LANES];
                oakley::batch(None, black_box(&exps), &mut out, Some(way));
                out
            });
        });
    }
    g.finish();

    // Its own id: `dh/openssl/shared_secret` belongs to the modexp bench, and two
    // benches under one id would overwrite each other's saved history.
    let mut g = c.benchmark_group("dh-multi");
    g.throughput(Throughput::Elements(1));
    g.bench_function("openssl/shared_secret_x1", |b| {
        b.iter(|| ossl.run(black_box(&mut out)));
    });
    g.finish();
}

/// The group, with criterion's command-line configuration.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    multi(&mut c);
}

criterion_main!(benches);
