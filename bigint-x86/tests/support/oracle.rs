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

/// The edge bases of the exponentiation tests, modulo `p`: 0, 1, 2, p-1, p-2, p itself
/// (reduced to 0) and 2^768-1 (above p: reduced first).
pub fn edge_bases(p: &BigUint) -> [BigUint; 7] {
    [
        BigUint::from(0u8),
        BigUint::from(1u8),
        BigUint::from(2u8),
        p - 1u8,
        p - 2u8,
        p.clone(),                         // reduced to 0
        (BigUint::from(1u8) << 768) - 1u8, // above p: reduced first
    ]
}

/// The edge exponents of the exponentiation tests, for the modulus `p`: 0, 1, 2, all ones,
/// the top bit only, and p-2.
pub fn edge_exponents(p: &BigUint) -> [BigUint; 6] {
    [
        BigUint::from(0u8),
        BigUint::from(1u8),
        BigUint::from(2u8),
        (BigUint::from(1u8) << 768) - 1u8, // all ones
        BigUint::from(1u8) << 767,         // top bit only
        p - 2u8,
    ]
}

/// Any 768-bit number.
pub fn any_u768() -> impl Strategy<Value = U768> {
    proptest::collection::vec(any::<u8>(), 96).prop_map(|b| U768::from_be_slice(&b).unwrap())
}
