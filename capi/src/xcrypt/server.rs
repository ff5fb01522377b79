//! `ssmail_server`: the server side of one session's exchange.

use std::sync::Arc;

use core::ffi::c_char;
use std::ffi::CStr;

use ssmail_core::xcrypt::{Command, CommandError, Offer, Reply, Version};
use ssmail_core::DirectionKeys;

use super::{
    emit, hand_out_ciphers, input, outputs, report, ssmail_exchange_info, ssmail_step, Active,
    Exchange,
};
use crate::cipher::ssmail_cipher;
use crate::guard::guard;
use crate::keys::{nonce, ssmail_keys, Shared};
use crate::result::ssmail_result;

/// The server side of XCRYPT for one SMTP session.
///
/// Made by `ssmail_server_new` from a key source, released by `ssmail_server_free`
/// (which wipes the session's keys). Thread-safety: one thread at a time (it may move
/// between threads); one per session.
pub struct ssmail_server {
    keys: Arc<Shared>,
    /// The versions this server accepts, in its order of preference.
    versions: Offer,
    state: State,
    /// The last exchange that reached a shared secret.
    last: Option<Exchange>,
}

enum State {
    /// No exchange under way (never started, failed, refused or abandoned).
    Idle,
    /// `250 XCRYPT <Kb> <Nb>` sent; waiting for `XCRYPT OK` or `XCRYPT FAIL`.
    Waiting {
        version: Version,
        keys: DirectionKeys,
    },
    /// Encryption on.
    Active(Active),
}

/// One command line, decided: the reply to send and what follows.
fn decide(server: &mut ssmail_server, line: &[u8], allowed: bool) -> (Option<Reply>, ssmail_step) {
    use ssmail_step::{
        SSMAIL_STEP_ENCRYPT, SSMAIL_STEP_NOT_XCRYPT, SSMAIL_STEP_PLAINTEXT, SSMAIL_STEP_SEND,
    };
    let Some(command) = Command::parse(line) else {
        if matches!(server.state, State::Waiting { .. }) {
            // docs/xcrypt.md §6.9: an ordinary command drops the exchange.
            server.state = State::Idle;
        }
        return (None, SSMAIL_STEP_NOT_XCRYPT);
    };
    if matches!(server.state, State::Active(_)) {
        // §4.6: every XCRYPT line once encryption is on.
        return (Some(Reply::BadSequence), SSMAIL_STEP_SEND);
    }
    let waiting = core::mem::replace(&mut server.state, State::Idle);
    let reply = match (command, waiting) {
        (Err(why), _) => Reply::refusal(why),
        (Ok(Command::Start { .. }), State::Waiting { .. }) => Reply::BadSequence, // §6.8
        (Ok(Command::Start { .. }), _) if !allowed => Reply::BadSequence,         // §4.3
        (Ok(Command::Start { version, .. }), _) if !server.versions.contains(version) => {
            Reply::refusal(CommandError::NoCommonVersion) // §4.4, after the syntax checks
        }
        (
            Ok(Command::Start {
                version,
                key,
                nonce: na,
            }),
            _,
        ) => match start(&server.keys, &key, &na) {
            Ok((reply, keys, lookup)) => {
                server.last = Some(Exchange { version, lookup });
                server.state = State::Waiting { version, keys };
                return (Some(reply), SSMAIL_STEP_SEND);
            }
            Err(reply) => reply,
        },
        (Ok(Command::Ok), State::Waiting { version, keys }) => {
            server.state = State::Active(Active {
                version,
                keys: Some(keys),
            });
            return (Some(Reply::Ok), SSMAIL_STEP_ENCRYPT);
        }
        (Ok(Command::Fail), State::Waiting { .. }) => Reply::FailAck,
        (Ok(Command::Ok | Command::Fail), _) => Reply::BadSequence, // §6.7
    };
    (Some(reply), SSMAIL_STEP_PLAINTEXT)
}

/// A well-formed start: our key and nonce, and the session keys they make with the
/// client's; `454` when the key source or the RNG fails (docs/xcrypt.md §4.4).
fn start(
    keys: &Shared,
    client_key: &ssmail_core::PublicKey,
    na: &[u8; ssmail_core::kdf::NONCE_BYTES],
) -> Result<(Reply, DirectionKeys, ssmail_core::Lookup), Reply> {
    let local = Reply::Refused { code: 454 };
    let own = keys.own_public_key().map_err(|_| local.clone())?;
    let nb = nonce().map_err(|_| local.clone())?;
    let (z, lookup) = keys.shared_secret(&own, client_key).map_err(|_| local)?;
    let session = ssmail_core::derive(z.as_bytes(), na, &nb);
    Ok((
        Reply::Accept {
            key: own,
            nonce: nb,
        },
        session,
        lookup,
    ))
}

