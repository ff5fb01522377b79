//! The frequency sketch of the admission policy (TinyLFU, Einziger, Friedman and
//! Manes, 2017): a count-min sketch of 4-bit counters, four per peer, halved every
//! `10 × N` recorded uses so that it forgets old popularity. It only ever answers "about
//! how often was this peer seen lately", with errors upwards only (collisions add,
//! never subtract).
//!
//! The sizes are fixed by the cache's capacity `N`: `N` words of sixteen counters and a
//! `64 × N`-bit doorkeeper (16 × `N` bytes in all), no allocation. As the TinyLFU paper
//! proposes, a peer's first use in a period only sets its bits in the doorkeeper (a
//! Bloom filter, cleared at each halving); only later uses reach the counters, and the
//! estimate is the counters' minimum plus one if the doorkeeper has the peer. So a
//! flood of one-off keys fills the doorkeeper, not the counters, and their estimates
//! stay at 1 (more only for the few the doorkeeper wrongly recognises). Counters are
//! updated conservatively (only those at the peer's current minimum grow), which keeps
//! such errors from lifting everyone else.

/// Counters a peer's estimate is the minimum of.
const DEPTH: u32 = 4;
/// A counter's largest value (4 bits).
const MAX: u64 = 15;
/// Uses recorded per capacity slot before all counters are halved.
const SAMPLE_PER_SLOT: usize = 10;

/// Sixteen 4-bit counters per word, `N` words, and the doorkeeper.
pub(crate) struct Sketch<const N: usize> {
    words: [u64; N],
    /// Bits set by peers' first use in the period.
    door: [u64; N],
    /// Uses recorded since the last halving (halved with the counters).
    recorded: usize,
}

impl<const N: usize> Sketch<N> {
    /// All counters zero.
    pub(crate) fn new() -> Self {
        Self {
            words: [0; N],
            door: [0; N],
            recorded: 0,
        }
    }

    /// Forgets everything (when the hash key changes, every peer's counters move).
    pub(crate) fn clear(&mut self) {
        self.words = [0; N];
        self.door = [0; N];
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

    /// The doorkeeper bits of the peer whose keyed hash is `h`: (word, bit) each, from
    /// other bits of `h` than the counters' places.
    fn door_bits(h: u64) -> [(usize, u32); DEPTH as usize] {
        let bits = (N as u128) * 64;
        core::array::from_fn(|r| {
            let at = ((u128::from(h.rotate_left(8 + 16 * r as u32)) * bits) >> 64) as usize;
            (at >> 6, (at & 63) as u32)
        })
    }

    fn door_has(&self, h: u64) -> bool {
        Self::door_bits(h)
            .into_iter()
            .all(|(w, b)| self.door[w] >> b & 1 == 1)
    }

    fn get(&self, (word, shift): (usize, u32)) -> u64 {
        (self.words[word] >> shift) & MAX
    }

    /// About how often the peer whose keyed hash is `h` was recorded lately (0-16).
    pub(crate) fn estimate(&self, h: u64) -> u8 {
        let min = Self::places(h)
            .into_iter()
            .map(|p| self.get(p))
            .min()
            .unwrap_or(0);
        min as u8 + u8::from(self.door_has(h))
    }

    /// Records one use of the peer whose keyed hash is `h`.
    pub(crate) fn record(&mut self, h: u64) {
        if !self.door_has(h) {
            for (w, b) in Self::door_bits(h) {
                self.door[w] |= 1 << b;
            }
            self.count_one();
            return;
        }
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
        self.count_one();
    }

    fn count_one(&mut self) {
        self.recorded += 1;
        if self.recorded >= SAMPLE_PER_SLOT.saturating_mul(N) {
            self.halve();
        }
    }

    /// Halves every counter and empties the doorkeeper (an aging step: recent uses count
    /// about twice as much as the previous period's).
    fn halve(&mut self) {
        for w in &mut self.words {
            *w = (*w >> 1) & 0x7777_7777_7777_7777;
        }
        self.door = [0; N];
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
            // The first use in the doorkeeper, then up to 15 in the counters.
            assert_eq!(s.estimate(h(1)), n.min(16));
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
        assert!(s.door_has(h(7)));
        // The 40th record in all (10 per slot × 4) halves every counter.
        let mut i = 100;
        while s.recorded < 39 {
            s.record(h(i));
            i += 1;
        }
        // The counters hold 7 or more of the 8 uses (the first is the doorkeeper's).
        let before = s.estimate(h(7)) - 1;
        assert!(before >= 7);
        s.record(h(i + 1));
        assert_eq!(s.recorded, 20);
        assert!(!s.door_has(h(7)), "the doorkeeper is emptied");
        let after = s.estimate(h(7));
        assert!(
            after >= before >> 1 && after <= (before + 1) >> 1,
            "{before} → {after}"
        );
    }

    #[test]
    fn one_off_keys_stay_at_one_and_leave_a_returning_peer_ahead() {
        let mut s: Sketch<64> = Sketch::new();
        s.record(h(1));
        s.record(h(1));
        // Nearly a period of one-off keys (640 uses halve everything).
        for i in 2..600 {
            s.record(h(i));
        }
        let above_one = (2..600).filter(|&i| s.estimate(h(i)) > 1).count();
        assert!(above_one < 60, "{above_one} one-off keys above 1");
        assert!(s.estimate(h(1)) >= 2);
    }
}
