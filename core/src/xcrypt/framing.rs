//! Cutting a byte stream into what SMTP sends: command or reply lines (up to 512
//! octets, longer ones passed on in pieces), DATA bodies up to their `CRLF.CRLF`, BDAT
//! chunks of a counted size, and everything after STARTTLS as opaque bytes.

use memchr::{memchr, memmem};

use crate::xcrypt::line::{LINE_MAX, Line};
use crate::xcrypt::pending::Kind;

/// Where the end of a DATA body may be: the states of a scan for `CRLF . CRLF`, where
/// the first CRLF may be the end of the DATA command itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyScan {
    LineStart,
    Dot,
    DotCr,
    Mid,
}

impl BodyScan {
    /// The state after `b`, and whether `b` ended the body.
    fn step(self, b: u8) -> (Self, bool) {
        match (self, b) {
            (Self::DotCr, b'\n') => (Self::LineStart, true),
            (_, b'\n') => (Self::LineStart, false),
            (Self::LineStart, b'.') => (Self::Dot, false),
            (Self::Dot, b'\r') => (Self::DotCr, false),
            _ => (Self::Mid, false),
        }
    }

    /// Scans `input` from this state for the end of the body: the state after the scan,
    /// and the length of the prefix of `input` that ends the body, if it does.
    ///
    /// The same as [`step`](Self::step) over every byte, but only the first bytes of
    /// `input` (which may finish a `CRLF . CRLF` begun in an earlier call) are stepped
    /// through. After them, whether an LF ends the body follows from the three bytes
    /// before it alone, so the rest is a substring search for `LF . CR LF`: `memchr`'s
    /// vector search, which skips through mail text several times faster than a search
    /// for each line end (and does not slow down on inputs dense with line ends).
    fn scan(mut self, input: &[u8]) -> (Self, Option<usize>) {
        // The longest run of bytes a state stands for (`LF . CR` for DotCr).
        const MEMORY: usize = 3;
        let head = input.len().min(MEMORY);
        for (i, &b) in input[..head].iter().enumerate() {
            let (next, ended) = self.step(b);
            self = next;
            if ended {
                return (self, Some(i + 1));
            }
        }
        // A match ends at index 3 or later: past the head, which was checked above.
        if let Some(at) = memmem::find(input, b"\n.\r\n") {
            return (Self::LineStart, Some(at + MEMORY + 1));
        }
        if input.len() > head {
            // Past the head, the state too follows from the last three bytes alone (it
            // is LineStart after an LF, and Dot or DotCr only after `LF .` or `LF . CR`),
            // so stepping them from any state gives it; none of them ends the body, or
            // the search above would have stopped there.
            self = input[input.len() - MEMORY..]
                .iter()
                .fold(Self::Mid, |s, &b| s.step(b).0);
        }
        (self, None)
    }
}

/// What the stream holds next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Lines,
    Data(BodyScan),
    Chunk(u64),
    Opaque,
}

