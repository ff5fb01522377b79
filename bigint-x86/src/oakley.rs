//! The XCRYPT group: the 768-bit prime of RFC 2409 section 6.1 ("First Oakley Default
//! Group", generator 2) and the three operations of a key agreement over it, each on
//! the default backend or a named one: [`public_key`], [`shared_secret`], and
//! [`batch`] for many of either at once.
//!
//! Layer: the top one; imports `oakley_prime` (the constants, re-exported here),
//! `pow` (the exponentiations) and `multi` (the batches). Nothing in the crate imports
//! it.

use crate::Backend;
use crate::Paths as _;
use crate::monty::SecretExponent;
use crate::multi::{self, MultiBackend};
use crate::pow::{oakley_public_key_on, pow_on};
use crate::uint::U768;

pub use crate::oakley_prime::{P, PARAMS};

/// `2^r mod p`: an XCRYPT public key, by a fixed-base comb over a precomputed table
/// (127 squarings and 127 multiplications instead of 768 squarings). Constant time in
/// `r`: every bit position is visited and every table entry read. Runs on `on`, or on
/// [`Backend::default_path`](crate::Paths::default_path) if `None`.
///
/// # Panics
/// If the backend `on` names cannot run on this CPU ([`Backend::is_runnable`]).
pub fn public_key(r: &SecretExponent, on: Option<Backend>) -> U768 {
    oakley_public_key_on(on.unwrap_or_else(Backend::default_path).checked(), r)
}

/// `peer^r mod p`: an XCRYPT shared secret, in constant time in both `peer` and `r`.
/// Runs on `on`, or on [`Backend::default_path`](crate::Paths::default_path) if `None`.
///
/// # Panics
/// If the backend `on` names cannot run on this CPU ([`Backend::is_runnable`]).
pub fn shared_secret(peer: &U768, r: &SecretExponent, on: Option<Backend>) -> U768 {
    pow_on(
        on.unwrap_or_else(Backend::default_path).checked(),
        &PARAMS,
        peer,
        r,
    )
}

/// Many key agreements at once, [`LANES`](crate::LANES) at a time (a last partial group
/// costs a full one): with `peers`, the shared secrets `out[i] = peers[i]^exps[i] mod p`
/// ([`shared_secret`]); without, the public keys `out[i] = 2^exps[i] mod p`
/// ([`public_key`]). Runs on `on`, or on [`MultiBackend::best`] (AVX-512 IFMA where
/// the CPU has it) if `None`.
///
/// # Panics
/// If `peers`, `exps` and `out` differ in length, or if the backend `on` names cannot
/// run on this CPU ([`MultiBackend::is_runnable`]).
pub fn batch(
    peers: Option<&[U768]>,
    exps: &[SecretExponent],
    out: &mut [U768],
    on: Option<MultiBackend>,
) {
    multi::each(on.unwrap_or_else(MultiBackend::best), peers, exps, out);
}
