//! The gateway's log: a line when a listener starts, and one line per session (peer,
//! whether XCRYPT was used, suite, cache hit, bytes, result), as `key=value` text or
//! JSON, on stderr.

use std::io::Write as _;
use std::net::SocketAddr;

use serde_json::json;
use ssmail_core::Lookup;
use ssmail_core::xcrypt::Fallback;

use crate::config::{LogFormat, Mode};

/// What one session did.
#[derive(Debug)]
pub struct SessionRecord {
    /// Inbound or outbound.
    pub mode: Mode,
    /// The client's address.
    pub peer: SocketAddr,
    /// The upstream, as configured.
    pub upstream: String,
    /// The version encryption ran with, if it came on.
    pub suite: Option<&'static str>,
    /// Whether the session's shared secret came from the key cache.
    pub cache: Option<Lookup>,
    /// Why the session stayed in plaintext, if XCRYPT was tried or looked for.
    pub fallback: Option<Fallback>,
    /// Bytes each way.
    pub traffic: Traffic,
    /// How long the session lasted, in milliseconds.
    pub ms: u64,
    /// `ok`, or what went wrong.
    pub result: String,
}

/// Bytes a session moved, per connection and direction.
#[derive(Debug, Default, Clone, Copy)]
pub struct Traffic {
    /// Read from the client.
    pub from_client: u64,
    /// Written to the client.
    pub to_client: u64,
    /// Read from the upstream.
    pub from_upstream: u64,
    /// Written to the upstream.
    pub to_upstream: u64,
}

impl SessionRecord {
    /// The record as one log line (no newline).
    pub fn line(&self, format: LogFormat) -> String {
        let cache = self.cache.map(|l| match l {
            Lookup::Hit => "hit",
            Lookup::Miss => "miss",
        });
        let fallback = self.fallback.map(fallback_name);
        let t = self.traffic;
        match format {
            LogFormat::Json => json!({
                "event": "session",
                "mode": self.mode.name(),
                "peer": self.peer.to_string(),
                "upstream": self.upstream,
                "xcrypt": self.suite.is_some(),
                "suite": self.suite,
                "cache": cache,
                "fallback": fallback,
                "from_client": t.from_client,
                "to_client": t.to_client,
                "from_upstream": t.from_upstream,
                "to_upstream": t.to_upstream,
                "ms": self.ms,
                "result": self.result,
            })
            .to_string(),
            LogFormat::Text => format!(
                "session mode={} peer={} upstream={} xcrypt={} suite={} cache={} fallback={} \
                 from_client={} to_client={} from_upstream={} to_upstream={} ms={} result={}",
                self.mode.name(),
                self.peer,
                self.upstream,
                if self.suite.is_some() { "yes" } else { "no" },
                self.suite.unwrap_or("-"),
                cache.unwrap_or("-"),
                fallback.as_deref().unwrap_or("-"),
                t.from_client,
                t.to_client,
                t.from_upstream,
                t.to_upstream,
                self.ms,
                quote(&self.result),
            ),
        }
    }
}

/// The log's name for a fallback reason.
pub fn fallback_name(f: Fallback) -> String {
    match f {
        Fallback::NotOffered => "not-offered".into(),
        Fallback::NoCommonVersion => "no-common-version".into(),
        Fallback::Refused { code } => format!("refused-{code}"),
        Fallback::NotSupported { code } => format!("not-supported-{code}"),
        Fallback::BadServerKey => "bad-server-key".into(),
        Fallback::BadReply => "bad-reply".into(),
        Fallback::LocalFailure => "local-failure".into(),
        Fallback::Pipelined => "pipelined".into(),
        Fallback::ClientFailed => "client-failed".into(),
        Fallback::ClientAbandoned => "client-abandoned".into(),
        _ => "other".into(),
    }
}

