//! What an operator graphs and alerts on: sessions by result, XCRYPT by version, the key
//! cache, the Diffie-Hellman queue, refusals and bytes, kept as Prometheus counters,
//! gauges and a histogram (the `prometheus-client` crate, which also writes the text
//! format) and served on a listen address of their own (`metrics_listen`) by the small
//! HTTP responder of `metrics_http`.
//!
//! Every label value that could come from outside the code (a session's result, a
//! refusal's reason) is reduced to a short name and capped in number, so that a peer
//! cannot grow the metrics without bound.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::config::Mode;
use crate::log::{SessionRecord, Traffic};

/// Distinct free-text label values (results, reasons, versions) kept at most; later
/// ones are counted under `other`.
const MAX_LABEL_VALUES: usize = 256;
/// A free-text label value is cut to this many bytes.
const MAX_LABEL_LEN: usize = 60;

/// Which way bytes went, as the session log counts them ([`Traffic`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read from the client (the accepted connection).
    FromClient,
    /// Written to the client.
    ToClient,
    /// Read from the upstream (the connection the gateway opened).
    FromUpstream,
    /// Written to the upstream.
    ToUpstream,
}

impl Flow {
    fn name(self) -> &'static str {
        match self {
            Self::FromClient => "from_client",
            Self::ToClient => "to_client",
            Self::FromUpstream => "from_upstream",
            Self::ToUpstream => "to_upstream",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionLabels {
    mode: &'static str,
    result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabels {
    mode: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LookupLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FlowLabels {
    direction: &'static str,
}

struct Inner {
    registry: Registry,
    sessions: Family<SessionLabels, Counter>,
    active: Family<ModeLabels, Gauge>,
    xcrypt: Family<VersionLabels, Counter>,
    cache: Family<LookupLabels, Counter>,
    evictions: Counter,
    dh_queue: Gauge,
    dh_latency: Histogram,
    refusals: Family<ReasonLabels, Counter>,
    bytes: Family<FlowLabels, Counter>,
    reloads: Family<LookupLabels, Counter>,
    /// Free-text label values seen so far (for the cap).
    seen: Mutex<HashSet<String>>,
}

/// The gateway's metrics: a handle that is cheap to clone (one `Arc`), with one method
/// per event. Always kept (whether or not anyone scrapes them); served only when
/// `metrics_listen` is set.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A fresh set of metrics, all at zero, named `ssmail_gateway_*`.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ssmail_gateway");
        let sessions = Family::<SessionLabels, Counter>::default();
        registry.register(
            "sessions",
            "Sessions ended, by side (inbound/outbound) and result (`ok`, or the kind of failure)",
            sessions.clone(),
        );
        let active = Family::<ModeLabels, Gauge>::default();
        registry.register(
            "sessions_active",
            "Sessions running now, by side",
            active.clone(),
        );
        let xcrypt = Family::<VersionLabels, Counter>::default();
        registry.register(
            "xcrypt_sessions",
            "Sessions ended, by the XCRYPT version they were encrypted with (`none`: plaintext)",
            xcrypt.clone(),
        );
        let cache = Family::<LookupLabels, Counter>::default();
        registry.register(
            "key_cache_lookups",
            "Shared-secret lookups in the key cache, by result (`hit`, or `miss`: one Diffie-Hellman)",
            cache.clone(),
        );
        let evictions = Counter::default();
        registry.register(
            "key_cache_evictions",
            "Misses that found the key cache full, so that a remembered peer was forgotten or the new one not kept",
            evictions.clone(),
        );
        let dh_queue = Gauge::default();
        registry.register(
            "dh_queue_depth",
            "Diffie-Hellman computations waiting or running",
            dh_queue.clone(),
        );
        // 25 µs (a cached-exponent miss on a fast core) to 0.4 s (a long queue).
        let dh_latency = Histogram::new(exponential_buckets(25e-6, 2.0, 15));
        registry.register(
            "dh_seconds",
            "Time from a key cache miss to its shared secret, queueing included",
            dh_latency.clone(),
        );
        let refusals = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "refusals",
            "Connections or exchanges the gateway turned away itself, by reason",
            refusals.clone(),
        );
        let bytes = Family::<FlowLabels, Counter>::default();
        registry.register(
            "bytes",
            "Bytes moved by ended sessions, by connection and direction",
            bytes.clone(),
        );
        let reloads = Family::<LookupLabels, Counter>::default();
        registry.register(
            "config_reloads",
            "Config reloads (SIGHUP), by result (`ok` or `refused`: the running config stayed)",
            reloads.clone(),
        );
        Self(Arc::new(Inner {
            registry,
            sessions,
            active,
            xcrypt,
            cache,
            evictions,
            dh_queue,
            dh_latency,
            refusals,
            bytes,
            reloads,
            seen: Mutex::new(HashSet::new()),
        }))
    }

    /// A session was accepted and is about to run (the `sessions_active` gauge).
    pub fn session_started(&self, mode: Mode) {
        self.0
            .active
            .get_or_create(&ModeLabels { mode: mode.name() })
            .inc();
    }

    /// A session ended with `result` (the session log's: `ok`, or what went wrong; only
    /// its kind, the text before any `:` or `(`, becomes the label).
    pub fn session_ended(&self, mode: Mode, result: &str) {
        let labels = ModeLabels { mode: mode.name() };
        self.0.active.get_or_create(&labels).dec();
        let result = self.label("result", result);
        self.0
            .sessions
            .get_or_create(&SessionLabels {
                mode: mode.name(),
                result,
            })
            .inc();
    }

    /// A session ended encrypted with `version` (its name, `t32_1.0`), or in plaintext
    /// (`None`).
    pub fn xcrypt(&self, version: Option<&str>) {
        let version = match version {
            Some(v) => self.label("version", v),
            None => "none".to_owned(),
        };
        self.0
            .xcrypt
            .get_or_create(&VersionLabels { version })
            .inc();
    }

    /// A shared-secret lookup in the key cache: a hit, or a miss (a Diffie-Hellman
    /// computation).
    pub fn cache_lookup(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.0.cache.get_or_create(&LookupLabels { result }).inc();
    }

    /// A miss found the cache full: one peer forgotten (or the new one not kept).
    pub fn cache_evicted(&self) {
        self.0.evictions.inc();
    }

    /// Diffie-Hellman computations now waiting or running.
    pub fn dh_queued(&self, depth: usize) {
        self.0
            .dh_queue
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// A Diffie-Hellman computation done, `latency` after it was asked for.
    pub fn dh_done(&self, latency: Duration) {
        self.0.dh_latency.observe(latency.as_secs_f64());
    }

    /// The gateway turned a connection or an exchange away itself, for `reason` (a short
    /// fixed name such as `max_sessions`; not text from the peer).
    pub fn refused(&self, reason: &str) {
        let reason = self.label("reason", reason);
        self.0
            .refusals
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// `n` bytes went `dir`.
    pub fn bytes(&self, dir: Flow, n: u64) {
        self.0
            .bytes
            .get_or_create(&FlowLabels {
                direction: dir.name(),
            })
            .inc_by(n);
    }

    /// A config reload was applied (`true`) or refused (`false`).
    pub fn reloaded(&self, ok: bool) {
        let result = if ok { "ok" } else { "refused" };
        self.0.reloads.get_or_create(&LookupLabels { result }).inc();
    }

    /// Everything a session's log record says: its end, its suite, its bytes.
    pub fn session(&self, record: &SessionRecord) {
        self.session_ended(record.mode, &record.result);
        self.xcrypt(record.suite);
        let Traffic {
            from_client,
            to_client,
            from_upstream,
            to_upstream,
        } = record.traffic;
        self.bytes(Flow::FromClient, from_client);
        self.bytes(Flow::ToClient, to_client);
        self.bytes(Flow::FromUpstream, from_upstream);
        self.bytes(Flow::ToUpstream, to_upstream);
    }

    /// All metrics in the Prometheus text exposition format (version 0.0.4), as the
    /// crate writes it.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an error would leave a partial page, which
        // a scraper rejects, rather than a panic.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.0.registry);
        out
    }

    /// `value` as a label value: its kind (the text before any `:` or `(`), trimmed and
    /// cut short, and `other` once [`MAX_LABEL_VALUES`] distinct values were seen.
    fn label(&self, key: &str, value: &str) -> String {
        let kind = value.split([':', '(']).next().unwrap_or_default().trim();
        let mut end = kind.len().min(MAX_LABEL_LEN);
        while !kind.is_char_boundary(end) {
            end -= 1;
        }
        let kind = &kind[..end];
        let kind = if kind.is_empty() { "unknown" } else { kind };
        let mut seen = self.0.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = format!("{key}\0{kind}");
        if seen.contains(&entry) {
            return kind.to_owned();
        }
        if seen.len() >= MAX_LABEL_VALUES {
            return "other".to_owned();
        }
        seen.insert(entry);
        kind.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the sample `name{labels}` in `text`, parsed from the exposition.
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == series).then(|| value.parse().ok())?
        })
    }

    #[test]
    fn events_show_up_in_the_text_format() {
        let m = Metrics::new();
        m.session_started(Mode::Inbound);
        m.session_started(Mode::Inbound);
        m.session_ended(Mode::Inbound, "ok");
        m.session_ended(Mode::Inbound, "upstream unavailable: connection refused");
        m.xcrypt(Some("t32_1.0"));
        m.xcrypt(None);
        m.cache_lookup(true);
        m.cache_lookup(true);
        m.cache_lookup(false);
        m.cache_evicted();
        m.dh_queued(3);
        m.dh_done(Duration::from_micros(70));
        m.refused("max_sessions");
        m.bytes(Flow::ToUpstream, 1000);
        m.bytes(Flow::ToUpstream, 24);
        m.reloaded(false);
        let t = m.encode();
        let v = |s: &str| sample(&t, s).unwrap_or_else(|| panic!("no {s} in\n{t}"));
        assert_eq!(
            v("ssmail_gateway_sessions_total{mode=\"inbound\",result=\"ok\"}"),
            1.0
        );
        assert_eq!(
            v("ssmail_gateway_sessions_total{mode=\"inbound\",result=\"upstream unavailable\"}"),
            1.0
        );
        assert_eq!(v("ssmail_gateway_sessions_active{mode=\"inbound\"}"), 0.0);
        assert_eq!(
            v("ssmail_gateway_xcrypt_sessions_total{version=\"t32_1.0\"}"),
            1.0
        );
        assert_eq!(
            v("ssmail_gateway_xcrypt_sessions_total{version=\"none\"}"),
            1.0
        );
        assert_eq!(
            v("ssmail_gateway_key_cache_lookups_total{result=\"hit\"}"),
            2.0
        );
        assert_eq!(
            v("ssmail_gateway_key_cache_lookups_total{result=\"miss\"}"),
            1.0
        );
        assert_eq!(v("ssmail_gateway_key_cache_evictions_total"), 1.0);
        assert_eq!(v("ssmail_gateway_dh_queue_depth"), 3.0);
        assert_eq!(v("ssmail_gateway_dh_seconds_count"), 1.0);
        // 70 µs falls in the 100 µs bucket, not in the 50 µs one.
        assert_eq!(v("ssmail_gateway_dh_seconds_bucket{le=\"0.0001\"}"), 1.0);
        assert_eq!(v("ssmail_gateway_dh_seconds_bucket{le=\"5e-05\"}"), 0.0);
        assert_eq!(
            v("ssmail_gateway_refusals_total{reason=\"max_sessions\"}"),
            1.0
        );
        assert_eq!(
            v("ssmail_gateway_bytes_total{direction=\"to_upstream\"}"),
            1024.0
        );
        assert_eq!(
            v("ssmail_gateway_config_reloads_total{result=\"refused\"}"),
            1.0
        );
        assert!(
            t.contains("# TYPE ssmail_gateway_sessions_total counter"),
            "{t}"
        );
        assert!(!t.contains("# EOF"), "Prometheus text, not OpenMetrics");
    }

    #[test]
    fn free_text_labels_stay_bounded() {
        let m = Metrics::new();
        for i in 0..1000 {
            m.refused(&format!("reason-{i}"));
        }
        m.refused(&"x".repeat(500));
        let t = m.encode();
        let series = t
            .lines()
            .filter(|l| l.starts_with("ssmail_gateway_refusals_total{"))
            .count();
        assert_eq!(series, MAX_LABEL_VALUES + 1, "the cap, plus `other`");
        assert_eq!(
            sample(&t, "ssmail_gateway_refusals_total{reason=\"other\"}"),
            Some((1000 - MAX_LABEL_VALUES + 1) as f64)
        );
        assert!(t.lines().all(|l| l.len() < 200));
    }

    #[test]
    fn clones_count_into_the_same_metrics() {
        let m = Metrics::new();
        let c = m.clone();
        c.cache_lookup(false);
        assert_eq!(
            sample(
                &m.encode(),
                "ssmail_gateway_key_cache_lookups_total{result=\"miss\"}"
            ),
            Some(1.0)
        );
    }
}
