//! The frequency sketch of the admission policy (TinyLFU, Einziger, Friedman and
//! Manes, 2017): a count-min sketch of 4-bit counters, four per peer, halved every
//! `10 × N` recorded uses so that it forgets old popularity. It only ever answers "about
//! how often was this peer seen lately", with errors upwards only (collisions add,
//! never subtract).
//!
//! The sizes are fixed by the cache's capacity `N`: `N` words of sixteen counters (8 ×
//! `N` bytes), no allocation. Counters are updated conservatively (only those at the
//! peer's current minimum grow), which keeps a flood of one-off keys from lifting the
//! estimates of everyone else.

/// Counters a peer's estimate is the minimum of.
const DEPTH: u32 = 4;
/// A counter's largest value (4 bits).
const MAX: u64 = 15;
/// Uses recorded per capacity slot before all counters are halved.
const SAMPLE_PER_SLOT: usize = 10;

/// Sixteen 4-bit counters per word, `N` words.
pub(crate) struct Sketch<const N: usize> {
    words: [u64; N],
    /// Uses recorded since the last halving (halved with the counters).
    recorded: usize,
}

impl<const N: usize> Sketch<N> {
    /// All counters zero.
    pub(crate) fn new() -> Self {
        Self {
            words: [0; N],
            recorded: 0,
        }
    }

    /// Forgets everything (when the hash key changes, every peer's counters move).
    pub(crate) fn clear(&mut self) {
        self.words = [0; N];
        self.recorded = 0;
    }

    /// The counters of the peer whose keyed hash is `h`: (word, bit shift) each. Row `r`
    /// takes the top bits of `h` rotated by 16·r scaled to the table: with a 64-bit
    /// pseudo-random `h`, four nearly independent places (fully so up to 4,096 words).
    fn places(h: u64) -> [(usize, u32); DEPTH as usize] {
        let counters = (N as u128) * 16;
        core::array::from_fn(|r| {
            let at = ((u128::from(h.rotate_left(16 * r as u32)) * counters) >> 64) as usize;
            (at >> 4, ((at & 15) as u32) << 2)
        })
    }

    fn get(&self, (word, shift): (usize, u32)) -> u64 {
        (self.words[word] >> shift) & MAX
    }

    /// About how often the peer whose keyed hash is `h` was recorded lately (0-15).
    pub(crate) fn estimate(&self, h: u64) -> u8 {
        let min = Self::places(h)
            .into_iter()
            .map(|p| self.get(p))
            .min()
            .unwrap_or(0);
        min as u8
    }

    /// Records one use of the peer whose keyed hash is `h`.
    pub(crate) fn record(&mut self, h: u64) {
        let places = Self::places(h);
        let min = places.iter().map(|&p| self.get(p)).min().unwrap_or(MAX);
        if min >= MAX {
            return;
        }
        for p in places {
            // Read again: two rows may share a counter, which must grow once.
            if self.get(p) == min {
                self.words[p.0] += 1 << p.1;
            }
        }
        self.recorded += 1;
        if self.recorded >= SAMPLE_PER_SLOT.saturating_mul(N) {
            self.halve();
        }
    }

    /// Halves every counter (an aging step: recent uses count twice as much as the
    /// previous period's).
    fn halve(&mut self) {
        for w in &mut self.words {
            *w = (*w >> 1) & 0x7777_7777_7777_7777;
        }
        self.recorded >>= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::Sketch;

    fn h(i: u64) -> u64 {
        // Stand-in for the keyed hash: a bijective mix (the sketch wants spread bits).
        let x = i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^ (x >> 31)
    }

    #[test]
    fn counts_up_to_fifteen_and_never_under() {
        let mut s: Sketch<64> = Sketch::new();
        for n in 1..=20u8 {
            s.record(h(1));
            assert_eq!(s.estimate(h(1)), n.min(15));
        }
        for i in 2..200 {
            s.record(h(i));
        }
        for i in 2..200 {
            assert!(s.estimate(h(i)) >= 1, "count-min never underestimates");
        }
    }

    #[test]
    fn halves_after_ten_uses_per_slot() {
        let mut s: Sketch<4> = Sketch::new();
        for _ in 0..8 {
            s.record(h(7));
        }
        assert_eq!(s.estimate(h(7)), 8);
        // The 40th record in all (10 per slot × 4) halves every counter.
        let mut i = 100;
        while s.recorded < 39 {
            s.record(h(i));
            i += 1;
        }
        let before = s.estimate(h(7));
        assert!(before >= 8);
        s.record(h(i + 1));
        assert_eq!(s.recorded, 20);
        let after = s.estimate(h(7));
        assert!(
            after >= before >> 1 && after <= (before + 1) >> 1,
            "{before} → {after}"
        );
    }
}
