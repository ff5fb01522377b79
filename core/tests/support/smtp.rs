//! An in-memory SMTP session through the two XCRYPT state machines:
//! local client (scripted) ↔ `Client` ↔ wire ↔ `Server` ↔ local MTA (fake), with every
//! hop delivered in chunks of chosen sizes.
#![allow(dead_code, reason = "each test file uses part of the harness")]

use ssmail_core::kdf::NONCE_BYTES;
use ssmail_core::xcrypt::{
    CachedKeys, Client, Event, KeySource, KeyUnavailable, Server, SessionError, Sink, StaticKeys,
    Version,
};
use ssmail_core::{KeyCache, KeyPair, PublicKey, SharedSecret};

pub use crate::test_rng::TestRng;

/// What a state machine handed out.
#[derive(Default, Debug)]
pub struct Collect {
    pub peer: Vec<u8>,
    pub local: Vec<u8>,
    pub events: Vec<Event>,
}

impl Sink for Collect {
    fn to_peer(&mut self, bytes: &[u8]) {
        self.peer.extend_from_slice(bytes);
    }
    fn to_local(&mut self, bytes: &[u8]) {
        self.local.extend_from_slice(bytes);
    }
    fn event(&mut self, event: Event) {
        self.events.push(event);
    }
}

/// A plain SMTP server that knows nothing of XCRYPT (the MTA behind a gateway).
#[derive(Default)]
pub struct Mta {
    buf: Vec<u8>,
    data: Option<Vec<u8>>,
    /// BDAT: bytes of the chunk still to come, whether it is the last, the message so far.
    chunk: Option<(usize, bool)>,
    bdat: Vec<u8>,
    /// Refuse DATA (no valid recipients).
    pub refuse_data: bool,
    /// Command lines received, without CRLF.
    pub commands: Vec<String>,
    /// Message bodies received (up to, not including, the final `.` line).
    pub messages: Vec<Vec<u8>>,
    /// The EHLO reply's keyword lines (after the name line).
    pub keywords: Vec<&'static str>,
}

impl Mta {
    pub fn new() -> Self {
        Self {
            keywords: vec!["PIPELINING", "8BITMIME", "SIZE 10240000"],
            ..Self::default()
        }
    }

    pub const GREETING: &'static [u8] = b"220 mx.test ESMTP\r\n";

    /// Reads bytes; returns its replies.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            if let Some((left, last)) = self.chunk {
                let n = left.min(self.buf.len());
                self.bdat.extend(self.buf.drain(..n));
                if n < left {
                    self.chunk = Some((left - n, last));
                    return out;
                }
                self.chunk = None;
                if last {
                    self.messages.push(std::mem::take(&mut self.bdat));
                }
                out.extend_from_slice(b"250 2.0.0 chunk ok\r\n");
                continue;
            }
            if let Some(data) = &mut self.data {
                data.append(&mut self.buf);
                if let Some(end) = find(data, b"\r\n.\r\n") {
                    let body = data[2..end + 2].to_vec();
                    let rest = data[end + 5..].to_vec();
                    self.messages.push(body);
                    self.data = None;
                    self.buf = rest;
                    out.extend_from_slice(b"250 2.0.0 queued\r\n");
                    continue;
                }
                return out;
            }
            let Some(end) = find(&self.buf, b"\r\n") else {
                return out;
            };
            let line: Vec<u8> = self.buf.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&line[..end]).into_owned();
            let verb = text
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            self.commands.push(text.clone());
            match verb.as_str() {
                "EHLO" => {
                    out.extend_from_slice(b"250");
                    out.extend_from_slice(if self.keywords.is_empty() { b" " } else { b"-" });
                    out.extend_from_slice(b"mx.test greets you\r\n");
                    for (i, k) in self.keywords.iter().enumerate() {
                        let last = i + 1 == self.keywords.len();
                        out.extend_from_slice(if last { b"250 " } else { b"250-" });
                        out.extend_from_slice(k.as_bytes());
                        out.extend_from_slice(b"\r\n");
                    }
                }
                "HELO" => out.extend_from_slice(b"250 mx.test\r\n"),
                "MAIL" | "RCPT" | "RSET" | "NOOP" => out.extend_from_slice(b"250 2.0.0 ok\r\n"),
                "DATA" if self.refuse_data => out.extend_from_slice(b"554 no valid recipients\r\n"),
                "DATA" => {
                    out.extend_from_slice(b"354 go ahead\r\n");
                    self.data = Some(b"\r\n".to_vec());
                }
                "BDAT" => {
                    let mut t = text.split(' ').skip(1);
                    let size = t.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                    let last = t.next().is_some_and(|l| l.eq_ignore_ascii_case("LAST"));
                    self.chunk = Some((size, last));
                }
                "QUIT" => out.extend_from_slice(b"221 2.0.0 bye\r\n"),
                _ => out.extend_from_slice(b"502 5.5.2 command not recognized\r\n"),
            }
        }
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A scripted SMTP client (the mail submitter in front of a client gateway): sends each
/// step (one command, or a pipelined group) once every reply to the step before is in,
/// and records the replies.
#[derive(Clone)]
pub struct App {
    steps: Vec<(Vec<u8>, Vec<u16>)>,
    next: usize,
    /// Reply codes still expected for the step sent last (the greeting first).
    expect: std::collections::VecDeque<u16>,
    buf: Vec<u8>,
    current: Vec<u8>,
    /// Whole replies received, in order.
    pub replies: Vec<String>,
    /// A reply code differed from the script's.
    pub unexpected: Vec<String>,
}

