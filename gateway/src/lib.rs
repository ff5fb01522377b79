//! ssmail's SMTP gateway: the inbound and outbound XCRYPT proxies of `GATEWAY.md`, which
//! put the sans-I/O dialogue of `ssmail-core` between an unmodified MTA and the network.
//!
//! This crate holds the gateway's settings ([`Config`], from a TOML file and the
//! command line's [`Options`]), the listeners and the process's life (here), one proxied
//! session (`session`), the key cache shared by the sessions (`keys`) and the session
//! log (`log`). It may import `ssmail-core` (and, through it, the ciphers and the
//! exponentiation), tokio, serde, toml and prometheus-client; never the `ssmail`
//! command line, which only parses `ssmail gateway ...` into [`Options`] and calls
//! [`run_from`].
//!
//! [`run`] serves until SIGINT or SIGTERM; [`run_from`] also re-reads its config file on
//! SIGHUP (`reload`). Tests and other embedders use [`Gateway`]: [`Gateway::bind`]
//! inside their own tokio runtime, [`Gateway::local_addrs`] for the ports it got,
//! [`Gateway::serve`] until a future of theirs completes, [`Gateway::reloader`] to swap
//! its config. The operator's side: the metrics endpoint (`metrics`, `metrics_http`),
//! `check` for `ssmail gateway check-config`, and systemd's readiness message (`notify`).
#![forbid(unsafe_code)]

mod config;
mod dh;
mod error;
mod flights;
mod keys;
mod limits;
mod lines;
mod log;
mod outbox;
mod refusals;
mod session;
// The operator's side (issue 17): metrics, reload, check-config, systemd.
mod check;
mod metrics;
mod metrics_http;
mod notify;
mod reload;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ssmail_core::cache::file::Loaded;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

pub use check::{Checked, check_file};
pub use config::{Config, Hardening, LogFormat, Mode, Options, Route, Timeouts};
pub use error::Error;
pub use limits::{ClientLimits, Net, Refusal};
pub use log::{SessionRecord, Traffic};
pub use metrics::{Flow, Metrics};
pub use reload::Reloader;

use keys::SharedKeys;
use reload::Live;
use session::Shared;

/// How often a changed key cache is written to its file.
const SAVE_EVERY: Duration = Duration::from_secs(5);

/// Runs the gateway of `config` on a runtime of its own until SIGINT or SIGTERM.
pub fn run(config: Config) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io(format!("starting the runtime: {e}")))?;
    runtime.block_on(async {
        let gateway = Gateway::bind(config).await?;
        gateway.serve(shutdown_signal()).await
    })
}

/// Runs the gateway of `options` (its config file read now) like [`run`], and on each
/// SIGHUP reads the file again: new sessions get the new config, running ones keep
/// theirs, and a bad file is refused with a log line.
pub fn run_from(options: Options) -> Result<(), Error> {
    let config = Config::from_options(&options)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io(format!("starting the runtime: {e}")))?;
    runtime.block_on(async {
        let mut gateway = Gateway::bind(config).await?;
        gateway.reload_on_sighup(options);
        gateway.serve(shutdown_signal()).await
    })
}

/// A gateway whose listeners are bound, not yet accepting.
pub struct Gateway {
    live: Arc<Live>,
    keys: Arc<SharedKeys>,
    listeners: Vec<(TcpListener, Route)>,
    records: Option<mpsc::UnboundedSender<SessionRecord>>,
    metrics: Metrics,
    metrics_listener: Option<TcpListener>,
    reload_source: Option<Options>,
}

