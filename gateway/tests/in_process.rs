//! The gateway as a library, in this process: both sides bound on 127.0.0.1:0 in one
//! tokio runtime, between the shared test peers of `ssmail-testkit` (the binary is tested
//! as a process in `cli/tests/gateway.rs`). What a session did is read from its record,
//! not from the log.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ssmail_gateway::{Config, Error, Gateway, Mode, Options, SessionRecord};
use ssmail_testkit::client::{Smtp, closed_port, message, send_mail};
use ssmail_testkit::sink::Sink;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Short timeouts so that the fault tests run in seconds.
const QUICK: &str = "[timeouts]\nconnect_secs = 2\nidle_secs = 1\n[limits]\ngrace_secs = 0.5\n";

/// A gateway serving on `rt` until [`Running::stop`].
struct Running {
    addr: SocketAddr,
    records: mpsc::UnboundedReceiver<SessionRecord>,
    stop: Option<oneshot::Sender<()>>,
    serving: JoinHandle<Result<(), Error>>,
}

impl Running {
    fn start(rt: &Runtime, mode: Mode, upstream: SocketAddr, toml: &str) -> Self {
        let options = Options {
            listen: Some("127.0.0.1:0".into()),
            upstream: Some(upstream.to_string()),
            ..Options::new(mode)
        };
        let config = Config::from_toml(&options, toml).unwrap();
        let mut gateway = rt.block_on(Gateway::bind(config)).unwrap();
        let addrs = gateway.local_addrs();
        assert_eq!(addrs.len(), 1);
        assert_ne!(addrs[0].port(), 0, "port 0 is resolved");
        let records = gateway.session_records();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = rt.spawn(gateway.serve(async move {
            let _ = stopped.await;
            "test over"
        }));
        Self {
            addr: addrs[0],
            records,
            stop: Some(stop),
            serving,
        }
    }

    /// The next session's record (or a panic after 30 s).
    fn record(&mut self, rt: &Runtime) -> SessionRecord {
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), self.records.recv())
                .await
                .expect("a session record in time")
                .expect("the gateway is running")
        })
    }

    /// Asks the gateway to stop; returns how `serve` ended and how long it took.
    fn stop(mut self, rt: &Runtime) -> (Result<(), Error>, Duration) {
        let start = Instant::now();
        self.stop.take().unwrap().send(()).unwrap();
        let ended = rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(30), self.serving).await })
            .expect("serve returns after the shutdown future")
            .expect("serve did not panic");
        (ended, start.elapsed())
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_pair_in_one_runtime_carries_mail_encrypted_and_byte_exact() {
    let rt = runtime();
    let sink = Sink::start();
    let mut inbound = Running::start(&rt, Mode::Inbound, sink.addr, "");
    let mut outbound = Running::start(&rt, Mode::Outbound, inbound.addr, "");
    let body = message("in-process", 70_000);
    send_mail(outbound.addr, "a@a.test", "b@b.test", &body);
    let stored = sink.wait_for(1, 30);
    assert_eq!(stored[0].body, body);
    assert_eq!(stored[0].from, "<a@a.test>");
    assert_eq!(stored[0].to, ["<b@b.test>"]);
    // The MTA saw the sender's commands only: nothing of XCRYPT.
    let commands = sink.commands();
    assert!(
        commands
            .iter()
            .all(|c| !c.to_ascii_uppercase().contains("XCRYPT")),
        "{commands:?}"
    );
    for record in [outbound.record(&rt), inbound.record(&rt)] {
        assert_eq!(record.suite, Some("t32_1.0"), "{record:?}");
        assert_eq!(record.fallback, None, "{record:?}");
        assert_eq!(record.result, "ok", "{record:?}");
    }
    let (out_end, _) = outbound.stop(&rt);
    let (in_end, _) = inbound.stop(&rt);
    assert_eq!(out_end, Ok(()));
    assert_eq!(in_end, Ok(()));
}

#[test]
fn a_plain_far_end_gets_the_mail_in_plaintext_and_the_record_says_why() {
    let rt = runtime();
    let sink = Sink::start();
    let mut outbound = Running::start(&rt, Mode::Outbound, sink.addr, "");
    send_mail(outbound.addr, "c@a.test", "d@b.test", b"plain\r\n");
    assert_eq!(sink.wait_for(1, 30)[0].body, b"plain\r\n");
    let record = outbound.record(&rt);
    assert_eq!(record.suite, None);
    assert!(record.fallback.is_some(), "{record:?}");
    assert_eq!(outbound.stop(&rt).0, Ok(()));
}

