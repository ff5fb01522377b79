//! The backends by name ([`Backend`]), for tests, benchmarks and the command line to
//! list and force, and the choice of the fastest one on this CPU.
//!
//! Each backend but the portable one needs an architecture (chosen at compile time) and
//! may need CPU features (checked at run time).
//!
//! Layer: above `backends`, whose feature checks it asks; imports nothing else of the
//! crate (its trait, `Paths`, is `ssmail-cpu`'s).

use ssmail_cpu::{Forced, Paths};

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
    /// x86_64 assembly with `mul`/`adc` only; runs on every x86_64 CPU.
    #[cfg(target_arch = "x86_64")]
    X86_64Adc,
    /// x86_64 assembly with `mulx`/`adcx`/`adox`; needs BMI2 and ADX.
    #[cfg(target_arch = "x86_64")]
    X86_64Adx,
    /// x86_64 with `mulx`/`adcx`/`adox` like `x86_64-adx`, its
    /// exponentiations over almost-Montgomery results (no comparison with the modulus
    /// between multiplications); measured on AMD Zen 3. Needs BMI2 and ADX.
    #[cfg(target_arch = "x86_64")]
    X86_64AdxZen,
    /// x86_64 AVX-512 IFMA over 52-bit limbs, one number across the lanes of two zmm
    /// registers; needs AVX-512F, AVX-512 IFMA and BMI2 (and rustc 1.89 or later to
    /// build it).
    #[cfg(ssmail_bigint_ifma)]
    X86_64Ifma,
}

/// The backend forced by [`Paths::set_default`]. A global, because the callers that pick
/// no backend (core's key exchange, the gateway) are many and far from the command line
/// that forces one.
static FORCED: Forced = Forced::new();

impl Paths for Backend {
    /// Every backend compiled into this build, roughly slowest first (but which of the
    /// two ADX ones is faster depends on the CPU: see [`best`](Paths::best)).
    const ALL: &'static [Backend] = &[
        Backend::Portable,
        #[cfg(target_arch = "x86")]
        Backend::X86P5,
        #[cfg(target_arch = "x86_64")]
        Backend::X86_64Adc,
        #[cfg(target_arch = "x86_64")]
        Backend::X86_64Adx,
        #[cfg(target_arch = "x86_64")]
        Backend::X86_64AdxZen,
        #[cfg(ssmail_bigint_ifma)]
        Backend::X86_64Ifma,
    ];

    fn forced() -> &'static Forced {
        &FORCED
    }

    /// The backend's name, as the command line spells it.
    fn name(self) -> &'static str {
        match self {
            Self::Portable => "portable",
            #[cfg(target_arch = "x86")]
            Self::X86P5 => "x86-p5",
            #[cfg(target_arch = "x86_64")]
            Self::X86_64Adc => "x86_64-adc",
            #[cfg(target_arch = "x86_64")]
            Self::X86_64Adx => "x86_64-adx",
            #[cfg(target_arch = "x86_64")]
            Self::X86_64AdxZen => "x86_64-adx-zen",
            #[cfg(ssmail_bigint_ifma)]
            Self::X86_64Ifma => "x86_64-ifma",
        }
    }

    /// Whether this CPU can run the backend.
    fn is_runnable(self) -> bool {
        match self {
            Self::Portable => true,
            #[cfg(target_arch = "x86")]
            Self::X86P5 => true,
            #[cfg(target_arch = "x86_64")]
            Self::X86_64Adc => true,
            #[cfg(target_arch = "x86_64")]
            Self::X86_64Adx | Self::X86_64AdxZen => crate::backends::x86_64_adx::is_runnable(),
            #[cfg(ssmail_bigint_ifma)]
            Self::X86_64Ifma => crate::backends::ifma::single::is_runnable(),
        }
    }

    /// The backend chosen when none is forced: the fastest runnable one on this CPU, by
    /// a table of what was measured where (`benches/examples/modexp_min.rs`, shared
    /// secrets), as a fat binary picks by CPU:
    ///
    /// * AVX-512 IFMA where it runs (`x86_64-ifma`): measured fastest on a
    ///   Sapphire Rapids-class Xeon (ifma < adx < adc ≈ portable there).
    /// * Else BMI2 and ADX: `x86_64-adx-zen`, on every vendor. Measured on AMD Zen 3
    ///   (EPYC family 25 model 1: adx-zen 128 µs, adx 137, adc 183, portable 190) and
    ///   on an Intel Xeon reported as family 6 model 167 (2026-12-07: adx-zen 100.2
    ///   µs, adx 104.6, adc 126.1, portable 132.0; criterion 92.5 / 96.4 / 118.4 /
    ///   121.9). It differs from adx by fewer instructions on the path from one
    ///   multiplication to the next and by an AVX2 table lookup (where AVX2 runs),
    ///   changes that suit any out-of-order core. (Until that Intel measurement,
    ///   Intel cores took `x86_64-adx`, from a Sapphire Rapids measurement made
    ///   before adx-zen existed.)
    /// * Else the last runnable one in [`ALL`](Self::ALL): the `mul`/`adc` assembly on
    ///   x86_64, the Pentium assembly on 32-bit x86 (which beats portable code), else
    ///   portable.
    fn best() -> Self {
        #[cfg(ssmail_bigint_ifma)]
        if Self::X86_64Ifma.is_runnable() {
            return Self::X86_64Ifma;
        }
        #[cfg(target_arch = "x86_64")]
        if Self::X86_64Adx.is_runnable() {
            return Self::X86_64AdxZen;
        }
        // Here neither ADX backend runs.
        Self::runnable().last().unwrap_or(Backend::Portable)
    }
}

impl Backend {
    /// Test hook: treat BMI2 and ADX as present, so that [`Backend::X86_64Adx`] is
    /// runnable, whatever CPUID says. For running under valgrind, whose synthetic CPUID
    /// hides ADX although it executes the instructions: the constant-time check calls
    /// it when `/proc/cpuinfo` shows the real CPU has them. On a CPU without them the
    /// backend faults (SIGILL) at its first instruction.
    #[doc(hidden)]
    #[cfg(target_arch = "x86_64")]
    pub fn assume_bmi2_adx() {
        crate::backends::x86_64_adx::assume_bmi2_adx();
    }
}

/// A backend that this CPU was checked to run: the proof that `with_arith!`, the only
/// way from a [`Backend`] to its instructions, takes, so that no call path reaches an
/// instruction the CPU lacks without the check having been made (ring's
/// `cpu::Features` idea). Only [`Backend::checked`] makes one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OnThisCpu(Backend);

impl OnThisCpu {
    /// The backend it proves runnable.
    pub(crate) fn backend(self) -> Backend {
        self.0
    }
}

impl Backend {
    /// The proof that this CPU runs the backend ([`OnThisCpu`]).
    ///
    /// # Panics
    /// If it cannot ([`Backend::is_runnable`]): running it would execute instructions the
    /// CPU does not have. Callers that take a backend from a user check first.
    pub(crate) fn checked(self) -> OnThisCpu {
        assert!(
            self.is_runnable(),
            "the {} backend cannot run on this CPU",
            self.name()
        );
        OnThisCpu(self)
    }
}
