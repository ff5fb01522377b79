//! Reloading the config (SIGHUP) without dropping a session: the running config sits
//! behind an `Arc` that is swapped whole; each accepted connection takes the `Arc` of
//! the moment once and keeps it to its end. So a running session finishes with the
//! versions, timeouts and upstream it started with, and the next one gets the new ones.
//!
//! A new config that does not parse or validate is refused with a log line and the
//! running one stays. Some settings belong to the process and not to a session: the
//! listen addresses (a socket cannot be moved without dropping its queue), the key
//! lifetime and cache file (the one key cache), `max_sessions` (the slot count) and the
//! metrics address. A change to one of them is logged as needing a restart, and the
//! running value stays in force.

use std::sync::{Arc, PoisonError, RwLock};

use crate::config::{Config, LogFormat, Options, Route};
use crate::error::Error;
use crate::log;
use crate::metrics::Metrics;

/// The config new sessions start with, swapped whole by a reload.
#[derive(Debug)]
pub struct Live {
    current: RwLock<Arc<Config>>,
}

impl Live {
    /// `config` as the first running config.
    pub fn new(config: Config) -> Self {
        Self {
            current: RwLock::new(Arc::new(config)),
        }
    }

    /// The config of the moment: what a session accepted now runs with, to its end.
    pub fn current(&self) -> Arc<Config> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The route now configured for the listener bound for `bound` (matched by its
    /// `listen` text); `bound` itself if the new config dropped that listener (its
    /// socket stays until a restart).
    pub fn route(config: &Config, bound: &Route) -> Route {
        config
            .routes
            .iter()
            .find(|r| r.listen == bound.listen)
            .cloned()
            .unwrap_or_else(|| bound.clone())
    }

    /// Makes `new` the config of sessions accepted from now on. The process-wide
    /// settings keep their running values (see the module's note); what was kept is
    /// returned, one line each, for the log.
    pub fn replace(&self, mut new: Config) -> Result<Vec<String>, Error> {
        let mut slot = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let old = Arc::clone(&slot);
        if new.mode != old.mode {
            return Err(Error::Config(format!(
                "the new config is for {}, this gateway runs {}",
                new.mode.name(),
                old.mode.name()
            )));
        }
        let mut kept = Vec::new();
        for r in &new.routes {
            if !old.routes.iter().any(|o| o.listen == r.listen) {
                kept.push(format!(
                    "listen {} is new: it is bound at the next restart, not now",
                    r.listen
                ));
            }
        }
        for o in &old.routes {
            if !new.routes.iter().any(|r| r.listen == o.listen) {
                kept.push(format!(
                    "listen {} is gone from the config: it keeps serving upstream {} until \
                     the next restart",
                    o.listen, o.upstream
                ));
                new.routes.push(o.clone());
            }
        }
        if new.key_lifetime != old.key_lifetime {
            kept.push(format!(
                "key_lifetime_secs stays {} until the next restart",
                old.key_lifetime
            ));
            new.key_lifetime = old.key_lifetime;
        }
        if new.cache_file != old.cache_file {
            kept.push("cache_file stays as it was until the next restart".to_owned());
            new.cache_file.clone_from(&old.cache_file);
        }
        if new.max_sessions != old.max_sessions {
            kept.push(format!(
                "limits.max_sessions stays {} until the next restart",
                old.max_sessions
            ));
            new.max_sessions = old.max_sessions;
        }
        // The per-client counts and the Diffie-Hellman pool are built once, at start.
        if new.clients != old.clients {
            kept.push(
                "the [limits] per-client limits stay as they were until the next restart"
                    .to_owned(),
            );
            new.clients.clone_from(&old.clients);
        }
        if (
            new.hardening.dh_threads,
            new.hardening.dh_queue,
            new.hardening.dh_batch,
            new.hardening.stress_percent,
        ) != (
            old.hardening.dh_threads,
            old.hardening.dh_queue,
            old.hardening.dh_batch,
            old.hardening.stress_percent,
        ) {
            kept.push(
                "limits.dh_threads, limits.dh_queue, limits.dh_batch and limits.stress_percent \
                 stay as they were until the next restart"
                    .to_owned(),
            );
            new.hardening.dh_threads = old.hardening.dh_threads;
            new.hardening.dh_queue = old.hardening.dh_queue;
            new.hardening.dh_batch = old.hardening.dh_batch;
            new.hardening.stress_percent = old.hardening.stress_percent;
        }
        if new.metrics_listen != old.metrics_listen {
            kept.push("metrics_listen stays as it was until the next restart".to_owned());
            new.metrics_listen.clone_from(&old.metrics_listen);
        }
        *slot = Arc::new(new);
        Ok(kept)
    }
}

/// Reloads the running config of a [`Gateway`](crate::Gateway): for the SIGHUP handler,
/// tests and embedders. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Reloader {
    pub(crate) live: Arc<Live>,
    pub(crate) metrics: Metrics,
}

impl Reloader {
    /// The config sessions accepted now start with.
    pub fn current(&self) -> Arc<Config> {
        self.live.current()
    }

    /// Makes `new` (a freshly read config, or why it could not be read) the config of
    /// new sessions, with a log line either way. On an error the running config stays
    /// and the error is returned.
    pub fn reload(&self, new: Result<Config, Error>) -> Result<(), Error> {
        let format = self.live.current().log_format;
        let applied = new.and_then(|c| {
            let summary = summary(&c);
            self.live.replace(c).map(|kept| (summary, kept))
        });
        match applied {
            Ok((summary, kept)) => {
                self.metrics.reloaded(true);
                // The new config may have changed the log's format: say it in the new one.
                let format = self.live.current().log_format;
                log::notice(format, &format!("config reloaded: {summary}"));
                for line in kept {
                    log::notice(format, &format!("config reload: {line}"));
                }
                Ok(())
            }
            Err(e) => {
                self.metrics.reloaded(false);
                log::notice(
                    format,
                    &format!("config reload refused, the running config stays: {e}"),
                );
                Err(e)
            }
        }
    }
}