impl App {
    /// The usual session: greeting, EHLO, one message, QUIT.
    pub fn one_message(body: &[u8]) -> Self {
        let mut data = body.to_vec();
        data.extend_from_slice(b".\r\n");
        Self::new(vec![
            (b"EHLO client.test\r\n".to_vec(), 250),
            (b"MAIL FROM:<alice@client.test>\r\n".to_vec(), 250),
            (b"RCPT TO:<bob@mx.test>\r\n".to_vec(), 250),
            (b"DATA\r\n".to_vec(), 354),
            (data, 250),
            (b"QUIT\r\n".to_vec(), 221),
        ])
    }

    /// One command per step, each with its expected reply code.
    pub fn new(steps: Vec<(Vec<u8>, u16)>) -> Self {
        Self::groups(steps.into_iter().map(|(b, c)| (b, vec![c])).collect())
    }

    /// Steps of pipelined groups, each with the reply codes it expects.
    pub fn groups(steps: Vec<(Vec<u8>, Vec<u16>)>) -> Self {
        Self {
            steps,
            next: 0,
            expect: [220].into(),
            buf: Vec::new(),
            current: Vec::new(),
            replies: Vec::new(),
            unexpected: Vec::new(),
        }
    }

    pub fn done(&self) -> bool {
        self.next == self.steps.len() && self.expect.is_empty()
    }

    /// What to send now.
    pub fn poll(&mut self) -> Option<Vec<u8>> {
        if !self.expect.is_empty() || self.next == self.steps.len() {
            return None;
        }
        let (bytes, codes) = self.steps[self.next].clone();
        self.next += 1;
        self.expect = codes.into();
        Some(bytes)
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        while let Some(end) = find(&self.buf, b"\r\n") {
            let line: Vec<u8> = self.buf.drain(..end + 2).collect();
            self.current.extend_from_slice(&line);
            if line.get(3) == Some(&b'-') {
                continue;
            }
            let reply = String::from_utf8_lossy(&std::mem::take(&mut self.current)).into_owned();
            let code: u16 = reply.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            if self.expect.pop_front() != Some(code) {
                self.unexpected.push(reply.clone());
            }
            self.replies.push(reply);
        }
    }
}

/// Cuts byte runs into chunks of the given sizes, cycling through them.
pub struct Chunks {
    sizes: Vec<usize>,
    at: usize,
}

impl Chunks {
    pub fn new(sizes: Vec<usize>) -> Self {
        assert!(sizes.iter().all(|&s| s > 0));
        Self { sizes, at: 0 }
    }

    pub fn whole() -> Self {
        Self::new(vec![usize::MAX])
    }

    pub fn cut<'a>(&mut self, mut bytes: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let n = self.sizes[self.at].min(bytes.len());
            self.at = if self.at + 1 == self.sizes.len() {
                0
            } else {
                self.at + 1
            };
            out.push(&bytes[..n]);
            bytes = &bytes[n..];
        }
        out
    }
}

/// Changes bytes on the wire.
pub type Tamper = Box<dyn FnMut(&mut Vec<u8>)>;

/// A whole session in memory.
pub struct Session {
    pub client: Client,
    pub server: Server,
    pub app: App,
    pub mta: Mta,
    pub client_out: Collect,
    pub server_out: Collect,
    /// Every byte that crossed the wire, each way.
    pub wire_c2s: Vec<u8>,
    pub wire_s2c: Vec<u8>,
    pub client_key: KeyPair,
    pub server_key: KeyPair,
    pub client_rng: TestRng,
    pub server_rng: TestRng,
    pub chunks: Chunks,
    /// Applied to server-to-client wire bytes before the client reads them.
    pub tamper_s2c: Option<Tamper>,
    pub error: Option<SessionError>,
    /// Key caches to use instead of the fixed keys (client's, server's).
    pub caches: Option<(KeyCache<4>, KeyCache<4>)>,
    /// The time the caches are told.
    pub now: u64,
}

