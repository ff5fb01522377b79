//! Timing by repeated runs: each round runs the operation in a batch sized to a target
//! duration, and the median of the rounds' per-operation times is reported with the
//! range, since these machines are shared and noisy.

use std::time::{Duration, Instant};

/// How long and how often to measure.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Rounds per measurement.
    pub rounds: usize,
    /// The length of one round.
    pub round: Duration,
}

impl Plan {
    /// The default: about 20 ms a round, 31 rounds.
    pub const FULL: Plan = Plan {
        rounds: 31,
        round: Duration::from_millis(20),
    };
    /// `--quick`: about 2 ms a round, 9 rounds.
    pub const QUICK: Plan = Plan {
        rounds: 9,
        round: Duration::from_millis(2),
    };
}

/// Per-operation times over the rounds, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// The median round.
    pub median: f64,
    /// The fastest round.
    pub min: f64,
    /// The slowest round.
    pub max: f64,
}

impl Sample {
    /// The spread of the rounds as a fraction of the median.
    pub fn spread(&self) -> f64 {
        if self.median > 0.0 {
            (self.max - self.min) / self.median
        } else {
            0.0
        }
    }

    /// Whether the spread is too large to trust the median much.
    pub fn noisy(&self) -> bool {
        self.spread() > NOISY
    }
}

/// A spread above this (max - min over the median) draws a warning.
pub const NOISY: f64 = 0.25;

/// Times `op` by the plan.
pub fn measure(plan: Plan, mut op: impl FnMut()) -> Sample {
    // One warm-up run, which also sizes the batch.
    let t = Instant::now();
    op();
    let once = t.elapsed().max(Duration::from_nanos(20));
    let batch = (plan.round.as_secs_f64() / once.as_secs_f64()).clamp(1.0, 1e6) as u32;
    let mut per_op: Vec<f64> = (0..plan.rounds)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..batch {
                op();
            }
            t.elapsed().as_secs_f64() * 1e6 / f64::from(batch)
        })
        .collect();
    per_op.sort_by(f64::total_cmp);
    Sample {
        median: per_op[per_op.len() >> 1],
        min: per_op[0],
        max: per_op[per_op.len() - 1],
    }
}
