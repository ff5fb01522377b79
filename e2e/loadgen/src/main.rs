//! `smtp_load`: the load test of the `ssmail gateway` pair (and of anything else that speaks
//! SMTP on one side and delivers to an SMTP server on the other).
//!
//! This crate (`ssmail-loadgen`, test tooling, never published) holds the load generator
//! only. Its SMTP server and reply reader are the shared test peer of `ssmail-testkit`; it
//! may import that, tokio, clap, serde and sha2, and no product crate: it measures the
//! gateway from outside, as `e2e/load.sh` runs it.
//!
//! One process holds both ends of the measurement:
//!
//! - a fast in-memory SMTP **sink** (`--sink-listen ADDR`, the testkit's MTA): a 220
//!   banner, EHLO with PIPELINING, 8BITMIME and SIZE, MAIL/RCPT/DATA/RSET/NOOP/QUIT; it
//!   dot-unstuffs every
//!   message and records, under the id in its `X-Load-Id` header, how often it arrived, its
//!   SHA-256 and its envelope;
//! - a **sender** (`--send-to ADDR`): `--messages` unique messages over `--concurrency`
//!   concurrent sessions, `--per-session` messages per session, MAIL/RCPT/DATA pipelined when
//!   the server offers PIPELINING, every reply checked.
//!
//! With both, the run ends with a check that every message was delivered exactly once and
//! byte-identical to what was sent, and a summary (`--json` for a JSON object on stdout). The
//! exit status is 1 on any loss, duplicate, mismatch or failed reply.
//!
//! `--forward LISTEN=UPSTREAM` (repeatable) instead runs a plain TCP forwarder until SIGINT or
//! SIGTERM: a stand-in for a proxy hop that does nothing but copy bytes.
//!
//! CPU time is read from `/proc/self/stat` and `/proc/self/task/*/stat` (Linux; clock ticks
//! of 1/100 s): the sink runs on its own runtime whose threads are named `sink`, so its share
//! is reported apart from the sender's.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

/// The command line.
#[derive(Parser, Debug)]
#[command(
    name = "smtp_load",
    about = "SMTP load generator and in-memory sink for the ssmail gateway pair"
)]
struct Args {
    /// Run the in-memory SMTP sink on this address.
    #[arg(long, value_name = "ADDR")]
    sink_listen: Option<SocketAddr>,
    /// Send the messages to this SMTP server (the sink itself, or a proxy in front of it).
    #[arg(long, value_name = "ADDR")]
    send_to: Option<SocketAddr>,
    /// How many messages to send.
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// How many sessions run at once.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Approximate size of each message in bytes (headers and dot lines included).
    #[arg(long, default_value_t = 2048)]
    size: usize,
    /// Messages per SMTP session (1: a session per message).
    #[arg(long, default_value_t = 1)]
    per_session: usize,
    /// Print the summary as a JSON object on stdout (the text summary goes to stderr).
    #[arg(long)]
    json: bool,
    /// A name for this run, copied into the summary.
    #[arg(long, default_value = "")]
    label: String,
    /// Never pipeline, even when the server offers PIPELINING.
    #[arg(long)]
    no_pipelining: bool,
    /// When pipelining, send a message's content together with the next message's
    /// MAIL/RCPT/DATA (or the QUIT) in one write (RFC 2920 allows content first in a group).
    #[arg(long)]
    pipeline_across: bool,
    /// The sink does not offer PIPELINING.
    #[arg(long)]
    sink_no_pipelining: bool,
    /// Seconds to wait for any one reply (or connection) before the session fails.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// Worker threads of the sender's runtime (default: the number of CPUs).
    #[arg(long)]
    send_threads: Option<usize>,
    /// Worker threads of the sink's runtime (default: the number of CPUs).
    #[arg(long)]
    sink_threads: Option<usize>,
    /// Run a plain TCP forwarder LISTEN=UPSTREAM (repeatable) until SIGINT or SIGTERM.
    #[arg(long, value_name = "LISTEN=UPSTREAM")]
    forward: Vec<String>,
}

/// Why the program stops early: a message for stderr.
type Fail = String;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            let _ = writeln!(std::io::stderr().lock(), "smtp_load: {message}");
            ExitCode::from(2)
        }
    }
}

/// Picks the mode; `Ok(false)` when the load run found a failure.
fn run(args: &Args) -> Result<bool, Fail> {
    if !args.forward.is_empty() {
        if args.sink_listen.is_some() || args.send_to.is_some() {
            return Err("--forward runs alone".into());
        }
        forward::run(&args.forward, args.send_threads)?;
        return Ok(true);
    }
    if args.per_session == 0 || args.concurrency == 0 {
        return Err("--per-session and --concurrency must be at least 1".into());
    }
    let sink_config = sink::Config {
        pipelining: !args.sink_no_pipelining,
    };
    match (args.sink_listen, args.send_to) {
        (None, None) => Err("nothing to do: give --sink-listen, --send-to or --forward".into()),
        (Some(listen), None) => {
            let store = sink::new_store();
            let rt = runtime("sink", args.sink_threads)?;
            rt.block_on(sink::serve_until_signal(listen, sink_config, store))?;
            Ok(true)
        }
        (sink_listen, Some(target)) => load(args, sink_listen, target, sink_config),
    }
}

/// A multi-threaded runtime whose threads carry `name` (so their CPU time can be told apart).
fn runtime(name: &str, threads: Option<usize>) -> Result<Runtime, Fail> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = threads {
        builder.worker_threads(threads.max(1));
    }
    builder
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}

