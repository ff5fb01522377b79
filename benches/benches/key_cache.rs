//! Criterion benchmarks of the key cache's lookups (docs/xcrypt.md §5.1), W-TinyLFU (the
//! cache today) beside the least-recently-used body it replaced, in the same run. Both
//! hold 1,024 peers (the gateway's and libssmail's capacity) and are full.
//!
//! * `key_cache/hit/wtinylfu` and `key_cache/hit/lru`: the shared secret of a cached
//!   peer (bookkeeping only: no Diffie-Hellman).
//! * `key_cache/miss/wtinylfu` and `key_cache/miss/lru`: a fresh peer key each time,
//!   as in a flood: the shared secret computed, the body updated (a peer forgotten).
//! * `key_cache/miss/dh_only`: the shared secret alone, so that a miss's bookkeeping is
//!   the miss minus this.

use std::hint::black_box;

use criterion::{Criterion, criterion_main};
use ssmail_core::{KeyCache, PrivateKey, PublicKey, SharedSecret, shared_secret};
use ssmail_testkit::rng::TestRng;

const N: usize = 1024;

/// The benchmark's repeatable keys come from the tests' RNG (xorshift64*; not
/// cryptographic), extended here with a peer-key maker.
trait PeerKeys {
    /// A valid peer key (below 2^767, so below the prime).
    fn peer(&mut self) -> PublicKey;
}

impl PeerKeys for TestRng {
    fn peer(&mut self) -> PublicKey {
        use rand_core::TryRng as _;
        let mut b = [0u8; 96];
        let Ok(()) = self.try_fill_bytes(&mut b);
        b[0] &= 0x7f;
        b[1] |= 1;
        PublicKey::from_be_bytes(&b).expect("below the prime and above 1")
    }
}

/// The body before W-TinyLFU, as it was: a slot array scanned for the peer, and on a
/// miss for a free slot or the least recently used one.
struct Lru {
    entries: Vec<Option<(PublicKey, SharedSecret, u64)>>,
    tick: u64,
    private: PrivateKey,
}

impl Lru {
    fn lookup(&mut self, peer: &PublicKey) -> SharedSecret {
        self.tick += 1;
        let tick = self.tick;
        if let Some(e) = self.entries.iter_mut().flatten().find(|e| e.0 == *peer) {
            e.2 = tick;
            return e.1.clone();
        }
        let secret = shared_secret(&self.private, peer);
        let at = match self.entries.iter().position(Option::is_none) {
            Some(free) => free,
            None => self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.as_ref().map_or(0, |e| e.2))
                .map_or(0, |(i, _)| i),
        };
        self.entries[at] = Some((*peer, secret.clone(), tick));
        secret
    }
}

fn key_cache(c: &mut Criterion) {
    let mut rng = TestRng(0x4b43_0001);
    let mut cache: Box<KeyCache<N>> = Box::new(KeyCache::new(u64::MAX));
    let own = cache.own_public_key(0, &mut rng).expect("infallible");
    let mut lru = Lru {
        entries: (0..N).map(|_| None).collect(),
        tick: 0,
        private: PrivateKey::generate(&mut rng).expect("infallible"),
    };
    let peers: Vec<PublicKey> = (0..N).map(|_| rng.peer()).collect();
    for p in &peers {
        cache.shared_secret_for(&own, p).expect("our pair");
        lru.lookup(p);
    }
    assert_eq!(cache.len(), N);
    // Every peer once more: in the new cache they are now protected or probation peers.
    for p in &peers {
        cache.shared_secret_for(&own, p).expect("our pair");
        lru.lookup(p);
    }

    let mut g = c.benchmark_group("key_cache");
    let mut i = 0;
    g.bench_function("hit/wtinylfu", |b| {
        b.iter(|| {
            i = (i + 7) & (N - 1);
            black_box(cache.shared_secret_for(&own, black_box(&peers[i])))
        });
    });
    g.bench_function("hit/lru", |b| {
        b.iter(|| {
            i = (i + 7) & (N - 1);
            black_box(lru.lookup(black_box(&peers[i])))
        });
    });
    let mut fresh = TestRng(0x4b43_0002);
    g.bench_function("miss/wtinylfu", |b| {
        b.iter(|| black_box(cache.shared_secret_for(&own, &fresh.peer())));
    });
    g.bench_function("miss/lru", |b| {
        b.iter(|| black_box(lru.lookup(&fresh.peer())));
    });
    let private = PrivateKey::generate(&mut rng).expect("infallible");
    g.bench_function("miss/dh_only", |b| {
        b.iter(|| black_box(shared_secret(&private, &fresh.peer())));
    });
    g.finish();
}

/// The group, with criterion's command-line configuration.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    key_cache(&mut c);
}

criterion_main!(benches);
