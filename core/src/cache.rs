//! The key cache of docs/xcrypt.md §5: our own key pair with the time it was made, and for
//! each peer public key seen, the shared secret computed with it. `no_std`, no
//! allocation: the capacity `N` is fixed by the caller. A full cache chooses whom to
//! forget by W-TinyLFU (`slots`): recency, and how often each peer was seen lately, so
//! that a flood of one-off public keys cannot push out the peers that come back
//! (docs/xcrypt.md §5.1). The clock is the caller's (seconds, any epoch), since `no_std`
//! has none.
//!
//! The cache never changes what goes on the wire: a hit returns exactly the shared
//! secret a miss would compute.

#[cfg(all(feature = "std", unix))]
pub mod detached;
#[cfg(all(feature = "std", unix))]
pub mod file;
mod siphash;
mod sketch;
mod slots;

use core::fmt;

use rand_core::TryCryptoRng;

use crate::agreement::{SharedSecret, shared_secret};
#[cfg(all(feature = "std", unix))]
use crate::keys::PrivateKey;
use crate::keys::{KeyPair, PublicKey};
use slots::Slots;

/// The default key lifetime: two hours (docs/xcrypt.md §1).
pub const DEFAULT_LIFETIME_SECS: u64 = 2 * 60 * 60;

/// How long after a rotation the previous key pair still finishes the exchanges that
/// were begun with it (an exchange waits one round trip between handing out its public
/// key and computing the shared secret; on a busy server another session may rotate the
/// pair in between). Ten minutes: RFC 5321's longest reply timeout.
pub const PREVIOUS_PAIR_GRACE_SECS: u64 = 600;

/// Whether `span` seconds have passed since `since` as of `now`; a clock that went
/// backwards counts as passed (safer than trusting it).
pub(crate) fn aged(since: u64, now: u64, span: u64) -> bool {
    now.checked_sub(since).is_none_or(|age| age >= span)
}

/// Whether a lookup found the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The shared secret came from the cache.
    Hit,
    /// It was computed (and is now cached).
    Miss,
}

/// Our key pair and the shared secrets with up to `N` peers.
pub struct KeyCache<const N: usize> {
    lifetime: u64,
    own: Option<(KeyPair, u64)>,
    /// The pair before `own`, and when it was retired: kept for the grace period only.
    previous: Option<(KeyPair, u64)>,
    /// The current pair's peers.
    body: Slots<N>,
    rotations: u64,
}

impl<const N: usize> KeyCache<N> {
    /// An empty cache whose own key pair lives `lifetime_secs` seconds.
    ///
    /// # Panics
    /// If `N` is 0: a cache must hold at least one peer.
    pub fn new(lifetime_secs: u64) -> Self {
        assert!(N > 0, "a key cache needs room for at least one peer");
        Self {
            lifetime: lifetime_secs,
            own: None,
            previous: None,
            body: Slots::new(),
            rotations: 0,
        }
    }

    /// Our public key as of `now`, making a new key pair (and emptying the cache) first
    /// if there is none or it is older than the lifetime.
    ///
    /// # Errors
    /// The RNG's error, when a new key pair is needed and it fails.
    pub fn own_public_key<R: TryCryptoRng + ?Sized>(
        &mut self,
        now: u64,
        rng: &mut R,
    ) -> Result<PublicKey, R::Error> {
        let expired = match &self.own {
            None => true,
            Some((_, made)) => aged(*made, now, self.lifetime),
        };
        if expired {
            let new = KeyPair::generate(rng)?;
            self.replace_pair(new, now, now);
        }
        // After the pair, so that a seeded test RNG still makes the keys it made before.
        self.body.seed(rng);
        self.end_grace(now);
        Ok(self
            .own
            .as_ref()
            .map(|(k, _)| k.public())
            .expect("just made"))
    }

    /// The shared secret with `peer` as of `now`: from the cache on a hit, computed and
    /// stored on a miss (a full cache forgets a peer: see the module's doc).
    /// Rotates our key pair first if it has expired, as [`own_public_key`] does.
    ///
    /// [`own_public_key`]: Self::own_public_key
    ///
    /// # Errors
    /// The RNG's error, when a new key pair is needed and it fails.
    pub fn shared_secret<R: TryCryptoRng + ?Sized>(
        &mut self,
        now: u64,
        peer: &PublicKey,
        rng: &mut R,
    ) -> Result<(SharedSecret, Lookup), R::Error> {
        self.own_public_key(now, rng)?;
        Ok(self.lookup_with_current(peer))
    }

    /// The shared secret of the key pair whose public half is `own` with `peer`, or
    /// `None` if that pair is no longer ours. Never rotates: a client that sent `own` in
    /// its `XCRYPT` command must finish the exchange with the same pair, even if it
    /// expires in the meantime. A pair rotated out less than
    /// [`PREVIOUS_PAIR_GRACE_SECS`] ago still serves (computed afresh, not cached: the
    /// cache belongs to the current pair); one rotated out before that, or two rotations
    /// back, does not.
    pub fn shared_secret_for(
        &mut self,
        own: &PublicKey,
        peer: &PublicKey,
    ) -> Option<(SharedSecret, Lookup)> {
        match (&self.own, &self.previous) {
            (Some((pair, _)), _) if pair.public() == *own => Some(self.lookup_with_current(peer)),
            (_, Some((old, _))) if old.public() == *own => {
                Some((shared_secret(old.private(), peer), Lookup::Miss))
            }
            _ => None,
        }
    }

