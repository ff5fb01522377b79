//! Misses computed away from the cache: a server that shares one cache among many
//! sessions must not hold it (its lock, its thread) for a Diffie-Hellman computation,
//! or every hit waits behind every miss. [`KeyCache::lookup_detached`] answers a hit at
//! once and otherwise hands out a [`Job`], which computes the secret wherever the caller
//! likes; [`KeyCache::remember_computed`] then stores it. What goes on the wire is the
//! same as with [`KeyCache::shared_secret_for`]. Several jobs can be computed as one
//! batch ([`Job::compute_batch`]), which pays where the CPU has AVX-512 IFMA
//! ([`batching_pays`]).

use std::vec;
use std::vec::Vec;

use ssmail_bigint_x86::{MultiBackend, SecretExponent, U768, oakley};
use zeroize::Zeroize as _;

use crate::agreement::{SharedSecret, shared_secret};
use crate::cache::KeyCache;
use crate::keys::{PrivateKey, PublicKey};

/// One shared secret to compute: a copy of the private key it needs, which it never
/// shows (it only computes).
pub struct Job {
    own_private: PrivateKey,
    own: PublicKey,
    peer: PublicKey,
}

impl Job {
    /// `peer^r mod p`: the expensive part (a 768-bit exponentiation), in constant time.
    pub fn compute(self) -> Computed {
        let secret = shared_secret(&self.own_private, &self.peer);
        Computed {
            own: self.own,
            peer: self.peer,
            secret,
        }
    }

    /// The peer's public key.
    pub fn peer(&self) -> &PublicKey {
        &self.peer
    }

    /// Each job's secret, in order, computed together through the multi-buffer API
    /// (`ssmail_bigint_x86::oakley::batch`): eight at a time in the IFMA lanes where the
    /// CPU has them, else one after another on the default backend. The same secrets as
    /// [`compute`](Self::compute) one by one, and as constant-time: every lane has its own
    /// exponent and base, and which job is in which lane depends only on their order.
    pub fn compute_batch(jobs: Vec<Job>) -> Vec<Computed> {
        Self::compute_batch_on(jobs, None)
    }

    /// [`compute_batch`](Self::compute_batch) on a named multi-buffer backend (the
    /// tests run every runnable one).
    fn compute_batch_on(jobs: Vec<Job>, on: Option<MultiBackend>) -> Vec<Computed> {
        let peers: Vec<U768> = jobs.iter().map(|j| j.peer.0).collect();
        // Copies of the private exponents, wiped when dropped (SecretExponent's Drop).
        let exps: Vec<SecretExponent> = jobs
            .iter()
            .map(|j| j.own_private.exponent().clone())
            .collect();
        let mut out = vec![U768::ZERO; jobs.len()];
        oakley::batch(Some(&peers), &exps, &mut out, on);
        let computed = jobs
            .into_iter()
            .zip(out.iter())
            .map(|(job, z)| Computed {
                own: job.own,
                peer: job.peer,
                secret: SharedSecret(z.to_be_bytes()),
            })
            .collect();
        // The raw secrets: overwritten before the buffer is freed.
        out.fill(U768::ZERO);
        core::hint::black_box(&out);
        computed
    }
}

/// Whether computing misses as one batch ([`Job::compute_batch`]) is faster here than one
/// by one: only where the 8-lane AVX-512 IFMA kernel runs. Elsewhere the batch API runs
/// the same single exponentiations one after another (`MultiBackend::Each`), so it
/// gains nothing, and a job would wait for the others in its batch.
pub fn batching_pays() -> bool {
    !matches!(MultiBackend::best(), MultiBackend::Each(_))
}

/// Prints nothing of the key.
impl core::fmt::Debug for Job {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Job { .. }")
    }
}

/// A computed shared secret, with the keys it belongs to.
pub struct Computed {
    own: PublicKey,
    peer: PublicKey,
    secret: SharedSecret,
}

impl Computed {
    /// The shared secret.
    pub fn secret(&self) -> &SharedSecret {
        &self.secret
    }
}

/// Prints nothing of the secret.
impl core::fmt::Debug for Computed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Computed { .. }")
    }
}

/// What [`KeyCache::lookup_detached`] found.
#[allow(
    clippy::large_enum_variant,
    reason = "used at once, never stored in bulk; boxing would allocate per lookup"
)]
#[derive(Debug)]
pub enum Detached {
    /// The secret, from the cache.
    Hit(SharedSecret),
    /// Not cached: compute it with the job.
    Miss(Job),
}

fn copy_key(k: &PrivateKey) -> Option<PrivateKey> {
    let mut bytes = k.to_be_bytes();
    let copy = PrivateKey::from_be_bytes(&bytes);
    bytes.zeroize();
    copy
}

