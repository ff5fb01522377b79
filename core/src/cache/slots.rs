//! The body of the key cache: up to `N` peers with their shared secrets, kept by
//! W-TinyLFU (Einziger, Friedman and Manes, "TinyLFU: a highly efficient cache admission
//! policy", 2017; the layout Caffeine and moka use), so that a flood of one-off public
//! keys cannot flush the peers that come back.
//!
//! - A small admission *window* (1% of `N`, at least one slot), least recently used
//!   first out: every new peer enters here, so a burst of new peers can still hit.
//! - A *main* part, a segmented LRU: *probation* for peers admitted from the window,
//!   *protected* (80% of the main part) for peers that were hit, in the window or in
//!   probation. (Caffeine leaves a window hit in the window; here a hit is taken as the
//!   proof of a returning peer wherever it happens, so that a peer that came back
//!   while it was still cached is out of a flood's reach at once.) Protected peers
//!   leave only to make room for other peers that were hit: one-off keys, which are
//!   never hit, cannot push them out, however many there are.
//! - When the cache is full, the peer leaving the window (the *candidate*) replaces the
//!   least recently used peer of probation (the *victim*) only if the frequency sketch
//!   says it was seen more often lately (ties keep the victim); otherwise the candidate
//!   is the one forgotten, and the victim, having held its place, goes to the back of
//!   probation (so that a flood's candidates meet each probation peer in turn, not one
//!   peer again and again). So a peer that misses again (its first visit was forgotten
//!   before it came back) is admitted over the one-off keys that fill probation, and
//!   its next visit is a hit.
//!
//! Recency is a use counter per slot and the least recently used of each segment is
//! found by one scan: `N` is a few thousand at most, the scan reads 16 bytes per slot,
//! and it runs on misses (and when a hit overflows the protected segment) only, beside
//! a Diffie-Hellman computation that costs far more. Lookups
//! scan a separate array of 64-bit keyed hashes and compare 96-byte keys only where
//! the hash matches.

use rand_core::TryCryptoRng;

use super::siphash::SipKey;
use super::sketch::Sketch;
use crate::agreement::SharedSecret;
use crate::keys::PublicKey;

/// Where a slot stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Free = 0,
    Window = 1,
    Probation = 2,
    Protected = 3,
}

/// What the eviction scans read per slot: kept apart from the keys and secrets (and
/// from the hashes the lookups scan) so that scans read little memory.
#[derive(Clone, Copy)]
struct Meta {
    /// The use counter at the last use: smaller is less recent.
    used: u64,
    segment: Segment,
}

const FREE: Meta = Meta {
    used: 0,
    segment: Segment::Free,
};

/// One peer's key and secret.
struct Entry {
    peer: PublicKey,
    secret: SharedSecret,
}

/// Up to `N` peers kept by W-TinyLFU.
pub(crate) struct Slots<const N: usize> {
    entries: [Option<Entry>; N],
    /// Each slot's peer's keyed hash (sketch place and lookup filter; meaningless for a
    /// free slot). Apart, so that a lookup reads 8 bytes per slot.
    hashes: [u64; N],
    meta: [Meta; N],
    /// Slots per segment, indexed by `Segment as usize`.
    count: [usize; 4],
    /// The use counter (the caller's clock may stand still).
    tick: u64,
    /// The keyed hash, set once from the caller's RNG ([`seed`](Self::seed)); until
    /// then a fixed key, as good as any for traffic that is not aimed at it.
    key: SipKey,
    seeded: bool,
    sketch: Sketch<N>,
}