#[test]
fn an_unreachable_upstream_gets_421_and_the_gateway_stays_up() {
    let rt = runtime();
    let mut inbound = Running::start(&rt, Mode::Inbound, closed_port(), QUICK);
    for _ in 0..2 {
        let (_s, greeting) = Smtp::connect(inbound.addr);
        assert!(greeting.starts_with("421 4.4.1"), "{greeting}");
        let record = inbound.record(&rt);
        assert!(
            record.result.starts_with("upstream unavailable"),
            "{record:?}"
        );
    }
    assert_eq!(inbound.stop(&rt).0, Ok(()));
}

#[test]
fn stopping_waits_for_the_grace_period_only() {
    let rt = runtime();
    let sink = Sink::start();
    let inbound = Running::start(&rt, Mode::Inbound, sink.addr, QUICK);
    // A session that stays open (its client says nothing more) past the stop.
    let (mut s, greeting) = Smtp::connect(inbound.addr);
    assert!(greeting.starts_with("220"), "{greeting}");
    assert!(s.cmd("EHLO c.test").starts_with("250"));
    let (ended, took) = inbound.stop(&rt);
    assert_eq!(ended, Ok(()));
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "grace 0.5 s, took {took:?}"
    );
}

#[test]
fn settings_and_ports_are_refused_before_any_session() {
    let rt = runtime();
    let inbound = Options {
        listen: Some("127.0.0.1:0".into()),
        upstream: Some("127.0.0.1:25".into()),
        ..Options::new(Mode::Inbound)
    };
    for bad in [
        "versions = [\"rot13_1.0\"]",
        "require_xcrypt = true",
        "[limits]\nmax_sessions = 0",
        "no_such_key = 1",
        "[timeouts\n",
    ] {
        match Config::from_toml(&inbound, bad) {
            Err(Error::Config(m)) => assert!(!m.contains('\n'), "one line: {m:?}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    assert!(matches!(
        Config::from_options(&Options::new(Mode::Outbound)),
        Err(Error::Config(_))
    ));
    // A port in use is an I/O error at bind, not later.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let on_taken = Options {
        listen: Some(taken.local_addr().unwrap().to_string()),
        ..inbound
    };
    let config = Config::from_toml(&on_taken, "").unwrap();
    assert!(matches!(
        rt.block_on(Gateway::bind(config)),
        Err(Error::Io(_))
    ));
}

/// Tight defences for the hostile-client tests: 512-octet lines, 1 s per line, two
/// sessions per address (loopback not exempt).
const HOSTILE: &str = "[timeouts]\nconnect_secs = 2\nline_secs = 1\n\
                       [limits]\ngrace_secs = 0.5\nline_length = 512\nhard_error_limit = 3\n\
                       client_sessions = 2\nexempt = []\n";

