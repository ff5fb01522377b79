//! Unit tests that need the crate's private paths: the fast generator against the literal one.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

extern crate std;

use super::plain::Plain;
use super::*;
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

fn plain_bytes(key: &[u8], iv: Option<&[u8]>, len: usize) -> ([u8; 1024], u32) {
    let mut p = Plain::new(key, iv);
    let mut out = [0u8; 1024];
    for c in out[..len.next_multiple_of(4)].chunks_exact_mut(4) {
        c.copy_from_slice(&p.next_word().to_be_bytes());
    }
    (out, p.konst())
}

#[test]
fn plain_matches_worked_example() {
    let (ks, _) = plain_bytes(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], None, 32);
    assert_eq!(
        ks[..32],
        hex_literal::hex!("870b6926801a4810263d650b4ad85c9a733f33555c656483e9c0246dd26d1703")
    );
}

#[test]
fn fast_keying_matches_plain_konst() {
    let (_, konst) = plain_bytes(b"test key 128bits", None, 0);
    assert_eq!(konst, 0xf6b8_511b);
    assert_eq!(keying::load(b"test key 128bits", None).1, konst);
}

proptest! {
    #[test]
    fn fast_path_agrees_with_plain_path(
        key in proptest::collection::vec(any::<u8>(), 1..=32),
        iv in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=32)),
        len in 0usize..1000,
        split in 0usize..1000,
    ) {
        let (want, _) = plain_bytes(&key, iv.as_deref(), len);
        let mut c = T32::with_key_and_iv(&key, iv.as_deref()).unwrap();
        let mut got = [0u8; 1024];
        let split = split.min(len);
        c.apply_keystream(&mut got[..split]);
        c.apply_keystream(&mut got[split..len]);
        prop_assert_eq!(&got[..len], &want[..len]);
    }

    #[test]
    fn fast_word_generator_agrees_with_plain(
        key in proptest::collection::vec(any::<u8>(), 1..=32),
        sizes in proptest::collection::vec(0usize..300, 1..6),
    ) {
        let mut p = Plain::new(&key, None);
        let mut s = Stream::new(&key, None);
        let mut buf = [0u8; 4 * 300];
        for n in sizes {
            bulk::fill(&mut s, &mut buf[..4 * n]);
            for w in buf[..4 * n].chunks_exact(4) {
                prop_assert_eq!(w, p.next_word().to_be_bytes());
            }
        }
    }
}

#[test]
fn konst_vectors() {
    let mut seen = 0;
    for v in ssmail_vectors::t32_vectors() {
        if let ssmail_vectors::T32Vector::Konst { line, key, konst } = v {
            assert_eq!(keying::load(&key, None).1, konst, "line {line}");
            assert_eq!(Plain::new(&key, None).konst(), konst, "line {line}");
            seen += 1;
        }
    }
    assert!(seen >= 1);
}

proptest! {
    /// Every path's raw generator, below its length threshold too, in runs of random
    /// sizes (each a fresh window over the saved state).
    #[test]
    fn every_generator_agrees_with_plain(
        key in proptest::collection::vec(any::<u8>(), 1..=32),
        iv in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=32)),
        sizes in proptest::collection::vec(0usize..700, 1..6),
    ) {
        for path in T32Path::runnable() {
            let mut p = Plain::new(&key, iv.as_deref());
            let mut s = Stream::new(&key, iv.as_deref());
            let mut buf = [0u8; 4 * 700];
            for &n in &sizes {
                fill_on(path, &mut s, &mut buf[..4 * n]);
                for w in buf[..4 * n].chunks_exact(4) {
                    prop_assert_eq!(w, p.next_word().to_be_bytes(), "{}", path);
                }
            }
        }
    }
}

/// The published keystreams (shorter than the vector paths' thresholds) through every
/// path's raw generator.
#[test]
fn every_generator_gives_the_published_streams() {
    let mut seen = 0;
    for v in ssmail_vectors::t32_vectors() {
        let ssmail_vectors::T32Vector::Stream {
            line,
            key,
            iv,
            keystream,
        } = v
        else {
            continue;
        };
        for path in T32Path::runnable() {
            let mut s = Stream::new(&key, iv.as_deref());
            let mut buf = vec![0u8; keystream.len().next_multiple_of(4)];
            fill_on(path, &mut s, &mut buf);
            assert_eq!(
                buf[..keystream.len()],
                keystream[..],
                "line {line} path {path}"
            );
        }
        seen += 1;
    }
    assert_eq!(seen, 2);
}

/// Applies `c`'s keystream to `len` zero bytes in pieces of the given sizes (cycled; if
/// they are all empty, the rest goes in one piece after them).
fn pieces_of(mut c: T32, len: usize, pieces: &[usize]) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut at = 0;
    for (i, &p) in pieces.iter().cycle().enumerate() {
        if at == len {
            break;
        }
        let n = if i >= pieces.len() && pieces.iter().all(|&p| p == 0) {
            len - at
        } else {
            p.min(len - at)
        };
        c.apply_keystream(&mut out[at..at + n]);
        at += n;
    }
    out
}

fn plain_vec(key: &[u8], iv: Option<&[u8]>, len: usize) -> Vec<u8> {
    let mut p = Plain::new(key, iv);
    let mut out = Vec::with_capacity(len + 4);
    while out.len() < len {
        out.extend_from_slice(&p.next_word().to_be_bytes());
    }
    out.truncate(len);
    out
}

/// Piece sizes that cross word, control-word and batch boundaries awkwardly.
const AWKWARD: [usize; 10] = [0, 1, 3, 4, 5, 63, 64, 65, 4095, 4097];

proptest! {
    #[test]
    fn every_path_agrees_with_portable_and_plain(
        key in proptest::collection::vec(any::<u8>(), 1..=32),
        iv in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=32)),
        len in 0usize..20_000,
        pieces in proptest::collection::vec(proptest::sample::select(&AWKWARD[..]), 1..12),
    ) {
        let want = plain_vec(&key, iv.as_deref(), len);
        let portable = T32::with_path(&key, iv.as_deref(), T32Path::Portable).unwrap();
        prop_assert_eq!(&pieces_of(portable, len, &pieces), &want);
        for path in T32Path::runnable() {
            let c = T32::with_path(&key, iv.as_deref(), path).unwrap();
            prop_assert_eq!(c.path(), path);
            prop_assert_eq!(&pieces_of(c.clone(), len, &[len.max(1)]), &want, "{} whole", path);
            prop_assert_eq!(&pieces_of(c, len, &pieces), &want, "{} in {:?}", path, &pieces);
        }
    }
}

#[test]
fn path_names_and_defaults() {
    assert_eq!(T32Path::ALL[0], T32Path::Portable);
    for &p in T32Path::ALL {
        assert_eq!(T32Path::from_name(p.name()), Some(p));
    }
    assert_eq!(T32Path::from_name("nonesuch"), None);
    assert!(T32Path::Portable.is_runnable());
    assert!(T32Path::best().is_runnable());
    // The trial at first use chose once: every later call gives the same path.
    assert_eq!(T32Path::best(), T32Path::best());
}

#[test]
fn set_default_forces_and_releases() {
    // Other tests may run meanwhile; every path gives the same keystream, so forcing
    // one changes no result.
    for path in T32Path::runnable() {
        assert!(T32Path::set_default(Some(path)));
        assert_eq!(T32Path::default_path(), path);
        assert_eq!(T32::new_from_slice(&[1; 10]).unwrap().path(), path);
    }
    assert!(T32Path::set_default(None));
    assert_eq!(T32Path::default_path(), T32Path::best());
}
