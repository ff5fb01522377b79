//! The gateway's settings: the config file (TOML, every key optional) with the command
//! line on top. Everything is checked here, before a socket is opened, so that a typo
//! is a one-line usage error and not a surprise at the first session.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use ssmail_core::DEFAULT_LIFETIME_SECS;
use ssmail_core::xcrypt::Version;

use crate::dh::Batching;
use crate::error::Error;
use crate::limits::{ClientLimits, Net};

/// Which side of the mail hop the gateway stands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// In front of the receiving MTA: the server side of the dialogue.
    Inbound,
    /// The sending MTA's relay host: the client side.
    Outbound,
}

impl Mode {
    /// The name used on the command line and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
        }
    }
}

/// How session log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `key=value` pairs.
    Text,
    /// One JSON object per line.
    Json,
}

/// What the command line says: the gateway's side, one route, a config file, and the
/// flags that override the file.
#[derive(Debug, Clone)]
pub struct Options {
    /// Inbound or outbound.
    pub mode: Mode,
    /// Where to listen (ADDR:PORT); with `upstream`, one route.
    pub listen: Option<String>,
    /// Where to forward (HOST:PORT); with `listen`, one route.
    pub upstream: Option<String>,
    /// The config file (TOML), if any.
    pub config: Option<PathBuf>,
    /// The session log's format, over the file's.
    pub log_format: Option<LogFormat>,
    /// Outbound: never send mail to any upstream in plaintext, over the file's.
    pub require_xcrypt: bool,
    /// Where to serve the metrics (ADDR:PORT), over the file's `metrics_listen`.
    pub metrics_listen: Option<String>,
}

impl Options {
    /// Options with one route and nothing else set.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            listen: None,
            upstream: None,
            config: None,
            log_format: None,
            require_xcrypt: false,
            metrics_listen: None,
        }
    }
}

/// One listener and where its sessions go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// ADDR:PORT to listen on.
    pub listen: String,
    /// HOST:PORT to forward to.
    pub upstream: String,
    /// Outbound: never send to this upstream in plaintext.
    pub require_xcrypt: bool,
}

/// Time limits of a session.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Connecting to the upstream.
    pub connect: Duration,
    /// The client silent this long, when it is its turn, ends the session.
    pub client_idle: Duration,
    /// The upstream silent this long, when a reply is due, ends the session.
    pub upstream_idle: Duration,
    /// A whole session at most.
    pub session: Duration,
}

/// Everything the gateway runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Inbound or outbound.
    pub mode: Mode,
    /// Versions offered (inbound, in this order) or accepted (outbound).
    pub versions: Vec<Version>,
    /// Lifetime of our own key pair, in seconds.
    pub key_lifetime: u64,
    /// The key cache on disk, if any.
    pub cache_file: Option<PathBuf>,
    /// Session log format.
    pub log_format: LogFormat,
    /// Time limits.
    pub timeouts: Timeouts,
    /// Concurrent sessions at most.
    pub max_sessions: usize,
    /// On a shutdown signal, how long running sessions may go on.
    pub grace: Duration,
    /// The listeners.
    pub routes: Vec<Route>,
    /// Where the Prometheus metrics are served (`GET /metrics`), if anywhere.
    pub metrics_listen: Option<String>,
    /// Per-client limits (anvil-style).
    pub clients: ClientLimits,
    /// Defences against hostile clients: line limits, deadlines, stress, the DH pool.
    pub hardening: Hardening,
}

/// Defences against hostile clients, beyond the per-client limits (GATEWAY.md, "Hostile
/// clients").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hardening {
    /// Command lines longer than this (CRLF included) get 500 (Postfix's
    /// `line_length_limit`: 2048).
    pub line_length: usize,
    /// Errors in one session before 421 and close (Postfix's `smtpd_hard_error_limit`: 20).
    pub hard_error_limit: u32,
    /// A command line (or a body record of `line_length` octets) must be complete this
    /// long after its first octet (Postfix's `smtpd_per_record_deadline`).
    pub line_deadline: Duration,
    /// With at least this share (percent) of `max_sessions` in use, the gateway is under
    /// stress.
    pub stress_percent: u32,
    /// Under stress, the client's idle timeout and the line deadline are at most this
    /// (Postfix: `smtpd_timeout` goes from 300 s to 10 s).
    pub stress_idle: Duration,
    /// Threads computing Diffie-Hellman misses.
    pub dh_threads: usize,
    /// Misses waiting for a thread, at most; beyond it the exchange gets 454.
    pub dh_queue: usize,
    /// Whether a DH thread computes several misses as one multi-buffer batch.
    pub dh_batch: Batching,
}

