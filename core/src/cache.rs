//! The key cache of docs/xcrypt.md §5: our own key pair with the time it was made, and for
//! each peer public key seen, the shared secret computed with it. `no_std`, no
//! allocation: the capacity `N` is fixed by the caller, and a full cache forgets the
//! peer used least recently. The clock is the caller's (seconds, any epoch), since
//! `no_std` has none.
//!
//! The cache never changes what goes on the wire: a hit returns exactly the shared
//! secret a miss would compute.

#[cfg(all(feature = "std", unix))]
pub mod detached;
#[cfg(all(feature = "std", unix))]
pub mod file;

use core::fmt;

use rand_core::TryCryptoRng;

use crate::agreement::{SharedSecret, shared_secret};
#[cfg(all(feature = "std", unix))]
use crate::keys::PrivateKey;
use crate::keys::{KeyPair, PublicKey};

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

/// One peer's entry.
struct Entry {
    peer: PublicKey,
    secret: SharedSecret,
    last_used: u64,
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
    entries: [Option<Entry>; N],
    /// A use counter for least-recently-used eviction (the caller's clock may stand still).
    tick: u64,
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
            entries: core::array::from_fn(|_| None),
            tick: 0,
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
        self.end_grace(now);
        Ok(self
            .own
            .as_ref()
            .map(|(k, _)| k.public())
            .expect("just made"))
    }

    /// The shared secret with `peer` as of `now`: from the cache on a hit, computed and
    /// stored on a miss (evicting the least recently used peer if the cache is full).
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
        self.entries.iter_mut().for_each(|e| *e = None);
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
        self.tick += 1;
        let tick = self.tick;
        // Public keys are public: comparing them may take variable time.
        if let Some(e) = self.entries.iter_mut().flatten().find(|e| e.peer == *peer) {
            e.last_used = tick;
            return (e.secret.clone(), Lookup::Hit);
        }
        let (pair, _) = self.own.as_ref().expect("callers make the pair first");
        let secret = shared_secret(pair.private(), peer);
        let slot = self.slot_for_new();
        *slot = Some(Entry {
            peer: *peer,
            secret: secret.clone(),
            last_used: tick,
        });
        (secret, Lookup::Miss)
    }

    /// An empty slot, or the least recently used one.
    fn slot_for_new(&mut self) -> &mut Option<Entry> {
        let at = match self.entries.iter().position(Option::is_none) {
            Some(free) => free,
            None => self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.as_ref().map_or(0, |e| e.last_used))
                .map_or(0, |(i, _)| i),
        };
        &mut self.entries[at]
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
        self.entries.iter().flatten().map(|e| (&e.peer, &e.secret))
    }

    /// Whether `own` is the public half of our current key pair.
    #[cfg(all(feature = "std", unix))]
    pub(crate) fn is_current(&self, own: &PublicKey) -> bool {
        // Public keys are public: comparing them may take variable time.
        self.own.as_ref().is_some_and(|(k, _)| k.public() == *own)
    }

    /// The cached shared secret of the current pair with `peer`, if there is one (never
    /// computed here).
    #[cfg(all(feature = "std", unix))]
    pub(crate) fn cached(&mut self, peer: &PublicKey) -> Option<SharedSecret> {
        self.tick += 1;
        let tick = self.tick;
        let e = self
            .entries
            .iter_mut()
            .flatten()
            .find(|e| e.peer == *peer)?;
        e.last_used = tick;
        Some(e.secret.clone())
    }

    /// Stores `secret` as the current pair's with `peer` (a peer not cached yet),
    /// evicting the least recently used peer if the body is full.
    #[cfg(all(feature = "std", unix))]
    pub(crate) fn remember(&mut self, peer: PublicKey, secret: SharedSecret) {
        self.tick += 1;
        let last_used = self.tick;
        *self.slot_for_new() = Some(Entry {
            peer,
            secret,
            last_used,
        });
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
            if self.entries.iter().flatten().any(|e| e.peer == peer) {
                continue;
            }
            let Some(slot) = self.entries.iter_mut().find(|e| e.is_none()) else {
                break;
            };
            self.tick += 1;
            *slot = Some(Entry {
                peer,
                secret,
                last_used: self.tick,
            });
        }
    }

    /// The key lifetime in seconds.
    pub fn lifetime(&self) -> u64 {
        self.lifetime
    }

    /// Peers currently cached.
    pub fn len(&self) -> usize {
        self.entries.iter().flatten().count()
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
