//! Misses computed away from the cache: a server that shares one cache among many
//! sessions must not hold it (its lock, its thread) for a Diffie-Hellman computation,
//! or every hit waits behind every miss. [`KeyCache::lookup_detached`] answers a hit at
//! once and otherwise hands out a [`Job`], which computes the secret wherever the caller
//! likes; [`KeyCache::remember_computed`] then stores it. What goes on the wire is the
//! same as with [`KeyCache::shared_secret_for`].

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
