//! A blocking SMTP client over TCP, and the messages the tests send with it.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::reply::Assembler;

/// A plain SMTP client connection.
pub struct Smtp {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Smtp {
    /// Connects and reads the greeting (returned).
    pub fn connect(addr: SocketAddr) -> (Self, String) {
        let w = TcpStream::connect(addr).expect("connect");
        w.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let r = BufReader::new(w.try_clone().expect("clone"));
        let mut s = Self { w, r };
        let greeting = s.reply();
        (s, greeting)
    }

    /// Reads one whole reply (all its lines, as they came); what was read up to EOF, a
    /// timeout or a malformed line, which then ends it.
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        let mut lines = Assembler::new();
        loop {
            let mut line = String::new();
            match self.r.read_line(&mut line) {
                Ok(0) | Err(_) => return all,
                Ok(_) => {}
            }
            all.push_str(&line);
            match lines.push_line(&line) {
                Ok(None) => {}
                Ok(Some(_)) | Err(_) => return all,
            }
        }
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).expect("send");
    }

    /// Sends a command line and reads its reply.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Sends `body` (CRLF lines) dot-stuffed, then the final dot; returns the reply.
    pub fn data_body(&mut self, body: &[u8]) -> String {
        self.send(&stuff(body));
        self.send(b".\r\n");
        self.reply()
    }

    /// Closes the connection at once.
    pub fn drop_now(self) {
        let _ = self.w.shutdown(Shutdown::Both);
    }

    /// Whether the server has closed: reads until EOF (true) or a timeout (false).
    pub fn closed_within(&mut self, d: Duration) -> bool {
        self.w.set_read_timeout(Some(d)).expect("timeout");
        let mut buf = Vec::new();
        self.r.read_to_end(&mut buf).is_ok()
    }
}

/// Dot-stuffs CRLF lines (RFC 5321, 4.5.2).
pub fn stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut at_start = true;
    for &b in body {
        if at_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_start = b == b'\n';
    }
    out
}

/// One whole session: EHLO, MAIL, RCPT, DATA, QUIT. Panics on an unexpected reply.
pub fn send_mail(addr: SocketAddr, from: &str, to: &str, body: &[u8]) {
    let (mut s, greeting) = Smtp::connect(addr);
    assert!(greeting.starts_with("220"), "greeting: {greeting}");
    let r = s.cmd("EHLO client.test");
    assert!(r.starts_with("250"), "EHLO: {r}");
    let r = s.cmd(&format!("MAIL FROM:<{from}>"));
    assert!(r.starts_with("250"), "MAIL: {r}");
    let r = s.cmd(&format!("RCPT TO:<{to}>"));
    assert!(r.starts_with("250"), "RCPT: {r}");
    let r = s.cmd("DATA");
    assert!(r.starts_with("354"), "DATA: {r}");
    let r = s.data_body(body);
    assert!(r.starts_with("250"), "end of data: {r}");
    let r = s.cmd("QUIT");
    assert!(r.starts_with("221"), "QUIT: {r}");
}

/// A message of about `size` bytes: CRLF lines of printable text, some starting with a
/// dot, all distinct (`tag` and a line number in each).
pub fn message(tag: &str, size: usize) -> Vec<u8> {
    let mut m = format!("Subject: {tag}\r\nMessage-Id: <{tag}@test>\r\n\r\n").into_bytes();
    let mut i = 0u64;
    while m.len() < size {
        let lead = if i & 7 == 3 { "." } else { "" };
        m.extend_from_slice(
            format!("{lead}{tag} line {i:08} the quick brown fox jumps over the lazy dog\r\n")
                .as_bytes(),
        );
        i += 1;
    }
    m.extend_from_slice(b".\r\n..\r\nlast line\r\n");
    m
}

/// A port nobody listens on (bound, then released).
pub fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}
