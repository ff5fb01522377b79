//! Helpers for an MTA that speaks XCRYPT itself (docs/xcrypt.md §4): the server and
//! client sides of one exchange as small handles that read the lines the MTA's own
//! SMTP parser hands them and write the lines to send, and then give the two direction
//! ciphers. The MTA keeps its SMTP state machine, I/O and buffers; these only decide.

pub mod client;
pub mod server;

use core::ffi::c_char;

use ssmail_core::xcrypt::{Line, Version};
use ssmail_core::DirectionKeys;

use crate::cipher::ssmail_cipher;
use crate::result::ssmail_result;

/// The smallest output buffer the line-writing calls accept: RFC 5321's longest line,
/// CRLF included. Every line XCRYPT writes fits (the longest is 235 octets).
pub const SSMAIL_LINE_MAX: usize = 512;

/// What the MTA does after a line went through `ssmail_server_command` or one of the
/// client calls.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ssmail_step {
    /// Not XCRYPT's business: nothing was written; handle the line as usual (a server
    /// waiting for `XCRYPT OK` has dropped the exchange, docs/xcrypt.md §6.9).
    SSMAIL_STEP_NOT_XCRYPT = 0,
    /// Send the written line, if its length is not 0, and give the peer's next line to
    /// the same handle: the exchange goes on (or, once encrypted, nothing changes).
    SSMAIL_STEP_SEND = 1,
    /// Send the written line, if any; the exchange is over and the session goes on in
    /// plaintext (a refusal or failure, docs/xcrypt.md §4.4-§4.5). The mail still flows.
    SSMAIL_STEP_PLAINTEXT = 2,
    /// Send the written line, if any, in plaintext; from the next byte on both
    /// directions are encrypted (docs/xcrypt.md §4.1): take the ciphers now. Bytes
    /// already received behind the line must be thrown away unread (§4.2).
    SSMAIL_STEP_ENCRYPT = 3,
}

/// The EHLO keyword line a server adds to its EHLO reply (without reply code or CRLF):
/// `XCRYPT t32_1.0 arrsyfor_1.0`, the versions in this library's order of preference.
/// Static, NUL-terminated, never NULL; do not free. Leave it out once encryption is on
/// (docs/xcrypt.md §4.6). Thread-safe.
// A byte string, not a C string literal: Debian's cbindgen 0.24 cannot parse those.
#[allow(clippy::manual_c_str_literals)]
#[no_mangle]
pub extern "C" fn ssmail_ehlo_keyword() -> *const c_char {
    b"XCRYPT t32_1.0 arrsyfor_1.0\0".as_ptr().cast()
}

/// What `ssmail_server_last_exchange` and `ssmail_client_last_exchange` report about
/// the session's last exchange that got as far as a shared secret (for the MTA's log:
/// `XCRYPT connection established ...: t32_1.0, key cache hit`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ssmail_exchange_info {
    /// The version the exchange uses: a static NUL-terminated name (`"t32_1.0"` or
    /// `"arrsyfor_1.0"`), never freed; NULL when the call failed.
    pub version: *const c_char,
    /// True when the shared secret came from the key cache (this process's memory or
    /// the shared cache file), false when this exchange computed a new Diffie-Hellman.
    pub cache_hit: bool,
}

/// The outcome of an exchange that reached a shared secret, kept for
/// `ssmail_*_last_exchange`.
#[derive(Clone, Copy)]
struct Exchange {
    version: Version,
    lookup: ssmail_core::Lookup,
}

/// A version's name as a static C string.
// Byte strings, not C string literals: Debian's cbindgen 0.24 cannot parse those.
#[allow(clippy::manual_c_str_literals)]
fn version_c_name(version: Version) -> *const c_char {
    let name: &'static [u8] = match version {
        Version::T32V1_0 => b"t32_1.0\0",
        Version::ArrsyforV1_0 => b"arrsyfor_1.0\0",
    };
    name.as_ptr().cast()
}

