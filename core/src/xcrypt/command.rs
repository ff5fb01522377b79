//! The client's XCRYPT commands (docs/xcrypt.md §4).

use crate::kdf::NONCE_BYTES;
use crate::keys::PublicKey;
use crate::xcrypt::codes;
use crate::xcrypt::line::{Line, after_keyword, nonce, public_key, strip_eol};
use crate::xcrypt::version::Version;

/// A client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `XCRYPT <Va> <Ka> <Na>`: start the exchange.
    Start {
        /// The version the client chose from the server's offer.
        version: Version,
        /// The client's public key `Ka`.
        key: PublicKey,
        /// The client's nonce `Na`.
        nonce: [u8; NONCE_BYTES],
    },
    /// `XCRYPT OK`: the client accepts the server's key and nonce.
    Ok,
    /// `XCRYPT FAIL`: the client rejects them; the session goes on in plaintext.
    Fail,
}

/// Why an `XCRYPT` command was refused, with the reply code the server sends
/// (docs/xcrypt.md §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError {
    /// Wrong number or shape of parameters: 501.
    Syntax,
    /// `Ka` is not 192 hex digits or is outside `[2, p-2]`: 501.
    BadKey,
    /// `Na` is not 20 hex digits: 501.
    BadNonce,
    /// `Va` is no version the server knows: 504.
    NoCommonVersion,
    /// The line is longer than RFC 5321 allows: 501 (answered, never a panic).
    TooLong,
}

impl CommandError {
    /// The reply code for this refusal.
    pub fn code(self) -> u16 {
        match self {
            Self::NoCommonVersion => codes::NO_COMMON_VERSION,
            Self::Syntax | Self::BadKey | Self::BadNonce | Self::TooLong => codes::SYNTAX_ERROR,
        }
    }
}

impl Command {
    /// Parses a command line (with or without CRLF). `None` if it is not an `XCRYPT`
    /// command at all (an ordinary SMTP command), else the command or why it is refused.
    pub fn parse(line: &[u8]) -> Option<Result<Self, CommandError>> {
        let Some(text) = strip_eol(line) else {
            return after_keyword(line).map(|_| Err(CommandError::TooLong));
        };
        let params = after_keyword(text)?;
        let mut tokens = params.split(|&b| b == b' ').filter(|t| !t.is_empty());
        let parsed = match (tokens.next(), tokens.next(), tokens.next(), tokens.next()) {
            (Some(t), None, None, None) if t.eq_ignore_ascii_case(b"OK") => Ok(Self::Ok),
            (Some(t), None, None, None) if t.eq_ignore_ascii_case(b"FAIL") => Ok(Self::Fail),
            (Some(v), Some(k), Some(n), None) => Self::parse_start(v, k, n),
            _ => Err(CommandError::Syntax),
        };
        Some(parsed)
    }

    fn parse_start(v: &[u8], k: &[u8], n: &[u8]) -> Result<Self, CommandError> {
        let key = public_key(k).ok_or(CommandError::BadKey)?;
        let nonce = nonce(n).ok_or(CommandError::BadNonce)?;
        let version = Version::parse(v).ok_or(CommandError::NoCommonVersion)?;
        Ok(Self::Start {
            version,
            key,
            nonce,
        })
    }

    /// The command as a line, CRLF included.
    pub fn write(&self) -> Line {
        let mut line = Line::new();
        match self {
            Self::Start {
                version,
                key,
                nonce,
            } => {
                line.push(b"XCRYPT ")
                    .push(version.as_str().as_bytes())
                    .push(b" ");
                line.push_hex(&key.to_be_bytes()).push(b" ").push_hex(nonce);
            }
            Self::Ok => {
                line.push(b"XCRYPT OK");
            }
            Self::Fail => {
                line.push(b"XCRYPT FAIL");
            }
        }
        line.push(b"\r\n");
        line
    }
}
