//! The whole-session overhead: one 64 KiB message through the client and server state
//! machines in memory, with and without XCRYPT (a primed cache, so no Diffie-Hellman),
//! between a scripted SMTP client and a minimal SMTP server.

use std::hint::black_box;

use ssmail_core::xcrypt::{CachedKeys, Client, Event, Server, Sink, Version};
use ssmail_core::{DEFAULT_LIFETIME_SECS, KeyCache};

use crate::failure::Failure;

/// The message size the paper measured.
pub const MESSAGE: usize = 64 * 1024;

/// Bytes handed out by a state machine.
#[derive(Default)]
struct Out {
    peer: Vec<u8>,
    local: Vec<u8>,
}

impl Sink for Out {
    fn to_peer(&mut self, bytes: &[u8]) {
        self.peer.extend_from_slice(bytes);
    }
    fn to_local(&mut self, bytes: &[u8]) {
        self.local.extend_from_slice(bytes);
    }
    fn event(&mut self, _: Event) {}
}

/// The SMTP server behind the gateway: just enough to take one message. It reads its
/// input in place (taking over the buffer it is handed) and searches it with `memchr`,
/// so that its own cost (a stand-in for a real server, which this bench does not mean
/// to measure) stays small beside the state machines'.
#[derive(Default)]
struct Mta {
    buf: Vec<u8>,
    /// In a body: how far `buf` has been searched for its end.
    body: Option<usize>,
    delivered: usize,
}

impl Mta {
    /// Takes `bytes` (leaving it empty, with capacity to reuse) and answers into `replies`.
    fn feed(&mut self, bytes: &mut Vec<u8>, replies: &mut Vec<u8>) {
        // Taken over rather than copied when nothing is left over (a body comes in one
        // buffer here).
        if self.buf.is_empty() {
            std::mem::swap(&mut self.buf, bytes);
        } else {
            self.buf.extend_from_slice(bytes);
            bytes.clear();
        }
        loop {
            if let Some(searched) = self.body {
                // `buf` starts with the CRLF that ended DATA, the body's first line end;
                // an end may straddle the bytes searched before.
                let from = searched.saturating_sub(4);
                let Some(end) = memchr::memmem::find(&self.buf[from..], b"\r\n.\r\n") else {
                    self.body = Some(self.buf.len());
                    return;
                };
                let end = from + end;
                self.delivered += end;
                self.buf.drain(..end + 5);
                self.body = None;
                replies.extend_from_slice(b"250 2.0.0 queued\r\n");
                continue;
            }
            let Some(end) = memchr::memmem::find(&self.buf, b"\r\n") else {
                return;
            };
            let verb: Vec<u8> = self.buf[..end.min(4)].to_ascii_uppercase();
            let reply: &[u8] = match &verb[..] {
                b"EHLO" => b"250-mx.bench\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
                b"DATA" => b"354 go ahead\r\n",
                b"QUIT" => b"221 bye\r\n",
                _ => b"250 ok\r\n",
            };
            replies.extend_from_slice(reply);
            if verb == b"DATA" {
                // The CRLF that ended DATA starts the body's first line: keep it.
                self.buf.drain(..end);
                self.body = Some(0);
            } else {
                self.buf.drain(..end + 2);
            }
        }
    }
}

/// Both sides' caches, primed by a first session, and the buffers every session reuses.
pub struct Caches {
    client: Box<KeyCache<4>>,
    server: Box<KeyCache<4>>,
    /// What the client and the server hand out.
    c_out: Out,
    s_out: Out,
    /// Bytes in flight from one side to the other.
    wire: Vec<u8>,
    /// The stand-in MTA's input.
    mta: Vec<u8>,
}

impl Caches {
    /// Empty caches.
    pub fn new() -> Self {
        Self {
            client: Box::new(KeyCache::new(DEFAULT_LIFETIME_SECS)),
            server: Box::new(KeyCache::new(DEFAULT_LIFETIME_SECS)),
            c_out: Out::default(),
            s_out: Out::default(),
            wire: Vec::new(),
            mta: Vec::new(),
        }
    }
}

