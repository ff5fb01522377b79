//! `ssmail_cipher`: the two XCRYPT stream ciphers, keystream from offset 0, no IV.

use core::ffi::c_char;

use ssmail_ciphers::{Algorithm, AnyCipher};
use ssmail_core::xcrypt::Version;

use crate::guard::{guard, guard_void};
use crate::result::ssmail_result;

/// Longest version name read from C: one byte past the longest known name is enough to
/// tell it is none of them, and the read never runs past that.
const VERSION_READ_LIMIT: usize = 16;

/// A stream cipher with its position in the keystream.
///
/// Made by `ssmail_cipher_new`, released by `ssmail_cipher_free`, which wipes its state.
/// Thread-safety: one thread at a time. A cipher may be moved to another thread, but
/// two threads must not call `ssmail_cipher_apply` on the same cipher at once (each
/// call advances the keystream). Distinct ciphers are independent.
pub struct ssmail_cipher {
    /// Both ciphers wipe their state when dropped (`ZeroizeOnDrop`).
    inner: AnyCipher,
}

/// Bytes of caller memory `ssmail_cipher_init` needs: a cipher plus the slack to align
/// it anywhere in the buffer.
pub const SSMAIL_CIPHER_SIZE: usize = 1088;

// The constant above is in the header as a number: it must hold on every target built.
const _: () =
    assert!(size_of::<ssmail_cipher>() + align_of::<ssmail_cipher>() - 1 <= SSMAIL_CIPHER_SIZE);

impl ssmail_cipher {
    /// A boxed handle for one XCRYPT direction: `version`'s cipher under a 10-byte key.
    #[cfg(feature = "std")]
    pub(crate) fn for_direction(
        version: Version,
        key: &[u8; ssmail_core::kdf::KEY_BYTES],
    ) -> *mut Self {
        // Both ciphers take XCRYPT's 10-byte keys.
        let inner = AnyCipher::new(version.algorithm(), key)
            .unwrap_or_else(|_| unreachable!("both ciphers take 10-byte keys"));
        Self::boxed(inner)
    }

    /// `inner` in a new heap handle, which the C caller owns and releases with
    /// `ssmail_cipher_free`.
    #[cfg(feature = "std")]
    fn boxed(inner: AnyCipher) -> *mut Self {
        Box::into_raw(Box::new(Self { inner }))
    }
}

/// Reads a NUL-terminated version name, never more than [`VERSION_READ_LIMIT`] bytes.
///
/// # Safety
/// `version` is non-NULL and points at a NUL-terminated string (or at least at
/// `VERSION_READ_LIMIT` readable bytes).
unsafe fn parse_version(version: *const c_char) -> Option<Algorithm> {
    let mut name = [0u8; VERSION_READ_LIMIT];
    for (i, slot) in name.iter_mut().enumerate() {
        // SAFETY: the string is NUL-terminated and we stop at its NUL, so byte i is
        // within it (or within the VERSION_READ_LIMIT readable bytes).
        let b = unsafe { *version.add(i) } as u8;
        if b == 0 {
            // Exactly as the wire writes them (docs/xcrypt.md §2), case included.
            return Version::ALL
                .into_iter()
                .find(|v| v.as_str().as_bytes() == &name[..i])
                .map(Version::algorithm);
        }
        *slot = b;
    }
    None
}

/// Sets `*out` to NULL first, so that on any later error the caller holds no stale
/// pointer; `SSMAIL_ERR_NULL_POINTER` when `out` itself is NULL.
///
/// # Safety
/// `out` is NULL or valid for writing one pointer.
unsafe fn clear_out(out: *mut *mut ssmail_cipher) -> Result<(), ssmail_result> {
    if out.is_null() {
        return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
    }
    // SAFETY: `out` is non-NULL and writable (the caller's promise).
    unsafe { out.write(core::ptr::null_mut()) };
    Ok(())
}