/// The body of both constructors: `out` checked and cleared, then a server over `keys`
/// accepting `versions`.
///
/// # Safety
/// `keys` is NULL or a live handle; `out` is NULL or writable.
unsafe fn make(
    keys: *const ssmail_keys,
    versions: impl FnOnce() -> Result<Offer, ssmail_result>,
    out: *mut *mut ssmail_server,
) -> Result<(), ssmail_result> {
    if out.is_null() {
        return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
    }
    // SAFETY: non-NULL and writable.
    unsafe { out.write(core::ptr::null_mut()) };
    // SAFETY: NULL or a live handle; shared access only.
    let keys = unsafe { keys.as_ref() }.ok_or(ssmail_result::SSMAIL_ERR_NULL_POINTER)?;
    let server = ssmail_server {
        keys: Arc::clone(&keys.shared),
        versions: versions()?,
        state: State::Idle,
        last: None,
    };
    // SAFETY: as above.
    unsafe { out.write(Box::into_raw(Box::new(server))) };
    Ok(())
}

/// The versions named in `list` (separated by spaces, tabs or commas), in that order,
/// repeats dropped; `None` if one is unknown or there are none.
fn parse_versions(list: &[u8]) -> Option<Offer> {
    let mut named = Vec::new();
    for token in list
        .split(|b| matches!(b, b' ' | b'\t' | b','))
        .filter(|t| !t.is_empty())
    {
        named.push(Version::parse(token)?);
    }
    (!named.is_empty()).then(|| Offer::new(&named))
}

/// Makes the server side of one session's exchange, drawing on `keys` (which it keeps a
/// reference to: `keys` may be freed first). It accepts every version this library
/// knows (`ssmail_ehlo_keyword`).
///
/// Errors: `SSMAIL_ERR_NULL_POINTER`. On error `*out` is NULL.
///
/// # Safety
/// `keys` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssmail_server_new(
    keys: *const ssmail_keys,
    out: *mut *mut ssmail_server,
) -> ssmail_result {
    // SAFETY: the caller's promises.
    guard(|| unsafe { make(keys, || Ok(Offer::new(&Version::ALL)), out) })
}

/// As `ssmail_server_new`, but the server accepts only the versions named in `versions`
/// (a NUL-terminated list such as `"t32_1.0 arrsyfor_1.0"`, separated by spaces, tabs
/// or commas, any case): a start naming another version gets
/// `504 XCRYPT FAIL no common version`, after the checks of the line's syntax, key and
/// nonce (docs/xcrypt.md §4.4). Offer the same list, in the same order, in the EHLO
/// reply. Check a configured list once at start by making (and freeing) a server.
///
/// Errors: `SSMAIL_ERR_NULL_POINTER`, `SSMAIL_ERR_BAD_VERSION` (a name this library
/// does not know, or no name at all). On error `*out` is NULL.
///
/// # Safety
/// `keys` is NULL or a live handle; `versions` is NULL or a NUL-terminated string; `out`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssmail_server_new_versions(
    keys: *const ssmail_keys,
    versions: *const c_char,
    out: *mut *mut ssmail_server,
) -> ssmail_result {
    let offer = || {
        if versions.is_null() {
            return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
        }
        // SAFETY: non-NULL and NUL-terminated (the caller's promise).
        let list = unsafe { CStr::from_ptr(versions) };
        parse_versions(list.to_bytes()).ok_or(ssmail_result::SSMAIL_ERR_BAD_VERSION)
    };
    // SAFETY: the caller's promises.
    guard(|| unsafe { make(keys, offer, out) })
}

/// Reports the session's last exchange that reached a shared secret (whether or not
/// encryption then came on): its version and whether the secret was a key cache hit.
/// Call it after `SSMAIL_STEP_ENCRYPT` for the log line.
///
/// Errors: `SSMAIL_ERR_NULL_POINTER`, `SSMAIL_ERR_STATE` (no exchange got that far). On
/// error `info->version` is NULL and `info->cache_hit` false.
///
/// # Safety
/// `server` is NULL or a live handle used by one thread at a time; `info` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ssmail_server_last_exchange(
    server: *const ssmail_server,
    info: *mut ssmail_exchange_info,
) -> ssmail_result {
    guard(|| {
        // SAFETY: NULL or a live handle (the caller's promise); shared access only.
        let last = unsafe { server.as_ref() }
            .map(|s| s.last)
            .ok_or(ssmail_result::SSMAIL_ERR_NULL_POINTER);
        // SAFETY: the caller's promise on `info`.
        unsafe { report(last, info) }
    })
}

