//! The client's command lines as the inbound gateway passes them to its MTA (plaintext,
//! after the XCRYPT state machine): command lines longer than the limit are not passed
//! on but answered `500 5.5.2` by the gateway, in their turn; a line that runs on far
//! past the limit ends the session. Message bodies (DATA up to the lone dot, BDAT
//! chunks) pass whole, whatever their line lengths, cut into records of the limit's size
//! for the per-record deadline.
//!
//! The gateway's own 500 must reach the client in order, after the replies the MTA still
//! owes: so the replies are counted, and what the client sent behind an over-long line
//! is held until its 500 has been given.

/// How far a line may run past the limit before the session is ended.
pub const RUNAWAY_FACTOR: usize = 32;
/// Bytes held behind an over-long line, at most (the client must wait for the 500).
const HELD_MAX: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Command lines.
    Command,
    /// `DATA` was passed on: a 354 makes what follows a body.
    AwaitData,
    /// A DATA body; `line` is where the current line stands (see [`BodyLine`]).
    Body(BodyLine),
    /// A BDAT chunk with this many octets still to come.
    Chunk(u64),
}

/// Where a body line stands, for spotting the lone dot that ends the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyLine {
    Start,
    Dot,
    DotCr,
    Other,
}

/// What one [`CommandLines::push`] found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    /// Records completed: command lines passed on, body lines, body pieces of the limit's
    /// size, over-long lines ended.
    pub records: usize,
    /// Over-long command lines ended (each owes the client a 500).
    pub too_long: usize,
    /// A command line ran on past [`RUNAWAY_FACTOR`] times the limit, or too much was
    /// sent behind an over-long line: the session must end.
    pub runaway: bool,
}

/// Follows the client-to-MTA stream.
#[derive(Debug)]
pub struct CommandLines {
    limit: usize,
    state: State,
    /// The command line being read, while within the limit.
    line: Vec<u8>,
    /// The length so far of an over-long command line being swallowed.
    overlong: Option<usize>,
    /// Octets of the body record being read.
    record: usize,
    /// Final replies the MTA owes (its greeting first).
    owed: usize,
    /// 500s owed for over-long lines.
    owe_500: usize,
    /// Input behind an over-long line, held until its 500.
    held: Vec<u8>,
    /// The reply stream: octets of the current reply line seen (up to 4) and its head.
    reply_head: [u8; 4],
    reply_seen: usize,
}