/// The cipher `version` names, keyed, after checking every argument.
///
/// # Safety
/// As for `ssmail_cipher_new`.
unsafe fn keyed(
    version: *const c_char,
    key: *const u8,
    key_len: usize,
) -> Result<AnyCipher, ssmail_result> {
    if version.is_null() {
        return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
    }
    // SAFETY: `version` is non-NULL and NUL-terminated, as the caller promises.
    let algorithm =
        unsafe { parse_version(version) }.ok_or(ssmail_result::SSMAIL_ERR_BAD_VERSION)?;
    let (_, max) = algorithm.key_lengths();
    // The length is checked before the pointer is used, so a huge `key_len` never
    // becomes a slice.
    if key_len == 0 || key_len > max {
        return Err(ssmail_result::SSMAIL_ERR_BAD_KEY_LENGTH);
    }
    if key.is_null() {
        return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
    }
    // SAFETY: `key` is non-NULL and valid for `key_len` (<= 256) bytes.
    let key = unsafe { core::slice::from_raw_parts(key, key_len) };
    AnyCipher::new(algorithm, key).map_err(|_| ssmail_result::SSMAIL_ERR_BAD_KEY_LENGTH)
}

/// Makes a cipher for `version` ("t32_1.0" or "arrsyfor_1.0") keyed with `key_len`
/// bytes at `key`. The keystream starts at offset 0; there is no IV (XCRYPT's mode).
///
/// Key lengths: t32_1.0 takes 1..=32 bytes (XCRYPT uses 10), arrsyfor_1.0 takes
/// 1..=256 bytes.
///
/// On success `*out` is a new cipher the caller owns and must release with
/// `ssmail_cipher_free`. On any error `*out` is set to NULL (if `out` is not NULL).
/// The key bytes are copied; the caller keeps ownership of `key` and may wipe it at once.
///
/// Errors: `SSMAIL_ERR_NULL_POINTER` (`version`, `out`, or `key` with `key_len` > 0 is
/// NULL), `SSMAIL_ERR_BAD_VERSION`, `SSMAIL_ERR_BAD_KEY_LENGTH` (0 or too long).
///
/// # Safety
/// `version` is NULL or a NUL-terminated string; `key` is NULL or valid for reading
/// `key_len` bytes; `out` is NULL or valid for writing one pointer.
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn ssmail_cipher_new(
    version: *const c_char,
    key: *const u8,
    key_len: usize,
    out: *mut *mut ssmail_cipher,
) -> ssmail_result {
    guard(|| {
        // SAFETY: `out` is NULL or writable (the caller's promise).
        unsafe { clear_out(out) }?;
        // SAFETY: the caller's promises on `version` and `key`.
        let inner = unsafe { keyed(version, key, key_len) }?;
        // SAFETY: as above, `out` is writable.
        unsafe { out.write(ssmail_cipher::boxed(inner)) };
        Ok(())
    })
}

/// XORs the next `len` keystream bytes into `buf`, in place, and advances the cipher.
/// Encryption and decryption are the same call. Calls may have any lengths: the
/// keystream continues where the last call stopped.
///
/// Does nothing when `cipher` is NULL, when `len` is 0, or when `buf` is NULL (with any
/// `len`): this call has no result code, so check `ssmail_cipher_new`'s. The caller
/// keeps ownership of `buf`.
///
/// # Safety
/// `cipher` is NULL or a live cipher (from `ssmail_cipher_new`, `ssmail_cipher_restore`
/// or `ssmail_cipher_init`) not used by another thread during the call; `buf` is NULL or
/// valid for reading and writing `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ssmail_cipher_apply(cipher: *mut ssmail_cipher, buf: *mut u8, len: usize) {
    guard_void(|| {
        // A length past isize::MAX cannot describe a real buffer; ignore it rather than
        // make an invalid slice.
        if cipher.is_null() || buf.is_null() || len == 0 || len > isize::MAX as usize {
            return;
        }
        // SAFETY: `cipher` is a live handle used by this thread only (the caller's
        // promise), so a unique reference to it is sound for this call.
        let cipher = unsafe { &mut *cipher };
        // SAFETY: `buf` is non-NULL and valid for `len` bytes (the caller's promise),
        // and `len` <= isize::MAX.
        let data = unsafe { core::slice::from_raw_parts_mut(buf, len) };
        cipher.inner.apply_keystream(data);
    });
}

