//! One proxied session: the client's connection, the upstream's, and the XCRYPT state
//! machine between them, driven by one task that never blocks on either side (reads
//! and writes of both connections wait together, with backpressure).
//!
//! "Client" is always the connection the listener accepted, "upstream" the one the
//! gateway opened. Inbound, the client is the network peer (the server machine's peer)
//! and the upstream the local MTA; outbound, the client is the local MTA and the
//! upstream the far end (the client machine's peer).

use std::net::SocketAddr;
use std::time::Duration;

use ssmail_core::xcrypt::{Client, Event, Fallback, Server, SessionError, Sink};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until, timeout};

use crate::config::{Config, Mode, Route};
use crate::keys::{SessionKeys, SharedKeys};
use crate::log::{SessionRecord, Traffic};
use crate::outbox::{LineWatch, Outbox};

/// What the inbound gateway takes out of its MTA's EHLO replies: STARTTLS (the client
/// would start TLS with the MTA through us, and XCRYPT never starts inside TLS) and
/// PIPECONNECT (early pipelining: commands before the greeting, which the dialogue
/// cannot order). CHUNKING stays: BDAT chunks are counted and carried.
const HIDDEN: &[&str] = &["STARTTLS", "PIPECONNECT"];

/// Bytes read at a time from either side.
const READ_CHUNK: usize = 64 * 1024;
/// Above this many bytes waiting to be written to a side, the other side is not read.
const HIGH_WATER: usize = 1 << 20;
/// How long a closing session keeps reading (and discarding) what the client still
/// sends, so that closing does not reset the connection under data it has not read.
const DRAIN: Duration = Duration::from_secs(2);
/// Replies held for the client while a required exchange is decided, at most.
const HOLD_MAX: usize = 64 * 1024;

/// The greeting when the upstream cannot be reached: the sender keeps the mail.
pub const UPSTREAM_DOWN: &[u8] =
    b"421 4.4.1 ssmail gateway: upstream unavailable, try again later\r\n";
const UPSTREAM_LOST: &[u8] = b"421 4.4.2 ssmail gateway: upstream closed the connection\r\n";
const IDLE: &[u8] = b"421 4.4.2 ssmail gateway: timeout, closing\r\n";
const PROTOCOL: &[u8] = b"421 4.5.0 ssmail gateway: protocol violation, closing\r\n";
const REQUIRED: &[u8] =
    b"421 4.7.0 ssmail gateway: XCRYPT required for this route and not available, try again later\r\n";

/// Runs one session to its end and says what happened.
pub async fn run(
    client: TcpStream,
    peer: SocketAddr,
    route: &Route,
    settings: &Config,
    keys: &SharedKeys,
) -> SessionRecord {
    let started = Instant::now();
    let mut record = SessionRecord {
        mode: settings.mode,
        peer,
        upstream: route.upstream.clone(),
        suite: None,
        cache: None,
        fallback: None,
        traffic: Traffic::default(),
        ms: 0,
        result: String::new(),
    };
    let _ = client.set_nodelay(true);
    let connect = timeout(
        settings.timeouts.connect,
        TcpStream::connect(route.upstream.as_str()),
    )
    .await;
    let upstream = match connect.unwrap_or_else(|_| {
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connect timed out",
        ))
    }) {
        Ok(s) => s,
        Err(e) => {
            record.traffic.to_client = refuse(client, UPSTREAM_DOWN).await;
            record.result = format!("upstream unavailable: {e}");
            record.ms = elapsed_ms(started);
            return record;
        }
    };
    let _ = upstream.set_nodelay(true);
    let mut proxy = Proxy::new(settings, route, keys.session());
    proxy.drive(client, upstream, settings, started).await;
    record.suite = proxy.suite;
    record.cache = proxy.keys.lookup;
    record.fallback = proxy.fallback;
    record.traffic = proxy.traffic;
    record.result = proxy.result();
    record.ms = elapsed_ms(started);
    record
}

