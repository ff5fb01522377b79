//! The one result code every fallible call returns, and its message.

use core::ffi::c_char;

/// What a call did: `SSMAIL_OK` (0) on success, another value naming the failure.
///
/// In C this is a `uint32_t` with the named constants, so that a value from a newer
/// library is never an invalid enum in an older program.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ssmail_result {
    /// Success.
    SSMAIL_OK = 0,
    /// A required pointer argument was NULL.
    SSMAIL_ERR_NULL_POINTER = 1,
    /// The cipher version is neither "t32_1.0" nor "arrsyfor_1.0".
    SSMAIL_ERR_BAD_VERSION = 2,
    /// The key length is outside what the version accepts (t32_1.0: 1..=32 bytes,
    /// arrsyfor_1.0: 1..=256 bytes).
    SSMAIL_ERR_BAD_KEY_LENGTH = 3,
    /// The peer's public key is outside [2, p-2] (0, 1, p-1 and anything >= p).
    SSMAIL_ERR_BAD_PEER_KEY = 4,
    /// The private key is outside [2, p-2].
    SSMAIL_ERR_BAD_PRIVATE_KEY = 5,
    /// An output buffer is shorter than the result.
    SSMAIL_ERR_BUFFER_TOO_SHORT = 6,
    /// The library hit an internal error (a Rust panic, caught at the boundary). It is
    /// a bug in libssmail; the output buffers hold nothing useful.
    SSMAIL_ERR_PANIC = 7,
    /// Reading or writing a file failed.
    SSMAIL_ERR_IO = 8,
    /// The operating system's random number generator failed.
    SSMAIL_ERR_RNG = 9,
    /// The call does not fit the handle's state (ciphers asked for before encryption is
    /// on, or a second time).
    SSMAIL_ERR_STATE = 10,
    /// Bytes given as a saved cipher state that `ssmail_cipher_save` cannot have written.
    SSMAIL_ERR_BAD_SAVED_STATE = 11,
}

impl ssmail_result {
    /// The message `ssmail_result_str` returns, NUL-terminated.
    // (Byte strings, not C string literals: Debian's cbindgen 0.24 cannot parse those.)
    fn message(self) -> &'static [u8] {
        match self {
            Self::SSMAIL_OK => b"success\0",
            Self::SSMAIL_ERR_NULL_POINTER => b"a required pointer argument is NULL\0",
            Self::SSMAIL_ERR_BAD_VERSION => {
                b"unknown cipher version (not t32_1.0 or arrsyfor_1.0)\0"
            }
            Self::SSMAIL_ERR_BAD_KEY_LENGTH => b"key length not accepted by this cipher version\0",
            Self::SSMAIL_ERR_BAD_PEER_KEY => b"peer public key outside [2, p-2]\0",
            Self::SSMAIL_ERR_BAD_PRIVATE_KEY => b"private key outside [2, p-2]\0",
            Self::SSMAIL_ERR_BUFFER_TOO_SHORT => b"output buffer too short\0",
            Self::SSMAIL_ERR_PANIC => b"internal error in libssmail (caught panic)\0",
            Self::SSMAIL_ERR_IO => b"I/O error\0",
            Self::SSMAIL_ERR_RNG => b"random number generator failed\0",
            Self::SSMAIL_ERR_STATE => b"call not valid in this state\0",
            Self::SSMAIL_ERR_BAD_SAVED_STATE => b"not a saved cipher state\0",
        }
    }

    /// Every code, for the lookup by number.
    const ALL: [Self; 12] = [
        Self::SSMAIL_OK,
        Self::SSMAIL_ERR_NULL_POINTER,
        Self::SSMAIL_ERR_BAD_VERSION,
        Self::SSMAIL_ERR_BAD_KEY_LENGTH,
        Self::SSMAIL_ERR_BAD_PEER_KEY,
        Self::SSMAIL_ERR_BAD_PRIVATE_KEY,
        Self::SSMAIL_ERR_BUFFER_TOO_SHORT,
        Self::SSMAIL_ERR_PANIC,
        Self::SSMAIL_ERR_IO,
        Self::SSMAIL_ERR_RNG,
        Self::SSMAIL_ERR_STATE,
        Self::SSMAIL_ERR_BAD_SAVED_STATE,
    ];
}

/// A static, NUL-terminated English message for `result`.
///
/// Never NULL; the string lives as long as the program and must not be freed. A value
/// that is no `ssmail_result` gives "unknown ssmail_result". Thread-safe.
// The argument is a plain integer, not the enum: any value a C caller passes is valid.
#[no_mangle]
pub extern "C" fn ssmail_result_str(result: u32) -> *const c_char {
    ssmail_result::ALL
        .iter()
        .find(|r| **r as u32 == result)
        .map_or(&b"unknown ssmail_result\0"[..], |r| r.message())
        .as_ptr()
        .cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_ok_is_zero() {
        assert_eq!(ssmail_result::SSMAIL_OK as u32, 0);
        for (i, r) in ssmail_result::ALL.iter().enumerate() {
            assert_eq!(*r as u32, i as u32, "codes are 0, 1, 2, ... in order");
        }
    }

    #[test]
    fn every_code_has_its_own_message() {
        let mut seen = std::collections::BTreeSet::new();
        for r in ssmail_result::ALL {
            // SAFETY: ssmail_result_str returns a pointer to a static C string.
            let s = unsafe { core::ffi::CStr::from_ptr(ssmail_result_str(r as u32)) };
            assert!(
                seen.insert(s.to_bytes().to_vec()),
                "{r:?} repeats a message"
            );
        }
        // SAFETY: as above.
        let unknown = unsafe { core::ffi::CStr::from_ptr(ssmail_result_str(1000)) };
        assert_eq!(unknown.to_bytes(), b"unknown ssmail_result");
    }
}
