//! The caching analysis: a trace of (arrival time, peer) replayed through the real key
//! cache with a simulated clock, counting the Diffie-Hellman computations it needs.
//!
//! Our side is a [`KeyCache`], asked for the shared secret with the peer's current public
//! key at each arrival; each miss is one computation. As in the paper's analysis, the
//! peers' keys stay the same through the trace unless asked otherwise: then every peer is
//! modelled as an ssmail host itself, whose key pair has the same lifetime as ours and is
//! renewed at its first exchange after it expires.

use std::collections::HashMap;

use ssmail_core::{KeyCache, Lookup};

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