/// A value that may hold spaces, quoted for the text format.
fn quote(s: &str) -> String {
    if s.contains(|c: char| c.is_whitespace() || c == '"') {
        format!("{s:?}")
    } else {
        s.to_owned()
    }
}

/// A listener came up.
pub fn listening(format: LogFormat, mode: Mode, listen: &str, upstream: &str, require: bool) {
    let line = match format {
        LogFormat::Json => json!({
            "event": "listening",
            "mode": mode.name(),
            "listen": listen,
            "upstream": upstream,
            "require_xcrypt": require,
        })
        .to_string(),
        LogFormat::Text => format!(
            "ssmail gateway: listening mode={} listen={listen} upstream={upstream} \
             require_xcrypt={require}",
            mode.name()
        ),
    };
    emit(&line);
}

/// Something about the process rather than a session (cache file, shutdown).
pub fn notice(format: LogFormat, what: &str) {
    let line = match format {
        LogFormat::Json => json!({ "event": "notice", "message": what }).to_string(),
        LogFormat::Text => format!("ssmail gateway: {what}"),
    };
    emit(&line);
}

/// A client refused, or its session cut short, for `reason`.
pub fn refused(format: LogFormat, reason: &str, peer: SocketAddr) {
    let line = match format {
        LogFormat::Json => {
            json!({ "event": "refused", "reason": reason, "peer": peer.to_string() }).to_string()
        }
        LogFormat::Text => format!("refused reason={reason} peer={peer}"),
    };
    emit(&line);
}

/// `count` refusals for `reason` were not logged (over the lines-per-second budget).
pub fn suppressed(format: LogFormat, reason: &str, count: u64) {
    let line = match format {
        LogFormat::Json => {
            json!({ "event": "refused-suppressed", "reason": reason, "count": count }).to_string()
        }
        LogFormat::Text => format!("refused reason={reason} suppressed={count}"),
    };
    emit(&line);
}

/// A session ended.
pub fn session(format: LogFormat, record: &SessionRecord) {
    emit(&record.line(format));
}

/// Writes one line to stderr. A failed write is dropped: the log must never stop mail.
fn emit(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn parse(line: &str) -> Value {
        serde_json::from_str(line).expect("JSON")
    }

    fn record() -> SessionRecord {
        SessionRecord {
            mode: Mode::Outbound,
            peer: "127.0.0.1:4000".parse().expect("addr"),
            upstream: "mx.test:25".into(),
            suite: Some("t32_1.0"),
            cache: Some(Lookup::Hit),
            fallback: None,
            traffic: Traffic {
                from_client: 1,
                to_client: 2,
                from_upstream: 3,
                to_upstream: 4,
            },
            ms: 5,
            result: "ok".into(),
        }
    }

    #[test]
    fn json_and_text_carry_the_same_fields() {
        let r = record();
        let v = parse(&r.line(LogFormat::Json));
        assert_eq!(v["xcrypt"], true);
        assert_eq!(v["suite"], "t32_1.0");
        assert_eq!(v["cache"], "hit");
        assert_eq!(v["fallback"], Value::Null);
        assert_eq!(v["to_upstream"], 4);
        assert_eq!(
            r.line(LogFormat::Text),
            "session mode=outbound peer=127.0.0.1:4000 upstream=mx.test:25 xcrypt=yes \
             suite=t32_1.0 cache=hit fallback=- from_client=1 to_client=2 from_upstream=3 \
             to_upstream=4 ms=5 result=ok"
        );
        let plain = SessionRecord {
            suite: None,
            cache: None,
            fallback: Some(Fallback::NotSupported { code: 500 }),
            result: "upstream unavailable: refused".into(),
            ..record()
        };
        let v = parse(&plain.line(LogFormat::Json));
        assert_eq!(v["xcrypt"], false);
        assert_eq!(v["fallback"], "not-supported-500");
        assert!(
            plain
                .line(LogFormat::Text)
                .ends_with("result=\"upstream unavailable: refused\"")
        );
    }
}
