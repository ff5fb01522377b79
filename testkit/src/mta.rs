//! The test SMTP server, without I/O: bytes in, replies out, and a record of what it
//! was given. It plays the MTA behind an inbound gateway (or the sink of a load test),
//! so it speaks plain ESMTP (RFC 5321) with PIPELINING (every complete command in the
//! input is answered, the replies returned together) and CHUNKING (BDAT, RFC 3030), and
//! is strict about the order of a transaction, so that a proxy that drops or reorders a
//! command is caught.

/// Commands (with their CRLF) longer than this get a 500, as RFC 5321 (4.5.3.1.4) allows.
pub const MAX_LINE: usize = 512;

/// How the server looks and behaves.
#[derive(Debug, Clone)]
pub struct Style {
    /// The greeting's text after `220 `.
    pub greeting: &'static str,
    /// The text of the EHLO reply's first line (the name line).
    pub name: &'static str,
    /// EHLO keywords after the name line, in order.
    pub keywords: Vec<&'static str>,
    /// Answer DATA with 554 (no valid recipients), as an MTA that refused every RCPT
    /// after the fact.
    pub refuse_data: bool,
    /// Stop after answering this many commands, as a crashing MTA: the connection is to
    /// be closed ([`Mta::closed`]) and further input is ignored.
    pub die_after: Option<usize>,
    /// Accept connections and never say anything (for the TCP carriers: a hung MTA).
    pub silent: bool,
    /// The largest message accepted; a longer one gets 552 and is not stored.
    pub max_size: usize,
}

impl Style {
    /// The MTA of core's in-memory sessions: `mx.test`, PIPELINING, 8BITMIME and SIZE.
    pub fn mx() -> Self {
        Self {
            greeting: "mx.test ESMTP",
            name: "mx.test greets you",
            keywords: vec!["PIPELINING", "8BITMIME", "SIZE 10240000"],
            ..Self::default()
        }
    }
}

impl Default for Style {
    /// The sink of the TCP tests and the load test: `sink.test`, with CHUNKING.
    fn default() -> Self {
        Self {
            greeting: "sink.test ESMTP test sink",
            name: "sink.test",
            keywords: vec!["PIPELINING", "8BITMIME", "SIZE 52428800", "CHUNKING"],
            refuse_data: false,
            die_after: None,
            silent: false,
            max_size: 50 << 20,
        }
    }
}

/// A message as the server stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The MAIL command's argument after `FROM:`, as sent (`<a@b.test>`, parameters too).
    pub from: String,
    /// Each RCPT command's argument after `TO:`, as sent.
    pub to: Vec<String>,
    /// The content: dot-unstuffed (DATA) or the chunks joined (BDAT).
    pub body: Vec<u8>,
}

impl Stored {
    /// The envelope sender's address, without the angle brackets and parameters.
    pub fn from_path(&self) -> Option<&str> {
        path(&self.from)
    }
}

/// The address inside `<...>` of a MAIL or RCPT argument.
pub fn path(arg: &str) -> Option<&str> {
    let open = arg.find('<')?;
    let close = arg[open..].find('>')? + open;
    Some(&arg[open + 1..close])
}

/// What the input is at.
#[derive(Debug)]
enum Reading {
    /// Command lines.
    Commands,
    /// A DATA body, line by line; `too_big` once it passed `max_size`.
    Data { body: Vec<u8>, too_big: bool },
    /// `left` more bytes of a BDAT chunk; `last` if it ends the message; `refused` if
    /// the chunk is read only to be thrown away.
    Chunk {
        left: usize,
        last: bool,
        refused: bool,
    },
}

/// The server's side of one connection.
#[derive(Debug)]
pub struct Mta {
    /// How it behaves; may be changed between calls.
    pub style: Style,
    /// Command lines received, without their line end, in order.
    pub commands: Vec<String>,
    /// Messages stored, in order (a caller may take them out as they come).
    pub messages: Vec<Stored>,
    /// Error replies (4xx and 5xx) given.
    pub errors: u64,
    buf: Vec<u8>,
    reading: Reading,
    from: Option<String>,
    to: Vec<String>,
    chunks: Vec<u8>,
    answered: usize,
    closed: bool,
}

