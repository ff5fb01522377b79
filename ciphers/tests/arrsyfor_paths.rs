//! Every arrsyfor path that this CPU runs against RFC 6229 and against the portable
//! path: random keys, random data, awkward splits, and long streams (where `j == i + 1`,
//! the aliasing case that the fast paths must get right, happens thousands of times).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
#![allow(
    clippy::integer_division_remainder_used,
    reason = "test arithmetic on public values"
)]

use proptest::prelude::*;
use ssmail_ciphers::Paths as _;
use ssmail_ciphers::{Arrsyfor, ArrsyforPath, KeyInit, StreamCipher};
use ssmail_vectors::arrsyfor_vectors;

/// Applies the keystream of `c` to a copy of `data`, in pieces of the given sizes
/// (cycled; zero-length pieces included), then whatever is left in one call.
fn in_pieces(mut c: Arrsyfor, data: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = data.to_vec();
    let mut start = 0;
    for &n in sizes {
        let end = (start + n).min(out.len());
        c.apply_keystream(&mut out[start..end]);
        start = end;
    }
    c.apply_keystream(&mut out[start..]);
    out
}

fn cipher(key: &[u8], path: ArrsyforPath) -> Arrsyfor {
    let c = Arrsyfor::with_path(key, path).unwrap();
    assert_eq!(c.path(), path);
    c
}

#[test]
fn every_path_meets_rfc6229_whole_and_in_pieces() {
    let vectors = arrsyfor_vectors();
    assert_eq!(vectors.len(), 40);
    for path in ArrsyforPath::runnable() {
        for v in &vectors {
            let end = v.offset + v.keystream.len();
            let zeros = vec![0u8; end];
            for sizes in [
                &[end][..],
                &[1; 4096],
                &[7; 1000],
                &[8; 1000],
                &[9; 1000],
                &[0, 1, 0, 7, 8, 9, 255, 3, 16, 0, 1000],
                &[3, 253, 8, 13, 64, 2],
            ] {
                let ks = in_pieces(cipher(&v.key, path), &zeros, sizes);
                assert_eq!(
                    ks[v.offset..],
                    v.keystream[..],
                    "{} line {} pieces {:?}",
                    path.name(),
                    v.line,
                    &sizes[..sizes.len().min(4)]
                );
            }
        }
    }
}

#[test]
fn every_path_equals_portable_on_long_streams() {
    let data: Vec<u8> = (0..(1usize << 20) + 13)
        .map(|n| (n * 131 + 7) as u8)
        .collect();
    let want_keys: Vec<Vec<u8>> = vec![
        vec![0],
        vec![0xff; 256],
        (0..=255).collect(),
        b"Key".to_vec(),
        vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    ];
    for key in &want_keys {
        let want = in_pieces(cipher(key, ArrsyforPath::Portable), &data, &[]);
        for path in ArrsyforPath::runnable() {
            let got = in_pieces(cipher(key, path), &data, &[]);
            assert!(got == want, "{} key {key:02x?}", path.name());
            let got = in_pieces(cipher(key, path), &data, &[5, 4091, 1, 65_536, 0, 3]);
            assert!(got == want, "{} key {key:02x?} in pieces", path.name());
        }
    }
}

#[test]
fn names_round_trip_and_the_default_can_be_forced() {
    assert_eq!(ArrsyforPath::ALL[0], ArrsyforPath::Portable);
    for &p in ArrsyforPath::ALL {
        assert_eq!(ArrsyforPath::from_name(p.name()), Some(p));
    }
    assert_eq!(ArrsyforPath::from_name("nonesuch"), None);
    assert!(ArrsyforPath::best().is_runnable());
    assert!(ArrsyforPath::Portable.is_runnable());
    // x86_64 chooses by a trial at first use, once: later calls give the same path.
    assert_eq!(ArrsyforPath::best(), ArrsyforPath::best());
    #[cfg(not(target_arch = "x86_64"))]
    assert_eq!(ArrsyforPath::best(), ArrsyforPath::Portable);
    // The global is shared with the other tests of this binary, which only read it
    // through KeyInit; every path gives the same bytes, so their results do not change.
    assert!(ArrsyforPath::set_default(Some(ArrsyforPath::Portable)));
    assert_eq!(ArrsyforPath::default_path(), ArrsyforPath::Portable);
    assert_eq!(
        Arrsyfor::new_from_slice(b"Key").unwrap().path(),
        ArrsyforPath::Portable
    );
    assert!(ArrsyforPath::set_default(None));
    assert_eq!(ArrsyforPath::default_path(), ArrsyforPath::best());
    assert_eq!(Arrsyfor::new(&[7; 10].into()).path(), ArrsyforPath::best());
}

/// Piece sizes around the fast paths' group of eight and the table's 256 entries.
fn piece() -> impl Strategy<Value = usize> {
    prop_oneof![
        prop::sample::select(vec![
            0usize, 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 256, 257
        ]),
        0usize..600,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_path_equals_portable_in_any_pieces(
        key in proptest::collection::vec(any::<u8>(), 1..=256),
        data in proptest::collection::vec(any::<u8>(), 0..5000),
        sizes in proptest::collection::vec(piece(), 0..24),
    ) {
        let want = in_pieces(cipher(&key, ArrsyforPath::Portable), &data, &[]);
        for path in ArrsyforPath::runnable() {
            let whole = in_pieces(cipher(&key, path), &data, &[]);
            prop_assert_eq!(&whole, &want, "{} whole", path.name());
            let pieces = in_pieces(cipher(&key, path), &data, &sizes);
            prop_assert_eq!(&pieces, &want, "{} in pieces", path.name());
            // And back: the same keystream decrypts.
            let back = in_pieces(cipher(&key, path), &pieces, &sizes);
            prop_assert_eq!(&back, &data, "{} back", path.name());
        }
    }
}
