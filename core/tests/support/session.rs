//! An in-memory SMTP session through the two XCRYPT state machines:
//! local client (scripted) ↔ `Client` ↔ wire ↔ `Server` ↔ local MTA, with every hop
//! delivered in chunks of chosen sizes. The scripted client and the MTA are the shared
//! test peer of `ssmail-testkit`.
#![allow(dead_code, reason = "each test file uses part of the harness")]

use ssmail_core::kdf::NONCE_BYTES;
use ssmail_core::xcrypt::{
    CachedKeys, Client, Event, KeySource, KeyUnavailable, Server, SessionError, Sink, StaticKeys,
    Version,
};
use ssmail_core::{KeyCache, KeyPair, PublicKey, SharedSecret};

pub use crate::test_rng::TestRng;
pub use ssmail_testkit::mta::{Mta, Style};
pub use ssmail_testkit::script::Script;

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
    pub app: Script,
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
    pub fn new(client: &[Version], server: &[Version], app: Script, chunks: Chunks) -> Self {
        Self {
            client: Client::new(client),
            server: Server::new(server),
            app,
            mta: Mta::new(Style::mx()),
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
        self.mta.greeting()
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
        Some(cache) => Keys::Cached(CachedKeys::new(cache, now, rng)),
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