/// The load run: the sink (when asked for) on its runtime, the sender on another, then the
/// check and the summary.
fn load(
    args: &Args,
    sink_listen: Option<SocketAddr>,
    target: SocketAddr,
    sink_config: sink::Config,
) -> Result<bool, Fail> {
    let store = sink::new_store();
    let sink_rt = match sink_listen {
        Some(addr) => {
            let rt = runtime("sink", args.sink_threads)?;
            let listener = rt
                .block_on(listen(addr))
                .map_err(|e| format!("sink: bind {addr}: {e}"))?;
            rt.spawn(sink::serve(listener, sink_config, Arc::clone(&store)));
            Some(rt)
        }
        None => None,
    };
    let send_rt = runtime("send", args.send_threads)?;
    let plan = sender::Plan {
        target,
        run_id: run_id(),
        messages: args.messages,
        per_session: args.per_session,
        concurrency: args.concurrency,
        size: args.size,
        pipelining: !args.no_pipelining,
        pipeline_across: args.pipeline_across,
        timeout: Duration::from_secs(args.timeout_secs.max(1)),
    };
    let cpu_before = cpu::sample();
    let report = send_rt.block_on(sender::send_all(&plan));
    let cpu_after = cpu::sample();
    let verdict = sink_listen.map(|_| verify::check(&plan, &report, &sink::locked(&store)));
    let summary = summary::Summary::new(
        args,
        &plan,
        &report,
        verdict.as_ref(),
        &cpu_after.minus(&cpu_before),
    );
    let ok = summary.ok;
    summary.print(args.json)?;
    // Sessions the gateways still hold open must not keep the process alive.
    send_rt.shutdown_background();
    if let Some(rt) = sink_rt {
        rt.shutdown_background();
    }
    Ok(ok)
}

/// Binds a listener with a backlog of 4096 (the kernel caps it at `somaxconn`): the 128 that
/// `TcpListener::bind` asks for overflows when 200 sessions connect at once, and each dropped
/// SYN costs its session a one-second retransmission.
async fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// A number that makes this run's message ids unlike any other run's.
fn run_id() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 40)
}

/// Locks a mutex; a panicked holder's data is still good enough for counting.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The messages: deterministic from (run id, message number, size), so the check can rebuild
/// what was sent.
mod message {
    use sha2::{Digest as _, Sha256};

    /// The header that carries a message's id (`<run id in hex>.<number>`).
    pub const ID_HEADER: &str = "X-Load-Id";

    /// The id of message `n` of run `run`, as it appears in [`ID_HEADER`].
    pub fn id(run: u64, n: usize) -> String {
        format!("{run:x}.{n}")
    }

    /// The envelope sender of message `n`.
    pub fn mail_from(n: usize) -> String {
        format!("load-{n}@sender.test")
    }

    /// The envelope recipient of message `n`.
    pub fn rcpt_to(n: usize) -> String {
        format!("rcpt-{n}@sink.test")
    }

    /// 64 symbols for the filler text; a `.` among them starts some lines with a dot.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .";

    /// Message `n` of run `run` as the receiver must see it (unstuffed, CRLF line ends),
    /// about `size` bytes long: headers, lines that need dot-stuffing, an 8-bit line, then
    /// pseudo-random filler lines.
    pub fn text(run: u64, n: usize, size: usize) -> Vec<u8> {
        let id = id(run, n);
        let mut m = Vec::with_capacity(size + 128);
        m.extend_from_slice(
            format!(
                "Message-ID: <{n}.{run:x}@load.ssmail.test>\r\n\
                 {ID_HEADER}: {id}\r\n\
                 From: <{from}>\r\n\
                 To: <{to}>\r\n\
                 Subject: load test message {n}\r\n\
                 MIME-Version: 1.0\r\n\
                 Content-Type: text/plain; charset=utf-8\r\n\
                 Content-Transfer-Encoding: 8bit\r\n\
                 \r\n\
                 Load test message {id}.\r\n\
                 .\r\n\
                 ..\r\n\
                 .a line with a leading dot\r\n\
                 . \r\n\
                 8-bit: Gr\u{fc}\u{df}e, \u{2014} \u{e9}t\u{e9}\r\n",
                from = mail_from(n),
                to = rcpt_to(n),
            )
            .as_bytes(),
        );
        let mut state = (run ^ (n as u64).rotate_left(32)) | 1;
        let end = format!("end of message {id}\r\n");
        while m.len() + end.len() < size {
            state = xorshift(state);
            let len = 40 + (state >> 59) as usize; // 40..=71
            for _ in 0..len {
                state = xorshift(state);
                m.push(ALPHABET[(state >> 58) as usize]);
            }
            m.extend_from_slice(b"\r\n");
        }
        m.extend_from_slice(end.as_bytes());
        m
    }

    /// One step of xorshift64.
    fn xorshift(mut x: u64) -> u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }

    /// `text` as DATA carries it: every line that starts with `.` gets another, and the
    /// terminating `.` line follows. `text` ends with CRLF.
    pub fn stuffed(text: &[u8]) -> Vec<u8> {
        let mut wire = Vec::with_capacity(text.len() + 64);
        for line in text.split_inclusive(|&b| b == b'\n') {
            if line.first() == Some(&b'.') {
                wire.push(b'.');
            }
            wire.extend_from_slice(line);
        }
        wire.extend_from_slice(b".\r\n");
        wire
    }

    /// The digest that the sink records and the check compares.
    pub fn digest(text: &[u8]) -> [u8; 32] {
        Sha256::digest(text).into()
    }

    /// The value of the id header in a message's header section, if any.
    pub fn find_id(text: &[u8]) -> Option<&str> {
        for line in text.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                return None; // end of the header section
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = line.split_at(colon);
            if name.eq_ignore_ascii_case(ID_HEADER.as_bytes()) {
                return std::str::from_utf8(&value[1..]).ok().map(str::trim);
            }
        }
        None
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn stuffing_round_trips_and_the_id_is_found() {
            let text = text(0xabc, 7, 2048);
            assert!(text.len() >= 2048 && text.len() < 2048 + 100);
            assert_eq!(find_id(&text), Some("abc.7"));
            let wire = stuffed(&text);
            assert!(wire.ends_with(b"\r\n.\r\n"));
            // No line of the wire form is a lone dot except the last.
            let lines: Vec<&[u8]> = wire.split_inclusive(|&b| b == b'\n').collect();
            let (last, body) = lines.split_last().unwrap();
            assert_eq!(*last, b".\r\n");
            assert!(body.iter().all(|l| *l != b".\r\n"));
            let unstuffed: Vec<u8> = body
                .iter()
                .flat_map(|l| l.strip_prefix(b".").unwrap_or(l).iter().copied())
                .collect();
            assert_eq!(unstuffed, text);
        }

        #[test]
        fn messages_differ() {
            assert_ne!(text(1, 1, 500), text(1, 2, 500));
            assert_ne!(text(1, 1, 500), text(2, 1, 500));
            assert_eq!(text(1, 1, 500), text(1, 1, 500));
        }
    }
}

