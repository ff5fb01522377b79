//! SMTP peers for the gateway tests, written for them: a sink that stores what it is
//! given byte for byte, a client, and the gateway binary run as a child process.
#![allow(dead_code, reason = "each test file uses some of these")]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A message as the sink stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The MAIL FROM line's argument, as sent.
    pub from: String,
    /// The RCPT TO arguments.
    pub to: Vec<String>,
    /// The content after dot-unstuffing (DATA) or as chunked (BDAT).
    pub body: Vec<u8>,
}

/// How the sink behaves.
#[derive(Debug, Clone)]
pub struct SinkStyle {
    /// EHLO keywords after the name line.
    pub keywords: Vec<&'static str>,
    /// Close the connection right after answering this many commands (a crashing MTA).
    pub die_after: Option<usize>,
    /// Accept connections but never say anything (a silent MTA).
    pub silent: bool,
}

impl Default for SinkStyle {
    fn default() -> Self {
        Self {
            keywords: vec!["PIPELINING", "8BITMIME", "SIZE 52428800", "CHUNKING"],
            die_after: None,
            silent: false,
        }
    }
}

/// A receiving SMTP server on a free port, one thread per connection.
pub struct Sink {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Messages stored, in order.
    pub messages: Arc<Mutex<Vec<Stored>>>,
    /// Every command line received (CRLF stripped), over all connections.
    pub commands: Arc<Mutex<Vec<String>>>,
    /// Connections that ended (EOF or reset), counted.
    pub closed: Arc<Mutex<usize>>,
}

impl Sink {
    /// A sink with the usual keywords.
    pub fn start() -> Self {
        Self::with(SinkStyle::default())
    }

