//! One whole XCRYPT session in memory, as `ssmail_core`'s own tests run it but without an
//! allocator: a local client's commands → [`Client`] → wire → [`Server`] → a minimal
//! MTA, and the replies back, from the greeting and EHLO to an encrypted `MAIL FROM` and
//! its reply. Every check that fails ends in [`Failed`], naming the step.

use ssmail_core::KeyPair;
use ssmail_core::xcrypt::{Client, Event, Server, Sink, StaticKeys, Version};

use crate::inputs::Inputs;

const GREETING: &[u8] = b"220 mx.test ESMTP\r\n";
const EHLO: &[u8] = b"EHLO client.test\r\n";
const EHLO_REPLY: &[u8] = b"250-mx.test greets you\r\n250 8BITMIME\r\n";
const MAIL: &[u8] = b"MAIL FROM:<alice@client.test>\r\n";
const MAIL_REPLY: &[u8] = b"250 2.1.0 Ok\r\n";
/// Bytes a buffer of the session holds: the whole dialogue fits several times.
const CAP: usize = 512;

/// Which check of the session failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failed(pub &'static str);

/// Bytes appended in order, up to [`CAP`].
struct Buf {
    data: [u8; CAP],
    len: usize,
}

impl Buf {
    const fn new() -> Self {
        Self {
            data: [0; CAP],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        // The session is ours and short: more than CAP bytes is a bug here.
        assert!(end <= CAP, "exchange buffer full");
        self.data[self.len..end].copy_from_slice(bytes);
        self.len = end;
    }

    fn bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }

    /// Takes the bytes out (into `into`), leaving this empty.
    fn drain(&mut self, into: &mut Buf) -> bool {
        let moved = self.len > 0;
        into.len = 0;
        into.push(self.bytes());
        self.len = 0;
        moved
    }
}

/// What one state machine handed out.
struct Out {
    peer: Buf,
    local: Buf,
    encrypted: Option<Version>,
    fell_back: bool,
}

impl Out {
    const fn new() -> Self {
        Self {
            peer: Buf::new(),
            local: Buf::new(),
            encrypted: None,
            fell_back: false,
        }
    }
}

impl Sink for Out {
    fn to_peer(&mut self, bytes: &[u8]) {
        self.peer.push(bytes);
    }
    fn to_local(&mut self, bytes: &[u8]) {
        self.local.push(bytes);
    }
    fn event(&mut self, event: Event) {
        match event {
            Event::EncryptionOn(v) => self.encrypted = Some(v),
            Event::Plaintext(_) | Event::Refused { .. } => self.fell_back = true,
            _ => {}
        }
    }
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The session and everything that crossed each hop.
pub struct Session<'a> {
    version: Version,
    client: Client,
    server: Server,
    client_out: Out,
    server_out: Out,
    client_pair: &'a KeyPair,
    server_pair: &'a KeyPair,
    rng: &'a mut Inputs,
    /// Everything on the wire, each way.
    wire_c2s: Buf,
    wire_s2c: Buf,
    /// What the MTA received, and what the local client received.
    at_mta: Buf,
    at_app: Buf,
    /// One hop's bytes in transit.
    moving: Buf,
}

