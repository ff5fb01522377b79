//! SMTP replies as a client reads them: lines of a three-digit code, `-` (more lines
//! follow) or a space (or nothing: the last line), and text (RFC 5321, 4.2).

/// One whole reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// Each line's text after the code and separator, without the line end.
    pub lines: Vec<String>,
    /// The reply as it came, every line with its line end.
    pub raw: String,
}

impl Reply {
    /// This reply, unless its code is not `want`; `what` names the command.
    pub fn want(self, want: u16, what: &str) -> Result<Self, String> {
        if self.code == want {
            Ok(self)
        } else {
            Err(format!("{what}: {}", self.brief()))
        }
    }

    /// The code and first line, short enough for an error message.
    pub fn brief(&self) -> String {
        let first = self.lines.first().map_or("", String::as_str);
        let mut s = format!("{} {first}", self.code);
        s.truncate(120);
        s
    }
}

/// Puts replies together from lines.
#[derive(Debug, Clone, Default)]
pub struct Assembler {
    code: Option<u16>,
    lines: Vec<String>,
    raw: String,
}

impl Assembler {
    /// An assembler between replies.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one line (with or without its line end): the reply it completes, if any.
    /// A line that is not a reply line, or whose code differs from the lines before it,
    /// is an error (and the reply read so far is dropped).
    pub fn push_line(&mut self, line: &str) -> Result<Option<Reply>, String> {
        let text = line.trim_end_matches(['\r', '\n']);
        let parsed = parse_line(text).filter(|(code, _, _)| self.code.is_none_or(|c| c == *code));
        let Some((code, last, rest)) = parsed else {
            *self = Self::default();
            return Err(format!("malformed reply line {text:?}"));
        };
        self.code = Some(code);
        self.lines.push(rest.to_owned());
        self.raw.push_str(line);
        if !last {
            return Ok(None);
        }
        let reply = Reply {
            code,
            lines: std::mem::take(&mut self.lines),
            raw: std::mem::take(&mut self.raw),
        };
        *self = Self::default();
        Ok(Some(reply))
    }

    /// Whether a reply is half read.
    pub fn in_reply(&self) -> bool {
        self.code.is_some()
    }
}

/// A reply line without its line end: code, whether it is the last line, the text.
pub fn parse_line(text: &str) -> Option<(u16, bool, &str)> {
    let bytes = text.as_bytes();
    let digits = bytes.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |c, d| c * 10 + u16::from(d - b'0'));
    let last = match bytes.get(3) {
        None | Some(b' ') => true,
        Some(b'-') => false,
        Some(_) => return None,
    };
    Some((code, last, text.get(4..).unwrap_or("")))
}

/// Splits a byte stream into replies, as it comes.
#[derive(Debug, Clone, Default)]
pub struct Replies {
    buf: Vec<u8>,
    lines: Assembler,
}

impl Replies {
    /// A reader before any byte.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads bytes; returns the replies (or line errors) they complete, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Result<Reply, String>> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..nl + 1).collect();
            match self.lines.push_line(&String::from_utf8_lossy(&line)) {
                Ok(Some(reply)) => out.push(Ok(reply)),
                Ok(None) => {}
                Err(e) => out.push(Err(e)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_replies_in_pieces() {
        let mut r = Replies::new();
        let wire = b"220 hi\r\n250-a.test\r\n250-PIPELINING\r\n250 SIZE 1\r\n354\r\n";
        let mut got = Vec::new();
        for piece in wire.chunks(5) {
            got.extend(r.feed(piece));
        }
        let got: Vec<Reply> = got.into_iter().map(|r| r.expect("well formed")).collect();
        assert_eq!(
            got.iter().map(|r| r.code).collect::<Vec<_>>(),
            [220, 250, 354]
        );
        assert_eq!(got[1].lines, ["a.test", "PIPELINING", "SIZE 1"]);
        assert_eq!(got[1].raw, "250-a.test\r\n250-PIPELINING\r\n250 SIZE 1\r\n");
        assert_eq!(got[2].lines, [""]);
        assert!(got[1].clone().want(250, "EHLO").is_ok());
        assert_eq!(
            got[0]
                .clone()
                .want(250, "EHLO")
                .expect_err("220 is not 250"),
            "EHLO: 220 hi"
        );
    }

    #[test]
    fn bad_lines_are_errors() {
        for bad in ["25 x", "2x0 x", "250x", "", "abc"] {
            assert!(parse_line(bad).is_none(), "{bad:?}");
        }
        let mut a = Assembler::new();
        assert_eq!(a.push_line("250-a\r\n"), Ok(None));
        assert!(a.in_reply());
        assert!(
            a.push_line("251 b\r\n").is_err(),
            "a code change inside a reply"
        );
        assert!(!a.in_reply());
    }
}
