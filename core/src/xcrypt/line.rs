//! A line being written: a fixed buffer of the longest line RFC 5321 allows; and the
//! pieces of lines being read.

use crate::group::ELEMENT_BYTES;
use crate::hex;
use crate::kdf::NONCE_BYTES;
use crate::keys::PublicKey;

/// The longest command or reply line, CRLF included (RFC 5321, 4.5.3.1.4 and .5).
pub const LINE_MAX: usize = 512;

/// One line, CRLF-terminated, built without allocation.
#[derive(Clone)]
pub struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Line {
    pub(crate) fn new() -> Self {
        Self {
            buf: [0; LINE_MAX],
            len: 0,
        }
    }

    /// Appends bytes. Every line this module builds is far below the limit, so running
    /// over it is a bug in this crate, not in its input.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> &mut Self {
        let end = self.len + bytes.len();
        assert!(end <= LINE_MAX, "an XCRYPT line overran 512 octets");
        self.buf[self.len..end].copy_from_slice(bytes);
        self.len = end;
        self
    }

    /// Appends bytes as lowercase hex.
    pub(crate) fn push_hex(&mut self, bytes: &[u8]) -> &mut Self {
        let end = self.len + 2 * bytes.len();
        assert!(end <= LINE_MAX, "an XCRYPT line overran 512 octets");
        hex::encode_into(bytes, &mut self.buf[self.len..end]);
        self.len = end;
        self
    }

    /// Appends bytes if they fit; `Err` (and nothing appended) if they do not.
    pub(crate) fn try_push(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        if bytes.len() > LINE_MAX - self.len {
            return Err(Overflow);
        }
        self.push(bytes);
        Ok(())
    }

    /// The same reply line with `sep` (`b' '` for the last line, `b'-'` for one that is
    /// followed by more) after its code. The caller has checked it is a reply line.
    pub(crate) fn with_separator(&self, sep: u8) -> Line {
        let bytes = self.as_bytes();
        let (code, rest) = bytes.split_at(3.min(bytes.len()));
        let rest = match rest.first() {
            Some(b' ' | b'-') => &rest[1..],
            _ => rest,
        };
        let mut line = Line::new();
        // Cannot overrun: the separator replaces one byte, or is added to a line that
        // ends right after its code (so it is far below the limit).
        if line.try_push(code).is_err()
            || line.try_push(&[sep]).is_err()
            || line.try_push(rest).is_err()
        {
            return self.clone();
        }
        line
    }

    /// The line's bytes, CRLF included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// A line would run over 512 octets.
#[derive(Debug)]
pub(crate) struct Overflow;

impl core::fmt::Debug for Line {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Line({:?})",
            core::str::from_utf8(self.as_bytes()).unwrap_or("<bytes>")
        )
    }
}

/// Splits a line into its text without CRLF (a bare LF is tolerated), or `None` if it
/// is too long.
pub(crate) fn strip_eol(line: &[u8]) -> Option<&[u8]> {
    if line.len() > LINE_MAX {
        return None;
    }
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

/// A public key given as exactly 192 hex digits, in `[2, p-2]`.
pub(crate) fn public_key(token: &[u8]) -> Option<PublicKey> {
    let bytes = hex::decode_exact::<ELEMENT_BYTES>(token).ok()?;
    PublicKey::from_be_bytes(&bytes).ok()
}

/// A nonce given as exactly 20 hex digits.
pub(crate) fn nonce(token: &[u8]) -> Option<[u8; NONCE_BYTES]> {
    hex::decode_exact(token).ok()
}

/// The text after the keyword `XCRYPT` (any case) and a space, or after the bare
/// keyword at the end of the line; `None` if the line does not start with it.
pub(crate) fn after_keyword(text: &[u8]) -> Option<&[u8]> {
    let (kw, rest) = text.split_at_checked(6)?;
    if !kw.eq_ignore_ascii_case(b"XCRYPT") {
        return None;
    }
    match rest.split_first() {
        None => Some(rest),
        Some((b' ', params)) => Some(params),
        Some(_) => None,
    }
}
