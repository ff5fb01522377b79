//! The exponentiations against the published answers and against num-bigint.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use num_bigint::BigUint;
use proptest::prelude::*;
use ssmail_bigint_x86::Paths as _;
use ssmail_bigint_x86::{Backend, MontyParams, SecretExponent, U768, oakley};

#[path = "support/oracle.rs"]
mod oracle;
use oracle::{any_u768, big, edge_bases, edge_exponents, oracle, secret, u768};

#[test]
fn oakley_prime_is_the_rfc_2409_one() {
    // p = 2^768 - 2^704 - 1 + 2^64 * (floor(2^638 pi) + 149686): check its shape.
    let p = big(&oakley::P);
    assert_eq!(p.bits(), 768);
    assert_eq!(
        &p % (BigUint::from(1u8) << 64),
        (BigUint::from(1u8) << 64) - 1u8
    );
    assert_eq!(&p >> 704, (BigUint::from(1u8) << 64) - 1u8);
}

#[test]
fn published_modexp_vectors() {
    let vectors = ssmail_vectors::modexp_vectors();
    assert_eq!(vectors.len(), 24);
    for v in vectors {
        let base = U768::from_be_slice(&v.base).unwrap();
        let exp = U768::from_be_slice(&v.exp).unwrap();
        let want = U768::from_be_slice(&v.result).unwrap();
        for b in Backend::runnable() {
            let got = oakley::PARAMS.pow_with(b, &base, &secret(&exp));
            assert_eq!(got, want, "line {} on {}", v.line, b.name());
            let got = oakley::shared_secret(&base, &secret(&exp), Some(b));
            assert_eq!(got, want, "line {} on {}", v.line, b.name());
            if base == U768::from_be_slice(&[2]).unwrap() {
                let got = oakley::public_key(&secret(&exp), Some(b));
                assert_eq!(got, want, "line {} on {}", v.line, b.name());
            }
        }
        assert_eq!(
            oakley::PARAMS.pow_vartime(&base, &exp),
            want,
            "line {}",
            v.line
        );
        assert_eq!(
            oakley::shared_secret(&base, &secret(&exp), None),
            want,
            "line {}",
            v.line
        );
        if base == U768::from_be_slice(&[2]).unwrap() {
            assert_eq!(
                oakley::public_key(&secret(&exp), None),
                want,
                "line {}",
                v.line
            );
        }
    }
}

#[test]
fn edge_cases_against_the_oracle() {
    let p = big(&oakley::P);
    let bases = edge_bases(&p);
    let exps = edge_exponents(&p);
    for b in &bases {
        for e in &exps {
            let (bu, eu) = (u768(b), u768(e));
            let want = u768(&b.modpow(e, &p));
            for be in Backend::runnable() {
                let got = oakley::PARAMS.pow_with(be, &bu, &secret(&eu));
                assert_eq!(got, want, "{b:x}^{e:x} on {}", be.name());
            }
            assert_eq!(oakley::PARAMS.pow_vartime(&bu, &eu), want, "{b:x}^{e:x}");
        }
    }
    for e in &exps {
        let want = u768(&BigUint::from(2u8).modpow(e, &p));
        for be in Backend::runnable() {
            let got = oakley::public_key(&secret(&u768(e)), Some(be));
            assert_eq!(got, want, "2^{e:x} on {}", be.name());
        }
    }
}

#[test]
fn bad_moduli_are_refused() {
    assert!(MontyParams::new_vartime(&U768::ZERO).is_none());
    assert!(MontyParams::new_vartime(&U768::ONE).is_none());
    assert!(MontyParams::new_vartime(&U768::from_be_slice(&[4]).unwrap()).is_none());
    assert!(MontyParams::new_vartime(&U768::from_be_slice(&[3]).unwrap()).is_some());
}

#[test]
fn secrets_do_not_print() {
    let s = SecretExponent::from_be_slice(&[0x42; 96]).unwrap();
    assert_eq!(format!("{s:?}"), "SecretExponent { ... }");
    assert!(SecretExponent::from_be_slice(&[0; 97]).is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn oakley_pow_matches_the_oracle(base in any_u768(), exp in any_u768()) {
        let want = oracle(&base, &exp, &oakley::P);
        prop_assert_eq!(oakley::shared_secret(&base, &secret(&exp), None), want);
        for b in Backend::runnable() {
            prop_assert_eq!(oakley::PARAMS.pow_with(b, &base, &secret(&exp)), want, "{}", b.name());
        }
    }

    #[test]
    fn base_two_path_matches_the_oracle(exp in any_u768()) {
        let want = oracle(&U768::from_be_slice(&[2]).unwrap(), &exp, &oakley::P);
        for b in Backend::runnable() {
            prop_assert_eq!(oakley::public_key(&secret(&exp), Some(b)), want, "{}", b.name());
        }
    }

    #[test]
    fn any_odd_modulus_matches_the_oracle(
        base in any_u768(),
        exp in any_u768(),
        n in any_u768(),
    ) {
        let mut n = n.to_be_bytes();
        n[95] |= 1;
        let n = U768::from_be_bytes(&n);
        prop_assume!(n != U768::ONE);
        let params = MontyParams::new_vartime(&n).unwrap();
        let want = oracle(&base, &exp, &n);
        for b in Backend::runnable() {
            prop_assert_eq!(params.pow_with(b, &base, &secret(&exp)), want, "{}", b.name());
        }
        prop_assert_eq!(params.pow_vartime(&base, &exp), want);
    }
}