/// SMTP replies read off a connection, by the shared reply reader of `ssmail-testkit`.
mod reply {
    use std::time::Duration;

    use ssmail_testkit::reply::Assembler;
    pub use ssmail_testkit::reply::Reply;
    use tokio::io::{AsyncBufReadExt as _, BufReader};
    use tokio::net::tcp::OwnedReadHalf;

    /// Reads one reply within `timeout`.
    pub async fn read(
        r: &mut BufReader<OwnedReadHalf>,
        timeout: Duration,
    ) -> Result<Reply, String> {
        match tokio::time::timeout(timeout, read_untimed(r)).await {
            Ok(result) => result,
            Err(_) => Err("timeout waiting for a reply".into()),
        }
    }

    /// Reads lines up to the one whose code is followed by a space (or nothing).
    async fn read_untimed(r: &mut BufReader<OwnedReadHalf>) -> Result<Reply, String> {
        let mut lines = Assembler::new();
        let mut line = Vec::with_capacity(128);
        loop {
            line.clear();
            let n = r
                .read_until(b'\n', &mut line)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed while waiting for a reply".into());
            }
            if let Some(reply) = lines.push_line(&String::from_utf8_lossy(&line))? {
                return Ok(reply);
            }
        }
    }

    /// Reads a reply and fails unless its code is `want`; `what` names the command.
    pub async fn expect(
        r: &mut BufReader<OwnedReadHalf>,
        timeout: Duration,
        want: u16,
        what: &str,
    ) -> Result<Reply, String> {
        read(r, timeout).await?.want(want, what)
    }
}

/// The in-memory SMTP sink: the shared test MTA of `ssmail-testkit` on tokio, keeping of
/// each message only what the check needs (count, digest, length, envelope).
mod sink {
    use std::collections::HashMap;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex, MutexGuard};

    use ssmail_testkit::mta::{Mta, Stored, Style, path};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    use super::{lock, message};

    /// How the sink behaves.
    #[derive(Clone, Copy, Debug)]
    pub struct Config {
        /// Offer PIPELINING in the EHLO reply.
        pub pipelining: bool,
    }

    impl Config {
        /// The MTA's style: `sink.test` with 8BITMIME and SIZE (no CHUNKING: the sender
        /// uses DATA), PIPELINING as configured.
        fn style(self) -> Style {
            let mut keywords = vec!["8BITMIME", "SIZE 52428800"];
            if self.pipelining {
                keywords.insert(0, "PIPELINING");
            }
            Style {
                greeting: "sink.test ESMTP smtp_load sink",
                keywords,
                ..Style::default()
            }
        }
    }

    /// What arrived under one id.
    #[derive(Debug)]
    pub struct Record {
        /// How many times.
        pub count: u32,
        /// SHA-256 of the first arrival (unstuffed).
        pub digest: [u8; 32],
        /// Its length.
        pub len: usize,
        /// Whether a later arrival differed from the first.
        pub differs: bool,
        /// The envelope sender of the first arrival.
        pub mail_from: String,
        /// Its recipients.
        pub rcpts: Vec<String>,
    }

    /// Everything the sink saw.
    #[derive(Debug, Default)]
    pub struct Received {
        /// Messages by the id in their header.
        pub by_id: HashMap<String, Record>,
        /// Messages without an id header.
        pub without_id: u64,
        /// Sessions accepted.
        pub sessions: u64,
        /// Error replies (4xx, 5xx) the sink gave.
        pub errors: u64,
    }

    /// The sink's shared state.
    pub type Store = Mutex<Received>;

    /// A fresh store.
    pub fn new_store() -> Arc<Store> {
        Arc::new(Mutex::new(Received::default()))
    }

    /// Locks the store.
    pub fn locked(store: &Store) -> MutexGuard<'_, Received> {
        lock(store)
    }

    /// Accepts sessions forever.
    pub async fn serve(listener: TcpListener, config: Config, store: Arc<Store>) {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let store = Arc::clone(&store);
                    tokio::spawn(async move {
                        // A session that breaks off is the sender's business to report.
                        let _ = session(stream, config, &store).await;
                    });
                }
                Err(_) => {
                    // EMFILE and the like: wait a moment rather than spin.
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// The sink alone: serves until SIGINT/SIGTERM, then prints what it received.
    pub async fn serve_until_signal(
        listen: SocketAddr,
        config: Config,
        store: Arc<Store>,
    ) -> Result<(), String> {
        let listener = super::listen(listen)
            .await
            .map_err(|e| format!("sink: bind {listen}: {e}"))?;
        eprintln!("smtp_load: sink listening on {listen}");
        tokio::spawn(serve(listener, config, Arc::clone(&store)));
        super::forward::signal().await?;
        let received = locked(&store);
        let messages: u64 = received.by_id.values().map(|r| u64::from(r.count)).sum();
        println!(
            "sink: sessions={} messages={} distinct={} without_id={} errors={}",
            received.sessions,
            messages + received.without_id,
            received.by_id.len(),
            received.without_id,
            received.errors
        );
        Ok(())
    }

    /// One SMTP session: what arrives goes through the MTA, whose replies to a pipelined
    /// group go out together in one write.
    async fn session(mut stream: TcpStream, config: Config, store: &Store) -> std::io::Result<()> {
        locked(store).sessions += 1;
        let _ = stream.set_nodelay(true);
        let mut mta = Mta::new(config.style());
        stream.write_all(&mta.greeting()).await?;
        let mut buf = vec![0u8; 64 << 10];
        let mut out = Vec::with_capacity(512);
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            mta.feed_into(&buf[..n], &mut out);
            // Only what the check needs is kept: the MTA's own lists are emptied.
            mta.commands.clear();
            if mta.errors > 0 {
                locked(store).errors += std::mem::take(&mut mta.errors);
            }
            for m in mta.messages.drain(..) {
                record(store, m);
            }
            stream.write_all(&out).await?;
            out.clear();
            if mta.closed() {
                return stream.shutdown().await;
            }
        }
    }

    /// Records one message under the id in its header.
    fn record(store: &Store, m: Stored) {
        let digest = message::digest(&m.body);
        let mut received = locked(store);
        let Some(id) = message::find_id(&m.body) else {
            received.without_id += 1;
            return;
        };
        match received.by_id.get_mut(id) {
            Some(record) => {
                record.count += 1;
                record.differs |= record.digest != digest || record.len != m.body.len();
            }
            None => {
                let record = Record {
                    count: 1,
                    digest,
                    len: m.body.len(),
                    differs: false,
                    mail_from: m.from_path().unwrap_or_default().to_owned(),
                    rcpts: m
                        .to
                        .iter()
                        .map(|t| path(t).unwrap_or_default().to_owned())
                        .collect(),
                };
                received.by_id.insert(id.to_owned(), record);
            }
        }
    }
}

