//! One proxied session: the client's connection, the upstream's, and the XCRYPT state
//! machine between them, driven by one task that never blocks on either side (reads
//! and writes of both connections wait together, with backpressure).
//!
//! "Client" is always the connection the listener accepted, "upstream" the one the
//! gateway opened. Inbound, the client is the network peer (the server machine's peer)
//! and the upstream the local MTA; outbound, the client is the local MTA and the
//! upstream the far end (the client machine's peer).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ssmail_core::PublicKey;
use ssmail_core::cache::detached::Detached;
use ssmail_core::xcrypt::{
    Client, Command, Event, Fallback, KeySource as _, LINE_MAX, Reply, Server, SessionError, Sink,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep_until, timeout};

use crate::config::{Config, Mode, Route};
use crate::dh::{DhPool, Full};
use crate::flights::{Flights, Joined, Outcome, follow};
use crate::keys::{SessionKeys, SharedKeys};
use crate::limits::{Limiter, Refusal};
use crate::lines::CommandLines;
use crate::log::{SessionRecord, Traffic};
use crate::metrics::Metrics;
use crate::outbox::{LineWatch, Outbox};
use crate::refusals::RefusalLog;

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
const PROTOCOL: &[u8] = b"421 4.5.0 ssmail gateway: protocol violation, closing\r\n";
const REQUIRED: &[u8] =
    b"421 4.7.0 ssmail gateway: XCRYPT required for this route and not available, try again later\r\n";

/// What every session of the process shares: the settings, the key cache and its DH
/// pool, the session slots, the per-client counts and the refusal log.
pub struct Shared {
    /// The settings.
    pub settings: Arc<Config>,
    /// The key cache.
    pub keys: Arc<SharedKeys>,
    /// One permit per session that may run.
    pub slots: Arc<Semaphore>,
    /// Per-client counts.
    pub limiter: Mutex<Limiter>,
    /// The refusal log.
    pub refusals: RefusalLog,
    /// Where key-cache misses are computed.
    pub dh: DhPool,
    /// The gateway's metrics.
    pub metrics: Metrics,
    /// Misses being computed, so that a burst of one new peer key costs one.
    pub flights: Arc<Flights>,
}

/// A session counted against its client's limits; counted out when dropped.
pub struct Admitted {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.shared.limiter().end(self.ip);
    }
}

