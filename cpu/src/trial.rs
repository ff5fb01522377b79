//! Choosing a path by a short trial at first use, for primitives whose paths rank
//! differently from one core to the next in ways no CPUID table written here can know
//! ahead of time (as Linux times its RAID6 and XOR routines at boot).
//!
//! Why a trial and not only a table: the tables written from AMD Zen 3 picked the wrong
//! arrsyfor and t32 paths on the next core measured (an Intel Xeon with AVX-512, family
//! 6 model 167 as the hypervisor reports it): the plain Rust RC4 loop beat both assembly
//! loops by 5-20%, and the AVX2 t32 path beat the AVX-512 one by 1.4x. The table's
//! choice still decides ties, and decides alone where there is no cycle counter.
//!
//! The trial times public work only (a fixed dummy key, its keystream): nothing secret
//! chooses anything.

use core::sync::atomic::{AtomicU8, Ordering};

use crate::Paths;

/// Rounds of a trial. Each round runs every candidate once, one after another, so that
/// a clock-speed change or an interruption hits them alike; each keeps its fastest run.
const ROUNDS: usize = 7;

/// How much faster, in 64ths of the table's time, another path must be to displace the
/// table's choice (2/64, about 3%): within that, which path wins is noise.
const MARGIN_64THS: u64 = 2;

/// Most paths a primitive may have for the trial to consider (the rest are skipped).
const MAX_PATHS: usize = 8;

/// A primitive's path as chosen by its first trial, kept for the life of the process.
/// One per primitive, in a `static`; shared by every thread. Each process runs its own
/// trial: where two paths are within noise of each other, two processes may choose
/// differently (either is then about as fast).
#[derive(Debug)]
pub struct Chosen(AtomicU8);

impl Chosen {
    /// Nothing chosen yet.
    pub const fn new() -> Self {
        Self(AtomicU8::new(0))
    }

    /// The path chosen earlier, or, at the first call, the one [`choose`] picks now
    /// (`table` is asked only then: every cipher keyed by default comes through here).
    /// Two threads arriving together may both run the trial; either answer is a
    /// runnable path, and the later one is kept.
    pub fn get_or_choose<P: Paths>(&self, table: impl FnOnce() -> P, run: impl FnMut(P)) -> P {
        let kept = usize::from(self.0.load(Ordering::Relaxed)).checked_sub(1);
        if let Some(&p) = kept.and_then(|i| P::ALL.get(i)) {
            return p;
        }
        let p = choose(table(), run);
        if let Some(i) = P::ALL.iter().position(|&q| q == p) {
            self.0.store((i + 1).min(255) as u8, Ordering::Relaxed);
        }
        p
    }
}

impl Default for Chosen {
    fn default() -> Self {
        Self::new()
    }
}

/// The runnable path that ran `run` fastest, over seven interleaved rounds, unless
/// `table` (the path the implementor's table of measured cores picks) was within about
/// 3% of it: then `table`. `table` alone where there is no cycle counter.
pub fn choose<P: Paths>(table: P, mut run: impl FnMut(P)) -> P {
    let Some(clock) = cycle_counter() else {
        return table;
    };
    if P::runnable().nth(1).is_none() {
        // One path (or none) runs here: nothing to time.
        return P::runnable().next().unwrap_or(table);
    }
    let mut fastest = [u64::MAX; MAX_PATHS];
    for _ in 0..ROUNDS {
        for (i, &p) in P::ALL.iter().enumerate().take(MAX_PATHS) {
            if p.is_runnable() {
                let start = clock();
                run(p);
                fastest[i] = fastest[i].min(clock().wrapping_sub(start));
            }
        }
    }
    pick(P::ALL, &fastest, table)
}

/// The decision of [`choose`], from each path's fastest time (`u64::MAX` for paths
/// that did not run).
fn pick<P: Paths>(all: &[P], fastest: &[u64], table: P) -> P {
    let mut best: Option<(P, u64)> = None;
    for (&p, &t) in all.iter().zip(fastest) {
        if t != u64::MAX && best.is_none_or(|(_, b)| t < b) {
            best = Some((p, t));
        }
    }
    let table_time = all
        .iter()
        .zip(fastest)
        .find(|(p, _)| **p == table)
        .map_or(u64::MAX, |(_, &t)| t);
    match best {
        Some((p, _)) if table_time == u64::MAX => p,
        Some((p, t)) if t < table_time - (table_time >> 6) * MARGIN_64THS => p,
        _ => table,
    }
}

/// A cycle counter (`rdtsc`), where the architecture has one.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn cycle_counter() -> Option<fn() -> u64> {
    #[cfg(target_arch = "x86")]
    use core::arch::x86::_rdtsc;
    #[cfg(target_arch = "x86_64")]
    use core::arch::x86_64::_rdtsc;
    #[allow(
        unsafe_code,
        unused_unsafe,
        reason = "`_rdtsc` is an unsafe fn on rustc 1.85 and safe on later ones"
    )]
    fn rdtsc() -> u64 {
        // SAFETY: every x86_64 CPU has `rdtsc`, and so does the Pentium (i586) that
        // Rust's 32-bit x86 targets start at; it reads no memory.
        unsafe { _rdtsc() }
    }
    Some(rdtsc)
}

/// A cycle counter (`rdtsc`), where the architecture has one.
#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn cycle_counter() -> Option<fn() -> u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::{Chosen, choose, pick};
    use crate::Paths;
    use crate::toy::Toy;

    /// Work that the optimiser cannot drop: `n` dependent steps.
    fn spin(n: u64) {
        let mut x = 1u64;
        for _ in 0..n {
            x = core::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        core::hint::black_box(x);
    }

    #[test]
    fn the_decision_follows_the_times_with_ties_to_the_table() {
        let all = Toy::ALL;
        // Clearly faster: chosen over the table.
        assert_eq!(pick(all, &[1000, 900, u64::MAX], Toy::Slow), Toy::Fast);
        // Within 2/64 of the table: the table's.
        assert_eq!(pick(all, &[1000, 980, u64::MAX], Toy::Slow), Toy::Slow);
        // The table's own path is the fastest.
        assert_eq!(pick(all, &[900, 1000, u64::MAX], Toy::Slow), Toy::Slow);
        // The table names a path that did not run: the fastest that did.
        assert_eq!(pick(all, &[1000, 1200, u64::MAX], Toy::Absent), Toy::Slow);
        // Nothing ran: the table's.
        assert_eq!(pick(all, &[u64::MAX; 3], Toy::Fast), Toy::Fast);
    }

    #[test]
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn a_trial_finds_the_path_that_is_faster_and_never_one_that_cannot_run() {
        let mut ran_absent = false;
        let run = |p: Toy| match p {
            Toy::Slow => spin(200_000),
            Toy::Fast => spin(20_000),
            Toy::Absent => ran_absent = true,
        };
        assert_eq!(choose(Toy::Slow, run), Toy::Fast);
        assert!(!ran_absent);
    }

    #[test]
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn the_first_choice_is_kept() {
        static CHOSEN: Chosen = Chosen::new();
        let mut trials = 0;
        let first = CHOSEN.get_or_choose(
            || Toy::Slow,
            |p| {
                trials += 1;
                spin(if p == Toy::Fast { 1_000 } else { 100_000 });
            },
        );
        assert_eq!(first, Toy::Fast);
        assert_eq!(trials, 2 * super::ROUNDS);
        let again = CHOSEN
            .get_or_choose::<Toy>(|| panic!("no second table"), |_| panic!("no second trial"));
        assert_eq!(again, Toy::Fast);
    }
}