impl<const N: usize> Slots<N> {
    /// The window's size: 1% of `N`, at least one slot.
    #[allow(
        clippy::integer_division_remainder_used,
        reason = "of the capacity, a public constant"
    )]
    const WINDOW: usize = if N / 100 > 1 { N / 100 } else { 1 };
    /// The protected segment's size: 80% of the main part.
    #[allow(
        clippy::integer_division_remainder_used,
        reason = "of the capacity, a public constant"
    )]
    const PROTECTED: usize = (N - Self::WINDOW) * 4 / 5;

    /// No peers.
    pub(crate) fn new() -> Self {
        Self {
            entries: core::array::from_fn(|_| None),
            hashes: [0; N],
            meta: [FREE; N],
            count: [N, 0, 0, 0],
            tick: 0,
            key: SipKey::default(),
            seeded: false,
            sketch: Sketch::new(),
        }
    }

    /// Keys the hash from `rng` if that was not done yet. The key must be one no peer
    /// can learn; it is drawn from the RNG, never from our key pair, so it says nothing
    /// of our keys even if it leaked (it chooses sketch counters, which are memory
    /// addresses). A failed RNG leaves the hash as it was, to be keyed next time.
    pub(crate) fn seed<R: TryCryptoRng + ?Sized>(&mut self, rng: &mut R) {
        if self.seeded {
            return;
        }
        let mut k = [0u8; 16];
        if rng.try_fill_bytes(&mut k).is_err() {
            return;
        }
        self.key = SipKey::from_bytes(&k);
        self.seeded = true;
        // Every peer's hash changes: the sketch starts over, the slots are rehashed.
        self.sketch.clear();
        for (h, e) in self.hashes.iter_mut().zip(&self.entries) {
            if let Some(e) = e {
                *h = self.key.hash(&e.peer.to_be_bytes());
            }
        }
    }

    fn hash(&self, peer: &PublicKey) -> u64 {
        self.key.hash(&peer.to_be_bytes())
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    fn set_segment(&mut self, at: usize, segment: Segment) {
        self.count[self.meta[at].segment as usize] -= 1;
        self.count[segment as usize] += 1;
        self.meta[at].segment = segment;
    }

    /// The slot of `peer` (whose hash is `hash`), if cached.
    fn find(&self, peer: &PublicKey, hash: u64) -> Option<usize> {
        // Public keys are public: comparing them may take variable time.
        (0..N).find(|&i| {
            self.hashes[i] == hash
                && self.meta[i].segment != Segment::Free
                && self.entries[i].as_ref().is_some_and(|e| e.peer == *peer)
        })
    }

    /// The least recently used slot of each segment, in one scan (indexed by
    /// `Segment as usize`; the free segment's entry means nothing).
    fn lru_all(&self) -> [Option<usize>; 4] {
        let mut best: [Option<usize>; 4] = [None; 4];
        for (i, m) in self.meta.iter().enumerate() {
            let b = &mut best[m.segment as usize];
            if b.is_none_or(|j| m.used < self.meta[j].used) {
                *b = Some(i);
            }
        }
        best
    }

    /// A free slot, if any.
    fn free_slot(&self) -> Option<usize> {
        if self.count[Segment::Free as usize] == 0 {
            return None;
        }
        (0..N).find(|&i| self.meta[i].segment == Segment::Free)
    }

    /// The least recently used slot of `segment`.
    fn lru(&self, segment: Segment) -> Option<usize> {
        if self.count[segment as usize] == 0 {
            return None;
        }
        (0..N)
            .filter(|&i| self.meta[i].segment == segment)
            .min_by_key(|&i| self.meta[i].used)
    }

    /// Records a use of `peer` and returns its secret if it is cached (a hit proves a
    /// returning peer: it becomes protected).
    pub(crate) fn get(&mut self, peer: &PublicKey) -> Option<SharedSecret> {
        self.use_of(peer, true)
    }

    /// As [`get`](Self::get), but a miss is not recorded: for a look that a full
    /// lookup (recorded) follows when it misses, so that one use counts once.
    #[cfg(all(feature = "std", unix))]
    pub(crate) fn get_if_cached(&mut self, peer: &PublicKey) -> Option<SharedSecret> {
        self.use_of(peer, false)
    }

    fn use_of(&mut self, peer: &PublicKey, record_miss: bool) -> Option<SharedSecret> {
        let hash = self.hash(peer);
        let found = self.find(peer, hash);
        if found.is_some() || record_miss {
            self.sketch.record(hash);
        }
        let at = found?;
        let tick = self.next_tick();
        self.meta[at].used = tick;
        if self.meta[at].segment != Segment::Protected {
            self.set_segment(at, Segment::Protected);
            if self.count[Segment::Protected as usize] > Self::PROTECTED {
                if let Some(out) = self.lru(Segment::Protected) {
                    // Back to probation as its most recent peer.
                    self.set_segment(out, Segment::Probation);
                    self.meta[out].used = tick;
                }
            }
        }
        self.entries[at].as_ref().map(|e| e.secret.clone())
    }

    /// Stores a peer that [`get`](Self::get) just missed (so its use is recorded). It
    /// enters the window; what leaves the window is admitted to the main part, or not,
    /// by the sketch. The new peer itself is always stored.
    pub(crate) fn insert(&mut self, peer: PublicKey, secret: SharedSecret) {
        let hash = self.hash(&peer);
        let at = match self.free_slot() {
            Some(free) => {
                self.place(free, peer, secret, hash, Segment::Window);
                if self.count[Segment::Window as usize] > Self::WINDOW {
                    if let Some(out) = self.lru(Segment::Window) {
                        // Into probation as its most recent peer.
                        self.set_segment(out, Segment::Probation);
                        self.meta[out].used = self.next_tick();
                    }
                }
                return;
            }
            None => self.slot_to_reuse(),
        };
        self.set_segment(at, Segment::Free);
        self.place(at, peer, secret, hash, Segment::Window);
    }

    /// In a full cache, the slot a new window peer takes: the window's least recently
    /// used peer if it loses to probation's, else probation's (the candidate moving to
    /// probation in its place).
    fn slot_to_reuse(&mut self) -> usize {
        let lru = self.lru_all();
        let victim = lru[Segment::Probation as usize].or(lru[Segment::Protected as usize]);
        let Some(candidate) = lru[Segment::Window as usize] else {
            // No window (the main part was filled from a file): the main part gives way.
            return victim.unwrap_or(0);
        };
        let Some(victim) = victim else {
            return candidate;
        };
        if self.count[Segment::Window as usize] < Self::WINDOW {
            // The window has room to grow (it was filled from a file): no contest.
            return victim;
        }
        let wins = self.sketch.estimate(self.hashes[candidate])
            > self.sketch.estimate(self.hashes[victim]);
        if wins {
            self.set_segment(candidate, Segment::Probation);
            self.meta[candidate].used = self.next_tick();
            victim
        } else {
            // The victim held its place: it goes to the back of probation, so that the
            // next candidate meets another peer. Otherwise one peer would face every
            // candidate of a flood, and sooner or later one whose estimate collisions
            // lifted (a one-off key's, say) would beat a peer seen only once so far.
            self.meta[victim].used = self.next_tick();
            candidate
        }
    }

    fn place(
        &mut self,
        at: usize,
        peer: PublicKey,
        secret: SharedSecret,
        hash: u64,
        segment: Segment,
    ) {
        let used = self.next_tick();
        self.entries[at] = Some(Entry { peer, secret });
        self.hashes[at] = hash;
        self.meta[at] = Meta {
            used,
            segment: Segment::Free,
        };
        self.set_segment(at, segment);
    }

    /// Adds `peer` to probation if it is not cached and a slot is free (peers taken over
    /// from a file: known, but not known to be used here). Returns false when full.
    #[cfg(all(feature = "std", unix))]
    pub(crate) fn add_if_room(&mut self, peer: PublicKey, secret: SharedSecret) -> bool {
        let hash = self.hash(&peer);
        if self.find(&peer, hash).is_some() {
            return true;
        }
        let Some(free) = self.free_slot() else {
            return false;
        };
        self.place(free, peer, secret, hash, Segment::Probation);
        true
    }

    /// Forgets every peer (their secrets belong to a retired key pair). The sketch is
    /// kept: how often a peer comes is a fact about the peer, not about our keys, and a
    /// peer that came often is let back in at once.
    pub(crate) fn clear(&mut self) {
        self.entries.iter_mut().for_each(|e| *e = None);
        self.meta = [FREE; N];
        self.count = [N, 0, 0, 0];
    }

    /// Peers cached.
    pub(crate) fn len(&self) -> usize {
        N - self.count[Segment::Free as usize]
    }

    /// The cached peers and their secrets.
    #[cfg(all(feature = "std", unix))]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&PublicKey, &SharedSecret)> {
        self.entries.iter().flatten().map(|e| (&e.peer, &e.secret))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
    use super::{Segment, Slots};
    use crate::agreement::SharedSecret;
    use crate::keys::PublicKey;

    fn key(i: u8) -> PublicKey {
        let mut b = [0u8; 96];
        b[1] = 1;
        b[95] = i;
        PublicKey::from_be_bytes(&b).unwrap()
    }

    /// A fixed "RNG" for `seed`.
    struct Fixed;
    impl rand_core::TryRng for Fixed {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(0x1234_5678)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(0x1234_5678_9abc_def0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.iter_mut()
                .enumerate()
                .for_each(|(i, b)| *b = i as u8 ^ 0x5a);
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for Fixed {}

    fn check_counts<const N: usize>(s: &Slots<N>) {
        for seg in [
            Segment::Free,
            Segment::Window,
            Segment::Probation,
            Segment::Protected,
        ] {
            let n = s.meta.iter().filter(|m| m.segment == seg).count();
            assert_eq!(n, s.count[seg as usize], "{seg:?}");
        }
        assert!(s.count[Segment::Protected as usize] <= Slots::<N>::PROTECTED);
    }

    #[test]
    fn peers_stored_before_the_hash_is_keyed_are_found_after() {
        let mut s: Slots<8> = Slots::new();
        for i in 0..6 {
            s.insert(key(i), SharedSecret([i; 96]));
        }
        s.seed(&mut Fixed);
        assert!(s.seeded);
        for i in 0..6 {
            assert_eq!(s.get(&key(i)).unwrap().0, [i; 96]);
        }
        check_counts(&s);
    }

    #[test]
    fn segment_counts_and_sizes_hold_through_any_mix() {
        let mut s: Slots<16> = Slots::new();
        let mut x: u32 = 1;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // A few returning peers among many others.
            let k = key(if x & 3 == 0 {
                (x >> 8) as u8 & 7
            } else {
                (x >> 8) as u8
            });
            if s.get(&k).is_none() {
                s.insert(k, SharedSecret([0; 96]));
            }
            check_counts(&s);
            assert!(s.len() <= 16);
            assert!(s.count[Segment::Window as usize] <= Slots::<16>::WINDOW);
        }
    }
}
