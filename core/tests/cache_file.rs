//! The key cache file: round trip, owner-only, corruption detected and never used,
//! expiry, and concurrent writers that do not lose each other's peers.
#![cfg(all(feature = "std", unix))]
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use ssmail_core::cache::file::{CacheFile, Loaded};
use ssmail_core::{KeyCache, Lookup, PrivateKey, PublicKey};

#[path = "support/test_rng.rs"]
mod test_rng;
use test_rng::TestRng;

fn peer(seed: u64) -> PublicKey {
    PrivateKey::generate(&mut TestRng(seed))
        .unwrap()
        .public_key()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ssmail-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_saved_cache_is_adopted_by_another_process() {
    let dir = temp_dir("roundtrip");
    let file = CacheFile::new(dir.join("cache"));
    let mut a: KeyCache<8> = KeyCache::new(7200);
    assert_eq!(file.load(&mut a, 100).unwrap(), Loaded::Missing);
    let p = peer(1);
    let (z, how) = a.shared_secret(100, &p, &mut TestRng(9)).unwrap();
    assert_eq!(how, Lookup::Miss);
    file.save(&a).unwrap();
    let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let mut b: KeyCache<8> = KeyCache::new(7200);
    assert_eq!(
        file.load(&mut b, 200).unwrap(),
        Loaded::Adopted { peers: 1 }
    );
    let mut rng = TestRng(77);
    assert_eq!(
        b.own_public_key(200, &mut rng).unwrap(),
        a.own_public_key(200, &mut rng).unwrap()
    );
    assert_eq!(
        b.shared_secret(200, &p, &mut rng).unwrap(),
        (z, Lookup::Hit)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_expired_file_is_not_adopted() {
    let dir = temp_dir("expired");
    let file = CacheFile::new(dir.join("cache"));
    let mut a: KeyCache<4> = KeyCache::new(7200);
    a.shared_secret(0, &peer(2), &mut TestRng(3)).unwrap();
    file.save(&a).unwrap();
    let mut b: KeyCache<4> = KeyCache::new(7200);
    assert_eq!(file.load(&mut b, 7200).unwrap(), Loaded::Stale);
    assert!(b.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_or_truncated_files_are_reported_and_never_used() {
    let dir = temp_dir("corrupt");
    let file = CacheFile::new(dir.join("cache"));
    let mut a: KeyCache<4> = KeyCache::new(7200);
    a.shared_secret(0, &peer(4), &mut TestRng(5)).unwrap();
    file.save(&a).unwrap();
    let good = std::fs::read(file.path()).unwrap();

    let mut flipped = good.clone();
    flipped[300] ^= 1;
    let mut wrong_magic = good.clone();
    wrong_magic[0] = b'X';
    let cases: [(Vec<u8>, &str); 4] = [
        (flipped, "checksum"),
        (good[..good.len() - 1].to_vec(), "checksum"),
        (good[..50].to_vec(), "too short"),
        (wrong_magic, "not an ssmail"),
    ];
    for (bytes, why) in cases {
        std::fs::write(file.path(), &bytes).unwrap();
        let mut b: KeyCache<4> = KeyCache::new(7200);
        match file.load(&mut b, 10).unwrap() {
            Loaded::Corrupt(reason) => assert!(reason.contains(why), "{reason}"),
            other => panic!("{why}: {other:?}"),
        }
        assert!(b.is_empty());
        // The next save replaces the bad file with a good one.
        b.shared_secret(10, &peer(6), &mut TestRng(7)).unwrap();
        file.save(&b).unwrap();
        let mut c: KeyCache<4> = KeyCache::new(7200);
        assert_eq!(file.load(&mut c, 20).unwrap(), Loaded::Adopted { peers: 1 });
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn concurrent_writers_keep_each_others_peers() {
    let dir = temp_dir("concurrent");
    let path = dir.join("cache");
    // One process makes the key pair; eight more adopt it and each meet their own peers.
    let mut first: KeyCache<64> = KeyCache::new(7200);
    first.own_public_key(0, &mut TestRng(11)).unwrap();
    CacheFile::new(&path).save(&first).unwrap();
    let workers: Vec<_> = (0..8u64)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                for i in 0..3u64 {
                    let file = CacheFile::new(&path);
                    let mut c: KeyCache<64> = KeyCache::new(7200);
                    assert!(matches!(
                        file.load(&mut c, 5).unwrap(),
                        Loaded::Adopted { .. }
                    ));
                    c.shared_secret(5, &peer(1000 + 10 * w + i), &mut TestRng(w + 1))
                        .unwrap();
                    file.save(&c).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut all: KeyCache<64> = KeyCache::new(7200);
    assert_eq!(
        CacheFile::new(&path).load(&mut all, 6).unwrap(),
        Loaded::Adopted { peers: 24 }
    );
    for w in 0..8u64 {
        for i in 0..3u64 {
            let (_, how) = all
                .shared_secret(6, &peer(1000 + 10 * w + i), &mut TestRng(1))
                .unwrap();
            assert_eq!(how, Lookup::Hit);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
