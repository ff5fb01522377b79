//! The caching analysis: a trace of (arrival time, peer) replayed through the real key
//! cache with a simulated clock, counting the Diffie-Hellman computations it needs.
//!
//! Our side is a [`KeyCache`], asked for the shared secret with the peer's current public
//! key at each arrival; each miss is one computation. As in the paper's analysis, the
//! peers' keys stay the same through the trace unless asked otherwise: then every peer is
//! modelled as an ssmail host itself, whose key pair has the same lifetime as ours and is
//! renewed at its first exchange after it expires.

use std::collections::HashMap;

use ssmail_core::{KeyCache, Lookup, PublicKey};

use crate::failure::Failure;

/// The paper's trace: 372.6 hours.
pub const PAPER_SPAN_SECS: u64 = 1_341_360;
/// Messages from the hub.
pub const PAPER_HUB: usize = 994;
/// Messages from other machines, one each.
pub const PAPER_OTHERS: usize = 328;
/// The paper's count of computations (187 for the hub + 328).
pub const PAPER_DH: usize = 515;
/// The paper's hub computations: one per started 2-hour period of the trace.
pub const PAPER_HUB_DH: usize = 187;
/// The paper's amortized Diffie-Hellman time per message, in seconds.
pub const PAPER_AMORTIZED_S: f64 = 0.1317;

/// Peers our cache holds at once (a full cache forgets the least recently used).
const CAPACITY: usize = 64;

/// Arrivals in time order, each naming its peer by index into `names`.
#[derive(Debug, Default)]
pub struct Trace {
    /// (seconds, peer index).
    pub arrivals: Vec<(u64, usize)>,
    /// The peers' names.
    pub names: Vec<String>,
}

impl Trace {
    fn peer(&mut self, name: &str, index: &mut HashMap<String, usize>) -> usize {
        *index.entry(name.to_owned()).or_insert_with(|| {
            self.names.push(name.to_owned());
            self.names.len() - 1
        })
    }

    /// A trace shaped like the paper's: 994 messages from one hub arriving steadily over
    /// 372.6 hours, and 328 from other machines, each seen once, at times spread evenly
    /// by a fixed pseudo-random sequence.
    pub fn paper() -> Self {
        let mut t = Trace {
            arrivals: Vec::new(),
            names: vec!["hub".to_owned()],
        };
        for i in 0..PAPER_HUB as u64 {
            t.arrivals.push((
                (i as f64 * PAPER_SPAN_SECS as f64 / PAPER_HUB as f64) as u64,
                0,
            ));
        }
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..PAPER_OTHERS {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = ((u128::from(x) * u128::from(PAPER_SPAN_SECS)) >> 64) as u64;
            t.names.push(format!("peer{i}"));
            t.arrivals.push((at, i + 1));
        }
        t.arrivals.sort_by_key(|&(at, peer)| (at, peer));
        t
    }

    /// Reads `time,peer` lines (seconds since any epoch, in time order). Blank lines,
    /// `#` comments and a first line `time,peer` are skipped.
    ///
    /// # Errors
    /// A malformed line or a time that goes backwards, naming the line.
    pub fn parse(text: &str) -> Result<Self, Failure> {
        let mut t = Trace::default();
        let mut index = HashMap::new();
        let mut last = 0u64;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            let n = n + 1;
            if line.is_empty()
                || line.starts_with('#')
                || (n == 1 && line.eq_ignore_ascii_case("time,peer"))
            {
                continue;
            }
            let bad = |why: &str| Failure::Usage(format!("trace line {n}: {why}: {line:?}"));
            let (time, peer) = line
                .split_once(',')
                .ok_or_else(|| bad("expected `seconds,peer`"))?;
            let (time, peer) = (time.trim(), peer.trim());
            let secs: f64 = time
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 1.8e19)
                .ok_or_else(|| bad("the time is not a number of seconds"))?;
            if peer.is_empty() || peer.contains(',') {
                return Err(bad("expected one peer name after the comma"));
            }
            let at = secs as u64;
            if at < last {
                return Err(bad("the time goes backwards"));
            }
            last = at;
            let p = t.peer(peer, &mut index);
            t.arrivals.push((at, p));
        }
        if t.arrivals.is_empty() {
            return Err(Failure::Usage("the trace has no arrivals".into()));
        }
        Ok(t)
    }
}

/// What a replay counted.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Messages replayed.
    pub messages: usize,
    /// Misses for each peer (their sum is the shared secrets computed).
    pub misses: Vec<usize>,
    /// Times our key pair was made.
    pub own_rotations: u64,
}

impl Outcome {
    /// Shared secrets computed (cache misses).
    pub fn dh(&self) -> usize {
        self.misses.iter().sum()
    }

    /// The share of messages that needed no computation.
    pub fn saved(&self) -> f64 {
        1.0 - self.dh() as f64 / self.messages as f64
    }
}

