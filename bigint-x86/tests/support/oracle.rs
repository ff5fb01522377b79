//! What the exponentiation tests share: conversions to and from num-bigint (the
//! oracle), secret exponents, and random 768-bit inputs.
#![allow(dead_code, reason = "each test file uses some of these")]
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use num_bigint::BigUint;
use proptest::prelude::*;
use ssmail_bigint_x86::{SecretExponent, U768};

/// `x` as a num-bigint number.
pub fn big(x: &U768) -> BigUint {
    BigUint::from_bytes_be(&x.to_be_bytes())
}

/// A num-bigint number below 2^768 as ours.
pub fn u768(x: &BigUint) -> U768 {
    U768::from_be_slice(&x.to_bytes_be()).unwrap()
}

/// `base^exp mod n` by num-bigint.
pub fn oracle(base: &U768, exp: &U768, n: &U768) -> U768 {
    u768(&big(base).modpow(&big(exp), &big(n)))
}

/// `x` as a secret exponent.
pub fn secret(x: &U768) -> SecretExponent {
    SecretExponent::from_be_bytes(&x.to_be_bytes())
}

/// Any 768-bit number.
pub fn any_u768() -> impl Strategy<Value = U768> {
    proptest::collection::vec(any::<u8>(), 96).prop_map(|b| U768::from_be_slice(&b).unwrap())
}
