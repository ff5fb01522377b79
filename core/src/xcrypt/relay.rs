//! What the server and the client share in relaying a session: the two direction
//! ciphers once encryption is on (docs/xcrypt.md §3), sending towards the peer through
//! one, reading from the peer through the other, holding bytes that arrive while the
//! sender must wait, and what a reply to DATA or STARTTLS does to the framers.

use ssmail_ciphers::AnyCipher;

use crate::kdf::KEY_BYTES;
use crate::xcrypt::codes;
use crate::xcrypt::events::{SessionError, Sink};
use crate::xcrypt::framing::{BodyScan, Framer, Mode};
use crate::xcrypt::key_source::KeySource;
use crate::xcrypt::line::Line;
use crate::xcrypt::pending::Kind;
use crate::xcrypt::version::Version;

/// The two ciphers of a session from the switch points on, each keyed once and run from
/// keystream offset 0. They live in the state that has them (`Active`), so no cipher
/// can exist outside it.
pub(crate) struct Ciphers {
    /// Towards the peer.
    pub(crate) encrypt: AnyCipher,
    /// From the peer.
    pub(crate) decrypt: AnyCipher,
}

impl Ciphers {
    /// The ciphers of `version` keyed with the direction keys as this side sees them.
    pub(crate) fn new(
        version: Version,
        to_peer: &[u8; KEY_BYTES],
        from_peer: &[u8; KEY_BYTES],
    ) -> Self {
        let new = |key: &[u8; KEY_BYTES]| {
            // Both ciphers take 10-byte keys (their `key_lengths` include 10).
            AnyCipher::new(version.algorithm(), key)
                .unwrap_or_else(|_| unreachable!("both ciphers take XCRYPT's 10-byte keys"))
        };
        Self {
            encrypt: new(to_peer),
            decrypt: new(from_peer),
        }
    }
}

/// Bytes en- or decrypted per piece, on the stack: enough for t32's wide keystream path
/// on 64-bit machines; small on the others, which include firmware with small stacks.
const PIECE: usize = if cfg!(target_pointer_width = "64") {
    4096
} else {
    512
};

/// Sends `bytes` to the peer, through the encrypting cipher if there is one (in pieces,
/// with no allocation).
pub(crate) fn to_peer(ciphers: Option<&mut Ciphers>, bytes: &[u8], out: &mut impl Sink) {
    let Some(c) = ciphers else {
        out.to_peer(bytes);
        return;
    };
    let mut buf = [0u8; PIECE];
    for piece in bytes.chunks(buf.len()) {
        let b = &mut buf[..piece.len()];
        b.copy_from_slice(piece);
        c.encrypt.apply_keystream(b);
        out.to_peer(b);
    }
}

/// A state machine as [`from_peer`] sees it.
pub(crate) trait PeerInput {
    /// The ciphers, once encryption is on (it stays on: never `None` again after).
    fn ciphers(&mut self) -> Option<&mut Ciphers>;
    /// Plaintext from the peer.
    fn plain(
        &mut self,
        input: &[u8],
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) -> Result<(), SessionError>;
}

/// Bytes that arrived from the peer: handed to [`PeerInput::plain`] as they are before
/// encryption is on, else decrypted piece by piece into a buffer on the stack (the
/// caller's input is borrowed, never decrypted in place).
///
/// Whole input in one piece while plaintext: a switch point inside it drops what
/// follows (docs/xcrypt.md §4.2), which only works if `plain` sees all of it at once.
pub(crate) fn from_peer<M: PeerInput>(
    m: &mut M,
    input: &[u8],
    keys: &mut impl KeySource,
    out: &mut impl Sink,
) -> Result<(), SessionError> {
    if m.ciphers().is_none() {
        return m.plain(input, keys, out);
    }
    let mut buf = [0u8; PIECE];
    for piece in input.chunks(buf.len()) {
        let b = &mut buf[..piece.len()];
        b.copy_from_slice(piece);
        if let Some(c) = m.ciphers() {
            c.decrypt.apply_keystream(b);
        }
        m.plain(b, keys, out)?;
    }
    Ok(())
}

/// Implements [`PeerInput`] for a state machine whose `state: State` has an
/// `Active { ciphers, .. }` variant and whose `peer_plain` reads plaintext from the peer
/// (the server and the client alike), with `State::ciphers` beside it.
macro_rules! peer_input {
    ($machine:ty) => {
        impl State {
            fn ciphers(&mut self) -> Option<&mut $crate::xcrypt::relay::Ciphers> {
                match self {
                    State::Active { ciphers, .. } => Some(ciphers),
                    _ => None,
                }
            }
        }

        impl $crate::xcrypt::relay::PeerInput for $machine {
            fn ciphers(&mut self) -> Option<&mut $crate::xcrypt::relay::Ciphers> {
                self.state.ciphers()
            }

            fn plain(
                &mut self,
                input: &[u8],
                keys: &mut impl KeySource,
                out: &mut impl Sink,
            ) -> Result<(), SessionError> {
                self.peer_plain(input, keys, out)
            }
        }
    };
}
pub(crate) use peer_input;

/// Keeps `rest` until the wait is over; more than a line of it is the sender's error.
pub(crate) fn hold(held: &mut Line, rest: &[u8]) -> Result<(), SessionError> {
    held.try_push(rest).map_err(|_| SessionError::SentTooEarly)
}

/// What a reply to DATA or STARTTLS means for the framers. `client_in` reads what the
/// SMTP client sends (the peer on the server side, the local client on the client
/// side), `server_in` what the SMTP server sends. `None` if `kind` is neither;
/// otherwise the sender's wait is over, and `Some(true)` says TLS has started (nothing
/// more to read in either direction).
pub(crate) fn transfer_reply(
    kind: Option<Kind>,
    code: u16,
    client_in: &mut Framer,
    server_in: &mut Framer,
) -> Option<bool> {
    match kind {
        Some(Kind::Data) => {
            if code == codes::START_MAIL_INPUT {
                client_in.set_mode(Mode::Data(BodyScan::LineStart));
            }
            Some(false)
        }
        Some(Kind::StartTls) => {
            let tls = code == codes::READY_TO_START_TLS;
            if tls {
                client_in.set_mode(Mode::Opaque);
                server_in.set_mode(Mode::Opaque);
            }
            Some(tls)
        }
        _ => None,
    }
}
