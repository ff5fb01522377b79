//! Every published vector, applied in one call and in pieces of every length 1..=255.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use ssmail_ciphers::Paths as _;
use ssmail_ciphers::{Arrsyfor, KeyInit, KeyIvInit, StreamCipher, T32, T32Path};
use ssmail_vectors::{T32Vector, arrsyfor_vectors, t32_vectors};

/// Keystream of `len` bytes, applied to zeros in pieces of `piece` bytes.
fn keystream_in_pieces<C: StreamCipher>(mut c: C, len: usize, piece: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for chunk in out.chunks_mut(piece) {
        c.apply_keystream(chunk);
    }
    out
}

#[test]
fn arrsyfor_rfc6229_whole_and_in_every_piece_length() {
    let vectors = arrsyfor_vectors();
    assert_eq!(vectors.len(), 40);
    for v in &vectors {
        let end = v.offset + v.keystream.len();
        for piece in 1..=255 {
            let c = Arrsyfor::new_from_slice(&v.key).unwrap();
            let ks = keystream_in_pieces(c, end, piece);
            assert_eq!(
                ks[v.offset..],
                v.keystream[..],
                "line {} piece {piece}",
                v.line
            );
        }
        let c = Arrsyfor::new_from_slice(&v.key).unwrap();
        assert_eq!(
            keystream_in_pieces(c, end, end)[v.offset..],
            v.keystream[..]
        );
    }
}

fn t32(key: &[u8], iv: Option<&[u8]>) -> T32 {
    match iv {
        Some(iv) => T32::new_from_slices(key, iv).unwrap(),
        None => T32::new_from_slice(key).unwrap(),
    }
}

/// Every t32 path this CPU runs: each must give every vector.
fn t32_paths() -> Vec<T32Path> {
    let paths: Vec<T32Path> = T32Path::runnable().collect();
    assert!(paths.contains(&T32Path::Portable));
    paths
}

#[test]
fn t32_streams_whole_and_in_every_piece_length() {
    let mut seen = 0;
    for v in t32_vectors() {
        let T32Vector::Stream {
            line,
            key,
            iv,
            keystream,
        } = v
        else {
            continue;
        };
        for piece in 1..=255 {
            let ks = keystream_in_pieces(t32(&key, iv.as_deref()), keystream.len(), piece);
            assert_eq!(ks, keystream, "line {line} piece {piece}");
        }
        for path in t32_paths() {
            for piece in [1, 3, 4, 5, 63, 64, 65, keystream.len()] {
                let c = T32::with_path(&key, iv.as_deref(), path).unwrap();
                let ks = keystream_in_pieces(c, keystream.len(), piece);
                assert_eq!(ks, keystream, "line {line} path {path} piece {piece}");
            }
        }
        seen += 1;
    }
    assert_eq!(seen, 2);
}

#[test]
fn t32_qualcomm_iterated_vector() {
    let mut seen = 0;
    for v in t32_vectors() {
        let T32Vector::Iterated {
            line,
            key,
            iv,
            count,
            result,
        } = v
        else {
            continue;
        };
        for path in t32_paths() {
            let c = T32::with_path(&key, iv.as_deref(), path).unwrap();
            let mut buf = keystream_in_pieces(c, 40, 40);
            for _ in 0..count {
                let mut c = T32::with_path(&buf[..16], None, path).unwrap();
                c.apply_keystream(&mut buf);
            }
            assert_eq!(buf, result, "line {line} path {path}");
        }
        seen += 1;
    }
    assert_eq!(seen, 1);
}

#[test]
fn t32_worked_example_first_mebibyte_digest() {
    use sha2::{Digest, Sha256};
    let key = hex_literal::hex!("0102030405060708090a");
    let ks = keystream_in_pieces(<T32 as KeyInit>::new(&key.into()), 1 << 20, 1 << 20);
    assert_eq!(
        <[u8; 32]>::from(Sha256::digest(&ks)),
        hex_literal::hex!("5b1b518951749367a3ee7c227781f34a66d5fec8e202b2521759431aef78af62")
    );
    // The same stream in odd pieces, and from every path.
    let odd = keystream_in_pieces(<T32 as KeyInit>::new(&key.into()), 1 << 20, 4093);
    assert_eq!(odd, ks);
    for path in t32_paths() {
        for piece in [1 << 20, 4097, 65] {
            let c = T32::with_path(&key, None, path).unwrap();
            assert!(
                keystream_in_pieces(c, 1 << 20, piece) == ks,
                "path {path} piece {piece}"
            );
        }
    }
}

#[test]
fn keys_of_wrong_length_are_refused() {
    assert!(Arrsyfor::new_from_slice(&[]).is_err());
    assert!(Arrsyfor::new_from_slice(&[7; 257]).is_err());
    assert!(Arrsyfor::new_from_slice(&[7; 256]).is_ok());
    assert!(Arrsyfor::new_from_slice(&[7; 1]).is_ok());
    assert!(T32::new_from_slice(&[]).is_err());
    assert!(T32::new_from_slice(&[7; 33]).is_err());
    assert!(T32::new_from_slice(&[7; 32]).is_ok());
    assert!(T32::new_from_slices(&[7; 10], &[1; 33]).is_err());
    assert!(T32::new_from_slices(&[7; 10], &[]).is_ok());
}

#[test]
fn an_empty_iv_is_not_the_same_as_no_iv() {
    let a = keystream_in_pieces(T32::new_from_slice(&[1; 10]).unwrap(), 64, 64);
    let b = keystream_in_pieces(T32::new_from_slices(&[1; 10], &[]).unwrap(), 64, 64);
    assert_ne!(a, b);
}

#[test]
fn debug_prints_no_state() {
    let a = Arrsyfor::new_from_slice(&[1; 10]).unwrap();
    assert_eq!(format!("{a:?}"), "Arrsyfor { ... }");
    fn zeroizes_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}
    zeroizes_on_drop(&a);
    zeroizes_on_drop(&T32::new_from_slice(&[1; 10]).unwrap());
}