/// Answers a client we will not serve with one reply, then closes gently. Returns the
/// bytes written.
pub async fn refuse(mut client: TcpStream, reply: &[u8]) -> u64 {
    let wrote = timeout(Duration::from_secs(5), client.write_all(reply)).await;
    let _ = timeout(Duration::from_secs(1), client.shutdown()).await;
    // Read briefly what the client still sends, so that closing is a FIN and not a
    // reset that could destroy the reply before the client reads it.
    let mut sink = [0u8; 1024];
    let deadline = Instant::now() + DRAIN;
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, client.read(&mut sink)).await {
        if n == 0 {
            break;
        }
    }
    if matches!(wrote, Ok(Ok(()))) {
        reply.len() as u64
    } else {
        0
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The XCRYPT side this gateway plays.
enum Machine {
    In(Box<Server>),
    Out(Box<Client>),
}

/// Which connection bytes came from.
#[derive(Clone, Copy)]
enum From {
    Client,
    Upstream,
}

/// What a state machine produced in one call, sorted by connection.
struct Outputs {
    mode: Mode,
    client: Vec<u8>,
    upstream: Vec<u8>,
    events: Vec<Event>,
}

impl Sink for Outputs {
    fn to_peer(&mut self, bytes: &[u8]) {
        match self.mode {
            Mode::Inbound => self.client.extend_from_slice(bytes),
            Mode::Outbound => self.upstream.extend_from_slice(bytes),
        }
    }

    fn to_local(&mut self, bytes: &[u8]) {
        match self.mode {
            Mode::Inbound => self.upstream.extend_from_slice(bytes),
            Mode::Outbound => self.client.extend_from_slice(bytes),
        }
    }

    fn event(&mut self, event: Event) {
        self.events.push(event);
    }
}

/// Outbound with `require_xcrypt`: what reaches the local MTA until the exchange is
/// decided.
enum Gate {
    /// Everything passes (no requirement, or encryption is on).
    Open,
    /// XCRYPT is required and the client has not spoken yet: the greeting passes, and
    /// the client's first bytes must be an EHLO.
    AwaitEhlo,
    /// Replies are held: the local MTA hears nothing until encryption is on.
    Holding(Vec<u8>),
    /// Plaintext it would be: the local MTA got a 4xx, the session is ending.
    Refused,
}

/// Which side the session waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    Client,
    Upstream,
}

/// Why the session ended early, if it did.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ending {
    UpstreamLost,
    Timeout(Turn),
    SessionTooLong,
    Protocol(SessionError),
    XcryptRequired,
    ClientError(String),
    UpstreamError(String),
}

struct Proxy<'a> {
    machine: Machine,
    keys: SessionKeys<'a>,
    out: Outputs,
    to_client: Outbox,
    to_upstream: Outbox,
    gate: Gate,
    /// The plaintext reply stream (what the upstream MTA says, as the client gets it).
    replies: LineWatch,
    suite: Option<&'static str>,
    fallback: Option<Fallback>,
    traffic: Traffic,
    ending: Option<Ending>,
    client_eof: bool,
    upstream_eof: bool,
}

impl<'a> Proxy<'a> {
    fn new(settings: &Config, route: &Route, keys: SessionKeys<'a>) -> Self {
        let machine = match settings.mode {
            Mode::Inbound => Machine::In(Box::new(Server::new(&settings.versions).hiding(HIDDEN))),
            Mode::Outbound => Machine::Out(Box::new(Client::new(&settings.versions))),
        };
        Self {
            machine,
            keys,
            out: Outputs {
                mode: settings.mode,
                client: Vec::new(),
                upstream: Vec::new(),
                events: Vec::new(),
            },
            to_client: Outbox::default(),
            to_upstream: Outbox::default(),
            gate: if route.require_xcrypt && settings.mode == Mode::Outbound {
                Gate::AwaitEhlo
            } else {
                Gate::Open
            },
            replies: LineWatch::default(),
            suite: None,
            fallback: None,
            traffic: Traffic::default(),
            ending: None,
            client_eof: false,
            upstream_eof: false,
        }
    }

