//! The `openssl-rc4` peer: OpenSSL's own RC4 (`RC4_set_key` / `RC4` from libcrypto, the
//! perlasm `rc4-x86_64` assembly on x86_64), called through FFI.
//!
//! The functions are deprecated in OpenSSL 3.0 but still exported by `libcrypto.so.3`.
//! `build.rs` links libcrypto.

use core::ffi::{c_int, c_uchar, c_uint};

/// `RC4_INT` of `<openssl/rc4.h>`: `unsigned int` on x86_64 (see
/// `/usr/include/x86_64-linux-gnu/openssl/configuration.h`).
type Rc4Int = c_uint;

/// Mirror of OpenSSL 3's `RC4_KEY`:
/// `typedef struct rc4_key_st { RC4_INT x, y; RC4_INT data[256]; } RC4_KEY;`
#[repr(C)]
struct Rc4Key {
    x: Rc4Int,
    y: Rc4Int,
    data: [Rc4Int; 256],
}

const _: () = assert!(size_of::<Rc4Key>() == 8 + 4 * 256);

// SAFETY: these declarations match `<openssl/rc4.h>` of OpenSSL 3.0 (checked against
// /usr/include/openssl/rc4.h): `void RC4_set_key(RC4_KEY *key, int len, const unsigned
// char *data)` and `void RC4(RC4_KEY *key, size_t len, const unsigned char *indata,
// unsigned char *outdata)`; `size_t` is `usize` on every target Rust supports here.
unsafe extern "C" {
    fn RC4_set_key(key: *mut Rc4Key, len: c_int, data: *const c_uchar);
    fn RC4(key: *mut Rc4Key, len: usize, indata: *const c_uchar, outdata: *mut c_uchar);
}

/// RC4 as OpenSSL's libcrypto computes it. The keystream continues across calls.
pub struct OpensslRc4 {
    key: Rc4Key,
}

impl OpensslRc4 {
    /// Runs `RC4_set_key` on `key`.
    ///
    /// # Panics
    /// If `key` is empty or longer than 256 bytes (the range `Arrsyfor` accepts;
    /// `RC4_set_key` would read out of bounds on an empty key).
    pub fn new(key: &[u8]) -> Self {
        assert!(
            (1..=256).contains(&key.len()),
            "RC4 keys are 1..=256 bytes, not {}",
            key.len()
        );
        let len = c_int::try_from(key.len()).expect("at most 256");
        let mut ks = Rc4Key {
            x: 0,
            y: 0,
            data: [0; 256],
        };
        // SAFETY: `ks` is a valid, writable RC4_KEY with OpenSSL 3's layout (asserted
        // size above), and `key` points to `len` (>= 1) readable bytes. RC4_set_key only
        // writes inside `ks` and only reads `key[..len]`.
        unsafe { RC4_set_key(&mut ks, len, key.as_ptr()) };
        Self { key: ks }
    }

    /// XORs the next `buf.len()` keystream bytes into `buf`, in place.
    pub fn apply_keystream(&mut self, buf: &mut [u8]) {
        let p = buf.as_mut_ptr();
        // SAFETY: `self.key` was set up by RC4_set_key. `p` points to `buf.len()` bytes
        // that are readable and writable for the duration of the call, and nothing else
        // aliases them. In and out are the same buffer, which OpenSSL's RC4 supports
        // (it reads each byte before it writes it; EVP calls it this way too).
        unsafe { RC4(&mut self.key, buf.len(), p, p) };
    }
}
