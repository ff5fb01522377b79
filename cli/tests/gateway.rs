//! `ssmail gateway` as a process between SMTP peers written for these tests (the real
//! peers, Postfix, aiosmtpd, swaks and a packet capture, are in `e2e/gateway.sh`):
//! byte-exact delivery, the EHLO rewriting, fallback, the key cache across sessions,
//! and the faults of gateway/GATEWAY.md. The gateway library in this process, without
//! the binary, is tested in `gateway/tests/in_process.rs`.
#![cfg(feature = "gateway")]

#[path = "support/gateway_process.rs"]
mod gateway_process;

use std::thread;
use std::time::{Duration, Instant};

use gateway_process::Gateway;
use ssmail_testkit::client::{Smtp, closed_port, message, send_mail, stuff};
use ssmail_testkit::mta::Style;
use ssmail_testkit::sink::Sink;

/// Short timeouts so that the fault tests run in seconds.
const QUICK: &str = "[timeouts]\nconnect_secs = 2\nidle_secs = 1\n";

/// An inbound gateway in front of `sink`, and an outbound one in front of that.
fn pair(sink: &Sink, config: &str) -> (Gateway, Gateway) {
    let inbound = Gateway::start("inbound", "127.0.0.1:0", sink.addr, config, &[]);
    let outbound = Gateway::start("outbound", "127.0.0.1:0", inbound.addr, config, &[]);
    (inbound, outbound)
}

#[test]
fn mail_arrives_byte_for_byte_through_the_pair_and_the_cache_is_shared() {
    let sink = Sink::start();
    let (mut inbound, mut outbound) = pair(&sink, "");
    let sizes = [1024, 100 * 1024, 10 * 1024 * 1024];
    let bodies: Vec<Vec<u8>> = sizes
        .iter()
        .map(|&n| message(&format!("size-{n}"), n))
        .collect();
    for (i, body) in bodies.iter().enumerate() {
        send_mail(outbound.addr, &format!("a{i}@a.test"), "b@b.test", body);
    }
    let stored = sink.wait_for(3, 30);
    for (i, body) in bodies.iter().enumerate() {
        assert_eq!(stored[i].from, format!("<a{i}@a.test>"));
        assert_eq!(stored[i].to, vec!["<b@b.test>".to_owned()]);
        assert!(stored[i].body == *body, "message {i} changed on the way");
    }
    // The MTA saw exactly the sender's commands: nothing added, nothing of XCRYPT.
    let commands = sink.commands();
    assert!(
        commands
            .iter()
            .all(|c| !c.to_ascii_uppercase().contains("XCRYPT"))
    );
    for side in [&mut inbound, &mut outbound] {
        let logs = side.wait_sessions(3).to_vec();
        for (i, s) in logs.iter().enumerate() {
            assert_eq!(s["xcrypt"], true, "{s}");
            assert_eq!(s["suite"], "t32_1.0", "{s}");
            assert_eq!(s["result"], "ok", "{s}");
            // One Diffie-Hellman per peer and key lifetime: only the first session misses.
            assert_eq!(s["cache"], if i == 0 { "miss" } else { "hit" }, "{s}");
        }
    }
    let out_logs = outbound.wait_sessions(3);
    let big = &out_logs[2];
    assert!(big["from_client"].as_u64().expect("count") > 10 * 1024 * 1024);
    assert!(inbound.stop(), "SIGTERM ends the gateway with success");
    assert!(outbound.stop());
}

#[test]
fn pipelined_commands_and_bdat_chunks_pass_through_an_encrypted_hop() {
    let sink = Sink::start();
    let (_inbound, outbound) = pair(&sink, "");
    let (mut s, _) = Smtp::connect(outbound.addr);
    let ehlo = s.cmd("EHLO client.test");
    assert!(
        ehlo.contains("PIPELINING") && ehlo.contains("CHUNKING"),
        "{ehlo}"
    );
    assert!(
        !ehlo.contains("XCRYPT"),
        "the local client never sees XCRYPT: {ehlo}"
    );
    // Postfix's way: MAIL, RCPT, RCPT and DATA in one segment.
    s.send(b"MAIL FROM:<p@a.test>\r\nRCPT TO:<x@b.test>\r\nRCPT TO:<y@b.test>\r\nDATA\r\n");
    for expect in ["250", "250", "250", "354"] {
        let r = s.reply();
        assert!(r.starts_with(expect), "{r}");
    }
    let body = message("piped", 5000);
    assert!(s.data_body(&body).starts_with("250"));
    // BDAT: a chunk holding what looks like the end of data and XCRYPT lines.
    let chunk1 = b"Subject: bdat\r\n\r\n.\r\nXCRYPT OK\r\n";
    let chunk2 = b"\r\n.\r\nend\r\n";
    s.send(b"MAIL FROM:<q@a.test>\r\nRCPT TO:<z@b.test>\r\n");
    assert!(s.reply().starts_with("250"));
    assert!(s.reply().starts_with("250"));
    s.send(format!("BDAT {}\r\n", chunk1.len()).as_bytes());
    s.send(chunk1);
    assert!(s.reply().starts_with("250"));
    s.send(format!("BDAT {} LAST\r\n", chunk2.len()).as_bytes());
    s.send(chunk2);
    assert!(s.reply().starts_with("250"));
    assert!(s.cmd("QUIT").starts_with("221"));
    let stored = sink.wait_for(2, 10);
    assert_eq!(stored[0].to.len(), 2);
    assert!(stored[0].body == body);
    assert_eq!(stored[1].body, [&chunk1[..], &chunk2[..]].concat());
}

