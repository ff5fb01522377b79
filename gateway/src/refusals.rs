//! The log of refusals, held to a few lines per second per reason: a flood of refused
//! clients must not fill the disk. What is held back is counted and said in one summary
//! line once its second is over.
//!
//! The budget is pure (time is passed in); [`RefusalLog`] puts it behind a mutex and
//! writes the lines.

use crate::metrics::Metrics;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::LogFormat;
use crate::limits::Refusal;
use crate::log;

/// Lines per reason per second, at most.
pub const LINES_PER_SECOND: u32 = 10;
const SECOND: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
struct Budget {
    since: Instant,
    written: u32,
    held: u64,
}

/// What to do with one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Say {
    /// Log it; before it, say that `suppressed` earlier ones were held back (when not 0).
    Line { suppressed: u64 },
    /// Over the budget: counted, not logged.
    Held,
}

/// The per-reason budgets.
#[derive(Debug, Default)]
pub struct Budgets {
    per_reason: HashMap<Refusal, Budget>,
}

impl Budgets {
    /// One refusal for `reason` at `now`.
    pub fn refusal(&mut self, reason: Refusal, now: Instant) -> Say {
        let b = self.per_reason.entry(reason).or_insert(Budget {
            since: now,
            written: 0,
            held: 0,
        });
        let mut suppressed = 0;
        if now.saturating_duration_since(b.since) >= SECOND {
            suppressed = std::mem::take(&mut b.held);
            b.since = now;
            b.written = 0;
        }
        if b.written < LINES_PER_SECOND {
            b.written += 1;
            Say::Line { suppressed }
        } else {
            b.held += 1;
            // A summary owed from the previous second still counts: carry it on.
            b.held += suppressed;
            Say::Held
        }
    }

    /// The reasons whose second is over with refusals held back, and how many (taken:
    /// each is said once).
    pub fn due(&mut self, now: Instant) -> Vec<(Refusal, u64)> {
        let mut out = Vec::new();
        for (reason, b) in &mut self.per_reason {
            if b.held > 0 && now.saturating_duration_since(b.since) >= SECOND {
                out.push((*reason, std::mem::take(&mut b.held)));
                b.since = now;
                b.written = 0;
            }
        }
        out.sort_by_key(|(r, _)| r.name());
        out
    }
}

/// The process's refusal log.
#[derive(Debug)]
pub struct RefusalLog {
    format: LogFormat,
    budgets: Mutex<Budgets>,
    /// Every refusal is counted there, logged or not.
    metrics: Metrics,
}

impl RefusalLog {
    /// Nothing logged yet.
    pub fn new(format: LogFormat, metrics: Metrics) -> Self {
        Self {
            format,
            budgets: Mutex::new(Budgets::default()),
            metrics,
        }
    }

    /// The client at `peer` was refused (or its session cut) for `reason`.
    pub fn refused(&self, reason: Refusal, peer: SocketAddr) {
        self.metrics.refused(reason.name());
        let say = self
            .budgets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .refusal(reason, Instant::now());
        if let Say::Line { suppressed } = say {
            if suppressed > 0 {
                log::suppressed(self.format, reason.name(), suppressed);
            }
            log::refused(self.format, reason.name(), peer);
        }
    }

    /// Says what was held back in seconds now over (called about once a second).
    pub fn flush(&self) {
        let due = self
            .budgets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .due(Instant::now());
        for (reason, n) in due {
            log::suppressed(self.format, reason.name(), n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_gets_a_few_lines_and_one_summary() {
        let mut b = Budgets::default();
        let t = Instant::now();
        let mut lines = 0;
        for i in 0..1000u32 {
            let at = t + Duration::from_micros(u64::from(i));
            if matches!(b.refusal(Refusal::ClientSessions, at), Say::Line { .. }) {
                lines += 1;
            }
        }
        assert_eq!(lines, LINES_PER_SECOND);
        assert!(
            b.due(t + Duration::from_millis(500)).is_empty(),
            "second not over"
        );
        // Another reason has a budget of its own.
        assert_eq!(
            b.refusal(Refusal::LineDeadline, t),
            Say::Line { suppressed: 0 }
        );
        let due = b.due(t + SECOND);
        assert_eq!(
            due,
            vec![(Refusal::ClientSessions, u64::from(1000 - LINES_PER_SECOND))]
        );
        assert!(b.due(t + 3 * SECOND).is_empty(), "said once");
    }

    #[test]
    fn the_summary_also_comes_with_the_next_line() {
        let mut b = Budgets::default();
        let t = Instant::now();
        for _ in 0..LINES_PER_SECOND + 5 {
            b.refusal(Refusal::ClientRate, t);
        }
        assert_eq!(
            b.refusal(Refusal::ClientRate, t + 2 * SECOND),
            Say::Line { suppressed: 5 }
        );
        assert!(b.due(t + 4 * SECOND).is_empty());
    }
}
