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

/// Processes sharing one file: [`CacheFile::own_key_pair`] and
/// [`CacheFile::shared_secret_for`]. Threads stand in for processes here (each has its own
/// `CacheFile`, so its own lock file descriptor, and `flock` excludes those as it does
/// processes); `core/examples/cache_stress.rs` runs real processes.
mod shared {
    use std::io::ErrorKind;
    use std::os::unix::fs::PermissionsExt as _;
    use std::sync::{Arc, Barrier};

    use ssmail_core::cache::file::{CacheFile, KeyPairFrom, Loaded};
    use ssmail_core::{KeyCache, Lookup, PrivateKey, shared_secret};

    use super::{TestRng, peer, temp_dir};

    #[test]
    fn processes_starting_at_once_make_one_key_pair() {
        let dir = temp_dir("at-once");
        let path = dir.join("cache");
        let start = Arc::new(Barrier::new(16));
        let workers: Vec<_> = (0..16u64)
            .map(|w| {
                let (path, start) = (path.clone(), Arc::clone(&start));
                std::thread::spawn(move || {
                    let file = CacheFile::new(&path);
                    let mut c: KeyCache<8> = KeyCache::new(100);
                    start.wait();
                    file.own_key_pair(&mut c, || 1000, &mut TestRng(w + 1))
                        .unwrap()
                })
            })
            .collect();
        let got: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        let created = got
            .iter()
            .filter(|(_, from)| *from == KeyPairFrom::Created(Loaded::Missing))
            .count();
        assert_eq!(created, 1, "{got:?}");
        assert!(got.iter().all(|(k, _)| *k == got[0].0));
        assert!(
            got.iter().all(|(_, from)| matches!(
                from,
                KeyPairFrom::Created(_) | KeyPairFrom::File { .. }
            ))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_pair_rotates_once_at_expiry_and_every_process_follows() {
        let dir = temp_dir("rotate");
        let path = dir.join("cache");
        let (fa, fb) = (CacheFile::new(&path), CacheFile::new(&path));
        let mut a: KeyCache<8> = KeyCache::new(100);
        let mut b: KeyCache<8> = KeyCache::new(100);
        let mut rng = TestRng(5);
        let (k1, from) = fa.own_key_pair(&mut a, || 0, &mut rng).unwrap();
        assert_eq!(from, KeyPairFrom::Created(Loaded::Missing));
        assert_eq!(
            fb.own_key_pair(&mut b, || 50, &mut rng).unwrap(),
            (k1, KeyPairFrom::File { peers: 0 })
        );
        // Unchanged file, pair within its lifetime: no read.
        assert_eq!(
            fb.own_key_pair(&mut b, || 99, &mut rng).unwrap(),
            (k1, KeyPairFrom::Memory)
        );
        // B begins an exchange with k1 just before the rotation.
        let p = peer(40);
        let (k2, from) = fa.own_key_pair(&mut a, || 100, &mut rng).unwrap();
        assert_eq!(from, KeyPairFrom::Created(Loaded::Stale));
        assert_ne!(k2, k1);
        assert_eq!(
            fb.own_key_pair(&mut b, || 101, &mut rng).unwrap(),
            (k2, KeyPairFrom::File { peers: 0 })
        );
        assert_eq!(b.rotations(), 2, "k1, then k2, both taken from the file");
        // The exchange begun with k1 still finishes (the previous pair's grace).
        let (z, how) = fb.shared_secret_for(&mut b, &k1, &p).unwrap().unwrap();
        assert_eq!(how, Lookup::Miss);
        let p_private = PrivateKey::generate(&mut TestRng(40)).unwrap();
        assert_eq!(z, shared_secret(&p_private, &k1));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_miss_finds_what_another_process_recorded() {
        let dir = temp_dir("peers");
        let path = dir.join("cache");
        let (fa, fb) = (CacheFile::new(&path), CacheFile::new(&path));
        let mut a: KeyCache<8> = KeyCache::new(100);
        let mut b: KeyCache<8> = KeyCache::new(100);
        let mut rng = TestRng(6);
        let (k, _) = fa.own_key_pair(&mut a, || 10, &mut rng).unwrap();
        fb.own_key_pair(&mut b, || 10, &mut rng).unwrap();
        let p = peer(41);
        let (za, how) = fa.shared_secret_for(&mut a, &k, &p).unwrap().unwrap();
        assert_eq!(how, Lookup::Miss);
        // B never computed it: the secret comes from A, through the file.
        let (zb, how) = fb.shared_secret_for(&mut b, &k, &p).unwrap().unwrap();
        assert_eq!((how, &zb), (Lookup::Hit, &za));
        let p_private = PrivateKey::generate(&mut TestRng(41)).unwrap();
        assert_eq!(zb, shared_secret(&p_private, &k));
        // A key that is not ours: no secret, and no I/O error.
        assert!(fb.shared_secret_for(&mut b, &p, &p).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_peer_in_the_file_is_a_hit_even_when_our_memory_is_full() {
        let dir = temp_dir("full");
        let path = dir.join("cache");
        let (fa, fb) = (CacheFile::new(&path), CacheFile::new(&path));
        let mut a: KeyCache<8> = KeyCache::new(100);
        let mut rng = TestRng(19);
        let (k, _) = fa.own_key_pair(&mut a, || 0, &mut rng).unwrap();
        let peers: Vec<_> = (50..53).map(peer).collect();
        for p in &peers {
            fa.shared_secret_for(&mut a, &k, p).unwrap().unwrap();
        }
        // Room for two: the file's first two peers fill it.
        let mut b: KeyCache<2> = KeyCache::new(100);
        assert_eq!(
            fb.own_key_pair(&mut b, || 1, &mut rng).unwrap(),
            (k, KeyPairFrom::File { peers: 3 })
        );
        assert_eq!(b.len(), 2);
        let (z, how) = fb
            .shared_secret_for(&mut b, &k, &peers[2])
            .unwrap()
            .unwrap();
        assert_eq!(how, Lookup::Hit);
        let p_private = PrivateKey::generate(&mut TestRng(52)).unwrap();
        assert_eq!(z, shared_secret(&p_private, &k));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_pair_within_its_lifetime_is_never_replaced() {
        let dir = temp_dir("intruder");
        let path = dir.join("cache");
        let file = CacheFile::new(&path);
        let mut a: KeyCache<8> = KeyCache::new(100);
        let (k, _) = file.own_key_pair(&mut a, || 0, &mut TestRng(7)).unwrap();
        // A process that made its own pair in memory, later in the same lifetime.
        let mut intruder: KeyCache<8> = KeyCache::new(100);
        let mine = intruder.own_public_key(30, &mut TestRng(8)).unwrap();
        file.save(&intruder).unwrap();
        let mut check: KeyCache<8> = KeyCache::new(100);
        file.load(&mut check, 40).unwrap();
        assert_eq!(check.own_public_key(40, &mut TestRng(9)).unwrap(), k);
        // own_key_pair makes the intruder take the file's pair; its own stays previous.
        let (got, from) = CacheFile::new(&path)
            .own_key_pair(&mut intruder, || 41, &mut TestRng(10))
            .unwrap();
        assert_eq!((got, from), (k, KeyPairFrom::File { peers: 0 }));
        assert!(intruder.shared_secret_for(&mine, &peer(42)).is_some());
        // Once the file's pair has expired, a save of a pair made after that replaces it.
        let mut later: KeyCache<8> = KeyCache::new(100);
        let newer = later.own_public_key(100, &mut TestRng(11)).unwrap();
        file.save(&later).unwrap();
        let mut check: KeyCache<8> = KeyCache::new(100);
        file.load(&mut check, 101).unwrap();
        assert_eq!(check.own_public_key(101, &mut TestRng(12)).unwrap(), newer);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_lost_or_damaged_file_gets_the_pair_in_use_back() {
        let dir = temp_dir("restore");
        let path = dir.join("cache");
        let file = CacheFile::new(&path);
        let mut a: KeyCache<8> = KeyCache::new(100);
        let mut rng = TestRng(13);
        let (k, _) = file.own_key_pair(&mut a, || 0, &mut rng).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            file.own_key_pair(&mut a, || 1, &mut rng).unwrap(),
            (k, KeyPairFrom::Restored(Loaded::Missing))
        );
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[100] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let (got, from) = file.own_key_pair(&mut a, || 2, &mut rng).unwrap();
        assert_eq!(got, k);
        assert!(
            matches!(from, KeyPairFrom::Restored(Loaded::Corrupt(_))),
            "{from:?}"
        );
        // And another process now finds it there.
        let mut b: KeyCache<8> = KeyCache::new(100);
        assert_eq!(
            CacheFile::new(&path)
                .own_key_pair(&mut b, || 3, &mut rng)
                .unwrap(),
            (k, KeyPairFrom::File { peers: 0 })
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stale_temporary_files_of_killed_writers_break_nothing() {
        let dir = temp_dir("stale-tmp");
        let path = dir.join("cache");
        // What killed writers leave: a half-written temporary file (this version's name,
        // and an earlier version's with a pid), even with a mode we would refuse.
        std::fs::write(dir.join("cache.tmp"), b"SSMAILKC half").unwrap();
        std::fs::write(dir.join("cache.tmp4242"), b"junk").unwrap();
        std::fs::set_permissions(
            dir.join("cache.tmp"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        // Not ours to remove: a name that only begins like ours.
        std::fs::write(dir.join("cache.tmpx"), b"other").unwrap();
        let file = CacheFile::new(&path);
        let mut a: KeyCache<8> = KeyCache::new(100);
        let (k, from) = file.own_key_pair(&mut a, || 0, &mut TestRng(14)).unwrap();
        assert_eq!(from, KeyPairFrom::Created(Loaded::Missing));
        assert!(!dir.join("cache.tmp").exists());
        assert!(!dir.join("cache.tmp4242").exists());
        assert!(dir.join("cache.tmpx").exists());
        let mut b: KeyCache<8> = KeyCache::new(100);
        assert_eq!(
            CacheFile::new(&path).load(&mut b, 1).unwrap(),
            Loaded::Adopted { peers: 0 }
        );
        assert_eq!(b.own_public_key(1, &mut TestRng(15)).unwrap(), k);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Every entry point refuses the file, and leaves it as it was.
    fn assert_refused(path: &std::path::Path, what: &str) {
        let before = std::fs::read(path).ok();
        let file = CacheFile::new(path.with_file_name("cache"));
        let mut c: KeyCache<8> = KeyCache::new(100);
        let errors = [
            file.load(&mut c, 1).unwrap_err(),
            file.own_key_pair(&mut c, || 1, &mut TestRng(16))
                .unwrap_err(),
        ];
        for e in errors {
            assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{what}: {e}");
            assert!(e.to_string().contains("refused"), "{what}: {e}");
        }
        assert!(c.is_empty() && c.rotations() == 0, "{what}");
        let mut other: KeyCache<8> = KeyCache::new(100);
        other.own_public_key(1, &mut TestRng(17)).unwrap();
        let e = file.save(&other).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{what}: {e}");
        assert_eq!(
            std::fs::read(path).ok(),
            before,
            "{what}: the file was changed"
        );
    }

    #[test]
    fn a_file_not_owner_only_is_refused_and_left_alone() {
        let dir = temp_dir("owner");
        let path = dir.join("cache");
        let lock = dir.join("cache.lock");
        let mut a: KeyCache<8> = KeyCache::new(100);
        CacheFile::new(&path)
            .own_key_pair(&mut a, || 0, &mut TestRng(18))
            .unwrap();
        let mode = |p: &std::path::Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        };
        for (m, what) in [
            (0o640, "group-readable"),
            (0o604, "other-readable"),
            (0o620, "group-writable"),
        ] {
            mode(&path, m);
            assert_refused(&path, what);
        }
        mode(&path, 0o600);
        mode(&lock, 0o644);
        assert_refused(&path, "lock file other-readable");
        mode(&lock, 0o600);
        // Another user's file (only root can make one to test with).
        if euid_is_root() {
            std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
            assert_refused(&path, "owned by nobody");
            std::os::unix::fs::chown(&path, Some(0), None).unwrap();
        } else {
            eprintln!("not root: the foreign-owner case is not run");
        }
        // A symbolic link, even to a good file of ours.
        std::fs::rename(&path, dir.join("real")).unwrap();
        std::os::unix::fs::symlink(dir.join("real"), &path).unwrap();
        assert_refused(&path, "symbolic link");
        // Put right, the same file is used again.
        std::fs::remove_file(&path).unwrap();
        std::fs::rename(dir.join("real"), &path).unwrap();
        let mut b: KeyCache<8> = KeyCache::new(100);
        assert!(matches!(
            CacheFile::new(&path).load(&mut b, 1).unwrap(),
            Loaded::Adopted { .. }
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn file_keys_share_one_pair_and_fall_back_to_memory_when_the_file_is_refused() {
        use ssmail_core::cache::file::FileKeys;
        use ssmail_core::xcrypt::KeySource as _;
        let dir = temp_dir("file-keys");
        let path = dir.join("cache");
        let (fa, fb) = (CacheFile::new(&path), CacheFile::new(&path));
        let mut a: KeyCache<8> = KeyCache::new(100);
        let mut b: KeyCache<8> = KeyCache::new(100);
        let (mut ra, mut rb) = (TestRng(20), TestRng(21));
        let p = peer(60);
        let p_private = PrivateKey::generate(&mut TestRng(60)).unwrap();
        let mut ka = FileKeys::new(&fa, &mut a, || 5, &mut ra);
        let own = ka.own_public_key().unwrap();
        assert_eq!(ka.lookup, None);
        let za = ka.shared_secret(&own, &p).unwrap();
        assert!(ka.error.is_none());
        assert_eq!(ka.lookup, Some(Lookup::Miss));
        let mut kb = FileKeys::new(&fb, &mut b, || 6, &mut rb);
        assert_eq!(kb.own_public_key().unwrap(), own);
        assert_eq!(kb.shared_secret(&own, &p).unwrap(), za);
        // Found in the file A wrote: a hit, though B never met this peer.
        assert_eq!(kb.lookup, Some(Lookup::Hit));
        assert_eq!(za, shared_secret(&p_private, &own));
        assert_ne!(kb.nonce().unwrap(), kb.nonce().unwrap());
        assert!(kb.error.is_none());
        // B's secret came from the file: it never computed one.
        assert_eq!(b.shared_secret_for(&own, &p).unwrap().1, Lookup::Hit);

        // A refused file: the exchange goes on in memory, and the error is kept.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let before = std::fs::read(&path).unwrap();
        let mut c: KeyCache<8> = KeyCache::new(100);
        let mut rc = TestRng(22);
        let fc = CacheFile::new(&path);
        let mut kc = FileKeys::new(&fc, &mut c, || 7, &mut rc);
        let mine = kc.own_public_key().unwrap();
        assert_ne!(mine, own);
        assert_eq!(
            kc.error.as_ref().map(std::io::Error::kind),
            Some(ErrorKind::PermissionDenied)
        );
        kc.error = None;
        let z = kc.shared_secret(&mine, &p).unwrap();
        assert_eq!(kc.lookup, Some(Lookup::Miss));
        assert_eq!(z, shared_secret(&p_private, &mine));
        assert!(kc.error.is_some());
        assert_eq!(std::fs::read(&path).unwrap(), before);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn euid_is_root() -> bool {
        // The owner of a file we just made is our effective uid.
        let probe = temp_dir("euid").join("probe");
        std::fs::write(&probe, b"").unwrap();
        let uid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&probe).unwrap());
        std::fs::remove_dir_all(probe.parent().unwrap()).unwrap();
        uid == 0
    }
}
