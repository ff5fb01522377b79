//! The multi-buffer API against the single API and num-bigint, on every multi-buffer
//! backend this CPU runs (the IFMA lanes and the one-after-another fallback alike).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use num_bigint::BigUint;
use proptest::prelude::*;
use ssmail_bigint_x86::{Backend, LANES, MontyParams, MultiBackend, SecretExponent, U768, oakley};

#[path = "support/oracle.rs"]
mod oracle;
use oracle::{any_u768, big, edge_bases, edge_exponents, secret, u768};

fn secrets(x: &[U768; LANES]) -> [SecretExponent; LANES] {
    core::array::from_fn(|l| secret(&x[l]))
}

fn two() -> U768 {
    U768::from_be_slice(&[2]).unwrap()
}

/// One group of [`LANES`] through [`oakley::batch`], as an array.
fn batch8(
    peers: Option<&[U768; LANES]>,
    exps: &[SecretExponent; LANES],
    on: Option<MultiBackend>,
) -> [U768; LANES] {
    let mut out = [U768::ZERO; LANES];
    oakley::batch(peers.map(|p| &p[..]), exps, &mut out, on);
    out
}

/// Checks one call of every multi-buffer entry point, on every backend, lane by lane
/// against num-bigint and the single API.
fn check_lanes(bases: &[U768; LANES], exps: &[U768; LANES]) {
    let p = big(&oakley::P);
    let e = secrets(exps);
    let want: [U768; LANES] =
        core::array::from_fn(|l| u768(&big(&bases[l]).modpow(&big(&exps[l]), &p)));
    let want_pk: [U768; LANES] =
        core::array::from_fn(|l| u768(&BigUint::from(2u8).modpow(&big(&exps[l]), &p)));
    for l in 0..LANES {
        assert_eq!(
            oakley::shared_secret(&bases[l], &e[l], None),
            want[l],
            "single, lane {l}"
        );
        assert_eq!(
            oakley::public_key(&e[l], None),
            want_pk[l],
            "single pk, lane {l}"
        );
    }
    for b in MultiBackend::runnable() {
        let name = b.name();
        assert_eq!(batch8(Some(bases), &e, Some(b)), want, "{name}");
        assert_eq!(oakley::PARAMS.pow_many_with(b, bases, &e), want, "{name}");
        assert_eq!(batch8(None, &e, Some(b)), want_pk, "{name}");
    }
    assert_eq!(batch8(Some(bases), &e, None), want);
    assert_eq!(batch8(None, &e, None), want_pk);
}

#[test]
fn both_paths_are_here() {
    // On an IFMA machine the lanes are tested, and the fallback is tested everywhere.
    assert!(MultiBackend::runnable().any(|b| b == MultiBackend::Each(Backend::Portable)));
    let names: Vec<_> = MultiBackend::all().map(|b| b.name()).collect();
    assert!(names.contains(&"portable"), "{names:?}");
    for b in MultiBackend::all() {
        assert_eq!(MultiBackend::from_name(b.name()), Some(b));
    }
    assert_eq!(MultiBackend::from_name("nope"), None);
    // x86_64 only: the 32-bit build has no IFMA kernels (nor does a rustc before 1.89,
    // which this check then reports).
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512ifma") && std::is_x86_feature_detected!("avx512f") {
        assert!(
            names.contains(&"ifma"),
            "this CPU has IFMA but the kernels are not built (rustc < 1.89?)"
        );
        assert_eq!(MultiBackend::best().name(), "ifma");
    }
}

#[test]
fn edge_cases_mixed_in_one_call() {
    let p = big(&oakley::P);
    let [b0, b1, b2, b3, b4, b5, b6] = edge_bases(&p);
    let bases = [b0, b1, b2, b3, b4, b5, b6, BigUint::from(3u8)].map(|b| u768(&b));
    let [e0, e1, e2, e3, e4, e5] = edge_exponents(&p);
    let exps = [e0, e1, e2, e3, e4, e5, &p - 1u8, BigUint::from(0xfu8)].map(|e| u768(&e));
    // Every base against every exponent, the lanes rotated so that each pairing lands
    // in a different lane beside different neighbours.
    for shift in 0..LANES {
        let e: [U768; LANES] = core::array::from_fn(|l| exps[(l + shift) & (LANES - 1)]);
        check_lanes(&bases, &e);
    }
    // All lanes alike.
    for b in &bases {
        for e in &exps {
            check_lanes(&[*b; LANES], &[*e; LANES]);
        }
    }
}