impl Session<'_> {
    fn client_from_local(&mut self, bytes: &[u8]) -> Result<(), Failed> {
        self.client
            .from_local(bytes, &mut self.client_out)
            .map_err(|_| Failed("client refused the local command"))
    }

    fn server_from_local(&mut self, bytes: &[u8]) -> Result<(), Failed> {
        let mut keys = StaticKeys::new(self.server_pair, &mut *self.rng);
        self.server
            .from_local(bytes, &mut keys, &mut self.server_out)
            .map_err(|_| Failed("server refused the MTA's reply"))
    }

    /// Moves bytes along every hop until nothing moves. The MTA answers each command line
    /// it receives (it knows EHLO and MAIL).
    fn settle(&mut self) -> Result<(), Failed> {
        for _ in 0..32 {
            let mut moved = false;
            if self.client_out.peer.drain(&mut self.moving) {
                moved = true;
                self.wire_c2s.push(self.moving.bytes());
                let mut keys = StaticKeys::new(self.server_pair, &mut *self.rng);
                self.server
                    .from_peer(self.moving.bytes(), &mut keys, &mut self.server_out)
                    .map_err(|_| Failed("server refused the client's bytes"))?;
            }
            if self.server_out.local.drain(&mut self.moving) {
                moved = true;
                self.at_mta.push(self.moving.bytes());
                let command = self.moving.bytes();
                let reply = if command.starts_with(b"EHLO ") {
                    EHLO_REPLY
                } else if command == MAIL {
                    MAIL_REPLY
                } else {
                    return Err(Failed("the MTA received a command it was not sent"));
                };
                self.server_from_local(reply)?;
            }
            if self.server_out.peer.drain(&mut self.moving) {
                moved = true;
                self.wire_s2c.push(self.moving.bytes());
                let mut keys = StaticKeys::new(self.client_pair, &mut *self.rng);
                self.client
                    .from_peer(self.moving.bytes(), &mut keys, &mut self.client_out)
                    .map_err(|_| Failed("client refused the server's bytes"))?;
            }
            if self.client_out.local.drain(&mut self.moving) {
                moved = true;
                self.at_app.push(self.moving.bytes());
            }
            if !moved {
                return Ok(());
            }
        }
        Err(Failed("the session did not settle"))
    }
}

/// A session in memory, not yet run: the client accepts `version` only, the server
/// offers both. Built apart from [`Session::run`] so that the stack measured for the run
/// does not count the two machines themselves, which a device keeps wherever it keeps
/// its connections (their sizes are printed on their own).
pub fn session<'a>(
    version: Version,
    client_pair: &'a KeyPair,
    server_pair: &'a KeyPair,
    rng: &'a mut Inputs,
) -> Session<'a> {
    Session {
        version,
        client: Client::new(&[version]),
        server: Server::new(&Version::ALL),
        client_out: Out::new(),
        server_out: Out::new(),
        client_pair,
        server_pair,
        rng,
        wire_c2s: Buf::new(),
        wire_s2c: Buf::new(),
        at_mta: Buf::new(),
        at_app: Buf::new(),
        moving: Buf::new(),
    }
}

impl Session<'_> {
    /// Runs the session, and checks that both sides turned encryption on with its
    /// version, and that the `MAIL FROM` line and its reply crossed the wire encrypted and
    /// arrived intact.
    ///
    /// # Errors
    /// The first check that failed.
    #[inline(never)]
    pub fn run(&mut self) -> Result<Version, Failed> {
        let s = self;
        let version = s.version;
        s.server_from_local(GREETING)?;
        s.settle()?;
        s.client_from_local(EHLO)?;
        s.settle()?;
        if s.client_out.fell_back || s.server_out.fell_back {
            return Err(Failed("a side fell back to plaintext"));
        }
        if s.client_out.encrypted != Some(version) || s.server_out.encrypted != Some(version) {
            return Err(Failed(
                "encryption is not on with this version on both sides",
            ));
        }
        // The local client saw the greeting and the EHLO reply, without the XCRYPT line.
        let app = s.at_app.bytes();
        if !app.starts_with(GREETING) || &app[GREETING.len()..] != EHLO_REPLY {
            return Err(Failed(
                "the local client did not get the greeting and EHLO reply",
            ));
        }
        // From here on, what crosses the wire is encrypted.
        let (c2s_from, s2c_from) = (s.wire_c2s.len, s.wire_s2c.len);
        s.at_mta.len = 0;
        s.at_app.len = 0;
        s.client_from_local(MAIL)?;
        s.settle()?;
        if s.at_mta.bytes() != MAIL || s.at_app.bytes() != MAIL_REPLY {
            return Err(Failed("MAIL FROM or its reply did not arrive intact"));
        }
        let c2s = &s.wire_c2s.bytes()[c2s_from..];
        let s2c = &s.wire_s2c.bytes()[s2c_from..];
        if c2s.len() != MAIL.len() || s2c.len() != MAIL_REPLY.len() {
            return Err(Failed(
                "the encrypted hop carried other bytes than the line",
            ));
        }
        // Needles long enough that ciphertext does not hold them by chance.
        if contains(c2s, b"alice@") || contains(s2c, b"2.1.0 Ok") {
            return Err(Failed("the wire shows plaintext after the switch"));
        }
        Ok(version)
    }
}
