//! A toy primitive with three paths, for the tests of `paths` and `trial`.

use crate::{Forced, Paths};

/// Two runnable paths and one that never runs; `Fast` is the table's best.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Toy {
    Slow,
    Fast,
    Absent,
}

static FORCED: Forced = Forced::new();

impl Paths for Toy {
    const ALL: &'static [Self] = &[Toy::Slow, Toy::Fast, Toy::Absent];
    fn name(self) -> &'static str {
        match self {
            Toy::Slow => "slow",
            Toy::Fast => "fast",
            Toy::Absent => "absent",
        }
    }
    fn is_runnable(self) -> bool {
        self != Toy::Absent
    }
    fn best() -> Self {
        Toy::Fast
    }
    fn forced() -> &'static Forced {
        &FORCED
    }
}
