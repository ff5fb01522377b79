//! A line being written: a fixed buffer of the longest line RFC 5321 allows.

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
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for b in bytes {
            self.push(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
        self
    }

    /// The line's bytes, CRLF included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

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

/// Parses exactly `2 * N` hex digits.
pub(crate) fn hex_exact<const N: usize>(token: &[u8]) -> Option<[u8; N]> {
    if token.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = (digit(token[2 * i])? << 4) | digit(token[2 * i + 1])?;
    }
    Some(out)
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
