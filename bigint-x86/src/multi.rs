//! The multi-buffer API: several independent exponentiations at once, for a hub that
//! meets many new peers at the same moment.
//!
//! Calls take [`LANES`] (eight) bases and exponents and return eight results. Where the
//! CPU has AVX-512 IFMA, the eight run together, one per 64-bit lane of the zmm
//! registers over 52-bit limbs ([`MultiBackend::Ifma`]); elsewhere they run one after
//! the other on a single-exponentiation backend ([`MultiBackend::Each`]). Both give
//! the single API's results, in constant time: fixed windows, every table entry read,
//! one masked final subtraction, and no lane's data reaching another lane's control
//! flow or addresses. [`oakley::batch`](crate::oakley::batch) takes any count, in
//! groups of eight, into a slice the caller provides (no allocator).
//!
//! Layer: above `pow` (a single backend's exponentiations, for [`MultiBackend::Each`])
//! and `limbs52`/`oakley_prime` (for the IFMA lanes); imports nothing above them. The
//! group API, `oakley`, calls down into it.

use crate::Backend;
use crate::Paths as _;
use crate::monty::{MontyParams, SecretExponent};
use crate::oakley_prime::PARAMS;
use crate::pow::{oakley_public_key_on, pow_on};
use crate::uint::U768;

#[cfg(ssmail_bigint_ifma)]
use crate::backends::ifma::{lanes as ifma, limbs52};

pub use crate::word::LANES;

/// How a multi-buffer call computes its eight exponentiations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MultiBackend {
    /// All eight at once in the AVX-512 IFMA lanes (x86_64, built by rustc 1.89 or
    /// later, run on a CPU with AVX-512F and AVX-512 IFMA).
    #[cfg(ssmail_bigint_ifma)]
    Ifma,
    /// One after another on a single-exponentiation backend.
    Each(Backend),
}

impl MultiBackend {
    /// The fastest runnable way: IFMA where the CPU has it, else one after another on
    /// [`Backend::default_path`](crate::Paths::default_path).
    pub fn best() -> Self {
        #[cfg(ssmail_bigint_ifma)]
        if ifma::runnable() {
            return Self::Ifma;
        }
        Self::Each(Backend::default_path())
    }

    /// Whether this CPU can run it.
    pub fn is_runnable(self) -> bool {
        match self {
            #[cfg(ssmail_bigint_ifma)]
            Self::Ifma => ifma::runnable(),
            Self::Each(b) => b.is_runnable(),
        }
    }

    /// Its name: `ifma`, or the single backend's name.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(ssmail_bigint_ifma)]
            Self::Ifma => "ifma",
            Self::Each(b) => b.name(),
        }
    }

    /// The way called `name` ([`name`](Self::name)), if it is compiled in.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::all().find(|b| b.name() == name)
    }

    /// Every way compiled into this build: IFMA (if built) and each single backend.
    pub fn all() -> impl Iterator<Item = Self> {
        #[cfg(ssmail_bigint_ifma)]
        let ifma = Some(Self::Ifma);
        #[cfg(not(ssmail_bigint_ifma))]
        let ifma = None;
        ifma.into_iter()
            .chain(Backend::ALL.iter().copied().map(Self::Each))
    }

    /// Every way compiled into this build that this CPU can run.
    pub fn runnable() -> impl Iterator<Item = Self> {
        Self::all().filter(|b| b.is_runnable())
    }

    /// Panics unless runnable: running IFMA code on a CPU without it would fault.
    fn check(self) {
        assert!(
            self.is_runnable(),
            "the {} multi-buffer backend cannot run on this CPU",
            self.name()
        );
    }
}

/// The exponents' values, by reference.
#[cfg(ssmail_bigint_ifma)]
fn values(exps: &[SecretExponent; LANES]) -> [&U768; LANES] {
    core::array::from_fn(|l| &exps[l].0)
}

