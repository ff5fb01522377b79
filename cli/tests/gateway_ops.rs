//! `ssmail gateway` as an operator runs it: SIGHUP reloads the config file for new
//! sessions (a bad file is refused and the running config stays), `--metrics-listen`
//! serves the Prometheus page, and `ssmail gateway check-config FILE` says whether a
//! file is good and, if not, where it is wrong (gateway/GATEWAY.md).
#![cfg(feature = "gateway")]

#[path = "support/gateway_process.rs"]
mod gateway_process;
#[path = "support/run.rs"]
mod run;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};

use gateway_process::Gateway;
use run::ssmail;
use ssmail_testkit::client::{Smtp, send_mail};
use ssmail_testkit::sink::Sink;

#[test]
fn sighup_reloads_the_config_for_new_sessions_only() {
    let sink = Sink::start();
    let mut gw = Gateway::start("inbound", "127.0.0.1:0", sink.addr, "", &[]);
    let (mut old, _) = Smtp::connect(gw.addr);
    let ehlo = old.cmd("EHLO old.test");
    assert!(ehlo.contains("XCRYPT t32_1.0 arrsyfor_1.0"), "{ehlo}");

    gw.rewrite_config("versions = [\"arrsyfor_1.0\"]\n");
    gw.signal("HUP");
    let said = gw.wait_notice("config reloaded");
    assert!(said.contains("versions=[arrsyfor_1.0]"), "{said}");
    let (mut new, _) = Smtp::connect(gw.addr);
    let ehlo = new.cmd("EHLO new.test");
    assert!(ehlo.ends_with("250 XCRYPT arrsyfor_1.0\r\n"), "{ehlo}");
    new.cmd("QUIT");

    // A broken file: refused, said on the log, and the config of the moment stays.
    gw.rewrite_config("versions = [\"arrsyfor_1.0\"]\n[limits]\nmax_sessions = 0\n");
    gw.signal("HUP");
    let said = gw.wait_notice("config reload refused");
    assert!(said.contains("limits.max_sessions"), "{said}");
    let (mut third, _) = Smtp::connect(gw.addr);
    let ehlo = third.cmd("EHLO third.test");
    assert!(ehlo.ends_with("250 XCRYPT arrsyfor_1.0\r\n"), "{ehlo}");
    third.cmd("QUIT");

    // The session that was running all along still delivers.
    assert!(old.cmd("MAIL FROM:<o@a.test>").starts_with("250"));
    assert!(old.cmd("RCPT TO:<p@b.test>").starts_with("250"));
    assert!(old.cmd("DATA").starts_with("354"));
    assert!(old.data_body(b"through a reload\r\n").starts_with("250"));
    assert!(old.cmd("QUIT").starts_with("221"));
    assert_eq!(sink.wait_for(1, 10)[0].body, b"through a reload\r\n");
    assert!(gw.stop(), "the reloads did not disturb a clean stop");
}

/// `GET /metrics` and the value of `series` on the page.
fn scraped(addr: SocketAddr, series: &str) -> Option<f64> {
    let mut s = TcpStream::connect(addr).expect("connect to metrics");
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
        .expect("request");
    let mut page = String::new();
    s.read_to_string(&mut page).expect("page");
    page.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (name, value) = l.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

#[test]
fn metrics_listen_serves_the_counters() {
    let sink = Sink::start();
    let mut gw = Gateway::start(
        "inbound",
        "127.0.0.1:0",
        sink.addr,
        "",
        &["--metrics-listen", "127.0.0.1:0"],
    );
    let said = gw.wait_notice("metrics on http://");
    let addr: SocketAddr = said
        .trim_start_matches("metrics on http://")
        .trim_end_matches("/metrics")
        .parse()
        .expect("an address");
    let ok = "ssmail_gateway_sessions_total{mode=\"inbound\",result=\"ok\"}";
    assert_eq!(scraped(addr, ok), None, "no session yet");
    send_mail(gw.addr, "m@a.test", "n@b.test", b"counted\r\n");
    gw.wait_sessions(1);
    assert_eq!(scraped(addr, ok), Some(1.0));
    assert_eq!(
        scraped(
            addr,
            "ssmail_gateway_xcrypt_sessions_total{version=\"none\"}"
        ),
        Some(1.0)
    );
}

#[test]
fn check_config_says_ok_or_where_the_file_is_wrong() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "versions = [\"t32_1.0\"]\nmetrics_listen = \"127.0.0.1:9925\"\n\
         [[route]]\nlisten = \"127.0.0.1:10026\"\nupstream = \"127.0.0.1:2525\"\n",
    )
    .expect("write");
    let out = ssmail(&["gateway", "check-config", good.to_str().expect("utf-8")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.starts_with(&format!("ok: {} (inbound, outbound)", good.display())),
        "{stdout}"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "versions = [\"t32_1.0\"]\n[timeouts]\nsession_secs = 0\n",
    )
    .expect("write");
    let out = ssmail(&["gateway", "check-config", bad.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "ssmail: {}: line 3: timeouts.session_secs:",
            bad.display()
        )),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    // Valid for outbound only: passes as such, and fails when checked as inbound.
    let outbound = dir.path().join("outbound.toml");
    std::fs::write(&outbound, "require_xcrypt = true\n").expect("write");
    let path = outbound.to_str().expect("utf-8");
    let out = ssmail(&["gateway", "check-config", path]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("(outbound)"));
    let out = ssmail(&["gateway", "check-config", "--mode", "inbound", path]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1: require_xcrypt"));

    let out = ssmail(&["gateway", "check-config", "/nonexistent/gateway.toml"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