/// How long a client may be silent on its turn: RFC 5321's server timeout (section
/// 4.5.3.2.7, at least 5 minutes).
const DEFAULT_CLIENT_IDLE_SECS: f64 = 300.0;
/// How long the upstream may take with a reply: RFC 5321's longest client timeout (10
/// minutes for the reply to the end of DATA, section 4.5.3.2.6), so that a slow MTA is
/// not cut off before its peer would give up.
const DEFAULT_UPSTREAM_IDLE_SECS: f64 = 600.0;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    versions: Option<Vec<String>>,
    key_lifetime_secs: Option<u64>,
    cache_file: Option<PathBuf>,
    log_format: Option<String>,
    require_xcrypt: Option<bool>,
    metrics_listen: Option<String>,
    #[serde(default)]
    timeouts: FileTimeouts,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    route: Vec<FileRoute>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTimeouts {
    connect_secs: Option<f64>,
    idle_secs: Option<f64>,
    client_idle_secs: Option<f64>,
    upstream_idle_secs: Option<f64>,
    session_secs: Option<f64>,
    line_secs: Option<f64>,
    stress_idle_secs: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_sessions: Option<usize>,
    grace_secs: Option<f64>,
    client_sessions: Option<u32>,
    client_sessions_per_minute: Option<u32>,
    client_new_keys_per_minute: Option<u32>,
    client_per_network: Option<bool>,
    exempt: Option<Vec<String>>,
    line_length: Option<usize>,
    hard_error_limit: Option<u32>,
    stress_percent: Option<u32>,
    dh_threads: Option<usize>,
    dh_queue: Option<usize>,
    dh_batch: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRoute {
    listen: String,
    upstream: String,
    require_xcrypt: Option<bool>,
}

impl Config {
    /// The settings of `args`, reading its config file if it names one.
    pub fn from_options(args: &Options) -> Result<Self, Error> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Self::merge(args, file)
    }

    /// The settings of `args` with `toml` as the config file's text (`args.config` is
    /// not read): for callers that hold the configuration in memory.
    pub fn from_toml(args: &Options, toml: &str) -> Result<Self, Error> {
        let file = toml::from_str(toml).map_err(|e| Error::Config(one_line(&e)))?;
        Self::merge(args, file)
    }

    fn merge(args: &Options, file: FileConfig) -> Result<Self, Error> {
        let mode = args.mode;
        let versions = match &file.versions {
            None => Version::ALL.to_vec(),
            Some(names) => parse_versions(names)?,
        };
        let key_lifetime = file.key_lifetime_secs.unwrap_or(DEFAULT_LIFETIME_SECS);
        if key_lifetime == 0 {
            return Err(Error::Config(
                "key_lifetime_secs: must be at least 1".into(),
            ));
        }
        let log_format = match (args.log_format, file.log_format.as_deref()) {
            (Some(given), _) => given,
            (None, None | Some("text")) => LogFormat::Text,
            (None, Some("json")) => LogFormat::Json,
            (None, Some(other)) => {
                return Err(Error::Config(format!(
                    "log_format: {other:?} is neither \"text\" nor \"json\""
                )));
            }
        };
        let timeouts = Timeouts {
            connect: seconds("timeouts.connect_secs", file.timeouts.connect_secs, 30.0)?,
            // `idle_secs` sets both; the specific keys win over it.
            client_idle: seconds(
                "timeouts.client_idle_secs",
                file.timeouts.client_idle_secs.or(file.timeouts.idle_secs),
                DEFAULT_CLIENT_IDLE_SECS,
            )?,
            upstream_idle: seconds(
                "timeouts.upstream_idle_secs",
                file.timeouts.upstream_idle_secs.or(file.timeouts.idle_secs),
                DEFAULT_UPSTREAM_IDLE_SECS,
            )?,
            session: seconds("timeouts.session_secs", file.timeouts.session_secs, 3600.0)?,
        };
        let max_sessions = file.limits.max_sessions.unwrap_or(1000);
        if max_sessions == 0 {
            return Err(Error::Config(
                "limits.max_sessions: must be at least 1".into(),
            ));
        }
        let grace = seconds("limits.grace_secs", file.limits.grace_secs, 10.0)?;
        let (clients, hardening) = hardening(&file.limits, &file.timeouts)?;
        let require_default = args.require_xcrypt || file.require_xcrypt.unwrap_or(false);

        let mut routes = Vec::new();
        match (&args.listen, &args.upstream) {
            (Some(listen), Some(upstream)) => routes.push(Route {
                listen: listen.clone(),
                upstream: upstream.clone(),
                require_xcrypt: require_default,
            }),
            (None, None) => {}
            _ => return Err(Error::Config("--listen and --upstream go together".into())),
        }
        for r in file.route {
            routes.push(Route {
                listen: r.listen,
                upstream: r.upstream,
                require_xcrypt: args.require_xcrypt || r.require_xcrypt.unwrap_or(require_default),
            });
        }
        if routes.is_empty() {
            return Err(Error::Config(
                "nothing to do: give --listen and --upstream, or [[route]] entries in --config"
                    .into(),
            ));
        }
        for r in &routes {
            check_address("listen", &r.listen)?;
            check_address("upstream", &r.upstream)?;
            if r.require_xcrypt && mode == Mode::Inbound {
                return Err(Error::Config(
                    "require_xcrypt is for outbound routes (an inbound gateway cannot make \
                     its clients encrypt)"
                        .into(),
                ));
            }
            if r.require_xcrypt && versions.is_empty() {
                return Err(Error::Config(
                    "require_xcrypt with no versions can never be met".into(),
                ));
            }
        }
        let metrics_listen = args.metrics_listen.clone().or(file.metrics_listen);
        if let Some(addr) = &metrics_listen {
            check_address("metrics_listen", addr)?;
        }
        Ok(Self {
            mode,
            versions,
            key_lifetime,
            cache_file: file.cache_file,
            log_format,
            timeouts,
            max_sessions,
            grace,
            routes,
            metrics_listen,
            clients,
            hardening,
        })
    }
}