/// The sender: sessions over a fixed number of concurrent workers.
mod sender {
    use std::collections::BTreeMap;
    use std::net::SocketAddr;
    use std::ops::Range;
    use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, BufReader};
    use tokio::net::TcpStream;
    use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

    use super::{lock, message, reply};

    /// What to send, where and how.
    #[derive(Debug, Clone)]
    pub struct Plan {
        /// The SMTP server to send to.
        pub target: SocketAddr,
        /// Makes this run's ids unique.
        pub run_id: u64,
        /// Total messages.
        pub messages: usize,
        /// Messages per session.
        pub per_session: usize,
        /// Concurrent sessions.
        pub concurrency: usize,
        /// Approximate message size.
        pub size: usize,
        /// Pipeline when the server offers it.
        pub pipelining: bool,
        /// When pipelining, send each message's content in one write with the next
        /// MAIL/RCPT/DATA group (or the QUIT).
        pub pipeline_across: bool,
        /// Per reply (and per connect).
        pub timeout: Duration,
    }

    /// A message not yet sent (or whose session broke before its turn).
    pub const UNSENT: u8 = 0;
    /// The server answered 250 to the final dot.
    pub const ACCEPTED: u8 = 1;
    /// A reply of its transaction was not the one expected (or the session broke during it).
    pub const FAILED: u8 = 2;

    /// What the sender saw.
    #[derive(Debug)]
    pub struct Report {
        /// Per message: [`UNSENT`], [`ACCEPTED`] or [`FAILED`].
        pub state: Vec<u8>,
        /// Sessions started.
        pub sessions: u64,
        /// Sessions that ended in an error.
        pub failed_sessions: u64,
        /// Sessions in which the server offered PIPELINING.
        pub pipelined_sessions: u64,
        /// Error messages and how often each came.
        pub errors: BTreeMap<String, u64>,
        /// Wall time from the first connection to the end of the last session.
        pub wall: Duration,
        /// Bytes of message text sent (unstuffed).
        pub text_bytes: u64,
        /// Bytes of the whole dialogue written by the sender.
        pub wire_bytes: u64,
        /// Each session's duration, in seconds.
        pub session_secs: Vec<f64>,
    }

    /// State shared by the workers.
    struct Shared {
        /// The plan.
        plan: Plan,
        /// The next message number to hand out.
        next: AtomicUsize,
        /// Per message state.
        state: Vec<AtomicU8>,
        /// Sessions started.
        sessions: AtomicU64,
        /// Sessions with PIPELINING offered.
        pipelined: AtomicU64,
        /// Bytes of message text sent.
        text_bytes: AtomicU64,
        /// Bytes written.
        wire_bytes: AtomicU64,
        /// Errors by kind.
        errors: Mutex<BTreeMap<String, u64>>,
        /// Session durations.
        session_secs: Mutex<Vec<f64>>,
    }

    /// Sends the plan's messages; never fails as a whole (failures are in the report).
    pub async fn send_all(plan: &Plan) -> Report {
        let shared = Arc::new(Shared {
            plan: plan.clone(),
            next: AtomicUsize::new(0),
            state: (0..plan.messages).map(|_| AtomicU8::new(UNSENT)).collect(),
            sessions: AtomicU64::new(0),
            pipelined: AtomicU64::new(0),
            text_bytes: AtomicU64::new(0),
            wire_bytes: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            session_secs: Mutex::new(Vec::with_capacity(plan.messages)),
        });
        let start = Instant::now();
        let workers: Vec<_> = (0..plan.concurrency)
            .map(|_| tokio::spawn(worker(Arc::clone(&shared))))
            .collect();
        for w in workers {
            if let Err(e) = w.await {
                *lock(&shared.errors)
                    .entry(format!("worker panicked: {e}"))
                    .or_insert(0) += 1;
            }
        }
        let wall = start.elapsed();
        let errors = std::mem::take(&mut *lock(&shared.errors));
        let failed_sessions = errors.values().sum();
        Report {
            state: shared
                .state
                .iter()
                .map(|s| s.load(Ordering::Relaxed))
                .collect(),
            sessions: shared.sessions.load(Ordering::Relaxed),
            failed_sessions,
            pipelined_sessions: shared.pipelined.load(Ordering::Relaxed),
            errors,
            wall,
            text_bytes: shared.text_bytes.load(Ordering::Relaxed),
            wire_bytes: shared.wire_bytes.load(Ordering::Relaxed),
            session_secs: std::mem::take(&mut *lock(&shared.session_secs)),
        }
    }

    /// Takes batches of messages and sends each batch in one session, until none are left.
    async fn worker(shared: Arc<Shared>) {
        let plan = &shared.plan;
        loop {
            let first = shared.next.fetch_add(plan.per_session, Ordering::Relaxed);
            if first >= plan.messages {
                return;
            }
            let batch = first..(first + plan.per_session).min(plan.messages);
            shared.sessions.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let result = session(&shared, batch).await;
            lock(&shared.session_secs).push(started.elapsed().as_secs_f64());
            // The message in flight is marked FAILED; later ones of the batch stay UNSENT.
            if let Err(e) = result {
                *lock(&shared.errors).entry(e).or_insert(0) += 1;
            }
        }
    }

    /// Writes `bytes` and counts them.
    async fn put(w: &mut OwnedWriteHalf, shared: &Shared, bytes: &[u8]) -> Result<(), String> {
        shared
            .wire_bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        w.write_all(bytes).await.map_err(|e| format!("write: {e}"))
    }

    /// One session: connect, EHLO, the batch's transactions, QUIT.
    async fn session(shared: &Shared, batch: Range<usize>) -> Result<(), String> {
        let plan = &shared.plan;
        let t = plan.timeout;
        let stream = match tokio::time::timeout(t, TcpStream::connect(plan.target)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(format!("connect: {e}")),
            Err(_) => return Err("connect: timeout".into()),
        };
        let _ = stream.set_nodelay(true);
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::with_capacity(16 << 10, r);
        reply::expect(&mut r, t, 220, "greeting").await?;
        put(&mut w, shared, b"EHLO load.sender.test\r\n").await?;
        let ehlo = reply::expect(&mut r, t, 250, "EHLO").await?;
        let offered = |kw: &str| {
            ehlo.lines.iter().skip(1).any(|l| {
                l.split_ascii_whitespace()
                    .next()
                    .is_some_and(|k| k.eq_ignore_ascii_case(kw))
            })
        };
        let pipelining = plan.pipelining && offered("PIPELINING");
        if offered("PIPELINING") {
            shared.pipelined.fetch_add(1, Ordering::Relaxed);
        }
        let eight_bit = offered("8BITMIME");
        let size = offered("SIZE");
        // With `--pipeline-across`, a message's content waits to go out in front of the next
        // MAIL/RCPT/DATA group (or QUIT) in one write, as RFC 2920 allows.
        let mut held: Option<Held> = None;
        for n in batch {
            let text = message::text(plan.run_id, n, plan.size);
            let wire = message::stuffed(&text);
            let mut params = String::new();
            if size {
                params.push_str(&format!(" SIZE={}", text.len()));
            }
            if eight_bit {
                params.push_str(" BODY=8BITMIME");
            }
            let mail = format!("MAIL FROM:<{}>{params}\r\n", message::mail_from(n));
            let rcpt = format!("RCPT TO:<{}>\r\n", message::rcpt_to(n));
            if pipelining {
                let prev = held.take();
                // What is in flight fails with the session.
                let in_flight: Vec<usize> = prev.iter().map(|p| p.n).chain([n]).collect();
                let failed = |e: String| fail(shared, &in_flight, e);
                let mut group = Vec::with_capacity(256);
                if let Some(p) = &prev {
                    group.extend_from_slice(&p.wire);
                }
                group.extend_from_slice(mail.as_bytes());
                group.extend_from_slice(rcpt.as_bytes());
                group.extend_from_slice(b"DATA\r\n");
                put(&mut w, shared, &group).await.map_err(failed)?;
                if let Some(p) = prev {
                    let dot = reply::read(&mut r, t).await.map_err(failed)?;
                    dot.want(250, "end of data").map_err(failed)?;
                    accept(shared, &p);
                }
                // Read all three replies before judging, so the stream stays in step.
                let m = reply::read(&mut r, t).await.map_err(failed)?;
                let c = reply::read(&mut r, t).await.map_err(failed)?;
                let d = reply::read(&mut r, t).await.map_err(failed)?;
                m.want(250, "MAIL").map_err(failed)?;
                c.want(250, "RCPT").map_err(failed)?;
                d.want(354, "DATA").map_err(failed)?;
            } else {
                for (cmd, code, what) in [
                    (mail.as_bytes(), 250, "MAIL"),
                    (rcpt.as_bytes(), 250, "RCPT"),
                    (b"DATA\r\n".as_slice(), 354, "DATA"),
                ] {
                    put(&mut w, shared, cmd)
                        .await
                        .map_err(|e| fail(shared, &[n], e))?;
                    reply::expect(&mut r, t, code, what)
                        .await
                        .map_err(|e| fail(shared, &[n], e))?;
                }
            }
            let this = Held {
                n,
                wire,
                text_len: text.len(),
            };
            if pipelining && plan.pipeline_across {
                held = Some(this);
                continue;
            }
            put(&mut w, shared, &this.wire)
                .await
                .map_err(|e| fail(shared, &[n], e))?;
            reply::expect(&mut r, t, 250, "end of data")
                .await
                .map_err(|e| fail(shared, &[n], e))?;
            accept(shared, &this);
        }
        match held {
            Some(p) => {
                let group = [p.wire.as_slice(), b"QUIT\r\n"].concat();
                put(&mut w, shared, &group)
                    .await
                    .map_err(|e| fail(shared, &[p.n], e))?;
                reply::expect(&mut r, t, 250, "end of data")
                    .await
                    .map_err(|e| fail(shared, &[p.n], e))?;
                accept(shared, &p);
            }
            None => put(&mut w, shared, b"QUIT\r\n").await?,
        }
        reply::expect(&mut r, t, 221, "QUIT").await?;
        drain(&mut r, t).await
    }

    /// A message whose content is sent but whose final reply is still to come.
    struct Held {
        /// Its number.
        n: usize,
        /// Its dot-stuffed content with the final dot.
        wire: Vec<u8>,
        /// The length of its text.
        text_len: usize,
    }

    /// Marks the messages in flight as failed; returns the error.
    fn fail(shared: &Shared, in_flight: &[usize], e: String) -> String {
        for &n in in_flight {
            shared.state[n].store(FAILED, Ordering::Relaxed);
        }
        e
    }

    /// Marks a message accepted (250 after its final dot).
    fn accept(shared: &Shared, m: &Held) {
        shared.state[m.n].store(ACCEPTED, Ordering::Relaxed);
        shared
            .text_bytes
            .fetch_add(m.text_len as u64, Ordering::Relaxed);
    }

    /// Waits for the server to close (so the TIME_WAIT state stays on its side).
    async fn drain(r: &mut BufReader<OwnedReadHalf>, t: Duration) -> Result<(), String> {
        let mut rest = [0u8; 512];
        match tokio::time::timeout(t, r.read(&mut rest)).await {
            Ok(Ok(0)) => Ok(()),
            Ok(Ok(_)) => Err("data after the QUIT reply".into()),
            Ok(Err(e)) => Err(format!("read after QUIT: {e}")),
            Err(_) => Err("the server did not close after QUIT".into()),
        }
    }
}

