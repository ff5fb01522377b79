//! `ssmail_client`: the client side of one session's exchange.

use std::sync::Arc;

use ssmail_core::kdf::NONCE_BYTES;
use ssmail_core::xcrypt::{offer_in_ehlo_line, Command, Offer, Reply, ReplyError, Version};
use ssmail_core::{DirectionKeys, PublicKey};

use super::{
    emit, hand_out_ciphers, input, outputs, report, ssmail_exchange_info, ssmail_step, Active,
    Exchange,
};
use crate::cipher::ssmail_cipher;
use crate::guard::guard;
use crate::keys::{nonce, ssmail_keys, Shared};
use crate::result::ssmail_result;

/// The client side of XCRYPT for one SMTP session: at most one exchange per session
/// (docs/xcrypt.md §6.8).
///
/// Made by `ssmail_client_new` from a key source, released by `ssmail_client_free`
/// (which wipes the session's keys). Thread-safety: one thread at a time (it may move
/// between threads); one per session.
pub struct ssmail_client {
    keys: Arc<Shared>,
    offer: Offer,
    state: State,
    /// A continuation line (`250-`) came in the reply being read: the reply is unusable
    /// (docs/xcrypt.md §6.10).
    multiline: bool,
    /// The exchange, once it reached a shared secret.
    last: Option<Exchange>,
}

enum State {
    /// Nothing sent yet.
    Fresh,
    /// `XCRYPT <Va> <Ka> <Na>` sent.
    SentStart {
        version: Version,
        own: PublicKey,
        na: [u8; NONCE_BYTES],
    },
    /// `XCRYPT OK` sent.
    SentOk {
        version: Version,
        keys: DirectionKeys,
    },
    /// `XCRYPT FAIL` sent.
    SentFail,
    /// The exchange is over, in plaintext.
    Done,
    /// Encryption on.
    Active(Active),
}

/// The reply code of a line, from its first three octets.
fn code(line: &[u8]) -> Option<u16> {
    let d = line.get(..3)?;
    d.iter().all(u8::is_ascii_digit).then(|| {
        d.iter()
            .fold(0u16, |acc, &b| acc * 10 + u16::from(b - b'0'))
    })
}

/// One reply line to our last command, decided (docs/xcrypt.md §6.18).
fn decide(client: &mut ssmail_client, line: &[u8]) -> (Option<Command>, ssmail_step) {
    use ssmail_step::{
        SSMAIL_STEP_ENCRYPT, SSMAIL_STEP_NOT_XCRYPT, SSMAIL_STEP_PLAINTEXT, SSMAIL_STEP_SEND,
    };
    if !matches!(
        client.state,
        State::SentStart { .. } | State::SentOk { .. } | State::SentFail
    ) {
        return (None, SSMAIL_STEP_NOT_XCRYPT);
    }
    if line.get(3) == Some(&b'-') {
        client.multiline = true;
        return (None, SSMAIL_STEP_SEND); // read on to the last line
    }
    let multiline = core::mem::take(&mut client.multiline);
    let positive = code(line).is_some_and(|c| (200..300).contains(&c));
    let fail = |client: &mut ssmail_client| {
        client.state = State::SentFail;
        (Some(Command::Fail), SSMAIL_STEP_SEND)
    };
    let plaintext = |client: &mut ssmail_client| {
        client.state = State::Done;
        (None, SSMAIL_STEP_PLAINTEXT)
    };
    match core::mem::replace(&mut client.state, State::Done) {
        State::SentStart { version, own, na } => {
            if multiline {
                return if positive {
                    fail(client)
                } else {
                    plaintext(client)
                };
            }
            match Reply::parse(line) {
                Ok(Reply::Accept { key, nonce: nb }) => {
                    let Ok((z, lookup)) = client.keys.shared_secret(&own, &key) else {
                        return fail(client); // LocalFailure
                    };
                    client.last = Some(Exchange { version, lookup });
                    let keys = ssmail_core::derive(z.as_bytes(), &na, &nb);
                    client.state = State::SentOk { version, keys };
                    (Some(Command::Ok), SSMAIL_STEP_SEND)
                }
                Err(ReplyError::BadKey | ReplyError::BadNonce) | Ok(Reply::Ok | Reply::FailAck) => {
                    fail(client)
                }
                Ok(Reply::Refused { .. } | Reply::BadSequence | Reply::Unknown { .. }) => {
                    plaintext(client)
                }
                Err(ReplyError::Malformed | ReplyError::Unexpected { .. }) if positive => {
                    fail(client)
                }
                Err(_) => plaintext(client),
            }
        }
        State::SentOk { version, keys } if !multiline && Reply::parse(line) == Ok(Reply::Ok) => {
            client.state = State::Active(Active {
                version,
                keys: Some(keys),
            });
            (None, SSMAIL_STEP_ENCRYPT)
        }
        _ => plaintext(client),
    }
}

