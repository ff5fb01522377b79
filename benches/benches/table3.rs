//! Criterion groups mirroring Table 3 of the ssmail paper (CPU time per message once
//! the shared secret is known), with the peers a user would reach for in the same run.
//! `ssmail bench` prints the same rows beside the paper's figures.
//!
//! * `table3/keygen`: the SHA-1 derivation of both direction keys from Z, Na and Nb.
//! * `table3/key_setups/<cipher>`: TWO key setups, one per direction, as a message needs.
//! * `table3/encrypt_14671/<cipher>`: one 14,671-byte message (the paper's mean size).

use std::hint::black_box;

use aes::Aes128;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use ctr::Ctr128BE;
use ssmail_benches::{OpensslRc4, seeded_bytes};
use ssmail_ciphers::{Arrsyfor, KeyInit, KeyIvInit, StreamCipher, T32};

/// The paper's mean message size.
const MESSAGE: usize = 14_671;

fn table3(c: &mut Criterion) {
    let z: [u8; 96] = seeded_bytes(1, 96).try_into().expect("96 bytes");
    let (na, nb) = ([1u8; 10], [2u8; 10]);
    let keys = ssmail_core::derive(&z, &na, &nb);
    let (k1, k2) = (keys.client_to_server, keys.server_to_client);
    let (k16, iv16) = (seeded_bytes(2, 16), seeded_bytes(3, 16));

    c.bench_function("table3/keygen", |b| {
        b.iter(|| ssmail_core::derive(black_box(&z), black_box(&na), black_box(&nb)));
    });

    let mut g = c.benchmark_group("table3/key_setups");
    g.bench_function(BenchmarkId::from_parameter("arrsyfor"), |b| {
        b.iter(|| {
            (
                Arrsyfor::new(&black_box(k1).into()),
                Arrsyfor::new(&black_box(k2).into()),
            )
        });
    });
    g.bench_function(BenchmarkId::from_parameter("t32"), |b| {
        b.iter(|| {
            (
                <T32 as KeyInit>::new(&black_box(k1).into()),
                <T32 as KeyInit>::new(&black_box(k2).into()),
            )
        });
    });
    g.bench_function(BenchmarkId::from_parameter("rc4-crate"), |b| {
        b.iter(|| {
            let a = rc4::Rc4::new_from_slice(black_box(&k1)).expect("10-byte key");
            (
                a,
                rc4::Rc4::new_from_slice(black_box(&k2)).expect("10-byte key"),
            )
        });
    });
    g.bench_function(BenchmarkId::from_parameter("aes128-ctr"), |b| {
        b.iter(|| {
            let mk = || Ctr128BE::<Aes128>::new_from_slices(black_box(&k16), black_box(&iv16));
            (mk().expect("16 bytes"), mk().expect("16 bytes"))
        });
    });
    g.finish();

    let mut g = c.benchmark_group("table3/encrypt_14671");
    g.throughput(Throughput::Bytes(MESSAGE as u64));
    let mut msg = seeded_bytes(4, MESSAGE);
    let mut a = Arrsyfor::new(&k1.into());
    g.bench_function(BenchmarkId::from_parameter("arrsyfor"), |b| {
        b.iter(|| a.apply_keystream(black_box(&mut msg)));
    });
    let mut t = <T32 as KeyInit>::new(&k1.into());
    g.bench_function(BenchmarkId::from_parameter("t32"), |b| {
        b.iter(|| t.apply_keystream(black_box(&mut msg)));
    });
    let mut r = rc4::Rc4::new_from_slice(&k1).expect("10-byte key");
    g.bench_function(BenchmarkId::from_parameter("rc4-crate"), |b| {
        b.iter(|| r.apply_keystream(black_box(&mut msg)));
    });
    let mut o = OpensslRc4::new(&k1);
    g.bench_function(BenchmarkId::from_parameter("openssl-rc4"), |b| {
        b.iter(|| o.apply_keystream(black_box(&mut msg)));
    });
    let mut e = Ctr128BE::<Aes128>::new_from_slices(&k16, &iv16).expect("16 bytes");
    g.bench_function(BenchmarkId::from_parameter("aes128-ctr"), |b| {
        b.iter(|| e.apply_keystream(black_box(&mut msg)));
    });
    g.finish();
}

/// The groups, with criterion's command-line configuration.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    table3(&mut c);
}

criterion_main!(benches);