    /// The loop: read both sides, feed the machine, write what it produced.
    // `tokio::select!` expands to a `%` (its branch rotation); no secret comes near it.
    #[allow(clippy::integer_division_remainder_used)]
    async fn drive(
        &mut self,
        mut client: TcpStream,
        mut upstream: TcpStream,
        settings: &Config,
        started: Instant,
    ) {
        let (mut cr, mut cw) = client.split();
        let (mut ur, mut uw) = upstream.split();
        // Filled by `read_buf` into spare capacity: no zeroing of 64 KiB per session.
        let mut cbuf = Vec::with_capacity(READ_CHUNK);
        let mut ubuf = Vec::with_capacity(READ_CHUNK);
        let session_end = started + settings.timeouts.session;
        // Whose turn it is, from the direction of the last bytes read: the upstream's
        // (a command or the connection waits for its reply) or the client's.
        let mut turn = Turn::Upstream;
        let limit = |turn: Turn| match turn {
            Turn::Client => settings.timeouts.client_idle,
            Turn::Upstream => settings.timeouts.upstream_idle,
        };
        let mut idle_end = Instant::now() + limit(turn);
        // Once ending: until when the client is still read (and ignored).
        let mut drain_end: Option<Instant> = None;
        let mut client_writable = true;
        let mut client_shut = false;
        let mut upstream_writable = true;
        let mut upstream_shut = false;
        loop {
            let ending = self.ending.is_some() || self.upstream_eof;
            if ending && drain_end.is_none() {
                if self.upstream_eof {
                    self.upstream_gone();
                }
                drain_end = Some(Instant::now() + DRAIN);
                // Nothing more goes upstream.
                self.to_upstream.clear();
            }
            if ending && client_writable && !client_shut && self.to_client.is_empty() {
                let _ = cw.shutdown().await;
                client_shut = true;
            }
            if ending && (client_shut || !client_writable) && (self.client_eof || !client_writable)
            {
                break;
            }
            if self.client_eof
                && !ending
                && upstream_writable
                && !upstream_shut
                && self.to_upstream.is_empty()
            {
                // The client is done sending: pass the half-close on, and keep reading
                // the upstream's replies until it closes.
                let _ = uw.shutdown().await;
                upstream_shut = true;
            }
            let wake = match drain_end {
                Some(d) => d,
                None => idle_end.min(session_end),
            };
            let read_client = !self.client_eof && (ending || self.to_upstream.len() < HIGH_WATER);
            let read_upstream = !ending && !self.upstream_eof && self.to_client.len() < HIGH_WATER;
            let write_client = client_writable && !self.to_client.is_empty();
            let write_upstream = !ending && upstream_writable && !self.to_upstream.is_empty();
            // Biased, writes first: what is queued goes out before more is read.
            tokio::select! {
                biased;
                r = cw.write(self.to_client.pending()), if write_client => match r {
                    Ok(n) => {
                        self.to_client.consume(n);
                        self.traffic.to_client += n as u64;
                        idle_end = Instant::now() + limit(turn);
                    }
                    Err(e) => {
                        client_writable = false;
                        self.to_client.clear();
                        self.ending.get_or_insert(Ending::ClientError(e.to_string()));
                    }
                },
                r = uw.write(self.to_upstream.pending()), if write_upstream => match r {
                    Ok(n) => {
                        self.to_upstream.consume(n);
                        self.traffic.to_upstream += n as u64;
                        idle_end = Instant::now() + limit(turn);
                    }
                    Err(e) => {
                        upstream_writable = false;
                        self.to_upstream.clear();
                        self.ending.get_or_insert(Ending::UpstreamError(e.to_string()));
                    }
                },
                r = cr.read_buf(&mut cbuf), if read_client => match r {
                    Ok(0) => self.client_eof = true,
                    Ok(n) => {
                        self.traffic.from_client += n as u64;
                        turn = Turn::Upstream;
                        idle_end = Instant::now() + limit(turn);
                        if !ending {
                            self.client_bytes(&cbuf[..n]);
                        }
                        cbuf.clear();
                    }
                    Err(e) => {
                        self.client_eof = true;
                        client_writable = false;
                        if !ending {
                            self.ending = Some(Ending::ClientError(e.to_string()));
                        }
                    }
                },
                r = ur.read_buf(&mut ubuf), if read_upstream => match r {
                    Ok(0) => self.upstream_eof = true,
                    Ok(n) => {
                        self.traffic.from_upstream += n as u64;
                        turn = Turn::Client;
                        idle_end = Instant::now() + limit(turn);
                        self.upstream_bytes(&ubuf[..n]);
                        ubuf.clear();
                    }
                    Err(e) => {
                        self.upstream_eof = true;
                        self.ending.get_or_insert(Ending::UpstreamError(e.to_string()));
                    }
                },
                () = sleep_until(wake) => {
                    if drain_end.is_some() {
                        break;
                    }
                    self.ending = Some(if Instant::now() >= session_end {
                        Ending::SessionTooLong
                    } else {
                        Ending::Timeout(turn)
                    });
                    // With the client gone already, there is nobody to tell.
                    if !self.client_eof {
                        self.say_to_client(IDLE);
                    }
                }
            }
        }
    }