/// The end-of-run check: every accepted message delivered once, intact, with its envelope.
mod verify {
    use super::{message, sender, sink};
    use serde::Serialize;

    /// The check's counts.
    #[derive(Debug, Default, Clone, Serialize)]
    pub struct Verdict {
        /// Messages the sink recorded (arrivals, duplicates included).
        pub delivered: u64,
        /// Distinct messages the sink recorded.
        pub distinct: u64,
        /// Accepted (250) but never delivered.
        pub lost: u64,
        /// Delivered more than once (each counts once here).
        pub duplicated: u64,
        /// Delivered with other bytes or another envelope than were sent.
        pub mismatched: u64,
        /// Delivered although the sender saw its transaction fail.
        pub delivered_unacknowledged: u64,
        /// Delivered with an id this run never sent, or without one.
        pub unknown: u64,
        /// Examples of what went wrong (at most a few).
        pub examples: Vec<String>,
    }

    /// Compares what was sent with what arrived.
    pub fn check(plan: &sender::Plan, report: &sender::Report, rx: &sink::Received) -> Verdict {
        let mut v = Verdict {
            delivered: rx.by_id.values().map(|r| u64::from(r.count)).sum::<u64>() + rx.without_id,
            distinct: rx.by_id.len() as u64,
            unknown: rx.without_id,
            ..Verdict::default()
        };
        let note = |v: &mut Verdict, what: String| {
            if v.examples.len() < 5 {
                v.examples.push(what);
            }
        };
        let mut known = 0u64;
        for (n, &state) in report.state.iter().enumerate() {
            let id = message::id(plan.run_id, n);
            let Some(record) = rx.by_id.get(&id) else {
                if state == sender::ACCEPTED {
                    v.lost += 1;
                    note(&mut v, format!("{id}: accepted but not delivered"));
                }
                continue;
            };
            known += 1;
            if state != sender::ACCEPTED {
                v.delivered_unacknowledged += 1;
                note(
                    &mut v,
                    format!("{id}: delivered but its transaction failed"),
                );
            }
            if record.count > 1 {
                v.duplicated += 1;
                note(&mut v, format!("{id}: delivered {} times", record.count));
            }
            let text = message::text(plan.run_id, n, plan.size);
            let same_bytes = !record.differs
                && record.len == text.len()
                && record.digest == message::digest(&text);
            let same_envelope = record.mail_from == message::mail_from(n)
                && record.rcpts.len() == 1
                && record.rcpts.first() == Some(&message::rcpt_to(n));
            if !same_bytes || !same_envelope {
                v.mismatched += 1;
                note(&mut v, format!("{id}: bytes or envelope differ"));
            }
        }
        let strays = (rx.by_id.len() as u64).saturating_sub(known);
        if strays > 0 {
            v.unknown += strays;
            note(&mut v, format!("{strays} ids this run never sent"));
        }
        v
    }