impl Mta {
    /// A server that has not greeted yet.
    pub fn new(style: Style) -> Self {
        Self {
            style,
            commands: Vec::new(),
            messages: Vec::new(),
            errors: 0,
            buf: Vec::new(),
            reading: Reading::Commands,
            from: None,
            to: Vec::new(),
            chunks: Vec::new(),
            answered: 0,
            closed: false,
        }
    }

    /// The greeting, to be sent first.
    pub fn greeting(&self) -> Vec<u8> {
        format!("220 {}\r\n", self.style.greeting).into_bytes()
    }

    /// Whether the connection is to be closed now (after QUIT, or as `die_after` says),
    /// once the replies returned so far are sent.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// The bodies of the stored messages.
    pub fn bodies(&self) -> Vec<Vec<u8>> {
        self.messages.iter().map(|m| m.body.clone()).collect()
    }

    /// Reads bytes; returns the replies to every command they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.feed_into(bytes, &mut out);
        out
    }

    /// [`Mta::feed`], appending the replies to `out`.
    pub fn feed_into(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.closed {
            return;
        }
        let mut input = std::mem::take(&mut self.buf);
        input.extend_from_slice(bytes);
        let mut at = 0;
        while at < input.len() && !self.closed {
            if let Reading::Chunk {
                left,
                last,
                refused,
            } = &mut self.reading
            {
                let n = (*left).min(input.len() - at);
                if !*refused {
                    self.chunks.extend_from_slice(&input[at..at + n]);
                }
                at += n;
                *left -= n;
                if *left > 0 {
                    break;
                }
                let (last, refused) = (*last, *refused);
                self.reading = Reading::Commands;
                self.chunk_done(last, refused, out);
                continue;
            }
            let Some(nl) = input[at..].iter().position(|&b| b == b'\n') else {
                break;
            };
            let line = &input[at..at + nl + 1];
            at += nl + 1;
            if let Reading::Data { body, too_big } = &mut self.reading {
                if line == b".\r\n" {
                    let body = std::mem::take(body);
                    let too_big = *too_big;
                    self.reading = Reading::Commands;
                    self.data_done(body, too_big, out);
                } else {
                    let unstuffed = line.strip_prefix(b".").unwrap_or(line);
                    if body.len() + unstuffed.len() > self.style.max_size {
                        *too_big = true;
                    } else {
                        body.extend_from_slice(unstuffed);
                    }
                }
                continue;
            }
            self.command(line, out);
        }
        input.drain(..at);
        self.buf = input;
    }

    /// Answers one command line (with its line end).
    fn command(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']).to_owned();
        self.commands.push(text.clone());
        self.answered += 1;
        let verb = text.get(..4).unwrap_or(&text).to_ascii_uppercase();
        let arg = text.get(4..).unwrap_or("").trim_start();
        if line.len() > MAX_LINE {
            self.error(out, "500 5.5.2 line too long");
        } else {
            match verb.as_str() {
                "EHLO" => {
                    self.reset();
                    self.ehlo(out);
                }
                "HELO" => {
                    self.reset();
                    push(out, &format!("250 {}", self.style.name));
                }
                "MAIL" => self.mail(arg, out),
                "RCPT" => self.rcpt(arg, out),
                "DATA" if self.style.refuse_data => {
                    self.error(out, "554 5.5.1 no valid recipients")
                }
                "DATA" if self.to.is_empty() => self.error(out, "503 5.5.1 need RCPT"),
                "DATA" => {
                    push(out, "354 go ahead, end with <CRLF>.<CRLF>");
                    self.reading = Reading::Data {
                        body: Vec::new(),
                        too_big: false,
                    };
                }
                "BDAT" => self.bdat(arg, out),
                "RSET" => {
                    self.reset();
                    push(out, "250 2.0.0 ok");
                }
                "NOOP" => push(out, "250 2.0.0 ok"),
                "QUIT" => {
                    push(out, "221 2.0.0 bye");
                    self.closed = true;
                }
                _ => self.error(out, "500 5.5.1 command not recognized"),
            }
        }
        if self.style.die_after.is_some_and(|n| self.answered >= n) {
            self.closed = true;
        }
    }

    fn ehlo(&self, out: &mut Vec<u8>) {
        let keywords = &self.style.keywords;
        let sep = if keywords.is_empty() { ' ' } else { '-' };
        push(out, &format!("250{sep}{}", self.style.name));
        for (i, k) in keywords.iter().enumerate() {
            let sep = if i + 1 == keywords.len() { ' ' } else { '-' };
            push(out, &format!("250{sep}{k}"));
        }
    }

    fn mail(&mut self, arg: &str, out: &mut Vec<u8>) {
        if self.from.is_some() {
            return self.error(out, "503 5.5.1 nested MAIL");
        }
        match strip_prefix_ci(arg, "FROM:") {
            Some(from) if path(from).is_some() => {
                self.from = Some(from.to_owned());
                push(out, "250 2.1.0 ok");
            }
            Some(_) => self.error(out, "501 5.1.7 bad sender"),
            None => self.error(out, "501 5.5.4 syntax: MAIL FROM:<path>"),
        }
    }

    fn rcpt(&mut self, arg: &str, out: &mut Vec<u8>) {
        if self.from.is_none() {
            return self.error(out, "503 5.5.1 need MAIL");
        }
        match strip_prefix_ci(arg, "TO:") {
            Some(to) if path(to).is_some() => {
                self.to.push(to.to_owned());
                push(out, "250 2.1.5 ok");
            }
            Some(_) => self.error(out, "501 5.1.3 bad recipient"),
            None => self.error(out, "501 5.5.4 syntax: RCPT TO:<path>"),
        }
    }

    fn bdat(&mut self, arg: &str, out: &mut Vec<u8>) {
        let mut parts = arg.split(' ');
        let size = parts.next().and_then(|n| n.parse::<usize>().ok());
        let last = match parts.next() {
            None => Some(false),
            Some(l) if l.eq_ignore_ascii_case("LAST") && parts.next().is_none() => Some(true),
            Some(_) => None,
        };
        let (Some(size), Some(last)) = (size, last) else {
            // Without a size there is no knowing where the chunk ends.
            return self.error(out, "501 5.5.4 syntax: BDAT size [LAST]");
        };
        // RFC 3030: a refused chunk is still read, to find the next command.
        let refused = self.to.is_empty();
        self.reading = Reading::Chunk {
            left: size,
            last,
            refused,
        };
        if size == 0 {
            self.reading = Reading::Commands;
            self.chunk_done(last, refused, out);
        }
    }

    fn chunk_done(&mut self, last: bool, refused: bool, out: &mut Vec<u8>) {
        if refused {
            return self.error(out, "503 5.5.1 need RCPT");
        }
        if self.chunks.len() > self.style.max_size {
            self.chunks.clear();
            self.reset();
            return self.error(out, "552 5.3.4 message too big");
        }
        if last {
            let body = std::mem::take(&mut self.chunks);
            self.store(body);
            push(out, "250 2.0.0 queued");
        } else {
            push(out, "250 2.0.0 chunk accepted");
        }
    }

    fn data_done(&mut self, body: Vec<u8>, too_big: bool, out: &mut Vec<u8>) {
        if too_big {
            self.reset();
            return self.error(out, "552 5.3.4 message too big");
        }
        self.store(body);
        push(out, "250 2.0.0 queued");
    }

    /// Keeps a message and ends its transaction.
    fn store(&mut self, body: Vec<u8>) {
        let from = self.from.take().unwrap_or_default();
        let to = std::mem::take(&mut self.to);
        self.messages.push(Stored { from, to, body });
    }

    fn reset(&mut self) {
        self.from = None;
        self.to.clear();
        self.chunks.clear();
    }

    fn error(&mut self, out: &mut Vec<u8>, reply: &str) {
        self.errors += 1;
        push(out, reply);
    }
}

