//! The Diffie-Hellman rows: the public key `2^r` and the shared secret `K^r`, on one
//! backend, through the library's own functions.

use std::hint::black_box;

use ssmail_bigint_x86::{Backend, SecretExponent, U768, oakley};

use super::timing::{Plan, Sample, measure};

/// The paper's shared-secret times, in seconds: Pentium Pro 233, Pentium 100.
pub const PAPER_PPRO_S: f64 = 0.3387;
/// See [`PAPER_PPRO_S`].
pub const PAPER_P100_S: f64 = 0.5;

/// One backend's row.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// The backend.
    pub backend: Backend,
    /// `2^r mod p`.
    pub public_key: Sample,
    /// `K^r mod p`.
    pub shared_secret: Sample,
}

/// A fixed, full-size exponent and base (their values do not change the time: the code
/// is constant time).
fn inputs() -> (SecretExponent, U768) {
    let mut e = [0u8; 96];
    let mut b = [0u8; 96];
    for i in 0..96 {
        e[i] = (i as u8).wrapping_mul(151).wrapping_add(7);
        b[i] = (i as u8).wrapping_mul(89).wrapping_add(3);
    }
    e[0] |= 0x80;
    b[0] &= 0x7f;
    (SecretExponent::from_be_bytes(&e), U768::from_be_bytes(&b))
}

/// Measures `backend`, which must be runnable.
pub fn run(plan: Plan, backend: Backend) -> Row {
    let (exp, base) = inputs();
    Row {
        backend,
        public_key: measure(plan, || {
            black_box(oakley::public_key(black_box(&exp), Some(backend)));
        }),
        shared_secret: measure(plan, || {
            black_box(oakley::shared_secret(
                black_box(&base),
                black_box(&exp),
                Some(backend),
            ));
        }),
    }
}