impl Gateway {
    /// Loads the key cache file (saying on the log what it held) and binds every
    /// route's listener: a port in use is an error at start, not later.
    pub async fn bind(settings: Config) -> Result<Self, Error> {
        let format = settings.log_format;
        let (mut keys, loaded) =
            SharedKeys::new(settings.key_lifetime, settings.cache_file.clone());
        let metrics = Metrics::new();
        keys.metrics = metrics.clone();
        if let (Some(loaded), Some(path)) = (loaded, &settings.cache_file) {
            let what = match loaded {
                Ok(Loaded::Missing) => "none yet".to_owned(),
                Ok(Loaded::Adopted { peers }) => format!("adopted, {peers} peers"),
                Ok(Loaded::Stale) => "expired, starting afresh".to_owned(),
                Ok(Loaded::Corrupt(why)) => format!("corrupt ({why}), starting afresh"),
                Err(e) => format!("unreadable ({e}), starting afresh"),
            };
            log::notice(
                format,
                &format!("key cache file {}: {what}", path.display()),
            );
        }
        let mut listeners = Vec::new();
        for route in &settings.routes {
            let listener = listen(&route.listen, settings.max_sessions)
                .await
                .map_err(|e| Error::Io(format!("listening on {}: {e}", route.listen)))?;
            let local = listener
                .local_addr()
                .map_or_else(|_| route.listen.clone(), |a| a.to_string());
            log::listening(
                format,
                settings.mode,
                &local,
                &route.upstream,
                route.require_xcrypt,
            );
            listeners.push((listener, route.clone()));
        }
        let metrics_listener = match &settings.metrics_listen {
            Some(addr) => Some(metrics_http::bind(addr, format).await?),
            None => None,
        };
        Ok(Self {
            live: Arc::new(Live::new(settings)),
            keys: Arc::new(keys),
            listeners,
            records: None,
            metrics,
            metrics_listener,
            reload_source: None,
        })
    }

    /// Where the metrics are served, if `metrics_listen` is set (port 0 resolved).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The gateway's metrics (the same ones the endpoint serves).
    pub fn metrics(&self) -> Metrics {
        self.metrics.clone()
    }

    /// A handle that swaps the config of new sessions ([`Reloader::reload`]).
    pub fn reloader(&self) -> Reloader {
        Reloader {
            live: Arc::clone(&self.live),
            metrics: self.metrics.clone(),
        }
    }

    /// While serving, re-read the config of `options` at each SIGHUP.
    pub fn reload_on_sighup(&mut self, options: Options) {
        self.reload_source = Some(options);
    }

    /// Where each route listens, in the order of [`Config::routes`] (port 0 resolved).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|(l, _)| l.local_addr().ok())
            .collect()
    }

    /// Each session's record, as it is logged, also sent to a channel: for callers that
    /// check what sessions did without parsing the log.
    pub fn session_records(&mut self) -> mpsc::UnboundedReceiver<SessionRecord> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.records = Some(tx);
        rx
    }

    /// Accepts sessions until `shutdown` completes (with a name for the log: the
    /// signal's), then lets running sessions finish within the grace period and saves
    /// the key cache.
    pub async fn serve(self, shutdown: impl Future<Output = &'static str>) -> Result<(), Error> {
        let reloader = self.reloader();
        let Self {
            live,
            keys,
            listeners,
            records,
            metrics,
            metrics_listener,
            reload_source,
        } = self;
        let settings = live.current();
        let format = settings.log_format;
        let slots = Arc::new(Semaphore::new(settings.max_sessions));
        // The per-client counts, the DH pool and the slots are built from the config at
        // start (a reload keeps their settings: `Live::replace`); each session reads the
        // rest of the config of its moment.
        let shared = Arc::new(Shared::new(
            Arc::clone(&settings),
            Arc::clone(&keys),
            Arc::clone(&slots),
            metrics.clone(),
        ));
        let h = &settings.hardening;
        log::notice(
            format,
            &format!(
                "DH pool: {} threads, {} waiting, {}",
                h.dh_threads,
                h.dh_queue,
                if shared.dh.batches() {
                    "misses computed in batches of up to 8"
                } else {
                    "misses computed one at a time"
                }
            ),
        );
        let mut accepting = JoinSet::new();
        for (listener, route) in listeners {
            accepting.spawn(accept_loop(
                listener,
                route,
                Arc::clone(&live),
                Arc::clone(&shared),
                records.clone(),
                metrics.clone(),
            ));
        }
        let saver = tokio::spawn(save_periodically(Arc::clone(&keys), format));
        let flusher = tokio::spawn(flush_refusals(Arc::clone(&shared)));
        if let Some(listener) = metrics_listener {
            accepting.spawn(metrics_http::serve(listener, metrics));
        }
        if let Some(options) = reload_source {
            accepting.spawn(reload::on_sighup(options, reloader, format));
        }
        notify::ready();

        let why = shutdown.await;
        notify::stopping();
        // The config of the moment: a reload may have changed the grace period and log.
        let settings = live.current();
        let format = settings.log_format;
        log::notice(
            format,
            &format!("{why}: no new sessions, finishing the running ones"),
        );
        accepting.shutdown().await;
        // Every running session holds a slot: all slots back means all sessions ended.
        let all = u32::try_from(settings.max_sessions).unwrap_or(u32::MAX);
        let drained = tokio::time::timeout(settings.grace, slots.acquire_many(all)).await;
        if drained.is_err() {
            log::notice(
                format,
                "grace period over: closing the sessions still running",
            );
        }
        saver.abort();
        flusher.abort();
        shared.refusals.flush();
        save_now(&keys, format).await;
        Ok(())
    }
}