impl Session {
    pub fn new(client: &[Version], server: &[Version], app: App, chunks: Chunks) -> Self {
        Self {
            client: Client::new(client),
            server: Server::new(server),
            app,
            mta: Mta::new(),
            client_out: Collect::default(),
            server_out: Collect::default(),
            wire_c2s: Vec::new(),
            wire_s2c: Vec::new(),
            client_key: KeyPair::generate(&mut TestRng(0xC11E)).unwrap_or_else(|_| unreachable!()),
            server_key: KeyPair::generate(&mut TestRng(0x5E4E)).unwrap_or_else(|_| unreachable!()),
            client_rng: TestRng(1),
            server_rng: TestRng(2),
            chunks,
            tamper_s2c: None,
            error: None,
            caches: None,
            now: 0,
        }
    }

    /// Runs until nothing moves.
    pub fn run(&mut self) {
        let greeting = self.mta_greeting();
        self.server_from_local(&greeting);
        for _ in 0..10_000 {
            let mut moved = false;
            if let Some(cmd) = self.app.poll() {
                moved = true;
                for c in self.chunks.cut(&cmd) {
                    let r = self.client.from_local(c, &mut self.client_out);
                    self.note(r);
                }
            }
            let c2s = std::mem::take(&mut self.client_out.peer);
            if !c2s.is_empty() {
                moved = true;
                self.wire_c2s.extend_from_slice(&c2s);
                for c in self.chunks.cut(&c2s) {
                    let cache = self.caches.as_mut().map(|(_, s)| s);
                    let mut keys = keys(cache, &self.server_key, &mut self.server_rng, self.now);
                    let r = self.server.from_peer(c, &mut keys, &mut self.server_out);
                    self.note(r);
                }
            }
            let to_mta = std::mem::take(&mut self.server_out.local);
            if !to_mta.is_empty() {
                moved = true;
                let replies = self.mta.feed(&to_mta);
                self.server_from_local(&replies);
            }
            let mut s2c = std::mem::take(&mut self.server_out.peer);
            if !s2c.is_empty() {
                moved = true;
                if let Some(t) = &mut self.tamper_s2c {
                    t(&mut s2c);
                }
                self.wire_s2c.extend_from_slice(&s2c);
                for c in self.chunks.cut(&s2c) {
                    let cache = self.caches.as_mut().map(|(c, _)| c);
                    let mut keys = keys(cache, &self.client_key, &mut self.client_rng, self.now);
                    let r = self.client.from_peer(c, &mut keys, &mut self.client_out);
                    self.note(r);
                }
            }
            let to_app = std::mem::take(&mut self.client_out.local);
            if !to_app.is_empty() {
                moved = true;
                self.app.feed(&to_app);
            }
            if !moved {
                return;
            }
        }
        panic!("the session did not settle");
    }

    fn mta_greeting(&self) -> Vec<u8> {
        Mta::GREETING.to_vec()
    }

    fn server_from_local(&mut self, bytes: &[u8]) {
        for c in self.chunks.cut(bytes) {
            let cache = self.caches.as_mut().map(|(_, s)| s);
            let mut keys = keys(cache, &self.server_key, &mut self.server_rng, self.now);
            let r = self.server.from_local(c, &mut keys, &mut self.server_out);
            self.note(r);
        }
    }

    fn note(&mut self, r: Result<(), SessionError>) {
        if let Err(e) = r {
            self.error.get_or_insert(e);
        }
    }
}

/// One side's keys: from its cache when the session has caches, else its fixed pair.
enum Keys<'a> {
    Cached(CachedKeys<'a, 4, TestRng>),
    Static(StaticKeys<'a, TestRng>),
}

fn keys<'a>(
    cache: Option<&'a mut KeyCache<4>>,
    pair: &'a KeyPair,
    rng: &'a mut TestRng,
    now: u64,
) -> Keys<'a> {
    match cache {
        Some(cache) => Keys::Cached(CachedKeys { cache, now, rng }),
        None => Keys::Static(StaticKeys::new(pair, rng)),
    }
}

impl KeySource for Keys<'_> {
    fn own_public_key(&mut self) -> Result<PublicKey, KeyUnavailable> {
        match self {
            Self::Cached(k) => k.own_public_key(),
            Self::Static(k) => k.own_public_key(),
        }
    }

    fn shared_secret(
        &mut self,
        own: &PublicKey,
        peer: &PublicKey,
    ) -> Result<SharedSecret, KeyUnavailable> {
        match self {
            Self::Cached(k) => k.shared_secret(own, peer),
            Self::Static(k) => k.shared_secret(own, peer),
        }
    }

    fn nonce(&mut self) -> Result<[u8; NONCE_BYTES], KeyUnavailable> {
        match self {
            Self::Cached(k) => k.nonce(),
            Self::Static(k) => k.nonce(),
        }
    }
}