/// Releases a cipher and wipes its state. NULL is accepted and does nothing.
///
/// # Safety
/// `cipher` is NULL or a cipher from `ssmail_cipher_new` or `ssmail_cipher_restore` that
/// has not been freed, and no other thread uses it; it must not be used after this call.
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn ssmail_cipher_free(cipher: *mut ssmail_cipher) {
    guard_void(|| {
        if !cipher.is_null() {
            // SAFETY: `cipher` came from Box::into_raw in `ssmail_cipher::boxed`
            // (ssmail_cipher_new or ssmail_cipher_restore) and is freed once (the
            // caller's promise). Dropping it drops the cipher, which wipes its key
            // schedule and keystream state.
            drop(unsafe { Box::from_raw(cipher) });
        }
    });
}

/// Longest state `ssmail_cipher_save` writes, in bytes.
pub const SSMAIL_CIPHER_SAVED_MAX: usize = 259;

const _: () = assert!(SSMAIL_CIPHER_SAVED_MAX == ssmail_ciphers::SAVED_MAX);

/// Writes where `cipher` stands in its keystream into `out` (`out_len` bytes, at most
/// `SSMAIL_CIPHER_SAVED_MAX` needed) and sets `*written` to the length used, so that
/// `ssmail_cipher_restore` can carry on from there, in this process or another: for an
/// encrypted connection that moves between processes (a mail server's connection
/// cache). The cipher is unchanged and still usable.
///
/// The bytes are as secret as the key (anyone holding them can decrypt the rest of the
/// stream): keep them where the key would be kept, and wipe them after use. They name
/// the cipher, not the CPU path that ran it; restoring picks this process's own.
///
/// Errors: `SSMAIL_ERR_NULL_POINTER` (`cipher`, `out` or `written`),
/// `SSMAIL_ERR_BUFFER_TOO_SHORT`. On error `*written` is 0 (if `written` is not NULL)
/// and nothing is written to `out`.
///
/// # Safety
/// `cipher` is NULL or a live cipher not used by another thread during the call; `out`
/// is NULL or valid for writing `out_len` bytes; `written` is NULL or valid for writing
/// one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn ssmail_cipher_save(
    cipher: *const ssmail_cipher,
    out: *mut u8,
    out_len: usize,
    written: *mut usize,
) -> ssmail_result {
    guard(|| {
        if written.is_null() {
            return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
        }
        // SAFETY: `written` is non-NULL and writable (the caller's promise).
        unsafe { written.write(0) };
        // SAFETY: NULL or a live cipher (the caller's promise); shared access only.
        let cipher = unsafe { cipher.as_ref() }.ok_or(ssmail_result::SSMAIL_ERR_NULL_POINTER)?;
        if out.is_null() {
            return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
        }
        let mut state = zeroize::Zeroizing::new([0u8; SSMAIL_CIPHER_SAVED_MAX]);
        let n = cipher.inner.save(&mut state);
        if out_len < n {
            return Err(ssmail_result::SSMAIL_ERR_BUFFER_TOO_SHORT);
        }
        // SAFETY: `out` is non-NULL and valid for `out_len` >= `n` bytes; `state` is
        // ours, so the two cannot overlap.
        unsafe { core::ptr::copy_nonoverlapping(state.as_ptr(), out, n) };
        // SAFETY: as above.
        unsafe { written.write(n) };
        Ok(())
    })
}

/// Makes a cipher that carries on exactly where the one `ssmail_cipher_save` wrote
/// `len` bytes at `saved` from stood. The caller owns `*out` and releases it with
/// `ssmail_cipher_free`; `saved` is only read (wipe it after).
///
/// Errors: `SSMAIL_ERR_NULL_POINTER` (`saved` or `out`), `SSMAIL_ERR_BAD_SAVED_STATE`
/// (not what `ssmail_cipher_save` writes: another length, an unknown cipher, or a state
/// no keystream position has). On error `*out` is NULL (if `out` is not NULL).
///
/// # Safety
/// `saved` is NULL or valid for reading `len` bytes; `out` is NULL or valid for writing
/// one pointer.
#[cfg(feature = "std")]
#[no_mangle]
pub unsafe extern "C" fn ssmail_cipher_restore(
    saved: *const u8,
    len: usize,
    out: *mut *mut ssmail_cipher,
) -> ssmail_result {
    guard(|| {
        // SAFETY: `out` is NULL or writable (the caller's promise).
        unsafe { clear_out(out) }?;
        if saved.is_null() {
            return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
        }
        // Checked before the pointer becomes a slice, so a huge `len` never does.
        if len > SSMAIL_CIPHER_SAVED_MAX {
            return Err(ssmail_result::SSMAIL_ERR_BAD_SAVED_STATE);
        }
        // SAFETY: `saved` is non-NULL and valid for `len` (<= 259) bytes.
        let saved = unsafe { core::slice::from_raw_parts(saved, len) };
        let inner =
            AnyCipher::restore(saved).map_err(|_| ssmail_result::SSMAIL_ERR_BAD_SAVED_STATE)?;
        // SAFETY: as above, `out` is writable.
        unsafe { out.write(ssmail_cipher::boxed(inner)) };
        Ok(())
    })
}

