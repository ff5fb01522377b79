//! The commands sent and not yet answered, in order, so that each reply can be matched
//! with its command. Every command line, every DATA body and every BDAT chunk gets
//! exactly one reply (RFC 5321, RFC 2920, RFC 3030); the greeting is a reply to no
//! command and stands first. Runs of the same kind are kept as one entry with a count,
//! so a long pipelined group (a hundred RCPTs) takes one slot.

use crate::xcrypt::events::SessionError;

/// What a reply answers, as far as XCRYPT cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Greeting,
    Ehlo,
    Helo,
    Mail,
    Rset,
    Data,
    /// The end of a DATA body, or a BDAT LAST chunk: the transaction ends.
    BodyEnd,
    StartTls,
    Other,
}

impl Kind {
    /// The kind of a command line.
    pub(crate) fn of_command(line: &[u8]) -> Self {
        let verb = line
            .split(|&b| b == b' ' || b == b'\r' || b == b'\n')
            .next()
            .unwrap_or_default();
        let is = |v: &[u8]| verb.eq_ignore_ascii_case(v);
        if is(b"EHLO") {
            Self::Ehlo
        } else if is(b"HELO") {
            Self::Helo
        } else if is(b"MAIL") {
            Self::Mail
        } else if is(b"RSET") {
            Self::Rset
        } else if is(b"DATA") {
            Self::Data
        } else if is(b"STARTTLS") {
            Self::StartTls
        } else {
            Self::Other
        }
    }
}

/// Distinct runs held at once; a peer that pipelines more is refused.
const RUNS: usize = 64;

/// The queue of unanswered commands.
#[derive(Debug)]
pub(crate) struct Pending {
    runs: [(Kind, u32); RUNS],
    head: usize,
    len: usize,
}

impl Pending {
    /// A queue holding the greeting a session starts with.
    pub(crate) fn new() -> Self {
        let mut p = Self {
            runs: [(Kind::Other, 0); RUNS],
            head: 0,
            len: 0,
        };
        p.runs[0] = (Kind::Greeting, 1);
        p.len = 1;
        p
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues a command of `kind`.
    ///
    /// # Errors
    /// The queue is full: the peer pipelined too many different commands.
    pub(crate) fn push(&mut self, kind: Kind) -> Result<(), SessionError> {
        if self.len > 0 {
            let last = &mut self.runs[(self.head + self.len - 1) & (RUNS - 1)];
            if last.0 == kind && last.1 < u32::MAX {
                last.1 += 1;
                return Ok(());
            }
        }
        if self.len == RUNS {
            return Err(SessionError::TooManyPending);
        }
        self.runs[(self.head + self.len) & (RUNS - 1)] = (kind, 1);
        self.len += 1;
        Ok(())
    }

    /// The kind the next reply answers; `None` for an unsolicited reply.
    pub(crate) fn front(&self) -> Option<Kind> {
        (self.len > 0).then(|| self.runs[self.head].0)
    }

    /// A reply finished: drop its command.
    pub(crate) fn pop(&mut self) {
        if self.len == 0 {
            return;
        }
        let run = &mut self.runs[self.head];
        run.1 -= 1;
        if run.1 == 0 {
            self.head = (self.head + 1) & (RUNS - 1);
            self.len -= 1;
        }
    }
}

const _: () = assert!(RUNS.is_power_of_two());