/// Makes the client side of one session's exchange, drawing on `keys` (which it keeps
/// a reference to: `keys` may be freed first).
///
/// Errors: `SSMAIL_ERR_NULL_POINTER`. On error `*out` is NULL.
///
/// # Safety
/// `keys` is NULL or a live handle; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssmail_client_new(
    keys: *const ssmail_keys,
    out: *mut *mut ssmail_client,
) -> ssmail_result {
    guard(|| {
        if out.is_null() {
            return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
        }
        // SAFETY: non-NULL and writable.
        unsafe { out.write(core::ptr::null_mut()) };
        // SAFETY: NULL or a live handle; shared access only.
        let keys = unsafe { keys.as_ref() }.ok_or(ssmail_result::SSMAIL_ERR_NULL_POINTER)?;
        let client = ssmail_client {
            keys: Arc::clone(&keys.shared),
            offer: Offer::default(),
            state: State::Fresh,
            multiline: false,
            last: None,
        };
        // SAFETY: as above.
        unsafe { out.write(Box::into_raw(Box::new(client))) };
        Ok(())
    })
}

/// Gives the client one line of the server's EHLO reply (`len` bytes, with or without
/// CRLF). The `XCRYPT` keyword line, if there is one, sets the versions the server
/// offers; other lines change nothing. Call it for each line, before
/// `ssmail_client_start`.
///
/// Errors: `SSMAIL_ERR_NULL_POINTER`.
///
/// # Safety
/// `client` is NULL or a live handle used by one thread at a time; `line` is valid for
/// `len` bytes (or NULL with `len` 0).
#[no_mangle]
pub unsafe extern "C" fn ssmail_client_ehlo_line(
    client: *mut ssmail_client,
    line: *const u8,
    len: usize,
) -> ssmail_result {
    guard(|| {
        // SAFETY: NULL or a live handle used by this thread only.
        let client = unsafe { client.as_mut() }.ok_or(ssmail_result::SSMAIL_ERR_NULL_POINTER)?;
        // SAFETY: valid for `len` bytes.
        let line = unsafe { input(line, len) }?;
        if let Some(offer) = offer_in_ehlo_line(line) {
            client.offer = offer;
        }
        Ok(())
    })
}

/// After the EHLO reply, starts the exchange if the server offered a version this
/// library supports (the server's first choice wins): writes
/// `XCRYPT <Va> <Ka> <Na>\r\n` to `cmd` (`cmd_cap` >= `SSMAIL_LINE_MAX`) and
/// `SSMAIL_STEP_SEND`. Send it as the last command of its group (nothing pipelined
/// behind it) and give each reply line to `ssmail_client_reply`.
///
/// Otherwise writes nothing (`*cmd_len` 0) and `SSMAIL_STEP_PLAINTEXT`: no offer, no
/// common version, a second attempt in the session, or no key pair or nonce could be
/// had (the session goes on in plaintext, docs/xcrypt.md §4.5, §6.18).
///
/// Errors: `SSMAIL_ERR_NULL_POINTER`, `SSMAIL_ERR_BUFFER_TOO_SHORT`.
///
/// # Safety
/// `client` is NULL or a live handle used by one thread at a time; `cmd` is valid for
/// `cmd_cap` bytes; `cmd_len` and `step` for one value each (or NULL).
#[no_mangle]
pub unsafe extern "C" fn ssmail_client_start(
    client: *mut ssmail_client,
    cmd: *mut u8,
    cmd_cap: usize,
    cmd_len: *mut usize,
    step: *mut ssmail_step,
) -> ssmail_result {
    guard(|| {
        // SAFETY: writable outputs (the caller's promise).
        unsafe { outputs(cmd, cmd_cap, cmd_len, step) }?;
        // SAFETY: NULL or a live handle used by this thread only.
        let client = unsafe { client.as_mut() }.ok_or(ssmail_result::SSMAIL_ERR_NULL_POINTER)?;
        let mut next = (None, ssmail_step::SSMAIL_STEP_PLAINTEXT);
        if matches!(client.state, State::Fresh) {
            client.state = State::Done;
            if let Some(version) = client.offer.choose(&Version::ALL) {
                if let (Ok(own), Ok(na)) = (client.keys.own_public_key(), nonce()) {
                    client.state = State::SentStart { version, own, na };
                    let start = Command::Start {
                        version,
                        key: own,
                        nonce: na,
                    };
                    next = (Some(start), ssmail_step::SSMAIL_STEP_SEND);
                }
            }
        }
        // SAFETY: outputs checked above.
        unsafe { emit(next.0.map(|c| c.write()), next.1, cmd, cmd_len, step) };
        Ok(())
    })
}