/// Makes a cipher as `ssmail_cipher_new` does, but in caller memory: `storage` holds
/// `storage_len` >= `SSMAIL_CIPHER_SIZE` bytes, any alignment (the cipher is placed at
/// the first suitably aligned address in it). No allocation: this is the constructor of
/// the `no_std` (firmware) build, and works in every build.
///
/// On success `*out` points into `storage`; use it with `ssmail_cipher_apply` and end
/// it with `ssmail_cipher_wipe` (never `ssmail_cipher_free`) before reusing or
/// releasing `storage`. On error `*out` is NULL and `storage` unchanged.
///
/// Errors: as `ssmail_cipher_new`, and `SSMAIL_ERR_NULL_POINTER` for `storage`,
/// `SSMAIL_ERR_BUFFER_TOO_SHORT` for `storage_len`.
///
/// Thread-safety: as `ssmail_cipher`.
///
/// # Safety
/// `storage` is NULL or valid for writing `storage_len` bytes and not used otherwise
/// while the cipher lives; the other arguments as for `ssmail_cipher_new`.
#[no_mangle]
pub unsafe extern "C" fn ssmail_cipher_init(
    storage: *mut u8,
    storage_len: usize,
    version: *const c_char,
    key: *const u8,
    key_len: usize,
    out: *mut *mut ssmail_cipher,
) -> ssmail_result {
    guard(|| {
        // SAFETY: `out` is NULL or writable (the caller's promise).
        unsafe { clear_out(out) }?;
        if storage.is_null() {
            return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
        }
        if storage_len < SSMAIL_CIPHER_SIZE {
            return Err(ssmail_result::SSMAIL_ERR_BUFFER_TOO_SHORT);
        }
        // SAFETY: the caller's promises on `version` and `key`.
        let inner = unsafe { keyed(version, key, key_len) }?;
        let offset = storage.align_offset(align_of::<ssmail_cipher>());
        // SAFETY: SSMAIL_CIPHER_SIZE covers the cipher plus any alignment offset (the
        // const assertion above), so the aligned place lies within `storage`.
        let place = unsafe { storage.add(offset) }.cast::<ssmail_cipher>();
        // SAFETY: `place` is aligned, writable for a whole cipher and ours alone.
        unsafe { place.write(ssmail_cipher { inner }) };
        // SAFETY: `out` is writable.
        unsafe { out.write(place) };
        Ok(())
    })
}

/// Wipes and ends a cipher made by `ssmail_cipher_init`; its storage may then be
/// reused. NULL is accepted and does nothing.
///
/// # Safety
/// `cipher` is NULL or a live cipher from `ssmail_cipher_init`, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ssmail_cipher_wipe(cipher: *mut ssmail_cipher) {
    guard_void(|| {
        if !cipher.is_null() {
            // SAFETY: a live cipher placed by ssmail_cipher_init, ended once; dropping
            // it wipes its state (ZeroizeOnDrop).
            unsafe { core::ptr::drop_in_place(cipher) };
        }
    });
}

#[cfg(all(test, feature = "std"))]
// Byte strings, not C string literals: Debian's cbindgen 0.24 parses this file too.
#[allow(clippy::manual_c_str_literals)]
mod tests {
    use super::*;

    fn new(version: &[u8], key: &[u8]) -> Result<*mut ssmail_cipher, ssmail_result> {
        let mut out = core::ptr::dangling_mut::<ssmail_cipher>();
        // SAFETY: valid pointers and lengths.
        let r = unsafe {
            ssmail_cipher_new(version.as_ptr().cast(), key.as_ptr(), key.len(), &mut out)
        };
        if r == ssmail_result::SSMAIL_OK {
            Ok(out)
        } else {
            assert!(out.is_null(), "an error leaves *out NULL");
            Err(r)
        }
    }