/// A listening socket on `addr` with a backlog fit for a burst of `max_sessions`
/// (the usual 128 drops connections when a few hundred arrive at once, and each dropped
/// SYN costs its sender a second).
async fn listen(addr: &str, max_sessions: usize) -> std::io::Result<TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(a) {
            Ok(()) => {
                let backlog = u32::try_from(max_sessions.clamp(128, 4096)).unwrap_or(4096);
                return socket.listen(backlog);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no address to listen on")))
}

/// Accepts sessions on one listener until the task is cancelled.
async fn accept_loop(
    listener: TcpListener,
    bound: Route,
    live: Arc<Live>,
    shared: Arc<Shared>,
    records: Option<mpsc::UnboundedSender<SessionRecord>>,
    metrics: Metrics,
) {
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                let settings = live.current();
                // Out of file descriptors and the like: wait a little rather than spin.
                log::notice(settings.log_format, &format!("accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&shared.slots).try_acquire_owned() else {
            shared.refuse(socket, peer, Refusal::TooManySessions);
            continue;
        };
        let client = match shared.admit(peer) {
            Ok(c) => c,
            Err(why) => {
                drop(slot);
                shared.refuse(socket, peer, why);
                continue;
            }
        };
        // Read once: this session runs with the config of this moment to its end.
        let settings = live.current();
        let route = Live::route(&settings, &bound);
        let (shared, records, metrics) = (Arc::clone(&shared), records.clone(), metrics.clone());
        tokio::spawn(async move {
            metrics.session_started(settings.mode);
            let record = session::run(socket, peer, &route, &shared, &settings).await;
            metrics.session(&record);
            log::session(settings.log_format, &record);
            if let Some(records) = records {
                // A receiver that went away wants no more records.
                let _ = records.send(record);
            }
            drop(client);
            drop(slot);
        });
    }
}

/// Says, once a second, how many refusals went unlogged.
async fn flush_refusals(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        shared.refusals.flush();
    }
}

/// Writes the key cache file now and then, when it changed.
async fn save_periodically(keys: Arc<SharedKeys>, format: LogFormat) {
    let mut tick = tokio::time::interval(SAVE_EVERY);
    loop {
        tick.tick().await;
        save_now(&keys, format).await;
    }
}

async fn save_now(keys: &Arc<SharedKeys>, format: LogFormat) {
    let k = Arc::clone(keys);
    let saved = tokio::task::spawn_blocking(move || k.save_if_dirty().map_err(|e| e.to_string()))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    if let Err(e) = saved {
        log::notice(format, &format!("saving the key cache failed: {e}"));
    }
}

/// Waits for SIGINT or SIGTERM and names it.
// `tokio::select!` expands to a `%` (its branch rotation); no secret comes near it.
#[allow(clippy::integer_division_remainder_used)]
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // No signal handling: run until killed.
        std::future::pending::<()>().await;
        return "never";
    };
    tokio::select! {
        biased;
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