impl Shared {
    /// The shared state of a gateway started with `settings` (the limiter, the DH pool
    /// and the stress threshold keep these; each session reads the rest of the config of
    /// its moment).
    pub fn new(
        settings: Arc<Config>,
        keys: Arc<SharedKeys>,
        slots: Arc<Semaphore>,
        metrics: Metrics,
    ) -> Self {
        let h = settings.hardening;
        Self {
            limiter: Mutex::new(Limiter::new(settings.clients.clone())),
            refusals: RefusalLog::new(settings.log_format, metrics.clone()),
            dh: DhPool::new(h.dh_threads, h.dh_queue, h.dh_batch),
            metrics,
            flights: Arc::new(Flights::default()),
            settings,
            keys,
            slots,
        }
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, Limiter> {
        // The counts stay usable after a panic elsewhere: at worst one is off by one.
        self.limiter.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a new session of `peer`, or says why it is refused.
    pub fn admit(self: &Arc<Self>, peer: SocketAddr) -> Result<Admitted, Refusal> {
        self.limiter().begin(peer.ip(), Instant::now().into_std())?;
        Ok(Admitted {
            shared: Arc::clone(self),
            ip: peer.ip(),
        })
    }

    /// Refuses a client at once: logged, answered, closed (in a task of its own).
    pub fn refuse(&self, socket: TcpStream, peer: SocketAddr, why: Refusal) {
        self.refusals.refused(why, peer);
        tokio::spawn(refuse(socket, why.reply()));
    }

    /// Whether most session slots are in use (`limits.stress_percent`).
    fn stressed(&self) -> bool {
        let max = self.settings.max_sessions;
        let used = max.saturating_sub(self.slots.available_permits());
        used.saturating_mul(100)
            >= max.saturating_mul(self.settings.hardening.stress_percent as usize)
    }
}

/// Runs one session to its end, with the config `settings` (the one of the moment it
/// was accepted: a reload does not change a running session), and says what happened.
pub async fn run(
    client: TcpStream,
    peer: SocketAddr,
    route: &Route,
    shared: &Shared,
    config: &Arc<Config>,
) -> SessionRecord {
    let settings = &**config;
    let keys = &*shared.keys;
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
    let mut proxy = Proxy::new(shared, Arc::clone(config), peer, route, keys.session());
    proxy.drive(client, upstream, started).await;
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
    /// Cut by a limit or a defence of the gateway's.
    Refused(Refusal),
}

struct Proxy<'a> {
    shared: &'a Shared,
    /// This session's config.
    settings: Arc<Config>,
    peer: SocketAddr,
    /// Inbound: the client's command lines as they go to the MTA.
    guard: Option<CommandLines>,
    /// Records the guard completed so far (for the per-record deadline).
    records: usize,
    /// Errors so far (over-long lines).
    errors: u32,
    /// A defence that must end the session, found while feeding.
    cut_pending: Option<Refusal>,
    /// Inbound, before encryption: the client's command lines, for the `XCRYPT` ones
    /// (their keys are computed before the state machine needs them).
    scan: LineScan,
    /// Outbound, while our `XCRYPT` waits for its reply: the upstream's reply lines,
    /// for the server's key (computed in the pool, as inbound).
    reply_scan: LineScan,
    /// The scan saw an `EHLO` (and no `HELO` since): only then may `XCRYPT` be accepted
    /// (docs/xcrypt.md §4.3), and only then is a key computed ahead.
    scan_ehlo: bool,
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
    fn new(
        shared: &'a Shared,
        config: Arc<Config>,
        peer: SocketAddr,
        route: &Route,
        keys: SessionKeys<'a>,
    ) -> Self {
        let settings = &*config;
        let machine = match settings.mode {
            Mode::Inbound => Machine::In(Box::new(Server::new(&settings.versions).hiding(HIDDEN))),
            Mode::Outbound => Machine::Out(Box::new(Client::new(&settings.versions))),
        };
        Self {
            shared,
            settings: Arc::clone(&config),
            peer,
            guard: (settings.mode == Mode::Inbound)
                .then(|| CommandLines::new(settings.hardening.line_length)),
            records: 0,
            errors: 0,
            cut_pending: None,
            scan: LineScan::default(),
            reply_scan: LineScan::default(),
            scan_ehlo: false,
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
    async fn drive(&mut self, mut client: TcpStream, mut upstream: TcpStream, started: Instant) {
        let shared = self.shared;
        let config = Arc::clone(&self.settings);
        let settings = &*config;
        let hard = settings.hardening;
        let (mut cr, mut cw) = client.split();
        let (mut ur, mut uw) = upstream.split();
        // Filled by `read_buf` into spare capacity: no zeroing of 64 KiB per session.
        let mut cbuf = Vec::with_capacity(READ_CHUNK);
        let mut ubuf = Vec::with_capacity(READ_CHUNK);
        let session_end = started + settings.timeouts.session;
        // Whose turn it is, from the direction of the last bytes read: the upstream's
        // (a command or the connection waits for its reply) or the client's.
        let mut turn = Turn::Upstream;
        // Under stress the client's time shrinks (read again at every wake-up, so it
        // applies to the sessions already waiting).
        let limit = |turn: Turn| match turn {
            Turn::Client if shared.stressed() => {
                settings.timeouts.client_idle.min(hard.stress_idle)
            }
            Turn::Client => settings.timeouts.client_idle,
            Turn::Upstream => settings.timeouts.upstream_idle,
        };
        let line_limit = || {
            if shared.stressed() {
                hard.line_deadline.min(hard.stress_idle)
            } else {
                hard.line_deadline
            }
        };
        let mut last_active = Instant::now();
        // When the client's partial command line (or body record) must be complete.
        let mut line_deadline: Option<Instant> = None;
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
                None => {
                    let idle_end = (last_active + limit(turn)).min(session_end);
                    // Woken at least every `stress_idle`: stress that began meanwhile
                    // shortens this session's wait too.
                    let recheck = Instant::now() + hard.stress_idle;
                    line_deadline
                        .map_or(idle_end, |d| d.min(idle_end))
                        .min(recheck)
                }
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
                        last_active = Instant::now();
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
                        last_active = Instant::now();
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
                        last_active = Instant::now();
                        if !ending {
                            let before = self.records;
                            self.client_bytes(&cbuf[..n]).await;
                            self.settle();
                            if self.guard.is_some() {
                                // The deadline is the current record's: it starts again
                                // whenever one completes.
                                let progressed = self.records > before;
                                let whole = progressed
                                    && self.at_record_start()
                                    && (self.encrypted() || cbuf[..n].ends_with(b"\n"));
                                if whole {
                                    line_deadline = None;
                                } else if progressed || line_deadline.is_none() {
                                    line_deadline = Some(Instant::now() + line_limit());
                                }
                            }
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
                        last_active = Instant::now();
                        let before = self.records;
                        self.upstream_bytes(&ubuf[..n]).await;
                        self.settle();
                        // Client input held by the state machine until this reply may
                        // have completed a line.
                        if self.records > before {
                            line_deadline = if self.at_record_start() {
                                None
                            } else {
                                Some(Instant::now() + line_limit())
                            };
                        }
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
                    let now = Instant::now();
                    let ending = if now >= session_end {
                        Ending::SessionTooLong
                    } else if line_deadline.is_some_and(|d| now >= d) {
                        Ending::Refused(Refusal::LineDeadline)
                    } else if now >= last_active + limit(turn) {
                        Ending::Timeout(turn)
                    } else {
                        // Woken early (stress passed): wait again.
                        continue;
                    };
                    let refusal = match ending {
                        Ending::Refused(r) => Some(r),
                        Ending::Timeout(Turn::Client) => Some(Refusal::IdleTimeout),
                        _ => None,
                    };
                    if let Some(r) = refusal {
                        shared.refusals.refused(r, self.peer);
                    }
                    let reply = refusal.unwrap_or(Refusal::IdleTimeout).reply();
                    self.ending = Some(ending);
                    // With the client gone already, there is nobody to tell.
                    if !self.client_eof {
                        self.say_to_client(reply);
                    }
                }
            }
        }
    }

    /// Bytes from the client.
    async fn client_bytes(&mut self, bytes: &[u8]) {
        if matches!(self.gate, Gate::AwaitEhlo) {
            // Only EHLO can lead to XCRYPT: anything else is answered at once.
            let n = bytes.len().min(5);
            if !bytes[..n].eq_ignore_ascii_case(&b"EHLO "[..n]) {
                self.refuse_plaintext();
                return;
            }
            self.gate = Gate::Holding(Vec::new());
        }
        if self.guard.is_some() && !self.encrypted() {
            for key in self.xcrypt_keys(bytes) {
                // The key the machine will answer with; if this fails, so will the
                // machine's own call, and it answers for it.
                let Ok(own) = self.keys.own_public_key() else {
                    break;
                };
                if !self.prepare_key(own, key).await {
                    return;
                }
            }
        }
        self.feed(From::Client, bytes);
    }

    /// The peer keys of the `XCRYPT` command lines that `bytes` completes.
    fn xcrypt_keys(&mut self, bytes: &[u8]) -> Vec<PublicKey> {
        let mut keys = Vec::new();
        let (ehlo, versions) = (&mut self.scan_ehlo, &self.settings.versions);
        self.scan.push(bytes, |line| {
            let word = line.get(..5).unwrap_or_default();
            if word.eq_ignore_ascii_case(b"EHLO ") || word.eq_ignore_ascii_case(b"HELO ") {
                *ehlo = word[0].eq_ignore_ascii_case(&b'E');
            }
            // Only what the machine would take up: after EHLO, a version we offer
            // (anything else is refused without a key being needed).
            if let Some(Ok(Command::Start { key, version, .. })) = Command::parse(line) {
                if *ehlo && versions.contains(&version) {
                    keys.push(key);
                }
            }
        });
        keys
    }

    /// Makes the shared secret of `own` with `peer` ready before the state machine asks
    /// for it: a hit is left to the machine; a miss is computed in the DH pool (inbound,
    /// counted against the client's new-key limit), or, with the pool full, marked to be
    /// refused (inbound: 454; outbound: `XCRYPT FAIL`). `false` if the session must end.
    async fn prepare_key(&mut self, own: PublicKey, peer: PublicKey) -> bool {
        let Some(Detached::Miss(job)) = self.shared.keys.lookup(&own, &peer) else {
            return true;
        };
        let leader = match self.shared.flights.join(&own, &peer) {
            Joined::Leader(leader) => leader,
            // Another session is computing this very secret: wait for it rather than
            // take a second place in the pool (or count a new key against the client).
            Joined::Follower(rx) => {
                match follow(rx).await {
                    Outcome::Refused => self.keys.refuse_miss = Some(peer),
                    // Cached: the machine's lookup hits. Lost: it computes for itself.
                    Outcome::Cached | Outcome::Lost | Outcome::Pending => {}
                }
                return true;
            }
        };
        // Outbound, the key is the remote server's, not the local client's doing.
        let new_key = match self.out.mode {
            Mode::Inbound => self
                .shared
                .limiter()
                .new_key(self.peer.ip(), Instant::now().into_std()),
            Mode::Outbound => Ok(()),
        };
        if let Err(why) = new_key {
            // The followers, if any, are on their own (`Lost`): their clients may be
            // within their limits.
            drop(leader);
            self.cut(why);
            return false;
        }
        let m = &self.shared.metrics;
        let started = std::time::Instant::now();
        let result = match self.shared.dh.submit(job) {
            Ok(admitted) => {
                m.dh_queued(self.shared.dh.depth());
                let computed = admitted.wait().await;
                m.dh_queued(self.shared.dh.depth());
                Ok(computed)
            }
            Err(full) => Err(full),
        };
        match result {
            Ok(Some(computed)) => {
                m.dh_done(started.elapsed());
                // Into the cache before the followers are told, so that they hit.
                self.shared.keys.store(&computed);
                leader.finish(Outcome::Cached);
                self.keys.computed = Some((own, peer, computed));
            }
            // Lost (the runtime is ending): the machine computes it if it gets that far.
            Ok(None) => leader.finish(Outcome::Lost),
            Err(Full) => {
                self.shared
                    .refusals
                    .refused(Refusal::DhQueueFull, self.peer);
                self.keys.refuse_miss = Some(peer);
                leader.finish(Outcome::Refused);
            }
        }
        true
    }

    /// Ends the session for `why`: logged, and the client told.
    fn cut(&mut self, why: Refusal) {
        if self.ending.is_some() {
            return;
        }
        self.shared.refusals.refused(why, self.peer);
        self.ending = Some(Ending::Refused(why));
        if !self.client_eof {
            self.say_to_client(why.reply());
        }
    }

    /// After input was fed: a defence that must end the session does so, and the 500s
    /// owed for over-long lines are given in their turn (or 421 at the error limit).
    fn settle(&mut self) {
        if let Some(why) = self.cut_pending.take() {
            self.cut(why);
            return;
        }
        while self.ending.is_none() && self.guard.as_ref().is_some_and(CommandLines::reply_due) {
            if self.errors >= self.settings.hardening.hard_error_limit {
                self.cut(Refusal::TooManyErrors);
                return;
            }
            self.machine_reply(Refusal::LineTooLong.reply());
            let held = self
                .guard
                .as_mut()
                .map(CommandLines::replied)
                .unwrap_or_default();
            if !held.is_empty() {
                self.guarded(&held);
                if let Some(why) = self.cut_pending.take() {
                    self.cut(why);
                }
            }
        }
    }

    /// Passes client bytes for the MTA through the guard (inbound) to the upstream.
    fn guarded(&mut self, bytes: &[u8]) {
        let last = self.replies.last_code();
        let Some(guard) = &mut self.guard else {
            self.to_upstream.push(bytes);
            return;
        };
        let mut pass = Vec::new();
        let p = guard.push(bytes, last, &mut pass);
        self.to_upstream.push(&pass);
        self.records += p.records;
        if p.too_long > 0 {
            self.errors = self
                .errors
                .saturating_add(u32::try_from(p.too_long).unwrap_or(u32::MAX));
            self.shared
                .refusals
                .refused(Refusal::LineTooLong, self.peer);
        }
        if p.runaway {
            self.cut_pending.get_or_insert(Refusal::LineRunaway);
        }
    }

    /// Whether the guard stands between records (always, outbound).
    fn at_record_start(&self) -> bool {
        self.guard
            .as_ref()
            .is_none_or(CommandLines::at_record_start)
    }

    /// Whether encryption is on.
    fn encrypted(&self) -> bool {
        match &self.machine {
            Machine::In(s) => s.version().is_some(),
            Machine::Out(c) => c.version().is_some(),
        }
    }

    /// Bytes from the upstream.
    async fn upstream_bytes(&mut self, bytes: &[u8]) {
        if let Some(guard) = &mut self.guard {
            guard.replies(bytes);
        }
        if let Machine::Out(client) = &self.machine {
            if let Some(own) = client.awaiting_key() {
                let mut keys = Vec::new();
                self.reply_scan.push(bytes, |line| {
                    if let Ok(Reply::Accept { key, .. }) = Reply::parse(line) {
                        keys.push(key);
                    }
                });
                // One reply is awaited: a server sending more gets one computation.
                if let Some(&key) = keys.first() {
                    if !self.prepare_key(own, key).await {
                        return;
                    }
                }
            } else {
                self.reply_scan = LineScan::default();
            }
        }
        self.machine_reply(bytes);
    }

    /// Reply bytes into the state machine, from the MTA or as if from it.
    fn machine_reply(&mut self, bytes: &[u8]) {
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
            let up = std::mem::take(&mut self.out.upstream);
            self.guarded(&up);
            self.out.upstream = up;
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
            Mode::Inbound => self.machine_reply(reply),
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
            Some(Ending::Refused(why)) => format!("refused: {}", why.name()),
        }
    }
}