impl<const N: usize> KeyCache<N> {
    /// The shared secret of our pair whose public half is `own` with `peer` if it is
    /// cached, else the job that computes it; `None` when `own` is no pair of ours (as
    /// [`shared_secret_for`](Self::shared_secret_for): the current pair, or the previous
    /// one within its grace). Never computes, never rotates.
    pub fn lookup_detached(&mut self, own: &PublicKey, peer: &PublicKey) -> Option<Detached> {
        // Public keys are public: comparing them may take variable time.
        if self.is_current(own) {
            if let Some(secret) = self.cached(peer) {
                return Some(Detached::Hit(secret));
            }
            let (private, _, _) = self.own()?;
            return Some(Detached::Miss(Job {
                own_private: copy_key(private)?,
                own: *own,
                peer: *peer,
            }));
        }
        let (old, _) = self.previous.as_ref()?;
        if old.public() != *own {
            return None;
        }
        Some(Detached::Miss(Job {
            own_private: copy_key(old.private())?,
            own: *own,
            peer: *peer,
        }))
    }

    /// Stores a computed secret, if it belongs to our current pair and its peer is not
    /// cached meanwhile (a secret of the previous pair is not cached, as in
    /// [`shared_secret_for`](Self::shared_secret_for)). Returns whether it was stored.
    pub fn remember_computed(&mut self, computed: &Computed) -> bool {
        if !self.is_current(&computed.own) || self.cached(&computed.peer).is_some() {
            return false;
        }
        self.remember(computed.peer, computed.secret.clone());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Lookup;

    fn pair() -> crate::keys::KeyPair {
        crate::keys::KeyPair::generate(&mut getrandom::SysRng).expect("rng")
    }

    #[test]
    fn a_detached_miss_gives_what_the_cache_would() {
        let mut cache = KeyCache::<4>::new(100);
        let own = cache
            .own_public_key(1, &mut getrandom::SysRng)
            .expect("rng");
        let peer = pair().public();
        let Some(Detached::Miss(job)) = cache.lookup_detached(&own, &peer) else {
            panic!("an empty cache misses");
        };
        let computed = job.compute();
        assert!(cache.remember_computed(&computed));
        assert!(!cache.remember_computed(&computed), "stored once");
        let Some(Detached::Hit(hit)) = cache.lookup_detached(&own, &peer) else {
            panic!("now a hit");
        };
        assert_eq!(hit, *computed.secret());
        let (z, lookup) = cache.shared_secret_for(&own, &peer).expect("ours");
        assert_eq!((z, lookup), (hit, Lookup::Hit));
        assert!(cache.lookup_detached(&pair().public(), &peer).is_none());
    }

    #[test]
    fn a_batch_gives_the_secrets_of_single_computations() {
        // Two own pairs (jobs of the current and the previous pair share a batch), and
        // eleven peers: more than one group of eight lanes, the last one partial.
        let owns = [pair(), pair()];
        let peers: Vec<crate::keys::KeyPair> = (0..11).map(|_| pair()).collect();
        let jobs = || -> Vec<Job> {
            peers
                .iter()
                .enumerate()
                .map(|(i, peer)| {
                    let own = &owns[i & 1];
                    Job {
                        own_private: copy_key(own.private()).expect("a valid key"),
                        own: own.public(),
                        peer: peer.public(),
                    }
                })
                .collect()
        };
        // What each side computes alone: the peer's view is an independent check.
        let expected: Vec<SharedSecret> = peers
            .iter()
            .enumerate()
            .map(|(i, peer)| {
                let z = shared_secret(owns[i & 1].private(), &peer.public());
                assert_eq!(z, shared_secret(peer.private(), &owns[i & 1].public()));
                z
            })
            .collect();
        let mut ran = 0;
        for on in MultiBackend::runnable() {
            let batch = Job::compute_batch_on(jobs(), Some(on));
            assert_eq!(batch.len(), expected.len(), "backend {}", on.name());
            for (i, computed) in batch.iter().enumerate() {
                assert_eq!(*computed.secret(), expected[i], "backend {}", on.name());
                assert_eq!(computed.own, owns[i & 1].public());
                assert_eq!(computed.peer, peers[i].public());
            }
            ran += 1;
        }
        assert!(
            ran >= 2,
            "at least the portable and this CPU's default backend"
        );
        let best = Job::compute_batch(jobs());
        assert!(best.iter().map(Computed::secret).eq(expected.iter()));
        assert!(Job::compute_batch(Vec::new()).is_empty());
    }

    #[test]
    fn a_secret_of_a_rotated_pair_is_not_cached() {
        let mut cache = KeyCache::<4>::new(10);
        let old = cache
            .own_public_key(1, &mut getrandom::SysRng)
            .expect("rng");
        let peer = pair().public();
        let Some(Detached::Miss(job)) = cache.lookup_detached(&old, &peer) else {
            panic!("miss");
        };
        let new = cache
            .own_public_key(20, &mut getrandom::SysRng)
            .expect("rng");
        assert_ne!(old, new);
        let computed = job.compute();
        assert!(!cache.remember_computed(&computed));
        let (z, _) = cache.shared_secret_for(&old, &peer).expect("grace");
        assert_eq!(z, *computed.secret());
        assert!(matches!(
            cache.lookup_detached(&old, &peer),
            Some(Detached::Miss(_))
        ));
    }
}