impl CommandLines {
    /// Command lines up to `limit` octets (CRLF included) pass.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            state: State::Command,
            line: Vec::new(),
            overlong: None,
            record: 0,
            owed: 1,
            owe_500: 0,
            held: Vec::new(),
            reply_head: [0; 4],
            reply_seen: 0,
        }
    }

    /// Whether the stream stands between records (no partial line or record read).
    pub fn at_record_start(&self) -> bool {
        self.line.is_empty() && self.overlong.is_none() && self.record == 0
    }

    /// Whether a 500 may be given now: one is owed and the MTA owes nothing before it.
    pub fn reply_due(&self) -> bool {
        self.owe_500 > 0 && self.owed == 0
    }

    /// The 500 (or what stands in for it) was given: returns what was held behind it,
    /// to be pushed again.
    pub fn replied(&mut self) -> Vec<u8> {
        self.owe_500 = self.owe_500.saturating_sub(1);
        if self.owe_500 == 0 {
            std::mem::take(&mut self.held)
        } else {
            Vec::new()
        }
    }

    /// Bytes from the MTA (its replies): final reply lines are counted.
    pub fn replies(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                let head = &self.reply_head[..self.reply_seen.min(4)];
                let code = head.len() >= 3 && head[..3].iter().all(u8::is_ascii_digit);
                let last = head.get(3).is_none_or(|&c| c != b'-');
                if code && last {
                    self.owed = self.owed.saturating_sub(1);
                }
                self.reply_seen = 0;
                continue;
            }
            if self.reply_seen < 4 {
                self.reply_head[self.reply_seen] = b;
            }
            self.reply_seen = self.reply_seen.saturating_add(1);
        }
    }

    /// Bytes for the MTA: what may pass is appended to `out`. `last_code` is the code
    /// of the MTA's latest reply line (what DATA got).
    pub fn push(&mut self, mut bytes: &[u8], last_code: Option<u16>, out: &mut Vec<u8>) -> Pushed {
        let mut p = Pushed::default();
        while !bytes.is_empty() {
            if self.owe_500 > 0 {
                self.held.extend_from_slice(bytes);
                p.runaway |= self.held.len() > HELD_MAX;
                return p;
            }
            if self.state == State::AwaitData {
                self.state = if last_code == Some(354) {
                    State::Body(BodyLine::Start)
                } else {
                    State::Command
                };
            }
            let used = match self.state {
                State::Command | State::AwaitData => self.command_bytes(bytes, out, &mut p),
                State::Body(_) => self.body_bytes(bytes, out, &mut p),
                State::Chunk(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
                    out.extend_from_slice(&bytes[..n]);
                    self.count_record(n, &mut p);
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        self.record = 0;
                        State::Command
                    } else {
                        State::Chunk(left)
                    };
                    n
                }
            };
            if p.runaway {
                return p;
            }
            bytes = &bytes[used..];
        }
        p
    }

    /// Body octets count in records of the limit's size.
    fn count_record(&mut self, n: usize, p: &mut Pushed) {
        self.record += n;
        while self.record >= self.limit {
            self.record -= self.limit;
            p.records += 1;
        }
    }

    /// Reads command octets up to the end of one line; returns how many were used.
    fn command_bytes(&mut self, bytes: &[u8], out: &mut Vec<u8>, p: &mut Pushed) -> usize {
        let (part, ends) = match bytes.iter().position(|&b| b == b'\n') {
            Some(i) => (&bytes[..=i], true),
            None => (bytes, false),
        };
        match &mut self.overlong {
            Some(len) => *len += part.len(),
            None if self.line.len() + part.len() > self.limit => {
                self.overlong = Some(self.line.len() + part.len());
                self.line = Vec::new();
            }
            None => self.line.extend_from_slice(part),
        }
        if self
            .overlong
            .is_some_and(|len| len > self.limit.saturating_mul(RUNAWAY_FACTOR))
        {
            p.runaway = true;
            return part.len();
        }
        if ends {
            p.records += 1;
            if self.overlong.take().is_some() {
                p.too_long += 1;
                self.owe_500 += 1;
            } else {
                let line = std::mem::take(&mut self.line);
                self.owed += 1;
                self.state = next_state(&line);
                out.extend_from_slice(&line);
            }
        }
        part.len()
    }

    /// Reads body octets up to the end of one line; returns how many were used.
    fn body_bytes(&mut self, bytes: &[u8], out: &mut Vec<u8>, p: &mut Pushed) -> usize {
        let State::Body(mut at) = self.state else {
            return 0;
        };
        let mut used = 0;
        for &b in bytes {
            used += 1;
            if b == b'\n' {
                let end = matches!(at, BodyLine::Dot | BodyLine::DotCr);
                out.extend_from_slice(&bytes[..used]);
                p.records += 1;
                self.record = 0;
                self.state = if end {
                    self.owed += 1;
                    State::Command
                } else {
                    State::Body(BodyLine::Start)
                };
                return used;
            }
            at = match (at, b) {
                (BodyLine::Start, b'.') => BodyLine::Dot,
                (BodyLine::Dot, b'\r') => BodyLine::DotCr,
                _ => BodyLine::Other,
            };
        }
        out.extend_from_slice(bytes);
        self.count_record(bytes.len(), p);
        self.state = State::Body(at);
        used
    }
}