#[test]
fn inbound_offers_xcrypt_and_hides_what_it_cannot_carry() {
    let sink = Sink::with(Style {
        keywords: vec![
            "PIPELINING",
            "STARTTLS",
            "PIPECONNECT",
            "XCRYPT foo_9.9",
            "CHUNKING",
        ],
        ..Style::default()
    });
    let inbound = Gateway::start("inbound", "127.0.0.1:0", sink.addr, "", &[]);
    let (mut s, greeting) = Smtp::connect(inbound.addr);
    assert!(greeting.starts_with("220 sink.test"));
    let ehlo = s.cmd("EHLO plain.test");
    assert_eq!(
        ehlo,
        "250-sink.test\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 XCRYPT t32_1.0 arrsyfor_1.0\r\n"
    );
    s.cmd("QUIT");
}

#[test]
fn plain_peers_on_either_side_still_get_their_mail_delivered() {
    let sink = Sink::start();
    // A plain client straight to the inbound gateway.
    let mut inbound = Gateway::start("inbound", "127.0.0.1:0", sink.addr, "", &[]);
    let body = message("plain-client", 3000);
    send_mail(inbound.addr, "c@a.test", "d@b.test", &body);
    // The outbound gateway straight to a plain server.
    let mut outbound = Gateway::start("outbound", "127.0.0.1:0", sink.addr, "", &[]);
    let body2 = message("plain-server", 3000);
    send_mail(outbound.addr, "e@a.test", "f@b.test", &body2);
    let stored = sink.wait_for(2, 10);
    assert!(stored[0].body == body && stored[1].body == body2);
    let i = &inbound.wait_sessions(1)[0];
    assert_eq!(i["xcrypt"], false);
    assert_eq!(i["result"], "ok");
    let o = &outbound.wait_sessions(1)[0];
    assert_eq!(o["xcrypt"], false);
    assert_eq!(o["fallback"], "not-offered");
}

#[test]
fn a_malformed_xcrypt_gets_501_and_then_plaintext_service() {
    let sink = Sink::start();
    let inbound = Gateway::start("inbound", "127.0.0.1:0", sink.addr, "", &[]);
    let (mut s, _) = Smtp::connect(inbound.addr);
    s.cmd("EHLO odd.test");
    let r = s.cmd("XCRYPT t32_1.0 zz zz");
    assert!(r.starts_with("501 XCRYPT FAIL"), "{r}");
    let r = s.cmd(&format!(
        "XCRYPT t32_1.0 {} {}",
        "0".repeat(1000),
        "1".repeat(40)
    ));
    assert!(r.starts_with("501"), "an over-long XCRYPT line: {r}");
    assert!(s.cmd("MAIL FROM:<g@a.test>").starts_with("250"));
    assert!(s.cmd("RCPT TO:<h@b.test>").starts_with("250"));
    assert!(s.cmd("DATA").starts_with("354"));
    assert!(s.data_body(b"still delivered\r\n").starts_with("250"));
    assert!(s.cmd("QUIT").starts_with("221"));
    assert_eq!(sink.wait_for(1, 10)[0].body, b"still delivered\r\n");
    // The MTA never saw the XCRYPT lines.
    let commands = sink.commands();
    assert!(
        !commands.iter().any(|c| c.contains("XCRYPT")),
        "{commands:?}"
    );
}

