//! The server's XCRYPT replies (docs/xcrypt.md §4), and the XCRYPT line of an EHLO reply.

use crate::kdf::NONCE_BYTES;
use crate::keys::PublicKey;
use crate::xcrypt::codes;
use crate::xcrypt::command::CommandError;
use crate::xcrypt::line::{Line, after_keyword, nonce, public_key, strip_eol};
use crate::xcrypt::version::Offer;

/// A server reply to an `XCRYPT` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `250 XCRYPT <Kb> <Nb>`: the server's public key and nonce.
    Accept {
        /// The server's public key `Kb`.
        key: PublicKey,
        /// The server's nonce `Nb`.
        nonce: [u8; NONCE_BYTES],
    },
    /// `250 XCRYPT OK`: encryption starts after this line.
    Ok,
    /// `250 XCRYPT FAIL`: the server acknowledges the client's `XCRYPT FAIL`.
    FailAck,
    /// `<code> XCRYPT FAIL ...` (501, 504 or 454): the server refused; plaintext goes on.
    Refused {
        /// The reply code.
        code: u16,
    },
    /// `503`: XCRYPT in the wrong state (or after activation).
    BadSequence,
    /// `500` or `502`: the server does not know the command (docs/xcrypt.md §4.5).
    Unknown {
        /// The reply code.
        code: u16,
    },
}

/// Why a reply line could not be read as an XCRYPT reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyError {
    /// Not `<3 digits><space or hyphen>...`, too long, or a continuation line where one
    /// line is expected.
    Malformed,
    /// A 250 reply whose `Kb` is not 192 hex digits or is outside `[2, p-2]`.
    BadKey,
    /// A 250 reply whose `Nb` is not 20 hex digits.
    BadNonce,
    /// A reply code XCRYPT does not expect.
    Unexpected {
        /// The reply code.
        code: u16,
    },
}

/// Three digits as a reply code.
fn reply_code(digits: &[u8]) -> Option<u16> {
    digits.iter().try_fold(0u16, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + u16::from(d - b'0'))
    })
}

/// Splits a reply line into its code, whether it is the last line, and its text.
fn split_reply(line: &[u8]) -> Option<(u16, bool, &[u8])> {
    let text = strip_eol(line)?;
    let (code, rest) = text.split_at_checked(3)?;
    let code = reply_code(code)?;
    match rest.split_first() {
        None => Some((code, true, rest)),
        Some((b' ', t)) => Some((code, true, t)),
        Some((b'-', t)) => Some((code, false, t)),
        Some(_) => None,
    }
}

/// The text of a 250 EHLO reply line (after the code and separator), if it is one.
pub(crate) fn ehlo_text(line: &[u8]) -> Option<&[u8]> {
    let (code, _, text) = split_reply(line)?;
    (code == codes::OK).then_some(text)
}

/// The code of a reply line and whether it is the last line of its reply, from its
/// first four octets (so that lines too long to hold can be classified too); `None` if
/// it does not start like a reply.
pub(crate) fn reply_head(line: &[u8]) -> Option<(u16, bool)> {
    let code = reply_code(line.get(..3)?)?;
    match line.get(3) {
        Some(b'-') => Some((code, false)),
        Some(b' ' | b'\r' | b'\n') | None => Some((code, true)),
        Some(_) => None,
    }
}

/// The versions offered by one line of an EHLO reply (`250-XCRYPT t32_1.0 ...` or the
/// last line `250 XCRYPT ...`), or `None` if the line is not the XCRYPT keyword line.
pub fn offer_in_ehlo_line(line: &[u8]) -> Option<Offer> {
    ehlo_text(line)
        .and_then(after_keyword)
        .map(Offer::parse_tokens)
}

impl Reply {
    /// Reads a reply to an XCRYPT command (one line, with or without CRLF).
    ///
    /// # Errors
    /// A malformed line, a 250 reply with a bad key or nonce, or an unexpected code.
    pub fn parse(line: &[u8]) -> Result<Self, ReplyError> {
        let (code, last, text) = split_reply(line).ok_or(ReplyError::Malformed)?;
        if !last {
            return Err(ReplyError::Malformed);
        }
        let params = after_keyword(text);
        let mut tokens = params
            .unwrap_or_default()
            .split(|&b| b == b' ')
            .filter(|t| !t.is_empty());
        let first = tokens.next();
        let is_fail = params.is_some() && first.is_some_and(|t| t.eq_ignore_ascii_case(b"FAIL"));
        match code {
            codes::OK if params.is_none() => Err(ReplyError::Malformed),
            codes::OK if first.is_some_and(|t| t.eq_ignore_ascii_case(b"OK")) => Ok(Self::Ok),
            codes::OK if is_fail => Ok(Self::FailAck),
            codes::OK => {
                let (Some(k), Some(n), None) = (first, tokens.next(), tokens.next()) else {
                    return Err(ReplyError::Malformed);
                };
                let key = public_key(k).ok_or(ReplyError::BadKey)?;
                let nonce = nonce(n).ok_or(ReplyError::BadNonce)?;
                Ok(Self::Accept { key, nonce })
            }
            codes::SYNTAX_ERROR | codes::NO_COMMON_VERSION | codes::TEMPORARY_FAILURE
                if is_fail =>
            {
                Ok(Self::Refused { code })
            }
            codes::BAD_SEQUENCE => Ok(Self::BadSequence),
            codes::UNRECOGNIZED | codes::NOT_IMPLEMENTED => Ok(Self::Unknown { code }),
            _ => Err(ReplyError::Unexpected { code }),
        }
    }

    /// The server's reply refusing a command for `why`.
    pub fn refusal(why: CommandError) -> Self {
        Self::Refused { code: why.code() }
    }

    /// The reply as a line, CRLF included.
    pub fn write(&self) -> Line {
        let mut line = Line::new();
        match self {
            Self::Accept { key, nonce } => {
                line.push(b"250 XCRYPT ").push_hex(&key.to_be_bytes());
                line.push(b" ").push_hex(nonce);
            }
            Self::Ok => {
                line.push(b"250 XCRYPT OK");
            }
            Self::FailAck => {
                line.push(b"250 XCRYPT FAIL");
            }
            Self::Refused { code } => {
                let text: &[u8] = match *code {
                    codes::NO_COMMON_VERSION => b"504 XCRYPT FAIL no common version",
                    codes::TEMPORARY_FAILURE => b"454 XCRYPT FAIL temporary local failure",
                    _ => b"501 XCRYPT FAIL syntax error or invalid key or nonce",
                };
                line.push(text);
            }
            Self::BadSequence => {
                line.push(b"503 5.5.1 XCRYPT not allowed now");
            }
            Self::Unknown { code } => {
                line.push(if *code == codes::UNRECOGNIZED {
                    b"500"
                } else {
                    b"502"
                });
                line.push(b" 5.5.2 command not recognized");
            }
        }
        line.push(b"\r\n");
        line
    }
}
