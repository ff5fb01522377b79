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
    /// 32-bit x86 assembly for the original Pentium (`mul`/`adc`, no `cmov`, MMX or
    /// SSE), scheduled for its U/V pipes; runs on every x86 CPU.
    #[cfg(target_arch = "x86")]
    X86P5,
}

impl Backend {
    /// Every backend compiled into this build.
    pub const ALL: &'static [Backend] = &[
        Backend::Portable,
        #[cfg(target_arch = "x86")]
        Backend::X86P5,
    ];

    /// The backend's name, as the command line spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Portable => "portable",
            #[cfg(target_arch = "x86")]
            Self::X86P5 => "x86-p5",
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
            #[cfg(target_arch = "x86")]
            Self::X86P5 => true,
        }
    }

    /// The backend chosen when none is forced: the fastest runnable one.
    pub fn best() -> Self {
        // On 32-bit x86 the Pentium assembly runs everywhere and beats portable code.
        #[cfg(target_arch = "x86")]
        return Self::X86P5;
        #[cfg(not(target_arch = "x86"))]
        Self::Portable
    }
}