    impl Verdict {
        /// No loss, duplicate, mismatch or stray.
        pub fn clean(&self) -> bool {
            self.lost == 0
                && self.duplicated == 0
                && self.mismatched == 0
                && self.delivered_unacknowledged == 0
                && self.unknown == 0
        }
    }
}

/// CPU time of this process, split into the sink's threads and the rest.
mod cpu {
    use serde::Serialize;

    /// Clock ticks per second of `/proc/*/stat` (`USER_HZ`, 100 on Linux).
    const TICKS_PER_SEC: f64 = 100.0;

    /// CPU seconds (user + system).
    #[derive(Debug, Default, Clone, Copy, Serialize)]
    pub struct Sample {
        /// The whole process (threads that ended included).
        pub total_secs: f64,
        /// The threads named `sink` (the sink's runtime).
        pub sink_secs: f64,
        /// The rest: the sender's runtime and the main thread.
        pub sender_secs: f64,
    }

    /// utime + stime of a `stat` line, in seconds, and the thread's name.
    fn parse(stat: &str) -> Option<(String, f64)> {
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let name = stat.get(open + 1..close)?.to_owned();
        // After ")": state is field 3; utime and stime are fields 14 and 15.
        let mut fields = stat.get(close + 1..)?.split_ascii_whitespace().skip(11);
        let utime: f64 = fields.next()?.parse().ok()?;
        let stime: f64 = fields.next()?.parse().ok()?;
        Some((name, (utime + stime) / TICKS_PER_SEC))
    }