fn push(out: &mut Vec<u8>, line: &str) {
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `s` after `prefix`, compared without case.
fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn a_pipelined_transaction_in_pieces() {
        let mut m = Mta::new(Style::mx());
        let input = b"EHLO c\r\nMAIL FROM:<a@c> SIZE=9\r\nRCPT TO:<b@mx>\r\nDATA\r\n.one\r\n..\r\ntwo\r\n.\r\nQUIT\r\n";
        let mut out = Vec::new();
        for piece in input.chunks(3) {
            m.feed_into(piece, &mut out);
        }
        assert_eq!(
            text(&out),
            "250-mx.test greets you\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10240000\r\n\
             250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go ahead, end with <CRLF>.<CRLF>\r\n\
             250 2.0.0 queued\r\n221 2.0.0 bye\r\n"
        );
        assert_eq!(
            m.messages,
            vec![Stored {
                from: "<a@c> SIZE=9".into(),
                to: vec!["<b@mx>".into()],
                body: b"one\r\n.\r\ntwo\r\n".to_vec(),
            }]
        );
        assert_eq!(m.messages[0].from_path(), Some("a@c"));
        assert_eq!(m.commands.len(), 5);
        assert!(m.closed());
        assert_eq!(m.errors, 0);
    }

    #[test]
    fn bdat_chunks_hold_anything() {
        let mut m = Mta::new(Style::default());
        let out =
            m.feed(b"MAIL FROM:<a@c>\r\nRCPT TO:<b@d>\r\nBDAT 5\r\n.\r\nXYBDAT 3 LAST\r\nend");
        assert_eq!(
            text(&out),
            "250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.0.0 chunk accepted\r\n250 2.0.0 queued\r\n"
        );
        assert_eq!(m.bodies(), vec![b".\r\nXYend".to_vec()]);
    }

    #[test]
    fn out_of_order_and_bad_commands_are_refused() {
        let mut m = Mta::new(Style::default());
        let long = format!("NOOP {}\r\n", "x".repeat(MAX_LINE));
        let input = format!(
            "RCPT TO:<b@d>\r\nDATA\r\nMAIL FROM:<a@c>\r\nMAIL FROM:<a@c>\r\nMAIL x\r\n\
             RCPT TO:b\r\nBDAT 4\r\nabcdBDAT x\r\nWHAT\r\n{long}DATA\r\n"
        );
        let out = text(&m.feed(input.as_bytes()));
        let codes: Vec<&str> = out.lines().map(|l| &l[..3]).collect();
        assert_eq!(
            codes,
            [
                "503", "503", "250", "503", "503", "501", "503", "501", "500", "500", "503"
            ]
        );
        assert_eq!(m.errors, 10);
        assert!(m.messages.is_empty());
    }

    #[test]
    fn refusing_dying_and_size_limits() {
        let mut m = Mta::new(Style {
            refuse_data: true,
            ..Style::mx()
        });
        let out = m.feed(b"MAIL FROM:<a@c>\r\nRCPT TO:<b@d>\r\nDATA\r\n");
        assert!(text(&out).ends_with("554 5.5.1 no valid recipients\r\n"));

        let mut m = Mta::new(Style {
            die_after: Some(1),
            ..Style::default()
        });
        assert_eq!(
            text(&m.feed(b"EHLO a\r\nNOOP\r\n")).matches("\r\n").count(),
            5
        );
        assert!(m.closed());
        assert!(m.feed(b"NOOP\r\n").is_empty());

        let mut m = Mta::new(Style {
            max_size: 8,
            ..Style::default()
        });
        let out = m.feed(
            b"MAIL FROM:<a@c>\r\nRCPT TO:<b@d>\r\nDATA\r\n123456789\r\n.\r\nMAIL FROM:<a@c>\r\n",
        );
        assert!(
            text(&out).ends_with("552 5.3.4 message too big\r\n250 2.1.0 ok\r\n"),
            "{}",
            text(&out)
        );
        assert!(m.messages.is_empty());
    }
}