    /// Makes `pair` (made at `made`) ours as of `now`: the pair it replaces becomes the
    /// previous pair, and the body is emptied (it belongs to the old pair).
    fn replace_pair(&mut self, pair: KeyPair, made: u64, now: u64) {
        self.previous = self.own.replace((pair, made)).map(|(old, _)| (old, now));
        self.body.clear();
        self.rotations += 1;
    }

    /// Forgets the previous pair once its grace is over as of `now` (done whenever a
    /// public key is handed out).
    pub(crate) fn end_grace(&mut self, now: u64) {
        let grace_over =
            |&(_, retired): &(KeyPair, u64)| aged(retired, now, PREVIOUS_PAIR_GRACE_SECS);
        if self.previous.as_ref().is_some_and(grace_over) {
            self.previous = None;
        }
    }

    /// The lookup proper, with the current key pair (there must be one).
    fn lookup_with_current(&mut self, peer: &PublicKey) -> (SharedSecret, Lookup) {
        if let Some(secret) = self.body.get(peer) {
            return (secret, Lookup::Hit);
        }
        let (pair, _) = self.own.as_ref().expect("callers make the pair first");
        let secret = shared_secret(pair.private(), peer);
        self.body.insert(*peer, secret.clone());
        (secret, Lookup::Miss)
    }

    /// Keys the policy's hash from `rng` if that was not done yet (for callers that
    /// hand out keys without [`own_public_key`](Self::own_public_key): the cache file).
    #[cfg(all(feature = "std", unix))]
    pub(crate) fn seed_policy<R: TryCryptoRng + ?Sized>(&mut self, rng: &mut R) {
        self.body.seed(rng);
    }

    /// Our key pair and when it was made, if there is one.
    #[cfg(all(feature = "std", unix))]
    pub(crate) fn own(&self) -> Option<(&PrivateKey, PublicKey, u64)> {
        self.own
            .as_ref()
            .map(|(k, t)| (k.private(), k.public(), *t))
    }

    /// The cached peers and their shared secrets.
    #[cfg(all(feature = "std", unix))]
    pub(crate) fn peers(&self) -> impl Iterator<Item = (&PublicKey, &SharedSecret)> {
        self.body.iter()
    }

    /// Whether `own` is the public half of our current key pair.
    #[cfg(all(feature = "std", unix))]
    pub(crate) fn is_current(&self, own: &PublicKey) -> bool {
        // Public keys are public: comparing them may take variable time.
        self.own.as_ref().is_some_and(|(k, _)| k.public() == *own)
    }

    /// The cached shared secret of the current pair with `peer`, if there is one (never
    /// computed here). A hit counts as a use of `peer`; a miss does not, since the
    /// caller then asks [`shared_secret_for`](Self::shared_secret_for), which counts it.
    #[cfg(all(feature = "std", unix))]
    pub(crate) fn cached(&mut self, peer: &PublicKey) -> Option<SharedSecret> {
        self.body.get_if_cached(peer)
    }

    /// Stores `secret` as the current pair's with `peer` (a peer [`cached`] just missed),
    /// as a miss would.
    ///
    /// [`cached`]: Self::cached
    #[cfg(all(feature = "std", unix))]
    pub(crate) fn remember(&mut self, peer: PublicKey, secret: SharedSecret) {
        self.body.insert(peer, secret);
    }

    /// Takes over a key pair made at `made` (by another process, say) as of `now`, with
    /// the shared secrets computed with it. A different pair than ours replaces ours,
    /// which stays the previous pair for its grace (so that exchanges begun with it
    /// finish); the same pair only gains the peers we lack. Peers beyond the capacity
    /// are left out.
    #[cfg(all(feature = "std", unix))]
    pub(crate) fn adopt(
        &mut self,
        pair: KeyPair,
        made: u64,
        now: u64,
        peers: impl Iterator<Item = (PublicKey, SharedSecret)>,
    ) {
        // Same pair when the public halves agree (the private halves are never compared).
        if !self.is_current(&pair.public()) {
            self.replace_pair(pair, made, now);
        }
        self.add_peers(peers);
    }

    /// Adds the peers we lack to the current pair's body, while there is room.
    #[cfg(all(feature = "std", unix))]
    pub(crate) fn add_peers(&mut self, peers: impl Iterator<Item = (PublicKey, SharedSecret)>) {
        for (peer, secret) in peers {
            if !self.body.add_if_room(peer, secret) {
                break;
            }
        }
    }

    /// The key lifetime in seconds.
    pub fn lifetime(&self) -> u64 {
        self.lifetime
    }

    /// Peers currently cached.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Whether no peer is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many times our key pair has changed so far: made here, or taken over from a
    /// cache file (`cache::file`, with the `std` feature).
    pub fn rotations(&self) -> u64 {
        self.rotations
    }
}

/// Prints counts only: no key, no secret.
impl<const N: usize> fmt::Debug for KeyCache<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache")
            .field("capacity", &N)
            .field("peers", &self.len())
            .field("lifetime_secs", &self.lifetime)
            .finish_non_exhaustive()
    }
}
