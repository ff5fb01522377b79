//! The gateway binary (`ssmail gateway`) run as a child process, its JSON log read as it
//! comes. The SMTP peers around it are the shared ones of `ssmail-testkit`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// `ssmail gateway` as a child process, its log read as it comes.
pub struct Gateway {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    lines: Receiver<Value>,
    /// Session records seen so far.
    pub sessions: Vec<Value>,
    _config: tempfile::NamedTempFile,
}

impl Gateway {
    /// Starts `ssmail gateway <mode>` listening on `listen` (port 0: any), forwarding to
    /// `upstream`, with `config` as its config file and `extra` flags.
    pub fn start(
        mode: &str,
        listen: &str,
        upstream: SocketAddr,
        config: &str,
        extra: &[&str],
    ) -> Self {
        let mut file = tempfile::NamedTempFile::new().expect("temp");
        file.write_all(config.as_bytes()).expect("write config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_ssmail"))
            .args(["gateway", mode, "--listen", listen, "--log-format", "json"])
            .arg("--upstream")
            .arg(upstream.to_string())
            .arg("--config")
            .arg(file.path())
            .args(extra)
            // Not inherited: a gateway left behind must not hold the test's output open.
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gateway");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| panic!("log line is not JSON: {line}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        // Notices (the cache file's state) may come first; the listening line says where.
        let end = Instant::now() + Duration::from_secs(20);
        let listening = loop {
            let left = end.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(v) if v["event"] == "listening" => break Some(v),
                Ok(_) => {}
                Err(_) => break None,
            }
        };
        let Some(listening) = listening else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the gateway never said where it listens");
        };
        let addr = listening["listen"]
            .as_str()
            .expect("listen")
            .parse()
            .expect("address");
        Self {
            child,
            addr,
            lines: rx,
            sessions: Vec::new(),
            _config: file,
        }
    }

    /// Waits until `n` sessions have been logged in all; returns them all.
    pub fn wait_sessions(&mut self, n: usize) -> &[Value] {
        let end = Instant::now() + Duration::from_secs(60);
        while self.sessions.len() < n {
            let left = end.saturating_duration_since(Instant::now());
            let v = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("{} of {n} sessions logged", self.sessions.len()));
            if v["event"] == "session" {
                self.sessions.push(v);
            }
        }
        &self.sessions
    }

    /// Replaces the config file's text (the gateway reads it again at SIGHUP).
    #[allow(dead_code, reason = "not every test binary reloads")]
    pub fn rewrite_config(&self, config: &str) {
        std::fs::write(self._config.path(), config).expect("rewrite config");
    }

    /// Sends the gateway `signal` (a name for kill(1): `HUP`).
    #[allow(dead_code, reason = "not every test binary signals")]
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{signal}");
    }

    /// Waits for a notice whose message contains `text`; returns the message.
    #[allow(dead_code, reason = "not every test binary reads notices")]
    pub fn wait_notice(&mut self, text: &str) -> String {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let v = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no notice with {text:?}"));
            if v["event"] == "session" {
                self.sessions.push(v);
            } else if let Some(m) = v["message"].as_str().filter(|m| m.contains(text)) {
                return m.to_owned();
            }
        }
    }

    /// SIGTERM, then waits for the exit; returns whether it exited with success.
    pub fn stop(mut self) -> bool {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success());
        ok && self.child.wait().is_ok_and(|s| s.success())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