/// Splits a byte stream into lines for a look at each (the bytes themselves go on
/// unchanged); a line longer than [`LINE_MAX`] cannot be an XCRYPT command or reply and
/// is skipped to its end.
#[derive(Debug, Default)]
struct LineScan {
    line: Vec<u8>,
    /// The current line is too long: skipped to its end.
    skip: bool,
}

impl LineScan {
    /// Calls `each` with every line (LF included) that `bytes` completes.
    fn push(&mut self, mut bytes: &[u8], mut each: impl FnMut(&[u8])) {
        while !bytes.is_empty() {
            let (part, ends) = match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => (&bytes[..=i], true),
                None => (bytes, false),
            };
            bytes = &bytes[part.len()..];
            if !self.skip {
                if self.line.len() + part.len() > LINE_MAX {
                    self.skip = true;
                    self.line = Vec::new();
                } else {
                    self.line.extend_from_slice(part);
                }
            }
            if ends {
                if !self.skip {
                    each(&self.line);
                }
                self.line.clear();
                self.skip = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Options;

    #[test]
    fn the_line_scan_sees_whole_lines_across_reads_and_skips_long_ones() {
        let mut scan = LineScan::default();
        let mut seen: Vec<Vec<u8>> = Vec::new();
        let long = vec![b'x'; LINE_MAX + 1];
        let input = [
            &b"250 XCRYPT "[..],
            b"k n\r\n2",
            b"50 OK\r\n",
            &long,
            b"y\r\n",
            b"\n",
        ];
        for piece in input {
            scan.push(piece, |line| seen.push(line.to_vec()));
        }
        assert_eq!(
            seen,
            [&b"250 XCRYPT k n\r\n"[..], b"250 OK\r\n", b"\n"].map(<[u8]>::to_vec)
        );
    }

    #[test]
    fn stress_begins_at_the_configured_share_of_slots() {
        let options = Options {
            listen: Some("127.0.0.1:1".into()),
            upstream: Some("127.0.0.1:2".into()),
            ..Options::new(Mode::Inbound)
        };
        let config = Config::from_toml(
            &options,
            "[limits]\nmax_sessions = 10\nstress_percent = 80\n",
        )
        .expect("valid");
        let (keys, _) = SharedKeys::new(100, None);
        let slots = Arc::new(Semaphore::new(10));
        let shared = Shared::new(
            Arc::new(config),
            Arc::new(keys),
            Arc::clone(&slots),
            Metrics::new(),
        );
        let seven = slots.try_acquire_many(7).expect("free");
        assert!(!shared.stressed());
        let eighth = slots.try_acquire().expect("free");
        assert!(shared.stressed());
        drop((seven, eighth));
        assert!(!shared.stressed());
    }
}
