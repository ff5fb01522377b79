//! The key cache's policy under a flood of one-off public keys (docs/xcrypt.md §5.1):
//! peers that come back keep hitting, whatever the flood; rotation still empties the
//! cache; the capacity holds; and every hit is the secret a miss computes.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use proptest::prelude::*;
use rand_core::TryRng as _;
use ssmail_core::cache::PREVIOUS_PAIR_GRACE_SECS;
use ssmail_core::{KeyCache, Lookup, PrivateKey, PublicKey, shared_secret};

#[path = "support/test_rng.rs"]
mod test_rng;
use test_rng::TestRng;

/// A peer whose private key we know, to check secrets from its side.
fn peer(seed: u64) -> (PrivateKey, PublicKey) {
    let k = PrivateKey::generate(&mut TestRng(seed)).unwrap();
    let p = k.public_key();
    (k, p)
}

/// A stream of valid public keys, each used once: what a flooding client sends.
struct OneOff(TestRng);

impl OneOff {
    fn next(&mut self) -> PublicKey {
        let mut b = [0u8; 96];
        self.0.try_fill_bytes(&mut b).unwrap();
        // Below 2^767: under the prime, so a valid key unless it is 0 or 1.
        b[0] &= 0x7f;
        b[1] |= 1;
        PublicKey::from_be_bytes(&b).unwrap()
    }
}

/// Sends `count` one-off keys, checking the capacity after each.
fn flood<const N: usize>(cache: &mut KeyCache<N>, keys: &mut OneOff, count: usize, now: u64) {
    let rng = &mut TestRng(77);
    for _ in 0..count {
        let (_, how) = cache.shared_secret(now, &keys.next(), rng).unwrap();
        assert_eq!(how, Lookup::Miss, "a one-off key cannot hit");
        assert!(cache.len() <= N);
    }
}

// Every one-off key costs a real Diffie-Hellman computation (this file took 2.8-7.6 s
// on i686 under CI's rustc 1.85, by the load, and 0.5-3 s natively, on a shared 2-core
// EPYC), hence the small capacities and counts.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    /// Seen twice, a peer outlives any number of one-off keys: here 100 × N.
    #[test]
    fn a_returning_peer_survives_a_hundred_times_the_capacity_of_one_off_keys(
        seen in 2usize..5,
        seed in 1u64..u64::MAX,
        before in 0usize..20,
    ) {
        const N: usize = 8;
        let rng = &mut TestRng(3);
        let mut cache: KeyCache<N> = KeyCache::new(7200);
        let mut keys = OneOff(TestRng(seed));
        let (peer_private, p) = peer((seed & 1023) + 1);
        // Some one-off keys first, so that the peer does not find an empty cache.
        flood(&mut cache, &mut keys, before, 10);
        for _ in 0..seen {
            cache.shared_secret(10, &p, rng).unwrap();
        }
        flood(&mut cache, &mut keys, 100 * N, 11);
        let (z, how) = cache.shared_secret(12, &p, rng).unwrap();
        prop_assert_eq!(how, Lookup::Hit);
        let own = cache.own_public_key(12, rng).unwrap();
        prop_assert_eq!(z, shared_secret(&peer_private, &own));
    }

    /// Any mix of a few returning peers and one-off keys: the capacity holds, and every
    /// secret, hit or miss, is the one the peer computes.
    #[test]
    fn hits_and_misses_give_the_peers_secret_and_the_capacity_holds(
        ops in proptest::collection::vec((0u8..8, 0u64..3), 1..60),
        seed in 1u64..u64::MAX,
    ) {
        const N: usize = 4;
        let rng = &mut TestRng(seed);
        let mut cache: KeyCache<N> = KeyCache::new(50);
        let peers: Vec<_> = (1..=4).map(peer).collect();
        let mut keys = OneOff(TestRng(seed ^ 0x5555));
        let mut now = 0;
        for (who, step) in ops {
            now += step * 10;
            let own = cache.own_public_key(now, rng).unwrap();
            match peers.get(usize::from(who)) {
                Some((k, p)) => {
                    let (z, _) = cache.shared_secret_for(&own, p).unwrap();
                    prop_assert_eq!(z, shared_secret(k, &own));
                }
                None => {
                    let (_, how) = cache.shared_secret_for(&own, &keys.next()).unwrap();
                    prop_assert_eq!(how, Lookup::Miss);
                }
            }
            prop_assert!(cache.len() <= N);
        }
    }
}

#[test]
fn a_known_peer_keeps_hitting_while_one_off_keys_turn_the_cache_over() {
    // Between two of the known peer's sessions come 1.5 × N one-off keys: an LRU cache
    // would have forgotten it every time.
    const N: usize = 32;
    let rng = &mut TestRng(5);
    let mut cache: KeyCache<N> = KeyCache::new(7200);
    let mut keys = OneOff(TestRng(6));
    let (_, known) = peer(7);
    let mut hits = 0;
    let rounds = 30;
    for round in 0..rounds {
        flood(&mut cache, &mut keys, N + (N >> 1), round);
        if cache.shared_secret(round, &known, rng).unwrap().1 == Lookup::Hit {
            hits += 1;
        }
    }
    assert!(hits * 10 >= rounds * 9, "{hits} hits of {rounds}");
}

#[test]
fn rotation_empties_the_cache_and_the_known_peer_is_back_after_one_miss() {
    const N: usize = 32;
    let rng = &mut TestRng(8);
    let mut cache: KeyCache<N> = KeyCache::new(100);
    let mut keys = OneOff(TestRng(9));
    let (peer_private, known) = peer(10);
    for t in 0..3 {
        cache.shared_secret(t, &known, rng).unwrap();
        flood(&mut cache, &mut keys, N, t);
    }
    assert_eq!(cache.shared_secret(50, &known, rng).unwrap().1, Lookup::Hit);
    let old = cache.own_public_key(50, rng).unwrap();
    // The pair expires: everything is forgotten, the known peer first of all.
    let new = cache.own_public_key(100, rng).unwrap();
    assert_ne!(new, old);
    assert!(cache.is_empty());
    // An exchange begun with the old pair finishes within the grace period.
    let (z, how) = cache.shared_secret_for(&old, &known).unwrap();
    assert_eq!(how, Lookup::Miss);
    assert_eq!(z, shared_secret(&peer_private, &old));
    assert!(cache.is_empty(), "the old pair's secrets are not cached");
    // The known peer misses once with the new pair, then hits through the flood: how
    // often it came is not forgotten at a rotation (it says nothing of our keys).
    flood(&mut cache, &mut keys, N, 101);
    assert_eq!(
        cache.shared_secret(102, &known, rng).unwrap().1,
        Lookup::Miss
    );
    flood(&mut cache, &mut keys, 2 * N, 103);
    let (z, how) = cache.shared_secret(104, &known, rng).unwrap();
    assert_eq!(how, Lookup::Hit);
    assert_eq!(z, shared_secret(&peer_private, &new));
    // After the grace period the old pair serves no more.
    cache
        .own_public_key(100 + PREVIOUS_PAIR_GRACE_SECS, rng)
        .unwrap();
    assert!(cache.shared_secret_for(&old, &known).is_none());
}
