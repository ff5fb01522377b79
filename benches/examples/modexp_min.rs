//! The modexp peers of `benches/modexp.rs` timed as the minimum over many runs, in one
//! process, with ratios. On a loaded, shared machine the minimum is far steadier than
//! criterion's mean (other jobs only ever add time).
//!
//! Run: `cargo run --release -p ssmail-benches --example modexp_min [RUNS]`.

use std::hint::black_box;
use std::time::Instant;

use crypto_bigint::modular::{MontyForm, MontyParams};
use crypto_bigint::{Odd, U768 as CbU768};
use ssmail_benches::{OpensslModexp, seeded_bytes};
use ssmail_bigint_x86::{Backend, SecretExponent, U768, oakley};

/// The fastest of `runs` calls of `f`, in microseconds.
fn best(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut b = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        f();
        b = b.min(t.elapsed().as_secs_f64());
    }
    b * 1e6
}

fn main() {
    let runs = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(400);
    // The same inputs as the criterion bench.
    let base_bytes = seeded_bytes(0x4448_0001, 96);
    let exp_bytes = seeded_bytes(0x4448_0002, 96);
    let base = U768::from_be_slice(&base_bytes).expect("96 bytes");
    let exp = SecretExponent::from_be_slice(&exp_bytes).expect("96 bytes");
    let p = oakley::P.to_be_bytes();

    let mut ossl = OpensslModexp::new(&p, &base_bytes, &exp_bytes);
    let mut ossl2 = OpensslModexp::new(&p, &[2], &exp_bytes);
    let mut out = [0u8; 96];
    ossl.run(&mut out);
    assert_eq!(out, oakley::shared_secret(&base, &exp).to_be_bytes());
    ossl2.run(&mut out);
    assert_eq!(out, oakley::public_key(&exp).to_be_bytes());
    let cb_p = Option::<Odd<CbU768>>::from(Odd::new(CbU768::from_be_slice(&p))).expect("odd");
    let cb_params = MontyParams::new(cb_p);
    let cb_base = MontyForm::new(&CbU768::from_be_slice(&base_bytes), cb_params);
    let cb_two = MontyForm::new(&CbU768::from_u8(2), cb_params);
    let cb_exp = CbU768::from_be_slice(&exp_bytes);
    assert_eq!(
        cb_base.pow(&cb_exp).retrieve().to_be_bytes(),
        oakley::shared_secret(&base, &exp).to_be_bytes()
    );

    let o_s = best(runs, || ossl.run(black_box(&mut out)));
    let o_p = best(runs, || ossl2.run(black_box(&mut out)));
    let c_s = best(runs, || {
        black_box(black_box(&cb_base).pow(&cb_exp).retrieve());
    });
    let c_p = best(runs, || {
        black_box(black_box(&cb_two).pow(&cb_exp).retrieve());
    });
    println!("min of {runs} runs, microseconds");
    println!("{:<14} {:>14} {:>14}", "", "shared_secret", "public_key");
    println!("{:<14} {o_s:>14.1} {o_p:>14.1}", "openssl");
    println!("{:<14} {c_s:>14.1} {c_p:>14.1}", "crypto-bigint");
    for backend in Backend::ALL.iter().copied().filter(|b| b.is_runnable()) {
        let s = best(runs, || {
            black_box(oakley::shared_secret_with(backend, black_box(&base), &exp));
        });
        let k = best(runs, || {
            black_box(oakley::public_key_with(backend, black_box(&exp)));
        });
        println!(
            "{:<14} {s:>14.1} {k:>14.1}   shared {:.2}x openssl, {:.2}x crypto-bigint; \
             public_key {:.2}x openssl shared_secret, {:.2}x openssl base 2",
            backend.name(),
            s / o_s,
            s / c_s,
            k / o_s,
            k / o_p
        );
    }
}