#[test]
fn published_modexp_vectors() {
    let vectors = ssmail_vectors::modexp_vectors();
    assert_eq!(vectors.len(), 24);
    // Three calls of eight vectors each, then each vector in every lane of its own call.
    for group in vectors.chunks(LANES) {
        let bases: [U768; LANES] =
            core::array::from_fn(|l| U768::from_be_slice(&group[l].base).unwrap());
        let exps: [U768; LANES] =
            core::array::from_fn(|l| U768::from_be_slice(&group[l].exp).unwrap());
        let want: [U768; LANES] =
            core::array::from_fn(|l| U768::from_be_slice(&group[l].result).unwrap());
        for b in MultiBackend::runnable() {
            let got = batch8(Some(&bases), &secrets(&exps), Some(b));
            assert_eq!(got, want, "lines {}.. on {}", group[0].line, b.name());
        }
        check_lanes(&bases, &exps);
    }
    for v in &vectors {
        let base = U768::from_be_slice(&v.base).unwrap();
        let exp = U768::from_be_slice(&v.exp).unwrap();
        let want = U768::from_be_slice(&v.result).unwrap();
        for b in MultiBackend::runnable() {
            let got = batch8(Some(&[base; LANES]), &secrets(&[exp; LANES]), Some(b));
            assert_eq!(got, [want; LANES], "line {} on {}", v.line, b.name());
            if base == two() {
                let got = batch8(None, &secrets(&[exp; LANES]), Some(b));
                assert_eq!(got, [want; LANES], "line {} on {}", v.line, b.name());
            }
        }
    }
}

#[test]
fn any_count_in_groups_of_eight() {
    let p = big(&oakley::P);
    for count in [0, 1, 7, 8, 9, 17] {
        let peers: Vec<U768> = (0..count).map(|i| u768(&((&p - 1u8) >> (i * 7)))).collect();
        let exps: Vec<SecretExponent> = (0..count)
            .map(|i| secret(&u768(&((BigUint::from(1u8) << 768) - 1u8 - i as u8))))
            .collect();
        let mut out = vec![U768::ZERO; count];
        oakley::batch(Some(&peers[..]), &exps, &mut out, None);
        for i in 0..count {
            assert_eq!(
                out[i],
                oakley::shared_secret(&peers[i], &exps[i], None),
                "{count}: {i}"
            );
        }
        oakley::batch(None, &exps, &mut out, None);
        for i in 0..count {
            assert_eq!(out[i], oakley::public_key(&exps[i], None), "{count}: {i}");
        }
    }
}

#[test]
#[should_panic(expected = "one output per exponent")]
fn mismatched_lengths_are_refused() {
    let exps = [secret(&U768::ONE)];
    let mut out = [U768::ZERO; 2];
    oakley::batch(None, &exps, &mut out, None);
}

fn any_lanes() -> impl Strategy<Value = [U768; LANES]> {
    proptest::array::uniform8(any_u768())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn oakley_lanes_match_the_oracle(bases in any_lanes(), exps in any_lanes()) {
        check_lanes(&bases, &exps);
    }

    #[test]
    fn any_odd_modulus_matches_the_oracle(
        bases in any_lanes(),
        exps in any_lanes(),
        n in any_u768(),
        small in 0usize..3,
    ) {
        // Full-size moduli, and a few much shorter ones (the top limbs zero).
        let mut n = n.to_be_bytes();
        n[..small * 40].fill(0);
        n[95] |= 1;
        let n = U768::from_be_bytes(&n);
        prop_assume!(n != U768::ONE);
        let params = MontyParams::new_vartime(&n).unwrap();
        let want: [U768; LANES] = core::array::from_fn(|l| {
            u768(&big(&bases[l]).modpow(&big(&exps[l]), &big(&n)))
        });
        for b in MultiBackend::runnable() {
            prop_assert_eq!(params.pow_many_with(b, &bases, &secrets(&exps)), want, "{}", b.name());
        }
        prop_assert_eq!(params.pow_many(&bases, &secrets(&exps)), want);
    }
}