/// The body of the two `_last_exchange` calls: `info` NULL-checked and cleared, then
/// filled from `last`, or `SSMAIL_ERR_STATE` if there is none.
///
/// # Safety
/// `info` is NULL or writable.
unsafe fn report(
    last: Result<Option<Exchange>, ssmail_result>,
    info: *mut ssmail_exchange_info,
) -> Result<(), ssmail_result> {
    if info.is_null() {
        return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
    }
    let cleared = ssmail_exchange_info {
        version: core::ptr::null(),
        cache_hit: false,
    };
    // SAFETY: non-NULL and writable (the caller's promise).
    unsafe { info.write(cleared) };
    let last = last?.ok_or(ssmail_result::SSMAIL_ERR_STATE)?;
    let filled = ssmail_exchange_info {
        version: version_c_name(last.version),
        cache_hit: last.lookup == ssmail_core::Lookup::Hit,
    };
    // SAFETY: as above.
    unsafe { info.write(filled) };
    Ok(())
}

/// Checks the output arguments of a line-writing call and clears them.
///
/// # Safety
/// Each pointer is NULL or valid for writing (`out` for `cap` bytes).
unsafe fn outputs(
    out: *mut u8,
    cap: usize,
    out_len: *mut usize,
    step: *mut ssmail_step,
) -> Result<(), ssmail_result> {
    if out.is_null() || out_len.is_null() || step.is_null() {
        return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
    }
    // SAFETY: non-NULL and writable (the caller's promise).
    unsafe {
        out_len.write(0);
        step.write(ssmail_step::SSMAIL_STEP_NOT_XCRYPT);
    }
    if cap < SSMAIL_LINE_MAX {
        return Err(ssmail_result::SSMAIL_ERR_BUFFER_TOO_SHORT);
    }
    Ok(())
}

/// Writes `line` (if any) and `step` to the caller's outputs.
///
/// # Safety
/// As for [`outputs`], after it succeeded (so `out` holds `SSMAIL_LINE_MAX` bytes).
unsafe fn emit(
    line: Option<Line>,
    next: ssmail_step,
    out: *mut u8,
    out_len: *mut usize,
    step: *mut ssmail_step,
) {
    let bytes = line.as_ref().map_or(&[][..], Line::as_bytes);
    // Lines XCRYPT writes are at most 235 octets; `min` keeps the copy in bounds anyway.
    let n = bytes.len().min(SSMAIL_LINE_MAX);
    // SAFETY: `out` holds SSMAIL_LINE_MAX >= n bytes; `bytes` is ours, no overlap.
    unsafe {
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), out, n);
        out_len.write(n);
        step.write(next);
    }
}

/// A line as a byte slice, or an error for NULL (with a length) or an impossible length.
///
/// # Safety
/// `line` is NULL or valid for reading `len` bytes, which stay unchanged for `'a`.
unsafe fn input<'a>(line: *const u8, len: usize) -> Result<&'a [u8], ssmail_result> {
    if len == 0 {
        return Ok(&[]);
    }
    if line.is_null() || len > isize::MAX as usize {
        return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
    }
    // SAFETY: non-NULL and valid for `len` (<= isize::MAX) bytes.
    Ok(unsafe { core::slice::from_raw_parts(line, len) })
}

/// The keys of an exchange whose encryption is on, until the ciphers are taken.
struct Active {
    version: Version,
    keys: Option<DirectionKeys>,
}

impl Active {
    /// The two ciphers, once: (client to server, server to client).
    fn take(&mut self) -> Result<(*mut ssmail_cipher, *mut ssmail_cipher), ssmail_result> {
        let keys = self.keys.take().ok_or(ssmail_result::SSMAIL_ERR_STATE)?;
        Ok((
            ssmail_cipher::for_direction(self.version, &keys.client_to_server),
            ssmail_cipher::for_direction(self.version, &keys.server_to_client),
        ))
    }
}