/// Gives the server one command line from the client (`len` bytes at `line`, with or
/// without its CRLF, already decrypted if encryption is on) and writes the reply to
/// send, if any, to `reply` (`reply_cap` >= `SSMAIL_LINE_MAX`), its length to
/// `*reply_len` and what to do next to `*step` (see `ssmail_step`).
///
/// Give it every command line while an exchange is under way, and at least every line
/// that starts with `XCRYPT` (any case) otherwise; any other line gets
/// `SSMAIL_STEP_NOT_XCRYPT`. An `XCRYPT` line is never for the MTA's own command
/// handling.
///
/// `xcrypt_allowed` says whether the session may start an exchange now: true only after
/// a successful EHLO (no HELO since), outside a mail transaction, and with no more
/// client input already waiting behind this line (docs/xcrypt.md §4.2-§4.3); if false a
/// start gets `503`.
///
/// The replies are the spec's (docs/xcrypt.md §4.4): `250 XCRYPT <Kb> <Nb>`,
/// `250 XCRYPT OK`, `250 XCRYPT FAIL`, `501`/`504`/`454 XCRYPT FAIL ...`, `503`.
///
/// Errors: `SSMAIL_ERR_NULL_POINTER`, `SSMAIL_ERR_BUFFER_TOO_SHORT` (`reply_cap`); on
/// error nothing changed and `*reply_len` is 0.
///
/// # Safety
/// `server` is NULL or a live handle used by one thread at a time; `line` is valid for
/// `len` bytes (or NULL with `len` 0); `reply` for `reply_cap` bytes; `reply_len` and
/// `step` for one value each (or NULL).
#[no_mangle]
pub unsafe extern "C" fn ssmail_server_command(
    server: *mut ssmail_server,
    line: *const u8,
    len: usize,
    xcrypt_allowed: bool,
    reply: *mut u8,
    reply_cap: usize,
    reply_len: *mut usize,
    step: *mut ssmail_step,
) -> ssmail_result {
    guard(|| {
        // SAFETY: writable outputs (the caller's promise).
        unsafe { outputs(reply, reply_cap, reply_len, step) }?;
        // SAFETY: NULL or a live handle used by this thread only.
        let server = unsafe { server.as_mut() }.ok_or(ssmail_result::SSMAIL_ERR_NULL_POINTER)?;
        // SAFETY: valid for `len` bytes.
        let line = unsafe { input(line, len) }?;
        let (r, next) = decide(server, line, xcrypt_allowed);
        // SAFETY: outputs checked above.
        unsafe { emit(r.map(|r| r.write()), next, reply, reply_len, step) };
        Ok(())
    })
}

/// After `SSMAIL_STEP_ENCRYPT`, hands out the session's two ciphers, once:
/// `*recv` decrypts what the client sends, `*send` encrypts what the server sends.
/// The caller owns both and frees them with `ssmail_cipher_free`.
///
/// Errors: `SSMAIL_ERR_NULL_POINTER`, `SSMAIL_ERR_STATE` (encryption is not on, or the
/// ciphers were taken already). On error both are NULL.
///
/// # Safety
/// `server` is NULL or a live handle used by one thread at a time; `recv` and `send` are
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssmail_server_ciphers(
    server: *mut ssmail_server,
    recv: *mut *mut ssmail_cipher,
    send: *mut *mut ssmail_cipher,
) -> ssmail_result {
    let active = || {
        // SAFETY: NULL or a live handle used by this thread only (the caller's promise).
        let server = unsafe { server.as_mut() }.ok_or(ssmail_result::SSMAIL_ERR_NULL_POINTER)?;
        match &mut server.state {
            State::Active(active) => Ok(active),
            _ => Err(ssmail_result::SSMAIL_ERR_STATE),
        }
    };
    // The server receives client to server and sends server to client.
    // SAFETY: the caller's promises on `recv` and `send`.
    guard(|| unsafe { hand_out_ciphers(active, recv, send) })
}

/// Releases the server side of a session and wipes its keys. NULL is accepted.
///
/// # Safety
/// `server` is NULL or a handle from `ssmail_server_new` not yet freed; not used after.
#[no_mangle]
pub unsafe extern "C" fn ssmail_server_free(server: *mut ssmail_server) {
    crate::guard::guard_void(|| {
        if !server.is_null() {
            // SAFETY: from Box::into_raw in ssmail_server_new, freed once.
            drop(unsafe { Box::from_raw(server) });
        }
    });
}
