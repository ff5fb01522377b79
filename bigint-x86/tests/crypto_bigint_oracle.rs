//! A second oracle: crypto-bigint 0.6's constant-time `MontyForm::pow`, against every
//! backend this CPU runs, for the Oakley prime (random bases and base 2) and for random
//! odd moduli.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use crypto_bigint::modular::{MontyForm, MontyParams as CbParams};
use crypto_bigint::{Odd, U768 as CbU768};
use proptest::prelude::*;
use ssmail_bigint_x86::Paths as _;
use ssmail_bigint_x86::{Backend, MontyParams, U768, oakley};

#[path = "support/oracle.rs"]
mod oracle;
use oracle::{any_u768, secret};

fn cb(x: &U768) -> CbU768 {
    CbU768::from_be_slice(&x.to_be_bytes())
}

/// `base^exp mod n` by crypto-bigint (base reduced first, as ours does).
fn cb_pow(base: &U768, exp: &U768, n: &U768) -> U768 {
    let n = Option::<Odd<CbU768>>::from(Odd::new(cb(n))).unwrap();
    let params = CbParams::new(n);
    let base = cb(base).rem_vartime(n.as_nz_ref());
    let r = MontyForm::new(&base, params).pow(&cb(exp)).retrieve();
    U768::from_be_slice(&r.to_be_bytes()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn oakley_against_crypto_bigint(base in any_u768(), exp in any_u768()) {
        let want = cb_pow(&base, &exp, &oakley::P);
        let two = cb_pow(&U768::from_be_slice(&[2]).unwrap(), &exp, &oakley::P);
        for b in Backend::runnable() {
            prop_assert_eq!(oakley::shared_secret(&base, &secret(&exp), Some(b)), want, "{}", b.name());
            prop_assert_eq!(oakley::public_key(&secret(&exp), Some(b)), two, "{}", b.name());
        }
    }

    #[test]
    fn odd_moduli_against_crypto_bigint(base in any_u768(), exp in any_u768(), n in any_u768()) {
        let mut n = n.to_be_bytes();
        n[95] |= 1;
        let n = U768::from_be_bytes(&n);
        prop_assume!(n != U768::ONE);
        let params = MontyParams::new_vartime(&n).unwrap();
        let want = cb_pow(&base, &exp, &n);
        for b in Backend::runnable() {
            prop_assert_eq!(params.pow_with(b, &base, &secret(&exp)), want, "{}", b.name());
        }
    }
}