/// Replays `trace` with key lifetime `lifetime` seconds; `peers_renew`: the peers renew
/// their key pairs with the same lifetime (else their keys are fixed).
///
/// # Errors
/// When the system RNG fails.
pub fn replay(trace: &Trace, lifetime: u64, peers_renew: bool) -> Result<Outcome, Failure> {
    let rng = &mut getrandom::SysRng;
    let no_rng = |e| Failure::Io(format!("the system RNG failed: {e}"));
    let mut ours: Box<KeyCache<CAPACITY>> = Box::new(KeyCache::new(lifetime));
    let peer_lifetime = if peers_renew { lifetime } else { u64::MAX };
    let mut peers: Vec<KeyCache<1>> = trace
        .names
        .iter()
        .map(|_| KeyCache::new(peer_lifetime))
        .collect();
    let mut misses = vec![0; trace.names.len()];
    for &(at, p) in &trace.arrivals {
        let theirs = peers[p].own_public_key(at, rng).map_err(no_rng)?;
        let (_, lookup) = ours.shared_secret(at, &theirs, rng).map_err(no_rng)?;
        if lookup == Lookup::Miss {
            misses[p] += 1;
        }
    }
    Ok(Outcome {
        messages: trace.arrivals.len(),
        misses,
        own_rotations: ours.rotations(),
    })
}

/// Why the count for the paper-shaped trace is what it is, next to the paper's 515;
/// `renewing`: the same trace with peers that renew their keys too.
pub fn explain_paper(o: &Outcome, renewing: &Outcome) -> String {
    let hub = o.misses[0];
    let others = o.dh() - hub;
    let span_min = PAPER_SPAN_SECS as f64 / 60.0;
    let mut s = format!(
        "  the paper's 515 = {PAPER_HUB_DH} for the hub (its worst case: one per started 2-hour \
         period of 372.6 h) + {PAPER_OTHERS} (each other machine misses once).\n  \
         here: {hub} for the hub + {others} for the others = {}.",
        o.dh()
    );
    if o.dh() != PAPER_DH {
        s.push_str(&format!(
            "\n  the difference is the hub's: our key pair is renewed at the first exchange at \
             least 2 h after it was\n  made, not on a fixed 2-hour clock, so each pair served \
             {:.1} min on average and was made {} times\n  in the trace; each new pair empties \
             the cache, and the hub's next message misses: {hub} times.",
            span_min / o.own_rotations as f64,
            o.own_rotations
        ));
    }
    s.push_str(&format!(
        "\n  if the hub also renewed its own key every 2 h (on its own schedule), the count \
         would be {}:\n  {} for the hub, whose messages then miss whenever either side's key \
         is new.",
        renewing.dh(),
        renewing.misses[0]
    ));
    s
}

/// Peers the flood scenario's cache holds: the gateway's `CACHE_PEERS` and libssmail's.
pub const FLOOD_CAPACITY: usize = 1024;

/// The flood scenario of `cache-sim --flood`: an attacker sends `XCRYPT` with a fresh
/// valid public key `rate` times a second, while one known peer comes every
/// `known_every` seconds, for `secs` seconds.
#[derive(Debug, Clone, Copy)]
pub struct Flood {
    /// One-off keys per second.
    pub rate: f64,
    /// Seconds between the known peer's sessions.
    pub known_every: f64,
    /// Length of the run in seconds.
    pub secs: f64,
    /// Our key lifetime in seconds.
    pub lifetime: u64,
}

/// What the flood scenario counted.
#[derive(Debug, Clone, Copy)]
pub struct FloodOutcome {
    /// The known peer's sessions.
    pub known: usize,
    /// Its hits in the real cache (W-TinyLFU).
    pub hits: usize,
    /// Its hits in a least-recently-used cache of the same capacity (the policy before
    /// W-TinyLFU), emptied at the same key rotations.
    pub lru_hits: usize,
    /// One-off keys sent.
    pub one_off: usize,
    /// Times our key pair was made.
    pub own_rotations: u64,
}

/// A least-recently-used set of peer numbers: the old policy, modelled without keys.
struct Lru {
    capacity: usize,
    tick: u64,
    used: HashMap<u64, u64>,
    order: std::collections::BTreeMap<u64, u64>,
}

impl Lru {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            tick: 0,
            used: HashMap::new(),
            order: std::collections::BTreeMap::new(),
        }
    }

    /// Whether `peer` was cached; it is now, as the most recent.
    fn lookup(&mut self, peer: u64) -> bool {
        self.tick += 1;
        let hit = match self.used.insert(peer, self.tick) {
            Some(old) => {
                self.order.remove(&old);
                true
            }
            None => false,
        };
        self.order.insert(self.tick, peer);
        if self.used.len() > self.capacity {
            if let Some((_, oldest)) = self.order.pop_first() {
                self.used.remove(&oldest);
            }
        }
        hit
    }

    fn clear(&mut self) {
        self.used.clear();
        self.order.clear();
    }
}