    /// A sink that behaves as `style` says.
    pub fn with(style: SinkStyle) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let sink = Self {
            addr,
            messages: Arc::default(),
            commands: Arc::default(),
            closed: Arc::default(),
        };
        let (messages, commands, closed) = (
            Arc::clone(&sink.messages),
            Arc::clone(&sink.commands),
            Arc::clone(&sink.closed),
        );
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (m, c, d, s) = (
                    Arc::clone(&messages),
                    Arc::clone(&commands),
                    Arc::clone(&closed),
                    style.clone(),
                );
                thread::spawn(move || {
                    let _ = serve(conn, &s, &m, &c);
                    *d.lock().expect("lock") += 1;
                });
            }
        });
        sink
    }

    /// The messages stored so far.
    pub fn stored(&self) -> Vec<Stored> {
        self.messages.lock().expect("lock").clone()
    }

    /// Waits until `n` messages are stored (or panics after `secs`).
    pub fn wait_for(&self, n: usize, secs: u64) -> Vec<Stored> {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.stored();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < end,
                "only {} of {n} messages arrived",
                got.len()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until `n` connections have ended.
    pub fn wait_closed(&self, n: usize, secs: u64) {
        let end = Instant::now() + Duration::from_secs(secs);
        while *self.closed.lock().expect("lock") < n {
            assert!(Instant::now() < end, "connections did not end");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

fn serve(
    conn: TcpStream,
    style: &SinkStyle,
    messages: &Mutex<Vec<Stored>>,
    commands: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    if style.silent {
        // Read and ignore until the other side gives up.
        let mut r = conn;
        let mut buf = [0u8; 4096];
        while r.read(&mut buf)? > 0 {}
        return Ok(());
    }
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    w.write_all(b"220 sink.test ESMTP test sink\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut chunks: Vec<u8> = Vec::new();
    let mut answered = 0;
    loop {
        if style.die_after.is_some_and(|n| answered >= n) {
            return w.shutdown(Shutdown::Both);
        }
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        commands.lock().expect("lock").push(text.clone());
        let upper = text.to_ascii_uppercase();
        answered += 1;
        let reply: String = if upper.starts_with("EHLO") {
            let mut s = String::from("250-sink.test\r\n");
            for (i, k) in style.keywords.iter().enumerate() {
                let sep = if i + 1 == style.keywords.len() {
                    ' '
                } else {
                    '-'
                };
                s.push_str(&format!("250{sep}{k}\r\n"));
            }
            if style.keywords.is_empty() {
                s = "250 sink.test\r\n".into();
            }
            s
        } else if upper.starts_with("HELO") || upper == "NOOP" {
            "250 ok\r\n".into()
        } else if upper.starts_with("MAIL FROM:") {
            from = text[10..].to_owned();
            to.clear();
            chunks.clear();
            "250 2.1.0 ok\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            to.push(text[8..].to_owned());
            "250 2.1.5 ok\r\n".into()
        } else if upper == "DATA" {
            w.write_all(b"354 go ahead\r\n")?;
            let mut body = Vec::new();
            loop {
                let mut l = Vec::new();
                if r.read_until(b'\n', &mut l)? == 0 {
                    // The sender went away mid-message: nothing is stored.
                    return Ok(());
                }
                if l == b".\r\n" {
                    break;
                }
                let l = if l.first() == Some(&b'.') {
                    &l[1..]
                } else {
                    &l[..]
                };
                body.extend_from_slice(l);
            }
            store(messages, &from, &to, body);
            "250 2.0.0 stored\r\n".into()
        } else if let Some(args) = upper.strip_prefix("BDAT ") {
            let mut parts = args.split(' ');
            let n: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            let last = parts.next() == Some("LAST");
            let mut chunk = vec![0; n];
            r.read_exact(&mut chunk)?;
            chunks.extend_from_slice(&chunk);
            if last {
                store(messages, &from, &to, std::mem::take(&mut chunks));
            }
            format!("250 2.0.0 {n} octets\r\n")
        } else if upper == "RSET" {
            "250 ok\r\n".into()
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n")?;
            return w.shutdown(Shutdown::Both);
        } else if line.len() > 512 {
            "500 5.5.2 line too long\r\n".into()
        } else {
            "500 5.5.1 command not recognized\r\n".into()
        };
        w.write_all(reply.as_bytes())?;
    }
}

fn store(messages: &Mutex<Vec<Stored>>, from: &str, to: &[String], body: Vec<u8>) {
    messages.lock().expect("lock").push(Stored {
        from: from.to_owned(),
        to: to.to_vec(),
        body,
    });
}

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

    /// Reads one whole reply (all its lines); empty at EOF.
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            match self.r.read_line(&mut line) {
                Ok(0) | Err(_) => return all,
                Ok(_) => {}
            }
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
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

/// Dot-stuffs CRLF lines.
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

/// `ssmail gateway` as a child process, its log read as it comes.
pub struct Gateway {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    lines: Receiver<Value>,
    /// Session records seen so far.
    pub sessions: Vec<Value>,
    _config: tempfile::NamedTempFile,
}

impl Gateway {
    /// Starts `ssmail gateway <mode>` listening on `listen` (port 0: any), forwarding to
    /// `upstream`, with `config` as its config file and `extra` flags.
    pub fn start(
        mode: &str,
        listen: &str,
        upstream: SocketAddr,
        config: &str,
        extra: &[&str],
    ) -> Self {
        let mut file = tempfile::NamedTempFile::new().expect("temp");
        file.write_all(config.as_bytes()).expect("write config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_ssmail"))
            .args(["gateway", mode, "--listen", listen, "--log-format", "json"])
            .arg("--upstream")
            .arg(upstream.to_string())
            .arg("--config")
            .arg(file.path())
            .args(extra)
            // Not inherited: a gateway left behind must not hold the test's output open.
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gateway");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| panic!("log line is not JSON: {line}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        // Notices (the cache file's state) may come first; the listening line says where.
        let end = Instant::now() + Duration::from_secs(20);
        let listening = loop {
            let left = end.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(v) if v["event"] == "listening" => break Some(v),
                Ok(_) => {}
                Err(_) => break None,
            }
        };
        let Some(listening) = listening else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the gateway never said where it listens");
        };
        let addr = listening["listen"]
            .as_str()
            .expect("listen")
            .parse()
            .expect("address");
        Self {
            child,
            addr,
            lines: rx,
            sessions: Vec::new(),
            _config: file,
        }
    }

    /// Waits until `n` sessions have been logged in all; returns them all.
    pub fn wait_sessions(&mut self, n: usize) -> &[Value] {
        let end = Instant::now() + Duration::from_secs(60);
        while self.sessions.len() < n {
            let left = end.saturating_duration_since(Instant::now());
            let v = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("{} of {n} sessions logged", self.sessions.len()));
            if v["event"] == "session" {
                self.sessions.push(v);
            }
        }
        &self.sessions
    }

    /// SIGTERM, then waits for the exit; returns whether it exited with success.
    pub fn stop(mut self) -> bool {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success());
        ok && self.child.wait().is_ok_and(|s| s.success())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on (bound, then released).
pub fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}