/// The state after a command line passed on: DATA awaits its reply, BDAT announces a
/// chunk (its reply comes after the chunk).
fn next_state(line: &[u8]) -> State {
    let text = line.strip_suffix(b"\n").unwrap_or(line);
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    let mut words = text.split(|&b| b == b' ').filter(|w| !w.is_empty());
    match words.next() {
        Some(w) if w.eq_ignore_ascii_case(b"DATA") => State::AwaitData,
        Some(w) if w.eq_ignore_ascii_case(b"BDAT") => {
            match words
                .next()
                .and_then(|n| std::str::from_utf8(n).ok())
                .and_then(|n| n.parse::<u64>().ok())
            {
                Some(0) | None => State::Command,
                Some(n) => State::Chunk(n),
            }
        }
        _ => State::Command,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(c: &mut CommandLines, bytes: &[u8], last: Option<u16>) -> (Vec<u8>, Pushed) {
        let mut out = Vec::new();
        let p = c.push(bytes, last, &mut out);
        (out, p)
    }

    #[test]
    fn lines_within_the_limit_pass_whole_split_anywhere() {
        let mut c = CommandLines::new(16);
        let (out, p) = push(&mut c, b"EHLO a.b\r\nMAIL", None);
        assert_eq!(out, b"EHLO a.b\r\n");
        assert_eq!(p.records, 1);
        assert!(!c.at_record_start());
        let (out, _) = push(&mut c, b" FROM:<>\r\n", None);
        assert_eq!(out, b"MAIL FROM:<>\r\n");
        assert!(c.at_record_start());
    }

    #[test]
    fn an_overlong_line_is_swallowed_and_answered_in_turn() {
        let mut c = CommandLines::new(16);
        // The greeting is still owed: the 500 must wait for it.
        let (out, p) = push(
            &mut c,
            b"NOOP\r\nXXXXXXXXXXXXXXXXXXXXXXXXX\r\nQUIT\r\n",
            None,
        );
        assert_eq!(out, b"NOOP\r\n", "the long line and what is behind it held");
        assert_eq!(p.too_long, 1);
        assert!(!c.reply_due());
        c.replies(b"220-hello\r\n220 there\r\n");
        assert!(!c.reply_due(), "NOOP's reply still owed");
        c.replies(b"250 ok\r\n");
        assert!(c.reply_due());
        let held = c.replied();
        assert_eq!(held, b"QUIT\r\n");
        let (out, p) = push(&mut c, &held, None);
        assert_eq!(out, b"QUIT\r\n");
        assert_eq!(p.too_long, 0);
    }

    #[test]
    fn a_line_without_end_is_a_runaway() {
        let mut c = CommandLines::new(16);
        let mut runaway = false;
        for _ in 0..RUNAWAY_FACTOR {
            let (out, p) = push(&mut c, &[b'x'; 17], None);
            assert!(out.is_empty(), "nothing of it goes upstream");
            runaway |= p.runaway;
        }
        assert!(runaway);
    }

    #[test]
    fn bodies_pass_whatever_their_line_lengths() {
        let mut c = CommandLines::new(16);
        c.replies(b"220 hi\r\n");
        let (out, _) = push(&mut c, b"DATA\r\n", None);
        assert_eq!(out, b"DATA\r\n");
        let long = [b'y'; 100];
        let (out, p) = push(&mut c, &long, Some(354));
        assert_eq!(out, long, "a long body line passes");
        assert_eq!(p.records, 6, "100 octets: six records of 16");
        let (out, _) = push(&mut c, b"\r\n..x\r\n.\r\nNOOP\r\n", Some(354));
        assert_eq!(out, b"\r\n..x\r\n.\r\nNOOP\r\n");
        // Back to commands: an over-long one is held again.
        let (out, p) = push(&mut c, &[b'z'; 20], None);
        assert!(out.is_empty());
        assert_eq!(p.too_long, 0);
    }

    #[test]
    fn a_refused_data_leaves_command_mode() {
        let mut c = CommandLines::new(16);
        push(&mut c, b"DATA\r\n", None);
        let (out, p) = push(&mut c, &[b'q'; 20], Some(554));
        assert!(out.is_empty());
        assert_eq!(p.too_long, 0);
    }

    #[test]
    fn bdat_chunks_are_counted_not_read_as_lines() {
        let mut c = CommandLines::new(16);
        let mut bytes = b"BDAT 40 LAST\r\n".to_vec();
        bytes.extend_from_slice(&[b'\n'; 40]);
        bytes.extend_from_slice(b"QUIT\r\n");
        let (out, _) = push(&mut c, &bytes, None);
        assert_eq!(out, bytes);
        assert!(c.at_record_start());
    }
}