    /// Reads the counters now (zeros where /proc is not there).
    pub fn sample() -> Sample {
        let total_secs = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| parse(&s))
            .map_or(0.0, |(_, secs)| secs);
        let mut sink_secs = 0.0;
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                let stat = std::fs::read_to_string(task.path().join("stat"));
                if let Some((name, secs)) = stat.ok().and_then(|s| parse(&s)) {
                    if name.starts_with("sink") {
                        sink_secs += secs;
                    }
                }
            }
        }
        Sample {
            total_secs,
            sink_secs,
            sender_secs: total_secs - sink_secs,
        }
    }

    impl Sample {
        /// The difference `self - earlier`.
        pub fn minus(&self, earlier: &Sample) -> Sample {
            Sample {
                total_secs: self.total_secs - earlier.total_secs,
                sink_secs: self.sink_secs - earlier.sink_secs,
                sender_secs: self.sender_secs - earlier.sender_secs,
            }
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn parses_a_stat_line_with_spaces_in_the_name() {
            let line = "42 (sink x) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 4 0";
            let (name, secs) = super::parse(line).unwrap();
            assert_eq!(name, "sink x");
            assert!((secs - 3.0).abs() < 1e-9);
        }
    }
}

/// The summary: text and JSON.
mod summary {
    use std::collections::BTreeMap;
    use std::io::Write as _;

    use serde::Serialize;

    use super::{Args, Fail, cpu, sender, verify};

    /// Everything a run reports.
    #[derive(Debug, Serialize)]
    pub struct Summary {
        /// `--label`.
        pub label: String,
        /// The address sent to.
        pub target: String,
        /// Messages planned.
        pub messages: usize,
        /// Messages accepted with 250 after the final dot.
        pub accepted: u64,
        /// Messages whose transaction failed.
        pub failed_messages: u64,
        /// Messages never tried (their session broke first).
        pub unsent: u64,
        /// Sessions started.
        pub sessions: u64,
        /// Sessions that ended in an error.
        pub failed_sessions: u64,
        /// Sessions in which PIPELINING was offered.
        pub pipelining_offered_sessions: u64,
        /// Concurrent sessions.
        pub concurrency: usize,
        /// Messages per session.
        pub per_session: usize,
        /// Average message size in bytes (unstuffed text).
        pub message_bytes: f64,
        /// Wall time of the sending, in seconds.
        pub wall_secs: f64,
        /// Accepted messages per second of wall time.
        pub messages_per_sec: f64,
        /// Megabytes (10^6) of message text accepted per second.
        pub mb_per_sec: f64,
        /// Bytes the sender wrote (commands and dot-stuffed data).
        pub wire_bytes: u64,
        /// Session duration, median, in milliseconds.
        pub session_ms_p50: f64,
        /// Session duration, 99th percentile, in milliseconds.
        pub session_ms_p99: f64,
        /// Session duration, maximum, in milliseconds.
        pub session_ms_max: f64,
        /// CPU seconds of this process during the sending.
        pub cpu: cpu::Sample,
        /// CPU microseconds of this process per accepted message.
        pub cpu_us_per_message: f64,
        /// Sender errors and their counts.
        pub errors: BTreeMap<String, u64>,
        /// The delivery check (absent without a sink in this process).
        pub verify: Option<verify::Verdict>,
        /// No failure of any kind.
        pub ok: bool,
    }

    /// The `q` quantile of sorted `xs` (nearest rank).
    fn quantile(xs: &[f64], q: f64) -> f64 {
        if xs.is_empty() {
            return 0.0;
        }
        let rank = (q * (xs.len() as f64 - 1.0)).round() as usize;
        xs[rank.min(xs.len() - 1)]
    }

    impl Summary {
        /// Puts the numbers together.
        pub fn new(
            args: &Args,
            plan: &sender::Plan,
            report: &sender::Report,
            verdict: Option<&verify::Verdict>,
            cpu: &cpu::Sample,
        ) -> Summary {
            let count = |want: u8| report.state.iter().filter(|&&s| s == want).count() as u64;
            let accepted = count(sender::ACCEPTED);
            let failed_messages = count(sender::FAILED);
            let unsent = count(sender::UNSENT);
            let wall = report.wall.as_secs_f64().max(1e-9);
            let mut secs = report.session_secs.clone();
            secs.sort_by(f64::total_cmp);
            let ok = failed_messages == 0
                && unsent == 0
                && report.failed_sessions == 0
                && verdict.is_none_or(verify::Verdict::clean);
            Summary {
                label: args.label.clone(),
                target: plan.target.to_string(),
                messages: plan.messages,
                accepted,
                failed_messages,
                unsent,
                sessions: report.sessions,
                failed_sessions: report.failed_sessions,
                pipelining_offered_sessions: report.pipelined_sessions,
                concurrency: plan.concurrency,
                per_session: plan.per_session,
                message_bytes: report.text_bytes as f64 / (accepted.max(1) as f64),
                wall_secs: wall,
                messages_per_sec: accepted as f64 / wall,
                mb_per_sec: report.text_bytes as f64 / wall / 1e6,
                wire_bytes: report.wire_bytes,
                session_ms_p50: quantile(&secs, 0.5) * 1e3,
                session_ms_p99: quantile(&secs, 0.99) * 1e3,
                session_ms_max: secs.last().copied().unwrap_or(0.0) * 1e3,
                cpu: *cpu,
                cpu_us_per_message: cpu.total_secs * 1e6 / (accepted.max(1) as f64),
                errors: report.errors.clone(),
                verify: verdict.cloned(),
                ok,
            }
        }

