//! The backends by name, for tests, benchmarks and the command line to list and force.
//!
//! Only the portable backend exists so far; the x86 assembly backends of this crate's
//! issue will join this list, each with the CPU features it needs.

/// A Montgomery multiplication backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// Portable Rust over the native word (`u64` or `u32`); runs everywhere.
    Portable,
}

impl Backend {
    /// Every backend compiled into this build.
    pub const ALL: &'static [Backend] = &[Backend::Portable];

    /// The backend's name, as the command line spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Portable => "portable",
        }
    }

    /// The backend called `name`, if it is compiled in.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|b| b.name() == name)
    }

    /// Whether this CPU can run the backend.
    pub fn is_runnable(self) -> bool {
        match self {
            Self::Portable => true,
        }
    }

    /// The backend chosen when none is forced: the fastest runnable one.
    pub fn best() -> Self {
        Self::Portable
    }
}
