//! Diffie-Hellman in the 768-bit Oakley group 1 (docs/xcrypt.md §1): public keys and the
//! shared secret, constant time in the private key.

use ssmail_core::group::ELEMENT_BYTES;
use ssmail_core::{shared_secret, PrivateKey, PublicKey};

use crate::guard::{guard, non_null, read_array, write_array};
use crate::result::ssmail_result;

/// The private key in `bytes`, or `SSMAIL_ERR_BAD_PRIVATE_KEY` outside [2, p-2].
fn private_key(bytes: &[u8; ELEMENT_BYTES]) -> Result<PrivateKey, ssmail_result> {
    PrivateKey::from_be_bytes(bytes).ok_or(ssmail_result::SSMAIL_ERR_BAD_PRIVATE_KEY)
}

/// Writes the public key `2^r mod p` of the private key `r` at `private_key` to
/// `public_key`. Both are 96-byte big-endian numbers; the private key must be in
/// [2, p-2] (draw 96 random bytes and retry in the rare case it is not). Constant time
/// in the private key (but for the one range check, whose outcome is not secret).
///
/// The caller owns both buffers; they may be the same buffer. On error `public_key`
/// (if not NULL) is zeroed.
///
/// Errors: `SSMAIL_ERR_NULL_POINTER`, `SSMAIL_ERR_BAD_PRIVATE_KEY`.
///
/// Thread-safe (no shared state).
///
/// # Safety
/// Each pointer is NULL or valid for 96 bytes (read for `private_key`, written for
/// `public_key`).
#[no_mangle]
pub unsafe extern "C" fn ssmail_dh_public_key(
    private_key: *const u8,
    public_key: *mut u8,
) -> ssmail_result {
    let code = guard(|| {
        non_null(&[private_key, public_key.cast_const()])?;
        // SAFETY: non-NULL and valid for 96 bytes (the caller's promise).
        let r = unsafe { read_array::<ELEMENT_BYTES>(private_key) }?;
        let k = self::private_key(&r)?.public_key();
        // SAFETY: non-NULL and valid for 96 bytes; the input was copied out first.
        unsafe { write_array(public_key, &k.to_be_bytes()) };
        Ok(())
    });
    // SAFETY: a non-NULL output is valid for 96 bytes.
    unsafe { zero_on_error(code, public_key) };
    code
}

/// Writes the shared secret `Z = peer^r mod p` to `secret` (96 bytes, big-endian), from
/// the own private key `r` at `private_key` and the peer's public key at
/// `peer_public_key` (96 bytes each, big-endian). Constant time in the private key and
/// the peer key's value.
///
/// The peer's key must be in [2, p-2]: 0, 1, p-1 and anything >= p are refused with
/// `SSMAIL_ERR_BAD_PEER_KEY` (they would force a guessable secret). The caller owns all
/// three buffers; they may overlap. On error `secret` (if not NULL) is zeroed. Wipe the
/// secret when done with it.
///
/// Errors: `SSMAIL_ERR_NULL_POINTER`, `SSMAIL_ERR_BAD_PRIVATE_KEY`,
/// `SSMAIL_ERR_BAD_PEER_KEY`.
///
/// Thread-safe (no shared state).
///
/// # Safety
/// Each pointer is NULL or valid for 96 bytes (read for the keys, written for `secret`).
#[no_mangle]
pub unsafe extern "C" fn ssmail_dh_shared_secret(
    private_key: *const u8,
    peer_public_key: *const u8,
    secret: *mut u8,
) -> ssmail_result {
    let code = guard(|| {
        non_null(&[private_key, peer_public_key, secret.cast_const()])?;
        // SAFETY: non-NULL and valid for 96 bytes (the caller's promise).
        let r = unsafe { read_array::<ELEMENT_BYTES>(private_key) }?;
        // SAFETY: as above.
        let peer = unsafe { read_array::<ELEMENT_BYTES>(peer_public_key) }?;
        let peer =
            PublicKey::from_be_bytes(&peer).map_err(|_| ssmail_result::SSMAIL_ERR_BAD_PEER_KEY)?;
        let z = shared_secret(&self::private_key(&r)?, &peer);
        // SAFETY: non-NULL and valid for 96 bytes; the inputs were copied out first.
        unsafe { write_array(secret, z.as_bytes()) };
        Ok(())
    });
    // SAFETY: a non-NULL output is valid for 96 bytes.
    unsafe { zero_on_error(code, secret) };
    code
}

/// Zeroes a 96-byte output after a failed call, so that a caller that ignores the code
/// gets no stale or partial secret.
///
/// # Safety
/// `out` is NULL or valid for writing 96 bytes.
unsafe fn zero_on_error(code: ssmail_result, out: *mut u8) {
    if code != ssmail_result::SSMAIL_OK && !out.is_null() {
        // SAFETY: non-NULL and valid for 96 bytes (the caller's promise).
        unsafe { core::ptr::write_bytes(out, 0, ELEMENT_BYTES) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex96(h: &[u8]) -> [u8; 96] {
        h.try_into().expect("96 bytes")
    }

    #[test]
    fn agreement_vectors_through_the_entry_points() {
        let vectors = ssmail_vectors::agreement_vectors();
        assert!(!vectors.is_empty());
        for v in vectors {
            let (ra, rb, kb) = (hex96(&v.ra), hex96(&v.rb), hex96(&v.kb));
            let mut out = [0u8; 96];
            // SAFETY: 96-byte buffers.
            let r = unsafe { ssmail_dh_public_key(ra.as_ptr(), out.as_mut_ptr()) };
            assert_eq!(
                (r, &out[..]),
                (ssmail_result::SSMAIL_OK, &v.ka[..]),
                "line {}",
                v.line
            );
            // SAFETY: 96-byte buffers.
            let r = unsafe { ssmail_dh_public_key(rb.as_ptr(), out.as_mut_ptr()) };
            assert_eq!(
                (r, &out[..]),
                (ssmail_result::SSMAIL_OK, &v.kb[..]),
                "line {}",
                v.line
            );
            // SAFETY: 96-byte buffers.
            let r = unsafe { ssmail_dh_shared_secret(ra.as_ptr(), kb.as_ptr(), out.as_mut_ptr()) };
            assert_eq!(
                (r, &out[..]),
                (ssmail_result::SSMAIL_OK, &v.z[..]),
                "line {}",
                v.line
            );
        }
    }

    #[test]
    fn peer_keys_outside_the_range_are_refused() {
        let p = ssmail_core::group::P.to_be_bytes();
        let mut p_minus_1 = p;
        p_minus_1[95] -= 1;
        let mut one = [0u8; 96];
        one[95] = 1;
        let r = [0x11u8; 96];
        for bad in [[0u8; 96], one, p_minus_1, p, [0xff; 96]] {
            let mut out = [0xaau8; 96];
            // SAFETY: 96-byte buffers.
            let code =
                unsafe { ssmail_dh_shared_secret(r.as_ptr(), bad.as_ptr(), out.as_mut_ptr()) };
            assert_eq!(code, ssmail_result::SSMAIL_ERR_BAD_PEER_KEY);
            assert_eq!(out, [0u8; 96], "the output is zeroed on error");
        }
    }
}