/// Runs one session with a `MESSAGE`-byte body; `version`: what the server offers
/// (`None`: nothing, a plaintext session through the same machines). Returns the
/// number of body bytes delivered.
///
/// # Errors
/// When the session does not deliver the whole message.
pub fn run(version: Option<Version>, body: &[u8], caches: &mut Caches) -> Result<usize, Failure> {
    let offer: &[Version] = match &version {
        Some(v) => core::slice::from_ref(v),
        None => &[],
    };
    let mut client = Client::new(&Version::ALL);
    let mut server = Server::new(offer);
    // The buffers of earlier sessions, emptied: a session with fresh ones would time the
    // allocator and first touches of new memory (on Zen 3, glibc's `rep movsb` into cold
    // pages cost more than the state machines), not the session.
    let Caches {
        client: c_cache,
        server: s_cache,
        c_out,
        s_out,
        wire,
        mta: mta_buf,
    } = caches;
    for b in [
        &mut c_out.peer,
        &mut c_out.local,
        &mut s_out.peer,
        &mut s_out.local,
        &mut *wire,
    ] {
        b.clear();
    }
    mta_buf.clear();
    let mut mta = Mta {
        buf: std::mem::take(mta_buf),
        ..Mta::default()
    };
    let steps: [&[u8]; 6] = [
        b"EHLO client.bench\r\n",
        b"MAIL FROM:<a@client.bench>\r\n",
        b"RCPT TO:<b@mx.bench>\r\n",
        b"DATA\r\n",
        body,
        b"QUIT\r\n",
    ];
    let rng = &mut getrandom::SysRng;
    let broken = |e| Failure::Io(format!("session overhead run: {e}"));
    let mut next = 0;
    let mut ready = false;
    let mut replies = Vec::new();
    server
        .from_local(b"220 mx.bench ESMTP\r\n", &mut keys(s_cache, rng), s_out)
        .map_err(broken)?;
    loop {
        let mut moved = false;
        if ready && next < steps.len() {
            client.from_local(steps[next], c_out).map_err(broken)?;
            next += 1;
            ready = false;
            moved = true;
        }
        if !c_out.peer.is_empty() {
            std::mem::swap(wire, &mut c_out.peer);
            server
                .from_peer(wire, &mut keys(s_cache, rng), s_out)
                .map_err(broken)?;
            wire.clear();
            moved = true;
        }
        if !s_out.local.is_empty() {
            mta.feed(&mut s_out.local, &mut replies);
            server
                .from_local(&replies, &mut keys(s_cache, rng), s_out)
                .map_err(broken)?;
            replies.clear();
            moved = true;
        }
        if !s_out.peer.is_empty() {
            std::mem::swap(wire, &mut s_out.peer);
            client
                .from_peer(wire, &mut keys(c_cache, rng), c_out)
                .map_err(broken)?;
            wire.clear();
            moved = true;
        }
        if !c_out.local.is_empty() {
            // A reply is complete at a line that is not a continuation ("250-").
            ready |= c_out
                .local
                .split(|&b| b == b'\n')
                .any(|l| l.len() > 3 && l[3] != b'-');
            c_out.local.clear();
            moved = true;
        }
        if !moved {
            break;
        }
    }
    let delivered = mta.delivered;
    *mta_buf = mta.buf;
    if client.version() != version || delivered + 3 != body.len() {
        return Err(Failure::Io(
            "session overhead run: the in-memory session did not deliver the message".into(),
        ));
    }
    Ok(black_box(delivered))
}

fn keys<'a, R: ?Sized>(cache: &'a mut KeyCache<4>, rng: &'a mut R) -> CachedKeys<'a, 4, R> {
    CachedKeys::new(cache, 0, rng)
}

/// A `MESSAGE`-byte body of mail-like lines, its final `.` line included.
pub fn body() -> Vec<u8> {
    let line = b"The quick brown fox jumps over the lazy dog, and then some more text.\r\n";
    let mut b = Vec::with_capacity(MESSAGE + 3);
    while b.len() + line.len() <= MESSAGE - 2 {
        b.extend_from_slice(line);
    }
    b.resize(MESSAGE - 2, b'x');
    b.extend_from_slice(b"\r\n.\r\n");
    b
}
