//! A primitive's implementation paths, and the one forced by name.

use core::sync::atomic::{AtomicU8, Ordering};

/// The path forced for a primitive: its position in [`Paths::ALL`], or none (then the
/// best one runs). One per primitive, in a `static`; shared by every thread.
#[derive(Debug)]
pub struct Forced(AtomicU8);

impl Forced {
    /// Nothing forced.
    pub const fn new() -> Self {
        Self(AtomicU8::new(0))
    }

    /// The forced position, if any.
    pub fn get(&self) -> Option<usize> {
        usize::from(self.0.load(Ordering::Relaxed)).checked_sub(1)
    }

    fn set(&self, index: Option<usize>) {
        // Positions index a short list of paths (fewer than 255).
        let code = index.map_or(0, |i| (i + 1).min(255) as u8);
        self.0.store(code, Ordering::Relaxed);
    }
}

impl Default for Forced {
    fn default() -> Self {
        Self::new()
    }
}

/// The implementation paths of one primitive (the arrsyfor keystream, the t32
/// keystream, the exponentiation), each with a name. Implementors give the list, which
/// run here, the best here, and their [`Forced`] cell; the rest is the same for all.
pub trait Paths: Copy + PartialEq + Sized + 'static {
    /// Every path compiled into this build.
    const ALL: &'static [Self];

    /// The path's name, as the command line spells it.
    fn name(self) -> &'static str;

    /// Whether this CPU can run the path.
    fn is_runnable(self) -> bool;

    /// The path chosen here when none is forced: the fastest runnable one, by what the
    /// implementor measured on which core, or by a trial ([`choose`](crate::choose)).
    fn best() -> Self;

    /// Where the forced path of this primitive is kept.
    fn forced() -> &'static Forced;

    /// The path called `name`, if it is compiled in.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.name() == name)
    }

    /// The paths this CPU can run, in [`ALL`](Self::ALL)'s order.
    fn runnable() -> impl Iterator<Item = Self> {
        Self::ALL.iter().copied().filter(|p| p.is_runnable())
    }

    /// The path in use: the forced one if any, else [`best`](Self::best).
    fn default_path() -> Self {
        Self::forced()
            .get()
            .and_then(|i| Self::ALL.get(i).copied())
            .unwrap_or_else(Self::best)
    }

    /// Forces the path used from now on (for every thread), or with `None` goes back to
    /// [`best`](Self::best). Returns `false`, and changes nothing, if the path cannot
    /// run on this CPU.
    fn set_default(path: Option<Self>) -> bool {
        let index = match path {
            None => None,
            Some(p) if p.is_runnable() => match Self::ALL.iter().position(|&q| q == p) {
                Some(i) => Some(i),
                None => return false,
            },
            Some(_) => return false,
        };
        Self::forced().set(index);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Paths;
    use crate::toy::Toy;

    #[test]
    fn force_release_and_refuse() {
        assert_eq!(Toy::default_path(), Toy::Fast);
        assert!(Toy::set_default(Some(Toy::Slow)));
        assert_eq!(Toy::default_path(), Toy::Slow);
        assert!(!Toy::set_default(Some(Toy::Absent)));
        assert_eq!(Toy::default_path(), Toy::Slow, "a refusal changes nothing");
        assert!(Toy::set_default(None));
        assert_eq!(Toy::default_path(), Toy::Fast);
        assert_eq!(Toy::from_name("slow"), Some(Toy::Slow));
        assert_eq!(Toy::from_name("Slow"), None);
        assert_eq!(Toy::runnable().count(), 2);
    }
}
