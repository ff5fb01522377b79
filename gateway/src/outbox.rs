//! Small buffers of a session: bytes waiting to be written to one side, and a watch
//! on the reply stream that remembers the code of the latest reply line.

/// Bytes waiting for a connection, written from the front.
#[derive(Debug, Default)]
pub struct Outbox {
    buf: Vec<u8>,
    start: usize,
}

impl Outbox {
    /// Queues `bytes` behind what is waiting.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() - self.start {
            // More written than waiting: move the rest down rather than grow.
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// What is waiting.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// `n` bytes of [`pending`](Self::pending) were written.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start >= self.buf.len() {
            self.clear();
        }
    }

    /// Drops what is waiting.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Follows a stream of SMTP reply lines (or anything line-based) as it passes, and
/// keeps the reply code of the latest line that began with three digits.
#[derive(Debug, Default)]
pub struct LineWatch {
    /// The first octets of the current line (up to three).
    head: [u8; 3],
    seen: usize,
    last: Option<u16>,
}

impl LineWatch {
    /// Bytes of the stream, in order.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.seen = 0;
                continue;
            }
            if self.seen < 3 {
                self.head[self.seen] = b;
            }
            self.seen = self.seen.saturating_add(1);
            if self.seen == 3 && self.head.iter().all(u8::is_ascii_digit) {
                self.last = Some(
                    self.head
                        .iter()
                        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0')),
                );
            }
        }
    }

    /// The code of the latest reply line seen.
    pub fn last_code(&self) -> Option<u16> {
        self.last
    }

    /// Whether the stream stands at the start of a line.
    pub fn at_line_start(&self) -> bool {
        self.seen == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_keeps_order_across_partial_writes() {
        let mut o = Outbox::default();
        o.push(b"hello ");
        o.consume(3);
        o.push(b"world");
        assert_eq!(o.pending(), b"lo world");
        o.consume(4);
        o.push(b"!");
        assert_eq!(o.pending(), b"orld!");
        o.consume(5);
        assert!(o.is_empty());
    }

    #[test]
    fn line_watch_reads_codes_split_anywhere() {
        let mut w = LineWatch::default();
        assert!(w.at_line_start());
        w.feed(b"250-a\r\n25");
        assert_eq!(w.last_code(), Some(250));
        assert!(!w.at_line_start());
        w.feed(b"0 b\r\n2");
        w.feed(b"21 bye\r\n");
        assert_eq!(w.last_code(), Some(221));
        assert!(w.at_line_start());
        // Body lines that do not start with a code leave the last code alone.
        w.feed(b"hello\r\n");
        assert_eq!(w.last_code(), Some(221));
    }
}
