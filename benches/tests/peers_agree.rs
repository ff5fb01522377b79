//! The benchmark peers really compute the same thing as ssmail's ciphers:
//! OpenSSL's RC4 == `Arrsyfor` == the `rc4` crate, and the C `t32-ref-c` == `T32`.

use hex_literal::hex;
use ssmail_benches::{OpensslRc4, T32RefC, seeded_bytes};
use ssmail_ciphers::{Arrsyfor, KeyInit, StreamCipher, T32};

/// Buffer lengths to compare, including partial words and the benchmark's message size.
const LENGTHS: [usize; 8] = [0, 1, 3, 7, 64, 1000, 4097, 14_671];

/// Splits `buf` into chunks of the given sizes (cycled) and applies `f` to each in turn.
fn chunked(buf: &mut [u8], sizes: &[usize], mut f: impl FnMut(&mut [u8])) {
    let mut rest = buf;
    for &n in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (head, tail) = rest.split_at_mut(n.min(rest.len()));
        f(head);
        rest = tail;
    }
}

#[test]
fn openssl_rc4_matches_a_published_vector() {
    // RC4("Key", "Plaintext") from the classic test set.
    let mut buf = *b"Plaintext";
    OpensslRc4::new(b"Key").apply_keystream(&mut buf);
    assert_eq!(buf, hex!("bbf316e8d940af0ad3"));
}

#[test]
fn rc4_peers_agree() {
    for (i, key_len) in [1usize, 5, 10, 16, 32, 255, 256].into_iter().enumerate() {
        let key = seeded_bytes(100 + i as u64, key_len);
        for len in LENGTHS {
            let data = seeded_bytes(200 + len as u64, len);

            let mut ours = data.clone();
            Arrsyfor::new_from_slice(&key)
                .expect("valid key")
                .apply_keystream(&mut ours);

            let mut crate_rc4 = data.clone();
            rc4::Rc4::new_from_slice(&key)
                .expect("valid key")
                .apply_keystream(&mut crate_rc4);

            let mut ossl = data.clone();
            OpensslRc4::new(&key).apply_keystream(&mut ossl);

            // And OpenSSL again in odd-sized pieces: the keystream must continue.
            let mut ossl_chunked = data.clone();
            let mut c = OpensslRc4::new(&key);
            chunked(&mut ossl_chunked, &[1, 5, 17, 300], |p| {
                c.apply_keystream(p)
            });

            assert_eq!(ours, crate_rc4, "rc4 crate, key_len {key_len}, len {len}");
            assert_eq!(ours, ossl, "openssl, key_len {key_len}, len {len}");
            assert_eq!(
                ours, ossl_chunked,
                "openssl chunked, key_len {key_len}, len {len}"
            );
        }
    }
}

#[test]
fn t32_ref_c_layout_matches() {
    assert!(T32RefC::layout_matches_c());
}

#[test]
fn t32_ref_c_worked_example() {
    let key = hex!("0102030405060708090a");
    let want = hex!("870b6926801a4810263d650b4ad85c9a733f33555c656483e9c0246dd26d1703");

    let mut c = T32RefC::new(&key);
    assert_eq!(c.konst(), 0x1a9c_bc44);
    let mut buf = [0u8; 32];
    c.apply_keystream(&mut buf);
    assert_eq!(buf, want);

    let mut ours = [0u8; 32];
    T32::new(&key.into()).apply_keystream(&mut ours);
    assert_eq!(ours, want);
}

#[test]
fn t32_ref_c_konst_matches_published_vector() {
    assert_eq!(T32RefC::new(b"test key 128bits").konst(), 0xf6b8_511b);
}

#[test]
fn t32_peers_agree() {
    for key_len in [1usize, 2, 3, 4, 5, 10, 16, 17, 31, 32] {
        let key = seeded_bytes(300 + key_len as u64, key_len);
        for len in LENGTHS {
            let data = seeded_bytes(400 + len as u64, len);

            let mut ours = data.clone();
            T32::new_from_slice(&key)
                .expect("valid key")
                .apply_keystream(&mut ours);

            let mut refc = data.clone();
            T32RefC::new(&key).apply_keystream(&mut refc);
            assert_eq!(ours, refc, "key_len {key_len}, len {len}");

            // In odd-sized pieces, both sides: partial words must be buffered.
            let mut refc_chunked = data.clone();
            let mut c = T32RefC::new(&key);
            chunked(&mut refc_chunked, &[5, 1, 3, 2, 7, 64], |p| {
                c.apply_keystream(p)
            });
            assert_eq!(ours, refc_chunked, "chunked, key_len {key_len}, len {len}");

            let mut ours_chunked = data.clone();
            let mut t = T32::new_from_slice(&key).expect("valid key");
            chunked(&mut ours_chunked, &[3, 6, 1, 13], |p| t.apply_keystream(p));
            assert_eq!(
                ours, ours_chunked,
                "T32 chunked, key_len {key_len}, len {len}"
            );
        }
    }
}

#[test]
fn t32_peers_agree_over_one_mib() {
    // Long enough to use every S-box and α-table entry many times over.
    let key = hex!("0102030405060708090a");
    let mut ours = vec![0u8; 1 << 20];
    T32::new(&key.into()).apply_keystream(&mut ours);
    let mut refc = vec![0u8; 1 << 20];
    T32RefC::new(&key).apply_keystream(&mut refc);
    assert!(ours == refc, "1 MiB keystreams differ");
}