/// Reads until the peer closes (or 10 s); what came.
fn read_to_close(s: &mut std::net::TcpStream) -> String {
    use std::io::Read as _;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&all).into_owned(),
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn overlong_and_endless_lines_are_answered_here_and_never_reach_the_mta() {
    let rt = runtime();
    let sink = Sink::start();
    let mut inbound = Running::start(&rt, Mode::Inbound, sink.addr, HOSTILE);
    let (mut s, greeting) = Smtp::connect(inbound.addr);
    assert!(greeting.starts_with("220"), "{greeting}");
    assert!(s.cmd("EHLO c.test").starts_with("250"));
    let long = format!("NOOP {}", "A".repeat(600));
    let reply = s.cmd(&long);
    assert!(reply.starts_with("500 5.5.2"), "{reply}");
    // Pipelined behind another over-long line: each answered in order.
    s.send(format!("{long}\r\nNOOP\r\n").as_bytes());
    assert!(s.reply().starts_with("500 5.5.2"));
    assert!(s.reply().starts_with("250"));
    // The third error reaches the limit: 421, closed.
    let reply = s.cmd(&long);
    assert!(reply.starts_with("421 4.7.0"), "{reply}");
    assert!(s.closed_within(Duration::from_secs(5)));
    let record = inbound.record(&rt);
    assert_eq!(record.result, "refused: too-many-errors", "{record:?}");

    // 10 MB without a line end: cut long before its end, with an answer.
    let mut raw = std::net::TcpStream::connect(inbound.addr).unwrap();
    let mut greeting = [0u8; 3];
    std::io::Read::read_exact(&mut raw, &mut greeting).unwrap();
    assert_eq!(&greeting, b"220");
    let writer = raw.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        use std::io::Write as _;
        let mut w = writer;
        let chunk = vec![b'B'; 64 * 1024];
        let mut sent = 0usize;
        while sent < 10 << 20 {
            if w.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    let heard = read_to_close(&mut raw);
    assert!(
        heard.contains("421 4.7.0 ssmail gateway: line too long"),
        "{heard}"
    );
    let sent = sending.join().unwrap();
    let record = inbound.record(&rt);
    assert_eq!(record.result, "refused: line-runaway", "{record:?}");
    assert!(
        record.traffic.to_upstream < 1024,
        "sent {sent}, upstream got {}",
        record.traffic.to_upstream
    );
    let commands = sink.commands();
    assert!(
        commands
            .iter()
            .all(|c| !c.contains("AAAA") && !c.contains("BBBB")),
        "{commands:?}"
    );
    assert_eq!(inbound.stop(&rt).0, Ok(()));
}

#[test]
fn a_dripping_client_is_cut_at_the_line_deadline() {
    let rt = runtime();
    let sink = Sink::start();
    let mut inbound = Running::start(&rt, Mode::Inbound, sink.addr, HOSTILE);
    let (mut s, _) = Smtp::connect(inbound.addr);
    assert!(s.cmd("EHLO c.test").starts_with("250"));
    let start = Instant::now();
    // One byte every 300 ms: each keeps the connection busy, none ends the line.
    let mut reply = String::new();
    for b in b"NOOP NOOP NOOP NOOP" {
        s.send(&[*b]);
        std::thread::sleep(Duration::from_millis(300));
        if start.elapsed() > Duration::from_millis(1500) {
            reply = s.reply();
            break;
        }
    }
    assert!(reply.starts_with("421 4.4.2"), "{reply:?}");
    assert!(start.elapsed() < Duration::from_secs(4));
    let record = inbound.record(&rt);
    assert_eq!(record.result, "refused: line-deadline", "{record:?}");
    assert_eq!(inbound.stop(&rt).0, Ok(()));
}

#[test]
fn one_address_gets_its_share_of_sessions_and_no_more() {
    let rt = runtime();
    let sink = Sink::start();
    let mut inbound = Running::start(&rt, Mode::Inbound, sink.addr, HOSTILE);
    let (_a, g1) = Smtp::connect(inbound.addr);
    let (_b, g2) = Smtp::connect(inbound.addr);
    assert!(g1.starts_with("220") && g2.starts_with("220"));
    let (_c, g3) = Smtp::connect(inbound.addr);
    assert!(g3.starts_with("421 4.7.0"), "{g3}");
    drop((_a, _b));
    for _ in 0..2 {
        let record = inbound.record(&rt);
        assert_eq!(record.result, "client closed the connection before QUIT");
    }
    // Their slots are given back.
    let (_d, g4) = Smtp::connect(inbound.addr);
    assert!(g4.starts_with("220"), "{g4}");
    assert_eq!(inbound.stop(&rt).0, Ok(()));
}

#[test]
fn a_slow_body_that_keeps_moving_is_not_cut() {
    let rt = runtime();
    let sink = Sink::start();
    let mut inbound = Running::start(&rt, Mode::Inbound, sink.addr, HOSTILE);
    let (mut s, _) = Smtp::connect(inbound.addr);
    assert!(s.cmd("EHLO c.test").starts_with("250"));
    assert!(s.cmd("MAIL FROM:<a@a.test>").starts_with("250"));
    assert!(s.cmd("RCPT TO:<b@b.test>").starts_with("250"));
    assert!(s.cmd("DATA").starts_with("354"));
    // One 7,000-octet body line in 700-octet pieces, 300 ms apart: 3 s in all, three
    // times the line deadline, but every piece completes a 512-octet record.
    let start = Instant::now();
    for _ in 0..10 {
        s.send(&[b'x'; 700]);
        std::thread::sleep(Duration::from_millis(300));
    }
    let reply = s.data_body(b"\r\n");
    assert!(reply.starts_with("250"), "{reply}");
    assert!(start.elapsed() > Duration::from_secs(2));
    let stored = sink.wait_for(1, 30);
    assert_eq!(stored[0].body.len(), 7002);
    drop(s);
    let record = inbound.record(&rt);
    assert!(!record.result.starts_with("refused"), "{record:?}");
    assert_eq!(inbound.stop(&rt).0, Ok(()));
}
