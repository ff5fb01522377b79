//! The key cache: hits agree with misses and with the peer, the own key rotates at the
//! lifetime and the cache empties, and a full cache forgets the peer seen least (the
//! policy under a flood: cache_policy.rs).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use ssmail_core::{KeyCache, Lookup, PrivateKey, PublicKey, derive, shared_secret};

#[path = "support/test_rng.rs"]
mod test_rng;
use test_rng::TestRng;

fn peer(seed: u64) -> (PrivateKey, PublicKey) {
    let k = PrivateKey::generate(&mut TestRng(seed)).unwrap();
    let p = k.public_key();
    (k, p)
}

#[test]
fn a_hit_gives_exactly_what_a_miss_gave_and_what_the_peer_computes() {
    let mut rng = TestRng(1);
    let mut cache: KeyCache<4> = KeyCache::new(7200);
    let (peer_private, peer_public) = peer(99);
    let (miss, how) = cache.shared_secret(100, &peer_public, &mut rng).unwrap();
    assert_eq!(how, Lookup::Miss);
    let (hit, how) = cache.shared_secret(200, &peer_public, &mut rng).unwrap();
    assert_eq!(how, Lookup::Hit);
    assert_eq!(hit, miss);
    let own_public = cache.own_public_key(300, &mut rng).unwrap();
    assert_eq!(shared_secret(&peer_private, &own_public), miss);
    // And so the session keys: the same for a hit as for a miss, and as the peer's.
    let (na, nb) = ([7; 10], [9; 10]);
    let from_miss = derive(miss.as_bytes(), &na, &nb);
    assert_eq!(derive(hit.as_bytes(), &na, &nb), from_miss);
    let peer_side = derive(
        shared_secret(&peer_private, &own_public).as_bytes(),
        &na,
        &nb,
    );
    assert_eq!(peer_side, from_miss);
}

#[test]
fn the_own_key_rotates_at_the_lifetime_and_the_cache_empties() {
    let mut rng = TestRng(2);
    let mut cache: KeyCache<4> = KeyCache::new(7200);
    let (_, p) = peer(5);
    let first = cache.own_public_key(1000, &mut rng).unwrap();
    cache.shared_secret(1000, &p, &mut rng).unwrap();
    assert_eq!(cache.own_public_key(1000 + 7199, &mut rng).unwrap(), first);
    assert_eq!(
        cache.shared_secret(1000 + 7199, &p, &mut rng).unwrap().1,
        Lookup::Hit
    );
    let second = cache.own_public_key(1000 + 7200, &mut rng).unwrap();
    assert_ne!(second, first);
    assert!(cache.is_empty());
    assert_eq!(
        cache.shared_secret(1000 + 7200, &p, &mut rng).unwrap().1,
        Lookup::Miss
    );
    assert_eq!(cache.rotations(), 2);
    // A clock that goes backwards is not trusted: new key.
    assert_ne!(cache.own_public_key(500, &mut rng).unwrap(), second);
}

#[test]
fn an_exchange_begun_before_a_rotation_finishes_within_the_grace_period_only() {
    use ssmail_core::cache::PREVIOUS_PAIR_GRACE_SECS as GRACE;
    let mut rng = TestRng(4);
    let (peer_private, p) = peer(6);
    let mut cache: KeyCache<4> = KeyCache::new(1000);
    // A session hands out the current key...
    let old = cache.own_public_key(0, &mut rng).unwrap();
    // ...another session rotates it before the first gets its reply...
    let new = cache.own_public_key(1000, &mut rng).unwrap();
    assert_ne!(new, old);
    // ...and the first still gets the secret the peer computes with the old key.
    let (z, how) = cache.shared_secret_for(&old, &p).unwrap();
    assert_eq!(how, Lookup::Miss);
    assert_eq!(z, shared_secret(&peer_private, &old));
    // Not cached under the new pair: the new pair's lookup is a miss of its own.
    assert_eq!(cache.shared_secret_for(&new, &p).unwrap().1, Lookup::Miss);
    // Within the grace period the old pair still serves; after it, not.
    cache.own_public_key(1000 + GRACE - 1, &mut rng).unwrap();
    assert!(cache.shared_secret_for(&old, &p).is_some());
    assert_eq!(cache.own_public_key(1000 + GRACE, &mut rng).unwrap(), new);
    assert!(cache.shared_secret_for(&old, &p).is_none(), "grace over");
    assert!(cache.shared_secret_for(&new, &p).is_some());
    // Two rotations back is too far, whatever the clock says.
    let mut quick: KeyCache<4> = KeyCache::new(10);
    let a = quick.own_public_key(0, &mut rng).unwrap();
    quick.own_public_key(10, &mut rng).unwrap();
    let c = quick.own_public_key(20, &mut rng).unwrap();
    assert!(quick.shared_secret_for(&a, &p).is_none());
    assert!(quick.shared_secret_for(&c, &p).is_some());
}

#[test]
fn a_full_cache_forgets_the_peer_seen_least() {
    let mut rng = TestRng(3);
    let mut cache: KeyCache<2> = KeyCache::new(7200);
    let (_, x) = peer(10);
    let (_, y) = peer(11);
    let (_, z) = peer(12);
    cache.shared_secret(0, &x, &mut rng).unwrap();
    cache.shared_secret(0, &y, &mut rng).unwrap();
    cache.shared_secret(0, &x, &mut rng).unwrap(); // x is hit: seen twice
    cache.shared_secret(0, &z, &mut rng).unwrap(); // y, seen once, makes room
    assert_eq!(cache.len(), 2);
    assert_eq!(cache.shared_secret(0, &x, &mut rng).unwrap().1, Lookup::Hit);
    assert_eq!(cache.shared_secret(0, &z, &mut rng).unwrap().1, Lookup::Hit);
    assert_eq!(
        cache.shared_secret(0, &y, &mut rng).unwrap().1,
        Lookup::Miss
    );
    assert!(format!("{cache:?}").contains("peers: 2"));
}

#[test]
fn cached_keys_tell_whether_the_latest_secret_was_a_hit() {
    use ssmail_core::xcrypt::{CachedKeys, KeySource as _};
    let mut rng = TestRng(7);
    let mut cache: KeyCache<4> = KeyCache::new(7200);
    let (peer_private, p) = peer(13);
    let mut keys = CachedKeys::new(&mut cache, 10, &mut rng);
    assert_eq!(keys.lookup, None);
    let own = keys.own_public_key().unwrap();
    let miss = keys.shared_secret(&own, &p).unwrap();
    assert_eq!(keys.lookup, Some(Lookup::Miss));
    assert_eq!(keys.shared_secret(&own, &p).unwrap(), miss);
    assert_eq!(keys.lookup, Some(Lookup::Hit));
    assert_eq!(miss, shared_secret(&peer_private, &own));
    // A key that is not ours fails, and the latest lookup is then none.
    assert!(keys.shared_secret(&p, &p).is_err());
    assert_eq!(keys.lookup, None);
}
