//! A dudect-style statistical timing check of the multi-buffer exponentiation (Reparaz,
//! Balasch and Verbauwhede, "Dude, is my code constant time?", 2017): time many calls
//! (in this thread's CPU time, see `now_ns`) with inputs from two classes, interleaved
//! at random, a fixed class (every base and exponent zero) and a random one, and
//! compare the two timing distributions with Welch's t-test, over all samples and over the samples below a few percentiles (which
//! drops the interrupts and migrations of a shared machine). `|t|` above 10 means the
//! time depends on the data (dudect's "definitely not constant time"); below 4.5 no
//! dependence was found at this sample count.
//!
//! It covers what valgrind cannot: valgrind 3.19 does not decode AVX-512, so the
//! `ct_valgrind` example checks only the fallback of the multi-buffer API. This runs on
//! [`MultiBackend::best`] (the IFMA lanes where the CPU has them). Not a unit test: it
//! takes seconds and a noisy machine can disturb it. Run:
//! `cargo bench -p ssmail-benches --bench ct_dudect` (optionally `-- <samples>`);
//! `-- --leak` times the variable-time `pow_vartime` instead, which this check must
//! flag: proof that it can see a leak. `-- --backend portable` checks the fallback;
//! `-- --fixed-random` makes the fixed class one random input set instead of zeros.
//!
//! NOTE: zeros against random data also compares power draw: on a CPU whose clock
//! follows its power (turbo, AVX-512 licences; "Hertzbleed", Wang et al. 2022), the
//! same instructions on all-zero operands can run measurably faster. A `|t|` that
//! appears with zeros but not with `--fixed-random`, and on the fallback as well as
//! on the IFMA lanes, points there rather than at the code.

use std::hint::black_box;
use std::process::ExitCode;
#[cfg(not(target_os = "linux"))]
use std::time::Instant;

use ssmail_benches::seeded_bytes;
use ssmail_bigint_x86::{LANES, MultiBackend, SecretExponent, U768, oakley};

/// Random input sets, cycled through by the random class.
const POOL: usize = 64;

/// `struct timespec` on Linux (`long` fields: 32-bit on i686, where benches build too).
#[cfg(target_os = "linux")]
#[repr(C)]
struct Timespec {
    sec: core::ffi::c_long,
    nsec: core::ffi::c_long,
}

#[cfg(target_os = "linux")]
unsafe extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// This thread's CPU time in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`): unlike the wall
/// clock it stops while the thread is preempted, whose bursts on a shared machine
/// otherwise swamp the test (they come in runs, so the samples are not independent).
#[cfg(target_os = "linux")]
fn now_ns() -> f64 {
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid, writable `struct timespec`; the clock id is Linux's.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.sec as f64 * 1e9 + ts.nsec as f64
}

/// The wall clock where the thread CPU clock is not at hand.
#[cfg(not(target_os = "linux"))]
fn now_ns() -> f64 {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as f64
}

/// A named timed call.
type Check<'a> = (&'a str, &'a dyn Fn(&Inputs));

/// One input set: eight bases and eight exponents.
struct Inputs {
    bases: [U768; LANES],
    exps: [SecretExponent; LANES],
}

fn inputs(seed: u64) -> Inputs {
    let bytes = seeded_bytes(seed, 2 * 96 * LANES);
    let (b, e) = bytes.split_at(96 * LANES);
    Inputs {
        bases: core::array::from_fn(|l| U768::from_be_slice(&b[96 * l..96 * (l + 1)]).expect("96")),
        exps: core::array::from_fn(|l| {
            SecretExponent::from_be_slice(&e[96 * l..96 * (l + 1)]).expect("96")
        }),
    }
}

/// Welch's t statistic of two samples.
fn welch_t(a: &[f64], b: &[f64]) -> f64 {
    let stats = |x: &[f64]| {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (n, mean, var)
    };
    let (na, ma, va) = stats(a);
    let (nb, mb, vb) = stats(b);
    (ma - mb) / (va / na + vb / nb).sqrt()
}

