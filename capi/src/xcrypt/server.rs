//! `ssmail_server`: the server side of one session's exchange.

use std::sync::Arc;

use ssmail_core::xcrypt::{Command, Reply, Version};
use ssmail_core::DirectionKeys;

use super::{emit, hand_out_ciphers, input, outputs, ssmail_step, Active};
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
    state: State,
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
        (
            Ok(Command::Start {
                version,
                key,
                nonce: na,
            }),
            _,
        ) => match start(&server.keys, version, &key, &na) {
            Ok((reply, keys)) => {
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
    version: Version,
    client_key: &ssmail_core::PublicKey,
    na: &[u8; ssmail_core::kdf::NONCE_BYTES],
) -> Result<(Reply, DirectionKeys), Reply> {
    let _ = version; // every version the parser knows is offered (ssmail_ehlo_keyword)
    let local = Reply::Refused { code: 454 };
    let own = keys.own_public_key().map_err(|_| local.clone())?;
    let nb = nonce().map_err(|_| local.clone())?;
    let z = keys.shared_secret(&own, client_key).map_err(|_| local)?;
    let session = ssmail_core::derive(z.as_bytes(), na, &nb);
    Ok((
        Reply::Accept {
            key: own,
            nonce: nb,
        },
        session,
    ))
}

/// Makes the server side of one session's exchange, drawing on `keys` (which it keeps a
/// reference to: `keys` may be freed first).
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
    guard(|| {
        if out.is_null() {
            return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
        }
        // SAFETY: non-NULL and writable.
        unsafe { out.write(core::ptr::null_mut()) };
        // SAFETY: NULL or a live handle; shared access only.
        let keys = unsafe { keys.as_ref() }.ok_or(ssmail_result::SSMAIL_ERR_NULL_POINTER)?;
        let server = ssmail_server {
            keys: Arc::clone(&keys.shared),
            state: State::Idle,
        };
        // SAFETY: as above.
        unsafe { out.write(Box::into_raw(Box::new(server))) };
        Ok(())
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
