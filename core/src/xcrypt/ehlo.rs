//! The EHLO reply as it passes through: XCRYPT keyword lines taken out (the client
//! reads them; the server puts its own in), and the separators fixed so that the
//! reply still ends with exactly one last line.

use crate::xcrypt::line::{Line, after_keyword};
use crate::xcrypt::reply::ehlo_text;
use crate::xcrypt::version::Offer;

/// One EHLO reply being rewritten, a line at a time.
pub(crate) struct EhloRewrite {
    /// The latest line kept, not yet sent: whether it is the last depends on what follows.
    held: Option<Line>,
    first: bool,
    /// The versions of the XCRYPT lines seen, if there were any.
    offer: Option<Offer>,
    /// Keywords whose lines are dropped (matched without regard to case).
    hide: &'static [&'static str],
}

impl EhloRewrite {
    /// A rewrite that also drops the lines of the keywords in `hide`.
    pub(crate) fn new(hide: &'static [&'static str]) -> Self {
        Self {
            held: None,
            first: true,
            offer: None,
            hide,
        }
    }

    /// The versions of the XCRYPT lines seen, if there were any.
    pub(crate) fn offer(&self) -> Option<Offer> {
        self.offer
    }

    /// One line of a 250 EHLO reply (at most 512 octets); lines that are settled go to
    /// `emit`, marked as not last.
    pub(crate) fn line(&mut self, line: Line, emit: &mut impl FnMut(&[u8])) {
        // The first line is the server's name, never a keyword.
        let first = core::mem::replace(&mut self.first, false);
        let text = if first {
            None
        } else {
            ehlo_text(line.as_bytes())
        };
        if let Some(o) = text.and_then(after_keyword).map(Offer::parse_tokens) {
            let seen = self.offer.get_or_insert_with(Offer::default);
            for v in o.iter() {
                seen.push(v);
            }
            return;
        }
        let keyword = text.and_then(|t| t.split(|&b| b == b' ').next());
        if keyword.is_some_and(|k| {
            self.hide
                .iter()
                .any(|h| h.as_bytes().eq_ignore_ascii_case(k))
        }) {
            return;
        }
        self.flush(emit);
        self.held = Some(line);
    }

    /// Sends the held line on as not last (before a line too long to hold).
    pub(crate) fn flush(&mut self, emit: &mut impl FnMut(&[u8])) {
        self.first = false;
        if let Some(h) = self.held.take() {
            emit(h.with_separator(b'-').as_bytes());
        }
    }

    /// The reply ended: the held line, to be sent as the last line (or, with more
    /// appended after it, re-marked by the caller). `None` if nothing is held.
    pub(crate) fn finish(self) -> Option<Line> {
        self.held.map(|h| h.with_separator(b' '))
    }
}

/// The server's XCRYPT keyword line of an EHLO reply: `250-XCRYPT <versions>` or, as
/// the last line, `250 XCRYPT <versions>`.
pub(crate) fn offer_line(offer: &Offer, last: bool) -> Line {
    let mut line = Line::new();
    line.push(if last { b"250 XCRYPT" } else { b"250-XCRYPT" });
    for v in offer.iter() {
        line.push(b" ").push(v.as_str().as_bytes());
    }
    line.push(b"\r\n");
    line
}