#[test]
fn an_upstream_that_is_down_or_dies_gives_the_sender_a_4xx() {
    // Down: nothing listens.
    let mut inbound = Gateway::start("inbound", "127.0.0.1:0", closed_port(), QUICK, &[]);
    let (_, greeting) = Smtp::connect(inbound.addr);
    assert!(greeting.starts_with("421 4.4.1"), "{greeting}");
    let log = &inbound.wait_sessions(1)[0];
    assert!(
        log["result"]
            .as_str()
            .expect("text")
            .starts_with("upstream unavailable")
    );
    // Dies after the greeting and EHLO: the next command gets a 421, through an
    // encrypted hop.
    let sink = Sink::with(Style {
        die_after: Some(1),
        ..Style::default()
    });
    let (_inbound, outbound) = pair(&sink, QUICK);
    let (mut s, _) = Smtp::connect(outbound.addr);
    assert!(s.cmd("EHLO c.test").starts_with("250"));
    let r = s.cmd("MAIL FROM:<x@a.test>");
    assert!(r.starts_with("421"), "{r}");
    assert!(s.closed_within(Duration::from_secs(5)));
}

#[test]
fn a_client_that_drops_in_the_middle_of_data_delivers_nothing() {
    let sink = Sink::start();
    let (_inbound, mut outbound) = pair(&sink, QUICK);
    let (mut s, _) = Smtp::connect(outbound.addr);
    s.cmd("EHLO c.test");
    s.cmd("MAIL FROM:<x@a.test>");
    s.cmd("RCPT TO:<y@b.test>");
    assert!(s.cmd("DATA").starts_with("354"));
    s.send(&stuff(&message("half", 50_000))[..30_000]);
    s.drop_now();
    // The sink's connection ends without a message.
    sink.wait_closed(1, 10);
    assert!(sink.stored().is_empty());
    let log = &outbound.wait_sessions(1)[0];
    assert_eq!(log["xcrypt"], true);
    assert_ne!(log["result"], "ok");
}

#[test]
fn sessions_succeed_again_after_the_far_gateway_restarts() {
    let sink = Sink::start();
    let (inbound, mut outbound) = pair(&sink, "");
    let port = inbound.addr.to_string();
    send_mail(outbound.addr, "r1@a.test", "s@b.test", b"before\r\n");
    assert!(inbound.stop());
    // Meanwhile the sender hears 421 and keeps its mail.
    let (_, greeting) = Smtp::connect(outbound.addr);
    assert!(greeting.starts_with("421"), "{greeting}");
    let _again = Gateway::start("inbound", &port, sink.addr, "", &[]);
    send_mail(outbound.addr, "r2@a.test", "s@b.test", b"after\r\n");
    let stored = sink.wait_for(2, 10);
    assert_eq!(stored[1].body, b"after\r\n");
    let logs = outbound.wait_sessions(3);
    assert_eq!(logs[2]["xcrypt"], true);
    // A new key on the far side: a new shared secret.
    assert_eq!(logs[2]["cache"], "miss");
}

#[test]
fn silent_clients_and_silent_upstreams_time_out() {
    let sink = Sink::start();
    let mut inbound = Gateway::start("inbound", "127.0.0.1:0", sink.addr, QUICK, &[]);
    let (mut s, greeting) = Smtp::connect(inbound.addr);
    assert!(greeting.starts_with("220"));
    let t = Instant::now();
    let r = s.reply();
    assert!(r.starts_with("421 4.4.2"), "{r}");
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(
        inbound.wait_sessions(1)[0]["result"],
        "timeout waiting for the client"
    );

    let silent = Sink::with(Style {
        silent: true,
        ..Style::default()
    });
    let mut outbound = Gateway::start("outbound", "127.0.0.1:0", silent.addr, QUICK, &[]);
    let (_, greeting) = Smtp::connect(outbound.addr);
    assert!(greeting.starts_with("421 4.4.2"), "{greeting}");
    assert_eq!(
        outbound.wait_sessions(1)[0]["result"],
        "timeout waiting for the upstream"
    );
}

#[test]
fn long_lines_and_garbage_get_errors_and_the_gateway_stays_up() {
    let sink = Sink::start();
    let (_inbound, mut outbound) = pair(&sink, QUICK);
    let (mut s, _) = Smtp::connect(outbound.addr);
    s.cmd("EHLO c.test");
    let long = format!("NOOP {}", "x".repeat(20_000));
    let r = s.cmd(&long);
    assert!(r.starts_with("500"), "{r}");
    let garbage: Vec<u8> = (0u32..3000)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let garbage: Vec<u8> = garbage.into_iter().filter(|&b| b != b'\n').collect();
    s.send(&garbage);
    s.send(b"\r\n");
    assert!(s.reply().starts_with("500"));
    assert!(s.cmd("QUIT").starts_with("221"));
    // Later sessions are served as usual.
    send_mail(outbound.addr, "t@a.test", "u@b.test", b"fine\r\n");
    assert_eq!(sink.wait_for(1, 10)[0].body, b"fine\r\n");
    let logs = outbound.wait_sessions(2);
    assert!(logs.iter().all(|l| l["xcrypt"] == true));
}

