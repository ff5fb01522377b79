//! The two direction keys from the shared secret and both nonces (docs/xcrypt.md §3).

use ssmail_core::group::ELEMENT_BYTES;
use ssmail_core::kdf::{KEY_BYTES, NONCE_BYTES};

use crate::guard::{guard, non_null, read_array, write_array};
use crate::result::ssmail_result;

/// `H = SHA-1(Z || Na || Nb)`: writes `H[0..10]` (client to server) to `key_c2s` and
/// `H[10..20]` (server to client) to `key_s2c`.
///
/// `secret` is the 96-byte shared secret from `ssmail_dh_shared_secret`, `na` the
/// client's 10-byte nonce, `nb` the server's. Each direction key is 10 bytes, the key of
/// `ssmail_cipher_new` for the chosen version. The caller owns all buffers; they may
/// overlap. On error both outputs (those not NULL) are zeroed. Wipe the keys when done.
///
/// Errors: `SSMAIL_ERR_NULL_POINTER`.
///
/// Thread-safe (no shared state).
///
/// # Safety
/// Each pointer is NULL or valid for its length: 96 bytes for `secret`, 10 for the
/// others (read for the inputs, written for the outputs).
#[no_mangle]
pub unsafe extern "C" fn ssmail_derive_keys(
    secret: *const u8,
    na: *const u8,
    nb: *const u8,
    key_c2s: *mut u8,
    key_s2c: *mut u8,
) -> ssmail_result {
    let code = guard(|| {
        non_null(&[secret, na, nb, key_c2s.cast_const(), key_s2c.cast_const()])?;
        // SAFETY: non-NULL and valid for their lengths (the caller's promise).
        let (z, na, nb) = unsafe {
            (
                read_array::<ELEMENT_BYTES>(secret)?,
                read_array::<NONCE_BYTES>(na)?,
                read_array::<NONCE_BYTES>(nb)?,
            )
        };
        let keys = ssmail_core::derive(&z, &na, &nb);
        // SAFETY: non-NULL and valid for 10 bytes; the inputs were copied out first.
        unsafe {
            write_array::<KEY_BYTES>(key_c2s, &keys.client_to_server);
            write_array::<KEY_BYTES>(key_s2c, &keys.server_to_client);
        }
        Ok(())
    });
    if code != ssmail_result::SSMAIL_OK {
        for out in [key_c2s, key_s2c] {
            if !out.is_null() {
                // SAFETY: a non-NULL output is valid for 10 bytes.
                unsafe { core::ptr::write_bytes(out, 0, KEY_BYTES) };
            }
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_vectors_through_the_entry_point() {
        for v in ssmail_vectors::agreement_vectors() {
            let (mut c2s, mut s2c) = ([0u8; 10], [0u8; 10]);
            // SAFETY: buffers of the documented lengths.
            let r = unsafe {
                ssmail_derive_keys(
                    v.z.as_ptr(),
                    v.na.as_ptr(),
                    v.nb.as_ptr(),
                    c2s.as_mut_ptr(),
                    s2c.as_mut_ptr(),
                )
            };
            assert_eq!(r, ssmail_result::SSMAIL_OK);
            assert_eq!(
                (&c2s[..], &s2c[..]),
                (&v.c2s[..], &v.s2c[..]),
                "line {}",
                v.line
            );
        }
        let mut c2s = [1u8; 10];
        // SAFETY: NULL is checked; c2s is 10 bytes.
        let r = unsafe {
            ssmail_derive_keys(
                [0u8; 96].as_ptr(),
                core::ptr::null(),
                [0u8; 10].as_ptr(),
                c2s.as_mut_ptr(),
                core::ptr::null_mut(),
            )
        };
        assert_eq!(r, ssmail_result::SSMAIL_ERR_NULL_POINTER);
        assert_eq!(c2s, [0u8; 10]);
    }
}
