//! `ssmail gateway`: the XCRYPT proxies of `cli/GATEWAY.md`. The listeners and the
//! process's life are here; a session is in [`session`], the shared key cache in
//! [`keys`].

mod config;
mod keys;
mod log;
mod outbox;
mod session;

use std::sync::Arc;
use std::time::Duration;

use ssmail_core::cache::file::Loaded;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::args::GatewayArgs;
use crate::failure::Failure;
use config::{Route, Settings};
use keys::SharedKeys;

/// How often a changed key cache is written to its file.
const SAVE_EVERY: Duration = Duration::from_secs(5);

/// Runs the gateway until SIGINT or SIGTERM.
pub fn run(args: &GatewayArgs) -> Result<(), Failure> {
    let settings = Settings::from_args(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Io(format!("starting the runtime: {e}")))?;
    runtime.block_on(serve(settings))
}

async fn serve(settings: Settings) -> Result<(), Failure> {
    let format = settings.log_format;
    let (keys, loaded) = SharedKeys::new(settings.key_lifetime, settings.cache_file.clone());
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
    let keys = Arc::new(keys);
    let settings = Arc::new(settings);

    // Bind everything first: a port in use is an error at start, not later.
    let mut listeners = Vec::new();
    for route in &settings.routes {
        let listener = listen(&route.listen, settings.max_sessions)
            .await
            .map_err(|e| Failure::Io(format!("listening on {}: {e}", route.listen)))?;
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

    let slots = Arc::new(Semaphore::new(settings.max_sessions));
    let mut accepting = JoinSet::new();
    for (listener, route) in listeners {
        accepting.spawn(accept_loop(
            listener,
            route,
            Arc::clone(&settings),
            Arc::clone(&keys),
            Arc::clone(&slots),
        ));
    }
    let saver = tokio::spawn(save_periodically(Arc::clone(&keys), format));

    let why = shutdown_signal().await;
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
    save_now(&keys, format).await;
    Ok(())
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
    route: Route,
    settings: Arc<Settings>,
    keys: Arc<SharedKeys>,
    slots: Arc<Semaphore>,
) {
    let route = Arc::new(route);
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                log::notice(settings.log_format, &format!("accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tokio::spawn(session::refuse(
                socket,
                b"421 4.3.2 ssmail gateway: too many sessions, try again later\r\n",
            ));
            continue;
        };
        let (route, settings, keys) =
            (Arc::clone(&route), Arc::clone(&settings), Arc::clone(&keys));
        tokio::spawn(async move {
            let record = session::run(socket, peer, &route, &settings, &keys).await;
            log::session(settings.log_format, &record);
            drop(slot);
        });
    }
}

/// Writes the key cache file now and then, when it changed.
async fn save_periodically(keys: Arc<SharedKeys>, format: config::LogFormat) {
    let mut tick = tokio::time::interval(SAVE_EVERY);
    loop {
        tick.tick().await;
        save_now(&keys, format).await;
    }
}

async fn save_now(keys: &Arc<SharedKeys>, format: config::LogFormat) {
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
