//! Criterion benchmarks of ssmail's two XCRYPT ciphers beside the peers a user would
//! reach for. See `benches/README.md` for what each id means and how to read the figures.
//!
//! * `keystream/14671/<cipher>` and `keystream/1048576/<cipher>`: `apply_keystream` in
//!   place over a buffer of that many bytes (14,671 bytes is the mean message of the
//!   ssmail paper). The cipher is keyed once, outside the timing loop; its keystream just
//!   continues from one iteration to the next.
//! * `key_setup/10/<cipher>`: ONE key setup (construct from a key, then drop) per
//!   iteration. An XCRYPT message needs two (one per direction); the ratio between
//!   ciphers is the same. The RC4 and t32 peers take the 10-byte XCRYPT key; aes128-ctr
//!   and chacha20 take their own key and IV sizes (16 + 16 and 32 + 12 bytes).

use ssmail_ciphers::Paths as _;
use std::hint::black_box;

use aes::Aes128;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use ctr::Ctr128BE;
use ssmail_benches::{OpensslRc4, T32RefC, seeded_bytes};
use ssmail_ciphers::{Arrsyfor, ArrsyforPath, KeyInit, KeyIvInit, StreamCipher, T32, T32Path};

/// AES-128 in counter mode, big-endian 128-bit counter.
type Aes128Ctr = Ctr128BE<Aes128>;

/// Message sizes for the `keystream` groups: the ssmail paper's mean message and 1 MiB.
const SIZES: [usize; 2] = [14_671, 1 << 20];

/// The XCRYPT key size.
const KEY_LEN: usize = 10;

/// Seeds for the inputs, so that every run processes the same bytes.
const SEED_KEY: u64 = 0x5353_4d41_494c_0001;
const SEED_BUF: u64 = 0x5353_4d41_494c_0002;
const SEED_IV: u64 = 0x5353_4d41_494c_0003;

/// A RustCrypto stream cipher over `buf`, in place, one whole buffer per iteration.
fn stream<C: StreamCipher>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mut cipher: C,
    buf: &mut [u8],
) {
    g.bench_function(BenchmarkId::from_parameter(name), |b| {
        b.iter(|| cipher.apply_keystream(black_box(&mut *buf)));
    });
}

fn keystream(c: &mut Criterion) {
    let key = seeded_bytes(SEED_KEY, KEY_LEN);
    let key16 = seeded_bytes(SEED_KEY, 16);
    let key32 = seeded_bytes(SEED_KEY, 32);
    let iv16 = seeded_bytes(SEED_IV, 16);
    let iv12 = seeded_bytes(SEED_IV, 12);

    for size in SIZES {
        let mut g = c.benchmark_group(format!("keystream/{size}"));
        g.throughput(Throughput::Bytes(u64::try_from(size).expect("fits")));
        let mut buf = seeded_bytes(SEED_BUF, size);

        stream(
            &mut g,
            "arrsyfor",
            Arrsyfor::new_from_slice(&key).expect("10-byte key"),
            &mut buf,
        );
        // Every other arrsyfor path this CPU runs (`arrsyfor` is the default, the
        // fastest by its trial at first use).
        for path in ArrsyforPath::runnable().filter(|&p| p != ArrsyforPath::default_path()) {
            stream(
                &mut g,
                &format!("arrsyfor-{}", path.name()),
                Arrsyfor::with_path(&key, path).expect("10-byte key"),
                &mut buf,
            );
        }
        stream(
            &mut g,
            "t32",
            T32::new_from_slice(&key).expect("10-byte key"),
            &mut buf,
        );
        // Every other t32 path this CPU runs (`t32` is the default, the fastest by its
        // trial at first use).
        for path in T32Path::runnable().filter(|&p| p != T32Path::default_path()) {
            stream(
                &mut g,
                &format!("t32-{}", path.name()),
                T32::with_path(&key, None, path).expect("10-byte key"),
                &mut buf,
            );
        }
        stream(
            &mut g,
            "rc4-crate",
            rc4::Rc4::new_from_slice(&key).expect("10-byte key"),
            &mut buf,
        );
        stream(
            &mut g,
            "aes128-ctr",
            Aes128Ctr::new_from_slices(&key16, &iv16).expect("16-byte key and IV"),
            &mut buf,
        );
        stream(
            &mut g,
            "chacha20",
            chacha20::ChaCha20::new_from_slices(&key32, &iv12).expect("32-byte key, 12-byte nonce"),
            &mut buf,
        );

        let mut ossl = OpensslRc4::new(&key);
        g.bench_function(BenchmarkId::from_parameter("openssl-rc4"), |b| {
            b.iter(|| ossl.apply_keystream(black_box(&mut buf)));
        });

        let mut t32c = T32RefC::new(&key);
        g.bench_function(BenchmarkId::from_parameter("t32-ref-c"), |b| {
            b.iter(|| t32c.apply_keystream(black_box(&mut buf)));
        });

        g.finish();
        black_box(&buf);
    }
}

fn key_setup(c: &mut Criterion) {
    let key = seeded_bytes(SEED_KEY, KEY_LEN);
    let key16 = seeded_bytes(SEED_KEY, 16);
    let key32 = seeded_bytes(SEED_KEY, 32);
    let iv16 = seeded_bytes(SEED_IV, 16);
    let iv12 = seeded_bytes(SEED_IV, 12);

    // One setup (construct, then drop) per iteration; criterion drops the returned value
    // inside the timed loop. A message needs two setups; the ratios are the same.
    let mut g = c.benchmark_group(format!("key_setup/{KEY_LEN}"));
    g.bench_function(BenchmarkId::from_parameter("arrsyfor"), |b| {
        b.iter(|| Arrsyfor::new_from_slice(black_box(&key)).expect("10-byte key"));
    });
    g.bench_function(BenchmarkId::from_parameter("t32"), |b| {
        b.iter(|| T32::new_from_slice(black_box(&key)).expect("10-byte key"));
    });
    g.bench_function(BenchmarkId::from_parameter("rc4-crate"), |b| {
        b.iter(|| rc4::Rc4::new_from_slice(black_box(&key)).expect("10-byte key"));
    });
    g.bench_function(BenchmarkId::from_parameter("openssl-rc4"), |b| {
        b.iter(|| OpensslRc4::new(black_box(&key)));
    });
    g.bench_function(BenchmarkId::from_parameter("t32-ref-c"), |b| {
        b.iter(|| T32RefC::new(black_box(&key)));
    });
    g.bench_function(BenchmarkId::from_parameter("aes128-ctr"), |b| {
        b.iter(|| {
            Aes128Ctr::new_from_slices(black_box(&key16), black_box(&iv16))
                .expect("16-byte key and IV")
        });
    });
    g.bench_function(BenchmarkId::from_parameter("chacha20"), |b| {
        b.iter(|| {
            chacha20::ChaCha20::new_from_slices(black_box(&key32), black_box(&iv12))
                .expect("32-byte key, 12-byte nonce")
        });
    });
    g.finish();
}

/// Both groups, with criterion's command-line configuration. (Written out instead of
/// `criterion_group!`, whose generated `pub fn` has no doc comment.)
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    keystream(&mut c);
    key_setup(&mut c);
}

criterion_main!(benches);
