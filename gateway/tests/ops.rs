//! The operator's side of the gateway, in this process: the metrics endpoint scraped over
//! HTTP while sessions run, and a config reload while a session holds the old config
//! (the SIGHUP path through the binary is tested in `cli/tests/gateway.rs`).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use ssmail_gateway::{Config, Gateway, Mode, Options, Reloader};
use ssmail_testkit::client::{Smtp, send_mail};
use ssmail_testkit::sink::Sink;
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn options(mode: Mode, upstream: SocketAddr) -> Options {
    Options {
        listen: Some("127.0.0.1:0".into()),
        upstream: Some(upstream.to_string()),
        metrics_listen: Some("127.0.0.1:0".into()),
        ..Options::new(mode)
    }
}

/// A gateway serving on `rt` (until the runtime is dropped): its address, its metrics
/// address and its reloader.
fn start(rt: &Runtime, options: &Options, toml: &str) -> (SocketAddr, SocketAddr, Reloader) {
    let config = Config::from_toml(options, toml).unwrap();
    let gateway = rt.block_on(Gateway::bind(config)).unwrap();
    let addr = gateway.local_addrs()[0];
    let metrics = gateway.metrics_addr().expect("metrics_listen is set");
    let reloader = gateway.reloader();
    rt.spawn(gateway.serve(std::future::pending()));
    (addr, metrics, reloader)
}

/// `GET /metrics`, parsed: each sample line's series and value.
fn scrape(addr: SocketAddr) -> Vec<(String, f64)> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    let mut page = String::new();
    s.read_to_string(&mut page).unwrap();
    let (head, body) = page.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap())
        })
        .collect()
}

fn value(samples: &[(String, f64)], series: &str) -> f64 {
    samples
        .iter()
        .find(|(s, _)| s == series)
        .map_or(0.0, |(_, v)| *v)
}

/// Scrapes until `series` reaches `want` (session records are counted as the session
/// task ends, a moment after the client saw its last reply).
fn wait_for(addr: SocketAddr, series: &str, want: f64) -> Vec<(String, f64)> {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let samples = scrape(addr);
        if value(&samples, series) == want || Instant::now() > end {
            assert_eq!(value(&samples, series), want, "{series}: {samples:?}");
            return samples;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_metrics_follow_sessions_xcrypt_and_the_key_cache() {
    let rt = runtime();
    let sink = Sink::start();
    let (inbound, in_metrics, _) = start(&rt, &options(Mode::Inbound, sink.addr), "");
    let (outbound, out_metrics, _) = start(&rt, &options(Mode::Outbound, inbound), "");

    // A session in progress shows as active before it has ended.
    let (mut s, _) = Smtp::connect(outbound);
    assert!(s.cmd("EHLO c.test").starts_with("250"));
    let during = wait_for(
        in_metrics,
        "ssmail_gateway_sessions_active{mode=\"inbound\"}",
        1.0,
    );
    assert_eq!(
        value(
            &during,
            "ssmail_gateway_key_cache_lookups_total{result=\"miss\"}"
        ),
        1.0,
        "the exchange at EHLO computed one shared secret"
    );
    assert!(s.cmd("QUIT").starts_with("221"));
    send_mail(outbound, "a@a.test", "b@b.test", b"two\r\n");
    send_mail(outbound, "a@a.test", "b@b.test", b"three\r\n");

    let after = wait_for(
        in_metrics,
        "ssmail_gateway_sessions_total{mode=\"inbound\",result=\"ok\"}",
        3.0,
    );
    let v = |s: &str| value(&after, s);
    assert_eq!(v("ssmail_gateway_sessions_active{mode=\"inbound\"}"), 0.0);
    assert_eq!(
        v("ssmail_gateway_xcrypt_sessions_total{version=\"t32_1.0\"}"),
        3.0
    );
    assert_eq!(
        v("ssmail_gateway_key_cache_lookups_total{result=\"miss\"}"),
        1.0
    );
    assert_eq!(
        v("ssmail_gateway_key_cache_lookups_total{result=\"hit\"}"),
        2.0
    );
    assert_eq!(v("ssmail_gateway_dh_seconds_count"), 1.0);
    assert!(v("ssmail_gateway_bytes_total{direction=\"to_upstream\"}") > 0.0);
    let out = wait_for(
        out_metrics,
        "ssmail_gateway_sessions_total{mode=\"outbound\",result=\"ok\"}",
        3.0,
    );
    assert_eq!(
        value(
            &out,
            "ssmail_gateway_xcrypt_sessions_total{version=\"t32_1.0\"}"
        ),
        3.0
    );
    assert_eq!(sink.wait_for(2, 10).len(), 2);
}

#[test]
fn a_reload_reaches_new_sessions_and_spares_the_running_one() {
    let rt = runtime();
    let sink = Sink::start();
    let opts = options(Mode::Inbound, sink.addr);
    let (addr, metrics, reloader) = start(&rt, &opts, "[timeouts]\nclient_idle_secs = 30\n");

    let (mut old, _) = Smtp::connect(addr);
    let ehlo = old.cmd("EHLO old.test");
    assert!(ehlo.contains("XCRYPT t32_1.0 arrsyfor_1.0"), "{ehlo}");

    reloader
        .reload(Config::from_toml(
            &opts,
            "versions = [\"arrsyfor_1.0\"]\n[timeouts]\nclient_idle_secs = 0.5\n",
        ))
        .unwrap();
    // A bad file changes nothing.
    assert!(
        reloader
            .reload(Config::from_toml(&opts, "versions = [\"t32_2.0\"]\n"))
            .is_err()
    );
    assert_eq!(reloader.current().versions.len(), 1);

    let (mut new, _) = Smtp::connect(addr);
    let ehlo = new.cmd("EHLO new.test");
    assert!(ehlo.contains("XCRYPT arrsyfor_1.0\r\n"), "{ehlo}");
    assert!(!ehlo.contains("t32"), "{ehlo}");
    // The new session runs with the new timeout: cut after half a second of silence.
    let r = new.reply();
    assert!(r.starts_with("421 4.4.2"), "{r}");

    // The old session, silent for longer than the new timeout, is still served with
    // its own config and delivers.
    std::thread::sleep(Duration::from_secs(1));
    assert!(old.cmd("MAIL FROM:<o@a.test>").starts_with("250"));
    assert!(old.cmd("RCPT TO:<p@b.test>").starts_with("250"));
    assert!(old.cmd("DATA").starts_with("354"));
    assert!(old.data_body(b"kept\r\n").starts_with("250"));
    assert!(old.cmd("QUIT").starts_with("221"));
    assert_eq!(sink.wait_for(1, 10)[0].body, b"kept\r\n");

    let samples = scrape(metrics);
    assert_eq!(
        value(
            &samples,
            "ssmail_gateway_config_reloads_total{result=\"ok\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "ssmail_gateway_config_reloads_total{result=\"refused\"}"
        ),
        1.0
    );
}