    /// Bytes from the client.
    fn client_bytes(&mut self, bytes: &[u8]) {
        if matches!(self.gate, Gate::AwaitEhlo) {
            // Only EHLO can lead to XCRYPT: anything else is answered at once.
            let n = bytes.len().min(5);
            if !bytes[..n].eq_ignore_ascii_case(&b"EHLO "[..n]) {
                self.refuse_plaintext();
                return;
            }
            self.gate = Gate::Holding(Vec::new());
        }
        self.feed(From::Client, bytes);
    }

    /// Bytes from the upstream.
    fn upstream_bytes(&mut self, bytes: &[u8]) {
        if self.out.mode == Mode::Inbound {
            self.replies.feed(bytes);
        }
        self.feed(From::Upstream, bytes);
    }

    fn feed(&mut self, from: From, bytes: &[u8]) {
        let keys = &mut self.keys;
        let out = &mut self.out;
        let r = match (&mut self.machine, from) {
            (Machine::In(s), From::Client) => s.from_peer(bytes, keys, out),
            (Machine::In(s), From::Upstream) => s.from_local(bytes, keys, out),
            (Machine::Out(c), From::Client) => c.from_local(bytes, out),
            (Machine::Out(c), From::Upstream) => c.from_peer(bytes, keys, out),
        };
        self.route_outputs();
        if let Err(e) = r {
            if self.ending.is_none() {
                self.ending = Some(Ending::Protocol(e));
                self.say_to_client(PROTOCOL);
            }
        }
    }

    /// Sorts what the machine produced: events first (they may open or shut the gate),
    /// then the bytes for each side.
    fn route_outputs(&mut self) {
        for event in std::mem::take(&mut self.out.events) {
            match event {
                Event::EncryptionOn(v) => {
                    self.suite = Some(v.as_str());
                    if let Gate::Holding(held) = std::mem::replace(&mut self.gate, Gate::Open) {
                        self.to_client.push(&held);
                    }
                }
                Event::Plaintext(f) => {
                    self.fallback = Some(f);
                    if matches!(self.gate, Gate::Holding(_)) {
                        self.refuse_plaintext();
                    }
                }
                Event::Refused { code } if self.fallback.is_none() => {
                    self.fallback = Some(Fallback::Refused { code });
                }
                _ => {}
            }
        }
        if self.ending.is_none() {
            self.to_upstream.push(&self.out.upstream);
        }
        self.out.upstream.clear();
        let down = std::mem::take(&mut self.out.client);
        if self.out.mode == Mode::Outbound {
            self.replies.feed(&down);
        }
        match &mut self.gate {
            Gate::Open | Gate::AwaitEhlo => self.to_client.push(&down),
            Gate::Holding(held) => {
                held.extend_from_slice(&down);
                if held.len() > HOLD_MAX {
                    self.refuse_plaintext();
                }
            }
            Gate::Refused => {}
        }
        self.out.client = down;
        self.out.client.clear();
    }