        /// The text form.
        fn text(&self) -> String {
            let mut s = format!(
                "smtp_load{label}: {verdict}\n\
                 \x20 messages {acc}/{msgs} accepted ({failed} failed, {unsent} unsent), \
                 {sessions} sessions ({fs} failed), concurrency {conc}, {ps} per session, \
                 ~{bytes:.0} bytes each, pipelining offered in {pl} sessions\n\
                 \x20 wall {wall:.3} s: {mps:.1} messages/s, {mbps:.2} MB/s; \
                 session ms p50 {p50:.1} p99 {p99:.1} max {max:.1}\n\
                 \x20 cpu {cpu:.2} s (sink {sink:.2} s, sender {snd:.2} s): {us:.1} us/message\n",
                label = if self.label.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", self.label)
                },
                verdict = if self.ok { "OK" } else { "FAILED" },
                acc = self.accepted,
                msgs = self.messages,
                failed = self.failed_messages,
                unsent = self.unsent,
                sessions = self.sessions,
                fs = self.failed_sessions,
                conc = self.concurrency,
                ps = self.per_session,
                bytes = self.message_bytes,
                pl = self.pipelining_offered_sessions,
                wall = self.wall_secs,
                mps = self.messages_per_sec,
                mbps = self.mb_per_sec,
                p50 = self.session_ms_p50,
                p99 = self.session_ms_p99,
                max = self.session_ms_max,
                cpu = self.cpu.total_secs,
                sink = self.cpu.sink_secs,
                snd = self.cpu.sender_secs,
                us = self.cpu_us_per_message,
            );
            match &self.verify {
                Some(v) => s.push_str(&format!(
                    "  delivered {} ({} distinct): lost {}, duplicated {}, mismatched {}, \
                     delivered-unacknowledged {}, unknown {}\n",
                    v.delivered,
                    v.distinct,
                    v.lost,
                    v.duplicated,
                    v.mismatched,
                    v.delivered_unacknowledged,
                    v.unknown
                )),
                None => s.push_str("  no sink in this process: delivery not checked\n"),
            }
            for (error, count) in &self.errors {
                s.push_str(&format!("  error x{count}: {error}\n"));
            }
            for example in self.verify.iter().flat_map(|v| &v.examples) {
                s.push_str(&format!("  e.g. {example}\n"));
            }
            s
        }

        /// Prints the summary: text on stdout, or JSON on stdout and text on stderr.
        pub fn print(&self, json: bool) -> Result<(), Fail> {
            let text = self.text();
            let result = if json {
                let object = serde_json::to_string(self).map_err(|e| format!("json: {e}"))?;
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
                writeln!(std::io::stdout().lock(), "{object}")
            } else {
                std::io::stdout().lock().write_all(text.as_bytes())
            };
            result.map_err(|e| format!("stdout: {e}"))
        }
    }
}

/// A plain TCP forwarder: the stand-in for a proxy hop.
mod forward {
    use std::net::SocketAddr;

    use tokio::net::{TcpListener, TcpStream};

    use super::{Fail, runtime};

    /// Parses `LISTEN=UPSTREAM`.
    fn parse(spec: &str) -> Result<(SocketAddr, SocketAddr), Fail> {
        let (listen, upstream) = spec
            .split_once('=')
            .ok_or_else(|| format!("--forward {spec}: want LISTEN=UPSTREAM"))?;
        let addr = |s: &str| {
            s.parse::<SocketAddr>()
                .map_err(|e| format!("--forward {spec}: {s}: {e}"))
        };
        Ok((addr(listen)?, addr(upstream)?))
    }

    /// Forwards every route until SIGINT or SIGTERM.
    pub fn run(specs: &[String], threads: Option<usize>) -> Result<(), Fail> {
        let routes = specs
            .iter()
            .map(|s| parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        let rt = runtime("fwd", threads)?;
        rt.block_on(async {
            for (listen, upstream) in routes {
                let listener = super::listen(listen)
                    .await
                    .map_err(|e| format!("forward: bind {listen}: {e}"))?;
                eprintln!("smtp_load: forwarding {listen} -> {upstream}");
                tokio::spawn(accept(listener, upstream));
            }
            signal().await
        })?;
        rt.shutdown_background();
        Ok(())
    }

    /// Accepts connections and copies each to a new upstream connection.
    async fn accept(listener: TcpListener, upstream: SocketAddr) {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    }

    /// Waits for SIGINT or SIGTERM.
    pub async fn signal() -> Result<(), Fail> {
        use tokio::signal::unix::{SignalKind, signal};
        // One task per signal rather than `select!` (whose random start uses `%`).
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        for kind in [SignalKind::interrupt(), SignalKind::terminate()] {
            let mut stream = signal(kind).map_err(|e| format!("signal handler: {e}"))?;
            let tx = tx.clone();
            tokio::spawn(async move {
                stream.recv().await;
                let _ = tx.send(()).await;
            });
        }
        rx.recv().await;
        Ok(())
    }
}