/// The body of `ssmail_client_ciphers` and `ssmail_server_ciphers`: both pointers
/// NULL-checked and set to NULL first, then the exchange's two ciphers handed out once,
/// in the order (client to server, server to client) to (`c2s`, `s2c`).
///
/// # Safety
/// `c2s` and `s2c` are NULL or writable; `active` dereferences only live handles.
unsafe fn hand_out_ciphers<'a>(
    active: impl FnOnce() -> Result<&'a mut Active, ssmail_result>,
    c2s: *mut *mut ssmail_cipher,
    s2c: *mut *mut ssmail_cipher,
) -> Result<(), ssmail_result> {
    if c2s.is_null() || s2c.is_null() {
        return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
    }
    // SAFETY: non-NULL and writable (the caller's promise).
    unsafe {
        c2s.write(core::ptr::null_mut());
        s2c.write(core::ptr::null_mut());
    }
    let (a, b) = active()?.take()?;
    // SAFETY: as above.
    unsafe {
        c2s.write(a);
        s2c.write(b);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::client::*;
    use super::server::*;
    use super::*;
    use crate::cipher::{ssmail_cipher_apply, ssmail_cipher_free};
    use crate::keys::{ssmail_keys, ssmail_keys_free, ssmail_keys_new};
    use ssmail_step::*;

    fn keys(path: Option<&std::ffi::CStr>) -> *mut ssmail_keys {
        let mut k = core::ptr::null_mut();
        let p = path.map_or(core::ptr::null(), |p| p.as_ptr());
        assert_eq!(
            // SAFETY: valid arguments.
            unsafe { ssmail_keys_new(0, p, &mut k) },
            ssmail_result::SSMAIL_OK
        );
        k
    }

    /// Frees key sources made by [`keys`].
    fn free_keys(ks: &[*mut ssmail_keys]) {
        for &k in ks {
            // SAFETY: the callers pass live handles from `keys`, each once.
            unsafe { ssmail_keys_free(k) };
        }
    }

    /// A cache file's place in a directory of its own under the temp dir (named by TAG
    /// and the process), removed with what is in it when the fixture is dropped.
    struct CacheDir {
        dir: std::path::PathBuf,
        path: std::path::PathBuf,
        c_path: std::ffi::CString,
    }

    impl CacheDir {
        fn new(tag: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("ssmail-capi-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let path = dir.join("cache");
            let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
            Self { dir, path, c_path }
        }
    }

    impl Drop for CacheDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// `ssmail_server_command` on `line` (`allowed`: XCRYPT is allowed here) with the
    /// whole of `buf` for the answer, its length in `n` and the step in `step`.
    ///
    /// # Safety
    /// `s` is a live server.
    unsafe fn server_command(
        s: *mut ssmail_server,
        line: &[u8],
        allowed: bool,
        buf: &mut [u8],
        n: &mut usize,
        step: &mut ssmail_step,
    ) -> ssmail_result {
        // SAFETY: a live server (the caller's promise); slices and outputs valid.
        unsafe {
            ssmail_server_command(
                s,
                line.as_ptr(),
                line.len(),
                allowed,
                buf.as_mut_ptr(),
                buf.len(),
                n,
                step,
            )
        }
    }

    /// `ssmail_client_reply` on `line` with the whole of `buf` for the next command, its
    /// length in `n` and the step in `step`.
    ///
    /// # Safety
    /// `c` is a live client.
    unsafe fn client_reply(
        c: *mut ssmail_client,
        line: &[u8],
        buf: &mut [u8],
        n: &mut usize,
        step: &mut ssmail_step,
    ) -> ssmail_result {
        // SAFETY: a live client (the caller's promise); slices and outputs valid.
        unsafe {
            ssmail_client_reply(
                c,
                line.as_ptr(),
                line.len(),
                buf.as_mut_ptr(),
                buf.len(),
                n,
                step,
            )
        }
    }

    /// Runs one exchange between a client and a server through the C entry points,
    /// checks that their ciphers match, and returns the server's `250 XCRYPT <Kb> <Nb>`.
    fn exchange(ck: *mut ssmail_keys, sk: *mut ssmail_keys) -> Vec<u8> {
        let mut s = core::ptr::null_mut();
        // SAFETY: valid arguments.
        let r = unsafe { ssmail_server_new(sk, &mut s) };
        assert_eq!(r, ssmail_result::SSMAIL_OK);
        exchange_on(ck, s).0
    }

    /// [`exchange`] with the server `s` (freed here), also returning what the client
    /// and the server report about it (`ssmail_*_last_exchange`).
    fn exchange_on(
        ck: *mut ssmail_keys,
        s: *mut ssmail_server,
    ) -> (Vec<u8>, ssmail_exchange_info, ssmail_exchange_info) {
        exchange_on_offer(ck, s, b"250 XCRYPT t32_1.0 arrsyfor_1.0\r\n")
    }

    /// [`exchange_on`] with the server's EHLO offer line `offer`.
    fn exchange_on_offer(
        ck: *mut ssmail_keys,
        s: *mut ssmail_server,
        offer: &[u8],
    ) -> (Vec<u8>, ssmail_exchange_info, ssmail_exchange_info) {
        let mut c = core::ptr::null_mut();
        let mut buf = [0u8; SSMAIL_LINE_MAX];
        let (mut n, mut step) = (0usize, SSMAIL_STEP_NOT_XCRYPT);
        let blank = ssmail_exchange_info {
            version: core::ptr::null(),
            cache_hit: false,
        };
        let (mut c_info, mut s_info) = (blank, blank);
        // SAFETY: every pointer below is valid for its stated length.
        unsafe {
            assert_eq!(ssmail_client_new(ck, &mut c), ssmail_result::SSMAIL_OK);
            // Nothing to report before an exchange.
            assert_eq!(
                ssmail_client_last_exchange(c, &mut c_info),
                ssmail_result::SSMAIL_ERR_STATE
            );
            assert_eq!(
                ssmail_server_last_exchange(s, &mut s_info),
                ssmail_result::SSMAIL_ERR_STATE
            );
            assert!(c_info.version.is_null() && s_info.version.is_null());
            for l in [&b"250-mx.example\r\n"[..], offer] {
                assert_eq!(
                    ssmail_client_ehlo_line(c, l.as_ptr(), l.len()),
                    ssmail_result::SSMAIL_OK
                );
            }
            assert_eq!(
                ssmail_client_start(c, buf.as_mut_ptr(), buf.len(), &mut n, &mut step),
                ssmail_result::SSMAIL_OK
            );
            assert_eq!(step, SSMAIL_STEP_SEND);
            assert!(buf[..n].starts_with(b"XCRYPT ") && buf[..n].ends_with(b"\r\n"));
            let cmd = buf[..n].to_vec();
            let r = server_command(s, &cmd[..], true, &mut buf, &mut n, &mut step);
            assert_eq!((r, step), (ssmail_result::SSMAIL_OK, SSMAIL_STEP_SEND));
            let accept = buf[..n].to_vec();
            assert!(accept.starts_with(b"250 XCRYPT "));
            client_reply(c, &accept[..], &mut buf, &mut n, &mut step);
            assert_eq!((step, &buf[..n]), (SSMAIL_STEP_SEND, &b"XCRYPT OK\r\n"[..]));
            let ok = buf[..n].to_vec();
            server_command(s, &ok[..], true, &mut buf, &mut n, &mut step);
            assert_eq!(
                (step, &buf[..n]),
                (SSMAIL_STEP_ENCRYPT, &b"250 XCRYPT OK\r\n"[..])
            );
            let done = buf[..n].to_vec();
            client_reply(c, &done[..], &mut buf, &mut n, &mut step);
            assert_eq!((step, n), (SSMAIL_STEP_ENCRYPT, 0));

            let (mut c_send, mut c_recv, mut s_recv, mut s_send) = (
                core::ptr::null_mut(),
                core::ptr::null_mut(),
                core::ptr::null_mut(),
                core::ptr::null_mut(),
            );
            assert_eq!(
                ssmail_client_ciphers(c, &mut c_send, &mut c_recv),
                ssmail_result::SSMAIL_OK
            );
            assert_eq!(
                ssmail_server_ciphers(s, &mut s_recv, &mut s_send),
                ssmail_result::SSMAIL_OK
            );
            // Once only.
            let (mut x, mut y) = (core::ptr::null_mut(), core::ptr::null_mut());
            assert_eq!(
                ssmail_server_ciphers(s, &mut x, &mut y),
                ssmail_result::SSMAIL_ERR_STATE
            );
            assert!(x.is_null() && y.is_null());
            // Each direction decrypts what the other side encrypted.
            let plain = *b"MAIL FROM:<a@example>\r\n";
            let mut a = plain;
            ssmail_cipher_apply(c_send, a.as_mut_ptr(), a.len());
            assert_ne!(a, plain);
            ssmail_cipher_apply(s_recv, a.as_mut_ptr(), a.len());
            assert_eq!(a, plain);
            let plain = *b"250 2.1.0 Ok\r\n";
            let mut b = plain;
            ssmail_cipher_apply(s_send, b.as_mut_ptr(), b.len());
            assert_ne!(b, plain);
            ssmail_cipher_apply(c_recv, b.as_mut_ptr(), b.len());
            assert_eq!(b, plain);
            // An encrypted XCRYPT line gets 503 once encryption is on.
            let again = b"XCRYPT OK\r\n";
            server_command(s, &again[..], true, &mut buf, &mut n, &mut step);
            assert_eq!(step, SSMAIL_STEP_SEND);
            assert!(buf[..n].starts_with(b"503 "));
            for cipher in [c_send, c_recv, s_recv, s_send] {
                ssmail_cipher_free(cipher);
            }
            assert_eq!(
                ssmail_client_last_exchange(c, &mut c_info),
                ssmail_result::SSMAIL_OK
            );
            assert_eq!(
                ssmail_server_last_exchange(s, &mut s_info),
                ssmail_result::SSMAIL_OK
            );
            ssmail_client_free(c);
            ssmail_server_free(s);
            (accept, c_info, s_info)
        }
    }

    fn name(info: &ssmail_exchange_info) -> &'static [u8] {
        assert!(!info.version.is_null());
        // SAFETY: a static NUL-terminated name from libssmail.
        unsafe { std::ffi::CStr::from_ptr(info.version) }.to_bytes()
    }

    #[test]
    fn the_first_exchange_with_a_peer_is_a_miss_then_hits() {
        let (ck, sk) = (keys(None), keys(None));
        let new_server = || {
            let mut s = core::ptr::null_mut();
            // SAFETY: valid arguments.
            let r = unsafe { ssmail_server_new(sk, &mut s) };
            assert_eq!(r, ssmail_result::SSMAIL_OK);
            s
        };
        let (_, c1, s1) = exchange_on(ck, new_server());
        assert_eq!((name(&c1), name(&s1)), (&b"t32_1.0"[..], &b"t32_1.0"[..]));
        assert!(!c1.cache_hit && !s1.cache_hit, "first meeting: a DH each");
        let (_, c2, s2) = exchange_on(ck, new_server());
        assert!(
            c2.cache_hit && s2.cache_hit,
            "same pairs: both from the cache"
        );
        // A client with a key source of its own is a new peer to the server.
        let other = keys(None);
        let (_, c3, s3) = exchange_on(other, new_server());
        assert!(!c3.cache_hit && !s3.cache_hit);
        // SAFETY: NULLs for the error paths, a live output.
        unsafe {
            let mut info = c3;
            assert_eq!(
                ssmail_server_last_exchange(core::ptr::null(), &mut info),
                ssmail_result::SSMAIL_ERR_NULL_POINTER
            );
            assert!(info.version.is_null() && !info.cache_hit);
            assert_eq!(
                ssmail_client_last_exchange(core::ptr::null(), core::ptr::null_mut()),
                ssmail_result::SSMAIL_ERR_NULL_POINTER
            );
        }
        free_keys(&[ck, sk, other]);
    }

    #[test]
    fn a_hit_through_the_cache_file_counts_as_a_hit() {
        let cache = CacheDir::new("hit");
        let cpath = &cache.c_path;
        let ck = keys(None);
        let mut s = core::ptr::null_mut();
        let s1 = keys(Some(cpath));
        // SAFETY: valid arguments.
        unsafe { ssmail_server_new(s1, &mut s) };
        let (_, _, first) = exchange_on(ck, s);
        assert!(!first.cache_hit);
        // Another process's key source: the secret is in the file, not in its memory.
        let s2 = keys(Some(cpath));
        // SAFETY: valid arguments.
        unsafe { ssmail_server_new(s2, &mut s) };
        let (_, client, second) = exchange_on(ck, s);
        assert!(second.cache_hit && client.cache_hit);
        free_keys(&[ck, s1, s2]);
    }

    #[test]
    fn a_server_restricted_to_versions() {
        let (ck, sk) = (keys(None), keys(None));
        let make = |list: &[u8]| {
            let list = std::ffi::CString::new(list).expect("no NUL");
            let mut s = core::ptr::null_mut();
            // SAFETY: valid arguments.
            let r = unsafe { ssmail_server_new_versions(sk, list.as_ptr(), &mut s) };
            (r, s)
        };
        for bad in [&b""[..], b" , ", b"t32_1.0 t32_2.0", b"rc4"] {
            let (r, s) = make(bad);
            assert_eq!(r, ssmail_result::SSMAIL_ERR_BAD_VERSION, "{bad:?}");
            assert!(s.is_null());
        }
        let mut s = core::ptr::null_mut();
        // SAFETY: NULL arguments are errors, not crashes.
        unsafe {
            assert_eq!(
                ssmail_server_new_versions(sk, core::ptr::null(), &mut s),
                ssmail_result::SSMAIL_ERR_NULL_POINTER
            );
            let t32 = std::ffi::CString::new("t32_1.0").expect("no NUL");
            assert_eq!(
                ssmail_server_new_versions(core::ptr::null(), t32.as_ptr(), &mut s),
                ssmail_result::SSMAIL_ERR_NULL_POINTER
            );
        }
        assert!(s.is_null());
        // The client picks the server's first choice: arrsyfor here.
        let (r, s) = make(b"ARRSYFOR_1.0,t32_1.0");
        assert_eq!(r, ssmail_result::SSMAIL_OK);
        let (accept, _, info) = exchange_on_offer(ck, s, b"250 XCRYPT arrsyfor_1.0 t32_1.0\r\n");
        assert!(accept.starts_with(b"250 XCRYPT "));
        assert_eq!(name(&info), b"arrsyfor_1.0");

        // A t32-only server: an arrsyfor start gets 504, but a start that is also
        // malformed gets the syntax answer first (docs/xcrypt.md §4.4).
        let (r, s) = make(b"t32_1.0");
        assert_eq!(r, ssmail_result::SSMAIL_OK);
        let key = format!("{:0>192}", "5");
        let nonce = "00112233445566778899";
        let cases = [
            (format!("XCRYPT arrsyfor_1.0 {key} {nonce}\r\n"), "504 "),
            (format!("XCRYPT arrsyfor_1.0 {key} 0011\r\n"), "501 "),
            (format!("XCRYPT arrsyfor_1.0 00 {nonce}\r\n"), "501 "),
            (format!("XCRYPT rc4_9.9 {key} {nonce}\r\n"), "504 "),
            (format!("XCRYPT t32_1.0 {key} {nonce}\r\n"), "250 XCRYPT "),
        ];
        let mut buf = [0u8; SSMAIL_LINE_MAX];
        let (mut n, mut step) = (0usize, SSMAIL_STEP_NOT_XCRYPT);
        for (line, want) in cases {
            // SAFETY: valid buffers.
            let r =
                unsafe { server_command(s, line.as_bytes(), true, &mut buf, &mut n, &mut step) };
            assert_eq!(r, ssmail_result::SSMAIL_OK);
            assert!(
                buf[..n].starts_with(want.as_bytes()),
                "{line}: {:?}",
                String::from_utf8_lossy(&buf[..n])
            );
        }
        // SAFETY: a live handle, freed once.
        unsafe { ssmail_server_free(s) };
        free_keys(&[ck, sk]);
    }

    #[test]
    fn a_client_and_a_server_reach_encryption() {
        let (ck, sk) = (keys(None), keys(None));
        let first = exchange(ck, sk);
        // The key source keeps its pair: the second exchange shows the same key.
        let second = exchange(ck, sk);
        assert_eq!(first[..11 + 192], second[..11 + 192]);
        free_keys(&[ck, sk]);
    }

    #[test]
    fn processes_sharing_a_cache_file_share_one_pair() {
        let cache = CacheDir::new("test");
        let (path, cpath) = (&cache.path, &cache.c_path);
        let ck = keys(None);
        let s1 = keys(Some(cpath));
        let first = exchange(ck, s1);
        // A second key source on the same file (another process, in a real server)
        // takes over the pair the first one made and saved.
        let s2 = keys(Some(cpath));
        let second = exchange(ck, s2);
        assert_eq!(first[..11 + 192], second[..11 + 192]);
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)
            .expect("cache file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the cache file is owner-only");
        free_keys(&[ck, s1, s2]);
    }

    #[test]
    fn a_corrupt_cache_file_is_started_over() {
        let cache = CacheDir::new("corrupt");
        let (path, cpath) = (&cache.path, &cache.c_path);
        std::fs::write(path, b"SSMAILKC but not a cache at all").expect("write");
        // Readable by others (the umask's 0644): refused, never used (docs/xcrypt.md §5.4).
        let mut refused = core::ptr::null_mut();
        assert_eq!(
            // SAFETY: valid arguments.
            unsafe { ssmail_keys_new(0, cpath.as_ptr(), &mut refused) },
            ssmail_result::SSMAIL_ERR_IO
        );
        assert!(refused.is_null());
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let ck = keys(None);
        let s1 = keys(Some(cpath)); // the corrupt file is ignored, not an error
        let first = exchange(ck, s1);
        // ... and replaced by a valid one that the next process takes over.
        let s2 = keys(Some(cpath));
        assert_eq!(first[..11 + 192], exchange(ck, s2)[..11 + 192]);
        free_keys(&[ck, s1, s2]);
    }

    #[test]
    fn the_key_source_may_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<ssmail_keys>();
        let k = keys(None);
        let addr = k as usize;
        let lines: Vec<Vec<u8>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(move || {
                        let ck = keys(None);
                        let line = exchange(ck, addr as *mut ssmail_keys);
                        free_keys(&[ck]);
                        line
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        // One pair for all four concurrent exchanges.
        assert!(lines.iter().all(|l| l[..11 + 192] == lines[0][..11 + 192]));
        free_keys(&[k]);
    }

    /// A line of the shapes that matter: XCRYPT commands and replies with mangled
    /// parameters, other replies, continuation lines, anything at all, long or short.
    fn line() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let hex = "[0-9a-fA-F]{0,200}";
        prop_oneof![
            (
                "(XCRYPT|xcrypt|250 XCRYPT|250-XCRYPT|501 XCRYPT|503|250|5..|2..) ?",
                "(t32_1.0|arrsyfor_1.0|OK|FAIL|ok|) ?",
                hex,
                " ?",
                hex,
                "(\r\n|\n|)"
            )
                .prop_map(|(a, b, c, d, e, f)| format!("{a}{b}{c}{d}{e}{f}").into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..700),
        ]
    }

    proptest::proptest! {
        /// Whatever the peer sends, in whatever order, every call returns a code (never
        /// a caught panic) and writes at most one line of at most SSMAIL_LINE_MAX octets.
        #[test]
        fn any_lines_in_any_order_are_answered(lines in proptest::collection::vec(line(), 1..12)) {
            let k = keys(None);
            let (mut c, mut s) = (core::ptr::null_mut(), core::ptr::null_mut());
            let mut buf = [0u8; SSMAIL_LINE_MAX];
            let (mut n, mut step) = (0usize, SSMAIL_STEP_NOT_XCRYPT);
            // SAFETY: every pointer is valid for its stated length.
            unsafe {
                ssmail_server_new(k, &mut s);
                ssmail_client_new(k, &mut c);
                let offer = b"250 XCRYPT t32_1.0\r\n";
                ssmail_client_ehlo_line(c, offer.as_ptr(), offer.len());
                ssmail_client_start(c, buf.as_mut_ptr(), buf.len(), &mut n, &mut step);
                for l in &lines {
                    ssmail_client_ehlo_line(c, l.as_ptr(), l.len());
                    let r = server_command(s, l, true, &mut buf, &mut n, &mut step);
                    proptest::prop_assert_eq!(r, ssmail_result::SSMAIL_OK);
                    proptest::prop_assert!(n <= SSMAIL_LINE_MAX && (n == 0 || buf[..n].ends_with(b"\r\n")));
                    let r = client_reply(c, l, &mut buf, &mut n, &mut step);
                    proptest::prop_assert_eq!(r, ssmail_result::SSMAIL_OK);
                    proptest::prop_assert!(n <= SSMAIL_LINE_MAX);
                }
                ssmail_server_free(s);
                ssmail_client_free(c);
                ssmail_keys_free(k);
            }
        }
    }

    #[test]
    fn refusals_and_fallbacks() {
        let k = keys(None);
        let (mut c, mut s) = (core::ptr::null_mut(), core::ptr::null_mut());
        let mut buf = [0u8; SSMAIL_LINE_MAX];
        let (mut n, mut step) = (0usize, SSMAIL_STEP_SEND);
        // SAFETY: every pointer below is valid for its stated length.
        unsafe {
            ssmail_server_new(k, &mut s);
            let cases: [(&[u8], bool, &[u8], ssmail_step); 6] = [
                (b"MAIL FROM:<a@b>\r\n", true, b"", SSMAIL_STEP_NOT_XCRYPT),
                (
                    b"XCRYPT t32_1.0 00 11\r\n",
                    true,
                    b"501 ",
                    SSMAIL_STEP_PLAINTEXT,
                ),
                (b"XCRYPT OK\r\n", true, b"503 ", SSMAIL_STEP_PLAINTEXT),
                (b"XCRYPT\r\n", true, b"501 ", SSMAIL_STEP_PLAINTEXT),
                (b"xcrypt fail\r\n", true, b"503 ", SSMAIL_STEP_PLAINTEXT),
                (b"NOOP\r\n", false, b"", SSMAIL_STEP_NOT_XCRYPT),
            ];
            for (line, allowed, want, want_step) in cases {
                let r = server_command(s, line, allowed, &mut buf, &mut n, &mut step);
                assert_eq!(r, ssmail_result::SSMAIL_OK);
                assert!(
                    buf[..n].starts_with(want) && (n == 0) == want.is_empty(),
                    "{line:?}"
                );
                assert_eq!(step, want_step, "{line:?}");
            }
            // Short buffer and NULLs are codes.
            let l = b"XCRYPT OK\r\n";
            let r = ssmail_server_command(
                s,
                l.as_ptr(),
                l.len(),
                true,
                buf.as_mut_ptr(),
                100,
                &mut n,
                &mut step,
            );
            assert_eq!(r, ssmail_result::SSMAIL_ERR_BUFFER_TOO_SHORT);
            let r = ssmail_server_command(
                core::ptr::null_mut(),
                l.as_ptr(),
                l.len(),
                true,
                buf.as_mut_ptr(),
                buf.len(),
                &mut n,
                &mut step,
            );
            assert_eq!(r, ssmail_result::SSMAIL_ERR_NULL_POINTER);

            // A client with no offer, or refused, goes on in plaintext.
            ssmail_client_new(k, &mut c);
            ssmail_client_start(c, buf.as_mut_ptr(), buf.len(), &mut n, &mut step);
            assert_eq!((step, n), (SSMAIL_STEP_PLAINTEXT, 0));
            ssmail_client_free(c);
            for (reply, want) in [
                (
                    &b"504 XCRYPT FAIL no common version\r\n"[..],
                    SSMAIL_STEP_PLAINTEXT,
                ),
                (
                    b"502 5.5.2 command not recognized\r\n",
                    SSMAIL_STEP_PLAINTEXT,
                ),
                (b"250 XCRYPT 00 00\r\n", SSMAIL_STEP_SEND), // bad key: XCRYPT FAIL
            ] {
                ssmail_client_new(k, &mut c);
                let e = b"250 XCRYPT arrsyfor_1.0\r\n";
                ssmail_client_ehlo_line(c, e.as_ptr(), e.len());
                ssmail_client_start(c, buf.as_mut_ptr(), buf.len(), &mut n, &mut step);
                assert!(buf[..n].starts_with(b"XCRYPT arrsyfor_1.0 "));
                client_reply(c, reply, &mut buf, &mut n, &mut step);
                assert_eq!(step, want);
                if want == SSMAIL_STEP_SEND {
                    assert_eq!(&buf[..n], b"XCRYPT FAIL\r\n");
                    let ack = b"250 XCRYPT FAIL\r\n";
                    client_reply(c, &ack[..], &mut buf, &mut n, &mut step);
                    assert_eq!((step, n), (SSMAIL_STEP_PLAINTEXT, 0));
                }
                let (mut a, mut b) = (core::ptr::null_mut(), core::ptr::null_mut());
                assert_eq!(
                    ssmail_client_ciphers(c, &mut a, &mut b),
                    ssmail_result::SSMAIL_ERR_STATE
                );
                ssmail_client_free(c);
            }
            ssmail_server_free(s);
            ssmail_keys_free(k);
        }
    }
}
