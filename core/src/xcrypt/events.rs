//! What the state machines tell their caller besides bytes.

use crate::xcrypt::version::{Offer, Version};

/// Something that happened in a dialogue, for logs and policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Client: the server's EHLO reply offered these versions (known ones only).
    Offered(Offer),
    /// Both sides settled on this version (the server accepted `XCRYPT <Va> ...`).
    Negotiated(Version),
    /// Encryption is on in both directions from here on.
    EncryptionOn(Version),
    /// No encryption for now: the session goes on in plaintext, and why.
    Plaintext(Fallback),
    /// Server: an `XCRYPT` command was refused with this reply code.
    Refused {
        /// 501, 503, 504 or 454.
        code: u16,
    },
    /// Bytes that sat behind a switch-point line or an `XCRYPT <Va> ...` command were
    /// thrown away unread (docs/xcrypt.md §4.2).
    Discarded {
        /// How many.
        bytes: usize,
    },
}

/// Why a session stays in (or went back to) plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fallback {
    /// The server's EHLO reply has no `XCRYPT` line (docs/xcrypt.md §4.5).
    NotOffered,
    /// Nothing the server offers is supported here (docs/xcrypt.md §4.5).
    NoCommonVersion,
    /// The server refused the command with this code (501, 503, 504, 454).
    Refused {
        /// The reply code.
        code: u16,
    },
    /// The server does not know the command (500 or 502, docs/xcrypt.md §4.5).
    NotSupported {
        /// The reply code.
        code: u16,
    },
    /// The server's key or nonce is invalid; the client sent `XCRYPT FAIL`.
    BadServerKey,
    /// A reply XCRYPT does not expect at this point.
    BadReply,
    /// No key, nonce or shared secret could be had here.
    LocalFailure,
    /// The local client pipelined commands behind EHLO, so XCRYPT could not start.
    Pipelined,
    /// Server: the client sent `XCRYPT FAIL`.
    ClientFailed,
    /// Server: the client went on with another command instead of `XCRYPT OK`.
    ClientAbandoned,
}

/// Where a state machine puts what it produces. The caller implements it: bytes for the
/// peer (already encrypted once encryption is on), bytes for the local SMTP side
/// (always plaintext), and events.
pub trait Sink {
    /// Bytes to send to the peer over the network.
    fn to_peer(&mut self, bytes: &[u8]);
    /// Bytes to hand to the local SMTP side (the MTA behind a server, the mail
    /// submitter in front of a client).
    fn to_local(&mut self, bytes: &[u8]);
    /// Something happened.
    fn event(&mut self, event: Event);
}

/// A session must end: the other side broke the rules so badly that going on would
/// mean buffering without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// More than a line arrived while the sender had to wait for a reply (after DATA,
    /// STARTTLS, or while an XCRYPT exchange was under way).
    SentTooEarly,
    /// Too many different commands pipelined without a reply.
    TooManyPending,
}

impl core::fmt::Display for SessionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::SentTooEarly => "the other side sent data while it had to wait for a reply",
            Self::TooManyPending => "the other side pipelined too many commands",
        })
    }
}

impl core::error::Error for SessionError {}