    #[test]
    fn key_lengths_per_version() {
        let versions: [(&[u8], usize); 2] = [(b"t32_1.0\0", 32), (b"arrsyfor_1.0\0", 256)];
        for (v, max) in versions {
            for len in [1, 10, max] {
                let c = new(v, &vec![7u8; len]).expect("accepted length");
                // SAFETY: a live cipher, freed once.
                unsafe { ssmail_cipher_free(c) };
            }
            for len in [0, max + 1] {
                assert_eq!(
                    new(v, &vec![7u8; len]).err(),
                    Some(ssmail_result::SSMAIL_ERR_BAD_KEY_LENGTH)
                );
            }
        }
        let bad: [&[u8]; 5] = [
            b"\0",
            b"t32\0",
            b"t32_1.0 \0",
            b"T32_1.0\0",
            b"arrsyfor_1.0_and_more_than_16\0",
        ];
        for v in bad {
            assert_eq!(
                new(v, &[1; 10]).err(),
                Some(ssmail_result::SSMAIL_ERR_BAD_VERSION)
            );
        }
    }

    #[test]
    fn in_caller_memory_at_any_alignment() {
        let key = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        let mut storage = vec![0u8; SSMAIL_CIPHER_SIZE + 16];
        for shift in 0..16 {
            let mut c = core::ptr::null_mut();
            // SAFETY: `storage[shift..]` holds at least SSMAIL_CIPHER_SIZE bytes.
            let r = unsafe {
                ssmail_cipher_init(
                    storage.as_mut_ptr().add(shift),
                    SSMAIL_CIPHER_SIZE,
                    b"arrsyfor_1.0\0".as_ptr().cast(),
                    key.as_ptr(),
                    key.len(),
                    &mut c,
                )
            };
            assert_eq!(r, ssmail_result::SSMAIL_OK);
            let mut buf = [0u8; 4];
            // SAFETY: a live cipher in `storage`, wiped once.
            unsafe {
                ssmail_cipher_apply(c, buf.as_mut_ptr(), 4);
                ssmail_cipher_wipe(c);
            }
            assert_eq!(buf, [0xed, 0xe3, 0xb0, 0x46], "RFC 6229, shift {shift}");
        }
        let mut c = core::ptr::null_mut();
        // SAFETY: a buffer one byte too short is refused before it is written.
        let r = unsafe {
            ssmail_cipher_init(
                storage.as_mut_ptr(),
                SSMAIL_CIPHER_SIZE - 1,
                b"t32_1.0\0".as_ptr().cast(),
                key.as_ptr(),
                key.len(),
                &mut c,
            )
        };
        assert_eq!(r, ssmail_result::SSMAIL_ERR_BUFFER_TOO_SHORT);
    }

    #[test]
    fn rfc6229_through_the_entry_points() {
        let c = new(b"arrsyfor_1.0\0", &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).expect("cipher");
        let mut buf = [0u8; 16];
        // SAFETY: live cipher, valid buffer.
        unsafe { ssmail_cipher_apply(c, buf.as_mut_ptr(), 7) };
        // SAFETY: as above; the second call continues the keystream.
        unsafe { ssmail_cipher_apply(c, buf.as_mut_ptr().add(7), 9) };
        // RFC 6229 section 2, key 0x0102030405060708090a, offset 0.
        assert_eq!(
            buf,
            [
                0xed, 0xe3, 0xb0, 0x46, 0x43, 0xe5, 0x86, 0xcc, 0x90, 0x7d, 0xc2, 0x18, 0x51, 0x70,
                0x99, 0x02
            ]
        );
        // SAFETY: NULLs are documented no-ops; the cipher is freed once.
        unsafe {
            ssmail_cipher_apply(core::ptr::null_mut(), buf.as_mut_ptr(), 16);
            ssmail_cipher_apply(c, core::ptr::null_mut(), 16);
            ssmail_cipher_free(c);
            ssmail_cipher_free(core::ptr::null_mut());
        }
    }
}