impl MontyParams {
    /// `bases[l]^exps[l] mod n` for each of the [`LANES`] lanes, as
    /// [`pow`](Self::pow) computes each; on [`MultiBackend::best`].
    pub fn pow_many(&self, bases: &[U768; LANES], exps: &[SecretExponent; LANES]) -> [U768; LANES] {
        self.pow_many_with(MultiBackend::best(), bases, exps)
    }

    /// [`pow_many`](Self::pow_many) on the given multi-buffer backend.
    ///
    /// # Panics
    /// If `backend` cannot run on this CPU ([`MultiBackend::is_runnable`]).
    pub fn pow_many_with(
        &self,
        backend: MultiBackend,
        bases: &[U768; LANES],
        exps: &[SecretExponent; LANES],
    ) -> [U768; LANES] {
        backend.check();
        match backend {
            #[cfg(ssmail_bigint_ifma)]
            MultiBackend::Ifma => {
                // The 52-bit constants: 36 modular doublings, cheap beside eight
                // exponentiations (the Oakley prime's are worked out at compile time).
                let p = limbs52::Params52::new(self);
                ifma::pow(&p, bases, &values(exps))
            }
            MultiBackend::Each(b) => {
                let b = b.checked();
                core::array::from_fn(|l| pow_on(b, self, &bases[l], &exps[l]))
            }
        }
    }
}

/// `peers[l]^exps[l] mod p` for the Oakley prime, on `backend`.
///
/// # Panics
/// If `backend` cannot run on this CPU.
fn shared_secret_many_with(
    backend: MultiBackend,
    peers: &[U768; LANES],
    exps: &[SecretExponent; LANES],
) -> [U768; LANES] {
    backend.check();
    match backend {
        #[cfg(ssmail_bigint_ifma)]
        MultiBackend::Ifma => ifma::pow(&limbs52::OAKLEY, peers, &values(exps)),
        MultiBackend::Each(b) => {
            let b = b.checked();
            core::array::from_fn(|l| pow_on(b, &PARAMS, &peers[l], &exps[l]))
        }
    }
}

/// `2^exps[l] mod p` for the Oakley prime, on `backend`.
///
/// # Panics
/// If `backend` cannot run on this CPU.
fn public_key_many_with(backend: MultiBackend, exps: &[SecretExponent; LANES]) -> [U768; LANES] {
    backend.check();
    match backend {
        #[cfg(ssmail_bigint_ifma)]
        MultiBackend::Ifma => ifma::public_key_oakley(&values(exps)),
        MultiBackend::Each(b) => {
            let b = b.checked();
            core::array::from_fn(|l| oakley_public_key_on(b, &exps[l]))
        }
    }
}

/// Runs `backend` over `exps` (and `peers`) in groups of [`LANES`], the last group
/// padded with zeros, writing `out`.
///
/// # Panics
/// If the lengths differ.
pub(crate) fn each(
    backend: MultiBackend,
    peers: Option<&[U768]>,
    exps: &[SecretExponent],
    out: &mut [U768],
) {
    assert_eq!(exps.len(), out.len(), "one output per exponent");
    if let Some(p) = peers {
        assert_eq!(p.len(), exps.len(), "one peer key per exponent");
    }
    for (g, out) in out.chunks_mut(LANES).enumerate() {
        let at = g * LANES;
        // Padding lanes compute 0^0; the group count is public, the values are not.
        let e: [SecretExponent; LANES] = core::array::from_fn(|l| {
            exps.get(at + l)
                .cloned()
                .unwrap_or(SecretExponent(U768::ZERO))
        });
        let r = match peers {
            Some(p) => {
                let b = core::array::from_fn(|l| p.get(at + l).copied().unwrap_or(U768::ZERO));
                shared_secret_many_with(backend, &b, &e)
            }
            None => public_key_many_with(backend, &e),
        };
        out.copy_from_slice(&r[..out.len()]);
    }
}