    /// A required exchange will not happen: the local MTA hears a 4xx instead of the
    /// EHLO reply, and nothing more goes to the far end.
    fn refuse_plaintext(&mut self) {
        self.gate = Gate::Refused;
        self.to_client.push(REQUIRED);
        self.to_upstream.clear();
        self.ending.get_or_insert(Ending::XcryptRequired);
    }

    /// The upstream closed: a client waiting for a reply hears a 4xx, unless the last
    /// reply already ended the session (221 after QUIT, or the MTA's own 421).
    fn upstream_gone(&mut self) {
        let closed_by_reply = matches!(self.replies.last_code(), Some(221 | 421));
        if !closed_by_reply && !self.client_eof {
            self.ending.get_or_insert(Ending::UpstreamLost);
            self.say_to_client(UPSTREAM_LOST);
        }
    }

    /// A reply of the gateway's own for the client, between the upstream's replies.
    /// Callers set `ending` first: nothing more goes upstream.
    fn say_to_client(&mut self, reply: &[u8]) {
        if !self.replies.at_line_start() {
            // Halfway through an upstream reply line: anything added would garble it.
            return;
        }
        match self.out.mode {
            // As if the MTA had said it: through the server machine, encrypted if
            // encryption is on.
            Mode::Inbound => self.upstream_bytes(reply),
            // The local MTA always gets plaintext.
            Mode::Outbound => {
                self.replies.feed(reply);
                self.to_client.push(reply);
            }
        }
    }

    /// Whether the SMTP client sent `QUIT`, as the state machine's framer saw its command
    /// lines (a body line reading `QUIT` does not count).
    fn quit_sent(&self) -> bool {
        match &self.machine {
            Machine::In(s) => s.quit_sent(),
            Machine::Out(c) => c.quit_sent(),
        }
    }

    /// The session's result for the log.
    fn result(&self) -> String {
        match &self.ending {
            None if self.replies.last_code() == Some(221) || self.quit_sent() => "ok".into(),
            None if self.client_eof => "client closed the connection before QUIT".into(),
            None => "upstream closed the connection".into(),
            Some(Ending::UpstreamLost) => "upstream closed the connection mid-session".into(),
            Some(Ending::Timeout(Turn::Client)) => "timeout waiting for the client".into(),
            Some(Ending::Timeout(Turn::Upstream)) => "timeout waiting for the upstream".into(),
            Some(Ending::SessionTooLong) => "session time limit reached".into(),
            Some(Ending::Protocol(e)) => format!("protocol violation: {e}"),
            Some(Ending::XcryptRequired) => match self.fallback {
                Some(f) => format!(
                    "refused: XCRYPT required, far end fell back ({})",
                    crate::log::fallback_name(f)
                ),
                None => "refused: XCRYPT required, client did not start with EHLO".into(),
            },
            // Sent QUIT and hung up without reading the 221 (Postfix does): a normal end.
            Some(Ending::ClientError(_)) if self.quit_sent() => "ok".into(),
            Some(Ending::ClientError(e)) => format!("client connection failed: {e}"),
            Some(Ending::UpstreamError(e)) => format!("upstream connection failed: {e}"),
        }
    }
}