/// Gives the client one reply line from the server (`len` bytes, with or without CRLF)
/// while an exchange is under way, and writes the next command to send, if any, to
/// `cmd` (`cmd_cap` >= `SSMAIL_LINE_MAX`) with `*step`:
///
/// - `250 XCRYPT <Kb> <Nb>`: writes `XCRYPT OK` and `SSMAIL_STEP_SEND`; or `XCRYPT FAIL`
///   (also `SSMAIL_STEP_SEND`) if the key or nonce is bad or no secret can be had.
/// - `250 XCRYPT OK` after our `XCRYPT OK`: `SSMAIL_STEP_ENCRYPT`, nothing written.
/// - a continuation line (`250-...`): `SSMAIL_STEP_SEND`, nothing written; read on.
/// - refusals (501, 503, 504, 454, 500, 502) and anything else: `SSMAIL_STEP_PLAINTEXT`.
/// - when no exchange is under way: `SSMAIL_STEP_NOT_XCRYPT` (the line is not ours).
///
/// The reply lines of the exchange are never for the MTA's own SMTP client.
///
/// Errors: `SSMAIL_ERR_NULL_POINTER`, `SSMAIL_ERR_BUFFER_TOO_SHORT`.
///
/// # Safety
/// As for `ssmail_client_start`; `line` is valid for `len` bytes (or NULL with `len` 0).
#[no_mangle]
pub unsafe extern "C" fn ssmail_client_reply(
    client: *mut ssmail_client,
    line: *const u8,
    len: usize,
    cmd: *mut u8,
    cmd_cap: usize,
    cmd_len: *mut usize,
    step: *mut ssmail_step,
) -> ssmail_result {
    guard(|| {
        // SAFETY: writable outputs (the caller's promise).
        unsafe { outputs(cmd, cmd_cap, cmd_len, step) }?;
        // SAFETY: NULL or a live handle used by this thread only.
        let client = unsafe { client.as_mut() }.ok_or(ssmail_result::SSMAIL_ERR_NULL_POINTER)?;
        // SAFETY: valid for `len` bytes.
        let line = unsafe { input(line, len) }?;
        let (c, next) = decide(client, line);
        // SAFETY: outputs checked above.
        unsafe { emit(c.map(|c| c.write()), next, cmd, cmd_len, step) };
        Ok(())
    })
}

/// After `SSMAIL_STEP_ENCRYPT`, hands out the session's two ciphers, once: `*send`
/// encrypts what the client sends, `*recv` decrypts what the server sends. The caller
/// owns both and frees them with `ssmail_cipher_free`.
///
/// Errors: `SSMAIL_ERR_NULL_POINTER`, `SSMAIL_ERR_STATE` (encryption is not on, or the
/// ciphers were taken already). On error both are NULL.
///
/// # Safety
/// `client` is NULL or a live handle used by one thread at a time; `send` and `recv` are
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssmail_client_ciphers(
    client: *mut ssmail_client,
    send: *mut *mut ssmail_cipher,
    recv: *mut *mut ssmail_cipher,
) -> ssmail_result {
    let active = || {
        // SAFETY: NULL or a live handle used by this thread only (the caller's promise).
        let client = unsafe { client.as_mut() }.ok_or(ssmail_result::SSMAIL_ERR_NULL_POINTER)?;
        match &mut client.state {
            State::Active(active) => Ok(active),
            _ => Err(ssmail_result::SSMAIL_ERR_STATE),
        }
    };
    // The client sends client to server and receives server to client.
    // SAFETY: the caller's promises on `send` and `recv`.
    guard(|| unsafe { hand_out_ciphers(active, send, recv) })
}

/// Reports the session's exchange if it reached a shared secret (whether or not
/// encryption then came on): its version and whether the secret was a key cache hit.
/// Call it after `SSMAIL_STEP_ENCRYPT` for the log line.
///
/// Errors: `SSMAIL_ERR_NULL_POINTER`, `SSMAIL_ERR_STATE` (no exchange got that far). On
/// error `info->version` is NULL and `info->cache_hit` false.
///
/// # Safety
/// `client` is NULL or a live handle used by one thread at a time; `info` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ssmail_client_last_exchange(
    client: *const ssmail_client,
    info: *mut ssmail_exchange_info,
) -> ssmail_result {
    guard(|| {
        // SAFETY: NULL or a live handle (the caller's promise); shared access only.
        let last = unsafe { client.as_ref() }
            .map(|c| c.last)
            .ok_or(ssmail_result::SSMAIL_ERR_NULL_POINTER);
        // SAFETY: the caller's promise on `info`.
        unsafe { report(last, info) }
    })
}

/// Releases the client side of a session and wipes its keys. NULL is accepted.
///
/// # Safety
/// `client` is NULL or a handle from `ssmail_client_new` not yet freed; not used after.
#[no_mangle]
pub unsafe extern "C" fn ssmail_client_free(client: *mut ssmail_client) {
    crate::guard::guard_void(|| {
        if !client.is_null() {
            // SAFETY: from Box::into_raw in ssmail_client_new, freed once.
            drop(unsafe { Box::from_raw(client) });
        }
    });
}