/// The next piece of the stream.
pub(crate) enum Piece<'a> {
    /// A whole line of at most 512 octets, LF included.
    Line(Line),
    /// The first 512 octets of a longer line.
    LongHead(Line),
    /// More of a long line; `true` when this piece ends it.
    LongTail(&'a [u8], bool),
    /// Body or opaque bytes; `true` when they end a DATA body (a BDAT chunk's end needs
    /// no mark: its BDAT command already counted as the body's end or not).
    Raw(&'a [u8], bool),
}

/// A stream being cut up.
pub(crate) struct Framer {
    buf: Line,
    long: bool,
    mode: Mode,
}

impl Framer {
    pub(crate) fn new() -> Self {
        Self {
            buf: Line::new(),
            long: false,
            mode: Mode::Lines,
        }
    }

    /// Sets what comes next; only between lines.
    pub(crate) fn set_mode(&mut self, mode: Mode) {
        self.mode = match mode {
            Mode::Chunk(0) => Mode::Lines,
            m => m,
        };
    }

    /// Whether a line has been started but not finished.
    pub(crate) fn mid_line(&self) -> bool {
        self.long || !self.buf.as_bytes().is_empty()
    }

    /// Takes the next piece off the front of `input`, or `None` when `input` is used
    /// up (a partial line is kept for the next call).
    pub(crate) fn next<'a>(&mut self, input: &mut &'a [u8]) -> Option<Piece<'a>> {
        if input.is_empty() {
            return None;
        }
        match self.mode {
            Mode::Lines if self.long => {
                let (part, ends) = match memchr(b'\n', input) {
                    Some(i) => (&input[..=i], true),
                    None => (*input, false),
                };
                *input = &input[part.len()..];
                self.long = !ends;
                Some(Piece::LongTail(part, ends))
            }
            Mode::Lines => {
                let room = LINE_MAX - self.buf.as_bytes().len();
                let window = &input[..room.min(input.len())];
                if let Some(i) = memchr(b'\n', window) {
                    self.buf.push(&input[..=i]);
                    *input = &input[i + 1..];
                    return Some(Piece::Line(core::mem::replace(&mut self.buf, Line::new())));
                }
                self.buf.push(window);
                *input = &input[window.len()..];
                if self.buf.as_bytes().len() == LINE_MAX {
                    self.long = true;
                    return Some(Piece::LongHead(core::mem::replace(
                        &mut self.buf,
                        Line::new(),
                    )));
                }
                None
            }
            Mode::Data(dot) => {
                let (dot, end) = dot.scan(input);
                let n = end.unwrap_or(input.len());
                let part = &input[..n];
                *input = &input[n..];
                self.mode = if end.is_some() {
                    Mode::Lines
                } else {
                    Mode::Data(dot)
                };
                Some(Piece::Raw(part, end.is_some()))
            }
            Mode::Chunk(left) => {
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                let part = &input[..n];
                *input = &input[n..];
                let left = left - n as u64;
                self.mode = if left == 0 {
                    Mode::Lines
                } else {
                    Mode::Chunk(left)
                };
                Some(Piece::Raw(part, false))
            }
            Mode::Opaque => {
                let part = *input;
                *input = &[];
                Some(Piece::Raw(part, false))
            }
        }
    }

    /// What kind of command `line` is, for the queue of replies due; a `BDAT` line also
    /// switches this stream to counting its chunk (and `BDAT ... LAST` ends the body).
    pub(crate) fn command(&mut self, line: &[u8]) -> Kind {
        match bdat(line) {
            Some((size, last)) => {
                self.set_mode(Mode::Chunk(size));
                if last {
                    Kind::BodyEnd
                } else {
                    Kind::of_command(line)
                }
            }
            None => Kind::of_command(line),
        }
    }
}

/// Whether a whole command line is `QUIT` (either case, CRLF or a bare LF), which only a
/// command line can be: a body line that reads `QUIT` never comes through here.
pub(crate) fn is_quit(line: &[u8]) -> bool {
    let text = line.strip_suffix(b"\n").unwrap_or(line);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    text.eq_ignore_ascii_case(b"QUIT")
}

/// The size and LAST flag of a `BDAT <size> [LAST]` command line, or `None` if it is
/// not one (then the server will refuse it and no chunk follows).
fn bdat(line: &[u8]) -> Option<(u64, bool)> {
    let text = line.strip_suffix(b"\n").unwrap_or(line);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    let mut t = text.split(|&b| b == b' ').filter(|t| !t.is_empty());
    if !t.next()?.eq_ignore_ascii_case(b"BDAT") {
        return None;
    }
    let size = t.next()?;
    if size.is_empty() || size.len() > 18 || !size.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let size = size
        .iter()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    match (t.next(), t.next()) {
        (None, _) => Some((size, false)),
        (Some(l), None) if l.eq_ignore_ascii_case(b"LAST") => Some((size, true)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
