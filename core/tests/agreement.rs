//! Every key-agreement line of the XCRYPT known answers, both directions, and the
//! validation of peers' keys.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use ssmail_core::{PrivateKey, PublicKey, PublicKeyError, derive, shared_secret};

fn arr<const N: usize>(v: &[u8]) -> [u8; N] {
    v.try_into().unwrap()
}

#[test]
fn published_agreements_both_directions() {
    let vectors = ssmail_vectors::agreement_vectors();
    assert_eq!(vectors.len(), 12);
    for v in vectors {
        let ra = PrivateKey::from_be_bytes(&arr(&v.ra)).unwrap();
        let rb = PrivateKey::from_be_bytes(&arr(&v.rb)).unwrap();
        let ka = ra.public_key();
        let kb = rb.public_key();
        assert_eq!(ka.to_be_bytes().to_vec(), v.ka, "line {}: ka", v.line);
        assert_eq!(kb.to_be_bytes().to_vec(), v.kb, "line {}: kb", v.line);
        // The client computes Z from kb, the server from ka: the same secret.
        let za = shared_secret(&ra, &PublicKey::from_be_bytes(&arr(&v.kb)).unwrap());
        let zb = shared_secret(&rb, &PublicKey::from_be_bytes(&arr(&v.ka)).unwrap());
        assert_eq!(za.as_bytes().to_vec(), v.z, "line {}: z (client)", v.line);
        assert_eq!(zb.as_bytes().to_vec(), v.z, "line {}: z (server)", v.line);
        let keys = derive(za.as_bytes(), &arr(&v.na), &arr(&v.nb));
        assert_eq!(
            keys.client_to_server.to_vec(),
            v.c2s,
            "line {}: c2s",
            v.line
        );
        assert_eq!(
            keys.server_to_client.to_vec(),
            v.s2c,
            "line {}: s2c",
            v.line
        );
    }
}

#[test]
fn peer_keys_outside_2_to_p_minus_2_are_refused() {
    let p = ssmail_core::group::P.to_be_bytes();
    let with_last = |base: [u8; 96], last: u8| {
        let mut b = base;
        b[95] = last;
        b
    };
    let zero = [0u8; 96];
    assert_eq!(
        PublicKey::from_be_bytes(&zero),
        Err(PublicKeyError::OutOfRange)
    );
    assert_eq!(
        PublicKey::from_be_bytes(&with_last(zero, 1)),
        Err(PublicKeyError::OutOfRange)
    );
    assert!(PublicKey::from_be_bytes(&with_last(zero, 2)).is_ok());
    assert!(PublicKey::from_be_bytes(&with_last(p, 0xfd)).is_ok()); // p - 2
    assert_eq!(
        PublicKey::from_be_bytes(&with_last(p, 0xfe)),
        Err(PublicKeyError::OutOfRange)
    ); // p - 1
    assert_eq!(
        PublicKey::from_be_bytes(&p),
        Err(PublicKeyError::OutOfRange)
    );
    assert_eq!(
        PublicKey::from_be_bytes(&[0xff; 96]),
        Err(PublicKeyError::OutOfRange)
    );
}

#[test]
fn wire_hex_is_exact() {
    let v = &ssmail_vectors::agreement_vectors()[0];
    let hex: String = v.ka.iter().map(|b| format!("{b:02x}")).collect();
    let k = PublicKey::from_hex(&hex).unwrap();
    assert_eq!(k.to_be_bytes().to_vec(), v.ka);
    assert_eq!(PublicKey::from_hex(&hex.to_uppercase()).unwrap(), k);
    let mut out = [0u8; 192];
    k.write_hex(&mut out);
    assert_eq!(out.to_vec(), hex.as_bytes());
    assert_eq!(
        PublicKey::from_hex(&hex[..190]),
        Err(PublicKeyError::Length { digits: 190 })
    );
    let mut bad = hex.clone();
    bad.replace_range(7..8, "g");
    assert_eq!(
        PublicKey::from_hex(&bad),
        Err(PublicKeyError::NotHex { index: 7 })
    );
}

#[test]
fn private_keys_outside_2_to_p_minus_2_are_refused_and_secrets_do_not_print() {
    assert!(PrivateKey::from_be_bytes(&[0; 96]).is_none());
    let mut one = [0u8; 96];
    one[95] = 1;
    assert!(PrivateKey::from_be_bytes(&one).is_none());
    let p = ssmail_core::group::P.to_be_bytes();
    assert!(PrivateKey::from_be_bytes(&p).is_none());
    let mut pm2 = p;
    pm2[95] = 0xfd;
    let k = PrivateKey::from_be_bytes(&pm2).unwrap();
    assert_eq!(format!("{k:?}"), "PrivateKey { ... }");
    let keys = derive(&[1; 96], &[2; 10], &[3; 10]);
    assert_eq!(format!("{keys:?}"), "DirectionKeys { ... }");
}

/// A deterministic test RNG: not for keys, only to drive `generate` in a test.
struct Counter(u8);

impl rand_core::TryRng for Counter {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(u32::from(self.next()))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(u64::from(self.next()))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            *b = self.next();
        }
        Ok(())
    }
}

impl Counter {
    fn next(&mut self) -> u8 {
        self.0 = self.0.wrapping_add(1);
        // The first 96 bytes are all 0xff (above p, rejected); then a valid key.
        if self.0 <= 96 { 0xff } else { self.0 }
    }
}

impl rand_core::TryCryptoRng for Counter {}

#[test]
fn generate_rejects_out_of_range_draws() {
    let k = PrivateKey::generate(&mut Counter(0)).unwrap();
    let b = k.to_be_bytes();
    assert_eq!(b[0], 97);
    assert_eq!(b[95], 192);
}