/// A random valid public key (a number below 2^767 and above 1: below the prime).
fn random_peer() -> Result<PublicKey, Failure> {
    loop {
        let mut b = [0u8; ssmail_core::group::ELEMENT_BYTES];
        getrandom::fill(&mut b).map_err(|e| Failure::Io(format!("the system RNG failed: {e}")))?;
        b[0] &= 0x7f;
        if let Ok(k) = PublicKey::from_be_bytes(&b) {
            return Ok(k);
        }
    }
}

/// Runs the flood scenario through the real cache (each miss computes the shared
/// secret, as the server would) and through the LRU model.
///
/// # Errors
/// When the system RNG fails, or the rates are not positive.
pub fn flood(f: &Flood) -> Result<FloodOutcome, Failure> {
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if !(positive(f.rate) && positive(f.known_every) && positive(f.secs)) || f.rate > 1e6 {
        return Err(Failure::Usage(
            "--flood, --known-every and --secs must be positive numbers (--flood at most 1e6)"
                .into(),
        ));
    }
    let rng = &mut getrandom::SysRng;
    let no_rng = |e| Failure::Io(format!("the system RNG failed: {e}"));
    let mut ours: Box<KeyCache<FLOOD_CAPACITY>> = Box::new(KeyCache::new(f.lifetime));
    let mut lru = Lru::new(FLOOD_CAPACITY);
    let known = random_peer()?;
    let mut o = FloodOutcome {
        known: 0,
        hits: 0,
        lru_hits: 0,
        one_off: 0,
        own_rotations: 0,
    };
    let (mut next_known, mut next_flood) = (0.0f64, 0.0f64);
    let mut rotations = 0;
    loop {
        let is_known = next_known <= next_flood;
        let at = if is_known { next_known } else { next_flood };
        if at >= f.secs {
            break;
        }
        let (peer, id) = if is_known {
            next_known += f.known_every;
            (known, 0)
        } else {
            o.one_off += 1;
            next_flood = o.one_off as f64 / f.rate;
            (random_peer()?, o.one_off as u64)
        };
        let (_, lookup) = ours.shared_secret(at as u64, &peer, rng).map_err(no_rng)?;
        if ours.rotations() != rotations {
            // Our new pair empties both caches.
            rotations = ours.rotations();
            lru.clear();
        }
        let lru_hit = lru.lookup(id);
        if is_known {
            o.known += 1;
            o.hits += usize::from(lookup == Lookup::Hit);
            o.lru_hits += usize::from(lru_hit);
        }
    }
    o.own_rotations = ours.rotations();
    Ok(o)
}

/// The flood scenario's report: lines, or one JSON object.
///
/// # Errors
/// As [`flood`].
pub fn flood_report(f: &Flood, json: bool) -> Result<String, Failure> {
    let o = flood(f)?;
    let pct = |h: usize| 100.0 * h as f64 / o.known.max(1) as f64;
    if json {
        return Ok(format!(
            r#"{{"flood_per_s": {}, "known_every_s": {}, "secs": {}, "capacity": {FLOOD_CAPACITY}, "one_off_keys": {}, "known_sessions": {}, "known_hits": {}, "known_hits_lru": {}, "own_rotations": {}}}"#,
            f.rate, f.known_every, f.secs, o.one_off, o.known, o.hits, o.lru_hits, o.own_rotations
        ));
    }
    Ok(format!(
        "flood: {} one-off keys at {}/s for {} s; a known peer every {} s ({} sessions); \
         cache of {FLOOD_CAPACITY} peers, key lifetime {} s ({} key pairs)\n\
         known peer's hits, W-TinyLFU (this cache): {} of {} ({:.1}%)\n\
         known peer's hits, LRU (the policy before): {} of {} ({:.1}%)",
        o.one_off,
        f.rate,
        f.secs,
        f.known_every,
        o.known,
        f.lifetime,
        o.own_rotations,
        o.hits,
        o.known,
        pct(o.hits),
        o.lru_hits,
        o.known,
        pct(o.lru_hits)
    ))
}

#[cfg(test)]
mod flood_tests {
    #![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
    use super::{Flood, flood, flood_report};

    #[test]
    fn the_known_peer_hits_through_a_flood_that_an_lru_cache_cannot_hold() {
        // 1,100 one-off keys between two sessions: more than the 1,024 peers held.
        let f = Flood {
            rate: 1100.0,
            known_every: 1.0,
            secs: 8.0,
            lifetime: 7200,
        };
        let o = flood(&f).unwrap();
        assert_eq!(o.known, 8);
        assert_eq!(o.one_off, 8800);
        assert_eq!(o.lru_hits, 0, "LRU forgets the known peer every time");
        assert!(o.hits >= 6, "{} hits of 8", o.hits);
    }

    #[test]
    fn bad_rates_are_refused() {
        for (rate, every, secs) in [(0.0, 1.0, 1.0), (10.0, -1.0, 1.0), (f64::NAN, 1.0, 1.0)] {
            let f = Flood {
                rate,
                known_every: every,
                secs,
                lifetime: 7200,
            };
            assert!(flood_report(&f, false).is_err());
        }
    }
}