#[test]
fn require_xcrypt_keeps_mail_from_a_plain_far_end() {
    let sink = Sink::start();
    let mut strict = Gateway::start(
        "outbound",
        "127.0.0.1:0",
        sink.addr,
        "",
        &["--require-xcrypt"],
    );
    let (mut s, greeting) = Smtp::connect(strict.addr);
    assert!(greeting.starts_with("220"));
    let r = s.cmd("EHLO c.test");
    assert!(r.starts_with("421 4.7.0"), "{r}");
    assert!(s.closed_within(Duration::from_secs(5)));
    let log = &strict.wait_sessions(1)[0];
    assert_eq!(log["fallback"], "not-offered");
    // Nothing but the EHLO went to the plain server.
    sink.wait_closed(1, 10);
    assert_eq!(sink.commands(), vec!["EHLO c.test".to_owned()]);
    // Through an inbound gateway the same route delivers.
    let inbound = Gateway::start("inbound", "127.0.0.1:0", sink.addr, "", &[]);
    let strict2 = Gateway::start(
        "outbound",
        "127.0.0.1:0",
        inbound.addr,
        "",
        &["--require-xcrypt"],
    );
    send_mail(strict2.addr, "v@a.test", "w@b.test", b"encrypted only\r\n");
    assert_eq!(sink.wait_for(1, 10)[0].body, b"encrypted only\r\n");
}

#[test]
fn sessions_beyond_the_limit_are_turned_away_with_421() {
    let sink = Sink::start();
    let inbound = Gateway::start(
        "inbound",
        "127.0.0.1:0",
        sink.addr,
        "[limits]\nmax_sessions = 1\n",
        &[],
    );
    let (mut first, greeting) = Smtp::connect(inbound.addr);
    assert!(greeting.starts_with("220"));
    let (_, second) = Smtp::connect(inbound.addr);
    assert!(second.starts_with("421 4.3.2"), "{second}");
    first.cmd("QUIT");
}

#[test]
fn many_concurrent_sessions_each_deliver_exactly_once() {
    let sink = Sink::start();
    let (_inbound, mut outbound) = pair(&sink, "");
    let addr = outbound.addr;
    let senders: Vec<_> = (0..40)
        .map(|i| {
            thread::spawn(move || {
                for j in 0..5 {
                    let tag = format!("m{i}x{j}");
                    send_mail(
                        addr,
                        &format!("{tag}@a.test"),
                        "z@b.test",
                        &message(&tag, 2000),
                    );
                }
            })
        })
        .collect();
    for s in senders {
        s.join().expect("sender");
    }
    let stored = sink.wait_for(200, 30);
    let mut tags: Vec<String> = stored.iter().map(|m| m.from.clone()).collect();
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), 200, "every message exactly once");
    for m in &stored {
        let tag = m.from.trim_start_matches('<').trim_end_matches("@a.test>");
        assert!(m.body == message(tag, 2000));
    }
    let logs = outbound.wait_sessions(200);
    assert!(logs.iter().all(|l| l["xcrypt"] == true));
    assert_eq!(logs.iter().filter(|l| l["cache"] == "miss").count(), 1);
}

#[test]
fn the_cache_file_carries_keys_across_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("keys");
    let config = format!("cache_file = {:?}\n", file.display().to_string());
    let sink = Sink::start();
    let inbound = Gateway::start("inbound", "127.0.0.1:0", sink.addr, &config, &[]);
    let port = inbound.addr.to_string();
    let mut outbound = Gateway::start("outbound", "127.0.0.1:0", inbound.addr, "", &[]);
    send_mail(outbound.addr, "k1@a.test", "s@b.test", b"one\r\n");
    assert!(inbound.stop(), "saves the cache on the way out");
    let mode = std::fs::metadata(&file).expect("cache file written");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        mode.permissions().mode() & 0o777,
        0o600,
        "owner-only: it holds secrets"
    );
    // Same key pair after the restart: both sides find the shared secret cached.
    let mut again = Gateway::start("inbound", &port, sink.addr, &config, &[]);
    send_mail(outbound.addr, "k2@a.test", "s@b.test", b"two\r\n");
    sink.wait_for(2, 10);
    assert_eq!(outbound.wait_sessions(2)[1]["cache"], "hit");
    assert_eq!(again.wait_sessions(1)[0]["cache"], "hit");
}