/// The largest `|t|` over all samples and over those below the 50th, 75th and 90th
/// percentiles of the pooled times.
fn max_t(fixed: &[f64], random: &[f64]) -> f64 {
    let mut pooled: Vec<f64> = fixed.iter().chain(random).copied().collect();
    pooled.sort_by(f64::total_cmp);
    let mut worst = welch_t(fixed, random).abs();
    for pct in [0.5, 0.75, 0.9] {
        let cut = pooled[(pooled.len() as f64 * pct) as usize];
        let f: Vec<f64> = fixed.iter().copied().filter(|&t| t < cut).collect();
        let r: Vec<f64> = random.iter().copied().filter(|&t| t < cut).collect();
        if f.len() > 10 && r.len() > 10 {
            worst = worst.max(welch_t(&f, &r).abs());
        }
    }
    worst
}

/// Times `run` on the fixed class and the random class, interleaved by a seeded coin.
fn measure(
    samples: usize,
    fixed_random: bool,
    mut run: impl FnMut(&Inputs),
) -> (Vec<f64>, Vec<f64>) {
    let zero = if fixed_random {
        inputs(0xf1ed_0001)
    } else {
        Inputs {
            bases: [U768::ZERO; LANES],
            exps: core::array::from_fn(|_| SecretExponent::from_be_bytes(&[0; 96])),
        }
    };
    let pool: Vec<Inputs> = (0..POOL as u64).map(|i| inputs(0xd0d0_0000 + i)).collect();
    let coins = seeded_bytes(0xc014_0001, samples);
    let (mut fixed, mut random) = (Vec::new(), Vec::new());
    // Warm up the caches and the clock.
    for p in pool.iter().take(8) {
        run(p);
    }
    // Both classes are copied into the same slot, so that they differ in their values
    // only, not in their addresses.
    let mut slot = inputs(0);
    for (i, coin) in coins.iter().enumerate() {
        let is_fixed = coin & 1 == 0;
        let input = if is_fixed {
            &zero
        } else {
            &pool[i & (POOL - 1)]
        };
        slot.bases = input.bases;
        slot.exps.clone_from(&input.exps);
        let start = now_ns();
        run(black_box(&slot));
        let ns = now_ns() - start;
        if is_fixed {
            fixed.push(ns)
        } else {
            random.push(ns)
        }
    }
    (fixed, random)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let samples = args
        .iter()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(10_000);
    let backend = args
        .iter()
        .position(|a| a == "--backend")
        .and_then(|i| args.get(i + 1))
        .map_or_else(MultiBackend::best, |name| {
            MultiBackend::from_name(name).expect("no such multi-buffer backend")
        });
    let fixed_random = args.iter().any(|a| a == "--fixed-random");
    let mut leaky = false;
    if args.iter().any(|a| a == "--leak") {
        let (fixed, random) = measure(samples, fixed_random, |x: &Inputs| {
            let e = U768::from_be_bytes(&x.bases[0].to_be_bytes());
            black_box(oakley::PARAMS.pow_vartime(black_box(&x.bases[1]), black_box(&e)));
        });
        let t = max_t(&fixed, &random);
        println!("ct_dudect --leak: pow_vartime: max |t| = {t:.2} (must be far above 10)");
        return if t > 10.0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let checks: [Check; 2] = [
        ("shared_secret_x8", &|x: &Inputs| {
            black_box({
                let mut out = [U768::ZERO; LANES];
                oakley::batch(
                    Some(&black_box(&x.bases)[..]),
                    black_box(&x.exps),
                    &mut out,
                    Some(backend),
                );
                out
            });
        }),
        ("public_key_x8", &|x: &Inputs| {
            black_box({
                let mut out = [U768::ZERO; LANES];
                oakley::batch(None, black_box(&x.exps), &mut out, Some(backend));
                out
            });
        }),
    ];
    for (name, run) in checks {
        let (fixed, random) = measure(samples, fixed_random, run);
        let t = max_t(&fixed, &random);
        let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64 / 1000.0;
        let verdict = if t > 10.0 {
            leaky = true;
            "DEPENDS ON THE DATA"
        } else if t > 4.5 {
            "inconclusive (rerun on a quiet machine)"
        } else {
            "no dependence found"
        };
        println!(
            "ct_dudect: {}/{name}: {} + {} samples, mean {:.1} µs (fixed) vs {:.1} µs (random), max |t| = {t:.2}: {verdict}",
            backend.name(),
            fixed.len(),
            random.len(),
            mean(&fixed),
            mean(&random),
        );
    }
    if leaky {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