/// The per-client limits and the defences, from the file or their defaults.
fn hardening(l: &FileLimits, t: &FileTimeouts) -> Result<(ClientLimits, Hardening), Error> {
    let defaults = ClientLimits::default();
    let exempt = match &l.exempt {
        None => defaults.exempt,
        Some(nets) => nets
            .iter()
            .map(|n| {
                Net::parse(n).ok_or_else(|| {
                    Error::Config(format!("limits.exempt: {n:?} is not ADDR or ADDR/LEN"))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let clients = ClientLimits {
        sessions: l.client_sessions.unwrap_or(defaults.sessions),
        sessions_per_minute: l
            .client_sessions_per_minute
            .unwrap_or(defaults.sessions_per_minute),
        new_keys_per_minute: l
            .client_new_keys_per_minute
            .unwrap_or(defaults.new_keys_per_minute),
        per_network: l.client_per_network.unwrap_or(defaults.per_network),
        exempt,
    };
    let line_length = l.line_length.unwrap_or(2048);
    if !(512..=1 << 20).contains(&line_length) {
        return Err(Error::Config(
            "limits.line_length: must be from 512 (RFC 5321) to 1048576".into(),
        ));
    }
    let stress_percent = l.stress_percent.unwrap_or(80);
    if !(1..=100).contains(&stress_percent) {
        return Err(Error::Config(
            "limits.stress_percent: must be from 1 to 100".into(),
        ));
    }
    let dh_threads = l.dh_threads.unwrap_or(2);
    let dh_queue = l.dh_queue.unwrap_or(64);
    if dh_threads == 0 || dh_threads > 256 || dh_queue > 1 << 16 {
        return Err(Error::Config(
            "limits.dh_threads: 1 to 256; limits.dh_queue: at most 65536".into(),
        ));
    }
    let dh_batch = match l.dh_batch.as_deref() {
        None | Some("auto") => Batching::Auto,
        Some("always") => Batching::Always,
        Some("never") => Batching::Never,
        Some(other) => {
            return Err(Error::Config(format!(
                "limits.dh_batch: \"{other}\" is not one of auto, always, never"
            )));
        }
    };
    let hardening = Hardening {
        line_length,
        hard_error_limit: l.hard_error_limit.unwrap_or(20).max(1),
        line_deadline: seconds("timeouts.line_secs", t.line_secs, DEFAULT_CLIENT_IDLE_SECS)?,
        stress_percent,
        stress_idle: seconds("timeouts.stress_idle_secs", t.stress_idle_secs, 10.0)?,
        dh_threads,
        dh_queue,
        dh_batch,
    };
    Ok((clients, hardening))
}

fn read_file(path: &Path) -> Result<FileConfig, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    toml::from_str(&text)
        .map_err(|e| Error::Config(format!("{}: {}", path.display(), one_line(&e))))
}

/// toml's message spans several lines (it quotes the place); a usage error is one line.
fn one_line(e: &toml::de::Error) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_versions(names: &[String]) -> Result<Vec<Version>, Error> {
    let mut out = Vec::new();
    for name in names {
        let v = Version::parse(name.as_bytes()).ok_or_else(|| {
            let known: Vec<&str> = Version::ALL.iter().map(|v| v.as_str()).collect();
            Error::Config(format!(
                "versions: unknown version {name:?} (known: {})",
                known.join(", ")
            ))
        })?;
        if out.contains(&v) {
            return Err(Error::Config(format!("versions: {name:?} is listed twice")));
        }
        out.push(v);
    }
    Ok(out)
}

/// A duration in seconds from the file, or the default; fractions allowed (tests use
/// short timeouts).
fn seconds(what: &str, value: Option<f64>, default: f64) -> Result<Duration, Error> {
    let v = value.unwrap_or(default);
    if !(v > 0.0 && v <= 1e7) {
        return Err(Error::Config(format!(
            "{what}: must be a number of seconds above 0 (and at most 10^7), got {v}"
        )));
    }
    Ok(Duration::from_secs_f64(v))
}

/// HOST:PORT with a port; the host is looked up only when used.
fn check_address(what: &str, addr: &str) -> Result<(), Error> {
    let port_ok = addr
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if port_ok {
        Ok(())
    } else {
        Err(Error::Config(format!("{what}: {addr:?} is not HOST:PORT")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(mode: &str, listen: Option<&str>, upstream: Option<&str>) -> Options {
        let mode = if mode == "inbound" {
            Mode::Inbound
        } else {
            Mode::Outbound
        };
        Options {
            listen: listen.map(Into::into),
            upstream: upstream.map(Into::into),
            ..Options::new(mode)
        }
    }

    fn parse(text: &str) -> FileConfig {
        toml::from_str(text).expect("valid TOML")
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = Config::merge(
            &args("inbound", Some("127.0.0.1:1"), Some("127.0.0.1:2")),
            FileConfig::default(),
        )
        .expect("valid");
        assert_eq!(s.versions, Version::ALL.to_vec());
        assert_eq!(s.key_lifetime, 7200);
        assert_eq!(s.timeouts.client_idle, Duration::from_secs(300));
        assert_eq!(s.timeouts.upstream_idle, Duration::from_secs(600));
        assert_eq!(s.max_sessions, 1000);
        assert_eq!(s.routes.len(), 1);
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.clients, ClientLimits::default());
        assert_eq!(s.hardening.line_length, 2048);
        assert_eq!(s.hardening.hard_error_limit, 20);
        assert_eq!(s.hardening.line_deadline, Duration::from_secs(300));
        assert_eq!(s.hardening.stress_idle, Duration::from_secs(10));
    }

    #[test]
    fn hardening_keys_are_read_and_checked() {
        let s = Config::merge(
            &args("inbound", Some("127.0.0.1:1"), Some("127.0.0.1:2")),
            parse(
                r#"
                [timeouts]
                line_secs = 5
                [limits]
                client_sessions = 3
                client_sessions_per_minute = 60
                client_new_keys_per_minute = 10
                client_per_network = true
                exempt = ["192.0.2.0/24"]
                line_length = 512
                hard_error_limit = 2
                dh_batch = "always"
                "#,
            ),
        )
        .expect("valid");
        assert_eq!(s.clients.sessions, 3);
        assert_eq!(s.clients.sessions_per_minute, 60);
        assert_eq!(s.clients.new_keys_per_minute, 10);
        assert!(s.clients.per_network);
        assert_eq!(s.clients.exempt.len(), 1);
        assert_eq!(s.hardening.line_length, 512);
        assert_eq!(s.hardening.hard_error_limit, 2);
        assert_eq!(s.hardening.dh_batch, Batching::Always);
        assert_eq!(s.hardening.line_deadline, Duration::from_secs(5));
        let bad = |text: &str| {
            let r = Config::merge(&args("inbound", Some("a:1"), Some("h:2")), parse(text));
            assert!(matches!(r, Err(Error::Config(_))), "{text}");
        };
        bad("[limits]\nline_length = 100");
        bad("[limits]\nexempt = [\"10.0.0.0/40\"]");
        bad("[limits]\nstress_percent = 0");
        bad("[limits]\ndh_threads = 0");
        bad("[limits]\ndh_batch = \"sometimes\"");
        bad("[timeouts]\nline_secs = 0");
    }

    #[test]
    fn file_routes_and_flags_combine() {
        let file = parse(
            r#"
            versions = ["arrsyfor_1.0"]
            log_format = "json"
            [timeouts]
            idle_secs = 0.5
            upstream_idle_secs = 2
            [[route]]
            listen = "127.0.0.1:3"
            upstream = "localhost:4"
            require_xcrypt = true
            "#,
        );
        let s = Config::merge(&args("outbound", Some("127.0.0.1:1"), Some("h:2")), file)
            .expect("valid");
        assert_eq!(s.versions, vec![Version::ArrsyforV1_0]);
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.timeouts.client_idle, Duration::from_millis(500));
        assert_eq!(s.timeouts.upstream_idle, Duration::from_secs(2));
        assert_eq!(s.routes.len(), 2);
        assert!(!s.routes[0].require_xcrypt);
        assert!(s.routes[1].require_xcrypt);
    }

    #[test]
    fn bad_settings_are_usage_errors() {
        let bad = |mode: &str, text: &str| {
            let e = Config::merge(&args(mode, Some("127.0.0.1:1"), Some("h:2")), parse(text))
                .expect_err("must be refused");
            assert!(matches!(e, Error::Config(_)), "{e:?}");
        };
        bad("inbound", r#"versions = ["rot13_1.0"]"#);
        bad("inbound", r#"versions = ["t32_1.0", "t32_1.0"]"#);
        bad("inbound", "key_lifetime_secs = 0");
        bad("inbound", "[timeouts]\nidle_secs = -1");
        bad("inbound", "[limits]\nmax_sessions = 0");
        bad("inbound", r#"log_format = "xml""#);
        bad("inbound", "require_xcrypt = true");
        bad("outbound", "versions = []\nrequire_xcrypt = true");
        bad(
            "outbound",
            "[[route]]\nlisten = \"nowhere\"\nupstream = \"h:1\"",
        );
        assert!(
            toml::from_str::<FileConfig>("cache = 1").is_err(),
            "unknown keys"
        );
        let none = Config::merge(&args("inbound", None, None), FileConfig::default());
        assert!(matches!(none, Err(Error::Config(_))));
        let half = Config::merge(&args("inbound", Some("a:1"), None), FileConfig::default());
        assert!(matches!(half, Err(Error::Config(_))));
    }
}