/// What a new config says, in one line, so that the log shows what took effect.
fn summary(c: &Config) -> String {
    let versions: Vec<&str> = c.versions.iter().map(|v| v.as_str()).collect();
    let routes: Vec<String> = c
        .routes
        .iter()
        .map(|r| format!("{}->{}", r.listen, r.upstream))
        .collect();
    format!(
        "versions=[{}] routes=[{}] client_idle={:?} session={:?}",
        versions.join(","),
        routes.join(","),
        c.timeouts.client_idle,
        c.timeouts.session
    )
}

/// Re-reads the config of `options` at each SIGHUP and hands it to `reloader`, until
/// the returned future is dropped. The handler is installed here, before the future
/// first runs, so that a SIGHUP right after systemd hears `READY=1` reloads rather than
/// ends the process (SIGHUP's default). Call it inside the runtime.
pub fn on_sighup(
    options: Options,
    reloader: Reloader,
    format: LogFormat,
) -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let hup = signal(SignalKind::hangup());
    async move {
        let Ok(mut hup) = hup else {
            log::notice(
                format,
                "no SIGHUP handler: the config is not reloadable in this process",
            );
            return;
        };
        while hup.recv().await.is_some() {
            let options = options.clone();
            // Reading the file is blocking I/O: off the async workers.
            let new = tokio::task::spawn_blocking(move || Config::from_options(&options))
                .await
                .unwrap_or_else(|e| Err(Error::Io(format!("reading the config: {e}"))));
            // Refusals are logged and counted inside.
            let _ = reloader.reload(new);
        }
    }
}

#[cfg(test)]
mod tests {
    use ssmail_core::xcrypt::Version;

    use super::*;
    use crate::config::Mode;

    fn config(toml: &str) -> Config {
        let args = Options {
            listen: Some("127.0.0.1:2525".into()),
            upstream: Some("127.0.0.1:25".into()),
            ..Options::new(Mode::Inbound)
        };
        Config::from_toml(&args, toml).expect("valid config")
    }

    #[test]
    fn a_session_keeps_the_config_it_started_with() {
        let live = Live::new(config(""));
        let session = live.current();
        let kept = live
            .replace(config(
                "versions = [\"arrsyfor_1.0\"]\n[timeouts]\nclient_idle_secs = 7\n",
            ))
            .expect("applied");
        assert!(kept.is_empty(), "{kept:?}");
        // The running session's config is untouched...
        assert_eq!(session.versions, Version::ALL.to_vec());
        assert_eq!(session.timeouts.client_idle.as_secs(), 300);
        // ...and the next session gets the new one.
        let next = live.current();
        assert_eq!(next.versions, vec![Version::ArrsyforV1_0]);
        assert_eq!(next.timeouts.client_idle.as_secs(), 7);
    }

    #[test]
    fn process_wide_settings_wait_for_a_restart() {
        let live = Live::new(config(""));
        let kept = live
            .replace(config(
                "key_lifetime_secs = 60\n[limits]\nmax_sessions = 5\n\
                 [[route]]\nlisten = \"127.0.0.1:2526\"\nupstream = \"127.0.0.1:26\"\n",
            ))
            .expect("applied");
        let now = live.current();
        assert_eq!(now.key_lifetime, 7200);
        assert_eq!(now.max_sessions, 1000);
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert!(kept.iter().any(|k| k.contains("127.0.0.1:2526")));
    }

    #[test]
    fn routes_follow_their_listen_address_and_a_dropped_one_stays() {
        let args = Options::new(Mode::Outbound);
        let two = "[[route]]\nlisten = \"127.0.0.1:1\"\nupstream = \"a:1\"\n\
                   [[route]]\nlisten = \"127.0.0.1:2\"\nupstream = \"b:1\"\n";
        let live = Live::new(Config::from_toml(&args, two).expect("valid"));
        let bound = live.current().routes.clone();
        let one =
            "[[route]]\nlisten = \"127.0.0.1:1\"\nupstream = \"c:1\"\nrequire_xcrypt = true\n";
        let kept = live
            .replace(Config::from_toml(&args, one).expect("valid"))
            .expect("applied");
        assert_eq!(kept.len(), 1, "{kept:?}");
        let now = live.current();
        let first = Live::route(&now, &bound[0]);
        assert_eq!(first.upstream, "c:1");
        assert!(first.require_xcrypt);
        assert_eq!(Live::route(&now, &bound[1]).upstream, "b:1");
    }

    #[test]
    fn a_bad_config_is_refused_and_the_old_one_stays() {
        let live = Arc::new(Live::new(config("versions = [\"t32_1.0\"]\n")));
        let reloader = Reloader {
            live: Arc::clone(&live),
            metrics: Metrics::new(),
        };
        let bad = Config::from_toml(&Options::new(Mode::Inbound), "versions = [\"rot13_1.0\"]\n");
        assert!(reloader.reload(bad).is_err());
        let outbound = Config::from_toml(
            &Options {
                listen: Some("127.0.0.1:2525".into()),
                upstream: Some("127.0.0.1:25".into()),
                ..Options::new(Mode::Outbound)
            },
            "",
        );
        assert!(reloader.reload(outbound).is_err(), "another mode");
        assert_eq!(live.current().versions, vec![Version::T32V1_0]);
        let page = reloader.metrics.encode();
        assert!(page.contains("ssmail_gateway_config_reloads_total{result=\"refused\"} 2\n"));
    }
}
